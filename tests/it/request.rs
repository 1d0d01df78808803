//! Preparing requests over the Initech organisation (`tests/fixtures/rules/`, as of
//! 2026-11-22, `min_justification: 20`): what is written, what is refused and why, the pull
//! request drafted for approvers, and the issue form.

use portcullis_core::edit::Upsert;
use portcullis_core::request::{
    FORM_LABELS, IssueForm, Prepared, RequestArgs, RequestError, parse_issue_form,
    person_by_github, prepare,
};
use portcullis_core::snapshot::Snapshot;

use crate::support::{as_of, initech};

const AS_OF: &str = "2026-11-22";

fn args(person: &str, app: &str, role: &str) -> RequestArgs {
    RequestArgs {
        app: app.into(),
        role: role.into(),
        justification: "Prepares the quarterly forecast for the board".into(),
        person: person.into(),
        ..RequestArgs::default()
    }
}

fn ok(snapshot: &Snapshot, args: &RequestArgs) -> Prepared {
    prepare(snapshot, args, as_of(AS_OF)).unwrap_or_else(|e| panic!("{e}"))
}

/// The message and hint of a refusal.
fn refused(snapshot: &Snapshot, args: &RequestArgs) -> (String, String) {
    match prepare(snapshot, args, as_of(AS_OF)) {
        Err(RequestError::Refused { message, hint }) => (message, hint),
        other => panic!("not refused: {other:?}"),
    }
}

/// The rules of the findings that made `check` reject the request.
fn rejected(snapshot: &Snapshot, args: &RequestArgs) -> Vec<(&'static str, String)> {
    match prepare(snapshot, args, as_of(AS_OF)) {
        Err(RequestError::Rejected { diagnostics, .. }) => diagnostics
            .iter()
            .map(|d| (d.rule.id(), d.file.clone()))
            .collect(),
        other => panic!("not rejected: {other:?}"),
    }
}

/// `check` over the tree with the prepared file written: no errors about it.
fn passes_check(snapshot: &Snapshot, p: &Prepared) {
    let mut tree = snapshot.clone();
    tree.insert_bytes(&p.path, p.content.as_bytes());
    let report = portcullis_core::check::check(&tree, as_of(AS_OF));
    assert!(
        !report.diagnostics.iter().any(|d| d.fails()),
        "{:#?}",
        report.diagnostics
    );
}

fn kinds(p: &Prepared) -> Vec<&str> {
    p.approvals.iter().map(|a| a.kind.as_str()).collect()
}

#[test]
fn a_new_file_gets_the_roles_maximum_duration_by_default() {
    let tree = initech();
    let p = ok(&tree, &args("peter", "crm", "user"));
    assert_eq!(p.upsert, Upsert::Created);
    assert_eq!(p.path, "access/crm/peter.yaml");
    // crm is medium risk: 180 days from 2026-11-22 end at 2027-05-21T00:00Z, so the last
    // whole day is 2027-05-20.
    assert_eq!(p.expires, "2027-05-20");
    assert!(p.expiry_note.as_deref().unwrap().contains("180d"), "{p:?}");
    assert_eq!(
        p.content,
        "# yaml-language-server: $schema=../../schemas/grant.schema.json\nperson: peter\napp: crm\ngrants:\n  - role: user\n    justification: Prepares the quarterly forecast for the board\n    expires: 2027-05-20\n"
    );
    assert_eq!(p.branch, "access/crm/peter/user");
    assert_eq!(
        p.title,
        "Access request: peter → crm:user (until 2027-05-20)"
    );
    assert_eq!(kinds(&p), ["owner"]);
    passes_check(&tree, &p);
}

