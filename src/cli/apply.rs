//! `apply`: makes every target match the head of the default branch (SPEC section 7).
//!
//! In order: take the lock; verify the evidence chain; record a killed run's journal; find the
//! branch's head from the API and require it to descend from the last applied commit; verify
//! every commit since (pull request, approvals on the merged head with the base's policies,
//! merged content = approved content); refuse when the rules at head carry an unverified
//! change; carry the quarantine forward; compute the desired state; list every target; plan
//! with the guards; open the security team's issues; run the operations, journaling each;
//! open the owners' emergency reviews; record evidence and the new state.

use std::collections::HashMap;
use std::fmt::Write as _;

use anyhow::{Result, anyhow};
use git2::Oid;

use super::applier::{self, Chain, Refusal, now};
use super::{Common, Outcome};
use portcullis_core::diag::render::markdown::escape;
use portcullis_core::evidence::{self, Action, Draft, Kind};
use portcullis_core::plan;
use portcullis_core::provision::ops::{self, Hold, Op};
use portcullis_core::provision::{GrantKey, desired, execute};
use portcullis_core::verify::{self, Checked, Status};
use portcullis_git::ledger;
use portcullis_git::port::GitRepo;
use portcullis_github::Client;

/// Make every target match the default branch's head: verified grants only, revocations first
#[derive(clap::Args)]
#[command(after_help = "Examples:
  portcullis apply --dry-run               what would be provisioned, changing nothing
  portcullis apply                         provision the default branch's head
  portcullis apply --trust-from v1-import  first run: trust the history up to that commit")]
pub struct Args {
    #[command(flatten)]
    common: Common,
    /// Show what would change, and change nothing (no target, issue, note or state is written)
    #[arg(long)]
    dry_run: bool,
    /// Let a target lose more than 25% of its members (and more than 2) in this run
    #[arg(long)]
    allow_mass_removal: bool,
    /// The default branch
    #[arg(long, value_name = "NAME", default_value = "main")]
    branch: String,
    /// First run only: the commit up to which the branch is trusted as reviewed; later runs
    /// verify every commit since the last applied one
    #[arg(long, value_name = "REV")]
    trust_from: Option<String>,
    /// One-time migration: accept the unsigned state and evidence written before signing was
    /// adopted, and sign from this run on (logged in the run's output and the state's history)
    #[arg(long)]
    adopt_unsigned_state: bool,
}

/// The commit status that anchors the evidence chain's tip outside the repository's refs:
/// only portcullis's own account can set it in its name, and its creator is checked.
pub const EVIDENCE_CONTEXT: &str = "portcullis/evidence";

const SECURITY_LABEL: &str = "portcullis-security";
const EMERGENCY_LABEL: &str = "portcullis-emergency-review";

/// Refuses the run and tells the security team once (by the issue's marker).
fn refuse_with_alarm(
    client: &Client,
    bot_login: Option<&str>,
    marker: &str,
    title: &str,
    body: &str,
    refusal: String,
    dry_run: bool,
) -> Result<Outcome> {
    if !dry_run {
        let mut issues = applier::Issues::new(client, SECURITY_LABEL, bot_login.map(str::to_owned));
        if let Err(e) = issues.once(marker, title, &format!("{marker}\n{body}")) {
            eprintln!("error: cannot open the security team's issue: {e:#}");
        }
    }
    refuse(Refusal(refusal))
}

/// The notes ref's id (or `none`): one rewritten chain is one incident.
fn notes_id(repo: &git2::Repository) -> String {
    repo.refname_to_id(evidence::NOTES_REF)
        .map_or_else(|_| "none".to_owned(), |id| id.to_string())
}

/// The newest of the last 50 first-parent commits from `head` that carries portcullis's own
/// evidence anchor.
fn earlier_anchor(
    client: &Client,
    repo: &git2::Repository,
    head: Oid,
    me: Option<&str>,
) -> Result<Option<String>> {
    let Some(me) = me else {
        return Ok(None);
    };
    let mut walk = repo.revwalk()?;
    walk.push(head)?;
    walk.simplify_first_parent()?;
    for id in walk.take(50) {
        let sha = id?.to_string();
        let ours = client
            .statuses(&sha)?
            .iter()
            .any(|s| s.context == EVIDENCE_CONTEXT && s.is_by(me));
        if ours {
            return Ok(Some(sha));
        }
    }
    Ok(None)
}

