//! The JSON Schemas in `schemas/` compiled to a yes/no check that runs on the parsed tree.
//!
//! Schema validation is the one question asked of every one of 100,000 grant files and of
//! every entry of a 50,000-person directory, and nearly always answered "valid". Asking the
//! full validator means building a JSON copy of each tree first, which cost as much as
//! parsing. This module interprets the same schema documents — no second source of truth —
//! for the keywords they use, and refuses to compile a schema with any keyword it does not
//! know (the full validator then answers alone). It only says valid or not: every finding is
//! still explained by the full validator. A differential property test holds the two to the
//! same verdict.

use std::collections::HashMap;

use regex::Regex;
use serde_json::Value as J;

use super::yaml::{Node, Value};

/// One compiled schema object (or `true`/`false`).
#[derive(Debug, Default)]
struct Schema {
    never: bool,
    types: Option<Vec<String>>,
    reference: Option<usize>,
    properties: Vec<(String, usize)>,
    required: Vec<String>,
    /// `additionalProperties`: `None` allows anything.
    additional: Option<usize>,
    pattern: Option<Regex>,
    items: Option<usize>,
    constant: Option<J>,
    options: Option<Vec<J>>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    min_items: Option<u64>,
    unique_items: bool,
    minimum: Option<f64>,
    exclusive_minimum: Option<f64>,
    maximum: Option<f64>,
    min_properties: Option<u64>,
    /// `propertyNames`: every key, as a string, against this schema.
    names: Option<usize>,
    when: Option<(usize, usize)>,
    any_of: Vec<usize>,
    all_of: Vec<usize>,
}

/// A schema document, compiled: an arena of schemas, the root first.
#[derive(Debug)]
pub struct Compiled {
    arena: Vec<Schema>,
    root: usize,
}

/// Keywords that say something about the document but nothing about validity.
const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$id",
    "$comment",
    "$defs",
    "title",
    "description",
    "examples",
    "default",
    "deprecated",
    "readOnly",
    "writeOnly",
];

impl Compiled {
    /// Compiles a schema document; `None` when it uses a keyword this module does not
    /// implement, or a `$ref` other than `#/$defs/<name>`.
    pub fn new(doc: &J) -> Option<Compiled> {
        let mut c = Compiler {
            arena: Vec::new(),
            defs: HashMap::new(),
            doc,
        };
        let root = c.compile(doc)?;
        Some(Compiled {
            arena: c.arena,
            root,
        })
    }

    pub fn is_valid(&self, node: &Node) -> bool {
        self.valid(self.root, node)
    }

    fn valid(&self, at: usize, node: &Node) -> bool {
        let s = &self.arena[at];
        if s.never {
            return false;
        }
        if let Some(r) = s.reference
            && !self.valid(r, node)
        {
            return false;
        }
        if let Some(types) = &s.types
            && !types.iter().any(|t| has_type(node, t))
        {
            return false;
        }
        if let Some(c) = &s.constant
            && !equal(node, c)
        {
            return false;
        }
        if let Some(options) = &s.options
            && !options.iter().any(|o| equal(node, o))
        {
            return false;
        }
        match &node.value {
            Value::Str(text) => {
                if s.min_length.is_some() || s.max_length.is_some() {
                    let n = text.chars().count() as u64;
                    if s.min_length.is_some_and(|m| n < m) || s.max_length.is_some_and(|m| n > m) {
                        return false;
                    }
                }
                if let Some(p) = &s.pattern
                    && !p.is_match(text)
                {
                    return false;
                }
            }
            Value::Seq(items) => {
                if s.min_items.is_some_and(|m| (items.len() as u64) < m) {
                    return false;
                }
                if let Some(i) = s.items
                    && !items.iter().all(|item| self.valid(i, item))
                {
                    return false;
                }
                if s.unique_items {
                    for (i, a) in items.iter().enumerate() {
                        if items[..i].iter().any(|b| same(a, b)) {
                            return false;
                        }
                    }
                }
            }
            Value::Map(entries) => {
                if s.min_properties.is_some_and(|m| (entries.len() as u64) < m) {
                    return false;
                }
                if let Some(n) = s.names
                    && !entries.iter().all(|(k, _)| {
                        self.valid(
                            n,
                            &Node {
                                value: Value::Str(k.name.clone()),
                                pos: k.pos,
                                end: k.pos,
                            },
                        )
                    })
                {
                    return false;
                }
                if !s
                    .required
                    .iter()
                    .all(|r| entries.iter().any(|(k, _)| k.name == *r))
                {
                    return false;
                }
                for (key, value) in entries {
                    match s.properties.iter().find(|(name, _)| *name == key.name) {
                        Some((_, p)) => {
                            if !self.valid(*p, value) {
                                return false;
                            }
                        }
                        None => {
                            if let Some(a) = s.additional
                                && !self.valid(a, value)
                            {
                                return false;
                            }
                        }
                    }
                }
            }
            Value::Int(_) | Value::Float(_) => {
                if let Some(x) = number(node)
                    && (s.minimum.is_some_and(|m| x < m)
                        || s.exclusive_minimum.is_some_and(|m| x <= m)
                        || s.maximum.is_some_and(|m| x > m))
                {
                    return false;
                }
            }
            Value::Null | Value::Bool(_) => {}
        }
        if let Some((cond, then)) = s.when
            && self.valid(cond, node)
            && !self.valid(then, node)
        {
            return false;
        }
        if !s.any_of.is_empty() && !s.any_of.iter().any(|a| self.valid(*a, node)) {
            return false;
        }
        if !s.all_of.iter().all(|a| self.valid(*a, node)) {
            return false;
        }
        true
    }
}