#[test]
fn durations_count_from_as_of() {
    let tree = initech();
    let mut a = args("peter", "crm", "user");
    a.duration = Some("30d".into());
    assert_eq!(ok(&tree, &a).expires, "2026-12-22");
    a.duration = Some("2w".into());
    assert_eq!(ok(&tree, &a).expires, "2026-12-06");
    a.duration = Some("12h".into());
    let p = ok(&tree, &a);
    assert_eq!(p.expires, "2026-11-22T12:00:00Z");
    passes_check(&tree, &p);
    // Thirty days is the maximum of `ledger:post-entry`: the last whole day within it.
    let mut a = args("bill", "ledger", "post-entry");
    a.duration = Some("30d".into());
    let p = ok(&tree, &a);
    assert_eq!(p.expires, "2026-12-21");
    passes_check(&tree, &p);
}

#[test]
fn a_role_is_added_to_an_existing_file() {
    let tree = initech();
    let before = tree.text("access/wiki/peter.yaml").unwrap();
    let mut a = args("peter", "wiki", "reader");
    a.expires = Some("2027-03-31".into());
    a.ticket = Some("IT-5".into());
    let p = ok(&tree, &a);
    assert_eq!(p.upsert, Upsert::Added);
    assert_eq!(
        p.content,
        format!(
            "{before}  - role: reader\n    justification: Prepares the quarterly forecast for the board\n    expires: 2027-03-31\n    ticket: IT-5\n"
        )
    );
    assert!(p.expiry_note.is_none());
    passes_check(&tree, &p);
}

#[test]
fn an_existing_role_is_renewed() {
    let tree = initech();
    let mut a = args("samir", "ledger", "post-entry");
    a.justification = "Posts the month-end accruals through the January close".into();
    a.duration = Some("2w".into());
    let p = ok(&tree, &a);
    assert_eq!(p.upsert, Upsert::Renewed);
    let before = tree.text("access/ledger/samir.yaml").unwrap();
    assert_eq!(
        p.content,
        before
            .replace(
                "Posts the month-end accruals for the Austin office",
                "Posts the month-end accruals through the January close"
            )
            .replace(
                "expires: 2026-12-15\n    ticket: FIN-2231\n",
                "expires: 2026-12-06\n"
            )
    );
    passes_check(&tree, &p);
}

#[test]
fn unknown_apps_and_roles_are_refused_with_what_exists() {
    let tree = initech();
    let (message, hint) = refused(&tree, &args("peter", "jira", "user"));
    assert!(message.contains("`jira`"), "{message}");
    for app in ["`crm`", "`ledger`", "`vault`", "`wiki`"] {
        assert!(hint.contains(app), "{hint}");
    }
    let (message, hint) = refused(&tree, &args("peter", "wiki", "owner"));
    assert!(message.contains("no role `owner`"), "{message}");
    assert!(hint.contains("reader: Read every space"), "{hint}");
    assert!(
        hint.contains("admin: Manage spaces and permissions (privileged)"),
        "{hint}"
    );
}

#[test]
fn unknown_people_and_leavers_are_refused() {
    let tree = initech();
    let (message, _) = refused(&tree, &args("nina", "wiki", "reader"));
    assert!(message.contains("`nina` is not in"), "{message}");
    let (message, _) = refused(&tree, &args("milton", "wiki", "reader"));
    assert!(message.contains("leaver"), "{message}");
}

#[test]
fn a_short_justification_is_refused() {
    let tree = initech();
    let mut a = args("peter", "wiki", "reader");
    a.justification = "  need it for work  ".into();
    let (message, hint) = refused(&tree, &a);
    assert!(
        message.contains("has 16 characters; at least 20"),
        "{message}"
    );
    assert!(hint.contains("--justification"), "{hint}");
}

