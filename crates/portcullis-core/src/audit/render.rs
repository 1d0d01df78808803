//! Holders, timelines and evidence packs as text, JSON, CSV and markdown. Every public shape is
//! its own type; text from files and notes is made inert for each format (no terminal control
//! characters, no markdown or HTML, no spreadsheet formulas).

use std::fmt::Write;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::index::{Event, Holding, Index};
use super::notes::{Applied, Approvers, Lookups, NoteIndex, approvers};
use super::pack::{Bypass, Finding, Pack};
use super::{human_duration, stamp};
use crate::diag::render::markdown::escape as md_escape;
use crate::model::time::format_duration;
use crate::model::{AppId, CommitId, PersonId, RoleId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Csv,
    Markdown,
}

// -- rows shared by every format --

#[derive(Serialize)]
struct JsonApprover {
    login: String,
    #[serde(rename = "as")]
    as_: Option<String>,
    review_id: Option<u64>,
}

#[derive(Serialize)]
struct JsonOverride {
    by: String,
    reason: String,
}

#[derive(Serialize)]
struct JsonApproval {
    source: &'static str,
    pr: Option<u64>,
    approvers: Vec<JsonApprover>,
    #[serde(rename = "override")]
    override_: Option<JsonOverride>,
    bypass: Option<String>,
}

fn approval_json(a: &Approvers) -> JsonApproval {
    JsonApproval {
        source: a.source.as_str(),
        pr: a.pr,
        approvers: a
            .reviewers
            .iter()
            .map(|r| JsonApprover {
                login: r.login.clone(),
                as_: r.as_.clone(),
                review_id: r.review_id,
            })
            .collect(),
        override_: a.override_.as_ref().map(|(by, reason)| JsonOverride {
            by: by.clone(),
            reason: reason.clone(),
        }),
        bypass: a.bypass.clone(),
    }
}

#[derive(Serialize)]
struct JsonApplied {
    at: String,
    result: &'static str,
    target: String,
    error: Option<String>,
}

fn applied_json(a: Option<&Applied>) -> Option<JsonApplied> {
    a.map(|a| JsonApplied {
        at: stamp(a.at),
        result: a.result.as_str(),
        target: a.target.clone(),
        error: a.error.clone(),
    })
}

fn applied_text(a: Option<&Applied>) -> (String, String) {
    match a {
        Some(a) => (stamp(a.at), a.result.as_str().to_owned()),
        None => (String::new(), "not recorded".to_owned()),
    }
}

fn pr_text(pr: Option<u64>) -> String {
    pr.map(|n| format!("#{n}")).unwrap_or_default()
}

/// A table: header and rows of cells, rendered per format.
struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(header: &[&'static str]) -> Table {
        Table {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    fn text(&self, out: &mut String) {
        if self.rows.is_empty() {
            out.push_str("  (none)\n");
            return;
        }
        let cells: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(|c| plain(c)).collect())
            .collect();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &cells {
            for (i, c) in r.iter().enumerate() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        let line = |out: &mut String, cells: &[String]| {
            let last = cells.len() - 1;
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                s.push_str(c);
                if i < last {
                    s.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
                }
            }
            out.push_str(s.trim_end());
            out.push('\n');
        };
        let header: Vec<String> = self.header.iter().map(|h| h.to_uppercase()).collect();
        line(out, &header);
        for r in &cells {
            line(out, r);
        }
    }

    fn markdown(&self, out: &mut String) {
        if self.rows.is_empty() {
            out.push_str("_None._\n");
            return;
        }
        let _ = writeln!(out, "| {} |", self.header.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(self.header.len()));
        for r in &self.rows {
            let cells: Vec<String> = r.iter().map(|c| md_escape(&plain(c))).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
    }

    fn csv(&self, out: &mut String, section: Option<&str>) {
        let mut header: Vec<String> = Vec::new();
        if section.is_some() {
            header.push("section".into());
        }
        header.extend(self.header.iter().map(|h| (*h).to_owned()));
        csv_row(out, &header);
        for r in &self.rows {
            let mut row: Vec<String> = section.iter().map(|s| (*s).to_owned()).collect();
            row.extend(r.iter().cloned());
            csv_row(out, &row);
        }
    }
}

/// Text safe for a terminal or a table cell: control, bidi and zero-width characters become
/// U+FFFD and a line break becomes a space.
pub fn plain(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            c if c.is_control() || crate::load::yaml::forbidden_char(c).is_some() => '\u{fffd}',
            c => c,
        })
        .collect()
}

