//! Edge: the default branch's history for `audit` and `report`. Walks the first-parent chain
//! from a revision (each commit is one change to the branch), finds the grant files each commit
//! changed by comparing tree ids (unchanged folders are skipped without being read), and parses
//! every changed file once per distinct content, on every core.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use chrono::{TimeZone, Utc};
use git2::{ObjectType, Oid, Repository, Tree};
use rayon::prelude::*;

use crate::audit::{Commit, FileDiff, GrantSet, Side};
use crate::evidence::{NOTES_REF, Stored};
use crate::snapshot::Entry;

/// A changed grant file and its new blob (id, mode); `None` when removed.
type Changed = (String, Option<(Oid, i32)>);

/// What to read.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Read only `access/<app>/`: questions about one app skip every other folder.
    pub only_app: Option<String>,
}

/// The first-parent history of `rev`, oldest commit first.
pub fn read(repo: &Repository, rev: &str, opts: &Options) -> Result<Vec<Commit>> {
    let head = crate::git::commit_at(repo, rev)?;
    let mut chain = vec![head.id()];
    let mut cur = head;
    while let Ok(parent) = cur.parent(0) {
        chain.push(parent.id());
        cur = parent;
    }
    chain.reverse();

    let mut commits = Vec::with_capacity(chain.len());
    // Changed files as blob ids; parsed afterwards, each distinct blob once.
    let mut pending: Vec<Vec<Changed>> = Vec::with_capacity(chain.len());
    let mut previous: Option<Tree> = None;
    for id in chain {
        let commit = repo
            .find_commit(id)
            .with_context(|| format!("cannot read commit {id}"))?;
        let tree = commit
            .tree()
            .with_context(|| format!("cannot read the tree of commit {id}"))?;
        let sub = |t: Option<&Tree>, path: &str| -> Option<Oid> {
            t.and_then(|t| t.get_path(Path::new(path)).ok())
                .map(|e| e.id())
        };
        let changed = |path: &str| sub(previous.as_ref(), path) != sub(Some(&tree), path);
        let mut files = Vec::new();
        let touches_access = changed("access");
        if touches_access {
            let scope = match &opts.only_app {
                Some(app) => format!("access/{app}"),
                None => "access".to_owned(),
            };
            if opts.only_app.is_none() || changed(&scope) {
                diff_access(repo, previous.as_ref(), &tree, opts, &mut files)?;
            }
        }
        let touches_governance = ["policies", "schemas", ".github"]
            .iter()
            .any(|d| changed(d));
        let people_changed = touches_governance && changed(crate::model::PEOPLE_FILE);
        let time = Utc
            .timestamp_opt(commit.time().seconds(), 0)
            .single()
            .ok_or_else(|| anyhow!("commit {id} has an invalid date"))?;
        commits.push(Commit {
            sha: id.to_string(),
            time,
            summary: commit
                .summary()
                .ok()
                .flatten()
                .unwrap_or_default()
                .to_owned(),
            parents: commit.parent_count(),
            touches_access,
            touches_governance,
            people_changed,
            files: Vec::new(),
        });
        pending.push(files);
        previous = Some(tree);
    }

    let mut blobs: Vec<(Oid, i32, &str)> = pending
        .iter()
        .flatten()
        .filter_map(|(path, side)| side.map(|(id, mode)| (id, mode, path.as_str())))
        .collect();
    blobs.sort_by_key(|b| b.0);
    blobs.dedup_by_key(|b| b.0);
    let path = repo.path().to_path_buf();
    let parsed: Vec<(Oid, Side)> = blobs
        .par_chunks(256)
        .map(|chunk| -> Result<Vec<(Oid, Side)>> {
            // A repository handle per worker: libgit2 handles are not shared across threads.
            let repo = Repository::open(&path)?;
            chunk
                .iter()
                .map(|&(id, mode, path)| Ok((id, parse_blob(&repo, id, mode, path)?)))
                .collect()
        })
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    let parsed: HashMap<Oid, Side> = parsed.into_iter().collect();
    for (commit, files) in commits.iter_mut().zip(pending) {
        commit.files = files
            .into_iter()
            .map(|(path, side)| FileDiff {
                after: match side {
                    None => Side::Absent,
                    Some((id, _)) => parsed.get(&id).cloned().unwrap_or(Side::Unreadable),
                },
                path,
            })
            .collect();
    }
    Ok(commits)
}

