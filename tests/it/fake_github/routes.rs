//! The fake's REST API: one dispatch on method and decoded path segments, answering with
//! GitHub's shapes, status codes and error bodies.

use git2::{FileMode, Oid};
use serde_json::{Value, json};

use super::git;
use super::state::{CommentRec, Item, Logged, PullRec, Repo, ReviewRec, State, StatusRec};

pub struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    pub headers: Vec<(String, String)>,
}

type Res = Result<Reply, Reply>;

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    fn ok(body: Value) -> Res {
        Ok(Reply::json(200, body))
    }

    fn created(body: Value) -> Res {
        Ok(Reply::json(201, body))
    }

    fn no_content() -> Res {
        Ok(Reply {
            status: 204,
            body: None,
            headers: Vec::new(),
        })
    }

    pub fn error(status: u16, message: &str) -> Reply {
        Reply::json(
            status,
            json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": status.to_string()}),
        )
    }

    fn not_found() -> Reply {
        Reply::error(404, "Not Found")
    }

    /// A 422 with GitHub's `errors` list.
    fn invalid(resource: &str, field: &str, code: &str, message: Option<&str>) -> Reply {
        let mut error = json!({"resource": resource, "field": field, "code": code});
        if let Some(m) = message {
            error["message"] = json!(m);
        }
        let mut reply = Reply::error(422, "Validation Failed");
        if let Some(body) = &mut reply.body {
            body["errors"] = json!([error]);
        }
        reply
    }

    fn unprocessable(message: &str) -> Reply {
        Reply::error(422, message)
    }
}

impl From<git2::Error> for Reply {
    fn from(e: git2::Error) -> Reply {
        Reply::error(500, &format!("git: {}", e.message()))
    }
}

/// A request, decoded.
pub struct Req<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    pub query: Vec<(String, String)>,
    pub body: Value,
    pub login: String,
}

impl Req<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn field(&self, name: &str) -> Option<&str> {
        self.body.get(name).and_then(Value::as_str)
    }

    fn strings(&self, name: &str) -> Vec<String> {
        self.body
            .get(name)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((decode(&k.replace('+', " "))?, decode(&v.replace('+', " "))?))
        })
        .collect()
}

fn number(s: &str) -> Result<u64, Reply> {
    s.parse().map_err(|_| Reply::not_found())
}

fn oid(repo: &Repo, sha: &str) -> Option<Oid> {
    let id = Oid::from_str(sha).ok().filter(|_| sha.len() == 40)?;
    repo.git.find_object(id, None).ok().map(|o| o.id())
}

fn wrap_base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    let text = base64::prelude::BASE64_STANDARD.encode(bytes);
    let mut out = String::with_capacity(text.len() + text.len() / 60 + 1);
    for chunk in text.as_bytes().chunks(60) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

impl State {
    /// Answers one HTTP request and logs it.
    pub fn handle(
        &mut self,
        method: &str,
        raw_path: &str,
        raw_query: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Reply {
        let reply = match self.fault(method, raw_path, raw_query) {
            Some(reply) => reply,
            None => self.respond(method, raw_path, raw_query, headers, body),
        };
        self.log.push(Logged {
            method: method.to_owned(),
            path: raw_path.to_owned(),
            query: raw_query.to_owned(),
            status: reply.status,
            headers: headers.to_vec(),
        });
        reply
    }

    fn fault(&mut self, method: &str, raw_path: &str, raw_query: &str) -> Option<Reply> {
        let target = format!("{raw_path}?{raw_query}");
        let i = self.faults.iter().position(|f| {
            (f.method == "*" || f.method.eq_ignore_ascii_case(method)) && target.contains(&f.needle)
        })?;
        let fault = &mut self.faults[i];
        fault.remaining -= 1;
        let rate_limited = fault
            .headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("x-ratelimit-remaining") && v == "0");
        let message = match fault.status {
            429 => "API rate limit exceeded".to_owned(),
            403 if rate_limited => "API rate limit exceeded for user ID 1.".to_owned(),
            403 => "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.".to_owned(),
            s if s >= 500 => "Server Error".to_owned(),
            s => format!("Injected failure {s}"),
        };
        let mut reply = Reply::error(fault.status, &message);
        reply.headers = fault.headers.clone();
        if fault.remaining == 0 {
            self.faults.remove(i);
        }
        Some(reply)
    }

    fn respond(
        &mut self,
        method: &str,
        raw_path: &str,
        raw_query: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Reply {
        let auth = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.as_str());
        let token = auth.and_then(|a| a.strip_prefix("Bearer ").or(a.strip_prefix("token ")));
        let login = match token {
            None => return Reply::error(401, "Requires authentication"),
            Some(t) => match self.people.tokens.get(t) {
                Some(login) => login.clone(),
                None => return Reply::error(401, "Bad credentials"),
            },
        };
        self.internal(method, raw_path, raw_query, &login, body)
    }