/// One CSV cell (RFC 4180): quoted when it holds a comma, quote or line break. A cell a
/// spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage
/// return) is prefixed with `'` so it stays text.
pub fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn csv_row(out: &mut String, cells: &[String]) {
    let cells: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
    out.push_str(&cells.join(","));
    out.push_str("\r\n");
}

fn json(v: &impl Serialize) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

// -- holders at an instant --

#[derive(Serialize)]
struct JsonHolders {
    at: String,
    holders: Vec<JsonHolding>,
}

#[derive(Serialize)]
struct JsonHolding {
    person: PersonId,
    app: AppId,
    role: RoleId,
    since: String,
    granted_by: CommitId,
    expires: Option<String>,
    file: String,
    commit: CommitId,
    approval: JsonApproval,
    provisioned: Option<JsonApplied>,
}

pub fn holders(
    ix: &Index,
    notes: &NoteIndex,
    lookups: &Lookups,
    at: DateTime<Utc>,
    list: &[Holding],
    format: Format,
) -> String {
    let rows: Vec<(&Holding, Approvers, Option<&Applied>)> = list
        .iter()
        .map(|h| {
            let c = &ix.commits[h.commit];
            let v = &ix.versions[h.version];
            (
                h,
                approvers(notes, lookups, &c.sha),
                notes.applied(&h.key, "add", v.from, None),
            )
        })
        .collect();
    match format {
        Format::Json => json(&JsonHolders {
            at: stamp(at),
            holders: rows
                .iter()
                .map(|(h, a, p)| {
                    let v = &ix.versions[h.version];
                    JsonHolding {
                        person: h.key.person.clone(),
                        app: h.key.app.clone(),
                        role: h.key.role.clone(),
                        since: stamp(h.since),
                        granted_by: ix.commits[h.since_commit].sha.clone(),
                        expires: v.view().expires.clone(),
                        file: v.path.to_string(),
                        commit: ix.commits[h.commit].sha.clone(),
                        approval: approval_json(a),
                        provisioned: applied_json(*p),
                    }
                })
                .collect(),
        }),
        _ => {
            let mut t = Table::new(&[
                "person",
                "app",
                "role",
                "since",
                "expires",
                "commit",
                "pr",
                "approvers",
                "source",
                "applied",
                "result",
            ]);
            for (h, a, p) in &rows {
                let v = &ix.versions[h.version];
                let c = &ix.commits[h.commit];
                let (applied, result) = applied_text(*p);
                t.rows.push(vec![
                    h.key.person.to_string(),
                    h.key.app.to_string(),
                    h.key.role.to_string(),
                    stamp(h.since),
                    v.view().expires.clone().unwrap_or_else(|| "never".into()),
                    if format == Format::Csv {
                        c.sha.to_string()
                    } else {
                        c.short().to_owned()
                    },
                    pr_text(a.pr),
                    a.names(),
                    a.source.as_str().to_owned(),
                    applied,
                    result,
                ]);
            }
            let mut out = String::new();
            match format {
                Format::Csv => t.csv(&mut out, None),
                Format::Markdown => {
                    let _ = writeln!(out, "### Access held at {}\n", stamp(at));
                    t.markdown(&mut out);
                }
                _ => {
                    let _ = writeln!(out, "Access held at {}: {} grants", stamp(at), rows.len());
                    t.text(&mut out);
                }
            }
            out
        }
    }
}

