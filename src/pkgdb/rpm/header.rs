//! One RPM header as an rpm database stores it (the value of a `Packages` record): its index
//! is checked against its data store, then the package's name, version and files are read.
//!
//! Layout (big-endian throughout), as rpm's `lib/header.c` (`hdrblobInit`, `hdrblobVerifyInfo`,
//! `hdrblobVerifyRegion`) reads it and as knqyf263/go-rpmdb's `pkg/entry.go` does:
//!
//! ```text
//! il: u32   number of index entries
//! dl: u32   length of the data store
//! il × { tag: u32, type: u32, offset: u32, count: u32 }   offset into the data store
//! dl bytes of data
//! ```
//!
//! A database header usually opens with a region tag (61 image, 62 signatures, 63 immutable)
//! whose data is a 16-byte trailer entry closing the region; entries after the region
//! ("dribbles", added at install) override region entries of the same tag. Types: CHAR, INT8,
//! INT16, INT32, INT64, STRING (one NUL-terminated string), BIN, STRING_ARRAY,
//! I18NSTRING; numbers are aligned to their size within the data store.
//!
//! Tags read: 1000 name, 1001 version, 1002 release, 1003 epoch, 1022 arch, 1117 basenames,
//! 1118 dirnames, 1116 dirindexes (path = dirname + basename), 1027 old-style full file names
//! (headers older than compressed file lists), 1030 file modes, 1028 file sizes (5008 when
//! any is 4 GiB or more), 1035 file digests (hex; empty for what is not a regular file) and
//! 5011 their algorithm (absent or 1 MD5, 2 SHA-1, 8 SHA-256; others are not checked, so
//! their digests are dropped). Tag numbers: rpm's `include/rpm/rpmtag.h`.
//!
//! Hostile input: every offset and count is checked against the blob before use, entries may
//! not overlap each other or the region trailer, strings must be NUL-terminated inside the
//! data store, and no allocation exceeds what the blob's own size allows. This module only
//! reads the bytes it is given: no I/O, and it does not decide how paths meet an image.

use std::ops::Range;

use crate::pkgdb::{DigestAlgorithm, PackagedDigest};

/// rpm's `HEADER_TAGS_MAX`: the most index entries rpm accepts in one header.
pub const MAX_INDEX_ENTRIES: u32 = 0xffff;
/// rpm's `HEADER_DATA_MAX`: the largest data store rpm accepts in one header.
pub const MAX_DATA_BYTES: u32 = 0x0fff_ffff;
/// The most files one package may list. Far above any real package (texlive packages list
/// tens of thousands); it bounds what a hostile header can make this module allocate.
pub const MAX_FILES_PER_PACKAGE: u32 = 1 << 20;
/// The longest file path accepted (Linux `PATH_MAX`).
pub const MAX_PATH_BYTES: usize = 4096;

const INDEX_ENTRY_BYTES: usize = 16;
const REGION_TRAILER_BYTES: u32 = 16;

/// Tag numbers, from rpm's `include/rpm/rpmtag.h`.
mod tag {
    pub const HEADER_IMAGE: u32 = 61;
    pub const HEADER_SIGNATURES: u32 = 62;
    pub const HEADER_IMMUTABLE: u32 = 63;
    /// Tags below this one are reserved for regions (rpm's `hdrchkTag`).
    pub const HEADER_I18NTABLE: u32 = 100;
    pub const NAME: u32 = 1000;
    pub const VERSION: u32 = 1001;
    pub const RELEASE: u32 = 1002;
    pub const EPOCH: u32 = 1003;
    pub const ARCH: u32 = 1022;
    pub const OLD_FILE_NAMES: u32 = 1027;
    pub const FILE_SIZES: u32 = 1028;
    pub const FILE_MODES: u32 = 1030;
    pub const FILE_DIGESTS: u32 = 1035;
    pub const FILE_FLAGS: u32 = 1037;
    pub const DIR_INDEXES: u32 = 1116;
    pub const BASE_NAMES: u32 = 1117;
    pub const DIR_NAMES: u32 = 1118;
    pub const LONG_FILE_SIZES: u32 = 5008;
    pub const FILE_DIGEST_ALGORITHM: u32 = 5011;
}

