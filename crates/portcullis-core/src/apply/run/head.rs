//! Which commits a run owes: the branch's head as GitHub says it is, which must descend from
//! the last applied commit, and the first-parent range between; the head's files loaded; a first
//! run refused where an earlier run's anchor shows the state was deleted.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::ops::ControlFlow::Continue;

use anyhow::{Result, anyhow};

use super::open::{Opened, refuse_with_alarm};
use super::{ApplyGitHub, EVIDENCE_CONTEXT, Options, Step, short, stop};
use crate::diag::Rule;
use crate::evidence;
use crate::ledger::STATE_REF;
use crate::model::{AppId, Catalog, CommitId};
use crate::ports::Repo;

/// The head and the range to verify.
pub(super) struct Head {
    pub sha: CommitId,
    pub applied: CommitId,
    /// First-parent commits after `applied`, oldest first.
    pub range: Vec<CommitId>,
    pub loaded: Loaded,
}

/// The policies and grants of a commit, as apply provisions them.
pub struct Loaded {
    pub catalog: Catalog,
    /// Per app, grant files present that failed to load.
    pub unreadable: BTreeMap<AppId, Vec<String>>,
}

pub(super) fn find(
    repo: &dyn Repo,
    github: &dyn ApplyGitHub,
    opts: &Options,
    opened: &Opened,
) -> Step<Head> {
    let branch = &opts.branch;
    let sha: CommitId = github
        .branch_sha(branch)?
        .ok_or_else(|| {
            anyhow!("the branch `{branch}` does not exist on GitHub\nhint: pass `--branch NAME`")
        })?
        .into();
    if !repo.has_commit(&sha) {
        return Err(anyhow!(
            "the head {sha} of `{branch}` is not in the local repository\nhint: fetch it first: `git fetch origin {branch}`"
        ));
    }
    let applied = match (&opened.state.applied, &opts.trust_from) {
        (Some(a), None) => a.clone(),
        (None, Some(rev)) => repo.resolve(rev)?.into(),
        (Some(a), Some(_)) => {
            return stop(format!(
                "`--trust-from` is for the first run only: this repository is applied up to {a}"
            ));
        }
        (None, None) => {
            return stop(
                "nothing was applied from this repository yet, so there is no commit to verify from\nhint: pick the commit whose access is known to be in place and run `portcullis apply --trust-from <commit>` once".into(),
            );
        }
    };
    let Some(range) = first_parent_range(repo, &sha, &applied)? else {
        return stop(format!(
            "the head {sha} of `{branch}` does not descend from the last applied commit {applied}: the branch's history was rewritten, and nothing is applied from it\nhint: restore the branch's history, and tell the security team"
        ));
    };
    let loaded = match load(repo, &sha)? {
        Ok(l) => l,
        Err(why) => return stop(why),
    };
    let catalog = &loaded.catalog;
    if let (Some(k), Some(named)) = (
        opened.chain.signer.as_ref(),
        catalog
            .settings
            .as_ref()
            .and_then(|s| s.evidence_public_key.as_deref()),
    ) && k.verifier().to_text() != named.trim()
    {
        return stop(format!(
            "`PORTCULLIS_SIGNING_KEY` is not the key `evidence_public_key` names in policies/settings.yaml ({named}): records signed with it could not be verified\nhint: put the secret that belongs to `{named}` in the apply environment, or change `evidence_public_key` through a pull request the security team approves"
        ));
    }
    if opened.state.applied.is_none() && !opts.dry_run {
        // A first run. If an earlier run anchored evidence on this branch, the state and the
        // notes were deleted: starting a new chain would hide that.
        let Some(me) = crate::approval::pull::own_login(github, catalog) else {
            return stop(
                "portcullis does not know its own GitHub account, so it cannot tell whether an earlier run anchored evidence here (a deleted state must not start a new chain)\nhint: set `bot_login` in policies/settings.yaml to the GitHub App's login (`<app-slug>[bot]`)".into(),
            );
        };
        if let Some(found) = earlier_anchor(repo, github, &sha, &me)? {
            return refuse_with_alarm(
                github,
                opts,
                &format!("<!-- portcullis:state deleted anchor={found} -->"),
                "The applier's state was deleted: provisioning stopped",
                &format!(
                    "Commit {found} carries portcullis's own `{EVIDENCE_CONTEXT}` status, so `apply` ran here before, yet `{STATE_REF}` is gone. Restore it and the notes ref from a trusted copy.\n"
                ),
                format!(
                    "commit {} carries portcullis's own `{EVIDENCE_CONTEXT}` status, yet there is no state: it was deleted, and a new evidence chain is not started over it\nhint: restore `{STATE_REF}` and `{}` from a trusted copy",
                    short(&found),
                    evidence::NOTES_REF
                ),
            );
        }
    }
    Ok(Continue(Head {
        sha,
        applied,
        range,
        loaded,
    }))
}

/// The first-parent commits after `applied` up to `head`, oldest first; `None` when `head`
/// does not descend from `applied` (the history was rewritten).
fn first_parent_range(
    repo: &dyn Repo,
    head: &CommitId,
    applied: &CommitId,
) -> Result<Option<Vec<CommitId>>> {
    if head != applied && repo.merge_base(head, applied).ok().as_deref() != Some(applied.as_str()) {
        return Ok(None);
    }
    let range = repo.first_parent_not_in(head, applied)?;
    Ok(Some(range.into_iter().rev().map(CommitId::from).collect()))
}

/// The newest of the last 50 first-parent commits from `head` that carries portcullis's own
/// evidence anchor.
fn earlier_anchor(
    repo: &dyn Repo,
    github: &dyn ApplyGitHub,
    head: &str,
    me: &str,
) -> Result<Option<String>> {
    let mut at = Some(head.to_owned());
    for _ in 0..50 {
        let Some(sha) = at else { break };
        let ours = github
            .statuses(&sha)?
            .iter()
            .any(|s| s.context == EVIDENCE_CONTEXT && s.is_by(me));
        if ours {
            return Ok(Some(sha));
        }
        at = repo.first_parent(&sha)?;
    }
    Ok(None)
}

/// Loads a commit with the same strict loader as `check`. Broken policies refuse the run: an
/// unreadable people directory or app policy would make every grant look revoked.
pub fn load(repo: &dyn Repo, sha: &str) -> Result<Result<Loaded, String>> {
    let snapshot = repo.governed(sha)?;
    let (catalog, diags) = crate::load::load(&snapshot);
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
            short(sha)
        );
        for f in fatal.iter().take(10) {
            let _ = write!(msg, "\n  {f}");
        }
        msg.push_str(
            "\nhint: fix them through a pull request (`portcullis check` shows every finding)",
        );
        return Ok(Err(msg));
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
