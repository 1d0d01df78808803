//! `github-team`: a role's target is a team slug of the organisation, a person's account is their
//! GitHub login (`{github}` by default), and a grant is team membership.
//!
//! Members are the team's active *direct* members. GitHub's REST listing of a team also holds
//! the members of its child teams, who keep their access through the child team whatever is
//! done to the parent: counting them would "remove" access that stays. So members are read
//! through GraphQL (`membership: IMMEDIATE`), a grant makes a direct membership even for
//! someone the parent already reaches through a child team, and access held only through a
//! child team is the child team's to grant and revoke (model it as its own target).
//!
//! An invitation to the organisation that has not been
//! accepted yet makes the membership `pending`, which is what [`Effect::Pending`] reports until
//! the person accepts. Logins compare case-insensitively on GitHub, so accounts are lower-case.
//! The listing follows every page or fails as a whole (see `portcullis_github`).
//!
//! The token (`GITHUB_TOKEN` of the apply job) needs the organisation's `members: write`.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};

use super::{Effect, Provisioner, check_name};
use portcullis_github::Client;

pub struct GithubTeam {
    client: Client,
    org: String,
    /// Direct members by team, as last listed in this run.
    direct: BTreeMap<String, BTreeSet<String>>,
}

impl GithubTeam {
    pub fn new(client: Client, org: &str) -> GithubTeam {
        GithubTeam {
            client,
            org: org.to_owned(),
            direct: BTreeMap::new(),
        }
    }

    /// The team's direct members, lower-case, listed once per run.
    fn direct(&mut self, team: &str) -> Result<&BTreeSet<String>> {
        check_name("target", team)?;
        if !self.direct.contains_key(team) {
            let members = self
                .client
                .team_direct_members(&self.org, team)
                .with_context(|| format!("cannot list the members of @{}/{team}", self.org))?
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "@{}/{team} does not exist\nhint: create the team, or correct the role's target in policies/catalog.yaml",
                        self.org
                    )
                })?;
            let members = members.into_iter().map(|l| l.to_lowercase()).collect();
            self.direct.insert(team.to_owned(), members);
        }
        Ok(&self.direct[team])
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
        // Always read afresh: a listing is what removals are computed from.
        self.direct.remove(team);
        self.direct(team).cloned()
    }

    fn add(&mut self, team: &str, login: &str) -> Result<Effect> {
        let org = self.org.clone();
        let pending = || {
            Effect::Pending(format!(
                "@{login} is invited to @{org}/{team} and has not accepted yet"
            ))
        };
        let direct = self.direct(team)?.contains(&login.to_lowercase());
        match self.membership(team, login)?.as_deref() {
            // Active through a child team only is not the grant: make it direct.
            Some("active") if direct => return Ok(Effect::Unchanged),
            Some("active") => {}
            // Asking again would not make it active; it only costs a write.
            Some(_) => return Ok(pending()),
            None => {}
        }
        let state = self
            .client
            .add_team_membership(&self.org, team, login)
            .with_context(|| format!("cannot add @{login} to @{}/{team}", self.org))?;
        if let Some(members) = self.direct.get_mut(team) {
            members.insert(login.to_lowercase());
        }
        Ok(if state == "active" {
            Effect::Changed
        } else {
            pending()
        })
    }

    fn remove(&mut self, team: &str, login: &str) -> Result<Effect> {
        // Only a direct membership (or an invitation) is this team's to remove.
        let direct = self.direct(team)?.contains(&login.to_lowercase());
        if !direct && self.membership(team, login)?.as_deref() != Some("pending") {
            return Ok(Effect::Unchanged);
        }
        self.client
            .remove_team_membership(&self.org, team, login)
            .with_context(|| format!("cannot remove @{login} from @{}/{team}", self.org))?;
        if let Some(members) = self.direct.get_mut(team) {
            members.remove(&login.to_lowercase());
        }
        Ok(Effect::Changed)
    }
}
