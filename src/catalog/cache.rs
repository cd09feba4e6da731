//! The layer cache: what walking a layer produced, kept on disk under the layer's diff_id, so a
//! layer seen before is neither fetched nor read again.
//!
//! An entry ([`CachedLayer`]) holds a layer's [`Change`](super::Change)s and warnings exactly as
//! [`super::walk_layer`] returned them, and the blobs ([`BlobForm`]) that were read, verified,
//! and found to decompress to that diff_id. The scan takes an entry in place of a layer only for
//! a descriptor naming one of those blobs (see `serves` in the parent module), so the
//! manifest's `layers` list is the one a cold scan writes.
//!
//! File format (`docs/cache.md`), one file per diff_id, `DIR/layers/<hex>`:
//! a [borsh](https://borsh.io/) header (magic, [`FORMAT_VERSION`], the exelock version, the
//! SHA-256 of the payload), then the payload: the zstd-compressed borsh encoding of the entry.
//! An entry is ignored (and the layer read and its entry rewritten) when its magic, format or
//! exelock version differ, its payload does not hash to the header's digest, it does not decode,
//! or it names another diff_id than its file name.
//!
//! Writes go to a temporary file in the same directory, renamed over the entry: a reader sees
//! the old entry, the new one or none, never part of one. Scans sharing a directory write equal
//! entries for equal layers, so the last rename wins without harm; eviction tolerates files
//! another process removed first. Least recently used entries are evicted past a size cap; a
//! use is recorded as the entry's modification time (access times are often not kept).
//!
//! The directory is trusted as the user's own files are: the digest catches damage and edits
//! that do not recompute it, not someone able to write the directory and the digest alike.
//!
//! File I/O in the cache directory only; prints nothing: callers turn errors into warnings.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use borsh::{BorshDeserialize, BorshSerialize};
use sha2::{Digest as _, Sha256};

use super::LayerChanges;
use crate::digest::Sha256Digest;

/// The entry format; raise it whenever the encoding of an entry changes (the test
/// `the_encoding_is_pinned` fails until then).
pub const FORMAT_VERSION: u32 = 2;
/// The first bytes of every entry.
const MAGIC: [u8; 8] = *b"exelockL";
/// This build's version: entries of other builds are ignored, since their walker may differ.
const EXELOCK_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The subdirectory of the cache directory that holds entries.
const LAYERS_DIR: &str = "layers";
/// Temporary files start with this; older ones than [`STALE_TEMPORARY`] are left-overs of a
/// process that died mid-write.
const TEMPORARY_PREFIX: &str = ".tmp-";
const STALE_TEMPORARY: Duration = Duration::from_secs(3600);
/// Blob forms kept per entry; older ones are dropped first.
const MAX_BLOB_FORMS: usize = 16;
/// zstd level: fast, and paths compress well at any level.
const ZSTD_LEVEL: i32 = 3;

/// Errors reading or writing the cache; never fatal to a scan.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file of the cache could not be read, written or removed.
    #[error("layer cache: cannot use {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The entry was written by another format or exelock version.
    #[error(
        "layer cache: entry {path} is of format {format} by exelock {version} (this build writes format {FORMAT_VERSION} by exelock {EXELOCK_VERSION})"
    )]
    OtherVersion {
        /// The entry.
        path: PathBuf,
        /// Its format.
        format: u32,
        /// Its exelock version.
        version: String,
    },
    /// The entry is damaged or was edited.
    #[error("layer cache: entry {path} is damaged ({problem}); ignored")]
    Damaged {
        /// The entry.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The entry cannot be encoded (a field beyond the format's limits).
    #[error("layer cache: cannot encode the entry of layer {diff_id}")]
    Encode {
        /// The layer.
        diff_id: Sha256Digest,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Whether the entry is merely of another version: expected after an upgrade, not worth a
    /// warning.
    #[must_use]
    pub const fn is_other_version(&self) -> bool {
        matches!(self, Self::OtherVersion { .. })
    }
}

/// A blob proved to decompress to an entry's diff_id, as a descriptor named it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct BlobForm {
    /// The blob digest.
    pub digest: Sha256Digest,
    /// The blob size.
    pub size: u64,
    /// The media type the descriptor declared; `None` when it declared none (it was sniffed).
    pub declared_media_type: Option<String>,
    /// The media type the manifest records (declared or sniffed).
    pub media_type: String,
}

