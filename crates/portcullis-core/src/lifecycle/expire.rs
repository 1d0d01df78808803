//! `expire`: the grants that must go, why, the files that revoke them, and the revocation
//! pull request's body. Also the request pull requests idle past `request_ttl`.
//!
//! What must go is read from `check`'s own findings: `expired`, `leaver-has-access`, and
//! `beyond-end-date` once the person's end date has passed. A `beyond-end-date` finding before
//! the end date is a wrong expiry to fix, not access to revoke, and is left alone.

use crate::model::Login;
use crate::model::{AppId, PersonId, RoleId};
use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::{Edits, md};
use crate::diag::{Report, Rule};
use crate::edit::{self, EditError};
use crate::model::Catalog;
use crate::model::time::end_of_day;
use crate::ports::github::Comment;
use crate::snapshot::Snapshot;

/// The branch of the one revocation pull request.
pub const BRANCH: &str = "portcullis/expire";
/// Hidden marker at the top of the revocation PR's body.
pub const MARKER: &str = "<!-- portcullis:expire -->";
/// Hidden marker of the comment that closes a stale request.
pub const STALE_MARKER: &str = "<!-- portcullis:stale-request -->";

/// Why a grant is revoked.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// It ran out: `at the end of 2026-11-20` or `at 2026-11-21T18:00:00+00:00`.
    Expired(String),
    /// The person's status is `leaver`.
    Leaver,
    /// The person's `end_date` has passed and the grant outlived it.
    PastEndDate(NaiveDate),
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Expired(when) => write!(f, "expired {when}"),
            Reason::Leaver => f.write_str("the person has left (status `leaver`)"),
            Reason::PastEndDate(d) => write!(f, "the person's end date {d} has passed"),
        }
    }
}

/// One grant to remove.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Removal {
    pub path: String,
    pub person: PersonId,
    pub app: AppId,
    pub role: RoleId,
    pub reasons: Vec<Reason>,
}

/// The grants to remove, from `check`'s findings over the catalog (sorted by file and role).
pub fn find(catalog: &Catalog, report: &Report, as_of: DateTime<Utc>) -> Vec<Removal> {
    let mut found: BTreeMap<(String, RoleId), Removal> = BTreeMap::new();
    let files = super::files_by_path(catalog);
    for d in &report.diagnostics {
        let (Some(person), Some(app), Some(role)) = (&d.person, &d.app, &d.role) else {
            continue;
        };
        let reason = match d.rule {
            Rule::Expired => {
                let grant = files
                    .get(d.file.as_str())
                    .and_then(|f| f.grants.iter().find(|g| &g.role.value == role));
                let when = match grant.and_then(|g| g.expires.as_ref()).map(|e| e.value) {
                    Some(crate::model::Expiry::Date(day)) => format!("at the end of {day}"),
                    Some(crate::model::Expiry::At(t)) => format!("at {}", t.to_rfc3339()),
                    None => continue,
                };
                Reason::Expired(when)
            }
            Rule::LeaverHasAccess => Reason::Leaver,
            Rule::BeyondEndDate => match catalog.people.get(person).and_then(|p| p.end_date) {
                Some(end) if end_of_day(end) <= as_of => Reason::PastEndDate(end),
                _ => continue,
            },
            _ => continue,
        };
        let removal = found
            .entry((d.file.clone(), role.clone()))
            .or_insert_with(|| Removal {
                path: d.file.clone(),
                person: person.clone(),
                app: app.clone(),
                role: role.clone(),
                reasons: Vec::new(),
            });
        if !removal.reasons.contains(&reason) {
            removal.reasons.push(reason);
            removal.reasons.sort();
        }
    }
    found.into_values().collect()
}

/// The edits that remove the grants: each file keeps its comments and other grants, and is
/// deleted when no grant is left.
pub fn revoke(snapshot: &Snapshot, removals: &[Removal]) -> Result<Edits, (String, EditError)> {
    let mut by_file: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in removals {
        by_file.entry(&r.path).or_default().push(&r.role);
    }
    let mut edits = Edits::new();
    for (path, roles) in by_file {
        let text = snapshot.text(path).ok_or_else(|| {
            (
                path.to_owned(),
                EditError {
                    line: 0,
                    message: "not a readable UTF-8 file".into(),
                },
            )
        })?;
        let out = edit::remove_grants(text, &roles).map_err(|e| (path.to_owned(), e))?;
        edits.insert(path.to_owned(), out);
    }
    Ok(edits)
}

