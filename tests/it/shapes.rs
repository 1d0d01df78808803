//! Every public output shape, pinned as a snapshot: what scripts, auditors and approvers read.
//! A change to any of them shows up here as a diff to review, not as a surprise downstream.
//! The example organisation at its date, committed with fixed dates, gives the same bytes on
//! every machine.

use std::path::Path;
use std::process::Command;

use crate::support::git;

fn run(root: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .args(["--as-of", "2026-11-22", "--root"])
        .arg(root)
        .env_remove("GITHUB_TOKEN")
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// One pull request's worth of change: an add, a change of expiry and justification, and a
/// removal.
fn changed_repo() -> tempfile::TempDir {
    let repo = crate::support::example_repo();
    let root = repo.path();
    let edit = |path: &str, from: &str, to: &str| {
        let file = root.join(path);
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains(from), "{path}: {from}");
        std::fs::write(&file, text.replacen(from, to, 1)).unwrap();
    };
    edit(
        "access/aws-prod/aisha.yaml",
        "    justification: Operates the EKS clusters and their node groups\n    expires: 2027-02-12",
        "    justification: Operates the EKS clusters, their node groups and the mesh\n    expires: 2027-01-30",
    );
    edit(
        "access/payments/omar.yaml",
        "grants:\n",
        "grants:\n  - role: create-payment\n    justification: Covers the Friday carrier payment run while Clara is on leave\n    expires: 2027-01-10\n",
    );
    std::fs::remove_file(root.join("access/zendesk/liam.yaml")).unwrap();
    repo
}

#[test]
fn plan_in_every_format() {
    let repo = changed_repo();
    for format in ["text", "json", "markdown"] {
        let out = run(repo.path(), &["plan", "--base", "HEAD", "-f", format]);
        insta::assert_snapshot!(format!("plan_{format}"), out);
    }
}

#[test]
fn audit_in_every_format() {
    let repo = changed_repo();
    git(repo.path(), &["add", "-A"]);
    git(
        repo.path(),
        &["commit", "-q", "-m", "Omar covers the payment run (#7)"],
    );
    for format in ["text", "json", "csv", "markdown"] {
        let out = run(repo.path(), &["audit", "--app", "payments", "-f", format]);
        insta::assert_snapshot!(format!("audit_{format}"), out);
    }
    let at = run(
        repo.path(),
        &[
            "audit",
            "--at",
            "2026-11-21",
            "--app",
            "aws-prod",
            "-f",
            "csv",
        ],
    );
    insta::assert_snapshot!("audit_at_csv", at);
}

#[test]
fn check_json_and_expire_and_remind_lists() {
    let repo = crate::support::example_repo();
    for (name, args) in [
        ("expire_json", &["expire", "-f", "json"][..]),
        ("remind_json", &["remind", "--dry-run", "-f", "json"][..]),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(args)
            .args(["--as-of", "2026-11-23", "--root"])
            .arg(repo.path())
            .output()
            .unwrap();
        insta::assert_snapshot!(name, String::from_utf8(out.stdout).unwrap());
    }
}
