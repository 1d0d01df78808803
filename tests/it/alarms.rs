//! The issues apply owes, in-process over the in-memory GitHub: an alarm is raised once, and a
//! writer cannot make it look raised. Any writer can file an issue with portcullis's label and
//! the alarm's hidden marker before apply runs; only portcullis's own issues count.

use portcullis_core::apply::{Obligation, SECURITY_LABEL};
use portcullis_core::owed::fulfil;
use portcullis_core::ports::github::Alarms;
use portcullis_testkit::MemGitHub;

const BOT: &str = "portcullis[bot]";
const MARKER: &str = "<!-- portcullis:alarm direct-push commit=abc123 -->";

fn alarm() -> Obligation {
    Obligation {
        label: SECURITY_LABEL.into(),
        marker: MARKER.into(),
        title: "A commit reached main without an approved pull request".into(),
        body: "Provisioning of abc123 stopped.".into(),
    }
}

fn raised(gh: &MemGitHub) -> usize {
    gh.issues("all", &[SECURITY_LABEL])
        .unwrap()
        .iter()
        .filter(|i| i.user.login == BOT && i.body.as_deref().is_some_and(|b| b.contains(MARKER)))
        .count()
}

#[test]
fn a_writer_filing_the_marker_first_does_not_silence_the_alarm() {
    let mut gh = MemGitHub::new();
    gh.file_issue(
        "mallory",
        &[SECURITY_LABEL],
        &format!("{MARKER}\nnothing to see"),
    );
    let (mut out, mut failures) = (String::new(), Vec::new());
    let left = fulfil(&gh, Some(BOT), vec![alarm()], &mut out, &mut failures);
    assert!(left.is_empty() && failures.is_empty(), "{failures:?}");
    assert_eq!(raised(&gh), 1, "{out}");
    assert!(out.contains("opened: issue #"), "{out}");
}

/// The control: portcullis's own issue with the marker is not opened again, whatever the case
/// of the login the settings give.
#[test]
fn an_alarm_already_raised_is_not_raised_again() {
    let gh = MemGitHub::new();
    let (mut out, mut failures) = (String::new(), Vec::new());
    fulfil(
        &gh,
        Some(BOT),
        vec![alarm(), alarm()],
        &mut out,
        &mut failures,
    );
    fulfil(
        &gh,
        Some("Portcullis[bot]"),
        vec![alarm()],
        &mut out,
        &mut failures,
    );
    assert_eq!(raised(&gh), 1, "{out}");
    assert!(failures.is_empty());
}

/// Without `bot_login`, an App's installation token cannot say who portcullis is: the alarm is
/// neither dropped nor opened blind, it is kept for the next run and the failure said.
#[test]
fn without_knowing_who_it_is_the_alarm_is_kept_for_the_next_run() {
    let gh = MemGitHub::new();
    let (mut out, mut failures) = (String::new(), Vec::new());
    let left = fulfil(&gh, None, vec![alarm()], &mut out, &mut failures);
    assert_eq!(left.len(), 1);
    assert!(
        failures[0].contains("cannot open the issue"),
        "{failures:?}"
    );
    assert_eq!(raised(&gh), 0);
}
