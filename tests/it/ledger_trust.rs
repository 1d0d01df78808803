//! apply's first decisions, in-process over the in-memory ledger: what it trusts of the state
//! and the evidence a writer with push access can rewrite, and what it does with a killed
//! run's journal. Each attack is performed on the stored records as such a writer could, and
//! each has its control (the same records, untouched, are trusted).

use portcullis_core::evidence::{Draft, Kind, Run};
use portcullis_core::ledger::{self, Chain, Ledger, State, Tip, Trusted, Untrusted};
use portcullis_core::provision::journal::Line;
use portcullis_core::signing::Signer;
use portcullis_testkit::MemLedger;

const HEAD: &str = "1111111111111111111111111111111111111111";

fn apply_key() -> Signer {
    Signer::from_seed([7; 32])
}

fn someone_elses_key() -> Signer {
    Signer::from_seed([9; 32])
}

fn run(id: &str) -> Run {
    Run {
        finished_at: Some("2026-12-01T10:00:00Z".into()),
        id: id.into(),
        started_at: "2026-12-01T09:59:00Z".into(),
    }
}

fn draft(id: &str) -> Draft {
    Draft {
        kind: Kind::Run,
        commit: HEAD.into(),
        pr: None,
        pr_head: None,
        approvals: Vec::new(),
        override_: None,
        bypass: None,
        run: run(id),
        actions: Vec::new(),
    }
}

/// Two runs recorded and signed by the apply environment, and the signed state naming the
/// chain's tip: what a healthy repository holds.
fn healthy() -> MemLedger {
    let l = MemLedger::new();
    let mut chain = Chain::open(&l).unwrap().unwrap();
    chain.signer = Some(apply_key());
    chain
        .append(&l, vec![draft("run-1"), draft("run-2")])
        .unwrap();
    let tip = chain.tip().unwrap();
    let state = State {
        applied: Some(HEAD.into()),
        evidence: Some(Tip {
            seq: tip.seq,
            hash: tip.hash.clone(),
        }),
        signed_from: Some(1),
        ..State::default()
    };
    l.write_state(&state, Some(&apply_key()), "apply").unwrap();
    l
}

fn judge(l: &MemLedger, adopt: bool) -> Result<Trusted, Untrusted> {
    let chain = Chain::open(l).unwrap().expect("the chain verifies");
    let mut out = String::new();
    let key = apply_key().verifier();
    ledger::trust(
        l.stored_state().unwrap(),
        &chain,
        Some(&key),
        adopt,
        "notes-1",
        &mut out,
    )
}

fn refused(result: Result<Trusted, Untrusted>, words: &str) -> Untrusted {
    match result {
        Ok(t) => panic!("trusted, applied {:?}", t.state.applied),
        Err(u) => {
            assert!(u.refusal.contains(words), "{}", u.refusal);
            u
        }
    }
}

#[test]
fn the_records_apply_wrote_are_trusted() {
    let t = judge(&healthy(), false).unwrap();
    assert_eq!(t.state.applied.as_deref(), Some(HEAD));
    assert_eq!(t.tip_at_open, 2);
    assert!(!t.adopted);
}

/// A writer moves `applied` forward past unreviewed commits and signs with their own key.
#[test]
fn a_state_signed_by_another_key_is_refused_as_forged() {
    let l = healthy();
    let mut state = l.stored_state().unwrap().unwrap().state;
    state.applied = Some("2222222222222222222222222222222222222222".into());
    l.write_state(&state, Some(&someone_elses_key()), "forged")
        .unwrap();
    let u = refused(
        judge(&l, false),
        "carries a signature the apply environment's key did not make",
    );
    assert!(u.marker.contains("state forged"), "{}", u.marker);
}

/// The signed bytes are kept; the writer edits the state and keeps the old signature.
#[test]
fn a_state_edited_under_its_old_signature_is_refused() {
    let l = healthy();
    let mut stored = l.stored_state().unwrap().unwrap();
    stored.bytes = String::from_utf8(stored.bytes)
        .unwrap()
        .replace(HEAD, "2222222222222222222222222222222222222222")
        .into_bytes();
    *l.state.borrow_mut() = Some(stored);
    refused(judge(&l, false), "did not make");
}

