//! `apply`'s whole run in-process: the core's run over the in-memory repository, GitHub and
//! ledger, and target systems kept in a map. What these prove is the run's order (verify, then
//! provision, then record), not a backend: the real systems are tried in `apply.rs` and
//! `provisioner.rs`. Each attack is checked to fail when its control is taken out.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use anyhow::{Result, anyhow};
use chrono::{DateTime, TimeZone, Utc};

use portcullis_core::apply::SECURITY_LABEL;
use portcullis_core::apply::run::{self as apply, End, Options, Ports, Report, Targets};
use portcullis_core::ledger::Ledger;
use portcullis_core::model::Catalog;
use portcullis_core::ports::github::Alarms;
use portcullis_core::provision::backend::{Effect, Provisioner};
use portcullis_core::provision::execute::Backends;
use portcullis_core::signing::Signer;
use portcullis_testkit::{MemGitHub, MemLedger, MemRepo, OrgBuilder, ask, grants};

/// Every target's members, by `app/target`, and each write in order.
#[derive(Default)]
struct Systems {
    members: RefCell<BTreeMap<String, BTreeSet<String>>>,
    writes: RefCell<Vec<String>>,
    /// The process is killed right after this many writes (the write itself went through).
    killed_after: Cell<Option<usize>>,
}

struct Target {
    app: String,
    systems: Rc<Systems>,
}

impl Target {
    fn write(&mut self, op: &str, target: &str, account: &str) -> Result<Effect> {
        let key = format!("{}/{target}", self.app);
        let mut members = self.systems.members.borrow_mut();
        let set = members
            .get_mut(&key)
            .ok_or_else(|| anyhow!("no target {key}"))?;
        let changed = if op == "add" {
            set.insert(account.to_owned())
        } else {
            set.remove(account)
        };
        drop(members);
        let mut writes = self.systems.writes.borrow_mut();
        writes.push(format!("{op} {account} {key}"));
        if self.systems.killed_after.get() == Some(writes.len()) {
            drop(writes);
            panic!("killed");
        }
        Ok(if changed {
            Effect::Changed
        } else {
            Effect::Unchanged
        })
    }
}

impl Provisioner for Target {
    fn list(&mut self, target: &str) -> Result<BTreeSet<String>> {
        let key = format!("{}/{target}", self.app);
        self.systems
            .members
            .borrow()
            .get(&key)
            .cloned()
            .ok_or_else(|| anyhow!("no target {key}"))
    }
    fn add(&mut self, target: &str, account: &str) -> Result<Effect> {
        self.write("add", target, account)
    }
    fn remove(&mut self, target: &str, account: &str) -> Result<Effect> {
        self.write("remove", target, account)
    }
}

/// The systems as the run connects them.
struct Connect(Rc<Systems>);

impl Targets for Connect {
    fn connect<'c>(&'c self, _catalog: &'c Catalog) -> Backends<'c> {
        Backends::new(move |app: &str| {
            Ok(Box::new(Target {
                app: app.to_owned(),
                systems: self.0.clone(),
            }) as Box<dyn Provisioner>)
        })
    }
}

struct World {
    repo: MemRepo,
    gh: MemGitHub,
    ledger: MemLedger,
    systems: Rc<Systems>,
    key: [u8; 32],
}

fn as_of() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

/// The run went through with nothing held back and nothing failed.
fn converged(r: &Report) {
    assert_eq!(
        r.end,
        End::Finished {
            held: false,
            failures: vec![]
        },
        "{}",
        r.out
    );
}

fn staff(person: &str) -> String {
    grants(person, "vpn", &[("staff", "")])
}

