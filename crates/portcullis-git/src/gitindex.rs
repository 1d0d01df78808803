//! git's index file (`.git/index`), read from its bytes: each tracked file's `lstat` data and
//! blob id, and the cached tree ids of folders whose entries have not changed since their tree
//! was written. `workdiff` uses it as git does, to tell which files changed without reading
//! them.
//!
//! Only what can be trusted completely is read. A version, a mandatory extension or an entry
//! flag this reader does not know (split and sparse indexes, merge conflicts, `--assume-unchanged`,
//! `--skip-worktree`, `add -N`) makes it answer [`Unsupported`], and the caller falls back to
//! libgit2. The trailing checksum is not verified: git does not verify it when reading either,
//! and the file is the local clone's own.

use std::collections::HashMap;

/// The fields of `lstat` the index keeps, each cut to 32 bits as the index stores them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatData {
    pub ctime: (u32, u32),
    pub mtime: (u32, u32),
    pub ino: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    pub path: String,
    pub stat: StatData,
    /// git's object mode: 0o100644, 0o100755, 0o120000 (a symlink) or 0o160000 (a submodule).
    pub mode: u32,
    pub oid: [u8; 20],
}

#[derive(Debug, Default)]
pub struct Index {
    /// Sorted by path bytes, as git writes them; one entry per path.
    pub entries: Vec<IndexEntry>,
    /// Folder path ("" for the top) to its tree id, for each folder whose cached tree is valid.
    pub trees: HashMap<String, [u8; 20]>,
}

/// The empty blob's id: an entry of size 0 with another id was emptied by git on purpose.
const EMPTY_BLOB: [u8; 20] = [
    0xe6, 0x9d, 0xe2, 0x9b, 0xb2, 0xd1, 0xd6, 0x43, 0x4b, 0x8b, 0x29, 0xae, 0x77, 0x5a, 0xd8, 0xc2,
    0xe4, 0x8c, 0x53, 0x91,
];

impl IndexEntry {
    /// Whether a file whose `lstat` gave `now` (and git mode `mode`) may be taken to hold this
    /// entry's blob unread, as git decides it:
    /// - every field the entry keeps is equal (nanoseconds only when the entry has them: a git
    ///   built without them writes zeros);
    /// - the entry is not "racy": written in the same clock tick as the index or after it, an
    ///   edit made in that tick would leave every field equal, so its content must be read;
    /// - it is not an entry git emptied (size 0 but not the empty blob), which is how git marks
    ///   a racy entry when it writes the index.
    pub fn unchanged(&self, now: &StatData, mode: u32, index_written: (u32, u32)) -> bool {
        let was = &self.stat;
        let time = |a: (u32, u32), b: (u32, u32)| a.0 == b.0 && (a.1 == 0 || a.1 == b.1);
        let racy = if was.mtime.1 == 0 {
            was.mtime.0 >= index_written.0
        } else {
            was.mtime >= index_written
        };
        self.mode == mode
            && time(was.mtime, now.mtime)
            && time(was.ctime, now.ctime)
            && (was.ino, was.uid, was.gid, was.size) == (now.ino, now.uid, now.gid, now.size)
            && !racy
            && (was.size != 0 || self.oid == EMPTY_BLOB)
    }
}

