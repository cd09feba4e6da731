//! Turns an image's layers into its executable manifest.
//!
//! Each layer's tar stream is walked once ([`walk_layer`]): entry paths are normalised, names
//! that escape the root are rejected, whiteouts are recognised, and every regular file that
//! qualifies as an executable is hashed as it streams past (non-executables are skipped
//! unread). Layers are walked in parallel; their changes are then applied bottom-up
//! ([`Filesystem::apply`]) with OCI layer semantics
//! (<https://github.com/opencontainers/image-spec/blob/v1.1.0/layer.md>):
//!
//! - `.wh.NAME` deletes NAME and its subtree from *lower* layers; `.wh..wh..opq` (exact name)
//!   hides the lower-layer children of its directory. Both are applied before the layer's own
//!   entries, so a whiteout never hides a file its own layer adds.
//! - A non-directory replaces a directory tree and a directory replaces a non-directory; an
//!   entry below a path that a lower layer holds as a file or symlink replaces that path
//!   (paths are never resolved through symlinks, as overlayfs does not).
//! - Hardlinks take their target's content, from the same or a lower layer.
//!
//! The same walk and the same merge answer prefix lookups ([`prefix::prefix_digests`]): the
//! SHA-256 of a file's first bytes, for findings that hash only a file's head. There is one tar
//! walker, so a scan and a prefix lookup cannot disagree on which entry a path holds.
//!
//! A scan may take a layer's walk from the [`cache`] instead of reading the layer (keyed by
//! diff_id, for a blob the cache saw verified), and walks each diff_id once however many of the
//! images scanned together ([`scan_images`]) share it. Prefix lookups always read.
//!
//! This module does no I/O of its own beyond reading the streams it is given and the cache
//! directory it is handed, and prints nothing: warnings are returned.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use borsh::{BorshDeserialize, BorshSerialize};
use md5::Digest as _;

use crate::digest::{Hasher, Sha256Digest};
use crate::image::layer::{Compression, LayerStream, VerifiedLayer};
use crate::image::{self, ImageSource, ResolvedImage};
use crate::manifest::{
    self, Executable, Hidden, ImageInfo, Kind, LayerInfo, Link, Manifest, PREDICATE_TYPE,
    SourceEngine,
};
use crate::pkgdb;

pub mod cache;
mod changes;
pub mod detect;
mod packages;
pub mod prefix;

use cache::{BlobForm, CachedLayer, LayerCache};
pub use changes::{LayerChanges, Ordered};
pub use prefix::{PrefixDigest, PrefixMissing, PrefixRequest, PrefixResults, prefix_digests};

/// Errors turning layers into a manifest.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the image failed.
    #[error(transparent)]
    Image(Box<image::Error>),
    /// A tar entry's path leaves the image root.
    #[error(
        "{image}: layer {layer}: entry {entry:?} escapes the root with '..'; refusing the layer"
    )]
    PathEscape {
        /// The image.
        image: String,
        /// The layer.
        layer: String,
        /// The entry as written in the tar.
        entry: String,
    },
    /// A tar header or entry could not be read.
    #[error("{image}: layer {layer}: cannot read tar entry {entry}")]
    Entry {
        /// The image.
        image: String,
        /// The layer.
        layer: String,
        /// The entry, or `after <previous entry>` when its header was unreadable.
        entry: String,
        /// The cause (corrupt compression, truncation, malformed tar).
        #[source]
        source: std::io::Error,
    },
    /// An entry in a format this tool cannot read faithfully.
    #[error("{image}: layer {layer}: entry {entry:?}: {problem}")]
    Unsupported {
        /// The image.
        image: String,
        /// The layer.
        layer: String,
        /// The entry.
        entry: String,
        /// What is unsupported.
        problem: &'static str,
    },
    /// A package database of the final filesystem does not read.
    #[error(
        "{image}: cannot read the package database {file}; without it exelock cannot say which executables are packaged and unaltered"
    )]
    PackageDatabase {
        /// The image.
        image: String,
        /// The database file, absolute.
        file: String,
        /// Why.
        #[source]
        source: crate::pkgdb::Error,
    },
}

impl From<image::Error> for Error {
    fn from(error: image::Error) -> Self {
        Self::Image(Box::new(error))
    }
}

/// The facts recorded about an executable regular file.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct FileRecord {
    /// Content digest.
    pub sha256: Sha256Digest,
    /// Content size.
    pub size: u64,
    /// Mode bits including setuid/setgid/sticky.
    pub mode: u32,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Kind and details from the head.
    pub detected: detect::Detected,
    /// `(length, SHA-256 of the first length bytes)` for each [`PrefixWanted`] length the file
    /// reaches, shortest first; empty in a plain scan.
    pub prefixes: Vec<(u64, Sha256Digest)>,
    /// The digests OS packages record (dpkg and old RPM: MD5; apk and some RPM: SHA-1),
    /// computed in the same read, for the comparison with the owning package. A scan computes
    /// them for every executable ([`walk_layer`]); a prefix lookup, which never compares with
    /// packages, does not (`None`).
    pub package_digests: Option<PackageDigests>,
}

/// An executable's MD5 and SHA-1, the digests package databases other than SHA-256 ones record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct PackageDigests {
    /// MD5.
    pub md5: [u8; 16],
    /// SHA-1.
    pub sha1: [u8; 20],
}

/// Prefix lengths to hash while walking a layer: for every executable the walk hashes, the
/// SHA-256 of its first `length` bytes, for each length the file reaches.
///
/// The lengths apply to every executable of the layer rather than to chosen paths because a
/// hardlink names its target only after the target's bytes have streamed past: any executable
/// may turn out to be the one a wanted path links to. A prefix costs a copy of the running
/// hash state at that offset, not a second read or a second hash; a scan wants none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrefixWanted {
    /// Sorted, without duplicates.
    lengths: Vec<u64>,
}

impl PrefixWanted {
    /// These lengths, in any order, duplicates allowed.
    #[must_use]
    pub fn lengths(lengths: impl IntoIterator<Item = u64>) -> Self {
        let mut lengths: Vec<u64> = lengths.into_iter().collect();
        lengths.sort_unstable();
        lengths.dedup();
        Self { lengths }
    }
}

/// What one tar entry does to the filesystem.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Change {
    /// `.wh.NAME`: delete a lower-layer path and its subtree.
    Whiteout(Vec<u8>),
    /// `.wh..wh..opq`: hide the lower-layer children of a directory.
    Opaque(Vec<u8>),
    /// Write a path.
    Put(Vec<u8>, Node),
}

/// What an entry writes at its path.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Node {
    /// A directory with its mode bits.
    Directory(u32),
    /// A regular file; its record when it is an executable.
    File(Option<Box<FileRecord>>),
    /// A symlink with its raw target.
    Symlink(Vec<u8>),
    /// A hardlink to a normalised path.
    Hardlink(Vec<u8>),
    /// A device, fifo or other non-directory.
    Special,
    /// A regular file exelock keeps whole: a package database or `os-release`
    /// ([`pkgdb::paths::database_file`]).
    Data(Box<Vec<u8>>),
}

