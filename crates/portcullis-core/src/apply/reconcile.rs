//! `reconcile`: every target's real membership against the **last applied commit** with the
//! applier's quarantine (not the branch's head: commits `apply` has not verified are not drift,
//! and a repair never provisions them), both ways: grants not provisioned (`missing`) and
//! members the repository does not grant (`stray`); accounts an app lists as `unmanaged` are
//! never drift. A repair goes the way `apply` does: the journal, the removal guards, a signed
//! `run` evidence record. The lock is the edge's, taken before [`repair`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::run::{
    Accounts, Loaded, Targets, Unmanaged, app_indexes, describe, execute_journaled, report_held,
};
use crate::evidence::{self, Draft, Kind, Outcome};
use crate::ledger::{self, Chain, Ledger};
use crate::model::{AppId, CommitId};
use crate::provision::TargetId;
use crate::provision::desired::{self, Desired};
use crate::provision::drift::{self, DriftReport};
use crate::provision::execute::{self, Backends};
use crate::provision::ops::{self, Drift, Observed};
use crate::provision::quarantine::Quarantine;
use crate::signing::Signer;

/// What to compare.
pub struct Options {
    /// Only this app's targets.
    pub app: Option<AppId>,
    /// Let a repair take more than 25% of a target's members (and more than 2).
    pub allow_mass_removal: bool,
    pub as_of: DateTime<Utc>,
}

/// The targets as listed against what the applied commit grants.
pub struct Survey<'a> {
    pub applied: CommitId,
    pub want: Desired,
    pub observed: Observed,
    pub drift: BTreeMap<TargetId, Drift>,
    /// `(app, target, error)` of the targets that could not be listed.
    pub failed: Vec<(String, String, String)>,
    /// Grants held back because they would complete a forbidden pair, one line each.
    pub held_back: Vec<String>,
    backends: Backends<'a>,
    unmanaged: Unmanaged,
    people: Accounts,
    allow_mass_removal: bool,
}

/// Lists the targets of `loaded` (the applied commit's files) and works out the drift.
pub fn survey<'a>(
    targets: &'a dyn Targets,
    loaded: &'a Loaded,
    applied: CommitId,
    quarantine: &Quarantine,
    opts: &Options,
) -> Survey<'a> {
    let catalog = &loaded.catalog;
    let mut want = desired::desired(catalog, &loaded.unreadable, quarantine, opts.as_of);
    let mut backends = targets.connect(catalog);
    let only = opts.app.clone();
    let observed = execute::observe(&want, &mut backends, |id| {
        only.as_ref().is_none_or(|a| *a == id.app)
    });
    // A repair never provisions what apply holds back.
    let held_back = desired::hold_back_sod(&mut want, catalog, &observed, opts.as_of)
        .iter()
        .map(|e| format!("held back: {} ({}): {}", e.key, e.file, e.why))
        .collect();
    let (unmanaged, people) = app_indexes(catalog);
    let mut survey = Survey {
        applied,
        want,
        observed,
        drift: BTreeMap::new(),
        failed: Vec::new(),
        held_back,
        backends,
        unmanaged,
        people,
        allow_mass_removal: opts.allow_mass_removal,
    };
    survey.drift = ops::drift(&survey.want, &survey.observed, &survey.options(&[]));
    survey.failed = survey
        .observed
        .iter()
        .filter_map(|(id, r)| {
            let e = r.as_ref().err()?;
            Some((id.app.to_string(), id.target.clone(), e.clone()))
        })
        .collect();
    survey
}

impl Survey<'_> {
    fn options<'o>(&'o self, in_doubt: &'o [ops::Op]) -> ops::Options<'o> {
        ops::Options {
            unmanaged: &self.unmanaged,
            people: &self.people,
            allow_mass_removal: self.allow_mass_removal,
            in_doubt,
        }
    }

    /// What `reconcile` prints (text or JSON).
    pub fn report(&self) -> DriftReport<'_> {
        DriftReport {
            applied: &self.applied,
            drift: &self.drift,
            failed: &self.failed,
            targets: self.observed.len(),
        }
    }

    /// Members missing or stray over all targets.
    pub fn drifted(&self) -> usize {
        drift::drifted(&self.drift)
    }

    /// The targets that could not be listed, as failures.
    pub fn failures(&self) -> Vec<String> {
        self.failed
            .iter()
            .map(|(app, target, e)| format!("{app}/{target}: {e}"))
            .collect()
    }
}

/// What a repair did.
pub struct Repaired {
    pub out: String,
    /// Writes that failed, and targets that could not be listed.
    pub failures: Vec<String>,
    /// Some operation was held back by a guard.
    pub held: bool,
}

/// Repairs the drift: a killed run's journal is recorded first (its removals done again),
/// then the operations run journaled and one signed `run` record says what was done.
/// `Err` of the inner result: the evidence chain does not verify, and nothing is done.
pub fn repair(
    survey: Survey<'_>,
    ledger: &dyn Ledger,
    signer: Option<Signer>,
    mut run: evidence::Run,
    now: &dyn Fn() -> String,
) -> Result<Result<Repaired, String>> {
    let mut chain = match Chain::open(ledger)? {
        Ok(c) => c,
        Err(why) => return Ok(Err(why)),
    };
    // Signed as apply's are: the next apply verifies every record after the state's tip.
    chain.signer = signer;
    let (in_doubt, _) = ledger::recover(ledger, &mut chain, true)?;
    let planned = ops::plan(&survey.want, &survey.observed, &survey.options(&in_doubt));
    let mut failures = survey.failures();
    let Survey {
        applied,
        mut backends,
        ..
    } = survey;
    let work: Vec<_> = planned.ops.iter().map(|o| (o.clone(), None)).collect();
    let done = execute_journaled(ledger, &run, &applied, &work, &mut backends, now)?;
    run.finished_at = Some(now());
    let mut out = String::new();
    for d in &done {
        let a = &d.action;
        let _ = writeln!(
            out,
            "{} {}: {}",
            a.result.as_str(),
            describe(&d.op),
            d.op.why
        );
        if a.result == Outcome::Failed {
            failures.push(format!(
                "{} {}: {}",
                describe(&d.op),
                d.op.target,
                a.error.clone().unwrap_or_default()
            ));
        }
    }
    report_held(&mut out, &planned.held, &mut Vec::new());
    if !done.is_empty() {
        let record = Draft {
            kind: Kind::Run,
            commit: applied,
            pr: None,
            pr_head: None,
            approvals: Vec::new(),
            override_: None,
            bypass: None,
            run,
            actions: done.into_iter().map(|d| d.action).collect(),
        };
        chain.append(ledger, vec![record])?;
    }
    ledger.remove_journal()?;
    Ok(Ok(Repaired {
        out,
        failures,
        held: super::holds(&planned),
    }))
}
