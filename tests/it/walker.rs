//! The schemas and the loader's walker must describe the same files. The schema drift test
//! compares `schemas/` with the lists of fields; this one holds the walker itself to them: in a
//! set of policy files where every field the schemas allow is written (with a value that is not
//! its default), taking out any one field must change what is loaded. A field the schema
//! accepts and the walker forgets would be dropped silently, and this fails on it.

use std::collections::BTreeSet;

use portcullis_core::snapshot::Snapshot;

const SETTINGS: &str = "org: acme
security_team: \"@acme/security\"
emergency_approvers: \"@acme/oncall\"
warn_days: 9
min_justification: 21
default_max_duration:
  low: 300d
  medium: 150d
  high: 60d
  critical: 20d
emergency_max_duration: 12h
request_ttl: 20d
portcullis_version: 0.1.0
evidence_public_key: \"ed25519:GX9rI+FshTLGq8g4+s1ep4m+DHaykgM0A5v6iz02jWE=\"
bot_login: \"acme-access[bot]\"
team_ids:
  \"@acme/security\": 42
";

const PEOPLE: &str = "people:
  - id: ana
    name: Ana Example
    email: ana@acme.example
    github: ana-gh
    github_id: 1001
    department: it
    title: Engineer
    manager: ben
    type: contractor
    status: active
    end_date: 2027-06-30
  - id: ben
    name: Ben Example
    email: ben@acme.example
    github: ben-gh
    department: it
    type: employee
    status: active
";

