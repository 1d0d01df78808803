//! What `apply` and `reconcile --fix` share: the catalog of the revision being provisioned, the
//! backends, the evidence chain, a killed run's journal, running operations with the journal,
//! and issues found again by a hidden marker.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::Utc;
use git2::Repository;

use portcullis_core::diag::Rule;
use portcullis_core::evidence::{self, Draft, Kind, Note};
use portcullis_core::model::Catalog;
use portcullis_core::provision::execute::{self, Backends, Done};
use portcullis_core::provision::journal::{self, Line};
use portcullis_core::provision::ops::Op;
use portcullis_git::ledger;
use portcullis_github::Client;
use portcullis_provisioners::{self as provisioner, Provisioner};

/// Evidence times are when things happened: the wall clock, not `--as-of` (which only judges
/// expiry).
pub fn now() -> String {
    portcullis_core::audit::stamp(Utc::now())
}

/// A refusal: printed, and the command exits 1.
pub struct Refusal(pub String);

/// The policies and grants of a commit, as `apply` provisions them.
pub struct Loaded {
    pub catalog: Catalog,
    /// Per app, grant files present that failed to load.
    pub unreadable: BTreeMap<String, Vec<String>>,
}

/// Loads a commit with the same strict loader as `check`. Broken policies refuse the run: an
/// unreadable people directory or app policy would make every grant look revoked.
pub fn load_at(repo: &Repository, sha: &str) -> Result<Result<Loaded, Refusal>> {
    let snapshot = portcullis_git::history::snapshot_at(repo, sha)?;
    let (catalog, diags) = portcullis_core::load::load(&snapshot);
    let fatal: Vec<String> = diags
        .iter()
        .filter(|d| d.file.starts_with("policies/"))
        .filter(|d| {
            matches!(
                d.rule,
                Rule::YamlSyntax
                    | Rule::FileTooLarge
                    | Rule::Schema
                    | Rule::Symlink
                    | Rule::PathMismatch
            )
        })
        .map(|d| format!("{}:{}: {} ({})", d.file, d.pos.line, d.message, d.rule.id()))
        .collect();
    if catalog.settings.is_none() || !fatal.is_empty() {
        let mut msg = format!(
            "the policies at {} do not load, so nothing can be provisioned from them",
            portcullis_core::model::short_id(sha, 10)
        );
        for f in fatal.iter().take(10) {
            let _ = write!(msg, "\n  {f}");
        }
        msg.push_str(
            "\nhint: fix them through a pull request (`portcullis check` shows every finding)",
        );
        return Ok(Err(Refusal(msg)));
    }
    let loaded: BTreeSet<&str> = catalog
        .grant_files
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    let mut unreadable: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for path in snapshot.files.keys() {
        let mut parts = path.split('/');
        if let (Some("access"), Some(app), Some(_)) = (parts.next(), parts.next(), parts.next())
            && !loaded.contains(path.as_str())
        {
            unreadable
                .entry(app.to_owned())
                .or_default()
                .push(path.clone());
        }
    }
    Ok(Ok(Loaded {
        catalog,
        unreadable,
    }))
}

/// Backends connected from the catalog's app policies, secrets from the environment. With
/// `PORTCULLIS_TIMINGS` set, each app's time in its system is printed when the backends are
/// dropped.
pub fn backends<'a>(catalog: &'a Catalog, root: &'a Path) -> Backends<'a> {
    let timed = std::env::var_os("PORTCULLIS_TIMINGS").is_some();
    Backends::new(move |app: &str| {
        let policy = catalog
            .apps
            .get(app)
            .with_context(|| format!("no policy for app `{app}`"))?;
        let started = Instant::now();
        let backend =
            portcullis_provisioners::connect_in(policy, catalog.settings.as_ref(), root, &|k| {
                std::env::var(k).ok()
            })?;
        Ok(if timed {
            Box::new(Timed {
                app: app.to_owned(),
                connect: started.elapsed(),
                calls: [(0, Duration::ZERO); 3],
                inner: backend,
            })
        } else {
            backend
        })
    })
}

/// A backend that adds up the time spent in each kind of call, for `PORTCULLIS_TIMINGS`.
struct Timed {
    app: String,
    connect: Duration,
    /// (calls, time) of list, add and remove.
    calls: [(u32, Duration); 3],
    inner: Box<dyn Provisioner>,
}

impl Timed {
    fn time<T>(&mut self, kind: usize, f: impl FnOnce(&mut dyn Provisioner) -> T) -> T {
        let started = Instant::now();
        let out = f(self.inner.as_mut());
        self.calls[kind].0 += 1;
        self.calls[kind].1 += started.elapsed();
        out
    }
}

impl Provisioner for Timed {
    fn list(&mut self, target: &str) -> Result<BTreeSet<String>> {
        self.time(0, |b| b.list(target))
    }
    fn add(&mut self, target: &str, account: &str) -> Result<provisioner::Outcome> {
        self.time(1, |b| b.add(target, account))
    }
    fn remove(&mut self, target: &str, account: &str) -> Result<provisioner::Outcome> {
        self.time(2, |b| b.remove(target, account))
    }
}

