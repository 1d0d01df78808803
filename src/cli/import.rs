//! `import --app A [--open-pr]`: today's members of every target of A, written as grant files
//! (see `portcullis_core::lifecycle::import`), checked by the same rules as `check` before anything is
//! written; with `--open-pr`, proposed as one pull request for the app's owners.

use portcullis_core::model::AppId;
use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result, anyhow, bail};

use super::bot_pr::{self, Proposal};
use super::{Common, Exit};
use portcullis_core::lifecycle::import;

/// Write a grant file for every current member of an app's targets who maps to a person, so
/// that a first `apply` removes nobody
#[derive(clap::Args)]
#[command(after_help = "Examples:
  portcullis import --app billing-db             write a grant file for each member found
  portcullis import --app github --open-pr       propose them as one pull request")]
pub struct Args {
    #[command(flatten)]
    common: Common,
    /// The app, by its id in `policies/apps/`
    #[arg(long, value_name = "A")]
    app: String,
    /// Propose the grant files as one pull request through the GitHub API (GITHUB_TOKEN,
    /// GITHUB_REPOSITORY, GITHUB_API_URL) instead of writing them here
    #[arg(long)]
    open_pr: bool,
    /// The branch the pull request targets
    #[arg(long, value_name = "BRANCH", default_value = "main")]
    base_branch: String,
}

pub fn run(args: Args) -> Result<Exit> {
    let root = args.common.root()?;
    let as_of = args.common.as_of()?;
    let snapshot = portcullis_git::worktree::read(&root)?;
    let catalog = portcullis_core::check::load(&snapshot).catalog;
    let Some(app) = catalog.apps.get(args.app.as_str()) else {
        let known: Vec<&str> = catalog.apps.keys().map(AppId::as_str).collect();
        bail!(
            "there is no app `{}` in the catalog\nhint: {}",
            args.app,
            portcullis_core::diag::suggest::hint(
                &args.app,
                &known,
                &format!("use one of: {}", known.join(", "))
            )
        );
    };
    let kind = app.provisioner.kind();
    if kind == "manual" {
        bail!(
            "`{}` is provisioned by hand (`manual`): there is no system to list its members from\nhint: write its grant files by hand, or with `portcullis request`",
            args.app
        );
    }
    let mut backend =
        portcullis_provisioners::connect_in(app, catalog.settings.as_ref(), &root, &|k| {
            std::env::var(k).ok()
        })?;
    let targets: BTreeSet<&str> = app
        .roles
        .values()
        .map(portcullis_provisioners::target_of)
        .collect();
    let mut listed = BTreeMap::new();
    for target in targets {
        // A partial listing would import part of the truth: any failure stops the import.
        let members = backend.list(target).with_context(|| {
            format!(
                "cannot list `{target}` of `{}`; nothing was written",
                args.app
            )
        })?;
        listed.insert(target.to_owned(), members);
    }
    drop(backend);
    let imported = import::import(&snapshot, &catalog, app, kind, &listed, as_of)
        .map_err(|e| anyhow!("{e}"))?;

    for (target, roles) in &imported.shared {
        eprintln!(
            "note: `{target}` serves the roles {}: its members are imported as `{}`; change a grant's role by hand where another is meant",
            roles.join(", "),
            roles[0]
        );
    }
    for w in &imported.written {
        println!(
            "imported: `{}:{}` of `{}` (member of `{}`){}",
            args.app,
            w.role,
            w.person,
            w.target,
            w.expires
                .as_deref()
                .map(|e| format!(", expires {e}"))
                .unwrap_or_default()
        );
    }
    for (target, account, person) in &imported.kept {
        println!("kept: `{account}` in `{target}` is `{person}`, who already holds it");
    }
    for l in &imported.refused {
        println!("not imported: `{}` in `{}`: {}", l.account, l.target, l.why);
    }
    for l in &imported.unmapped {
        println!("nobody: `{}` in `{}` {}", l.account, l.target, l.why);
    }

    let errors = portcullis_core::lifecycle::new_errors(&snapshot, &imported.edits, as_of);
    if !errors.is_empty() {
        for d in &errors {
            eprintln!("{}:{}: {}", d.file, d.pos.line, d.message);
        }
        bail!(
            "the imported grants would not pass `check`; nothing was written\nhint: fix what is named above (the directory or the app's policy), then import again"
        );
    }

    if imported.edits.is_empty() {
        eprintln!("nothing to import into `{}`", args.app);
    } else if args.open_pr {
        let client = portcullis_github::Client::from_env()?;
        let base_sha = bot_pr::base_sha(&client, &args.base_branch)?;
        let title = format!(
            "Import {} of `{}` from {kind}",
            portcullis_core::diag::render::text::counted(imported.written.len(), "grant"),
            args.app
        );
        let body = import::pr_body(&args.app, kind, &imported);
        let branch = format!("portcullis/import/{}", args.app);
        let proposed = bot_pr::propose(
            &client,
            &args.base_branch,
            &base_sha,
            &Proposal {
                branch: &branch,
                title: &title,
                body: &body,
                message: &format!("{title}\n\nProposed by `portcullis import`."),
                edits: &imported.edits,
                owners: &app.owners,
            },
        )?;
        bot_pr::report(&proposed, &title);
    } else {
        super::people::write_edits(&root, &imported.edits)?;
        eprintln!(
            "{} written into {}; review them, then commit them through a pull request",
            portcullis_core::diag::render::text::counted(imported.written.len(), "grant"),
            portcullis_core::diag::render::text::counted(imported.edits.len(), "file")
        );
    }

    if imported.unmapped.is_empty() {
        Ok(Exit::Success)
    } else {
        eprintln!(
            "error: {} to nobody: the first apply would remove them\nhint: add each service or break-glass account to `unmanaged:` in {}, and each person to policies/people.yaml (with the field the app's `login` template uses)",
            match imported.unmapped.len() {
                1 => "1 account maps".to_owned(),
                n => format!("{n} accounts map"),
            },
            app.file
        );
        Ok(Exit::Findings)
    }
}
