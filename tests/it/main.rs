//! The one integration-test binary (one link, many modules).

mod fake_github;
mod support;

mod apply;
mod approval;
mod base;
mod cli;
mod comment;
mod edit;
mod fuzz;
mod github;
mod pr_flow;
mod provisioner;
mod provisioner_github;
mod render;
mod request;
mod request_cli;
mod rules;
mod services;
mod workflows;
