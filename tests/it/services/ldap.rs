//! An OpenLDAP slapd of our own: an mdb database `dc=test` with `ou=people` and `ou=groups`,
//! the core, cosine and inetOrgPerson schemas, and the monitor database, whose modify counter
//! shows whether a pass wrote anything.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};

use ldap3::{LdapConn, Mod, Scope, SearchEntry};

pub const SUFFIX: &str = "dc=test";
pub const ADMIN: &str = "cn=admin,dc=test";
pub const PASSWORD: &str = "test-password";
pub const PEOPLE: &str = "ou=people,dc=test";
pub const GROUPS: &str = "ou=groups,dc=test";

pub struct Slapd {
    pub url: String,
}

pub fn server() -> &'static Slapd {
    static SLAPD: OnceLock<Slapd> = OnceLock::new();
    SLAPD.get_or_init(start)
}

/// The monitor's modify counter is server-wide: tests that count modifies hold this.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn slapd_binary() -> PathBuf {
    super::first_existing(
        std::env::var_os("PORTCULLIS_SLAPD")
            .map(PathBuf::from)
            .into_iter()
            .chain(["/usr/sbin/slapd".into(), "/usr/local/libexec/slapd".into()]),
    )
    .unwrap_or_else(|| super::missing("OpenLDAP slapd", "/usr/sbin/slapd, or $PORTCULLIS_SLAPD"))
}

fn schema_dir() -> &'static Path {
    let dir = Path::new("/etc/ldap/schema");
    if !dir.join("inetorgperson.schema").exists() {
        super::missing(
            "the OpenLDAP schemas",
            "/etc/ldap/schema/inetorgperson.schema",
        );
    }
    dir
}

fn start() -> Slapd {
    let slapd = slapd_binary();
    let schemas = schema_dir();
    let dir = tempfile::Builder::new()
        .prefix("portcullis-slapd")
        .tempdir()
        .unwrap();
    let db = dir.path().join("db");
    std::fs::create_dir(&db).unwrap();
    let log = dir.path().join("slapd.log");
    let conf = dir.path().join("slapd.conf");
    let modules = [
        "/usr/lib/ldap",
        "/usr/lib/openldap",
        "/usr/libexec/openldap",
    ]
    .into_iter()
    .find(|d| Path::new(d).join("back_mdb.so").exists());
    let module_lines = modules
        .map(|d| format!("modulepath {d}\nmoduleload back_mdb\n"))
        .unwrap_or_default();
    std::fs::write(
        &conf,
        format!(
            "include {s}/core.schema\ninclude {s}/cosine.schema\ninclude {s}/inetorgperson.schema\n\
             {module_lines}pidfile {d}/slapd.pid\n\
             database mdb\nsuffix \"{SUFFIX}\"\nrootdn \"{ADMIN}\"\nrootpw {PASSWORD}\n\
             directory {db}\nmaxsize 104857600\n\
             database monitor\naccess to * by dn.exact=\"{ADMIN}\" read by * none\n",
            s = schemas.display(),
            d = dir.path().display(),
            db = db.display(),
        ),
    )
    .unwrap();
    let port = super::free_port();
    let url = format!("ldap://127.0.0.1:{port}");
    let log_file = std::fs::File::create(&log).unwrap();
    let child = Command::new(&slapd)
        .arg("-f")
        .arg(&conf)
        .args(["-h", &format!("{url}/"), "-d", "0"])
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .unwrap_or_else(|e| super::missing("OpenLDAP slapd", &format!("{}: {e}", slapd.display())));
    super::keep(child, libc::SIGINT, dir);
    super::wait_ready("slapd", &log, || {
        LdapConn::new(&url)
            .and_then(|mut c| c.simple_bind(ADMIN, PASSWORD))
            .is_ok_and(|r| r.rc == 0)
    });
    let s = Slapd { url };
    let mut c = s.admin();
    for (dn, attrs) in [
        (
            SUFFIX,
            vec![
                ("objectClass", vec!["dcObject", "organization"]),
                ("o", vec!["test"]),
                ("dc", vec!["test"]),
            ],
        ),
        (
            PEOPLE,
            vec![
                ("objectClass", vec!["organizationalUnit"]),
                ("ou", vec!["people"]),
            ],
        ),
        (
            GROUPS,
            vec![
                ("objectClass", vec!["organizationalUnit"]),
                ("ou", vec!["groups"]),
            ],
        ),
    ] {
        let attrs = attrs
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().collect::<HashSet<_>>()))
            .collect();
        c.add(dn, attrs).unwrap().success().unwrap();
    }
    s
}

