//! One contract for both implementations of the core's GitHub port: the in-memory GitHub of
//! `portcullis-testkit` (which the in-process threat tests run on) and the REST client talking
//! to the HTTP fake (which is held to GitHub's published description). The same story is told to
//! each, and what the port answers must be the same, so an in-process test cannot pass against
//! a GitHub kinder than the one the binary meets: a listing capped at 250 commits, a commit
//! whose e-mail no account has, any writer editing anyone's comment and setting any status, a
//! deleted account's review read as `user: null`, a team made again under its slug.

use portcullis_core::ports::Repo as _;
use portcullis_core::ports::github::GitHub;
use portcullis_github::Client;
use portcullis_testkit::{MemGitHub, MemRepo};

use crate::fake_github::FakeGitHub;

const REPO: &str = "tidewater/access";
const PEOPLE: [&str; 4] = ["omar-tw", "kenji-tw", "lena-tw", "ana-tw"];
const BOT: &str = "portcullis[bot]";

/// What a story needs from a GitHub, written once per implementation.
trait Story {
    /// A commit on `branch` by someone whose e-mail GitHub links to `by` (`None`: to nobody).
    fn commit(&mut self, branch: &str, path: &str, text: &str, by: Option<&str>) -> String;
    /// `by` opens a pull request from `branch` onto `main`; its number.
    fn open(&mut self, by: &str, branch: &str) -> u64;
    fn review(&mut self, by: &str, pr: u64, state: &str) -> u64;
    fn comment(&mut self, by: &str, pr: u64, body: &str) -> u64;
    fn edit_comment(&mut self, by: &str, id: u64, body: &str);
    fn status(&mut self, by: &str, sha: &str, context: &str);
    fn delete_user(&mut self, login: &str);
    fn recreate_team(&mut self, org: &str, slug: &str, members: &[&str]);
    /// The port, read as portcullis's own account.
    fn port(&self) -> &dyn GitHub;
}

struct Http {
    gh: FakeGitHub,
    bot: Client,
}

impl Http {
    fn new() -> Http {
        let gh = FakeGitHub::start();
        gh.create_repo_with(REPO, &[("README.md", "Access\n")]);
        for login in PEOPLE {
            gh.add_user(login, &email(login));
        }
        let token = gh.add_bot(BOT);
        gh.add_team("tidewater", "it", &["kenji-tw"]);
        let bot = Client::new(&gh.url(), Some(&token), REPO).unwrap();
        Http { gh, bot }
    }

    fn as_user(&self, login: &str) -> Client {
        Client::new(&self.gh.url(), Some(&format!("token-{login}")), REPO).unwrap()
    }
}

fn email(login: &str) -> String {
    format!("{}@tidewater.example", login.trim_end_matches("-tw"))
}

impl Story for Http {
    fn commit(&mut self, branch: &str, path: &str, text: &str, by: Option<&str>) -> String {
        let email = by.map_or_else(|| "someone@elsewhere.example".to_owned(), email);
        self.gh.push_commit(branch, &[(path, Some(text))], &email)
    }
    fn open(&mut self, by: &str, branch: &str) -> u64 {
        self.gh
            .open_pull(&format!("token-{by}"), branch, "main", branch, "")
    }
    fn review(&mut self, by: &str, pr: u64, state: &str) -> u64 {
        self.gh.review(&format!("token-{by}"), pr, state)
    }
    fn comment(&mut self, by: &str, pr: u64, body: &str) -> u64 {
        self.gh.comment(&format!("token-{by}"), pr, body)
    }
    fn edit_comment(&mut self, by: &str, id: u64, body: &str) {
        self.gh.edit_comment(&format!("token-{by}"), id, body);
    }
    fn status(&mut self, by: &str, sha: &str, context: &str) {
        self.as_user(by)
            .create_status(sha, "pending", context, "checking")
            .unwrap();
    }
    fn delete_user(&mut self, login: &str) {
        self.gh.delete_user(login);
    }
    fn recreate_team(&mut self, org: &str, slug: &str, members: &[&str]) {
        self.gh.recreate_team(org, slug, members);
    }
    fn port(&self) -> &dyn GitHub {
        &self.bot
    }
}

