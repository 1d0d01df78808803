//! Runs a run's operations: for each, the intent is journaled before the target is touched and
//! the answer after; one failing operation, person or target never stops the others.
//!
//! The backends, the journal sink and the clock are capabilities passed in: this module does no
//! I/O of its own. A journal that cannot be written stops the run before the next write, since
//! a write without its intent on disk could not be resumed or accounted for.

use std::collections::BTreeMap;

use anyhow::Result;

use super::journal::Line;
use super::ops::{Kind, Observed, Op};
use super::{TargetId, desired::Desired};
use crate::evidence::{Action, Outcome};
use crate::provision::backend::{self as provisioner, Provisioner};

type Connect<'a> = Box<dyn FnMut(&str) -> Result<Box<dyn Provisioner>> + 'a>;

/// The connected backend of each app, connected on first use; a connection that failed is
/// remembered as its error so every operation of the app reports it.
pub struct Backends<'a> {
    connect: Connect<'a>,
    open: BTreeMap<String, Result<Box<dyn Provisioner>, String>>,
}

impl<'a> Backends<'a> {
    pub fn new(connect: impl FnMut(&str) -> Result<Box<dyn Provisioner>> + 'a) -> Backends<'a> {
        Backends {
            connect: Box::new(connect),
            open: BTreeMap::new(),
        }
    }

    pub fn get(&mut self, app: &str) -> Result<&mut (dyn Provisioner + 'static), String> {
        if !self.open.contains_key(app) {
            let connected = (self.connect)(app).map_err(|e| format!("{e:#}"));
            self.open.insert(app.to_owned(), connected);
        }
        match self.open.get_mut(app).expect("inserted above") {
            Ok(b) => Ok(b.as_mut()),
            Err(e) => Err(e.clone()),
        }
    }
}

/// Lists every target of `desired` for which `wanted` is true.
pub fn observe(
    desired: &Desired,
    backends: &mut Backends<'_>,
    wanted: impl Fn(&TargetId) -> bool,
) -> Observed {
    let mut out = Observed::new();
    for id in desired.targets.keys().filter(|id| wanted(id)) {
        let listing = backends
            .get(&id.app)
            .and_then(|b| b.list(&id.target).map_err(|e| format!("{e:#}")));
        out.insert(id.clone(), listing);
    }
    out
}

/// One operation's end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Done {
    pub op: Op,
    pub commit: Option<crate::model::CommitId>,
    pub action: Action,
}

/// Runs `ops` (each with the commit whose record it belongs to) in order. `journal` receives
/// each line and must have an intent, and every line before it, on disk when it returns: the
/// write it announces follows. `first` numbers the first intent.
pub fn execute(
    ops: &[(Op, Option<crate::model::CommitId>)],
    backends: &mut Backends<'_>,
    journal: &mut dyn FnMut(&Line) -> Result<()>,
    clock: &dyn Fn() -> String,
    first: u64,
) -> Result<Vec<Done>> {
    let mut out = Vec::with_capacity(ops.len());
    for (i, (op, commit)) in ops.iter().enumerate() {
        let n = first + i as u64;
        journal(&Line::intent(n, op, commit.as_ref(), &clock()))?;
        let answer = backends.get(&op.target.app).and_then(|b| {
            let r = match op.kind {
                Kind::Add => b.add(&op.target.target, &op.account),
                Kind::Remove => b.remove(&op.target.target, &op.account),
            };
            r.map_err(|e| format!("{e:#}"))
        });
        // A pending write's note (where it waits) travels in `error`: the evidence format has
        // no other free-text field, and it is what a reader needs to follow it up.
        let (result, error) = match answer {
            Ok(provisioner::Effect::Changed) => (Outcome::Changed, None),
            Ok(provisioner::Effect::Unchanged) => (Outcome::Unchanged, None),
            Ok(provisioner::Effect::Pending(detail)) => (Outcome::Pending, Some(detail)),
            Err(e) => (Outcome::Failed, Some(e)),
        };
        let at = clock();
        journal(&Line::Done {
            n,
            result,
            error: error.clone(),
            at: at.clone(),
        })?;
        out.push(Done {
            op: op.clone(),
            commit: commit.clone(),
            action: op.action(result, error, at),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::memory::Memory;

    fn op(kind: Kind, target: &str, account: &str) -> (Op, Option<crate::model::CommitId>) {
        (
            Op {
                kind,
                target: TargetId {
                    app: if target == "down" { "other" } else { "vpn" }.into(),
                    target: target.into(),
                },
                account: account.into(),
                person: account.into(),
                role: "staff".into(),
                why: String::new(),
            },
            None,
        )
    }

    #[test]
    fn every_write_is_journaled_before_and_after_and_failures_do_not_stop_the_rest() {
        let mut memory = Memory::new();
        memory.seed("vpn-users", ["old"]);
        memory.fail_nth_write(2);
        let mut slot = Some(memory);
        let mut backends = Backends::new(|app: &str| -> Result<Box<dyn Provisioner>> {
            match app {
                "vpn" => Ok(Box::new(slot.take().expect("connected once"))),
                _ => anyhow::bail!("connection refused"),
            }
        });
        let ops = vec![
            op(Kind::Remove, "vpn-users", "old"),
            op(Kind::Add, "vpn-users", "a"),
            op(Kind::Add, "down", "b"),
            op(Kind::Add, "vpn-users", "c"),
        ];
        let mut lines = Vec::new();
        let done = execute(
            &ops,
            &mut backends,
            &mut |l| {
                lines.push(l.clone());
                Ok(())
            },
            &|| "2026-11-22T09:00:00Z".to_owned(),
            1,
        )
        .unwrap();
        let results: Vec<Outcome> = done.iter().map(|d| d.action.result).collect();
        assert_eq!(
            results,
            [
                Outcome::Changed,
                Outcome::Failed,
                Outcome::Failed,
                Outcome::Changed
            ]
        );
        assert!(
            done[2]
                .action
                .error
                .as_deref()
                .unwrap()
                .contains("connection refused")
        );
        assert_eq!(lines.len(), 8);
        assert!(matches!(lines[0], Line::Intent { n: 1, .. }));
        assert!(matches!(lines[1], Line::Done { n: 1, .. }));
        let members = backends.get("vpn").unwrap().list("vpn-users").unwrap();
        assert_eq!(members.into_iter().collect::<Vec<_>>(), ["c"]);
    }

    #[test]
    fn a_journal_that_cannot_be_written_stops_before_the_write() {
        let mut backends = Backends::new(|_: &str| -> Result<Box<dyn Provisioner>> {
            let mut m = Memory::new();
            m.create_target("vpn-users");
            Ok(Box::new(m))
        });
        let ops = vec![op(Kind::Add, "vpn-users", "a")];
        let r = execute(
            &ops,
            &mut backends,
            &mut |_| anyhow::bail!("disk full"),
            &|| String::new(),
            1,
        );
        assert!(r.is_err());
        let members = backends.get("vpn").unwrap().list("vpn-users").unwrap();
        assert!(members.is_empty(), "nothing written without its intent");
    }
}
