//! A change's plan computed from a repository: the files it touches read at both ends, the
//! policies and context read at the base, the history of each changed file. Reads through the
//! [`Repo`] port only, so it runs the same over git and over the in-memory repository.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use crate::load::{self, directory, layout};
use crate::model::{
    AppId, BIRTHRIGHT_FILE, Catalog, GrantFile, Member, PEOPLE_FILE, PersonId, SETTINGS_FILE,
    SOD_FILE,
};
use crate::plan::insights::{FileRevision, events};
use crate::plan::{self, FileVersions, Plan};
use crate::ports::{FileChange, Paths, Repo, Tree};
use crate::snapshot::Entry;

/// The two revisions a change is read at: `base` is where it is measured from (a pull
/// request's merge base), `policies` where the rules that judge it are read (the base branch's
/// tip; for a plain `plan --base`, the same commit).
#[derive(Debug, Clone, Copy)]
pub struct Revs<'a> {
    pub base: &'a str,
    pub policies: &'a str,
}

/// A plan with what it was computed from.
pub struct Computed {
    pub plan: Plan,
    /// Base policies (`grant_files` holds the head context files).
    pub policies: Catalog,
    /// Every governed path the change touches.
    pub paths: BTreeSet<String>,
}

/// The plan from `base` to `head` (whose governed changed `paths` the caller knows: from
/// git for a commit, from the index and work tree for uncommitted edits), judged with the
/// policies of `policies_rev` (a pull request's base branch tip, while the change is measured
/// from its merge base). Loads only what the plan needs: the base policies, both versions of
/// the changed grant files, the head files insights look at, and the history of the changed
/// files. `lap` is told when each phase ends.
pub fn compute(
    repo: &dyn Repo,
    revs: Revs<'_>,
    head: &dyn Tree,
    paths: BTreeSet<String>,
    as_of: DateTime<Utc>,
    lap: &mut dyn FnMut(&str),
) -> Result<Computed> {
    let base = repo.tree(revs.base)?;
    let rules = repo.tree(revs.policies)?;
    let mut files = FileVersions::default();
    for path in paths
        .iter()
        .filter(|p| layout::grant_path_parts(p).is_some())
    {
        files.paths.insert(path.clone());
        if let Some(f) = parse(path, base.read(path)?) {
            files.base.insert(path.clone(), f);
        }
        if let Some(f) = parse(path, head.read(path)?) {
            files.head.insert(path.clone(), f);
        }
    }
    lap("changed files");
    let mut people = BTreeSet::new();
    let mut apps = BTreeSet::new();
    for f in files.base.values().chain(files.head.values()) {
        people.insert(f.person.value.clone());
        apps.insert(f.app.value.clone());
    }
    for path in &files.paths {
        if let Some((app, person)) = layout::grant_path_parts(path) {
            people.insert(PersonId::from(person));
            apps.insert(AppId::from(app));
        }
    }
    let mut policies = read_policies(&*rules, &people, &apps)?;
    lap("policies");
    // Context (the persons' other access, their peers) is read at the base: grants the change
    // adds are never peers (SPEC section 6), or one pull request granting a role to a whole
    // department would auto-approve itself.
    let app_ids: Vec<String> = base
        .names("access")
        .into_iter()
        .filter(|a| layout::is_id(a))
        .collect();
    let context = plan::context_paths(&policies, &files, &app_ids, |app| {
        base.names(&format!("access/{app}"))
            .into_iter()
            .filter_map(|n| n.strip_suffix(".yaml").map(str::to_owned))
            .collect()
    });
    for path in &context {
        let parsed = match files.base.get(path) {
            Some(f) => Some(f.clone()),
            None if files.paths.contains(path) => None,
            None => parse(path, base.read(path)?),
        };
        policies.grant_files.extend(parsed);
    }
    lap("context");
    let mut history = BTreeMap::new();
    for path in &files.paths {
        let revisions: Vec<FileRevision> = repo
            .file_history(revs.base, path, 20, 20_000)
            .with_context(|| format!("cannot read the history of `{path}`"))?
            .into_iter()
            .map(|c| revision(path, c))
            .collect();
        let roles: BTreeSet<&str> = files
            .base
            .get(path)
            .into_iter()
            .chain(files.head.get(path))
            .flat_map(|f| f.grants.iter().map(|g| g.role.value.as_str()))
            .collect();
        for role in roles {
            history.insert((path.clone(), role.to_owned()), events(role, &revisions));
        }
    }
    lap("history");
    let plan = plan::build(&policies, &files, &history, as_of);
    lap("plan");
    Ok(Computed {
        plan,
        policies,
        paths,
    })
}

