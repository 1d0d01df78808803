//! The GitHub client against the fake GitHub: pagination, retries, errors, URL encoding, and the
//! git-data round trip that `request --open-pr` and `expire --open-pr` rely on.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use portcullis_github::{Client, RetryPolicy};

use crate::fake_github::FakeGitHub;

const REPO: &str = "acme/access";

/// Retries as in production but with millisecond backoff, so tests do not sleep for 5xx.
fn fast(client: Client) -> Client {
    client.with_retry_policy(RetryPolicy {
        max_attempts: 5,
        max_wait: Duration::from_secs(10),
        backoff: Duration::from_millis(10),
    })
}

struct World {
    gh: FakeGitHub,
    alice: String,
    bob: String,
    bot: String,
}

impl World {
    fn client(&self, token: &str) -> Client {
        fast(Client::new(&self.gh.url(), Some(token), REPO).unwrap())
    }
}

/// A repository with two grant files, alice (requester), bob (reviewer) and a bot.
fn world() -> World {
    let gh = FakeGitHub::start();
    gh.create_repo_with(
        REPO,
        &[
            (
                "access/crm/bill.yaml",
                "person: bill\napp: crm\ngrants: []\n",
            ),
            ("policies/settings.yaml", "org: acme\n"),
        ],
    );
    let alice = gh.add_user("alice-gh", "alice@example.com");
    let bob = gh.add_user("bob-gh", "bob@example.com");
    let bot = gh.add_bot("portcullis[bot]");
    World {
        gh,
        alice,
        bob,
        bot,
    }
}

/// A pull request by alice adding one file; returns its number.
fn pull(w: &World) -> u64 {
    w.gh.push_commit(
        "request/alice",
        &[("access/crm/alice.yaml", Some("person: alice\n"))],
        "alice@example.com",
    );
    w.gh.open_pull(&w.alice, "request/alice", "main", "Grant alice crm", "why")
}

fn count(gh: &FakeGitHub, method: &str, path_part: &str) -> usize {
    gh.requests()
        .iter()
        .filter(|r| r.method == method && r.path.contains(path_part))
        .count()
}

fn epoch_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn pagination_returns_all_250_reviews_in_three_requests() {
    let w = world();
    let n = pull(&w);
    let ids: Vec<u64> = (0..250)
        .map(|_| w.gh.review(&w.bob, n, "COMMENTED"))
        .collect();
    let reviews = w.client(&w.alice).pull_reviews(n).unwrap();
    assert_eq!(reviews.iter().map(|r| r.id).collect::<Vec<_>>(), ids);
    let pages: Vec<String> = w.gh.requests().iter().map(|r| r.query.clone()).collect();
    assert_eq!(
        pages,
        ["per_page=100", "per_page=100&page=2", "per_page=100&page=3"]
    );
}

#[test]
fn team_members_over_100_are_all_listed_without_pending_ones() {
    let w = world();
    let logins: Vec<String> = (0..150).map(|i| format!("member-{i}")).collect();
    for login in &logins {
        w.gh.add_user(login, &format!("{login}@example.com"));
    }
    let refs: Vec<&str> = logins.iter().map(String::as_str).collect();
    w.gh.add_team("acme", "payments-owners", &refs);
    w.gh.set_team_member("acme", "payments-owners", "bob-gh", Some("pending"));
    let members = w
        .client(&w.alice)
        .team_members("acme", "payments-owners")
        .unwrap();
    assert_eq!(
        members.iter().map(|u| u.login.clone()).collect::<Vec<_>>(),
        logins
    );
    assert_eq!(
        count(&w.gh, "GET", "/orgs/acme/teams/payments-owners/members"),
        2
    );
}

#[test]
fn a_failed_third_page_is_an_error_not_a_partial_list() {
    let w = world();
    let n = pull(&w);
    for _ in 0..250 {
        w.gh.review(&w.bob, n, "COMMENTED");
    }
    w.gh.fail_next("GET", "page=3", 502, &[("retry-after", "0")], 10);
    let err = w.client(&w.alice).pull_reviews(n).unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("page 3"), "{text}");
    assert!(text.contains("HTTP 502"), "{text}");
    assert!(text.contains("after 5 attempts"), "{text}");
}

