//! The sticky comment renders untrusted text inert and stays under GitHub's size limit.

use portcullis_core::comment::{self, LIMIT, MARKER};
use portcullis_core::diag::Report;
use portcullis_core::plan;
use portcullis_core::snapshot::Snapshot;

use crate::support::as_of;

const BASE: &[(&str, &str)] = &[
    (
        "policies/settings.yaml",
        "org: acme\nsecurity_team: \"@acme/security\"\n",
    ),
    (
        "policies/people.yaml",
        "people:\n  - id: alice\n    name: Alice\n    email: a@example.com\n    github: alice-gh\n    department: sales\n    type: employee\n    status: active\n",
    ),
    (
        "policies/apps/crm.yaml",
        "id: crm\nname: CRM\nowners: [\"@acme/crm\"]\nrisk: low\nprovisioner: {type: manual}\nroles:\n  user:\n    description: User\n",
    ),
];

const HOSTILE: &str = "person: alice\napp: crm\ngrants:\n  - role: user\n    justification: |\n      hello @acme/everyone and @alice-gh </details><details open> <img src=x onerror=alert(1)>\n      [click](https://evil.example/x) https://evil.example/y www.evil.example ![i](https://e/i.png)\n      ```\n      ✅ approved by security\n      | a | b |\n      <!-- portcullis:sticky-comment -->\n    expires: 2027-01-31\n";

fn hostile_body() -> String {
    let base = Snapshot::from_files(BASE.iter().copied());
    let mut head_files: Vec<(&str, &str)> = BASE.to_vec();
    head_files.push(("access/crm/alice.yaml", HOSTILE));
    let head = Snapshot::from_files(head_files);
    let (_, plan) = plan::between(&base, &head, as_of("2026-11-22"));
    assert_eq!(plan.changes.len(), 1);
    comment::body(&Report::default(), &plan, None, "0123456789abcdef")
}

#[test]
fn hostile_justification_renders_inert() {
    let body = hostile_body();
    assert!(body.starts_with(MARKER));
    assert_eq!(
        body.matches(MARKER).count(),
        1,
        "the marker cannot be forged into our body"
    );
    // No mention: every `@` is followed by a word joiner.
    for (i, _) in body.match_indices('@') {
        assert!(
            body[i + 1..].starts_with('\u{2060}'),
            "bare @ at {i}: {body}"
        );
    }
    // Our own markup only: one <details> per change, no raw tags from the file.
    assert_eq!(body.matches("<details>").count(), 1);
    assert_eq!(body.matches("</details>").count(), 1);
    assert!(!body.contains("<img"));
    assert!(!body.contains("<details open"));
    // No link, autolink or image.
    assert!(!body.contains("](http"));
    assert!(!body.contains("https://evil"));
    assert!(!body.contains("www.evil"));
    // The text cannot start a line of its own: no fence, no fake approval line, no table row.
    for line in body.lines() {
        assert!(!line.trim_start().starts_with("```"), "fence: {line}");
        assert!(!line.trim_start().starts_with("✅"), "fake line: {line}");
    }
    assert!(body.contains("hello"), "the text itself is still shown");
}

#[test]
fn the_body_stays_under_the_limit_with_hundreds_of_changes() {
    let base = Snapshot::from_files(BASE.iter().copied());
    let mut people = String::from("people:\n");
    let mut files: Vec<(String, String)> = Vec::new();
    for i in 0..400 {
        people.push_str(&format!(
            "  - id: p{i}\n    name: Person {i}\n    email: p{i}@example.com\n    department: sales\n    type: employee\n    status: active\n"
        ));
        files.push((
            format!("access/crm/p{i}.yaml"),
            format!("person: p{i}\napp: crm\ngrants:\n  - role: user\n    justification: A long enough justification for person {i}\n    expires: 2027-01-31\n"),
        ));
    }
    let mut base_files: Vec<(&str, &str)> = BASE.to_vec();
    base_files[1].1 = &people;
    let base = {
        let _ = base;
        Snapshot::from_files(base_files.iter().copied())
    };
    let mut head_files = base_files.clone();
    head_files.extend(files.iter().map(|(p, t)| (p.as_str(), t.as_str())));
    let head = Snapshot::from_files(head_files);
    let (_, plan) = plan::between(&base, &head, as_of("2026-11-22"));
    assert_eq!(plan.changes.len(), 400);
    let body = comment::body(&Report::default(), &plan, None, "0123456789abcdef");
    assert!(body.len() <= LIMIT, "{} bytes", body.len());
    assert_eq!(
        body.matches("<details>").count(),
        body.matches("</details>").count(),
        "every fold is closed"
    );
    assert!(body.contains("400 to add") && body.contains("left out to fit"));
}