/// One layer's changes, in tar order, and the layer's verified identity.
#[derive(Debug)]
pub struct LayerScan {
    /// The changes.
    pub changes: LayerChanges,
    /// Reserved or empty whiteout names seen (ignored, reported as warnings).
    pub warnings: Vec<String>,
    /// Digests proved while reading.
    pub verified: VerifiedLayer,
}

/// Normalises a tar entry path: strips `./`, leading `/` and repeated `/`; rejects `..`.
/// Returns `None` for a `..` component. The root itself normalises to an empty path.
#[must_use]
pub fn normalise_path(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    for component in raw.split(|byte| *byte == b'/') {
        match component {
            b"" | b"." => {}
            b".." => return None,
            _ => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(component);
            }
        }
    }
    Some(out)
}

/// Splits a normalised path into (parent, name).
fn split_parent(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|byte| *byte == b'/') {
        Some(at) => (&path[..at], &path[at + 1..]),
        None => (&[], path),
    }
}

fn join(parent: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = parent.to_vec();
    if !out.is_empty() {
        out.push(b'/');
    }
    out.extend_from_slice(name);
    out
}

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
const RESERVED_PREFIX: &[u8] = b".wh..wh.";
/// Bytes read to decide a file's kind and find its build id.
const HEAD_BYTES: usize = 16 << 10;
/// Streaming chunk for hashing.
const CHUNK_BYTES: usize = 128 << 10;

/// PAX numeric record, where the header field may be truncated (uid 3000000 and up).
fn pax_number(entry: &mut tar::Entry<'_, impl Read>, key: &str) -> Option<u64> {
    let extensions = entry.pax_extensions().ok()??;
    extensions
        .filter_map(Result::ok)
        .find(|extension| extension.key_bytes() == key.as_bytes())
        .and_then(|extension| extension.value().ok()?.parse().ok())
}

fn has_pax_sparse(entry: &mut tar::Entry<'_, impl Read>) -> bool {
    entry
        .pax_extensions()
        .ok()
        .flatten()
        .is_some_and(|mut extensions| {
            extensions.any(|extension| {
                extension.is_ok_and(|extension| extension.key_bytes().starts_with(b"GNU.sparse."))
            })
        })
}

/// Reads one layer's tar stream into its list of changes, hashing every executable: SHA-256,
/// and the MD5 and SHA-1 package databases record ([`FileRecord::package_digests`]).
///
/// # Errors
/// An unreadable stream, a path escaping the root, an unsupported entry format.
pub fn walk_layer(
    image: &str,
    layer: &str,
    stream: impl Read,
) -> Result<(LayerChanges, Vec<String>), Error> {
    std::thread::scope(|scope| {
        let mut digester = PackageDigester::start(scope);
        let walked = walk(
            image,
            layer,
            stream,
            &PrefixWanted::default(),
            Some(&mut digester),
        );
        let digests = digester.finish();
        let (mut changes, warnings) = walked?;
        attach_package_digests(changes.structural_mut(), digests);
        Ok((changes, warnings))
    })
}

/// [`walk_layer`] for a prefix lookup: also hashes the `wanted` prefixes of every executable in
/// the same read of its bytes ([`FileRecord::prefixes`]), and not the package digests.
///
/// # Errors
/// As [`walk_layer`].
pub fn walk_layer_with_prefixes(
    image: &str,
    layer: &str,
    stream: impl Read,
    wanted: &PrefixWanted,
) -> Result<(LayerChanges, Vec<String>), Error> {
    walk(image, layer, stream, wanted, None)
}

/// Puts the digests the [`PackageDigester`] computed, one per executable in tar order, into
/// the executables' records.
fn attach_package_digests(changes: &mut [Change], digests: Vec<PackageDigests>) {
    let records = changes.iter_mut().filter_map(|change| match change {
        Change::Put(_, Node::File(Some(record))) => Some(record),
        _ => None,
    });
    for (record, digests) in records.zip(digests) {
        record.package_digests = Some(digests);
    }
}

/// Pieces of an executable's bytes on their way to the [`PackageDigester`]'s thread.
enum Piece {
    /// The next `len` bytes of the current executable, in a buffer of the pool.
    Bytes(Vec<u8>, usize),
    /// The current executable ended: finish its digests, start the next.
    End,
}

/// Buffers in flight to the digest thread: 1 MiB at [`CHUNK_BYTES`] each.
const PACKAGE_DIGEST_BUFFERS: usize = 8;

/// Computes MD5 and SHA-1 of a layer's executables on a thread of its own, fed the same chunks
/// the walker hashes with SHA-256.
///
/// Why a thread: which executables a package owns is known only once the package database has
/// been read, and the database comes late in a layer's tar order (`var/lib/dpkg` after `usr/`),
/// often in the same layer as the files it lists; so both digests are computed for every
/// executable, in the one read there is, and the comparison then uses them for owned files only.
/// Off the walker's thread they cost no wall time while a core is free (an image of fewer
/// layers than cores, the usual base image among them). Buffers come from a fixed pool, so a
/// slow digest thread holds the walker back instead of growing memory.
struct PackageDigester<'scope> {
    pieces: Option<std::sync::mpsc::SyncSender<Piece>>,
    pool: std::sync::mpsc::Receiver<Vec<u8>>,
    /// A buffer taken from the pool but not sent (the read that found a file's end).
    spare: Option<Vec<u8>>,
    worker: std::thread::ScopedJoinHandle<'scope, Vec<PackageDigests>>,
}

