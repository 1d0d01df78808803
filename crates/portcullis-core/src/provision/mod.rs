//! The applier's core (SPEC section 7): what every target should hold, the operations that get it
//! there, the guards that stop a run from destroying access, and the journal that lets a killed
//! run resume.
//!
//! - [`desired`]: the membership every (app, target) should have, from all grants at head at
//!   once, less expired grants, leavers' grants and quarantined grants;
//! - [`quarantine`]: grant changes that reached the branch without verified approvals, carried
//!   from run to run until a verified change or a removal settles them;
//! - [`ops`]: desired x observed -> operations, revocations first, with the guards: the
//!   mass-removal stop, no removal from a failed listing or from an app whose grant files could
//!   not all be read, and unmanaged accounts left alone;
//! - [`journal`]: the intent and result lines written around every write, and how a crashed
//!   run's lines become evidence;
//! - [`execute`]: runs the operations through [`backend::Provisioner`]s passed in,
//!   journaling before each write and aggregating per-operation failures.
//!
//! Pure: no file, git, network or clock. Backends, the journal sink and the clock are passed
//! in by the edge (`cli/apply.rs`, `cli/reconcile.rs`).

pub mod backend;
pub mod desired;
pub mod drift;
pub mod execute;
pub mod journal;
pub mod memory;
pub mod ops;
pub mod quarantine;

use serde::{Deserialize, Serialize};

/// One group, team or database role of one app: where memberships live.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TargetId {
    pub app: crate::model::AppId,
    pub target: String,
}

impl std::fmt::Display for TargetId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.app, self.target)
    }
}

/// The one grant key: person, app and role (see `model::GrantKey`).
pub use crate::model::GrantKey;
