//! A repository in memory: each commit holds its whole tree as a map, so a test writes history
//! in a few lines and the port answers from plain set arithmetic.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use anyhow::{Result, anyhow};
use chrono::{DateTime, Duration, TimeZone, Utc};

use portcullis_core::ports::{FileChange, Paths, Repo, Tree};
use portcullis_core::snapshot::{Entry, GOVERNED_DIRS, Snapshot};

struct Commit {
    parents: Vec<String>,
    files: BTreeMap<String, Arc<[u8]>>,
    /// Order of creation: newer commits have larger numbers.
    seq: u64,
    time: DateTime<Utc>,
    summary: String,
}

#[derive(Default)]
pub struct MemRepo {
    commits: BTreeMap<String, Commit>,
    branches: BTreeMap<String, String>,
}

struct MemTree(BTreeMap<String, Arc<[u8]>>);

impl Tree for MemTree {
    fn read(&self, path: &str) -> Result<Option<Entry>> {
        Ok(self.0.get(path).map(|b| Entry::File(b.clone())))
    }
    fn names(&self, dir: &str) -> Vec<String> {
        let prefix = format!("{dir}/");
        let names: BTreeSet<&str> = self
            .0
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .filter_map(|(p, _)| p[prefix.len()..].split('/').next())
            .collect();
        names.into_iter().map(str::to_owned).collect()
    }
}

impl MemRepo {
    pub fn new() -> MemRepo {
        MemRepo::default()
    }

    /// The commit `branch` points at.
    pub fn tip(&self, branch: &str) -> String {
        self.branches
            .get(branch)
            .unwrap_or_else(|| panic!("no branch {branch}"))
            .clone()
    }

    /// Points `branch` at `commit` (a new branch, or a force-push).
    pub fn set_branch(&mut self, branch: &str, commit: &str) {
        self.branches.insert(branch.to_owned(), commit.to_owned());
    }

    /// A commit on `branch` (created from nothing when absent) writing (`Some`) or deleting
    /// (`None`) files; returns its id.
    pub fn commit(
        &mut self,
        branch: &str,
        edits: &[(&str, Option<&str>)],
        summary: &str,
    ) -> String {
        let parent = self.branches.get(branch).cloned();
        let mut files = parent
            .as_ref()
            .map(|p| self.commits[p].files.clone())
            .unwrap_or_default();
        for (path, text) in edits {
            match text {
                Some(t) => files.insert((*path).to_owned(), Arc::from(t.as_bytes())),
                None => files.remove(*path),
            };
        }
        let id = self.add(parent.into_iter().collect(), files, summary);
        self.branches.insert(branch.to_owned(), id.clone());
        id
    }

    /// A new branch `branch` starting at `from`'s tip.
    pub fn branch(&mut self, branch: &str, from: &str) {
        let tip = self.tip(from);
        self.branches.insert(branch.to_owned(), tip);
    }

    /// A merge commit of `head` into `into`, its tree the head's (a merge without conflicts of
    /// a branch up to date with its base); returns its id.
    pub fn merge(&mut self, into: &str, head: &str, summary: &str) -> String {
        self.merge_editing(into, head, &[], summary)
    }

    /// As [`MemRepo::merge`], with `edits` made in the merge commit itself: what lands is not
    /// what the head held (an admin's merge, or a conflict resolved by hand).
    pub fn merge_editing(
        &mut self,
        into: &str,
        head: &str,
        edits: &[(&str, Option<&str>)],
        summary: &str,
    ) -> String {
        let parents = vec![self.tip(into), head.to_owned()];
        let mut files = self.commits[head].files.clone();
        for (path, text) in edits {
            match text {
                Some(t) => files.insert((*path).to_owned(), Arc::from(t.as_bytes())),
                None => files.remove(*path),
            };
        }
        let id = self.add(parents, files, summary);
        self.branches.insert(into.to_owned(), id.clone());
        id
    }

    fn add(
        &mut self,
        parents: Vec<String>,
        files: BTreeMap<String, Arc<[u8]>>,
        summary: &str,
    ) -> String {
        let seq = self.commits.len() as u64 + 1;
        // Distinct, stable, and shaped like a SHA-1 id.
        let mix = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let id = format!("{mix:016x}{:016x}{seq:08x}", mix.rotate_left(29));
        let time =
            Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap() + Duration::minutes(seq as i64);
        self.commits.insert(
            id.clone(),
            Commit {
                parents,
                files,
                seq,
                time,
                summary: summary.to_owned(),
            },
        );
        id
    }

    fn resolve(&self, rev: &str) -> Result<&str> {
        if let Some((id, _)) = self.commits.get_key_value(rev) {
            return Ok(id);
        }
        self.branches
            .get(rev)
            .map(String::as_str)
            .ok_or_else(|| anyhow!("`{rev}` does not name a commit"))
    }

    fn ancestors(&self, id: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut queue = VecDeque::from([id.to_owned()]);
        while let Some(c) = queue.pop_front() {
            if seen.insert(c.clone()) {
                queue.extend(self.commits[&c].parents.iter().cloned());
            }
        }
        seen
    }

    fn newest_first(&self, ids: BTreeSet<String>) -> Vec<String> {
        let mut ids: Vec<String> = ids.into_iter().collect();
        ids.sort_by_key(|c| std::cmp::Reverse(self.commits[c].seq));
        ids
    }
}

