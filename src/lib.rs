//! portcullis: access grants as YAML in git, checked on every pull request.
//!
//! The data flow of `check`:
//! `worktree`/`git` read a [`snapshot::Snapshot`] -> [`load`] parses it strictly into a
//! [`model::Catalog`] plus diagnostics -> [`rules`] add the findings of SPEC section 4 ->
//! [`baseline`] marks what a change did not touch -> a [`diag::render`] format prints it.
//!
//! The data flow of `audit` and `report`:
//! [`history`] walks the branch's first-parent history (parsing each changed grant file with
//! [`load`]) and reads the notes -> [`audit::Index`] builds every grant's versions and spans,
//! [`evidence`] verifies the notes' hash chain -> [`audit`] answers holders at T, the timeline
//! and the evidence pack, or [`report`] renders the site.

// -- core: no I/O, no clock --
pub mod approval;
pub mod audit;
pub mod baseline;
pub mod check;
pub mod codeowners;
pub mod comment;
pub mod diag;
pub mod evidence;
pub mod load;
pub mod model;
pub mod plan;
pub mod report;
pub mod rules;
pub mod snapshot;

// -- edges: files, git, GitHub, terminal --
pub mod cli;
pub mod git;
pub mod github;
pub mod history;
pub mod revision;
pub mod worktree;
