use anyhow::Result;

use super::{Common, Exit, write_file};
use portcullis_core::model::CODEOWNERS_FILE;

/// Print the CODEOWNERS generated from the catalog (or write it, or check it)
#[derive(clap::Args)]
#[command(after_help = "Examples:
  portcullis codeowners            print the CODEOWNERS the catalog implies
  portcullis codeowners --check    exit 1 with a diff when the file has drifted
  portcullis codeowners --write    write .github/CODEOWNERS")]
pub struct Args {
    #[command(flatten)]
    common: Common,
    /// Write `.github/CODEOWNERS`
    #[arg(long, conflicts_with = "check")]
    write: bool,
    /// Exit 1 and print a diff when `.github/CODEOWNERS` differs from the generated one
    #[arg(long)]
    check: bool,
}

pub fn run(args: Args) -> Result<Exit> {
    let root = args.common.root()?;
    let snapshot = portcullis_git::worktree::read(&root)?;
    let loaded = portcullis_core::check::load(&snapshot);
    if loaded.catalog.settings.is_none() {
        anyhow::bail!(
            "cannot generate CODEOWNERS: `policies/settings.yaml` did not load\nhint: run `portcullis check` to see why"
        );
    }
    if let Some(app) = loaded.catalog.broken_apps.iter().next() {
        // Generating without it would route its files to nobody but the security team.
        anyhow::bail!(
            "cannot generate CODEOWNERS: `policies/apps/{app}.yaml` does not load, and its owners would be left out\nhint: run `portcullis check` and fix the file first"
        );
    }
    let generated = portcullis_core::codeowners::generate(&loaded.catalog);
    if args.write {
        write_file(&root.join(CODEOWNERS_FILE), &generated)?;
        eprintln!(
            "wrote {CODEOWNERS_FILE} ({} apps)",
            loaded.catalog.apps.len()
        );
        return Ok(Exit::Success);
    }
    if args.check {
        let current = snapshot.text(CODEOWNERS_FILE).unwrap_or("");
        let diff = portcullis_core::codeowners::diff(current, &generated);
        if diff.is_empty() {
            eprintln!("{CODEOWNERS_FILE} is up to date");
            return Ok(Exit::Success);
        }
        print!("{diff}");
        eprintln!(
            "error: {CODEOWNERS_FILE} differs from the catalog\nhint: run `portcullis codeowners --write`"
        );
        return Ok(Exit::Findings);
    }
    print!("{generated}");
    Ok(Exit::Success)
}
