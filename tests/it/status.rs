//! The work tree's comparison with a base revision (gix's status) gives libgit2's answer:
//! random edits, stages, removals, links, mode changes, ignored and untracked files, folders
//! turned into files, `add -N`, attributes with filters, index versions 2 to 4, against HEAD
//! and an older base.

use std::fs::{self, File};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use std::collections::BTreeSet;

use proptest::prelude::*;

use crate::support::git;

/// Tracked paths the operations pick from; the last one is not governed.
const PATHS: [&str; 8] = [
    "access/wiki/ada.yaml",
    "access/wiki/bob.yaml",
    "access/wiki/cy.yaml",
    "access/db/ada.yaml",
    "access/db/deep/x.yaml",
    "policies/apps.yaml",
    ".github/CODEOWNERS",
    "src/lib.txt",
];

/// Far enough in the past that no index entry is racy: a file's `lstat` is trusted.
fn long_ago() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000)
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let _ = fs::remove_file(&path);
    fs::write(&path, text).unwrap();
}

fn age_everything(root: &Path) {
    for rel in PATHS {
        if let Ok(f) = File::options().write(true).open(root.join(rel)) {
            f.set_modified(long_ago()).unwrap();
        }
    }
}

/// git, where failing is part of the game (removing what is not there).
fn try_git(root: &Path, args: &[&str]) {
    let _ = Command::new("git")
        .args(args)
        .current_dir(root)
        .output()
        .unwrap();
}

/// Two commits: HEAD~1, then HEAD with one file edited, one added and one removed. The work
/// tree and index are HEAD's, with file times far in the past.
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["config", "core.autocrlf", "false"]);
    for rel in PATHS {
        write(root, rel, &format!("# {rel}\nkey: value\n"));
    }
    write(root, "access/db/old.yaml", "# removed in HEAD\n");
    write(root, ".gitignore", "*.swp\naccess/scratch/\n");
    age_everything(root);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "first"]);
    write(root, "access/wiki/ada.yaml", "# edited in HEAD\n");
    write(root, "access/db/new.yaml", "# added in HEAD\n");
    fs::remove_file(root.join("access/db/old.yaml")).unwrap();
    age_everything(root);
    File::options()
        .write(true)
        .open(root.join("access/db/new.yaml"))
        .unwrap()
        .set_modified(long_ago())
        .unwrap();
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "second"]);
    dir
}

#[derive(Clone, Debug)]
enum Op {
    Edit(usize),
    /// Same length, other bytes, and the old modification time put back: only ctime tells.
    SameSizeRewrite(usize),
    Touch(usize),
    Delete(usize),
    Untracked(usize),
    Ignored(usize),
    Stage(usize),
    StageAll,
    Unstage,
    RemoveFromIndex(usize),
    Chmod(usize),
    Link(usize),
    IntoFolder(usize),
    Restore(usize),
    /// The work tree given back the base's bytes, the index left as it is (a staged edit
    /// undone in the work tree only).
    RevertWorkTree(usize),
    Status,
    IndexVersion(u8),
    /// `git add -N` and an attributes file (the last operation when it comes: a later stage or
    /// reset would undo the first).
    IntentToAdd(usize),
    Attributes,
}

fn op() -> impl Strategy<Value = Op> {
    let i = 0..PATHS.len();
    prop_oneof![
        4 => i.clone().prop_map(Op::Edit),
        2 => i.clone().prop_map(Op::SameSizeRewrite),
        2 => i.clone().prop_map(Op::Touch),
        2 => i.clone().prop_map(Op::Delete),
        2 => (0usize..3).prop_map(Op::Untracked),
        1 => (0usize..2).prop_map(Op::Ignored),
        2 => i.clone().prop_map(Op::Stage),
        1 => Just(Op::StageAll),
        1 => Just(Op::Unstage),
        1 => i.clone().prop_map(Op::RemoveFromIndex),
        1 => i.clone().prop_map(Op::Chmod),
        1 => i.clone().prop_map(Op::Link),
        1 => i.clone().prop_map(Op::IntoFolder),
        2 => i.clone().prop_map(Op::Restore),
        2 => i.clone().prop_map(Op::RevertWorkTree),
        1 => Just(Op::Status),
        1 => (2u8..5).prop_map(Op::IndexVersion),
    ]
}

