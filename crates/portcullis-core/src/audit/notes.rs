//! The evidence notes as `audit` reads them: who approved a commit, when its grants were
//! provisioned and when they were removed; and, when a commit has no record, what the GitHub
//! API said about it (looked up by the edge).

use crate::model::Login;
use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::GrantKey;
use super::parse_stamp;
use crate::evidence::{ChainBreak, Kind, Located, Note, Outcome};

/// One action of a record, located.
#[derive(Clone, Debug)]
pub struct Applied {
    pub at: DateTime<Utc>,
    pub result: Outcome,
    pub seq: u64,
    pub target: String,
    pub error: Option<String>,
}

#[derive(Debug, Default)]
pub struct NoteIndex {
    /// Every record, by sequence number.
    pub records: Vec<Note>,
    /// `apply` records by commit sha (indices into `records`, oldest first).
    by_commit: HashMap<crate::model::CommitId, Vec<usize>>,
    /// Actions by grant and op (`add`/`remove`), in time order.
    actions: HashMap<(GrantKey, String), Vec<Applied>>,
    pub breaks: Vec<ChainBreak>,
}

impl NoteIndex {
    pub fn new(located: Vec<Located>, breaks: Vec<ChainBreak>) -> NoteIndex {
        let mut records: Vec<Note> = located.into_iter().map(|l| l.note).collect();
        records.sort_by_key(|n| n.seq);
        let mut ix = NoteIndex {
            breaks,
            ..NoteIndex::default()
        };
        for (i, n) in records.iter().enumerate() {
            if n.kind == Kind::Apply {
                ix.by_commit.entry(n.commit.clone()).or_default().push(i);
            }
            for a in &n.actions {
                let Some(at) = parse_stamp(&a.at) else {
                    continue;
                };
                let key = GrantKey {
                    person: a.person.clone(),
                    app: a.app.clone(),
                    role: a.role.clone(),
                };
                ix.actions
                    .entry((key, a.op.clone()))
                    .or_default()
                    .push(Applied {
                        at,
                        result: a.result,
                        seq: n.seq,
                        target: a.target.clone(),
                        error: a.error.clone(),
                    });
            }
        }
        for list in ix.actions.values_mut() {
            list.sort_by_key(|a| (a.at, a.seq));
        }
        ix.records = records;
        ix
    }

    /// The newest `apply` record of a commit.
    pub fn record_for(&self, commit: &str) -> Option<&Note> {
        self.by_commit
            .get(commit)
            .and_then(|v| v.last())
            .map(|&i| &self.records[i])
    }

    pub fn has_record(&self, commit: &str) -> bool {
        self.by_commit.contains_key(commit)
    }

    /// What became of `op` (`add` or `remove`) on a grant from `from` on: the first success,
    /// else the newest attempt (failed, pending, skipped), before `until` if given.
    pub fn applied(
        &self,
        key: &GrantKey,
        op: &str,
        from: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) -> Option<&Applied> {
        let list = self.actions.get(&(key.clone(), op.to_owned()))?;
        let start = list.partition_point(|a| a.at < from);
        let window = list[start..]
            .iter()
            .take_while(|a| until.is_none_or(|u| a.at < u));
        let mut last = None;
        for a in window {
            if a.result.succeeded() {
                return Some(a);
            }
            last = Some(a);
        }
        last
    }
}

/// What the GitHub API says about a commit that has no evidence record.
#[derive(Clone, Debug, Default)]
pub struct Lookup {
    /// The merged pull request the commit belongs to; `None`: no pull request.
    pub pull: Option<PullInfo>,
    /// The approval verdict on the pull request's merged head, when it was judged.
    pub verdict: Option<Judgement>,
}

#[derive(Clone, Debug)]
pub struct PullInfo {
    pub number: u64,
    pub title: String,
    /// The head commit that was merged.
    pub head: String,
    /// `APPROVED` reviews on the merged head still in force: (login, review id).
    pub approvals: Vec<(String, u64)>,
}

