//! The issues apply owes (security alarms, SoD holds, emergency reviews), opened once each: an
//! issue is found again by the hidden marker in its body, and only among portcullis's own
//! issues, since any writer can file an issue carrying a marker to make an alarm look raised.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::Result;

use crate::apply::Obligation;
use crate::model::Login;
use crate::ports::github::Alarms;

/// Opens every issue owed that is not open yet (found by its marker), and returns those that
/// could not be opened: the caller records them in the state for the next run.
pub fn fulfil(
    github: &dyn Alarms,
    me: Option<&str>,
    owed: Vec<Obligation>,
    out: &mut String,
    failures: &mut Vec<String>,
) -> Vec<Obligation> {
    let mut by_label: BTreeMap<String, Issues> = BTreeMap::new();
    let mut open = Vec::new();
    let mut seen = BTreeSet::new();
    for o in owed {
        if !seen.insert(o.marker.clone()) {
            continue;
        }
        let issues = by_label
            .entry(o.label.clone())
            .or_insert_with(|| Issues::new(github, &o.label, me.map(str::to_owned)));
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

/// Issues portcullis opened under one label, found again by their hidden marker.
pub struct Issues<'c> {
    github: &'c dyn Alarms,
    label: String,
    /// portcullis's own login (`bot_login`); `/user` is asked only without it, and an App's
    /// installation token cannot ask it.
    me: Option<String>,
    known: Option<Vec<String>>,
}

impl<'c> Issues<'c> {
    pub fn new(github: &'c dyn Alarms, label: &str, me: Option<String>) -> Issues<'c> {
        Issues {
            github,
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
                None => self.github.me()?.login,
            };
            self.known = Some(
                self.github
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
            .github
            .create_issue(title, &body, &[self.label.as_str()])?;
        known.push(body);
        Ok(Some(issue.number))
    }
}
