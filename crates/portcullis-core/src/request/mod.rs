//! Prepares an access request (`portcullis request`): checks it against the catalog, writes
//! the grant into its file with `edit`, runs the real `check` over the tree with that file
//! replaced, and drafts the branch, title and body of the pull request that asks for it.
//! Also reads the issue form that asks for access from GitHub (`request --from-issue`).
//!
//! Pure: the snapshot and `as_of` come from the caller; nothing here reads files, git, the
//! network or the clock. A request never produces a file that `check` rejects.

pub mod pr;

use crate::model::Login;
use std::fmt::{self, Write};

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::diag::render::markdown;
use crate::diag::{Diagnostic, Report};
use crate::edit::{self, NewGrant, Upsert};
use crate::load::layout::is_id;
use crate::model::time::{end_of_day, format_duration, parse_duration};
use crate::model::{
    App, Approver, Catalog, Expiry, PEOPLE_FILE, Person, Role, SETTINGS_FILE, Settings,
};
use crate::snapshot::{Entry, Snapshot};

/// What the requester asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestArgs {
    pub app: String,
    pub role: String,
    pub justification: String,
    pub person: String,
    /// `--expires`: a date or an RFC 3339 timestamp.
    pub expires: Option<String>,
    /// `--for`: `12h`, `30d`, `2w`, counted from `as_of`.
    pub duration: Option<String>,
    pub ticket: Option<String>,
    pub emergency: bool,
}

/// One approval the request needs (SPEC section 6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    /// `manager`, `owner`, `security`, `emergency`, or an explicit `@org/team` or `@user`.
    pub kind: String,
    /// Who can give it, for people reading the request.
    pub who: String,
}

/// A request ready to be written (and, later, pushed as a pull request).
#[derive(Clone, Debug)]
pub struct Prepared {
    /// `access/<app>/<person>.yaml`.
    pub path: String,
    /// The whole new content of that file.
    pub content: String,
    pub upsert: Upsert,
    /// `access/<app>/<person>/<role>`.
    pub branch: String,
    pub title: String,
    /// Markdown for approvers; all text from the requester is inert.
    pub body: String,
    /// Warnings `check` has about the file; errors refuse the request instead.
    pub diagnostics: Vec<Diagnostic>,
    /// The `expires:` written.
    pub expires: String,
    /// How the expiry was chosen when `--expires` was not given.
    pub expiry_note: Option<String>,
    pub approvals: Vec<Approval>,
}

impl Prepared {
    /// The prepared request for scripts (`request --format json`).
    pub fn to_json(&self) -> serde_json::Value {
        let p = self;
        serde_json::json!({
            "path": p.path,
            "did": match p.upsert {
                Upsert::Created => "created",
                Upsert::Added => "added",
                Upsert::Renewed => "renewed",
            },
            "expires": p.expires,
            "expiry_note": p.expiry_note,
            "approvals": p.approvals.iter().map(|a| serde_json::json!({"kind": a.kind, "who": a.who})).collect::<Vec<_>>(),
            "warnings": p.diagnostics.iter().map(|d| serde_json::json!({"rule": d.rule.id(), "line": d.pos.line, "message": d.message})).collect::<Vec<_>>(),
            "branch": p.branch,
            "title": p.title,
        })
    }
}

