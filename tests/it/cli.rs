//! Through the binary: exit codes and the example organisation.

use std::process::Command;

fn portcullis() -> Command {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
}

#[test]
fn the_example_organisation_passes_check_as_of_its_date() {
    let out = portcullis()
        .args([
            "check",
            "--root",
            env!("CARGO_MANIFEST_DIR"),
            "--as-of",
            "2026-11-22",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{json:#}");
    assert_eq!(json["summary"]["errors"], 0);
    assert!(json["summary"]["grants"].as_u64().unwrap() >= 100);
}

#[test]
fn bad_usage_exits_2_with_a_hint() {
    let out = portcullis()
        .args([
            "check",
            "--as-of",
            "tomorrow",
            "--root",
            env!("CARGO_MANIFEST_DIR"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("hint:"));
    let out = portcullis()
        .args(["check", "--root", "/nonexistent"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = portcullis()
        .args(["explain", "no-such-rule"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn explain_prints_every_rule() {
    for rule in portcullis::diag::Rule::ALL {
        let out = portcullis().args(["explain", rule.id()]).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&out.stdout).contains("## Fix"));
    }
}
