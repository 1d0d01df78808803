//! Edge: the default branch's history for `audit` and `report`. Walks the first-parent chain
//! from a revision (each commit is one change to the branch), finds the grant files each commit
//! changed by comparing tree ids (unchanged folders are skipped without being read), and parses
//! every changed file once per distinct content, on every core.

// An edge: files, clock, environment and processes are its business (see clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use chrono::{TimeZone, Utc};
use git2::{ObjectType, Oid, Repository, Tree, TreeEntry};

use crate::treediff::{changed_entries, subtree};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use portcullis_core::audit::{Commit, FileDiff, GrantSet, Side};
use portcullis_core::evidence::{NOTES_REF, Stored};
use portcullis_core::snapshot::Entry;

/// The top-level folders whose ids are compared commit to commit.
const TOP: [&str; 4] = ["access", "policies", "schemas", ".github"];

/// One commit as the walk sees it, before any file is parsed: what the cache keeps.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Walked {
    sha: String,
    time: i64,
    summary: String,
    parents: usize,
    touches_access: bool,
    touches_governance: bool,
    people_changed: bool,
    /// Each grant file changed and its new blob (id, mode); `None` when removed.
    files: Vec<(String, Option<(String, i32)>)>,
}

/// What `.git/portcullis/history.json` holds: the walk of one first-parent chain, and every
/// grant file blob parsed so far (`None`: not loadable). Both are keyed by git object ids, so
/// an entry never goes stale; a different chain (rewritten history, another branch) is walked
/// again from the first commit it does not share.
#[derive(Default, Deserialize)]
struct Cache {
    format: String,
    commits: Vec<Walked>,
    blobs: HashMap<String, Option<GrantSet>>,
}

/// Changes when the cache's shape or the parser's output may differ.
fn cache_format() -> String {
    format!("portcullis {} history 1", env!("CARGO_PKG_VERSION"))
}

fn cache_path(repo: &Repository) -> std::path::PathBuf {
    repo.path().join("portcullis").join("history.json")
}

fn load_cache(repo: &Repository) -> Cache {
    std::fs::read(cache_path(repo))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Cache>(&bytes).ok())
        .filter(|c| c.format == cache_format())
        .unwrap_or_default()
}

/// The cache as written, borrowing what the run built.
#[derive(Serialize)]
struct CacheOut<'a> {
    format: String,
    commits: &'a [Walked],
    blobs: &'a HashMap<String, Option<GrantSet>>,
}

