//! `people sync --from FILE.csv [--open-pr]`: the HR export into the people directory, with
//! the birthright grants and revocations it implies, in one pull request.

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::bot_pr::{self, Proposal};
use super::{Common, Exit, write_file};
use portcullis_core::lifecycle::people::{self, Row, Sync};
use portcullis_core::lifecycle::{Edits, new_errors};
use portcullis_core::model::PEOPLE_FILE;
use portcullis_core::snapshot::Snapshot;
use portcullis_github::Client;

/// The people directory (`policies/people.yaml`)
#[derive(clap::Args)]
#[command(after_help = "Examples:
  portcullis people sync --from hr-export.csv            show what the export changes
  portcullis people sync --from hr-export.csv --open-pr  propose it as a pull request")]
pub struct Args {
    #[command(subcommand)]
    command: PeopleCommand,
}

#[derive(clap::Subcommand)]
enum PeopleCommand {
    Sync(SyncArgs),
}

/// Update the people directory from an HR export: joiners get their birthright grants, movers
/// trade the old department's birthright grants for the new one's, leavers are marked and lose
/// every grant. Any bad row refuses the whole export and nothing is written
#[derive(clap::Args)]
#[command(after_help = "Examples:
  portcullis people sync --from hr-export.csv            show what the export changes
  portcullis people sync --from hr-export.csv --open-pr  propose it as a pull request")]
struct SyncArgs {
    #[command(flatten)]
    common: Common,
    /// The HR export: CSV with a header naming the columns id, name, email, github, department,
    /// title, manager, type, status, end_date (in any order; others are ignored)
    #[arg(long, value_name = "FILE.csv")]
    from: PathBuf,
    /// Open the pull request through the GitHub API (GITHUB_TOKEN, GITHUB_REPOSITORY,
    /// GITHUB_API_URL), or update the one already open, instead of writing the files here
    #[arg(long)]
    open_pr: bool,
    /// The branch the pull request targets
    #[arg(long, value_name = "BRANCH", default_value = "main")]
    base_branch: String,
}

pub fn run(args: Args) -> Result<Exit> {
    let PeopleCommand::Sync(args) = args.command;
    let root = args.common.root()?;
    let as_of = args.common.as_of()?;
    let bytes = std::fs::read(&args.from)
        .with_context(|| format!("cannot read the HR export `{}`", args.from.display()))?;
    let source = args
        .from
        .file_name()
        .map_or_else(|| "export".into(), |n| n.to_string_lossy().into_owned());
    let rows = match people::parse_export(&bytes) {
        Ok(rows) => rows,
        Err(errors) => {
            for e in &errors {
                eprintln!("{}:{}: {}", args.from.display(), e.line, e.message);
            }
            eprintln!(
                "error: the HR export was refused ({} problem{}); nothing was written\nhint: fix the export (or the HR records behind it) and sync again",
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            );
            return Ok(Exit::Findings);
        }
    };
    let mut snapshot = portcullis_git::worktree::read(&root)?;
    let client = if args.open_pr {
        Some(Client::from_env()?)
    } else {
        None
    };
    let base_sha = match &client {
        Some(c) => Some(bot_pr::base_sha(c, &args.base_branch)?),
        None => None,
    };
    let mut sync = match plan(&snapshot, &rows, as_of) {
        Ok(s) => s,
        Err(outcome) => return Ok(outcome),
    };
    if let (Some(client), Some(base_sha)) = (&client, &base_sha) {
        // Every file the sync edits is computed from the base branch's copy, never a stale one.
        let people_file = PEOPLE_FILE.to_owned();
        for _ in 0..3 {
            let paths: Vec<&String> = sync
                .edits
                .keys()
                .chain(std::iter::once(&people_file))
                .collect();
            if bot_pr::refresh(client, base_sha, &mut snapshot, paths)?.is_empty() {
                break;
            }
            sync = match plan(&snapshot, &rows, as_of) {
                Ok(s) => s,
                Err(outcome) => return Ok(outcome),
            };
        }
    }
    if !sync.missing.is_empty() {
        eprintln!(
            "warning: {} people in `{PEOPLE_FILE}` are not in the export and are left unchanged: {}",
            sync.missing.len(),
            sync.missing.join(", ")
        );
    }
    if sync.is_empty() {
        eprintln!("the directory already matches the export: nothing to change");
        return Ok(Exit::Success);
    }
    let errors = new_errors(&snapshot, &sync.edits, as_of);
    if !errors.is_empty() {
        for d in &errors {
            eprintln!("{}:{}: {}", d.file, d.pos.line, d.message);
        }
        eprintln!(
            "error: the sync would leave errors that `check` did not report before; nothing was written\nhint: fix the export or the files named above, then sync again"
        );
        return Ok(Exit::Findings);
    }
    let title = sync.title();
    let body = people::body(&sync, &source);
    match (&client, &base_sha) {
        (Some(client), Some(base_sha)) => {
            let message = format!("{title}\n\nProposed by `portcullis people sync`.");
            let owners = people::owners(&sync);
            let proposed = bot_pr::propose(
                client,
                &args.base_branch,
                base_sha,
                &Proposal {
                    branch: people::BRANCH,
                    title: &title,
                    body: &body,
                    message: &message,
                    edits: &sync.edits,
                    owners: &owners,
                },
            )?;
            bot_pr::report(&proposed, &title);
        }
        _ => {
            write_edits(&root, &sync.edits)?;
            eprintln!(
                "{title}: {} written",
                portcullis_core::diag::render::text::counted(sync.edits.len(), "file")
            );
            print!("{body}");
        }
    }
    Ok(Exit::Success)
}

/// The sync of the export over the snapshot; a file that cannot be edited safely is reported
/// and refuses the sync.
fn plan(
    snapshot: &Snapshot,
    rows: &[Row],
    as_of: chrono::DateTime<chrono::Utc>,
) -> Result<Sync, Exit> {
    people::plan(snapshot, rows, as_of).map_err(|e| {
        eprintln!("error: {e}; nothing was written\nhint: fix the file by hand (`portcullis check` says what is wrong), then sync again");
        Exit::Findings
    })
}

/// Writes (or deletes) each edited file of the work tree.
pub fn write_edits(root: &std::path::Path, edits: &Edits) -> Result<()> {
    for (path, content) in edits {
        let target = root.join(path);
        match content {
            Some(text) => write_file(&target, text)?,
            None => match std::fs::remove_file(&target) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("cannot delete `{path}`")),
            },
        }
    }
    Ok(())
}
