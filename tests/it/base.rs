//! `check --base` through the binary on a real git repository made from the example
//! organisation: only what the change adds or touches fails.

use std::process::Command;

use crate::support::{check_json, example_repo, git};

fn diags<'a>(json: &'a serde_json::Value, rule: &str) -> Vec<&'a serde_json::Value> {
    json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["rule"] == rule)
        .collect()
}

#[test]
fn an_old_expired_grant_elsewhere_does_not_block_a_clean_change() {
    let repo = example_repo();
    let dir = repo.path();
    // Someone else's grant that expired before this change started.
    let old = dir.join("access/github/oscar.yaml");
    let text = std::fs::read_to_string(&old).unwrap();
    std::fs::write(&old, format!("{text}  - role: admin\n    justification: Old incident clean-up that was never revoked\n    expires: 2026-11-01\n")).unwrap();
    git(dir, &["commit", "-qam", "older problem"]);

    // The change: a new, valid file.
    std::fs::write(
        dir.join("access/grafana/nadia.yaml"),
        "person: nadia\napp: grafana\ngrants:\n  - role: viewer\n    justification: Watches the support queue dashboards\n    expires: 2027-01-31\n",
    )
    .unwrap();
    let (code, full) = check_json(dir, &[]);
    assert_eq!(code, 1, "without --base the old grant fails: {full:#}");
    // By default only what the change reaches is read: oscar's file is not.
    let (code, json) = check_json(dir, &["--base", "HEAD"]);
    assert_eq!(code, 0, "{json:#}");
    assert!(diags(&json, "expired").is_empty(), "{json:#}");
    assert_eq!(json["summary"]["scope"], "change", "{json:#}");
    // `--full` reads everything and prints the old finding as pre-existing.
    let (code, json) = check_json(dir, &["--base", "HEAD", "--full"]);
    assert_eq!(code, 0, "{json:#}");
    let expired = diags(&json, "expired");
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0]["pre_existing"], true);
    assert_eq!(expired[0]["file"], "access/github/oscar.yaml");
    assert!(json["summary"].get("scope").is_none(), "{json:#}");
}

#[test]
fn what_the_change_adds_fails_and_untouched_grants_in_the_same_file_do_not() {
    let repo = example_repo();
    let dir = repo.path();
    let path = dir.join("access/github/oscar.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}  - role: admin\n    justification: Old incident clean-up that was never revoked\n    expires: 2026-11-01\n")).unwrap();
    git(dir, &["commit", "-qam", "older problem"]);
    // The change adds a grant with a short justification to the same file.
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen(
            "grants:\n",
            "grants:\n  - role: release-manager\n    justification: needed\n",
            1,
        ),
    )
    .unwrap();
    let (code, json) = check_json(dir, &["--base", "HEAD"]);
    assert_eq!(code, 1, "{json:#}");
    let expired = diags(&json, "expired");
    assert_eq!(
        expired[0]["pre_existing"], true,
        "untouched grant: {json:#}"
    );
    let new: Vec<_> = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["pre_existing"] == false && d["severity"] == "error")
        .collect();
    assert!(!new.is_empty(), "{json:#}");
    for d in new {
        assert_eq!(d["file"], "access/github/oscar.yaml");
        assert_eq!(d["role"], "release-manager", "{d:#}");
    }
}

#[test]
fn a_policy_change_that_breaks_existing_grants_owns_those_findings() {
    let repo = example_repo();
    let dir = repo.path();
    // Marking a person as a leaver makes every grant they hold an error of this change.
    let people = dir.join("policies/people.yaml");
    let text = std::fs::read_to_string(&people).unwrap();
    let start = text.find("- id: wei\n").expect("wei in people.yaml");
    let status = start + text[start..].find("status: active").unwrap();
    let edited = format!(
        "{}status: leaver{}",
        &text[..status],
        &text[status + "status: active".len()..]
    );
    std::fs::write(&people, edited).unwrap();
    let (code, json) = check_json(dir, &["--base", "HEAD"]);
    assert_eq!(code, 1);
    let leaver = diags(&json, "leaver-has-access");
    assert!(!leaver.is_empty());
    assert!(
        leaver
            .iter()
            .all(|d| d["pre_existing"] == false && d["person"] == "wei")
    );
}

#[test]
fn a_bad_base_revision_is_a_usage_error() {
    let repo = example_repo();
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args([
            "check",
            "--root",
            repo.path().to_str().unwrap(),
            "--base",
            "no-such-rev",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-rev"));
}
