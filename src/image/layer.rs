//! A layer blob as a verified tar stream: media type (or magic bytes) → decompressor, with the
//! compressed bytes hashed against the descriptor digest and the uncompressed bytes against the
//! config's diff_id, both while streaming. Nothing is buffered beyond a read-ahead window.
//!
//! Callers read the tar stream, then call [`LayerStream::finish`], which drains both streams
//! to EOF (a tar reader stops at its end-of-archive blocks, a decoder at its last frame) so the
//! digests cover every byte, and reports any mismatch naming both digests.

use std::io::{self, BufRead, BufReader, Read};

use flate2::read::MultiGzDecoder;

use super::{Error, LayerDescriptor};
use crate::digest::{HashingReader, Sha256Digest};

/// How a layer blob is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// gzip (possibly several members, as eStargz writes).
    Gzip,
    /// zstd.
    Zstd,
    /// a plain tar.
    None,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

impl Compression {
    /// The compression a layer media type declares; `None` for a type that is not a layer.
    #[must_use]
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        match media_type {
            "application/vnd.oci.image.layer.v1.tar"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar"
            | "application/vnd.docker.image.rootfs.diff.tar" => Some(Self::None),
            "application/vnd.oci.image.layer.v1.tar+gzip"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
            | "application/vnd.docker.image.rootfs.diff.tar.gzip"
            | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => Some(Self::Gzip),
            "application/vnd.oci.image.layer.v1.tar+zstd"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd" => Some(Self::Zstd),
            _ => None,
        }
    }

    /// Guesses from the first bytes of a blob.
    #[must_use]
    pub fn sniff(head: &[u8]) -> Self {
        if head.starts_with(&GZIP_MAGIC) {
            Self::Gzip
        } else if head.starts_with(&ZSTD_MAGIC) {
            Self::Zstd
        } else {
            Self::None
        }
    }

    /// The media type to record for a sniffed layer.
    #[must_use]
    pub const fn sniffed_media_type(self) -> &'static str {
        match self {
            Self::Gzip => "application/vnd.docker.image.rootfs.diff.tar.gzip",
            Self::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
            Self::None => "application/vnd.docker.image.rootfs.diff.tar",
        }
    }
}

/// A reader that reports how many bytes passed, for progress display.
pub struct ProgressReader<'a> {
    inner: Box<dyn Read + Send + 'a>,
    on_read: Option<&'a (dyn Fn(u64) + Sync)>,
}

impl Read for ProgressReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        if let Some(on_read) = self.on_read {
            on_read(read as u64);
        }
        Ok(read)
    }
}

type Blob<'a> = BufReader<HashingReader<ProgressReader<'a>>>;

// One decoder lives per layer stream; boxing the gzip state would buy nothing.
#[allow(clippy::large_enum_variant)]
enum Decoder<'a> {
    Gzip(MultiGzDecoder<Blob<'a>>),
    Zstd(zstd::stream::read::Decoder<'static, Blob<'a>>),
    Plain(Blob<'a>),
}

impl Read for Decoder<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Gzip(reader) => reader.read(buf),
            Self::Zstd(reader) => reader.read(buf),
            Self::Plain(reader) => reader.read(buf),
        }
    }
}

impl<'a> Decoder<'a> {
    fn into_blob(self) -> Blob<'a> {
        match self {
            Self::Gzip(reader) => reader.into_inner(),
            Self::Zstd(reader) => reader.finish(),
            Self::Plain(reader) => reader,
        }
    }
}

/// What reading a layer proved about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedLayer {
    /// The blob digest (checked against the descriptor where it named one).
    pub digest: Sha256Digest,
    /// The uncompressed digest (checked against the diff_id).
    pub diff_id: Sha256Digest,
    /// The blob's size.
    pub size: u64,
    /// Declared or sniffed media type.
    pub media_type: String,
}

