//! The `portcullis/approvals` status in-process, over the in-memory GitHub where any writer can
//! set any status in any context: a writer's early status does not stand in for ours (it would
//! make the head look seen, and then no override could count), ours is not set twice, and a
//! judgement that fails never leaves the gate pending.

use portcullis_core::approval::pull::STATUS_CONTEXT;
use portcullis_core::approval::status::{mark_seen, report_failure};
use portcullis_core::ports::github::GitHub;
use portcullis_testkit::MemGitHub;

const BOT: &str = "portcullis[bot]";
const HEAD: &str = "2222222222222222222222222222222222222222";

fn ours(gh: &MemGitHub, sha: &str) -> Vec<(String, Option<String>)> {
    gh.statuses(sha)
        .unwrap()
        .into_iter()
        .filter(|s| s.context == STATUS_CONTEXT && s.is_by(BOT))
        .map(|s| (s.state, s.description))
        .collect()
}

#[test]
fn a_writers_early_status_does_not_mark_the_head_as_seen() {
    let mut gh = MemGitHub::new();
    gh.status(HEAD, "mallory", STATUS_CONTEXT, "pending");
    mark_seen(&gh, HEAD, Some(BOT)).unwrap();
    assert_eq!(
        ours(&gh, HEAD),
        [("pending".to_owned(), Some("judging approvals".to_owned()))]
    );
}

#[test]
fn our_own_status_is_not_set_twice() {
    let gh = MemGitHub::new();
    mark_seen(&gh, HEAD, Some(BOT)).unwrap();
    mark_seen(&gh, HEAD, Some("Portcullis[bot]")).unwrap();
    assert_eq!(ours(&gh, HEAD).len(), 1);
}

/// Without knowing its account, portcullis cannot tell its status from a writer's: it sets
/// its own every time rather than trust one it cannot attribute.
#[test]
fn without_knowing_who_it_is_it_sets_its_own() {
    let mut gh = MemGitHub::new();
    gh.status(HEAD, BOT, STATUS_CONTEXT, "pending");
    mark_seen(&gh, HEAD, None).unwrap();
    assert_eq!(ours(&gh, HEAD).len(), 2);
}

#[test]
fn a_failed_judgement_ends_the_gate_as_error_in_one_line() {
    let mut gh = MemGitHub::new();
    gh.open_pull(
        7,
        "omar-tw",
        "feature",
        HEAD,
        "base",
        &[("c1", Some("omar-tw"))],
        "",
    );
    let long = "x".repeat(300);
    let error = anyhow::anyhow!("cannot list the reviews: {long}\nsecond line");
    report_failure(&gh, 7, &error);
    let set = ours(&gh, HEAD);
    assert_eq!(set.len(), 1);
    assert_eq!(set[0].0, "error");
    let why = set[0].1.clone().unwrap();
    assert!(
        why.starts_with("portcullis failed: cannot list the reviews"),
        "{why}"
    );
    assert_eq!(why.chars().count(), 140);
    assert!(!why.contains("second line"));
}
