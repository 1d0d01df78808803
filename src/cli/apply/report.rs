//! How `apply` (and `reconcile`) say what they did and end: held targets by reason, the
//! operations, and the exit code; a refusal, with the security team told when it is theirs.

use std::fmt::Write as _;

use anyhow::{Result, anyhow};

use std::ops::ControlFlow;

use crate::cli::Exit;
use crate::cli::applier::{self, Refusal};
use portcullis_core::apply as gate;
use portcullis_core::provision::ops::{self, Hold, Op};
use portcullis_github::Client;

/// Held targets, one line per reason: a system that is down holds all its targets at once.
pub(crate) fn report_held(out: &mut String, held: &[ops::Held], failures: &mut Vec<String>) {
    let mut by_reason: Vec<(String, Vec<String>)> = Vec::new();
    for h in held {
        let reason = h.hold.to_string();
        match by_reason.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, targets)) => targets.push(h.target.to_string()),
            None => by_reason.push((reason, vec![h.target.to_string()])),
        }
        if matches!(h.hold, Hold::ListingFailed(_)) {
            failures.push(format!("`{}` could not be listed", h.target));
        }
    }
    for (reason, targets) in by_reason {
        let _ = writeln!(out, "held: {}: {reason}", targets.join(", "));
    }
}

/// Exit 2 when a target or GitHub failed, 1 when something was refused or held back.
pub(crate) fn finish(failures: Vec<String>, refused: bool) -> Result<Exit> {
    if !failures.is_empty() {
        let shown: Vec<&str> = failures.iter().take(5).map(String::as_str).collect();
        let more = if failures.len() > 5 {
            format!(" and {} more", failures.len() - 5)
        } else {
            String::new()
        };
        return Err(anyhow!(
            "{} (details above): {}{more}\nhint: everything else was done and recorded; the next run retries what failed",
            portcullis_core::diag::render::text::counted(failures.len(), "failure"),
            shown.join("; ")
        ));
    }
    Ok(if refused {
        Exit::Findings
    } else {
        Exit::Success
    })
}

pub(crate) fn describe(op: &Op) -> String {
    format!("{} `{}` in `{}`", op.kind.as_str(), op.account, op.target)
}

/// What a dry run would do, and that it wrote nothing.
pub(super) fn dry_run(out: &mut String, work: &[(Op, Option<String>)]) {
    for (op, _) in work {
        let _ = writeln!(out, "would {}: {}", describe(op), op.why);
    }
    let _ = writeln!(
        out,
        "dry run: {} planned, nothing was written",
        portcullis_core::diag::render::text::counted(work.len(), "change")
    );
}

pub(crate) fn refuse(r: Refusal) -> Result<Exit> {
    eprintln!("refused: {}", r.0);
    Ok(Exit::Findings)
}

/// A step of the run: what it found, or the outcome the run stops with.
pub(super) type Step<T> = Result<ControlFlow<Exit, T>>;

/// Stops the run with a refusal.
pub(super) fn stop<T>(r: Refusal) -> Step<T> {
    refuse(r).map(ControlFlow::Break)
}

/// Refuses the run and tells the security team once (by the issue's marker).
pub(super) fn refuse_with_alarm<T>(
    client: &Client,
    bot_login: Option<&str>,
    marker: &str,
    title: &str,
    body: &str,
    refusal: String,
    dry_run: bool,
) -> Step<T> {
    if !dry_run {
        let mut issues =
            applier::Issues::new(client, gate::SECURITY_LABEL, bot_login.map(str::to_owned));
        if let Err(e) = issues.once(marker, title, &format!("{marker}\n{body}")) {
            eprintln!("error: cannot open the security team's issue: {e:#}");
        }
    }
    stop(Refusal(refusal))
}

/// A commit id as the output shows it.
pub(super) fn short(sha: &str) -> &str {
    portcullis_core::model::short_id(sha, 10)
}