/// The data types of header entries (rpm's `rpmTagType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DataType {
    Null,
    Char,
    Int8,
    Int16,
    Int32,
    Int64,
    String,
    Bin,
    StringArray,
    I18nString,
}

impl DataType {
    const fn from_code(code: u32) -> Option<Self> {
        Some(match code {
            0 => Self::Null,
            1 => Self::Char,
            2 => Self::Int8,
            3 => Self::Int16,
            4 => Self::Int32,
            5 => Self::Int64,
            6 => Self::String,
            7 => Self::Bin,
            8 => Self::StringArray,
            9 => Self::I18nString,
            _ => return None,
        })
    }

    const fn name(self) -> &'static str {
        match self {
            Self::Null => "NULL",
            Self::Char => "CHAR",
            Self::Int8 => "INT8",
            Self::Int16 => "INT16",
            Self::Int32 => "INT32",
            Self::Int64 => "INT64",
            Self::String => "STRING",
            Self::Bin => "BIN",
            Self::StringArray => "STRING_ARRAY",
            Self::I18nString => "I18NSTRING",
        }
    }

    /// Bytes per element of a fixed-size type; `None` for the string types.
    const fn element_bytes(self) -> Option<u32> {
        match self {
            Self::Null => Some(0),
            Self::Char | Self::Int8 | Self::Bin => Some(1),
            Self::Int16 => Some(2),
            Self::Int32 => Some(4),
            Self::Int64 => Some(8),
            Self::String | Self::StringArray | Self::I18nString => None,
        }
    }

    /// The alignment rpm requires of the entry's offset (its `typeAlign`).
    const fn alignment(self) -> u32 {
        match self.element_bytes() {
            Some(bytes @ 2..) => bytes,
            _ => 1,
        }
    }
}