impl<'scope> PackageDigester<'scope> {
    fn start<'env>(scope: &'scope std::thread::Scope<'scope, 'env>) -> Self {
        let (pieces, received) = std::sync::mpsc::sync_channel::<Piece>(PACKAGE_DIGEST_BUFFERS + 1);
        let (returned, pool) = std::sync::mpsc::channel::<Vec<u8>>();
        for _ in 0..PACKAGE_DIGEST_BUFFERS {
            // The receiver is alive: `pool` is held right here.
            let _ = returned.send(vec![0; CHUNK_BYTES]);
        }
        let worker = scope.spawn(move || {
            let mut digests = Vec::new();
            let mut md5 = md5::Md5::new();
            let mut sha1 = sha1::Sha1::new();
            for piece in received {
                match piece {
                    Piece::Bytes(buffer, len) => {
                        md5.update(&buffer[..len]);
                        sha1.update(&buffer[..len]);
                        // The walker may have stopped; then the buffer is simply dropped.
                        let _ = returned.send(buffer);
                    }
                    Piece::End => digests.push(PackageDigests {
                        md5: md5.finalize_reset().into(),
                        sha1: sha1.finalize_reset().into(),
                    }),
                }
            }
            digests
        });
        Self {
            pieces: Some(pieces),
            pool,
            spare: None,
            worker,
        }
    }

    /// A free buffer of [`CHUNK_BYTES`]; waits while all are in flight.
    fn buffer(&mut self) -> Vec<u8> {
        if let Some(spare) = self.spare.take() {
            return spare;
        }
        // The worker returns every buffer it receives, so `recv` fails only if it panicked;
        // a fresh buffer keeps the walk going and the join reports the panic.
        self.pool.recv().unwrap_or_else(|_| vec![0; CHUNK_BYTES])
    }

    /// Keeps a buffer that was not sent, so the pool does not run dry.
    fn keep(&mut self, buffer: Vec<u8>) {
        self.spare = Some(buffer);
    }

    fn send(&self, piece: Piece) {
        if let Some(pieces) = &self.pieces {
            // Fails only if the worker panicked; the join reports it.
            let _ = pieces.send(piece);
        }
    }

    /// Waits for the digests of every executable sent, in order.
    fn finish(mut self) -> Vec<PackageDigests> {
        self.pieces = None;
        match self.worker.join() {
            Ok(digests) => digests,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

fn walk(
    image: &str,
    layer: &str,
    stream: impl Read,
    wanted: &PrefixWanted,
    mut digester: Option<&mut PackageDigester<'_>>,
) -> Result<(LayerChanges, Vec<String>), Error> {
    let mut archive = tar::Archive::new(stream);
    let mut changes = LayerChanges::new();
    let mut warnings = Vec::new();
    let mut previous = String::from("<start of layer>");
    let entry_error = |entry: String, source| Error::Entry {
        image: image.to_owned(),
        layer: layer.to_owned(),
        entry,
        source,
    };
    let entries = archive
        .entries()
        .map_err(|source| entry_error("<start of layer>".into(), source))?;
    let mut head = vec![0u8; HEAD_BYTES];
    let mut chunk = vec![0u8; CHUNK_BYTES];
    for entry in entries {
        let mut entry = entry.map_err(|source| entry_error(format!("after {previous}"), source))?;
        let entry_type = entry.header().entry_type();
        if matches!(
            entry_type,
            tar::EntryType::XGlobalHeader
                | tar::EntryType::XHeader
                | tar::EntryType::GNULongName
                | tar::EntryType::GNULongLink
        ) {
            continue;
        }
        let raw_path = entry.path_bytes().into_owned();
        let display = String::from_utf8_lossy(&raw_path).into_owned();
        let path = normalise_path(&raw_path).ok_or_else(|| Error::PathEscape {
            image: image.to_owned(),
            layer: layer.to_owned(),
            entry: display.clone(),
        })?;
        previous.clone_from(&display);
        if path.is_empty() {
            continue; // the root directory itself
        }
        let (parent, name) = split_parent(&path);
        if name == OPAQUE_MARKER {
            changes.push(Change::Opaque(parent.to_vec()));
            continue;
        }
        if name.starts_with(RESERVED_PREFIX) {
            warnings.push(format!(
                "layer {layer}: ignored reserved whiteout name {display:?}"
            ));
            continue;
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            if hidden.is_empty() {
                warnings.push(format!(
                    "layer {layer}: ignored whiteout {display:?} that names no file"
                ));
            } else {
                changes.push(Change::Whiteout(join(parent, hidden)));
            }
            continue;
        }
        let node = match entry_type {
            tar::EntryType::Directory => {
                Node::Directory(entry.header().mode().unwrap_or(0o755) & 0o7777)
            }
            tar::EntryType::Symlink => Node::Symlink(
                entry
                    .link_name_bytes()
                    .map(|target| target.into_owned())
                    .unwrap_or_default(),
            ),
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|target| target.into_owned())
                    .unwrap_or_default();
                let target = normalise_path(&target).ok_or_else(|| Error::PathEscape {
                    image: image.to_owned(),
                    layer: layer.to_owned(),
                    entry: format!(
                        "{display} (hardlink to {})",
                        String::from_utf8_lossy(&target)
                    ),
                })?;
                Node::Hardlink(target)
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse
                if let Some(file) = pkgdb::paths::database_file(&path) =>
            {
                if entry.size() > file.max_bytes() {
                    warnings.push(format!(
                        "layer {layer}: {display} is {} bytes, more than the {} exelock reads of such a file: ignored, so package data from it is missing",
                        entry.size(),
                        file.max_bytes()
                    ));
                    Node::File(None)
                } else {
                    let bytes = read_data(&mut entry)
                        .map_err(|source| entry_error(display.clone(), source))?;
                    Node::Data(Box::new(bytes))
                }
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                if has_pax_sparse(&mut entry) {
                    return Err(Error::Unsupported {
                        image: image.to_owned(),
                        layer: layer.to_owned(),
                        entry: display,
                        problem: "PAX GNU.sparse entries are not supported (re-create the layer without --sparse)",
                    });
                }
                let record = read_file(
                    &mut entry,
                    &mut head,
                    &mut chunk,
                    &wanted.lengths,
                    digester.as_deref_mut(),
                )
                .map_err(|source| entry_error(display.clone(), source))?;
                Node::File(record.map(Box::new))
            }
            _ => Node::Special,
        };
        changes.push(Change::Put(path, node));
    }
    Ok((changes, warnings))
}

/// A whole-file hash that also snapshots the digest at each wanted prefix length.
struct PrefixHasher<'a> {
    hasher: Hasher,
    /// Wanted lengths not reached yet, shortest first.
    pending: &'a [u64],
    prefixes: Vec<(u64, Sha256Digest)>,
}

impl<'a> PrefixHasher<'a> {
    fn new(wanted: &'a [u64]) -> Self {
        Self {
            hasher: Hasher::new(),
            pending: wanted,
            prefixes: Vec::new(),
        }
    }

    fn update(&mut self, mut data: &[u8]) {
        while let Some((&length, rest)) = self.pending.split_first() {
            let offset = self.hasher.len();
            let Some(until) = length
                .checked_sub(offset)
                .and_then(|until| usize::try_from(until).ok())
                .filter(|until| *until <= data.len())
            else {
                break;
            };
            self.hasher.update(&data[..until]);
            data = &data[until..];
            self.prefixes.push((length, self.hasher.clone().finish()));
            self.pending = rest;
        }
        self.hasher.update(data);
    }
}

/// Reads a package database (or `os-release`) whole; the caller checked its size.
fn read_data(entry: &mut tar::Entry<'_, impl Read>) -> std::io::Result<Vec<u8>> {
    let size = entry.size();
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    entry.read_to_end(&mut bytes)?;
    if bytes.len() as u64 != size {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("entry data ended after {} of {size} bytes", bytes.len()),
        ));
    }
    Ok(bytes)
}

