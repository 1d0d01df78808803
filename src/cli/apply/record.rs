//! The last steps of `apply`: the issues it owes, the operations run with a journal, the
//! evidence records and the signed state that moves `applied` to the head, then the summary.

use std::fmt::Write as _;

use anyhow::Result;
use git2::Repository;

use super::report::short;
use super::{EVIDENCE_CONTEXT, describe};
use crate::cli::applier::{self, Chain, now};
use crate::cli::timer::Timer;
use portcullis_core::apply::{self as gate, Attribution, HeldBack, Obligation};
use portcullis_core::evidence::{self, Action};
use portcullis_core::model::Catalog;
use portcullis_core::provision::execute::Backends;
use portcullis_core::provision::ops::{Op, Planned};
use portcullis_core::provision::quarantine::Quarantine;
use portcullis_core::verify::Checked;
use portcullis_git::ledger;
use portcullis_github::Client;

/// What the run decided, read by its last steps.
pub(super) struct Ran<'a> {
    pub repo: &'a Repository,
    pub client: &'a Client,
    pub catalog: &'a Catalog,
    pub state: &'a ledger::State,
    pub adopted: bool,
    pub tip_at_open: u64,
    pub started: &'a str,
    pub head_sha: &'a str,
    pub checked: &'a [Checked],
    pub held_back: &'a [HeldBack],
    pub attribution: &'a Attribution,
    pub planned: &'a Planned,
    pub work: &'a [(Op, Option<String>)],
    pub me: Option<&'a str>,
    /// Commits reported to the security team.
    pub alarms: usize,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn provision_and_record(
    ran: Ran<'_>,
    chain: &mut Chain,
    quarantine: Quarantine,
    owed: Vec<Obligation>,
    mut backends: Backends<'_>,
    out: &mut String,
    failures: &mut Vec<String>,
    timer: &mut Timer,
) -> Result<()> {
    let Ran {
        repo,
        client,
        catalog,
        state,
        adopted,
        tip_at_open,
        started,
        head_sha,
        checked,
        held_back,
        attribution,
        planned,
        work,
        me,
        alarms,
    } = ran;
    let mut all = state.obligations.clone();
    all.extend(owed);
    let open = applier::fulfil(client, me, all, out, failures);
    let mut run = evidence::Run {
        id: applier::run_id(started),
        started_at: started.to_owned(),
        finished_at: None,
    };
    timer.lap("apply: plan and security issues");
    let done = applier::execute_journaled(repo, &run, head_sha, work, &mut backends)?;
    timer.lap(&format!("apply: {} write(s), journaled", work.len()));
    drop(backends);
    let mut counts: std::collections::BTreeMap<evidence::Outcome, usize> = Default::default();
    for d in &done {
        let a = &d.action;
        *counts.entry(a.result).or_default() += 1;
        let detail = a
            .error
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{} {}: {}{detail}",
            a.result.as_str(),
            describe(&d.op),
            d.op.why,
        );
        if a.result == evidence::Outcome::Failed {
            failures.push(format!("{} failed", describe(&d.op)));
        }
    }

    // Evidence: a record per commit verified or quarantined in this range, then the run's own.
    run.finished_at = Some(now());
    let mut actions: Vec<(Option<String>, Action)> = done
        .iter()
        .map(|d| (d.commit.clone(), d.action.clone()))
        .collect();
    for h in &planned.held {
        for op in &h.ops {
            let action = op.action(
                evidence::Outcome::Skipped,
                Some(h.hold.to_string()),
                run.finished_at.clone().unwrap_or_default(),
            );
            actions.push((attribution.commit_of(op), action));
        }
    }
    let drafts = gate::drafts(checked, actions, held_back, catalog, &run, head_sha);
    let records = drafts.len();
    chain.append(&ledger::GitLedger(repo), drafts)?;
    let new_state = ledger::State {
        version: 1,
        applied: Some(head_sha.to_owned()),
        quarantine,
        evidence: chain.tip().map(|t| ledger::Tip {
            seq: t.seq,
            hash: t.hash.clone(),
        }),
        signed_from: state.signed_from.or(Some(tip_at_open + 1)),
        obligations: open.clone(),
    };
    if !open.is_empty() {
        let titles: Vec<&str> = open.iter().map(|o| o.title.as_str()).collect();
        failures.push(format!(
            "{} still open, kept in the state and retried by every run until done: {}",
            portcullis_core::diag::render::text::counted(open.len(), "obligation"),
            titles.join("; ")
        ));
    }
    if new_state != *state || adopted {
        let message = if adopted {
            format!("apply {head_sha} (adopted the unsigned state; signed from here on)")
        } else {
            format!("apply {head_sha}")
        };
        ledger::write_state(repo, &new_state, chain.signer.as_ref(), &message)?;
        if let Some(t) = &new_state.evidence {
            let anchor = format!(
                "evidence record {} {}",
                t.seq,
                portcullis_core::model::short_id(&t.hash, 16)
            );
            if let Err(e) = client.create_status(head_sha, "success", EVIDENCE_CONTEXT, &anchor) {
                failures.push(format!(
                    "cannot anchor the evidence tip on {head_sha}: {e:#}"
                ));
            }
        }
    }
    ledger::remove_journal(repo)?;
    timer.lap("apply: reviews, evidence and state");
    let _ = writeln!(
        out,
        "summary: {} changed, {} unchanged, {} pending, {} failed, {} held back; {} quarantined; {}; applied up to {}",
        counts.get(&evidence::Outcome::Changed).unwrap_or(&0),
        counts.get(&evidence::Outcome::Unchanged).unwrap_or(&0),
        counts.get(&evidence::Outcome::Pending).unwrap_or(&0),
        counts.get(&evidence::Outcome::Failed).unwrap_or(&0),
        planned.held.iter().map(|h| h.ops.len()).sum::<usize>(),
        portcullis_core::diag::render::text::counted(alarms, "commit"),
        portcullis_core::diag::render::text::counted(records, "evidence record"),
        short(head_sha)
    );
    Ok(())
}