// -- the timeline --

#[derive(Serialize)]
struct JsonTimeline {
    since: Option<String>,
    until: String,
    events: Vec<JsonEvent>,
}

#[derive(Serialize)]
struct JsonEvent {
    at: String,
    op: &'static str,
    person: PersonId,
    app: AppId,
    role: RoleId,
    expires: Option<String>,
    detail: String,
    commit: Option<CommitId>,
    summary: Option<String>,
    approval: Option<JsonApproval>,
    provisioned: Option<JsonApplied>,
}

fn event_applied<'n>(notes: &'n NoteIndex, e: &Event) -> Option<&'n Applied> {
    use super::index::EventOp;
    match e.op {
        EventOp::Grant | EventOp::Change => notes.applied(&e.key, "add", e.at, None),
        EventOp::Expire | EventOp::Revoke => notes.applied(&e.key, "remove", e.at, None),
        _ => None,
    }
}

pub fn timeline(
    ix: &Index,
    notes: &NoteIndex,
    lookups: &Lookups,
    since: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
    events: &[Event],
    format: Format,
) -> String {
    let rows: Vec<(&Event, Option<Approvers>, Option<&Applied>)> = events
        .iter()
        .map(|e| {
            let a = e
                .commit
                .map(|c| approvers(notes, lookups, &ix.commits[c].sha));
            (e, a, event_applied(notes, e))
        })
        .collect();
    match format {
        Format::Json => json(&JsonTimeline {
            since: since.map(stamp),
            until: stamp(until),
            events: rows
                .iter()
                .map(|(e, a, p)| JsonEvent {
                    at: stamp(e.at),
                    op: e.op.as_str(),
                    person: e.key.person.clone(),
                    app: e.key.app.clone(),
                    role: e.key.role.clone(),
                    expires: ix.versions[e.version].view().expires.clone(),
                    detail: e.detail.clone(),
                    commit: e.commit.map(|c| ix.commits[c].sha.clone()),
                    summary: e.commit.map(|c| ix.commits[c].summary.clone()),
                    approval: a.as_ref().map(approval_json),
                    provisioned: applied_json(*p),
                })
                .collect(),
        }),
        _ => {
            let mut t = Table::new(&[
                "at",
                "event",
                "person",
                "app",
                "role",
                "expires",
                "commit",
                "pr",
                "approvers",
                "applied",
                "result",
                "detail",
            ]);
            for (e, a, p) in &rows {
                let (applied, result) = match p {
                    None if !e.op.ends_access()
                        && !matches!(
                            e.op,
                            super::index::EventOp::Grant | super::index::EventOp::Change
                        ) =>
                    {
                        (String::new(), String::new())
                    }
                    _ => applied_text(*p),
                };
                t.rows.push(vec![
                    stamp(e.at),
                    e.op.as_str().to_owned(),
                    e.key.person.to_string(),
                    e.key.app.to_string(),
                    e.key.role.to_string(),
                    ix.versions[e.version]
                        .view()
                        .expires
                        .clone()
                        .unwrap_or_else(|| "never".into()),
                    e.commit
                        .map(|c| {
                            if format == Format::Csv {
                                ix.commits[c].sha.to_string()
                            } else {
                                ix.commits[c].short().to_owned()
                            }
                        })
                        .unwrap_or_default(),
                    a.as_ref().map(|a| pr_text(a.pr)).unwrap_or_default(),
                    a.as_ref().map(Approvers::names).unwrap_or_default(),
                    applied,
                    result,
                    e.detail.clone(),
                ]);
            }
            let mut out = String::new();
            let period = match since {
                Some(s) => format!("{} to {}", stamp(s), stamp(until)),
                None => format!("until {}", stamp(until)),
            };
            match format {
                Format::Csv => t.csv(&mut out, None),
                Format::Markdown => {
                    let _ = writeln!(out, "### Access timeline, {period}\n");
                    t.markdown(&mut out);
                }
                _ => {
                    let _ = writeln!(out, "Access timeline, {period}: {} events", rows.len());
                    t.text(&mut out);
                }
            }
            out
        }
    }
}