/// Applies `op`.
fn apply(root: &Path, op: &Op) {
    let path = |i: usize| root.join(PATHS[i]);
    match op {
        Op::Edit(i) => {
            if let Ok(mut text) = fs::read_to_string(path(*i)) {
                text.push_str("more: 1\n");
                fs::write(path(*i), text).unwrap();
            }
        }
        Op::SameSizeRewrite(i) => {
            if let Ok(text) = fs::read(path(*i)) {
                let before = fs::symlink_metadata(path(*i)).unwrap().modified().unwrap();
                let flipped: Vec<u8> = text.iter().map(|b| b ^ 1).collect();
                fs::write(path(*i), flipped).unwrap();
                let f = File::options().write(true).open(path(*i)).unwrap();
                f.set_modified(before).unwrap();
            }
        }
        Op::Touch(i) => {
            if let Ok(f) = File::options().write(true).open(path(*i)) {
                f.set_modified(SystemTime::now()).unwrap();
            }
        }
        Op::Delete(i) => {
            let _ = fs::remove_file(path(*i));
            let _ = fs::remove_dir_all(path(*i));
        }
        Op::Untracked(n) => write(root, &format!("access/wiki/new-{n}.yaml"), "new: 1\n"),
        Op::Ignored(0) => write(root, "access/wiki/ada.yaml.swp", "swap\n"),
        Op::Ignored(_) => write(root, "access/scratch/notes.yaml", "scratch\n"),
        Op::Stage(i) => try_git(root, &["add", "-A", "--", PATHS[*i]]),
        Op::StageAll => try_git(root, &["add", "-A"]),
        Op::Unstage => try_git(root, &["reset", "-q"]),
        Op::RemoveFromIndex(i) => try_git(root, &["rm", "-q", "-r", "--cached", PATHS[*i]]),
        Op::Chmod(i) => {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(meta) = fs::symlink_metadata(path(*i))
                && meta.is_file()
            {
                let mode = meta.permissions().mode() ^ 0o111;
                fs::set_permissions(path(*i), fs::Permissions::from_mode(mode)).unwrap();
            }
        }
        Op::Link(i) => {
            let _ = fs::remove_file(path(*i));
            let _ = fs::remove_dir_all(path(*i));
            fs::create_dir_all(path(*i).parent().unwrap()).unwrap();
            std::os::unix::fs::symlink("../elsewhere.yaml", path(*i)).unwrap();
        }
        Op::IntoFolder(i) => {
            let _ = fs::remove_file(path(*i));
            write(root, &format!("{}/inner.yaml", PATHS[*i]), "inner: 1\n");
        }
        Op::Restore(i) => try_git(root, &["checkout", "-q", "HEAD", "--", PATHS[*i]]),
        Op::RevertWorkTree(i) => {
            let shown = Command::new("git")
                .current_dir(root)
                .args(["show", &format!("HEAD:{}", PATHS[*i])])
                .output()
                .unwrap();
            if shown.status.success() {
                let _ = fs::remove_dir_all(path(*i));
                let _ = fs::remove_file(path(*i));
                fs::create_dir_all(path(*i).parent().unwrap()).unwrap();
                fs::write(path(*i), shown.stdout).unwrap();
            }
        }
        Op::Status => try_git(root, &["status", "--porcelain"]),
        Op::IndexVersion(v) => try_git(root, &["update-index", "--index-version", &v.to_string()]),
        Op::IntentToAdd(n) => {
            let rel = format!("access/wiki/intent-{n}.yaml");
            write(root, &rel, "intent: 1\n");
            git(root, &["add", "-N", &rel]);
        }
        Op::Attributes => {
            write(root, "access/.gitattributes", "*.yaml text\n");
            git(root, &["add", "access/.gitattributes"]);
        }
    }
}

