//! `audit` on the example organisation with a history built here: commits with fixed dates,
//! evidence notes written with git2. Exact holders at exact instants (around an expiry, a
//! move and a rename), the timeline, the evidence pack's late revocation and bypassed
//! approval, a tampered note, and CSV that a spreadsheet cannot run.

use std::path::Path;
use std::process::{Command, Output};

use portcullis_core::evidence::{self, Action, Approval, Draft, Kind, Note, Outcome, Run};
use serde_json::Value;

use crate::support::example_repo;

/// A commit of everything in the work tree, dated `at` (author and committer).
pub fn commit_at(dir: &Path, at: &str, message: &str) -> String {
    let git = |args: &[&str]| {
        let out = Command::new("git")
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
            .env("GIT_AUTHOR_DATE", at)
            .env("GIT_COMMITTER_DATE", at)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    git(&["add", "-A"]);
    git(&["commit", "-q", "--allow-empty", "-m", message]);
    git(&["rev-parse", "HEAD"])
}

fn write(dir: &Path, path: &str, text: &str) {
    let p = dir.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn read(dir: &Path, path: &str) -> String {
    std::fs::read_to_string(dir.join(path)).unwrap()
}

/// Appends records to the note on their commit, as `apply` will.
pub fn add_notes(dir: &Path, notes: &[&Note]) {
    let repo = git2::Repository::open(dir).unwrap();
    let sig = git2::Signature::now("portcullis", "portcullis@example.com").unwrap();
    for n in notes {
        let oid = git2::Oid::from_str(&n.commit).unwrap();
        let old = repo
            .find_note(Some(evidence::NOTES_REF), oid)
            .ok()
            .and_then(|x| x.message().ok().map(str::to_owned))
            .unwrap_or_default();
        let text = format!("{old}{}\n", n.to_line());
        repo.note(&sig, &sig, Some(evidence::NOTES_REF), oid, &text, true)
            .unwrap();
    }
}

fn action(op: &str, person: &str, app: &str, role: &str, at: &str) -> Action {
    Action {
        op: op.into(),
        app: app.into(),
        person: person.into(),
        role: role.into(),
        target: format!("{app}_{role}"),
        account: Some(person.into()),
        result: Outcome::Changed,
        error: None,
        at: at.into(),
    }
}

fn draft(kind: Kind, commit: &str, pr: Option<u64>, at: &str, actions: Vec<Action>) -> Draft {
    Draft {
        kind,
        commit: commit.into(),
        pr,
        pr_head: pr.map(|_| "e".repeat(40)),
        approvals: Vec::new(),
        override_: None,
        bypass: None,
        run: Run {
            id: format!("run-{at}"),
            started_at: at.into(),
            finished_at: Some(at.into()),
        },
        actions,
    }
}

pub struct History {
    pub dir: tempfile::TempDir,
    /// c[0] is the example organisation as committed.
    pub c: Vec<String>,
}

const OMAR_WITH_CREATE: &str = "  - role: create-payment\n    justification: Covers the Friday carrier payment run while Clara is on leave\n    expires: 2027-01-10\n    ticket: FIN-1210\n";
const WEI_PAYMENTS: &str = "person: wei\napp: payments\ngrants:\n  - role: viewer\n    justification: Reconciles payment runs against the revenue tables\n    expires: 2027-01-31\n";
const ZOE_PAYMENTS: &str = "person: zoe\napp: payments\ngrants:\n  - role: viewer\n    justification: \"=HYPERLINK(\\\"http://evil.example\\\",\\\"Click\\\")\"\n    expires: 2027-01-31\n";

/// The example organisation and then:
/// 1. 2026-11-23 10:00 PR #12 adds payments:create-payment for omar (note: approvals, add 10:05)
/// 2. 2026-11-24 09:00 PR #13 adds payments:viewer for wei, in a mistyped folder `access/payment/`
/// 3. 2026-11-26 09:00 PR #14 moves it to `access/payments/wei.yaml`, unchanged
///    (run note 2026-11-27 00:30: wei's billing-db:read-only, expired at 00:00, removed)
/// 4. 2026-12-01 09:00 PR #15 renames nadia to nadia.haddad (people and every file)
///    (run note 2026-12-19 08:00: omar's edit-vendor-bank, expired 2026-12-16 00:00, removed)
/// 5. 2026-12-20 09:00 direct push removing omar's expired edit-vendor-bank (note: bypass)
/// 6. 2026-12-21 09:00 direct push adding payments:viewer for zoe, no note, a formula as its
///    justification
pub fn build() -> History {
    let dir = example_repo();
    let d = dir.path();
    // The example organisation's own commit (support::example_repo dates it 2026-11-20).
    let repo = git2::Repository::open(d).unwrap();
    let mut c = vec![
        repo.head()
            .unwrap()
            .peel_to_commit()
            .unwrap()
            .id()
            .to_string(),
    ];

    let omar = read(d, "access/payments/omar.yaml") + OMAR_WITH_CREATE;
    write(d, "access/payments/omar.yaml", &omar);
    c.push(commit_at(
        d,
        "2026-11-23T10:00:00Z",
        "Merge pull request #12: omar create-payment",
    ));

    write(d, "access/payment/wei.yaml", WEI_PAYMENTS);
    c.push(commit_at(
        d,
        "2026-11-24T09:00:00Z",
        "Merge pull request #13: wei payments viewer",
    ));

    std::fs::remove_dir_all(d.join("access/payment")).unwrap();
    write(d, "access/payments/wei.yaml", WEI_PAYMENTS);
    c.push(commit_at(
        d,
        "2026-11-26T09:00:00Z",
        "Merge pull request #14: move wei's file",
    ));

    let people = read(d, "policies/people.yaml")
        .replace("  - id: nadia\n", "  - id: nadia.haddad\n")
        .replace("manager: nadia\n", "manager: nadia.haddad\n");
    write(d, "policies/people.yaml", &people);
    for app in ["billing-db", "github", "slack", "zendesk"] {
        let old = format!("access/{app}/nadia.yaml");
        let text = read(d, &old).replace("person: nadia\n", "person: nadia.haddad\n");
        std::fs::remove_file(d.join(&old)).unwrap();
        write(d, &format!("access/{app}/nadia.haddad.yaml"), &text);
    }
    c.push(commit_at(
        d,
        "2026-12-01T09:00:00Z",
        "Merge pull request #15: rename nadia",
    ));

    let omar = read(d, "access/payments/omar.yaml");
    let start = omar.find("  - role: edit-vendor-bank").unwrap();
    let end = omar.find("  - role: create-payment").unwrap();
    write(
        d,
        "access/payments/omar.yaml",
        &format!("{}{}", &omar[..start], &omar[end..]),
    );
    c.push(commit_at(
        d,
        "2026-12-20T09:00:00Z",
        "Remove omar's expired vendor bank access",
    ));

    write(d, "access/payments/zoe.yaml", ZOE_PAYMENTS);
    c.push(commit_at(d, "2026-12-21T09:00:00Z", "zoe payments viewer"));

    let mut n1 = draft(
        Kind::Apply,
        &c[1],
        Some(12),
        "2026-11-23T10:04:00Z",
        vec![action(
            "add",
            "omar",
            "payments",
            "create-payment",
            "2026-11-23T10:05:00Z",
        )],
    );
    n1.approvals = vec![
        Approval {
            reviewer: "elena-tw".into(),
            review_id: 501,
            as_: "manager".into(),
            reviewer_id: None,
        },
        Approval {
            reviewer: "kenji-tw".into(),
            review_id: 502,
            as_: "owner".into(),
            reviewer_id: None,
        },
    ];
    let n1 = evidence::seal(n1, None);
    let mut n2 = draft(
        Kind::Apply,
        &c[2],
        Some(13),
        "2026-11-24T09:03:00Z",
        vec![action(
            "add",
            "wei",
            "payments",
            "viewer",
            "2026-11-24T09:04:00Z",
        )],
    );
    n2.approvals = vec![Approval {
        reviewer: "kenji-tw".into(),
        review_id: 503,
        as_: "owner".into(),
        reviewer_id: Some(583_231),
    }];
    let n2 = evidence::seal(n2, Some(&n1));
    let n3 = evidence::seal(
        draft(
            Kind::Apply,
            &c[3],
            Some(14),
            "2026-11-26T09:02:00Z",
            Vec::new(),
        ),
        Some(&n2),
    );
    let n4 = evidence::seal(
        draft(
            Kind::Run,
            &c[3],
            None,
            "2026-11-27T00:29:00Z",
            vec![action(
                "remove",
                "wei",
                "billing-db",
                "read-only",
                "2026-11-27T00:30:00Z",
            )],
        ),
        Some(&n3),
    );
    let n5 = evidence::seal(
        draft(
            Kind::Apply,
            &c[4],
            Some(15),
            "2026-12-01T09:05:00Z",
            vec![
                action(
                    "remove",
                    "nadia",
                    "billing-db",
                    "read-only",
                    "2026-12-01T09:10:00Z",
                ),
                action(
                    "add",
                    "nadia.haddad",
                    "billing-db",
                    "read-only",
                    "2026-12-01T09:10:00Z",
                ),
            ],
        ),
        Some(&n4),
    );
    let n6 = evidence::seal(
        draft(
            Kind::Run,
            &c[4],
            None,
            "2026-12-19T07:59:00Z",
            vec![action(
                "remove",
                "omar",
                "payments",
                "edit-vendor-bank",
                "2026-12-19T08:00:00Z",
            )],
        ),
        Some(&n5),
    );
    let mut n7 = draft(Kind::Apply, &c[5], None, "2026-12-20T09:05:00Z", Vec::new());
    n7.bypass = Some("no pull request: pushed directly to main".into());
    let n7 = evidence::seal(n7, Some(&n6));
    add_notes(d, &[&n1, &n2, &n3, &n4, &n5, &n6, &n7]);
    History { dir, c }
}

pub fn audit(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("audit")
        .args(args)
        .args(["--root", dir.to_str().unwrap(), "--as-of", "2027-01-05"])
        .env_remove("GITHUB_REPOSITORY")
        .output()
        .unwrap()
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// `person` of every holder of app:role at `at`.
fn holders(h: &History, app: &str, role: &str, at: &str) -> Vec<String> {
    let out = audit(
        h.dir.path(),
        &["--at", at, "--app", app, "--role", role, "--format", "json"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_of(&out)["holders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["person"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn holders_around_an_expiry() {
    let h = build();
    assert_eq!(
        holders(&h, "payments", "edit-vendor-bank", "2026-12-15T23:59:59Z"),
        ["omar"]
    );
    // Expired at the end of 2026-12-15, although its file kept it until 2026-12-20.
    assert!(holders(&h, "payments", "edit-vendor-bank", "2026-12-16T00:00:00Z").is_empty());
    assert!(holders(&h, "payments", "edit-vendor-bank", "2026-12-19T00:00:00Z").is_empty());
}

#[test]
fn holders_around_a_move_and_a_rename() {
    let h = build();
    assert!(
        holders(&h, "payments", "viewer", "2026-11-24T08:59:59Z").contains(&"yusuf".to_owned())
    );
    assert!(!holders(&h, "payments", "viewer", "2026-11-24T08:59:59Z").contains(&"wei".to_owned()));
    // Granted from the mistyped folder, and the same grant after the move.
    for at in [
        "2026-11-24T09:00:00Z",
        "2026-11-26T08:59:59Z",
        "2026-11-26T09:00:00Z",
    ] {
        assert!(
            holders(&h, "payments", "viewer", at).contains(&"wei".to_owned()),
            "{at}"
        );
    }
    let out = audit(
        h.dir.path(),
        &[
            "--at",
            "2026-11-30",
            "--person",
            "wei",
            "--app",
            "payments",
            "--format",
            "json",
        ],
    );
    let held = json_of(&out);
    assert_eq!(held["holders"][0]["since"], "2026-11-24T09:00:00Z");
    assert_eq!(held["holders"][0]["file"], "access/payments/wei.yaml");
    assert_eq!(held["holders"][0]["granted_by"], h.c[2].as_str());

    // The rename ends nadia's access and starts nadia.haddad's, at the same instant.
    assert_eq!(
        holders(&h, "billing-db", "read-only", "2026-12-01T08:59:59Z"),
        ["liam", "marco.rossi", "nadia", "nora.lindqvist", "omar"]
    );
    assert_eq!(
        holders(&h, "billing-db", "read-only", "2026-12-01T09:00:00Z"),
        [
            "liam",
            "marco.rossi",
            "nadia.haddad",
            "nora.lindqvist",
            "omar"
        ]
    );
    // wei's own billing-db access expired at the end of 2026-11-26.
    assert!(
        holders(&h, "billing-db", "read-only", "2026-11-26T23:59:59Z").contains(&"wei".to_owned())
    );
}

#[test]
fn holders_carry_their_approvers_and_provisioning_from_the_notes() {
    let h = build();
    let out = audit(
        h.dir.path(),
        &[
            "--at",
            "2026-12-02",
            "--person",
            "omar",
            "--app",
            "payments",
            "--format",
            "json",
        ],
    );
    let json = json_of(&out);
    let create = json["holders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["role"] == "create-payment")
        .expect("omar holds create-payment");
    assert_eq!(create["commit"], h.c[1].as_str());
    assert_eq!(create["approval"]["source"], "notes");
    assert_eq!(create["approval"]["pr"], 12);
    assert_eq!(create["approval"]["approvers"][0]["login"], "elena-tw");
    assert_eq!(create["approval"]["approvers"][0]["as"], "manager");
    assert_eq!(create["approval"]["approvers"][1]["login"], "kenji-tw");
    assert_eq!(create["provisioned"]["at"], "2026-11-23T10:05:00Z");
    assert_eq!(create["provisioned"]["result"], "changed");
    // Granted before any note: nobody to name, and the text says so.
    let viewer = json["holders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["role"] == "viewer")
        .unwrap();
    assert_eq!(viewer["approval"]["source"], "unknown");

    let text = audit(
        h.dir.path(),
        &[
            "--at",
            "2026-12-02",
            "--person",
            "omar",
            "--app",
            "payments",
        ],
    );
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("elena-tw (manager), kenji-tw (owner)"),
        "{text}"
    );
}

#[test]
fn the_timeline_of_a_person() {
    let h = build();
    let out = audit(
        h.dir.path(),
        &[
            "--person",
            "omar",
            "--app",
            "payments",
            "--since",
            "2026-11-21",
            "--format",
            "json",
        ],
    );
    let events: Vec<(String, String, String)> = json_of(&out)["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["at"].as_str().unwrap().to_owned(),
                e["op"].as_str().unwrap().to_owned(),
                e["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want = [
        ("2026-11-23T10:00:00Z", "grant", "create-payment"),
        ("2026-12-16T00:00:00Z", "expire", "edit-vendor-bank"),
        ("2026-12-20T09:00:00Z", "cleanup", "edit-vendor-bank"),
    ];
    assert_eq!(
        events,
        want.map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()))
    );
}

#[test]
fn the_evidence_pack_flags_a_late_revocation_and_a_bypassed_approval() {
    let h = build();
    let out = audit(
        h.dir.path(),
        &[
            "--evidence",
            "--since",
            "2026-11-21",
            "--until",
            "2026-12-31",
            "--offline",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "exceptions fail the run");
    let pack = json_of(&out);
    assert_eq!(pack["sla_hours"], 24);
    let revocations = pack["revocations"].as_array().unwrap();
    let find = |person: &str, app: &str, role: &str| {
        revocations
            .iter()
            .find(|r| r["person"] == person && r["app"] == app && r["role"] == role)
            .unwrap_or_else(|| panic!("{person} {app}:{role} in {revocations:#?}"))
    };
    let omar = find("omar", "payments", "edit-vendor-bank");
    assert_eq!(omar["due"], "2026-12-16T00:00:00Z");
    assert_eq!(omar["reason"], "expired");
    assert_eq!(omar["removed"], "2026-12-19T08:00:00Z");
    assert_eq!(omar["removed_by"], "provisioner");
    assert_eq!(omar["delay_seconds"], 3 * 86_400 + 8 * 3600);
    assert_eq!(omar["late"], true);
    let wei = find("wei", "billing-db", "read-only");
    assert_eq!(wei["due"], "2026-11-27T00:00:00Z");
    assert_eq!(wei["delay_seconds"], 1800);
    assert_eq!(wei["late"], false);
    let nadia = find("nadia", "billing-db", "read-only");
    assert_eq!(nadia["reason"], "removed");
    assert_eq!(nadia["late"], false);

    let bypassed = pack["bypassed"].as_array().unwrap();
    assert_eq!(bypassed.len(), 1, "{bypassed:#?}");
    assert_eq!(bypassed[0]["commit"], h.c[5].as_str());
    assert_eq!(
        bypassed[0]["reason"],
        "no pull request: pushed directly to main"
    );
    // The direct push with no note could not be verified offline: listed, not guessed.
    let unverified = pack["unverified"].as_array().unwrap();
    assert_eq!(unverified.len(), 1);
    assert_eq!(unverified[0]["commit"], h.c[6].as_str());

    let grants = pack["grants"].as_array().unwrap();
    let omar_grant = grants
        .iter()
        .find(|g| g["person"] == "omar" && g["role"] == "create-payment")
        .unwrap();
    assert_eq!(omar_grant["ticket"], "FIN-1210");
    assert_eq!(
        omar_grant["approval"]["approvers"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(pack["chain"]["intact"], true);
    assert_eq!(pack["chain"]["records"], 7);
    // Clara's SoD exception is in force at the end of the period.
    assert_eq!(pack["sod"]["exceptions"][0]["person"], "clara");
    assert_eq!(pack["sod"]["exceptions"][0]["status"], "in force");

    let text = audit(
        h.dir.path(),
        &[
            "--evidence",
            "--since",
            "2026-11-21",
            "--until",
            "2026-12-31",
            "--offline",
        ],
    );
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("LATE"), "{text}");
    assert!(
        text.contains("SOC 2 CC6.2, CC6.3; ISO 27001 A.5.18"),
        "{text}"
    );
}

#[test]
fn a_tampered_note_breaks_the_chain() {
    let h = build();
    // Someone claims a different reviewer approved wei's access.
    forge_note(&h, 2, |text| text.replace("kenji-tw", "mallory"));
    let out = audit(
        h.dir.path(),
        &[
            "--evidence",
            "--since",
            "2026-11-21",
            "--until",
            "2026-11-25",
            "--offline",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let pack = json_of(&out);
    assert_eq!(pack["chain"]["intact"], false);
    let breaks = pack["chain"]["breaks"].as_array().unwrap();
    assert_eq!(breaks.len(), 1, "{breaks:#?}");
    assert_eq!(breaks[0]["kind"], "rewritten");
    assert_eq!(breaks[0]["seq"], 2);
    assert_eq!(breaks[0]["commit"], h.c[2].as_str());
    // Other commands warn.
    let out = audit(h.dir.path(), &["--at", "2026-11-25", "--offline"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("hash chain is broken"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn csv_output_cannot_run_a_formula() {
    let h = build();
    let out = audit(
        h.dir.path(),
        &[
            "--person",
            "zoe",
            "--app",
            "payments",
            "--since",
            "2026-12-21",
            "--format",
            "csv",
        ],
    );
    let csv = String::from_utf8_lossy(&out.stdout);
    let mut lines = csv.split("\r\n");
    assert_eq!(
        lines.next().unwrap(),
        "at,event,person,app,role,expires,commit,pr,approvers,applied,result,detail"
    );
    let out = audit(
        h.dir.path(),
        &[
            "--evidence",
            "--person",
            "zoe",
            "--since",
            "2026-12-21",
            "--until",
            "2026-12-31",
            "--offline",
            "--format",
            "csv",
        ],
    );
    let csv = String::from_utf8_lossy(&out.stdout);
    let row = csv
        .split("\r\n")
        .find(|l| l.starts_with("grants,") && l.contains(",zoe,"))
        .unwrap_or_else(|| panic!("{csv}"));
    assert!(
        row.contains(r#","'=HYPERLINK(""http://evil.example"",""Click"")","#),
        "{row}"
    );
    assert!(!row.contains(",=HYPERLINK"), "{row}");
}

#[test]
fn markdown_output_is_escaped() {
    let h = build();
    let out = audit(
        h.dir.path(),
        &[
            "--evidence",
            "--person",
            "zoe",
            "--since",
            "2026-12-21",
            "--until",
            "2026-12-31",
            "--offline",
            "--format",
            "markdown",
        ],
    );
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("### Grants and changes (1)"), "{md}");
    assert!(
        md.contains("HYPERLINK\\(\"http:\u{2060}//evil.example\""),
        "{md}"
    );
}

#[test]
fn bad_times_are_usage_errors() {
    let h = build();
    let out = audit(h.dir.path(), &["--at", "2026-13-01"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid `--at`"));
    let out = audit(
        h.dir.path(),
        &["--since", "2026-12-01", "--until", "2026-11-01"],
    );
    assert_eq!(out.status.code(), Some(2));
    let out = audit(h.dir.path(), &["--evidence"]);
    assert_eq!(out.status.code(), Some(2), "--evidence needs --since");
}

mod through_github {
    //! Commits without evidence notes: approvers and bypasses from the GitHub API (the fake).

    use serde_json::Value;

    use crate::pr_flow::{REPO, World};

    const CREATE: &str = "  - role: create-payment\n    justification: Covers the Friday carrier payment run while Clara is on leave\n    expires: 2027-01-10\n";

    fn omar(extra: &str) -> String {
        let base = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("access/payments/omar.yaml"),
        )
        .unwrap();
        format!("{base}{extra}")
    }

    /// Merges a branch's pull request as the bot, after the given reviews.
    fn merged_pull(w: &World, branch: &str, content: &str, approvers: &[&str]) -> u64 {
        let head = w.gh.push_commit(
            branch,
            &[("access/payments/omar.yaml", Some(content))],
            "omar@tidewater.example",
        );
        let pr = w.gh.open_pull("token-omar-tw", branch, "main", branch, "");
        for a in approvers {
            w.gh.review(&format!("token-{a}"), pr, "APPROVED");
        }
        let client = portcullis_github::Client::new(&w.gh.url(), Some(&w.bot), REPO).unwrap();
        client.merge_pull(pr, &head).unwrap();
        pr
    }

    fn json(out: &std::process::Output) -> Value {
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{e}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }

    #[test]
    fn approvers_and_bypasses_come_from_the_api_when_notes_are_missing() {
        let w = World::new();
        let first = merged_pull(&w, "omar-create", &omar(CREATE), &["elena-tw", "kenji-tw"]);
        // An extension merged with the owner's approval only: the manager is missing.
        let longer = omar(&CREATE.replace("2027-01-10", "2027-01-20"));
        let second = merged_pull(&w, "omar-longer", &longer, &["kenji-tw"]);
        let pushed = w.gh.push_commit(
            "main",
            &[("access/payments/omar.yaml", Some(&omar("")))],
            "omar@tidewater.example",
        );
        w.fetch(second);

        let out = w.run(&[
            "audit",
            "--person",
            "omar",
            "--app",
            "payments",
            "--role",
            "create-payment",
            "--since",
            "2026-11-20T09:00:01Z",
            "--rev",
            "origin/main",
            "--format",
            "json",
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let events = json(&out)["events"].as_array().unwrap().clone();
        let ops: Vec<&str> = events.iter().map(|e| e["op"].as_str().unwrap()).collect();
        assert_eq!(ops, ["grant", "change", "revoke"]);
        let grant = &events[0]["approval"];
        assert_eq!(grant["source"], "github");
        assert_eq!(grant["pr"], first);
        let who: Vec<(String, String)> = grant["approvers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["login"].as_str().unwrap().into(),
                    a["as"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert_eq!(
            who,
            [
                ("elena-tw".into(), "manager".into()),
                ("kenji-tw".into(), "owner".into())
            ]
        );
        assert_eq!(grant["bypass"], Value::Null);
        let change = &events[1]["approval"];
        assert_eq!(change["pr"], second);
        assert!(
            change["bypass"]
                .as_str()
                .unwrap()
                .contains("needs manager @elena-tw"),
            "{change}"
        );
        assert_eq!(events[2]["commit"], pushed.as_str());

        let out = w.run(&[
            "audit",
            "--evidence",
            "--since",
            "2026-11-20T09:00:01Z",
            "--rev",
            "origin/main",
            "--format",
            "json",
        ]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pack = json(&out);
        let bypassed: Vec<(String, String)> = pack["bypassed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["pr"].to_string(),
                    b["reason"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(bypassed.len(), 2, "{bypassed:?}");
        assert_eq!(bypassed[0].0, second.to_string());
        assert!(
            bypassed[0].1.contains("lacks approvals on its merged head"),
            "{bypassed:?}"
        );
        assert_eq!(bypassed[1].0, "null");
        assert!(bypassed[1].1.starts_with("no pull request"), "{bypassed:?}");
        assert!(pack["unverified"].as_array().unwrap().is_empty());
    }
}

#[test]
fn the_cache_follows_new_commits_rewritten_history_and_notes() {
    let h = build();
    let d = h.dir.path();
    let roles = |at: &str| -> Vec<String> {
        let out = audit(
            d,
            &[
                "--at", at, "--person", "zoe", "--app", "payments", "--format", "json",
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json_of(&out)["holders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["role"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(roles("2026-12-22"), ["viewer"]);
    assert!(d.join(".git/portcullis/history.json").is_file());
    assert!(d.join(".git/portcullis/notes.cache").is_file());

    // A new commit: walked on top of the cached history.
    std::fs::remove_file(d.join("access/payments/zoe.yaml")).unwrap();
    commit_at(d, "2026-12-23T09:00:00Z", "remove zoe");
    assert!(roles("2026-12-24").is_empty());
    assert_eq!(roles("2026-12-22"), ["viewer"]);

    // History rewritten from c[5] on: the cached commits after it no longer count.
    let git = |args: &[&str]| {
        assert!(
            Command::new("git")
                .args(args)
                .current_dir(d)
                .status()
                .unwrap()
                .success()
        );
    };
    git(&["reset", "-q", "--hard", &h.c[5]]);
    write(
        d,
        "access/payments/zoe.yaml",
        &ZOE_PAYMENTS.replace("viewer", "approve-payment"),
    );
    commit_at(d, "2026-12-22T10:00:00Z", "zoe approves payments");
    assert_eq!(roles("2026-12-22T12:00:00Z"), ["approve-payment"]);

    // A damaged cache is ignored, not trusted.
    std::fs::write(d.join(".git/portcullis/history.json"), "{\"format\": 1").unwrap();
    std::fs::write(d.join(".git/portcullis/notes.cache"), "garbage").unwrap();
    assert_eq!(roles("2026-12-22T12:00:00Z"), ["approve-payment"]);

    // A note rewritten after it was cached is read again, and caught.
    let repo = git2::Repository::open(d).unwrap();
    let oid = git2::Oid::from_str(&h.c[1]).unwrap();
    let text = repo
        .find_note(Some(evidence::NOTES_REF), oid)
        .unwrap()
        .message()
        .unwrap()
        .replace("elena-tw", "mallory");
    let sig = git2::Signature::now("x", "x@example.com").unwrap();
    repo.note(&sig, &sig, Some(evidence::NOTES_REF), oid, &text, true)
        .unwrap();
    let out = audit(d, &["--at", "2026-12-22", "--offline"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("hash chain is broken"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn audit_as_of(dir: &Path, as_of: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("audit")
        .args(args)
        .args(["--root", dir.to_str().unwrap(), "--as-of", as_of])
        .env_remove("GITHUB_REPOSITORY")
        .output()
        .unwrap()
}

/// A pack made on 2026-12-03 for a period that runs to the end of December: revocations due
/// after 2026-12-03 are not due yet, so none of them is late; one due before and not done is.
#[test]
fn a_pack_made_before_its_period_ends_counts_only_what_was_already_due() {
    let h = build();
    // The fourth quarter's pack, made on `as_of`.
    let quarter = |as_of: &str| {
        json_of(&audit_as_of(
            h.dir.path(),
            as_of,
            &[
                "--evidence",
                "--since",
                "2026-10-01",
                "--until",
                "2026-12-31",
                "--offline",
                "--format",
                "json",
            ],
        ))
    };
    let pack = quarter("2026-12-03");
    let revocations = pack["revocations"].as_array().unwrap();
    assert!(!revocations.is_empty());
    for r in revocations {
        let due = r["due"].as_str().unwrap();
        assert!(
            due <= "2026-12-03T00:00:00Z",
            "not due by the pack's time: {r:#}"
        );
    }
    // Omar's edit-vendor-bank expires on 2026-12-15: due on the 16th, after the pack was made.
    assert!(
        revocations
            .iter()
            .all(|r| !(r["person"] == "omar" && r["role"] == "edit-vendor-bank")),
        "{revocations:#?}"
    );
    // Made after the period, the same revocation is due and late.
    let pack = quarter("2027-01-05");
    assert!(
        pack["revocations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["person"] == "omar" && r["role"] == "edit-vendor-bank" && r["late"] == true)
    );
}

/// `--until 2026-11-24` includes what happened on the 24th (PR #13 at 09:00).
#[test]
fn a_date_only_until_includes_its_own_day() {
    let h = build();
    let timeline = |until: &str| {
        let out = audit(
            h.dir.path(),
            &[
                "--since",
                "2026-11-24",
                "--until",
                until,
                "--offline",
                "--format",
                "json",
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(timeline("2026-11-24").contains("\"wei\""));
    assert!(!timeline("2026-11-24T08:00:00Z").contains("\"wei\""));
}

#[test]
fn an_unknown_person_or_app_is_an_error_not_zero_grants() {
    let h = build();
    for (flag, id, says) in [
        ("--person", "nobody-here", "no person `nobody-here`"),
        ("--app", "no-such-app", "no app `no-such-app`"),
    ] {
        let out = audit(h.dir.path(), &["--at", "2026-11-25", flag, id, "--offline"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains(says));
    }
    // A known person with no grants is an empty answer, not an error.
    let out = audit(
        h.dir.path(),
        &["--at", "2026-11-25", "--person", "elena", "--offline"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A crafted record whose `commit` is cut inside a multi-byte character is reported as a
/// break, never a panic.
#[test]
fn a_crafted_commit_value_is_a_break_not_a_panic() {
    let h = build();
    let commit = h.c[2].clone();
    forge_note(&h, 2, |text| {
        let forged = text.replacen(
            &format!("\"commit\":\"{commit}\""),
            "\"commit\":\"abcdefghié\"",
            1,
        );
        assert_ne!(forged, text);
        forged
    });
    let out = audit(
        h.dir.path(),
        &[
            "--evidence",
            "--since",
            "2026-11-21",
            "--until",
            "2026-11-25",
            "--offline",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

/// Rewrites the note on commit `h.c[i]` with `edit`, as anyone who can push the notes ref can.
fn forge_note(h: &History, i: usize, edit: impl Fn(&str) -> String) {
    let repo = git2::Repository::open(h.dir.path()).unwrap();
    let oid = git2::Oid::from_str(&h.c[i]).unwrap();
    let note = repo.find_note(Some(evidence::NOTES_REF), oid).unwrap();
    let forged = edit(note.message().unwrap());
    let sig = git2::Signature::now("x", "x@example.com").unwrap();
    repo.note(&sig, &sig, Some(evidence::NOTES_REF), oid, &forged, true)
        .unwrap();
}
