//! The evidence pack for a period: what an auditor asks for under SOC 2 CC6.1–CC6.3 and
//! ISO/IEC 27001:2022 A.5.15–A.5.18, from the branch's history, the evidence notes and the
//! branch as it stood at the end of the period.
//!
//! - grants and changes, each with its request (commit, pull request, justification, ticket),
//!   approvals and provisioning (CC6.1, CC6.2; A.5.15, A.5.18);
//! - revocations, each with the time from when access had to end (expiry, leaving, end date or
//!   the merge of its removal) to its removal, and those past the SLA (CC6.2, CC6.3; A.5.18);
//! - SoD exceptions and conflicts at the end of the period (CC6.3; A.5.15);
//! - access reviews done and overdue (CC6.2, CC6.3; A.5.18);
//! - changes that reached the branch without verified approval (CC6.1, CC6.2; A.5.15, A.5.18);
//! - the integrity of the evidence notes' hash chain (CC6.1; A.5.15).
//!
//! Identity management (A.5.16) is evidenced by the people directory's history and
//! authentication information (A.5.17) is outside what portcullis records.

use crate::model::{AppId, PersonId, RoleId};
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::index::{End, EventOp, Index};
use super::notes::{Applied, Approvers, Lookups, NoteIndex, Source, approvers};
use super::{Filter, GrantKey};
use crate::diag::{Diagnostic, Rule};
use crate::evidence::ChainBreak;
use crate::model::Catalog;
use crate::model::time::end_of_day;

/// What the pack is made from.
pub struct Input<'a> {
    pub index: &'a Index,
    pub notes: &'a NoteIndex,
    pub lookups: &'a Lookups,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// When the pack is made (`--as-of`): a revocation due later is not due yet, and one not yet
    /// done is late only by what has passed until now.
    pub now: DateTime<Utc>,
    /// The longest acceptable time from when access had to end to its removal.
    pub sla: Duration,
    /// The branch at `until`, and the findings of `check` on it.
    pub catalog: &'a Catalog,
    pub findings: &'a [Diagnostic],
    /// When each leaver was marked as one in the people directory.
    pub leavers: &'a BTreeMap<PersonId, DateTime<Utc>>,
    pub filter: &'a Filter,
}

#[derive(Clone, Debug)]
pub struct Pack {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub sla: Duration,
    pub grants: Vec<GrantEntry>,
    pub revocations: Vec<Revocation>,
    pub sod_exceptions: Vec<SodExceptionEntry>,
    pub sod_conflicts: Vec<Finding>,
    pub reviews_done: Vec<ReviewDone>,
    pub reviews_overdue: Vec<Finding>,
    pub bypassed: Vec<Bypass>,
    pub unverified: Vec<Bypass>,
    pub chain_records: usize,
    pub chain_breaks: Vec<ChainBreak>,
}

impl Pack {
    pub fn late(&self) -> impl Iterator<Item = &Revocation> {
        self.revocations.iter().filter(|r| r.late)
    }

    /// Exceptions an auditor must follow up: late revocations, bypassed approvals, chain breaks.
    pub fn exceptions(&self) -> usize {
        self.late().count() + self.bypassed.len() + self.chain_breaks.len()
    }
}

/// A grant or a change to one, as requested, approved and provisioned.
#[derive(Clone, Debug)]
pub struct GrantEntry {
    pub at: DateTime<Utc>,
    pub op: EventOp,
    pub key: GrantKey,
    pub expires: Option<String>,
    pub justification: Option<String>,
    pub ticket: Option<String>,
    pub emergency: bool,
    pub detail: String,
    pub commit: crate::model::CommitId,
    pub summary: String,
    pub approvers: Approvers,
    pub provisioned: Option<Applied>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    Expired,
    Leaver,
    EndDate,
    /// A merged change removed it.
    Removed,
}

