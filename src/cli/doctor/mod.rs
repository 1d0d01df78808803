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

use std::collections::BTreeSet;

use anyhow::{Result, anyhow};
use serde_json::Value;

use super::{Common, Outcome};
use portcullis_core::model::{Catalog, Provisioner};
use portcullis_github::Client;

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

pub fn run(args: Args) -> Result<Outcome> {
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
        Ok(Outcome::Success)
    } else {
        println!(
            "doctor: {} in the setup of `{}`",
            portcullis_core::diag::render::text::counted(gaps.len(), "gap"),
            client.repository()
        );
        Ok(Outcome::Findings)
    }
}

/// Pull requests, the status from portcullis's own App, no force push, no deletion, code
/// owners' review, and nobody who may bypass any of it.
fn branch_rules(
    client: &Client,
    branch: &str,
    app_id: Option<u64>,
    gaps: &mut Vec<Gap>,
) -> Result<()> {
    let rules = client.branch_rules(branch)?;
    fn of<'a>(rules: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> {
        rules.iter().filter(move |r| r["type"] == kind)
    }
    let ruleset_fix = format!(
        "Settings > Rules > Rulesets: an active ruleset on `{branch}` (the default branch)"
    );
    match of(&rules, "pull_request").next() {
        None => gaps.push(gap(
            format!("`{branch}` can be changed without a pull request"),
            format!("{ruleset_fix} with \"Require a pull request before merging\""),
        )),
        Some(rule) if rule["parameters"]["require_code_owner_review"] != true => gaps.push(gap(
            format!("pull requests into `{branch}` do not require the code owners' review"),
            format!("{ruleset_fix}: \"Require review from Code Owners\""),
        )),
        Some(_) => {}
    }
    let checks: Vec<&Value> = of(&rules, "required_status_checks")
        .flat_map(|r| {
            r["parameters"]["required_status_checks"]
                .as_array()
                .into_iter()
                .flatten()
        })
        .filter(|c| c["context"] == STATUS)
        .collect();
    if checks.is_empty() {
        gaps.push(gap(
            format!("`{branch}` does not require the `{STATUS}` status"),
            format!("{ruleset_fix} with \"Require status checks to pass\": `{STATUS}`"),
        ));
    } else if !checks
        .iter()
        .any(|c| app_id.is_some() && c["integration_id"].as_u64() == app_id)
    {
        gaps.push(gap(
            format!("the required `{STATUS}` status may come from anyone with write access"),
            format!("{ruleset_fix}: pick the portcullis App as the source of `{STATUS}`"),
        ));
    }
    if of(&rules, "non_fast_forward").next().is_none() {
        gaps.push(gap(
            format!("`{branch}` can be force-pushed (history rewritten under apply)"),
            format!("{ruleset_fix} with \"Block force pushes\""),
        ));
    }
    if of(&rules, "deletion").next().is_none() {
        gaps.push(gap(
            format!("`{branch}` can be deleted"),
            format!("{ruleset_fix} with \"Restrict deletions\""),
        ));
    }
    let ids: BTreeSet<u64> = rules
        .iter()
        .filter_map(|r| r["ruleset_id"].as_u64())
        .collect();
    for id in ids {
        // Only a token that may administer the ruleset sees its bypass actors: without them
        // there is no verdict.
        let bypass = client.repo_json(&format!("rulesets/{id}"))?.and_then(|r| {
            Some((
                r["name"].as_str()?.to_owned(),
                r["bypass_actors"].as_array()?.clone(),
            ))
        });
        let Some((name, bypass)) = bypass else {
            anyhow::bail!(
                "GitHub does not show this token ruleset {id}'s bypass actors\nhint: doctor's token needs the repository permission `administration: read`"
            );
        };
        if !bypass.is_empty() {
            let who: Vec<String> = bypass
                .iter()
                .map(|a| {
                    format!(
                        "{} {}",
                        a["actor_type"].as_str().unwrap_or("actor"),
                        a["actor_id"]
                    )
                })
                .collect();
            gaps.push(gap(
                format!("the ruleset `{name}` can be bypassed by {}", who.join(", ")),
                "remove every bypass actor: a bypass merges what nobody approved".to_owned(),
            ));
        }
    }
    Ok(())
}