// -- the evidence pack --

#[derive(Serialize)]
struct JsonPack {
    period: JsonPeriod,
    sla_hours: i64,
    summary: JsonSummary,
    grants: Vec<JsonPackGrant>,
    revocations: Vec<JsonRevocation>,
    sod: JsonSod,
    reviews: JsonReviews,
    bypassed: Vec<JsonBypass>,
    unverified: Vec<JsonBypass>,
    chain: JsonChain,
}

#[derive(Serialize)]
struct JsonPeriod {
    since: String,
    until: String,
}

#[derive(Serialize)]
struct JsonSummary {
    grants: usize,
    revocations: usize,
    late_revocations: usize,
    sod_exceptions: usize,
    sod_conflicts: usize,
    reviews_done: usize,
    reviews_overdue: usize,
    bypassed: usize,
    unverified: usize,
    chain_breaks: usize,
    exceptions: usize,
}

#[derive(Serialize)]
struct JsonPackGrant {
    at: String,
    op: &'static str,
    person: PersonId,
    app: AppId,
    role: RoleId,
    expires: Option<String>,
    justification: Option<String>,
    ticket: Option<String>,
    emergency: bool,
    detail: String,
    commit: CommitId,
    summary: String,
    approval: JsonApproval,
    provisioned: Option<JsonApplied>,
}

#[derive(Serialize)]
struct JsonRevocation {
    person: PersonId,
    app: AppId,
    role: RoleId,
    held_since: String,
    due: String,
    reason: &'static str,
    removed: Option<String>,
    removed_by: Option<&'static str>,
    delay_seconds: Option<i64>,
    late: bool,
    commit: Option<CommitId>,
    approval: Option<JsonApproval>,
}

#[derive(Serialize)]
struct JsonSod {
    exceptions: Vec<JsonSodException>,
    conflicts: Vec<JsonFinding>,
}

#[derive(Serialize)]
struct JsonSodException {
    rule: String,
    person: PersonId,
    justification: String,
    expires: String,
    status: &'static str,
}

#[derive(Serialize)]
struct JsonFinding {
    rule: &'static str,
    severity: &'static str,
    person: Option<PersonId>,
    app: Option<AppId>,
    role: Option<RoleId>,
    file: String,
    message: String,
}

fn finding_json(f: &Finding) -> JsonFinding {
    JsonFinding {
        rule: f.rule,
        severity: f.severity,
        person: f.person.clone(),
        app: f.app.clone(),
        role: f.role.clone(),
        file: f.file.clone(),
        message: f.message.clone(),
    }
}

#[derive(Serialize)]
struct JsonReviews {
    done: Vec<JsonReviewDone>,
    overdue: Vec<JsonFinding>,
}

#[derive(Serialize)]
struct JsonReviewDone {
    at: String,
    app: AppId,
    grants: usize,
    commit: CommitId,
    summary: String,
    approval: JsonApproval,
}

#[derive(Serialize)]
struct JsonBypass {
    at: String,
    commit: CommitId,
    summary: String,
    pr: Option<u64>,
    reason: String,
    source: &'static str,
}

fn bypass_json(b: &Bypass) -> JsonBypass {
    JsonBypass {
        at: stamp(b.at),
        commit: b.commit.clone(),
        summary: b.summary.clone(),
        pr: b.pr,
        reason: b.reason.clone(),
        source: b.source.as_str(),
    }
}

#[derive(Serialize)]
struct JsonChain {
    records: usize,
    intact: bool,
    breaks: Vec<JsonBreak>,
}

#[derive(Serialize)]
struct JsonBreak {
    kind: &'static str,
    seq: Option<u64>,
    commit: Option<String>,
    message: String,
}

