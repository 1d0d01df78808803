use anyhow::{Result, anyhow};

use super::Exit;
use portcullis_core::diag::Rule;

/// Explain a rule: what it means, why it exists, an example, and the fix
#[derive(clap::Args)]
#[command(after_help = "Examples:
  portcullis explain --list          every rule id and its severity
  portcullis explain sod-conflict    what it means, why, an example and the fix")]
pub struct Args {
    /// The rule id, e.g. `expired`; `--list` prints them all
    #[arg(required_unless_present = "list")]
    rule: Option<String>,
    /// List every rule id with its severity
    #[arg(long)]
    list: bool,
}

pub fn run(args: Args) -> Result<Exit> {
    if args.list {
        for r in Rule::ALL {
            println!("{:<24} {}", r.id(), r.default_severity().as_str());
        }
        return Ok(Exit::Success);
    }
    let id = args.rule.unwrap_or_default();
    let rule = Rule::from_id(&id).ok_or_else(|| {
        anyhow!(
            "unknown rule `{id}`\nhint: {}",
            portcullis_core::diag::suggest::hint(
                &id,
                Rule::ALL.iter().map(|r| r.id()),
                "`portcullis explain --list` prints every rule id"
            )
        )
    })?;
    print!("{}", rule.doc());
    Ok(Exit::Success)
}