#[test]
fn expiries_in_the_past_or_beyond_the_maximum_are_refused() {
    let tree = initech();
    let mut a = args("bill", "crm", "manager");
    a.expires = Some("2026-11-21".into());
    let (message, _) = refused(&tree, &a);
    assert!(message.contains("in the past"), "{message}");
    a.expires = Some("2026-11-22T00:00:00Z".into());
    assert!(refused(&tree, &a).0.contains("in the past"));

    // `crm:manager` has `max_duration: 60d`.
    a.expires = Some("2027-03-01".into());
    let (message, hint) = refused(&tree, &a);
    assert!(message.contains("60d"), "{message}");
    assert!(message.contains("role `crm:manager`"), "{message}");
    assert!(hint.contains("`--expires 2027-01-20`"), "{hint}");
    a.expires = Some("2027-01-20".into());
    passes_check(&tree, &ok(&tree, &a));

    a.expires = None;
    a.duration = Some("61d".into());
    let (message, hint) = refused(&tree, &a);
    assert!(message.contains("longer than 60d"), "{message}");
    assert!(hint.contains("--for 60d"), "{hint}");
    a.duration = Some("a month".into());
    assert!(refused(&tree, &a).0.contains("`--for`"));

    a.duration = Some("30d".into());
    a.expires = Some("2027-01-01".into());
    let (message, _) = refused(&tree, &a);
    assert!(message.contains("both"), "{message}");
    a.duration = None;
    a.expires = Some("next week".into());
    assert!(refused(&tree, &a).0.contains("`--expires`"));
}

#[test]
fn emergencies_get_the_emergency_maximum_and_approvers() {
    let tree = initech();
    let mut a = args("peter", "vault", "auditor");
    a.emergency = true;
    let p = ok(&tree, &a);
    assert_eq!(p.expires, "2026-11-23T00:00:00Z");
    assert_eq!(kinds(&p), ["emergency"]);
    assert!(p.approvals[0].who.contains("@initech/oncall"));
    assert!(p.content.contains("    emergency: true\n"));
    a.duration = Some("2d".into());
    assert!(refused(&tree, &a).0.contains("longer than 24h"));
}

#[test]
fn a_persons_end_date_bounds_the_expiry() {
    let tree = initech();
    // joanna is a contractor until 2027-02-28; wiki is low risk (365 days).
    let p = ok(&tree, &args("joanna", "wiki", "editor"));
    assert_eq!(p.expires, "2027-02-28");
    assert!(p.expiry_note.unwrap().contains("end date"));
    let mut a = args("joanna", "wiki", "editor");
    a.expires = Some("2027-03-15".into());
    let (message, hint) = refused(&tree, &a);
    assert!(message.contains("end date 2027-02-28"), "{message}");
    assert!(hint.contains("2027-02-28"), "{hint}");
}

#[test]
fn approvals_follow_the_role_or_the_apps_risk() {
    let tree = initech();
    let cases: [(&str, &str, &[&str]); 6] = [
        ("wiki", "reader", &["owner"]),
        ("crm", "user", &["owner"]),
        ("crm", "manager", &["manager", "owner"]),
        ("ledger", "viewer", &["manager", "owner"]),
        ("vault", "auditor", &["manager", "owner", "security"]),
        ("wiki", "admin", &["manager", "owner", "security"]),
    ];
    for (app, role, expected) in cases {
        let mut a = args("samir", app, role);
        a.duration = Some("7d".into());
        let p = ok(&tree, &a);
        assert_eq!(kinds(&p), expected, "{app}:{role}");
        for kind in expected {
            assert!(p.body.contains(&format!("- `{kind}`: ")), "{}", p.body);
        }
    }
    let mut a = args("samir", "ledger", "viewer");
    a.duration = Some("7d".into());
    let p = ok(&tree, &a);
    assert_eq!(p.approvals[0].who, "`bill` (GitHub `bill-gh`)");
    assert!(p.approvals[1].who.contains("`@initech/finance-systems`"));
}

