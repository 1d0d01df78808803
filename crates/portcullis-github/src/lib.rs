//! Edge: the GitHub REST API, over plain synchronous HTTP.
//!
//! One [`Client`] per repository (`GITHUB_REPOSITORY`), with a typed method per endpoint
//! portcullis uses (all under `/repos/{owner}/{repo}` unless noted):
//!
//! - pulls: `GET pulls`, `GET/PATCH pulls/{n}`, `POST pulls`, `GET pulls/{n}/commits`,
//!   `GET pulls/{n}/files`, `GET pulls/{n}/reviews`, `POST pulls/{n}/requested_reviewers`,
//!   `PUT pulls/{n}/merge`, `GET commits/{sha}/pulls`;
//! - issues and conversation comments: `GET/POST issues`, `GET/PATCH issues/{n}`,
//!   `GET/POST issues/{n}/comments`, `PATCH issues/comments/{id}`, `POST issues/{n}/labels`;
//! - commit statuses: `POST statuses/{sha}`, `GET commits/{sha}/statuses`;
//! - the pull requests of a commit: `GET commits/{sha}/pulls`;
//! - git data, so commits are made without git credentials: `GET git/ref/heads/{branch}`,
//!   `POST git/refs`, `PATCH git/refs/heads/{branch}`, `POST git/blobs`, `GET git/blobs/{sha}`,
//!   `POST git/trees`, `GET/POST git/commits`, `GET contents/{path}?ref=`;
//! - teams and users: `GET /orgs/{org}/teams/{slug}/members`,
//!   `GET/PUT/DELETE /orgs/{org}/teams/{slug}/memberships/{login}`, `GET /users/{login}`,
//!   `GET /user`.
//!
//! **Lists** are read 100 per page, following `Link: rel="next"`; a failed page fails the whole
//! call, never a silently partial list (the applier computes removals from these lists).
//!
//! **Retries** ([`RetryPolicy`]): at most 5 attempts. A rate limit (429, or 403 with
//! `x-ratelimit-remaining: 0` or a secondary-limit message) waits `retry-after` seconds or until
//! `x-ratelimit-reset`, for any method, since GitHub refused the request without performing it.
//! 5xx and connection errors are retried with exponential backoff (1 s, 2 s, 4 s, …) only for
//! GET, PUT, PATCH and DELETE: a POST that failed that way may have been performed. One call never
//! waits longer than `PORTCULLIS_GITHUB_MAX_WAIT` seconds (default 120) in all; a limit that
//! resets later fails at once, saying when it resets.
//!
//! **Errors** name the method, the path, the HTTP status and GitHub's `message`, with a `hint:`.
//! Untrusted names (branches, file paths, logins, team slugs) are percent-encoded per segment,
//! never spliced into a URL; the token is sent only to `GITHUB_API_URL`.
//!
//! Why plain HTTP rather than octocrab: its typed models reject the partial responses we care
//! about, it is async-only, and portcullis needs its own control of retries and pagination on
//! every call.

// An edge: files, clock, environment and processes are its business (see clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod http;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use base64::prelude::BASE64_STANDARD;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};
use ureq::http::Method;

pub use http::RetryPolicy;
use http::{Transport, query, segment, segments};
pub use portcullis_core::ports::github::{
    Branch, Comment, Issue, IssueEvent, Label, Pull, PullCommit, PullFile, Review, Status, TeamRef,
    User,
};

pub const DEFAULT_API_URL: &str = "https://api.github.com";

pub struct Client {
    http: Transport,
    repository: String,
    /// `/repos/{owner}/{name}`, encoded once.
    repo_path: String,
    owner: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("api_url", &self.http.api_url)
            .field("repository", &self.repository)
            .field("token", &self.http.token.as_ref().map(|_| "<set>"))
            .field("policy", &self.http.policy)
            .finish()
    }
}

