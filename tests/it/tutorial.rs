//! The README's tutorial, run end to end: `init`, the signing key, `check`, the first `apply`,
//! a request opened as a pull request, its check, its approvals red then green, the merge, and
//! the `apply` that provisions it, against the fake GitHub. Every command's output is what the
//! README shows between its `tutorial` markers; a change to any of these messages fails here
//! until the README says it too (`PORTCULLIS_BLESS=1` rewrites the README's copy).

use std::path::Path;
use std::process::{Command, Output};

use crate::fake_github::FakeGitHub;
use crate::support::git;

const REPO: &str = "acme/access";
const AS_OF: &str = "2026-12-03";
const HR: &str = "id,name,email,github,department,title,manager,type,status,end_date\nsara,Sara Lind,sara@acme.example,sara-gh,security,Security Lead,,employee,active,\ntom,Tom Berg,tom@acme.example,tom-gh,it,Engineer,sara,employee,active,\n";

struct Transcript {
    text: String,
    dir: String,
    /// `PORTCULLIS_SIGNING_KEY`, as the apply environment holds it once set up.
    key: String,
}

impl Transcript {
    /// Runs `args` as the README shows them (`shown`), with the root, the date and GitHub
    /// given as the workflows give them, and records the command and what it printed.
    fn run(
        &mut self,
        shown: &str,
        args: &[&str],
        root: Option<&Path>,
        token: &str,
        gh: &str,
    ) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        c.args(args);
        if let Some(root) = root {
            c.arg("--root").arg(root).args(["--as-of", AS_OF]);
        }
        let out = c
            .env("GITHUB_API_URL", gh)
            .env("GITHUB_TOKEN", token)
            .env("GITHUB_REPOSITORY", REPO)
            .env("PORTCULLIS_SIGNING_KEY", &self.key)
            .env("PORTCULLIS_GITHUB_MAX_WAIT", "5")
            .env_remove("GITHUB_RUN_ID")
            .env_remove("NO_COLOR")
            .current_dir(root.and_then(Path::parent).unwrap_or(Path::new(&self.dir)))
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        self.text
            .push_str(&format!("$ {shown}\n{}\n", normalize(&said, &self.dir)));
        out
    }

    fn say(&mut self, line: &str) {
        self.text.push_str(&format!("# {line}\n"));
    }
}

/// Commit ids, keys and temporary paths differ from run to run; the README shows them as such.
fn normalize(text: &str, dir: &str) -> String {
    let text = text.replace(dir, "~");
    let keys = regex::Regex::new(r"ed25519(-secret)?:[A-Za-z0-9+/=]{40,}").unwrap();
    let text = keys.replace_all(&text, |c: &regex::Captures<'_>| {
        format!("ed25519{}:…", c.get(1).map_or("", |m| m.as_str()))
    });
    let ids = regex::Regex::new(r"\b[0-9a-f]{7,40}\b").unwrap();
    let text = ids.replace_all(&text, |c: &regex::Captures<'_>| {
        let id = c.get(0).unwrap().as_str();
        // `ed25519` names the key type, not a commit.
        if id != "ed25519"
            && id.bytes().any(|b| b.is_ascii_alphabetic())
            && id.bytes().any(|b| b.is_ascii_digit())
        {
            "c0ffee1".to_owned()
        } else {
            id.to_owned()
        }
    });
    let url = regex::Regex::new(r"http://127\.0\.0\.1:\d+").unwrap();
    url.replace_all(&text, "https://api.github.com")
        .trim_end()
        .to_owned()
}

