//! `reconcile`: reads every target's real membership and reports drift from the repository both
//! ways: grants that are not provisioned (`missing`) and members the repository does not grant
//! (`stray`). Accounts the app lists as `unmanaged` are never drift.
//!
//! The repository here is the **last applied commit** with the applier's quarantine, not the
//! branch's head: commits not yet verified by `apply` are not drift, and `--fix` never
//! provisions them. `--fix` repairs through the same path as `apply`: the lock, the journal,
//! the removal guards, and a `run` evidence record.

use crate::cli::TextOrJson as Format;
use anyhow::{Result, anyhow};

use super::applier::{self, Refusal, now};
use super::apply::{finish, refuse};
use super::{Common, Exit};

mod fix;
use portcullis_core::provision::drift::{self, DriftReport};
use portcullis_core::provision::ops::{self};
use portcullis_core::provision::{desired, execute};
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
    let catalog = &loaded.catalog;
    if let Some(app) = &args.app
        && !catalog.apps.contains_key(app.as_str())
    {
        return Err(anyhow!(
            "no app `{app}` in the applied policies\nhint: one of: {}",
            catalog.apps.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    let mut want = desired::desired(catalog, &loaded.unreadable, &state.quarantine, as_of);
    let mut backends = applier::backends(catalog, &root);
    let only = args.app.clone();
    let observed = execute::observe(&want, &mut backends, |id| {
        only.as_ref().is_none_or(|a| *a == id.app)
    });
    // `--fix` never provisions what apply holds back.
    for e in desired::hold_back_sod(&mut want, catalog, &observed, as_of) {
        eprintln!("held back: {} ({}): {}", e.key, e.file, e.why);
    }
    let (unmanaged, people) = portcullis_core::apply::run::app_indexes(catalog);
    let opts = ops::Options {
        unmanaged: &unmanaged,
        people: &people,
        allow_mass_removal: args.allow_mass_removal,
        in_doubt: &[],
    };
    let drift = ops::drift(&want, &observed, &opts);
    let listing_failures: Vec<(String, String, String)> = observed
        .iter()
        .filter_map(|(id, r)| {
            r.as_ref()
                .err()
                .map(|e| (id.app.to_string(), id.target.clone(), e.clone()))
        })
        .collect();

    let report = DriftReport {
        applied: &applied,
        drift: &drift,
        failed: &listing_failures,
        targets: observed.len(),
    };
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report.json())?),
        Format::Text => print!("{}", report.text()),
    }
    let failures: Vec<String> = listing_failures
        .iter()
        .map(|(app, target, e)| format!("{app}/{target}: {e}"))
        .collect();
    // Without drift there is nothing to fix, unless a killed run left its journal: it is
    // recorded now, or its writes would never reach the evidence.
    if !args.fix || (drift::drifted(&drift) == 0 && ledger::read_journal(&repo)?.is_none()) {
        return finish(failures, drift::drifted(&drift) > 0);
    }

    // --fix: the applier's guarded path.
    fix::fix(fix::Fix {
        repo: &repo,
        signer,
        started: &started,
        applied: &applied,
        want: &want,
        observed: &observed,
        opts,
        backends: &mut backends,
        failures,
    })
}