/// Reads a regular file's head; when it qualifies, hashes it whole (and its wanted prefixes),
/// feeding the same bytes to the `digester` when there is one.
fn read_file(
    entry: &mut tar::Entry<'_, impl Read>,
    head: &mut [u8],
    chunk: &mut [u8],
    wanted: &[u64],
    digester: Option<&mut PackageDigester<'_>>,
) -> std::io::Result<Option<FileRecord>> {
    let header = entry.header();
    let mode = header.mode()? & 0o7777;
    let header_uid = header.uid()?;
    let header_gid = header.gid()?;
    let size = entry.size();
    // Four bytes decide for files without an x bit; read more only for executables.
    let magic_len = usize::try_from(size.min(4)).unwrap_or(4);
    entry.read_exact(&mut head[..magic_len])?;
    if !detect::qualifies(mode, &head[..magic_len]) {
        return Ok(None);
    }
    let head_len = usize::try_from(size.min(head.len() as u64)).unwrap_or(head.len());
    entry.read_exact(&mut head[magic_len..head_len])?;
    let mut hasher = PrefixHasher::new(wanted);
    hasher.update(&head[..head_len]);
    if let Some(digester) = digester {
        let mut buffer = digester.buffer();
        buffer[..head_len].copy_from_slice(&head[..head_len]);
        digester.send(Piece::Bytes(buffer, head_len));
        loop {
            let mut buffer = digester.buffer();
            let read = entry.read(&mut buffer)?;
            if read == 0 {
                digester.keep(buffer);
                break;
            }
            hasher.update(&buffer[..read]);
            digester.send(Piece::Bytes(buffer, read));
        }
        digester.send(Piece::End);
    } else {
        loop {
            let read = entry.read(chunk)?;
            if read == 0 {
                break;
            }
            hasher.update(&chunk[..read]);
        }
    }
    let PrefixHasher {
        hasher, prefixes, ..
    } = hasher;
    if hasher.len() != size {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("entry data ended after {} of {size} bytes", hasher.len()),
        ));
    }
    let uid = pax_number(entry, "uid").unwrap_or(header_uid);
    let gid = pax_number(entry, "gid").unwrap_or(header_gid);
    Ok(Some(FileRecord {
        sha256: hasher.finish(),
        size,
        mode,
        uid,
        gid,
        detected: detect::detect(&head[..head_len]),
        prefixes,
        // Filled in from the digester's results once the layer has been walked.
        package_digests: None,
    }))
}

/// What the merged filesystem holds at a path (only what the manifest needs).
#[derive(Clone, Debug)]
enum State {
    Executable {
        record: Box<FileRecord>,
        layer: usize,
    },
    Symlink {
        target: Vec<u8>,
    },
    /// A package database or `os-release`, kept whole.
    Data {
        bytes: Vec<u8>,
    },
    /// Only in the one-layer merges of a prefix lookup, never in a scan: whatever the layers
    /// below hold at `path`. Seeded for the paths the lookup asks about and for hardlink
    /// targets; a hardlink that takes it carries it on with `linked` set, so the lookup knows
    /// an entry of this layer wrote the path and where to look next.
    Below {
        path: Vec<u8>,
        linked: bool,
    },
}

/// The merged filesystem: executables and symlinks by normalised path (no leading `/`), and
/// the directories whose mode lets anyone write.
#[derive(Debug, Default)]
pub struct Filesystem {
    nodes: BTreeMap<Vec<u8>, State>,
    hidden: Vec<Hidden>,
    writable_dirs: std::collections::BTreeSet<Vec<u8>>,
}

/// Longest symlink chain followed, as Linux's `MAXSYMLINKS`.
const MAX_SYMLINK_HOPS: usize = 40;

fn absolute(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len() + 1);
    out.push(b'/');
    out.extend_from_slice(path);
    out
}

impl Filesystem {
    /// Records `path` (an executable written by `layer`) as hidden by `by`.
    fn hide(&mut self, path: &[u8], state: &State, by: usize) {
        if let State::Executable { record, layer } = state
            && *layer < by
        {
            let (text, bytes) = manifest::path_fields(&absolute(path));
            self.hidden.push(Hidden {
                path: text,
                path_bytes: bytes,
                sha256: record.sha256,
                layer: *layer,
                hidden_by: by,
            });
        }
    }

    fn remove(&mut self, path: &[u8], by: usize) {
        if let Some(state) = self.nodes.remove(path) {
            self.hide(path, &state, by);
        }
    }

    /// Removes everything strictly below `dir`.
    fn remove_children(&mut self, dir: &[u8], by: usize) {
        let mut start = dir.to_vec();
        if !start.is_empty() {
            start.push(b'/');
        }
        let mut end = start.clone();
        // '/' + 1 == '0': every key with the prefix `dir/` sorts below `dir0`.
        if let Some(last) = end.last_mut() {
            *last += 1;
        }
        let keys: Vec<Vec<u8>> = if start.is_empty() {
            self.nodes.keys().cloned().collect()
        } else {
            self.nodes
                .range(start..end)
                .map(|(key, _)| key.clone())
                .collect()
        };
        for key in keys {
            self.remove(&key, by);
        }
    }

    /// Forgets world-writable directories below `path` (and `path` itself when asked).
    fn forget_writable_dirs(&mut self, path: &[u8], including_path: bool) {
        if including_path {
            self.writable_dirs.remove(path);
        }
        let mut prefix = path.to_vec();
        if !prefix.is_empty() {
            prefix.push(b'/');
        }
        self.writable_dirs
            .retain(|dir| !dir.starts_with(&prefix) || dir.as_slice() == path);
    }

    /// An entry at `path` makes every ancestor a directory: drop files and symlinks there.
    fn make_ancestors_directories(&mut self, path: &[u8], by: usize) {
        for (at, byte) in path.iter().enumerate() {
            if *byte == b'/' && self.nodes.contains_key(&path[..at]) {
                self.remove(&path[..at], by);
            }
        }
    }

    /// Applies one layer's changes: whiteouts and opaque markers first (they act on lower
    /// layers only), then the entries in tar order.
    pub fn apply(&mut self, layer: usize, changes: impl Into<LayerChanges>) {
        let changes = changes.into();
        for change in changes.structural() {
            match change {
                Change::Whiteout(path) => {
                    self.make_ancestors_directories(path, layer);
                    self.remove(path, layer);
                    self.remove_children(path, layer);
                    self.forget_writable_dirs(path, true);
                }
                Change::Opaque(dir) => {
                    self.forget_writable_dirs(dir, false);
                    self.make_ancestors_directories(dir, layer);
                    if self.nodes.contains_key(dir.as_slice()) {
                        self.remove(dir, layer);
                    }
                    self.remove_children(dir, layer);
                }
                Change::Put(..) => {}
            }
        }
        for change in changes {
            let Change::Put(path, node) = change else {
                continue;
            };
            self.make_ancestors_directories(&path, layer);
            let is_directory = matches!(node, Node::Directory(_));
            match node {
                Node::Directory(mode) if mode & 0o002 != 0 => {
                    self.writable_dirs.insert(path.clone());
                }
                Node::Directory(_) => {
                    self.writable_dirs.remove(&path);
                }
                _ => self.forget_writable_dirs(&path, true),
            }
            // Resolve a hardlink before its own path is cleared.
            let new_state = match node {
                Node::File(Some(record)) => Some(State::Executable { record, layer }),
                Node::Hardlink(target) => match self.nodes.get(&target) {
                    Some(State::Executable { record, .. }) => Some(State::Executable {
                        record: record.clone(),
                        layer,
                    }),
                    Some(State::Below { path, .. }) => Some(State::Below {
                        path: path.clone(),
                        linked: true,
                    }),
                    Some(State::Data { bytes }) => Some(State::Data {
                        bytes: bytes.clone(),
                    }),
                    Some(State::Symlink { .. }) | None => None,
                },
                Node::Symlink(target) => Some(State::Symlink { target }),
                Node::Data(bytes) => Some(State::Data { bytes: *bytes }),
                Node::Directory(_) | Node::File(None) | Node::Special => None,
            };
            // Whatever was at the path is replaced; a non-directory also replaces a tree.
            self.remove(&path, layer);
            if !is_directory {
                self.remove_children(&path, layer);
            }
            if let Some(state) = new_state {
                self.nodes.insert(path, state);
            }
        }
    }

