//! What `init` writes besides the example organisation: the JSON Schemas and the workflows,
//! built into the binary, and the action reference the workflows pin.

pub(super) const SCHEMAS: [(&str, &str); 6] = [
    ("app", include_str!("../../schemas/app.schema.json")),
    (
        "birthright",
        include_str!("../../schemas/birthright.schema.json"),
    ),
    ("grant", include_str!("../../schemas/grant.schema.json")),
    ("people", include_str!("../../schemas/people.schema.json")),
    (
        "settings",
        include_str!("../../schemas/settings.schema.json"),
    ),
    ("sod", include_str!("../../schemas/sod.schema.json")),
];

pub(super) const WORKFLOWS: [(&str, &str); 6] = [
    (
        "check",
        include_str!("../../templates/init/workflows/check.yml"),
    ),
    (
        "approvals",
        include_str!("../../templates/init/workflows/approvals.yml"),
    ),
    (
        "approvals-status",
        include_str!("../../templates/init/workflows/approvals-status.yml"),
    ),
    (
        "apply",
        include_str!("../../templates/init/workflows/apply.yml"),
    ),
    (
        "expire",
        include_str!("../../templates/init/workflows/expire.yml"),
    ),
    (
        "request",
        include_str!("../../templates/init/workflows/request.yml"),
    ),
];

/// The action this build's workflows use: the release workflow stamps the commit it was
/// built from (`PORTCULLIS_ACTION_SHA`); a build without one names the version's tag, which
/// `init` asks the operator to pin.
pub(super) fn default_action() -> (String, bool) {
    match option_env!("PORTCULLIS_ACTION_SHA") {
        Some(sha) if sha.len() == 40 => (
            format!(
                "portcullis-dev/portcullis@{sha} # v{}",
                env!("CARGO_PKG_VERSION")
            ),
            true,
        ),
        _ => (
            format!("portcullis-dev/portcullis@v{}", env!("CARGO_PKG_VERSION")),
            false,
        ),
    }
}
