//! The parts of GitHub's REST responses that portcullis reads. Unknown fields are ignored, so a
//! richer response (or a newer API) never breaks a call; a field we rely on that is missing or
//! null where GitHub documents it as required is an error, not a silent default.

use crate::model::Login;
use anyhow::Result;
use serde::{Deserialize, Serialize};

/// Commit statuses portcullis sets (the `portcullis/approvals` merge gate). A supertrait of
/// [`GitHub`], which lists them.
pub trait Statuses: GitHub {
    /// Sets a status; GitHub keeps 140 characters of `description`.
    fn create_status(&self, sha: &str, state: &str, context: &str, description: &str)
    -> Result<()>;
}

/// The issues apply owes (security alarms, SoD holds, emergency reviews): listed to find the ones
/// already opened, and opened. A supertrait of [`GitHub`] for `me`.
pub trait Alarms: GitHub {
    /// Issues in `state` carrying every one of `labels`, pull requests left out; complete.
    fn issues(&self, state: &str, labels: &[&str]) -> Result<Vec<Issue>>;
    fn create_issue(&self, title: &str, body: &str, labels: &[&str]) -> Result<Issue>;
}

/// What the lifecycle flows write to GitHub to propose a change: a commit made through the API
/// on the base branch's tip, a branch moved to it, one pull request per purpose. Implemented by
/// the REST client and the in-memory GitHub.
pub trait Proposals: Comments {
    /// The repository's owner (the organisation whose teams review).
    fn owner(&self) -> String;
    fn create_branch(&self, branch: &str, sha: &str) -> Result<()>;
    fn update_branch(&self, branch: &str, sha: &str, force: bool) -> Result<()>;
    /// Pull requests in `state` (`open`, `closed`, `all`), only those from `head`
    /// (`owner:branch`) when given; complete.
    fn pulls(&self, state: &str, head: Option<&str>) -> Result<Vec<Pull>>;
    /// A file's bytes at `rev`, `None` when it does not exist there.
    fn file(&self, path: &str, rev: &str) -> Result<Option<Vec<u8>>>;
    /// One commit on `parent` writing (or, with `None`, deleting) each path; its sha.
    fn commit_files(
        &self,
        parent: &str,
        message: &str,
        changes: &[(String, Option<Vec<u8>>)],
    ) -> Result<String>;
    fn create_pull(&self, title: &str, head: &str, base: &str, body: &str) -> Result<Pull>;
    fn update_pull(
        &self,
        number: u64,
        title: Option<&str>,
        body: Option<&str>,
        state: Option<&str>,
    ) -> Result<Pull>;
    fn request_reviewers(&self, number: u64, users: &[String], teams: &[String]) -> Result<()>;
}

/// Tracking issues and their comments (`remind`'s).
pub trait Tracking: Alarms + Comments {}
impl<T: Alarms + Comments + ?Sized> Tracking for T {}

/// Comments on issues and pull requests. Anyone with write access may edit anyone's comment,
/// so what portcullis finds again is told apart by its author, never by its text alone.
pub trait Comments: GitHub {
    fn create_comment(&self, issue_or_pull: u64, body: &str) -> Result<Comment>;
    /// Replaces a comment's body (its author stays who posted it).
    fn update_comment(&self, comment_id: u64, body: &str) -> Result<Comment>;
}

