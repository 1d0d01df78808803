//! The compiled schema check against the full JSON Schema validator: the same verdict on
//! every example file and on thousands of mutations of them, and a compiled check for every
//! schema (so the fast path is never silently off).

use portcullis_core::load::schema::{self, Kind};
use portcullis_core::load::yaml::{self, Key, Node, Pos, Value};
use proptest::prelude::*;

fn kind_of(path: &str) -> Kind {
    if path.contains("/access/") {
        Kind::Grant
    } else if path.contains("/apps/") {
        Kind::App
    } else if path.ends_with("people.yaml") {
        Kind::People
    } else if path.ends_with("sod.yaml") {
        Kind::Sod
    } else if path.ends_with("birthright.yaml") {
        Kind::Birthright
    } else {
        Kind::Settings
    }
}

fn examples() -> &'static [(Kind, Node)] {
    static CELL: std::sync::OnceLock<Vec<(Kind, Node)>> = std::sync::OnceLock::new();
    CELL.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut out = Vec::new();
        let mut dirs = vec![root.join("access"), root.join("policies")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("example folder") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "yaml") {
                    let text = std::fs::read(&path).expect("example file");
                    let node = yaml::parse(&text).expect("example files parse");
                    out.push((kind_of(&path.display().to_string()), node));
                }
            }
        }
        out.sort_by_key(|(k, n)| (format!("{k:?}"), format!("{n:?}")));
        out
    })
}

/// An example of a kind chosen first, so that the one-file kinds are drawn as often as grants.
fn pick(kind: usize, file: usize) -> &'static (Kind, Node) {
    let kind = Kind::ALL[kind % Kind::ALL.len()];
    let of_kind: Vec<&(Kind, Node)> = examples().iter().filter(|(k, _)| *k == kind).collect();
    of_kind[file % of_kind.len()]
}

fn agree(kind: Kind, node: &Node) -> bool {
    let full = schema::full_valid(kind, node);
    assert_eq!(
        schema::fast_valid(kind, node),
        Some(full),
        "compiled check and full validator disagree ({kind:?}) on {:#}",
        node.to_json()
    );
    full
}

#[test]
fn every_schema_has_a_compiled_check_that_passes_the_examples() {
    for kind in Kind::ALL {
        let empty = Node {
            value: Value::Map(Vec::new()),
            pos: Pos::START,
            end: Pos::START,
        };
        assert!(schema::fast_valid(kind, &empty).is_some(), "{kind:?}");
    }
    for (kind, node) in examples() {
        assert!(agree(*kind, node), "an example file is invalid: {kind:?}");
    }
}

fn scalar(value: Value) -> Node {
    Node {
        value,
        pos: Pos::START,
        end: Pos::START,
    }
}

/// Values chosen to sit on either side of the schemas' patterns, lengths, enums and types.
fn replacement(i: usize) -> Node {
    let long = "a".repeat(64);
    let s = |t: &str| scalar(Value::Str(t.to_owned()));
    match i % 30 {
        0 => s(""),
        1 => s("x"),
        2 => s("2026-13-45"),
        3 => s("2026-01-01"),
        4 => s("2026-01-01T10:00:00Z"),
        5 => s("2026-01-01T10:00"),
        6 => s("ABC"),
        7 => s("a b"),
        8 => s("é"),
        9 => s(&long),
        10 => s(&long[..63]),
        11 => s("30d"),
        12 => s("high"),
        13 => s("critical"),
        14 => s("contractor"),
        15 => s("leaver"),
        16 => scalar(Value::Int(-1)),
        17 => scalar(Value::Int(0)),
        18 => scalar(Value::Int(3)),
        19 => scalar(Value::Int(100_000)),
        20 => scalar(Value::Float(0.5)),
        21 => scalar(Value::Float(30.0)),
        22 => scalar(Value::Float(f64::NAN)),
        23 => scalar(Value::Bool(true)),
        24 => scalar(Value::Null),
        25 => scalar(Value::Seq(Vec::new())),
        26 => scalar(Value::Map(Vec::new())),
        27 => scalar(Value::Seq(vec![s("x"), s("x")])),
        28 => s("security"),
        _ => s("2026-02-30"),
    }
}

const KEYS: &[&str] = &[
    "id",
    "role",
    "person",
    "app",
    "expires",
    "justification",
    "owners",
    "risk",
    "roles",
    "approvals",
    "type",
    "status",
    "end_date",
    "manager",
    "max_duration",
    "privileged",
    "peer_adoption",
    "min_peers",
    "login",
    "rules",
    "conflicts",
    "severity",
    "warn_days",
    "reviewed",
    "emergency",
    "grants",
    "people",
    "department",
    "unknown_field",
];

/// Visits the nodes in order and applies `edit` to the `target`-th one.
fn edit_nth(node: &mut Node, target: &mut usize, edit: &dyn Fn(&mut Node)) -> bool {
    if *target == 0 {
        edit(node);
        return true;
    }
    *target -= 1;
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().any(|n| edit_nth(n, target, edit)),
        Value::Map(entries) => entries.iter_mut().any(|(_, n)| edit_nth(n, target, edit)),
        _ => false,
    }
}

fn mutate(node: &mut Node, edits: &[(usize, usize, usize)]) {
    for (at, how, what) in edits {
        let mut target = at % 400;
        let (how, what) = (*how, *what);
        edit_nth(node, &mut target, &move |n: &mut Node| match how % 4 {
            0 | 1 => *n = replacement(what),
            2 => {
                if let Value::Map(entries) = &mut n.value
                    && !entries.is_empty()
                {
                    let i = what % entries.len();
                    entries.remove(i);
                }
            }
            _ => {
                if let Value::Map(entries) = &mut n.value {
                    let name = KEYS[what % KEYS.len()];
                    if !entries.iter().any(|(k, _)| k.name == name) {
                        entries.push((
                            Key {
                                name: name.to_owned(),
                                pos: Pos::START,
                            },
                            replacement(what / 7),
                        ));
                    }
                }
            }
        });
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_trees_get_the_same_verdict(seed in 0usize..10_000, edits in prop::collection::vec((0usize..400, 0usize..4, 0usize..1000), 1..4)) {
        let (kind, node) = pick(seed, seed / 7);
        let mut node = node.clone();
        mutate(&mut node, &edits);
        agree(*kind, &node);
    }
}

#[test]
fn the_mutations_reach_both_verdicts_for_every_kind() {
    // A fixed walk through the same mutations: each kind must see valid and invalid trees,
    // or the differential test above would be comparing only one side.
    let mut seen: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    let mut x: usize = 12345;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        x >> 33
    };
    for _ in 0..4000 {
        let (kind, node) = pick(next(), next());
        let mut node = node.clone();
        let edits = [(next() % 400, next() % 4, next() % 1000)];
        mutate(&mut node, &edits);
        let entry = seen.entry(format!("{kind:?}")).or_default();
        if agree(*kind, &node) {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
    }
    assert_eq!(seen.len(), Kind::ALL.len(), "{seen:?}");
    for (kind, (valid, invalid)) in &seen {
        assert!(
            *valid > 0 && *invalid > 0,
            "{kind}: {valid} valid, {invalid} invalid"
        );
    }
}
