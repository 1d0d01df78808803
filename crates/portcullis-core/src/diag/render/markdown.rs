//! `--format markdown`: a table for PR comments and job summaries. Text from grant files is
//! escaped so it cannot mention people, link, inject HTML or break the table.

use std::fmt::Write;

use super::text::counted;
use crate::diag::Report;
use crate::model::Severity;

/// Makes untrusted text inert inside a markdown table cell: no HTML, no mentions, no links
/// or autolinks, no images, no emphasis tricks, no leaving the cell. Code spans stay (inert).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let s = s
        .replace("://", ":\u{2060}//")
        .replace("www.", "www\u{2060}.");
    for c in s.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '|' => out.push_str("&#124;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '@' => out.push_str("@\u{2060}"),
            '*' | '_' | '[' | ']' | '(' | ')' | '#' | '!' | '\\' | '~' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// A name as an inline code span: inert in markdown (no mention, link or HTML) and shown as
/// written; a backtick or control character becomes a space, so it cannot close the span.
pub fn code(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c == '`' || c.is_control() { ' ' } else { c })
        .collect();
    format!("`{clean}`")
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let errors = report.errors();
    let verdict = if errors > 0 { "failed" } else { "passed" };
    let _ = writeln!(out, "### portcullis check {verdict}\n");
    let _ = writeln!(
        out,
        "{}{}, {}: **{}**, {}, {} pre-existing\n",
        counted(report.files, "file"),
        if report.partial {
            " (what the change reaches)"
        } else {
            ""
        },
        counted(report.grants, "grant"),
        counted(errors, "error"),
        counted(report.warnings(), "warning"),
        report.pre_existing()
    );
    if report.diagnostics.is_empty() {
        return out;
    }
    let _ = writeln!(out, "| severity | rule | location | message |");
    let _ = writeln!(out, "|---|---|---|---|");
    for d in &report.diagnostics {
        let sev = match (d.severity, d.pre_existing) {
            (Severity::Error, false) => "error",
            (Severity::Error, true) => "error (pre-existing)",
            (Severity::Warning, _) => "warning",
        };
        let _ = writeln!(
            out,
            "| {sev} | `{}` | {}:{} | {} |",
            d.rule.id(),
            escape(&d.file),
            d.pos.line,
            escape(&d.message)
        );
    }
    out
}
