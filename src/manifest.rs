//! The executable manifest: what `scan` records about an image and `attest` signs.
//!
//! Pure data and serde, no I/O. The JSON form is the in-toto predicate documented in
//! `docs/manifest.md`: camelCase keys, entries sorted by raw path bytes, no timestamps, so the
//! same image always serialises to the same bytes.

use serde::{Deserialize, Serialize};

use crate::coded::coded_enum;
use crate::digest::Sha256Digest;

/// The in-toto predicate type of an executable manifest: format 2, which says which OS package
/// owns each executable and whether its bytes are the packaged ones.
pub const PREDICATE_TYPE: &str = "https://exelock.dev/manifest/v2";

/// The predicate type of format 1 manifests (no package fields), which still read: their
/// executables have no `package` and no `packageDigest`.
pub const PREDICATE_TYPE_V1: &str = "https://exelock.dev/manifest/v1";

/// Whether `predicate_type` is one of an executable manifest (any format this build reads).
#[must_use]
pub fn is_manifest_predicate(predicate_type: &str) -> bool {
    predicate_type == PREDICATE_TYPE || predicate_type == PREDICATE_TYPE_V1
}

/// The executable manifest of one platform image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    /// Always [`PREDICATE_TYPE`]; lets a bare manifest file say what it is.
    pub predicate_type: String,
    /// Which image was scanned.
    pub image: ImageInfo,
    /// The image's layers, bottom first; `Executable::layer` indexes this list.
    pub layers: Vec<LayerInfo>,
    /// Every executable of the final filesystem, sorted by path bytes.
    pub executables: Vec<Executable>,
    /// Symlinks of the final filesystem whose resolved target is a recorded executable.
    pub links: Vec<Link>,
    /// Executables that a lower layer wrote and a later layer deleted or replaced.
    pub hidden: Vec<Hidden>,
    /// Directories of the final filesystem that anyone may write to (mode `o+w`, e.g. `/tmp`
    /// with `1777`): executables there can be replaced at run time. Lossy for non-UTF-8 names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub world_writable_dirs: Vec<String>,
    /// The package databases of the final filesystem that were read (format 2; empty when the
    /// image has none, e.g. a static distroless image, and in format 1 manifests).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub package_databases: Vec<PackageDatabase>,
    /// Every installed package those databases list, sorted by name, version, arch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<Package>,
}

/// A package database read from the image.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PackageDatabase {
    /// `dpkg`, `dpkg-status.d`, `chisel`, `apk`, `rpm-sqlite`, `rpm-bdb`, `rpm-ndb`.
    pub db: String,
    /// Its path in the image (`/var/lib/dpkg/status`).
    pub path: String,
    /// How many packages it lists.
    pub packages: usize,
}

/// An installed OS package.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Package {
    /// `curl`.
    pub name: String,
    /// As the package manager prints it: `7.88.1-10+deb12u5`, `1:2.3-4.el9`, `1.2.4-r0`.
    pub version: String,
    /// `amd64`, `x86_64`, `all`, `noarch`; empty when the database does not say.
    pub arch: String,
    /// The package URL.
    pub purl: String,
    /// Which database lists it (see [`PackageDatabase::db`]).
    pub db: String,
}

coded_enum! {
    /// Whether an executable's bytes are what its package shipped.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum PackageDigest {
        /// The package recorded a digest and the file has it.
        Match = "match",
        /// The package recorded another digest: the file was altered after the package installed it
        /// (replaced during the build, patched, or tampered with).
        Mismatch = "mismatch",
        /// The package records no digest for the file (some databases, dpkg conffiles).
        None = "none",
        /// No package of the image's databases owns the file.
        Unowned = "unowned",
    }
}

