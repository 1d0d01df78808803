//! `remind [--format json] [--dry-run]`: grants expiring within `warn_days`, listed, and one
//! comment a day per owner group on that group's tracking issue.

use anyhow::Result;

use super::TextOrJson as Format;
use super::comment::author;
use super::{Common, Exit};
use portcullis_core::lifecycle::remind;
use portcullis_github::Client;

/// Remind owners and holders of grants expiring within `warn_days`: one tracking issue per
/// owner group, one comment a day mentioning the owners and each person (never twice a day)
#[derive(clap::Args)]
#[command(after_help = "Examples:
  portcullis remind --dry-run    the grants expiring soon, grouped by owner
  portcullis remind              one comment a day to each owner group")]
pub struct Args {
    #[command(flatten)]
    common: Common,
    /// Output format of the list (JSON for other channels: chat, email)
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// List only; post nothing to GitHub
    #[arg(long)]
    dry_run: bool,
}

pub fn run(args: Args) -> Result<Exit> {
    let root = args.common.root()?;
    let as_of = args.common.as_of()?;
    let date = as_of.date_naive();
    let snapshot = portcullis_git::worktree::read(&root)?;
    let loaded = portcullis_core::check::load(&snapshot);
    let (catalog, report) =
        portcullis_core::check::finish(loaded, &snapshot, as_of, &Default::default());
    let expiring = remind::find(&catalog, &report);
    let groups = remind::group(&expiring);
    let mut notified = Vec::new();
    if !args.dry_run && !groups.is_empty() {
        let client = Client::from_env()?;
        for group in &groups {
            let (issue, status) =
                remind::notify(&client, &catalog, group, date, author().as_deref())?;
            eprintln!("{}: #{issue} {status}", group.key());
            notified.push(serde_json::json!({
                "owners": group.owners, "issue": issue, "status": status,
            }));
        }
    }
    let out = match args.format {
        Format::Text => {
            let mut out = String::new();
            for e in &expiring {
                out.push_str(&format!(
                    "{}:{}: `{}:{}` of `{}` expires {} (owners {})\n",
                    e.file,
                    e.line,
                    e.app,
                    e.role,
                    e.person,
                    e.expires,
                    e.owners.join(" ")
                ));
            }
            if expiring.is_empty() {
                eprintln!("nothing expires within `warn_days`");
            }
            out
        }
        Format::Json => {
            let mut text = serde_json::to_string_pretty(&serde_json::json!({
                "as_of": date.to_string(),
                "expiring": expiring,
                "notifications": notified,
            }))?;
            text.push('\n');
            text
        }
    };
    super::out::stdout(&out)?;
    Ok(Exit::Success)
}
