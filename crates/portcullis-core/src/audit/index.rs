//! The life of every grant from the branch's history: versions (what the files said, from one
//! commit to the next) and spans (when the grant was held), with the questions asked of them:
//! holders at an instant, and the timeline of grants, changes and revocations.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Commit, Filter, GrantSet, Side};
use crate::model::{AppId, Expiry, PersonId, RoleId};
use crate::plan::GrantView;

pub use crate::model::GrantKey;

/// A commit, without its files.
#[derive(Clone, Debug)]
pub struct CommitInfo {
    pub sha: crate::model::CommitId,
    /// Committer time, made non-decreasing along the branch.
    pub time: DateTime<Utc>,
    pub summary: String,
    pub parents: usize,
    pub touches_access: bool,
    pub touches_governance: bool,
    pub people_changed: bool,
}

impl CommitInfo {
    pub fn short(&self) -> &str {
        self.sha.short()
    }
}

/// What the files said about one grant from one commit until the next change.
#[derive(Clone, Debug)]
pub struct Version {
    pub key: usize,
    /// The commit that wrote this version.
    pub commit: usize,
    pub from: DateTime<Utc>,
    /// When it was replaced or removed; `None` while it is what the branch says.
    pub to: Option<DateTime<Utc>>,
    pub ended_by: Option<usize>,
    /// It ended because the grant left the files (not replaced by another version).
    pub removed: bool,
    /// The file's grants as the commit wrote them; `grant` is this one.
    pub set: Arc<GrantSet>,
    pub grant: usize,
    pub expiry: Option<DateTime<Utc>>,
    /// The file that held it (the latest path, after moves).
    pub path: Arc<str>,
}

impl Version {
    pub fn view(&self) -> &GrantView {
        &self.set.grants[self.grant]
    }

    /// The instants during which this version granted access: `[from, min(to, expiry))`.
    fn active_end(&self) -> Option<DateTime<Utc>> {
        match (self.to, self.expiry) {
            (Some(t), Some(e)) => Some(t.min(e)),
            (t, e) => t.or(e),
        }
    }

    /// It granted access at all (it was not written with an expiry already past).
    pub fn active(&self) -> bool {
        self.active_end().is_none_or(|end| end > self.from)
    }

    /// It was still held when a commit replaced or removed it (it had not expired before).
    fn held_until_commit(&self) -> bool {
        self.to
            .is_some_and(|t| self.active() && self.expiry.is_none_or(|e| e > t))
    }

