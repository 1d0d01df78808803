//! The command line as data: each `tests/cmd/*.toml` runs the binary with its arguments and
//! holds its exit code, stdout and stderr to the files beside it; each `tests/cmd/*.trycmd`
//! runs a session of commands in the folder `<name>.in` beside it. `TRYCMD=overwrite cargo test
//! --test cli_cases` rewrites them after a deliberate change of wording.

#[test]
fn cli_cases() {
    trycmd::TestCases::new()
        .case("tests/cmd/*.toml")
        .case("tests/cmd/*.trycmd");
}
