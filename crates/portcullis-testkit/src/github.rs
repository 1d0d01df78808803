//! GitHub in memory, as permissive as GitHub: any writer may edit anyone's comment, set any
//! status in any context, review any commit; a deleted account reads as `user: null`; a
//! pull request's commit listing stops at 250 whatever the true count. Each event is stamped
//! one minute after the previous one, so "after" means what it means on GitHub's server.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow};
use chrono::{DateTime, Duration, TimeZone, Utc};

use portcullis_core::ports::github::{
    Branch, Comment, GitHub, Issue, IssueEvent, Pull, PullCommit, Review, Status, User,
};

/// GitHub lists at most this many commits of a pull request.
pub const LISTED_COMMITS: usize = 250;

pub struct MemGitHub {
    users: BTreeMap<String, User>,
    /// The login whose token this is (`me`); `None` for an installation token.
    token_of: Option<String>,
    pulls: BTreeMap<u64, Pull>,
    /// Each pull request's commits, oldest first, with the accounts GitHub linked.
    commits: BTreeMap<u64, Vec<PullCommit>>,
    reviews: BTreeMap<u64, Vec<Review>>,
    issues: BTreeMap<u64, Issue>,
    events: BTreeMap<u64, Vec<IssueEvent>>,
    comments: BTreeMap<u64, Vec<Comment>>,
    statuses: BTreeMap<String, Vec<Status>>,
    /// `(org, slug)` to the team's id and members' logins.
    teams: BTreeMap<(String, String), (u64, Vec<String>)>,
    next_id: u64,
    now: DateTime<Utc>,
}

impl Default for MemGitHub {
    fn default() -> MemGitHub {
        MemGitHub {
            users: BTreeMap::new(),
            token_of: None,
            pulls: BTreeMap::new(),
            commits: BTreeMap::new(),
            reviews: BTreeMap::new(),
            issues: BTreeMap::new(),
            events: BTreeMap::new(),
            comments: BTreeMap::new(),
            statuses: BTreeMap::new(),
            teams: BTreeMap::new(),
            next_id: 1000,
            now: Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap(),
        }
    }
}

impl MemGitHub {
    pub fn new() -> MemGitHub {
        MemGitHub::default()
    }

    pub fn add_user(&mut self, login: &str) {
        let id = self.id();
        self.users.insert(
            login.to_owned(),
            User {
                login: login.to_owned(),
                id,
                kind: if login.ends_with("[bot]") {
                    "Bot"
                } else {
                    "User"
                }
                .to_owned(),
            },
        );
    }

    /// The account a personal token belongs to (what `me` answers); without one the token is
    /// an installation's, which cannot ask.
    pub fn token_of(&mut self, login: &str) {
        self.token_of = Some(login.to_owned());
    }

    /// Deletes an account, as GitHub shows it afterwards: its reviews and comments read as
    /// `user: null`, its pull requests, issues and statuses as the `ghost` account, its commits
    /// as linked to nobody, and it leaves every team.
    pub fn delete_user(&mut self, login: &str) {
        self.users.remove(login);
        for (_, members) in self.teams.values_mut() {
            members.retain(|m| m != login);
        }
        let gone = |u: &User| u.login == login;
        for p in self.pulls.values_mut() {
            if gone(&p.user) {
                p.user = User::ghost();
            }
        }
        for i in self.issues.values_mut() {
            if gone(&i.user) {
                i.user = User::ghost();
            }
        }
        // GitHub no longer links the commits' e-mail to anyone.
        for c in self.commits.values_mut().flatten() {
            for side in [&mut c.author, &mut c.committer] {
                if side.as_ref().is_some_and(gone) {
                    *side = None;
                }
            }
        }
        for st in self.statuses.values_mut().flatten() {
            if st.creator.as_ref().is_some_and(gone) {
                st.creator = Some(User::ghost());
            }
        }
        for r in self.reviews.values_mut().flatten() {
            if r.user.as_ref().is_some_and(|u| u.login == login) {
                r.user = None;
            }
        }
        for c in self.comments.values_mut().flatten() {
            if c.user.as_ref().is_some_and(|u| u.login == login) {
                c.user = None;
            }
        }
    }

    pub fn add_team(&mut self, org: &str, slug: &str, members: &[&str]) {
        let id = self.id();
        self.teams.insert(
            (org.to_owned(), slug.to_owned()),
            (id, members.iter().map(|m| (*m).to_owned()).collect()),
        );
    }

