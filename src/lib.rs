//! portcullis: access grants as YAML in git, checked on every pull request.
//!
//! The data flow of `check`:
//! `worktree`/`git` read a [`snapshot::Snapshot`] -> [`load`] parses it strictly into a
//! [`model::Catalog`] plus diagnostics -> [`rules`] add the findings of SPEC section 4 ->
//! [`baseline`] marks what a change did not touch -> a [`diag::render`] format prints it.
//!
//! `request`: [`request::prepare`] checks the request against the catalog, [`edit`] writes the
//! grant into its file keeping every comment, and [`check`] runs over the tree with that file
//! replaced; the CLI writes it only when `check` has no error about it.
//!
//! The lifecycle (`expire`, `remind`, `review`, `people sync`): [`lifecycle`] reads what is due
//! from `check`'s findings, edits the files with [`edit`], and checks the edited tree; the CLI
//! proposes the result as one pull request per purpose.
//!
//! `apply`: `cli/verify` checks every commit since the last applied one against the GitHub API
//! (pull request, approvals on the merged head with the base's policies) -> [`provision`]
//! computes the desired state (quarantine, expiry), plans operations with the guards, and runs
//! them through [`provisioner`] backends with a journal -> [`ledger`] records evidence notes
//! ([`evidence`]) and the applied state.
//!
//! The data flow of `audit` and `report`:
//! [`history`] walks the branch's first-parent history (parsing each changed grant file with
//! [`load`]) and reads the notes -> [`audit::Index`] builds every grant's versions and spans,
//! [`evidence`] verifies the notes' hash chain -> [`audit`] answers holders at T, the timeline
//! and the evidence pack, or [`report`] renders the site.

// Every `print!` and `eprint!` of the crate goes through `cli::out`, which defuses lines that
// would start a GitHub Actions workflow command; these shadow the standard macros crate-wide.
macro_rules! print {
    ($($t:tt)*) => {{ let _ = $crate::cli::out::stdout(&format!($($t)*)); }};
}
macro_rules! println {
    () => {{ let _ = $crate::cli::out::stdout("\n"); }};
    ($($t:tt)*) => {{ let _ = $crate::cli::out::stdout(&format!("{}\n", format_args!($($t)*))); }};
}
macro_rules! eprint {
    ($($t:tt)*) => {{ let _ = $crate::cli::out::stderr(&format!($($t)*)); }};
}
macro_rules! eprintln {
    () => {{ let _ = $crate::cli::out::stderr("\n"); }};
    ($($t:tt)*) => {{ let _ = $crate::cli::out::stderr(&format!("{}\n", format_args!($($t)*))); }};
}

// -- core: no I/O, no clock --
pub mod approval;
pub mod audit;
pub mod baseline;
pub mod check;
pub mod codeowners;
pub mod comment;
pub mod diag;
pub mod edit;
pub mod evidence;
pub mod gitindex;
pub mod lifecycle;
pub mod load;
pub mod model;
pub mod plan;
pub mod provision;
pub mod report;
pub mod request;
pub mod rules;
pub mod scope;
pub mod signing;
pub mod snapshot;

// -- edges: files, git, GitHub, terminal --
pub mod cli;
pub mod git;
pub mod github;
pub mod history;
pub mod ledger;
pub mod provisioner;
pub mod revision;
pub mod workdiff;
pub mod worktree;
