//! References between files: people, apps and roles named anywhere must exist; one role per
//! file; leavers hold nothing; justifications say why.

use std::collections::BTreeMap;

use crate::diag::{Diagnostic, Related, Rule};
use crate::model::{AppRole, BIRTHRIGHT_FILE, Catalog, PEOPLE_FILE, RoleId, SOD_FILE, Spanned};

use super::grants;

pub fn check(catalog: &Catalog, out: &mut Vec<Diagnostic>) {
    let min = catalog
        .settings
        .as_ref()
        .map_or(15, |s| s.min_justification) as usize;
    let mut suggested = 0;
    for file in &catalog.grant_files {
        if !catalog.people.contains_key(&file.person.value)
            && !catalog.broken_people.contains(&file.person.value)
        {
            out.push(
                Diagnostic::new(
                    Rule::UnknownPerson,
                    &file.path,
                    file.person.pos,
                    format!("`{}` is not in `{PEOPLE_FILE}`", file.person.value),
                )
                .hint(person_hint(catalog, &file.person.value, &mut suggested))
                .subject(Some(&file.person.value), Some(&file.app.value), None),
            );
        }
        if !catalog.apps.contains_key(&file.app.value)
            && !catalog.broken_apps.contains(&file.app.value)
        {
            out.push(
                Diagnostic::new(
                    Rule::UnknownApp,
                    &file.path,
                    file.app.pos,
                    format!(
                        "app `{}` is not in the catalog (`policies/apps/`)",
                        file.app.value
                    ),
                )
                .hint(crate::diag::suggest::hint(
                    &file.app.value,
                    catalog.apps.keys(),
                    &format!(
                        "add `policies/apps/{}.yaml`, or fix the app id",
                        file.app.value
                    ),
                ))
                .subject(Some(&file.person.value), Some(&file.app.value), None),
            );
        }
        let mut seen: BTreeMap<&str, u32> = BTreeMap::new();
        for g in &file.grants {
            if let Some(first) = seen.get(g.role.value.as_str()) {
                out.push(
                    Diagnostic::new(
                        Rule::DuplicateGrant,
                        &file.path,
                        g.role.pos,
                        format!(
                            "role `{}` is granted twice in this file (first at line {first})",
                            g.role.value
                        ),
                    )
                    .hint("keep one grant per role; merge the justifications")
                    .subject(
                        Some(&file.person.value),
                        Some(&file.app.value),
                        Some(&g.role.value),
                    )
                    .related(vec![Related {
                        file: file.path.clone(),
                        line: *first,
                    }]),
                );
            } else {
                seen.insert(&g.role.value, g.role.pos.line);
            }
        }
    }
    for g in grants(catalog) {
        if let Some(app) = g.app
            && g.role.is_none()
        {
            let roles: Vec<&str> = app.roles.keys().map(RoleId::as_str).collect();
            out.push(
                g.subject(
                    Diagnostic::new(
                        Rule::UnknownRole,
                        &g.file.path,
                        g.grant.role.pos,
                        format!(
                            "app `{}` has no role `{}`",
                            app.id.value, g.grant.role.value
                        ),
                    )
                    .hint(crate::diag::suggest::hint(
                        &g.grant.role.value,
                        &roles,
                        &format!("use one of: {}", roles.join(", ")),
                    )),
                ),
            );
        }
        if g.person.is_some_and(|p| p.leaver) {
            out.push(
                g.subject(
                    Diagnostic::new(
                        Rule::LeaverHasAccess,
                        &g.file.path,
                        g.grant.role.pos,
                        format!(
                            "`{}` is a leaver but still holds `{}:{}`",
                            g.file.person.value, g.file.app.value, g.grant.role.value
                        ),
                    )
                    .hint(
                        "remove the grant (`portcullis expire --open-pr` does it for every leaver)",
                    ),
                ),
            );
        }
        let text = g.grant.justification.as_ref().map(|j| j.value.trim());
        if text.is_none_or(|t| t.chars().count() < min) {
            let (pos, message) = match &g.grant.justification {
                Some(j) if j.value.trim().is_empty() => {
                    (j.pos, format!("{} has an empty justification", g.label()))
                }
                Some(j) => (
                    j.pos,
                    format!(
                        "justification of {} has {} characters; at least {min} are required",
                        g.label(),
                        j.value.trim().chars().count()
                    ),
                ),
                None => (
                    g.grant.role.pos,
                    format!("{} has no justification", g.label()),
                ),
            };
            out.push(g.subject(
                Diagnostic::new(Rule::JustificationRequired, &g.file.path, pos, message)
                    .hint("say what the access is for, so an approver can judge it (`justification: ...`)"),
            ));
        }
    }
    for person in catalog.people.values() {
        if let Some(m) = &person.manager
            && !catalog.people.contains_key(&m.value)
            && !catalog.broken_people.contains(&m.value)
        {
            out.push(
                Diagnostic::new(
                    Rule::UnknownPerson,
                    PEOPLE_FILE,
                    m.pos,
                    format!(
                        "manager `{}` of `{}` is not in the people directory",
                        m.value, person.id.value
                    ),
                )
                .hint("fix the manager id, or add the manager")
                .subject(Some(&person.id.value), None, None),
            );
        }
    }
    for rule in &catalog.sod_rules {
        for r in rule.conflicts.iter().flatten() {
            app_role_exists(
                catalog,
                SOD_FILE,
                &format!("SoD rule `{}`", rule.id.value),
                r,
                out,
            );
        }
    }
    for e in &catalog.sod_exceptions {
        if !catalog.people.contains_key(&e.person.value)
            && !catalog.broken_people.contains(&e.person.value)
        {
            out.push(
                Diagnostic::new(
                    Rule::UnknownPerson,
                    SOD_FILE,
                    e.person.pos,
                    format!(
                        "SoD exception names `{}`, who is not in the people directory",
                        e.person.value
                    ),
                )
                .hint("fix the person id, or remove the exception"),
            );
        }
    }
    for rule in &catalog.birthright {
        for r in &rule.grants {
            app_role_exists(catalog, BIRTHRIGHT_FILE, "birthright grant", r, out);
        }
    }
}

