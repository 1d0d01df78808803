//! Provisioners against real servers: one contract every backend passes, then what each backend
//! must get right for its own system (sessions, escaping, placeholders, error codes, timeouts).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use portcullis_core::model::{self, App, Risk, Spanned};
use portcullis_provisioners::memory::Memory;
use portcullis_provisioners::postgres::quote_ident;
use portcullis_provisioners::{Effect, Provisioner, account_for, connect};

use crate::services::{self, http_stub, ldap, postgres, scim, unique};

fn set(xs: &[&str]) -> BTreeSet<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn app(provisioner: model::Provisioner) -> App {
    App {
        id: Spanned {
            value: "test-app".into(),
            pos: model::Pos::START,
        },
        file: "policies/apps/test-app.yaml".into(),
        name: "Test".into(),
        description: None,
        owners: vec!["@org/owners".into()],
        risk: Risk::Low,
        review_every: None,
        unmanaged: vec![],
        provisioner,
        roles: BTreeMap::new(),
    }
}

/// Connects the way `apply` will: through the policy, with secrets from "environment" variables.
fn connect_with(p: model::Provisioner, vars: &[(&str, &str)]) -> Box<dyn Provisioner> {
    let vars: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    connect(&app(p), &root(), &|name| vars.get(name).cloned()).unwrap()
}

/// What every backend owes `apply`: idempotent adds and removes, a listing that reflects each
/// write, and a second pass over a converged target that writes nothing at the server.
/// `writes` reads a count of write operations from the server (or the backend's own counter).
pub(crate) fn contract<P: Provisioner + ?Sized>(
    p: &mut P,
    target: &str,
    [a, b]: [&str; 2],
    writes: impl Fn(&P) -> u64,
) {
    let start = writes(&*p);
    assert_eq!(p.list(target).unwrap(), set(&[]));
    assert_eq!(p.add(target, a).unwrap(), Effect::Changed);
    assert_eq!(p.list(target).unwrap(), set(&[a]));
    assert_eq!(p.add(target, a).unwrap(), Effect::Unchanged);
    assert_eq!(p.list(target).unwrap(), set(&[a]));
    assert_eq!(p.add(target, b).unwrap(), Effect::Changed);
    assert_eq!(p.list(target).unwrap(), set(&[a, b]));
    assert_eq!(p.remove(target, a).unwrap(), Effect::Changed);
    assert_eq!(p.list(target).unwrap(), set(&[b]));
    assert_eq!(p.remove(target, a).unwrap(), Effect::Unchanged);
    assert_eq!(p.list(target).unwrap(), set(&[b]));
    let converged = writes(&*p);
    assert!(converged > start, "the write counter saw no writes");

    // A second full pass over the converged target: the same adds and removes, no writes.
    assert_eq!(p.add(target, b).unwrap(), Effect::Unchanged);
    assert_eq!(p.remove(target, a).unwrap(), Effect::Unchanged);
    assert_eq!(p.list(target).unwrap(), set(&[b]));
    assert_eq!(
        writes(&*p),
        converged,
        "a pass over a converged target wrote"
    );

    // The last member leaves; the target can be joined again.
    assert_eq!(p.remove(target, b).unwrap(), Effect::Changed);
    assert_eq!(p.list(target).unwrap(), set(&[]));
    assert_eq!(p.remove(target, b).unwrap(), Effect::Unchanged);
    assert_eq!(p.add(target, a).unwrap(), Effect::Changed);
    assert_eq!(p.list(target).unwrap(), set(&[a]));
}

// ---- memory ----

#[test]
fn contract_memory() {
    let mut m = Memory::new();
    m.create_target("team");
    contract(&mut m, "team", ["alice", "bob"], Memory::writes);
    assert!(
        m.list("missing").is_err(),
        "a target never created is an error"
    );
}

#[test]
fn memory_failure_injection() {
    let mut m = Memory::new();
    m.seed("team", ["carol"]);
    m.fail_nth_write(2);
    assert_eq!(m.add("team", "alice").unwrap(), Effect::Changed);
    // Unchanged calls are not writes: the failure stays armed for the next real write.
    assert_eq!(m.add("team", "alice").unwrap(), Effect::Unchanged);
    let e = m.add("team", "bob").unwrap_err().to_string();
    assert!(e.contains("injected failure of write 2"), "{e}");
    assert_eq!(m.list("team").unwrap(), set(&["alice", "carol"]));
    assert_eq!(m.add("team", "bob").unwrap(), Effect::Changed);
    assert_eq!(m.writes(), 2);

    m.fail_list("team");
    assert!(m.list("team").is_err());
    m.set_pending("other");
    m.create_target("other");
    assert!(matches!(
        m.add("other", "alice").unwrap(),
        Effect::Pending(_)
    ));
    assert_eq!(m.members("other"), Some(&set(&[])));
    m.known_accounts(["alice"]);
    assert!(m.add("team", "mallory").is_err());
}

