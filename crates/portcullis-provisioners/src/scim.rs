//! `scim`: a role's target is a SCIM 2.0 Group found by `displayName`, a person's account is a
//! User's `userName`. Both are resolved to their immutable `id` first; a membership change is a
//! `PATCH /Groups/{id}` adding or removing one `members` value (RFC 7644 section 3.5.2).
//!
//! Filter literals are JSON strings (RFC 7644 3.4.2.2), so a name holding `"` or `\` stays one
//! literal; every query value and path segment is percent-encoded. The bearer token never
//! appears in a message.
//!
//! Every read asks only for the attributes it uses (`attributes=`, RFC 7644 section 3.4.2.5);
//! a server that ignores the parameter sends whole resources, of which the same fields are read.
//!
//! Ids never change, so a connection (one run) remembers the ones it resolved: a Group's id by
//! its displayName (found again when the id stops answering), a User's id by userName and its
//! userName by id. Memberships are never remembered: every write reads the group first. A
//! listing resolves each member's userName by `GET /Users/{id}`, or, for a group holding at
//! least a quarter of the directory, by reading the directory's pages once
//! (`GET /Users?startIndex=..&count=..&attributes=userName`); a member the pages did not show
//! is still read on its own, so the listing stays complete.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

use super::{Effect, Provisioner, check_name};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const MEDIA_TYPE: &str = "application/scim+json";
/// Users asked for per directory page; a server may send fewer (`itemsPerPage`).
const PAGE: usize = 1000;
/// Members left to resolve below which a listing reads them one by one without asking how
/// large the directory is.
const DIRECTORY_MIN: usize = 50;

pub struct Scim {
    agent: ureq::Agent,
    base: String,
    authorization: String,
    /// Group displayName -> id, as resolved in this connection.
    group_ids: HashMap<String, String>,
    /// userName -> id, as the filter found it or a listing read it.
    user_ids: HashMap<String, String>,
    /// id -> userName.
    user_names: HashMap<String, String>,
    /// The directory's size, once asked; its pages are read at most once per connection.
    directory: Option<Directory>,
}

enum Directory {
    Read,
    /// Too large for its pages to pay, or the server does not page: members are read one by one.
    Skipped(usize),
}

struct Group {
    id: String,
    /// `value`s of the members that are Users (nested groups are not accounts).
    members: Vec<String>,
}

struct Reply {
    status: u16,
    body: Value,
}

impl Scim {
    /// `base` is the SCIM service root, for example `https://idp.example.com/scim/v2`.
    pub fn new(base: &str, token: &str) -> Result<Scim> {
        let base = base.trim_end_matches('/');
        // The bearer token goes with every request: in clear text only to this machine.
        let loopback = ["127.0.0.1", "localhost", "[::1]"].iter().any(|h| {
            base.strip_prefix("http://")
                .and_then(|rest| rest.strip_prefix(h))
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
        });
        if !base.starts_with("https://") && !loopback {
            bail!(
                "the SCIM URL must start with https:// (http:// only for a server on this machine)"
            );
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Ok(Scim {
            agent,
            base: base.to_owned(),
            authorization: format!("Bearer {token}"),
            group_ids: HashMap::new(),
            user_ids: HashMap::new(),
            user_names: HashMap::new(),
            directory: None,
        })
    }

    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Reply> {
        let url = format!("{}{path}", self.base);
        let what = || format!("SCIM {method} {url}");
        let response = match body {
            None => self
                .agent
                .get(&url)
                .header("Authorization", &self.authorization)
                .header("Accept", MEDIA_TYPE)
                .call(),
            Some(body) => self
                .agent
                .patch(&url)
                .header("Authorization", &self.authorization)
                .header("Accept", MEDIA_TYPE)
                .content_type(MEDIA_TYPE)
                .send(body.to_string()),
        };
        let mut response = response.with_context(what)?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .with_context(|| format!("{}: cannot read the response", what()))?;
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .with_context(|| format!("{}: the response is not JSON", what()))?
        };
        if status == 401 || status == 403 {
            bail!(
                "{} was refused ({status})\nhint: check the bearer token in the app's `token_env` variable",
                what()
            );
        }
        Ok(Reply { status, body })
    }

    fn error(&self, method: &str, path: &str, reply: &Reply) -> anyhow::Error {
        let detail = reply
            .body
            .get("detail")
            .and_then(Value::as_str)
            .unwrap_or("");
        anyhow!(
            "SCIM {method} {}{path} failed with {}: {detail}",
            self.base,
            reply.status
        )
    }

