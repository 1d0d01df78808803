//! The evidence notes: what `apply` records under `refs/notes/portcullis` and what `audit` and
//! `report` read back. This module owns the format (`docs/evidence.md`): the note types, their
//! canonical JSON, the hash chain, its verification, and the builder of the next note.
//!
//! Pure: the git edge reads and writes the note blobs; nothing here touches git or the clock
//! (times are passed in as RFC 3339 text).
//!
//! One git note (the blob attached to a commit) holds one or more evidence records, one
//! canonical JSON object per line: an object can carry only one git note, and a commit may be
//! recorded twice (a resumed run, or a run record on a head that also has a pull request's
//! record). Each record is one link of the chain.

use crate::model::{AppId, CommitId, PersonId, RoleId};
use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The notes ref evidence lives under.
pub const NOTES_REF: &str = "refs/notes/portcullis";

/// The format version this module writes and reads.
pub const VERSION: u64 = 1;

/// What a record is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The provisioning of one commit of the default branch (a merged pull request's merge
    /// commit, or a quarantined direct push with `bypass` set).
    Apply,
    /// One apply run's own work that belongs to no commit: revocations of expired grants,
    /// repaired drift. Attached to the head commit the run reconciled.
    Run,
}

/// One approval that was verified before provisioning. (Fields of the record types are
/// declared in key order, so their compact serialisation is the canonical JSON.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// The requirement it met: `manager`, `owner`, `security`, `@org/team`, `@user`.
    #[serde(rename = "as")]
    pub as_: String,
    pub review_id: u64,
    /// GitHub login of the reviewer.
    pub reviewer: String,
    /// The reviewer's numeric GitHub account id: a login can be renamed and recycled, the id
    /// cannot. Absent on records written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewer_id: Option<u64>,
}

/// A `/portcullis override <reason>` by a member of the security team.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    pub by: String,
    pub comment_id: u64,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Run {
    /// `null` while the run has not finished (a crash leaves it so; the next run resumes).
    pub finished_at: Option<String>,
    pub id: String,
    pub started_at: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The target was changed.
    Changed,
    /// The target already matched (idempotent success).
    Unchanged,
    Failed,
    /// Recorded before acting; a later record of the same action says how it ended.
    Pending,
    /// Deliberately not done (unverified approval, mass-removal guard).
    Skipped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Changed => "changed",
            Outcome::Unchanged => "unchanged",
            Outcome::Failed => "failed",
            Outcome::Pending => "pending",
            Outcome::Skipped => "skipped",
        }
    }

    /// The target matches the desired state after this action.
    pub fn succeeded(self) -> bool {
        matches!(self, Outcome::Changed | Outcome::Unchanged)
    }
}

/// One operation on a target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// The person's account name at the target.
    pub account: Option<String>,
    pub app: AppId,
    /// When the action ended (RFC 3339).
    pub at: String,
    pub error: Option<String>,
    /// `add` or `remove` (membership of `target`).
    pub op: String,
    pub person: PersonId,
    pub result: Outcome,
    pub role: RoleId,
    /// The target's group or role name.
    pub target: String,
}

/// One evidence record: a link of the hash chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Note {
    pub actions: Vec<Action>,
    pub approvals: Vec<Approval>,
    /// Why the commit was not provisioned: it reached the branch without verified approvals.
    pub bypass: Option<String>,
    /// The commit applied (for `run`: the head the run reconciled). Full sha.
    pub commit: CommitId,
    /// SHA-256 (lower-case hex) of the canonical JSON of this record without `hash`.
    pub hash: String,
    pub kind: Kind,
    #[serde(rename = "override")]
    pub override_: Option<Override>,
    pub pr: Option<u64>,
    /// The pull request's head commit the approvals were given on.
    pub pr_head: Option<String>,
    /// The `hash` of record `seq - 1`; `null` for record 1.
    pub prev: Option<String>,
    pub run: Run,
    /// 1 for the first record of the repository, then one more for each record.
    pub seq: u64,
    /// Ed25519 signature (base64) of `hash` by the apply environment's key; absent on records
    /// written before signing was adopted. Not covered by `hash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
    pub version: u64,
}

/// Everything of a record but its place in the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    pub kind: Kind,
    pub commit: CommitId,
    pub pr: Option<u64>,
    pub pr_head: Option<String>,
    pub approvals: Vec<Approval>,
    pub override_: Option<Override>,
    pub bypass: Option<String>,
    pub run: Run,
    pub actions: Vec<Action>,
}

