//! Snapshot -> Catalog + diagnostics. The only YAML-aware code: layout of the tree, the strict
//! parser, schema validation and the semantic checks a schema cannot express (real calendar
//! days, leap seconds, durations, templates). A file that fails is left out of the catalog and
//! every other file is still loaded.

pub mod block;
pub mod directory;
pub mod layout;
pub mod pieces;
mod policies;
pub mod schema;
mod shape;
mod syntax;
pub mod yaml;

use rayon::prelude::*;

use crate::diag::{Diagnostic, Rule};
use crate::model::{AppId, Catalog, Grant, GrantFile, PersonId, Spanned};
use crate::snapshot::{Entry, Snapshot};
use layout::FileKind;
use schema::Kind;
use yaml::{Node, Pos};

/// The lines of `text` (without their `\n`), each with the byte offset it starts at; as many
/// as `text.split('\n')` gives, found with SIMD.
pub fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> + Clone {
    let ends = memchr::memchr_iter(b'\n', text.as_bytes()).chain([text.len()]);
    ends.scan(0, move |start, end| {
        let line = (*start, &text[*start..end]);
        *start = end + 1;
        Some(line)
    })
}

/// `policies/settings.yaml` alone (`entry` as a snapshot holds it), for who portcullis is
/// or which key signs: the rest of the snapshot is not read. `None` when it does not load.
pub fn settings(entry: Option<Entry>) -> Option<crate::model::Settings> {
    let mut snapshot = Snapshot::default();
    snapshot
        .files
        .insert(crate::model::SETTINGS_FILE.to_owned(), entry?);
    load(&snapshot).0.settings
}

/// Loads everything in the snapshot.
pub fn load(snapshot: &Snapshot) -> (Catalog, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut catalog = Catalog::default();
    let mut grant_paths = Vec::new();
    let mut policy_paths = Vec::new();
    for (path, entry) in &snapshot.files {
        if matches!(entry, Entry::Symlink | Entry::Submodule) {
            let what = if *entry == Entry::Symlink {
                "symlink"
            } else {
                "submodule"
            };
            diags.push(
                Diagnostic::new(
                    Rule::Symlink,
                    path,
                    Pos::START,
                    format!("`{path}` is a {what}"),
                )
                .hint("governed folders hold plain files only; replace it with the file's content"),
            );
            continue;
        }
        match layout::classify(path) {
            Ok(FileKind::Grant) => grant_paths.push((path.as_str(), entry)),
            Ok(FileKind::Codeowners | FileKind::Other) => {
                // Content is not read, but the size limit holds for every governed file.
                if matches!(entry, Entry::TooLarge(_)) {
                    parse_entry(path, entry, &mut diags);
                }
            }
            Ok(kind) => policy_paths.push((kind, path.as_str(), entry)),
            Err(d) => diags.push(*d),
        }
    }
    // The people directory is one large file: it loads on one core while the grant files
    // load on the others.
    let (policy_diags, loaded) = rayon::join(
        || {
            let mut diags = Vec::new();
            let mut app_nodes: Vec<(&str, Node)> = Vec::new();
            for (kind, path, entry) in &policy_paths {
                if *kind == FileKind::People {
                    load_people(&mut catalog, path, entry, true, &mut diags);
                    continue;
                }
                let Some(node) = parse_entry(path, entry, &mut diags) else {
                    continue;
                };
                if *kind == FileKind::App {
                    app_nodes.push((path, node));
                } else {
                    policies::load_policy(&mut catalog, *kind, path, &node, &mut diags);
                }
            }
            policies::load_apps(&mut catalog, &app_nodes, &mut diags);
            policies::require_core_files(snapshot, &mut diags);
            diags
        },
        || {
            grant_paths
                .par_iter()
                .map(|(path, entry)| {
                    let mut d = Vec::new();
                    let file = parse_entry(path, entry, &mut d)
                        .and_then(|node| grant_file(path, &node, &mut d));
                    (file, d)
                })
                .unzip::<_, _, Vec<Option<GrantFile>>, Vec<Vec<Diagnostic>>>()
        },
    );
    diags.extend(policy_diags);
    let (files, file_diags) = loaded;
    diags.extend(file_diags.into_iter().flatten());
    // Collected in place (an `Option<GrantFile>` is a `GrantFile` in size): at 100,000 files a
    // second vector of them would be a second 13 MB.
    catalog.grant_files = files.into_iter().flatten().collect();
    (catalog, diags)
}

