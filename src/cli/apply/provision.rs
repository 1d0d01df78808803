//! The plan of `apply`: the desired state from the head's grants less the quarantine, every
//! target listed, SoD held back against what is provisioned, the operations planned with the
//! guards, each owed to the commit that changed its grant.

use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, Utc};

use super::report::short;
use super::{Args, report_held};
use crate::cli::applier::{self, Loaded};
use crate::cli::timer::Timer;
use portcullis_core::apply::{self as gate, Attribution};
use portcullis_core::provision::desired;
use portcullis_core::provision::execute::{self, Backends};
use portcullis_core::provision::ops::{self, Op, Planned};
use portcullis_core::provision::quarantine::Quarantine;
use portcullis_core::verify::Checked;

pub(super) struct Planning<'a> {
    pub backends: Backends<'a>,
    /// Grants held back because they would complete a forbidden pair.
    pub sod_held: Vec<desired::Excluded>,
    pub planned: Planned,
    /// The operations, each with the commit it is owed to.
    pub work: Vec<(Op, Option<String>)>,
    pub attribution: Attribution,
    /// Some grant cannot be provisioned at all (reported above).
    pub unprovisionable: bool,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn plan<'a>(
    args: &Args,
    root: &'a Path,
    loaded: &'a Loaded,
    quarantine: &Quarantine,
    in_doubt: &[Op],
    checked: &[Checked],
    as_of: DateTime<Utc>,
    (out, failures, timer): (&mut String, &mut Vec<String>, &mut Timer),
) -> Planning<'a> {
    let catalog = &loaded.catalog;
    let mut want = desired::desired(catalog, &loaded.unreadable, quarantine, as_of);
    let mut backends = applier::backends(catalog, root);
    timer.lap("apply: desired state");
    let observed = execute::observe(&want, &mut backends, |_| true);
    timer.lap("apply: connect and list targets");
    let sod_held = desired::hold_back_sod(&mut want, catalog, &observed, as_of);
    for e in &sod_held {
        let _ = writeln!(out, "held back: {} ({}): {}", e.key, e.file, e.why);
    }
    let (unmanaged, people) = applier::app_indexes(catalog);
    let planned = ops::plan(
        &want,
        &observed,
        &ops::Options {
            unmanaged: &unmanaged,
            people: &people,
            allow_mass_removal: args.allow_mass_removal,
            in_doubt,
        },
    );
    let attribution = gate::Attribution::of_range(checked);
    let work: Vec<(Op, Option<String>)> = planned
        .ops
        .iter()
        .map(|o| (o.clone(), attribution.commit_of(o)))
        .collect();
    for q in &quarantine.entries {
        let _ = writeln!(
            out,
            "quarantined: {} (commit {}: {})",
            q.key,
            short(&q.commit),
            q.reason
        );
    }
    report_held(out, &planned.held, failures);
    let unprovisionable = gate::unprovisionable(&want);
    for e in &unprovisionable {
        let _ = writeln!(out, "not provisioned: {} ({}): {}", e.key, e.file, e.why);
    }
    Planning {
        backends,
        sod_held,
        planned,
        work,
        attribution,
        unprovisionable: !unprovisionable.is_empty(),
    }
}
