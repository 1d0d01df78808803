//! Edits a grant file in place: text in, text out, for `request`, `review`, `expire` and
//! `people sync`.
//!
//! Every comment, blank line, key order, quoting style and line ending of the file is kept;
//! only the text that must change changes. The strict parser (`load::yaml`) locates each value,
//! the edit splices text at those places, and the result is parsed again and compared with what
//! the edit meant to write: a layout this module cannot edit safely is refused with an error,
//! never turned into a wrong file. Pure: no I/O, no clock.

pub mod people;

use crate::model::RoleId;
use std::fmt;
use std::ops::Range;

use chrono::NaiveDate;

use crate::load::layout::is_id;
use crate::load::yaml::{self, Node, Value};
use crate::model::Expiry;

/// A grant to write: the fields a request sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewGrant {
    pub role: RoleId,
    pub justification: String,
    /// `YYYY-MM-DD` or an RFC 3339 timestamp with an offset; `None` for a grant without an
    /// expiry (a birthright grant of an employee in a low-risk app, say).
    pub expires: Option<String>,
    pub ticket: Option<String>,
    pub emergency: bool,
}

/// What `upsert_grant` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upsert {
    /// A new file.
    Created,
    /// A grant appended to an existing file.
    Added,
    /// The existing grant of that role: justification, expires, ticket and emergency replaced.
    Renewed,
}

/// Why an edit was refused; `line` is 1-based, or 0 when the problem is not at a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EditError {
    pub line: u32,
    pub message: String,
}

