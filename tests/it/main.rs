//! The one integration-test binary (one link, many modules).

mod support;

mod approval;
mod base;
mod cli;
mod comment;
mod fuzz;
mod render;
mod rules;
mod workflows;