const APP: &str = "id: db
name: Database
description: The database
owners: [\"@acme/dba\"]
risk: high
review_every: 60d
unmanaged: [svc-backup]
provisioner:
  type: postgres
  dsn_env: DB_DSN
  login: \"{id}\"
roles:
  reader:
    description: Reads
    approvals: [owner, security]
    max_duration: 30d
    privileged: true
    auto_approve:
      peer_adoption: 0.5
      min_peers: 4
    target: db_readers
  writer:
    description: Writes
    target: db_writers
";

const LDAP: &str = "id: dir
name: Directory
owners: [\"@acme/it\"]
risk: low
provisioner:
  type: ldap
  url_env: LDAP_URL
  bind_dn: \"cn=portcullis,dc=acme,dc=example\"
  bind_password_env: LDAP_PASSWORD
  group_base: \"ou=groups,dc=acme,dc=example\"
  login: \"uid={id},ou=people,dc=acme,dc=example\"
roles:
  member:
    description: Member
    target: staff
";

const SCIM: &str = "id: idp
name: Identity provider
owners: [\"@acme/it\"]
risk: low
provisioner:
  type: scim
  url_env: SCIM_URL
  token_env: SCIM_TOKEN
  login: \"{email}\"
roles:
  member:
    description: Member
    target: Everyone
";

const GITHUB: &str = "id: gh
name: GitHub
owners: [\"@acme/it\"]
risk: low
provisioner:
  type: github-team
  org: acme
  login: \"{github}\"
roles:
  member:
    description: Member
    target: everyone
";

const MANUAL: &str = "id: hand
name: By hand
owners: [\"@acme/it\"]
risk: low
provisioner:
  type: manual
  checklist:
    - Add the user
roles:
  member:
    description: Member
";

const COMMAND: &str = "id: cmd
name: By command
owners: [\"@acme/it\"]
risk: low
provisioner:
  type: command
  command: scripts/provision
  timeout_seconds: 45
  env: [CMD_TOKEN]
roles:
  member:
    description: Member
    target: users
";

const SOD: &str = "rules:
  - id: read-write
    description: Nobody both reads and writes the database
    severity: warning
    conflicts:
      - [db:reader]
      - [db:writer]
exceptions:
  - person: ana
    rule: read-write
    justification: The only database engineer until the new hire starts in March
    expires: 2027-03-01
";

const BIRTHRIGHT: &str = "rules:
  - department: it
    title: Engineer
    type: contractor
    grants: [gh:member]
    justification: Every engineer works in GitHub
";

const GRANT: &str = "person: ana
app: db
grants:
  - justification: Reads the billing tables for the month-end close
    role: reader
    expires: 2026-12-20
    ticket: FIN-77
    emergency: true
    reviewed: 2026-11-01
";

fn files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("policies/settings.yaml", SETTINGS),
        ("policies/people.yaml", PEOPLE),
        ("policies/apps/db.yaml", APP),
        ("policies/apps/dir.yaml", LDAP),
        ("policies/apps/idp.yaml", SCIM),
        ("policies/apps/gh.yaml", GITHUB),
        ("policies/apps/hand.yaml", MANUAL),
        ("policies/apps/cmd.yaml", COMMAND),
        ("policies/sod.yaml", SOD),
        ("policies/birthright.yaml", BIRTHRIGHT),
        ("access/db/ana.yaml", GRANT),
    ]
}

/// What was loaded, in an order that does not depend on hashing, with the findings.
fn loaded(files: &[(&str, String)]) -> String {
    let snapshot = Snapshot::from_files(files.iter().map(|(p, t)| (*p, t.as_str())));
    let (catalog, diags) = portcullis_core::load::load(&snapshot);
    let mut people: Vec<_> = catalog.people.iter().collect();
    people.sort_by_key(|(id, _)| id.as_str());
    let mut findings: Vec<String> = diags
        .iter()
        .map(|d| format!("{} {}:{}", d.rule.id(), d.file, d.pos.line))
        .collect();
    findings.sort();
    format!(
        "{:?}\n{people:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{findings:?}",
        catalog.settings,
        catalog.apps,
        catalog.sod_rules,
        catalog.sod_exceptions,
        catalog.birthright,
        catalog.grant_files,
        catalog.broken_people,
        catalog.broken_apps,
    )
}

/// The key a line sets, unless it opens a list item (its item's first key is taken out with
/// the item, which the schema's required fields already cover).
fn key_of(line: &str) -> Option<&str> {
    let t = line.trim_start();
    if t.starts_with("- ") || t.starts_with('#') {
        return None;
    }
    let (key, _) = t.split_once(':')?;
    let key = key.trim_matches('"');
    (!key.is_empty() && !key.contains(' ')).then_some(key)
}

#[test]
fn every_field_the_schemas_allow_is_read_by_the_walker() {
    let base: Vec<(&str, String)> = files()
        .into_iter()
        .map(|(p, t)| (p, t.to_owned()))
        .collect();
    let whole = loaded(&base);
    assert!(
        !whole.contains("schema") && !whole.contains("yaml-syntax"),
        "the complete files must load cleanly:\n{whole}"
    );
    let mut taken_out: BTreeSet<String> = BTreeSet::new();
    let mut forgotten = Vec::new();
    for (f, (path, text)) in base.iter().enumerate() {
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(key) = key_of(line) else { continue };
            // The field and every line indented under it become comments: the lines of every
            // other value keep their numbers, so only the field itself is missing.
            let indent = line.len() - line.trim_start().len();
            let mut end = i + 1;
            while end < lines.len() {
                let l = lines[end];
                let inner = l.len() - l.trim_start().len();
                if l.trim().is_empty() || inner > indent {
                    end += 1;
                } else {
                    break;
                }
            }
            let edited: String = lines
                .iter()
                .enumerate()
                .map(|(j, l)| {
                    if (i..end).contains(&j) {
                        "#\n".to_owned()
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
            let mut without = base.clone();
            without[f].1 = edited;
            taken_out.insert(key.to_owned());
            if loaded(&without) == whole {
                forgotten.push(format!("{path}:{}: `{key}`", i + 1));
            }
        }
    }
    assert!(
        forgotten.is_empty(),
        "the schema accepts these fields but the loader drops them: {forgotten:?}"
    );
    let all: BTreeSet<String> = portcullis_core::load::schema::fields::ALL
        .iter()
        .flat_map(|f| f.iter().map(|s| (*s).to_owned()))
        .collect();
    let untried: Vec<&String> = all.difference(&taken_out).collect();
    assert!(
        untried.is_empty(),
        "no file here writes these fields, so nothing holds the walker to them: {untried:?}"
    );
}
