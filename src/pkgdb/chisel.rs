//! The Ubuntu chisel manifest (`var/lib/chisel/manifest.wall`): which deb package each path of
//! a chiselled root came from, and its SHA-256.
//!
//! Format (chisel's documentation: <https://documentation.ubuntu.com/chisel/en/latest/reference/manifest/>
//! and its jsonwall explanation): zstd-compressed (chisel always compresses it; a plain copy is
//! read too) "jsonwall", one JSON object a line. The first line is the header
//! `{"jsonwall":"1.0","schema":"1.0","count":N}` where `N` counts every line including the
//! header; the other lines are entries, sorted:
//! - `{"kind":"package","name","version","sha256","arch"}`: an installed deb (the `sha256` is the
//!   .deb's, not a file's);
//! - `{"kind":"slice","name":"<package>_<slice>"}`;
//! - `{"kind":"path","path","mode","slices":[…],"sha256","final_sha256","size","link"}`: `sha256`
//!   as packaged, `final_sha256` after chisel mutated the file (the bytes in the image);
//!   directories end in `/`, symlinks have `link` and no digest;
//! - `{"kind":"content","slice","path"}`: the same ownership seen from the slice.
//!
//! A path belongs to the package of each slice that lists it (a slice name is
//! `<package>_<slice>`, and Debian package names have no `_`). Its digest is `final_sha256`
//! when present, else `sha256`. Directories are left out (as syft does); the manifest itself
//! has no digest. Package URLs are deb URLs in the `ubuntu` namespace whatever the os-release
//! says (chisel cuts Ubuntu archives only), with the `distro` qualifier from it.
//!
//! Pure: bytes in, [`PackageSet`] out. The decompressed size and the zstd window are bounded.

use std::collections::HashMap;
use std::io::Read;

use serde::Deserialize;

use super::purl::PurlType;
use super::text::{
    MAX_FILES, MAX_PACKAGES, MAX_TEXT_DATABASE_BYTES, check_count, decode_hex, excerpt, lines,
    malformed,
};
use super::{
    Database, DigestAlgorithm, Distro, Error, Package, PackageSet, PackagedDigest, PackagedFile,
};

const MANIFEST_FILE: &str = "var/lib/chisel/manifest.wall";
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// Largest zstd window accepted (2^24 = 16 MiB). chisel compresses manifests of a few MiB at
/// most with the default level, whose window is far smaller; a larger one is a memory bomb.
const MAX_ZSTD_WINDOW_LOG: u32 = 24;
/// The namespace of every chisel package URL.
const NAMESPACE: &str = "ubuntu";

#[derive(Deserialize)]
struct Header {
    jsonwall: String,
    #[serde(default)]
    schema: Option<String>,
    count: u64,
}

#[derive(Deserialize)]
struct Entry {
    kind: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    arch: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    slices: Vec<String>,
    #[serde(default)]
    sha256: Option<String>,
    #[serde(default)]
    final_sha256: Option<String>,
    #[serde(default)]
    link: Option<String>,
}

/// Reads a chisel manifest, compressed or not.
///
/// `distro` supplies the `distro` qualifier of the package URLs (`distro=ubuntu-24.04`); the
/// namespace is always `ubuntu`.
///
/// # Errors
/// [`Error::Malformed`] for a bad zstd stream, a line that is not a JSON object of the schema,
/// a header that is not jsonwall 1.x with schema 1.x, a line count other than the header's,
/// a digest that is not 64 hex digits, a slice of a package the manifest does not list;
/// [`Error::TooLarge`] past the size, package or file limits.
pub fn read_chisel_manifest(bytes: &[u8], distro: &Distro) -> Result<PackageSet, Error> {
    let decompressed;
    let text = if bytes.starts_with(&ZSTD_MAGIC) {
        decompressed = decompress(bytes)?;
        decompressed.as_slice()
    } else {
        super::text::check_size(MANIFEST_FILE, bytes, MAX_TEXT_DATABASE_BYTES)?;
        bytes
    };
    parse_jsonwall(text, distro)
}

