//! What `apply` and `reconcile --fix` share: the catalog of the revision being provisioned, the
//! backends, the evidence chain, a killed run's journal, running operations with the journal,
//! and issues found again by a hidden marker.

use portcullis_core::model::AppId;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::Result;
use chrono::Utc;
use git2::Repository;

use portcullis_core::diag::Rule;
use portcullis_core::model::Catalog;

mod backends;
mod chain;
mod issues;

pub use backends::{app_indexes, backends};
pub use chain::{Chain, execute_journaled, open_chain, recover, run_id};
pub use issues::{Issues, bot_login_at, fulfil};

/// Evidence times are when things happened: the wall clock, not `--as-of` (which only judges
/// expiry).
pub fn now() -> String {
    portcullis_core::audit::stamp(Utc::now())
}

/// A refusal: printed, and the command exits 1.
pub struct Refusal(pub String);

/// The policies and grants of a commit, as `apply` provisions them.
pub struct Loaded {
    pub catalog: Catalog,
    /// Per app, grant files present that failed to load.
    pub unreadable: BTreeMap<AppId, Vec<String>>,
}

/// Loads a commit with the same strict loader as `check`. Broken policies refuse the run: an
/// unreadable people directory or app policy would make every grant look revoked.
pub fn load_at(repo: &Repository, sha: &str) -> Result<Result<Loaded, Refusal>> {
    let snapshot = portcullis_git::history::snapshot_at(repo, sha)?;
    let (catalog, diags) = portcullis_core::load::load(&snapshot);
    let fatal: Vec<String> = diags
        .iter()
        .filter(|d| d.file.starts_with("policies/"))
        .filter(|d| {
            matches!(
                d.rule,
                Rule::YamlSyntax
                    | Rule::FileTooLarge
                    | Rule::Schema
                    | Rule::Symlink
                    | Rule::PathMismatch
            )
        })
        .map(|d| format!("{}:{}: {} ({})", d.file, d.pos.line, d.message, d.rule.id()))
        .collect();
    if catalog.settings.is_none() || !fatal.is_empty() {
        let mut msg = format!(
            "the policies at {} do not load, so nothing can be provisioned from them",
            portcullis_core::model::short_id(sha, 10)
        );
        for f in fatal.iter().take(10) {
            let _ = write!(msg, "\n  {f}");
        }
        msg.push_str(
            "\nhint: fix them through a pull request (`portcullis check` shows every finding)",
        );
        return Ok(Err(Refusal(msg)));
    }
    let loaded: BTreeSet<&str> = catalog
        .grant_files
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    let mut unreadable: BTreeMap<AppId, Vec<String>> = BTreeMap::new();
    for path in snapshot.files.keys() {
        let mut parts = path.split('/');
        if let (Some("access"), Some(app), Some(_)) = (parts.next(), parts.next(), parts.next())
            && !loaded.contains(path.as_str())
        {
            unreadable
                .entry(AppId::from(app))
                .or_default()
                .push(path.clone());
        }
    }
    Ok(Ok(Loaded {
        catalog,
        unreadable,
    }))
}