    /// `path` with every component resolved through the image's symlinks, the last one too;
    /// the path need not exist. `None` when a symlink chain is too long.
    pub(super) fn resolve_path(&self, path: &[u8]) -> Option<Vec<u8>> {
        let mut pending: std::collections::VecDeque<Vec<u8>> = path
            .split(|byte| *byte == b'/')
            .filter(|part| !part.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        let mut current: Vec<Vec<u8>> = Vec::new();
        let mut hops = 0;
        while let Some(component) = pending.pop_front() {
            match component.as_slice() {
                b"." => continue,
                b".." => {
                    current.pop();
                    continue;
                }
                _ => current.push(component),
            }
            if let Some(State::Symlink { target }) = self.nodes.get(&current.join(&b'/')) {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return None;
                }
                current.pop();
                if target.starts_with(b"/") {
                    current.clear();
                }
                for part in target
                    .rsplit(|byte| *byte == b'/')
                    .filter(|part| !part.is_empty())
                {
                    pending.push_front(part.to_vec());
                }
            }
        }
        Some(current.join(&b'/'))
    }

    /// Follows symlinks from `path` within the image root; the executable it ends at, if any.
    fn resolve_executable(&self, path: &[u8]) -> Option<Vec<u8>> {
        let resolved = self.resolve_path(path)?;
        matches!(self.nodes.get(&resolved), Some(State::Executable { .. })).then_some(resolved)
    }

    /// World-writable directories of the final filesystem, absolute, sorted.
    #[must_use]
    pub fn world_writable_dirs(&self) -> Vec<String> {
        self.writable_dirs
            .iter()
            .map(|dir| String::from_utf8_lossy(&absolute(dir)).into_owned())
            .collect()
    }

    /// The manifest's executables, links and hidden lists, sorted by path bytes.
    #[must_use]
    pub fn into_entries(self) -> (Vec<Executable>, Vec<Link>, Vec<Hidden>) {
        let mut executables = Vec::new();
        let mut links = Vec::new();
        for (path, state) in &self.nodes {
            match state {
                State::Executable { record, layer } => {
                    let (text, bytes) = manifest::path_fields(&absolute(path));
                    executables.push(Executable {
                        path: text,
                        path_bytes: bytes,
                        sha256: record.sha256,
                        size: record.size,
                        mode: record.mode,
                        uid: record.uid,
                        gid: record.gid,
                        kind: record.detected.kind,
                        interpreter: record.detected.interpreter.clone(),
                        build_id: record.detected.build_id.clone(),
                        layer: *layer,
                        package: None,
                        package_digest: None,
                    });
                }
                State::Below { .. } | State::Data { .. } => {}
                State::Symlink { .. } => {
                    if let Some(target) = self.resolve_executable(path) {
                        let (text, bytes) = manifest::path_fields(&absolute(path));
                        let (target_text, target_bytes) = manifest::path_fields(&absolute(&target));
                        links.push(Link {
                            path: text,
                            path_bytes: bytes,
                            target: target_text,
                            target_bytes,
                        });
                    }
                }
            }
        }
        let mut hidden = self.hidden;
        hidden.sort_by(|a, b| {
            (
                manifest::raw_path(&a.path, a.path_bytes.as_deref()),
                a.layer,
            )
                .cmp(&(
                    manifest::raw_path(&b.path, b.path_bytes.as_deref()),
                    b.layer,
                ))
        });
        (executables, links, hidden)
    }
}

/// How to run a scan.
#[derive(Clone, Copy, Default)]
pub struct ScanOptions<'a> {
    /// Layers decoded at once; 0 means one per available core.
    pub threads: usize,
    /// Called with the number of compressed bytes read, from any worker thread.
    pub on_read: Option<&'a (dyn Fn(u64) + Sync)>,
    /// Where walks of layers seen before are found and new ones kept; `None` reads every layer.
    pub cache: Option<&'a LayerCache>,
}

/// Reads one layer to its changes, verifying its digests.
///
/// # Errors
/// As [`walk_layer`], and any digest mismatch.
pub fn scan_layer(
    source: &dyn ImageSource,
    image: &ResolvedImage,
    index: usize,
    on_read: Option<&(dyn Fn(u64) + Sync)>,
) -> Result<LayerScan, Error> {
    read_layer(source, image, index, on_read, &PrefixWanted::default())
}

/// [`scan_layer`], hashing the `wanted` prefixes too. Nothing it returns comes from a layer
/// whose blob digest, size or diff_id did not verify: the stream is read to its end first.
fn read_layer(
    source: &dyn ImageSource,
    image: &ResolvedImage,
    index: usize,
    on_read: Option<&(dyn Fn(u64) + Sync)>,
    wanted: &PrefixWanted,
) -> Result<LayerScan, Error> {
    let descriptor = image
        .layers
        .get(index)
        .ok_or_else(|| image::Error::Invalid {
            image: image.name.clone(),
            problem: format!(
                "layer {index} asked for, but the image has {} layers",
                image.layers.len()
            ),
        })?;
    let label = descriptor.label();
    let raw = source.open_layer(descriptor)?;
    let mut stream = LayerStream::new(&image.name, descriptor, raw, on_read)?;
    let walked = if wanted.lengths.is_empty() {
        walk_layer(&image.name, &label, &mut stream)
    } else {
        walk_layer_with_prefixes(&image.name, &label, &mut stream, wanted)
    };
    // A digest mismatch explains a broken stream better than the tar error it caused.
    match (walked, stream.finish()) {
        (Ok((changes, warnings)), Ok(verified)) => Ok(LayerScan {
            changes,
            warnings,
            verified,
        }),
        (
            _,
            Err(
                mismatch @ (image::Error::DigestMismatch { .. }
                | image::Error::DiffIdMismatch { .. }
                | image::Error::SizeMismatch { .. }),
            ),
        ) => Err(mismatch.into()),
        (Err(error), _) => Err(error),
        (Ok(_), Err(error)) => Err(error.into()),
    }
}

/// A scanned image: its manifest and what the user should be warned of.
#[derive(Debug)]
pub struct ScanOutput {
    /// The manifest.
    pub manifest: Manifest,
    /// Ignored oddities (reserved whiteout names and the like).
    pub warnings: Vec<String>,
}

/// Scans one platform image: all layers (in parallel), verified, merged bottom-up.
///
/// # Errors
/// The first failing layer's error (lowest index).
pub fn scan(
    source: &dyn ImageSource,
    image: &ResolvedImage,
    options: &ScanOptions<'_>,
) -> Result<ScanOutput, Error> {
    scan_images(&[ScanRequest { source, image }], options)
        .pop()
        .unwrap_or_else(|| {
            Err(image::Error::Invalid {
                image: image.name.clone(),
                problem: "the scan returned no result".to_owned(),
            }
            .into())
        })
}

