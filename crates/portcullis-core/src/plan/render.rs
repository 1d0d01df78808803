//! The plan as text, JSON (SPEC section 5) and markdown (for the PR comment). The JSON shape
//! is its own type; user text in markdown goes through the table-cell escaper.

use std::fmt::Write;

use serde::Serialize;

use super::insights::Insights;
use super::{Change, GrantView, Op, Plan, requirement_label};
use crate::diag::render::markdown::escape;
use crate::model::Severity;

#[derive(Serialize)]
struct JsonPlan<'a> {
    changes: Vec<JsonChange<'a>>,
}

#[derive(Serialize)]
struct JsonChange<'a> {
    op: &'static str,
    person: &'a str,
    app: &'a str,
    role: &'a str,
    file: &'a str,
    before: Option<JsonGrant<'a>>,
    after: Option<JsonGrant<'a>>,
    approvals: Vec<String>,
    approvals_reason: &'a str,
    risk: Option<&'static str>,
    privileged: bool,
    emergency: bool,
    insights: JsonInsights<'a>,
}

#[derive(Serialize)]
struct JsonGrant<'a> {
    role: &'a str,
    justification: Option<&'a str>,
    expires: Option<&'a str>,
    ticket: Option<&'a str>,
    emergency: bool,
    reviewed: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonInsights<'a> {
    person: Option<JsonPerson<'a>>,
    other_access: &'a [String],
    peers: Option<JsonPeers<'a>>,
    auto_approve: Option<JsonAuto<'a>>,
    history: Vec<JsonEvent<'a>>,
    expiry: Option<JsonExpiry<'a>>,
    sod: Vec<JsonSod<'a>>,
}

#[derive(Serialize)]
struct JsonPerson<'a> {
    name: &'a str,
    department: &'a str,
    title: Option<&'a str>,
    manager: Option<&'a str>,
    manager_github: Option<&'a str>,
    github: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'a str,
    leaver: bool,
}

#[derive(Serialize)]
struct JsonPeers<'a> {
    department: &'a str,
    holding: usize,
    total: usize,
}

#[derive(Serialize)]
struct JsonAuto<'a> {
    met: bool,
    reason: &'a str,
}

#[derive(Serialize)]
struct JsonEvent<'a> {
    commit: &'a str,
    date: String,
    op: &'static str,
    summary: &'a str,
    expires: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonExpiry<'a> {
    expires: Option<&'a str>,
    max: &'a str,
    within_policy: bool,
    days_left: Option<i64>,
}

#[derive(Serialize)]
struct JsonSod<'a> {
    rule: &'a str,
    severity: &'static str,
    with: &'a [String],
    excepted: bool,
}

fn grant_json(g: &GrantView) -> JsonGrant<'_> {
    JsonGrant {
        role: &g.role,
        justification: g.justification.as_deref(),
        expires: g.expires.as_deref(),
        ticket: g.ticket.as_deref(),
        emergency: g.emergency,
        reviewed: g.reviewed.as_deref(),
    }
}

fn insights_json(i: &Insights) -> JsonInsights<'_> {
    JsonInsights {
        person: i.person.as_ref().map(|p| JsonPerson {
            name: &p.name,
            department: &p.department,
            title: p.title.as_deref(),
            manager: p.manager.as_deref(),
            manager_github: p.manager_github.as_deref(),
            github: p.github.as_deref(),
            kind: p.kind,
            leaver: p.leaver,
        }),
        other_access: &i.other_access,
        peers: i.peers.as_ref().map(|p| JsonPeers {
            department: &p.department,
            holding: p.holding,
            total: p.total,
        }),
        auto_approve: i.auto_approve.as_ref().map(|a| JsonAuto {
            met: a.met,
            reason: &a.reason,
        }),
        history: i
            .history
            .iter()
            .map(|e| JsonEvent {
                commit: &e.commit,
                date: e.date.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                op: e.op.as_str(),
                summary: &e.summary,
                expires: e.expires.as_deref(),
            })
            .collect(),
        expiry: i.expiry.as_ref().map(|e| JsonExpiry {
            expires: e.expires.as_deref(),
            max: &e.max,
            within_policy: e.within,
            days_left: e.days_left,
        }),
        sod: i
            .sod
            .iter()
            .map(|s| JsonSod {
                rule: &s.rule,
                severity: severity(s.severity),
                with: &s.with,
                excepted: s.excepted,
            })
            .collect(),
    }
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

