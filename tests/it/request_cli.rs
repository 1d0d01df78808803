//! `portcullis request` through the binary, on a git repository holding the example
//! organisation, as of 2026-11-22.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{check_json, example_repo, git};

fn request(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args([
            "request",
            "--root",
            root.to_str().unwrap(),
            "--as-of",
            "2026-11-22",
        ])
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn read(root: &Path, path: &str) -> String {
    std::fs::read_to_string(root.join(path)).unwrap()
}

/// The whole tree still passes `check`.
fn passes_check(root: &Path) {
    let (code, json) = check_json(root, &[]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["summary"]["errors"], 0);
}

/// Nadia asks for grafana's viewer role.
const NADIA_VIEWER: &[&str] = &[
    "--app",
    "grafana",
    "--role",
    "viewer",
    "--person",
    "nadia",
    "--justification",
    "Watches the support queue dashboards",
];

const NADIA: &str = "\
# yaml-language-server: $schema=../../schemas/grant.schema.json
# Nadia's dashboards (PLAT-900).
app: grafana
person: nadia
grants:
  - justification: \"Watches the support queue dashboards\"   # on-call
    role: viewer
    expires: 2027-01-31
";

#[test]
fn a_new_file_is_created_and_passes_check() {
    let repo = example_repo();
    let root = repo.path();
    let out = request(root, NADIA_VIEWER);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The result is the command's output: stdout.
    let err = stdout(&out);
    assert!(err.contains("created `access/grafana/nadia.yaml`"), "{err}");
    assert!(
        err.contains("expires: 2027-05-20 (the maximum for"),
        "{err}"
    );
    assert!(
        err.contains("approvals needed: owner (a member of `@tidewater/sre`)"),
        "{err}"
    );
    assert!(err.contains("access/grafana/nadia/viewer"), "{err}");
    assert_eq!(
        read(root, "access/grafana/nadia.yaml"),
        "# yaml-language-server: $schema=../../schemas/grant.schema.json\nperson: nadia\napp: grafana\ngrants:\n  - role: viewer\n    justification: Watches the support queue dashboards\n    expires: 2027-05-20\n"
    );
    passes_check(root);
}

#[test]
fn a_role_is_added_to_a_file_keeping_its_comments_and_key_order() {
    let repo = example_repo();
    let root = repo.path();
    std::fs::write(root.join("access/grafana/nadia.yaml"), NADIA).unwrap();
    git(root, &["add", "-A"]);
    git(root, &["commit", "-qm", "nadia"]);
    let out = request(
        root,
        &[
            "--app",
            "grafana",
            "--role",
            "editor",
            "--person",
            "nadia",
            "--for",
            "30d",
            "--ticket",
            "PLAT-901",
            "--justification",
            "Builds the alert rules for the new carrier API",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("added to `access/grafana/nadia.yaml`"));
    assert_eq!(
        read(root, "access/grafana/nadia.yaml"),
        format!(
            "{NADIA}  - role: editor\n    justification: Builds the alert rules for the new carrier API\n    expires: 2026-12-22\n    ticket: PLAT-901\n"
        )
    );
    passes_check(root);
}

#[test]
fn an_existing_role_is_renewed_in_place() {
    let repo = example_repo();
    let root = repo.path();
    std::fs::write(root.join("access/grafana/nadia.yaml"), NADIA).unwrap();
    let out = request(
        root,
        &[
            "--app",
            "grafana",
            "--role",
            "viewer",
            "--expires",
            "2027-03-31",
            "--person",
            "nadia",
            "--justification",
            "Watches the support queue dashboards in Q1",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("renewed in `access/grafana/nadia.yaml`"));
    assert_eq!(
        read(root, "access/grafana/nadia.yaml"),
        NADIA
            .replace(
                "\"Watches the support queue dashboards\"",
                "Watches the support queue dashboards in Q1"
            )
            .replace("2027-01-31", "2027-03-31")
    );
    passes_check(root);
}

/// Runs a request that must be refused: exit 1, the file untouched, and stderr.
fn refused(root: &Path, path: &str, args: &[&str]) -> String {
    let before = std::fs::read(root.join(path)).ok();
    let out = request(root, args);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(root.join(path)).ok(),
        before,
        "{path} changed"
    );
    let err = stderr(&out);
    assert!(err.contains("error: ") && err.contains("hint: "), "{err}");
    err
}

#[test]
fn an_unknown_role_is_refused_with_the_apps_roles() {
    let repo = example_repo();
    let root = repo.path();
    let err = refused(
        root,
        "access/payments/mei.yaml",
        &[
            "--app",
            "payments",
            "--role",
            "approver",
            "--person",
            "mei",
            "--justification",
            "Approves the weekly carrier settlement run",
        ],
    );
    assert!(
        err.contains("app `payments` has no role `approver`"),
        "{err}"
    );
    assert!(
        err.contains("approve-payment: Approve outgoing payments and payment runs"),
        "{err}"
    );
    assert!(
        err.contains("admin: Full control of the console and its database (privileged)"),
        "{err}"
    );
}

#[test]
fn an_expiry_beyond_the_roles_maximum_is_refused() {
    let repo = example_repo();
    let err = refused(
        repo.path(),
        "access/payments/mei.yaml",
        &[
            "--app",
            "payments",
            "--role",
            "create-payment",
            "--person",
            "mei",
            "--expires",
            "2027-06-30",
            "--justification",
            "Prepares the weekly carrier settlement run",
        ],
    );
    assert!(
        err.contains("more than 60d away, the maximum for role `payments:create-payment`"),
        "{err}"
    );
    assert!(err.contains("`--expires 2027-01-20`"), "{err}");
}

#[test]
fn a_short_justification_is_refused() {
    let repo = example_repo();
    let err = refused(
        repo.path(),
        "access/grafana/nadia.yaml",
        &[
            "--app",
            "grafana",
            "--role",
            "viewer",
            "--person",
            "nadia",
            "--justification",
            "dashboards",
        ],
    );
    assert!(
        err.contains("has 10 characters; at least 15 are required"),
        "{err}"
    );
}

#[test]
fn nothing_is_written_when_check_would_reject_the_file() {
    let repo = example_repo();
    let root = repo.path();
    // yusuf releases wires in treasury: creating payments too breaks `wire-maker-checker`.
    let err = refused(
        root,
        "access/payments/yusuf.yaml",
        &[
            "--app",
            "payments",
            "--role",
            "create-payment",
            "--person",
            "yusuf",
            "--for",
            "30d",
            "--justification",
            "Prepares the weekly carrier settlement run",
        ],
    );
    assert!(err.contains("error[sod-conflict]"), "{err}");
    assert!(
        err.contains("related: access/payments/yusuf.yaml:"),
        "{err}"
    );
    assert!(err.contains("not written"), "{err}");
    // A ticket the schema refuses is shown at its place in the file that was not written.
    let err = refused(
        root,
        "access/grafana/nadia.yaml",
        &[
            "--app",
            "grafana",
            "--role",
            "viewer",
            "--person",
            "nadia",
            "--ticket",
            "see my email",
            "--justification",
            "Watches the support queue dashboards",
        ],
    );
    assert!(err.contains("error[schema]"), "{err}");
    assert!(err.contains("--> access/grafana/nadia.yaml:8:13"), "{err}");
    assert!(err.contains("8 |     ticket: see my email"), "{err}");
    assert!(!root.join("access/grafana/nadia.yaml").exists());
}

#[test]
fn the_person_defaults_to_the_git_user() {
    let repo = example_repo();
    let root = repo.path();
    git(root, &["config", "user.email", "Nadia@tidewater.example"]);
    let out = request(
        root,
        &[
            "--app",
            "grafana",
            "--role",
            "viewer",
            "--justification",
            "Watches the support queue dashboards",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(root.join("access/grafana/nadia.yaml").exists());

    git(root, &["config", "user.email", "someone@elsewhere.example"]);
    let out = request(
        root,
        &[
            "--app",
            "grafana",
            "--role",
            "editor",
            "--justification",
            "Builds the alert rules for the carrier API",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("someone@elsewhere.example") && err.contains("--person"),
        "{err}"
    );
}

#[test]
fn expires_and_for_together_are_bad_usage() {
    let repo = example_repo();
    let out = request(
        repo.path(),
        &[
            "--app",
            "grafana",
            "--role",
            "viewer",
            "--person",
            "nadia",
            "--for",
            "7d",
            "--expires",
            "2026-12-01",
            "--justification",
            "Watches the support queue dashboards",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
}

/// `--format json` gives scripts the same result as data.
#[test]
fn the_result_is_json_for_scripts() {
    let dir = example_repo();
    let root = dir.path();
    let out = request(root, &[NADIA_VIEWER, &["-f", "json"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["path"], "access/grafana/nadia.yaml");
    assert_eq!(v["did"], "created");
    assert_eq!(v["branch"], "access/grafana/nadia/viewer");
    assert_eq!(v["approvals"][0]["kind"], "owner");
    assert!(v["expires"].as_str().is_some_and(|e| e.starts_with("20")));
}