/// `owner/name` from a remote's URL, as `gh` reads it: `https://host/owner/name(.git)`,
/// `git@host:owner/name(.git)` and `ssh://git@host(:port)/owner/name(.git)`, on github.com or a
/// GitHub Enterprise host.
pub fn repository_of_remote(url: &str) -> Option<String> {
    let path = if let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .or_else(|| url.strip_prefix("ssh://"))
        .or_else(|| url.strip_prefix("git://"))
    {
        rest.split_once('/')?.1
    } else {
        url.split_once('@')
            .map_or(url, |(_, r)| r)
            .split_once(':')?
            .1
    };
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let (owner, name) = path.split_once('/')?;
    (valid_repo_part(owner) && valid_repo_part(name)).then(|| format!("{owner}/{name}"))
}

impl Client {
    /// `GITHUB_API_URL` (default `https://api.github.com`), `GITHUB_TOKEN`, `GITHUB_REPOSITORY`
    /// (`owner/name`), and `PORTCULLIS_GITHUB_MAX_WAIT` for the retry policy.
    pub fn from_env() -> Result<Client> {
        let api_url = std::env::var("GITHUB_API_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        // Anonymous calls fail later with a misleading cause ("the branch does not exist" for a
        // private repository): say at once what is missing and how to get it.
        let token = std::env::var("GITHUB_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                anyhow!("`GITHUB_TOKEN` is not set: portcullis reads pull requests, reviews and teams from the GitHub API, which needs a token\nhint: with the GitHub CLI, `export GITHUB_TOKEN=$(gh auth token)`; in GitHub Actions, the workflow passes one")
            })?;
        let repository = match std::env::var("GITHUB_REPOSITORY")
            .ok()
            .filter(|r| !r.is_empty())
        {
            Some(r) => r,
            None => {
                let found = std::env::current_dir()
                    .ok()
                    .and_then(|d| git2::Repository::discover(d).ok())
                    .and_then(|repo| {
                        let remote = repo.find_remote("origin").ok()?;
                        repository_of_remote(remote.url().ok()?)
                    })
                    .ok_or_else(|| {
                        anyhow!("`GITHUB_REPOSITORY` is not set and the remote `origin` names no GitHub repository\nhint: set it to `owner/name`, as GitHub Actions does")
                    })?;
                eprintln!(
                    "note: `GITHUB_REPOSITORY` is not set: using `{found}`, from the remote `origin`"
                );
                found
            }
        };
        Ok(Client::new(&api_url, Some(&token), &repository)?
            .with_retry_policy(RetryPolicy::from_env()?))
    }

    pub fn new(api_url: &str, token: Option<&str>, repository: &str) -> Result<Client> {
        Client::build(api_url, token, repository)
    }

    fn build(api_url: &str, token: Option<&str>, repository: &str) -> Result<Client> {
        let (owner, name) = repository
            .split_once('/')
            .filter(|(o, n)| valid_repo_part(o) && valid_repo_part(n))
            .ok_or_else(|| {
                anyhow!("`GITHUB_REPOSITORY` is `{repository}`, not `owner/name`\nhint: set it to e.g. `acme/access`")
            })?;
        Ok(Client {
            http: Transport::new(api_url, token)?,
            repository: repository.to_owned(),
            repo_path: format!("/repos/{}/{}", segment(owner)?, segment(name)?),
            owner: owner.to_owned(),
        })
    }

    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Client {
        self.http.policy = policy;
        self
    }

