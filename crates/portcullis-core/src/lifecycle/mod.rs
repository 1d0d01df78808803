//! The scheduled side of portcullis: access that leaves. Each command here produces an
//! ordinary pull request (or a reminder), so the audit trail stays in git.
//!
//! - [`expire`]: what must be revoked and why (expired, leaver, past the end date), the files
//!   edited to revoke it, the revocation PR's body; request PRs idle past `request_ttl`.
//! - [`remind`]: grants expiring within `warn_days`, grouped per owner team, with the daily
//!   marker that keeps reminders from repeating.
//! - [`review`]: the access review campaign of one app: `reviewed:` set on every grant, and a
//!   body listing each holder with when and by whom the grant was made.
//! - [`import`]: the members an app's systems hold today, written as grants (adoption).
//! - [`people`]: the HR export read and validated line by line, the directory diff (joiners,
//!   movers, leavers) and the birthright grants it implies.
//!
//! Pure: the snapshot, `as_of`, the `check` report and history come from the caller. What is
//! due is decided by the same rules `check` runs (`expired`, `leaver-has-access`,
//! `beyond-end-date`, `expiring-soon`, `review-overdue`): the findings are read, never
//! re-derived, so a command and `check` cannot disagree. Every edit goes through [`crate::edit`],
//! and [`new_errors`] runs `check` over the edited tree so no command writes a tree that
//! `check` rejects.

pub mod expire;
pub mod import;
pub mod people;
pub mod propose;
pub mod remind;
pub mod review;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::diag::Diagnostic;
use crate::snapshot::Snapshot;

/// Files to write (`Some`) or delete (`None`), by repository path.
pub type Edits = BTreeMap<String, Option<String>>;

/// The snapshot with the edits made.
pub fn edited(snapshot: &Snapshot, edits: &Edits) -> Snapshot {
    let mut out = snapshot.clone();
    for (path, content) in edits {
        match content {
            Some(text) => out.insert_bytes(path, text.as_bytes()),
            None => {
                out.files.remove(path);
            }
        }
    }
    out
}

/// The error findings `check` has on the edited tree that it did not have before: in an edited
/// file, or naming one as related. Empty when the edit is safe to propose.
pub fn new_errors(snapshot: &Snapshot, edits: &Edits, as_of: DateTime<Utc>) -> Vec<Diagnostic> {
    let after = crate::check::check(&edited(snapshot, edits), as_of);
    let touched = |d: &Diagnostic| {
        edits.contains_key(&d.file) || d.related.iter().any(|r| edits.contains_key(&r.file))
    };
    let mut found: Vec<Diagnostic> = after
        .diagnostics
        .into_iter()
        .filter(|d| d.fails() && touched(d))
        .collect();
    if found.is_empty() {
        return found;
    }
    let before = crate::check::check(snapshot, as_of);
    let key = |d: &Diagnostic| {
        (
            d.rule,
            d.file.clone(),
            d.person.clone(),
            d.app.clone(),
            d.role.clone(),
            d.message.clone(),
        )
    };
    let old: std::collections::BTreeSet<_> = before.diagnostics.iter().map(key).collect();
    found.retain(|d| !old.contains(&key(d)));
    found
}

/// The loaded grant files by path.
pub(crate) fn files_by_path(
    catalog: &crate::model::Catalog,
) -> std::collections::HashMap<&str, &crate::model::GrantFile> {
    catalog
        .grant_files
        .iter()
        .map(|f| (f.path.as_str(), f))
        .collect()
}

/// Text for a markdown table cell or list item: escaped so it cannot mention, link or
/// inject HTML.
pub(crate) fn md(text: &str) -> String {
    crate::diag::render::markdown::escape(text)
}

/// Splits app owners (`@org/team` or `@user`) into users and team slugs of `org`, as the
/// review-request API takes them. Teams of another org cannot be requested and are left out.
pub fn reviewers(owners: &[String], org: &str) -> (Vec<String>, Vec<String>) {
    let mut users = Vec::new();
    let mut teams = Vec::new();
    for owner in owners {
        let name = owner.trim_start_matches('@');
        match name.split_once('/') {
            Some((o, slug)) if o.eq_ignore_ascii_case(org) => teams.push(slug.to_owned()),
            Some(_) => {}
            None => users.push(name.to_owned()),
        }
    }
    users.sort();
    users.dedup();
    teams.sort();
    teams.dedup();
    (users, teams)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_become_users_and_team_slugs_of_the_org() {
        let owners = vec![
            "@acme/sre".to_owned(),
            "@bob-gh".to_owned(),
            "@other/team".to_owned(),
            "@acme/sre".to_owned(),
        ];
        assert_eq!(
            reviewers(&owners, "acme"),
            (vec!["bob-gh".to_owned()], vec!["sre".to_owned()])
        );
    }
}
