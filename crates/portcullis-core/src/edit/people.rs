//! Edits `policies/people.yaml` in place for `people sync`: a person's fields replaced, new
//! people appended at the end of the list, in the style of the items already there. Comments,
//! blank lines, key order and quoting of everything else stay as they were; the result is
//! parsed again and compared with what was meant, as for grant files. Pure.

use serde_json::Value as Json;

use super::{Change, Doc, EditError, Field, Splice, Style, apply, render_block_item, verify};
use crate::load::layout::is_id;

/// The fields of a person in the order SPEC writes them: the schema's own list.
const PERSON_ORDER: &[&str] = crate::load::schema::fields::PERSON;

/// One person as the directory should say it. Optional fields that are `None` are removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonRecord {
    pub id: String,
    pub name: String,
    pub email: String,
    pub github: Option<String>,
    pub department: String,
    pub title: Option<String>,
    pub manager: Option<String>,
    /// `employee`, `contractor` or `vendor`.
    pub kind: String,
    /// `active` or `leaver`.
    pub status: String,
    /// `YYYY-MM-DD`.
    pub end_date: Option<String>,
}

impl PersonRecord {
    fn fields(&self) -> Vec<(&'static str, Option<Field>)> {
        let text = |s: &str| Some(Field::Text(s.to_owned()));
        vec![
            ("id", text(&self.id)),
            ("name", text(&self.name)),
            ("email", text(&self.email)),
            ("github", self.github.as_deref().and_then(text)),
            ("department", text(&self.department)),
            ("title", self.title.as_deref().and_then(text)),
            ("manager", self.manager.as_deref().and_then(text)),
            ("type", text(&self.kind)),
            ("status", text(&self.status)),
            ("end_date", self.end_date.clone().map(Field::Plain)),
        ]
    }
}

