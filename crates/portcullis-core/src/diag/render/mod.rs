//! One renderer per output format, each over the same `Report`. Public shapes (JSON, SARIF)
//! are their own serde types here, never internal structs serialised as they are.

pub mod github;
pub mod json;
pub mod markdown;
pub mod sarif;
pub mod text;

/// Source lines for excerpts: path -> file text, when the file is readable text.
pub trait Sources {
    fn line(&self, file: &str, line: u32) -> Option<&str>;
}

impl Sources for crate::snapshot::Snapshot {
    fn line(&self, file: &str, line: u32) -> Option<&str> {
        self.text(file)?
            .lines()
            .nth((line as usize).checked_sub(1)?)
    }
}

/// No sources: renders without excerpts.
pub struct NoSources;

impl Sources for NoSources {
    fn line(&self, _: &str, _: u32) -> Option<&str> {
        None
    }
}