// ---- postgres ----

fn pg_connect() -> Box<dyn Provisioner> {
    let dsn = postgres::server().dsn("postgres");
    connect_with(
        model::Provisioner::Postgres {
            dsn_env: "TEST_DSN".into(),
            login: None,
        },
        &[("TEST_DSN", &dsn)],
    )
}

fn pg_roles(roles: &[(&str, bool)]) {
    let mut admin = postgres::server().admin();
    for (name, login) in roles {
        let kind = if *login { "LOGIN" } else { "NOLOGIN" };
        admin
            .batch_execute(&format!("CREATE ROLE {} {kind}", quote_ident(name)))
            .unwrap();
    }
}

#[test]
fn contract_postgres() {
    let pg = postgres::server();
    let (target, a, b) = (unique("role_"), unique("login_a"), unique("login_b"));
    pg_roles(&[(&target, false), (&a, true), (&b, true)]);
    let quoted = quote_ident(&target);
    contract(&mut *pg_connect(), &target, [&a, &b], |_| {
        pg.role_writes(&quoted)
    });
}

#[test]
fn postgres_revoke_ends_sessions_that_set_role() {
    let pg = postgres::server();
    let (target, login, bystander) = (unique("secret_"), unique("user_"), unique("other_"));
    pg_roles(&[(&target, false), (&login, true), (&bystander, true)]);
    let mut p = pg_connect();
    assert_eq!(p.add(&target, &login).unwrap(), Effect::Changed);

    let mut session = ::postgres::Client::connect(&pg.dsn(&login), ::postgres::NoTls).unwrap();
    session
        .batch_execute(&format!("SET ROLE {}", quote_ident(&target)))
        .unwrap();
    let current: String = session
        .query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(current, target);
    let mut other = ::postgres::Client::connect(&pg.dsn(&bystander), ::postgres::NoTls).unwrap();

    assert_eq!(p.remove(&target, &login).unwrap(), Effect::Changed);
    assert!(
        session.query_one("SELECT 1", &[]).is_err(),
        "the session that had SET ROLE survived the revocation"
    );
    let mut fresh = ::postgres::Client::connect(&pg.dsn(&login), ::postgres::NoTls).unwrap();
    let e = fresh
        .batch_execute(&format!("SET ROLE {}", quote_ident(&target)))
        .unwrap_err();
    let message = e.as_db_error().map(|d| d.message()).unwrap_or_default();
    assert!(message.contains("permission denied"), "{e:?}");
    other
        .query_one("SELECT 1", &[])
        .expect("another login's session is left alone");
}

#[test]
fn postgres_quotes_identifiers_with_quotes_and_spaces() {
    let (target, login) = (unique("ops \"team\" x"), unique("o\"brien smith "));
    let victim = unique("victim");
    pg_roles(&[(&target, false), (&login, true), (&victim, true)]);
    let mut p = pg_connect();
    assert_eq!(p.add(&target, &login).unwrap(), Effect::Changed);
    assert_eq!(p.list(&target).unwrap(), set(&[&login]));
    assert_eq!(p.add(&target, &login).unwrap(), Effect::Unchanged);

    // A name that would end the identifier and start a statement stays one (missing) role.
    let evil = format!("x\" TO \"{login}\"; DROP ROLE \"{victim}");
    let e = format!("{:#}", p.add(&target, &evil).unwrap_err());
    assert!(e.contains("does not exist"), "{e}");
    let exists: bool = postgres::server()
        .admin()
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)",
            &[&victim],
        )
        .unwrap()
        .get(0);
    assert!(exists, "the victim role was dropped");

    assert_eq!(p.remove(&target, &login).unwrap(), Effect::Changed);
    assert_eq!(p.list(&target).unwrap(), set(&[]));
}