/// Why a request was not prepared.
#[derive(Clone, Debug)]
pub enum RequestError {
    /// The request itself is wrong: what, and how to fix it.
    Refused { message: String, hint: String },
    /// The edited file would not pass `check`: the error findings about it. `content` is the
    /// file as it would have been, for showing the findings in context.
    Rejected {
        path: String,
        content: String,
        diagnostics: Vec<Diagnostic>,
    },
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Refused { message, hint } => write!(f, "{message}\nhint: {hint}"),
            RequestError::Rejected {
                path, diagnostics, ..
            } => {
                write!(
                    f,
                    "`portcullis check` would reject `{path}` with {}",
                    crate::diag::render::text::counted(diagnostics.len(), "error")
                )?;
                for d in diagnostics {
                    write!(f, "\n{}:{}: {}", d.file, d.pos.line, d.message)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for RequestError {}

fn refused(message: impl Into<String>, hint: impl Into<String>) -> RequestError {
    RequestError::Refused {
        message: message.into(),
        hint: hint.into(),
    }
}

/// Checks the request against the catalog, writes the grant and checks the result.
pub fn prepare(
    snapshot: &Snapshot,
    args: &RequestArgs,
    as_of: DateTime<Utc>,
) -> Result<Prepared, RequestError> {
    let loaded = crate::check::load(snapshot);
    let catalog = &loaded.catalog;
    let settings = catalog.settings.as_ref().ok_or_else(|| {
        refused(
            format!("`{SETTINGS_FILE}` did not load, so the request cannot be judged"),
            "run `portcullis check` and fix what it reports",
        )
    })?;
    let app = find_app(catalog, &args.app)?;
    let role = find_role(app, &args.role)?;
    let person = find_person(catalog, &args.person)?;
    let justification = args.justification.trim();
    let min = settings.min_justification as usize;
    let length = justification.chars().count();
    if length < min {
        return Err(refused(
            format!("the justification has {length} characters; at least {min} are required"),
            "say what the access is for and why, so an approver can judge it (`--justification \"...\"`)",
        ));
    }
    let expiry = resolve_expiry(settings, app, role, person, args, as_of)?;

    let path = format!("access/{}/{}.yaml", app.id.value, person.id.value);
    let existing = match snapshot.get(&path) {
        None => None,
        Some(Entry::File(bytes)) => Some(std::str::from_utf8(bytes).map_err(|_| {
            refused(
                format!("`{path}` is not valid UTF-8"),
                "run `portcullis check` and fix the file first",
            )
        })?),
        Some(_) => {
            return Err(refused(
                format!("`{path}` is not a plain file within the size limit"),
                "run `portcullis check` and fix the file first",
            ));
        }
    };
    let grant = NewGrant {
        role: role.id.value.clone(),
        justification: justification.to_owned(),
        expires: Some(expiry.expires.clone()),
        ticket: args.ticket.clone(),
        emergency: args.emergency,
    };
    let (content, upsert) = edit::upsert_grant(existing, &person.id.value, &app.id.value, &grant)
        .map_err(|e| {
        refused(
            format!("cannot write the grant into `{path}`: {e}"),
            if existing.is_none() {
                "change the value and request again"
            } else {
                "change the value, or edit the file by hand (`portcullis check` says what is wrong with it), then request again"
            },
        )
    })?;

    let mut edited = snapshot.clone();
    edited.insert_bytes(&path, content.as_bytes());
    let report = crate::check::check(&edited, as_of);
    let (blocking, diagnostics) =
        findings_about(&report, &path, || crate::check::check(snapshot, as_of));
    if !blocking.is_empty() {
        return Err(RequestError::Rejected {
            path,
            content,
            diagnostics: blocking,
        });
    }

    let approvals = approvals_needed(catalog, settings, app, role, person, args.emergency);
    let draft = Draft {
        app,
        role,
        person,
        args,
        path: &path,
        upsert,
        expiry: &expiry,
        approvals: &approvals,
    };
    Ok(Prepared {
        branch: format!(
            "access/{}/{}/{}",
            app.id.value, person.id.value, role.id.value
        ),
        title: format!(
            "Access request: {} → {}:{} (until {})",
            person.id.value, app.id.value, role.id.value, expiry.expires
        ),
        body: draft.body(),
        path,
        content,
        upsert,
        diagnostics,
        expires: expiry.expires,
        expiry_note: expiry.note,
        approvals,
    })
}

/// The error findings that refuse the request, and the warnings to show with it. A finding
/// is about the file when it is in it, or (SoD) names it as related and is new with this
/// request; errors elsewhere in the tree are not the requester's to fix.
fn findings_about(
    report: &Report,
    path: &str,
    before: impl FnOnce() -> Report,
) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
    let in_file = |d: &&Diagnostic| d.file == path;
    let related = |d: &&Diagnostic| d.file != path && d.related.iter().any(|r| r.file == path);
    let mut blocking: Vec<Diagnostic> = report
        .diagnostics
        .iter()
        .filter(|d| d.fails())
        .filter(in_file)
        .cloned()
        .collect();
    let mut elsewhere: Vec<&Diagnostic> = report
        .diagnostics
        .iter()
        .filter(|d| d.fails())
        .filter(related)
        .collect();
    if !elsewhere.is_empty() {
        let before = before();
        elsewhere.retain(|d| {
            !before
                .diagnostics
                .iter()
                .any(|b| b.rule == d.rule && b.file == d.file && b.message == d.message)
        });
        blocking.extend(elsewhere.into_iter().cloned());
    }
    let warnings = report
        .diagnostics
        .iter()
        .filter(|d| !d.fails())
        .filter(in_file)
        .cloned()
        .collect();
    (blocking, warnings)
}

fn find_app<'c>(catalog: &'c Catalog, id: &str) -> Result<&'c App, RequestError> {
    if let Some(app) = catalog.apps.get(id) {
        return Ok(app);
    }
    if catalog.broken_apps.contains(id) {
        return Err(refused(
            format!("the policy file of app `{id}` does not load"),
            "run `portcullis check` and fix `policies/apps/` first",
        ));
    }
    let apps: Vec<String> = catalog
        .apps
        .values()
        .map(|a| format!("`{}` ({})", a.id.value, a.name))
        .collect();
    Err(refused(
        format!("there is no app `{id}` in the catalog (`policies/apps/`)"),
        crate::diag::suggest::hint(
            id,
            catalog.apps.keys(),
            &format!("use one of: {}", apps.join(", ")),
        ),
    ))
}

