//! The work-tree reader: every governed file with its exact bytes, sizes refused at the limit,
//! links and submodules recorded and never entered, special files refused without waiting.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use portcullis_core::snapshot::{Entry, GRANT_FILE_LIMIT, Snapshot};

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Distinct bytes per file, so that a file read into another's place cannot pass.
fn content(rel: &str, len: usize) -> Vec<u8> {
    let mut bytes = format!("# {rel}\n").into_bytes();
    let mut i = 0u32;
    while bytes.len() < len {
        bytes.extend_from_slice(format!("k{i}: {}\n", rel.len() as u32 * i).as_bytes());
        i += 1;
    }
    bytes.truncate(len);
    bytes
}

fn read(root: &Path) -> Snapshot {
    portcullis_git::worktree::read(root).unwrap()
}

#[test]
fn every_governed_file_is_read_with_its_exact_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut want = BTreeMap::new();
    // Several hundred files in one folder are read in several tasks; nested folders too.
    for i in 0..300 {
        let rel = format!("access/wiki/person-{i}.yaml");
        let bytes = content(&rel, 40 + i * 7);
        write(root, &rel, &bytes);
        want.insert(rel, Entry::File(bytes.into()));
    }
    for rel in [
        "access/hr/deep/er/x.yaml",
        "access/hr/y.yaml",
        ".github/CODEOWNERS",
    ] {
        let bytes = content(rel, 100);
        write(root, rel, &bytes);
        want.insert(rel.to_owned(), Entry::File(bytes.into()));
    }
    // Around the size of the reader's buffer (64 KiB) and far past it: all bytes, in order.
    for (rel, len) in [
        ("policies/people.yaml", 3 << 20),
        ("policies/a.yaml", (64 << 10) - 1),
        ("policies/b.yaml", 64 << 10),
        ("policies/c.yaml", (64 << 10) + 1),
        ("access/wiki/empty.yaml", 0),
    ] {
        let bytes = content(rel, len);
        write(root, rel, &bytes);
        want.insert(rel.to_owned(), Entry::File(bytes.into()));
    }
    // Governed but not read by `check`: left out.
    write(root, "schemas/grant.schema.json", b"{}");
    write(root, ".github/workflows/check.yml", b"on: push\n");
    // Outside the governed folders: not read.
    write(root, "README.md", b"hello");
    write(root, "other/access/x.yaml", b"x: 1\n");

    let got = read(root).files;
    let names = |m: &BTreeMap<String, Entry>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&got), names(&want));
    for (rel, entry) in &want {
        assert!(got[rel] == *entry, "`{rel}` was not read as written");
    }
}

#[test]
fn a_grant_file_over_its_limit_is_kept_by_size_and_one_at_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let limit = GRANT_FILE_LIMIT as usize;
    write(root, "access/wiki/at.yaml", &content("at", limit));
    write(root, "access/wiki/over.yaml", &content("over", limit + 1));
    // The grant limit is for grant files: a policy file of the same size is read.
    write(root, "policies/sod.yaml", &content("sod", limit + 1));
    let got = read(root).files;
    assert_eq!(
        got["access/wiki/over.yaml"],
        Entry::TooLarge(limit as u64 + 1)
    );
    assert!(matches!(&got["access/wiki/at.yaml"], Entry::File(b) if b.len() == limit));
    assert!(matches!(&got["policies/sod.yaml"], Entry::File(b) if b.len() == limit + 1));
}

#[test]
fn links_and_submodules_are_recorded_and_never_entered() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "secret.yaml", b"person: wei\n");
    write(root, "access/wiki/real.yaml", b"person: ana\n");
    std::os::unix::fs::symlink(
        outside.path().join("secret.yaml"),
        root.join("access/wiki/link.yaml"),
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path(), root.join("access/linked")).unwrap();
    write(
        root,
        "access/vendored/.git",
        b"gitdir: ../../.git/modules/vendored\n",
    );
    write(root, "access/vendored/ana.yaml", b"person: ana\n");
    // A whole governed folder that is a link is recorded once.
    std::os::unix::fs::symlink(outside.path(), root.join("schemas")).unwrap();
    let got = read(root).files;
    let found: Vec<(&str, &Entry)> = got.iter().map(|(k, v)| (k.as_str(), v)).collect();
    assert_eq!(
        found,
        vec![
            ("access/linked", &Entry::Symlink),
            ("access/vendored", &Entry::Submodule),
            ("access/wiki/link.yaml", &Entry::Symlink),
            (
                "access/wiki/real.yaml",
                &Entry::File(b"person: ana\n".as_slice().into())
            ),
            ("schemas", &Entry::Symlink),
        ]
    );
}

#[test]
fn a_named_pipe_is_refused_by_name_without_waiting_for_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    write(&root, "access/wiki/ana.yaml", b"person: ana\n");
    let status = std::process::Command::new("mkfifo")
        .arg(root.join("access/wiki/pipe.yaml"))
        .status()
        .unwrap();
    assert!(status.success());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(portcullis_git::worktree::read(&root).map(|_| ()));
    });
    let result = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("reading a work tree with a named pipe must not wait for a writer");
    let message = format!("{:#}", result.unwrap_err());
    assert!(
        message.contains("access/wiki/pipe.yaml") && message.contains("named pipe"),
        "{message}"
    );
}
