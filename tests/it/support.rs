//! Shared helpers: in-memory repositories built from the conformance-style base tree.

use portcullis::diag::{Diagnostic, Report};
use portcullis::snapshot::Snapshot;

pub fn as_of(s: &str) -> chrono::DateTime<chrono::Utc> {
    portcullis::model::time::parse_as_of(s).expect("as-of")
}

/// Runs `check` over in-memory files as of a date.
pub fn check(files: &[(&str, &str)], date: &str) -> Report {
    portcullis::check::check(&Snapshot::from_files(files.iter().copied()), as_of(date))
}

/// `(rule, file, line)` of each finding, for compact assertions.
pub fn found(report: &Report) -> Vec<(&'static str, String, u32)> {
    report
        .diagnostics
        .iter()
        .map(|d: &Diagnostic| (d.rule.id(), d.file.clone(), d.pos.line))
        .collect()
}
