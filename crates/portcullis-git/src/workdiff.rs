//! Edge: the governed paths where the work tree differs from a base tree, found as git finds
//! them. The index caches each tracked file's `lstat` and blob id, so a file whose `lstat`
//! still matches its entry is not read, and the index's cached folder trees let folders equal
//! to the base be skipped without listing them.
//!
//! libgit2's comparison took 360 ms at 100,000 grant files: it verifies the index's checksum
//! and `lstat`s each file by its full path, on one core. Here the index is read once, files
//! are `lstat`ed relative to their open folder on every core, and only files whose `lstat`
//! changed are read and hashed. The `lstat`s are the floor: 100,000 of them take 85-100 ms on
//! both cores of the benchmark machine.
//!
//! Where the answer could differ from libgit2's, this does not answer and `git` falls back to
//! libgit2: an index this reader does not fully understand ([`gitindex`]), content filters
//! (attributes, `core.autocrlf`), symlinks stored as files, SHA-256 repositories, a repository
//! inside a governed folder, a special file or a name that is not UTF-8.

// An edge: files, clock, environment and processes are its business (see clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ffi::CStr;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use git2::{ObjectType, Oid, Repository, Tree};
use rayon::prelude::*;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir};

use crate::gitindex::{self, IndexEntry, StatData};
use crate::worktree::{dir_flags, kind_of, read_shared};
use portcullis_core::snapshot::GOVERNED_DIRS;

const TREE: i32 = 0o040000;
const REGULAR: u32 = 0o100644;
const EXECUTABLE: u32 = 0o100755;
const LINK: u32 = 0o120000;
const GITLINK: u32 = 0o160000;
const ATTRIBUTES: &str = ".gitattributes";
/// A changed file larger than this counts as changed without being hashed: no governed file
/// is allowed to be near it, and hashing reads the whole file into memory.
const HASH_LIMIT: u64 = 64 << 20;
/// Room for a folder listing's entries, read a batch at a time (a name is at most 255 bytes).
const LISTING_BUFFER: usize = 32 << 10;

