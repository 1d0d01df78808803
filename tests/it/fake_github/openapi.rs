//! Holds the fake to GitHub's own published API description (`@octokit/openapi`, installed by
//! `scripts/test` into `target/openapi/`): every response the fake sends is validated against the
//! schema GitHub documents for that operation and status. A response GitHub could not send
//! fails the test that made it, so the fake cannot quietly become kinder than GitHub.
//!
//! Requests are held too: every query parameter the client sends must be one the operation
//! documents, with a value of its type and enum; every path parameter documented as an integer
//! must be one; a JSON body must match the operation's request body, required fields included,
//! and an operation that takes none must get none.
//!
//! The description is OpenAPI 3.0: its schemas are read as JSON Schema draft 4 after two
//! rewrites, `$ref`s to `#/components/...` inlined and `nullable: true` turned into a type that
//! admits `null` (`oneOf` is read as `anyOf`: a public and a private user both match a user).
//!
//! The fake writes the fields portcullis reads and a few more; [`complete`] then gives every
//! other field GitHub marks required the least value the description allows (`null` where it
//! may be null, else empty), so what the client decodes is a whole GitHub object, in the least
//! kind form GitHub may send it.

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
                if k == "example" || k == "examples" || k == "nullable" {
                    continue;
                }
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

/// The operation object, `{"parameters": .., "requestBody": .., "responses": ..}`.
fn operation_doc<'d>(d: &'d Description, template: &str, method: &str) -> &'d Value {
    &d.doc["paths"][template][method.to_lowercase()]
}

fn compile(schema: &Value) -> Result<std::sync::Arc<jsonschema::Validator>, String> {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(false)
        .build(schema)
        .map(std::sync::Arc::new)
        .map_err(|e| e.to_string())
}

/// A documented response: its resolved schema (`None` when it documents no JSON body) and
/// the validator for it.
#[derive(Clone)]
struct Documented {
    schema: std::sync::Arc<Value>,
    validator: std::sync::Arc<jsonschema::Validator>,
}

/// Resolved responses by (template, method, status).
type Cache = Mutex<HashMap<(String, String, String), Option<Documented>>>;

/// What GitHub documents for one response: `Ok(None)` when no JSON body.
fn documented(template: &str, method: &str, status: &str) -> Result<Option<Documented>, String> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let key = (template.to_owned(), method.to_owned(), status.to_owned());
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache.lock().unwrap().get(&key) {
        return Ok(v.clone());
    }
    let d = description();
    let responses = &operation_doc(d, template, method)["responses"];
    let error = status.parse::<u16>().is_ok_and(|s| s >= 400);
    let schema = match responses.get(status).or_else(|| responses.get("default")) {
        Some(response) => resolve(response, &d.doc, 0)
            .pointer("/content/application~1json/schema")
            .cloned(),
        // Any call can be refused (401 bad credentials, 403, 404 for what the token cannot
        // see, 5xx), whatever the description lists: then GitHub's error body, a `message`.
        None if error => Some(serde_json::json!({
            "type": "object",
            "properties": {"message": {"type": "string"}, "documentation_url": {"type": "string"}},
            "required": ["message"],
        })),
        None => {
            return Err(format!(
                "GitHub documents no {status} answer for {method} {template} (it documents {})",
                responses
                    .as_object()
                    .map(|r| r.keys().cloned().collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()
            ));
        }
    };
    let documented = match schema {
        None => None,
        Some(schema) => Some(Documented {
            validator: compile(&schema)
                .map_err(|e| format!("{method} {template} {status}: {e}"))?,
            schema: std::sync::Arc::new(schema),
        }),
    };
    cache.lock().unwrap().insert(key, documented.clone());
    Ok(documented)
}

/// Gives `body`, the fake's answer to `method raw_path` with `status`, every field GitHub's
/// description marks required that the fake left out, with the least value allowed there.
pub fn complete(method: &str, raw_path: &str, status: u16, body: &mut Value) {
    let d = description();
    let Some(template) = operation(d, method, raw_path) else {
        return;
    };
    if let Ok(Some(documented)) = documented(template, method, &status.to_string()) {
        fill(&documented.schema, body);
    }
}

