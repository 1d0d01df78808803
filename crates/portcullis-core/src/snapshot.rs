//! One revision's governed files (`access/`, `policies/`, `schemas/`, `.github/`): path to
//! content, symlink or submodule. Filled by the work tree or by git; read by `load`.
//! Oversized files are recorded by size and never read, so the limit holds before parsing.

use std::collections::BTreeMap;
use std::sync::Arc;

/// A grant file over this many bytes is refused before it is read (SPEC: `file-too-large`).
pub const GRANT_FILE_LIMIT: u64 = 1 << 20;
/// Any other governed file.
pub const OTHER_FILE_LIMIT: u64 = 64 << 20;

/// The top-level folders whose content portcullis governs.
pub const GOVERNED_DIRS: [&str; 4] = ["access", "policies", "schemas", ".github"];

#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    File(Arc<[u8]>),
    TooLarge(u64),
    Symlink,
    Submodule,
}

#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub files: BTreeMap<String, Entry>,
}

pub fn size_limit(path: &str) -> u64 {
    if path.starts_with("access/") {
        GRANT_FILE_LIMIT
    } else {
        OTHER_FILE_LIMIT
    }
}

/// Whether a path is one the snapshot keeps content for. Workflow files and schemas are
/// governed (symlinks there are refused) but their content is not read by `check`.
pub fn wants_content(path: &str) -> bool {
    path.starts_with("access/") || path.starts_with("policies/") || path == ".github/CODEOWNERS"
}

impl Snapshot {
    /// Builds a snapshot from in-memory files; for tests and generated trees.
    pub fn from_files<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Snapshot {
        let mut snap = Snapshot::default();
        for (path, text) in files {
            snap.insert_bytes(path, text.as_bytes());
        }
        snap
    }

    pub fn insert_bytes(&mut self, path: &str, bytes: &[u8]) {
        let entry = if bytes.len() as u64 > size_limit(path) {
            Entry::TooLarge(bytes.len() as u64)
        } else {
            Entry::File(Arc::from(bytes))
        };
        self.files.insert(path.to_owned(), entry);
    }

    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.files.get(path)
    }

    pub fn text(&self, path: &str) -> Option<&str> {
        match self.files.get(path)? {
            Entry::File(bytes) => std::str::from_utf8(bytes).ok(),
            _ => None,
        }
    }
}
