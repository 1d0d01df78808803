//! Attacks by a repository writer on the promise that nothing is provisioned that was not
//! approved (THREATS 2, 3, 6, 12 to 14). Each test performs one attack end to end — pull
//! request, `approvals`, a merge by an admin who ignores the red status, `apply` — and fails if
//! anything of it is provisioned or if the security team is not told. The fake GitHub allows what
//! GitHub allows: writers editing anyone's comment, statuses from anyone, listings capped at 3000
//! files and 250 commits, retargets, commits whose e-mail no account has.

use std::collections::BTreeSet;
use std::process::Output;

use portcullis_github::Client;

use crate::apply::{Org, REPO, grants, text};

fn set(xs: &[&str]) -> BTreeSet<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

fn as_user(org: &Org, token: &str) -> Client {
    Client::new(&org.gh.url(), Some(token), REPO).unwrap()
}

fn approvals(org: &Org, pr: u64) -> Output {
    org.run(&["approvals", "--pr", &pr.to_string()], "2026-11-22")
}

/// The admin merges whatever `approvals` said; apply must provision nothing of it, exit 1 and
/// open one security issue. `target` must still hold exactly `before`.
fn merged_anyway_provisions_nothing(org: &Org, pr: u64, target: &str, before: &[&str]) {
    let head = org.client().pull(pr).unwrap().head.sha;
    org.client().merge_pull(pr, &head).unwrap();
    let out = org.apply(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(org.members(target), set(before), "{}", text(&out));
    assert_eq!(
        org.issues("portcullis-security").len(),
        1,
        "the security team is told: {}",
        text(&out)
    );
}

/// `approvals` refuses the pull request, naming `words`; an admin merges it anyway, and apply
/// provisions nothing of it and tells the security team.
fn refused_and_never_provisioned(org: &Org, pr: u64, words: &str, target: &str, before: &[&str]) {
    let out = approvals(org, pr);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains(words), "{}", text(&out));
    merged_anyway_provisions_nothing(org, pr, target, before);
}

/// A branch of `files` committed as `email`, opened as a pull request by Omar.
fn opened(org: &Org, branch: &str, files: &[(&str, Option<&str>)], email: &str) -> u64 {
    org.gh.push_commit(branch, files, email);
    org.gh
        .open_pull("token-omar-tw", branch, "main", branch, "")
}

/// Omar opens a pull request on `branch` writing one file.
fn omar_asks(org: &Org, branch: &str, path: &str, text: &str) -> u64 {
    opened(org, branch, &[(path, Some(text))], "omar@tidewater.example")
}

/// Omar holds vpn:staff and the store agrees; the first apply trusted the seed.
fn trusted() -> Org {
    let org = Org::new(&[("omar", "")], &["omar"]);
    org.trust();
    org
}

fn staff(person: &str) -> String {
    grants(person, "vpn", &[("staff", "")])
}

/// THREATS 13: GitHub lists at most 3000 files. 3000 harmless files under access/ push a change
/// to the rules out of the listing; judged from the listing, the pull request changes nothing
/// that needs anyone and passes with no review at all.
#[test]
fn a_rule_change_hidden_past_the_3000_file_listing_is_seen() {
    let org = trusted();
    let notes: Vec<(String, String)> = (0..3000)
        .map(|i| {
            (
                format!("access/aaa-notes/n{i:04}.md"),
                format!("note {i}\n"),
            )
        })
        .collect();
    let weaker = std::fs::read_to_string(org.clone.path().join("policies/apps/vpn.yaml"))
        .unwrap()
        .replace("owners: [\"@tidewater/it\"]", "owners: [\"@omar-tw\"]");
    let mut files: Vec<(&str, Option<&str>)> = notes
        .iter()
        .map(|(p, t)| (p.as_str(), Some(t.as_str())))
        .collect();
    files.push(("policies/apps/vpn.yaml", Some(&weaker)));
    org.gh
        .push_commit("tidy-notes", &files, "omar@tidewater.example");
    let pr = org
        .gh
        .open_pull("token-omar-tw", "tidy-notes", "main", "Notes", "");
    // The precondition of the attack: GitHub's own listing does not show the rule change.
    let listed = org.client().pull_files(pr).unwrap();
    assert_eq!(listed.len(), 3000);
    assert!(
        listed
            .iter()
            .all(|f| f.filename != "policies/apps/vpn.yaml")
    );

    let out = approvals(&org, pr);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("policies/apps/vpn.yaml"),
        "{}",
        text(&out)
    );
    merged_anyway_provisions_nothing(&org, pr, "vpn-users", &["omar"]);
    // With the rules changed unreviewed, a grant the weakened rules would let Omar approve is
    // not provisioned either.
    org.gh.push_commit(
        "ana",
        &[("access/vpn/ana.yaml", Some(&staff("ana")))],
        "omar@tidewater.example",
    );
    let pr = org.gh.open_pull("token-kenji-tw", "ana", "main", "ana", "");
    org.gh.review("token-omar-tw", pr, "APPROVED");
    let head = org.gh.branch_sha("ana").unwrap();
    org.client().merge_pull(pr, &head).unwrap();
    let out = org.apply(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(org.members("vpn-users"), set(&["omar"]));
}