/// One image of a [`scan_images`] run: where its blobs are, and what it resolved to.
#[derive(Clone, Copy)]
pub struct ScanRequest<'a> {
    /// The image's source.
    pub source: &'a dyn ImageSource,
    /// The platform image.
    pub image: &'a ResolvedImage,
}

/// A layer's walk as one image uses it: the walk (shared by every image with the diff_id),
/// the manifest's entry for this image's blob, and what the cache had to say.
struct ObtainedLayer {
    walked: Arc<CachedLayer>,
    info: LayerInfo,
    cache_warnings: Vec<String>,
}

type LayerSlot = Mutex<Option<Result<ObtainedLayer, Error>>>;

/// This run's walk of one diff_id, and how many of the run's layers still have to take it.
struct SharedWalk {
    walk: Mutex<Option<Arc<CachedLayer>>>,
    uses_left: AtomicUsize,
}

impl SharedWalk {
    /// One use done; the last lets the walk go (the images hold their own references).
    fn used(&self) {
        if self.uses_left.fetch_sub(1, Ordering::AcqRel) == 1
            && let Ok(mut walk) = self.walk.lock()
        {
            *walk = None;
        }
    }
}

/// Scans several platform images together: each distinct layer (by diff_id) is obtained once,
/// from the cache or by reading it, on a pool of threads shared by all images. Each image is
/// merged as soon as its layers are in, while the pool goes on with the next images, and a
/// layer's walk is let go once every image that has it took it: memory follows the images in
/// flight, not the whole run. One result per request, in order: a failing image does not stop
/// the others.
#[must_use]
pub fn scan_images(
    requests: &[ScanRequest<'_>],
    options: &ScanOptions<'_>,
) -> Vec<Result<ScanOutput, Error>> {
    let mut walks: HashMap<Sha256Digest, SharedWalk> = HashMap::new();
    let mut jobs = Vec::new();
    for (request_index, request) in requests.iter().enumerate() {
        for (layer_index, layer) in request.image.layers.iter().enumerate() {
            walks
                .entry(layer.diff_id)
                .or_insert_with(|| SharedWalk {
                    walk: Mutex::new(None),
                    uses_left: AtomicUsize::new(0),
                })
                .uses_left
                .fetch_add(1, Ordering::Relaxed);
            jobs.push((request_index, layer_index));
        }
    }
    let slots: Vec<Vec<LayerSlot>> = requests
        .iter()
        .map(|request| {
            request
                .image
                .layers
                .iter()
                .map(|_| Mutex::new(None))
                .collect()
        })
        .collect();
    let pending: Vec<AtomicUsize> = requests
        .iter()
        .map(|request| AtomicUsize::new(request.image.layers.len()))
        .collect();
    let failed: Vec<AtomicBool> = requests.iter().map(|_| AtomicBool::new(false)).collect();
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
        n => n,
    }
    .min(jobs.len().max(1));
    let next = AtomicUsize::new(0);
    let take_slots = |request_index: usize| -> Vec<Option<Result<ObtainedLayer, Error>>> {
        slots[request_index]
            .iter()
            .map(|slot| slot.lock().ok().and_then(|mut slot| slot.take()))
            .collect()
    };
    let mut outputs: Vec<Option<Result<ScanOutput, Error>>> =
        requests.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let (complete, completed) = std::sync::mpsc::channel::<usize>();
        for _ in 0..threads {
            let complete = complete.clone();
            let (jobs, walks, slots, pending, failed, next) =
                (&jobs, &walks, &slots, &pending, &failed, &next);
            scope.spawn(move || {
                while let Some(&(request_index, layer_index)) =
                    jobs.get(next.fetch_add(1, Ordering::Relaxed))
                {
                    let request = requests[request_index];
                    let shared = walks.get(&request.image.layers[layer_index].diff_id);
                    // Skipped after an earlier failure of the same image, which is reported.
                    if !failed[request_index].load(Ordering::Relaxed)
                        && let Some(shared) = shared
                    {
                        let result = obtain_layer(request, layer_index, &shared.walk, options);
                        if result.is_err() {
                            failed[request_index].store(true, Ordering::Relaxed);
                        }
                        if let Ok(mut slot) = slots[request_index][layer_index].lock() {
                            *slot = Some(result);
                        }
                    }
                    if let Some(shared) = shared {
                        shared.used();
                    }
                    if pending[request_index].fetch_sub(1, Ordering::AcqRel) == 1 {
                        // The merging thread is gone only if it panicked; the scope reports it.
                        let _ = complete.send(request_index);
                    }
                }
            });
        }
        drop(complete);
        // Merged here, on the calling thread, while the pool reads the next images' layers.
        for request_index in completed {
            outputs[request_index] = Some(merge_image(
                requests[request_index].image,
                take_slots(request_index),
            ));
        }
    });
    outputs
        .into_iter()
        .enumerate()
        // An image without layers has nothing to wait for.
        .map(|(request_index, output)| {
            output.unwrap_or_else(|| {
                merge_image(requests[request_index].image, take_slots(request_index))
            })
        })
        .collect()
}

/// Obtains one layer of one image: from this run's walk of its diff_id, else from the cache,
/// else by reading it (and then caching it). `walk` is this run's slot for the diff_id; holding
/// its lock, a thread is the only one obtaining that diff_id.
fn obtain_layer(
    request: ScanRequest<'_>,
    index: usize,
    walk: &Mutex<Option<Arc<CachedLayer>>>,
    options: &ScanOptions<'_>,
) -> Result<ObtainedLayer, Error> {
    let ScanRequest { source, image } = request;
    let descriptor = &image.layers[index];
    let mut walk = walk.lock().map_err(|_| image::Error::Invalid {
        image: image.name.clone(),
        problem: format!("layer {}: a scan thread failed", descriptor.label()),
    })?;
    let mut cache_warnings = Vec::new();
    if let Some(walked) = walk.as_ref()
        && let Some(info) = serves(walked, source, descriptor)
    {
        return Ok(ObtainedLayer {
            walked: Arc::clone(walked),
            info,
            cache_warnings,
        });
    }
    let mut known = walk.clone();
    if known.is_none()
        && let Some(cache) = options.cache
    {
        match cache.load(&descriptor.diff_id) {
            Ok(found) => known = found.map(Arc::new),
            Err(error) if error.is_other_version() => {}
            Err(error) => cache_warnings.push(format!("{error}; reading the layer")),
        }
        if let Some(walked) = &known
            && let Some(info) = serves(walked, source, descriptor)
        {
            *walk = Some(Arc::clone(walked));
            return Ok(ObtainedLayer {
                walked: Arc::clone(walked),
                info,
                cache_warnings,
            });
        }
    }
    let scanned = scan_layer(source, image, index, options.on_read)?;
    let label = descriptor.label();
    let mut walked = CachedLayer {
        diff_id: descriptor.diff_id,
        blobs: known.map(|known| known.blobs.clone()).unwrap_or_default(),
        warnings: scanned
            .warnings
            .into_iter()
            .map(|warning| unlabel_warning(warning, &label))
            .collect(),
        changes: scanned.changes,
    };
    walked.add_blob(BlobForm {
        digest: scanned.verified.digest,
        size: scanned.verified.size,
        declared_media_type: descriptor.media_type.clone(),
        media_type: scanned.verified.media_type.clone(),
    });
    if let Some(cache) = options.cache
        && let Err(error) = cache.store(&walked)
    {
        cache_warnings.push(error.to_string());
    }
    let walked = Arc::new(walked);
    *walk = Some(Arc::clone(&walked));
    Ok(ObtainedLayer {
        walked,
        info: LayerInfo {
            digest: scanned.verified.digest,
            diff_id: scanned.verified.diff_id,
            media_type: scanned.verified.media_type,
            size: scanned.verified.size,
        },
        cache_warnings,
    })
}

