//! The strict YAML reader: bytes in, a tree of nodes with positions out.
//!
//! Owns every decision about what YAML we accept. It reads the event stream of
//! `saphyr-parser` and builds its own small tree, so that anchors, aliases, tags, merge keys,
//! multi-document streams, duplicate keys and complex keys are refused here, in one place,
//! for every command. Plain scalars are resolved with a deliberately narrow YAML 1.2 core
//! schema: only `true`/`false` are booleans and nothing is a date, so `yes`, `on` and
//! `2026-01-01` stay strings and the JSON Schema decides what they may be.
//! It never panics on any input and runs in time linear in the input.

use saphyr_parser::{Event, Parser, ScalarStyle};

/// Where a value starts: 1-based line and column (in characters), and its length in characters
/// on that line (for carets).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
    pub len: u32,
}

impl Pos {
    pub const START: Pos = Pos {
        line: 1,
        col: 1,
        len: 0,
    };
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub name: String,
    pub pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
    /// Where the parser's span of the value ends (exclusive; `len` is 0), so that `edit` can
    /// splice text. Exact for flow scalars and flow collections (after the closing quote or
    /// bracket); for block scalars and block collections it is the start of the next token.
    pub end: Pos,
}

impl Node {
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn key_pos(&self, key: &str) -> Option<Pos> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.name == key)
                .map(|(k, _)| k.pos),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    pub fn entries(&self) -> &[(Key, Node)] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    /// Follows a JSON pointer (`/grants/0/expires`) as produced by schema validation.
    pub fn at_pointer(&self, pointer: &str) -> Option<&Node> {
        let mut node = self;
        for raw in pointer.split('/').skip(1) {
            let seg = raw.replace("~1", "/").replace("~0", "~");
            node = match &node.value {
                Value::Map(_) => node.get(&seg)?,
                Value::Seq(items) => items.get(seg.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// The tree as JSON, for the schema validator.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
    pub hint: String,
}

/// Nesting deeper than any governed file needs; bounds the tree and every walk over it.
const MAX_DEPTH: usize = 32;

/// Parses one governed file. `bytes` must already be within the size limit.
pub fn parse(bytes: &[u8]) -> Result<Node, YamlError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let upto = &bytes[..e.valid_up_to()];
        let line = upto.iter().filter(|b| **b == b'\n').count() as u32 + 1;
        let col = upto
            .rsplit(|b| *b == b'\n')
            .next()
            .map_or(0, |l| String::from_utf8_lossy(l).chars().count() as u32)
            + 1;
        YamlError {
            pos: Pos { line, col, len: 1 },
            message: "file is not valid UTF-8".into(),
            hint: "save the file as UTF-8".into(),
        }
    })?;
    check_characters(text)?;
    no_directives(text)?;
    match super::block::parse(text) {
        Some(node) => Ok(node),
        None => build(text),
    }
}

/// The full parser alone, without the fast path; the fast path's differential tests compare
/// against it.
pub fn parse_full(text: &str) -> Result<Node, YamlError> {
    check_characters(text)?;
    no_directives(text)?;
    build(text)
}

/// `%YAML` and `%TAG` directives change how the rest is read (a `%TAG` turns `!x` into any
/// tag): governed files have none. A directive can only stand before the document's first
/// content, so only the leading blank and comment lines are looked at.
fn no_directives(text: &str) -> Result<(), YamlError> {
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if line.starts_with('%') {
            return Err(err(
                Pos {
                    line: i as u32 + 1,
                    col: 1,
                    len: 1,
                },
                "YAML directives (`%YAML`, `%TAG`) are not allowed",
                "delete the directive line and the `---` after it",
            ));
        }
        return Ok(());
    }
    Ok(())
}

/// Refuses characters that can hide meaning from a reviewer: C0/C1 controls (but tab, CR, LF),
/// bidi overrides and isolates, zero-width characters and byte-order marks, anywhere in the
/// file, comments included (a bidi override in a comment can still reorder what a reviewer sees).
pub(crate) fn check_characters(text: &str) -> Result<(), YamlError> {
    if plainly_visible(text.as_bytes()) {
        return Ok(());
    }
    let (mut line, mut col) = (1u32, 0u32);
    for c in text.chars() {
        if c == '\n' {
            line += 1;
            col = 0;
            continue;
        }
        col += 1;
        if let Some(what) = forbidden_char(c) {
            return Err(YamlError {
                pos: Pos { line, col, len: 1 },
                message: format!("{what} U+{:04X} is not allowed", c as u32),
                hint: "delete the character; governed files hold visible text only".into(),
            });
        }
    }
    Ok(())
}