#[test]
fn rate_limit_429_with_retry_after_is_retried() {
    let w = world();
    let n = pull(&w);
    w.gh.fail_next("GET", "/pulls/1", 429, &[("retry-after", "1")], 1);
    let started = Instant::now();
    let pull = w.client(&w.alice).pull(n).unwrap();
    assert_eq!(pull.title, "Grant alice crm");
    assert!(started.elapsed() >= Duration::from_secs(1));
    let statuses: Vec<u16> = w.gh.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 200]);
}

#[test]
fn rate_limit_403_with_reset_in_the_past_is_retried() {
    let w = world();
    let reset = (epoch_now() - 100).to_string();
    w.gh.fail_next(
        "GET",
        "/users/",
        403,
        &[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &reset),
        ],
        1,
    );
    let user = w.client(&w.alice).user("bob-gh").unwrap().unwrap();
    assert_eq!(user.login, "bob-gh");
    assert_eq!(w.gh.requests().len(), 2);
}

#[test]
fn rate_limit_403_resetting_in_a_second_is_retried() {
    let w = world();
    let reset = (epoch_now() + 1).to_string();
    w.gh.fail_next(
        "GET",
        "/users/",
        403,
        &[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &reset),
        ],
        1,
    );
    let started = Instant::now();
    assert!(w.client(&w.alice).user("bob-gh").unwrap().is_some());
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(w.gh.requests().len(), 2);
}

#[test]
fn rate_limit_resetting_beyond_the_wait_cap_fails_at_once_naming_the_reset() {
    let w = world();
    let reset = epoch_now() + 3600;
    w.gh.fail_next(
        "GET",
        "/users/",
        403,
        &[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &reset.to_string()),
        ],
        1,
    );
    let started = Instant::now();
    let err = w.client(&w.alice).user("bob-gh").unwrap_err().to_string();
    assert!(started.elapsed() < Duration::from_secs(2));
    let when = chrono::DateTime::from_timestamp(reset, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert!(err.contains(&format!("resets at {when}")), "{err}");
    assert!(err.contains("PORTCULLIS_GITHUB_MAX_WAIT"), "{err}");
    assert_eq!(w.gh.requests().len(), 1);
}

#[test]
fn secondary_rate_limit_on_a_post_is_retried_and_writes_once() {
    let w = world();
    let n = pull(&w);
    w.gh.fail_next("POST", "/comments", 403, &[("retry-after", "1")], 1);
    let comment = w.client(&w.bot).create_comment(n, "plan").unwrap();
    assert_eq!(comment.body, "plan");
    assert_eq!(w.client(&w.bot).comments(n).unwrap().len(), 1);
    assert_eq!(count(&w.gh, "POST", "/issues/1/comments"), 2);
}

#[test]
fn server_errors_on_get_are_retried() {
    let w = world();
    let n = pull(&w);
    w.gh.fail_next("GET", "/pulls/1", 502, &[], 2);
    assert_eq!(w.client(&w.alice).pull(n).unwrap().number, n);
    let statuses: Vec<u16> = w.gh.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [502, 502, 200]);
}

#[test]
fn server_errors_on_post_are_not_retried() {
    let w = world();
    let n = pull(&w);
    w.gh.fail_next("POST", "/comments", 502, &[], 1);
    let err = w.client(&w.bot).create_comment(n, "plan").unwrap_err();
    assert!(err.to_string().contains("HTTP 502"), "{err}");
    assert_eq!(w.gh.writes().len(), 1);
    assert!(w.client(&w.bot).comments(n).unwrap().is_empty());
}

#[test]
fn server_errors_give_up_after_five_attempts() {
    let w = world();
    w.gh.fail_next("*", "/users/", 503, &[], 100);
    let err = w.client(&w.alice).user("bob-gh").unwrap_err().to_string();
    assert!(
        err.contains("HTTP 503 (Server Error) after 5 attempts"),
        "{err}"
    );
    assert_eq!(w.gh.requests().len(), 5);
}

