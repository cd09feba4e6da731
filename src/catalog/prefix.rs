//! Prefix digests: the SHA-256 of the first bytes of a file the manifest records, for findings
//! whose detector hashed only a file's head (SCC `hashedSize`).
//!
//! A prefix is proven the way a scan proves a whole-file digest, by the same code:
//!
//! - every layer consulted is streamed whole through [`LayerStream`] and its blob digest, size
//!   and diff_id are checked before any of its results is used; one that does not verify fails
//!   the call, naming the layer;
//! - its entries are read by the scanner's walker ([`walk_layer_with_prefixes`]), which hashes
//!   the prefixes in the same read as the whole file, and merged by [`Filesystem::apply`], so the
//!   last entry for a path wins and a hardlink takes what its target held at the link: an earlier
//!   entry of the same layer, else the merged state of the layers below;
//! - each answer carries the whole-file digest and size of the entry it hashed, so a caller can
//!   check that entry is the one the signed manifest records.
//!
//! Layers are read from the highest asked about downwards, each at most once per call: a
//! hardlink to a lower layer adds a lookup in the layer below. A layer is merged on its own,
//! over placeholders that stand for "whatever the layers below hold at this path".
//!
//! This module must not guess: a request whose path is not an executable regular file written by
//! its layer gets a [`PrefixMissing`] reason, never the digest of some other entry or layer.
//!
//! [`LayerStream`]: crate::image::layer::LayerStream
//! [`walk_layer_with_prefixes`]: super::walk_layer_with_prefixes
//! [`Filesystem::apply`]: super::Filesystem::apply

use std::collections::BTreeMap;
use std::fmt;

use super::{
    Change, Error, FileRecord, Filesystem, LayerChanges, Node, PrefixWanted, State, absolute,
    normalise_path, read_layer,
};
use crate::digest::Sha256Digest;
use crate::image::{ImageSource, ResolvedImage};

/// What a finding needs hashed: the first `length` bytes of the file the manifest records at
/// `path` (absolute manifest path, e.g. `/usr/bin/app`), written by layer `layer`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PrefixRequest {
    /// The absolute path, as the manifest lists it.
    pub path: String,
    /// The index of the layer the manifest says wrote it (bottom layer 0).
    pub layer: usize,
    /// How many leading bytes to hash.
    pub length: u64,
}

/// The answer, proven from layer bytes whose blob digest and diff_id both verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixDigest {
    /// SHA-256 of the first `length` bytes.
    pub prefix: Sha256Digest,
    /// SHA-256 of the whole file the prefix was taken from.
    pub sha256: Sha256Digest,
    /// Size of that file.
    pub size: u64,
    /// The layer whose bytes were hashed (below the request's layer for a hardlink to a lower
    /// layer).
    pub layer: usize,
}

/// Why a request has no prefix digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrefixMissing {
    /// The path is not an absolute path inside the image root (empty, or with `..`).
    InvalidPath,
    /// The image has no layer with the request's index.
    NoSuchLayer {
        /// How many layers it has.
        layers: usize,
    },
    /// No entry of the request's layer writes the path.
    NotWrittenByLayer,
    /// What a layer leaves at the path, after following hardlinks, is not an executable regular
    /// file: a directory, symlink or device, a file that does not qualify as an executable, or
    /// nothing (never written, or deleted).
    NotExecutable {
        /// The layer where the lookup ended.
        layer: usize,
        /// The absolute path looked at there (a hardlink's target, when one was followed).
        path: String,
    },
    /// The file is shorter than the prefix, so the detector cannot have hashed this file.
    ShorterThanPrefix {
        /// The file's size.
        size: u64,
    },
}

impl fmt::Display for PrefixMissing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidPath => f.write_str("the path is not inside the image root"),
            Self::NoSuchLayer { layers } => write!(f, "the image has {layers} layers"),
            Self::NotWrittenByLayer => f.write_str("no entry of that layer writes the path"),
            Self::NotExecutable { layer, path } => write!(
                f,
                "layer {layer} leaves no executable regular file at {path}"
            ),
            Self::ShorterThanPrefix { size } => {
                write!(f, "the file has only {size} bytes")
            }
        }
    }
}

