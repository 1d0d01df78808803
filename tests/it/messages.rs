//! First contact: what a newcomer's slips print, as data. Each case edits one file of the
//! example organisation (or none), runs one command through the binary, and holds the exit
//! code and the words that must (and must not) appear. A case is a message someone relies on
//! to fix their file without asking anyone.

use std::path::Path;
use std::process::Command;

struct Case {
    name: &'static str,
    /// `(file, from, to)`: the first `from` in `file` becomes `to`.
    edit: Option<(&'static str, &'static str, &'static str)>,
    args: &'static [&'static str],
    exit: i32,
    says: &'static [&'static str],
    never: &'static [&'static str],
}

const AISHA: &str = "access/aws-prod/aisha.yaml";

const CASES: &[Case] = &[
    Case {
        name: "a tab indenting a line is named on that line",
        edit: Some((AISHA, "    expires: 2027-02-12", "\texpires: 2027-02-12")),
        args: &["check"],
        exit: 1,
        says: &[
            "error[yaml-syntax]: line 7 is indented with a tab; YAML indents with spaces only",
            "--> access/aws-prod/aisha.yaml:7:1",
            "hint: replace the tab with spaces",
        ],
        never: &["6:20", "plain scalar"],
    },
    Case {
        name: "a tab after a colon is named as such",
        edit: Some((AISHA, "expires: 2027-02-12", "expires:\t2027-02-12")),
        args: &["check"],
        exit: 1,
        says: &[
            "a tab follows `expires:` on line 7; YAML wants a space after the colon",
            "aisha.yaml:7:13",
        ],
        never: &["valid YAML whitespace"],
    },
    Case {
        name: "an over-indented key says where it should start",
        edit: Some((AISHA, "    ticket: PLAT-802", "      ticket: PLAT-802")),
        args: &["check"],
        exit: 1,
        says: &[
            "`ticket:` on line 8 is indented by 6 spaces",
            "hint: indent it by 4 spaces to line it up with `expires:` on line 7",
        ],
        never: &["mapping values are not allowed"],
    },
    Case {
        name: "a colon inside a value suggests quotes",
        edit: Some((
            AISHA,
            "justification: Operates the EKS clusters",
            "justification: Note: operates the EKS clusters",
        )),
        args: &["check"],
        exit: 1,
        says: &[
            "the value of `justification` contains `: `",
            "hint: put the value in double quotes: `justification: \"Note: operates the EKS clusters and their node groups\"`",
        ],
        never: &["mapping values"],
    },
    Case {
        name: "an empty justification is a missing justification",
        edit: Some((
            AISHA,
            "justification: Operates the EKS clusters and their node groups",
            "justification:",
        )),
        args: &["check"],
        exit: 1,
        says: &[
            "error[justification-required]: `aws-prod:read-only` of `aisha` has an empty justification",
            "aisha.yaml:6:18",
        ],
        never: &["null", "error[schema]"],
    },
    Case {
        name: "grants written as a mapping ask for a list",
        edit: Some((
            AISHA,
            "  - role: read-only\n    justification: Operates the EKS clusters and their node groups\n    expires: 2027-02-12\n    ticket: PLAT-802\n  - role: deploy\n    justification: Rolls out cluster add-ons and ingress changes\n    expires: 2026-12-18\n    ticket: PLAT-860\n",
            "  role: read-only\n  justification: Operates the EKS clusters and their node groups\n  expires: 2027-02-12\n",
        )),
        args: &["check"],
        exit: 1,
        says: &[
            "`grants` must be a list, but here it is a mapping",
            "hint: start each entry of the list with `- `",
        ],
        never: &["{\"", "is not of type"],
    },
    Case {
        name: "an unknown field of another provisioner is not its own suggestion",
        edit: Some((
            "policies/apps/aws-prod.yaml",
            "  timeout_seconds: 120",
            "  timeout_seconds: 120\n  login: \"{github}\"",
        )),
        args: &["check"],
        exit: 1,
        says: &["unknown field `login`", "belongs to another kind of entry"],
        never: &["did you mean `login`"],
    },
    Case {
        name: "a wrong risk names the allowed values and no drift",
        edit: Some((
            "policies/apps/aws-prod.yaml",
            "risk: critical",
            "risk: extreme",
        )),
        args: &["check"],
        exit: 1,
        says: &["`risk` cannot be `extreme`: it is one of `low`, `medium`, `high`, `critical`"],
        never: &["codeowners-drift", "codeowners --write"],
    },
    Case {
        name: "codeowners refuses to print a file that would drop an app",
        edit: Some((
            "policies/apps/aws-prod.yaml",
            "risk: critical",
            "risk: extreme",
        )),
        args: &["codeowners"],
        exit: 2,
        says: &["cannot generate CODEOWNERS: `policies/apps/aws-prod.yaml` does not load"],
        never: &["/access/"],
    },
    Case {
        name: "a mistyped app in a grant file is suggested, not created",
        edit: Some((AISHA, "app: aws-prod", "app: aws-prd")),
        args: &["check"],
        exit: 1,
        says: &[
            "hint: did you mean `aws-prod`? If not, add `policies/apps/aws-prd.yaml`",
            "hint: did you mean `app: aws-prod`?",
        ],
        never: &[],
    },
    Case {
        name: "a mistyped person is suggested",
        edit: Some((AISHA, "person: aisha", "person: aishaa")),
        args: &["check"],
        exit: 1,
        says: &["hint: did you mean `aisha`? If not, add the person"],
        never: &[],
    },
    Case {
        name: "a mistyped role is suggested before the list",
        edit: Some((AISHA, "role: read-only", "role: readonly")),
        args: &["check"],
        exit: 1,
        says: &["hint: did you mean `read-only`? If not, use one of: admin, deploy, read-only"],
        never: &[],
    },
    Case {
        name: "a mistyped SoD rule in an exception is suggested",
        edit: Some((
            "policies/sod.yaml",
            "  - rule: wire-maker-checker",
            "  - rule: wire-maker-chekcer",
        )),
        args: &["check"],
        exit: 1,
        says: &["did you mean `wire-maker-checker`?"],
        never: &[],
    },
    Case {
        name: "request with a mistyped app suggests the app",
        edit: None,
        args: &[
            "request",
            "--app",
            "paymnets",
            "--role",
            "viewer",
            "--person",
            "aisha",
            "--justification",
            "Reconcile the Q4 refunds (FIN-1042)",
        ],
        exit: 1,
        says: &[
            "there is no app `paymnets`",
            "hint: did you mean `payments`?",
        ],
        never: &["add `policies/apps/paymnets.yaml`"],
    },
    Case {
        name: "request with a mistyped person suggests the person",
        edit: None,
        args: &[
            "request",
            "--app",
            "payments",
            "--role",
            "viewer",
            "--person",
            "aisah",
            "--justification",
            "Reconcile the Q4 refunds (FIN-1042)",
        ],
        exit: 1,
        says: &[
            "`aisah` is not in `policies/people.yaml`",
            "hint: did you mean `aisha`?",
        ],
        never: &[],
    },
    Case {
        name: "explain with a mistyped rule suggests the rule",
        edit: None,
        args: &["explain", "sod-conflit"],
        exit: 2,
        says: &[
            "unknown rule `sod-conflit`",
            "hint: did you mean `sod-conflict`?",
        ],
        never: &[],
    },
    Case {
        name: "counts are spelled for their number",
        edit: Some((
            AISHA,
            "justification: Operates the EKS clusters and their node groups",
            "justification:",
        )),
        args: &["check"],
        exit: 1,
        says: &["1 error,"],
        never: &["1 errors", "1 warnings"],
    },
    Case {
        name: "colour is never forced onto a pipe, and always when asked",
        edit: Some((AISHA, "role: read-only", "role: readonly")),
        args: &["check", "--color", "always"],
        exit: 1,
        says: &["\x1b[1;31merror[unknown-role]\x1b[0m"],
        never: &[],
    },
    Case {
        name: "colour never",
        edit: Some((AISHA, "role: read-only", "role: readonly")),
        args: &["check", "--color", "never"],
        exit: 1,
        says: &["error[unknown-role]"],
        never: &["\x1b["],
    },
    Case {
        name: "colour auto on a pipe",
        edit: Some((AISHA, "role: read-only", "role: readonly")),
        args: &["check"],
        exit: 1,
        says: &["error[unknown-role]"],
        never: &["\x1b["],
    },
];

