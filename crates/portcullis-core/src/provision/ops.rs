//! Desired x observed -> the operations of a run, with the guard rails of SPEC section 7 and
//! THREATS 8:
//!
//! - unmanaged accounts (`unmanaged:` in the app's policy: break-glass, service accounts) are
//!   never added or removed;
//! - a target whose listing failed gets no operation at all: removals are never computed from an
//!   incomplete listing, and a target that cannot be read is treated as down;
//! - a target whose desired state is incomplete (an unreadable grant file) gets no removals;
//! - a target that would lose more than 25% of its members, and more than 2, gets no removals
//!   unless the run allows a mass removal;
//! - every removal comes before every addition (a swap of two conflicting roles never holds
//!   both at once).

use crate::model::{AppId, PersonId, RoleId};
use std::collections::{BTreeMap, BTreeSet};

use super::desired::{Desired, Excluded};
use super::{GrantKey, TargetId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Revocations sort first.
    Remove,
    Add,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Add => "add",
            Kind::Remove => "remove",
        }
    }
}

/// One membership change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    pub kind: Kind,
    pub target: TargetId,
    pub account: String,
    /// The person and role it is for (`""` when a stray member belongs to nobody known).
    pub person: PersonId,
    pub role: RoleId,
    /// Why, in words: the grant it provisions, or why the member goes.
    pub why: String,
}

impl Op {
    /// The evidence record of this operation, ended with `result`.
    pub fn action(
        &self,
        result: crate::evidence::Outcome,
        error: Option<String>,
        at: String,
    ) -> crate::evidence::Action {
        crate::evidence::Action {
            op: self.kind.as_str().to_owned(),
            app: self.target.app.clone(),
            person: self.person.clone(),
            role: self.role.clone(),
            target: self.target.target.clone(),
            account: Some(self.account.clone()),
            result,
            error,
            at,
        }
    }
}

/// A target's listing: its members, or why it could not be read.
pub type Observed = BTreeMap<TargetId, Result<BTreeSet<String>, String>>;

/// Why a target's operations (or its removals) were held back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hold {
    ListingFailed(String),
    DesiredIncomplete(String),
    MassRemoval { removals: usize, members: usize },
}

impl std::fmt::Display for Hold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hold::ListingFailed(e) => {
                write!(
                    f,
                    "its members could not be listed, so nothing was changed: {e}"
                )
            }
            Hold::DesiredIncomplete(e) => write!(f, "no removals: {e}"),
            Hold::MassRemoval { removals, members } => write!(
                f,
                "would remove {removals} of its {members} members (more than 25%): nothing was removed; check the change, then run again with `--allow-mass-removal`"
            ),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    pub target: TargetId,
    pub hold: Hold,
    /// The operations not done because of it (none listed for a target that could not be read:
    /// what it needs is unknown).
    pub ops: Vec<Op>,
}

/// Drift of one target: granted but not there, and there but not granted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Drift {
    pub missing: Vec<Op>,
    pub stray: Vec<Op>,
}

#[derive(Clone, Debug, Default)]
pub struct Planned {
    /// Removals first, then additions; each group in target and account order.
    pub ops: Vec<Op>,
    pub held: Vec<Held>,
}

/// What the planner needs besides desired and observed.
pub struct Options<'a> {
    /// Per app, accounts portcullis never touches.
    pub unmanaged: &'a BTreeMap<AppId, BTreeSet<String>>,
    /// Per app, account -> person id, to name stray members.
    pub people: &'a BTreeMap<AppId, std::collections::HashMap<String, PersonId>>,
    pub allow_mass_removal: bool,
    /// Removals a killed run had started and not finished: done again (they are idempotent,
    /// and finishing one can matter even when the membership is gone, as ending sessions does).
    pub in_doubt: &'a [Op],
}

/// Both directions of drift for each target that could be listed.
pub fn drift(
    desired: &Desired,
    observed: &Observed,
    opts: &Options<'_>,
) -> BTreeMap<TargetId, Drift> {
    let mut out = BTreeMap::new();
    for (id, listing) in observed {
        let Ok(members) = listing else { continue };
        let Some(want) = desired.targets.get(id) else {
            continue;
        };
        let skip = opts.unmanaged.get(&id.app);
        let unmanaged = |a: &String| skip.is_some_and(|s| s.contains(a));
        let mut d = Drift::default();
        for (account, keys) in &want.members {
            if !members.contains(account) && !unmanaged(account) {
                d.missing.push(add_op(id, account, keys));
            }
        }
        for account in members {
            if !want.members.contains_key(account) && !unmanaged(account) {
                d.stray.push(remove_op(id, account, desired, opts));
            }
        }
        out.insert(id.clone(), d);
    }
    out
}

