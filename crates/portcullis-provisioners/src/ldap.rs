//! `ldap`: a role's target is a `groupOfNames` entry `cn=<target>,<group_base>`; a person's
//! account is the value of the first RDN of their member DN, as the `login` template
//! `uid={id},ou=people,dc=example,dc=com` says (attribute `uid`, people base
//! `ou=people,dc=example,dc=com`).
//!
//! Writes add or delete one explicit `member` value; the attribute is never replaced, and a
//! delete never goes out without a value (which would remove every member, THREATS 11). Values
//! are DN-escaped per RFC 4514 and filter-escaped per RFC 4515 before they reach the server.
//!
//! `groupOfNames` must keep at least one `member`: when the last account leaves, the group's own
//! DN is added as a placeholder member in the same modify, and it is deleted again (in the same
//! modify) when an account joins. `list` reports only members under the people base, so the
//! placeholder and members portcullis does not manage (other subtrees, nested groups) never
//! appear as accounts, and are never removed.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use ldap3::{
    LdapConn, LdapConnSettings, LdapResult, Mod, Scope, SearchEntry, dn_escape, ldap_escape,
};

use super::{Effect, Provisioner, check_name};
pub use portcullis_core::provision::backend::{MemberTemplate, parse_dn};

const TIMEOUT: Duration = Duration::from_secs(30);

// RFC 4511 result codes this backend acts on.
const NO_SUCH_ATTRIBUTE: u32 = 16;
const ATTRIBUTE_OR_VALUE_EXISTS: u32 = 20;
const NO_SUCH_OBJECT: u32 = 32;
const OBJECT_CLASS_VIOLATION: u32 = 65;

/// The settings of an `ldap` provisioner, secrets resolved.
pub struct Config {
    pub url: String,
    pub bind_dn: String,
    pub bind_password: String,
    pub group_base: String,
    /// The member DN template, `uid={id},ou=people,...`.
    pub login: String,
}

/// The member DN of an account, its value escaped per RFC 4514.
pub fn member_dn(template: &MemberTemplate, account: &str) -> String {
    format!("{}={},{}", template.attr, dn_escape(account), template.base)
}

pub struct Ldap {
    conn: LdapConn,
    group_base: String,
    member: MemberTemplate,
    url: String,
}

impl Ldap {
    /// Connects and binds. `ldaps://` URLs use TLS with the system's trusted roots.
    pub fn connect(config: &Config) -> Result<Ldap> {
        let member = MemberTemplate::parse(&config.login).map_err(|e| anyhow!(e))?;
        if parse_dn(&config.group_base).is_none_or(|d| d.is_empty()) {
            bail!("ldap `group_base` `{}` is not a DN", config.group_base);
        }
        let settings = LdapConnSettings::new().set_conn_timeout(TIMEOUT);
        let mut conn = LdapConn::with_settings(settings, &config.url)
            .with_context(|| format!("cannot connect to the LDAP server at {}", config.url))?;
        conn.with_timeout(TIMEOUT)
            .simple_bind(&config.bind_dn, &config.bind_password)
            .and_then(LdapResult::success)
            .with_context(|| {
                format!(
                    "cannot bind to {} as `{}`\nhint: check the bind DN and the password variable",
                    config.url, config.bind_dn
                )
            })?;
        Ok(Ldap {
            conn,
            group_base: config.group_base.clone(),
            member,
            url: config.url.clone(),
        })
    }

    fn group_dn(&self, target: &str) -> Result<String> {
        check_name("LDAP group", target)?;
        Ok(format!("cn={},{}", dn_escape(target), self.group_base))
    }

    /// Whether the entry at `dn` exists and matches `filter` (None: no such entry).
    fn matches(&mut self, dn: &str, filter: &str) -> Result<Option<bool>> {
        let ldap3::SearchResult(entries, res) = self
            .conn
            .with_timeout(TIMEOUT)
            .search(dn, Scope::Base, filter, vec!["1.1"])
            .with_context(|| format!("LDAP search of `{dn}` at {} failed", self.url))?;
        match res.rc {
            0 => Ok(Some(!entries.is_empty())),
            NO_SUCH_OBJECT => Ok(None),
            _ => Err(anyhow!(res)).with_context(|| format!("LDAP search of `{dn}` failed")),
        }
    }

