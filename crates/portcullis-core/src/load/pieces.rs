//! The people directory on every core: a file whose whole content is one top-level key
//! holding a long block list is cut at item boundaries and the pieces parsed in parallel.

use super::yaml::{Key, Node, Pos, Value, YamlError, check_characters, parse};

/// A list file cut into pieces: `key:` + whole items each, with the file line of each piece's
/// first item.
struct Split {
    key_pos: Pos,
    /// The column of the list's dashes.
    dash: u32,
    chunks: Vec<(u32, String)>,
}

/// Parses a file whose whole content is one top-level key holding a long block list (the
/// people directory) on every core: the list is cut at item boundaries, each piece parsed
/// as its own document under the same key, and the positions shifted back. Any doubt about
/// the layout, and any error, falls back to [`parse`] of the whole file, so the result and
/// the diagnostics are exactly those of the plain parser.
pub fn parse_list_parallel(bytes: &[u8], key: &str, pieces: usize) -> Result<Node, YamlError> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        // The pieces leave out the header lines; the whole file is screened here.
        check_characters(text)?;
    }
    match split_list(bytes, key, pieces) {
        Some(Split {
            key_pos,
            dash,
            chunks,
        }) => {
            use rayon::prelude::*;
            let parsed: Vec<Result<Node, YamlError>> = chunks
                .par_iter()
                .map(|(first_line, text)| {
                    let mut node = parse(text.as_bytes())?;
                    // Line 2 of the piece is line `first_line` of the file.
                    shift(&mut node, first_line - 2);
                    Ok(node)
                })
                .collect();
            let mut items = Vec::new();
            // The last piece ends where the file ends: its ends are the whole tree's.
            let (mut map_end, mut seq_end) = (key_pos, key_pos);
            let mut parsed: Vec<Node> = match parsed.into_iter().collect() {
                Ok(nodes) => nodes,
                Err(_) => return parse(bytes),
            };
            // What ends at the end of a piece ends, in the whole file, where the next piece's
            // first item begins.
            for i in 0..parsed.len().saturating_sub(1) {
                let eof = parsed[i].end;
                let next = Pos {
                    line: chunks[i + 1].0,
                    col: dash,
                    len: 0,
                };
                retarget(&mut parsed[i], eof, next);
            }
            for node in parsed {
                map_end = node.end;
                let Value::Map(mut entries) = node.value else {
                    return parse(bytes);
                };
                match entries.pop() {
                    Some((
                        _,
                        Node {
                            value: Value::Seq(seq),
                            end,
                            ..
                        },
                    )) if entries.is_empty() => {
                        seq_end = end;
                        items.extend(seq)
                    }
                    _ => return parse(bytes),
                }
            }
            let list_pos = Pos {
                line: items.first().map_or(key_pos.line, |n| n.pos.line),
                col: dash,
                len: 1,
            };
            Ok(Node {
                pos: Pos { len: 1, ..key_pos },
                value: Value::Map(vec![(
                    Key {
                        name: key.to_owned(),
                        pos: key_pos,
                    },
                    Node {
                        pos: list_pos,
                        value: Value::Seq(items),
                        end: seq_end,
                    },
                )]),
                end: map_end,
            })
        }
        None => parse(bytes),
    }
}

/// Parses a `key:` + block list file piece by piece, on every core, and hands each piece's
/// tree (a `key:` map holding whole items, at their positions in the file) to `each`, whose
/// results come back in file order. Each tree is dropped as soon as `each` returns, so the
/// whole file's tree never exists at once: the 50k-person directory's would take about
/// ten times the file's size. Node ends are not carried across pieces; `each` must not use
/// them. `None` when the file is not plainly such a list, or a piece does not parse: the
/// caller then parses the whole file and reports exactly.
pub fn map_list<R: Send>(
    bytes: &[u8],
    key: &str,
    pieces: usize,
    each: impl Fn(Node) -> R + Sync,
) -> Option<Vec<R>> {
    check_characters(std::str::from_utf8(bytes).ok()?).ok()?;
    let split = split_list(bytes, key, pieces)?;
    use rayon::prelude::*;
    split
        .chunks
        .par_iter()
        .map(|(first_line, text)| {
            let mut node = parse(text.as_bytes()).ok()?;
            shift(&mut node, first_line - 2);
            Some(each(node))
        })
        .collect()
}

