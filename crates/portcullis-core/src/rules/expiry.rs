//! Time rules: expired, expiry-required, expiry-too-long, beyond-end-date, expiring-soon.

use chrono::Duration;

use crate::diag::{Diagnostic, Rule};
use crate::model::time::{end_of_day, format_duration};
use crate::model::{Catalog, PersonType, Risk, Settings};

use super::{Context, GrantRef, grants};

pub fn check(catalog: &Catalog, ctx: &Context, out: &mut Vec<Diagnostic>) {
    let fallback;
    let settings = match &catalog.settings {
        Some(s) => s,
        None => {
            fallback = Settings::with_defaults(String::new(), String::new());
            &fallback
        }
    };
    for g in grants(catalog) {
        one(&g, settings, ctx, out);
    }
}

fn one(g: &GrantRef, settings: &Settings, ctx: &Context, out: &mut Vec<Diagnostic>) {
    let grant = g.grant;
    let path = &g.file.path;
    let privileged = g.role.is_some_and(|r| r.privileged);
    let risk = g.app.map(|a| a.risk);
    let temporary_person = g.person.is_some_and(|p| p.kind != PersonType::Employee);

    let Some(expires) = &grant.expires else {
        let reasons = expiry_required(
            privileged,
            risk,
            grant.emergency,
            temporary_person.then_some(g.file.person.value.as_str()),
        );
        if !reasons.is_empty() {
            out.push(
                g.subject(
                    Diagnostic::new(
                        Rule::ExpiryRequired,
                        path,
                        grant.role.pos,
                        format!(
                            "{} has no `expires`, but {}",
                            g.label(),
                            reasons.join(" and ")
                        ),
                    )
                    .hint("add `expires: YYYY-MM-DD` within the role's maximum duration"),
                ),
            );
        } else if let Some(end) = g.person.and_then(|p| p.end_date) {
            out.push(
                g.subject(
                    Diagnostic::new(
                        Rule::BeyondEndDate,
                        path,
                        grant.role.pos,
                        format!(
                            "{} has no `expires`, but `{}` leaves on {end}",
                            g.label(),
                            g.file.person.value
                        ),
                    )
                    .hint(format!("add `expires:` on or before {end}")),
                ),
            );
        }
        return;
    };

    let instant = expires.value.instant();
    if instant <= ctx.as_of {
        out.push(g.subject(
            Diagnostic::new(
                Rule::Expired,
                path,
                expires.pos,
                format!("{} expired {}", g.label(), shown(&expires.value)),
            )
            .hint("remove the grant, or renew it with a new justification and `expires:` (a renewal is a new request)"),
        ));
        return;
    }

    let max = if grant.emergency {
        Some(settings.emergency_max_duration)
    } else {
        g.role
            .and_then(|r| r.max_duration)
            .or_else(|| risk.map(|r| settings.max_duration(r)))
    };
    if let Some(max) = max
        && instant > ctx.as_of + max
    {
        let whose = if grant.emergency {
            "an emergency grant".to_owned()
        } else if g.role.is_some_and(|r| r.max_duration.is_some()) {
            format!("role `{}`", grant.role.value)
        } else {
            format!("a {} risk app", risk.map_or("", Risk::as_str))
        };
        out.push(
            g.subject(
                Diagnostic::new(
                    Rule::ExpiryTooLong,
                    path,
                    expires.pos,
                    format!(
                        "{} expires {}, more than {} after as-of, the maximum for {whose}",
                        g.label(),
                        shown(&expires.value),
                        format_duration(max)
                    ),
                )
                .hint(format!(
                    "set `expires:` on or before {}",
                    latest(ctx.as_of + max)
                )),
            ),
        );
    }

    if let Some(p) = g.person
        && let Some(end) = p.end_date
        && instant > end_of_day(end)
    {
        out.push(
            g.subject(
                Diagnostic::new(
                    Rule::BeyondEndDate,
                    path,
                    expires.pos,
                    format!(
                        "{} expires {}, after `{}`'s end date {end}",
                        g.label(),
                        shown(&expires.value),
                        p.id.value
                    ),
                )
                .hint(format!("set `expires:` on or before {end}")),
            ),
        );
    }

    if instant <= ctx.as_of + Duration::days(i64::from(settings.warn_days)) {
        out.push(
            g.subject(
                Diagnostic::new(
                    Rule::ExpiringSoon,
                    path,
                    expires.pos,
                    format!("{} expires {}", g.label(), shown(&expires.value)),
                )
                .hint(renewal(g)),
            ),
        );
    }
}

/// The command that renews a grant, runnable as written: without `--for` it asks for the
/// longest the role allows (a fixed duration may be more than the role's maximum). An
/// emergency grant is not renewed: the access, if still needed, is asked for like any other.
fn renewal(g: &super::GrantRef<'_>) -> String {
    let ask = format!(
        "portcullis request --app {} --role {} --person {} --justification \"…\"",
        g.file.app.value, g.grant.role.value, g.file.person.value
    );
    if g.grant.emergency {
        format!(
            "an emergency grant is not renewed; if the access is still needed, ask for it as a normal request: `{ask}`"
        )
    } else {
        format!("renew it if it is still needed, with a new justification: `{ask}`")
    }
}

/// Why a grant must have an `expires` (`expiry-required`); empty when it may go without. `not_employee`
/// names a contractor or vendor.
pub fn expiry_required(
    privileged: bool,
    risk: Option<Risk>,
    emergency: bool,
    not_employee: Option<&str>,
) -> Vec<String> {
    let mut reasons = Vec::new();
    if privileged {
        reasons.push("the role is privileged".to_owned());
    }
    if let Some(r) = risk.filter(|r| *r >= Risk::High) {
        reasons.push(format!("the app's risk is {}", r.as_str()));
    }
    if emergency {
        reasons.push("it is an emergency grant".to_owned());
    }
    if let Some(person) = not_employee {
        reasons.push(format!("`{person}` is not an employee"));
    }
    reasons
}

fn shown(e: &crate::model::Expiry) -> String {
    match e {
        crate::model::Expiry::Date(d) => format!("at the end of {d}"),
        crate::model::Expiry::At(t) => format!("at {}", t.to_rfc3339()),
    }
}

/// The last date whose end still falls within the limit.
fn latest(limit: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDate {
    (limit - Duration::days(1)).date_naive()
}