/// Tidewater with Omar on the VPN, in the systems as in the files, applied once.
fn world() -> World {
    let mut repo = MemRepo::new();
    let mut gh = MemGitHub::new();
    let first = OrgBuilder::new()
        .file("access/vpn/omar.yaml", &staff("omar"))
        .build(&mut repo, &mut gh);
    let systems = Rc::new(Systems::default());
    for target in ["vpn/vpn-users", "vpn/vpn-admins", "treasury/viewer"] {
        systems
            .members
            .borrow_mut()
            .insert(target.to_owned(), BTreeSet::new());
    }
    systems
        .members
        .borrow_mut()
        .get_mut("vpn/vpn-users")
        .unwrap()
        .insert("omar".to_owned());
    let mut w = World {
        repo,
        gh,
        ledger: MemLedger::new(),
        systems,
        key: [7; 32],
    };
    w.publish();
    let r = w.apply(Some(&first));
    converged(&r);
    w
}

impl World {
    /// GitHub's `main` is the repository's.
    fn publish(&mut self) {
        let tip = self.repo.tip("main");
        self.gh.point_branch("main", &tip);
    }

    fn apply(&self, trust_from: Option<&str>) -> Report {
        let mut laps = Vec::new();
        let opts = Options {
            branch: "main".into(),
            dry_run: false,
            allow_mass_removal: false,
            trust_from: trust_from.map(str::to_owned),
            adopt_unsigned_state: false,
            as_of: as_of(),
            signer: Some(Signer::from_seed(self.key)),
            early_bot: Some("portcullis[bot]".into()),
            run_id: "test-run".into(),
            started: "2026-11-22T12:00:00Z".into(),
        };
        let ports = Ports {
            repo: &self.repo,
            ledger: &self.ledger,
            github: &self.gh,
            targets: &Connect(self.systems.clone()),
            now: &|| "2026-11-22T12:00:01Z".to_owned(),
            lap: &mut |phase: &str| laps.push(phase.to_owned()),
        };
        apply::run(ports, opts).expect("the run ends")
    }

    /// Omar asks for `edits` in pull request `number`; Kenji (the VPN's owner) approves the
    /// head; it is merged and pushed.
    fn approved_and_merged(&mut self, number: u64, edits: &[(&str, Option<&str>)]) -> String {
        let (repo, gh) = (&mut self.repo, &mut self.gh);
        let head = ask(repo, gh, number, "omar-tw", edits, Some("omar-tw"));
        self.gh.review(number, "kenji-tw", "APPROVED", &head);
        let merge = self.repo.merge("main", &head, &format!("Merge #{number}"));
        self.gh.merge(number, &merge);
        self.publish();
        merge
    }

    /// A writer pushes a VPN grant for `person` straight to `main`, no pull request.
    fn push_straight_to_main(&mut self, person: &str) -> String {
        let edits = [(format!("access/vpn/{person}.yaml"), staff(person))];
        let edits: Vec<(&str, Option<&str>)> = edits
            .iter()
            .map(|(p, t)| (p.as_str(), Some(t.as_str())))
            .collect();
        let sha = self.repo.commit("main", &edits, "Quick fix");
        self.publish();
        sha
    }

    fn members(&self, target: &str) -> BTreeSet<String> {
        self.systems.members.borrow()[target].clone()
    }

    fn applied(&self) -> Option<String> {
        self.ledger
            .stored_state()
            .unwrap()
            .and_then(|s| s.state.applied)
            .map(String::from)
    }

    fn security_issues(&self) -> usize {
        self.gh.issues("all", &[SECURITY_LABEL]).unwrap().len()
    }
}

/// The control: an approved, merged request is provisioned, recorded and anchored.
#[test]
fn an_approved_merged_request_is_provisioned_and_recorded() {
    let mut w = world();
    let merge = w.approved_and_merged(1, &[("access/vpn/ana.yaml", Some(&staff("ana")))]);
    let r = w.apply(None);
    converged(&r);
    assert!(w.members("vpn/vpn-users").contains("ana"), "{}", r.out);
    assert_eq!(w.applied().as_deref(), Some(merge.as_str()));
    assert!(
        w.ledger.notes.borrow().contains_key(&merge),
        "the merge has its evidence record"
    );
    assert!(w.ledger.journal().unwrap().is_none(), "the run finished");
}

