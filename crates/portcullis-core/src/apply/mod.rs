//! What `apply` decides from a verified range, before and after it provisions: which grants the
//! quarantine holds back or releases, which commit each operation is owed to, the issues it owes
//! the security team and the apps' owners, and the evidence records of the run. All of it from
//! values (the checked commits, the catalog, the results of the operations); the CLI does the
//! I/O around it.

pub mod reconcile;
pub mod run;

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::diag::render::markdown::{code, escape};
use crate::evidence::{self, Action, Draft, Kind, Run};
use crate::model::{Catalog, CommitId};
use crate::plan;
use crate::provision::GrantKey;
use crate::provision::backend::{account_for, target_of};
use crate::provision::desired;
use crate::provision::ops::{Hold, Op, Planned};
use crate::provision::quarantine::Quarantine;
use crate::verify::{Checked, Status, Verified};

/// The label of the security team's issues.
pub const SECURITY_LABEL: &str = "portcullis-security";
/// The label of the owners' after-the-fact reviews of emergency grants.
pub const EMERGENCY_LABEL: &str = "portcullis-emergency-review";

/// An issue apply owes: to the security team, to an app's owners. Found again by its marker,
/// so it is opened exactly once however often it is retried.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Obligation {
    pub label: String,
    pub marker: String,
    pub title: String,
    pub body: String,
}

/// A grant change of the range the quarantine holds back, with the commit and why.
#[derive(Clone, Debug)]
pub struct HeldBack {
    pub commit: CommitId,
    pub change: plan::Change,
    pub reason: String,
}

/// Carries `quarantine` through the range's commits in order: an unverified change is held
/// back, a change approved again with the role's full approvals releases it. Returns what this
/// range held back and a line for each release.
pub fn quarantine_range(
    quarantine: &mut Quarantine,
    checked: &[Checked],
) -> (Vec<HeldBack>, Vec<String>) {
    let mut held = Vec::new();
    let mut released = Vec::new();
    let mut hold = |sha: &CommitId, ch: &plan::Change, reason: String, q: &mut Quarantine| {
        if q.unverified(sha, ch, &reason) {
            held.push(HeldBack {
                commit: sha.clone(),
                change: ch.clone(),
                reason,
            });
        }
    };
    for c in checked {
        let sha = &c.commit.sha;
        match &c.status {
            Status::Irrelevant => {}
            Status::Verified(v) => {
                for ch in &c.commit.changes {
                    let spot = (ch.file.clone(), ch.role.clone());
                    if let Some(why) = v.uncovered.get(&spot) {
                        hold(
                            sha,
                            ch,
                            format!("changed {} and {why}", ch.file),
                            quarantine,
                        );
                    } else if quarantine.verified(ch, v.full.get(&spot).copied().unwrap_or(false)) {
                        released.push(format!(
                            "released: {} (approved again in #{})",
                            ch.key(),
                            v.pr
                        ));
                    }
                }
            }
            Status::Unverified { reason, .. } => {
                for ch in &c.commit.changes {
                    hold(sha, ch, reason.clone(), quarantine);
                }
            }
        }
    }
    (held, released)
}

/// Who the security team's issues mention: `security_team` from the settings.
pub fn security_team(catalog: &Catalog) -> String {
    catalog
        .settings
        .as_ref()
        .map(|s| s.security_team.clone())
        .unwrap_or_default()
}

/// Why nothing is provisioned from rules that carry unverified changes, naming the commits.
pub fn untrusted_rules(head: &CommitId, unverified: &[CommitId]) -> String {
    let by: Vec<&str> = unverified.iter().map(CommitId::short).collect();
    format!(
        "the rules at {} (policies/, schemas/, a command program, the workflows or the tool's own sources) carry changes without verified approvals (commit {}): nothing is provisioned from them\nhint: revert those changes through a pull request the security team approves",
        head.short(),
        if by.is_empty() {
            "unknown".to_owned()
        } else {
            by.join(", ")
        }
    )
}

