//! The `portcullis/approvals` merge gate's status: set pending before the judgement (which marks
//! the head as seen, so an override written before it does not count), then the verdict, or
//! `error` when the judgement failed, so the gate is never left pending.

use anyhow::Result;

use super::Verdict;
use super::pull::STATUS_CONTEXT;
use crate::ports::github::Statuses;

/// Sets our pending status on `head` unless ours is already there. Only our own status (by
/// `me`, portcullis's account from the default branch's settings) marks the head as seen: a
/// writer's early one in the same context must not stop us from setting ours. Without `me`
/// nothing can be told apart, and ours is set.
pub fn mark_seen(github: &dyn Statuses, head: &str, me: Option<&str>) -> Result<()> {
    let seen = github
        .statuses(head)?
        .iter()
        .any(|s| s.context == STATUS_CONTEXT && me.is_some_and(|me| s.is_by(me)));
    if !seen {
        github.create_status(head, "pending", STATUS_CONTEXT, "judging approvals")?;
    }
    Ok(())
}

/// The verdict as the gate's status.
pub fn report(github: &dyn Statuses, head: &str, verdict: &Verdict) -> Result<()> {
    let state = if verdict.approved {
        "success"
    } else {
        "failure"
    };
    github.create_status(head, state, STATUS_CONTEXT, &verdict.status_description())
}

/// A judgement that failed ends the pending status as `error`, naming the failure in its first
/// line (GitHub keeps 140 characters). Best effort: the failure itself is what the caller
/// reports.
pub fn report_failure(github: &dyn Statuses, number: u64, error: &anyhow::Error) {
    let Ok(pull) = github.pull(number) else {
        return;
    };
    let why: String = format!("portcullis failed: {error:#}")
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(140)
        .collect();
    let _ = github.create_status(&pull.head.sha, "error", STATUS_CONTEXT, &why);
}
