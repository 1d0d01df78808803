//! Every renderer over the same report, snapshot-tested; the public shapes checked against
//! their contracts (SPEC section 5 JSON, SARIF 2.1.0 schema, workflow-command escaping).

use portcullis_core::diag::render::{self, text::Style};
use portcullis_core::snapshot::Snapshot;

use crate::support::as_of;

const PEOPLE: &str = "people:
  - id: dana
    name: Dana Chief
    email: dana@example.com
    github: dana-gh
    department: exec
    type: employee
    status: active
  - id: carol
    name: Carol Finance
    email: carol@example.com
    github: carol-gh
    department: finance
    manager: dana
    type: employee
    status: active
";

const PAYMENTS: &str = "id: payments
name: Payments Console
owners: [\"@acme/payments-owners\"]
risk: high
provisioner: {type: postgres, dsn_env: PAYMENTS_DSN, login: \"{id}\"}
roles:
  create-payment:
    description: Create outgoing payments
  approve-payment:
    description: Approve outgoing payments
";

/// A report with an error, a warning, a related location, a pre-existing finding and
/// hostile text (workflow command, mention, HTML, pipe, newline) in an SoD rule description,
/// the free text that reaches messages.
fn sample() -> (Snapshot, portcullis_core::diag::Report) {
    let snap = Snapshot::from_files([
        (
            "policies/settings.yaml",
            "org: acme\nsecurity_team: \"@acme/security\"\n",
        ),
        ("policies/people.yaml", PEOPLE),
        ("policies/apps/payments.yaml", PAYMENTS),
        (
            "policies/sod.yaml",
            "rules:\n  - id: maker-checker\n    description: \"Nobody both creates %0A::warning::x @dana-gh <b>x</b> | y\\nand approves\"\n    severity: error\n    conflicts:\n      - [payments:create-payment]\n      - [payments:approve-payment]\n",
        ),
        (
            "access/payments/carol.yaml",
            "person: carol\napp: payments\ngrants:\n  - role: create-payment\n    justification: Runs the weekly supplier payments\n    expires: 2026-11-25\n  - role: approve-payment\n    justification: Second approver for the weekly run\n    expires: 2026-11-21\n",
        ),
    ]);
    let mut report = portcullis_core::check::check(&snap, as_of("2026-11-22"));
    // The codeowners finding stands in for an older problem outside the change.
    for d in &mut report.diagnostics {
        if d.rule.id() == "codeowners-drift" {
            d.pre_existing = true;
        }
    }
    (snap, report)
}

#[test]
fn text() {
    let (snap, report) = sample();
    insta::assert_snapshot!(render::text::render(&report, &snap, Style { color: false }));
}

#[test]
fn text_colour_is_never_the_only_signal() {
    let (snap, report) = sample();
    let coloured = render::text::render(&report, &snap, Style { color: true });
    assert!(coloured.contains("\x1b["));
    let plain: String = strip_ansi(&coloured);
    assert_eq!(
        plain,
        render::text::render(&report, &snap, Style { color: false })
    );
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn json() {
    let (_, report) = sample();
    let out = render::json::render(&report);
    insta::assert_snapshot!(out);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let keys: Vec<&str> = v["diagnostics"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut want = vec![
        "rule",
        "severity",
        "file",
        "line",
        "column",
        "message",
        "person",
        "app",
        "role",
        "pre_existing",
        "related",
    ];
    let mut got = keys.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    let summary: Vec<&str> = v["summary"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(summary.len(), 4);
    for k in ["files", "grants", "errors", "warnings"] {
        assert!(summary.contains(&k));
    }
}

#[test]
fn github() {
    let (_, report) = sample();
    let out = render::github::render(&report);
    insta::assert_snapshot!(out);
    // A newline in user text would start a new workflow command; it must stay escaped.
    for line in out.lines() {
        assert!(
            line.starts_with("::") || line.starts_with("portcullis check:"),
            "{line}"
        );
    }
    assert!(out.contains("creates %250A::warning::x"), "{out}");
    assert!(out.contains("y%0Aand approves"), "{out}");
    assert!(
        out.contains("::notice file=policies/settings.yaml"),
        "{out}"
    );
}

#[test]
fn markdown() {
    let (_, report) = sample();
    let out = render::markdown::render(&report);
    insta::assert_snapshot!(out);
    assert!(!out.contains("<b>"));
    assert!(!out.contains("@dana-gh"), "mentions must not ping anyone");
}

#[test]
fn sarif() {
    let (_, report) = sample();
    let out = render::sarif::render(&report);
    insta::assert_snapshot!(out);
}

#[test]
fn sarif_is_valid_against_the_2_1_0_schema() {
    let (_, report) = sample();
    let log: serde_json::Value = serde_json::from_str(&render::sarif::render(&report)).unwrap();
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../data/sarif-2.1.0-rtm.5.json")).unwrap();
    let validator = jsonschema::draft4::new(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(
        log["runs"][0]["results"].as_array().unwrap().len(),
        report.diagnostics.len()
    );
}

/// GitHub code scanning: every rule carries its help (GitHub requires it and shows nothing
/// without), a page that exists, and every result a fingerprint that survives the finding
/// moving to another line (an upload through the API would otherwise open a duplicate alert).
#[test]
fn sarif_results_carry_fingerprints_and_rules_their_help() {
    let (_, report) = sample();
    let log: serde_json::Value = serde_json::from_str(&render::sarif::render(&report)).unwrap();
    for rule in log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
    {
        let id = rule["id"].as_str().unwrap();
        let markdown = rule["help"]["markdown"].as_str().unwrap();
        assert!(markdown.starts_with(&format!("# {id}")), "{id}");
        assert!(!rule["help"]["text"].as_str().unwrap().is_empty());
        let uri = rule["helpUri"].as_str().unwrap();
        let page = uri.rsplit_once("/blob/main/").unwrap().1;
        assert!(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(page)
                .is_file(),
            "{uri}"
        );
    }
    let prints = |log: &serde_json::Value| -> Vec<String> {
        log["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["partialFingerprints"]["portcullisFinding/v1"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let before = prints(&log);
    let unique: std::collections::BTreeSet<&String> = before.iter().collect();
    assert_eq!(unique.len(), before.len(), "one alert per finding");
    let mut moved = report.clone();
    for d in &mut moved.diagnostics {
        d.pos.line += 3;
    }
    let after: serde_json::Value = serde_json::from_str(&render::sarif::render(&moved)).unwrap();
    assert_eq!(
        prints(&after),
        before,
        "a finding three lines lower is the same alert"
    );
}

/// Code scanning shows a finding in the file it names: every location of every result names
/// a file of the repository, even when the finding is that a file is missing.
#[test]
fn sarif_locations_name_files_that_exist() {
    let repo = crate::support::example_repo();
    std::fs::remove_file(repo.path().join(".github/CODEOWNERS")).unwrap();
    std::fs::write(
        repo.path().join("access/payments/omar.yaml"),
        "person: omar\napp: payments\ngrants:\n  - role: nope\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["check", "--root"])
        .arg(repo.path())
        .args(["--as-of", "2026-11-22", "--format", "sarif"])
        .output()
        .unwrap();
    let log: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let results = log["runs"][0]["results"].as_array().unwrap();
    let rules: Vec<&str> = results
        .iter()
        .filter_map(|r| r["ruleId"].as_str())
        .collect();
    assert!(rules.contains(&"codeowners-drift"), "{rules:?}");
    for r in results {
        for l in r["locations"]
            .as_array()
            .into_iter()
            .chain(r["relatedLocations"].as_array())
            .flatten()
        {
            let uri = l["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap();
            assert!(
                repo.path().join(uri).is_file(),
                "{} points at `{uri}`, which does not exist",
                r["ruleId"]
            );
        }
    }
}
