//! Quarantine: grant changes that reached the default branch without verified approvals (a
//! direct push, an admin merge, a pull request whose approvals do not hold on its merged head,
//! a merged head that differs from the approved one). `apply` does not provision them.
//!
//! The applier reconciles the head, so a quarantined grant is still in the files at the next
//! run; the quarantine is therefore carried from run to run (in the applier's state) until it is
//! settled: the grant is removed, or a verified pull request adds it again, or changes it with
//! the role's full approvals. An edit that needs only one owner (a new justification) does not
//! settle it: such an approval would launder a grant nobody approved.
//!
//! What a quarantined grant keeps: nothing, when it was added without approval; when an
//! approved grant was changed without approval (an expiry extended by a direct push), the person
//! keeps the approved version, never more than the current one.

use serde::{Deserialize, Serialize};

use super::GrantKey;
use crate::model::{Catalog, Expiry};
use crate::plan::{self, Op};

/// The approved version a quarantined change replaced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approved {
    /// Its `expires` as written (`None`: it had none).
    pub expires: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub key: GrantKey,
    pub file: String,
    /// The commit that brought the unverified change (full sha).
    pub commit: crate::model::CommitId,
    pub reason: String,
    /// `None`: nothing of this grant was ever approved.
    pub approved: Option<Approved>,
}

/// Every quarantined grant, one entry per grant, sorted by key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantine {
    pub entries: Vec<Entry>,
}

/// Whether a grant change carried the role's full approvals (SPEC section 6), judged with the
/// policies the change was judged by: an addition always does; an edit does when its
/// requirements are the role's own (an extended expiry, a grant turned emergency, or a role
/// whose own requirement is a single owner anyway).
pub fn full_review(policies: &Catalog, change: &plan::Change) -> bool {
    if change.op == Op::Add {
        return true;
    }
    if change.op == Op::Remove {
        return false;
    }
    let Some(app) = policies.apps.get(&change.app) else {
        return false;
    };
    let role = app.roles.get(&change.role);
    let (full, _) = plan::role_requirements(policies, app, role, change.emergency);
    change.approvals == full
}

impl Quarantine {
    pub fn get(&self, key: &GrantKey) -> Option<&Entry> {
        self.entries
            .binary_search_by(|e| e.key.cmp(key))
            .ok()
            .map(|i| &self.entries[i])
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn remove(&mut self, key: &GrantKey) -> Option<Entry> {
        let i = self.entries.binary_search_by(|e| e.key.cmp(key)).ok()?;
        Some(self.entries.remove(i))
    }

    fn put(&mut self, entry: Entry) {
        match self.entries.binary_search_by(|e| e.key.cmp(&entry.key)) {
            Ok(i) => self.entries[i] = entry,
            Err(i) => self.entries.insert(i, entry),
        }
    }

    /// A change of a commit without verified approvals. Returns whether the change is held back
    /// (a removal is not: the repository no longer grants it, and revoking is the safe side).
    pub fn unverified(
        &mut self,
        commit: &crate::model::CommitId,
        change: &plan::Change,
        reason: &str,
    ) -> bool {
        let key = change.key();
        let earlier = self.remove(&key);
        let approved = match change.op {
            Op::Remove => return false,
            Op::Add => None,
            Op::Change => match earlier {
                Some(e) => e.approved,
                None => Some(Approved {
                    expires: change.before.as_ref().and_then(|b| b.expires.clone()),
                }),
            },
        };
        self.put(Entry {
            key,
            file: change.file.clone(),
            commit: commit.clone(),
            reason: reason.to_owned(),
            approved,
        });
        true
    }

    /// A change of a commit whose approvals were verified; `full` from [`full_review`]. Returns
    /// whether it released a quarantined grant.
    pub fn verified(&mut self, change: &plan::Change, full: bool) -> bool {
        let key = change.key();
        if self.get(&key).is_none() {
            return false;
        }
        if change.op == Op::Remove || full {
            self.remove(&key);
            return true;
        }
        false
    }

    /// Drops entries whose grant no longer exists at head: a later addition is a new request.
    pub fn settle(&mut self, exists: impl Fn(&GrantKey) -> bool) {
        self.entries.retain(|e| exists(&e.key));
    }
}

/// How much of a grant may be provisioned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allowed {
    /// Nothing: it was never approved.
    Nothing,
    /// Until this expiry (`None`: no expiry).
    Until(Option<Expiry>),
}