/// Drops from the quarantine the grants the head no longer holds: removed, nothing is held.
pub fn settle(quarantine: &mut Quarantine, catalog: &Catalog) {
    let at_head: HashSet<GrantKey> = catalog
        .grant_files
        .iter()
        .flat_map(|f| {
            f.grants.iter().map(|g| GrantKey {
                app: f.app.value.clone(),
                person: f.person.value.clone(),
                role: g.role.value.clone(),
            })
        })
        .collect();
    quarantine.settle(|k| at_head.contains(k));
}

/// Grants the files hold that cannot be provisioned at all (no account, an unknown person or
/// role): findings, not failures of a system (`check` reports them too).
pub fn unprovisionable(want: &desired::Desired) -> Vec<&desired::Excluded> {
    want.excluded
        .iter()
        .filter(|e| {
            matches!(
                e.why,
                desired::Left::NoAccount(_)
                    | desired::Left::UnknownPerson
                    | desired::Left::UnknownRole
            )
        })
        .collect()
}

/// Whether a guard held back operations for a reason other than a target that could not be
/// listed (a system down is a failure to retry, not a refusal).
pub fn holds(planned: &Planned) -> bool {
    planned
        .held
        .iter()
        .any(|h| !matches!(h.hold, Hold::ListingFailed(_)))
}

/// Which commit of the range each grant's operation is owed to: the last one that changed it.
pub struct Attribution(HashMap<GrantKey, CommitId>);

impl Attribution {
    pub fn of_range(checked: &[Checked]) -> Attribution {
        let mut by_key = HashMap::new();
        for c in checked {
            for ch in &c.commit.changes {
                by_key.insert(ch.key(), c.commit.sha.clone());
            }
        }
        Attribution(by_key)
    }

    /// The commit `op` is owed to; `None` for the run's own work (drift, expiry, a removal
    /// of an account no grant names).
    pub fn commit_of(&self, op: &Op) -> Option<CommitId> {
        if op.role.is_empty() {
            return None;
        }
        self.0
            .get(&GrantKey {
                app: op.target.app.clone(),
                person: op.person.clone(),
                role: op.role.clone(),
            })
            .cloned()
    }
}

/// The security team's issues for the range: one per commit that must be reported.
pub fn security_obligations(
    checked: &[Checked],
    held: &[HeldBack],
    security: &str,
    branch: &str,
) -> Vec<Obligation> {
    let mut out = Vec::new();
    for c in checked {
        let Some((reason, pr)) = alarm(c) else {
            continue;
        };
        let held: Vec<&HeldBack> = held.iter().filter(|h| h.commit == c.commit.sha).collect();
        let (title, body) = security_issue(c, &reason, pr, &held, security, branch);
        out.push(Obligation {
            label: SECURITY_LABEL.into(),
            marker: format!("<!-- portcullis:unverified commit={} -->", c.commit.sha),
            title,
            body,
        });
    }
    out
}

/// The security team's issue for each grant held back because, with what is provisioned, it
/// would complete a forbidden pair.
pub fn sod_obligations(sod_held: &[desired::Excluded], security: &str) -> Vec<Obligation> {
    sod_held
        .iter()
        .filter_map(|e| {
            let desired::Left::SodConflict { rule, .. } = &e.why else {
                return None;
            };
            Some(Obligation {
                label: SECURITY_LABEL.into(),
                marker: format!("<!-- portcullis:sod-held grant={} rule={rule} -->", e.key),
                title: format!("Held back: {} would complete SoD conflict {rule}", e.key),
                body: format!(
                    "{security} `apply` did not provision **{}** (`{}`): {}.\n\nEach pull request was approved on its own, but together they give one person a pair of roles `policies/sod.yaml` forbids. Remove one of the grants, or record a justified exception for `{rule}` in `policies/sod.yaml` through a pull request the security team approves; the grant is held back until then.\n",
                    e.key, e.file, e.why
                ),
            })
        })
        .collect()
}

