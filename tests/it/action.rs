//! The action's install logic (`scripts/install-portcullis`, which `action.yml` runs) against
//! a release directory served from the file system: the right checksum installs, a wrong one
//! refuses, a version with no release says which, and the version comes from the settings.
//! (`workflows.rs` holds `action.yml` to the workflows' rules: pinned, no expression in a shell.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::Digest;

const TARGETS: [&str; 4] = [
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-musl",
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
];

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-portcullis")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Releases of `version` for every target, as the release workflow lays them out: a
/// `portcullis` that prints which version it is, in a `.tar.gz`, and `SHA256SUMS`.
fn release(dir: &Path, version: &str) {
    let at = dir.join(format!("v{version}"));
    std::fs::create_dir_all(&at).unwrap();
    let stage = tempfile::tempdir().unwrap();
    let bin = stage.path().join("portcullis");
    std::fs::write(&bin, format!("#!/bin/sh\necho portcullis {version}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut sums = String::new();
    for target in TARGETS {
        let name = format!("portcullis-{version}-{target}.tar.gz");
        let ok = Command::new("tar")
            .arg("-czf")
            .arg(at.join(&name))
            .arg("-C")
            .arg(stage.path())
            .arg("portcullis")
            .status()
            .unwrap();
        assert!(ok.success());
        let digest = sha2::Sha256::digest(std::fs::read(at.join(&name)).unwrap());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        sums.push_str(&format!("{hex}  {name}\n"));
    }
    std::fs::write(at.join("SHA256SUMS"), sums).unwrap();
}

fn install(releases: &Path, cwd: &Path, args: &[&str]) -> Output {
    Command::new(script())
        .args(args)
        .current_dir(cwd)
        .env(
            "PORTCULLIS_RELEASE_URL",
            format!("file://{}", releases.display()),
        )
        .output()
        .unwrap()
}

#[test]
fn the_right_checksum_installs_the_pinned_version() {
    let releases = tempfile::tempdir().unwrap();
    release(releases.path(), "0.9.0");
    release(releases.path(), "1.0.0");
    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(repo.path().join("policies")).unwrap();
    std::fs::write(
        repo.path().join("policies/settings.yaml"),
        "org: acme\nportcullis_version: \"0.9.0\" # pinned by the security team\n",
    )
    .unwrap();
    let dest = repo.path().join("bin");
    let out = install(releases.path(), repo.path(), &[dest.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let installed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        installed.trim(),
        dest.join("portcullis").display().to_string()
    );
    let ran = Command::new(dest.join("portcullis")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "portcullis 0.9.0\n");

    // An explicit version wins over the pin.
    let out = install(
        releases.path(),
        repo.path(),
        &["1.0.0", dest.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    let ran = Command::new(dest.join("portcullis")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "portcullis 1.0.0\n");
}

#[test]
fn a_wrong_checksum_installs_nothing() {
    let releases = tempfile::tempdir().unwrap();
    release(releases.path(), "0.9.0");
    // The archive is replaced after the checksums were made: a tampered download.
    let at = releases.path().join("v0.9.0");
    for target in TARGETS {
        let name = at.join(format!("portcullis-0.9.0-{target}.tar.gz"));
        let mut bytes = std::fs::read(&name).unwrap();
        bytes.extend_from_slice(b"tampered");
        std::fs::write(&name, bytes).unwrap();
    }
    let dest = tempfile::tempdir().unwrap();
    let out = install(
        releases.path(),
        dest.path(),
        &["0.9.0", dest.path().to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("refusing to install it"),
        "{}",
        text(&out)
    );
    assert!(!dest.path().join("portcullis").exists());
}

#[test]
fn a_version_with_no_release_says_which() {
    let releases = tempfile::tempdir().unwrap();
    release(releases.path(), "0.9.0");
    let dest = tempfile::tempdir().unwrap();
    let out = install(
        releases.path(),
        dest.path(),
        &["0.9.1", dest.path().to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("portcullis 0.9.1 has no release asset `SHA256SUMS`"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("portcullis_version"), "{}", text(&out));
    // Without a version, and no settings to read one from, it says so.
    let out = install(
        releases.path(),
        dest.path(),
        &[dest.path().to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("no version given"), "{}", text(&out));
    let out = install(releases.path(), dest.path(), &["0.9.0; rm -rf /", "x"]);
    assert!(text(&out).contains("is not a version"), "{}", text(&out));
}