fn add_op(id: &TargetId, account: &str, keys: &[GrantKey]) -> Op {
    let roles: Vec<&str> = keys.iter().map(|k| k.role.as_str()).collect();
    Op {
        kind: Kind::Add,
        target: id.clone(),
        account: account.to_owned(),
        person: keys[0].person.clone(),
        role: keys[0].role.clone(),
        why: format!(
            "granted {}:{} to {}",
            id.app,
            roles.join(", "),
            keys[0].person
        ),
    }
}

fn remove_op(id: &TargetId, account: &str, desired: &Desired, opts: &Options<'_>) -> Op {
    let person = opts
        .people
        .get(&id.app)
        .and_then(|ix| ix.get(account))
        .cloned()
        .unwrap_or_default();
    // The grant that no longer counts, when the files still hold one for this target.
    let left: Option<&Excluded> = desired.excluded.iter().find(|e| {
        e.key.app == id.app
            && e.key.person == person
            && !person.is_empty()
            && e.target.as_deref() == Some(id.target.as_str())
    });
    let (role, why) = match left {
        Some(e) => (
            e.key.role.clone(),
            format!("{}:{} {}", e.key.app, e.key.role, e.why),
        ),
        None if person.is_empty() => (
            RoleId::default(),
            "not granted in the repository".to_owned(),
        ),
        None => (
            RoleId::default(),
            format!("{person} holds no grant of `{}` in the repository", id.app),
        ),
    };
    Op {
        kind: Kind::Remove,
        target: id.clone(),
        account: account.to_owned(),
        person,
        role,
        why,
    }
}