#[test]
fn postgres_refuses_missing_roles_and_names_it_would_truncate() {
    let (target, login) = (unique("role_"), unique("login_"));
    pg_roles(&[(&target, false), (&login, true)]);
    let mut p = pg_connect();
    let e = format!("{:#}", p.add(&target, "nobody_here").unwrap_err());
    assert!(
        e.contains("login role \"nobody_here\" does not exist"),
        "{e}"
    );
    let e = format!("{:#}", p.add("no_such_role", &login).unwrap_err());
    assert!(e.contains("role \"no_such_role\" does not exist"), "{e}");
    assert!(p.list("no_such_role").is_err());
    // 63 bytes of a longer name would be another role.
    let long = format!("{login}{}", "x".repeat(64));
    assert!(p.add(&target, &long).is_err());
    assert!(p.add(&target, "a\0b").is_err());
    assert_eq!(p.list(&target).unwrap(), set(&[]));
}

// ---- ldap ----

fn ldap_connect() -> Box<dyn Provisioner> {
    let s = ldap::server();
    connect_with(
        model::Provisioner::Ldap {
            url_env: "TEST_LDAP_URL".into(),
            bind_dn: ldap::ADMIN.into(),
            bind_password_env: "TEST_LDAP_PASSWORD".into(),
            group_base: ldap::GROUPS.into(),
            login: format!("uid={{id}},{}", ldap::PEOPLE),
        },
        &[
            ("TEST_LDAP_URL", &s.url),
            ("TEST_LDAP_PASSWORD", ldap::PASSWORD),
        ],
    )
}

/// An "empty" group: its only member is its own DN, the placeholder.
fn ldap_empty_group(cn: &str) -> String {
    let dn = format!("cn={cn},{}", ldap::GROUPS);
    ldap::server().add_group(cn, &dn)
}

#[test]
fn contract_ldap() {
    let _serial = ldap::serial();
    let s = ldap::server();
    let (group, a, b) = (unique("group"), unique("alice"), unique("bob"));
    ldap_empty_group(&group);
    s.add_person(&a);
    s.add_person(&b);
    contract(&mut *ldap_connect(), &group, [&a, &b], |_| s.modifies());
}

#[test]
fn ldap_last_member_leaves_a_valid_group() {
    let _serial = ldap::serial();
    let s = ldap::server();
    let (cn, a, b) = (unique("solo"), unique("ann"), unique("ben"));
    let a_dn = s.add_person(&a);
    let b_dn = s.add_person(&b);
    let group = s.add_group(&cn, &a_dn);
    let mut p = ldap_connect();
    assert_eq!(p.list(&cn).unwrap(), set(&[&a]));
    assert_eq!(p.remove(&cn, &a).unwrap(), Effect::Changed);
    // The group keeps a member (its own DN), which is no account.
    assert_eq!(s.member_values(&group), vec![group.clone()]);
    assert_eq!(p.list(&cn).unwrap(), set(&[]));
    assert_eq!(p.remove(&cn, &a).unwrap(), Effect::Unchanged);
    // Joining replaces the placeholder in the same modify.
    assert_eq!(p.add(&cn, &b).unwrap(), Effect::Changed);
    assert_eq!(s.member_values(&group), vec![b_dn]);
}

#[test]
fn ldap_escapes_member_dns_per_rfc_4514() {
    let _serial = ldap::serial();
    let s = ldap::server();
    let cn = unique("escaped");
    ldap_empty_group(&cn);
    let n = unique("");
    let accounts: Vec<String> = [
        "a,b",
        "c+d",
        "q\"q",
        "back\\slash",
        "<t>",
        "s;c",
        "e=f",
        "#hash",
        " lead",
        "trail ",
    ]
    .iter()
    .map(|a| format!("{a}{n}"))
    .chain([format!("#{n}x"), format!(" {n}y"), format!("{n}z ")])
    .collect();
    for a in &accounts {
        s.add_person(a);
    }
    let mut p = ldap_connect();
    for a in &accounts {
        assert_eq!(p.add(&cn, a).unwrap(), Effect::Changed, "{a:?}");
        assert_eq!(p.add(&cn, a).unwrap(), Effect::Unchanged, "{a:?}");
    }
    let want: BTreeSet<String> = accounts.iter().cloned().collect();
    assert_eq!(p.list(&cn).unwrap(), want);
    for a in &accounts {
        assert_eq!(p.remove(&cn, a).unwrap(), Effect::Changed, "{a:?}");
        assert_eq!(p.remove(&cn, a).unwrap(), Effect::Unchanged, "{a:?}");
    }
    assert_eq!(p.list(&cn).unwrap(), set(&[]));
}