impl Due {
    pub fn as_str(self) -> &'static str {
        match self {
            Due::Expired => "expired",
            Due::Leaver => "leaver",
            Due::EndDate => "end date",
            Due::Removed => "removed",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemovedBy {
    /// The provisioner removed the member (an evidence note says so).
    Provisioner,
    /// Only the branch says so: the grant left the files (no evidence note of the removal).
    Repository,
}

impl RemovedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            RemovedBy::Provisioner => "provisioner",
            RemovedBy::Repository => "repository",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Revocation {
    pub key: GrantKey,
    pub held_since: DateTime<Utc>,
    /// When access had to end, and why.
    pub due: DateTime<Utc>,
    pub reason: Due,
    pub removed: Option<DateTime<Utc>>,
    pub removed_by: Option<RemovedBy>,
    /// `removed - due` (zero when removed before it was due).
    pub delay: Option<Duration>,
    pub late: bool,
    /// The commit that removed it from the branch, with its approvers.
    pub commit: Option<crate::model::CommitId>,
    pub approvers: Option<Approvers>,
}

#[derive(Clone, Debug)]
pub struct SodExceptionEntry {
    pub rule: String,
    pub person: PersonId,
    pub justification: String,
    pub expires: String,
    /// `in force`, `expired` or `unused`.
    pub status: &'static str,
}

/// A finding of `check` at the end of the period.
#[derive(Clone, Debug)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: &'static str,
    pub person: Option<PersonId>,
    pub app: Option<AppId>,
    pub role: Option<RoleId>,
    pub file: String,
    pub message: String,
}

/// Grants certified by one commit of an access review.
#[derive(Clone, Debug)]
pub struct ReviewDone {
    pub at: DateTime<Utc>,
    pub app: AppId,
    pub grants: usize,
    pub commit: crate::model::CommitId,
    pub summary: String,
    pub approvers: Approvers,
}

/// A commit that changed access without verified approval (or could not be verified).
#[derive(Clone, Debug)]
pub struct Bypass {
    pub at: DateTime<Utc>,
    pub commit: crate::model::CommitId,
    pub summary: String,
    pub pr: Option<u64>,
    pub reason: String,
    pub source: Source,
}

fn finding(d: &Diagnostic) -> Finding {
    Finding {
        rule: d.rule.id(),
        severity: d.severity.as_str(),
        person: d.person.clone(),
        app: d.app.clone(),
        role: d.role.clone(),
        file: d.file.clone(),
        message: d.message.clone(),
    }
}

pub fn build(input: &Input) -> Pack {
    let Input {
        index,
        notes,
        lookups,
        since,
        until,
        sla,
        catalog,
        findings,
        filter,
        ..
    } = *input;
    let within = |t: DateTime<Utc>| t >= since && t <= until;
    let events = index.timeline(Some(since), until, filter);

    let mut grants = Vec::new();
    let mut reviews: BTreeMap<(usize, AppId), ReviewDone> = BTreeMap::new();
    for e in &events {
        let Some(ci) = e.commit else { continue };
        let c = &index.commits[ci];
        let v = &index.versions[e.version];
        match e.op {
            EventOp::Grant | EventOp::Change => grants.push(GrantEntry {
                at: e.at,
                op: e.op,
                key: e.key.clone(),
                expires: v.view().expires.clone(),
                justification: v.view().justification.clone(),
                ticket: v.view().ticket.clone(),
                emergency: v.view().emergency,
                detail: e.detail.clone(),
                commit: c.sha.clone(),
                summary: c.summary.clone(),
                approvers: approvers(notes, lookups, &c.sha),
                provisioned: notes.applied(&e.key, "add", e.at, None).cloned(),
            }),
            EventOp::Review => {
                reviews
                    .entry((ci, e.key.app.clone()))
                    .or_insert_with(|| ReviewDone {
                        at: e.at,
                        app: e.key.app.clone(),
                        grants: 0,
                        commit: c.sha.clone(),
                        summary: c.summary.clone(),
                        approvers: approvers(notes, lookups, &c.sha),
                    })
                    .grants += 1;
            }
            _ => {}
        }
    }

    let revocations = revocations(input);

    let unused: Vec<&Diagnostic> = findings
        .iter()
        .filter(|d| d.rule == Rule::SodExceptionUnused)
        .collect();
    let sod_exceptions = catalog
        .sod_exceptions
        .iter()
        .filter(|e| filter.person.as_ref().is_none_or(|p| *p == e.person.value))
        .map(|e| SodExceptionEntry {
            rule: e.rule.value.clone(),
            person: e.person.value.clone(),
            justification: e.justification.clone(),
            expires: e.expires.value.to_string(),
            status: if end_of_day(e.expires.value) <= until {
                "expired"
            } else if unused.iter().any(|d| d.pos == e.item) {
                "unused"
            } else {
                "in force"
            },
        })
        .collect();
    let subject = |d: &&Diagnostic| {
        filter
            .person
            .as_ref()
            .is_none_or(|p| d.person.as_ref() == Some(p))
            && filter
                .app
                .as_ref()
                .is_none_or(|a| d.app.as_ref() == Some(a))
            && filter
                .role
                .as_ref()
                .is_none_or(|r| d.role.as_ref() == Some(r))
    };
    let sod_conflicts = findings
        .iter()
        .filter(|d| d.rule == Rule::SodConflict)
        .filter(subject)
        .map(finding)
        .collect();
    let reviews_overdue = findings
        .iter()
        .filter(|d| d.rule == Rule::ReviewOverdue)
        .filter(subject)
        .map(finding)
        .collect();

    let mut bypassed = Vec::new();
    let mut unverified = Vec::new();
    let scoped = filter.person.is_some() || filter.app.is_some() || filter.role.is_some();
    let touched_in_scope: std::collections::BTreeSet<usize> = if scoped {
        events.iter().filter_map(|e| e.commit).collect()
    } else {
        Default::default()
    };
    for (ci, c) in index.commits.iter().enumerate() {
        if !c.touches_access || !within(c.time) || (scoped && !touched_in_scope.contains(&ci)) {
            continue;
        }
        let a = approvers(notes, lookups, &c.sha);
        let entry = |reason: String| Bypass {
            at: c.time,
            commit: c.sha.clone(),
            summary: c.summary.clone(),
            pr: a.pr,
            reason,
            source: a.source,
        };
        match (&a.bypass, a.source) {
            (Some(reason), _) => bypassed.push(entry(if c.parents == 0 {
                format!("{reason} (the first commit of the history)")
            } else {
                reason.clone()
            })),
            (None, Source::Unknown) => unverified.push(entry(
                "no evidence note, and not looked up on GitHub".into(),
            )),
            _ => {}
        }
    }

    Pack {
        since,
        until,
        sla,
        grants,
        revocations,
        sod_exceptions,
        sod_conflicts,
        reviews_done: reviews.into_values().collect(),
        reviews_overdue,
        bypassed,
        unverified,
        chain_records: notes.records.len(),
        chain_breaks: notes.breaks.clone(),
    }
}

/// Every held grant whose access had to end before `until` and that was still to be removed
/// at `since` or later: when it had to end, when it was removed, and whether that took longer
/// than the SLA.
pub fn revocations(input: &Input) -> Vec<Revocation> {
    let Input {
        index,
        notes,
        lookups,
        since,
        until,
        now,
        sla,
        catalog,
        leavers,
        filter,
        ..
    } = *input;
    // Nothing is due after the moment the pack is made, whatever the period says.
    let until = until.min(now);
    let mut out = Vec::new();
    for span in &index.spans {
        let key = &index.keys[span.key];
        if !filter.matches(key) || span.start > until {
            continue;
        }
        let span_end = span.end.map(|(t, _)| t);
        let holds = |t: DateTime<Utc>| span_end.is_none_or(|end| t <= end);
        let mut candidates: Vec<(DateTime<Utc>, Due)> = Vec::new();
        match span.end {
            Some((t, End::Expired)) => candidates.push((t, Due::Expired)),
            Some((t, End::Removed { .. })) => candidates.push((t, Due::Removed)),
            None => {}
        }
        if let Some(&t) = leavers.get(&key.person) {
            let t = t.max(span.start);
            if holds(t) {
                candidates.push((t, Due::Leaver));
            }
        }
        if let Some(d) = catalog.people.get(&key.person).and_then(|p| p.end_date) {
            let t = end_of_day(d).max(span.start);
            if holds(t) {
                candidates.push((t, Due::EndDate));
            }
        }
        let Some(&(due, reason)) = candidates.iter().min_by_key(|c| c.0) else {
            continue;
        };
        if due > until {
            continue;
        }
        let from_notes = notes
            .applied(key, "remove", span.start, None)
            .filter(|a| a.result.succeeded());
        let (removed, removed_by) = match (from_notes, span.end) {
            (Some(a), _) => (Some(a.at), Some(RemovedBy::Provisioner)),
            (None, Some((t, End::Removed { .. }))) => (Some(t), Some(RemovedBy::Repository)),
            (None, _) => match later_removal(index, span) {
                Some(t) => (Some(t), Some(RemovedBy::Repository)),
                None => (None, None),
            },
        };
        // Removed before the period began: the period has nothing to say about it.
        if removed.is_some_and(|r| r < since) {
            continue;
        }
        let delay = removed.map(|r| (r - due).max(Duration::zero()));
        let late = match delay {
            Some(d) => d > sla,
            None => until - due > sla,
        };
        let commit = match span.end {
            Some((_, End::Removed { commit })) => Some(commit),
            _ => index.versions[span.last]
                .ended_by
                .filter(|_| index.versions[span.last].removed),
        };
        out.push(Revocation {
            key: key.clone(),
            held_since: span.start,
            due,
            reason,
            removed,
            removed_by,
            delay,
            late,
            commit: commit.map(|c| index.commits[c].sha.clone()),
            approvers: commit.map(|c| approvers(notes, lookups, &index.commits[c].sha)),
        });
    }
    out.sort_by(|a, b| (a.due, &a.key).cmp(&(b.due, &b.key)));
    out
}

/// When the grant's last version left the files after its span had already ended.
fn later_removal(index: &Index, span: &super::index::Span) -> Option<DateTime<Utc>> {
    let v = &index.versions[span.last];
    if v.removed { v.to } else { None }
}
