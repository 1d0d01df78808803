//! The first steps of `apply`: the signing key, the evidence chain and the signed state are
//! what everything after trusts, so a state or chain that cannot be verified stops the run
//! and tells the security team; then a killed run's journal is recorded.

use std::fmt::Write as _;
use std::ops::ControlFlow::Continue;
use std::path::Path;

use anyhow::anyhow;
use git2::Repository;

use super::report::refuse_with_alarm;
use super::{Args, Step, stop};
use crate::cli::applier::{self, Chain, Refusal};
use portcullis_core::evidence;
use portcullis_core::provision::ops::Op;
use portcullis_git::ledger;
use portcullis_github::Client;

/// What the run trusts once it is open.
pub(super) struct Opened {
    pub chain: Chain,
    pub state: ledger::State,
    /// The unsigned state was adopted by this run (`--adopt-unsigned-state`).
    pub adopted: bool,
    /// The chain's last record when the run started.
    pub tip_at_open: u64,
    /// Operations a killed run may or may not have done: listed again before anything is planned.
    pub in_doubt: Vec<Op>,
    /// portcullis's login as the checkout's settings name it.
    pub early_bot: Option<String>,
}

/// Takes the run's lock (a dry run writes nothing and takes none); another run holding it
/// stops this one.
pub(super) fn lock(repo: &Repository, started: &str, dry_run: bool) -> Step<Option<ledger::Lock>> {
    if dry_run {
        return Ok(Continue(None));
    }
    match ledger::lock(repo, started) {
        Ok(l) => Ok(Continue(Some(l))),
        Err(e) => match e.downcast::<ledger::Locked>() {
            Ok(locked) => stop(Refusal(locked.to_string())),
            Err(e) => Err(e),
        },
    }
}

pub(super) fn open(
    args: &Args,
    root: &Path,
    repo: &Repository,
    client: &Client,
    out: &mut String,
) -> Step<Opened> {
    // The key only the apply environment holds: without it nothing read from the repository's
    // refs can be told from what any writer could have pushed there.
    let signer = match std::env::var("PORTCULLIS_SIGNING_KEY") {
        Ok(text) if !text.trim().is_empty() => Some(portcullis_core::signing::Signer::parse(&text).map_err(|e| {
            anyhow!("`PORTCULLIS_SIGNING_KEY`: {e}\nhint: `portcullis keygen` prints a key pair; put the secret in the apply environment's secrets")
        })?),
        _ if args.dry_run => None,
        _ => {
            return stop(Refusal(
                "`PORTCULLIS_SIGNING_KEY` is not set: apply signs its state and evidence with it and trusts no state it cannot verify\nhint: `portcullis keygen` prints a key pair: the secret goes in the apply environment's secrets, the public key in `evidence_public_key` in policies/settings.yaml".into(),
            ));
        }
    };
    let mut chain = match applier::open_chain(repo)? {
        Ok(c) => c,
        Err(r) => return stop(r),
    };
    // Who portcullis is, before the head is loaded: the checkout's settings (an App's
    // installation token cannot ask `/user`).
    let early_bot = applier::bot_login_at(root);
    let stored = ledger::read_stored_state(repo)?;
    let verifier = signer.as_ref().map(|k| k.verifier());
    let trusted = match portcullis_core::ledger::trust(
        stored,
        &chain,
        verifier.as_ref(),
        args.adopt_unsigned_state,
        &notes_id(repo),
        out,
    ) {
        Ok(t) => t,
        Err(u) => {
            return refuse_with_alarm(
                client,
                early_bot.as_deref(),
                &u.marker,
                &u.title,
                &u.body,
                u.refusal,
                args.dry_run,
            );
        }
    };
    chain.signer = signer;
    let (in_doubt, resumed) = applier::recover(repo, &mut chain, !args.dry_run)?;
    if let Some(note) = &resumed {
        let _ = writeln!(out, "resumed: {note}");
    }
    Ok(Continue(Opened {
        chain,
        state: trusted.state,
        adopted: trusted.adopted,
        tip_at_open: trusted.tip_at_open,
        in_doubt,
        early_bot,
    }))
}

/// The notes ref's id (or `none`): one rewritten chain is one incident.
fn notes_id(repo: &git2::Repository) -> String {
    repo.refname_to_id(evidence::NOTES_REF)
        .map_or_else(|_| "none".to_owned(), |id| id.to_string())
}
