use anyhow::Result;

use super::{Common, Exit};
use portcullis_core::approval::pull::{STATUS_CONTEXT, judge};
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
        // Only our own status marks the head as seen: a writer's early one must not stop us
        // from setting ours (it would then count as nothing, and so would the overrides).
        let me = super::applier::bot_login_at(&root);
        let seen = client
            .statuses(&head)?
            .iter()
            .any(|s| s.context == STATUS_CONTEXT && me.as_deref().is_some_and(|me| s.is_by(me)));
        if !seen {
            client.create_status(&head, "pending", STATUS_CONTEXT, "judging approvals")?;
        }
    }
    let judged = match judge(&client, &GitRepo(&repo), args.pr, as_of) {
        Ok(j) => j,
        Err(e) => {
            // The pending status set above must not stay pending: it ends as `error`, naming
            // the failure (GitHub keeps 140 characters).
            if !args.no_status
                && let Ok(pull) = client.pull(args.pr)
            {
                let why: String = format!("portcullis failed: {e:#}")
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(140)
                    .collect();
                let _ = client.create_status(&pull.head.sha, "error", STATUS_CONTEXT, &why);
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
        let state = if v.approved { "success" } else { "failure" };
        client.create_status(
            &judged.pull.head.sha,
            state,
            STATUS_CONTEXT,
            &v.status_description(),
        )?;
    }
    Ok(if v.approved {
        Exit::Success
    } else {
        Exit::Findings
    })
}
