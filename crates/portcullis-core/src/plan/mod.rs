//! `plan`: the grant-level change between two revisions, and what each change needs.
//!
//! A grant is identified by its file and role, so a moved or renamed file is a removal plus an
//! addition, and an edit that changes no grant field (comments, order, quoting) is no change.
//! Requirements always come from the catalog passed in, which the caller loads from the
//! **base** revision: a change is never judged by its own copy of the rules. Pure: the edges
//! supply both versions of the changed files, the context grants and the history.

pub mod compute;
pub mod insights;
pub mod render;

use crate::model::{AppId, PersonId, RoleId};
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::model::{Approver, Catalog, Grant, GrantFile, Risk};
pub use insights::{HistoryEvent, Insights};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Op {
    Add,
    Remove,
    Change,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Remove => "remove",
            Op::Change => "change",
        }
    }
}

/// The fields of a grant as the plan shows them (and `audit` caches them).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GrantView {
    pub role: RoleId,
    pub justification: Option<String>,
    pub expires: Option<String>,
    pub ticket: Option<String>,
    pub emergency: bool,
    pub reviewed: Option<String>,
}

impl GrantView {
    pub fn of(g: &Grant) -> GrantView {
        GrantView {
            role: g.role.value.clone(),
            justification: g.justification.as_ref().map(|j| j.value.clone()),
            expires: g.expires.as_ref().map(|e| e.value.to_string()),
            ticket: g.ticket.clone(),
            emergency: g.emergency,
            reviewed: g.reviewed.as_ref().map(|r| r.value.to_string()),
        }
    }
}

/// Who must approve one change. `Principal` is an explicit `@org/team` or `@user`; the
/// emergency path is a principal too (the settings' `emergency_approvers`).
pub type Requirement = Approver;

pub fn requirement_label(r: &Requirement) -> String {
    match r {
        Approver::Manager => "manager".into(),
        Approver::Owner => "owner".into(),
        Approver::Security => "security".into(),
        Approver::Principal(p) => p.clone(),
    }
}

#[derive(Clone, Debug)]
pub struct Change {
    pub op: Op,
    pub person: PersonId,
    pub app: AppId,
    pub role: RoleId,
    pub file: String,
    pub before: Option<GrantView>,
    pub after: Option<GrantView>,
    /// Each kind must be met by a different reviewer (SPEC section 6).
    pub approvals: Vec<Requirement>,
    /// Why `approvals` is what it is, in words (role policy, risk default, emergency, removal).
    pub approvals_reason: String,
    pub risk: Option<Risk>,
    pub privileged: bool,
    pub emergency: bool,
    pub insights: Insights,
}