impl Drop for Timed {
    fn drop(&mut self) {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let [list, add, remove] = self.calls;
        eprintln!(
            "timing: app {}: connect {:.1} ms, {} list {:.1} ms, {} add {:.1} ms, {} remove {:.1} ms",
            self.app,
            ms(self.connect),
            list.0,
            ms(list.1),
            add.0,
            ms(add.1),
            remove.0,
            ms(remove.1)
        );
    }
}

/// Per app: the accounts the policy says to leave alone.
pub type Unmanaged = BTreeMap<String, BTreeSet<String>>;
/// Per app: account -> person id.
pub type Accounts = BTreeMap<String, HashMap<String, String>>;

/// Per app, the accounts the policy says to leave alone, and who each account belongs to.
pub fn app_indexes(catalog: &Catalog) -> (Unmanaged, Accounts) {
    let unmanaged = catalog
        .apps
        .iter()
        .map(|(id, a)| (id.clone(), a.unmanaged.iter().cloned().collect()))
        .collect();
    let people = catalog
        .apps
        .iter()
        .map(|(id, a)| {
            (
                id.clone(),
                portcullis_core::provision::desired::account_index(catalog, a),
            )
        })
        .collect();
    (unmanaged, people)
}

/// The evidence chain: verified before anything is added to it.
pub struct Chain {
    tip: Option<Note>,
    runs: BTreeSet<String>,
    records: Vec<evidence::Located>,
    /// Every record added is signed with it (a dry run has none and adds nothing).
    pub signer: Option<portcullis_core::signing::Signer>,
}

impl Chain {
    pub fn open(repo: &Repository) -> Result<Result<Chain, Refusal>> {
        let stored = portcullis_git::history::read_notes(repo)?;
        let breaks = evidence::chain_verify(&stored);
        if !breaks.is_empty() {
            let mut msg = format!(
                "the evidence notes under `{}` do not verify, so nothing more is added to them:",
                evidence::NOTES_REF
            );
            for b in breaks.iter().take(10) {
                let _ = write!(msg, "\n  {}: {}", b.kind.as_str(), b.message);
            }
            msg.push_str("\nhint: restore the notes ref from the remote (`git fetch origin +refs/notes/portcullis:refs/notes/portcullis`) and tell the security team");
            return Ok(Err(Refusal(msg)));
        }
        let (records, _) = evidence::read_all(&stored);
        Ok(Ok(Chain {
            tip: evidence::tip(&records).cloned(),
            runs: records.iter().map(|r| r.note.run.id.clone()).collect(),
            records,
            signer: None,
        }))
    }

    pub fn tip(&self) -> Option<&Note> {
        self.tip.as_ref()
    }

    /// What the signed state says of the chain, checked (see
    /// [`evidence::verify_against_anchor`]).
    pub fn verify_trust(
        &self,
        verifier: &portcullis_core::signing::Verifier,
        state: &ledger::State,
    ) -> Vec<evidence::ChainBreak> {
        evidence::verify_against_anchor(
            &self.records,
            verifier,
            state.signed_from.unwrap_or(1),
            state.evidence.as_ref().map(|t| (t.seq, t.hash.as_str())),
        )
    }

    pub fn has_run(&self, id: &str) -> bool {
        self.runs.contains(id)
    }

    /// Seals the drafts in order onto the chain and writes them as notes.
    pub fn append(&mut self, repo: &Repository, drafts: Vec<Draft>) -> Result<Vec<Note>> {
        let mut sealed = Vec::with_capacity(drafts.len());
        for d in drafts {
            let note = evidence::seal_signed(d, self.tip.as_ref(), self.signer.as_ref());
            self.runs.insert(note.run.id.clone());
            self.tip = Some(note.clone());
            sealed.push(note);
        }
        ledger::append_notes(repo, &sealed)?;
        Ok(sealed)
    }
}

/// Records a killed run's journal as evidence (once: a run already on the chain is not
/// recorded again) and returns the removals it left in doubt.
pub fn recover(
    repo: &Repository,
    chain: &mut Chain,
    record: bool,
) -> Result<(Vec<Op>, Option<String>)> {
    let Some(crashed) = ledger::read_journal(repo)?.and_then(|t| journal::read(&t)) else {
        return Ok((Vec::new(), None));
    };
    let note = format!(
        "run {} (started {}) ended before it finished; its journal is recorded and its unfinished removals are done again",
        crashed.run.id, crashed.run.started_at
    );
    if record && !chain.has_run(&crashed.run.id) {
        let drafts = crashed
            .actions
            .iter()
            .map(|(commit, actions)| Draft {
                kind: if commit.is_some() {
                    Kind::Apply
                } else {
                    Kind::Run
                },
                commit: commit.clone().unwrap_or_else(|| crashed.head.clone()),
                pr: None,
                pr_head: None,
                approvals: Vec::new(),
                override_: None,
                bypass: None,
                run: crashed.run.clone(),
                actions: actions.clone(),
            })
            .collect();
        chain.append(repo, drafts)?;
    }
    Ok((crashed.in_doubt, Some(note)))
}

