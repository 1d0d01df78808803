//! Turns the YAML parser's complaint into what a person who has never written YAML can act on.
//!
//! The parser reports where it noticed a problem, in its own terms ("mapping values are not
//! allowed in this context"), and often a line late. The common slips are few: a tab, a line
//! indented differently from its neighbours, a `: ` inside a value, a quote left open, a
//! missing colon, a value starting with a character YAML reserves. Each is recognised from the
//! text around the parser's position and named with the line to change and how; anything else
//! keeps the parser's words.

use super::yaml::{Pos, YamlError};

const GENERIC_HINT: &str = "check the indentation and quoting around this point";

/// The error to report for the parser's `message` at `at` in `text`.
pub fn explain(text: &str, message: &str, at: Pos) -> YamlError {
    let lines: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches('\r')).collect();
    if let Some(e) = structural_tab(&lines, at.line) {
        return e;
    }
    let line_no = at.line.max(1) as usize;
    let line = lines.get(line_no - 1).copied().unwrap_or("");
    let lower = message.to_ascii_lowercase();
    if lower.contains("quoted scalar") {
        return unclosed_quote(&lines, at);
    }
    if (lower.contains("expect ':'") || lower.contains("expected ':'"))
        && let Some(e) = missing_colon(&lines, line_no)
    {
        return e;
    }
    if let Some(c) = lower
        .strip_prefix("unexpected character: `")
        .and_then(|r| r.chars().next())
    {
        return reserved_start(line_no, at, c);
    }
    if lower.contains("mapping values are not allowed")
        && let Some(e) = colon_in_value(line, at)
    {
        return e;
    }
    if (lower.contains("mapping values are not allowed")
        || lower.contains("did not find expected key")
        || lower.contains("did not find expected '-' indicator")
        || lower.contains("block sequence entries are not allowed")
        || lower.contains("invalid indentation"))
        && let Some(e) = misindented(&lines, line_no)
    {
        return e;
    }
    YamlError {
        pos: at,
        message: format!("invalid YAML: {message}"),
        hint: GENERIC_HINT.into(),
    }
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_content(line: &str) -> bool {
    let t = line.trim_start();
    !t.is_empty() && !t.starts_with('#')
}

/// The column (0-based) where the line's key starts, past any `- ` item markers, and the key.
fn key_of(line: &str) -> Option<(usize, &str)> {
    let mut rest = line.trim_start_matches(' ');
    while let Some(r) = rest.strip_prefix("- ") {
        rest = r.trim_start_matches(' ');
    }
    let col = line.len() - rest.len();
    let (key, _) = rest.split_once(':')?;
    let ok = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
    ok.then_some((col, key))
}

fn pos(line: usize, col0: usize, len: usize) -> Pos {
    Pos {
        line: line as u32,
        col: col0 as u32 + 1,
        len: len.max(1) as u32,
    }
}

/// A tab where YAML wants spaces: in the indentation, or between a key's colon (or an item's
/// dash) and its value. The parser notices the first one a line late, or as a whitespace
/// problem; the tab itself is what to change. Only tabs up to the line after the parser's
/// position count, so a tab inside valid text further down is not blamed.
fn structural_tab(lines: &[&str], upto: u32) -> Option<YamlError> {
    for (i, line) in lines.iter().enumerate().take(upto as usize + 1) {
        if !line.contains('\t') || !is_content(&line.replace('\t', " ")) {
            continue;
        }
        let lead = line.len() - line.trim_start_matches([' ', '\t']).len();
        if let Some(col) = line[..lead].find('\t') {
            return Some(YamlError {
                pos: pos(i + 1, col, 1),
                message: format!(
                    "line {} is indented with a tab; YAML indents with spaces only",
                    i + 1
                ),
                hint: "replace the tab with spaces, lining the line up with its neighbours".into(),
            });
        }
        let body = &line[lead..];
        if let Some(rest) = body.strip_prefix('-')
            && rest.starts_with('\t')
        {
            return Some(YamlError {
                pos: pos(i + 1, lead + 1, 1),
                message: format!(
                    "a tab follows the `-` on line {}; YAML wants a space there",
                    i + 1
                ),
                hint: "replace the tab after `-` with a space".into(),
            });
        }
        if let Some((col, key)) = key_of(&line.replace('\t', " ")) {
            let after = col + key.len() + 1;
            if line.as_bytes().get(after) == Some(&b'\t') {
                return Some(YamlError {
                    pos: pos(i + 1, after, 1),
                    message: format!(
                        "a tab follows `{key}:` on line {}; YAML wants a space after the colon",
                        i + 1
                    ),
                    hint: "replace the tab with a space".into(),
                });
            }
        }
    }
    None
}