    /// Deletes the team and makes one again under the same slug: another team, another id.
    pub fn recreate_team(&mut self, org: &str, slug: &str, members: &[&str]) {
        self.add_team(org, slug, members);
    }

    /// Opens pull request `number` by `author` from `branch` at `head` onto `base` (`main` at
    /// `base_sha`), with its commits (oldest first) and the account each one's e-mail links to
    /// (`None`: an address no account has).
    #[allow(clippy::too_many_arguments)]
    pub fn open_pull(
        &mut self,
        number: u64,
        author: &str,
        branch: &str,
        head: &str,
        base_sha: &str,
        commits: &[(&str, Option<&str>)],
        body: &str,
    ) {
        let user = self.user(author);
        let pull = Pull {
            number,
            state: "open".to_owned(),
            title: format!("Pull request {number}"),
            body: Some(body.to_owned()),
            user,
            head: Branch {
                name: branch.to_owned(),
                sha: head.to_owned(),
            },
            base: Branch {
                name: "main".to_owned(),
                sha: base_sha.to_owned(),
            },
            merged: false,
            merge_commit_sha: None,
            merged_at: None,
            updated_at: self.tick(),
            draft: false,
            html_url: format!("https://github.example/pull/{number}"),
            commits: Some(commits.len() as u64),
            changed_files: None,
            requested_reviewers: Vec::new(),
            requested_teams: Vec::new(),
        };
        self.pulls.insert(number, pull);
        let listed = self.linked(commits);
        self.commits.insert(number, listed);
    }

    /// A push to the pull request's branch: its head moves to `head`, with more commits.
    pub fn push(&mut self, number: u64, head: &str, commits: &[(&str, Option<&str>)]) {
        let linked = self.linked(commits);
        let listed = self.commits.entry(number).or_default();
        listed.extend(linked);
        let count = listed.len() as u64;
        let pull = self.pulls.get_mut(&number).expect("no such pull request");
        pull.head.sha = head.to_owned();
        pull.commits = Some(count);
    }

    /// Merges the pull request as `merge_commit` (a merge, squash or rebase commit on `main`).
    pub fn merge(&mut self, number: u64, merge_commit: &str) {
        let at = self.tick();
        let pull = self.pulls.get_mut(&number).expect("no such pull request");
        pull.state = "closed".to_owned();
        pull.merged = true;
        pull.merged_at = Some(at);
        pull.merge_commit_sha = Some(merge_commit.to_owned());
    }

    /// Moves the pull request onto another base (a retarget GitHub records as an event).
    pub fn retarget(&mut self, number: u64, base_sha: &str, by: &str) {
        let at = self.tick();
        let actor = Some(self.user(by));
        self.pulls
            .get_mut(&number)
            .expect("no such pull request")
            .base
            .sha = base_sha.to_owned();
        self.events.entry(number).or_default().push(IssueEvent {
            event: "base_ref_changed".to_owned(),
            actor,
            created_at: at,
        });
    }

    /// A review by `login` on `commit` (any commit: GitHub takes the one the reviewer saw).
    pub fn review(&mut self, number: u64, login: &str, state: &str, commit: &str) -> u64 {
        self.review_with(number, login, state, commit, "")
    }

    pub fn review_with(
        &mut self,
        number: u64,
        login: &str,
        state: &str,
        commit: &str,
        body: &str,
    ) -> u64 {
        let id = self.id();
        let review = Review {
            id,
            user: Some(self.user(login)),
            state: state.to_owned(),
            commit_id: Some(commit.to_owned()),
            submitted_at: Some(self.tick()),
            body: Some(body.to_owned()),
        };
        self.reviews.entry(number).or_default().push(review);
        id
    }

    pub fn comment(&mut self, number: u64, login: &str, body: &str) -> u64 {
        let id = self.id();
        let at = self.tick();
        let comment = Comment {
            id,
            user: Some(self.user(login)),
            body: body.to_owned(),
            created_at: at.clone(),
            updated_at: at,
            html_url: format!("https://github.example/comment/{id}"),
        };
        self.comments.entry(number).or_default().push(comment);
        id
    }

    /// Any writer may edit anyone's comment; GitHub keeps the author and moves `updated_at`.
    pub fn edit_comment(&mut self, id: u64, body: &str) {
        let at = self.tick();
        let c = self
            .comments
            .values_mut()
            .flatten()
            .find(|c| c.id == id)
            .expect("no such comment");
        c.body = body.to_owned();
        c.updated_at = at;
    }