fn pack_json(p: &Pack) -> JsonPack {
    JsonPack {
        period: JsonPeriod {
            since: stamp(p.since),
            until: stamp(p.until),
        },
        sla_hours: p.sla.num_hours(),
        summary: JsonSummary {
            grants: p.grants.len(),
            revocations: p.revocations.len(),
            late_revocations: p.late().count(),
            sod_exceptions: p.sod_exceptions.len(),
            sod_conflicts: p.sod_conflicts.len(),
            reviews_done: p.reviews_done.len(),
            reviews_overdue: p.reviews_overdue.len(),
            bypassed: p.bypassed.len(),
            unverified: p.unverified.len(),
            chain_breaks: p.chain_breaks.len(),
            exceptions: p.exceptions(),
        },
        grants: p
            .grants
            .iter()
            .map(|g| JsonPackGrant {
                at: stamp(g.at),
                op: g.op.as_str(),
                person: g.key.person.clone(),
                app: g.key.app.clone(),
                role: g.key.role.clone(),
                expires: g.expires.clone(),
                justification: g.justification.clone(),
                ticket: g.ticket.clone(),
                emergency: g.emergency,
                detail: g.detail.clone(),
                commit: g.commit.clone(),
                summary: g.summary.clone(),
                approval: approval_json(&g.approvers),
                provisioned: applied_json(g.provisioned.as_ref()),
            })
            .collect(),
        revocations: p
            .revocations
            .iter()
            .map(|r| JsonRevocation {
                person: r.key.person.clone(),
                app: r.key.app.clone(),
                role: r.key.role.clone(),
                held_since: stamp(r.held_since),
                due: stamp(r.due),
                reason: r.reason.as_str(),
                removed: r.removed.map(stamp),
                removed_by: r.removed_by.map(|b| b.as_str()),
                delay_seconds: r.delay.map(|d| d.num_seconds()),
                late: r.late,
                commit: r.commit.clone(),
                approval: r.approvers.as_ref().map(approval_json),
            })
            .collect(),
        sod: JsonSod {
            exceptions: p
                .sod_exceptions
                .iter()
                .map(|e| JsonSodException {
                    rule: e.rule.clone(),
                    person: e.person.clone(),
                    justification: e.justification.clone(),
                    expires: e.expires.clone(),
                    status: e.status,
                })
                .collect(),
            conflicts: p.sod_conflicts.iter().map(finding_json).collect(),
        },
        reviews: JsonReviews {
            done: p
                .reviews_done
                .iter()
                .map(|r| JsonReviewDone {
                    at: stamp(r.at),
                    app: r.app.clone(),
                    grants: r.grants,
                    commit: r.commit.clone(),
                    summary: r.summary.clone(),
                    approval: approval_json(&r.approvers),
                })
                .collect(),
            overdue: p.reviews_overdue.iter().map(finding_json).collect(),
        },
        bypassed: p.bypassed.iter().map(bypass_json).collect(),
        unverified: p.unverified.iter().map(bypass_json).collect(),
        chain: JsonChain {
            records: p.chain_records,
            intact: p.chain_breaks.is_empty(),
            breaks: p
                .chain_breaks
                .iter()
                .map(|b| JsonBreak {
                    kind: b.kind.as_str(),
                    seq: b.seq,
                    commit: b.object.clone(),
                    message: b.message.clone(),
                })
                .collect(),
        },
    }
}

