//! `apply`: makes every target match the head of the default branch (SPEC section 7). The run
//! itself is the core's ([`portcullis_core::apply::run`]); this file takes the lock, reads the
//! signing key, builds the ports (the repository, its ledger, GitHub, the target systems) and
//! says how the run ended.

use anyhow::{Result, anyhow};

use super::applier::{self, Refusal, now};
use super::{Common, Exit};

mod report;

use portcullis_core::apply::run::{self as core, End, Ports};
use portcullis_git::ledger::{self, GitLedger};
use portcullis_git::port::GitRepo;
use portcullis_github::Client;
pub(super) use report::{finish, refuse};

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

pub fn run(args: Args) -> Result<Exit> {
    let mut timer = super::timer::Timer::from_env();
    let root = args.common.root()?;
    let as_of = args.common.as_of()?;
    let repo = portcullis_git::git::open(&root)?;
    let started = now();
    // A dry run writes nothing and takes no lock; another run holding it stops this one.
    let _lock = if args.dry_run {
        None
    } else {
        match ledger::lock(&repo, &started) {
            Ok(l) => Some(l),
            Err(e) => match e.downcast::<ledger::Locked>() {
                Ok(locked) => return refuse(Refusal(locked.to_string())),
                Err(e) => return Err(e),
            },
        }
    };
    // The key only the apply environment holds: without it nothing read from the repository's
    // refs can be told from what any writer could have pushed there.
    let signer = match std::env::var("PORTCULLIS_SIGNING_KEY") {
        Ok(text) if !text.trim().is_empty() => Some(portcullis_core::signing::Signer::parse(&text).map_err(|e| {
            anyhow!("`PORTCULLIS_SIGNING_KEY`: {e}\nhint: `portcullis keygen` prints a key pair; put the secret in the apply environment's secrets")
        })?),
        _ => None,
    };
    let client = Client::from_env()?;
    let targets = applier::LocalTargets::new(&root);
    let opts = core::Options {
        branch: args.branch,
        dry_run: args.dry_run,
        allow_mass_removal: args.allow_mass_removal,
        trust_from: args.trust_from,
        adopt_unsigned_state: args.adopt_unsigned_state,
        as_of,
        signer,
        early_bot: applier::bot_login_at(&root),
        run_id: applier::run_id(&started),
        started,
    };
    let ports = Ports {
        repo: &GitRepo(&repo),
        ledger: &GitLedger(&repo),
        github: &client,
        targets: &targets,
        now: &now,
        lap: &mut |phase| timer.lap(phase),
    };
    let report = core::run(ports, opts)?;
    super::out::stdout(&report.out)?;
    match report.end {
        End::Refused(why) => refuse(Refusal(why)),
        End::Finished { held, failures } => finish(failures, held),
    }
}