    /// The one resource of `kind` whose `attr` equals `name`, or None.
    fn find(&self, kind: &str, attr: &str, name: &str) -> Result<Option<Value>> {
        let filter = format!("{attr} eq {}", Value::from(name));
        // Only the name compared below (`id` is always returned): a filter on Groups otherwise
        // brings back every member of the group it finds.
        let path = format!("/{kind}?filter={}&attributes={attr}", encode(&filter));
        let reply = self.request("GET", &path, None)?;
        if reply.status != 200 {
            return Err(self.error("GET", &path, &reply));
        }
        let resources = reply
            .body
            .get("Resources")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        // The server matched case-insensitively (RFC 7643 sets caseExact false for both); a
        // server that ignored the filter returns others, which must not be taken for this one.
        let matching: Vec<&Value> = resources
            .iter()
            .filter(|r| {
                r.get(attr)
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.to_lowercase() == name.to_lowercase())
            })
            .collect();
        match matching.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some((*one).clone())),
            _ => bail!(
                "SCIM has {} {kind} with {attr} {name:?}; expected one",
                matching.len()
            ),
        }
    }

    fn user_id(&mut self, account: &str) -> Result<Option<String>> {
        check_name("SCIM userName", account)?;
        if let Some(id) = self.user_ids.get(account) {
            return Ok(Some(id.clone()));
        }
        let Some(user) = self.find("Users", "userName", account)? else {
            return Ok(None);
        };
        let id = id_of(&user).context("a SCIM User without an `id`")?;
        self.user_ids.insert(account.to_owned(), id.clone());
        Ok(Some(id))
    }

    fn learn_user(&mut self, id: &str, name: &str) {
        self.user_names.insert(id.to_owned(), name.to_owned());
        self.user_ids.insert(name.to_owned(), id.to_owned());
    }

    /// The group with its members, read now. A remembered id that no longer answers (the group
    /// was deleted, or replaced under the same name) is looked up again by name.
    fn group(&mut self, target: &str) -> Result<Group> {
        check_name("SCIM group", target)?;
        if let Some(id) = self.group_ids.get(target).cloned() {
            if let Some(group) = self.read_group(target, &id)? {
                return Ok(group);
            }
            self.group_ids.remove(target);
        }
        let Some(found) = self.find("Groups", "displayName", target)? else {
            bail!(
                "no SCIM Group with displayName {target:?}\nhint: create the group at the identity provider, or fix the role's `target`"
            );
        };
        let id = id_of(&found).context("a SCIM Group without an `id`")?;
        let group = self.read_group(target, &id)?.with_context(|| {
            format!("SCIM Group {target:?} (id {id:?}) was found by name but does not answer")
        })?;
        self.group_ids.insert(target.to_owned(), id);
        Ok(group)
    }

    /// `GET /Groups/{id}`; None when the server no longer has it (404).
    fn read_group(&self, target: &str, id: &str) -> Result<Option<Group>> {
        // List responses may leave `members` out; the resource itself has them.
        let path = format!("/Groups/{}?attributes=members", encode(id));
        let reply = self.request("GET", &path, None)?;
        if reply.status == 404 {
            return Ok(None);
        }
        if reply.status != 200 {
            return Err(self.error("GET", &path, &reply));
        }
        let mut members = Vec::new();
        for m in reply
            .body
            .get("members")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            if m.get("type").and_then(Value::as_str) == Some("Group") {
                continue;
            }
            let value = m
                .get("value")
                .and_then(Value::as_str)
                .with_context(|| format!("SCIM Group {target:?} has a member without a `value`"))?;
            members.push(value.to_owned());
        }
        Ok(Some(Group {
            id: id.to_owned(),
            members,
        }))
    }

    /// Reads every User's userName from the directory's pages, when `unresolved` members are
    /// at least a quarter of it: a user in a page costs the server a fraction of a request of
    /// its own. Any answer but a page (no paging, an error) leaves the members to be read one
    /// by one, which reports errors as before.
    fn read_directory(&mut self, unresolved: usize) -> Result<()> {
        let total = match self.directory {
            Some(Directory::Read) => return Ok(()),
            Some(Directory::Skipped(total)) => total,
            None => {
                let reply = self.request("GET", "/Users?count=0", None)?;
                let total = (reply.status == 200)
                    .then(|| reply.body.get("totalResults").and_then(Value::as_u64))
                    .flatten();
                let Some(total) = total.and_then(|t| usize::try_from(t).ok()) else {
                    self.directory = Some(Directory::Skipped(usize::MAX));
                    return Ok(());
                };
                total
            }
        };
        if total > unresolved.saturating_mul(4) {
            self.directory = Some(Directory::Skipped(total));
            return Ok(());
        }
        self.directory = Some(Directory::Read);
        let mut start = 1;
        while start <= total {
            let path = format!("/Users?startIndex={start}&count={PAGE}&attributes=userName");
            let reply = self.request("GET", &path, None)?;
            let resources = match reply.body.get("Resources").and_then(Value::as_array) {
                Some(r) if reply.status == 200 && !r.is_empty() => r,
                _ => break,
            };
            for user in resources {
                let name = user.get("userName").and_then(Value::as_str);
                if let (Some(id), Some(name)) = (id_of(user), name) {
                    self.learn_user(&id, name);
                }
            }
            start += resources.len();
        }
        Ok(())
    }

    fn patch(&self, group: &Group, op: Value) -> Result<Reply> {
        let body = json!({"schemas": [PATCH_OP], "Operations": [op]});
        self.request(
            "PATCH",
            &format!("/Groups/{}", encode(&group.id)),
            Some(&body),
        )
    }
}

