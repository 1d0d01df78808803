//! `postgres`: a role's target is a database role, a person's account is a login role, and a
//! grant is membership (`GRANT "role" TO "login"`).
//!
//! Revocation also ends the login's open sessions: a session that ran `SET ROLE role` keeps the
//! role's privileges after `REVOKE` until it disconnects (THREATS 9). Identifiers are always
//! double-quoted; names PostgreSQL would truncate or cannot hold are refused. portcullis never
//! creates or drops roles.
//!
//! The connecting role needs to be able to grant the target roles (ADMIN OPTION, CREATEROLE or
//! superuser) and to signal the logins' backends (`pg_signal_backend`).

use std::collections::BTreeSet;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use postgres::{Client, Config};

use super::{Effect, Provisioner, check_name};

/// NAMEDATALEN - 1: PostgreSQL silently truncates longer identifiers, which could name a
/// different role.
const MAX_IDENT: usize = 63;

/// How long `remove` waits for each terminated session to end.
const TERMINATE_WAIT_MS: i64 = 5000;

pub struct Postgres {
    client: Client,
}

impl Postgres {
    /// Connects with a libpq-style connection string or URL. TLS, when the server or `sslmode`
    /// asks for it, verifies against the system's trusted roots.
    pub fn connect(dsn: &str) -> Result<Postgres> {
        // The DSN holds the password: never echo it.
        let config: Config = dsn
            .parse()
            .map_err(|e| anyhow::anyhow!("the PostgreSQL connection string is not valid: {e}"))?;
        let client = config.connect(tls()?).with_context(|| {
            format!(
                "cannot connect to PostgreSQL at {}",
                describe_hosts(&config)
            )
        })?;
        Ok(Postgres { client })
    }

    fn role_exists(&mut self, name: &str) -> Result<bool> {
        let row = self
            .client
            .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&name])
            .with_context(|| format!("cannot look up PostgreSQL role {}", quote_ident(name)))?;
        Ok(row.is_some())
    }

    fn is_member(&mut self, role: &str, login: &str) -> Result<bool> {
        let row = self
            .client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_auth_members am
                   JOIN pg_roles r ON r.oid = am.roleid JOIN pg_roles m ON m.oid = am.member
                   WHERE r.rolname = $1 AND m.rolname = $2)",
                &[&role, &login],
            )
            .with_context(|| format!("cannot read the members of role {}", quote_ident(role)))?;
        Ok(row.get(0))
    }

    fn require_role(&mut self, role: &str) -> Result<()> {
        if !self.role_exists(role)? {
            bail!(
                "PostgreSQL role {} does not exist\nhint: create it in the database or fix the role's `target`; portcullis grants roles, it does not create them",
                quote_ident(role)
            );
        }
        Ok(())
    }

    /// Ends every session of `login` and waits for each to go.
    fn terminate_sessions(&mut self, login: &str) -> Result<()> {
        let rows = self
            .client
            .query(
                "SELECT pid, pg_terminate_backend(pid, $2) FROM pg_stat_activity
                 WHERE usename = $1 AND pid <> pg_backend_pid()",
                &[&login, &TERMINATE_WAIT_MS],
            )
            .with_context(|| {
                format!(
                    "revoked, but cannot end the open sessions of {}\nhint: the connecting role needs `pg_signal_backend`",
                    quote_ident(login)
                )
            })?;
        // false: the session was still there when the wait ran out (a session that had
        // already gone is not in pg_stat_activity any more).
        let stuck: Vec<i32> = rows
            .iter()
            .filter(|r| !r.get::<_, bool>(1))
            .map(|r| r.get(0))
            .collect();
        if !stuck.is_empty() {
            bail!(
                "revoked, but sessions {stuck:?} of {} did not end within {} ms",
                quote_ident(login),
                TERMINATE_WAIT_MS
            );
        }
        Ok(())
    }
}

