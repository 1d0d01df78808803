//! What the fake GitHub remembers, and how GitHub renders it as JSON.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

pub const HTML: &str = "https://github.test";

/// The fake's clock and id counter: every write moves time on by one second, so timestamps are
/// deterministic and ordered.
pub struct Ticker {
    pub now: DateTime<Utc>,
    next_id: u64,
}

impl Ticker {
    pub fn new() -> Ticker {
        Ticker {
            now: "2026-11-20T09:00:00Z".parse().expect("valid time"),
            next_id: 1000,
        }
    }

    pub fn stamp(&mut self) -> String {
        self.now += chrono::Duration::seconds(1);
        self.now.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    pub fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

pub struct FakeUser {
    pub login: String,
    pub id: u64,
    pub kind: &'static str,
    pub emails: Vec<String>,
}

#[derive(Default)]
pub struct People {
    pub users: BTreeMap<String, FakeUser>,
    pub tokens: HashMap<String, String>,
    pub org_members: BTreeMap<String, BTreeSet<String>>,
    /// `(org, slug)` -> members in the order they joined, with `active` or `pending`.
    pub teams: BTreeMap<(String, String), Vec<(String, String)>>,
    /// `(org, slug)` -> the team's numeric id; a team deleted and made again gets a new one.
    pub team_ids: BTreeMap<(String, String), u64>,
    /// `(org, child slug)` -> the parent team's slug.
    pub parents: BTreeMap<(String, String), String>,
}

impl People {
    /// A user by login, case-insensitively as on GitHub.
    pub fn find(&self, login: &str) -> Option<&FakeUser> {
        self.users
            .values()
            .find(|u| u.login.eq_ignore_ascii_case(login))
    }

    pub fn by_email(&self, email: &str) -> Option<&FakeUser> {
        self.users
            .values()
            .find(|u| u.emails.iter().any(|e| e.eq_ignore_ascii_case(email)))
    }

    pub fn user_json(&self, login: &str) -> Value {
        match self.find(login) {
            Some(u) => json!({
                "login": u.login, "id": u.id, "node_id": format!("U_{}", u.id), "type": u.kind,
                "site_admin": false, "html_url": format!("{HTML}/{}", u.login),
            }),
            None => json!({"login": "ghost", "id": 10137, "type": "User", "site_admin": false}),
        }
    }

    /// The author of a review or comment: `null` once their account is deleted, which
    /// GitHub's description allows for both (`nullable-simple-user`).
    pub fn user_or_null(&self, login: &str) -> Value {
        match self.find(login) {
            Some(_) => self.user_json(login),
            None => Value::Null,
        }
    }

    pub fn team(&self, org: &str, slug: &str) -> Option<&Vec<(String, String)>> {
        self.teams.get(&(org.to_owned(), slug.to_owned()))
    }

    /// The team and every team below it, nearest first.
    pub fn with_descendants(&self, org: &str, slug: &str) -> Vec<String> {
        let mut out = vec![slug.to_owned()];
        let mut i = 0;
        while i < out.len() {
            let parent = out[i].clone();
            out.extend(
                self.parents
                    .iter()
                    .filter(|((o, _), p)| o == org && **p == parent)
                    .map(|((_, child), _)| child.clone()),
            );
            i += 1;
        }
        out
    }

    /// Active members of the team and, as GitHub's REST API counts them, of its child teams.
    pub fn all_members(&self, org: &str, slug: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for team in self.with_descendants(org, slug) {
            for (login, state) in self.team(org, &team).into_iter().flatten() {
                if state == "active" && !out.contains(login) {
                    out.push(login.clone());
                }
            }
        }
        out
    }

    pub fn team_mut(&mut self, org: &str, slug: &str) -> Option<&mut Vec<(String, String)>> {
        self.teams.get_mut(&(org.to_owned(), slug.to_owned()))
    }
}

/// Everything the fake knows; one per server, behind a mutex.
pub struct State {
    /// `http://127.0.0.1:PORT`, for `Link` headers.
    pub base_url: String,
    pub ticker: Ticker,
    pub people: People,
    pub repos: BTreeMap<String, Repo>,
    /// The repository the test helpers act on: the first one created.
    pub first_repo: Option<String>,
    pub faults: Vec<Fault>,
    pub log: Vec<Logged>,
    /// Holds the bare repositories; removed with the state.
    pub dir: tempfile::TempDir,
}

/// An injected failure: the next `remaining` requests whose method matches (`*` for any) and
/// whose raw path and query contain `needle` get `status` with `headers`.
pub struct Fault {
    pub method: String,
    pub needle: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub remaining: u32,
    /// Matching requests to let through before the first failure.
    pub skip: u32,
    pub kind: Injected,
}

/// What an injected fault does to the request it matches.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    /// Refused with `status` and GitHub's error body; nothing is done.
    Fail,
    /// Done, and then answered with `status` as if it had failed: a write GitHub performed
    /// whose answer never arrived intact (a 502 from a proxy, a reset connection).
    FailAfter,
    /// Not a failure: the least answer GitHub's description allows, with `status`.
    Least,
    /// Done (or with `perform: false`, not), and never answered: the request hangs until the
    /// client gives up or is killed.
    Hang { perform: bool },
}

/// One request as the fake received it: the raw (still percent-encoded) path and query.
#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The request body as sent.
    pub request: Vec<u8>,
    /// The JSON the fake answered with, and whether an injected fault made it.
    pub response: Option<serde_json::Value>,
    pub fault: bool,
}

