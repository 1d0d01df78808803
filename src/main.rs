use std::process::ExitCode;

use clap::Parser;
use portcullis::cli::{Cli, Exit, run};

/// The one exit mapping: 0 success, 1 findings or refused, 2 usage or failure.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(cli) {
        Ok(Exit::Success) => ExitCode::SUCCESS,
        Ok(Exit::Findings) => ExitCode::from(1),
        Err(e) => {
            let _ = portcullis::cli::out::stderr(&format!("error: {e:#}\n"));
            ExitCode::from(2)
        }
    }
}