    /// Whether the group exists and has `member_dn` as a member; a missing group is an error.
    fn has_member(&mut self, group: &str, member_dn: &str) -> Result<bool> {
        let filter = format!(
            "(&(objectClass=groupOfNames)(member={}))",
            ldap_escape(member_dn)
        );
        match self.matches(group, &filter)? {
            Some(true) => Ok(true),
            Some(false) => {
                if self.matches(group, "(objectClass=groupOfNames)")? != Some(true) {
                    bail!("LDAP entry `{group}` is not a groupOfNames");
                }
                Ok(false)
            }
            None => bail!(
                "LDAP group `{group}` does not exist\nhint: create it, or fix the role's `target` or the app's `group_base`"
            ),
        }
    }

    fn modify(&mut self, group: &str, mods: Vec<Mod<String>>) -> Result<u32> {
        debug_assert!(mods.iter().all(|m| match m {
            Mod::Add(_, v) | Mod::Delete(_, v) => !v.is_empty(),
            _ => false,
        }));
        let res = self
            .conn
            .with_timeout(TIMEOUT)
            .modify(group, mods)
            .with_context(|| format!("LDAP modify of `{group}` at {} failed", self.url))?;
        Ok(res.rc)
    }
}

fn one(value: &str) -> HashSet<String> {
    HashSet::from([value.to_owned()])
}

fn ldap_error(rc: u32, what: &str) -> anyhow::Error {
    anyhow!("{what} failed with LDAP result code {rc}")
}

