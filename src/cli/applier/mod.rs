//! What `apply` and `reconcile --fix` share at the edge: the wall clock, the target systems
//! with their secrets, the run's identity, and who portcullis is by the checkout's settings.

use anyhow::Result;
use chrono::Utc;
use git2::Repository;

mod backends;
mod chain;
mod issues;

pub use backends::LocalTargets;
pub use chain::run_id;
pub use issues::bot_login_at;
pub use portcullis_core::apply::run::Loaded;

/// Evidence times are when things happened: the wall clock, not `--as-of` (which only judges
/// expiry).
pub fn now() -> String {
    portcullis_core::audit::stamp(Utc::now())
}

/// A refusal: printed, and the command exits 1.
pub struct Refusal(pub String);

/// Loads a commit as apply provisions it (see [`portcullis_core::apply::run::load`]).
pub fn load_at(repo: &Repository, sha: &str) -> Result<Result<Loaded, Refusal>> {
    Ok(
        portcullis_core::apply::run::load(&portcullis_git::port::GitRepo(repo), sha)?
            .map_err(Refusal),
    )
}
