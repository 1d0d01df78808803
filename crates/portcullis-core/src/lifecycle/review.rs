//! `review`: an access review campaign for one app, as a pull request that sets `reviewed:`
//! on every grant of the app. Its body lists every holder, their role, when and by whom the
//! grant was made (from history, passed in) and how to revoke; the merge is the certification,
//! after which `review-overdue` no longer fires.
//!
//! Which apps are due is read from `check`'s `review-overdue` findings.

use crate::model::{AppId, PersonId, RoleId};
use crate::verify::Spot;
use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use std::fmt::Write;

use chrono::{DateTime, NaiveDate, Utc};

use super::{Edits, md};
use crate::diag::{Report, Rule};
use crate::edit::{self, EditError};
use crate::model::{App, Catalog};
use crate::plan::Op;
use crate::plan::compute::revision;
use crate::plan::insights::{FileRevision, events};
use crate::ports::Repo;
use crate::ports::github::GitHub;
use crate::snapshot::Snapshot;

pub const MARKER: &str = "<!-- portcullis:review -->";

/// The branch of the review pull request of `app`.
pub fn branch(app: &str) -> String {
    format!("portcullis/review/{app}")
}

/// Apps with at least one `review-overdue` finding, in id order.
pub fn due(report: &Report) -> Vec<AppId> {
    let mut apps: Vec<AppId> = report
        .diagnostics
        .iter()
        .filter(|d| d.rule == Rule::ReviewOverdue)
        .filter_map(|d| d.app.clone())
        .collect();
    apps.sort();
    apps.dedup();
    apps
}

/// The commit that made a grant, and its pull request when the API knows one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Granted {
    /// A short commit id.
    pub commit: String,
    pub date: DateTime<Utc>,
    /// Number and author's login of the pull request that brought the commit.
    pub pull: Option<(u64, String)>,
    /// Whether GitHub was asked (a local run without `--open-pr` does not ask).
    pub looked_up: bool,
}

/// One grant of the app under review.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub path: String,
    pub person: PersonId,
    pub role: RoleId,
    pub expires: Option<String>,
    pub reviewed: Option<NaiveDate>,
}