/// The least answer GitHub's description allows to `method raw_path` with `status`: every
/// required field and no other, `null` wherever allowed; a list holds one such item.
pub fn least_answer(method: &str, raw_path: &str, status: u16) -> Option<Value> {
    let d = description();
    let template = operation(d, method, raw_path)?;
    let documented = documented(template, method, &status.to_string()).ok()??;
    let schema = &documented.schema;
    Some(match schema.get("items") {
        Some(item) if has_type(schema, "array") => Value::Array(vec![least(item)]),
        _ => least(schema),
    })
}

fn admits_null(s: &Value) -> bool {
    match s.get("type") {
        Some(Value::Array(types)) => types.iter().any(|t| t == "null"),
        Some(t) => t == "null",
        None => s
            .get("anyOf")
            .and_then(Value::as_array)
            .is_some_and(|alts| alts.iter().any(admits_null)),
    }
}

fn has_type(s: &Value, name: &str) -> bool {
    match s.get("type") {
        Some(Value::Array(types)) => types.iter().any(|t| t == name),
        Some(t) => t == name,
        None => name == "object" && s.get("properties").is_some(),
    }
}

/// The first alternative of an `anyOf` that is not `null`.
fn first_alternative(s: &Value) -> Option<&Value> {
    s.get("anyOf")?
        .as_array()?
        .iter()
        .find(|a| a.get("type").is_none_or(|t| t != "null"))
}

/// The alternative of an `anyOf` that `v` is an instance of: of `v`'s JSON type, and with no
/// field of `v` outside the field's enum (a file's `type: file` is not a symlink).
fn alternative_for<'s>(s: &'s Value, v: &Value) -> Option<&'s Value> {
    let kind = match v {
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        _ => return None,
    };
    fn leaves<'s>(s: &'s Value, out: &mut Vec<&'s Value>) {
        match s.get("anyOf").and_then(Value::as_array) {
            Some(alts) => alts.iter().for_each(|a| leaves(a, out)),
            None => out.push(s),
        }
    }
    let mut all = Vec::new();
    leaves(s, &mut all);
    all.into_iter().find(|a| {
        has_type(a, kind)
            && v.as_object().is_none_or(|fields| {
                fields.iter().all(|(name, value)| {
                    a.pointer(&format!("/properties/{name}/enum"))
                        .and_then(Value::as_array)
                        .is_none_or(|options| options.contains(value))
                })
            })
    })
}

