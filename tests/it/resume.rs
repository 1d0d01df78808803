//! One harness for issue 18's promise, used by `apply` and by every lifecycle command: a run
//! that fails or is killed at any one of its GitHub calls leaves a state the next run
//! completes, doing nothing twice, and says truthfully that it did not finish.
//!
//! The run is first made without a failure, to learn its calls. Then, on a fresh world for
//! each call and each way it can go wrong, that call is made to fail: refused (nothing done),
//! done with its answer lost (a 502 after the write), or held open while the process is
//! killed (before GitHub did it, and after). The next run must end well, and leave what one
//! clean run leaves; so must the run after it.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::fake_github::{FakeGitHub, Injected};

/// How a command is run on a world, and what must hold once it has run well.
pub struct Subject<'a, W> {
    pub setup: &'a dyn Fn() -> W,
    pub gh: &'a dyn Fn(&W) -> &FakeGitHub,
    /// The command, ready to run (environment set); run once per call to it.
    pub command: &'a dyn Fn(&W) -> Command,
    /// Exit codes of a run that did everything (apply exits 1 when it raised an alarm).
    pub done: &'a [i32],
    /// Asserts the end state, naming the case in every message.
    pub settled: &'a dyn Fn(&W, &str),
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs the whole matrix; returns how many cases were tried.
pub fn at_every_call<W>(s: &Subject<'_, W>) -> usize {
    let baseline = (s.setup)();
    let gh = (s.gh)(&baseline);
    let before = gh.requests().len();
    let out = (s.command)(&baseline).output().unwrap();
    assert!(
        s.done.contains(&out.status.code().unwrap_or(-1)),
        "without a failure: {}",
        text(&out)
    );
    let calls: Vec<(String, String)> = gh.requests()[before..]
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    (s.settled)(&baseline, "without a failure");
    assert!(!calls.is_empty(), "the command makes no GitHub call");

    let mut tried = 0;
    for (n, (method, path)) in calls.iter().enumerate() {
        let mut cases = vec![
            (Injected::Hang { perform: false }, 0),
            (Injected::Fail, 502),
        ];
        if method != "GET" && path != "/graphql" {
            cases.push((Injected::Hang { perform: true }, 0));
            cases.push((Injected::FailAfter, 502));
            cases.push((Injected::Fail, 403));
        }
        for (kind, status) in cases {
            tried += 1;
            let world = (s.setup)();
            let gh = (s.gh)(&world);
            let case = format!(
                "call {} ({method} {path}) {}",
                n + 1,
                match kind {
                    Injected::Hang { perform: true } => "killed after GitHub did it".to_owned(),
                    Injected::Hang { perform: false } => "killed before GitHub did it".to_owned(),
                    Injected::FailAfter => format!("done, answered {status}"),
                    _ => format!("refused with {status}"),
                }
            );
            // Paths hold commit ids, which differ from world to world: the run makes the same
            // calls in the same order, so the call is found by its place.
            let before = gh.requests().len();
            gh.inject_nth("*", "", n as u32 + 1, kind, status);
            if let Injected::Hang { .. } = kind {
                let mut child = (s.command)(&world)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                let started = Instant::now();
                while gh.requests().len() <= before + n {
                    if let Some(status) = child.try_wait().unwrap() {
                        panic!("{case}: the run ended ({status}) before the call");
                    }
                    assert!(
                        started.elapsed() < Duration::from_secs(60),
                        "{case}: no call"
                    );
                    std::thread::sleep(Duration::from_millis(5));
                }
                child.kill().unwrap();
                child.wait().unwrap();
            } else {
                // No retry budget: the one failure is the run's.
                let out = (s.command)(&world)
                    .env("PORTCULLIS_GITHUB_MAX_WAIT", "0")
                    .output()
                    .unwrap();
                let said = text(&out);
                assert!(
                    out.status.code() != Some(0) || said.contains("warning"),
                    "{case}: the run claims it did everything\n{said}"
                );
            }
            for again in ["the next run", "the run after it"] {
                let out = (s.command)(&world).output().unwrap();
                assert!(
                    s.done.contains(&out.status.code().unwrap_or(-1)),
                    "{case}, {again}: {}",
                    text(&out)
                );
                (s.settled)(&world, &format!("{case}, {again}"));
            }
        }
    }
    tried
}
