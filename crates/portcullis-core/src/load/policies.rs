//! The files under `policies/`: settings, people, app catalog, SoD rules and birthright rules.

use std::collections::BTreeMap;

use crate::diag::{Diagnostic, Related, Rule};
use crate::model::*;
use crate::snapshot::Snapshot;

use super::layout::FileKind;
use super::schema::Kind;
use super::yaml::{Node, Pos};
use super::{
    bool_of, date_of, duration_of, invalid, schema_errors, schema_ok, spanned_str, str_of, uint_of,
};

pub fn load_policy(
    catalog: &mut Catalog,
    kind: FileKind,
    path: &str,
    node: &Node,
    diags: &mut Vec<Diagnostic>,
) {
    match kind {
        FileKind::Settings => {
            if schema_ok(Kind::Settings, path, node, diags) {
                catalog.settings = settings(path, node, diags);
            }
        }
        FileKind::People => {
            let errors = schema_errors(Kind::People, path, node, diags);
            // A bad entry costs only that person, not the whole directory.
            if errors.iter().all(|p| p.starts_with("/people/")) {
                people(catalog, path, node, &errors, diags);
            }
        }
        FileKind::Sod => {
            if schema_ok(Kind::Sod, path, node, diags) {
                sod(catalog, path, node, diags);
            }
        }
        FileKind::Birthright => {
            if schema_ok(Kind::Birthright, path, node, diags) {
                birthright(catalog, path, node);
            }
        }
        FileKind::App | FileKind::Grant | FileKind::Codeowners | FileKind::Other => {}
    }
}

/// settings.yaml and people.yaml must exist; without them nothing can be judged.
pub fn require_core_files(snapshot: &Snapshot, diags: &mut Vec<Diagnostic>) {
    for (file, what) in [
        (SETTINGS_FILE, "org-wide settings"),
        (PEOPLE_FILE, "the people directory"),
    ] {
        if snapshot.get(file).is_none() {
            diags.push(
                Diagnostic::new(
                    Rule::Schema,
                    file,
                    Pos::START,
                    format!("`{file}` is missing"),
                )
                .hint(format!(
                    "create `{file}` with {what}; `portcullis init` writes one to start from"
                )),
            );
        }
    }
}

fn settings(path: &str, node: &Node, diags: &mut Vec<Diagnostic>) -> Option<Settings> {
    let mut s = Settings::with_defaults(str_of(node, "org")?, str_of(node, "security_team")?);
    s.emergency_approvers = str_of(node, "emergency_approvers");
    if let Some(v) = uint_of(node, "warn_days") {
        s.warn_days = v;
    }
    if let Some(v) = uint_of(node, "min_justification") {
        s.min_justification = v;
    }
    if let Some(defaults) = node.get("default_max_duration") {
        for (i, risk) in ["low", "medium", "high", "critical"].iter().enumerate() {
            if let Some(d) = duration_of(path, defaults, risk, diags).ok()? {
                s.default_max_duration[i] = d;
            }
        }
    }
    if let Some(d) = duration_of(path, node, "emergency_max_duration", diags).ok()? {
        s.emergency_max_duration = d;
    }
    if let Some(d) = duration_of(path, node, "request_ttl", diags).ok()? {
        s.request_ttl = d;
    }
    s.portcullis_version = str_of(node, "portcullis_version");
    s.evidence_public_key = str_of(node, "evidence_public_key");
    s.bot_login = str_of(node, "bot_login");
    if let Some(super::yaml::Value::Map(entries)) = node.get("team_ids").map(|n| &n.value) {
        for (k, v) in entries {
            if let super::yaml::Value::Int(id) = v.value
                && let Ok(id) = u64::try_from(id)
            {
                s.team_ids.insert(k.name.to_lowercase(), id);
            }
        }
    }
    Some(s)
}

fn person_type(s: &str) -> Option<PersonType> {
    Some(match s {
        "employee" => PersonType::Employee,
        "contractor" => PersonType::Contractor,
        "vendor" => PersonType::Vendor,
        _ => return None,
    })
}