/// A run's identity: the workflow run when in GitHub Actions, else this process.
pub fn run_id(started: &str) -> String {
    match (
        std::env::var("GITHUB_RUN_ID")
            .ok()
            .filter(|s| !s.is_empty()),
        std::env::var("GITHUB_RUN_ATTEMPT").ok(),
    ) {
        (Some(id), attempt) => format!("gha-{id}-{}", attempt.unwrap_or_else(|| "1".into())),
        (None, _) => format!("local-{started}-{}", std::process::id()),
    }
}

/// Runs the operations with the journal on disk: the run line, then an intent before and a
/// result after every write. Each intent is flushed to disk before its write, and with it every
/// line before it; a result waits for the next intent (one flush per write, not two) or the
/// end. A machine that crashes in between loses at most the last result, which then reads as
/// in doubt: a removal is done again and an addition is found by the next listing.
pub fn execute_journaled(
    repo: &Repository,
    run: &evidence::Run,
    head: &str,
    ops: &[(Op, Option<String>)],
    backends: &mut Backends<'_>,
) -> Result<Vec<Done>> {
    let mut journal = ledger::Journal::create(repo)?;
    journal.append(
        &Line::Run {
            run: run.clone(),
            head: head.to_owned(),
        }
        .to_json(),
        false,
    )?;
    let done = execute::execute(
        ops,
        backends,
        &mut |line| journal.append(&line.to_json(), matches!(line, Line::Intent { .. })),
        &now,
        1,
    )?;
    journal.sync()?;
    Ok(done)
}

/// `bot_login` from the settings in the work tree at `root`, when they name one.
pub fn bot_login_at(root: &std::path::Path) -> Option<String> {
    let mut snapshot = portcullis_core::snapshot::Snapshot::default();
    let bytes = std::fs::read(root.join(portcullis_core::model::SETTINGS_FILE)).ok()?;
    snapshot.insert_bytes(portcullis_core::model::SETTINGS_FILE, &bytes);
    portcullis_core::load::load(&snapshot).0.settings?.bot_login
}

/// Opens every issue owed that is not open yet (found by its marker), and returns those that
/// could not be opened: the caller records them in the state for the next run.
pub fn fulfil(
    client: &Client,
    me: Option<&str>,
    owed: Vec<ledger::Obligation>,
    out: &mut String,
    failures: &mut Vec<String>,
) -> Vec<ledger::Obligation> {
    let mut by_label: std::collections::BTreeMap<String, Issues> = Default::default();
    let mut open = Vec::new();
    let mut seen = BTreeSet::new();
    for o in owed {
        if !seen.insert(o.marker.clone()) {
            continue;
        }
        let issues = by_label
            .entry(o.label.clone())
            .or_insert_with(|| Issues::new(client, &o.label, me.map(str::to_owned)));
        match issues.once(&o.marker, &o.title, &o.body) {
            Ok(Some(n)) => {
                let _ = writeln!(out, "opened: issue #{n} {}", o.title);
            }
            Ok(None) => {}
            Err(e) => {
                failures.push(format!("cannot open the issue \"{}\": {e:#}", o.title));
                open.push(o);
            }
        }
    }
    open
}

/// Issues portcullis opened, found again by their hidden marker.
pub struct Issues<'c> {
    client: &'c Client,
    label: String,
    /// portcullis's own login (`bot_login`); `/user` is asked only without it, and an App's
    /// installation token cannot ask it.
    me: Option<String>,
    known: Option<Vec<String>>,
}

impl<'c> Issues<'c> {
    pub fn new(client: &'c Client, label: &str, me: Option<String>) -> Issues<'c> {
        Issues {
            client,
            label: label.to_owned(),
            me,
            known: None,
        }
    }

    /// Opens the issue unless one of ours already carries `marker`; returns its number when
    /// one was opened.
    pub fn once(&mut self, marker: &str, title: &str, body: &str) -> Result<Option<u64>> {
        if self.known.is_none() {
            let me = match &self.me {
                Some(me) => me.clone(),
                None => self.client.me()?.login,
            };
            self.known = Some(
                self.client
                    .issues("all", &[self.label.as_str()])?
                    .into_iter()
                    .filter(|i| i.user.login.eq_ignore_ascii_case(&me))
                    .filter_map(|i| i.body)
                    .collect(),
            );
        }
        let known = self.known.as_mut().expect("read above");
        if known.iter().any(|b| b.contains(marker)) {
            return Ok(None);
        }
        let body = format!("{marker}\n{body}");
        let issue = self
            .client
            .create_issue(title, &body, &[self.label.as_str()], &[])?;
        known.push(body);
        Ok(Some(issue.number))
    }
}
