//! The workflows of SPEC section 8 keep event data out of shell lines and never run the pull
//! request's code with a privileged trigger.

use portcullis::load::yaml::{self, Node, Value};

fn workflows() -> Vec<(String, Node)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/workflows");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read(&path).unwrap();
        let node = yaml::parse(&text).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        out.push((
            path.file_name().unwrap().to_string_lossy().into_owned(),
            node,
        ));
    }
    out
}

/// Every `run:` script in a workflow, with its line.
fn run_lines(node: &Node, out: &mut Vec<(u32, String)>) {
    match &node.value {
        Value::Map(entries) => {
            for (k, v) in entries {
                if k.name == "run"
                    && let Some(s) = v.as_str()
                {
                    out.push((v.pos.line, s.to_owned()));
                }
                run_lines(v, out);
            }
        }
        Value::Seq(items) => items.iter().for_each(|i| run_lines(i, out)),
        _ => {}
    }
}

#[test]
fn the_spec_workflows_exist() {
    let names: Vec<String> = workflows().into_iter().map(|(n, _)| n).collect();
    for w in [
        "check.yml",
        "approvals.yml",
        "request.yml",
        "expire.yml",
        "review.yml",
        "people-sync.yml",
        "apply.yml",
        "report.yml",
    ] {
        assert!(names.iter().any(|n| n == w), "{w} missing from {names:?}");
    }
}

#[test]
fn no_workflow_interpolates_expressions_into_a_shell_line() {
    for (name, node) in workflows() {
        let mut runs = Vec::new();
        run_lines(&node, &mut runs);
        assert!(
            !runs.is_empty() || name == "ci.yml",
            "{name} has no run steps"
        );
        for (line, script) in runs {
            assert!(
                !script.contains("${{"),
                "{name}:{line}: an expression in a `run:` line; pass it through `env:`"
            );
        }
    }
}

/// The scheduled workflows open pull requests with a token that triggers CI, never with the
/// workflow's own `GITHUB_TOKEN` (whose events start no workflow).
#[test]
fn the_lifecycle_workflows_use_a_token_that_triggers_ci() {
    for (name, node) in workflows() {
        if !["expire.yml", "review.yml", "people-sync.yml"].contains(&name.as_str()) {
            continue;
        }
        let mut tokens = Vec::new();
        env_tokens(&node, &mut tokens);
        assert!(!tokens.is_empty(), "{name} sets no GITHUB_TOKEN");
        for token in tokens {
            assert_eq!(token, "${{ secrets.PORTCULLIS_TOKEN }}", "{name}");
        }
    }
}

fn env_tokens(node: &Node, out: &mut Vec<String>) {
    match &node.value {
        Value::Map(entries) => {
            for (k, v) in entries {
                if k.name == "GITHUB_TOKEN"
                    && let Some(s) = v.as_str()
                {
                    out.push(s.to_owned());
                }
                env_tokens(v, out);
            }
        }
        Value::Seq(items) => items.iter().for_each(|i| env_tokens(i, out)),
        _ => {}
    }
}

#[test]
fn no_workflow_uses_pull_request_target() {
    for (name, node) in workflows() {
        let on = node.get("on").expect("on:");
        let triggers: Vec<&str> = match &on.value {
            Value::Map(entries) => entries.iter().map(|(k, _)| k.name.as_str()).collect(),
            _ => vec![on.as_str().unwrap_or_default()],
        };
        assert!(
            !triggers.contains(&"pull_request_target"),
            "{name}: pull_request_target runs with secrets on untrusted code"
        );
    }
}

/// Every string in a workflow with the key path that leads to it.
fn strings<'a>(node: &'a Node, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, &'a str)>) {
    match &node.value {
        Value::Map(entries) => {
            for (k, v) in entries {
                path.push(k.name.clone());
                strings(v, path, out);
                path.pop();
            }
        }
        Value::Seq(items) => items.iter().for_each(|i| strings(i, path, out)),
        Value::Str(s) => out.push((path.clone(), s)),
        _ => {}
    }
}

#[test]
fn secrets_reach_steps_only_through_env() {
    for (name, node) in workflows() {
        let mut found = Vec::new();
        strings(&node, &mut Vec::new(), &mut found);
        for (path, s) in found {
            if s.contains("secrets.") {
                assert_eq!(
                    path.iter().rev().nth(1).map(String::as_str),
                    Some("env"),
                    "{name}: a secret outside `env:` at {}",
                    path.join(".")
                );
            }
        }
    }
}

#[test]
fn apply_runs_on_push_and_daily_and_never_cancels_a_run() {
    let (_, apply) = workflows()
        .into_iter()
        .find(|(n, _)| n == "apply.yml")
        .expect("apply.yml");
    let on = apply.get("on").expect("on:");
    assert!(on.get("push").and_then(|p| p.get("branches")).is_some());
    assert!(
        on.get("schedule").is_some(),
        "a daily run catches missed expiries"
    );
    let concurrency = apply.get("concurrency").expect("a concurrency group");
    assert!(concurrency.get("group").and_then(Node::as_str).is_some());
    assert_eq!(
        concurrency.get("cancel-in-progress").map(|c| &c.value),
        Some(&Value::Bool(false)),
        "a cancelled pending run may be the only one that applies a merge"
    );
}
