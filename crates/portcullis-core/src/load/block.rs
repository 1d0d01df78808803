//! The fast path of the strict YAML reader, for the shape nearly every governed file has:
//! block mappings and block sequences of one-line scalars, with comments.
//!
//! It returns `None` at the first thing outside that shape — flow collections, block or
//! multi-line scalars, escapes, anchors, tags, directives, tabs, an empty value, a duplicate
//! key, anything odd — and the caller then runs the full parser, which decides and explains.
//! When it returns a tree, that tree is exactly the one the full parser builds (values,
//! positions and ends), which a differential property test holds it to. It exists because
//! the full event parser costs about five times as much on the files we read by the 100,000.

use super::yaml::{Key, Node, Pos, Value, resolve_plain};

/// A line with content (comment-only and blank lines are left out).
#[derive(Clone, Copy)]
struct Line<'a> {
    /// 1-based line number.
    no: u32,
    /// The whole line, without its newline.
    text: &'a str,
}

struct Reader<'a> {
    lines: Vec<Line<'a>>,
    /// Where the stream ends, as the full parser places its end event.
    eof: Pos,
    depth: usize,
    /// Items and entries of the collections being read, innermost last: each collection is
    /// moved out into a vector of exactly its size, since the people directory keeps 50k
    /// small maps alive and doubling growth would waste a third of their memory.
    items: Vec<Node>,
    entries: Vec<(Key, Node)>,
}

/// Where a collection continues: the index of a line and the byte offset its content starts at
/// (past a `- ` for a mapping that begins on its item's line).
#[derive(Clone, Copy)]
struct At {
    line: usize,
    off: usize,
}

const MAX_DEPTH: usize = 32;

