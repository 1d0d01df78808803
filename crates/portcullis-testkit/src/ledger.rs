//! apply's records in memory: the notes, the stored state and a journal, each open to the test
//! as a writer with access to the repository would have them (rewrite a note, replace the
//! state, leave a journal behind).

use std::cell::RefCell;
use std::collections::BTreeMap;

use anyhow::Result;
use portcullis_core::evidence::{Note, Stored};
use portcullis_core::ledger::{Journal, Ledger, State, StoredState};
use portcullis_core::signing::{Domain, Signer};

#[derive(Default)]
pub struct MemLedger {
    /// The note text of each annotated commit.
    pub notes: RefCell<BTreeMap<String, String>>,
    pub state: RefCell<Option<StoredState>>,
    pub journal: RefCell<Option<String>>,
    writes: RefCell<u64>,
}

impl MemLedger {
    pub fn new() -> MemLedger {
        MemLedger::default()
    }

    /// Stores `state` as anyone with push access could: signed by `signer` (any key), or not.
    pub fn put_state(&self, state: &State, signer: Option<&Signer>) {
        let bytes = serde_json::to_vec_pretty(state).expect("a state serialises");
        let signature = signer.map(|s| s.sign(Domain::State, &bytes));
        let mut n = self.writes.borrow_mut();
        *n += 1;
        *self.state.borrow_mut() = Some(StoredState {
            state: state.clone(),
            bytes,
            signature,
            commit: format!("state-{n}"),
        });
    }
}

impl Ledger for MemLedger {
    fn notes(&self) -> Result<Vec<Stored>> {
        Ok(self
            .notes
            .borrow()
            .iter()
            .map(|(object, text)| Stored {
                object: object.clone(),
                text: text.clone(),
            })
            .collect())
    }

    fn append_notes(&self, records: &[Note]) -> Result<()> {
        let mut notes = self.notes.borrow_mut();
        for r in records {
            let text = notes.entry(r.commit.to_string()).or_default();
            text.push_str(&r.to_line());
            text.push('\n');
        }
        Ok(())
    }

    fn stored_state(&self) -> Result<Option<StoredState>> {
        Ok(self.state.borrow().clone())
    }

    fn write_state(&self, state: &State, signer: Option<&Signer>, _message: &str) -> Result<()> {
        self.put_state(state, signer);
        Ok(())
    }

    fn journal(&self) -> Result<Option<String>> {
        Ok(self.journal.borrow().clone())
    }

    fn start_journal(&self) -> Result<Box<dyn Journal + '_>> {
        *self.journal.borrow_mut() = Some(String::new());
        Ok(Box::new(MemJournal(&self.journal)))
    }

    fn remove_journal(&self) -> Result<()> {
        *self.journal.borrow_mut() = None;
        Ok(())
    }

    fn notes_id(&self) -> Result<Option<String>> {
        let notes = self.notes.borrow();
        if notes.is_empty() {
            return Ok(None);
        }
        let mut h = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&*notes, &mut h);
        Ok(Some(format!(
            "notes-{:016x}",
            std::hash::Hasher::finish(&h)
        )))
    }
}

/// A journal written into the ledger as it goes: what a killed process leaves behind, since
/// the file edge writes every line straight to the file (a machine crash, which may lose the
/// last unflushed result, is the file's concern).
struct MemJournal<'l>(&'l RefCell<Option<String>>);

impl Journal for MemJournal<'_> {
    fn append(&mut self, line: &str, _flush: bool) -> Result<()> {
        let mut journal = self.0.borrow_mut();
        let text = journal.get_or_insert_with(String::new);
        text.push_str(line);
        text.push('\n');
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        Ok(())
    }
}