/// The identity of the scanned image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageInfo {
    /// The image reference as the user gave it.
    pub name: String,
    /// The image index the platform manifest was chosen from, if any.
    pub index_digest: Option<Sha256Digest>,
    /// The platform image manifest; `null` for legacy `docker save` archives, which have none.
    pub manifest_digest: Option<Sha256Digest>,
    /// The image config (for Docker, the image ID).
    pub config_digest: Sha256Digest,
    /// `os/architecture[/variant]` from the image config.
    pub platform: String,
    /// The directories of the `PATH` the image runs with (the config's `Env`), in order
    /// (format 2; absent when the config sets none, and in format 1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub search_path: Vec<String>,
    /// The local engine the image was read from (`docker:` and `podman:` references) and
    /// what it reports of the image; absent for every other source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<SourceEngine>,
}

/// A local engine an image was read from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SourceEngine {
    /// `docker` or `podman`: the engine the reference named.
    pub name: String,
    /// The engine's image ID.
    pub image_id: Sha256Digest,
    /// `repository@sha256:…` digests the engine knows the image by; absent when it knows none
    /// (an image built locally and never pushed or pulled).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repo_digests: Vec<String>,
}

/// One layer of the image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LayerInfo {
    /// Digest of the layer blob as stored (compressed).
    pub digest: Sha256Digest,
    /// Digest of the uncompressed tar stream (the config's `rootfs.diff_ids` entry).
    pub diff_id: Sha256Digest,
    /// The descriptor's media type, or the sniffed one where the source has none.
    pub media_type: String,
    /// Blob size in bytes.
    pub size: u64,
}

coded_enum! {
    /// What kind of executable a file is. (Borsh: the layer cache's binary entries.)
    #[derive(
        Clone,
        Copy,
        Debug,
        PartialEq,
        Eq,
        PartialOrd,
        Ord,
        Hash,
        Serialize,
        Deserialize,
        borsh::BorshSerialize,
        borsh::BorshDeserialize,
    )]
    #[serde(rename_all = "kebab-case")]
    pub enum Kind {
        /// ELF `ET_EXEC`, or `ET_DYN` with a `PT_INTERP` header (a PIE).
        ElfExecutable = "elf-executable",
        /// ELF `ET_DYN` without `PT_INTERP`: a library loaded at run time.
        ElfSharedObject = "elf-shared-object",
        /// Any other ELF type (relocatable objects, core files).
        ElfOther = "elf-other",
        /// Starts with `#!`.
        Script = "script",
        /// Has an execute bit but is neither ELF nor a script.
        Other = "other",
    }
}

/// One executable of the final filesystem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Executable {
    /// Absolute path; for a non-UTF-8 path, its lossy form (see `path_bytes`).
    pub path: String,
    /// Base64 of the exact path bytes, present only when the path is not valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_bytes: Option<String>,
    /// SHA-256 of the whole file content, 64 hex digits.
    #[serde(with = "crate::digest::bare_hex")]
    pub sha256: Sha256Digest,
    /// File size in bytes.
    pub size: u64,
    /// Permission bits with setuid/setgid/sticky, 4 octal digits (`"4755"`).
    #[serde(with = "octal_mode")]
    pub mode: u32,
    /// Owner user id.
    pub uid: u64,
    /// Owner group id.
    pub gid: u64,
    /// What kind of executable it is.
    pub kind: Kind,
    /// For scripts: the shebang line after `#!`, trimmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpreter: Option<String>,
    /// For ELF files with an `NT_GNU_BUILD_ID` note: the build id in hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_id: Option<String>,
    /// Index of the layer that last wrote this path.
    pub layer: usize,
    /// The package that owns the file (format 2; absent when none does, and in format 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<Package>,
    /// Whether the bytes are the packaged ones (format 2: present on every executable,
    /// `unowned` when no package owns it; absent in format 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_digest: Option<PackageDigest>,
}

/// A symlink whose resolved target is a recorded executable (busybox-style `/bin/sh`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Link {
    /// The symlink's absolute path (lossy for non-UTF-8, see `path_bytes`).
    pub path: String,
    /// Base64 of the exact path bytes when not valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_bytes: Option<String>,
    /// The executable it resolves to, as an absolute path.
    pub target: String,
    /// Base64 of the exact target bytes when not valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_bytes: Option<String>,
}

