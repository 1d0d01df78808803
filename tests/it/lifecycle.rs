//! The access lifecycle through the binary, the fake GitHub and real git repositories:
//! `expire`, `people sync`, `review` and `remind`, each ending in a pull request (or a
//! reminder) whose files still pass `check` and keep their comments.

use std::process::{Command, Output};

use portcullis_github::{Client, Pull};

use crate::pr_flow::{REPO, World};
use crate::support::git;

fn run_at(w: &World, as_of: &str, args: &[&str]) -> Output {
    command_at(w, as_of, args).output().unwrap()
}

fn command_at(w: &World, as_of: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    c.args(args)
        .args(["--root", w.clone.path().to_str().unwrap(), "--as-of", as_of])
        .env("GITHUB_API_URL", w.gh.url())
        .env("GITHUB_TOKEN", &w.bot)
        .env("GITHUB_REPOSITORY", REPO)
        .env("PORTCULLIS_GITHUB_MAX_WAIT", "5");
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: Output) -> Output {
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    o
}

fn client(w: &World) -> Client {
    Client::new(&w.gh.url(), Some(&w.bot), REPO).unwrap()
}

fn pulls(w: &World) -> Vec<Pull> {
    client(w).pulls("all", None).unwrap()
}

fn main_file(w: &World, path: &str) -> String {
    String::from_utf8(w.gh.file_at("main", path).expect(path)).unwrap()
}

fn file_at(w: &World, rev: &str, path: &str) -> Option<String> {
    w.gh.file_at(rev, path)
        .map(|b| String::from_utf8(b).unwrap())
}

/// Commits files on `main` of the fake GitHub and brings the clone up to date.
fn commit_on_main(w: &World, files: &[(&str, Option<&str>)]) {
    w.gh.push_commit("main", files, "rafael@tidewater.example");
    pull_main(w);
}

fn pull_main(w: &World) {
    git(w.clone.path(), &["fetch", "-q", "origin"]);
    git(w.clone.path(), &["reset", "-q", "--hard", "origin/main"]);
}

/// `check` over the tree of `sha` (fetched into the clone) as of a date: exit code and output.
fn check_at(w: &World, sha: &str, as_of: &str) -> (i32, String) {
    git(w.clone.path(), &["fetch", "-q", "origin", sha]);
    git(w.clone.path(), &["checkout", "-q", sha]);
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["check", "--as-of", as_of, "--root"])
        .arg(w.clone.path())
        .output()
        .unwrap();
    git(w.clone.path(), &["checkout", "-q", "main"]);
    (out.status.code().unwrap(), text(&out))
}

fn with_people(w: &World, edit: impl Fn(String) -> String) -> String {
    edit(main_file(w, "policies/people.yaml"))
}

fn owner_teams(w: &World) {
    for login in ["ivan-tw", "kwame-tw"] {
        w.gh.add_user(login, &format!("{login}@tidewater.example"));
    }
    for team in [
        "sre",
        "billing-eng",
        "platform",
        "it",
        "sales-ops",
        "support-leads",
    ] {
        w.gh.add_team("tidewater", team, &["ivan-tw"]);
    }
}

// -- expire -----------------------------------------------------------------------------------

const WEI: &str = "  - id: wei\n    name: Wei Zhang\n    email: wei@tidewater.example\n    github: wei-tw\n    department: engineering\n    title: Data Engineer\n    manager: kenji\n    type: employee\n    status: active\n";