/// What the application reads from GitHub to judge a pull request. Implemented by the REST
/// client (`portcullis-github`) and by the in-memory GitHub of `portcullis-testkit`; a contract
/// test holds the two to the same answers. Every listing is complete or an error: an
/// implementation never returns a page and calls it the whole.
pub trait GitHub {
    /// The commit `branch` points at, `None` when there is no such branch.
    fn branch_sha(&self, branch: &str) -> Result<Option<String>>;
    fn pull(&self, number: u64) -> Result<Pull>;
    /// The pull requests a commit belongs to, `merged` set from `merged_at`: for a commit of
    /// the default branch, the merged pull request that brought it.
    fn commit_pulls(&self, sha: &str) -> Result<Vec<Pull>>;
    /// A pull request's commits as GitHub lists them: at most 250, whatever the true count.
    fn pull_commits(&self, number: u64) -> Result<Vec<PullCommit>>;
    fn pull_reviews(&self, number: u64) -> Result<Vec<Review>>;
    fn issue(&self, number: u64) -> Result<Issue>;
    fn issue_events(&self, number: u64) -> Result<Vec<IssueEvent>>;
    /// Conversation comments of an issue or pull request.
    fn comments(&self, issue_or_pull: u64) -> Result<Vec<Comment>>;
    /// Every status set on a commit, by anyone who can write.
    fn statuses(&self, sha: &str) -> Result<Vec<Status>>;
    /// The token's own account (installation tokens cannot ask: an error).
    fn me(&self) -> Result<User>;
    /// A team's id by slug; `None` when there is no such team.
    fn team(&self, org: &str, slug: &str) -> Result<Option<u64>>;
    /// Everyone in a team now, its child teams' members included.
    fn team_members(&self, org: &str, slug: &str) -> Result<Vec<User>>;
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct User {
    pub login: String,
    pub id: u64,
    /// `User`, `Bot` or `Organization`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// GitHub's own name for an account that no longer exists: issues, pull requests and reviews
/// of a deleted account come with `user: null`. The login is reserved, so it is nobody's: it
/// approves nothing and owns nothing portcullis made.
pub const GHOST: &str = "ghost";

impl User {
    pub fn ghost() -> User {
        User {
            login: GHOST.to_owned(),
            id: 0,
            kind: "User".to_owned(),
        }
    }

    /// Bot accounts never count as approvers. GitHub Apps act as `Bot` users whose login ends
    /// in `[bot]`; either sign is enough.
    pub fn is_bot(&self) -> bool {
        self.kind == "Bot" || self.login.ends_with("[bot]")
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Pull {
    pub number: u64,
    /// `open` or `closed` (a merged pull request is `closed` with `merged`).
    pub state: String,
    pub title: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default = "User::ghost", deserialize_with = "user_or_ghost")]
    pub user: User,
    pub head: Branch,
    pub base: Branch,
    /// Absent from list responses; the client's `pulls` fills it from `merged_at`.
    #[serde(default)]
    pub merged: bool,
    pub merge_commit_sha: Option<String>,
    pub merged_at: Option<String>,
    pub updated_at: String,
    #[serde(default)]
    pub draft: bool,
    pub html_url: String,
    /// The true number of commits and changed files (only in a single pull request's response):
    /// GitHub's listings stop at 250 commits and 3000 files.
    #[serde(default)]
    pub commits: Option<u64>,
    #[serde(default)]
    pub changed_files: Option<u64>,
    /// Users and teams asked to review who have not reviewed yet.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub requested_reviewers: Vec<Option<User>>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub requested_teams: Vec<TeamRef>,
}

/// A team as a pull request names it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TeamRef {
    pub slug: String,
}

fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// An event on an issue or pull request's timeline; `base_ref_changed` is a retarget.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct IssueEvent {
    pub event: String,
    pub actor: Option<User>,
    pub created_at: String,
}

/// `user: null` (a deleted account) read as the ghost account.
fn user_or_ghost<'de, D: serde::Deserializer<'de>>(d: D) -> Result<User, D::Error> {
    Ok(linked_user(d)?.unwrap_or_else(User::ghost))
}

/// Labels come as objects, or (in some payloads) as plain names.
fn labels<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Label>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Name(String),
        Label(Label),
    }
    let items = Option::<Vec<Either>>::deserialize(d)?.unwrap_or_default();
    Ok(items
        .into_iter()
        .map(|e| match e {
            Either::Name(name) => Label { name },
            Either::Label(l) => l,
        })
        .collect())
}

/// GitHub writes an account it could not match as `null` or `{}`: either is no account.
fn linked_user<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<User>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Object(o)) if o.is_empty() => Ok(None),
        Some(v) => User::deserialize(v)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// One side of a pull request: the branch name and the commit it pointed at.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Branch {
    #[serde(rename = "ref")]
    pub name: String,
    pub sha: String,
}

