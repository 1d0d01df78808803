//! `apply` and `reconcile` through the binary, against the fake GitHub, each test trying to break
//! one promise of THREATS.md.
//!
//! Targets are the in-memory reference backend's behaviour run as a `command` provisioner: a
//! small Python store (`STORE_SCRIPT`) that keeps memberships in a JSON file, logs every write
//! it makes, can fail a listing, and can kill portcullis (its parent) right after its N-th write.
//! Going through `command` rather than a test-only construction exercises the real binary, the
//! real process boundary and a real `SIGKILL` between two writes, with no test hook in the
//! product.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output};

use portcullis_core::evidence::{self, Kind, Note, Outcome};
use portcullis_github::Client;
use serde_json::{Value, json};

use crate::fake_github::FakeGitHub;
use crate::support::git;

pub const REPO: &str = "tidewater/access";

const STORE_SCRIPT: &str = r#"
import json, os, signal, sys
store = os.environ["STORE"]
path = os.path.join(store, "state.json")
state = json.load(open(path))
req = json.loads(sys.stdin.read())
target = req["target"]
if req["op"] == "list" and target in state.get("fail_list", []):
    sys.stderr.write("listing %s failed at page 3\n" % target)
    sys.exit(3)
members = state["targets"].get(target)
if members is None:
    sys.stderr.write("no such group %s\n" % target)
    sys.exit(4)
if req["op"] == "list":
    print(json.dumps({"members": members}))
    sys.exit(0)
account = req["account"]
if (req["op"] == "add") == (account in members):
    print(json.dumps({"outcome": "unchanged"}))
    sys.exit(0)
if req["op"] == "add":
    members.append(account)
else:
    members.remove(account)
state["writes"] = state.get("writes", 0) + 1
json.dump(state, open(path + ".tmp", "w"))
os.replace(path + ".tmp", path)
with open(os.path.join(store, "ops.log"), "a") as log:
    log.write("%s %s %s\n" % (req["op"], target, account))
print(json.dumps({"outcome": "changed"}))
sys.stdout.flush()
if state.get("crash_after") and state["writes"] == state["crash_after"]:
    os.kill(os.getppid(), signal.SIGKILL)
"#;

fn person(id: &str, github: Option<&str>, manager: Option<&str>) -> String {
    let mut s = format!(
        "  - id: {id}\n    name: {id} Example\n    email: {id}@tidewater.example\n    department: finance\n    type: employee\n    status: active\n"
    );
    if let Some(g) = github {
        s.push_str(&format!("    github: {g}\n"));
    }
    if let Some(m) = manager {
        s.push_str(&format!("    manager: {m}\n"));
    }
    s
}

pub use portcullis_testkit::grants;

/// The test organisation, a clone to run portcullis in, and the store its `vpn` targets live in.
pub struct Org {
    pub gh: FakeGitHub,
    pub clone: tempfile::TempDir,
    pub bot: String,
    pub store: tempfile::TempDir,
    /// More environment for every run (the systems' addresses and secrets).
    pub env: Vec<(String, String)>,
}

impl Org {
    /// `staff`: who holds `vpn:staff` in the first commit; `members`: what the store holds.
    pub fn new(staff: &[(&str, &str)], members: &[&str]) -> Org {
        Org::build(staff, members, &[])
    }

    /// As `new`, with more people in the directory.
    pub fn build(staff: &[(&str, &str)], members: &[&str], more_people: &[String]) -> Org {
        let store = tempfile::tempdir().unwrap();
        let script = store.path().join("store");
        std::fs::write(&script, format!("#!/usr/bin/python3\n{STORE_SCRIPT}")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut files = vec![
            (
                "policies/apps/vpn.yaml".to_owned(),
                format!(
                    "id: vpn\nname: Corporate VPN\nowners: [\"@tidewater/it\"]\nrisk: low\nunmanaged: [breakglass]\nprovisioner: {{type: command, command: {}, timeout_seconds: 30, env: [STORE]}}\nroles:\n  staff:\n    description: Office network access\n    target: vpn-users\n  contractor:\n    description: Office network access for contractors\n    target: vpn-users\n    approvals: [manager, owner]\n  admin:\n    description: Gateway administration\n    target: vpn-admins\n    privileged: true\n    max_duration: 30d\n",
                    script.display()
                ),
            ),
            (
                "policies/apps/treasury.yaml".to_owned(),
                "id: treasury\nname: Treasury Portal\nowners: [\"@tidewater/it\", \"@kenji-tw\"]\nrisk: low\nprovisioner:\n  type: manual\n  checklist:\n    - Add or remove the entitlement in the portal\n    - Close this issue\nroles:\n  viewer:\n    description: Read balances\n".to_owned(),
            ),
        ];
        for (id, expires) in staff {
            files.push((
                format!("access/vpn/{id}.yaml"),
                grants(id, "vpn", &[("staff", expires)]),
            ));
        }
        let o = Org::seeded(&files, more_people, store);
        o.set_store(json!({
            "targets": {"vpn-users": members, "vpn-admins": []},
        }));
        o
    }

    /// An organisation whose first commit holds the settings, the directory (the usual people
    /// and `more_people`) and `files` (app policies, grant files). `store` is the `STORE`
    /// directory of every run.
    pub fn seeded(
        files: &[(String, String)],
        more_people: &[String],
        store: tempfile::TempDir,
    ) -> Org {
        let org = tempfile::tempdir().unwrap();
        let write = |path: &str, text: &str| {
            let p = org.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write(
            "policies/settings.yaml",
            "org: tidewater\nsecurity_team: \"@tidewater/security\"\nemergency_approvers: \"@tidewater/oncall\"\nbot_login: \"portcullis[bot]\"\nevidence_public_key: \"ed25519:GX9rI+FshTLGq8g4+s1ep4m+DHaykgM0A5v6iz02jWE=\"\n",
        );
        let mut people = String::from("people:\n");
        people.push_str(&person("elena", Some("elena-tw"), None));
        for (id, gh) in [
            ("omar", "omar-tw"),
            ("ana", "ana-tw"),
            ("kenji", "kenji-tw"),
            ("lena", "lena-tw"),
            ("dana", "dana-tw"),
        ] {
            people.push_str(&person(id, Some(gh), Some("elena")));
        }
        for i in 1..=8 {
            people.push_str(&person(&format!("p{i}"), None, Some("elena")));
        }
        for p in more_people {
            people.push_str(&person(p, None, Some("elena")));
        }
        write("policies/people.yaml", &people);
        for (path, text) in files {
            write(path, text);
        }
        let gh = FakeGitHub::start();
        gh.create_repo(REPO, org.path());
        for login in [
            "omar-tw", "elena-tw", "ana-tw", "kenji-tw", "lena-tw", "dana-tw",
        ] {
            gh.add_user(
                login,
                &format!("{}@tidewater.example", login.trim_end_matches("-tw")),
            );
        }
        let bot = gh.add_bot("portcullis[bot]");
        gh.add_team("tidewater", "it", &["kenji-tw"]);
        gh.add_team("tidewater", "security", &["lena-tw"]);
        gh.add_team("tidewater", "oncall", &["dana-tw"]);
        let clone = tempfile::tempdir().unwrap();
        let status = Command::new("git")
            .args(["clone", "-q"])
            .arg(gh.git_dir(REPO))
            .arg(clone.path())
            .status()
            .unwrap();
        assert!(status.success());
        Org {
            gh,
            clone,
            bot,
            store,
            env: Vec::new(),
        }
    }

    pub fn set_store(&self, state: Value) {
        std::fs::write(self.store.path().join("state.json"), state.to_string()).unwrap();
    }

    pub fn store_state(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.store.path().join("state.json")).unwrap())
            .unwrap()
    }

