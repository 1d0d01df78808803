//! The real git behind each fake repository: trees from directories or edits, merges, and what
//! a pull request's commits and files are.

use std::path::Path;

use chrono::{DateTime, Utc};
use git2::{Delta, DiffFindOptions, FileMode, Oid, Repository, Signature, Time};

pub fn signature(name: &str, email: &str, at: DateTime<Utc>) -> Signature<'static> {
    Signature::new(name, email, &Time::new(at.timestamp(), 0)).expect("valid signature")
}

/// The tree of a directory on disk (`.git` left out).
pub fn tree_from_dir(repo: &Repository, dir: &Path) -> Result<Oid, git2::Error> {
    let mut builder = repo.treebuilder(None)?;
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| git2::Error::from_str(&e.to_string()))?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == ".git" {
            continue;
        }
        let kind = entry
            .file_type()
            .map_err(|e| git2::Error::from_str(&e.to_string()))?;
        if kind.is_dir() {
            let sub = tree_from_dir(repo, &entry.path())?;
            builder.insert(name.as_ref(), sub, FileMode::Tree.into())?;
        } else if kind.is_symlink() {
            let target = std::fs::read_link(entry.path())
                .map_err(|e| git2::Error::from_str(&e.to_string()))?;
            let blob = repo.blob(target.to_string_lossy().as_bytes())?;
            builder.insert(name.as_ref(), blob, FileMode::Link.into())?;
        } else {
            let bytes =
                std::fs::read(entry.path()).map_err(|e| git2::Error::from_str(&e.to_string()))?;
            let blob = repo.blob(&bytes)?;
            builder.insert(name.as_ref(), blob, FileMode::Blob.into())?;
        }
    }
    builder.write()
}

/// `base` (or the empty tree) with each path set to a blob (`Some`) or removed (`None`).
/// Removing a path that is not there is an error, as on GitHub.
pub fn edit_tree(
    repo: &Repository,
    base: Option<Oid>,
    changes: &[(String, Option<(Oid, FileMode)>)],
) -> Result<Oid, git2::Error> {
    let base = match base {
        Some(id) => repo.find_tree(id)?,
        None => repo.find_tree(repo.treebuilder(None)?.write()?)?,
    };
    let mut update = git2::build::TreeUpdateBuilder::new();
    for (path, change) in changes {
        match change {
            Some((id, mode)) => update.upsert(path.as_str(), *id, *mode),
            None => {
                if base.get_path(Path::new(path)).is_err() {
                    return Err(git2::Error::from_str(&format!(
                        "cannot delete `{path}`: not in the base tree"
                    )));
                }
                update.remove(path.as_str())
            }
        };
    }
    update.create_updated(repo, &base)
}

/// A commit of `tree` on `parents`.
pub fn commit(
    repo: &Repository,
    author: &Signature<'_>,
    message: &str,
    tree: Oid,
    parents: &[Oid],
) -> Result<Oid, git2::Error> {
    let tree = repo.find_tree(tree)?;
    let parents: Vec<git2::Commit<'_>> = parents
        .iter()
        .map(|p| repo.find_commit(*p))
        .collect::<Result<_, _>>()?;
    let refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
    repo.commit(None, author, author, message, &tree, &refs)
}

/// The merge commit of `head` into `base`, or `None` on a conflict.
pub fn merge(
    repo: &Repository,
    base: Oid,
    head: Oid,
    author: &Signature<'_>,
    message: &str,
) -> Result<Option<Oid>, git2::Error> {
    let mut index = repo.merge_commits(&repo.find_commit(base)?, &repo.find_commit(head)?, None)?;
    if index.has_conflicts() {
        return Ok(None);
    }
    let tree = index.write_tree_to(repo)?;
    commit(repo, author, message, tree, &[base, head]).map(Some)
}

/// Commits reachable from `head` and not from `base`, oldest first.
pub fn commits_between(repo: &Repository, base: Oid, head: Oid) -> Result<Vec<Oid>, git2::Error> {
    let mut walk = repo.revwalk()?;
    walk.push(head)?;
    walk.hide(base)?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)?;
    walk.collect()
}

pub struct FileChange {
    pub filename: String,
    pub status: &'static str,
    pub previous_filename: Option<String>,
    pub sha: String,
}

/// The files a pull request changes: from the merge base of `base` and `head` to `head`, with
/// renames found by identical blob ids.
pub fn files_between(
    repo: &Repository,
    base: Oid,
    head: Oid,
) -> Result<Vec<FileChange>, git2::Error> {
    let from = repo.find_commit(repo.merge_base(base, head)?)?.tree()?;
    let to = repo.find_commit(head)?.tree()?;
    let mut diff = repo.diff_tree_to_tree(Some(&from), Some(&to), None)?;
    diff.find_similar(Some(
        DiffFindOptions::new().renames(true).exact_match_only(true),
    ))?;
    let path = |f: git2::DiffFile<'_>| f.path().map(|p| p.to_string_lossy().into_owned());
    Ok(diff
        .deltas()
        .filter_map(|d| {
            let status = match d.status() {
                Delta::Added => "added",
                Delta::Deleted => "removed",
                Delta::Modified => "modified",
                Delta::Renamed => "renamed",
                Delta::Typechange => "changed",
                _ => return None,
            };
            let (file, id) = if d.status() == Delta::Deleted {
                (path(d.old_file())?, d.old_file().id())
            } else {
                (path(d.new_file())?, d.new_file().id())
            };
            Some(FileChange {
                filename: file,
                status,
                previous_filename: (status == "renamed").then(|| path(d.old_file())).flatten(),
                sha: id.to_string(),
            })
        })
        .collect())
}

/// A branch, tag or full sha to a commit.
pub fn resolve(repo: &Repository, rev: &str) -> Option<Oid> {
    let full = rev.starts_with("refs/").then(|| rev.to_owned());
    let names = [format!("refs/heads/{rev}"), format!("refs/tags/{rev}")];
    for name in full.into_iter().chain(names) {
        if let Ok(r) = repo.find_reference(&name)
            && let Ok(c) = r.peel_to_commit()
        {
            return Some(c.id());
        }
    }
    let id = Oid::from_str(rev).ok().filter(|_| rev.len() == 40)?;
    repo.find_commit(id).ok().map(|c| c.id())
}

pub fn branch(repo: &Repository, name: &str) -> Option<Oid> {
    repo.find_reference(&format!("refs/heads/{name}"))
        .ok()?
        .target()
}