/// The record that follows `prev` (the chain's current tip; `None` for the first record):
/// numbered, linked and hashed.
pub fn seal(draft: Draft, prev: Option<&Note>) -> Note {
    seal_signed(draft, prev, None)
}

/// [`seal`], signed with the apply environment's key when one is given.
pub fn seal_signed(
    draft: Draft,
    prev: Option<&Note>,
    signer: Option<&crate::signing::Signer>,
) -> Note {
    let mut note = Note {
        version: VERSION,
        seq: prev.map_or(1, |p| p.seq + 1),
        kind: draft.kind,
        commit: draft.commit,
        pr: draft.pr,
        pr_head: draft.pr_head,
        approvals: draft.approvals,
        override_: draft.override_,
        bypass: draft.bypass,
        run: draft.run,
        actions: draft.actions,
        prev: prev.map(|p| p.hash.clone()),
        hash: String::new(),
        sig: None,
    };
    note.hash = note.compute_hash();
    note.sig = signer.map(|s| s.sign(crate::signing::Domain::Record, note.hash.as_bytes()));
    note
}

impl Note {
    /// The record as one line of a note blob: its canonical JSON, `hash` included. The
    /// fields are declared in key order, so serde's compact output is the canonical form.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The hash this record should carry, from its other fields.
    pub fn compute_hash(&self) -> String {
        hex(&Sha256::digest(
            unhashed(&self.to_line(), &self.hash, self.sig.as_deref()).as_bytes(),
        ))
    }

    pub fn short_commit(&self) -> &str {
        crate::model::short_commit(&self.commit)
    }
}

/// A canonical record line without its `hash` and `sig` members (never the first members, and
/// a raw `,"hash":` cannot occur inside a string value, where quotes are escaped).
fn unhashed(line: &str, hash: &str, sig: Option<&str>) -> String {
    let member = |name: &str, value: &str| {
        format!(
            ",\"{name}\":{}",
            serde_json::to_string(value).unwrap_or_default()
        )
    };
    let mut out = line.replacen(&member("hash", hash), "", 1);
    if let Some(sig) = sig {
        out = out.replacen(&member("sig", sig), "", 1);
    }
    out
}

/// SHA-256 of the canonical JSON of `record` without its `hash` member.
pub fn hash_of(record: &Value) -> String {
    let mut text = String::new();
    write_canonical(record, &["hash", "sig"], &mut text);
    hex(&Sha256::digest(text.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The canonical JSON of a value: object members sorted by key (byte order), no whitespace
/// between tokens, strings escaped as JSON requires and no more (`"`, `\`, control characters;
/// `\b \f \n \r \t` in short form, the others as `\u00xx`), everything else as UTF-8.
pub fn canonical(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &[], &mut out);
    out
}

/// Writes `v`, leaving out the top-level member `skip`.
fn write_canonical(v: &Value, skip: &[&str], out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, &[], out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let sorted: BTreeMap<&str, &Value> = map
                .iter()
                .map(|(k, v)| (k.as_str(), v))
                .filter(|(k, _)| !skip.contains(k))
                .collect();
            out.push('{');
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_canonical(v, &[], out);
            }
            out.push('}');
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// One git note as stored: the object it is attached to and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// The annotated object (a commit sha).
    pub object: String,
    pub text: String,
}

/// A record read back, with where it was found and whether its own hash holds.
#[derive(Clone, Debug)]
pub struct Located {
    pub note: Note,
    pub object: String,
    /// 1-based line in the note blob.
    pub line: usize,
    /// The stored `hash` matches the record's content.
    pub intact: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakKind {
    /// Not JSON, or not a version 1 record.
    Unreadable,
    /// The record's content does not match its own hash: it was edited.
    Rewritten,
    /// `prev` is not the hash of the record before it: that record was replaced, or records
    /// were reordered.
    Unlinked,
    /// A sequence number is absent: a record was deleted.
    Missing,
    /// Two records carry one sequence number.
    Duplicate,
    /// A record is attached to another commit than the one it names: it was moved.
    Misplaced,
    /// A record's run started before the run of the record before it: reordered.
    OutOfOrder,
    /// A record that must be signed carries no signature.
    Unsigned,
    /// A record's signature is not the evidence key's.
    Forged,
    /// Fewer records than the signed state anchors: the newest were deleted.
    Truncated,
}

impl BreakKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakKind::Unreadable => "unreadable",
            BreakKind::Rewritten => "rewritten",
            BreakKind::Unlinked => "unlinked",
            BreakKind::Missing => "missing",
            BreakKind::Duplicate => "duplicate",
            BreakKind::Misplaced => "misplaced",
            BreakKind::OutOfOrder => "out-of-order",
            BreakKind::Unsigned => "unsigned",
            BreakKind::Forged => "forged",
            BreakKind::Truncated => "truncated",
        }
    }
}