/// THREATS 13: GitHub lists at most 250 commits. The author of commit 251 is not in the listing,
/// so they could approve their own work.
#[test]
fn the_author_of_commit_251_cannot_approve_their_own_work() {
    let org = trusted();
    for i in 0..250 {
        let note = format!("note {i}\n");
        org.gh.push_commit(
            "long",
            &[("access/aaa-notes/n.md", Some(&note))],
            "omar@tidewater.example",
        );
    }
    // Kenji, an owner of the VPN, writes the grant in the 251st commit and approves.
    let last = org.gh.push_commit(
        "long",
        &[("access/vpn/ana.yaml", Some(&staff("ana")))],
        "kenji@tidewater.example",
    );
    let pr = org
        .gh
        .open_pull("token-omar-tw", "long", "main", "Long", "");
    let listed = org.client().pull_commits(pr).unwrap();
    assert_eq!(listed.len(), 250);
    assert!(listed.iter().all(|c| c.sha != last));
    org.gh.review("token-kenji-tw", pr, "APPROVED");

    refused_and_never_provisioned(&org, pr, "250", "vpn-users", &["omar"]);
}

/// THREATS 12: any writer can edit anyone's comment. Omar turns a security engineer's harmless
/// comment into an override; it is still shown as hers.
#[test]
fn an_edited_comment_is_no_override() {
    let org = trusted();
    let pr = omar_asks(
        &org,
        "omar",
        "access/vpn/omar.yaml",
        &grants("omar", "vpn", &[("staff", ""), ("admin", "2026-12-10")]),
    );
    assert_eq!(approvals(&org, pr).status.code(), Some(1));
    let id = org
        .gh
        .comment("token-lena-tw", pr, "Looking at this tomorrow.");
    org.gh.edit_comment(
        "token-omar-tw",
        id,
        "/portcullis override INC-77 gateway down, approvers away",
    );
    refused_and_never_provisioned(&org, pr, "edited", "vpn-admins", &[]);
}

/// THREATS 12: any writer can set a commit status. Omar posts `portcullis/approvals` on a
/// prepared commit before the security engineer overrides the harmless head, then moves the
/// pull request onto the prepared commit: by the forged status, the override came after the
/// head was first seen.
#[test]
fn a_forged_first_seen_status_does_not_carry_an_override_onto_new_content() {
    let org = trusted();
    let omar = as_user(&org, "token-omar-tw");
    let harmless = org.gh.push_commit(
        "ana",
        &[("access/vpn/ana.yaml", Some(&staff("ana")))],
        "omar@tidewater.example",
    );
    let pr = org.gh.open_pull("token-omar-tw", "ana", "main", "Ana", "");
    assert_eq!(approvals(&org, pr).status.code(), Some(1));
    omar.create_branch("prepared", &harmless).unwrap();
    let evil = org.gh.push_commit(
        "prepared",
        &[(
            "access/vpn/omar.yaml",
            Some(&grants(
                "omar",
                "vpn",
                &[("staff", ""), ("admin", "2026-12-10")],
            )),
        )],
        "omar@tidewater.example",
    );
    omar.create_status(&evil, "pending", "portcullis/approvals", "checking")
        .unwrap();
    org.gh.comment(
        "token-lena-tw",
        pr,
        "/portcullis override ONB-12 Ana starts Monday",
    );
    omar.update_branch("ana", &evil, false).unwrap();
    let out = approvals(&org, pr);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    merged_anyway_provisions_nothing(&org, pr, "vpn-admins", &[]);
}