    /// `owner/name`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    fn repo(&self, rest: &str) -> String {
        format!("{}/{rest}", self.repo_path)
    }

    /// `GET /repos/{owner}/{repo}` or a path under it, as JSON; `None` for a 404. For the
    /// settings `doctor` reads, whose shapes it checks field by field.
    pub fn repo_json(&self, rest: &str) -> Result<Option<serde_json::Value>> {
        let path = if rest.is_empty() {
            self.repo_path.clone()
        } else {
            self.repo(rest)
        };
        self.http.json_or_none(Method::GET, &path, None)
    }

    /// The rules that apply to `branch`, from every active ruleset.
    pub fn branch_rules(&self, branch: &str) -> Result<Vec<serde_json::Value>> {
        self.http
            .list(&self.repo(&format!("rules/branches/{}", segment(branch)?)))
    }

    // -- pulls --

    pub fn pull(&self, number: u64) -> Result<Pull> {
        self.http
            .json(Method::GET, &self.repo(&format!("pulls/{number}")), None)
    }

    /// Pull requests in `state` (`open`, `closed` or `all`), optionally only those from `head`
    /// (`owner:branch`).
    pub fn pulls(&self, state: &str, head: Option<&str>) -> Result<Vec<Pull>> {
        let mut path = self.repo(&format!("pulls?state={}", query(state)));
        if let Some(head) = head {
            path.push_str(&format!("&head={}", query(head)));
        }
        let mut pulls: Vec<Pull> = self.http.list(&path)?;
        // Lists carry `merged_at` but not `merged`.
        for p in &mut pulls {
            p.merged |= p.merged_at.is_some();
        }
        Ok(pulls)
    }

    /// The pull requests a commit belongs to: for a commit of the default branch, the merged
    /// pull request that brought it (its merge, squash or rebased commit).
    pub fn commit_pulls(&self, sha: &str) -> Result<Vec<Pull>> {
        let mut pulls: Vec<Pull> = self
            .http
            .list(&self.repo(&format!("commits/{}/pulls", segment(sha)?)))?;
        for p in &mut pulls {
            p.merged |= p.merged_at.is_some();
        }
        Ok(pulls)
    }

    pub fn pull_commits(&self, number: u64) -> Result<Vec<PullCommit>> {
        self.http
            .list(&self.repo(&format!("pulls/{number}/commits")))
    }

    pub fn pull_files(&self, number: u64) -> Result<Vec<PullFile>> {
        self.http.list(&self.repo(&format!("pulls/{number}/files")))
    }

    /// The issue events of a pull request (retargets among them), oldest first.
    pub fn issue_events(&self, number: u64) -> Result<Vec<IssueEvent>> {
        self.http
            .list(&self.repo(&format!("issues/{number}/events")))
    }

    pub fn pull_reviews(&self, number: u64) -> Result<Vec<Review>> {
        self.http
            .list(&self.repo(&format!("pulls/{number}/reviews")))
    }

    pub fn create_pull(&self, title: &str, head: &str, base: &str, body: &str) -> Result<Pull> {
        let body = json!({"title": title, "head": head, "base": base, "body": body});
        self.http
            .json(Method::POST, &self.repo("pulls"), Some(&body))
    }

    pub fn update_pull(
        &self,
        number: u64,
        title: Option<&str>,
        body: Option<&str>,
        state: Option<&str>,
    ) -> Result<Pull> {
        let fields = only_set(&[("title", title), ("body", body), ("state", state)]);
        self.http.json(
            Method::PATCH,
            &self.repo(&format!("pulls/{number}")),
            Some(&fields),
        )
    }

    pub fn request_reviewers(&self, number: u64, users: &[String], teams: &[String]) -> Result<()> {
        let body = json!({"reviewers": users, "team_reviewers": teams});
        self.http.call(
            Method::POST,
            &self.repo(&format!("pulls/{number}/requested_reviewers")),
            Some(&body),
            &[],
        )
    }

    /// Merges only if the head is still `sha`; returns the merge commit's sha.
    pub fn merge_pull(&self, number: u64, sha: &str) -> Result<String> {
        #[derive(Deserialize)]
        struct Merged {
            sha: String,
        }
        let body = json!({"sha": sha, "merge_method": "merge"});
        let merged: Merged = self.http.json(
            Method::PUT,
            &self.repo(&format!("pulls/{number}/merge")),
            Some(&body),
        )?;
        Ok(merged.sha)
    }

    // -- issues and comments --

    pub fn issue(&self, number: u64) -> Result<Issue> {
        self.http
            .json(Method::GET, &self.repo(&format!("issues/{number}")), None)
    }

    /// Issues in `state` carrying every one of `labels`; pull requests (which GitHub lists as
    /// issues too) are left out.
    pub fn issues(&self, state: &str, labels: &[&str]) -> Result<Vec<Issue>> {
        #[derive(Deserialize)]
        struct Item {
            #[serde(flatten)]
            issue: Issue,
            pull_request: Option<IgnoredAny>,
        }
        let mut path = self.repo(&format!("issues?state={}", query(state)));
        if !labels.is_empty() {
            let labels: Vec<String> = labels.iter().map(|l| query(l)).collect();
            path.push_str(&format!("&labels={}", labels.join(",")));
        }
        let items: Vec<Item> = self.http.list(&path)?;
        Ok(items
            .into_iter()
            .filter(|i| i.pull_request.is_none())
            .map(|i| i.issue)
            .collect())
    }

    pub fn create_issue(
        &self,
        title: &str,
        body: &str,
        labels: &[&str],
        assignees: &[String],
    ) -> Result<Issue> {
        let body = json!({"title": title, "body": body, "labels": labels, "assignees": assignees});
        self.http
            .json(Method::POST, &self.repo("issues"), Some(&body))
    }

    pub fn update_issue(
        &self,
        number: u64,
        state: Option<&str>,
        body: Option<&str>,
    ) -> Result<Issue> {
        let fields = only_set(&[("state", state), ("body", body)]);
        self.http.json(
            Method::PATCH,
            &self.repo(&format!("issues/{number}")),
            Some(&fields),
        )
    }

    /// The conversation comments of an issue or pull request, oldest first.
    pub fn comments(&self, issue_or_pull: u64) -> Result<Vec<Comment>> {
        self.http
            .list(&self.repo(&format!("issues/{issue_or_pull}/comments")))
    }

    pub fn create_comment(&self, issue_or_pull: u64, body: &str) -> Result<Comment> {
        self.http.json(
            Method::POST,
            &self.repo(&format!("issues/{issue_or_pull}/comments")),
            Some(&json!({"body": body})),
        )
    }

    pub fn update_comment(&self, comment_id: u64, body: &str) -> Result<Comment> {
        self.http.json(
            Method::PATCH,
            &self.repo(&format!("issues/comments/{comment_id}")),
            Some(&json!({"body": body})),
        )
    }

    pub fn add_labels(&self, number: u64, labels: &[&str]) -> Result<()> {
        self.http.call(
            Method::POST,
            &self.repo(&format!("issues/{number}/labels")),
            Some(&json!({"labels": labels})),
            &[],
        )
    }

    // -- statuses --

    /// Sets a commit status; `state` is `error`, `failure`, `pending` or `success`.
    pub fn create_status(
        &self,
        sha: &str,
        state: &str,
        context: &str,
        description: &str,
    ) -> Result<()> {
        // GitHub refuses descriptions over 140 characters.
        let description: String = description.chars().take(140).collect();
        let body = json!({"state": state, "context": context, "description": description});
        self.http.call(
            Method::POST,
            &self.repo(&format!("statuses/{}", segment(sha)?)),
            Some(&body),
            &[],
        )
    }

    /// Every status set on `sha`, newest first.
    pub fn statuses(&self, sha: &str) -> Result<Vec<Status>> {
        self.http
            .list(&self.repo(&format!("commits/{}/statuses", segment(sha)?)))
    }

    // -- teams and users --

    fn membership_path(org: &str, team: &str, login: &str) -> Result<String> {
        Ok(format!(
            "/orgs/{}/teams/{}/memberships/{}",
            segment(org)?,
            segment(team)?,
            segment(login)?
        ))
    }

    /// The active members of `org`'s team `team` (a slug); pending invitations are not members.
    pub fn team_members(&self, org: &str, team: &str) -> Result<Vec<User>> {
        self.http.list(&format!(
            "/orgs/{}/teams/{}/members?role=all",
            segment(org)?,
            segment(team)?
        ))
    }

    /// The logins of the team's direct members, `None` when no team has that slug. GitHub's
    /// REST listing also holds every child team's members, who keep their access through the
    /// child team whatever happens to the parent: only GraphQL tells direct members apart.
    pub fn team_direct_members(&self, org: &str, slug: &str) -> Result<Option<Vec<String>>> {
        const QUERY: &str = "query($org: String!, $slug: String!, $cursor: String) {
  organization(login: $org) {
    team(slug: $slug) {
      members(first: 100, after: $cursor, membership: IMMEDIATE) {
        pageInfo { hasNextPage endCursor }
        nodes { login }
      }
    }
  }
}";
        #[derive(Deserialize)]
        struct Data {
            organization: Option<Org>,
        }
        #[derive(Deserialize)]
        struct Org {
            team: Option<Team>,
        }
        #[derive(Deserialize)]
        struct Team {
            members: Members,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Members {
            page_info: PageInfo,
            nodes: Vec<Option<Login>>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct PageInfo {
            has_next_page: bool,
            end_cursor: Option<String>,
        }
        #[derive(Deserialize)]
        struct Login {
            login: String,
        }
        let mut logins = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..http::MAX_PAGES {
            let data: Data = self
                .http
                .graphql(QUERY, json!({"org": org, "slug": slug, "cursor": cursor}))?;
            let Some(team) = data.organization.and_then(|o| o.team) else {
                return Ok(None);
            };
            logins.extend(team.members.nodes.into_iter().flatten().map(|n| n.login));
            match team.members.page_info {
                PageInfo {
                    has_next_page: true,
                    end_cursor: Some(next),
                } => cursor = Some(next),
                PageInfo {
                    has_next_page: true,
                    end_cursor: None,
                } => anyhow::bail!(
                    "GitHub GraphQL API: the members of @{org}/{slug} go on past a page without a cursor; no partial list is used"
                ),
                _ => return Ok(Some(logins)),
            }
        }
        anyhow::bail!(
            "GitHub GraphQL API: the members of @{org}/{slug} go on past {} pages; refusing to go on",
            http::MAX_PAGES
        )
    }

    /// The team's numeric id, `None` when no team has that slug.
    pub fn team(&self, org: &str, slug: &str) -> Result<Option<u64>> {
        #[derive(Deserialize)]
        struct Team {
            id: u64,
        }
        let team: Option<Team> = self.http.json_or_none(
            Method::GET,
            &format!("/orgs/{}/teams/{}", segment(org)?, segment(slug)?),
            None,
        )?;
        Ok(team.map(|t| t.id))
    }

    /// `Some("active" | "pending")`, or `None` when `login` is not on the team.
    pub fn team_membership(&self, org: &str, team: &str, login: &str) -> Result<Option<String>> {
        let membership: Option<Membership> =
            self.http
                .json_or_none(Method::GET, &Self::membership_path(org, team, login)?, None)?;
        Ok(membership.map(|m| m.state))
    }

    /// Adds (or keeps) `login` on the team; returns the membership's state (`pending` while an
    /// invitation to the org is open).
    pub fn add_team_membership(&self, org: &str, team: &str, login: &str) -> Result<String> {
        let membership: Membership = self.http.json(
            Method::PUT,
            &Self::membership_path(org, team, login)?,
            Some(&json!({"role": "member"})),
        )?;
        Ok(membership.state)
    }

    /// Removes `login` from the team; removing a non-member succeeds, so it can be repeated.
    pub fn remove_team_membership(&self, org: &str, team: &str, login: &str) -> Result<()> {
        self.http.call(
            Method::DELETE,
            &Self::membership_path(org, team, login)?,
            None,
            &[404],
        )
    }

    /// The user the token belongs to: what portcullis itself is called on GitHub.
    pub fn me(&self) -> Result<User> {
        self.http.json(Method::GET, "/user", None)
    }

    pub fn user(&self, login: &str) -> Result<Option<User>> {
        self.http
            .json_or_none(Method::GET, &format!("/users/{}", segment(login)?), None)
    }

    // -- git data --

    /// The commit `branch` points at, or `None` when there is no such branch.
    pub fn branch_sha(&self, branch: &str) -> Result<Option<String>> {
        let reference: Option<GitRef> = self.http.json_or_none(
            Method::GET,
            &self.repo(&format!("git/ref/heads/{}", segments(branch)?)),
            None,
        )?;
        Ok(reference.map(|r| r.object.sha))
    }

    pub fn create_branch(&self, branch: &str, sha: &str) -> Result<()> {
        let body = json!({"ref": format!("refs/heads/{branch}"), "sha": sha});
        self.http
            .call(Method::POST, &self.repo("git/refs"), Some(&body), &[])
    }

    /// Moves `branch` to `sha`; without `force` only a fast-forward is accepted.
    pub fn update_branch(&self, branch: &str, sha: &str, force: bool) -> Result<()> {
        self.http.call(
            Method::PATCH,
            &self.repo(&format!("git/refs/heads/{}", segments(branch)?)),
            Some(&json!({"sha": sha, "force": force})),
            &[],
        )
    }

    /// The bytes of the file at `path` in `rev` (a branch, tag or sha), or `None` when absent.
    pub fn file(&self, path: &str, rev: &str) -> Result<Option<Vec<u8>>> {
        let api_path = self.repo(&format!("contents/{}?ref={}", segments(path)?, query(rev)));
        let Some(entry) = self
            .http
            .json_or_none::<Value>(Method::GET, &api_path, None)?
        else {
            return Ok(None);
        };
        let kind = entry.get("type").and_then(Value::as_str).unwrap_or("dir");
        if kind != "file" {
            bail!("`{path}` at `{rev}` is a {kind}, not a file");
        }
        let encoding = entry.get("encoding").and_then(Value::as_str);
        let content = entry.get("content").and_then(Value::as_str);
        match (encoding, content) {
            (Some("base64"), Some(text)) => decode_base64(text)
                .map(Some)
                .with_context(|| format!("GitHub API `GET {api_path}`: content is not base64")),
            // Files over 1 MB come without content; their blob has it.
            _ => {
                let sha = entry.get("sha").and_then(Value::as_str).ok_or_else(|| {
                    anyhow!("GitHub API `GET {api_path}`: no `sha` in the response")
                })?;
                self.blob(sha).map(Some)
            }
        }
    }

    fn blob(&self, sha: &str) -> Result<Vec<u8>> {
        #[derive(Deserialize)]
        struct Blob {
            content: String,
        }
        let path = self.repo(&format!("git/blobs/{}", segment(sha)?));
        let blob: Blob = self.http.json(Method::GET, &path, None)?;
        decode_base64(&blob.content)
            .with_context(|| format!("GitHub API `GET {path}`: content is not base64"))
    }

    /// One commit on top of `parent` that writes or (with `None`) deletes each path, made with
    /// git/blobs, git/trees (on the parent's tree) and git/commits. Returns the new commit's sha;
    /// no branch moves.
    pub fn commit_files(
        &self,
        parent: &str,
        message: &str,
        changes: &[(String, Option<Vec<u8>>)],
    ) -> Result<String> {
        #[derive(Deserialize)]
        struct Sha {
            sha: String,
        }
        #[derive(Deserialize)]
        struct Commit {
            tree: Sha,
        }
        let parent_commit: Commit = self.http.json(
            Method::GET,
            &self.repo(&format!("git/commits/{}", segment(parent)?)),
            None,
        )?;
        let mut entries = Vec::with_capacity(changes.len());
        for (path, content) in changes {
            if segments(path).is_err() {
                bail!("cannot commit `{path}`: not a valid repository path");
            }
            let sha = match content {
                Some(bytes) => {
                    let body =
                        json!({"content": BASE64_STANDARD.encode(bytes), "encoding": "base64"});
                    let blob: Sha =
                        self.http
                            .json(Method::POST, &self.repo("git/blobs"), Some(&body))?;
                    Value::String(blob.sha)
                }
                None => Value::Null,
            };
            entries.push(json!({"path": path, "mode": "100644", "type": "blob", "sha": sha}));
        }
        let tree: Sha = self.http.json(
            Method::POST,
            &self.repo("git/trees"),
            Some(&json!({"base_tree": parent_commit.tree.sha, "tree": entries})),
        )?;
        let commit: Sha = self.http.json(
            Method::POST,
            &self.repo("git/commits"),
            Some(&json!({"message": message, "tree": tree.sha, "parents": [parent]})),
        )?;
        Ok(commit.sha)
    }
}

