//! `manual`: for systems without an API, a person does the change. Each add or remove opens one
//! issue in the access repository for the app's owners, with the policy's checklist; the change
//! counts as done when the issue is closed (SPEC section 7), and until then every write reports
//! [`Effect::Pending`] with the issue's number.
//!
//! Issues are found again by a hidden marker (`<!-- portcullis:manual app=… target=… account=…
//! op=… -->`, values percent-encoded), so a rerun never opens a second issue for the same
//! change. Only issues opened by portcullis's own account count: anyone can write a marker into
//! an issue of their own. The listing of a target is every account whose newest issue is a
//! closed addition.
//!
//! A change that is no longer wanted while its issue is still open (a grant removed before
//! anyone acted on it) is withdrawn: the issue is closed with its marker struck out, so it no
//! longer counts, and a comment says why.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use super::{Effect, Provisioner, check_name};
use portcullis_core::diag::render::markdown::{code, escape};
use portcullis_github::Client;

/// The label every manual issue carries; listings read only these issues.
pub const LABEL: &str = "portcullis-manual";
const MARKER: &str = "<!-- portcullis:manual ";
const WITHDRAWN: &str = "<!-- portcullis:manual-withdrawn ";

/// What the app's policy says about its manual provisioning.
pub struct Config {
    pub app: portcullis_core::model::AppId,
    pub app_name: String,
    /// `@org/team` or `@user`.
    pub owners: Vec<String>,
    pub checklist: Vec<String>,
    /// portcullis's own login; `/user` is asked only without it (an App's installation token
    /// cannot ask it).
    pub bot_login: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Tracked {
    number: u64,
    open: bool,
    target: String,
    account: String,
    add: bool,
}

pub struct Manual {
    client: Client,
    config: Config,
    /// Our own issues of this app, read once per run and kept up to date by our writes.
    issues: Option<Vec<Tracked>>,
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

fn marker(app: &str, target: &str, account: &str, add: bool) -> String {
    format!(
        "{MARKER}app={} target={} account={} op={} -->",
        enc(app),
        enc(target),
        enc(account),
        if add { "add" } else { "remove" }
    )
}

/// The marker of an issue body, for this app.
fn parse_marker(body: &str, app: &str) -> Option<(String, String, bool)> {
    let start = body.find(MARKER)? + MARKER.len();
    let rest = &body[start..];
    let rest = &rest[..rest.find("-->")?];
    let mut fields = std::collections::BTreeMap::new();
    for part in rest.split_whitespace() {
        let (k, v) = part.split_once('=')?;
        fields.insert(k, percent_decode_str(v).decode_utf8().ok()?.into_owned());
    }
    if fields.get("app")? != app {
        return None;
    }
    let add = match fields.get("op")?.as_str() {
        "add" => true,
        "remove" => false,
        _ => return None,
    };
    Some((fields.remove("target")?, fields.remove("account")?, add))
}

impl Manual {
    pub fn new(client: Client, config: Config) -> Manual {
        Manual {
            client,
            config,
            issues: None,
        }
    }

    fn load(&mut self) -> Result<&mut Vec<Tracked>> {
        if self.issues.is_none() {
            let me = match &self.config.bot_login {
                Some(me) => me.clone(),
                None => {
                    self.client
                        .me()
                        .context("cannot tell which GitHub account portcullis runs as\nhint: set `bot_login` in policies/settings.yaml (an App's installation token cannot call /user)")?
                        .login
                }
            };
            let issues = self
                .client
                .issues("all", &[LABEL])
                .with_context(|| format!("cannot list the `{LABEL}` issues"))?;
            let mut tracked: Vec<Tracked> = issues
                .into_iter()
                .filter(|i| i.user.login.eq_ignore_ascii_case(&me))
                .filter_map(|i| {
                    let (target, account, add) =
                        parse_marker(i.body.as_deref()?, &self.config.app)?;
                    Some(Tracked {
                        number: i.number,
                        open: i.state == "open",
                        target,
                        account,
                        add,
                    })
                })
                .collect();
            tracked.sort_by_key(|t| t.number);
            self.issues = Some(tracked);
        }
        Ok(self.issues.as_mut().expect("loaded above"))
    }

    /// The newest issue about this account in this target.
    fn newest(&mut self, target: &str, account: &str) -> Result<Option<Tracked>> {
        Ok(self
            .load()?
            .iter()
            .rev()
            .find(|t| t.target == target && t.account == account)
            .cloned())
    }