/// The legitimate override still works: written after portcullis's own status on the head,
/// unedited, by the security team.
#[test]
fn an_unedited_override_after_portcullis_saw_the_head_is_provisioned() {
    let org = trusted();
    let pr = omar_asks(&org, "ana", "access/vpn/ana.yaml", &staff("ana"));
    assert_eq!(approvals(&org, pr).status.code(), Some(1));
    org.gh.comment(
        "token-lena-tw",
        pr,
        "/portcullis override ONB-12 Ana starts Monday",
    );
    let out = approvals(&org, pr);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let head = org.client().pull(pr).unwrap().head.sha;
    org.client().merge_pull(pr, &head).unwrap();
    let out = org.apply(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(org.members("vpn-users"), set(&["omar", "ana"]));
}

/// THREATS 14: peer adoption counted on the pull request's own head. One pull request granting
/// a role to the whole department makes every grantee's peers hold it.
#[test]
fn a_pull_request_granting_a_whole_department_does_not_approve_itself() {
    let vpn = "id: vpn\nname: Corporate VPN\nowners: [\"@tidewater/it\"]\nrisk: low\nprovisioner: {type: command, command: STORE_CMD, timeout_seconds: 30, env: [STORE]}\nroles:\n  staff:\n    description: Office network access\n    target: vpn-users\n    auto_approve: {peer_adoption: 0.5, min_peers: 3}\n";
    let org = Org::build(&[("omar", "")], &["omar"], &[]);
    let script = org.store.path().join("store");
    let vpn = vpn.replace("STORE_CMD", &script.display().to_string());
    // The organisation's policy has auto-approval before the first apply.
    org.merged_pr(
        "auto",
        &[("policies/apps/vpn.yaml", Some(&vpn))],
        &["token-lena-tw"],
    );
    org.trust();
    let files: Vec<(String, String)> = (1..=8)
        .map(|i| (format!("access/vpn/p{i}.yaml"), staff(&format!("p{i}"))))
        .collect();
    let refs: Vec<(&str, Option<&str>)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), Some(t.as_str())))
        .collect();
    org.gh
        .push_commit("everyone", &refs, "omar@tidewater.example");
    let pr = org
        .gh
        .open_pull("token-omar-tw", "everyone", "main", "Everyone", "");
    refused_and_never_provisioned(&org, pr, "1 of 13", "vpn-users", &["omar"]);
}

/// THREATS 14: co-grantees approve each other. Kenji and Dana, both VPN owners, are granted
/// admin in one pull request and each approves.
#[test]
fn co_grantees_do_not_approve_each_other() {
    let org = Org::new(&[("omar", "")], &["omar"]);
    org.gh.add_team("tidewater", "it", &["kenji-tw", "dana-tw"]);
    org.trust();
    let pr = opened(
        &org,
        "both",
        &[
            ("access/vpn/kenji.yaml", Some(&staff("kenji"))),
            ("access/vpn/dana.yaml", Some(&staff("dana"))),
        ],
        "omar@tidewater.example",
    );
    org.gh.review("token-kenji-tw", pr, "APPROVED");
    org.gh.review("token-dana-tw", pr, "APPROVED");
    refused_and_never_provisioned(&org, pr, "grantee", "vpn-users", &["omar"]);
}

/// THREATS 14: a person added to people.yaml in the same pull request is not in the base's
/// directory, so nothing knew their login was the grantee's.
#[test]
fn a_person_added_in_the_same_pull_request_does_not_approve_their_own_grant() {
    let org = Org::new(&[("omar", "")], &["omar"]);
    org.gh.add_user("zed-tw", "zed@tidewater.example");
    org.gh.add_team("tidewater", "it", &["kenji-tw", "zed-tw"]);
    org.trust();
    let people = std::fs::read_to_string(org.clone.path().join("policies/people.yaml")).unwrap()
        + "  - id: zed\n    name: Zed Example\n    email: zed@tidewater.example\n    github: zed-tw\n    department: finance\n    manager: elena\n    type: employee\n    status: active\n";
    let pr = opened(
        &org,
        "zed",
        &[
            ("policies/people.yaml", Some(&people)),
            ("access/vpn/zed.yaml", Some(&staff("zed"))),
        ],
        "omar@tidewater.example",
    );
    org.gh.review("token-lena-tw", pr, "APPROVED");
    org.gh.review("token-zed-tw", pr, "APPROVED");
    refused_and_never_provisioned(&org, pr, "people.yaml", "vpn-users", &["omar"]);
}

