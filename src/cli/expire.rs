//! `expire [--open-pr] [--close-stale]`: revoke what has run out.
//!
//! Stale request pull requests are closed here rather than by a command of their own: they
//! are the other thing that runs out (`request_ttl`), on the same daily schedule, with the same
//! token, and one scheduled job is one fewer to be silently disabled.

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, Utc};

use super::TextOrJson as Format;
use super::bot_pr::{self, Proposal, Proposed};
use super::{Common, Exit};
use portcullis_core::lifecycle::expire::{self, Removal};
use portcullis_core::lifecycle::{Edits, new_errors};
use portcullis_core::model::Catalog;
use portcullis_core::snapshot::Snapshot;
use portcullis_github::Client;

/// Revoke what has run out: expired grants, every grant of a leaver, grants past a person's end
/// date. Lists them; `--open-pr` opens (or updates) the one revocation pull request
#[derive(clap::Args)]
#[command(after_help = "Examples:
  portcullis expire                 list the grants past their expiry
  portcullis expire --open-pr       open (or update) the revocation pull request")]
pub struct Args {
    #[command(flatten)]
    common: Common,
    /// Open the revocation pull request through the GitHub API (GITHUB_TOKEN,
    /// GITHUB_REPOSITORY, GITHUB_API_URL), or update the one already open
    #[arg(long)]
    open_pr: bool,
    /// Also comment on and close request pull requests idle for `request_ttl`
    #[arg(long)]
    close_stale: bool,
    /// Output format of the list
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// The branch the pull request targets
    #[arg(long, value_name = "BRANCH", default_value = "main")]
    base_branch: String,
}

/// What to revoke in one snapshot, and the edits that do it.
struct Computed {
    catalog: Catalog,
    removals: Vec<Removal>,
    edits: Edits,
}

fn compute(snapshot: &Snapshot, as_of: DateTime<Utc>) -> Result<Computed> {
    let loaded = portcullis_core::check::load(snapshot);
    let (catalog, report) =
        portcullis_core::check::finish(loaded, snapshot, as_of, &Default::default());
    let removals = expire::find(&catalog, &report, as_of);
    let edits = expire::revoke(snapshot, &removals).map_err(|(path, e)| {
        anyhow!("cannot remove grants from `{path}`: {e}\nhint: fix the file by hand (`portcullis check` says what is wrong), then run again")
    })?;
    Ok(Computed {
        catalog,
        removals,
        edits,
    })
}

pub fn run(args: Args) -> Result<Exit> {
    let root = args.common.root()?;
    let as_of = args.common.as_of()?;
    let mut snapshot = portcullis_git::worktree::read(&root)?;
    let client = if args.open_pr || args.close_stale {
        Some(Client::from_env()?)
    } else {
        None
    };
    let mut computed = compute(&snapshot, as_of)?;
    if let (Some(client), true) = (&client, args.open_pr) {
        // Re-check against the base branch: a grant renewed (or a file removed, or a person's
        // status changed) there since this checkout is judged by its current copy, and never
        // reverted.
        let base_sha = bot_pr::base_sha(client, &args.base_branch)?;
        let people = portcullis_core::model::PEOPLE_FILE.to_owned();
        for _ in 0..3 {
            let paths = computed.edits.keys().chain(std::iter::once(&people));
            let changed = bot_pr::refresh(client, &base_sha, &mut snapshot, paths)?;
            if changed.is_empty() {
                break;
            }
            computed = compute(&snapshot, as_of)?;
        }
        let url = revocation_pr(client, &args, &base_sha, &snapshot, &computed, as_of)?;
        print_list(&computed.removals, url.as_deref(), args.format)?;
    } else {
        print_list(&computed.removals, None, args.format)?;
        if !computed.removals.is_empty() {
            eprintln!(
                "next: `portcullis expire --open-pr` opens one pull request revoking {} for the owners to merge (apply already treats expired grants as gone); or remove them by hand in a pull request",
                portcullis_core::diag::render::text::counted(computed.removals.len(), "grant")
            );
        }
    }
    if let (Some(client), true) = (&client, args.close_stale) {
        for line in
            portcullis_core::lifecycle::expire::close_stale(client, &computed.catalog, as_of)?
        {
            eprintln!("{line}");
        }
    }
    Ok(Exit::Success)
}

/// The list on stdout, and the pull request's address when there is one.
fn print_list(removals: &[Removal], url: Option<&str>, format: Format) -> Result<()> {
    let mut out = String::new();
    match format {
        Format::Text => {
            for r in removals {
                out.push_str(&format!("{r}\n"));
            }
            if removals.is_empty() {
                eprintln!("nothing to revoke");
            }
            if let Some(url) = url {
                out.push_str(url);
                out.push('\n');
            }
        }
        Format::Json => {
            out = serde_json::to_string_pretty(&expire::to_json(removals, url))?;
            out.push('\n');
        }
    }
    super::out::stdout(&out)?;
    Ok(())
}

fn revocation_pr(
    client: &Client,
    args: &Args,
    base_sha: &str,
    snapshot: &Snapshot,
    computed: &Computed,
    as_of: DateTime<Utc>,
) -> Result<Option<String>> {
    if computed.removals.is_empty() {
        if let Some(open) = bot_pr::find_open(client, expire::BRANCH)? {
            bot_pr::close(
                client,
                open.number,
                &format!(
                    "{}\nNothing is left to revoke (the grants were renewed or removed on `{}`), so this pull request is closed.\n",
                    expire::MARKER,
                    args.base_branch
                ),
            )?;
            eprintln!("closed #{}: nothing left to revoke", open.number);
        }
        return Ok(None);
    }
    let errors = new_errors(snapshot, &computed.edits, as_of);
    if !errors.is_empty() {
        let listed: Vec<String> = errors
            .iter()
            .map(|d| format!("{}:{}: {}", d.file, d.pos.line, d.message))
            .collect();
        bail!(
            "the revocation would leave errors that `check` did not report before:\n{}\nhint: fix these files by hand first",
            listed.join("\n")
        );
    }
    let title = expire::title(&computed.removals);
    let body = expire::body(&computed.catalog, &computed.removals, as_of);
    let message = format!("{title}\n\nProposed by `portcullis expire`.");
    let owners = expire::owners(&computed.catalog, &computed.removals);
    let proposed = bot_pr::propose(
        client,
        &args.base_branch,
        base_sha,
        &Proposal {
            branch: expire::BRANCH,
            title: &title,
            body: &body,
            message: &message,
            edits: &computed.edits,
            owners: &owners,
        },
    )?;
    let (did, pull) = match &proposed {
        Proposed::Opened(p) => ("opened", p),
        Proposed::Updated(p) => ("updated", p),
    };
    eprintln!("{did} #{}: {title}", pull.number);
    Ok(Some(pull.html_url.clone()))
}