impl EditError {
    fn new(line: u32, message: impl Into<String>) -> EditError {
        EditError {
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for EditError {}

/// The first line of every grant file, so editors validate and complete it.
const SCHEMA_LINE: &str = "# yaml-language-server: $schema=../../schemas/grant.schema.json";

/// Grant fields in the order SPEC writes them; a field added to a grant goes after the
/// nearest field that comes before it in this order.
const FIELD_ORDER: [&str; 6] = [
    "role",
    "justification",
    "expires",
    "ticket",
    "emergency",
    "reviewed",
];

fn rank(order: &[&str], key: &str) -> usize {
    order.iter().position(|k| *k == key).unwrap_or(order.len())
}

/// Writes `grant` into the file of `person` in `app`: a new file when there is none, the
/// grant appended when the file lacks the role, the grant of that role renewed when it has it.
pub fn upsert_grant(
    existing: Option<&str>,
    person: &str,
    app: &str,
    grant: &NewGrant,
) -> Result<(String, Upsert), EditError> {
    for (what, id) in [("person", person), ("app", app), ("role", &grant.role)] {
        if !is_id(id) {
            return Err(EditError::new(
                0,
                format!(
                    "`{id}` is not a valid {what} id (lowercase letters, digits, `.`, `_`, `-`)"
                ),
            ));
        }
    }
    if let Some(expires) = &grant.expires {
        Expiry::parse(expires).map_err(|e| EditError::new(0, format!("`expires`: {e}")))?;
    }
    let fields = grant_fields(grant);
    let Some(text) = existing else {
        let item = render_block_item(&fields, "  ", " ", "    ", Style::Block)?;
        let out = format!(
            "{SCHEMA_LINE}\nperson: {}\napp: {}\ngrants:\n{}\n",
            scalar(person, Style::Block, "person")?,
            scalar(app, Style::Block, "app")?,
            item.join("\n"),
        );
        let expected = serde_json::json!({
            "person": person,
            "app": app,
            "grants": [fields_json(&fields)],
        });
        verify(&out, &expected)?;
        return Ok((out, Upsert::Created));
    };
    let doc = Doc::parse(text)?;
    for (key, want) in [("person", person), ("app", app)] {
        let node = doc.root.get(key);
        if node.and_then(Node::as_str) != Some(want) {
            let line = node.map_or(1, |n| n.pos.line);
            return Err(EditError::new(
                line,
                format!("the file does not say `{key}: {want}`; it belongs to another {key}"),
            ));
        }
    }
    let matching: Vec<usize> = doc
        .items
        .iter()
        .enumerate()
        .filter(|(_, item)| item.get("role").and_then(Node::as_str) == Some(grant.role.as_str()))
        .map(|(i, _)| i)
        .collect();
    let mut expected = doc.root.to_json();
    let (splices, upsert) = match matching.as_slice() {
        [] => {
            if let Some(grants) = expected["grants"].as_array_mut() {
                grants.push(fields_json(&fields));
            }
            (doc.append_item(&fields)?, Upsert::Added)
        }
        [i] => {
            let changes: Vec<Change> = fields
                .iter()
                .skip(1)
                .cloned()
                .map(|(key, value)| Change {
                    key,
                    value: Some(value),
                })
                .chain(grant.expires.is_none().then_some(Change {
                    key: "expires",
                    value: None,
                }))
                .chain(grant.ticket.is_none().then_some(Change {
                    key: "ticket",
                    value: None,
                }))
                .chain((!grant.emergency).then_some(Change {
                    key: "emergency",
                    value: None,
                }))
                .collect();
            let splices = doc.edit_item(*i, &changes, &mut expected["grants"][*i])?;
            (splices, Upsert::Renewed)
        }
        [first, ..] => {
            return Err(EditError::new(
                doc.items[*first].pos.line,
                format!(
                    "role `{}` is granted more than once in this file; keep one grant per role first",
                    grant.role
                ),
            ));
        }
    };
    let out = apply(text, splices);
    verify(&out, &expected)?;
    Ok((out, upsert))
}

/// Removes the grants with these roles; `None` when no grant is left (the caller deletes the
/// file). Roles the file does not hold are ignored, so removing twice changes nothing.
pub fn remove_grants(text: &str, roles: &[&str]) -> Result<Option<String>, EditError> {
    let doc = Doc::parse(text)?;
    let removed = |item: &Node| {
        item.get("role")
            .and_then(Node::as_str)
            .is_some_and(|r| roles.contains(&r))
    };
    if doc.items.iter().all(removed) {
        return Ok(None);
    }
    let mut expected = doc.root.to_json();
    if let Some(grants) = expected["grants"].as_array_mut() {
        grants.retain(|g| g["role"].as_str().is_none_or(|r| !roles.contains(&r)));
    }
    // One item at a time, parsing again in between: removing neighbours from a flow list
    // would otherwise claim the same comma twice.
    let mut out = text.to_owned();
    loop {
        let doc = Doc::parse(&out)?;
        let Some(i) = doc.items.iter().position(removed) else {
            break;
        };
        let splice = doc.remove_item(i)?;
        out = apply(&out, vec![splice]);
    }
    verify(&out, &expected)?;
    Ok(Some(out))
}

/// Sets (or replaces) `reviewed: DATE` on every grant, or only on the grants of the listed
/// roles (each of which the file must hold).
pub fn set_reviewed(
    text: &str,
    date: NaiveDate,
    roles: Option<&[&str]>,
) -> Result<String, EditError> {
    let doc = Doc::parse(text)?;
    if let Some(roles) = roles
        && let Some(missing) = roles.iter().find(|r| {
            !doc.items
                .iter()
                .any(|item| item.get("role").and_then(Node::as_str) == Some(**r))
        })
    {
        return Err(EditError::new(
            0,
            format!("the file holds no grant of role `{missing}` to mark as reviewed"),
        ));
    }
    let date = date.format("%Y-%m-%d").to_string();
    let mut expected = doc.root.to_json();
    let mut splices = Vec::new();
    for (i, item) in doc.items.iter().enumerate() {
        let role = item.get("role").and_then(Node::as_str).unwrap_or_default();
        if roles.is_some_and(|roles| !roles.contains(&role)) {
            continue;
        }
        let change = Change {
            key: "reviewed",
            value: Some(Field::Plain(date.clone())),
        };
        splices.extend(doc.edit_item(i, &[change], &mut expected["grants"][i])?);
    }
    let out = apply(text, splices);
    verify(&out, &expected)?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Values and how they are written

/// A field's new value.
#[derive(Clone, Debug)]
enum Field {
    /// Free text or an id: plain when that is unambiguous, else double-quoted.
    Text(String),
    /// A date or timestamp already validated: always plain, as SPEC writes them.
    Plain(String),
    Bool(bool),
}

impl Field {
    fn value(&self) -> Value {
        match self {
            Field::Text(s) | Field::Plain(s) => Value::Str(s.clone()),
            Field::Bool(b) => Value::Bool(*b),
        }
    }

    fn json(&self) -> serde_json::Value {
        match self {
            Field::Text(s) | Field::Plain(s) => serde_json::Value::String(s.clone()),
            Field::Bool(b) => serde_json::Value::Bool(*b),
        }
    }

    fn render(&self, key: &str, style: Style) -> Result<String, EditError> {
        match self {
            Field::Text(s) => scalar(s, style, key),
            Field::Plain(s) => Ok(s.clone()),
            Field::Bool(b) => Ok(b.to_string()),
        }
    }
}

/// One field of a grant to set (`Some`) or delete (`None`).
struct Change {
    key: &'static str,
    value: Option<Field>,
}

fn grant_fields(grant: &NewGrant) -> Vec<(&'static str, Field)> {
    let mut fields = vec![
        ("role", Field::Text(grant.role.to_string())),
        ("justification", Field::Text(grant.justification.clone())),
    ];
    if let Some(e) = &grant.expires {
        fields.push(("expires", Field::Plain(e.clone())));
    }
    if let Some(t) = &grant.ticket {
        fields.push(("ticket", Field::Text(t.clone())));
    }
    if grant.emergency {
        fields.push(("emergency", Field::Bool(true)));
    }
    fields
}

fn fields_json(fields: &[(&str, Field)]) -> serde_json::Value {
    serde_json::Value::Object(
        fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.json()))
            .collect(),
    )
}

/// Block style (`key: value` lines) or flow style (`{key: value, ...}`), where `,[]{}` end a
/// plain scalar.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Block,
    Flow,
}

/// Words that some YAML readers (1.1, editors) take for booleans or null.
const YAML11_WORDS: [&str; 11] = [
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", "",
];

/// Writes text as a YAML scalar the strict loader reads back exactly: plain when nothing
/// could read it as anything else, otherwise double-quoted with `"`, `\` and newlines
/// escaped. Text with control, bidi or zero-width characters is refused, as the loader would.
fn scalar(text: &str, style: Style, what: &str) -> Result<String, EditError> {
    if let Some(c) = text
        .chars()
        .find(|c| *c == '\t' || *c == '\r' || yaml::forbidden_char(*c).is_some())
    {
        let kind = yaml::forbidden_char(c).unwrap_or("control character");
        return Err(EditError::new(
            0,
            format!(
                "`{what}` contains a {kind} (U+{:04X}); governed files hold visible text and newlines only",
                c as u32
            ),
        ));
    }
    if plain_is_safe(text, style) {
        return Ok(text.to_owned());
    }
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            // Line and paragraph separators are line breaks to some readers.
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('"');
    if reads_back(&out, text, style) {
        Ok(out)
    } else {
        Err(EditError::new(
            0,
            format!("`{what}` cannot be written so that it reads back unchanged"),
        ))
    }
}

fn plain_is_safe(text: &str, style: Style) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    let starts_like_number = first.is_ascii_digit()
        || (matches!(first, '-' | '+' | '.')
            && text.chars().nth(1).is_some_and(|c| c.is_ascii_digit()));
    let ok = !starts_like_number
        && !YAML11_WORDS.contains(&text.to_ascii_lowercase().as_str())
        && !"-?:,[]{}#&*!|>'\"%@`".contains(first)
        && !text.ends_with([' ', ':'])
        && !text.contains(": ")
        && !text.contains(" #")
        && text.chars().all(|c| c == ' ' || !c.is_whitespace())
        && !(style == Style::Flow && text.contains([',', '[', ']', '{', '}']));
    ok && reads_back(text, text, style)
}

