//! SHA-256 digests: the `Sha256Digest` newtype (parsed from and shown as `sha256:<hex>`) and
//! `HashingReader`, a pass-through reader that hashes and counts what flows through it.
//!
//! This module does no I/O of its own and knows nothing about images or layers.

use std::fmt;
use std::io::{self, Read};
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// A SHA-256 digest, written `sha256:<64 lowercase hex>` in OCI documents; its 32 bytes in the
/// layer cache's binary entries (borsh).
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    borsh::BorshSerialize,
    borsh::BorshDeserialize,
)]
pub struct Sha256Digest([u8; 32]);

/// Why a string is not a `sha256:<hex>` digest.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The algorithm prefix is missing or is not `sha256`.
    #[error("digest {0:?} is not of the form sha256:<64 hex digits>")]
    Malformed(String),
}

impl Sha256Digest {
    /// The digest of `data`.
    #[must_use]
    pub fn of(data: &[u8]) -> Self {
        Self(Sha256::digest(data).into())
    }

    /// The 32 bytes.
    #[must_use]
    pub const fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 64 lowercase hex digits, without the `sha256:` prefix.
    #[must_use]
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits without a prefix.
    ///
    /// # Errors
    /// When `hex` is not exactly 64 hex digits.
    pub fn from_hex(hex_digits: &str) -> Result<Self, Error> {
        let mut bytes = [0u8; 32];
        if hex_digits.len() != 64 || hex::decode_to_slice(hex_digits, &mut bytes).is_err() {
            return Err(Error::Malformed(hex_digits.to_owned()));
        }
        Ok(Self(bytes))
    }
}

impl FromStr for Sha256Digest {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let hex_digits = text
            .strip_prefix("sha256:")
            .ok_or_else(|| Error::Malformed(text.to_owned()))?;
        Self::from_hex(hex_digits).map_err(|_| Error::Malformed(text.to_owned()))
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for Sha256Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Sha256Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// An incremental SHA-256 that also counts the bytes it saw.
#[derive(Clone, Default)]
pub struct Hasher {
    state: Sha256,
    len: u64,
}

impl Hasher {
    /// A fresh hasher.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds `data`.
    pub fn update(&mut self, data: &[u8]) {
        self.state.update(data);
        self.len += data.len() as u64;
    }

    /// Bytes fed so far.
    #[must_use]
    pub const fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was fed.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digest of everything fed.
    #[must_use]
    pub fn finish(self) -> Sha256Digest {
        Sha256Digest(self.state.finalize().into())
    }
}

/// A reader that hashes and counts every byte read through it.
///
/// Callers that must verify a whole stream drain it to EOF before calling [`finish`]:
/// a tar or gzip reader may stop before the end of the bytes it was given.
///
/// [`finish`]: HashingReader::finish
pub struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Hasher::new(),
        }
    }

    /// Reads the rest of the stream, so the digest covers every byte.
    ///
    /// # Errors
    /// Any read error of the inner reader.
    pub fn drain(&mut self) -> io::Result<u64> {
        io::copy(self, &mut io::sink())
    }

    /// The inner reader, the digest and the length of what was read.
    pub fn into_parts(self) -> (R, Sha256Digest, u64) {
        let len = self.hasher.len();
        (self.inner, self.hasher.finish(), len)
    }

    /// The digest and length of what was read.
    pub fn finish(self) -> (Sha256Digest, u64) {
        let len = self.hasher.len();
        (self.hasher.finish(), len)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.hasher.update(&buf[..read]);
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_round_trip() {
        let text = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let digest: Sha256Digest = text.parse().unwrap();
        assert_eq!(digest.to_string(), text);
        assert_eq!(digest, Sha256Digest::of(b""));
    }

    #[test]
    fn rejects_other_algorithms_and_bad_hex() {
        for bad in [
            "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256:e3b0",
            "sha256:zzb0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ] {
            assert!(bad.parse::<Sha256Digest>().is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn hashing_reader_counts_and_hashes_after_drain() {
        let data = vec![7u8; 100_000];
        let mut reader = HashingReader::new(&data[..]);
        let mut first = [0u8; 10];
        reader.read_exact(&mut first).unwrap();
        reader.drain().unwrap();
        let (digest, len) = reader.finish();
        assert_eq!(len, 100_000);
        assert_eq!(digest, Sha256Digest::of(&data));
    }
}

/// Serde for a digest written as bare hex (no `sha256:` prefix), as the manifest's `sha256` fields.
pub mod bare_hex {
    use super::Sha256Digest;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes 64 hex digits.
    ///
    /// # Errors
    /// Those of the serializer.
    pub fn serialize<S: Serializer>(
        digest: &Sha256Digest,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&digest.hex())
    }

    /// Reads 64 hex digits.
    ///
    /// # Errors
    /// When the text is not 64 hex digits.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Sha256Digest, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Sha256Digest::from_hex(&text).map_err(serde::de::Error::custom)
    }
}
