//! The in-memory reference backend: what every real backend must behave like (the contract
//! test runs against all of them), and the target `apply` tests provision into. It can be told
//! to fail a write or a listing and counts the writes it made.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Result, anyhow, bail};

use super::backend::{Effect, Provisioner, check_name};

#[derive(Clone, Debug, Default)]
pub struct Memory {
    targets: BTreeMap<String, BTreeSet<String>>,
    known_accounts: Option<BTreeSet<String>>,
    writes: u64,
    attempts: u64,
    fail_write: Option<u64>,
    fail_list: BTreeSet<String>,
    pending: BTreeSet<String>,
}

impl Memory {
    pub fn new() -> Memory {
        Memory::default()
    }

    /// Creates `target` (empty) if it does not exist. Like real systems, operations on a target
    /// that was never created fail.
    pub fn create_target(&mut self, target: &str) -> &mut Memory {
        self.targets.entry(target.to_owned()).or_default();
        self
    }

    /// Creates `target` with these members, without counting writes.
    pub fn seed<'a>(
        &mut self,
        target: &str,
        members: impl IntoIterator<Item = &'a str>,
    ) -> &mut Memory {
        self.targets
            .entry(target.to_owned())
            .or_default()
            .extend(members.into_iter().map(str::to_owned));
        self
    }

    /// Restricts the accounts `add` accepts, as a real directory knows only its people.
    pub fn known_accounts<'a>(&mut self, accounts: impl IntoIterator<Item = &'a str>) {
        self.known_accounts = Some(accounts.into_iter().map(str::to_owned).collect());
    }

    /// The `n`-th write from now (1 = the next one) fails without changing anything. Only
    /// calls that would change a target count as writes.
    pub fn fail_nth_write(&mut self, n: u64) {
        self.fail_write = Some(self.attempts + n);
    }

    /// Every `list` of `target` fails, as a listing whose third page did.
    pub fn fail_list(&mut self, target: &str) {
        self.fail_list.insert(target.to_owned());
    }

    /// Writes to `target` are handed off and stay `Pending`, as with the `manual` type.
    pub fn set_pending(&mut self, target: &str) {
        self.pending.insert(target.to_owned());
    }

    /// Writes that changed a target.
    pub fn writes(&self) -> u64 {
        self.writes
    }

    pub fn members(&self, target: &str) -> Option<&BTreeSet<String>> {
        self.targets.get(target)
    }

    fn target(&mut self, target: &str) -> Result<&mut BTreeSet<String>> {
        check_name("target", target)?;
        self.targets
            .get_mut(target)
            .ok_or_else(|| anyhow!("memory target `{target}` does not exist"))
    }

    fn write(&mut self, target: &str, account: &str, add: bool) -> Result<Effect> {
        check_name("account", account)?;
        let present = self.target(target)?.contains(account);
        if present == add {
            return Ok(Effect::Unchanged);
        }
        if add
            && let Some(known) = &self.known_accounts
            && !known.contains(account)
        {
            bail!("memory target `{target}`: no account `{account}`");
        }
        self.attempts += 1;
        if self.fail_write == Some(self.attempts) {
            bail!(
                "memory target `{target}`: injected failure of write {}",
                self.attempts
            );
        }
        if self.pending.contains(target) {
            return Ok(Effect::Pending(format!(
                "{} `{account}` in `{target}` waits for a person",
                if add { "adding" } else { "removing" }
            )));
        }
        let members = self.target(target)?;
        if add {
            members.insert(account.to_owned());
        } else {
            members.remove(account);
        }
        self.writes += 1;
        Ok(Effect::Changed)
    }
}

impl Provisioner for Memory {
    fn list(&mut self, target: &str) -> Result<BTreeSet<String>> {
        if self.fail_list.contains(target) {
            bail!("memory target `{target}`: injected listing failure");
        }
        Ok(self.target(target)?.clone())
    }

    fn add(&mut self, target: &str, account: &str) -> Result<Effect> {
        self.write(target, account, true)
    }

    fn remove(&mut self, target: &str, account: &str) -> Result<Effect> {
        self.write(target, account, false)
    }
}