#[test]
fn an_expired_grant_and_a_leaver_give_one_pr_updated_not_duplicated_and_renewals_drop_out() {
    let w = World::new();
    owner_teams(&w);
    let people = with_people(&w, |p| {
        assert!(p.contains(WEI));
        p.replace(WEI, &WEI.replace("status: active", "status: leaver"))
    });
    commit_on_main(&w, &[("policies/people.yaml", Some(&people))]);

    // As of 2026-11-23, dmitri's emergency aws-prod:admin has expired; wei has left.
    let out = ok(run_at(&w, "2026-11-23", &["expire", "--open-pr"]));
    let listed = text(&out);
    assert!(
        listed.contains("`aws-prod:admin` of `dmitri`: expired at 2026-11-22T20:00:00+00:00"),
        "{listed}"
    );
    let opened = pulls(&w);
    assert_eq!(opened.len(), 1, "one revocation pull request");
    let pr = &opened[0];
    assert_eq!(pr.head.name, "portcullis/expire");
    let body = pr.body.clone().unwrap();
    insta::assert_snapshot!("expire_pr_body", body);
    for line in [
        "| `dmitri` (Dmitri Volkov) | `aws-prod:admin` | `access/aws-prod/dmitri.yaml` | expired at 2026-11-22T20:00:00+00:00 |",
        "| `wei` (Wei Zhang) | `billing-db:read-only` | `access/billing-db/wei.yaml` | the person has left (status `leaver`) |",
        "| `wei` (Wei Zhang) | `github:member` | `access/github/wei.yaml` |",
        "| `wei` (Wei Zhang) | `slack:member` | `access/slack/wei.yaml` |",
    ] {
        assert!(body.contains(line), "{line}\n{body}");
    }
    assert_eq!(
        body.lines().filter(|l| l.starts_with("| `")).count(),
        4,
        "{body}"
    );
    // dmitri keeps his other grants, the file its schema line and comments; wei's files go.
    let head = &pr.head.sha;
    let dmitri = file_at(&w, head, "access/aws-prod/dmitri.yaml").unwrap();
    assert_eq!(
        dmitri,
        main_file(&w, "access/aws-prod/dmitri.yaml").replace(
            "  - role: admin\n    justification: INC-4471 dispatch API tasks failing health checks in eu-west-1, restoring the service\n    expires: 2026-11-22T20:00:00Z\n    emergency: true\n    ticket: INC-4471\n",
            ""
        )
    );
    for f in ["billing-db", "github", "slack"] {
        assert_eq!(file_at(&w, head, &format!("access/{f}/wei.yaml")), None);
    }
    assert_eq!(
        check_at(&w, head, "2026-11-23").0,
        0,
        "the revoked tree passes check"
    );
    let requested = w.gh.requested_teams(pr.number);
    for team in ["sre", "billing-eng", "platform", "it"] {
        assert!(requested.contains(&team.to_owned()), "{requested:?}");
    }

    // A second run updates the same pull request.
    ok(run_at(&w, "2026-11-23", &["expire", "--open-pr"]));
    assert_eq!(pulls(&w).len(), 1, "updated, not duplicated");

    // dmitri's admin is renewed on main; this checkout does not know yet.
    let renewed = main_file(&w, "access/aws-prod/dmitri.yaml").replace(
        "expires: 2026-11-22T20:00:00Z",
        "expires: 2026-11-23T20:00:00Z",
    );
    w.gh.push_commit(
        "main",
        &[("access/aws-prod/dmitri.yaml", Some(&renewed))],
        "rafael@tidewater.example",
    );
    ok(run_at(&w, "2026-11-23", &["expire", "--open-pr"]));
    let after = pulls(&w);
    assert_eq!(after.len(), 1);
    let body = after[0].body.clone().unwrap();
    assert!(!body.contains("dmitri"), "{body}");
    assert!(body.contains("`wei`"), "{body}");
    assert_eq!(
        file_at(&w, &after[0].head.sha, "access/aws-prod/dmitri.yaml").as_deref(),
        Some(renewed.as_str()),
        "the renewal is kept, never reverted"
    );
    assert_eq!(
        after[0].title,
        "Revoke 3 grants of 1 person (expired, leavers, past end date)"
    );
}

#[test]
fn a_contractor_past_the_end_date_loses_every_grant() {
    let w = World::new();
    owner_teams(&w);
    let people = with_people(&w, |p| {
        p.replace("    end_date: 2027-01-31\n", "    end_date: 2026-11-20\n")
    });
    commit_on_main(&w, &[("policies/people.yaml", Some(&people))]);
    let out = ok(run_at(
        &w,
        "2026-11-22",
        &["expire", "--open-pr", "--format", "json"],
    ));
    let listed: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    let removals = listed["removals"].as_array().unwrap();
    let ines: Vec<&serde_json::Value> = removals.iter().filter(|r| r["person"] == "ines").collect();
    assert_eq!(ines.len(), 5, "{listed}");
    for r in &ines {
        assert_eq!(
            r["reasons"],
            serde_json::json!(["the person's end date 2026-11-20 has passed"])
        );
    }
    let pr = &pulls(&w)[0];
    for app in ["aws-prod", "github", "grafana", "slack", "vpn"] {
        assert_eq!(
            file_at(&w, &pr.head.sha, &format!("access/{app}/ines.yaml")),
            None
        );
    }
    assert_eq!(check_at(&w, &pr.head.sha, "2026-11-22").0, 0);
}