/// As [`compute`] for a committed head: its tree and changed paths come from the repository.
pub fn compute_at(
    repo: &dyn Repo,
    revs: Revs<'_>,
    head: &str,
    as_of: DateTime<Utc>,
) -> Result<Computed> {
    let paths = repo.changed_paths(revs.base, head, Paths::Governed)?;
    let tree = repo.tree(head)?;
    compute(repo, revs, &*tree, paths, as_of, &mut |_| {})
}

/// The policies a change by `people` in `apps` is judged with: the rule files, those apps, the
/// directory entries of those people and their managers, and every other entry by department
/// and status only (for the department counts). A directory that is not plainly a list is
/// read whole.
fn read_policies(
    rules: &dyn Tree,
    people: &BTreeSet<PersonId>,
    apps: &BTreeSet<AppId>,
) -> Result<Catalog> {
    let mut snap = crate::snapshot::Snapshot::default();
    let files = [SETTINGS_FILE, SOD_FILE, BIRTHRIGHT_FILE]
        .into_iter()
        .map(str::to_owned)
        .chain(apps.iter().map(|a| format!("policies/apps/{a}.yaml")));
    for path in files {
        if let Some(entry) = rules.read(&path)? {
            snap.files.insert(path, entry);
        }
    }
    let Some(entry) = rules.read(PEOPLE_FILE)? else {
        return Ok(load::load(&snap).0);
    };
    let text = match &entry {
        Entry::File(bytes) => std::str::from_utf8(bytes).ok(),
        _ => None,
    };
    let Some(entries) = text.and_then(directory::scan) else {
        snap.files.insert(PEOPLE_FILE.to_owned(), entry);
        return Ok(load::load(&snap).0);
    };
    // The changed people and their managers (the approvals name them), guessed from the
    // plain lines first; a manager written otherwise is found once the entries are parsed.
    let mut shown: BTreeSet<PersonId> = people.clone();
    shown.extend(
        entries
            .plain()
            .filter(|p| people.contains(p.id))
            .filter_map(|p| p.manager.map(PersonId::from)),
    );
    let mut catalog = loop {
        snap.insert_bytes(
            PEOPLE_FILE,
            entries.select(&|id| shown.contains(id)).as_bytes(),
        );
        let (catalog, _) = load::load(&snap);
        let missing: Vec<PersonId> = people
            .iter()
            .filter_map(|p| catalog.people.get(p)?.manager.as_ref())
            .map(|m| m.value.clone())
            .filter(|m| !shown.contains(m))
            .collect();
        if missing.is_empty() {
            break catalog;
        }
        shown.extend(missing);
    };
    // An entry without a department fails its schema and is nobody's peer.
    catalog.roster = entries
        .plain()
        .filter_map(|p| {
            Some(Member {
                id: p.id.into(),
                department: p.department?.to_owned(),
                leaver: p.status == Some("leaver"),
            })
        })
        .collect();
    Ok(catalog)
}

/// One commit's change to the grant file at `path`, both sides parsed, for the insights.
pub fn revision(path: &str, c: FileChange) -> FileRevision {
    FileRevision {
        commit: c.commit,
        date: c.date,
        summary: c.summary,
        before: parse(path, c.before),
        after: parse(path, c.after),
    }
}

/// A grant file that loads; one that does not is `check`'s to report.
pub fn parse(path: &str, entry: Option<Entry>) -> Option<GrantFile> {
    let mut ignored = Vec::new();
    let node = load::parse_entry(path, &entry?, &mut ignored)?;
    load::grant_file(path, &node, &mut ignored)
}
