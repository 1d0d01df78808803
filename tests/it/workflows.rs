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
    for w in ["check.yml", "approvals.yml", "request.yml", "report.yml"] {
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
