//! Every rule of SPEC section 4, broken on purpose in a small organisation of our own
//! (`tests/fixtures/rules/`, "Initech"), asserting the exact rule, file, line, column and
//! severity of each finding, and that nothing else is reported.
//!
//! The base organisation, as of 2026-11-22:
//! - people: bill (top), samir and peter (report to bill), michael (employee with an
//!   `end_date`), joanna (contractor), milton (leaver, holds nothing);
//! - apps: wiki (low, privileged `admin`), crm (medium, `manager` has `max_duration: 60d`),
//!   ledger (high, `review_every: 90d`, `post-entry` has `max_duration: 30d`, privileged
//!   `admin`), vault (critical, privileged `operator`);
//! - sod.yaml: `ledger-maker-checker` (error, cross-app) with a valid exception for samir, and
//!   `crm-vault-separation` (warning); birthright.yaml; seven grant files.
//!
//! Every grant file starts with the `yaml-language-server` comment, so `person:` is on line 2
//! (value at column 9), `app:` on line 3 (column 6) and the first `- role:` on line 5 (value at
//! column 11); `justification:` values start at column 20, `expires:` at 14, `reviewed:` at 15.

use std::collections::{BTreeMap, HashMap};

use portcullis_core::diag::{Diagnostic, Related, Report, Rule};
use portcullis_core::model::Severity;
use portcullis_core::snapshot::{Entry, Snapshot};

use crate::support;

const AS_OF: &str = "2026-11-22";
const CODEOWNERS: &str = ".github/CODEOWNERS";
const SOD: &str = "policies/sod.yaml";
const PEOPLE: &str = "policies/people.yaml";
const SETTINGS: &str = "policies/settings.yaml";
const BIRTHRIGHT: &str = "policies/birthright.yaml";
const HEADER: &str = "# yaml-language-server: $schema=../../schemas/grant.schema.json\n";

macro_rules! fixture {
    ($path:literal) => {
        ($path, include_str!(concat!("../fixtures/rules/", $path)))
    };
}

/// The clean base organisation, CODEOWNERS included.
const BASE: &[(&str, &str)] = &[
    fixture!("policies/settings.yaml"),
    fixture!("policies/people.yaml"),
    fixture!("policies/apps/wiki.yaml"),
    fixture!("policies/apps/crm.yaml"),
    fixture!("policies/apps/ledger.yaml"),
    fixture!("policies/apps/vault.yaml"),
    fixture!("policies/sod.yaml"),
    fixture!("policies/birthright.yaml"),
    fixture!("access/wiki/peter.yaml"),
    fixture!("access/wiki/michael.yaml"),
    fixture!("access/wiki/joanna.yaml"),
    fixture!("access/ledger/samir.yaml"),
    fixture!("access/ledger/bill.yaml"),
    fixture!("access/crm/bill.yaml"),
    fixture!("access/vault/peter.yaml"),
    fixture!(".github/CODEOWNERS"),
];

// ---------------------------------------------------------------------------------------------
// The organisation under test
// ---------------------------------------------------------------------------------------------

/// The base organisation with a test's changes.
#[derive(Clone)]
struct Org {
    files: BTreeMap<String, Vec<u8>>,
    /// Regenerate `.github/CODEOWNERS` from what loaded, so a test about another rule is not
    /// also about review routing. Off once a test sets or removes CODEOWNERS itself.
    regenerate_codeowners: bool,
}

impl Org {
    fn base() -> Org {
        Org {
            files: BASE
                .iter()
                .map(|(p, t)| ((*p).to_owned(), t.as_bytes().to_vec()))
                .collect(),
            regenerate_codeowners: true,
        }
    }

    /// Checks CODEOWNERS exactly as the files say.
    fn committed(mut self) -> Org {
        self.regenerate_codeowners = false;
        self
    }

    fn set(self, path: &str, text: &str) -> Org {
        self.set_bytes(path, text.as_bytes())
    }

    fn set_bytes(mut self, path: &str, bytes: &[u8]) -> Org {
        if path == CODEOWNERS {
            self.regenerate_codeowners = false;
        }
        self.files.insert(path.to_owned(), bytes.to_vec());
        self
    }

    fn text(&self, path: &str) -> String {
        String::from_utf8(self.files[path].clone()).expect("fixture is UTF-8")
    }

    fn remove(mut self, path: &str) -> Org {
        if path == CODEOWNERS {
            self.regenerate_codeowners = false;
        }
        assert!(self.files.remove(path).is_some(), "no {path} in the base");
        self
    }

    /// Moves a file, content unchanged.
    fn rename(self, from: &str, to: &str) -> Org {
        let text = self.text(from);
        self.remove(from).set(to, &text)
    }

    /// Replaces `from`, which must occur exactly once in the file, with `to`.
    fn edit(self, path: &str, from: &str, to: &str) -> Org {
        let text = self.text(path);
        assert_eq!(
            text.matches(from).count(),
            1,
            "`{from}` must occur once in {path}:\n{text}"
        );
        let text = text.replacen(from, to, 1);
        self.set(path, &text)
    }

    fn append(self, path: &str, more: &str) -> Org {
        let text = self.text(path) + more;
        self.set(path, &text)
    }

    fn snapshot(&self) -> Snapshot {
        let mut snap = Snapshot::default();
        for (path, bytes) in &self.files {
            if path == CODEOWNERS && self.regenerate_codeowners {
                continue;
            }
            snap.insert_bytes(path, bytes);
        }
        if self.regenerate_codeowners {
            let catalog = portcullis_core::check::load(&snap).catalog;
            if catalog.settings.is_some() {
                let generated = portcullis_core::codeowners::generate(&catalog);
                snap.insert_bytes(CODEOWNERS, generated.as_bytes());
            }
        }
        snap
    }

    fn check(&self) -> Report {
        self.check_at(AS_OF)
    }

    fn check_at(&self, as_of: &str) -> Report {
        portcullis_core::check::check(&self.snapshot(), support::as_of(as_of))
    }
}

/// A grant file in the layout of the base files.
fn grant_file(person: &str, app: &str, grants: &str) -> String {
    format!("{HEADER}person: {person}\napp: {app}\ngrants:\n{grants}")
}

// ---------------------------------------------------------------------------------------------
// Expectations
// ---------------------------------------------------------------------------------------------

/// One expected finding.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Want {
    file: String,
    line: u32,
    col: u32,
    rule: &'static str,
    severity: &'static str,
}

/// An expected finding at the rule's default severity.
fn at(rule: &'static str, file: &str, line: u32, col: u32) -> Want {
    let severity = Rule::from_id(rule)
        .unwrap_or_else(|| panic!("no rule `{rule}`"))
        .default_severity()
        .as_str();
    Want {
        file: file.to_owned(),
        line,
        col,
        rule,
        severity,
    }
}

impl Want {
    fn warning(mut self) -> Want {
        self.severity = Severity::Warning.as_str();
        self
    }
}

fn show(report: &Report) -> String {
    report
        .diagnostics
        .iter()
        .map(|d| {
            format!(
                "  {} {} {}:{}:{} {}{}\n",
                d.rule.id(),
                d.severity.as_str(),
                d.file,
                d.pos.line,
                d.pos.col,
                d.message,
                d.hint
                    .as_deref()
                    .map(|h| format!(" (hint: {h})"))
                    .unwrap_or_default()
            )
        })
        .collect()
}