fn people(
    catalog: &mut Catalog,
    path: &str,
    node: &Node,
    errors: &[String],
    diags: &mut Vec<Diagnostic>,
) {
    let items = node.get("people").map(Node::as_seq).unwrap_or_default();
    let mut logins = ready(catalog, items.len());
    for (i, item) in items.iter().enumerate() {
        let prefix = format!("/people/{i}");
        let bad = errors
            .iter()
            .any(|p| *p == prefix || p.starts_with(&format!("{prefix}/")));
        let entry = person(path, item, bad, diags);
        admit(catalog, path, entry, &mut logins, diags);
    }
}

/// The directory read piece by piece (see `pieces::map_list`), for the common case of a
/// directory that is valid throughout: each piece is checked against the schema and turned
/// into people on its own, and its tree dropped. False when the file is not plainly a list or
/// any piece fails the schema; nothing is recorded then, and the caller reads the whole tree,
/// which explains every problem exactly.
pub fn people_in_pieces(
    catalog: &mut Catalog,
    path: &str,
    bytes: &[u8],
    diags: &mut Vec<Diagnostic>,
) -> bool {
    // Pieces of about 256 KiB: two of them in flight hold a few MiB of tree, not 100.
    let pieces = (bytes.len() / (256 << 10)).max(2 * rayon::current_num_threads());
    let converted = super::pieces::map_list(bytes, "people", pieces, |node| {
        if super::schema::fast_valid(Kind::People, &node) != Some(true) {
            return None;
        }
        let mut d = Vec::new();
        let items = node.get("people").map(Node::as_seq).unwrap_or_default();
        let entries: Vec<Entry> = items
            .iter()
            .map(|item| person(path, item, false, &mut d))
            .collect();
        Some((entries, d))
    });
    let Some(converted) = converted.and_then(|c| c.into_iter().collect::<Option<Vec<_>>>()) else {
        return false;
    };
    let mut logins = ready(catalog, converted.iter().map(|(e, _)| e.len()).sum());
    for (entries, d) in converted {
        diags.extend(d);
        for entry in entries {
            admit(catalog, path, entry, &mut logins, diags);
        }
    }
    true
}

/// GitHub logins seen so far, lowercased: whose, and on which line.
type Logins = foldhash::HashMap<String, (PersonId, u32)>;

/// Room for `entries` more people, and for their logins: grown one entry at a time, the two
/// tables were rehashed over and over while 50,000 people went in.
fn ready(catalog: &mut Catalog, entries: usize) -> Logins {
    catalog.people.reserve(entries);
    Logins::with_capacity_and_hasher(entries, Default::default())
}

/// One directory entry: a person, or an entry that cannot be used (with its id when it has
/// one, so that grants naming it are not reported a second time as unknown).
enum Entry {
    /// With its `github:` login lowercased and that value's position, for a duplicate login.
    Person(Box<Person>, Option<(String, Pos)>),
    Broken(Option<PersonId>),
}

/// The person an entry describes; `bad` when the schema found fault with it.
fn person(path: &str, item: &Node, bad: bool, diags: &mut Vec<Diagnostic>) -> Entry {
    let id_text = item.get("id").and_then(Node::as_str).map(PersonId::from);
    let Some(id) = spanned_str(item.get("id")).filter(|_| !bad) else {
        return Entry::Broken(id_text);
    };
    let (Ok(end_date), Some(kind)) = (
        date_of(path, item, "end_date", diags),
        str_of(item, "type").as_deref().and_then(person_type),
    ) else {
        return Entry::Broken(Some(id.value));
    };
    let github = item
        .get("github")
        .and_then(|n| Some((n.as_str()?.to_ascii_lowercase(), n.pos)));
    let person = Person {
        item: item.pos,
        name: str_of(item, "name").unwrap_or_default(),
        email: str_of(item, "email").unwrap_or_default(),
        github: str_of(item, "github"),
        github_id: match item.get("github_id").map(|n| &n.value) {
            Some(super::yaml::Value::Int(i)) => u64::try_from(*i).ok(),
            _ => None,
        },
        department: str_of(item, "department").unwrap_or_default(),
        title: str_of(item, "title"),
        manager: spanned_str(item.get("manager")),
        kind,
        leaver: str_of(item, "status").as_deref() == Some("leaver"),
        end_date: end_date.map(|d| d.value),
        id,
    };
    Entry::Person(Box::new(person), github)
}