/// A request pull request by omar, idle since 2026-10-01; the clock is then 2026-11-20.
fn idle_request(w: &World) -> u64 {
    w.gh.set_now("2026-10-01T09:00:00Z");
    w.gh.push_commit(
        "access/grafana/omar/viewer",
        &[("access/grafana/omar.yaml", Some("person: omar\napp: grafana\ngrants:\n  - role: viewer\n    justification: Carrier latency dashboards for the review\n"))],
        "omar@tidewater.example",
    );
    let number = w.gh.open_pull(
        "token-omar-tw",
        "access/grafana/omar/viewer",
        "main",
        "Access request",
        "",
    );
    w.gh.set_now("2026-11-20T09:00:00Z");
    number
}

#[test]
fn nothing_to_revoke_opens_nothing_and_stale_requests_are_closed() {
    let w = World::new();
    let out = ok(run_at(&w, "2026-11-22", &["expire", "--open-pr"]));
    assert!(text(&out).contains("nothing to revoke"), "{}", text(&out));
    assert!(pulls(&w).is_empty());

    // Two request PRs: one idle since 2026-10-01, one touched recently.
    let idle = idle_request(&w);
    w.gh.push_commit(
        "access/grafana/elena/viewer",
        &[("access/grafana/elena.yaml", Some("person: elena\napp: grafana\ngrants:\n  - role: viewer\n    justification: Carrier latency dashboards for the review\n"))],
        "elena@tidewater.example",
    );
    let fresh = w.gh.open_pull(
        "token-elena-tw",
        "access/grafana/elena/viewer",
        "main",
        "Access request",
        "",
    );
    for _ in 0..2 {
        ok(run_at(&w, "2026-11-22", &["expire", "--close-stale"]));
    }
    let c = client(&w);
    assert_eq!(c.pull(idle).unwrap().state, "closed");
    assert_eq!(c.pull(fresh).unwrap().state, "open");
    let comments = c.comments(idle).unwrap();
    assert_eq!(comments.len(), 1, "closed once, with one comment");
    assert!(
        comments[0].body.contains("no activity for 30d"),
        "{}",
        comments[0].body
    );
}

// -- people sync ------------------------------------------------------------------------------

/// The directory of the clone as an HR export, each row passed through `edit` (which may drop
/// it), and `extra` rows appended.
fn export(w: &World, edit: impl Fn(Vec<String>) -> Option<Vec<String>>, extra: &[&str]) -> String {
    let snapshot = portcullis_git::worktree::read(w.clone.path()).unwrap();
    let catalog = portcullis_core::check::load(&snapshot).catalog;
    let mut people: Vec<_> = catalog.people.values().collect();
    people.sort_by(|a, b| a.id.value.cmp(&b.id.value));
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out =
        String::from("id,name,email,github,department,title,manager,type,status,end_date\n");
    for p in people {
        let kind = match p.kind {
            portcullis_core::model::PersonType::Employee => "employee",
            portcullis_core::model::PersonType::Contractor => "contractor",
            portcullis_core::model::PersonType::Vendor => "vendor",
        };
        let row = vec![
            p.id.value.to_string(),
            p.name.clone(),
            p.email.clone(),
            p.github.clone().unwrap_or_default(),
            p.department.clone(),
            p.title.clone().unwrap_or_default(),
            p.manager
                .as_ref()
                .map(|m| m.value.to_string())
                .unwrap_or_default(),
            kind.to_owned(),
            if p.leaver { "leaver" } else { "active" }.to_owned(),
            p.end_date.map(|d| d.to_string()).unwrap_or_default(),
        ];
        if let Some(row) = edit(row) {
            let fields: Vec<String> = row.iter().map(|f| quote(f)).collect();
            out.push_str(&fields.join(","));
            out.push('\n');
        }
    }
    for e in extra {
        out.push_str(e);
        out.push('\n');
    }
    out
}

const NINA: &str = "nina,Nina Petrova,nina@tidewater.example,nina-tw,sales,Account Executive,grace,employee,active,";

