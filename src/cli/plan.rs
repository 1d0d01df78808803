use anyhow::Result;
use clap::ValueEnum;

use super::{Common, Exit};
use portcullis_core::plan::{self, compute::Revs};
use portcullis_core::ports::{Paths, Repo};
use portcullis_git::port::GitRepo;
use portcullis_git::revision::Revision;

/// Show the grant-level change between two revisions, with approvals needed and insights
#[derive(clap::Args)]
#[command(after_help = "Examples:
  portcullis plan --base origin/main             what this branch grants, changes and removes
  portcullis plan --base main --head HEAD -f markdown   as the pull request comment shows it")]
pub struct Args {
    #[command(flatten)]
    common: Common,
    /// The revision the change starts from (its policies judge the change)
    #[arg(long, value_name = "REV")]
    base: String,
    /// The revision the change ends at [default: the work tree]
    #[arg(long, value_name = "REV")]
    head: Option<String>,
    /// Output format
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
    Markdown,
}

pub fn run(args: Args) -> Result<Exit> {
    let root = args.common.root()?;
    let as_of = args.common.as_of()?;
    let repo = portcullis_git::git::open(&root)?;
    let port = GitRepo(&repo);
    let mut timer = super::timer::Timer::from_env();
    let (head, paths) = match &args.head {
        Some(rev) => (
            Revision::at(&repo, rev)?,
            port.changed_paths(&args.base, rev, Paths::Governed)?,
        ),
        None => (
            Revision::WorkTree(root.clone()),
            portcullis_git::git::change_since(&repo, &args.base)?.paths,
        ),
    };
    timer.lap("diff");
    let revs = Revs {
        base: &args.base,
        policies: &args.base,
    };
    let computed = plan::compute::compute(&port, revs, &head, paths, as_of, &mut |p| timer.lap(p))?;
    let out = match args.format {
        Format::Text => plan::render::text(&computed.plan),
        Format::Json => plan::render::json(&computed.plan),
        Format::Markdown => plan::render::markdown(&computed.plan),
    };
    super::out::stdout(&out)?;
    Ok(Exit::Success)
}
