//! Edge: what the applier keeps in the repository it applies, all under `.git/` or in git refs:
//!
//! - the **lock** `.git/portcullis/apply.lock`, an exclusive OS lock (`flock`) so two applies
//!   never run at once; the kernel releases it when the holder exits or is killed;
//! - the **journal** `.git/portcullis/journal`: the current run's lines (see
//!   [`portcullis_core::provision::journal`]), each flushed to disk before the write it announces; removed
//!   once the run's evidence is recorded, so a journal found at start is a killed run's;
//! - the **state** `refs/portcullis/state`: a commit chain whose tree holds `state.json`, the last
//!   applied commit and the quarantine, updated once per run in one ref update;
//! - the **evidence notes** under `refs/notes/portcullis` (format: [`portcullis_core::evidence`]): records
//!   are appended as lines to the note of the commit they name.
//!
//! Pushing the state and the notes to the remote is the workflow's job (`apply.yml`), not this
//! module's.

// An edge: files, clock, environment and processes are its business (see clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use git2::{Oid, Repository, Signature};

use portcullis_core::evidence::{NOTES_REF, Note};

pub use portcullis_core::ledger::{STATE_REF, State, StoredState, Tip};
const STATE_FILE: &str = "state.json";

fn dir(repo: &Repository) -> Result<PathBuf> {
    let d = repo.path().join("portcullis");
    std::fs::create_dir_all(&d).with_context(|| format!("cannot create `{}`", d.display()))?;
    Ok(d)
}

fn signature() -> Result<Signature<'static>> {
    Ok(Signature::now("portcullis", "portcullis@apply.invalid")?)
}

// ---- the lock ----

/// Held while it lives. The kernel releases it when the file is closed, so a killed run never
/// leaves it behind and nothing has to judge whether a holder is still alive (two runs that
/// both judged a lock stale could each take it over).
pub struct Lock {
    _file: File,
}

/// Why the lock could not be taken: another run holds it.
#[derive(Debug)]
pub struct Locked {
    pub holder: String,
    pub path: PathBuf,
}

impl std::fmt::Display for Locked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "another apply is running on this repository ({}); two applies never run at once\nhint: wait for it to finish (the lock is the operating system's and ends with that process)",
            self.holder,
        )
    }
}

impl std::error::Error for Locked {}

/// Takes the apply lock (an exclusive OS lock on `.git/portcullis/apply.lock`), or fails with
/// [`Locked`] when another process holds it. The file's text only names the holder for the
/// message; it decides nothing.
pub fn lock(repo: &Repository, started_at: &str) -> Result<Lock> {
    let path = dir(repo)?.join("apply.lock");
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open `{}`", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            return Err(Locked {
                holder: holder.trim().to_owned(),
                path,
            }
            .into());
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock `{}`", path.display()));
        }
    }
    file.set_len(0)?;
    file.write_all(format!("pid {} since {started_at}", std::process::id()).as_bytes())?;
    Ok(Lock { _file: file })
}

// ---- the journal ----

pub fn journal_path(repo: &Repository) -> Result<PathBuf> {
    Ok(dir(repo)?.join("journal"))
}

/// A killed run's journal, if one was left.
pub fn read_journal(repo: &Repository) -> Result<Option<String>> {
    let path = journal_path(repo)?;
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read `{}`", path.display())),
    }
}

pub fn remove_journal(repo: &Repository) -> Result<()> {
    let path = journal_path(repo)?;
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove `{}`", path.display()))
        }
        _ => Ok(()),
    }
}

/// The journal being written. A line appended with `flush` is on disk when
/// [`Journal::append`] returns, and so is every line before it; the others reach the disk with
/// the next flushed line or [`Journal::sync`].
pub struct Journal {
    file: File,
    path: PathBuf,
}

impl Journal {
    pub fn create(repo: &Repository) -> Result<Journal> {
        let path = journal_path(repo)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot create `{}`", path.display()))?;
        Ok(Journal { file, path })
    }

    pub fn append(&mut self, line: &str, flush: bool) -> Result<()> {
        let mut bytes = line.as_bytes().to_vec();
        bytes.push(b'\n');
        self.file
            .write_all(&bytes)
            .and_then(|()| if flush { self.file.sync_data() } else { Ok(()) })
            .with_context(|| format!("cannot write the journal `{}`", self.path.display()))
    }

    pub fn sync(&mut self) -> Result<()> {
        self.file
            .sync_data()
            .with_context(|| format!("cannot write the journal `{}`", self.path.display()))
    }
}

// ---- the state ----

/// An issue apply owes (its type is the core's, which decides them).
pub use portcullis_core::apply::Obligation;

const SIGNATURE_FILE: &str = "state.sig";