#[test]
fn a_joiner_a_mover_and_a_leaver_from_one_export_give_one_pr_with_their_birthright() {
    let w = World::new();
    owner_teams(&w);
    let csv = export(
        &w,
        |mut row| {
            match row[0].as_str() {
                // nadia moves from engineering to support, under sana.
                "nadia" => {
                    row[4] = "support".into();
                    row[5] = "Support Engineer".into();
                    row[6] = "sana".into();
                }
                "wei" => row[8] = "leaver".into(),
                _ => {}
            }
            Some(row)
        },
        &[NINA],
    );
    let file = w.clone.path().join("hr-export.csv");
    std::fs::write(&file, csv).unwrap();
    let zendesk_before = main_file(&w, "access/zendesk/nadia.yaml");
    let people_before = main_file(&w, "policies/people.yaml");

    let out = ok(run_at(
        &w,
        "2026-11-22",
        &[
            "people",
            "sync",
            "--from",
            file.to_str().unwrap(),
            "--open-pr",
        ],
    ));
    let opened = pulls(&w);
    assert_eq!(opened.len(), 1, "{}", text(&out));
    let pr = &opened[0];
    assert_eq!(pr.head.name, "portcullis/people-sync");
    assert_eq!(
        pr.title,
        "People sync: 1 joiner, 1 mover, 1 leaver, 0 updates"
    );
    let head = &pr.head.sha;

    // The joiner: in the directory, with the employee and sales birthright grants.
    let people = file_at(&w, head, "policies/people.yaml").unwrap();
    assert!(people.starts_with(
        &people_before.replace(WEI, &WEI.replace("status: active", "status: leaver"))
            [..people_before.find("  - id: nadia").unwrap()]
    ));
    assert!(people.ends_with("  - id: nina\n    name: Nina Petrova\n    email: nina@tidewater.example\n    github: nina-tw\n    department: sales\n    title: Account Executive\n    manager: grace\n    type: employee\n    status: active\n"), "{people}");
    assert!(
        people.contains("# ines: SRE engagement via Northwind Consulting"),
        "comments kept"
    );
    for (app, role, why) in [
        ("slack", "member", "employee"),
        ("salesforce", "sales-user", "sales"),
    ] {
        assert_eq!(
            file_at(&w, head, &format!("access/{app}/nina.yaml")).unwrap(),
            format!(
                "# yaml-language-server: $schema=../../schemas/grant.schema.json\nperson: nina\napp: {app}\ngrants:\n  - role: {role}\n    justification: birthright ({why})\n"
            )
        );
    }
    // The mover: loses the engineering birthright, gets support's, keeps the rest.
    assert_eq!(file_at(&w, head, "access/github/nadia.yaml"), None);
    assert_eq!(
        file_at(&w, head, "access/zendesk/nadia.yaml").unwrap(),
        format!("{zendesk_before}  - role: agent\n    justification: birthright (support)\n")
    );
    assert!(file_at(&w, head, "access/slack/nadia.yaml").is_some());
    assert!(file_at(&w, head, "access/billing-db/nadia.yaml").is_some());
    // The leaver: marked, every grant gone.
    for app in ["billing-db", "github", "slack"] {
        assert_eq!(file_at(&w, head, &format!("access/{app}/wei.yaml")), None);
    }
    let body = pr.body.clone().unwrap();
    insta::assert_snapshot!("people_sync_pr_body", body);
    for want in [
        "- `nina` (Nina Petrova, sales, Account Executive): gets `slack:member`, `salesforce:sales-user`",
        "- `nadia` (Nadia Haddad, support, Support Engineer): `engineering` → `support`; loses `github:member`; gets `zendesk:agent`",
        "other grants for `sana` (GitHub `sana-tw`) to review (delete any that the new role does not need): `billing-db:read-only`, `zendesk:light-agent`",
        "- `wei` (Wei Zhang, engineering, Data Engineer): marked `status: leaver`; every grant removed: `billing-db:read-only`, `github:member`, `slack:member`",
    ] {
        assert!(body.contains(want), "{want}\n{body}");
    }
    assert!(!body.contains("Not in the export"), "{body}");
    assert_eq!(
        check_at(&w, head, "2026-11-22").0,
        0,
        "the synced tree passes check"
    );
    let requested = w.gh.requested_teams(pr.number);
    for team in [
        "it",
        "sales-ops",
        "support-leads",
        "platform",
        "billing-eng",
    ] {
        assert!(requested.contains(&team.to_owned()), "{requested:?}");
    }

    // The same export again: the same pull request, updated.
    ok(run_at(
        &w,
        "2026-11-22",
        &[
            "people",
            "sync",
            "--from",
            file.to_str().unwrap(),
            "--open-pr",
        ],
    ));
    assert_eq!(pulls(&w).len(), 1);
}

