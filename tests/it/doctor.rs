//! `doctor` against the fake GitHub's repository settings (held to GitHub's API description
//! like every answer of the fake): a well set-up repository passes, and each gap that would
//! undo the control, made one at a time, is named with its fix.

use std::process::Output;

use serde_json::{Value, json};

use crate::fake_github::FakeGitHub;

const REPO: &str = "tidewater/access";
const APP_ID: u64 = 424242;
const APPLY_SECRETS: [&str; 8] = [
    "PORTCULLIS_APP_PRIVATE_KEY",
    "PORTCULLIS_SIGNING_KEY",
    "PAYMENTS_DB_DSN",
    "BILLING_DB_DSN",
    "LDAP_URL",
    "LDAP_BIND_PASSWORD",
    "OKTA_SCIM_URL",
    "OKTA_SCIM_TOKEN",
];

/// What an admin can get wrong, one thing at a time.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Break {
    Nothing,
    BypassActor,
    StatusFromAnyone,
    StatusFromAnotherApp,
    ForcePush,
    Deletion,
    NoPullRequests,
    NoCodeOwners,
    NoEnvironment,
    AnyBranchDeploys,
    AnotherBranchDeploys,
    SecretMissing,
    NoAppId,
    CodeownersError,
}

fn setup(b: Break) -> (FakeGitHub, tempfile::TempDir, String) {
    let gh = FakeGitHub::start();
    let repo = crate::support::example_repo();
    gh.create_repo(REPO, repo.path());
    let token = gh.add_user("lena-tw", "lena@tidewater.example");
    let mut rules = vec![
        json!({"type": "pull_request", "parameters": {
            "require_code_owner_review": b != Break::NoCodeOwners,
            "required_approving_review_count": 1, "dismiss_stale_reviews_on_push": true,
            "require_last_push_approval": true, "required_review_thread_resolution": false}}),
        json!({"type": "required_status_checks", "parameters": {
        "strict_required_status_checks_policy": false,
        "required_status_checks": [match b {
            Break::StatusFromAnyone => json!({"context": "portcullis/approvals"}),
            Break::StatusFromAnotherApp => json!({"context": "portcullis/approvals", "integration_id": 15368}),
            _ => json!({"context": "portcullis/approvals", "integration_id": APP_ID}),
        }]}}),
        json!({"type": "non_fast_forward"}),
        json!({"type": "deletion"}),
    ];
    rules.retain(|r| match b {
        Break::ForcePush => r["type"] != "non_fast_forward",
        Break::Deletion => r["type"] != "deletion",
        Break::NoPullRequests => r["type"] != "pull_request",
        _ => true,
    });
    let bypass = if b == Break::BypassActor {
        json!([{"actor_id": 5, "actor_type": "RepositoryRole", "bypass_mode": "always"}])
    } else {
        json!([])
    };
    gh.add_ruleset("main", Value::Array(rules), bypass);
    for env in ["access-apply", "portcullis-status", "portcullis-bot"] {
        if b == Break::NoEnvironment && env == "portcullis-bot" {
            continue;
        }
        let branches: Option<&[&str]> = match (b, env) {
            (Break::AnyBranchDeploys, "access-apply") => None,
            (Break::AnotherBranchDeploys, "access-apply") => Some(&["main", "release"]),
            _ => Some(&["main"]),
        };
        let mut secrets: Vec<&str> = if env == "access-apply" {
            APPLY_SECRETS.to_vec()
        } else {
            vec!["PORTCULLIS_APP_PRIVATE_KEY"]
        };
        if b == Break::SecretMissing && env == "access-apply" {
            secrets.retain(|s| *s != "PORTCULLIS_SIGNING_KEY");
        }
        gh.add_environment(env, branches, &secrets);
    }
    if b != Break::NoAppId {
        gh.set_variable("PORTCULLIS_APP_ID", &APP_ID.to_string());
    }
    if b == Break::CodeownersError {
        gh.set_codeowners_errors(json!([{
            "line": 4, "column": 17, "kind": "Unknown owner", "source": "/access/payments/ @tidewater/finance-systems\n",
            "suggestion": "make sure @tidewater/finance-systems exists and has write access to the repository",
            "message": "Unknown owner on line 4: make sure @tidewater/finance-systems exists and has write access to the repository\n\n  /access/payments/ @tidewater/finance-systems\n                    ^",
            "path": ".github/CODEOWNERS"}]));
    }
    (gh, repo, token)
}

fn doctor(gh: &FakeGitHub, repo: &tempfile::TempDir, token: &str) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["doctor", "--root"])
        .arg(repo.path())
        .env("GITHUB_API_URL", gh.url())
        .env("GITHUB_TOKEN", token)
        .env("GITHUB_REPOSITORY", REPO)
        .output()
        .unwrap()
}

#[test]
fn a_well_set_up_repository_passes_and_every_gap_is_named_with_its_fix() {
    let (gh, repo, token) = setup(Break::Nothing);
    let out = doctor(&gh, &repo, &token);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!said.contains("gap:"), "{said}");

    for (b, named) in [
        (Break::BypassActor, "can be bypassed by RepositoryRole 5"),
        (
            Break::StatusFromAnyone,
            "may come from anyone with write access",
        ),
        (
            Break::StatusFromAnotherApp,
            "may come from anyone with write access",
        ),
        (Break::ForcePush, "can be force-pushed"),
        (Break::Deletion, "`main` can be deleted"),
        (
            Break::NoPullRequests,
            "can be changed without a pull request",
        ),
        (
            Break::NoCodeOwners,
            "do not require the code owners' review",
        ),
        (
            Break::NoEnvironment,
            "the environment `portcullis-bot` does not exist",
        ),
        (
            Break::AnyBranchDeploys,
            "`access-apply` can be deployed to from branches other than `main`",
        ),
        (
            Break::AnotherBranchDeploys,
            "`access-apply` can be deployed to from branches other than `main`",
        ),
        (
            Break::SecretMissing,
            "`access-apply` has no secret `PORTCULLIS_SIGNING_KEY`",
        ),
        (Break::NoAppId, "`PORTCULLIS_APP_ID` is not set"),
        (
            Break::CodeownersError,
            ".github/CODEOWNERS:4: Unknown owner on line 4",
        ),
    ] {
        let (gh, repo, token) = setup(b);
        let out = doctor(&gh, &repo, &token);
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(1), "{b:?}: {said}");
        assert!(said.contains(named), "{b:?}: {said}");
        assert!(said.contains("  fix: "), "{b:?}: {said}");
        let gaps = said.lines().filter(|l| l.starts_with("gap:")).count();
        // Without the App id, the status's source cannot be checked either.
        let expected = if b == Break::NoAppId { 2 } else { 1 };
        assert_eq!(gaps, expected, "{b:?}: {said}");
    }
}

/// A token that cannot read the setup gets an error, never a verdict: GitHub hides what a
/// token may not read behind a 404.
#[test]
fn a_setup_that_cannot_be_read_is_no_verdict() {
    let (gh, repo, token) = setup(Break::Nothing);
    gh.fail_next("GET", "/environments", 404, &[], 1);
    let out = doctor(&gh, &repo, &token);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(!said.contains("holds"), "{said}");
    assert!(said.contains("`environments: read`"), "{said}");
}

/// Bypass actors GitHub does not show are no evidence of none.
#[test]
fn hidden_bypass_actors_are_no_verdict() {
    let (gh, repo, token) = setup(Break::Nothing);
    gh.fail_next("GET", "/rulesets/", 404, &[], 1);
    let out = doctor(&gh, &repo, &token);
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("`administration: read`"), "{said}");
}