/// Parses `text` when it is plain block YAML; `None` means "ask the full parser".
pub fn parse(text: &str) -> Option<Node> {
    let bytes = text.as_bytes();
    if bytes.contains(&b'\t') || bytes.contains(&b'\r') || bytes.contains(&b'\\') {
        return None;
    }
    // Sized by one SIMD count: grown by doubling, this list was a tenth of the directory's
    // load time, in copies and fresh pages.
    let mut lines = Vec::with_capacity(memchr::memchr_iter(b'\n', bytes).count() + 1);
    let mut last_no = 0u32;
    for (i, (_, raw)) in super::lines(text).enumerate() {
        let no = i as u32 + 1;
        last_no = no;
        let trimmed = raw.trim_start_matches(' ');
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if raw.starts_with("---") || raw.starts_with("...") || raw.starts_with('%') {
            return None;
        }
        lines.push(Line { no, text: raw });
    }
    if lines.is_empty() {
        return None;
    }
    // The stream ends at the start of the line after the last newline. (Without a final
    // newline the full parser's end depends on what the last line holds: not ours.)
    if !text.ends_with('\n') {
        return None;
    }
    let eof = Pos {
        line: last_no,
        col: 1,
        len: 0,
    };
    let mut r = Reader {
        lines,
        eof,
        depth: 0,
        items: Vec::new(),
        entries: Vec::new(),
    };
    let first = At { line: 0, off: 0 };
    if indent(r.lines[0].text) != 0 {
        return None;
    }
    let (node, next) = r.collection(first)?;
    (next.line == r.lines.len()).then_some(node)
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn chars(s: &str) -> u32 {
    if s.is_ascii() {
        s.len() as u32
    } else {
        s.chars().count() as u32
    }
}

impl<'a> Reader<'a> {
    /// The 1-based character column of byte `off` of line `line`.
    fn col(&self, line: usize, off: usize) -> u32 {
        chars(&self.lines[line].text[..off]) + 1
    }

    fn pos(&self, line: usize, off: usize, len: u32) -> Pos {
        Pos {
            line: self.lines[line].no,
            col: self.col(line, off),
            len,
        }
    }

    /// Where the token at `at` starts, or the stream's end.
    fn token_pos(&self, at: At) -> Pos {
        if let Some(col) = self.column(at) {
            self.pos(at.line, col, 0)
        } else {
            self.eof
        }
    }

    /// The content column of the line at `at`: its indentation, or `off` inside an item line.
    fn column(&self, at: At) -> Option<usize> {
        let line = self.lines.get(at.line)?;
        Some(if at.off == 0 {
            indent(line.text)
        } else {
            at.off
        })
    }

    /// A block mapping or sequence starting at `at`; returns it and where its successor starts.
    fn collection(&mut self, at: At) -> Option<(Node, At)> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let col = self.column(at)?;
        let rest = &self.lines[at.line].text[col..];
        let out = if is_dash(rest) {
            self.sequence(at, col)
        } else {
            self.mapping(at, col)
        };
        self.depth -= 1;
        out
    }

    fn sequence(&mut self, start: At, col: usize) -> Option<(Node, At)> {
        let pos = self.pos(start.line, col, 1);
        let base = self.items.len();
        let mut at = start;
        loop {
            let text = self.lines[at.line].text;
            // The item's content: after the dash and the spaces that follow it.
            let after = col + 1;
            let content = after + indent(&text[after..]);
            let next_line = At {
                line: at.line + 1,
                off: 0,
            };
            if content == text.len() || text[content..].starts_with('#') {
                // `-` alone: the item is the block on the following lines, more indented.
                match self.column(next_line) {
                    Some(c) if c > col => {
                        let (node, next) = self.collection(next_line)?;
                        self.items.push(node);
                        at = next;
                    }
                    _ => return None,
                }
            } else if is_dash(&text[content..]) {
                return None;
            } else if key_end(&text[content..]).is_some() {
                let (node, next) = self.collection(At {
                    line: at.line,
                    off: content,
                })?;
                self.items.push(node);
                at = next;
            } else {
                let node = self.scalar(at.line, content)?;
                self.items.push(node);
                at = next_line;
                // A deeper line after a one-line scalar would continue it: not ours.
                if self.column(at).is_some_and(|c| c > col) {
                    return None;
                }
            }
            match self.column(at) {
                Some(c) if c == col && is_dash(&self.lines[at.line].text[c..]) => continue,
                Some(c) if c > col => return None,
                _ => break,
            }
        }
        let end = self.token_pos(at);
        Some((
            Node {
                value: Value::Seq(self.items.drain(base..).collect()),
                pos,
                end,
            },
            at,
        ))
    }

    fn mapping(&mut self, start: At, col: usize) -> Option<(Node, At)> {
        let pos = self.pos(start.line, col, 1);
        let base = self.entries.len();
        let mut at = At {
            line: start.line,
            off: col,
        };
        loop {
            let text = self.lines[at.line].text;
            let key_len = key_end(&text[col..])?;
            let name = &text[col..col + key_len];
            if name == "<<" {
                return None;
            }
            let key = Key {
                name: name.to_owned(),
                pos: self.pos(at.line, col, chars(name)),
            };
            let after = col + key_len + 1;
            let value_off = after + indent(&text[after..]);
            let next_line = At {
                line: at.line + 1,
                off: 0,
            };
            if value_off == text.len() || text[value_off..].starts_with('#') {
                // `key:` with its value on the following lines, as a deeper block. (A
                // sequence at the key's own column is left to the full parser, which places
                // its start differently.)
                if self.column(next_line).is_none_or(|c| c <= col) {
                    return None;
                }
                let (node, next) = self.collection(next_line)?;
                self.entries.push((key, node));
                at = next;
            } else {
                let node = self.scalar(at.line, value_off)?;
                self.entries.push((key, node));
                at = next_line;
                if self.column(at).is_some_and(|c| c > col) {
                    return None;
                }
            }
            match self.column(at) {
                Some(c) if c == col && !is_dash(&self.lines[at.line].text[c..]) => {
                    at = At {
                        line: at.line,
                        off: c,
                    };
                }
                Some(c) if c > col => return None,
                _ => break,
            }
        }
        let end = self.token_pos(at);
        let at = At {
            line: at.line,
            off: 0,
        };
        Some((
            Node {
                value: {
                    // A repeated key is the full parser's to report, with its position.
                    if super::yaml::duplicate_key(&self.entries[base..]).is_some() {
                        return None;
                    }
                    Value::Map(self.entries.drain(base..).collect())
                },
                pos,
                end,
            },
            at,
        ))
    }

    /// A one-line scalar starting at byte `off`, followed by nothing but a comment.
    fn scalar(&self, line: usize, off: usize) -> Option<Node> {
        let text = self.lines[line].text;
        let rest = &text[off..];
        let first = rest.as_bytes()[0];
        let (value, len) = match first {
            b'\'' => {
                let (value, len) = single_quoted(rest)?;
                tail_ok(&rest[len..])?;
                (Value::Str(value), len)
            }
            b'"' => {
                let close = rest[1..].find('"')? + 2;
                tail_ok(&rest[close..])?;
                (Value::Str(rest[1..close - 1].to_owned()), close)
            }
            b'-' if rest.len() > 1 && rest.as_bytes()[1] != b' ' => plain(rest)?,
            b'-' | b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!'
            | b'|' | b'>' | b'%' | b'@' | b'`' => return None,
            _ => plain(rest)?,
        };
        let pos = self.pos(line, off, chars(&rest[..len]));
        let end = Pos {
            line: pos.line,
            col: pos.col + pos.len,
            len: 0,
        };
        Some(Node { value, pos, end })
    }
}