impl Repo for MemRepo {
    fn tree(&self, rev: &str) -> Result<Box<dyn Tree + '_>> {
        let id = self.resolve(rev)?;
        Ok(Box::new(MemTree(self.commits[id].files.clone())))
    }

    fn has_commit(&self, id: &str) -> bool {
        self.commits.contains_key(id)
    }

    fn first_parent(&self, rev: &str) -> Result<Option<String>> {
        Ok(self.commits[self.resolve(rev)?].parents.first().cloned())
    }

    fn object_at(&self, rev: &str, path: &str) -> Result<Option<String>> {
        // A file's id is its content's hash; a folder's, the hash of every file under it
        // with its path: equal ids for equal content, as git's object ids.
        let files = &self.commits[self.resolve(rev)?].files;
        let mut h = DefaultHasher::new();
        if let Some(bytes) = files.get(path) {
            bytes.hash(&mut h);
            return Ok(Some(format!("blob-{:016x}", h.finish())));
        }
        let prefix = format!("{path}/");
        let mut any = false;
        for (p, bytes) in files.range(prefix.clone()..) {
            if !p.starts_with(&prefix) {
                break;
            }
            any = true;
            (p, bytes).hash(&mut h);
        }
        Ok(any.then(|| format!("tree-{:016x}", h.finish())))
    }

    fn merge_base(&self, a: &str, b: &str) -> Result<String> {
        let common: BTreeSet<String> = self
            .ancestors(self.resolve(a)?)
            .intersection(&self.ancestors(self.resolve(b)?))
            .cloned()
            .collect();
        self.newest_first(common)
            .into_iter()
            .next()
            .ok_or_else(|| anyhow!("{a} and {b} share no history"))
    }

    fn commits_not_in(&self, head: &str, hide: &str) -> Result<Vec<String>> {
        let hidden = self.ancestors(self.resolve(hide)?);
        let mine = self.ancestors(self.resolve(head)?);
        Ok(self.newest_first(mine.difference(&hidden).cloned().collect()))
    }

    fn first_parent_not_in(&self, head: &str, hide: &str) -> Result<Vec<String>> {
        let hidden = self.ancestors(MemRepo::resolve(self, hide)?);
        let mut out = Vec::new();
        let mut at = Some(MemRepo::resolve(self, head)?.to_owned());
        while let Some(c) = at.filter(|c| !hidden.contains(c)) {
            at = self.commits[&c].parents.first().cloned();
            out.push(c);
        }
        Ok(out)
    }

    fn resolve(&self, rev: &str) -> Result<String> {
        Ok(MemRepo::resolve(self, rev)?.to_owned())
    }

    fn governed(&self, rev: &str) -> Result<Snapshot> {
        let mut snap = Snapshot::default();
        for (path, bytes) in &self.commits[MemRepo::resolve(self, rev)?].files {
            let governed = ["access/", "policies/"].iter().any(|d| path.starts_with(d))
                || path == portcullis_core::model::CODEOWNERS_FILE;
            if governed {
                snap.insert_bytes(path, bytes);
            }
        }
        Ok(snap)
    }

    fn changed_paths(&self, from: &str, to: &str, which: Paths) -> Result<BTreeSet<String>> {
        let (a, b) = (
            &self.commits[self.resolve(from)?].files,
            &self.commits[self.resolve(to)?].files,
        );
        Ok(a.keys()
            .chain(b.keys())
            .filter(|p| a.get(*p) != b.get(*p))
            .filter(|p| {
                which == Paths::All
                    || GOVERNED_DIRS
                        .iter()
                        .any(|d| p.strip_prefix(d).is_some_and(|r| r.starts_with('/')))
            })
            .cloned()
            .collect())
    }

    fn file_history(
        &self,
        from: &str,
        path: &str,
        limit: usize,
        max_commits: usize,
    ) -> Result<Vec<FileChange>> {
        let entry = |c: &Commit| c.files.get(path).map(|b| Entry::File(b.clone()));
        let mut out = Vec::new();
        for id in self
            .newest_first(self.ancestors(self.resolve(from)?))
            .into_iter()
            .take(max_commits)
        {
            if out.len() >= limit {
                break;
            }
            let c = &self.commits[&id];
            let before = c
                .parents
                .first()
                .and_then(|p| self.commits[p].files.get(path));
            if before == c.files.get(path) {
                continue;
            }
            out.push(FileChange {
                commit: id[..10].to_owned(),
                id: id.clone(),
                date: c.time,
                summary: c.summary.clone(),
                before: c.parents.first().and_then(|p| entry(&self.commits[p])),
                after: entry(c),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::MemRepo;
    use portcullis_core::ports::Repo;

    /// The port's walk of a folder (the default `read_dir`) finds files in subfolders, and the
    /// files provisioning reads are the governed ones only.
    #[test]
    fn a_folder_is_read_whole_and_only_governed_files_are_provisioning_s() {
        let mut repo = MemRepo::new();
        repo.commit(
            "main",
            &[
                ("policies/settings.yaml", Some("org: x\n")),
                ("policies/apps/vpn.yaml", Some("id: vpn\n")),
                ("access/vpn/ana.yaml", Some("person: ana\n")),
                ("notes/readme.md", Some("hi\n")),
            ],
            "One",
        );
        let tree = repo.tree("main").unwrap();
        let policies: Vec<String> = tree
            .read_dir("policies")
            .unwrap()
            .files
            .into_keys()
            .collect();
        assert_eq!(
            policies,
            ["policies/apps/vpn.yaml", "policies/settings.yaml"]
        );
        let governed: Vec<String> = repo.governed("main").unwrap().files.into_keys().collect();
        assert_eq!(
            governed,
            [
                "access/vpn/ana.yaml",
                "policies/apps/vpn.yaml",
                "policies/settings.yaml"
            ]
        );
    }
}
