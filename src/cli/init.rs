//! `init DIR --org ORG --security-team @ORG/TEAM`: a new access repository that passes
//! `check` and `codeowners --check` as written: settings (with `portcullis_version` and
//! `bot_login`), the people (empty, or from an HR export in the `people sync` format), one
//! example app, the schemas, CODEOWNERS, the issue form, the workflows (running the released
//! tool through the action, never compiling it) and a README with the setup checklist.
//!
//! Everything is built in memory and checked before one file is written; nothing is written
//! into a directory that already holds a repository's policies.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};

use super::init_files::{SCHEMAS, WORKFLOWS, default_action};
use super::{Exit, write_file};
use portcullis_core::lifecycle::{edited, people};
use portcullis_core::snapshot::Snapshot;

/// Create a new access repository that passes `check` as written
#[derive(clap::Args)]
#[command(after_help = "Examples:
  portcullis init access --org acme --security-team @acme/security
  portcullis init access --org acme --security-team @acme/security --people hr-export.csv")]
pub struct Args {
    /// Where to create it (created if missing; must not hold `policies/` already)
    #[arg(value_name = "DIR", default_value = ".")]
    dir: PathBuf,
    /// The GitHub organisation (e.g. `acme`)
    #[arg(long)]
    org: String,
    /// The team that owns the rules, as `@org/team`
    #[arg(long, value_name = "@ORG/TEAM")]
    security_team: String,
    /// The people, from an HR export in the `people sync` format
    #[arg(long, value_name = "FILE.csv")]
    people: Option<PathBuf>,
    /// The login of the GitHub App portcullis acts as
    #[arg(long, value_name = "LOGIN", default_value = "portcullis[bot]")]
    bot_login: String,
    /// The default branch
    #[arg(long, value_name = "BRANCH", default_value = "main")]
    branch: String,
    /// The action the workflows use, `owner/repo@<commit>` [default: this release's]
    #[arg(long, value_name = "OWNER/REPO@SHA")]
    action: Option<String>,
}

pub fn run(args: Args) -> Result<Exit> {
    let dir = std::path::absolute(&args.dir)
        .with_context(|| format!("cannot resolve `{}`", args.dir.display()))?;
    if dir.join("policies").exists() {
        bail!(
            "`{}` already holds `policies/`: init writes a new repository and overwrites nothing\nhint: pick an empty directory",
            dir.display()
        );
    }
    let org = args.org.trim_start_matches('@');
    let github_name = !org.is_empty()
        && org.len() <= 39
        && !org.starts_with('-')
        && !org.ends_with('-')
        && org.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !github_name {
        bail!(
            "`{}` is not a GitHub organisation name\nhint: write it as in github.com/<org>, e.g. `--org acme`",
            args.org
        );
    }
    let Some((team_org, team)) = args
        .security_team
        .strip_prefix('@')
        .and_then(|t| t.split_once('/'))
    else {
        bail!(
            "`{}` is not a team\nhint: write it as `@{org}/security`",
            args.security_team
        );
    };
    if !team_org.eq_ignore_ascii_case(org) || team.is_empty() {
        bail!(
            "the security team `{}` is not a team of `{org}`\nhint: write it as `@{org}/<team>`",
            args.security_team
        );
    }
    let version = env!("CARGO_PKG_VERSION");
    let (action, pinned) = match &args.action {
        Some(a) => (a.clone(), true),
        None => default_action(),
    };
    let fill = |t: &str| {
        t.replace("__ORG__", org)
            .replace("__SECURITY__", &args.security_team)
            .replace("__VERSION__", version)
            .replace("__BOT__", &args.bot_login)
            .replace("__BRANCH__", &args.branch)
            .replace("__ACTION__", &action)
    };

    let mut files: Vec<(String, String)> = vec![
        (
            portcullis_core::model::SETTINGS_FILE.into(),
            fill(include_str!("../../templates/init/settings.yaml")),
        ),
        (
            portcullis_core::model::PEOPLE_FILE.into(),
            "# yaml-language-server: $schema=../schemas/people.schema.json\n# Everyone who can hold access; `portcullis people sync --from hr.csv` keeps it current.\npeople: []\n".into(),
        ),
        (
            "policies/apps/example.yaml".into(),
            fill(include_str!("../../templates/init/example-app.yaml")),
        ),
        ("README.md".into(), fill(include_str!("../../templates/init/README.md"))),
        (
            ".github/ISSUE_TEMPLATE/access-request.yml".into(),
            include_str!("../../.github/ISSUE_TEMPLATE/access-request.yml").into(),
        ),
    ];
    files.extend(
        SCHEMAS
            .iter()
            .map(|(n, t)| (format!("schemas/{n}.schema.json"), (*t).to_owned())),
    );
    files.extend(
        WORKFLOWS
            .iter()
            .map(|(n, t)| (format!(".github/workflows/{n}.yml"), fill(t))),
    );
    let mut snapshot = Snapshot::from_files(files.iter().map(|(p, t)| (p.as_str(), t.as_str())));

    let as_of = chrono::Utc::now();
    if let Some(csv) = &args.people {
        let bytes = std::fs::read(csv)
            .with_context(|| format!("cannot read the HR export `{}`", csv.display()))?;
        let rows = people::parse_export(&bytes).map_err(|errors| {
            let lines: Vec<String> = errors
                .iter()
                .map(|e| format!("{}:{}: {}", csv.display(), e.line, e.message))
                .collect();
            anyhow!(
                "{}\nthe HR export was refused; nothing was written",
                lines.join("\n")
            )
        })?;
        let sync = people::plan(&snapshot, &rows, as_of)
            .map_err(|e| anyhow!("{e}; nothing was written"))?;
        snapshot = edited(&snapshot, &sync.edits);
    }
    let catalog = portcullis_core::check::load(&snapshot).catalog;
    let codeowners = portcullis_core::codeowners::generate(&catalog);
    snapshot.insert_bytes(
        portcullis_core::model::CODEOWNERS_FILE,
        codeowners.as_bytes(),
    );

    // Never write a repository that `check` rejects.
    let report = portcullis_core::check::check(&snapshot, as_of);
    let errors: Vec<String> = report
        .diagnostics
        .iter()
        .filter(|d| d.fails())
        .map(|d| format!("{}:{}: {}", d.file, d.pos.line, d.message))
        .collect();
    if !errors.is_empty() {
        bail!(
            "the new repository would not pass `check`; nothing was written:\n{}",
            errors.join("\n")
        );
    }
    for path in snapshot.files.keys() {
        let Some(portcullis_core::snapshot::Entry::File(bytes)) = snapshot.get(path) else {
            continue;
        };
        write_file(&dir.join(path), &String::from_utf8_lossy(bytes))?;
    }
    eprintln!(
        "created the access repository of `{org}` in {} ({} files): it passes `portcullis check`",
        dir.display(),
        snapshot.files.len()
    );
    if !pinned {
        eprintln!(
            "note: the workflows use `{action}`: replace the tag with the commit it names (`uses: portcullis-dev/portcullis@<sha> # v{version}`), as every action should be pinned"
        );
    }
    eprintln!(
        "next: follow the setup checklist in {}",
        dir.join("README.md").display()
    );
    Ok(Exit::Success)
}