/// The uncompressed tar stream of a layer, verified as it is read.
pub struct LayerStream<'a> {
    image: String,
    descriptor: LayerDescriptor,
    media_type: String,
    tar: HashingReader<Decoder<'a>>,
}

/// Blob read-ahead; large enough that decompressors are not starved by small reads.
const READ_AHEAD: usize = 256 << 10;

impl<'a> LayerStream<'a> {
    /// Wraps a raw blob; `on_read` sees every compressed byte read.
    ///
    /// # Errors
    /// An unsupported media type, or a blob whose first bytes cannot be read.
    pub fn new(
        image: &str,
        descriptor: &LayerDescriptor,
        raw: Box<dyn Read + Send + 'a>,
        on_read: Option<&'a (dyn Fn(u64) + Sync)>,
    ) -> Result<Self, Error> {
        let read_error = |source| Error::LayerRead {
            image: image.to_owned(),
            layer: descriptor.label(),
            source,
        };
        let mut blob = BufReader::with_capacity(
            READ_AHEAD,
            HashingReader::new(ProgressReader {
                inner: raw,
                on_read,
            }),
        );
        let (compression, media_type) = match descriptor.media_type.as_deref() {
            Some(media_type) => {
                let compression = Compression::from_media_type(media_type).ok_or_else(|| {
                    Error::UnsupportedMediaType {
                        image: image.to_owned(),
                        what: "layer",
                        digest: descriptor.label(),
                        media_type: media_type.to_owned(),
                    }
                })?;
                (compression, media_type.to_owned())
            }
            None => {
                let compression = Compression::sniff(blob.fill_buf().map_err(read_error)?);
                (compression, compression.sniffed_media_type().to_owned())
            }
        };
        let decoder = match compression {
            Compression::Gzip => Decoder::Gzip(MultiGzDecoder::new(blob)),
            Compression::Zstd => {
                let mut decoder =
                    zstd::stream::read::Decoder::with_buffer(blob).map_err(read_error)?;
                // Layers written with `zstd --long` use windows up to 2 GiB.
                decoder.window_log_max(31).map_err(read_error)?;
                Decoder::Zstd(decoder)
            }
            Compression::None => Decoder::Plain(blob),
        };
        Ok(Self {
            image: image.to_owned(),
            descriptor: descriptor.clone(),
            media_type,
            tar: HashingReader::new(decoder),
        })
    }

    /// Reads what is left of both streams and checks the digests and size.
    ///
    /// # Errors
    /// A read error, or a digest or size that does not match.
    pub fn finish(mut self) -> Result<VerifiedLayer, Error> {
        let label = self.descriptor.label();
        let read_error = |source| Error::LayerRead {
            image: self.image.clone(),
            layer: label.clone(),
            source,
        };
        self.tar.drain().map_err(read_error)?;
        let (decoder, diff_id, _) = self.tar.into_parts();
        let mut blob = decoder.into_blob();
        // BufReader::into_inner drops read-ahead bytes, but they were hashed when read.
        io::copy(&mut blob, &mut io::sink()).map_err(read_error)?;
        let (_, digest, size) = blob.into_inner().into_parts();
        let image = self.image;
        if let Some(expected) = self.descriptor.digest
            && digest != expected
        {
            return Err(Error::DigestMismatch {
                image,
                what: "layer",
                got: digest,
                expected,
            });
        }
        if let Some(expected) = self.descriptor.size.filter(|expected| *expected != size) {
            return Err(Error::SizeMismatch {
                image,
                what: "layer",
                digest: label,
                got: size,
                expected,
            });
        }
        if diff_id != self.descriptor.diff_id {
            return Err(Error::DiffIdMismatch {
                image,
                layer: label,
                got: diff_id,
                expected: self.descriptor.diff_id,
            });
        }
        Ok(VerifiedLayer {
            digest,
            diff_id,
            size,
            media_type: self.media_type,
        })
    }
}

impl Read for LayerStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tar.read(buf)
    }
}
