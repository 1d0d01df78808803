//! The target systems, connected from the catalog's app policies with secrets from the
//! environment: the core's `Targets` port.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use portcullis_core::model::Catalog;
use portcullis_core::provision::execute::Backends;
use portcullis_provisioners::{self as provisioner, Provisioner};

/// The target systems of a checkout at `root` (a `command` provisioner's program is found
/// from there).
pub struct LocalTargets {
    root: PathBuf,
}

impl LocalTargets {
    pub fn new(root: &Path) -> LocalTargets {
        LocalTargets {
            root: root.to_owned(),
        }
    }
}

impl portcullis_core::apply::run::Targets for LocalTargets {
    fn connect<'c>(&'c self, catalog: &'c Catalog) -> Backends<'c> {
        backends(catalog, &self.root)
    }
}

/// Backends connected from the catalog's app policies, secrets from the environment. With
/// `PORTCULLIS_TIMINGS` set, each app's time in its system is printed when the backends are
/// dropped.
fn backends<'a>(catalog: &'a Catalog, root: &'a Path) -> Backends<'a> {
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