/// Printable ASCII, tabs and line ends only: nearly every file, answered without decoding.
/// Written as a branch-free fold over chunks so that it compiles to SIMD; the two separate
/// scans it replaced took a tenth of the directory's load time.
fn plainly_visible(bytes: &[u8]) -> bool {
    bytes.chunks(64).all(|chunk| {
        !chunk.iter().fold(false, |bad, &b| {
            let control = (b < 0x20) & (b != b'\t') & (b != b'\n') & (b != b'\r');
            bad | control | (b >= 0x7f)
        })
    })
}

/// In decoded text a tab or carriage return is a control character too.
fn forbidden_text_char(c: char) -> Option<&'static str> {
    match c {
        '\t' | '\r' => Some("control character"),
        _ => forbidden_char(c),
    }
}

pub fn forbidden_char(c: char) -> Option<&'static str> {
    use unicode_properties::{GeneralCategory as G, UnicodeGeneralCategory};
    match c {
        '\t' | '\n' | '\r' => return None,
        ' '..='~' => return None,
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{61c}' => {
            return Some("bidirectional control character");
        }
        _ => {}
    }
    match c.general_category() {
        G::Control => Some("control character"),
        G::Format | G::LineSeparator | G::ParagraphSeparator => Some("invisible character"),
        G::PrivateUse | G::Surrogate => Some("private-use character"),
        G::Unassigned => Some("unassigned character"),
        _ if default_ignorable(c) => Some("invisible character"),
        _ => None,
    }
}

/// Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt) outside the format
/// category: characters that render as nothing although their category is a letter or a mark
/// (Hangul fillers, variation selectors, the combining grapheme joiner).
fn default_ignorable(c: char) -> bool {
    matches!(c,
        '\u{34f}' | '\u{115f}' | '\u{1160}' | '\u{17b4}' | '\u{17b5}' | '\u{180b}'..='\u{180f}'
        | '\u{3164}' | '\u{fe00}'..='\u{fe0f}' | '\u{ffa0}' | '\u{fff0}'..='\u{fff8}'
        | '\u{1bca0}'..='\u{1bca3}' | '\u{1d173}'..='\u{1d17a}' | '\u{e0000}'..='\u{e0fff}')
}

/// An open collection: where it starts, whether it is a flow (`[`/`{`) one, what it holds.
enum Frame {
    Seq(Pos, bool, Vec<Node>),
    Map(Pos, bool, Vec<(Key, Node)>, Option<Key>),
}

/// The first key that repeats an earlier one is an error. One hash per key: a linear scan per
/// key made an 80,000-key file take 17 seconds.
pub(crate) fn duplicate_key(entries: &[(Key, Node)]) -> Option<(&Key, &Key)> {
    if entries.len() <= 16 {
        return entries.iter().enumerate().find_map(|(i, (k, _))| {
            entries[..i]
                .iter()
                .find(|(f, _)| f.name == k.name)
                .map(|(f, _)| (f, k))
        });
    }
    let mut seen: std::collections::HashMap<&str, &Key> =
        std::collections::HashMap::with_capacity(entries.len());
    entries
        .iter()
        .find_map(|(k, _)| seen.insert(&k.name, k).map(|first| (first, k)))
}

fn no_duplicate_keys(entries: Vec<(Key, Node)>) -> Result<Vec<(Key, Node)>, YamlError> {
    match duplicate_key(&entries) {
        Some((first, again)) => Err(err(
            again.pos,
            format!(
                "duplicate key `{}` (first at line {})",
                again.name, first.pos.line
            ),
            "keep one of the two keys",
        )),
        None => Ok(entries),
    }
}

fn err(pos: Pos, message: impl Into<String>, hint: &'static str) -> YamlError {
    YamlError {
        pos,
        message: message.into(),
        hint: hint.into(),
    }
}

fn end_pos(m: &saphyr_parser::Span) -> Pos {
    Pos {
        line: m.end.line() as u32,
        col: m.end.col() as u32 + 1,
        len: 0,
    }
}

/// The end of a collection. The span of a flow collection's end event can run on over the
/// spaces and comment after the bracket, so it is taken as one character after its start.
fn collection_end(m: &saphyr_parser::Span, flow: bool) -> Pos {
    Pos {
        line: m.start.line() as u32,
        col: m.start.col() as u32 + 1 + u32::from(flow),
        len: 0,
    }
}

/// A flow collection's start event spans its bracket; a block one's is empty.
fn is_flow(m: &saphyr_parser::Span) -> bool {
    m.end.index() > m.start.index()
}

