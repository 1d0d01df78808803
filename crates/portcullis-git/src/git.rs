//! Edge: git through libgit2. Reads a base revision's governed files that a change touched,
//! the list of changed paths, and the date of the last commit that touched a file.

// An edge: files, clock, environment and processes are its business (see clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use chrono::{DateTime, TimeZone, Utc};
use git2::{Delta, DiffOptions, Repository};

use portcullis_core::baseline::Touched;
use portcullis_core::snapshot::{Entry, GOVERNED_DIRS, size_limit, wants_content};

pub fn open(root: &Path) -> Result<Repository> {
    // libgit2 re-hashes every object it reads; git does not, and on a repository of 100,000
    // loose grant files that hashing was most of `plan`'s time. Objects are addressed by
    // their hash either way, and the object store is the local clone.
    git2::opts::strict_hash_verification(false);
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

/// Whether `path` is a governed folder or lies in one.
pub(crate) fn is_governed(path: &str) -> bool {
    GOVERNED_DIRS
        .iter()
        .any(|d| path.starts_with(&format!("{d}/")) || path == *d)
}

/// The change from `base` to the work tree (index and unstaged edits included, untracked files
/// too), with the base content of each changed path.
pub fn change_since(repo: &Repository, base: &str) -> Result<Touched> {
    let object = revision(repo, base, "--base ")?;
    let tree = object
        .peel_to_tree()
        .with_context(|| format!("`{base}` does not name a commit or tree"))?;
    match crate::status::changed(repo.path(), tree.id()) {
        Ok(paths) => with_base_content(repo, &tree, paths),
        // gix answers every repository git can read; what it refuses (an object format or an
        // index extension newer than it knows) libgit2 may still compare.
        Err(why) => {
            if std::env::var_os("PORTCULLIS_TIMINGS").is_some() {
                eprintln!("timing: the work tree is compared by libgit2: {why:#}");
            }
            change_since_libgit2(repo, &tree)
        }
    }
}

/// libgit2's comparison of the work tree with `tree`, for what gix refuses to read. Also the
/// reference the gix answer is tested against.
pub fn change_since_libgit2(repo: &Repository, tree: &git2::Tree) -> Result<Touched> {
    let mut opts = DiffOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_typechange(true);
    for d in GOVERNED_DIRS {
        opts.pathspec(d);
    }
    let diff = repo
        .diff_tree_to_workdir_with_index(Some(tree), Some(&mut opts))
        .context("cannot compare the work tree with the base revision")?;
    let mut change = Touched::default();
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
    last_touched_from(repo, None, paths)
}

/// As [`last_touched`], walking from `from` (a revision) instead of HEAD.
pub fn last_touched_from(
    repo: &Repository,
    from: Option<&str>,
    paths: &[&str],
) -> Result<HashMap<String, DateTime<Utc>>> {
    let mut out = HashMap::new();
    if paths.is_empty() {
        return Ok(out);
    }
    let head = match from {
        Some(rev) => commit_at(repo, rev)?,
        None => match repo.head().and_then(|h| h.peel_to_commit()) {
            Ok(c) => c,
            Err(_) => return Ok(out),
        },
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

/// The change from `base` to the tree `head` (both committed), with the base content of each
/// changed path.
pub fn change_between(repo: &Repository, base: &str, head: &git2::Tree) -> Result<Touched> {
    let base_tree = tree_at(repo, base)?;
    let paths = changed_between(repo, &base_tree, head)?;
    with_base_content(repo, &base_tree, paths)
}

/// The change made of `paths`, with the content each had in `base_tree`.
fn with_base_content(
    repo: &Repository,
    base_tree: &git2::Tree,
    paths: BTreeSet<String>,
) -> Result<Touched> {
    let mut change = Touched::default();
    for p in &paths {
        if wants_content(p)
            && let Some(entry) = tree_entry(repo, base_tree, p)?
        {
            change.base.files.insert(p.clone(), entry);
        }
    }
    change.paths = paths;
    Ok(change)
}

/// The object a revision names, or an error a person can act on: what was not found, and how
/// to name it (libgit2's own message carries class and code numbers).
fn revision<'r>(repo: &'r Repository, rev: &str, flag: &str) -> Result<git2::Object<'r>> {
    repo.revparse_single(rev).map_err(|e| {
        let why = if e.code() == git2::ErrorCode::NotFound {
            "no branch, tag or commit has that name here".to_owned()
        } else if e.code() == git2::ErrorCode::Ambiguous {
            "it is the start of more than one commit id".to_owned()
        } else {
            e.message().to_owned()
        };
        anyhow::anyhow!(
            "cannot resolve `{flag}{rev}`: {why}\nhint: name a branch, tag or commit of this repository (e.g. `origin/main`, after `git fetch origin main`), and see the names there are with `git branch -a` and `git log --oneline -5`"
        )
    })
}

/// A revision's tree, for reading files without a checkout.
pub fn tree_at<'r>(repo: &'r Repository, rev: &str) -> Result<git2::Tree<'r>> {
    revision(repo, rev, "")?
        .peel_to_tree()
        .with_context(|| format!("`{rev}` does not name a commit or tree"))
}

/// The commit a revision names.
pub fn commit_at<'r>(repo: &'r Repository, rev: &str) -> Result<git2::Commit<'r>> {
    revision(repo, rev, "")?
        .peel_to_commit()
        .with_context(|| format!("`{rev}` does not name a commit"))
}