/// The app owners to ask for review: every owner of every app a removal touches.
pub fn owners(catalog: &Catalog, removals: &[Removal]) -> Vec<String> {
    let mut out: Vec<String> = removals
        .iter()
        .filter_map(|r| catalog.apps.get(&r.app))
        .flat_map(|a| a.owners.iter().cloned())
        .collect();
    out.sort();
    out.dedup();
    out
}

pub fn title(removals: &[Removal]) -> String {
    let people: std::collections::BTreeSet<&str> =
        removals.iter().map(|r| r.person.as_str()).collect();
    format!(
        "Revoke {} grant{} of {} {} (expired, leavers, past end date)",
        removals.len(),
        if removals.len() == 1 { "" } else { "s" },
        people.len(),
        if people.len() == 1 {
            "person"
        } else {
            "people"
        }
    )
}

/// The revocation PR's body: each removal with its reason, and what to do to keep one.
pub fn body(catalog: &Catalog, removals: &[Removal], as_of: DateTime<Utc>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{MARKER}");
    let _ = writeln!(out, "### Revocation: {}\n", title(removals));
    let _ = writeln!(
        out,
        "`portcullis expire` found these grants as of {}. Merging this pull request revokes them; `apply` already treats expired grants as absent.\n",
        as_of.format("%Y-%m-%d %H:%M UTC")
    );
    let _ = writeln!(out, "| person | grant | file | why |");
    let _ = writeln!(out, "|---|---|---|---|");
    for r in removals {
        let name = catalog
            .people
            .get(&r.person)
            .map(|p| format!(" ({})", md(&p.name)))
            .unwrap_or_default();
        // Reasons are made of ids, dates and our own words: nothing to escape.
        let why: Vec<String> = r.reasons.iter().map(Reason::to_string).collect();
        let _ = writeln!(
            out,
            "| `{}`{name} | `{}:{}` | `{}` | {} |",
            r.person,
            r.app,
            r.role,
            r.path,
            why.join("; ")
        );
    }
    let _ = writeln!(
        out,
        "\n**To keep a grant**, renew it with a new request (`portcullis request --app APP --role ROLE --person ID --for 30d ...`). Once the renewal is merged, the next run drops the grant from this pull request.\n"
    );
    let _ = writeln!(
        out,
        "This pull request only removes grants: one owner of each app (CODEOWNERS) approves it. It is rebuilt on the default branch on every run; there is never more than one."
    );
    out
}

/// One line per removal: the file, the grant and why.
impl std::fmt::Display for Removal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let why: Vec<String> = self.reasons.iter().map(ToString::to_string).collect();
        write!(
            f,
            "{}: `{}:{}` of `{}`: {}",
            self.path,
            self.app,
            self.role,
            self.person,
            why.join("; ")
        )
    }
}