/// The report holds exactly these findings; returns them in the order of `want` once sorted
/// by file, line, column and rule.
fn expect<'r>(report: &'r Report, want: &[Want]) -> Vec<&'r Diagnostic> {
    let mut want = want.to_vec();
    want.sort();
    let mut got: Vec<(Want, &Diagnostic)> = report
        .diagnostics
        .iter()
        .map(|d| {
            (
                Want {
                    file: d.file.clone(),
                    line: d.pos.line,
                    col: d.pos.col,
                    rule: d.rule.id(),
                    severity: d.severity.as_str(),
                },
                d,
            )
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    let got_keys: Vec<&Want> = got.iter().map(|(w, _)| w).collect();
    let want_keys: Vec<&Want> = want.iter().collect();
    assert_eq!(got_keys, want_keys, "report:\n{}", show(report));
    got.into_iter().map(|(_, d)| d).collect()
}

/// The report holds exactly this one finding; returns it.
fn only(report: &Report, want: Want) -> &Diagnostic {
    expect(report, &[want])[0]
}

fn clean(report: &Report) {
    expect(report, &[]);
}

fn subject(d: &Diagnostic) -> (Option<&str>, Option<&str>, Option<&str>) {
    (d.person.as_deref(), d.app.as_deref(), d.role.as_deref())
}

fn related(d: &Diagnostic) -> Vec<(&str, u32)> {
    d.related
        .iter()
        .map(|r: &Related| (r.file.as_str(), r.line))
        .collect()
}

fn hint(d: &Diagnostic) -> &str {
    d.hint.as_deref().unwrap_or("")
}

// ---------------------------------------------------------------------------------------------
// The base
// ---------------------------------------------------------------------------------------------

#[test]
fn the_base_organisation_is_clean() {
    let report = Org::base().committed().check();
    clean(&report);
    assert_eq!(report.grants, 10);
    assert_eq!(report.files, 15);
    // The same through the shared helper.
    assert!(support::found(&support::check(BASE, AS_OF)).is_empty());
}

#[test]
fn the_base_stays_clean_until_its_first_review_falls_due() {
    // samir's ledger:viewer was reviewed on 2026-09-01: 90 days on is 2026-11-30 00:00Z.
    clean(&Org::base().committed().check_at("2026-11-30"));
    only(
        &Org::base().committed().check_at("2026-11-30T00:00:01Z"),
        at("review-overdue", SAMIR_LEDGER, 16, 15).warning(),
    );
    // peter's vault:operator expires at the end of 2026-12-10: warned from 2026-12-04 on.
    expect(
        &Org::base().committed().check_at("2026-12-03"),
        &[at("review-overdue", SAMIR_LEDGER, 16, 15).warning()],
    );
    expect(
        &Org::base().committed().check_at("2026-12-04"),
        &[
            at("review-overdue", SAMIR_LEDGER, 16, 15).warning(),
            at("expiring-soon", PETER_VAULT, 7, 14).warning(),
        ],
    );
}

#[test]
fn the_fixture_codeowners_is_what_portcullis_generates() {
    let org = Org::base();
    let mut snap = org.snapshot();
    snap.files.remove(CODEOWNERS);
    let catalog = portcullis_core::check::load(&snap).catalog;
    assert_eq!(
        portcullis_core::codeowners::generate(&catalog),
        org.text(CODEOWNERS)
    );
}

// ---------------------------------------------------------------------------------------------
// yaml-syntax
// ---------------------------------------------------------------------------------------------

const PETER_WIKI: &str = "access/wiki/peter.yaml";

fn peter_wiki(grants: &str) -> Org {
    Org::base().set(PETER_WIKI, &grant_file("peter", "wiki", grants))
}

#[test]
fn yaml_syntax_anchor() {
    let report =
        peter_wiki("  - role: editor\n    justification: &why birthright (engineering)\n").check();
    let d = only(&report, at("yaml-syntax", PETER_WIKI, 6, 20));
    assert!(d.message.contains("anchors"), "{}", d.message);
}

#[test]
fn yaml_syntax_alias() {
    // An alias needs an anchor, which is refused first; an alias naming no anchor is refused
    // by the parser itself.
    let report = peter_wiki(
        "  - role: editor\n    justification: &why birthright (engineering)\n  - role: reader\n    justification: *why\n",
    )
    .check();
    only(&report, at("yaml-syntax", PETER_WIKI, 6, 20));
    let report = peter_wiki("  - role: editor\n    justification: *why\n").check();
    let d = only(&report, at("yaml-syntax", PETER_WIKI, 6, 20));
    assert!(d.message.contains("anchor"), "{}", d.message);
}

#[test]
fn yaml_syntax_merge_key() {
    let report =
        peter_wiki("  - <<: {role: editor}\n    justification: birthright (engineering)\n").check();
    let d = only(&report, at("yaml-syntax", PETER_WIKI, 5, 5));
    assert!(d.message.contains("merge"), "{}", d.message);
}

#[test]
fn yaml_syntax_tag() {
    let report =
        peter_wiki("  - role: editor\n    justification: !!str birthright (engineering)\n").check();
    let d = only(&report, at("yaml-syntax", PETER_WIKI, 6, 20));
    assert!(d.message.contains("tags"), "{}", d.message);
}

#[test]
fn yaml_syntax_duplicate_key() {
    let report = peter_wiki(
        "  - role: editor\n    justification: birthright (engineering)\n    role: reader\n",
    )
    .check();
    let d = only(&report, at("yaml-syntax", PETER_WIKI, 7, 5));
    assert!(
        d.message.contains("duplicate key `role` (first at line 5)"),
        "{}",
        d.message
    );
}

#[test]
fn yaml_syntax_more_than_one_document() {
    let report = Org::base()
        .append(PETER_WIKI, "---\nperson: peter\n")
        .check();
    let d = only(&report, at("yaml-syntax", PETER_WIKI, 7, 1));
    assert!(d.message.contains("more than one"), "{}", d.message);
}

#[test]
fn yaml_syntax_empty_file() {
    for empty in ["", "\n", "# nothing granted any more\n", "---\n"] {
        let report = Org::base().set(PETER_WIKI, empty).check();
        let d = only(&report, at("yaml-syntax", PETER_WIKI, 1, 1));
        assert!(d.message.contains("empty"), "{empty:?}: {}", d.message);
    }
}

#[test]
fn yaml_syntax_byte_order_mark() {
    let text = format!("\u{feff}{}", Org::base().text(PETER_WIKI));
    let report = Org::base().set(PETER_WIKI, &text).check();
    let d = only(&report, at("yaml-syntax", PETER_WIKI, 1, 1));
    assert!(d.message.contains("U+FEFF"), "{}", d.message);
}

#[test]
fn yaml_syntax_bidi_override_in_a_justification() {
    // "birthright " is 11 characters: the override is the 12th of the value at column 20.
    let report = Org::base()
        .edit(
            PETER_WIKI,
            "birthright (engineering)",
            "birthright \u{202e}(gnireenigne)",
        )
        .check();
    let d = only(&report, at("yaml-syntax", PETER_WIKI, 6, 31));
    assert!(d.message.contains("bidirectional"), "{}", d.message);
    assert!(d.message.contains("U+202E"), "{}", d.message);
}

#[test]
fn yaml_syntax_escaped_bidi_override_and_zero_width_space() {
    let report = Org::base()
        .edit(
            PETER_WIKI,
            "birthright (engineering)",
            "\"birthright \\u202E(gnireenigne)\"",
        )
        .check();
    let d = only(&report, at("yaml-syntax", PETER_WIKI, 6, 20));
    assert!(d.message.contains("bidirectional"), "{}", d.message);

    let report = Org::base()
        .edit(
            PETER_WIKI,
            "birthright (engineering)",
            "birthright\u{200b} (engineering)",
        )
        .check();
    let d = only(&report, at("yaml-syntax", PETER_WIKI, 6, 30));
    assert!(d.message.contains("invisible"), "{}", d.message);
}

#[test]
fn yaml_syntax_tab_in_a_justification() {
    let report = Org::base()
        .edit(
            PETER_WIKI,
            "birthright (engineering)",
            "birthright\t(engineering)",
        )
        .check();
    let d = only(&report, at("yaml-syntax", PETER_WIKI, 6, 20));
    assert!(d.message.contains("U+0009"), "{}", d.message);
}

#[test]
fn yaml_syntax_every_control_character_in_a_comment_or_a_value() {
    // C0 but tab, line feed and carriage return; DEL; C1. Hidden in a comment, or in a value.
    let controls = (0x01..0x20u32)
        .filter(|c| ![0x09, 0x0a, 0x0d].contains(c))
        .chain([0x7f, 0x80, 0x85, 0x9f]);
    for code in controls {
        let c = char::from_u32(code).unwrap();
        let in_comment = format!("{}# note{c}\n", Org::base().text(PETER_WIKI));
        let in_value = Org::base().text(PETER_WIKI).replace(
            "birthright (engineering)",
            &format!("birthright{c} (engineering)"),
        );
        for (text, line, col) in [(&in_comment, 7, 7), (&in_value, 6, 30)] {
            let report = Org::base().set(PETER_WIKI, text).check();
            let d = only(&report, at("yaml-syntax", PETER_WIKI, line, col));
            let name = format!("U+{code:04X}");
            assert!(d.message.contains(&name), "{name}: {}", d.message);
        }
    }
}

#[test]
fn windows_line_endings_are_fine() {
    let mut org = Org::base();
    for (path, bytes) in org.files.iter_mut() {
        if path != CODEOWNERS {
            *bytes = String::from_utf8(bytes.clone())
                .unwrap()
                .replace('\n', "\r\n")
                .into_bytes();
        }
    }
    clean(&org.check());
    // Positions do not move.
    let org = org.edit(PETER_VAULT, "2026-12-10", "2026-11-21");
    only(&org.check(), at("expired", PETER_VAULT, 7, 14));
}

#[test]
fn yaml_syntax_not_utf8() {
    // Latin-1 "é" (0xE9) where UTF-8 was expected, as the 6th character of the value.
    let text = Org::base()
        .text(PETER_WIKI)
        .replace("birthright", "birth\u{1}");
    let mut bytes = text.into_bytes();
    let at_ctl = bytes.iter().position(|b| *b == 1).unwrap();
    bytes[at_ctl] = 0xe9;
    let report = Org::base().set_bytes(PETER_WIKI, &bytes).check();
    let d = only(&report, at("yaml-syntax", PETER_WIKI, 6, 25));
    assert!(d.message.contains("UTF-8"), "{}", d.message);
}

#[test]
fn yaml_syntax_bad_indentation() {
    let report = Org::base()
        .set(
            PETER_WIKI,
            &format!(
                "{HEADER}person: peter\n  app: wiki\ngrants:\n  - role: editor\n    justification: birthright (engineering)\n"
            ),
        )
        .check();
    let d = &report.diagnostics;
    assert_eq!(d.len(), 1, "{}", show(&report));
    assert_eq!(
        (d[0].rule.id(), d[0].file.as_str(), d[0].pos.line),
        ("yaml-syntax", PETER_WIKI, 3)
    );
}

#[test]
fn yaml_syntax_in_sod_yaml_drops_only_the_sod_rules() {
    // Without sod.yaml nothing is in conflict and no exception is unused: one finding.
    let report = Org::base()
        .edit(
            SOD,
            "severity: warning",
            "severity: warning\n    severity: error",
        )
        .check();
    only(&report, at("yaml-syntax", SOD, 11, 5));
}

// ---------------------------------------------------------------------------------------------
// file-too-large
// ---------------------------------------------------------------------------------------------

/// `text` padded with a trailing comment to exactly `len` bytes.
fn padded(text: &str, len: usize) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    bytes.extend_from_slice(b"# ");
    bytes.resize(len - 1, b'x');
    bytes.push(b'\n');
    assert_eq!(bytes.len(), len);
    bytes
}