#[test]
fn connection_errors_on_get_are_retried_then_reported() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let client = fast(Client::new(&url, Some("t"), REPO).unwrap());
    let err = client.pull(1).unwrap_err().to_string();
    assert!(err.contains("after 5 attempts"), "{err}");
    assert!(err.contains("GITHUB_API_URL"), "{err}");
}

#[test]
fn not_found_names_the_path_and_a_hint() {
    let w = world();
    let err = w.client(&w.alice).pull(999).unwrap_err().to_string();
    assert!(
        err.contains("`GET /repos/acme/access/pulls/999` failed: HTTP 404 (Not Found)"),
        "{err}"
    );
    assert!(err.contains("hint: check `GITHUB_REPOSITORY`"), "{err}");
}

#[test]
fn missing_or_unknown_token_is_401_pointing_at_github_token() {
    let w = world();
    let anonymous = fast(Client::new(&w.gh.url(), None, REPO).unwrap());
    let err = anonymous.pull(1).unwrap_err().to_string();
    assert!(err.contains("HTTP 401 (Requires authentication)"), "{err}");
    assert!(err.contains("check `GITHUB_TOKEN`"), "{err}");
    let err = w.client("revoked").pull(1).unwrap_err().to_string();
    assert!(err.contains("HTTP 401 (Bad credentials)"), "{err}");
    assert!(w.gh.requests().iter().all(|r| r.status == 401));
    w.gh.add_token("bob-gh", "bobs-second-token");
    let user = w.client("bobs-second-token").user("bob-gh").unwrap();
    assert_eq!(user.map(|u| u.kind).as_deref(), Some("User"));
}

#[test]
fn validation_errors_carry_githubs_errors() {
    let w = world();
    pull(&w);
    let err = w
        .client(&w.alice)
        .create_pull("again", "request/alice", "main", "")
        .unwrap_err()
        .to_string();
    assert!(err.contains("HTTP 422 (Validation Failed)"), "{err}");
    assert!(
        err.contains("A pull request already exists for acme:request/alice."),
        "{err}"
    );
}

#[test]
fn team_membership_reports_state_and_none_for_non_members() {
    let w = world();
    w.gh.add_user("carol", "carol@example.com");
    w.gh.add_team("acme", "security", &["bob-gh"]);
    w.gh.set_team_member("acme", "security", "carol", Some("pending"));
    let client = w.client(&w.bot);
    assert_eq!(
        client
            .team_membership("acme", "security", "bob-gh")
            .unwrap()
            .as_deref(),
        Some("active")
    );
    assert_eq!(
        client
            .team_membership("acme", "security", "carol")
            .unwrap()
            .as_deref(),
        Some("pending")
    );
    assert_eq!(
        client
            .team_membership("acme", "security", "alice-gh")
            .unwrap(),
        None
    );
    // GitHub answers 404 for a missing team too; both read as no membership.
    let missing = client.team_membership("acme", "no-such-team", "bob-gh");
    assert_eq!(missing.unwrap(), None);
}

#[test]
fn team_membership_changes_are_idempotent() {
    let w = world();
    w.gh.add_team("acme", "payments-owners", &["bob-gh"]);
    let client = w.client(&w.bot);
    // alice is not in the org yet: GitHub invites her.
    assert_eq!(
        client
            .add_team_membership("acme", "payments-owners", "alice-gh")
            .unwrap(),
        "pending"
    );
    assert_eq!(
        client
            .add_team_membership("acme", "payments-owners", "bob-gh")
            .unwrap(),
        "active"
    );
    client
        .remove_team_membership("acme", "payments-owners", "bob-gh")
        .unwrap();
    client
        .remove_team_membership("acme", "payments-owners", "bob-gh")
        .unwrap();
    assert_eq!(
        w.gh.team("acme", "payments-owners"),
        [("alice-gh".to_owned(), "pending".to_owned())]
    );
    let err = client
        .add_team_membership("acme", "payments-owners", "nobody")
        .unwrap_err()
        .to_string();
    assert!(err.contains("HTTP 404"), "{err}");
}

