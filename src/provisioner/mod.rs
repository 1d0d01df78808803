//! Provisioners: the edge that reads and changes who is a member of what in the real systems
//! (SPEC section 7). One backend per `provisioner.type`, behind one trait.
//!
//! Owns: connecting with secrets taken from the environment variables a policy names, turning a
//! person into the account name a target knows (`login` templates), validating and escaping every
//! name for its system, and idempotent `list`/`add`/`remove` of one account in one target.
//! Refuses: deciding what should be provisioned. Desired state, approvals, the removal cap and
//! evidence belong to `apply`, which is built on [`Provisioner`].

// An edge: files, clock, environment and processes are its business (see clippy.toml).
#![allow(clippy::disallowed_methods)]

pub mod command;
pub mod github_team;
pub mod ldap;
pub mod manual;
pub mod memory;
pub mod postgres;
pub mod scim;

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Result, bail};

use crate::model::{self, App, Person, Role};

/// What a write did. `Unchanged` is success: the target was already so (SPEC: every operation is
/// idempotent), and it tells `apply` that nothing needs recording as a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Changed,
    Unchanged,
    /// Handed to someone else and not done yet (the `manual` type's issue, or a command that
    /// queued the change); the text says where it waits.
    Pending(String),
}

/// One connected target system. Accounts are the names [`account_for`] renders; targets are
/// the names [`target_of`] gives a role. Every method is synchronous: backends built on async
/// crates run them on their own current-thread runtime.
pub trait Provisioner {
    /// Every member of `target`, completely, or an error: removals are computed from this
    /// listing, so a page or member that cannot be read fails the whole call. A target that does
    /// not exist is an error, not an empty set.
    fn list(&mut self, target: &str) -> Result<BTreeSet<String>>;
    /// Makes `account` a member of `target`. An account the system does not know is an error
    /// (portcullis grants access; it does not create people).
    fn add(&mut self, target: &str, account: &str) -> Result<Outcome>;
    /// Ends the membership of `account` in `target`.
    fn remove(&mut self, target: &str, account: &str) -> Result<Outcome>;
}

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
) -> Result<crate::github::Client> {
    let api = env("GITHUB_API_URL")
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| crate::github::DEFAULT_API_URL.to_owned());
    let repository = secret("GITHUB_REPOSITORY")?;
    Ok(
        crate::github::Client::new(&api, Some(&secret("GITHUB_TOKEN")?), &repository)?
            .with_retry_policy(crate::github::RetryPolicy::from_env()?),
    )
}

/// The name of the group, team or database role a role maps to (`roles.<r>.target`, default
/// the role id).
pub fn target_of(role: &Role) -> &str {
    role.target.as_deref().unwrap_or(&role.id.value)
}

/// The account name the app's target knows this person by: its `login` template (or the type's
/// default) rendered over the person's fields. For `ldap` the account is the value of the member
/// DN's first RDN (`uid={id},ou=people,...` gives the person's id); the backend builds and
/// escapes the DN itself.
pub fn account_for(app: &App, person: &Person) -> Result<String, String> {
    let template = match &app.provisioner {
        // GitHub logins compare case-insensitively; the team listing is lower-cased too.
        model::Provisioner::GithubTeam { login, .. } => {
            return render_login(login.as_deref().unwrap_or("{github}"), person)
                .map(|l| l.to_lowercase());
        }
        model::Provisioner::Postgres { login, .. } => login.as_deref().unwrap_or("{id}"),
        model::Provisioner::Scim { login, .. } => login.as_deref().unwrap_or("{email}"),
        model::Provisioner::Ldap { login, .. } => &ldap::MemberTemplate::parse(login)?.value,
        model::Provisioner::Manual { .. } | model::Provisioner::Command { .. } => "{id}",
    };
    render_login(template, person)
}

/// Replaces `{id}`, `{email}`, `{github}`, `{name}` and `{department}` with the person's fields.
/// An unknown placeholder, an unclosed `{`, a field the person lacks, or a result that is empty
/// or holds control characters is an error: a wrong login would provision someone else.
pub fn render_login(template: &str, person: &Person) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(len) = rest[open..].find('}') else {
            return Err(format!("login template `{template}`: unclosed `{{`"));
        };
        let field = &rest[open + 1..open + len];
        let value = match field {
            "id" => Some(person.id.value.as_str()),
            "email" => Some(person.email.as_str()),
            "github" => person.github.as_deref(),
            "name" => Some(person.name.as_str()),
            "department" => Some(person.department.as_str()),
            _ => {
                return Err(format!(
                    "login template `{template}`: unknown placeholder `{{{field}}}`; use {{id}}, {{email}}, {{github}}, {{name}} or {{department}}"
                ));
            }
        };
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            return Err(format!(
                "person `{}` has no `{field}`, which the login template `{template}` needs",
                person.id.value
            ));
        };
        out.push_str(value);
        rest = &rest[open + len + 1..];
    }
    out.push_str(rest);
    check_name("login", &out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// The checks every backend applies to a target or account before it reaches a system:
/// non-empty, at most 1024 bytes, no control characters (NUL included).
pub(crate) fn check_name(what: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        bail!("empty {what} name");
    }
    if name.len() > 1024 {
        bail!("{what} name of {} bytes is longer than 1024", name.len());
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        bail!(
            "{what} name {name:?} contains the control character U+{:04X}",
            c as u32
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PersonType, Pos, Spanned};

    fn person(github: Option<&str>) -> Person {
        Person {
            id: Spanned {
                value: "alice".into(),
                pos: Pos::START,
            },
            item: Pos::START,
            name: "Alice Example".into(),
            email: "alice@example.com".into(),
            github: github.map(str::to_owned),
            github_id: None,
            department: "sales".into(),
            title: None,
            manager: None,
            kind: PersonType::Employee,
            leaver: false,
            end_date: None,
        }
    }

    #[test]
    fn login_templates_render_person_fields() {
        let p = person(Some("alice-gh"));
        assert_eq!(render_login("{id}", &p).unwrap(), "alice");
        assert_eq!(
            render_login("{github}:{department}", &p).unwrap(),
            "alice-gh:sales"
        );
        assert_eq!(
            render_login("x-{email}-{name}", &p).unwrap(),
            "x-alice@example.com-Alice Example"
        );
    }

    #[test]
    fn login_templates_refuse_unknown_fields_and_missing_values() {
        let p = person(None);
        let e = render_login("{github}", &p).unwrap_err();
        assert!(e.contains("has no `github`"), "{e}");
        let e = render_login("{title}", &p).unwrap_err();
        assert!(e.contains("unknown placeholder `{title}`"), "{e}");
        let e = render_login("{id", &p).unwrap_err();
        assert!(e.contains("unclosed"), "{e}");
    }

    #[test]
    fn names_with_control_characters_or_nothing_in_them_are_refused() {
        assert!(check_name("account", "").is_err());
        assert!(check_name("account", "a\0b").is_err());
        assert!(check_name("account", "a\nb").is_err());
        assert!(check_name("account", &"a".repeat(1025)).is_err());
        check_name("account", "o\"brien, x+y").unwrap();
    }
}
