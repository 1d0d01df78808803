//! The desired state: for every (app, target) the accounts that should be members, computed from
//! all grants at once (SPEC section 7), so two roles mapped to one target keep the member while
//! either remains.
//!
//! A grant counts when its person is known, active and within their end date, its role exists,
//! it has not expired as of the run, its account can be named, and it is not quarantined (or,
//! for a quarantined change of an approved grant, within the approved expiry). Every grant left
//! out is listed with why: revocations are reported with their reason.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use super::quarantine::{Allowed, Quarantine, effective_expiry};
use super::{GrantKey, TargetId};
use crate::model::{App, AppId, Catalog, Person, PersonId, time::end_of_day};
use crate::provision::backend::{account_for, target_of};

/// Why a grant in the files is not provisioned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Left {
    /// Expired at this instant (RFC 3339), at or before the run's as-of.
    Expired(String),
    Quarantined {
        commit: crate::model::CommitId,
        reason: String,
    },
    Leaver,
    /// The person's `end_date` has passed.
    PastEndDate(String),
    UnknownPerson,
    UnknownRole,
    /// The account name could not be built (a missing field, a bad template).
    NoAccount(String),
    /// It would complete an error-level SoD conflict with no valid exception (the rule's id
    /// and the grants it conflicts with).
    SodConflict {
        rule: String,
        with: Vec<String>,
    },
}