#[test]
fn a_malformed_export_writes_nothing_and_names_each_line() {
    let w = World::new();
    let csv = export(
        &w,
        |mut row| {
            match row[0].as_str() {
                "nadia" => row[6] = "nobody".into(),
                "oscar" => row[9] = "2027-13-01".into(),
                "wei" => row[2] = "wei at tidewater".into(),
                _ => {}
            }
            Some(row)
        },
        &[NINA, &NINA.replace("Nina Petrova", "Nina Again")],
    );
    let line_of = |id: &str| {
        csv.lines()
            .position(|l| l.starts_with(&format!("\"{id}\",")) || l.starts_with(&format!("{id},")))
            .unwrap()
            + 1
    };
    let file = w.clone.path().join("hr-export.csv");
    std::fs::write(&file, &csv).unwrap();
    let people_before = std::fs::read(w.clone.path().join("policies/people.yaml")).unwrap();
    for open_pr in [false, true] {
        let mut args = vec!["people", "sync", "--from", file.to_str().unwrap()];
        if open_pr {
            args.push("--open-pr");
        }
        let out = run_at(&w, "2026-11-22", &args);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        let path = file.display().to_string();
        for (id, want) in [
            ("nadia", "unknown manager `nobody`"),
            (
                "oscar",
                "`end_date`: `2027-13-01` is not a day of the calendar",
            ),
            ("wei", "`email` `wei at tidewater` is not an email address"),
        ] {
            let expect = format!("{path}:{}: {want}", line_of(id));
            assert!(err.contains(&expect), "{expect}\n{err}");
        }
        let last = csv.lines().count();
        assert!(
            err.contains(&format!(
                "{path}:{last}: duplicate id `nina` (first on line {})",
                last - 1
            )),
            "{err}"
        );
        assert!(err.contains("nothing was written"), "{err}");
    }
    assert!(pulls(&w).is_empty(), "no pull request");
    assert!(w.gh.writes().is_empty(), "no write through the API");
    assert_eq!(
        std::fs::read(w.clone.path().join("policies/people.yaml")).unwrap(),
        people_before
    );
    git(w.clone.path(), &["diff", "--quiet"]);

    // A missing column is reported on the header line.
    let no_manager: String = csv
        .lines()
        .map(|l| {
            let mut fields: Vec<&str> = l.split(',').collect();
            fields.remove(6);
            fields.join(",") + "\n"
        })
        .collect();
    std::fs::write(&file, no_manager).unwrap();
    let out = run_at(
        &w,
        "2026-11-22",
        &["people", "sync", "--from", file.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "{}:1: the header has no column `manager`",
            file.display()
        )),
        "{}",
        text(&out)
    );
}

// -- review -----------------------------------------------------------------------------------

