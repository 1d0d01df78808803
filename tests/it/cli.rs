//! Through the binary: exit codes and the example organisation.

use std::process::Command;

fn portcullis() -> Command {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
}

#[test]
fn the_example_organisation_passes_check_as_of_its_date() {
    let out = portcullis()
        .args([
            "check",
            "--root",
            env!("CARGO_MANIFEST_DIR"),
            "--as-of",
            "2026-11-22",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{json:#}");
    assert_eq!(json["summary"]["errors"], 0);
    assert!(json["summary"]["grants"].as_u64().unwrap() >= 100);
}

#[test]
fn bad_usage_exits_2_with_a_hint() {
    let out = portcullis()
        .args([
            "check",
            "--as-of",
            "tomorrow",
            "--root",
            env!("CARGO_MANIFEST_DIR"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("hint:"));
    let out = portcullis()
        .args(["check", "--root", "/nonexistent"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = portcullis()
        .args(["explain", "no-such-rule"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn explain_prints_every_rule() {
    for rule in portcullis_core::diag::Rule::ALL {
        let out = portcullis().args(["explain", rule.id()]).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&out.stdout).contains("## Fix"));
    }
}

#[test]
fn codeowners_check_prints_a_diff_and_write_repairs_it() {
    let repo = crate::support::example_repo();
    let root = repo.path().to_str().unwrap();
    let path = repo.path().join(".github/CODEOWNERS");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}/access/payments/ @mallory\n")).unwrap();
    let out = portcullis()
        .args(["codeowners", "--check", "--root", root])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("-/access/payments/ @mallory"));
    let (code, json) = crate::support::check_json(std::path::Path::new(root), &[]);
    assert_eq!(code, 1);
    assert!(json.to_string().contains("codeowners-drift"));
    let out = portcullis()
        .args(["codeowners", "--write", "--root", root])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = portcullis()
        .args(["codeowners", "--check", "--root", root])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn a_symlink_in_a_governed_folder_is_refused_and_not_followed() {
    let repo = crate::support::example_repo();
    let root = repo.path();
    let secret = root.join("outside.yaml");
    std::fs::write(&secret, "person: wei\napp: github\ngrants:\n  - role: admin\n    justification: not reviewed by anyone at all\n").unwrap();
    std::os::unix::fs::symlink(&secret, root.join("access/github/link.yaml")).unwrap();
    let (code, json) = crate::support::check_json(root, &[]);
    assert_eq!(code, 1);
    let found: Vec<(&str, &str)> = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["severity"] == "error")
        .map(|d| (d["rule"].as_str().unwrap(), d["file"].as_str().unwrap()))
        .collect();
    assert_eq!(found, vec![("symlink", "access/github/link.yaml")]);
}

#[test]
fn an_oversized_grant_file_is_refused_before_parsing() {
    let repo = crate::support::example_repo();
    let root = repo.path();
    let mut big = String::from("person: wei\napp: github\ngrants:\n");
    while big.len() <= 1 << 20 {
        big.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    std::fs::write(root.join("access/github/wei.yaml"), big).unwrap();
    let (code, json) = crate::support::check_json(root, &[]);
    assert_eq!(code, 1);
    assert!(
        json["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["rule"] == "file-too-large" && d["file"] == "access/github/wei.yaml")
    );
}

#[test]
fn text_output_shows_the_line_and_a_caret_and_honours_no_color() {
    let repo = crate::support::example_repo();
    let root = repo.path();
    let path = root.join("access/github/oscar.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}    expires: 2026-11-01\n")).unwrap();
    let out = portcullis()
        .args([
            "check",
            "--root",
            root.to_str().unwrap(),
            "--as-of",
            "2026-11-22",
        ])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(!stdout.contains('\x1b'));
    assert!(stdout.contains("error[expired]"), "{stdout}");
    assert!(
        stdout.contains("--> access/github/oscar.yaml:7:14"),
        "{stdout}"
    );
    assert!(stdout.contains("7 |     expires: 2026-11-01"), "{stdout}");
    assert!(stdout.contains("  |              ^^^^^^^^^^"), "{stdout}");
}

#[test]
fn github_format_writes_the_job_summary() {
    let repo = crate::support::example_repo();
    let summary = repo.path().join("summary.md");
    let out = portcullis()
        .args([
            "check",
            "--root",
            repo.path().to_str().unwrap(),
            "--as-of",
            "2026-11-22",
            "--format",
            "github",
        ])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("::warning file=access/billing-db/wei.yaml,line=8,col=14")
    );
    assert!(
        std::fs::read_to_string(&summary)
            .unwrap()
            .contains("### portcullis check passed")
    );
}

/// A newcomer's first call, in a clone of a GitHub repository with nothing set: no token is
/// said up front, with how to get one; the repository comes from the remote, as `gh` reads it.
#[test]
fn a_first_call_names_the_missing_token_and_reads_the_repository_from_the_remote() {
    let dir = crate::support::example_repo();
    crate::support::git(
        dir.path(),
        &[
            "remote",
            "add",
            "origin",
            "git@github.com:tidewater/access.git",
        ],
    );
    let gh = crate::fake_github::FakeGitHub::start();
    let run = |token: Option<&str>| {
        let mut c = portcullis();
        c.args(["approvals", "--pr", "1", "--no-status"])
            .current_dir(dir.path())
            .env("GITHUB_API_URL", gh.url())
            .env("PORTCULLIS_GITHUB_MAX_WAIT", "1")
            .env_remove("GITHUB_REPOSITORY")
            .env_remove("GITHUB_TOKEN");
        if let Some(t) = token {
            c.env("GITHUB_TOKEN", t);
        }
        c.output().unwrap()
    };
    let out = run(None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`GITHUB_TOKEN` is not set") && err.contains("gh auth token"),
        "{err}"
    );
    let out = run(Some("token-nobody"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("using `tidewater/access`, from the remote `origin`"),
        "{err}"
    );
}

/// Every command that reads the repository takes `--root` relative to the current directory,
/// resolved once: each runs from the repository's parent with `--root <name>`, and a path it
/// writes or reads besides (`report --out`, `people sync --from`) is taken from the current
/// directory too.
#[test]
fn every_command_takes_a_relative_root() {
    let dir = crate::support::example_repo();
    let parent = dir.path().parent().unwrap().to_owned();
    let name = dir.path().file_name().unwrap().to_str().unwrap().to_owned();
    let export = dir.path().join("export.csv");
    std::fs::write(
        &export,
        "id,name,email,github,department,title,manager,type,status,end_date\n",
    )
    .unwrap();
    let export_rel = format!("{name}/export.csv");
    let report_rel = format!("{name}-site");
    let runs: Vec<Vec<&str>> = vec![
        vec!["check"],
        vec!["codeowners", "--check"],
        vec!["plan", "--base", "HEAD", "--head", "HEAD"],
        vec!["audit", "--at", "2026-11-22", "--offline"],
        vec!["report", "--out", &report_rel],
        vec!["expire"],
        vec![
            "request",
            "--app",
            "grafana",
            "--role",
            "viewer",
            "--person",
            "omar",
            "--for",
            "2w",
            "--justification",
            "Dashboards for the carrier settlement review",
        ],
        vec!["people", "sync", "--from", &export_rel],
    ];
    for args in runs {
        let out = portcullis()
            .args(&args)
            .args(["--root", &name, "--as-of", "2026-11-22"])
            .current_dir(&parent)
            .env_remove("GITHUB_REPOSITORY")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{args:?} with a relative --root: {err}"
        );
        assert!(
            !err.contains("not a portcullis repository"),
            "{args:?}: {err}"
        );
    }
    assert!(parent.join(&report_rel).join("index.html").is_file());
    let _ = std::fs::remove_dir_all(parent.join(&report_rel));
}

/// What a release ships beside the binary is generated from the commands themselves: every
/// command is completed, and the man page is roff naming them.
#[test]
fn completions_and_the_man_page_cover_every_command() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    for shell in ["bash", "zsh", "fish"] {
        let script = run(&["completions", shell]);
        for command in ["check", "apply", "import", "reconcile"] {
            assert!(script.contains(command), "{shell}: {command}");
        }
    }
    let man = run(&["man"]);
    assert!(man.contains(".TH portcullis 1"), "{man}");
    assert!(man.contains("import"), "{man}");
}

/// The renewal `expiring-soon` suggests runs as written, for an ordinary grant and for an
/// emergency one (which is asked for again as a normal request, never extended).
#[test]
fn the_renewal_an_expiring_grant_suggests_runs_as_written() {
    let repo = crate::support::example_repo();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["check", "--as-of", "2026-11-22", "--root"])
        .arg(repo.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let commands: Vec<String> = said
        .lines()
        .filter(|l| l.contains("= hint:") && l.contains("`portcullis request "))
        .map(|l| {
            l.rsplit_once("`portcullis ")
                .unwrap()
                .1
                .trim_end_matches('`')
                .to_owned()
        })
        .collect();
    assert_eq!(commands.len(), 2, "{said}");
    assert!(said.contains("an emergency grant is not renewed"), "{said}");
    for command in commands {
        let command = command.replace('…', "Still reconciles the nightly billing exports");
        // The suggestion quotes one argument, the justification.
        let (head, quoted) = command.split_once(" \"").unwrap();
        let mut args: Vec<String> = head.split_whitespace().map(str::to_owned).collect();
        args.push(quoted.trim_end_matches('"').to_owned());
        let ran = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(&args)
            .args(["--as-of", "2026-11-22", "--root"])
            .arg(repo.path())
            .output()
            .unwrap();
        assert!(
            ran.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&ran.stderr)
        );
    }
}

/// A revision that does not exist is named as such, with what to do, not libgit2's codes.
#[test]
fn an_unknown_base_revision_is_said_plainly() {
    let repo = crate::support::example_repo();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["check", "--base", "nosuchrev", "--root"])
        .arg(repo.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains(
            "cannot resolve `--base nosuchrev`: no branch, tag or commit has that name here"
        ),
        "{said}"
    );
    assert!(said.contains("hint: "), "{said}");
    assert!(!said.contains("class="), "{said}");
}

/// `expire` without `--open-pr` lists what is due and says what to do next.
#[test]
fn expire_names_the_next_step() {
    let repo = crate::support::example_repo();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["expire", "--as-of", "2026-11-23", "--root"])
        .arg(repo.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        said.contains(
            "next: `portcullis expire --open-pr` opens one pull request revoking 1 grant"
        ),
        "{said}"
    );
}

/// `-f` is `--format` for every command that has one.
#[test]
fn format_has_a_short_flag() {
    let repo = crate::support::example_repo();
    for command in ["check", "plan", "expire", "remind", "audit"] {
        let mut args = vec![command, "-f", "json", "--as-of", "2026-11-22"];
        if command == "remind" {
            args.push("--dry-run");
        }
        if command == "plan" {
            args.extend(["--base", "HEAD"]);
        }
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(&args)
            .arg("--root")
            .arg(repo.path())
            .output()
            .unwrap();
        let parsed: Result<serde_json::Value, _> = serde_json::from_slice(&out.stdout);
        assert!(
            parsed.is_ok(),
            "{command}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
