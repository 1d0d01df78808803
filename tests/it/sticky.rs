//! The sticky comment in-process (`comment::post` over the in-memory GitHub, which lets any
//! writer post anything and edit anyone's comment, as GitHub does): portcullis edits only its
//! own comment, and takes it back from a writer who rewrote it.

use portcullis_core::comment::{MARKER, post};
use portcullis_core::ports::github::GitHub;
use portcullis_testkit::MemGitHub;

/// The workflow's token posts as `github-actions[bot]`, and the workflows pin it.
const ME: &str = "github-actions[bot]";

/// GitHub with Omar's request open (as an issue: comments are the same on both).
fn github() -> (MemGitHub, u64) {
    let mut gh = MemGitHub::new();
    for login in ["omar-tw", ME, "other-app[bot]"] {
        gh.add_user(login);
    }
    gh.token_of(ME);
    let number = gh.file_issue("omar-tw", &[], "VPN for Ana");
    (gh, number)
}

fn plan(text: &str) -> String {
    format!("{MARKER}\n## portcullis\n\n{text}\n")
}

/// A writer posts a comment that looks like ours before the check runs, to have their text
/// shown as the plan: it is never edited, and ours is posted beside it.
#[test]
fn a_writers_comment_with_the_marker_is_not_the_sticky_comment() {
    let (mut gh, pr) = github();
    let theirs = gh.comment(pr, "omar-tw", &plan("Approved, nothing to see"));
    let posted = post(&gh, pr, &plan("admin for omar: needs security"), Some(ME)).unwrap();
    assert_ne!(posted.id, theirs);
    let comments = gh.comments(pr).unwrap();
    assert_eq!(comments.len(), 2);
    assert!(
        comments[0].body.contains("nothing to see"),
        "theirs untouched"
    );
}

/// With the author pinned, another App's bot posting the marker is not us either.
#[test]
fn another_bots_comment_with_the_marker_is_not_ours_when_the_author_is_pinned() {
    let (mut gh, pr) = github();
    let theirs = gh.comment(pr, "other-app[bot]", &plan("fine"));
    let posted = post(&gh, pr, &plan("needs security"), Some(ME)).unwrap();
    assert_ne!(posted.id, theirs);
    assert_eq!(gh.comments(pr).unwrap().len(), 2);
}

/// A writer edits portcullis's comment to say something else: the next run puts the plan
/// back in the same comment, and no second comment appears.
#[test]
fn our_comment_rewritten_by_a_writer_is_put_back_in_place() {
    let (mut gh, pr) = github();
    let ours = post(&gh, pr, &plan("needs security"), Some(ME)).unwrap();
    gh.edit_comment(ours.id, &plan("approved by everyone"));
    let again = post(&gh, pr, &plan("needs security"), Some(ME)).unwrap();
    assert_eq!(again.id, ours.id);
    let comments = gh.comments(pr).unwrap();
    assert_eq!(comments.len(), 1);
    assert!(comments[0].body.contains("needs security"));
}

mod reminders {
    use chrono::NaiveDate;
    use portcullis_core::lifecycle::remind::{Expiring, Group, LABEL, notify};
    use portcullis_core::model::Catalog;
    use portcullis_core::ports::github::{Alarms, GitHub};
    use portcullis_testkit::MemGitHub;

    use super::ME;

    fn group() -> Group {
        Group {
            owners: vec!["@tidewater/it".into()],
            grants: vec![Expiring {
                file: "access/vpn/ana.yaml".into(),
                line: 4,
                person: "ana".into(),
                github: Some("ana-tw".into()),
                app: "vpn".into(),
                role: "staff".into(),
                expires: "2026-11-25".into(),
                owners: vec!["@tidewater/it".into()],
            }],
        }
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    /// A writer files a look-alike tracking issue with the group's marker, and comments the
    /// day's marker on it: portcullis opens its own issue and posts the reminder there.
    #[test]
    fn a_writers_look_alike_issue_neither_takes_nor_stops_the_reminder() {
        let mut gh = MemGitHub::new();
        gh.add_user("omar-tw");
        gh.token_of(ME);
        let g = group();
        let fake = gh.file_issue("omar-tw", &[LABEL], &g.issue_body());
        gh.comment(fake, "omar-tw", &g.day_marker(day(22)));
        let catalog = Catalog::default();
        let (issue, status) = notify(&gh, &catalog, &g, day(22), Some(ME)).unwrap();
        assert_ne!(issue, fake);
        assert_eq!(status, "posted");
        assert_eq!(gh.issues("open", &[LABEL]).unwrap().len(), 2);
    }

    /// Once a day: the second run the same day posts nothing, the next day's posts again on the
    /// same issue.
    #[test]
    fn one_reminder_a_day_on_one_issue() {
        let mut gh = MemGitHub::new();
        gh.token_of(ME);
        let (g, catalog) = (group(), Catalog::default());
        let (first, _) = notify(&gh, &catalog, &g, day(22), Some(ME)).unwrap();
        let again = notify(&gh, &catalog, &g, day(22), Some(ME)).unwrap();
        assert_eq!(again, (first, "already posted today"));
        let next = notify(&gh, &catalog, &g, day(23), Some(ME)).unwrap();
        assert_eq!(next, (first, "posted"));
        assert_eq!(gh.comments(first).unwrap().len(), 2);
    }
}
