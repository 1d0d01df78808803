//! The first steps of `apply`: the signing key, the evidence chain and the signed state are
//! what everything after trusts, so a state or chain that cannot be verified stops the run
//! and tells the security team; then a killed run's journal is recorded.

use std::fmt::Write as _;
use std::ops::ControlFlow::Continue;
use std::path::Path;

use anyhow::anyhow;
use git2::Repository;

use super::report::refuse_with_alarm;
use super::report::short;
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
    let mut chain = match Chain::open(repo)? {
        Ok(c) => c,
        Err(r) => return stop(r),
    };
    // Who portcullis is, before the head is loaded: the checkout's settings (an App's
    // installation token cannot ask `/user`).
    let early_bot = applier::bot_login_at(root);
    let stored = ledger::read_stored_state(repo)?;
    let tip_at_open = chain.tip().map_or(0, |t| t.seq);
    let mut state = ledger::State::default();
    let mut adopted = false;
    if let Some(s) = stored {
        let verdict = match (&signer, &s.signature) {
            (None, _) => {
                let _ = writeln!(
                    out,
                    "warning: dry run without `PORTCULLIS_SIGNING_KEY`: the state's signature is not checked"
                );
                None
            }
            (Some(k), Some(_)) if s.signed_by(&k.verifier()) => None,
            (Some(_), None) if args.adopt_unsigned_state => {
                adopted = true;
                let _ = writeln!(
                    out,
                    "migrated: the unsigned state (applied {}) and the {tip_at_open} evidence record(s) before it are adopted as they are; from record {} on every record and state is signed",
                    s.state.applied.as_deref().map_or("nothing", short),
                    tip_at_open + 1
                );
                None
            }
            (Some(_), None) => Some((
                "unsigned",
                "carries no signature: it was written before signing was adopted, or by someone without the apply environment's key",
            )),
            (Some(_), Some(_)) => Some((
                "forged",
                "carries a signature the apply environment's key did not make: it was written by someone else",
            )),
        };
        if let Some((kind, why)) = verdict {
            return refuse_with_alarm(
                client,
                early_bot.as_deref(),
                &format!("<!-- portcullis:state {kind} ref={} -->", s.commit),
                &format!("The applier's state is {kind}: provisioning stopped"),
                &format!(
                    "`{}` {why}. A state that cannot be verified could move the last applied commit past unreviewed changes or release quarantined grants, so `apply` provisions nothing until it is restored.\n\nRestore the ref from a trusted copy (`git push --force origin <good-state>:{}`), or, for a repository whose records predate signing, run `portcullis apply --adopt-unsigned-state` once after checking the state by hand.\n",
                    ledger::STATE_REF,
                    ledger::STATE_REF
                ),
                format!(
                    "the applier's state `{}` {why}\nhint: restore it from a trusted copy; a repository whose state predates signing is migrated once with `--adopt-unsigned-state`",
                    ledger::STATE_REF
                ),
                args.dry_run,
            );
        }
        state = s.state;
    }
    if adopted {
        state.signed_from = Some(tip_at_open + 1);
        state.evidence = chain.tip().map(|t| ledger::Tip {
            seq: t.seq,
            hash: t.hash.clone(),
        });
    }
    if let Some(k) = &signer
        && (state.applied.is_some() || state.evidence.is_some())
    {
        let breaks = chain.verify_trust(&k.verifier(), &state);
        if !breaks.is_empty() {
            let mut detail = String::new();
            for b in breaks.iter().take(10) {
                let _ = write!(detail, "\n  {}: {}", b.kind.as_str(), b.message);
            }
            return refuse_with_alarm(
                client,
                early_bot.as_deref(),
                &format!(
                    "<!-- portcullis:evidence untrusted notes={} -->",
                    notes_id(repo)
                ),
                "The evidence chain does not match the signed state: provisioning stopped",
                &format!(
                    "The evidence notes under `{}` are not what the applier signed:\n```{detail}\n```\nRestore the notes ref from a trusted copy; nothing is provisioned or recorded until then.\n",
                    evidence::NOTES_REF
                ),
                format!(
                    "the evidence notes under `{}` are not what the applier signed:{detail}\nhint: restore the notes ref from a trusted copy and tell the security team",
                    evidence::NOTES_REF
                ),
                args.dry_run,
            );
        }
    }
    chain.signer = signer;
    let (in_doubt, resumed) = applier::recover(repo, &mut chain, !args.dry_run)?;
    if let Some(note) = &resumed {
        let _ = writeln!(out, "resumed: {note}");
    }
    Ok(Continue(Opened {
        chain,
        state,
        adopted,
        tip_at_open,
        in_doubt,
        early_bot,
    }))
}

/// The notes ref's id (or `none`): one rewritten chain is one incident.
fn notes_id(repo: &git2::Repository) -> String {
    repo.refname_to_id(evidence::NOTES_REF)
        .map_or_else(|_| "none".to_owned(), |id| id.to_string())
}