/// Every grant of the app, by person then role.
pub fn holders(catalog: &Catalog, app: &str) -> Vec<Holder> {
    let mut out: Vec<Holder> = catalog
        .grant_files
        .iter()
        .filter(|f| f.app.value == app)
        .flat_map(|f| {
            f.grants.iter().map(|g| Holder {
                path: f.path.clone(),
                person: f.person.value.clone(),
                role: g.role.value.clone(),
                expires: g.expires.as_ref().map(|e| e.value.to_string()),
                reviewed: g.reviewed.as_ref().map(|r| r.value),
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.person, &a.role).cmp(&(&b.person, &b.role)));
    out
}

/// `reviewed: date` on every grant of every file of the app (files already saying so are
/// left out).
pub fn certify(
    snapshot: &Snapshot,
    holders: &[Holder],
    date: NaiveDate,
) -> Result<Edits, (String, EditError)> {
    let mut edits = Edits::new();
    let files: std::collections::BTreeSet<&str> = holders.iter().map(|h| h.path.as_str()).collect();
    for path in files {
        let text = snapshot.text(path).ok_or_else(|| {
            (
                path.to_owned(),
                EditError {
                    line: 0,
                    message: "not a readable UTF-8 file".into(),
                },
            )
        })?;
        let out = edit::set_reviewed(text, date, None).map_err(|e| (path.to_owned(), e))?;
        if out != text {
            edits.insert(path.to_owned(), Some(out));
        }
    }
    Ok(edits)
}

pub fn title(app: &App, holders: &[Holder]) -> String {
    format!(
        "Access review: {} ({} grant{})",
        app.id.value,
        holders.len(),
        if holders.len() == 1 { "" } else { "s" }
    )
}

/// The campaign's body. `granted` is keyed by (file, role).
pub fn body(
    catalog: &Catalog,
    app: &App,
    holders: &[Holder],
    granted: &BTreeMap<Spot, Granted>,
    date: NaiveDate,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{MARKER}");
    let _ = writeln!(out, "### {}\n", title(app, holders));
    let every = app
        .review_every
        .map(|d| {
            format!(
                " (reviewed every {})",
                crate::model::time::format_duration(d)
            )
        })
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "Owners of `{}` ({}){every}: check that each person below still needs their access. This pull request sets `reviewed: {date}` on every grant; **merging it certifies the access that is left**.\n",
        app.id.value,
        md(&app.name)
    );
    let _ = writeln!(out, "| person | role | granted | expires | last reviewed |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for h in holders {
        let who = catalog.people.get(&h.person).map_or_else(
            || format!("`{}`", h.person),
            |p| format!("`{}` ({}, {})", h.person, md(&p.name), md(&p.department)),
        );
        let when = match granted.get(&(h.path.clone(), h.role.clone())) {
            Some(g) => {
                let by = match (&g.pull, g.looked_up) {
                    (Some((n, login)), _) => format!("#{n} by `{login}`"),
                    (None, true) => "no pull request found".to_owned(),
                    (None, false) => "pull request not looked up".to_owned(),
                };
                format!("{}, {by}, commit `{}`", g.date.format("%Y-%m-%d"), g.commit)
            }
            None => "not in history".to_owned(),
        };
        let _ = writeln!(
            out,
            "| {who} | `{}` | {when} | {} | {} |",
            h.role,
            h.expires.as_deref().unwrap_or("never"),
            h.reviewed
                .map_or_else(|| "never".to_owned(), |d| d.to_string())
        );
    }
    let _ = writeln!(
        out,
        "\n**To revoke** a grant, delete it in this pull request: on branch `{}`, remove its `- role:` item from `access/{}/<person>.yaml` (or the whole file when it is the person's last grant in this app), then approve. Grants left in place are certified by the merge.",
        branch(&app.id.value),
        app.id.value
    );
    out
}

/// For each grant, the newest commit that added it (from `head`) and, when GitHub knows one,
/// the pull request that brought that commit: attribution comes from the API, never from the
/// commit's free-text author.
pub fn granted(
    repo: &dyn Repo,
    client: Option<&dyn GitHub>,
    head: &str,
    holders: &[Holder],
) -> Result<BTreeMap<Spot, Granted>> {
    let mut out = BTreeMap::new();
    let mut pulls: BTreeMap<String, Option<(u64, String)>> = BTreeMap::new();
    let paths: BTreeSet<&str> = holders.iter().map(|h| h.path.as_str()).collect();
    for path in paths {
        let changes = repo.file_history(head, path, 50, 50_000)?;
        let ids: BTreeMap<String, String> = changes
            .iter()
            .map(|c| (c.commit.clone(), c.id.clone()))
            .collect();
        let revisions: Vec<FileRevision> = changes.into_iter().map(|c| revision(path, c)).collect();
        for h in holders.iter().filter(|h| h.path == path) {
            let Some(added) = events(&h.role, &revisions)
                .into_iter()
                .find(|e| e.op == Op::Add)
            else {
                continue;
            };
            let full = ids.get(&added.commit).cloned().unwrap_or_default();
            let (pull, looked_up) = match (client, pulls.get(&full)) {
                (_, Some(found)) => (found.clone(), true),
                (Some(client), None) => match client.commit_pulls(&full) {
                    Ok(list) => {
                        let found = list
                            .into_iter()
                            .find(|p| p.merged || p.merged_at.is_some())
                            .map(|p| (p.number, p.user.login));
                        pulls.insert(full.clone(), found.clone());
                        (found, true)
                    }
                    // An open review is the owners' to edit and is never rebuilt, so a
                    // gap in it would stay: nothing is opened, the next run tries again.
                    Err(e) => {
                        return Err(e.context(format!(
                            "cannot look up the pull request of commit {}; nothing was opened, the next run tries again",
                            crate::model::short_commit(&full)
                        )));
                    }
                },
                (None, None) => (None, false),
            };
            out.insert(
                (h.path.clone(), h.role.clone()),
                Granted {
                    commit: added.commit.clone(),
                    date: added.date,
                    pull,
                    looked_up,
                },
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certify_sets_reviewed_and_leaves_certified_files_alone() {
        let snapshot = Snapshot::from_files([
            (
                "access/crm/a.yaml",
                "person: a\napp: crm\ngrants:\n  # kept\n  - role: viewer\n    justification: Weekly pipeline reviews\n",
            ),
            (
                "access/crm/b.yaml",
                "person: b\napp: crm\ngrants:\n  - role: viewer\n    justification: Weekly pipeline reviews\n    reviewed: 2026-11-22\n",
            ),
        ]);
        let holder = |p: &str| Holder {
            path: format!("access/crm/{p}.yaml"),
            person: p.into(),
            role: "viewer".into(),
            expires: None,
            reviewed: None,
        };
        let date = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let edits = certify(&snapshot, &[holder("a"), holder("b")], date).unwrap();
        assert_eq!(edits.len(), 1);
        assert_eq!(
            edits["access/crm/a.yaml"].as_deref(),
            Some(
                "person: a\napp: crm\ngrants:\n  # kept\n  - role: viewer\n    justification: Weekly pipeline reviews\n    reviewed: 2026-11-22\n"
            )
        );
    }
}