fn unclosed_quote(lines: &[&str], at: Pos) -> YamlError {
    let line = lines
        .get(at.line.max(1) as usize - 1)
        .copied()
        .unwrap_or("");
    let quote = line
        .chars()
        .nth(at.col.saturating_sub(1) as usize)
        .filter(|c| matches!(c, '"' | '\''))
        .unwrap_or('"');
    YamlError {
        pos: at,
        message: format!("the value quoted on line {} is never closed", at.line),
        hint: format!("end the value with a matching `{quote}` on the same line"),
    }
}

/// The parser reports a missing colon on the line after the one that lacks it.
fn missing_colon(lines: &[&str], reported: usize) -> Option<YamlError> {
    let (i, line) = lines[..reported.saturating_sub(1).min(lines.len())]
        .iter()
        .enumerate()
        .rev()
        .find(|(_, l)| is_content(l))?;
    if line.contains(':') {
        return None;
    }
    let start = indent(line);
    let word = line.trim();
    Some(YamlError {
        pos: pos(i + 1, start, word.chars().count()),
        message: format!(
            "line {} has no `:`; each line of a mapping is `key: value`",
            i + 1
        ),
        hint: format!(
            "write `{}: ...`, or join the line to the value above it",
            word.split_whitespace().next().unwrap_or(word)
        ),
    })
}

fn reserved_start(line_no: usize, at: Pos, c: char) -> YamlError {
    YamlError {
        pos: at,
        message: format!("a value cannot start with `{c}` in YAML (line {line_no})"),
        hint: "put the whole value in double quotes: `\"...\"`".into(),
    }
}

/// `justification: Note: needed for X`: the second `: ` reads as a key inside a value.
fn colon_in_value(line: &str, at: Pos) -> Option<YamlError> {
    let (col, key) = key_of(line)?;
    let value_start = col + key.len() + 1;
    // The parser points at the second colon, past the start of the value.
    let at_byte = line
        .char_indices()
        .nth(at.col.saturating_sub(1) as usize)
        .map_or(line.len(), |(b, _)| b);
    if at_byte <= value_start {
        return None;
    }
    let value = line[value_start..].trim();
    Some(YamlError {
        pos: at,
        message: format!(
            "the value of `{key}` contains `: `, which YAML reads as the start of another key"
        ),
        hint: format!(
            "put the value in double quotes: `{key}: \"{}\"`",
            value.replace('"', "\\\"")
        ),
    })
}