/// Adds an entry to the catalog in file order, reporting a second use of an id or a login.
fn admit(
    catalog: &mut Catalog,
    path: &str,
    entry: Entry,
    logins: &mut Logins,
    diags: &mut Vec<Diagnostic>,
) {
    let (person, github) = match entry {
        Entry::Person(person, github) => (person, github),
        Entry::Broken(id) => {
            catalog.broken_people.extend(id);
            return;
        }
    };
    if let Some(first) = catalog.people.get(&person.id.value) {
        let d = duplicate("person", &person.id, path, first.id.pos.line, path);
        diags.push(d.subject(Some(&person.id.value), None, None));
        return;
    }
    // GitHub logins identify approvers; two people sharing one would let one account act
    // as both. The later entry in the file is the one reported.
    if let (Some(login), Some((key, pos))) = (&person.github, github) {
        if let Some((first, line)) = logins.get(&key) {
            diags.push(
                Diagnostic::new(
                    Rule::DuplicateId,
                    path,
                    pos,
                    format!(
                        "GitHub login `{login}` of `{}` is also `{first}`'s",
                        person.id.value
                    ),
                )
                .hint("each person has their own GitHub account; fix the `github:` value")
                .subject(Some(&person.id.value), None, None)
                .related(vec![Related {
                    file: path.to_owned(),
                    line: *line,
                }]),
            );
        } else {
            logins.insert(key, (person.id.value.clone(), person.item.line));
        }
    }
    catalog.people.insert(person.id.value.clone(), person);
}

fn duplicate(
    what: &str,
    id: &Spanned<impl std::fmt::Display>,
    path: &str,
    first_line: u32,
    first_file: &str,
) -> Diagnostic {
    Diagnostic::new(
        Rule::DuplicateId,
        path,
        id.pos,
        format!(
            "{what} id `{}` is defined twice (first in `{first_file}` line {first_line})",
            id.value
        ),
    )
    .hint("ids are unique; rename or merge the two entries")
    .related(vec![Related {
        file: first_file.to_owned(),
        line: first_line,
    }])
}

fn approver(s: &str) -> Approver {
    match s {
        "manager" => Approver::Manager,
        "owner" => Approver::Owner,
        "security" => Approver::Security,
        other => Approver::Principal(other.to_owned()),
    }
}

const TEMPLATE_FIELDS: [&str; 5] = ["id", "email", "github", "name", "department"];

/// `{id}`-style placeholders must name a person field, or every login would be wrong.
fn check_template(path: &str, node: &Node, diags: &mut Vec<Diagnostic>) -> bool {
    let Some(n) = node.get("login") else {
        return true;
    };
    let text = n.as_str().unwrap_or_default();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            invalid(
                path,
                n.pos,
                format!("`login`: unclosed `{{` in `{text}`"),
                diags,
            );
            return false;
        };
        let field = &rest[open + 1..open + close];
        if !TEMPLATE_FIELDS.contains(&field) {
            invalid(
                path,
                n.pos,
                format!(
                    "`login`: unknown placeholder `{{{field}}}`; use one of {{id}}, {{email}}, {{github}}, {{name}}, {{department}}"
                ),
                diags,
            );
            return false;
        }
        rest = &rest[open + close + 1..];
    }
    true
}