#[derive(Deserialize)]
struct Membership {
    state: String,
}

#[derive(Deserialize)]
struct GitRef {
    object: GitObject,
}

#[derive(Deserialize)]
struct GitObject {
    sha: String,
}

/// GitHub's owner and repository names: ASCII letters, digits, `-`, `_` and `.`.
fn valid_repo_part(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// A JSON object of the fields that are set; an unset field is left as it is on GitHub.
fn only_set(fields: &[(&str, Option<&str>)]) -> Value {
    Value::Object(
        fields
            .iter()
            .filter_map(|(k, v)| v.map(|v| ((*k).to_owned(), Value::String(v.to_owned()))))
            .collect(),
    )
}

/// GitHub wraps base64 content at 60 columns.
fn decode_base64(text: &str) -> Result<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    Ok(BASE64_STANDARD.decode(compact)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_must_be_owner_slash_name() {
        for bad in ["acme", "acme/", "/access", "acme/a/b", "acme/a b", "../x"] {
            let err = Client::new("https://api.github.com", None, bad).unwrap_err();
            assert!(err.to_string().contains("not `owner/name`"), "{bad}: {err}");
        }
        let client = Client::new("https://api.github.com/", None, "acme/access.git-x").unwrap();
        assert_eq!(client.owner(), "acme");
        assert_eq!(client.repository(), "acme/access.git-x");
    }

    #[test]
    fn api_url_must_be_http() {
        let err = Client::new("ftp://example.com", None, "a/b").unwrap_err();
        assert!(err.to_string().contains("GITHUB_API_URL"), "{err}");
    }

    #[test]
    fn debug_never_shows_the_token() {
        let client = Client::new("https://api.github.com", Some("ghp_secret"), "a/b").unwrap();
        assert!(!format!("{client:?}").contains("ghp_secret"));
    }

    #[test]
    fn bots_are_recognised_by_type_or_login() {
        let user = |login: &str, kind: &str| User {
            login: login.into(),
            id: 1,
            kind: kind.into(),
        };
        assert!(user("renovate", "Bot").is_bot());
        assert!(user("portcullis[bot]", "User").is_bot());
        assert!(!user("alice-gh", "User").is_bot());
    }
}

#[cfg(test)]
mod remote_tests {
    use super::repository_of_remote;

    #[test]
    fn the_repository_is_read_from_the_remotes_gh_reads() {
        for (url, want) in [
            ("https://github.com/acme/access.git", Some("acme/access")),
            ("https://github.com/acme/access", Some("acme/access")),
            ("git@github.com:acme/access.git", Some("acme/access")),
            ("ssh://git@github.com/acme/access.git", Some("acme/access")),
            (
                "https://ghe.acme.example/acme/access.git",
                Some("acme/access"),
            ),
            ("git@ghe.acme.example:acme/access", Some("acme/access")),
            ("/srv/git/access.git", None),
            ("https://github.com/acme", None),
            ("https://github.com/ac me/access.git", None),
        ] {
            assert_eq!(repository_of_remote(url).as_deref(), want, "{url}");
        }
    }
}

/// The core reads GitHub through its port; the client answers with the REST API.
impl portcullis_core::ports::github::GitHub for Client {
    fn branch_sha(&self, branch: &str) -> Result<Option<String>> {
        Client::branch_sha(self, branch)
    }
    fn pull(&self, number: u64) -> Result<Pull> {
        Client::pull(self, number)
    }
    fn commit_pulls(&self, sha: &str) -> Result<Vec<Pull>> {
        Client::commit_pulls(self, sha)
    }
    fn pull_commits(&self, number: u64) -> Result<Vec<PullCommit>> {
        Client::pull_commits(self, number)
    }
    fn pull_reviews(&self, number: u64) -> Result<Vec<Review>> {
        Client::pull_reviews(self, number)
    }
    fn issue(&self, number: u64) -> Result<Issue> {
        Client::issue(self, number)
    }
    fn issue_events(&self, number: u64) -> Result<Vec<IssueEvent>> {
        Client::issue_events(self, number)
    }
    fn comments(&self, issue_or_pull: u64) -> Result<Vec<Comment>> {
        Client::comments(self, issue_or_pull)
    }
    fn statuses(&self, sha: &str) -> Result<Vec<Status>> {
        Client::statuses(self, sha)
    }
    fn me(&self) -> Result<User> {
        Client::me(self)
    }
    fn team(&self, org: &str, slug: &str) -> Result<Option<u64>> {
        Client::team(self, org, slug)
    }
    fn team_members(&self, org: &str, slug: &str) -> Result<Vec<User>> {
        Client::team_members(self, org, slug)
    }
}

impl portcullis_core::ports::github::Proposals for Client {
    fn owner(&self) -> String {
        Client::owner(self).to_owned()
    }
    fn create_branch(&self, branch: &str, sha: &str) -> Result<()> {
        Client::create_branch(self, branch, sha)
    }
    fn update_branch(&self, branch: &str, sha: &str, force: bool) -> Result<()> {
        Client::update_branch(self, branch, sha, force)
    }
    fn pulls(&self, state: &str, head: Option<&str>) -> Result<Vec<Pull>> {
        Client::pulls(self, state, head)
    }
    fn file(&self, path: &str, rev: &str) -> Result<Option<Vec<u8>>> {
        Client::file(self, path, rev)
    }
    fn commit_files(
        &self,
        parent: &str,
        message: &str,
        changes: &[(String, Option<Vec<u8>>)],
    ) -> Result<String> {
        Client::commit_files(self, parent, message, changes)
    }
    fn create_pull(&self, title: &str, head: &str, base: &str, body: &str) -> Result<Pull> {
        Client::create_pull(self, title, head, base, body)
    }
    fn update_pull(
        &self,
        number: u64,
        title: Option<&str>,
        body: Option<&str>,
        state: Option<&str>,
    ) -> Result<Pull> {
        Client::update_pull(self, number, title, body, state)
    }
    fn request_reviewers(&self, number: u64, users: &[String], teams: &[String]) -> Result<()> {
        Client::request_reviewers(self, number, users, teams)
    }
}

impl portcullis_core::ports::github::Comments for Client {
    fn create_comment(&self, issue_or_pull: u64, body: &str) -> Result<Comment> {
        Client::create_comment(self, issue_or_pull, body)
    }
    fn update_comment(&self, comment_id: u64, body: &str) -> Result<Comment> {
        Client::update_comment(self, comment_id, body)
    }
}

impl portcullis_core::ports::github::Alarms for Client {
    fn issues(&self, state: &str, labels: &[&str]) -> Result<Vec<Issue>> {
        Client::issues(self, state, labels)
    }
    fn create_issue(&self, title: &str, body: &str, labels: &[&str]) -> Result<Issue> {
        Client::create_issue(self, title, body, labels, &[])
    }
}

impl portcullis_core::ports::github::Statuses for Client {
    fn create_status(
        &self,
        sha: &str,
        state: &str,
        context: &str,
        description: &str,
    ) -> Result<()> {
        Client::create_status(self, sha, state, context, description)
    }
}
