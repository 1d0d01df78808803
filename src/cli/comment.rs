use anyhow::Result;

use super::{Common, Exit};
use portcullis_core::approval::pull::judge;
use portcullis_core::comment;
use portcullis_git::port::GitRepo;
use portcullis_git::revision::Revision;
use portcullis_github::Client;

/// Post or update the one sticky pull request comment: check result, plan, approvals
#[derive(clap::Args)]
#[command(after_help = "Examples:
  portcullis comment --pr 42 --dry-run   print the comment instead of posting it
  portcullis comment --pr 42             post or update the one sticky comment")]
pub struct Args {
    #[command(flatten)]
    common: Common,
    /// The pull request number
    #[arg(long, value_name = "N")]
    pr: u64,
    /// Print the comment instead of posting it
    #[arg(long)]
    dry_run: bool,
}

pub fn run(args: Args) -> Result<Exit> {
    let root = args.common.root()?;
    let as_of = args.common.as_of()?;
    let repo = portcullis_git::git::open(&root)?;
    let client = Client::from_env()?;
    let judged = judge(&client, &GitRepo(&repo), args.pr, as_of)?;
    let head = &judged.pull.head.sha;

    // The check result of the pull request's head, marked against its merge base.
    let head_rev = Revision::at(&repo, head)?;
    let base_rev = Revision::at(&repo, &judged.merge_base)?;
    let mut snapshot = portcullis_core::snapshot::Snapshot::default();
    for dir in portcullis_core::snapshot::GOVERNED_DIRS {
        snapshot.files.extend(head_rev.read_dir(dir)?.files);
    }
    let mut change = portcullis_core::baseline::Touched {
        paths: judged.computed.paths.clone(),
        ..Default::default()
    };
    for path in &judged.computed.paths {
        if portcullis_core::snapshot::wants_content(path)
            && let Some(entry) = base_rev.read(path)?
        {
            change.base.files.insert(path.clone(), entry);
        }
    }
    let loaded = portcullis_core::check::load(&snapshot);
    let (catalog, mut report) =
        portcullis_core::check::finish(loaded, &snapshot, as_of, &Default::default());
    portcullis_core::baseline::mark(&mut report.diagnostics, &catalog, &snapshot, &change);
    report.sort();

    let body = comment::body(&report, &judged.computed.plan, Some(&judged.verdict), head);
    if args.dry_run {
        super::out::stdout(&body)?;
        return Ok(Exit::Success);
    }
    let posted = comment::post(&client, args.pr, &body, author().as_deref())?;
    println!("{}", posted.html_url);
    Ok(Exit::Success)
}

/// The account portcullis writes as, when it is pinned: `PORTCULLIS_COMMENT_AUTHOR` (see
/// [`comment::is_ours`]). Not `bot_login`: the comment is posted with the workflow's own token,
/// whose account is `github-actions[bot]`, not the App's.
pub(super) fn author() -> Option<String> {
    std::env::var("PORTCULLIS_COMMENT_AUTHOR")
        .ok()
        .filter(|l| !l.is_empty())
}
