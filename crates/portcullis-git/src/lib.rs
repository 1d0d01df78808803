//! The git edge: revisions and the work tree read into snapshots, the branch's history for
//! `audit`, and the ledger (applied state and evidence notes under `refs/`), through libgit2 and
//! direct system calls. Everything it reads is handed to `portcullis-core` as data.

pub mod git;
pub mod history;
pub mod ledger;
pub mod port;
pub mod revision;
pub mod status;
mod treediff;
pub mod worktree;