/// Why a header blob was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Fewer than the 8 bytes of the two lengths.
    #[error("header blob of {len} bytes is too short for its index and data lengths")]
    TooShort {
        /// The blob's length.
        len: usize,
    },
    /// No index entries at all.
    #[error("header has no index entries")]
    NoEntries,
    /// More index entries than rpm accepts.
    #[error("header has too many index entries (got {got}, limit {limit})")]
    TooManyEntries {
        /// The declared count.
        got: u32,
        /// [`MAX_INDEX_ENTRIES`].
        limit: u32,
    },
    /// A larger data store than rpm accepts.
    #[error("header data store is too large (got {got} bytes, limit {limit})")]
    TooMuchData {
        /// The declared length.
        got: u32,
        /// [`MAX_DATA_BYTES`].
        limit: u32,
    },
    /// The blob's length is not what the two lengths say.
    #[error(
        "header blob length does not match its {index_entries} index entries and {data_bytes} \
         data bytes (got {got} bytes, expected {expected})"
    )]
    LengthMismatch {
        /// Declared index entries.
        index_entries: u32,
        /// Declared data length.
        data_bytes: u32,
        /// The blob's length.
        got: usize,
        /// `8 + 16 × index entries + data length`.
        expected: u64,
    },
    /// An index entry that cannot be read as rpm would read it.
    #[error(
        "index entry {index} (tag {tag}, type {data_type}, offset {offset}, count {count}): {problem}"
    )]
    BadEntry {
        /// Its position in the index.
        index: u32,
        /// Its tag.
        tag: u32,
        /// Its type code.
        data_type: u32,
        /// Its offset into the data store.
        offset: u32,
        /// Its element count.
        count: u32,
        /// What is wrong.
        problem: &'static str,
    },
    /// Two entries claim the same bytes of the data store.
    #[error(
        "tag {tag} (data offset {offset}) overlaps tag {previous_tag} (data bytes \
         {previous_offset}..{previous_end})"
    )]
    Overlap {
        /// The later entry's tag.
        tag: u32,
        /// Its offset into the data store.
        offset: u32,
        /// The tag whose data it overlaps.
        previous_tag: u32,
        /// Where that data starts.
        previous_offset: u32,
        /// Where that data ends.
        previous_end: u32,
    },
    /// A tag every package has is missing.
    #[error("tag {tag} ({name}) is missing")]
    MissingTag {
        /// The tag.
        tag: u32,
        /// What it holds.
        name: &'static str,
    },
    /// A tag has a type this reader cannot use for it.
    #[error("tag {tag} ({name}) has type {got}, expected {expected}")]
    WrongType {
        /// The tag.
        tag: u32,
        /// What it holds.
        name: &'static str,
        /// Its type.
        got: &'static str,
        /// The type(s) accepted.
        expected: &'static str,
    },
    /// A per-file tag does not have one element per file.
    #[error(
        "tag {tag} ({name}) has a different number of elements than there are files (got {got}, expected {expected})"
    )]
    FileCountMismatch {
        /// The tag.
        tag: u32,
        /// What it holds.
        name: &'static str,
        /// Its element count.
        got: usize,
        /// The number of files (basenames).
        expected: usize,
    },
    /// More files than [`MAX_FILES_PER_PACKAGE`].
    #[error("package lists too many files in tag {tag} (got {got}, limit {limit})")]
    TooManyFiles {
        /// The tag counted.
        tag: u32,
        /// Its element count.
        got: u32,
        /// [`MAX_FILES_PER_PACKAGE`].
        limit: u32,
    },
    /// A file's directory index points past the directory list.
    #[error("file {file}: directory index {dir_index} is out of range ({dirs} directories)")]
    DirIndexOutOfRange {
        /// The file's position.
        file: usize,
        /// Its directory index.
        dir_index: u32,
        /// The number of directory names.
        dirs: usize,
    },
    /// A path longer than [`MAX_PATH_BYTES`].
    #[error("file {file}: path is too long (got {got} bytes, limit {limit})")]
    PathTooLong {
        /// The file's position.
        file: usize,
        /// The path's length.
        got: usize,
        /// [`MAX_PATH_BYTES`].
        limit: usize,
    },
    /// A digest that is not hex of the algorithm's length.
    #[error("file {file}: digest {digest:?} is not {expected} hex digits ({algorithm:?})")]
    BadDigest {
        /// The file's position.
        file: usize,
        /// The digest as recorded (lossy UTF-8).
        digest: String,
        /// Hex digits the algorithm produces.
        expected: usize,
        /// The algorithm of tag 5011.
        algorithm: DigestAlgorithm,
    },
}

/// One validated index entry.
#[derive(Clone, Copy, Debug)]
struct Entry {
    tag: u32,
    data_type: DataType,
    count: u32,
    /// Validated: `data[start..end]` is in bounds.
    start: usize,
    end: usize,
}

/// A header whose index was checked against its data store.
struct RawHeader<'blob> {
    data: &'blob [u8],
    entries: Vec<Entry>,
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let chunk = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(chunk.try_into().ok()?))
}

/// The byte length of `count` NUL-terminated strings starting at `data[start..]`, or `None`
/// when one of them is not terminated inside `data`. Each string takes at least one byte, so
/// the loop is bounded by the data length whatever `count` says.
fn strings_length(data: &[u8], start: usize, count: u32) -> Option<usize> {
    let mut position = start;
    for _ in 0..count {
        let rest = data.get(position..)?;
        let nul = rest.iter().position(|&byte| byte == 0)?;
        position = position.checked_add(nul + 1)?;
    }
    Some(position - start)
}