fn provisioner(path: &str, node: &Node, diags: &mut Vec<Diagnostic>) -> Option<Provisioner> {
    if !check_template(path, node, diags) {
        return None;
    }
    let s = |k: &str| str_of(node, k);
    Some(match s("type")?.as_str() {
        "github-team" => Provisioner::GithubTeam {
            org: s("org"),
            login: s("login"),
        },
        "postgres" => Provisioner::Postgres {
            dsn_env: s("dsn_env")?,
            login: s("login"),
        },
        "ldap" => Provisioner::Ldap {
            url_env: s("url_env")?,
            bind_dn: s("bind_dn")?,
            bind_password_env: s("bind_password_env")?,
            group_base: s("group_base")?,
            login: s("login")?,
        },
        "scim" => Provisioner::Scim {
            url_env: s("url_env")?,
            token_env: s("token_env")?,
            login: s("login"),
        },
        "manual" => Provisioner::Manual {
            checklist: node
                .get("checklist")
                .map(Node::as_seq)
                .unwrap_or_default()
                .iter()
                .filter_map(|n| n.as_str().map(str::to_owned))
                .collect(),
        },
        "command" => Provisioner::Command {
            command: s("command")?,
            timeout_seconds: uint_of(node, "timeout_seconds").unwrap_or(60),
            env: node
                .get("env")
                .map(Node::as_seq)
                .unwrap_or_default()
                .iter()
                .filter_map(|n| n.as_str().map(str::to_owned))
                .collect(),
        },
        _ => return None,
    })
}