/// The people directory alone, as `load` reads it (`in_pieces`), or always from its whole tree,
/// and whether it was read in pieces: the two must agree on every directory, and a test holds
/// them to that.
pub fn people_directory(bytes: &[u8], in_pieces: bool) -> (Catalog, Vec<Diagnostic>, bool) {
    let mut catalog = Catalog::default();
    let mut diags = Vec::new();
    let entry = Entry::File(bytes.into());
    let pieces = load_people(
        &mut catalog,
        crate::model::PEOPLE_FILE,
        &entry,
        in_pieces,
        &mut diags,
    );
    (catalog, diags, pieces)
}

/// The people directory into `catalog`: in pieces when `in_pieces` and it can be, else from
/// its whole tree. True when it was read in pieces.
fn load_people(
    catalog: &mut Catalog,
    path: &str,
    entry: &Entry,
    in_pieces: bool,
    diags: &mut Vec<Diagnostic>,
) -> bool {
    if in_pieces
        && let Entry::File(bytes) = entry
        && policies::people_in_pieces(catalog, path, bytes, diags)
    {
        return true;
    }
    if let Some(node) = parse_entry(path, entry, diags) {
        policies::load_policy(catalog, FileKind::People, path, &node, diags);
    }
    false
}

/// Parses one file's bytes; size and symlink problems were reported by the caller or here.
pub fn parse_entry(path: &str, entry: &Entry, diags: &mut Vec<Diagnostic>) -> Option<Node> {
    match entry {
        Entry::File(bytes) => match parse_bytes(path, bytes) {
            Ok(node) => Some(node),
            Err(e) => {
                diags.push(Diagnostic::new(Rule::YamlSyntax, path, e.pos, e.message).hint(e.hint));
                None
            }
        },
        Entry::TooLarge(size) => {
            let limit = crate::snapshot::size_limit(path);
            diags.push(
                Diagnostic::new(
                    Rule::FileTooLarge,
                    path,
                    Pos::START,
                    format!("`{path}` is {size} bytes, over the limit of {limit} bytes"),
                )
                .hint("split the content, or remove what does not belong in a governed file"),
            );
            None
        }
        Entry::Symlink | Entry::Submodule => None,
    }
}

/// The people directory is the one large file: it parses on every core.
fn parse_bytes(path: &str, bytes: &[u8]) -> Result<Node, yaml::YamlError> {
    if path == crate::model::PEOPLE_FILE {
        pieces::parse_list_parallel(bytes, "people", 2 * rayon::current_num_threads())
    } else {
        yaml::parse(bytes)
    }
}

/// Runs the schema and reports each violation; true when the file is valid.
pub fn schema_ok(kind: Kind, path: &str, node: &Node, diags: &mut Vec<Diagnostic>) -> bool {
    schema_errors(kind, path, node, diags).is_empty()
}

/// Runs the schema, reports each violation and returns their JSON pointers.
pub fn schema_errors(
    kind: Kind,
    path: &str,
    node: &Node,
    diags: &mut Vec<Diagnostic>,
) -> Vec<String> {
    schema_errors_but(kind, path, node, diags, |_| false)
}

/// `schema_errors` without the violations `skip` leaves to a rule that explains them better.
fn schema_errors_but(
    kind: Kind,
    path: &str,
    node: &Node,
    diags: &mut Vec<Diagnostic>,
    skip: impl Fn(&schema::SchemaError) -> bool,
) -> Vec<String> {
    schema::validate(kind, node)
        .into_iter()
        .filter(|e| !skip(e))
        .map(|e| {
            let mut d = Diagnostic::new(Rule::Schema, path, e.pos, e.message);
            d.hint = e.hint;
            diags.push(d);
            e.pointer
        })
        .collect()
}

/// A whole number, also when written `30.0` (JSON Schema's `integer` accepts both).
pub(crate) fn uint_of(node: &Node, key: &str) -> Option<u32> {
    match node.get(key)?.value {
        yaml::Value::Int(i) => u32::try_from(i).ok(),
        yaml::Value::Float(f) if f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&f) => {
            Some(f as u32)
        }
        _ => None,
    }
}

/// A string and where it is, as the type the field holds (text or an id).
pub(crate) fn spanned_str<T: From<String>>(node: Option<&Node>) -> Option<Spanned<T>> {
    let node = node?;
    Some(Spanned {
        value: node.as_str()?.to_owned().into(),
        pos: node.pos,
    })
}

pub(crate) fn str_of(node: &Node, key: &str) -> Option<String> {
    node.get(key).and_then(Node::as_str).map(str::to_owned)
}

pub(crate) fn bool_of(node: &Node, key: &str) -> bool {
    matches!(
        node.get(key).map(|n| &n.value),
        Some(yaml::Value::Bool(true))
    )
}

/// A semantic check failed on a value the schema accepted.
pub(crate) fn invalid(path: &str, pos: Pos, message: String, diags: &mut Vec<Diagnostic>) {
    diags.push(Diagnostic::new(Rule::Schema, path, pos, message));
}

