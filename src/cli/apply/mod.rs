//! `apply`: makes every target match the head of the default branch (SPEC section 7).
//!
//! In order: [`open`] (lock, evidence chain, signed state, a killed run's journal); [`head`]
//! (the branch's head from the API, descending from the last applied commit); verify every
//! commit since in the core (`verify`, `apply`: approvals on the merged head with the base's
//! policies, merged content = approved content, rules trusted, quarantine); [`provision`] (the
//! plan with the guards); [`record`] (issues owed, journaled operations, evidence, state).

use std::fmt::Write as _;
use std::ops::ControlFlow;

use anyhow::Result;
use git2::Oid;

use super::applier::{self, Refusal, now};
use super::{Common, Exit};

mod head;
mod open;
mod provision;
mod record;
mod report;

use portcullis_core::apply as gate;
use portcullis_core::verify;
use portcullis_git::port::GitRepo;
use portcullis_github::Client;
use report::{Step, short, stop};
pub(super) use report::{describe, finish, refuse, report_held};

/// Make every target match the default branch's head: verified grants only, revocations first
#[derive(clap::Args)]
#[command(after_help = "Examples:
  portcullis apply --dry-run               what would be provisioned, changing nothing
  portcullis apply                         provision the default branch's head
  portcullis apply --trust-from v1-import  first run: trust the history up to that commit")]
pub struct Args {
    #[command(flatten)]
    common: Common,
    /// Show what would change, and change nothing (no target, issue, note or state is written)
    #[arg(long)]
    dry_run: bool,
    /// Let a target lose more than 25% of its members (and more than 2) in this run
    #[arg(long)]
    allow_mass_removal: bool,
    /// The default branch
    #[arg(long, value_name = "NAME", default_value = "main")]
    branch: String,
    /// First run only: the commit up to which the branch is trusted as reviewed; later runs
    /// verify every commit since the last applied one
    #[arg(long, value_name = "REV")]
    trust_from: Option<String>,
    /// One-time migration: accept the unsigned state and evidence written before signing was
    /// adopted, and sign from this run on (logged in the run's output and the state's history)
    #[arg(long)]
    adopt_unsigned_state: bool,
}

/// The commit status that anchors the evidence chain's tip outside the repository's refs:
/// only portcullis's own account can set it in its name, and its creator is checked.
pub const EVIDENCE_CONTEXT: &str = "portcullis/evidence";

/// The value of a step, or the run's end.
macro_rules! step {
    ($e:expr) => {
        match $e? {
            ControlFlow::Continue(v) => v,
            ControlFlow::Break(outcome) => return Ok(outcome),
        }
    };
}

pub fn run(args: Args) -> Result<Exit> {
    let mut timer = super::timer::Timer::from_env();
    let root = args.common.root()?;
    let as_of = args.common.as_of()?;
    let repo = portcullis_git::git::open(&root)?;
    let started = now();
    let _lock = step!(open::lock(&repo, &started, args.dry_run));
    let mut out = String::new();
    let client = Client::from_env()?;
    let opened = step!(open::open(&args, &root, &repo, &client, &mut out));
    timer.lap("apply: lock, evidence chain, journal");
    let head::Head {
        head_sha,
        applied,
        range,
        loaded,
    } = step!(head::find(&args, &repo, &client, &opened));
    timer.lap("apply: head and load");
    let open::Opened {
        mut chain,
        state,
        adopted,
        tip_at_open,
        in_doubt,
        ..
    } = opened;
    let branch = &args.branch;
    let catalog = &loaded.catalog;
    let rules = verify::rule_paths(catalog);
    let port = GitRepo(&repo);
    let ids: Vec<String> = range.iter().map(Oid::to_string).collect();
    let checked = verify::check(&client, &port, &ids, &rules, branch, as_of)?;
    timer.lap("apply: verify commits");
    let _ = writeln!(
        out,
        "apply: `{branch}` at {} (last applied {}, {})",
        short(&head_sha),
        short(&applied.to_string()),
        portcullis_core::diag::render::text::counted(range.len(), "new commit")
    );

    let (rules_ok, unverified_rules) =
        verify::rules_trusted(&port, &applied.to_string(), &head_sha, &checked, &rules)?;

    // Quarantine: carried from earlier runs, then this range's commits in order.
    let mut quarantine = state.quarantine.clone();
    let (held_back, released) = gate::quarantine_range(&mut quarantine, &checked);
    for line in released {
        let _ = writeln!(out, "{line}");
    }
    gate::settle(&mut quarantine, catalog);
    gate::report_commits(&mut out, &checked);

    let mut failures: Vec<String> = Vec::new();
    let security = gate::security_team(catalog);
    let me = portcullis_core::approval::pull::own_login(&client, catalog);
    // What this run owes people, besides what earlier runs could not do (carried in the state).
    let mut owed = gate::security_obligations(&checked, &held_back, &security, branch);
    if !rules_ok {
        if !args.dry_run {
            // The state does not move: the next run raises the same alarms again.
            let mut all = state.obligations.clone();
            all.extend(owed);
            applier::fulfil(&client, me.as_deref(), all, &mut out, &mut failures);
        }
        print!("{out}");
        return refuse(Refusal(gate::untrusted_rules(&head_sha, &unverified_rules)));
    }

    let provision::Planning {
        backends,
        sod_held,
        planned,
        work,
        attribution,
        unprovisionable,
    } = provision::plan(
        &args,
        &root,
        &loaded,
        &quarantine,
        &in_doubt,
        &checked,
        as_of,
        (&mut out, &mut failures, &mut timer),
    );
    let alarms = checked.iter().filter(|c| gate::alarm(c).is_some()).count();
    let refused = alarms > 0 || !sod_held.is_empty() || unprovisionable || gate::holds(&planned);

    if args.dry_run {
        report::dry_run(&mut out, &work);
        print!("{out}");
        return finish(failures, refused);
    }

    owed.extend(gate::sod_obligations(&sod_held, &security));
    owed.extend(gate::emergency_obligations(&checked, catalog));
    let ran = record::Ran {
        repo: &repo,
        client: &client,
        catalog,
        state: &state,
        adopted,
        tip_at_open,
        started: &started,
        head_sha: &head_sha,
        checked: &checked,
        held_back: &held_back,
        attribution: &attribution,
        planned: &planned,
        work: &work,
        me: me.as_deref(),
        alarms,
    };
    record::provision_and_record(
        ran,
        &mut chain,
        quarantine,
        owed,
        backends,
        &mut out,
        &mut failures,
        &mut timer,
    )?;
    super::out::stdout(&out)?;
    finish(failures, refused)
}
