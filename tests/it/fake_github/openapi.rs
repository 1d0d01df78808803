//! Holds the fake to GitHub's own published API description (`@octokit/openapi`, installed by
//! `scripts/test` into `target/openapi/`): every response the fake sends is validated against the
//! schema GitHub documents for that operation and status. A response GitHub could not send
//! fails the test that made it, so the fake cannot quietly become kinder than GitHub.
//!
//! The description is OpenAPI 3.0: its schemas are read as JSON Schema draft 4 after three
//! rewrites, `$ref`s to `#/components/...` inlined, `nullable: true` turned into a type that
//! admits `null`, and `required` lists dropped. What is held is every field the fake does
//! send: its type, its enum, whether it may be null, and the operation and status themselves.
//! What is not held yet is that the fake sends every field GitHub marks required (a pull
//! request alone requires 42, with whole repository objects); portcullis reads few of them and
//! its types say which it relies on.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde_json::{Map, Value};

use super::state::Logged;

/// Where `scripts/test` unpacks the package.
fn description_path() -> std::path::PathBuf {
    std::env::var_os("PORTCULLIS_OPENAPI")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target/openapi/package/generated/api.github.com.json")
        })
}

struct Description {
    doc: Value,
    /// (method, template split into segments), for matching a request path.
    operations: Vec<(String, String, Vec<String>)>,
}

fn description() -> &'static Description {
    static DOC: OnceLock<Description> = OnceLock::new();
    DOC.get_or_init(|| {
        let path = description_path();
        let text = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "GitHub's API description is not at {} ({e}): run `scripts/test`, which installs @octokit/openapi from npm",
                path.display()
            )
        });
        let doc: Value = serde_json::from_slice(&text).expect("the API description is JSON");
        let mut operations = Vec::new();
        for (template, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                operations.push((
                    method.to_uppercase(),
                    template.clone(),
                    template.split('/').map(str::to_owned).collect(),
                ));
            }
        }
        Description { doc, operations }
    })
}

/// The documented operation a request path is an instance of: among the templates that match
/// segment by segment, the one with the most literal segments.
fn operation<'d>(d: &'d Description, method: &str, path: &str) -> Option<&'d str> {
    let segments: Vec<&str> = path.split('/').collect();
    // A last parameter such as `{path}` or `{ref}` may hold slashes.
    let fits = |t: &Vec<String>| {
        let greedy = t.last().is_some_and(|l| l == "{path}" || l == "{ref}");
        (t.len() == segments.len() || (greedy && segments.len() > t.len()))
            && t.iter()
                .zip(&segments)
                .all(|(t, s)| t.starts_with('{') || t == s)
    };
    d.operations
        .iter()
        .filter(|(m, _, t)| m == method && fits(t))
        .max_by_key(|(_, _, t)| t.iter().filter(|s| !s.starts_with('{')).count())
        .map(|(_, template, _)| template.as_str())
}

/// `v` with every `#/components/...` reference inlined (cut off past a depth: the description
/// has a few recursive shapes) and `nullable` read as draft 4 reads types.
fn resolve(v: &Value, doc: &Value, depth: usize) -> Value {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                if depth > 24 {
                    return Value::Object(Map::new());
                }
                let target = r
                    .strip_prefix('#')
                    .and_then(|p| doc.pointer(p))
                    .unwrap_or_else(|| panic!("unresolvable $ref {r}"));
                return resolve(target, doc, depth + 1);
            }
            let mut out = Map::new();
            for (k, v) in map {
                if k == "example" || k == "examples" || k == "nullable" || k == "required" {
                    continue;
                }
                // Without `required`, alternatives that differ only in what they require (a
                // public and a private user) can no longer be told apart: one is enough.
                let k = if k == "oneOf" { "anyOf" } else { k.as_str() };
                out.insert(k.to_owned(), resolve(v, doc, depth));
            }
            if map.get("nullable") == Some(&Value::Bool(true)) {
                match out.get("type").cloned() {
                    Some(Value::String(t)) => {
                        out.insert("type".into(), serde_json::json!([t, "null"]));
                        if let Some(Value::Array(options)) = out.get_mut("enum") {
                            options.push(Value::Null);
                        }
                    }
                    _ => {
                        return serde_json::json!({"anyOf": [Value::Object(out), {"type": "null"}]});
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| resolve(i, doc, depth)).collect()),
        other => other.clone(),
    }
}

type Compiled = Option<std::sync::Arc<jsonschema::Validator>>;

/// Compiled validators by (template, method, status).
type Cache = Mutex<HashMap<(String, String, String), Compiled>>;

