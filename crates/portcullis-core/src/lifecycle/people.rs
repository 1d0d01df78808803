//! `people sync`: the HR export read and validated line by line, the directory diff
//! (joiners, movers, leavers, other updates) and the birthright grants it implies.
//!
//! The export is refused as a whole on any bad row, each problem with its line number, so a
//! half-read export never reaches the directory. People in the directory but not in the export
//! are left unchanged and listed: a truncated export must never offboard anyone. Pure.

use crate::model::Login;
use crate::model::{PersonId, RoleId};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::{Edits, md};
use crate::edit::people::{PersonRecord, upsert_people};
use crate::edit::{self, NewGrant};
use crate::load::layout::is_id;
use crate::load::yaml::forbidden_char;
use crate::model::time::parse_date;
use crate::model::{AppRole, Catalog, PEOPLE_FILE, Person, PersonType};
use crate::snapshot::Snapshot;

/// The columns of the HR export, in any order; other columns are ignored. They are the fields
/// of a person in people.yaml, so the list is the schema's.
pub const COLUMNS: &[&str] = crate::load::schema::fields::PERSON;

/// Columns an export may leave out.
pub const OPTIONAL_COLUMNS: &[&str] = &["github_id"];

/// The branch of the one people-sync pull request.
pub const BRANCH: &str = "portcullis/people-sync";
pub const MARKER: &str = "<!-- portcullis:people-sync -->";

/// A problem with the export, at a 1-based line of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// One person of the export and the line their record starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub line: u64,
    pub record: PersonRecord,
}

