//! What `apply` checks about every commit that reached the default branch since the last applied
//! one, before provisioning anything (SPEC sections 6 and 7, THREATS 1 to 4): which pull request
//! brought it (from the GitHub API, never from git authors or commit messages), whether that
//! pull request's approvals hold on the head that was merged, judged with the policies of the
//! branch as it was when it merged, and whether what landed is what was approved.
//!
//! Commits that change neither grants nor the files provisioning depends on (`policies/`,
//! `schemas/`, the `command` programs) need nothing and are not looked up.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result, anyhow};
use chrono::{DateTime, Utc};

use crate::approval::pull::{Judged, judge_merged};
use crate::approval::{How, PullFacts, ReviewState};
use crate::evidence::{Approval, Override};
use crate::model::Catalog;
use crate::plan::compute::{Revs, compute_at};
use crate::plan::{self, GrantView};
use crate::ports::Repo;
use crate::ports::github::{GitHub, Pull};
use crate::provision::quarantine::full_review;

/// A grant in a file: `(file, role)`.
pub type Spot = (String, crate::model::RoleId);

/// One commit of the range and the grant changes it made itself (against its first parent).
pub struct Commit {
    pub sha: crate::model::CommitId,
    pub parent: crate::model::CommitId,
    pub changes: Vec<plan::Change>,
    /// It changed what provisioning depends on besides grants.
    pub rules_changed: bool,
}

pub enum Status {
    /// Nothing to verify: it changed no grant and no rule.
    Irrelevant,
    Verified(Box<Verified>),
    Unverified {
        reason: String,
        pr: Option<u64>,
        pr_head: Option<String>,
    },
}

pub struct Verified {
    pub pr: u64,
    pub pr_head: String,
    pub approvals: Vec<Approval>,
    pub override_: Option<Override>,
    /// Changes of this commit that the approved pull request does not cover, with why.
    pub uncovered: BTreeMap<Spot, String>,
    /// Whether the approved change of each grant carried the role's full approvals.
    pub full: BTreeMap<Spot, bool>,
    /// Emergency grants it approved (for the owners' after-the-fact review).
    pub emergency: Vec<plan::Change>,
}

pub struct Checked {
    pub commit: Commit,
    pub status: Status,
}

/// The tool itself and the workflows that run it with the apply secrets: SPEC section 7 makes
/// them rules, so an unreviewed change to them stops provisioning like a change to policies/.
pub const TOOL_PATHS: &[&str] = &[
    ".github",
    ".cargo",
    "action.yml",
    "build.rs",
    "Cargo.lock",
    "Cargo.toml",
    "crates",
    "rust-toolchain",
    "rust-toolchain.toml",
    "scripts",
    "src",
    "templates",
];

/// The paths besides `access/` whose content decides what is provisioned and how: the rules,
/// the programs `command` provisioners run, and the tool and its workflows.
pub fn rule_paths(head: &Catalog) -> Vec<String> {
    let mut paths = vec!["policies".to_owned(), "schemas".to_owned()];
    paths.extend(TOOL_PATHS.iter().map(|p| (*p).to_owned()));
    for app in head.apps.values() {
        if let crate::model::Provisioner::Command { command, .. } = &app.provisioner {
            paths.push(command.clone());
        }
    }
    paths.sort();
    paths.dedup();
    paths
}

/// The ids of `paths` in a commit: equal fingerprints, equal rules.
pub fn fingerprint(repo: &dyn Repo, commit: &str, paths: &[String]) -> Result<Vec<Option<String>>> {
    paths.iter().map(|p| repo.object_at(commit, p)).collect()
}

fn own_changes(
    repo: &dyn Repo,
    sha: &str,
    parent: &str,
    as_of: DateTime<Utc>,
) -> Result<Vec<plan::Change>> {
    if repo.object_at(sha, "access")? == repo.object_at(parent, "access")? {
        return Ok(Vec::new());
    }
    let revs = Revs {
        base: parent,
        policies: parent,
    };
    Ok(compute_at(repo, revs, sha, as_of)?.plan.changes)
}