/// Why this reader does not answer for an index.
#[derive(Debug, PartialEq, Eq)]
pub struct Unsupported(pub &'static str);

const HEADER: usize = 12;
const FIXED: usize = 62;
const CHECKSUM: usize = 20;
const ASSUME_VALID: u16 = 0x8000;
const EXTENDED: u16 = 0x4000;
const STAGE: u16 = 0x3000;
const NAME_LENGTH: u16 = 0x0fff;

pub fn parse(bytes: &[u8]) -> Result<Index, Unsupported> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(4)? != b"DIRC" {
        return Err(Unsupported("not an index file"));
    }
    let version = r.u32()?;
    if !(2..=4).contains(&version) {
        return Err(Unsupported("an index version other than 2, 3 or 4"));
    }
    let count = r.u32()? as usize;
    if bytes.len() < HEADER + CHECKSUM {
        return Err(Unsupported("a truncated index"));
    }
    let end = bytes.len() - CHECKSUM;
    r.bytes = &bytes[..end];
    // Every entry takes at least its fixed part and one byte of path.
    let mut entries = Vec::with_capacity(count.min(end / (FIXED + 1)));
    let mut previous: Vec<u8> = Vec::new();
    for _ in 0..count {
        let start = r.at;
        let mut word = [0u32; 10];
        for w in &mut word {
            *w = r.u32()?;
        }
        let oid: [u8; 20] = r
            .take(20)?
            .try_into()
            .map_err(|_| Unsupported("a bad entry"))?;
        let flags = r.u16()?;
        if flags & ASSUME_VALID != 0 {
            return Err(Unsupported("an entry marked --assume-unchanged"));
        }
        if flags & STAGE != 0 {
            return Err(Unsupported("an unresolved merge conflict"));
        }
        if flags & EXTENDED != 0 {
            if version < 3 {
                return Err(Unsupported("extended flags in a version 2 index"));
            }
            // skip-worktree or intent-to-add: the work tree does not hold what the entry says.
            if r.u16()? != 0 {
                return Err(Unsupported(
                    "an entry marked --skip-worktree or added with -N",
                ));
            }
        }
        let path = if version == 4 {
            let strip = r.varint()?;
            let keep = previous
                .len()
                .checked_sub(strip)
                .ok_or(Unsupported("a bad path prefix"))?;
            previous.truncate(keep);
            previous.extend_from_slice(r.until_nul()?);
            previous.clone()
        } else {
            let name = r.until_nul()?;
            if (flags & NAME_LENGTH) != NAME_LENGTH
                && name.len() != usize::from(flags & NAME_LENGTH)
            {
                return Err(Unsupported("a path whose length disagrees with its flags"));
            }
            // Entries are padded with NULs to a multiple of 8 bytes, the first NUL included.
            let padded = (r.at - start).div_ceil(8) * 8;
            r.at = start + padded;
            if r.at > r.bytes.len() {
                return Err(Unsupported("a truncated entry"));
            }
            name.to_vec()
        };
        let path = String::from_utf8(path).map_err(|_| Unsupported("a path that is not UTF-8"))?;
        let mode = word[6];
        if !matches!(mode, 0o100644 | 0o100755 | 0o120000 | 0o160000) {
            return Err(Unsupported("an entry with an unknown mode"));
        }
        entries.push(IndexEntry {
            path,
            stat: StatData {
                ctime: (word[0], word[1]),
                mtime: (word[2], word[3]),
                ino: word[5],
                uid: word[7],
                gid: word[8],
                size: word[9],
            },
            mode,
            oid,
        });
    }
    if entries
        .windows(2)
        .any(|w| w[0].path.as_bytes() >= w[1].path.as_bytes())
    {
        return Err(Unsupported("entries out of order"));
    }
    let mut trees = HashMap::new();
    while r.at < r.bytes.len() {
        let signature: [u8; 4] = r
            .take(4)?
            .try_into()
            .map_err(|_| Unsupported("a bad extension"))?;
        let size = r.u32()? as usize;
        let body = r.take(size)?;
        match &signature {
            b"TREE" => trees = cached_trees(body)?,
            // An upper-case signature marks an optional extension, a cache that may be ignored.
            [b'A'..=b'Z', ..] => {}
            _ => {
                return Err(Unsupported(
                    "a mandatory index extension (split or sparse index)",
                ));
            }
        }
    }
    Ok(Index { entries, trees })
}