/// One way the chain fails to hold, naming the record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainBreak {
    pub kind: BreakKind,
    pub seq: Option<u64>,
    /// The commit whose note holds the record, when there is one.
    pub object: Option<String>,
    pub message: String,
}

/// Every record of every stored note, parsed; unreadable lines are returned as breaks.
pub fn read_all(stored: &[Stored]) -> (Vec<Located>, Vec<ChainBreak>) {
    use rayon::prelude::*;
    let parsed: Vec<(Vec<Located>, Vec<ChainBreak>)> = stored
        .par_iter()
        .map(|s| {
            let mut records = Vec::new();
            let mut breaks = Vec::new();
            for (i, line) in s.text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match parse_line(line) {
                    Ok((note, intact)) => records.push(Located {
                        note,
                        object: s.object.clone(),
                        line: i + 1,
                        intact,
                    }),
                    Err(e) => breaks.push(ChainBreak {
                        kind: BreakKind::Unreadable,
                        seq: None,
                        object: Some(s.object.clone()),
                        message: format!(
                            "the note on commit {} (line {}) is not an evidence record: {e}",
                            short(&s.object),
                            i + 1
                        ),
                    }),
                }
            }
            (records, breaks)
        })
        .collect();
    let mut records = Vec::new();
    let mut breaks = Vec::new();
    for (r, b) in parsed {
        records.extend(r);
        breaks.extend(b);
    }
    records.sort_by(|a, b| (a.note.seq, &a.object).cmp(&(b.note.seq, &b.object)));
    (records, breaks)
}

/// Parses one record and checks its hash against its content, as stored (so a field the
/// format does not know is content too).
fn parse_line(line: &str) -> Result<(Note, bool), String> {
    // The usual case, a record as written: typed, and canonical when it re-serialises to the
    // same text, so the hash is checked on the stored bytes.
    if let Ok(note) = serde_json::from_str::<Note>(line)
        && note.version == VERSION
    {
        let text = note.to_line();
        if text == line {
            let intact = hex(&Sha256::digest(
                unhashed(line, &note.hash, note.sig.as_deref()).as_bytes(),
            )) == note.hash;
            return Ok((note, intact));
        }
    }
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON ({e})"))?;
    let version = value.get("version").and_then(Value::as_u64);
    if version != Some(VERSION) {
        return Err(match version {
            Some(v) => format!("format version {v}, this portcullis reads version {VERSION}"),
            None => "no `version`".to_owned(),
        });
    }
    let intact = value.get("hash").and_then(Value::as_str) == Some(hash_of(&value).as_str());
    let note: Note = serde_json::from_value(value).map_err(|e| e.to_string())?;
    Ok((note, intact))
}

fn short(sha: &str) -> &str {
    crate::model::short_commit(sha)
}

/// Verifies the chain of every stored record: each intact, numbered 1, 2, 3… without gaps or
/// repeats, each linked to the one before, each on the commit it names, in run order.
/// A rewritten, deleted, moved or reordered record is named by its sequence number.
///
/// Deleting the newest records leaves a shorter chain that still holds; compare the tip with
/// one recorded elsewhere (the apply run's log) to detect that.
pub fn chain_verify(stored: &[Stored]) -> Vec<ChainBreak> {
    let (records, mut breaks) = read_all(stored);
    breaks.extend(verify_records(&records));
    breaks
}

