//! Edge: the command line. One file per command, its clap arguments beside its `run`.

// An edge: files, clock, environment and processes are its business (see clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod applier;
mod apply;
mod approvals;
mod audit;
mod bot_pr;
mod check;
mod codeowners;
mod comment;
mod doctor;
mod expire;
mod explain;
mod import;
mod init;
mod init_files;
mod keygen;
mod manual;
pub mod out;
mod people;
mod plan;
mod reconcile;
mod remind;
mod report;
mod request;
mod review;
mod timer;

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};

/// Access requests the GitOps way: grants as YAML, pull requests as requests, reviews as
/// approvals, git history as the audit trail.
#[derive(Parser)]
#[command(name = "portcullis", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Colour the findings: `auto` on a terminal unless `NO_COLOR` is set, `always` (for a
    /// pager such as `less -R`), or `never`
    #[arg(long, global = true, value_enum, default_value_t, value_name = "WHEN")]
    color: ColorWhen,
}

#[derive(Clone, Copy, Default, clap::ValueEnum)]
pub enum ColorWhen {
    #[default]
    Auto,
    Always,
    Never,
}

/// Set once from the command line, before any command runs.
static COLOR: std::sync::OnceLock<ColorWhen> = std::sync::OnceLock::new();

#[derive(Subcommand)]
enum Command {
    Check(check::Args),
    Apply(apply::Args),
    Approvals(approvals::Args),
    Audit(audit::Args),
    Comment(comment::Args),
    Doctor(doctor::Args),
    Codeowners(codeowners::Args),
    Explain(explain::Args),
    Import(import::Args),
    Init(init::Args),
    Keygen(keygen::Args),
    Expire(expire::Args),
    People(people::Args),
    Plan(plan::Args),
    Remind(remind::Args),
    Reconcile(reconcile::Args),
    Request(request::Args),
    Review(review::Args),
    Report(report::Args),
    #[command(hide = true)]
    Completions(manual::CompletionArgs),
    #[command(hide = true)]
    Man(manual::ManArgs),
}

/// `--format` of the commands that print either for people or for scripts.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TextOrJson {
    Text,
    Json,
}

/// What a command ended with; `main` maps it to the exit code.
#[derive(Debug, PartialEq, Eq)]
pub enum Exit {
    /// Exit 0.
    Success,
    /// Exit 1: error diagnostics, or a refused action.
    Findings,
}

/// Options every command that reads the repository takes.
#[derive(clap::Args, Clone)]
pub struct Common {
    /// The repository to read [default: the git work tree containing the current directory]
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Judge time as of this date (`YYYY-MM-DD`, 00:00:00Z) or RFC 3339 timestamp [default: now]
    #[arg(long, value_name = "DATE|TIMESTAMP")]
    as_of: Option<String>,
}

impl Common {
    /// Resolved once, against the current directory: every path derived from it (a `command`
    /// program run with the root as its working directory) is then absolute.
    fn root(&self) -> Result<PathBuf> {
        let root = match &self.root {
            Some(r) => std::path::absolute(r)
                .map_err(|e| anyhow!("cannot resolve `--root {}`: {e}", r.display()))?,
            None => {
                let cwd = std::env::current_dir()?;
                portcullis_git::git::discover_root(&cwd).unwrap_or(cwd)
            }
        };
        if !root.join("policies").is_dir() {
            return Err(anyhow!(
                "`{}` is not a portcullis repository: it has no `policies/` folder\nhint: run from the repository, or pass `--root DIR`",
                root.display()
            ));
        }
        Ok(root)
    }

    /// The only place the clock is read: when `--as-of` is not given.
    fn as_of(&self) -> Result<DateTime<Utc>> {
        match &self.as_of {
            None => Ok(Utc::now()),
            Some(text) => portcullis_core::model::time::parse_as_of(text)
                .map_err(|e| anyhow!("invalid `--as-of`: {e}\nhint: write `--as-of 2026-11-22` or `--as-of 2026-11-22T09:00:00Z`")),
        }
    }
}

pub fn run(cli: Cli) -> Result<Exit> {
    let _ = COLOR.set(cli.color);
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Apply(args) => apply::run(args),
        Command::Approvals(args) => approvals::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Comment(args) => comment::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Codeowners(args) => codeowners::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Import(args) => import::run(args),
        Command::Init(args) => init::run(args),
        Command::Keygen(args) => keygen::run(args),
        Command::Expire(args) => expire::run(args),
        Command::People(args) => people::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Remind(args) => remind::run(args),
        Command::Reconcile(args) => reconcile::run(args),
        Command::Request(args) => request::run(args),
        Command::Review(args) => review::run(args),
        Command::Report(args) => report::run(args),
        Command::Completions(args) => manual::completions(args),
        Command::Man(args) => manual::man(args),
    }
}

/// `--color`; by default colour only on a terminal, and never with `NO_COLOR` set.
fn use_color(stream_is_terminal: bool) -> bool {
    match COLOR.get().copied().unwrap_or_default() {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => {
            stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text).map_err(|e| anyhow!("cannot write `{}`: {e}", path.display()))
}
