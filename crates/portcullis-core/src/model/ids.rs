//! The ids a grant is made of, one type each: a person's id can't be passed where an app's is
//! wanted, and a grant key can't be built with its parts swapped (the kind of mistake that
//! grants `payroll` to the wrong record and still type-checks when all three are `String`).
//!
//! Each derefs to `str` and borrows as `str`: ids end up in paths, YAML, messages and map
//! lookups by text read from a file, and those stay as they were. What the types guard is
//! where an id is stored and where ids are put together. Ids compare as written (a person's id
//! is a file name); [`Login`](super::Login) is the one that compares without case.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> $name {
                $name(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl maud::Render for $name {
            fn render_to(&self, buffer: &mut String) {
                self.0.render_to(buffer);
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> $name {
                $name(id.to_owned())
            }
        }

        impl From<&String> for $name {
            fn from(id: &String) -> $name {
                $name(id.clone())
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> $name {
                $name(id)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }
    };
}

id!(
    /// A person's id in `policies/people.yaml`: the file name under `access/<app>/`.
    PersonId
);
id!(
    /// An app's id: its file in `policies/apps/` and its folder under `access/`.
    AppId
);
id!(
    /// A role's id within its app.
    RoleId
);
id!(
    /// A commit's id as git or GitHub gave it. Not checked to be hex: it may come from a record
    /// or a response nobody checked, so [`CommitId::short`] never cuts inside a character.
    CommitId
);

impl CommitId {
    /// The commit as every message shows it (see [`short_commit`]).
    pub fn short(&self) -> &str {
        short_commit(&self.0)
    }
}

/// The first 10 characters of a commit id, the one length every output shows a commit at,
/// never cut inside a character; for ids held as text (a response's, a record's).
pub fn short_commit(id: &str) -> &str {
    super::short_id(id, 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A map keyed by an id is looked up by the text a file holds.
    #[test]
    fn ids_borrow_as_text() {
        let mut apps = std::collections::BTreeMap::new();
        apps.insert(AppId::new("payroll"), 1);
        assert_eq!(apps.get("payroll"), Some(&1));
        assert_eq!(AppId::new("payroll"), "payroll");
        assert_ne!(PersonId::new("Ada"), "ada", "person ids compare as written");
    }

    #[test]
    fn a_short_commit_id_never_cuts_a_character() {
        assert_eq!(CommitId::new("0123456789abcdef").short(), "0123456789");
        assert_eq!(CommitId::new("ééééééééééééé").short(), "éééééééééé");
        assert_eq!(CommitId::new("abc").short(), "abc");
    }
}
