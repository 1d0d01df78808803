//! Pull requests: listing, opening, editing, their commits and files, reviews, review requests
//! and merges.

use git2::Oid;
use serde_json::{Value, json};

use super::git;
use super::routes::{Reply, Req, Res};
use super::state::{Item, People, PullRec, Repo, ReviewRec, State};

impl State {
    pub fn get_pull(&self, full: &str, n: u64) -> Res {
        let pull = self.with_pull(full, n, |repo, people, item| {
            Ok(repo.pull_json(people, item, false))
        })?;
        Reply::ok(pull)
    }

    pub fn list_reviews(&self, full: &str, n: u64, req: &Req<'_>) -> Res {
        let reviews = self.with_pull(full, n, |repo, people, item| {
            let pull = item.pull.as_ref().expect("pull");
            Ok(pull
                .reviews
                .iter()
                .map(|r| repo.review_json(people, item.number, r))
                .collect())
        })?;
        Ok(self.page(req, reviews))
    }

    fn with_pull<T>(
        &self,
        full: &str,
        n: u64,
        f: impl FnOnce(&Repo, &People, &Item) -> Result<T, Reply>,
    ) -> Result<T, Reply> {
        let repo = &self.repos[full];
        let item = repo
            .items
            .get(&n)
            .filter(|i| i.pull.is_some())
            .ok_or_else(Reply::not_found)?;
        f(repo, &self.people, item)
    }

    /// `GET commits/{sha}/pulls`: the pull requests merged by the commit or containing it.
    pub fn commit_pulls(&self, full: &str, sha: &str, req: &Req<'_>) -> Res {
        let repo = &self.repos[full];
        let id = super::routes::oid(repo, sha)
            .ok_or_else(|| Reply::unprocessable(&format!("No commit found for SHA: {sha}")))?;
        let mut pulls = Vec::new();
        for item in repo.items.values().rev() {
            let Some(p) = &item.pull else { continue };
            let merged_by = p.merge_commit_sha.as_deref() == Some(&id.to_string())
                || p.replayed.contains(&id.to_string());
            let contains = || -> Result<bool, git2::Error> {
                let ids = git::commits_between(
                    &repo.git,
                    Oid::from_str(&p.base_sha)?,
                    Oid::from_str(&p.head_sha)?,
                )?;
                Ok(ids.contains(&id))
            };
            if merged_by || contains()? {
                pulls.push(repo.pull_json(&self.people, item, true));
            }
        }
        Ok(self.page(req, pulls))
    }

