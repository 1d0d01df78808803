//! Which commits `apply` owes: the branch's head as GitHub says it is, which must descend from
//! the last applied commit, and the first-parent range between; the head's files loaded; a first
//! run refused where an earlier run's anchor shows the state was deleted.

use std::ops::ControlFlow::Continue;

use anyhow::{Result, anyhow};
use git2::{Oid, Repository};

use super::open::Opened;
use super::report::refuse_with_alarm;
use super::report::short;
use super::{Args, EVIDENCE_CONTEXT, Step, stop};
use crate::cli::applier::{self, Refusal};
use portcullis_core::evidence;
use portcullis_git::ledger;
use portcullis_github::Client;

/// The head and the range to verify.
pub(super) struct Head {
    pub head_sha: String,
    pub applied: Oid,
    /// First-parent commits after `applied`, oldest first.
    pub range: Vec<Oid>,
    pub loaded: applier::Loaded,
}

pub(super) fn find(args: &Args, repo: &Repository, client: &Client, opened: &Opened) -> Step<Head> {
    let Opened {
        state,
        chain,
        early_bot,
        ..
    } = opened;
    let branch = &args.branch;
    let head_sha = client.branch_sha(branch)?.ok_or_else(|| {
        anyhow!("the branch `{branch}` does not exist on GitHub\nhint: pass `--branch NAME`")
    })?;
    let head = Oid::from_str(&head_sha)?;
    repo.find_commit(head).map_err(|_| {
        anyhow!(
            "the head {head_sha} of `{branch}` is not in the local repository\nhint: fetch it first: `git fetch origin {branch}`"
        )
    })?;
    let applied = match (&state.applied, &args.trust_from) {
        (Some(a), None) => Oid::from_str(a)?,
        (None, Some(rev)) => portcullis_git::git::commit_at(repo, rev)?.id(),
        (Some(a), Some(_)) => {
            return stop(Refusal(format!(
                "`--trust-from` is for the first run only: this repository is applied up to {a}"
            )));
        }
        (None, None) => {
            return stop(Refusal(
                "nothing was applied from this repository yet, so there is no commit to verify from\nhint: pick the commit whose access is known to be in place and run `portcullis apply --trust-from <commit>` once".into(),
            ));
        }
    };
    if !ledger::descends(repo, head, applied)? {
        return stop(Refusal(format!(
            "the head {head} of `{branch}` does not descend from the last applied commit {applied}: the branch's history was rewritten, and nothing is applied from it\nhint: restore the branch's history, and tell the security team"
        )));
    }
    let range = ledger::first_parent_range(repo, head, applied)?;
    let loaded = match applier::load_at(repo, &head_sha)? {
        Ok(l) => l,
        Err(r) => return stop(r),
    };
    let catalog = &loaded.catalog;
    if let (Some(k), Some(named)) = (
        chain.signer.as_ref(),
        catalog
            .settings
            .as_ref()
            .and_then(|s| s.evidence_public_key.as_deref()),
    ) && k.verifier().to_text() != named.trim()
    {
        return stop(Refusal(format!(
            "`PORTCULLIS_SIGNING_KEY` is not the key `evidence_public_key` names in policies/settings.yaml ({named}): records signed with it could not be verified\nhint: put the secret that belongs to `{named}` in the apply environment, or change `evidence_public_key` through a pull request the security team approves"
        )));
    }
    if state.applied.is_none() && !args.dry_run {
        // A first run. If an earlier run anchored evidence on this branch, the state and the
        // notes were deleted: starting a new chain would hide that.
        let me = portcullis_core::approval::pull::own_login(client, catalog);
        if me.is_none() {
            return stop(Refusal(
                "portcullis does not know its own GitHub account, so it cannot tell whether an earlier run anchored evidence here (a deleted state must not start a new chain)\nhint: set `bot_login` in policies/settings.yaml to the GitHub App's login (`<app-slug>[bot]`)".into(),
            ));
        }
        if let Some(found) = earlier_anchor(client, repo, head, me.as_deref())? {
            return refuse_with_alarm(
                client,
                early_bot.as_deref(),
                &format!("<!-- portcullis:state deleted anchor={found} -->"),
                "The applier's state was deleted: provisioning stopped",
                &format!(
                    "Commit {found} carries portcullis's own `{EVIDENCE_CONTEXT}` status, so `apply` ran here before, yet `{}` is gone. Restore it and the notes ref from a trusted copy.\n",
                    ledger::STATE_REF
                ),
                format!(
                    "commit {} carries portcullis's own `{EVIDENCE_CONTEXT}` status, yet there is no state: it was deleted, and a new evidence chain is not started over it\nhint: restore `{}` and `{}` from a trusted copy",
                    short(&found),
                    ledger::STATE_REF,
                    evidence::NOTES_REF
                ),
                false,
            );
        }
    }
    Ok(Continue(Head {
        head_sha,
        applied,
        range,
        loaded,
    }))
}

/// The newest of the last 50 first-parent commits from `head` that carries portcullis's own
/// evidence anchor.
fn earlier_anchor(
    client: &Client,
    repo: &git2::Repository,
    head: Oid,
    me: Option<&str>,
) -> Result<Option<String>> {
    let Some(me) = me else {
        return Ok(None);
    };
    let mut walk = repo.revwalk()?;
    walk.push(head)?;
    walk.simplify_first_parent()?;
    for id in walk.take(50) {
        let sha = id?.to_string();
        let ours = client
            .statuses(&sha)?
            .iter()
            .any(|s| s.context == EVIDENCE_CONTEXT && s.is_by(me));
        if ours {
            return Ok(Some(sha));
        }
    }
    Ok(None)
}
