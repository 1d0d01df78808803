//! `review --app A | --due [--open-pr]`: access review campaigns.

use portcullis_core::model::AppId;
use std::collections::BTreeMap;

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, Utc};

use super::bot_pr::{self, Proposal};
use super::people::write_edits;
use super::{Common, Exit};
use portcullis_core::lifecycle::new_errors;
use portcullis_core::lifecycle::review::{self};
use portcullis_core::model::Catalog;
use portcullis_core::ports::github::GitHub;
use portcullis_core::snapshot::Snapshot;
use portcullis_git::port::GitRepo;
use portcullis_github::Client;

/// An access review campaign: a pull request that sets `reviewed:` on every grant of an app.
/// Owners revoke by deleting grants in it; the merge is the certification
#[derive(clap::Args)]
#[command(after_help = "Examples:
  portcullis review --app payments --open-pr   open the review of one app
  portcullis review --due --open-pr            every app whose review is due")]
pub struct Args {
    #[command(flatten)]
    common: Common,
    /// The app to review, by its id in `policies/apps/`
    #[arg(long, required_unless_present = "due", conflicts_with = "due")]
    app: Option<String>,
    /// Every app whose `review_every` has passed for some grant (`review-overdue`)
    #[arg(long)]
    due: bool,
    /// Open the pull request through the GitHub API (GITHUB_TOKEN, GITHUB_REPOSITORY,
    /// GITHUB_API_URL) instead of writing the files here; an open review of the app is left
    /// as it is (its owners may have revoked grants in it)
    #[arg(long)]
    open_pr: bool,
    /// The branch the pull request targets
    #[arg(long, value_name = "BRANCH", default_value = "main")]
    base_branch: String,
}

pub fn run(args: Args) -> Result<Exit> {
    let root = args.common.root()?;
    let as_of = args.common.as_of()?;
    let date = as_of.date_naive();
    let mut snapshot = portcullis_git::worktree::read(&root)?;
    let repo = portcullis_git::git::open(&root).ok();
    let (catalog, report) = judged(&snapshot, repo.as_ref(), as_of)?;
    let apps = if args.due {
        let due = review::due(&report);
        if due.is_empty() {
            eprintln!("no app's review is due");
        }
        due
    } else {
        let id = AppId::from(args.app.clone().unwrap_or_default());
        if !catalog.apps.contains_key(&id) {
            let known: Vec<&str> = catalog.apps.keys().map(AppId::as_str).collect();
            bail!(
                "there is no app `{id}` in the catalog\nhint: {}",
                portcullis_core::diag::suggest::hint(
                    &id,
                    &known,
                    &format!("use one of: {}", known.join(", "))
                )
            );
        }
        vec![id]
    };
    let client = if args.open_pr {
        Some(Client::from_env()?)
    } else {
        None
    };
    let mut outcome = Exit::Success;
    for app in apps {
        let branch = review::branch(&app);
        let mut catalog = catalog.clone();
        let mut base_sha = None;
        if let Some(client) = &client {
            if let Some(open) = bot_pr::find_open(client, &branch)? {
                eprintln!(
                    "the review of `{app}` is already open: #{} {} (left as it is: its owners may have revoked grants there)",
                    open.number, open.html_url
                );
                // A run stopped right after opening it never asked the owners: ask them now,
                // unless someone is asked already or has reviewed.
                let asked =
                    !open.requested_reviewers.is_empty() || !open.requested_teams.is_empty();
                if !asked
                    && client.pull_reviews(open.number)?.is_empty()
                    && let Some(policy) = catalog.apps.get(&app)
                {
                    bot_pr::request_reviews(client, open.number, &policy.owners);
                }
                continue;
            }
            let sha = bot_pr::base_sha(client, &args.base_branch)?;
            let paths: Vec<String> = review::holders(&catalog, &app)
                .into_iter()
                .map(|h| h.path)
                .collect();
            if !bot_pr::refresh(client, &sha, &mut snapshot, paths.iter())?.is_empty() {
                catalog = portcullis_core::check::load(&snapshot).catalog;
            }
            base_sha = Some(sha);
        }
        let holders = review::holders(&catalog, &app);
        let Some(app_policy) = catalog.apps.get(&app) else {
            continue;
        };
        if holders.is_empty() {
            eprintln!("`{app}` has no grants to review");
            continue;
        }
        let edits = review::certify(&snapshot, &holders, date).map_err(|(path, e)| {
            anyhow!("cannot mark `{path}` as reviewed: {e}\nhint: fix the file by hand (`portcullis check` says what is wrong), then run again")
        })?;
        if edits.is_empty() {
            eprintln!("every grant of `{app}` already says `reviewed: {date}`");
            continue;
        }
        let errors = new_errors(&snapshot, &edits, as_of);
        if !errors.is_empty() {
            for d in &errors {
                eprintln!("{}:{}: {}", d.file, d.pos.line, d.message);
            }
            eprintln!("error: the review of `{app}` would leave new errors; not proposed");
            outcome = Exit::Findings;
            continue;
        }
        let granted = match &repo {
            Some(repo) => match repo.head().and_then(|h| h.peel_to_commit()) {
                Ok(head) => review::granted(
                    &GitRepo(repo),
                    client.as_ref().map(|c| c as &dyn GitHub),
                    &head.id().to_string(),
                    &holders,
                )?,
                Err(_) => BTreeMap::new(),
            },
            None => BTreeMap::new(),
        };
        let title = review::title(app_policy, &holders);
        let body = review::body(&catalog, app_policy, &holders, &granted, date);
        match (&client, &base_sha) {
            (Some(client), Some(base_sha)) => {
                let message = format!("{title}\n\nProposed by `portcullis review`.");
                let proposed = bot_pr::propose(
                    client,
                    &args.base_branch,
                    base_sha,
                    &Proposal {
                        branch: &branch,
                        title: &title,
                        body: &body,
                        message: &message,
                        edits: &edits,
                        owners: &app_policy.owners,
                    },
                )?;
                bot_pr::report(&proposed, &title);
            }
            _ => {
                write_edits(&root, &edits)?;
                eprintln!(
                    "{title}: {} marked `reviewed: {date}`",
                    portcullis_core::diag::render::text::counted(edits.len(), "file")
                );
                print!("{body}");
            }
        }
    }
    Ok(outcome)
}

/// The catalog and the `check` report, with commit dates for `review-overdue`.
fn judged(
    snapshot: &Snapshot,
    repo: Option<&git2::Repository>,
    as_of: DateTime<Utc>,
) -> Result<(Catalog, portcullis_core::diag::Report)> {
    let loaded = portcullis_core::check::load(snapshot);
    let needs = portcullis_core::rules::files_needing_history(&loaded.catalog);
    let last_touched = match repo {
        Some(repo) => portcullis_git::git::last_touched(repo, &needs)?,
        None => Default::default(),
    };
    Ok(portcullis_core::check::finish(
        loaded,
        snapshot,
        as_of,
        &last_touched,
    ))
}
