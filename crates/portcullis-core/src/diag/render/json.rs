//! `--format json`: exactly the shape of SPEC section 5.

use serde::Serialize;

use crate::diag::Report;

#[derive(Serialize)]
struct Output<'a> {
    diagnostics: Vec<Item<'a>>,
    summary: Summary,
}

#[derive(Serialize)]
struct Item<'a> {
    rule: &'static str,
    severity: &'static str,
    file: &'a str,
    line: u32,
    column: u32,
    message: &'a str,
    person: Option<&'a str>,
    app: Option<&'a str>,
    role: Option<&'a str>,
    pre_existing: bool,
    related: Vec<RelatedItem<'a>>,
}

#[derive(Serialize)]
struct RelatedItem<'a> {
    file: &'a str,
    line: u32,
}

#[derive(Serialize)]
struct Summary {
    files: usize,
    grants: usize,
    errors: usize,
    warnings: usize,
    /// `"change"` when only what the change reaches was read (`check --base`).
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'static str>,
}

pub fn render(report: &Report) -> String {
    let out = Output {
        diagnostics: report
            .diagnostics
            .iter()
            .map(|d| Item {
                rule: d.rule.id(),
                severity: d.severity.as_str(),
                file: &d.file,
                line: d.pos.line,
                column: d.pos.col,
                message: &d.message,
                person: d.person.as_deref(),
                app: d.app.as_deref(),
                role: d.role.as_deref(),
                pre_existing: d.pre_existing,
                related: d
                    .related
                    .iter()
                    .map(|r| RelatedItem {
                        file: &r.file,
                        line: r.line,
                    })
                    .collect(),
            })
            .collect(),
        summary: Summary {
            files: report.files,
            grants: report.grants,
            errors: report.errors(),
            warnings: report.warnings(),
            scope: report.partial.then_some("change"),
        },
    };
    let mut s = serde_json::to_string_pretty(&out).unwrap_or_default();
    s.push('\n');
    s
}
