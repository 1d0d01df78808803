//! The JSON Schemas in `schemas/`, compiled once, and their errors turned into diagnostics that
//! point at the offending value. The schemas are the single source of truth for shape; the
//! field lists here exist so a test can prove the model reads exactly what the schemas allow.

use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;

use super::yaml::{Node, Pos};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Settings,
    People,
    App,
    Sod,
    Birthright,
    Grant,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Settings,
        Kind::People,
        Kind::App,
        Kind::Sod,
        Kind::Birthright,
        Kind::Grant,
    ];

    pub fn file_name(self) -> &'static str {
        match self {
            Kind::Settings => "settings.schema.json",
            Kind::People => "people.schema.json",
            Kind::App => "app.schema.json",
            Kind::Sod => "sod.schema.json",
            Kind::Birthright => "birthright.schema.json",
            Kind::Grant => "grant.schema.json",
        }
    }

    pub fn source(self) -> &'static str {
        match self {
            Kind::Settings => include_str!("../../../../schemas/settings.schema.json"),
            Kind::People => include_str!("../../../../schemas/people.schema.json"),
            Kind::App => include_str!("../../../../schemas/app.schema.json"),
            Kind::Sod => include_str!("../../../../schemas/sod.schema.json"),
            Kind::Birthright => include_str!("../../../../schemas/birthright.schema.json"),
            Kind::Grant => include_str!("../../../../schemas/grant.schema.json"),
        }
    }
}

/// Every field name the model reads, per object kind; the schema-agreement test compares these
/// with the `properties` of each schema object.
pub mod fields {
    pub const SETTINGS: &[&str] = &[
        "org",
        "security_team",
        "emergency_approvers",
        "warn_days",
        "min_justification",
        "default_max_duration",
        "emergency_max_duration",
        "request_ttl",
        "portcullis_version",
        "evidence_public_key",
        "bot_login",
        "team_ids",
    ];
    pub const RISK_DURATIONS: &[&str] = &["low", "medium", "high", "critical"];
    pub const PEOPLE: &[&str] = &["people"];
    pub const PERSON: &[&str] = &[
        "id",
        "name",
        "email",
        "github",
        "github_id",
        "department",
        "title",
        "manager",
        "type",
        "status",
        "end_date",
    ];
    pub const APP: &[&str] = &[
        "id",
        "name",
        "description",
        "owners",
        "risk",
        "review_every",
        "unmanaged",
        "provisioner",
        "roles",
    ];
    pub const ROLE: &[&str] = &[
        "description",
        "approvals",
        "max_duration",
        "privileged",
        "auto_approve",
        "target",
    ];
    pub const AUTO_APPROVE: &[&str] = &["peer_adoption", "min_peers"];
    pub const PROVISIONER: &[&str] = &[
        "type",
        "org",
        "login",
        "dsn_env",
        "url_env",
        "bind_dn",
        "bind_password_env",
        "group_base",
        "token_env",
        "checklist",
        "command",
        "timeout_seconds",
        "env",
    ];
    pub const SOD: &[&str] = &["rules", "exceptions"];
    pub const SOD_RULE: &[&str] = &["id", "description", "severity", "conflicts"];
    pub const SOD_EXCEPTION: &[&str] = &["rule", "person", "justification", "expires"];
    pub const BIRTHRIGHT: &[&str] = &["rules"];
    pub const BIRTHRIGHT_RULE: &[&str] =
        &["department", "title", "type", "grants", "justification"];
    pub const GRANT_FILE: &[&str] = &["person", "app", "grants"];
    pub const GRANT: &[&str] = &[
        "role",
        "justification",
        "expires",
        "ticket",
        "emergency",
        "reviewed",
    ];

    pub const ALL: &[&[&str]] = &[
        SETTINGS,
        RISK_DURATIONS,
        PEOPLE,
        PERSON,
        APP,
        ROLE,
        AUTO_APPROVE,
        PROVISIONER,
        SOD,
        SOD_RULE,
        SOD_EXCEPTION,
        BIRTHRIGHT,
        BIRTHRIGHT_RULE,
        GRANT_FILE,
        GRANT,
    ];
}

fn validators() -> &'static [jsonschema::Validator] {
    static CELL: OnceLock<Vec<jsonschema::Validator>> = OnceLock::new();
    CELL.get_or_init(|| {
        Kind::ALL
            .iter()
            .map(|kind| {
                let schema: serde_json::Value = serde_json::from_str(kind.source())
                    .unwrap_or_else(|e| panic!("built-in {} is not JSON: {e}", kind.file_name()));
                jsonschema::draft202012::new(&schema)
                    .unwrap_or_else(|e| panic!("built-in {} is invalid: {e}", kind.file_name()))
            })
            .collect()
    })
}

