//! `import`: the access an app's systems hold today, written as grant files, so that adopting
//! portcullis starts from what is true and the first `apply` removes nobody.
//!
//! The caller lists every target of the app through its provisioner; this module maps each
//! member back to a person by rendering the app's `login` template for everyone in the
//! directory (the template inverted, whatever its shape: `{id}`, `{email}`, `{github}`,
//! `{id}@corp.example`) and writes one grant per (person, target) with
//! `justification: imported from <type> <target> on <date>` and the longest expiry the policy
//! allows. It never overwrites a grant: a person who already holds a role with that target
//! keeps it as written. What cannot be imported is named, with why: an account that maps to
//! nobody (a service account belongs in `unmanaged:`), an account two people render to, a
//! leaver or a person past their end date (the first apply takes that access away, as it must).
//!
//! Pure: the listings, the snapshot and `as_of` come from the caller.

use crate::model::{PersonId, RoleId};
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::Edits;
use crate::edit::{self, NewGrant};
use crate::model::{App, Catalog};
use crate::snapshot::{Entry, Snapshot};

/// One member that was not imported, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Left {
    pub target: String,
    pub account: String,
    pub why: String,
}

/// One grant written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    pub person: PersonId,
    pub role: RoleId,
    pub target: String,
    pub expires: Option<String>,
}

#[derive(Debug, Default)]
pub struct Imported {
    pub edits: Edits,
    pub written: Vec<Written>,
    /// Members already granted in the repository: `(target, account, person)`.
    pub kept: Vec<(String, String, PersonId)>,
    /// Members of no person: service accounts, people missing from the directory.
    pub unmapped: Vec<Left>,
    /// Members of a person whose access is not imported (left, past their end date, ambiguous).
    pub refused: Vec<Left>,
    /// Targets several roles share: members are imported with the first of them.
    pub shared: Vec<(String, Vec<RoleId>)>,
}

/// The grants `listed` (target -> accounts, as the app's provisioner of type `kind` lists them)
/// amounts to, written into the snapshot's grant files.
pub fn import(
    snapshot: &Snapshot,
    catalog: &Catalog,
    app: &App,
    kind: &str,
    listed: &BTreeMap<String, BTreeSet<String>>,
    as_of: DateTime<Utc>,
) -> Result<Imported, String> {
    let settings = catalog
        .settings
        .as_ref()
        .ok_or("policies/settings.yaml does not load; run `portcullis check` and fix it first")?;
    let mut out = Imported::default();

    // Account -> every person it renders to: more than one is ambiguous, none is nobody.
    let mut people: Vec<&crate::model::Person> = catalog.people.values().map(|p| &**p).collect();
    people.sort_by(|a, b| a.id.value.cmp(&b.id.value));
    let mut owners: BTreeMap<String, Vec<PersonId>> = BTreeMap::new();
    for p in &people {
        if let Ok(account) = crate::provision::backend::account_for(app, p) {
            owners.entry(account).or_default().push(p.id.value.clone());
        }
    }

    // Target -> the roles that provision it, in the catalog's order.
    let mut roles_of: BTreeMap<String, Vec<RoleId>> = BTreeMap::new();
    for (id, role) in &app.roles {
        roles_of
            .entry(crate::provision::backend::target_of(role).to_owned())
            .or_default()
            .push(id.clone());
    }
    out.shared = roles_of
        .iter()
        .filter(|(t, r)| r.len() > 1 && listed.contains_key(*t))
        .map(|(t, r)| (t.clone(), r.clone()))
        .collect();

    // Who holds which target in the repository already.
    let mut holds: BTreeSet<(PersonId, String)> = BTreeSet::new();
    for file in catalog
        .grant_files
        .iter()
        .filter(|f| f.app.value == app.id.value)
    {
        for g in &file.grants {
            if let Some(role) = app.roles.get(&g.role.value) {
                holds.insert((
                    file.person.value.clone(),
                    crate::provision::backend::target_of(role).to_owned(),
                ));
            }
        }
    }

    let date = as_of.format("%Y-%m-%d");
    for (target, accounts) in listed {
        let Some(roles) = roles_of.get(target) else {
            continue;
        };
        let role_id = &roles[0];
        let role = &app.roles[role_id];
        for account in accounts {
            let left = |why: String| Left {
                target: target.clone(),
                account: account.clone(),
                why,
            };
            if app
                .unmanaged
                .iter()
                .any(|u| u.eq_ignore_ascii_case(account))
            {
                continue;
            }
            let person = match owners.get(account).map(Vec::as_slice) {
                None | Some([]) => {
                    out.unmapped
                        .push(left("maps to nobody in policies/people.yaml".into()));
                    continue;
                }
                Some([one]) => &catalog.people[one],
                Some(many) => {
                    out.refused.push(left(format!(
                        "the login template gives this account to {}: make it tell them apart",
                        many.join(", ")
                    )));
                    continue;
                }
            };
            let id = person.id.value.clone();
            if person.leaver {
                out.refused.push(left(format!(
                    "`{id}` has left (status `leaver`): not imported; the first apply removes it"
                )));
                continue;
            }
            if person
                .end_date
                .is_some_and(|d| crate::model::time::end_of_day(d) <= as_of)
            {
                out.refused.push(left(format!(
                    "`{id}` is past their end date: not imported; the first apply removes it"
                )));
                continue;
            }
            if !holds.insert((id.clone(), target.clone())) {
                out.kept.push((target.clone(), account.clone(), id));
                continue;
            }
            let expires = Some(crate::request::default_expiry(
                settings, app, role, person, as_of,
            ))
            .filter(|e| !e.is_empty());
            let grant = NewGrant {
                role: role_id.clone(),
                justification: format!("imported from {kind} {target} on {date}"),
                expires: expires.clone(),
                ticket: None,
                emergency: false,
            };
            let path = format!("access/{}/{id}.yaml", app.id.value);
            let current = match out.edits.get(&path) {
                Some(text) => text.clone(),
                None => match snapshot.get(&path) {
                    Some(Entry::File(bytes)) => Some(
                        String::from_utf8(bytes.to_vec())
                            .map_err(|_| format!("`{path}` is not UTF-8"))?,
                    ),
                    _ => None,
                },
            };
            let (text, _) = edit::upsert_grant(current.as_deref(), &id, &app.id.value, &grant)
                .map_err(|e| format!("{path}: {e}"))?;
            out.edits.insert(path, Some(text));
            out.written.push(Written {
                person: id,
                role: role_id.clone(),
                target: target.clone(),
                expires,
            });
        }
    }
    Ok(out)
}