impl Provisioner for Postgres {
    fn list(&mut self, target: &str) -> Result<BTreeSet<String>> {
        check_ident(target)?;
        self.require_role(target)?;
        let rows = self
            .client
            .query(
                "SELECT DISTINCT m.rolname::text FROM pg_auth_members am
                   JOIN pg_roles r ON r.oid = am.roleid JOIN pg_roles m ON m.oid = am.member
                   WHERE r.rolname = $1",
                &[&target],
            )
            .with_context(|| format!("cannot read the members of role {}", quote_ident(target)))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn add(&mut self, target: &str, account: &str) -> Result<Effect> {
        check_ident(target)?;
        check_ident(account)?;
        self.require_role(target)?;
        if !self.role_exists(account)? {
            bail!(
                "PostgreSQL login role {} does not exist\nhint: create the login first; portcullis grants roles, it does not create logins",
                quote_ident(account)
            );
        }
        if self.is_member(target, account)? {
            return Ok(Effect::Unchanged);
        }
        let sql = format!("GRANT {} TO {}", quote_ident(target), quote_ident(account));
        self.client
            .batch_execute(&sql)
            .with_context(|| format!("`{sql}` failed"))?;
        Ok(Effect::Changed)
    }

    /// Revokes, then ends the login's sessions. Sessions are ended even when the membership was
    /// already gone, so a run that stopped between the two finishes the revocation on resume.
    fn remove(&mut self, target: &str, account: &str) -> Result<Effect> {
        check_ident(target)?;
        check_ident(account)?;
        self.require_role(target)?;
        if !self.role_exists(account)? {
            return Ok(Effect::Unchanged);
        }
        let outcome = if self.is_member(target, account)? {
            let sql = format!(
                "REVOKE {} FROM {}",
                quote_ident(target),
                quote_ident(account)
            );
            self.client
                .batch_execute(&sql)
                .with_context(|| format!("`{sql}` failed"))?;
            // A REVOKE by a role that is not the grantor only warns; check it took effect.
            if self.is_member(target, account)? {
                bail!(
                    "`{sql}` left the membership in place (it was granted by another role)\nhint: revoke it as the grantor, or grant through the role portcullis connects as"
                );
            }
            Effect::Changed
        } else {
            Effect::Unchanged
        };
        self.terminate_sessions(account)?;
        Ok(outcome)
    }
}

/// A PostgreSQL identifier in double quotes, inner quotes doubled: it is taken literally, case
/// and spaces included, and nothing in it can end the identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Names PostgreSQL stores exactly: not empty, no NUL or control characters, and not longer
/// than it would keep.
pub fn check_ident(name: &str) -> Result<()> {
    check_name("PostgreSQL role", name)?;
    if name.len() > MAX_IDENT {
        bail!(
            "PostgreSQL role name {} is {} bytes; PostgreSQL keeps only {MAX_IDENT} and would name another role",
            quote_ident(name),
            name.len()
        );
    }
    Ok(())
}

fn describe_hosts(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            postgres::config::Host::Tcp(h) => h.clone(),
            postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    format!("host {} port {}", hosts.join(","), ports.join(","))
}

fn tls() -> Result<tokio_postgres_rustls::MakeRustlsConnect> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("cannot set up TLS")?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_so_nothing_ends_them() {
        assert_eq!(quote_ident("billing_ops"), "\"billing_ops\"");
        assert_eq!(
            quote_ident("a\"; DROP ROLE x; --"),
            "\"a\"\"; DROP ROLE x; --\""
        );
        assert_eq!(quote_ident("Mixed Case"), "\"Mixed Case\"");
    }

    #[test]
    fn names_postgres_would_change_are_refused() {
        assert!(check_ident("a\0b").is_err());
        assert!(check_ident("").is_err());
        let long = "r".repeat(64);
        let e = check_ident(&long).unwrap_err().to_string();
        assert!(e.contains("only 63"), "{e}");
        check_ident(&"r".repeat(63)).unwrap();
    }
}