/// [`chain_verify`] over records already read.
pub fn verify_records(records: &[Located]) -> Vec<ChainBreak> {
    let mut breaks = Vec::new();
    let mut by_seq: BTreeMap<u64, Vec<&Located>> = BTreeMap::new();
    for r in records {
        by_seq.entry(r.note.seq).or_default().push(r);
    }
    for r in records {
        let n = &r.note;
        if !r.intact {
            breaks.push(ChainBreak {
                kind: BreakKind::Rewritten,
                seq: Some(n.seq),
                object: Some(r.object.clone()),
                message: format!(
                    "record {} on commit {} was changed after it was written: its content does not match its hash",
                    n.seq,
                    short(&r.object)
                ),
            });
        }
        if n.commit != r.object {
            breaks.push(ChainBreak {
                kind: BreakKind::Misplaced,
                seq: Some(n.seq),
                object: Some(r.object.clone()),
                message: format!(
                    "record {} names commit {} but is attached to commit {}: it was moved",
                    n.seq,
                    short(&n.commit),
                    short(&r.object)
                ),
            });
        }
    }
    let mut expected = 1u64;
    let mut previous: Option<&Located> = None;
    for (&seq, group) in &by_seq {
        if seq > expected {
            let gap = if seq - expected == 1 {
                format!("record {expected} is missing")
            } else {
                format!("records {expected} to {} are missing", seq - 1)
            };
            breaks.push(ChainBreak {
                kind: BreakKind::Missing,
                seq: Some(expected),
                object: None,
                message: format!("{gap}: deleted from the notes"),
            });
        }
        if group.len() > 1 {
            let objects: Vec<&str> = group.iter().map(|r| short(&r.object)).collect();
            breaks.push(ChainBreak {
                kind: BreakKind::Duplicate,
                seq: Some(seq),
                object: Some(group[0].object.clone()),
                message: format!(
                    "record {seq} appears {} times (commits {})",
                    group.len(),
                    objects.join(", ")
                ),
            });
        }
        let r = group[0];
        let want_prev = if seq == 1 {
            None
        } else {
            previous
                .filter(|p| p.note.seq + 1 == seq)
                .map(|p| p.note.hash.as_str())
        };
        let linked = match (seq, want_prev) {
            (1, _) => r.note.prev.is_none(),
            // The record before is missing: already reported, nothing to link against.
            (_, None) => true,
            (_, Some(h)) => r.note.prev.as_deref() == Some(h),
        };
        if !linked {
            breaks.push(ChainBreak {
                kind: BreakKind::Unlinked,
                seq: Some(seq),
                object: Some(r.object.clone()),
                message: if seq == 1 {
                    format!(
                        "record 1 on commit {} links to an earlier record: the start of the chain was removed",
                        short(&r.object)
                    )
                } else {
                    format!(
                        "record {seq} on commit {} does not link to record {}: record {} was replaced, or records were reordered",
                        short(&r.object),
                        seq - 1,
                        seq - 1
                    )
                },
            });
        }
        if let Some(p) = previous
            && started(&r.note) < started(&p.note)
        {
            breaks.push(ChainBreak {
                kind: BreakKind::OutOfOrder,
                seq: Some(seq),
                object: Some(r.object.clone()),
                message: format!(
                    "record {seq} (run started {}) comes after record {} (run started {}): reordered",
                    r.note.run.started_at, p.note.seq, p.note.run.started_at
                ),
            });
        }
        previous = Some(r);
        expected = seq + 1;
    }
    breaks
}

fn started(n: &Note) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(&n.run.started_at)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// Records from `from_seq` on must carry this key's signature of their hash: an unsigned one
/// was added by someone without the key, a bad one was forged or re-sealed.
pub fn verify_signatures(
    records: &[Located],
    verifier: &crate::signing::Verifier,
    from_seq: u64,
) -> Vec<ChainBreak> {
    let mut breaks = Vec::new();
    for r in records.iter().filter(|r| r.note.seq >= from_seq) {
        let n = &r.note;
        let (kind, what) = match &n.sig {
            None => (BreakKind::Unsigned, "carries no signature"),
            Some(sig)
                if !verifier.verify(crate::signing::Domain::Record, n.hash.as_bytes(), sig) =>
            {
                (
                    BreakKind::Forged,
                    "carries a signature the evidence key did not make",
                )
            }
            Some(_) => continue,
        };
        breaks.push(ChainBreak {
            kind,
            seq: Some(n.seq),
            object: Some(r.object.clone()),
            message: format!(
                "record {} on commit {} {what}: it was written or re-sealed by someone without the apply environment's key",
                n.seq,
                short(&r.object)
            ),
        });
    }
    breaks
}

