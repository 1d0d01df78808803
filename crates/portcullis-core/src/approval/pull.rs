//! A pull request judged: what `approvals`, `comment`, `apply`'s gate and `audit` share. The
//! facts come from GitHub and the repository's copy of the commits, both read through the ports
//! ([`crate::ports::github::GitHub`], [`crate::ports::Repo`]); the rules are the base branch's.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result, anyhow};
use chrono::{DateTime, Utc};

use crate::approval::{self, Directory, OverrideComment, PullFacts, ReviewState, Verdict};
use crate::model::{Catalog, Login, PersonId};
use crate::plan::compute::{Computed, Revs, compute_at};
use crate::ports::github::{GitHub, Pull};
use crate::ports::{Paths, Repo};

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
    client: &dyn GitHub,
    repo: &dyn Repo,
    number: u64,
    as_of: DateTime<Utc>,
) -> Result<Judged> {
    let pull = client.pull(number)?;
    let head = &pull.head.sha;
    for (what, sha) in [("head", head), ("base", &pull.base.sha)] {
        if !is_commit_id(sha) {
            return Err(anyhow!("GitHub gave an invalid {what} commit `{sha}`"));
        }
        if !repo.has_commit(sha) {
            return Err(anyhow!(
                "the pull request's {what} commit {sha} is not in the local repository\nhint: fetch it first: `git fetch origin +refs/pull/{number}/head:refs/remotes/pull/{number}/head {}`",
                pull.base.name
            ));
        }
    }
    let merge_base = repo
        .merge_base(head, &pull.base.sha)
        .context("the pull request's head and base share no history")?;
    let base = pull.base.sha.clone();
    Ok(judge_against(client, repo, pull, &base, merge_base, as_of)?.0)
}

/// A merged pull request judged as `apply` judges it before provisioning: on the head commit
/// GitHub says was merged, with the policies of `base` (the first parent of the commit that
/// brought it onto the default branch: the branch as it was when it merged), never the pull
/// request's own `base.sha` and never a status. Returns the facts too: the evidence names the
/// reviews by id.
pub fn judge_merged(
    client: &dyn GitHub,
    repo: &dyn Repo,
    pull: Pull,
    base: &str,
    as_of: DateTime<Utc>,
) -> Result<(Judged, PullFacts)> {
    let head = pull.head.sha.clone();
    let number = pull.number;
    if !is_commit_id(&head) {
        return Err(anyhow!(
            "GitHub gave an invalid head commit `{head}` for #{number}"
        ));
    }
    if !repo.has_commit(&head) {
        return Err(anyhow!(
            "the merged head {head} of pull request #{number} is not in the local repository\nhint: fetch the pull requests' heads first: `git fetch origin '+refs/pull/*/head:refs/remotes/pull/*/head'`"
        ));
    }
    let merge_base = repo.merge_base(&head, base).with_context(|| {
        format!("pull request #{number}'s head and the branch share no history")
    })?;
    judge_against(client, repo, pull, base, merge_base, as_of)
}

/// The judgement both share once the commits are known to be here: the plan from `merge_base`
/// to the head with the policies of `base` (the pull request's base for `check`, the branch as
/// the pull request merged into it for `apply`), the facts GitHub gives, and the verdict.
fn judge_against(
    client: &dyn GitHub,
    repo: &dyn Repo,
    pull: Pull,
    base: &str,
    merge_base: String,
    as_of: DateTime<Utc>,
) -> Result<(Judged, PullFacts)> {
    let revs = Revs {
        base: &merge_base,
        policies: base,
    };
    let computed = compute_at(repo, revs, &pull.head.sha, as_of)?;
    let range = Range {
        hide: base,
        merge_base: &merge_base,
    };
    let facts = facts(client, repo, &pull, range, &computed.policies)?;
    let dir = directory(
        client,
        &approval::teams_needed(&computed.plan, &computed.policies),
        &computed.policies,
    )?;
    let verdict = approval::judge(&computed.plan, &computed.policies, &facts, &dir);
    Ok((
        Judged {
            pull,
            computed,
            verdict,
            merge_base,
        },
        facts,
    ))
}

/// Where a pull request's commits and paths are counted from: `hide` is the base whose commits
/// are not the pull request's (what GitHub lists), `merge_base` the tree the change is measured
/// from.
pub struct Range<'a> {
    pub hide: &'a str,
    pub merge_base: &'a str,
}

/// GitHub lists at most this many commits of a pull request.
const MAX_LISTED_COMMITS: usize = 250;

