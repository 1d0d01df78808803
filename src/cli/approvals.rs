use anyhow::Result;

use super::{Common, Exit};
use portcullis_core::approval::pull::judge;
use portcullis_core::approval::status;
use portcullis_git::port::GitRepo;
use portcullis_github::Client;

/// Judge a pull request's approvals against the rules and set the `portcullis/approvals` status
#[derive(clap::Args)]
#[command(after_help = "Examples:
  portcullis approvals --pr 42 --no-status   print the verdict only
  portcullis approvals --pr 42               and set the `portcullis/approvals` status")]
pub struct Args {
    #[command(flatten)]
    common: Common,
    /// The pull request number
    #[arg(long, value_name = "N")]
    pr: u64,
    /// Print the verdict without setting the commit status
    #[arg(long)]
    no_status: bool,
}

pub fn run(args: Args) -> Result<Exit> {
    let root = args.common.root()?;
    let as_of = args.common.as_of()?;
    let repo = portcullis_git::git::open(&root)?;
    let client = Client::from_env()?;
    if !args.no_status {
        // Mark the head as seen before judging: an override comment counts for this head
        // only when written after this moment.
        let head = client.pull(args.pr)?.head.sha;
        let me = super::applier::bot_login_at(&root);
        status::mark_seen(&client, &head, me.as_deref())?;
    }
    let judged = match judge(&client, &GitRepo(&repo), args.pr, as_of) {
        Ok(j) => j,
        Err(e) => {
            if !args.no_status {
                status::report_failure(&client, args.pr, &e);
            }
            return Err(e);
        }
    };
    let v = &judged.verdict;
    let mut out = portcullis_core::plan::render::text(&judged.computed.plan);
    out.push('\n');
    out.push_str(&v.text());
    super::out::stdout(&out)?;
    if !args.no_status {
        status::report(&client, &judged.pull.head.sha, v)?;
    }
    Ok(if v.approved {
        Exit::Success
    } else {
        Exit::Findings
    })
}
