//! `remind`: grants expiring within `warn_days` (`check`'s `expiring-soon` findings), grouped
//! per set of app owners, with the texts of the tracking issue and the daily comment. The
//! comment carries a hidden marker with the date, so a second run on one day posts nothing.

use crate::model::{AppId, PersonId, RoleId};
use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::NaiveDate;

use super::md;
use crate::diag::{Report, Rule};
use crate::model::Catalog;

/// The label of the tracking issues.
pub const LABEL: &str = "access-expiring";

/// One grant expiring soon.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Expiring {
    pub file: String,
    pub line: u32,
    pub person: PersonId,
    /// The person's GitHub login, to mention them.
    pub github: Option<String>,
    pub app: AppId,
    pub role: RoleId,
    pub expires: String,
    /// The app's owners (`@org/team` or `@user`).
    pub owners: Vec<String>,
}

/// The grants `check` reports as `expiring-soon`, by expiry.
pub fn find(catalog: &Catalog, report: &Report) -> Vec<Expiring> {
    let files = super::files_by_path(catalog);
    let mut out: Vec<Expiring> = report
        .diagnostics
        .iter()
        .filter(|d| d.rule == Rule::ExpiringSoon)
        .filter_map(|d| {
            let (person, app, role) = (d.person.clone()?, d.app.clone()?, d.role.clone()?);
            let grant = files
                .get(d.file.as_str())?
                .grants
                .iter()
                .find(|g| g.role.value == role)?;
            let expires = grant.expires.as_ref()?.value;
            Some(Expiring {
                file: d.file.clone(),
                line: d.pos.line,
                github: catalog.people.get(&person).and_then(|p| p.github.clone()),
                owners: catalog
                    .apps
                    .get(&app)
                    .map(|a| a.owners.clone())
                    .unwrap_or_default(),
                expires: expires.to_string(),
                person,
                app,
                role,
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.expires, &a.file, &a.role).cmp(&(&b.expires, &b.file, &b.role)));
    out
}

/// The grants of apps with the same owners: one reminder each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub owners: Vec<String>,
    pub grants: Vec<Expiring>,
}

impl Group {
    /// `@acme/sre @bob`: identifies the group in markers and titles.
    pub fn key(&self) -> String {
        self.owners.join(" ")
    }

    /// Hidden marker of the group's tracking issue.
    pub fn issue_marker(&self) -> String {
        format!("<!-- portcullis:remind owners={} -->", self.key())
    }

    /// Hidden marker of the group's comment of one day.
    pub fn day_marker(&self, date: NaiveDate) -> String {
        format!(
            "<!-- portcullis:remind owners={} date={date} -->",
            self.key()
        )
    }

    pub fn issue_title(&self) -> String {
        format!("Access expiring soon: grants owned by {}", self.key())
    }

    pub fn issue_body(&self) -> String {
        format!(
            "{}\nportcullis comments here every day some of the grants owned by {} expire within `warn_days`. To keep access, renew it with a new request (`portcullis request ... --for 30d`); otherwise it is revoked by the daily revocation pull request once it expires.\n",
            self.issue_marker(),
            self.key()
        )
    }

    /// The day's comment: the owners and each person mentioned, each grant with its expiry.
    pub fn comment(&self, catalog: &Catalog, date: NaiveDate) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.day_marker(date));
        let _ = writeln!(
            out,
            "{}: {} grant{} expire{} soon (as of {date}).\n",
            self.key(),
            self.grants.len(),
            if self.grants.len() == 1 { "" } else { "s" },
            if self.grants.len() == 1 { "s" } else { "" },
        );
        for g in &self.grants {
            let who = match &g.github {
                Some(login) => format!("@{login}"),
                None => "(no GitHub login)".to_owned(),
            };
            let name = catalog
                .people
                .get(&g.person)
                .map(|p| format!(" ({})", md(&p.name)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "- `{}:{}` of `{}`{name} {who}: expires `{}` (`{}`)",
                g.app, g.role, g.person, g.expires, g.file
            );
        }
        let _ = writeln!(
            out,
            "\nStill needed? Renew it with a new request: `portcullis request --app APP --role ROLE --for 30d --justification \"...\"`."
        );
        out
    }
}

/// Groups the grants by their app's owners (apps with the same owners share a reminder).
pub fn group(expiring: &[Expiring]) -> Vec<Group> {
    let mut groups: BTreeMap<Vec<String>, Vec<Expiring>> = BTreeMap::new();
    for e in expiring {
        let mut owners = e.owners.clone();
        owners.sort();
        groups.entry(owners).or_default().push(e.clone());
    }
    groups
        .into_iter()
        .map(|(owners, grants)| Group { owners, grants })
        .collect()
}

/// Finds (or opens) the group's tracking issue and comments once for the day: `posted`, or
/// `already posted today`. Only issues and comments portcullis wrote count (`author` as for
/// [`crate::comment::is_ours`]): a writer's look-alike neither takes the reminder nor stops it.
pub fn notify(
    github: &dyn crate::ports::github::Tracking,
    catalog: &Catalog,
    group: &Group,
    date: NaiveDate,
    author: Option<&str>,
) -> anyhow::Result<(u64, &'static str)> {
    use crate::comment::is_ours;
    let marker = group.issue_marker();
    let existing = github.issues("open", &[LABEL])?.into_iter().find(|i| {
        is_ours(Some(&i.user), author) && i.body.as_deref().is_some_and(|b| b.starts_with(&marker))
    });
    let issue = match existing {
        Some(i) => i.number,
        None => {
            github
                .create_issue(&group.issue_title(), &group.issue_body(), &[LABEL])?
                .number
        }
    };
    let today = group.day_marker(date);
    let done = github
        .comments(issue)?
        .iter()
        .any(|c| is_ours(c.user.as_ref(), author) && c.body.starts_with(&today));
    if done {
        return Ok((issue, "already posted today"));
    }
    github.create_comment(issue, &group.comment(catalog, date))?;
    Ok((issue, "posted"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_with_the_same_owners_share_one_reminder() {
        let e = |app: &str, owners: &[&str]| Expiring {
            file: format!("access/{app}/a.yaml"),
            line: 5,
            person: "a".into(),
            github: Some("a-gh".into()),
            app: app.into(),
            role: "viewer".into(),
            expires: "2026-11-25".into(),
            owners: owners.iter().map(|o| (*o).to_owned()).collect(),
        };
        let groups = group(&[
            e("grafana", &["@acme/sre"]),
            e("vpn", &["@acme/sre", "@acme/it"]),
            e("aws", &["@acme/sre"]),
        ]);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].key(), "@acme/it @acme/sre");
        assert_eq!(groups[1].grants.len(), 2);
        let date = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let comment = groups[1].comment(&Catalog::default(), date);
        assert!(
            comment.starts_with("<!-- portcullis:remind owners=@acme/sre date=2026-11-22 -->\n")
        );
        assert!(
            comment.contains("- `grafana:viewer` of `a` @a-gh: expires `2026-11-25`"),
            "{comment}"
        );
    }
}