/// Writes each record into the directory: the fields of the person with that id replaced (and
/// optional fields the record lacks removed), or a new item appended when the id is new.
/// A record equal to the file's item changes nothing.
pub fn upsert_people(text: &str, records: &[PersonRecord]) -> Result<String, EditError> {
    for r in records {
        if !is_id(&r.id) {
            return Err(EditError::new(
                0,
                format!("`{}` is not a valid person id", r.id),
            ));
        }
    }
    let doc = Doc::parse_list(text, "people", PERSON_ORDER)?;
    let mut expected = doc.root.to_json();
    let index: std::collections::HashMap<&str, usize> = doc
        .items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| Some((item.get("id")?.as_str()?, i)))
        .collect();
    // Appended items go first: at the end of the last item, a field inserted into that item
    // must land before them, and of two insertions at one place the later one comes first.
    let mut appended = String::new();
    let mut at = None;
    let mut edits: Vec<Splice> = Vec::new();
    for r in records {
        let fields = r.fields();
        match index.get(r.id.as_str()) {
            Some(&i) => {
                let changes: Vec<Change> = fields
                    .into_iter()
                    .map(|(key, value)| Change { key, value })
                    .collect();
                edits.extend(doc.edit_item(i, &changes, &mut expected["people"][i])?);
            }
            None => {
                let set: Vec<(&str, Field)> = fields
                    .into_iter()
                    .filter_map(|(k, v)| Some((k, v?)))
                    .collect();
                for (range, text) in doc.append_item(&set)? {
                    at.get_or_insert(range);
                    appended.push_str(&text);
                }
                if let Some(list) = expected["people"].as_array_mut() {
                    list.push(Json::Object(
                        set.iter()
                            .map(|(k, v)| ((*k).to_owned(), v.json()))
                            .collect(),
                    ));
                }
            }
        }
    }
    // An empty flow list (`people: []`, as `init` writes it) becomes a block list: a
    // directory is read by people, and one line of every person's fields is unreadable.
    if doc.items.is_empty() && doc.is_flow(&doc.grants) && !appended.is_empty() {
        let start = doc.start(&doc.grants);
        let end = doc.value_end(&doc.grants);
        let mut block = String::new();
        for r in records {
            let set: Vec<(&str, Field)> = r
                .fields()
                .into_iter()
                .filter_map(|(k, v)| Some((k, v?)))
                .collect();
            for line in render_block_item(&set, "  ", " ", "    ", Style::Block)? {
                block.push('\n');
                block.push_str(&line);
            }
        }
        // `people: []` -> `people:` and the items, each on its own lines.
        let key_end = text[..start].trim_end_matches(' ').len();
        let out = apply(text, vec![(key_end..end, block)]);
        verify(&out, &expected)?;
        return Ok(out);
    }
    let mut splices: Vec<Splice> = at.map(|r| (r, appended)).into_iter().collect();
    splices.extend(edits);
    let out = apply(text, splices);
    verify(&out, &expected)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty directory (`people: []`) takes several people at once, as a block list.
    #[test]
    fn an_empty_flow_list_becomes_a_block_list() {
        let text = "# The directory\npeople: []   # none yet\n";
        let mut helen = sam();
        helen.id = "helen".into();
        helen.manager = None;
        let out = upsert_people(text, &[helen, sam()]).unwrap();
        assert!(
            out.starts_with("# The directory\npeople:\n  - id: helen\n"),
            "{out}"
        );
        assert!(out.contains("\n  - id: sam\n    name: Sam Lee\n"), "{out}");
        assert!(out.ends_with("   # none yet\n"), "{out}");
    }

    const PEOPLE: &str = "# The directory\npeople:\n  # Exec\n  - id: helen\n    name: Helen Marsh\n    email: helen@x.example\n    department: exec\n    type: employee\n    status: active\n\n  # Sales\n  - id: sam\n    name: Sam Lee   # preferred name\n    email: sam@x.example\n    department: sales\n    title: Account Executive\n    manager: helen\n    type: employee\n    status: active\n";

    fn sam() -> PersonRecord {
        PersonRecord {
            id: "sam".into(),
            name: "Sam Lee".into(),
            email: "sam@x.example".into(),
            github: None,
            department: "sales".into(),
            title: Some("Account Executive".into()),
            manager: Some("helen".into()),
            kind: "employee".into(),
            status: "active".into(),
            end_date: None,
        }
    }

    #[test]
    fn an_unchanged_record_changes_nothing() {
        assert_eq!(upsert_people(PEOPLE, &[sam()]).unwrap(), PEOPLE);
    }

    #[test]
    fn a_mover_and_a_leaver_keep_every_comment() {
        let mut moved = sam();
        moved.department = "support".into();
        moved.title = None;
        moved.status = "leaver".into();
        let out = upsert_people(PEOPLE, &[moved]).unwrap();
        assert_eq!(
            out,
            PEOPLE
                .replace("department: sales", "department: support")
                .replace("    title: Account Executive\n", "")
                .replace("status: active\n", "status: leaver\n")
                .replacen("status: leaver\n", "status: active\n", 1)
        );
        assert!(out.contains("Sam Lee   # preferred name"));
    }

    #[test]
    fn joiners_are_appended_in_order_after_the_last_item() {
        let mut a = sam();
        a.id = "ada".into();
        a.github = Some("ada-gh".into());
        a.kind = "contractor".into();
        a.end_date = Some("2027-03-31".into());
        let mut b = sam();
        b.id = "bo".into();
        b.name = "yes".into();
        let mut edited = sam();
        edited.end_date = Some("2027-06-30".into());
        let out = upsert_people(PEOPLE, &[a, edited, b]).unwrap();
        let tail = &out[PEOPLE.len() - "    status: active\n".len()..];
        assert_eq!(
            tail,
            "    status: active\n    end_date: 2027-06-30\n  - id: ada\n    name: Sam Lee\n    email: sam@x.example\n    github: ada-gh\n    department: sales\n    title: Account Executive\n    manager: helen\n    type: contractor\n    status: active\n    end_date: 2027-03-31\n  - id: bo\n    name: \"yes\"\n    email: sam@x.example\n    department: sales\n    title: Account Executive\n    manager: helen\n    type: employee\n    status: active\n"
        );
    }

    #[test]
    fn bad_ids_and_broken_files_are_refused() {
        let mut bad = sam();
        bad.id = "Sam".into();
        assert!(upsert_people(PEOPLE, &[bad]).is_err());
        let e = upsert_people("people: 3\n", &[sam()]).unwrap_err();
        assert!(e.message.contains("not a list"), "{e}");
    }
}
