//! The two provisioners that live on GitHub, against the fake GitHub: `github-team` (team
//! memberships, pending invitations, complete listings) and `manual` (one issue per change for
//! the owners, pending until closed, never opened twice).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use portcullis_core::model::{self, App, Risk, Spanned};
use portcullis_github::Client;
use portcullis_provisioners::manual::LABEL;
use portcullis_provisioners::{Effect, Provisioner, connect_in};

use crate::fake_github::FakeGitHub;

const REPO: &str = "tidewater/access";

fn set(xs: &[&str]) -> BTreeSet<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

fn app(owners: &[&str], provisioner: model::Provisioner) -> App {
    App {
        id: Spanned {
            value: "salesforce".into(),
            pos: model::Pos::START,
        },
        file: "policies/apps/salesforce.yaml".into(),
        name: "Salesforce".into(),
        description: None,
        owners: owners.iter().map(|o| o.to_string()).collect(),
        risk: Risk::Medium,
        review_every: None,
        unmanaged: vec![],
        provisioner,
        roles: BTreeMap::new(),
    }
}

fn world() -> (FakeGitHub, String) {
    let gh = FakeGitHub::start();
    gh.create_repo_with(REPO, &[("README.md", "access\n")]);
    let bot = gh.add_bot("portcullis[bot]");
    for login in ["alice-gh", "bob-gh", "carol-gh", "kenji-tw", "mallory"] {
        gh.add_user(login, &format!("{login}@example.com"));
    }
    (gh, bot)
}

fn connect(gh: &FakeGitHub, token: &str, app: &App) -> Box<dyn Provisioner> {
    let vars = BTreeMap::from([
        ("GITHUB_API_URL".to_owned(), gh.url()),
        ("GITHUB_TOKEN".to_owned(), token.to_owned()),
        ("GITHUB_REPOSITORY".to_owned(), REPO.to_owned()),
    ]);
    let mut settings =
        model::Settings::with_defaults("tidewater".into(), "@tidewater/security".into());
    // The bot's installation token cannot ask GitHub who it is (`/user` answers 403).
    settings.bot_login = Some("portcullis[bot]".into());
    connect_in(app, Some(&settings), Path::new("."), &|k| {
        vars.get(k).cloned()
    })
    .unwrap()
}

fn team_app() -> App {
    // No `org` of its own: the settings' org is used.
    app(
        &["@tidewater/eng-leads"],
        model::Provisioner::GithubTeam {
            org: None,
            login: None,
        },
    )
}

#[test]
fn contract_github_team() {
    let (gh, bot) = world();
    gh.add_team("tidewater", "everyone", &["alice-gh", "bob-gh"]);
    gh.add_team("tidewater", "engineering", &[]);
    let mut p = connect(&gh, &bot, &team_app());
    crate::provisioner::contract(&mut *p, "engineering", ["alice-gh", "bob-gh"], |_| {
        gh.writes().len() as u64
    });
    assert!(
        p.list("no-such-team").is_err(),
        "a missing team is an error"
    );
}

#[test]
fn github_team_pending_invitations_are_pending_and_not_asked_twice() {
    let (gh, bot) = world();
    gh.add_team("tidewater", "engineering", &["alice-gh"]);
    let mut p = connect(&gh, &bot, &team_app());
    // carol is not in the organisation yet: the membership waits for her to accept.
    let first = p.add("engineering", "carol-gh").unwrap();
    assert!(
        matches!(&first, Effect::Pending(d) if d.contains("invited")),
        "{first:?}"
    );
    let writes = gh.writes().len();
    assert!(matches!(
        p.add("engineering", "carol-gh").unwrap(),
        Effect::Pending(_)
    ));
    assert_eq!(
        gh.writes().len(),
        writes,
        "a pending invitation is not sent again"
    );
    assert_eq!(p.list("engineering").unwrap(), set(&["alice-gh"]));
    // She accepts.
    gh.set_team_member("tidewater", "engineering", "carol-gh", Some("active"));
    assert_eq!(
        p.list("engineering").unwrap(),
        set(&["alice-gh", "carol-gh"])
    );
    assert_eq!(p.add("engineering", "carol-gh").unwrap(), Effect::Unchanged);
    // An unknown login is an error, not a silent success.
    assert!(p.add("engineering", "nobody-here").is_err());
}