fn validator(kind: Kind) -> &'static jsonschema::Validator {
    &validators()[Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0)]
}

/// One schema violation, anchored in the file.
#[derive(Clone, Debug, PartialEq)]
pub struct SchemaError {
    /// JSON pointer of the offending value (`/people/3/end_date`).
    pub pointer: String,
    pub pos: Pos,
    pub message: String,
    pub hint: Option<String>,
}

/// The schemas as compiled yes/no checks over the tree (see `shape`); `None` for a schema the
/// compiled check does not cover.
fn compiled(kind: Kind) -> Option<&'static super::shape::Compiled> {
    static CELL: OnceLock<Vec<Option<super::shape::Compiled>>> = OnceLock::new();
    CELL.get_or_init(|| {
        Kind::ALL
            .iter()
            .map(|kind| {
                let schema: serde_json::Value = serde_json::from_str(kind.source()).ok()?;
                super::shape::Compiled::new(&schema)
            })
            .collect()
    })[Kind::ALL.iter().position(|k| *k == kind)?]
    .as_ref()
}

/// Whether the tree is valid, asked of the compiled check (`None` when it has none).
pub fn fast_valid(kind: Kind, root: &Node) -> Option<bool> {
    compiled(kind).map(|c| c.is_valid(root))
}

/// Whether the tree is valid, asked of the full validator.
pub fn full_valid(kind: Kind, root: &Node) -> bool {
    validator(kind).is_valid(&root.to_json())
}

/// Validates a parsed file; returns every violation, one per offending value.
pub fn validate(kind: Kind, root: &Node) -> Vec<SchemaError> {
    // The common case, decided without a JSON copy of the tree; a file that fails is
    // explained by the full validator below.
    if fast_valid(kind, root) == Some(true) {
        return Vec::new();
    }
    if kind == Kind::People
        && let Some(errors) = validate_people(root)
    {
        return errors;
    }
    errors_of(validator(kind), root, "")
}

/// The people directory, one entry per core: the top level with an empty list, then each
/// entry against the entry schema, its pointers prefixed with `/people/<i>`. The same
/// findings as one validation of the whole file, without building one 50k-entry JSON value.
fn validate_people(root: &Node) -> Option<Vec<SchemaError>> {
    use rayon::prelude::*;
    let super::yaml::Value::Map(entries) = &root.value else {
        return None;
    };
    let items = match entries.as_slice() {
        [(key, list)] if key.name == "people" => match &list.value {
            super::yaml::Value::Seq(items) if items.len() >= 512 => items,
            _ => return None,
        },
        _ => return None,
    };
    let mut shell = root.clone();
    if let super::yaml::Value::Map(entries) = &mut shell.value {
        entries[0].1.value = super::yaml::Value::Seq(Vec::new());
    }
    let mut out = errors_of(validator(Kind::People), &shell, "");
    let per_item: Vec<Vec<SchemaError>> = items
        .par_iter()
        .enumerate()
        .map(|(i, item)| errors_of(person_validator(), item, &format!("/people/{i}")))
        .collect();
    out.extend(per_item.into_iter().flatten());
    Some(out)
}

/// The people schema's entry definition as a schema of its own.
fn person_validator() -> &'static jsonschema::Validator {
    static CELL: OnceLock<jsonschema::Validator> = OnceLock::new();
    CELL.get_or_init(|| {
        let people: serde_json::Value =
            serde_json::from_str(Kind::People.source()).expect("built-in people schema");
        let schema = serde_json::json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$defs": people["$defs"],
            "$ref": "#/$defs/person",
        });
        jsonschema::draft202012::new(&schema).expect("the person entry schema compiles")
    })
}