#[test]
fn commit_files_branch_pull_and_merge_round_trip() {
    let w = world();
    let client = w.client(&w.bot);
    let main = client.branch_sha("main").unwrap().unwrap();
    let grant = b"person: alice\napp: crm\ngrants: []\n".to_vec();
    let commit = client
        .commit_files(
            &main,
            "Grant alice crm",
            &[
                ("access/crm/alice.yaml".to_owned(), Some(grant.clone())),
                ("access/crm/bill.yaml".to_owned(), None),
            ],
        )
        .unwrap();
    assert_eq!(client.branch_sha("request/alice").unwrap(), None);
    client.create_branch("request/alice", &commit).unwrap();
    assert_eq!(
        client.branch_sha("request/alice").unwrap().as_deref(),
        Some(commit.as_str())
    );
    let pr = client
        .create_pull("Grant alice crm", "request/alice", "main", "body")
        .unwrap();
    assert_eq!(pr.user.login, "portcullis[bot]");
    assert_eq!(pr.head.sha, commit);
    let mut files: Vec<(String, String)> = client
        .pull_files(pr.number)
        .unwrap()
        .into_iter()
        .map(|f| (f.filename, f.status))
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            ("access/crm/alice.yaml".to_owned(), "added".to_owned()),
            ("access/crm/bill.yaml".to_owned(), "removed".to_owned()),
        ]
    );

    let merge = client.merge_pull(pr.number, &commit).unwrap();
    assert_eq!(w.gh.branch_sha("main").as_deref(), Some(merge.as_str()));
    assert_eq!(
        w.gh.file_at("main", "access/crm/alice.yaml"),
        Some(grant.clone())
    );
    assert_eq!(w.gh.file_at("main", "access/crm/bill.yaml"), None);
    assert_eq!(
        client.file("access/crm/alice.yaml", "main").unwrap(),
        Some(grant)
    );
    assert_eq!(client.file("access/crm/bill.yaml", "main").unwrap(), None);
    let merged = client.pull(pr.number).unwrap();
    assert!(merged.merged);
    assert_eq!(merged.state, "closed");
    assert_eq!(merged.merge_commit_sha.as_deref(), Some(merge.as_str()));
    let parents: Vec<String> = git2::Repository::open_bare(w.gh.git_dir(REPO))
        .unwrap()
        .find_commit(git2::Oid::from_str(&merge).unwrap())
        .unwrap()
        .parent_ids()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(parents, [main, commit]);
}

#[test]
fn merging_a_stale_head_is_refused_and_fast_forward_is_enforced() {
    let w = world();
    let n = pull(&w);
    let client = w.client(&w.bot);
    let approved = client.pull(n).unwrap().head.sha;
    let pushed = w.gh.push_commit(
        "request/alice",
        &[("access/crm/alice.yaml", Some("person: mallory\n"))],
        "alice@example.com",
    );
    assert_eq!(
        client.pull(n).unwrap().head.sha,
        pushed,
        "head follows the branch"
    );
    let err = client.merge_pull(n, &approved).unwrap_err().to_string();
    assert!(err.contains("HTTP 409"), "{err}");
    assert!(!client.pull(n).unwrap().merged);

    let err = client
        .update_branch("request/alice", &approved, false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("Update is not a fast forward"), "{err}");
    client
        .update_branch("request/alice", &approved, true)
        .unwrap();
    assert_eq!(w.gh.branch_sha("request/alice"), Some(approved));
}

#[test]
fn untrusted_names_are_encoded_not_spliced() {
    let w = world();
    let client = w.client(&w.bot);
    let main = client.branch_sha("main").unwrap().unwrap();
    // Git allows `#` and unicode in branch names (not spaces, `?` or `..`); paths allow all.
    let branch = "req/#1/ü";
    let path = "access/crm/ä b#?..x.yaml";
    let commit = client
        .commit_files(
            &main,
            "odd names",
            &[(path.to_owned(), Some(b"x".to_vec()))],
        )
        .unwrap();
    client.create_branch(branch, &commit).unwrap();
    assert_eq!(client.branch_sha(branch).unwrap(), Some(commit));
    assert_eq!(client.file(path, branch).unwrap(), Some(b"x".to_vec()));
    assert_eq!(client.user("a/b?c#d").unwrap(), None);

    let received: Vec<(String, String)> =
        w.gh.requests()
            .into_iter()
            .filter(|r| r.method == "GET")
            .map(|r| (r.path, r.query))
            .collect();
    assert!(received.contains(&(
        "/repos/acme/access/git/ref/heads/req/%231/%C3%BC".to_owned(),
        String::new()
    )));
    assert!(received.contains(&(
        "/repos/acme/access/contents/access/crm/%C3%A4%20b%23%3F..x.yaml".to_owned(),
        "ref=req%2F%231%2F%C3%BC".to_owned()
    )));
    assert!(received.contains(&("/users/a%2Fb%3Fc%23d".to_owned(), String::new())));

    let before = w.gh.requests().len();
    for bad in ["../secrets", "access/../x", "", "a//b"] {
        assert!(client.file(bad, "main").is_err(), "{bad:?}");
    }
    assert!(client.user("..").is_err());
    assert_eq!(w.gh.requests().len(), before, "nothing was sent");
}