impl<'blob> RawHeader<'blob> {
    fn parse(blob: &'blob [u8]) -> Result<Self, HeaderError> {
        let (Some(index_entries), Some(data_bytes)) = (be_u32(blob, 0), be_u32(blob, 4)) else {
            return Err(HeaderError::TooShort { len: blob.len() });
        };
        if index_entries == 0 {
            return Err(HeaderError::NoEntries);
        }
        if index_entries > MAX_INDEX_ENTRIES {
            return Err(HeaderError::TooManyEntries {
                got: index_entries,
                limit: MAX_INDEX_ENTRIES,
            });
        }
        if data_bytes > MAX_DATA_BYTES {
            return Err(HeaderError::TooMuchData {
                got: data_bytes,
                limit: MAX_DATA_BYTES,
            });
        }
        // Both are bounded above, so these fit comfortably in u64 and usize.
        let index_len = index_entries as usize * INDEX_ENTRY_BYTES;
        let expected = 8 + index_len as u64 + u64::from(data_bytes);
        if blob.len() as u64 != expected {
            return Err(HeaderError::LengthMismatch {
                index_entries,
                data_bytes,
                got: blob.len(),
                expected,
            });
        }
        let index = &blob[8..8 + index_len];
        let data = &blob[8 + index_len..];

        let mut entries = Vec::with_capacity(index_entries as usize);
        // (start, end, tag) of every claimed range of the data store, for the overlap check.
        let mut claimed: Vec<(u32, u32, u32)> = Vec::with_capacity(index_entries as usize);
        for (position, raw) in index.chunks_exact(INDEX_ENTRY_BYTES).enumerate() {
            let field = |at| be_u32(raw, at).unwrap_or_default();
            let (tag, type_code, offset, count) = (field(0), field(4), field(8), field(12));
            // `position` < 0xffff by the check above.
            let index = u32::try_from(position).unwrap_or(u32::MAX);
            let bad = |problem| HeaderError::BadEntry {
                index,
                tag,
                data_type: type_code,
                offset,
                count,
                problem,
            };
            let data_type = DataType::from_code(type_code).ok_or_else(|| bad("unknown type"))?;
            if position == 0
                && matches!(
                    tag,
                    tag::HEADER_IMAGE | tag::HEADER_SIGNATURES | tag::HEADER_IMMUTABLE
                )
            {
                let trailer =
                    check_region(data, data_bytes, index_entries, data_type, offset, count)
                        .map_err(bad)?;
                claimed.push((trailer.start, trailer.end, tag));
                continue;
            }
            if tag < tag::HEADER_I18NTABLE {
                return Err(bad("tag number below 100 outside a leading region"));
            }
            if offset % data_type.alignment() != 0 {
                return Err(bad("offset is not aligned for the type"));
            }
            if offset > data_bytes {
                return Err(bad("offset is past the end of the data store"));
            }
            let start = offset as usize;
            let length = match data_type.element_bytes() {
                Some(element) => {
                    let length = u64::from(element) * u64::from(count);
                    if u64::from(offset) + length > u64::from(data_bytes) {
                        return Err(bad("data runs past the end of the data store"));
                    }
                    length as usize
                }
                None => {
                    if data_type == DataType::String && count != 1 {
                        return Err(bad("a STRING entry must have count 1"));
                    }
                    strings_length(data, start, count)
                        .ok_or_else(|| bad("string is not NUL-terminated inside the data store"))?
                }
            };
            if length == 0 {
                return Err(bad("entry has no data"));
            }
            let end = start + length;
            // end ≤ data_bytes ≤ MAX_DATA_BYTES, so it fits in u32.
            claimed.push((offset, u32::try_from(end).unwrap_or(u32::MAX), tag));
            entries.push(Entry {
                tag,
                data_type,
                count,
                start,
                end,
            });
        }

        claimed.sort_unstable();
        for pair in claimed.windows(2) {
            let [
                (previous_offset, previous_end, previous_tag),
                (offset, _, tag),
            ] = *pair
            else {
                continue;
            };
            if offset < previous_end {
                return Err(HeaderError::Overlap {
                    tag,
                    offset,
                    previous_tag,
                    previous_offset,
                    previous_end,
                });
            }
        }
        Ok(Self { data, entries })
    }

