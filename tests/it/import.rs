//! `import` against every provisioner type, each with a real system the tests start (or the
//! fake GitHub for `github-team`): what the system holds is written as grants that pass
//! `check`, nothing is overwritten, and every account that is not a person's is named.

use std::process::{Command, Output};

use serde_json::json;

use crate::fake_github::FakeGitHub;
use crate::services::{ldap, postgres, scim, unique};
use crate::support::git;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// An organisation with four people (`<p>ana`, `<p>ben`, `<p>lea` who has left, `<p>max`) and
/// one app, `imp`, whose `provisioner:` is `provisioner` and whose role `reader` provisions
/// `target`. Ids carry the prefix `p`, so that servers shared by every test never collide.
struct World {
    dir: tempfile::TempDir,
    p: String,
    env: Vec<(String, String)>,
}

impl World {
    fn new(p: &str, provisioner: &str, target: &str) -> World {
        let dir = tempfile::tempdir().unwrap();
        let write = |path: &str, text: &str| {
            let f = dir.path().join(path);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, text).unwrap();
        };
        write(
            "policies/settings.yaml",
            "org: acme\nsecurity_team: \"@acme/security\"\n",
        );
        let mut people = String::from("people:\n");
        for (id, status) in [
            ("ana", "active"),
            ("ben", "active"),
            ("lea", "leaver"),
            ("max", "active"),
        ] {
            people.push_str(&format!(
                "  - id: {p}{id}\n    name: {id} Example\n    email: {p}{id}@acme.example\n    github: {p}{id}-gh\n    department: it\n    type: employee\n    status: {status}\n"
            ));
        }
        write("policies/people.yaml", &people);
        write(
            "policies/apps/imp.yaml",
            &format!(
                "id: imp\nname: Imported\nowners: [\"@acme/it\"]\nrisk: medium\nprovisioner: {provisioner}\nroles:\n  reader:\n    description: Reads\n    target: {target}\n  admin:\n    description: Administers\n    target: {target}-admins\n    privileged: true\n"
            ),
        );
        // ben already holds the role: his grant is kept as written.
        write(
            &format!("access/imp/{p}ben.yaml"),
            &format!(
                "person: {p}ben\napp: imp\ngrants:\n  - role: reader\n    justification: Asked for it in FIN-12\n    expires: 2026-12-31\n"
            ),
        );
        let codeowners = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(["codeowners", "--write", "--root"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(codeowners.status.success(), "{}", text(&codeowners));
        World {
            dir,
            p: p.to_owned(),
            env: Vec::new(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(args)
            .args(["--as-of", "2026-11-22", "--root"])
            .arg(self.dir.path())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap()
    }

    fn file(&self, id: &str) -> Option<String> {
        std::fs::read_to_string(
            self.dir
                .path()
                .join(format!("access/imp/{}{id}.yaml", self.p)),
        )
        .ok()
    }

    /// `import --app imp`, with the system holding ana, ben, lea and `stray` in the target
    /// and nobody in the admins' target: what every type must do.
    fn imports(&self, kind: &str, target: &str, stray: &str) {
        let ben_before = self.file("ben").unwrap();
        let out = self.run(&["import", "--app", "imp"]);
        let said = text(&out);
        assert_eq!(out.status.code(), Some(1), "{said}");
        let p = &self.p;
        assert!(
            said.contains(&format!("imported: `imp:reader` of `{p}ana`")),
            "{said}"
        );
        let ana = self.file("ana").expect("ana's grant file");
        assert!(
            ana.contains(&format!(
                "  - role: reader\n    justification: imported from {kind} {target} on 2026-11-22\n    expires: "
            )),
            "{ana}"
        );
        assert_eq!(self.file("ben").unwrap(), ben_before, "never overwritten");
        assert!(
            said.contains(&format!("is `{p}ben`, who already holds it")),
            "{said}"
        );
        assert_eq!(self.file("lea"), None, "a leaver's access is not imported");
        assert!(said.contains(&format!("`{p}lea` has left")), "{said}");
        assert_eq!(self.file("max"), None, "not a member");
        assert!(
            said.contains(&format!("nobody: `{stray}` in `{target}`")),
            "{said}"
        );
        assert!(said.contains("unmanaged:"), "{said}");
        let check = self.run(&["check"]);
        assert_eq!(check.status.code(), Some(0), "{}", text(&check));

        // The service account made unmanaged, a second import writes nothing more.
        let app = self.dir.path().join("policies/apps/imp.yaml");
        let policy = std::fs::read_to_string(&app).unwrap().replace(
            "risk: medium\n",
            &format!("risk: medium\nunmanaged: [\"{stray}\"]\n"),
        );
        std::fs::write(&app, policy).unwrap();
        let again = self.run(&["import", "--app", "imp"]);
        assert_eq!(again.status.code(), Some(0), "{}", text(&again));
        assert!(
            !text(&again).lines().any(|l| l.starts_with("imported:")),
            "{}",
            text(&again)
        );
        assert_eq!(self.file("ana").unwrap(), ana);
    }
}

#[test]
fn import_from_postgres() {
    let p = unique("imp");
    let target = format!("{p}readers");
    let w = World::new(
        &p,
        "{type: postgres, dsn_env: IMP_DSN, login: \"{id}\"}",
        &target,
    );
    let mut admin = postgres::server().admin();
    let stray = format!("{p}svc");
    for role in [&target, &format!("{target}-admins")] {
        admin
            .batch_execute(&format!("CREATE ROLE \"{role}\" NOLOGIN"))
            .unwrap();
    }
    for login in ["ana", "ben", "lea", "max", "svc"] {
        admin
            .batch_execute(&format!("CREATE ROLE \"{p}{login}\" LOGIN"))
            .unwrap();
    }
    for member in ["ana", "ben", "lea", "svc"] {
        admin
            .batch_execute(&format!("GRANT \"{target}\" TO \"{p}{member}\""))
            .unwrap();
    }
    let mut w = w;
    w.env
        .push(("IMP_DSN".into(), postgres::server().dsn("postgres")));
    w.imports("postgres", &target, &stray);
}

#[test]
fn import_from_ldap() {
    let _serial = ldap::serial();
    let s = ldap::server();
    let p = unique("imp");
    let target = format!("{p}-readers");
    let mut w = World::new(
        &p,
        &format!(
            "{{type: ldap, url_env: IMP_LDAP_URL, bind_dn: \"{}\", bind_password_env: IMP_LDAP_PASSWORD, group_base: \"{}\", login: \"uid={{id}},{}\"}}",
            ldap::ADMIN,
            ldap::GROUPS,
            ldap::PEOPLE
        ),
        &target,
    );
    let uids: Vec<String> = ["ana", "ben", "lea", "svc"]
        .iter()
        .map(|u| format!("{p}{u}"))
        .collect();
    s.add_people(&uids);
    let dns: Vec<String> = uids
        .iter()
        .map(|u| format!("uid={u},{}", ldap::PEOPLE))
        .collect();
    let group = s.add_group(&target, &dns[0]);
    s.replace_members(&group, &dns.iter().map(String::as_str).collect::<Vec<_>>());
    let admins = format!("{target}-admins");
    s.add_group(&admins, &format!("cn={admins},{}", ldap::GROUPS));
    w.env.push(("IMP_LDAP_URL".into(), s.url.clone()));
    w.env
        .push(("IMP_LDAP_PASSWORD".into(), ldap::PASSWORD.into()));
    w.imports("ldap", &target, &format!("{p}svc"));
}

#[test]
fn import_from_scim() {
    let s = scim::server();
    let p = unique("imp");
    let target = format!("{p}-readers");
    let mut w = World::new(
        &p,
        "{type: scim, url_env: IMP_SCIM_URL, token_env: IMP_SCIM_TOKEN}",
        &target,
    );
    let ids: Vec<String> = ["ana", "ben", "lea", "svc"]
        .iter()
        .map(|u| s.create_user(&format!("{p}{u}@acme.example")))
        .collect();
    s.create_group(&target, &ids.iter().map(String::as_str).collect::<Vec<_>>());
    s.create_group(&format!("{target}-admins"), &[]);
    w.env.push(("IMP_SCIM_URL".into(), s.url.clone()));
    w.env.push(("IMP_SCIM_TOKEN".into(), scim::TOKEN.into()));
    w.imports("scim", &target, &format!("{p}svc@acme.example"));
}

/// GitHub teams holding ana, ben, lea and a service account; the world's app reads them.
fn github_world() -> (FakeGitHub, World, String) {
    let gh = FakeGitHub::start();
    gh.create_repo_with("acme/access", &[("README.md", "access\n")]);
    let bot = gh.add_bot("portcullis[bot]");
    let p = unique("imp");
    for u in ["ana", "ben", "lea", "svc"] {
        gh.add_user(&format!("{p}{u}-gh"), &format!("{p}{u}@acme.example"));
    }
    let target = format!("{p}-readers");
    let members: Vec<String> = ["ana", "ben", "lea", "svc"]
        .iter()
        .map(|u| format!("{p}{u}-gh"))
        .collect();
    gh.add_team(
        "acme",
        &target,
        &members.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    gh.add_team("acme", &format!("{target}-admins"), &[]);
    gh.add_team("acme", "it", &[]);
    let mut w = World::new(&p, "{type: github-team}", &target);
    w.env.push(("GITHUB_API_URL".into(), gh.url()));
    w.env.push(("GITHUB_TOKEN".into(), bot));
    w.env
        .push(("GITHUB_REPOSITORY".into(), "acme/access".into()));
    (gh, w, target)
}

#[test]
fn import_from_github_teams() {
    let (_gh, w, target) = github_world();
    let stray = format!("{}svc-gh", w.p);
    w.imports("github-team", &target, &stray);
}

/// `--open-pr`: one pull request per app for its owners, nothing written locally, and a
/// second run updates that pull request instead of opening another.
#[test]
fn import_open_pr_proposes_one_pull_request_to_the_owners() {
    let (gh, w, target) = github_world();
    let p = w.p.clone();
    for _ in 0..2 {
        let out = w.run(&["import", "--app", "imp", "--open-pr"]);
        let said = text(&out);
        // The service account maps to nobody: said, and the exit says so too.
        assert_eq!(out.status.code(), Some(1), "{said}");
        assert!(said.contains(&format!("nobody: `{p}svc-gh`")), "{said}");
    }
    assert_eq!(w.file("ana"), None, "nothing is written in the checkout");
    let client =
        portcullis_github::Client::new(&gh.url(), Some("token-portcullis[bot]"), "acme/access")
            .unwrap();
    let pulls = client.pulls("open", None).unwrap();
    assert_eq!(
        pulls.len(),
        1,
        "one pull request per app, however often it runs"
    );
    let pr = &pulls[0];
    assert_eq!(pr.head.name, "portcullis/import/imp");
    assert!(pr.title.contains("Import 1 grant of `imp`"), "{}", pr.title);
    let body = pr.body.clone().unwrap_or_default();
    assert!(body.contains(&format!("{p}svc-gh")), "{body}");
    let ana = String::from_utf8(
        gh.file_at(&pr.head.sha, &format!("access/imp/{p}ana.yaml"))
            .expect("ana's grant file on the branch"),
    )
    .unwrap();
    assert!(
        ana.contains(&format!(
            "justification: imported from github-team {target} on 2026-11-22"
        )),
        "{ana}"
    );
    assert!(
        gh.file_at(&pr.head.sha, &format!("access/imp/{p}lea.yaml"))
            .is_none(),
        "a leaver's access is not proposed"
    );
    assert_eq!(
        gh.requested_teams(pr.number),
        vec!["it".to_owned()],
        "the app's owners review it"
    );
}

/// The `command` type, and then the promise import exists for: after it, with the service
/// account made unmanaged, the first `apply` (trusting that commit) writes nothing.
#[test]
fn import_from_a_command_and_the_first_apply_removes_nobody() {
    let store = tempfile::tempdir().unwrap();
    let script = store.path().join("store");
    std::fs::write(
        &script,
        "#!/usr/bin/python3\nimport json, os, sys\nreq = json.loads(sys.stdin.read())\nstate = json.load(open(os.path.join(os.environ['STORE'], 'state.json')))\nif req['op'] != 'list':\n    open(os.path.join(os.environ['STORE'], 'writes'), 'a').write(json.dumps(req) + '\\n')\n    print(json.dumps({'outcome': 'changed'}))\nelse:\n    print(json.dumps({'members': state[req['target']]}))\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let p = unique("imp");
    std::fs::write(
        store.path().join("state.json"),
        json!({"vpn-users": [format!("{p}ana"), format!("{p}ben"), format!("{p}lea"), "svc-backup"], "vpn-users-admins": []}).to_string(),
    )
    .unwrap();
    let mut w = World::new(
        &p,
        &format!(
            "{{type: command, command: {}, env: [STORE]}}",
            script.display()
        ),
        "vpn-users",
    );
    w.env
        .push(("STORE".into(), store.path().display().to_string()));
    w.imports("command", "vpn-users", "svc-backup");

    // Committed and pushed as the repository's first commit, then applied from it.
    let gh = FakeGitHub::start();
    gh.create_repo("acme/access", w.dir.path());
    let bot = gh.add_bot("portcullis[bot]");
    let clone = tempfile::tempdir().unwrap();
    let status = Command::new("git")
        .args(["clone", "-q"])
        .arg(gh.git_dir("acme/access"))
        .arg(clone.path())
        .status()
        .unwrap();
    assert!(status.success());
    git(clone.path(), &["fetch", "-q", "origin"]);
    let settings = clone.path().join("policies/settings.yaml");
    assert!(
        std::fs::read_to_string(&settings)
            .unwrap()
            .contains("org: acme")
    );
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args([
            "apply",
            "--dry-run",
            "--trust-from",
            "HEAD",
            "--as-of",
            "2026-11-22",
            "--root",
        ])
        .arg(clone.path())
        .env("GITHUB_API_URL", gh.url())
        .env("GITHUB_TOKEN", &bot)
        .env("GITHUB_REPOSITORY", "acme/access")
        .env("STORE", store.path())
        .output()
        .unwrap();
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    // Only the leaver loses access; everyone imported keeps theirs.
    let removals: Vec<&str> = said.lines().filter(|l| l.contains("remove")).collect();
    assert_eq!(removals.len(), 1, "{said}");
    assert!(removals[0].contains(&format!("{p}lea")), "{said}");
    assert!(
        !store.path().join("writes").exists(),
        "a dry run writes nothing"
    );
}