pub(super) fn refuse(r: Refusal) -> Result<Outcome> {
    eprintln!("refused: {}", r.0);
    Ok(Outcome::Findings)
}

fn short(sha: &str) -> &str {
    portcullis_core::model::short_id(sha, 10)
}

/// A name as an inline code span: inert in markdown, shown as written.
fn code(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c == '`' || c.is_control() { ' ' } else { c })
        .collect();
    format!("`{clean}`")
}

fn key_of(c: &plan::Change) -> GrantKey {
    GrantKey {
        app: c.app.clone(),
        person: c.person.clone(),
        role: c.role.clone(),
    }
}

pub fn run(args: Args) -> Result<Outcome> {
    let mut timer = super::check::Timer::from_env();
    let root = args.common.root()?;
    let as_of = args.common.as_of()?;
    let repo = portcullis_git::git::open(&root)?;
    let started = now();
    let _lock = if args.dry_run {
        None
    } else {
        match ledger::lock(&repo, &started) {
            Ok(l) => Some(l),
            Err(e) => {
                return match e.downcast::<ledger::Locked>() {
                    Ok(locked) => refuse(Refusal(locked.to_string())),
                    Err(e) => Err(e),
                };
            }
        }
    };
    // The key only the apply environment holds: without it nothing read from the repository's
    // refs can be told from what any writer could have pushed there.
    let signer = match std::env::var("PORTCULLIS_SIGNING_KEY") {
        Ok(text) if !text.trim().is_empty() => Some(portcullis_core::signing::Signer::parse(&text).map_err(|e| {
            anyhow!("`PORTCULLIS_SIGNING_KEY`: {e}\nhint: `portcullis keygen` prints a key pair; put the secret in the apply environment's secrets")
        })?),
        _ if args.dry_run => None,
        _ => {
            return refuse(Refusal(
                "`PORTCULLIS_SIGNING_KEY` is not set: apply signs its state and evidence with it and trusts no state it cannot verify\nhint: `portcullis keygen` prints a key pair: the secret goes in the apply environment's secrets, the public key in `evidence_public_key` in policies/settings.yaml".into(),
            ));
        }
    };
    let mut chain = match Chain::open(&repo)? {
        Ok(c) => c,
        Err(r) => return refuse(r),
    };
    let mut out = String::new();
    let client = Client::from_env()?;
    // Who portcullis is, before the head is loaded: the checkout's settings (an App's
    // installation token cannot ask `/user`).
    let early_bot = applier::bot_login_at(&root);
    let stored = ledger::read_stored_state(&repo)?;
    let tip_at_open = chain.tip().map_or(0, |t| t.seq);
    let mut state = ledger::State::default();
    let mut adopted = false;
    if let Some(s) = stored {
        let verdict = match (&signer, &s.signature) {
            (None, _) => {
                let _ = writeln!(
                    out,
                    "warning: dry run without `PORTCULLIS_SIGNING_KEY`: the state's signature is not checked"
                );
                None
            }
            (Some(k), Some(_)) if s.signed_by(&k.verifier()) => None,
            (Some(_), None) if args.adopt_unsigned_state => {
                adopted = true;
                let _ = writeln!(
                    out,
                    "migrated: the unsigned state (applied {}) and the {tip_at_open} evidence record(s) before it are adopted as they are; from record {} on every record and state is signed",
                    s.state.applied.as_deref().map_or("nothing", short),
                    tip_at_open + 1
                );
                None
            }
            (Some(_), None) => Some((
                "unsigned",
                "carries no signature: it was written before signing was adopted, or by someone without the apply environment's key",
            )),
            (Some(_), Some(_)) => Some((
                "forged",
                "carries a signature the apply environment's key did not make: it was written by someone else",
            )),
        };
        if let Some((kind, why)) = verdict {
            return refuse_with_alarm(
                &client,
                early_bot.as_deref(),
                &format!("<!-- portcullis:state {kind} ref={} -->", s.commit),
                &format!("The applier's state is {kind}: provisioning stopped"),
                &format!(
                    "`{}` {why}. A state that cannot be verified could move the last applied commit past unreviewed changes or release quarantined grants, so `apply` provisions nothing until it is restored.\n\nRestore the ref from a trusted copy (`git push --force origin <good-state>:{}`), or, for a repository whose records predate signing, run `portcullis apply --adopt-unsigned-state` once after checking the state by hand.\n",
                    ledger::STATE_REF,
                    ledger::STATE_REF
                ),
                format!(
                    "the applier's state `{}` {why}\nhint: restore it from a trusted copy; a repository whose state predates signing is migrated once with `--adopt-unsigned-state`",
                    ledger::STATE_REF
                ),
                args.dry_run,
            );
        }
        state = s.state;
    }
    if adopted {
        state.signed_from = Some(tip_at_open + 1);
        state.evidence = chain.tip().map(|t| ledger::Tip {
            seq: t.seq,
            hash: t.hash.clone(),
        });
    }
    if let Some(k) = &signer
        && (state.applied.is_some() || state.evidence.is_some())
    {
        let breaks = chain.verify_trust(&k.verifier(), &state);
        if !breaks.is_empty() {
            let mut detail = String::new();
            for b in breaks.iter().take(10) {
                let _ = write!(detail, "\n  {}: {}", b.kind.as_str(), b.message);
            }
            return refuse_with_alarm(
                &client,
                early_bot.as_deref(),
                &format!(
                    "<!-- portcullis:evidence untrusted notes={} -->",
                    notes_id(&repo)
                ),
                "The evidence chain does not match the signed state: provisioning stopped",
                &format!(
                    "The evidence notes under `{}` are not what the applier signed:\n```{detail}\n```\nRestore the notes ref from a trusted copy; nothing is provisioned or recorded until then.\n",
                    evidence::NOTES_REF
                ),
                format!(
                    "the evidence notes under `{}` are not what the applier signed:{detail}\nhint: restore the notes ref from a trusted copy and tell the security team",
                    evidence::NOTES_REF
                ),
                args.dry_run,
            );
        }
    }
    chain.signer = signer;
    let (in_doubt, resumed) = applier::recover(&repo, &mut chain, !args.dry_run)?;
    if let Some(note) = &resumed {
        let _ = writeln!(out, "resumed: {note}");
    }
    timer.lap("apply: lock, evidence chain, journal");
    let branch = &args.branch;
    let head_sha = client.branch_sha(branch)?.ok_or_else(|| {
        anyhow!("the branch `{branch}` does not exist on GitHub\nhint: pass `--branch NAME`")
    })?;
    let head = Oid::from_str(&head_sha)?;
    repo.find_commit(head).map_err(|_| {
        anyhow!(
            "the head {head_sha} of `{branch}` is not in the local repository\nhint: fetch it first: `git fetch origin {branch}`"
        )
    })?;
    let applied = match (&state.applied, &args.trust_from) {
        (Some(a), None) => Oid::from_str(a)?,
        (None, Some(rev)) => portcullis_git::git::commit_at(&repo, rev)?.id(),
        (Some(a), Some(_)) => {
            return refuse(Refusal(format!(
                "`--trust-from` is for the first run only: this repository is applied up to {a}"
            )));
        }
        (None, None) => {
            return refuse(Refusal(
                "nothing was applied from this repository yet, so there is no commit to verify from\nhint: pick the commit whose access is known to be in place and run `portcullis apply --trust-from <commit>` once".into(),
            ));
        }
    };
    if !ledger::descends(&repo, head, applied)? {
        return refuse(Refusal(format!(
            "the head {head} of `{branch}` does not descend from the last applied commit {applied}: the branch's history was rewritten, and nothing is applied from it\nhint: restore the branch's history, and tell the security team"
        )));
    }
    let range = ledger::first_parent_range(&repo, head, applied)?;
    let loaded = match applier::load_at(&repo, &head_sha)? {
        Ok(l) => l,
        Err(r) => return refuse(r),
    };
    let catalog = &loaded.catalog;
    timer.lap("apply: head and load");
    if let (Some(k), Some(named)) = (
        chain.signer.as_ref(),
        catalog
            .settings
            .as_ref()
            .and_then(|s| s.evidence_public_key.as_deref()),
    ) && k.verifier().to_text() != named.trim()
    {
        return refuse(Refusal(format!(
            "`PORTCULLIS_SIGNING_KEY` is not the key `evidence_public_key` names in policies/settings.yaml ({named}): records signed with it could not be verified\nhint: put the secret that belongs to `{named}` in the apply environment, or change `evidence_public_key` through a pull request the security team approves"
        )));
    }
    if state.applied.is_none() && !args.dry_run {
        // A first run. If an earlier run anchored evidence on this branch, the state and the
        // notes were deleted: starting a new chain would hide that.
        let me = portcullis_core::approval::pull::own_login(&client, catalog);
        if me.is_none() {
            return refuse(Refusal(
                "portcullis does not know its own GitHub account, so it cannot tell whether an earlier run anchored evidence here (a deleted state must not start a new chain)\nhint: set `bot_login` in policies/settings.yaml to the GitHub App's login (`<app-slug>[bot]`)".into(),
            ));
        }
        if let Some(found) = earlier_anchor(&client, &repo, head, me.as_deref())? {
            return refuse_with_alarm(
                &client,
                early_bot.as_deref(),
                &format!("<!-- portcullis:state deleted anchor={found} -->"),
                "The applier's state was deleted: provisioning stopped",
                &format!(
                    "Commit {found} carries portcullis's own `{EVIDENCE_CONTEXT}` status, so `apply` ran here before, yet `{}` is gone. Restore it and the notes ref from a trusted copy.\n",
                    ledger::STATE_REF
                ),
                format!(
                    "commit {} carries portcullis's own `{EVIDENCE_CONTEXT}` status, yet there is no state: it was deleted, and a new evidence chain is not started over it\nhint: restore `{}` and `{}` from a trusted copy",
                    short(&found),
                    ledger::STATE_REF,
                    evidence::NOTES_REF
                ),
                false,
            );
        }
    }
    let rules = verify::rule_paths(catalog);
    let port = GitRepo(&repo);
    let ids: Vec<String> = range.iter().map(Oid::to_string).collect();
    let checked = verify::check(&client, &port, &ids, &rules, branch, as_of)?;
    timer.lap("apply: verify commits");
    let _ = writeln!(
        out,
        "apply: `{branch}` at {} (last applied {}, {})",
        short(&head_sha),
        short(&applied.to_string()),
        portcullis_core::diag::render::text::counted(range.len(), "new commit")
    );

    let (rules_ok, unverified_rules) =
        verify::rules_trusted(&port, &applied.to_string(), &head_sha, &checked, &rules)?;

    // Quarantine: carried from earlier runs, then this range's commits in order.
    let mut quarantine = state.quarantine.clone();
    let mut held_back: Vec<(String, plan::Change, String)> = Vec::new();
    for c in &checked {
        let sha = &c.commit.sha;
        match &c.status {
            Status::Irrelevant => {}
            Status::Verified(v) => {
                for ch in &c.commit.changes {
                    let spot = (ch.file.clone(), ch.role.clone());
                    if let Some(why) = v.uncovered.get(&spot) {
                        let reason = format!("changed {} and {why}", ch.file);
                        if quarantine.unverified(sha, ch, &reason) {
                            held_back.push((sha.clone(), ch.clone(), reason));
                        }
                    } else if quarantine.verified(ch, v.full.get(&spot).copied().unwrap_or(false)) {
                        let _ = writeln!(
                            out,
                            "released: {} (approved again in #{})",
                            key_of(ch),
                            v.pr
                        );
                    }
                }
            }
            Status::Unverified { reason, .. } => {
                for ch in &c.commit.changes {
                    if quarantine.unverified(sha, ch, reason) {
                        held_back.push((sha.clone(), ch.clone(), reason.clone()));
                    }
                }
            }
        }
    }
    let at_head: std::collections::HashSet<GrantKey> = catalog
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
    report_commits(&mut out, &checked);

    let mut failures: Vec<String> = Vec::new();
    let security = catalog
        .settings
        .as_ref()
        .map(|s| s.security_team.clone())
        .unwrap_or_default();
    let me = portcullis_core::approval::pull::own_login(&client, catalog);
    // What this run owes people, besides what earlier runs could not do (carried in the state).
    let mut owed: Vec<ledger::Obligation> = Vec::new();
    for c in &checked {
        let Some((reason, pr)) = alarm(c) else {
            continue;
        };
        let held: Vec<&(String, plan::Change, String)> =
            held_back.iter().filter(|h| h.0 == c.commit.sha).collect();
        let (title, body) = security_issue(c, &reason, pr, &held, &security, branch);
        owed.push(ledger::Obligation {
            label: SECURITY_LABEL.into(),
            marker: format!("<!-- portcullis:unverified commit={} -->", c.commit.sha),
            title,
            body,
        });
    }
    if !rules_ok {
        if !args.dry_run {
            // The state does not move: the next run raises the same alarms again.
            let mut all = state.obligations.clone();
            all.extend(owed);
            applier::fulfil(&client, me.as_deref(), all, &mut out, &mut failures);
        }
        print!("{out}");
        let by: Vec<&str> = unverified_rules.iter().map(|s| short(s)).collect();
        return refuse(Refusal(format!(
            "the rules at {} (policies/, schemas/, a command program, the workflows or the tool's own sources) carry changes without verified approvals (commit {}): nothing is provisioned from them\nhint: revert those changes through a pull request the security team approves",
            short(&head_sha),
            if by.is_empty() {
                "unknown".to_owned()
            } else {
                by.join(", ")
            }
        )));
    }

    let mut want = desired::desired(catalog, &loaded.unreadable, &quarantine, as_of);
    let mut backends = applier::backends(catalog, &root);
    timer.lap("apply: desired state");
    let observed = execute::observe(&want, &mut backends, |_| true);
    timer.lap("apply: connect and list targets");
    let sod_held = desired::hold_back_sod(&mut want, catalog, &observed, as_of);
    for e in &sod_held {
        let _ = writeln!(out, "held back: {} ({}): {}", e.key, e.file, e.why);
    }
    let (unmanaged, people) = applier::app_indexes(catalog);
    let planned = ops::plan(
        &want,
        &observed,
        &ops::Options {
            unmanaged: &unmanaged,
            people: &people,
            allow_mass_removal: args.allow_mass_removal,
            in_doubt: &in_doubt,
        },
    );
    let mut attributed: HashMap<GrantKey, String> = HashMap::new();
    for c in &checked {
        for ch in &c.commit.changes {
            attributed.insert(key_of(ch), c.commit.sha.clone());
        }
    }
    let attribute = |op: &Op| -> Option<String> {
        if op.role.is_empty() {
            return None;
        }
        attributed
            .get(&GrantKey {
                app: op.target.app.clone(),
                person: op.person.clone(),
                role: op.role.clone(),
            })
            .cloned()
    };
    let work: Vec<(Op, Option<String>)> = planned
        .ops
        .iter()
        .map(|o| (o.clone(), attribute(o)))
        .collect();
    for q in &quarantine.entries {
        let _ = writeln!(
            out,
            "quarantined: {} (commit {}: {})",
            q.key,
            short(&q.commit),
            q.reason
        );
    }
    report_held(&mut out, &planned.held, &mut failures);
    // Grants the files hold that cannot be provisioned at all: findings, not failures of a
    // system (`check` reports them too).
    let unprovisionable: Vec<&desired::Excluded> = want
        .excluded
        .iter()
        .filter(|e| {
            matches!(
                e.why,
                desired::Left::NoAccount(_)
                    | desired::Left::UnknownPerson
                    | desired::Left::UnknownRole
            )
        })
        .collect();
    for e in &unprovisionable {
        let _ = writeln!(out, "not provisioned: {} ({}): {}", e.key, e.file, e.why);
    }
    let alarms = checked.iter().filter(|c| alarm(c).is_some()).count();
    let refused = alarms > 0
        || !sod_held.is_empty()
        || !unprovisionable.is_empty()
        || planned
            .held
            .iter()
            .any(|h| !matches!(h.hold, Hold::ListingFailed(_)));

    if args.dry_run {
        for (op, _) in &work {
            let _ = writeln!(out, "would {}: {}", describe(op), op.why);
        }
        let _ = writeln!(
            out,
            "dry run: {} planned, nothing was written",
            portcullis_core::diag::render::text::counted(work.len(), "change")
        );
        print!("{out}");
        return finish(failures, refused);
    }

    for e in &sod_held {
        let desired::Left::SodConflict { rule, .. } = &e.why else {
            continue;
        };
        owed.push(ledger::Obligation {
            label: SECURITY_LABEL.into(),
            marker: format!("<!-- portcullis:sod-held grant={} rule={rule} -->", e.key),
            title: format!("Held back: {} would complete SoD conflict {rule}", e.key),
            body: format!(
                "{security} `apply` did not provision **{}** (`{}`): {}.\n\nEach pull request was approved on its own, but together they give one person a pair of roles `policies/sod.yaml` forbids. Remove one of the grants, or record a justified exception for `{rule}` in `policies/sod.yaml` through a pull request the security team approves; the grant is held back until then.\n",
                e.key, e.file, e.why
            ),
        });
    }
    // The owners' after-the-fact review of emergency grants, once per grant and commit.
    for c in &checked {
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
            owed.push(ledger::Obligation {
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
    let mut all = state.obligations.clone();
    all.extend(owed);
    let open = applier::fulfil(&client, me.as_deref(), all, &mut out, &mut failures);
    let mut run = evidence::Run {
        id: applier::run_id(&started),
        started_at: started.clone(),
        finished_at: None,
    };
    timer.lap("apply: plan and security issues");
    let done = applier::execute_journaled(&repo, &run, &head_sha, &work, &mut backends)?;
    timer.lap(&format!("apply: {} write(s), journaled", work.len()));
    drop(backends);
    let mut counts = [0usize; 5];
    for d in &done {
        let a = &d.action;
        counts[a.result as usize] += 1;
        let detail = a
            .error
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{} {}: {}{detail}",
            a.result.as_str(),
            describe(&d.op),
            d.op.why,
        );
        if a.result == evidence::Outcome::Failed {
            failures.push(format!("{} failed", describe(&d.op)));
        }
    }

    // Evidence: a record per commit verified or quarantined in this range, then the run's own.
    run.finished_at = Some(now());
    let mut by_commit: HashMap<Option<String>, Vec<Action>> = HashMap::new();
    for d in &done {
        by_commit
            .entry(d.commit.clone())
            .or_default()
            .push(d.action.clone());
    }
    for h in &planned.held {
        for op in &h.ops {
            by_commit.entry(attribute(op)).or_default().push(Action {
                op: op.kind.as_str().to_owned(),
                app: op.target.app.clone(),
                person: op.person.clone(),
                role: op.role.clone(),
                target: op.target.target.clone(),
                account: Some(op.account.clone()),
                result: evidence::Outcome::Skipped,
                error: Some(h.hold.to_string()),
                at: run.finished_at.clone().unwrap_or_default(),
            });
        }
    }
    let mut drafts = Vec::new();
    for c in &checked {
        let mut actions = by_commit
            .remove(&Some(c.commit.sha.clone()))
            .unwrap_or_default();
        for (_, ch, reason) in held_back.iter().filter(|h| h.0 == c.commit.sha) {
            actions.push(skipped(catalog, ch, reason, &started));
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
            commit: head_sha.clone(),
            pr: None,
            pr_head: None,
            approvals: Vec::new(),
            override_: None,
            bypass: None,
            run: run.clone(),
            actions: own,
        });
    }
    let records = drafts.len();
    chain.append(&repo, drafts)?;
    let new_state = ledger::State {
        version: 1,
        applied: Some(head_sha.clone()),
        quarantine,
        evidence: chain.tip().map(|t| ledger::Tip {
            seq: t.seq,
            hash: t.hash.clone(),
        }),
        signed_from: state.signed_from.or(Some(tip_at_open + 1)),
        obligations: open.clone(),
    };
    if !open.is_empty() {
        let titles: Vec<&str> = open.iter().map(|o| o.title.as_str()).collect();
        failures.push(format!(
            "{} still open, kept in the state and retried by every run until done: {}",
            portcullis_core::diag::render::text::counted(open.len(), "obligation"),
            titles.join("; ")
        ));
    }
    if new_state != state || adopted {
        let message = if adopted {
            format!("apply {head_sha} (adopted the unsigned state; signed from here on)")
        } else {
            format!("apply {head_sha}")
        };
        ledger::write_state(&repo, &new_state, chain.signer.as_ref(), &message)?;
        if let Some(t) = &new_state.evidence {
            let anchor = format!(
                "evidence record {} {}",
                t.seq,
                portcullis_core::model::short_id(&t.hash, 16)
            );
            if let Err(e) = client.create_status(&head_sha, "success", EVIDENCE_CONTEXT, &anchor) {
                failures.push(format!(
                    "cannot anchor the evidence tip on {head_sha}: {e:#}"
                ));
            }
        }
    }
    ledger::remove_journal(&repo)?;
    timer.lap("apply: reviews, evidence and state");
    let _ = writeln!(
        out,
        "summary: {} changed, {} unchanged, {} pending, {} failed, {} held back; {} quarantined; {}; applied up to {}",
        counts[evidence::Outcome::Changed as usize],
        counts[evidence::Outcome::Unchanged as usize],
        counts[evidence::Outcome::Pending as usize],
        counts[evidence::Outcome::Failed as usize],
        planned.held.iter().map(|h| h.ops.len()).sum::<usize>(),
        portcullis_core::diag::render::text::counted(alarms, "commit"),
        portcullis_core::diag::render::text::counted(records, "evidence record"),
        short(&head_sha)
    );
    super::out::stdout(&out)?;
    finish(failures, refused)
}

/// Held targets, one line per reason: a system that is down holds all its targets at once.
pub(super) fn report_held(out: &mut String, held: &[ops::Held], failures: &mut Vec<String>) {
    let mut by_reason: Vec<(String, Vec<String>)> = Vec::new();
    for h in held {
        let reason = h.hold.to_string();
        match by_reason.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, targets)) => targets.push(h.target.to_string()),
            None => by_reason.push((reason, vec![h.target.to_string()])),
        }
        if matches!(h.hold, Hold::ListingFailed(_)) {
            failures.push(format!("`{}` could not be listed", h.target));
        }
    }
    for (reason, targets) in by_reason {
        let _ = writeln!(out, "held: {}: {reason}", targets.join(", "));
    }
}