/// The owners' after-the-fact review of each emergency grant, once per grant and commit.
pub fn emergency_obligations(checked: &[Checked], catalog: &Catalog) -> Vec<Obligation> {
    let mut out = Vec::new();
    for c in checked {
        let Status::Verified(v) = &c.status else {
            continue;
        };
        for e in &v.emergency {
            let owners = catalog
                .apps
                .get(&e.app)
                .map(|a| a.owners.join(", "))
                .unwrap_or_default();
            let (title, body) = emergency_issue(e, v, &owners);
            out.push(Obligation {
                label: EMERGENCY_LABEL.into(),
                marker: format!(
                    "<!-- portcullis:emergency-review commit={} app={} person={} role={} -->",
                    c.commit.sha, e.app, e.person, e.role
                ),
                title,
                body,
            });
        }
    }
    out
}

/// The evidence of the run: a record per commit verified or quarantined in the range (with the
/// actions owed to it, done or skipped), then the run's own record for the rest. `actions`
/// are the run's results, each with the commit it is owed to.
pub fn drafts(
    checked: &[Checked],
    actions: Vec<(Option<CommitId>, Action)>,
    held: &[HeldBack],
    catalog: &Catalog,
    run: &Run,
    head: &CommitId,
) -> Vec<Draft> {
    let mut by_commit: HashMap<Option<CommitId>, Vec<Action>> = HashMap::new();
    for (commit, action) in actions {
        by_commit.entry(commit).or_default().push(action);
    }
    let mut drafts = Vec::new();
    for c in checked {
        let mut actions = by_commit
            .remove(&Some(c.commit.sha.clone()))
            .unwrap_or_default();
        for h in held.iter().filter(|h| h.commit == c.commit.sha) {
            actions.push(skipped(catalog, &h.change, &h.reason, &run.started_at));
        }
        let draft = |pr, pr_head, approvals, override_, bypass| Draft {
            kind: Kind::Apply,
            commit: c.commit.sha.clone(),
            pr,
            pr_head,
            approvals,
            override_,
            bypass,
            run: run.clone(),
            actions,
        };
        match &c.status {
            Status::Irrelevant => {}
            Status::Verified(v) => drafts.push(draft(
                Some(v.pr),
                Some(v.pr_head.clone()),
                v.approvals.clone(),
                v.override_.clone(),
                (!v.uncovered.is_empty()).then(|| {
                    format!(
                        "part of the change is not what pull request #{} had approved",
                        v.pr
                    )
                }),
            )),
            Status::Unverified {
                reason,
                pr,
                pr_head,
            } => drafts.push(draft(
                *pr,
                pr_head.clone(),
                Vec::new(),
                None,
                Some(reason.clone()),
            )),
        }
    }
    let own: Vec<Action> = by_commit.into_values().flatten().collect();
    if !own.is_empty() {
        drafts.push(Draft {
            kind: Kind::Run,
            commit: head.clone(),
            pr: None,
            pr_head: None,
            approvals: Vec::new(),
            override_: None,
            bypass: None,
            run: run.clone(),
            actions: own,
        });
    }
    drafts
}

fn short(sha: &str) -> &str {
    crate::model::short_commit(sha)
}

/// Why a commit must be reported to the security team, and its pull request.
pub fn alarm(c: &Checked) -> Option<(String, Option<u64>)> {
    match &c.status {
        Status::Irrelevant => None,
        Status::Unverified { reason, pr, .. } => Some((reason.clone(), *pr)),
        Status::Verified(v) if !v.uncovered.is_empty() => Some((
            format!(
                "part of what landed is not what pull request #{} had approved",
                v.pr
            ),
            Some(v.pr),
        )),
        Status::Verified(_) => None,
    }
}