#[test]
fn ldap_accounts_cannot_reach_other_entries() {
    let _serial = ldap::serial();
    let s = ldap::server();
    let (cn, ou, real) = (unique("guarded"), unique("x"), unique("rita"));
    let real_dn = s.add_person(&real);
    s.add_entry(
        &format!("ou={ou},{}", ldap::PEOPLE),
        &[("objectClass", &["organizationalUnit"]), ("ou", &[&ou])],
    );
    let other = format!("uid=a,ou={ou},{}", ldap::PEOPLE);
    s.add_entry(
        &other,
        &[
            ("objectClass", &["inetOrgPerson"]),
            ("uid", &["a"]),
            ("cn", &["a"]),
            ("sn", &["a"]),
        ],
    );
    let group = s.add_group(&cn, &real_dn);
    let mut p = ldap_connect();

    // `a,ou=x` is one uid value, not a path to `uid=a,ou=x,...`.
    let e = format!("{:#}", p.add(&cn, &format!("a,ou={ou}")).unwrap_err());
    assert!(e.contains("no LDAP entry"), "{e}");
    // Filter metacharacters match nothing but themselves.
    let e = format!("{:#}", p.add(&cn, "*)(uid=*").unwrap_err());
    assert!(e.contains("no LDAP entry"), "{e}");
    assert_eq!(p.remove(&cn, "*").unwrap(), Effect::Unchanged);
    assert_eq!(p.remove(&cn, "*)(uid=*").unwrap(), Effect::Unchanged);
    assert_eq!(s.member_values(&group), vec![real_dn.clone()]);

    // A member outside the people base is not an account: not listed, not removable by name.
    s.replace_members(&group, &[&real_dn, &other]);
    assert_eq!(p.list(&cn).unwrap(), set(&[&real]));
    assert_eq!(
        p.remove(&cn, &format!("a,ou={ou}")).unwrap(),
        Effect::Unchanged
    );
    let mut want = vec![real_dn, other];
    want.sort();
    assert_eq!(s.member_values(&group), want);
}

// ---- scim ----

fn scim_connect(url: &str, token: &str) -> Box<dyn Provisioner> {
    connect_with(
        model::Provisioner::Scim {
            url_env: "TEST_SCIM_URL".into(),
            token_env: "TEST_SCIM_TOKEN".into(),
            login: None,
        },
        &[("TEST_SCIM_URL", url), ("TEST_SCIM_TOKEN", token)],
    )
}

#[test]
fn contract_scim() {
    let s = scim::server();
    let (group, a, b) = (
        unique("group-"),
        unique("alice@x.example"),
        unique("bob@x.example"),
    );
    s.create_user(&a);
    s.create_user(&b);
    let id = s.create_group(&group, &[]);
    contract(
        &mut *scim_connect(&s.url, scim::TOKEN),
        &group,
        [&a, &b],
        |_| s.patches(&id),
    );
}

#[test]
fn scim_filters_are_escaped() {
    let s = scim::server();
    let group = unique("filtered-");
    let bystander = s.create_user(&unique("carl@x.example"));
    let evil = unique("\" or userName pr \"");
    let evil_id = s.create_user(&evil);
    let gid = s.create_group(&group, &[]);
    let mut p = scim_connect(&s.url, scim::TOKEN);

    // The whole text is one userName: it finds exactly its own user.
    assert_eq!(p.add(&group, &evil).unwrap(), Effect::Changed);
    assert_eq!(s.member_ids(&gid), vec![evil_id.clone()]);
    assert_eq!(p.list(&group).unwrap(), set(&[&evil]));
    // Another injection finds nobody, instead of every user.
    let e = format!("{:#}", p.add(&group, "x\" or userName pr \"").unwrap_err());
    assert!(e.contains("no SCIM User with userName"), "{e}");
    assert_eq!(
        p.remove(&group, "x\" or userName pr \"").unwrap(),
        Effect::Unchanged
    );
    assert_eq!(s.member_ids(&gid), vec![evil_id]);
    assert!(!s.member_ids(&gid).contains(&bystander));
}

