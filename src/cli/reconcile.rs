//! `reconcile`: drift between the targets and the last applied commit, and `--fix` (see
//! [`portcullis_core::apply::reconcile`]). This file verifies the applier's state with the
//! apply environment's key, takes apply's lock for a repair, and builds the ports.

use crate::cli::TextOrJson as Format;
use anyhow::{Result, anyhow};

use super::applier::{self, Refusal, now};
use super::apply::{finish, refuse};
use super::{Common, Exit};

use portcullis_core::apply::reconcile;
use portcullis_core::evidence;
use portcullis_core::model::AppId;
use portcullis_git::ledger;

/// Report drift between the targets and the repository (the last applied commit); `--fix` repairs it
#[derive(clap::Args)]
#[command(after_help = "Examples:
  portcullis reconcile                  drift between the systems and the last applied commit
  portcullis reconcile --app payments --fix   repair one app's drift")]
pub struct Args {
    #[command(flatten)]
    common: Common,
    /// Only this app's targets
    #[arg(long, value_name = "A")]
    app: Option<String>,
    /// Repair the drift, with the same guards as `apply`
    #[arg(long)]
    fix: bool,
    /// With `--fix`: let a target lose more than 25% of its members (and more than 2)
    #[arg(long)]
    allow_mass_removal: bool,
    /// Output format
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

pub fn run(args: Args) -> Result<Exit> {
    let root = args.common.root()?;
    let as_of = args.common.as_of()?;
    let repo = portcullis_git::git::open(&root)?;
    let started = now();
    // The quarantine decides what `--fix` provisions: a state nobody can verify is not used.
    // The key also signs the repair's evidence record, as apply's: the next apply verifies
    // every record after the state's tip.
    let signer = match std::env::var("PORTCULLIS_SIGNING_KEY") {
        Ok(k) if !k.trim().is_empty() => Some(
            portcullis_core::signing::Signer::parse(&k)
                .map_err(|e| anyhow!("`PORTCULLIS_SIGNING_KEY`: {e}"))?,
        ),
        _ => None,
    };
    let state = match ledger::read_stored_state(&repo)? {
        None => ledger::State::default(),
        Some(s) => {
            match &signer {
                Some(signer) => {
                    if !s.signed_by(&signer.verifier()) {
                        return refuse(Refusal(format!(
                            "the applier's state `{}` is unsigned or not signed with the apply environment's key: it is not used\nhint: `portcullis apply` says more and tells the security team",
                            ledger::STATE_REF
                        )));
                    }
                }
                None if args.fix => {
                    return refuse(Refusal(
                        "`--fix` needs `PORTCULLIS_SIGNING_KEY` to verify the applier's state before provisioning from it".into(),
                    ));
                }
                None => eprintln!(
                    "warning: `PORTCULLIS_SIGNING_KEY` is not set: the applier's state is read without checking its signature"
                ),
            }
            s.state
        }
    };
    let Some(applied) = state.applied.clone() else {
        return refuse(Refusal(
            "nothing was applied from this repository yet: there is no applied state to compare with\nhint: run `portcullis apply` first".into(),
        ));
    };
    let loaded = match applier::load_at(&repo, &applied)? {
        Ok(l) => l,
        Err(r) => return refuse(r),
    };
    if let Some(app) = &args.app
        && !loaded.catalog.apps.contains_key(app.as_str())
    {
        let known: Vec<&str> = loaded.catalog.apps.keys().map(AppId::as_str).collect();
        return Err(anyhow!(
            "no app `{app}` in the applied policies\nhint: one of: {}",
            known.join(", ")
        ));
    }
    let targets = applier::LocalTargets::new(&root);
    let opts = reconcile::Options {
        app: args.app.as_deref().map(AppId::from),
        allow_mass_removal: args.allow_mass_removal,
        as_of,
    };
    let survey = reconcile::survey(&targets, &loaded, applied, &state.quarantine, &opts);
    for line in &survey.held_back {
        eprintln!("{line}");
    }
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&survey.report().json())?),
        Format::Text => print!("{}", survey.report().text()),
    }
    // Without drift there is nothing to fix, unless a killed run left its journal: it is
    // recorded now, or its writes would never reach the evidence.
    if !args.fix || (survey.drifted() == 0 && ledger::read_journal(&repo)?.is_none()) {
        let drifted = survey.drifted() > 0;
        return finish(survey.failures(), drifted);
    }

    // --fix: the applier's guarded path, under apply's lock.
    let _lock = match ledger::lock(&repo, &started) {
        Ok(l) => l,
        Err(e) => {
            return match e.downcast::<ledger::Locked>() {
                Ok(locked) => refuse(Refusal(locked.to_string())),
                Err(e) => Err(e),
            };
        }
    };
    let run = evidence::Run {
        id: applier::run_id(&started),
        started_at: started.clone(),
        finished_at: None,
    };
    match reconcile::repair(survey, &ledger::GitLedger(&repo), signer, run, &now)? {
        Ok(done) => {
            print!("{}", done.out);
            finish(done.failures, done.held)
        }
        Err(why) => refuse(Refusal(why)),
    }
}
