//! `audit --evidence` and the report: the branch as it stood at a time (its policies read
//! through the Repo port, its grants from the history index) and the evidence pack for a
//! period, with when each leaver was marked as one.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Result, anyhow};
use chrono::{DateTime, Duration, Utc};

use super::lookup::Lookuper;
use super::notes::NoteIndex;
use super::pack::{self, Pack};
use super::{Filter, Index};
use crate::model::Catalog;
use crate::ports::Repo;

/// The evidence pack of `since`..`until`.
#[allow(clippy::too_many_arguments)]
pub fn evidence(
    repo: &dyn Repo,
    index: &Index,
    notes: &NoteIndex,
    lookups: &mut Lookuper,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
    sla: Duration,
    filter: &Filter,
) -> Result<Pack> {
    let (catalog, findings, _) = branch_at(repo, index, until)?;
    let leavers = leaver_times(repo, index, &catalog, since, until)?;

    // Every commit the pack may name: changes in the period, and removals.
    let mut commits: BTreeSet<usize> = index
        .commits
        .iter()
        .enumerate()
        .filter(|(_, c)| c.touches_access && c.time >= since && c.time <= until)
        .map(|(i, _)| i)
        .collect();
    commits.extend(
        index
            .timeline(Some(since), until, filter)
            .iter()
            .filter_map(|e| e.commit),
    );
    let commits: Vec<usize> = commits.into_iter().collect();
    lookups.fill(index, notes, &commits)?;
    Ok(pack::build(&pack::Input {
        index,
        notes,
        lookups: &lookups.found,
        since,
        until,
        now,
        sla,
        catalog: &catalog,
        findings: &findings,
        leavers: &leavers,
        filter,
    }))
}

/// The branch as it stood at `t`: its policies read from git, its grant files as the history
/// walk parsed them (not parsed again), and the findings of `check`'s rules on them.
pub fn branch_at(
    repo: &dyn Repo,
    index: &Index,
    t: DateTime<Utc>,
) -> Result<(
    Catalog,
    Vec<crate::diag::Diagnostic>,
    crate::model::CommitId,
)> {
    let Some(at) = index.commit_at(t) else {
        return Err(anyhow!(
            "the branch has no commit before {}\nhint: choose a later time",
            super::stamp(t)
        ));
    };
    let sha = index.commits[at].sha.clone();
    let rev = repo.tree(&sha)?;
    let mut snapshot = rev.read_dir("policies")?;
    if let Some(e) = rev.read(crate::model::CODEOWNERS_FILE)? {
        snapshot
            .files
            .insert(crate::model::CODEOWNERS_FILE.to_owned(), e);
    }
    let mut loaded = crate::check::load(&snapshot);
    loaded.catalog.grant_files = index
        .files_at(t)
        .into_iter()
        .map(|(path, set)| set.to_file(path))
        .collect();
    let (catalog, report) = crate::check::finish(loaded, &snapshot, t, &index.last_touched_at(t));
    Ok((catalog, report.diagnostics, sha))
}

/// When each leaver at `until` was marked as one: the oldest version of the people directory,
/// walking back from `until`, that already said so. Only leavers whose access could matter to
/// the period are looked up.
fn leaver_times(
    repo: &dyn Repo,
    index: &Index,
    catalog: &Catalog,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<BTreeMap<crate::model::PersonId, DateTime<Utc>>> {
    let mut wanted: BTreeSet<&str> = BTreeSet::new();
    for span in &index.spans {
        let person = index.keys[span.key].person.as_str();
        let relevant = span.start <= until && span.end.is_none_or(|(t, _)| t >= since);
        if relevant && catalog.people.get(person).is_some_and(|p| p.leaver) {
            wanted.insert(person);
        }
    }
    let mut out = BTreeMap::new();
    if wanted.is_empty() {
        return Ok(out);
    }
    let versions: Vec<usize> = index
        .commits
        .iter()
        .enumerate()
        .filter(|(_, c)| c.people_changed && c.time <= until)
        .map(|(i, _)| i)
        .rev()
        .collect();
    let mut newer: Option<DateTime<Utc>> = None;
    for ci in versions {
        let c = &index.commits[ci];
        let rev = repo.tree(&c.sha)?;
        let mut snap = crate::snapshot::Snapshot::default();
        if let Some(e) = rev.read(crate::model::PEOPLE_FILE)? {
            snap.files.insert(crate::model::PEOPLE_FILE.to_owned(), e);
        }
        let (people, _) = crate::load::load(&snap);
        let resolved: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|p| !people.people.get(*p).is_some_and(|x| x.leaver))
            .collect();
        for p in resolved {
            wanted.remove(p);
            if let Some(t) = newer {
                out.insert(p.into(), t);
            }
        }
        if wanted.is_empty() {
            break;
        }
        newer = Some(c.time);
    }
    // Leavers in every version: since the oldest one.
    if let Some(t) = newer {
        for p in wanted {
            out.insert(p.into(), t);
        }
    }
    Ok(out)
}
