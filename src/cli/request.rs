use std::io::IsTerminal;

use anyhow::{Result, anyhow, bail};

use super::TextOrJson as Format;
use super::{Common, Exit, use_color, write_file};
use portcullis_core::diag::render::text::{self, Style};
use portcullis_core::edit::Upsert;
use portcullis_core::model::PEOPLE_FILE;
use portcullis_core::request::{Prepared, RequestArgs, RequestError, pr, prepare};
use portcullis_core::snapshot::Snapshot;

/// Request access: write the grant into `access/<app>/<person>.yaml` (creating the file, adding
/// the role, or renewing it), checked by the same rules as `check`
#[derive(clap::Args)]
#[command(after_help = "Examples:
  portcullis request --app payments --role viewer --for 30d \\
      --justification \"Reconcile the Q4 refunds (FIN-1042)\"
  portcullis request --app payments --role viewer --for 30d --open-pr \\
      --justification \"Reconcile the Q4 refunds (FIN-1042)\"
  portcullis request --app aws-prod --role admin --emergency --for 4h \\
      --justification \"INC-311: restore the cluster\"")]
pub struct Args {
    #[command(flatten)]
    common: Common,
    /// The app, by its id in `policies/apps/` (e.g. `payments`)
    #[arg(long, required_unless_present = "from_issue")]
    app: Option<String>,
    /// The role in the app (e.g. `viewer`); an unknown role lists the app's roles
    #[arg(long, required_unless_present = "from_issue")]
    role: Option<String>,
    /// Why the access is needed, in a sentence an approver can judge
    #[arg(long, required_unless_present = "from_issue")]
    justification: Option<String>,
    /// Who gets the access, by id in `policies/people.yaml` [default: the person whose `email`
    /// is `git config user.email`]
    #[arg(long, value_name = "ID")]
    person: Option<String>,
    /// The last day (`YYYY-MM-DD`, valid through its end, UTC) or an RFC 3339 timestamp
    /// [default: the role's maximum duration]
    #[arg(long, value_name = "DATE|TIMESTAMP", conflicts_with = "duration")]
    expires: Option<String>,
    /// How long, counted from now (or `--as-of`): `12h`, `30d`, `2w`
    #[arg(long = "for", id = "duration", value_name = "DURATION")]
    duration: Option<String>,
    /// A ticket or issue behind the request (e.g. `FIN-1042`)
    #[arg(long)]
    ticket: Option<String>,
    /// Break-glass access during an incident: at most `emergency_max_duration`, one approval
    /// from the emergency approvers, reviewed by the owners afterwards
    #[arg(long)]
    emergency: bool,
    /// Push a branch and open the pull request through the GitHub API (GITHUB_TOKEN,
    /// GITHUB_REPOSITORY, GITHUB_API_URL) instead of writing the file here
    #[arg(long)]
    open_pr: bool,
    /// Turn issue N, opened with the access-request form, into a pull request, and answer on
    /// the issue with its link or with why it could not
    #[arg(long, value_name = "N", conflicts_with_all = ["app", "role", "justification", "person", "expires", "duration", "ticket", "emergency"])]
    from_issue: Option<u64>,
    /// The branch the pull request targets
    #[arg(long, value_name = "BRANCH", default_value = "main")]
    base_branch: String,
    /// How the result is printed on stdout: `text` for people, `json` for scripts
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

pub fn run(args: Args) -> Result<Exit> {
    let root = args.common.root()?;
    let as_of = args.common.as_of()?;
    let snapshot = portcullis_git::worktree::read(&root)?;
    if let Some(issue) = args.from_issue {
        let client = portcullis_github::Client::from_env()?;
        let answered = pr::from_issue(&client, &snapshot, issue, &args.base_branch, as_of)?;
        return Ok(match answered {
            Ok(pull) => {
                println!("{}", pull.html_url);
                Exit::Success
            }
            Err(reason) => {
                eprintln!("error: {reason}");
                Exit::Findings
            }
        });
    }
    let person = match args.person {
        Some(p) => p,
        None => person_from_git(&root, &snapshot)?,
    };
    let request = RequestArgs {
        app: args.app.unwrap_or_default(),
        role: args.role.unwrap_or_default(),
        justification: args.justification.unwrap_or_default(),
        person,
        expires: args.expires,
        duration: args.duration,
        ticket: args.ticket,
        emergency: args.emergency,
    };
    let style = Style {
        color: use_color(std::io::stdout().is_terminal()),
    };
    match prepare(&snapshot, &request, as_of) {
        Ok(prepared) if args.open_pr => {
            let client = portcullis_github::Client::from_env()?;
            let pull = pr::open(&client, &snapshot, &prepared, &args.base_branch, None)?;
            eprintln!(
                "opened #{} from branch `{}`: {}",
                pull.number, prepared.branch, prepared.title
            );
            println!("{}", pull.html_url);
            Ok(Exit::Success)
        }
        Ok(prepared) => {
            write_file(&root.join(&prepared.path), &prepared.content)?;
            match args.format {
                Format::Text => print!("{}", report(&prepared, &snapshot, style)),
                Format::Json => println!("{:#}", prepared.to_json()),
            }
            Ok(Exit::Success)
        }
        Err(RequestError::Refused { message, hint }) => {
            eprintln!("error: {message}\nhint: {hint}");
            Ok(Exit::Findings)
        }
        Err(RequestError::Rejected {
            path,
            content,
            diagnostics,
        }) => {
            let mut edited = snapshot.clone();
            edited.insert_bytes(&path, content.as_bytes());
            eprint!("{}", text::findings(&diagnostics, &edited, style));
            eprintln!(
                "error: the request was not written: `portcullis check` would reject `{path}`\nhint: fix what is reported above (in the request, or in the file first), then request again"
            );
            Ok(Exit::Findings)
        }
    }
}

/// What was written and what happens next: the command's result, for stdout.
fn report(p: &Prepared, snapshot: &Snapshot, style: Style) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let did = match p.upsert {
        Upsert::Created => "created",
        Upsert::Added => "added to",
        Upsert::Renewed => "renewed in",
    };
    let _ = writeln!(out, "{did} `{}`: {}", p.path, p.title);
    let _ = match &p.expiry_note {
        Some(note) => writeln!(out, "  expires: {} ({note})", p.expires),
        None => writeln!(out, "  expires: {}", p.expires),
    };
    let approvals: Vec<String> = p
        .approvals
        .iter()
        .map(|a| format!("{} ({})", a.kind, a.who))
        .collect();
    let _ = writeln!(out, "  approvals needed: {}", approvals.join("; "));
    if !p.diagnostics.is_empty() {
        let mut edited = snapshot.clone();
        edited.insert_bytes(&p.path, p.content.as_bytes());
        out.push_str(&text::findings(&p.diagnostics, &edited, style));
    }
    let _ = writeln!(
        out,
        "  next: commit it on a branch `{}` and open a pull request titled \"{}\"",
        p.branch, p.title
    );
    out
}

/// The person whose `email` in the people directory is the repository's `user.email`.
fn person_from_git(root: &std::path::Path, snapshot: &Snapshot) -> Result<String> {
    let Some(email) = portcullis_git::git::user_email(root) else {
        bail!(
            "cannot tell who is asking: `git config user.email` is not set\nhint: pass `--person ID` with your id from `{PEOPLE_FILE}`"
        );
    };
    let loaded = portcullis_core::check::load(snapshot);
    let mut found = loaded
        .catalog
        .people
        .values()
        .filter(|p| p.email.eq_ignore_ascii_case(&email));
    match (found.next(), found.next()) {
        (Some(p), None) => Ok(p.id.value.to_string()),
        (None, _) => Err(anyhow!(
            "nobody in `{PEOPLE_FILE}` has the email `{email}` (from `git config user.email`)\nhint: pass `--person ID` with your id from `{PEOPLE_FILE}`"
        )),
        (Some(_), Some(_)) => Err(anyhow!(
            "more than one person in `{PEOPLE_FILE}` has the email `{email}`\nhint: pass `--person ID`"
        )),
    }
}
