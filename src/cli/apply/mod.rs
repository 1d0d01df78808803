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
use std::ops::ControlFlow;

use anyhow::{Result, anyhow};
use git2::Oid;

use super::applier::{self, Refusal, now};
use super::{Common, Outcome};

mod head;
mod open;
mod record;
use portcullis_core::apply as gate;
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

pub(super) fn refuse(r: Refusal) -> Result<Outcome> {
    eprintln!("refused: {}", r.0);
    Ok(Outcome::Findings)
}

/// A step of the run: what it found, or the outcome the run stops with.
type Step<T> = Result<ControlFlow<Outcome, T>>;

/// Stops the run with a refusal.
fn stop<T>(r: Refusal) -> Step<T> {
    refuse(r).map(ControlFlow::Break)
}

/// The value of a step, or the run's end.
macro_rules! step {
    ($e:expr) => {
        match $e? {
            ControlFlow::Continue(v) => v,
            ControlFlow::Break(outcome) => return Ok(outcome),
        }
    };
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
    let mut out = String::new();
    let client = Client::from_env()?;
    let opened = step!(open::open(&args, &root, &repo, &client, &mut out));
    timer.lap("apply: lock, evidence chain, journal");
    let head::Head {
        head_sha,
        applied,
        range,
        loaded,
    } = step!(head::find(&args, &repo, &client, &opened));
    timer.lap("apply: head and load");
    let open::Opened {
        mut chain,
        state,
        adopted,
        tip_at_open,
        in_doubt,
        ..
    } = opened;
    let branch = &args.branch;
    let catalog = &loaded.catalog;
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
    let ran = record::Ran {
        repo: &repo,
        client: &client,
        catalog,
        state: &state,
        adopted,
        tip_at_open,
        started: &started,
        head_sha: &head_sha,
        checked: &checked,
        held_back: &held_back,
        attribution: &attribution,
        planned: &planned,
        work: &work,
        me: me.as_deref(),
        alarms,
    };
    record::provision_and_record(
        ran,
        &mut chain,
        quarantine,
        owed,
        backends,
        &mut out,
        &mut failures,
        &mut timer,
    )?;
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
