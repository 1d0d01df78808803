//! A PostgreSQL server of our own: `initdb` into a temporary directory, `postgres` on a free
//! loopback port with trust authentication, every DDL statement logged (the tests count GRANT
//! and REVOKE statements there to prove a second pass writes nothing).

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub struct Pg {
    pub port: u16,
    log: PathBuf,
}

/// The server of this test process, started on first use.
pub fn server() -> &'static Pg {
    static PG: OnceLock<Pg> = OnceLock::new();
    PG.get_or_init(start)
}

impl Pg {
    pub fn dsn(&self, user: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user='{}' dbname=postgres sslmode=disable connect_timeout=10",
            self.port,
            user.replace('\\', "\\\\").replace('\'', "\\'")
        )
    }

    pub fn admin(&self) -> postgres::Client {
        postgres::Client::connect(&self.dsn("postgres"), postgres::NoTls)
            .expect("connect as postgres")
    }

    /// GRANT and REVOKE statements the server ran that name `quoted` (a quoted identifier).
    pub fn role_writes(&self, quoted: &str) -> u64 {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("statement: GRANT ") || l.contains("statement: REVOKE "))
            .filter(|l| l.contains(quoted))
            .count() as u64
    }
}

fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PORTCULLIS_PG_BIN") {
        return dir.into();
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    dirs.retain(|d| d.join("postgres").exists() && d.join("initdb").exists());
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
    });
    dirs.pop().unwrap_or_else(|| {
        super::missing(
            "PostgreSQL server binaries (initdb, postgres)",
            "/usr/lib/postgresql/<version>/bin, or $PORTCULLIS_PG_BIN",
        )
    })
}

/// initdb refuses to run as root: as root, run the server as the `postgres` user.
fn as_server_user(program: PathBuf) -> Command {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Command::new(program);
    }
    let mut c = Command::new("setpriv");
    c.args([
        "--reuid=postgres",
        "--regid=postgres",
        "--init-groups",
        "--",
    ])
    .arg(program);
    c
}

fn start() -> Pg {
    let bin = bin_dir();
    let dir = tempfile::Builder::new()
        .prefix("portcullis-pg")
        .tempdir()
        .unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let status = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "chown of the PostgreSQL test directory");
    }
    let out = as_server_user(bin.join("initdb"))
        .args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
            "-D",
        ])
        .arg(&data)
        .output()
        .unwrap_or_else(|e| super::missing("initdb", &format!("{}: {e}", bin.display())));
    assert!(
        out.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = super::free_port();
    let log_file = std::fs::File::create(&log).unwrap();
    let child = as_server_user(bin.join("postgres"))
        .arg("-D")
        .arg(&data)
        .arg("-k")
        .arg(dir.path())
        .args(["-p", &port.to_string(), "-h", "127.0.0.1"])
        .args([
            "-c",
            "log_statement=ddl",
            "-c",
            "fsync=off",
            "-c",
            "full_page_writes=off",
        ])
        .args(["-c", "synchronous_commit=off", "-c", "max_connections=50"])
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .unwrap_or_else(|e| super::missing("postgres", &format!("{}: {e}", bin.display())));
    let pg = Pg {
        port,
        log: log.clone(),
    };
    // Fast shutdown on SIGINT: the postmaster stops its backends.
    super::keep(child, libc::SIGINT, dir);
    super::wait_ready("PostgreSQL", &log, || {
        postgres::Client::connect(&pg.dsn("postgres"), postgres::NoTls).is_ok()
    });
    pg
}