/// Fills what `v` lacks of `s`'s required fields, recursively.
fn fill(s: &Value, v: &mut Value) {
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        for part in all {
            fill(part, v);
        }
    }
    if v.is_null() {
        return;
    }
    if s.get("anyOf").is_some() {
        if let Some(alt) = alternative_for(s, v) {
            fill(alt, v);
        }
        return;
    }
    match v {
        Value::Object(fields) => {
            let properties = s.get("properties").and_then(Value::as_object);
            if let Some(required) = s.get("required").and_then(Value::as_array) {
                for name in required.iter().filter_map(Value::as_str) {
                    if !fields.contains_key(name) {
                        let property = properties.and_then(|p| p.get(name));
                        fields.insert(name.to_owned(), property.map_or(Value::Null, least));
                    }
                }
            }
            for (name, value) in fields.iter_mut() {
                if let Some(property) = properties.and_then(|p| p.get(name)) {
                    fill(property, value);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = s.get("items") {
                for value in items {
                    fill(item, value);
                }
            }
        }
        _ => {}
    }
}

/// The least value `s` admits: `null` if it may be null, the first of an enum, an empty
/// string (or zeros to its least length), zero, `false`, an empty list, or an object with only its required fields.
fn least(s: &Value) -> Value {
    if admits_null(s) {
        return Value::Null;
    }
    if let Some(first) = s.get("enum").and_then(|e| e.get(0)) {
        return first.clone();
    }
    if let Some(alt) = first_alternative(s) {
        return least(alt);
    }
    let mut v = if has_type(s, "object") {
        Value::Object(Map::new())
    } else if has_type(s, "array") {
        Value::Array(Vec::new())
    } else if has_type(s, "string") {
        let length = s.get("minLength").and_then(Value::as_u64).unwrap_or(0);
        Value::String("0".repeat(length as usize))
    } else if has_type(s, "integer") || has_type(s, "number") {
        Value::from(0)
    } else if has_type(s, "boolean") {
        Value::Bool(false)
    } else if s.get("allOf").is_some() {
        Value::Object(Map::new())
    } else {
        Value::Null
    };
    fill(s, &mut v);
    v
}

/// Every request in `log` held to the operation's parameters and request body, and every
/// response the fake made itself (not an injected fault) held to the description. Returns
/// what GitHub would refuse or could not have sent.
pub fn violations(log: &[Logged]) -> Vec<String> {
    let d = description();
    let mut out = Vec::new();
    for entry in log {
        // GraphQL is not a REST operation: its queries are held to GitHub's GraphQL schema.
        if entry.path == "/graphql" {
            let query = serde_json::from_slice::<Value>(&entry.request)
                .ok()
                .and_then(|b| b["query"].as_str().map(str::to_owned))
                .unwrap_or_default();
            if let Some(why) = super::graphql::refused(&query) {
                out.push(format!(
                    "POST /graphql: GitHub would refuse the query: {why}"
                ));
            }
            continue;
        }
        let Some(template) = operation(d, &entry.method, &entry.path) else {
            out.push(format!(
                "{} {}: no such operation in GitHub's API",
                entry.method, entry.path
            ));
            continue;
        };
        out.extend(request_violations(d, template, entry).into_iter().map(|e| {
            format!(
                "{} {} (request, as {template}): {e}",
                entry.method, entry.path
            )
        }));
        if entry.fault {
            continue;
        }
        let status = entry.status.to_string();
        let documented = match documented(template, &entry.method, &status) {
            Ok(v) => v,
            Err(e) => {
                out.push(format!("{} {}: {e}", entry.method, entry.path));
                continue;
            }
        };
        let (Some(documented), Some(body)) = (documented, &entry.response) else {
            continue;
        };
        for e in documented.validator.iter_errors(body).take(3) {
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

/// What GitHub would refuse in the request `entry` makes of the operation `template`.
fn request_violations(d: &Description, template: &str, entry: &Logged) -> Vec<String> {
    let mut out = Vec::new();
    let op = operation_doc(d, template, &entry.method);
    let parameters: Vec<Value> = d.doc["paths"][template]["parameters"]
        .as_array()
        .into_iter()
        .chain(op["parameters"].as_array())
        .flatten()
        .map(|p| resolve(p, &d.doc, 0))
        .collect();
    let check = |name: &str, raw: &str, out: &mut Vec<String>| {
        let Some(p) = parameters.iter().find(|p| p["name"] == name) else {
            out.push(format!("parameter `{name}` is not one GitHub documents"));
            return;
        };
        let schema = &p["schema"];
        let value = if has_type(schema, "integer") || has_type(schema, "number") {
            match raw.parse::<i64>() {
                Ok(n) => Value::from(n),
                Err(_) => Value::String(raw.to_owned()),
            }
        } else if has_type(schema, "boolean") {
            match raw {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => Value::String(raw.to_owned()),
            }
        } else {
            Value::String(raw.to_owned())
        };
        if let Ok(v) = compile(schema)
            && let Err(e) = v.validate(&value)
        {
            out.push(format!("parameter `{name}`={raw:?}: {e}"));
        }
    };
    for (t, s) in template.split('/').zip(entry.path.split('/')) {
        if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            let raw = percent_encoding::percent_decode_str(s).decode_utf8_lossy();
            check(name, &raw, &mut out);
        }
    }
    let query: Vec<(String, String)> = entry
        .query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect();
    for (k, v) in &query {
        if parameters
            .iter()
            .any(|p| p["name"] == k.as_str() && p["in"] != "query")
        {
            out.push(format!("`{k}` is not a query parameter"));
        } else {
            check(k, v, &mut out);
        }
    }
    for p in parameters
        .iter()
        .filter(|p| p["in"] == "query" && p["required"] == true)
    {
        if !query.iter().any(|(k, _)| p["name"] == k.as_str()) {
            out.push(format!(
                "the required query parameter `{}` is missing",
                p["name"]
            ));
        }
    }
    let body = &op["requestBody"];
    let sent = (!entry.request.is_empty()).then(|| serde_json::from_slice::<Value>(&entry.request));
    match (body.is_null(), sent) {
        (true, Some(_)) => out.push("the operation takes no body, and one was sent".to_owned()),
        (false, None) if body["required"] == true => {
            out.push("the operation requires a body, and none was sent".to_owned());
        }
        (_, Some(Err(e))) => out.push(format!("the body is not JSON: {e}")),
        (false, Some(Ok(sent))) => {
            let schema = resolve(body, &d.doc, 0)
                .pointer("/content/application~1json/schema")
                .cloned();
            match schema.map(|s| compile(&s)) {
                None => out.push("the body is JSON, and the operation takes another type".into()),
                Some(Err(e)) => out.push(format!("the request body's schema: {e}")),
                Some(Ok(v)) => out.extend(
                    v.iter_errors(&sent)
                        .take(3)
                        .map(|e| format!("body: {e} at {}", e.instance_path())),
                ),
            }
        }
        _ => {}
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
            request: Vec::new(),
            response: Some(response),
            fault: false,
        }
    }

    /// The check has teeth: shapes GitHub does not send are caught, what it sends passes.
    #[test]
    fn responses_github_could_not_send_are_caught() {
        let path = "/repos/acme/access/statuses/0123456789abcdef0123456789abcdef01234567";
        let status = |state: Value| {
            let mut v = json!({"id": 1, "state": state, "context": "portcullis/approvals",
                               "description": null, "created_at": "2026-11-22T09:00:00Z"});
            complete("POST", path, 201, &mut v);
            v
        };
        let sent = |v: Value| {
            let mut entry = logged("POST", path, 201, v);
            entry.request = br#"{"state":"pending","context":"portcullis/approvals"}"#.to_vec();
            entry
        };
        assert!(violations(&[sent(status(json!("pending")))]).is_empty());
        assert!(!violations(&[sent(status(json!(5)))]).is_empty());
        // Completed, a status has every field GitHub requires, `null` where it may be null.
        let complete_status = status(json!("pending"));
        assert_eq!(complete_status["creator"], Value::Null);
        assert!(complete_status["url"].is_string());
        // A field GitHub always sends, missing, is caught.
        let mut partial = complete_status.clone();
        partial.as_object_mut().unwrap().remove("url");
        assert!(!violations(&[sent(partial)]).is_empty());

        let pull = "/repos/acme/access/pulls/3";
        let mut full = json!({"number": 3, "draft": false});
        complete("GET", pull, 200, &mut full);
        assert!(violations(&[logged("GET", pull, 200, full)]).is_empty());
        assert!(!violations(&[logged("GET", pull, 200, json!({"number": 3}))]).is_empty());
        let mut wrong = json!({"number": "3"});
        complete("GET", pull, 200, &mut wrong);
        assert!(!violations(&[logged("GET", pull, 200, wrong)]).is_empty());
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

    /// Requests GitHub would refuse are caught: a parameter it does not document or of the
    /// wrong type, a body missing a required field, a body where none is taken.
    #[test]
    fn requests_github_would_refuse_are_caught() {
        let refused = |method: &str, path: &str, query: &str, body: &str| {
            let mut entry = logged(method, path, 401, json!({"message": "Bad credentials"}));
            entry.query = query.into();
            entry.request = body.as_bytes().to_vec();
            !violations(&[entry]).is_empty()
        };
        let list = "/repos/acme/access/pulls";
        assert!(!refused("GET", list, "state=all&per_page=100&page=2", ""));
        assert!(refused("GET", list, "state=everything", ""));
        assert!(refused("GET", list, "per_page=many", ""));
        assert!(refused("GET", list, "colour=blue", ""));
        assert!(refused("GET", list, "", r#"{"state":"all"}"#));
        assert!(refused("GET", "/repos/acme/access/pulls/three", "", ""));
        let status = "/repos/acme/access/statuses/0123456789abcdef0123456789abcdef01234567";
        assert!(!refused(
            "POST",
            status,
            "",
            r#"{"state":"success","context":"c"}"#
        ));
        assert!(refused("POST", status, "", r#"{"context":"c"}"#));
        assert!(refused("POST", status, "", r#"{"state":"fine"}"#));
        assert!(refused("POST", status, "", ""));
        assert!(refused("POST", status, "", "not json"));
    }
}
