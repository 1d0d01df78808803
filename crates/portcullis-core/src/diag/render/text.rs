//! `--format text`: rustc-style, with the source line and a caret under the offending value.
//! Colour is an extra, never the only signal: the severity word is always printed.

use std::fmt::Write;

use super::Sources;
use crate::diag::{Diagnostic, Report};
use crate::model::Severity;

#[derive(Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// `1 file`, `2 files`: every count a person reads is spelled for its number.
pub fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

pub fn render(report: &Report, sources: &dyn Sources, style: Style) -> String {
    let mut out = findings(&report.diagnostics, sources, style);
    let errors = report.errors();
    let warnings = report.warnings();
    let pre = report.pre_existing();
    let mut summary = format!(
        "checked {}{}, {}: {}, {}",
        counted(report.files, "file"),
        if report.partial {
            " the change reaches"
        } else {
            ""
        },
        counted(report.grants, "grant"),
        counted(errors, "error"),
        counted(warnings, "warning"),
    );
    if pre > 0 {
        let _ = write!(summary, " ({pre} pre-existing, not counted as errors)");
    }
    let status = if errors > 0 {
        style.paint("1;31", "failed")
    } else {
        style.paint("1;32", "ok")
    };
    let _ = writeln!(out, "{status}: {summary}");
    out
}

/// The findings alone, without the summary line, for commands that report them as part of
/// something else (`request`).
pub fn findings(diagnostics: &[Diagnostic], sources: &dyn Sources, style: Style) -> String {
    let mut out = String::new();
    for d in diagnostics {
        one(&mut out, d, sources, style);
    }
    out
}

fn one(out: &mut String, d: &Diagnostic, sources: &dyn Sources, style: Style) {
    let (word, code) = match (d.severity, d.pre_existing) {
        (Severity::Error, false) => ("error", "1;31"),
        (Severity::Error, true) => ("error (pre-existing)", "1;33"),
        (Severity::Warning, _) => ("warning", "1;33"),
    };
    let _ = writeln!(
        out,
        "{}: {}",
        style.paint(code, &format!("{word}[{}]", d.rule.id())),
        d.message
    );
    let gutter = d.pos.line.to_string().len();
    let pad = " ".repeat(gutter);
    let _ = writeln!(
        out,
        "{pad}{} {}:{}:{}",
        style.paint("1;34", "-->"),
        d.file,
        d.pos.line,
        d.pos.col
    );
    if let Some(line) = sources.line(&d.file, d.pos.line) {
        let bar = style.paint("1;34", "|");
        let _ = writeln!(out, "{pad} {bar}");
        let _ = writeln!(
            out,
            "{} {bar} {}",
            style.paint("1;34", &d.pos.line.to_string()),
            line.trim_end()
        );
        let caret_at: String = line
            .chars()
            .take(d.pos.col.saturating_sub(1) as usize)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let carets = "^".repeat(d.pos.len.max(1) as usize);
        let _ = writeln!(out, "{pad} {bar} {caret_at}{}", style.paint(code, &carets));
    }
    for r in &d.related {
        let _ = writeln!(out, "{pad} = related: {}:{}", r.file, r.line);
    }
    if let Some(h) = &d.hint {
        let _ = writeln!(out, "{pad} = hint: {h}");
    }
    out.push('\n');
}