fn marker_pos(m: &saphyr_parser::Span) -> Pos {
    let len = if m.end.line() == m.start.line() {
        m.end.col().saturating_sub(m.start.col())
    } else {
        1
    };
    Pos {
        line: m.start.line() as u32,
        col: m.start.col() as u32 + 1,
        len: len.max(1) as u32,
    }
}

fn build(text: &str) -> Result<Node, YamlError> {
    // Plain ASCII without escapes or tabs cannot produce a forbidden character in a scalar.
    let scan_scalars = !text.is_ascii() || text.bytes().any(|b| matches!(b, b'\\' | b'\t' | b'\r'));
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0;
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| {
            let m = e.marker();
            let at = Pos {
                line: m.line() as u32,
                col: m.col() as u32 + 1,
                len: 1,
            };
            super::syntax::explain(text, e.info(), at)
        })?;
        let pos = marker_pos(&span);
        let node = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => {
                continue;
            }
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(err(
                        pos,
                        "more than one YAML document in the file",
                        "keep one document per file; remove the `---` separator",
                    ));
                }
                continue;
            }
            Event::Alias(_) => {
                return Err(err(
                    pos,
                    "YAML aliases (`*name`) are not allowed",
                    "write the value out in full",
                ));
            }
            Event::Scalar(value, style, anchor, tag) => {
                refuse_anchor_tag(pos, anchor, tag.is_some())?;
                // Escapes (`"\u202E"`) decode to the characters the raw-text scan refuses,
                // and a raw tab or CR is allowed in YAML but not inside text.
                if scan_scalars
                    && let Some((c, what)) = value
                        .chars()
                        .filter(|c| *c != '\n')
                        .find_map(|c| forbidden_text_char(c).map(|w| (c, w)))
                {
                    return Err(err(
                        pos,
                        format!("{what} U+{:04X} is not allowed in text", c as u32),
                        "remove the escape; text holds visible characters and newlines only",
                    ));
                }
                Node {
                    value: resolve(&value, style),
                    end: end_pos(&span),
                    pos: Pos {
                        len: if span.end.line() == span.start.line() {
                            pos.len
                        } else {
                            value.chars().take_while(|c| *c != '\n').count().max(1) as u32
                        },
                        ..pos
                    },
                }
            }
            Event::SequenceStart(anchor, tag) => {
                refuse_anchor_tag(pos, anchor, tag.is_some())?;
                push(&mut stack, Frame::Seq(pos, is_flow(&span), Vec::new()), pos)?;
                continue;
            }
            Event::MappingStart(anchor, tag) => {
                refuse_anchor_tag(pos, anchor, tag.is_some())?;
                push(
                    &mut stack,
                    Frame::Map(pos, is_flow(&span), Vec::new(), None),
                    pos,
                )?;
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(start, flow, items)) => Node {
                    value: Value::Seq(items),
                    pos: Pos { len: 1, ..start },
                    end: collection_end(&span, flow),
                },
                _ => return Err(err(pos, "unbalanced sequence", "check the brackets")),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(start, flow, entries, None)) => Node {
                    value: Value::Map(no_duplicate_keys(entries)?),
                    pos: Pos { len: 1, ..start },
                    end: collection_end(&span, flow),
                },
                _ => return Err(err(pos, "unbalanced mapping", "check the braces")),
            },
        };
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq(_, _, items)) => items.push(node),
            Some(Frame::Map(_, _, entries, pending)) => match pending.take() {
                Some(key) => entries.push((key, node)),
                None => {
                    let name = match node.value {
                        Value::Str(s) => s,
                        Value::Int(_) | Value::Float(_) | Value::Bool(_) | Value::Null
                            if !text.is_empty() =>
                        {
                            scalar_text(text, node.pos)
                        }
                        _ => {
                            return Err(err(
                                node.pos,
                                "mapping keys must be plain names",
                                "use a simple `name:` key",
                            ));
                        }
                    };
                    if name == "<<" {
                        return Err(err(
                            node.pos,
                            "YAML merge keys (`<<`) are not allowed",
                            "write the fields out in full",
                        ));
                    }
                    *pending = Some(Key {
                        name,
                        pos: node.pos,
                    });
                }
            },
        }
    }
    match root {
        None
        | Some(Node {
            value: Value::Null, ..
        }) => Err(err(
            Pos::START,
            "the file is empty",
            "delete the file, or write its content",
        )),
        Some(node) => Ok(node),
    }
}

/// The source text of a one-line key such as `123:`, since keys are names, not numbers.
fn scalar_text(text: &str, pos: Pos) -> String {
    text.lines()
        .nth(pos.line as usize - 1)
        .map(|l| {
            l.chars()
                .skip(pos.col as usize - 1)
                .take(pos.len as usize)
                .collect()
        })
        .unwrap_or_default()
}