struct Memory {
    repo: MemRepo,
    gh: MemGitHub,
    /// The commits of each branch since `main`, with the account each links to.
    pushed: Vec<(String, String, Option<String>)>,
    /// Pull requests opened so far (GitHub numbers them from 1).
    opened: u64,
}

impl Memory {
    fn new() -> Memory {
        let mut repo = MemRepo::new();
        repo.commit("main", &[("README.md", Some("Access\n"))], "Initial commit");
        let mut gh = MemGitHub::new();
        for login in PEOPLE.into_iter().chain([BOT]) {
            gh.add_user(login);
        }
        gh.add_team("tidewater", "it", &["kenji-tw"]);
        Memory {
            repo,
            gh,
            pushed: Vec::new(),
            opened: 0,
        }
    }
}

impl Story for Memory {
    fn commit(&mut self, branch: &str, path: &str, text: &str, by: Option<&str>) -> String {
        if !self.pushed.iter().any(|(b, _, _)| b == branch) {
            self.repo.branch(branch, "main");
        }
        let sha = self.repo.commit(branch, &[(path, Some(text))], "Change");
        self.pushed
            .push((branch.to_owned(), sha.clone(), by.map(str::to_owned)));
        sha
    }
    fn open(&mut self, by: &str, branch: &str) -> u64 {
        let commits: Vec<(&str, Option<&str>)> = self
            .pushed
            .iter()
            .filter(|(b, _, _)| b == branch)
            .map(|(_, sha, by)| (sha.as_str(), by.as_deref()))
            .collect();
        self.opened += 1;
        let number = self.opened;
        let head = self.repo.tip(branch);
        let base = self.repo.tip("main");
        assert!(self.repo.has_commit(&head));
        self.gh
            .open_pull(number, by, branch, &head, &base, &commits, "");
        number
    }
    fn review(&mut self, by: &str, pr: u64, state: &str) -> u64 {
        let head = self.gh.pull(pr).unwrap().head.sha;
        self.gh.review(pr, by, state, &head)
    }
    fn comment(&mut self, by: &str, pr: u64, body: &str) -> u64 {
        self.gh.comment(pr, by, body)
    }
    fn edit_comment(&mut self, _by: &str, id: u64, body: &str) {
        self.gh.edit_comment(id, body);
    }
    fn status(&mut self, by: &str, sha: &str, context: &str) {
        self.gh.status(sha, by, context, "pending");
    }
    fn delete_user(&mut self, login: &str) {
        self.gh.delete_user(login);
    }
    fn recreate_team(&mut self, org: &str, slug: &str, members: &[&str]) {
        self.gh.recreate_team(org, slug, members);
    }
    fn port(&self) -> &dyn GitHub {
        &self.gh
    }
}

/// What the port answered, without what differs by construction (ids, times, commit ids).
#[derive(Debug, PartialEq)]
struct Answers {
    author: String,
    head_is_last_commit: bool,
    /// The true count, and how many the listing gave.
    commits: (Option<u64>, usize),
    /// Listed commits whose author GitHub could not link to an account.
    unlinked: usize,
    /// `(reviewer or None, state, on the head)` in order.
    reviews: Vec<(Option<String>, String, bool)>,
    /// `(author or None, body, edited)` in order.
    comments: Vec<(Option<String>, String, bool)>,
    /// `(creator, context)` on the head, newest first.
    statuses: Vec<(Option<String>, String)>,
    /// The bot's token is an installation's: it has no user to ask about.
    me: Option<String>,
    team_members: Vec<String>,
    team_id_changed: bool,
    no_such_team: Option<u64>,
}