fn find_role<'a>(app: &'a App, id: &str) -> Result<&'a Role, RequestError> {
    app.roles.get(id).ok_or_else(|| {
        let mut hint = crate::diag::suggest::hint(
            id,
            app.roles.keys(),
            &format!("the roles of `{}` are:", app.id.value),
        );
        for r in app.roles.values() {
            let privileged = if r.privileged { " (privileged)" } else { "" };
            let _ = write!(hint, "\n  {}: {}{privileged}", r.id.value, r.description);
        }
        refused(format!("app `{}` has no role `{id}`", app.id.value), hint)
    })
}

fn find_person<'c>(catalog: &'c Catalog, id: &str) -> Result<&'c Person, RequestError> {
    let person = catalog.people.get(id).ok_or_else(|| {
        refused(
            format!("`{id}` is not in `{PEOPLE_FILE}`"),
            crate::diag::suggest::hint(
                id,
                catalog.people.keys(),
                "pass `--person` with an id from the people directory; new joiners are added by `portcullis people sync`",
            ),
        )
    })?;
    if person.leaver {
        return Err(refused(
            format!("`{id}` is a leaver; leavers hold no access"),
            "if they are back, their HR record (and `people sync`) must say so first",
        ));
    }
    Ok(person)
}

/// The expiry to write and how it was chosen.
#[derive(Clone, Debug)]
struct ResolvedExpiry {
    expires: String,
    note: Option<String>,
}

