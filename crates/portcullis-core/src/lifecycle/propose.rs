//! What `expire`, `review`, `people sync` and `import` share when they propose a change: one
//! pull request per purpose, on a fixed branch, rebuilt from the base branch's tip on every run
//! through the API (no git credentials), and updated in place rather than opened twice.

use anyhow::{Context, Result, bail};

use crate::lifecycle::{Edits, reviewers};
use crate::ports::github::{Proposals, Pull};
use crate::snapshot::{Entry, Snapshot};

/// The commit `base` points at on GitHub.
pub fn base_sha(github: &dyn Proposals, base: &str) -> Result<String> {
    match github.branch_sha(base)? {
        Some(sha) => Ok(sha),
        None => {
            bail!("the base branch `{base}` does not exist on GitHub\nhint: pass `--base-branch`")
        }
    }
}

/// The open pull request from `branch` of this repository, if any.
pub fn find_open(github: &dyn Proposals, branch: &str) -> Result<Option<Pull>> {
    let head = format!("{}:{branch}", github.owner());
    Ok(github.pulls("open", Some(&head))?.into_iter().next())
}

/// Points `branch` at `commit`, creating it or moving it (a leftover branch is reused).
pub fn push_branch(github: &dyn Proposals, branch: &str, commit: &str) -> Result<()> {
    match github.branch_sha(branch)? {
        Some(_) => github.update_branch(branch, commit, true),
        None => github.create_branch(branch, commit),
    }
}

/// Replaces the snapshot's copy of each path with its content at `base_sha` where the two
/// differ (a grant renewed or a file removed on the base branch since this checkout was
/// made), so an edit is never computed from, and never reverts to, a stale copy. Returns the
/// paths that differed.
pub fn refresh<'p>(
    github: &dyn Proposals,
    base_sha: &str,
    snapshot: &mut Snapshot,
    paths: impl IntoIterator<Item = &'p String>,
) -> Result<Vec<String>> {
    let mut changed = Vec::new();
    for path in paths {
        let remote = github
            .file(path, base_sha)
            .with_context(|| format!("cannot read `{path}` on the base branch"))?;
        let local = match snapshot.get(path) {
            Some(Entry::File(bytes)) => Some(bytes.to_vec()),
            _ => None,
        };
        if remote != local {
            match remote {
                Some(bytes) => snapshot.insert_bytes(path, &bytes),
                None => {
                    snapshot.files.remove(path);
                }
            }
            changed.push(path.clone());
        }
    }
    Ok(changed)
}

/// A change to propose.
pub struct Proposal<'a> {
    pub branch: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    /// The commit message.
    pub message: &'a str,
    pub edits: &'a Edits,
    /// App owners (`@org/team` or `@user`) asked to review.
    pub owners: &'a [String],
}

pub enum Proposed {
    Opened(Pull),
    Updated(Pull),
}

impl Proposed {
    pub fn pull(&self) -> &Pull {
        match self {
            Proposed::Opened(p) | Proposed::Updated(p) => p,
        }
    }
}

/// One commit of the edits on `base_sha`, the branch moved to it, and the pull request opened,
/// or the open one retitled and given the new body. Owners are requested as reviewers; a
/// refusal to request them is returned as a warning (CODEOWNERS asks them as well).
pub fn propose(
    github: &dyn Proposals,
    base: &str,
    base_sha: &str,
    p: &Proposal,
) -> Result<(Proposed, Option<String>)> {
    let changes: Vec<(String, Option<Vec<u8>>)> = p
        .edits
        .iter()
        .map(|(path, text)| (path.clone(), text.as_ref().map(|t| t.clone().into_bytes())))
        .collect();
    let commit = github.commit_files(base_sha, p.message, &changes)?;
    let open = find_open(github, p.branch)?;
    push_branch(github, p.branch, &commit)?;
    let proposed = match open {
        Some(pull) => {
            Proposed::Updated(github.update_pull(pull.number, Some(p.title), Some(p.body), None)?)
        }
        None => Proposed::Opened(github.create_pull(p.title, p.branch, base, p.body)?),
    };
    let warning = request_reviews(github, proposed.pull().number, p.owners);
    Ok((proposed, warning))
}

/// Asks the owners for a review. A refusal (a team without access to the repository, say)
/// is returned as a warning and does not undo the pull request.
pub fn request_reviews(github: &dyn Proposals, number: u64, owners: &[String]) -> Option<String> {
    let org = github.owner();
    let (users, teams) = reviewers(owners, &org);
    if users.is_empty() && teams.is_empty() {
        return None;
    }
    github
        .request_reviewers(number, &users, &teams)
        .err()
        .map(|e| {
            format!(
                "warning: could not request reviews from {}: {e:#}",
                owners.join(", ")
            )
        })
}

/// Comments on a pull request and closes it.
pub fn close(github: &dyn Proposals, number: u64, comment: &str) -> Result<()> {
    github.create_comment(number, comment)?;
    github.update_pull(number, None, None, Some("closed"))?;
    Ok(())
}