fn app(path: &str, node: &Node, diags: &mut Vec<Diagnostic>) -> Option<App> {
    let id: Spanned<AppId> = spanned_str(node.get("id"))?;
    let mut ok = true;
    let mut roles = BTreeMap::new();
    for (key, r) in node.get("roles").map(Node::entries).unwrap_or_default() {
        let max_duration = duration_of(path, r, "max_duration", diags).unwrap_or_else(|()| {
            ok = false;
            None
        });
        let auto_approve = r.get("auto_approve").map(|a| AutoApprove {
            peer_adoption: match a.get("peer_adoption").map(|n| &n.value) {
                Some(super::yaml::Value::Float(f)) => *f,
                Some(super::yaml::Value::Int(i)) => *i as f64,
                _ => 1.0,
            },
            // `5.0` is an integer to the schema; read it as one rather than never auto-approving.
            min_peers: uint_of(a, "min_peers").unwrap_or(u32::MAX),
        });
        roles.insert(
            RoleId::from(&key.name),
            Role {
                id: Spanned {
                    value: RoleId::from(&key.name),
                    pos: key.pos,
                },
                description: str_of(r, "description").unwrap_or_default(),
                approvals: r
                    .get("approvals")
                    .map(Node::as_seq)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(Node::as_str)
                    .map(approver)
                    .collect(),
                max_duration,
                privileged: bool_of(r, "privileged"),
                auto_approve,
                target: str_of(r, "target"),
            },
        );
    }
    let review_every = duration_of(path, node, "review_every", diags).unwrap_or_else(|()| {
        ok = false;
        None
    });
    let provisioner = node
        .get("provisioner")
        .and_then(|p| provisioner(path, p, diags));
    let file_id = path
        .strip_prefix("policies/apps/")
        .and_then(|f| f.strip_suffix(".yaml"));
    if file_id != Some(id.value.as_str()) {
        diags.push(
            Diagnostic::new(
                Rule::PathMismatch,
                path,
                id.pos,
                format!("app file `{path}` says `id: {}`", id.value),
            )
            .hint(format!(
                "rename the file to `policies/apps/{}.yaml`, or fix `id:`",
                id.value
            ))
            .subject(None, Some(&id.value), None),
        );
    }
    if !ok {
        return None;
    }
    Some(App {
        file: path.to_owned(),
        name: str_of(node, "name").unwrap_or_default(),
        description: str_of(node, "description"),
        owners: node
            .get("owners")
            .map(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect(),
        risk: str_of(node, "risk").as_deref().and_then(Risk::parse)?,
        review_every,
        unmanaged: node
            .get("unmanaged")
            .map(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect(),
        provisioner: provisioner?,
        roles,
        id,
    })
}

/// Loads every app file. Files named after their id go first, so a mis-named copy can never
/// take over an app: it is reported and, when the id is taken, left out.
pub fn load_apps(catalog: &mut Catalog, nodes: &[(&str, Node)], diags: &mut Vec<Diagnostic>) {
    let named_right = |path: &str, node: &Node| {
        let id = node.get("id").and_then(Node::as_str).unwrap_or_default();
        path == format!("policies/apps/{id}.yaml")
    };
    let (right, wrong): (Vec<_>, Vec<_>) = nodes.iter().partition(|(p, n)| named_right(p, n));
    for (path, node) in right.into_iter().chain(wrong) {
        let errors = schema_errors(Kind::App, path, node, diags);
        match app(path, node, diags).filter(|_| errors.is_empty()) {
            Some(app) => add_app(catalog, app, diags),
            None => {
                if let Some(id) = node.get("id").and_then(Node::as_str) {
                    catalog.broken_apps.insert(id.into());
                }
            }
        }
    }
}

fn add_app(catalog: &mut Catalog, app: App, diags: &mut Vec<Diagnostic>) {
    if let Some(first) = catalog.apps.get(&app.id.value) {
        diags.push(duplicate(
            "app",
            &app.id,
            &app.file,
            first.id.pos.line,
            &first.file,
        ));
        return;
    }
    catalog.apps.insert(app.id.value.clone(), app);
}

fn app_role(node: &Node) -> Option<Spanned<AppRole>> {
    Some(Spanned {
        value: AppRole::parse(node.as_str()?)?,
        pos: node.pos,
    })
}

fn sod(catalog: &mut Catalog, path: &str, node: &Node, diags: &mut Vec<Diagnostic>) {
    for item in node.get("rules").map(Node::as_seq).unwrap_or_default() {
        let Some(id) = spanned_str(item.get("id")) else {
            continue;
        };
        if let Some(first) = catalog.sod_rules.iter().find(|r| r.id.value == id.value) {
            diags.push(duplicate("SoD rule", &id, path, first.id.pos.line, path));
            continue;
        }
        catalog.sod_rules.push(SodRule {
            description: str_of(item, "description").unwrap_or_default(),
            severity: if str_of(item, "severity").as_deref() == Some("warning") {
                Severity::Warning
            } else {
                Severity::Error
            },
            conflicts: item
                .get("conflicts")
                .map(Node::as_seq)
                .unwrap_or_default()
                .iter()
                .map(|set| set.as_seq().iter().filter_map(app_role).collect())
                .collect(),
            id,
        });
    }
    for item in node.get("exceptions").map(Node::as_seq).unwrap_or_default() {
        let (Some(rule), Some(person)) = (
            spanned_str(item.get("rule")),
            spanned_str(item.get("person")),
        ) else {
            continue;
        };
        let Ok(Some(expires)) = date_of(path, item, "expires", diags) else {
            continue;
        };
        catalog.sod_exceptions.push(SodException {
            item: item.pos,
            rule,
            person,
            justification: str_of(item, "justification").unwrap_or_default(),
            expires,
        });
    }
}

fn birthright(catalog: &mut Catalog, _path: &str, node: &Node) {
    for item in node.get("rules").map(Node::as_seq).unwrap_or_default() {
        catalog.birthright.push(BirthrightRule {
            item: item.pos,
            department: str_of(item, "department"),
            title: str_of(item, "title"),
            kind: str_of(item, "type").as_deref().and_then(person_type),
            grants: item
                .get("grants")
                .map(Node::as_seq)
                .unwrap_or_default()
                .iter()
                .filter_map(app_role)
                .collect(),
            justification: str_of(item, "justification"),
        });
    }
}