    fn open_issue(&mut self, target: &str, account: &str, add: bool) -> Result<Effect> {
        let c = &self.config;
        let (verb, prep) = if add {
            ("Add", "to")
        } else {
            ("Remove", "from")
        };
        let title = format!(
            "{verb} {account} {prep} {target} in {}",
            c.app_name.chars().take(80).collect::<String>()
        );
        let mut body = format!(
            "{}\n**{verb}** {} {prep} {} in **{}** ({}).\n\n",
            marker(&c.app, target, account, add),
            code(account),
            code(target),
            escape(&c.app_name),
            code(&c.app)
        );
        if !c.owners.is_empty() {
            // The owners come from the reviewed policy; mentioning them is the point.
            body.push_str(&format!("Owners: {}\n\n", c.owners.join(", ")));
        }
        for step in &c.checklist {
            body.push_str(&format!("- [ ] {}\n", escape(step)));
        }
        body.push_str(
            "\nClose this issue once it is done: portcullis counts the change as made when the issue is closed.\n",
        );
        let assignees: Vec<String> = c
            .owners
            .iter()
            .filter(|o| !o.contains('/'))
            .map(|o| o.trim_start_matches('@').to_owned())
            .collect();
        let issue = self
            .client
            .create_issue(&title, &body, &[LABEL], &assignees)
            .with_context(|| {
                format!(
                    "cannot open the issue to {} `{account}`",
                    verb.to_lowercase()
                )
            })?;
        let number = issue.number;
        self.load()?.push(Tracked {
            number,
            open: true,
            target: target.to_owned(),
            account: account.to_owned(),
            add,
        });
        Ok(Effect::Pending(format!(
            "waits for a person in issue #{number}"
        )))
    }

    /// Closes an open issue whose change is no longer wanted, striking out its marker first so
    /// the closed issue does not count as done.
    fn withdraw(&mut self, t: &Tracked) -> Result<()> {
        let issue = self.client.issue(t.number)?;
        let body = issue.body.unwrap_or_default().replace(MARKER, WITHDRAWN);
        self.client.update_issue(t.number, None, Some(&body))?;
        self.client.create_comment(
            t.number,
            "No longer needed: the repository changed before this was done. Nothing to do here.",
        )?;
        self.client.update_issue(t.number, Some("closed"), None)?;
        self.load()?.retain(|x| x.number != t.number);
        Ok(())
    }

    fn write(&mut self, target: &str, account: &str, add: bool) -> Result<Effect> {
        check_name("target", target)?;
        check_name("account", account)?;
        let newest = self.newest(target, account)?;
        let done_as_member = |t: &Tracked| t.add && !t.open;
        match newest {
            Some(t) if t.add == add && t.open => Ok(Effect::Pending(format!(
                "waits for a person in issue #{}",
                t.number
            ))),
            Some(t) if t.add == add => Ok(Effect::Unchanged),
            // The opposite change is still open: it was never done, so withdrawing it is all.
            Some(t) if t.open => {
                self.withdraw(&t)
                    .with_context(|| format!("cannot withdraw issue #{}", t.number))?;
                match self.newest(target, account)? {
                    Some(prev) if done_as_member(&prev) == add => Ok(Effect::Changed),
                    None if !add => Ok(Effect::Changed),
                    _ => self.open_issue(target, account, add),
                }
            }
            Some(_) => self.open_issue(target, account, add),
            None if !add => Ok(Effect::Unchanged),
            None => self.open_issue(target, account, add),
        }
    }
}

impl Provisioner for Manual {
    fn list(&mut self, target: &str) -> Result<BTreeSet<String>> {
        check_name("target", target)?;
        let mut newest: std::collections::BTreeMap<&str, &Tracked> = Default::default();
        let issues = self.load()?;
        for t in issues.iter().filter(|t| t.target == target && !t.open) {
            newest.insert(&t.account, t);
        }
        // An open issue is newer than any closed one about the same account only when it is
        // a change not made yet: the closed one still says what the system holds.
        Ok(newest
            .into_iter()
            .filter(|(_, t)| t.add)
            .map(|(a, _)| a.to_owned())
            .collect())
    }

    fn add(&mut self, target: &str, account: &str) -> Result<Effect> {
        self.write(target, account, true)
    }

    fn remove(&mut self, target: &str, account: &str) -> Result<Effect> {
        self.write(target, account, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_and_belong_to_one_app() {
        let m = marker("sales force", "perm set --> x", "o'brien", true);
        assert!(!m["<!-- ".len()..m.len() - 3].contains("-->"), "{m}");
        let body = format!("{m}\nsome text");
        assert_eq!(
            parse_marker(&body, "sales force"),
            Some(("perm set --> x".into(), "o'brien".into(), true))
        );
        assert_eq!(parse_marker(&body, "treasury"), None);
        let withdrawn = body.replace(MARKER, WITHDRAWN);
        assert_eq!(parse_marker(&withdrawn, "sales force"), None);
    }
}