struct Compiler<'d> {
    arena: Vec<Schema>,
    defs: HashMap<String, usize>,
    doc: &'d J,
}

impl Compiler<'_> {
    fn compile(&mut self, schema: &J) -> Option<usize> {
        let at = self.arena.len();
        self.arena.push(Schema::default());
        let obj = match schema {
            J::Bool(true) => return Some(at),
            J::Bool(false) => {
                self.arena[at].never = true;
                return Some(at);
            }
            J::Object(obj) => obj,
            _ => return None,
        };
        let mut s = Schema::default();
        for (key, value) in obj {
            match key.as_str() {
                k if ANNOTATIONS.contains(&k) => {}
                "type" => {
                    s.types = Some(match value {
                        J::String(t) => vec![t.clone()],
                        J::Array(ts) => ts
                            .iter()
                            .map(|t| t.as_str().map(str::to_owned))
                            .collect::<Option<Vec<_>>>()?,
                        _ => return None,
                    });
                }
                "$ref" => s.reference = Some(self.reference(value.as_str()?)?),
                "properties" => {
                    for (name, sub) in value.as_object()? {
                        let p = self.compile(sub)?;
                        s.properties.push((name.clone(), p));
                    }
                }
                "required" => {
                    s.required = value
                        .as_array()?
                        .iter()
                        .map(|r| r.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()?;
                }
                "additionalProperties" => s.additional = Some(self.compile(value)?),
                "pattern" => s.pattern = Some(Regex::new(value.as_str()?).ok()?),
                "items" => s.items = Some(self.compile(value)?),
                "const" => s.constant = Some(value.clone()),
                "enum" => s.options = Some(value.as_array()?.clone()),
                "minLength" => s.min_length = Some(value.as_u64()?),
                "maxLength" => s.max_length = Some(value.as_u64()?),
                "minItems" => s.min_items = Some(value.as_u64()?),
                "uniqueItems" => s.unique_items = value.as_bool()?,
                "minimum" => s.minimum = Some(value.as_f64()?),
                "maximum" => s.maximum = Some(value.as_f64()?),
                "exclusiveMinimum" => s.exclusive_minimum = Some(value.as_f64()?),
                "minProperties" => s.min_properties = Some(value.as_u64()?),
                "propertyNames" => s.names = Some(self.compile(value)?),
                "allOf" => {
                    for sub in value.as_array()? {
                        let a = self.compile(sub)?;
                        s.all_of.push(a);
                    }
                }
                "if" => {
                    let cond = self.compile(value)?;
                    // `if` without `then` (or with `else`) is not used by our schemas.
                    let then = self.compile(obj.get("then")?)?;
                    if obj.contains_key("else") {
                        return None;
                    }
                    s.when = Some((cond, then));
                }
                "then" => {
                    obj.get("if")?;
                }
                "anyOf" => {
                    for sub in value.as_array()? {
                        let a = self.compile(sub)?;
                        s.any_of.push(a);
                    }
                    if s.any_of.is_empty() {
                        return None;
                    }
                }
                _ => return None,
            }
        }
        self.arena[at] = s;
        Some(at)
    }

    fn reference(&mut self, target: &str) -> Option<usize> {
        let name = target.strip_prefix("#/$defs/")?;
        if let Some(at) = self.defs.get(name) {
            return Some(*at);
        }
        let def = self.doc.get("$defs")?.get(name)?;
        // Reserve the slot first so a recursive definition refers to itself.
        let at = self.arena.len();
        self.arena.push(Schema::default());
        self.defs.insert(name.to_owned(), at);
        let body = self.compile(def)?;
        self.arena[at].reference = Some(body);
        Some(at)
    }
}

/// A value's JSON number, as the full validator sees the tree (`.nan` and infinities become
/// `null` in the JSON copy).
fn number(node: &Node) -> Option<f64> {
    match node.value {
        Value::Int(i) => Some(i as f64),
        Value::Float(f) if f.is_finite() => Some(f),
        _ => None,
    }
}

fn is_null(node: &Node) -> bool {
    matches!(node.value, Value::Null) || matches!(node.value, Value::Float(f) if !f.is_finite())
}

fn has_type(node: &Node, t: &str) -> bool {
    match t {
        "null" => is_null(node),
        "boolean" => matches!(node.value, Value::Bool(_)),
        "string" => matches!(node.value, Value::Str(_)),
        "array" => matches!(node.value, Value::Seq(_)),
        "object" => matches!(node.value, Value::Map(_)),
        "number" => number(node).is_some(),
        "integer" => number(node).is_some_and(|x| x.fract() == 0.0),
        _ => false,
    }
}

/// JSON equality of a tree and a JSON value (numbers compare by value).
fn equal(node: &Node, j: &J) -> bool {
    match (&node.value, j) {
        _ if is_null(node) => j.is_null(),
        (Value::Bool(a), J::Bool(b)) => a == b,
        (Value::Str(a), J::String(b)) => a == b,
        (Value::Int(_) | Value::Float(_), J::Number(b)) => number(node) == b.as_f64(),
        (Value::Seq(a), J::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equal(x, y))
        }
        (Value::Map(a), J::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, v)| b.get(&k.name).is_some_and(|w| equal(v, w)))
        }
        _ => false,
    }
}

/// JSON equality of two trees, for `uniqueItems`.
fn same(a: &Node, b: &Node) -> bool {
    if is_null(a) || is_null(b) {
        return is_null(a) && is_null(b);
    }
    match (&a.value, &b.value) {
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
            number(a) == number(b)
        }
        (Value::Seq(x), Value::Seq(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    y.iter()
                        .find(|(l, _)| l.name == k.name)
                        .is_some_and(|(_, w)| same(v, w))
                })
        }
        _ => false,
    }
}