    /// It was held until a commit replaced it with another version.
    fn held_until_replaced(&self) -> bool {
        !self.removed && self.held_until_commit()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Its expiry passed (or a change set an expiry already past).
    Expired,
    /// A commit removed it from the files.
    Removed { commit: usize },
}

/// A time during which the grant was held without interruption.
#[derive(Clone, Debug)]
pub struct Span {
    pub key: usize,
    pub start: DateTime<Utc>,
    /// Version indices: the one that started the span and the last one in it.
    pub first: usize,
    pub last: usize,
    /// `None`: held for as long as the branch says so (no expiry, not removed).
    pub end: Option<(DateTime<Utc>, End)>,
}

impl Span {
    pub fn held_at(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && self.end.is_none_or(|(end, _)| end > t)
    }
}

/// A grant file moved with its grants unchanged.
#[derive(Clone, Debug)]
pub struct Move {
    pub key: usize,
    pub commit: usize,
    pub from: String,
    pub to: String,
}

/// A grant file's content from a commit on: when, and its grants (`None`: removed).
pub type FileVersion = (DateTime<Utc>, Option<Arc<GrantSet>>);

/// A file that grants a key: its path, its grants and which one.
type Source = (Arc<str>, Arc<GrantSet>, usize);

#[derive(Debug, Default)]
pub struct Index {
    pub commits: Vec<CommitInfo>,
    pub keys: Vec<GrantKey>,
    /// Grouped by key, in time order within a key.
    pub versions: Vec<Version>,
    /// `versions[by_key[k].0 .. by_key[k].1]` are the versions of key `k`.
    pub by_key: Vec<(usize, usize)>,
    pub spans: Vec<Span>,
    pub moves: Vec<Move>,
    /// Files a commit left unloadable (commit index, path).
    pub unreadable: Vec<(usize, String)>,
    /// Each grant file's contents over time, oldest first: when a commit changed it and
    /// what it then held (`None`: removed; an unreadable version keeps the earlier grants).
    pub file_changes: HashMap<String, Vec<FileVersion>>,
}

fn expiry_instant(view: &GrantView) -> Option<DateTime<Utc>> {
    view.expires
        .as_deref()
        .and_then(|e| Expiry::parse(e).ok())
        .map(|e| e.instant())
}

/// The grants of a file by role, with their index; a role listed twice counts once
/// (`duplicate-grant`).
fn roles(set: &GrantSet) -> impl Iterator<Item = (usize, &GrantView)> {
    set.grants
        .iter()
        .enumerate()
        .filter(|(i, g)| !set.grants[..*i].iter().any(|x| x.role == g.role))
}

impl Index {
    /// Builds the index from the history, oldest commit first.
    pub fn build(history: Vec<Commit>) -> Index {
        let mut ix = Index::default();
        // app -> person -> role -> key id: looked up by `&str`, allocated once per key.
        let mut ids: HashMap<AppId, HashMap<PersonId, HashMap<RoleId, usize>>> = HashMap::new();
        let mut files: HashMap<Arc<str>, Arc<GrantSet>> = HashMap::new();
        // Per key: every file that currently grants it, sorted by path; the first one counts.
        let mut sources: Vec<Vec<Source>> = Vec::new();
        let mut open: Vec<Option<usize>> = Vec::new();
        let mut versions: Vec<Version> = Vec::new();
        let mut touched: Vec<usize> = Vec::new();
        let mut clock = DateTime::<Utc>::MIN_UTC;

        let mut key_id = |ix: &mut Index,
                          sources: &mut Vec<Vec<Source>>,
                          open: &mut Vec<Option<usize>>,
                          set: &GrantSet,
                          role: &str|
         -> usize {
            if let Some(&k) = ids
                .get(set.app.as_str())
                .and_then(|m| m.get(set.person.as_str()))
                .and_then(|m| m.get(role))
            {
                return k;
            }
            let k = ix.keys.len();
            ix.keys.push(GrantKey {
                person: set.person.clone(),
                app: set.app.clone(),
                role: role.into(),
            });
            sources.push(Vec::new());
            open.push(None);
            ids.entry(set.app.clone())
                .or_default()
                .entry(set.person.clone())
                .or_default()
                .insert(role.into(), k);
            k
        };

        for (ci, commit) in history.into_iter().enumerate() {
            clock = clock.max(commit.time);
            let t = clock;
            for f in commit.files {
                let history = match ix.file_changes.get_mut(f.path.as_str()) {
                    Some(h) => h,
                    None => ix.file_changes.entry(f.path.clone()).or_default(),
                };
                let new = match f.after {
                    Side::Unreadable => {
                        let before = history.last().and_then(|(_, set)| set.clone());
                        history.push((t, before));
                        ix.unreadable.push((ci, f.path));
                        continue;
                    }
                    Side::Absent => None,
                    Side::Grants(g) => Some(g),
                };
                history.push((t, new.clone()));
                let path: Arc<str> = Arc::from(f.path);
                let old = match &new {
                    Some(g) => files.insert(Arc::clone(&path), Arc::clone(g)),
                    None => files.remove(&path),
                };
                if let Some(old) = &old {
                    for (_, g) in roles(old) {
                        let k = key_id(&mut ix, &mut sources, &mut open, old, &g.role);
                        sources[k].retain(|(p, _, _)| *p != path);
                        touched.push(k);
                    }
                }
                if let Some(new) = &new {
                    for (gi, g) in roles(new) {
                        let k = key_id(&mut ix, &mut sources, &mut open, new, &g.role);
                        let list = &mut sources[k];
                        let entry = (Arc::clone(&path), Arc::clone(new), gi);
                        match list.binary_search_by(|(p, _, _)| p.cmp(&path)) {
                            Ok(i) => list[i] = entry,
                            Err(i) => list.insert(i, entry),
                        }
                        touched.push(k);
                    }
                }
            }
            touched.sort_unstable();
            touched.dedup();
            for &k in &touched {
                let now = sources[k].first();
                match (open[k], now) {
                    (None, None) => {}
                    (None, Some((path, set, gi))) => {
                        versions.push(Version {
                            key: k,
                            commit: ci,
                            from: t,
                            to: None,
                            ended_by: None,
                            removed: false,
                            expiry: expiry_instant(&set.grants[*gi]),
                            set: Arc::clone(set),
                            grant: *gi,
                            path: Arc::clone(path),
                        });
                        open[k] = Some(versions.len() - 1);
                    }
                    (Some(vi), None) => {
                        let v = &mut versions[vi];
                        v.to = Some(t);
                        v.ended_by = Some(ci);
                        v.removed = true;
                        open[k] = None;
                    }
                    (Some(vi), Some((path, set, gi))) => {
                        if *versions[vi].view() != set.grants[*gi] {
                            let v = &mut versions[vi];
                            v.to = Some(t);
                            v.ended_by = Some(ci);
                            versions.push(Version {
                                key: k,
                                commit: ci,
                                from: t,
                                to: None,
                                ended_by: None,
                                removed: false,
                                expiry: expiry_instant(&set.grants[*gi]),
                                set: Arc::clone(set),
                                grant: *gi,
                                path: Arc::clone(path),
                            });
                            open[k] = Some(versions.len() - 1);
                        } else if versions[vi].path != *path {
                            ix.moves.push(Move {
                                key: k,
                                commit: ci,
                                from: versions[vi].path.to_string(),
                                to: path.to_string(),
                            });
                            versions[vi].path = Arc::clone(path);
                        }
                    }
                }
            }
            touched.clear();
            ix.commits.push(CommitInfo {
                sha: commit.sha,
                time: t,
                summary: commit.summary,
                parents: commit.parents,
                touches_access: commit.touches_access,
                touches_governance: commit.touches_governance,
                people_changed: commit.people_changed,
            });
        }

        // Group by key; within a key, versions were pushed in time order.
        let mut counts = vec![0usize; ix.keys.len() + 1];
        for v in &versions {
            counts[v.key + 1] += 1;
        }
        for k in 0..ix.keys.len() {
            counts[k + 1] += counts[k];
        }
        ix.by_key = (0..ix.keys.len())
            .map(|k| (counts[k], counts[k + 1]))
            .collect();
        let mut order: Vec<usize> = (0..versions.len()).collect();
        order.sort_by_key(|&i| versions[i].key);
        let mut slots: Vec<Option<Version>> = versions.into_iter().map(Some).collect();
        ix.versions = order.into_iter().filter_map(|i| slots[i].take()).collect();
        ix.spans = spans(&ix.versions, &ix.by_key);
        ix
    }

