//! Edge: the governed paths where the work tree (index and unstaged edits, untracked files)
//! differs from a base tree, answered by gix's status: git's own algorithm (the index's
//! cached `lstat` data, its folder trees, ignore files, attributes and filters), on every core.
//!
//! gix reports the two steps apart, base to index and index to work tree; a path counts when
//! the work tree differs from the base, so one added to the index and then removed from the
//! work tree is no change (libgit2's merged answer, which the tests hold this to).

// An edge: files are its business (see clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use gix::diff::index::ChangeRef;
use gix::status::Item;
use gix::status::index_worktree::Item as WorktreeItem;
use gix::status::plumbing::index_as_worktree::{Change, EntryStatus};
use portcullis_core::snapshot::GOVERNED_DIRS;

/// What the two steps said about one path.
#[derive(Default)]
struct Seen {
    added_to_index: bool,
    other_in_index: bool,
    removed_from_work_tree: bool,
    other_in_work_tree: bool,
}

/// The governed paths that differ between `tree` and the work tree of the repository at
/// `git_dir`: edited, added (untracked and not ignored), removed, or changed in kind or mode.
/// An untracked repository or folder is one entry ending in `/`.
pub fn changed(git_dir: &std::path::Path, tree: git2::Oid) -> Result<BTreeSet<String>> {
    // Nanoseconds count, as in libgit2: a file rewritten to the same size within the second
    // its entry was written, with its modification time put back, differs only there.
    let options = gix::open::Options::default().config_overrides(["gitoxide.core.useNsec=true"]);
    let repo = gix::open_opts(git_dir, options).context("cannot open the repository")?;
    let tree = gix::ObjectId::try_from(tree.as_bytes()).context("not a SHA-1 tree id")?;
    let status = repo
        .status(gix::progress::Discard)?
        .head_tree(tree)
        .untracked_files(gix::status::UntrackedFiles::Files)
        .tree_index_track_renames(gix::status::tree_index::TrackRenames::Disabled)
        .index_worktree_rewrites(None)
        .index_worktree_submodules(gix::status::Submodule::Given {
            ignore: gix::submodule::config::Ignore::All,
            check_dirty: false,
        })
        // Each governed name, not `name/`: a file put where a governed folder was counts too.
        .into_iter(GOVERNED_DIRS.iter().map(|d| (*d).into()))?;
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    for item in status {
        let item = item.context("cannot compare the work tree with the base revision")?;
        let mut path = item.location().to_string();
        let mut entry = Seen::default();
        match &item {
            Item::TreeIndex(ChangeRef::Addition { .. }) => entry.added_to_index = true,
            Item::TreeIndex(_) => entry.other_in_index = true,
            Item::IndexWorktree(WorktreeItem::Modification { status, .. }) => match status {
                // Only the `lstat` data moved: the content is the index's.
                EntryStatus::NeedsUpdate(_) => continue,
                EntryStatus::Change(Change::Removed) => entry.removed_from_work_tree = true,
                _ => entry.other_in_work_tree = true,
            },
            Item::IndexWorktree(WorktreeItem::DirectoryContents { entry: found, .. }) => {
                // An untracked repository is one entry, named as a folder (as git names it).
                if matches!(
                    found.disk_kind,
                    Some(gix::dir::entry::Kind::Repository | gix::dir::entry::Kind::Directory)
                ) {
                    path.push('/');
                }
                entry.other_in_work_tree = true;
            }
            Item::IndexWorktree(_) => entry.other_in_work_tree = true,
        }
        if !crate::git::is_governed(&path) {
            continue;
        }
        let s = seen.entry(path).or_default();
        s.added_to_index |= entry.added_to_index;
        s.other_in_index |= entry.other_in_index;
        s.removed_from_work_tree |= entry.removed_from_work_tree;
        s.other_in_work_tree |= entry.other_in_work_tree;
    }
    Ok(seen
        .into_iter()
        .filter(|(_, s)| {
            // In neither the base nor the work tree: only the index ever had it.
            let index_only = s.added_to_index
                && s.removed_from_work_tree
                && !s.other_in_index
                && !s.other_in_work_tree;
            !index_only
        })
        .map(|(path, _)| path)
        .collect())
}