fn codeowners(client: &Client, gaps: &mut Vec<Gap>) -> Result<()> {
    let Some(found) = client.repo_json("codeowners/errors")? else {
        gaps.push(gap(
            "GitHub finds no CODEOWNERS file",
            "run `portcullis codeowners --write` and merge `.github/CODEOWNERS`",
        ));
        return Ok(());
    };
    for e in found["errors"].as_array().into_iter().flatten() {
        gaps.push(gap(
            format!(
                "{}:{}: {}",
                e["path"].as_str().unwrap_or(".github/CODEOWNERS"),
                e["line"],
                e["message"].as_str().unwrap_or("an error").trim()
            ),
            e["suggestion"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| {
                    "correct the line: a team must exist and see the repository".into()
                }),
        ));
    }
    Ok(())
}

/// Each environment exists, deploys from the default branch only, and holds its secrets.
fn environments(
    client: &Client,
    branch: &str,
    catalog: &Catalog,
    gaps: &mut Vec<Gap>,
) -> Result<()> {
    let unreadable = |what: &str| {
        anyhow!(
            "GitHub does not show this token the {what} (404)\nhint: doctor's token needs the repository permissions `administration: read`, `environments: read`, `secrets: read` and `variables: read`"
        )
    };
    let listed = client
        .repo_json("environments?per_page=100")?
        .ok_or_else(|| unreadable("environments"))?;
    let envs = listed["environments"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if listed["total_count"]
        .as_u64()
        .is_some_and(|n| n as usize > envs.len())
    {
        anyhow::bail!("more environments than one page holds; no verdict from a partial list");
    }
    for name in ENVIRONMENTS {
        let Some(env) = envs.iter().find(|e| e["name"] == name) else {
            gaps.push(gap(
                format!("the environment `{name}` does not exist: its workflow's secrets are open to every branch"),
                format!("Settings > Environments > New environment `{name}`, deployment branches: `{branch}` only"),
            ));
            continue;
        };
        let policy = &env["deployment_branch_policy"];
        let only_default = if policy["custom_branch_policies"] == true {
            let p = client
                .repo_json(&format!(
                    "environments/{name}/deployment-branch-policies?per_page=100"
                ))?
                .ok_or_else(|| unreadable("deployment branches"))?;
            let names: Vec<&str> = p["branch_policies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|b| b["name"].as_str())
                .collect();
            names == [branch]
        } else {
            false
        };
        if !only_default {
            gaps.push(gap(
                format!("the environment `{name}` can be deployed to from branches other than `{branch}`"),
                format!("Settings > Environments > {name} > Deployment branches: selected branches, `{branch}` only"),
            ));
        }
        let secrets = client
            .repo_json(&format!("environments/{name}/secrets?per_page=100"))?
            .ok_or_else(|| unreadable("environment secrets"))?;
        let have: BTreeSet<&str> = secrets["secrets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["name"].as_str())
            .collect();
        let mut need: BTreeSet<String> = BTreeSet::from([APP_KEY.to_owned()]);
        if name == "access-apply" {
            need.insert("PORTCULLIS_SIGNING_KEY".into());
            need.extend(provisioner_secrets(catalog));
        }
        for missing in need.iter().filter(|n| !have.contains(n.as_str())) {
            gaps.push(gap(
                format!("the environment `{name}` has no secret `{missing}`"),
                format!("Settings > Environments > {name} > Add secret `{missing}`"),
            ));
        }
    }
    Ok(())
}

/// The environment variables the apps' provisioners read their secrets from.
fn provisioner_secrets(catalog: &Catalog) -> Vec<String> {
    catalog
        .apps
        .values()
        .flat_map(|a| match &a.provisioner {
            Provisioner::Postgres { dsn_env, .. } => vec![dsn_env.clone()],
            Provisioner::Ldap {
                url_env,
                bind_password_env,
                ..
            } => vec![url_env.clone(), bind_password_env.clone()],
            Provisioner::Scim {
                url_env, token_env, ..
            } => vec![url_env.clone(), token_env.clone()],
            _ => Vec::new(),
        })
        .collect()
}