impl std::fmt::Display for Left {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Left::Expired(at) => write!(f, "expired at {at}"),
            Left::Quarantined { commit, reason } => write!(
                f,
                "quarantined: commit {} {reason}",
                crate::model::short_commit(commit)
            ),
            Left::Leaver => write!(f, "the person is a leaver"),
            Left::PastEndDate(d) => write!(f, "past the person's end date {d}"),
            Left::UnknownPerson => write!(f, "the person is not in people.yaml"),
            Left::UnknownRole => write!(f, "the app has no such role"),
            Left::NoAccount(e) => write!(f, "no account name: {e}"),
            Left::SodConflict { rule, with } => write!(
                f,
                "it would complete the segregation-of-duties conflict `{rule}` with {}",
                with.join(", ")
            ),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Excluded {
    pub key: GrantKey,
    pub file: String,
    /// The role's target, when the role exists.
    pub target: Option<String>,
    pub why: Left,
}

/// What one target should hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Want {
    /// Account -> the grants that give it (one or more roles of one person).
    pub members: BTreeMap<String, Vec<GrantKey>>,
    /// Why removals from this target are unsafe this run (grant files of the app that could
    /// not be read: their grants are unknown, so their members must not be taken for strays).
    pub incomplete: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Desired {
    pub targets: BTreeMap<TargetId, Want>,
    pub excluded: Vec<Excluded>,
}

/// `unreadable`: per app, the grant files present at head that failed to load.
pub fn desired(
    catalog: &Catalog,
    unreadable: &BTreeMap<AppId, Vec<String>>,
    quarantine: &Quarantine,
    as_of: DateTime<Utc>,
) -> Desired {
    let mut out = Desired::default();
    for app in catalog.apps.values() {
        let incomplete = unreadable.get(&app.id.value).map(|paths| {
            format!(
                "{} of `{}` could not be read ({}): their grants are unknown",
                crate::diag::render::text::counted(paths.len(), "grant file"),
                app.id.value,
                paths.join(", ")
            )
        });
        for role in app.roles.values() {
            let id = TargetId {
                app: app.id.value.clone(),
                target: target_of(role).to_owned(),
            };
            out.targets.entry(id).or_default().incomplete = incomplete.clone();
        }
    }
    for file in &catalog.grant_files {
        let Some(app) = catalog.apps.get(&file.app.value) else {
            // An app without a policy has no provisioner: nothing to reconcile.
            continue;
        };
        let person = catalog.people.get(&file.person.value).map(Box::as_ref);
        let mut seen = BTreeSet::new();
        for g in &file.grants {
            // A duplicate role is a `duplicate-grant` error; the first one counts.
            if !seen.insert(g.role.value.clone()) {
                continue;
            }
            let key = GrantKey {
                app: app.id.value.clone(),
                person: file.person.value.clone(),
                role: g.role.value.clone(),
            };
            let expires = g.expires.as_ref().map(|e| e.value);
            let held = holds(app, person, &key, expires, quarantine, as_of);
            match held {
                Ok((target, account)) => out
                    .targets
                    .entry(TargetId {
                        app: key.app.clone(),
                        target,
                    })
                    .or_default()
                    .members
                    .entry(account)
                    .or_default()
                    .push(key),
                Err(why) => out.excluded.push(Excluded {
                    target: app.roles.get(&key.role).map(|r| target_of(r).to_owned()),
                    key,
                    file: file.path.clone(),
                    why,
                }),
            }
        }
    }
    out.excluded.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

/// SPEC section 7: segregation of duties judged again on the desired state. Each pull request
/// was clean alone, but two of them can together give one person a forbidden pair. A grant in
/// an error-level conflict with no valid exception that its target does not hold yet (or whose
/// target could not be listed) is taken out of the desired state: it is held back, never
/// provisioned. A conflict whose grants are all provisioned already is `check`'s finding, and
/// apply does not revoke on its own judgement. Returns what it held back.
pub fn hold_back_sod(
    desired: &mut Desired,
    catalog: &Catalog,
    observed: &super::ops::Observed,
    as_of: DateTime<Utc>,
) -> Vec<Excluded> {
    // Per person, each desired grant with where it lands.
    let mut held: BTreeMap<&str, Vec<(&GrantKey, &TargetId, &str)>> = BTreeMap::new();
    for (id, want) in &desired.targets {
        for (account, keys) in &want.members {
            for key in keys {
                held.entry(&key.person)
                    .or_default()
                    .push((key, id, account));
            }
        }
    }
    let mut back: BTreeMap<GrantKey, (TargetId, String, Left)> = BTreeMap::new();
    for rule in catalog
        .sod_rules
        .iter()
        .filter(|r| r.severity == crate::model::Severity::Error)
    {
        for (person, grants) in &held {
            let excused = catalog.sod_exceptions.iter().any(|e| {
                e.rule.value == rule.id.value
                    && e.person.value == *person
                    && as_of < end_of_day(e.expires.value)
            });
            if excused {
                continue;
            }
            let hits: Vec<Vec<&(&GrantKey, &TargetId, &str)>> = rule
                .conflicts
                .iter()
                .map(|set| {
                    grants
                        .iter()
                        .filter(|(k, _, _)| {
                            set.iter()
                                .any(|s| s.value.app == k.app && s.value.role == k.role)
                        })
                        .collect()
                })
                .collect();
            let mut involved: BTreeSet<&GrantKey> = BTreeSet::new();
            for i in 0..hits.len() {
                for j in (i + 1)..hits.len() {
                    for a in &hits[i] {
                        for b in &hits[j] {
                            if a.0 != b.0 {
                                involved.extend([a.0, b.0]);
                            }
                        }
                    }
                }
            }
            let new: Vec<&(&GrantKey, &TargetId, &str)> = grants
                .iter()
                .filter(|(k, id, account)| {
                    involved.contains(k)
                        && !matches!(observed.get(*id), Some(Ok(m)) if m.contains(*account))
                })
                .collect();
            for (key, id, account) in new {
                let with = involved
                    .iter()
                    .filter(|k| **k != *key)
                    .map(|k| format!("{}:{}", k.app, k.role))
                    .collect();
                back.entry((*key).clone()).or_insert((
                    (*id).clone(),
                    (*account).to_owned(),
                    Left::SodConflict {
                        rule: rule.id.value.clone(),
                        with,
                    },
                ));
            }
        }
    }
    let files: HashMap<(&str, &str), &str> = catalog
        .grant_files
        .iter()
        .map(|f| {
            (
                (f.app.value.as_str(), f.person.value.as_str()),
                f.path.as_str(),
            )
        })
        .collect();
    let mut out = Vec::new();
    for (key, (id, account, why)) in back {
        if let Some(want) = desired.targets.get_mut(&id)
            && let Some(keys) = want.members.get_mut(&account)
        {
            keys.retain(|k| *k != key);
            if keys.is_empty() {
                want.members.remove(&account);
            }
        }
        let file = files
            .get(&(key.app.as_str(), key.person.as_str()))
            .map_or_else(String::new, |f| (*f).to_owned());
        let e = Excluded {
            target: Some(id.target.clone()),
            key,
            file,
            why,
        };
        desired.excluded.push(e.clone());
        out.push(e);
    }
    desired.excluded.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

/// The target and account a grant provisions, or why it provisions nothing.
fn holds(
    app: &App,
    person: Option<&Person>,
    key: &GrantKey,
    expires: Option<crate::model::Expiry>,
    quarantine: &Quarantine,
    as_of: DateTime<Utc>,
) -> Result<(String, String), Left> {
    let person = person.ok_or(Left::UnknownPerson)?;
    if person.leaver {
        return Err(Left::Leaver);
    }
    if let Some(end) = person.end_date
        && end_of_day(end) <= as_of
    {
        return Err(Left::PastEndDate(end.to_string()));
    }
    let role = app.roles.get(&key.role).ok_or(Left::UnknownRole)?;
    let entry = quarantine.get(key);
    let expires = match (effective_expiry(entry, expires), entry) {
        (Allowed::Until(e), _) => e,
        (Allowed::Nothing, Some(q)) => {
            return Err(Left::Quarantined {
                commit: q.commit.clone(),
                reason: q.reason.clone(),
            });
        }
        (Allowed::Nothing, None) => return Err(Left::UnknownRole),
    };
    if let Some(e) = expires
        && e.instant() <= as_of
    {
        return Err(match entry {
            // The approved version ran out; the unapproved one is what extends it.
            Some(q) => Left::Quarantined {
                commit: q.commit.clone(),
                reason: q.reason.clone(),
            },
            None => Left::Expired(e.instant().format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        });
    }
    let account = account_for(app, person).map_err(Left::NoAccount)?;
    Ok((target_of(role).to_owned(), account))
}

/// Account -> person id for one app, over everyone in the directory: who a stray member is.
pub fn account_index(catalog: &Catalog, app: &App) -> HashMap<String, PersonId> {
    catalog
        .people
        .values()
        .filter_map(|p| Some((account_for(app, p).ok()?, p.id.value.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::quarantine::Entry;
    use crate::snapshot::Snapshot;

    const SETTINGS: &str = "org: acme\nsecurity_team: \"@acme/security\"\n";
    const PEOPLE: &str = "people:\n  - {id: alice, name: Alice, email: alice@acme.example, github: alice-gh, department: it, type: employee, status: active}\n  - {id: bob, name: Bob, email: bob@acme.example, department: it, type: employee, status: leaver}\n  - {id: carl, name: Carl, email: carl@acme.example, department: it, type: contractor, status: active, end_date: 2026-11-01}\n";
    const VPN: &str = "id: vpn\nname: VPN\nowners: [\"@acme/it\"]\nrisk: low\nprovisioner: {type: command, command: scripts/vpn}\nroles:\n  staff: {description: Staff access, target: vpn-users}\n  contractor: {description: Contractor access, target: vpn-users}\n  admin: {description: Gateway admin, target: vpn-admins}\n";

    fn catalog(files: &[(&str, &str)]) -> Catalog {
        let mut all = vec![
            ("policies/settings.yaml", SETTINGS),
            ("policies/people.yaml", PEOPLE),
            ("policies/apps/vpn.yaml", VPN),
        ];
        all.extend_from_slice(files);
        crate::load::load(&Snapshot::from_files(all)).0
    }

    fn grant(person: &str, roles: &[(&str, &str)]) -> String {
        let mut s = format!("person: {person}\napp: vpn\ngrants:\n");
        for (role, expires) in roles {
            s.push_str(&format!(
                "  - role: {role}\n    justification: Works remotely most of the week\n"
            ));
            if !expires.is_empty() {
                s.push_str(&format!("    expires: {expires}\n"));
            }
        }
        s
    }

    fn as_of(s: &str) -> DateTime<Utc> {
        crate::model::time::parse_as_of(s).unwrap()
    }

    fn users(d: &Desired, target: &str) -> Vec<String> {
        d.targets[&TargetId {
            app: "vpn".into(),
            target: target.into(),
        }]
            .members
            .keys()
            .cloned()
            .collect()
    }

    #[test]
    fn two_roles_on_one_target_keep_the_member_while_either_remains() {
        let alice = grant(
            "alice",
            &[("staff", "2026-11-30"), ("contractor", "2026-12-31")],
        );
        let c = catalog(&[("access/vpn/alice.yaml", &alice)]);
        let d = desired(
            &c,
            &BTreeMap::new(),
            &Quarantine::default(),
            as_of("2026-12-05"),
        );
        assert_eq!(users(&d, "vpn-users"), ["alice"]);
        assert_eq!(d.excluded.len(), 1, "staff expired: {:?}", d.excluded);
        assert!(matches!(d.excluded[0].why, Left::Expired(_)));
        let d = desired(
            &c,
            &BTreeMap::new(),
            &Quarantine::default(),
            as_of("2027-01-01"),
        );
        assert!(users(&d, "vpn-users").is_empty(), "both expired");
        assert!(
            users(&d, "vpn-admins").is_empty(),
            "every role's target is listed"
        );
    }

    #[test]
    fn a_date_expiry_holds_through_the_end_of_that_day() {
        let alice = grant("alice", &[("staff", "2026-11-30")]);
        let c = catalog(&[("access/vpn/alice.yaml", &alice)]);
        let q = Quarantine::default();
        let d = desired(&c, &BTreeMap::new(), &q, as_of("2026-11-30T23:59:59Z"));
        assert_eq!(users(&d, "vpn-users"), ["alice"]);
        let d = desired(&c, &BTreeMap::new(), &q, as_of("2026-12-01"));
        assert!(users(&d, "vpn-users").is_empty());
    }

    #[test]
    fn leavers_people_past_their_end_date_and_quarantined_grants_are_left_out() {
        let c = catalog(&[
            ("access/vpn/alice.yaml", &grant("alice", &[("admin", "")])),
            ("access/vpn/bob.yaml", &grant("bob", &[("staff", "")])),
            (
                "access/vpn/carl.yaml",
                &grant("carl", &[("contractor", "2026-12-31")]),
            ),
        ]);
        let q = Quarantine {
            entries: vec![Entry {
                key: GrantKey {
                    app: "vpn".into(),
                    person: "alice".into(),
                    role: "admin".into(),
                },
                file: "access/vpn/alice.yaml".into(),
                commit: "c0ffee".into(),
                reason: "reached main without a pull request".into(),
                approved: None,
            }],
        };
        let d = desired(&c, &BTreeMap::new(), &q, as_of("2026-11-22"));
        assert!(users(&d, "vpn-users").is_empty());
        assert!(users(&d, "vpn-admins").is_empty());
        let why: Vec<&Left> = d.excluded.iter().map(|e| &e.why).collect();
        assert!(matches!(why[0], Left::Quarantined { .. }), "{why:?}");
        assert_eq!(why[1], &Left::Leaver);
        assert_eq!(why[2], &Left::PastEndDate("2026-11-01".into()));
    }

    #[test]
    fn an_app_with_an_unreadable_grant_file_is_marked_incomplete() {
        let c = catalog(&[]);
        let unreadable = BTreeMap::from([("vpn".into(), vec!["access/vpn/x.yaml".to_owned()])]);
        let d = desired(&c, &unreadable, &Quarantine::default(), as_of("2026-11-22"));
        assert!(d.targets.values().all(|w| w.incomplete.is_some()));
    }
}