/// Every violation of `validator` in `root`, with pointers prefixed by `prefix` (the place
/// of `root` in its file).
fn errors_of(validator: &jsonschema::Validator, root: &Node, prefix: &str) -> Vec<SchemaError> {
    let json = root.to_json();
    if validator.is_valid(&json) {
        return Vec::new();
    }
    let mut out: Vec<SchemaError> = Vec::new();
    for error in validator.iter_errors(&json) {
        let local = error.instance_path().as_str().to_owned();
        let node = root.at_pointer(&local).unwrap_or(root);
        let pointer = format!("{prefix}{local}");
        let field = pointer.rsplit('/').next().unwrap_or("");
        let (pos, message, hint) = match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                let name = unexpected.first().cloned().unwrap_or_default();
                let pos = node.key_pos(&name).unwrap_or(node.pos);
                // A field of another kind of file (or of another provisioner type) is not a
                // typo: "did you mean `login`" for `login` helps nobody.
                let hint = match closest_field(&name) {
                    Some(f) if f == name => Some(format!(
                        "`{name}` is not a field here (it belongs to another kind of entry); remove it, and see the schema for the fields allowed here"
                    )),
                    Some(f) => Some(format!("did you mean `{f}`?")),
                    None => None,
                };
                (
                    pos,
                    format!("unknown field `{name}`"),
                    hint.or_else(|| {
                        Some("remove the field; see the schema for the fields allowed here".into())
                    }),
                )
            }
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or("?");
                (
                    node.pos,
                    format!("missing required field `{name}`"),
                    Some(format!("add `{name}:`")),
                )
            }
            ValidationErrorKind::Pattern { .. } => (
                node.pos,
                format!("`{}` is not a valid {}", display(node), describe(field)),
                None,
            ),
            ValidationErrorKind::Enum { options } => {
                let allowed: Vec<String> = options
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|o| o.as_str().map_or_else(|| o.to_string(), str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                let listed: Vec<String> = allowed.iter().map(|o| format!("`{o}`")).collect();
                let shown = display(node);
                (
                    node.pos,
                    format!(
                        "`{field}` cannot be `{shown}`: it is one of {}",
                        listed.join(", ")
                    ),
                    crate::diag::suggest::closest(&shown, allowed.iter().map(String::as_str))
                        .map(|c| format!("did you mean `{c}`?")),
                )
            }
            ValidationErrorKind::Type { kind } => {
                let wanted = match kind {
                    jsonschema::error::TypeKind::Single(t) => kind_name(*t),
                    jsonschema::error::TypeKind::Multiple(_) => "another kind of value",
                };
                (
                    node.pos,
                    format!(
                        "`{field}` must be {wanted}, but here it is {}",
                        value_kind(node)
                    ),
                    type_hint(node, wanted),
                )
            }
            _ => (
                node.pos,
                format!(
                    "`{}`: {error}",
                    if field.is_empty() { "file" } else { field }
                ),
                None,
            ),
        };
        // One finding per value: nested combinators can report the same spot more than once.
        if !out.iter().any(|e| e.pos == pos) {
            out.push(SchemaError {
                pointer: pointer.clone(),
                pos,
                message,
                hint,
            });
        }
    }
    out
}

fn display(node: &Node) -> String {
    match node.as_str() {
        Some(s) => s.to_owned(),
        None => node.to_json().to_string(),
    }
}

/// What a person reading the file sees, in their words rather than JSON's.
fn kind_name(t: jsonschema::JsonType) -> &'static str {
    use jsonschema::JsonType as T;
    match t {
        T::Array => "a list",
        T::Object => "a mapping of `key: value` lines",
        T::String => "text",
        T::Integer => "a whole number",
        T::Number => "a number",
        T::Boolean => "`true` or `false`",
        T::Null => "empty",
    }
}

fn value_kind(node: &Node) -> &'static str {
    use super::yaml::Value as V;
    match &node.value {
        V::Null => "empty",
        V::Bool(_) => "`true` or `false`",
        V::Int(_) | V::Float(_) => "a number",
        V::Str(_) => "text",
        V::Seq(_) => "a list",
        V::Map(_) => "a mapping",
    }
}

fn type_hint(node: &Node, wanted: &str) -> Option<String> {
    if wanted == "a list" && matches!(node.value, super::yaml::Value::Map(_)) {
        return Some(
            "start each entry of the list with `- ` (a dash and a space), one entry after another"
                .into(),
        );
    }
    if matches!(node.value, super::yaml::Value::Null) {
        return Some("write the value after the colon".into());
    }
    match &node.value {
        super::yaml::Value::Int(_) | super::yaml::Value::Float(_) => {
            Some("quote the value (`\"123\"`) if it is a name or id".into())
        }
        super::yaml::Value::Str(s)
            if matches!(s.as_str(), "yes" | "no" | "True" | "False" | "on" | "off") =>
        {
            Some("booleans are written `true` or `false`".into())
        }
        _ => None,
    }
}

fn describe(field: &str) -> &'static str {
    match field {
        "expires" => {
            "expiry: write a date `YYYY-MM-DD` or an RFC 3339 timestamp with seconds and an offset (`2026-12-31T18:00:00Z`)"
        }
        "reviewed" | "end_date" => "date: write `YYYY-MM-DD`",
        "max_duration"
        | "review_every"
        | "emergency_max_duration"
        | "request_ttl"
        | "low"
        | "medium"
        | "high"
        | "critical" => "duration: write a number and `h`, `d` or `w` (`90d`)",
        "security_team" | "emergency_approvers" => {
            "GitHub team or user: write `@org/team` or `@user`"
        }
        _ if field.bytes().all(|b| b.is_ascii_digit()) => "value here",
        _ => "value: see the schema for the allowed form",
    }
}

