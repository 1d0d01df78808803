//! Validated domain types. A value of these types was accepted by its JSON Schema and by the
//! loader's semantic checks, and remembers where in its file it came from.
//! No I/O, no YAML: `load` builds these; `rules`, `codeowners` and later `plan` read them.

pub mod ids;
pub mod login;
pub mod time;

/// The first `n` characters of an id or hash for display, never cut inside a character: it may
/// come from a record or a response that nobody checked. Commits are shown by
/// [`short_commit`], at one length.
pub fn short_id(id: &str, n: usize) -> &str {
    id.char_indices().nth(n).map_or(id, |(i, _)| &id[..i])
}

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};

pub use crate::load::yaml::Pos;
pub use ids::{AppId, CommitId, PersonId, RoleId, short_commit};
pub use login::Login;
pub use time::Expiry;

/// A grant by what it grants: app, person and role. The identity history follows (audit), the
/// applied state records (apply) and quarantine holds back; ordered by app, then person, then
/// role, and serialised in that order (the signed applied state holds it).
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct GrantKey {
    pub app: AppId,
    pub person: PersonId,
    pub role: RoleId,
}

impl std::fmt::Display for GrantKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{} for {}", self.app, self.role, self.person)
    }
}

/// A value and the position of its text in the file.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub pos: Pos,
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Risk {
    Low,
    Medium,
    High,
    Critical,
}