impl Provisioner for Scim {
    fn list(&mut self, target: &str) -> Result<BTreeSet<String>> {
        let group = self.group(target)?;
        let unresolved = group
            .members
            .iter()
            .filter(|id| !self.user_names.contains_key(*id))
            .count();
        if unresolved >= DIRECTORY_MIN {
            self.read_directory(unresolved)?;
        }
        let mut names = BTreeSet::new();
        for id in &group.members {
            if let Some(name) = self.user_names.get(id) {
                names.insert(name.clone());
                continue;
            }
            let path = format!("/Users/{}?attributes=userName", encode(id));
            let reply = self.request("GET", &path, None)?;
            if reply.status == 404 {
                bail!(
                    "SCIM Group {target:?} has member {id:?}, which is no User the server knows; the listing would be incomplete"
                );
            }
            if reply.status != 200 {
                return Err(self.error("GET", &path, &reply));
            }
            let name = reply
                .body
                .get("userName")
                .and_then(Value::as_str)
                .with_context(|| format!("SCIM User {id:?} has no `userName`"))?
                .to_owned();
            self.learn_user(id, &name);
            names.insert(name);
        }
        Ok(names)
    }

    fn add(&mut self, target: &str, account: &str) -> Result<Effect> {
        let Some(user) = self.user_id(account)? else {
            bail!(
                "no SCIM User with userName {account:?}\nhint: portcullis adds existing users to groups; create the user at the identity provider first"
            );
        };
        let group = self.group(target)?;
        if group.members.contains(&user) {
            return Ok(Effect::Unchanged);
        }
        let reply = self.patch(
            &group,
            json!({"op": "add", "path": "members", "value": [{"value": user}]}),
        )?;
        match reply.status {
            200 | 204 => Ok(Effect::Changed),
            // Already a member: added by someone else since we looked.
            409 => Ok(Effect::Unchanged),
            _ => Err(self.error("PATCH", &format!("/Groups/{}", group.id), &reply)),
        }
    }

    /// A userName the server does not know is not a member: `Unchanged`.
    fn remove(&mut self, target: &str, account: &str) -> Result<Effect> {
        let Some(user) = self.user_id(account)? else {
            return Ok(Effect::Unchanged);
        };
        let group = self.group(target)?;
        if !group.members.contains(&user) {
            return Ok(Effect::Unchanged);
        }
        let path = format!("members[value eq {}]", Value::from(user.as_str()));
        let reply = self.patch(&group, json!({"op": "remove", "path": path}))?;
        let no_target = reply.body.get("scimType").and_then(Value::as_str) == Some("noTarget");
        match reply.status {
            200 | 204 => Ok(Effect::Changed),
            // Gone already (404), or the filter matched no member (400 noTarget).
            404 => Ok(Effect::Unchanged),
            400 if no_target => Ok(Effect::Unchanged),
            _ => Err(self.error("PATCH", &format!("/Groups/{}", group.id), &reply)),
        }
    }
}

fn id_of(resource: &Value) -> Option<String> {
    resource
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Percent-encodes everything but RFC 3986 unreserved characters: safe in a path segment and in
/// a query value alike.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_and_queries_are_percent_encoded() {
        assert_eq!(encode("a/../b?c#d"), "a%2F..%2Fb%3Fc%23d");
        assert_eq!(encode("userName eq \"x\""), "userName%20eq%20%22x%22");
        assert_eq!(encode("ü"), "%C3%BC");
    }

    #[test]
    fn filter_literals_are_json_strings() {
        let evil = "\" or userName pr \"";
        let filter = format!("userName eq {}", Value::from(evil));
        assert_eq!(filter, r#"userName eq "\" or userName pr \"""#);
    }
}