    /// The entry of `tag`; a later entry (a dribble) overrides an earlier one.
    fn find(&self, tag: u32) -> Option<&Entry> {
        self.entries.iter().rev().find(|entry| entry.tag == tag)
    }

    fn bytes(&self, entry: &Entry) -> &'blob [u8] {
        self.data.get(entry.start..entry.end).unwrap_or_default()
    }

    /// The first string of a string-typed tag.
    fn string(&self, tag: u32, name: &'static str) -> Result<Option<&'blob [u8]>, HeaderError> {
        let Some(entry) = self.find(tag) else {
            return Ok(None);
        };
        if !matches!(
            entry.data_type,
            DataType::String | DataType::StringArray | DataType::I18nString
        ) {
            return Err(wrong_type(tag, name, entry, "STRING"));
        }
        let bytes = self.bytes(entry);
        Ok(bytes.split(|&byte| byte == 0).next())
    }

    fn required_string(&self, tag: u32, name: &'static str) -> Result<String, HeaderError> {
        let bytes = self
            .string(tag, name)?
            .ok_or(HeaderError::MissingTag { tag, name })?;
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }

    /// The strings of a STRING_ARRAY tag, at most [`MAX_FILES_PER_PACKAGE`] of them.
    fn string_array(
        &self,
        tag: u32,
        name: &'static str,
    ) -> Result<Option<Vec<&'blob [u8]>>, HeaderError> {
        let Some(entry) = self.find(tag) else {
            return Ok(None);
        };
        if entry.data_type != DataType::StringArray {
            return Err(wrong_type(tag, name, entry, "STRING_ARRAY"));
        }
        if entry.count > MAX_FILES_PER_PACKAGE {
            return Err(HeaderError::TooManyFiles {
                tag,
                got: entry.count,
                limit: MAX_FILES_PER_PACKAGE,
            });
        }
        let bytes = self.bytes(entry);
        // Validated: exactly `count` NUL-terminated strings fill the entry's bytes.
        let mut strings: Vec<&[u8]> = bytes.split(|&byte| byte == 0).collect();
        strings.pop();
        Ok(Some(strings))
    }

    /// The big-endian integers of a fixed-size tag of `expected` type.
    fn integers<const N: usize>(
        &self,
        tag: u32,
        name: &'static str,
        expected: DataType,
    ) -> Result<Option<Vec<[u8; N]>>, HeaderError> {
        let Some(entry) = self.find(tag) else {
            return Ok(None);
        };
        if entry.data_type != expected {
            return Err(wrong_type(tag, name, entry, expected.name()));
        }
        if entry.count > MAX_FILES_PER_PACKAGE {
            return Err(HeaderError::TooManyFiles {
                tag,
                got: entry.count,
                limit: MAX_FILES_PER_PACKAGE,
            });
        }
        Ok(Some(
            self.bytes(entry)
                .chunks_exact(N)
                .filter_map(|chunk| chunk.try_into().ok())
                .collect(),
        ))
    }

    fn u32s(&self, tag: u32, name: &'static str) -> Result<Option<Vec<u32>>, HeaderError> {
        Ok(self
            .integers::<4>(tag, name, DataType::Int32)?
            .map(|values| values.into_iter().map(u32::from_be_bytes).collect()))
    }
}

fn wrong_type(tag: u32, name: &'static str, entry: &Entry, expected: &'static str) -> HeaderError {
    HeaderError::WrongType {
        tag,
        name,
        got: entry.data_type.name(),
        expected,
    }
}