/// The pieces of a `key:` + block list file, each `key:\n` + whole items, with the file line
/// of each piece's first item, and the column of the list's dashes. `None` when the layout is not plainly that.
fn split_list(bytes: &[u8], key: &str, pieces: usize) -> Option<Split> {
    let text = std::str::from_utf8(bytes).ok()?;
    if pieces < 2 || text.contains('\r') || text.starts_with('\u{feff}') {
        return None;
    }
    let is_blank_or_comment = |l: &str| {
        let t = l.trim_start_matches(' ');
        t.is_empty() || t.starts_with('#')
    };
    // Line numbers (0-based) and byte offsets; no vector of lines, which at 450,000 lines is
    // most of the cost when the list turns out too short to cut.
    let mut lines = super::lines(text).enumerate();
    let (head, (_, header)) = lines.by_ref().find(|(_, (_, l))| !is_blank_or_comment(l))?;
    let rest = header.strip_prefix(key)?.strip_prefix(':')?;
    if !is_blank_or_comment(rest) {
        return None;
    }
    let (_, (_, first)) = lines.clone().find(|(_, (_, l))| !is_blank_or_comment(l))?;
    let indent = first.len() - first.trim_start_matches(' ').len();
    let marker = format!("{}- ", " ".repeat(indent));
    if !first.starts_with(&marker) {
        return None;
    }
    // Too few items to cut (a directory with most entries blanked out by `check --base`):
    // known from one SIMD count, before any line is looked at.
    let items = memchr::memmem::find_iter(bytes, format!("\n{marker}").as_bytes()).count();
    if items < pieces * 64 {
        return None;
    }
    // Each item's first line number and byte offset.
    let mut starts: Vec<(usize, usize)> = Vec::new();
    for (i, (off, l)) in lines {
        if is_blank_or_comment(l) {
            continue;
        }
        // Anything at or left of the list's indentation must be a new item.
        let own = l.len() - l.trim_start_matches(' ').len();
        if own < indent || (own == indent && !l.starts_with(&marker)) {
            return None;
        }
        if l.starts_with(&marker) {
            starts.push((i, off));
        }
    }
    if starts.len() < pieces * 64 {
        return None;
    }
    let per = starts.len().div_ceil(pieces);
    let mut chunks = Vec::new();
    for (g, group) in starts.chunks(per).enumerate() {
        let (line, from) = group[0];
        // Up to the next piece's first item, or the end of the file: the last piece ends
        // exactly as the file does.
        let to = starts
            .get((g + 1) * per)
            .map_or(text.len(), |(_, off)| *off);
        let mut piece = format!("{key}:\n");
        piece.push_str(&text[from..to]);
        chunks.push((line as u32 + 1, piece));
    }
    let key_pos = Pos {
        line: head as u32 + 1,
        col: 1,
        len: key.chars().count() as u32,
    };
    Some(Split {
        key_pos,
        dash: indent as u32 + 1,
        chunks,
    })
}

fn retarget(node: &mut Node, from: Pos, to: Pos) {
    if node.end == from {
        node.end = to;
    }
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(|n| retarget(n, from, to)),
        Value::Map(entries) => entries.iter_mut().for_each(|(_, v)| retarget(v, from, to)),
        _ => {}
    }
}

fn shift(node: &mut Node, by: u32) {
    node.pos.line += by;
    node.end.line += by;
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(|n| shift(n, by)),
        Value::Map(entries) => {
            for (k, v) in entries {
                k.pos.line += by;
                shift(v, by);
            }
        }
        _ => {}
    }
}
