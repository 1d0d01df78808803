//! `plan` and the approval verdict on in-memory trees: what each change needs, and every
//! approval bypass the threat model lists, each refused with its reason.

use std::collections::{BTreeMap, BTreeSet};

use portcullis_core::approval::{
    self, Directory, How, OverrideComment, PullFacts, Review, ReviewState, Verdict,
};
use portcullis_core::model::{Catalog, Login};
use portcullis_core::plan::{self, Op, Plan, requirement_label};
use portcullis_core::snapshot::Snapshot;

use crate::support::as_of;

const SETTINGS: &str =
    "org: acme\nsecurity_team: \"@acme/security\"\nemergency_approvers: \"@acme/oncall\"\n";

fn person(id: &str, dept: &str, manager: Option<&str>) -> String {
    let mut s = format!(
        "  - id: {id}\n    name: {id} Example\n    email: {id}@example.com\n    github: {id}-gh\n    department: {dept}\n    type: employee\n    status: active\n"
    );
    if let Some(m) = manager {
        s.push_str(&format!("    manager: {m}\n"));
    }
    s
}

fn people() -> String {
    let mut s = String::from("people:\n");
    s += &person("carol", "exec", None);
    s += &person("bob", "sales", Some("carol"));
    s += &person("alice", "sales", Some("bob"));
    for p in ["dave", "erin", "frank", "gina"] {
        s += &person(p, "sales", Some("bob"));
    }
    s += &person("hank", "eng", Some("carol"));
    s += &person("sam", "security", Some("carol"));
    s
}

const PAYMENTS: &str = r#"id: payments
name: Payments
owners: ["@acme/payments-owners"]
risk: high
provisioner: {type: manual}
roles:
  viewer:
    description: Read-only
    auto_approve: {peer_adoption: 0.75, min_peers: 3}
  create-payment:
    description: Create payments
  admin:
    description: Everything
    privileged: true
"#;

const SLACK: &str = r#"id: slack
name: Slack
owners: ["@acme/it", "@hank-gh"]
risk: low
provisioner: {type: manual}
roles:
  member:
    description: Member
"#;

fn grant(person: &str, app: &str, role: &str, expires: &str, extra: &str) -> String {
    format!(
        "person: {person}\napp: {app}\ngrants:\n  - role: {role}\n    justification: Needed for the weekly supplier run\n    expires: {expires}\n{extra}"
    )
}

fn base_files() -> Vec<(String, String)> {
    vec![
        ("policies/settings.yaml".into(), SETTINGS.into()),
        ("policies/people.yaml".into(), people()),
        ("policies/apps/payments.yaml".into(), PAYMENTS.into()),
        ("policies/apps/slack.yaml".into(), SLACK.into()),
    ]
}

fn snapshot(files: &[(String, String)]) -> Snapshot {
    Snapshot::from_files(files.iter().map(|(p, t)| (p.as_str(), t.as_str())))
}

/// The plan from `base` to `base` with `edits` applied (`None` deletes).
fn plan_with(base: &[(String, String)], edits: &[(&str, Option<String>)]) -> (Catalog, Plan) {
    let mut head: BTreeMap<String, String> = base.iter().cloned().collect();
    for (path, text) in edits {
        match text {
            Some(t) => head.insert(path.to_string(), t.clone()),
            None => head.remove(*path),
        };
    }
    let head: Vec<(String, String)> = head.into_iter().collect();
    plan::between(&snapshot(base), &snapshot(&head), as_of("2026-11-22"))
}

fn with_grants(grants: &[(&str, &str, &str)]) -> Vec<(String, String)> {
    let mut files = base_files();
    for (person, app, role) in grants {
        files.push((
            format!("access/{app}/{person}.yaml"),
            grant(person, app, role, "2027-01-31", ""),
        ));
    }
    files
}

