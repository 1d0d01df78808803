//! The loader and the grant file editor against random and mutated YAML: never a panic, never
//! a hang, a clear finding or error for anything they refuse.

use std::time::{Duration, Instant};

use portcullis_core::snapshot::Snapshot;
use proptest::prelude::*;

use crate::support::as_of;

const SEEDS: [&str; 4] = [
    include_str!("../../access/payments/clara.yaml"),
    include_str!("../../policies/apps/payments.yaml"),
    include_str!("../../policies/sod.yaml"),
    include_str!("../../policies/settings.yaml"),
];

/// Characters that steer YAML parsers into their odd corners.
const SPICE: &[&str] = &[
    "&a ",
    "*a",
    "!!binary ",
    "!tag ",
    "<<: ",
    "? ",
    "- ",
    ": ",
    "{",
    "}",
    "[",
    "]",
    "|",
    ">-",
    "'",
    "\"",
    "#",
    "---\n",
    "...\n",
    "\t",
    "\n  ",
    "\\u202e",
    "\u{202e}",
    "\u{200b}",
    "\u{feff}",
    "yes",
    "2026-02-30",
    "0x1F",
    "~",
    "%YAML 1.1\n",
    "@",
    "`",
    ",",
    "\r\n",
];

fn mutate(seed: &str, edits: &[(usize, usize, usize)]) -> Vec<u8> {
    let mut bytes = seed.as_bytes().to_vec();
    for (kind, at, what) in edits {
        let at = if bytes.is_empty() {
            0
        } else {
            at % bytes.len()
        };
        match kind % 4 {
            0 => {
                let s = SPICE[what % SPICE.len()].as_bytes();
                bytes.splice(at..at, s.iter().copied());
            }
            1 => {
                let end = (at + what % 12).min(bytes.len());
                bytes.drain(at..end);
            }
            2 => bytes.insert(at, (*what % 256) as u8),
            _ => {
                let end = (at + what % 40).min(bytes.len());
                let chunk: Vec<u8> = bytes[at..end].to_vec();
                bytes.splice(at..at, chunk);
            }
        }
    }
    bytes
}