/// A plain scalar running to the end of the line or a ` #` comment: its value and byte length.
fn plain(rest: &str) -> Option<(Value, usize)> {
    // One pass over the bytes (the values are short; searching for each pattern in turn cost
    // more than reading them): where a comment starts, and whether the value holds `: ` or a
    // bracket, which are not ours.
    let b = rest.as_bytes();
    let mut end = b.len();
    for (i, &c) in b.iter().enumerate() {
        match c {
            b' ' if b.get(i + 1) == Some(&b'#') => {
                end = i;
                break;
            }
            b' ' if i > 0 && b[i - 1] == b':' => return None,
            b'[' | b']' | b'{' | b'}' => return None,
            _ => {}
        }
    }
    let body = rest[..end].trim_end_matches(' ');
    if body.ends_with(':') {
        return None;
    }
    Some((resolve_plain(body), body.len()))
}

/// `'it''s'` -> `it's` and the byte length of the quoted token.
fn single_quoted(rest: &str) -> Option<(String, usize)> {
    let b = rest.as_bytes();
    let mut out = String::new();
    let mut start = 1;
    let mut i = 1;
    while i < b.len() {
        if b[i] == b'\'' {
            out.push_str(&rest[start..i]);
            if b.get(i + 1) == Some(&b'\'') {
                out.push('\'');
                i += 2;
                start = i;
                continue;
            }
            return Some((out, i + 1));
        }
        i += 1;
    }
    None
}

/// After a quoted scalar: nothing. (The full parser stretches a quoted scalar's span over
/// spaces and a comment after it; such lines are left to it.)
fn tail_ok(tail: &str) -> Option<()> {
    tail.is_empty().then_some(())
}

/// `- ` or a lone `-`.
fn is_dash(rest: &str) -> bool {
    rest == "-" || rest.starts_with("- ")
}

/// The byte length of a simple `name:` key at the start of `rest` (a colon followed by a space
/// or the end of the line must follow).
fn key_end(rest: &str) -> Option<usize> {
    let b = rest.as_bytes();
    let n = b
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
        .count();
    if n == 0 || b[0] == b'-' || b[0] == b'.' {
        return None;
    }
    match b.get(n) {
        Some(b':') if matches!(b.get(n + 1), None | Some(b' ')) => Some(n),
        _ => None,
    }
}