/// Exit 2 when a target or GitHub failed, 1 when something was refused or held back.
pub(super) fn finish(failures: Vec<String>, refused: bool) -> Result<Outcome> {
    if !failures.is_empty() {
        let shown: Vec<&str> = failures.iter().take(5).map(String::as_str).collect();
        let more = if failures.len() > 5 {
            format!(" and {} more", failures.len() - 5)
        } else {
            String::new()
        };
        return Err(anyhow!(
            "{} (details above): {}{more}\nhint: everything else was done and recorded; the next run retries what failed",
            portcullis_core::diag::render::text::counted(failures.len(), "failure"),
            shown.join("; ")
        ));
    }
    Ok(if refused {
        Outcome::Findings
    } else {
        Outcome::Success
    })
}

pub(super) fn describe(op: &Op) -> String {
    format!("{} `{}` in `{}`", op.kind.as_str(), op.account, op.target)
}

/// Why a commit must be reported to the security team, and its pull request.
fn alarm(c: &Checked) -> Option<(String, Option<u64>)> {
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

fn report_commits(out: &mut String, checked: &[Checked]) {
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

fn skipped(
    catalog: &portcullis_core::model::Catalog,
    ch: &plan::Change,
    reason: &str,
    at: &str,
) -> Action {
    let app = catalog.apps.get(&ch.app);
    let target = app
        .and_then(|a| a.roles.get(&ch.role))
        .map(|r| portcullis_provisioners::target_of(r).to_owned())
        .unwrap_or_else(|| ch.role.clone());
    let account = app.and_then(|a| {
        catalog
            .people
            .get(&ch.person)
            .and_then(|p| portcullis_provisioners::account_for(a, p).ok())
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
    held: &[&(String, plan::Change, String)],
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
        for (_, ch, _) in held {
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

fn emergency_issue(e: &plan::Change, v: &verify::Verified, owners: &str) -> (String, String) {
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
