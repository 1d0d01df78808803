//! Edge: the core's [`Repo`] and [`Tree`] ports over a libgit2 repository.

use std::collections::BTreeSet;

use anyhow::{Context, Result, anyhow};
use git2::{Oid, Repository};

use portcullis_core::ports::{FileChange, Paths, Repo, Tree};
use portcullis_core::snapshot::Entry;

use crate::revision::Revision;

/// A repository as the core reads it.
pub struct GitRepo<'r>(pub &'r Repository);

impl Tree for Revision<'_> {
    fn read(&self, path: &str) -> Result<Option<Entry>> {
        Revision::read(self, path)
    }
    fn names(&self, dir: &str) -> Vec<String> {
        Revision::names(self, dir)
    }
    fn read_all(&self, paths: &[String]) -> Result<Vec<(String, Entry)>> {
        Revision::read_all(self, paths)
    }
    fn read_dir(&self, dir: &str) -> Result<portcullis_core::snapshot::Snapshot> {
        Revision::read_dir(self, dir)
    }
}

fn oid(id: &str) -> Result<Oid> {
    Oid::from_str(id).map_err(|_| anyhow!("`{id}` is not a commit id"))
}

impl Repo for GitRepo<'_> {
    fn tree(&self, rev: &str) -> Result<Box<dyn Tree + '_>> {
        Ok(Box::new(Revision::at(self.0, rev)?))
    }

    fn has_commit(&self, id: &str) -> bool {
        oid(id).is_ok_and(|o| self.0.find_commit(o).is_ok())
    }

    fn first_parent(&self, rev: &str) -> Result<Option<String>> {
        let c = crate::git::commit_at(self.0, rev)?;
        Ok(c.parent_id(0).ok().map(|p| p.to_string()))
    }

    fn object_at(&self, rev: &str, path: &str) -> Result<Option<String>> {
        let id = crate::git::commit_at(self.0, rev)?.id();
        Ok(crate::ledger::id_at(self.0, id, path)?.map(|o| o.to_string()))
    }

    fn merge_base(&self, a: &str, b: &str) -> Result<String> {
        let (a, b) = (
            crate::git::commit_at(self.0, a)?.id(),
            crate::git::commit_at(self.0, b)?.id(),
        );
        Ok(self
            .0
            .merge_base(a, b)
            .with_context(|| format!("{a} and {b} share no history"))?
            .to_string())
    }

    fn commits_not_in(&self, head: &str, hide: &str) -> Result<Vec<String>> {
        crate::git::commits_not_in(
            self.0,
            crate::git::commit_at(self.0, head)?.id(),
            crate::git::commit_at(self.0, hide)?.id(),
        )
    }

    fn first_parent_not_in(&self, head: &str, hide: &str) -> Result<Vec<String>> {
        let head = crate::git::commit_at(self.0, head)?.id();
        let hide = crate::git::commit_at(self.0, hide)?.id();
        let mut range = crate::ledger::first_parent_range(self.0, head, hide)?;
        range.reverse();
        Ok(range.iter().map(Oid::to_string).collect())
    }

    fn resolve(&self, rev: &str) -> Result<String> {
        Ok(crate::git::commit_at(self.0, rev)?.id().to_string())
    }

    fn governed(&self, rev: &str) -> Result<portcullis_core::snapshot::Snapshot> {
        crate::history::snapshot_at(self.0, rev)
    }

    fn changed_paths(&self, from: &str, to: &str, which: Paths) -> Result<BTreeSet<String>> {
        let from = crate::git::tree_at(self.0, from)?;
        let to = crate::git::tree_at(self.0, to)?;
        match which {
            Paths::Governed => crate::git::changed_between(self.0, &from, &to),
            Paths::All => crate::git::all_changed_between(self.0, &from, &to),
        }
    }

    fn file_history(
        &self,
        from: &str,
        path: &str,
        limit: usize,
        max_commits: usize,
    ) -> Result<Vec<FileChange>> {
        let from = crate::git::commit_at(self.0, from)?.id();
        crate::git::file_changes(self.0, from, path, limit, max_commits)
    }
}