#[test]
fn an_unsigned_state_is_refused_unless_adopted_by_hand() {
    let l = healthy();
    let state = l.stored_state().unwrap().unwrap().state;
    l.write_state(&state, None, "unsigned").unwrap();
    refused(judge(&l, false), "carries no signature");
    // The one-time migration adopts it, and everything after the chain's tip must be signed.
    let t = judge(&l, true).unwrap();
    assert!(t.adopted);
    assert_eq!(t.state.signed_from, Some(3));
    assert_eq!(t.state.evidence.as_ref().map(|e| e.seq), Some(2));
}

/// The last record (what run-2 did) is deleted: the chain still verifies on its own, but it
/// ends before the tip the signed state names.
#[test]
fn a_truncated_chain_is_refused() {
    let l = healthy();
    let last = l.notes.borrow().get(HEAD).unwrap().clone();
    let first_line = last.lines().next().unwrap().to_owned() + "\n";
    l.notes.borrow_mut().insert(HEAD.into(), first_line);
    assert!(
        Chain::open(&l).unwrap().is_ok(),
        "one record verifies alone"
    );
    let u = refused(judge(&l, false), "are not what the applier signed");
    assert!(u.marker.contains("evidence untrusted"), "{}", u.marker);
}

/// Without the key, a writer re-seals the chain from scratch (valid hashes and links) with
/// different content, and moves the state's tip to match, signing with their own key.
#[test]
fn a_chain_resealed_without_the_key_is_refused() {
    let l = healthy();
    let forged = MemLedger::new();
    let mut chain = Chain::open(&forged).unwrap().unwrap();
    chain.signer = Some(someone_elses_key());
    chain
        .append(&forged, vec![draft("run-1"), draft("run-X")])
        .unwrap();
    *l.notes.borrow_mut() = forged.notes.borrow().clone();
    // The state is still the apply environment's: its tip names the real record 2.
    refused(judge(&l, false), "are not what the applier signed");
}

/// A writer edits a record's text in place: the chain no longer verifies and nothing more is
/// added to it.
#[test]
fn an_edited_record_stops_the_chain() {
    let l = healthy();
    let text = l
        .notes
        .borrow()
        .get(HEAD)
        .unwrap()
        .replace("run-2", "run-3");
    l.notes.borrow_mut().insert(HEAD.into(), text);
    let refusal = Chain::open(&l).unwrap().err().expect("refused");
    assert!(refusal.contains("do not verify"), "{refusal}");
}

/// A run killed between a removal's intent and its answer: the next run records what it did
/// once, and does the removal again.
#[test]
fn a_killed_runs_journal_is_recorded_once_and_its_removal_done_again() {
    let l = healthy();
    let journal = [
        Line::Run {
            run: Run {
                finished_at: None,
                ..run("run-killed")
            },
            head: HEAD.into(),
        },
        Line::Intent {
            n: 1,
            op: "remove".into(),
            app: "wiki".into(),
            target: "editors".into(),
            account: "ada".into(),
            person: "ada".into(),
            role: "editor".into(),
            why: "expired".into(),
            commit: None,
            at: "2026-12-01T10:00:00Z".into(),
        },
    ]
    .iter()
    .map(|line| line.to_json() + "\n")
    .collect::<String>();
    *l.journal.borrow_mut() = Some(journal);
    let mut chain = Chain::open(&l).unwrap().unwrap();
    chain.signer = Some(apply_key());
    let (in_doubt, note) = ledger::recover(&l, &mut chain, true).unwrap();
    assert_eq!(in_doubt.len(), 1);
    assert_eq!(
        (
            in_doubt[0].account.as_str(),
            in_doubt[0].target.target.as_str()
        ),
        ("ada", "editors")
    );
    assert!(note.unwrap().contains("run-killed"));
    assert_eq!(chain.tip().unwrap().seq, 3, "the killed run is recorded");
    // A second run finding the same journal (the first died too) records nothing more.
    let mut again = Chain::open(&l).unwrap().unwrap();
    ledger::recover(&l, &mut again, true).unwrap();
    assert_eq!(again.tip().unwrap().seq, 3);
    // A dry run records nothing.
    let dry = healthy();
    *dry.journal.borrow_mut() = l.journal.borrow().clone();
    let mut chain = Chain::open(&dry).unwrap().unwrap();
    ledger::recover(&dry, &mut chain, false).unwrap();
    assert_eq!(chain.tip().unwrap().seq, 2);
}
