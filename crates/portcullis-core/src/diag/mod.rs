//! Findings as data: the rule registry, one `Diagnostic` type, and the `Report` every renderer
//! reads. Rules push diagnostics and go on; the exit code comes from the whole report.

pub mod render;
pub mod suggest;

use crate::model::{AppId, PersonId, RoleId};
use crate::model::{Pos, Severity};

macro_rules! rules {
    ($($variant:ident = $id:literal, $sev:ident;)*) => {
        /// Every rule of SPEC section 4, with its stable id.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Rule { $($variant,)* }

        impl Rule {
            pub const ALL: &'static [Rule] = &[$(Rule::$variant,)*];

            pub fn id(self) -> &'static str {
                match self { $(Rule::$variant => $id,)* }
            }

            pub fn default_severity(self) -> Severity {
                match self { $(Rule::$variant => Severity::$sev,)* }
            }

            /// The `explain` text: what, why, example, fix.
            pub fn doc(self) -> &'static str {
                match self { $(Rule::$variant => include_str!(concat!("../../../../docs/rules/", $id, ".md")),)* }
            }
        }
    };
}

rules! {
    YamlSyntax = "yaml-syntax", Error;
    FileTooLarge = "file-too-large", Error;
    Schema = "schema", Error;
    PathMismatch = "path-mismatch", Error;
    Symlink = "symlink", Error;
    UnknownPerson = "unknown-person", Error;
    UnknownApp = "unknown-app", Error;
    UnknownRole = "unknown-role", Error;
    DuplicateId = "duplicate-id", Error;
    DuplicateGrant = "duplicate-grant", Error;
    JustificationRequired = "justification-required", Error;
    Expired = "expired", Error;
    ExpiryRequired = "expiry-required", Error;
    ExpiryTooLong = "expiry-too-long", Error;
    BeyondEndDate = "beyond-end-date", Error;
    LeaverHasAccess = "leaver-has-access", Error;
    SodConflict = "sod-conflict", Error;
    SodExceptionExpired = "sod-exception-expired", Warning;
    SodExceptionUnused = "sod-exception-unused", Warning;
    CodeownersDrift = "codeowners-drift", Error;
    ExpiringSoon = "expiring-soon", Warning;
    ReviewOverdue = "review-overdue", Warning;
}

impl Rule {
    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.id() == id)
    }

    /// The first line of the rule's doc after its title: a one-line summary for SARIF.
    pub fn summary(self) -> &'static str {
        self.doc()
            .lines()
            .skip_while(|l| !l.starts_with("## What"))
            .nth(1)
            .or_else(|| {
                self.doc()
                    .lines()
                    .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
            })
            .unwrap_or(self.id())
    }
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Related {
    pub file: String,
    pub line: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub rule: Rule,
    pub severity: Severity,
    pub file: String,
    pub pos: Pos,
    pub message: String,
    pub hint: Option<String>,
    pub person: Option<PersonId>,
    pub app: Option<AppId>,
    pub role: Option<RoleId>,
    pub related: Vec<Related>,
    /// Set by `check --base` for findings the change neither adds nor touches.
    pub pre_existing: bool,
}

impl Diagnostic {
    pub fn new(rule: Rule, file: &str, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            rule,
            severity: rule.default_severity(),
            file: file.to_owned(),
            pos,
            message: message.into(),
            hint: None,
            person: None,
            app: None,
            role: None,
            related: Vec::new(),
            pre_existing: false,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    pub fn severity(mut self, severity: Severity) -> Diagnostic {
        self.severity = severity;
        self
    }

    pub fn subject(
        mut self,
        person: Option<&PersonId>,
        app: Option<&AppId>,
        role: Option<&RoleId>,
    ) -> Diagnostic {
        self.person = person.cloned();
        self.app = app.cloned();
        self.role = role.cloned();
        self
    }

    pub fn related(mut self, related: Vec<Related>) -> Diagnostic {
        self.related = related;
        self
    }

    /// Whether this finding makes the run fail.
    pub fn fails(&self) -> bool {
        self.severity == Severity::Error && !self.pre_existing
    }
}

/// The result of one `check`.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub diagnostics: Vec<Diagnostic>,
    pub files: usize,
    pub grants: usize,
    /// Only what a change reaches was read (`check --base`); `files` and `grants` count that.
    pub partial: bool,
}

impl Report {
    pub fn sort(&mut self) {
        self.diagnostics.sort_by(|a, b| {
            (&a.file, a.pos.line, a.pos.col, a.rule, &a.message)
                .cmp(&(&b.file, b.pos.line, b.pos.col, b.rule, &b.message))
        });
    }

    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.fails()).count()
    }

    pub fn warnings(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }

    pub fn pre_existing(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.pre_existing).count()
    }

    pub fn failed(&self) -> bool {
        self.errors() > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_unique_kebab_case_and_documented() {
        let mut seen = std::collections::BTreeSet::new();
        for rule in Rule::ALL {
            assert!(seen.insert(rule.id()), "duplicate id {}", rule.id());
            assert!(
                rule.id()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-')
            );
            let doc = rule.doc();
            assert!(
                doc.starts_with(&format!("# {}", rule.id())),
                "{}",
                rule.id()
            );
            for section in ["## What", "## Why", "## Example", "## Fix"] {
                assert!(doc.contains(section), "{} lacks {section}", rule.id());
            }
            assert_eq!(Rule::from_id(rule.id()), Some(*rule));
        }
        assert_eq!(Rule::ALL.len(), 22);
    }
}
