//! `apply`: makes every target match the head of the default branch (SPEC section 7).
//!
//! In order: take the lock; verify the evidence chain; record a killed run's journal; find the
//! branch's head from the API and require it to descend from the last applied commit; verify
//! every commit since (pull request, approvals on the merged head with the base's policies,
//! merged content = approved content); refuse when the rules at head carry an unverified
//! change; carry the quarantine forward; compute the desired state; list every target; plan
//! with the guards; open the security team's issues; run the operations, journaling each;
//! open the owners' emergency reviews; record evidence and the new state.

use std::fmt::Write as _;

use anyhow::{Result, anyhow};
use git2::Oid;

use super::applier::{self, Chain, Refusal, now};
use super::{Common, Outcome};
use portcullis_core::apply as gate;
use portcullis_core::evidence::{self, Action};
use portcullis_core::provision::ops::{self, Hold, Op};
use portcullis_core::provision::{GrantKey, desired, execute};
use portcullis_core::verify;
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
        let mut issues =
            applier::Issues::new(client, gate::SECURITY_LABEL, bot_login.map(str::to_owned));
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
    let (held_back, released) = gate::quarantine_range(&mut quarantine, &checked);
    for line in released {
        let _ = writeln!(out, "{line}");
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
    gate::report_commits(&mut out, &checked);

    let mut failures: Vec<String> = Vec::new();
    let security = catalog
        .settings
        .as_ref()
        .map(|s| s.security_team.clone())
        .unwrap_or_default();
    let me = portcullis_core::approval::pull::own_login(&client, catalog);
    // What this run owes people, besides what earlier runs could not do (carried in the state).
    let mut owed = gate::security_obligations(&checked, &held_back, &security, branch);
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
    let attribution = gate::Attribution::of_range(&checked);
    let work: Vec<(Op, Option<String>)> = planned
        .ops
        .iter()
        .map(|o| (o.clone(), attribution.commit_of(o)))
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
    let alarms = checked.iter().filter(|c| gate::alarm(c).is_some()).count();
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

    owed.extend(gate::sod_obligations(&sod_held, &security));
    owed.extend(gate::emergency_obligations(&checked, catalog));
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
    let mut actions: Vec<(Option<String>, Action)> = done
        .iter()
        .map(|d| (d.commit.clone(), d.action.clone()))
        .collect();
    for h in &planned.held {
        for op in &h.ops {
            let action = Action {
                op: op.kind.as_str().to_owned(),
                app: op.target.app.clone(),
                person: op.person.clone(),
                role: op.role.clone(),
                target: op.target.target.clone(),
                account: Some(op.account.clone()),
                result: evidence::Outcome::Skipped,
                error: Some(h.hold.to_string()),
                at: run.finished_at.clone().unwrap_or_default(),
            };
            actions.push((attribution.commit_of(op), action));
        }
    }
    let drafts = gate::drafts(&checked, actions, &held_back, catalog, &run, &head_sha);
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