pub struct Repo {
    pub full_name: String,
    pub git: git2::Repository,
    /// Issues and pull requests share one numbering, as on GitHub.
    pub items: BTreeMap<u64, Item>,
    pub comments: Vec<CommentRec>,
    pub statuses: Vec<StatusRec>,
    /// What `doctor` reads: rulesets as GitHub renders them, environments, variables, and the
    /// errors GitHub finds in CODEOWNERS.
    pub settings: RepoSettings,
}

#[derive(Default)]
pub struct RepoSettings {
    pub rulesets: Vec<serde_json::Value>,
    pub environments: BTreeMap<String, FakeEnvironment>,
    pub variables: BTreeMap<String, String>,
    pub codeowners_errors: Vec<serde_json::Value>,
}

pub struct FakeEnvironment {
    pub id: u64,
    /// `None`: any branch may deploy; `Some(branches)`: only these (a custom policy).
    pub branches: Option<Vec<String>>,
    pub secrets: Vec<String>,
}

pub struct Item {
    pub number: u64,
    pub id: u64,
    pub title: String,
    pub body: Option<String>,
    pub author: String,
    pub state: String,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
    pub pull: Option<PullRec>,
}

pub struct PullRec {
    pub head_ref: String,
    pub base_ref: String,
    pub head_sha: String,
    pub base_sha: String,
    pub merged: bool,
    pub merge_commit_sha: Option<String>,
    /// The base branch's copies of the head's commits, after a rebase merge.
    pub replayed: Vec<String>,
    pub merged_at: Option<String>,
    pub draft: bool,
    pub reviews: Vec<ReviewRec>,
    pub requested_users: Vec<String>,
    pub requested_teams: Vec<String>,
    /// Issue events: (event, actor, created_at), oldest first.
    pub events: Vec<(String, String, String)>,
}

pub struct ReviewRec {
    pub id: u64,
    pub user: String,
    pub state: String,
    pub commit_id: String,
    pub submitted_at: String,
    pub body: String,
}

pub struct CommentRec {
    pub id: u64,
    pub issue: u64,
    pub user: String,
    pub body: String,
    pub created_at: String,
    pub updated_at: String,
}

pub struct StatusRec {
    pub id: u64,
    pub sha: String,
    pub state: String,
    pub context: String,
    pub description: Option<String>,
    pub creator: String,
    pub created_at: String,
}

impl Repo {
    pub fn owner(&self) -> &str {
        self.full_name.split('/').next().unwrap_or_default()
    }

    pub fn pull_json(&self, people: &People, item: &Item, in_list: bool) -> Value {
        let pull = item.pull.as_ref().expect("a pull request");
        let side = |name: &str, sha: &str| {
            json!({
                "label": format!("{}:{name}", self.owner()), "ref": name, "sha": sha,
                "repo": {"full_name": self.full_name},
            })
        };
        let mut v = json!({
            "url": format!("/repos/{}/pulls/{}", self.full_name, item.number),
            "id": item.id, "node_id": format!("PR_{}", item.id), "number": item.number,
            "state": item.state, "locked": false, "title": item.title, "body": item.body,
            "user": people.user_json(&item.author),
            "labels": self.labels_json(&item.labels),
            "head": side(&pull.head_ref, &pull.head_sha),
            "base": side(&pull.base_ref, &pull.base_sha),
            "merged": pull.merged, "merge_commit_sha": pull.merge_commit_sha,
            "merged_at": pull.merged_at, "closed_at": item.closed_at,
            "created_at": item.created_at, "updated_at": item.updated_at,
            "draft": pull.draft,
            "html_url": format!("{HTML}/{}/pull/{}", self.full_name, item.number),
            "requested_reviewers": pull.requested_users.iter().map(|u| people.user_json(u)).collect::<Vec<_>>(),
            "requested_teams": pull.requested_teams.iter().map(|t| json!({"slug": t, "name": t})).collect::<Vec<_>>(),
        });
        // GitHub's list responses carry `merged_at` but not `merged`; a single pull request's
        // response has the true counts, which the listings (capped) may not reach.
        if in_list && let Some(o) = v.as_object_mut() {
            o.remove("merged");
        } else if let (Ok(base), Ok(head)) = (
            git2::Oid::from_str(&pull.base_sha),
            git2::Oid::from_str(&pull.head_sha),
        ) {
            if let Ok(c) = super::git::commits_between(&self.git, base, head) {
                v["commits"] = json!(c.len());
            }
            if let Ok(f) = super::git::files_between(&self.git, base, head) {
                v["changed_files"] = json!(f.len());
            }
        }
        v
    }

