//! One small organisation (Tidewater), written once for every in-process test: settings that
//! name the bot, a directory of six people under one manager, a VPN owned by the IT team with
//! a privileged role and a manager-approved contractor role, and a portal owned by the IT team
//! and one person.

use crate::{MemGitHub, MemRepo};

/// A grant file of `person` in `app`, one grant per `(role, expires)`; an `admin` role that
/// expires at a time of day is an emergency grant.
pub fn grants(person: &str, app: &str, roles: &[(&str, &str)]) -> String {
    let mut s = format!("person: {person}\napp: {app}\ngrants:\n");
    for (role, expires) in roles {
        s.push_str(&format!(
            "  - role: {role}\n    justification: Works from the road most of the week\n"
        ));
        if !expires.is_empty() {
            s.push_str(&format!("    expires: {expires}\n"));
        }
        if role.starts_with("admin") && expires.contains('T') {
            s.push_str("    emergency: true\n");
        }
    }
    s
}

fn person(id: &str, github: &str, manager: Option<&str>) -> String {
    let mut s = format!(
        "  - id: {id}\n    name: {id} Example\n    email: {id}@tidewater.example\n    department: finance\n    type: employee\n    status: active\n    github: {github}\n"
    );
    if let Some(m) = manager {
        s.push_str(&format!("    manager: {m}\n"));
    }
    s
}

const SETTINGS: &str = "org: tidewater\nsecurity_team: \"@tidewater/security\"\nemergency_approvers: \"@tidewater/oncall\"\nbot_login: \"portcullis[bot]\"\n";

const VPN: &str = "id: vpn\nname: Corporate VPN\nowners: [\"@tidewater/it\"]\nrisk: low\nprovisioner:\n  type: manual\n  checklist:\n    - Add or remove the account in the gateway\nroles:\n  staff:\n    description: Office network access\n    target: vpn-users\n  contractor:\n    description: Office network access for contractors\n    target: vpn-users\n    approvals: [manager, owner]\n  admin:\n    description: Gateway administration\n    target: vpn-admins\n    privileged: true\n    max_duration: 30d\n";

const TREASURY: &str = "id: treasury\nname: Treasury Portal\nowners: [\"@tidewater/it\", \"@kenji-tw\"]\nrisk: low\nprovisioner:\n  type: manual\n  checklist:\n    - Add or remove the entitlement in the portal\nroles:\n  viewer:\n    description: Read balances\n";

/// The organisation's people: `(id, GitHub login)`; Elena manages the others.
pub const PEOPLE: [(&str, &str); 6] = [
    ("elena", "elena-tw"),
    ("omar", "omar-tw"),
    ("ana", "ana-tw"),
    ("kenji", "kenji-tw"),
    ("lena", "lena-tw"),
    ("dana", "dana-tw"),
];

/// Builds Tidewater on `main` of a [`MemRepo`] and its accounts and teams in a [`MemGitHub`]:
/// Kenji is the IT team, Lena security, Dana on call.
#[derive(Default)]
pub struct OrgBuilder {
    files: Vec<(String, String)>,
}

impl OrgBuilder {
    pub fn new() -> OrgBuilder {
        OrgBuilder::default()
    }

    /// One more file in the first commit (a grant file, another app).
    pub fn file(mut self, path: &str, text: &str) -> OrgBuilder {
        self.files.push((path.to_owned(), text.to_owned()));
        self
    }

    /// Writes the first commit on `main`; returns its id.
    pub fn build(self, repo: &mut MemRepo, gh: &mut MemGitHub) -> String {
        let mut people = String::from("people:\n");
        for (id, login) in PEOPLE {
            let manager = (id != "elena").then_some("elena");
            people.push_str(&person(id, login, manager));
        }
        let mut files: Vec<(&str, Option<&str>)> = vec![
            ("policies/settings.yaml", Some(SETTINGS)),
            ("policies/people.yaml", Some(&people)),
            ("policies/apps/vpn.yaml", Some(VPN)),
            ("policies/apps/treasury.yaml", Some(TREASURY)),
        ];
        files.extend(
            self.files
                .iter()
                .map(|(p, t)| (p.as_str(), Some(t.as_str()))),
        );
        let sha = repo.commit("main", &files, "The organisation");
        for (_, login) in PEOPLE {
            gh.add_user(login);
        }
        // The bot's token is an installation's, as in the workflows: it cannot ask who it is,
        // so the settings name it.
        gh.add_user("portcullis[bot]");
        gh.add_team("tidewater", "it", &["kenji-tw"]);
        gh.add_team("tidewater", "security", &["lena-tw"]);
        gh.add_team("tidewater", "oncall", &["dana-tw"]);
        sha
    }
}

/// `author` opens pull request `number` from a branch off `main` whose one commit writes
/// `edits`, committed under an address GitHub links to `committer` (`None`: to nobody); the
/// head commit.
pub fn ask(
    repo: &mut MemRepo,
    gh: &mut MemGitHub,
    number: u64,
    author: &str,
    edits: &[(&str, Option<&str>)],
    committer: Option<&str>,
) -> String {
    let branch = format!("pr-{number}");
    repo.branch(&branch, "main");
    let head = repo.commit(&branch, edits, "Ask");
    let base = repo.tip("main");
    gh.open_pull(
        number,
        author,
        &branch,
        &head,
        &base,
        &[(&head, committer)],
        "",
    );
    head
}