/// Suggestions scan the whole directory: after this many in one run, a mass of unknown ids
/// (a pasted list from another system) gets the plain hint and the run stays linear.
const PERSON_SUGGESTIONS: usize = 20;

fn person_hint(catalog: &Catalog, id: &str, suggested: &mut usize) -> String {
    let rest = "add the person to the people directory first, or fix the id";
    if *suggested >= PERSON_SUGGESTIONS {
        return rest.to_owned();
    }
    *suggested += 1;
    crate::diag::suggest::hint(id, catalog.people.keys(), rest)
}

/// An `app:role` reference in a policy file resolves.
fn app_role_exists(
    catalog: &Catalog,
    file: &str,
    whose: &str,
    r: &Spanned<AppRole>,
    out: &mut Vec<Diagnostic>,
) {
    let (rule, message) = match catalog.apps.get(&r.app) {
        None if catalog.broken_apps.contains(&r.app) => return,
        None => (
            Rule::UnknownApp,
            format!("{whose} names app `{}`, which is not in the catalog", r.app),
        ),
        Some(app) if !app.roles.contains_key(&r.role) => (
            Rule::UnknownRole,
            format!(
                "{whose} names role `{}`, which app `{}` does not define",
                r.role, r.app
            ),
        ),
        Some(_) => return,
    };
    let hint = match catalog.apps.get(&r.app) {
        None => {
            crate::diag::suggest::hint(&r.app, catalog.apps.keys(), "fix the `app:role` reference")
        }
        Some(app) => {
            crate::diag::suggest::hint(&r.role, app.roles.keys(), "fix the `app:role` reference")
        }
    };
    out.push(
        Diagnostic::new(rule, file, r.pos, message)
            .hint(hint)
            .subject(None, Some(&r.app), Some(&r.role)),
    );
}
