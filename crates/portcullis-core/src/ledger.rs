//! What `apply` keeps between runs, and what it decides from it before it trusts anything: the
//! signed state (the last applied commit, the quarantine, what is owed), the evidence chain
//! (notes), and a killed run's journal. Read and written through the [`Ledger`] port; the git
//! edge keeps them under `refs/` and `.git/`, the tests in memory.
//!
//! The order matters and is the point of this module: the chain must verify before anything is
//! added to it; the state must carry the apply environment's signature (or be adopted once,
//! by hand); the chain must end where the signed state says it ended; only then is a killed
//! run's journal recorded and its removals done again.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::evidence::{self, Draft, Kind, Located, NOTES_REF, Note, Stored};
use crate::provision::journal;
use crate::provision::ops::Op;
use crate::provision::quarantine::Quarantine;
use crate::signing::{Domain, Signer, Verifier};

pub const STATE_REF: &str = "refs/portcullis/state";

/// Where apply's records live.
pub trait Ledger {
    /// Every evidence note: the annotated commit and the note's text.
    fn notes(&self) -> Result<Vec<Stored>>;
    /// Appends each record to the note of the commit it names, in order.
    fn append_notes(&self, records: &[Note]) -> Result<()>;
    /// The state as stored, `None` when there is none.
    fn stored_state(&self) -> Result<Option<StoredState>>;
    /// Writes the state, signed when a signer is given, in one update.
    fn write_state(&self, state: &State, signer: Option<&Signer>, message: &str) -> Result<()>;
    /// A killed run's journal, `None` when the last run finished.
    fn journal(&self) -> Result<Option<String>>;
    /// Starts this run's journal, in place of any earlier one.
    fn start_journal(&self) -> Result<Box<dyn Journal + '_>>;
    /// Removes the journal: the run finished.
    fn remove_journal(&self) -> Result<()>;
    /// The id of the notes as they stand (`None` when there are none): one rewritten chain is
    /// one incident.
    fn notes_id(&self) -> Result<Option<String>>;
}

/// A run's journal as it is written.
pub trait Journal {
    /// Appends a line; with `flush`, it and every line before it are durable when this returns
    /// (an intent before its write), else they may wait for the next flush.
    fn append(&mut self, line: &str, flush: bool) -> Result<()>;
    /// Makes every line durable.
    fn sync(&mut self) -> Result<()>;
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub version: u64,
    /// The last commit of the default branch that was applied (full sha).
    pub applied: Option<crate::model::CommitId>,
    pub quarantine: Quarantine,
    /// The evidence chain's tip when this state was written: a chain that ends earlier, or
    /// holds another record there, was truncated, deleted or re-sealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Tip>,
    /// The first evidence record that must be signed (records before it predate signing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_from: Option<u64>,
    /// What apply owes people and has not done yet (an issue it could not open): recorded in
    /// the same signed record that moves `applied` past the commit that caused it, and retried
    /// by every run until done.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub obligations: Vec<crate::apply::Obligation>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tip {
    pub seq: u64,
    pub hash: String,
}

/// The state as stored: its exact bytes and signature, for the caller to verify.
#[derive(Clone, Debug)]
pub struct StoredState {
    pub state: State,
    pub bytes: Vec<u8>,
    pub signature: Option<String>,
    /// The state ref's commit: one forged state is one incident.
    pub commit: String,
}

impl StoredState {
    /// Whether the apply environment's key signed exactly these bytes.
    pub fn signed_by(&self, key: &Verifier) -> bool {
        self.signature
            .as_deref()
            .is_some_and(|sig| key.verify(Domain::State, &self.bytes, sig))
    }
}

/// The evidence chain: verified before anything is added to it.
pub struct Chain {
    tip: Option<Note>,
    runs: BTreeSet<String>,
    records: Vec<Located>,
    /// Every record added is signed with it (a dry run has none and adds nothing).
    pub signer: Option<Signer>,
}

impl Chain {
    /// The chain as stored, or why nothing more may be added to it.
    pub fn open(ledger: &dyn Ledger) -> Result<Result<Chain, String>> {
        let stored = ledger.notes()?;
        let breaks = evidence::chain_verify(&stored);
        if !breaks.is_empty() {
            let mut msg = format!(
                "the evidence notes under `{NOTES_REF}` do not verify, so nothing more is added to them:"
            );
            for b in breaks.iter().take(10) {
                let _ = write!(msg, "\n  {}: {}", b.kind.as_str(), b.message);
            }
            msg.push_str("\nhint: restore the notes ref from the remote (`git fetch origin +refs/notes/portcullis:refs/notes/portcullis`) and tell the security team");
            return Ok(Err(msg));
        }
        let (records, _) = evidence::read_all(&stored);
        Ok(Ok(Chain {
            tip: evidence::tip(&records).cloned(),
            runs: records.iter().map(|r| r.note.run.id.clone()).collect(),
            records,
            signer: None,
        }))
    }

    pub fn tip(&self) -> Option<&Note> {
        self.tip.as_ref()
    }

    /// What the signed state says of the chain, checked (see
    /// [`evidence::verify_against_anchor`]).
    pub fn verify_trust(&self, verifier: &Verifier, state: &State) -> Vec<evidence::ChainBreak> {
        evidence::verify_against_anchor(
            &self.records,
            verifier,
            state.signed_from.unwrap_or(1),
            state.evidence.as_ref().map(|t| (t.seq, t.hash.as_str())),
        )
    }

    pub fn has_run(&self, id: &str) -> bool {
        self.runs.contains(id)
    }