/// The sections of the pack as tables: (csv section id, title, controls, table).
fn pack_tables(p: &Pack, full_sha: bool) -> Vec<(&'static str, String, &'static str, Table)> {
    let sha = |s: &str| {
        if full_sha {
            s.to_owned()
        } else {
            crate::model::short_commit(s).to_owned()
        }
    };
    let mut out = Vec::new();

    let mut t = Table::new(&[
        "at",
        "event",
        "person",
        "app",
        "role",
        "expires",
        "justification",
        "ticket",
        "commit",
        "pr",
        "approvers",
        "source",
        "provisioned",
        "result",
    ]);
    for g in &p.grants {
        let (applied, result) = applied_text(g.provisioned.as_ref());
        let mut justification = g.justification.clone().unwrap_or_default();
        if g.emergency {
            justification = format!("[emergency] {justification}");
        }
        t.rows.push(vec![
            stamp(g.at),
            g.op.as_str().into(),
            g.key.person.to_string(),
            g.key.app.to_string(),
            g.key.role.to_string(),
            g.expires.clone().unwrap_or_else(|| "never".into()),
            justification,
            g.ticket.clone().unwrap_or_default(),
            sha(&g.commit),
            pr_text(g.approvers.pr),
            g.approvers.names(),
            g.approvers.source.as_str().into(),
            applied,
            result,
        ]);
    }
    out.push((
        "grants",
        format!("Grants and changes ({})", p.grants.len()),
        "SOC 2 CC6.1, CC6.2; ISO 27001 A.5.15, A.5.18",
        t,
    ));

    let mut t = Table::new(&[
        "person",
        "app",
        "role",
        "due",
        "because",
        "removed",
        "removed by",
        "time to revoke",
        "late",
        "commit",
        "approvers",
    ]);
    for r in &p.revocations {
        t.rows.push(vec![
            r.key.person.to_string(),
            r.key.app.to_string(),
            r.key.role.to_string(),
            stamp(r.due),
            r.reason.as_str().into(),
            r.removed.map(stamp).unwrap_or_else(|| "not removed".into()),
            r.removed_by
                .map(|b| b.as_str().to_owned())
                .unwrap_or_default(),
            r.delay.map(human_duration).unwrap_or_default(),
            if r.late { "LATE".into() } else { "no".into() },
            r.commit.as_deref().map(sha).unwrap_or_default(),
            r.approvers
                .as_ref()
                .map(Approvers::names)
                .unwrap_or_default(),
        ]);
    }
    out.push((
        "revocations",
        format!(
            "Revocations ({}, {} past the SLA of {})",
            p.revocations.len(),
            p.late().count(),
            format_duration(p.sla)
        ),
        "SOC 2 CC6.2, CC6.3; ISO 27001 A.5.18",
        t,
    ));

    let mut t = Table::new(&["rule", "person", "expires", "status", "justification"]);
    for e in &p.sod_exceptions {
        t.rows.push(vec![
            e.rule.clone(),
            e.person.to_string(),
            e.expires.clone(),
            e.status.into(),
            e.justification.clone(),
        ]);
    }
    out.push((
        "sod-exceptions",
        format!("SoD exceptions ({})", p.sod_exceptions.len()),
        "SOC 2 CC6.3; ISO 27001 A.5.15",
        t,
    ));
    out.push((
        "sod-conflicts",
        format!(
            "SoD conflicts at the end of the period ({})",
            p.sod_conflicts.len()
        ),
        "SOC 2 CC6.3; ISO 27001 A.5.15",
        findings_table(&p.sod_conflicts),
    ));

    let mut t = Table::new(&["at", "app", "grants certified", "commit", "pr", "approvers"]);
    for r in &p.reviews_done {
        t.rows.push(vec![
            stamp(r.at),
            r.app.to_string(),
            r.grants.to_string(),
            sha(&r.commit),
            pr_text(r.approvers.pr),
            r.approvers.names(),
        ]);
    }
    out.push((
        "reviews-done",
        format!("Access reviews done ({})", p.reviews_done.len()),
        "SOC 2 CC6.2, CC6.3; ISO 27001 A.5.18",
        t,
    ));
    out.push((
        "reviews-overdue",
        format!("Access reviews overdue ({})", p.reviews_overdue.len()),
        "SOC 2 CC6.2, CC6.3; ISO 27001 A.5.18",
        findings_table(&p.reviews_overdue),
    ));

    for (id, title, list) in [
        ("bypassed", "Changes that bypassed approval", &p.bypassed),
        (
            "unverified",
            "Changes whose approval could not be verified",
            &p.unverified,
        ),
    ] {
        let mut t = Table::new(&["at", "commit", "pr", "reason", "source", "summary"]);
        for b in list {
            t.rows.push(vec![
                stamp(b.at),
                sha(&b.commit),
                pr_text(b.pr),
                b.reason.clone(),
                b.source.as_str().into(),
                b.summary.clone(),
            ]);
        }
        out.push((
            id,
            format!("{title} ({})", list.len()),
            "SOC 2 CC6.1, CC6.2; ISO 27001 A.5.15, A.5.18",
            t,
        ));
    }

    let mut t = Table::new(&["kind", "record", "commit", "message"]);
    for b in &p.chain_breaks {
        t.rows.push(vec![
            b.kind.as_str().into(),
            b.seq.map(|s| s.to_string()).unwrap_or_default(),
            b.object.as_deref().map(sha).unwrap_or_default(),
            b.message.clone(),
        ]);
    }
    out.push((
        "chain",
        format!(
            "Evidence notes: {} records, hash chain {}",
            p.chain_records,
            if p.chain_breaks.is_empty() {
                "intact".to_owned()
            } else {
                format!("BROKEN ({} breaks)", p.chain_breaks.len())
            }
        ),
        "SOC 2 CC6.1; ISO 27001 A.5.15",
        t,
    ));
    out
}

