//! The one integration-test binary (one link, many modules).

mod support;

mod cli;
