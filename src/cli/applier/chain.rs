//! The evidence chain and the journal: verified before anything is added, a killed run's
//! journal recorded once, operations run with an intent flushed before every write.

use anyhow::Result;
use git2::Repository;

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::{Refusal, now};
use portcullis_core::evidence::{self, Draft, Kind, Note};
use portcullis_core::provision::execute::{self, Backends, Done};
use portcullis_core::provision::journal::{self, Line};
use portcullis_core::provision::ops::Op;
use portcullis_git::ledger;

/// The evidence chain: verified before anything is added to it.
pub struct Chain {
    tip: Option<Note>,
    runs: BTreeSet<String>,
    records: Vec<evidence::Located>,
    /// Every record added is signed with it (a dry run has none and adds nothing).
    pub signer: Option<portcullis_core::signing::Signer>,
}

impl Chain {
    pub fn open(repo: &Repository) -> Result<Result<Chain, Refusal>> {
        let stored = portcullis_git::history::read_notes(repo)?;
        let breaks = evidence::chain_verify(&stored);
        if !breaks.is_empty() {
            let mut msg = format!(
                "the evidence notes under `{}` do not verify, so nothing more is added to them:",
                evidence::NOTES_REF
            );
            for b in breaks.iter().take(10) {
                let _ = write!(msg, "\n  {}: {}", b.kind.as_str(), b.message);
            }
            msg.push_str("\nhint: restore the notes ref from the remote (`git fetch origin +refs/notes/portcullis:refs/notes/portcullis`) and tell the security team");
            return Ok(Err(Refusal(msg)));
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
    pub fn verify_trust(
        &self,
        verifier: &portcullis_core::signing::Verifier,
        state: &ledger::State,
    ) -> Vec<evidence::ChainBreak> {
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
    pub fn append(&mut self, repo: &Repository, drafts: Vec<Draft>) -> Result<Vec<Note>> {
        let mut sealed = Vec::with_capacity(drafts.len());
        for d in drafts {
            let note = evidence::seal_signed(d, self.tip.as_ref(), self.signer.as_ref());
            self.runs.insert(note.run.id.clone());
            self.tip = Some(note.clone());
            sealed.push(note);
        }
        ledger::append_notes(repo, &sealed)?;
        Ok(sealed)
    }
}

/// Records a killed run's journal as evidence (once: a run already on the chain is not
/// recorded again) and returns the removals it left in doubt.
pub fn recover(
    repo: &Repository,
    chain: &mut Chain,
    record: bool,
) -> Result<(Vec<Op>, Option<String>)> {
    let Some(crashed) = ledger::read_journal(repo)?.and_then(|t| journal::read(&t)) else {
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
        chain.append(repo, drafts)?;
    }
    Ok((crashed.in_doubt, Some(note)))
}

/// A run's identity: the workflow run when in GitHub Actions, else this process.
pub fn run_id(started: &str) -> String {
    match (
        std::env::var("GITHUB_RUN_ID")
            .ok()
            .filter(|s| !s.is_empty()),
        std::env::var("GITHUB_RUN_ATTEMPT").ok(),
    ) {
        (Some(id), attempt) => format!("gha-{id}-{}", attempt.unwrap_or_else(|| "1".into())),
        (None, _) => format!("local-{started}-{}", std::process::id()),
    }
}

/// Runs the operations with the journal on disk: the run line, then an intent before and a
/// result after every write. Each intent is flushed to disk before its write, and with it every
/// line before it; a result waits for the next intent (one flush per write, not two) or the
/// end. A machine that crashes in between loses at most the last result, which then reads as
/// in doubt: a removal is done again and an addition is found by the next listing.
pub fn execute_journaled(
    repo: &Repository,
    run: &evidence::Run,
    head: &str,
    ops: &[(Op, Option<String>)],
    backends: &mut Backends<'_>,
) -> Result<Vec<Done>> {
    let mut journal = ledger::Journal::create(repo)?;
    journal.append(
        &Line::Run {
            run: run.clone(),
            head: head.to_owned(),
        }
        .to_json(),
        false,
    )?;
    let done = execute::execute(
        ops,
        backends,
        &mut |line| journal.append(&line.to_json(), matches!(line, Line::Intent { .. })),
        &now,
        1,
    )?;
    journal.sync()?;
    Ok(done)
}