    /// For `review-overdue` as of `t`: when each grant file was last changed by then.
    pub fn last_touched_at(&self, t: DateTime<Utc>) -> HashMap<String, DateTime<Utc>> {
        self.file_changes
            .iter()
            .filter_map(|(path, changes)| {
                let n = changes.partition_point(|(x, _)| *x <= t);
                n.checked_sub(1).map(|i| (path.clone(), changes[i].0))
            })
            .collect()
    }

    /// The grant files on the branch at `t`, as history parsed them (files that never
    /// loaded are left out).
    pub fn files_at(&self, t: DateTime<Utc>) -> Vec<(&str, &Arc<GrantSet>)> {
        let mut out: Vec<(&str, &Arc<GrantSet>)> = self
            .file_changes
            .iter()
            .filter_map(|(path, changes)| {
                let n = changes.partition_point(|(x, _)| *x <= t);
                let set = changes[n.checked_sub(1)?].1.as_ref()?;
                Some((path.as_str(), set))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(b.0));
        out
    }

    pub fn key_versions(&self, k: usize) -> &[Version] {
        let (a, b) = self.by_key[k];
        &self.versions[a..b]
    }

    /// The commit index at or before `t` (the branch as it was at `t`).
    pub fn commit_at(&self, t: DateTime<Utc>) -> Option<usize> {
        let n = self.commits.partition_point(|c| c.time <= t);
        n.checked_sub(1)
    }

    /// Everyone holding a grant at instant `t`, sorted by app, person and role.
    pub fn holders_at(&self, t: DateTime<Utc>, filter: &Filter) -> Vec<Holding> {
        let mut out = Vec::new();
        for span in &self.spans {
            if !span.held_at(t) || !filter.matches(&self.keys[span.key]) {
                continue;
            }
            // The version in force at `t`: the last one of the span that began by then.
            let version = (span.first..=span.last)
                .rev()
                .find(|&v| self.versions[v].from <= t)
                .unwrap_or(span.first);
            out.push(Holding {
                key: self.keys[span.key].clone(),
                since: span.start,
                since_commit: self.versions[span.first].commit,
                version,
                commit: self.versions[version].commit,
            });
        }
        out.sort_by(|a, b| {
            (&a.key.app, &a.key.person, &a.key.role).cmp(&(&b.key.app, &b.key.person, &b.key.role))
        });
        out
    }

    /// Grants, changes, moves, expiries and revocations within `[since, until]`, oldest first.
    pub fn timeline(
        &self,
        since: Option<DateTime<Utc>>,
        until: DateTime<Utc>,
        filter: &Filter,
    ) -> Vec<Event> {
        let within = |t: DateTime<Utc>| since.is_none_or(|s| t >= s) && t <= until;
        let mut out = Vec::new();
        let mut push = |at, op, key: &GrantKey, commit, version, previous, detail| {
            if within(at) {
                out.push(Event {
                    at,
                    op,
                    key: key.clone(),
                    commit,
                    version,
                    previous,
                    detail,
                });
            }
        };
        for (k, key) in self.keys.iter().enumerate() {
            if !filter.matches(key) {
                continue;
            }
            let (a, b) = self.by_key[k];
            for vi in a..b {
                let v = &self.versions[vi];
                let prev = (vi > a).then(|| &self.versions[vi - 1]);
                let replaced = prev.filter(|p| p.to == Some(v.from) && !p.removed);
                let held_before = replaced.filter(|p| p.held_until_replaced());
                let op = match (held_before, replaced) {
                    (Some(p), _) => change_op(p.view(), v.view()),
                    (None, Some(_)) if !v.active() => EventOp::Change,
                    _ => EventOp::Grant,
                };
                let shown_prev = replaced.map(|_| vi - 1);
                push(
                    v.from,
                    op,
                    key,
                    Some(v.commit),
                    vi,
                    shown_prev,
                    detail(replaced, v),
                );
                if v.removed
                    && let Some(t) = v.to
                    && !v.held_until_commit()
                {
                    push(
                        t,
                        EventOp::Cleanup,
                        key,
                        v.ended_by,
                        vi,
                        None,
                        "removed from the files after it had ended".into(),
                    );
                }
            }
        }
        for span in &self.spans {
            let key = &self.keys[span.key];
            if !filter.matches(key) {
                continue;
            }
            match span.end {
                Some((t, End::Expired)) => {
                    let v = &self.versions[span.last];
                    let what = match v.expiry {
                        Some(e) if e == t => format!(
                            "expired ({})",
                            v.view().expires.as_deref().unwrap_or_default()
                        ),
                        _ => "ended: changed to an expiry already past".into(),
                    };
                    push(t, EventOp::Expire, key, None, span.last, None, what);
                }
                Some((t, End::Removed { commit })) => push(
                    t,
                    EventOp::Revoke,
                    key,
                    Some(commit),
                    span.last,
                    None,
                    String::new(),
                ),
                None => {}
            }
        }
        for m in &self.moves {
            let c = &self.commits[m.commit];
            if !filter.matches(&self.keys[m.key]) {
                continue;
            }
            let (a, b) = self.by_key[m.key];
            let vi = (a..b)
                .rev()
                .find(|&v| self.versions[v].from <= c.time)
                .unwrap_or(a);
            push(
                c.time,
                EventOp::Move,
                &self.keys[m.key],
                Some(m.commit),
                vi,
                None,
                format!("moved from `{}` to `{}`", m.from, m.to),
            );
        }
        out.sort_by(|a, b| {
            (a.at, a.commit, &a.key.app, &a.key.person, &a.key.role, a.op).cmp(&(
                b.at,
                b.commit,
                &b.key.app,
                &b.key.person,
                &b.key.role,
                b.op,
            ))
        });
        out
    }

    /// The span of key `k` that holds version `vi`.
    pub fn span_of(&self, vi: usize) -> Option<&Span> {
        let k = self.versions[vi].key;
        self.spans
            .iter()
            .find(|s| s.key == k && s.first <= vi && vi <= s.last)
    }
}

fn change_op(before: &GrantView, after: &GrantView) -> EventOp {
    let only_reviewed = GrantView {
        reviewed: after.reviewed.clone(),
        ..before.clone()
    } == *after;
    if only_reviewed {
        EventOp::Review
    } else {
        EventOp::Change
    }
}

fn detail(prev: Option<&Version>, v: &Version) -> String {
    let mut parts = Vec::new();
    if let Some(p) = prev {
        let (a, b) = (p.view(), v.view());
        if a.expires != b.expires {
            let longer = match (p.expiry, v.expiry) {
                (Some(x), Some(y)) => y > x,
                (Some(_), None) => true,
                _ => false,
            };
            parts.push(format!(
                "expires {} -> {}{}",
                a.expires.as_deref().unwrap_or("never"),
                b.expires.as_deref().unwrap_or("never"),
                if longer { " (extended)" } else { "" }
            ));
        }
        if a.reviewed != b.reviewed {
            parts.push(format!(
                "reviewed {}",
                b.reviewed.as_deref().unwrap_or("cleared")
            ));
        }
        if a.justification != b.justification {
            parts.push("justification changed".into());
        }
        if a.ticket != b.ticket {
            parts.push(format!(
                "ticket {}",
                b.ticket.as_deref().unwrap_or("removed")
            ));
        }
        if a.emergency != b.emergency {
            parts.push(if b.emergency {
                "now an emergency grant".into()
            } else {
                "no longer an emergency grant".into()
            });
        }
    }
    if !v.active() {
        parts.push("not held: its expiry had already passed".into());
    }
    parts.join("; ")
}

/// Spans from versions grouped by key.
fn spans(versions: &[Version], by_key: &[(usize, usize)]) -> Vec<Span> {
    let mut out = Vec::new();
    for (k, &(a, b)) in by_key.iter().enumerate() {
        let mut cur: Option<Span> = None;
        for vi in a..b {
            let v = &versions[vi];
            if !v.active() {
                continue;
            }
            match cur.as_mut() {
                Some(s) => s.last = vi,
                None => {
                    cur = Some(Span {
                        key: k,
                        start: v.from,
                        first: vi,
                        last: vi,
                        end: None,
                    });
                }
            }
            let next_continues = v.held_until_replaced() && vi + 1 < b && versions[vi + 1].active();
            if next_continues {
                continue;
            }
            let Some(mut s) = cur.take() else { continue };
            s.end = match (v.expiry, v.to) {
                (_, Some(t)) if v.removed && v.expiry.is_none_or(|e| e > t) => Some((
                    t,
                    End::Removed {
                        commit: v.ended_by.unwrap_or(v.commit),
                    },
                )),
                (Some(e), None) => Some((e, End::Expired)),
                (Some(e), Some(t)) if e <= t => Some((e, End::Expired)),
                // Replaced by a version whose expiry had already passed.
                (_, Some(t)) => Some((t, End::Expired)),
                (None, None) => None,
            };
            out.push(s);
        }
    }
    out
}

/// One grant held at an instant.
#[derive(Clone, Debug)]
pub struct Holding {
    pub key: GrantKey,
    /// When the uninterrupted holding began, and the commit that granted it.
    pub since: DateTime<Utc>,
    pub since_commit: usize,
    /// The version in force (its commit approved what it says now, extensions included).
    pub version: usize,
    pub commit: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventOp {
    Grant,
    Change,
    Review,
    Move,
    Expire,
    Revoke,
    Cleanup,
}

impl EventOp {
    pub fn as_str(self) -> &'static str {
        match self {
            EventOp::Grant => "grant",
            EventOp::Change => "change",
            EventOp::Review => "review",
            EventOp::Move => "move",
            EventOp::Expire => "expire",
            EventOp::Revoke => "revoke",
            EventOp::Cleanup => "cleanup",
        }
    }

