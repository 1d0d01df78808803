//! `apply` at scale into the real servers: three apps whose roles live in PostgreSQL, slapd and
//! scim2-server (`services/`). Grants reach the branch through an approved pull request, are
//! verified and provisioned, and are read back from each server; a second run writes nothing; a
//! pull request removing half of them and adding a few more is applied revocations first.
//!
//! Writes are counted at the servers (PostgreSQL's statement log, slapd's monitor, the SCIM
//! server's request log), never taken from apply's own report. With the sizes of
//! `scripts/bench-apply` these tests are the benchmark the README quotes: the figures are printed
//! on lines starting `apply-bench:` (run with `--nocapture`) and never asserted.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::Output;
use std::time::{Duration, Instant};

use portcullis_core::evidence::Outcome;
use portcullis_provisioners::postgres::quote_ident;

use crate::apply::{Org, grants, pg_members, text};
use crate::services::{ldap, postgres, scim, unique};

/// The apps, one per system, in the order `Writes` counts them.
const APPS: [&str; 3] = ["bench-db", "bench-dir", "bench-idp"];
const ROLES: [&str; 2] = ["read", "write"];
const AS_OF: &str = "2026-11-22";

/// One grant: (person index, app index, role index).
type Grant = (usize, usize, usize);
/// Members of each (app, role) target, by person id.
type Held = BTreeMap<(usize, usize), BTreeSet<String>>;
/// Write operations each system completed: PostgreSQL GRANT/REVOKE, LDAP modify, SCIM PATCH.
type Writes = [u64; 3];

fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `n` grants spread over the three apps, a person getting one role in each: grant `i` is app
/// `i % 3` for person `first + i / 3`, whose role alternates between people.
fn spread(n: usize, first: usize) -> Vec<Grant> {
    (0..n)
        .map(|i| {
            let person = first + i / 3;
            (person, i % 3, person % 2)
        })
        .collect()
}

/// The three apps' policies; every role's target is `<prefix>_<role>` in its system.
fn policies(prefix: &str) -> Vec<(String, String)> {
    let roles: String = ROLES
        .iter()
        .map(|r| format!("  {r}:\n    description: Bench role {r}\n    target: {prefix}_{r}\n"))
        .collect();
    let app = |id: &str, name: &str, provisioner: String| {
        (
            format!("policies/apps/{id}.yaml"),
            format!(
                "id: {id}\nname: {name}\nowners: [\"@tidewater/it\"]\nrisk: low\nprovisioner:\n{provisioner}roles:\n{roles}"
            ),
        )
    };
    vec![
        app(
            APPS[0],
            "Bench database",
            "  type: postgres\n  dsn_env: BENCH_PG_DSN\n".into(),
        ),
        app(
            APPS[1],
            "Bench directory",
            format!(
                "  type: ldap\n  url_env: BENCH_LDAP_URL\n  bind_dn: \"{}\"\n  bind_password_env: BENCH_LDAP_PASSWORD\n  group_base: \"{}\"\n  login: \"uid={{id}},{}\"\n",
                ldap::ADMIN,
                ldap::GROUPS,
                ldap::PEOPLE
            ),
        ),
        app(
            APPS[2],
            "Bench identity provider",
            "  type: scim\n  url_env: BENCH_SCIM_URL\n  token_env: BENCH_SCIM_TOKEN\n".into(),
        ),
    ]
}

fn grant_file(people: &[String], (person, app, role): Grant) -> (String, String) {
    let id = &people[person];
    (
        format!("access/{}/{id}.yaml", APPS[app]),
        grants(id, APPS[app], &[(ROLES[role], "")]),
    )
}

/// What the targets should hold after `grants`: every target, empty ones too.
fn expected(people: &[String], grants: &[Grant]) -> Held {
    let mut want: Held = (0..APPS.len())
        .flat_map(|a| (0..ROLES.len()).map(move |r| ((a, r), BTreeSet::new())))
        .collect();
    for &(person, app, role) in grants {
        want.get_mut(&(app, role))
            .unwrap()
            .insert(people[person].clone());
    }
    want
}

/// The accounts, targets and memberships of one organisation in the three servers.
struct Systems {
    prefix: String,
    /// SCIM User id -> person id.
    scim_users: HashMap<String, String>,
    /// SCIM Group id of each role.
    scim_groups: Vec<String>,
}

