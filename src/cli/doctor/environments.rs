//! The environments the workflows run in: each exists, deploys from the default branch only,
//! and holds the secrets its job needs.

use std::collections::BTreeSet;

use anyhow::{Result, anyhow};

use super::{APP_KEY, ENVIRONMENTS, Gap, gap};
use portcullis_core::model::{Catalog, Provisioner};
use portcullis_github::Client;

/// Each environment exists, deploys from the default branch only, and holds its secrets.
pub(super) fn environments(
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