fn ok(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_readme_tutorial_runs_end_to_end_as_written() {
    let gh = FakeGitHub::start();
    let url = gh.url();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    std::fs::write(home.join("hr.csv"), HR).unwrap();
    let mut t = Transcript {
        text: String::new(),
        dir: home.to_str().unwrap().to_owned(),
        key: String::new(),
    };

    t.say("a new access repository, its people from the HR export");
    let out = t.run(
        "portcullis init access --org acme --security-team @acme/security --people hr.csv",
        &[
            "init",
            "access",
            "--org",
            "acme",
            "--security-team",
            "@acme/security",
            "--people",
            "hr.csv",
        ],
        None,
        "",
        &url,
    );
    ok(&out, 0);
    let dir = home.join("access");
    t.say("the key that signs what apply records");
    let out = t.run("portcullis keygen", &["keygen"], None, "", &url);
    ok(&out, 0);
    t.key = String::from_utf8(out.stdout.clone())
        .unwrap()
        .trim()
        .to_owned();
    let public = String::from_utf8_lossy(&out.stderr)
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("evidence_public_key: ")
                .map(str::to_owned)
        })
        .expect("the public key line");
    let settings = dir.join("policies/settings.yaml");
    let text = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(&settings, format!("{text}evidence_public_key: {public}\n")).unwrap();
    t.say("the public key added to policies/settings.yaml");
    let out = t.run("portcullis check", &["check"], Some(&dir), "", &url);
    ok(&out, 0);

    // Pushed to GitHub, where the App, the team and the people exist.
    gh.create_repo(REPO, &dir);
    let bot = gh.add_bot("portcullis[bot]");
    gh.add_user("sara-gh", "sara@acme.example");
    gh.add_user("tom-gh", "tom@acme.example");
    gh.add_team("acme", "security", &["sara-gh"]);
    std::fs::remove_dir_all(&dir).unwrap();
    let status = Command::new("git")
        .args(["clone", "-q"])
        .arg(gh.git_dir(REPO))
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success());
    git(&dir, &["config", "user.email", "tom@acme.example"]);

    t.say("pushed to GitHub; apply.yml runs the first apply once, trusting what is there");
    let out = t.run(
        "portcullis apply --trust-from main",
        &["apply", "--trust-from", "main"],
        Some(&dir),
        &bot,
        &url,
    );
    ok(&out, 0);

    t.say("Tom asks for access");
    let out = t.run(
        "portcullis request --app example --role viewer --for 30d --justification \"Reads the example reports for the weekly review\" --open-pr",
        &["request", "--app", "example", "--role", "viewer", "--for", "30d", "--justification", "Reads the example reports for the weekly review", "--open-pr"],
        Some(&dir),
        "token-tom-gh",
        &url,
    );
    ok(&out, 0);
    git(
        &dir,
        &[
            "fetch",
            "-q",
            "origin",
            "+refs/heads/main:refs/remotes/origin/main",
            "+refs/pull/1/head:refs/remotes/pull/1/head",
        ],
    );
    git(&dir, &["checkout", "-q", "refs/remotes/pull/1/head"]);
    t.say("check.yml, on the pull request");
    let out = t.run(
        "portcullis check --base origin/main",
        &["check", "--base", "origin/main"],
        Some(&dir),
        "",
        &url,
    );
    ok(&out, 0);
    git(&dir, &["checkout", "-q", "main"]);
    t.say("approvals-status.yml, before anyone has reviewed");
    let out = t.run(
        "portcullis approvals --pr 1",
        &["approvals", "--pr", "1"],
        Some(&dir),
        &bot,
        &url,
    );
    ok(&out, 1);
    gh.review("token-sara-gh", 1, "APPROVED");
    t.say("Sara (security, the example app's owner) approves the pull request");
    let out = t.run(
        "portcullis approvals --pr 1",
        &["approvals", "--pr", "1"],
        Some(&dir),
        &bot,
        &url,
    );
    ok(&out, 0);
    let head = portcullis_github::Client::new(&url, Some(&bot), REPO)
        .unwrap()
        .pull(1)
        .unwrap()
        .head
        .sha;
    portcullis_github::Client::new(&url, Some(&bot), REPO)
        .unwrap()
        .merge_pull(1, &head)
        .unwrap();
    git(&dir, &["pull", "-q", "--ff-only", "origin", "main"]);
    t.say("merged; apply.yml provisions it");
    let out = t.run("portcullis apply", &["apply"], Some(&dir), &bot, &url);
    ok(&out, 0);

    let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let (start, end) = (
        "<!-- tutorial:start -->\n```console\n",
        "```\n<!-- tutorial:end -->",
    );
    let a = readme.find(start).expect("the README's tutorial markers") + start.len();
    let b = readme[a..].find(end).expect("the end marker") + a;
    if std::env::var_os("PORTCULLIS_BLESS").is_some() {
        let updated = format!("{}{}{}", &readme[..a], t.text, &readme[b..]);
        std::fs::write(&readme_path, updated).unwrap();
        return;
    }
    assert_eq!(
        readme[a..b],
        t.text,
        "the README's tutorial is not what the commands print (PORTCULLIS_BLESS=1 rewrites it)"
    );
}