    /// An event that ends access (the provisioner removes the member).
    pub fn ends_access(self) -> bool {
        matches!(self, EventOp::Expire | EventOp::Revoke)
    }
}

/// One entry of the timeline.
#[derive(Clone, Debug)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub op: EventOp,
    pub key: GrantKey,
    /// The commit that made the change (`None` for an expiry, which no commit makes).
    pub commit: Option<usize>,
    /// The version the event is about (for an end: the version that ended).
    pub version: usize,
    /// For a change: the version it replaced.
    pub previous: Option<usize>,
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::FileDiff;

    fn t(s: &str) -> DateTime<Utc> {
        crate::model::time::parse_as_of(s).unwrap()
    }

    fn view(role: &str, expires: Option<&str>, reviewed: Option<&str>) -> GrantView {
        GrantView {
            role: role.into(),
            justification: Some("Runs the weekly supplier payments".into()),
            expires: expires.map(str::to_owned),
            ticket: None,
            emergency: false,
            reviewed: reviewed.map(str::to_owned),
        }
    }

    fn file(path: &str, person: &str, app: &str, grants: Vec<GrantView>) -> FileDiff {
        FileDiff {
            path: path.into(),
            after: Side::Grants(Arc::new(GrantSet {
                person: person.into(),
                app: app.into(),
                grants,
            })),
        }
    }

