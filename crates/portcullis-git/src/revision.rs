//! Edge: one revision to read files from without a checkout — a commit's tree, or the work
//! tree (index and unstaged edits included), so `plan` works before a commit exists.

// An edge: files, clock, environment and processes are its business (see clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::resume_unwind;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use git2::Repository;

use portcullis_core::snapshot::{Entry, Snapshot, size_limit};

/// From this many paths on, [`Revision::read_all`] reads on two threads.
const SPREAD_FROM: usize = 64;

pub enum Revision<'r> {
    Tree {
        repo: &'r Repository,
        tree: git2::Tree<'r>,
        /// Folder trees already looked up, by path. libgit2 does not cache a tree object
        /// over 4 KiB, so without this every lookup under `access/` (a tree of hundreds of
        /// entries) inflates and parses it again.
        dirs: RefCell<HashMap<String, Option<git2::Tree<'r>>>>,
    },
    WorkTree(PathBuf),
}

impl<'r> Revision<'r> {
    pub fn at(repo: &'r Repository, rev: &str) -> Result<Revision<'r>> {
        Ok(Revision::Tree {
            repo,
            tree: crate::git::tree_at(repo, rev)?,
            dirs: RefCell::default(),
        })
    }

    /// Where this revision's files come from, in a form another thread can read from (a
    /// `Repository` is not shared between threads).
    pub fn source(&self) -> Source {
        match self {
            Revision::Tree { repo, tree, .. } => Source::Tree {
                git_dir: repo.path().to_owned(),
                tree: tree.id(),
            },
            Revision::WorkTree(root) => Source::WorkTree(root.clone()),
        }
    }

    /// One file, as the snapshot would hold it; `None` when absent.
    pub fn read(&self, path: &str) -> Result<Option<Entry>> {
        match self {
            Revision::Tree { repo, tree, .. } => {
                let Some((dir, name)) = path.rsplit_once('/') else {
                    return crate::git::tree_entry(repo, tree, path);
                };
                match self.dir_tree(dir) {
                    Some(sub) => crate::git::tree_entry(repo, &sub, name),
                    None => Ok(None),
                }
            }
            Revision::WorkTree(root) => read_file(root, path),
        }
    }

    /// Several files, each present one with its path. Spread over two threads when they are
    /// many, as under `check --base`: looking a person up in each of 500 app folders inflates
    /// 500 trees, and that was half of what a small change cost.
    pub fn read_all(&self, paths: &[String]) -> Result<Vec<(String, Entry)>> {
        if !matches!(self, Revision::Tree { .. }) || paths.len() < SPREAD_FROM {
            return self.read_each(paths);
        }
        // The paths come folder by folder, so each half reads its own folders' trees.
        let (mine, theirs) = paths.split_at(paths.len() / 2);
        let source = self.source();
        std::thread::scope(|s| {
            let other = s.spawn(|| source.read_all(theirs));
            let mut out = self.read_each(mine)?;
            out.extend(other.join().unwrap_or_else(|e| resume_unwind(e))?);
            Ok(out)
        })
    }

    fn read_each(&self, paths: &[String]) -> Result<Vec<(String, Entry)>> {
        let mut out = Vec::new();
        for path in paths {
            if let Some(entry) = self.read(path)? {
                out.push((path.clone(), entry));
            }
        }
        Ok(out)
    }

    /// The tree of folder `dir` (`access/payments`), from the cache when looked up before.
    fn dir_tree(&self, dir: &str) -> Option<git2::Tree<'r>> {
        let Revision::Tree {
            repo, tree, dirs, ..
        } = self
        else {
            return None;
        };
        if let Some(found) = dirs.borrow().get(dir) {
            return found.clone();
        }
        let parent = match dir.rsplit_once('/') {
            Some((parent, _)) => self.dir_tree(parent),
            None => Some(tree.clone()),
        };
        let name = dir.rsplit('/').next().unwrap_or(dir);
        let found = parent.and_then(|p| {
            let entry = p.get_name(name)?;
            (entry.kind() == Some(git2::ObjectType::Tree))
                .then(|| repo.find_tree(entry.id()).ok())
                .flatten()
        });
        dirs.borrow_mut().insert(dir.to_owned(), found.clone());
        found
    }

    /// Every file under `dir`.
    pub fn read_dir(&self, dir: &str) -> Result<Snapshot> {
        let mut out = Snapshot::default();
        match self {
            Revision::Tree { repo, tree, .. } => {
                crate::git::tree_dir(repo, tree, dir, &mut out)?;
            }
            Revision::WorkTree(root) => {
                let all = crate::worktree::read(root)?;
                out.files = all
                    .files
                    .into_iter()
                    .filter(|(p, _)| p.starts_with(&format!("{dir}/")))
                    .collect();
            }
        }
        Ok(out)
    }

    /// Names directly under `dir`.
    pub fn names(&self, dir: &str) -> Vec<String> {
        match self {
            Revision::Tree { .. } => self
                .dir_tree(dir)
                .map(|t| {
                    t.iter()
                        .filter_map(|e| e.name().ok().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            Revision::WorkTree(root) => std::fs::read_dir(root.join(dir))
                .map(|rd| {
                    rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// A revision's files, for reading on another thread (see [`Revision::source`]).
pub enum Source {
    Tree { git_dir: PathBuf, tree: git2::Oid },
    WorkTree(PathBuf),
}

impl Source {
    /// Files, as [`Revision::read_all`] gives them (on this thread only).
    fn read_all(&self, paths: &[String]) -> Result<Vec<(String, Entry)>> {
        match self {
            Source::Tree { git_dir, tree } => {
                let repo = crate::git::open(git_dir)?;
                let revision = Revision::Tree {
                    tree: repo.find_tree(*tree)?,
                    repo: &repo,
                    dirs: RefCell::default(),
                };
                revision.read_each(paths)
            }
            Source::WorkTree(root) => Revision::WorkTree(root.clone()).read_each(paths),
        }
    }

    /// One file, as [`Revision::read`] gives it.
    pub fn read(&self, path: &str) -> Result<Option<Entry>> {
        match self {
            Source::Tree { git_dir, tree } => {
                let repo = crate::git::open(git_dir)?;
                let tree = repo.find_tree(*tree)?;
                crate::git::tree_entry(&repo, &tree, path)
            }
            Source::WorkTree(root) => read_file(root, path),
        }
    }
}

fn read_file(root: &Path, rel: &str) -> Result<Option<Entry>> {
    let path = root.join(rel);
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read `{rel}`")),
    };
    if meta.file_type().is_symlink() {
        return Ok(Some(Entry::Symlink));
    }
    if meta.is_dir() {
        return Ok(None);
    }
    let limit = size_limit(rel);
    if meta.len() > limit {
        return Ok(Some(Entry::TooLarge(meta.len())));
    }
    let bytes = std::fs::File::open(&path)
        .and_then(|f| crate::worktree::read_shared(f, meta.len() as usize, limit))
        .with_context(|| format!("cannot read `{rel}`"))?;
    // It may have grown past the limit since it was measured.
    if bytes.len() as u64 > limit {
        return Ok(Some(Entry::TooLarge(bytes.len() as u64)));
    }
    Ok(Some(Entry::File(bytes)))
}