/// The manifest entry a cold scan would write for `descriptor`, if the known walk of its
/// diff_id may stand in for reading the blob; `None` when the blob must be read.
///
/// A descriptor naming a digest is served by a blob form with that digest, the same declared
/// media type and the same size: the blob was read and verified to decompress to this diff_id
/// before. A descriptor without a digest (a legacy docker archive) names no blob to compare; it
/// is served only when its blob is a plain tar (declared, or seen in its first bytes), whose
/// digest is then the diff_id itself and whose size is the descriptor's.
fn serves(
    walked: &CachedLayer,
    source: &dyn ImageSource,
    descriptor: &image::LayerDescriptor,
) -> Option<LayerInfo> {
    let Some(digest) = descriptor.digest else {
        let size = descriptor.size?;
        let media_type = match &descriptor.media_type {
            Some(declared) => (Compression::from_media_type(declared)? == Compression::None)
                .then(|| declared.clone())?,
            None => {
                let mut head = Vec::with_capacity(4);
                source
                    .open_layer(descriptor)
                    .ok()?
                    .take(4)
                    .read_to_end(&mut head)
                    .ok()?;
                let compression = Compression::sniff(&head);
                (compression == Compression::None)
                    .then(|| compression.sniffed_media_type().to_owned())?
            }
        };
        return Some(LayerInfo {
            digest: descriptor.diff_id,
            diff_id: descriptor.diff_id,
            media_type,
            size,
        });
    };
    walked
        .blobs
        .iter()
        .find(|form| {
            form.digest == digest
                && form.declared_media_type == descriptor.media_type
                && descriptor.size.is_none_or(|size| size == form.size)
        })
        .map(|form| LayerInfo {
            digest,
            diff_id: descriptor.diff_id,
            media_type: form.media_type.clone(),
            size: form.size,
        })
}

/// A walker warning without its `layer LABEL: ` prefix, for the cache.
fn unlabel_warning(warning: String, label: &str) -> String {
    match warning.strip_prefix(&format!("layer {label}: ")) {
        Some(rest) => rest.to_owned(),
        None => warning,
    }
}

/// Merges one image's layers bottom-up into its manifest.
fn merge_image(
    image: &ResolvedImage,
    slots: Vec<Option<Result<ObtainedLayer, Error>>>,
) -> Result<ScanOutput, Error> {
    let layer_count = image.layers.len();
    let mut filesystem = Filesystem::default();
    let mut layers = Vec::with_capacity(layer_count);
    let mut warnings = Vec::new();
    for (index, slot) in slots.into_iter().enumerate() {
        let obtained = match slot {
            Some(result) => result?,
            // Skipped after an earlier failure; that failure is reported below.
            None => continue,
        };
        let label = image.layers[index].label();
        warnings.extend(obtained.cache_warnings);
        warnings.extend(
            obtained
                .walked
                .warnings
                .iter()
                .map(|warning| format!("layer {label}: {warning}")),
        );
        layers.push(obtained.info);
        let changes = Arc::try_unwrap(obtained.walked)
            .map_or_else(|shared| shared.changes.clone(), |walked| walked.changes);
        filesystem.apply(index, changes);
    }
    if layers.len() != layer_count {
        return Err(image::Error::Invalid {
            image: image.name.clone(),
            problem: "a layer scan stopped without reporting why".to_owned(),
        }
        .into());
    }
    let world_writable_dirs = filesystem.world_writable_dirs();
    let ownership = packages::ownership(&filesystem, &image.name)?;
    let (mut executables, links, hidden) = filesystem.into_entries();
    for executable in &mut executables {
        let path = executable.raw_path();
        let (package, state) = ownership.of(path.strip_prefix(b"/").unwrap_or(&path));
        executable.package = package;
        executable.package_digest = Some(state);
    }
    Ok(ScanOutput {
        manifest: Manifest {
            predicate_type: PREDICATE_TYPE.to_owned(),
            image: ImageInfo {
                name: image.name.clone(),
                index_digest: image.index_digest,
                manifest_digest: image.manifest_digest,
                config_digest: image.config_digest,
                platform: image.platform.to_string(),
                search_path: image.search_path.clone(),
                engine: image.engine.as_ref().map(|engine| SourceEngine {
                    name: engine.engine.code().to_owned(),
                    image_id: engine.image_id,
                    repo_digests: engine.repo_digests.clone(),
                }),
            },
            layers,
            executables,
            links,
            hidden,
            world_writable_dirs,
            package_databases: ownership.databases,
            packages: ownership.packages,
        },
        warnings,
    })
}

