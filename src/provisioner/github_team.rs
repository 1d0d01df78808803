//! `github-team`: a role's target is a team slug of the organisation, a person's account is their
//! GitHub login (`{github}` by default), and a grant is team membership.
//!
//! Members are the team's active members; an invitation to the organisation that has not been
//! accepted yet makes the membership `pending`, which is what [`Outcome::Pending`] reports until
//! the person accepts. Logins compare case-insensitively on GitHub, so accounts are lower-case.
//! The listing follows every page or fails as a whole (see `crate::github`).
//!
//! The token (`GITHUB_TOKEN` of the apply job) needs the organisation's `members: write`.

use std::collections::BTreeSet;

use anyhow::{Context, Result};

use super::{Outcome, Provisioner, check_name};
use crate::github::Client;

pub struct GithubTeam {
    client: Client,
    org: String,
}

impl GithubTeam {
    pub fn new(client: Client, org: &str) -> GithubTeam {
        GithubTeam {
            client,
            org: org.to_owned(),
        }
    }

    fn membership(&self, team: &str, login: &str) -> Result<Option<String>> {
        check_name("target", team)?;
        check_name("account", login)?;
        self.client
            .team_membership(&self.org, team, login)
            .with_context(|| format!("cannot read @{login}'s membership of @{}/{team}", self.org))
    }
}

impl Provisioner for GithubTeam {
    fn list(&mut self, team: &str) -> Result<BTreeSet<String>> {
        check_name("target", team)?;
        let members = self
            .client
            .team_members(&self.org, team)
            .with_context(|| format!("cannot list the members of @{}/{team}", self.org))?;
        Ok(members
            .into_iter()
            .map(|u| u.login.to_lowercase())
            .collect())
    }

    fn add(&mut self, team: &str, login: &str) -> Result<Outcome> {
        let pending = || {
            Outcome::Pending(format!(
                "@{login} is invited to @{}/{team} and has not accepted yet",
                self.org
            ))
        };
        match self.membership(team, login)?.as_deref() {
            Some("active") => return Ok(Outcome::Unchanged),
            // Asking again would not make it active; it only costs a write.
            Some(_) => return Ok(pending()),
            None => {}
        }
        let state = self
            .client
            .add_team_membership(&self.org, team, login)
            .with_context(|| format!("cannot add @{login} to @{}/{team}", self.org))?;
        Ok(if state == "active" {
            Outcome::Changed
        } else {
            pending()
        })
    }

    fn remove(&mut self, team: &str, login: &str) -> Result<Outcome> {
        if self.membership(team, login)?.is_none() {
            return Ok(Outcome::Unchanged);
        }
        self.client
            .remove_team_membership(&self.org, team, login)
            .with_context(|| format!("cannot remove @{login} from @{}/{team}", self.org))?;
        Ok(Outcome::Changed)
    }
}
