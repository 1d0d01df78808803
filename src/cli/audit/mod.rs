use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result, anyhow};
use chrono::{DateTime, Duration, Utc};
use clap::ValueEnum;
use git2::Repository;

use super::{Common, Outcome};
use portcullis_core::audit::lookup::Lookuper;
use portcullis_core::audit::notes::NoteIndex;
use portcullis_core::audit::pack::{self, Pack};
use portcullis_core::audit::render::{self, Format as RenderFormat};
use portcullis_core::audit::{Filter, Index};
use portcullis_core::model::Catalog;
use portcullis_core::ports::github::GitHub;
use portcullis_git::port::GitRepo;
use portcullis_git::revision::Revision;
use portcullis_github::Client;

/// Who held what and when, and who approved it, from git history and the evidence notes
///
/// With `--at`, everyone holding access at that instant; otherwise the timeline of grants,
/// changes, expiries and revocations (bounded by `--since`/`--until`). With `--evidence`, the
/// evidence pack for the period (SOC 2 CC6.1–CC6.3, ISO 27001 A.5.15–A.5.18), exit 1 when it
/// holds exceptions (late revocations, bypassed approvals, a broken evidence chain).
#[derive(clap::Args)]
#[command(after_help = "Examples:
  portcullis audit --person aisha                      every change to aisha's access
  portcullis audit --app payments --since 2026-01-01   one app's history this year
  portcullis audit --at 2026-06-30 -f csv              who held what at quarter end
  portcullis audit --evidence --since 2026-01-01 -f json   the evidence pack for an auditor")]
pub struct Args {
    #[command(flatten)]
    common: Common,
    /// Only this person's grants
    #[arg(long, value_name = "P")]
    person: Option<String>,
    /// Only grants in this app
    #[arg(long, value_name = "A")]
    app: Option<String>,
    /// Only grants of this role
    #[arg(long, value_name = "R")]
    role: Option<String>,
    /// Everyone who held access at this instant (a date means 00:00:00Z)
    #[arg(long, value_name = "DATE|TIMESTAMP", conflicts_with_all = ["since", "until", "evidence"])]
    at: Option<String>,
    /// Start of the period
    #[arg(long, value_name = "DATE|TIMESTAMP")]
    since: Option<String>,
    /// End of the period [default: `--as-of`, or now]
    #[arg(long, value_name = "DATE|TIMESTAMP")]
    until: Option<String>,
    /// The evidence pack for the period (needs `--since`)
    #[arg(long, requires = "since")]
    evidence: bool,
    /// The longest acceptable time from when access had to end to its removal
    #[arg(long, value_name = "DURATION", default_value = "24h")]
    sla: String,
    /// The branch to read
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    rev: String,
    /// Never ask the GitHub API: approvers the notes do not hold are `unknown`
    #[arg(long)]
    offline: bool,
    /// Output format
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
    Csv,
    Markdown,
}

fn instant(flag: &str, text: &str) -> Result<DateTime<Utc>> {
    portcullis_core::model::time::parse_as_of(text).map_err(|e| {
        anyhow!("invalid `--{flag}`: {e}\nhint: write `--{flag} 2026-11-22` or `--{flag} 2026-11-22T09:00:00Z`")
    })
}

/// What `audit` and `report` read: the branch's history, indexed, and the evidence notes.
pub(crate) struct Sources {
    pub index: Index,
    pub notes: NoteIndex,
}