/// Checks a leading region entry and returns the data range of its trailer.
fn check_region(
    data: &[u8],
    data_bytes: u32,
    index_entries: u32,
    data_type: DataType,
    offset: u32,
    count: u32,
) -> Result<Range<u32>, &'static str> {
    if data_type != DataType::Bin || count != REGION_TRAILER_BYTES {
        return Err("a region tag must be BIN with count 16");
    }
    let end = offset
        .checked_add(REGION_TRAILER_BYTES)
        .filter(|&end| end <= data_bytes)
        .ok_or("region trailer runs past the end of the data store")?;
    let trailer_tag = be_u32(data, offset as usize).unwrap_or_default();
    let trailer_type = be_u32(data, offset as usize + 4).unwrap_or_default();
    let trailer_offset = be_u32(data, offset as usize + 8).unwrap_or_default();
    let trailer_count = be_u32(data, offset as usize + 12).unwrap_or_default();
    if !matches!(
        trailer_tag,
        tag::HEADER_IMAGE | tag::HEADER_SIGNATURES | tag::HEADER_IMMUTABLE
    ) || trailer_type != 7
        || trailer_count != REGION_TRAILER_BYTES
    {
        return Err("region trailer is not a region entry");
    }
    // The trailer's offset is minus the size of the region's index entries.
    let region_index_bytes = trailer_offset.wrapping_neg();
    let region_entries = region_index_bytes / REGION_TRAILER_BYTES;
    if !region_index_bytes.is_multiple_of(REGION_TRAILER_BYTES)
        || region_entries == 0
        || region_entries > index_entries
    {
        return Err("region trailer does not count the region's index entries");
    }
    Ok(offset..end)
}

/// rpm's `RPMFILE_CONFIG` bit of tag 1037.
const RPMFILE_CONFIG: u32 = 1;

/// The files of a package, checked for consistency; [`PackageHeader::files`] builds them.
#[derive(Debug)]
struct FileTable<'blob> {
    dir_names: Vec<&'blob [u8]>,
    base_names: Vec<&'blob [u8]>,
    dir_indexes: Vec<u32>,
    modes: Option<Vec<u16>>,
    sizes: Option<Vec<u64>>,
    /// Tag 1037, rpm's `rpmfileAttrs` bits.
    flags: Option<Vec<u32>>,
    /// Digests with their algorithm; `None` when the header records none or uses an
    /// algorithm this reader does not check.
    digests: Option<(DigestAlgorithm, Vec<&'blob [u8]>)>,
}

/// A package's identity and files, read from its header.
#[derive(Debug)]
pub struct PackageHeader<'blob> {
    /// Tag 1000.
    pub name: String,
    /// Tag 1001.
    pub version: String,
    /// Tag 1002.
    pub release: String,
    /// Tag 1003, when present.
    pub epoch: Option<u32>,
    /// Tag 1022; empty when absent (as for `gpg-pubkey` entries).
    pub arch: String,
    /// The digest algorithm code of tag 5011 when it is one this reader does not check.
    pub unsupported_digest_algorithm: Option<u32>,
    files: FileTable<'blob>,
    path_bytes: u64,
}

/// A file a package lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderFile {
    /// dirname + basename.
    pub path: Vec<u8>,
    /// Tag 1030 (`st_mode`), when the header has it.
    pub mode: Option<u16>,
    /// Tag 1028 or 5008, when the header has one.
    pub size: Option<u64>,
    /// Tag 1037 has `RPMFILE_CONFIG` (`%config`): a file the administrator may change.
    pub config: bool,
    /// The digest of tag 1035; `None` when empty (directories, symlinks, ghosts) or when the
    /// algorithm is not one this reader checks.
    pub digest: Option<PackagedDigest>,
}