fn resolve_expiry(
    settings: &Settings,
    app: &App,
    role: &Role,
    person: &Person,
    args: &RequestArgs,
    as_of: DateTime<Utc>,
) -> Result<ResolvedExpiry, RequestError> {
    let max = if args.emergency {
        settings.emergency_max_duration
    } else {
        role.max_duration
            .unwrap_or_else(|| settings.max_duration(app.risk))
    };
    let whose = if args.emergency {
        "an emergency grant (`emergency_max_duration`)".to_owned()
    } else if role.max_duration.is_some() {
        format!("role `{}:{}`", app.id.value, role.id.value)
    } else {
        format!(
            "a role of a {} risk app (`default_max_duration`)",
            app.risk.as_str()
        )
    };
    let limit = as_of + max;
    let max_text = format_duration(max);
    let latest = latest_date(limit);
    let end = person.end_date.map(|d| (d, end_of_day(d)));
    match (&args.expires, &args.duration) {
        (Some(_), Some(_)) => Err(refused(
            "`--expires` and `--for` were both given",
            "give one: `--expires 2026-12-31` names the last day, `--for 30d` counts from now",
        )),
        (Some(text), None) => {
            let expiry = Expiry::parse(text).map_err(|e| {
                refused(
                    format!("`--expires`: {e}"),
                    "write a date such as `2026-12-31` (valid through its end, UTC) or a timestamp such as `2026-12-31T18:00:00Z`",
                )
            })?;
            let instant = expiry.instant();
            if instant <= as_of {
                return Err(refused(
                    format!("`--expires {text}` is in the past (as of {})", shown(as_of)),
                    format!("choose a later expiry, up to `--expires {latest}`"),
                ));
            }
            if instant > limit {
                return Err(refused(
                    format!(
                        "`--expires {text}` is more than {max_text} away, the maximum for {whose}"
                    ),
                    format!(
                        "choose `--expires {latest}` or earlier (or `--for {max_text}`, until {})",
                        shown(limit)
                    ),
                ));
            }
            if let Some((date, last)) = end
                && instant > last
            {
                return Err(refused(
                    format!(
                        "`--expires {text}` is after `{}`'s end date {date}",
                        person.id.value
                    ),
                    format!("choose `--expires {date}` or earlier"),
                ));
            }
            Ok(ResolvedExpiry {
                expires: text.clone(),
                note: None,
            })
        }
        (None, Some(text)) => {
            let duration = parse_duration(text).map_err(|e| {
                refused(
                    format!("`--for`: {e}"),
                    "write a whole number of hours, days or weeks: `12h`, `30d`, `2w`",
                )
            })?;
            if duration > max {
                return Err(refused(
                    format!("`--for {text}` is longer than {max_text}, the maximum for {whose}"),
                    format!("use `--for {max_text}` or less (`--expires {latest}` at the latest)"),
                ));
            }
            let expires = expiry_after(as_of, duration, limit, text.ends_with('h'));
            if let Some((date, last)) = end
                && parse_instant(&expires) > last
            {
                return Err(refused(
                    format!(
                        "`--for {text}` runs past `{}`'s end date {date}",
                        person.id.value
                    ),
                    format!("choose `--expires {date}` or earlier"),
                ));
            }
            Ok(ResolvedExpiry {
                note: Some(format!("`--for {text}` from {}", shown(as_of))),
                expires,
            })
        }
        (None, None) => {
            let hours = format_duration(max).ends_with('h');
            let mut expires = expiry_after(as_of, max, limit, hours);
            let mut note = format!(
                "the maximum for {whose}, {max_text}, since neither `--expires` nor `--for` was given"
            );
            if let Some((date, last)) = end
                && parse_instant(&expires) > last
            {
                expires = date.format("%Y-%m-%d").to_string();
                note = format!("`{}`'s end date", person.id.value);
            }
            Ok(ResolvedExpiry {
                expires,
                note: Some(note),
            })
        }
    }
}

/// The expiry `request` writes when neither `--expires` nor `--for` is given: the role's
/// maximum duration from `as_of`, capped at the person's end date.
pub fn default_expiry(
    settings: &Settings,
    app: &App,
    role: &Role,
    person: &Person,
    as_of: DateTime<Utc>,
) -> String {
    let args = RequestArgs::default();
    resolve_expiry(settings, app, role, person, &args, as_of)
        .map(|e| e.expires)
        .unwrap_or_default()
}

