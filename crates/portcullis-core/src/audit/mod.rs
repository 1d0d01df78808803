//! `audit`: who held what, when, and who approved it, from the default branch's history and the
//! evidence notes.
//!
//! The git edge (`crate::history`) walks the branch's first-parent history (each commit is one
//! change to the branch: a merged pull request, a squash, or a direct push) and hands over, per
//! commit, the grant files it changed, already parsed. From that, [`index`] builds the life of
//! every grant: its versions and the spans during which it was held; [`notes`] indexes the
//! evidence `apply` recorded; [`pack`] assembles the evidence pack for a period; [`render`]
//! prints holders, timelines and packs as text, JSON, CSV or markdown.
//!
//! Pure: no git, no network, no clock. Approvers the notes do not hold are looked up by the edge
//! (from the GitHub API) and passed in as [`notes::Lookups`].
//!
//! **What a grant is.** A grant is identified by what it grants — person, app and role, as the
//! file's content says — not by where its file lives. A file moved or renamed keeps the history
//! of its grants when person, app and role are unchanged (a move is recorded, nothing ends); a
//! rename that changes the person or the app (a person's id changed) ends the old grants and
//! starts new ones, because access under another id is other access.
//!
//! **When a grant is held.** From the commit that adds it to the first of: the commit that
//! removes it, and its expiry — a grant ends at its expiry even when its file is removed later.
//! Commit times are committer times, made non-decreasing along the branch (a commit dated
//! before its parent counts at its parent's time).

pub mod index;
pub mod lookup;
pub mod notes;
pub mod pack;
pub mod period;
pub mod render;

use crate::model::{AppId, PersonId, RoleId};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::model::GrantFile;
use crate::plan::GrantView;

pub use index::{Event, EventOp, GrantKey, Holding, Index};

/// One commit of the branch's first-parent history, with the grant files it changed.
#[derive(Clone, Debug)]
pub struct Commit {
    /// Full sha.
    pub sha: crate::model::CommitId,
    /// Committer time.
    pub time: DateTime<Utc>,
    pub summary: String,
    pub parents: usize,
    /// Anything under `access/` changed (also outside the files the walk was asked to read).
    pub touches_access: bool,
    /// Anything under `policies/`, `schemas/` or `.github/` changed.
    pub touches_governance: bool,
    /// `policies/people.yaml` changed.
    pub people_changed: bool,
    /// The grant files (`access/<app>/<person>.yaml`) it changed, as they are after it.
    pub files: Vec<FileDiff>,
}

#[derive(Clone, Debug)]
pub struct FileDiff {
    pub path: String,
    pub after: Side,
}

/// A grant file as a commit left it.
#[derive(Clone, Debug)]
pub enum Side {
    Absent,
    /// Present but not loadable (`check` says why): its grants keep their earlier state.
    Unreadable,
    Grants(Arc<GrantSet>),
}

/// The grants of one file, without positions.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GrantSet {
    pub person: PersonId,
    pub app: AppId,
    pub grants: Vec<GrantView>,
}

impl GrantSet {
    pub fn of(f: &GrantFile) -> GrantSet {
        GrantSet {
            person: f.person.value.clone(),
            app: f.app.value.clone(),
            grants: f.grants.iter().map(GrantView::of).collect(),
        }
    }

    /// Back to a grant file for the rules (every position 1:1: the values are what count).
    pub fn to_file(&self, path: &str) -> GrantFile {
        use crate::model::{Expiry, Grant, Pos, Spanned};
        fn at<T>(value: T) -> Spanned<T> {
            Spanned {
                value,
                pos: Pos::START,
            }
        }
        GrantFile {
            path: path.to_owned(),
            person: at(self.person.clone()),
            app: at(self.app.clone()),
            grants: self
                .grants
                .iter()
                .map(|g| Grant {
                    role: at(g.role.clone()),
                    item: Pos::START,
                    justification: g.justification.clone().map(at),
                    expires: g
                        .expires
                        .as_deref()
                        .and_then(|e| Expiry::parse(e).ok())
                        .map(|value| Spanned {
                            value,
                            pos: Pos::START,
                        }),
                    ticket: g.ticket.clone(),
                    emergency: g.emergency,
                    reviewed: g
                        .reviewed
                        .as_deref()
                        .and_then(|d| crate::model::time::parse_date(d).ok())
                        .map(|value| Spanned {
                            value,
                            pos: Pos::START,
                        }),
                })
                .collect(),
        }
    }
}

/// Which grants a question is about.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub person: Option<PersonId>,
    pub app: Option<AppId>,
    pub role: Option<RoleId>,
}

impl Filter {
    pub fn matches(&self, key: &GrantKey) -> bool {
        self.person.as_ref().is_none_or(|p| *p == key.person)
            && self.app.as_ref().is_none_or(|a| *a == key.app)
            && self.role.as_ref().is_none_or(|r| *r == key.role)
    }
}

/// RFC 3339 in UTC with seconds, as every output writes instants.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn parse_stamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A duration for people: `3d 4h`, `45m`, `12s`.
pub fn human_duration(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    let (days, hours, minutes) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    if days > 0 {
        if hours > 0 {
            format!("{days}d {hours}h")
        } else {
            format!("{days}d")
        }
    } else if hours > 0 {
        if minutes > 0 {
            format!("{hours}h {minutes}m")
        } else {
            format!("{hours}h")
        }
    } else if minutes > 0 {
        format!("{minutes}m")
    } else {
        format!("{s}s")
    }
}
