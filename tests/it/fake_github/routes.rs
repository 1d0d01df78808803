//! The fake's REST API: one dispatch on method and decoded path segments, answering with
//! GitHub's shapes, status codes and error bodies.

use git2::Oid;
use serde_json::{Value, json};

use super::git;
use super::state::{Injected, Logged, Repo, State};

pub struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    pub headers: Vec<(String, String)>,
    /// Never sent: the connection is held open until the client goes away.
    pub hang: bool,
}

pub type Res = Result<Reply, Reply>;

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
            hang: false,
        }
    }

    pub fn json_ok(body: Value) -> Reply {
        Reply::json(200, body)
    }

    pub fn ok(body: Value) -> Res {
        Ok(Reply::json(200, body))
    }

    pub fn created(body: Value) -> Res {
        Ok(Reply::json(201, body))
    }

    pub fn no_content() -> Res {
        Ok(Reply {
            status: 204,
            body: None,
            headers: Vec::new(),
            hang: false,
        })
    }

    pub fn error(status: u16, message: &str) -> Reply {
        Reply::json(
            status,
            json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": status.to_string()}),
        )
    }

    pub fn not_found() -> Reply {
        Reply::error(404, "Not Found")
    }

    /// A 422 with GitHub's `errors` list.
    pub fn invalid(resource: &str, field: &str, code: &str, message: Option<&str>) -> Reply {
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

    pub fn unprocessable(message: &str) -> Reply {
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
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn field(&self, name: &str) -> Option<&str> {
        self.body.get(name).and_then(Value::as_str)
    }

    pub fn strings(&self, name: &str) -> Vec<String> {
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

pub fn number(s: &str) -> Result<u64, Reply> {
    s.parse().map_err(|_| Reply::not_found())
}

pub fn oid(repo: &Repo, sha: &str) -> Option<Oid> {
    let id = Oid::from_str(sha).ok().filter(|_| sha.len() == 40)?;
    repo.git.find_object(id, None).ok().map(|o| o.id())
}

pub fn wrap_base64(bytes: &[u8]) -> String {
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
        let (mut reply, fault) = match self.fault(method, raw_path, raw_query) {
            None => (
                self.respond(method, raw_path, raw_query, headers, body),
                false,
            ),
            Some((Injected::Fail, reply)) => (reply, true),
            Some((Injected::Least, reply)) => (reply, false),
            Some((Injected::FailAfter, reply)) => {
                let _ = self.respond(method, raw_path, raw_query, headers, body);
                (reply, true)
            }
            Some((Injected::Hang { perform }, mut reply)) => {
                if perform {
                    reply = self.respond(method, raw_path, raw_query, headers, body);
                }
                reply.hang = true;
                (reply, !perform)
            }
        };
        if !fault && let Some(body) = reply.body.as_mut() {
            super::openapi::complete(method, raw_path, reply.status, body);
        }
        self.log.push(Logged {
            method: method.to_owned(),
            path: raw_path.to_owned(),
            query: raw_query.to_owned(),
            status: reply.status,
            headers: headers.to_vec(),
            request: body.to_vec(),
            response: reply.body.clone(),
            fault,
        });
        reply
    }

    /// The fault injected into this request, if any, with the answer it gives (the least
    /// answer for [`Injected::Least`], else GitHub's error body for its status).
    fn fault(
        &mut self,
        method: &str,
        raw_path: &str,
        raw_query: &str,
    ) -> Option<(Injected, Reply)> {
        let target = format!("{raw_path}?{raw_query}");
        let i = self.faults.iter().position(|f| {
            (f.method == "*" || f.method.eq_ignore_ascii_case(method)) && target.contains(&f.needle)
        })?;
        let fault = &mut self.faults[i];
        if fault.skip > 0 {
            fault.skip -= 1;
            return None;
        }
        fault.remaining -= 1;
        let (kind, status) = (fault.kind, fault.status);
        let rate_limited = fault
            .headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("x-ratelimit-remaining") && v == "0");
        let headers = fault.headers.clone();
        if fault.remaining == 0 {
            self.faults.remove(i);
        }
        if kind == Injected::Least {
            let body =
                super::openapi::least_answer(method, raw_path, status).unwrap_or_else(|| {
                    panic!("GitHub documents no {status} JSON answer to {method} {raw_path}")
                });
            return Some((kind, Reply::json(status, body)));
        }
        let message = match status {
            429 => "API rate limit exceeded".to_owned(),
            403 if rate_limited => "API rate limit exceeded for user ID 1.".to_owned(),
            403 => "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.".to_owned(),
            s if s >= 500 => "Server Error".to_owned(),
            s => format!("Injected failure {s}"),
        };
        let mut reply = Reply::error(status, &message);
        reply.headers = headers;
        Some((kind, reply))
    }

    fn respond(
        &mut self,
        method: &str,
        raw_path: &str,
        raw_query: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Reply {
        // "All API requests must include a valid User-Agent header."
        if !headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("user-agent") && !v.is_empty())
        {
            return Reply::error(
                403,
                "Request forbidden by administrative rules. Please make sure your request has a User-Agent header",
            );
        }
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
        let reply = match self.route(&req, &segs) {
            Ok(r) | Err(r) => r,
        };
        // A branch moved through the API moves its pull requests at once, as on GitHub.
        self.sync();
        reply
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
            // An App's installation token has no user: GitHub answers 403.
            ("GET", ["user"]) => match self.people.find(&req.login) {
                Some(u) if u.kind == "Bot" => {
                    Err(Reply::error(403, "Resource not accessible by integration"))
                }
                _ => Reply::ok(self.people.user_json(&req.login)),
            },
            ("GET", ["users", login]) => match self.people.find(login) {
                Some(u) => Reply::ok(self.people.user_json(&u.login.clone())),
                None => Err(Reply::not_found()),
            },
            ("GET", ["orgs", org, "teams", slug]) => {
                let id = self
                    .people
                    .team_ids
                    .get(&((*org).to_owned(), (*slug).to_owned()))
                    .ok_or_else(Reply::not_found)?;
                Reply::ok(json!({
                    "id": id, "node_id": format!("T_{id}"), "slug": slug, "name": slug,
                    "privacy": "closed", "permission": "pull", "parent": null,
                    "url": format!("{}/orgs/{org}/teams/{slug}", self.base_url),
                    "html_url": format!("https://github.com/orgs/{org}/teams/{slug}"),
                    "members_url": format!("{}/orgs/{org}/teams/{slug}/members{{/member}}", self.base_url),
                    "repositories_url": format!("{}/orgs/{org}/teams/{slug}/repos", self.base_url),
                    "description": null,
                }))
            }
            // Child teams' members are members, as GitHub lists them.
            ("GET", ["orgs", org, "teams", slug, "members"]) => {
                self.people.team(org, slug).ok_or_else(Reply::not_found)?;
                let members = self
                    .people
                    .all_members(org, slug)
                    .iter()
                    .map(|login| self.people.user_json(login))
                    .collect();
                Ok(self.page(req, members))
            }
            ("POST", ["graphql"]) => super::graphql::answer(&self.people, req),
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
        let position = self
            .people
            .team(org, slug)
            .ok_or_else(Reply::not_found)?
            .iter()
            .position(|(l, _)| l.eq_ignore_ascii_case(login));
        let render = |state: &str| json!({"url": url, "role": "member", "state": state});
        // "Team members will include the members of child teams."
        let through_child = self
            .people
            .all_members(org, slug)
            .iter()
            .any(|l| l.eq_ignore_ascii_case(login));
        let team = self
            .people
            .team_mut(org, slug)
            .ok_or_else(Reply::not_found)?;
        match (method, position) {
            ("GET", None) if through_child => Reply::ok(render("active")),
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

    fn environment(&self, full: &str, name: &str) -> Result<&super::state::FakeEnvironment, Reply> {
        self.repos[full]
            .settings
            .environments
            .get(name)
            .ok_or_else(Reply::not_found)
    }

    /// One page of `items` as GitHub pages lists: `per_page` (default 30, at most 100) and
    /// `page`, with `Link` relations to the other pages.
    pub fn page(&self, req: &Req<'_>, items: Vec<Value>) -> Reply {
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
            ("GET", []) => {
                let r = &self.repos[full];
                Reply::ok(json!({
                    "id": 1, "name": full.split('/').nth(1), "full_name": full,
                    "private": true, "default_branch": "main",
                    "owner": self.people.user_json(r.owner()),
                }))
            }
            ("GET", ["rules", "branches", branch]) => {
                let settings = &self.repos[full].settings;
                let rules: Vec<Value> = settings
                    .rulesets
                    .iter()
                    .filter(|r| r["enforcement"] == "active" && *branch == "main")
                    .flat_map(|r| {
                        r["rules"].as_array().cloned().unwrap_or_default().into_iter().map(
                            move |mut rule| {
                                rule["ruleset_source_type"] = json!("Repository");
                                rule["ruleset_source"] = r["source"].clone();
                                rule["ruleset_id"] = r["id"].clone();
                                rule
                            },
                        )
                    })
                    .collect();
                Ok(self.page(req, rules))
            }
            ("GET", ["rulesets", id]) => {
                let id = number(id)?;
                self.repos[full]
                    .settings
                    .rulesets
                    .iter()
                    .find(|r| r["id"] == id)
                    .cloned()
                    .map(Reply::json_ok)
                    .ok_or_else(Reply::not_found)
            }
            ("GET", ["codeowners", "errors"]) => {
                Reply::ok(json!({"errors": self.repos[full].settings.codeowners_errors}))
            }
            ("GET", ["environments"]) => {
                let envs: Vec<Value> = self.repos[full]
                    .settings
                    .environments
                    .iter()
                    .map(|(name, e)| {
                        json!({
                            "id": e.id, "name": name,
                            "deployment_branch_policy": e.branches.as_ref().map(|_| json!({
                                "protected_branches": false, "custom_branch_policies": true,
                            })),
                        })
                    })
                    .collect();
                Reply::ok(json!({"total_count": envs.len(), "environments": envs}))
            }
            ("GET", ["environments", name, "deployment-branch-policies"]) => {
                let env = self.environment(full, name)?;
                let policies: Vec<Value> = env
                    .branches
                    .iter()
                    .flatten()
                    .enumerate()
                    .map(|(i, b)| json!({"id": i + 1, "name": b, "type": "branch"}))
                    .collect();
                Reply::ok(json!({"total_count": policies.len(), "branch_policies": policies}))
            }
            ("GET", ["environments", name, "secrets"]) => {
                let env = self.environment(full, name)?;
                let secrets: Vec<Value> = env
                    .secrets
                    .iter()
                    .map(|s| json!({"name": s, "created_at": "2026-11-01T00:00:00Z", "updated_at": "2026-11-01T00:00:00Z"}))
                    .collect();
                Reply::ok(json!({"total_count": secrets.len(), "secrets": secrets}))
            }
            ("GET", ["actions", "variables", name]) => self.repos[full]
                .settings
                .variables
                .get(*name)
                .map(|v| {
                    Reply::json_ok(json!({"name": name, "value": v,
                        "created_at": "2026-11-01T00:00:00Z", "updated_at": "2026-11-01T00:00:00Z"}))
                })
                .ok_or_else(Reply::not_found),
            ("GET", ["pulls"]) => self.list_pulls(full, req),
            ("POST", ["pulls"]) => self.create_pull(full, req),
            ("GET", ["pulls", n]) => self.get_pull(full, number(n)?),
            ("PATCH", ["pulls", n]) => self.update_item(full, number(n)?, req, true),
            ("GET", ["pulls", n, "commits"]) => self.pull_commits(full, number(n)?, req),
            ("GET", ["pulls", n, "files"]) => self.pull_files(full, number(n)?, req),
            ("GET", ["pulls", n, "reviews"]) => self.list_reviews(full, number(n)?, req),
            ("POST", ["pulls", n, "reviews"]) => self.create_review(full, number(n)?, req),
            ("POST", ["pulls", n, "requested_reviewers"]) => {
                self.request_reviewers(full, number(n)?, req)
            }
            ("PUT", ["pulls", n, "merge"]) => self.merge(full, number(n)?, req),
            ("GET", ["issues"]) => self.list_issues(full, req),
            ("POST", ["issues"]) => self.create_issue(full, req),
            ("PATCH", ["issues", "comments", id]) => self.update_comment(full, number(id)?, req),
            ("GET", ["issues", n]) => self.get_issue(full, number(n)?),
            ("PATCH", ["issues", n]) => self.update_item(full, number(n)?, req, false),
            ("GET", ["issues", n, "comments"]) => self.list_comments(full, number(n)?, req),
            ("GET", ["issues", n, "events"]) => self.issue_events(full, number(n)?, req),
            ("POST", ["issues", n, "comments"]) => self.create_comment(full, number(n)?, req),
            ("POST", ["issues", n, "labels"]) => self.add_labels(full, number(n)?, req),
            ("POST", ["statuses", sha]) => self.create_status(full, sha, req),
            ("GET", ["commits", rev, "statuses"]) => self.list_statuses(full, rev, req),
            ("GET", ["commits", sha, "pulls"]) => self.commit_pulls(full, sha, req),
            ("GET", ["git", "ref", name @ ..]) => self.get_ref(full, &name.join("/")),
            ("POST", ["git", "refs"]) => self.create_ref(full, req),
            ("PATCH", ["git", "refs", name @ ..]) => {
                self.update_ref(full, &format!("refs/{}", name.join("/")), req)
            }
            ("POST", ["git", "blobs"]) => self.create_blob(full, req),
            ("GET", ["git", "blobs", sha]) => self.get_blob(full, sha),
            ("POST", ["git", "trees"]) => self.create_tree(full, req),
            ("POST", ["git", "commits"]) => self.create_commit(full, req),
            ("GET", ["git", "commits", sha]) => self.get_commit(full, sha),
            ("GET", ["contents", path @ ..]) => self.contents(full, &path.join("/"), req),
            _ => Err(Reply::not_found()),
        }
    }
}