/// The story: Omar opens a pull request of 251 commits, the last one by an address nobody has;
/// Kenji approves, Ana approves then deletes her account; Lena comments and Omar edits her
/// comment into an override; Omar sets portcullis's status context on the head; the IT team is
/// deleted and made again, with Omar in it, who then deletes his account.
fn tell(s: &mut dyn Story) -> Answers {
    for i in 0..250 {
        s.commit(
            "long",
            "notes/n.md",
            &format!("note {i}\n"),
            Some("omar-tw"),
        );
    }
    let last = s.commit("long", "access/vpn/ana.yaml", "person: ana\n", None);
    let pr = s.open("omar-tw", "long");
    s.review("kenji-tw", pr, "APPROVED");
    s.review("ana-tw", pr, "APPROVED");
    let id = s.comment("lena-tw", pr, "Looking at this tomorrow.");
    s.edit_comment("omar-tw", id, "/portcullis override INC-1 urgent");
    s.comment("ana-tw", pr, "Thanks");
    s.delete_user("ana-tw");
    s.status(BOT, &last, "portcullis/approvals");
    s.status("omar-tw", &last, "portcullis/approvals");
    let before = s.port().team("tidewater", "it").unwrap();
    s.recreate_team("tidewater", "it", &["kenji-tw", "lena-tw", "omar-tw"]);
    s.delete_user("omar-tw");

    let gh = s.port();
    let pull = gh.pull(pr).unwrap();
    let listed = gh.pull_commits(pr).unwrap();
    let mut members: Vec<String> = gh
        .team_members("tidewater", "it")
        .unwrap()
        .into_iter()
        .map(|u| u.login)
        .collect();
    members.sort();
    Answers {
        author: pull.user.login.clone(),
        head_is_last_commit: pull.head.sha == last,
        commits: (pull.commits, listed.len()),
        unlinked: listed.iter().filter(|c| c.author.is_none()).count(),
        reviews: gh
            .pull_reviews(pr)
            .unwrap()
            .into_iter()
            .map(|r| {
                let on_head = r.commit_id.as_deref() == Some(last.as_str());
                (r.user.map(|u| u.login), r.state, on_head)
            })
            .collect(),
        comments: gh
            .comments(pr)
            .unwrap()
            .into_iter()
            .map(|c| {
                let edited = c.updated_at != c.created_at;
                (c.user.map(|u| u.login), c.body, edited)
            })
            .collect(),
        statuses: gh
            .statuses(&last)
            .unwrap()
            .into_iter()
            .map(|st| (st.creator.map(|u| u.login), st.context))
            .collect(),
        me: gh.me().ok().map(|u| u.login),
        team_members: members,
        team_id_changed: gh.team("tidewater", "it").unwrap() != before,
        no_such_team: gh.team("tidewater", "nobody").unwrap(),
    }
}

#[test]
fn the_in_memory_github_answers_as_the_client_against_the_fake_does() {
    let http = tell(&mut Http::new());
    let memory = tell(&mut Memory::new());
    assert_eq!(memory, http);
    // And the story says what GitHub does, so neither can be kinder by agreeing.
    assert_eq!(http.commits, (Some(251), 250));
    assert_eq!(http.reviews[1].0, None, "a deleted account's review");
    assert_eq!(
        http.comments[0],
        (
            Some("lena-tw".to_owned()),
            "/portcullis override INC-1 urgent".to_owned(),
            true
        ),
        "anyone's edit keeps the author"
    );
    assert_eq!(http.statuses.len(), 2, "statuses from anyone");
    assert!(http.team_id_changed);
    assert_eq!(http.me, None, "an installation token has no user");
    assert_eq!(http.author, "ghost", "a deleted author's pull request");
    assert_eq!(
        http.unlinked, 250,
        "a deleted author's commits are linked to nobody"
    );
}

/// What a proposal's writes got back, told to either GitHub.
#[derive(Debug, PartialEq)]
struct Proposed {
    first_opened: bool,
    second_updated_same: bool,
    open_from_branch: usize,
    /// The branch's copy of each file after the second run (`None`: removed).
    files: Vec<Option<String>>,
    second_pull_refused: bool,
    unknown_team_refused: bool,
    missing_base: bool,
    closed_leaves_none_open: bool,
    /// Moving the branch back to main's commit without `force` (not a fast forward).
    backwards_refused: bool,
}

