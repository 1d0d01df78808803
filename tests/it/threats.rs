//! The control's threat tests in-process: each attack of a repository writer on "nothing is
//! provisioned that was not approved" (THREATS 1 to 4, 6, 12 to 14) performed against the core's
//! pull request judgement and apply's gate (`verify`) through the in-memory repository and
//! GitHub, in milliseconds. Each
//! fails if the attack is approved. The same attacks run end to end through the binary, the
//! HTTP fake and `apply` in `attacks.rs`; the contract suite (`contract.rs`) holds the in-memory
//! GitHub to the fake's answers, so passing here is not passing against something kinder.

use chrono::{DateTime, TimeZone, Utc};

use portcullis_core::approval::Verdict;
use portcullis_core::approval::pull::{STATUS_CONTEXT, judge};
use portcullis_core::verify;
use portcullis_testkit::{MemGitHub, MemRepo, OrgBuilder, grants};

struct World {
    repo: MemRepo,
    gh: MemGitHub,
}

fn as_of() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

fn world() -> World {
    world_with(OrgBuilder::new())
}

fn world_with(org: OrgBuilder) -> World {
    let mut repo = MemRepo::new();
    let mut gh = MemGitHub::new();
    org.file("access/vpn/omar.yaml", &staff("omar"))
        .build(&mut repo, &mut gh);
    World { repo, gh }
}

fn staff(person: &str) -> String {
    grants(person, "vpn", &[("staff", "")])
}

impl World {
    /// `author` opens pull request `number` from a branch off `main` whose one commit writes
    /// `edits`, committed under an address GitHub links to `committer` (`None`: to nobody).
    fn ask(
        &mut self,
        number: u64,
        author: &str,
        edits: &[(&str, Option<&str>)],
        committer: Option<&str>,
    ) -> String {
        portcullis_testkit::ask(
            &mut self.repo,
            &mut self.gh,
            number,
            author,
            edits,
            committer,
        )
    }

    /// Omar asks, in pull request 1, for VPN staff access for Ana: the ordinary request.
    fn omar_asks_for_ana(&mut self) -> String {
        self.ask(
            1,
            "omar-tw",
            &[("access/vpn/ana.yaml", Some(&staff("ana")))],
            Some("omar-tw"),
        )
    }

    /// `approvals` has run on the head: portcullis's own status marks when it saw it.
    fn seen(&mut self, head: &str) {
        self.gh
            .status(head, "portcullis[bot]", STATUS_CONTEXT, "pending");
    }

    fn verdict(&self, number: u64) -> Verdict {
        judge(&self.gh, &self.repo, number, as_of())
            .expect("the pull request is judged")
            .verdict
    }
}

/// Not approved, and the reason names `words` where a reviewer reads it.
fn refused(v: &Verdict, words: &str) {
    assert!(!v.approved, "approved: {v:#?}");
    let said = format!(
        "{} {} {}",
        v.refused.clone().unwrap_or_default(),
        v.ignored.join(" "),
        v.status_description()
    );
    assert!(said.contains(words), "`{words}` not in: {said}\n{v:#?}");
}

/// The control: the same shape of request, approved by an owner nobody excludes, passes. Every
/// attack below differs from it in one move.
#[test]
fn an_ordinary_request_approved_by_an_owner_passes() {
    let mut w = world();
    let head = w.omar_asks_for_ana();
    w.gh.review(1, "kenji-tw", "APPROVED", &head);
    let v = w.verdict(1);
    assert!(v.approved, "{v:#?}");
}

#[test]
fn an_owner_does_not_approve_their_own_request() {
    let mut w = world();
    let head = w.ask(
        1,
        "kenji-tw",
        &[("access/vpn/kenji.yaml", Some(&staff("kenji")))],
        Some("kenji-tw"),
    );
    w.gh.review(1, "kenji-tw", "APPROVED", &head);
    refused(&w.verdict(1), "they are the grantee");
}

/// THREATS 2: an approval counts for the commit it was given on; content pushed after it
/// needs a new one.
#[test]
fn an_approval_does_not_carry_onto_content_pushed_after_it() {
    let mut w = world();
    let first = w.omar_asks_for_ana();
    w.gh.review(1, "kenji-tw", "APPROVED", &first);
    let admin = grants("omar", "vpn", &[("staff", ""), ("admin", "2026-12-10")]);
    let second = w
        .repo
        .commit("pr-1", &[("access/vpn/omar.yaml", Some(&admin))], "More");
    w.gh.push(1, &second, &[(&second, Some("omar-tw"))]);
    refused(&w.verdict(1), "approved an earlier commit");
}

