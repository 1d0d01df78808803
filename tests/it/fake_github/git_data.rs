//! Git data through the API: refs, blobs, trees, commits and file contents, all real objects
//! of the bare repository.

use git2::{FileMode, Oid};
use serde_json::{Value, json};

use super::git;
use super::routes::{Reply, Req, Res, oid, wrap_base64};
use super::state::State;

impl State {
    /// `GET git/ref/{name}`: exactly that ref (`heads/main`), never a prefix match.
    pub fn get_ref(&self, full: &str, name: &str) -> Res {
        let name = format!("refs/{name}");
        let reference = self.repos[full]
            .git
            .find_reference(&name)
            .map_err(|_| Reply::not_found())?;
        let sha = reference.target().ok_or_else(Reply::not_found)?;
        Reply::ok(ref_json(full, &name, sha))
    }

    pub fn create_blob(&mut self, full: &str, req: &Req<'_>) -> Res {
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
        let id = self.repos[full].git.blob(&bytes)?;
        Reply::created(
            json!({"sha": id.to_string(), "url": format!("/repos/{full}/git/blobs/{id}")}),
        )
    }

    pub fn get_blob(&self, full: &str, sha: &str) -> Res {
        let repo = &self.repos[full];
        let blob = oid(repo, sha)
            .and_then(|id| repo.git.find_blob(id).ok())
            .ok_or_else(Reply::not_found)?;
        Reply::ok(json!({
            "sha": sha, "size": blob.size(), "encoding": "base64",
            "content": wrap_base64(blob.content()),
        }))
    }

    pub fn get_commit(&self, full: &str, sha: &str) -> Res {
        let repo = &self.repos[full];
        let id = oid(repo, sha)
            .filter(|id| repo.git.find_commit(*id).is_ok())
            .ok_or_else(Reply::not_found)?;
        Reply::ok(repo.git_commit_json(id)?)
    }

    pub fn create_ref(&mut self, full: &str, req: &Req<'_>) -> Res {
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

    pub fn update_ref(&mut self, full: &str, name: &str, req: &Req<'_>) -> Res {
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

    pub fn create_tree(&mut self, full: &str, req: &Req<'_>) -> Res {
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

    pub fn create_commit(&mut self, full: &str, req: &Req<'_>) -> Res {
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

    pub fn contents(&self, full: &str, path: &str, req: &Req<'_>) -> Res {
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