fn decompress(bytes: &[u8]) -> Result<Vec<u8>, Error> {
    let bad = |error: std::io::Error| {
        malformed(
            MANIFEST_FILE,
            Database::Chisel,
            format!("bad zstd stream: {error}"),
        )
    };
    let mut decoder = zstd::stream::read::Decoder::with_buffer(bytes).map_err(bad)?;
    decoder.window_log_max(MAX_ZSTD_WINDOW_LOG).map_err(bad)?;
    let mut out = Vec::new();
    decoder
        .take(MAX_TEXT_DATABASE_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(bad)?;
    super::text::check_size(MANIFEST_FILE, &out, MAX_TEXT_DATABASE_BYTES)?;
    Ok(out)
}

fn parse_jsonwall(text: &[u8], distro: &Distro) -> Result<PackageSet, Error> {
    let bad = |line: usize, reason: String| {
        malformed(
            MANIFEST_FILE,
            Database::Chisel,
            format!("line {line}: {reason}"),
        )
    };
    let mut lines = lines(text).filter(|(_, line)| !line.is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(malformed(MANIFEST_FILE, Database::Chisel, "empty manifest"));
    };
    let header: Header = serde_json::from_slice(header)
        .map_err(|error| bad(1, format!("not a jsonwall header: {error}")))?;
    if !header.jsonwall.starts_with("1.") {
        return Err(bad(1, format!("unsupported jsonwall {}", header.jsonwall)));
    }
    if let Some(schema) = &header.schema
        && !schema.starts_with("1.")
    {
        return Err(bad(1, format!("unsupported manifest schema {schema}")));
    }

    // Package entries sort before path entries, but a path's owner is looked up only after
    // every line is read, so the order of the lines does not matter.
    let mut set = PackageSet::default();
    let mut package_index: HashMap<String, usize> = HashMap::new();
    let mut paths: Vec<(usize, Entry)> = Vec::new();
    let mut count: u64 = 1;
    for (number, line) in lines {
        count += 1;
        let entry: Entry = serde_json::from_slice(line)
            .map_err(|error| bad(number, format!("not a manifest entry: {error}")))?;
        match entry.kind.as_str() {
            "package" => {
                let (Some(name), Some(version)) = (entry.name, entry.version) else {
                    return Err(bad(number, "package without name or version".into()));
                };
                let arch = entry.arch.unwrap_or_default();
                if package_index.contains_key(&name) {
                    return Err(bad(number, format!("package {name} listed twice")));
                }
                package_index.insert(name.clone(), set.packages.len());
                set.packages.push(Package::with_inline_epoch(
                    Database::Chisel,
                    PurlType::Deb,
                    NAMESPACE,
                    distro,
                    name,
                    version,
                    arch,
                ));
                check_count(MANIFEST_FILE, "packages", set.packages.len(), MAX_PACKAGES)?;
            }
            "path" => {
                paths.push((number, entry));
                check_count(MANIFEST_FILE, "paths", paths.len(), MAX_FILES)?;
            }
            // Slices and contents restate what path entries say.
            _ => {}
        }
    }
    if count != header.count {
        return Err(malformed(
            MANIFEST_FILE,
            Database::Chisel,
            format!(
                "line count (got {count}, expected {} from the header)",
                header.count
            ),
        ));
    }

    for (number, entry) in paths {
        let Some(path) = entry.path else {
            return Err(bad(number, "path entry without a path".into()));
        };
        if !path.starts_with('/') {
            return Err(bad(
                number,
                format!("not an absolute path: {}", excerpt(path.as_bytes())),
            ));
        }
        if path.ends_with('/') {
            continue;
        }
        let digest = match (
            &entry.link,
            entry.final_sha256.as_ref().or(entry.sha256.as_ref()),
        ) {
            (Some(_), _) | (None, None) => None,
            (None, Some(hex)) => {
                let bytes = decode_hex::<32>(hex.as_bytes()).ok_or_else(|| {
                    bad(
                        number,
                        format!("not a SHA-256: {}", excerpt(hex.as_bytes())),
                    )
                })?;
                Some(PackagedDigest {
                    algorithm: DigestAlgorithm::Sha256,
                    bytes: bytes.to_vec(),
                })
            }
        };
        let mut owners: Vec<usize> = Vec::with_capacity(1);
        for slice in &entry.slices {
            let Some((package, _)) = slice.split_once('_') else {
                return Err(bad(
                    number,
                    format!("slice {slice} is not <package>_<slice>"),
                ));
            };
            let Some(&owner) = package_index.get(package) else {
                return Err(bad(number, format!("slice {slice} of an unlisted package")));
            };
            if !owners.contains(&owner) {
                owners.push(owner);
            }
        }
        if owners.is_empty() {
            return Err(bad(number, format!("path {path} belongs to no slice")));
        }
        for owner in owners {
            set.files.push(PackagedFile {
                path: path.clone().into_bytes(),
                package: owner,
                digest: digest.clone(),
                config_file: false,
            });
            check_count(MANIFEST_FILE, "files", set.files.len(), MAX_FILES)?;
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests;
