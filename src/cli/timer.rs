//! `PORTCULLIS_TIMINGS=1`: how long each phase of a command took and how much memory it held,
//! printed to stderr for the benchmarks.

/// The process's resident and peak resident memory, as Linux reports it; empty elsewhere.
fn resident() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map_or("?".to_owned(), |v| v.trim().to_owned())
    };
    format!("{} (peak {})", field("VmRSS:"), field("VmHWM:"))
}

/// `PORTCULLIS_TIMINGS=1` prints how long each phase took, to stderr, for benchmarks.
pub(crate) struct Timer(Option<std::time::Instant>);

impl Timer {
    pub(crate) fn from_env() -> Timer {
        Timer(std::env::var_os("PORTCULLIS_TIMINGS").map(|_| std::time::Instant::now()))
    }

    pub(crate) fn lap(&mut self, phase: &str) {
        if let Some(start) = self.0 {
            eprintln!(
                "timing: {phase} {:.1} ms, resident {}",
                start.elapsed().as_secs_f64() * 1000.0,
                resident()
            );
            self.0 = Some(std::time::Instant::now());
        }
    }
}