    fn gone(path: &str) -> FileDiff {
        FileDiff {
            path: path.into(),
            after: Side::Absent,
        }
    }

    fn commit(n: usize, at: &str, files: Vec<FileDiff>) -> Commit {
        Commit {
            sha: format!("{n:040x}").into(),
            time: t(at),
            summary: format!("commit {n}"),
            parents: 1,
            touches_access: true,
            touches_governance: false,
            people_changed: false,
            files,
        }
    }

    fn who(ix: &Index, at: &str) -> Vec<String> {
        ix.holders_at(t(at), &Filter::default())
            .into_iter()
            .map(|h| format!("{}:{}:{}", h.key.person, h.key.app, h.key.role))
            .collect()
    }

    fn ops(ix: &Index) -> Vec<(String, &'static str, String)> {
        ix.timeline(None, t("2100-01-01"), &Filter::default())
            .into_iter()
            .map(|e| {
                (
                    super::super::stamp(e.at),
                    e.op.as_str(),
                    e.key.person.to_string(),
                )
            })
            .collect()
    }

    const OMAR: &str = "access/payments/omar.yaml";

    #[test]
    fn a_grant_is_held_from_its_commit_until_its_expiry_even_if_removed_later() {
        let ix = Index::build(vec![
            commit(
                1,
                "2026-01-10T10:00:00Z",
                vec![file(
                    OMAR,
                    "omar",
                    "payments",
                    vec![view("viewer", Some("2026-03-31"), None)],
                )],
            ),
            commit(2, "2026-04-05T12:00:00Z", vec![gone(OMAR)]),
        ]);
        assert!(who(&ix, "2026-01-10T09:59:59Z").is_empty());
        assert_eq!(who(&ix, "2026-01-10T10:00:00Z"), ["omar:payments:viewer"]);
        assert_eq!(who(&ix, "2026-03-31T23:59:59Z"), ["omar:payments:viewer"]);
        assert!(who(&ix, "2026-04-01T00:00:00Z").is_empty());
        assert_eq!(
            ops(&ix),
            [
                ("2026-01-10T10:00:00Z".into(), "grant", "omar".into()),
                ("2026-04-01T00:00:00Z".into(), "expire", "omar".into()),
                ("2026-04-05T12:00:00Z".into(), "cleanup", "omar".into()),
            ]
        );
    }

