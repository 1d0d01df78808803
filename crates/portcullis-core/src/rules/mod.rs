//! The rules of SPEC section 4 over a loaded catalog. One module per family; each pushes
//! diagnostics and goes on. Pure: time, commit dates and the CODEOWNERS text are passed in.

mod codeowners;
mod expiry;
mod references;
mod review;
mod sod;

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::diag::Diagnostic;
use crate::model::{App, Catalog, Grant, GrantFile, Person, Role};

/// Everything the rules may look at besides the catalog.
pub struct Context<'a> {
    pub as_of: DateTime<Utc>,
    /// For `review-overdue`: when a grant file was last changed by a commit.
    pub last_touched: &'a HashMap<String, DateTime<Utc>>,
    /// `.github/CODEOWNERS` for `codeowners-drift`: `None` when absent, `Some(None)` when present
    /// but unreadable (too large, not UTF-8, a symlink: reported by its own rule).
    pub codeowners: Option<Option<&'a str>>,
}

/// A grant with everything it refers to, when those references resolve.
pub struct GrantRef<'c> {
    pub file: &'c GrantFile,
    pub grant: &'c Grant,
    pub person: Option<&'c Person>,
    pub app: Option<&'c App>,
    pub role: Option<&'c Role>,
}

pub fn grants<'c>(catalog: &'c Catalog) -> impl Iterator<Item = GrantRef<'c>> {
    catalog.grant_files.iter().flat_map(move |file| {
        let person = catalog.people.get(&file.person.value).map(Box::as_ref);
        let app = catalog.apps.get(&file.app.value);
        file.grants.iter().map(move |grant| GrantRef {
            file,
            grant,
            person,
            app,
            role: app.and_then(|a| a.roles.get(&grant.role.value)),
        })
    })
}

impl GrantRef<'_> {
    pub fn subject(&self, d: Diagnostic) -> Diagnostic {
        d.subject(
            Some(&self.file.person.value),
            Some(&self.file.app.value),
            Some(&self.grant.role.value),
        )
    }

    pub fn label(&self) -> String {
        format!(
            "`{}:{}` of `{}`",
            self.file.app.value, self.grant.role.value, self.file.person.value
        )
    }
}

/// Every rule, in one pass over the catalog.
pub fn check(catalog: &Catalog, ctx: &Context) -> Vec<Diagnostic> {
    // The families are independent passes over the catalog: two at a time on two cores.
    let (mut out, more) = rayon::join(
        || {
            let mut out = Vec::new();
            references::check(catalog, &mut out);
            review::check(catalog, ctx, &mut out);
            codeowners::check(catalog, ctx, &mut out);
            out
        },
        || {
            let mut out = Vec::new();
            expiry::check(catalog, ctx, &mut out);
            sod::check(catalog, ctx, &mut out);
            out
        },
    );
    out.extend(more);
    out
}

pub use expiry::expiry_required;

/// Grant files whose last commit date `review-overdue` needs (no `reviewed:` on some grant of
/// an app with `review_every`); the git edge looks these up and nothing else.
pub fn files_needing_history(catalog: &Catalog) -> Vec<&str> {
    review::files_needing_history(catalog)
}
