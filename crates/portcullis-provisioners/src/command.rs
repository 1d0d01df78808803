//! `command`: runs the app's own executable once per operation, without a shell, with one JSON
//! object on standard input and one JSON object expected on standard output:
//!
//! | stdin | stdout |
//! |---|---|
//! | `{"op":"list","target":"vpn-users"}` | `{"members":["alice","bob"]}` |
//! | `{"op":"add","target":"vpn-users","account":"alice"}` | `{"outcome":"changed"}` (or `unchanged`, or `pending` with a `"detail"`) |
//! | `{"op":"remove",...}` | as for `add` |
//!
//! A non-zero exit is a failure, reported with the command's stderr. The command runs in the
//! repository root with only the environment variables the policy lists in `env`, in its own
//! process group; past `timeout_seconds` the whole group is killed.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

use super::{Effect, Provisioner, check_name};

/// A listing of a large directory fits; a runaway command does not fill memory.
const MAX_STDOUT: u64 = 64 << 20;
const MAX_STDERR: u64 = 64 << 10;

pub struct Command {
    program: PathBuf,
    root: PathBuf,
    timeout: Duration,
    env: Vec<(String, String)>,
}

impl Command {
    /// `command` is absolute or relative to `root`; it must exist now.
    pub fn new(
        root: &Path,
        command: &str,
        timeout: Duration,
        env: Vec<(String, String)>,
    ) -> Result<Command> {
        let program = root.join(command);
        if !program.is_file() {
            bail!(
                "command `{command}` not found (looked at {})",
                program.display()
            );
        }
        Ok(Command {
            program,
            root: root.to_owned(),
            timeout,
            env,
        })
    }

    fn run(&self, request: &Value) -> Result<Value> {
        let what = || format!("command `{}` ({request})", self.program.display());
        let mut child = std::process::Command::new(&self.program)
            .current_dir(&self.root)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {}", what()))?;
        let deadline = Instant::now() + self.timeout;

        let (tx, rx) = mpsc::channel();
        let input = format!("{request}\n");
        let mut stdin = child.stdin.take().context("no stdin")?;
        // A command that never reads its input must not block us: write from a thread.
        std::thread::spawn(move || {
            let _ = stdin.write_all(input.as_bytes());
        });
        for (is_out, stream, limit) in [
            (
                true,
                child
                    .stdout
                    .take()
                    .map(|s| Box::new(s) as Box<dyn Read + Send>),
                MAX_STDOUT,
            ),
            (
                false,
                child
                    .stderr
                    .take()
                    .map(|s| Box::new(s) as Box<dyn Read + Send>),
                MAX_STDERR,
            ),
        ] {
            let tx = tx.clone();
            let stream = stream.context("no output pipe")?;
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let read = stream.take(limit).read_to_end(&mut buf);
                let _ = tx.send((is_out, read.map(|_| buf)));
            });
        }
        drop(tx);

        let mut stdout = None;
        let mut stderr = None;
        while stdout.is_none() || stderr.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok((true, out)) => stdout = Some(out.context("cannot read stdout")?),
                Ok((false, err)) => stderr = Some(err.unwrap_or_default()),
                Err(_) => return Err(self.kill(&mut child, &what())),
            }
        }
        // Both pipes closed; the command itself may still be running.
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if Instant::now() >= deadline {
                return Err(self.kill(&mut child, &what()));
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let stderr = String::from_utf8_lossy(stderr.as_deref().unwrap_or_default());
        if !status.success() {
            bail!("{} failed ({status}): {}", what(), stderr.trim());
        }
        let stdout = stdout.unwrap_or_default();
        serde_json::from_slice(&stdout).with_context(|| {
            format!(
                "{} printed no JSON object: {:?}",
                what(),
                String::from_utf8_lossy(&stdout[..stdout.len().min(200)])
            )
        })
    }

    /// Kills the command's whole process group, so children it started go too.
    fn kill(&self, child: &mut Child, what: &str) -> anyhow::Error {
        let pid = child.id() as libc::pid_t;
        // SAFETY: signals the process group we created for this child; no memory is involved.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = child.wait();
        anyhow!(
            "{what} did not finish within {} s and was killed",
            self.timeout.as_secs_f64()
        )
    }

    fn write(&mut self, op: &str, target: &str, account: &str) -> Result<Effect> {
        check_name("target", target)?;
        check_name("account", account)?;
        let reply = self.run(&json!({"op": op, "target": target, "account": account}))?;
        let detail = reply.get("detail").and_then(Value::as_str).unwrap_or("");
        match reply.get("outcome").and_then(Value::as_str) {
            Some("changed") => Ok(Effect::Changed),
            Some("unchanged") => Ok(Effect::Unchanged),
            Some("pending") => Ok(Effect::Pending(detail.to_owned())),
            _ => bail!(
                "command `{}` answered `{op}` with {}; expected {{\"outcome\": \"changed\" | \"unchanged\" | \"pending\"}}",
                self.program.display(),
                short(&reply)
            ),
        }
    }
}

/// A reply as it appears in a message: a whole directory listing would bury the error.
fn short(reply: &Value) -> String {
    let text = reply.to_string();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

impl Provisioner for Command {
    fn list(&mut self, target: &str) -> Result<BTreeSet<String>> {
        check_name("target", target)?;
        let reply = self.run(&json!({"op": "list", "target": target}))?;
        let members = reply
            .get("members")
            .and_then(Value::as_array)
            .and_then(|m| {
                m.iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect::<Option<BTreeSet<_>>>()
            });
        members.with_context(|| {
            format!(
                "command `{}` answered `list` with {}; expected {{\"members\": [\"account\", ...]}}",
                self.program.display(),
                short(&reply)
            )
        })
    }

    fn add(&mut self, target: &str, account: &str) -> Result<Effect> {
        self.write("add", target, account)
    }

    fn remove(&mut self, target: &str, account: &str) -> Result<Effect> {
        self.write("remove", target, account)
    }
}
