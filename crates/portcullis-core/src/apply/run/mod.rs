//! `apply`'s run over the ports (SPEC section 7): every target made to match the head of the
//! default branch, verified grants only. The same code runs on a repository, GitHub and the
//! real systems, and in the tests on the in-memory doubles, so an attack on the run (a direct
//! push, a state put back, a killed run) is tried in-process.
//!
//! In order: [`open`] (the signed state, the evidence chain, a killed run's journal); [`head`]
//! (the branch's head from GitHub, descending from the last applied commit, and its files);
//! the range verified ([`crate::verify`]: approvals on the merged head with the base's
//! policies, merged content = approved content, rules trusted) and carried through the
//! quarantine; [`provision`] (the plan with the guards, run with the journal); the issues owed,
//! the evidence records and the signed state that moves `applied` to the head.

mod head;
mod open;
mod provision;

use std::fmt::Write as _;
use std::ops::ControlFlow;

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::ledger::Ledger;
use crate::model::Catalog;
use crate::ports::Repo;
use crate::ports::github::{Alarms, Statuses};
use crate::provision::execute::Backends;
use crate::signing::Signer;
use crate::verify;

pub use head::{Loaded, load};
pub use provision::{Accounts, Unmanaged, app_indexes, describe, execute_journaled, report_held};

/// The commit status that anchors the evidence chain's tip outside the repository's refs:
/// only portcullis's own account can set it in its name, and its creator is checked.
pub const EVIDENCE_CONTEXT: &str = "portcullis/evidence";

/// The target systems, connected from a catalog's app policies (secrets are the edge's).
pub trait Targets {
    fn connect<'c>(&'c self, catalog: &'c Catalog) -> Backends<'c>;
}

/// What GitHub is to apply: what it reads, the statuses it sets, the issues it owes.
pub trait ApplyGitHub: Statuses + Alarms {}
impl<T: Statuses + Alarms + ?Sized> ApplyGitHub for T {}

/// The world a run reads and writes.
pub struct Ports<'a> {
    pub repo: &'a dyn Repo,
    pub ledger: &'a dyn Ledger,
    pub github: &'a dyn ApplyGitHub,
    pub targets: &'a dyn Targets,
    /// The wall clock, RFC 3339: evidence says when things happened (`as_of` judges expiry).
    pub now: &'a dyn Fn() -> String,
    /// Told when each step ends, for timings.
    pub lap: &'a mut dyn FnMut(&str),
}

/// How this run was asked for.
pub struct Options {
    /// The default branch.
    pub branch: String,
    /// Show what would change, and write nothing (no target, issue, note or state).
    pub dry_run: bool,
    /// Let a target lose more than 25% of its members (and more than 2) in this run.
    pub allow_mass_removal: bool,
    /// First run only: the commit up to which the branch is trusted as reviewed.
    pub trust_from: Option<String>,
    /// Accept the unsigned state written before signing was adopted, once.
    pub adopt_unsigned_state: bool,
    pub as_of: DateTime<Utc>,
    /// The apply environment's key; `None` only for a dry run (taken by the run's chain).
    pub signer: Option<Signer>,
    /// portcullis's login as the checkout's settings name it, before the head is loaded (an
    /// App's installation token cannot ask `/user`).
    pub early_bot: Option<String>,
    /// This run's identity and start (RFC 3339), as its evidence records them.
    pub run_id: String,
    pub started: String,
}

/// How a run ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// Nothing was provisioned, for this reason.
    Refused(String),
    /// The run went through; `held` when something was refused or held back, `failures` what
    /// a target or GitHub failed to do (retried by the next run).
    Finished { held: bool, failures: Vec<String> },
}

/// What a run said and how it ended.
#[derive(Debug)]
pub struct Report {
    pub out: String,
    pub end: End,
}

/// A step's value, or the run's end.
type Step<T> = Result<ControlFlow<End, T>>;

fn stop<T>(why: String) -> Step<T> {
    Ok(ControlFlow::Break(End::Refused(why)))
}