/// THREATS 1: a writer pushes a grant straight to `main`. Nothing is provisioned, the change
/// is quarantined and the security team is told, once.
#[test]
fn a_direct_push_is_never_provisioned() {
    let mut w = world();
    let push = w.push_straight_to_main("ana");
    let r = w.apply(None);
    assert!(!w.members("vpn/vpn-users").contains("ana"), "{}", r.out);
    assert!(
        matches!(r.end, End::Finished { held: true, .. }),
        "{:?}",
        r.end
    );
    assert!(r.out.contains("quarantined"), "{}", r.out);
    assert_eq!(w.security_issues(), 1);
    // The next run holds it back still, and says so once.
    let again = w.apply(None);
    assert!(!w.members("vpn/vpn-users").contains("ana"), "{}", again.out);
    assert_eq!(w.security_issues(), 1);
    assert_eq!(w.applied().as_deref(), Some(push.as_str()));
}

/// THREATS 7: `main` rewritten so it no longer descends from what was applied: nothing is
/// applied from it, nothing is written anywhere.
#[test]
fn a_rewritten_branch_is_refused_and_nothing_is_written() {
    let mut w = world();
    let writes = w.systems.writes.borrow().len();
    let state = w.applied();
    w.repo.commit(
        "rewritten",
        &[("access/vpn/ana.yaml", Some(&staff("ana")))],
        "A new history",
    );
    let tip = w.repo.tip("rewritten");
    w.repo.set_branch("main", &tip);
    w.publish();
    let r = w.apply(None);
    match &r.end {
        End::Refused(why) => assert!(why.contains("does not descend"), "{why}"),
        other => panic!("not refused: {other:?}\n{}", r.out),
    }
    assert_eq!(w.systems.writes.borrow().len(), writes);
    assert_eq!(w.applied(), state);
}

/// A run killed right after its first write leaves its journal; the next run records it,
/// finishes the rest and repeats no write.
#[test]
fn a_run_killed_after_a_write_resumes_without_repeating_it() {
    let mut w = world();
    let merge = w.approved_and_merged(
        1,
        &[
            ("access/vpn/ana.yaml", Some(&staff("ana"))),
            ("access/vpn/dana.yaml", Some(&staff("dana"))),
        ],
    );
    let before = w.systems.writes.borrow().len();
    w.systems.killed_after.set(Some(before + 1));
    let killed = catch_unwind(AssertUnwindSafe(|| w.apply(None)));
    assert!(killed.is_err(), "the run was killed");
    assert!(w.ledger.journal().unwrap().is_some(), "the journal is left");
    assert_ne!(w.applied().as_deref(), Some(merge.as_str()));
    w.systems.killed_after.set(None);
    let r = w.apply(None);
    assert!(r.out.contains("resumed:"), "{}", r.out);
    // The killed run's write is in the evidence, as the journal left it: in doubt.
    let notes: String = w.ledger.notes.borrow().values().cloned().collect();
    assert!(notes.contains("in doubt"), "{notes}");
    let writes = w.systems.writes.borrow()[before..].to_vec();
    assert_eq!(
        writes,
        ["add ana vpn/vpn-users", "add dana vpn/vpn-users"],
        "each write once"
    );
    assert_eq!(w.applied().as_deref(), Some(merge.as_str()));
    assert!(w.ledger.journal().unwrap().is_none());
}

/// THREATS 2: a pull request merged without the owner's approval (a writer who may merge
/// does) is held back, not provisioned; the security team hears of it.
#[test]
fn a_request_merged_without_its_approval_is_held_back() {
    let mut w = world();
    let ana = staff("ana");
    let edits = [("access/vpn/ana.yaml", Some(ana.as_str()))];
    let head = ask(
        &mut w.repo,
        &mut w.gh,
        1,
        "omar-tw",
        &edits,
        Some("omar-tw"),
    );
    // Ana, who is no owner of the VPN, approves; the merge goes through anyway.
    w.gh.review(1, "ana-tw", "APPROVED", &head);
    let merge = w.repo.merge("main", &head, "Merge #1");
    w.gh.merge(1, &merge);
    w.publish();
    let r = w.apply(None);
    assert!(!w.members("vpn/vpn-users").contains("ana"), "{}", r.out);
    assert!(
        matches!(r.end, End::Finished { held: true, .. }),
        "{:?}",
        r.end
    );
    assert_eq!(w.security_issues(), 1, "{}", r.out);
}

