//! Edge: reads the governed folders of a work tree into a `Snapshot`. Sizes are checked before
//! a file is kept; symlinks and submodules are recorded, never followed.
//!
//! Each folder is opened once and its files are opened relative to it (`openat`): with
//! path-based opens the kernel walked every path from the root, and at 100,000 grant files that
//! walk, a `stat` per file and the reads cost 2.4 times as much. Folders and the files of a
//! large folder are read on every core.

// An edge: files, clock, environment and processes are its business (see clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::ffi::{CStr, CString};
use std::fs;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use rayon::prelude::*;
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};

use portcullis_core::snapshot::{Entry, GOVERNED_DIRS, Snapshot, size_limit, wants_content};

/// Files of one folder read as one task: enough to pay for the task, few enough that a folder
/// of thousands still spreads over the cores.
const FILES_PER_TASK: usize = 64;
/// Files up to this size are read with one `read` into a buffer that each thread reuses.
const BUFFER_SIZE: usize = 64 << 10;

thread_local! {
    /// Each thread reads into one buffer and keeps only the bytes read.
    static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

pub fn read(root: &Path) -> Result<Snapshot> {
    let mut found = Vec::new();
    for dir in GOVERNED_DIRS {
        let path = root.join(dir);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                found.push((dir.to_owned(), Entry::Symlink));
            }
            Ok(meta) if meta.is_dir() => {
                let folder = rustix::fs::open(&path, dir_flags(), Mode::empty())
                    .with_context(|| format!("cannot read `{}`", path.display()))?;
                found.extend(read_folder(&folder, dir)?);
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot read `{}`", path.display())),
        }
    }
    // The map sorts what it is built from; sorted here on both cores, that sort finds one run.
    found.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(Snapshot {
        files: found.into_iter().collect(),
    })
}

/// Opens a folder, never through a symlink.
pub(crate) fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

/// The kind of the entry `name` of the open `folder`, listed as `listed`, never following a
/// symlink.
pub(crate) fn kind_of(
    folder: &OwnedFd,
    name: &CStr,
    listed: FileType,
) -> rustix::io::Result<FileType> {
    Ok(match listed {
        // Some file systems leave the type out of the listing.
        FileType::Unknown => {
            let stat = rustix::fs::statat(folder, name, AtFlags::SYMLINK_NOFOLLOW)?;
            FileType::from_raw_mode(stat.st_mode)
        }
        kind => kind,
    })
}