/// What GitHub says about a pull request that the verdict needs: author, commit authors and
/// pushers, reviews and override comments; the changed paths come from git. Anything that
/// makes the facts partial (a listing GitHub cut short, a commit it cannot attribute) is
/// recorded in `incomplete`, and the verdict refuses rather than judge from it.
pub fn facts(
    client: &dyn GitHub,
    repo: &dyn Repo,
    pull: &Pull,
    range: Range<'_>,
    policies: &Catalog,
) -> Result<PullFacts> {
    let head = &pull.head.sha;
    let mut facts = PullFacts {
        number: pull.number,
        author: Login::new(&pull.user.login),
        head_sha: head.clone(),
        ..PullFacts::default()
    };
    let listed = client.pull_commits(pull.number)?;
    let mut listed_shas = BTreeSet::new();
    for c in &listed {
        listed_shas.insert(c.sha.as_str());
        for (what, u) in [("author", &c.author), ("committer", &c.committer)] {
            match u {
                Some(u) => {
                    facts.committers.insert(Login::new(&u.login));
                }
                None => facts.incomplete.push(format!(
                    "commit {} has a {what} GitHub cannot link to an account, so who wrote it cannot be excluded from approving: rewrite it with an e-mail address of a GitHub account (fail closed)",
                    short(&c.sha)
                )),
            }
        }
    }
    let in_git = repo.commits_not_in(head, range.hide)?;
    let unlisted = in_git
        .iter()
        .filter(|c| !listed_shas.contains(c.as_str()))
        .count();
    if listed.len() >= MAX_LISTED_COMMITS
        || pull.commits.is_some_and(|n| n > listed.len() as u64)
        || unlisted > 0
    {
        facts.incomplete.push(format!(
            "GitHub listed {} of the pull request's {} commits (it lists at most {MAX_LISTED_COMMITS}), so their authors cannot all be excluded from approving: split the pull request or squash its commits",
            listed.len(),
            pull.commits
                .unwrap_or(0)
                .max(in_git.len() as u64)
                .max(listed.len() as u64)
        ));
    }
    facts.files = repo
        .changed_paths(range.merge_base, head, Paths::All)?
        .into_iter()
        .collect();
    if facts.files.iter().any(|f| f == crate::model::PEOPLE_FILE) {
        for (login, id) in added_to_directory(repo, range.merge_base, head)? {
            facts.excluded.insert(
                login,
                format!("is added to (or changed in) people.yaml by the pull request ({id})"),
            );
        }
    }
    if pull.user.is_bot() {
        for n in requested_in(pull) {
            let issue = client
                .issue(n)
                .with_context(|| format!("cannot read issue #{n}, which asked for this access"))?;
            facts.excluded.insert(
                Login::new(&issue.user.login),
                format!("asked for this access through issue #{n}"),
            );
        }
    }
    facts.base_changed_at = client
        .issue_events(pull.number)?
        .into_iter()
        .filter(|e| e.event == "base_ref_changed")
        .filter_map(|e| parse_time(&e.created_at))
        .max();
    for r in client.pull_reviews(pull.number)? {
        // A deleted account's review has no user and cannot count.
        let Some(user) = r.user else { continue };
        let state = ReviewState::parse(&r.state);
        if let Some(body) = &r.body
            && approval::parse_override(body).is_some()
        {
            facts.overrides.push(OverrideComment {
                id: r.id,
                login: Login::new(&user.login),
                bot: user.is_bot(),
                body: body.clone(),
                current: r.commit_id.as_deref() == Some(head.as_str()),
                authentic: Err("a review's text can be edited by any writer and GitHub's REST API does not say whether it was: write the override as a conversation comment".into()),
            });
        }
        facts.reviews.push(approval::Review {
            id: r.id,
            login: Login::new(&user.login),
            user_id: user.id,
            bot: user.is_bot(),
            state,
            commit: r.commit_id,
            submitted_at: r.submitted_at.as_deref().and_then(parse_time),
        });
    }
    let comments = client.comments(pull.number)?;
    if comments
        .iter()
        .any(|c| approval::parse_override(&c.body).is_some())
    {
        let me = own_login(client, policies);
        // A conversation comment is tied to no commit: it counts for the head only when it
        // was written after portcullis first saw that head (its own earliest status on it, a
        // server-side time). Any writer can set a status, so only ours count.
        let first_seen = match &me {
            Some(me) => client
                .statuses(head)?
                .into_iter()
                .filter(|s| s.context == STATUS_CONTEXT && s.is_by(me))
                .map(|s| s.created_at)
                .min(),
            None => None,
        };
        for c in comments {
            if approval::parse_override(&c.body).is_none() {
                continue;
            }
            // A comment from a deleted account is nobody's override.
            let Some(user) = c.user else { continue };
            let current = first_seen.as_ref().is_some_and(|seen| {
                match (parse_time(&c.created_at), parse_time(seen)) {
                    (Some(made), Some(seen)) => made > seen,
                    _ => false,
                }
            });
            let authentic = if me.is_none() {
                Err("portcullis does not know its own GitHub account, so it cannot tell its own status from a forged one: set `bot_login` in policies/settings.yaml".to_owned())
            } else if c.updated_at != c.created_at {
                Err("the comment was edited after it was written, and any writer can edit anyone's comment: post the override again as a new comment".to_owned())
            } else {
                Ok(())
            };
            facts.overrides.push(OverrideComment {
                id: c.id,
                login: Login::new(&user.login),
                bot: user.is_bot(),
                body: c.body,
                current,
                authentic,
            });
        }
    }
    Ok(facts)
}

