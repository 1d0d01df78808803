//! The one tree differ: two trees walked side by side in git's order, subtrees with the same
//! id skipped without being read. `check --base --head`, the changed paths of a pull request
//! (approvals, verification) and audit's history all compare trees through it.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use anyhow::{Context, Result};
use git2::{ObjectType, Repository, Tree, TreeEntry};

/// Git's order of tree entries: by name, a folder's name read with a trailing `/`.
fn git_order(a: &TreeEntry, b: &TreeEntry) -> Ordering {
    let (x, y) = (a.name_bytes(), b.name_bytes());
    let n = x.len().min(y.len());
    x[..n].cmp(&y[..n]).then_with(|| {
        let next = |name: &[u8], e: &TreeEntry| match name.get(n) {
            Some(&c) => c,
            None if e.kind() == Some(ObjectType::Tree) => b'/',
            None => 0,
        };
        next(x, a).cmp(&next(y, b))
    })
}

/// Calls `f` with each pair of entries (old, new) whose ids differ, walking both trees in
/// order without reading anything else.
pub(crate) fn changed_entries<'t>(
    old: Option<&'t Tree>,
    new: Option<&'t Tree>,
    mut f: impl FnMut(Option<TreeEntry<'t>>, Option<TreeEntry<'t>>) -> Result<()>,
) -> Result<()> {
    let (n, m) = (old.map_or(0, |t| t.len()), new.map_or(0, |t| t.len()));
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        let x = old.and_then(|t| t.get(i));
        let y = new.and_then(|t| t.get(j));
        match (x, y) {
            (Some(x), Some(y)) => match git_order(&x, &y) {
                Ordering::Equal => {
                    i += 1;
                    j += 1;
                    if x.id() != y.id() || x.filemode() != y.filemode() {
                        f(Some(x), Some(y))?;
                    }
                }
                Ordering::Less => {
                    i += 1;
                    f(Some(x), None)?;
                }
                Ordering::Greater => {
                    j += 1;
                    f(None, Some(y))?;
                }
            },
            (Some(x), None) => {
                i += 1;
                f(Some(x), None)?;
            }
            (None, Some(y)) => {
                j += 1;
                f(None, Some(y))?;
            }
            (None, None) => break,
        }
    }
    Ok(())
}

/// The tree an entry names; `None` for an absent entry or one that is not a tree. A tree the
/// repository does not hold is an error, never an empty folder.
pub(crate) fn subtree<'r>(repo: &'r Repository, e: Option<&TreeEntry>) -> Result<Option<Tree<'r>>> {
    match e.filter(|e| e.kind() == Some(ObjectType::Tree)) {
        Some(e) => Ok(Some(repo.find_tree(e.id()).with_context(|| {
            format!("the repository lacks the tree {}", e.id())
        })?)),
        None => Ok(None),
    }
}

/// Every path under `path` that differs between two entries of that name (absent, a file or a
/// folder on either side): added, removed, edited, changed in mode, or turned into or out of
/// a folder. No rename detection: a moved file is a removal plus an addition.
pub(crate) fn changed_paths(
    repo: &Repository,
    path: &str,
    old: Option<&TreeEntry>,
    new: Option<&TreeEntry>,
    out: &mut BTreeSet<String>,
) -> Result<()> {
    let id = |e: Option<&TreeEntry>| e.map(|e| (e.id(), e.filemode()));
    if id(old) == id(new) {
        return Ok(());
    }
    let is_tree = |e: Option<&TreeEntry>| e.is_some_and(|e| e.kind() == Some(ObjectType::Tree));
    if (old.is_some() && !is_tree(old)) || (new.is_some() && !is_tree(new)) {
        out.insert(path.to_owned());
    }
    let (a, b) = (subtree(repo, old)?, subtree(repo, new)?);
    if a.is_none() && b.is_none() {
        return Ok(());
    }
    changed_entries(a.as_ref(), b.as_ref(), |x, y| {
        let name = x
            .as_ref()
            .or(y.as_ref())
            .map(|e| String::from_utf8_lossy(e.name_bytes()).into_owned())
            .unwrap_or_default();
        changed_paths(repo, &format!("{path}/{name}"), x.as_ref(), y.as_ref(), out)
    })
}

/// Every path that differs between two whole trees.
pub(crate) fn changed_trees(
    repo: &Repository,
    old: &Tree,
    new: &Tree,
    out: &mut BTreeSet<String>,
) -> Result<()> {
    changed_entries(Some(old), Some(new), |x, y| {
        let name = x
            .as_ref()
            .or(y.as_ref())
            .map(|e| String::from_utf8_lossy(e.name_bytes()).into_owned())
            .unwrap_or_default();
        changed_paths(repo, &name, x.as_ref(), y.as_ref(), out)
    })
}