/// THREATS 3: whoever asked through the issue form does not approve the pull request the bot
/// opened for them, even after removing the "Requested in" line from its body.
#[test]
fn the_issue_form_requester_does_not_approve_the_bot_pull_request() {
    let org = trusted();
    let form = "### App\n\nvpn\n\n### Role\n\nstaff\n\n### Duration\n\n_No response_\n\n### Expires\n\n_No response_\n\n### Justification\n\nWorks from the road most of the week\n\n### Ticket\n\n_No response_\n\n### Person\n\nana\n";
    let issue = org.gh.create_issue(
        "token-kenji-tw",
        "Access request",
        form,
        &["access-request"],
    );
    let out = org.run(
        &["request", "--from-issue", &issue.to_string()],
        "2026-11-22",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let pr = org.client().pulls("open", None).unwrap()[0].number;
    as_user(&org, "token-kenji-tw")
        .update_pull(pr, None, Some("Nothing to see"), None)
        .unwrap();
    org.gh.review("token-kenji-tw", pr, "APPROVED");
    let out = approvals(&org, pr);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("issue #{issue}")),
        "{}",
        text(&out)
    );
    merged_anyway_provisions_nothing(&org, pr, "vpn-users", &["omar"]);
}

/// THREATS 13: a commit whose e-mail GitHub links to no account hides its author. Kenji writes
/// the grant under an address GitHub does not know, then approves.
#[test]
fn a_commit_github_cannot_attribute_makes_the_pull_request_ineligible() {
    let org = trusted();
    let pr = opened(
        &org,
        "ana",
        &[("access/vpn/ana.yaml", Some(&staff("ana")))],
        "kenji.private@elsewhere.example",
    );
    org.gh.review("token-kenji-tw", pr, "APPROVED");
    refused_and_never_provisioned(&org, pr, "cannot link", "vpn-users", &["omar"]);
}

/// THREATS 2: an approval given while the pull request targeted another branch.
#[test]
fn an_approval_given_before_a_retarget_does_not_count() {
    let org = trusted();
    let main = org.gh.branch_sha("main").unwrap();
    org.client().create_branch("sandbox", &main).unwrap();
    org.gh.push_commit(
        "ana",
        &[("access/vpn/ana.yaml", Some(&staff("ana")))],
        "omar@tidewater.example",
    );
    let pr = org
        .gh
        .open_pull("token-omar-tw", "ana", "sandbox", "Try in the sandbox", "");
    org.gh.review("token-kenji-tw", pr, "APPROVED");
    org.gh.retarget("token-omar-tw", pr, "main");
    refused_and_never_provisioned(&org, pr, "another branch", "vpn-users", &["omar"]);
}

/// THREATS 6: a recycled login. The directory pins Elena's account id; an account that now
/// answers to `elena-tw` with another id is not her.
#[test]
fn a_recycled_manager_login_does_not_approve() {
    let org = Org::new(&[("omar", "")], &["omar"]);
    let people = std::fs::read_to_string(org.clone.path().join("policies/people.yaml"))
        .unwrap()
        .replacen(
            "    github: elena-tw\n",
            "    github: elena-tw\n    github_id: 4242424242\n",
            1,
        );
    org.merged_pr(
        "pin",
        &[("policies/people.yaml", Some(&people))],
        &["token-lena-tw"],
    );
    org.trust();
    let pr = omar_asks(
        &org,
        "ana",
        "access/vpn/ana.yaml",
        &grants("ana", "vpn", &[("contractor", "2026-12-20")]),
    );
    org.gh.review("token-kenji-tw", pr, "APPROVED");
    org.gh.review("token-elena-tw", pr, "APPROVED");
    refused_and_never_provisioned(&org, pr, "recycled", "vpn-users", &["omar"]);
}

