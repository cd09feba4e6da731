//! One layer's changes in tar order, held compactly: what a layer of a million small files
//! costs a scan is what this keeps per entry.
//!
//! Most entries of a big layer are plain files that are not executables (documentation, locale
//! data, headers). The merge needs their paths, and exactly: such a file shadows whatever a lower
//! layer held at its path (an executable among them), replaces a directory tree, and turns a
//! lower layer's file or symlink at one of its ancestors into a directory. So their paths are
//! kept whole, but front-coded: tar writes a directory's entries together, so each path is
//! stored as the length it shares with the previous plain path plus the rest, a few bytes
//! instead of a heap allocation and a [`Change`] each. Every other change (executables,
//! directories, links, whiteouts, package databases) stays a [`Change`]. Iterating gives the
//! changes back in tar order, plain files as `Change::Put(path, Node::File(None))`, one path
//! allocated at a time.
//!
//! Exact paths rather than fixed-width path digests: a digest collision would let a data file
//! hide an executable from the manifest, so a digest scheme needs a collision argument; front
//! coding needs none and, on real trees, is smaller than a 16-byte digest per path.
//!
//! Pure data: no I/O.

use borsh::{BorshDeserialize, BorshSerialize};

use super::{Change, Node};

/// A layer's changes in tar order (see the module documentation).
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct LayerChanges {
    /// Every change but plain files, in tar order.
    structural: Vec<Change>,
    /// Plain files, front-coded in tar order: per path, three LEB128 numbers (how many
    /// structural changes precede it since the previous plain file, the length it shares with
    /// the previous plain path, the length of the rest) and the rest's bytes.
    plain: Vec<u8>,
    /// How many plain files `plain` holds.
    plain_count: usize,
    /// The previous plain path (for encoding) and the structural count when it was pushed.
    last_plain: Vec<u8>,
    last_plain_at: usize,
}

impl LayerChanges {
    /// No changes.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a change, after every change appended before it.
    pub fn push(&mut self, change: Change) {
        match change {
            Change::Put(path, Node::File(None) | Node::Special) => self.push_plain(&path),
            change => self.structural.push(change),
        }
    }

    fn push_plain(&mut self, path: &[u8]) {
        let shared = path
            .iter()
            .zip(&self.last_plain)
            .take_while(|(a, b)| a == b)
            .count();
        let rest = &path[shared..];
        write_number(&mut self.plain, self.structural.len() - self.last_plain_at);
        write_number(&mut self.plain, shared);
        write_number(&mut self.plain, rest.len());
        self.plain.extend_from_slice(rest);
        self.last_plain.truncate(shared);
        self.last_plain.extend_from_slice(rest);
        self.last_plain_at = self.structural.len();
        self.plain_count += 1;
    }

    /// How many changes there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.structural.len() + self.plain_count
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The changes that are not plain files, in tar order: whiteouts, opaque markers,
    /// executables, directories, links, package databases.
    #[must_use]
    pub fn structural(&self) -> &[Change] {
        &self.structural
    }

    /// [`Self::structural`], mutable (to complete executables' records).
    pub fn structural_mut(&mut self) -> &mut [Change] {
        &mut self.structural
    }

    /// Bytes held for the plain files' paths (what a million small files cost).
    #[must_use]
    pub fn plain_bytes(&self) -> usize {
        self.plain.len()
    }

    /// Every change in tar order (a copy; the merge consumes them with `into_iter`).
    pub fn iter(&self) -> impl Iterator<Item = Change> + '_ {
        self.clone().into_iter()
    }
}

impl IntoIterator for LayerChanges {
    type Item = Change;
    type IntoIter = Ordered;

    /// Every change in tar order.
    fn into_iter(self) -> Ordered {
        let mut ordered = Ordered {
            structural: self.structural.into_iter(),
            next_structural: 0,
            plain: self.plain,
            cursor: 0,
            path: Vec::new(),
            next_plain_at: None,
        };
        ordered.next_plain_at = ordered.read_gap();
        ordered
    }
}

impl From<Vec<Change>> for LayerChanges {
    fn from(changes: Vec<Change>) -> Self {
        let mut out = Self::new();
        for change in changes {
            out.push(change);
        }
        out
    }
}

/// A layer's changes in tar order: the structural ones merged with the decoded plain paths.
pub struct Ordered {
    structural: std::vec::IntoIter<Change>,
    /// Index of the next structural change.
    next_structural: usize,
    /// The front-coded plain paths, and where decoding stands in them.
    plain: Vec<u8>,
    cursor: usize,
    /// The last decoded plain path.
    path: Vec<u8>,
    /// The structural index the next plain path comes before.
    next_plain_at: Option<usize>,
}

impl Ordered {
    fn read(&mut self) -> usize {
        let mut rest = &self.plain[self.cursor..];
        let value = read_number(&mut rest);
        self.cursor = self.plain.len() - rest.len();
        value
    }

    /// The next plain entry's gap, if there is one.
    fn read_gap(&mut self) -> Option<usize> {
        (self.cursor < self.plain.len()).then(|| self.read())
    }
}

