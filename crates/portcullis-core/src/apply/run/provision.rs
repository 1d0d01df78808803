//! The plan of a run and its last steps: the desired state from the head's grants less the
//! quarantine, every target listed, SoD held back against what is provisioned, the operations
//! planned with the guards (each owed to the commit that changed its grant); then the
//! operations run with a journal, the evidence records, and the signed state that moves
//! `applied` to the head.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use anyhow::Result;

use super::head::{Head, Loaded};
use super::open::Opened;
use super::{ApplyGitHub, EVIDENCE_CONTEXT, Options, Targets, short};
use crate::apply::{self as gate, Attribution, HeldBack, Obligation};
use crate::diag::render::text::counted;
use crate::evidence::{self, Action, Outcome};
use crate::ledger::{Ledger, State, Tip};
use crate::model::{AppId, Catalog, CommitId, PersonId};
use crate::provision::desired;
use crate::provision::execute::{self, Backends, Done};
use crate::provision::journal::Line;
use crate::provision::ops::{self, Hold, Op};
use crate::provision::quarantine::Quarantine;
use crate::verify::Checked;

/// What the plan is made from.
pub(super) struct Planning<'a, 'b> {
    pub targets: &'a dyn Targets,
    pub loaded: &'a Loaded,
    pub quarantine: &'b Quarantine,
    pub in_doubt: &'b [Op],
    pub checked: &'b [Checked],
}

/// The plan, and the connected targets to run it on.
pub(super) struct Planned<'a> {
    pub backends: Backends<'a>,
    /// Grants held back because they would complete a forbidden pair.
    pub sod_held: Vec<desired::Excluded>,
    pub planned: ops::Planned,
    /// The operations, each with the commit it is owed to.
    pub work: Vec<(Op, Option<CommitId>)>,
    pub attribution: Attribution,
    /// Some grant cannot be provisioned at all (reported).
    pub unprovisionable: bool,
}

impl Planned<'_> {
    /// Something was refused or held back.
    pub fn refused(&self) -> bool {
        !self.sod_held.is_empty() || self.unprovisionable || gate::holds(&self.planned)
    }
}

impl<'a> Planning<'a, '_> {
    pub fn plan(
        &self,
        opts: &Options,
        out: &mut String,
        failures: &mut Vec<String>,
        lap: &mut dyn FnMut(&str),
    ) -> Planned<'a> {
        let catalog = &self.loaded.catalog;
        let mut want = desired::desired(
            catalog,
            &self.loaded.unreadable,
            self.quarantine,
            opts.as_of,
        );
        let mut backends = self.targets.connect(catalog);
        lap("apply: desired state");
        let observed = execute::observe(&want, &mut backends, |_| true);
        lap("apply: connect and list targets");
        let sod_held = desired::hold_back_sod(&mut want, catalog, &observed, opts.as_of);
        for e in &sod_held {
            let _ = writeln!(out, "held back: {} ({}): {}", e.key, e.file, e.why);
        }
        let (unmanaged, people) = app_indexes(catalog);
        let planned = ops::plan(
            &want,
            &observed,
            &ops::Options {
                unmanaged: &unmanaged,
                people: &people,
                allow_mass_removal: opts.allow_mass_removal,
                in_doubt: self.in_doubt,
            },
        );
        let attribution = Attribution::of_range(self.checked);
        let work: Vec<(Op, Option<CommitId>)> = planned
            .ops
            .iter()
            .map(|o| (o.clone(), attribution.commit_of(o)))
            .collect();
        for q in &self.quarantine.entries {
            let _ = writeln!(
                out,
                "quarantined: {} (commit {}: {})",
                q.key,
                short(&q.commit),
                q.reason
            );
        }
        report_held(out, &planned.held, failures);
        let unprovisionable = gate::unprovisionable(&want);
        for e in &unprovisionable {
            let _ = writeln!(out, "not provisioned: {} ({}): {}", e.key, e.file, e.why);
        }
        Planned {
            backends,
            sod_held,
            planned,
            work,
            attribution,
            unprovisionable: !unprovisionable.is_empty(),
        }
    }
}

