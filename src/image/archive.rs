//! Random access to the files of an uncompressed tar (`oci-archive`, `docker save`) without
//! extracting it: one pass records where each member's data starts, then members are read by
//! seeking into the file.
//!
//! Written by hand because the `tar` crate reads strictly sequentially; we use its
//! `entries_with_seek` for the index pass and plain `Seek` + `Take` afterwards.
//!
//! An archive that arrives as a stream (stdin, a local engine's export) is first copied into a
//! private temporary file ([`TarIndex::spool`]), removed when the index is dropped: the
//! documents saying which member is what come after the blobs they describe.

use std::collections::HashMap;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::Error;
use super::oci::BlobStore;
use crate::digest::Sha256Digest;

/// Where a member's data lies in the archive.
#[derive(Clone, Copy, Debug)]
struct Member {
    offset: u64,
    size: u64,
}

/// An index of an uncompressed tar file's regular members, symlinks and hardlinks resolved.
pub struct TarIndex {
    image: String,
    path: PathBuf,
    /// How messages name the archive: its path, or where a spooled stream came from.
    label: String,
    members: HashMap<String, Member>,
    /// The temporary file a stream was spooled into; removed with the index.
    _spool: Option<tempfile::TempPath>,
}

/// Normalises a member name: no leading `./` or `/`, no empty or `.` components.
fn normalise(name: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    parts.join("/")
}

impl TarIndex {
    /// Reads the member table of the tar at `path`.
    ///
    /// # Errors
    /// An unreadable file, or one that is not an uncompressed tar.
    pub fn open(image: &str, path: &Path) -> Result<Self, Error> {
        Self::index_file(image, path, path.display().to_string())
    }

    /// Copies a stream (`source` names it in messages: `stdin`, an engine's export) into a
    /// private temporary file, then indexes that. Memory use does not grow with the archive.
    ///
    /// # Errors
    /// A stream that breaks off, a full disk, or what [`TarIndex::open`] rejects.
    pub fn spool(image: &str, source: &str, mut stream: impl Read) -> Result<Self, Error> {
        let mut spool = tempfile::Builder::new()
            .prefix(".exelock-spool-")
            .tempfile()
            .map_err(|error| Error::Io {
                image: image.to_owned(),
                path: std::env::temp_dir(),
                source: error,
            })?;
        {
            let mut writer = std::io::BufWriter::with_capacity(256 << 10, spool.as_file_mut());
            std::io::copy(&mut stream, &mut writer)
                .and_then(|_| std::io::Write::flush(&mut writer))
                .map_err(|error| Error::Io {
                    image: image.to_owned(),
                    path: PathBuf::from(format!("<{source}>")),
                    source: error,
                })?;
        }
        let path = spool.into_temp_path();
        let mut index = Self::index_file(image, &path, source.to_owned())?;
        index._spool = Some(path);
        Ok(index)
    }

    /// How messages name the archive.
    #[must_use]
    pub fn describe(&self) -> &str {
        &self.label
    }