const MAIN_FILES: [(&str, &str); 2] = [
    ("access/vpn/ada.yaml", "ada v1\n"),
    ("access/vpn/bob.yaml", "bob v1\n"),
];

fn propose_story(gh: &dyn portcullis_core::ports::github::Proposals) -> Proposed {
    use portcullis_core::lifecycle::propose::{self, Proposal};
    let branch = "portcullis/expire";
    let edits = |path: &str| -> portcullis_core::lifecycle::Edits {
        [(path.to_owned(), None)].into_iter().collect()
    };
    let owners = vec!["@tidewater/it".to_owned()];
    let proposal = |title: &'static str, e, owners| Proposal {
        branch,
        title,
        body: title,
        message: title,
        edits: e,
        owners,
    };
    let (first, second) = (edits("access/vpn/ada.yaml"), edits("access/vpn/bob.yaml"));
    let base = propose::base_sha(gh, "main").unwrap();
    let (one, warning) =
        propose::propose(gh, "main", &base, &proposal("one", &first, &owners)).unwrap();
    assert!(warning.is_none(), "{warning:?}");
    let (two, _) = propose::propose(gh, "main", &base, &proposal("two", &second, &[])).unwrap();
    let number = one.pull().number;
    let files = MAIN_FILES
        .iter()
        .map(|(path, _)| {
            gh.file(path, branch)
                .unwrap()
                .map(|b| String::from_utf8(b).unwrap())
        })
        .collect();
    let second_pull_refused = gh
        .create_pull("again", branch, "main", "")
        .is_err_and(|e| e.to_string().contains("already exists"));
    let unknown_team_refused = gh
        .request_reviewers(number, &[], &["nobody".to_owned()])
        .is_err();
    let open_from_branch = gh
        .pulls("open", Some(&format!("tidewater:{branch}")))
        .unwrap()
        .len();
    let backwards_refused = gh
        .update_branch(branch, &base, false)
        .is_err_and(|e| e.to_string().contains("not a fast forward"));
    propose::close(gh, number, "closed by the story").unwrap();
    Proposed {
        first_opened: matches!(one, propose::Proposed::Opened(_)),
        second_updated_same: matches!(&two, propose::Proposed::Updated(p) if p.number == number && p.title == "two"),
        open_from_branch,
        files,
        second_pull_refused,
        unknown_team_refused,
        missing_base: propose::base_sha(gh, "trunk").is_err(),
        closed_leaves_none_open: propose::find_open(gh, branch).unwrap().is_none(),
        backwards_refused,
    }
}

/// The writes of the lifecycle commands' proposals get the same answers from the in-memory
/// GitHub as from the client against the fake, refusals included.
#[test]
fn proposals_get_the_same_answers_from_both() {
    let fake = FakeGitHub::start();
    fake.create_repo_with(REPO, &MAIN_FILES);
    fake.add_user("kenji-tw", &email("kenji-tw"));
    let token = fake.add_bot(BOT);
    fake.add_team("tidewater", "it", &["kenji-tw"]);
    let client = Client::new(&fake.url(), Some(&token), REPO).unwrap();
    let http = propose_story(&client);

    let mut memory = MemGitHub::new();
    memory.add_team("tidewater", "it", &["kenji-tw"]);
    memory.seed_branch("main", &MAIN_FILES);
    let mem = propose_story(&memory);
    assert_eq!(mem, http);
    assert!(http.first_opened && http.second_updated_same);
    assert_eq!(http.open_from_branch, 1);
    // Rebuilt from main: ada is back, bob removed.
    assert_eq!(http.files, [Some("ada v1\n".to_owned()), None]);
    assert!(http.second_pull_refused && http.unknown_team_refused && http.missing_base);
    assert!(http.closed_leaves_none_open && http.backwards_refused);
}