/// One layer's walk, as cached.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CachedLayer {
    /// The layer's uncompressed digest, the entry's key.
    pub diff_id: Sha256Digest,
    /// Blobs read and verified for this diff_id, oldest first.
    pub blobs: Vec<BlobForm>,
    /// The walker's warnings without their `layer LABEL: ` prefix (the label depends on how
    /// the image names the layer).
    pub warnings: Vec<String>,
    /// The walker's changes, in tar order.
    pub changes: LayerChanges,
}

impl CachedLayer {
    /// Adds a blob form (once), dropping the oldest beyond `MAX_BLOB_FORMS` (16).
    pub fn add_blob(&mut self, form: BlobForm) {
        if !self.blobs.contains(&form) {
            self.blobs.push(form);
        }
        let excess = self.blobs.len().saturating_sub(MAX_BLOB_FORMS);
        self.blobs.drain(..excess);
    }
}

/// What precedes an entry's payload.
#[derive(BorshSerialize, BorshDeserialize)]
struct Header {
    magic: [u8; 8],
    format: u32,
    exelock_version: String,
    /// SHA-256 of the payload bytes that follow the header.
    payload_sha256: [u8; 32],
}

/// Encodes an entry: header, then the compressed payload.
///
/// # Errors
/// [`Error::Encode`] when a field exceeds borsh's limits (a length beyond `u32`).
pub fn encode(layer: &CachedLayer) -> Result<Vec<u8>, Error> {
    let encode_error = |source| Error::Encode {
        diff_id: layer.diff_id,
        source,
    };
    let mut compressor =
        zstd::stream::write::Encoder::new(Vec::new(), ZSTD_LEVEL).map_err(encode_error)?;
    borsh::to_writer(&mut compressor, layer).map_err(encode_error)?;
    let payload = compressor.finish().map_err(encode_error)?;
    let header = Header {
        magic: MAGIC,
        format: FORMAT_VERSION,
        exelock_version: EXELOCK_VERSION.to_owned(),
        payload_sha256: Sha256::digest(&payload).into(),
    };
    let mut out = borsh::to_vec(&header).map_err(encode_error)?;
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Decodes an entry read from `path`, which must be the entry of `diff_id`.
///
/// # Errors
/// [`Error::OtherVersion`] or [`Error::Damaged`].
pub fn decode(bytes: &[u8], diff_id: &Sha256Digest, path: &Path) -> Result<CachedLayer, Error> {
    let damaged = |problem: String| Error::Damaged {
        path: path.to_owned(),
        problem,
    };
    if !bytes.starts_with(&MAGIC) {
        return Err(damaged("not an exelock layer cache entry".to_owned()));
    }
    let mut rest = bytes;
    let header = Header::deserialize(&mut rest)
        .map_err(|error| damaged(format!("unreadable header: {error}")))?;
    if header.format != FORMAT_VERSION || header.exelock_version != EXELOCK_VERSION {
        return Err(Error::OtherVersion {
            path: path.to_owned(),
            format: header.format,
            version: header.exelock_version,
        });
    }
    let payload_sha256: [u8; 32] = Sha256::digest(rest).into();
    if payload_sha256 != header.payload_sha256 {
        return Err(damaged(format!(
            "payload digest mismatch (got {}, expected {})",
            hex::encode(payload_sha256),
            hex::encode(header.payload_sha256)
        )));
    }
    let mut decompressor = zstd::stream::read::Decoder::new(rest)
        .map_err(|error| damaged(format!("payload does not decompress: {error}")))?;
    let layer: CachedLayer = borsh::from_reader(&mut decompressor)
        .map_err(|error| damaged(format!("payload does not decode: {error}")))?;
    if layer.diff_id != *diff_id {
        return Err(damaged(format!(
            "it holds layer {} (expected {diff_id})",
            layer.diff_id
        )));
    }
    Ok(layer)
}

/// A layer cache directory with a size cap.
#[derive(Clone, Debug)]
pub struct LayerCache {
    /// `DIR/layers`.
    entries: PathBuf,
    max_bytes: u64,
}

impl LayerCache {
    /// The cache in `dir` (created on first write), evicting past `max_bytes`.
    #[must_use]
    pub fn new(dir: &Path, max_bytes: u64) -> Self {
        Self {
            entries: dir.join(LAYERS_DIR),
            max_bytes,
        }
    }

    /// Where the entry of `diff_id` lives.
    #[must_use]
    pub fn entry_path(&self, diff_id: &Sha256Digest) -> PathBuf {
        self.entries.join(diff_id.hex())
    }

    /// The entry of `diff_id`, if there is a usable one; a use marks it recently used.
    ///
    /// # Errors
    /// An unreadable file, an entry of another version ([`Error::is_other_version`]), a
    /// damaged entry.
    pub fn load(&self, diff_id: &Sha256Digest) -> Result<Option<CachedLayer>, Error> {
        let path = self.entry_path(diff_id);
        let io_error = |source| Error::Io {
            path: path.clone(),
            source,
        };
        let mut file = match fs_err::File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(io_error(error)),
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io_error)?;
        let layer = decode(&bytes, diff_id, &path)?;
        // Least recently used means least recently read; failing to record it only makes the
        // entry an earlier candidate for eviction.
        let _ = file.set_modified(SystemTime::now());
        Ok(Some(layer))
    }

    /// Writes the entry of `layer` atomically, then evicts past the cap.
    ///
    /// # Errors
    /// An entry that cannot be encoded, a directory that cannot be written.
    pub fn store(&self, layer: &CachedLayer) -> Result<(), Error> {
        let bytes = encode(layer)?;
        let io_error = |path: &Path| {
            let path = path.to_owned();
            move |source| Error::Io { path, source }
        };
        fs_err::create_dir_all(&self.entries).map_err(io_error(&self.entries))?;
        let mut file = tempfile::Builder::new()
            .prefix(TEMPORARY_PREFIX)
            .tempfile_in(&self.entries)
            .map_err(io_error(&self.entries))?;
        file.write_all(&bytes)
            .and_then(|()| file.flush())
            .map_err(io_error(file.path()))?;
        let path = self.entry_path(&layer.diff_id);
        file.persist(&path)
            .map_err(|error| io_error(&path)(error.error))?;
        self.evict()
    }

    /// Removes least recently used entries until the directory holds at most the cap, and
    /// temporary files left by processes that died while writing.
    ///
    /// # Errors
    /// A directory that cannot be listed, a file that cannot be removed.
    pub fn evict(&self) -> Result<(), Error> {
        let io_error = |path: &Path| {
            let path = path.to_owned();
            move |source| Error::Io { path, source }
        };
        let listing = match fs_err::read_dir(&self.entries) {
            Ok(listing) => listing,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(io_error(&self.entries)(error)),
        };
        let now = SystemTime::now();
        let mut entries: Vec<(SystemTime, u64, PathBuf)> = Vec::new();
        for item in listing {
            let item = item.map_err(io_error(&self.entries))?;
            // Gone already: another process evicted or renamed it.
            let Ok(metadata) = item.metadata() else {
                continue;
            };
            if !metadata.is_file() {
                continue;
            }
            let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            let path = item.path();
            if item
                .file_name()
                .to_string_lossy()
                .starts_with(TEMPORARY_PREFIX)
            {
                if now.duration_since(modified).unwrap_or_default() > STALE_TEMPORARY {
                    remove_if_present(&path)?;
                }
                continue;
            }
            entries.push((modified, metadata.len(), path));
        }
        let mut total: u64 = entries.iter().map(|(_, size, _)| size).sum();
        entries.sort();
        for (_, size, path) in entries {
            if total <= self.max_bytes {
                break;
            }
            remove_if_present(&path)?;
            total -= size;
        }
        Ok(())
    }
}

