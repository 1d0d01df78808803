//! `check --base` reading only what the change reaches (see `scope`): the changed files, every
//! grant file of a reached app and of a person whose directory entry changed, the grant files
//! a person reached by a changed grant file has in the apps SoD rules name, the app files
//! those grants name, the rule files, and the reached entries of the people directory.

use std::collections::{BTreeSet, HashMap};

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::baseline::{self, Touched};
use crate::diag::Report;
use crate::load::{directory, layout};
use crate::model::{
    AppId, BIRTHRIGHT_FILE, CODEOWNERS_FILE, PEOPLE_FILE, PersonId, SETTINGS_FILE, SOD_FILE,
};
use crate::ports::Tree;
use crate::scope::{self, Reach};
use crate::snapshot::{Entry, Snapshot};

/// The people directory's entries, cut up elsewhere (the CLI does it on the other core while
/// the change is worked out: at 50,000 people, inflating and scanning it is most of what a
/// small change costs); `None` when it cannot be read or is not plainly a list.
pub type DirectoryScan<'a> = Box<dyn FnOnce() -> Option<directory::Entries<'a>> + 'a>;

/// When each file was last changed in the head's history, for the rules that need it.
pub type LastTouched<'a> = &'a dyn Fn(&[&str]) -> Result<HashMap<String, DateTime<Utc>>>;

/// The report over what `change` reaches, with the snapshot it was read from; `None` when the
/// change reaches everything (a rule file changed) and the whole tree must be checked.
/// `head` is the work tree or a commit (`--head`).
pub fn check(
    head: &dyn Tree,
    change: &Touched,
    directory: Option<DirectoryScan<'_>>,
    last_touched: LastTouched<'_>,
    as_of: DateTime<Utc>,
    lap: &mut dyn FnMut(&str),
) -> Result<Option<(Snapshot, Report)>> {
    let Some(mut reach) = scope::of_change(&change.paths) else {
        return Ok(None);
    };
    let mut snap = Snapshot::default();
    for path in &change.paths {
        if let Some(entry) = head.read(path)? {
            snap.files.insert(path.clone(), entry);
        }
    }
    // A grant file's `person:` may differ from its name: both people are reached.
    for path in change.paths.iter().filter(|p| p.starts_with("access/")) {
        let sides = [snap.get(path), change.base.get(path)];
        for entry in sides.into_iter().flatten() {
            reach.people.extend(scope::field_of(path, entry, "person"));
        }
    }
    // People whose every grant file is read: their directory entry changed, or they hold a
    // grant of an app whose policy changed. Someone reached only through a changed grant file
    // is read where SoD rules look, the one rule that reads across a person's files.
    let mut everywhere = BTreeSet::new();
    if change.paths.contains(PEOPLE_FILE) {
        everywhere.extend(baseline::people_changed(change, &snap));
    }
    let app_dirs: Vec<String> = head
        .names("access")
        .into_iter()
        .filter(|a| layout::is_id(a))
        .collect();
    for app in &reach.apps.clone() {
        for name in head.names(&format!("access/{app}")) {
            let path = format!("access/{app}/{name}");
            if let Some(entry) = head.read(&path)? {
                everywhere.extend(scope::field_of(&path, &entry, "person"));
                if let Some(person) = name.strip_suffix(".yaml") {
                    everywhere.insert(PersonId::from(person));
                }
                snap.files.insert(path, entry);
            }
        }
    }
    let sod_apps = scope::sod_apps(head.read(SOD_FILE)?.as_ref());
    let elsewhere: Vec<String> = app_dirs
        .iter()
        .flat_map(|app| {
            let all = sod_apps
                .as_ref()
                .is_none_or(|named| named.contains(app.as_str()));
            let people = if all { &reach.people } else { &everywhere };
            people
                .union(&everywhere)
                .map(move |person| format!("access/{app}/{person}.yaml"))
        })
        .filter(|path| snap.get(path).is_none())
        .collect();
    reach.people.extend(everywhere);
    snap.files.extend(head.read_all(&elsewhere)?);
    lap("reach");
    read_policies(head, &reach, directory, &mut snap)?;
    lap("read policies");
    let grant_files: BTreeSet<String> = snap
        .files
        .keys()
        .filter(|p| p.starts_with("access/"))
        .cloned()
        .collect();
    let loaded = crate::check::load(&snap);
    let needs = crate::rules::files_needing_history(&loaded.catalog);
    let last_touched = last_touched(&needs)?;
    let (catalog, mut report) = crate::check::finish(loaded, &snap, as_of, &last_touched);
    baseline::mark(&mut report.diagnostics, &catalog, &snap, change);
    report
        .diagnostics
        .retain(|d| scope::keeps(d, &reach, &change.paths, &grant_files));
    report.files = grant_files.len()
        + snap
            .files
            .keys()
            .filter(|p| p.starts_with("policies/"))
            .count();
    report.partial = true;
    lap("rules");
    Ok(Some((snap, report)))
}

/// The rule files, the app files the read grants name (every app file when an app or
/// CODEOWNERS changed), and the directory: whole when it changed, else the reached entries.
fn read_policies(
    head: &dyn Tree,
    reach: &Reach,
    directory: Option<DirectoryScan<'_>>,
    snap: &mut Snapshot,
) -> Result<()> {
    for path in [SETTINGS_FILE, SOD_FILE, BIRTHRIGHT_FILE] {
        if let Some(entry) = head.read(path)? {
            snap.files.insert(path.to_owned(), entry);
        }
    }
    let apps: BTreeSet<AppId> = if reach.all_apps {
        if let Some(entry) = head.read(CODEOWNERS_FILE)? {
            snap.files.insert(CODEOWNERS_FILE.to_owned(), entry);
        }
        head.names("policies/apps")
            .into_iter()
            .filter_map(|n| n.strip_suffix(".yaml").map(AppId::from))
            .collect()
    } else {
        // The folder's app and the app the file names: the rules look up both.
        snap.files
            .iter()
            .filter(|(p, _)| p.starts_with("access/"))
            .flat_map(|(p, entry)| {
                let folder = layout::grant_path_parts(p).map(|(app, _)| AppId::from(app));
                folder.into_iter().chain(scope::field_of(p, entry, "app"))
            })
            .chain(reach.apps.iter().cloned())
            .collect()
    };
    for app in apps {
        let path = format!("policies/apps/{app}.yaml");
        if snap.get(&path).is_none()
            && let Some(entry) = head.read(&path)?
        {
            snap.files.insert(path, entry);
        }
    }
    if snap.get(PEOPLE_FILE).is_some() {
        return Ok(());
    }
    let wanted = |id: &str| reach.people.contains(id);
    let scanned = directory.and_then(|scan| scan());
    if let Some(entries) = scanned {
        snap.insert_bytes(PEOPLE_FILE, entries.select(&wanted).as_bytes());
    } else if let Some(entry) = head.read(PEOPLE_FILE)? {
        let selected = match &entry {
            Entry::File(bytes) => std::str::from_utf8(bytes)
                .ok()
                .and_then(|text| directory::select(text, &|id| reach.people.contains(id))),
            _ => None,
        };
        match selected {
            Some(text) => snap.insert_bytes(PEOPLE_FILE, text.as_bytes()),
            None => _ = snap.files.insert(PEOPLE_FILE.to_owned(), entry),
        }
    }
    Ok(())
}