#[test]
fn scim_missing_groups_users_and_bad_tokens_are_errors() {
    let s = scim::server();
    let group = unique("known-");
    let user = unique("dora@x.example");
    s.create_user(&user);
    s.create_group(&group, &[]);
    let mut p = scim_connect(&s.url, scim::TOKEN);
    let e = format!("{:#}", p.add(&group, "nobody@x.example").unwrap_err());
    assert!(e.contains("\"nobody@x.example\""), "{e}");
    let e = format!("{:#}", p.list("no-such-group").unwrap_err());
    assert!(
        e.contains("no SCIM Group with displayName \"no-such-group\""),
        "{e}"
    );
    let e = format!(
        "{:#}",
        scim_connect(&s.url, "wrong").list(&group).unwrap_err()
    );
    assert!(e.contains("token_env"), "{e}");
    assert!(!e.contains("wrong"), "the token leaked into a message: {e}");
}

#[test]
fn scim_409_and_404_on_members_are_idempotent_outcomes() {
    let user = r#"{"Resources":[{"id":"u 1","userName":"ann@x.example"}],"totalResults":1}"#;
    let group = r#"{"Resources":[{"id":"g/1","displayName":"team"}],"totalResults":1}"#;
    let routes = |members: &str, patch: u16, patch_body: &str| {
        vec![
            ("GET", "/Users?".to_owned(), 200, user.to_owned()),
            ("GET", "/Groups?".to_owned(), 200, group.to_owned()),
            (
                "GET",
                "/Groups/g%2F1".to_owned(),
                200,
                format!(r#"{{"id":"g/1","members":{members}}}"#),
            ),
            (
                "PATCH",
                "/Groups/g%2F1".to_owned(),
                patch,
                patch_body.to_owned(),
            ),
        ]
    };
    let conflict = r#"{"status":"409","detail":"already a member"}"#;

    // Added by someone else between our read and our write.
    let stub = http_stub::start(routes("[]", 409, conflict));
    assert_eq!(
        scim_connect(&stub.url, "t")
            .add("team", "ann@x.example")
            .unwrap(),
        Effect::Unchanged
    );
    let requests = stub.requests.lock().unwrap().clone();
    let patch = requests.iter().find(|r| r.starts_with("PATCH")).unwrap();
    assert!(patch.contains(r#""value":"u 1""#), "{patch}");
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("GET /Users?filter=userName%20eq%20%22ann%40x.example%22")),
        "{requests:?}"
    );

    // Removed by someone else: 404, or 400 noTarget for a filter that matched nothing.
    let members = r#"[{"value":"u 1"}]"#;
    for (status, body) in [
        (404, r#"{"status":"404"}"#),
        (400, r#"{"status":"400","scimType":"noTarget"}"#),
    ] {
        let stub = http_stub::start(routes(members, status, body));
        assert_eq!(
            scim_connect(&stub.url, "t")
                .remove("team", "ann@x.example")
                .unwrap(),
            Effect::Unchanged,
            "{status}"
        );
        let requests = stub.requests.lock().unwrap().clone();
        let patch = requests.iter().find(|r| r.starts_with("PATCH")).unwrap();
        assert!(patch.contains(r#"members[value eq \"u 1\"]"#), "{patch}");
    }

    // Any other failure is an error with the server's detail.
    let stub = http_stub::start(routes(
        "[]",
        500,
        r#"{"status":"500","detail":"database down"}"#,
    ));
    let e = format!(
        "{:#}",
        scim_connect(&stub.url, "t")
            .add("team", "ann@x.example")
            .unwrap_err()
    );
    assert!(e.contains("500") && e.contains("database down"), "{e}");
}

/// A stub directory of `users` users whose group `team` holds the first 60; its pages hold 30
/// users each and leave out `u59`, as if it had been created while they were read. It ignores
/// `attributes=` and sends whole resources, as a server may.
fn scim_directory(users: usize) -> http_stub::Stub {
    // Ids of one width: the stub matches path prefixes.
    let user = |i: usize| {
        format!(
            r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"i{i:04}","userName":"u{i}@x.example","name":{{"givenName":"U","familyName":"{i}"}},"emails":[{{"value":"u{i}@x.example","primary":true}}],"groups":[{{"value":"g1","display":"team"}}],"active":true,"meta":{{"resourceType":"User","version":"W/\"1\""}}}}"#
        )
    };
    let page = |from: usize, to: usize| {
        let resources: Vec<String> = (from..to.min(users))
            .filter(|i| *i != 59)
            .map(user)
            .collect();
        format!(
            r#"{{"totalResults":{users},"itemsPerPage":30,"Resources":[{}]}}"#,
            resources.join(",")
        )
    };
    let members: Vec<String> = (0..60)
        .map(|i| {
            format!(
                r#"{{"value":"i{i:04}","$ref":"/Users/i{i:04}","display":"U {i}","type":"User"}}"#
            )
        })
        .collect();
    let mut routes = vec![
        (
            "GET",
            "/Groups?".to_owned(),
            200,
            format!(
                r#"{{"Resources":[{{"id":"g1","displayName":"team","members":[{}]}}],"totalResults":1}}"#,
                members.join(",")
            ),
        ),
        (
            "GET",
            "/Groups/g1".to_owned(),
            200,
            format!(
                r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"g1","displayName":"team","members":[{}],"meta":{{"resourceType":"Group"}}}}"#,
                members.join(",")
            ),
        ),
        (
            "GET",
            "/Users?count=0".to_owned(),
            200,
            format!(r#"{{"totalResults":{users},"Resources":[]}}"#),
        ),
    ];
    for start in (1..=users).step_by(30) {
        routes.push((
            "GET",
            format!("/Users?startIndex={start}&"),
            200,
            page(start - 1, start - 1 + 30),
        ));
    }
    // The page after a short one starts one user early.
    routes.push(("GET", "/Users?startIndex=60&".to_owned(), 200, page(59, 89)));
    for i in 0..users {
        routes.push(("GET", format!("/Users/i{i:04}"), 200, user(i)));
    }
    http_stub::start(routes)
}

#[test]
fn scim_a_group_holding_much_of_the_directory_is_listed_from_its_pages_completely() {
    let stub = scim_directory(100);
    let mut p = scim_connect(&stub.url, "t");
    let want: BTreeSet<String> = (0..60).map(|i| format!("u{i}@x.example")).collect();
    assert_eq!(p.list("team").unwrap(), want);
    let users: Vec<String> = stub
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.starts_with("GET /Users"))
        .cloned()
        .collect();
    let pages = users.iter().filter(|r| r.contains("startIndex=")).count();
    assert!(pages >= 3, "{users:?}");
    // Only the user the pages missed is read on its own.
    let single: Vec<&String> = users
        .iter()
        .filter(|r| r.starts_with("GET /Users/"))
        .collect();
    assert_eq!(single.len(), 1, "{users:?}");
    assert!(single[0].starts_with("GET /Users/i0059?"), "{users:?}");

    // The names are known now: listing again reads only the group.
    stub.requests.lock().unwrap().clear();
    assert_eq!(p.list("team").unwrap(), want);
    let again = stub.requests.lock().unwrap().clone();
    assert!(
        again.iter().all(|r| r.starts_with("GET /Groups/g1")),
        "{again:?}"
    );
}

#[test]
fn scim_a_group_holding_little_of_the_directory_is_listed_member_by_member() {
    let stub = scim_directory(1000);
    let want: BTreeSet<String> = (0..60).map(|i| format!("u{i}@x.example")).collect();
    assert_eq!(scim_connect(&stub.url, "t").list("team").unwrap(), want);
    let requests = stub.requests.lock().unwrap().clone();
    assert!(
        !requests.iter().any(|r| r.contains("startIndex=")),
        "{requests:?}"
    );
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.starts_with("GET /Users/"))
            .count(),
        60
    );
}

