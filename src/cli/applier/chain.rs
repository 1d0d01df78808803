//! The evidence chain and the journal: verified before anything is added, a killed run's
//! journal recorded once, operations run with an intent flushed before every write.

use anyhow::Result;
use git2::Repository;

use super::{Refusal, now};
use portcullis_core::evidence::{self};
use portcullis_core::provision::execute::{self, Backends, Done};
use portcullis_core::provision::journal::Line;
use portcullis_core::provision::ops::Op;
use portcullis_git::ledger;

pub use portcullis_core::ledger::Chain;

/// The chain as stored, or the refusal to add to a chain that does not verify.
pub fn open_chain(repo: &Repository) -> Result<Result<Chain, Refusal>> {
    Ok(Chain::open(&ledger::GitLedger(repo))?.map_err(Refusal))
}

/// Records a killed run's journal (see [`portcullis_core::ledger::recover`]).
pub fn recover(
    repo: &Repository,
    chain: &mut Chain,
    record: bool,
) -> Result<(Vec<Op>, Option<String>)> {
    portcullis_core::ledger::recover(&ledger::GitLedger(repo), chain, record)
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
