//! Test doubles for the core's ports, so the flows that decide access run in-process in
//! milliseconds: [`MemRepo`] (commits, branches and trees in maps), [`MemGitHub`] (pull requests,
//! reviews, comments, statuses and teams, allowing what GitHub allows) and [`OrgBuilder`] (one
//! small organisation's files), [`MemLedger`] (apply's notes, state and journal). A contract test in the binary's suite holds [`MemGitHub`] and
//! the REST client against the HTTP fake to the same answers, so these doubles are no kinder than
//! GitHub.

mod github;
mod ledger;
mod org;
mod repo;

pub use github::MemGitHub;
pub use ledger::MemLedger;
pub use org::{OrgBuilder, ask, grants};
pub use repo::MemRepo;
