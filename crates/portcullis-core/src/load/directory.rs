//! The people directory, read for a few people only.
//!
//! `check --base` and `plan` need a handful of entries of a directory that can hold 50,000.
//! [`select`] keeps the entries whose id is wanted and blanks every other one out, line for
//! line, so what is left parses with the one strict reader and every position in it is the
//! position in the real file. An entry whose id is not written plainly (`- id: ana` on a line
//! of its own) is always kept: the reader, not this module, decides what such an entry says.
//! [`scan`] finds only each entry's id; the other plain fields are read when asked for.

/// An entry as written plainly: its id, and its department, manager and status when those
/// are written plainly too (one line each, a plain value, a key of the entry's own mapping).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plain<'t> {
    pub id: &'t str,
    pub department: Option<&'t str>,
    pub manager: Option<&'t str>,
    pub status: Option<&'t str>,
}

/// The directory cut into its entries, each with its id when that is written plainly.
pub struct Entries<'t> {
    text: &'t str,
    /// Where the first entry starts (a byte offset).
    first: usize,
    /// The dashes' column.
    dash: usize,
    /// Each entry's bytes (from its first line's start to the next entry's), its number of
    /// lines, and its plain id. Offsets, not a vector of lines: at 50,000 people a line vector
    /// is 7 MB of fresh memory, and here fresh memory costs more than the scan.
    items: Vec<(usize, usize, usize, Option<&'t str>)>,
}

/// `text` with every `people:` entry whose plain id fails `wanted` replaced by blank lines.
/// `None` when the file is not plainly `people:` + a block list (the caller then reads all).
pub fn select(text: &str, wanted: &dyn Fn(&str) -> bool) -> Option<String> {
    Some(scan(text)?.select(wanted))
}

impl<'t> Entries<'t> {
    /// The entries that are written plainly (their id, and their department, manager and
    /// status, each plain where present).
    pub fn plain(&self) -> impl Iterator<Item = Plain<'t>> + '_ {
        let text: &'t str = self.text;
        self.items.iter().filter_map(move |(start, end, _, id)| {
            id.as_ref()?;
            plain_fields(&text[*start..*end], self.dash)
        })
    }

    /// The file with every entry whose plain id `wanted` refuses blanked out, line for line;
    /// every entry without a plain id is kept.
    pub fn select(&self, wanted: &dyn Fn(&str) -> bool) -> String {
        let mut out = String::from(&self.text[..self.first]);
        let mut blank = 0;
        for (start, end, lines, id) in &self.items {
            if id.is_none_or(wanted) {
                out.extend(std::iter::repeat_n('\n', blank));
                blank = 0;
                out.push_str(&self.text[*start..*end]);
            } else {
                blank += lines;
            }
        }
        out.extend(std::iter::repeat_n('\n', blank));
        out
    }
}