/// Counts executables by kind, for summaries.
#[must_use]
pub fn count_kinds(executables: &[Executable]) -> BTreeMap<Kind, usize> {
    let mut counts = BTreeMap::new();
    for executable in executables {
        *counts.entry(executable.kind).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::{LayerTar, executable_node, put, whiteout};

    type Merged = (
        Vec<String>,
        Vec<(String, String)>,
        Vec<(String, usize, usize)>,
    );

    fn merged(layers: Vec<Vec<Change>>) -> Merged {
        let mut filesystem = Filesystem::default();
        for (index, changes) in layers.into_iter().enumerate() {
            filesystem.apply(index, changes);
        }
        let (executables, links, hidden) = filesystem.into_entries();
        (
            executables.into_iter().map(|e| e.path).collect(),
            links.into_iter().map(|l| (l.path, l.target)).collect(),
            hidden
                .into_iter()
                .map(|h| (h.path, h.layer, h.hidden_by))
                .collect(),
        )
    }

    #[test]
    fn paths_normalise_and_dotdot_is_refused() {
        assert_eq!(normalise_path(b"./usr//bin/x").unwrap(), b"usr/bin/x");
        assert_eq!(normalise_path(b"/usr/bin/").unwrap(), b"usr/bin");
        assert_eq!(normalise_path(b"./").unwrap(), b"");
        assert!(normalise_path(b"usr/../../etc").is_none());
        assert!(normalise_path(b"..").is_none());
    }

    #[test]
    fn whiteout_deletes_a_lower_subtree_but_not_its_own_layer() {
        let (paths, _, hidden) = merged(vec![
            vec![
                put("a/x", executable_node(b"1")),
                put("a/sub/y", executable_node(b"2")),
                put("b", executable_node(b"3")),
            ],
            vec![
                whiteout("a"),
                put("b", executable_node(b"4")),
                whiteout("b"),
            ],
        ]);
        assert_eq!(paths, ["/b"]);
        assert_eq!(
            hidden,
            [
                ("/a/sub/y".into(), 0, 1),
                ("/a/x".into(), 0, 1),
                ("/b".into(), 0, 1)
            ]
        );
    }

    #[test]
    fn opaque_hides_lower_children_only() {
        let (paths, _, _) = merged(vec![
            vec![
                put("d/old", executable_node(b"1")),
                put("d2/keep", executable_node(b"2")),
            ],
            vec![
                put("d/new", executable_node(b"3")),
                Change::Opaque(b"d".to_vec()),
            ],
        ]);
        assert_eq!(paths, ["/d/new", "/d2/keep"]);
    }

    #[test]
    fn type_changes_replace_trees_and_files() {
        let (paths, _, hidden) = merged(vec![
            vec![
                put("t/x", executable_node(b"1")),
                put("f", executable_node(b"2")),
                put("l", Node::Symlink(b"/t".to_vec())),
            ],
            vec![
                put("t", Node::File(None)),
                put("f", Node::Directory(0o755)),
                put("f/y", executable_node(b"3")),
                put("l/z", executable_node(b"4")),
            ],
        ]);
        assert_eq!(paths, ["/f/y", "/l/z"]);
        assert_eq!(hidden, [("/f".into(), 0, 1), ("/t/x".into(), 0, 1)]);
    }

    /// The package digests come from a thread of their own, in tar order: each executable
    /// must get its own, across files that span several chunks, an empty one, and files
    /// that are not executables in between.
    #[test]
    fn every_executable_gets_its_own_package_digests() {
        let long: Vec<u8> = (0..(3 * CHUNK_BYTES + HEAD_BYTES + 7))
            .map(|at| (at % 251) as u8)
            .collect();
        let mut elf = b"\x7fELF".to_vec();
        elf.extend_from_slice(&[9; 100]);
        // More executables than buffers in flight: each buffer must find its way back.
        let many: Vec<(String, Vec<u8>)> = (0..3 * PACKAGE_DIGEST_BUFFERS)
            .map(|at| {
                (
                    format!("bin/tool{at}"),
                    format!("#!/bin/sh\necho {at}\n").into_bytes(),
                )
            })
            .collect();
        let mut files: Vec<(&str, u32, &[u8])> = vec![
            ("bin/long", 0o755, &long),
            ("etc/motd", 0o644, b"hello"),
            ("bin/empty", 0o755, b""),
            ("lib/libx.so", 0o644, &elf),
            ("bin/sh", 0o755, b"#!/bin/sh\n"),
        ];
        files.extend(
            many.iter()
                .map(|(path, content)| (path.as_str(), 0o755, content.as_slice())),
        );
        let bytes = files
            .iter()
            .fold(LayerTar::new(), |tar, &(path, mode, content)| {
                tar.file(path, content, mode)
            })
            .finish();
        let (changes, _) = walk_layer("img", "layer", &bytes[..]).unwrap();
        let mut seen = 0;
        for change in changes.structural() {
            let Change::Put(path, Node::File(Some(record))) = change else {
                continue;
            };
            let content = files
                .iter()
                .find(|(name, _, _)| name.as_bytes() == path.as_slice())
                .unwrap()
                .2;
            assert_eq!(
                record.package_digests,
                Some(PackageDigests {
                    md5: md5::Md5::digest(content).into(),
                    sha1: sha1::Sha1::digest(content).into(),
                }),
                "{}",
                String::from_utf8_lossy(path)
            );
            seen += 1;
        }
        assert_eq!(seen, 4 + many.len(), "{changes:?}");
        // A prefix lookup never compares with packages and does not compute them.
        let (changes, _) =
            walk_layer_with_prefixes("img", "layer", &bytes[..], &PrefixWanted::lengths([4]))
                .unwrap();
        assert!(changes.iter().all(|change| !matches!(
            change,
            Change::Put(_, Node::File(Some(record))) if record.package_digests.is_some()
        )));
    }

    #[test]
    fn the_walker_keeps_directory_modes() {
        let bytes = LayerTar::new().directory("tmp/", 0o1777).finish();
        let (changes, _) = walk_layer("img", "layer", &bytes[..]).unwrap();
        assert_eq!(
            changes.iter().collect::<Vec<_>>(),
            [Change::Put(b"tmp".to_vec(), Node::Directory(0o1777))]
        );
    }

    #[test]
    fn world_writable_directories_follow_layer_semantics() {
        let mut filesystem = Filesystem::default();
        filesystem.apply(
            0,
            vec![
                put("tmp", Node::Directory(0o1777)),
                put("srv/drop", Node::Directory(0o777)),
                put("srv/drop/sub", Node::Directory(0o777)),
                put("opt/w", Node::Directory(0o777)),
                put("var/x", Node::Directory(0o777)),
                put("etc", Node::Directory(0o755)),
            ],
        );
        filesystem.apply(
            1,
            vec![
                put("opt/w", Node::Directory(0o755)),
                whiteout("srv/drop"),
                put("etc/open", Node::Directory(0o757)),
                put("etc/open", Node::File(None)),
                Change::Opaque(b"var".to_vec()),
            ],
        );
        assert_eq!(filesystem.world_writable_dirs(), ["/tmp"]);
    }

    #[test]
    fn hardlinks_take_lower_or_same_layer_content() {
        let (paths, _, _) = merged(vec![
            vec![put("bin/a", executable_node(b"1"))],
            vec![
                put("bin/lower", Node::Hardlink(b"bin/a".to_vec())),
                put("bin/b", executable_node(b"2")),
                put("bin/same", Node::Hardlink(b"bin/b".to_vec())),
                put("bin/none", Node::Hardlink(b"bin/missing".to_vec())),
            ],
        ]);
        assert_eq!(paths, ["/bin/a", "/bin/b", "/bin/lower", "/bin/same"]);
    }

    #[test]
    fn links_resolve_through_directories_and_stop_on_loops() {
        let (_, links, _) = merged(vec![vec![
            put("usr/bin/busybox", executable_node(b"1")),
            put("bin", Node::Symlink(b"usr/bin".to_vec())),
            put("usr/bin/sh", Node::Symlink(b"busybox".to_vec())),
            put("usr/local/sh", Node::Symlink(b"../../bin/sh".to_vec())),
            put("loop1", Node::Symlink(b"loop2".to_vec())),
            put("loop2", Node::Symlink(b"loop1".to_vec())),
            put(
                "escape",
                Node::Symlink(b"../../../../usr/bin/busybox".to_vec()),
            ),
            put("dangling", Node::Symlink(b"/nowhere".to_vec())),
        ]]);
        assert_eq!(
            links,
            [
                ("/escape".into(), "/usr/bin/busybox".into()),
                ("/usr/bin/sh".into(), "/usr/bin/busybox".into()),
                ("/usr/local/sh".into(), "/usr/bin/busybox".into()),
            ]
        );
    }
}
