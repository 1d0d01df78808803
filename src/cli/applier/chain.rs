//! A run's identity, as its evidence records it.

/// A run's identity: the workflow run when in GitHub Actions, else this process.
pub fn run_id(started: &str) -> String {
    match (
        std::env::var("GITHUB_RUN_ID")
            .ok()
            .filter(|s| !s.is_empty()),
        std::env::var("GITHUB_RUN_ATTEMPT").ok(),
    ) {
        (Some(id), attempt) => format!("gha-{id}-{}", attempt.unwrap_or_else(|| "1".into())),
        (None, _) => format!("local-{started}-{}", std::process::id()),
    }
}
