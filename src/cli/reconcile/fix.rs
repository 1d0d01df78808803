//! `reconcile --fix`: the drift repaired through apply's guarded path (the lock, the journal,
//! the guards, an evidence record of the run), from the applied commit and its quarantine.

use std::fmt::Write as _;

use anyhow::Result;
use git2::Repository;

use crate::cli::Exit;
use crate::cli::applier::{self, Refusal, now};
use crate::cli::apply::{finish, refuse};
use portcullis_core::apply as gate;
use portcullis_core::apply::run::{describe, execute_journaled, report_held};
use portcullis_core::evidence::{self, Draft, Kind};
use portcullis_core::ledger::{Chain, Ledger as _};
use portcullis_core::provision::desired::Desired;
use portcullis_core::provision::execute::Backends;
use portcullis_core::provision::ops;
use portcullis_core::provision::ops::Observed;
use portcullis_git::ledger;

/// What the report found, for the repair.
pub(super) struct Fix<'a, 'b> {
    pub repo: &'a Repository,
    /// The apply environment's key (`--fix` refuses without it): the repair's record is signed.
    pub signer: Option<portcullis_core::signing::Signer>,
    pub started: &'a str,
    pub applied: &'a portcullis_core::model::CommitId,
    pub want: &'a Desired,
    pub observed: &'a Observed,
    pub opts: ops::Options<'a>,
    pub backends: &'a mut Backends<'b>,
    /// Targets that could not be listed.
    pub failures: Vec<String>,
}

pub(super) fn fix(f: Fix<'_, '_>) -> Result<Exit> {
    let Fix {
        repo,
        signer,
        started,
        applied,
        want,
        observed,
        opts,
        backends,
        mut failures,
    } = f;
    let _lock = match ledger::lock(repo, started) {
        Ok(l) => l,
        Err(e) => {
            return match e.downcast::<ledger::Locked>() {
                Ok(locked) => refuse(Refusal(locked.to_string())),
                Err(e) => Err(e),
            };
        }
    };
    let ledger = ledger::GitLedger(repo);
    let mut chain = match Chain::open(&ledger)? {
        Ok(c) => c,
        Err(why) => return refuse(Refusal(why)),
    };
    chain.signer = signer;
    let (in_doubt, _) = portcullis_core::ledger::recover(&ledger, &mut chain, true)?;
    let planned = ops::plan(
        want,
        observed,
        &ops::Options {
            in_doubt: &in_doubt,
            ..opts
        },
    );
    let work: Vec<_> = planned.ops.iter().map(|o| (o.clone(), None)).collect();
    let mut run = evidence::Run {
        id: applier::run_id(started),
        started_at: started.to_owned(),
        finished_at: None,
    };
    let done = execute_journaled(&ledger, &run, applied, &work, backends, &now)?;
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
        if a.result == evidence::Outcome::Failed {
            failures.push(format!(
                "{} {}: {}",
                describe(&d.op),
                d.op.target,
                a.error.clone().unwrap_or_default()
            ));
        }
    }
    let mut ignored = Vec::new();
    report_held(&mut out, &planned.held, &mut ignored);
    if !done.is_empty() {
        chain.append(
            &ledger,
            vec![Draft {
                kind: Kind::Run,
                commit: applied.clone(),
                pr: None,
                pr_head: None,
                approvals: Vec::new(),
                override_: None,
                bypass: None,
                run,
                actions: done.into_iter().map(|d| d.action).collect(),
            }],
        )?;
    }
    ledger.remove_journal()?;
    print!("{out}");
    finish(failures, gate::holds(&planned))
}
