//! The ports: what the application asks of the world, declared here and implemented by the
//! edges (`portcullis-git` for [`Repo`], `portcullis-github` for [`github::GitHub`]) and by the
//! in-memory doubles of `portcullis-testkit`. The core reads history and GitHub only through
//! these, so a flow that decides access runs the same on a real repository and on a few maps.
//!
//! Commits are named by strings: a full id, or any revision the repository understands.

pub mod github;

use std::collections::BTreeSet;

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::snapshot::Entry;

/// One revision's files, read without a checkout.
pub trait Tree {
    /// One file as the snapshot would hold it; `None` when absent.
    fn read(&self, path: &str) -> Result<Option<Entry>>;
    /// Names directly under `dir` (files and folders); empty when `dir` is absent.
    fn names(&self, dir: &str) -> Vec<String>;
    /// Every file under `dir`, folders walked (an edge may read them its own way).
    fn read_dir(&self, dir: &str) -> Result<crate::snapshot::Snapshot> {
        let mut out = crate::snapshot::Snapshot::default();
        let mut open = vec![dir.to_owned()];
        while let Some(dir) = open.pop() {
            for name in self.names(&dir) {
                let path = format!("{dir}/{name}");
                match self.read(&path)? {
                    Some(entry) => _ = out.files.insert(path, entry),
                    None => open.push(path),
                }
            }
        }
        Ok(out)
    }
    /// The files among `paths` that exist, with their entries (an edge may read them in
    /// parallel).
    fn read_all(&self, paths: &[String]) -> Result<Vec<(String, Entry)>> {
        let mut out = Vec::new();
        for path in paths {
            if let Some(entry) = self.read(path)? {
                out.push((path.clone(), entry));
            }
        }
        Ok(out)
    }
}

/// One commit that changed a file: its content before and after.
#[derive(Debug, Clone)]
pub struct FileChange {
    /// The commit id, shortened for display.
    pub commit: String,
    /// The full commit id.
    pub id: String,
    pub date: DateTime<Utc>,
    pub summary: String,
    pub before: Option<Entry>,
    pub after: Option<Entry>,
}

/// Which paths [`Repo::changed_paths`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paths {
    /// Under the governed folders (`access/`, `policies/`, `schemas/`, `.github/`): what a
    /// plan is made from.
    Governed,
    /// Every path, the tool's own files and workflows included (SPEC section 7): what the
    /// approval verdict reads, never GitHub's listing, which stops at 3000 files.
    All,
}

/// The repository's history, as the application reads it.
pub trait Repo {
    /// The files of `rev` (a commit or tree).
    fn tree(&self, rev: &str) -> Result<Box<dyn Tree + '_>>;
    /// Whether the commit `id` is here (a pull request's head must be fetched first).
    fn has_commit(&self, id: &str) -> bool;
    /// The first parent of commit `rev` (the branch before it, for a merge); `None` for a
    /// root commit.
    fn first_parent(&self, rev: &str) -> Result<Option<String>>;
    /// The object id of `path` (a file or a folder) in commit `rev`, `None` when absent:
    /// equal ids, equal content.
    fn object_at(&self, rev: &str, path: &str) -> Result<Option<String>>;
    /// The best common ancestor of two commits; an error when they share no history.
    fn merge_base(&self, a: &str, b: &str) -> Result<String>;
    /// The commits reachable from `head` and not from `hide`, newest first.
    fn commits_not_in(&self, head: &str, hide: &str) -> Result<Vec<String>>;
    /// The commits of `head`'s first-parent line not reachable from `hide`, newest first: a
    /// branch's own history since `hide`, merges counted once.
    fn first_parent_not_in(&self, head: &str, hide: &str) -> Result<Vec<String>>;
    /// The full id of the commit a revision (an id, a branch, a tag) names.
    fn resolve(&self, rev: &str) -> Result<String>;
    /// What provisioning reads at `rev`: `access/`, `policies/` and CODEOWNERS.
    fn governed(&self, rev: &str) -> Result<crate::snapshot::Snapshot>;
    /// Paths that differ between two revisions (no rename detection: a move is a removal
    /// and an addition).
    fn changed_paths(&self, from: &str, to: &str, which: Paths) -> Result<BTreeSet<String>>;
    /// The commits reachable from `from` that changed `path`, newest first: at most `limit`,
    /// looking at no more than `max_commits`.
    fn file_history(
        &self,
        from: &str,
        path: &str,
        limit: usize,
        max_commits: usize,
    ) -> Result<Vec<FileChange>>;
}
