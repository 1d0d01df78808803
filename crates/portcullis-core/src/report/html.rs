//! The HTML every page shares: escaping, the page shell with its landmarks, tables, and the
//! style sheet. Every piece of text goes through [`esc`]; attributes only ever hold text we
//! made (ids checked by [`page_id`], numbers) and are escaped too. No script, no external
//! asset, no `javascript:` anywhere.

use std::fmt::Write;

/// Escapes text for an HTML element or a quoted attribute value.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// An id usable as a file name and a link: what SPEC allows for ids, nothing else (no `/`,
/// no `..`, no scheme). Anything else gets no page.
pub fn page_id(id: &str) -> Option<&str> {
    crate::load::layout::is_id(id).then_some(id)
}

/// A link to a page of the site, or the plain text when the id cannot have a page.
pub fn link(prefix: &str, folder: &str, id: &str, text: &str) -> String {
    match page_id(id) {
        Some(id) => format!(
            "<a href=\"{}{}/{}.html\">{}</a>",
            esc(prefix),
            esc(folder),
            esc(id),
            esc(text)
        ),
        None => esc(text),
    }
}

pub struct Page {
    /// Relative to the site's root, `/`-separated.
    pub path: String,
    pub html: String,
}

/// The shell of every page: skip link, banner with the site navigation, main, footer.
/// `depth` is how many folders below the root the page sits (for relative links).
pub fn page(path: &str, title: &str, depth: usize, footer: &str, body: &str) -> Page {
    let up = "../".repeat(depth);
    let mut html = String::with_capacity(body.len() + 2048);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'\">\n\
         <title>{} · access report</title>\n<link rel=\"stylesheet\" href=\"{up}style.css\">\n</head>\n<body>\n\
         <a class=\"skip\" href=\"#main\">Skip to content</a>\n\
         <header class=\"site\">\n<p class=\"brand\"><a href=\"{up}index.html\">Access report</a></p>\n\
         <nav aria-label=\"Site\">\n<ul>\n\
         <li><a href=\"{up}index.html\">Overview</a></li>\n\
         <li><a href=\"{up}apps/index.html\">Apps</a></li>\n\
         <li><a href=\"{up}people/index.html\">People</a></li>\n\
         <li><a href=\"{up}changes.html\">Recent changes</a></li>\n\
         </ul>\n</nav>\n</header>\n<main id=\"main\">\n",
        esc(title)
    );
    html.push_str(body);
    let _ = write!(
        html,
        "</main>\n<footer class=\"site\">\n<p>{}</p>\n</footer>\n</body>\n</html>\n",
        footer
    );
    Page {
        path: path.to_owned(),
        html,
    }
}

/// A data table in a scrollable region (narrow windows scroll the table, not the page).
pub struct Table {
    id: String,
    caption: String,
    header: Vec<&'static str>,
    /// Cells already rendered as HTML; the first is the row header.
    rows: Vec<Vec<String>>,
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

    /// A row of cells that are already HTML (use [`esc`] and [`link`] to make them).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self, empty: &str) -> String {
        if self.rows.is_empty() {
            return format!("<p class=\"empty\">{}</p>\n", esc(empty));
        }
        let mut out = String::with_capacity(self.rows.len() * 160 + 256);
        let _ = write!(
            out,
            "<div class=\"table-wrap\" role=\"region\" aria-labelledby=\"{id}-caption\" tabindex=\"0\">\n\
             <table id=\"{id}\">\n<caption id=\"{id}-caption\">{}</caption>\n<thead><tr>",
            esc(&self.caption),
            id = esc(&self.id)
        );
        for h in &self.header {
            let _ = write!(out, "<th scope=\"col\">{}</th>", esc(h));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for r in &self.rows {
            out.push_str("<tr>");
            for (i, c) in r.iter().enumerate() {
                if i == 0 {
                    let _ = write!(out, "<th scope=\"row\">{c}</th>");
                } else {
                    let _ = write!(out, "<td>{c}</td>");
                }
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n</div>\n");
        out
    }
}

/// A risk level as a labelled badge: the word is always there, colour only adds to it.
pub fn risk_badge(risk: &str) -> String {
    format!("<span class=\"risk risk-{r}\">{r}</span>", r = esc(risk))
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