/// Each read asks only for what it uses; the stub ignores that and sends whole resources, which
/// still parse.
#[test]
fn scim_reads_ask_only_for_the_attributes_they_use_and_parse_whole_resources() {
    let want: BTreeSet<String> = (0..60).map(|i| format!("u{i}@x.example")).collect();
    for users in [100, 1000] {
        let stub = scim_directory(users);
        assert_eq!(scim_connect(&stub.url, "t").list("team").unwrap(), want);
        let requests = stub.requests.lock().unwrap().clone();
        let asks = |prefix: &str, attributes: &str| {
            let matching: Vec<&String> =
                requests.iter().filter(|r| r.starts_with(prefix)).collect();
            assert!(!matching.is_empty(), "{prefix}: {requests:?}");
            for r in matching {
                assert!(r.contains(attributes), "{r} should ask for {attributes}");
            }
        };
        asks("GET /Groups?filter=", "&attributes=displayName");
        asks("GET /Groups/g1?", "attributes=members");
        asks("GET /Users/", "?attributes=userName");
        if users == 100 {
            asks("GET /Users?startIndex=", "&attributes=userName");
        }
    }
}

#[test]
fn scim_writes_read_the_group_every_time_and_find_a_replaced_group_again() {
    let s = scim::server();
    let (group, a) = (unique("replaced-"), unique("erin@x.example"));
    let user = s.create_user(&a);
    let first = s.create_group(&group, &[]);
    let mut p = scim_connect(&s.url, scim::TOKEN);
    assert_eq!(p.add(&group, &a).unwrap(), Effect::Changed);
    // Someone removes the member behind portcullis's back: the next add writes again.
    s.remove_member(&first, &user);
    assert_eq!(p.add(&group, &a).unwrap(), Effect::Changed);
    assert_eq!(s.patches(&first), 3, "two adds and the removal");
    // The group is replaced by another of the same name: found again by its name.
    s.delete(&format!("/Groups/{first}"));
    let second = s.create_group(&group, &[&user]);
    assert_eq!(p.add(&group, &a).unwrap(), Effect::Unchanged);
    assert_eq!(p.list(&group).unwrap(), set(&[&a]));
    assert_eq!(p.remove(&group, &a).unwrap(), Effect::Changed);
    assert!(s.member_ids(&second).is_empty());
}

