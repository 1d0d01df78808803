//! Who approved the commits the evidence notes do not cover (history from before portcullis,
//! or a run that never recorded): the merged pull request GitHub names for each, its approvals
//! still in force on the merged head, and the verdict its change gets from the policies of the
//! branch just before it. Read through the ports, once per commit.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use crate::approval::{self, Directory, ReviewState, pull};
use crate::audit::Index;
use crate::audit::notes::{Judgement, Lookup, Lookups, NoteIndex, PullInfo};
use crate::model::Login;
use crate::plan::compute::{Revs, compute_at};
use crate::ports::Repo;
use crate::ports::github::{GitHub, Pull};

/// Asks the GitHub API about commits the notes do not cover, once per commit.
pub struct Lookuper<'a> {
    repo: &'a dyn Repo,
    client: Option<&'a dyn GitHub>,
    pub found: Lookups,
    directory: Directory,
    /// Commits not covered and not looked up (GitHub was not asked).
    pub unasked: usize,
}

impl<'a> Lookuper<'a> {
    pub fn new(repo: &'a dyn Repo, client: Option<&'a dyn GitHub>) -> Lookuper<'a> {
        Lookuper {
            repo,
            client,
            found: HashMap::new(),
            directory: Directory::default(),
            unasked: 0,
        }
    }

    pub fn fill(&mut self, index: &Index, notes: &NoteIndex, commits: &[usize]) -> Result<()> {
        let mut seen = BTreeSet::new();
        for &ci in commits {
            let c = &index.commits[ci];
            if notes.has_record(&c.sha) || self.found.contains_key(&c.sha) || !seen.insert(ci) {
                continue;
            }
            let Some(client) = self.client else {
                self.unasked += 1;
                continue;
            };
            let lookup = self.lookup(client, &c.sha, c.time).with_context(|| {
                format!(
                    "cannot look up the pull request of commit {} on GitHub\nhint: pass `--offline` to report approvers the evidence notes do not hold as unknown",
                    c.short()
                )
            })?;
            self.found.insert(c.sha.clone(), lookup);
        }
        Ok(())
    }

    fn lookup(&mut self, client: &dyn GitHub, sha: &str, when: DateTime<Utc>) -> Result<Lookup> {
        let pulls = client.commit_pulls(sha)?;
        let merged: Vec<&Pull> = pulls.iter().filter(|p| p.merged).collect();
        let Some(pull) = merged
            .iter()
            .find(|p| p.merge_commit_sha.as_deref() == Some(sha))
            .or(merged.first())
            .copied()
        else {
            return Ok(Lookup::default());
        };
        let Some(parent) = self.repo.first_parent(sha)? else {
            return Ok(Lookup::default());
        };
        if !self.repo.has_commit(&pull.head.sha) {
            return Ok(Lookup::default());
        }
        let merge_base = self.repo.merge_base(&pull.head.sha, &parent)?;
        let range = pull::Range {
            hide: &parent,
            merge_base: &merge_base,
        };
        let same = Revs {
            base: &parent,
            policies: &parent,
        };
        let policies = compute_at(self.repo, same, &parent, when)?.policies;
        let facts = pull::facts(client, self.repo, pull, range, &policies)?;
        // The approvals still in force on the merged head: each reviewer's latest decision.
        let mut latest: BTreeMap<&Login, &approval::Review> = BTreeMap::new();
        for r in &facts.reviews {
            if !matches!(r.state, ReviewState::Commented | ReviewState::Pending) {
                latest.insert(&r.login, r);
            }
        }
        let approvals: Vec<(String, u64)> = latest
            .values()
            .filter(|r| {
                r.state == ReviewState::Approved
                    && !r.bot
                    && r.commit.as_deref() == Some(pull.head.sha.as_str())
            })
            .map(|r| (r.login.to_string(), r.id))
            .collect();
        let verdict = self.judge(client, sha, pull, &facts, when)?;
        Ok(Lookup {
            pull: Some(PullInfo {
                number: pull.number,
                title: pull.title.clone(),
                head: pull.head.sha.clone(),
                approvals,
            }),
            verdict,
        })
    }

    /// The approval verdict on the change the commit made to the branch (from its first
    /// parent), judged by the parent's policies with the pull request's reviews.
    fn judge(
        &mut self,
        client: &dyn GitHub,
        sha: &str,
        pull: &Pull,
        facts: &approval::PullFacts,
        when: DateTime<Utc>,
    ) -> Result<Option<Judgement>> {
        let Some(parent) = self.repo.first_parent(sha)? else {
            return Ok(None);
        };
        let revs = Revs {
            base: &parent,
            policies: &parent,
        };
        let computed = compute_at(self.repo, revs, sha, when)?;
        let teams = approval::teams_needed(&computed.plan, &computed.policies);
        let missing: BTreeSet<String> = teams
            .into_iter()
            .filter(|t| !self.directory.teams.contains_key(t))
            .collect();
        let more = pull::directory(client, &missing, &computed.policies)?;
        self.directory.teams.extend(more.teams);
        let mut facts = facts.clone();
        facts.head_sha = pull.head.sha.clone();
        let v = approval::judge(&computed.plan, &computed.policies, &facts, &self.directory);
        let met = v
            .changes
            .iter()
            .flat_map(|c| {
                c.met
                    .iter()
                    .map(|(what, by)| (what.clone(), by.to_string()))
            })
            .collect();
        let detail = if let Some(r) = &v.refused {
            format!("refused: {r}")
        } else {
            v.status_description()
        };
        Ok(Some(Judgement {
            approved: v.approved,
            detail,
            met,
        }))
    }
}