/// A line whose indentation lines up with nothing above it.
fn misindented(lines: &[&str], line_no: usize) -> Option<YamlError> {
    let line = *lines.get(line_no - 1)?;
    if !is_content(line) {
        return None;
    }
    let own = indent(line);
    let item = line.trim_start().starts_with("- ");
    let above = lines[..line_no - 1]
        .iter()
        .enumerate()
        .rev()
        .find(|(_, l)| is_content(l))?;
    let (above_no, above_line) = (above.0 + 1, *above.1);
    // A list item lines up with the item before it; a key with the key above it.
    let (want, what) = if item {
        let prev_item = lines[..line_no - 1]
            .iter()
            .rev()
            .find(|l| l.trim_start().starts_with("- "))
            .map(|l| indent(l));
        (
            prev_item.unwrap_or(indent(above_line)),
            "the list item above it".to_owned(),
        )
    } else {
        match key_of(above_line) {
            Some((col, key)) => (col, format!("`{key}:` on line {above_no}")),
            None => (indent(above_line), format!("line {above_no}")),
        }
    };
    let name = key_of(line).map_or_else(|| format!("line {line_no}"), |(_, k)| format!("`{k}:`"));
    let spaces = |n: usize| {
        if n == 1 {
            "1 space".to_owned()
        } else {
            format!("{n} spaces")
        }
    };
    if want == own {
        return None;
    }
    Some(YamlError {
        pos: pos(line_no, own, line.trim().chars().count()),
        message: format!(
            "{name} on line {line_no} is indented by {}, which lines up with nothing above it",
            spaces(own)
        ),
        hint: format!(
            "indent it by {} to line it up with {what}, or fix the lines above if they are the ones out of line",
            spaces(want)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::super::yaml::parse;

    fn error(text: &str) -> (u32, u32, String, String) {
        let e = parse(text.as_bytes()).expect_err("invalid YAML");
        (e.pos.line, e.pos.col, e.message, e.hint)
    }

    const GRANT: &str = "person: aisha\napp: vpn\ngrants:\n  - role: staff\n    justification: Needs the VPN for on-call work\n    expires: 2027-02-12\n    ticket: IT-1\n";

    fn edited(line: usize, f: impl Fn(&str) -> String) -> String {
        GRANT
            .split_inclusive('\n')
            .enumerate()
            .map(|(i, l)| if i + 1 == line { f(l) } else { l.to_owned() })
            .collect()
    }

    #[test]
    fn a_tab_in_the_indentation_is_named_where_it_is() {
        let (line, col, message, hint) = error(&edited(6, |l| l.replacen("    ", "\t", 1)));
        assert_eq!((line, col), (6, 1));
        assert!(
            message.contains("line 6 is indented with a tab"),
            "{message}"
        );
        assert!(hint.contains("spaces"), "{hint}");
    }

    #[test]
    fn a_tab_after_a_colon_is_named_as_such() {
        let (line, col, message, _) = error(&edited(6, |l| l.replace("expires: ", "expires:\t")));
        assert_eq!((line, col), (6, 13));
        assert!(message.contains("a tab follows `expires:`"), "{message}");
    }

    #[test]
    fn an_over_and_under_indented_key_say_how_far_to_move() {
        let (line, _, message, hint) = error(&edited(7, |l| l.replacen("    ", "      ", 1)));
        assert_eq!(line, 7);
        assert!(
            message.contains("`ticket:` on line 7 is indented by 6 spaces"),
            "{message}"
        );
        assert!(
            hint.contains("indent it by 4 spaces to line it up with `expires:` on line 6"),
            "{hint}"
        );
        let (line, _, message, hint) = error(&edited(7, |l| l.replacen("    ", "  ", 1)));
        assert_eq!(line, 7);
        assert!(message.contains("indented by 2 spaces"), "{message}");
        assert!(hint.contains("by 4 spaces"), "{hint}");
    }

    #[test]
    fn a_misplaced_list_item_lines_up_with_the_item_before() {
        let text = format!(
            "{GRANT}    - role: admin\n      justification: Needs admin for the migration\n"
        );
        let (line, _, message, hint) = error(&text);
        assert_eq!(line, 8);
        assert!(message.contains("indented by 4 spaces"), "{message}");
        assert!(
            hint.contains("by 2 spaces to line it up with the list item above it"),
            "{hint}"
        );
    }

    #[test]
    fn a_colon_inside_a_value_suggests_quotes() {
        let (line, _, message, hint) = error(&edited(5, |_| {
            "    justification: Note: on-call needs it\n".into()
        }));
        assert_eq!(line, 5);
        assert!(
            message.contains("the value of `justification` contains `: `"),
            "{message}"
        );
        assert_eq!(
            hint,
            "put the value in double quotes: `justification: \"Note: on-call needs it\"`"
        );
    }

    #[test]
    fn an_open_quote_a_missing_colon_and_a_reserved_start() {
        let (_, _, message, hint) =
            error(&edited(5, |_| "    justification: \"on-call work\n".into()));
        assert!(message.contains("never closed"), "{message}");
        assert!(hint.contains('"'), "{hint}");
        let (line, _, message, hint) = error(&edited(7, |_| "    ticket\n".into()));
        assert_eq!(line, 7);
        assert!(message.contains("line 7 has no `:`"), "{message}");
        assert!(hint.contains("`ticket: ...`"), "{hint}");
        let (_, _, message, hint) = error(&edited(5, |_| {
            "    justification: @ops asked for it\n".into()
        }));
        assert!(message.contains("cannot start with `@`"), "{message}");
        assert!(hint.contains("double quotes"), "{hint}");
    }

    #[test]
    fn a_tab_inside_valid_text_further_down_is_not_blamed() {
        let text = "a: [1,\nb: 2\nc: \"x\ty\"\n";
        let (line, _, message, _) = error(text);
        assert!(line <= 2, "{line}");
        assert!(!message.contains("tab"), "{message}");
    }
}