/// `check --format json` over the tree of `rev`: the (rule, app) of each finding.
fn findings_at(w: &World, rev: &str, as_of: &str) -> Vec<(String, String)> {
    git(w.clone.path(), &["fetch", "-q", "origin"]);
    git(w.clone.path(), &["checkout", "-q", rev]);
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["check", "--format", "json", "--as-of", as_of, "--root"])
        .arg(w.clone.path())
        .output()
        .unwrap();
    git(w.clone.path(), &["checkout", "-q", "main"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["rule"].as_str().unwrap().to_owned(),
                d["app"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_review_pr_lists_every_holder_certifies_on_merge_and_revokes_what_owners_delete() {
    let w = World::new();
    // omar's create-payment arrives through a merged request pull request.
    let omar = main_file(&w, "access/payments/omar.yaml");
    let requested = format!(
        "{omar}  - role: create-payment\n    justification: Covers the Friday carrier payment run while Clara is on leave\n    expires: 2027-01-10\n"
    );
    let head = w.gh.push_commit(
        "access/payments/omar/create-payment",
        &[("access/payments/omar.yaml", Some(&requested))],
        "omar@tidewater.example",
    );
    let request = w.gh.open_pull(
        "token-omar-tw",
        "access/payments/omar/create-payment",
        "main",
        "Access request",
        "",
    );
    client(&w).merge_pull(request, &head).unwrap();
    pull_main(&w);
    let overdue = |rev: &str| {
        findings_at(&w, rev, "2027-01-15")
            .into_iter()
            .filter(|(rule, app)| rule == "review-overdue" && app == "payments")
            .count()
    };
    assert!(
        overdue("main") > 0,
        "payments is due for review by 2027-01-15"
    );

    let out = ok(run_at(
        &w,
        "2026-11-22",
        &["review", "--app", "payments", "--open-pr"],
    ));
    let review: Vec<Pull> = pulls(&w)
        .into_iter()
        .filter(|p| p.number != request)
        .collect();
    assert_eq!(review.len(), 1, "{}", text(&out));
    let pr = &review[0];
    assert_eq!(pr.head.name, "portcullis/review/payments");
    let body = pr.body.clone().unwrap();
    insta::assert_snapshot!("review_pr_body", body);
    let paths: Vec<String> = std::fs::read_dir(w.clone.path().join("access/payments"))
        .unwrap()
        .map(|e| {
            format!(
                "access/payments/{}",
                e.unwrap().file_name().to_string_lossy()
            )
        })
        .collect();
    let mut grants = 0;
    for path in &paths {
        let before = main_file(&w, path);
        let after = file_at(&w, &pr.head.sha, path).unwrap();
        let roles = after.matches("- role: ").count();
        grants += roles;
        assert_eq!(
            after.matches("    reviewed: 2026-11-22\n").count(),
            roles,
            "{after}"
        );
        for comment in before.lines().filter(|l| l.trim_start().starts_with('#')) {
            assert!(after.contains(comment), "{path} lost `{comment}`");
        }
    }
    assert_eq!(
        body.lines().filter(|l| l.starts_with("| `")).count(),
        grants,
        "{body}"
    );
    assert!(
        body.contains("| `omar` (Omar Farouk, finance) | `create-payment` | 2026-11-20, #1 by `omar-tw`, commit `"),
        "{body}"
    );
    assert!(
        body.contains("| `omar` (Omar Farouk, finance) | `viewer` |"),
        "{body}"
    );
    assert!(
        body.contains("no pull request found"),
        "grants from the seed commit: {body}"
    );
    assert!(
        body.contains("**To revoke** a grant, delete it in this pull request"),
        "{body}"
    );
    assert_eq!(
        w.gh.requested_teams(pr.number),
        vec!["finance-systems".to_owned()]
    );
    assert_eq!(check_at(&w, &pr.head.sha, "2026-11-22").0, 0);

    // A second run leaves the open review alone.
    let again = ok(run_at(
        &w,
        "2026-11-22",
        &["review", "--app", "payments", "--open-pr"],
    ));
    assert!(text(&again).contains("already open"), "{}", text(&again));
    assert_eq!(
        w.gh.branch_sha("portcullis/review/payments").unwrap(),
        pr.head.sha
    );

    // An owner revokes omar's create-payment in the review, then it is merged.
    let certified = file_at(&w, &pr.head.sha, "access/payments/omar.yaml").unwrap();
    let start = certified.find("  - role: create-payment").unwrap();
    let revoked = certified[..start].to_owned();
    let head = w.gh.push_commit(
        "portcullis/review/payments",
        &[("access/payments/omar.yaml", Some(&revoked))],
        "kenji@tidewater.example",
    );
    let merge = client(&w).merge_pull(pr.number, &head).unwrap();
    let merged = file_at(&w, &merge, "access/payments/omar.yaml").unwrap();
    assert!(!merged.contains("create-payment"), "{merged}");
    assert!(merged.contains("reviewed: 2026-11-22"), "{merged}");
    assert_eq!(overdue(&merge), 0, "the merge certified the review");
}

#[test]
fn review_due_finds_the_apps_whose_review_has_passed() {
    let w = World::new();
    let out = ok(run_at(&w, "2027-01-15", &["review", "--due"]));
    let changed = Command::new("git")
        .args(["diff", "--name-only"])
        .current_dir(w.clone.path())
        .output()
        .unwrap();
    let changed = String::from_utf8_lossy(&changed.stdout);
    let apps: std::collections::BTreeSet<&str> = changed
        .lines()
        .map(|l| l.split('/').nth(1).unwrap())
        .collect();
    assert_eq!(
        apps.into_iter().collect::<Vec<_>>(),
        vec!["billing-db", "payments", "salesforce"],
        "{}",
        text(&out)
    );
}

// -- remind -----------------------------------------------------------------------------------

#[test]
fn reminders_are_posted_once_a_day_per_owner_group() {
    let w = World::new();
    // As of 2026-11-22: dmitri's aws-prod:admin (@tidewater/sre) and wei's
    // billing-db:read-only (@tidewater/billing-eng) expire within warn_days.
    let dry = ok(run_at(
        &w,
        "2026-11-22",
        &["remind", "--dry-run", "--format", "json"],
    ));
    let listed: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    let expiring = listed["expiring"].as_array().unwrap();
    let grants: Vec<(&str, &str, &str)> = expiring
        .iter()
        .map(|e| {
            (
                e["person"].as_str().unwrap(),
                e["role"].as_str().unwrap(),
                e["github"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        grants,
        vec![
            ("dmitri", "admin", "dmitri-tw"),
            ("wei", "read-only", "wei-tw")
        ]
    );
    assert_eq!(expiring[0]["owners"], serde_json::json!(["@tidewater/sre"]));
    assert!(w.gh.writes().is_empty(), "--dry-run posts nothing");

    for _ in 0..2 {
        let out = ok(run_at(&w, "2026-11-22", &["remind", "--format", "json"]));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["notifications"].as_array().unwrap().len(), 2, "{json}");
    }
    let c = client(&w);
    let issues = c.issues("open", &["access-expiring"]).unwrap();
    assert_eq!(issues.len(), 2, "one tracking issue per owner group");
    let sre = issues
        .iter()
        .find(|i| i.title.ends_with("@tidewater/sre"))
        .expect("the sre issue");
    let comments = c.comments(sre.number).unwrap();
    assert_eq!(comments.len(), 1, "the same day: no second comment");
    let body = &comments[0].body;
    insta::assert_snapshot!("remind_comment", body);
    assert!(
        body.starts_with("<!-- portcullis:remind owners=@tidewater/sre date=2026-11-22 -->"),
        "{body}"
    );
    assert!(
        body.contains("@tidewater/sre: 1 grant expires soon"),
        "{body}"
    );
    assert!(
        body.contains("- `aws-prod:admin` of `dmitri` (Dmitri Volkov) @dmitri-tw: expires `2026-11-22T20:00:00+00:00`"),
        "{body}"
    );

    // The next day is a new reminder, on the same issue.
    ok(run_at(&w, "2026-11-23", &["remind"]));
    assert_eq!(c.issues("open", &["access-expiring"]).unwrap().len(), 2);
    assert_eq!(
        c.comments(sre.number).unwrap().len(),
        1,
        "dmitri's admin has expired by then"
    );
    let billing = issues
        .iter()
        .find(|i| i.title.ends_with("@tidewater/billing-eng"))
        .unwrap();
    let comments = c.comments(billing.number).unwrap();
    assert_eq!(comments.len(), 2);
    assert!(
        comments[1].body.contains("date=2026-11-23"),
        "{}",
        comments[1].body
    );
}

// -- the core, without GitHub -----------------------------------------------------------------

/// A grant that outlives an end date still to come is a wrong expiry for `check` to report,
/// not access to revoke; once the date has passed, `expire` revokes it.
#[test]
fn an_end_date_still_to_come_revokes_nothing() {
    use portcullis_core::lifecycle::expire::{Reason, find};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut snapshot = portcullis_git::worktree::read(root).unwrap();
    let people = snapshot
        .text("policies/people.yaml")
        .unwrap()
        .replace("    end_date: 2027-01-31\n", "    end_date: 2026-12-31\n");
    snapshot.insert_bytes("policies/people.yaml", people.as_bytes());
    let ines = |as_of: &str| {
        let as_of = crate::support::as_of(as_of);
        let loaded = portcullis_core::check::load(&snapshot);
        let (catalog, report) =
            portcullis_core::check::finish(loaded, &snapshot, as_of, &Default::default());
        assert!(
            report
                .diagnostics
                .iter()
                .any(|d| d.rule.id() == "beyond-end-date"),
            "check reports the long expiries"
        );
        find(&catalog, &report, as_of)
            .into_iter()
            .filter(|r| r.person == "ines")
            .map(|r| r.reasons)
            .collect::<Vec<_>>()
    };
    assert!(ines("2026-12-31").is_empty());
    let end = chrono::NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
    assert_eq!(ines("2027-01-01"), vec![vec![Reason::PastEndDate(end)]; 5]);
}

// -- failures half way ------------------------------------------------------------------------

/// What the lifecycle commands leave on GitHub: every pull request (branch, title, state,
/// body, the tree at its head, the reviewers asked, its comments) and every issue (title,
/// state, labels, body, comments). A duplicate or a lost piece shows as a difference.
fn made(w: &World) -> serde_json::Value {
    use serde_json::json;
    let c = client(w);
    let repo = git2::Repository::open_bare(w.gh.git_dir(REPO)).unwrap();
    let comments =
        |n: u64| -> Vec<String> { c.comments(n).unwrap().into_iter().map(|c| c.body).collect() };
    let mut pulls: Vec<serde_json::Value> = c
        .pulls("all", None)
        .unwrap()
        .into_iter()
        .map(|p| {
            let head = git2::Oid::from_str(&p.head.sha).unwrap();
            json!({
                "branch": p.head.name, "title": p.title, "state": p.state, "body": p.body,
                "tree": repo.find_commit(head).unwrap().tree_id().to_string(),
                "reviewers": w.gh.requested_reviewers(p.number),
                "comments": comments(p.number),
            })
        })
        .collect();
    let mut issues: Vec<serde_json::Value> = c
        .issues("all", &[])
        .unwrap()
        .into_iter()
        .map(|i| {
            let labels: Vec<String> = i.labels.iter().map(|l| l.name.clone()).collect();
            json!({
                "title": i.title, "state": i.state, "labels": labels, "body": i.body,
                "comments": comments(i.number),
            })
        })
        .collect();
    pulls.sort_by_key(|v| v.to_string());
    issues.sort_by_key(|v| v.to_string());
    json!({"pulls": pulls, "issues": issues})
}

/// `args` as of `as_of` on worlds from `setup`, failed or killed at each of its GitHub calls
/// in turn: the next run leaves on GitHub exactly what one clean run leaves.
fn completes_after_any_failure(setup: &dyn Fn() -> World, as_of: &str, args: &[&str]) {
    let expected = std::cell::OnceCell::new();
    let settled = |w: &World, case: &str| {
        let got = made(w);
        let want = expected.get_or_init(|| got.clone());
        assert_eq!(&got, want, "{case}");
    };
    let tried = crate::resume::at_every_call(&crate::resume::Subject {
        setup,
        gh: &|w: &World| &w.gh,
        command: &|w: &World| {
            // From inside the repository, as an operator runs it: paths on the command line
            // are the current directory's.
            let mut c = command_at(w, as_of, args);
            c.current_dir(w.clone.path());
            c
        },
        done: &[0],
        settled: &settled,
    });
    assert!(tried > 2, "{tried}");
}

fn leaver_world() -> World {
    let w = World::new();
    owner_teams(&w);
    let people = with_people(&w, |p| {
        p.replace(WEI, &WEI.replace("status: active", "status: leaver"))
    });
    commit_on_main(&w, &[("policies/people.yaml", Some(&people))]);
    w
}

#[test]
fn expire_failed_at_any_call_completes_on_the_next_run() {
    completes_after_any_failure(&leaver_world, "2026-11-23", &["expire", "--open-pr"]);
}

#[test]
fn closing_stale_requests_failed_at_any_call_completes_on_the_next_run() {
    let setup = || {
        let w = World::new();
        idle_request(&w);
        w
    };
    completes_after_any_failure(&setup, "2026-11-22", &["expire", "--close-stale"]);
}

#[test]
fn people_sync_failed_at_any_call_completes_on_the_next_run() {
    let setup = || {
        let w = World::new();
        owner_teams(&w);
        let csv = export(
            &w,
            |mut row| {
                if row[0] == "wei" {
                    row[8] = "leaver".into();
                }
                Some(row)
            },
            &[NINA],
        );
        std::fs::write(w.clone.path().join("hr-export.csv"), csv).unwrap();
        w
    };
    completes_after_any_failure(
        &setup,
        "2026-11-22",
        &["people", "sync", "--from", "hr-export.csv", "--open-pr"],
    );
}

#[test]
fn review_failed_at_any_call_completes_on_the_next_run() {
    completes_after_any_failure(
        &World::new,
        "2026-11-22",
        &["review", "--app", "payments", "--open-pr"],
    );
}

#[test]
fn remind_failed_at_any_call_completes_on_the_next_run() {
    completes_after_any_failure(&World::new, "2026-11-22", &["remind"]);
}
