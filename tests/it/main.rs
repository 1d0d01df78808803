//! The one integration-test binary (one link, many modules).

mod fake_github;
mod support;

mod approval;
mod audit;
mod base;
mod cli;
mod comment;
mod fuzz;
mod github;
mod pr_flow;
mod render;
mod report;
mod rules;
mod workflows;
