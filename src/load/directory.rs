//! The people directory, read for a few people only.
//!
//! `check --base` and `plan` need a handful of entries of a directory that can hold 50,000.
//! [`select`] keeps the entries whose id is wanted and blanks every other one out, line for
//! line, so what is left parses with the one strict reader and every position in it is the
//! position in the real file. An entry whose id is not written plainly (`- id: ana` on a line
//! of its own) is always kept: the reader, not this module, decides what such an entry says.

/// An entry as written plainly: its id, and its department, manager and status when those
/// are written plainly too (one line each, a plain value, a key of the entry's own mapping).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plain<'t> {
    pub id: &'t str,
    pub department: Option<&'t str>,
    pub manager: Option<&'t str>,
    pub status: Option<&'t str>,
}

/// The directory cut into its entries, each with its plain fields when it has them.
pub struct Entries<'t> {
    lines: Vec<&'t str>,
    /// The first line of the first entry.
    first: usize,
    /// Each entry's lines and what it plainly says.
    items: Vec<(usize, usize, Option<Plain<'t>>)>,
}

/// `text` with every `people:` entry whose plain id fails `wanted` replaced by blank lines.
/// `None` when the file is not plainly `people:` + a block list (the caller then reads all).
pub fn select(text: &str, wanted: &dyn Fn(&str) -> bool) -> Option<String> {
    Some(scan(text)?.select(&|p: &Plain| wanted(p.id)))
}

impl<'t> Entries<'t> {
    /// The entries that are written plainly.
    pub fn plain(&self) -> impl Iterator<Item = &Plain<'t>> {
        self.items.iter().filter_map(|(_, _, p)| p.as_ref())
    }

    /// The file with every plain entry `wanted` refuses blanked out, line for line; every
    /// entry that is not plain is kept.
    pub fn select(&self, wanted: &dyn Fn(&Plain) -> bool) -> String {
        let mut out = String::with_capacity(self.lines.len());
        for l in &self.lines[..self.first] {
            out.push_str(l);
            out.push('\n');
        }
        for (start, end, plain) in &self.items {
            let keep = plain.as_ref().is_none_or(wanted);
            for l in &self.lines[*start..*end] {
                if keep {
                    out.push_str(l);
                }
                out.push('\n');
            }
        }
        // `split` gave one more piece than there are newlines.
        out.pop();
        out
    }
}

/// The directory's entries, or `None` when it is not plainly `people:` + a block list.
pub fn scan(text: &str) -> Option<Entries<'_>> {
    if text.contains('\r') || text.contains('\t') || text.starts_with('\u{feff}') {
        return None;
    }
    let lines: Vec<&str> = text.split('\n').collect();
    let blank_or_comment = |l: &str| {
        let t = l.trim_start_matches(' ');
        t.is_empty() || t.starts_with('#')
    };
    let head = lines.iter().position(|l| !blank_or_comment(l))?;
    let rest = lines[head].strip_prefix("people:")?;
    if !(rest.is_empty() || rest.starts_with(" #") || rest.trim_start_matches(' ').is_empty()) {
        return None;
    }
    let first = head
        + 1
        + lines[head + 1..]
            .iter()
            .position(|l| !blank_or_comment(l))?;
    let dash = lines[first].len() - lines[first].trim_start_matches(' ').len();
    let marker = format!("{}- ", " ".repeat(dash));
    let mut starts = Vec::new();
    for (i, l) in lines.iter().enumerate().skip(first) {
        if blank_or_comment(l) {
            continue;
        }
        // At or left of the dashes, only a new entry may start.
        let own = l.len() - l.trim_start_matches(' ').len();
        if own < dash || (own == dash && !l.starts_with(&marker)) {
            return None;
        }
        if l.starts_with(&marker) {
            starts.push(i);
        }
    }
    if starts.is_empty() {
        return None;
    }
    let items = starts
        .iter()
        .enumerate()
        .map(|(n, start)| {
            let end = starts.get(n + 1).copied().unwrap_or(lines.len());
            (*start, end, plain_fields(&lines[*start..end], dash))
        })
        .collect();
    Some(Entries {
        lines,
        first,
        items,
    })
}

/// What the entry plainly says: `None` unless its id is written plainly, once, and every
/// other field read here is plain where present.
fn plain_fields<'t>(item: &[&'t str], dash: usize) -> Option<Plain<'t>> {
    let first = item.first()?;
    let after = &first[dash + 1..];
    let column = dash + 1 + (after.len() - after.trim_start_matches(' ').len());
    let mut fields: [Option<&'t str>; 4] = [None; 4];
    for (i, line) in item.iter().enumerate() {
        // Blank and comment lines, and lines of nested values, are not keys of the entry.
        let Some(lead) = line.get(..column) else {
            continue;
        };
        if i > 0 && !lead.bytes().all(|b| b == b' ') {
            continue;
        }
        let rest = &line[column..];
        for (k, key) in ["id:", "department:", "manager:", "status:"]
            .iter()
            .enumerate()
        {
            let Some(value) = rest.strip_prefix(key) else {
                continue;
            };
            if fields[k].is_some() {
                return None;
            }
            fields[k] = Some(plain_value(value)?);
        }
    }
    Some(Plain {
        id: fields[0]?,
        department: fields[1],
        manager: fields[2],
        status: fields[3],
    })
}

/// A value as the reader would take it, when it is a plain one-line id-like string.
fn plain_value(value: &str) -> Option<&str> {
    if !(value.is_empty() || value.starts_with(' ')) {
        return None;
    }
    let value = match value.find(" #") {
        Some(c) => &value[..c],
        None => value,
    };
    let value = value.trim_matches(' ');
    let b = value.as_bytes();
    let plain = !b.is_empty()
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-')
        })
        // `1e5`, `0x1f`, `true`, `null` are not strings to the reader.
        && matches!(super::yaml::resolve_plain(value), super::yaml::Value::Str(_));
    plain.then_some(value)
}