/// What a signed state says of the chain, checked: every record from `signed_from` on carries
/// the key's signature, and the record the state anchors (`seq`, `hash`) is there, unchanged.
/// Deleting the notes, truncating them or re-sealing them fails here.
pub fn verify_against_anchor(
    records: &[Located],
    verifier: &crate::signing::Verifier,
    signed_from: u64,
    anchor: Option<(u64, &str)>,
) -> Vec<ChainBreak> {
    let mut breaks = verify_signatures(records, verifier, signed_from);
    if let Some((seq, hash)) = anchor {
        match records.iter().find(|r| r.note.seq == seq) {
            None => breaks.push(ChainBreak {
                kind: BreakKind::Truncated,
                seq: Some(seq),
                object: None,
                message: format!(
                    "the signed state names evidence record {seq} as the chain's tip, and the notes end at {}: records were deleted (or the notes ref was)",
                    tip(records).map_or(0, |t| t.seq)
                ),
            }),
            Some(r) if r.note.hash != hash => breaks.push(ChainBreak {
                kind: BreakKind::Forged,
                seq: Some(seq),
                object: Some(r.object.clone()),
                message: format!(
                    "evidence record {seq} is not the one the signed state anchors: the chain was re-sealed"
                ),
            }),
            Some(_) => {}
        }
    }
    breaks
}