/// An executable a lower layer wrote that the final filesystem no longer shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Hidden {
    /// The path it had (lossy for non-UTF-8, see `path_bytes`).
    pub path: String,
    /// Base64 of the exact path bytes when not valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_bytes: Option<String>,
    /// SHA-256 of its content.
    #[serde(with = "crate::digest::bare_hex")]
    pub sha256: Sha256Digest,
    /// The layer that wrote it.
    pub layer: usize,
    /// The layer that deleted or replaced it.
    pub hidden_by: usize,
}

/// Splits raw path bytes into the manifest's `(path, pathBytes)` pair: the text itself when it is
/// UTF-8, else its lossy form plus base64 of the exact bytes, so no name is lost or confused.
#[must_use]
pub fn path_fields(raw: &[u8]) -> (String, Option<String>) {
    use base64::Engine as _;
    match std::str::from_utf8(raw) {
        Ok(text) => (text.to_owned(), None),
        Err(_) => (
            String::from_utf8_lossy(raw).into_owned(),
            Some(base64::engine::general_purpose::STANDARD.encode(raw)),
        ),
    }
}

/// The exact bytes of a manifest path: `path_bytes` decoded when present, else `path`.
#[must_use]
pub fn raw_path(path: &str, path_bytes: Option<&str>) -> Vec<u8> {
    use base64::Engine as _;
    path_bytes
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .unwrap_or_else(|| path.as_bytes().to_vec())
}

impl Executable {
    /// The exact path bytes.
    #[must_use]
    pub fn raw_path(&self) -> Vec<u8> {
        raw_path(&self.path, self.path_bytes.as_deref())
    }
}

impl Manifest {
    /// Serialises to the canonical JSON bytes (pretty, trailing newline).
    ///
    /// # Errors
    /// Never in practice: every field serialises.
    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        let mut out = serde_json::to_vec_pretty(self)?;
        out.push(b'\n');
        Ok(out)
    }
}

/// Serde for modes as 4 octal digits.
mod octal_mode {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(mode: &u32, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{mode:04o}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        u32::from_str_radix(&text, 8)
            .ok()
            .filter(|mode| *mode <= 0o7777)
            .ok_or_else(|| serde::de::Error::custom(format!("mode {text:?} is not 4 octal digits")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::executable;

    #[test]
    fn the_engine_is_recorded_only_for_engine_images() {
        let without: ImageInfo = serde_json::from_str(
            r#"{"name":"oci:dir","indexDigest":null,"manifestDigest":null,"configDigest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","platform":"linux/amd64"}"#,
        )
        .unwrap();
        assert_eq!(without.engine, None);
        assert!(!serde_json::to_string(&without).unwrap().contains("engine"));
        let with = ImageInfo {
            engine: Some(SourceEngine {
                name: "podman".into(),
                image_id: without.config_digest,
                repo_digests: Vec::new(),
            }),
            ..without
        };
        let text = serde_json::to_string(&with).unwrap();
        assert!(
            text.ends_with(r#""engine":{"name":"podman","imageId":"sha256:0000000000000000000000000000000000000000000000000000000000000000"}}"#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<ImageInfo>(&text).unwrap(), with);
    }

    #[test]
    fn non_utf8_paths_round_trip_through_path_bytes() {
        let raw = b"/usr/bin/caf\xe9";
        let (path, bytes) = path_fields(raw);
        assert_eq!(path, "/usr/bin/caf\u{fffd}");
        assert_eq!(raw_path(&path, bytes.as_deref()), raw.to_vec());
        let (path, bytes) = path_fields("/usr/bin/tööl".as_bytes());
        assert_eq!((path.as_str(), bytes), ("/usr/bin/tööl", None));
    }

    #[test]
    fn mode_serialises_as_four_octal_digits() {
        let exe = executable("/x", "")
            .with_mode(0o4755)
            .with_kind(Kind::Other);
        let json = serde_json::to_value(&exe).unwrap();
        assert_eq!(json["mode"], "4755");
        assert_eq!(json["kind"], "other");
        assert_eq!(
            json["sha256"],
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let back: Executable = serde_json::from_value(json).unwrap();
        assert_eq!(back, exe);
    }
}
