//! `completions SHELL` and `man`: what a release ships beside the binary, generated from the
//! command line's own definitions. Hidden: packagers run them, users read their output.

use std::io::Write as _;

use anyhow::Result;
use clap::CommandFactory;

use super::{Cli, Exit};

/// Print the completion script for a shell
#[derive(clap::Args)]
pub struct CompletionArgs {
    shell: clap_complete::Shell,
}

/// Print the man page (roff)
#[derive(clap::Args)]
pub struct ManArgs {}

pub fn completions(args: CompletionArgs) -> Result<Exit> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command, "portcullis", &mut out);
    super::out::stdout_raw(&String::from_utf8_lossy(&out))?;
    Ok(Exit::Success)
}

pub fn man(_args: ManArgs) -> Result<Exit> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    std::io::stdout().lock().write_all(&out)?;
    Ok(Exit::Success)
}