pub fn json(plan: &Plan) -> String {
    let out = JsonPlan {
        changes: plan
            .changes
            .iter()
            .map(|c| JsonChange {
                op: c.op.as_str(),
                person: &c.person,
                app: &c.app,
                role: &c.role,
                file: &c.file,
                before: c.before.as_ref().map(grant_json),
                after: c.after.as_ref().map(grant_json),
                approvals: c.approvals.iter().map(requirement_label).collect(),
                approvals_reason: &c.approvals_reason,
                risk: c.risk.map(|r| r.as_str()),
                privileged: c.privileged,
                emergency: c.emergency,
                insights: insights_json(&c.insights),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&out).expect("plan serialises") + "\n"
}

fn sign(op: Op) -> char {
    match op {
        Op::Add => '+',
        Op::Remove => '-',
        Op::Change => '~',
    }
}

/// One line per fact an approver weighs, shared by text and markdown (escaped there).
fn facts(c: &Change) -> Vec<String> {
    let i = &c.insights;
    let mut out = Vec::new();
    match &i.person {
        Some(p) => {
            let mut who = format!("{}, {}", p.name, p.department);
            if let Some(t) = &p.title {
                let _ = write!(who, ", {t}");
            }
            let _ = write!(who, " ({})", p.kind);
            if let Some(m) = &p.manager {
                let _ = write!(who, "; manager {m}");
                if let Some(gh) = &p.manager_github {
                    let _ = write!(who, " (@{gh})");
                }
            }
            if p.leaver {
                who.push_str("; LEAVER");
            }
            out.push(format!("who: {who}"));
        }
        None => out.push(format!(
            "who: `{}` is not in the people directory",
            c.person
        )),
    }
    if let Some(g) = c.after.as_ref().or(c.before.as_ref())
        && let Some(j) = &g.justification
    {
        out.push(format!("justification: {j}"));
    }
    if let (Some(before), Some(after)) = (&c.before, &c.after) {
        out.extend(changed(before, after));
    }
    if c.op == Op::Remove {
        out.push(if i.other_access.is_empty() {
            "access left after this: none".to_owned()
        } else {
            format!("access left after this: {}", i.other_access.join(", "))
        });
        return out;
    }
    if let Some(e) = &i.expiry {
        let text = match (&e.expires, e.days_left) {
            (Some(x), Some(d)) => format!(
                "expires {x} (in {d} days; max {}): {}",
                e.max,
                if e.within {
                    "within policy"
                } else {
                    "NOT within policy"
                }
            ),
            _ => format!("no expiry (max {})", e.max),
        };
        out.push(text);
    }
    if let Some(p) = &i.peers {
        out.push(format!(
            "peers: {} of {} in {} hold this role",
            p.holding, p.total, p.department
        ));
    }
    if let Some(a) = &i.auto_approve {
        let verdict = if a.met { "met" } else { "not met" };
        out.push(format!("auto-approval {verdict}: {}", a.reason));
    }
    if i.other_access.is_empty() {
        out.push("other access: none".into());
    } else {
        out.push(format!("other access: {}", i.other_access.join(", ")));
    }
    for s in &i.sod {
        let state = if s.excepted {
            "covered by a live exception"
        } else {
            severity(s.severity)
        };
        out.push(format!(
            "SoD `{}` conflict with {} ({state})",
            s.rule,
            s.with.join(", ")
        ));
    }
    if i.history.is_empty() {
        out.push("history: no earlier grant of this role".into());
    }
    for e in &i.history {
        out.push(format!(
            "history: {} {} {} ({})",
            e.date.format("%Y-%m-%d"),
            e.op.as_str(),
            e.commit,
            e.summary
        ));
    }
    out
}

/// What an edit changes, old value first: an approver judges the difference, not the result.
fn changed(before: &GrantView, after: &GrantView) -> Vec<String> {
    let shown = |v: &Option<String>| {
        v.as_deref()
            .map_or_else(|| "(none)".to_owned(), str::to_owned)
    };
    let flag = |b: bool| if b { "yes" } else { "no" }.to_owned();
    let fields = [
        (
            "justification",
            shown(&before.justification),
            shown(&after.justification),
        ),
        ("expires", shown(&before.expires), shown(&after.expires)),
        ("ticket", shown(&before.ticket), shown(&after.ticket)),
        ("reviewed", shown(&before.reviewed), shown(&after.reviewed)),
        ("emergency", flag(before.emergency), flag(after.emergency)),
    ];
    fields
        .into_iter()
        .filter(|(_, old, new)| old != new)
        .map(|(name, old, new)| match name {
            // A justification is a sentence: the new one is on the line above.
            "justification" => format!("changed: justification, was: {old}"),
            _ => format!("changed: {name} {old} → {new}"),
        })
        .collect()
}

pub fn text(plan: &Plan) -> String {
    let mut out = String::new();
    if plan.changes.is_empty() {
        out.push_str("No grant changes.\n");
        return out;
    }
    for c in &plan.changes {
        let risk = c.risk.map(|r| r.as_str()).unwrap_or("unknown");
        let _ = writeln!(
            out,
            "{} {}:{} for {}  [{}{}{}]  ({})",
            sign(c.op),
            c.app,
            c.role,
            c.person,
            risk,
            if c.privileged { ", privileged" } else { "" },
            if c.emergency { ", emergency" } else { "" },
            c.file
        );
        let needs: Vec<String> = c.approvals.iter().map(requirement_label).collect();
        let _ = writeln!(
            out,
            "    needs: {} ({})",
            needs.join(" + "),
            c.approvals_reason
        );
        for f in facts(c) {
            let _ = writeln!(out, "    {f}");
        }
    }
    let _ = writeln!(out, "\n{}", summary(plan));
    out
}

fn summary(plan: &Plan) -> String {
    let count = |op| plan.changes.iter().filter(|c| c.op == op).count();
    format!(
        "{} to add, {} to change, {} to remove",
        count(Op::Add),
        count(Op::Change),
        count(Op::Remove)
    )
}

/// Markdown for the PR comment: one table row per change, the facts folded per change.
pub fn markdown(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### Plan: {}\n", summary(plan));
    if plan.changes.is_empty() {
        return out;
    }
    let _ = writeln!(out, "| | grant | person | risk | expires | needs |");
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for c in &plan.changes {
        let g = c.after.as_ref().or(c.before.as_ref());
        let mut expires = g
            .and_then(|g| g.expires.as_deref())
            .unwrap_or("never")
            .to_owned();
        if let (Some(b), Some(a)) = (&c.before, &c.after)
            && b.expires != a.expires
        {
            expires = format!("{} → {expires}", b.expires.as_deref().unwrap_or("never"));
        }
        let needs: Vec<String> = c.approvals.iter().map(requirement_label).collect();
        let mut risk = c.risk.map(|r| r.as_str()).unwrap_or("unknown").to_owned();
        if c.privileged {
            risk.push_str(", privileged");
        }
        if c.emergency {
            risk.push_str(", emergency");
        }
        let _ = writeln!(
            out,
            "| {} | `{}:{}` | `{}` | {risk} | {} | {} |",
            c.op.as_str(),
            c.app,
            c.role,
            c.person,
            escape(&expires),
            escape(&needs.join(" + "))
        );
    }
    out.push('\n');
    for c in &plan.changes {
        let _ = writeln!(
            out,
            "<details><summary>{} <code>{}:{}</code> for <code>{}</code>: what to weigh</summary>\n",
            c.op.as_str(),
            c.app,
            c.role,
            c.person
        );
        for f in facts(c) {
            let _ = writeln!(out, "- {}", escape(&f));
        }
        out.push_str("\n</details>\n\n");
    }
    out
}