/// Whether `written`, as a value, is read by the strict parser as the string `text`.
fn reads_back(written: &str, text: &str, style: Style) -> bool {
    let doc = match style {
        Style::Block => format!("k: {written}\n"),
        Style::Flow => format!("k: [{written}]\n"),
    };
    let Ok(node) = yaml::parse(doc.as_bytes()) else {
        return false;
    };
    let value = match style {
        Style::Block => node.get("k"),
        Style::Flow => node.get("k").and_then(|n| n.as_seq().first()),
    };
    value.is_some_and(|v| v.value == Value::Str(text.to_owned()))
}

/// The lines of a block list item: `{indent}-{gap}role: ...` then `{keys}field: ...`.
fn render_block_item(
    fields: &[(&str, Field)],
    dash_indent: &str,
    gap: &str,
    key_indent: &str,
    style: Style,
) -> Result<Vec<String>, EditError> {
    let mut lines = Vec::new();
    for (i, (key, value)) in fields.iter().enumerate() {
        let value = value.render(key, style)?;
        if i == 0 {
            lines.push(format!("{dash_indent}-{gap}{key}: {value}"));
        } else {
            lines.push(format!("{key_indent}{key}: {value}"));
        }
    }
    Ok(lines)
}

fn render_flow_item(fields: &[(&str, Field)]) -> Result<String, EditError> {
    let parts = fields
        .iter()
        .map(|(key, value)| Ok(format!("{key}: {}", value.render(key, Style::Flow)?)))
        .collect::<Result<Vec<_>, EditError>>()?;
    Ok(format!("{{{}}}", parts.join(", ")))
}