impl Risk {
    pub fn parse(s: &str) -> Option<Risk> {
        Some(match s {
            "low" => Risk::Low,
            "medium" => Risk::Medium,
            "high" => Risk::High,
            "critical" => Risk::Critical,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
            Risk::Critical => "critical",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub org: String,
    pub security_team: String,
    pub emergency_approvers: Option<String>,
    pub warn_days: u32,
    pub min_justification: u32,
    pub default_max_duration: [Duration; 4],
    pub emergency_max_duration: Duration,
    pub request_ttl: Duration,
    /// The released build the workflows run.
    pub portcullis_version: Option<String>,
    /// `ed25519:<base64>`: verifies the applier's signed state and evidence.
    pub evidence_public_key: Option<String>,
    /// The account portcullis acts as; only its statuses are its own.
    pub bot_login: Option<String>,
    /// `@org/team` (lower-case) -> the team's numeric id: a re-created team is not the team.
    pub team_ids: std::collections::BTreeMap<String, u64>,
}

impl Settings {
    /// SPEC section 2: every field but `org` and `security_team` has a default.
    pub fn with_defaults(org: String, security_team: String) -> Settings {
        Settings {
            org,
            security_team,
            emergency_approvers: None,
            warn_days: 7,
            min_justification: 15,
            default_max_duration: [
                Duration::days(365),
                Duration::days(180),
                Duration::days(90),
                Duration::days(30),
            ],
            emergency_max_duration: Duration::hours(24),
            request_ttl: Duration::days(30),
            portcullis_version: None,
            evidence_public_key: None,
            bot_login: None,
            team_ids: Default::default(),
        }
    }

    pub fn max_duration(&self, risk: Risk) -> Duration {
        self.default_max_duration[risk as usize]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PersonType {
    Employee,
    Contractor,
    Vendor,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Person {
    pub id: Spanned<PersonId>,
    /// The list item in people.yaml.
    pub item: Pos,
    pub name: String,
    pub email: String,
    pub github: Option<String>,
    /// The numeric id of the GitHub account: a login whose id differs is not this person.
    pub github_id: Option<u64>,
    pub department: String,
    pub title: Option<String>,
    pub manager: Option<Spanned<PersonId>>,
    pub kind: PersonType,
    pub leaver: bool,
    pub end_date: Option<NaiveDate>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Approver {
    Manager,
    Owner,
    Security,
    /// An explicit `@org/team` or `@user`.
    Principal(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct AutoApprove {
    pub peer_adoption: f64,
    pub min_peers: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Role {
    pub id: Spanned<RoleId>,
    pub description: String,
    pub approvals: Vec<Approver>,
    pub max_duration: Option<Duration>,
    pub privileged: bool,
    pub auto_approve: Option<AutoApprove>,
    pub target: Option<String>,
}

/// How an app is provisioned (SPEC section 7). Field names follow the file format.
#[derive(Clone, Debug, PartialEq)]
pub enum Provisioner {
    GithubTeam {
        org: Option<String>,
        login: Option<String>,
    },
    Postgres {
        dsn_env: String,
        login: Option<String>,
    },
    Ldap {
        url_env: String,
        bind_dn: String,
        bind_password_env: String,
        group_base: String,
        login: String,
    },
    Scim {
        url_env: String,
        token_env: String,
        login: Option<String>,
    },
    Manual {
        checklist: Vec<String>,
    },
    Command {
        command: String,
        timeout_seconds: u32,
        env: Vec<String>,
    },
}

impl Provisioner {
    pub fn kind(&self) -> &'static str {
        match self {
            Provisioner::GithubTeam { .. } => "github-team",
            Provisioner::Postgres { .. } => "postgres",
            Provisioner::Ldap { .. } => "ldap",
            Provisioner::Scim { .. } => "scim",
            Provisioner::Manual { .. } => "manual",
            Provisioner::Command { .. } => "command",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct App {
    pub id: Spanned<AppId>,
    pub file: String,
    pub name: String,
    pub description: Option<String>,
    pub owners: Vec<String>,
    pub risk: Risk,
    pub review_every: Option<Duration>,
    pub unmanaged: Vec<String>,
    pub provisioner: Provisioner,
    pub roles: BTreeMap<RoleId, Role>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Grant {
    pub role: Spanned<RoleId>,
    /// The list item (`- role: ...`).
    pub item: Pos,
    pub justification: Option<Spanned<String>>,
    pub expires: Option<Spanned<Expiry>>,
    pub ticket: Option<String>,
    pub emergency: bool,
    pub reviewed: Option<Spanned<NaiveDate>>,
}

/// One `access/<app>/<person>.yaml`.
#[derive(Clone, Debug, PartialEq)]
pub struct GrantFile {
    pub path: String,
    pub person: Spanned<PersonId>,
    pub app: Spanned<AppId>,
    pub grants: Vec<Grant>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AppRole {
    pub app: AppId,
    pub role: RoleId,
}

impl std::fmt::Display for AppRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.app, self.role)
    }
}

impl AppRole {
    pub fn parse(s: &str) -> Option<AppRole> {
        let (app, role) = s.split_once(':')?;
        Some(AppRole {
            app: app.into(),
            role: role.into(),
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SodRule {
    pub id: Spanned<String>,
    pub description: String,
    pub severity: Severity,
    pub conflicts: Vec<Vec<Spanned<AppRole>>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SodException {
    pub item: Pos,
    pub rule: Spanned<String>,
    pub person: Spanned<PersonId>,
    pub justification: String,
    pub expires: Spanned<NaiveDate>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BirthrightRule {
    pub item: Pos,
    pub department: Option<String>,
    pub title: Option<String>,
    pub kind: Option<PersonType>,
    pub grants: Vec<Spanned<AppRole>>,
    pub justification: Option<String>,
}

pub const SETTINGS_FILE: &str = "policies/settings.yaml";
pub const PEOPLE_FILE: &str = "policies/people.yaml";
pub const SOD_FILE: &str = "policies/sod.yaml";
pub const BIRTHRIGHT_FILE: &str = "policies/birthright.yaml";
pub const CODEOWNERS_FILE: &str = ".github/CODEOWNERS";

/// Everything that loaded. Files that failed to load are absent; their diagnostics say why.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub settings: Option<Settings>,
    /// First occurrence of each id; later duplicates are reported and left out. Hashed: it is
    /// looked up once per grant file and may hold tens of thousands of people. (foldhash:
    /// SipHash was a tenth of loading the directory; foldhash is seeded per process too.)
    pub people: foldhash::HashMap<PersonId, Box<Person>>,
    pub apps: BTreeMap<AppId, App>,
    pub sod_rules: Vec<SodRule>,
    pub sod_exceptions: Vec<SodException>,
    pub birthright: Vec<BirthrightRule>,
    pub grant_files: Vec<GrantFile>,
    /// Ids of people and apps whose entry exists but failed to load: references to them are
    /// not reported again as unknown (the schema finding already says what to fix).
    pub broken_people: std::collections::BTreeSet<PersonId>,
    pub broken_apps: std::collections::BTreeSet<AppId>,
    /// People known only by department and status, from a directory read in part (`plan`
    /// parses the entries it shows and counts department peers from the rest). Empty when
    /// every entry was read into `people`.
    pub roster: Vec<Member>,
}

/// A person as department counts need them.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    pub id: PersonId,
    pub department: String,
    pub leaver: bool,
}

impl Catalog {
    /// Everyone, as department counts need them: `people`, then the roster's others.
    pub fn members(&self) -> impl Iterator<Item = (&str, &str, bool)> {
        self.people
            .values()
            .map(|p| (p.id.value.as_str(), p.department.as_str(), p.leaver))
            .chain(
                self.roster
                    .iter()
                    .filter(|m| !self.people.contains_key(&m.id))
                    .map(|m| (m.id.as_str(), m.department.as_str(), m.leaver)),
            )
    }
}

impl Catalog {
    pub fn grant_count(&self) -> usize {
        self.grant_files.iter().map(|f| f.grants.len()).sum()
    }
}
