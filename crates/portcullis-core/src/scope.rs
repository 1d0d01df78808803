//! What a change can reach, for `check --base`: the people and apps whose findings the change
//! can add or touch. Everything outside that reach is, by `baseline`'s own definition,
//! pre-existing whatever it holds, so it need not be read at all: a ten-file pull request in a
//! repository of 100,000 grant files reads a few dozen files and a few entries of the people
//! directory. A change to the rules themselves (settings, SoD, birthright) reaches everything.
//! Pure: the CLI reads the files this names.

use crate::model::{AppId, PersonId};
use std::collections::BTreeSet;

use crate::diag::{Diagnostic, Rule};
use crate::load::{self, layout, yaml};
use crate::model::{CODEOWNERS_FILE, PEOPLE_FILE, SOD_FILE};
use crate::snapshot::Entry;

/// People and apps a change reaches.
#[derive(Debug, Default, PartialEq)]
pub struct Reach {
    /// People whose entry in the directory is checked, and their grants as far as the change
    /// reaches them: all of them when their entry or an app they hold changed, else those in
    /// the apps SoD rules name (see `reach`, which reads the files).
    pub people: BTreeSet<PersonId>,
    /// Apps whose policy changed: every grant of theirs is checked (and its holder's others).
    pub apps: BTreeSet<AppId>,
    /// Every app is loaded: an app or CODEOWNERS changed, and `codeowners-drift` needs them all.
    pub all_apps: bool,
}

/// `None` when the change reaches everything (a rule file changed).
pub fn of_change(paths: &BTreeSet<String>) -> Option<Reach> {
    let mut reach = Reach::default();
    for path in paths {
        if let Some((_, person)) = layout::grant_path_parts(path) {
            reach.people.insert(person.into());
        } else if let Some(app) = path
            .strip_prefix("policies/apps/")
            .and_then(|f| f.strip_suffix(".yaml"))
        {
            reach.apps.insert(app.into());
            reach.all_apps = true;
        } else if path == CODEOWNERS_FILE {
            reach.all_apps = true;
        } else if path.starts_with("policies/") && path != PEOPLE_FILE {
            return None;
        }
    }
    Some(reach)
}

/// Whether a finding from the reached part of the tree belongs in the report: it is about a
/// grant file that was read (all of a reached person's, all of a reached app's), a changed
/// file, or a reached person. Findings about unchanged policy files come from a partial
/// catalog (a directory with only the reached people in it) and say nothing true.
pub fn keeps(
    d: &Diagnostic,
    reach: &Reach,
    changed: &BTreeSet<String>,
    grant_files: &BTreeSet<String>,
) -> bool {
    // A changed people directory is read whole, so its findings are all true.
    if changed.contains(&d.file) {
        return true;
    }
    if d.rule == Rule::CodeownersDrift {
        return reach.all_apps;
    }
    if grant_files.contains(&d.file) {
        return true;
    }
    d.file == SOD_FILE && d.person.as_ref().is_some_and(|p| reach.people.contains(p))
}

/// The apps the SoD rules name (in an `app:role` anywhere in `sod.yaml`, given as `entry`);
/// `None` when that file cannot be read plainly, and every app must be assumed.
pub fn sod_apps(entry: Option<&Entry>) -> Option<BTreeSet<AppId>> {
    let Some(entry) = entry else {
        return Some(BTreeSet::new());
    };
    let node = load::parse_entry(SOD_FILE, entry, &mut Vec::new())?;
    let mut apps = BTreeSet::new();
    let mut open = vec![&node];
    while let Some(node) = open.pop() {
        match &node.value {
            yaml::Value::Str(s) => apps.extend(s.split_once(':').map(|(app, _)| AppId::from(app))),
            yaml::Value::Seq(items) => open.extend(items),
            yaml::Value::Map(entries) => open.extend(entries.iter().map(|(_, v)| v)),
            _ => {}
        }
    }
    Some(apps)
}

/// A top-level text field of a file (`person:`, `app:` of a grant file), when it parses that
/// far, as the id it is.
pub fn field_of<T: From<String>>(path: &str, entry: &Entry, key: &str) -> Option<T> {
    let node = load::parse_entry(path, entry, &mut Vec::new())?;
    Some(node.get(key)?.as_str()?.to_owned().into())
}