    #[test]
    fn an_extension_keeps_one_span_and_a_review_is_its_own_event() {
        let ix = Index::build(vec![
            commit(
                1,
                "2026-01-10T10:00:00Z",
                vec![file(
                    OMAR,
                    "omar",
                    "payments",
                    vec![view("viewer", Some("2026-03-31"), None)],
                )],
            ),
            commit(
                2,
                "2026-03-01T10:00:00Z",
                vec![file(
                    OMAR,
                    "omar",
                    "payments",
                    vec![view("viewer", Some("2026-06-30"), None)],
                )],
            ),
            commit(
                3,
                "2026-04-01T10:00:00Z",
                vec![file(
                    OMAR,
                    "omar",
                    "payments",
                    vec![view("viewer", Some("2026-06-30"), Some("2026-04-01"))],
                )],
            ),
            commit(4, "2026-05-01T10:00:00Z", vec![gone(OMAR)]),
        ]);
        assert_eq!(ix.spans.len(), 1);
        let h = &ix.holders_at(t("2026-04-15"), &Filter::default())[0];
        assert_eq!(h.since, t("2026-01-10T10:00:00Z"));
        assert_eq!(ix.commits[h.commit].summary, "commit 3");
        assert_eq!(
            ops(&ix).iter().map(|e| e.1).collect::<Vec<_>>(),
            ["grant", "change", "review", "revoke"]
        );
        assert!(who(&ix, "2026-05-01T10:00:00Z").is_empty());
    }

