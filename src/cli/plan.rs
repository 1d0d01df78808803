use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::ValueEnum;
use git2::Repository;

use super::{Common, Outcome};
use portcullis_core::load::{self, directory, layout};
use portcullis_core::model::{
    BIRTHRIGHT_FILE, Catalog, GrantFile, Member, PEOPLE_FILE, SETTINGS_FILE, SOD_FILE,
};
use portcullis_core::plan::insights::{FileRevision, events};
use portcullis_core::plan::{self, FileVersions, Plan};
use portcullis_core::snapshot::Entry;
use portcullis_git::revision::Revision;

/// Show the grant-level change between two revisions, with approvals needed and insights
#[derive(clap::Args)]
#[command(after_help = "Examples:
  portcullis plan --base origin/main             what this branch grants, changes and removes
  portcullis plan --base main --head HEAD -f markdown   as the pull request comment shows it")]
pub struct Args {
    #[command(flatten)]
    common: Common,
    /// The revision the change starts from (its policies judge the change)
    #[arg(long, value_name = "REV")]
    base: String,
    /// The revision the change ends at [default: the work tree]
    #[arg(long, value_name = "REV")]
    head: Option<String>,
    /// Output format
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
    Markdown,
}

pub fn run(args: Args) -> Result<Outcome> {
    let root = args.common.root()?;
    let as_of = args.common.as_of()?;
    let repo = portcullis_git::git::open(&root)?;
    let head = match &args.head {
        Some(rev) => Revision::at(&repo, rev)?,
        None => Revision::WorkTree(root.clone()),
    };
    let computed = compute(&repo, &args.base, &head, as_of)?;
    let out = match args.format {
        Format::Text => plan::render::text(&computed.plan),
        Format::Json => plan::render::json(&computed.plan),
        Format::Markdown => plan::render::markdown(&computed.plan),
    };
    super::out::stdout(&out)?;
    Ok(Outcome::Success)
}

/// A plan with what it was computed from.
pub(crate) struct Computed {
    pub plan: Plan,
    /// Base policies (`grant_files` holds the head context files).
    pub policies: Catalog,
    /// Every governed path the change touches.
    pub paths: BTreeSet<String>,
}

/// Loads only what the plan needs: the base policies, both versions of the changed grant
/// files, the head files insights look at, and the history of the changed files.
pub(crate) fn compute(
    repo: &Repository,
    base_rev: &str,
    head: &Revision,
    as_of: DateTime<Utc>,
) -> Result<Computed> {
    compute_with(repo, base_rev, base_rev, head, as_of)
}

/// As `compute`, with the policies read from `policies_rev` (a pull request's base branch
/// tip) while the change is measured from `base_rev` (its merge base).
pub(crate) fn compute_with(
    repo: &Repository,
    base_rev: &str,
    policies_rev: &str,
    head: &Revision,
    as_of: DateTime<Utc>,
) -> Result<Computed> {
    let mut timer = super::check::Timer::from_env();
    let base_commit = portcullis_git::git::commit_at(repo, base_rev)?;
    let base = Revision::at(repo, base_rev)?;
    let rules = Revision::at(repo, policies_rev)?;
    let paths = match head {
        Revision::Tree { tree, .. } => {
            portcullis_git::git::changed_between(repo, &base_commit.tree()?, tree)?
        }
        Revision::WorkTree(_) => portcullis_git::git::change_since(repo, base_rev)?.paths,
    };
    timer.lap("diff");
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
    timer.lap("changed files");
    let mut people = BTreeSet::new();
    let mut apps = BTreeSet::new();
    for f in files.base.values().chain(files.head.values()) {
        people.insert(f.person.value.clone());
        apps.insert(f.app.value.clone());
    }
    for path in &files.paths {
        if let Some((app, person)) = layout::grant_path_parts(path) {
            people.insert(person.to_owned());
            apps.insert(app.to_owned());
        }
    }
    let mut policies = read_policies(&rules, &people, &apps)?;
    timer.lap("policies");
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
    timer.lap("context");
    let mut history = BTreeMap::new();
    for path in &files.paths {
        let revisions: Vec<FileRevision> =
            portcullis_git::git::file_changes(repo, base_commit.id(), path, 20, 20_000)
                .with_context(|| format!("cannot read the history of `{path}`"))?
                .into_iter()
                .map(|c| FileRevision {
                    commit: c.commit,
                    date: c.date,
                    summary: c.summary,
                    before: parse(path, c.before),
                    after: parse(path, c.after),
                })
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
    timer.lap("history");
    let plan = plan::build(&policies, &files, &history, as_of);
    timer.lap("plan");
    Ok(Computed {
        plan,
        policies,
        paths,
    })
}

/// The policies a change by `people` in `apps` is judged with: the rule files, those apps, the
/// directory entries of those people and their managers, and every other entry by department
/// and status only (for the department counts). A directory that is not plainly a list is
/// read whole.
fn read_policies(
    rules: &Revision,
    people: &BTreeSet<String>,
    apps: &BTreeSet<String>,
) -> Result<Catalog> {
    let mut snap = portcullis_core::snapshot::Snapshot::default();
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
    let mut shown: BTreeSet<String> = people.clone();
    shown.extend(
        entries
            .plain()
            .filter(|p| people.contains(p.id))
            .filter_map(|p| p.manager.map(str::to_owned)),
    );
    let mut catalog = loop {
        snap.insert_bytes(
            PEOPLE_FILE,
            entries.select(&|id| shown.contains(id)).as_bytes(),
        );
        let (catalog, _) = load::load(&snap);
        let missing: Vec<String> = people
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
                id: p.id.to_owned(),
                department: p.department?.to_owned(),
                leaver: p.status == Some("leaver"),
            })
        })
        .collect();
    Ok(catalog)
}

/// A grant file that loads; one that does not is `check`'s to report.
pub(super) fn parse(path: &str, entry: Option<Entry>) -> Option<GrantFile> {
    let mut ignored = Vec::new();
    let node = load::parse_entry(path, &entry?, &mut ignored)?;
    load::grant_file(path, &node, &mut ignored)
}
