//! Editing grant files in place: comments, key order, quoting, flow lists and CRLF line
//! endings survive; only the lines that must change change; every result loads strictly.

use chrono::NaiveDate;
use portcullis_core::edit::{NewGrant, Upsert, remove_grants, set_reviewed, upsert_grant};
use portcullis_core::load::yaml;
use portcullis_core::model::GrantFile;
use portcullis_core::snapshot::Snapshot;
use proptest::prelude::*;

use crate::support;

fn grant(role: &str, justification: &str, expires: &str) -> NewGrant {
    NewGrant {
        role: role.into(),
        justification: justification.into(),
        expires: Some(expires.into()),
        ticket: None,
        emergency: false,
    }
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// Loads a grant file with the strict loader, failing the test on any finding.
fn load(path: &str, text: &str) -> GrantFile {
    let node = yaml::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    let mut diags = Vec::new();
    let file = portcullis_core::load::grant_file(path, &node, &mut diags);
    assert!(diags.is_empty(), "{diags:#?}\n{text}");
    file.unwrap()
}

/// Every line break of a CRLF file is still CRLF.
fn all_crlf(text: &str) -> bool {
    text.match_indices('\n')
        .all(|(i, _)| i > 0 && text.as_bytes()[i - 1] == b'\r')
}

const COMMENTED: &str = "\
# yaml-language-server: $schema=../../schemas/grant.schema.json
person: clara
app: payments
grants:
  # Clara also releases Singapore wires: see the
  # wire-maker-checker exception in policies/sod.yaml.
  - role: create-payment
    justification: 'Prepares the Singapore entity''s local carrier payments'
    expires: 2027-01-15   # end of the Q4 close
    ticket: FIN-1204
    reviewed: 2026-10-05

  # Read-only, reviewed with the others.
  - role: viewer
    justification: \"Follows payment run status\"  # see FIN-7
    expires: 2027-02-12
";

#[test]
fn adding_a_grant_keeps_comments_blank_lines_and_quoting() {
    let mut g = grant(
        "admin",
        "Incident INC-88: restore the payment queue",
        "2026-11-23T18:00:00Z",
    );
    g.emergency = true;
    g.ticket = Some("INC-88".into());
    let (out, how) = upsert_grant(Some(COMMENTED), "clara", "payments", &g).unwrap();
    assert_eq!(how, Upsert::Added);
    assert_eq!(
        out,
        format!(
            "{COMMENTED}  - role: admin\n    justification: \"Incident INC-88: restore the payment queue\"\n    expires: 2026-11-23T18:00:00Z\n    ticket: INC-88\n    emergency: true\n"
        )
    );
    let file = load("access/payments/clara.yaml", &out);
    assert_eq!(file.grants.len(), 3);
    assert!(file.grants[2].emergency);
}

#[test]
fn renewing_changes_only_the_renewed_values() {
    let g = grant(
        "create-payment",
        "Prepares the Singapore payments through the Q1 close",
        "2027-03-31",
    );
    let (out, how) = upsert_grant(Some(COMMENTED), "clara", "payments", &g).unwrap();
    assert_eq!(how, Upsert::Renewed);
    // The ticket goes (a renewal states its own), the comment after `expires` stays, and
    // `reviewed` is not the requester's to change.
    let expected = COMMENTED
        .replace(
            "'Prepares the Singapore entity''s local carrier payments'",
            "Prepares the Singapore payments through the Q1 close",
        )
        .replace("2027-01-15   #", "2027-03-31   #")
        .replace("    ticket: FIN-1204\n", "");
    assert_eq!(out, expected);
    load("access/payments/clara.yaml", &out);

    // Values that did not change keep their quoting.
    let g = grant("viewer", "Follows payment run status", "2027-02-12");
    let (out, how) = upsert_grant(Some(COMMENTED), "clara", "payments", &g).unwrap();
    assert_eq!(how, Upsert::Renewed);
    assert_eq!(out, COMMENTED);
    // A comment after a quoted value stays when the value changes.
    let g = grant("viewer", "Follows payment runs \"daily\"", "2027-02-12");
    let (out, _) = upsert_grant(Some(COMMENTED), "clara", "payments", &g).unwrap();
    assert_eq!(
        out,
        COMMENTED.replace(
            "\"Follows payment run status\"  # see FIN-7",
            "Follows payment runs \"daily\"  # see FIN-7"
        )
    );
}

#[test]
fn renewing_a_grant_with_reordered_keys_places_new_fields_by_the_spec_order() {
    let text = "\
person: dana
app: wiki
grants:
  - expires: 2026-12-01
    role: editor   # since the migration
    justification: |
      Edits the onboarding space
      for the support team
    reviewed: 2026-09-01
  - role: reader
    justification: Reads every space as the team's librarian
";
    let mut g = grant("editor", "Edits the onboarding space", "2027-01-31");
    g.ticket = Some("WIKI-7".into());
    let (out, _) = upsert_grant(Some(text), "dana", "wiki", &g).unwrap();
    assert_eq!(
        out,
        "\
person: dana
app: wiki
grants:
  - expires: 2027-01-31
    ticket: WIKI-7
    role: editor   # since the migration
    justification: Edits the onboarding space
    reviewed: 2026-09-01
  - role: reader
    justification: Reads every space as the team's librarian
"
    );
    load("access/wiki/dana.yaml", &out);

    let out = set_reviewed(text, date("2026-11-20"), None).unwrap();
    assert_eq!(
        out,
        text.replace("reviewed: 2026-09-01", "reviewed: 2026-11-20")
            .replace("librarian\n", "librarian\n    reviewed: 2026-11-20\n")
    );
    let out = remove_grants(text, &["editor"]).unwrap().unwrap();
    assert_eq!(
        out,
        "person: dana\napp: wiki\ngrants:\n  - role: reader\n    justification: Reads every space as the team's librarian\n"
    );
}

#[test]
fn flow_lists_are_edited_in_flow_style() {
    let text = "# one line per person\nperson: dana\napp: wiki\ngrants: [{role: reader, justification: \"Reads, every space\"}, {role: editor, justification: Edits pages}]  # keep short\n";
    let (out, how) = upsert_grant(
        Some(text),
        "dana",
        "wiki",
        &grant("admin", "Runs the space migration, phase 2", "2026-12-01"),
    )
    .unwrap();
    assert_eq!(how, Upsert::Added);
    assert_eq!(
        out,
        "# one line per person\nperson: dana\napp: wiki\ngrants: [{role: reader, justification: \"Reads, every space\"}, {role: editor, justification: Edits pages}, {role: admin, justification: \"Runs the space migration, phase 2\", expires: 2026-12-01}]  # keep short\n"
    );
    load("access/wiki/dana.yaml", &out);

    let (out, how) = upsert_grant(
        Some(text),
        "dana",
        "wiki",
        &grant("editor", "Edits the onboarding pages", "2026-12-01"),
    )
    .unwrap();
    assert_eq!(how, Upsert::Renewed);
    assert_eq!(
        out,
        "# one line per person\nperson: dana\napp: wiki\ngrants: [{role: reader, justification: \"Reads, every space\"}, {role: editor, justification: Edits the onboarding pages, expires: 2026-12-01}]  # keep short\n"
    );

    let out = remove_grants(text, &["reader"]).unwrap().unwrap();
    assert_eq!(
        out,
        "# one line per person\nperson: dana\napp: wiki\ngrants: [{role: editor, justification: Edits pages}]  # keep short\n"
    );
    let out = remove_grants(text, &["editor"]).unwrap().unwrap();
    assert_eq!(
        out,
        "# one line per person\nperson: dana\napp: wiki\ngrants: [{role: reader, justification: \"Reads, every space\"}]  # keep short\n"
    );
    assert_eq!(remove_grants(text, &["editor", "reader"]).unwrap(), None);

    let out = set_reviewed(text, date("2026-11-20"), Some(&["editor"])).unwrap();
    assert_eq!(
        out,
        "# one line per person\nperson: dana\napp: wiki\ngrants: [{role: reader, justification: \"Reads, every space\"}, {role: editor, justification: Edits pages, reviewed: 2026-11-20}]  # keep short\n"
    );
}

#[test]
fn block_items_written_as_flow_mappings_get_company() {
    let text =
        "person: dana\napp: wiki\ngrants:\n  - {role: reader, justification: Reads every space}\n";
    let (out, _) = upsert_grant(
        Some(text),
        "dana",
        "wiki",
        &grant("editor", "Edits the onboarding pages", "2026-12-01"),
    )
    .unwrap();
    assert_eq!(
        out,
        format!(
            "{text}  - {{role: editor, justification: Edits the onboarding pages, expires: 2026-12-01}}\n"
        )
    );
    load("access/wiki/dana.yaml", &out);
}

const CRLF: &str = "person: dana\r\napp: wiki\r\ngrants:\r\n- role: reader   # first\r\n  justification: 'Reads every space'\r\n  ticket: WIKI-1\r\n  emergency: false\r\n# between\r\n- role: editor\r\n  justification: Edits the onboarding pages\r\n  expires: 2026-12-01\r\n  reviewed: 2026-10-01";

#[test]
fn crlf_files_keep_crlf_and_a_missing_final_newline_stays_missing() {
    let (out, how) = upsert_grant(
        Some(CRLF),
        "dana",
        "wiki",
        &grant("admin", "Runs the space migration", "2026-12-01"),
    )
    .unwrap();
    assert_eq!(how, Upsert::Added);
    assert_eq!(
        out,
        format!(
            "{CRLF}\r\n- role: admin\r\n  justification: Runs the space migration\r\n  expires: 2026-12-01"
        )
    );
    assert!(all_crlf(&out));

    let (out, how) = upsert_grant(
        Some(CRLF),
        "dana",
        "wiki",
        &grant("reader", "Reads every space", "2026-12-24"),
    )
    .unwrap();
    assert_eq!(how, Upsert::Renewed);
    assert_eq!(
        out,
        "person: dana\r\napp: wiki\r\ngrants:\r\n- role: reader   # first\r\n  justification: 'Reads every space'\r\n  expires: 2026-12-24\r\n  emergency: false\r\n# between\r\n- role: editor\r\n  justification: Edits the onboarding pages\r\n  expires: 2026-12-01\r\n  reviewed: 2026-10-01"
    );

    let out = remove_grants(CRLF, &["editor"]).unwrap().unwrap();
    assert_eq!(
        out,
        "person: dana\r\napp: wiki\r\ngrants:\r\n- role: reader   # first\r\n  justification: 'Reads every space'\r\n  ticket: WIKI-1\r\n  emergency: false\r\n# between"
    );
    let out = remove_grants(CRLF, &["reader"]).unwrap().unwrap();
    assert_eq!(
        out,
        "person: dana\r\napp: wiki\r\ngrants:\r\n# between\r\n- role: editor\r\n  justification: Edits the onboarding pages\r\n  expires: 2026-12-01\r\n  reviewed: 2026-10-01"
    );

    let out = set_reviewed(CRLF, date("2026-11-20"), None).unwrap();
    assert_eq!(
        out,
        "person: dana\r\napp: wiki\r\ngrants:\r\n- role: reader   # first\r\n  justification: 'Reads every space'\r\n  ticket: WIKI-1\r\n  emergency: false\r\n  reviewed: 2026-11-20\r\n# between\r\n- role: editor\r\n  justification: Edits the onboarding pages\r\n  expires: 2026-12-01\r\n  reviewed: 2026-11-20"
    );
    assert!(all_crlf(&out));
    load("access/wiki/dana.yaml", &out);
}

#[test]
fn removing_grants() {
    let out = remove_grants(COMMENTED, &["create-payment"])
        .unwrap()
        .unwrap();
    // The item's own lines go; the comments around it are kept.
    assert_eq!(
        out,
        COMMENTED.replace(
            "  - role: create-payment\n    justification: 'Prepares the Singapore entity''s local carrier payments'\n    expires: 2027-01-15   # end of the Q4 close\n    ticket: FIN-1204\n    reviewed: 2026-10-05\n",
            ""
        )
    );
    load("access/payments/clara.yaml", &out);
    let out = remove_grants(COMMENTED, &["viewer"]).unwrap().unwrap();
    assert_eq!(
        out,
        COMMENTED.replace(
            "  - role: viewer\n    justification: \"Follows payment run status\"  # see FIN-7\n    expires: 2027-02-12\n",
            ""
        )
    );
    // Roles the file does not hold: nothing to do.
    assert_eq!(
        remove_grants(COMMENTED, &["admin"]).unwrap().as_deref(),
        Some(COMMENTED)
    );
    assert_eq!(
        remove_grants(COMMENTED, &["viewer", "create-payment"]).unwrap(),
        None
    );
    let single = "person: dana\napp: wiki\ngrants:\n  - role: reader\n    justification: |\n      Reads every space\n";
    assert_eq!(remove_grants(single, &["reader"]).unwrap(), None);
}

#[test]
fn removing_a_multi_line_grant_takes_all_of_its_lines() {
    let text = "person: dana\napp: wiki\ngrants:\n  - role: reader\n    justification: >-\n      Reads every space\n      # not a comment: part of the text\n  # a comment after the item\n  - role: editor\n    justification: Edits the onboarding pages\n";
    let out = remove_grants(text, &["reader"]).unwrap().unwrap();
    assert_eq!(
        out,
        "person: dana\napp: wiki\ngrants:\n  # a comment after the item\n  - role: editor\n    justification: Edits the onboarding pages\n"
    );
}

#[test]
fn set_reviewed_replaces_or_adds_the_date() {
    let out = set_reviewed(COMMENTED, date("2026-11-20"), None).unwrap();
    assert_eq!(
        out,
        COMMENTED
            .replace("reviewed: 2026-10-05", "reviewed: 2026-11-20")
            .replace(
                "    expires: 2027-02-12\n",
                "    expires: 2027-02-12\n    reviewed: 2026-11-20\n"
            )
    );
    let out = set_reviewed(COMMENTED, date("2026-11-20"), Some(&["viewer"])).unwrap();
    assert_eq!(
        out,
        COMMENTED.replace(
            "    expires: 2027-02-12\n",
            "    expires: 2027-02-12\n    reviewed: 2026-11-20\n"
        )
    );
    let file = load("access/payments/clara.yaml", &out);
    assert_eq!(
        file.grants[1].reviewed.as_ref().map(|r| r.value),
        Some(date("2026-11-20"))
    );
    let e = set_reviewed(COMMENTED, date("2026-11-20"), Some(&["admin"])).unwrap_err();
    assert!(e.message.contains("`admin`"), "{e}");
}

#[test]
fn layouts_too_unusual_to_edit_are_refused_not_mangled() {
    let g = grant("reader", "Reads every space for the audit", "2026-12-01");
    let cases = [
        // A comment between a key and its value would be lost.
        "person: dana\napp: wiki\ngrants:\n  - role: reader\n    justification: # why\n      Reads every space\n",
        // Lone carriage returns as line breaks.
        "person: dana\rapp: wiki\rgrants:\r  - role: reader\r",
        // The role twice.
        "person: dana\napp: wiki\ngrants:\n  - role: reader\n  - role: reader\n",
        // Not this person's file.
        "person: erin\napp: wiki\ngrants:\n  - role: reader\n",
        // Not YAML the loader accepts.
        "person: dana\napp: wiki\ngrants:\n  - role: &r reader\n",
        "person: dana\napp: wiki\ngrants: {role: reader}\n",
        "person: dana\napp: wiki\ngrants:\n  - justification: no role here\n",
    ];
    for text in cases {
        let e = upsert_grant(Some(text), "dana", "wiki", &g).unwrap_err();
        assert!(!e.message.is_empty(), "{text}");
    }
    let e = upsert_grant(Some(cases[0]), "dana", "wiki", &g).unwrap_err();
    assert_eq!(e.line, 5, "{e}");
    assert!(e.to_string().starts_with("line 5: "), "{e}");
}

#[test]
fn control_and_invisible_characters_are_refused() {
    for bad in [
        "Reads\u{202e} every space",
        "Reads every\u{200b} space",
        "tab\tin text",
        "bell\u{7}",
    ] {
        let e =
            upsert_grant(None, "dana", "wiki", &grant("reader", bad, "2026-12-01")).unwrap_err();
        assert!(e.message.contains("justification"), "{e}");
    }
    let mut g = grant("reader", "Reads every space", "2026-12-01");
    g.ticket = Some("T-\u{2066}1".into());
    assert!(upsert_grant(None, "dana", "wiki", &g).is_err());
}

/// Every file of the example organisation, edited three ways: the whole tree still passes
/// `check`, and only the lines that had to change changed.
#[test]
fn edits_of_the_example_organisation_pass_check() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let base = portcullis_git::worktree::read(root).unwrap();
    let as_of = support::as_of("2026-11-22");
    let grant_files: Vec<(String, String)> = base
        .files
        .keys()
        .filter(|p| p.starts_with("access/"))
        .map(|p| (p.clone(), base.text(p).unwrap().to_owned()))
        .collect();
    assert!(grant_files.len() > 100);

    let mut reviewed = base.clone();
    let mut removed = base.clone();
    let mut renewed = base.clone();
    for (path, text) in &grant_files {
        let out = set_reviewed(text, date("2026-11-20"), None).unwrap();
        let before = text.lines().count();
        let added = text.matches("  - role:").count() - text.matches("    reviewed:").count();
        assert_eq!(out.lines().count(), before + added, "{path}");
        reviewed.insert_bytes(path, out.as_bytes());

        let first = load(path, text).grants[0].role.value.clone();
        match remove_grants(text, &[&first]).unwrap() {
            Some(out) => removed.insert_bytes(path, out.as_bytes()),
            None => {
                removed.files.remove(path);
            }
        }

        let file = load(path, text);
        let g = &file.grants[0];
        let renewal = NewGrant {
            role: g.role.value.clone(),
            justification: format!("{} (renewed)", g.justification.as_ref().unwrap().value),
            expires: Some(if g.emergency {
                "2026-11-22T18:00:00Z".into()
            } else {
                "2026-12-02".into()
            }),
            ticket: g.ticket.clone(),
            emergency: g.emergency,
        };
        let (out, how) = upsert_grant(Some(text), &file.person, &file.app, &renewal).unwrap();
        assert_eq!(how, Upsert::Renewed);
        let diff = similar::TextDiff::from_lines(text.as_str(), out.as_str());
        let (mut deleted, mut inserted) = (0, 0);
        for change in diff.iter_all_changes() {
            match change.tag() {
                similar::ChangeTag::Delete => deleted += 1,
                similar::ChangeTag::Insert => inserted += 1,
                similar::ChangeTag::Equal => {}
            }
        }
        // The justification line, and the `expires:` line replaced or added.
        assert!(deleted <= 2 && inserted == 2, "{path}:\n{out}");
        renewed.insert_bytes(path, out.as_bytes());
    }
    for (what, tree) in [
        ("reviewed", &reviewed),
        ("removed", &removed),
        ("renewed", &renewed),
    ] {
        let report = portcullis_core::check::check(tree, as_of);
        assert_eq!(report.errors(), 0, "{what}: {:#?}", report.diagnostics);
    }
}