    #[test]
    fn an_extension_after_expiry_is_a_new_grant() {
        let ix = Index::build(vec![
            commit(
                1,
                "2026-01-10T10:00:00Z",
                vec![file(
                    OMAR,
                    "omar",
                    "payments",
                    vec![view("viewer", Some("2026-01-31"), None)],
                )],
            ),
            commit(
                2,
                "2026-02-10T10:00:00Z",
                vec![file(
                    OMAR,
                    "omar",
                    "payments",
                    vec![view("viewer", Some("2026-06-30"), None)],
                )],
            ),
        ]);
        assert!(who(&ix, "2026-02-05").is_empty());
        assert_eq!(ix.spans.len(), 2);
        assert_eq!(
            ops(&ix).iter().map(|e| e.1).collect::<Vec<_>>(),
            ["grant", "expire", "grant", "expire"]
        );
    }

    #[test]
    fn a_move_with_the_same_grants_is_not_a_change_but_a_new_person_is() {
        let ix = Index::build(vec![
            commit(
                1,
                "2026-01-10T10:00:00Z",
                vec![file(
                    "access/payments/Omar.yaml",
                    "omar",
                    "payments",
                    vec![view("viewer", None, None)],
                )],
            ),
            commit(
                2,
                "2026-02-10T10:00:00Z",
                vec![
                    gone("access/payments/Omar.yaml"),
                    file(OMAR, "omar", "payments", vec![view("viewer", None, None)]),
                ],
            ),
            commit(
                3,
                "2026-03-10T10:00:00Z",
                vec![
                    gone(OMAR),
                    file(
                        "access/payments/omar.haddad.yaml",
                        "omar.haddad",
                        "payments",
                        vec![view("viewer", None, None)],
                    ),
                ],
            ),
        ]);
        assert_eq!(who(&ix, "2026-02-10T10:00:00Z"), ["omar:payments:viewer"]);
        assert_eq!(who(&ix, "2026-03-10T09:59:59Z"), ["omar:payments:viewer"]);
        assert_eq!(
            who(&ix, "2026-03-10T10:00:00Z"),
            ["omar.haddad:payments:viewer"]
        );
        let h = &ix.holders_at(t("2026-03-01"), &Filter::default())[0];
        assert_eq!(
            h.since,
            t("2026-01-10T10:00:00Z"),
            "the move did not restart it"
        );
        assert_eq!(
            ops(&ix).iter().map(|e| e.1).collect::<Vec<_>>(),
            ["grant", "move", "revoke", "grant"]
        );
    }

