use std::path::PathBuf;

use anyhow::{Context, Result};
use rayon::prelude::*;

use super::audit::{Sources, read_sources};
use super::{Common, Exit};
use portcullis_git::port::GitRepo;

/// Write a static HTML site of who has access to what: an overview, a page per app and per
/// person, recent changes and charts (works from `file://` and any static host)
#[derive(clap::Args)]
#[command(after_help = "Examples:
  portcullis report --out site     write the HTML site into `site/`")]
pub struct Args {
    #[command(flatten)]
    common: Common,
    /// The folder to write the site to (created if missing; files of an earlier site are
    /// overwritten, others left alone)
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The branch to read
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    rev: String,
}

pub fn run(args: Args) -> Result<Exit> {
    let root = args.common.root()?;
    let as_of = args.common.as_of()?;
    let repo = portcullis_git::git::open(&root)?;
    let Sources { index, notes } = read_sources(&repo, &args.rev)?;
    let mut timer = super::timer::Timer::from_env();
    let (catalog, findings, sha) =
        portcullis_core::audit::period::branch_at(&GitRepo(&repo), &index, as_of)?;
    timer.lap("branch at as-of loaded and checked");
    let pages = portcullis_core::report::site(&portcullis_core::report::Input {
        catalog: &catalog,
        findings: &findings,
        index: &index,
        notes: &notes,
        as_of,
        commit: Some(&sha),
    });
    timer.lap("pages rendered");
    let mut dirs: Vec<PathBuf> = pages
        .iter()
        .filter_map(|p| args.out.join(&p.path).parent().map(PathBuf::from))
        .collect();
    dirs.sort();
    dirs.dedup();
    for d in &dirs {
        std::fs::create_dir_all(d).with_context(|| format!("cannot create `{}`", d.display()))?;
    }
    pages.par_iter().try_for_each(|p| {
        let path = args.out.join(&p.path);
        std::fs::write(&path, &p.html).with_context(|| format!("cannot write `{}`", path.display()))
    })?;
    timer.lap("pages written");
    let written = pages.len();
    // Freeing millions of small allocations one by one only delays the exit.
    std::mem::forget(index);
    std::mem::forget(notes);
    std::mem::forget(pages);
    std::mem::forget(catalog);
    eprintln!(
        "wrote {} files to `{}`; open `{}`",
        written,
        args.out.display(),
        args.out.join("index.html").display()
    );
    Ok(Exit::Success)
}