/// Reads the export: a header naming every column of [`COLUMNS`], then one person per record.
/// Every problem is reported, each with its line; any problem refuses the whole export.
pub fn parse_export(bytes: &[u8]) -> Result<Vec<Row>, Vec<RowError>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut errors = Vec::new();
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => {
            return Err(vec![RowError {
                line: e.position().map_or(1, |p| p.line()),
                message: csv_message(&e),
            }]);
        }
        None => {
            return Err(vec![RowError {
                line: 1,
                message: "the export is empty; it needs a header line naming the columns".into(),
            }]);
        }
    };
    let names: Vec<String> = header
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let mut index = BTreeMap::new();
    for (i, name) in names.iter().enumerate() {
        if COLUMNS.contains(&name.as_str()) && index.insert(name.clone(), i).is_some() {
            errors.push(RowError {
                line: 1,
                message: format!("the column `{name}` appears twice in the header"),
            });
        }
    }
    for column in COLUMNS.iter().copied() {
        // HR systems know no GitHub account ids: the directory keeps the ones written there.
        if !index.contains_key(column) && !OPTIONAL_COLUMNS.contains(&column) {
            errors.push(RowError {
                line: 1,
                message: format!(
                    "the header has no column `{column}` (the columns are {})",
                    COLUMNS.join(", ")
                ),
            });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut rows = Vec::new();
    // Line, id, manager and login of every row, valid or not, for the checks across rows.
    let mut all: Vec<(u64, String, Option<String>, Option<String>)> = Vec::new();
    for result in records {
        let record = match result {
            Ok(r) => r,
            Err(e) => {
                errors.push(RowError {
                    line: e.position().map_or(0, |p| p.line()),
                    message: csv_message(&e),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if record.len() != names.len() {
            errors.push(RowError {
                line,
                message: format!(
                    "{} fields where the header has {}",
                    record.len(),
                    names.len()
                ),
            });
            continue;
        }
        let get = |c: &str| record.get(index[c]).unwrap_or_default().trim().to_owned();
        let opt = |c: &str| Some(get(c)).filter(|v| !v.is_empty());
        let mut problems = Vec::new();
        let mut check = |ok: bool, message: String| {
            if !ok {
                problems.push(message);
            }
        };
        let id = get("id");
        check(is_id(&id), format!("`id` `{id}` is not an id ({ID_RULE})"));
        let name = get("name");
        check(text_ok(&name), format!("`name` {}", text_problem(&name)));
        let email = get("email");
        check(
            email_ok(&email),
            format!("`email` `{email}` is not an email address"),
        );
        let github = opt("github");
        if let Some(g) = &github {
            check(
                github_ok(g),
                format!("`github` `{g}` is not a GitHub login"),
            );
        }
        let department = get("department");
        check(
            is_id(&department),
            format!("`department` `{department}` is not an id ({ID_RULE})"),
        );
        let title = opt("title");
        if let Some(t) = &title {
            check(text_ok(t), format!("`title` {}", text_problem(t)));
        }
        let manager = opt("manager");
        if let Some(m) = &manager {
            check(
                is_id(m),
                format!("`manager` `{m}` is not an id ({ID_RULE})"),
            );
        }
        let kind = get("type");
        check(
            ["employee", "contractor", "vendor"].contains(&kind.as_str()),
            format!("`type` `{kind}` is not `employee`, `contractor` or `vendor`"),
        );
        let status = get("status");
        check(
            ["active", "leaver"].contains(&status.as_str()),
            format!("`status` `{status}` is not `active` or `leaver`"),
        );
        all.push((line, id.clone(), manager.clone(), github.clone()));
        let end_date = opt("end_date");
        match &end_date {
            Some(d) => {
                if let Err(e) = parse_date(d) {
                    check(false, format!("`end_date`: {e}"));
                }
            }
            None => check(
                kind != "contractor" && kind != "vendor",
                format!("`end_date` is required for a {kind}"),
            ),
        }
        if problems.is_empty() {
            rows.push(Row {
                line,
                record: PersonRecord {
                    id,
                    name,
                    email,
                    github,
                    department,
                    title,
                    manager,
                    kind,
                    status,
                    end_date,
                },
            });
        } else {
            errors.extend(
                problems
                    .into_iter()
                    .map(|message| RowError { line, message }),
            );
        }
    }
    // Across rows: unique ids and logins, managers who are in the export.
    let mut ids: BTreeMap<&str, u64> = BTreeMap::new();
    let mut logins: BTreeMap<Login, u64> = BTreeMap::new();
    for (line, id, _, github) in &all {
        if let Some(first) = ids.insert(id, *line) {
            ids.insert(id, first);
            errors.push(RowError {
                line: *line,
                message: format!("duplicate id `{id}` (first on line {first})"),
            });
        }
        if let Some(g) = github
            && let Some(first) = logins.insert(Login::new(g), *line)
        {
            logins.insert(Login::new(g), first);
            errors.push(RowError {
                line: *line,
                message: format!("GitHub login `{g}` is also on line {first}"),
            });
        }
    }
    for (line, _, manager, _) in &all {
        if let Some(m) = manager
            && is_id(m)
            && !ids.contains_key(m.as_str())
        {
            errors.push(RowError {
                line: *line,
                message: format!("unknown manager `{m}`: no row of the export has that id"),
            });
        }
    }
    if rows.is_empty() && errors.is_empty() {
        errors.push(RowError {
            line: 2,
            message: "the export lists nobody; refusing an empty export".into(),
        });
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        errors.sort_by_key(|e| e.line);
        Err(errors)
    }
}

const ID_RULE: &str = "lowercase letters, digits, `.`, `_`, `-`, at most 63 characters";

fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8; export the file as UTF-8".into(),
        _ => format!("not readable as CSV: {e}"),
    }
}

fn text_ok(s: &str) -> bool {
    !s.is_empty()
        && s.chars().count() <= 4000
        && s.chars()
            .all(|c| forbidden_char(c).is_none() && (c == '\n' || !c.is_control()))
}

fn text_problem(s: &str) -> String {
    if s.is_empty() {
        "is empty".into()
    } else if s.chars().count() > 4000 {
        "is longer than 4000 characters".into()
    } else {
        "holds a control or invisible character".into()
    }
}

fn email_ok(s: &str) -> bool {
    s.len() <= 320
        && s.split_once('@').is_some_and(|(user, host)| {
            !user.is_empty()
                && !host.is_empty()
                && !host.contains('@')
                && !s.chars().any(char::is_whitespace)
        })
}

fn github_ok(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 39
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

// ---------------------------------------------------------------------------------------------
// The directory diff and birthright

/// A birthright grant: the role and the `justification` it is written with.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Birthright {
    pub grant: AppRole,
    /// `birthright (sales)`.
    pub justification: String,
}

/// The birthright grants a person gets: every rule whose conditions they all meet; the first
/// rule naming a role gives its justification.
pub fn birthright(catalog: &Catalog, person: &Person) -> Vec<Birthright> {
    let mut out: Vec<Birthright> = Vec::new();
    for rule in &catalog.birthright {
        let meets = rule
            .department
            .as_ref()
            .is_none_or(|d| *d == person.department)
            && rule
                .title
                .as_ref()
                .is_none_or(|t| Some(t) == person.title.as_ref())
            && rule.kind.is_none_or(|k| k == person.kind);
        if !meets {
            continue;
        }
        let label = rule
            .department
            .clone()
            .or_else(|| rule.title.clone())
            .or_else(|| rule.kind.map(|k| kind_str(k).to_owned()))
            .unwrap_or_default();
        for g in &rule.grants {
            if !out.iter().any(|b| b.grant == g.value) {
                out.push(Birthright {
                    grant: g.value.clone(),
                    justification: format!("birthright ({label})"),
                });
            }
        }
    }
    out
}

fn kind_str(k: PersonType) -> &'static str {
    match k {
        PersonType::Employee => "employee",
        PersonType::Contractor => "contractor",
        PersonType::Vendor => "vendor",
    }
}

/// A person whose department changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move {
    pub person: PersonId,
    pub from: String,
    pub to: String,
    pub manager: Option<PersonId>,
    /// Grants they keep that are not birthright grants, for the new manager to review.
    pub other_grants: Vec<AppRole>,
}

/// Everything one export changes.
#[derive(Clone, Debug, Default)]
pub struct Sync {
    pub joiners: Vec<PersonId>,
    pub movers: Vec<Move>,
    pub leavers: Vec<PersonId>,
    /// Other people whose record changed, with the fields that changed.
    pub updated: Vec<(PersonId, Vec<&'static str>)>,
    /// In the directory, not in the export: left unchanged.
    pub missing: Vec<PersonId>,
    /// Grants written: person, grant, justification, expiry.
    pub added: Vec<(PersonId, Birthright, Option<String>)>,
    /// Grants removed: person, grant, why.
    pub removed: Vec<(PersonId, AppRole, String)>,
    /// Birthright grants that could not be written (unknown app or role), with why.
    pub skipped: Vec<String>,
    pub edits: Edits,
    /// The catalog with the synced directory, for names and owners.
    pub catalog: Catalog,
}

impl Sync {
    pub fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    pub fn title(&self) -> String {
        let n = |count: usize, one: &str, many: &str| {
            format!("{count} {}", if count == 1 { one } else { many })
        };
        format!(
            "People sync: {}, {}, {}, {}",
            n(self.joiners.len(), "joiner", "joiners"),
            n(self.movers.len(), "mover", "movers"),
            n(self.leavers.len(), "leaver", "leavers"),
            n(self.updated.len(), "update", "updates"),
        )
    }
}

fn record_of(p: &Person) -> PersonRecord {
    PersonRecord {
        id: p.id.value.to_string(),
        name: p.name.clone(),
        email: p.email.clone(),
        github: p.github.clone(),
        department: p.department.clone(),
        title: p.title.clone(),
        manager: p.manager.as_ref().map(|m| m.value.to_string()),
        kind: kind_str(p.kind).to_owned(),
        status: if p.leaver { "leaver" } else { "active" }.to_owned(),
        end_date: p.end_date.map(|d| d.format("%Y-%m-%d").to_string()),
    }
}

fn changed_fields(old: &PersonRecord, new: &PersonRecord) -> Vec<&'static str> {
    let mut out = Vec::new();
    let pairs: [(&'static str, Option<&str>, Option<&str>); 9] = [
        ("name", Some(&old.name), Some(&new.name)),
        ("email", Some(&old.email), Some(&new.email)),
        ("github", old.github.as_deref(), new.github.as_deref()),
        ("department", Some(&old.department), Some(&new.department)),
        ("title", old.title.as_deref(), new.title.as_deref()),
        ("manager", old.manager.as_deref(), new.manager.as_deref()),
        ("type", Some(&old.kind), Some(&new.kind)),
        ("status", Some(&old.status), Some(&new.status)),
        ("end_date", old.end_date.as_deref(), new.end_date.as_deref()),
    ];
    for (name, a, b) in pairs {
        if a != b {
            out.push(name);
        }
    }
    out
}

/// What the export changes in the directory and in the grants, as edits of the snapshot.
/// `Err` when a file cannot be edited safely (the message names it).
pub fn plan(snapshot: &Snapshot, rows: &[Row], as_of: DateTime<Utc>) -> Result<Sync, String> {
    let before = crate::check::load(snapshot).catalog;
    let people_text = snapshot
        .text(PEOPLE_FILE)
        .ok_or_else(|| format!("`{PEOPLE_FILE}` is missing or not UTF-8"))?;
    let records: Vec<PersonRecord> = rows.iter().map(|r| r.record.clone()).collect();
    let new_people = upsert_people(people_text, &records)
        .map_err(|e| format!("cannot edit `{PEOPLE_FILE}`: {e}"))?;
    let mut sync = Sync::default();
    if new_people != people_text {
        sync.edits
            .insert(PEOPLE_FILE.to_owned(), Some(new_people.clone()));
    }
    let mut after_snapshot = snapshot.clone();
    after_snapshot.insert_bytes(PEOPLE_FILE, new_people.as_bytes());
    let after = crate::check::load(&after_snapshot).catalog;

    let in_export: BTreeSet<&str> = rows.iter().map(|r| r.record.id.as_str()).collect();
    sync.missing = before
        .people
        .keys()
        .filter(|id| !in_export.contains(id.as_str()))
        .cloned()
        .collect();
    sync.missing.sort();

    let mut adds: Vec<(PersonId, Birthright)> = Vec::new();
    let mut removes: Vec<(PersonId, AppRole, String)> = Vec::new();
    for row in rows {
        let id = row.record.id.as_str();
        let Some(new) = after.people.get(id) else {
            continue;
        };
        let old = before.people.get(id);
        let holds = |app: &str, role: &str| -> Option<String> {
            let f = before
                .grant_files
                .iter()
                .find(|f| f.person.value == id && f.app.value == app)?;
            let g = f.grants.iter().find(|g| g.role.value == role)?;
            Some(
                g.justification
                    .as_ref()
                    .map(|j| j.value.clone())
                    .unwrap_or_default(),
            )
        };
        if new.leaver {
            let files: Vec<_> = before
                .grant_files
                .iter()
                .filter(|f| f.person.value == id)
                .collect();
            // Newly marked, or marked earlier but still holding grants.
            if old.is_some_and(|o| !o.leaver) || !files.is_empty() {
                sync.leavers.push(PersonId::from(id));
            }
            for f in files {
                for g in &f.grants {
                    removes.push((
                        PersonId::from(id),
                        AppRole {
                            app: f.app.value.clone(),
                            role: g.role.value.clone(),
                        },
                        "leaver".into(),
                    ));
                }
            }
            continue;
        }
        let wanted = birthright(&after, new);
        match old {
            None => {
                sync.joiners.push(PersonId::from(id));
                adds.extend(wanted.into_iter().map(|b| (PersonId::from(id), b)));
            }
            Some(o) if o.leaver => {
                sync.joiners.push(PersonId::from(id));
                adds.extend(wanted.into_iter().map(|b| (PersonId::from(id), b)));
            }
            Some(o) => {
                let had = birthright(&before, o);
                let mut lost = Vec::new();
                for b in had
                    .iter()
                    .filter(|b| !wanted.iter().any(|w| w.grant == b.grant))
                {
                    if holds(&b.grant.app, &b.grant.role)
                        .is_some_and(|j| j.trim().starts_with("birthright ("))
                    {
                        lost.push(b.grant.clone());
                        removes.push((
                            PersonId::from(id),
                            b.grant.clone(),
                            format!("no longer a birthright grant ({})", b.justification),
                        ));
                    }
                }
                for b in wanted
                    .iter()
                    .filter(|w| !had.iter().any(|h| h.grant == w.grant))
                {
                    adds.push((PersonId::from(id), b.clone()));
                }
                if o.department != new.department {
                    let mut other: Vec<AppRole> = before
                        .grant_files
                        .iter()
                        .filter(|f| f.person.value == id)
                        .flat_map(|f| {
                            f.grants
                                .iter()
                                .filter(|g| {
                                    !g.justification
                                        .as_ref()
                                        .is_some_and(|j| j.value.trim().starts_with("birthright ("))
                                })
                                .map(|g| AppRole {
                                    app: f.app.value.clone(),
                                    role: g.role.value.clone(),
                                })
                        })
                        .filter(|g| !lost.contains(g))
                        .collect();
                    other.sort();
                    sync.movers.push(Move {
                        person: id.into(),
                        from: o.department.clone(),
                        to: new.department.clone(),
                        manager: new.manager.as_ref().map(|m| m.value.clone()),
                        other_grants: other,
                    });
                } else {
                    let fields = changed_fields(&record_of(o), &row.record);
                    if !fields.is_empty() {
                        sync.updated.push((id.into(), fields));
                    }
                }
            }
        }
    }

    // Removals: leavers lose whole files; movers lose single grants.
    let mut by_file: BTreeMap<String, Vec<RoleId>> = BTreeMap::new();
    for (person, grant, _) in &removes {
        by_file
            .entry(format!("access/{}/{person}.yaml", grant.app))
            .or_default()
            .push(grant.role.clone());
    }
    for (path, roles) in &by_file {
        let text = snapshot
            .text(path)
            .ok_or_else(|| format!("`{path}` is not a readable file"))?;
        let roles: Vec<&str> = roles.iter().map(RoleId::as_str).collect();
        let out = edit::remove_grants(text, &roles).map_err(|e| format!("`{path}`: {e}"))?;
        sync.edits.insert(path.clone(), out);
    }
    sync.removed = removes;

    // Additions, written into the files as they stand after the removals.
    let settings = after.settings.clone();
    for (person_id, b) in adds {
        let (Some(app), Some(person)) =
            (after.apps.get(&b.grant.app), after.people.get(&person_id))
        else {
            sync.skipped.push(format!(
                "`{}` for `{person_id}`: app `{}` is not in the catalog",
                b.grant, b.grant.app
            ));
            continue;
        };
        let Some(role) = app.roles.get(&b.grant.role) else {
            sync.skipped.push(format!(
                "`{}` for `{person_id}`: app `{}` has no role `{}`",
                b.grant, b.grant.app, b.grant.role
            ));
            continue;
        };
        let path = format!("access/{}/{person_id}.yaml", app.id.value);
        let existing = match sync.edits.get(&path) {
            Some(edited) => edited.clone(),
            None => snapshot.text(&path).map(str::to_owned),
        };
        if existing
            .as_deref()
            .is_some_and(|t| holds_role(t, &b.grant.role))
        {
            continue;
        }
        let not_employee = (person.kind != PersonType::Employee).then_some(person_id.as_str());
        let needs_expiry =
            !crate::rules::expiry_required(role.privileged, Some(app.risk), false, not_employee)
                .is_empty()
                || person.end_date.is_some();
        let expires = match (&settings, needs_expiry) {
            (Some(s), true) => Some(crate::request::default_expiry(s, app, role, person, as_of)),
            _ => None,
        };
        let grant = NewGrant {
            role: b.grant.role.clone(),
            justification: b.justification.clone(),
            expires: expires.clone(),
            ticket: None,
            emergency: false,
        };
        let (text, _) = edit::upsert_grant(existing.as_deref(), &person_id, &app.id.value, &grant)
            .map_err(|e| format!("`{path}`: {e}"))?;
        sync.edits.insert(path, Some(text));
        sync.added.push((person_id, b, expires));
    }
    sync.catalog = after;
    Ok(sync)
}

fn holds_role(text: &str, role: &str) -> bool {
    crate::load::yaml::parse(text.as_bytes()).is_ok_and(|n| {
        n.get("grants")
            .map(|g| g.as_seq())
            .unwrap_or_default()
            .iter()
            .any(|g| g.get("role").and_then(|r| r.as_str()) == Some(role))
    })
}

/// The app owners to ask for review: owners of every app whose grants change.
pub fn owners(sync: &Sync) -> Vec<String> {
    let catalog = &sync.catalog;
    let apps: BTreeSet<&str> = sync
        .added
        .iter()
        .map(|(_, b, _)| b.grant.app.as_str())
        .chain(sync.removed.iter().map(|(_, g, _)| g.app.as_str()))
        .collect();
    let mut out: Vec<String> = apps
        .into_iter()
        .filter_map(|a| catalog.apps.get(a))
        .flat_map(|a| a.owners.iter().cloned())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The pull request's body: joiners, movers (with their other grants for the new manager),
/// leavers, other updates, and who was not in the export.
pub fn body(sync: &Sync, source: &str) -> String {
    let catalog = &sync.catalog;
    let mut out = String::new();
    let _ = writeln!(out, "{MARKER}");
    let _ = writeln!(out, "### {}\n", sync.title());
    let _ = writeln!(
        out,
        "`portcullis people sync` read the HR export `{}` and updated `{PEOPLE_FILE}`; birthright grants (`policies/birthright.yaml`) follow in the same pull request.\n",
        md(source)
    );
    let grants_of = |person: &str| -> (Vec<String>, Vec<String>) {
        let added = sync
            .added
            .iter()
            .filter(|(p, _, _)| p == person)
            .map(|(_, b, e)| match e {
                Some(e) => format!("`{}` (until {e})", b.grant),
                None => format!("`{}`", b.grant),
            })
            .collect();
        let removed = sync
            .removed
            .iter()
            .filter(|(p, _, _)| p == person)
            .map(|(_, g, _)| format!("`{g}`"))
            .collect();
        (added, removed)
    };
    let who = |id: &str| -> String {
        match catalog.people.get(id) {
            Some(p) => {
                let mut about = vec![md(&p.name), md(&p.department)];
                about.extend(p.title.as_deref().map(md));
                format!("`{id}` ({})", about.join(", "))
            }
            None => format!("`{id}`"),
        }
    };
    if !sync.joiners.is_empty() {
        let _ = writeln!(out, "#### Joiners\n");
        for id in &sync.joiners {
            let (added, _) = grants_of(id);
            let gets = if added.is_empty() {
                "no birthright grants".to_owned()
            } else {
                format!("gets {}", added.join(", "))
            };
            let _ = writeln!(out, "- {}: {gets}", who(id));
        }
        let _ = writeln!(out);
    }
    if !sync.movers.is_empty() {
        let _ = writeln!(out, "#### Movers\n");
        for m in &sync.movers {
            let (added, removed) = grants_of(&m.person);
            let mut parts = vec![format!("`{}` → `{}`", m.from, m.to)];
            if !removed.is_empty() {
                parts.push(format!("loses {}", removed.join(", ")));
            }
            if !added.is_empty() {
                parts.push(format!("gets {}", added.join(", ")));
            }
            let _ = writeln!(out, "- {}: {}", who(&m.person), parts.join("; "));
            let manager = match m.manager.as_ref().and_then(|id| catalog.people.get(id)) {
                Some(p) => match &p.github {
                    Some(login) => format!("`{}` (GitHub `{login}`)", p.id.value),
                    None => format!("`{}`", p.id.value),
                },
                None => "their new manager".to_owned(),
            };
            if m.other_grants.is_empty() {
                let _ = writeln!(out, "  - no other grants");
            } else {
                let list: Vec<String> = m.other_grants.iter().map(|g| format!("`{g}`")).collect();
                let _ = writeln!(
                    out,
                    "  - other grants for {manager} to review (delete any that the new role does not need): {}",
                    list.join(", ")
                );
            }
        }
        let _ = writeln!(out);
    }
    if !sync.leavers.is_empty() {
        let _ = writeln!(out, "#### Leavers\n");
        for id in &sync.leavers {
            let (_, removed) = grants_of(id);
            let grants = if removed.is_empty() {
                "held no grants".to_owned()
            } else {
                format!("every grant removed: {}", removed.join(", "))
            };
            let _ = writeln!(out, "- {}: marked `status: leaver`; {grants}", who(id));
        }
        let _ = writeln!(out);
    }
    if !sync.updated.is_empty() {
        let _ = writeln!(out, "#### Other updates\n");
        for (id, fields) in &sync.updated {
            let fields: Vec<String> = fields.iter().map(|f| format!("`{f}`")).collect();
            let _ = writeln!(out, "- `{id}`: {}", fields.join(", "));
        }
        let _ = writeln!(out);
    }
    if !sync.skipped.is_empty() {
        let _ = writeln!(out, "#### Birthright grants not written\n");
        for s in &sync.skipped {
            let _ = writeln!(out, "- {s}");
        }
        let _ = writeln!(out);
    }
    if !sync.missing.is_empty() {
        let list: Vec<String> = sync.missing.iter().map(|id| format!("`{id}`")).collect();
        let _ = writeln!(
            out,
            "#### Not in the export\n\nLeft unchanged; check with HR whether they have left: {}\n",
            list.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "Birthright grants need one owner approval like any other (auto-approval applies). The directory change needs the security team."
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "id,name,email,github,department,title,manager,type,status,end_date\n";

    #[test]
    fn a_good_export_reads_with_lines() {
        let csv = format!(
            "{HEADER}helen,Helen Marsh,helen@x.example,helen-gh,exec,CEO,,employee,active,\n\"sam\",\"Lee, Sam\",sam@x.example,,sales,\"Account\nExecutive\",helen,contractor,active,2027-03-31\n"
        );
        let rows = parse_export(csv.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].line, 3);
        assert_eq!(rows[1].record.name, "Lee, Sam");
        assert_eq!(rows[1].record.title.as_deref(), Some("Account\nExecutive"));
        assert_eq!(rows[0].record.manager, None);
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line() {
        let csv = format!(
            "{HEADER}helen,Helen,helen@x.example,,exec,,,employee,active,\nhelen,Helen Two,h2@x.example,,exec,,,employee,active,\nsam,Sam,not-an-email,,sales,,zed,employee,active,\nBad Id,X,x@x.example,,sales,,,contractor,active,\nann,Ann,ann@x.example,,sales,,,employee,gone,2027-02-30\nshort,row\n"
        );
        let errors = parse_export(csv.as_bytes()).unwrap_err();
        let got: Vec<(u64, &str)> = errors
            .iter()
            .map(|e| (e.line, e.message.as_str()))
            .collect();
        let has = |line: u64, text: &str| {
            assert!(
                got.iter().any(|(l, m)| *l == line && m.contains(text)),
                "no `{text}` on line {line}: {got:?}"
            );
        };
        has(3, "duplicate id `helen` (first on line 2)");
        has(4, "`email` `not-an-email`");
        has(4, "unknown manager `zed`");
        has(5, "`id` `Bad Id` is not an id");
        has(5, "`end_date` is required for a contractor");
        has(6, "`status` `gone`");
        has(6, "not a day of the calendar");
        has(7, "2 fields where the header has 10");
    }

    #[test]
    fn a_missing_column_is_reported_on_the_header_line() {
        let csv = "id,name,email,github,department,title,type,status,end_date\nhelen,Helen,h@x.example,,exec,,employee,active,\n";
        let errors = parse_export(csv.as_bytes()).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 1);
        assert!(
            errors[0].message.contains("no column `manager`"),
            "{}",
            errors[0]
        );
    }
}