    /// Changes the store's state with `f`.
    pub fn edit_store(&self, f: impl FnOnce(&mut Value)) {
        let mut s = self.store_state();
        f(&mut s);
        self.set_store(s);
    }

    pub fn members(&self, target: &str) -> BTreeSet<String> {
        self.store_state()["targets"][target]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }

    /// Every write the store made, in order: `op target account`.
    pub fn writes(&self) -> Vec<String> {
        std::fs::read_to_string(self.store.path().join("ops.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Fetches the branch and every pull request's head, as `apply.yml` does.
    pub fn fetch(&self) {
        git(
            self.clone.path(),
            &[
                "fetch",
                "-q",
                "-f",
                "origin",
                "+refs/heads/main:refs/remotes/origin/main",
                "+refs/pull/*/head:refs/remotes/pull/*/head",
            ],
        );
    }

    pub fn run(&self, args: &[&str], as_of: &str) -> Output {
        self.fetch();
        self.run_fetched(args, as_of)
    }

    /// `run` without the fetch before it, for timing the binary alone.
    pub fn run_fetched(&self, args: &[&str], as_of: &str) -> Output {
        Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(args)
            .args([
                "--root",
                self.clone.path().to_str().unwrap(),
                "--as-of",
                as_of,
            ])
            .env("GITHUB_API_URL", self.gh.url())
            .env("GITHUB_TOKEN", &self.bot)
            .env("PORTCULLIS_SIGNING_KEY", crate::support::TEST_SIGNING_KEY)
            .env("GITHUB_REPOSITORY", REPO)
            .env("PORTCULLIS_GITHUB_MAX_WAIT", "5")
            .env("STORE", self.store.path())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env_remove("GITHUB_RUN_ID")
            .output()
            .unwrap()
    }

    pub fn apply(&self, extra: &[&str]) -> Output {
        let mut args = vec!["apply"];
        args.extend_from_slice(extra);
        self.run(&args, "2026-11-22")
    }

    /// The first run: trusts the seed commit.
    pub fn trust(&self) -> Output {
        let out = self.apply(&["--trust-from", "HEAD"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        out
    }

    /// A pull request by Omar changing `files`, approved by `approvers` (tokens), merged.
    pub fn merged_pr(
        &self,
        branch: &str,
        files: &[(&str, Option<&str>)],
        approvers: &[&str],
    ) -> (u64, String) {
        self.gh.push_commit(branch, files, "omar@tidewater.example");
        let pr = self.gh.open_pull(
            "token-omar-tw",
            branch,
            "main",
            &format!("Change {branch}"),
            "",
        );
        for a in approvers {
            self.gh.review(a, pr, "APPROVED");
        }
        let head = self.gh.branch_sha(branch).unwrap();
        let merge = self.client().merge_pull(pr, &head).unwrap();
        (pr, merge)
    }

    pub fn client(&self) -> Client {
        Client::new(&self.gh.url(), Some(&self.bot), REPO).unwrap()
    }

    pub fn issues(&self, label: &str) -> Vec<portcullis_github::Issue> {
        self.client().issues("all", &[label]).unwrap()
    }

    /// Every evidence record, in chain order; asserts the chain verifies.
    pub fn evidence(&self) -> Vec<Note> {
        let repo = git2::Repository::open(self.clone.path()).unwrap();
        let stored = portcullis_git::history::read_notes(&repo).unwrap();
        let breaks = evidence::chain_verify(&stored);
        assert!(breaks.is_empty(), "the evidence chain breaks: {breaks:?}");
        let (records, _) = evidence::read_all(&stored);
        records.into_iter().map(|r| r.note).collect()
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn set(xs: &[&str]) -> BTreeSet<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

fn ana_staff() -> String {
    grants("ana", "vpn", &[("staff", "")])
}

#[test]
fn an_approved_pull_request_is_provisioned_with_its_evidence_and_a_second_run_writes_nothing() {
    let org = Org::new(&[("omar", "")], &["omar"]);
    org.trust();
    assert!(org.writes().is_empty(), "the trusted state already holds");
    let ana = ana_staff();
    let (pr, merge) = org.merged_pr(
        "access/vpn/ana/staff",
        &[("access/vpn/ana.yaml", Some(&ana))],
        &["token-kenji-tw"],
    );
    let out = org.apply(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("is #{pr} (owner @kenji-tw)")),
        "{}",
        text(&out)
    );
    assert_eq!(org.members("vpn-users"), set(&["omar", "ana"]));
    assert_eq!(org.writes(), ["add vpn-users ana"]);

    let notes = org.evidence();
    let record = notes
        .iter()
        .find(|n| n.commit == merge)
        .expect("a record for the merge commit");
    assert_eq!(record.kind, Kind::Apply);
    assert_eq!(record.pr, Some(pr));
    assert_eq!(record.approvals.len(), 1);
    assert_eq!(record.approvals[0].reviewer, "kenji-tw");
    assert_eq!(record.approvals[0].as_, "owner");
    assert!(record.approvals[0].review_id > 0);
    assert_eq!(
        record.pr_head.as_deref(),
        Some(org.gh.branch_sha("access/vpn/ana/staff").unwrap().as_str())
    );
    assert_eq!(record.actions.len(), 1);
    assert_eq!(record.actions[0].result, Outcome::Changed);
    assert_eq!(record.bypass, None);
    assert!(record.run.finished_at.is_some());

    // Converged: the next run changes nothing and records nothing new.
    let before = notes.len();
    let out = org.apply(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        org.writes().len(),
        1,
        "a second run wrote: {:?}",
        org.writes()
    );
    assert_eq!(org.evidence().len(), before);
}

/// GitHub's squash and rebase merges land commits other than the approved head: one squashed
/// commit, or a copy of each of the head's commits. Each is tied to its pull request and
/// provisioned with its approvals; after a rebase, every copy carries the pull request, so
/// none is quarantined as a direct push.
#[test]
fn squash_and_rebase_merges_are_provisioned_with_their_pull_request() {
    for method in ["squash", "rebase"] {
        let org = Org::new(&[("omar", "")], &["omar"]);
        org.trust();
        let branch = format!("access/vpn/{method}");
        let grant = |who: &str| grants(who, "vpn", &[("staff", "")]);
        for who in ["ana", "dana"] {
            let file = format!("access/vpn/{who}.yaml");
            org.gh.push_commit(
                &branch,
                &[(&file, Some(&grant(who)))],
                "omar@tidewater.example",
            );
        }
        let pr = org
            .gh
            .open_pull("token-omar-tw", &branch, "main", "VPN for two", "");
        org.gh.review("token-kenji-tw", pr, "APPROVED");
        let landed = org.gh.merge_by("kenji-tw", pr, method);
        let repo = git2::Repository::open(org.gh.git_dir(REPO)).unwrap();
        let tip = repo
            .find_commit(git2::Oid::from_str(&landed).unwrap())
            .unwrap();
        assert_eq!(tip.parent_count(), 1, "{method}: a merge commit landed");
        let commits = if method == "rebase" { 3 } else { 2 };
        let mut walk = repo.revwalk().unwrap();
        walk.push(tip.id()).unwrap();
        let on_main: Vec<git2::Oid> = walk.map(Result::unwrap).collect();
        assert_eq!(on_main.len(), commits, "{method}: commits on main");
        let head = git2::Oid::from_str(&org.gh.branch_sha(&branch).unwrap()).unwrap();
        assert!(!on_main.contains(&head), "{method}: the head itself landed");

        let out = org.apply(&[]);
        assert_eq!(out.status.code(), Some(0), "{method}: {}", text(&out));
        assert!(
            text(&out).contains(" 0 commits quarantined"),
            "{method}: {}",
            text(&out)
        );
        assert_eq!(
            org.members("vpn-users"),
            set(&["omar", "ana", "dana"]),
            "{method}"
        );
        let notes = org.evidence();
        let record = notes
            .iter()
            .find(|n| n.commit == landed)
            .unwrap_or_else(|| panic!("{method}: no record for {landed}"));
        assert_eq!(record.pr, Some(pr), "{method}");
        assert_eq!(record.approvals.len(), 1, "{method}");
        assert_eq!(record.approvals[0].reviewer, "kenji-tw", "{method}");
        assert!(
            notes.iter().all(|n| n.bypass.is_none()),
            "{method}: a bypass was recorded"
        );
    }
}

#[test]
fn a_direct_push_is_quarantined_reported_once_and_never_provisioned() {
    let org = Org::new(&[("omar", "")], &["omar"]);
    org.trust();
    let ana = ana_staff();
    let pushed = org.gh.push_commit(
        "main",
        &[("access/vpn/ana.yaml", Some(&ana))],
        "omar@tidewater.example",
    );
    let out = org.apply(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("without a pull request"),
        "{}",
        text(&out)
    );
    assert_eq!(org.members("vpn-users"), set(&["omar"]));
    let issues = org.issues("portcullis-security");
    assert_eq!(issues.len(), 1);
    let body = issues[0].body.clone().unwrap();
    assert!(
        body.contains(&pushed) && body.contains("`vpn:staff`"),
        "{body}"
    );
    assert!(body.contains("@tidewater/security"), "{body}");
    let record = org
        .evidence()
        .into_iter()
        .find(|n| n.commit == pushed)
        .expect("a record of the quarantined commit");
    assert!(
        record
            .bypass
            .as_deref()
            .unwrap()
            .contains("without a pull request")
    );
    assert_eq!(record.actions[0].result, Outcome::Skipped);

    // Later runs keep it quarantined and do not report it again.
    for _ in 0..2 {
        let out = org.apply(&[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert!(
            text(&out).contains("quarantined: vpn:staff for ana"),
            "{}",
            text(&out)
        );
    }
    assert_eq!(org.members("vpn-users"), set(&["omar"]));
    assert_eq!(org.issues("portcullis-security").len(), 1);
    assert!(org.writes().is_empty());

    // Removing it settles the quarantine; asking again through a pull request provisions it.
    org.merged_pr(
        "remove-ana",
        &[("access/vpn/ana.yaml", None)],
        &["token-kenji-tw"],
    );
    assert_eq!(org.apply(&[]).status.code(), Some(0));
    org.merged_pr(
        "access/vpn/ana/staff",
        &[("access/vpn/ana.yaml", Some(&ana))],
        &["token-kenji-tw"],
    );
    let out = org.apply(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(org.members("vpn-users"), set(&["omar", "ana"]));
}

#[test]
fn a_pull_request_merged_without_its_approvals_is_not_provisioned() {
    let org = Org::new(&[("omar", "")], &["omar"]);
    org.trust();
    // An admin merges with no review at all.
    let (pr, _) = org.merged_pr(
        "access/vpn/ana/staff",
        &[("access/vpn/ana.yaml", Some(&ana_staff()))],
        &[],
    );
    let out = org.apply(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "pull request #{pr} was merged without its approvals"
        )),
        "{}",
        text(&out)
    );
    assert_eq!(org.members("vpn-users"), set(&["omar"]));
    assert_eq!(org.issues("portcullis-security").len(), 1);
    // A status set by anyone with write access changes nothing: apply never reads statuses.
    let head = org.gh.branch_sha("access/vpn/ana/staff").unwrap();
    org.client()
        .create_status(&head, "success", "portcullis/approvals", "approved")
        .unwrap();
    assert_eq!(org.apply(&[]).status.code(), Some(0));
    assert_eq!(org.members("vpn-users"), set(&["omar"]));
}

#[test]
fn an_approval_of_an_earlier_head_does_not_count() {
    let org = Org::new(&[("omar", "")], &["omar"]);
    org.trust();
    let branch = "access/vpn/ana/staff";
    org.gh.push_commit(
        branch,
        &[("access/vpn/ana.yaml", Some(&ana_staff()))],
        "omar@tidewater.example",
    );
    let pr = org.gh.open_pull("token-omar-tw", branch, "main", "ana", "");
    org.gh.review("token-kenji-tw", pr, "APPROVED");
    // After the approval, Omar adds gateway admin for Ana to the same pull request.
    let more = grants("ana", "vpn", &[("staff", ""), ("admin", "2026-12-01")]);
    let head = org.gh.push_commit(
        branch,
        &[("access/vpn/ana.yaml", Some(&more))],
        "omar@tidewater.example",
    );
    org.client().merge_pull(pr, &head).unwrap();
    let out = org.apply(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("without its approvals"),
        "{}",
        text(&out)
    );
    assert!(org.members("vpn-users").len() == 1 && org.members("vpn-admins").is_empty());
}

#[test]
fn a_pull_request_that_changes_the_rules_and_access_provisions_nothing() {
    let org = Org::new(&[("omar", "")], &["omar"]);
    org.trust();
    let vpn = std::fs::read_to_string(org.clone.path().join("policies/apps/vpn.yaml"))
        .unwrap()
        .replace("    privileged: true\n", "");
    org.merged_pr(
        "sneaky",
        &[
            ("policies/apps/vpn.yaml", Some(&vpn)),
            (
                "access/vpn/ana.yaml",
                Some(&grants("ana", "vpn", &[("admin", "2026-12-01")])),
            ),
        ],
        &["token-kenji-tw"],
    );
    let out = org.apply(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("split it"), "{}", text(&out));
    assert!(
        text(&out).contains("nothing is provisioned"),
        "{}",
        text(&out)
    );
    assert!(org.members("vpn-admins").is_empty());
    assert_eq!(org.issues("portcullis-security").len(), 1);
    // Refused until the rules are back: the next run refuses again and reports nothing new.
    assert_eq!(org.apply(&[]).status.code(), Some(1));
    assert_eq!(org.issues("portcullis-security").len(), 1);
    assert!(org.writes().is_empty());
}

#[test]
fn content_that_landed_differently_from_the_approved_head_is_quarantined() {
    let org = Org::new(&[("omar", "")], &["omar"]);
    org.trust();
    let branch = "access/vpn/ana/staff";
    org.gh.push_commit(
        branch,
        &[("access/vpn/ana.yaml", Some(&ana_staff()))],
        "omar@tidewater.example",
    );
    let pr = org.gh.open_pull("token-omar-tw", branch, "main", "ana", "");
    org.gh.review("token-kenji-tw", pr, "APPROVED");
    // The approved head grants Ana staff; the merge also slips in gateway admin for Omar.
    let merge = org.gh.merge_with_edits(
        pr,
        &[(
            "access/vpn/omar.yaml",
            Some(&grants(
                "omar",
                "vpn",
                &[("staff", ""), ("admin", "2026-12-01")],
            )),
        )],
    );
    let out = org.apply(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("is not part of what pull request"),
        "{}",
        text(&out)
    );
    // What was approved is provisioned; what was not is held back and reported.
    assert_eq!(org.members("vpn-users"), set(&["omar", "ana"]));
    assert!(org.members("vpn-admins").is_empty());
    assert_eq!(org.issues("portcullis-security").len(), 1);
    let record = org
        .evidence()
        .into_iter()
        .find(|n| n.commit == merge)
        .unwrap();
    assert_eq!(record.pr, Some(pr));
    assert!(record.bypass.is_some());
    assert!(
        record
            .actions
            .iter()
            .any(|a| a.role == "admin" && a.result == Outcome::Skipped)
    );
}

#[test]
fn a_rewritten_history_is_refused() {
    let org = Org::new(&[("omar", "")], &["omar"]);
    org.trust();
    org.merged_pr(
        "access/vpn/ana/staff",
        &[("access/vpn/ana.yaml", Some(&ana_staff()))],
        &["token-kenji-tw"],
    );
    assert_eq!(org.apply(&[]).status.code(), Some(0));
    // Someone force-pushes a history that no longer holds the applied commit.
    let dir = org.clone.path();
    git(dir, &["checkout", "-q", "-b", "rewrite", "origin/main~1"]);
    std::fs::write(
        dir.join("access/vpn/p1.yaml"),
        grants("p1", "vpn", &[("staff", "")]),
    )
    .unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "history, rewritten"]);
    git(dir, &["push", "-q", "-f", "origin", "rewrite:main"]);
    let out = org.apply(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("history was rewritten"),
        "{}",
        text(&out)
    );
    assert_eq!(org.writes(), ["add vpn-users ana"]);
}

#[test]
fn expired_grants_are_revoked_first_without_a_revocation_pull_request() {
    let org = Org::new(&[("omar", "2026-11-25")], &["omar"]);
    org.trust();
    org.merged_pr(
        "access/vpn/ana/staff",
        &[("access/vpn/ana.yaml", Some(&ana_staff()))],
        &["token-kenji-tw"],
    );
    let out = org.run(&["apply"], "2026-12-01");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("expired at 2026-11-26T00:00:00Z"),
        "{}",
        text(&out)
    );
    assert_eq!(org.writes(), ["remove vpn-users omar", "add vpn-users ana"]);
    // The revocation belongs to no pull request: it is the run's own record.
    let run = org
        .evidence()
        .into_iter()
        .find(|n| n.kind == Kind::Run)
        .expect("a run record");
    assert_eq!(run.actions[0].op, "remove");
    assert_eq!(run.actions[0].person, "omar");
}

#[test]
fn a_mass_removal_is_held_until_allowed() {
    let everyone: Vec<(String, &str)> = (1..=8).map(|i| (format!("p{i}"), "")).collect();
    let staff: Vec<(&str, &str)> = everyone.iter().map(|(p, e)| (p.as_str(), *e)).collect();
    let members: Vec<&str> = staff.iter().map(|(p, _)| *p).collect();
    let org = Org::new(&staff, &members);
    org.trust();
    org.merged_pr(
        "offboarding",
        &[
            ("access/vpn/p1.yaml", None),
            ("access/vpn/p2.yaml", None),
            ("access/vpn/p3.yaml", None),
        ],
        &["token-kenji-tw"],
    );
    let out = org.apply(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("would remove 3 of its 8 members"),
        "{}",
        text(&out)
    );
    assert!(org.writes().is_empty());
    // The held removals are in the evidence, as deliberately not done.
    let skipped: usize = org
        .evidence()
        .iter()
        .flat_map(|n| &n.actions)
        .filter(|a| a.result == Outcome::Skipped)
        .count();
    assert_eq!(skipped, 3);
    let out = org.apply(&["--allow-mass-removal"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(org.members("vpn-users").len(), 5);
}

#[test]
fn no_removal_from_a_listing_that_failed() {
    let org = Org::new(&[("omar", ""), ("p1", "")], &["omar", "p1", "stray"]);
    org.edit_store(|s| s["fail_list"] = json!(["vpn-users"]));
    let out = org.apply(&["--trust-from", "HEAD"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("could not be listed"), "{}", text(&out));
    assert!(org.writes().is_empty());
    assert_eq!(org.members("vpn-users"), set(&["omar", "p1", "stray"]));
    // The listing works again: the stray member goes.
    org.edit_store(|s| s["fail_list"] = json!([]));
    let out = org.apply(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(org.writes(), ["remove vpn-users stray"]);
}

#[test]
fn a_run_killed_after_any_write_resumes_and_converges_without_repeating_a_write() {
    let wanted = set(&["p1", "p2", "p3", "p4", "breakglass"]);
    for n in 1..=5 {
        let org = Org::new(
            &[("p1", ""), ("p2", ""), ("p3", ""), ("p4", "")],
            &["zed", "breakglass"],
        );
        org.edit_store(|s| s["crash_after"] = json!(n));
        let killed = org.apply(&["--trust-from", "HEAD"]);
        assert_eq!(
            killed.status.code(),
            None,
            "run {n} was not killed: {}",
            text(&killed)
        );
        assert_eq!(org.writes().len(), n);
        org.edit_store(|s| s["crash_after"] = json!(0));
        // The killed run's lock is stale and its journal is picked up.
        let out = org.apply(&["--trust-from", "HEAD"]);
        assert_eq!(out.status.code(), Some(0), "after kill {n}: {}", text(&out));
        assert!(text(&out).contains("resumed"), "{}", text(&out));
        assert_eq!(org.members("vpn-users"), wanted, "after kill {n}");
        let writes = org.writes();
        assert_eq!(writes.len(), 5, "after kill {n}: {writes:?}");
        assert_eq!(writes[0], "remove vpn-users zed", "revocation first");
        let unique: BTreeSet<&String> = writes.iter().collect();
        assert_eq!(unique.len(), 5, "a write was repeated: {writes:?}");
        // The killed run is on the chain, unfinished, with what it did.
        let notes = org.evidence();
        let killed_run = notes
            .iter()
            .find(|r| r.run.finished_at.is_none())
            .expect("the killed run's record");
        let results: Vec<Outcome> = killed_run.actions.iter().map(|a| a.result).collect();
        let mut expected = vec![Outcome::Changed; n - 1];
        expected.push(Outcome::Pending);
        assert_eq!(
            results, expected,
            "kill {n}: the write in flight is in doubt"
        );
        // And a third run has nothing left to do.
        assert_eq!(org.apply(&[]).status.code(), Some(0));
        assert_eq!(org.writes().len(), 5);
    }
}

fn lock_path(org: &Org) -> PathBuf {
    org.clone.path().join(".git/portcullis/apply.lock")
}

#[test]
fn a_second_apply_refuses_while_one_holds_the_lock() {
    let org = Org::new(&[("omar", "")], &[]);
    std::fs::create_dir_all(lock_path(&org).parent().unwrap()).unwrap();
    // A live process holds the OS lock: a child that holds it until told to stop.
    // `-o`: the lock is flock's own, not its child's, so killing flock ends it.
    let mut holder = Command::new("flock")
        .arg("-o")
        .arg(lock_path(&org))
        .args(["sleep", "60"])
        .spawn()
        .expect("flock(1) from util-linux");
    while std::fs::metadata(lock_path(&org)).is_err() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let out = org.apply(&["--trust-from", "HEAD"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("another apply is running"),
        "{}",
        text(&out)
    );
    assert!(org.writes().is_empty());
    // Its holder is killed: the kernel released the lock, nothing stale is left to judge.
    holder.kill().unwrap();
    holder.wait().unwrap();
    let out = org.apply(&["--trust-from", "HEAD"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(org.writes(), ["add vpn-users omar"]);
}

#[test]
fn an_emergency_grant_is_provisioned_and_its_owners_review_it_after_the_fact() {
    let org = Org::new(&[("omar", "")], &["omar"]);
    org.trust();
    let emergency = grants("ana", "vpn", &[("admin", "2026-11-22T20:00:00Z")]);
    let (pr, _) = org.merged_pr(
        "access/vpn/ana/admin",
        &[("access/vpn/ana.yaml", Some(&emergency))],
        &["token-dana-tw"],
    );
    let out = org.apply(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(org.members("vpn-admins"), set(&["ana"]));
    let reviews = org.issues("portcullis-emergency-review");
    assert_eq!(reviews.len(), 1);
    let body = reviews[0].body.clone().unwrap();
    assert!(
        body.contains(&format!("#{pr}")) && body.contains("@tidewater/it"),
        "{body}"
    );
    assert_eq!(org.apply(&[]).status.code(), Some(0));
    assert_eq!(
        org.issues("portcullis-emergency-review").len(),
        1,
        "reviewed once"
    );
    // It ends on its own at its expiry.
    let out = org.run(&["apply"], "2026-11-22T20:00:00Z");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(org.members("vpn-admins").is_empty());
}

#[test]
fn a_dry_run_writes_nothing_anywhere() {
    let org = Org::new(&[("omar", "")], &[]);
    let out = org.apply(&["--trust-from", "HEAD", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("would add `omar` in `vpn/vpn-users`"),
        "{}",
        text(&out)
    );
    assert!(org.writes().is_empty());
    let repo = git2::Repository::open(org.clone.path()).unwrap();
    assert!(repo.find_reference("refs/notes/portcullis").is_err());
    assert!(repo.find_reference("refs/portcullis/state").is_err());
    assert!(!org.clone.path().join(".git/portcullis/journal").exists());
}

#[test]
fn manual_grants_are_pending_until_their_issue_is_closed() {
    let org = Org::new(&[("omar", "")], &["omar"]);
    org.trust();
    org.merged_pr(
        "access/treasury/ana/viewer",
        &[(
            "access/treasury/ana.yaml",
            Some(&grants("ana", "treasury", &[("viewer", "")])),
        )],
        &["token-kenji-tw"],
    );
    for _ in 0..2 {
        let out = org.apply(&[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert!(
            text(&out).contains("pending add `ana` in `treasury/viewer`"),
            "{}",
            text(&out)
        );
    }
    let issues = org.issues(portcullis_provisioners::manual::LABEL);
    assert_eq!(issues.len(), 1, "one issue, however often apply runs");
    org.gh
        .set_issue_state("token-kenji-tw", issues[0].number, "closed");
    let out = org.apply(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!text(&out).contains("pending add"), "{}", text(&out));
}

#[test]
fn reconcile_reports_drift_both_ways_and_fix_repairs_it() {
    let org = Org::new(&[("omar", ""), ("p1", ""), ("p2", ""), ("p3", "")], &[]);
    org.trust();
    let out = org.run(&["reconcile"], "2026-11-22");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Out-of-band changes: someone adds themselves, someone is removed, a break-glass
    // account (unmanaged) is added by the security team.
    org.edit_store(|s| {
        s["targets"]["vpn-users"] = json!(["omar", "p1", "p2", "intruder", "breakglass"]);
    });
    let out = org.run(&["reconcile"], "2026-11-22");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("missing: `p3`"), "{}", text(&out));
    assert!(text(&out).contains("stray: `intruder`"), "{}", text(&out));
    assert!(!text(&out).contains("breakglass"), "{}", text(&out));
    let out = org.run(
        &["reconcile", "--app", "vpn", "--format", "json"],
        "2026-11-22",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: BTreeSet<(String, String)> = doc["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_owned(),
                d["account"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            ("missing".to_owned(), "p3".to_owned()),
            ("stray".to_owned(), "intruder".to_owned())
        ])
    );
    let out = org.run(&["reconcile", "--fix"], "2026-11-22");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        org.members("vpn-users"),
        set(&["omar", "p1", "p2", "p3", "breakglass"])
    );
    assert_eq!(
        org.writes(),
        [
            "add vpn-users omar",
            "add vpn-users p1",
            "add vpn-users p2",
            "add vpn-users p3",
            "remove vpn-users intruder",
            "add vpn-users p3"
        ]
    );
    let run = org.evidence().into_iter().last().unwrap();
    assert_eq!(run.kind, Kind::Run);
    assert_eq!(run.actions.len(), 2);
    // The repair's record is signed like apply's: the next apply trusts the chain it extends.
    assert!(run.sig.is_some(), "the repair's evidence record is signed");
    let out = org.run(&["reconcile"], "2026-11-22");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = org.run(&["apply"], "2026-11-22");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

// ---- end to end into PostgreSQL: the example organisation's `payments` app ----

pub fn pg_members(admin: &mut ::postgres::Client, role: &str) -> BTreeSet<String> {
    admin
        .query(
            "SELECT m.rolname::text FROM pg_auth_members am JOIN pg_roles r ON r.oid = am.roleid
             JOIN pg_roles m ON m.oid = am.member WHERE r.rolname = $1",
            &[&role],
        )
        .unwrap()
        .into_iter()
        .map(|row| row.get(0))
        .collect()
}

#[test]
fn apply_provisions_the_example_payments_app_into_postgresql() {
    use crate::services::postgres as pgs;
    use portcullis_provisioners::postgres::quote_ident;
    let pg = pgs::server();
    let mut admin = pg.admin();
    let roles = [
        "payments_viewer",
        "payments_maker",
        "payments_checker",
        "payments_vendor_master",
        "payments_admin",
    ];
    let logins = [
        "clara",
        "elena",
        "mei",
        "nora.lindqvist",
        "omar",
        "rafael",
        "yusuf",
        "pay_intruder",
    ];
    for (name, kind) in roles
        .iter()
        .map(|r| (r, "NOLOGIN"))
        .chain(logins.iter().map(|l| (l, "LOGIN")))
    {
        admin
            .batch_execute(&format!("CREATE ROLE {} {kind}", quote_ident(name)))
            .unwrap();
    }
    // Before the first run: one grant already in place, one member nobody granted.
    admin
        .batch_execute("GRANT payments_viewer TO omar; GRANT payments_maker TO pay_intruder")
        .unwrap();

    let w = crate::pr_flow::World::new();
    let apply = |as_of: &str, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .arg("apply")
            .args(extra)
            .args(["--root", w.clone.path().to_str().unwrap(), "--as-of", as_of])
            .env("GITHUB_API_URL", w.gh.url())
            .env("GITHUB_TOKEN", &w.bot)
            .env("PORTCULLIS_SIGNING_KEY", crate::support::TEST_SIGNING_KEY)
            .env("GITHUB_REPOSITORY", crate::pr_flow::REPO)
            .env("PORTCULLIS_GITHUB_MAX_WAIT", "5")
            .env("PAYMENTS_DB_DSN", pg.dsn("postgres"))
            .env_remove("GITHUB_RUN_ID")
            .output()
            .unwrap()
    };
    let out = apply("2026-11-22", &["--trust-from", "HEAD"]);
    // The other apps' systems are not reachable here (no LDAP_URL, no SCIM, no AWS, no teams
    // on this GitHub): they fail, and payments is provisioned all the same.
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("`LDAP_URL` is not set"),
        "{}",
        text(&out)
    );
    let want = |xs: &[&str]| set(xs);
    assert_eq!(
        pg_members(&mut admin, "payments_viewer"),
        want(&["clara", "elena", "mei", "nora.lindqvist", "omar", "yusuf"])
    );
    assert_eq!(
        pg_members(&mut admin, "payments_maker"),
        want(&["clara", "mei"])
    );
    assert_eq!(
        pg_members(&mut admin, "payments_checker"),
        want(&["elena", "rafael"])
    );
    assert_eq!(
        pg_members(&mut admin, "payments_vendor_master"),
        want(&["omar"])
    );
    assert!(pg_members(&mut admin, "payments_admin").is_empty());

    // The evidence names every payments action, each a success.
    let repo = git2::Repository::open(w.clone.path()).unwrap();
    let stored = portcullis_git::history::read_notes(&repo).unwrap();
    assert!(evidence::chain_verify(&stored).is_empty());
    let (records, _) = evidence::read_all(&stored);
    let payments: Vec<_> = records
        .iter()
        .flat_map(|r| &r.note.actions)
        .filter(|a| a.app == "payments")
        .collect();
    assert_eq!(payments.len(), 11, "{payments:?}");
    assert!(payments.iter().all(|a| a.result == Outcome::Changed));

    // Converged: a second run sends no GRANT or REVOKE to the database.
    let writes = |pg: &pgs::Pg| {
        roles
            .iter()
            .map(|r| pg.role_writes(&quote_ident(r)))
            .sum::<u64>()
    };
    let before = writes(pg);
    let out = apply("2026-11-22", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(writes(pg), before, "a second run wrote to PostgreSQL");

    // Omar's vendor-bank grant runs out on 2026-12-15: revoked without a pull request, and
    // his session that took on the role ends with it.
    let mut session = ::postgres::Client::connect(&pg.dsn("omar"), ::postgres::NoTls).unwrap();
    session
        .batch_execute("SET ROLE payments_vendor_master")
        .unwrap();
    let out = apply("2026-12-16", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("expired at 2026-12-16T00:00:00Z"),
        "{}",
        text(&out)
    );
    assert!(pg_members(&mut admin, "payments_vendor_master").is_empty());
    assert!(
        session.query_one("SELECT 1", &[]).is_err(),
        "the session survived"
    );
}

#[test]
fn a_grant_that_cannot_be_provisioned_never_stops_the_others() {
    let org = Org::new(&[("omar", "")], &["omar"]);
    org.trust();
    org.merged_pr(
        "two-requests",
        &[
            ("access/vpn/ana.yaml", Some(&ana_staff())),
            (
                "access/vpn/ghost.yaml",
                Some(&grants("ghost", "vpn", &[("staff", "")])),
            ),
        ],
        &["token-kenji-tw"],
    );
    let out = org.apply(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("not provisioned: vpn:staff for ghost (access/vpn/ghost.yaml): the person is not in people.yaml"),
        "{}",
        text(&out)
    );
    assert_eq!(org.members("vpn-users"), set(&["omar", "ana"]));
}

/// A second run over many grants in one target writes nothing. With
/// `PORTCULLIS_APPLY_BENCH_GRANTS=10000 cargo test --release --test it converged_run -- --nocapture`
/// it is also the benchmark the README quotes (the timing is printed, never asserted).
#[test]
fn a_converged_run_over_many_grants_writes_nothing() {
    let n: usize = std::env::var("PORTCULLIS_APPLY_BENCH_GRANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let people: Vec<String> = (0..n).map(|i| format!("u{i:05}")).collect();
    let staff: Vec<(&str, &str)> = people.iter().map(|p| (p.as_str(), "")).collect();
    let members: Vec<&str> = people.iter().map(String::as_str).collect();
    let org = Org::build(&staff, &members, &people);
    org.fetch();
    let started = std::time::Instant::now();
    let out = org.apply(&["--trust-from", "HEAD"]);
    let first = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let started = std::time::Instant::now();
    let out = org.apply(&[]);
    let second = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(org.writes().is_empty());
    eprintln!(
        "{n} grants, converged: first run {first:?}, second run {second:?} (each includes a git fetch)"
    );
}

/// Issue 18's case: an emergency grant is provisioned but its owners' review cannot be opened
/// (GitHub refuses the call). The state moves on, so the review must be owed in it: the next
/// run, with no new commit, opens it, exactly once.
#[test]
fn an_obligation_that_fails_is_owed_until_a_later_run_meets_it_once() {
    let org = emergency_merged();
    for status in [403, 502] {
        org.gh.fail_next("POST", "/issues", status, &[], 1);
        let out = org.apply(&[]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(
            text(&out).contains("still open, kept in the state"),
            "{}",
            text(&out)
        );
        assert_eq!(
            org.members("vpn-admins"),
            set(&["ana"]),
            "provisioned all the same"
        );
        assert!(org.issues("portcullis-emergency-review").is_empty());
        let repo = git2::Repository::open(org.clone.path()).unwrap();
        let state = portcullis_git::ledger::read_state(&repo).unwrap();
        assert_eq!(state.obligations.len(), 1, "owed in the signed state");
    }
    let out = org.apply(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("0 new commits"), "{}", text(&out));
    assert_eq!(org.issues("portcullis-emergency-review").len(), 1);
    let repo = git2::Repository::open(org.clone.path()).unwrap();
    assert!(
        portcullis_git::ledger::read_state(&repo)
            .unwrap()
            .obligations
            .is_empty()
    );
    assert_eq!(org.apply(&[]).status.code(), Some(0));
    assert_eq!(org.issues("portcullis-emergency-review").len(), 1, "once");
}

/// `--root` given relative to the current directory: a `command` program named relative to the
/// repository is found and run.
#[test]
fn a_relative_root_runs_command_programs_from_the_repository() {
    let org = Org::new(&[("omar", "")], &[]);
    let script = std::fs::read_to_string(org.store.path().join("store")).unwrap();
    let vpn = std::fs::read_to_string(org.clone.path().join("policies/apps/vpn.yaml"))
        .unwrap()
        .replace(
            &org.store.path().join("store").display().to_string(),
            "bin/store",
        );
    org.merged_pr(
        "relative",
        &[
            ("bin/store", Some(&script)),
            ("policies/apps/vpn.yaml", Some(&vpn)),
        ],
        &["token-lena-tw"],
    );
    org.fetch();
    git(
        org.clone.path(),
        &["merge", "-q", "--ff-only", "origin/main"],
    );
    use std::os::unix::fs::PermissionsExt;
    let bin = org.clone.path().join("bin/store");
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let parent = org.clone.path().parent().unwrap();
    let name = org.clone.path().file_name().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["apply", "--trust-from", "HEAD", "--root"])
        .arg(name)
        .args(["--as-of", "2026-11-22"])
        .current_dir(parent)
        .env("GITHUB_API_URL", org.gh.url())
        .env("GITHUB_TOKEN", &org.bot)
        .env("GITHUB_REPOSITORY", REPO)
        .env("PORTCULLIS_GITHUB_MAX_WAIT", "5")
        .env("PORTCULLIS_SIGNING_KEY", crate::support::TEST_SIGNING_KEY)
        .env("STORE", org.store.path())
        .env_remove("GITHUB_RUN_ID")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(org.writes(), ["add vpn-users omar"]);
}

/// Trusted, then an emergency grant of `vpn:admin` to ana merged with the on-call's approval.
fn emergency_merged() -> Org {
    let org = Org::new(&[("omar", "")], &["omar"]);
    org.trust();
    let emergency = grants("ana", "vpn", &[("admin", "2026-11-22T20:00:00Z")]);
    org.merged_pr(
        "access/vpn/ana/admin",
        &[("access/vpn/ana.yaml", Some(&emergency))],
        &["token-dana-tw"],
    );
    org
}

/// The world of the obligation tests: trusted, then an emergency grant merged (its owners are
/// owed a review) and a direct push (the security team is owed an issue).
fn owing() -> Org {
    let org = emergency_merged();
    org.gh.push_commit(
        "main",
        &[(
            "access/vpn/kenji.yaml",
            Some(&grants("kenji", "vpn", &[("staff", "")])),
        )],
        "omar@tidewater.example",
    );
    org
}

/// What must hold once the runs after a failure are done: each obligation met once, the grant
/// provisioned once, the pushed one never, the state complete and the chain whole.
fn owed_and_met_once(org: &Org, case: &str) {
    assert_eq!(org.members("vpn-admins"), set(&["ana"]), "{case}");
    assert_eq!(org.writes(), ["add vpn-admins ana"], "{case}");
    assert_eq!(org.issues("portcullis-security").len(), 1, "{case}");
    assert_eq!(org.issues("portcullis-emergency-review").len(), 1, "{case}");
    let repo = git2::Repository::open(org.clone.path()).unwrap();
    let state = portcullis_git::ledger::read_state(&repo).unwrap();
    assert!(
        state.obligations.is_empty(),
        "{case}: {:?}",
        state.obligations
    );
    assert_eq!(
        state.applied,
        org.gh.branch_sha("main").map(Into::into),
        "{case}: the state reaches the head"
    );
    org.evidence();
}

/// Issue 18: apply killed while any one of its GitHub calls is in flight (before GitHub did
/// it, and after), or that call failing (refused, or done with the answer lost): the next
/// run finishes the job, meeting every obligation exactly once and repeating no write.
#[test]
fn apply_killed_or_failed_at_any_github_call_meets_every_obligation_once() {
    let tried = crate::resume::at_every_call(&crate::resume::Subject {
        setup: &owing,
        gh: &|o: &Org| &o.gh,
        command: &|o: &Org| {
            o.fetch();
            let mut c = Command::new(env!("CARGO_BIN_EXE_portcullis"));
            c.args(["apply", "--root"])
                .arg(o.clone.path())
                .args(["--as-of", "2026-11-22"])
                .env("GITHUB_API_URL", o.gh.url())
                .env("GITHUB_TOKEN", &o.bot)
                .env("PORTCULLIS_SIGNING_KEY", crate::support::TEST_SIGNING_KEY)
                .env("GITHUB_REPOSITORY", REPO)
                .env("STORE", o.store.path())
                .env_remove("GITHUB_RUN_ID");
            c
        },
        // The pushed commit's alarm is raised by the run that first sees it.
        done: &[0, 1],
        settled: &owed_and_met_once,
    });
    assert!(tried > 20, "{tried}");
}

/// `reconcile --fix` is held to apply's rule: killed after any write, the next run resumes
/// from its journal, repeats no write, and records the killed run's writes as evidence.
#[test]
fn reconcile_fix_killed_after_any_write_resumes_without_repeating_one() {
    let wanted = set(&["omar", "p1", "p2", "p3", "breakglass"]);
    for n in 1..=3 {
        let org = Org::new(&[("omar", ""), ("p1", ""), ("p2", ""), ("p3", "")], &[]);
        org.trust();
        let before = org.writes().len();
        org.edit_store(|s| {
            s["targets"]["vpn-users"] = json!(["omar", "p1", "intruder", "breakglass"]);
            s["writes"] = json!(0);
            s["crash_after"] = json!(n);
        });
        let killed = org.run(&["reconcile", "--fix"], "2026-11-22");
        assert_eq!(killed.status.code(), None, "run {n}: {}", text(&killed));
        assert_eq!(org.writes().len() - before, n);
        org.edit_store(|s| s["crash_after"] = json!(0));
        let out = org.run(&["reconcile", "--fix"], "2026-11-22");
        assert_eq!(out.status.code(), Some(0), "after kill {n}: {}", text(&out));
        assert_eq!(org.members("vpn-users"), wanted, "after kill {n}");
        let fixes: Vec<String> = org.writes()[before..].to_vec();
        let unique: BTreeSet<&String> = fixes.iter().collect();
        assert_eq!(fixes.len(), 3, "after kill {n}: {fixes:?}");
        assert_eq!(unique.len(), 3, "a write was repeated: {fixes:?}");
        assert!(
            org.evidence().iter().any(|r| r.run.finished_at.is_none()),
            "after kill {n}: the killed run is on the chain"
        );
        let out = org.run(&["reconcile"], "2026-11-22");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
}
