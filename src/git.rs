//! Edge: git through libgit2. Reads a base revision's governed files that a change touched,
//! the list of changed paths, and the date of the last commit that touched a file.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use chrono::{DateTime, TimeZone, Utc};
use git2::{Delta, DiffOptions, Repository};

use crate::baseline::Change;
use crate::snapshot::{Entry, GOVERNED_DIRS, size_limit, wants_content};

pub fn open(root: &Path) -> Result<Repository> {
    Repository::open(root)
        .with_context(|| format!("`{}` is not the top of a git work tree", root.display()))
}

/// The work tree that contains `dir`, for the default `--root`.
pub fn discover_root(dir: &Path) -> Option<std::path::PathBuf> {
    Repository::discover(dir)
        .ok()?
        .workdir()
        .map(Path::to_path_buf)
}

fn is_governed(path: &str) -> bool {
    GOVERNED_DIRS
        .iter()
        .any(|d| path.starts_with(&format!("{d}/")) || path == *d)
}

/// The change from `base` to the work tree (index and unstaged edits included, untracked files
/// too), with the base content of each changed path.
pub fn change_since(repo: &Repository, base: &str) -> Result<Change> {
    let object = repo
        .revparse_single(base)
        .with_context(|| format!("cannot resolve `--base {base}`"))?;
    let tree = object
        .peel_to_tree()
        .with_context(|| format!("`{base}` does not name a commit or tree"))?;
    let mut opts = DiffOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_typechange(true);
    for d in GOVERNED_DIRS {
        opts.pathspec(d);
    }
    let diff = repo
        .diff_tree_to_workdir_with_index(Some(&tree), Some(&mut opts))
        .context("cannot compare the work tree with the base revision")?;
    let mut change = Change::default();
    for delta in diff.deltas() {
        for file in [delta.old_file(), delta.new_file()] {
            if let Some(p) = file.path().and_then(|p| p.to_str())
                && is_governed(p)
            {
                change.paths.insert(p.to_owned());
            }
        }
        if delta.status() == Delta::Added || delta.status() == Delta::Untracked {
            continue;
        }
        if let Some(p) = delta.old_file().path().and_then(|p| p.to_str())
            && wants_content(p)
        {
            let entry = blob_entry(repo, p, delta.old_file().id(), delta.old_file().mode())?;
            change.base.files.insert(p.to_owned(), entry);
        }
    }
    Ok(change)
}

fn blob_entry(repo: &Repository, path: &str, id: git2::Oid, mode: git2::FileMode) -> Result<Entry> {
    Ok(match mode {
        git2::FileMode::Link => Entry::Symlink,
        git2::FileMode::Commit => Entry::Submodule,
        _ => {
            let blob = repo
                .find_blob(id)
                .with_context(|| format!("cannot read `{path}` at the base revision"))?;
            if blob.size() as u64 > size_limit(path) {
                Entry::TooLarge(blob.size() as u64)
            } else {
                Entry::File(blob.content().into())
            }
        }
    })
}

/// For each path, the committer date of the newest commit (from HEAD) that changed it.
/// Walks history once, stopping as soon as every path is dated.
pub fn last_touched(repo: &Repository, paths: &[&str]) -> Result<HashMap<String, DateTime<Utc>>> {
    let mut out = HashMap::new();
    if paths.is_empty() {
        return Ok(out);
    }
    let Ok(head) = repo.head().and_then(|h| h.peel_to_commit()) else {
        return Ok(out);
    };
    let mut pending: BTreeSet<&str> = paths.iter().copied().collect();
    let mut walk = repo.revwalk()?;
    walk.push(head.id())?;
    walk.set_sorting(git2::Sort::TIME)?;
    for oid in walk {
        if pending.is_empty() {
            break;
        }
        let commit = repo.find_commit(oid?)?;
        let tree = commit.tree()?;
        let parent_tree = match commit.parent(0) {
            Ok(p) => Some(p.tree()?),
            Err(_) => None,
        };
        let when = Utc
            .timestamp_opt(commit.time().seconds(), 0)
            .single()
            .ok_or_else(|| anyhow!("commit {} has an invalid date", commit.id()))?;
        let done: Vec<&str> = pending
            .iter()
            .copied()
            .filter(|p| {
                let now = tree.get_path(Path::new(p)).ok().map(|e| e.id());
                let before = parent_tree
                    .as_ref()
                    .and_then(|t| t.get_path(Path::new(p)).ok())
                    .map(|e| e.id());
                now.is_some() && now != before
            })
            .collect();
        for p in done {
            pending.remove(p);
            out.insert(p.to_owned(), when);
        }
    }
    Ok(out)
}

/// `user.email` from the repository's git configuration (its own, then the user's and the
/// system's), for `request` to tell who is asking.
pub fn user_email(root: &Path) -> Option<String> {
    let repo = Repository::open(root).ok()?;
    let email = repo.config().ok()?.get_string("user.email").ok()?;
    let email = email.trim();
    (!email.is_empty()).then(|| email.to_owned())
}