impl Provisioner for Ldap {
    fn list(&mut self, target: &str) -> Result<BTreeSet<String>> {
        let group = self.group_dn(target)?;
        let ldap3::SearchResult(entries, res) = self
            .conn
            .with_timeout(TIMEOUT)
            .search(
                &group,
                Scope::Base,
                "(objectClass=groupOfNames)",
                vec!["member"],
            )
            .with_context(|| format!("LDAP search of `{group}` at {} failed", self.url))?;
        if res.rc == NO_SUCH_OBJECT {
            bail!("LDAP group `{group}` does not exist");
        }
        res.success()
            .with_context(|| format!("cannot read the members of `{group}`"))?;
        let [entry] = entries.as_slice() else {
            bail!("LDAP entry `{group}` is not a groupOfNames");
        };
        // SearchEntry::construct panics on a malformed entry; a server's bytes are input.
        let entry = std::panic::catch_unwind(|| SearchEntry::construct(entry.clone()))
            .map_err(|_| anyhow!("the LDAP server sent a malformed entry for `{group}`"))?;
        if let Some(ranged) = entry.attrs.keys().find(|k| k.contains(';')) {
            // Ranged retrieval (`member;range=0-1499`) would be a partial listing.
            bail!(
                "LDAP group `{group}` returned `{ranged}`: ranged member lists are not supported"
            );
        }
        if !entry.bin_attrs.is_empty() {
            bail!("LDAP group `{group}` has member values that are not UTF-8");
        }
        let values = entry
            .attrs
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("member"))
            .flat_map(|(_, v)| v);
        Ok(values.filter_map(|dn| self.member.account_of(dn)).collect())
    }

    fn add(&mut self, target: &str, account: &str) -> Result<Effect> {
        check_name("account", account)?;
        let group = self.group_dn(target)?;
        let member = member_dn(&self.member, account);
        if self.has_member(&group, &member)? {
            return Ok(Effect::Unchanged);
        }
        if self.matches(&member, "(objectClass=*)")? != Some(true) {
            bail!(
                "no LDAP entry `{member}` for account {account:?}\nhint: portcullis adds existing people to groups; create the person's entry first"
            );
        }
        let mut mods = vec![Mod::Add("member".to_owned(), one(&member))];
        if self.has_member(&group, &group)? {
            mods.push(Mod::Delete("member".to_owned(), one(&group)));
        }
        match self.modify(&group, mods)? {
            0 => Ok(Effect::Changed),
            ATTRIBUTE_OR_VALUE_EXISTS => Ok(Effect::Unchanged),
            rc => Err(ldap_error(rc, &format!("adding `{member}` to `{group}`"))),
        }
    }

    fn remove(&mut self, target: &str, account: &str) -> Result<Effect> {
        check_name("account", account)?;
        let group = self.group_dn(target)?;
        let member = member_dn(&self.member, account);
        if !self.has_member(&group, &member)? {
            return Ok(Effect::Unchanged);
        }
        let delete = || Mod::Delete("member".to_owned(), one(&member));
        match self.modify(&group, vec![delete()])? {
            0 => Ok(Effect::Changed),
            NO_SUCH_ATTRIBUTE => Ok(Effect::Unchanged),
            // The last member: keep the group valid with its placeholder, atomically.
            OBJECT_CLASS_VIOLATION => {
                match self.modify(
                    &group,
                    vec![Mod::Add("member".to_owned(), one(&group)), delete()],
                )? {
                    0 => Ok(Effect::Changed),
                    NO_SUCH_ATTRIBUTE => Ok(Effect::Unchanged),
                    rc => Err(ldap_error(
                        rc,
                        &format!("removing `{member}` from `{group}`"),
                    )),
                }
            }
            rc => Err(ldap_error(
                rc,
                &format!("removing `{member}` from `{group}`"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> MemberTemplate {
        MemberTemplate::parse("uid={id},ou=people,dc=example,dc=com").unwrap()
    }

    #[test]
    fn login_templates_split_into_attribute_value_and_people_base() {
        let t = template();
        assert_eq!(t.attr, "uid");
        assert_eq!(t.value, "{id}");
        assert_eq!(t.base, "ou=people,dc=example,dc=com");
        for bad in [
            "{id}",
            "uid={id}",
            "uid={id},ou={department},dc=x",
            "uid=a\\,{id},dc=x",
            "uid={id}+cn=x,dc=x",
            "1uid={id},dc=x",
        ] {
            assert!(MemberTemplate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn member_dns_escape_every_special_character_and_read_back() {
        let t = template();
        for account in [
            "a,ou=x",
            "a+b",
            "q\"q",
            "back\\slash",
            "<tag>",
            "semi;colon",
            "x=y",
            "#hash",
            " lead",
            "trail ",
            "*)(uid=*",
            "ünï",
        ] {
            let dn = member_dn(&t, account);
            let rdns = parse_dn(&dn).unwrap();
            assert_eq!(rdns.len(), 4, "{dn}");
            assert_eq!(t.account_of(&dn).as_deref(), Some(account), "{dn}");
        }
        assert_eq!(
            member_dn(&t, "a,ou=x"),
            "uid=a\\2cou\\3dx,ou=people,dc=example,dc=com"
        );
    }

    #[test]
    fn only_members_under_the_people_base_are_accounts() {
        let t = template();
        assert_eq!(
            t.account_of("UID=Bob,OU=People,DC=Example,DC=com")
                .as_deref(),
            Some("Bob")
        );
        assert_eq!(
            t.account_of("uid=a\\2Cb,ou=people,dc=example,dc=com")
                .as_deref(),
            Some("a,b")
        );
        for other in [
            "cn=admins,ou=groups,dc=example,dc=com",
            "uid=a,ou=x,ou=people,dc=example,dc=com",
            "uid=a+cn=b,ou=people,dc=example,dc=com",
            "cn=a,ou=people,dc=example,dc=com",
            "uid=#04024869,ou=people,dc=example,dc=com",
            "uid=a,ou=people,dc=example",
        ] {
            assert_eq!(t.account_of(other), None, "{other}");
        }
    }
}
