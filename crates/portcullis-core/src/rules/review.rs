//! `review-overdue`: apps with `review_every` need each grant certified that often.

use crate::diag::{Diagnostic, Rule};
use crate::model::Catalog;
use crate::model::time::format_duration;

use super::{Context, grants};

pub fn files_needing_history(catalog: &Catalog) -> Vec<&str> {
    catalog
        .grant_files
        .iter()
        .filter(|f| {
            catalog
                .apps
                .get(&f.app.value)
                .is_some_and(|a| a.review_every.is_some())
                && f.grants.iter().any(|g| g.reviewed.is_none())
        })
        .map(|f| f.path.as_str())
        .collect()
}

pub fn check(catalog: &Catalog, ctx: &Context, out: &mut Vec<Diagnostic>) {
    for g in grants(catalog) {
        let Some(every) = g.app.and_then(|a| a.review_every) else {
            continue;
        };
        // The message is written only for a grant that is overdue: this runs for every grant.
        let (since, pos, reviewed) = match &g.grant.reviewed {
            Some(r) => (
                r.value
                    .and_hms_opt(0, 0, 0)
                    .map(|t| t.and_utc())
                    .unwrap_or_default(),
                r.pos,
                true,
            ),
            None => match ctx.last_touched.get(&g.file.path) {
                Some(t) => (*t, g.grant.role.pos, false),
                // Not committed yet: it is being written now, so it is fresh.
                None => continue,
            },
        };
        if since + every < ctx.as_of {
            let what = if reviewed {
                format!("last reviewed on {}", since.date_naive())
            } else {
                format!("never reviewed, last changed on {}", since.date_naive())
            };
            out.push(
                g.subject(
                    Diagnostic::new(
                        Rule::ReviewOverdue,
                        &g.file.path,
                        pos,
                        format!(
                            "{} is {what}; app `{}` is reviewed every {}",
                            g.label(),
                            g.file.app.value,
                            format_duration(every)
                        ),
                    )
                    .hint(format!(
                        "certify it: `portcullis review --app {} --open-pr`",
                        g.file.app.value
                    )),
                ),
            );
        }
    }
}