    fn index_file(image: &str, path: &Path, label: String) -> Result<Self, Error> {
        let io_error = |source| Error::Io {
            image: image.to_owned(),
            path: path.to_owned(),
            source,
        };
        let not_tar = |problem: String| Error::Invalid {
            image: image.to_owned(),
            problem: format!("{label}: {problem}"),
        };
        let mut file = fs_err::File::open(path).map_err(io_error)?;
        let mut magic = [0u8; 4];
        let read = file.read(&mut magic).map_err(io_error)?;
        if read >= 2 && magic[..2] == [0x1f, 0x8b] {
            return Err(not_tar(
                "is gzip-compressed; decompress it first (gunzip), archives must be plain tar"
                    .into(),
            ));
        }
        if read >= 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] {
            return Err(not_tar(
                "is zstd-compressed; decompress it first (unzstd), archives must be plain tar"
                    .into(),
            ));
        }
        file.seek(SeekFrom::Start(0)).map_err(io_error)?;
        let mut archive = tar::Archive::new(BufReader::new(file));
        let mut members = HashMap::new();
        let mut links: Vec<(String, String)> = Vec::new();
        let entries = archive
            .entries_with_seek()
            .map_err(|error| not_tar(format!("not a tar archive ({error})")))?;
        for entry in entries {
            let entry = entry.map_err(|_| {
                not_tar("is not a tar archive (a member header is unreadable)".into())
            })?;
            let name = entry
                .path()
                .map_err(|error| not_tar(format!("bad member name ({error})")))?;
            let name = normalise(&name.to_string_lossy());
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    members.insert(
                        name,
                        Member {
                            offset: entry.raw_file_position(),
                            size: entry.size(),
                        },
                    );
                }
                kind @ (tar::EntryType::Symlink | tar::EntryType::Link) => {
                    if let Ok(Some(target)) = entry.link_name() {
                        let target = target.to_string_lossy();
                        // Symlink targets are relative to the member's directory, hardlink
                        // targets to the archive root.
                        let resolved =
                            if kind == tar::EntryType::Symlink && !target.starts_with('/') {
                                let dir = name.rsplit_once('/').map_or("", |(dir, _)| dir);
                                normalise(&format!("{dir}/{target}"))
                            } else {
                                normalise(&target)
                            };
                        links.push((name, resolved));
                    }
                }
                _ => {}
            }
        }
        // Links may point at links; a few rounds settle any sane chain.
        for _ in 0..8 {
            for (name, target) in &links {
                if let Some(member) = members.get(target).copied() {
                    members.entry(name.clone()).or_insert(member);
                }
            }
        }
        if members.is_empty() {
            return Err(not_tar("is empty or not a tar archive".into()));
        }
        // The index pass seeks past member data, so a cut-off archive shows only here.
        let length = fs_err::metadata(path).map_err(io_error)?.len();
        if let Some((name, member)) = members
            .iter()
            .filter(|(_, member)| member.offset + member.size > length)
            .min_by_key(|(_, member)| member.offset)
        {
            return Err(not_tar(format!(
                "is truncated: member {name} needs {} bytes but the archive ends after {length}",
                member.offset + member.size
            )));
        }
        Ok(Self {
            image: image.to_owned(),
            path: path.to_owned(),
            label,
            members,
            _spool: None,
        })
    }

    /// Whether the archive has a member of that name.
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        self.members.contains_key(&normalise(name))
    }

    /// Size of a member.
    #[must_use]
    pub fn size_of(&self, name: &str) -> Option<u64> {
        self.members.get(&normalise(name)).map(|member| member.size)
    }

    /// Opens a member for reading; `None` when there is no such member.
    ///
    /// # Errors
    /// An unreadable archive file.
    pub fn open_member(&self, name: &str) -> Result<Option<Box<dyn Read + Send + '_>>, Error> {
        let Some(member) = self.members.get(&normalise(name)).copied() else {
            return Ok(None);
        };
        let io_error = |source| Error::Io {
            image: self.image.clone(),
            path: self.path.clone(),
            source,
        };
        let mut file = fs_err::File::open(&self.path).map_err(io_error)?;
        file.seek(SeekFrom::Start(member.offset))
            .map_err(io_error)?;
        Ok(Some(Box::new(BufReader::with_capacity(
            256 << 10,
            file.take(member.size),
        ))))
    }

    /// Reads a whole member (for small JSON documents).
    ///
    /// # Errors
    /// A missing member or an unreadable archive.
    pub fn read_member(&self, name: &str, limit: u64) -> Result<Vec<u8>, Error> {
        let reader = self.open_member(name)?.ok_or_else(|| Error::Invalid {
            image: self.image.clone(),
            problem: format!("{} has no member {name}", self.label),
        })?;
        let mut bytes = Vec::new();
        reader
            .take(limit)
            .read_to_end(&mut bytes)
            .map_err(|source| Error::Io {
                image: self.image.clone(),
                path: self.path.clone(),
                source,
            })?;
        Ok(bytes)
    }
}

/// An OCI layout stored in a tar (`oci-archive`, Docker ≥ 25 `docker save`).
pub struct TarBlobs {
    index: TarIndex,
}

impl TarBlobs {
    /// Indexes the archive at `path`.
    ///
    /// # Errors
    /// As [`TarIndex::open`].
    pub fn open(image: &str, path: &Path) -> Result<Self, Error> {
        Ok(Self {
            index: TarIndex::open(image, path)?,
        })
    }

    /// Wraps an index already made.
    #[must_use]
    pub const fn from_index(index: TarIndex) -> Self {
        Self { index }
    }
}

impl BlobStore for TarBlobs {
    fn read_index_json(&self) -> Result<Vec<u8>, Error> {
        self.index.read_member("index.json", 4 << 20)
    }

    fn open_blob(&self, digest: &Sha256Digest) -> Result<Box<dyn Read + Send + '_>, Error> {
        self.index
            .open_member(&format!("blobs/sha256/{}", digest.hex()))?
            .ok_or_else(|| Error::MissingBlob {
                image: self.index.image.clone(),
                digest: *digest,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn member_names_normalise() {
        assert_eq!(normalise("./blobs//sha256/ab"), "blobs/sha256/ab");
        assert_eq!(normalise("/a/./b/../c"), "a/c");
    }
}
