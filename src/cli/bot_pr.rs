//! What `expire`, `review` and `people sync` share when they propose a change: one pull request
//! per purpose, on a fixed branch, rebuilt from the base branch's tip on every run through the
//! API (no git credentials), and updated in place rather than opened twice.

use anyhow::{Context, Result, bail};

use portcullis_core::lifecycle::{Edits, reviewers};
use portcullis_core::snapshot::{Entry, Snapshot};
use portcullis_github::{Client, Pull};

/// The commit `base` points at on GitHub.
pub fn base_sha(client: &Client, base: &str) -> Result<String> {
    match client.branch_sha(base)? {
        Some(sha) => Ok(sha),
        None => {
            bail!("the base branch `{base}` does not exist on GitHub\nhint: pass `--base-branch`")
        }
    }
}

/// The open pull request from `branch` of this repository, if any.
pub fn find_open(client: &Client, branch: &str) -> Result<Option<Pull>> {
    let head = format!("{}:{branch}", client.owner());
    Ok(client.pulls("open", Some(&head))?.into_iter().next())
}

/// Points `branch` at `commit`, creating it or moving it (a leftover branch is reused).
pub fn push_branch(client: &Client, branch: &str, commit: &str) -> Result<()> {
    match client.branch_sha(branch)? {
        Some(_) => client.update_branch(branch, commit, true),
        None => client.create_branch(branch, commit),
    }
}

/// Replaces the snapshot's copy of each path with its content at `base_sha` where the two
/// differ (a grant renewed or a file removed on the base branch since this checkout was
/// made), so an edit is never computed from, and never reverts to, a stale copy. Returns the
/// paths that differed.
pub fn refresh<'p>(
    client: &Client,
    base_sha: &str,
    snapshot: &mut Snapshot,
    paths: impl IntoIterator<Item = &'p String>,
) -> Result<Vec<String>> {
    let mut changed = Vec::new();
    for path in paths {
        let remote = client
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

    /// Says what was done on stderr and prints the pull request's address on stdout, for the
    /// workflow's log and for scripts.
    pub fn report(&self, title: &str) {
        let did = match self {
            Proposed::Opened(_) => "opened",
            Proposed::Updated(_) => "updated",
        };
        eprintln!("{did} #{}: {title}", self.pull().number);
        println!("{}", self.pull().html_url);
    }
}

/// One commit of the edits on `base_sha`, the branch moved to it, and the pull request opened,
/// or the open one retitled and given the new body. Owners are requested as reviewers.
pub fn propose(client: &Client, base: &str, base_sha: &str, p: &Proposal) -> Result<Proposed> {
    let changes: Vec<(String, Option<Vec<u8>>)> = p
        .edits
        .iter()
        .map(|(path, text)| (path.clone(), text.as_ref().map(|t| t.clone().into_bytes())))
        .collect();
    let commit = client.commit_files(base_sha, p.message, &changes)?;
    let open = find_open(client, p.branch)?;
    push_branch(client, p.branch, &commit)?;
    let proposed = match open {
        Some(pull) => {
            Proposed::Updated(client.update_pull(pull.number, Some(p.title), Some(p.body), None)?)
        }
        None => Proposed::Opened(client.create_pull(p.title, p.branch, base, p.body)?),
    };
    request_reviews(client, proposed.pull().number, p.owners);
    Ok(proposed)
}

/// Asks the owners for a review. A refusal (a team without access to the repository, say)
/// is reported and does not undo the pull request: CODEOWNERS asks them as well.
pub fn request_reviews(client: &Client, number: u64, owners: &[String]) {
    let org = client.owner().to_owned();
    let (users, teams) = reviewers(owners, &org);
    if users.is_empty() && teams.is_empty() {
        return;
    }
    if let Err(e) = client.request_reviewers(number, &users, &teams) {
        eprintln!(
            "warning: could not request reviews from {}: {e:#}",
            owners.join(", ")
        );
    }
}

/// Comments on a pull request and closes it.
pub fn close(client: &Client, number: u64, comment: &str) -> Result<()> {
    client.create_comment(number, comment)?;
    client.update_pull(number, None, None, Some("closed"))?;
    Ok(())
}