pub(crate) fn read_sources(repo: &Repository, rev: &str) -> Result<Sources> {
    let mut timer = super::timer::Timer::from_env();
    let history = portcullis_git::history::read(repo, rev)
        .with_context(|| format!("cannot read the history of `{rev}`"))?;
    timer.lap("history");
    let index = Index::build(history);
    timer.lap("index");
    let stored = portcullis_git::history::read_notes(repo)?;
    timer.lap("notes read");
    let (records, mut breaks) = portcullis_core::evidence::read_all(&stored);
    breaks.extend(portcullis_core::evidence::verify_records(&records));
    // An auditor verifies the signatures with the public key alone: every record from the first
    // signed one on must carry the key's signature.
    if let Some(key) = public_key(repo, rev)? {
        // Where signing began and the tip, from the applier's state when its signature holds;
        // without a verifiable state, from the first signed record.
        match portcullis_git::ledger::read_stored_state(repo)? {
            Some(s) if s.signed_by(&key) => {
                breaks.extend(portcullis_core::evidence::verify_against_anchor(
                    &records,
                    &key,
                    s.state.signed_from.unwrap_or(1),
                    s.state.evidence.as_ref().map(|t| (t.seq, t.hash.as_str())),
                ));
            }
            other => {
                if other.is_some() {
                    breaks.push(portcullis_core::evidence::ChainBreak {
                        kind: portcullis_core::evidence::BreakKind::Forged,
                        seq: None,
                        object: None,
                        message: format!(
                            "the applier's state `{}` is not signed by `evidence_public_key`",
                            portcullis_git::ledger::STATE_REF
                        ),
                    });
                }
                let first_signed = records
                    .iter()
                    .filter(|r| r.note.sig.is_some())
                    .map(|r| r.note.seq)
                    .min();
                breaks.extend(portcullis_core::evidence::verify_signatures(
                    &records,
                    &key,
                    first_signed.unwrap_or(u64::MAX),
                ));
            }
        }
    }
    timer.lap("notes verified");
    Ok(Sources {
        index,
        notes: NoteIndex::new(records, breaks),
    })
}

/// `evidence_public_key` from the settings at `rev`, when set.
fn public_key(repo: &Repository, rev: &str) -> Result<Option<portcullis_core::signing::Verifier>> {
    let revision = Revision::at(repo, rev)?;
    let mut snapshot = portcullis_core::snapshot::Snapshot::default();
    if let Some(e) = revision.read(portcullis_core::model::SETTINGS_FILE)? {
        snapshot
            .files
            .insert(portcullis_core::model::SETTINGS_FILE.to_owned(), e);
    }
    let catalog = portcullis_core::load::load(&snapshot).0;
    let Some(text) = catalog.settings.and_then(|s| s.evidence_public_key) else {
        return Ok(None);
    };
    portcullis_core::signing::Verifier::parse(&text)
        .map(Some)
        .map_err(|e| anyhow!("`evidence_public_key` in policies/settings.yaml: {e}"))
}

pub fn run(args: Args) -> Result<Outcome> {
    let root = args.common.root()?;
    let as_of = args.common.as_of()?;
    let repo = portcullis_git::git::open(&root)?;
    let sla = portcullis_core::model::time::parse_duration(&args.sla)
        .map_err(|e| anyhow!("invalid `--sla`: {e}\nhint: write `--sla 24h` or `--sla 3d`"))?;
    let filter = Filter {
        person: args.person.clone(),
        app: args.app.clone(),
        role: args.role.clone(),
    };
    let format = match args.format {
        Format::Text => RenderFormat::Text,
        Format::Json => RenderFormat::Json,
        Format::Csv => RenderFormat::Csv,
        Format::Markdown => RenderFormat::Markdown,
    };
    let since = args
        .since
        .as_deref()
        .map(|s| instant("since", s))
        .transpose()?;
    // A date-only `--until` names a day the period includes: it ends with that day.
    let until = match &args.until {
        Some(u) if portcullis_core::model::time::parse_date(u).is_ok() => {
            let d = portcullis_core::model::time::parse_date(u).expect("checked");
            portcullis_core::model::time::end_of_day(d) - chrono::Duration::seconds(1)
        }
        Some(u) => instant("until", u)?,
        None => as_of,
    };
    if since.is_some_and(|s| s > until) {
        return Err(anyhow!(
            "`--since` is after `--until`\nhint: the period runs from `--since` to `--until` (default: now)"
        ));
    }
    let Sources { index, notes } = read_sources(&repo, &args.rev)?;
    known_ids(&repo, &index, &args.rev, &filter)?;
    let mut timer = super::timer::Timer::from_env();
    if !args.evidence && !notes.breaks.is_empty() {
        eprintln!(
            "warning: the evidence notes' hash chain is broken ({} breaks)\nhint: `portcullis audit --evidence --since DATE` names each one",
            notes.breaks.len()
        );
    }
    let client = github_client(args.offline)?;
    let port = GitRepo(&repo);
    let mut lookups = Lookuper::new(&port, client.as_ref().map(|c| c as &dyn GitHub));

    let (out, outcome) = if let Some(at) = &args.at {
        let at = instant("at", at)?;
        let list = index.holders_at(at, &filter);
        let commits: Vec<usize> = list.iter().map(|h| h.commit).collect();
        lookups.fill(&index, &notes, &commits)?;
        let text = render::holders(&index, &notes, &lookups.found, at, &list, format);
        (text, Outcome::Success)
    } else if args.evidence {
        let since = since.unwrap_or(until);
        let pack = evidence(
            &repo,
            &index,
            &notes,
            &mut lookups,
            since,
            until,
            as_of,
            sla,
            &filter,
        )?;
        let outcome = if pack.exceptions() > 0 {
            Outcome::Findings
        } else {
            Outcome::Success
        };
        (render::pack(&pack, format), outcome)
    } else {
        let events = index.timeline(since, until, &filter);
        let commits: Vec<usize> = events.iter().filter_map(|e| e.commit).collect();
        lookups.fill(&index, &notes, &commits)?;
        let text = render::timeline(
            &index,
            &notes,
            &lookups.found,
            since,
            until,
            &events,
            format,
        );
        (text, Outcome::Success)
    };
    timer.lap("query and render");
    warn_if_unasked(&lookups, args.offline);
    super::out::stdout(&out)?;
    let mut timer = super::timer::Timer::from_env();
    // Freeing millions of small allocations one by one only delays the exit.
    std::mem::forget(index);
    std::mem::forget(notes);
    timer.lap("exit");
    Ok(outcome)
}