/// Per app, the accounts the policy says to leave alone.
pub type Unmanaged = BTreeMap<AppId, BTreeSet<String>>;
/// Per app: account -> person id.
pub type Accounts = BTreeMap<AppId, HashMap<String, PersonId>>;

/// Per app, the accounts the policy says to leave alone, and who each account belongs to.
pub fn app_indexes(catalog: &Catalog) -> (Unmanaged, Accounts) {
    let unmanaged = catalog
        .apps
        .iter()
        .map(|(id, a)| (id.clone(), a.unmanaged.iter().cloned().collect()))
        .collect();
    let people = catalog
        .apps
        .iter()
        .map(|(id, a)| (id.clone(), desired::account_index(catalog, a)))
        .collect();
    (unmanaged, people)
}

/// Held targets, one line per reason: a system that is down holds all its targets at once.
pub fn report_held(out: &mut String, held: &[ops::Held], failures: &mut Vec<String>) {
    let mut by_reason: Vec<(String, Vec<String>)> = Vec::new();
    for h in held {
        let reason = h.hold.to_string();
        match by_reason.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, targets)) => targets.push(h.target.to_string()),
            None => by_reason.push((reason, vec![h.target.to_string()])),
        }
        if matches!(h.hold, Hold::ListingFailed(_)) {
            failures.push(format!("`{}` could not be listed", h.target));
        }
    }
    for (reason, targets) in by_reason {
        let _ = writeln!(out, "held: {}: {reason}", targets.join(", "));
    }
}

/// An operation as the output names it.
pub fn describe(op: &Op) -> String {
    format!("{} `{}` in `{}`", op.kind.as_str(), op.account, op.target)
}

/// What a dry run would do, and that it wrote nothing.
pub(super) fn dry_run(out: &mut String, work: &[(Op, Option<CommitId>)]) {
    for (op, _) in work {
        let _ = writeln!(out, "would {}: {}", describe(op), op.why);
    }
    let _ = writeln!(
        out,
        "dry run: {} planned, nothing was written",
        counted(work.len(), "change")
    );
}

/// Runs the operations with the journal: the run line, then an intent before and a result
/// after every write. Each intent is flushed before its write, and with it every line before
/// it; a result waits for the next intent (one flush per write, not two) or the end. A machine
/// that crashes in between loses at most the last result, which then reads as in doubt: a
/// removal is done again and an addition is found by the next listing.
pub fn execute_journaled(
    ledger: &dyn Ledger,
    run: &evidence::Run,
    head: &CommitId,
    ops: &[(Op, Option<CommitId>)],
    backends: &mut Backends<'_>,
    now: &dyn Fn() -> String,
) -> Result<Vec<Done>> {
    let mut journal = ledger.start_journal()?;
    let first = Line::Run {
        run: run.clone(),
        head: head.clone(),
    };
    journal.append(&first.to_json(), false)?;
    let done = execute::execute(
        ops,
        backends,
        &mut |line| journal.append(&line.to_json(), matches!(line, Line::Intent { .. })),
        now,
        1,
    )?;
    journal.sync()?;
    Ok(done)
}

/// What the run decided, read by its last steps.
pub(super) struct Record<'a> {
    pub ledger: &'a dyn Ledger,
    pub github: &'a dyn ApplyGitHub,
    pub now: &'a dyn Fn() -> String,
    pub catalog: &'a Catalog,
    pub opened: Opened,
    pub head: &'a Head,
    pub checked: &'a [Checked],
    pub held_back: &'a [HeldBack],
    /// Commits reported to the security team.
    pub alarms: usize,
}

