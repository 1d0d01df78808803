//! The one integration-test binary (one link, many modules).

mod support;

mod base;
mod cli;
mod edit;
mod fuzz;
mod render;
mod request;
mod request_cli;
mod rules;
