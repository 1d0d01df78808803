//! Segregation of duties: conflicts, and exceptions that expired or excuse nothing.

use std::collections::{BTreeMap, BTreeSet};

use crate::diag::{Diagnostic, Related, Rule};
use crate::model::time::end_of_day;
use crate::model::{AppRole, Catalog, PersonId, Pos, SOD_FILE, SodException};

use super::Context;

/// One grant a person holds, with where it is written.
struct Held<'c> {
    file: &'c str,
    pos: Pos,
    key: AppRole,
}

pub fn check(catalog: &Catalog, ctx: &Context, out: &mut Vec<Diagnostic>) {
    if catalog.sod_rules.is_empty() && catalog.sod_exceptions.is_empty() {
        return;
    }
    // Only the app:roles some rule names matter; index each person's holdings of those.
    let named: BTreeSet<&AppRole> = catalog
        .sod_rules
        .iter()
        .flat_map(|r| r.conflicts.iter().flatten().map(|s| &s.value))
        .collect();
    let mut held: BTreeMap<&PersonId, Vec<Held>> = BTreeMap::new();
    for file in &catalog.grant_files {
        for g in &file.grants {
            let key = AppRole {
                app: file.app.value.clone(),
                role: g.role.value.clone(),
            };
            if named.contains(&key) {
                held.entry(&file.person.value).or_default().push(Held {
                    file: &file.path,
                    pos: g.role.pos,
                    key,
                });
            }
        }
    }
    let valid = |e: &SodException| ctx.as_of < end_of_day(e.expires.value);
    let mut used: BTreeSet<usize> = BTreeSet::new();

    for (person, holdings) in &held {
        for rule in &catalog.sod_rules {
            // Per set, the grants this person holds from it, in file order.
            let hits: Vec<Vec<&Held>> = rule
                .conflicts
                .iter()
                .map(|set| {
                    let mut in_set: Vec<&Held> = holdings
                        .iter()
                        .filter(|h| set.iter().any(|s| s.value == h.key))
                        .collect();
                    in_set.sort_by(|a, b| (a.file, a.pos).cmp(&(b.file, b.pos)));
                    in_set
                })
                .collect();
            // Sets i and j conflict when the person holds two different grants, one from
            // each; an app:role listed in two sets does not conflict with itself.
            let mut involved: Vec<usize> = Vec::new();
            for i in 0..hits.len() {
                for j in (i + 1)..hits.len() {
                    let pair = hits[i]
                        .iter()
                        .any(|a| hits[j].iter().any(|b| a.key != b.key));
                    if pair {
                        involved.extend([i, j]);
                    }
                }
            }
            involved.sort_unstable();
            involved.dedup();
            if involved.is_empty() {
                continue;
            }
            let excuse = catalog.sod_exceptions.iter().position(|e| {
                e.rule.value == rule.id.value && e.person.value == **person && valid(e)
            });
            if let Some(i) = excuse {
                used.insert(i);
                continue;
            }
            let last = *involved.last().unwrap_or(&0);
            let anchor = hits[last][0];
            let others: Vec<&Held> = involved
                .iter()
                .flat_map(|i| hits[*i].iter().copied())
                .filter(|h| h.key != anchor.key)
                .collect();
            let mut others = others;
            others.dedup_by(|a, b| a.key == b.key && a.file == b.file);
            let names: Vec<String> = others.iter().map(|h| format!("`{}`", h.key)).collect();
            let had_exception = catalog
                .sod_exceptions
                .iter()
                .any(|e| e.rule.value == rule.id.value && e.person.value == **person);
            let expired_note = if had_exception {
                " (their exception has expired)"
            } else {
                ""
            };
            out.push(
                Diagnostic::new(
                    Rule::SodConflict,
                    anchor.file,
                    anchor.pos,
                    format!(
                        "`{person}` holds `{}` and {}, which SoD rule `{}` forbids together: {}{expired_note}",
                        anchor.key,
                        names.join(", "),
                        rule.id.value,
                        rule.description
                    ),
                )
                .severity(rule.severity)
                .hint(format!(
                    "remove one of the grants, or add a time-bound exception for `{person}` to `{SOD_FILE}` approved by security"
                ))
                .subject(Some(person), Some(&anchor.key.app), Some(&anchor.key.role))
                .related(
                    others
                        .iter()
                        .map(|h| Related {
                            file: h.file.to_owned(),
                            line: h.pos.line,
                        })
                        .collect(),
                ),
            );
        }
    }

    for (i, e) in catalog.sod_exceptions.iter().enumerate() {
        let subject = |d: Diagnostic| d.subject(Some(&e.person.value), None, None);
        if !valid(e) {
            out.push(subject(
                Diagnostic::new(
                    Rule::SodExceptionExpired,
                    SOD_FILE,
                    e.expires.pos,
                    format!(
                        "the exception to `{}` for `{}` expired at the end of {}",
                        e.rule.value, e.person.value, e.expires.value
                    ),
                )
                .hint("remove the exception, or renew it with a new justification and `expires:`"),
            ));
        } else if !used.contains(&i) && catalog.people.contains_key(&e.person.value) {
            let why = if catalog.sod_rules.iter().any(|r| r.id.value == e.rule.value) {
                format!("`{}` holds no conflicting roles", e.person.value)
            } else {
                let ids = catalog.sod_rules.iter().map(|r| r.id.value.as_str());
                match crate::diag::suggest::closest(&e.rule.value, ids) {
                    Some(c) => format!(
                        "there is no SoD rule `{}` (did you mean `{c}`?)",
                        e.rule.value
                    ),
                    None => format!("there is no SoD rule `{}`", e.rule.value),
                }
            };
            out.push(subject(
                Diagnostic::new(
                    Rule::SodExceptionUnused,
                    SOD_FILE,
                    e.item,
                    format!(
                        "the exception to `{}` for `{}` excuses nothing: {why}",
                        e.rule.value, e.person.value
                    ),
                )
                .hint("remove the exception; a new one can be added when it is needed"),
            ));
        }
    }
}