#[test]
fn file_too_large_grant_over_one_mib() {
    let org = Org::base();
    let mut snap = org.snapshot();
    snap.insert_bytes(PETER_WIKI, &padded(&org.text(PETER_WIKI), (1 << 20) + 1));
    let report = portcullis_core::check::check(&snap, support::as_of(AS_OF));
    let d = only(&report, at("file-too-large", PETER_WIKI, 1, 1));
    assert!(d.message.contains("1048577 bytes"), "{}", d.message);
    assert_eq!(report.grants, 9, "the file is not read");
}

#[test]
fn file_too_large_not_at_exactly_one_mib() {
    let org = Org::base();
    let mut snap = org.snapshot();
    snap.insert_bytes(PETER_WIKI, &padded(&org.text(PETER_WIKI), 1 << 20));
    let report = portcullis_core::check::check(&snap, support::as_of(AS_OF));
    clean(&report);
    assert_eq!(report.grants, 10);
}

#[test]
fn file_too_large_the_grant_limit_is_for_grants_only() {
    // A 2 MiB sod.yaml is fine; one over 64 MiB is not.
    let org = Org::base();
    let mut snap = org.snapshot();
    snap.insert_bytes(SOD, &padded(&org.text(SOD), 2 << 20));
    clean(&portcullis_core::check::check(&snap, support::as_of(AS_OF)));

    snap.insert_bytes(SOD, &padded(&org.text(SOD), (64 << 20) + 1));
    assert_eq!(snap.get(SOD), Some(&Entry::TooLarge((64 << 20) + 1)));
    let report = portcullis_core::check::check(&snap, support::as_of(AS_OF));
    only(&report, at("file-too-large", SOD, 1, 1));
}

