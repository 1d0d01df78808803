//! Real servers for the provisioner tests, started on loopback once per test process and
//! stopped when it exits. A missing server binary fails the test with the command that
//! installs it; nothing is skipped.

pub mod http_stub;
pub mod ldap;
pub mod postgres;
pub mod scim;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

/// A server process and its scratch directory; dropping it stops the server and removes the
/// directory.
pub struct Server {
    child: Child,
    stop_signal: i32,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: signals the child we started.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, self.stop_signal);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

static RUNNING: Mutex<Vec<Server>> = Mutex::new(Vec::new());

extern "C" fn stop_all() {
    if let Ok(mut servers) = RUNNING.lock() {
        servers.clear();
    }
}

/// Keeps the server running until the test process exits (statics are never dropped, so an
/// exit handler stops them).
pub fn keep(child: Child, stop_signal: i32, dir: tempfile::TempDir) {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        // SAFETY: registers a plain function to run at process exit.
        unsafe {
            libc::atexit(stop_all);
        }
    });
    RUNNING.lock().unwrap().push(Server {
        child,
        stop_signal,
        _dir: dir,
    });
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Fails the test: the server is not installed.
pub fn missing(what: &str, looked: &str) -> ! {
    panic!(
        "{what} not found ({looked}).\nRun `scripts/test` once: it installs the test servers (PostgreSQL, OpenLDAP slapd, scim2-server) and runs the suite."
    )
}

/// Polls `ready` until it is true; panics with the server's log when it never is.
pub fn wait_ready(what: &str, log: &Path, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "{what} did not start within 30 s; its log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// The first of `candidates` that exists.
pub fn first_existing(candidates: impl IntoIterator<Item = PathBuf>) -> Option<PathBuf> {
    candidates.into_iter().find(|p| p.exists())
}

/// A name no other test uses: the servers are shared by every test of the process.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}{}", N.fetch_add(1, Ordering::Relaxed))
}