fn parse_blob(repo: &Repository, id: Oid, mode: i32, path: &str) -> Result<Side> {
    if mode == 0o120000 || mode == 0o160000 {
        return Ok(Side::Unreadable);
    }
    let blob = repo
        .find_blob(id)
        .with_context(|| format!("cannot read `{path}` (blob {id})"))?;
    let entry = if blob.size() as u64 > crate::snapshot::GRANT_FILE_LIMIT {
        Entry::TooLarge(blob.size() as u64)
    } else {
        Entry::File(blob.content().into())
    };
    let mut ignored = Vec::new();
    let file = crate::load::parse_entry(path, &entry, &mut ignored)
        .and_then(|node| crate::load::grant_file(path, &node, &mut ignored));
    Ok(match file {
        Some(f) => Side::Grants(Arc::new(GrantSet::of(&f))),
        None => Side::Unreadable,
    })
}

/// Entries of a tree by name: (id, mode, is a tree).
fn entries(
    repo: &Repository,
    tree: Option<&Tree>,
    path: &str,
) -> HashMap<String, (Oid, i32, bool)> {
    let Some(sub) = tree
        .and_then(|t| t.get_path(Path::new(path)).ok())
        .filter(|e| e.kind() == Some(ObjectType::Tree))
        .and_then(|e| repo.find_tree(e.id()).ok())
    else {
        return HashMap::new();
    };
    sub.iter()
        .filter_map(|e| {
            let name = e.name().ok()?.to_owned();
            Some((
                name,
                (e.id(), e.filemode(), e.kind() == Some(ObjectType::Tree)),
            ))
        })
        .collect()
}

/// The grant files (`access/<app>/<person>.yaml`) that differ between two trees, each with its
/// new blob (`None`: removed).
fn diff_access(
    repo: &Repository,
    old: Option<&Tree>,
    new: &Tree,
    opts: &Options,
    out: &mut Vec<Changed>,
) -> Result<()> {
    let (a, b) = (
        entries(repo, old, "access"),
        entries(repo, Some(new), "access"),
    );
    let mut apps: Vec<&String> = a.keys().chain(b.keys()).collect();
    apps.sort();
    apps.dedup();
    for app in apps {
        if opts.only_app.as_ref().is_some_and(|only| only != app) {
            continue;
        }
        let (x, y) = (a.get(app), b.get(app));
        if x.map(|e| e.0) == y.map(|e| e.0) {
            continue;
        }
        let dir = format!("access/{app}");
        let fx = if x.is_some_and(|e| e.2) {
            entries(repo, old, &dir)
        } else {
            HashMap::new()
        };
        let fy = if y.is_some_and(|e| e.2) {
            entries(repo, Some(new), &dir)
        } else {
            HashMap::new()
        };
        let mut names: Vec<&String> = fx.keys().chain(fy.keys()).collect();
        names.sort();
        names.dedup();
        for name in names {
            if !name.ends_with(".yaml") {
                continue;
            }
            let (p, q) = (fx.get(name).filter(|e| !e.2), fy.get(name).filter(|e| !e.2));
            if p.map(|e| e.0) == q.map(|e| e.0) {
                continue;
            }
            out.push((format!("{dir}/{name}"), q.map(|e| (e.0, e.1))));
        }
    }
    Ok(())
}

/// Every note under `refs/notes/portcullis`: the annotated object and the note's text. No
/// notes ref is no notes.
pub fn read_notes(repo: &Repository) -> Result<Vec<Stored>> {
    let notes = match repo.notes(Some(NOTES_REF)) {
        Ok(n) => n,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).context(format!("cannot read the notes under `{NOTES_REF}`")),
    };
    let mut out = Vec::new();
    for item in notes {
        let (blob_id, object) = item.with_context(|| format!("cannot list `{NOTES_REF}`"))?;
        let blob = repo
            .find_blob(blob_id)
            .with_context(|| format!("cannot read the note on {object}"))?;
        out.push(Stored {
            object: object.to_string(),
            text: String::from_utf8_lossy(blob.content()).into_owned(),
        });
    }
    out.sort_by(|a, b| a.object.cmp(&b.object));
    Ok(out)
}

/// The branch as it was at a commit: every governed file of its tree.
pub fn snapshot_at(repo: &Repository, sha: &str) -> Result<crate::snapshot::Snapshot> {
    let rev = crate::revision::Revision::at(repo, sha)?;
    let mut snap = rev.read_dir("access")?;
    snap.files.extend(rev.read_dir("policies")?.files);
    if let Some(e) = rev.read(crate::model::CODEOWNERS_FILE)? {
        snap.files
            .insert(crate::model::CODEOWNERS_FILE.to_owned(), e);
    }
    Ok(snap)
}