/// Issues under portcullis's label, as (author, carries the marker), after a writer filed one
/// with the marker and apply raised the alarm.
fn alarm_story(gh: &dyn portcullis_core::ports::github::Alarms) -> Vec<(String, bool)> {
    use portcullis_core::apply::{Obligation, SECURITY_LABEL};
    let marker = "<!-- portcullis:alarm direct-push commit=abc -->";
    let alarm = Obligation {
        label: SECURITY_LABEL.into(),
        marker: marker.into(),
        title: "alarm".into(),
        body: "stopped".into(),
    };
    let (mut out, mut failures) = (String::new(), Vec::new());
    let left = portcullis_core::owed::fulfil(gh, Some(BOT), vec![alarm], &mut out, &mut failures);
    assert!(left.is_empty(), "{failures:?}");
    let mut seen: Vec<(String, bool)> = gh
        .issues("all", &[SECURITY_LABEL])
        .unwrap()
        .into_iter()
        .map(|i| (i.user.login, i.body.unwrap_or_default().contains(marker)))
        .collect();
    seen.sort();
    seen
}

#[test]
fn alarms_get_the_same_answers_from_both() {
    use portcullis_core::apply::SECURITY_LABEL;
    let forged = "<!-- portcullis:alarm direct-push commit=abc -->\nall fine";
    let http = Http::new();
    http.as_user("omar-tw")
        .create_issue("fine", forged, &[SECURITY_LABEL], &[])
        .unwrap();
    let over_http = alarm_story(&http.bot);

    let mut memory = MemGitHub::new();
    memory.file_issue("omar-tw", &[SECURITY_LABEL], forged);
    let in_memory = alarm_story(&memory);
    assert_eq!(in_memory, over_http);
    assert_eq!(
        over_http,
        [("omar-tw".to_owned(), true), (BOT.to_owned(), true)],
        "the writer's issue is listed and the alarm raised beside it"
    );
}

/// The sticky comment's story: a writer posts a look-alike first, portcullis posts, the writer
/// rewrites portcullis's comment, portcullis posts again. What is left: (author, body).
fn sticky_story(
    gh: &dyn portcullis_core::ports::github::Comments,
    number: u64,
    writer_edits: &dyn Fn(u64, &str),
) -> Vec<(String, String)> {
    use portcullis_core::comment::{MARKER, post};
    let plan = |text: &str| format!("{MARKER}\n{text}\n");
    let ours = post(gh, number, &plan("needs security"), Some(BOT)).unwrap();
    writer_edits(ours.id, &plan("approved"));
    let again = post(gh, number, &plan("needs security"), Some(BOT)).unwrap();
    assert_eq!(again.id, ours.id, "edited in place");
    gh.comments(number)
        .unwrap()
        .into_iter()
        .map(|c| (c.user.map(|u| u.login).unwrap_or_default(), c.body))
        .collect()
}

/// Comments on an issue that does not exist are refused by both; a writer may edit the bot's
/// comment on both; portcullis edits only its own.
#[test]
fn comments_get_the_same_answers_from_both() {
    use portcullis_core::comment::MARKER;
    use portcullis_core::ports::github::Comments as _;
    let look_alike = format!("{MARKER}\nall approved\n");
    let http = Http::new();
    let omar = http.as_user("omar-tw");
    let issue = omar
        .create_issue("Access", "please", &[], &[])
        .unwrap()
        .number;
    omar.create_comment(issue, &look_alike).unwrap();
    assert!(http.bot.create_comment(issue + 100, "x").is_err());
    let over_http = sticky_story(&http.bot, issue, &|id, body| {
        omar.update_comment(id, body).unwrap();
    });

    let mut memory = MemGitHub::new();
    memory.add_user("omar-tw");
    let issue = memory.file_issue("omar-tw", &[], "please");
    memory.comment(issue, "omar-tw", &look_alike);
    assert!(memory.create_comment(issue + 100, "x").is_err());
    // A writer's edit through the API is the same call whoever makes it.
    let in_memory = sticky_story(&memory, issue, &|id, body| {
        memory.update_comment(id, body).unwrap();
    });
    assert_eq!(in_memory, over_http);
    assert_eq!(over_http.len(), 2, "{over_http:?}");
    assert_eq!(over_http[0].0, "omar-tw");
    assert_eq!(over_http[1].0, BOT);
    assert!(over_http[1].1.contains("needs security"));
}
