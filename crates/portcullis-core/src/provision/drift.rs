//! What `reconcile` reports: each target's drift from the applied commit (members granted and
//! missing, members present and not granted) and the targets that could not be listed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::TargetId;
use super::ops::Drift;
use crate::diag::render::text::counted;

/// The drift of every listed target, and the `(app, target, error)` of those not listed.
pub struct DriftReport<'a> {
    pub applied: &'a str,
    pub drift: &'a BTreeMap<TargetId, Drift>,
    pub failed: &'a [(String, String, String)],
    /// Targets asked for (listed or not).
    pub targets: usize,
}

#[derive(Serialize)]
struct JsonDrift<'a> {
    app: &'a str,
    target: &'a str,
    account: &'a str,
    /// `missing`: granted, not provisioned; `stray`: a member the repository does not grant.
    kind: &'static str,
    person: &'a str,
    role: &'a str,
    why: &'a str,
}

#[derive(Serialize)]
struct JsonFailure<'a> {
    app: &'a str,
    target: &'a str,
    error: &'a str,
}

/// Members missing or stray over all targets.
pub fn drifted(drift: &BTreeMap<TargetId, Drift>) -> usize {
    drift
        .values()
        .map(|d| d.missing.len() + d.stray.len())
        .sum()
}

impl DriftReport<'_> {
    /// For scripts (`reconcile --format json`).
    pub fn json(&self) -> serde_json::Value {
        let mut items = Vec::new();
        for d in self.drift.values() {
            for (kind, list) in [("missing", &d.missing), ("stray", &d.stray)] {
                for op in list {
                    items.push(JsonDrift {
                        app: &op.target.app,
                        target: &op.target.target,
                        account: &op.account,
                        kind,
                        person: &op.person,
                        role: &op.role,
                        why: &op.why,
                    });
                }
            }
        }
        let failed: Vec<JsonFailure<'_>> = self
            .failed
            .iter()
            .map(|(app, target, error)| JsonFailure { app, target, error })
            .collect();
        let missing: usize = self.drift.values().map(|d| d.missing.len()).sum();
        let stray: usize = self.drift.values().map(|d| d.stray.len()).sum();
        serde_json::json!({
            "applied": self.applied,
            "drift": items,
            "failed": failed,
            "summary": {"targets": self.targets, "missing": missing, "stray": stray, "failed": self.failed.len()},
        })
    }

    /// One line per drifted member and unlisted target, then the summary.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for d in self.drift.values() {
            for (kind, list) in [("missing", &d.missing), ("stray", &d.stray)] {
                for op in list {
                    let _ = writeln!(
                        out,
                        "{kind}: `{}` in `{}`: {}",
                        op.account, op.target, op.why
                    );
                }
            }
        }
        for (app, target, e) in self.failed {
            let _ = writeln!(out, "failed: {app}/{target}: {e}");
        }
        let _ = writeln!(
            out,
            "reconcile: {} at applied commit {}: {}, {} not listed",
            counted(self.targets, "target"),
            crate::model::short_commit(self.applied),
            counted(drifted(self.drift), "drifted member"),
            counted(self.failed.len(), "target")
        );
        out
    }
}
