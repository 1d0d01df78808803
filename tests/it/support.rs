//! Shared helpers: in-memory repositories built from the conformance-style base tree.

use std::path::Path;
use std::process::Command;

use portcullis_core::diag::{Diagnostic, Report};
use portcullis_core::snapshot::Snapshot;

pub fn as_of(s: &str) -> chrono::DateTime<chrono::Utc> {
    portcullis_core::model::time::parse_as_of(s).expect("as-of")
}

/// Runs `check` over in-memory files as of a date.
pub fn check(files: &[(&str, &str)], date: &str) -> Report {
    portcullis_core::check::check(&Snapshot::from_files(files.iter().copied()), as_of(date))
}

/// `(rule, file, line)` of each finding, for compact assertions.
pub fn found(report: &Report) -> Vec<(&'static str, String, u32)> {
    report
        .diagnostics
        .iter()
        .map(|d: &Diagnostic| (d.rule.id(), d.file.clone(), d.pos.line))
        .collect()
}

pub fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_DATE", "2026-11-20T09:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-11-20T09:00:00Z")
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A repository holding the example organisation, committed.
pub fn example_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR"));
    for d in ["access", "policies", ".github"] {
        copy_dir(&src.join(d), &dir.path().join(d));
    }
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "base"]);
    dir
}

/// `check --as-of 2026-11-22 --format json` on a directory: exit code and parsed output.
pub fn check_json(dir: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args([
            "check",
            "--root",
            dir.to_str().unwrap(),
            "--as-of",
            "2026-11-22",
            "--format",
            "json",
        ])
        .args(extra)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), json)
}

/// The Initech test organisation of `tests/fixtures/rules/` (see `rules.rs`), read as a work
/// tree.
pub fn initech() -> Snapshot {
    portcullis_git::worktree::read(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules"),
    )
    .expect("fixture tree")
}

/// The example organisation's demo signing key (seed: 32 bytes of 42); its public half is
/// `evidence_public_key` in policies/settings.yaml.
pub const TEST_SIGNING_KEY: &str = "ed25519-secret:KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";