    #[test]
    fn a_grant_in_two_files_is_held_while_either_has_it() {
        let other = "access/payments/omar-old.yaml";
        let ix = Index::build(vec![
            commit(
                1,
                "2026-01-10T10:00:00Z",
                vec![file(
                    OMAR,
                    "omar",
                    "payments",
                    vec![view("viewer", None, None)],
                )],
            ),
            commit(
                2,
                "2026-02-10T10:00:00Z",
                vec![file(
                    other,
                    "omar",
                    "payments",
                    vec![view("viewer", None, None)],
                )],
            ),
            commit(3, "2026-03-10T10:00:00Z", vec![gone(OMAR)]),
            commit(4, "2026-04-10T10:00:00Z", vec![gone(other)]),
        ]);
        assert_eq!(who(&ix, "2026-03-20"), ["omar:payments:viewer"]);
        assert!(who(&ix, "2026-04-10T10:00:00Z").is_empty());
        assert_eq!(ix.spans.len(), 1);
    }

    #[test]
    fn an_unreadable_file_keeps_the_earlier_state() {
        let ix = Index::build(vec![
            commit(
                1,
                "2026-01-10T10:00:00Z",
                vec![file(
                    OMAR,
                    "omar",
                    "payments",
                    vec![view("viewer", None, None)],
                )],
            ),
            commit(
                2,
                "2026-02-10T10:00:00Z",
                vec![FileDiff {
                    path: OMAR.into(),
                    after: Side::Unreadable,
                }],
            ),
        ]);
        assert_eq!(who(&ix, "2026-03-01"), ["omar:payments:viewer"]);
        assert_eq!(ix.unreadable, [(1, OMAR.to_owned())]);
    }

    #[test]
    fn commit_times_never_go_backwards() {
        let ix = Index::build(vec![
            commit(
                1,
                "2026-02-10T10:00:00Z",
                vec![file(
                    OMAR,
                    "omar",
                    "payments",
                    vec![view("viewer", None, None)],
                )],
            ),
            commit(2, "2026-01-01T00:00:00Z", vec![gone(OMAR)]),
        ]);
        assert_eq!(ix.commits[1].time, t("2026-02-10T10:00:00Z"));
        assert_eq!(who(&ix, "2026-02-10T09:00:00Z"), Vec::<String>::new());
    }
}
