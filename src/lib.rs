//! portcullis: access grants as YAML in git, checked on every pull request.
//!
//! This crate is the command line: each command parses its arguments, builds what it needs from
//! the edge crates (`portcullis-git`, `portcullis-github`, `portcullis-provisioners`), calls
//! `portcullis-core` and renders the result. The data flows are described in the core's crate
//! documentation.

// Every `print!` and `eprint!` of the crate goes through `cli::out`, which defuses lines that
// would start a GitHub Actions workflow command; these shadow the standard macros crate-wide.
macro_rules! print {
    ($($t:tt)*) => {{ let _ = $crate::cli::out::stdout(&format!($($t)*)); }};
}
macro_rules! println {
    () => {{ let _ = $crate::cli::out::stdout("\n"); }};
    ($($t:tt)*) => {{ let _ = $crate::cli::out::stdout(&format!("{}\n", format_args!($($t)*))); }};
}
macro_rules! eprint {
    ($($t:tt)*) => {{ let _ = $crate::cli::out::stderr(&format!($($t)*)); }};
}
macro_rules! eprintln {
    () => {{ let _ = $crate::cli::out::stderr("\n"); }};
    ($($t:tt)*) => {{ let _ = $crate::cli::out::stderr(&format!("{}\n", format_args!($($t)*))); }};
}

pub mod cli;
