//! The target systems, connected from the catalog's app policies, and the indexes the guards
//! read.

use portcullis_core::model::{AppId, PersonId};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use portcullis_core::model::Catalog;
use portcullis_core::provision::execute::Backends;
use portcullis_provisioners::{self as provisioner, Provisioner};

/// Backends connected from the catalog's app policies, secrets from the environment. With
/// `PORTCULLIS_TIMINGS` set, each app's time in its system is printed when the backends are
/// dropped.
pub fn backends<'a>(catalog: &'a Catalog, root: &'a Path) -> Backends<'a> {
    let timed = std::env::var_os("PORTCULLIS_TIMINGS").is_some();
    Backends::new(move |app: &str| {
        let policy = catalog
            .apps
            .get(app)
            .with_context(|| format!("no policy for app `{app}`"))?;
        let started = Instant::now();
        let backend =
            portcullis_provisioners::connect_in(policy, catalog.settings.as_ref(), root, &|k| {
                std::env::var(k).ok()
            })?;
        Ok(if timed {
            Box::new(Timed {
                app: app.to_owned(),
                connect: started.elapsed(),
                calls: [(0, Duration::ZERO); 3],
                inner: backend,
            })
        } else {
            backend
        })
    })
}

/// A backend that adds up the time spent in each kind of call, for `PORTCULLIS_TIMINGS`.
struct Timed {
    app: String,
    connect: Duration,
    /// (calls, time) of list, add and remove.
    calls: [(u32, Duration); 3],
    inner: Box<dyn Provisioner>,
}

impl Timed {
    fn time<T>(&mut self, kind: usize, f: impl FnOnce(&mut dyn Provisioner) -> T) -> T {
        let started = Instant::now();
        let out = f(self.inner.as_mut());
        self.calls[kind].0 += 1;
        self.calls[kind].1 += started.elapsed();
        out
    }
}

impl Provisioner for Timed {
    fn list(&mut self, target: &str) -> Result<BTreeSet<String>> {
        self.time(0, |b| b.list(target))
    }
    fn add(&mut self, target: &str, account: &str) -> Result<provisioner::Effect> {
        self.time(1, |b| b.add(target, account))
    }
    fn remove(&mut self, target: &str, account: &str) -> Result<provisioner::Effect> {
        self.time(2, |b| b.remove(target, account))
    }
}

impl Drop for Timed {
    fn drop(&mut self) {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let [list, add, remove] = self.calls;
        eprintln!(
            "timing: app {}: connect {:.1} ms, {} list {:.1} ms, {} add {:.1} ms, {} remove {:.1} ms",
            self.app,
            ms(self.connect),
            list.0,
            ms(list.1),
            add.0,
            ms(add.1),
            remove.0,
            ms(remove.1)
        );
    }
}

/// Per app: the accounts the policy says to leave alone.
pub type Unmanaged = BTreeMap<AppId, BTreeSet<String>>;
/// Per app: account -> person id.
pub type Accounts = BTreeMap<AppId, HashMap<String, PersonId>>;

/// Per app, the accounts the policy says to leave alone, and who each account belongs to.
pub fn app_indexes(catalog: &Catalog) -> (Unmanaged, Accounts) {
    let unmanaged = catalog
        .apps
        .iter()
        .map(|(id, a)| (id.clone(), a.unmanaged.iter().cloned().collect()))
        .collect();
    let people = catalog
        .apps
        .iter()
        .map(|(id, a)| {
            (
                id.clone(),
                portcullis_core::provision::desired::account_index(catalog, a),
            )
        })
        .collect();
    (unmanaged, people)
}
