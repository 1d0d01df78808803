//! The `check` pipeline as data: snapshot in, report out. Pure; the CLI supplies the snapshot,
//! the commit dates and, for `--base`, the change.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::diag::Report;
use crate::load;
use crate::model::{CODEOWNERS_FILE, Catalog};
use crate::rules::{self, Context};
use crate::snapshot::Snapshot;

/// A loaded snapshot, before the rules run.
pub struct Loaded {
    pub catalog: Catalog,
    pub report: Report,
}

pub fn load(snapshot: &Snapshot) -> Loaded {
    let (catalog, diagnostics) = load::load(snapshot);
    let report = Report {
        files: snapshot
            .files
            .keys()
            .filter(|p| p.starts_with("access/") || p.starts_with("policies/"))
            .count(),
        grants: catalog.grant_count(),
        diagnostics,
        partial: false,
    };
    Loaded { catalog, report }
}

/// Runs every rule and returns the sorted report.
pub fn finish(
    loaded: Loaded,
    snapshot: &Snapshot,
    as_of: DateTime<Utc>,
    last_touched: &HashMap<String, DateTime<Utc>>,
) -> (Catalog, Report) {
    let Loaded {
        catalog,
        mut report,
    } = loaded;
    let ctx = Context {
        as_of,
        last_touched,
        codeowners: snapshot
            .get(CODEOWNERS_FILE)
            .map(|_| snapshot.text(CODEOWNERS_FILE)),
    };
    report.diagnostics.extend(rules::check(&catalog, &ctx));
    report.sort();
    (catalog, report)
}

/// `check` without history: for tests and trees outside git.
pub fn check(snapshot: &Snapshot, as_of: DateTime<Utc>) -> Report {
    finish(load(snapshot), snapshot, as_of, &HashMap::new()).1
}