/// `as_of + duration` as an expiry: a timestamp for hours, else the date it falls on, valid
/// through that day, or the day before when that would pass `limit` (the role's maximum).
fn expiry_after(
    as_of: DateTime<Utc>,
    duration: Duration,
    limit: DateTime<Utc>,
    hours: bool,
) -> String {
    let at = as_of + duration;
    if hours {
        return at.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    }
    let date = at.date_naive();
    let date = if end_of_day(date) > limit {
        latest_date(limit)
    } else {
        date
    };
    date.format("%Y-%m-%d").to_string()
}

/// The last date whose end still falls within `limit`.
fn latest_date(limit: DateTime<Utc>) -> NaiveDate {
    (limit - Duration::days(1)).date_naive()
}

fn parse_instant(expires: &str) -> DateTime<Utc> {
    Expiry::parse(expires).map_or(DateTime::<Utc>::MAX_UTC, |e| e.instant())
}

fn shown(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// SPEC section 6: the role's `approvals`, else by risk; one emergency approver for an
/// emergency grant.
pub fn approvals_needed(
    catalog: &Catalog,
    settings: &Settings,
    app: &App,
    role: &Role,
    person: &Person,
    emergency: bool,
) -> Vec<Approval> {
    let (kinds, _) = crate::plan::role_requirements(catalog, app, Some(role), emergency);
    kinds
        .into_iter()
        .map(|kind| match kind {
            Approver::Manager => Approval {
                kind: "manager".into(),
                who: match person
                    .manager
                    .as_ref()
                    .and_then(|m| catalog.people.get(&m.value))
                {
                    Some(m) => match &m.github {
                        Some(login) => format!("`{}` (GitHub `{login}`)", m.id.value),
                        None => format!("`{}` (no GitHub login in `{PEOPLE_FILE}`)", m.id.value),
                    },
                    None => format!("nobody: `{}` has no manager", person.id.value),
                },
            },
            Approver::Owner => Approval {
                kind: "owner".into(),
                who: format!(
                    "a member of {}",
                    app.owners
                        .iter()
                        .map(|o| format!("`{o}`"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            },
            Approver::Security => Approval {
                kind: "security".into(),
                who: format!("a member of `{}`", settings.security_team),
            },
            Approver::Principal(p) if emergency => Approval {
                kind: "emergency".into(),
                who: format!("a member of `{p}`"),
            },
            Approver::Principal(p) => Approval {
                who: format!("`{p}`"),
                kind: p,
            },
        })
        .collect()
}

/// Everything the pull request body says.
struct Draft<'a> {
    app: &'a App,
    role: &'a Role,
    person: &'a Person,
    args: &'a RequestArgs,
    path: &'a str,
    upsert: Upsert,
    expiry: &'a ResolvedExpiry,
    approvals: &'a [Approval],
}

impl Draft<'_> {
    /// Markdown for approvers. Ids are plain ASCII and shown as code; names and descriptions
    /// from policies are escaped; the requester's justification and ticket are code, so
    /// nothing in them can mention, link or inject HTML.
    fn body(&self) -> String {
        let (app, role, person) = (self.app, self.role, self.person);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "### Access request: `{}` → `{}:{}`\n",
            person.id.value, app.id.value, role.id.value
        );
        let change = match self.upsert {
            Upsert::Created => format!("a new file `{}`", self.path),
            Upsert::Added => format!("a grant added to `{}`", self.path),
            Upsert::Renewed => format!(
                "a renewal: the existing grant in `{}` gets a new justification and expiry",
                self.path
            ),
        };
        let mut about = vec![
            markdown::escape(&person.name),
            markdown::escape(&person.department),
        ];
        about.extend(person.title.as_deref().map(markdown::escape));
        let _ = writeln!(
            out,
            "- **Person:** `{}`, {}",
            person.id.value,
            about.join(", ")
        );
        let _ = writeln!(
            out,
            "- **App:** `{}`, {} (risk: {})",
            app.id.value,
            markdown::escape(&app.name),
            app.risk.as_str()
        );
        let _ = writeln!(
            out,
            "- **Role:** `{}`, {}",
            role.id.value,
            markdown::escape(&role.description)
        );
        let _ = writeln!(
            out,
            "- **Privileged:** {}",
            if role.privileged { "yes" } else { "no" }
        );
        if self.args.emergency {
            let _ = writeln!(
                out,
                "- **Emergency:** yes, break-glass access; the app's owners review it after it is applied"
            );
        }
        let until = match Expiry::parse(&self.expiry.expires) {
            Ok(Expiry::Date(_)) => {
                format!("{} (through the end of that day, UTC)", self.expiry.expires)
            }
            _ => self.expiry.expires.clone(),
        };
        let how = self
            .expiry
            .note
            .as_ref()
            .map(|n| format!("; {n}"))
            .unwrap_or_default();
        let _ = writeln!(out, "- **Expires:** {until}{how}");
        if let Some(ticket) = &self.args.ticket {
            let _ = writeln!(out, "- **Ticket:** {}", code_span(ticket));
        }
        let _ = writeln!(out, "- **Change:** {change}");
        let _ = writeln!(out, "\n#### Justification\n");
        let _ = writeln!(out, "{}", fenced(self.args.justification.trim()));
        let _ = writeln!(out, "\n#### Approvals needed\n");
        for a in self.approvals {
            let _ = writeln!(out, "- `{}`: {}", a.kind, a.who);
        }
        if let Some(auto) = role
            .auto_approve
            .as_ref()
            .filter(|_| !role.privileged && !self.args.emergency)
        {
            let _ = writeln!(
                out,
                "- or automatically, when at least {:.0}% of `{}`'s peers in {} (at least {}) hold the role",
                auto.peer_adoption * 100.0,
                person.id.value,
                markdown::escape(&person.department),
                auto.min_peers
            );
        }
        let _ = writeln!(
            out,
            "\nEach approval must come from a different reviewer; the grantee, the author of this pull request and anyone who pushed to it do not count."
        );
        out
    }
}

/// Inline code that holds any text: a fence longer than any backtick run in it, one line.
fn code_span(text: &str) -> String {
    let text = text.replace(['\n', '\r'], " ");
    let fence = "`".repeat(longest_backtick_run(&text) + 1);
    // A backtick next to the fence would lengthen it; a space on both sides is stripped.
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// A fenced code block that holds any text: its fence is longer than any backtick run inside.
fn fenced(text: &str) -> String {
    let fence = "`".repeat((longest_backtick_run(text) + 1).max(3));
    format!("{fence}text\n{}\n{fence}", text.trim_end_matches('\n'))
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// The issue form (`.github/ISSUE_TEMPLATE/access-request.yml`)

/// A request as an issue form filled it in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IssueForm {
    pub app: String,
    pub role: String,
    pub duration: Option<String>,
    pub expires: Option<String>,
    pub justification: String,
    pub ticket: Option<String>,
    /// `None`: the issue's author, by their GitHub login (`person_by_github`).
    pub person: Option<String>,
}

/// The labels of the form's fields, as GitHub renders them into `### <label>` headings.
pub const FORM_LABELS: [&str; 7] = [
    "App",
    "Role",
    "Duration",
    "Expires",
    "Justification",
    "Ticket",
    "Person",
];

/// What GitHub writes for an optional field left empty.
const NO_RESPONSE: &str = "_No response_";

/// Reads an issue body rendered from the access-request form: `### <label>` sections, each
/// field exactly once. A heading the form does not have, or a field twice, is refused: text
/// typed into the justification must not pass for another field.
pub fn parse_issue_form(body: &str) -> Result<IssueForm, String> {
    let body = body.replace("\r\n", "\n");
    let mut sections: Vec<(&str, Vec<&str>)> = Vec::new();
    for line in body.lines() {
        if let Some(label) = line.strip_prefix("### ") {
            let label = label.trim();
            if !FORM_LABELS.contains(&label) {
                return Err(format!(
                    "the issue has a section `### {label}` that the access-request form does not have; edit the issue so that only the form's fields are headings"
                ));
            }
            if sections.iter().any(|(l, _)| *l == label) {
                return Err(format!(
                    "the field `{label}` appears twice; edit the issue so that each field appears once"
                ));
            }
            sections.push((label, Vec::new()));
        } else if let Some((_, lines)) = sections.last_mut() {
            lines.push(line);
        } else if !line.trim().is_empty() {
            return Err(
                "the issue does not start with a `### ` field heading; open it with the access-request form".into(),
            );
        }
    }
    let field = |label: &str| -> Option<String> {
        let (_, lines) = sections.iter().find(|(l, _)| *l == label)?;
        let value = lines.join("\n");
        let value = value.trim();
        (!value.is_empty() && value != NO_RESPONSE).then(|| value.to_owned())
    };
    let required = |label: &str| {
        field(label).ok_or_else(|| format!("the field `{label}` is missing or empty; fill it in"))
    };
    let id = |label: &str, value: String| {
        if is_id(&value) {
            Ok(value)
        } else {
            Err(format!(
                "the field `{label}`: `{value}` is not an id (lowercase letters, digits, `.`, `_`, `-`)"
            ))
        }
    };
    let duration = field("Duration");
    if let Some(d) = &duration {
        parse_duration(d).map_err(|e| format!("the field `Duration`: {e}"))?;
    }
    let expires = field("Expires");
    if let Some(e) = &expires {
        Expiry::parse(e).map_err(|e| format!("the field `Expires`: {e}"))?;
    }
    if duration.is_some() && expires.is_some() {
        return Err("fill in `Duration` or `Expires`, not both".into());
    }
    Ok(IssueForm {
        app: id("App", required("App")?)?,
        role: id("Role", required("Role")?)?,
        duration,
        expires,
        justification: required("Justification")?,
        ticket: field("Ticket"),
        person: field("Person").map(|p| id("Person", p)).transpose()?,
    })
}

/// Whether a branch is one `request` opens pull requests from: `access/<app>/<person>/<role>`,
/// with `/issue-<n>` when it was asked for in an issue.
pub fn is_request_branch(branch: &str) -> bool {
    let parts: Vec<&str> = branch.split('/').collect();
    let from_issue = |s: &str| {
        s.strip_prefix("issue-")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    match parts.as_slice() {
        ["access", app, person, role] => is_id(app) && is_id(person) && is_id(role),
        ["access", app, person, role, issue] => {
            is_id(app) && is_id(person) && is_id(role) && from_issue(issue)
        }
        _ => false,
    }
}

/// The person whose `github:` is this login (GitHub logins are case-insensitive); `None`
/// when nobody, or more than one person, has it.
pub fn person_by_github<'c>(catalog: &'c Catalog, login: &str) -> Option<&'c Person> {
    let mut found = catalog
        .people
        .values()
        .filter(|p| p.github.as_deref().is_some_and(|g| Login::new(g).is(login)));
    let person = found.next()?;
    found.next().is_none().then_some(person)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_is_fenced_longer_than_any_backtick_run_inside() {
        assert_eq!(code_span("FIN-1042"), "`FIN-1042`");
        assert_eq!(code_span("a``b"), "```a``b```");
        assert_eq!(code_span("`x`"), "`` `x` ``");
        assert_eq!(code_span("two\nlines"), "`two lines`");
        assert_eq!(fenced("plain"), "```text\nplain\n```");
        assert_eq!(fenced("a\n````\nb\n"), "`````text\na\n````\nb\n`````");
    }
}