    /// Seals the drafts in order onto the chain and writes them as notes.
    pub fn append(&mut self, ledger: &dyn Ledger, drafts: Vec<Draft>) -> Result<Vec<Note>> {
        let mut sealed = Vec::with_capacity(drafts.len());
        for d in drafts {
            let note = evidence::seal_signed(d, self.tip.as_ref(), self.signer.as_ref());
            self.runs.insert(note.run.id.clone());
            self.tip = Some(note.clone());
            sealed.push(note);
        }
        ledger.append_notes(&sealed)?;
        Ok(sealed)
    }
}

/// Records a killed run's journal as evidence (once: a run already on the chain is not
/// recorded again) and returns the removals it left in doubt, with a line saying so.
pub fn recover(
    ledger: &dyn Ledger,
    chain: &mut Chain,
    record: bool,
) -> Result<(Vec<Op>, Option<String>)> {
    let Some(crashed) = ledger.journal()?.and_then(|t| journal::read(&t)) else {
        return Ok((Vec::new(), None));
    };
    let note = format!(
        "run {} (started {}) ended before it finished; its journal is recorded and its unfinished removals are done again",
        crashed.run.id, crashed.run.started_at
    );
    if record && !chain.has_run(&crashed.run.id) {
        let drafts = crashed
            .actions
            .iter()
            .map(|(commit, actions)| Draft {
                kind: if commit.is_some() {
                    Kind::Apply
                } else {
                    Kind::Run
                },
                commit: commit.clone().unwrap_or_else(|| crashed.head.clone()),
                pr: None,
                pr_head: None,
                approvals: Vec::new(),
                override_: None,
                bypass: None,
                run: crashed.run.clone(),
                actions: actions.clone(),
            })
            .collect();
        chain.append(ledger, drafts)?;
    }
    Ok((crashed.in_doubt, Some(note)))
}

/// Why the run stops before it trusts anything: what the security team is told, once per
/// incident (`marker`), and what the run prints.
#[derive(Debug)]
pub struct Untrusted {
    pub marker: String,
    pub title: String,
    pub body: String,
    pub refusal: String,
}

/// What the run may trust once its records are checked.
#[derive(Debug)]
pub struct Trusted {
    pub state: State,
    /// The unsigned state was adopted by this run (`--adopt-unsigned-state`).
    pub adopted: bool,
    /// The chain's last record when the run started.
    pub tip_at_open: u64,
}

/// Decides whether the stored state and the chain can be trusted. `verifier` is `None` only
/// for a dry run without the key (nothing is written; the output says the signature was not
/// checked). `notes_id` names the notes ref's current value, so one rewrite is one incident.
pub fn trust(
    stored: Option<StoredState>,
    chain: &Chain,
    verifier: Option<&Verifier>,
    adopt_unsigned: bool,
    notes_id: &str,
    out: &mut String,
) -> Result<Trusted, Untrusted> {
    let tip_at_open = chain.tip().map_or(0, |t| t.seq);
    let mut state = State::default();
    let mut adopted = false;
    if let Some(s) = stored {
        let verdict = match (verifier, &s.signature) {
            (None, _) => {
                let _ = writeln!(
                    out,
                    "warning: dry run without `PORTCULLIS_SIGNING_KEY`: the state's signature is not checked"
                );
                None
            }
            (Some(k), Some(_)) if s.signed_by(k) => None,
            (Some(_), None) if adopt_unsigned => {
                adopted = true;
                let _ = writeln!(
                    out,
                    "migrated: the unsigned state (applied {}) and the {tip_at_open} evidence record(s) before it are adopted as they are; from record {} on every record and state is signed",
                    s.state
                        .applied
                        .as_deref()
                        .map_or("nothing", |a| crate::model::short_commit(a)),
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
            return Err(Untrusted {
                marker: format!("<!-- portcullis:state {kind} ref={} -->", s.commit),
                title: format!("The applier's state is {kind}: provisioning stopped"),
                body: format!(
                    "`{STATE_REF}` {why}. A state that cannot be verified could move the last applied commit past unreviewed changes or release quarantined grants, so `apply` provisions nothing until it is restored.\n\nRestore the ref from a trusted copy (`git push --force origin <good-state>:{STATE_REF}`), or, for a repository whose records predate signing, run `portcullis apply --adopt-unsigned-state` once after checking the state by hand.\n"
                ),
                refusal: format!(
                    "the applier's state `{STATE_REF}` {why}\nhint: restore it from a trusted copy; a repository whose state predates signing is migrated once with `--adopt-unsigned-state`"
                ),
            });
        }
        state = s.state;
    }
    if adopted {
        state.signed_from = Some(tip_at_open + 1);
        state.evidence = chain.tip().map(|t| Tip {
            seq: t.seq,
            hash: t.hash.clone(),
        });
    }
    if let Some(k) = verifier
        && (state.applied.is_some() || state.evidence.is_some())
    {
        let breaks = chain.verify_trust(k, &state);
        if !breaks.is_empty() {
            let mut detail = String::new();
            for b in breaks.iter().take(10) {
                let _ = write!(detail, "\n  {}: {}", b.kind.as_str(), b.message);
            }
            return Err(Untrusted {
                marker: format!("<!-- portcullis:evidence untrusted notes={notes_id} -->"),
                title: "The evidence chain does not match the signed state: provisioning stopped"
                    .into(),
                body: format!(
                    "The evidence notes under `{NOTES_REF}` are not what the applier signed:\n```{detail}\n```\nRestore the notes ref from a trusted copy; nothing is provisioned or recorded until then.\n"
                ),
                refusal: format!(
                    "the evidence notes under `{NOTES_REF}` are not what the applier signed:{detail}\nhint: restore the notes ref from a trusted copy and tell the security team"
                ),
            });
        }
    }
    Ok(Trusted {
        state,
        adopted,
        tip_at_open,
    })
}