    /// Answers a request as `login` without faults or logging: the test helpers' way in, so
    /// they act exactly as the API does.
    pub fn internal(
        &mut self,
        method: &str,
        raw_path: &str,
        raw_query: &str,
        login: &str,
        body: &[u8],
    ) -> Reply {
        let body = if body.is_empty() {
            Value::Null
        } else {
            match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(_) => return Reply::error(400, "Problems parsing JSON"),
            }
        };
        let Some(segs) = raw_path
            .trim_start_matches('/')
            .split('/')
            .map(decode)
            .collect::<Option<Vec<String>>>()
        else {
            return Reply::not_found();
        };
        self.sync();
        let req = Req {
            method,
            raw_path,
            raw_query,
            query: parse_query(raw_query),
            body,
            login: login.to_owned(),
        };
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        match self.route(&req, &segs) {
            Ok(r) | Err(r) => r,
        }
    }

    /// Open pull requests follow their head branch, as GitHub's do when a branch is pushed.
    pub fn sync(&mut self) {
        let State { repos, ticker, .. } = self;
        for repo in repos.values_mut() {
            for item in repo.items.values_mut() {
                let Some(pull) = item.pull.as_mut().filter(|_| item.state == "open") else {
                    continue;
                };
                if let Some(base) = git::branch(&repo.git, &pull.base_ref) {
                    pull.base_sha = base.to_string();
                }
                let Some(head) = git::branch(&repo.git, &pull.head_ref) else {
                    continue;
                };
                if head.to_string() != pull.head_sha {
                    pull.head_sha = head.to_string();
                    let _ = repo.git.reference(
                        &format!("refs/pull/{}/head", item.number),
                        head,
                        true,
                        "pull request head moved",
                    );
                    item.updated_at = ticker.stamp();
                }
            }
        }
    }

    fn route(&mut self, req: &Req<'_>, segs: &[&str]) -> Res {
        match (req.method, segs) {
            ("GET", ["users", login]) => match self.people.find(login) {
                Some(u) => Reply::ok(self.people.user_json(&u.login.clone())),
                None => Err(Reply::not_found()),
            },
            ("GET", ["orgs", org, "teams", slug, "members"]) => {
                let team = self.people.team(org, slug).ok_or_else(Reply::not_found)?;
                let members = team
                    .iter()
                    .filter(|(_, state)| state == "active")
                    .map(|(login, _)| self.people.user_json(login))
                    .collect();
                Ok(self.page(req, members))
            }
            (method, ["orgs", org, "teams", slug, "memberships", login]) => {
                self.membership(method, org, slug, login)
            }
            (method, ["repos", owner, name, rest @ ..]) => {
                let full = format!("{owner}/{name}");
                if !self.repos.contains_key(&full) {
                    return Err(Reply::not_found());
                }
                self.repo_route(method, &full, rest, req)
            }
            _ => Err(Reply::not_found()),
        }
    }

    fn membership(&mut self, method: &str, org: &str, slug: &str, login: &str) -> Res {
        let url = format!("/orgs/{org}/teams/{slug}/memberships/{login}");
        let found = self.people.find(login).map(|u| u.login.clone());
        let in_org = found.as_ref().is_some_and(|l| {
            self.people
                .org_members
                .get(org)
                .is_some_and(|m| m.contains(l))
        });
        let team = self
            .people
            .team_mut(org, slug)
            .ok_or_else(Reply::not_found)?;
        let position = team.iter().position(|(l, _)| l.eq_ignore_ascii_case(login));
        let render = |state: &str| json!({"url": url, "role": "member", "state": state});
        match (method, position) {
            ("GET", Some(i)) => Reply::ok(render(&team[i].1)),
            ("PUT", Some(i)) => Reply::ok(render(&team[i].1)),
            ("PUT", None) => {
                let login = found.ok_or_else(Reply::not_found)?;
                let state = if in_org { "active" } else { "pending" };
                team.push((login, state.to_owned()));
                Reply::ok(render(state))
            }
            ("DELETE", Some(i)) => {
                team.remove(i);
                Reply::no_content()
            }
            _ => Err(Reply::not_found()),
        }
    }

    /// One page of `items` as GitHub pages lists: `per_page` (default 30, at most 100) and
    /// `page`, with `Link` relations to the other pages.
    fn page(&self, req: &Req<'_>, items: Vec<Value>) -> Reply {
        let per_page = req
            .param("per_page")
            .and_then(|p| p.parse::<usize>().ok())
            .unwrap_or(30)
            .clamp(1, 100);
        let page = req
            .param("page")
            .and_then(|p| p.parse::<usize>().ok())
            .unwrap_or(1)
            .max(1);
        let last = items.len().div_ceil(per_page).max(1);
        let chunk: Vec<Value> = items
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .collect();
        let mut reply = Reply::json(200, Value::Array(chunk));
        if last > 1 {
            let kept: Vec<&str> = req
                .raw_query
                .split('&')
                .filter(|p| !p.is_empty() && !p.starts_with("page=") && !p.starts_with("per_page="))
                .collect();
            let link = |n: usize, rel: &str| {
                let mut q = kept.clone();
                let pp = format!("per_page={per_page}");
                let pg = format!("page={n}");
                q.push(&pp);
                q.push(&pg);
                format!(
                    "<{}{}?{}>; rel=\"{rel}\"",
                    self.base_url,
                    req.raw_path,
                    q.join("&")
                )
            };
            let mut rels = Vec::new();
            if page > 1 {
                rels.push(link(page - 1, "prev"));
            }
            if page < last {
                rels.push(link(page + 1, "next"));
                rels.push(link(last, "last"));
            }
            if page > 1 {
                rels.push(link(1, "first"));
            }
            reply.headers.push(("link".to_owned(), rels.join(", ")));
        }
        reply
    }

    fn repo_route(&mut self, method: &str, full: &str, rest: &[&str], req: &Req<'_>) -> Res {
        match (method, rest) {
            ("GET", ["pulls"]) => self.list_pulls(full, req),
            ("POST", ["pulls"]) => self.create_pull(full, req),
            ("GET", ["pulls", n]) => self
                .with_pull(full, number(n)?, |repo, people, item| {
                    Ok(repo.pull_json(people, item, false))
                })
                .map(|v| Reply::json(200, v)),
            ("PATCH", ["pulls", n]) => self.update_item(full, number(n)?, req, true),
            ("GET", ["pulls", n, "commits"]) => self.pull_commits(full, number(n)?, req),
            ("GET", ["pulls", n, "files"]) => self.pull_files(full, number(n)?, req),
            ("GET", ["pulls", n, "reviews"]) => {
                let reviews = self.with_pull(full, number(n)?, |repo, people, item| {
                    let pull = item.pull.as_ref().expect("pull");
                    Ok(pull
                        .reviews
                        .iter()
                        .map(|r| repo.review_json(people, item.number, r))
                        .collect())
                })?;
                Ok(self.page(req, reviews))
            }
            ("POST", ["pulls", n, "reviews"]) => self.create_review(full, number(n)?, req),
            ("POST", ["pulls", n, "requested_reviewers"]) => {
                self.request_reviewers(full, number(n)?, req)
            }
            ("PUT", ["pulls", n, "merge"]) => self.merge(full, number(n)?, req),
            ("GET", ["issues"]) => self.list_issues(full, req),
            ("POST", ["issues"]) => self.create_issue(full, req),
            ("PATCH", ["issues", "comments", id]) => self.update_comment(full, number(id)?, req),
            ("GET", ["issues", n]) => {
                let State { repos, people, .. } = self;
                let repo = &repos[full];
                let item = repo.items.get(&number(n)?).ok_or_else(Reply::not_found)?;
                Reply::ok(repo.issue_json(people, item))
            }
            ("PATCH", ["issues", n]) => self.update_item(full, number(n)?, req, false),
            ("GET", ["issues", n, "comments"]) => {
                let n = number(n)?;
                let State { repos, people, .. } = self;
                let repo = &repos[full];
                if !repo.items.contains_key(&n) {
                    return Err(Reply::not_found());
                }
                let comments = repo
                    .comments
                    .iter()
                    .filter(|c| c.issue == n)
                    .map(|c| repo.comment_json(people, c))
                    .collect();
                Ok(self.page(req, comments))
            }
            ("POST", ["issues", n, "comments"]) => self.create_comment(full, number(n)?, req),
            ("POST", ["issues", n, "labels"]) => self.add_labels(full, number(n)?, req),
            ("POST", ["statuses", sha]) => self.create_status(full, sha, req),
            ("GET", ["commits", rev, "statuses"]) => {
                let State { repos, people, .. } = self;
                let repo = &repos[full];
                let sha = git::resolve(&repo.git, rev)
                    .ok_or_else(|| {
                        Reply::unprocessable(&format!("No commit found for SHA: {rev}"))
                    })?
                    .to_string();
                let statuses = repo
                    .statuses
                    .iter()
                    .rev()
                    .filter(|s| s.sha == sha)
                    .map(|s| repo.status_json(people, s))
                    .collect();
                Ok(self.page(req, statuses))
            }
            ("GET", ["git", "ref", name @ ..]) => {
                let repo = &self.repos[full];
                let name = format!("refs/{}", name.join("/"));
                let reference = repo
                    .git
                    .find_reference(&name)
                    .map_err(|_| Reply::not_found())?;
                let sha = reference.target().ok_or_else(Reply::not_found)?;
                Reply::ok(ref_json(full, &name, sha))
            }
            ("POST", ["git", "refs"]) => self.create_ref(full, req),
            ("PATCH", ["git", "refs", name @ ..]) => {
                self.update_ref(full, &format!("refs/{}", name.join("/")), req)
            }
            ("POST", ["git", "blobs"]) => {
                let repo = &self.repos[full];
                let content = req
                    .field("content")
                    .ok_or_else(|| Reply::invalid("Blob", "content", "missing_field", None))?;
                let bytes = match req.field("encoding").unwrap_or("utf-8") {
                    "base64" => {
                        use base64::Engine as _;
                        let compact: String = content.split_whitespace().collect();
                        base64::prelude::BASE64_STANDARD
                            .decode(compact)
                            .map_err(|_| Reply::unprocessable("Invalid base64 content"))?
                    }
                    "utf-8" | "utf8" => content.as_bytes().to_vec(),
                    other => {
                        return Err(Reply::unprocessable(&format!(
                            "encoding must be utf-8 or base64, not {other}"
                        )));
                    }
                };
                let id = repo.git.blob(&bytes)?;
                Reply::created(
                    json!({"sha": id.to_string(), "url": format!("/repos/{full}/git/blobs/{id}")}),
                )
            }
            ("GET", ["git", "blobs", sha]) => {
                let repo = &self.repos[full];
                let blob = oid(repo, sha)
                    .and_then(|id| repo.git.find_blob(id).ok())
                    .ok_or_else(Reply::not_found)?;
                Reply::ok(json!({
                    "sha": sha, "size": blob.size(), "encoding": "base64",
                    "content": wrap_base64(blob.content()),
                }))
            }
            ("POST", ["git", "trees"]) => self.create_tree(full, req),
            ("POST", ["git", "commits"]) => self.create_commit(full, req),
            ("GET", ["git", "commits", sha]) => {
                let repo = &self.repos[full];
                let id = oid(repo, sha)
                    .filter(|id| repo.git.find_commit(*id).is_ok())
                    .ok_or_else(Reply::not_found)?;
                Reply::ok(repo.git_commit_json(id)?)
            }
            ("GET", ["contents", path @ ..]) => self.contents(full, &path.join("/"), req),
            _ => Err(Reply::not_found()),
        }
    }

    fn with_pull<T>(
        &self,
        full: &str,
        n: u64,
        f: impl FnOnce(&Repo, &super::state::People, &Item) -> Result<T, Reply>,
    ) -> Result<T, Reply> {
        let repo = &self.repos[full];
        let item = repo
            .items
            .get(&n)
            .filter(|i| i.pull.is_some())
            .ok_or_else(Reply::not_found)?;
        f(repo, &self.people, item)
    }

    fn list_pulls(&self, full: &str, req: &Req<'_>) -> Res {
        let repo = &self.repos[full];
        let state = req.param("state").unwrap_or("open");
        let head = req.param("head");
        let base = req.param("base");
        let pulls = repo
            .items
            .values()
            .rev()
            .filter(|i| {
                let Some(p) = &i.pull else { return false };
                (state == "all" || i.state == state)
                    && head.is_none_or(|h| h == format!("{}:{}", repo.owner(), p.head_ref))
                    && base.is_none_or(|b| b == p.base_ref)
            })
            .map(|i| repo.pull_json(&self.people, i, true))
            .collect();
        Ok(self.page(req, pulls))
    }

    fn create_pull(&mut self, full: &str, req: &Req<'_>) -> Res {
        let State {
            repos,
            people,
            ticker,
            ..
        } = self;
        let repo = repos.get_mut(full).expect("checked");
        let title = req
            .field("title")
            .ok_or_else(|| Reply::invalid("PullRequest", "title", "missing_field", None))?;
        let head_arg = req
            .field("head")
            .ok_or_else(|| Reply::invalid("PullRequest", "head", "missing_field", None))?;
        let head_ref = match head_arg.split_once(':') {
            Some((owner, branch)) if owner == repo.owner() => branch,
            Some(_) => return Err(Reply::invalid("PullRequest", "head", "invalid", None)),
            None => head_arg,
        };
        let base_ref = req
            .field("base")
            .ok_or_else(|| Reply::invalid("PullRequest", "base", "missing_field", None))?;
        let base = git::branch(&repo.git, base_ref)
            .ok_or_else(|| Reply::invalid("PullRequest", "base", "invalid", None))?;
        let head = git::branch(&repo.git, head_ref)
            .ok_or_else(|| Reply::invalid("PullRequest", "head", "invalid", None))?;
        let duplicate = repo.items.values().any(|i| {
            i.state == "open"
                && i.pull
                    .as_ref()
                    .is_some_and(|p| p.head_ref == head_ref && p.base_ref == base_ref)
        });
        if duplicate {
            let message = format!(
                "A pull request already exists for {}:{head_ref}.",
                repo.owner()
            );
            return Err(Reply::invalid("PullRequest", "", "custom", Some(&message)));
        }
        if repo.git.merge_base(base, head)? == head {
            let message = format!("No commits between {base_ref} and {head_ref}");
            return Err(Reply::invalid("PullRequest", "", "custom", Some(&message)));
        }
        let number = repo.items.keys().next_back().copied().unwrap_or(0) + 1;
        repo.git.reference(
            &format!("refs/pull/{number}/head"),
            head,
            true,
            "pull request opened",
        )?;
        let now = ticker.stamp();
        let item = Item {
            number,
            id: ticker.id(),
            title: title.to_owned(),
            body: req.field("body").map(str::to_owned),
            author: req.login.clone(),
            state: "open".to_owned(),
            labels: Vec::new(),
            assignees: Vec::new(),
            created_at: now.clone(),
            updated_at: now,
            closed_at: None,
            pull: Some(PullRec {
                head_ref: head_ref.to_owned(),
                base_ref: base_ref.to_owned(),
                head_sha: head.to_string(),
                base_sha: base.to_string(),
                merged: false,
                merge_commit_sha: None,
                merged_at: None,
                draft: req
                    .body
                    .get("draft")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                reviews: Vec::new(),
                requested_users: Vec::new(),
                requested_teams: Vec::new(),
            }),
        };
        let json = repo.pull_json(people, &item, false);
        repo.items.insert(number, item);
        Reply::created(json)
    }

    /// `PATCH pulls/{n}` (`as_pull`) and `PATCH issues/{n}`: title, body, state.
    fn update_item(&mut self, full: &str, n: u64, req: &Req<'_>, as_pull: bool) -> Res {
        let State {
            repos,
            people,
            ticker,
            ..
        } = self;
        let repo = repos.get_mut(full).expect("checked");
        let item = repo
            .items
            .get_mut(&n)
            .filter(|i| !as_pull || i.pull.is_some())
            .ok_or_else(Reply::not_found)?;
        let now = ticker.stamp();
        if let Some(state) = req.field("state") {
            if state != "open" && state != "closed" {
                return Err(Reply::invalid("Issue", "state", "invalid", None));
            }
            if state == "open" && item.pull.as_ref().is_some_and(|p| p.merged) {
                return Err(Reply::unprocessable("Cannot reopen a merged pull request"));
            }
            if state != item.state {
                item.closed_at = (state == "closed").then(|| now.clone());
                item.state = state.to_owned();
            }
        }
        if let Some(title) = req.field("title") {
            item.title = title.to_owned();
        }
        if let Some(body) = req.field("body") {
            item.body = Some(body.to_owned());
        }
        item.updated_at = now;
        let item = &repo.items[&n];
        Reply::ok(if as_pull {
            repo.pull_json(people, item, false)
        } else {
            repo.issue_json(people, item)
        })
    }

    fn pull_commits(&self, full: &str, n: u64, req: &Req<'_>) -> Res {
        let commits = self.with_pull(full, n, |repo, people, item| {
            let pull = item.pull.as_ref().expect("pull");
            let head = Oid::from_str(&pull.head_sha)?;
            let base = Oid::from_str(&pull.base_sha)?;
            let ids = git::commits_between(&repo.git, base, head)?;
            ids.into_iter()
                .map(|id| repo.commit_json(people, id).map_err(Reply::from))
                .collect::<Result<Vec<_>, _>>()
        })?;
        Ok(self.page(req, commits))
    }

    fn pull_files(&self, full: &str, n: u64, req: &Req<'_>) -> Res {
        let files = self.with_pull(full, n, |repo, _, item| {
            let pull = item.pull.as_ref().expect("pull");
            let changes = git::files_between(
                &repo.git,
                Oid::from_str(&pull.base_sha)?,
                Oid::from_str(&pull.head_sha)?,
            )?;
            Ok(changes
                .into_iter()
                .map(|c| {
                    let mut v = json!({
                        "sha": c.sha, "filename": c.filename, "status": c.status,
                        "additions": 0, "deletions": 0, "changes": 0,
                    });
                    if let Some(p) = c.previous_filename {
                        v["previous_filename"] = json!(p);
                    }
                    v
                })
                .collect())
        })?;
        Ok(self.page(req, files))
    }

    fn create_review(&mut self, full: &str, n: u64, req: &Req<'_>) -> Res {
        let State {
            repos,
            people,
            ticker,
            ..
        } = self;
        let repo = repos.get_mut(full).expect("checked");
        let item = repo
            .items
            .get_mut(&n)
            .filter(|i| i.pull.is_some())
            .ok_or_else(Reply::not_found)?;
        let state = match req.field("event") {
            Some("APPROVE") => "APPROVED",
            Some("REQUEST_CHANGES") => "CHANGES_REQUESTED",
            Some("COMMENT") => "COMMENTED",
            _ => {
                return Err(Reply::invalid(
                    "PullRequestReview",
                    "event",
                    "invalid",
                    None,
                ));
            }
        };
        if state != "COMMENTED" && item.author.eq_ignore_ascii_case(&req.login) {
            let what = if state == "APPROVED" {
                "approve"
            } else {
                "request changes on"
            };
            return Err(Reply::unprocessable(&format!(
                "Unprocessable Entity: Can not {what} your own pull request"
            )));
        }
        let pull = item.pull.as_mut().expect("pull");
        let review = ReviewRec {
            id: ticker.id(),
            user: req.login.clone(),
            state: state.to_owned(),
            commit_id: req
                .field("commit_id")
                .map_or_else(|| pull.head_sha.clone(), str::to_owned),
            submitted_at: ticker.stamp(),
            body: req.field("body").unwrap_or_default().to_owned(),
        };
        let json = repo.review_json(people, n, &review);
        let pull = repo
            .items
            .get_mut(&n)
            .and_then(|i| i.pull.as_mut())
            .expect("pull");
        pull.requested_users
            .retain(|u| !u.eq_ignore_ascii_case(&req.login));
        pull.reviews.push(review);
        Reply::ok(json)
    }

    fn request_reviewers(&mut self, full: &str, n: u64, req: &Req<'_>) -> Res {
        let State { repos, people, .. } = self;
        let repo = repos.get_mut(full).expect("checked");
        let owner = repo.owner().to_owned();
        let item = repo
            .items
            .get_mut(&n)
            .filter(|i| i.pull.is_some())
            .ok_or_else(Reply::not_found)?;
        let users = req.strings("reviewers");
        let teams = req.strings("team_reviewers");
        for user in &users {
            let Some(u) = people.find(user) else {
                return Err(Reply::unprocessable(
                    "Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the repository.",
                ));
            };
            if u.login.eq_ignore_ascii_case(&item.author) {
                return Err(Reply::unprocessable(
                    "Review cannot be requested from pull request author.",
                ));
            }
        }
        if teams.iter().any(|t| people.team(&owner, t).is_none()) {
            return Err(Reply::unprocessable(
                "Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the repository.",
            ));
        }
        let pull = item.pull.as_mut().expect("pull");
        for user in users {
            if !pull.requested_users.contains(&user) {
                pull.requested_users.push(user);
            }
        }
        for team in teams {
            if !pull.requested_teams.contains(&team) {
                pull.requested_teams.push(team);
            }
        }
        let item = &repo.items[&n];
        Reply::created(repo.pull_json(people, item, false))
    }

    fn merge(&mut self, full: &str, n: u64, req: &Req<'_>) -> Res {
        let State {
            repos,
            people,
            ticker,
            ..
        } = self;
        let repo = repos.get_mut(full).expect("checked");
        let owner = repo.owner().to_owned();
        let item = repo
            .items
            .get_mut(&n)
            .filter(|i| i.pull.is_some())
            .ok_or_else(Reply::not_found)?;
        let pull = item.pull.as_mut().expect("pull");
        if item.state != "open" || pull.merged {
            return Err(Reply::error(405, "Pull Request is not mergeable"));
        }
        if req.field("sha").is_some_and(|sha| sha != pull.head_sha) {
            return Err(Reply::error(
                409,
                "Head branch was modified. Review and try the merge again.",
            ));
        }
        let base = git::branch(&repo.git, &pull.base_ref)
            .ok_or_else(|| Reply::error(405, "Pull Request is not mergeable"))?;
        let head = Oid::from_str(&pull.head_sha)?;
        let user = people.find(&req.login).expect("token user exists");
        let email = user
            .emails
            .first()
            .cloned()
            .unwrap_or_else(|| format!("{}@users.noreply.github.test", user.login));
        let signature = git::signature(&user.login, &email, ticker.now);
        let message = format!(
            "Merge pull request #{n} from {owner}/{}\n\n{}",
            pull.head_ref, item.title
        );
        let merge = git::merge(&repo.git, base, head, &signature, &message)?
            .ok_or_else(|| Reply::error(405, "Pull Request is not mergeable"))?;
        repo.git.reference(
            &format!("refs/heads/{}", pull.base_ref),
            merge,
            true,
            "merge pull request",
        )?;
        let now = ticker.stamp();
        pull.base_sha = base.to_string();
        pull.merged = true;
        pull.merge_commit_sha = Some(merge.to_string());
        pull.merged_at = Some(now.clone());
        item.state = "closed".to_owned();
        item.closed_at = Some(now.clone());
        item.updated_at = now;
        Reply::ok(
            json!({"sha": merge.to_string(), "merged": true, "message": "Pull Request successfully merged"}),
        )
    }

    fn list_issues(&self, full: &str, req: &Req<'_>) -> Res {
        let repo = &self.repos[full];
        let state = req.param("state").unwrap_or("open");
        let labels: Vec<&str> = req
            .param("labels")
            .map(|l| l.split(',').filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        let issues = repo
            .items
            .values()
            .rev()
            .filter(|i| {
                (state == "all" || i.state == state)
                    && labels.iter().all(|l| i.labels.iter().any(|x| x == l))
            })
            .map(|i| repo.issue_json(&self.people, i))
            .collect();
        Ok(self.page(req, issues))
    }

    fn create_issue(&mut self, full: &str, req: &Req<'_>) -> Res {
        let State {
            repos,
            people,
            ticker,
            ..
        } = self;
        let repo = repos.get_mut(full).expect("checked");
        let title = req
            .field("title")
            .ok_or_else(|| Reply::invalid("Issue", "title", "missing_field", None))?;
        let mut assignees = Vec::new();
        for a in req.strings("assignees") {
            let user = people
                .find(&a)
                .ok_or_else(|| Reply::invalid("Issue", "assignees", "invalid", Some(&a)))?;
            assignees.push(user.login.clone());
        }
        let number = repo.items.keys().next_back().copied().unwrap_or(0) + 1;
        let now = ticker.stamp();
        let item = Item {
            number,
            id: ticker.id(),
            title: title.to_owned(),
            body: req.field("body").map(str::to_owned),
            author: req.login.clone(),
            state: "open".to_owned(),
            labels: req.strings("labels"),
            assignees,
            created_at: now.clone(),
            updated_at: now,
            closed_at: None,
            pull: None,
        };
        let json = repo.issue_json(people, &item);
        repo.items.insert(number, item);
        Reply::created(json)
    }

    fn create_comment(&mut self, full: &str, n: u64, req: &Req<'_>) -> Res {
        let State {
            repos,
            people,
            ticker,
            ..
        } = self;
        let repo = repos.get_mut(full).expect("checked");
        let item = repo.items.get_mut(&n).ok_or_else(Reply::not_found)?;
        let body = req
            .field("body")
            .ok_or_else(|| Reply::invalid("IssueComment", "body", "missing_field", None))?;
        let now = ticker.stamp();
        item.updated_at = now.clone();
        let comment = CommentRec {
            id: ticker.id(),
            issue: n,
            user: req.login.clone(),
            body: body.to_owned(),
            created_at: now.clone(),
            updated_at: now,
        };
        let json = repo.comment_json(people, &comment);
        repo.comments.push(comment);
        Reply::created(json)
    }

    fn update_comment(&mut self, full: &str, id: u64, req: &Req<'_>) -> Res {
        let State {
            repos,
            people,
            ticker,
            ..
        } = self;
        let repo = repos.get_mut(full).expect("checked");
        let body = req
            .field("body")
            .ok_or_else(|| Reply::invalid("IssueComment", "body", "missing_field", None))?;
        let i = repo
            .comments
            .iter()
            .position(|c| c.id == id)
            .ok_or_else(Reply::not_found)?;
        repo.comments[i].body = body.to_owned();
        repo.comments[i].updated_at = ticker.stamp();
        Reply::ok(repo.comment_json(people, &repo.comments[i]))
    }

    fn add_labels(&mut self, full: &str, n: u64, req: &Req<'_>) -> Res {
        let repo = self.repos.get_mut(full).expect("checked");
        let item = repo.items.get_mut(&n).ok_or_else(Reply::not_found)?;
        let labels = match &req.body {
            Value::Array(_) => serde_json::from_value(req.body.clone()).unwrap_or_default(),
            _ => req.strings("labels"),
        };
        for label in labels {
            if !item.labels.contains(&label) {
                item.labels.push(label);
            }
        }
        let json = item
            .labels
            .iter()
            .map(|l| json!({"name": l, "color": "ededed", "default": false}))
            .collect();
        Reply::ok(Value::Array(json))
    }

    fn create_status(&mut self, full: &str, sha: &str, req: &Req<'_>) -> Res {
        let State {
            repos,
            people,
            ticker,
            ..
        } = self;
        let repo = repos.get_mut(full).expect("checked");
        let state = req.field("state").unwrap_or_default();
        if !["error", "failure", "pending", "success"].contains(&state) {
            return Err(Reply::invalid(
                "Status",
                "state",
                "custom",
                Some("state is not included in the list"),
            ));
        }
        let id = oid(repo, sha)
            .filter(|id| repo.git.find_commit(*id).is_ok())
            .ok_or_else(|| Reply::unprocessable(&format!("No commit found for SHA: {sha}")))?;
        let description = req.field("description").map(str::to_owned);
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 140)
        {
            return Err(Reply::invalid(
                "Status",
                "description",
                "custom",
                Some("description is too long (maximum is 140 characters)"),
            ));
        }
        let status = StatusRec {
            id: ticker.id(),
            sha: id.to_string(),
            state: state.to_owned(),
            context: req.field("context").unwrap_or("default").to_owned(),
            description,
            creator: req.login.clone(),
            created_at: ticker.stamp(),
        };
        let json = repo.status_json(people, &status);
        repo.statuses.push(status);
        Reply::created(json)
    }

    fn create_ref(&mut self, full: &str, req: &Req<'_>) -> Res {
        let repo = &self.repos[full];
        let name = req
            .field("ref")
            .ok_or_else(|| Reply::invalid("Reference", "ref", "missing_field", None))?;
        if !name.starts_with("refs/") || name.matches('/').count() < 2 {
            return Err(Reply::unprocessable(
                "Reference name must contain at least three slash-separated components.",
            ));
        }
        if !git2::Reference::is_valid_name(name) {
            return Err(Reply::unprocessable(&format!(
                "{name} is not a valid ref name."
            )));
        }
        let sha = req.field("sha").unwrap_or_default();
        let id = oid(repo, sha).ok_or_else(|| Reply::unprocessable("Object does not exist"))?;
        if repo.git.find_reference(name).is_ok() {
            return Err(Reply::unprocessable("Reference already exists"));
        }
        repo.git
            .reference(name, id, false, "created through the API")?;
        Reply::created(ref_json(full, name, id))
    }

    fn update_ref(&mut self, full: &str, name: &str, req: &Req<'_>) -> Res {
        let repo = &self.repos[full];
        let old = repo
            .git
            .find_reference(name)
            .ok()
            .and_then(|r| r.target())
            .ok_or_else(|| Reply::unprocessable("Reference does not exist"))?;
        let sha = req.field("sha").unwrap_or_default();
        let new = oid(repo, sha).ok_or_else(|| Reply::unprocessable("Object does not exist"))?;
        let force = req
            .body
            .get("force")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if !force && old != new && !repo.git.graph_descendant_of(new, old)? {
            return Err(Reply::unprocessable("Update is not a fast forward"));
        }
        repo.git
            .reference(name, new, true, "updated through the API")?;
        Reply::ok(ref_json(full, name, new))
    }

    fn create_tree(&mut self, full: &str, req: &Req<'_>) -> Res {
        let repo = &self.repos[full];
        let base = match req.field("base_tree") {
            Some(sha) => Some(
                oid(repo, sha)
                    .filter(|id| repo.git.find_tree(*id).is_ok())
                    .ok_or_else(|| Reply::invalid("Tree", "base_tree", "invalid", None))?,
            ),
            None => None,
        };
        let entries = req
            .body
            .get("tree")
            .and_then(Value::as_array)
            .ok_or_else(|| Reply::invalid("Tree", "tree", "missing_field", None))?;
        let mut changes = Vec::new();
        for entry in entries {
            let path = entry
                .get("path")
                .and_then(Value::as_str)
                .filter(|p| {
                    !p.is_empty() && p.split('/').all(|s| !s.is_empty() && s != "." && s != "..")
                })
                .ok_or_else(|| {
                    Reply::unprocessable("tree.path contains a malformed path component")
                })?;
            let mode = match entry.get("mode").and_then(Value::as_str) {
                Some("100644") => FileMode::Blob,
                Some("100755") => FileMode::BlobExecutable,
                Some("120000") => FileMode::Link,
                _ => return Err(Reply::invalid("Tree", "tree.mode", "invalid", None)),
            };
            let change = match (
                entry.get("sha"),
                entry.get("content").and_then(Value::as_str),
            ) {
                (Some(Value::Null), _) => None,
                (Some(Value::String(sha)), _) => {
                    let id = oid(repo, sha)
                        .filter(|id| repo.git.find_blob(*id).is_ok())
                        .ok_or_else(|| Reply::invalid("Tree", "tree.sha", "invalid", Some(sha)))?;
                    Some((id, mode))
                }
                (None, Some(content)) => Some((repo.git.blob(content.as_bytes())?, mode)),
                _ => {
                    return Err(Reply::invalid(
                        "Tree",
                        "tree",
                        "missing_field",
                        Some("sha or content"),
                    ));
                }
            };
            changes.push((path.to_owned(), change));
        }
        let id = git::edit_tree(&repo.git, base, &changes).map_err(|e| {
            Reply::unprocessable(&format!("GitRPC::BadObjectState: {}", e.message()))
        })?;
        Reply::created(
            json!({"sha": id.to_string(), "url": format!("/repos/{full}/git/trees/{id}"), "truncated": false}),
        )
    }

    fn create_commit(&mut self, full: &str, req: &Req<'_>) -> Res {
        let State {
            repos,
            people,
            ticker,
            ..
        } = self;
        let repo = repos.get_mut(full).expect("checked");
        let tree = req
            .field("tree")
            .and_then(|t| oid(repo, t))
            .filter(|id| repo.git.find_tree(*id).is_ok())
            .ok_or_else(|| Reply::invalid("Commit", "tree", "invalid", None))?;
        let mut parents = Vec::new();
        for p in req.strings("parents") {
            let id = oid(repo, &p)
                .filter(|id| repo.git.find_commit(*id).is_ok())
                .ok_or_else(|| Reply::invalid("Commit", "parents", "invalid", Some(&p)))?;
            parents.push(id);
        }
        let message = req
            .field("message")
            .ok_or_else(|| Reply::invalid("Commit", "message", "missing_field", None))?;
        let user = people.find(&req.login).expect("token user exists");
        let given = |k: &str| {
            req.body
                .get("author")
                .and_then(|a| a.get(k))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let name = given("name").unwrap_or_else(|| user.login.clone());
        let email = given("email").unwrap_or_else(|| {
            user.emails
                .first()
                .cloned()
                .unwrap_or_else(|| format!("{}@users.noreply.github.test", user.login))
        });
        ticker.stamp();
        let signature = git::signature(&name, &email, ticker.now);
        let id = git::commit(&repo.git, &signature, message, tree, &parents)?;
        Reply::created(repo.git_commit_json(id)?)
    }

    fn contents(&self, full: &str, path: &str, req: &Req<'_>) -> Res {
        let repo = &self.repos[full];
        let rev = req.param("ref").unwrap_or("main");
        let commit = git::resolve(&repo.git, rev)
            .ok_or_else(|| Reply::error(404, &format!("No commit found for the ref {rev}")))?;
        let tree = repo.git.find_commit(commit)?.tree()?;
        let entry_json = |name: &str,
                          path: &str,
                          entry_kind: Option<git2::ObjectType>,
                          mode: i32,
                          id: Oid| {
            let kind = match (entry_kind, mode) {
                (Some(git2::ObjectType::Tree), _) => "dir",
                (_, 0o120000) => "symlink",
                (Some(git2::ObjectType::Commit), _) => "submodule",
                _ => "file",
            };
            let size = repo.git.find_blob(id).map(|b| b.size()).unwrap_or(0);
            json!({"type": kind, "name": name, "path": path, "sha": id.to_string(), "size": size,
                   "html_url": format!("{}/{full}/blob/{rev}/{path}", super::state::HTML)})
        };
        if path.is_empty() {
            let listing = tree
                .iter()
                .map(|e| {
                    let name = e.name().unwrap_or_default();
                    entry_json(name, name, e.kind(), e.filemode(), e.id())
                })
                .collect();
            return Reply::ok(Value::Array(listing));
        }
        let entry = tree
            .get_path(std::path::Path::new(path))
            .map_err(|_| Reply::not_found())?;
        let name = entry.name().unwrap_or_default().to_owned();
        match entry.kind() {
            Some(git2::ObjectType::Tree) => {
                let sub = repo.git.find_tree(entry.id())?;
                let listing = sub
                    .iter()
                    .map(|e| {
                        let n = e.name().unwrap_or_default();
                        entry_json(n, &format!("{path}/{n}"), e.kind(), e.filemode(), e.id())
                    })
                    .collect();
                Reply::ok(Value::Array(listing))
            }
            Some(git2::ObjectType::Blob) if entry.filemode() != 0o120000 => {
                let blob = repo.git.find_blob(entry.id())?;
                let mut v = entry_json(&name, path, entry.kind(), entry.filemode(), entry.id());
                // Like GitHub, files over 1 MB come without content.
                if blob.size() > 1024 * 1024 {
                    v["encoding"] = json!("none");
                    v["content"] = json!("");
                } else {
                    v["encoding"] = json!("base64");
                    v["content"] = json!(wrap_base64(blob.content()));
                }
                Reply::ok(v)
            }
            _ => Reply::ok(entry_json(
                &name,
                path,
                entry.kind(),
                entry.filemode(),
                entry.id(),
            )),
        }
    }
}

fn ref_json(full: &str, name: &str, id: Oid) -> Value {
    json!({
        "ref": name, "node_id": format!("REF_{name}"),
        "url": format!("/repos/{full}/git/{name}"),
        "object": {"sha": id.to_string(), "type": "commit", "url": format!("/repos/{full}/git/commits/{id}")},
    })
}