/// Every request's answer or the reason it has none.
pub type PrefixResults = BTreeMap<PrefixRequest, Result<PrefixDigest, PrefixMissing>>;

/// What one layer's merge says about one path.
#[derive(Debug)]
enum Outcome {
    /// An executable entry of this layer (perhaps reached through a same-layer hardlink).
    Found(Box<FileRecord>),
    /// Whatever the layers below hold at `path`; `linked` when a hardlink of this layer put it
    /// there (otherwise no entry of this layer touched the path).
    Below { path: Vec<u8>, linked: bool },
    /// No executable regular file.
    NotExecutable,
}

/// Hashes the first bytes of the files the requests name, one verified pass per layer.
///
/// Requests that cannot be answered get a [`PrefixMissing`] reason in the map; every request
/// has an entry.
///
/// # Errors
/// A layer that cannot be read or whose digests do not verify (the error names it), or whose
/// entries the scan refuses too (a path escaping the root, PAX `GNU.sparse` entries): no result
/// is returned then, not even for other layers.
pub fn prefix_digests(
    source: &dyn ImageSource,
    image: &ResolvedImage,
    requests: &[PrefixRequest],
) -> Result<PrefixResults, Error> {
    let layer_count = image.layers.len();
    let mut results = PrefixResults::new();
    let mut accepted: Vec<(&PrefixRequest, Vec<u8>)> = Vec::new();
    // Per layer: the paths whose state after that layer is needed, and whether to look further
    // down when the layer leaves a path untouched (true for a hardlink's target; a request only
    // wants what its own layer wrote).
    let mut lookups: BTreeMap<usize, BTreeMap<Vec<u8>, bool>> = BTreeMap::new();
    for request in requests {
        let checked = match normalise_path(request.path.as_bytes()) {
            Some(path) if !path.is_empty() && request.path.starts_with('/') => {
                if request.layer < layer_count {
                    Ok(path)
                } else {
                    Err(PrefixMissing::NoSuchLayer {
                        layers: layer_count,
                    })
                }
            }
            _ => Err(PrefixMissing::InvalidPath),
        };
        match checked {
            Ok(path) => {
                lookups
                    .entry(request.layer)
                    .or_default()
                    .entry(path.clone())
                    .or_insert(false);
                accepted.push((request, path));
            }
            Err(missing) => {
                results.insert(request.clone(), Err(missing));
            }
        }
    }
    let wanted = PrefixWanted::lengths(accepted.iter().map(|(request, _)| request.length));
    let mut outcomes: BTreeMap<(usize, Vec<u8>), Outcome> = BTreeMap::new();
    // Highest layer first: lookups only ever add work for lower layers.
    while let Some((layer, paths)) = lookups.pop_last() {
        let scanned = read_layer(source, image, layer, None, &wanted)?;
        let filesystem = merge_one_layer(layer, paths.keys(), scanned.changes);
        for (path, follow_untouched) in paths {
            let outcome = match filesystem.nodes.get(&path) {
                Some(State::Executable { record, .. }) => Outcome::Found(record.clone()),
                Some(State::Below {
                    path: below,
                    linked,
                }) => {
                    if let Some(lower) = layer.checked_sub(1)
                        && (*linked || follow_untouched)
                    {
                        lookups
                            .entry(lower)
                            .or_default()
                            .insert(below.clone(), true);
                    }
                    Outcome::Below {
                        path: below.clone(),
                        linked: *linked,
                    }
                }
                Some(State::Symlink { .. } | State::Data { .. }) | None => Outcome::NotExecutable,
            };
            outcomes.insert((layer, path), outcome);
        }
    }
    for (request, path) in accepted {
        results.insert(request.clone(), answer(&outcomes, request, path));
    }
    Ok(results)
}