/// The newest record: the tip the next record links to.
pub fn tip(records: &[Located]) -> Option<&Note> {
    records.iter().map(|r| &r.note).max_by_key(|n| n.seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(commit: &str, started: &str) -> Draft {
        Draft {
            kind: Kind::Apply,
            commit: commit.into(),
            pr: Some(12),
            pr_head: Some("h".repeat(40)),
            approvals: vec![Approval {
                reviewer: "elena-tw".into(),
                review_id: 123,
                as_: "manager".into(),
                reviewer_id: None,
            }],
            override_: None,
            bypass: None,
            run: Run {
                id: "run-1".into(),
                started_at: started.into(),
                finished_at: Some(started.into()),
            },
            actions: vec![Action {
                op: "add".into(),
                app: "payments".into(),
                person: "omar".into(),
                role: "create-payment".into(),
                target: "payments_maker".into(),
                account: Some("omar".into()),
                result: Outcome::Changed,
                error: None,
                at: started.into(),
            }],
        }
    }

    fn chain(n: usize) -> Vec<Stored> {
        let mut out = Vec::new();
        let mut prev: Option<Note> = None;
        for i in 0..n {
            let commit = format!("{i:040x}");
            let note = seal(
                draft(&commit, &format!("2026-11-2{i}T09:00:00Z")),
                prev.as_ref(),
            );
            out.push(Stored {
                object: commit,
                text: note.to_line(),
            });
            prev = Some(note);
        }
        out
    }

    fn kinds(b: &[ChainBreak]) -> Vec<(BreakKind, Option<u64>)> {
        b.iter().map(|b| (b.kind, b.seq)).collect()
    }

    #[test]
    fn canonical_json_sorts_keys_and_has_no_whitespace() {
        let v: Value =
            serde_json::from_str(r#"{ "b": [1, {"z": null, "a": "x\ny\u0001é"}], "a": true }"#)
                .unwrap();
        assert_eq!(
            canonical(&v),
            r#"{"a":true,"b":[1,{"a":"x\ny\u0001é","z":null}]}"#
        );
    }

    #[test]
    fn the_hash_covers_everything_but_itself() {
        let note = seal(draft(&"a".repeat(40), "2026-11-22T09:00:00Z"), None);
        assert_eq!(note.seq, 1);
        assert_eq!(note.prev, None);
        assert_eq!(note.hash.len(), 64);
        let mut edited = note.clone();
        edited.actions[0].result = Outcome::Failed;
        assert_ne!(edited.compute_hash(), note.hash);
        // The stored line is itself canonical, and reads back as the same record.
        let (records, breaks) = read_all(&[Stored {
            object: note.commit.to_string(),
            text: note.to_line(),
        }]);
        assert!(breaks.is_empty());
        assert_eq!(records[0].note, note);
        assert!(records[0].intact);
    }

    #[test]
    fn a_record_serialises_canonically() {
        let mut d = draft(&"a".repeat(40), "2026-11-22T09:00:00Z");
        d.override_ = Some(Override {
            by: "lena-tw".into(),
            reason: "FIN-2231 \"due\"\nnow".into(),
            comment_id: 7,
        });
        d.bypass = Some("quoted \"hash\":\"x\" inside".into());
        let note = seal(d, None);
        let value = serde_json::to_value(&note).unwrap();
        assert_eq!(note.to_line(), canonical(&value));
        assert_eq!(note.hash, hash_of(&value));
        let (read, intact) = parse_line(&note.to_line()).unwrap();
        assert!(intact);
        assert_eq!(read, note);
        // Written any other way (whitespace, key order), the same record still verifies.
        let pretty = serde_json::to_string_pretty(&value)
            .unwrap()
            .replace('\n', "");
        let (_, intact) = parse_line(&pretty).unwrap();
        assert!(intact);
    }

    #[test]
    fn the_next_record_links_to_the_tip() {
        let first = seal(draft(&"a".repeat(40), "2026-11-22T09:00:00Z"), None);
        let second = seal(draft(&"b".repeat(40), "2026-11-22T10:00:00Z"), Some(&first));
        assert_eq!(second.seq, 2);
        assert_eq!(second.prev.as_deref(), Some(first.hash.as_str()));
    }

    #[test]
    fn an_intact_chain_has_no_breaks() {
        assert!(chain_verify(&chain(4)).is_empty());
    }

    #[test]
    fn an_edited_record_is_named() {
        let mut notes = chain(3);
        notes[1].text = notes[1].text.replace("\"changed\"", "\"failed\"");
        assert_eq!(
            kinds(&chain_verify(&notes)),
            vec![(BreakKind::Rewritten, Some(2))]
        );
    }

    #[test]
    fn a_rewritten_and_rehashed_record_breaks_the_next_link() {
        let mut notes = chain(3);
        let (records, _) = read_all(&notes[1..2]);
        let mut forged = records[0].note.clone();
        forged.approvals[0].reviewer = "mallory".into();
        forged.hash = forged.compute_hash();
        notes[1].text = forged.to_line();
        assert_eq!(
            kinds(&chain_verify(&notes)),
            vec![(BreakKind::Unlinked, Some(3))]
        );
    }

    #[test]
    fn a_deleted_record_is_missing() {
        let mut notes = chain(4);
        notes.remove(1);
        assert_eq!(
            kinds(&chain_verify(&notes)),
            vec![(BreakKind::Missing, Some(2))]
        );
        let mut notes = chain(3);
        notes.remove(0);
        let breaks = chain_verify(&notes);
        assert_eq!(kinds(&breaks), vec![(BreakKind::Missing, Some(1))]);
    }

    #[test]
    fn swapped_records_are_misplaced() {
        let mut notes = chain(3);
        let (a, b) = (notes[0].text.clone(), notes[1].text.clone());
        notes[0].text = b;
        notes[1].text = a;
        assert_eq!(
            kinds(&chain_verify(&notes)),
            vec![
                (BreakKind::Misplaced, Some(1)),
                (BreakKind::Misplaced, Some(2))
            ]
        );
    }

    #[test]
    fn renumbered_records_are_caught() {
        // Swap the sequence numbers of two records and re-hash both: the links give it away.
        let notes = chain(3);
        let (records, _) = read_all(&notes);
        let mut one = records[0].note.clone();
        let mut two = records[1].note.clone();
        one.seq = 2;
        two.seq = 1;
        two.prev = None;
        one.prev = Some(two.compute_hash());
        two.hash = two.compute_hash();
        one.hash = one.compute_hash();
        let forged = vec![
            Stored {
                object: one.commit.to_string(),
                text: one.to_line(),
            },
            Stored {
                object: two.commit.to_string(),
                text: two.to_line(),
            },
            notes[2].clone(),
        ];
        let found = kinds(&chain_verify(&forged));
        assert!(found.contains(&(BreakKind::Unlinked, Some(3))), "{found:?}");
        assert!(
            found.contains(&(BreakKind::OutOfOrder, Some(2))),
            "{found:?}"
        );
    }

    #[test]
    fn garbage_and_future_versions_are_unreadable() {
        let mut notes = chain(1);
        notes.push(Stored {
            object: "f".repeat(40),
            text: "not json\n{\"version\":2}".into(),
        });
        let found = chain_verify(&notes);
        assert_eq!(
            kinds(&found),
            vec![(BreakKind::Unreadable, None), (BreakKind::Unreadable, None)]
        );
        assert!(
            found[1].message.contains("version 2"),
            "{}",
            found[1].message
        );
    }

    #[test]
    fn two_records_in_one_note_are_two_links() {
        let first = seal(draft(&"a".repeat(40), "2026-11-22T09:00:00Z"), None);
        let mut d = draft(&"a".repeat(40), "2026-11-22T10:00:00Z");
        d.kind = Kind::Run;
        let second = seal(d, Some(&first));
        let stored = vec![Stored {
            object: "a".repeat(40),
            text: format!("{}\n{}\n", first.to_line(), second.to_line()),
        }];
        assert!(chain_verify(&stored).is_empty());
        assert_eq!(read_all(&stored).0.len(), 2);
    }
}
