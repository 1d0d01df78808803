//! The people directory, read for a few people only.
//!
//! `check --base` and `plan` need a handful of entries of a directory that can hold 50,000.
//! [`select`] keeps the entries whose id is wanted and blanks every other one out, line for
//! line, so what is left parses with the one strict reader and every position in it is the
//! position in the real file. An entry whose id is not written plainly (`- id: ana` on a line
//! of its own) is always kept: the reader, not this module, decides what such an entry says.

/// `text` with every `people:` entry whose plain id fails `wanted` replaced by blank lines.
/// `None` when the file is not plainly `people:` + a block list (the caller then reads all).
pub fn select(text: &str, wanted: &dyn Fn(&str) -> bool) -> Option<String> {
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
    let mut out = String::with_capacity(text.len() / 8);
    for l in &lines[..first] {
        out.push_str(l);
        out.push('\n');
    }
    for (n, start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(lines.len());
        let item = &lines[*start..end];
        let keep = plain_id(item, dash).is_none_or(wanted);
        for l in item {
            if keep {
                out.push_str(l);
            }
            out.push('\n');
        }
    }
    // `split` gave one more piece than there are newlines.
    out.pop();
    Some(out)
}

/// The entry's id when it is written plainly, once, as a key of the entry's own mapping.
fn plain_id<'t>(item: &[&'t str], dash: usize) -> Option<&'t str> {
    let first = item.first()?;
    let after = &first[dash + 1..];
    let column = dash + 1 + (after.len() - after.trim_start_matches(' ').len());
    let mut found = None;
    for (i, line) in item.iter().enumerate() {
        // Blank and comment lines, and lines of nested values, are not keys of the entry.
        let Some(lead) = line.get(..column) else {
            continue;
        };
        if i > 0 && !lead.bytes().all(|b| b == b' ') {
            continue;
        }
        let Some(value) = line[column..].strip_prefix("id:") else {
            continue;
        };
        if found.is_some() {
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
        if !plain {
            return None;
        }
        found = Some(value);
    }
    found
}
