//! The reader's fast path against the full parser: whenever the fast path returns a tree it
//! is the very tree the full parser builds (values, positions, ends); everything else is left
//! to the full parser. Fed every file of the example organisation and mutations of them.

use portcullis_core::load::{block, yaml};
use proptest::prelude::*;

fn example_files() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    let mut dirs = vec![root.join("access"), root.join("policies")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("example folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                let text = std::fs::read_to_string(&path).expect("example file");
                out.push((path.display().to_string(), text));
            }
        }
    }
    out.sort();
    out
}

/// The fast path, when it answers, agrees with the full parser.
fn agree(text: &str) -> bool {
    let Some(fast) = block::parse(text) else {
        return false;
    };
    let full = yaml::parse_full(text);
    if Ok(&fast) != full.as_ref() {
        let (a, b) = (format!("{:#?}", Ok::<_, ()>(&fast)), format!("{full:#?}"));
        let diff = similar::TextDiff::from_lines(&a, &b);
        panic!(
            "fast path (-) and full parser (+) disagree on:\n{text:?}\n{}",
            diff.unified_diff().context_radius(6)
        );
    }
    true
}

#[test]
fn the_fast_path_reads_every_example_file_as_the_full_parser_does() {
    let files = example_files();
    assert!(files.len() > 100, "{}", files.len());
    for (path, text) in &files {
        let fast = agree(text);
        // Grant files and the people directory are the files read by the thousand: the
        // fast path must carry every one of them, or it buys nothing. (Policy files use
        // flow lists and go to the full parser.)
        if path.contains("/access/") || path.ends_with("people.yaml") {
            assert!(fast, "fast path refused {path}");
        }
    }
}

#[test]
fn the_fast_path_hands_over_what_it_does_not_own() {
    for text in [
        "a: [1, 2]\n",
        "a: {b: 1}\n",
        "a: |\n  x\n",
        "a: >-\n  x\n",
        "a: x\n  continued\n",
        "a: 'x\n  y'\n",
        "a: \"x\\ty\"\n",
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "---\na: 1\n",
        "a: 1\n---\nb: 2\n",
        "%YAML 1.2\n---\na: 1\n",
        "a: 1\na: 2\n",
        "a:\n",
        "a: 1\n\tb: 2\n",
        "a: 1\r\nb: 2\r\n",
        "- - a\n",
        "a:\n- x\n- y\nb: z\n",
        "? a\n: 1\n",
        "a: b: c\n",
        "\"a\": 1\n",
        "  a: 1\n",
        "a: 1\n b: 2\n",
        "",
        "# only\n",
        "a: 1",
        "a: 1\n# trailing comment",
        "a: 'q' # c\n",
    ] {
        assert!(block::parse(text).is_none(), "fast path took {text:?}");
    }
}

#[test]
fn ends_and_positions_match_at_every_boundary() {
    for text in [
        "a: 1\n",
        "a: 1\n\n\n",
        "a:\n  b: 1\n  c:\n    - x\n    - y\nd: 2\n",
        "l:\n  - id: p\n    name: Zoë Ünal  # comment\n    t: 'it''s'\n  - id: q\n    name: \"Q, #1\"\n",
        "grants:\n  -\n    role: x\n  - role: y\n",
        "k: -5\nf: 0.5\nb: true\nn: ~\nd: 2026-01-01\nh: 0x1F\ne: ''\n",
        "a: x # c\nb: C#\nc: 'q'\n",
        "123: x\ntrue: y\nnull: z\n",
    ] {
        assert!(agree(text), "fast path refused {text:?}");
    }
}

const SPICE: &[&str] = &[
    " ", "  ", "\n", "\n  ", "\n    ", "- ", "-", ": ", ":", "#", " #", "'", "''", "\"", ",", "a",
    "é", "~", "1", "0.5", "true", "x:", "\n- ", "\n  - ", "[", "{", "|", "&", "*", "!", "?",
];

fn mutate(seed: &str, edits: &[(usize, usize, usize)]) -> String {
    let mut text = seed.to_owned();
    for (kind, at, what) in edits {
        let mut at = if text.is_empty() {
            0
        } else {
            at % (text.len() + 1)
        };
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        match kind % 3 {
            0 => text.insert_str(at, SPICE[what % SPICE.len()]),
            1 => {
                let mut end = (at + what % 8).min(text.len());
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.replace_range(at..end, "");
            }
            _ => {
                let mut end = (at + what % 30).min(text.len());
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                let chunk = text[at..end].to_owned();
                text.insert_str(at, &chunk);
            }
        }
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_files_read_the_same_either_way(seed in 0usize..1000, edits in prop::collection::vec((0usize..3, 0usize..4096, 0usize..4096), 1..5)) {
        let files = example_files_cached();
        let (_, text) = &files[seed % files.len()];
        let text = mutate(text, &edits);
        agree(&text);
    }
}

fn example_files_cached() -> &'static [(String, String)] {
    static CELL: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
    CELL.get_or_init(example_files)
}
