//! `check --base`: which findings the change adds or touches. A finding is new when something
//! it is about changed: its grant (added, or any field of it edited), its file when it is about
//! the file, the person's record, the app's policy, the SoD rules, or the settings. Everything
//! else is `pre_existing`: printed, never failing, so one team's expired grant does not block
//! everybody's pull request. Pure: the git edge supplies the changed paths and their base
//! content.

use std::collections::{BTreeMap, BTreeSet};

use crate::diag::{Diagnostic, Rule};
use crate::load::{self, layout, yaml};
use crate::model::{
    BIRTHRIGHT_FILE, CODEOWNERS_FILE, Catalog, Grant, GrantFile, PEOPLE_FILE, SETTINGS_FILE,
    SOD_FILE,
};
use crate::snapshot::{Entry, Snapshot};

/// What the change touched: every changed path, and the base revision's content of those
/// paths (a path absent from `base` was added).
#[derive(Debug, Default)]
pub struct Touched {
    pub paths: BTreeSet<String>,
    pub base: Snapshot,
}

/// The parts of a grant a change can touch; positions are not content.
type GrantContent = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    bool,
    Option<String>,
);

fn content(g: &Grant) -> GrantContent {
    (
        g.role.value.to_string(),
        g.justification.as_ref().map(|j| j.value.clone()),
        g.expires.as_ref().map(|e| e.value.to_string()),
        g.ticket.clone(),
        g.emergency,
        g.reviewed.as_ref().map(|r| r.value.to_string()),
    )
}

/// Marks every finding the change neither adds nor touches as `pre_existing`.
pub fn mark(
    diagnostics: &mut [Diagnostic],
    head: &Catalog,
    head_snapshot: &Snapshot,
    change: &Touched,
) {
    if change.paths.contains(SETTINGS_FILE) {
        return;
    }
    let people = people_changed(change, head_snapshot);
    let apps_changed: BTreeSet<&str> = change
        .paths
        .iter()
        .filter_map(|p| p.strip_prefix("policies/apps/")?.strip_suffix(".yaml"))
        .collect();
    let sod_changed = change.paths.contains(SOD_FILE);
    let head_files: BTreeMap<&str, &GrantFile> = head
        .grant_files
        .iter()
        .map(|f| (f.path.as_str(), f))
        .collect();
    let mut base_grants: BTreeMap<&str, Option<Vec<GrantContent>>> = BTreeMap::new();
    for path in &change.paths {
        if layout::grant_path_parts(path).is_none() {
            continue;
        }
        let parsed = change.base.get(path).and_then(|entry| {
            let node = load::parse_entry(path, entry, &mut Vec::new())?;
            let file = load::grant_file(path, &node, &mut Vec::new())?;
            Some(file.grants.iter().map(content).collect())
        });
        base_grants.insert(path, parsed);
    }
    let grant_changed = |path: &str, role: &str| -> bool {
        if !change.paths.contains(path) {
            return false;
        }
        let Some(Some(base)) = base_grants.get(path) else {
            return true;
        };
        let Some(head_file) = head_files.get(path) else {
            return true;
        };
        head_file
            .grants
            .iter()
            .filter(|g| g.role.value == role)
            .any(|g| !base.contains(&content(g)))
    };
    for d in diagnostics.iter_mut() {
        let person_touched = d.person.as_deref().is_some_and(|p| people.contains(p));
        let app_touched = d.app.as_deref().is_some_and(|a| apps_changed.contains(a));
        let new = person_touched
            || app_touched
            || match d.rule {
                Rule::SodConflict => {
                    sod_changed
                        || d.role.as_deref().is_some_and(|r| grant_changed(&d.file, r))
                        || d.related.iter().any(|r| change.paths.contains(&r.file))
                }
                Rule::CodeownersDrift => {
                    change.paths.contains(CODEOWNERS_FILE) || !apps_changed.is_empty()
                }
                _ if d.file == PEOPLE_FILE => {
                    change.paths.contains(PEOPLE_FILE) && d.person.is_none()
                }
                _ if d.file == SOD_FILE || d.file == BIRTHRIGHT_FILE => {
                    change.paths.contains(&d.file)
                }
                _ => match (&d.role, layout::grant_path_parts(&d.file)) {
                    (Some(role), Some(_)) => grant_changed(&d.file, role),
                    _ => change.paths.contains(&d.file),
                },
            };
        d.pre_existing = !new;
    }
}

/// Ids of people whose entry in people.yaml changed, was added or was removed.
pub fn people_changed(change: &Touched, head: &Snapshot) -> BTreeSet<crate::model::PersonId> {
    if !change.paths.contains(PEOPLE_FILE) {
        return BTreeSet::new();
    }
    let records = |entry: Option<&Entry>| -> BTreeMap<String, serde_json::Value> {
        let Some(node) = entry.and_then(|e| load::parse_entry(PEOPLE_FILE, e, &mut Vec::new()))
        else {
            return BTreeMap::new();
        };
        node.get("people")
            .map(yaml::Node::as_seq)
            .unwrap_or_default()
            .iter()
            .filter_map(|item| Some((item.get("id")?.as_str()?.to_owned(), item.to_json())))
            .collect()
    };
    let base = records(change.base.get(PEOPLE_FILE));
    let head = records(head.get(PEOPLE_FILE));
    base.keys()
        .chain(head.keys())
        .filter(|id| base.get(*id) != head.get(*id))
        .map(crate::model::PersonId::from)
        .collect()
}
