//! A pull request's life through the binary and the fake GitHub: opened, checked, commented,
//! judged red with who is missing, approved, judged green, merged.

use std::path::Path;
use std::process::{Command, Output};

use crate::fake_github::FakeGitHub;
use crate::support::git;

pub const REPO: &str = "tidewater/access";

/// The example organisation as a GitHub repository, with its people and teams, and a local
/// clone to run portcullis in.
pub struct World {
    pub gh: FakeGitHub,
    pub clone: tempfile::TempDir,
    pub bot: String,
}

impl World {
    pub fn new() -> World {
        let gh = FakeGitHub::start();
        let src = crate::support::example_repo();
        gh.create_repo(REPO, src.path());
        for login in [
            "omar-tw",
            "elena-tw",
            "rafael-tw",
            "kenji-tw",
            "lena-tw",
            "sofia-tw",
            "dana-tw",
        ] {
            gh.add_user(
                login,
                &format!("{}@tidewater.example", login.trim_end_matches("-tw")),
            );
        }
        let bot = gh.add_bot("portcullis[bot]");
        gh.add_team("tidewater", "finance-systems", &["kenji-tw", "elena-tw"]);
        gh.add_team("tidewater", "security", &["lena-tw"]);
        gh.add_team("tidewater", "oncall", &["dana-tw"]);
        let clone = tempfile::tempdir().unwrap();
        let status = Command::new("git")
            .args(["clone", "-q"])
            .arg(gh.git_dir(REPO))
            .arg(clone.path())
            .status()
            .unwrap();
        assert!(status.success());
        World { gh, clone, bot }
    }

    /// Fetches the default branch and a pull request's head into the clone, as the workflows do.
    pub fn fetch(&self, pr: u64) {
        git(
            self.clone.path(),
            &[
                "fetch",
                "-q",
                "origin",
                "+refs/heads/main:refs/remotes/origin/main",
                &format!("+refs/pull/{pr}/head:refs/remotes/pull/{pr}/head"),
            ],
        );
    }

    pub fn run(&self, args: &[&str]) -> Output {
        run_in(self.clone.path(), &self.gh.url(), &self.bot, args)
    }
}

