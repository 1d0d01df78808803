//! Everything portcullis prints goes through here. In GitHub Actions a line that starts with
//! `::` is a workflow command (`::add-mask::`, `::error::`, `::stop-commands::`), and printed
//! text carries untrusted content: justifications, names, issue forms, HR exports, GitHub's own
//! error bodies. So no printed line may start with `::` (THREATS 5, SPEC section 8); the one
//! exception is `check --format github`, whose annotations escape their content themselves.

use std::borrow::Cow;
use std::io::Write;

/// `text` with every line that would start a workflow command defused by a leading `\`.
pub fn neutralize(text: &str) -> Cow<'_, str> {
    if !text.contains("::") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with("::") {
            out.push('\\');
        }
        out.push_str(line);
    }
    Cow::Owned(out)
}

pub fn stdout(text: &str) -> std::io::Result<()> {
    std::io::stdout()
        .lock()
        .write_all(neutralize(text).as_bytes())
}

pub fn stderr(text: &str) -> std::io::Result<()> {
    std::io::stderr()
        .lock()
        .write_all(neutralize(text).as_bytes())
}

/// Unfiltered: only for output whose every line portcullis wrote itself with escaped content.
pub fn stdout_raw(text: &str) -> std::io::Result<()> {
    std::io::stdout().lock().write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::neutralize;

    #[test]
    fn no_line_starts_a_workflow_command() {
        let text = "ok\n::add-mask::x\n   ::error::y\na::b\n::\n";
        let out = neutralize(text);
        assert_eq!(out, "ok\n\\::add-mask::x\n\\   ::error::y\na::b\n\\::\n");
        assert!(out.lines().all(|l| !l.trim_start().starts_with("::")));
    }
}