/// Removes a file another process may have removed first.
fn remove_if_present(path: &Path) -> Result<(), Error> {
    match fs_err::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
            path: path.to_owned(),
            source: error,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Change, Node};
    use super::*;
    use crate::test_fixtures::{executable_node, put, whiteout};

    fn sample() -> CachedLayer {
        CachedLayer {
            diff_id: Sha256Digest::of(b"layer"),
            blobs: vec![BlobForm {
                digest: Sha256Digest::of(b"blob"),
                size: 42,
                declared_media_type: Some("application/vnd.oci.image.layer.v1.tar+gzip".into()),
                media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            }],
            warnings: vec!["ignored whiteout \".wh.\" that names no file".into()],
            changes: vec![
                put("bin/sh", executable_node(b"#!/bin/busybox\n")),
                Change::Put(
                    b"usr/bin/\xff".to_vec(),
                    executable_node(b"\x7fELF\x02\x01\x01"),
                ),
                put("tmp", Node::Directory(0o1777)),
                put("bin/ash", Node::Symlink(b"sh".to_vec())),
                put("bin/hard", Node::Hardlink(b"bin/sh".to_vec())),
                put("dev/null", Node::Special),
                put("etc/motd", Node::File(None)),
                put(
                    "var/lib/dpkg/status",
                    Node::Data(Box::new(b"Package: x\n".to_vec())),
                ),
                whiteout("old"),
                Change::Opaque(b"etc".to_vec()),
            ]
            .into(),
        }
    }

    fn path() -> PathBuf {
        PathBuf::from("cache/layers/x")
    }

    #[test]
    fn an_entry_round_trips() {
        let layer = sample();
        let bytes = encode(&layer).unwrap();
        assert_eq!(decode(&bytes, &layer.diff_id, &path()).unwrap(), layer);
    }

    #[test]
    fn a_truncated_entry_is_damaged() {
        let layer = sample();
        let bytes = encode(&layer).unwrap();
        for len in [0, 4, 8, 20, bytes.len() / 2, bytes.len() - 1] {
            let error = decode(&bytes[..len], &layer.diff_id, &path()).unwrap_err();
            assert!(matches!(error, Error::Damaged { .. }), "{len}: {error}");
        }
    }

    #[test]
    fn every_flipped_bit_is_detected() {
        let layer = sample();
        let bytes = encode(&layer).unwrap();
        for at in 0..bytes.len() {
            for bit in 0..8 {
                let mut flipped = bytes.clone();
                flipped[at] ^= 1 << bit;
                let error = decode(&flipped, &layer.diff_id, &path())
                    .expect_err("a flipped bit must not decode");
                // A flip in the version fields reads as another version; anything else as damage.
                assert!(
                    matches!(error, Error::Damaged { .. } | Error::OtherVersion { .. }),
                    "byte {at} bit {bit}: {error}"
                );
            }
        }
    }

    #[test]
    fn another_version_is_recognised() {
        let layer = sample();
        let mut bytes = encode(&layer).unwrap();
        // The format number follows the 8-byte magic, little-endian.
        bytes[8] = bytes[8].wrapping_add(1);
        assert!(
            decode(&bytes, &layer.diff_id, &path())
                .unwrap_err()
                .is_other_version()
        );
    }

    #[test]
    fn an_entry_under_another_name_is_refused() {
        let layer = sample();
        let bytes = encode(&layer).unwrap();
        let error = decode(&bytes, &Sha256Digest::of(b"other"), &path()).unwrap_err();
        assert!(error.to_string().contains("holds layer"), "{error}");
    }

    /// The payload encoding, pinned: a change to any type an entry holds changes these bytes,
    /// and must come with a new [`FORMAT_VERSION`] (old entries would otherwise be misread).
    #[test]
    fn the_encoding_is_pinned() {
        let payload = borsh::to_vec(&sample()).unwrap();
        assert_eq!(
            (
                FORMAT_VERSION,
                payload.len(),
                Sha256Digest::of(&payload).hex()
            ),
            (
                2,
                644,
                "0f846082f63f01a39795261e54df5c09df940cd5327cf5066aab0867a372457c".to_owned()
            ),
            "the entry encoding changed: raise FORMAT_VERSION and update this pin"
        );
    }
}
