//! The one integration-test binary (one link, many modules).

mod fake_github;
mod support;

mod base;
mod cli;
mod fuzz;
mod github;
mod render;
mod rules;