/// THREATS 13: whoever wrote a commit of the change does not approve it, even as an owner.
#[test]
fn an_owner_who_wrote_a_commit_of_the_change_does_not_approve_it() {
    let mut w = world();
    let head = w.ask(
        1,
        "omar-tw",
        &[("access/vpn/ana.yaml", Some(&staff("ana")))],
        Some("kenji-tw"),
    );
    w.gh.review(1, "kenji-tw", "APPROVED", &head);
    refused(&w.verdict(1), "authored or pushed a commit");
}

/// THREATS 13: GitHub lists 250 commits. The owner writes the grant in commit 251, out of the
/// listing, and approves; the count git gives shows the listing was cut.
#[test]
fn the_author_of_commit_251_cannot_approve_their_own_work() {
    let mut w = world();
    w.repo.branch("long", "main");
    let mut commits = Vec::new();
    for i in 0..250 {
        let note = format!("note {i}\n");
        commits.push(
            w.repo
                .commit("long", &[("notes/n.md", Some(&note))], "Note"),
        );
    }
    let last = w.repo.commit(
        "long",
        &[("access/vpn/ana.yaml", Some(&staff("ana")))],
        "Ana",
    );
    let mut listed: Vec<(&str, Option<&str>)> = commits
        .iter()
        .map(|c| (c.as_str(), Some("omar-tw")))
        .collect();
    listed.push((&last, Some("kenji-tw")));
    let base = w.repo.tip("main");
    w.gh.open_pull(1, "omar-tw", "long", &last, &base, &listed, "");
    w.gh.review(1, "kenji-tw", "APPROVED", &last);
    refused(&w.verdict(1), "250");
}

/// THREATS 13: a commit whose e-mail GitHub links to no account hides its author.
#[test]
fn a_commit_github_cannot_attribute_makes_the_pull_request_ineligible() {
    let mut w = world();
    let head = w.ask(
        1,
        "omar-tw",
        &[("access/vpn/ana.yaml", Some(&staff("ana")))],
        None,
    );
    w.gh.review(1, "kenji-tw", "APPROVED", &head);
    refused(&w.verdict(1), "cannot link");
}

/// SPEC section 7: the pull request's own copy of the rules never judges it. Omar makes Ana
/// the VPN's owner in the same change that grants him admin, and Ana approves: a change to the
/// rules and to access together is refused whole.
#[test]
fn a_pull_request_cannot_make_its_own_approver() {
    let mut w = world();
    let vpn = "id: vpn\nname: Corporate VPN\nowners: [\"@ana-tw\"]\nrisk: low\nprovisioner:\n  type: manual\n  checklist:\n    - Add or remove the account in the gateway\nroles:\n  staff:\n    description: Office network access\n    target: vpn-users\n  admin:\n    description: Gateway administration\n    target: vpn-admins\n";
    let admin = grants("omar", "vpn", &[("staff", ""), ("admin", "2026-12-10")]);
    let head = w.ask(
        1,
        "omar-tw",
        &[
            ("policies/apps/vpn.yaml", Some(vpn)),
            ("access/vpn/omar.yaml", Some(&admin)),
        ],
        Some("omar-tw"),
    );
    w.gh.review(1, "ana-tw", "APPROVED", &head);
    refused(&w.verdict(1), "split it");
}

/// THREATS 12: any writer can edit anyone's comment. Omar turns a security engineer's harmless
/// comment into an override; GitHub still shows it as hers.
#[test]
fn an_edited_comment_is_no_override() {
    let mut w = world();
    let admin = grants("omar", "vpn", &[("staff", ""), ("admin", "2026-12-10")]);
    let head = w.ask(
        1,
        "omar-tw",
        &[("access/vpn/omar.yaml", Some(&admin))],
        Some("omar-tw"),
    );
    w.seen(&head);
    let id = w.gh.comment(1, "lena-tw", "Looking at this tomorrow.");
    w.gh.edit_comment(
        id,
        "/portcullis override INC-77 gateway down, approvers away",
    );
    refused(&w.verdict(1), "the comment was edited");
}

/// The control for the override attacks: an unedited override by the security team, written
/// after portcullis saw the head, passes.
#[test]
fn an_unedited_override_after_portcullis_saw_the_head_passes() {
    let mut w = world();
    let head = w.omar_asks_for_ana();
    w.seen(&head);
    w.gh.comment(
        1,
        "lena-tw",
        "/portcullis override ONB-12 Ana starts Monday",
    );
    let v = w.verdict(1);
    assert!(v.approved, "{v:#?}");
}