impl PackageHeader<'_> {
    /// `[epoch:]version-release`, as rpm prints a package's EVR.
    #[must_use]
    pub fn full_version(&self) -> String {
        match self.epoch {
            Some(epoch) => format!("{epoch}:{}-{}", self.version, self.release),
            None => format!("{}-{}", self.version, self.release),
        }
    }

    /// How many files the package lists.
    #[must_use]
    pub fn file_count(&self) -> usize {
        self.files.base_names.len()
    }

    /// The total length of the package's file paths, known before [`Self::files`] builds them.
    #[must_use]
    pub const fn path_bytes(&self) -> u64 {
        self.path_bytes
    }

    /// The package's files, in header order.
    pub fn files(&self) -> impl Iterator<Item = HeaderFile> + '_ {
        let table = &self.files;
        table
            .base_names
            .iter()
            .zip(&table.dir_indexes)
            .enumerate()
            .map(move |(file, (base_name, &dir_index))| {
                let dir_name = table
                    .dir_names
                    .get(dir_index as usize)
                    .copied()
                    .unwrap_or_default();
                let mut path = Vec::with_capacity(dir_name.len() + base_name.len());
                path.extend_from_slice(dir_name);
                path.extend_from_slice(base_name);
                let digest = table.digests.as_ref().and_then(|(algorithm, digests)| {
                    let hex_digest = digests.get(file).copied().unwrap_or_default();
                    if hex_digest.is_empty() {
                        return None;
                    }
                    Some(PackagedDigest {
                        algorithm: *algorithm,
                        bytes: hex::decode(hex_digest).ok()?,
                    })
                });
                HeaderFile {
                    path,
                    mode: table
                        .modes
                        .as_ref()
                        .and_then(|modes| modes.get(file).copied()),
                    size: table
                        .sizes
                        .as_ref()
                        .and_then(|sizes| sizes.get(file).copied()),
                    config: table
                        .flags
                        .as_ref()
                        .and_then(|flags| flags.get(file))
                        .is_some_and(|flags| flags & RPMFILE_CONFIG != 0),
                    digest,
                }
            })
    }
}

/// Reads one header blob as stored in an rpm database.
///
/// # Errors
///
/// [`HeaderError`] when the index does not fit the data store (lengths, offsets, counts,
/// alignment, overlaps, unterminated strings), when name, version or release is missing, or
/// when the file tags disagree with each other.
pub fn parse_header(blob: &[u8]) -> Result<PackageHeader<'_>, HeaderError> {
    let header = RawHeader::parse(blob)?;
    let name = header.required_string(tag::NAME, "name")?;
    let version = header.required_string(tag::VERSION, "version")?;
    let release = header.required_string(tag::RELEASE, "release")?;
    let arch = header
        .string(tag::ARCH, "arch")?
        .map(|arch| String::from_utf8_lossy(arch).into_owned())
        .unwrap_or_default();
    let epoch = header
        .u32s(tag::EPOCH, "epoch")?
        .and_then(|values| values.first().copied());
    let (files, unsupported_digest_algorithm) = read_file_table(&header)?;
    let path_bytes = check_paths(&files)?;
    Ok(PackageHeader {
        name,
        version,
        release,
        epoch,
        arch,
        unsupported_digest_algorithm,
        files,
        path_bytes,
    })
}