// ---------------------------------------------------------------------------------------------
// Splicing

/// The length of a quoted scalar at the start of `s`, closing quote included.
fn quoted_len(s: &str) -> Option<usize> {
    let mut chars = s.char_indices();
    let quote = chars
        .next()
        .map(|(_, c)| c)
        .filter(|c| matches!(c, '"' | '\''))?;
    while let Some((i, c)) = chars.next() {
        if c == '\\' && quote == '"' {
            chars.next();
        } else if c == quote {
            if quote == '\'' && s[i + 1..].starts_with('\'') {
                chars.next();
                continue;
            }
            return Some(i + 1);
        }
    }
    None
}

/// Replace the bytes of `range` with the text.
type Splice = (Range<usize>, String);

fn apply(text: &str, mut splices: Vec<Splice>) -> String {
    // From the end backwards so earlier offsets stay valid; at one offset a replacement goes
    // before an insertion, so the insertion is not swallowed by it.
    splices.sort_by_key(|(range, _)| std::cmp::Reverse((range.start, range.end)));
    let mut out = text.to_owned();
    for (range, with) in splices {
        out.replace_range(range, &with);
    }
    out
}

/// Parses the result and compares it with what the edit meant to write.
fn verify(out: &str, expected: &serde_json::Value) -> Result<(), EditError> {
    let node = yaml::parse(out.as_bytes()).map_err(|e| {
        EditError::new(
            e.pos.line,
            format!(
                "the edit would not parse ({}); the file's layout is too unusual to edit safely, edit it by hand",
                e.message
            ),
        )
    })?;
    if node.to_json() != *expected {
        return Err(EditError::new(
            0,
            "the edit would change more than intended; the file's layout is too unusual to edit safely, edit it by hand",
        ));
    }
    Ok(())
}

/// A parsed file holding one list of items (a grant file's `grants`, the people directory's
/// `people`), with the text around its values.
struct Doc<'t> {
    text: &'t str,
    /// Byte offset of the start of each line; line `n` starts at `line_starts[n - 1]`.
    line_starts: Vec<usize>,
    eol: &'static str,
    root: Node,
    /// The list (`grants:` of a grant file).
    grants: Node,
    items: Vec<Node>,
    /// The order in which an item's fields are written.
    order: &'static [&'static str],
}