/// A grant is provisioned with its own expiry or, for a quarantined change of an approved
/// grant, the earlier of its own and the approved one.
pub fn effective_expiry(entry: Option<&Entry>, own: Option<Expiry>) -> Allowed {
    let Some(entry) = entry else {
        return Allowed::Until(own);
    };
    let Some(approved) = &entry.approved else {
        return Allowed::Nothing;
    };
    let approved = match &approved.expires {
        Some(text) => match Expiry::parse(text) {
            Ok(e) => Some(e),
            // An approved expiry that no longer parses grants nothing: fail closed.
            Err(_) => return Allowed::Nothing,
        },
        None => None,
    };
    Allowed::Until(match (approved, own) {
        (Some(a), Some(o)) => Some(if a.instant() <= o.instant() { a } else { o }),
        (Some(a), None) => Some(a),
        (None, o) => o,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Change, GrantView, Insights};

    fn change(op: Op, before: Option<&str>, after: Option<&str>) -> Change {
        let view = |e: &str| GrantView {
            role: "admin".into(),
            justification: Some("Incident response for the payment queue".into()),
            expires: Some(e.into()),
            ticket: None,
            emergency: false,
            reviewed: None,
        };
        Change {
            op,
            person: "omar".into(),
            app: "payments".into(),
            role: "admin".into(),
            file: "access/payments/omar.yaml".into(),
            before: before.map(view),
            after: after.map(view),
            approvals: vec![],
            approvals_reason: String::new(),
            risk: None,
            privileged: true,
            emergency: false,
            insights: Insights::default(),
        }
    }

    fn key() -> GrantKey {
        GrantKey {
            app: "payments".into(),
            person: "omar".into(),
            role: "admin".into(),
        }
    }

    #[test]
    fn an_unapproved_addition_grants_nothing_until_a_verified_addition() {
        let mut q = Quarantine::default();
        assert!(q.unverified(
            &"c1".into(),
            &change(Op::Add, None, Some("2026-12-01")),
            "no PR"
        ));
        assert_eq!(effective_expiry(q.get(&key()), None), Allowed::Nothing);
        // A one-owner edit through a pull request does not release it...
        assert!(!q.verified(
            &change(Op::Change, Some("2026-12-01"), Some("2026-12-01")),
            false
        ));
        assert!(q.get(&key()).is_some());
        // ...a change with the role's full approvals does.
        assert!(q.verified(
            &change(Op::Change, Some("2026-12-01"), Some("2026-12-02")),
            true
        ));
        assert!(q.is_empty());
    }

    #[test]
    fn an_unapproved_extension_keeps_the_approved_expiry() {
        let mut q = Quarantine::default();
        q.unverified(
            &"c1".into(),
            &change(Op::Change, Some("2026-12-01"), Some("2027-06-01")),
            "no PR",
        );
        // A second unapproved extension keeps the first approved version.
        q.unverified(
            &"c2".into(),
            &change(Op::Change, Some("2027-06-01"), Some("2027-12-01")),
            "no PR",
        );
        let own = Expiry::parse("2027-12-01").ok();
        let kept = effective_expiry(q.get(&key()), own);
        assert_eq!(kept, Allowed::Until(Expiry::parse("2026-12-01").ok()));
        // Shortened below the approved expiry: the shorter one holds.
        let own = Expiry::parse("2026-11-25").ok();
        assert_eq!(effective_expiry(q.get(&key()), own), Allowed::Until(own));
    }

    #[test]
    fn a_removal_is_provisioned_and_settles_the_grant() {
        let mut q = Quarantine::default();
        q.unverified(
            &"c1".into(),
            &change(Op::Add, None, Some("2026-12-01")),
            "no PR",
        );
        assert!(!q.unverified(
            &"c2".into(),
            &change(Op::Remove, Some("2026-12-01"), None),
            "no PR"
        ));
        assert!(q.is_empty());
        q.unverified(
            &"c3".into(),
            &change(Op::Add, None, Some("2026-12-01")),
            "no PR",
        );
        q.settle(|_| false);
        assert!(
            q.is_empty(),
            "a grant absent at head is no longer quarantined"
        );
    }
}
