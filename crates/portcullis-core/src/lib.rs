//! The core of portcullis: files in, findings, plans, verdicts, operations and records out.
//!
//! This crate does no I/O. It depends on no git, HTTP, database, LDAP, process or async-runtime
//! crate, so it cannot reach one even by accident: what the application needs from the world
//! comes in as data (a [`snapshot::Snapshot`], the reviews, the time) or through a trait it
//! declares: [`ports::Repo`], [`ports::github::GitHub`], [`provision::backend::Provisioner`].
//! The edges are other crates, and `portcullis-testkit` implements the ports in memory:
//! `portcullis-git` (revisions, the work tree, history, the ledger), `portcullis-github` (the REST
//! client), `portcullis-provisioners` (the real target systems), and the `portcullis` binary.
//!
//! The data flow of `check`:
//! the git edge reads a [`snapshot::Snapshot`] -> [`load`] parses it strictly into a
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
//! `apply`: [`verify`] checks every commit since the last applied one against the GitHub API
//! (pull request, approvals on the merged head with the base's policies) -> [`apply`] carries
//! the quarantine, attributes operations and drafts the issues and evidence -> [`provision`]
//! computes the desired state (expiry, SoD), plans operations with the guards, and runs
//! them through [`provision::backend::Provisioner`]s with a journal -> the ledger (git edge)
//! records evidence notes ([`evidence`]) and the applied state.
//!
//! The data flow of `audit` and `report`:
//! the git edge walks the branch's first-parent history (parsing each changed grant file with
//! [`load`]) and reads the notes -> [`audit::Index`] builds every grant's versions and spans,
//! [`evidence`] verifies the notes' hash chain -> [`audit`] answers holders at T, the timeline
//! and the evidence pack, or [`report`] renders the site.

pub mod apply;
pub mod approval;
pub mod audit;
pub mod baseline;
pub mod check;
pub mod codeowners;
pub mod comment;
pub mod diag;
pub mod edit;
pub mod evidence;
pub mod ledger;
pub mod lifecycle;
pub mod load;
pub mod model;
pub mod owed;
pub mod plan;
pub mod ports;
pub mod provision;
pub mod reach;
pub mod report;
pub mod request;
pub mod rules;
pub mod scope;
pub mod signing;
pub mod snapshot;
pub mod verify;