#[test]
fn file_too_large_other_governed_files() {
    let mut snap = Org::base().snapshot();
    snap.files
        .insert(CODEOWNERS.to_owned(), Entry::TooLarge((64 << 20) + 1));
    snap.files.insert(
        "schemas/grant.schema.json".to_owned(),
        Entry::TooLarge((64 << 20) + 1),
    );
    let found = support::found(&check_snapshot(&snap));
    for path in [CODEOWNERS, "schemas/grant.schema.json"] {
        assert!(
            found.contains(&("file-too-large", path.to_owned(), 1)),
            "{found:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// schema
// ---------------------------------------------------------------------------------------------

const PETER_VAULT: &str = "access/vault/peter.yaml";

#[test]
fn schema_typo_field_gets_a_did_you_mean_hint() {
    let report = Org::base()
        .edit(PETER_VAULT, "expires: 2026-12-10", "expiry: 2026-12-10")
        .check();
    let d = only(&report, at("schema", PETER_VAULT, 7, 5));
    assert!(
        d.message.contains("unknown field `expiry`"),
        "{}",
        d.message
    );
    assert_eq!(hint(d), "did you mean `expires`?");
}

/// A field of another provisioner type is no typo: the hint says it does not belong here,
/// never "did you mean" the very same name.
#[test]
fn schema_a_field_of_another_kind_is_not_taken_for_a_typo() {
    let crm = "policies/apps/crm.yaml";
    let report = Org::base()
        .edit(
            crm,
            "  checklist: [\"Add the user in the CRM admin console\"]",
            "  checklist: [\"Add the user in the CRM admin console\"]\n  login: \"{id}\"",
        )
        .check();
    let d = only(&report, at("schema", crm, 8, 3));
    assert!(d.message.contains("unknown field `login`"), "{}", d.message);
    assert!(!hint(d).contains("did you mean"), "{}", hint(d));
    assert!(hint(d).contains("not a field here"), "{}", hint(d));
}

#[test]
fn schema_typo_in_settings() {
    let report = Org::base()
        .edit(SETTINGS, "warn_days: 7", "warn_day: 7")
        .check();
    let d = only(&report, at("schema", SETTINGS, 5, 1));
    assert_eq!(hint(d), "did you mean `warn_days`?");
}

#[test]
fn schema_timestamp_without_offset() {
    let report = Org::base()
        .edit(PETER_VAULT, "2026-12-10", "2026-12-10T18:00:00")
        .check();
    let d = only(&report, at("schema", PETER_VAULT, 7, 14));
    assert!(d.message.contains("2026-12-10T18:00:00"), "{}", d.message);
    assert!(d.message.contains("offset"), "{}", d.message);
}

#[test]
fn schema_timestamp_without_seconds() {
    let report = Org::base()
        .edit(PETER_VAULT, "2026-12-10", "2026-12-10T18:00Z")
        .check();
    only(&report, at("schema", PETER_VAULT, 7, 14));
}

/// A new app with no grants, so nothing but its own file is affected.
fn intranet(roles: &str) -> String {
    format!(
        "id: intranet\nname: Intranet\nowners: [\"@initech/it\"]\nrisk: low\nprovisioner: {{type: manual}}\nroles:\n{roles}"
    )
}

#[test]
fn schema_privileged_yes_is_not_a_boolean() {
    let path = "policies/apps/intranet.yaml";
    let report = Org::base()
        .set(
            path,
            &intranet("  admin:\n    description: Edit the home page\n    privileged: yes\n"),
        )
        .check();
    let d = only(&report, at("schema", path, 9, 17));
    assert!(d.message.contains("privileged"), "{}", d.message);
    assert_eq!(hint(d), "booleans are written `true` or `false`");

    clean(
        &Org::base()
            .set(
                path,
                &intranet("  admin:\n    description: Edit the home page\n    privileged: true\n"),
            )
            .check(),
    );
}

#[test]
fn schema_emergency_yes_is_not_a_boolean() {
    let report = Org::base()
        .edit(PETER_VAULT, "    ticket: SEC-77\n", "    emergency: yes\n")
        .check();
    let d = only(&report, at("schema", PETER_VAULT, 8, 16));
    assert_eq!(hint(d), "booleans are written `true` or `false`");
}

#[test]
fn schema_unquoted_numeric_id() {
    let path = "policies/apps/2048.yaml";
    let app = intranet("  player:\n    description: Play the game\n");
    let report = Org::base()
        .set(path, &app.replace("id: intranet", "id: 2048"))
        .check();
    let d = only(&report, at("schema", path, 1, 5));
    assert!(hint(d).contains("quote"), "{}", hint(d));

    clean(
        &Org::base()
            .set(path, &app.replace("id: intranet", "id: \"2048\""))
            .check(),
    );
}

#[test]
fn schema_unquoted_numeric_ticket() {
    let report = Org::base()
        .edit(PETER_VAULT, "ticket: SEC-77", "ticket: 1042")
        .check();
    let d = only(&report, at("schema", PETER_VAULT, 8, 13));
    assert!(hint(d).contains("quote"), "{}", hint(d));
}

#[test]
fn schema_leap_second() {
    let report = Org::base()
        .edit(PETER_VAULT, "2026-12-10", "2026-12-31T23:59:60Z")
        .check();
    let d = only(&report, at("schema", PETER_VAULT, 7, 14));
    assert!(d.message.contains("leap second"), "{}", d.message);
}

#[test]
fn schema_day_not_in_the_calendar() {
    let report = Org::base()
        .edit(PETER_VAULT, "2026-12-10", "2026-02-30")
        .check();
    let d = only(&report, at("schema", PETER_VAULT, 7, 14));
    assert!(
        d.message.contains("not a day of the calendar"),
        "{}",
        d.message
    );

    // The same for `reviewed:`.
    let report = Org::base()
        .edit("access/ledger/bill.yaml", "2026-09-15", "2026-02-29")
        .check();
    only(&report, at("schema", "access/ledger/bill.yaml", 8, 15));

    // 2028 is a leap year.
    let report = Org::base()
        .edit("access/ledger/bill.yaml", "2026-09-15", "2028-02-29")
        .check();
    clean(&report);
}

#[test]
fn schema_bad_end_date_drops_only_that_person() {
    // joanna is left out of the directory, and her grants are not reported again as unknown.
    let report = Org::base()
        .edit(PEOPLE, "end_date: 2027-02-28", "end_date: 2027-02-30")
        .check();
    expect(&report, &[at("schema", PEOPLE, 45, 15)]);
}

#[test]
fn schema_sod_rule_with_one_set() {
    let report = Org::base().edit(SOD, "      - [crm:manager]\n", "").check();
    let d = only(&report, at("schema", SOD, 12, 7));
    assert!(d.message.contains("conflicts"), "{}", d.message);
}

#[test]
fn schema_missing_settings() {
    // Without settings the defaults apply and CODEOWNERS cannot be judged.
    let report = Org::base().remove(SETTINGS).check();
    let d = only(&report, at("schema", SETTINGS, 1, 1));
    assert!(d.message.contains("missing"), "{}", d.message);
}

#[test]
fn schema_missing_required_field() {
    let report = Org::base().edit(PETER_VAULT, "app: vault\n", "").check();
    let d = only(&report, at("schema", PETER_VAULT, 2, 1));
    assert!(
        d.message.contains("missing required field `app`"),
        "{}",
        d.message
    );
}

// ---------------------------------------------------------------------------------------------
// path-mismatch
// ---------------------------------------------------------------------------------------------

#[test]
fn path_mismatch_yml() {
    let report = Org::base()
        .rename(PETER_WIKI, "access/wiki/peter.yml")
        .check();
    let d = only(&report, at("path-mismatch", "access/wiki/peter.yml", 1, 1));
    assert!(d.message.contains(".yml"), "{}", d.message);
    assert_eq!(report.grants, 9);

    let report = Org::base().rename(SOD, "policies/sod.yml").check();
    only(&report, at("path-mismatch", "policies/sod.yml", 1, 1));
}

#[test]
fn path_mismatch_stray_files() {
    let report = Org::base()
        .set("access/wiki/README.md", "# Wiki access\n")
        .set("access/bill.yaml", "person: bill\n")
        .set("access/wiki/old/bill.yaml", "person: bill\n")
        .set("access/Wiki/bill.yaml", "person: bill\n")
        .set("access/wiki/zoë.yaml", "person: zoe\n")
        .set("policies/notes.txt", "remember the milk\n")
        .set("policies/apps/old/wiki.yaml", "id: wiki\n")
        .check();
    expect(
        &report,
        &[
            at("path-mismatch", "access/Wiki/bill.yaml", 1, 1),
            at("path-mismatch", "access/bill.yaml", 1, 1),
            at("path-mismatch", "access/wiki/README.md", 1, 1),
            at("path-mismatch", "access/wiki/old/bill.yaml", 1, 1),
            at("path-mismatch", "access/wiki/zoë.yaml", 1, 1),
            at("path-mismatch", "policies/apps/old/wiki.yaml", 1, 1),
            at("path-mismatch", "policies/notes.txt", 1, 1),
        ],
    );
}

#[test]
fn path_mismatch_person() {
    let path = "access/wiki/pete.yaml";
    let report = Org::base().rename(PETER_WIKI, path).check();
    let d = only(&report, at("path-mismatch", path, 2, 9));
    assert!(d.message.contains("pete.yaml"), "{}", d.message);
    assert!(hint(d).contains("access/wiki/peter.yaml"), "{}", hint(d));
}

#[test]
fn path_mismatch_app() {
    let path = "access/wiki/bill.yaml";
    let report = Org::base().rename("access/crm/bill.yaml", path).check();
    let d = only(&report, at("path-mismatch", path, 3, 6));
    assert!(d.message.contains("access/wiki/"), "{}", d.message);
    assert!(hint(d).contains("access/crm/bill.yaml"), "{}", hint(d));
}

#[test]
fn path_mismatch_app_file_name_is_not_its_id() {
    let path = "policies/apps/team-wiki.yaml";
    let report = Org::base().rename("policies/apps/wiki.yaml", path).check();
    let d = only(&report, at("path-mismatch", path, 1, 5));
    assert!(hint(d).contains("policies/apps/wiki.yaml"), "{}", hint(d));
    assert_eq!(subject(d), (None, Some("wiki"), None));
}

// ---------------------------------------------------------------------------------------------
// symlink
// ---------------------------------------------------------------------------------------------

fn check_snapshot(snap: &Snapshot) -> Report {
    portcullis_core::check::check(snap, support::as_of(AS_OF))
}

#[test]
fn symlink_in_every_governed_folder() {
    let mut snap = Org::base().snapshot();
    for path in [
        "access/wiki/bill.yaml",
        "policies/apps/hr.yaml",
        "schemas/grant.schema.json",
        ".github/workflows/check.yml",
    ] {
        snap.files.insert(path.to_owned(), Entry::Symlink);
    }
    snap.files
        .insert("access/wiki/vendored.yaml".to_owned(), Entry::Submodule);
    let report = check_snapshot(&snap);
    expect(
        &report,
        &[
            at("symlink", ".github/workflows/check.yml", 1, 1),
            at("symlink", "access/wiki/bill.yaml", 1, 1),
            at("symlink", "access/wiki/vendored.yaml", 1, 1),
            at("symlink", "policies/apps/hr.yaml", 1, 1),
            at("symlink", "schemas/grant.schema.json", 1, 1),
        ],
    );
}

#[test]
fn symlink_folder_is_reported_once() {
    // The work tree records a symlinked folder or a submodule under its own path.
    let mut snap = Org::base().snapshot();
    snap.files
        .insert("access/vendored".to_owned(), Entry::Submodule);
    snap.files.insert("access/hr".to_owned(), Entry::Symlink);
    let report = check_snapshot(&snap);
    expect(
        &report,
        &[
            at("symlink", "access/hr", 1, 1),
            at("symlink", "access/vendored", 1, 1),
        ],
    );
}

#[test]
fn symlink_replacing_a_grant_file() {
    let mut snap = Org::base().snapshot();
    snap.files.insert(PETER_WIKI.to_owned(), Entry::Symlink);
    let report = check_snapshot(&snap);
    let d = only(&report, at("symlink", PETER_WIKI, 1, 1));
    assert!(d.message.contains("symlink"), "{}", d.message);
}

// ---------------------------------------------------------------------------------------------
// unknown-person
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_person_in_a_grant() {
    let path = "access/wiki/lumbergh.yaml";
    let report = Org::base()
        .set(
            path,
            &grant_file(
                "lumbergh",
                "wiki",
                "  - role: reader\n    justification: Reads the TPS report guidelines\n",
            ),
        )
        .check();
    let d = only(&report, at("unknown-person", path, 2, 9));
    assert_eq!(subject(d), (Some("lumbergh"), Some("wiki"), None));
}

#[test]
fn unknown_person_as_manager() {
    let report = Org::base()
        .edit(
            PEOPLE,
            "title: Accountant\n    manager: bill",
            "title: Accountant\n    manager: bob",
        )
        .check();
    let d = only(&report, at("unknown-person", PEOPLE, 16, 14));
    assert!(d.message.contains("`bob`"), "{}", d.message);
    assert_eq!(d.person.as_deref(), Some("samir"));
}

#[test]
fn unknown_person_in_a_sod_exception() {
    // Only the unknown person is reported, not also an unused exception.
    let report = Org::base()
        .append(
            SOD,
            "  - rule: ledger-maker-checker\n    person: lumbergh\n    justification: Interim controller while the team is hired\n    expires: 2027-01-31\n",
        )
        .check();
    expect(&report, &[at("unknown-person", SOD, 20, 13)]);
}

// ---------------------------------------------------------------------------------------------
// unknown-app
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_app_in_a_grant() {
    let path = "access/payroll/peter.yaml";
    let report = Org::base()
        .set(
            path,
            &grant_file(
                "peter",
                "payroll",
                "  - role: viewer\n    justification: Checks his own overtime entries\n",
            ),
        )
        .check();
    let d = only(&report, at("unknown-app", path, 3, 6));
    assert!(
        hint(d).contains("policies/apps/payroll.yaml"),
        "{}",
        hint(d)
    );
}

#[test]
fn unknown_app_in_sod_yaml() {
    let report = Org::base()
        .edit(SOD, "vault:auditor]", "vault:auditor, payroll:approver]")
        .check();
    let d = only(&report, at("unknown-app", SOD, 7, 47));
    assert!(d.message.contains("ledger-maker-checker"), "{}", d.message);
}

#[test]
fn unknown_app_in_birthright_yaml() {
    let report = Org::base()
        .edit(BIRTHRIGHT, "[wiki:editor]", "[wiki:editor, payroll:viewer]")
        .check();
    only(&report, at("unknown-app", BIRTHRIGHT, 3, 27));
}

// ---------------------------------------------------------------------------------------------
// unknown-role
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_role_in_a_grant() {
    let report = Org::base()
        .edit(PETER_WIKI, "role: editor", "role: superuser")
        .check();
    let d = only(&report, at("unknown-role", PETER_WIKI, 5, 11));
    assert_eq!(hint(d), "use one of: admin, editor, reader");
    assert_eq!(subject(d), (Some("peter"), Some("wiki"), Some("superuser")));
}

#[test]
fn unknown_role_in_sod_yaml() {
    let report = Org::base()
        .edit(SOD, "vault:auditor]", "vault:auditor, vault:unseal]")
        .check();
    only(&report, at("unknown-role", SOD, 7, 47));
}

#[test]
fn unknown_role_in_birthright_yaml() {
    let report = Org::base()
        .edit(
            BIRTHRIGHT,
            "[ledger:viewer, crm:user]",
            "[ledger:viewer, crm:owner]",
        )
        .check();
    let d = only(&report, at("unknown-role", BIRTHRIGHT, 8, 29));
    assert!(d.message.contains("`owner`"), "{}", d.message);
}

// ---------------------------------------------------------------------------------------------
// duplicate-id
// ---------------------------------------------------------------------------------------------

#[test]
fn duplicate_id_person() {
    let report = Org::base()
        .append(
            PEOPLE,
            "  - id: peter\n    name: Peter Other\n    email: peter2@initech.example\n    department: sales\n    type: employee\n    status: active\n",
        )
        .check();
    let d = only(&report, at("duplicate-id", PEOPLE, 53, 9));
    assert_eq!(related(d), vec![(PEOPLE, 19)]);
}

#[test]
fn duplicate_id_app_in_two_files() {
    // The second file also does not carry its id's name.
    let path = "policies/apps/wiki2.yaml";
    let text = Org::base().text("policies/apps/wiki.yaml");
    let report = Org::base().set(path, &text).check();
    let ds = expect(
        &report,
        &[
            at("duplicate-id", path, 1, 5),
            at("path-mismatch", path, 1, 5),
        ],
    );
    assert_eq!(related(ds[0]), vec![("policies/apps/wiki.yaml", 1)]);
}

#[test]
fn duplicate_id_app_blames_the_misnamed_copy() {
    let path = "policies/apps/wiki-copy.yaml";
    let text = Org::base()
        .text("policies/apps/wiki.yaml")
        .replace("@initech/wiki-owners", "@initech/someone-else");
    let org = Org::base().set(path, &text);
    expect(
        &org.check(),
        &[
            at("duplicate-id", path, 1, 5),
            at("path-mismatch", path, 1, 5),
        ],
    );
    let catalog = portcullis_core::check::load(&org.snapshot()).catalog;
    assert_eq!(catalog.apps["wiki"].file, "policies/apps/wiki.yaml");
}

#[test]
fn duplicate_id_sod_rule() {
    let report = Org::base()
        .edit(
            SOD,
            "exceptions:\n",
            "  - id: crm-vault-separation\n    description: Again\n    severity: error\n    conflicts:\n      - [crm:user]\n      - [vault:auditor]\nexceptions:\n",
        )
        .check();
    let d = only(&report, at("duplicate-id", SOD, 14, 9));
    assert_eq!(related(d), vec![(SOD, 8)]);
}

#[test]
fn duplicate_github_login() {
    // Logins are case-insensitive on GitHub.
    let report = Org::base()
        .append(
            PEOPLE,
            "  - id: zed\n    name: Zed Other\n    email: zed@initech.example\n    github: Peter-GH\n    department: sales\n    type: employee\n    status: active\n",
        )
        .check();
    let d = only(&report, at("duplicate-id", PEOPLE, 56, 13));
    assert!(d.message.contains("Peter-GH"), "{}", d.message);
    assert_eq!(related(d), vec![(PEOPLE, 19)]);
    assert_eq!(d.person.as_deref(), Some("zed"));
}

#[test]
fn duplicate_github_login_is_reported_on_the_newcomer() {
    // aaron is added with bill's login; bill's entry is untouched.
    let org = Org::base().append(
        PEOPLE,
        "  - id: aaron\n    name: Aaron New\n    email: aaron@initech.example\n    github: bill-gh\n    department: sales\n    type: employee\n    status: active\n",
    );
    let snap = org.snapshot();
    let (catalog, mut report) = portcullis_core::check::finish(
        portcullis_core::check::load(&snap),
        &snap,
        support::as_of(AS_OF),
        &HashMap::new(),
    );
    let change = portcullis_core::baseline::Touched {
        paths: [PEOPLE.to_owned()].into_iter().collect(),
        base: Org::base().snapshot(),
    };
    portcullis_core::baseline::mark(&mut report.diagnostics, &catalog, &snap, &change);
    assert!(
        report.failed(),
        "check --base must fail:\n{}",
        show(&report)
    );
    let d = only(&report, at("duplicate-id", PEOPLE, 56, 13));
    assert_eq!(d.person.as_deref(), Some("aaron"));
}

// ---------------------------------------------------------------------------------------------
// duplicate-grant
// ---------------------------------------------------------------------------------------------

#[test]
fn duplicate_grant() {
    let report = Org::base()
        .append(
            PETER_WIKI,
            "  - role: editor\n    justification: Edits the runbooks for the on-call team\n",
        )
        .check();
    let d = only(&report, at("duplicate-grant", PETER_WIKI, 7, 11));
    assert_eq!(related(d), vec![(PETER_WIKI, 5)]);
    assert_eq!(subject(d), (Some("peter"), Some("wiki"), Some("editor")));
}

// ---------------------------------------------------------------------------------------------
// justification-required (min_justification is 20 in the base)
// ---------------------------------------------------------------------------------------------

fn peter_justifies(text: &str) -> Report {
    Org::base()
        .edit(PETER_WIKI, "birthright (engineering)", text)
        .check()
}

#[test]
fn justification_required_too_short() {
    let report = peter_justifies("birthright (eng-de)");
    let d = only(&report, at("justification-required", PETER_WIKI, 6, 20));
    assert!(d.message.contains("19 characters"), "{}", d.message);
    assert!(d.message.contains("at least 20"), "{}", d.message);
    clean(&peter_justifies("birthright (eng-dev)"));
}

#[test]
fn justification_required_counts_characters_after_trimming() {
    only(
        &peter_justifies("\"     birthright (eng-de)     \""),
        at("justification-required", PETER_WIKI, 6, 20),
    );
    // 20 two-byte characters are 20 characters.
    clean(&peter_justifies(&"é".repeat(20)));
    only(
        &peter_justifies(&"é".repeat(19)),
        at("justification-required", PETER_WIKI, 6, 20),
    );
}

#[test]
fn justification_required_empty() {
    let report = peter_justifies("\"\"");
    only(&report, at("justification-required", PETER_WIKI, 6, 20));
}

#[test]
fn justification_required_missing() {
    let report = Org::base()
        .edit(
            PETER_WIKI,
            "    justification: birthright (engineering)\n",
            "",
        )
        .check();
    let d = only(&report, at("justification-required", PETER_WIKI, 5, 11));
    assert!(d.message.contains("no justification"), "{}", d.message);
}

#[test]
fn justification_required_follows_min_justification() {
    let report = Org::base()
        .edit(SETTINGS, "min_justification: 20", "min_justification: 0")
        .edit(PETER_WIKI, "birthright (engineering)", "\"\"")
        .check();
    clean(&report);
    let report = Org::base()
        .edit(SETTINGS, "min_justification: 20", "min_justification: 30")
        .check();
    // "birthright (engineering)" has 24 characters, "birthright (contractor)" 23 and
    // "birthright (finance, Accountant)" 32.
    expect(
        &report,
        &[
            at("justification-required", "access/wiki/joanna.yaml", 6, 20),
            at("justification-required", "access/wiki/michael.yaml", 6, 20),
            at("justification-required", PETER_WIKI, 6, 20),
        ],
    );
}

#[test]
fn settings_integers_written_as_floats() {
    let report = Org::base()
        .edit(SETTINGS, "warn_days: 7", "warn_days: 30.0")
        .check();
    assert_eq!(
        support::found(&report)
            .iter()
            .filter(|f| f.0 == "expiring-soon")
            .count(),
        2,
        "{}",
        show(&report)
    );
    let report = Org::base()
        .edit(SETTINGS, "min_justification: 20", "min_justification: 30.0")
        .check();
    assert_eq!(
        support::found(&report)
            .iter()
            .filter(|f| f.0 == "justification-required")
            .count(),
        3,
        "{}",
        show(&report)
    );
}

// ---------------------------------------------------------------------------------------------
// expired
// ---------------------------------------------------------------------------------------------

fn vault_expires(expires: &str) -> Org {
    Org::base().edit(
        PETER_VAULT,
        "expires: 2026-12-10",
        &format!("expires: {expires}"),
    )
}

#[test]
fn expired_the_day_before_as_of() {
    let report = vault_expires("2026-11-21").check();
    let d = only(&report, at("expired", PETER_VAULT, 7, 14));
    assert_eq!(subject(d), (Some("peter"), Some("vault"), Some("operator")));
    assert!(d.message.contains("2026-11-21"), "{}", d.message);
}

#[test]
fn expired_not_on_the_as_of_day_itself() {
    // Valid through the end of the day: only a warning that it expires soon.
    only(
        &vault_expires("2026-11-22").check(),
        at("expiring-soon", PETER_VAULT, 7, 14).warning(),
    );
}

#[test]
fn expired_timestamps_with_offsets() {
    // 02:00 at +02:00 is exactly as-of (00:00Z): expired at, not only before.
    only(
        &vault_expires("2026-11-22T02:00:00+02:00").check(),
        at("expired", PETER_VAULT, 7, 14),
    );
    only(
        &vault_expires("2026-11-22T01:59:59+02:00").check(),
        at("expired", PETER_VAULT, 7, 14),
    );
    only(
        &vault_expires("2026-11-22T00:00:00Z").check(),
        at("expired", PETER_VAULT, 7, 14),
    );
    only(
        &vault_expires("2026-11-22T02:00:01+02:00").check(),
        at("expiring-soon", PETER_VAULT, 7, 14).warning(),
    );
    // 23:59:59 at -01:00 is 00:59:59Z of the next day: not yet expired.
    only(
        &vault_expires("2026-11-21T23:59:59-01:00").check(),
        at("expiring-soon", PETER_VAULT, 7, 14).warning(),
    );
}

#[test]
fn expired_with_a_timestamp_as_of() {
    let as_of = "2026-11-22T14:00:00+02:00"; // 12:00Z
    only(
        &vault_expires("2026-11-22T11:59:59Z").check_at(as_of),
        at("expired", PETER_VAULT, 7, 14),
    );
    only(
        &vault_expires("2026-11-22T12:00:00Z").check_at(as_of),
        at("expired", PETER_VAULT, 7, 14),
    );
    only(
        &vault_expires("2026-11-22").check_at(as_of),
        at("expiring-soon", PETER_VAULT, 7, 14).warning(),
    );
}

// ---------------------------------------------------------------------------------------------
// expiry-required
// ---------------------------------------------------------------------------------------------

#[test]
fn expiry_required_privileged_role() {
    let report = Org::base()
        .append(
            PETER_WIKI,
            "  - role: admin\n    justification: Reorganises the engineering spaces\n",
        )
        .check();
    let d = only(&report, at("expiry-required", PETER_WIKI, 7, 11));
    assert!(
        d.message.contains("the role is privileged"),
        "{}",
        d.message
    );
    assert!(!d.message.contains("risk"), "{}", d.message);
}

#[test]
fn expiry_required_high_risk_app() {
    let report = Org::base()
        .edit("access/ledger/bill.yaml", "    expires: 2027-01-15\n", "")
        .check();
    let d = only(
        &report,
        at("expiry-required", "access/ledger/bill.yaml", 5, 11),
    );
    assert!(
        d.message.contains("the app's risk is high"),
        "{}",
        d.message
    );
}

#[test]
fn expiry_required_critical_and_privileged() {
    let report = Org::base()
        .edit(PETER_VAULT, "    expires: 2026-12-10\n", "")
        .check();
    let d = only(&report, at("expiry-required", PETER_VAULT, 5, 11));
    assert!(
        d.message.contains("the role is privileged"),
        "{}",
        d.message
    );
    assert!(d.message.contains("critical"), "{}", d.message);
}

#[test]
fn expiry_required_emergency() {
    let report = Org::base()
        .append(PETER_WIKI, "    emergency: true\n")
        .check();
    let d = only(&report, at("expiry-required", PETER_WIKI, 5, 11));
    assert!(d.message.contains("emergency"), "{}", d.message);
}

#[test]
fn expiry_required_contractor_and_vendor() {
    let joanna = "access/wiki/joanna.yaml";
    let report = Org::base()
        .edit(joanna, "    expires: 2027-02-28\n", "")
        .check();
    let d = only(&report, at("expiry-required", joanna, 5, 11));
    assert!(d.message.contains("not an employee"), "{}", d.message);

    let report = Org::base()
        .edit(joanna, "    expires: 2027-02-28\n", "")
        .edit(PEOPLE, "type: contractor", "type: vendor")
        .check();
    only(&report, at("expiry-required", joanna, 5, 11));
}

// ---------------------------------------------------------------------------------------------
// expiry-too-long
// ---------------------------------------------------------------------------------------------

const SAMIR_LEDGER: &str = "access/ledger/samir.yaml";

#[test]
fn expiry_too_long_role_max_duration() {
    // post-entry: 30d from 2026-11-22 00:00Z is 2026-12-22 00:00Z, the end of 2026-12-21.
    let edit = |d: &str| Org::base().edit(SAMIR_LEDGER, "2026-12-15", d).check();
    clean(&edit("2026-12-21"));
    let report = edit("2026-12-22");
    let d = only(&report, at("expiry-too-long", SAMIR_LEDGER, 7, 14));
    assert!(d.message.contains("30d"), "{}", d.message);
    assert!(d.message.contains("role `post-entry`"), "{}", d.message);
    assert_eq!(hint(d), "set `expires:` on or before 2026-12-21");
    clean(&edit("2026-12-22T00:00:00Z"));
    only(
        &edit("2026-12-22T00:00:01Z"),
        at("expiry-too-long", SAMIR_LEDGER, 7, 14),
    );
    only(
        &edit("2026-12-22T01:00:01+01:00"),
        at("expiry-too-long", SAMIR_LEDGER, 7, 14),
    );
}

#[test]
fn expiry_too_long_default_by_risk() {
    // wiki is low risk: 365d from 2026-11-22 is 2027-11-22 00:00Z.
    let wiki = |d: &str| {
        Org::base()
            .append(PETER_WIKI, &format!("    expires: {d}\n"))
            .check()
    };
    clean(&wiki("2027-11-21"));
    let report = wiki("2027-11-22");
    let d = only(&report, at("expiry-too-long", PETER_WIKI, 7, 14));
    assert!(d.message.contains("365d"), "{}", d.message);
    assert!(d.message.contains("low risk app"), "{}", d.message);

    // vault is critical: 30d.
    clean(&vault_expires("2026-12-21").check());
    only(
        &vault_expires("2026-12-22").check(),
        at("expiry-too-long", PETER_VAULT, 7, 14),
    );

    // crm:manager sets its own 60d.
    let crm = |d: &str| {
        Org::base()
            .edit("access/crm/bill.yaml", "2027-01-10", d)
            .check()
    };
    clean(&crm("2027-01-20"));
    only(
        &crm("2027-01-21"),
        at("expiry-too-long", "access/crm/bill.yaml", 9, 14),
    );
}

#[test]
fn expiry_too_long_follows_the_settings() {
    let report = Org::base()
        .edit(SETTINGS, "critical: 30d", "critical: 2w")
        .check();
    // peter's vault grant to 2026-12-10 is 18 days; the limit is now the end of 2026-12-05.
    let d = only(&report, at("expiry-too-long", PETER_VAULT, 7, 14));
    assert_eq!(hint(d), "set `expires:` on or before 2026-12-05");
}

fn emergency_admin(expires: &str) -> Org {
    Org::base().append(
        PETER_WIKI,
        &format!(
            "  - role: admin\n    justification: Incident INC-4411, restore the deleted space\n    expires: {expires}\n    emergency: true\n"
        ),
    )
}

#[test]
fn expiry_too_long_emergency_is_limited_to_24h() {
    // Every emergency grant is also expiring soon, which is right: it ends within a day.
    let soon = at("expiring-soon", PETER_WIKI, 9, 14).warning();
    let too_long = at("expiry-too-long", PETER_WIKI, 9, 14);
    for ok in [
        "2026-11-23T00:00:00Z",
        "2026-11-23T02:00:00+02:00",
        "2026-11-22T18:00:00-06:00",
        "2026-11-22",
    ] {
        expect(&emergency_admin(ok).check(), std::slice::from_ref(&soon));
    }
    for bad in [
        "2026-11-23T00:00:01Z",
        "2026-11-23T02:00:01+02:00",
        "2026-11-23",
    ] {
        let report = emergency_admin(bad).check();
        let ds = expect(&report, &[soon.clone(), too_long.clone()]);
        let d = ds
            .iter()
            .find(|d| d.rule.id() == "expiry-too-long")
            .unwrap();
        assert!(d.message.contains("an emergency grant"), "{}", d.message);
        assert!(d.message.contains("24h"), "{}", d.message);
    }
}

#[test]
fn expiry_too_long_emergency_wins_over_a_longer_role_limit() {
    // post-entry allows 30d, but not as an emergency.
    let report = Org::base()
        .edit(
            SAMIR_LEDGER,
            "    ticket: FIN-2231\n",
            "    emergency: true\n",
        )
        .check();
    only(&report, at("expiry-too-long", SAMIR_LEDGER, 7, 14));
}

#[test]
fn expiry_too_long_emergency_with_a_timestamp_as_of() {
    let as_of = "2026-11-22T15:30:00Z";
    expect(
        &emergency_admin("2026-11-23T15:30:00Z").check_at(as_of),
        &[at("expiring-soon", PETER_WIKI, 9, 14).warning()],
    );
    expect(
        &emergency_admin("2026-11-23T15:30:01Z").check_at(as_of),
        &[
            at("expiring-soon", PETER_WIKI, 9, 14).warning(),
            at("expiry-too-long", PETER_WIKI, 9, 14),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// beyond-end-date
// ---------------------------------------------------------------------------------------------

const JOANNA_WIKI: &str = "access/wiki/joanna.yaml";
const MICHAEL_WIKI: &str = "access/wiki/michael.yaml";

#[test]
fn beyond_end_date_contractor() {
    // joanna's end_date is 2027-02-28: her last valid instant is the end of that day.
    let joanna = |d: &str| {
        Org::base()
            .edit(JOANNA_WIKI, "expires: 2027-02-28", &format!("expires: {d}"))
            .check()
    };
    let report = joanna("2027-03-01");
    let d = only(&report, at("beyond-end-date", JOANNA_WIKI, 7, 14));
    assert!(d.message.contains("2027-02-28"), "{}", d.message);
    assert_eq!(hint(d), "set `expires:` on or before 2027-02-28");
    only(
        &joanna("2027-02-28T23:59:59-01:00"),
        at("beyond-end-date", JOANNA_WIKI, 7, 14),
    );
    clean(&joanna("2027-03-01T00:30:00+01:00"));
    clean(&joanna("2027-03-01T00:00:00Z"));
    clean(&joanna("2027-01-31"));
}

#[test]
fn beyond_end_date_employee_with_end_date_and_no_expiry() {
    let report = Org::base()
        .edit(MICHAEL_WIKI, "    expires: 2027-06-30\n", "")
        .check();
    let d = only(&report, at("beyond-end-date", MICHAEL_WIKI, 5, 11));
    assert!(d.message.contains("no `expires`"), "{}", d.message);
    assert!(d.message.contains("2027-06-30"), "{}", d.message);
}

#[test]
fn beyond_end_date_employee_with_end_date() {
    let report = Org::base()
        .edit(MICHAEL_WIKI, "2027-06-30", "2027-07-01")
        .check();
    only(&report, at("beyond-end-date", MICHAEL_WIKI, 7, 14));
}

// ---------------------------------------------------------------------------------------------
// leaver-has-access
// ---------------------------------------------------------------------------------------------

#[test]
fn leaver_has_access() {
    let path = "access/wiki/milton.yaml";
    let report = Org::base()
        .set(
            path,
            &grant_file(
                "milton",
                "wiki",
                "  - role: reader\n    justification: Reads the basement storage guide\n  - role: editor\n    justification: Keeps the stapler inventory page up to date\n",
            ),
        )
        .check();
    let ds = expect(
        &report,
        &[
            at("leaver-has-access", path, 5, 11),
            at("leaver-has-access", path, 7, 11),
        ],
    );
    assert_eq!(
        subject(ds[0]),
        (Some("milton"), Some("wiki"), Some("reader"))
    );
    assert_eq!(
        subject(ds[1]),
        (Some("milton"), Some("wiki"), Some("editor"))
    );
}

#[test]
fn leaver_has_access_when_someone_leaves() {
    let report = Org::base()
        .edit(
            PEOPLE,
            "manager: bill\n    type: employee\n    status: active\n  - id: michael",
            "manager: bill\n    type: employee\n    status: leaver\n  - id: michael",
        )
        .check();
    expect(
        &report,
        &[
            at("leaver-has-access", PETER_VAULT, 5, 11),
            at("leaver-has-access", PETER_WIKI, 5, 11),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// sod-conflict
// ---------------------------------------------------------------------------------------------

/// sod.yaml without samir's exception.
fn without_exceptions() -> Org {
    let sod = Org::base().text(SOD);
    let rules = &sod[..sod.find("exceptions:").unwrap()];
    Org::base().set(SOD, rules)
}

#[test]
fn sod_conflict_in_one_app() {
    let report = without_exceptions().check();
    let d = only(&report, at("sod-conflict", SAMIR_LEDGER, 9, 11));
    assert_eq!(related(d), vec![(SAMIR_LEDGER, 5)]);
    assert_eq!(
        subject(d),
        (Some("samir"), Some("ledger"), Some("approve-entry"))
    );
    assert!(d.message.contains("ledger-maker-checker"), "{}", d.message);
    assert!(d.message.contains("`ledger:post-entry`"), "{}", d.message);
}

#[test]
fn sod_conflict_across_apps_anchors_at_the_first_grant_of_the_last_set() {
    // peter holds post-entry (set 1) and both approve-entry and vault:auditor (set 2): one
    // finding, at approve-entry (first of set 2 in file order), naming the other two.
    let ledger = "access/ledger/peter.yaml";
    let report = Org::base()
        .set(
            ledger,
            &grant_file(
                "peter",
                "ledger",
                "  - role: post-entry\n    justification: Covers the month-end close for Samir\n    expires: 2026-12-15\n  - role: approve-entry\n    justification: Covers the month-end close for Samir\n    expires: 2026-12-15\n",
            ),
        )
        .append(
            PETER_VAULT,
            "  - role: auditor\n    justification: Reads the audit log for the SOX walkthrough\n    expires: 2026-12-10\n",
        )
        .check();
    let d = only(&report, at("sod-conflict", ledger, 8, 11));
    assert_eq!(related(d), vec![(ledger, 5), (PETER_VAULT, 9)]);
    assert_eq!(
        subject(d),
        (Some("peter"), Some("ledger"), Some("approve-entry"))
    );
    assert!(d.message.contains("`ledger:post-entry`"), "{}", d.message);
    assert!(d.message.contains("`vault:auditor`"), "{}", d.message);
}

#[test]
fn sod_conflict_anchor_is_in_the_last_set_involved_not_the_last_set() {
    // Three sets; bill holds from the first two only: the anchor is his crm:manager (set 2).
    let report = Org::base()
        .set(
            SOD,
            "rules:\n  - id: three-way\n    description: Wiki admins, CRM managers and vault operators are three people\n    severity: error\n    conflicts:\n      - [wiki:admin]\n      - [crm:manager]\n      - [vault:operator]\n",
        )
        .set(
            "access/wiki/bill.yaml",
            &grant_file(
                "bill",
                "wiki",
                "  - role: admin\n    justification: Sets up the finance space permissions\n    expires: 2026-12-31\n",
            ),
        )
        .check();
    let d = only(&report, at("sod-conflict", "access/crm/bill.yaml", 7, 11));
    assert_eq!(related(d), vec![("access/wiki/bill.yaml", 5)]);
}

#[test]
fn sod_conflict_with_warning_severity() {
    let path = "access/vault/bill.yaml";
    let report = Org::base()
        .set(
            path,
            &grant_file(
                "bill",
                "vault",
                "  - role: operator\n    justification: Unseals the vault during the DR exercise\n    expires: 2026-12-05\n",
            ),
        )
        .check();
    let d = only(&report, at("sod-conflict", path, 5, 11).warning());
    assert_eq!(related(d), vec![("access/crm/bill.yaml", 7)]);
    assert!(!report.failed(), "a warning rule does not fail the check");
}

#[test]
fn sod_conflict_silenced_by_a_valid_exception() {
    let path = "access/vault/bill.yaml";
    let report = Org::base()
        .set(
            path,
            &grant_file(
                "bill",
                "vault",
                "  - role: operator\n    justification: Unseals the vault during the DR exercise\n    expires: 2026-12-05\n",
            ),
        )
        .append(
            SOD,
            "  - rule: crm-vault-separation\n    person: bill\n    justification: Only finance director with a vault key during the DR exercise\n    expires: 2026-12-05\n",
        )
        .check();
    clean(&report);
}

#[test]
fn sod_conflict_is_not_silenced_by_an_exception_to_another_rule() {
    let report = Org::base()
        .edit(
            SOD,
            "  - rule: ledger-maker-checker",
            "  - rule: crm-vault-separation",
        )
        .check();
    expect(
        &report,
        &[
            at("sod-conflict", SAMIR_LEDGER, 9, 11),
            at("sod-exception-unused", SOD, 15, 5).warning(),
        ],
    );
}

#[test]
fn sod_conflict_and_exception_expired() {
    // The exception ran out at the end of 2026-11-21.
    let report = Org::base()
        .edit(SOD, "expires: 2027-03-31", "expires: 2026-11-21")
        .check();
    let ds = expect(
        &report,
        &[
            at("sod-conflict", SAMIR_LEDGER, 9, 11),
            at("sod-exception-expired", SOD, 18, 14).warning(),
        ],
    );
    assert!(ds[0].message.contains("expired"), "{}", ds[0].message);
    assert_eq!(ds[1].person.as_deref(), Some("samir"));
    // Through the end of its day it is still valid.
    clean(
        &Org::base()
            .edit(SOD, "expires: 2027-03-31", "expires: 2026-11-22")
            .check(),
    );
}

#[test]
fn sod_conflict_needs_two_grants() {
    let report = Org::base()
        .set(
            SOD,
            "rules:\n  - id: viewers\n    description: Ledger viewers keep out of the CRM\n    severity: error\n    conflicts:\n      - [ledger:viewer]\n      - [ledger:viewer, crm:user]\n",
        )
        .check();
    // samir holds ledger:viewer only.
    assert!(
        !support::found(&report)
            .iter()
            .any(|f| f.0 == "sod-conflict" && f.1 == SAMIR_LEDGER),
        "{}",
        show(&report)
    );
    assert!(
        report
            .diagnostics
            .iter()
            .all(|d| !d.message.contains("and ,")),
        "{}",
        show(&report)
    );
}

// ---------------------------------------------------------------------------------------------
// sod-exception-expired / sod-exception-unused
// ---------------------------------------------------------------------------------------------

fn bill_exception(rule: &str, expires: &str) -> Org {
    Org::base().append(
        SOD,
        &format!(
            "  - rule: {rule}\n    person: bill\n    justification: Covers for the controller during the audit season\n    expires: {expires}\n"
        ),
    )
}

#[test]
fn sod_exception_expired_without_a_conflict() {
    let report = bill_exception("ledger-maker-checker", "2026-01-31").check();
    let d = only(&report, at("sod-exception-expired", SOD, 22, 14).warning());
    assert!(d.message.contains("2026-01-31"), "{}", d.message);
}

#[test]
fn sod_exception_unused() {
    let report = bill_exception("ledger-maker-checker", "2027-01-31").check();
    let d = only(&report, at("sod-exception-unused", SOD, 19, 5).warning());
    assert!(
        d.message.contains("`bill` holds no conflicting roles"),
        "{}",
        d.message
    );
    assert_eq!(d.person.as_deref(), Some("bill"));
}

#[test]
fn sod_exception_naming_a_missing_rule() {
    let report = bill_exception("no-such-rule", "2027-01-31").check();
    let d = only(&report, at("sod-exception-unused", SOD, 19, 5).warning());
    assert!(
        d.message.contains("there is no SoD rule `no-such-rule`"),
        "{}",
        d.message
    );
}

// ---------------------------------------------------------------------------------------------
// codeowners-drift
// ---------------------------------------------------------------------------------------------

/// The base with CODEOWNERS generated from its own loaded catalog.
fn generated_codeowners(org: &Org) -> String {
    let mut snap = org.snapshot();
    snap.files.remove(CODEOWNERS);
    portcullis_core::codeowners::generate(&portcullis_core::check::load(&snap).catalog)
}

#[test]
fn codeowners_generated_is_no_drift() {
    let org = Org::base().edit(
        "policies/apps/wiki.yaml",
        "[\"@initech/wiki-owners\"]",
        "[\"@initech/docs\", \"@peter-gh\"]",
    );
    let generated = generated_codeowners(&org);
    assert!(generated.contains("/access/wiki/ @initech/docs @peter-gh\n"));
    clean(&org.set(CODEOWNERS, &generated).check());
}

#[test]
fn codeowners_edited_by_hand() {
    let report = Org::base()
        .edit(
            CODEOWNERS,
            "/access/wiki/ @initech/wiki-owners",
            "/access/wiki/ @peter-gh",
        )
        .check();
    let d = only(&report, at("codeowners-drift", CODEOWNERS, 11, 1));
    assert!(d.message.contains("line 11"), "{}", d.message);
    assert!(
        hint(d).contains("portcullis codeowners --write"),
        "{}",
        hint(d)
    );
}

#[test]
fn codeowners_stale_after_an_owner_change() {
    let report = Org::base()
        .committed()
        .edit("policies/apps/crm.yaml", ", \"@bill-gh\"", "")
        .check();
    only(&report, at("codeowners-drift", CODEOWNERS, 8, 1));
}

#[test]
fn codeowners_stale_after_a_new_app() {
    let report = Org::base()
        .committed()
        .set(
            "policies/apps/intranet.yaml",
            &intranet("  editor:\n    description: Edit the home page\n"),
        )
        .check();
    // crm, intranet, ...: the intranet line comes second.
    only(&report, at("codeowners-drift", CODEOWNERS, 9, 1));
}

#[test]
fn codeowners_missing_is_drift() {
    // Pointed at the settings: a finding must name a file that exists.
    let report = Org::base().remove(CODEOWNERS).check();
    let d = only(
        &report,
        at("codeowners-drift", "policies/settings.yaml", 1, 1),
    );
    assert!(
        d.message.contains("`.github/CODEOWNERS` is missing"),
        "{}",
        d.message
    );
}

#[test]
fn codeowners_crlf_drift_points_into_the_file() {
    let text = Org::base().text(CODEOWNERS).replace('\n', "\r\n");
    let report = Org::base().set(CODEOWNERS, &text).check();
    only(&report, at("codeowners-drift", CODEOWNERS, 1, 1));
}

#[test]
fn codeowners_extra_line_is_drift() {
    let report = Org::base()
        .append(CODEOWNERS, "/access/ @peter-gh\n")
        .check();
    only(&report, at("codeowners-drift", CODEOWNERS, 18, 1));
}

// ---------------------------------------------------------------------------------------------
// expiring-soon (warn_days is 7 in the base)
// ---------------------------------------------------------------------------------------------

#[test]
fn expiring_soon_window_edge() {
    // As of 2026-11-22 00:00Z, the window ends at 2026-11-29 00:00Z, the end of 2026-11-28.
    let report = vault_expires("2026-11-28").check();
    let d = only(&report, at("expiring-soon", PETER_VAULT, 7, 14).warning());
    assert_eq!(subject(d), (Some("peter"), Some("vault"), Some("operator")));
    clean(&vault_expires("2026-11-29").check());
    only(
        &vault_expires("2026-11-29T00:00:00Z").check(),
        at("expiring-soon", PETER_VAULT, 7, 14).warning(),
    );
    clean(&vault_expires("2026-11-29T00:00:01Z").check());
    only(
        &vault_expires("2026-11-29T01:00:00+02:00").check(),
        at("expiring-soon", PETER_VAULT, 7, 14).warning(),
    );
}

#[test]
fn expiring_soon_follows_warn_days() {
    let report = Org::base()
        .edit(SETTINGS, "warn_days: 7", "warn_days: 0")
        .edit(PETER_VAULT, "2026-12-10", "2026-11-22")
        .check();
    clean(&report);
    let report = Org::base()
        .edit(SETTINGS, "warn_days: 7", "warn_days: 30")
        .check();
    // Within 30 days: peter's vault (12-10), samir's post-entry (12-15).
    expect(
        &report,
        &[
            at("expiring-soon", SAMIR_LEDGER, 7, 14).warning(),
            at("expiring-soon", PETER_VAULT, 7, 14).warning(),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// review-overdue (ledger: review_every 90d)
// ---------------------------------------------------------------------------------------------

const BILL_LEDGER: &str = "access/ledger/bill.yaml";

#[test]
fn review_overdue_by_reviewed_date() {
    // 90 days before 2026-11-22 is 2026-08-24: reviewed that day is due, not overdue.
    let reviewed = |d: &str| {
        Org::base()
            .edit(
                BILL_LEDGER,
                "reviewed: 2026-09-15",
                &format!("reviewed: {d}"),
            )
            .check()
    };
    clean(&reviewed("2026-08-24"));
    let report = reviewed("2026-08-23");
    let d = only(&report, at("review-overdue", BILL_LEDGER, 8, 15).warning());
    assert!(d.message.contains("2026-08-23"), "{}", d.message);
    assert!(d.message.contains("90d"), "{}", d.message);
    assert!(hint(d).contains("--app ledger"), "{}", hint(d));
    assert_eq!(subject(d), (Some("bill"), Some("ledger"), Some("viewer")));
}

#[test]
fn review_overdue_skips_unreviewed_grants_without_history() {
    let report = Org::base()
        .edit(BILL_LEDGER, "    reviewed: 2026-09-15\n", "")
        .check();
    clean(&report);
}

#[test]
fn review_overdue_only_for_apps_with_review_every() {
    let report = Org::base()
        .append(JOANNA_WIKI, "    reviewed: 2024-01-01\n")
        .check();
    clean(&report);
}

#[test]
fn review_overdue_by_commit_date() {
    let org = Org::base().edit(BILL_LEDGER, "    reviewed: 2026-09-15\n", "");
    let snap = org.snapshot();
    let loaded = portcullis_core::check::load(&snap);
    let mut needing = portcullis_core::rules::files_needing_history(&loaded.catalog);
    needing.sort();
    assert_eq!(needing, vec![BILL_LEDGER, SAMIR_LEDGER]);
    let touched = |date: &str| {
        let mut m = HashMap::new();
        m.insert(BILL_LEDGER.to_owned(), support::as_of(date));
        m.insert(SAMIR_LEDGER.to_owned(), support::as_of("2026-11-01"));
        portcullis_core::check::finish(
            portcullis_core::check::load(&snap),
            &snap,
            support::as_of(AS_OF),
            &m,
        )
        .1
    };
    clean(&touched("2026-08-24"));
    let report = touched("2026-08-23");
    let d = only(&report, at("review-overdue", BILL_LEDGER, 5, 11).warning());
    assert!(d.message.contains("never reviewed"), "{}", d.message);
}

// ---------------------------------------------------------------------------------------------
// Several problems at once
// ---------------------------------------------------------------------------------------------

#[test]
fn one_broken_file_does_not_hide_the_others() {
    let report = Org::base()
        .append(PETER_WIKI, "    role: reader\n")
        .edit(PETER_VAULT, "expires:", "expiry:")
        .rename(MICHAEL_WIKI, "access/wiki/michael.yml")
        .edit(JOANNA_WIKI, "2027-02-28", "2026-11-01")
        .check();
    expect(
        &report,
        &[
            at("yaml-syntax", PETER_WIKI, 7, 5),
            at("schema", PETER_VAULT, 7, 5),
            at("path-mismatch", "access/wiki/michael.yml", 1, 1),
            at("expired", JOANNA_WIKI, 7, 14),
        ],
    );
    assert_eq!(report.errors(), 4);
    assert_eq!(report.grants, 7);
    // The report is sorted by file and position.
    let files: Vec<&str> = report.diagnostics.iter().map(|d| d.file.as_str()).collect();
    assert_eq!(
        files,
        vec![
            "access/vault/peter.yaml",
            "access/wiki/joanna.yaml",
            "access/wiki/michael.yml",
            "access/wiki/peter.yaml"
        ]
    );
}

#[test]
fn every_rule_has_a_test_here() {
    let source = include_str!("rules.rs");
    for rule in Rule::ALL {
        assert!(
            source.contains(&format!("at(\"{}\"", rule.id())),
            "no expectation for `{}`",
            rule.id()
        );
    }
}