/// One line per commit the range verified or could not.
pub fn report_commits(out: &mut String, checked: &[Checked]) {
    for c in checked {
        let sha = short(&c.commit.sha);
        match &c.status {
            Status::Irrelevant => {}
            Status::Verified(v) => {
                let who: Vec<String> = v
                    .approvals
                    .iter()
                    .map(|a| format!("{} @{}", a.as_, a.reviewer))
                    .collect();
                let how = match &v.override_ {
                    Some(o) => format!("override by @{}: {}", o.by, o.reason),
                    None if who.is_empty() => "auto-approved or removals only".to_owned(),
                    None => who.join(", "),
                };
                let _ = writeln!(out, "verified: {sha} is #{} ({how})", v.pr);
                for (spot, why) in &v.uncovered {
                    let _ = writeln!(out, "unverified: {sha}: `{}` in {} {why}", spot.1, spot.0);
                }
            }
            Status::Unverified { reason, .. } => {
                let _ = writeln!(out, "unverified: {sha} {reason}");
            }
        }
    }
}

fn skipped(catalog: &Catalog, ch: &plan::Change, reason: &str, at: &str) -> Action {
    let app = catalog.apps.get(&ch.app);
    let target = app
        .and_then(|a| a.roles.get(&ch.role))
        .map(|r| target_of(r).to_owned())
        .unwrap_or_else(|| ch.role.to_string());
    let account = app.and_then(|a| {
        catalog
            .people
            .get(&ch.person)
            .and_then(|p| account_for(a, p).ok())
    });
    Action {
        op: "add".into(),
        app: ch.app.clone(),
        person: ch.person.clone(),
        role: ch.role.clone(),
        target,
        account,
        result: evidence::Outcome::Skipped,
        error: Some(format!("not provisioned: {reason}")),
        at: at.to_owned(),
    }
}

fn security_issue(
    c: &Checked,
    reason: &str,
    pr: Option<u64>,
    held: &[&HeldBack],
    security: &str,
    branch: &str,
) -> (String, String) {
    let sha = &c.commit.sha;
    let title = format!("Unverified change on {branch}: commit {}", short(sha));
    let mut body = format!(
        "**A change reached {} without verified approvals.** portcullis did not provision what it grants.\n\n- commit: {}\n- why: {}\n",
        code(branch),
        code(sha),
        escape(reason)
    );
    if let Some(n) = pr {
        let _ = writeln!(body, "- pull request: #{n}");
    }
    if c.commit.rules_changed {
        body.push_str("- it changes the rules provisioning reads (`policies/`, `schemas/`, a command program, the workflows or the tool's own sources): nothing is provisioned until they are back to approved content\n");
    }
    if !held.is_empty() {
        body.push_str("\nHeld back:\n\n");
        for HeldBack { change: ch, .. } in held {
            let _ = writeln!(
                body,
                "- {} {} for {} ({})",
                ch.op.as_str(),
                code(&format!("{}:{}", ch.app, ch.role)),
                code(&ch.person),
                code(&ch.file)
            );
        }
    }
    let _ = write!(
        body,
        "\nRevocations in the commit are provisioned: removing access is the safe side.\n\nTo release a held-back grant, remove it and request it again through a pull request, or approve a pull request that changes it with the role's full approvals.\n\n{security}\n"
    );
    (title, body)
}

fn emergency_issue(e: &plan::Change, v: &Verified, owners: &str) -> (String, String) {
    let title = format!(
        "Review emergency access: {}:{} for {}",
        e.app, e.role, e.person
    );
    let after = e.after.as_ref();
    let approvers: Vec<String> = v
        .approvals
        .iter()
        .map(|a| format!("{} ({})", code(&a.reviewer), escape(&a.as_)))
        .collect();
    let body = format!(
        "**Emergency access was granted and provisioned.** The app's owners review it now, after the fact.\n\n- grant: {} for {} ({})\n- expires: {}\n- justification: {}\n- approved in #{} by {}\n\n{owners}: confirm it was needed, or revoke it with a pull request that removes the grant. Close this issue once reviewed.\n",
        code(&format!("{}:{}", e.app, e.role)),
        code(&e.person),
        code(&e.file),
        code(after.and_then(|a| a.expires.as_deref()).unwrap_or("none")),
        escape(after.and_then(|a| a.justification.as_deref()).unwrap_or("")),
        v.pr,
        if approvers.is_empty() {
            "nobody recorded".to_owned()
        } else {
            approvers.join(", ")
        }
    );
    (title, body)
}
