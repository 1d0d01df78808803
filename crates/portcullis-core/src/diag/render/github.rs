//! `--format github`: workflow commands that annotate the pull request, and a job summary.
//! Every value is escaped so that text from a grant file can never start a command of its own.

use std::fmt::Write;

use crate::diag::Report;
use crate::model::Severity;

/// Escaping for the message part of a workflow command.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escaping for a property value (`file=`, `title=`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for d in &report.diagnostics {
        let level = match (d.severity, d.pre_existing) {
            (Severity::Error, false) => "error",
            (Severity::Warning, _) => "warning",
            (Severity::Error, true) => "notice",
        };
        let title = if d.pre_existing {
            format!("portcullis {} (pre-existing)", d.rule.id())
        } else {
            format!("portcullis {}", d.rule.id())
        };
        let mut message = d.message.clone();
        if let Some(h) = &d.hint {
            let _ = write!(message, "\nhint: {h}");
        }
        let _ = writeln!(
            out,
            "::{level} file={},line={},col={},title={}::{}",
            escape_property(&d.file),
            d.pos.line,
            d.pos.col,
            escape_property(&title),
            escape_data(&message)
        );
    }
    let _ = writeln!(
        out,
        "portcullis check: {}, {}, {} pre-existing",
        super::text::counted(report.errors(), "error"),
        super::text::counted(report.warnings(), "warning"),
        report.pre_existing()
    );
    out
}

/// The job summary (`$GITHUB_STEP_SUMMARY`): the markdown report.
pub fn summary(report: &Report) -> String {
    super::markdown::render(report)
}
