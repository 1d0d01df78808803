//! The journal of a run: one JSON line per event, written (and flushed to disk) by the edge
//! **before** each write to a target and after it. A run killed between two writes leaves a
//! journal; the next run reads it back with [`read`], records the killed run's actions as
//! evidence (its run unfinished, actions without a result `pending`), and finishes removals that
//! were in doubt.
//!
//! Pure: the lines are built and parsed here; the edge appends them to a file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::TargetId;
use super::ops::{Kind, Op};
use crate::evidence::{self, Action, Outcome};
use crate::model::{AppId, CommitId, PersonId, RoleId};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Line {
    /// The first line: which run, reconciling which head.
    Run { run: evidence::Run, head: CommitId },
    /// Written before the write is attempted.
    Intent {
        n: u64,
        op: String,
        app: AppId,
        target: String,
        account: String,
        person: PersonId,
        role: RoleId,
        why: String,
        /// The commit whose evidence record the action belongs to (`None`: the run's own).
        commit: Option<CommitId>,
        at: String,
    },
    /// Written after the target answered.
    Done {
        n: u64,
        result: Outcome,
        error: Option<String>,
        at: String,
    },
}

impl Line {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn intent(n: u64, op: &Op, commit: Option<&CommitId>, at: &str) -> Line {
        Line::Intent {
            n,
            op: op.kind.as_str().to_owned(),
            app: op.target.app.clone(),
            target: op.target.target.clone(),
            account: op.account.clone(),
            person: op.person.clone(),
            role: op.role.clone(),
            why: op.why.clone(),
            commit: commit.cloned(),
            at: at.to_owned(),
        }
    }
}

/// A killed run, as its journal tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crashed {
    pub run: evidence::Run,
    pub head: CommitId,
    /// Actions by the commit whose record they belong to (`None`: the run's record), in the
    /// order they were started.
    pub actions: BTreeMap<Option<CommitId>, Vec<Action>>,
    /// Removals that were started and never answered.
    pub in_doubt: Vec<Op>,
}

/// Reads a journal. A line that does not parse (the torn last line of a killed run) is skipped;
/// a journal without its `run` line is `None`.
pub fn read(text: &str) -> Option<Crashed> {
    let mut header = None;
    let mut intents: Vec<(u64, Line)> = Vec::new();
    let mut done: BTreeMap<u64, (Outcome, Option<String>, String)> = BTreeMap::new();
    for line in text.lines() {
        let Ok(parsed) = serde_json::from_str::<Line>(line) else {
            continue;
        };
        match parsed {
            Line::Run { run, head } => {
                header.get_or_insert((run, head));
            }
            Line::Intent { n, .. } => intents.push((n, parsed)),
            Line::Done {
                n,
                result,
                error,
                at,
            } => {
                done.insert(n, (result, error, at));
            }
        }
    }
    let (run, head) = header?;
    let mut actions: BTreeMap<Option<CommitId>, Vec<Action>> = BTreeMap::new();
    let mut in_doubt = Vec::new();
    for (n, line) in intents {
        let Line::Intent {
            op,
            app,
            target,
            account,
            person,
            role,
            why,
            commit,
            at,
            ..
        } = line
        else {
            continue;
        };
        let (result, error, at) = match done.remove(&n) {
            Some(d) => d,
            None => {
                if op == "remove" {
                    in_doubt.push(Op {
                        kind: Kind::Remove,
                        target: TargetId {
                            app: app.clone(),
                            target: target.clone(),
                        },
                        account: account.clone(),
                        person: person.clone(),
                        role: role.clone(),
                        why: why.clone(),
                    });
                }
                (
                    Outcome::Pending,
                    Some("in doubt: the run ended before the target answered; the next run finished it".to_owned()),
                    at,
                )
            }
        };
        actions.entry(commit).or_default().push(Action {
            op,
            app,
            person,
            role,
            target,
            account: Some(account),
            result,
            error,
            at,
        });
    }
    Some(Crashed {
        run,
        head,
        actions,
        in_doubt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind: Kind, account: &str) -> Op {
        Op {
            kind,
            target: TargetId {
                app: "vpn".into(),
                target: "vpn-users".into(),
            },
            account: account.into(),
            person: account.into(),
            role: "staff".into(),
            why: "granted".into(),
        }
    }

    #[test]
    fn a_killed_run_reads_back_with_its_unanswered_writes_in_doubt() {
        let run = evidence::Run {
            id: "r1".into(),
            started_at: "2026-11-22T09:00:00Z".into(),
            finished_at: None,
        };
        let lines = [
            Line::Run {
                run: run.clone(),
                head: "h".repeat(40).into(),
            },
            Line::intent(1, &op(Kind::Remove, "old"), None, "2026-11-22T09:00:01Z"),
            Line::Done {
                n: 1,
                result: Outcome::Changed,
                error: None,
                at: "2026-11-22T09:00:02Z".into(),
            },
            Line::intent(
                2,
                &op(Kind::Remove, "gone"),
                Some(&"c1".into()),
                "2026-11-22T09:00:03Z",
            ),
            Line::intent(
                3,
                &op(Kind::Add, "new"),
                Some(&"c1".into()),
                "2026-11-22T09:00:04Z",
            ),
        ];
        let mut text: String = lines.iter().map(|l| l.to_json() + "\n").collect();
        text.push_str("{\"type\":\"done\",\"n\":3,\"res"); // torn by the kill
        let crashed = read(&text).unwrap();
        assert_eq!(crashed.run, run);
        assert_eq!(crashed.actions[&None][0].result, Outcome::Changed);
        let c1 = &crashed.actions[&Some("c1".into())];
        assert_eq!(c1.len(), 2);
        assert!(c1.iter().all(|a| a.result == Outcome::Pending));
        // Only the removal is done again; an addition in doubt is found by the listing.
        assert_eq!(crashed.in_doubt, vec![op(Kind::Remove, "gone")]);
    }

    #[test]
    fn a_journal_without_its_run_line_is_nothing() {
        assert_eq!(read(""), None);
        assert_eq!(read("garbage\n"), None);
    }
}