/// The TREE extension: folders in depth-first order, each as its name, its entry count (-1
/// when invalidated), its number of sub-folders and, when valid, its tree id.
fn cached_trees(body: &[u8]) -> Result<HashMap<String, [u8; 20]>, Unsupported> {
    let mut r = Reader { bytes: body, at: 0 };
    let mut trees = HashMap::new();
    // Each open folder's path and how many of its sub-folders are still to come.
    let mut open: Vec<(String, u64)> = Vec::new();
    while r.at < body.len() {
        let name = std::str::from_utf8(r.until_nul()?)
            .map_err(|_| Unsupported("a cached tree name that is not UTF-8"))?;
        let line = r.until(b'\n')?;
        let (count, subtrees) = std::str::from_utf8(line)
            .ok()
            .and_then(|l| l.split_once(' '))
            .and_then(|(c, s)| Some((c.parse::<i64>().ok()?, s.parse::<u64>().ok()?)))
            .ok_or(Unsupported("a bad cached tree"))?;
        while open.last().is_some_and(|(_, left)| *left == 0) {
            open.pop();
        }
        let path = match open.last_mut() {
            None if trees.is_empty() && name.is_empty() => String::new(),
            None => return Err(Unsupported("a cached tree outside the top folder")),
            Some((parent, left)) => {
                *left -= 1;
                if parent.is_empty() {
                    name.to_owned()
                } else {
                    format!("{parent}/{name}")
                }
            }
        };
        if count >= 0 {
            let oid: [u8; 20] = r
                .take(20)?
                .try_into()
                .map_err(|_| Unsupported("a bad tree id"))?;
            trees.insert(path.clone(), oid);
        }
        open.push((path, subtrees));
    }
    Ok(trees)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Unsupported> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(Unsupported("a truncated index"))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, Unsupported> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u16(&mut self) -> Result<u16, Unsupported> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn until(&mut self, stop: u8) -> Result<&'a [u8], Unsupported> {
        let rest = &self.bytes[self.at..];
        let n = memchr::memchr(stop, rest).ok_or(Unsupported("a truncated index"))?;
        self.at += n + 1;
        Ok(&rest[..n])
    }

    fn until_nul(&mut self) -> Result<&'a [u8], Unsupported> {
        self.until(0)
    }

    /// git's offset varint (version 4 path prefixes): 7 bits a byte, each continuation adding one.
    fn varint(&mut self) -> Result<usize, Unsupported> {
        let mut byte = self.take(1)?[0];
        let mut value = usize::from(byte & 0x7f);
        while byte & 0x80 != 0 {
            byte = self.take(1)?[0];
            value = value
                .checked_add(1)
                .and_then(|v| v.checked_mul(128))
                .map(|v| v | usize::from(byte & 0x7f))
                .ok_or(Unsupported("a bad path prefix"))?;
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, flags: u16) -> Vec<u8> {
        let mut e = Vec::new();
        for w in [1u32, 2, 3, 4, 5, 6, 0o100644, 7, 8, 9] {
            e.extend_from_slice(&w.to_be_bytes());
        }
        e.extend_from_slice(&[0xab; 20]);
        e.extend_from_slice(&(flags | path.len() as u16).to_be_bytes());
        e.extend_from_slice(path.as_bytes());
        e.push(0);
        while e.len() % 8 != 0 {
            e.push(0);
        }
        e
    }

    fn extension(signature: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut ext = signature.to_vec();
        ext.extend_from_slice(&(body.len() as u32).to_be_bytes());
        ext.extend_from_slice(body);
        ext
    }

    fn index(version: u32, entries: &[Vec<u8>], extensions: &[u8]) -> Vec<u8> {
        let mut b = b"DIRC".to_vec();
        b.extend_from_slice(&version.to_be_bytes());
        b.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        for e in entries {
            b.extend_from_slice(e);
        }
        b.extend_from_slice(extensions);
        b.extend_from_slice(&[0; 20]);
        b
    }

    #[test]
    fn reads_entries_and_their_stat_data() {
        let got = parse(&index(
            2,
            &[entry("a/b.yaml", 0), entry("a/c.yaml", 0)],
            b"",
        ))
        .unwrap();
        assert_eq!(got.entries.len(), 2);
        assert_eq!(got.entries[1].path, "a/c.yaml");
        let e = &got.entries[0];
        assert_eq!(
            (e.stat.ctime, e.stat.mtime, e.stat.ino),
            ((1, 2), (3, 4), 6)
        );
        assert_eq!(
            (e.stat.uid, e.stat.gid, e.stat.size, e.mode),
            (7, 8, 9, 0o100644)
        );
    }

    #[test]
    fn conflicts_and_flagged_entries_are_not_answered_for() {
        for flags in [ASSUME_VALID, 0x1000, 0x2000, 0x3000] {
            assert!(
                parse(&index(2, &[entry("a", flags)], b"")).is_err(),
                "{flags:#x}"
            );
        }
        let mut flagged = entry("a", EXTENDED);
        flagged.splice(62..62, [0x40, 0]);
        assert!(parse(&index(3, &[flagged], b"")).is_err());
    }

    #[test]
    fn a_mandatory_extension_is_not_answered_for_and_an_optional_one_is_skipped() {
        let ext = extension(b"link", b"");
        assert_eq!(
            parse(&index(2, &[entry("a", 0)], &ext)).unwrap_err(),
            Unsupported("a mandatory index extension (split or sparse index)")
        );
        let ext = extension(b"UNTR", b"xyz");
        assert_eq!(
            parse(&index(2, &[entry("a", 0)], &ext))
                .unwrap()
                .entries
                .len(),
            1
        );
    }

    #[test]
    fn cached_trees_get_their_full_paths_and_invalid_ones_are_left_out() {
        let mut body = Vec::new();
        body.extend_from_slice(b"\x003 2\n");
        body.extend_from_slice(&[1; 20]);
        body.extend_from_slice(b"access\x00-1 1\n");
        body.extend_from_slice(b"wiki\x002 0\n");
        body.extend_from_slice(&[2; 20]);
        body.extend_from_slice(b"policies\x001 0\n");
        body.extend_from_slice(&[3; 20]);
        let ext = extension(b"TREE", &body);
        let got = parse(&index(2, &[entry("a", 0)], &ext)).unwrap();
        let mut trees: Vec<_> = got.trees.into_iter().collect();
        trees.sort();
        assert_eq!(
            trees,
            [
                (String::new(), [1; 20]),
                ("access/wiki".to_owned(), [2; 20]),
                ("policies".to_owned(), [3; 20])
            ]
        );
    }

    #[test]
    fn a_file_is_taken_unread_only_when_every_kept_field_matches_and_the_entry_is_not_racy() {
        let e = &parse(&index(2, &[entry("a", 0)], b"")).unwrap().entries[0];
        let same = e.stat;
        let written = (100, 0);
        assert!(e.unchanged(&same, 0o100644, written));
        let changes: [fn(&mut StatData); 8] = [
            |s| s.ctime.0 += 1,
            |s| s.ctime.1 += 1,
            |s| s.mtime.0 += 1,
            |s| s.mtime.1 += 1,
            |s| s.ino += 1,
            |s| s.uid += 1,
            |s| s.gid += 1,
            |s| s.size += 1,
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut now = same;
            change(&mut now);
            assert!(!e.unchanged(&now, 0o100644, written), "field {i}");
        }
        assert!(!e.unchanged(&same, 0o100755, written), "an exec bit set");
        assert!(!e.unchanged(&same, 0o120000, written), "turned into a link");
        // Written in the same instant as the index, or after it: read it.
        assert!(!e.unchanged(&same, 0o100644, e.stat.mtime));
        assert!(!e.unchanged(&same, 0o100644, (e.stat.mtime.0, e.stat.mtime.1 - 1)));
        assert!(e.unchanged(&same, 0o100644, (e.stat.mtime.0, e.stat.mtime.1 + 1)));
        // Without nanoseconds, the same second is racy.
        let mut coarse = e.clone();
        coarse.stat.mtime.1 = 0;
        coarse.stat.ctime.1 = 0;
        assert!(!coarse.unchanged(&same, 0o100644, (e.stat.mtime.0, 999)));
        assert!(coarse.unchanged(&same, 0o100644, (e.stat.mtime.0 + 1, 0)));
        // Emptied by git: its size no longer says anything.
        let mut emptied = e.clone();
        emptied.stat.size = 0;
        let now = emptied.stat;
        assert!(!emptied.unchanged(&now, 0o100644, written));
        emptied.oid = EMPTY_BLOB;
        assert!(emptied.unchanged(&now, 0o100644, written));
    }

    proptest::proptest! {
        /// Damaged anywhere (header, flags, lengths, version 4 prefixes, cached trees), an
        /// index is refused or read, never a panic.
        #[test]
        fn damaged_indexes_never_panic(
            version in 2u32..5,
            edits in proptest::collection::vec((0usize..4096, proptest::prelude::any::<u8>()), 1..8),
        ) {
            let mut body = b"\x003 1\n".to_vec();
            body.extend_from_slice(&[1; 20]);
            body.extend_from_slice(b"access\x002 0\n");
            body.extend_from_slice(&[2; 20]);
            let ext = extension(b"TREE", &body);
            let mut bytes = index(version, &[entry("access/a", 0), entry("access/b", 0)], &ext);
            for (at, byte) in edits {
                let at = at % bytes.len();
                bytes[at] = byte;
            }
            let _ = parse(&bytes);
        }
    }

    #[test]
    fn any_cut_of_an_index_is_refused_or_read_without_panicking() {
        let whole = index(2, &[entry("a/b", 0), entry("a/c", 0)], b"");
        for cut in 0..whole.len() {
            let _ = parse(&whole[..cut]);
        }
        assert!(parse(&whole[..whole.len() - 21]).is_err());
    }
}
