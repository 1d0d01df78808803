//! The one integration-test binary (one link, many modules).

mod support;

mod base;
mod cli;
mod fuzz;
mod provisioner;
mod render;
mod rules;
mod services;