impl<'t> Doc<'t> {
    fn parse(text: &'t str) -> Result<Doc<'t>, EditError> {
        Doc::parse_list(text, "grants", &FIELD_ORDER)
    }

    /// A file whose top-level `list` holds mappings that each have a string `order[0]` field.
    fn parse_list(
        text: &'t str,
        list: &str,
        order: &'static [&'static str],
    ) -> Result<Doc<'t>, EditError> {
        let mut line_starts = vec![0];
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                line_starts.push(i + 1);
            } else if b == b'\r' && text.as_bytes().get(i + 1) != Some(&b'\n') {
                return Err(EditError::new(
                    line_starts.len() as u32,
                    "a carriage return without a line feed; save the file with LF or CRLF line endings",
                ));
            }
        }
        let eol = match text.find('\n') {
            Some(i) if text[..i].ends_with('\r') => "\r\n",
            _ => "\n",
        };
        let root = yaml::parse(text.as_bytes()).map_err(|e| {
            EditError::new(
                e.pos.line,
                format!("the file is not valid YAML: {}", e.message),
            )
        })?;
        if !matches!(root.value, Value::Map(_)) {
            return Err(EditError::new(
                root.pos.line,
                format!("the file is not a mapping with a `{list}:` list"),
            ));
        }
        let grants = root.get(list).cloned().ok_or_else(|| {
            EditError::new(root.pos.line, format!("the file has no `{list}:` list"))
        })?;
        let Value::Seq(items) = &grants.value else {
            return Err(EditError::new(
                grants.pos.line,
                format!("`{list}` is not a list"),
            ));
        };
        let id = order[0];
        for item in items {
            if !matches!(item.value, Value::Map(_)) || item.get(id).and_then(Node::as_str).is_none()
            {
                return Err(EditError::new(
                    item.pos.line,
                    format!(
                        "an item of `{list}` without an `{id}:`; fix it (`portcullis check` says how) before editing"
                    ),
                ));
            }
        }
        let items = items.clone();
        Ok(Doc {
            text,
            line_starts,
            eol,
            root,
            grants,
            items,
            order,
        })
    }

    fn line_start(&self, line: u32) -> usize {
        self.line_starts
            .get((line as usize).saturating_sub(1))
            .copied()
            .unwrap_or(self.text.len())
    }

    /// After the line's terminator.
    fn line_end(&self, line: u32) -> usize {
        self.line_start(line + 1)
    }

    /// Before the line's terminator.
    fn line_content_end(&self, line: u32) -> usize {
        let end = self.line_end(line);
        let s = &self.text[self.line_start(line)..end];
        end - (s.len() - s.trim_end_matches('\n').trim_end_matches('\r').len())
    }

    fn line_of(&self, offset: usize) -> u32 {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i as u32 + 1,
            Err(i) => i as u32,
        }
    }

    /// Byte offset of a 1-based line and character column.
    fn offset(&self, line: u32, col: u32) -> usize {
        let start = self.line_start(line);
        let end = self.line_content_end(line);
        start
            + self.text[start..end]
                .chars()
                .take(col.saturating_sub(1) as usize)
                .map(char::len_utf8)
                .sum::<usize>()
    }

    fn start(&self, node: &Node) -> usize {
        self.offset(node.pos.line, node.pos.col)
    }

    fn is_flow(&self, node: &Node) -> bool {
        matches!(node.value, Value::Map(_) | Value::Seq(_))
            && self.text[self.start(node)..].starts_with(['{', '['])
    }

    /// Just after the last character of a value: a closing quote or bracket, the last word of
    /// a plain or block scalar; never the comments or blank lines after it.
    fn value_end(&self, node: &Node) -> usize {
        match &node.value {
            Value::Map(entries) if !self.is_flow(node) => entries
                .last()
                .map_or(self.start(node), |(k, v)| self.entry_end(k, v)),
            Value::Seq(items) if !self.is_flow(node) => {
                items.last().map_or(self.start(node), |v| self.value_end(v))
            }
            // A flow collection's end is its closing bracket.
            Value::Map(_) | Value::Seq(_) => self.offset(node.end.line, node.end.col),
            _ => self.scalar_end(node, false),
        }
    }

    /// The end of a mapping entry's value. A block scalar (`|`, `>`) shows after the colon;
    /// an empty value ends at the colon.
    fn entry_end(&self, key: &yaml::Key, value: &Node) -> usize {
        if matches!(value.value, Value::Map(_) | Value::Seq(_)) {
            return self.value_end(value);
        }
        if self.nothing_after(key, value) {
            return self
                .after_colon(key)
                .unwrap_or_else(|_| self.key_start(key));
        }
        let block = self.after_colon(key).is_ok_and(|c| {
            self.text[c..]
                .trim_start_matches([' ', '\t'])
                .starts_with(['|', '>'])
        });
        self.scalar_end(value, block)
    }

    /// Whether the value is empty (`key:` with nothing but a comment after it on its line).
    fn nothing_after(&self, key: &yaml::Key, value: &Node) -> bool {
        value.value == Value::Null
            && self.after_colon(key).is_ok_and(|c| {
                let rest = self.text[c..self.line_content_end(self.line_of(c))].trim_start();
                rest.is_empty() || rest.starts_with('#')
            })
    }

    /// The parser's span of a quoted scalar can run on over a comment after it, and a block
    /// scalar's runs on to the next token: a quoted scalar ends at its closing quote, a plain
    /// one before any comment, and both plain and block ones before trailing blank space.
    fn scalar_end(&self, node: &Node, block: bool) -> usize {
        let start = self.start(node);
        let span_end = self.offset(node.end.line, node.end.col).max(start);
        let mut end = span_end;
        if !block {
            if let Some(len) = quoted_len(&self.text[start..]) {
                return start + len;
            }
            let plain = &self.text[start..span_end];
            end = start
                + [" #", "\t#", "\n#"]
                    .iter()
                    .filter_map(|p| plain.find(p))
                    .min()
                    .unwrap_or(plain.len());
        }
        self.text[..end]
            .trim_end_matches([' ', '\t', '\r', '\n'])
            .len()
            .max(start)
    }

    /// The line holding the character before `end`.
    fn line_before(&self, end: usize) -> u32 {
        self.line_of(end.saturating_sub(1))
    }

    fn unusual(&self, line: u32, what: &str) -> EditError {
        EditError::new(
            line,
            format!("{what}: a layout too unusual to edit safely; edit the file by hand"),
        )
    }

    /// The offset of the `-` that starts a block list item.
    fn dash(&self, item: &Node) -> Result<usize, EditError> {
        let start = self.start(item);
        let before = self.text[..start].trim_end_matches([' ', '\r', '\n']);
        let dash = before.len().checked_sub(1);
        let ok = dash.is_some_and(|d| {
            before.ends_with('-')
                && self.text[self.line_start(self.line_of(d))..d]
                    .bytes()
                    .all(|b| b == b' ')
        });
        match dash {
            Some(d) if ok => Ok(d),
            _ => Err(self.unusual(item.pos.line, "this list item")),
        }
    }

    fn key_start(&self, key: &yaml::Key) -> usize {
        self.offset(key.pos.line, key.pos.col)
    }

    /// The offset just after the `:` that follows a key.
    fn after_colon(&self, key: &yaml::Key) -> Result<usize, EditError> {
        let end = self.offset(key.pos.line, key.pos.col + key.pos.len);
        let rest = &self.text[end..];
        let spaces = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        if rest[spaces..].starts_with(':') {
            Ok(end + spaces + 1)
        } else {
            Err(self.unusual(key.pos.line, &format!("key `{}`", key.name)))
        }
    }

    /// Appends a grant to the list, in the style of the items already there.
    fn append_item(&self, fields: &[(&str, Field)]) -> Result<Vec<Splice>, EditError> {
        if self.is_flow(&self.grants) {
            let item = render_flow_item(fields)?;
            return Ok(vec![match self.items.last() {
                Some(last) => {
                    let at = self.value_end(last);
                    (at..at, format!(", {item}"))
                }
                None => {
                    let at = self.start(&self.grants) + 1;
                    (at..at, item)
                }
            }]);
        }
        let (Some(first), Some(last)) = (self.items.first(), self.items.last()) else {
            return Err(self.unusual(self.grants.pos.line, "an empty `grants` list"));
        };
        let dash = self.dash(first)?;
        let line_start = self.line_start(self.line_of(dash));
        let dash_indent = " ".repeat(self.text[line_start..dash].chars().count());
        let first_start = self.start(first);
        let gap = if self.line_of(first_start) == self.line_of(dash) {
            " ".repeat(self.text[dash + 1..first_start].chars().count())
        } else {
            " ".to_owned()
        };
        let lines = if self.is_flow(last) {
            vec![format!("{dash_indent}-{gap}{}", render_flow_item(fields)?)]
        } else {
            let key_indent = " ".repeat(dash_indent.len() + 1 + gap.len());
            render_block_item(fields, &dash_indent, &gap, &key_indent, Style::Block)?
        };
        let at = self.line_content_end(self.line_before(self.value_end(last)));
        let mut text = String::new();
        for line in lines {
            text.push_str(self.eol);
            text.push_str(&line);
        }
        Ok(vec![(at..at, text)])
    }

    /// Removes one list item with its own lines (or, in a flow list, with one comma).
    fn remove_item(&self, i: usize) -> Result<Splice, EditError> {
        let item = &self.items[i];
        if self.is_flow(&self.grants) {
            if !self.is_flow(item) {
                return Err(self.unusual(item.pos.line, "this list item"));
            }
            let range = match (i.checked_sub(1), self.items.get(i + 1)) {
                (_, Some(next)) => {
                    self.gap_without_comment(self.value_end(item), self.start(next))?;
                    self.start(item)..self.start(next)
                }
                (Some(prev), None) => {
                    let prev_end = self.value_end(&self.items[prev]);
                    self.gap_without_comment(prev_end, self.start(item))?;
                    prev_end..self.value_end(item)
                }
                (None, None) => return Err(self.unusual(item.pos.line, "the only grant")),
            };
            return Ok((range, String::new()));
        }
        let dash = self.dash(item)?;
        let first = self.line_of(dash);
        let last = self.line_before(self.value_end(item));
        Ok((self.whole_lines(first, last), String::new()))
    }

    /// Lines `first..=last` with their terminator; at the end of a file without a final
    /// newline, the terminator before them instead, so the file keeps its last-line style.
    fn whole_lines(&self, first: u32, last: u32) -> Range<usize> {
        let start = self.line_start(first);
        let end = self.line_end(last);
        if end == self.line_content_end(last) && start > 0 {
            let prev_end = self.line_content_end(first - 1);
            return prev_end..end;
        }
        start..end
    }

    fn gap_without_comment(&self, from: usize, to: usize) -> Result<(), EditError> {
        if from <= to && self.text[from..to].contains('#') {
            return Err(self.unusual(self.line_of(from), "a comment here would be lost"));
        }
        Ok(())
    }

    /// Sets and deletes fields of one grant; updates `expected` to match.
    fn edit_item(
        &self,
        i: usize,
        changes: &[Change],
        expected: &mut serde_json::Value,
    ) -> Result<Vec<Splice>, EditError> {
        let item = &self.items[i];
        let entries = item.entries();
        let flow = self.is_flow(item);
        let style = if flow { Style::Flow } else { Style::Block };
        let removed: Vec<&str> = changes
            .iter()
            .filter(|c| c.value.is_none())
            .map(|c| c.key)
            .filter(|k| {
                // `emergency: false` says the same as no `emergency`.
                let current = item.get(k).map(|n| &n.value);
                current.is_some() && current != Some(&Value::Bool(false))
            })
            .collect();
        let mut splices = Vec::new();
        let mut inserts: Vec<(usize, Vec<(&str, String)>)> = Vec::new();
        for change in changes {
            let position = entries.iter().position(|(k, _)| k.name == change.key);
            match (&change.value, position) {
                (Some(value), Some(j)) => {
                    let node = &entries[j].1;
                    if node.value == value.value() {
                        continue;
                    }
                    let key = &entries[j].0;
                    let from = self.after_colon(key)?;
                    let to = if self.nothing_after(key, node) {
                        from
                    } else if matches!(node.value, Value::Map(_) | Value::Seq(_)) {
                        return Err(self.unusual(node.pos.line, &format!("`{}`", change.key)));
                    } else {
                        self.gap_without_comment(from, self.start(node))?;
                        self.entry_end(key, node)
                    };
                    splices.push((from..to, format!(" {}", value.render(change.key, style)?)));
                    expected[change.key] = value.json();
                }
                (Some(value), None) => {
                    let anchor = entries
                        .iter()
                        .enumerate()
                        .filter(|(_, (k, _))| {
                            rank(self.order, &k.name) < rank(self.order, change.key)
                                && !removed.contains(&k.name.as_str())
                        })
                        .max_by_key(|(_, (k, _))| rank(self.order, &k.name))
                        .map(|(j, _)| j)
                        .ok_or_else(|| self.unusual(item.pos.line, "this grant"))?;
                    let text = value.render(change.key, style)?;
                    match inserts.iter_mut().find(|(a, _)| *a == anchor) {
                        Some((_, list)) => list.push((change.key, text)),
                        None => inserts.push((anchor, vec![(change.key, text)])),
                    }
                    expected[change.key] = value.json();
                }
                (None, Some(j)) if removed.contains(&change.key) => {
                    splices.push(self.remove_entry(item, j, flow)?);
                    if let Some(map) = expected.as_object_mut() {
                        map.remove(change.key);
                    }
                }
                (None, _) => {}
            }
        }
        for (anchor, fields) in inserts {
            let (key, value) = &entries[anchor];
            let end = self.entry_end(key, value);
            let splice = if flow {
                let at = end;
                let text: String = fields.iter().map(|(k, v)| format!(", {k}: {v}")).collect();
                (at..at, text)
            } else {
                let at = self.line_content_end(self.line_before(end));
                let indent = " ".repeat(item.pos.col.saturating_sub(1) as usize);
                let text: String = fields
                    .iter()
                    .map(|(k, v)| format!("{}{indent}{k}: {v}", self.eol))
                    .collect();
                (at..at, text)
            };
            splices.push(splice);
        }
        Ok(splices)
    }

    /// Deletes entry `j` of a grant: its own lines in a block mapping, or the entry and one
    /// comma in a flow mapping.
    fn remove_entry(&self, item: &Node, j: usize, flow: bool) -> Result<Splice, EditError> {
        let entries = item.entries();
        let (key, value) = &entries[j];
        let start = self.key_start(key);
        let next = entries.get(j + 1).map(|(k, _)| self.key_start(k));
        let line_start = self.line_start(key.pos.line);
        let own_line = self.text[line_start..start].bytes().all(|b| b == b' ');
        let end = self.entry_end(key, value);
        let range = match (flow, next) {
            (false, _) if own_line => self.whole_lines(key.pos.line, self.line_before(end)),
            (_, Some(next)) => {
                self.gap_without_comment(end, next)?;
                start..next
            }
            (true, None) if j > 0 => {
                let (prev_key, prev_value) = &entries[j - 1];
                let prev_end = self.entry_end(prev_key, prev_value);
                self.gap_without_comment(prev_end, start)?;
                prev_end..end
            }
            _ => return Err(self.unusual(key.pos.line, &format!("`{}`", key.name))),
        };
        Ok((range, String::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(role: &str, justification: &str, expires: &str) -> NewGrant {
        NewGrant {
            role: role.into(),
            justification: justification.into(),
            expires: Some(expires.into()),
            ticket: None,
            emergency: false,
        }
    }

    #[test]
    fn scalars_are_plain_only_when_unambiguous() {
        let cases = [
            ("Runs the weekly payment run", "Runs the weekly payment run"),
            ("yes", "\"yes\""),
            ("No", "\"No\""),
            ("12", "\"12\""),
            ("-5 days", "\"-5 days\""),
            ("1e3", "\"1e3\""),
            ("a: b", "\"a: b\""),
            ("see #12", "\"see #12\""),
            ("#12", "\"#12\""),
            ("- item", "\"- item\""),
            ("*star", "\"*star\""),
            ("&anchor", "\"&anchor\""),
            ("!tag", "\"!tag\""),
            ("trailing ", "\"trailing \""),
            ("say \"hi\"", "say \"hi\""),
            ("\"quoted\"", "\"\\\"quoted\\\"\""),
            ("back\\slash", "back\\slash"),
            ("two\nlines", "\"two\\nlines\""),
            ("", "\"\""),
            ("EUR 250,000", "EUR 250,000"),
            ("café ☕", "café ☕"),
        ];
        for (text, written) in cases {
            assert_eq!(
                scalar(text, Style::Block, "t").unwrap(),
                written,
                "{text:?}"
            );
        }
        assert_eq!(
            scalar("EUR 250,000", Style::Flow, "t").unwrap(),
            "\"EUR 250,000\""
        );
        for bad in [
            "a\u{202e}b",
            "zero\u{200b}width",
            "bell\u{7}",
            "tab\there",
            "cr\r",
        ] {
            assert!(scalar(bad, Style::Block, "t").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_new_file_looks_like_the_example_organisation() {
        let mut g = grant(
            "create-payment",
            "Runs the EMEA supplier payment run every Friday",
            "2026-12-31",
        );
        g.ticket = Some("FIN-1042".into());
        let (text, how) = upsert_grant(None, "alice", "payments", &g).unwrap();
        assert_eq!(how, Upsert::Created);
        assert_eq!(
            text,
            "# yaml-language-server: $schema=../../schemas/grant.schema.json\n\
             person: alice\n\
             app: payments\n\
             grants:\n  \
             - role: create-payment\n    \
             justification: Runs the EMEA supplier payment run every Friday\n    \
             expires: 2026-12-31\n    \
             ticket: FIN-1042\n"
        );
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        let g = grant("viewer", "Weekly dashboards for the review", "2026-13-01");
        assert!(
            upsert_grant(None, "alice", "payments", &g)
                .unwrap_err()
                .message
                .contains("expires")
        );
        let g = grant("Viewer", "Weekly dashboards for the review", "2026-12-01");
        assert!(
            upsert_grant(None, "alice", "payments", &g)
                .unwrap_err()
                .message
                .contains("role id")
        );
        let g = grant("viewer", "Weekly \u{202e}dashboards", "2026-12-01");
        let e = upsert_grant(None, "alice", "payments", &g).unwrap_err();
        assert!(e.message.contains("bidirectional"), "{e}");
        let e = upsert_grant(
            Some("person: bob\napp: payments\ngrants:\n  - role: viewer\n"),
            "alice",
            "payments",
            &grant("viewer", "x", "2026-12-01"),
        )
        .unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.to_string().starts_with("line 1: "), "{e}");
        let e = remove_grants("person: a\napp: b\ngrants:\r  - role: x\n", &["x"]).unwrap_err();
        assert!(e.message.contains("carriage return"), "{e}");
    }
}