/// THREATS 12: any writer can set a status. Omar marks a prepared head as seen by portcullis
/// (status context and all) before the security engineer overrides the harmless head, then
/// moves the pull request onto the prepared one.
#[test]
fn a_forged_first_seen_status_does_not_carry_an_override_onto_new_content() {
    let mut w = world();
    let harmless = w.omar_asks_for_ana();
    w.seen(&harmless);
    let admin = grants("omar", "vpn", &[("staff", ""), ("admin", "2026-12-10")]);
    let evil = w.repo.commit(
        "pr-1",
        &[("access/vpn/omar.yaml", Some(&admin))],
        "Prepared",
    );
    w.gh.status(&evil, "omar-tw", STATUS_CONTEXT, "pending");
    w.gh.comment(
        1,
        "lena-tw",
        "/portcullis override ONB-12 Ana starts Monday",
    );
    w.gh.push(1, &evil, &[(&evil, Some("omar-tw"))]);
    refused(&w.verdict(1), "before the latest push");
}

/// A deleted account's review comes with `user: null`: it is nobody's approval.
#[test]
fn a_review_by_a_deleted_account_counts_for_nothing() {
    let mut w = world();
    let head = w.omar_asks_for_ana();
    w.gh.review(1, "kenji-tw", "APPROVED", &head);
    w.gh.delete_user("kenji-tw");
    refused(&w.verdict(1), "needs owner");
}

/// THREATS 2: an approval given while the pull request targeted another branch.
#[test]
fn an_approval_given_before_a_retarget_does_not_count() {
    let mut w = world();
    let head = w.omar_asks_for_ana();
    w.gh.review(1, "kenji-tw", "APPROVED", &head);
    let main = w.repo.tip("main");
    w.gh.retarget(1, &main, "omar-tw");
    refused(&w.verdict(1), "another branch");
}

/// THREATS 14: a person the pull request adds to people.yaml approves nothing of it.
#[test]
fn a_person_added_in_the_same_pull_request_does_not_approve_their_own_grant() {
    let mut w = world();
    let people = {
        let tree = portcullis_core::ports::Repo::tree(&w.repo, "main").unwrap();
        let Some(portcullis_core::snapshot::Entry::File(b)) =
            tree.read("policies/people.yaml").unwrap()
        else {
            panic!("no directory")
        };
        String::from_utf8(b.to_vec()).unwrap()
            + "  - id: zed\n    name: Zed Example\n    email: zed@tidewater.example\n    github: zed-tw\n    department: finance\n    manager: elena\n    type: employee\n    status: active\n"
    };
    w.gh.add_user("zed-tw");
    w.gh.recreate_team("tidewater", "it", &["kenji-tw", "zed-tw"]);
    let head = w.ask(
        1,
        "omar-tw",
        &[
            ("policies/people.yaml", Some(&people)),
            ("access/vpn/zed.yaml", Some(&staff("zed"))),
        ],
        Some("omar-tw"),
    );
    w.gh.review(1, "lena-tw", "APPROVED", &head);
    w.gh.review(1, "zed-tw", "APPROVED", &head);
    refused(&w.verdict(1), "people.yaml");
}

/// THREATS 3: whoever asked through the issue form does not approve the pull request the bot
/// opened for them, even with the "Requested in" line removed from its body: the branch names
/// the issue too.
#[test]
fn the_issue_form_requester_does_not_approve_the_bot_pull_request() {
    let mut w = world();
    w.gh.open_issue(7, "kenji-tw", "### App\n\nvpn\n");
    w.repo.branch("access/vpn/ana/staff/issue-7", "main");
    let head = w.repo.commit(
        "access/vpn/ana/staff/issue-7",
        &[("access/vpn/ana.yaml", Some(&staff("ana")))],
        "Ana",
    );
    let base = w.repo.tip("main");
    w.gh.open_pull(
        1,
        "portcullis[bot]",
        "access/vpn/ana/staff/issue-7",
        &head,
        &base,
        &[(&head, Some("portcullis[bot]"))],
        "Nothing to see",
    );
    w.gh.review(1, "kenji-tw", "APPROVED", &head);
    refused(&w.verdict(1), "issue #7");
}