impl Record<'_> {
    #[allow(clippy::too_many_arguments)]
    pub fn provision_and_record(
        self,
        planned: Planned<'_>,
        quarantine: Quarantine,
        owed: Vec<Obligation>,
        opts: &Options,
        out: &mut String,
        failures: &mut Vec<String>,
        lap: &mut dyn FnMut(&str),
    ) -> Result<()> {
        let Record {
            ledger,
            github,
            now,
            catalog,
            opened,
            head,
            checked,
            held_back,
            alarms,
        } = self;
        let Planned {
            mut backends,
            planned,
            work,
            attribution,
            ..
        } = planned;
        let Opened {
            mut chain,
            state,
            adopted,
            tip_at_open,
            ..
        } = opened;
        let mut run = evidence::Run {
            id: opts.run_id.clone(),
            started_at: opts.started.clone(),
            finished_at: None,
        };
        let done = execute_journaled(ledger, &run, &head.sha, &work, &mut backends, now)?;
        lap(&format!("apply: {} write(s), journaled", work.len()));
        drop(backends);
        let mut counts: BTreeMap<Outcome, usize> = BTreeMap::new();
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
            if a.result == Outcome::Failed {
                failures.push(format!("{} failed", describe(&d.op)));
            }
        }

        // Evidence: a record per commit verified or quarantined in this range, then the run's.
        run.finished_at = Some(now());
        let mut actions: Vec<(Option<CommitId>, Action)> = done
            .iter()
            .map(|d| (d.commit.clone(), d.action.clone()))
            .collect();
        for h in &planned.held {
            for op in &h.ops {
                let action = op.action(
                    Outcome::Skipped,
                    Some(h.hold.to_string()),
                    run.finished_at.clone().unwrap_or_default(),
                );
                actions.push((attribution.commit_of(op), action));
            }
        }
        let drafts = gate::drafts(checked, actions, held_back, catalog, &run, &head.sha);
        let records = drafts.len();
        chain.append(ledger, drafts)?;
        let new_state = State {
            version: 1,
            applied: Some(head.sha.clone()),
            quarantine,
            evidence: chain.tip().map(|t| Tip {
                seq: t.seq,
                hash: t.hash.clone(),
            }),
            signed_from: state.signed_from.or(Some(tip_at_open + 1)),
            obligations: owed.clone(),
        };
        if !owed.is_empty() {
            let titles: Vec<&str> = owed.iter().map(|o| o.title.as_str()).collect();
            failures.push(format!(
                "{} still open, kept in the state and retried by every run until done: {}",
                counted(owed.len(), "obligation"),
                titles.join("; ")
            ));
        }
        if new_state != state || adopted {
            let message = if adopted {
                format!(
                    "apply {} (adopted the unsigned state; signed from here on)",
                    head.sha
                )
            } else {
                format!("apply {}", head.sha)
            };
            ledger.write_state(&new_state, chain.signer.as_ref(), &message)?;
            if let Some(t) = &new_state.evidence {
                let anchor = format!(
                    "evidence record {} {}",
                    t.seq,
                    crate::model::short_id(&t.hash, 16)
                );
                if let Err(e) =
                    github.create_status(&head.sha, "success", EVIDENCE_CONTEXT, &anchor)
                {
                    failures.push(format!(
                        "cannot anchor the evidence tip on {}: {e:#}",
                        head.sha
                    ));
                }
            }
        }
        ledger.remove_journal()?;
        lap("apply: reviews, evidence and state");
        let count = |o: Outcome| counts.get(&o).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "summary: {} changed, {} unchanged, {} pending, {} failed, {} held back; {} quarantined; {}; applied up to {}",
            count(Outcome::Changed),
            count(Outcome::Unchanged),
            count(Outcome::Pending),
            count(Outcome::Failed),
            planned.held.iter().map(|h| h.ops.len()).sum::<usize>(),
            counted(alarms, "commit"),
            counted(records, "evidence record"),
            short(&head.sha)
        );
        Ok(())
    }
}