/// gix's answer and libgit2's.
fn compare(root: &Path, base: &str) -> (BTreeSet<String>, portcullis_core::baseline::Touched) {
    let repo = git2::Repository::open(root).unwrap();
    let tree = repo.revparse_single(base).unwrap().peel_to_tree().unwrap();
    let reference = portcullis_git::git::change_since_libgit2(&repo, &tree).unwrap();
    (
        portcullis_git::status::changed(repo.path(), tree.id()).unwrap(),
        reference,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_work_tree_gives_libgit2s_answer(
        ops in prop::collection::vec(op(), 1..10),
        last in prop::option::weighted(0.2, prop_oneof![(0usize..2).prop_map(Op::IntentToAdd), Just(Op::Attributes)]),
        older in any::<bool>(),
    ) {
        let dir = repository();
        let root = dir.path();
        for op in ops.iter().chain(&last) {
            apply(root, op);
        }
        let base = if older { "HEAD~1" } else { "HEAD" };
        let (paths, reference) = compare(root, base);
        prop_assert_eq!(&paths, &reference.paths);
        let change = portcullis_git::git::change_since(&git2::Repository::open(root).unwrap(), base).unwrap();
        prop_assert_eq!(&change.paths, &reference.paths);
        prop_assert_eq!(&change.base.files, &reference.base.files);
    }
}

#[test]
fn an_untouched_work_tree_has_no_change_and_an_older_base_has_the_commits_changes() {
    let dir = repository();
    let (now, _) = compare(dir.path(), "HEAD");
    assert!(now.is_empty(), "{now:?}");
    let (older, _) = compare(dir.path(), "HEAD~1");
    let want = [
        "access/db/new.yaml",
        "access/db/old.yaml",
        "access/wiki/ada.yaml",
    ];
    assert_eq!(older.iter().map(String::as_str).collect::<Vec<_>>(), want);
}

/// The content decides, not the time: a file written back with its old bytes is unchanged,
/// one rewritten to other bytes of the same length and given back its time is changed.
#[test]
fn a_file_is_changed_by_its_bytes_and_not_by_its_times() {
    let dir = repository();
    let root = dir.path();
    apply(root, &Op::Touch(1));
    apply(root, &Op::SameSizeRewrite(2));
    let (paths, reference) = compare(root, "HEAD");
    assert_eq!(
        paths.iter().map(String::as_str).collect::<Vec<_>>(),
        ["access/wiki/cy.yaml"]
    );
    assert_eq!(paths, reference.paths);
}

/// A repository inside a governed folder is reported as libgit2 reports it.
#[test]
fn a_repository_inside_a_governed_folder_is_seen_as_libgit2_sees_it() {
    let dir = repository();
    let root = dir.path();
    git(&root.join("access/db"), &["init", "-q", "nested"]);
    write(root, "access/db/nested/x.yaml", "x: 1\n");
    let (paths, reference) = compare(root, "HEAD");
    assert_eq!(paths, reference.paths);
}

/// Attributes may name filters that change what git hashes: checked out with `eol=crlf`, a
/// file holds CRLF line ends over a blob with LF ones, and touching it changes nothing for
/// git, whether the attributes file is committed or not, at the top or in a governed folder.
#[test]
fn a_file_checked_out_through_a_filter_is_unchanged() {
    for place in [
        ".gitattributes",
        "access/.gitattributes",
        "access/wiki/.gitattributes",
    ] {
        for committed in [false, true] {
            let dir = repository();
            let root = dir.path();
            write(root, place, "*.yaml text eol=crlf\n");
            if committed {
                git(root, &["add", place]);
                git(root, &["commit", "-q", "-m", "attributes"]);
            }
            fs::remove_file(root.join(PATHS[1])).unwrap();
            git(root, &["checkout", "-q", "--", PATHS[1]]);
            assert!(
                fs::read_to_string(root.join(PATHS[1]))
                    .unwrap()
                    .contains("\r\n")
            );
            apply(root, &Op::Touch(1));
            let (paths, reference) = compare(root, "HEAD");
            assert_eq!(paths, reference.paths, "{place}");
            assert!(!paths.contains(PATHS[1]), "{place}: {paths:?}");
        }
    }
}

/// Version 4, whose paths are written as a cut of the previous one, is read as version 2 is.
#[test]
fn index_versions_2_and_4_are_read() {
    for version in ["2", "4"] {
        let dir = repository();
        let root = dir.path();
        apply(root, &Op::Edit(4));
        apply(root, &Op::Untracked(0));
        git(root, &["update-index", "--index-version", version]);
        let header = fs::read(root.join(".git/index")).unwrap();
        assert_eq!(header[7].to_string(), version);
        let (paths, reference) = compare(root, "HEAD~1");
        assert_eq!(paths, reference.paths, "version {version}");
        assert!(paths.contains(PATHS[4]) && paths.contains("access/wiki/new-0.yaml"));
    }
}

/// A governed folder replaced by a file of the same name (and the reverse) is seen as libgit2
/// sees it: the file's own path counts, not only the paths below it.
#[test]
fn a_governed_folder_turned_into_a_file_is_seen() {
    let dir = repository();
    let root = dir.path();
    fs::remove_dir_all(root.join("policies")).unwrap();
    write(root, "policies", "not a folder\n");
    let (paths, reference) = compare(root, "HEAD");
    assert_eq!(paths, reference.paths);
    assert!(paths.contains("policies"), "{paths:?}");
}