    /// A status on `sha` in `context`, by whoever `login` is: GitHub checks nothing more.
    pub fn status(&mut self, sha: &str, login: &str, context: &str, state: &str) {
        let status = Status {
            state: state.to_owned(),
            context: context.to_owned(),
            description: None,
            creator: Some(self.user(login)),
            created_at: self.tick(),
        };
        // Newest first, as GitHub lists them.
        self.statuses
            .entry(sha.to_owned())
            .or_default()
            .insert(0, status);
    }

    pub fn open_issue(&mut self, number: u64, author: &str, body: &str) {
        let at = self.tick();
        let issue = Issue {
            number,
            title: format!("Issue {number}"),
            body: Some(body.to_owned()),
            user: self.user(author),
            state: "open".to_owned(),
            labels: Vec::new(),
            html_url: format!("https://github.example/issues/{number}"),
            created_at: at.clone(),
            updated_at: at,
        };
        self.issues.insert(number, issue);
    }

    /// Commits with the account each one's e-mail links to, as GitHub lists them.
    fn linked(&mut self, commits: &[(&str, Option<&str>)]) -> Vec<PullCommit> {
        commits
            .iter()
            .map(|(sha, login)| {
                let user = login.map(|l| self.user(l));
                PullCommit {
                    sha: (*sha).to_owned(),
                    author: user.clone(),
                    committer: user,
                }
            })
            .collect()
    }

    fn user(&mut self, login: &str) -> User {
        if !self.users.contains_key(login) {
            self.add_user(login);
        }
        self.users[login].clone()
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn tick(&mut self) -> String {
        self.now += Duration::minutes(1);
        self.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }
}

impl GitHub for MemGitHub {
    fn pull(&self, number: u64) -> Result<Pull> {
        self.pulls
            .get(&number)
            .cloned()
            .ok_or_else(|| anyhow!("GitHub answered 404 Not Found for pull request #{number}"))
    }
    fn commit_pulls(&self, sha: &str) -> Result<Vec<Pull>> {
        Ok(self
            .pulls
            .values()
            .filter(|p| {
                p.merge_commit_sha.as_deref() == Some(sha)
                    || self.commits[&p.number].iter().any(|c| c.sha == sha)
            })
            .cloned()
            .collect())
    }
    fn pull_commits(&self, number: u64) -> Result<Vec<PullCommit>> {
        let all = self.commits.get(&number).cloned().unwrap_or_default();
        Ok(all.into_iter().take(LISTED_COMMITS).collect())
    }
    fn pull_reviews(&self, number: u64) -> Result<Vec<Review>> {
        Ok(self.reviews.get(&number).cloned().unwrap_or_default())
    }
    fn issue(&self, number: u64) -> Result<Issue> {
        self.issues
            .get(&number)
            .cloned()
            .ok_or_else(|| anyhow!("GitHub answered 404 Not Found for issue #{number}"))
    }
    fn issue_events(&self, number: u64) -> Result<Vec<IssueEvent>> {
        Ok(self.events.get(&number).cloned().unwrap_or_default())
    }
    fn comments(&self, issue_or_pull: u64) -> Result<Vec<Comment>> {
        Ok(self
            .comments
            .get(&issue_or_pull)
            .cloned()
            .unwrap_or_default())
    }
    fn statuses(&self, sha: &str) -> Result<Vec<Status>> {
        Ok(self.statuses.get(sha).cloned().unwrap_or_default())
    }
    fn me(&self) -> Result<User> {
        let login = self
            .token_of
            .as_ref()
            .ok_or_else(|| anyhow!("GitHub answered 403: an installation token has no user"))?;
        Ok(self.users[login].clone())
    }
    fn team(&self, org: &str, slug: &str) -> Result<Option<u64>> {
        Ok(self
            .teams
            .get(&(org.to_owned(), slug.to_owned()))
            .map(|t| t.0))
    }
    fn team_members(&self, org: &str, slug: &str) -> Result<Vec<User>> {
        let (_, members) = self
            .teams
            .get(&(org.to_owned(), slug.to_owned()))
            .ok_or_else(|| anyhow!("GitHub answered 404 Not Found for team {org}/{slug}"))?;
        Ok(members
            .iter()
            .filter_map(|m| self.users.get(m).cloned())
            .collect())
    }
}