    pub fn list_pulls(&self, full: &str, req: &Req<'_>) -> Res {
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

    pub fn create_pull(&mut self, full: &str, req: &Req<'_>) -> Res {
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
                replayed: Vec::new(),
                merged_at: None,
                draft: req
                    .body
                    .get("draft")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                reviews: Vec::new(),
                requested_users: Vec::new(),
                requested_teams: Vec::new(),
                events: Vec::new(),
            }),
        };
        let json = repo.pull_json(people, &item, false);
        repo.items.insert(number, item);
        Reply::created(json)
    }

    /// `PATCH pulls/{n}` (`as_pull`) and `PATCH issues/{n}`: title, body, state.
    pub fn update_item(&mut self, full: &str, n: u64, req: &Req<'_>, as_pull: bool) -> Res {
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
        if let Some(base) = req.field("base").filter(|_| as_pull) {
            let sha = super::git::branch(&repo.git, base)
                .ok_or_else(|| Reply::invalid("PullRequest", "base", "invalid", None))?;
            let pull = item.pull.as_mut().expect("a pull request");
            if pull.base_ref != base {
                pull.base_ref = base.to_owned();
                pull.base_sha = sha.to_string();
                pull.events
                    .push(("base_ref_changed".into(), req.login.clone(), now.clone()));
            }
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

    /// `GET issues/{n}/events`: oldest first (only pull requests keep events here).
    pub fn issue_events(&self, full: &str, n: u64, req: &Req<'_>) -> Res {
        let repo = &self.repos[full];
        let item = repo.items.get(&n).ok_or_else(Reply::not_found)?;
        let events = item
            .pull
            .iter()
            .flat_map(|p| &p.events)
            .enumerate()
            .map(|(i, (event, actor, at))| {
                json!({"id": i + 1, "node_id": format!("E_{i}"), "event": event,
                       "actor": self.people.user_json(actor), "created_at": at,
                       "commit_id": null, "commit_url": null})
            })
            .collect();
        Ok(self.page(req, events))
    }

    pub fn pull_commits(&self, full: &str, n: u64, req: &Req<'_>) -> Res {
        let commits = self.with_pull(full, n, |repo, people, item| {
            let pull = item.pull.as_ref().expect("pull");
            let head = Oid::from_str(&pull.head_sha)?;
            let base = Oid::from_str(&pull.base_sha)?;
            let ids = git::commits_between(&repo.git, base, head)?;
            // GitHub lists at most 250 commits of a pull request, whatever the pages say.
            ids.into_iter()
                .take(250)
                .map(|id| repo.commit_json(people, id).map_err(Reply::from))
                .collect::<Result<Vec<_>, _>>()
        })?;
        Ok(self.page(req, commits))
    }

    pub fn pull_files(&self, full: &str, n: u64, req: &Req<'_>) -> Res {
        let files = self.with_pull(full, n, |repo, _, item| {
            let pull = item.pull.as_ref().expect("pull");
            let changes = git::files_between(
                &repo.git,
                Oid::from_str(&pull.base_sha)?,
                Oid::from_str(&pull.head_sha)?,
            )?;
            // GitHub lists at most 3000 files of a pull request.
            Ok(changes
                .into_iter()
                .take(3000)
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

    pub fn create_review(&mut self, full: &str, n: u64, req: &Req<'_>) -> Res {
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

    pub fn request_reviewers(&mut self, full: &str, n: u64, req: &Req<'_>) -> Res {
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

    /// `PUT pulls/{n}/merge`: `merge_method` "merge" (the default), "squash" or "rebase".
    pub fn merge(&mut self, full: &str, n: u64, req: &Req<'_>) -> Res {
        let method = req.field("merge_method").unwrap_or("merge").to_owned();
        let sha = self.merge_as(full, n, &req.login, req.field("sha"), &method)?;
        Reply::ok(
            json!({"sha": sha, "merged": true, "message": "Pull Request successfully merged"}),
        )
    }

    /// Merges pull request `n` as `login` would with GitHub's button: a merge commit, one
    /// squashed commit on the base, or the head's commits replayed one by one onto the base
    /// (each then listed by `commits/{sha}/pulls`). Returns the commit GitHub reports as
    /// `merge_commit_sha`: the merge, the squash, or the last replayed commit.
    pub fn merge_as(
        &mut self,
        full: &str,
        n: u64,
        login: &str,
        sha: Option<&str>,
        method: &str,
    ) -> Result<String, Reply> {
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
        if sha.is_some_and(|sha| sha != pull.head_sha) {
            return Err(Reply::error(
                409,
                "Head branch was modified. Review and try the merge again.",
            ));
        }
        if !matches!(method, "merge" | "squash" | "rebase") {
            return Err(Reply::unprocessable("Invalid merge_method"));
        }
        let base = git::branch(&repo.git, &pull.base_ref)
            .ok_or_else(|| Reply::error(405, "Pull Request is not mergeable"))?;
        let head = Oid::from_str(&pull.head_sha)?;
        let user = people.find(login).expect("token user exists");
        let email = user
            .emails
            .first()
            .cloned()
            .unwrap_or_else(|| format!("{}@users.noreply.github.test", user.login));
        let signature = git::signature(&user.login, &email, ticker.now);
        let not_mergeable = || Reply::error(405, "Pull Request is not mergeable");
        let (landed, replayed) = match method {
            "merge" => {
                let message = format!(
                    "Merge pull request #{n} from {owner}/{}\n\n{}",
                    pull.head_ref, item.title
                );
                let merge = git::merge(&repo.git, base, head, &signature, &message)?
                    .ok_or_else(not_mergeable)?;
                (merge, Vec::new())
            }
            "squash" => {
                let merge = git::merge(&repo.git, base, head, &signature, "squash")?
                    .ok_or_else(not_mergeable)?;
                let tree = repo.git.find_commit(merge)?.tree_id();
                let message = format!("{} (#{n})", item.title);
                (
                    git::commit(&repo.git, &signature, &message, tree, &[base])?,
                    Vec::new(),
                )
            }
            _ => {
                let from = repo.git.merge_base(base, head)?;
                let mut onto = base;
                let mut replayed = Vec::new();
                for id in git::commits_between(&repo.git, from, head)? {
                    let original = repo.git.find_commit(id)?;
                    let mut index = repo.git.cherrypick_commit(
                        &original,
                        &repo.git.find_commit(onto)?,
                        0,
                        None,
                    )?;
                    if index.has_conflicts() {
                        return Err(not_mergeable());
                    }
                    let tree = index.write_tree_to(&repo.git)?;
                    let message = original.message().unwrap_or_default().to_owned();
                    // The author stays; the merger commits it, so each copy is a new commit
                    // even where the base did not move.
                    onto = repo.git.commit(
                        None,
                        &original.author(),
                        &signature,
                        &message,
                        &repo.git.find_tree(tree)?,
                        &[&repo.git.find_commit(onto)?],
                    )?;
                    replayed.push(onto.to_string());
                }
                (onto, replayed)
            }
        };
        repo.git.reference(
            &format!("refs/heads/{}", pull.base_ref),
            landed,
            true,
            "merge pull request",
        )?;
        let now = ticker.stamp();
        pull.base_sha = base.to_string();
        pull.merged = true;
        pull.merge_commit_sha = Some(landed.to_string());
        pull.replayed = replayed;
        pull.merged_at = Some(now.clone());
        item.state = "closed".to_owned();
        item.closed_at = Some(now.clone());
        item.updated_at = now;
        Ok(landed.to_string())
    }
}
