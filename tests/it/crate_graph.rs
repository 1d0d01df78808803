//! The core's purity is a property of the crate graph: `portcullis-core` must not reach a git,
//! network, database, directory, process or async-runtime crate, directly or through another
//! crate. A dependency added to the core that pulls one in fails here, whatever the code does.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// Crates that do I/O the core must not do (or talk to a system it must not know).
const FORBIDDEN: &[&str] = &[
    "git2",
    "libgit2-sys",
    "gix",
    "ureq",
    "hyper",
    "reqwest",
    "http",
    "h2",
    "rustls",
    "ring",
    "openssl",
    "openssl-sys",
    "native-tls",
    "postgres",
    "tokio-postgres",
    "ldap3",
    "lber",
    "tokio",
    "mio",
    "async-std",
    "futures-executor",
    "socket2",
    "rustix",
    "nix",
    "mimalloc",
];

/// Platform crates the core may reach only through another crate, never name itself: jsonschema
/// seeds its hash maps with `getrandom` and locks with `parking_lot`, both over `libc`.
const NOT_DIRECT: &[&str] = &["libc", "getrandom"];

struct Graph {
    names: BTreeMap<String, String>,
    normal_deps: BTreeMap<String, Vec<String>>,
}

fn graph() -> Graph {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline", "--locked"])
        .args(["--filter-platform", "x86_64-unknown-linux-gnu"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_owned(),
                p["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut normal_deps = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().unwrap() {
        let deps = node["deps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["kind"].is_null())
            })
            .map(|d| d["pkg"].as_str().unwrap().to_owned())
            .collect();
        normal_deps.insert(node["id"].as_str().unwrap().to_owned(), deps);
    }
    Graph { names, normal_deps }
}

impl Graph {
    fn id(&self, name: &str) -> &str {
        self.names
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(id, _)| id.as_str())
            .unwrap()
    }

    fn direct(&self, name: &str) -> BTreeSet<&str> {
        self.normal_deps[self.id(name)]
            .iter()
            .map(|id| self.names[id].as_str())
            .collect()
    }

    /// Every crate `name` builds on, with the chain that reaches it.
    fn reach<'a>(&'a self, name: &'a str) -> BTreeMap<&'a str, Vec<&'a str>> {
        let mut seen: BTreeMap<&'a str, Vec<&'a str>> = BTreeMap::new();
        let mut todo = vec![(self.id(name), vec![name])];
        while let Some((id, path)) = todo.pop() {
            for dep in &self.normal_deps[id] {
                let dep_name = self.names[dep].as_str();
                if seen.contains_key(dep_name) {
                    continue;
                }
                let mut p = path.clone();
                p.push(dep_name);
                seen.insert(dep_name, p.clone());
                todo.push((dep.as_str(), p));
            }
        }
        seen
    }
}

#[test]
fn the_core_reaches_no_io_crate_directly_or_not() {
    let g = graph();
    let reach = g.reach("portcullis-core");
    let found: Vec<String> = reach
        .iter()
        .filter(|(name, _)| {
            FORBIDDEN.contains(name) || name.starts_with("gix") || name.starts_with("portcullis-")
        })
        .map(|(_, path)| path.join(" -> "))
        .collect();
    assert!(
        found.is_empty(),
        "the core reaches I/O crates:\n{}",
        found.join("\n")
    );
    let direct = g.direct("portcullis-core");
    for name in NOT_DIRECT {
        assert!(
            !direct.contains(name),
            "the core depends on `{name}` itself"
        );
    }
}

#[test]
fn each_edge_crate_reaches_only_what_its_job_needs() {
    let g = graph();
    // The git edge has no network and no provisioner; the GitHub client no git history, ledger
    // or database (it implements the core's GitHub port, so it may name the core); the
    // provisioners do not read git.
    let rules: &[(&str, &[&str])] = &[
        (
            "portcullis-git",
            &[
                "ureq",
                "postgres",
                "ldap3",
                "portcullis-github",
                "portcullis-provisioners",
            ],
        ),
        (
            "portcullis-github",
            &[
                "postgres",
                "ldap3",
                "portcullis-git",
                "portcullis-provisioners",
            ],
        ),
        ("portcullis-provisioners", &["portcullis-git"]),
    ];
    for (krate, forbidden) in rules {
        let reach = g.reach(krate);
        for name in *forbidden {
            assert!(
                !reach.contains_key(name),
                "{krate} reaches {}",
                reach[name].join(" -> ")
            );
        }
    }
    // And the check itself can see: the provisioners do reach a database client.
    assert!(g.reach("portcullis-provisioners").contains_key("postgres"));
    assert!(g.reach("portcullis-git").contains_key("git2"));
}