fn read_file_table<'blob>(
    header: &RawHeader<'blob>,
) -> Result<(FileTable<'blob>, Option<u32>), HeaderError> {
    let (dir_names, base_names, dir_indexes) =
        match header.string_array(tag::BASE_NAMES, "basenames")? {
            Some(base_names) => {
                let dir_names = header.string_array(tag::DIR_NAMES, "dirnames")?.ok_or(
                    HeaderError::MissingTag {
                        tag: tag::DIR_NAMES,
                        name: "dirnames",
                    },
                )?;
                let dir_indexes = header.u32s(tag::DIR_INDEXES, "dirindexes")?.ok_or(
                    HeaderError::MissingTag {
                        tag: tag::DIR_INDEXES,
                        name: "dirindexes",
                    },
                )?;
                (dir_names, base_names, dir_indexes)
            }
            // Headers from before compressed file lists name each file in full.
            None => match header.string_array(tag::OLD_FILE_NAMES, "oldfilenames")? {
                Some(full_names) => {
                    let dir_indexes = vec![0; full_names.len()];
                    (vec![&[][..]], full_names, dir_indexes)
                }
                None => (Vec::new(), Vec::new(), Vec::new()),
            },
        };
    let files = base_names.len();
    let same_count = |tag: u32, name: &'static str, got: usize| {
        if got == files {
            Ok(())
        } else {
            Err(HeaderError::FileCountMismatch {
                tag,
                name,
                got,
                expected: files,
            })
        }
    };
    same_count(tag::DIR_INDEXES, "dirindexes", dir_indexes.len())?;

    let modes = header
        .integers::<2>(tag::FILE_MODES, "filemodes", DataType::Int16)?
        .map(|modes| {
            modes
                .into_iter()
                .map(u16::from_be_bytes)
                .collect::<Vec<_>>()
        });
    if let Some(modes) = &modes {
        same_count(tag::FILE_MODES, "filemodes", modes.len())?;
    }
    let sizes =
        match header.integers::<8>(tag::LONG_FILE_SIZES, "longfilesizes", DataType::Int64)? {
            Some(sizes) => {
                same_count(tag::LONG_FILE_SIZES, "longfilesizes", sizes.len())?;
                Some(
                    sizes
                        .into_iter()
                        .map(u64::from_be_bytes)
                        .collect::<Vec<_>>(),
                )
            }
            None => match header.u32s(tag::FILE_SIZES, "filesizes")? {
                Some(sizes) => {
                    same_count(tag::FILE_SIZES, "filesizes", sizes.len())?;
                    Some(sizes.into_iter().map(u64::from).collect())
                }
                None => None,
            },
        };

    let flags = header.u32s(tag::FILE_FLAGS, "fileflags")?;
    if let Some(flags) = &flags {
        same_count(tag::FILE_FLAGS, "fileflags", flags.len())?;
    }

    let algorithm_code = header
        .u32s(tag::FILE_DIGEST_ALGORITHM, "filedigestalgo")?
        .and_then(|codes| codes.first().copied());
    // rpm's `pgpHashAlgo`: absent means the MD5 of rpm before 4.6.
    let (algorithm, unsupported) = match algorithm_code {
        None | Some(1) => (Some(DigestAlgorithm::Md5), None),
        Some(2) => (Some(DigestAlgorithm::Sha1), None),
        Some(8) => (Some(DigestAlgorithm::Sha256), None),
        Some(other) => (None, Some(other)),
    };
    let digests = match header.string_array(tag::FILE_DIGESTS, "filedigests")? {
        Some(digests) => {
            same_count(tag::FILE_DIGESTS, "filedigests", digests.len())?;
            match algorithm {
                Some(algorithm) => {
                    check_digests(algorithm, &digests)?;
                    Some((algorithm, digests))
                }
                None => None,
            }
        }
        None => None,
    };
    Ok((
        FileTable {
            dir_names,
            base_names,
            dir_indexes,
            modes,
            sizes,
            flags,
            digests,
        },
        unsupported,
    ))
}

fn check_digests(algorithm: DigestAlgorithm, digests: &[&[u8]]) -> Result<(), HeaderError> {
    let expected = match algorithm {
        DigestAlgorithm::Md5 => 32,
        DigestAlgorithm::Sha1 => 40,
        DigestAlgorithm::Sha256 => 64,
    };
    for (file, digest) in digests.iter().enumerate() {
        if !digest.is_empty()
            && (digest.len() != expected || !digest.iter().all(u8::is_ascii_hexdigit))
        {
            return Err(HeaderError::BadDigest {
                file,
                digest: String::from_utf8_lossy(digest).into_owned(),
                expected,
                algorithm,
            });
        }
    }
    Ok(())
}

/// Checks every directory index and path length; returns the total path length.
fn check_paths(files: &FileTable<'_>) -> Result<u64, HeaderError> {
    let mut total: u64 = 0;
    for (file, (base_name, &dir_index)) in
        files.base_names.iter().zip(&files.dir_indexes).enumerate()
    {
        let dir_name =
            files
                .dir_names
                .get(dir_index as usize)
                .ok_or(HeaderError::DirIndexOutOfRange {
                    file,
                    dir_index,
                    dirs: files.dir_names.len(),
                })?;
        let length = dir_name.len() + base_name.len();
        if length > MAX_PATH_BYTES {
            return Err(HeaderError::PathTooLong {
                file,
                got: length,
                limit: MAX_PATH_BYTES,
            });
        }
        total += length as u64;
    }
    Ok(total)
}