/// A `--person` or `--app` that names nobody and nothing is a mistake, not "0 grants": it must
/// be in the directory or catalog at `rev`, or have held a grant in the history.
fn known_ids(repo: &Repository, index: &Index, rev: &str, filter: &Filter) -> Result<()> {
    if filter.person.is_none() && filter.app.is_none() {
        return Ok(());
    }
    let revision = Revision::at(repo, rev)?;
    let snapshot = revision.read_dir("policies")?;
    let catalog = portcullis_core::load::load(&snapshot).0;
    if let Some(p) = &filter.person
        && !catalog.people.contains_key(p)
        && !index.keys.iter().any(|k| &k.person == p)
    {
        return Err(anyhow!(
            "no person `{p}` in policies/people.yaml or in the history of `{rev}`\nhint: {}",
            portcullis_core::diag::suggest::hint(
                p,
                catalog.people.keys(),
                "`--person` takes a person id from people.yaml (not a GitHub login)"
            )
        ));
    }
    if let Some(a) = &filter.app
        && !catalog.apps.contains_key(a)
        && !index.keys.iter().any(|k| &k.app == a)
    {
        return Err(anyhow!(
            "no app `{a}` in policies/apps/ or in the history of `{rev}`\nhint: {}",
            portcullis_core::diag::suggest::hint(
                a,
                catalog.apps.keys(),
                "`--app` takes an app id, the name of its file in policies/apps/"
            )
        ));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn evidence(
    repo: &Repository,
    index: &Index,
    notes: &NoteIndex,
    lookups: &mut Lookuper,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
    sla: Duration,
    filter: &Filter,
) -> Result<Pack> {
    let (catalog, findings, _) = branch_at(repo, index, until)?;
    let leavers = leaver_times(repo, index, &catalog, since, until)?;

    // Every commit the pack may name: changes in the period, and removals.
    let mut commits: BTreeSet<usize> = index
        .commits
        .iter()
        .enumerate()
        .filter(|(_, c)| c.touches_access && c.time >= since && c.time <= until)
        .map(|(i, _)| i)
        .collect();
    commits.extend(
        index
            .timeline(Some(since), until, filter)
            .iter()
            .filter_map(|e| e.commit),
    );
    let commits: Vec<usize> = commits.into_iter().collect();
    lookups.fill(index, notes, &commits)?;
    Ok(pack::build(&pack::Input {
        index,
        notes,
        lookups: &lookups.found,
        since,
        until,
        now,
        sla,
        catalog: &catalog,
        findings: &findings,
        leavers: &leavers,
        filter,
    }))
}

/// The branch as it stood at `t`: its policies read from git, its grant files as the history
/// walk parsed them (not parsed again), and the findings of `check`'s rules on them.
pub(crate) fn branch_at(
    repo: &Repository,
    index: &Index,
    t: DateTime<Utc>,
) -> Result<(Catalog, Vec<portcullis_core::diag::Diagnostic>, String)> {
    let Some(at) = index.commit_at(t) else {
        return Err(anyhow!(
            "the branch has no commit before {}\nhint: choose a later time",
            portcullis_core::audit::stamp(t)
        ));
    };
    let sha = index.commits[at].sha.clone();
    let rev = Revision::at(repo, &sha)?;
    let mut snapshot = rev.read_dir("policies")?;
    if let Some(e) = rev.read(portcullis_core::model::CODEOWNERS_FILE)? {
        snapshot
            .files
            .insert(portcullis_core::model::CODEOWNERS_FILE.to_owned(), e);
    }
    let mut loaded = portcullis_core::check::load(&snapshot);
    loaded.catalog.grant_files = index
        .files_at(t)
        .into_iter()
        .map(|(path, set)| set.to_file(path))
        .collect();
    let (catalog, report) =
        portcullis_core::check::finish(loaded, &snapshot, t, &index.last_touched_at(t));
    Ok((catalog, report.diagnostics, sha))
}

/// When each leaver at `until` was marked as one: the oldest version of the people directory,
/// walking back from `until`, that already said so. Only leavers whose access could matter to
/// the period are looked up.
fn leaver_times(
    repo: &Repository,
    index: &Index,
    catalog: &Catalog,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<BTreeMap<String, DateTime<Utc>>> {
    let mut wanted: BTreeSet<&str> = BTreeSet::new();
    for span in &index.spans {
        let person = index.keys[span.key].person.as_str();
        let relevant = span.start <= until && span.end.is_none_or(|(t, _)| t >= since);
        if relevant && catalog.people.get(person).is_some_and(|p| p.leaver) {
            wanted.insert(person);
        }
    }
    let mut out = BTreeMap::new();
    if wanted.is_empty() {
        return Ok(out);
    }
    let versions: Vec<usize> = index
        .commits
        .iter()
        .enumerate()
        .filter(|(_, c)| c.people_changed && c.time <= until)
        .map(|(i, _)| i)
        .rev()
        .collect();
    let mut newer: Option<DateTime<Utc>> = None;
    for ci in versions {
        let c = &index.commits[ci];
        let rev = Revision::at(repo, &c.sha)?;
        let mut snap = portcullis_core::snapshot::Snapshot::default();
        if let Some(e) = rev.read(portcullis_core::model::PEOPLE_FILE)? {
            snap.files
                .insert(portcullis_core::model::PEOPLE_FILE.to_owned(), e);
        }
        let (people, _) = portcullis_core::load::load(&snap);
        let resolved: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|p| !people.people.get(*p).is_some_and(|x| x.leaver))
            .collect();
        for p in resolved {
            wanted.remove(p);
            if let Some(t) = newer {
                out.insert(p.to_owned(), t);
            }
        }
        if wanted.is_empty() {
            break;
        }
        newer = Some(c.time);
    }
    // Leavers in every version: since the oldest one.
    if let Some(t) = newer {
        for p in wanted {
            out.insert(p.to_owned(), t);
        }
    }
    Ok(out)
}

fn github_client(offline: bool) -> Result<Option<Client>> {
    if offline || std::env::var_os("GITHUB_REPOSITORY").is_none() {
        return Ok(None);
    }
    Client::from_env().map(Some)
}

/// The note for commits the notes do not cover when GitHub was not asked.
fn warn_if_unasked(lookups: &Lookuper, offline: bool) {
    if lookups.unasked > 0 && !offline {
        eprintln!(
            "note: {} commits have no evidence note and GitHub was not asked: their approvers are `unknown`\nhint: set `GITHUB_REPOSITORY` and `GITHUB_TOKEN` (and `GITHUB_API_URL` for GitHub Enterprise) to look them up",
            lookups.unasked
        );
    }
}