/// SPEC section 7: a writer puts back an earlier signed state, from before a direct push was
/// quarantined. A rolled-back state only makes the run verify more: the push is verified again
/// and held back again, and nothing is written.
#[test]
fn an_earlier_signed_state_put_back_only_makes_the_run_verify_more() {
    let mut w = world();
    let earlier = w.ledger.state.borrow().clone().expect("a state");
    let push = w.push_straight_to_main("dana");
    let r = w.apply(None);
    assert!(!w.members("vpn/vpn-users").contains("dana"), "{}", r.out);
    *w.ledger.state.borrow_mut() = Some(earlier);
    let writes = w.systems.writes.borrow().len();
    let r = w.apply(None);
    assert!(r.out.contains("1 new commit"), "verified again: {}", r.out);
    assert!(!w.members("vpn/vpn-users").contains("dana"), "{}", r.out);
    assert!(
        matches!(r.end, End::Finished { held: true, .. }),
        "{:?}",
        r.end
    );
    assert_eq!(w.systems.writes.borrow().len(), writes);
    assert_eq!(w.applied().as_deref(), Some(push.as_str()));
}

/// THREATS 10: a state signed with another key (a writer's own) is not the apply
/// environment's: the run stops before it reads anything from it, and the security team is
/// told once however often it runs.
#[test]
fn a_state_signed_with_another_key_stops_the_run() {
    let mut w = world();
    let mut forged = w.ledger.state.borrow().clone().expect("a state").state;
    forged.quarantine = Default::default();
    w.ledger
        .put_state(&forged, Some(&Signer::from_seed([9; 32])));
    w.push_straight_to_main("ana");
    for _ in 0..2 {
        let r = w.apply(None);
        assert!(matches!(r.end, End::Refused(_)), "{:?}\n{}", r.end, r.out);
    }
    assert!(!w.members("vpn/vpn-users").contains("ana"));
    assert_eq!(w.security_issues(), 1);
}

/// `reconcile --fix` in-process: drift both ways is repaired through apply's journal, its
/// record is signed, and the next apply trusts the chain it extended (an unsigned repair record
/// used to stop every later run with a false alarm).
#[test]
fn a_repair_is_signed_and_the_next_apply_trusts_it() {
    use portcullis_core::apply::reconcile::{self, Options as Compare};
    let w = world();
    {
        let mut members = w.systems.members.borrow_mut();
        let vpn = members.get_mut("vpn/vpn-users").unwrap();
        vpn.remove("omar");
        vpn.insert("intruder".to_owned());
    }
    let state = w.ledger.stored_state().unwrap().unwrap().state;
    let applied = state.applied.clone().unwrap();
    let loaded = apply::load(&w.repo, &applied).unwrap().unwrap();
    let targets = Connect(w.systems.clone());
    let opts = Compare {
        app: None,
        allow_mass_removal: false,
        as_of: as_of(),
    };
    let survey = reconcile::survey(&targets, &loaded, applied, &state.quarantine, &opts);
    assert_eq!(survey.drifted(), 2, "{}", survey.report().text());
    let run = portcullis_core::evidence::Run {
        id: "repair".into(),
        started_at: "2026-11-22T12:00:00Z".into(),
        finished_at: None,
    };
    let key = Some(Signer::from_seed(w.key));
    let done = reconcile::repair(survey, &w.ledger, key, run, &|| {
        "2026-11-22T12:00:02Z".into()
    })
    .unwrap()
    .expect("the chain verifies");
    assert!(done.failures.is_empty(), "{:?}", done.failures);
    assert_eq!(
        w.members("vpn/vpn-users"),
        BTreeSet::from(["omar".to_owned()])
    );
    let r = w.apply(None);
    converged(&r);
}
