//! The approval verdict (SPEC section 6): reviews x requirements -> met or not, with reasons.
//!
//! Pure. The GitHub edge supplies the pull request's facts (author, commit authors and
//! pushers, files, reviews, override comments) and the members of every team involved,
//! resolved when the verdict is made. Requirements come from the plan, which was computed
//! with the **base** revision's policies.

pub mod pull;
pub mod status;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use chrono::{DateTime, Utc};

use crate::model::{Approver, Catalog, Login};
use crate::plan::{Change, Op, Plan, requirement_label};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewState {
    Approved,
    ChangesRequested,
    Commented,
    Dismissed,
    Pending,
}

impl ReviewState {
    pub fn parse(s: &str) -> ReviewState {
        match s {
            "APPROVED" => ReviewState::Approved,
            "CHANGES_REQUESTED" => ReviewState::ChangesRequested,
            "DISMISSED" => ReviewState::Dismissed,
            "PENDING" => ReviewState::Pending,
            _ => ReviewState::Commented,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Review {
    pub id: u64,
    pub login: Login,
    /// The account's numeric id: a login can be renamed and recycled, the id cannot.
    pub user_id: u64,
    pub bot: bool,
    pub state: ReviewState,
    pub commit: Option<String>,
    /// Server time; `None` for a pending review.
    pub submitted_at: Option<DateTime<Utc>>,
}

/// `/portcullis override <reason>` from a comment; `current` is false when it was made before
/// portcullis's own first status on the head it would apply to (the edge decides from
/// server-side times). `authentic` is false when the text may not be its author's own: any
/// writer can edit anyone's comment, so an edited comment, or one whose edit history cannot be
/// read, never counts.
#[derive(Clone, Debug)]
pub struct OverrideComment {
    pub id: u64,
    pub login: Login,
    pub bot: bool,
    pub body: String,
    pub current: bool,
    pub authentic: Result<(), String>,
}

/// What GitHub says about the pull request.
#[derive(Clone, Debug, Default)]
pub struct PullFacts {
    pub number: u64,
    pub author: Login,
    pub head_sha: String,
    /// GitHub users who authored or committed (pushed) a commit of the PR.
    pub committers: BTreeSet<Login>,
    /// Every changed path, the old name of a renamed file included.
    pub files: Vec<String>,
    /// In the order GitHub returns them (oldest first).
    pub reviews: Vec<Review>,
    pub overrides: Vec<OverrideComment>,
    /// Why the facts cannot be trusted whole (a listing GitHub truncated, a commit GitHub
    /// cannot attribute to an account): the pull request is refused, never judged from them.
    pub incomplete: Vec<String>,
    /// Further logins that approve nothing in the pull request, with why (a person the pull
    /// request adds to the directory, whoever asked through the issue form).
    pub excluded: BTreeMap<Login, String>,
    /// When the pull request was last retargeted: approvals given before do not count.
    pub base_changed_at: Option<DateTime<Utc>>,
}

/// Members of each `@org/team`, resolved now (lower-case keys).
#[derive(Clone, Debug, Default)]
pub struct Directory {
    pub teams: BTreeMap<String, BTreeSet<Login>>,
    /// Teams resolved as nobody, with why (a pinned id that no longer matches).
    pub refused: Vec<String>,
}

impl Directory {
    /// The logins a principal (`@org/team` or `@user`) stands for.
    pub fn members(&self, principal: &str) -> BTreeSet<Login> {
        let p = principal.trim_start_matches('@').to_lowercase();
        if p.contains('/') {
            self.teams
                .get(&format!("@{p}"))
                .cloned()
                .unwrap_or_default()
        } else {
            BTreeSet::from([Login::new(&p)])
        }
    }
}

/// The teams whose members the verdict needs: owners of the apps changed, the security team,
/// the emergency approvers and any explicit team in a role's approvals.
pub fn teams_needed(plan: &Plan, policies: &Catalog) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut add = |p: &str| {
        if p.contains('/') {
            out.insert(p.to_lowercase());
        }
    };
    if let Some(s) = &policies.settings {
        add(&s.security_team);
        if let Some(e) = &s.emergency_approvers {
            add(e);
        }
    }
    for c in &plan.changes {
        if let Some(app) = policies.apps.get(&c.app) {
            app.owners.iter().for_each(|o| add(o));
        }
        for r in &c.approvals {
            if let Approver::Principal(p) = r {
                add(p);
            }
        }
    }
    out
}

#[derive(Clone, Debug, PartialEq)]
pub enum How {
    /// Every requirement met by a distinct eligible reviewer.
    Approved,
    AutoApproved(String),
    Overridden {
        by: Login,
        reason: String,
    },
    Missing,
}

#[derive(Clone, Debug)]
pub struct ChangeVerdict {
    pub label: String,
    pub how: How,
    /// Requirement and the reviewer who met it.
    pub met: Vec<(String, Login)>,
    /// Requirement and who could still meet it.
    pub missing: Vec<(String, Vec<Login>)>,
}

#[derive(Clone, Debug)]
pub struct Verdict {
    pub approved: bool,
    /// A structural refusal (mixed PR): nothing else can make it pass.
    pub refused: Option<String>,
    pub changes: Vec<ChangeVerdict>,
    /// Approvals that were left but do not count, with why.
    pub ignored: Vec<String>,
    pub override_used: Option<(Login, String)>,
}

const GOVERNANCE: [&str; 3] = ["policies/", "schemas/", ".github/"];

pub fn judge(plan: &Plan, policies: &Catalog, pr: &PullFacts, dir: &Directory) -> Verdict {
    let mut ignored = Vec::new();
    if let Some(why) = pr.incomplete.first() {
        return Verdict {
            approved: false,
            refused: Some(why.clone()),
            changes: Vec::new(),
            ignored,
            override_used: None,
        };
    }
    let approvers = current_approvers(pr, &mut ignored);
    ignored.extend(dir.refused.iter().cloned());
    let ids = approver_ids(pr);
    let author = pr.author.clone();
    let security_team = policies.settings.as_ref().map(|s| s.security_team.clone());
    let access = pr.files.iter().any(|f| f.starts_with("access/"));
    let other: Vec<&String> = pr
        .files
        .iter()
        .filter(|f| !f.starts_with("access/"))
        .collect();
    // `people sync` proposes the directory and the grants it implies in one pull request
    // (SPEC section 5); the directory change needs the security team and each grant its own
    // approvals, all judged with the base's directory. Any other rule file mixed with access
    // is refused.
    let directory_only = other
        .iter()
        .all(|f| f.as_str() == crate::model::PEOPLE_FILE);
    if access && !other.is_empty() && !directory_only {
        let governance = other
            .iter()
            .any(|f| GOVERNANCE.iter().any(|g| f.starts_with(g)));
        let what = if governance {
            "policies/, schemas/ or .github/"
        } else {
            "files outside access/"
        };
        return Verdict {
            approved: false,
            refused: Some(format!(
                "this pull request changes {what} (`{}`) and access/ together: split it into a policy change (judged by the security team) and an access request",
                other[0]
            )),
            changes: Vec::new(),
            ignored,
            override_used: None,
        };
    }

    // SPEC section 6: the author, whoever wrote or pushed a commit, every grantee of any change
    // (co-grantees would approve each other), a person the pull request adds to the directory
    // and whoever asked through the issue form never approve anything in the pull request.
    let mut excluded: BTreeMap<Login, String> = BTreeMap::new();
    excluded.insert(author.clone(), "is the pull request's author".into());
    for c in &pr.committers {
        excluded
            .entry(c.clone())
            .or_insert_with(|| "authored or pushed a commit in the pull request".into());
    }
    for (login, why) in &pr.excluded {
        excluded.entry(login.clone()).or_insert_with(|| why.clone());
    }
    let mut excluded_ids = BTreeSet::new();
    for c in &plan.changes {
        let Some(p) = policies.people.get(&c.person) else {
            continue;
        };
        if let Some(login) = &p.github {
            excluded
                .entry(Login::new(login))
                .or_insert_with(|| format!("is a grantee in the pull request ({})", p.id.value));
        }
        excluded_ids.extend(p.github_id);
    }
    // A renamed account keeps its id: a grantee approving under a new login is still excluded.
    for (login, id) in &ids {
        if excluded_ids.contains(id) {
            excluded
                .entry(login.clone())
                .or_insert_with(|| "is a grantee in the pull request (by account id)".into());
        }
    }
    let valid_override = current_override(pr, security_team.as_deref(), dir, &mut ignored);

    let mut changes = Vec::new();
    if !other.is_empty() {
        let req = vec![Approver::Security];
        let label = if directory_only {
            "people directory change"
        } else {
            "policy change"
        };
        changes.push(one(
            label.into(),
            &req,
            None,
            None,
            &approvers,
            &excluded,
            policies,
            dir,
            &mut ignored,
        ));
    }
    let mut override_used = None;
    for c in &plan.changes {
        let label = format!("{} {}:{} for {}", c.op.as_str(), c.app, c.role, c.person);
        let grantee = grantee_login(policies, c);
        if let Some(auto) = c
            .insights
            .auto_approve
            .as_ref()
            .filter(|a| a.met && c.op == Op::Add && !c.privileged && !c.emergency)
        {
            changes.push(ChangeVerdict {
                label,
                how: How::AutoApproved(auto.reason.clone()),
                met: Vec::new(),
                missing: Vec::new(),
            });
            continue;
        }
        let mut v = one(
            label,
            &c.approvals,
            Some(c),
            grantee.as_ref(),
            &approvers,
            &excluded,
            policies,
            dir,
            &mut ignored,
        );
        manager_identity(&mut v, c, policies, &ids, &mut ignored);
        if v.how == How::Missing
            && let Some((by, reason)) = &valid_override
        {
            if grantee.as_ref() == Some(by) {
                ignored.push(format!(
                    "the override by @{by} does not apply to {}: it is their own grant",
                    v.label
                ));
            } else {
                v.how = How::Overridden {
                    by: by.clone(),
                    reason: reason.clone(),
                };
                override_used = Some((by.clone(), reason.clone()));
            }
        }
        changes.push(v);
    }
    ignored.sort();
    ignored.dedup();
    Verdict {
        approved: changes.iter().all(|c| c.how != How::Missing),
        refused: None,
        changes,
        ignored,
        override_used,
    }
}

/// Each reviewer's numeric account id (lower-case login).
fn approver_ids(pr: &PullFacts) -> BTreeMap<Login, u64> {
    pr.reviews
        .iter()
        .map(|r| (r.login.clone(), r.user_id))
        .collect()
}

/// SPEC section 6 and THREATS 6: when the directory gives the manager's `github_id`, an
/// approval under the manager's login from another account (a renamed and recycled login) is
/// not the manager's. Undoes a match `one` made from the login alone.
fn manager_identity(
    v: &mut ChangeVerdict,
    c: &Change,
    policies: &Catalog,
    ids: &BTreeMap<Login, u64>,
    ignored: &mut Vec<String>,
) {
    let Some(manager) = policies
        .people
        .get(&c.person)
        .and_then(|p| p.manager.as_ref())
        .and_then(|m| policies.people.get(&m.value))
    else {
        return;
    };
    let Some(want) = manager.github_id else {
        return;
    };
    let label = requirement_label(&Approver::Manager);
    let Some(i) = v
        .met
        .iter()
        .position(|(what, login)| *what == label && ids.get(login).is_some_and(|id| *id != want))
    else {
        return;
    };
    let (_, login) = v.met.remove(i);
    ignored.push(format!(
        "@{login} is not {}'s manager {}: the account's id differs from `github_id` {want} in people.yaml (a renamed or recycled login)",
        c.person, manager.id.value
    ));
    v.missing
        .push((format!("manager @{login} (account id {want})"), Vec::new()));
    v.how = How::Missing;
}

/// Reviewers whose latest decision is an approval of the current head commit.
fn current_approvers(pr: &PullFacts, ignored: &mut Vec<String>) -> BTreeSet<Login> {
    let mut latest: BTreeMap<&Login, &Review> = BTreeMap::new();
    for r in &pr.reviews {
        if matches!(r.state, ReviewState::Commented | ReviewState::Pending) {
            continue;
        }
        latest.insert(&r.login, r);
    }
    let mut out = BTreeSet::new();
    for (login, r) in latest {
        match r.state {
            ReviewState::Approved if r.bot => {
                ignored.push(format!("@{login} is a bot: its approval never counts"));
            }
            ReviewState::Approved
                if pr
                    .base_changed_at
                    .is_some_and(|at| r.submitted_at.is_none_or(|s| s <= at)) =>
            {
                ignored.push(format!(
                    "@{login} approved while the pull request targeted another branch: approve again"
                ));
            }
            ReviewState::Approved if r.commit.as_deref() == Some(pr.head_sha.as_str()) => {
                out.insert(login.clone());
            }
            ReviewState::Approved => ignored.push(format!(
                "@{login} approved an earlier commit ({}), not the head {}: approve again",
                short(r.commit.as_deref().unwrap_or("unknown")),
                short(&pr.head_sha)
            )),
            ReviewState::Dismissed => {
                ignored.push(format!("@{login}'s approval was dismissed"));
            }
            _ => ignored.push(format!("@{login} requested changes")),
        }
    }
    out
}

/// The first seven characters, never cut inside a character (the value comes from a response).
fn short(sha: &str) -> &str {
    crate::model::short_commit(sha)
}

/// The newest `/portcullis override <reason>` that may apply: from a security team member,
/// not a bot, with a reason, made for the current head.
fn current_override(
    pr: &PullFacts,
    security_team: Option<&str>,
    dir: &Directory,
    ignored: &mut Vec<String>,
) -> Option<(Login, String)> {
    let security = security_team.map(|t| dir.members(t)).unwrap_or_default();
    let mut found = None;
    for c in &pr.overrides {
        let login = c.login.clone();
        let Some(rest) = parse_override(&c.body) else {
            continue;
        };
        if c.bot {
            ignored.push(format!("override by @{login}: bots cannot override"));
        } else if !security.contains(&login) {
            ignored.push(format!(
                "override by @{login}: only the security team can override"
            ));
        } else if let Err(why) = &c.authentic {
            ignored.push(format!("override by @{login} does not count: {why}"));
        } else if rest.is_empty() {
            ignored.push(format!(
                "override by @{login} has no reason: write `/portcullis override <reason>`"
            ));
        } else if !c.current {
            ignored.push(format!(
                "override by @{login} was made before the latest push: override again"
            ));
        } else {
            found = Some((login, rest));
        }
    }
    found
}

/// The reason of an override command, `Some("")` when it has none.
pub fn parse_override(body: &str) -> Option<String> {
    let line = body.trim_start().lines().next()?.trim();
    let rest = line.strip_prefix("/portcullis override")?;
    if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
        return None;
    }
    Some(rest.trim().to_owned())
}

fn grantee_login(policies: &Catalog, c: &Change) -> Option<Login> {
    policies
        .people
        .get(&c.person)
        .and_then(|p| p.github.as_ref())
        .map(|g| Login::new(g))
}

/// The logins that can meet one requirement of a change.
fn candidates(
    req: &Approver,
    change: Option<&Change>,
    policies: &Catalog,
    dir: &Directory,
) -> BTreeSet<Login> {
    match req {
        Approver::Manager => change
            .and_then(|c| policies.people.get(&c.person))
            .and_then(|p| p.manager.as_ref())
            .and_then(|m| policies.people.get(&m.value))
            .filter(|m| !m.leaver)
            .and_then(|m| m.github.as_ref())
            .map(|g| BTreeSet::from([Login::new(g)]))
            .unwrap_or_default(),
        Approver::Owner => change
            .and_then(|c| policies.apps.get(&c.app))
            .map(|a| a.owners.iter().flat_map(|o| dir.members(o)).collect())
            .unwrap_or_default(),
        Approver::Security => policies
            .settings
            .as_ref()
            .map(|s| dir.members(&s.security_team))
            .unwrap_or_default(),
        Approver::Principal(p) => dir.members(p),
    }
}

fn describe(
    req: &Approver,
    cands: &BTreeSet<Login>,
    policies: &Catalog,
    change: Option<&Change>,
) -> String {
    match req {
        Approver::Manager => match cands.iter().next() {
            Some(m) => format!("manager @{m}"),
            None => "manager (none on record with a GitHub login)".into(),
        },
        Approver::Owner => {
            let owners = change
                .and_then(|c| policies.apps.get(&c.app))
                .map(|a| a.owners.join(", "))
                .unwrap_or_default();
            format!("owner ({owners})")
        }
        Approver::Security => format!(
            "security ({})",
            policies
                .settings
                .as_ref()
                .map(|s| s.security_team.as_str())
                .unwrap_or("?")
        ),
        Approver::Principal(p) => p.clone(),
    }
}

#[allow(clippy::too_many_arguments)]
fn one(
    label: String,
    reqs: &[Approver],
    change: Option<&Change>,
    grantee: Option<&Login>,
    approvers: &BTreeSet<Login>,
    excluded: &BTreeMap<Login, String>,
    policies: &Catalog,
    dir: &Directory,
    ignored: &mut Vec<String>,
) -> ChangeVerdict {
    let eligible: Vec<&Login> = approvers
        .iter()
        .filter(|a| {
            if Some(*a) == grantee {
                ignored.push(format!("@{a} cannot approve {label}: they are the grantee"));
                return false;
            }
            if let Some(why) = excluded.get(*a) {
                ignored.push(format!("@{a} cannot approve: {why}"));
                return false;
            }
            true
        })
        .collect();
    let cands: Vec<BTreeSet<Login>> = reqs
        .iter()
        .map(|r| candidates(r, change, policies, dir))
        .collect();
    // Each requirement needs its own reviewer: a maximum bipartite matching.
    let mut owner_of: BTreeMap<&Login, usize> = BTreeMap::new();
    for i in 0..reqs.len() {
        let mut seen = BTreeSet::new();
        augment(i, &cands, &eligible, &mut owner_of, &mut seen);
    }
    let mut met = Vec::new();
    let mut matched = vec![None; reqs.len()];
    for (login, i) in &owner_of {
        matched[*i] = Some((*login).clone());
    }
    let mut missing = Vec::new();
    for (i, r) in reqs.iter().enumerate() {
        let text = describe(r, &cands[i], policies, change);
        match &matched[i] {
            Some(login) => met.push((requirement_label(r), login.clone())),
            None => {
                let who: Vec<Login> = cands[i]
                    .iter()
                    .filter(|c| Some(*c) != grantee && !excluded.contains_key(*c))
                    .cloned()
                    .collect();
                missing.push((text, who));
            }
        }
    }
    let how = if missing.is_empty() {
        How::Approved
    } else {
        How::Missing
    };
    ChangeVerdict {
        label,
        how,
        met,
        missing,
    }
}

fn augment<'a>(
    req: usize,
    cands: &[BTreeSet<Login>],
    eligible: &[&'a Login],
    owner_of: &mut BTreeMap<&'a Login, usize>,
    seen: &mut BTreeSet<&'a Login>,
) -> bool {
    for &login in eligible {
        if !cands[req].contains(login) || !seen.insert(login) {
            continue;
        }
        let free = match owner_of.get(login) {
            None => true,
            Some(&other) => augment(other, cands, eligible, owner_of, seen),
        };
        if free {
            owner_of.insert(login, req);
            return true;
        }
    }
    false
}

impl Verdict {
    /// The commit status description (GitHub keeps 140 characters): who is still needed.
    pub fn status_description(&self) -> String {
        let text = if let Some(r) = &self.refused {
            format!("refused: {r}")
        } else if self.approved {
            let mut s = String::from("approved");
            if let Some((by, reason)) = &self.override_used {
                let _ = write!(s, "; override by @{by}: {reason}");
            }
            if self
                .changes
                .iter()
                .any(|c| matches!(c.how, How::AutoApproved(_)))
            {
                s.push_str("; includes auto-approval by peer adoption");
            }
            s
        } else {
            let mut needs: Vec<String> = Vec::new();
            for c in self.changes.iter().filter(|c| c.how == How::Missing) {
                for (what, _) in &c.missing {
                    if !needs.contains(what) {
                        needs.push(what.clone());
                    }
                }
            }
            format!("needs {}", needs.join(", "))
        };
        truncate(&text, 140)
    }

    /// The whole verdict in plain text, one line per change.
    pub fn text(&self) -> String {
        let mut out = String::new();
        if let Some(r) = &self.refused {
            let _ = writeln!(out, "refused: {r}");
            return out;
        }
        for c in &self.changes {
            let state = match &c.how {
                How::Approved => "approved".to_owned(),
                How::AutoApproved(why) => format!("auto-approved: {why}"),
                How::Overridden { by, reason } => format!("overridden by @{by}: {reason}"),
                How::Missing => "NOT approved".to_owned(),
            };
            let _ = writeln!(out, "{}: {state}", c.label);
            for (what, by) in &c.met {
                let _ = writeln!(out, "    {what}: @{by}");
            }
            for (what, who) in &c.missing {
                let who = if who.is_empty() {
                    "nobody eligible".to_owned()
                } else {
                    who.iter()
                        .map(|w| format!("@{w}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let _ = writeln!(out, "    needs {what}: {who}");
            }
        }
        for i in &self.ignored {
            let _ = writeln!(out, "not counted: {i}");
        }
        let _ = writeln!(
            out,
            "{}",
            if self.approved {
                "approvals complete"
            } else {
                "approvals incomplete"
            }
        );
        out
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}
