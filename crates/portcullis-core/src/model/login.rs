//! A GitHub login. GitHub treats `Omar` and `omar` as one account, and every rule that names
//! someone (the author may not approve, a grantee may not approve their own grant, an owner
//! must) compares logins; so a `Login` is held in one case and compares, sorts and hashes as
//! GitHub does, and two spellings of one account can never slip past each other.
//! Logins are ASCII (the directory's schema and GitHub both say so): only ASCII letters fold,
//! so no other character can be made to look like a letter of someone else's login.

use std::fmt;

use serde::Serialize;

#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Login(String);

impl Login {
    pub fn new(login: &str) -> Login {
        Login(login.to_ascii_lowercase())
    }

    /// The login in lower case, as it is compared.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `other` names this account.
    pub fn is(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }
}

impl fmt::Display for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Login {
    fn from(login: &str) -> Login {
        Login::new(login)
    }
}

impl From<&String> for Login {
    fn from(login: &String) -> Login {
        Login::new(login)
    }
}

impl From<String> for Login {
    fn from(login: String) -> Login {
        Login::new(&login)
    }
}

#[cfg(test)]
mod tests {
    use super::Login;

    #[test]
    fn one_account_whatever_the_case() {
        assert_eq!(Login::new("Omar-GH"), Login::new("omar-gh"));
        assert!(Login::new("OMAR").is("omar"));
        let set: std::collections::BTreeSet<Login> =
            ["Ada", "ada", "ADA"].into_iter().map(Login::new).collect();
        assert_eq!(set.len(), 1);
    }

    /// The Kelvin sign lowercases to `k` by Unicode's rules; it is not GitHub's `k`.
    #[test]
    fn only_ascii_letters_fold() {
        assert_ne!(Login::new("\u{212A}im"), Login::new("kim"));
        assert!(!Login::new("kim").is("\u{212A}im"));
    }
}