// ---- command ----

/// A file-backed directory in a script: `state.json` holds the groups, `writes.log` one line
/// per write it made.
const STORE_SCRIPT: &str = r#"
import json, os, sys
req = json.load(sys.stdin)
store = os.environ["STORE"]
path = os.path.join(store, "state.json")
state = json.load(open(path))
if req["target"] not in state:
    print("no such group " + req["target"], file=sys.stderr)
    sys.exit(2)
members = set(state[req["target"]])
if req["op"] == "list":
    print(json.dumps({"members": sorted(members)}))
    sys.exit(0)
account = req["account"]
if (req["op"] == "add") == (account in members):
    print(json.dumps({"outcome": "unchanged"}))
    sys.exit(0)
(members.add if req["op"] == "add" else members.discard)(account)
state[req["target"]] = sorted(members)
json.dump(state, open(path, "w"))
open(os.path.join(store, "writes.log"), "a").write(req["op"] + " " + account + "\n")
print(json.dumps({"outcome": "changed"}))
"#;

fn python() -> String {
    ["/usr/bin/python3", "/usr/local/bin/python3"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or_else(|| services::missing("python3", "/usr/bin/python3"))
        .to_owned()
}

/// Writes an executable script into `dir` and connects a `command` provisioner to it.
fn command_with(dir: &Path, script: &str, timeout_seconds: u32) -> Box<dyn Provisioner> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("provision");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let store = dir.to_str().unwrap();
    connect_with(
        model::Provisioner::Command {
            command: path.to_str().unwrap().into(),
            timeout_seconds,
            env: vec!["STORE".into()],
        },
        &[("STORE", store)],
    )
}

#[test]
fn contract_command() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("state.json"), r#"{"vpn users": []}"#).unwrap();
    let mut p = command_with(dir.path(), &format!("#!{}\n{STORE_SCRIPT}", python()), 30);
    let log = dir.path().join("writes.log");
    contract(&mut *p, "vpn users", ["alice", "o'brien \"x\""], |_| {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .count() as u64
    });
    let e = format!("{:#}", p.list("nope").unwrap_err());
    assert!(e.contains("no such group nope"), "{e}");
}