/// Governed paths that differ between two trees (old and new side; no rename detection, so
/// a moved file is a removal plus an addition). Subtrees with the same id are skipped without
/// being read, so ten changed files in 100,000 cost a few tree reads (libgit2's own tree diff
/// walked every entry: 90 ms there).
pub fn changed_between(
    repo: &Repository,
    base: &git2::Tree,
    head: &git2::Tree,
) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for dir in GOVERNED_DIRS {
        let (old, new) = (base.get_name(dir), head.get_name(dir));
        crate::treediff::changed_paths(repo, dir, old.as_ref(), new.as_ref(), &mut out)
            .with_context(|| format!("cannot compare `{dir}` between the two revisions"))?;
    }
    Ok(out)
}

/// Every path that differs between two trees, governed or not (the tool's own sources and
/// workflows are rules too: SPEC section 7). The approval verdict takes a pull request's changed
/// paths from here, never from GitHub's listing, which stops at 3000 files.
pub fn all_changed_between(
    repo: &Repository,
    base: &git2::Tree,
    head: &git2::Tree,
) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    crate::treediff::changed_trees(repo, base, head, &mut out)
        .context("cannot compare the two revisions")?;
    Ok(out)
}

/// The commits reachable from `head` and not from `base`: what GitHub lists as a pull
/// request's commits, counted from git so that a listing GitHub cut short is noticed.
pub fn commits_not_in(repo: &Repository, head: git2::Oid, base: git2::Oid) -> Result<Vec<String>> {
    let mut walk = repo.revwalk()?;
    walk.push(head)?;
    walk.hide(base)?;
    walk.map(|id| Ok(id?.to_string())).collect()
}

/// One file of a tree, as the snapshot holds it; `None` when absent.
pub fn tree_entry(repo: &Repository, tree: &git2::Tree, path: &str) -> Result<Option<Entry>> {
    // A name directly in the tree is looked up by name: `get_path` copies the entry and, for
    // the thousands of lookups that find nothing under `check --base`, formats an error each.
    let found = if path.contains('/') {
        tree.get_path(Path::new(path))
            .ok()
            .map(|e| (e.kind(), e.id(), e.filemode()))
    } else {
        tree.get_name(path)
            .map(|e| (e.kind(), e.id(), e.filemode()))
    };
    match found {
        Some((kind, id, mode)) if kind != Some(git2::ObjectType::Tree) => {
            blob_entry(repo, path, id, mode_of(mode)).map(Some)
        }
        _ => Ok(None),
    }
}

/// Every file under `dir` in a tree (recursively), as the snapshot holds it.
pub fn tree_dir(
    repo: &Repository,
    tree: &git2::Tree,
    dir: &str,
    out: &mut portcullis_core::snapshot::Snapshot,
) -> Result<()> {
    let Ok(entry) = tree.get_path(Path::new(dir)) else {
        return Ok(());
    };
    let Ok(sub) = repo.find_tree(entry.id()) else {
        return Ok(());
    };
    let mut failure = None;
    sub.walk(git2::TreeWalkMode::PreOrder, |prefix, e| {
        if e.kind() == Some(git2::ObjectType::Tree) {
            return git2::TreeWalkResult::Ok;
        }
        let path = format!("{dir}/{prefix}{}", e.name().unwrap_or_default());
        match blob_entry(repo, &path, e.id(), mode_of(e.filemode())) {
            Ok(entry) => {
                out.files.insert(path, entry);
                git2::TreeWalkResult::Ok
            }
            Err(err) => {
                failure = Some(err);
                git2::TreeWalkResult::Abort
            }
        }
    })?;
    failure.map_or(Ok(()), Err)
}

pub use portcullis_core::ports::FileChange;

/// The commits reachable from `from` that changed `path` (newest first), at most `limit`,
/// looking at no more than `max_commits` commits.
pub fn file_changes(
    repo: &Repository,
    from: git2::Oid,
    path: &str,
    limit: usize,
    max_commits: usize,
) -> Result<Vec<FileChange>> {
    let mut walk = repo.revwalk()?;
    walk.push(from)?;
    walk.set_sorting(git2::Sort::TIME)?;
    let mut out = Vec::new();
    let p = Path::new(path);
    for oid in walk.take(max_commits) {
        if out.len() >= limit {
            break;
        }
        let commit = repo.find_commit(oid?)?;
        let now = commit
            .tree()?
            .get_path(p)
            .ok()
            .map(|e| (e.id(), e.filemode()));
        let before = match commit.parent(0) {
            Ok(parent) => parent
                .tree()?
                .get_path(p)
                .ok()
                .map(|e| (e.id(), e.filemode())),
            Err(_) => None,
        };
        if now.map(|x| x.0) == before.map(|x| x.0) {
            continue;
        }
        let read = |side: Option<(git2::Oid, i32)>| -> Result<Option<Entry>> {
            side.map(|(id, mode)| blob_entry(repo, path, id, mode_of(mode)))
                .transpose()
        };
        out.push(FileChange {
            commit: commit.id().to_string()[..10].to_owned(),
            id: commit.id().to_string(),
            date: Utc
                .timestamp_opt(commit.time().seconds(), 0)
                .single()
                .unwrap_or_default(),
            summary: commit
                .summary()
                .ok()
                .flatten()
                .unwrap_or_default()
                .to_owned(),
            before: read(before)?,
            after: read(now)?,
        });
    }
    Ok(out)
}

fn mode_of(raw: i32) -> git2::FileMode {
    match raw {
        0o120000 => git2::FileMode::Link,
        0o160000 => git2::FileMode::Commit,
        _ => git2::FileMode::Blob,
    }
}

/// `user.email` from the repository's git configuration (its own, then the user's and the
/// system's), for `request` to tell who is asking.
pub fn user_email(root: &Path) -> Option<String> {
    let repo = Repository::open(root).ok()?;
    let email = repo.config().ok()?.get_string("user.email").ok()?;
    let email = email.trim();
    (!email.is_empty()).then(|| email.to_owned())
}