impl Iterator for Ordered {
    type Item = Change;

    fn next(&mut self) -> Option<Change> {
        if let Some(at) = self.next_plain_at
            && at <= self.next_structural
        {
            let shared = self.read();
            let length = self.read();
            let end = self.cursor.saturating_add(length).min(self.plain.len());
            self.path.truncate(shared);
            self.path
                .extend_from_slice(&self.plain[self.cursor.min(end)..end]);
            self.cursor = end;
            self.next_plain_at = self.read_gap().map(|gap| at.saturating_add(gap));
            return Some(Change::Put(self.path.clone(), Node::File(None)));
        }
        let change = self.structural.next()?;
        self.next_structural += 1;
        Some(change)
    }
}

/// LEB128: seven bits a byte, low first.
fn write_number(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

/// Reads a LEB128 number written by [`write_number`]; the buffer is this module's own.
fn read_number(input: &mut &[u8]) -> usize {
    let mut value = 0usize;
    let mut shift = 0;
    while let Some((&byte, rest)) = input.split_first() {
        *input = rest;
        // An over-long number (only from a damaged cache entry) saturates instead of panicking.
        value |= usize::from(byte & 0x7f)
            .checked_shl(shift)
            .unwrap_or(usize::MAX);
        if byte & 0x80 == 0 {
            break;
        }
        shift = shift.saturating_add(7);
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::{put, whiteout};

    #[test]
    fn changes_come_back_in_tar_order() {
        let changes = vec![
            put("a.txt", Node::File(None)),
            put("ab.txt", Node::Special),
            whiteout("gone"),
            put("usr", Node::Directory(0o755)),
            put("usr/share/doc/x/copyright", Node::File(None)),
            put("usr/share/doc/x/changelog.gz", Node::File(None)),
            put("usr/share/doc/y/copyright", Node::File(None)),
            put("usr/bin/sh", Node::Symlink(b"dash".to_vec())),
            put("usr/bin/sh", Node::File(None)),
            put("usr/bin/sh", Node::Hardlink(b"usr/bin/dash".to_vec())),
            put("", Node::File(None)),
            put("zzz", Node::File(None)),
        ];
        let compact = LayerChanges::from(changes.clone());
        // Specials merge exactly as data files do, and come back as one.
        let expected: Vec<Change> = changes
            .into_iter()
            .map(|change| match change {
                Change::Put(path, Node::Special) => Change::Put(path, Node::File(None)),
                change => change,
            })
            .collect();
        assert_eq!(compact.iter().collect::<Vec<_>>(), expected);
        assert_eq!(compact.len(), expected.len());
        assert_eq!(compact.structural().len(), 4);
    }

    #[test]
    fn only_plain_files_or_only_structural_changes() {
        let plain: Vec<Change> = (0..300)
            .map(|i| put(&format!("d{}/f{i}", i / 7), Node::File(None)))
            .collect();
        assert_eq!(
            LayerChanges::from(plain.clone()).iter().collect::<Vec<_>>(),
            plain
        );
        let structural: Vec<Change> = (0..300)
            .map(|i| put(&format!("d{i}"), Node::Directory(0o755)))
            .collect();
        assert_eq!(
            LayerChanges::from(structural.clone())
                .iter()
                .collect::<Vec<_>>(),
            structural
        );
        assert!(LayerChanges::new().iter().next().is_none());
    }

    #[test]
    fn long_gaps_and_paths_round_trip() {
        // More than 127 structural changes between plain files and paths longer than 127
        // bytes take multi-byte numbers.
        let mut changes = Vec::new();
        for round in 0..3 {
            for i in 0..200 {
                changes.push(put(&format!("dir{round}-{i}"), Node::Directory(0o700)));
            }
            changes.push(put(&"p/".repeat(150 + round), Node::File(None)));
        }
        let compact = LayerChanges::from(changes.clone());
        assert_eq!(compact.iter().collect::<Vec<_>>(), changes);
    }

    #[test]
    fn damaged_plain_bytes_end_the_iteration_without_a_panic() {
        for plain in [
            vec![0xff; 100],
            vec![0x80; 20],
            vec![0, 0, 200, b'a'],
            vec![5],
        ] {
            let damaged = LayerChanges {
                structural: vec![put("d", Node::Directory(0o755))],
                plain,
                plain_count: 3,
                ..LayerChanges::default()
            };
            assert!(damaged.iter().count() <= 200);
        }
    }

    #[test]
    fn a_directory_of_files_costs_a_few_bytes_a_path() {
        let compact = LayerChanges::from(
            (0..1000)
                .map(|i| {
                    put(
                        &format!("usr/share/locale/de/LC_MESSAGES/file-{i:05}.mo"),
                        Node::File(None),
                    )
                })
                .collect::<Vec<_>>(),
        );
        assert!(
            compact.plain_bytes() < 1000 * 8,
            "{}",
            compact.plain_bytes()
        );
    }
}