impl Change {
    /// The grant this change is about.
    pub fn key(&self) -> crate::model::GrantKey {
        crate::model::GrantKey {
            app: self.app.clone(),
            person: self.person.clone(),
            role: self.role.clone(),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub changes: Vec<Change>,
}

/// Both versions of every changed grant file: `None` where the file is absent (or failed to
/// load; `check` reports why).
#[derive(Debug, Default)]
pub struct FileVersions {
    pub base: BTreeMap<String, GrantFile>,
    pub head: BTreeMap<String, GrantFile>,
    pub paths: BTreeSet<String>,
}

/// `policies` holds the base revision's policies and, as `grant_files`, the head versions of
/// the files insights look at (the persons' other files and their department peers' files in
/// the apps concerned).
pub fn build(
    policies: &Catalog,
    files: &FileVersions,
    history: &BTreeMap<(String, String), Vec<HistoryEvent>>,
    as_of: DateTime<Utc>,
) -> Plan {
    let index = insights::Index::new(policies, as_of);
    let mut changes = Vec::new();
    for path in &files.paths {
        let before = files.base.get(path);
        let after = files.head.get(path);
        let Some(file) = after.or(before) else {
            continue;
        };
        let (person, app) = (file.person.value.clone(), file.app.value.clone());
        let roles = |f: Option<&GrantFile>| -> BTreeMap<RoleId, GrantView> {
            let mut out = BTreeMap::new();
            for g in f.map(|f| f.grants.as_slice()).unwrap_or_default() {
                // A duplicate role is a `duplicate-grant` error; the first one counts.
                out.entry(g.role.value.clone())
                    .or_insert_with(|| GrantView::of(g));
            }
            out
        };
        let (old, new) = (roles(before), roles(after));
        let all: BTreeSet<&RoleId> = old.keys().chain(new.keys()).collect();
        for role in all {
            let (b, a) = (old.get(role), new.get(role));
            let op = match (b, a) {
                (None, Some(_)) => Op::Add,
                (Some(_), None) => Op::Remove,
                (Some(b), Some(a)) if b != a => Op::Change,
                _ => continue,
            };
            let (person, app) = match (op, before, after) {
                (Op::Remove, Some(f), _) => (f.person.value.clone(), f.app.value.clone()),
                _ => (person.clone(), app.clone()),
            };
            let (approvals, approvals_reason) = requirements(policies, &app, role, op, b, a);
            let app_policy = policies.apps.get(&app);
            let role_policy = app_policy.and_then(|x| x.roles.get(role));
            let view = a.or(b).expect("one side exists");
            let insights = index.insights(
                &person,
                &app,
                role,
                view,
                history.get(&(path.clone(), role.to_string())),
            );
            changes.push(Change {
                op,
                person,
                app,
                role: role.clone(),
                file: path.clone(),
                before: b.cloned(),
                after: a.cloned(),
                approvals,
                approvals_reason,
                risk: app_policy.map(|x| x.risk),
                privileged: role_policy.is_some_and(|r| r.privileged),
                emergency: view.emergency,
                insights,
            });
        }
    }
    changes.sort_by(|a, b| {
        (&a.app, &a.person, &a.role, a.op).cmp(&(&b.app, &b.person, &b.role, b.op))
    });
    Plan { changes }
}

/// SPEC section 6: what a change needs, with the reason in words.
fn requirements(
    catalog: &Catalog,
    app: &str,
    role: &str,
    op: Op,
    before: Option<&GrantView>,
    after: Option<&GrantView>,
) -> (Vec<Requirement>, String) {
    let needs_full = match op {
        Op::Add => true,
        Op::Remove => false,
        Op::Change => extends(before, after) || turns_emergency(before, after),
    };
    if !needs_full {
        let why = match op {
            Op::Remove => "a removal needs one owner",
            _ => "an edit that neither extends the expiry nor adds a role needs one owner",
        };
        return (vec![Approver::Owner], why.into());
    }
    let Some(app_policy) = catalog.apps.get(app) else {
        // Unknown app: `check` fails the change; the plan still says the most it could need.
        return (
            vec![Approver::Manager, Approver::Owner, Approver::Security],
            "unknown app: every approver kind".into(),
        );
    };
    let emergency = after.is_some_and(|a| a.emergency);
    role_requirements(catalog, app_policy, app_policy.roles.get(role), emergency)
}

/// SPEC section 6 for one grant of a role: one emergency approver for an emergency grant
/// (the security team when `emergency_approvers` is not set), else the role's `approvals`,
/// else the risk default. With the reason in words. `request` uses it too.
pub fn role_requirements(
    catalog: &Catalog,
    app_policy: &crate::model::App,
    role_policy: Option<&crate::model::Role>,
    emergency: bool,
) -> (Vec<Requirement>, String) {
    if emergency {
        let who = catalog
            .settings
            .as_ref()
            .and_then(|s| s.emergency_approvers.clone())
            .map(Approver::Principal)
            .unwrap_or(Approver::Security);
        return (
            vec![who],
            "emergency grant: one emergency approver now, owners review after".into(),
        );
    }
    if let Some(r) = role_policy
        && !r.approvals.is_empty()
    {
        return (r.approvals.clone(), format!("role `{}` policy", r.id.value));
    }
    let privileged = role_policy.is_some_and(|r| r.privileged);
    let list = if privileged || app_policy.risk == Risk::Critical {
        vec![Approver::Manager, Approver::Owner, Approver::Security]
    } else if app_policy.risk == Risk::High {
        vec![Approver::Manager, Approver::Owner]
    } else {
        vec![Approver::Owner]
    };
    let why = if privileged {
        "privileged role".to_owned()
    } else {
        format!("{} risk default", app_policy.risk.as_str())
    };
    (list, why)
}

/// Whether the change lets access last longer: a later expiry, or none where there was one.
fn extends(before: Option<&GrantView>, after: Option<&GrantView>) -> bool {
    let instant = |g: Option<&GrantView>| -> Option<Option<DateTime<Utc>>> {
        let e = g?.expires.as_deref();
        Some(e.and_then(|t| crate::model::Expiry::parse(t).ok().map(|x| x.instant())))
    };
    match (instant(before), instant(after)) {
        (Some(Some(b)), Some(Some(a))) => a > b,
        (Some(Some(_)), Some(None)) => true,
        _ => false,
    }
}

fn turns_emergency(before: Option<&GrantView>, after: Option<&GrantView>) -> bool {
    after.is_some_and(|a| a.emergency) && !before.is_some_and(|b| b.emergency)
}

/// The paths `plan` must load at the base revision for insights, given the changed grant
/// files: every file of each person concerned and their department peers' files in the apps
/// concerned. `list_app` lists the person ids with a file in `access/<app>/`.
pub fn context_paths(
    policies: &Catalog,
    changed: &FileVersions,
    app_ids: &[String],
    mut list_app: impl FnMut(&str) -> Vec<String>,
) -> BTreeSet<String> {
    let mut people: BTreeSet<PersonId> = BTreeSet::new();
    let mut apps: BTreeSet<AppId> = BTreeSet::new();
    for f in changed.base.values().chain(changed.head.values()) {
        people.insert(f.person.value.clone());
        apps.insert(f.app.value.clone());
    }
    let departments: BTreeSet<&str> = people
        .iter()
        .filter_map(|p| policies.people.get(p))
        .map(|p| p.department.as_str())
        .collect();
    let department_of: std::collections::HashMap<&str, &str> =
        policies.members().map(|(id, d, _)| (id, d)).collect();
    let mut out = BTreeSet::new();
    for app in app_ids {
        let holders: BTreeSet<String> = list_app(app).into_iter().collect();
        for person in &people {
            if holders.contains(person.as_str()) {
                out.insert(format!("access/{app}/{person}.yaml"));
            }
        }
        if apps.contains(app.as_str()) {
            for holder in &holders {
                let in_department = department_of
                    .get(holder.as_str())
                    .is_some_and(|d| departments.contains(d));
                if in_department {
                    out.insert(format!("access/{app}/{holder}.yaml"));
                }
            }
        }
    }
    out
}

/// The plan between two whole in-memory snapshots, judged by `base`'s policies; every head
/// grant file is context. For tests and small trees; the CLI loads only what it needs.
pub fn between(
    base: &crate::snapshot::Snapshot,
    head: &crate::snapshot::Snapshot,
    as_of: DateTime<Utc>,
) -> (Catalog, Plan) {
    let (mut policies, _) = crate::load::load(base);
    let (head_catalog, _) = crate::load::load(head);
    let base_files: BTreeMap<String, GrantFile> = policies
        .grant_files
        .drain(..)
        .map(|f| (f.path.clone(), f))
        .collect();
    let head_files: BTreeMap<String, GrantFile> = head_catalog
        .grant_files
        .iter()
        .map(|f| (f.path.clone(), f.clone()))
        .collect();
    let paths = base
        .files
        .iter()
        .chain(head.files.iter())
        .map(|(p, _)| p)
        .filter(|p| crate::load::layout::grant_path_parts(p).is_some())
        .filter(|p| base.get(p) != head.get(p))
        .cloned()
        .collect();
    // Insights, peer adoption among them, read the base: grants the change adds are never
    // peers (SPEC section 6), or one pull request granting a whole department approves itself.
    policies.grant_files = base_files.values().cloned().collect();
    let files = FileVersions {
        base: base_files,
        head: head_files,
        paths,
    };
    let plan = build(&policies, &files, &BTreeMap::new(), as_of);
    (policies, plan)
}
