//! `doctor`: the live GitHub setup the control depends on, read through the API, with each
//! gap and its fix. Portcullis's checks are only as strong as what GitHub enforces around
//! them: a merge without the required status, a bypass actor, a force push or an environment
//! any branch can deploy to each undo the control, and none of them shows in the repository.
//!
//! Read: the default branch's rules (rulesets, with their bypass actors), CODEOWNERS errors as
//! GitHub reports them, the three environments and the branches they deploy from, the secrets
//! each workflow needs (by name: values are never readable), and the App id variable. Exit 1 on
//! any gap, 2 when the setup cannot be read (the token needs `administration: read`,
//! `environments: read` and `secrets: read`); never a verdict from a partial read.

use anyhow::{Result, anyhow};

use super::{Common, Exit};

mod environments;
mod rules;

use environments::environments;
use portcullis_github::Client;
use rules::{branch_rules, codeowners};

/// Check the GitHub setup the control relies on (rulesets, environments, secrets, CODEOWNERS)
#[derive(clap::Args)]
#[command(after_help = "Examples:
  GITHUB_TOKEN=$(gh auth token) portcullis doctor   each gap in the GitHub setup, with its fix")]
pub struct Args {
    #[command(flatten)]
    common: Common,
}

/// One thing GitHub does not enforce that the control needs, and how to make it.
struct Gap {
    what: String,
    fix: String,
}

fn gap(what: impl Into<String>, fix: impl Into<String>) -> Gap {
    Gap {
        what: what.into(),
        fix: fix.into(),
    }
}

const STATUS: &str = "portcullis/approvals";
const ENVIRONMENTS: [&str; 3] = ["access-apply", "portcullis-status", "portcullis-bot"];
const APP_KEY: &str = "PORTCULLIS_APP_PRIVATE_KEY";

pub fn run(args: Args) -> Result<Exit> {
    let root = args.common.root()?;
    let snapshot = portcullis_git::worktree::read(&root)?;
    let catalog = portcullis_core::check::load(&snapshot).catalog;
    let client = Client::from_env()?;
    let repo = client
        .repo_json("")?
        .ok_or_else(|| anyhow!("`{}` is not visible to this token", client.repository()))?;
    let branch = repo["default_branch"]
        .as_str()
        .ok_or_else(|| anyhow!("GitHub sent a repository without `default_branch`"))?
        .to_owned();
    let app_id = client
        .repo_json("actions/variables/PORTCULLIS_APP_ID")?
        .and_then(|v| {
            v["value"]
                .as_str()
                .and_then(|s| s.trim().parse::<u64>().ok())
        });

    let mut gaps = Vec::new();
    if app_id.is_none() {
        gaps.push(gap(
            "the repository variable `PORTCULLIS_APP_ID` is not set (or not a number)",
            "Settings > Secrets and variables > Actions > Variables: set it to the portcullis App's id",
        ));
    }
    branch_rules(&client, &branch, app_id, &mut gaps)?;
    codeowners(&client, &mut gaps)?;
    environments(&client, &branch, &catalog, &mut gaps)?;

    for g in &gaps {
        println!("gap: {}\n  fix: {}", g.what, g.fix);
    }
    println!(
        "note: `refs/portcullis/state` and `refs/notes/portcullis` are outside what rulesets protect (branches and tags); their signatures and the `portcullis/evidence` anchor make a rewrite detectable instead"
    );
    if gaps.is_empty() {
        println!("doctor: the setup of `{}` holds", client.repository());
        Ok(Exit::Success)
    } else {
        println!(
            "doctor: {} in the setup of `{}`",
            portcullis_core::diag::render::text::counted(gaps.len(), "gap"),
            client.repository()
        );
        Ok(Exit::Findings)
    }
}