impl Systems {
    /// Creates the targets and every person's account in the three servers, with `members`
    /// already in their targets.
    fn create(prefix: &str, people: &[String], members: &[Grant]) -> Systems {
        let holding = |app: usize, role: usize| -> Vec<&str> {
            members
                .iter()
                .filter(|g| g.1 == app && g.2 == role)
                .map(|g| people[g.0].as_str())
                .collect()
        };

        let mut sql: Vec<String> = ROLES
            .iter()
            .map(|r| format!("CREATE ROLE {} NOLOGIN", quote_ident(&target(prefix, r))))
            .collect();
        sql.extend(
            people
                .iter()
                .map(|p| format!("CREATE ROLE {} LOGIN", quote_ident(p))),
        );
        for (r, role) in ROLES.iter().enumerate() {
            let logins: Vec<String> = holding(0, r).into_iter().map(quote_ident).collect();
            if !logins.is_empty() {
                sql.push(format!(
                    "GRANT {} TO {}",
                    quote_ident(&target(prefix, role)),
                    logins.join(", ")
                ));
            }
        }
        postgres::server()
            .admin()
            .batch_execute(&sql.join(";\n"))
            .unwrap();

        let slapd = ldap::server();
        slapd.add_people(people);
        for (r, role) in ROLES.iter().enumerate() {
            let cn = target(prefix, role);
            let dn = format!("cn={cn},{}", ldap::GROUPS);
            // groupOfNames needs a member: an empty group holds its own DN.
            let mut member: Vec<String> = holding(1, r)
                .into_iter()
                .map(|p| format!("uid={p},{}", ldap::PEOPLE))
                .collect();
            if member.is_empty() {
                member.push(dn.clone());
            }
            let member: Vec<&str> = member.iter().map(String::as_str).collect();
            slapd.add_entry(
                &dn,
                &[
                    ("objectClass", &["groupOfNames"]),
                    ("cn", &[&cn]),
                    ("member", &member),
                ],
            );
        }

        let idp = scim::server();
        let mut scim_users = HashMap::new();
        let mut ids = HashMap::new();
        for p in people {
            let id = idp.create_user(&email(p));
            ids.insert(p.as_str(), id.clone());
            scim_users.insert(id, p.clone());
        }
        let scim_groups = ROLES
            .iter()
            .enumerate()
            .map(|(r, role)| {
                let members: Vec<&str> =
                    holding(2, r).into_iter().map(|p| ids[p].as_str()).collect();
                idp.create_group(&target(prefix, role), &members)
            })
            .collect();
        Systems {
            prefix: prefix.to_owned(),
            scim_users,
            scim_groups,
        }
    }

