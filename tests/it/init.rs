//! `init`: a new access repository that passes `check` and `codeowners --check` as written,
//! whose workflows run the released tool through the action and never compile it.

use std::path::Path;
use std::process::{Command, Output};

use portcullis_core::load::yaml::{self, Node, Value};

/// Two people in the `people sync` export format: a security lead and an engineer.
const HR: &str = "id,name,email,github,department,title,manager,type,status,end_date\nsara,Sara Lind,sara@acme.example,sara-gh,security,Security Lead,,employee,active,\ntom,Tom Berg,tom@acme.example,tom-gh,it,Engineer,sara,employee,active,\n";

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

fn portcullis(args: &[&str], dir: Option<&Path>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    c.args(args);
    if let Some(d) = dir {
        c.arg("--root").arg(d);
    }
    c.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every `uses:` and every `run:` of a workflow.
fn walk(node: &Node, uses: &mut Vec<String>, runs: &mut Vec<String>) {
    match &node.value {
        Value::Map(entries) => {
            for (k, v) in entries {
                match (k.name.as_str(), v.as_str()) {
                    ("uses", Some(s)) => uses.push(s.to_owned()),
                    ("run", Some(s)) => runs.push(s.to_owned()),
                    _ => walk(v, uses, runs),
                }
            }
        }
        Value::Seq(items) => items.iter().for_each(|i| walk(i, uses, runs)),
        _ => {}
    }
}

#[test]
fn a_new_repository_passes_check_and_its_workflows_compile_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("hr.csv");
    std::fs::write(&csv, HR).unwrap();
    let dir = tmp.path().join("access");
    let action = format!("acme/portcullis@{SHA}");
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["init"])
        .arg(&dir)
        .args([
            "--org",
            "acme",
            "--security-team",
            "@acme/security",
            "--people",
        ])
        .arg(&csv)
        .args(["--action", &action])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));

    let check = portcullis(&["check"], Some(&dir));
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    let owners = portcullis(&["codeowners", "--check"], Some(&dir));
    assert_eq!(owners.status.code(), Some(0), "{}", text(&owners));
    let people = std::fs::read_to_string(dir.join("policies/people.yaml")).unwrap();
    assert!(
        people.contains("id: sara") && people.contains("id: tom"),
        "{people}"
    );
    let settings = std::fs::read_to_string(dir.join("policies/settings.yaml")).unwrap();
    assert!(
        settings.contains(&format!(
            "portcullis_version: {}",
            env!("CARGO_PKG_VERSION")
        )),
        "{settings}"
    );
    assert!(
        settings.contains("bot_login: \"portcullis[bot]\""),
        "{settings}"
    );
    for schema in ["app", "grant", "people", "settings", "sod", "birthright"] {
        assert!(dir.join(format!("schemas/{schema}.schema.json")).is_file());
    }
    assert!(
        dir.join(".github/ISSUE_TEMPLATE/access-request.yml")
            .is_file()
    );
    assert!(
        std::fs::read_to_string(dir.join("README.md"))
            .unwrap()
            .contains("Setup checklist")
    );

    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir.join(".github/workflows")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(!text.contains("cargo"), "{name} compiles the tool");
        assert!(!text.contains("__"), "{name}: a placeholder is left");
        let node = yaml::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let (mut uses, mut runs) = (Vec::new(), Vec::new());
        walk(&node, &mut uses, &mut runs);
        for u in &uses {
            let sha = u.rsplit_once('@').map(|(_, r)| r).unwrap_or_default();
            assert!(
                sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
                "{name}: `{u}` is not pinned"
            );
        }
        if name != "approvals.yml" {
            assert!(uses.contains(&action), "{name} does not run the action");
        }
        for r in &runs {
            assert!(!r.contains("${{"), "{name}: an expression in a shell line");
        }
        names.push(name);
    }
    names.sort();
    assert_eq!(
        names,
        [
            "apply.yml",
            "approvals-status.yml",
            "approvals.yml",
            "check.yml",
            "expire.yml",
            "request.yml"
        ]
    );
}

#[test]
fn init_overwrites_nothing_and_names_what_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("policies")).unwrap();
    std::fs::write(tmp.path().join("policies/settings.yaml"), "org: mine\n").unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .arg("init")
            .arg(tmp.path())
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["--org", "acme", "--security-team", "@acme/security"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("already holds `policies/`"),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("policies/settings.yaml")).unwrap(),
        "org: mine\n"
    );
    let fresh = tmp.path().join("new");
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("init")
        .arg(&fresh)
        .args(["--org", "acme", "--security-team", "@other/security"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("hint: write it as `@acme/<team>`"),
        "{}",
        text(&out)
    );
    assert!(!fresh.exists(), "nothing written");
}

/// The first steps of the README's tutorial, as a newcomer takes them: a new repository, one
/// request, and `check` counting what it holds in words spelled for their number.
#[test]
fn the_tutorial_first_steps_run_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("hr.csv");
    std::fs::write(&csv, HR).unwrap();
    let dir = tmp.path().join("access");
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("init")
        .arg(&dir)
        .args([
            "--org",
            "acme",
            "--security-team",
            "@acme/security",
            "--people",
        ])
        .arg(&csv)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("replace the tag with the commit"),
        "{}",
        text(&out)
    );
    let request = portcullis(
        &[
            "request",
            "--app",
            "example",
            "--role",
            "viewer",
            "--person",
            "tom",
            "--justification",
            "Reads the example reports for the weekly review",
            "--as-of",
            "2026-12-03",
        ],
        Some(&dir),
    );
    assert!(request.status.success(), "{}", text(&request));
    assert!(
        text(&request).contains("approvals needed: owner"),
        "{}",
        text(&request)
    );
    let check = portcullis(&["check", "--as-of", "2026-12-03"], Some(&dir));
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    assert!(
        text(&check).contains("checked 4 files, 1 grant: 0 errors, 0 warnings"),
        "{}",
        text(&check)
    );
}