/// The control for the exclusions: a request approved by an owner who is nobody excluded is
/// approved and provisioned.
#[test]
fn an_ordinary_request_is_still_approved_and_provisioned() {
    let org = trusted();
    let pr = omar_asks(&org, "ana", "access/vpn/ana.yaml", &staff("ana"));
    org.gh.review("token-kenji-tw", pr, "APPROVED");
    let out = approvals(&org, pr);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let head = org.client().pull(pr).unwrap().head.sha;
    org.client().merge_pull(pr, &head).unwrap();
    let out = org.apply(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(org.members("vpn-users"), set(&["omar", "ana"]));
    assert!(org.issues("portcullis-security").is_empty());
    // The evidence names the approver by account id too (THREATS 6).
    let kenji = org.client().user("kenji-tw").unwrap().unwrap();
    let record = org
        .evidence()
        .into_iter()
        .find(|n| n.pr == Some(pr))
        .expect("the pull request's record");
    assert_eq!(record.approvals[0].reviewer_id, Some(kenji.id));
    assert!(record.sig.is_some(), "signed");
}

/// THREATS 5: a line of output that starts with `::` is a workflow command in GitHub Actions
/// (`::add-mask::`, `::stop-commands::`). Text from a grant file, an issue form or an error
/// never starts a line of any command's output.
#[test]
fn untrusted_text_never_starts_a_workflow_command() {
    let org = trusted();
    let grant = "person: ana\napp: vpn\ngrants:\n  - role: staff\n    justification: |\n      Works from the road most of the week\n      ::error title=pwned::injected\n      ::stop-commands::x\n";
    let pr = omar_asks(&org, "ana", "access/vpn/ana.yaml", grant);
    let form = "### App\n\nvpn\n\n### Role\n\n::error::role\n\n### Duration\n\n::warning::d\n\n### Expires\n\n_No response_\n\n### Justification\n\n::add-mask::x\n::error::y\n\n### Ticket\n\n_No response_\n\n### Person\n\nana\n";
    let issue = org
        .gh
        .create_issue("token-omar-tw", "Access request", form, &["access-request"]);
    git_checkout(&org, &format!("refs/remotes/pull/{pr}/head"));
    let runs = [
        org.run(&["approvals", "--pr", &pr.to_string()], "2026-11-22"),
        org.run(
            &["comment", "--pr", &pr.to_string(), "--dry-run"],
            "2026-11-22",
        ),
        org.run(&["check", "--format", "text"], "2026-11-22"),
        org.run(&["check", "--format", "markdown"], "2026-11-22"),
        org.run(
            &["plan", "--base", "origin/main", "--head", "HEAD"],
            "2026-11-22",
        ),
        org.run(
            &["request", "--from-issue", &issue.to_string()],
            "2026-11-22",
        ),
    ];
    for out in &runs {
        let all = text(out);
        assert!(all.contains("error"), "the text reached the output: {all}");
        for line in all.lines() {
            assert!(
                !line.trim_start().starts_with("::"),
                "a line starts a workflow command: {line:?}\n{all}"
            );
        }
    }
}

fn git_checkout(org: &Org, rev: &str) {
    org.fetch();
    crate::support::git(org.clone.path(), &["checkout", "-q", "--detach", rev]);
}

/// THREATS 14: two pull requests, each clean alone and each approved, together give Ana a pair
/// of roles `policies/sod.yaml` forbids. apply holds back the grant that completes the pair.
#[test]
fn two_clean_pull_requests_cannot_together_complete_a_forbidden_pair() {
    let org = Org::new(&[("omar", "")], &["omar"]);
    let script = org.store.path().join("store");
    let wiki = format!(
        "id: wiki\nname: Finance wiki\nowners: [\"@tidewater/it\"]\nrisk: low\nprovisioner: {{type: command, command: {}, timeout_seconds: 30, env: [STORE]}}\nroles:\n  editor:\n    description: Edits the payment runbooks\n    target: wiki-editors\n",
        script.display()
    );
    let sod = "rules:\n  - id: vpn-and-runbooks\n    description: Who edits the runbooks does not run them from the office network\n    severity: error\n    conflicts:\n      - [vpn:staff]\n      - [wiki:editor]\n";
    org.merged_pr(
        "wiki",
        &[
            ("policies/apps/wiki.yaml", Some(&wiki)),
            ("policies/sod.yaml", Some(sod)),
        ],
        &["token-lena-tw"],
    );
    org.edit_store(|s| s["targets"]["wiki-editors"] = serde_json::json!([]));
    org.trust();
    // Both requests are opened from the same main, each clean alone, each approved.
    org.gh.push_commit(
        "ana-vpn",
        &[("access/vpn/ana.yaml", Some(&staff("ana")))],
        "omar@tidewater.example",
    );
    let vpn_pr = org
        .gh
        .open_pull("token-omar-tw", "ana-vpn", "main", "VPN", "");
    org.gh.push_commit(
        "ana-wiki",
        &[(
            "access/wiki/ana.yaml",
            Some(&grants("ana", "wiki", &[("editor", "")])),
        )],
        "omar@tidewater.example",
    );
    let wiki_pr = org
        .gh
        .open_pull("token-omar-tw", "ana-wiki", "main", "Wiki", "");
    for pr in [vpn_pr, wiki_pr] {
        org.gh.review("token-kenji-tw", pr, "APPROVED");
        let out = approvals(&org, pr);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let head = org.client().pull(vpn_pr).unwrap().head.sha;
    org.client().merge_pull(vpn_pr, &head).unwrap();
    let out = org.apply(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(org.members("vpn-users"), set(&["omar", "ana"]));

    let head = org.client().pull(wiki_pr).unwrap().head.sha;
    org.client().merge_pull(wiki_pr, &head).unwrap();
    let out = org.apply(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("vpn-and-runbooks"), "{}", text(&out));
    assert!(org.members("wiki-editors").is_empty(), "{}", text(&out));
    assert_eq!(org.members("vpn-users"), set(&["omar", "ana"]));
    let issues = org.issues("portcullis-security");
    assert_eq!(issues.len(), 1, "{issues:#?}");
    assert!(issues[0].title.contains("vpn-and-runbooks"));
    // Held back on every run, reported once.
    assert_eq!(org.apply(&[]).status.code(), Some(1));
    assert!(org.members("wiki-editors").is_empty());
    assert_eq!(org.issues("portcullis-security").len(), 1);
}

// ---- the applier's memory: state and evidence refs that any writer can push ----

fn clone_repo(org: &Org) -> git2::Repository {
    git2::Repository::open(org.clone.path()).unwrap()
}

/// A direct push to main by Omar, granting himself gateway admin: never approved.
fn direct_push(org: &Org) -> String {
    org.gh.push_commit(
        "main",
        &[(
            "access/vpn/omar.yaml",
            Some(&grants(
                "omar",
                "vpn",
                &[("staff", ""), ("admin", "2026-12-10")],
            )),
        )],
        "omar@tidewater.example",
    )
}

fn refused_with(out: &Output, words: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", text(out));
    assert!(text(out).contains(words), "{}", text(out));
}

/// THREATS 12: the state ref fast-forwarded past a direct push would make apply verify
/// nothing. Unsigned, or signed with another key, it is refused.
#[test]
fn a_state_moved_past_a_direct_push_is_refused() {
    for forger in [
        None,
        Some(portcullis_core::signing::Signer::from_seed([1; 32])),
    ] {
        let org = trusted();
        let head = direct_push(&org);
        org.fetch();
        let repo = clone_repo(&org);
        let mut state = portcullis_git::ledger::read_state(&repo).unwrap();
        state.applied = Some(head.clone().into());
        portcullis_git::ledger::write_state(&repo, &state, forger.as_ref(), "moved on").unwrap();
        let out = org.apply(&[]);
        refused_with(
            &out,
            if forger.is_some() {
                "did not make"
            } else {
                "no signature"
            },
        );
        assert!(org.members("vpn-admins").is_empty());
        let issues = org.issues("portcullis-security");
        assert_eq!(issues.len(), 1);
        // Refused again on the next run, reported once.
        assert_eq!(org.apply(&[]).status.code(), Some(1));
        assert_eq!(org.issues("portcullis-security").len(), 1);
        // The incident is closed; a second forgery is a second incident, reported anew.
        org.gh
            .set_issue_state("token-lena-tw", issues[0].number, "closed");
        state.quarantine = Default::default();
        portcullis_git::ledger::write_state(&repo, &state, forger.as_ref(), "again").unwrap();
        refused_with(&org.apply(&[]), "refs/portcullis/state");
        assert_eq!(org.issues("portcullis-security").len(), 2);
        assert!(org.members("vpn-admins").is_empty());
    }
}

/// THREATS 12: emptying the quarantine, keeping the old signature.
#[test]
fn an_emptied_quarantine_is_refused() {
    let org = trusted();
    direct_push(&org);
    assert_eq!(org.apply(&[]).status.code(), Some(1), "quarantined");
    let repo = clone_repo(&org);
    let stored = portcullis_git::ledger::read_stored_state(&repo)
        .unwrap()
        .unwrap();
    assert!(!stored.state.quarantine.entries.is_empty());
    // The same tree, with state.json's quarantine emptied and state.sig kept.
    let mut released = stored.state.clone();
    released.quarantine = Default::default();
    let emptied = serde_json::to_vec_pretty(&released).unwrap();
    let state_ref = repo
        .find_reference(portcullis_git::ledger::STATE_REF)
        .unwrap();
    let commit = state_ref.peel_to_commit().unwrap();
    let mut tree = repo.treebuilder(Some(&commit.tree().unwrap())).unwrap();
    let blob = repo.blob(&emptied).unwrap();
    tree.insert("state.json", blob, 0o100644).unwrap();
    let tree = repo.find_tree(tree.write().unwrap()).unwrap();
    let sig = git2::Signature::now("omar", "omar@tidewater.example").unwrap();
    repo.commit(
        Some(portcullis_git::ledger::STATE_REF),
        &sig,
        &sig,
        "release",
        &tree,
        &[&commit],
    )
    .unwrap();
    assert!(
        portcullis_git::ledger::read_state(&repo)
            .unwrap()
            .quarantine
            .entries
            .is_empty()
    );
    let out = org.apply(&[]);
    refused_with(&out, "did not make");
    assert!(org.members("vpn-admins").is_empty());
}

/// An older genuine state (a writer resets the ref to an earlier signed one) only makes apply
/// verify more: the direct push is found and quarantined again, nothing unapproved is
/// provisioned, the approved grant stays.
#[test]
fn an_older_genuine_state_only_makes_apply_verify_more() {
    let org = trusted();
    let repo = clone_repo(&org);
    let first = repo
        .find_reference(portcullis_git::ledger::STATE_REF)
        .unwrap()
        .target()
        .unwrap();
    org.merged_pr(
        "access/vpn/ana/staff",
        &[("access/vpn/ana.yaml", Some(&staff("ana")))],
        &["token-kenji-tw"],
    );
    assert_eq!(org.apply(&[]).status.code(), Some(0));
    direct_push(&org);
    assert_eq!(org.apply(&[]).status.code(), Some(1));
    repo.reference(portcullis_git::ledger::STATE_REF, first, true, "roll back")
        .unwrap();
    let out = org.apply(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("2 new commits"), "{}", text(&out));
    assert!(text(&out).contains("quarantined"), "{}", text(&out));
    assert!(org.members("vpn-admins").is_empty());
    assert_eq!(org.members("vpn-users"), set(&["omar", "ana"]));
}

/// THREATS 12: the hash chain has no key, so anyone can re-seal it wholesale with other
/// approvers. Re-sealed records carry no valid signature.
#[test]
fn a_re_sealed_evidence_chain_is_refused() {
    let org = trusted();
    org.merged_pr(
        "access/vpn/ana/staff",
        &[("access/vpn/ana.yaml", Some(&staff("ana")))],
        &["token-kenji-tw"],
    );
    assert_eq!(org.apply(&[]).status.code(), Some(0));
    let repo = clone_repo(&org);
    let stored = portcullis_git::history::read_notes(&repo).unwrap();
    let (records, _) = portcullis_core::evidence::read_all(&stored);
    let mut notes: Vec<portcullis_core::evidence::Note> =
        records.into_iter().map(|r| r.note).collect();
    notes.sort_by_key(|n| n.seq);
    // Mallory claims she approved, and re-seals every record so the chain still holds.
    let mut prev: Option<portcullis_core::evidence::Note> = None;
    let mut resealed = Vec::new();
    for n in notes {
        let mut approvals = n.approvals.clone();
        for a in &mut approvals {
            a.reviewer = "mallory".into();
        }
        let draft = portcullis_core::evidence::Draft {
            kind: n.kind,
            commit: n.commit.clone(),
            pr: n.pr,
            pr_head: n.pr_head.clone(),
            approvals,
            override_: n.override_.clone(),
            bypass: n.bypass.clone(),
            run: n.run.clone(),
            actions: n.actions.clone(),
        };
        let note = portcullis_core::evidence::seal(draft, prev.as_ref());
        prev = Some(note.clone());
        resealed.push(note);
    }
    repo.find_reference(portcullis_core::evidence::NOTES_REF)
        .unwrap()
        .delete()
        .unwrap();
    portcullis_git::ledger::append_notes(&repo, &resealed).unwrap();
    assert!(
        portcullis_core::evidence::chain_verify(
            &portcullis_git::history::read_notes(&repo).unwrap()
        )
        .is_empty()
    );
    let out = org.apply(&[]);
    refused_with(&out, "signature");
    assert_eq!(org.issues("portcullis-security").len(), 1);
    // An auditor, with the public key in settings and no secret, sees it too.
    let out = org.run(
        &[
            "audit",
            "--evidence",
            "--since",
            "2026-11-01",
            "--offline",
            "--format",
            "json",
        ],
        "2026-11-22",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("unsigned"), "{}", text(&out));
}

/// THREATS 12: deleting the notes ref silently started a new chain.
#[test]
fn deleted_evidence_is_refused_and_a_deleted_state_starts_no_new_chain() {
    let org = trusted();
    org.merged_pr(
        "access/vpn/ana/staff",
        &[("access/vpn/ana.yaml", Some(&staff("ana")))],
        &["token-kenji-tw"],
    );
    assert_eq!(org.apply(&[]).status.code(), Some(0));
    let repo = clone_repo(&org);
    repo.find_reference(portcullis_core::evidence::NOTES_REF)
        .unwrap()
        .delete()
        .unwrap();
    let out = org.apply(&[]);
    refused_with(&out, "truncated");
    // Both refs gone: a first run over them is refused too, found by portcullis's own status.
    repo.find_reference(portcullis_git::ledger::STATE_REF)
        .unwrap()
        .delete()
        .unwrap();
    direct_push(&org);
    let out = org.apply(&["--trust-from", "HEAD"]);
    refused_with(&out, "it was deleted");
    assert!(org.members("vpn-admins").is_empty());
}

/// The one-time migration from records written before signing: refused until adopted
/// explicitly, logged, and signed from then on.
#[test]
fn an_unsigned_state_is_adopted_only_explicitly_and_then_signed() {
    let org = trusted();
    let repo = clone_repo(&org);
    let state = portcullis_git::ledger::read_state(&repo).unwrap();
    portcullis_git::ledger::write_state(&repo, &state, None, "as an earlier version wrote it")
        .unwrap();
    refused_with(&org.apply(&[]), "no signature");
    let out = org.apply(&["--adopt-unsigned-state"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("migrated:"), "{}", text(&out));
    let stored = portcullis_git::ledger::read_stored_state(&repo)
        .unwrap()
        .unwrap();
    assert!(stored.signature.is_some());
    org.merged_pr(
        "access/vpn/ana/staff",
        &[("access/vpn/ana.yaml", Some(&staff("ana")))],
        &["token-kenji-tw"],
    );
    let out = org.apply(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(org.evidence().iter().any(|n| n.sig.is_some()));
}

/// THREATS 6: a team deleted and made again under the same slug (by someone who may create
/// teams) is another team. With its id pinned in `team_ids`, its new members approve nothing.
#[test]
fn a_recreated_owner_team_does_not_approve() {
    let org = Org::new(&[("omar", "")], &["omar"]);
    let id = org.gh.team_id("tidewater", "it");
    let settings = std::fs::read_to_string(org.clone.path().join("policies/settings.yaml"))
        .unwrap()
        + &format!("team_ids:\n  \"@tidewater/it\": {id}\n");
    org.merged_pr(
        "pin-teams",
        &[("policies/settings.yaml", Some(&settings))],
        &["token-lena-tw"],
    );
    org.trust();
    // The pin holds for the team as it is: Kenji's approval counts.
    let pr = omar_asks(&org, "ana", "access/vpn/ana.yaml", &staff("ana"));
    org.gh.review("token-kenji-tw", pr, "APPROVED");
    assert_eq!(approvals(&org, pr).status.code(), Some(0));
    // The team is made again under its slug, with Dana in it.
    org.gh.recreate_team("tidewater", "it", &["dana-tw"]);
    let pr = omar_asks(&org, "dana", "access/vpn/p1.yaml", &staff("p1"));
    org.gh.review("token-dana-tw", pr, "APPROVED");
    refused_and_never_provisioned(&org, pr, "not the team", "vpn-users", &["omar"]);
}

/// Without `bot_login`, apply cannot tell its own evidence status from a forged one, so it
/// cannot tell a first run from a run over a deleted state: a first run is refused.
#[test]
fn a_first_run_without_bot_login_is_refused() {
    let org = Org::new(&[("omar", "")], &["omar"]);
    let settings = std::fs::read_to_string(org.clone.path().join("policies/settings.yaml"))
        .unwrap()
        .replace("bot_login: \"portcullis[bot]\"\n", "");
    org.merged_pr(
        "no-bot-login",
        &[("policies/settings.yaml", Some(&settings))],
        &["token-lena-tw"],
    );
    let out = org.apply(&["--trust-from", "origin/main"]);
    refused_with(&out, "bot_login");
    assert!(org.writes().is_empty());
}