/// The value of a step, or the run's end.
macro_rules! step {
    ($e:expr, $out:expr) => {
        match $e? {
            ControlFlow::Continue(v) => v,
            ControlFlow::Break(end) => return Ok(Report { out: $out, end }),
        }
    };
}

/// A commit id as the output shows it.
fn short(sha: &str) -> &str {
    crate::model::short_commit(sha)
}

/// Makes every target match the head of `opts.branch`.
pub fn run(ports: Ports<'_>, mut opts: Options) -> Result<Report> {
    let Ports {
        repo,
        ledger,
        github,
        targets,
        now,
        lap,
    } = ports;
    let mut out = String::new();
    let signer = opts.signer.take();
    let opts = &opts;
    let opened = step!(open::open(ledger, github, opts, signer, &mut out), out);
    lap("apply: evidence chain, state, journal");
    let head = step!(head::find(repo, github, opts, &opened), out);
    lap("apply: head and load");
    let catalog = &head.loaded.catalog;
    let branch = &opts.branch;
    let rules = verify::rule_paths(catalog);
    let checked = verify::check(github, repo, &head.range, &rules, branch, opts.as_of)?;
    lap("apply: verify commits");
    let _ = writeln!(
        out,
        "apply: `{branch}` at {} (last applied {}, {})",
        short(&head.sha),
        short(&head.applied),
        crate::diag::render::text::counted(head.range.len(), "new commit")
    );
    let (rules_ok, unverified_rules) =
        verify::rules_trusted(repo, &head.applied, &head.sha, &checked, &rules)?;

    // Quarantine: carried from earlier runs, then this range's commits in order.
    let mut quarantine = opened.state.quarantine.clone();
    let (held_back, released) = super::quarantine_range(&mut quarantine, &checked);
    for line in released {
        let _ = writeln!(out, "{line}");
    }
    super::settle(&mut quarantine, catalog);
    super::report_commits(&mut out, &checked);

    let mut failures: Vec<String> = Vec::new();
    let security = super::security_team(catalog);
    let me = crate::approval::pull::own_login(github, catalog);
    // What this run owes people, besides what earlier runs could not do (carried in the state).
    let mut owed = super::security_obligations(&checked, &held_back, &security, branch);
    if !rules_ok {
        if !opts.dry_run {
            // The state does not move: the next run raises the same alarms again.
            let mut all = opened.state.obligations.clone();
            all.extend(owed);
            crate::owed::fulfil(github, me.as_deref(), all, &mut out, &mut failures);
        }
        let why = super::untrusted_rules(&head.sha, &unverified_rules);
        return Ok(Report {
            out,
            end: End::Refused(why),
        });
    }
    let planning = provision::Planning {
        targets,
        loaded: &head.loaded,
        quarantine: &quarantine,
        in_doubt: &opened.in_doubt,
        checked: &checked,
    };
    let planned = planning.plan(opts, &mut out, &mut failures, lap);
    let alarms = checked.iter().filter(|c| super::alarm(c).is_some()).count();
    let held = alarms > 0 || planned.refused();
    if opts.dry_run {
        provision::dry_run(&mut out, &planned.work);
        return Ok(Report {
            out,
            end: End::Finished { held, failures },
        });
    }
    owed.extend(super::sod_obligations(&planned.sod_held, &security));
    owed.extend(super::emergency_obligations(&checked, catalog));
    let mut all = opened.state.obligations.clone();
    all.extend(owed);
    let still_owed = crate::owed::fulfil(github, me.as_deref(), all, &mut out, &mut failures);
    lap("apply: plan and security issues");
    let record = provision::Record {
        ledger,
        github,
        now,
        catalog,
        opened,
        head: &head,
        checked: &checked,
        held_back: &held_back,
        alarms,
    };
    record.provision_and_record(
        planned,
        quarantine,
        still_owed,
        opts,
        &mut out,
        &mut failures,
        lap,
    )?;
    Ok(Report {
        out,
        end: End::Finished { held, failures },
    })
}