/// The removals for scripts (`expire --format json`), with the pull request's address.
pub fn to_json(removals: &[Removal], url: Option<&str>) -> serde_json::Value {
    let list: Vec<serde_json::Value> = removals
        .iter()
        .map(|r| {
            serde_json::json!({
                "file": r.path, "person": r.person, "app": r.app, "role": r.role,
                "reasons": r.reasons.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({ "removals": list, "pull_request": url })
}

/// An open request pull request, as the stale check needs it.
#[derive(Clone, Debug)]
pub struct OpenRequest {
    pub number: u64,
    pub branch: String,
    pub updated_at: DateTime<Utc>,
}

/// Request pull requests (branch `access/<app>/<person>/<role>`) with no activity for `ttl`.
pub fn stale(requests: &[OpenRequest], ttl: Duration, as_of: DateTime<Utc>) -> Vec<u64> {
    requests
        .iter()
        .filter(|r| crate::request::is_request_branch(&r.branch) && r.updated_at + ttl <= as_of)
        .map(|r| r.number)
        .collect()
}

/// The comment a stale request is closed with.
pub fn stale_comment(ttl: Duration) -> String {
    format!(
        "{STALE_MARKER}\nThis access request has had no activity for {} (`request_ttl` in `policies/settings.yaml`), so portcullis closes it. If the access is still needed, request it again (or reopen this pull request and ask its approvers).\n",
        crate::model::time::format_duration(ttl)
    )
}

/// Whether the request's last activity is portcullis's own closing comment (by `me`, among the
/// request's `comments`): nothing (a reopening, a push, a comment) came after it, so the close
/// it announced is still owed.
pub fn closing_begun(comments: &[Comment], me: Option<&str>, r: &OpenRequest) -> bool {
    let Some(me) = me else {
        return false;
    };
    // GitHub moves `updated_at` with the comment, within a moment.
    let slack = chrono::Duration::seconds(60);
    comments.iter().any(|c| {
        c.body.starts_with(STALE_MARKER)
            && c.user.as_ref().is_some_and(|u| Login::new(&u.login).is(me))
            && DateTime::parse_from_rfc3339(&c.created_at)
                .is_ok_and(|at| at.with_timezone(&Utc) + slack >= r.updated_at)
    })
}

/// `expire --close-stale`: closes the access requests nobody moved for `request_ttl`, with a
/// comment saying why, and finishes a close an earlier run began (its comment written, the
/// close not). Returns a line for each request closed.
pub fn close_stale(
    github: &dyn crate::ports::github::Proposals,
    catalog: &Catalog,
    as_of: DateTime<Utc>,
) -> anyhow::Result<Vec<String>> {
    let ttl = catalog
        .settings
        .as_ref()
        .map_or_else(|| Duration::days(30), |s| s.request_ttl);
    let open: Vec<OpenRequest> = github
        .pulls("open", None)?
        .into_iter()
        .filter_map(|p| {
            let updated = DateTime::parse_from_rfc3339(&p.updated_at).ok()?;
            Some(OpenRequest {
                number: p.number,
                branch: p.head.name,
                updated_at: updated.with_timezone(&Utc),
            })
        })
        .collect();
    let stale = stale(&open, ttl, as_of);
    let mut closed = Vec::new();
    // A run stopped between its comment and the close left a request whose last activity
    // is that comment: it is no longer idle, and would stay open for good. Finish it.
    let me = crate::approval::pull::own_login(github, catalog);
    for r in open
        .iter()
        .filter(|r| crate::request::is_request_branch(&r.branch) && !stale.contains(&r.number))
    {
        let comments = match &me {
            Some(_) => github.comments(r.number)?,
            None => Vec::new(),
        };
        if closing_begun(&comments, me.as_deref(), r) {
            github.update_pull(r.number, None, None, Some("closed"))?;
            closed.push(format!(
                "closed #{}: an earlier run had begun to close it",
                r.number
            ));
        }
    }
    for number in stale {
        super::propose::close(github, number, &stale_comment(ttl))?;
        closed.push(format!(
            "closed #{number}: no activity for {}",
            crate::model::time::format_duration(ttl)
        ));
    }
    Ok(closed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only portcullis's own closing comment, with nothing after it, means a close is owed:
    /// a writer who copies the marker into a comment of their own closes nothing.
    #[test]
    fn a_close_is_owed_only_after_our_own_unanswered_closing_comment() {
        let at = |s: &str| crate::model::time::parse_as_of(s).unwrap();
        let comment = |login: &str, when: &str| Comment {
            id: 1,
            user: Some(crate::ports::github::User {
                login: login.to_owned(),
                id: 2,
                kind: "Bot".to_owned(),
            }),
            body: format!("{STALE_MARKER}\nClosed: no activity."),
            created_at: when.to_owned(),
            updated_at: when.to_owned(),
            html_url: String::new(),
        };
        let request = OpenRequest {
            number: 7,
            branch: "access/vpn/ana/staff".to_owned(),
            updated_at: at("2026-11-20T10:00:30Z"),
        };
        let ours = [comment("portcullis[bot]", "2026-11-20T10:00:00Z")];
        assert!(closing_begun(&ours, Some("portcullis[bot]"), &request));
        assert!(
            !closing_begun(&ours, None, &request),
            "who we are is unknown"
        );
        let forged = [comment("omar-tw", "2026-11-20T10:00:00Z")];
        assert!(!closing_begun(&forged, Some("portcullis[bot]"), &request));
        let answered = OpenRequest {
            updated_at: at("2026-11-21T09:00:00Z"),
            ..request
        };
        assert!(!closing_begun(&ours, Some("portcullis[bot]"), &answered));
    }

    #[test]
    fn only_request_branches_idle_past_the_ttl_are_stale() {
        let at = |s: &str| crate::model::time::parse_as_of(s).unwrap();
        let open = |n, branch: &str, updated: &str| OpenRequest {
            number: n,
            branch: branch.into(),
            updated_at: at(updated),
        };
        let requests = [
            open(1, "access/payments/omar/viewer", "2026-10-01"),
            open(2, "access/payments/omar/admin", "2026-11-01"),
            open(3, "feature/docs", "2026-01-01"),
            open(4, BRANCH, "2026-01-01"),
            open(5, "access/payments/omar/viewer", "2026-10-23"),
        ];
        assert_eq!(
            stale(&requests, Duration::days(30), at("2026-11-22")),
            vec![1, 5]
        );
    }
}
