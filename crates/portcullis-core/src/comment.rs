//! The sticky pull-request comment: check result, approvals still missing, and the plan with
//! insights. Found again by a hidden marker and edited in place. Every piece of text that
//! came from a file or from GitHub is escaped; long sections fold into `<details>`; the body
//! stays under GitHub's size limit by shortening sections, never by cutting markup in half.

use std::fmt::Write;

use crate::approval::{How, Verdict};
use crate::diag::Report;
use crate::diag::render::markdown::escape;
use crate::plan::Plan;

/// The hidden marker that identifies our comment among the PR's comments.
pub const MARKER: &str = "<!-- portcullis:sticky-comment -->";

/// Whether a comment or issue is portcullis's own, so that it may be updated or counted: by
/// `author` when the account it writes as is pinned (`PORTCULLIS_COMMENT_AUTHOR`; the bundled
/// workflows pin `github-actions[bot]`, whose token they post with), else by any bot. A person
/// pasting a marker never makes us edit or count theirs; with the account pinned, neither does
/// another App's bot.
pub fn is_ours(user: Option<&crate::ports::github::User>, author: Option<&str>) -> bool {
    let Some(user) = user else {
        return false;
    };
    match author {
        Some(login) if !login.is_empty() => crate::model::Login::new(&user.login).is(login),
        _ => user.is_bot(),
    }
}

/// Posts `body` as the sticky comment of pull request `number`: portcullis's own comment with
/// the marker is edited in place; a comment anyone else posted with the marker is left alone
/// and a new one is posted. `author` as for [`is_ours`].
pub fn post(
    github: &dyn crate::ports::github::Comments,
    number: u64,
    body: &str,
    author: Option<&str>,
) -> anyhow::Result<crate::ports::github::Comment> {
    let ours = github
        .comments(number)?
        .into_iter()
        .find(|c| c.body.starts_with(MARKER) && is_ours(c.user.as_ref(), author));
    match ours {
        Some(c) => github.update_comment(c.id, body),
        None => github.create_comment(number, body),
    }
}

/// GitHub refuses comment bodies over 65,536 characters; stay well under it.
pub const LIMIT: usize = 60_000;

/// Rows shown before a table folds.
const FOLD_ROWS: usize = 10;

pub fn body(report: &Report, plan: &Plan, verdict: Option<&Verdict>, head_sha: &str) -> String {
    let head = format!(
        "{MARKER}\n## portcullis\n\n{}\n\n",
        headline(report, plan, verdict)
    );
    let approvals = verdict.map(approvals_section).unwrap_or_default();
    let footer = format!(
        "\n<sub>Updated for commit {}. This comment is edited in place on every push.</sub>\n",
        escape(crate::model::short_commit(head_sha))
    );
    let full = [
        check_section(report, usize::MAX),
        crate::plan::render::markdown(plan),
    ];
    let assemble = |parts: &[String]| -> String {
        let mut s = head.clone();
        s.push_str(&approvals);
        for p in parts {
            s.push_str(p);
            s.push('\n');
        }
        s.push_str(&footer);
        s
    };
    let body = assemble(&full);
    if body.len() <= LIMIT {
        return body;
    }
    // Too long: the plan's table without the per-change details, then fewer check rows.
    let compact_plan = compact(&crate::plan::render::markdown(plan));
    for rows in [200, 50, 10, 0] {
        let body = assemble(&[check_section(report, rows), compact_plan.clone()]);
        if body.len() <= LIMIT {
            return body;
        }
    }
    assemble(&[
        check_section(report, 0),
        format!(
            "### Plan\n\n{} changes: too many to show here. Run `portcullis plan --base <base>` locally.\n",
            plan.changes.len()
        ),
    ])
}

fn headline(report: &Report, plan: &Plan, verdict: Option<&Verdict>) -> String {
    let check = if report.failed() {
        format!("❌ check failed ({} errors)", report.errors())
    } else {
        "✔️ check passed".to_owned()
    };
    let approvals = match verdict {
        None => String::new(),
        Some(v) if v.refused.is_some() => " · ❌ refused".to_owned(),
        Some(v) if v.approved => " · ✔️ approvals complete".to_owned(),
        Some(_) => " · ⏳ approvals missing".to_owned(),
    };
    format!(
        "**{check}** · {} grant changes{approvals}",
        plan.changes.len()
    )
}

