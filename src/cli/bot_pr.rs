//! The lifecycle commands' proposals (the flow is the core's, `lifecycle::propose`): what is
//! printed once one is made.

pub use portcullis_core::lifecycle::propose::{
    Proposal, Proposed, base_sha, close, find_open, refresh,
};

use anyhow::Result;
use portcullis_core::ports::github::Proposals;

/// Proposes the change (see [`portcullis_core::lifecycle::propose::propose`]); a warning about
/// reviewers goes to stderr.
pub fn propose(
    github: &dyn Proposals,
    base: &str,
    base_sha: &str,
    p: &Proposal,
) -> Result<Proposed> {
    let (proposed, warning) =
        portcullis_core::lifecycle::propose::propose(github, base, base_sha, p)?;
    if let Some(w) = warning {
        eprintln!("{w}");
    }
    Ok(proposed)
}

/// Asks the owners for a review; a refusal is reported on stderr.
pub fn request_reviews(github: &dyn Proposals, number: u64, owners: &[String]) {
    if let Some(w) = portcullis_core::lifecycle::propose::request_reviews(github, number, owners) {
        eprintln!("{w}");
    }
}

/// Says what was done on stderr and prints the pull request's address on stdout, for the
/// workflow's log and for scripts.
pub fn report(proposed: &Proposed, title: &str) {
    let did = match proposed {
        Proposed::Opened(_) => "opened",
        Proposed::Updated(_) => "updated",
    };
    eprintln!("{did} #{}: {title}", proposed.pull().number);
    println!("{}", proposed.pull().html_url);
}
