//! `audit`: who held what and when, and who approved it; with `--evidence`, the pack for a
//! period. Reads the history and notes (history.rs) and builds the pack (evidence.rs).

use anyhow::{Result, anyhow};
use chrono::{DateTime, Utc};
use clap::ValueEnum;

use super::{Common, Exit};

mod history;

pub(crate) use history::{Sources, read_sources};
use history::{github_client, known_ids, warn_if_unasked};
use portcullis_core::audit::Filter;
use portcullis_core::audit::lookup::Lookuper;
use portcullis_core::audit::render::{self, Format as RenderFormat};
use portcullis_core::ports::github::GitHub;
use portcullis_git::port::GitRepo;

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

pub fn run(args: Args) -> Result<Exit> {
    let root = args.common.root()?;
    let as_of = args.common.as_of()?;
    let repo = portcullis_git::git::open(&root)?;
    let sla = portcullis_core::model::time::parse_duration(&args.sla)
        .map_err(|e| anyhow!("invalid `--sla`: {e}\nhint: write `--sla 24h` or `--sla 3d`"))?;
    let filter = Filter {
        person: args.person.as_deref().map(Into::into),
        app: args.app.as_deref().map(Into::into),
        role: args.role.as_deref().map(Into::into),
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
    let mut timer = crate::cli::timer::Timer::from_env();
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
        (text, Exit::Success)
    } else if args.evidence {
        let since = since.unwrap_or(until);
        let pack = portcullis_core::audit::period::evidence(
            &port,
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
            Exit::Findings
        } else {
            Exit::Success
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
        (text, Exit::Success)
    };
    timer.lap("query and render");
    warn_if_unasked(&lookups, args.offline);
    super::out::stdout(&out)?;
    let mut timer = crate::cli::timer::Timer::from_env();
    // Freeing millions of small allocations one by one only delays the exit.
    std::mem::forget(index);
    std::mem::forget(notes);
    timer.lap("exit");
    Ok(outcome)
}