fn closest_field(name: &str) -> Option<&'static str> {
    let all = || fields::ALL.iter().flat_map(|f| f.iter().copied());
    all()
        .find(|f| *f == name)
        .or_else(|| crate::diag::suggest::closest(name, all()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_entries_validated_one_by_one_give_the_whole_file_findings() {
        let mut text = String::from("people:\n");
        for i in 0..700 {
            let extra = match i % 97 {
                3 => "    emial: x@example.com\n",
                11 => "    end_date: 2026-1-01\n",
                29 => "    manager: 12\n",
                41 => "    title: [not, text]\n",
                _ => "",
            };
            let name = if i % 89 == 5 {
                ""
            } else {
                "    name: Someone\n"
            };
            text.push_str(&format!(
                "  - id: p{i}\n{name}    email: p{i}@example.com\n    department: d\n    type: employee\n    status: {}\n{extra}",
                if i % 83 == 7 { "gone" } else { "active" }
            ));
        }
        text.push_str("  - just a string\nextra: 1\n");
        let root = crate::load::yaml::parse(text.as_bytes()).unwrap();
        let key = |e: &SchemaError| (e.pos.line, e.pos.col, e.pointer.clone(), e.message.clone());
        let mut whole: Vec<_> = errors_of(validator(Kind::People), &root, "")
            .iter()
            .map(key)
            .collect();
        whole.sort();
        assert!(
            whole.len() > 30,
            "the fixture has findings: {}",
            whole.len()
        );
        // The top-level `extra:` key makes it fall back to the whole-file path; without it,
        // the per-entry path must agree.
        let text = text.replace("extra: 1\n", "");
        let root = crate::load::yaml::parse(text.as_bytes()).unwrap();
        let mut whole: Vec<_> = errors_of(validator(Kind::People), &root, "")
            .iter()
            .map(key)
            .collect();
        let mut split: Vec<_> = validate_people(&root)
            .expect("split path")
            .iter()
            .map(key)
            .collect();
        whole.sort();
        split.sort();
        assert_eq!(whole, split);
    }

    /// Every object's `properties` in the schemas, skipping `if` conditions and the per-type
    /// provisioner variants (each a subset of the closed `provisioner` object).
    fn schema_objects(value: &serde_json::Value, path: &str, out: &mut Vec<(String, Vec<String>)>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::Object(props)) = map.get("properties")
                    && !path.ends_with("/if")
                    && !path.contains("/provisioner-")
                {
                    let mut keys: Vec<String> = props.keys().cloned().collect();
                    keys.sort();
                    out.push((path.to_owned(), keys));
                }
                for (k, v) in map {
                    schema_objects(v, &format!("{path}/{k}"), out);
                }
            }
            serde_json::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    schema_objects(v, &format!("{path}/{i}"), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn schemas_and_model_read_the_same_fields() {
        let mut in_schemas: Vec<Vec<String>> = Vec::new();
        for kind in Kind::ALL {
            let schema: serde_json::Value = serde_json::from_str(kind.source()).unwrap();
            let mut objects = Vec::new();
            schema_objects(&schema, kind.file_name(), &mut objects);
            assert!(!objects.is_empty(), "{}", kind.file_name());
            in_schemas.extend(objects.into_iter().map(|(_, keys)| keys));
        }
        let mut in_model: Vec<Vec<String>> = fields::ALL
            .iter()
            .map(|f| {
                let mut v: Vec<String> = f.iter().map(|s| (*s).to_owned()).collect();
                v.sort();
                v
            })
            .collect();
        in_schemas.sort();
        in_model.sort();
        assert_eq!(
            in_schemas, in_model,
            "schemas/ and load::schema::fields disagree"
        );
    }

    #[test]
    fn every_schema_is_draft_2020_12_and_closed() {
        for kind in Kind::ALL {
            let schema: serde_json::Value = serde_json::from_str(kind.source()).unwrap();
            assert_eq!(
                schema["$schema"],
                "https://json-schema.org/draft/2020-12/schema"
            );
            assert!(jsonschema::meta::is_valid(&schema), "{}", kind.file_name());
            assert_eq!(
                schema["additionalProperties"],
                false,
                "{}",
                kind.file_name()
            );
        }
    }

    #[test]
    fn typos_get_a_suggestion() {
        assert_eq!(closest_field("expiry"), Some("expires"));
        assert_eq!(closest_field("justificaton"), Some("justification"));
        assert_eq!(closest_field("zzzzzzzz"), None);
    }
}