pub enum Answer {
    /// The governed paths that differ: edited, added (untracked and not ignored), removed, or
    /// changed in kind or mode.
    Changed(BTreeSet<String>),
    /// Left to libgit2, and why.
    Unsupported(&'static str),
}

enum Stop {
    Unsupported(&'static str),
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for Stop {
    fn from(e: anyhow::Error) -> Self {
        Stop::Failed(e)
    }
}

impl From<git2::Error> for Stop {
    fn from(e: git2::Error) -> Self {
        Stop::Failed(e.into())
    }
}

impl From<gitindex::Unsupported> for Stop {
    fn from(e: gitindex::Unsupported) -> Self {
        Stop::Unsupported(e.0)
    }
}

pub fn changed(repo: &Repository, base: &Tree) -> anyhow::Result<Answer> {
    match compare(repo, base) {
        Ok(paths) => Ok(Answer::Changed(paths)),
        Err(Stop::Unsupported(why)) => Ok(Answer::Unsupported(why)),
        Err(Stop::Failed(e)) => Err(e),
    }
}

fn compare(repo: &Repository, base: &Tree) -> Result<BTreeSet<String>, Stop> {
    let root = repo
        .workdir()
        .ok_or(Stop::Unsupported("a bare repository"))?;
    let filemode = plain_content(repo)?;
    let (mut index, written) = read_index(repo)?;
    index
        .entries
        .retain(|e| e.path == ATTRIBUTES || governed(&e.path));
    // Attributes apply to their folder and below: for governed paths, the top's file and those
    // in governed folders, tracked or not (the walk refuses those it lists).
    if std::fs::symlink_metadata(root.join(ATTRIBUTES)).is_ok()
        || index
            .entries
            .iter()
            .any(|e| e.path == ATTRIBUTES || e.path.ends_with(&format!("/{ATTRIBUTES}")))
    {
        return Err(Stop::Unsupported("a .gitattributes file"));
    }
    if index.entries.iter().any(|e| e.mode == GITLINK) {
        return Err(Stop::Unsupported("a submodule in a governed folder"));
    }
    let staged = {
        let mut out = BTreeSet::new();
        Staged {
            repo,
            trees: &index.trees,
        }
        .folder("", Some(base), &index.entries, &mut out)?;
        out
    };
    let walk = Walk { written, filemode };
    let top = rustix::fs::open(root, dir_flags(), Mode::empty())
        .with_context(|| format!("cannot read `{}`", root.display()))?;
    let found = walk.folder(&top, "", &index.entries)?;
    decide(repo, root, base, &staged, found)
}

/// Whether git would hash the work tree's bytes as they are: no attributes file (which may
/// name filters), no line-ending conversion, symlinks stored as links, SHA-1 ids. Returns
/// `core.fileMode`.
fn plain_content(repo: &Repository) -> Result<bool, Stop> {
    let config = repo.config()?.snapshot()?;
    if config
        .get_string("core.autocrlf")
        .is_ok_and(|v| !v.eq_ignore_ascii_case("false"))
    {
        return Err(Stop::Unsupported("core.autocrlf"));
    }
    if config.get_string("core.eol").is_ok() {
        return Err(Stop::Unsupported("core.eol"));
    }
    if config.get_bool("core.symlinks").is_ok_and(|on| !on) {
        return Err(Stop::Unsupported("core.symlinks = false"));
    }
    if config
        .get_string("extensions.objectformat")
        .is_ok_and(|f| !f.eq_ignore_ascii_case("sha1"))
    {
        return Err(Stop::Unsupported("an object format other than SHA-1"));
    }
    let mut attributes = vec![repo.path().join("info/attributes")];
    if let Ok(path) = config.get_path("core.attributesfile") {
        attributes.push(path);
    }
    if let Some(home) = std::env::var_os("XDG_CONFIG_HOME").filter(|h| !h.is_empty()) {
        attributes.push(Path::new(&home).join("git/attributes"));
    } else if let Some(home) = std::env::var_os("HOME") {
        attributes.push(Path::new(&home).join(".config/git/attributes"));
    }
    if attributes.iter().any(|p| p.exists()) {
        return Err(Stop::Unsupported(
            "an attributes file outside the work tree",
        ));
    }
    Ok(config.get_bool("core.filemode").unwrap_or(true))
}

/// The index and when it was written (its own `mtime`), for the racy-entry rule. A repository
/// without an index has no tracked files.
fn read_index(repo: &Repository) -> Result<(gitindex::Index, (u32, u32)), Stop> {
    let path = repo.path().join("index");
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((gitindex::Index::default(), (0, 0)));
        }
        Err(e) => return Err(anyhow!(e).context(format!("cannot read `{}`", path.display())))?,
    };
    let stat =
        rustix::fs::fstat(&file).with_context(|| format!("cannot read `{}`", path.display()))?;
    let mut bytes = Vec::with_capacity(usize::try_from(stat.st_size).unwrap_or(0));
    std::io::Read::read_to_end(&mut &file, &mut bytes)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let written = (stat.st_mtime as u32, stat.st_mtime_nsec as u32);
    Ok((gitindex::parse(&bytes)?, written))
}

fn governed(path: &str) -> bool {
    GOVERNED_DIRS.iter().any(|d| {
        path.strip_prefix(d)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

fn join(folder: &str, name: &str) -> String {
    if folder.is_empty() {
        name.to_owned()
    } else {
        format!("{folder}/{name}")
    }
}

/// Regular files keep only the exec bit; old trees may hold modes like 0o100664.
fn normal_mode(mode: u32) -> u32 {
    match mode & 0o170000 {
        0o100000 if mode & 0o111 != 0 => EXECUTABLE,
        0o100000 => REGULAR,
        _ => mode,
    }
}

enum Child<'a> {
    File(&'a IndexEntry),
    Folder(&'a [IndexEntry]),
}

/// The index entries directly in `folder` ("" for the top), by name; `entries` are the
/// folder's, sorted. The entries under a sub-folder are one run of the sorted list, found by a
/// binary search.
fn children<'e>(
    entries: &'e [IndexEntry],
    folder: &str,
) -> Result<foldhash::HashMap<&'e str, Child<'e>>, Stop> {
    let skip = if folder.is_empty() {
        0
    } else {
        folder.len() + 1
    };
    // Sized for a folder of files; a folder of folders holds far fewer children than entries.
    let mut out =
        foldhash::HashMap::with_capacity_and_hasher(entries.len().min(1024), Default::default());
    let mut i = 0;
    while i < entries.len() {
        let rest = &entries[i].path[skip..];
        let (name, child, next) = match rest.find('/') {
            None => (rest, Child::File(&entries[i]), i + 1),
            Some(slash) => {
                let prefix = &entries[i].path[..skip + slash + 1];
                let end = i + entries[i..].partition_point(|e| e.path.starts_with(prefix));
                (&rest[..slash], Child::Folder(&entries[i..end]), end)
            }
        };
        if out.insert(name, child).is_some() {
            return Err(Stop::Unsupported("a path that is both a file and a folder"));
        }
        i = next;
    }
    Ok(out)
}

/// The comparison of the index with the base tree.
struct Staged<'r> {
    repo: &'r Repository,
    trees: &'r std::collections::HashMap<String, [u8; 20]>,
}

impl Staged<'_> {
    /// Adds to `out` the paths under `folder` whose index entry differs from the base's.
    fn folder(
        &self,
        folder: &str,
        tree: Option<&Tree>,
        entries: &[IndexEntry],
        out: &mut BTreeSet<String>,
    ) -> Result<(), Stop> {
        // A cached tree equal to the base's: every entry under it is the base's.
        if let Some(tree) = tree
            && self.trees.get(folder).map(<[u8; 20]>::as_slice) == Some(tree.id().as_bytes())
        {
            return Ok(());
        }
        let ours = children(entries, folder)?;
        let mut theirs = BTreeMap::new();
        for e in tree.iter().flat_map(|t| t.iter()) {
            let name = std::str::from_utf8(e.name_bytes())
                .map_err(|_| Stop::Unsupported("a name that is not UTF-8"))?
                .to_owned();
            if folder.is_empty() && !GOVERNED_DIRS.contains(&name.as_str()) {
                continue;
            }
            theirs.insert(name, (e.id(), e.filemode()));
        }
        let names: BTreeSet<&str> = ours
            .keys()
            .copied()
            .chain(theirs.keys().map(String::as_str))
            .collect();
        for name in names {
            let path = join(folder, name);
            match (ours.get(name), theirs.get(name).copied()) {
                (Some(Child::File(_)), Some((id, TREE))) => {
                    out.insert(path.clone());
                    self.all(id, &path, out)?;
                }
                (Some(Child::File(e)), Some((id, mode))) => {
                    if e.oid != id.as_bytes() || e.mode != normal_mode(mode as u32) {
                        out.insert(path);
                    }
                }
                (Some(Child::File(_)), None) => {
                    out.insert(path);
                }
                (Some(Child::Folder(sub)), Some((id, TREE))) => {
                    let subtree = self.repo.find_tree(id)?;
                    self.folder(&path, Some(&subtree), sub, out)?;
                }
                (Some(Child::Folder(sub)), other) => {
                    if other.is_some() {
                        out.insert(path.clone());
                    }
                    out.extend(sub.iter().map(|e| e.path.clone()));
                }
                (None, Some((id, TREE))) => self.all(id, &path, out)?,
                (None, Some(_)) => {
                    out.insert(path);
                }
                (None, None) => {}
            }
        }
        Ok(())
    }

    /// Every file under the tree `id`, which is at `path`.
    fn all(&self, id: Oid, path: &str, out: &mut BTreeSet<String>) -> Result<(), Stop> {
        for e in self.repo.find_tree(id)?.iter() {
            let name = std::str::from_utf8(e.name_bytes())
                .map_err(|_| Stop::Unsupported("a name that is not UTF-8"))?;
            let child = join(path, name);
            if e.filemode() == TREE {
                self.all(e.id(), &child, out)?;
            } else {
                out.insert(child);
            }
        }
        Ok(())
    }
}

/// What the walk saw of a path that is not simply as its index entry says.
enum Seen {
    /// Tracked, and its `lstat` changed: its content decides. The index's id and mode are kept.
    Stale { mode: u32, index: (Oid, u32) },
    /// Tracked, and not in the work tree.
    Missing,
    /// In the work tree, not in the index.
    Untracked,
}

/// The comparison of the work tree with the index.
struct Walk {
    written: (u32, u32),
    filemode: bool,
}

impl Walk {
    /// What is not as the index says under the open folder `fd`, which is `folder` ("" for the
    /// top, where only the governed folders are looked at) and holds `entries`. Files are
    /// `lstat`ed as they are listed; sub-folders are walked on every core.
    fn folder(
        &self,
        fd: &OwnedFd,
        folder: &str,
        entries: &[IndexEntry],
    ) -> Result<Vec<(String, Seen)>, Stop> {
        let mut ours = children(entries, folder)?;
        let mut folders = Vec::new();
        let mut found = Vec::new();
        // Listed without a name allocated per entry (as `Dir` does).
        let mut buffer = Vec::with_capacity(LISTING_BUFFER);
        let mut listing = RawDir::new(fd, buffer.spare_capacity_mut());
        while let Some(item) = listing.next() {
            let item = item.with_context(|| format!("cannot list `{folder}`"))?;
            let c_name = item.file_name();
            let name = std::str::from_utf8(c_name.to_bytes())
                .map_err(|_| Stop::Unsupported("a file name that is not UTF-8"))?;
            if matches!(name, "." | "..") || (folder.is_empty() && !GOVERNED_DIRS.contains(&name)) {
                continue;
            }
            if name == ".git" {
                return Err(Stop::Unsupported("a repository inside a governed folder"));
            }
            if name == ATTRIBUTES {
                return Err(Stop::Unsupported("a .gitattributes file"));
            }
            let kind = kind_of(fd, c_name, item.file_type())
                .with_context(|| format!("cannot read `{}`", join(folder, name)))?;
            let index = ours.remove(name);
            match (kind, index) {
                (FileType::Directory, index) => {
                    let sub: &[IndexEntry] = match index {
                        Some(Child::Folder(sub)) => sub,
                        Some(Child::File(e)) => {
                            found.push((e.path.clone(), Seen::Missing));
                            &[]
                        }
                        None => &[],
                    };
                    folders.push((c_name.to_owned(), join(folder, name), sub));
                }
                (FileType::RegularFile | FileType::Symlink, Some(Child::File(e))) => {
                    if let Some(seen) = self.file(fd, c_name, e)? {
                        found.push((e.path.clone(), seen));
                    }
                }
                (FileType::RegularFile | FileType::Symlink, index) => {
                    if let Some(Child::Folder(sub)) = index {
                        found.extend(sub.iter().map(|e| (e.path.clone(), Seen::Missing)));
                    }
                    found.push((join(folder, name), Seen::Untracked));
                }
                _ => return Err(Stop::Unsupported("a special file in a governed folder")),
            }
        }
        // Tracked but not listed: gone from the work tree.
        for child in ours.into_values() {
            match child {
                Child::File(e) => found.push((e.path.clone(), Seen::Missing)),
                Child::Folder(sub) => {
                    found.extend(sub.iter().map(|e| (e.path.clone(), Seen::Missing)));
                }
            }
        }
        let below = folders
            .into_par_iter()
            .map(|(name, path, sub)| {
                let child = rustix::fs::openat(fd, &name, dir_flags(), Mode::empty())
                    .with_context(|| format!("cannot read `{path}`"))?;
                self.folder(&child, &path, sub)
            })
            .collect::<Result<Vec<_>, Stop>>()?;
        found.extend(below.into_iter().flatten());
        Ok(found)
    }

    /// One tracked file or link: `None` when its index entry can be trusted for it.
    fn file(&self, fd: &OwnedFd, name: &CStr, entry: &IndexEntry) -> Result<Option<Seen>, Stop> {
        let stat = rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW)
            .with_context(|| format!("cannot read `{}`", entry.path))?;
        let mode = match FileType::from_raw_mode(stat.st_mode) {
            FileType::Symlink => LINK,
            FileType::RegularFile if !self.filemode && entry.mode != LINK => entry.mode,
            FileType::RegularFile if stat.st_mode & 0o100 != 0 => EXECUTABLE,
            FileType::RegularFile => REGULAR,
            _ => return Err(Stop::Unsupported("a file replaced while it was compared")),
        };
        let now = StatData {
            ctime: (stat.st_ctime as u32, stat.st_ctime_nsec as u32),
            mtime: (stat.st_mtime as u32, stat.st_mtime_nsec as u32),
            ino: stat.st_ino as u32,
            uid: stat.st_uid,
            gid: stat.st_gid,
            size: stat.st_size as u32,
        };
        if entry.unchanged(&now, mode, self.written) {
            return Ok(None);
        }
        let id = Oid::from_bytes(&entry.oid)?;
        Ok(Some(Seen::Stale {
            mode,
            index: (id, entry.mode),
        }))
    }
}

/// The changed paths from what the two comparisons found: a path the index has as the base
/// and the work tree as the index is unchanged; any other is compared by content.
fn decide(
    repo: &Repository,
    root: &Path,
    base: &Tree,
    staged: &BTreeSet<String>,
    found: Vec<(String, Seen)>,
) -> Result<BTreeSet<String>, Stop> {
    let seen: HashSet<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    // Staged and then left alone in the work tree (or absent from both index and work tree).
    let mut changed: BTreeSet<String> = staged
        .iter()
        .filter(|p| !seen.contains(p.as_str()))
        .cloned()
        .collect();
    let in_base = |path: &str| -> Option<(Oid, u32)> {
        let e = base.get_path(Path::new(path)).ok()?;
        (e.filemode() != TREE).then(|| (e.id(), normal_mode(e.filemode() as u32)))
    };
    for (path, what) in found {
        let differs = match what {
            Seen::Missing => !staged.contains(&path) || in_base(&path).is_some(),
            Seen::Stale { mode, index } => {
                let was = if staged.contains(&path) {
                    in_base(&path)
                } else {
                    Some(index)
                };
                was != content_id(root, &path, mode)?.map(|id| (id, mode))
            }
            // Out of the index but in the base, it is removed (as libgit2 and `git diff HEAD`
            // have it), whatever the work tree holds.
            Seen::Untracked => in_base(&path).is_some() || !repo.is_path_ignored(&path)?,
        };
        if differs {
            changed.insert(path);
        }
    }
    Ok(changed)
}

/// The blob id of a work-tree file or link, as git would store it; `None` for a file too large
/// to hash (it counts as changed).
fn content_id(root: &Path, path: &str, mode: u32) -> Result<Option<Oid>, Stop> {
    let full = root.join(path);
    let read = || -> std::io::Result<Option<Arc<[u8]>>> {
        if mode == LINK {
            use std::os::unix::ffi::OsStrExt;
            return Ok(Some(
                std::fs::read_link(&full)?.as_os_str().as_bytes().into(),
            ));
        }
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK;
        let file = std::fs::File::from(rustix::fs::open(&full, flags, Mode::empty())?);
        let size = file.metadata()?.len();
        if size > HASH_LIMIT {
            return Ok(None);
        }
        let bytes = read_shared(file, size as usize, HASH_LIMIT)?;
        Ok((bytes.len() as u64 <= HASH_LIMIT).then_some(bytes))
    };
    match read().with_context(|| format!("cannot read `{path}`"))? {
        Some(bytes) => Ok(Some(Oid::hash_object(ObjectType::Blob, &bytes)?)),
        None => Ok(None),
    }
}