/// THREATS 6: a team deleted and made again under the same slug is another team; with its id
/// pinned, its members approve nothing.
#[test]
fn a_recreated_owner_team_does_not_approve() {
    let mut repo = MemRepo::new();
    let mut gh = MemGitHub::new();
    OrgBuilder::new().build(&mut repo, &mut gh);
    let it = portcullis_core::ports::github::GitHub::team(&gh, "tidewater", "it")
        .unwrap()
        .unwrap();
    let settings = format!(
        "org: tidewater\nsecurity_team: \"@tidewater/security\"\nemergency_approvers: \"@tidewater/oncall\"\nbot_login: \"portcullis[bot]\"\nteam_ids:\n  \"@tidewater/it\": {it}\n"
    );
    repo.commit(
        "main",
        &[("policies/settings.yaml", Some(&settings))],
        "Pin",
    );
    let mut w = World { repo, gh };
    let head = w.omar_asks_for_ana();
    w.gh.review(1, "kenji-tw", "APPROVED", &head);
    assert!(w.verdict(1).approved, "the pin holds the real team");
    w.gh.recreate_team("tidewater", "it", &["kenji-tw"]);
    refused(&w.verdict(1), "made again");
}

/// A bot's approval is no person's decision.
#[test]
fn a_bot_approval_does_not_count() {
    let mut w = world();
    let head = w.omar_asks_for_ana();
    w.gh.add_user("helper[bot]");
    w.gh.recreate_team("tidewater", "it", &["kenji-tw", "helper[bot]"]);
    w.gh.review(1, "helper[bot]", "APPROVED", &head);
    refused(&w.verdict(1), "is a bot");
}

// -- apply's gate: what reached the branch is checked against what was approved --

/// The commits of `main` after `applied`, oldest first, checked as `apply` checks them.
fn gate(w: &World, applied: &str) -> Vec<verify::Checked> {
    use portcullis_core::ports::Repo as _;
    let range: Vec<portcullis_core::model::CommitId> = w
        .repo
        .commits_not_in("main", applied)
        .unwrap()
        .into_iter()
        .rev()
        .map(Into::into)
        .collect();
    let head = w.repo.tip("main");
    let catalog = {
        let tree = w.repo.tree(&head).unwrap();
        let mut snap = portcullis_core::snapshot::Snapshot::default();
        for path in ["policies/settings.yaml", "policies/apps/vpn.yaml"] {
            snap.files
                .insert(path.to_owned(), tree.read(path).unwrap().unwrap());
        }
        portcullis_core::load::load(&snap).0
    };
    let rules = verify::rule_paths(&catalog);
    verify::check(&w.gh, &w.repo, &range, &rules, "main", as_of()).unwrap()
}

fn unverified(checked: &[verify::Checked], words: &str) {
    let reasons: Vec<&str> = checked
        .iter()
        .filter_map(|c| match &c.status {
            verify::Status::Unverified { reason, .. } => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains(words)),
        "no unverified commit for `{words}`: {reasons:?}"
    );
}

/// The control: an approved pull request, merged as approved, is verified and covers all it
/// changed.
#[test]
fn an_approved_pull_request_merged_as_approved_is_verified() {
    let mut w = world();
    let applied = w.repo.tip("main");
    let head = w.omar_asks_for_ana();
    w.gh.review(1, "kenji-tw", "APPROVED", &head);
    let merge = w.repo.merge("main", &head, "Merge #1");
    w.gh.merge(1, &merge);
    let checked = gate(&w, &applied);
    let verified: Vec<_> = checked
        .iter()
        .filter_map(|c| match &c.status {
            verify::Status::Verified(v) => Some(v),
            _ => None,
        })
        .collect();
    assert!(!verified.is_empty(), "nothing verified");
    assert!(verified.iter().all(|v| v.uncovered.is_empty()));
    assert!(
        checked
            .iter()
            .all(|c| !matches!(c.status, verify::Status::Unverified { .. }))
    );
}

/// THREATS 1: a direct push to the branch (an admin bypassing protection) has no pull request.
#[test]
fn a_direct_push_is_unverified() {
    let mut w = world();
    let applied = w.repo.tip("main");
    let admin = grants("omar", "vpn", &[("staff", ""), ("admin", "2026-12-10")]);
    w.repo.commit(
        "main",
        &[("access/vpn/omar.yaml", Some(&admin))],
        "Quick fix",
    );
    unverified(&gate(&w, &applied), "without a pull request");
}

/// THREATS 2: an admin merges a pull request nobody approved; GitHub says it was merged, and
/// that is all it says.
#[test]
fn a_pull_request_merged_without_approval_is_unverified() {
    let mut w = world();
    let applied = w.repo.tip("main");
    let head = w.omar_asks_for_ana();
    let merge = w.repo.merge("main", &head, "Merge #1");
    w.gh.merge(1, &merge);
    unverified(&gate(&w, &applied), "merged without its approvals");
}