#[test]
fn comments_and_statuses_are_attributed_to_the_token_user() {
    let w = world();
    let n = pull(&w);
    let bot = w.client(&w.bot);
    w.gh.set_now("2027-01-05T12:00:00Z");
    let comment = bot.create_comment(n, "<!-- portcullis -->\nplan").unwrap();
    let user = comment.user.clone().expect("the bot's account");
    assert_eq!(user.login, "portcullis[bot]");
    assert!(
        comment.created_at.starts_with("2027-01-05T12:00:"),
        "{comment:?}"
    );
    assert!(user.is_bot());
    let edited = bot
        .update_comment(comment.id, "<!-- portcullis -->\nnew plan")
        .unwrap();
    assert_eq!(edited.id, comment.id);
    w.gh.comment(&w.bob, n, "/portcullis override urgent");
    let comments = bot.comments(n).unwrap();
    let who: Vec<(&str, &str)> = comments
        .iter()
        .map(|c| {
            (
                c.user.as_ref().map_or("", |u| u.login.as_str()),
                c.body.as_str(),
            )
        })
        .collect();
    assert_eq!(
        who,
        [
            ("portcullis[bot]", "<!-- portcullis -->\nnew plan"),
            ("bob-gh", "/portcullis override urgent"),
        ]
    );

    let head = bot.pull(n).unwrap().head.sha;
    bot.create_status(&head, "pending", "portcullis/approvals", "waiting")
        .unwrap();
    w.client(&w.bob)
        .create_status(&head, "success", "portcullis/approvals", "forged")
        .unwrap();
    let statuses = bot.statuses(&head).unwrap();
    let who: Vec<(&str, &str)> = statuses
        .iter()
        .map(|s| (s.creator.as_ref().unwrap().login.as_str(), s.state.as_str()))
        .collect();
    assert_eq!(who, [("bob-gh", "success"), ("portcullis[bot]", "pending")]);
}

#[test]
fn pull_commits_are_matched_to_users_by_email_and_renames_are_detected() {
    let w = world();
    w.gh.push_commit(
        "move",
        &[
            ("access/crm/bill.yaml", None),
            (
                "access/crm/william.yaml",
                Some("person: bill\napp: crm\ngrants: []\n"),
            ),
        ],
        "alice@example.com",
    );
    w.gh.push_commit(
        "move",
        &[("access/crm/extra.yaml", Some("x\n"))],
        "stranger@example.org",
    );
    let n = w.gh.open_pull(&w.alice, "move", "main", "Rename", "");
    let client = w.client(&w.bot);
    let commits = client.pull_commits(n).unwrap();
    let authors: Vec<Option<String>> = commits
        .iter()
        .map(|c| c.author.as_ref().map(|u| u.login.clone()))
        .collect();
    assert_eq!(authors, [Some("alice-gh".to_owned()), None]);
    let files = client.pull_files(n).unwrap();
    let renamed = files
        .iter()
        .find(|f| f.filename == "access/crm/william.yaml")
        .unwrap();
    assert_eq!(renamed.status, "renamed");
    assert_eq!(
        renamed.previous_filename.as_deref(),
        Some("access/crm/bill.yaml")
    );
}

