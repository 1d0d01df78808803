//! GitHub in memory, as permissive as GitHub: any writer may edit anyone's comment, set any
//! status in any context, review any commit; a deleted account reads as `user: null`; a
//! pull request's commit listing stops at 250 whatever the true count. Each event is stamped
//! one minute after the previous one, so "after" means what it means on GitHub's server.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use anyhow::{Result, anyhow};
use chrono::{DateTime, Duration, TimeZone, Utc};

use portcullis_core::ports::github::{
    Alarms, Branch, Comment, Comments, GitHub, Issue, IssueEvent, Label, Proposals, Pull,
    PullCommit, Review, Status, Statuses, User,
};

/// GitHub lists at most this many commits of a pull request.
pub const LISTED_COMMITS: usize = 250;

/// Users and team slugs asked to review.
type Requested = (Vec<String>, Vec<String>);

pub struct MemGitHub {
    users: BTreeMap<String, User>,
    /// The login whose token this is (`me`); `None` for an installation token.
    token_of: Option<String>,
    pulls: RefCell<BTreeMap<u64, Pull>>,
    /// Each pull request's commits, oldest first, with the accounts GitHub linked.
    commits: BTreeMap<u64, Vec<PullCommit>>,
    reviews: BTreeMap<u64, Vec<Review>>,
    issues: RefCell<BTreeMap<u64, Issue>>,
    events: BTreeMap<u64, Vec<IssueEvent>>,
    comments: RefCell<BTreeMap<u64, Vec<Comment>>>,
    statuses: RefCell<BTreeMap<String, Vec<Status>>>,
    /// `(org, slug)` to the team's id and members' logins.
    teams: BTreeMap<(String, String), (u64, Vec<String>)>,
    next_id: Cell<u64>,
    now: Cell<DateTime<Utc>>,
    /// The repository's owner, as `Proposals::owner` names it.
    owner: String,
    /// Branch names to commit ids.
    branches: RefCell<BTreeMap<String, String>>,
    /// Each commit's files (made by `seed_branch` or `commit_files`).
    trees: RefCell<BTreeMap<String, BTreeMap<String, Vec<u8>>>>,
    /// Each commit made by `commit_files`, to its parent.
    parents: RefCell<BTreeMap<String, String>>,
    /// Reviews requested on each pull request: users and team slugs.
    requested: RefCell<BTreeMap<u64, Requested>>,
}