/// The state ref's content, `None` when there is no state ref.
pub fn read_stored_state(repo: &Repository) -> Result<Option<StoredState>> {
    let reference = match repo.find_reference(STATE_REF) {
        Ok(r) => r,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
        Err(e) => return Err(e).context(format!("cannot read `{STATE_REF}`")),
    };
    let commit = reference
        .peel_to_commit()
        .with_context(|| format!("`{STATE_REF}` does not point at a commit"))?;
    let tree = commit.tree()?;
    let file = |name: &str| -> Result<Option<Vec<u8>>> {
        let Some(entry) = tree.get_name(name) else {
            return Ok(None);
        };
        let object = entry.to_object(repo)?;
        let blob = object
            .as_blob()
            .ok_or_else(|| anyhow!("`{name}` in `{STATE_REF}` is not a file"))?;
        Ok(Some(blob.content().to_vec()))
    };
    let bytes =
        file(STATE_FILE)?.ok_or_else(|| anyhow!("`{STATE_REF}` holds no `{STATE_FILE}`"))?;
    let signature = file(SIGNATURE_FILE)?.map(|b| String::from_utf8_lossy(&b).into_owned());
    let state = serde_json::from_slice(&bytes)
        .with_context(|| format!("`{STATE_FILE}` in `{STATE_REF}` is not a portcullis state"))?;
    Ok(Some(StoredState {
        state,
        bytes,
        signature,
        commit: commit.id().to_string(),
    }))
}

pub fn read_state(repo: &Repository) -> Result<State> {
    let reference = match repo.find_reference(STATE_REF) {
        Ok(r) => r,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(State::default()),
        Err(e) => return Err(e).context(format!("cannot read `{STATE_REF}`")),
    };
    let commit = reference
        .peel_to_commit()
        .with_context(|| format!("`{STATE_REF}` does not point at a commit"))?;
    let entry = commit
        .tree()?
        .get_name(STATE_FILE)
        .ok_or_else(|| anyhow!("`{STATE_REF}` holds no `{STATE_FILE}`"))?
        .to_object(repo)?;
    let blob = entry
        .as_blob()
        .ok_or_else(|| anyhow!("`{STATE_FILE}` in `{STATE_REF}` is not a file"))?;
    serde_json::from_slice(blob.content())
        .with_context(|| format!("`{STATE_FILE}` in `{STATE_REF}` is not a portcullis state"))
}

/// Writes the state, with its signature when a signer is given (every apply run has one; the
/// unsigned form is for tests of the refusal).
pub fn write_state(
    repo: &Repository,
    state: &State,
    signer: Option<&portcullis_core::signing::Signer>,
    message: &str,
) -> Result<()> {
    let json = serde_json::to_vec_pretty(state)?;
    let blob = repo.blob(&json)?;
    let mut tree = repo.treebuilder(None)?;
    tree.insert(STATE_FILE, blob, git2::FileMode::Blob.into())?;
    if let Some(signer) = signer {
        let sig = signer.sign(portcullis_core::signing::Domain::State, &json);
        tree.insert(
            SIGNATURE_FILE,
            repo.blob(sig.as_bytes())?,
            git2::FileMode::Blob.into(),
        )?;
    }
    let tree = repo.find_tree(tree.write()?)?;
    let parent = repo
        .find_reference(STATE_REF)
        .ok()
        .and_then(|r| r.peel_to_commit().ok());
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    let sig = signature()?;
    repo.commit(Some(STATE_REF), &sig, &sig, message, &tree, &parents)
        .with_context(|| format!("cannot update `{STATE_REF}`"))?;
    Ok(())
}

// ---- the evidence notes ----

/// Appends each record to the note of the commit it names, in order.
pub fn append_notes(repo: &Repository, records: &[Note]) -> Result<()> {
    let sig = signature()?;
    for note in records {
        let oid = Oid::from_str(&note.commit)
            .with_context(|| format!("evidence names an invalid commit `{}`", note.commit))?;
        let mut text = match repo.find_note(Some(NOTES_REF), oid) {
            Ok(n) => n.message().unwrap_or_default().to_owned(),
            Err(_) => String::new(),
        };
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&note.to_line());
        text.push('\n');
        repo.note(&sig, &sig, Some(NOTES_REF), oid, &text, true)
            .with_context(|| format!("cannot write the evidence note on {}", note.commit))?;
    }
    Ok(())
}

/// Whether `ancestor` is `descendant` or one of its ancestors.
pub fn descends(repo: &Repository, descendant: Oid, ancestor: Oid) -> Result<bool> {
    Ok(descendant == ancestor || repo.graph_descendant_of(descendant, ancestor)?)
}

/// The commits of `head`'s first-parent chain after `applied` (exclusive), oldest first.
pub fn first_parent_range(repo: &Repository, head: Oid, applied: Oid) -> Result<Vec<Oid>> {
    let mut walk = repo.revwalk()?;
    walk.push(head)?;
    walk.hide(applied)?;
    walk.simplify_first_parent()?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)?;
    walk.collect::<Result<Vec<_>, _>>()
        .context("cannot walk the default branch's history")
}