/// Justification text as people type it, plus what YAML takes for something else.
fn justification() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[ -~]{0,6}",
        "\\PC{0,3}",
        prop::sample::select(vec![
            "\"",
            "'",
            "\\",
            "#",
            " #",
            ": ",
            ":",
            "- ",
            "-",
            "* ",
            "*",
            "& ",
            "&",
            "! ",
            "!",
            "? ",
            "|",
            ">",
            "%",
            "@",
            "`",
            "[",
            "]",
            "{",
            "}",
            ",",
            "yes",
            "no",
            "Yes",
            "off",
            "~",
            "null",
            "true",
            "12",
            "-3",
            "0x1F",
            "1e3",
            ".5",
            "2026-11-22",
            "  ",
            " ",
            "\n",
            "\n\n",
            "\u{a0}",
            "é",
            "日本",
            "---",
            "...",
        ])
        .prop_map(str::to_owned),
    ];
    // Characters governed files refuse (by category: format, unassigned, private use…) are
    // the loader's to reject, not text to round-trip.
    prop::collection::vec(piece, 0..8)
        .prop_map(|parts| parts.concat())
        .prop_filter("visible text", |s| {
            s.chars()
                .all(|c| c == '\n' || portcullis_core::load::yaml::forbidden_char(c).is_none())
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn justifications_round_trip_exactly(text in justification(), flow in any::<bool>()) {
        let g = grant("editor", &text, "2026-12-01");
        let existing = if flow {
            "person: dana\napp: wiki\ngrants: [{role: reader, justification: Reads every space}]\n"
        } else {
            "person: dana\napp: wiki\ngrants:\n  - role: reader\n    justification: Reads every space\n"
        };
        for start in [None, Some(existing)] {
            let (out, _) = upsert_grant(start, "dana", "wiki", &g).unwrap();
            let file = load("access/wiki/dana.yaml", &out);
            let written = file.grants.iter().find(|g| g.role.value == "editor").unwrap();
            prop_assert_eq!(&written.justification.as_ref().unwrap().value, &text);
            // And again, as a renewal of what was just written.
            let again = grant("editor", &format!("{text}!"), "2026-12-02");
            let (out, how) = upsert_grant(Some(&out), "dana", "wiki", &again).unwrap();
            prop_assert_eq!(how, Upsert::Renewed);
            let file = load("access/wiki/dana.yaml", &out);
            let written = file.grants.iter().find(|g| g.role.value == "editor").unwrap();
            prop_assert_eq!(&written.justification.as_ref().unwrap().value, &format!("{text}!"));
        }
    }
}

#[test]
fn a_snapshot_with_a_new_file_passes_check() {
    let mut snap: Snapshot =
        portcullis_git::worktree::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
    let (text, how) = upsert_grant(
        None,
        "nadia",
        "grafana",
        &grant(
            "viewer",
            "Watches the support queue dashboards",
            "2027-01-31",
        ),
    )
    .unwrap();
    assert_eq!(how, Upsert::Created);
    assert!(!snap.files.contains_key("access/grafana/nadia.yaml"));
    snap.insert_bytes("access/grafana/nadia.yaml", text.as_bytes());
    let report = portcullis_core::check::check(&snap, support::as_of("2026-11-22"));
    assert_eq!(report.errors(), 0, "{:#?}", report.diagnostics);
    assert!(
        report
            .diagnostics
            .iter()
            .all(|d| d.file != "access/grafana/nadia.yaml")
    );
}

#[test]
fn empty_values_are_filled_in_or_removed() {
    let text = "person: dana\napp: wiki\ngrants:\n  - role: reader\n    justification:   # TODO\n    ticket:\n    expires: ~\n";
    let (out, _) = upsert_grant(
        Some(text),
        "dana",
        "wiki",
        &grant("reader", "Reads every space for the audit", "2026-12-01"),
    )
    .unwrap();
    assert_eq!(
        out,
        "person: dana\napp: wiki\ngrants:\n  - role: reader\n    justification: Reads every space for the audit   # TODO\n    expires: 2026-12-01\n"
    );
}
