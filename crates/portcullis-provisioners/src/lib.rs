//! Provisioners: the edge that reads and changes who is a member of what in the real systems
//! (SPEC section 7). One backend per `provisioner.type`, behind one trait.
//!
//! Owns: connecting with secrets taken from the environment variables a policy names, turning a
//! person into the account name a target knows (`login` templates), validating and escaping every
//! name for its system, and idempotent `list`/`add`/`remove` of one account in one target.
//! Refuses: deciding what should be provisioned. Desired state, approvals, the removal cap and
//! evidence belong to `apply`, which is built on [`Provisioner`].

// An edge: files, clock, environment and processes are its business (see clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

pub mod command;
pub mod github_team;
pub mod ldap;
pub mod manual;
pub mod postgres;
pub mod scim;

use std::path::Path;

use anyhow::{Result, bail};

use portcullis_core::model::{self, App};
pub use portcullis_core::provision::backend::{
    Effect, Provisioner, account_for, check_name, render_login, target_of,
};
pub use portcullis_core::provision::memory;

/// Connects to the system an app's `provisioner:` describes. `root` is the repository root
/// (a `command` path is relative to it); `env` looks up environment variables, so secrets come
/// from the variables the policy names and tests can pass their own.
pub fn connect(
    app: &App,
    root: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Box<dyn Provisioner>> {
    connect_in(app, None, root, env)
}

/// [`connect`] with the org-wide settings: a `github-team` provisioner without its own `org`
/// uses the settings' `org`. The `github-team` and `manual` types reach GitHub through
/// `GITHUB_API_URL`, `GITHUB_TOKEN` and `GITHUB_REPOSITORY`, looked up through `env`.
pub fn connect_in(
    app: &App,
    settings: Option<&model::Settings>,
    root: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Box<dyn Provisioner>> {
    let secret = |name: &str| -> Result<String> {
        match env(name) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => bail!(
                "app `{}` ({}): environment variable `{name}` is not set\nhint: set it in the environment of the apply job; secrets never go in the repository",
                app.id.value,
                app.file
            ),
        }
    };
    let context = |e: anyhow::Error| {
        e.context(format!(
            "app `{}` ({}): cannot connect its `{}` provisioner",
            app.id.value,
            app.file,
            app.provisioner.kind()
        ))
    };
    let backend: Box<dyn Provisioner> = match &app.provisioner {
        model::Provisioner::Postgres { dsn_env, .. } => {
            Box::new(postgres::Postgres::connect(&secret(dsn_env)?).map_err(context)?)
        }
        model::Provisioner::Ldap {
            url_env,
            bind_dn,
            bind_password_env,
            group_base,
            login,
        } => Box::new(
            ldap::Ldap::connect(&ldap::Config {
                url: secret(url_env)?,
                bind_dn: bind_dn.clone(),
                bind_password: secret(bind_password_env)?,
                group_base: group_base.clone(),
                login: login.clone(),
            })
            .map_err(context)?,
        ),
        model::Provisioner::Scim {
            url_env, token_env, ..
        } => Box::new(scim::Scim::new(&secret(url_env)?, &secret(token_env)?).map_err(context)?),
        model::Provisioner::Command {
            command,
            timeout_seconds,
            env: names,
        } => {
            let vars = names
                .iter()
                .map(|n| secret(n).map(|v| (n.clone(), v)))
                .collect::<Result<Vec<_>>>()?;
            Box::new(
                command::Command::new(
                    root,
                    command,
                    std::time::Duration::from_secs(u64::from(*timeout_seconds)),
                    vars,
                )
                .map_err(context)?,
            )
        }
        model::Provisioner::GithubTeam { org, .. } => {
            let Some(org) = org.as_deref().or(settings.map(|s| s.org.as_str())) else {
                bail!(
                    "app `{}` ({}): no GitHub organisation for its teams\nhint: set `provisioner.org`, or `org` in policies/settings.yaml",
                    app.id.value,
                    app.file
                );
            };
            let client = github_client(env, &secret).map_err(context)?;
            Box::new(github_team::GithubTeam::new(client, org))
        }
        model::Provisioner::Manual { checklist } => {
            let client = github_client(env, &secret).map_err(context)?;
            Box::new(manual::Manual::new(
                client,
                manual::Config {
                    app: app.id.value.clone(),
                    app_name: app.name.clone(),
                    owners: app.owners.clone(),
                    checklist: checklist.clone(),
                    bot_login: settings.and_then(|s| s.bot_login.clone()),
                },
            ))
        }
    };
    Ok(backend)
}

/// The GitHub client of the `github-team` and `manual` types, from the same variables as
/// every GitHub call (SPEC section 8).
fn github_client(
    env: &dyn Fn(&str) -> Option<String>,
    secret: &dyn Fn(&str) -> Result<String>,
) -> Result<portcullis_github::Client> {
    let api = env("GITHUB_API_URL")
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| portcullis_github::DEFAULT_API_URL.to_owned());
    let repository = secret("GITHUB_REPOSITORY")?;
    Ok(
        portcullis_github::Client::new(&api, Some(&secret("GITHUB_TOKEN")?), &repository)?
            .with_retry_policy(portcullis_github::RetryPolicy::from_env()?),
    )
}