fn push(stack: &mut Vec<Frame>, frame: Frame, pos: Pos) -> Result<(), YamlError> {
    if stack.len() >= MAX_DEPTH {
        return Err(err(
            pos,
            format!("nesting deeper than {MAX_DEPTH} levels"),
            "governed files are shallow; check the brackets and indentation",
        ));
    }
    stack.push(frame);
    Ok(())
}

fn refuse_anchor_tag(pos: Pos, anchor: usize, tagged: bool) -> Result<(), YamlError> {
    if anchor != 0 {
        return Err(err(
            pos,
            "YAML anchors (`&name`) are not allowed",
            "remove the anchor and write values out in full",
        ));
    }
    if tagged {
        return Err(err(
            pos,
            "YAML tags (`!tag`, `!!type`) are not allowed",
            "remove the tag; quote the value if it must be a string",
        ));
    }
    Ok(())
}

pub(crate) fn resolve_plain(text: &str) -> Value {
    resolve(text, ScalarStyle::Plain)
}

/// Whether a plain scalar is a string to the reader (not a null, boolean or number).
pub(crate) fn plain_is_string(text: &str) -> bool {
    not_a_string(text).is_none()
}

/// YAML 1.2 core schema, narrowed: `true`/`false` only, no dates, no `yes`/`on`.
fn resolve(text: &str, style: ScalarStyle) -> Value {
    if style != ScalarStyle::Plain {
        return Value::Str(text.to_owned());
    }
    not_a_string(text).unwrap_or_else(|| Value::Str(text.to_owned()))
}

/// What a plain scalar is when it is not a string.
fn not_a_string(text: &str) -> Option<Value> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "true" => return Some(Value::Bool(true)),
        "false" => return Some(Value::Bool(false)),
        _ => {}
    }
    let b = text.as_bytes();
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    let unsigned = match b.first() {
        Some(b'-' | b'+') => &b[1..],
        _ => b,
    };
    if digits(unsigned) {
        return Some(text.parse::<i64>().map_or_else(
            |_| Value::Float(text.parse().unwrap_or(f64::NAN)),
            Value::Int,
        ));
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return Some(Value::Int(i));
    }
    if let Some(oct) = text.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return Some(Value::Int(i));
    }
    if looks_float(unsigned)
        && let Ok(f) = text.parse::<f64>()
    {
        return Some(Value::Float(f));
    }
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "-.inf" | ".nan" | ".NaN" | ".NAN" => {
            Some(Value::Float(f64::NAN))
        }
        _ => None,
    }
}