#[test]
fn github_team_listing_fails_whole_when_a_page_fails() {
    let (gh, bot) = world();
    let logins: Vec<String> = (0..150).map(|i| format!("dev{i:03}")).collect();
    for l in &logins {
        gh.add_user(l, &format!("{l}@example.com"));
    }
    let refs: Vec<&str> = logins.iter().map(String::as_str).collect();
    gh.add_team("tidewater", "engineering", &refs);
    let mut p = connect(&gh, &bot, &team_app());
    assert_eq!(p.list("engineering").unwrap().len(), 150);
    // The second page of the listing is refused.
    gh.fail_nth("POST", "/graphql", 2, 422);
    let e = format!("{:#}", p.list("engineering").unwrap_err());
    assert!(e.contains("engineering"), "{e}");
}

fn manual_app(owners: &[&str]) -> App {
    app(
        owners,
        model::Provisioner::Manual {
            checklist: vec![
                "Create the user in Setup > Users".into(),
                "Assign the permission set named by the role's target".into(),
            ],
        },
    )
}

fn manual_issues(gh: &FakeGitHub, bot: &str) -> Vec<portcullis_github::Issue> {
    Client::new(&gh.url(), Some(bot), REPO)
        .unwrap()
        .issues("all", &[LABEL])
        .unwrap()
}

#[test]
fn manual_opens_one_issue_per_change_and_counts_it_done_when_closed() {
    let (gh, bot) = world();
    let mut p = connect(
        &gh,
        &bot,
        &manual_app(&["@tidewater/sales-ops", "@kenji-tw"]),
    );
    assert_eq!(p.list("sales-user").unwrap(), set(&[]));

    let first = p.add("sales-user", "alice").unwrap();
    assert!(
        matches!(&first, Effect::Pending(d) if d.contains("#")),
        "{first:?}"
    );
    let issues = manual_issues(&gh, &bot);
    assert_eq!(issues.len(), 1);
    let body = issues[0].body.clone().unwrap();
    assert!(
        body.contains("- [ ] Create the user in Setup &gt; Users"),
        "{body}"
    );
    assert!(body.contains("@tidewater/sales-ops"), "{body}");

    // Rerun (a new connection, as the next apply run): still pending, no second issue.
    let mut p = connect(&gh, &bot, &manual_app(&["@tidewater/sales-ops"]));
    assert!(matches!(
        p.add("sales-user", "alice").unwrap(),
        Effect::Pending(_)
    ));
    assert_eq!(manual_issues(&gh, &bot).len(), 1);
    assert_eq!(p.list("sales-user").unwrap(), set(&[]));

    // An owner does it and closes the issue.
    gh.set_issue_state("token-kenji-tw", issues[0].number, "closed");
    let mut p = connect(&gh, &bot, &manual_app(&["@tidewater/sales-ops"]));
    assert_eq!(p.list("sales-user").unwrap(), set(&["alice"]));
    assert_eq!(p.add("sales-user", "alice").unwrap(), Effect::Unchanged);

    // Removal: a second issue; the member stays listed until it is closed.
    assert!(matches!(
        p.remove("sales-user", "alice").unwrap(),
        Effect::Pending(_)
    ));
    assert!(matches!(
        p.remove("sales-user", "alice").unwrap(),
        Effect::Pending(_)
    ));
    let issues = manual_issues(&gh, &bot);
    assert_eq!(issues.len(), 2);
    assert_eq!(p.list("sales-user").unwrap(), set(&["alice"]));
    let removal = issues.iter().find(|i| i.state == "open").unwrap().number;
    gh.set_issue_state("token-kenji-tw", removal, "closed");
    let mut p = connect(&gh, &bot, &manual_app(&["@tidewater/sales-ops"]));
    assert_eq!(p.list("sales-user").unwrap(), set(&[]));
    assert_eq!(p.remove("sales-user", "alice").unwrap(), Effect::Unchanged);
}

