//! `report` rendered in a real browser (Debian's headless Chromium, installed by
//! `scripts/test`): what a person sees on the overview, an app page and a person page, and
//! that text from grant files stays text.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::audit::{build, commit_at};

fn chromium() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("chromium"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("chromium is not installed: run `scripts/test`, which installs it (`apt-get install -y chromium`)")
    })
}

/// The page's DOM after Chromium loaded it.
fn dom(page: &Path) -> String {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--allow-file-access-from-files",
            "--dump-dom",
        ])
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The text a person reads: the DOM without tags, entities decoded, spaces collapsed.
fn visible(dom: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in dom.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

const HOSTILE: &str = "person: zoe\napp: slack\ngrants:\n  - role: member\n    justification: \"<script>alert(1)</script> <a href='javascript:alert(2)'>click</a>\"\n    expires: 2026-12-26\n";

struct Site {
    _history: crate::audit::History,
    out: tempfile::TempDir,
}

fn site() -> Site {
    let h = build();
    let d = h.dir.path();
    std::fs::write(d.join("access/slack/zoe.yaml"), HOSTILE).unwrap();
    commit_at(d, "2026-12-21T12:00:00Z", "zoe slack");
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["report", "--root"])
        .arg(d)
        .args(["--as-of", "2026-12-22", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    Site { _history: h, out }
}

#[test]
fn the_report_renders_in_a_browser() {
    let s = site();
    let root = s.out.path();
    let people = std::fs::read_to_string(s._history.dir.path().join("policies/people.yaml"))
        .unwrap()
        .matches("status: active")
        .count();

    let overview = dom(&root.join("index.html"));
    let text = visible(&overview);
    assert!(text.contains("Access overview"), "{text}");
    assert!(
        text.contains("tidewater — who has access to what, as of 2026-12-22"),
        "{text}"
    );
    assert!(text.contains(&format!("People {people}")), "{text}");
    assert!(text.contains("Apps 10"), "{text}");
    // zoe's slack membership expires 2026-12-26: within the 7-day window.
    let expiring = text.split("Expiring soon").nth(1).unwrap();
    assert!(
        expiring.contains("Zoe") && expiring.contains("slack member"),
        "{expiring}"
    );
    assert!(text.contains("Grants by risk over time"), "{text}");
    assert!(text.contains("Time to revoke"), "{text}");
    assert!(text.contains("wire-maker-checker"), "{text}");
    for landmark in [
        "<header class=\"site\">",
        "<nav aria-label=\"Site\">",
        "<main id=\"main\">",
        "<footer class=\"site\">",
        "<th scope=\"col\">",
        "role=\"img\" aria-labelledby=\"risk-chart-t risk-chart-d\"",
    ] {
        assert!(overview.contains(landmark), "{landmark}");
    }

    // Narrow windows: the tables scroll inside their region, the page does not.
    let css = std::fs::read_to_string(root.join("style.css")).unwrap();
    assert!(css.contains("@media (max-width: 40rem)"));
    assert!(overview.contains("<div class=\"table-wrap\" role=\"region\""));

    let payments = visible(&dom(&root.join("apps/payments.html")));
    assert!(
        payments.contains("Payments Console (payments)"),
        "{payments}"
    );
    let holders = payments
        .split("Who holds access to Payments Console")
        .nth(1)
        .unwrap();
    assert!(holders.contains("Omar"), "{holders}");
    assert!(holders.contains("create-payment"), "{holders}");
    // Expired on 2026-12-16: no longer a holder.
    assert!(!holders.contains("edit-vendor-bank"), "{holders}");
    assert!(holders.contains("Wei"), "moved, still held: {holders}");

    let renamed = visible(&dom(&root.join("people/nadia.haddad.html")));
    assert!(renamed.contains("billing-db read-only"), "{renamed}");
    assert!(
        renamed.contains("2026-12-01T09:00:00Z grant billing-db read-only"),
        "{renamed}"
    );
    let old = visible(&dom(&root.join("people/nadia.html")));
    assert!(old.contains("Not in the people directory"), "{old}");
    assert!(
        old.contains("2026-12-01T09:00:00Z revoke billing-db read-only"),
        "{old}"
    );
}

#[test]
fn text_from_grant_files_stays_text() {
    let s = site();
    let page = dom(&s.out.path().join("apps/slack.html"));
    // The browser built no script and no link from it: it shows the characters.
    assert!(!page.contains("<script"), "a script element was created");
    assert!(
        !page.contains("href=\"javascript"),
        "a javascript: link was created"
    );
    assert!(
        visible(&page)
            .contains("<script>alert(1)</script> <a href='javascript:alert(2)'>click</a>"),
        "{}",
        visible(&page)
    );
    // No page loads anything from elsewhere or runs anything.
    for entry in walk(s.out.path()) {
        let html = std::fs::read_to_string(&entry).unwrap();
        for bad in [
            "<script",
            "src=\"http",
            "href=\"http",
            "url(http",
            "@import",
        ] {
            assert!(!html.contains(bad), "{}: {bad}", entry.display());
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "html" || x == "css") {
            out.push(p);
        }
    }
    out
}

/// One tag per line, so a snapshot shows a change of markup as a change of lines and not of
/// the spaces between tags.
fn one_tag_per_line(html: &str) -> String {
    let mut out = String::with_capacity(html.len() + html.len() / 8);
    for part in html.split('<').filter(|p| !p.trim().is_empty()) {
        out.push('<');
        let part = part.trim_end_matches('\n');
        match part.split_once('>') {
            Some((tag, text)) if !text.trim().is_empty() => {
                out.push_str(tag);
                out.push_str(">\n");
                out.push_str(text.trim());
            }
            _ => out.push_str(part),
        }
        out.push('\n');
    }
    out
}

/// The pages as written: the overview, an app page (with a hostile justification), a person
/// page with history, and the recent changes.
#[test]
fn the_pages_keep_their_markup() {
    let s = site();
    for (name, page) in [
        ("report_overview", "index.html"),
        ("report_app", "apps/slack.html"),
        ("report_person", "people/nadia.haddad.html"),
        ("report_changes", "changes.html"),
    ] {
        let html = std::fs::read_to_string(s.out.path().join(page)).unwrap();
        let lines = one_tag_per_line(&html);
        // The recent changes run to a thousand rows; the first twenty show their shape.
        let shown: String = match lines.match_indices("</tr>\n").nth(20) {
            Some((end, _)) if page == "changes.html" => {
                format!("{}[... rows cut ...]\n", &lines[..end])
            }
            _ => lines,
        };
        insta::assert_snapshot!(name, shown);
    }
}
