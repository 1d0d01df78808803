//! Issues (pull requests included, as on GitHub), conversation comments, labels and commit
//! statuses.

use serde_json::{Value, json};

use super::git;
use super::routes::{Reply, Req, Res, oid};
use super::state::{CommentRec, Item, State, StatusRec};

impl State {
    pub fn get_issue(&self, full: &str, n: u64) -> Res {
        let repo = &self.repos[full];
        let item = repo.items.get(&n).ok_or_else(Reply::not_found)?;
        Reply::ok(repo.issue_json(&self.people, item))
    }

    pub fn list_comments(&self, full: &str, n: u64, req: &Req<'_>) -> Res {
        let repo = &self.repos[full];
        if !repo.items.contains_key(&n) {
            return Err(Reply::not_found());
        }
        let comments = repo
            .comments
            .iter()
            .filter(|c| c.issue == n)
            .map(|c| repo.comment_json(&self.people, c))
            .collect();
        Ok(self.page(req, comments))
    }

    /// `GET commits/{rev}/statuses`: newest first.
    pub fn list_statuses(&self, full: &str, rev: &str, req: &Req<'_>) -> Res {
        let repo = &self.repos[full];
        let sha = git::resolve(&repo.git, rev)
            .ok_or_else(|| Reply::unprocessable(&format!("No commit found for SHA: {rev}")))?
            .to_string();
        let statuses = repo
            .statuses
            .iter()
            .rev()
            .filter(|s| s.sha == sha)
            .map(|s| repo.status_json(&self.people, s))
            .collect();
        Ok(self.page(req, statuses))
    }

    pub fn list_issues(&self, full: &str, req: &Req<'_>) -> Res {
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

    pub fn create_issue(&mut self, full: &str, req: &Req<'_>) -> Res {
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

    pub fn create_comment(&mut self, full: &str, n: u64, req: &Req<'_>) -> Res {
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

    pub fn update_comment(&mut self, full: &str, id: u64, req: &Req<'_>) -> Res {
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

    pub fn add_labels(&mut self, full: &str, n: u64, req: &Req<'_>) -> Res {
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

    pub fn create_status(&mut self, full: &str, sha: &str, req: &Req<'_>) -> Res {
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
}