pub fn run_in(root: &Path, api: &str, token: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .args(["--root", root.to_str().unwrap(), "--as-of", "2026-11-22"])
        .env("GITHUB_API_URL", api)
        .env("GITHUB_TOKEN", token)
        .env("GITHUB_REPOSITORY", REPO)
        .env("PORTCULLIS_GITHUB_MAX_WAIT", "5")
        .env_remove("PORTCULLIS_COMMENT_AUTHOR")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const OMAR_PAYMENTS: &str = "# yaml-language-server: $schema=../../schemas/grant.schema.json\nperson: omar\napp: payments\ngrants:\n  - role: viewer\n    justification: Matches carrier settlements to billed shipments\n    expires: 2027-02-12\n    reviewed: 2026-10-05\n  - role: edit-vendor-bank\n    justification: Updates carrier bank details after the Q4 call-back verification\n    expires: 2026-12-15\n    ticket: FIN-1187\n    reviewed: 2026-10-05\n  - role: create-payment\n    justification: Covers the Friday carrier payment run while Clara is on leave\n    expires: 2027-01-10\n";

/// Omar asks for payments:create-payment (approvals: manager + owner).
fn open_request(w: &World) -> (u64, String) {
    let head = w.gh.push_commit(
        "access/payments/omar/create-payment",
        &[("access/payments/omar.yaml", Some(OMAR_PAYMENTS))],
        "omar@tidewater.example",
    );
    let pr = w.gh.open_pull(
        "token-omar-tw",
        "access/payments/omar/create-payment",
        "main",
        "Access request: omar → payments:create-payment",
        "Friday payment run cover",
    );
    w.fetch(pr);
    (pr, head)
}

fn status_of(w: &World, sha: &str) -> (String, String) {
    let client = portcullis_github::Client::new(&w.gh.url(), Some(&w.bot), REPO).unwrap();
    let s = client
        .statuses(sha)
        .unwrap()
        .into_iter()
        .find(|s| s.context == "portcullis/approvals")
        .expect("a portcullis/approvals status");
    (s.state, s.description.unwrap_or_default())
}

#[test]
fn a_request_goes_from_red_to_green_and_merges() {
    let w = World::new();
    let (pr, head) = open_request(&w);

    let check = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args([
            "check",
            "--as-of",
            "2026-11-22",
            "--base",
            "origin/main",
            "--root",
        ])
        .arg(w.clone.path())
        .current_dir(w.clone.path())
        .output()
        .unwrap();
    // The clone's work tree is main; the request is judged by `comment` and `approvals`.
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));

    let out = w.run(&["comment", "--pr", &pr.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = w.run(&["comment", "--pr", &pr.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let client = portcullis_github::Client::new(&w.gh.url(), Some(&w.bot), REPO).unwrap();
    let ours: Vec<_> = client
        .comments(pr)
        .unwrap()
        .into_iter()
        .filter(|c| c.body.starts_with(portcullis_core::comment::MARKER))
        .collect();
    assert_eq!(ours.len(), 1, "one sticky comment, edited in place");
    let body = &ours[0].body;
    assert!(body.contains("payments:create-payment"), "{body}");
    assert!(body.contains("still needs"), "{body}");

    let out = w.run(&["approvals", "--pr", &pr.to_string()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("needs manager @elena-tw"),
        "{}",
        text(&out)
    );
    let (state, description) = status_of(&w, &head);
    assert_eq!(state, "failure");
    assert!(
        description.contains("needs manager @elena-tw"),
        "{description}"
    );
    assert!(
        description.contains("owner (@tidewater/finance-systems)"),
        "{description}"
    );

    // elena is both manager and an owner: one person cannot be both.
    w.gh.review("token-elena-tw", pr, "APPROVED");
    let out = w.run(&["approvals", "--pr", &pr.to_string()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    w.gh.review("token-kenji-tw", pr, "APPROVED");
    let out = w.run(&["approvals", "--pr", &pr.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(status_of(&w, &head).0, "success");

    // The comment as the README shows it, once the approvals are complete.
    let out = w.run(&["comment", "--pr", &pr.to_string(), "--dry-run"]);
    // The commit id changes whenever the example organisation does.
    let shown = String::from_utf8_lossy(&out.stdout).replace(&head[..10], "1a2b3c4d5e");
    insta::assert_snapshot!("pr_comment_approved", shown);

    let merge = client.merge_pull(pr, &head).unwrap();
    assert_eq!(
        w.gh.file_at(&merge, "access/payments/omar.yaml").as_deref(),
        Some(OMAR_PAYMENTS.as_bytes())
    );
}

#[test]
fn a_push_after_approval_needs_new_approvals() {
    let w = World::new();
    let (pr, _) = open_request(&w);
    w.gh.review("token-elena-tw", pr, "APPROVED");
    w.gh.review("token-kenji-tw", pr, "APPROVED");
    let out = w.run(&["approvals", "--pr", &pr.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Omar extends his own grant after the approvals.
    let longer = OMAR_PAYMENTS.replace("expires: 2027-01-10", "expires: 2027-01-20");
    let head = w.gh.push_commit(
        "access/payments/omar/create-payment",
        &[("access/payments/omar.yaml", Some(&longer))],
        "omar@tidewater.example",
    );
    w.fetch(pr);
    let out = w.run(&["approvals", "--pr", &pr.to_string()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("approved an earlier commit"),
        "{}",
        text(&out)
    );
    assert_eq!(status_of(&w, &head).0, "failure");
}

#[test]
fn a_pr_that_edits_the_rules_it_is_judged_by_is_refused() {
    let w = World::new();
    let weaker = std::fs::read_to_string(w.clone.path().join("policies/apps/payments.yaml"))
        .unwrap()
        .replace(
            "    approvals: [manager, owner]\n",
            "    approvals: [owner]\n",
        );
    let head = w.gh.push_commit(
        "sneaky",
        &[
            ("policies/apps/payments.yaml", Some(&weaker)),
            ("access/payments/omar.yaml", Some(OMAR_PAYMENTS)),
        ],
        "omar@tidewater.example",
    );
    let pr =
        w.gh.open_pull("token-omar-tw", "sneaky", "main", "tidy", "");
    w.fetch(pr);
    w.gh.review("token-kenji-tw", pr, "APPROVED");
    let out = w.run(&["approvals", "--pr", &pr.to_string()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("split it"), "{}", text(&out));
    assert!(status_of(&w, &head).1.starts_with("refused"));
}

#[test]
fn a_codeowners_edit_needs_the_security_team() {
    let w = World::new();
    let head = w.gh.push_commit(
        "owners",
        &[(".github/CODEOWNERS", Some("* @omar-tw\n"))],
        "omar@tidewater.example",
    );
    let pr =
        w.gh.open_pull("token-omar-tw", "owners", "main", "owners", "");
    w.fetch(pr);
    w.gh.review("token-kenji-tw", pr, "APPROVED");
    let out = w.run(&["approvals", "--pr", &pr.to_string()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(status_of(&w, &head).1.contains("security"));
    w.gh.review("token-lena-tw", pr, "APPROVED");
    let out = w.run(&["approvals", "--pr", &pr.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn an_override_counts_only_after_the_head_was_seen() {
    let w = World::new();
    let (pr, _) = open_request(&w);
    // An override written before portcullis first judged this head does not count...
    w.gh.comment(
        "token-lena-tw",
        pr,
        "/portcullis override FIN-2231 payment run due today",
    );
    let out = w.run(&["approvals", "--pr", &pr.to_string()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("before the latest push"),
        "{}",
        text(&out)
    );
    // ...one written after it does, with its reason in the status.
    w.gh.comment(
        "token-lena-tw",
        pr,
        "/portcullis override FIN-2231 payment run due today",
    );
    let out = w.run(&["approvals", "--pr", &pr.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let head =
        w.gh.branch_sha("access/payments/omar/create-payment")
            .unwrap();
    let (state, description) = status_of(&w, &head);
    assert_eq!(state, "success");
    assert!(
        description.contains("override by @lena-tw: FIN-2231"),
        "{description}"
    );
}

#[test]
fn github_failures_exit_2_with_a_clear_message() {
    let w = World::new();
    let out = w.run(&["approvals", "--pr", "999"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("404"), "{}", text(&out));
}

fn pulls(w: &World) -> Vec<portcullis_github::Pull> {
    portcullis_github::Client::new(&w.gh.url(), Some(&w.bot), REPO)
        .unwrap()
        .pulls("all", None)
        .unwrap()
}

#[test]
fn request_open_pr_then_check_comment_approvals_and_merge() {
    let w = World::new();
    let out = run_in(
        w.clone.path(),
        &w.gh.url(),
        "token-omar-tw",
        &[
            "request",
            "--app",
            "payments",
            "--role",
            "create-payment",
            "--person",
            "omar",
            "--for",
            "7w",
            "--justification",
            "Covers the Friday carrier payment run while Clara is on leave",
            "--open-pr",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let opened = pulls(&w);
    assert_eq!(opened.len(), 1);
    let pr = &opened[0];
    assert_eq!(pr.user.login, "omar-tw");
    assert_eq!(pr.head.name, "access/payments/omar/create-payment");
    assert!(
        pr.body.as_deref().unwrap().contains("manager"),
        "{:?}",
        pr.body
    );
    insta::assert_snapshot!("request_pr_body", pr.body.as_deref().unwrap());
    // Nothing was written in the checkout: the pull request is the request.
    git(w.clone.path(), &["diff", "--quiet"]);
    // The same request again, while it is open, is refused with a link to it.
    let twice = run_in(
        w.clone.path(),
        &w.gh.url(),
        "token-omar-tw",
        &[
            "request",
            "--app",
            "payments",
            "--role",
            "create-payment",
            "--person",
            "omar",
            "--for",
            "7w",
            "--justification",
            "Covers the Friday carrier payment run",
            "--open-pr",
        ],
    );
    assert_eq!(twice.status.code(), Some(2), "{}", text(&twice));
    assert!(
        text(&twice).contains("already open: #1"),
        "{}",
        text(&twice)
    );
    assert_eq!(pulls(&w).len(), 1);
    w.fetch(pr.number);

    // check --base on the pull request's files, as check.yml does.
    git(w.clone.path(), &["checkout", "-q", &pr.head.sha]);
    let check = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args([
            "check",
            "--as-of",
            "2026-11-22",
            "--base",
            "origin/main",
            "--root",
        ])
        .arg(w.clone.path())
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    git(w.clone.path(), &["checkout", "-q", "main"]);

    let n = pr.number.to_string();
    let out = w.run(&["comment", "--pr", &n]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = w.run(&["approvals", "--pr", &n]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("needs manager @elena-tw"),
        "{}",
        text(&out)
    );
    w.gh.review("token-elena-tw", pr.number, "APPROVED");
    w.gh.review("token-kenji-tw", pr.number, "APPROVED");
    let out = w.run(&["approvals", "--pr", &n]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let client = portcullis_github::Client::new(&w.gh.url(), Some(&w.bot), REPO).unwrap();
    let merge = client.merge_pull(pr.number, &pr.head.sha).unwrap();
    let merged =
        String::from_utf8(w.gh.file_at(&merge, "access/payments/omar.yaml").unwrap()).unwrap();
    assert!(merged.contains("  - role: create-payment\n"), "{merged}");
    assert!(
        merged.starts_with("# yaml-language-server"),
        "the file's first line is kept"
    );

    // A request made from a checkout that is behind the base branch is refused.
    let again = run_in(
        w.clone.path(),
        &w.gh.url(),
        "token-omar-tw",
        &[
            "request",
            "--app",
            "payments",
            "--role",
            "viewer",
            "--person",
            "omar",
            "--for",
            "2w",
            "--justification",
            "Dashboards for the carrier settlement review",
            "--open-pr",
        ],
    );
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(
        text(&again).contains("differs from this checkout"),
        "{}",
        text(&again)
    );
}

fn form(app: &str, role: &str, duration: &str, justification: &str) -> String {
    format!(
        "### App\n\n{app}\n\n### Role\n\n{role}\n\n### Duration\n\n{duration}\n\n### Expires\n\n_No response_\n\n### Justification\n\n{justification}\n\n### Ticket\n\n_No response_\n\n### Person\n\n_No response_\n"
    )
}

#[test]
fn an_issue_form_request_becomes_a_pull_request_and_is_answered() {
    let w = World::new();
    let issue = w.gh.create_issue(
        "token-omar-tw",
        "Access request",
        &form(
            "grafana",
            "viewer",
            "30d",
            "Watch the carrier latency dashboards during the migration",
        ),
        &["access-request"],
    );
    let out = w.run(&["request", "--from-issue", &issue.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let opened = pulls(&w);
    assert_eq!(opened.len(), 1);
    assert!(
        opened[0]
            .body
            .as_deref()
            .unwrap()
            .contains(&format!("Requested in #{issue}"))
    );
    let client = portcullis_github::Client::new(&w.gh.url(), Some(&w.bot), REPO).unwrap();
    let answers = client.comments(issue).unwrap();
    assert_eq!(answers.len(), 1);
    assert!(
        answers[0]
            .body
            .contains(&format!("Opened #{}", opened[0].number))
    );
    let file =
        w.gh.file_at(&opened[0].head.sha, "access/grafana/omar.yaml")
            .unwrap();
    assert!(String::from_utf8(file).unwrap().contains("role: viewer"));
}

#[test]
fn a_bad_issue_form_is_answered_with_the_reason_once_and_opens_nothing() {
    let w = World::new();
    let issue = w.gh.create_issue(
        "token-omar-tw",
        "Access request",
        &form(
            "grafana",
            "superuser",
            "30d",
            "I would like @tidewater/everyone to see <b>this</b>",
        ),
        &["access-request"],
    );
    for _ in 0..2 {
        let out = w.run(&["request", "--from-issue", &issue.to_string()]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    }
    assert!(pulls(&w).is_empty());
    let client = portcullis_github::Client::new(&w.gh.url(), Some(&w.bot), REPO).unwrap();
    let answers = client.comments(issue).unwrap();
    assert_eq!(answers.len(), 1, "answered once, not on every run");
    assert!(answers[0].body.contains("superuser"), "{}", answers[0].body);
    assert!(
        answers[0].body.contains("viewer"),
        "the reason lists the roles: {}",
        answers[0].body
    );
}

/// Issue 18: a status portcullis set to `pending` never stays pending. When judging fails
/// half way (GitHub refuses the reviews), it ends as `error`, naming the failure.
#[test]
fn a_failed_judgement_ends_its_pending_status_as_an_error() {
    let w = World::new();
    let (pr, head) = open_request(&w);
    w.gh.fail_next("GET", "/reviews", 404, &[], 1);
    let out = w.run(&["approvals", "--pr", &pr.to_string()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let (state, description) = status_of(&w, &head);
    assert_eq!(state, "error", "{description}");
    assert!(
        description.starts_with("portcullis failed"),
        "{description}"
    );
    assert!(description.contains("reviews"), "{description}");
    // The next run judges it and the status follows.
    let out = w.run(&["approvals", "--pr", &pr.to_string()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(status_of(&w, &head).0, "failure");
}