/// The pull request's body: what was imported, and what was not, for the owners to confirm.
pub fn pr_body(app: &str, kind: &str, imported: &Imported) -> String {
    use std::fmt::Write as _;
    // Accounts come from the target system: inert text, never a code span it could close.
    let md = crate::diag::render::markdown::escape;
    let mut out = format!(
        "<!-- portcullis:import -->\n### Import of `{app}` from {kind}\n\nThe members each target holds today, as grants. Owners: confirm each person should keep this access; delete a grant here to have the first `apply` remove it.\n\n| person | role | target | expires |\n|---|---|---|---|\n"
    );
    for w in &imported.written {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            md(&w.person),
            md(&w.role),
            md(&w.target),
            w.expires.as_deref().unwrap_or("never")
        );
    }
    let left: Vec<&Left> = imported.unmapped.iter().chain(&imported.refused).collect();
    if !left.is_empty() {
        out.push_str("\n**Not imported** (the first `apply` removes these unless they are made `unmanaged:` or granted):\n\n");
        for l in left {
            let _ = writeln!(
                out,
                "- {} in {}: {}",
                md(&l.account),
                md(&l.target),
                md(&l.why)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTINGS: &str = "org: acme\nsecurity_team: \"@acme/security\"\n";
    const PEOPLE: &str = "people:\n  - {id: ana, name: Ana, email: ana@acme.example, department: it, type: employee, status: active}\n  - {id: ben, name: Ben, email: ben@acme.example, department: it, type: employee, status: active}\n  - {id: cy, name: Cy, email: cy@acme.example, department: ops, type: employee, status: active}\n";

    fn run(login: &str, listed: &[(&str, &[&str])]) -> Imported {
        let app = format!(
            "id: vpn\nname: VPN\nowners: [\"@acme/it\"]\nrisk: low\nprovisioner: {{type: postgres, dsn_env: X, login: \"{login}\"}}\nroles:\n  staff: {{description: Staff, target: vpn-users}}\n  contractor: {{description: Contractors, target: vpn-users}}\n"
        );
        let snapshot = Snapshot::from_files([
            ("policies/settings.yaml", SETTINGS),
            ("policies/people.yaml", PEOPLE),
            ("policies/apps/vpn.yaml", app.as_str()),
        ]);
        let catalog = crate::check::load(&snapshot).catalog;
        let listed = listed
            .iter()
            .map(|(t, m)| (t.to_string(), m.iter().map(|a| a.to_string()).collect()))
            .collect();
        let as_of = crate::model::time::parse_as_of("2026-11-22").unwrap();
        import(
            &snapshot,
            &catalog,
            &catalog.apps["vpn"],
            "postgres",
            &listed,
            as_of,
        )
        .unwrap()
    }

    /// An account the template gives to two people is nobody's to import; one it gives to
    /// one person is theirs, however the template is shaped.
    #[test]
    fn the_login_template_is_inverted_and_ambiguity_refused() {
        let by_department = run("{department}", &[("vpn-users", &["it", "ops"])]);
        assert_eq!(by_department.refused.len(), 1, "{by_department:?}");
        assert!(by_department.refused[0].why.contains("ana, ben"));
        assert_eq!(by_department.written.len(), 1);
        assert_eq!(by_department.written[0].person, "cy");

        let shaped = run("u-{id}@corp", &[("vpn-users", &["u-ana@corp", "ana"])]);
        assert_eq!(shaped.written.len(), 1);
        assert_eq!(shaped.written[0].person, "ana");
        assert_eq!(shaped.unmapped.len(), 1);
        assert_eq!(shaped.unmapped[0].account, "ana");
        // Two roles provision `vpn-users`: members come in as the first, and it is said.
        assert_eq!(shaped.written[0].role, "contractor");
        assert_eq!(
            shaped.shared,
            [(
                "vpn-users".to_owned(),
                vec!["contractor".into(), "staff".into()]
            )]
        );
        let text = shaped.edits["access/vpn/ana.yaml"].as_deref().unwrap();
        assert!(
            text.contains("justification: imported from postgres vpn-users on 2026-11-22"),
            "{text}"
        );
    }
}