/// Whether the rules provisioning reads at `head` (policies, schemas, command programs, the
/// tool) are the ones the last `applied` commit had, changed only by verified pull requests
/// built on them; with the commits that changed them unverified. A verified change made on
/// top of an unverified one does not launder it: the chain only moves from what is trusted.
pub fn rules_trusted(
    repo: &dyn Repo,
    applied: &str,
    head: &str,
    checked: &[Checked],
    rules: &[String],
) -> Result<(bool, Vec<crate::model::CommitId>)> {
    let mut trusted = fingerprint(repo, applied, rules)?;
    let mut unverified = Vec::new();
    for c in checked.iter().filter(|c| c.commit.rules_changed) {
        if matches!(c.status, Status::Verified(_)) {
            if fingerprint(repo, &c.commit.parent, rules)? == trusted {
                trusted = fingerprint(repo, &c.commit.sha, rules)?;
            }
        } else {
            unverified.push(c.commit.sha.clone());
        }
    }
    Ok((fingerprint(repo, head, rules)? == trusted, unverified))
}

/// Checks every commit of `range` (oldest first).
pub fn check(
    client: &dyn GitHub,
    repo: &dyn Repo,
    range: &[crate::model::CommitId],
    rules: &[String],
    branch: &str,
    as_of: DateTime<Utc>,
) -> Result<Vec<Checked>> {
    let mut commits = Vec::with_capacity(range.len());
    for id in range {
        let parent = repo.first_parent(id)?.ok_or_else(|| {
            anyhow!("commit {id} has no parent; it cannot follow an applied commit")
        })?;
        let changes = own_changes(repo, id, &parent, as_of)
            .with_context(|| format!("cannot compute the grant changes of commit {id}"))?;
        let rules_changed = fingerprint(repo, id, rules)? != fingerprint(repo, &parent, rules)?;
        commits.push(Commit {
            sha: id.clone(),
            parent: parent.into(),
            changes,
            rules_changed,
        });
    }
    let position: HashMap<&str, usize> = commits
        .iter()
        .enumerate()
        .map(|(i, c)| (c.sha.as_str(), i))
        .collect();

    // The pull request of each relevant commit: one merged by it (a merge or squash commit), or
    // one whose merge commit comes later in the range (the earlier commits of a rebase merge).
    let mut pr_of: Vec<Option<Pull>> = Vec::with_capacity(commits.len());
    for (i, c) in commits.iter().enumerate() {
        if c.changes.is_empty() && !c.rules_changed {
            pr_of.push(None);
            continue;
        }
        let pulls = client
            .commit_pulls(&c.sha)
            .with_context(|| format!("cannot look up the pull request of commit {}", c.sha))?;
        let found = pulls.into_iter().find(|p| {
            p.merged
                && p.merge_commit_sha
                    .as_deref()
                    .and_then(|m| position.get(m))
                    .is_some_and(|&at| at >= i)
        });
        pr_of.push(found);
    }

    // Judge each pull request once, on its merged head, with the policies of the branch just
    // before its first commit landed.
    let mut judged: HashMap<u64, (Judged, PullFacts)> = HashMap::new();
    for (i, pull) in pr_of.iter().enumerate() {
        let Some(pull) = pull else { continue };
        if judged.contains_key(&pull.number) {
            continue;
        }
        let base = commits[i].parent.clone();
        let j = judge_merged(client, repo, pull.clone(), &base, as_of)
            .with_context(|| format!("cannot verify pull request #{}", pull.number))?;
        judged.insert(pull.number, j);
    }

    // What each pull request's commits left in the files, grant by grant.
    let mut landed: HashMap<u64, BTreeMap<Spot, Option<GrantView>>> = HashMap::new();
    for (c, pull) in commits.iter().zip(&pr_of) {
        let Some(pull) = pull else { continue };
        let net = landed.entry(pull.number).or_default();
        for ch in &c.changes {
            net.insert((ch.file.clone(), ch.role.clone()), ch.after.clone());
        }
    }

    let mut out = Vec::with_capacity(commits.len());
    for (commit, pull) in commits.into_iter().zip(pr_of) {
        let status = if commit.changes.is_empty() && !commit.rules_changed {
            Status::Irrelevant
        } else {
            match pull {
                None => Status::Unverified {
                    reason: format!(
                        "reached `{branch}` without a pull request (a direct push, or a merge GitHub does not know of)"
                    ),
                    pr: None,
                    pr_head: None,
                },
                Some(pull) => {
                    let (j, facts) = &judged[&pull.number];
                    verdict_status(&commit, j, facts, &landed[&pull.number])
                }
            }
        };
        out.push(Checked { commit, status });
    }
    Ok(out)
}