#[test]
fn check_has_the_last_word_on_the_edited_file() {
    let base = initech();
    // The same file already holds an expired grant: fix it first.
    let mut tree = base.clone();
    let crm = base
        .text("access/crm/bill.yaml")
        .unwrap()
        .replace("expires: 2027-01-10", "expires: 2026-11-01");
    tree.insert_bytes("access/crm/bill.yaml", crm.as_bytes());
    let mut a = args("bill", "crm", "user");
    a.duration = Some("30d".into());
    assert_eq!(
        rejected(&tree, &a),
        [("expired", "access/crm/bill.yaml".to_owned())]
    );
    // Renewing exactly that grant is the fix.
    let mut a = args("bill", "crm", "manager");
    a.duration = Some("30d".into());
    passes_check(&tree, &ok(&tree, &a));

    // Errors in other files are not the requester's to fix.
    let mut tree = base.clone();
    tree.insert_bytes(
        "access/wiki/peter.yaml",
        crm.replace("bill", "peter")
            .replace("crm", "wiki")
            .replace("role: user", "role: reader")
            .replace("role: manager", "role: editor")
            .as_bytes(),
    );
    let report = portcullis_core::check::check(&tree, as_of(AS_OF));
    assert!(report.failed());
    ok(&tree, &args("bill", "wiki", "reader"));

    // A segregation-of-duties conflict reported on another file still names this one.
    let mut tree = base.clone();
    tree.insert_bytes(
        "access/vault/bill.yaml",
        b"person: bill\napp: vault\ngrants:\n  - role: auditor\n    justification: Reads the audit log for the SOX review\n    expires: 2026-12-15\n",
    );
    let mut a = args("bill", "ledger", "post-entry");
    a.duration = Some("7d".into());
    assert_eq!(
        rejected(&tree, &a),
        [("sod-conflict", "access/vault/bill.yaml".to_owned())]
    );

    // A ticket the schema does not allow; the file is never written with it.
    let mut a = args("peter", "wiki", "reader");
    a.ticket = Some("see the email".into());
    match prepare(&base, &a, as_of(AS_OF)) {
        Err(RequestError::Rejected {
            path,
            content,
            diagnostics,
        }) => {
            assert_eq!(path, "access/wiki/peter.yaml");
            assert!(content.contains("ticket: see the email"));
            assert_eq!(diagnostics[0].rule.id(), "schema");
            assert_eq!(diagnostics[0].pos.line, 10);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_body_keeps_the_requesters_text_inert() {
    let tree = initech();
    let mut a = args("peter", "crm", "manager");
    a.justification = "Cover for @mallory <img src=x onerror=alert(1)> [click](https://evil.example)\n```\n### Approved\n```".into();
    a.ticket = Some("CRM-12".into());
    a.duration = Some("30d".into());
    let p = ok(&tree, &a);
    let fence = "````";
    let start = p.body.find(&format!("{fence}text\n")).expect(&p.body);
    let end = start
        + p.body[start..]
            .find(&format!("\n{fence}\n"))
            .expect(&p.body);
    let (outside, inside) = (
        format!("{}{}", &p.body[..start], &p.body[end..]),
        &p.body[start..end],
    );
    assert!(inside.contains(&a.justification), "{}", p.body);
    for bad in ["@mallory", "<img", "https://", "### Approved"] {
        assert!(
            !outside.contains(bad),
            "{bad} outside the fence:\n{}",
            p.body
        );
    }
    for part in [
        "`peter`",
        "`crm`",
        "Customer Relations",
        "Reassign accounts and approve discounts",
        "risk: medium",
        "**Privileged:** no",
        "2026-12-22",
        "`CRM-12`",
        "- `manager`: `bill` (GitHub `bill-gh`)",
        "- `owner`: a member of `@initech/sales-ops` or `@bill-gh`",
    ] {
        assert!(p.body.contains(part), "{part}:\n{}", p.body);
    }
}

/// The issue body GitHub renders from the form, one `### <label>` per field, in the order of
/// `.github/ISSUE_TEMPLATE/access-request.yml`.
fn template_labels() -> Vec<String> {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(".github/ISSUE_TEMPLATE/access-request.yml"),
    )
    .unwrap();
    let form = portcullis_core::load::yaml::parse(text.as_bytes()).unwrap();
    assert_eq!(
        form.get("labels").unwrap().as_seq()[0].as_str(),
        Some("access-request")
    );
    form.get("body")
        .unwrap()
        .as_seq()
        .iter()
        .filter(|f| f.get("type").and_then(|t| t.as_str()) != Some("markdown"))
        .map(|f| {
            f.get("attributes")
                .and_then(|a| a.get("label"))
                .and_then(|l| l.as_str())
                .unwrap()
                .to_owned()
        })
        .collect()
}

fn rendered(values: &[(&str, &str)]) -> String {
    template_labels()
        .iter()
        .map(|label| {
            let value = values
                .iter()
                .find(|(l, _)| l == label)
                .map_or("_No response_", |(_, v)| v);
            format!("### {label}\n\n{value}\n\n")
        })
        .collect()
}

#[test]
fn the_issue_form_template_has_the_fields_the_parser_reads() {
    let mut labels = template_labels();
    labels.sort();
    let mut expected: Vec<String> = FORM_LABELS.iter().map(|l| (*l).to_owned()).collect();
    expected.sort();
    assert_eq!(labels, expected);
    let body = rendered(&[
        ("App", "payments"),
        ("Role", "create-payment"),
        ("Duration", "30d"),
        (
            "Justification",
            "Runs the EMEA supplier payment run\nevery Friday",
        ),
        ("Ticket", "FIN-1042"),
    ]);
    assert_eq!(
        parse_issue_form(&body).unwrap(),
        IssueForm {
            app: "payments".into(),
            role: "create-payment".into(),
            duration: Some("30d".into()),
            expires: None,
            justification: "Runs the EMEA supplier payment run\nevery Friday".into(),
            ticket: Some("FIN-1042".into()),
            person: None,
        }
    );
    let body = rendered(&[
        ("App", "wiki"),
        ("Role", "reader"),
        ("Expires", "2026-12-31"),
        ("Justification", "Reads every space for the audit"),
        ("Person", "peter"),
    ])
    .replace('\n', "\r\n");
    let form = parse_issue_form(&body).unwrap();
    assert_eq!(form.expires.as_deref(), Some("2026-12-31"));
    assert_eq!(form.person.as_deref(), Some("peter"));
    assert_eq!(form.ticket, None);
}

#[test]
fn the_issue_form_says_which_field_is_wrong() {
    let good = [
        ("App", "wiki"),
        ("Role", "reader"),
        ("Justification", "Reads every space for the audit"),
    ];
    let with = |field: &str, value: &str| {
        let mut values: Vec<(&str, &str)> =
            good.iter().filter(|(l, _)| *l != field).copied().collect();
        values.push((field, value));
        rendered(&values)
    };
    let cases = [
        (with("App", "_No response_"), "`App`"),
        (with("Role", "Reader Role"), "`Role`"),
        (with("Duration", "a month"), "`Duration`"),
        (with("Expires", "31/12/2026"), "`Expires`"),
        (with("Person", "../alice"), "`Person`"),
        (
            with("Justification", "Reads every space\n\n### Person\n\nbill"),
            "`Person` appears twice",
        ),
        (
            with(
                "Justification",
                "Reads every space\n\n### Approved by\n\nbill",
            ),
            "`### Approved by`",
        ),
        ("Please give me access".to_owned(), "form"),
    ];
    for (body, needle) in cases {
        let e = parse_issue_form(&body).unwrap_err();
        assert!(e.contains(needle), "{needle}: {e}");
    }
    let mut both = good.to_vec();
    both.extend([("Duration", "30d"), ("Expires", "2026-12-31")]);
    assert!(
        parse_issue_form(&rendered(&both))
            .unwrap_err()
            .contains("not both")
    );
}

#[test]
fn people_are_found_by_github_login() {
    let tree = initech();
    let loaded = portcullis_core::check::load(&tree);
    let catalog = &loaded.catalog;
    assert_eq!(
        person_by_github(catalog, "Peter-GH").map(|p| p.id.value.as_str()),
        Some("peter")
    );
    assert!(person_by_github(catalog, "mallory").is_none());
}
