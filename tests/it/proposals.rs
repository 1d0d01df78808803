//! The lifecycle commands' proposals in-process, over the in-memory GitHub (which refuses what
//! GitHub refuses: a second open pull request from one branch, a commit on a parent it does
//! not hold, a review asked of a team the repository does not know): one pull request per
//! purpose, rebuilt from the base branch's tip on every run, never from its own last commit.

use portcullis_core::lifecycle::Edits;
use portcullis_core::lifecycle::propose::{
    Proposal, Proposed, base_sha, close, find_open, propose, refresh,
};
use portcullis_core::ports::github::{GitHub, Proposals};
use portcullis_core::snapshot::Snapshot;
use portcullis_testkit::MemGitHub;

const BRANCH: &str = "portcullis/expire";

fn github() -> MemGitHub {
    let mut gh = MemGitHub::new();
    gh.add_team("tidewater", "it", &["ivan"]);
    gh.seed_branch(
        "main",
        &[
            ("access/vpn/ada.yaml", "ada v1\n"),
            ("access/vpn/bob.yaml", "bob v1\n"),
        ],
    );
    gh
}

fn edits(pairs: &[(&str, Option<&str>)]) -> Edits {
    pairs
        .iter()
        .map(|(p, t)| ((*p).to_owned(), t.map(str::to_owned)))
        .collect()
}

fn proposal<'a>(title: &'a str, edits: &'a Edits, owners: &'a [String]) -> Proposal<'a> {
    Proposal {
        branch: BRANCH,
        title,
        body: title,
        message: title,
        edits,
        owners,
    }
}

#[test]
fn a_second_run_updates_its_pull_request_from_the_new_base() {
    let gh = github();
    let owners = vec!["@tidewater/it".to_owned()];
    let first = edits(&[("access/vpn/ada.yaml", None)]);
    let base = base_sha(&gh, "main").unwrap();
    let (opened, warning) = propose(&gh, "main", &base, &proposal("one", &first, &owners)).unwrap();
    assert!(warning.is_none(), "{warning:?}");
    let Proposed::Opened(pull) = opened else {
        panic!("a first run opens")
    };
    assert_eq!(gh.review_requests(pull.number).1, ["it"]);
    assert!(!gh.files_of(BRANCH).contains_key("access/vpn/ada.yaml"));

    // Meanwhile bob's grant is renewed on main; the next run proposes only bob's removal.
    let mut main = gh.files_of("main");
    main.insert("access/vpn/bob.yaml".into(), "bob v2\n".into());
    let changes: Vec<(String, Option<Vec<u8>>)> = main
        .iter()
        .map(|(p, t)| (p.clone(), Some(t.clone().into_bytes())))
        .collect();
    let renewed = gh.commit_files(&base, "renew bob", &changes).unwrap();
    gh.update_branch("main", &renewed, false).unwrap();
    let second = edits(&[("access/vpn/bob.yaml", None)]);
    let base = base_sha(&gh, "main").unwrap();
    let (updated, _) = propose(&gh, "main", &base, &proposal("two", &second, &owners)).unwrap();
    let Proposed::Updated(again) = updated else {
        panic!("a second run updates")
    };
    assert_eq!(again.number, pull.number);
    assert_eq!(again.title, "two");
    assert_eq!(gh.pulls("open", None).unwrap().len(), 1);
    // Rebuilt from main's tip: ada (only the first run removed her) is back, bob is gone.
    let files = gh.files_of(BRANCH);
    assert_eq!(
        files.get("access/vpn/ada.yaml").map(String::as_str),
        Some("ada v1\n")
    );
    assert!(!files.contains_key("access/vpn/bob.yaml"));
    assert_eq!(
        find_open(&gh, BRANCH).unwrap().unwrap().head.sha,
        gh.branch_sha(BRANCH).unwrap().unwrap()
    );
}

#[test]
fn a_leftover_branch_is_moved_and_a_pull_request_opened() {
    let gh = github();
    let base = base_sha(&gh, "main").unwrap();
    let stale = gh.commit_files(&base, "old", &[]).unwrap();
    gh.create_branch(BRANCH, &stale).unwrap();
    let e = edits(&[("access/vpn/bob.yaml", None)]);
    let (p, _) = propose(&gh, "main", &base, &proposal("t", &e, &[])).unwrap();
    assert!(matches!(p, Proposed::Opened(_)));
    assert_ne!(gh.branch_sha(BRANCH).unwrap().unwrap(), stale);
}

/// GitHub refuses a second open pull request from the same branch: the flow must find the open
/// one rather than try again.
#[test]
fn github_refuses_a_second_pull_request_from_one_branch() {
    let gh = github();
    let base = base_sha(&gh, "main").unwrap();
    let e = edits(&[("access/vpn/bob.yaml", None)]);
    propose(&gh, "main", &base, &proposal("t", &e, &[])).unwrap();
    let err = gh.create_pull("again", BRANCH, "main", "").unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
}

#[test]
fn a_refused_review_request_is_a_warning_and_the_pull_request_stays() {
    let gh = github();
    let base = base_sha(&gh, "main").unwrap();
    let e = edits(&[("access/vpn/bob.yaml", None)]);
    let owners = vec!["@tidewater/nobody".to_owned()];
    let (p, warning) = propose(&gh, "main", &base, &proposal("t", &e, &owners)).unwrap();
    assert!(
        warning
            .as_deref()
            .is_some_and(|w| w.contains("could not request reviews from @tidewater/nobody")),
        "{warning:?}"
    );
    assert_eq!(
        find_open(&gh, BRANCH).unwrap().unwrap().number,
        p.pull().number
    );
}