fn verdict_status(
    commit: &Commit,
    j: &Judged,
    facts: &PullFacts,
    landed: &BTreeMap<Spot, Option<GrantView>>,
) -> Status {
    let number = j.pull.number;
    let head = j.pull.head.sha.clone();
    let v = &j.verdict;
    if !v.approved {
        let reason = match &v.refused {
            Some(r) => format!("pull request #{number} was merged although it is refused: {r}"),
            None => format!(
                "pull request #{number} was merged without its approvals on the merged head {}: {}",
                crate::model::short_commit(&head),
                v.status_description()
            ),
        };
        return Status::Unverified {
            reason,
            pr: Some(number),
            pr_head: Some(head),
        };
    }
    let approved: BTreeMap<Spot, &plan::Change> = j
        .computed
        .plan
        .changes
        .iter()
        .map(|c| ((c.file.clone(), c.role.clone()), c))
        .collect();
    let mut uncovered = BTreeMap::new();
    let mut full = BTreeMap::new();
    let mut emergency = Vec::new();
    for ch in &commit.changes {
        let spot = (ch.file.clone(), ch.role.clone());
        match approved.get(&spot) {
            None => {
                uncovered.insert(
                    spot,
                    format!("is not part of what pull request #{number} had approved"),
                );
            }
            Some(p) if landed.get(&spot) != Some(&p.after) => {
                uncovered.insert(
                    spot,
                    format!(
                        "landed differently from the head of pull request #{number} that was approved"
                    ),
                );
            }
            Some(p) => {
                full.insert(spot, full_review(&j.computed.policies, p));
                if p.emergency && p.op != plan::Op::Remove {
                    emergency.push((*p).clone());
                }
            }
        }
    }
    Status::Verified(Box::new(Verified {
        pr: number,
        pr_head: head.clone(),
        approvals: approvals(v, facts, &head),
        override_: v.override_used.as_ref().map(|(by, reason)| Override {
            by: by.to_string(),
            reason: reason.clone(),
            comment_id: facts
                .overrides
                .iter()
                .filter(|o| o.current && o.login == *by)
                .map(|o| o.id)
                .max()
                .unwrap_or(0),
        }),
        uncovered,
        full,
        emergency,
    }))
}

/// Who met which requirement, with the id of the approving review on the merged head.
fn approvals(v: &crate::approval::Verdict, facts: &PullFacts, head: &str) -> Vec<Approval> {
    let mut out: Vec<Approval> = Vec::new();
    for c in v.changes.iter().filter(|c| c.how == How::Approved) {
        for (what, by) in &c.met {
            let review = facts
                .reviews
                .iter()
                .filter(|r| {
                    r.login == *by
                        && r.state == ReviewState::Approved
                        && r.commit.as_deref() == Some(head)
                })
                .max_by_key(|r| r.id);
            let a = Approval {
                reviewer: by.to_string(),
                review_id: review.map_or(0, |r| r.id),
                as_: what.clone(),
                reviewer_id: review.map(|r| r.user_id),
            };
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}
