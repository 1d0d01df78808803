//! The default branch's rules and CODEOWNERS, as GitHub enforces them.

use std::collections::BTreeSet;

use anyhow::Result;
use serde_json::Value;

use super::{Gap, STATUS, gap};
use portcullis_github::Client;

/// Pull requests, the status from portcullis's own App, no force push, no deletion, code
/// owners' review, and nobody who may bypass any of it.
pub(super) fn branch_rules(
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

pub(super) fn codeowners(client: &Client, gaps: &mut Vec<Gap>) -> Result<()> {
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