/// A checkout older than main: its copies are replaced by main's, and a file main removed is
/// removed, so an edit is never computed from (and never reverts to) a stale copy.
#[test]
fn refresh_takes_the_base_branchs_copies() {
    let gh = github();
    let base = base_sha(&gh, "main").unwrap();
    let mut snap = Snapshot::default();
    snap.insert_bytes("access/vpn/ada.yaml", b"ada v0\n");
    snap.insert_bytes("access/vpn/bob.yaml", b"bob v1\n");
    snap.insert_bytes("access/vpn/cy.yaml", b"cy\n");
    let paths: Vec<String> = ["ada", "bob", "cy"]
        .iter()
        .map(|p| format!("access/vpn/{p}.yaml"))
        .collect();
    let changed = refresh(&gh, &base, &mut snap, paths.iter()).unwrap();
    assert_eq!(changed, ["access/vpn/ada.yaml", "access/vpn/cy.yaml"]);
    assert!(snap.get("access/vpn/cy.yaml").is_none());
    assert!(matches!(
        snap.get("access/vpn/ada.yaml"),
        Some(portcullis_core::snapshot::Entry::File(b)) if &b[..] == b"ada v1\n"
    ));
}

#[test]
fn closing_says_why_and_leaves_nothing_open() {
    let gh = github();
    let base = base_sha(&gh, "main").unwrap();
    let e = edits(&[("access/vpn/bob.yaml", None)]);
    let (p, _) = propose(&gh, "main", &base, &proposal("t", &e, &[])).unwrap();
    close(&gh, p.pull().number, "stale: the grants were renewed").unwrap();
    assert!(find_open(&gh, BRANCH).unwrap().is_none());
    use portcullis_core::ports::github::GitHub;
    let said = gh.comments(p.pull().number).unwrap();
    assert_eq!(said.len(), 1);
    assert!(said[0].body.contains("renewed"));
}

#[test]
fn a_missing_base_branch_is_named() {
    let gh = github();
    let err = base_sha(&gh, "trunk").unwrap_err().to_string();
    assert!(
        err.contains("`trunk` does not exist") && err.contains("--base-branch"),
        "{err}"
    );
}

mod requests {
    use chrono::{TimeZone, Utc};
    use portcullis_core::ports::Repo as _;
    use portcullis_core::ports::github::GitHub;
    use portcullis_core::request::pr;
    use portcullis_core::snapshot::Entry;
    use portcullis_testkit::{MemGitHub, MemRepo, OrgBuilder};

    const FORM: &str = "### App\n\nvpn\n\n### Role\n\nstaff\n\n### Duration\n\n_No response_\n\n### Expires\n\n_No response_\n\n### Justification\n\nWorks from the road most of the week\n\n### Ticket\n\n_No response_\n\n### Person\n\nana\n";

    /// Tidewater on `main` in both the repository and GitHub; the checkout's snapshot.
    fn world() -> (MemGitHub, portcullis_core::snapshot::Snapshot) {
        let (mut repo, mut gh) = (MemRepo::new(), MemGitHub::new());
        OrgBuilder::new().build(&mut repo, &mut gh);
        let snap = repo.governed("main").unwrap();
        let files: Vec<(String, String)> = snap
            .files
            .iter()
            .filter_map(|(p, e)| match e {
                Entry::File(b) => Some((p.clone(), String::from_utf8_lossy(b).into_owned())),
                _ => None,
            })
            .collect();
        let files: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        gh.seed_branch("main", &files);
        (gh, snap)
    }

    /// SPEC section 6: a request from an issue names the issue in its branch, which nobody can
    /// change once the pull request is open, so whoever asked is excluded from approving it; the
    /// issue is answered once, and asking again while it is open is refused, not duplicated.
    #[test]
    fn a_request_from_an_issue_carries_the_issue_and_is_answered_once() {
        let (mut gh, snap) = world();
        let as_of = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        let issue = gh.file_issue("ana-tw", &["access-request"], FORM);
        let pull = pr::from_issue(&gh, &snap, issue, "main", as_of)
            .unwrap()
            .expect("a pull request");
        assert!(
            pull.head.name.ends_with(&format!("/issue-{issue}")),
            "{}",
            pull.head.name
        );
        assert!(
            pull.body
                .as_deref()
                .unwrap_or_default()
                .contains(&format!("Requested in #{issue}."))
        );
        let again = pr::from_issue(&gh, &snap, issue, "main", as_of).unwrap();
        assert!(again.unwrap_err().contains("already open"));
        assert_eq!(gh.comments(issue).unwrap().len(), 1, "answered once");
    }

    /// Another App's bot answers first with portcullis's marker: that is not portcullis's
    /// answer, and a request that cannot be made is still explained on the issue.
    #[test]
    fn another_bots_look_alike_answer_does_not_silence_the_explanation() {
        let (mut gh, snap) = world();
        gh.add_user("other-app[bot]");
        let as_of = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        let bad = FORM.replace("staff", "no-such-role");
        let issue = gh.file_issue("ana-tw", &["access-request"], &bad);
        gh.comment(
            issue,
            "other-app[bot]",
            "<!-- portcullis:request -->\nAll done.",
        );
        let answer = pr::from_issue(&gh, &snap, issue, "main", as_of).unwrap();
        assert!(answer.is_err());
        let comments = gh.comments(issue).unwrap();
        assert_eq!(comments.len(), 2, "explained beside the look-alike");
        assert!(
            comments[1]
                .body
                .contains("could not be turned into a pull request")
        );
    }
}