/// portcullis's own GitHub account: `bot_login` from the base's settings, else the token's
/// user (`/user`, which installation tokens cannot call: then unknown).
pub fn own_login(client: &dyn GitHub, policies: &Catalog) -> Option<String> {
    policies
        .settings
        .as_ref()
        .and_then(|s| s.bot_login.clone())
        .or_else(|| client.me().ok().map(|u| u.login))
}

/// The issues a pull request the bot opened was asked for in: its branch
/// (`access/<app>/<person>/<role>/issue-<n>`) and the `Requested in #n.` line of its body. Both
/// only ever add exclusions.
fn requested_in(pull: &Pull) -> BTreeSet<u64> {
    let mut out = BTreeSet::new();
    if let Some(n) = pull
        .head
        .name
        .rsplit('/')
        .next()
        .and_then(|last| last.strip_prefix("issue-"))
        .and_then(|n| n.parse().ok())
    {
        out.insert(n);
    }
    for line in pull.body.as_deref().unwrap_or_default().lines() {
        if let Some(n) = line
            .trim()
            .strip_prefix("Requested in #")
            .and_then(|r| r.strip_suffix('.'))
            .and_then(|n| n.parse().ok())
        {
            out.insert(n);
        }
    }
    out
}

/// Logins (lower-case) of directory entries the head adds or changes, with the person's id:
/// they are looked up in the base directory for approvals, so they must not approve.
fn added_to_directory(repo: &dyn Repo, base: &str, head: &str) -> Result<Vec<(Login, PersonId)>> {
    let people = |rev: &str| -> Result<BTreeMap<Login, (PersonId, Option<u64>)>> {
        let mut snap = crate::snapshot::Snapshot::default();
        if let Some(e) = repo.tree(rev)?.read(crate::model::PEOPLE_FILE)? {
            snap.files.insert(crate::model::PEOPLE_FILE.to_owned(), e);
        }
        Ok(crate::load::load(&snap)
            .0
            .people
            .into_values()
            .filter_map(|p| Some((Login::new(&p.github?), (p.id.value, p.github_id))))
            .collect())
    };
    let before = people(base)?;
    Ok(people(head)?
        .into_iter()
        .filter(|(login, entry)| before.get(login) != Some(entry))
        .map(|(login, (id, _))| (login, id))
        .collect())
}

/// A full commit id as GitHub gives it: 40 (SHA-1) or 64 (SHA-256) hex digits.
fn is_commit_id(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn short(sha: &str) -> &str {
    crate::model::short_commit(sha)
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Resolves every team's members now: membership at the moment of the verdict counts. A team
/// `team_ids` pins is looked up by slug and must still have that id: a team deleted and made
/// again under the same slug is another team, and its members approve nothing.
pub fn directory(
    client: &dyn GitHub,
    teams: &BTreeSet<String>,
    policies: &Catalog,
) -> Result<Directory> {
    let mut dir = Directory::default();
    let pinned = policies.settings.as_ref().map(|s| &s.team_ids);
    for team in teams {
        let Some((org, slug)) = team.trim_start_matches('@').split_once('/') else {
            continue;
        };
        if let Some(&want) = pinned.and_then(|p| p.get(&team.to_lowercase())) {
            let found = client
                .team(org, slug)
                .with_context(|| format!("cannot look up the team {team}"))?;
            if found != Some(want) {
                dir.refused.push(format!(
                    "{team} is not the team `team_ids` pins (id {want}, now {}): it was deleted and made again, and its members approve nothing until the pin is updated",
                    found.map_or_else(|| "none".to_owned(), |id| id.to_string())
                ));
                dir.teams.insert(team.to_lowercase(), BTreeSet::new());
                continue;
            }
        }
        let members = client
            .team_members(org, slug)
            .with_context(|| format!("cannot list the members of {team}"))?;
        dir.teams.insert(
            team.to_lowercase(),
            members.into_iter().map(|u| Login::new(&u.login)).collect(),
        );
    }
    Ok(dir)
}
