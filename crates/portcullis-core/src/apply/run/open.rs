//! The first steps of a run: the evidence chain and the signed state are what everything after
//! trusts, so a state or chain that cannot be verified stops the run and tells the security
//! team; then a killed run's journal is recorded.

use std::fmt::Write as _;
use std::ops::ControlFlow::Continue;

use super::{ApplyGitHub, End, Options, Step, stop};
use crate::ledger::{self, Chain, Ledger, State};
use crate::provision::ops::Op;

/// What the run trusts once it is open.
pub(super) struct Opened {
    pub chain: Chain,
    pub state: State,
    /// The unsigned state was adopted by this run (`--adopt-unsigned-state`).
    pub adopted: bool,
    /// The chain's last record when the run started.
    pub tip_at_open: u64,
    /// Operations a killed run may or may not have done: listed again before anything is planned.
    pub in_doubt: Vec<Op>,
}

pub(super) fn open(
    ledger: &dyn Ledger,
    github: &dyn ApplyGitHub,
    opts: &Options,
    signer: Option<crate::signing::Signer>,
    out: &mut String,
) -> Step<Opened> {
    if signer.is_none() && !opts.dry_run {
        return stop(
            "`PORTCULLIS_SIGNING_KEY` is not set: apply signs its state and evidence with it and trusts no state it cannot verify\nhint: `portcullis keygen` prints a key pair: the secret goes in the apply environment's secrets, the public key in `evidence_public_key` in policies/settings.yaml".into(),
        );
    }
    let mut chain = match Chain::open(ledger)? {
        Ok(c) => c,
        Err(why) => return stop(why),
    };
    let stored = ledger.stored_state()?;
    let verifier = signer.as_ref().map(|k| k.verifier());
    let notes_id = ledger.notes_id()?.unwrap_or_else(|| "none".to_owned());
    let trusted = match ledger::trust(
        stored,
        &chain,
        verifier.as_ref(),
        opts.adopt_unsigned_state,
        &notes_id,
        out,
    ) {
        Ok(t) => t,
        Err(u) => {
            return refuse_with_alarm(github, opts, &u.marker, &u.title, &u.body, u.refusal);
        }
    };
    chain.signer = signer;
    let (in_doubt, resumed) = ledger::recover(ledger, &mut chain, !opts.dry_run)?;
    if let Some(note) = &resumed {
        let _ = writeln!(out, "resumed: {note}");
    }
    Ok(Continue(Opened {
        chain,
        state: trusted.state,
        adopted: trusted.adopted,
        tip_at_open: trusted.tip_at_open,
        in_doubt,
    }))
}

/// Refuses the run and tells the security team once (found again by the issue's marker).
pub(super) fn refuse_with_alarm<T>(
    github: &dyn ApplyGitHub,
    opts: &Options,
    marker: &str,
    title: &str,
    body: &str,
    refusal: String,
) -> Step<T> {
    let mut why = refusal;
    if !opts.dry_run {
        let mut issues =
            crate::owed::Issues::new(github, super::super::SECURITY_LABEL, opts.early_bot.clone());
        if let Err(e) = issues.once(marker, title, &format!("{marker}\n{body}")) {
            let _ = write!(why, "\nerror: cannot open the security team's issue: {e:#}");
        }
    }
    Ok(std::ops::ControlFlow::Break(End::Refused(why)))
}