/// A commit of a pull request. `author` and `committer` are the GitHub *users* GitHub matched
/// to the commit's emails (null when none matched), not the free-text git identities.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PullCommit {
    pub sha: String,
    #[serde(default, deserialize_with = "linked_user")]
    pub author: Option<User>,
    #[serde(default, deserialize_with = "linked_user")]
    pub committer: Option<User>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PullFile {
    pub filename: String,
    /// `added`, `removed`, `modified`, `renamed`, `copied`, `changed` or `unchanged`.
    pub status: String,
    pub previous_filename: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Review {
    pub id: u64,
    /// Null when the reviewer's account was deleted.
    pub user: Option<User>,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED` or `PENDING`.
    pub state: String,
    pub commit_id: Option<String>,
    pub submitted_at: Option<String>,
    pub body: Option<String>,
}

/// A conversation comment on an issue or pull request.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Comment {
    pub id: u64,
    /// Null when the author's account was deleted: a comment from nobody.
    pub user: Option<User>,
    #[serde(default)]
    pub body: String,
    pub created_at: String,
    pub updated_at: String,
    pub html_url: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default = "User::ghost", deserialize_with = "user_or_ghost")]
    pub user: User,
    pub state: String,
    #[serde(default, deserialize_with = "labels")]
    pub labels: Vec<Label>,
    pub html_url: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Label {
    pub name: String,
}

impl Status {
    /// Whether `login` created it: any writer can set a status in any context, so only the
    /// creator tells portcullis's own from a forged one.
    pub fn is_by(&self, login: &str) -> bool {
        self.creator
            .as_ref()
            .is_some_and(|c| Login::new(&c.login).is(login))
    }
}

/// A commit status. Anyone with write access can set one, so portcullis reads statuses only as
/// hints, never as evidence of approval.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Status {
    /// `error`, `failure`, `pending` or `success`.
    pub state: String,
    pub context: String,
    pub description: Option<String>,
    pub creator: Option<User>,
    /// Server time: `approvals` uses its own first status on a head as when it saw that head.
    pub created_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shapes GitHub's description allows and real repositories produce: a deleted account's
    /// `user: null`, a commit author GitHub could not link (`{}` or `null`), labels given as
    /// names, an absent `body`. Each reads, with a defined meaning.
    #[test]
    fn what_github_really_sends_is_read() {
        let commit: PullCommit =
            serde_json::from_str(r#"{"sha":"a","author":{},"committer":null}"#).unwrap();
        assert!(commit.author.is_none() && commit.committer.is_none());
        let commit: PullCommit = serde_json::from_str(
            r#"{"sha":"a","author":{"login":"x","id":1,"type":"User"},"committer":{"login":"web-flow","id":2,"type":"User"}}"#,
        )
        .unwrap();
        assert_eq!(commit.author.unwrap().login, "x");

        let issue: Issue = serde_json::from_str(
            r#"{"number":1,"title":"t","user":null,"state":"open","labels":["access-request",{"name":"x","color":"fff"}],"html_url":"u","created_at":"c","updated_at":"u"}"#,
        )
        .unwrap();
        assert_eq!(issue.user.login, GHOST);
        assert_eq!(issue.body, None);
        let names: Vec<&str> = issue.labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["access-request", "x"]);

        let comment: Comment = serde_json::from_str(
            r#"{"id":1,"user":null,"created_at":"c","updated_at":"c","html_url":"u"}"#,
        )
        .unwrap();
        assert!(comment.user.is_none() && comment.body.is_empty());

        let review: Review =
            serde_json::from_str(r#"{"id":1,"user":null,"state":"APPROVED","commit_id":null}"#)
                .unwrap();
        assert!(review.user.is_none());

        let pull: Pull = serde_json::from_str(
            r#"{"number":3,"state":"open","title":"t","user":null,"head":{"ref":"h","sha":"1"},"base":{"ref":"main","sha":"2"},"merge_commit_sha":null,"merged_at":null,"updated_at":"u","html_url":"u"}"#,
        )
        .unwrap();
        assert_eq!(pull.user.login, GHOST);
        assert!(!User::ghost().is_bot());
    }

    /// A field portcullis relies on, missing where GitHub documents it as required, is an
    /// error rather than a silent default.
    #[test]
    fn a_missing_required_field_is_an_error() {
        assert!(serde_json::from_str::<PullCommit>(r#"{"author":null}"#).is_err());
        assert!(serde_json::from_str::<Review>(r#"{"id":1,"user":null}"#).is_err());
    }
}