fn needs(plan: &Plan) -> Vec<(Op, String, Vec<String>)> {
    plan.changes
        .iter()
        .map(|c| {
            (
                c.op,
                format!("{}:{}:{}", c.app, c.role, c.person),
                c.approvals.iter().map(requirement_label).collect(),
            )
        })
        .collect()
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn an_added_grant_on_a_high_risk_app_needs_manager_and_owner() {
    let (_, plan) = plan_with(
        &base_files(),
        &[(
            "access/payments/alice.yaml",
            Some(grant(
                "alice",
                "payments",
                "create-payment",
                "2027-01-31",
                "",
            )),
        )],
    );
    assert_eq!(
        needs(&plan),
        [(
            Op::Add,
            "payments:create-payment:alice".into(),
            s(&["manager", "owner"])
        )]
    );
    let i = &plan.changes[0].insights;
    assert_eq!(
        i.person.as_ref().unwrap().manager_github.as_deref(),
        Some("bob-gh")
    );
    assert!(
        i.expiry.as_ref().unwrap().within,
        "70 days is within the 90d high-risk max"
    );
}

#[test]
fn privileged_critical_and_emergency_requirements() {
    let (_, plan) = plan_with(
        &base_files(),
        &[
            (
                "access/payments/alice.yaml",
                Some(grant("alice", "payments", "admin", "2026-12-01", "")),
            ),
            (
                "access/payments/dave.yaml",
                Some(grant(
                    "dave",
                    "payments",
                    "create-payment",
                    "2026-11-22T18:00:00Z",
                    "    emergency: true\n",
                )),
            ),
            (
                "access/slack/erin.yaml",
                Some(grant("erin", "slack", "member", "2027-01-31", "")),
            ),
        ],
    );
    assert_eq!(
        needs(&plan),
        [
            (
                Op::Add,
                "payments:admin:alice".into(),
                s(&["manager", "owner", "security"])
            ),
            (
                Op::Add,
                "payments:create-payment:dave".into(),
                s(&["@acme/oncall"])
            ),
            (Op::Add, "slack:member:erin".into(), s(&["owner"])),
        ]
    );
}

#[test]
fn removals_shortenings_and_reformatting() {
    let base = with_grants(&[
        ("alice", "payments", "create-payment"),
        ("dave", "slack", "member"),
    ]);
    let reformatted = String::from(
        "# a comment that changes nothing\nperson: dave\napp: slack\ngrants:\n  - expires: 2027-01-31\n    role: member\n    justification: \"Needed for the weekly supplier run\"\n",
    );
    let (_, plan) = plan_with(
        &base,
        &[
            (
                "access/payments/alice.yaml",
                Some(grant(
                    "alice",
                    "payments",
                    "create-payment",
                    "2026-12-31",
                    "",
                )),
            ),
            ("access/slack/dave.yaml", Some(reformatted)),
        ],
    );
    assert_eq!(
        needs(&plan),
        [(
            Op::Change,
            "payments:create-payment:alice".into(),
            s(&["owner"])
        )],
        "a shorter expiry needs one owner; reformatting is no change"
    );
    let (_, plan) = plan_with(&base, &[("access/payments/alice.yaml", None)]);
    assert_eq!(
        needs(&plan),
        [(
            Op::Remove,
            "payments:create-payment:alice".into(),
            s(&["owner"])
        )]
    );
}

#[test]
fn extending_an_expiry_or_becoming_emergency_needs_full_approval() {
    let base = with_grants(&[("alice", "payments", "create-payment")]);
    let (_, plan) = plan_with(
        &base,
        &[(
            "access/payments/alice.yaml",
            Some(grant(
                "alice",
                "payments",
                "create-payment",
                "2027-02-15",
                "",
            )),
        )],
    );
    assert_eq!(
        needs(&plan),
        [(
            Op::Change,
            "payments:create-payment:alice".into(),
            s(&["manager", "owner"])
        )]
    );
    // Dropping the expiry is the longest extension of all.
    let no_expiry = "person: alice\napp: payments\ngrants:\n  - role: create-payment\n    justification: Needed for the weekly supplier run\n";
    let (_, plan) = plan_with(
        &base,
        &[("access/payments/alice.yaml", Some(no_expiry.into()))],
    );
    assert_eq!(plan.changes[0].approvals.len(), 2);
}

#[test]
fn a_moved_file_is_a_removal_plus_an_addition() {
    let base = with_grants(&[("alice", "slack", "member")]);
    let (_, plan) = plan_with(
        &base,
        &[
            ("access/slack/alice.yaml", None),
            (
                "access/slack/dave.yaml",
                Some(grant("dave", "slack", "member", "2027-01-31", "")),
            ),
        ],
    );
    let ops: Vec<(Op, &str)> = plan
        .changes
        .iter()
        .map(|c| (c.op, c.person.as_str()))
        .collect();
    assert_eq!(ops, [(Op::Remove, "alice"), (Op::Add, "dave")]);
}

#[test]
fn a_role_change_is_a_removal_plus_an_addition_with_full_approval() {
    let base = with_grants(&[("alice", "payments", "viewer")]);
    let (_, plan) = plan_with(
        &base,
        &[(
            "access/payments/alice.yaml",
            Some(grant("alice", "payments", "admin", "2026-12-01", "")),
        )],
    );
    assert_eq!(
        needs(&plan),
        [
            (
                Op::Add,
                "payments:admin:alice".into(),
                s(&["manager", "owner", "security"])
            ),
            (Op::Remove, "payments:viewer:alice".into(), s(&["owner"])),
        ]
    );
}

#[test]
fn insights_count_department_peers_and_other_access() {
    let base = with_grants(&[
        ("dave", "payments", "viewer"),
        ("erin", "payments", "viewer"),
        ("frank", "payments", "viewer"),
        ("alice", "slack", "member"),
        ("hank", "payments", "viewer"),
    ]);
    let (_, plan) = plan_with(
        &base,
        &[(
            "access/payments/alice.yaml",
            Some(grant("alice", "payments", "viewer", "2027-01-31", "")),
        )],
    );
    let i = &plan.changes[0].insights;
    let peers = i.peers.as_ref().unwrap();
    // Sales peers of alice: bob, dave, erin, frank, gina; hank is in eng.
    assert_eq!((peers.holding, peers.total), (3, 5));
    assert_eq!(i.other_access, ["slack:member"]);
    let auto = i.auto_approve.as_ref().unwrap();
    assert!(!auto.met, "3 of 5 is 60%, under 75%: {}", auto.reason);
    assert!(
        auto.reason.contains("3 of 5 sales peers"),
        "{}",
        auto.reason
    );
}

// ---- the verdict ----

fn directory() -> Directory {
    let mut teams = BTreeMap::new();
    let set = |v: &[&str]| v.iter().map(|x| Login::new(x)).collect::<BTreeSet<_>>();
    teams.insert(
        "@acme/payments-owners".into(),
        set(&["hank-gh", "bob-gh", "alice-gh"]),
    );
    teams.insert("@acme/security".into(), set(&["sam-gh"]));
    teams.insert("@acme/oncall".into(), set(&["gina-gh"]));
    teams.insert("@acme/it".into(), set(&["frank-gh"]));
    Directory {
        teams,
        refused: Vec::new(),
    }
}

const HEAD: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const OLD: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/// A stable made-up account id per login.
fn account_id(login: &str) -> u64 {
    login.bytes().fold(7, |h, b| h * 31 + u64::from(b)) % 1_000_000
}

fn review(login: &str, state: ReviewState) -> Review {
    Review {
        id: 0,
        login: login.into(),
        user_id: account_id(login),
        bot: login.ends_with("[bot]"),
        state,
        commit: Some(HEAD.into()),
        submitted_at: None,
    }
}

fn pr(author: &str, files: &[&str], reviews: Vec<Review>) -> PullFacts {
    PullFacts {
        number: 7,
        author: author.into(),
        head_sha: HEAD.into(),
        committers: BTreeSet::from([Login::new(author)]),
        files: files.iter().map(|f| f.to_string()).collect(),
        reviews,
        overrides: Vec::new(),
        incomplete: Vec::new(),
        excluded: Default::default(),
        base_changed_at: None,
    }
}

/// Alice asks for payments:create-payment (manager bob-gh, owners hank/bob/alice).
fn alice_request() -> (Catalog, Plan) {
    plan_with(
        &base_files(),
        &[(
            "access/payments/alice.yaml",
            Some(grant(
                "alice",
                "payments",
                "create-payment",
                "2027-01-31",
                "",
            )),
        )],
    )
}

fn judge(p: &PullFacts) -> Verdict {
    let (policies, plan) = alice_request();
    approval::judge(&plan, &policies, p, &directory())
}

const ALICE_FILE: &str = "access/payments/alice.yaml";

#[test]
fn manager_and_owner_approve_on_the_head_commit() {
    let v = judge(&pr(
        "alice-gh",
        &[ALICE_FILE],
        vec![
            review("bob-gh", ReviewState::Approved),
            review("hank-gh", ReviewState::Approved),
        ],
    ));
    assert!(v.approved, "{}", v.text());
    assert_eq!(v.status_description(), "approved");
}

#[test]
fn missing_approvals_name_who_is_still_needed() {
    let v = judge(&pr("alice-gh", &[ALICE_FILE], vec![]));
    assert!(!v.approved);
    assert!(
        v.status_description().contains("manager @bob-gh"),
        "{}",
        v.status_description()
    );
    assert!(
        v.status_description()
            .contains("owner (@acme/payments-owners)")
    );
}

#[test]
fn the_grantee_cannot_approve_a_grant_someone_else_opened() {
    // dave opens the PR for alice; alice is an owner and approves her own grant.
    let v = judge(&pr(
        "dave-gh",
        &[ALICE_FILE],
        vec![
            review("alice-gh", ReviewState::Approved),
            review("bob-gh", ReviewState::Approved),
        ],
    ));
    assert!(!v.approved, "{}", v.text());
    assert!(
        v.ignored
            .iter()
            .any(|i| i.contains("@alice-gh") && i.contains("grantee"))
    );
}

#[test]
fn the_author_and_commit_pushers_cannot_approve() {
    let v = judge(&pr(
        "hank-gh",
        &[ALICE_FILE],
        vec![
            review("hank-gh", ReviewState::Approved),
            review("bob-gh", ReviewState::Approved),
        ],
    ));
    assert!(!v.approved);
    assert!(
        v.ignored
            .iter()
            .any(|i| i.contains("@hank-gh") && i.contains("author"))
    );

    let mut p = pr(
        "dave-gh",
        &[ALICE_FILE],
        vec![
            review("hank-gh", ReviewState::Approved),
            review("bob-gh", ReviewState::Approved),
        ],
    );
    p.committers.insert("Hank-GH".into());
    let v = judge(&p);
    assert!(!v.approved, "a reviewer who pushed a commit does not count");
    assert!(v.ignored.iter().any(|i| i.contains("pushed a commit")));
}

#[test]
fn an_approval_of_an_older_commit_does_not_count() {
    let mut stale = review("hank-gh", ReviewState::Approved);
    stale.commit = Some(OLD.into());
    let v = judge(&pr(
        "alice-gh",
        &[ALICE_FILE],
        vec![review("bob-gh", ReviewState::Approved), stale],
    ));
    assert!(!v.approved);
    assert!(
        v.ignored
            .iter()
            .any(|i| i.contains("earlier commit (bbbbbbbbbb)"))
    );
}

#[test]
fn a_bot_approval_never_counts() {
    let mut t = directory();
    t.teams
        .get_mut("@acme/payments-owners")
        .unwrap()
        .insert("helper[bot]".into());
    let (policies, plan) = alice_request();
    let v = approval::judge(
        &plan,
        &policies,
        &pr(
            "alice-gh",
            &[ALICE_FILE],
            vec![
                review("bob-gh", ReviewState::Approved),
                review("helper[bot]", ReviewState::Approved),
            ],
        ),
        &t,
    );
    assert!(!v.approved);
    assert!(v.ignored.iter().any(|i| i.contains("bot")));
}

#[test]
fn one_person_cannot_count_as_both_manager_and_owner() {
    // bob is alice's manager and a payments owner.
    let v = judge(&pr(
        "alice-gh",
        &[ALICE_FILE],
        vec![review("bob-gh", ReviewState::Approved)],
    ));
    assert!(!v.approved, "{}", v.text());
    let c = &v.changes[0];
    assert_eq!(c.met.len(), 1);
    assert_eq!(c.missing.len(), 1);
}

#[test]
fn later_changes_requested_or_a_dismissal_cancels_an_approval() {
    let v = judge(&pr(
        "alice-gh",
        &[ALICE_FILE],
        vec![
            review("bob-gh", ReviewState::Approved),
            review("hank-gh", ReviewState::Approved),
            review("hank-gh", ReviewState::Commented),
            review("hank-gh", ReviewState::ChangesRequested),
        ],
    ));
    assert!(!v.approved);
    let v = judge(&pr(
        "alice-gh",
        &[ALICE_FILE],
        vec![
            review("bob-gh", ReviewState::Approved),
            review("hank-gh", ReviewState::Dismissed),
        ],
    ));
    assert!(!v.approved);
    assert!(v.ignored.iter().any(|i| i.contains("dismissed")));
}

#[test]
fn an_approver_who_left_the_owner_team_no_longer_counts() {
    let mut dir = directory();
    dir.teams
        .get_mut("@acme/payments-owners")
        .unwrap()
        .remove(&Login::new("hank-gh"));
    let (policies, plan) = alice_request();
    let v = approval::judge(
        &plan,
        &policies,
        &pr(
            "alice-gh",
            &[ALICE_FILE],
            vec![
                review("bob-gh", ReviewState::Approved),
                review("hank-gh", ReviewState::Approved),
            ],
        ),
        &dir,
    );
    assert!(!v.approved, "{}", v.text());
}

#[test]
fn a_pr_that_mixes_policies_and_access_is_refused() {
    let v = judge(&pr(
        "alice-gh",
        &["policies/apps/payments.yaml", ALICE_FILE],
        vec![
            review("bob-gh", ReviewState::Approved),
            review("hank-gh", ReviewState::Approved),
            review("sam-gh", ReviewState::Approved),
        ],
    ));
    assert!(!v.approved);
    assert!(v.refused.as_deref().unwrap().contains("split it"));
    assert!(v.status_description().starts_with("refused"));
}

#[test]
fn a_codeowners_change_needs_the_security_team() {
    let (policies, _) = alice_request();
    let empty = Plan::default();
    let p = pr(
        "hank-gh",
        &[".github/CODEOWNERS"],
        vec![review("bob-gh", ReviewState::Approved)],
    );
    let v = approval::judge(&empty, &policies, &p, &directory());
    assert!(!v.approved);
    assert!(v.status_description().contains("security (@acme/security)"));
    let mut p = p;
    p.reviews.push(review("sam-gh", ReviewState::Approved));
    assert!(approval::judge(&empty, &policies, &p, &directory()).approved);
}

#[test]
fn a_removal_needs_one_owner() {
    let base = with_grants(&[("alice", "payments", "create-payment")]);
    let (policies, plan) = plan_with(&base, &[(ALICE_FILE, None)]);
    let p = pr(
        "dave-gh",
        &[ALICE_FILE],
        vec![review("hank-gh", ReviewState::Approved)],
    );
    assert!(approval::judge(&plan, &policies, &p, &directory()).approved);
}

fn viewer_plan(holders: &[&str]) -> (Catalog, Plan) {
    let grants: Vec<(&str, &str, &str)> =
        holders.iter().map(|h| (*h, "payments", "viewer")).collect();
    plan_with(
        &with_grants(&grants),
        &[(
            ALICE_FILE,
            Some(grant("alice", "payments", "viewer", "2027-01-31", "")),
        )],
    )
}

#[test]
fn auto_approval_at_the_threshold_and_below_it() {
    // 4 of 5 sales peers = 80% >= 75%, and 4 >= min_peers 3.
    let (policies, plan) = viewer_plan(&["bob", "dave", "erin", "frank"]);
    let v = approval::judge(
        &plan,
        &policies,
        &pr("alice-gh", &[ALICE_FILE], vec![]),
        &directory(),
    );
    assert!(v.approved, "{}", v.text());
    assert!(matches!(&v.changes[0].how, How::AutoApproved(r) if r.contains("4 of 5 sales peers")));
    assert!(v.status_description().contains("auto-approval"));
    // 3 of 5 = 60%: not met, the usual approvals are needed.
    let (policies, plan) = viewer_plan(&["bob", "dave", "erin"]);
    let v = approval::judge(
        &plan,
        &policies,
        &pr("alice-gh", &[ALICE_FILE], vec![]),
        &directory(),
    );
    assert!(!v.approved);
}

#[test]
fn the_emergency_path_needs_one_emergency_approver() {
    let (policies, plan) = plan_with(
        &base_files(),
        &[(
            ALICE_FILE,
            Some(grant(
                "alice",
                "payments",
                "create-payment",
                "2026-11-22T18:00:00Z",
                "    emergency: true\n",
            )),
        )],
    );
    let p = pr(
        "alice-gh",
        &[ALICE_FILE],
        vec![review("gina-gh", ReviewState::Approved)],
    );
    assert!(approval::judge(&plan, &policies, &p, &directory()).approved);
    let p = pr(
        "alice-gh",
        &[ALICE_FILE],
        vec![review("hank-gh", ReviewState::Approved)],
    );
    assert!(!approval::judge(&plan, &policies, &p, &directory()).approved);
}

fn override_by(login: &str, body: &str, current: bool) -> OverrideComment {
    OverrideComment {
        id: 1,
        login: login.into(),
        bot: false,
        body: body.into(),
        current,
        authentic: Ok(()),
    }
}

#[test]
fn a_security_override_with_a_reason_passes_and_is_recorded() {
    let mut p = pr("alice-gh", &[ALICE_FILE], vec![]);
    p.overrides.push(override_by(
        "sam-gh",
        "/portcullis override INC-88 payment queue down, manager on leave",
        true,
    ));
    let v = judge(&p);
    assert!(v.approved, "{}", v.text());
    assert_eq!(
        v.override_used,
        Some((
            "sam-gh".into(),
            "INC-88 payment queue down, manager on leave".into()
        ))
    );
    assert!(
        v.status_description()
            .contains("override by @sam-gh: INC-88")
    );
}

#[test]
fn overrides_without_reason_by_non_security_or_stale_are_refused() {
    for (login, body, current, why) in [
        ("sam-gh", "/portcullis override", true, "no reason"),
        ("sam-gh", "/portcullis override   ", true, "no reason"),
        (
            "hank-gh",
            "/portcullis override urgent",
            true,
            "only the security team",
        ),
        (
            "sam-gh",
            "/portcullis override urgent",
            false,
            "before the latest push",
        ),
    ] {
        let mut p = pr("alice-gh", &[ALICE_FILE], vec![]);
        p.overrides.push(override_by(login, body, current));
        let v = judge(&p);
        assert!(!v.approved, "{body} by {login}");
        assert!(v.ignored.iter().any(|i| i.contains(why)), "{:?}", v.ignored);
    }
}

#[test]
fn an_override_never_covers_the_overriders_own_grant() {
    let (policies, plan) = plan_with(
        &base_files(),
        &[(
            "access/payments/sam.yaml",
            Some(grant("sam", "payments", "create-payment", "2027-01-31", "")),
        )],
    );
    let mut p = pr("dave-gh", &["access/payments/sam.yaml"], vec![]);
    p.overrides.push(override_by(
        "sam-gh",
        "/portcullis override need it now",
        true,
    ));
    let v = approval::judge(&plan, &policies, &p, &directory());
    assert!(!v.approved);
    assert!(v.ignored.iter().any(|i| i.contains("their own grant")));
}

#[test]
fn override_command_parsing() {
    assert_eq!(
        approval::parse_override("/portcullis override  x y "),
        Some("x y".into())
    );
    assert_eq!(
        approval::parse_override("/portcullis override"),
        Some(String::new())
    );
    assert_eq!(approval::parse_override("/portcullis overrides x"), None);
    assert_eq!(
        approval::parse_override("please /portcullis override x"),
        None
    );
}

#[test]
fn a_people_sync_pr_needs_security_for_the_directory_and_owners_for_the_grants() {
    let (policies, plan) = alice_request();
    let files = ["policies/people.yaml", ALICE_FILE];
    let p = pr(
        "portcullis[bot]",
        &files,
        vec![
            review("bob-gh", ReviewState::Approved),
            review("hank-gh", ReviewState::Approved),
        ],
    );
    let v = approval::judge(&plan, &policies, &p, &directory());
    assert!(
        v.refused.is_none(),
        "the directory may change with the grants it implies"
    );
    assert!(!v.approved, "the directory change needs the security team");
    assert!(v.status_description().contains("security (@acme/security)"));
    let mut p = p;
    p.reviews.push(review("sam-gh", ReviewState::Approved));
    assert!(approval::judge(&plan, &policies, &p, &directory()).approved);
    // Any other rule file with access is still refused.
    p.files.push("policies/sod.yaml".into());
    assert!(
        approval::judge(&plan, &policies, &p, &directory())
            .refused
            .is_some()
    );
}
