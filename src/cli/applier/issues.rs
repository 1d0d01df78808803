//! The issues apply owes, opened once each: found again by a hidden marker.

use portcullis_core::model::Login;
use std::collections::BTreeSet;
use std::fmt::Write as _;

use anyhow::Result;
use portcullis_github::Client;

use portcullis_git::ledger;

/// `bot_login` from the settings in the work tree at `root`, when they name one.
pub fn bot_login_at(root: &std::path::Path) -> Option<String> {
    let mut snapshot = portcullis_core::snapshot::Snapshot::default();
    let bytes = std::fs::read(root.join(portcullis_core::model::SETTINGS_FILE)).ok()?;
    snapshot.insert_bytes(portcullis_core::model::SETTINGS_FILE, &bytes);
    portcullis_core::load::load(&snapshot).0.settings?.bot_login
}

/// Opens every issue owed that is not open yet (found by its marker), and returns those that
/// could not be opened: the caller records them in the state for the next run.
pub fn fulfil(
    client: &Client,
    me: Option<&str>,
    owed: Vec<ledger::Obligation>,
    out: &mut String,
    failures: &mut Vec<String>,
) -> Vec<ledger::Obligation> {
    let mut by_label: std::collections::BTreeMap<String, Issues> = Default::default();
    let mut open = Vec::new();
    let mut seen = BTreeSet::new();
    for o in owed {
        if !seen.insert(o.marker.clone()) {
            continue;
        }
        let issues = by_label
            .entry(o.label.clone())
            .or_insert_with(|| Issues::new(client, &o.label, me.map(str::to_owned)));
        match issues.once(&o.marker, &o.title, &o.body) {
            Ok(Some(n)) => {
                let _ = writeln!(out, "opened: issue #{n} {}", o.title);
            }
            Ok(None) => {}
            Err(e) => {
                failures.push(format!("cannot open the issue \"{}\": {e:#}", o.title));
                open.push(o);
            }
        }
    }
    open
}

/// Issues portcullis opened, found again by their hidden marker.
pub struct Issues<'c> {
    client: &'c Client,
    label: String,
    /// portcullis's own login (`bot_login`); `/user` is asked only without it, and an App's
    /// installation token cannot ask it.
    me: Option<String>,
    known: Option<Vec<String>>,
}

impl<'c> Issues<'c> {
    pub fn new(client: &'c Client, label: &str, me: Option<String>) -> Issues<'c> {
        Issues {
            client,
            label: label.to_owned(),
            me,
            known: None,
        }
    }

    /// Opens the issue unless one of ours already carries `marker`; returns its number when
    /// one was opened.
    pub fn once(&mut self, marker: &str, title: &str, body: &str) -> Result<Option<u64>> {
        if self.known.is_none() {
            let me = match &self.me {
                Some(me) => me.clone(),
                None => self.client.me()?.login,
            };
            self.known = Some(
                self.client
                    .issues("all", &[self.label.as_str()])?
                    .into_iter()
                    .filter(|i| Login::new(&i.user.login).is(&me))
                    .filter_map(|i| i.body)
                    .collect(),
            );
        }
        let known = self.known.as_mut().expect("read above");
        if known.iter().any(|b| b.contains(marker)) {
            return Ok(None);
        }
        let body = format!("{marker}\n{body}");
        let issue = self
            .client
            .create_issue(title, &body, &[self.label.as_str()], &[])?;
        known.push(body);
        Ok(Some(issue.number))
    }
}