/// A whole file of about `size` bytes, read once into shared memory. Read into a `Vec` and then
/// moved into an `Arc`, an 11 MB `people.yaml` was copied, and its pages faulted in, twice.
/// A file that grew since it was measured is read up to one byte past `limit`, so the caller
/// can tell it is too large without reading it all.
pub(crate) fn read_shared(
    mut file: fs::File,
    size: usize,
    limit: u64,
) -> std::io::Result<Arc<[u8]>> {
    use std::io::Read;
    let mut shared: Arc<[u8]> = std::iter::repeat_n(0u8, size).collect();
    let mut got = 0;
    if let Some(buffer) = Arc::get_mut(&mut shared) {
        while got < size {
            match file.read(&mut buffer[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
    let mut rest = Vec::new();
    let room = (limit + 1).saturating_sub(got as u64);
    file.take(room).read_to_end(&mut rest)?;
    if got == size && rest.is_empty() {
        return Ok(shared);
    }
    let mut all = shared[..got].to_vec();
    all.extend_from_slice(&rest);
    Ok(all.into())
}

/// Everything under the open folder `folder`, which is `rel` in the snapshot.
fn read_folder(folder: &OwnedFd, rel: &str) -> Result<Vec<(String, Entry)>> {
    let mut found = Vec::new();
    let mut files = Vec::new();
    let mut folders = Vec::new();
    let listing = Dir::read_from(folder).with_context(|| format!("cannot list `{rel}`"))?;
    for entry in listing {
        let entry = entry.with_context(|| format!("cannot list `{rel}`"))?;
        let name = entry.file_name();
        if matches!(name.to_bytes(), b"." | b"..") {
            continue;
        }
        let child = format!("{rel}/{}", String::from_utf8_lossy(name.to_bytes()));
        let kind = kind_of(folder, name, entry.file_type())
            .with_context(|| format!("cannot read `{child}`"))?;
        match kind {
            FileType::Symlink => found.push((child, Entry::Symlink)),
            FileType::Directory => folders.push((name.to_owned(), child)),
            FileType::RegularFile if wants_content(&child) => files.push((name.to_owned(), child)),
            FileType::RegularFile => {}
            // Opening a fifo would wait for a writer forever.
            other => bail!(
                "`{child}` is a {}, not a file; governed folders hold plain files only",
                describe(other)
            ),
        }
    }
    let (read, below) = rayon::join(
        || {
            files
                .par_chunks(FILES_PER_TASK)
                .map(|chunk| {
                    BUFFER.with_borrow_mut(|buffer| {
                        chunk
                            .iter()
                            .map(|(name, rel)| {
                                let entry = read_file(folder, name, rel, buffer)
                                    .with_context(|| format!("cannot read `{rel}`"))?;
                                Ok((rel.clone(), entry))
                            })
                            .collect::<Result<Vec<_>>>()
                    })
                })
                .collect::<Result<Vec<_>>>()
        },
        || {
            folders
                .into_par_iter()
                .map(|(name, child)| read_subfolder(folder, &name, child))
                .collect::<Result<Vec<_>>>()
        },
    );
    let (read, below) = (read?, below?);
    // Reserved at once: grown by doubling, the copies of a 100,000-entry list took 60 MB that
    // the allocator kept until after the load.
    found.reserve_exact(read.iter().chain(&below).map(Vec::len).sum());
    found.extend(read.into_iter().flatten());
    found.extend(below.into_iter().flatten());
    Ok(found)
}

/// A folder inside a governed folder: a submodule is recorded by its path, not entered.
fn read_subfolder(parent: &OwnedFd, name: &CStr, rel: String) -> Result<Vec<(String, Entry)>> {
    let folder = rustix::fs::openat(parent, name, dir_flags(), Mode::empty())
        .with_context(|| format!("cannot read `{rel}`"))?;
    if rustix::fs::statat(&folder, c".git", AtFlags::SYMLINK_NOFOLLOW).is_ok() {
        return Ok(vec![(rel, Entry::Submodule)]);
    }
    read_folder(&folder, &rel)
}

/// One file, read into `buffer` when it fits (nearly every file does), else at its size; a
/// file over its limit is not read past that, only its size is kept.
fn read_file(
    folder: &OwnedFd,
    name: &CString,
    rel: &str,
    buffer: &mut Vec<u8>,
) -> std::io::Result<Entry> {
    let limit = size_limit(rel);
    // NOFOLLOW and NONBLOCK: a file swapped for a symlink or a fifo since the listing fails or
    // reads nothing instead of being followed or waited on.
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NOCTTY;
    let file = rustix::fs::openat(folder, name, flags | OFlags::NONBLOCK, Mode::empty())?;
    buffer.resize(BUFFER_SIZE, 0);
    let mut got = 0;
    while got < buffer.len() {
        match rustix::io::read(&file, &mut buffer[got..]) {
            Ok(0) => return Ok(Entry::File(buffer[..got].into())),
            Ok(n) => got += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // A large file: its size first, so an oversized one is refused unread.
    let size = u64::try_from(rustix::fs::fstat(&file)?.st_size).unwrap_or(u64::MAX);
    if size > limit {
        return Ok(Entry::TooLarge(size));
    }
    // From the start again: the buffer's part comes back from the page cache.
    rustix::fs::seek(&file, rustix::fs::SeekFrom::Start(0))?;
    let bytes = read_shared(
        fs::File::from(file),
        usize::try_from(size).unwrap_or(0),
        limit,
    )?;
    // It may have grown past the limit since the `fstat`.
    if bytes.len() as u64 > limit {
        return Ok(Entry::TooLarge(bytes.len() as u64));
    }
    Ok(Entry::File(bytes))
}

fn describe(kind: FileType) -> &'static str {
    match kind {
        FileType::Fifo => "named pipe",
        FileType::Socket => "socket",
        FileType::CharacterDevice => "character device",
        FileType::BlockDevice => "block device",
        _ => "special file",
    }
}

#[cfg(test)]
mod tests {
    use super::read_shared;

    fn file_of(bytes: &[u8]) -> (tempfile::NamedTempFile, std::fs::File) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, bytes).unwrap();
        let reopened = f.reopen().unwrap();
        (f, reopened)
    }

    #[test]
    fn a_file_that_changed_size_since_it_was_measured_is_read_as_it_is_now_up_to_the_limit() {
        let bytes: Vec<u8> = (0..200u8).collect();
        // Measured exactly, shrunk, grown under the limit, grown past it.
        let (_keep, f) = file_of(&bytes);
        assert_eq!(&*read_shared(f, 200, 1000).unwrap(), &bytes[..]);
        let (_keep, f) = file_of(&bytes[..50]);
        assert_eq!(&*read_shared(f, 200, 1000).unwrap(), &bytes[..50]);
        let (_keep, f) = file_of(&bytes);
        assert_eq!(&*read_shared(f, 10, 1000).unwrap(), &bytes[..]);
        let (_keep, f) = file_of(&bytes);
        assert_eq!(&*read_shared(f, 10, 99).unwrap(), &bytes[..100]);
    }
}
