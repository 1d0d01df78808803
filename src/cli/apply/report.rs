//! How `apply` (and `reconcile`) end: the exit code, and a refusal said on stderr.

use anyhow::{Result, anyhow};

use crate::cli::Exit;
use crate::cli::applier::Refusal;

/// Exit 2 when a target or GitHub failed, 1 when something was refused or held back.
pub(crate) fn finish(failures: Vec<String>, refused: bool) -> Result<Exit> {
    if !failures.is_empty() {
        let shown: Vec<&str> = failures.iter().take(5).map(String::as_str).collect();
        let more = if failures.len() > 5 {
            format!(" and {} more", failures.len() - 5)
        } else {
            String::new()
        };
        return Err(anyhow!(
            "{} (details above): {}{more}\nhint: everything else was done and recorded; the next run retries what failed",
            portcullis_core::diag::render::text::counted(failures.len(), "failure"),
            shown.join("; ")
        ));
    }
    Ok(if refused {
        Exit::Findings
    } else {
        Exit::Success
    })
}

pub(crate) fn refuse(r: Refusal) -> Result<Exit> {
    eprintln!("refused: {}", r.0);
    Ok(Exit::Findings)
}