/// One layer's changes applied over a filesystem that holds, at every path asked about and at
/// every hardlink target, a placeholder for what the layers below hold there. What the merge
/// leaves at a path depends only on the lower state of that path and of hardlink targets, so the
/// placeholders stand in exactly for the lower layers.
fn merge_one_layer<'a>(
    layer: usize,
    paths: impl Iterator<Item = &'a Vec<u8>>,
    changes: LayerChanges,
) -> Filesystem {
    let mut filesystem = Filesystem::default();
    let mut seed = |path: &Vec<u8>| {
        let below = State::Below {
            path: path.clone(),
            linked: false,
        };
        filesystem.nodes.insert(path.clone(), below);
    };
    paths.for_each(&mut seed);
    for change in changes.structural() {
        if let Change::Put(_, Node::Hardlink(target)) = change {
            seed(target);
        }
    }
    filesystem.apply(layer, changes);
    filesystem
}

/// Follows a request's lookups down to the entry that holds its bytes.
fn answer(
    outcomes: &BTreeMap<(usize, Vec<u8>), Outcome>,
    request: &PrefixRequest,
    path: Vec<u8>,
) -> Result<PrefixDigest, PrefixMissing> {
    let mut layer = request.layer;
    let mut path = path;
    let mut first = true;
    loop {
        let not_executable = |layer: usize, path: &[u8]| PrefixMissing::NotExecutable {
            layer,
            path: String::from_utf8_lossy(&absolute(path)).into_owned(),
        };
        // Every lookup an answer needs was made; a gap would be a bug, and a bug must not
        // become a digest.
        let Some(outcome) = outcomes.get(&(layer, path.clone())) else {
            return Err(not_executable(layer, &path));
        };
        match outcome {
            Outcome::Found(record) => {
                return record
                    .prefixes
                    .iter()
                    .find(|(length, _)| *length == request.length)
                    .map(|(_, prefix)| PrefixDigest {
                        prefix: *prefix,
                        sha256: record.sha256,
                        size: record.size,
                        layer,
                    })
                    // The walker hashes every wanted length a file reaches.
                    .ok_or(PrefixMissing::ShorterThanPrefix { size: record.size });
            }
            Outcome::NotExecutable => return Err(not_executable(layer, &path)),
            Outcome::Below { linked: false, .. } if first => {
                return Err(PrefixMissing::NotWrittenByLayer);
            }
            Outcome::Below { path: below, .. } => match layer.checked_sub(1) {
                Some(lower) => {
                    layer = lower;
                    path.clone_from(below);
                }
                // A hardlink in the bottom layer to a path it has not written.
                None => return Err(not_executable(layer, below)),
            },
        }
        first = false;
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::sync::Mutex;

    use super::*;
    use crate::catalog::{ScanOptions, scan, scan_layer};
    use crate::image::{self, LayerDescriptor, Platform, PlatformSelection, Resolution};
    use crate::test_fixtures::LayerTar;

    const FIRST: &[u8] = b"#!/bin/sh\necho first\n";
    const SECOND: &[u8] = b"#!/bin/dash\necho second\n";
    /// Long enough to tell `FIRST` from `SECOND`.
    const HEAD: u64 = 9;

    /// Layer tars served from memory, uncompressed; counts how often each is opened.
    struct Memory {
        blobs: Vec<(Sha256Digest, Vec<u8>)>,
        opened: Mutex<Vec<Sha256Digest>>,
    }

    impl ImageSource for Memory {
        fn name(&self) -> &str {
            "memory"
        }

        fn resolve(&self, _: &PlatformSelection) -> Result<Resolution, image::Error> {
            Err(image::Error::Invalid {
                image: "memory".into(),
                problem: "the tests build the resolved image themselves".into(),
            })
        }

        fn open_layer(
            &self,
            layer: &LayerDescriptor,
        ) -> Result<Box<dyn Read + Send + '_>, image::Error> {
            let digest = layer.digest.unwrap();
            self.opened.lock().unwrap().push(digest);
            let (_, blob) = self.blobs.iter().find(|(d, _)| *d == digest).unwrap();
            Ok(Box::new(&blob[..]))
        }
    }

    /// An image of plain tar layers whose descriptors match them.
    fn image_of(layers: &[Vec<u8>]) -> (Memory, ResolvedImage) {
        let descriptors = layers
            .iter()
            .map(|tar| LayerDescriptor {
                digest: Some(Sha256Digest::of(tar)),
                size: Some(tar.len() as u64),
                media_type: Some("application/vnd.oci.image.layer.v1.tar".into()),
                diff_id: Sha256Digest::of(tar),
                locator: None,
            })
            .collect();
        let memory = Memory {
            blobs: layers
                .iter()
                .map(|tar| (Sha256Digest::of(tar), tar.clone()))
                .collect(),
            opened: Mutex::new(Vec::new()),
        };
        let resolved = ResolvedImage {
            name: "memory".into(),
            index_digest: None,
            manifest_digest: None,
            config_digest: Sha256Digest::of(b"config"),
            platform: Platform::default_platform(),
            search_path: Vec::new(),
            layers: descriptors,
            engine: None,
        };
        (memory, resolved)
    }

    fn request(path: &str, layer: usize, length: u64) -> PrefixRequest {
        PrefixRequest {
            path: path.into(),
            layer,
            length,
        }
    }

    fn found(content: &[u8], length: u64, layer: usize) -> Result<PrefixDigest, PrefixMissing> {
        Ok(PrefixDigest {
            prefix: Sha256Digest::of(&content[..usize::try_from(length).unwrap()]),
            sha256: Sha256Digest::of(content),
            size: content.len() as u64,
            layer,
        })
    }

    fn answers(layers: &[Vec<u8>], requests: &[PrefixRequest]) -> PrefixResults {
        let (memory, image) = image_of(layers);
        prefix_digests(&memory, &image, requests).unwrap()
    }

    #[test]
    fn the_last_entry_for_a_path_is_the_one_hashed() {
        assert_ne!(
            Sha256Digest::of(&FIRST[..9]),
            Sha256Digest::of(&SECOND[..9])
        );
        let layer = LayerTar::new()
            .executable("usr/bin/app", FIRST)
            .executable("usr/bin/app", SECOND)
            .finish();
        let whole = SECOND.len() as u64;
        let requests = [
            request("/usr/bin/app", 0, HEAD),
            request("/usr/bin/app", 0, whole),
        ];
        let results = answers(&[layer], &requests);
        assert_eq!(results[&requests[0]], found(SECOND, HEAD, 0));
        assert_eq!(results[&requests[1]], found(SECOND, whole, 0));
    }

    #[test]
    fn a_hardlink_takes_its_target_as_it_was_at_the_link() {
        let layer = LayerTar::new()
            .executable("usr/bin/app", FIRST)
            .hardlink("usr/bin/early", "usr/bin/app")
            .executable("usr/bin/app", SECOND)
            .hardlink("usr/bin/late", "./usr/bin/app")
            .finish();
        let early = request("/usr/bin/early", 0, HEAD);
        let late = request("/usr/bin/late", 0, HEAD);
        let results = answers(&[layer], &[early.clone(), late.clone()]);
        assert_eq!(results[&early], found(FIRST, HEAD, 0));
        assert_eq!(results[&late], found(SECOND, HEAD, 0));
    }

    #[test]
    fn hardlinks_to_lower_layers_read_each_layer_once() {
        let layers = [
            LayerTar::new()
                .executable("usr/bin/app", FIRST)
                .executable("usr/bin/app", SECOND)
                .finish(),
            LayerTar::new()
                .hardlink("usr/bin/hl", "usr/bin/app")
                .finish(),
            // A link to a link of the layer below, which links further down.
            LayerTar::new()
                .hardlink("usr/bin/hl2", "usr/bin/hl")
                .executable("usr/bin/own", FIRST)
                .finish(),
        ];
        let requests = [
            request("/usr/bin/app", 0, HEAD),
            request("/usr/bin/hl", 1, HEAD),
            request("/usr/bin/hl2", 2, HEAD),
            request("/usr/bin/own", 2, HEAD),
        ];
        let (memory, image) = image_of(&layers);
        let results = prefix_digests(&memory, &image, &requests).unwrap();
        for request in &requests[..3] {
            assert_eq!(results[request], found(SECOND, HEAD, 0), "{request:?}");
        }
        assert_eq!(results[&requests[3]], found(FIRST, HEAD, 2));
        let mut opened = memory.opened.into_inner().unwrap();
        let count = opened.len();
        opened.sort();
        opened.dedup();
        assert_eq!((count, opened.len()), (3, 3), "each layer read once");
    }

    #[test]
    fn only_needed_layers_are_read() {
        let layers = [
            LayerTar::new().executable("usr/bin/base", FIRST).finish(),
            LayerTar::new().executable("usr/bin/app", SECOND).finish(),
        ];
        let (memory, image) = image_of(&layers);
        let app = request("/usr/bin/app", 1, HEAD);
        let results = prefix_digests(&memory, &image, std::slice::from_ref(&app)).unwrap();
        assert_eq!(results[&app], found(SECOND, HEAD, 1));
        assert_eq!(
            *memory.opened.lock().unwrap(),
            [Sha256Digest::of(&layers[1])]
        );
    }

    #[test]
    fn requests_without_an_executable_written_by_their_layer_get_reasons() {
        let layers = [
            LayerTar::new()
                .executable("usr/bin/app", FIRST)
                .executable("usr/bin/gone", FIRST)
                .executable("usr/bin/later-a-dir", FIRST)
                .finish(),
            LayerTar::new()
                .data("usr/bin/.wh.gone", b"")
                .hardlink("usr/bin/to-nothing", "usr/bin/never-written")
                .data("usr/share/readme", b"not an executable")
                .symlink("usr/bin/sym", "app")
                .executable("usr/bin/replaced", FIRST)
                .data("usr/bin/replaced", b"now plain data")
                .directory("usr/bin/later-a-dir", 0o755)
                .finish(),
            // The target was deleted by the layer in between.
            LayerTar::new()
                .hardlink("usr/bin/hl", "usr/bin/gone")
                .finish(),
        ];
        let not_executable = |layer, path: &str| {
            Err(PrefixMissing::NotExecutable {
                layer,
                path: path.into(),
            })
        };
        let cases = [
            (
                request("/usr/bin/hl", 2, HEAD),
                not_executable(1, "/usr/bin/gone"),
            ),
            (
                request("/usr/bin/to-nothing", 1, HEAD),
                not_executable(0, "/usr/bin/never-written"),
            ),
            (
                request("/usr/share/readme", 1, 1),
                not_executable(1, "/usr/share/readme"),
            ),
            (
                request("/usr/bin/sym", 1, 1),
                not_executable(1, "/usr/bin/sym"),
            ),
            (
                request("/usr/bin/replaced", 1, 1),
                not_executable(1, "/usr/bin/replaced"),
            ),
            (
                request("/usr/bin/later-a-dir", 1, 1),
                not_executable(1, "/usr/bin/later-a-dir"),
            ),
            // The manifest says layer 1 wrote it, but only layer 0 did: no looking further.
            (
                request("/usr/bin/app", 1, HEAD),
                Err(PrefixMissing::NotWrittenByLayer),
            ),
            (
                request("/usr/bin/app", 3, HEAD),
                Err(PrefixMissing::NoSuchLayer { layers: 3 }),
            ),
            (
                request("usr/bin/app", 0, HEAD),
                Err(PrefixMissing::InvalidPath),
            ),
            (
                request("/usr/../../usr/bin/app", 0, HEAD),
                Err(PrefixMissing::InvalidPath),
            ),
            (request("/", 0, HEAD), Err(PrefixMissing::InvalidPath)),
            (request("/usr/bin/app", 0, HEAD), found(FIRST, HEAD, 0)),
        ];
        let requests: Vec<PrefixRequest> =
            cases.iter().map(|(request, _)| request.clone()).collect();
        let results = answers(&layers, &requests);
        assert_eq!(results.len(), cases.len());
        for (request, expected) in cases {
            assert_eq!(results[&request], expected, "{request:?}");
        }
    }

    #[test]
    fn a_prefix_longer_than_the_file_has_no_digest() {
        let layer = LayerTar::new().executable("usr/bin/app", SECOND).finish();
        let size = SECOND.len() as u64;
        let requests = [
            request("/usr/bin/app", 0, size + 1),
            request("/usr/bin/app", 0, size),
            request("/usr/bin/app", 0, 0),
        ];
        let results = answers(&[layer], &requests);
        assert_eq!(
            results[&requests[0]],
            Err(PrefixMissing::ShorterThanPrefix { size })
        );
        assert_eq!(results[&requests[1]], found(SECOND, size, 0));
        assert_eq!(results[&requests[2]], found(SECOND, 0, 0));
    }

    #[test]
    fn prefixes_are_cut_at_any_offset_of_a_streamed_file() {
        let content: Vec<u8> = (0..300_000u32)
            .map(|n| u8::try_from(n.wrapping_mul(2_654_435_761) >> 24).unwrap())
            .collect();
        let layer = LayerTar::new().executable("big", &content).finish();
        let size = content.len() as u64;
        // Around the head read (16 KiB) and the 128 KiB chunks after it, and both ends.
        let lengths = [
            0, 1, 4, 16_383, 16_384, 16_385, 147_456, 147_457, 200_000, size,
        ];
        let requests: Vec<PrefixRequest> = lengths
            .iter()
            .map(|length| request("/big", 0, *length))
            .collect();
        let results = answers(&[layer], &requests);
        for request in &requests {
            assert_eq!(
                results[request],
                found(&content, request.length, 0),
                "{request:?}"
            );
        }
    }

    #[test]
    fn pax_sparse_entries_are_refused_as_the_scan_refuses_them() {
        let layer = LayerTar::new()
            .sparse_executable("usr/bin/app", FIRST)
            .finish();
        let (memory, image) = image_of(&[layer]);
        let refused = prefix_digests(&memory, &image, &[request("/usr/bin/app", 0, HEAD)])
            .unwrap_err()
            .to_string();
        let scanned = scan_layer(&memory, &image, 0, None)
            .unwrap_err()
            .to_string();
        assert!(refused.contains("GNU.sparse"), "{refused}");
        assert_eq!(refused, scanned);
    }

    #[test]
    fn layers_whose_digests_do_not_verify_give_no_digests() {
        let base = LayerTar::new().executable("usr/bin/base", FIRST).finish();
        let app = LayerTar::new().executable("usr/bin/app", SECOND).finish();
        let requests = [
            request("/usr/bin/base", 0, HEAD),
            request("/usr/bin/app", 1, HEAD),
        ];

        // The config's diff_id for the top layer names other content.
        let (memory, mut image) = image_of(&[base.clone(), app.clone()]);
        image.layers[1].diff_id = Sha256Digest::of(b"another tar");
        let error = prefix_digests(&memory, &image, &requests)
            .unwrap_err()
            .to_string();
        let digest = Sha256Digest::of(&app).to_string();
        assert!(error.contains(&digest), "{error}");
        assert!(error.contains("diff_id"), "{error}");

        // The source serves other bytes of the same length under the top layer's digest.
        let (mut memory, image) = image_of(&[base, app.clone()]);
        let at = app.windows(6).position(|w| w == b"second").unwrap();
        memory.blobs[1].1[at..at + 6].copy_from_slice(b"SECOND");
        let error = prefix_digests(&memory, &image, &requests)
            .unwrap_err()
            .to_string();
        assert!(error.contains(&digest), "{error}");
        assert!(error.contains("does not match its digest"), "{error}");
    }

    /// A small deterministic generator (64-bit LCG), so failures reproduce.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, bound: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(self.0 >> 33).unwrap() % bound
        }
    }

    #[test]
    fn prefix_lookups_agree_with_the_scan_merge() {
        // Layer stacks of writes, deletions, type changes and links over a few related paths:
        // whatever the scan's merge leaves, a prefix lookup must find, from the same entry.
        const PATHS: [&str; 6] = ["a", "a/b", "a/b/c", "d", "d/e", "f"];
        const DIRS: [&str; 3] = ["a", "a/b", "d"];
        const LENGTH: u64 = 4;
        let mut random = Lcg(9);
        let mut contents: BTreeMap<Sha256Digest, Vec<u8>> = BTreeMap::new();
        let mut serial = 0u32;
        let (mut hits, mut through_lower_links) = (0, 0);
        for _ in 0..500 {
            let layer_count = 1 + random.below(4);
            let mut layers = Vec::new();
            for _ in 0..layer_count {
                let mut tar = LayerTar::new();
                for _ in 0..1 + random.below(8) {
                    let path = PATHS[random.below(PATHS.len())];
                    let other = PATHS[random.below(PATHS.len())];
                    tar = match random.below(9) {
                        0 | 1 => {
                            serial += 1;
                            // Distinct in the first LENGTH bytes; executable by its mode.
                            let content = format!("{serial:04} executable\n").into_bytes();
                            contents.insert(Sha256Digest::of(&content), content.clone());
                            tar.executable(path, &content)
                        }
                        2 => tar.data(path, b"data"),
                        3 => tar.directory(path, 0o755),
                        4 => tar.symlink(path, other),
                        5 | 6 => tar.hardlink(path, other),
                        7 => {
                            let whiteout = match path.rsplit_once('/') {
                                Some((parent, name)) => format!("{parent}/.wh.{name}"),
                                None => format!(".wh.{path}"),
                            };
                            tar.data(&whiteout, b"")
                        }
                        _ => {
                            let dir = DIRS[random.below(DIRS.len())];
                            tar.data(&format!("{dir}/.wh..wh..opq"), b"")
                        }
                    };
                }
                layers.push(tar.finish());
            }
            for top in 0..layer_count {
                let (memory, image) = image_of(&layers[..=top]);
                let options = ScanOptions {
                    threads: 1,
                    on_read: None,
                    cache: None,
                };
                let manifest = scan(&memory, &image, &options).unwrap().manifest;
                let mut requests: Vec<PrefixRequest> = PATHS
                    .iter()
                    .map(|path| request(&format!("/{path}"), top, LENGTH))
                    .collect();
                requests.extend(
                    manifest
                        .executables
                        .iter()
                        .map(|exe| request(&exe.path, exe.layer, LENGTH)),
                );
                let results = prefix_digests(&memory, &image, &requests).unwrap();
                for request in &requests {
                    let listed = manifest
                        .executables
                        .iter()
                        .find(|exe| exe.path == request.path && exe.layer == request.layer);
                    let expected = match listed {
                        Some(exe) => found(&contents[&exe.sha256], LENGTH, request.layer),
                        None => Err(PrefixMissing::InvalidPath),
                    };
                    match (&results[request], &expected) {
                        // Where the scan lists no executable, any reason will do; the bytes
                        // hashed for a hit may come from a lower layer through a hardlink.
                        (Err(_), Err(_)) => {}
                        (Ok(got), Ok(want)) => {
                            assert_eq!(
                                (got.prefix, got.sha256, got.size),
                                (want.prefix, want.sha256, want.size),
                                "{request:?} in {layers:?}"
                            );
                            hits += 1;
                            through_lower_links += usize::from(got.layer < request.layer);
                        }
                        (got, _) => panic!(
                            "{request:?}: lookup gave {got:?}, the scan lists {listed:?} ({layers:?})"
                        ),
                    }
                }
            }
        }
        // The stacks must exercise what they are for.
        assert!(
            hits > 1000 && through_lower_links > 30,
            "{hits} hits, {through_lower_links} through lower-layer hardlinks"
        );
    }
}
