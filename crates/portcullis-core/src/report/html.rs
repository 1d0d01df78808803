//! The HTML every page shares: the page shell with its landmarks, links, tables and the style
//! sheet, written as maud templates. maud escapes every value a template is given, in text and
//! in attributes, so text from a grant file cannot become markup; attributes only ever hold
//! text we made (ids checked by [`page_id`], numbers). No script, no external asset, no
//! `javascript:` anywhere.

use maud::{DOCTYPE, Markup, html};

/// An id usable as a file name and a link: what SPEC allows for ids, nothing else (no `/`,
/// no `..`, no scheme). Anything else gets no page.
pub fn page_id(id: &str) -> Option<&str> {
    crate::load::layout::is_id(id).then_some(id)
}

/// A link to a page of the site, or the plain text when the id cannot have a page.
pub fn link(prefix: &str, folder: &str, id: &str, text: &str) -> Markup {
    html! {
        @match page_id(id) {
            Some(id) => a href={ (prefix) (folder) "/" (id) ".html" } { (text) },
            None => (text),
        }
    }
}

pub struct Page {
    /// Relative to the site's root, `/`-separated.
    pub path: String,
    pub html: String,
}

/// The shell of every page: skip link, banner with the site navigation, main, footer.
/// `depth` is how many folders below the root the page sits (for relative links).
pub fn page(path: &str, title: &str, depth: usize, footer: &Markup, body: Markup) -> Page {
    let up = "../".repeat(depth);
    let nav = [
        ("index.html", "Overview"),
        ("apps/index.html", "Apps"),
        ("people/index.html", "People"),
        ("changes.html", "Recent changes"),
    ];
    let html = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                meta http-equiv="Content-Security-Policy" content="script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'";
                title { (title) " · access report" }
                link rel="stylesheet" href={ (up) "style.css" };
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.site {
                    p.brand { a href={ (up) "index.html" } { "Access report" } }
                    nav aria-label="Site" {
                        ul {
                            @for (href, name) in nav {
                                li { a href={ (up) (href) } { (name) } }
                            }
                        }
                    }
                }
                main #main { (body) }
                footer.site { p { (footer) } }
            }
        }
    };
    Page {
        path: path.to_owned(),
        html: html.into_string(),
    }
}

/// A data table in a scrollable region (narrow windows scroll the table, not the page).
pub struct Table {
    id: String,
    caption: String,
    header: Vec<&'static str>,
    /// The first cell is the row header.
    rows: Vec<Vec<Markup>>,
}

impl Table {
    pub fn new(id: &str, caption: &str, header: &[&'static str]) -> Table {
        Table {
            id: id.to_owned(),
            caption: caption.to_owned(),
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<Markup>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self, empty: &str) -> Markup {
        let id = &self.id;
        html! {
            @if self.rows.is_empty() {
                p.empty { (empty) }
            } @else {
                div.table-wrap role="region" aria-labelledby={ (id) "-caption" } tabindex="0" {
                    table id=(id) {
                        caption id={ (id) "-caption" } { (self.caption) }
                        thead { tr { @for h in &self.header { th scope="col" { (h) } } } }
                        tbody {
                            @for r in &self.rows {
                                tr {
                                    @for (i, cell) in r.iter().enumerate() {
                                        @if i == 0 { th scope="row" { (cell) } } @else { td { (cell) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A risk level as a labelled badge: the word is always there, colour only adds to it.
pub fn risk_badge(risk: &str) -> Markup {
    html! { span class={ "risk risk-" (risk) } { (risk) } }
}

pub const STYLE: &str = r#":root {
  --text: #1a1a1a; --muted: #4d4d4d; --bg: #ffffff; --panel: #f4f5f7; --line: #c9ccd1;
  --link: #0b57d0; --focus: #b3261e;
}
* { box-sizing: border-box; }
html { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--text); background: var(--bg); line-height: 1.5; }
body { margin: 0; }
a { color: var(--link); }
a:focus-visible, [tabindex]:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: var(--bg); padding: .5rem 1rem; }
.skip:focus { left: .5rem; }
header.site { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 2rem; padding: .75rem 1.5rem; border-bottom: 1px solid var(--line); background: var(--panel); }
header.site .brand { margin: 0; font-weight: 700; }
header.site ul { display: flex; flex-wrap: wrap; gap: .25rem 1.25rem; list-style: none; margin: 0; padding: 0; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
footer.site { border-top: 1px solid var(--line); color: var(--muted); padding: .75rem 1.5rem; font-size: .9rem; }
h1 { font-size: 1.7rem; margin: .5rem 0 .25rem; }
h2 { font-size: 1.3rem; margin: 2rem 0 .5rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
.lead { color: var(--muted); margin-top: 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(10rem, 1fr)); gap: .75rem; margin: 1rem 0; padding: 0; }
.cards div { background: var(--panel); border: 1px solid var(--line); border-radius: .5rem; padding: .75rem 1rem; }
.cards dt { color: var(--muted); font-size: .9rem; }
.cards dd { margin: 0; font-size: 1.6rem; font-weight: 700; }
.cards dd a { text-decoration: none; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; }
.table-wrap { overflow-x: auto; margin: .5rem 0 1rem; }
table { border-collapse: collapse; width: 100%; font-size: .95rem; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { text-align: left; vertical-align: top; padding: .35rem .6rem; border-bottom: 1px solid var(--line); }
thead th { background: var(--panel); white-space: nowrap; }
tbody th { font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.empty { color: var(--muted); font-style: italic; }
.risk { display: inline-block; padding: 0 .45rem; border-radius: .3rem; font-size: .85rem; font-weight: 600; border: 1px solid currentColor; }
.risk-low { background: #e6f4ea; color: #0d5225; }
.risk-medium { background: #fef7e0; color: #5c4300; }
.risk-high { background: #fde7e9; color: #8c1d18; }
.risk-critical { background: #8c1d18; color: #ffffff; }
.flag { font-weight: 700; color: #8c1d18; }
figure { margin: 1rem 0; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: .9rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(20rem, 1fr)); gap: 1.5rem; }
.bar { vertical-align: middle; margin-right: .35rem; }
details { margin: .25rem 0 1rem; }
.just { max-width: 28rem; }
@media (max-width: 40rem) {
  main { padding: .75rem; }
  header.site { padding: .5rem .75rem; }
  h1 { font-size: 1.35rem; }
  .facts { grid-template-columns: 1fr; }
  .facts dd { margin-bottom: .5rem; }
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// Text from files is text wherever it goes: a cell, a caption, a link's words, a title.
    #[test]
    fn every_value_is_escaped() {
        let hostile = "<script>alert(1)</script>\" onmouseover=\"x";
        let mut t = Table::new("t", hostile, &["Who"]);
        t.row(vec![link("", "people", "ada", hostile)]);
        t.row(vec![link("", "people", hostile, "plain")]);
        let table = t.render("").into_string();
        let page = page("x.html", hostile, 0, &html! { (hostile) }, t.render("")).html;
        for out in [&table, &page] {
            assert!(!out.contains("<script"), "{out}");
            assert!(!out.contains("\" onmouseover"), "{out}");
            assert!(
                out.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot; onmouseover=&quot;x")
            );
        }
        // An id that cannot be a file name gets no link at all.
        assert!(table.contains("<th scope=\"row\">plain</th>"), "{table}");
        assert!(table.contains("<a href=\"people/ada.html\">"), "{table}");
    }
}
