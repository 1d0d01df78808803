//! What `audit` and `report` read: the branch's first-parent history indexed with the evidence
//! notes, the names a filter may use, and GitHub for commits the notes do not cover.

use anyhow::{Context, Result, anyhow};
use git2::Repository;

use portcullis_core::audit::lookup::Lookuper;
use portcullis_core::audit::notes::NoteIndex;
use portcullis_core::audit::{Filter, Index};
use portcullis_git::revision::Revision;
use portcullis_github::Client;

/// What `audit` and `report` read: the branch's history, indexed, and the evidence notes.
pub(crate) struct Sources {
    pub index: Index,
    pub notes: NoteIndex,
}

pub(crate) fn read_sources(repo: &Repository, rev: &str) -> Result<Sources> {
    let mut timer = crate::cli::timer::Timer::from_env();
    let history = portcullis_git::history::read(repo, rev)
        .with_context(|| format!("cannot read the history of `{rev}`"))?;
    timer.lap("history");
    let index = Index::build(history);
    timer.lap("index");
    let stored = portcullis_git::history::read_notes(repo)?;
    timer.lap("notes read");
    let (records, mut breaks) = portcullis_core::evidence::read_all(&stored);
    breaks.extend(portcullis_core::evidence::verify_records(&records));
    // An auditor verifies the signatures with the public key alone: every record from the first
    // signed one on must carry the key's signature.
    if let Some(key) = public_key(repo, rev)? {
        // Where signing began and the tip, from the applier's state when its signature holds;
        // without a verifiable state, from the first signed record.
        match portcullis_git::ledger::read_stored_state(repo)? {
            Some(s) if s.signed_by(&key) => {
                breaks.extend(portcullis_core::evidence::verify_against_anchor(
                    &records,
                    &key,
                    s.state.signed_from.unwrap_or(1),
                    s.state.evidence.as_ref().map(|t| (t.seq, t.hash.as_str())),
                ));
            }
            other => {
                if other.is_some() {
                    breaks.push(portcullis_core::evidence::ChainBreak {
                        kind: portcullis_core::evidence::BreakKind::Forged,
                        seq: None,
                        object: None,
                        message: format!(
                            "the applier's state `{}` is not signed by `evidence_public_key`",
                            portcullis_git::ledger::STATE_REF
                        ),
                    });
                }
                let first_signed = records
                    .iter()
                    .filter(|r| r.note.sig.is_some())
                    .map(|r| r.note.seq)
                    .min();
                breaks.extend(portcullis_core::evidence::verify_signatures(
                    &records,
                    &key,
                    first_signed.unwrap_or(u64::MAX),
                ));
            }
        }
    }
    timer.lap("notes verified");
    Ok(Sources {
        index,
        notes: NoteIndex::new(records, breaks),
    })
}

/// `evidence_public_key` from the settings at `rev`, when set.
pub(super) fn public_key(
    repo: &Repository,
    rev: &str,
) -> Result<Option<portcullis_core::signing::Verifier>> {
    let revision = Revision::at(repo, rev)?;
    let settings =
        portcullis_core::load::settings(revision.read(portcullis_core::model::SETTINGS_FILE)?);
    let Some(text) = settings.and_then(|s| s.evidence_public_key) else {
        return Ok(None);
    };
    portcullis_core::signing::Verifier::parse(&text)
        .map(Some)
        .map_err(|e| anyhow!("`evidence_public_key` in policies/settings.yaml: {e}"))
}

/// A `--person` or `--app` that names nobody and nothing is a mistake, not "0 grants": it must
/// be in the directory or catalog at `rev`, or have held a grant in the history.
pub(super) fn known_ids(
    repo: &Repository,
    index: &Index,
    rev: &str,
    filter: &Filter,
) -> Result<()> {
    if filter.person.is_none() && filter.app.is_none() {
        return Ok(());
    }
    let revision = Revision::at(repo, rev)?;
    let snapshot = revision.read_dir("policies")?;
    let catalog = portcullis_core::load::load(&snapshot).0;
    if let Some(p) = &filter.person
        && !catalog.people.contains_key(p)
        && !index.keys.iter().any(|k| &k.person == p)
    {
        return Err(anyhow!(
            "no person `{p}` in policies/people.yaml or in the history of `{rev}`\nhint: {}",
            portcullis_core::diag::suggest::hint(
                p,
                catalog.people.keys(),
                "`--person` takes a person id from people.yaml (not a GitHub login)"
            )
        ));
    }
    if let Some(a) = &filter.app
        && !catalog.apps.contains_key(a)
        && !index.keys.iter().any(|k| &k.app == a)
    {
        return Err(anyhow!(
            "no app `{a}` in policies/apps/ or in the history of `{rev}`\nhint: {}",
            portcullis_core::diag::suggest::hint(
                a,
                catalog.apps.keys(),
                "`--app` takes an app id, the name of its file in policies/apps/"
            )
        ));
    }
    Ok(())
}

pub(super) fn github_client(offline: bool) -> Result<Option<Client>> {
    if offline || std::env::var_os("GITHUB_REPOSITORY").is_none() {
        return Ok(None);
    }
    Client::from_env().map(Some)
}

/// The note for commits the notes do not cover when GitHub was not asked.
pub(super) fn warn_if_unasked(lookups: &Lookuper, offline: bool) {
    if lookups.unasked > 0 && !offline {
        eprintln!(
            "note: {} commits have no evidence note and GitHub was not asked: their approvers are `unknown`\nhint: set `GITHUB_REPOSITORY` and `GITHUB_TOKEN` (and `GITHUB_API_URL` for GitHub Enterprise) to look them up",
            lookups.unasked
        );
    }
}
