//! What an approver needs to decide on one change: who the person is, what else they hold,
//! how many department peers hold the role, earlier grants of it, whether the expiry is within
//! policy and whether it creates a segregation-of-duties conflict.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::model::time::{end_of_day, format_duration};
use crate::model::{
    AppId, AppRole, Catalog, Expiry, Person, PersonId, PersonType, RoleId, Severity,
};

use super::{GrantView, Op};

/// One earlier commit that added, changed or removed this grant (newest first).
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryEvent {
    pub commit: String,
    pub date: DateTime<Utc>,
    pub op: Op,
    pub summary: String,
    pub expires: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Insights {
    pub person: Option<PersonFacts>,
    /// Other roles the person holds (after the change), `app:role`.
    pub other_access: Vec<String>,
    pub peers: Option<Peers>,
    pub auto_approve: Option<AutoApproval>,
    pub history: Vec<HistoryEvent>,
    pub expiry: Option<ExpiryCheck>,
    pub sod: Vec<SodEffect>,
}

#[derive(Clone, Debug)]
pub struct PersonFacts {
    pub name: String,
    pub department: String,
    pub title: Option<String>,
    pub manager: Option<PersonId>,
    pub manager_github: Option<String>,
    pub github: Option<String>,
    pub kind: &'static str,
    pub leaver: bool,
}

/// `holding` of the `total` active department peers (the person excluded) hold the role.
#[derive(Clone, Debug, PartialEq)]
pub struct Peers {
    pub department: String,
    pub holding: usize,
    pub total: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AutoApproval {
    pub met: bool,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ExpiryCheck {
    pub expires: Option<String>,
    pub max: String,
    pub within: bool,
    pub days_left: Option<i64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SodEffect {
    pub rule: String,
    pub severity: Severity,
    /// The grants the person holds that conflict with this one.
    pub with: Vec<String>,
    pub excepted: bool,
}

/// Active holdings by person, built once per plan.
pub struct Index<'c> {
    catalog: &'c Catalog,
    as_of: DateTime<Utc>,
    held: BTreeMap<&'c str, BTreeSet<AppRole>>,
}

impl<'c> Index<'c> {
    pub fn new(catalog: &'c Catalog, as_of: DateTime<Utc>) -> Index<'c> {
        let mut held: BTreeMap<&str, BTreeSet<AppRole>> = BTreeMap::new();
        for f in &catalog.grant_files {
            for g in &f.grants {
                let active = g.expires.as_ref().is_none_or(|e| e.value.instant() > as_of);
                if active {
                    held.entry(f.person.value.as_str())
                        .or_default()
                        .insert(AppRole {
                            app: f.app.value.clone(),
                            role: g.role.value.clone(),
                        });
                }
            }
        }
        Index {
            catalog,
            as_of,
            held,
        }
    }

    fn holds(&self, person: &str, key: &AppRole) -> bool {
        self.held.get(person).is_some_and(|h| h.contains(key))
    }

    pub fn insights(
        &self,
        person: &PersonId,
        app: &AppId,
        role: &RoleId,
        grant: &GrantView,
        history: Option<&Vec<HistoryEvent>>,
    ) -> Insights {
        let key = AppRole {
            app: app.clone(),
            role: role.clone(),
        };
        let who = self.catalog.people.get(person);
        let other_access = self
            .held
            .get(person.as_str())
            .map(|h| {
                h.iter()
                    .filter(|k| **k != key)
                    .map(|k| k.to_string())
                    .collect()
            })
            .unwrap_or_default();
        let peers = who.map(|p| self.peers(p, &key));
        Insights {
            person: who.map(|p| self.facts(p)),
            other_access,
            auto_approve: peers.as_ref().and_then(|peers| self.auto(app, role, peers)),
            peers,
            history: history.cloned().unwrap_or_default(),
            expiry: self.expiry(app, role, grant),
            sod: self.sod(person, &key),
        }
    }

    fn facts(&self, p: &Person) -> PersonFacts {
        let manager = p.manager.as_ref().map(|m| m.value.clone());
        PersonFacts {
            name: p.name.clone(),
            department: p.department.clone(),
            title: p.title.clone(),
            manager_github: manager
                .as_ref()
                .and_then(|m| self.catalog.people.get(m))
                .and_then(|m| m.github.clone()),
            manager,
            github: p.github.clone(),
            kind: match p.kind {
                PersonType::Employee => "employee",
                PersonType::Contractor => "contractor",
                PersonType::Vendor => "vendor",
            },
            leaver: p.leaver,
        }
    }

    fn peers(&self, p: &Person, key: &AppRole) -> Peers {
        let mut total = 0;
        let mut holding = 0;
        for (id, department, leaver) in self.catalog.members() {
            if id == p.id.value || leaver || department != p.department {
                continue;
            }
            total += 1;
            if self.holds(id, key) {
                holding += 1;
            }
        }
        Peers {
            department: p.department.clone(),
            holding,
            total,
        }
    }

    /// SPEC section 6: met when at least `peer_adoption` of the department peers, and at least
    /// `min_peers` of them, hold the role. Never for a privileged role.
    fn auto(&self, app: &str, role: &str, peers: &Peers) -> Option<AutoApproval> {
        let r = self.catalog.apps.get(app)?.roles.get(role)?;
        let rule = r.auto_approve.as_ref()?;
        if r.privileged {
            return Some(AutoApproval {
                met: false,
                reason: "privileged roles are never auto-approved".into(),
            });
        }
        let share = if peers.total == 0 {
            0.0
        } else {
            peers.holding as f64 / peers.total as f64
        };
        let met = peers.holding >= rule.min_peers as usize && share >= rule.peer_adoption;
        let reason = format!(
            "{} of {} {} peers hold it ({:.0}%); needs at least {:.0}% and at least {}",
            peers.holding,
            peers.total,
            peers.department,
            share * 100.0,
            rule.peer_adoption * 100.0,
            rule.min_peers
        );
        Some(AutoApproval { met, reason })
    }

    fn expiry(&self, app: &str, role: &str, grant: &GrantView) -> Option<ExpiryCheck> {
        let settings = self.catalog.settings.as_ref()?;
        let app_policy = self.catalog.apps.get(app)?;
        let max = if grant.emergency {
            settings.emergency_max_duration
        } else {
            app_policy
                .roles
                .get(role)
                .and_then(|r| r.max_duration)
                .unwrap_or_else(|| settings.max_duration(app_policy.risk))
        };
        let instant = grant
            .expires
            .as_deref()
            .and_then(|e| Expiry::parse(e).ok())
            .map(|e| e.instant());
        // The same bound as the `expiry-too-long` and `expired` rules.
        let within = instant.is_some_and(|i| i > self.as_of && i <= self.as_of + max);
        Some(ExpiryCheck {
            expires: grant.expires.clone(),
            max: format_duration(max),
            within,
            days_left: instant.map(|i| (i - self.as_of).num_days()),
        })
    }

    fn sod(&self, person: &str, key: &AppRole) -> Vec<SodEffect> {
        let mut out = Vec::new();
        for rule in &self.catalog.sod_rules {
            let Some(mine) = rule
                .conflicts
                .iter()
                .position(|set| set.iter().any(|s| s.value == *key))
            else {
                continue;
            };
            let with: Vec<String> = rule
                .conflicts
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != mine)
                .flat_map(|(_, set)| set.iter())
                .filter(|s| self.holds(person, &s.value))
                .map(|s| s.value.to_string())
                .collect();
            if with.is_empty() {
                continue;
            }
            let excepted = self.catalog.sod_exceptions.iter().any(|e| {
                e.rule.value == rule.id.value
                    && e.person.value == person
                    && self.as_of < end_of_day(e.expires.value)
            });
            out.push(SodEffect {
                rule: rule.id.value.clone(),
                severity: rule.severity,
                with,
                excepted,
            });
        }
        out
    }
}

/// One commit that changed a grant file, with both versions parsed (`None`: absent or not
/// loadable).
pub struct FileRevision {
    pub commit: String,
    pub date: DateTime<Utc>,
    pub summary: String,
    pub before: Option<crate::model::GrantFile>,
    pub after: Option<crate::model::GrantFile>,
}

/// The events of one role in a file's history, newest first.
pub fn events(role: &str, revisions: &[FileRevision]) -> Vec<HistoryEvent> {
    let find = |f: &Option<crate::model::GrantFile>| {
        f.as_ref()
            .and_then(|f| f.grants.iter().find(|g| g.role.value == role))
            .map(GrantView::of)
    };
    revisions
        .iter()
        .filter_map(|r| {
            let (b, a) = (find(&r.before), find(&r.after));
            let op = match (&b, &a) {
                (None, Some(_)) => Op::Add,
                (Some(_), None) => Op::Remove,
                (Some(x), Some(y)) if x != y => Op::Change,
                _ => return None,
            };
            Some(HistoryEvent {
                commit: r.commit.clone(),
                date: r.date,
                op,
                summary: r.summary.clone(),
                expires: a.or(b).and_then(|g| g.expires),
            })
        })
        .collect()
}