fn findings_table(list: &[Finding]) -> Table {
    let mut t = Table::new(&["rule", "severity", "person", "app", "role", "message"]);
    for f in list {
        t.rows.push(vec![
            f.rule.into(),
            f.severity.into(),
            f.person.as_deref().unwrap_or_default().to_owned(),
            f.app.as_deref().unwrap_or_default().to_owned(),
            f.role.as_deref().unwrap_or_default().to_owned(),
            f.message.clone(),
        ]);
    }
    t
}

pub fn pack(p: &Pack, format: Format) -> String {
    if format == Format::Json {
        return json(&pack_json(p));
    }
    let tables = pack_tables(p, format == Format::Csv);
    let mut out = String::new();
    let period = format!("{} to {}", stamp(p.since), stamp(p.until));
    match format {
        Format::Csv => {
            // Every row carries its section; each section starts with its own header row.
            for (id, _, _, t) in &tables {
                t.csv(&mut out, Some(id));
            }
        }
        Format::Markdown => {
            let _ = writeln!(out, "## Access evidence, {period}\n");
            let _ = writeln!(
                out,
                "{} exceptions to follow up: {} late revocations (SLA {}), {} changes that bypassed approval, {} breaks in the evidence chain.\n",
                p.exceptions(),
                p.late().count(),
                format_duration(p.sla),
                p.bypassed.len(),
                p.chain_breaks.len()
            );
            for (_, title, controls, t) in &tables {
                let _ = writeln!(out, "### {title}\n\n_{controls}_\n");
                t.markdown(&mut out);
                out.push('\n');
            }
        }
        _ => {
            let _ = writeln!(out, "Access evidence, {period}");
            let _ = writeln!(
                out,
                "{} exceptions to follow up: {} late revocations (SLA {}), {} changes that bypassed approval, {} breaks in the evidence chain",
                p.exceptions(),
                p.late().count(),
                format_duration(p.sla),
                p.bypassed.len(),
                p.chain_breaks.len()
            );
            for (_, title, controls, t) in &tables {
                let _ = writeln!(out, "\n== {title}  [{controls}]");
                t.text(&mut out);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        for f in ["+1", "-1+2", "@SUM(A1)", "\tx"] {
            assert!(csv_cell(f).trim_start_matches('"').starts_with('\''), "{f}");
        }
        assert_eq!(csv_cell("2026-11-22T09:00:00Z"), "2026-11-22T09:00:00Z");
    }

    #[test]
    fn plain_text_has_no_terminal_controls() {
        assert_eq!(
            plain("a\u{1b}[31mb\nc\u{202e}d"),
            "a\u{fffd}[31mb c\u{fffd}d"
        );
    }
}