impl Slapd {
    pub fn admin(&self) -> LdapConn {
        let mut c = LdapConn::new(&self.url).unwrap();
        c.simple_bind(ADMIN, PASSWORD).unwrap().success().unwrap();
        c
    }

    /// Adds an entry with these attributes (objectClass included).
    pub fn add_entry(&self, dn: &str, attrs: &[(&str, &[&str])]) {
        let attrs = attrs
            .iter()
            .map(|(k, v)| (*k, v.iter().copied().collect::<HashSet<_>>()))
            .collect();
        self.admin()
            .add(dn, attrs)
            .unwrap()
            .success()
            .unwrap_or_else(|e| panic!("adding {dn}: {e}"));
    }

    /// People `uid=<uid>,ou=people,dc=test`, added over one connection.
    pub fn add_people(&self, uids: &[String]) {
        let mut c = self.admin();
        for uid in uids {
            let dn = format!("uid={},{PEOPLE}", ldap3::dn_escape(uid));
            let attrs = [
                ("objectClass", ["inetOrgPerson"]),
                ("uid", [uid.as_str()]),
                ("cn", [uid.as_str()]),
                ("sn", ["x"]),
            ]
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().collect::<HashSet<_>>()))
            .collect();
            c.add(&dn, attrs)
                .unwrap()
                .success()
                .unwrap_or_else(|e| panic!("adding {dn}: {e}"));
        }
    }

    /// A person `uid=<uid>,ou=people,dc=test`.
    pub fn add_person(&self, uid: &str) -> String {
        let dn = format!("uid={},{PEOPLE}", ldap3::dn_escape(uid));
        self.add_entry(
            &dn,
            &[
                ("objectClass", &["inetOrgPerson"]),
                ("uid", &[uid]),
                ("cn", &[uid]),
                ("sn", &["x"]),
            ],
        );
        dn
    }

    /// A groupOfNames `cn=<cn>,ou=groups,dc=test` whose one member is `member`.
    pub fn add_group(&self, cn: &str, member: &str) -> String {
        let dn = format!("cn={},{GROUPS}", ldap3::dn_escape(cn));
        self.add_entry(
            &dn,
            &[
                ("objectClass", &["groupOfNames"]),
                ("cn", &[cn]),
                ("member", &[member]),
            ],
        );
        dn
    }

    /// The raw `member` values of an entry, as the server stores them.
    pub fn member_values(&self, dn: &str) -> Vec<String> {
        let (entries, _) = self
            .admin()
            .search(dn, Scope::Base, "(objectClass=*)", vec!["member"])
            .unwrap()
            .success()
            .unwrap();
        let mut values = SearchEntry::construct(entries[0].clone())
            .attrs
            .remove("member")
            .unwrap_or_default();
        values.sort();
        values
    }

    pub fn replace_members(&self, dn: &str, members: &[&str]) {
        let values = members.iter().map(|m| m.to_string()).collect();
        self.admin()
            .modify(dn, vec![Mod::Replace("member".to_string(), values)])
            .unwrap()
            .success()
            .unwrap();
    }

    /// Modify operations the server has completed since it started.
    pub fn modifies(&self) -> u64 {
        let (entries, _) = self
            .admin()
            .search(
                "cn=Modify,cn=Operations,cn=Monitor",
                Scope::Base,
                "(objectClass=*)",
                vec!["monitorOpCompleted"],
            )
            .unwrap()
            .success()
            .unwrap();
        SearchEntry::construct(entries[0].clone()).attrs["monitorOpCompleted"][0]
            .parse()
            .unwrap()
    }
}