#[derive(Clone, Debug)]
pub struct Judgement {
    pub approved: bool,
    /// Who met which requirement, or what was missing, in words.
    pub detail: String,
    /// Requirement met -> reviewer, from the verdict.
    pub met: Vec<(String, String)>,
}

/// Lookups by commit sha.
pub type Lookups = HashMap<crate::model::CommitId, Lookup>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// From the evidence note `apply` wrote.
    Notes,
    /// From the GitHub API (no evidence note for the commit).
    GitHub,
    /// Neither: no note, and the API was not asked or did not know.
    Unknown,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Notes => "notes",
            Source::GitHub => "github",
            Source::Unknown => "unknown",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reviewer {
    pub login: String,
    /// The requirement met (`manager`, `owner`, …), when known.
    pub as_: Option<String>,
    pub review_id: Option<u64>,
}

/// Who approved the change a commit made.
#[derive(Clone, Debug)]
pub struct Approvers {
    pub source: Source,
    pub pr: Option<u64>,
    pub reviewers: Vec<Reviewer>,
    /// `(by, reason)` of a security override.
    pub override_: Option<(String, String)>,
    /// The commit reached the branch without verified approvals.
    pub bypass: Option<String>,
}

impl Approvers {
    /// `elena-tw (manager), kenji-tw (owner)`; `unknown` when nobody is known.
    pub fn names(&self) -> String {
        let mut names: Vec<String> = self
            .reviewers
            .iter()
            .map(|r| match &r.as_ {
                Some(a) => format!("{} ({a})", r.login),
                None => r.login.clone(),
            })
            .collect();
        if let Some((by, reason)) = &self.override_ {
            names.push(format!("override by {by}: {reason}"));
        }
        if names.is_empty() {
            match self.source {
                Source::Unknown => "unknown".into(),
                _ => "none".into(),
            }
        } else {
            names.join(", ")
        }
    }
}

/// Approvers of a commit: from its evidence record, else from the API lookup, else unknown.
pub fn approvers(notes: &NoteIndex, lookups: &Lookups, commit: &str) -> Approvers {
    if let Some(n) = notes.record_for(commit) {
        return Approvers {
            source: Source::Notes,
            pr: n.pr,
            reviewers: n
                .approvals
                .iter()
                .map(|a| Reviewer {
                    login: a.reviewer.clone(),
                    as_: Some(a.as_.clone()),
                    review_id: Some(a.review_id),
                })
                .collect(),
            override_: n
                .override_
                .as_ref()
                .map(|o| (o.by.clone(), o.reason.clone())),
            bypass: n.bypass.clone(),
        };
    }
    let Some(lookup) = lookups.get(commit) else {
        return Approvers {
            source: Source::Unknown,
            pr: None,
            reviewers: Vec::new(),
            override_: None,
            bypass: None,
        };
    };
    let Some(pull) = &lookup.pull else {
        return Approvers {
            source: Source::GitHub,
            pr: None,
            reviewers: Vec::new(),
            override_: None,
            bypass: Some("no pull request: pushed to the branch directly".into()),
        };
    };
    let role_of = |login: &str| {
        lookup.verdict.as_ref().and_then(|v| {
            v.met
                .iter()
                .find(|(_, by)| Login::new(by).is(login))
                .map(|(what, _)| what.clone())
        })
    };
    Approvers {
        source: Source::GitHub,
        pr: Some(pull.number),
        reviewers: pull
            .approvals
            .iter()
            .map(|(login, id)| Reviewer {
                login: login.clone(),
                as_: role_of(login),
                review_id: Some(*id),
            })
            .collect(),
        override_: None,
        bypass: match &lookup.verdict {
            Some(v) if !v.approved => Some(format!(
                "pull request #{} lacks approvals on its merged head: {}",
                pull.number, v.detail
            )),
            _ => None,
        },
    }
}