fn approvals_section(v: &Verdict) -> String {
    let mut out = String::from("### Approvals\n\n");
    if let Some(r) = &v.refused {
        let _ = writeln!(out, "Refused: {}\n", escape(r));
        return out;
    }
    for c in &v.changes {
        let state = match &c.how {
            How::Approved => {
                let by: Vec<String> = c
                    .met
                    .iter()
                    .map(|(what, who)| format!("{what}: `{}`", escape(who.as_str())))
                    .collect();
                format!("approved ({})", by.join(", "))
            }
            How::AutoApproved(why) => format!("auto-approved: {}", escape(why)),
            How::Overridden { by, reason } => {
                format!(
                    "overridden by `{}`: {}",
                    escape(by.as_str()),
                    escape(reason)
                )
            }
            How::Missing => {
                let needs: Vec<String> = c
                    .missing
                    .iter()
                    .map(|(what, who)| {
                        let who: Vec<String> = who
                            .iter()
                            .map(|w| format!("`{}`", escape(w.as_str())))
                            .collect();
                        if who.is_empty() {
                            format!("{} (nobody eligible)", escape(what))
                        } else {
                            format!("{} (one of {})", escape(what), who.join(", "))
                        }
                    })
                    .collect();
                format!("**still needs** {}", needs.join("; "))
            }
        };
        let _ = writeln!(out, "- {}: {state}", escape(&c.label));
    }
    if !v.ignored.is_empty() {
        let _ = writeln!(
            out,
            "\n<details><summary>{} reviews or commands not counted</summary>\n",
            v.ignored.len()
        );
        for i in &v.ignored {
            let _ = writeln!(out, "- {}", escape(i));
        }
        out.push_str("\n</details>\n");
    }
    out.push('\n');
    out
}

/// The check result; at most `rows` findings (errors first), the rest counted.
fn check_section(report: &Report, rows: usize) -> String {
    let table = crate::diag::render::markdown::render(report);
    let mut lines: Vec<&str> = table.lines().collect();
    // Heading and counts stay outside the fold; the table folds when long.
    let split = lines
        .iter()
        .position(|l| l.starts_with("| severity"))
        .unwrap_or(lines.len());
    let rest: Vec<&str> = lines.split_off(split);
    let mut out = lines.join("\n");
    out.push('\n');
    if rest.len() <= 2 {
        return out;
    }
    let (header, body) = rest.split_at(2);
    let shown = body.len().min(rows);
    let mut table = header.join("\n");
    table.push('\n');
    for l in &body[..shown] {
        table.push_str(l);
        table.push('\n');
    }
    if shown < body.len() {
        let _ = writeln!(
            table,
            "\n{} more findings not shown: run `portcullis check` locally.",
            body.len() - shown
        );
    }
    if body.len() > FOLD_ROWS {
        let _ = write!(
            out,
            "<details><summary>{} findings</summary>\n\n{table}\n</details>\n",
            body.len()
        );
    } else {
        out.push_str(&table);
    }
    out
}

/// The plan without its per-change `<details>` blocks.
fn compact(markdown: &str) -> String {
    let cut = markdown.find("<details>").unwrap_or(markdown.len());
    let mut out = markdown[..cut].to_owned();
    out.push_str("Per-change insights are left out to fit GitHub's comment size limit; run `portcullis plan` locally for them.\n");
    out
}

#[cfg(test)]
mod ours {
    use super::is_ours;
    use crate::ports::github::User;

    fn user(login: &str, kind: &str) -> User {
        User {
            login: login.into(),
            id: 1,
            kind: kind.into(),
        }
    }

    #[test]
    fn only_portcullis_own_account_is_ours_when_it_is_known() {
        let me = Some("portcullis[bot]");
        assert!(is_ours(Some(&user("Portcullis[bot]", "Bot")), me));
        assert!(!is_ours(Some(&user("other-app[bot]", "Bot")), me));
        assert!(!is_ours(Some(&user("mallory", "User")), me));
        assert!(!is_ours(None, me), "a deleted account is nobody");
        // Unknown account: any bot, never a person.
        assert!(is_ours(Some(&user("github-actions[bot]", "Bot")), None));
        assert!(!is_ours(Some(&user("mallory", "User")), None));
    }
}
