//! The one integration-test binary (one link, many modules).

mod support;

mod approval;
mod base;
mod cli;
mod fuzz;
mod render;
mod rules;