/// The operations of a run over the targets in `observed`.
pub fn plan(desired: &Desired, observed: &Observed, opts: &Options<'_>) -> Planned {
    let drifts = drift(desired, observed, opts);
    let mut removes = Vec::new();
    let mut adds = Vec::new();
    let mut held = Vec::new();
    for (id, listing) in observed {
        let Some(want) = desired.targets.get(id) else {
            continue;
        };
        let members = match listing {
            Ok(m) => m,
            Err(e) => {
                // What it would have needed is unknown without its members.
                held.push(Held {
                    target: id.clone(),
                    hold: Hold::ListingFailed(e.clone()),
                    ops: Vec::new(),
                });
                continue;
            }
        };
        let d = &drifts[id];
        adds.extend(d.missing.iter().cloned());
        let mut gone: Vec<Op> = d.stray.clone();
        for op in opts.in_doubt {
            let again = op.kind == Kind::Remove
                && op.target == *id
                && !want.members.contains_key(&op.account)
                && !gone.iter().any(|g| g.account == op.account);
            if again {
                gone.push(op.clone());
            }
        }
        if gone.is_empty() {
            continue;
        }
        let managed = members
            .iter()
            .filter(|m| !opts.unmanaged.get(&id.app).is_some_and(|s| s.contains(*m)))
            .count();
        let stray = d.stray.len();
        let hold = if let Some(why) = &want.incomplete {
            Some(Hold::DesiredIncomplete(why.clone()))
        } else if !opts.allow_mass_removal && stray > 2 && stray * 4 > managed {
            Some(Hold::MassRemoval {
                removals: stray,
                members: managed,
            })
        } else {
            None
        };
        match hold {
            Some(hold) => held.push(Held {
                target: id.clone(),
                hold,
                ops: gone,
            }),
            None => removes.extend(gone),
        }
    }
    let order = |a: &Op, b: &Op| (&a.target, &a.account).cmp(&(&b.target, &b.account));
    removes.sort_by(order);
    adds.sort_by(order);
    removes.extend(adds);
    Planned { ops: removes, held }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::desired::Want;

    fn id(t: &str) -> TargetId {
        TargetId {
            app: "vpn".into(),
            target: t.into(),
        }
    }

    fn want(accounts: &[&str]) -> Want {
        Want {
            members: accounts
                .iter()
                .map(|a| {
                    (
                        (*a).to_owned(),
                        vec![GrantKey {
                            app: "vpn".into(),
                            person: (*a).into(),
                            role: "staff".into(),
                        }],
                    )
                })
                .collect(),
            incomplete: None,
        }
    }

    fn listing(accounts: &[&str]) -> Result<BTreeSet<String>, String> {
        Ok(accounts.iter().map(|a| (*a).to_owned()).collect())
    }

    struct Env {
        unmanaged: BTreeMap<AppId, BTreeSet<String>>,
        people: BTreeMap<AppId, std::collections::HashMap<String, PersonId>>,
    }

    fn env() -> Env {
        Env {
            unmanaged: BTreeMap::from([("vpn".into(), BTreeSet::from(["breakglass".to_owned()]))]),
            people: BTreeMap::new(),
        }
    }

    fn opts<'a>(e: &'a Env, allow: bool, in_doubt: &'a [Op]) -> Options<'a> {
        Options {
            unmanaged: &e.unmanaged,
            people: &e.people,
            allow_mass_removal: allow,
            in_doubt,
        }
    }

    fn shown(p: &Planned) -> Vec<String> {
        p.ops
            .iter()
            .map(|o| format!("{} {} {}", o.kind.as_str(), o.target.target, o.account))
            .collect()
    }

    #[test]
    fn revocations_come_first_and_unmanaged_accounts_are_left_alone() {
        let desired = Desired {
            targets: BTreeMap::from([(id("a"), want(&["x", "y"])), (id("b"), want(&["z"]))]),
            excluded: vec![],
        };
        let observed = Observed::from([
            (id("a"), listing(&["x", "old", "breakglass"])),
            (id("b"), listing(&["gone"])),
        ]);
        let e = env();
        let p = plan(&desired, &observed, &opts(&e, false, &[]));
        assert_eq!(
            shown(&p),
            ["remove a old", "remove b gone", "add a y", "add b z"]
        );
        assert!(p.held.is_empty());
    }

    #[test]
    fn more_than_a_quarter_and_more_than_two_removals_are_held() {
        let desired = Desired {
            targets: BTreeMap::from([(id("a"), want(&["k1", "k2", "k3", "k4", "k5"]))]),
            excluded: vec![],
        };
        let members = ["k1", "k2", "k3", "k4", "k5", "r1", "r2", "r3"];
        let observed = Observed::from([(id("a"), listing(&members))]);
        let e = env();
        let p = plan(&desired, &observed, &opts(&e, false, &[]));
        assert!(p.ops.is_empty(), "{:?}", shown(&p));
        assert_eq!(
            p.held[0].hold,
            Hold::MassRemoval {
                removals: 3,
                members: 8
            }
        );
        let p = plan(&desired, &observed, &opts(&e, true, &[]));
        assert_eq!(p.ops.len(), 3);
        // Two removals never trip the guard, whatever the share.
        let observed = Observed::from([(id("a"), listing(&["k1", "r1", "r2"]))]);
        let p = plan(&desired, &observed, &opts(&e, false, &[]));
        assert_eq!(
            shown(&p).iter().filter(|s| s.starts_with("remove")).count(),
            2
        );
        // Exactly 25% is allowed: 3 of 12.
        let desired = Desired {
            targets: BTreeMap::from([(
                id("a"),
                want(&["k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"]),
            )]),
            excluded: vec![],
        };
        let members = [
            "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9", "r1", "r2", "r3",
        ];
        let observed = Observed::from([(id("a"), listing(&members))]);
        let p = plan(&desired, &observed, &opts(&e, false, &[]));
        assert!(p.held.is_empty());
        assert_eq!(p.ops.len(), 3);
    }

    #[test]
    fn a_failed_listing_or_an_incomplete_desired_state_removes_nothing() {
        let mut incomplete = want(&["x"]);
        incomplete.incomplete = Some("access/vpn/q.yaml could not be read".into());
        let desired = Desired {
            targets: BTreeMap::from([(id("a"), want(&["x"])), (id("b"), incomplete)]),
            excluded: vec![],
        };
        let observed = Observed::from([
            (id("a"), Err("page 3 failed".to_owned())),
            (id("b"), listing(&["stray"])),
        ]);
        let e = env();
        let p = plan(&desired, &observed, &opts(&e, true, &[]));
        assert_eq!(shown(&p), ["add b x"]);
        assert!(matches!(p.held[0].hold, Hold::ListingFailed(_)));
        assert!(matches!(p.held[1].hold, Hold::DesiredIncomplete(_)));
    }

    #[test]
    fn an_interrupted_removal_is_finished_even_when_the_member_is_gone() {
        let desired = Desired {
            targets: BTreeMap::from([(id("a"), want(&["x"]))]),
            excluded: vec![],
        };
        let observed = Observed::from([(id("a"), listing(&["x"]))]);
        let doubt = vec![
            Op {
                kind: Kind::Remove,
                target: id("a"),
                account: "old".into(),
                person: "old".into(),
                role: "staff".into(),
                why: "expired".into(),
            },
            // Granted again since: not removed.
            Op {
                kind: Kind::Remove,
                target: id("a"),
                account: "x".into(),
                person: "x".into(),
                role: "staff".into(),
                why: "expired".into(),
            },
        ];
        let e = env();
        let p = plan(&desired, &observed, &opts(&e, false, &doubt));
        assert_eq!(shown(&p), ["remove a old"]);
    }
}