    pub fn issue_json(&self, people: &People, item: &Item) -> Value {
        let mut v = json!({
            "id": item.id, "node_id": format!("I_{}", item.id), "number": item.number,
            "title": item.title, "body": item.body, "user": people.user_json(&item.author),
            "state": item.state, "labels": self.labels_json(&item.labels),
            "assignees": item.assignees.iter().map(|a| people.user_json(a)).collect::<Vec<_>>(),
            "assignee": item.assignees.first().map(|a| people.user_json(a)),
            "comments": self.comments.iter().filter(|c| c.issue == item.number).count(),
            "html_url": format!("{HTML}/{}/{}/{}", self.full_name,
                if item.pull.is_some() { "pull" } else { "issues" }, item.number),
            "created_at": item.created_at, "updated_at": item.updated_at,
            "closed_at": item.closed_at,
        });
        if let Some(pull) = &item.pull {
            v["pull_request"] = json!({
                "url": format!("/repos/{}/pulls/{}", self.full_name, item.number),
                "merged_at": pull.merged_at,
            });
        }
        v
    }

    fn labels_json(&self, labels: &[String]) -> Value {
        labels
            .iter()
            .map(|l| json!({"name": l, "color": "ededed", "default": false}))
            .collect()
    }

    pub fn comment_json(&self, people: &People, c: &CommentRec) -> Value {
        json!({
            "id": c.id, "node_id": format!("IC_{}", c.id), "user": people.user_or_null(&c.user),
            "body": c.body, "created_at": c.created_at, "updated_at": c.updated_at,
            "html_url": format!("{HTML}/{}/issues/{}#issuecomment-{}", self.full_name, c.issue, c.id),
            "issue_url": format!("/repos/{}/issues/{}", self.full_name, c.issue),
            "author_association": "MEMBER",
        })
    }

    pub fn review_json(&self, people: &People, number: u64, r: &ReviewRec) -> Value {
        json!({
            "id": r.id, "node_id": format!("PRR_{}", r.id), "user": people.user_or_null(&r.user),
            "body": r.body, "state": r.state, "commit_id": r.commit_id,
            "submitted_at": r.submitted_at, "author_association": "MEMBER",
            "html_url": format!("{HTML}/{}/pull/{number}#pullrequestreview-{}", self.full_name, r.id),
        })
    }

    pub fn status_json(&self, people: &People, s: &StatusRec) -> Value {
        json!({
            "id": s.id, "state": s.state, "context": s.context, "description": s.description,
            "target_url": null, "creator": people.user_json(&s.creator),
            "created_at": s.created_at, "updated_at": s.created_at,
        })
    }

    pub fn commit_json(&self, people: &People, id: git2::Oid) -> Result<Value, git2::Error> {
        let c = self.git.find_commit(id)?;
        let ident = |s: git2::Signature<'_>| {
            let email = s.email().unwrap_or_default().to_owned();
            let user = people.by_email(&email).map(|u| people.user_json(&u.login));
            let date = chrono::DateTime::from_timestamp(s.when().seconds(), 0)
                .unwrap_or_default()
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string();
            (
                json!({"name": s.name().unwrap_or_default(), "email": email, "date": date}),
                user.unwrap_or(Value::Null),
            )
        };
        let (git_author, author) = ident(c.author());
        let (git_committer, committer) = ident(c.committer());
        Ok(json!({
            "sha": id.to_string(), "node_id": format!("C_{id}"),
            "commit": {"author": git_author, "committer": git_committer,
                        "message": c.message().unwrap_or_default(),
                        "tree": {"sha": c.tree_id().to_string()}},
            "author": author, "committer": committer,
            "parents": c.parent_ids().map(|p| json!({"sha": p.to_string()})).collect::<Vec<_>>(),
            "html_url": format!("{HTML}/{}/commit/{id}", self.full_name),
        }))
    }

    /// A commit as `git/commits` renders it (no user matching there).
    pub fn git_commit_json(&self, id: git2::Oid) -> Result<Value, git2::Error> {
        let c = self.git.find_commit(id)?;
        let ident = |s: git2::Signature<'_>| json!({"name": s.name().unwrap_or_default(), "email": s.email().unwrap_or_default()});
        Ok(json!({
            "sha": id.to_string(), "node_id": format!("C_{id}"),
            "tree": {"sha": c.tree_id().to_string()},
            "parents": c.parent_ids().map(|p| json!({"sha": p.to_string()})).collect::<Vec<_>>(),
            "message": c.message().unwrap_or_default(),
            "author": ident(c.author()), "committer": ident(c.committer()),
        }))
    }
}
