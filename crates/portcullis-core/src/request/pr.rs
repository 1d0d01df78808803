//! `request --open-pr` and `request --from-issue`: the request as a pull request, made
//! through the API (a commit on a new branch; no git credentials), and the answer on the issue.

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};

use super::{Prepared, RequestArgs, RequestError, parse_issue_form, person_by_github, prepare};
use crate::diag::render::markdown::escape;
use crate::lifecycle::propose::{base_sha, find_open, push_branch};
use crate::ports::github::{Issue, Proposals, Pull};
use crate::snapshot::{Entry, Snapshot};

/// Hidden marker of our answers on an issue, so a re-run does not answer twice.
const MARKER: &str = "<!-- portcullis:request -->";

/// Pushes the prepared file as one commit on a new branch from `base` and opens the PR.
/// Refuses when the local copy of the file differs from the base branch's (the checkout is
/// behind) and when a pull request for the same request is already open.
pub fn open(
    client: &dyn Proposals,
    snapshot: &Snapshot,
    p: &Prepared,
    base: &str,
    issue: Option<u64>,
) -> Result<Pull> {
    let base_sha = base_sha(client, base)?;
    let remote = client.file(&p.path, &base_sha)?;
    let local = match snapshot.get(&p.path) {
        Some(Entry::File(bytes)) => Some(bytes.to_vec()),
        _ => None,
    };
    if remote != local {
        bail!(
            "`{}` on `{base}` differs from this checkout: the request would be made from a stale copy\nhint: update the checkout (`git pull`), then request again",
            p.path
        );
    }
    // A request from an issue names the issue in its branch, which nobody can change once the
    // pull request is open: whoever asked is excluded from approving it (SPEC section 6).
    let branch = match issue {
        Some(n) => format!("{}/issue-{n}", p.branch),
        None => p.branch.clone(),
    };
    if let Some(open) = find_open(client, &branch)? {
        bail!(
            "a pull request for this request is already open: #{} {}\nhint: ask its approvers, or close it first",
            open.number,
            open.html_url
        );
    }
    let message = format!("{}\n\n{}", p.title, "Requested with `portcullis request`.");
    let commit = client.commit_files(
        &base_sha,
        &message,
        &[(p.path.clone(), Some(p.content.clone().into_bytes()))],
    )?;
    push_branch(client, &branch, &commit)?;
    let mut body = p.body.clone();
    if let Some(n) = issue {
        body.push_str(&format!("\n\nRequested in #{n}.\n"));
    }
    client.create_pull(&p.title, &branch, base, &body)
}

/// Reads the issue form, opens the pull request, and answers on the issue either way: the
/// pull request opened, or why none was (said once, however often the label is added again).
/// Only portcullis's own answer counts as said: the App named by `bot_login` when the settings
/// name it (the workflow answers with its token), else any bot.
pub fn from_issue(
    client: &dyn Proposals,
    snapshot: &Snapshot,
    number: u64,
    base: &str,
    as_of: DateTime<Utc>,
) -> Result<Result<Pull, String>> {
    let issue = client.issue(number)?;
    let settings = snapshot.get(crate::model::SETTINGS_FILE).cloned();
    let me = crate::load::settings(settings).and_then(|s| s.bot_login);
    let answered = client.comments(number)?.iter().any(|c| {
        c.body.starts_with(MARKER) && crate::comment::is_ours(c.user.as_ref(), me.as_deref())
    });
    match request_from(client, snapshot, &issue, base, as_of) {
        Ok(pull) => {
            let text = format!(
                "Opened #{} for this request. Its approvers are listed there; the access is provisioned when it is merged.",
                pull.number
            );
            client.create_comment(number, &format!("{MARKER}\n{text}\n"))?;
            Ok(Ok(pull))
        }
        Err(reason) => {
            if !answered {
                client.create_comment(
                    number,
                    &format!(
                        "{MARKER}\nThis request could not be turned into a pull request:\n\n> {}\n\nEdit the issue to fix it, then remove and add the `access-request` label again.\n",
                        escape(&reason)
                    ),
                )?;
            }
            Ok(Err(reason))
        }
    }
}

fn request_from(
    client: &dyn Proposals,
    snapshot: &Snapshot,
    issue: &Issue,
    base: &str,
    as_of: DateTime<Utc>,
) -> Result<Pull, String> {
    let form = parse_issue_form(issue.body.as_deref().unwrap_or_default())?;
    let person = match form.person {
        Some(p) => p,
        None => {
            let loaded = crate::check::load(snapshot);
            person_by_github(&loaded.catalog, &issue.user.login)
                .map(|p| p.id.value.to_string())
                .ok_or_else(|| {
                    format!(
                        "nobody in the people directory has the GitHub login `{}`; fill in the `Person` field",
                        issue.user.login
                    )
                })?
        }
    };
    let args = RequestArgs {
        app: form.app,
        role: form.role,
        justification: form.justification,
        person,
        expires: form.expires,
        duration: form.duration,
        ticket: form.ticket,
        emergency: false,
    };
    let prepared = prepare(snapshot, &args, as_of).map_err(|e| match e {
        RequestError::Refused { message, hint } => format!("{message} ({hint})"),
        rejected => rejected.to_string(),
    })?;
    open(client, snapshot, &prepared, base, Some(issue.number)).map_err(|e| format!("{e:#}"))
}
