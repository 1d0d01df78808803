//! Edge: reads the governed folders of a work tree into a `Snapshot`. Sizes are checked from
//! metadata before any read; symlinks and submodules are recorded, never followed.

// An edge: files, clock, environment and processes are its business (see clippy.toml).
#![allow(clippy::disallowed_methods)]

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rayon::prelude::*;

use crate::snapshot::{Entry, GOVERNED_DIRS, Snapshot, size_limit, wants_content};

pub fn read(root: &Path) -> Result<Snapshot> {
    let mut found: Vec<(String, PathBuf, Option<Entry>)> = Vec::new();
    for dir in GOVERNED_DIRS {
        let path = root.join(dir);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                found.push((dir.to_owned(), path, Some(Entry::Symlink)))
            }
            Ok(meta) if meta.is_dir() => walk(&path, dir, &mut found)?,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot read `{}`", path.display())),
        }
    }
    let entries: Vec<Result<Option<(String, Entry)>>> = found
        .into_par_iter()
        .map(|(rel, path, known)| {
            if let Some(entry) = known {
                return Ok(Some((rel, entry)));
            }
            if !wants_content(&rel) {
                return Ok(None);
            }
            // One open, one fstat, the reads: at 100,000 files every system call shows.
            let mut file = fs::File::open(&path).with_context(|| format!("cannot read `{rel}`"))?;
            let size = file
                .metadata()
                .with_context(|| format!("cannot read `{rel}`"))?
                .len();
            if size > size_limit(&rel) {
                return Ok(Some((rel, Entry::TooLarge(size))));
            }
            let mut bytes = Vec::with_capacity(size as usize + 1);
            file.read_to_end(&mut bytes)
                .with_context(|| format!("cannot read `{rel}`"))?;
            // A file that grew past the limit since the fstat is still refused.
            if bytes.len() as u64 > size_limit(&rel) {
                return Ok(Some((rel, Entry::TooLarge(bytes.len() as u64))));
            }
            Ok(Some((rel, Entry::File(bytes.into()))))
        })
        .collect();
    let mut snapshot = Snapshot::default();
    for entry in entries {
        if let Some((rel, e)) = entry? {
            snapshot.files.insert(rel, e);
        }
    }
    Ok(snapshot)
}

fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, PathBuf, Option<Entry>)>) -> Result<()> {
    let read = fs::read_dir(dir).with_context(|| format!("cannot list `{rel}`"))?;
    for entry in read {
        let entry = entry.with_context(|| format!("cannot list `{rel}`"))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let child_rel = format!("{rel}/{name}");
        let file_type = entry
            .file_type()
            .with_context(|| format!("cannot read `{child_rel}`"))?;
        let path = entry.path();
        if file_type.is_symlink() {
            out.push((child_rel, path, Some(Entry::Symlink)));
        } else if file_type.is_dir() {
            if path.join(".git").exists() {
                out.push((child_rel, path, Some(Entry::Submodule)));
            } else {
                walk(&path, &child_rel, out)?;
            }
        } else {
            out.push((child_rel, path, None));
        }
    }
    Ok(())
}
