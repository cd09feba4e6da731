//! The Alpine apk database (`lib/apk/db/installed`): installed packages, the paths each owns,
//! and the checksum apk recorded for each file.
//!
//! Format (apk-tools' installed database, described in the Alpine wiki's "Apk spec":
//! <https://wiki.alpinelinux.org/wiki/Apk_spec>): one record per package, records separated
//! by a blank line; each line is `<letter>:<value>`. This reader uses `P:` name, `V:` version,
//! `A:` arch, `F:` a directory (relative to `/`), `R:` a file in the last `F:` directory (or in
//! `/` before any `F:`), and `Z:` the checksum of the last `R:`. A checksum is `Q1` + base64
//! SHA-1 (20 bytes), `Q2` + base64 SHA-256 (apk-tools 3), `X1`/`X2` + hex of the same, or, from
//! apk-tools 1, 32 hex digits of MD5. `a:` and `M:` (owner and mode, with an optional fourth
//! xattr-checksum field) and every other letter are skipped.
//!
//! Each `F:` directory is listed as a file of its package without a digest (as syft does);
//! each `R:` file with its `Z:` checksum if it has one. For a symlink apk checksums the link
//! target, not a file: the caller compares digests of regular files only.
//!
//! Pure: bytes in, [`PackageSet`] out; sizes and counts bounded.

use base64::Engine as _;

use super::purl::{PurlType, distro_namespace};
use super::text::{
    MAX_FILES, MAX_PACKAGES, MAX_TEXT_DATABASE_BYTES, check_count, check_size, decode_hex, excerpt,
    lines, malformed, utf8,
};
use super::{
    Database, DigestAlgorithm, Distro, Error, Package, PackageSet, PackagedDigest, PackagedFile,
};

const INSTALLED_FILE: &str = "lib/apk/db/installed";
/// The namespace of an apk package URL when the distribution is unknown.
const DEFAULT_NAMESPACE: &str = "alpine";

/// Reads `lib/apk/db/installed`.
///
/// `distro` gives the package URLs their namespace (`alpine`, `wolfi`…; `alpine` when
/// unknown) and `distro` qualifier.
///
/// # Errors
/// [`Error::Malformed`] for a line that is not `<letter>:<value>`, a record without `P:` or with
/// `P:`, `V:` or `A:` twice, a `Z:` with no file before it, a checksum that does not decode, a
/// value that is not UTF-8; [`Error::TooLarge`] past the size, package or file limits.
pub fn read_apk_installed(bytes: &[u8], distro: &Distro) -> Result<PackageSet, Error> {
    check_size(INSTALLED_FILE, bytes, MAX_TEXT_DATABASE_BYTES)?;
    let namespace = distro_namespace(distro, DEFAULT_NAMESPACE);
    let mut set = PackageSet::default();
    let mut record = Record::default();
    for (number, line) in lines(bytes) {
        if line.is_empty() {
            record.finish(&mut set, namespace, distro)?;
            continue;
        }
        let (Some(&letter), Some(b':')) = (line.first(), line.get(1)) else {
            return Err(bad(
                number,
                format!("not a `<letter>:<value>` line: {}", excerpt(line)),
            ));
        };
        let value = &line[2..];
        if record.first_line == 0 {
            record.first_line = number;
        }
        match letter {
            b'P' => record.set_once(number, "P", value, |record| &mut record.name)?,
            b'V' => record.set_once(number, "V", value, |record| &mut record.version)?,
            b'A' => record.set_once(number, "A", value, |record| &mut record.arch)?,
            b'F' => {
                record.directory = value;
                record.last_file = None;
                record.add_file(absolute(&[value]), &set)?;
            }
            b'R' => {
                record.last_file = Some(record.files.len());
                record.add_file(absolute(&[record.directory, value]), &set)?;
            }
            b'Z' => {
                let Some(entry) = record
                    .last_file
                    .and_then(|index| record.files.get_mut(index))
                else {
                    return Err(bad(number, "Z: without an R: file before it".into()));
                };
                if entry.1.is_some() {
                    return Err(bad(number, "a second Z: for one file".into()));
                }
                entry.1 = Some(decode_checksum(value).ok_or_else(|| {
                    bad(number, format!("unreadable checksum: {}", excerpt(value)))
                })?);
            }
            _ => {}
        }
    }
    record.finish(&mut set, namespace, distro)?;
    Ok(set)
}