    /// The systems' addresses and secrets, as the apply job's environment holds them.
    fn env(&self) -> Vec<(String, String)> {
        [
            ("BENCH_PG_DSN", postgres::server().dsn("postgres")),
            ("BENCH_LDAP_URL", ldap::server().url.clone()),
            ("BENCH_LDAP_PASSWORD", ldap::PASSWORD.to_owned()),
            ("BENCH_SCIM_URL", scim::server().url.clone()),
            ("BENCH_SCIM_TOKEN", scim::TOKEN.to_owned()),
            ("PORTCULLIS_TIMINGS", "1".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Every target's members, read from the servers.
    fn held(&self) -> Held {
        let mut admin = postgres::server().admin();
        let slapd = ldap::server();
        let idp = scim::server();
        let mut out = Held::new();
        for (r, role) in ROLES.iter().enumerate() {
            let name = target(&self.prefix, role);
            out.insert((0, r), pg_members(&mut admin, &name));
            let suffix = format!(",{}", ldap::PEOPLE);
            let accounts = slapd
                .member_values(&format!("cn={name},{}", ldap::GROUPS))
                .into_iter()
                .filter_map(|dn| Some(dn.strip_prefix("uid=")?.strip_suffix(&suffix)?.to_owned()))
                .collect();
            out.insert((1, r), accounts);
            let users = idp
                .member_ids(&self.scim_groups[r])
                .into_iter()
                .map(|id| self.scim_users[&id].clone())
                .collect();
            out.insert((2, r), users);
        }
        out
    }

    fn writes(&self) -> Writes {
        let pg = postgres::server();
        let idp = scim::server();
        [
            ROLES
                .iter()
                .map(|r| pg.role_writes(&quote_ident(&target(&self.prefix, r))))
                .sum(),
            ldap::server().modifies(),
            self.scim_groups.iter().map(|g| idp.patches(g)).sum(),
        ]
    }
}

fn target(prefix: &str, role: &str) -> String {
    format!("{prefix}_{role}")
}

fn email(person: &str) -> String {
    format!("{person}@tidewater.example")
}

fn since(before: Writes, after: Writes) -> Writes {
    [0, 1, 2].map(|i| after[i] - before[i])
}

/// How many of `grants` fall on each system.
fn per_system(grants: &[Grant]) -> Writes {
    let mut n = [0; 3];
    for g in grants {
        n[g.1] += 1;
    }
    n
}

/// Runs apply (the clone fetched beforehand, so only the binary is timed).
fn timed_apply(org: &Org, extra: &[&str]) -> (Output, Duration) {
    org.fetch();
    let mut args = vec!["apply"];
    args.extend_from_slice(extra);
    let started = Instant::now();
    let out = org.run_fetched(&args, AS_OF);
    (out, started.elapsed())
}

/// The figures of one run: its time, the writes each server saw, and apply's own phase and
/// per-system timings (`PORTCULLIS_TIMINGS`).
fn report(label: &str, out: &Output, took: Duration, writes: Writes) {
    let total: u64 = writes.iter().sum();
    let secs = took.as_secs_f64();
    eprintln!(
        "apply-bench: {label}: {secs:.2} s, {total} writes (postgres {}, ldap {}, scim {}), {:.0} writes/s",
        writes[0],
        writes[1],
        writes[2],
        total as f64 / secs
    );
    for line in String::from_utf8_lossy(&out.stderr).lines() {
        let Some(timing) = line.strip_prefix("timing: ") else {
            continue;
        };
        // apply's own phases and systems (the verification's `plan` prints its own too).
        if timing.starts_with("apply: ") || timing.starts_with("app ") {
            eprintln!("apply-bench: {label}:   {timing}");
        }
    }
}

/// `PORTCULLIS_APPLY_BENCH_CHANGES` grant changes (default 30) in one approved pull request,
/// across the three systems: provisioned exactly, converged, then half revoked.
#[test]
fn grant_changes_into_postgres_ldap_and_scim_are_verified_provisioned_and_revoked() {
    let n = size("PORTCULLIS_APPLY_BENCH_CHANGES", 30);
    // slapd's modify counter is server-wide.
    let _serial = ldap::serial();
    let prefix = unique("bench");
    let added = spread(n, 0);
    let first_people = n.div_ceil(3);
    // The revocation pull request also grants a tenth as many to people who had nothing.
    let late = spread(n.div_ceil(10), first_people);
    let people: Vec<String> = (0..first_people + late.len().div_ceil(3))
        .map(|j| format!("{prefix}u{j:05}"))
        .collect();
    let systems = Systems::create(&prefix, &people, &[]);
    let mut org = Org::seeded(&policies(&prefix), &people, tempfile::tempdir().unwrap());
    org.env = systems.env();
    org.trust();
    let start = systems.writes();
    assert_eq!(systems.held(), expected(&people, &[]));

    // One pull request adds every grant; the app owner approves it.
    let files: Vec<(String, String)> = added.iter().map(|g| grant_file(&people, *g)).collect();
    let changes: Vec<(&str, Option<&str>)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), Some(t.as_str())))
        .collect();
    let (pr, merge) = org.merged_pr("bench-grants", &changes, &["token-kenji-tw"]);
    let (out, first) = timed_apply(&org, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "summary: {n} changed, 0 unchanged, 0 pending, 0 failed"
        )),
        "{}",
        text(&out)
    );
    let after_first = systems.writes();
    assert_eq!(since(start, after_first), per_system(&added));
    assert_eq!(systems.held(), expected(&people, &added));
    let record = org
        .evidence()
        .into_iter()
        .find(|r| r.commit == merge)
        .expect("the pull request's evidence record");
    assert_eq!(record.pr, Some(pr));
    assert_eq!(record.approvals[0].reviewer, "kenji-tw");
    assert_eq!(record.actions.len(), n);
    assert!(record.actions.iter().all(|a| a.result == Outcome::Changed));
    report(
        &format!("{n} changes, first run"),
        &out,
        first,
        since(start, after_first),
    );

    let (out, second) = timed_apply(&org, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(systems.writes(), after_first, "a converged run wrote");
    report(&format!("{n} changes, second run"), &out, second, [0; 3]);

    // A pull request takes away the grants of every other pair of people and adds the late
    // ones: more than a quarter of each target, so the run needs `--allow-mass-removal`.
    let (revoked, kept): (Vec<Grant>, Vec<Grant>) = added.iter().partition(|g| g.0 % 4 < 2);
    let mut files: Vec<(String, Option<String>)> = revoked
        .iter()
        .map(|g| (grant_file(&people, *g).0, None))
        .collect();
    files.extend(late.iter().map(|g| {
        let (path, text) = grant_file(&people, *g);
        (path, Some(text))
    }));
    let changes: Vec<(&str, Option<&str>)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_deref()))
        .collect();
    let (_, merge) = org.merged_pr("bench-revocations", &changes, &["token-kenji-tw"]);
    let (out, third) = timed_apply(&org, &["--allow-mass-removal"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let after_third = systems.writes();
    let mut changed = revoked.clone();
    changed.extend(&late);
    assert_eq!(since(after_first, after_third), per_system(&changed));
    let mut now_granted = kept;
    now_granted.extend(&late);
    assert_eq!(systems.held(), expected(&people, &now_granted));
    // Revocations first: every removal is done before the first addition.
    let done: Vec<&str> = text(&out)
        .lines()
        .filter_map(|l| l.strip_prefix("changed "))
        .map(|l| {
            if l.starts_with("remove ") {
                "remove"
            } else {
                "add"
            }
        })
        .collect();
    assert_eq!(done.len(), changed.len(), "{}", text(&out));
    let removes = revoked.len();
    assert!(
        done[..removes].iter().all(|o| *o == "remove")
            && done[removes..].iter().all(|o| *o == "add"),
        "revocations first: {done:?}"
    );
    // The additions are on the pull request's record; the removals, which name no role any
    // more, on the run's own.
    let notes = org.evidence();
    let record = notes.iter().find(|r| r.commit == merge).unwrap();
    assert_eq!(record.actions.len(), late.len());
    let run = &record.run.id;
    let recorded: usize = notes
        .iter()
        .filter(|r| &r.run.id == run)
        .flat_map(|r| &r.actions)
        .filter(|a| a.result == Outcome::Changed)
        .count();
    assert_eq!(recorded, changed.len());
    report(
        &format!(
            "{n} changes, revocation run ({} removed, {} added)",
            revoked.len(),
            late.len()
        ),
        &out,
        third,
        since(after_first, after_third),
    );
    eprintln!(
        "apply-bench: {n} grant changes across postgres, ldap and scim: first run {:.2} s ({:.0} writes/s), converged second run {:.2} s",
        first.as_secs_f64(),
        n as f64 / first.as_secs_f64(),
        second.as_secs_f64()
    );
}

/// `PORTCULLIS_APPLY_BENCH_GRANTS` grants (default 60) already in place in the three systems:
/// the first run (trusting the commit) and the second write nothing.
#[test]
fn a_converged_run_over_postgres_ldap_and_scim_writes_nothing() {
    let n = size("PORTCULLIS_APPLY_BENCH_GRANTS", 60);
    let _serial = ldap::serial();
    let prefix = unique("bench");
    let granted = spread(n, 0);
    let people: Vec<String> = (0..n.div_ceil(3))
        .map(|j| format!("{prefix}u{j:05}"))
        .collect();
    let setup = Instant::now();
    let systems = Systems::create(&prefix, &people, &granted);
    let mut files = policies(&prefix);
    files.extend(granted.iter().map(|g| grant_file(&people, *g)));
    let mut org = Org::seeded(&files, &people, tempfile::tempdir().unwrap());
    org.env = systems.env();
    eprintln!(
        "apply-bench: converged {n} grants: set up in {:.1} s",
        setup.elapsed().as_secs_f64()
    );
    let start = systems.writes();

    let (out, first) = timed_apply(&org, &["--trust-from", "HEAD"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(systems.writes(), start, "the trusted state already holds");
    report(
        &format!("{n} grants in place, first run (--trust-from)"),
        &out,
        first,
        [0; 3],
    );
    let (out, second) = timed_apply(&org, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(systems.writes(), start, "a converged run wrote");
    assert_eq!(systems.held(), expected(&people, &granted));
    report(
        &format!("{n} grants in place, second run"),
        &out,
        second,
        [0; 3],
    );
    eprintln!(
        "apply-bench: {n} grants across postgres, ldap and scim, converged: second run {:.2} s",
        second.as_secs_f64()
    );
}
