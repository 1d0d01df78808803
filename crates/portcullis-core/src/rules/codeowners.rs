//! `codeowners-drift`: the routing of reviews must be exactly what the catalog says.

use crate::diag::{Diagnostic, Rule};
use crate::model::{CODEOWNERS_FILE, Catalog, Pos, SETTINGS_FILE};

use super::Context;

pub fn check(catalog: &Catalog, ctx: &Context, out: &mut Vec<Diagnostic>) {
    if catalog.settings.is_none() || !catalog.broken_apps.is_empty() {
        // Without the security team, or with an app file that does not load, there is nothing
        // correct to compare against: the generated file would drop that app's owners, and the
        // hint to write it would delete their line. The file's own error says what to fix.
        return;
    }
    let generated = crate::codeowners::generate(catalog);
    let hint = "run `portcullis codeowners --write` and commit the result";
    match ctx.codeowners {
        // A finding must point at a file that exists (code scanning shows it there): the
        // settings, which name the security team every path is routed to at the least.
        None => out.push(
            Diagnostic::new(
                Rule::CodeownersDrift,
                SETTINGS_FILE,
                Pos::START,
                format!(
                    "`{CODEOWNERS_FILE}` is missing: no review is routed to the security team or the owners these policies name"
                ),
            )
            .hint(hint),
        ),
        Some(Some(current)) if current != generated => {
            // Split on `\n` only, so a `\r` difference is found on its own line.
            let (cur, gen_): (Vec<&str>, Vec<&str>) = (
                current.split('\n').collect(),
                generated.split('\n').collect(),
            );
            let line = cur
                .iter()
                .zip(&gen_)
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| cur.len().min(gen_.len()).saturating_sub(1))
                + 1;
            let shown = cur.get(line - 1).copied().unwrap_or("");
            let message = if shown.is_empty() {
                format!("`{CODEOWNERS_FILE}` differs from what `portcullis codeowners` generates")
            } else {
                format!(
                    "`{CODEOWNERS_FILE}` differs from what `portcullis codeowners` generates, from line {line}"
                )
            };
            out.push(
                Diagnostic::new(
                    Rule::CodeownersDrift,
                    CODEOWNERS_FILE,
                    Pos {
                        line: line as u32,
                        col: 1,
                        len: shown.chars().count().max(1) as u32,
                    },
                    message,
                )
                .hint(hint),
            );
        }
        Some(Some(_)) | Some(None) => {}
    }
}