fn bad(line: usize, reason: String) -> Error {
    malformed(
        INSTALLED_FILE,
        Database::Apk,
        format!("line {line}: {reason}"),
    )
}

/// One package record being read.
#[derive(Default)]
struct Record<'a> {
    first_line: usize,
    name: Option<&'a [u8]>,
    version: Option<&'a [u8]>,
    arch: Option<&'a [u8]>,
    /// The current `F:` directory.
    directory: &'a [u8],
    /// Paths and checksums, directories included.
    files: Vec<(Vec<u8>, Option<PackagedDigest>)>,
    /// Index in `files` of the last `R:`, which a `Z:` refers to.
    last_file: Option<usize>,
}

impl<'a> Record<'a> {
    fn set_once(
        &mut self,
        line: usize,
        letter: &str,
        value: &'a [u8],
        field: impl Fn(&mut Self) -> &mut Option<&'a [u8]>,
    ) -> Result<(), Error> {
        let slot = field(self);
        if slot.is_some() {
            return Err(bad(line, format!("{letter}: twice in one record")));
        }
        *slot = Some(value);
        Ok(())
    }

    /// Adds a directory or file, as yet without a checksum; the files of the packages already
    /// in `set` count towards the file limit.
    fn add_file(&mut self, path: Vec<u8>, set: &PackageSet) -> Result<(), Error> {
        self.files.push((path, None));
        check_count(
            INSTALLED_FILE,
            "files",
            set.files.len() + self.files.len(),
            MAX_FILES,
        )
    }

    /// Moves a complete record into `set` and starts a new one.
    fn finish(
        &mut self,
        set: &mut PackageSet,
        namespace: &str,
        distro: &Distro,
    ) -> Result<(), Error> {
        let record = std::mem::take(self);
        if record.first_line == 0 {
            return Ok(());
        }
        let Some(name) = record.name.filter(|name| !name.is_empty()) else {
            return Err(bad(record.first_line, "record without a P: name".into()));
        };
        let text = |what, value| utf8(INSTALLED_FILE, Database::Apk, what, value);
        let name = text("package name", name)?;
        let version = text("version", record.version.unwrap_or_default())?;
        let arch = text("arch", record.arch.unwrap_or_default())?;
        let package = set.packages.len();
        set.packages.push(Package::with_inline_epoch(
            Database::Apk,
            PurlType::Apk,
            namespace,
            distro,
            name,
            version,
            arch,
        ));
        check_count(INSTALLED_FILE, "packages", set.packages.len(), MAX_PACKAGES)?;
        set.files
            .extend(record.files.into_iter().map(|(path, digest)| PackagedFile {
                path,
                package,
                digest,
                config_file: false,
            }));
        Ok(())
    }
}

/// `/` + the non-empty parts joined by `/`.
fn absolute(parts: &[&[u8]]) -> Vec<u8> {
    let mut path = Vec::with_capacity(parts.iter().map(|part| part.len() + 1).sum());
    for part in parts.iter().filter(|part| !part.is_empty()) {
        path.push(b'/');
        path.extend_from_slice(part);
    }
    if path.is_empty() {
        path.push(b'/');
    }
    path
}

/// An apk checksum: `Q1`/`Q2` + base64, `X1`/`X2` + hex, or a bare MD5 in hex.
fn decode_checksum(value: &[u8]) -> Option<PackagedDigest> {
    let (encoding, kind, rest) = match value {
        [encoding @ (b'Q' | b'X'), kind, rest @ ..] => (*encoding, *kind, rest),
        _ => {
            return Some(PackagedDigest {
                algorithm: DigestAlgorithm::Md5,
                bytes: decode_hex::<16>(value)?.to_vec(),
            });
        }
    };
    let (algorithm, length) = match kind {
        b'1' => (DigestAlgorithm::Sha1, 20),
        b'2' => (DigestAlgorithm::Sha256, 32),
        _ => return None,
    };
    let bytes = if encoding == b'Q' {
        base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?
    } else {
        hex::decode(rest).ok()?
    };
    (bytes.len() == length).then_some(PackagedDigest { algorithm, bytes })
}

#[cfg(test)]
mod tests;