fn run(case: &Case, root: &Path) -> (i32, String) {
    if let Some((file, from, to)) = case.edit {
        let path = root.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(from),
            "{}: `{from}` is not in {file}",
            case.name
        );
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }
    let mut command = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    command.args(case.args);
    // `explain` reads no repository.
    if case.args[0] != "explain" {
        command.args(["--as-of", "2026-11-22", "--root"]).arg(root);
    }
    let out = command.env_remove("NO_COLOR").output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), said)
}

#[test]
fn every_first_contact_message_says_what_to_do() {
    let mut failed = Vec::new();
    for case in CASES {
        let repo = crate::support::example_repo();
        let (exit, said) = run(case, repo.path());
        let missing: Vec<&&str> = case.says.iter().filter(|s| !said.contains(**s)).collect();
        let present: Vec<&&str> = case.never.iter().filter(|s| said.contains(**s)).collect();
        if exit != case.exit || !missing.is_empty() || !present.is_empty() {
            failed.push(format!(
                "{}: exit {exit} (want {}), missing {missing:?}, present {present:?}\n{said}",
                case.name, case.exit
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n---\n"));
}

/// A changed grant shows what it was, not only what it becomes.
#[test]
fn plan_shows_the_old_value_of_a_changed_field() {
    let repo = crate::support::example_repo();
    let path = repo.path().join(AISHA);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen("expires: 2027-02-12", "expires: 2027-01-30", 1),
    )
    .unwrap();
    for (format, want) in [
        ("text", "changed: expires 2027-02-12 → 2027-01-30"),
        ("markdown", "| 2027-02-12 → 2027-01-30 |"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args([
                "plan",
                "--base",
                "HEAD",
                "--as-of",
                "2026-11-22",
                "-f",
                format,
                "--root",
            ])
            .arg(repo.path())
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.contains(want), "{format}: {said}");
        assert!(!said.contains("changed: justification"), "{format}: {said}");
    }
}

/// Every command's `--help` ends with examples, and every example parses as written.
#[test]
fn every_command_has_examples_that_parse() {
    use clap::{CommandFactory, Parser};
    let cli = portcullis::cli::Cli::command();
    let mut commands: Vec<&clap::Command> = Vec::new();
    for c in cli.get_subcommands().filter(|c| !c.is_hide_set()) {
        commands.push(c);
        commands.extend(c.get_subcommands().filter(|s| s.get_name() != "help"));
    }
    assert!(commands.len() >= 19, "{}", commands.len());
    for c in commands {
        let help = c
            .get_after_help()
            .map(|h| h.to_string())
            .unwrap_or_default();
        assert!(
            help.starts_with("Examples:"),
            "`{}` has no examples",
            c.get_name()
        );
        let joined: String = help.split("\\\n").map(str::trim_start).collect();
        let examples: Vec<&str> = joined
            .lines()
            .filter_map(|l| {
                l.trim_start()
                    .split_once("portcullis ")
                    .map(|(_, rest)| rest)
            })
            .collect();
        assert!(!examples.is_empty(), "`{}`: {help}", c.get_name());
        for example in examples {
            // The words after two spaces explain the example; a redirection is the shell's.
            let command = example
                .split("  ")
                .next()
                .unwrap()
                .split(" > ")
                .next()
                .unwrap();
            let mut args = vec!["portcullis".to_owned()];
            args.extend(shlex::split(command).unwrap_or_else(|| panic!("{command}")));
            if let Err(e) = portcullis::cli::Cli::try_parse_from(&args) {
                panic!(
                    "`{}`: example `{command}` does not parse: {e}",
                    c.get_name()
                );
            }
        }
    }
}