/// THREATS 4: the approved head is not what landed. The merge commit adds a grant nobody saw.
#[test]
fn a_grant_added_in_the_merge_commit_is_not_covered_by_the_approval() {
    let mut w = world();
    let applied = w.repo.tip("main");
    let head = w.omar_asks_for_ana();
    w.gh.review(1, "kenji-tw", "APPROVED", &head);
    let admin = grants("omar", "vpn", &[("staff", ""), ("admin", "2026-12-10")]);
    let merge = w.repo.merge_editing(
        "main",
        &head,
        &[("access/vpn/omar.yaml", Some(&admin))],
        "Merge #1",
    );
    w.gh.merge(1, &merge);
    let checked = gate(&w, &applied);
    let uncovered: Vec<portcullis_core::model::RoleId> = checked
        .iter()
        .filter_map(|c| match &c.status {
            verify::Status::Verified(v) => Some(v.uncovered.keys().map(|k| k.1.clone())),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(uncovered, ["admin"], "{}", uncovered.len());
}

/// A pull request changing the portal's policy, approved by the security team and merged;
/// before it, when `pushed_first`, a direct push loosening the VPN's. Whether the rules at the
/// tip are trusted, and the commits that changed rules unverified.
fn rules_after(pushed_first: bool) -> (bool, Vec<portcullis_core::model::CommitId>) {
    let mut w = world();
    let applied = w.repo.tip("main");
    if pushed_first {
        let loose = "id: vpn\nname: Corporate VPN\nowners: [\"@tidewater/it\"]\nrisk: low\nprovisioner:\n  type: manual\n  checklist:\n    - Add or remove the account in the gateway\nroles:\n  staff:\n    description: Office network access\n    target: vpn-users\n  admin:\n    description: Gateway administration\n    target: vpn-admins\n";
        w.repo
            .commit("main", &[("policies/apps/vpn.yaml", Some(loose))], "Loosen");
    }
    let portal = "id: treasury\nname: Treasury Portal\nowners: [\"@tidewater/it\"]\nrisk: low\nprovisioner:\n  type: manual\n  checklist:\n    - Add or remove the entitlement in the portal\nroles:\n  viewer:\n    description: Read balances\n";
    let head = w.ask(
        2,
        "omar-tw",
        &[("policies/apps/treasury.yaml", Some(portal))],
        Some("omar-tw"),
    );
    w.gh.review(2, "lena-tw", "APPROVED", &head);
    let merge = w.repo.merge("main", &head, "Merge #2");
    w.gh.merge(2, &merge);
    let checked = gate(&w, &applied);
    let mut rules = vec!["policies".to_owned(), "schemas".to_owned()];
    rules.extend(verify::TOOL_PATHS.iter().map(|p| (*p).to_owned()));
    let tip = w.repo.tip("main");
    verify::rules_trusted(&w.repo, &applied, &tip, &checked, &rules).unwrap()
}

/// SPEC section 7: a rule change approved by the security team moves the trusted rules; a
/// direct push loosening a rule before it is not laundered by it: the chain only moves from
/// what was trusted.
#[test]
fn a_verified_rule_change_does_not_launder_an_unverified_one() {
    let (trusted, unverified) = rules_after(false);
    assert!(trusted && unverified.is_empty(), "{unverified:?}");
    let (trusted, unverified) = rules_after(true);
    assert!(!trusted, "the unverified loosening is trusted");
    assert_eq!(unverified.len(), 1, "{unverified:?}");
}

/// Without `bot_login`, portcullis knows its own account only from a token that may ask
/// (`/user`): then its status marks when it saw the head and an override after it counts. An
/// installation token cannot ask, and then no override counts, since any writer could have set
/// a status that looks like ours.
#[test]
fn without_bot_login_an_override_counts_only_when_the_token_says_who_we_are() {
    let no_bot = "org: tidewater\nsecurity_team: \"@tidewater/security\"\nemergency_approvers: \"@tidewater/oncall\"\n";
    let verdict = |personal_token: bool| {
        let mut w = world_with(OrgBuilder::new().file("policies/settings.yaml", no_bot));
        if personal_token {
            w.gh.token_of("portcullis[bot]");
        }
        let head = w.omar_asks_for_ana();
        w.seen(&head);
        w.gh.comment(
            1,
            "lena-tw",
            "/portcullis override ONB-12 Ana starts Monday",
        );
        w.verdict(1)
    };
    let v = verdict(true);
    assert!(v.approved, "{v:#?}");
    refused(&verdict(false), "does not know its own GitHub account");
}
