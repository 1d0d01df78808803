//! The one integration-test binary (one link, many modules).

// Tests drive files, processes and servers: the core's restrictions (clippy.toml) are not theirs.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod fake_github;
mod support;

mod action;
mod alarms;
mod apply;
mod apply_bench;
mod apply_run;
mod approval;
mod attacks;
mod audit;
mod base;
mod cli;
mod comment;
mod contract;
mod crate_graph;
mod doctor;
mod edit;
mod fuzz;
mod gate_status;
mod github;
mod import;
mod init;
mod ledger_trust;
mod lifecycle;
mod messages;
mod pr_flow;
mod proposals;
mod provisioner;
mod provisioner_github;
mod reach;
mod render;
mod report;
mod request;
mod request_cli;
mod resume;
mod rules;
mod schema_fast;
mod services;
mod shapes;
mod status;
mod sticky;
mod threats;
mod tutorial;
mod walker;
mod workflows;
mod worktree;
mod yaml_fast;
