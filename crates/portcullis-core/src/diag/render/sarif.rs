//! `--format sarif`: SARIF 2.1.0 for code scanning, with its own serde model.

use serde::Serialize;

use crate::diag::{Report, Rule};
use crate::model::Severity;

#[derive(Serialize)]
struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run>,
}

#[derive(Serialize)]
struct Run {
    tool: Tool,
    results: Vec<SarifResult>,
    #[serde(rename = "columnKind")]
    column_kind: &'static str,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
struct Driver {
    name: &'static str,
    version: &'static str,
    #[serde(rename = "informationUri")]
    information_uri: &'static str,
    rules: Vec<ReportingDescriptor>,
}

#[derive(Serialize)]
struct ReportingDescriptor {
    id: &'static str,
    #[serde(rename = "shortDescription")]
    short_description: Message,
    #[serde(rename = "fullDescription")]
    full_description: Message,
    #[serde(rename = "defaultConfiguration")]
    default_configuration: Configuration,
    /// GitHub marks `help` required for code scanning and shows nothing without it.
    help: Help,
    #[serde(rename = "helpUri")]
    help_uri: String,
}

#[derive(Serialize)]
struct Help {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct Message {
    text: String,
}

#[derive(Serialize)]
struct SarifResult {
    #[serde(rename = "ruleId")]
    rule_id: &'static str,
    #[serde(rename = "ruleIndex")]
    rule_index: usize,
    level: &'static str,
    message: Message,
    locations: Vec<Location>,
    #[serde(rename = "relatedLocations", skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<Location>,
    #[serde(rename = "baselineState")]
    baseline_state: &'static str,
    /// Without it an upload through the API cannot tell a finding from one already known and
    /// opens a duplicate alert. Built from what the finding is about (rule, file, grant), not
    /// its line, so an edit above it keeps the same alert.
    #[serde(rename = "partialFingerprints")]
    partial_fingerprints: std::collections::BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
struct Location {
    #[serde(rename = "physicalLocation")]
    physical_location: PhysicalLocation,
}

#[derive(Serialize)]
struct PhysicalLocation {
    #[serde(rename = "artifactLocation")]
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize)]
struct ArtifactLocation {
    uri: String,
    #[serde(rename = "uriBaseId")]
    uri_base_id: &'static str,
}

#[derive(Serialize)]
struct Region {
    #[serde(rename = "startLine")]
    start_line: u32,
    #[serde(rename = "startColumn", skip_serializing_if = "Option::is_none")]
    start_column: Option<u32>,
}

/// Where the rules' pages live.
const REPOSITORY: &str = "https://github.com/portcullis-dev/portcullis";

/// SHA-256 of the finding's identity: rule, file, and the grant it is about; a finding about no
/// grant adds its message, line numbers taken out.
fn fingerprint(d: &crate::diag::Diagnostic) -> String {
    use sha2::{Digest, Sha256};
    let about = match (&d.person, &d.app, &d.role) {
        (None, None, None) => d
            .message
            .chars()
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .collect(),
        (p, a, r) => format!(
            "{}\u{1f}{}\u{1f}{}",
            p.as_deref().unwrap_or_default(),
            a.as_deref().unwrap_or_default(),
            r.as_deref().unwrap_or_default()
        ),
    };
    let digest = Sha256::digest(format!("{}\u{1f}{}\u{1f}{about}", d.rule.id(), d.file).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn location(file: &str, line: u32, column: Option<u32>) -> Location {
    Location {
        physical_location: PhysicalLocation {
            artifact_location: ArtifactLocation {
                uri: file.to_owned(),
                uri_base_id: "%SRCROOT%",
            },
            region: Region {
                start_line: line.max(1),
                start_column: column.map(|c| c.max(1)),
            },
        },
    }
}

pub fn render(report: &Report) -> String {
    let rules = Rule::ALL
        .iter()
        .map(|r| ReportingDescriptor {
            id: r.id(),
            short_description: Message {
                text: r.id().to_owned(),
            },
            full_description: Message {
                text: r.summary().to_owned(),
            },
            default_configuration: Configuration {
                level: level(r.default_severity()),
            },
            help: Help {
                text: r.doc().to_owned(),
                markdown: r.doc().to_owned(),
            },
            help_uri: format!("{REPOSITORY}/blob/main/docs/rules/{}.md", r.id()),
        })
        .collect();
    let results = report
        .diagnostics
        .iter()
        .map(|d| SarifResult {
            rule_id: d.rule.id(),
            rule_index: Rule::ALL.iter().position(|r| *r == d.rule).unwrap_or(0),
            level: if d.pre_existing {
                "note"
            } else {
                level(d.severity)
            },
            message: Message {
                text: match &d.hint {
                    Some(h) => format!("{}\nhint: {h}", d.message),
                    None => d.message.clone(),
                },
            },
            locations: vec![location(&d.file, d.pos.line, Some(d.pos.col))],
            related_locations: d
                .related
                .iter()
                .map(|r| location(&r.file, r.line, None))
                .collect(),
            baseline_state: if d.pre_existing { "unchanged" } else { "new" },
            partial_fingerprints: std::collections::BTreeMap::from([(
                "portcullisFinding/v1",
                fingerprint(d),
            )]),
        })
        .collect();
    let log = Log {
        schema: "https://json.schemastore.org/sarif-2.1.0.json",
        version: "2.1.0",
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: "portcullis",
                    version: env!("CARGO_PKG_VERSION"),
                    information_uri: REPOSITORY,
                    rules,
                },
            },
            results,
            column_kind: "unicodeCodePoints",
        }],
    };
    let mut s = serde_json::to_string_pretty(&log).unwrap_or_default();
    s.push('\n');
    s
}