#[test]
fn command_is_killed_with_its_children_after_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = command_with(
        dir.path(),
        "#!/bin/sh\nsleep 60 &\necho $! > \"$STORE/child.pid\"\nsleep 60\n",
        1,
    );
    let started = Instant::now();
    let e = format!("{:#}", p.list("any").unwrap_err());
    assert!(
        e.contains("did not finish within 1 s and was killed"),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let pid = std::fs::read_to_string(dir.path().join("child.pid")).unwrap();
    let stat = Path::new("/proc").join(pid.trim()).join("stat");
    let deadline = Instant::now() + Duration::from_secs(5);
    // Gone, or a zombie waiting for a reaper: either way no longer running.
    while std::fs::read_to_string(&stat).is_ok_and(|s| !s.contains(") Z ")) {
        assert!(Instant::now() < deadline, "the command's child outlived it");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn command_failures_carry_stderr_and_bad_output_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = command_with(
        dir.path(),
        "#!/bin/sh\necho 'team vpn-users is locked' >&2\nexit 3\n",
        10,
    );
    let e = format!("{:#}", p.add("vpn-users", "alice").unwrap_err());
    assert!(e.contains("team vpn-users is locked"), "{e}");
    assert!(e.contains("exit status: 3"), "{e}");

    let mut p = command_with(dir.path(), "#!/bin/sh\necho done\n", 10);
    let e = format!("{:#}", p.add("vpn-users", "alice").unwrap_err());
    assert!(e.contains("printed no JSON"), "{e}");
    let mut p = command_with(dir.path(), "#!/bin/sh\necho '{\"outcome\":\"ok\"}'\n", 10);
    assert!(p.add("vpn-users", "alice").is_err());
    let mut p = command_with(
        dir.path(),
        "#!/bin/sh\necho '{\"outcome\":\"pending\",\"detail\":\"ticket 7\"}'\n",
        10,
    );
    assert_eq!(
        p.remove("vpn-users", "alice").unwrap(),
        Effect::Pending("ticket 7".into())
    );
}

#[test]
fn command_sees_only_the_listed_environment_and_no_shell() {
    let dir = tempfile::tempdir().unwrap();
    // cargo sets this for the test process; the command must not inherit it.
    assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
    let mut p = command_with(
        dir.path(),
        "#!/bin/sh\nread -r input\nprintf '{\"members\":[\"%s\",\"%s\"]}' \"${STORE:+store}\" \"${CARGO_MANIFEST_DIR:-withheld}\"\n",
        10,
    );
    assert_eq!(p.list("g").unwrap(), set(&["store", "withheld"]));
    // The target travels as JSON data: shell syntax in it is never run.
    let mut p = command_with(
        dir.path(),
        "#!/bin/sh\nread -r input\nprintf '{\"members\":[%s]}' \"$(printf '%s' \"$input\" | sed 's/.*\"target\":\\(\"[^\"]*\"\\).*/\\1/')\"\n",
        10,
    );
    assert_eq!(p.list("$(touch pwned)").unwrap(), set(&["$(touch pwned)"]));
    assert!(!root().join("pwned").exists() && !dir.path().join("pwned").exists());
}

// ---- connect, against the example organisation ----

fn example() -> model::Catalog {
    let snapshot = portcullis_git::worktree::read(&root()).unwrap();
    portcullis_core::load::load(&snapshot).0
}

#[test]
fn connect_takes_secrets_from_the_variables_the_policy_names() {
    let catalog = example();
    let none = |_: &str| None;
    let e = format!(
        "{:#}",
        connect(&catalog.apps["payments"], &root(), &none)
            .err()
            .unwrap()
    );
    assert!(
        e.contains("`PAYMENTS_DB_DSN` is not set") && e.contains("policies/apps/payments.yaml"),
        "{e}"
    );
    let e = format!(
        "{:#}",
        connect(&catalog.apps["grafana"], &root(), &none)
            .err()
            .unwrap()
    );
    assert!(e.contains("`LDAP_URL` is not set"), "{e}");
    let e = format!(
        "{:#}",
        connect(&catalog.apps["github"], &root(), &none)
            .err()
            .unwrap()
    );
    assert!(e.contains("`GITHUB_REPOSITORY` is not set"), "{e}");
    // A relative command path is resolved against the repository root.
    let env = |n: &str| Some(format!("value-of-{n}"));
    let e = format!(
        "{:#}",
        connect(&catalog.apps["vpn"], &root(), &env).err().unwrap()
    );
    assert!(
        e.contains(&root().join("scripts/provision-vpn").display().to_string()),
        "{e}"
    );

    // With the variables set, the example's scim app talks to the server they name.
    let s = scim::server();
    let group = unique("slack-members-");
    s.create_group(&group, &[]);
    let env = |n: &str| match n {
        "OKTA_SCIM_URL" => Some(s.url.clone()),
        "OKTA_SCIM_TOKEN" => Some(scim::TOKEN.to_owned()),
        _ => None,
    };
    let mut p = connect(&catalog.apps["slack"], &root(), &env).unwrap();
    assert_eq!(p.list(&group).unwrap(), set(&[]));
}

#[test]
fn accounts_follow_each_types_login_template() {
    let catalog = example();
    let helen = &catalog.people["helen"];
    let account = |app: &str| account_for(&catalog.apps[app], helen).unwrap();
    assert_eq!(account("grafana"), "helen"); // ldap: the uid of uid={id},ou=people,...
    assert_eq!(account("slack"), "helen@tidewater.example");
    assert_eq!(account("payments"), "helen");
    assert_eq!(account("github"), "helen-tw");
}