/// The directory's entries, or `None` when it is not plainly `people:` + a block list.
pub fn scan(text: &str) -> Option<Entries<'_>> {
    if text.contains('\r') || text.contains('\t') || text.starts_with('\u{feff}') {
        return None;
    }
    let mut lines = super::lines(text);
    let blank_or_comment = |l: &str| matches!(l.as_bytes().get(indent(l)), None | Some(b'#'));
    let (_, head) = lines.by_ref().find(|(_, l)| !blank_or_comment(l))?;
    let rest = head.strip_prefix("people:")?;
    if !(rest.is_empty() || rest.starts_with(" #") || rest.trim_start_matches(' ').is_empty()) {
        return None;
    }
    let (first, first_line) = lines.clone().find(|(_, l)| !blank_or_comment(l))?;
    let dash = indent(first_line);
    // One pass: where each entry starts (`- ` at the dashes' column; at or left of it nothing
    // else may be), and its id, read as the entry's lines go by.
    let mut items = Vec::new();
    let mut open: Option<Open> = None;
    let mut count = 0;
    for (no, (off, l)) in lines.enumerate() {
        count = no + 1;
        let own = indent(l);
        match l.as_bytes().get(own) {
            None | Some(b'#') => continue,
            Some(b'-') if own == dash && l.as_bytes().get(dash + 1) == Some(&b' ') => {
                items.extend(open.take().map(|o| o.close(off, no)));
                let after = &l[dash + 1..];
                let column = dash + 1 + indent(after);
                let mut entry = Open {
                    start: off,
                    line: no,
                    column,
                    id: Ok(None),
                };
                entry.key(&l[column..]);
                open = Some(entry);
            }
            Some(_) if own <= dash => return None,
            Some(_) => {
                if let Some(entry) = open.as_mut().filter(|e| e.column == own) {
                    entry.key(&l[own..]);
                }
            }
        }
    }
    // The last entry runs to the end of the file, whose last line has no newline (`split`
    // counts one line more than there are newlines).
    items.extend(open.map(|o| o.close(text.len(), count - 1)));
    if items.is_empty() {
        return None;
    }
    Some(Entries {
        text,
        first,
        dash,
        items,
    })
}

/// An entry being scanned: where it starts, the column of its keys, and its id so far (an
/// error once the id is seen twice or is not plain).
struct Open<'t> {
    start: usize,
    line: usize,
    column: usize,
    id: Result<Option<&'t str>, ()>,
}

impl<'t> Open<'t> {
    /// A line's content at the entry's key column: the id when it is `id:` (as
    /// `plain_fields` reads it).
    fn key(&mut self, rest: &'t str) {
        if let Some(value) = rest.strip_prefix("id:") {
            self.id = match self.id {
                Ok(None) => plain_value(value).map(Some).ok_or(()),
                _ => Err(()),
            };
        }
    }

    fn close(self, end: usize, next: usize) -> (usize, usize, usize, Option<&'t str>) {
        (self.start, end, next - self.line, self.id.ok().flatten())
    }
}

/// What the entry plainly says: `None` unless its id is written plainly, once (as the scan
/// reads it), and every other field read here is plain where present.
fn plain_fields(item: &str, dash: usize) -> Option<Plain<'_>> {
    let first = item.split_once('\n').map_or(item, |(line, _)| line);
    let after = &first[dash + 1..];
    let column = dash + 1 + (after.len() - after.trim_start_matches(' ').len());
    let mut fields: [Option<&str>; 4] = [None; 4];
    for (i, (_, line)) in super::lines(item).enumerate() {
        // Blank and comment lines, and lines of nested values, are not keys of the entry.
        let (Some(lead), Some(rest)) = (line.get(..column), line.get(column..)) else {
            continue;
        };
        if i > 0 && !lead.bytes().all(|b| b == b' ') {
            continue;
        }
        let key = match rest.as_bytes().first() {
            Some(b'i') => 0,
            Some(b'd') => 1,
            Some(b'm') => 2,
            Some(b's') => 3,
            _ => continue,
        };
        let name = ["id:", "department:", "manager:", "status:"][key];
        let Some(value) = rest.strip_prefix(name) else {
            continue;
        };
        if fields[key].is_some() {
            return None;
        }
        fields[key] = Some(plain_value(value)?);
    }
    Some(Plain {
        id: fields[0]?,
        department: fields[1],
        manager: fields[2],
        status: fields[3],
    })
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// A value as the reader would take it, when it is a plain one-line id-like string.
fn plain_value(value: &str) -> Option<&str> {
    if !(value.is_empty() || value.starts_with(' ')) {
        return None;
    }
    // A comment starts at a `#` after a space.
    let value = match value
        .bytes()
        .enumerate()
        .find(|&(i, b)| b == b'#' && i > 0 && value.as_bytes()[i - 1] == b' ')
    {
        Some((c, _)) => &value[..c - 1],
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
        && super::yaml::plain_is_string(value);
    plain.then_some(value)
}
