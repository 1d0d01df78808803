//! Where each governed file may live (SPEC section 2). Anything else in a governed folder is a
//! stray file and is reported, never silently ignored.

use crate::diag::{Diagnostic, Rule};
use crate::model::{BIRTHRIGHT_FILE, CODEOWNERS_FILE, PEOPLE_FILE, SETTINGS_FILE, SOD_FILE};

use super::yaml::Pos;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Settings,
    People,
    App,
    Sod,
    Birthright,
    Grant,
    Codeowners,
    /// Governed but not read by `check` (schemas, workflows, templates).
    Other,
}

/// `access/<app>/<person>.yaml` -> (`app`, `person`).
pub fn grant_path_parts(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("access/")?;
    let (app, file) = rest.split_once('/')?;
    let person = file.strip_suffix(".yaml")?;
    (!person.contains('/')).then_some((app, person))
}

fn stray(path: &str, message: String, hint: &str) -> Box<Diagnostic> {
    Box::new(Diagnostic::new(Rule::PathMismatch, path, Pos::START, message).hint(hint))
}

pub fn classify(path: &str) -> Result<FileKind, Box<Diagnostic>> {
    if !path.is_ascii() {
        return Err(stray(
            path,
            format!("path `{path}` is not ASCII"),
            "name files with lowercase ASCII ids only",
        ));
    }
    if path.ends_with(".yml") && (path.starts_with("access/") || path.starts_with("policies/")) {
        return Err(stray(
            path,
            format!("`{path}` ends in `.yml`"),
            "governed files end in `.yaml`; rename the file",
        ));
    }
    match path {
        SETTINGS_FILE => return Ok(FileKind::Settings),
        PEOPLE_FILE => return Ok(FileKind::People),
        SOD_FILE => return Ok(FileKind::Sod),
        BIRTHRIGHT_FILE => return Ok(FileKind::Birthright),
        CODEOWNERS_FILE => return Ok(FileKind::Codeowners),
        _ => {}
    }
    if let Some(rest) = path.strip_prefix("policies/apps/") {
        if rest.ends_with(".yaml") && !rest.contains('/') {
            return Ok(FileKind::App);
        }
        return Err(stray(
            path,
            format!("`{path}` is not an app file"),
            "app files are `policies/apps/<app>.yaml`",
        ));
    }
    if path.starts_with("policies/") {
        return Err(stray(
            path,
            format!("`{path}` is not a policy file"),
            "policies/ holds settings.yaml, people.yaml, sod.yaml, birthright.yaml and apps/<app>.yaml only",
        ));
    }
    if path.starts_with("access/") {
        return match grant_path_parts(path) {
            Some((app, person)) if is_id(app) && is_id(person) => Ok(FileKind::Grant),
            _ => Err(stray(
                path,
                format!("`{path}` is not at `access/<app>/<person>.yaml`"),
                "grant files live at `access/<app>/<person>.yaml`, one per person per app",
            )),
        };
    }
    Ok(FileKind::Other)
}

/// `^[a-z0-9][a-z0-9._-]{0,62}$`
pub fn is_id(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places() {
        assert_eq!(classify("access/github/dave.yaml"), Ok(FileKind::Grant));
        assert_eq!(classify("policies/apps/github.yaml"), Ok(FileKind::App));
        assert_eq!(classify("schemas/grant.schema.json"), Ok(FileKind::Other));
        for bad in [
            "access/github/dave.yml",
            "access/dave.yaml",
            "access/github/x/dave.yaml",
            "access/github/README.md",
            "access/GitHub/dave.yaml",
            "policies/notes.txt",
            "policies/apps/x/y.yaml",
            "access/github/dävé.yaml",
        ] {
            let d = classify(bad).expect_err(bad);
            assert_eq!(d.rule, Rule::PathMismatch, "{bad}");
        }
    }
}