#[test]
fn manual_withdraws_a_change_nobody_made_yet() {
    let (gh, bot) = world();
    let mut p = connect(&gh, &bot, &manual_app(&["@tidewater/sales-ops"]));
    assert!(matches!(
        p.add("sales-user", "bob").unwrap(),
        Effect::Pending(_)
    ));
    // The grant is removed before anyone acted: the open issue is withdrawn, not left to
    // be done by someone later.
    assert_eq!(p.remove("sales-user", "bob").unwrap(), Effect::Changed);
    let issues = manual_issues(&gh, &bot);
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].state, "closed");
    let mut p = connect(&gh, &bot, &manual_app(&["@tidewater/sales-ops"]));
    assert_eq!(
        p.list("sales-user").unwrap(),
        set(&[]),
        "a withdrawn issue is not done"
    );
}

#[test]
fn manual_counts_only_its_own_issues() {
    let (gh, bot) = world();
    // Mallory forges a closed "add" issue for herself.
    let forged = gh.create_issue(
        "token-mallory",
        "Add mallory",
        "<!-- portcullis:manual app=salesforce target=sales%2Duser account=mallory op=add -->",
        &[LABEL],
    );
    gh.set_issue_state("token-mallory", forged, "closed");
    let mut p = connect(&gh, &bot, &manual_app(&["@tidewater/sales-ops"]));
    assert_eq!(p.list("sales-user").unwrap(), set(&[]));
}

/// GitHub counts a child team's members as the parent's (REST lists them, and they keep the
/// parent's access through the child). The provisioner manages direct memberships only: it
/// never "removes" what it cannot take away, and a grant makes a membership of its own.
#[test]
fn github_team_manages_direct_members_and_leaves_child_teams_alone() {
    let (gh, bot) = world();
    gh.add_team("tidewater", "engineering", &["alice-gh"]);
    gh.add_child_team("tidewater", "engineering", "platform", &["bob-gh"]);
    let client = Client::new(&gh.url(), Some(&bot), REPO).unwrap();
    let rest: BTreeSet<String> = client
        .team_members("tidewater", "engineering")
        .unwrap()
        .into_iter()
        .map(|u| u.login)
        .collect();
    assert_eq!(rest, set(&["alice-gh", "bob-gh"]), "GitHub's REST listing");

    let mut p = connect(&gh, &bot, &team_app());
    assert_eq!(p.list("engineering").unwrap(), set(&["alice-gh"]));
    let writes = gh.writes().len();
    assert_eq!(
        p.remove("engineering", "bob-gh").unwrap(),
        Effect::Unchanged
    );
    assert_eq!(gh.writes().len(), writes, "nothing to remove at the parent");

    // A grant of the parent to bob is a direct membership, which survives his leaving the
    // child team; its revocation leaves the child team's membership alone.
    assert_eq!(p.add("engineering", "bob-gh").unwrap(), Effect::Changed);
    assert_eq!(p.list("engineering").unwrap(), set(&["alice-gh", "bob-gh"]));
    assert_eq!(p.add("engineering", "bob-gh").unwrap(), Effect::Unchanged);
    assert_eq!(p.remove("engineering", "bob-gh").unwrap(), Effect::Changed);
    assert_eq!(p.list("engineering").unwrap(), set(&["alice-gh"]));
    assert_eq!(
        gh.team("tidewater", "platform"),
        vec![("bob-gh".to_owned(), "active".to_owned())]
    );
}

/// Direct members are read through GraphQL, page by page to the end.
#[test]
fn github_team_direct_members_are_paged_to_the_end() {
    let (gh, bot) = world();
    let logins: Vec<String> = (0..230).map(|i| format!("user-{i:03}")).collect();
    for l in &logins {
        gh.add_user(l, &format!("{l}@example.com"));
    }
    let refs: Vec<&str> = logins.iter().map(String::as_str).collect();
    gh.add_team("tidewater", "everyone", &refs);
    gh.add_child_team("tidewater", "everyone", "platform", &["bob-gh"]);
    let client = Client::new(&gh.url(), Some(&bot), REPO).unwrap();
    let direct = client
        .team_direct_members("tidewater", "everyone")
        .unwrap()
        .unwrap();
    assert_eq!(direct, logins);
    let queries = gh
        .requests()
        .iter()
        .filter(|r| r.path == "/graphql")
        .count();
    assert_eq!(queries, 3);
    assert_eq!(
        client.team_direct_members("tidewater", "nobody").unwrap(),
        None
    );
    // A page that fails fails the listing: no partial list.
    gh.fail_nth("POST", "/graphql", 3, 422);
    assert!(client.team_direct_members("tidewater", "everyone").is_err());
}