/// The validator for one documented response, `None` when it documents no JSON body.
fn validator(template: &str, method: &str, status: &str) -> Result<Compiled, String> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let key = (template.to_owned(), method.to_owned(), status.to_owned());
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache.lock().unwrap().get(&key) {
        return Ok(v.clone());
    }
    let d = description();
    let responses = &d.doc["paths"][template][method.to_lowercase()]["responses"];
    let error = status.parse::<u16>().is_ok_and(|s| s >= 400);
    let Some(response) = responses.get(status).or_else(|| responses.get("default")) else {
        // Any call can be refused (401 bad credentials, 403, 404 for what the token cannot
        // see, 5xx), whatever the description lists: then GitHub's error body, a `message`.
        if error {
            let schema = serde_json::json!({
                "type": "object",
                "properties": {"message": {"type": "string"}, "documentation_url": {"type": "string"}},
                "required": ["message"],
            });
            let compiled = Some(std::sync::Arc::new(
                jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft4)
                    .build(&schema)
                    .map_err(|e| e.to_string())?,
            ));
            cache.lock().unwrap().insert(key, compiled.clone());
            return Ok(compiled);
        }
        return Err(format!(
            "GitHub documents no {status} answer for {method} {template} (it documents {})",
            responses
                .as_object()
                .map(|r| r.keys().cloned().collect::<Vec<_>>().join(", "))
                .unwrap_or_default()
        ));
    };
    let response = resolve(response, &d.doc, 0);
    let compiled = match response.pointer("/content/application~1json/schema") {
        None => None,
        Some(schema) => Some(std::sync::Arc::new(
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft4)
                .should_validate_formats(false)
                .build(schema)
                .map_err(|e| format!("{method} {template} {status}: {e}"))?,
        )),
    };
    cache.lock().unwrap().insert(key, compiled.clone());
    Ok(compiled)
}

/// Every response in `log` that the fake made itself (not an injected fault), held to the
/// description. Returns what GitHub could not have sent.
pub fn violations(log: &[Logged]) -> Vec<String> {
    let d = description();
    let mut out = Vec::new();
    for entry in log.iter().filter(|l| !l.fault) {
        // GraphQL and the fake's own test hooks are not REST operations.
        if entry.path.starts_with("/graphql") {
            continue;
        }
        let Some(template) = operation(d, &entry.method, &entry.path) else {
            out.push(format!(
                "{} {}: no such operation in GitHub's API",
                entry.method, entry.path
            ));
            continue;
        };
        let status = entry.status.to_string();
        let validator = match validator(template, &entry.method, &status) {
            Ok(v) => v,
            Err(e) => {
                out.push(format!("{} {}: {e}", entry.method, entry.path));
                continue;
            }
        };
        let (Some(validator), Some(body)) = (validator, &entry.response) else {
            continue;
        };
        for e in validator.iter_errors(body).take(3) {
            out.push(format!(
                "{} {} ({status}, as {template}): {e} at {}",
                entry.method,
                entry.path,
                e.instance_path()
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn logged(method: &str, path: &str, status: u16, response: Value) -> Logged {
        Logged {
            method: method.into(),
            path: path.into(),
            query: String::new(),
            status,
            headers: Vec::new(),
            response: Some(response),
            fault: false,
        }
    }

    /// The check has teeth: shapes GitHub does not send are caught, what it sends passes.
    #[test]
    fn responses_github_could_not_send_are_caught() {
        let status = |state: Value| {
            json!({"id": 1, "state": state, "context": "portcullis/approvals", "description": null,
                   "created_at": "2026-11-22T09:00:00Z", "creator": null})
        };
        let path = "/repos/acme/access/statuses/0123456789abcdef0123456789abcdef01234567";
        assert!(violations(&[logged("POST", path, 201, status(json!("pending")))]).is_empty());
        assert!(!violations(&[logged("POST", path, 201, status(json!(5)))]).is_empty());
        let pull = "/repos/acme/access/pulls/3";
        assert!(
            violations(&[logged(
                "GET",
                pull,
                200,
                json!({"number": 3, "draft": false})
            )])
            .is_empty()
        );
        assert!(!violations(&[logged("GET", pull, 200, json!({"number": "3"}))]).is_empty());
        assert!(!violations(&[logged("GET", pull, 200, json!({"title": null}))]).is_empty());
        assert!(
            !violations(&[logged("GET", "/repos/acme/access/nonsense", 200, json!({}))]).is_empty()
        );
        assert!(!violations(&[logged("GET", pull, 201, json!({}))]).is_empty());
        // Any call may be refused with GitHub's error body.
        assert!(
            violations(&[logged(
                "GET",
                pull,
                401,
                json!({"message": "Bad credentials"})
            )])
            .is_empty()
        );
        assert!(!violations(&[logged("GET", pull, 401, json!({"error": 1}))]).is_empty());
    }
}