#[test]
fn reviews_record_the_head_they_were_given_on() {
    let w = world();
    let n = pull(&w);
    let first_head = w.gh.branch_sha("request/alice").unwrap();
    let approval = w.gh.review(&w.bob, n, "APPROVED");
    w.gh.push_commit(
        "request/alice",
        &[("access/crm/alice.yaml", Some("person: alice\nmore: yes\n"))],
        "alice@example.com",
    );
    w.gh.review(&w.bob, n, "CHANGES_REQUESTED");
    w.gh.dismiss_review(n, approval);
    w.gh.review_at(&w.bot, n, "APPROVED", &first_head);
    // GitHub refuses an author's approval; the fake can still record one for defence tests.
    w.gh.force_review("alice-gh", n, "APPROVED", &first_head);
    let reviews = w.client(&w.alice).pull_reviews(n).unwrap();
    let seen: Vec<(&str, &str, bool)> = reviews
        .iter()
        .map(|r| {
            (
                r.user.as_ref().unwrap().login.as_str(),
                r.state.as_str(),
                r.commit_id.as_deref() == Some(first_head.as_str()),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("bob-gh", "DISMISSED", true),
            ("bob-gh", "CHANGES_REQUESTED", false),
            ("portcullis[bot]", "APPROVED", true),
            ("alice-gh", "APPROVED", true),
        ]
    );
    assert!(reviews[2].user.as_ref().unwrap().is_bot());
}

#[test]
fn issues_leave_out_pull_requests_and_filter_by_label() {
    let w = world();
    pull(&w);
    let asked = w.gh.create_issue(
        &w.alice,
        "Access to crm",
        "role: viewer",
        &["access-request"],
    );
    w.gh.create_issue(&w.alice, "Unrelated", "", &["bug"]);
    let client = w.client(&w.bot);
    let issues = client.issues("open", &["access-request"]).unwrap();
    assert_eq!(issues.iter().map(|i| i.number).collect::<Vec<_>>(), [asked]);
    assert_eq!(
        client.issues("open", &[]).unwrap().len(),
        2,
        "the PR is not an issue"
    );

    let issue = client
        .create_issue(
            "Review crm",
            "checklist",
            &["access-review"],
            &["bob-gh".to_owned()],
        )
        .unwrap();
    assert_eq!(issue.user.login, "portcullis[bot]");
    client.add_labels(issue.number, &["due"]).unwrap();
    let closed = client
        .update_issue(issue.number, Some("closed"), None)
        .unwrap();
    assert_eq!(closed.state, "closed");
    let labels: Vec<String> = client
        .issue(issue.number)
        .unwrap()
        .labels
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(labels, ["access-review", "due"]);
}

#[test]
fn pulls_filter_by_head_and_report_merged_from_lists() {
    let w = world();
    let n = pull(&w);
    let client = w.client(&w.bot);
    client
        .request_reviewers(n, &["bob-gh".to_owned()], &[])
        .unwrap();
    assert!(client.pulls("open", Some("acme:other")).unwrap().is_empty());
    let head = client.pull(n).unwrap().head.sha;
    client.merge_pull(n, &head).unwrap();
    assert!(client.pulls("open", None).unwrap().is_empty());
    let all = client.pulls("all", Some("acme:request/alice")).unwrap();
    assert_eq!(all.len(), 1);
    assert!(all[0].merged, "merged comes from merged_at in lists");
    let updated = client.update_pull(n, Some("Renamed"), None, None).unwrap();
    assert_eq!(updated.title, "Renamed");
}

#[test]
fn requests_carry_githubs_headers() {
    let w = world();
    w.client(&w.alice).user("bob-gh").unwrap();
    let request = &w.gh.requests()[0];
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(header("accept"), "application/vnd.github+json");
    assert_eq!(header("x-github-api-version"), "2022-11-28");
    assert_eq!(header("authorization"), "Bearer token-alice-gh");
    assert!(header("user-agent").starts_with("portcullis/"));
}

#[test]
fn large_files_are_read_through_their_blob() {
    let w = world();
    let big: Vec<u8> = (0..1_500_000u32).map(|i| (i % 251) as u8).collect();
    let client = w.client(&w.bot);
    let main = client.branch_sha("main").unwrap().unwrap();
    let commit = client
        .commit_files(
            &main,
            "big",
            &[("policies/people.yaml".to_owned(), Some(big.clone()))],
        )
        .unwrap();
    assert_eq!(
        client.file("policies/people.yaml", &commit).unwrap(),
        Some(big)
    );
    assert_eq!(count(&w.gh, "GET", "/git/blobs/"), 1);
    assert_eq!(client.file("policies/none.yaml", &commit).unwrap(), None);
    let err = client.file("policies", &commit).unwrap_err().to_string();
    assert!(err.contains("is a dir, not a file"), "{err}");
}

/// The contract between the client and GitHub's description: every call portcullis makes,
/// answered with the least GitHub may send for it (every required field and no other, `null`
/// wherever the description allows it, one item in a list), is read, with its meaning.
#[test]
fn every_call_reads_the_least_github_may_send() {
    let w = world();
    let n = pull(&w);
    let client = w.client(&w.bot);
    let sha = client.pull(n).unwrap().head.sha;
    let least = |method: &str, needle: &str, status: u16| {
        w.gh.answer_least_next(method, needle, status);
    };

    least("GET", "/pulls/", 200);
    client.pull(n).unwrap();
    least("GET", "/pulls?", 200);
    assert_eq!(client.pulls("open", None).unwrap().len(), 1);
    least("GET", "/pulls", 200);
    assert_eq!(client.commit_pulls(&sha).unwrap().len(), 1);
    least("GET", "/commits", 200);
    let commits = client.pull_commits(n).unwrap();
    assert!(
        commits[0].author.is_none() && commits[0].committer.is_none(),
        "a commit GitHub links to no account is nobody's"
    );
    least("GET", "/files", 200);
    assert_eq!(client.pull_files(n).unwrap().len(), 1);
    least("GET", "/events", 200);
    assert_eq!(client.issue_events(n).unwrap().len(), 1);
    least("GET", "/reviews", 200);
    let reviews = client.pull_reviews(n).unwrap();
    assert!(reviews[0].user.is_none(), "a review from a deleted account");
    least("GET", "/issues/", 200);
    assert_eq!(client.issue(n).unwrap().user.login, "ghost");
    least("GET", "/issues?", 200);
    assert_eq!(client.issues("open", &[]).unwrap().len(), 1);
    least("GET", "/comments", 200);
    let comments = client.comments(n).unwrap();
    assert!(comments[0].user.is_none() && comments[0].body.is_empty());
    least("GET", "/statuses", 200);
    let statuses = client.statuses(&sha).unwrap();
    assert!(
        !statuses[0].is_by("portcullis[bot]"),
        "a status with no creator is nobody's"
    );
    least("GET", "/members", 200);
    assert_eq!(client.team_members("acme", "crm-owners").unwrap().len(), 1);
    least("GET", "/teams/", 200);
    assert_eq!(client.team("acme", "crm-owners").unwrap(), Some(0));
    least("GET", "/memberships/", 200);
    assert!(
        client
            .team_membership("acme", "crm-owners", "bob-gh")
            .unwrap()
            .is_some()
    );
    least("PUT", "/memberships/", 200);
    client
        .add_team_membership("acme", "crm-owners", "bob-gh")
        .unwrap();
    least("GET", "/users/", 200);
    assert!(client.user("bob-gh").unwrap().is_some());
    least("GET", "/git/ref/", 200);
    assert!(client.branch_sha("main").unwrap().is_some());

    least("POST", "/pulls", 201);
    client
        .create_pull("t", "request/alice", "main", "b")
        .unwrap();
    least("PATCH", "/pulls/", 200);
    client.update_pull(n, Some("t"), None, None).unwrap();
    least("POST", "/issues", 201);
    client.create_issue("t", "b", &[], &[]).unwrap();
    least("PATCH", "/issues/", 200);
    client.update_issue(n, Some("closed"), None).unwrap();
    least("POST", "/comments", 201);
    let id = client.create_comment(n, "b").unwrap().id;
    least("PATCH", "/comments/", 200);
    client.update_comment(id, "c").unwrap();
    least("POST", "/statuses/", 201);
    client
        .create_status(&sha, "success", "portcullis/approvals", "ok")
        .unwrap();
}
