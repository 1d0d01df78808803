use std::io::{IsTerminal, Write};
use std::panic::resume_unwind;
use std::sync::OnceLock;

use anyhow::{Context, Result};
use clap::ValueEnum;

use super::timer::Timer;
use super::{Common, Exit, use_color};
use portcullis_core::diag::render::{self, text::Style};
use portcullis_core::model::PEOPLE_FILE;
use portcullis_core::snapshot::{Entry, GOVERNED_DIRS, Snapshot};
use portcullis_git::revision::{Revision, Source};

/// Check every rule over the repository
#[derive(clap::Args)]
#[command(after_help = "Examples:
  portcullis check                         every rule over the work tree
  portcullis check --base origin/main      fail only on what this branch changes
  portcullis check -f sarif > check.sarif  for GitHub code scanning
  portcullis explain expiry-too-long       what a finding means and how to fix it")]
pub struct Args {
    #[command(flatten)]
    common: Common,
    /// Fail only on what changed since this revision; older findings print as pre-existing
    #[arg(long, value_name = "REV")]
    base: Option<String>,
    /// With --base: the revision the change ends at, read from git instead of the work tree
    /// (what CI checks: no file of the work tree is read or compared)
    #[arg(long, value_name = "REV", requires = "base")]
    head: Option<String>,
    /// With --base: read the whole tree and print every pre-existing finding, instead of only
    /// what the change reaches
    #[arg(long, requires = "base")]
    full: bool,
    /// Output format
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
    Github,
    Sarif,
    Markdown,
}

pub fn run(args: Args) -> Result<Exit> {
    let root = args.common.root()?;
    let as_of = args.common.as_of()?;
    let mut timer = Timer::from_env();
    let repo = portcullis_git::git::open(&root).ok();
    let head = match (&args.head, &repo) {
        (Some(rev), Some(repo)) => Revision::at(repo, rev)?,
        _ => Revision::WorkTree(root.clone()),
    };
    timer.lap("open");
    let directory = std::sync::OnceLock::new();
    let (change, reached) = std::thread::scope(|s| -> Result<_> {
        // With `--base`, the directory is read and cut up on the other core while the change
        // is worked out; most changes need only a few of its entries.
        let scan = (args.base.is_some() && !args.full).then(|| {
            let source = head.source();
            s.spawn(|| scan_directory(&directory, source))
        });
        // With `--base`, only what the change reaches is read, unless it reaches everything.
        let change = match &args.base {
            Some(base) => {
                let repo = repo.as_ref().context("`--base` needs a git repository")?;
                let change = match &head {
                    Revision::Tree { tree, .. } => {
                        portcullis_git::git::change_between(repo, base, tree)?
                    }
                    Revision::WorkTree(_) => portcullis_git::git::change_since(repo, base)?,
                };
                timer.lap("diff");
                Some(change)
            }
            None => None,
        };
        let reached = match (&change, &repo) {
            (Some(change), Some(repo)) if !args.full => {
                let scan: Option<portcullis_core::reach::DirectoryScan> = scan.map(|handle| {
                    Box::new(move || handle.join().unwrap_or_else(|e| resume_unwind(e))) as _
                });
                let history = |paths: &[&str]| {
                    portcullis_git::git::last_touched_from(repo, args.head.as_deref(), paths)
                };
                portcullis_core::reach::check(&head, change, scan, &history, as_of, &mut |p| {
                    timer.lap(p)
                })?
            }
            _ => None,
        };
        Ok((change, reached))
    })?;
    let (snapshot, report) = match reached {
        Some(done) => done,
        None => {
            let snapshot = match &head {
                Revision::WorkTree(_) => portcullis_git::worktree::read(&root)?,
                Revision::Tree { .. } => {
                    let mut all = Snapshot::default();
                    for dir in GOVERNED_DIRS {
                        all.files.extend(head.read_dir(dir)?.files);
                    }
                    all
                }
            };
            timer.lap("read");
            let loaded = portcullis_core::check::load(&snapshot);
            timer.lap("load");
            let needs = portcullis_core::rules::files_needing_history(&loaded.catalog);
            let last_touched = match &repo {
                Some(repo) => {
                    portcullis_git::git::last_touched_from(repo, args.head.as_deref(), &needs)?
                }
                None => Default::default(),
            };
            timer.lap("history");
            let (catalog, mut report) =
                portcullis_core::check::finish(loaded, &snapshot, as_of, &last_touched);
            timer.lap("rules");
            if let Some(change) = &change {
                portcullis_core::baseline::mark(
                    &mut report.diagnostics,
                    &catalog,
                    &snapshot,
                    change,
                );
                timer.lap("base");
            }
            // The process ends soon after: freeing 100,000 grant files one by one took 60 ms.
            std::mem::forget(catalog);
            (snapshot, report)
        }
    };
    let out = match args.format {
        Format::Text => render::text::render(
            &report,
            &snapshot,
            Style {
                color: use_color(std::io::stdout().is_terminal()),
            },
        ),
        Format::Json => render::json::render(&report),
        Format::Sarif => render::sarif::render(&report),
        Format::Markdown => render::markdown::render(&report),
        Format::Github => {
            if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") {
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(&path)
                    .with_context(|| {
                        format!(
                            "cannot write the job summary to `{}`",
                            path.to_string_lossy()
                        )
                    })?;
                f.write_all(render::github::summary(&report).as_bytes())?;
            }
            render::github::render(&report)
        }
    };
    // The github format's annotations escape their content (`%0A` for a line end), so each
    // of its lines starts with a command portcullis wrote; every other format is defused.
    if matches!(args.format, Format::Github) {
        super::out::stdout_raw(&out)?;
    } else {
        super::out::stdout(&out)?;
    }
    // As the catalog: the files are freed with the process, not one by one.
    std::mem::forget(snapshot);
    Ok(if report.failed() {
        Exit::Findings
    } else {
        Exit::Success
    })
}

/// The head's directory, kept in `cell`, cut into its entries; `None` when it cannot be read
/// or is not plainly a list (the core then reads it itself and reports why).
fn scan_directory(
    cell: &OnceLock<Option<Entry>>,
    source: Source,
) -> Option<portcullis_core::load::directory::Entries<'_>> {
    let entry = cell.get_or_init(|| source.read(PEOPLE_FILE).ok().flatten());
    match entry {
        Some(Entry::File(bytes)) => {
            portcullis_core::load::directory::scan(std::str::from_utf8(bytes).ok()?)
        }
        _ => None,
    }
}
