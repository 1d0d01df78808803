//! A stateful fake of the GitHub REST API, served in-process on `127.0.0.1:0` for one test.
//!
//! `FakeGitHub::start()` then `gh.url()` is the `GITHUB_API_URL`. It keeps users, tokens (every
//! write is attributed to the token's user), org teams, and repositories backed by real bare git
//! repositories (`gh.git_dir(repo)` can be cloned, fetched and pushed with git), with pull
//! requests, reviews, issues, comments and commit statuses. Responses have GitHub's shapes,
//! `Link` pagination, status codes and error bodies; faults can be injected per request.
//!
//! The helpers below act on the first repository created, through the same code as the API (so
//! they refuse what GitHub refuses) but without logging or faults; they panic on a refusal, as
//! test setup should.

mod git;
mod git_data;
mod graphql;
mod issues;
pub mod openapi;
mod pulls;
mod routes;
mod state;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};

pub use state::Injected;
pub use state::Logged;
use state::{FakeEnvironment, FakeUser, Fault, People, Repo, State, Ticker};

pub struct FakeGitHub {
    state: Arc<Mutex<State>>,
    url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        // Every response this fake sent must be one GitHub could send.
        if !std::thread::panicking() {
            let log = self.lock().log.clone();
            let wrong = openapi::violations(&log);
            assert!(
                wrong.is_empty(),
                "the fake GitHub sent {} response(s) GitHub's API description does not allow:\n{}",
                wrong.len(),
                wrong.join("\n")
            );
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl FakeGitHub {
    pub fn start() -> FakeGitHub {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("non-blocking");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let state = Arc::new(Mutex::new(State {
            base_url: url.clone(),
            ticker: Ticker::new(),
            people: People::default(),
            repos: Default::default(),
            first_repo: None,
            faults: Vec::new(),
            log: Vec::new(),
            dir: tempfile::tempdir().expect("temporary directory"),
        }));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
                .expect("tokio runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let app =
                    axum::Router::new().fallback(move |request| serve(shared.clone(), request));
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await;
            });
        });
        FakeGitHub {
            state,
            url,
            shutdown: Some(tx),
        }
    }

    /// The `GITHUB_API_URL` of this fake.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    // -- people --

    /// A user with `email` (commits with that email are theirs) and the token `token-{login}`,
    /// which is returned.
    pub fn add_user(&self, login: &str, email: &str) -> String {
        self.add_account(login, "User", email)
    }

    /// A bot account (`type: Bot`), with the token `token-{login}`.
    pub fn add_bot(&self, login: &str) -> String {
        self.add_account(login, "Bot", &format!("{login}@bots.github.test"))
    }

    fn add_account(&self, login: &str, kind: &'static str, email: &str) -> String {
        let mut state = self.lock();
        let id = state.ticker.id();
        state.people.users.insert(
            login.to_owned(),
            FakeUser {
                login: login.to_owned(),
                id,
                kind,
                emails: vec![
                    email.to_owned(),
                    format!("{id}+{login}@users.noreply.github.test"),
                ],
            },
        );
        let token = format!("token-{login}");
        state.people.tokens.insert(token.clone(), login.to_owned());
        token
    }

    /// Deletes an account, as its owner can: its tokens stop working, its pull requests and
    /// issues show the `ghost` account, its reviews and comments `user: null`, and it leaves
    /// every team.
    pub fn delete_user(&self, login: &str) {
        let mut state = self.lock();
        state.people.users.remove(login);
        state.people.tokens.retain(|_, l| l != login);
        // A deleted account is no one's member any more.
        for members in state.people.teams.values_mut() {
            members.retain(|(l, _)| l != login);
        }
    }

    /// Another token for an existing user.
    pub fn add_token(&self, login: &str, token: &str) {
        self.lock()
            .people
            .tokens
            .insert(token.to_owned(), login.to_owned());
    }

    /// A team of `org` with these active members (who become members of the org); each must
    /// have been added as a user.
    pub fn add_team(&self, org: &str, slug: &str, members: &[&str]) {
        let mut state = self.lock();
        for m in members {
            assert!(
                state.people.find(m).is_some(),
                "add_user({m:?}) before adding them to a team"
            );
        }
        let org_members = state.people.org_members.entry(org.to_owned()).or_default();
        org_members.extend(members.iter().map(|m| (*m).to_owned()));
        state.people.teams.insert(
            (org.to_owned(), slug.to_owned()),
            members
                .iter()
                .map(|m| ((*m).to_owned(), "active".to_owned()))
                .collect(),
        );
        let id = state.ticker.id();
        state
            .people
            .team_ids
            .entry((org.to_owned(), slug.to_owned()))
            .or_insert(id);
    }

    /// A team of `org` nested under `parent`, with these members: GitHub lists them as
    /// members of the parent too.
    pub fn add_child_team(&self, org: &str, parent: &str, slug: &str, members: &[&str]) {
        self.add_team(org, slug, members);
        self.lock()
            .people
            .parents
            .insert((org.to_owned(), slug.to_owned()), parent.to_owned());
    }

    // -- the repository's settings, as an admin makes them --

    /// The first repository's settings, changed by `f`.
    fn settings(&self, f: impl FnOnce(&mut state::RepoSettings, u64)) {
        let mut state = self.lock();
        let id = state.ticker.id();
        let name = Self::first_repo(&state);
        f(&mut state.repos.get_mut(&name).unwrap().settings, id);
    }

    /// A repository ruleset; `rules` as GitHub renders them (`[{"type": "deletion"}, ...]`),
    /// applying to the default branch. Returns its id.
    pub fn add_ruleset(&self, name: &str, rules: Value, bypass_actors: Value) -> u64 {
        let source = self
            .lock()
            .first_repo
            .clone()
            .expect("create a repository first");
        let mut made = 0;
        self.settings(|settings, id| {
            made = id;
            settings.rulesets.push(json!({
                "id": id, "name": name, "target": "branch", "source_type": "Repository",
                "source": source, "enforcement": "active",
                "conditions": {"ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []}},
                "rules": rules, "bypass_actors": bypass_actors,
            }));
        });
        made
    }

    /// An environment that `branches` may deploy from (`None`: any), holding these secrets.
    pub fn add_environment(&self, name: &str, branches: Option<&[&str]>, secrets: &[&str]) {
        self.settings(|settings, id| {
            settings.environments.insert(
                name.to_owned(),
                FakeEnvironment {
                    id,
                    branches: branches.map(|b| b.iter().map(|s| (*s).to_owned()).collect()),
                    secrets: secrets.iter().map(|s| (*s).to_owned()).collect(),
                },
            );
        });
    }

    pub fn set_variable(&self, name: &str, value: &str) {
        self.settings(|settings, _| {
            settings.variables.insert(name.to_owned(), value.to_owned());
        });
    }

    /// What GitHub reports wrong in CODEOWNERS (`GET /repos/{o}/{r}/codeowners/errors`).
    pub fn set_codeowners_errors(&self, errors: Value) {
        self.settings(|settings, _| {
            settings.codeowners_errors = errors.as_array().cloned().unwrap_or_default();
        });
    }

    /// An org owner deletes the team and makes a new one under the same slug: same name, new id.
    pub fn recreate_team(&self, org: &str, slug: &str, members: &[&str]) {
        {
            let mut state = self.lock();
            state
                .people
                .team_ids
                .remove(&(org.to_owned(), slug.to_owned()));
        }
        self.add_team(org, slug, members);
    }

    /// The team's numeric id.
    pub fn team_id(&self, org: &str, slug: &str) -> u64 {
        self.lock().people.team_ids[&(org.to_owned(), slug.to_owned())]
    }

    /// Sets `login`'s membership of a team: `Some("active" | "pending")`, or `None` to remove it.
    pub fn set_team_member(&self, org: &str, slug: &str, login: &str, state: Option<&str>) {
        let mut guard = self.lock();
        assert!(
            guard.people.find(login).is_some(),
            "add_user({login:?}) first"
        );
        let team = guard.people.team_mut(org, slug).expect("no such team");
        team.retain(|(l, _)| l != login);
        if let Some(s) = state {
            team.push((login.to_owned(), s.to_owned()));
        }
    }

    /// `(login, state)` of every member of a team, in the order they joined.
    pub fn team(&self, org: &str, slug: &str) -> Vec<(String, String)> {
        self.lock()
            .people
            .team(org, slug)
            .cloned()
            .expect("no such team")
    }

    // -- repositories --

    /// A repository whose `main` holds one commit of the files under `dir`.
    pub fn create_repo(&self, full_name: &str, dir: &Path) {
        let mut state = self.lock();
        let path = state.dir.path().join(format!("{full_name}.git"));
        let repo = git2::Repository::init_bare(&path).expect("bare repository");
        let tree = git::tree_from_dir(&repo, dir).expect("tree of the directory");
        let signature = git::signature("Seed", "seed@example.com", state.ticker.now);
        let commit = git::commit(&repo, &signature, "Initial commit", tree, &[]).expect("commit");
        repo.reference("refs/heads/main", commit, true, "initial commit")
            .expect("main");
        repo.set_head("refs/heads/main").expect("HEAD");
        state.first_repo.get_or_insert_with(|| full_name.to_owned());
        state.repos.insert(
            full_name.to_owned(),
            Repo {
                full_name: full_name.to_owned(),
                git: repo,
                items: Default::default(),
                comments: Vec::new(),
                statuses: Vec::new(),
                settings: Default::default(),
            },
        );
    }

    /// A repository whose `main` holds these text files.
    pub fn create_repo_with(&self, full_name: &str, files: &[(&str, &str)]) {
        let dir = tempfile::tempdir().expect("temporary directory");
        for (path, content) in files {
            let target = dir.path().join(path);
            std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
            std::fs::write(target, content).expect("write");
        }
        self.create_repo(full_name, dir.path());
    }

    /// The bare git repository behind `full_name`.
    pub fn git_dir(&self, full_name: &str) -> PathBuf {
        self.lock().repos[full_name].git.path().to_path_buf()
    }

    fn first_repo(state: &State) -> String {
        state.first_repo.clone().expect("create a repository first")
    }

    /// A commit on `branch` (created from `main` if absent) writing or (`None`) deleting files,
    /// authored and committed by `author_email`: what a `git push` would bring.
    pub fn push_commit(
        &self,
        branch: &str,
        files: &[(&str, Option<&str>)],
        author_email: &str,
    ) -> String {
        let mut state = self.lock();
        let name = Self::first_repo(&state);
        state.ticker.stamp();
        let now = state.ticker.now;
        let author = state
            .people
            .by_email(author_email)
            .map_or_else(|| "Someone".to_owned(), |u| u.login.clone());
        let repo = &state.repos[&name].git;
        let parent = git::branch(repo, branch)
            .or_else(|| git::branch(repo, "main"))
            .expect("main exists");
        let base_tree = repo.find_commit(parent).expect("parent").tree_id();
        let changes: Vec<(String, Option<(git2::Oid, git2::FileMode)>)> = files
            .iter()
            .map(|(path, content)| {
                let blob =
                    content.map(|c| (repo.blob(c.as_bytes()).expect("blob"), git2::FileMode::Blob));
                ((*path).to_owned(), blob)
            })
            .collect();
        let tree = git::edit_tree(repo, Some(base_tree), &changes).expect("tree");
        let signature = git::signature(&author, author_email, now);
        let commit = git::commit(
            repo,
            &signature,
            &format!("Change {branch}"),
            tree,
            &[parent],
        )
        .expect("commit");
        repo.reference(&format!("refs/heads/{branch}"), commit, true, "push")
            .expect("branch");
        state.sync();
        commit.to_string()
    }

    /// The commit `branch` points at.
    pub fn branch_sha(&self, branch: &str) -> Option<String> {
        let state = self.lock();
        let name = Self::first_repo(&state);
        git::branch(&state.repos[&name].git, branch).map(|id| id.to_string())
    }

    /// The bytes of `path` at `rev` (a branch or sha), read from git.
    pub fn file_at(&self, rev: &str, path: &str) -> Option<Vec<u8>> {
        let state = self.lock();
        let name = Self::first_repo(&state);
        let repo = &state.repos[&name].git;
        let commit = repo.find_commit(git::resolve(repo, rev)?).ok()?;
        let entry = commit.tree().ok()?.get_path(Path::new(path)).ok()?;
        Some(repo.find_blob(entry.id()).ok()?.content().to_vec())
    }

    /// Sets the fake's clock (RFC 3339); later writes are stamped from there on.
    pub fn set_now(&self, at: &str) {
        self.lock().ticker.now = at.parse().expect("RFC 3339 time");
    }

    // -- pull requests, reviews, comments, issues --

    /// Calls the API as the token's user; panics unless GitHub would accept it.
    fn act(&self, token: &str, method: &str, rest: &str, body: Value) -> Value {
        let mut state = self.lock();
        let login = state
            .people
            .tokens
            .get(token)
            .cloned()
            .expect("unknown token");
        let path = format!("/repos/{}/{rest}", Self::first_repo(&state));
        let bytes = serde_json::to_vec(&body).expect("json");
        let reply = state.internal(method, &path, "", &login, &bytes);
        assert!(
            (200..300).contains(&reply.status),
            "{method} {path} as {login}: HTTP {} {}",
            reply.status,
            reply.body.unwrap_or_default()
        );
        reply.body.unwrap_or_default()
    }

    /// Opens a pull request from `head` into `base` as the token's user; returns its number.
    pub fn open_pull(
        &self,
        author_token: &str,
        head: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> u64 {
        let pull = self.act(
            author_token,
            "POST",
            "pulls",
            json!({"title": title, "head": head, "base": base, "body": body}),
        );
        pull["number"].as_u64().expect("number")
    }

    /// A review in `state` (`APPROVED`, `CHANGES_REQUESTED` or `COMMENTED`) on the current head.
    pub fn review(&self, token: &str, pr: u64, state: &str) -> u64 {
        self.post_review(token, pr, state, None)
    }

    /// A review in `state` recorded against `commit_id` (an older head, say).
    pub fn review_at(&self, token: &str, pr: u64, state: &str, commit_id: &str) -> u64 {
        self.post_review(token, pr, state, Some(commit_id))
    }

    fn post_review(&self, token: &str, pr: u64, state: &str, commit_id: Option<&str>) -> u64 {
        let event = match state {
            "APPROVED" => "APPROVE",
            "CHANGES_REQUESTED" => "REQUEST_CHANGES",
            "COMMENTED" => "COMMENT",
            other => panic!("review state {other} cannot be submitted; use dismiss_review"),
        };
        let mut body = json!({"event": event, "body": ""});
        if let Some(c) = commit_id {
            body["commit_id"] = json!(c);
        }
        let review = self.act(token, "POST", &format!("pulls/{pr}/reviews"), body);
        review["id"].as_u64().expect("id")
    }

    /// A review GitHub itself would refuse (the author approving their own pull request), for
    /// tests of what portcullis must ignore even then.
    pub fn force_review(&self, login: &str, pr: u64, state: &str, commit_id: &str) -> u64 {
        let mut guard = self.lock();
        let name = Self::first_repo(&guard);
        let State { repos, ticker, .. } = &mut *guard;
        let pull = repos
            .get_mut(&name)
            .and_then(|r| r.items.get_mut(&pr))
            .and_then(|i| i.pull.as_mut())
            .expect("no such pull request");
        let id = ticker.id();
        pull.reviews.push(state::ReviewRec {
            id,
            user: login.to_owned(),
            state: state.to_owned(),
            commit_id: commit_id.to_owned(),
            submitted_at: ticker.stamp(),
            body: String::new(),
        });
        id
    }

    /// Dismisses a review, as a maintainer can: its state becomes `DISMISSED`.
    pub fn dismiss_review(&self, pr: u64, review_id: u64) {
        let mut state = self.lock();
        let name = Self::first_repo(&state);
        let review = state
            .repos
            .get_mut(&name)
            .and_then(|r| r.items.get_mut(&pr))
            .and_then(|i| i.pull.as_mut())
            .and_then(|p| p.reviews.iter_mut().find(|r| r.id == review_id))
            .expect("no such review");
        review.state = "DISMISSED".to_owned();
    }

    /// A conversation comment on an issue or pull request; returns its id.
    /// Changes a pull request's base branch, as the token's user (a retarget).
    pub fn retarget(&self, token: &str, pr: u64, base: &str) {
        self.act(
            token,
            "PATCH",
            &format!("pulls/{pr}"),
            json!({"base": base}),
        );
    }

    /// Edits any comment as the token's user: GitHub lets every writer edit anyone's comment.
    pub fn edit_comment(&self, token: &str, id: u64, body: &str) {
        self.act(
            token,
            "PATCH",
            &format!("issues/comments/{id}"),
            json!({"body": body}),
        );
    }

    pub fn comment(&self, token: &str, pr: u64, body: &str) -> u64 {
        let comment = self.act(
            token,
            "POST",
            &format!("issues/{pr}/comments"),
            json!({"body": body}),
        );
        comment["id"].as_u64().expect("id")
    }

    /// An issue opened by the token's user; returns its number.
    pub fn create_issue(&self, token: &str, title: &str, body: &str, labels: &[&str]) -> u64 {
        let issue = self.act(
            token,
            "POST",
            "issues",
            json!({"title": title, "body": body, "labels": labels}),
        );
        issue["number"].as_u64().expect("number")
    }

    /// The team slugs and user logins asked to review a pull request.
    pub fn requested_reviewers(&self, pr: u64) -> (Vec<String>, Vec<String>) {
        let state = self.lock();
        let name = Self::first_repo(&state);
        let pull = state.repos[&name]
            .items
            .get(&pr)
            .and_then(|i| i.pull.as_ref())
            .expect("no such pull request");
        (pull.requested_teams.clone(), pull.requested_users.clone())
    }

    /// The team slugs asked to review a pull request.
    pub fn requested_teams(&self, pr: u64) -> Vec<String> {
        self.requested_reviewers(pr).0
    }

    /// Merges pull request `pr` as `login` with GitHub's `method` (merge, squash or rebase), as
    /// the button on the pull request's page does. Returns the commit GitHub reports.
    pub fn merge_by(&self, login: &str, pr: u64, method: &str) -> String {
        let mut state = self.lock();
        let name = Self::first_repo(&state);
        let sha = state
            .merge_as(&name, pr, login, None, method)
            .unwrap_or_else(|e| panic!("merge: {} {:?}", e.status, e.body));
        state.sync();
        sha
    }

    /// Merges pull request `pr` with a merge commit that also writes `files`: content nobody
    /// approved landing with an approved pull request (a hand-resolved merge, an edit on the
    /// way in). Returns the merge commit.
    pub fn merge_with_edits(&self, pr: u64, files: &[(&str, Option<&str>)]) -> String {
        let mut guard = self.lock();
        let name = Self::first_repo(&guard);
        let State { repos, ticker, .. } = &mut *guard;
        let now = ticker.stamp();
        let repo = repos.get_mut(&name).expect("repository");
        let item = repo.items.get_mut(&pr).expect("no such pull request");
        let pull = item.pull.as_mut().expect("a pull request");
        let base = git::branch(&repo.git, &pull.base_ref).expect("base branch");
        let head = git2::Oid::from_str(&pull.head_sha).expect("head");
        let signature = git::signature("admin", "admin@example.com", ticker.now);
        let merged = git::merge(&repo.git, base, head, &signature, "merge")
            .expect("merge")
            .expect("no conflict");
        let tree = repo.git.find_commit(merged).expect("merge").tree_id();
        let changes: Vec<(String, Option<(git2::Oid, git2::FileMode)>)> = files
            .iter()
            .map(|(path, content)| {
                let blob = content.map(|c| {
                    (
                        repo.git.blob(c.as_bytes()).expect("blob"),
                        git2::FileMode::Blob,
                    )
                });
                ((*path).to_owned(), blob)
            })
            .collect();
        let tree = git::edit_tree(&repo.git, Some(tree), &changes).expect("tree");
        let message = format!("Merge pull request #{pr}");
        let commit =
            git::commit(&repo.git, &signature, &message, tree, &[base, head]).expect("commit");
        repo.git
            .reference(
                &format!("refs/heads/{}", pull.base_ref),
                commit,
                true,
                "merge",
            )
            .expect("branch");
        pull.base_sha = base.to_string();
        pull.merged = true;
        pull.merge_commit_sha = Some(commit.to_string());
        pull.merged_at = Some(now.clone());
        item.state = "closed".to_owned();
        item.closed_at = Some(now.clone());
        item.updated_at = now;
        commit.to_string()
    }

    /// Closes (or with `open`, reopens) an issue as the token's user.
    pub fn set_issue_state(&self, token: &str, number: u64, state: &str) {
        self.act(
            token,
            "PATCH",
            &format!("issues/{number}"),
            json!({"state": state}),
        );
    }

    // -- faults and the request log --

    /// The next `count` requests with `method` (`*` for any) whose raw path and query contain
    /// `path_substring` get `status` with `headers` and GitHub's error body for it.
    pub fn fail_next(
        &self,
        method: &str,
        path_substring: &str,
        status: u16,
        headers: &[(&str, &str)],
        count: u32,
    ) {
        if count == 0 {
            return;
        }
        self.lock().faults.push(Fault {
            method: method.to_owned(),
            needle: path_substring.to_owned(),
            status,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            remaining: count,
            skip: 0,
            kind: Injected::Fail,
        });
    }

    /// Like [`FakeGitHub::fail_next`], failing only the `nth` (from 1) matching request, once.
    pub fn fail_nth(&self, method: &str, path_substring: &str, nth: u32, status: u16) {
        self.inject_nth(method, path_substring, nth, Injected::Fail, status);
    }

    /// Injects `kind` into the `nth` (from 1) request with `method` (`*` for any) whose path
    /// and query contain `path_substring`, once.
    pub fn inject_nth(
        &self,
        method: &str,
        path_substring: &str,
        nth: u32,
        kind: Injected,
        status: u16,
    ) {
        self.lock().faults.push(Fault {
            method: method.to_owned(),
            needle: path_substring.to_owned(),
            status,
            headers: Vec::new(),
            remaining: 1,
            skip: nth.saturating_sub(1),
            kind,
        });
    }

    /// The next request with `method` whose path and query contain `path_substring` gets the
    /// least answer GitHub's description allows for it: every required field and no other,
    /// `null` wherever it may be null, one item in a list.
    pub fn answer_least_next(&self, method: &str, path_substring: &str, status: u16) {
        self.inject_nth(method, path_substring, 1, Injected::Least, status);
    }

    /// Every request received, in order (helpers' calls are not in it).
    pub fn requests(&self) -> Vec<Logged> {
        self.lock().log.clone()
    }

    /// The requests other than GETs and GraphQL queries (reads, though sent with POST).
    pub fn writes(&self) -> Vec<Logged> {
        self.requests()
            .into_iter()
            .filter(|r| r.method != "GET" && r.path != "/graphql")
            .collect()
    }
}

async fn serve(
    state: Arc<Mutex<State>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 256 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let reply = state.lock().unwrap_or_else(|e| e.into_inner()).handle(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query().unwrap_or(""),
        &headers,
        &bytes,
    );
    if reply.hang {
        // Held open: the client times out, or is killed while it waits.
        std::future::pending::<()>().await;
    }
    let mut response = axum::response::Response::builder().status(reply.status);
    for (k, v) in &reply.headers {
        response = response.header(k.as_str(), v.as_str());
    }
    let body = match reply.body {
        Some(v) => {
            response = response.header("content-type", "application/json; charset=utf-8");
            axum::body::Body::from(serde_json::to_vec(&v).unwrap_or_default())
        }
        None => axum::body::Body::empty(),
    };
    response.body(body).unwrap_or_default()
}
