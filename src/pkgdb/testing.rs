//! Helpers for the readers' tests: fixtures and damaged copies of them, the distribution a
//! test reads for, what a refusal says, lookups of a package or file in what a reader
//! returned, and the digests a test expects.

use std::borrow::Borrow;
use std::path::Path;

use super::{DigestAlgorithm, Distro, Error, Package, PackageSet, PackagedDigest, PackagedFile};

/// The bytes of `testdata/pkgdb/<relative>`.
pub fn fixture(relative: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/pkgdb")
        .join(relative);
    fs_err::read(path).unwrap()
}

/// [`fixture`] as text.
pub fn fixture_text(relative: &str) -> String {
    String::from_utf8(fixture(relative)).unwrap()
}

/// Truncated copies and copies with one bit flipped: up to `budget` of each, spread evenly
/// over the input (every position when the input is shorter than the budget).
pub fn damaged_copies(bytes: &[u8], budget: usize) -> impl Iterator<Item = Vec<u8>> + '_ {
    let stride = (bytes.len() / budget.max(1)).max(1);
    let truncations = (0..bytes.len())
        .step_by(stride)
        .map(move |end| bytes[..end].to_vec());
    let flips = (0..bytes.len()).step_by(stride).map(move |at| {
        let mut copy = bytes.to_vec();
        copy[at] ^= 1 << (at % 8);
        copy
    });
    truncations.chain(flips)
}

/// The Go string literals on the lines of `go` between the first line containing `from`
/// and the next containing `to`, that follow `key` (`ID:` or a bare `"` for list items).
pub fn go_strings(go: &str, from: &str, to: &str, key: &str) -> Vec<String> {
    go.lines()
        .skip_while(|line| !line.contains(from))
        .skip(1)
        .take_while(|line| !line.contains(to))
        .filter_map(|line| {
            let line = line.trim_start();
            if !line.starts_with(key) {
                return None;
            }
            let start = line.find('"')? + 1;
            let end = start + line[start..].find('"')?;
            Some(line[start..end].to_owned())
        })
        .collect()
}

/// Asserts that a reader refused its input with a message that contains each of `texts` (the
/// file it names, the reason).
#[track_caller]
pub fn assert_error_mentions<T: std::fmt::Debug>(result: Result<T, Error>, texts: &[&str]) {
    let message = result.unwrap_err().to_string();
    for text in texts {
        assert!(message.contains(text), "{text}: {message}");
    }
}

/// The distribution `id` at `version_id`, as `os-release` names it.
pub fn distro(id: &str, version_id: &str) -> Distro {
    Distro {
        id: id.to_owned(),
        version_id: version_id.to_owned(),
    }
}

/// The index and value of the package `name`; panics when there is none.
pub fn package<'s>(set: &'s PackageSet, name: &str) -> (usize, &'s Package) {
    set.packages
        .iter()
        .enumerate()
        .find(|(_, package)| package.name == name)
        .unwrap_or_else(|| panic!("no package {name}"))
}

/// `name@version` of each package, in the reader's order.
pub fn versions(set: &PackageSet) -> Vec<String> {
    set.packages
        .iter()
        .map(|package| format!("{}@{}", package.name, package.version))
        .collect()
}

/// The files of the package `name`, in the reader's order.
pub fn files_of<'s>(set: &'s PackageSet, name: &str) -> Vec<&'s PackagedFile> {
    let (index, _) = package(set, name);
    set.files
        .iter()
        .filter(|file| file.package == index)
        .collect()
}

/// The file at `path`; panics when there is none.
pub fn file<'s>(set: &'s PackageSet, path: &str) -> &'s PackagedFile {
    set.files
        .iter()
        .find(|file| file.path == path.as_bytes())
        .unwrap_or_else(|| panic!("no file {path}"))
}

/// The paths of `files` as text, in their order.
pub fn paths<'f, F: Borrow<PackagedFile> + 'f>(
    files: impl IntoIterator<Item = &'f F>,
) -> Vec<String> {
    files
        .into_iter()
        .map(|file| String::from_utf8(file.borrow().path.clone()).unwrap())
        .collect()
}

/// The digest recorded for `file`, in hex.
pub fn hex_digest(file: &PackagedFile) -> Option<String> {
    file.digest
        .as_ref()
        .map(|digest| hex::encode(&digest.bytes))
}

/// The recorded digest of `algorithm` written as `hex`; none for an empty string (a file
/// without a digest).
fn recorded(algorithm: DigestAlgorithm, hex: &str) -> Option<PackagedDigest> {
    (!hex.is_empty()).then(|| PackagedDigest {
        algorithm,
        bytes: hex::decode(hex).unwrap(),
    })
}

/// The recorded MD5 digest `hex` (none when empty).
pub fn md5(hex: &str) -> Option<PackagedDigest> {
    recorded(DigestAlgorithm::Md5, hex)
}

/// The recorded SHA-1 digest `hex` (none when empty).
pub fn sha1(hex: &str) -> Option<PackagedDigest> {
    recorded(DigestAlgorithm::Sha1, hex)
}

/// The recorded SHA-256 digest `hex` (none when empty).
pub fn sha256(hex: &str) -> Option<PackagedDigest> {
    recorded(DigestAlgorithm::Sha256, hex)
}