/// The blob or tree id at `path` in a commit, for comparing what governs provisioning.
pub fn id_at(repo: &Repository, commit: Oid, path: &str) -> Result<Option<Oid>> {
    let tree = repo.find_commit(commit)?.tree()?;
    Ok(tree.get_path(Path::new(path)).ok().map(|e| e.id()))
}

/// The core's [`portcullis_core::ledger::Ledger`] port over a repository.
pub struct GitLedger<'r>(pub &'r Repository);

impl portcullis_core::ledger::Ledger for GitLedger<'_> {
    fn notes(&self) -> Result<Vec<portcullis_core::evidence::Stored>> {
        crate::history::read_notes(self.0)
    }

    fn append_notes(&self, records: &[Note]) -> Result<()> {
        append_notes(self.0, records)
    }

    fn stored_state(&self) -> Result<Option<StoredState>> {
        read_stored_state(self.0)
    }

    fn write_state(
        &self,
        state: &State,
        signer: Option<&portcullis_core::signing::Signer>,
        message: &str,
    ) -> Result<()> {
        write_state(self.0, state, signer, message)
    }

    fn journal(&self) -> Result<Option<String>> {
        read_journal(self.0)
    }

    fn start_journal(&self) -> Result<Box<dyn portcullis_core::ledger::Journal + '_>> {
        Ok(Box::new(Journal::create(self.0)?))
    }

    fn remove_journal(&self) -> Result<()> {
        remove_journal(self.0)
    }

    fn notes_id(&self) -> Result<Option<String>> {
        Ok(self
            .0
            .refname_to_id(portcullis_core::evidence::NOTES_REF)
            .ok()
            .map(|id| id.to_string()))
    }
}

impl portcullis_core::ledger::Journal for Journal {
    fn append(&mut self, line: &str, flush: bool) -> Result<()> {
        Journal::append(self, line, flush)
    }

    fn sync(&mut self) -> Result<()> {
        Journal::sync(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::evidence::{Draft, Kind, Run, seal};
    use portcullis_core::provision::GrantKey;
    use portcullis_core::provision::quarantine::{Entry, Quarantine};

    fn repo_with_commit() -> (tempfile::TempDir, Repository, Oid) {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let tree = repo
            .find_tree(repo.treebuilder(None).unwrap().write().unwrap())
            .unwrap();
        let sig = signature().unwrap();
        let id = repo
            .commit(Some("HEAD"), &sig, &sig, "first", &tree, &[])
            .unwrap();
        drop(tree);
        (dir, repo, id)
    }

    #[test]
    fn the_state_reads_back_as_written_and_keeps_its_history() {
        let (_dir, repo, id) = repo_with_commit();
        assert_eq!(read_state(&repo).unwrap(), State::default());
        let mut state = State {
            version: 1,
            applied: Some(id.to_string().into()),
            quarantine: Quarantine::default(),
            ..State::default()
        };
        write_state(&repo, &state, None, "apply 1").unwrap();
        state.quarantine.entries.push(Entry {
            key: GrantKey {
                app: "vpn".into(),
                person: "ana".into(),
                role: "staff".into(),
            },
            file: "access/vpn/ana.yaml".into(),
            commit: id.to_string().into(),
            reason: "no pull request".into(),
            approved: None,
        });
        write_state(&repo, &state, None, "apply 2").unwrap();
        assert_eq!(read_state(&repo).unwrap(), state);
        let tip = repo
            .find_reference(STATE_REF)
            .unwrap()
            .peel_to_commit()
            .unwrap();
        assert_eq!(
            tip.parent_count(),
            1,
            "each run's state is a new commit on the chain"
        );
    }

    #[test]
    fn records_on_one_commit_are_appended_as_lines_of_its_note() {
        let (_dir, repo, id) = repo_with_commit();
        let draft = |kind| Draft {
            kind,
            commit: id.to_string().into(),
            pr: None,
            pr_head: None,
            approvals: vec![],
            override_: None,
            bypass: None,
            run: Run {
                id: "r".into(),
                started_at: "2026-11-22T09:00:00Z".into(),
                finished_at: None,
            },
            actions: vec![],
        };
        let first = seal(draft(Kind::Apply), None);
        let second = seal(draft(Kind::Run), Some(&first));
        append_notes(&repo, std::slice::from_ref(&first)).unwrap();
        append_notes(&repo, std::slice::from_ref(&second)).unwrap();
        let stored = crate::history::read_notes(&repo).unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].text.lines().count(), 2);
        assert!(portcullis_core::evidence::chain_verify(&stored).is_empty());
    }
}