fn looks_float(b: &[u8]) -> bool {
    let (mut seen_digit, mut seen_dot, mut seen_exp) = (false, false, false);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'0'..=b'9' => seen_digit = true,
            b'.' if !seen_dot && !seen_exp => seen_dot = true,
            b'e' | b'E' if seen_digit && !seen_exp => {
                seen_exp = true;
                if matches!(b.get(i + 1), Some(b'+' | b'-')) {
                    i += 1;
                }
                if !matches!(b.get(i + 1), Some(b'0'..=b'9')) {
                    return false;
                }
            }
            _ => return false,
        }
        i += 1;
    }
    seen_digit && (seen_dot || seen_exp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fails(text: &str) -> YamlError {
        parse(text.as_bytes()).expect_err(text)
    }

    /// THREATS 7: characters that render as nothing are refused by what they are (their
    /// Unicode category or Default_Ignorable property), not by a list of known ones.
    #[test]
    fn invisible_characters_are_refused_by_category() {
        for c in [
            '\u{e0041}', // tag latin capital A
            '\u{e007f}', // cancel tag
            '\u{fff9}',  // interlinear annotation anchor
            '\u{206a}',  // inhibit symmetric swapping
            '\u{2028}',  // line separator
            '\u{2029}',  // paragraph separator
            '\u{3164}',  // Hangul filler
            '\u{ffa0}',  // halfwidth Hangul filler
            '\u{fe0f}',  // variation selector 16
            '\u{e0100}', // variation selector 17
            '\u{34f}',   // combining grapheme joiner
            '\u{e000}',  // private use
            '\u{80}',    // C1 control
            '\u{200d}',  // zero width joiner
        ] {
            let e = fails(&format!("name: Al{c}ice\n"));
            assert_eq!((e.pos.line, e.pos.col), (1, 9), "U+{:04X}", c as u32);
            assert!(
                e.message.contains(&format!("U+{:04X}", c as u32)),
                "{}",
                e.message
            );
        }
        for ok in [
            "José Núñez",
            "Zoë",
            "Łukasz",
            "李雷",
            "Ωmega",
            "O'Brien-Smith",
        ] {
            parse(format!("name: {ok}\n").as_bytes()).expect(ok);
        }
    }

    #[test]
    fn directives_are_refused() {
        for text in [
            "%YAML 1.2\n---\na: 1\n",
            "# c\n\n%TAG !x! tag:example.com,2000:\n---\na: !x!y 1\n",
        ] {
            let e = fails(text);
            assert!(e.message.contains("directives"), "{}", e.message);
        }
        // A `%` inside the document is text, not a directive.
        parse(b"a: |\n  %YAML is text here\nb: '%x'\n").unwrap();
    }

    #[test]
    fn a_duplicate_key_among_many_is_found_with_both_lines() {
        let mut text: String = (0..5000).map(|i| format!("k{i}: v\n")).collect();
        text.push_str("k17: again\n");
        let e = fails(&text);
        assert_eq!(e.pos.line, 5001);
        assert!(
            e.message.contains("duplicate key `k17` (first at line 18)"),
            "{}",
            e.message
        );
        let e = fails("a: 1\nb: 2\na: 3\n");
        assert_eq!(e.pos.line, 3);
    }

    #[test]
    fn strict_scalars() {
        let n = parse(b"a: yes\nb: true\nc: 2026-01-01\nd: 12\ne: 0.8\nf: '12'\ng: ~\nh: True\n")
            .unwrap();
        assert_eq!(n.get("a").unwrap().value, Value::Str("yes".into()));
        assert_eq!(n.get("b").unwrap().value, Value::Bool(true));
        assert_eq!(n.get("c").unwrap().value, Value::Str("2026-01-01".into()));
        assert_eq!(n.get("d").unwrap().value, Value::Int(12));
        assert_eq!(n.get("e").unwrap().value, Value::Float(0.8));
        assert_eq!(n.get("f").unwrap().value, Value::Str("12".into()));
        assert_eq!(n.get("g").unwrap().value, Value::Null);
        assert_eq!(n.get("h").unwrap().value, Value::Str("True".into()));
    }

    #[test]
    fn positions_point_at_values() {
        let n =
            parse(b"person: dave\ngrants:\n  - role: member\n    expires: 2026-11-21\n").unwrap();
        let e = n.at_pointer("/grants/0/expires").unwrap();
        assert_eq!(
            e.pos,
            Pos {
                line: 4,
                col: 14,
                len: 10
            }
        );
        assert_eq!(n.at_pointer("/grants/0").unwrap().pos.line, 3);
    }

    #[test]
    fn refuses_what_other_parsers_guess() {
        assert!(fails("a: 1\na: 2\n").message.contains("duplicate key `a`"));
        assert_eq!(fails("a: 1\na: 2\n").pos.line, 2);
        assert!(fails("a: &x 1\nb: *x\n").message.contains("anchors"));
        assert!(fails("a: !!binary aGk=\n").message.contains("tags"));
        assert!(fails("a: 1\n---\nb: 2\n").message.contains("more than one"));
        assert!(
            fails("base: {a: 1}\nc:\n  <<: {b: 2}\n")
                .message
                .contains("merge")
        );
        assert!(fails("").message.contains("empty"));
        assert!(fails("# only a comment\n").message.contains("empty"));
        assert!(fails("? [a, b]\n: 1\n").message.contains("keys"));
        assert!(parse(b"a: \xff\n").unwrap_err().message.contains("UTF-8"));
        assert!(fails("a: x\u{202e}y\n").message.contains("bidirectional"));
        assert!(fails("# hi \u{200b}\na: 1\n").message.contains("invisible"));
        assert!(fails("\u{feff}a: 1\n").message.contains("invisible"));
        assert!(fails("a: \"x\\u0007\"\n").message.contains("control"));
        assert!(
            fails("a: \"x\\u202Ey\"\n")
                .message
                .contains("bidirectional")
        );
        assert!(fails("a: \"x\\ty\"\n").message.contains("control"));
    }

    #[test]
    fn multi_line_text_keeps_its_newlines() {
        let n = parse(b"a: |\n  one\n  two\n").unwrap();
        assert_eq!(n.get("a").unwrap().as_str(), Some("one\ntwo\n"));
    }

    #[test]
    fn deep_nesting_is_refused_quickly() {
        let text = "[".repeat(200_000);
        let started = std::time::Instant::now();
        assert!(parse(text.as_bytes()).is_err());
        assert!(started.elapsed().as_secs() < 2);
    }
}
