//! What `approvals` and `comment` share: a pull request read from GitHub and judged against
//! the local repository's copy of its commits, with the base branch's policies.

use std::collections::BTreeSet;

use anyhow::{Context, Result, anyhow};
use chrono::{DateTime, Utc};
use git2::Repository;

use crate::approval::{self, Directory, OverrideComment, PullFacts, ReviewState, Verdict};
use crate::github::{Client, Pull};
use crate::revision::Revision;

use super::plan::{Computed, compute_with};

/// The commit status `approvals` sets.
pub const STATUS_CONTEXT: &str = "portcullis/approvals";

pub struct Judged {
    pub pull: Pull,
    pub computed: Computed,
    pub verdict: Verdict,
    /// The merge base the change is measured from.
    pub merge_base: String,
}

/// Reads pull request `number` and judges it. `repo` must hold the PR's base and head
/// commits (the workflows fetch `refs/pull/N/head`).
pub fn judge(
    client: &Client,
    repo: &Repository,
    number: u64,
    as_of: DateTime<Utc>,
) -> Result<Judged> {
    let pull = client.pull(number)?;
    let head = &pull.head.sha;
    for (what, sha) in [("head", head), ("base", &pull.base.sha)] {
        let oid = git2::Oid::from_str(sha)
            .map_err(|_| anyhow!("GitHub gave an invalid {what} commit `{sha}`"))?;
        repo.find_commit(oid).map_err(|_| {
            anyhow!(
                "the pull request's {what} commit {sha} is not in the local repository\nhint: fetch it first: `git fetch origin +refs/pull/{number}/head:refs/remotes/pull/{number}/head {}`",
                pull.base.name
            )
        })?;
    }
    let merge_base = repo
        .merge_base(
            git2::Oid::from_str(head)?,
            git2::Oid::from_str(&pull.base.sha)?,
        )
        .context("the pull request's head and base share no history")?
        .to_string();
    let head_rev = Revision::at(repo, head)?;
    let computed = compute_with(repo, &merge_base, &pull.base.sha, &head_rev, as_of)?;

    let facts = facts(client, &pull)?;
    let dir = directory(
        client,
        &approval::teams_needed(&computed.plan, &computed.policies),
    )?;
    let verdict = approval::judge(&computed.plan, &computed.policies, &facts, &dir);
    Ok(Judged {
        pull,
        computed,
        verdict,
        merge_base,
    })
}

/// What GitHub says about a pull request that the verdict needs: author, commit authors and
/// pushers, files, reviews and override comments. An override written as a conversation
/// comment counts for the head only when written after portcullis first saw that head.
pub fn facts(client: &Client, pull: &Pull) -> Result<PullFacts> {
    let head = &pull.head.sha;
    let mut facts = PullFacts {
        number: pull.number,
        author: pull.user.login.clone(),
        head_sha: head.clone(),
        ..PullFacts::default()
    };
    for c in client.pull_commits(pull.number)? {
        for u in [c.author, c.committer].into_iter().flatten() {
            facts.committers.insert(u.login);
        }
    }
    for f in client.pull_files(pull.number)? {
        facts.files.extend(f.previous_filename);
        facts.files.push(f.filename);
    }
    for r in client.pull_reviews(pull.number)? {
        // A deleted account's review has no user and cannot count.
        let Some(user) = r.user else { continue };
        let state = ReviewState::parse(&r.state);
        if let Some(body) = &r.body
            && approval::parse_override(body).is_some()
        {
            facts.overrides.push(OverrideComment {
                id: r.id,
                login: user.login.clone(),
                bot: user.is_bot(),
                body: body.clone(),
                current: r.commit_id.as_deref() == Some(head.as_str()),
            });
        }
        facts.reviews.push(approval::Review {
            id: r.id,
            login: user.login.clone(),
            bot: user.is_bot(),
            state,
            commit: r.commit_id,
        });
    }
    let comments = client.comments(pull.number)?;
    if comments
        .iter()
        .any(|c| approval::parse_override(&c.body).is_some())
    {
        // A conversation comment is tied to no commit: it counts for the head only when it
        // was written after portcullis first saw that head (our earliest status on it, a
        // server-side time), so a push after the override needs a new one.
        let first_seen = client
            .statuses(head)?
            .into_iter()
            .filter(|s| s.context == STATUS_CONTEXT)
            .map(|s| s.created_at)
            .min();
        for c in comments {
            if approval::parse_override(&c.body).is_none() {
                continue;
            }
            let current = first_seen.as_ref().is_some_and(|seen| {
                match (parse_time(&c.created_at), parse_time(seen)) {
                    (Some(made), Some(seen)) => made > seen,
                    _ => false,
                }
            });
            facts.overrides.push(OverrideComment {
                id: c.id,
                login: c.user.login.clone(),
                bot: c.user.is_bot(),
                body: c.body,
                current,
            });
        }
    }
    Ok(facts)
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Resolves every team's members now: membership at the moment of the verdict counts.
pub fn directory(client: &Client, teams: &BTreeSet<String>) -> Result<Directory> {
    let mut dir = Directory::default();
    for team in teams {
        let Some((org, slug)) = team.trim_start_matches('@').split_once('/') else {
            continue;
        };
        let members = client
            .team_members(org, slug)
            .with_context(|| format!("cannot list the members of {team}"))?;
        dir.teams.insert(
            team.to_lowercase(),
            members
                .into_iter()
                .map(|u| u.login.to_lowercase())
                .collect(),
        );
    }
    Ok(dir)
}
