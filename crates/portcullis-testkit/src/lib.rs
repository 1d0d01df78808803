//! Test doubles for the core's ports, so the flows that decide access run in-process in
//! milliseconds: [`MemRepo`] (commits, branches and trees in maps), [`MemGitHub`] (pull requests,
//! reviews, comments, statuses and teams, allowing what GitHub allows) and [`OrgBuilder`] (one
//! small organisation's files). A contract test in the binary's suite holds [`MemGitHub`] and
//! the REST client against the HTTP fake to the same answers, so these doubles are no kinder than
//! GitHub.

mod github;
mod org;
mod repo;

pub use github::MemGitHub;
pub use org::{OrgBuilder, grants};
pub use repo::MemRepo;