impl Default for MemGitHub {
    fn default() -> MemGitHub {
        MemGitHub {
            users: BTreeMap::new(),
            token_of: None,
            pulls: RefCell::new(BTreeMap::new()),
            commits: BTreeMap::new(),
            reviews: BTreeMap::new(),
            issues: RefCell::new(BTreeMap::new()),
            events: BTreeMap::new(),
            comments: RefCell::new(BTreeMap::new()),
            statuses: RefCell::new(BTreeMap::new()),
            teams: BTreeMap::new(),
            next_id: Cell::new(1000),
            now: Cell::new(Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap()),
            owner: "tidewater".to_owned(),
            branches: RefCell::new(BTreeMap::new()),
            trees: RefCell::new(BTreeMap::new()),
            parents: RefCell::new(BTreeMap::new()),
            requested: RefCell::new(BTreeMap::new()),
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
        for p in self.pulls.get_mut().values_mut() {
            if gone(&p.user) {
                p.user = User::ghost();
            }
        }
        for i in self.issues.get_mut().values_mut() {
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
        for st in self.statuses.get_mut().values_mut().flatten() {
            if st.creator.as_ref().is_some_and(gone) {
                st.creator = Some(User::ghost());
            }
        }
        for r in self.reviews.values_mut().flatten() {
            if r.user.as_ref().is_some_and(|u| u.login == login) {
                r.user = None;
            }
        }
        for c in self.comments.get_mut().values_mut().flatten() {
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
        let mut pull = self.new_pull(
            number,
            &format!("Pull request {number}"),
            body,
            user,
            (branch, head),
            ("main", base_sha),
        );
        pull.commits = Some(commits.len() as u64);
        self.pulls.get_mut().insert(number, pull);
        let listed = self.linked(commits);
        self.commits.insert(number, listed);
    }

    /// A push to the pull request's branch: its head moves to `head`, with more commits.
    pub fn push(&mut self, number: u64, head: &str, commits: &[(&str, Option<&str>)]) {
        let linked = self.linked(commits);
        let listed = self.commits.entry(number).or_default();
        listed.extend(linked);
        let count = listed.len() as u64;
        let pull = self
            .pulls
            .get_mut()
            .get_mut(&number)
            .expect("no such pull request");
        pull.head.sha = head.to_owned();
        pull.commits = Some(count);
    }

    /// Merges the pull request as `merge_commit` (a merge, squash or rebase commit on `main`).
    pub fn merge(&mut self, number: u64, merge_commit: &str) {
        let at = self.tick();
        let pull = self
            .pulls
            .get_mut()
            .get_mut(&number)
            .expect("no such pull request");
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
            .get_mut()
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
        self.comments
            .get_mut()
            .entry(number)
            .or_default()
            .push(comment);
        id
    }

    /// Any writer may edit anyone's comment; GitHub keeps the author and moves `updated_at`.
    pub fn edit_comment(&mut self, id: u64, body: &str) {
        let at = self.tick();
        let c = self
            .comments
            .get_mut()
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
            .get_mut()
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
        self.issues.get_mut().insert(number, issue);
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

    /// An open pull request from `head` onto `base` (each a branch name and its commit).
    fn new_pull(
        &self,
        number: u64,
        title: &str,
        body: &str,
        user: User,
        head: (&str, &str),
        base: (&str, &str),
    ) -> Pull {
        let branch = |(name, sha): (&str, &str)| Branch {
            name: name.to_owned(),
            sha: sha.to_owned(),
        };
        Pull {
            number,
            state: "open".to_owned(),
            title: title.to_owned(),
            body: Some(body.to_owned()),
            user,
            head: branch(head),
            base: branch(base),
            merged: false,
            merge_commit_sha: None,
            merged_at: None,
            updated_at: self.tick(),
            draft: false,
            html_url: format!("https://github.example/pull/{number}"),
            commits: Some(1),
            changed_files: None,
            requested_reviewers: Vec::new(),
            requested_teams: Vec::new(),
        }
    }

    /// `author` files an issue with `labels` and `body`; its number.
    pub fn file_issue(&mut self, author: &str, labels: &[&str], body: &str) -> u64 {
        let user = self.user(author);
        let mut issue =
            Alarms::create_issue(self, "Filed by hand", body, labels).expect("an issue is filed");
        issue.user = user;
        let number = issue.number;
        self.issues.get_mut().insert(number, issue);
        number
    }

    /// Points `branch` at `sha`, as a push does (the repository holds the commit).
    pub fn point_branch(&mut self, branch: &str, sha: &str) {
        self.branches
            .get_mut()
            .insert(branch.to_owned(), sha.to_owned());
    }

    /// A commit holding exactly `files`, with `branch` pointed at it; its id.
    pub fn seed_branch(&mut self, branch: &str, files: &[(&str, &str)]) -> String {
        let sha = format!("{:040x}", self.id());
        self.trees.get_mut().insert(
            sha.clone(),
            files
                .iter()
                .map(|(p, t)| ((*p).to_owned(), t.as_bytes().to_vec()))
                .collect(),
        );
        self.branches
            .get_mut()
            .insert(branch.to_owned(), sha.clone());
        sha
    }

    /// The files of the commit `branch` points at.
    pub fn files_of(&self, branch: &str) -> BTreeMap<String, String> {
        let sha = self.branches.borrow()[branch].clone();
        self.trees.borrow()[&sha]
            .iter()
            .map(|(p, b)| (p.clone(), String::from_utf8_lossy(b).into_owned()))
            .collect()
    }

    /// The users and team slugs asked to review pull request `number`.
    pub fn review_requests(&self, number: u64) -> (Vec<String>, Vec<String>) {
        self.requested
            .borrow()
            .get(&number)
            .cloned()
            .unwrap_or_default()
    }

    /// Who the token acts as when it writes: its user, or the App's bot account.
    fn writer(&self) -> User {
        let login = self
            .token_of
            .clone()
            .unwrap_or_else(|| "portcullis[bot]".to_owned());
        self.users.get(&login).cloned().unwrap_or(User {
            login,
            id: 1,
            kind: "Bot".to_owned(),
        })
    }

    fn rev(&self, rev: &str) -> String {
        self.branches
            .borrow()
            .get(rev)
            .cloned()
            .unwrap_or_else(|| rev.to_owned())
    }

    fn user(&mut self, login: &str) -> User {
        if !self.users.contains_key(login) {
            self.add_user(login);
        }
        self.users[login].clone()
    }

    fn id(&self) -> u64 {
        self.next_id.set(self.next_id.get() + 1);
        self.next_id.get()
    }

    fn tick(&self) -> String {
        self.now.set(self.now.get() + Duration::minutes(1));
        self.now
            .get()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }
}

impl GitHub for MemGitHub {
    fn branch_sha(&self, branch: &str) -> Result<Option<String>> {
        Ok(self.branches.borrow().get(branch).cloned())
    }

    fn pull(&self, number: u64) -> Result<Pull> {
        self.pulls
            .borrow()
            .get(&number)
            .cloned()
            .ok_or_else(|| anyhow!("GitHub answered 404 Not Found for pull request #{number}"))
    }
    fn commit_pulls(&self, sha: &str) -> Result<Vec<Pull>> {
        Ok(self
            .pulls
            .borrow()
            .values()
            .filter(|p| {
                p.merge_commit_sha.as_deref() == Some(sha)
                    || self
                        .commits
                        .get(&p.number)
                        .is_some_and(|cs| cs.iter().any(|c| c.sha == sha))
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
            .borrow()
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
            .borrow()
            .get(&issue_or_pull)
            .cloned()
            .unwrap_or_default())
    }
    fn statuses(&self, sha: &str) -> Result<Vec<Status>> {
        Ok(self.statuses.borrow().get(sha).cloned().unwrap_or_default())
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

/// GitHub's answers to the writes a proposal makes, including its refusals: a second open pull
/// request from the same branch, a pull request from a branch that does not exist, a commit on
/// a parent it does not hold, a review asked of a team the repository does not know.
impl Proposals for MemGitHub {
    fn owner(&self) -> String {
        self.owner.clone()
    }

    fn create_branch(&self, branch: &str, sha: &str) -> Result<()> {
        if self.branches.borrow().contains_key(branch) {
            return Err(anyhow!("GitHub answered 422: Reference already exists"));
        }
        if !self.trees.borrow().contains_key(sha) {
            return Err(anyhow!("GitHub answered 422: Object does not exist"));
        }
        self.branches
            .borrow_mut()
            .insert(branch.to_owned(), sha.to_owned());
        Ok(())
    }

    fn update_branch(&self, branch: &str, sha: &str, force: bool) -> Result<()> {
        let mut branches = self.branches.borrow_mut();
        let Some(at) = branches.get_mut(branch) else {
            return Err(anyhow!("GitHub answered 422: Reference does not exist"));
        };
        // Without `force`, GitHub moves a branch only forward along the history.
        let parents = self.parents.borrow();
        let forward = std::iter::successors(Some(sha), |c| parents.get(*c).map(String::as_str))
            .any(|c| c == at.as_str());
        if !force && !forward {
            return Err(anyhow!("GitHub answered 422: Update is not a fast forward"));
        }
        *at = sha.to_owned();
        drop(branches);
        // An open pull request from the branch follows it.
        for p in self.pulls.borrow_mut().values_mut() {
            if p.state == "open" && p.head.name == branch {
                p.head.sha = sha.to_owned();
            }
        }
        Ok(())
    }

    fn pulls(&self, state: &str, head: Option<&str>) -> Result<Vec<Pull>> {
        Ok(self
            .pulls
            .borrow()
            .values()
            .filter(|p| state == "all" || p.state == state)
            .filter(|p| head.is_none_or(|h| h == format!("{}:{}", self.owner, p.head.name)))
            .cloned()
            .collect())
    }

    fn file(&self, path: &str, rev: &str) -> Result<Option<Vec<u8>>> {
        let sha = self.rev(rev);
        let trees = self.trees.borrow();
        let tree = trees
            .get(&sha)
            .ok_or_else(|| anyhow!("GitHub answered 404: No commit found for the ref {rev}"))?;
        Ok(tree.get(path).cloned())
    }

    fn commit_files(
        &self,
        parent: &str,
        _message: &str,
        changes: &[(String, Option<Vec<u8>>)],
    ) -> Result<String> {
        let mut tree = self
            .trees
            .borrow()
            .get(parent)
            .cloned()
            .ok_or_else(|| anyhow!("GitHub answered 422: Parent does not exist"))?;
        for (path, bytes) in changes {
            match bytes {
                Some(b) => {
                    tree.insert(path.clone(), b.clone());
                }
                None => {
                    tree.remove(path);
                }
            }
        }
        let sha = format!("{:040x}", self.id());
        self.trees.borrow_mut().insert(sha.clone(), tree);
        self.parents
            .borrow_mut()
            .insert(sha.clone(), parent.to_owned());
        Ok(sha)
    }

    fn create_pull(&self, title: &str, head: &str, base: &str, body: &str) -> Result<Pull> {
        let (Some(head_sha), Some(base_sha)) = (
            self.branches.borrow().get(head).cloned(),
            self.branches.borrow().get(base).cloned(),
        ) else {
            return Err(anyhow!(
                "GitHub answered 422: Validation Failed (head or base)"
            ));
        };
        if self
            .pulls
            .borrow()
            .values()
            .any(|p| p.state == "open" && p.head.name == head)
        {
            return Err(anyhow!(
                "GitHub answered 422: A pull request already exists for {}:{head}.",
                self.owner
            ));
        }
        let number = self.id();
        let pull = self.new_pull(
            number,
            title,
            body,
            self.writer(),
            (head, &head_sha),
            (base, &base_sha),
        );
        self.pulls.borrow_mut().insert(number, pull.clone());
        Ok(pull)
    }

    fn update_pull(
        &self,
        number: u64,
        title: Option<&str>,
        body: Option<&str>,
        state: Option<&str>,
    ) -> Result<Pull> {
        let at = self.tick();
        let mut pulls = self.pulls.borrow_mut();
        let p = pulls
            .get_mut(&number)
            .ok_or_else(|| anyhow!("GitHub answered 404 Not Found for pull request #{number}"))?;
        if let Some(t) = title {
            p.title = t.to_owned();
        }
        if let Some(b) = body {
            p.body = Some(b.to_owned());
        }
        if let Some(s) = state {
            p.state = s.to_owned();
        }
        p.updated_at = at;
        Ok(p.clone())
    }

    fn request_reviewers(&self, number: u64, users: &[String], teams: &[String]) -> Result<()> {
        if let Some(t) = teams
            .iter()
            .find(|t| !self.teams.contains_key(&(self.owner.clone(), (*t).clone())))
        {
            return Err(anyhow!(
                "GitHub answered 422: Reviews may only be requested from collaborators ({t})"
            ));
        }
        let mut requested = self.requested.borrow_mut();
        let entry = requested.entry(number).or_default();
        entry.0.extend(users.iter().cloned());
        entry.1.extend(teams.iter().cloned());
        Ok(())
    }
}

/// Anyone with write access may comment, and edit anyone's comment (its author stays who
/// posted it), as GitHub lets them.
impl Comments for MemGitHub {
    fn create_comment(&self, issue_or_pull: u64, body: &str) -> Result<Comment> {
        let known = self.pulls.borrow().contains_key(&issue_or_pull)
            || self.issues.borrow().contains_key(&issue_or_pull);
        if !known {
            return Err(anyhow!("GitHub answered 404: Not Found"));
        }
        let id = self.id();
        let at = self.tick();
        let comment = Comment {
            id,
            user: Some(self.writer()),
            body: body.to_owned(),
            created_at: at.clone(),
            updated_at: at,
            html_url: format!("https://github.example/comment/{id}"),
        };
        self.comments
            .borrow_mut()
            .entry(issue_or_pull)
            .or_default()
            .push(comment.clone());
        Ok(comment)
    }

    fn update_comment(&self, comment_id: u64, body: &str) -> Result<Comment> {
        let at = self.tick();
        let mut comments = self.comments.borrow_mut();
        let comment = comments
            .values_mut()
            .flatten()
            .find(|c| c.id == comment_id)
            .ok_or_else(|| anyhow!("GitHub answered 404: Not Found"))?;
        comment.body = body.to_owned();
        comment.updated_at = at;
        Ok(comment.clone())
    }
}

/// Anyone with write access may file any issue with any label and any text: GitHub does not
/// reserve a label or a marker for portcullis.
impl Alarms for MemGitHub {
    fn issues(&self, state: &str, labels: &[&str]) -> Result<Vec<Issue>> {
        Ok(self
            .issues
            .borrow()
            .values()
            .filter(|i| state == "all" || i.state == state)
            .filter(|i| labels.iter().all(|l| i.labels.iter().any(|x| x.name == *l)))
            .cloned()
            .collect())
    }

    fn create_issue(&self, title: &str, body: &str, labels: &[&str]) -> Result<Issue> {
        let number = self.id();
        let at = self.tick();
        let issue = Issue {
            number,
            title: title.to_owned(),
            body: Some(body.to_owned()),
            user: self.writer(),
            state: "open".to_owned(),
            labels: labels
                .iter()
                .map(|l| Label {
                    name: (*l).to_owned(),
                })
                .collect(),
            html_url: format!("https://github.example/issues/{number}"),
            created_at: at.clone(),
            updated_at: at,
        };
        self.issues.borrow_mut().insert(number, issue.clone());
        Ok(issue)
    }
}

/// Anyone with write access may set any status in any context; GitHub records who did.
impl Statuses for MemGitHub {
    fn create_status(
        &self,
        sha: &str,
        state: &str,
        context: &str,
        description: &str,
    ) -> Result<()> {
        let status = Status {
            state: state.to_owned(),
            context: context.to_owned(),
            description: Some(description.chars().take(140).collect()),
            creator: Some(self.writer()),
            created_at: self.tick(),
        };
        self.statuses
            .borrow_mut()
            .entry(sha.to_owned())
            .or_default()
            .insert(0, status);
        Ok(())
    }
}
