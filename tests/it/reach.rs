//! `check --base` reads only what the change reaches. Held to the whole-tree check
//! (`--base --full`) on random changes to the example organisation: the same exit code, the
//! same findings that fail or are new, and nothing in the reached report that the whole-tree
//! report does not say the same way.

use std::collections::BTreeSet;
use std::path::Path;

use proptest::prelude::*;

use crate::support::{check_json, example_repo};

const ROLES: &[(&str, &str)] = &[
    ("payments", "create-payment"),
    ("payments", "approve-payment"),
    ("payments", "edit-vendor-bank"),
    ("payments", "viewer"),
    ("treasury", "approve-wire"),
    ("treasury", "initiate-wire"),
    ("aws-prod", "admin"),
    ("aws-prod", "read-only"),
    ("github", "member"),
    ("github", "admin"),
    ("grafana", "viewer"),
    ("vpn", "staff"),
    ("slack", "member"),
    ("zendesk", "agent"),
    ("billing-db", "read"),
    ("salesforce", "admin"),
];

const EXPIRIES: &[&str] = &[
    "2026-11-01",
    "2026-11-22",
    "2026-11-30",
    "2027-01-15",
    "2027-06-01",
    "2028-01-01",
    "2026-02-30",
];

const JUSTIFICATIONS: &[&str] = &[
    "Covers the month-end close while the team lead is away",
    "short",
    "Needs it to investigate incident INC-4411 in production",
];

fn files(dir: &Path, under: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.join(under)];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

fn people(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("policies/people.yaml"))
        .unwrap()
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("- id: ").map(str::to_owned))
        .collect()
}