/// Best effort: a read-only `.git` only costs the next run its time.
fn save_cache(repo: &Repository, cache: &CacheOut) {
    let path = cache_path(repo);
    let Some(dir) = path.parent() else { return };
    let tmp = dir.join(format!("history.json.{}", std::process::id()));
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&tmp, serde_json::to_vec(cache).unwrap_or_default()))
        .and_then(|()| std::fs::rename(&tmp, &path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// The first-parent history of `rev`, oldest commit first.
///
/// Cached in `.git/portcullis/history.json`: a later run walks only the commits added since
/// and parses only blobs it has not seen.
pub fn read(repo: &Repository, rev: &str) -> Result<Vec<Commit>> {
    // libgit2 re-hashes every object it reads by default; across tens of thousands of commits
    // that is most of the walk. Object integrity is `git fsck`'s job; the evidence has its own
    // hash chain.
    git2::opts::strict_hash_verification(false);
    let mut cache = load_cache(repo);
    let known: HashMap<&str, usize> = cache
        .commits
        .iter()
        .enumerate()
        .map(|(i, c)| (c.sha.as_str(), i))
        .collect();
    let head = crate::git::commit_at(repo, rev)?;
    let mut fresh = vec![head.id()];
    let mut shared = known.get(head.id().to_string().as_str()).copied();
    let mut cur = head;
    while shared.is_none() {
        let Ok(parent) = cur.parent(0) else { break };
        match known.get(parent.id().to_string().as_str()) {
            Some(&i) => shared = Some(i),
            None => fresh.push(parent.id()),
        }
        cur = parent;
    }
    let head_known = shared.is_some_and(|i| cache.commits[i].sha == fresh[0].to_string());
    drop(known);
    let mut walked: Vec<Walked> = std::mem::take(&mut cache.commits);
    walked.truncate(shared.map_or(0, |i| i + 1));
    if head_known {
        fresh.clear();
    }
    fresh.reverse();
    let changed = !fresh.is_empty();
    let from = walked.last().map(|w| w.sha.clone());
    walked.extend(walk(repo, from.as_deref(), &fresh)?);

    let mut wanted: Vec<(Oid, i32, &str)> = walked
        .iter()
        .flat_map(|w| &w.files)
        .filter_map(|(path, blob)| {
            let (id, mode) = blob.as_ref()?;
            if cache.blobs.contains_key(id) {
                return None;
            }
            Some((Oid::from_str(id).ok()?, *mode, path.as_str()))
        })
        .collect();
    wanted.sort_unstable_by_key(|b| b.0);
    wanted.dedup_by_key(|b| b.0);
    let parsed_any = !wanted.is_empty();
    let path = repo.path().to_path_buf();
    let parsed: Vec<(Oid, Option<GrantSet>)> = wanted
        .par_chunks(256)
        .map(|chunk| -> Result<Vec<(Oid, Option<GrantSet>)>> {
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
    cache
        .blobs
        .extend(parsed.into_iter().map(|(id, set)| (id.to_string(), set)));
    if changed || parsed_any {
        save_cache(
            repo,
            &CacheOut {
                format: cache_format(),
                commits: &walked,
                blobs: &cache.blobs,
            },
        );
    }

    let sides: HashMap<String, Side> = cache
        .blobs
        .into_iter()
        .map(|(id, set)| {
            let side = match set {
                Some(s) => Side::Grants(Arc::new(s)),
                None => Side::Unreadable,
            };
            (id, side)
        })
        .collect();
    Ok(walked
        .into_iter()
        .map(|w| Commit {
            sha: w.sha.into(),
            time: Utc.timestamp_opt(w.time, 0).single().unwrap_or_default(),
            summary: w.summary,
            parents: w.parents,
            touches_access: w.touches_access,
            touches_governance: w.touches_governance,
            people_changed: w.people_changed,
            files: w
                .files
                .into_iter()
                .map(|(path, blob)| FileDiff {
                    path,
                    after: match blob {
                        None => Side::Absent,
                        Some((id, _)) => sides.get(&id).cloned().unwrap_or(Side::Unreadable),
                    },
                })
                .collect(),
        })
        .collect())
}

/// Walks `chain` (oldest first), whose first commit's parent is `from` (`None`: it is the root).
fn walk(repo: &Repository, from: Option<&str>, chain: &[Oid]) -> Result<Vec<Walked>> {
    let mut top: [Option<Oid>; 4] = [None; 4];
    let mut people: Option<Oid> = None;
    let mut access: Option<Tree> = None;
    if let Some(sha) = from {
        let tree = crate::git::commit_at(repo, sha)?.tree()?;
        top = TOP.map(|d| tree.get_name(d).map(|e| e.id()));
        people = tree
            .get_path(Path::new(portcullis_core::model::PEOPLE_FILE))
            .ok()
            .map(|e| e.id());
        access = top[0].and_then(|id| repo.find_tree(id).ok());
    }
    let mut out = Vec::with_capacity(chain.len());
    for &id in chain {
        let commit = repo
            .find_commit(id)
            .with_context(|| format!("cannot read commit {id}"))?;
        let tree = commit
            .tree()
            .with_context(|| format!("cannot read the tree of commit {id}"))?;
        let now: [Option<Oid>; 4] = TOP.map(|d| tree.get_name(d).map(|e| e.id()));
        let changed = |i: usize| now[i] != top[i];
        let mut files = Vec::new();
        let touches_access = changed(0);
        if touches_access {
            let new_access = now[0].and_then(|id| repo.find_tree(id).ok());
            diff_apps(repo, access.as_ref(), new_access.as_ref(), &mut files)?;
            access = new_access;
        }
        let touches_governance = changed(1) || changed(2) || changed(3);
        let mut people_changed = false;
        if changed(1) {
            let id = tree
                .get_path(Path::new(portcullis_core::model::PEOPLE_FILE))
                .ok()
                .map(|e| e.id());
            people_changed = id != people;
            people = id;
        }
        top = now;
        let time = commit.time().seconds();
        if Utc.timestamp_opt(time, 0).single().is_none() {
            return Err(anyhow!("commit {id} has an invalid date"));
        }
        out.push(Walked {
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
            files: files
                .into_iter()
                .map(|(path, blob)| (path, blob.map(|(id, mode)| (id.to_string(), mode))))
                .collect(),
        });
    }
    Ok(out)
}

/// A changed grant file and its new blob (id, mode); `None` when removed.
type Changed = (String, Option<(Oid, i32)>);

fn parse_blob(repo: &Repository, id: Oid, mode: i32, path: &str) -> Result<Option<GrantSet>> {
    if mode == 0o120000 || mode == 0o160000 {
        return Ok(None);
    }
    let blob = repo
        .find_blob(id)
        .with_context(|| format!("cannot read `{path}` (blob {id})"))?;
    let entry = if blob.size() as u64 > portcullis_core::snapshot::GRANT_FILE_LIMIT {
        Entry::TooLarge(blob.size() as u64)
    } else {
        Entry::File(blob.content().into())
    };
    let mut ignored = Vec::new();
    let file = portcullis_core::load::parse_entry(path, &entry, &mut ignored)
        .and_then(|node| portcullis_core::load::grant_file(path, &node, &mut ignored));
    Ok(file.map(|f| GrantSet::of(&f)))
}

/// The grant files (`access/<app>/<person>.yaml`) that differ between two versions of
/// `access/`, each with its new blob (`None`: removed). Unchanged app folders (same tree id)
/// are not read.
fn diff_apps(
    repo: &Repository,
    old: Option<&Tree>,
    new: Option<&Tree>,
    out: &mut Vec<Changed>,
) -> Result<()> {
    changed_entries(old, new, |x, y| {
        let Some(app) = x.as_ref().or(y.as_ref()).and_then(|e| e.name().ok()) else {
            return Ok(());
        };
        let (fx, fy) = (subtree(repo, x.as_ref())?, subtree(repo, y.as_ref())?);
        changed_entries(fx.as_ref(), fy.as_ref(), |p, q| {
            let name = match p.as_ref().or(q.as_ref()).and_then(|e| e.name().ok()) {
                Some(n) if n.ends_with(".yaml") => n,
                _ => return Ok(()),
            };
            let blob = |e: &Option<TreeEntry>| {
                e.as_ref()
                    .filter(|e| e.kind() != Some(ObjectType::Tree))
                    .map(|e| (e.id(), e.filemode()))
            };
            let (before, after) = (blob(&p), blob(&q));
            if before != after {
                out.push((format!("access/{app}/{name}"), after));
            }
            Ok(())
        })
    })
}

/// Every note under `refs/notes/portcullis`: the annotated object and the note's text. No
/// notes ref is no notes. Read from the notes tree directly (fan-out folders included),
/// which is much faster than libgit2's note iterator on large histories.
pub fn read_notes(repo: &Repository) -> Result<Vec<Stored>> {
    let reference = match repo.find_reference(NOTES_REF) {
        Ok(r) => r,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).context(format!("cannot read `{NOTES_REF}`")),
    };
    let tree = reference
        .peel_to_tree()
        .with_context(|| format!("`{NOTES_REF}` does not point at a notes commit"))?;
    let mut found: Vec<(String, Oid)> = Vec::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |prefix, e| {
        if e.kind() == Some(ObjectType::Blob)
            && let Ok(name) = e.name()
        {
            let object: String = prefix
                .chars()
                .filter(|c| *c != '/')
                .chain(name.chars())
                .collect();
            if object.len() == 40 && object.bytes().all(|b| b.is_ascii_hexdigit()) {
                found.push((object.to_ascii_lowercase(), e.id()));
            }
        }
        git2::TreeWalkResult::Ok
    })
    .with_context(|| format!("cannot list `{NOTES_REF}`"))?;
    let mut cached = load_notes_cache(repo);
    let mut fresh = 0usize;
    let mut out = Vec::with_capacity(found.len());
    for (object, blob) in found {
        let id = blob.to_string();
        let text = match cached.remove(&id) {
            Some(text) => text,
            None => {
                fresh += 1;
                let blob = repo
                    .find_blob(blob)
                    .with_context(|| format!("cannot read the note on {object}"))?;
                String::from_utf8_lossy(blob.content()).into_owned()
            }
        };
        out.push((id, Stored { object, text }));
    }
    // Rewritten only when a note was added or replaced: entries for blobs no longer in the
    // notes are dropped then.
    if fresh > 0 || !cached.is_empty() {
        save_notes_cache(repo, &out);
    }
    let mut out: Vec<Stored> = out.into_iter().map(|(_, s)| s).collect();
    out.sort_by(|a, b| a.object.cmp(&b.object));
    Ok(out)
}

const NOTES_CACHE_HEADER: &str = "portcullis notes cache 1\n";

/// `.git/portcullis/notes.cache`: the text of each note blob by blob id, so a later run
/// reads the (delta-compressed, often large) notes from one plain file. Keyed by object id,
/// an entry cannot go stale. Every record is still parsed and verified on every run.
fn load_notes_cache(repo: &Repository) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let Ok(bytes) = std::fs::read(repo.path().join("portcullis").join("notes.cache")) else {
        return out;
    };
    let Some(mut rest) = bytes.strip_prefix(NOTES_CACHE_HEADER.as_bytes()) else {
        return out;
    };
    while !rest.is_empty() {
        let Some(nl) = rest.iter().position(|b| *b == b'\n') else {
            return HashMap::new();
        };
        let head = String::from_utf8_lossy(&rest[..nl]).into_owned();
        let Some((id, len)) = head.split_once(' ') else {
            return HashMap::new();
        };
        let Ok(len) = len.parse::<usize>() else {
            return HashMap::new();
        };
        let body = &rest[nl + 1..];
        if body.len() < len + 1 || body[len] != b'\n' {
            return HashMap::new();
        }
        let Ok(text) = std::str::from_utf8(&body[..len]) else {
            return HashMap::new();
        };
        out.insert(id.to_owned(), text.to_owned());
        rest = &body[len + 1..];
    }
    out
}

/// Best effort, like the history cache.
fn save_notes_cache(repo: &Repository, notes: &[(String, Stored)]) {
    let dir = repo.path().join("portcullis");
    let path = dir.join("notes.cache");
    let tmp = dir.join(format!("notes.cache.{}", std::process::id()));
    let mut bytes = Vec::with_capacity(notes.iter().map(|(_, s)| s.text.len() + 64).sum());
    bytes.extend_from_slice(NOTES_CACHE_HEADER.as_bytes());
    for (id, s) in notes {
        bytes.extend_from_slice(format!("{id} {}\n", s.text.len()).as_bytes());
        bytes.extend_from_slice(s.text.as_bytes());
        bytes.push(b'\n');
    }
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&tmp, &bytes))
        .and_then(|()| std::fs::rename(&tmp, &path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// The governed files `check` reads (`access/`, `policies/`, CODEOWNERS) at a commit.
pub fn snapshot_at(repo: &Repository, sha: &str) -> Result<portcullis_core::snapshot::Snapshot> {
    let rev = crate::revision::Revision::at(repo, sha)?;
    let mut snap = rev.read_dir("access")?;
    snap.files.extend(rev.read_dir("policies")?.files);
    if let Some(e) = rev.read(portcullis_core::model::CODEOWNERS_FILE)? {
        snap.files
            .insert(portcullis_core::model::CODEOWNERS_FILE.to_owned(), e);
    }
    Ok(snap)
}