/// Parses a date-valued field, reporting a sloppy one.
pub(crate) fn date_of(
    path: &str,
    node: &Node,
    key: &str,
    diags: &mut Vec<Diagnostic>,
) -> Result<Option<Spanned<chrono::NaiveDate>>, ()> {
    let Some(n) = node.get(key) else {
        return Ok(None);
    };
    let text = n.as_str().unwrap_or_default();
    match crate::model::time::parse_date(text) {
        Ok(d) => Ok(Some(Spanned {
            value: d,
            pos: n.pos,
        })),
        Err(e) => {
            invalid(path, n.pos, format!("`{key}`: {e}"), diags);
            Err(())
        }
    }
}

pub(crate) fn duration_of(
    path: &str,
    node: &Node,
    key: &str,
    diags: &mut Vec<Diagnostic>,
) -> Result<Option<chrono::Duration>, ()> {
    let Some(n) = node.get(key) else {
        return Ok(None);
    };
    match crate::model::time::parse_duration(n.as_str().unwrap_or_default()) {
        Ok(d) => Ok(Some(d)),
        Err(e) => {
            invalid(path, n.pos, format!("`{key}`: {e}"), diags);
            Err(())
        }
    }
}

/// One `access/<app>/<person>.yaml`: schema, then values, then its place in the tree.
pub fn grant_file(path: &str, node: &Node, diags: &mut Vec<Diagnostic>) -> Option<GrantFile> {
    // `justification:` left empty is a missing justification, which `justification-required`
    // explains in the words of the policy; it is not a type error.
    let empty_justification = |e: &schema::SchemaError| {
        e.pointer.ends_with("/justification")
            && node
                .at_pointer(&e.pointer)
                .is_some_and(|n| n.value == yaml::Value::Null)
    };
    if !schema_errors_but(Kind::Grant, path, node, diags, empty_justification).is_empty() {
        return None;
    }
    let person: Spanned<PersonId> = spanned_str(node.get("person"))?;
    let app: Spanned<AppId> = spanned_str(node.get("app"))?;
    let mut ok = true;
    let mut grants = Vec::new();
    for item in node.get("grants").map(Node::as_seq).unwrap_or_default() {
        let Some(role) = spanned_str(item.get("role")) else {
            ok = false;
            continue;
        };
        let expires = match item.get("expires") {
            None => None,
            Some(n) => match crate::model::Expiry::parse(n.as_str().unwrap_or_default()) {
                Ok(e) => Some(Spanned {
                    value: e,
                    pos: n.pos,
                }),
                Err(e) => {
                    invalid(path, n.pos, format!("`expires`: {e}"), diags);
                    ok = false;
                    None
                }
            },
        };
        let reviewed = date_of(path, item, "reviewed", diags).unwrap_or_else(|()| {
            ok = false;
            None
        });
        grants.push(Grant {
            role,
            item: item.pos,
            justification: item.get("justification").and_then(|n| match &n.value {
                yaml::Value::Null => Some(Spanned {
                    value: String::new(),
                    pos: n.pos,
                }),
                _ => spanned_str(Some(n)),
            }),
            expires,
            ticket: str_of(item, "ticket"),
            emergency: bool_of(item, "emergency"),
            reviewed,
        });
    }
    let (folder_app, file_person) = layout::grant_path_parts(path)?;
    if app.value != folder_app {
        diags.push(
            Diagnostic::new(
                Rule::PathMismatch,
                path,
                app.pos,
                format!(
                    "file is in `access/{folder_app}/` but says `app: {}`",
                    app.value
                ),
            )
            .hint(
                match crate::diag::suggest::closest(&app.value, [folder_app]) {
                    Some(f) => format!(
                        "did you mean `app: {f}`? If not, move the file to `access/{}/{}.yaml`",
                        app.value, person.value
                    ),
                    None => format!(
                        "move it to `access/{}/{}.yaml`, or fix `app:`",
                        app.value, person.value
                    ),
                },
            )
            .subject(Some(&person.value), Some(&app.value), None),
        );
    }
    if person.value != file_person {
        diags.push(
            Diagnostic::new(
                Rule::PathMismatch,
                path,
                person.pos,
                format!(
                    "file is named `{file_person}.yaml` but says `person: {}`",
                    person.value
                ),
            )
            .hint(
                match crate::diag::suggest::closest(&person.value, [file_person]) {
                    Some(f) => format!("did you mean `person: {f}`? If not, rename the file to `access/{}/{}.yaml`", app.value, person.value),
                    None => format!("rename it to `access/{}/{}.yaml`, or fix `person:`", app.value, person.value),
                },
            )
            .subject(Some(&person.value), Some(&app.value), None),
        );
    }
    ok.then(|| GrantFile {
        path: path.to_owned(),
        person,
        app,
        grants,
    })
}