/// One change to the work tree, chosen by `op` and `n`.
fn apply(dir: &Path, op: usize, n: usize) {
    let grants = files(dir, "access");
    let people = people(dir);
    let pick = |v: &[String], k: usize| v[k % v.len()].clone();
    let read = |rel: &str| std::fs::read_to_string(dir.join(rel)).unwrap_or_default();
    let write = |rel: &str, text: &str| {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    let grant_text = |k: usize| {
        format!(
            "  - role: {}\n    justification: {}\n    expires: {}\n",
            ROLES[k % ROLES.len()].1,
            JUSTIFICATIONS[k % JUSTIFICATIONS.len()],
            EXPIRIES[k % EXPIRIES.len()]
        )
    };
    match op % 11 {
        // Add a grant to an existing file (its app's role or another app's).
        0 => {
            let f = pick(&grants, n);
            write(&f, &(read(&f) + &grant_text(n / 7)));
        }
        // A new file for someone, possibly completing a SoD conflict.
        1 => {
            let (app, role) = ROLES[n % ROLES.len()];
            let person = pick(&people, n / 3);
            let rel = format!("access/{app}/{person}.yaml");
            let text = format!(
                "person: {person}\napp: {app}\ngrants:\n  - role: {role}\n    justification: {}\n    expires: {}\n",
                JUSTIFICATIONS[n % JUSTIFICATIONS.len()],
                EXPIRIES[(n / 5) % EXPIRIES.len()]
            );
            write(&rel, &text);
        }
        2 => {
            let f = pick(&grants, n);
            std::fs::remove_file(dir.join(f)).unwrap();
        }
        // Move a file to another person's name (a path mismatch) or another app.
        3 => {
            let f = pick(&grants, n);
            let to = if n.is_multiple_of(2) {
                format!(
                    "access/{}/{}.yaml",
                    f.split('/').nth(1).unwrap(),
                    pick(&people, n / 2)
                )
            } else {
                format!(
                    "access/{}/{}",
                    ROLES[n % ROLES.len()].0,
                    f.rsplit('/').next().unwrap()
                )
            };
            let text = read(&f);
            std::fs::remove_file(dir.join(&f)).unwrap();
            write(&to, &text);
        }
        // Break a file's YAML or its values.
        4 => {
            let f = pick(&grants, n);
            let text = read(&f);
            let cut = (n / 3) % text.len().max(1);
            let spice = [
                "\t",
                ": x",
                "- ",
                "{",
                "'",
                "\n  unknown: 1",
                "expires: 2027-13-01",
            ];
            let mut t = text.clone();
            let mut at = cut;
            while !t.is_char_boundary(at) {
                at -= 1;
            }
            t.insert_str(at, spice[n % spice.len()]);
            write(&f, &t);
        }
        // The directory: a leaver, an end date, a contractor, a removal.
        5 => {
            let text = read("policies/people.yaml");
            let person = pick(&people, n);
            let needle = format!("- id: {person}\n");
            let Some(at) = text.find(&needle) else { return };
            let after = at + needle.len();
            let edited = match n % 4 {
                0 => text.replacen(&needle, &format!("{needle}    status: leaver\n"), 1),
                1 => text.replacen(&needle, &format!("{needle}    end_date: 2026-12-01\n"), 1),
                2 => {
                    let end = text[after..]
                        .find("  - id: ")
                        .map_or(text.len(), |e| after + e);
                    format!("{}{}", &text[..at], &text[end..])
                }
                _ => text.replacen(&needle, &format!("{needle}    manager: nobody-here\n"), 1),
            };
            // A duplicated key is a syntax error in the directory: also a change to check.
            write("policies/people.yaml", &edited);
        }
        // An app's policy.
        6 => {
            let apps = files(dir, "policies/apps");
            let f = pick(&apps, n);
            let text = read(&f);
            let edited = match n % 3 {
                0 => text.replacen("risk: low", "risk: critical", 1).replacen(
                    "risk: medium",
                    "risk: critical",
                    1,
                ),
                1 => text.replacen("max_duration: 90d", "max_duration: 7d", 1),
                _ => text.replacen("review_every: 90d", "review_every: 7d", 1),
            };
            write(&f, &edited);
        }
        7 => write(
            ".github/CODEOWNERS",
            &(read(".github/CODEOWNERS") + "/access/x/ @someone\n"),
        ),
        8 => write(
            "policies/sod.yaml",
            &read("policies/sod.yaml").replacen("severity: warning", "severity: error", 1),
        ),
        9 => write(
            &format!("access/{}/notes.yml", ROLES[n % ROLES.len()].0),
            "hello: 1\n",
        ),
        // Extend an expiry.
        _ => {
            let f = pick(&grants, n);
            let text = read(&f);
            if let Some(at) = text.find("expires: ") {
                let end = text[at..].find('\n').map_or(text.len(), |e| at + e);
                let t = format!(
                    "{}expires: {}{}",
                    &text[..at],
                    EXPIRIES[n % EXPIRIES.len()],
                    &text[end..]
                );
                write(&f, &t);
            }
        }
    }
}

type Finding = (String, String, String, u64, u64, String, bool);

fn findings(json: &serde_json::Value) -> BTreeSet<Finding> {
    json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["rule"].as_str().unwrap().to_owned(),
                d["severity"].as_str().unwrap().to_owned(),
                d["file"].as_str().unwrap().to_owned(),
                d["line"].as_u64().unwrap(),
                d["column"].as_u64().unwrap(),
                d["message"].as_str().unwrap().to_owned(),
                d["pre_existing"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn agree(ops: &[(usize, usize)]) {
    let repo = example_repo();
    let dir = repo.path();
    // An older problem elsewhere, so the whole-tree report has pre-existing findings.
    let old = dir.join("access/github/oscar.yaml");
    let text = std::fs::read_to_string(&old).unwrap();
    std::fs::write(&old, format!("{text}  - role: admin\n    justification: Old incident clean-up that was never revoked\n    expires: 2026-11-01\n")).unwrap();
    crate::support::git(dir, &["commit", "-qam", "older problem"]);
    for (op, n) in ops {
        apply(dir, *op, *n);
    }
    let (code, reached) = check_json(dir, &["--base", "HEAD"]);
    let (full_code, full) = check_json(dir, &["--base", "HEAD", "--full"]);
    assert_eq!(
        code, full_code,
        "ops {ops:?}\nreached {reached:#}\nfull {full:#}"
    );
    let reached = findings(&reached);
    let full = findings(&full);
    let new = |s: &BTreeSet<Finding>| -> BTreeSet<Finding> {
        s.iter().filter(|f| !f.6).cloned().collect()
    };
    assert_eq!(
        new(&reached),
        new(&full),
        "ops {ops:?}: new findings differ"
    );
    let extra: Vec<&Finding> = reached.difference(&full).collect();
    assert!(
        extra.is_empty(),
        "ops {ops:?}: reported only when reading less: {extra:#?}"
    );
    // The same change committed, read from git (`--head`, as CI runs it): the same report.
    crate::support::git(dir, &["add", "-A"]);
    crate::support::git(dir, &["commit", "-qm", "the change", "--allow-empty"]);
    let (head_code, from_git) = check_json(dir, &["--base", "HEAD~1", "--head", "HEAD"]);
    assert_eq!(head_code, code, "ops {ops:?}: {from_git:#}");
    assert_eq!(
        findings(&from_git),
        reached,
        "ops {ops:?}: --head reads differently"
    );
    let (_, from_git_full) = check_json(dir, &["--base", "HEAD~1", "--head", "HEAD", "--full"]);
    assert_eq!(
        findings(&from_git_full),
        full,
        "ops {ops:?}: --head --full reads differently"
    );
    // `plan` finds a person's other files by name (`access/<app>/<person>.yaml`), so a file
    // whose content names someone else is not theirs to it; `check` refuses those anyway.
    if !full.iter().any(|f| f.0 == "path-mismatch") {
        plans_agree(dir, ops);
    }
}

/// `plan --base HEAD~1 --head HEAD --format json` through the binary.
fn plan_json(dir: &Path) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args([
            "plan",
            "--root",
            dir.to_str().unwrap(),
            "--as-of",
            "2026-11-22",
        ])
        .args(["--format", "json", "--base", "HEAD~1", "--head", "HEAD"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `plan` reads a few directory entries and counts peers from the rest; the plan of the two
/// whole trees, in memory, must say the same (history aside: only the CLI reads it).
fn plans_agree(dir: &Path, ops: &[(usize, usize)]) {
    use portcullis_git::revision::Revision;
    let mut cli = plan_json(dir);
    let repo = git2::Repository::open(dir).unwrap();
    let snapshot = |rev: &str| {
        let at = Revision::at(&repo, rev).unwrap();
        let mut snap = portcullis_core::snapshot::Snapshot::default();
        for d in ["access", "policies", ".github"] {
            snap.files.extend(at.read_dir(d).unwrap().files);
        }
        snap
    };
    let (_, plan) = portcullis_core::plan::between(
        &snapshot("HEAD~1"),
        &snapshot("HEAD"),
        crate::support::as_of("2026-11-22"),
    );
    let mut whole: serde_json::Value =
        serde_json::from_str(&portcullis_core::plan::render::json(&plan)).unwrap();
    for v in [&mut cli, &mut whole] {
        for c in v["changes"].as_array_mut().unwrap() {
            c["insights"].as_object_mut().map(|i| i.remove("history"));
        }
    }
    assert_eq!(
        cli, whole,
        "ops {ops:?}: plan differs when the directory is read in part"
    );
}

/// A manager written in quotes is not a plain line to the partial reader: the entry is parsed,
/// and the manager it names is still found (the approvals need their GitHub login).
#[test]
fn a_manager_written_in_quotes_is_still_found() {
    let repo = example_repo();
    let dir = repo.path();
    let path = dir.join("policies/people.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let at = text.find("- id: mei\n").unwrap();
    let line = at + text[at..].find("manager: elena\n").unwrap();
    let quoted = format!(
        "{}manager: \"elena\"\n{}",
        &text[..line],
        &text[line + 15..]
    );
    std::fs::write(&path, quoted).unwrap();
    crate::support::git(dir, &["commit", "-qam", "quoted"]);
    let grant = dir.join("access/payments/mei.yaml");
    let text = std::fs::read_to_string(&grant).unwrap();
    std::fs::write(&grant, text + "  - role: edit-vendor-bank\n    justification: Covers vendor bank changes during the quarter close\n    expires: 2026-12-15\n").unwrap();
    crate::support::git(dir, &["commit", "-qam", "the change"]);
    let plan = plan_json(dir);
    let person = &plan["changes"][0]["insights"]["person"];
    assert_eq!(person["manager"], "elena", "{plan:#}");
    assert_eq!(person["manager_github"], "elena-tw", "{plan:#}");
    plans_agree(dir, &[]);
}

#[test]
fn reaching_less_changes_no_verdict_on_each_kind_of_change() {
    for op in 0..11 {
        for n in [0, 5, 13] {
            agree(&[(op, n)]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn reaching_less_changes_no_verdict_on_random_changes(ops in prop::collection::vec((0usize..11, 0usize..10_000), 1..4)) {
        agree(&ops);
    }
}