fn check_quickly(path: &str, bytes: &[u8]) {
    let mut snap = Snapshot::from_files([
        ("policies/settings.yaml", SEEDS[3]),
        (
            "policies/people.yaml",
            include_str!("../../policies/people.yaml"),
        ),
    ]);
    snap.insert_bytes(path, bytes);
    let started = Instant::now();
    let report = portcullis_core::check::check(&snap, as_of("2026-11-22"));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    for d in &report.diagnostics {
        assert!(d.pos.line >= 1 && d.pos.col >= 1, "{d:?}");
        assert!(!d.message.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn mutated_grant_files_never_panic(seed in 0usize..3, edits in prop::collection::vec((0usize..4, 0usize..4096, 0usize..4096), 1..8)) {
        let path = ["access/payments/clara.yaml", "policies/apps/payments.yaml", "policies/sod.yaml"][seed];
        check_quickly(path, &mutate(SEEDS[seed], &edits));
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        check_quickly("access/payments/clara.yaml", &bytes);
    }

    #[test]
    fn random_yaml_shaped_text_never_panics(parts in prop::collection::vec(0usize..SPICE.len(), 0..200)) {
        let text: String = parts.iter().map(|i| SPICE[*i]).collect();
        check_quickly("access/payments/clara.yaml", text.as_bytes());
    }
}

/// Every edit of a mutated grant file either is refused or yields a file the loader reads.
fn edit_quickly(bytes: &[u8]) {
    use portcullis_core::edit::{NewGrant, remove_grants, set_reviewed, upsert_grant};
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let started = Instant::now();
    let mut results = Vec::new();
    for role in ["viewer", "admin"] {
        let grant = NewGrant {
            role: role.into(),
            justification: "Restores the payment queue: \"INC-88\" #ops".into(),
            expires: Some("2026-12-01".into()),
            ticket: Some("INC-88".into()),
            emergency: role == "admin",
        };
        results.push(upsert_grant(Some(text), "clara", "payments", &grant).map(|(t, _)| Some(t)));
    }
    results.push(remove_grants(text, &["viewer"]));
    results.push(
        set_reviewed(
            text,
            chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap_or_default(),
            None,
        )
        .map(Some),
    );
    for out in results.into_iter().flatten().flatten() {
        portcullis_core::load::yaml::parse(out.as_bytes())
            .unwrap_or_else(|e| panic!("{e:?}\n{out}"));
    }
    assert!(started.elapsed() < Duration::from_secs(2));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn mutated_grant_files_never_break_the_editor(seed in 0usize..3, edits in prop::collection::vec((0usize..4, 0usize..4096, 0usize..4096), 1..6)) {
        let seeds = [
            SEEDS[0].to_owned(),
            SEEDS[0].replace('\n', "\r\n"),
            "person: clara\napp: payments\ngrants: [{role: viewer, justification: \"Reads, daily\"},\n  {role: create-payment, expires: 2027-01-15}]  # flow\n".to_owned(),
        ];
        edit_quickly(&mutate(&seeds[seed], &edits));
    }
}

#[test]
fn pathological_nesting_is_refused_fast() {
    for text in [
        "[".repeat(200_000),
        "{a: ".repeat(100_000),
        "- ".repeat(100_000),
        "a:\n ".repeat(50_000),
    ] {
        check_quickly("access/payments/clara.yaml", &text.into_bytes()[..]);
    }
}

/// A people directory long enough to be parsed in pieces.
fn big_people(n: usize) -> String {
    let mut s = String::from(
        "# yaml-language-server: $schema=../schemas/people.schema.json\n# HR export\npeople:\n",
    );
    for i in 0..n {
        if i % 50 == 0 {
            s.push_str(&format!("  # team {i}\n\n"));
        }
        s.push_str(&format!(
            "  - id: p{i}\n    name: \"Person {i}\"\n    email: p{i}@example.com\n    department: d{}\n    title: >-\n      Analyst\n      grade {i}\n    type: employee\n    status: active\n",
            i % 7
        ));
    }
    s
}

#[test]
fn the_people_directory_parses_the_same_in_pieces() {
    use portcullis_core::load::{self, yaml};
    let text = big_people(2000);
    let whole = yaml::parse(text.as_bytes()).unwrap();
    let pieces = load::pieces::parse_list_parallel(text.as_bytes(), "people", 4).unwrap();
    let (a, b) = (format!("{whole:?}"), format!("{pieces:?}"));
    let at = a
        .bytes()
        .zip(b.bytes())
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    assert!(
        a == b,
        "differ at {at}: {} | {}",
        &a[at.saturating_sub(200)..(at + 100).min(a.len())],
        &b[at.saturating_sub(200)..(at + 100).min(b.len())]
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Whatever one edit does to a long people file, the piecewise parser gives the plain
    /// parser's result: the same tree, or the same error at the same position.
    #[test]
    fn piecewise_people_parse_agrees_with_the_plain_parser(
        at in 0usize..40_000,
        spice in prop::sample::select(SPICE),
    ) {
        use portcullis_core::load::{self, yaml};
        let mut text = big_people(600);
        let mut at = at % text.len();
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.insert_str(at, spice);
        let whole = yaml::parse(text.as_bytes());
        let pieces = load::pieces::parse_list_parallel(text.as_bytes(), "people", 4);
        match (whole, pieces) {
            (Ok(a), Ok(b)) => prop_assert!(a == b, "trees differ"),
            (Err(a), Err(b)) => prop_assert_eq!((a.pos, a.message), (b.pos, b.message)),
            (a, b) => prop_assert!(false, "plain {:?} vs pieces {:?}", a.is_ok(), b.is_ok()),
        }
    }
}

/// The directory read in pieces (`load::people_directory(.., true)`) against the whole tree:
/// the same people, the same unusable entries, the same findings in the same order.
fn people_agree(text: &str) -> Result<bool, String> {
    use portcullis_core::load;
    let (a, da, _) = load::people_directory(text.as_bytes(), false);
    let (b, db, pieces) = load::people_directory(text.as_bytes(), true);
    if a.people != b.people {
        return Err("the people differ".into());
    }
    if a.broken_people != b.broken_people {
        return Err(format!(
            "unusable entries differ: {:?} vs {:?}",
            a.broken_people, b.broken_people
        ));
    }
    if da != db {
        return Err(format!("findings differ:\n{da:#?}\nvs\n{db:#?}"));
    }
    Ok(pieces)
}

/// A plain directory (the shape a sync writes), long enough to be read in pieces.
fn plain_people(n: usize) -> String {
    let mut s = String::from("# HR export\npeople:\n");
    for i in 0..n {
        s.push_str(&format!(
            "  - id: p{i}\n    name: Person {i}\n    email: p{i}@example.com\n    github: p{i}-gh\n    department: d{}\n    manager: p{}\n    type: contractor\n    end_date: 2027-0{}-1{}\n    status: active\n",
            i % 7,
            i / 10,
            1 + i % 9,
            i % 10
        ));
    }
    s
}

#[test]
fn the_directory_read_in_pieces_is_the_directory_read_whole() {
    let plain = plain_people(3000);
    assert_eq!(
        people_agree(&plain),
        Ok(true),
        "a plain directory is read in pieces"
    );
    assert_eq!(people_agree(&big_people(3000)), Ok(true));
    // Findings a valid schema still allows, placed in different pieces: an id and a GitHub
    // login used twice, a date that is not a day, and an entry the schema refuses.
    for (from, to, pieces) in [
        ("  - id: p2900\n", "  - id: p3\n", true),
        ("    github: p2950-gh\n", "    github: P7-GH\n", true),
        (
            "    end_date: 2027-02-12\n",
            "    end_date: 2027-02-30\n",
            true,
        ),
        (
            "    type: contractor\n    end_date: 2027-05-14",
            "    type: robot\n    end_date: 2027-05-14",
            false,
        ),
        (
            "    status: active\n  - id: p1500",
            "    status: active\n    shoe: 44\n  - id: p1500",
            false,
        ),
        ("  - id: p2000\n", "  - id: P2000\n", false),
    ] {
        assert!(plain.contains(from), "{from}");
        let text = plain.replacen(from, to, 1);
        assert_eq!(people_agree(&text), Ok(pieces), "after `{from}` -> `{to}`");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever one edit does to a long directory, reading it in pieces gives what reading its
    /// whole tree gives.
    #[test]
    fn the_directory_in_pieces_agrees_after_any_edit(
        at in 0usize..300_000,
        spice in prop::sample::select(SPICE),
    ) {
        let mut text = plain_people(1500);
        let mut at = at % text.len();
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.insert_str(at, spice);
        if let Err(e) = people_agree(&text) {
            prop_assert!(false, "{}", e);
        }
    }
}

/// `directory::select` keeps every line where it was: the same number of lines, each kept line
/// as it was, each blanked line empty; and the wanted people read from what it keeps are the
/// people read from the whole directory.
fn selection_holds(text: &str, wanted: &dyn Fn(&str) -> bool) -> Result<(), String> {
    use portcullis_core::load::{self, directory};
    let Some(entries) = directory::scan(text) else {
        return Ok(());
    };
    let kept = entries.select(wanted);
    let (a, b): (Vec<&str>, Vec<&str>) = (text.split('\n').collect(), kept.split('\n').collect());
    if a.len() != b.len() {
        return Err(format!("{} lines became {}", a.len(), b.len()));
    }
    if let Some(i) = (0..a.len()).find(|&i| !(b[i] == a[i] || b[i].is_empty())) {
        return Err(format!("line {} changed: {:?} -> {:?}", i + 1, a[i], b[i]));
    }
    let (whole, _, _) = load::people_directory(text.as_bytes(), false);
    let (part, _, _) = load::people_directory(kept.as_bytes(), false);
    for (id, person) in &whole.people {
        if wanted(id) && part.people.get(id) != Some(person) {
            return Err(format!("`{id}` read from the selection differs"));
        }
    }
    // What the scan reads plainly is what the reader reads.
    for p in entries.plain() {
        if let Some(person) = whole.people.get(p.id) {
            let manager = person.manager.as_ref().map(|m| m.value.as_str());
            if p.department.is_some_and(|d| d != person.department)
                || p.manager.is_some_and(|m| Some(m) != manager)
            {
                return Err(format!("`{}` reads differently from its plain lines", p.id));
            }
        }
    }
    Ok(())
}

#[test]
fn a_selection_keeps_lines_in_place_and_the_wanted_people_whole() {
    let text = plain_people(400);
    let wanted = |id: &str| ["p0", "p7", "p398", "p399"].contains(&id);
    assert_eq!(selection_holds(&text, &wanted), Ok(()));
    // The last entry without a final newline, and every entry blanked or kept.
    let cut = text.trim_end_matches('\n');
    assert_eq!(selection_holds(cut, &wanted), Ok(()));
    assert_eq!(selection_holds(&text, &|_: &str| false), Ok(()));
    assert_eq!(selection_holds(&text, &|_: &str| true), Ok(()));
    let selected = portcullis_core::load::directory::select(&text, &|id: &str| id == "p7").unwrap();
    assert_eq!(selected.matches("- id:").count(), 1, "one entry kept");
}

#[test]
fn an_entry_whose_id_is_not_plainly_written_once_is_always_kept() {
    // The reader, not the scan, decides what such an entry says: it is never blanked out,
    // whoever is wanted. (Blanking `- id: ana` + `id: bob` for not wanting bob would read as
    // ana missing, where the whole file has a duplicate key.)
    let unclear = [
        "  - id: ana\n    id: bob\n    name: Ana\n",
        "  - name: Cy\n    id: cy\n    id: cy\n",
        "  - id: 'dee'\n    name: Dee\n",
        "  - id: 1e5\n    name: Eve\n",
        "  - name: Flo\n",
    ];
    for entry in unclear {
        let text = format!("people:\n  - id: zed\n    name: Zed\n{entry}  - id: amy\n");
        let wanted: [&dyn Fn(&str) -> bool; 2] = [&|_| false, &|id| id == "bob"];
        for wanted in wanted {
            let kept = portcullis_core::load::directory::select(&text, wanted).unwrap();
            assert!(kept.contains(entry), "{entry:?} was blanked:\n{kept}");
            assert!(!kept.contains("id: zed"), "{kept}");
        }
    }
    // Written plainly once, at the entry's own keys, it is the entry's id.
    let text = "people:\n  - name: Ana\n    team:\n      id: bob\n    id: ana # the id\n";
    let none = portcullis_core::load::directory::select(text, &|_| false).unwrap();
    assert_eq!(none.trim(), "people:");
    let ana = portcullis_core::load::directory::select(text, &|id| id == "ana").unwrap();
    assert_eq!(ana, text);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever one edit does to a directory, a selection keeps its lines in place and the
    /// wanted people as the whole directory has them.
    #[test]
    fn a_selection_holds_after_any_edit(
        at in 0usize..60_000,
        spice in prop::sample::select(SPICE),
        every in 2usize..9,
    ) {
        let mut text = plain_people(300);
        let mut at = at % text.len();
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.insert_str(at, spice);
        let wanted = |id: &str| id.bytes().map(usize::from).sum::<usize>() % every == 0;
        if let Err(e) = selection_holds(&text, &wanted) {
            prop_assert!(false, "{}", e);
        }
    }
}
