//! The workflows of SPEC section 8 keep event data out of shell lines and never run the pull
//! request's code with a privileged trigger.

use portcullis_core::load::yaml::{self, Node, Value};

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

/// The workflows and the action (`action.yml`), which runs inside every workflow that uses it.
fn workflows_and_action() -> Vec<(String, Node)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml");
    let node = yaml::parse(&std::fs::read(&path).unwrap()).unwrap();
    let mut out = workflows();
    out.push(("action.yml".to_owned(), node));
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
    for (name, node) in workflows_and_action() {
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
            assert_eq!(token, "${{ steps.app.outputs.token }}", "{name}");
        }
        let mut uses = Vec::new();
        strings(&node, &mut Vec::new(), &mut uses);
        assert!(
            uses.iter()
                .any(|(p, s)| p.last().map(String::as_str) == Some("uses")
                    && s.starts_with("actions/create-github-app-token@")),
            "{name} mints no App token"
        );
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
                // `env:` of a step, or the App's private key handed to the token action.
                let parent = path.iter().rev().nth(1).map(String::as_str);
                let key = path.last().map(String::as_str);
                assert!(
                    parent == Some("env") || (parent == Some("with") && key == Some("private-key")),
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

/// Jobs, by workflow: (job name, job node).
fn jobs(node: &Node) -> Vec<(&str, &Node)> {
    match node.get("jobs").map(|j| &j.value) {
        Some(Value::Map(entries)) => entries.iter().map(|(k, v)| (k.name.as_str(), v)).collect(),
        _ => Vec::new(),
    }
}

fn triggers(node: &Node) -> Vec<String> {
    match node.get("on").map(|o| &o.value) {
        Some(Value::Map(entries)) => entries.iter().map(|(k, _)| k.name.clone()).collect(),
        _ => Vec::new(),
    }
}

/// SPEC section 8: a workflow a pull request can change (its own copy runs on `pull_request`,
/// `pull_request_review`, and the comment trigger shares the file) holds no secret, and every
/// job that holds one runs in an environment (restricted to the default branch in the setup).
#[test]
fn secrets_only_in_environments_and_never_where_a_pull_request_runs_its_copy() {
    for (name, node) in workflows() {
        let pr_controlled = triggers(&node).iter().any(|t| {
            ["pull_request", "pull_request_review", "issue_comment"].contains(&t.as_str())
        });
        for (job, j) in jobs(&node) {
            let mut found = Vec::new();
            strings(j, &mut Vec::new(), &mut found);
            let secret = found.iter().any(|(_, s)| s.contains("secrets."));
            assert!(
                !(secret && pr_controlled),
                "{name}: job `{job}` reads a secret in a workflow a pull request can change"
            );
            if secret {
                assert!(
                    j.get("environment").is_some(),
                    "{name}: job `{job}` reads a secret outside an environment"
                );
            }
        }
    }
}

/// Every action is pinned to a full commit id (a tag can be moved), or is this repository's.
#[test]
fn every_action_is_pinned_to_a_commit() {
    for (name, node) in workflows_and_action() {
        let mut found = Vec::new();
        strings(&node, &mut Vec::new(), &mut found);
        for (path, s) in found {
            if path.last().map(String::as_str) != Some("uses") || s.starts_with("./") {
                continue;
            }
            let sha = s.rsplit_once('@').map(|(_, r)| r).unwrap_or_default();
            assert!(
                sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
                "{name}: `{s}` is not pinned to a commit"
            );
        }
    }
}

/// No checkout leaves credentials in the work tree for later steps (or a build) to find.
#[test]
fn no_checkout_persists_credentials() {
    for (name, node) in workflows() {
        let mut found = Vec::new();
        strings(&node, &mut Vec::new(), &mut found);
        let checkouts = found
            .iter()
            .filter(|(p, s)| {
                p.last().map(String::as_str) == Some("uses") && s.starts_with("actions/checkout@")
            })
            .count();
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(".github/workflows")
                .join(&name),
        )
        .unwrap();
        assert_eq!(
            text.matches("persist-credentials: false").count(),
            checkouts,
            "{name}: every checkout sets `persist-credentials: false`"
        );
    }
}

/// No workflow that holds a secret compiles the tool: it runs the build tool.yml made without
/// secrets from the last verified commit.
#[test]
fn no_job_with_a_secret_compiles_anything() {
    for (name, node) in workflows() {
        for (job, j) in jobs(&node) {
            let mut found = Vec::new();
            strings(j, &mut Vec::new(), &mut found);
            let secret = found.iter().any(|(_, s)| s.contains("secrets."));
            let mut runs = Vec::new();
            run_lines(j, &mut runs);
            let builds = runs.iter().any(|(_, r)| r.contains("cargo "));
            assert!(
                !(secret && builds),
                "{name}: job `{job}` holds a secret and runs cargo"
            );
        }
    }
}

/// No workflow compiles the tool per run: only CI (the project's tests) and the release build
/// it. Every other workflow that runs portcullis installs the pinned release through the action.
#[test]
fn only_ci_and_the_release_compile_the_tool() {
    for (name, node) in workflows() {
        let mut runs = Vec::new();
        run_lines(&node, &mut runs);
        let compiles = runs.iter().any(|(_, r)| r.contains("cargo "));
        if name == "ci.yml" || name == "release.yml" {
            continue;
        }
        assert!(!compiles, "{name} compiles the tool");
        let runs_tool = runs.iter().any(|(_, r)| r.contains("\"$PORTCULLIS\""));
        let mut found = Vec::new();
        strings(&node, &mut Vec::new(), &mut found);
        let action = found.iter().any(|(p, s)| {
            p.last().map(String::as_str) == Some("uses") && (*s == "./" || *s == "./base")
        });
        assert_eq!(
            runs_tool, action,
            "{name}: runs portcullis without the action, or the other way"
        );
    }
}
