//! The verdict: one binary of a runtime finding, judged against the executable manifest of the
//! image it ran in. Pure: no I/O. The CLI finds and verifies the attestation, computes prefix
//! digests for partially hashed findings ([`prefix_requests`]) from digest-verified layers, and
//! renders the result; the responder's commands are [`mod@playbook`]'s.
//!
//! Verdict codes are stable (kebab-case):
//!
//! | code | meaning | response |
//! |---|---|---|
//! | `unchanged` | the path is in the image with the same hash (a chmod/chown copy-up made the detector see an image file as new) | benign: nothing to rebuild |
//! | `relocated` | the hash is an image executable at another path: a legitimate binary copied at runtime | rebuild with it at that path, or stop the copy |
//! | `allowlisted` | the hash is on the allowlist, for a path the image has no binary at (or path + hash) | legitimate: rebuild to bake it in |
//! | `modified` | the path is in the image but the hash differs: the image's binary was replaced | contain: treat as compromise |
//! | `foreign` | neither path nor hash is known to the image | contain: treat as compromise |
//! | `fileless` | memfd, deleted file, `/proc/self/fd`, `/dev/shm`: nothing on disk to compare | contain and investigate |
//! | `unverifiable` | exelock cannot prove either way: no hash for a path the image has, a prefix match only, no valid attestation, unknown image | investigate: says what is missing |
//!
//! How the verdicts stay honest, by construction rather than by care:
//!
//! - A legitimate verdict is a `Decision::Legitimate`, which needs a `Proof`; the only way to
//!   get one is `ManifestIndex::proof`, which exists only for an [`ImageEvidence`] built from
//!   a [`VerifiedAttestation`] (whose constructor is attest's verification). An unsigned
//!   manifest file can show a binary is *not* the image's, never that it is.
//! - A partial hash (SCC `hashedSize` < `size`) is only ever compared with a prefix digest of
//!   the same length, computed from layer bytes whose digests verified and tied to the signed
//!   manifest by the entry's whole-file digest; and a prefix match alone is not proof (the file
//!   may differ after the prefix): it is `unverifiable` with the command that settles it.
//! - A partial hash without a usable `hashedSize` is never compared at all; a whole-file match
//!   whose reported size differs from the manifest's is not a match.
//! - A truncated path is never taken as a match; a detector's "malicious" category is never
//!   called benign; a hash-only allowlist entry never vouches for a replacement of an image
//!   binary (only an entry bound to that exact path may).

use std::collections::HashMap;
use std::fmt;

use serde::{Serialize, Serializer};

use crate::attest::VerifiedAttestation;
use crate::bake::BakeEntry;
use crate::coded::coded_enum;
use crate::digest::Sha256Digest;
use crate::finding::{Binary, BinaryRole, Category, Finding};
use crate::manifest::{Executable, Manifest, Package, PackageDigest};

mod allowlist;
pub mod playbook;

pub use allowlist::{AllowEntry, Allowlist};
pub use playbook::{Playbook, Response, playbook, response};

coded_enum! {
    /// A verdict on one binary.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum Verdict {
        /// In the image at this path with this hash.
        Unchanged = "unchanged",
        /// In the image with this hash, at another path.
        Relocated = "relocated",
        /// On the allowlist.
        Allowlisted = "allowlisted",
        /// At an image path, with another hash.
        Modified = "modified",
        /// Neither path nor hash known.
        Foreign = "foreign",
        /// Nothing on disk to compare.
        Fileless = "fileless",
        /// Cannot be proven either way.
        Unverifiable = "unverifiable",
    }
}

impl Verdict {
    /// Whether the binary is proven to belong (benign or to be baked in).
    #[must_use]
    pub const fn is_legitimate(self) -> bool {
        matches!(self, Self::Unchanged | Self::Relocated | Self::Allowlisted)
    }
}

impl std::str::FromStr for Verdict {
    type Err = Error;

    /// The inverse of [`Verdict::code`].
    fn from_str(text: &str) -> Result<Self, Error> {
        Self::from_code(text).ok_or_else(|| Error::UnknownVerdict(text.to_owned()))
    }
}

/// What can go wrong in this module: only reading a verdict from text (judging cannot fail).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A text that is no [`Verdict::code`].
    #[error("{0:?} is not a verdict (one of {codes})", codes = Verdict::ALL.map(Verdict::code).join(", "))]
    UnknownVerdict(String),
}

/// The legitimate verdicts: what a [`Decision::Legitimate`] can say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Legitimate {
    Unchanged,
    Relocated,
    Allowlisted,
}

impl From<Legitimate> for Verdict {
    fn from(legitimate: Legitimate) -> Self {
        match legitimate {
            Legitimate::Unchanged => Self::Unchanged,
            Legitimate::Relocated => Self::Relocated,
            Legitimate::Allowlisted => Self::Allowlisted,
        }
    }
}

/// The verdicts that call for containment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Contain {
    Modified,
    Foreign,
    Fileless,
}

impl From<Contain> for Verdict {
    fn from(contain: Contain) -> Self {
        match contain {
            Contain::Modified => Self::Modified,
            Contain::Foreign => Self::Foreign,
            Contain::Fileless => Self::Fileless,
        }
    }
}

/// Where a manifest came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Provenance {
    /// From an attestation whose signature, subject and predicate verified.
    Signed {
        /// Who signed it (`key <id>`, or the certificate identity).
        signer: String,
        /// Where the attestation was found (`OCI referrer sha256:…`, `bundle file x`).
        origin: String,
    },
    /// A manifest file nobody vouched for.
    Unsigned {
        /// The file.
        file: String,
    },
}

/// An image's manifest and what it rests on. Built only by [`ImageEvidence::signed`] (from a
/// verified attestation) or [`ImageEvidence::unsigned`]; the fields cannot be set otherwise, so
/// a signed-looking evidence cannot hold an unverified manifest.
#[derive(Clone, Debug)]
pub struct ImageEvidence {
    manifest: Manifest,
    provenance: Provenance,
    via_tag: Option<String>,
}

impl ImageEvidence {
    /// The manifest of a verified attestation. `via_tag`: the image was named by a tag, resolved
    /// now, so the result rests on a mutable tag.
    #[must_use]
    pub fn signed(
        attestation: VerifiedAttestation,
        origin: String,
        via_tag: Option<String>,
    ) -> Self {
        let signer = attestation.signer().to_owned();
        let manifest = attestation.into_manifest();
        Self {
            manifest,
            provenance: Provenance::Signed { signer, origin },
            via_tag,
        }
    }

    /// A manifest read from a file without a signature.
    #[must_use]
    pub fn unsigned(manifest: Manifest, file: String) -> Self {
        Self {
            manifest,
            provenance: Provenance::Unsigned { file },
            via_tag: None,
        }
    }

    /// The manifest.
    #[must_use]
    pub const fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// What it rests on.
    #[must_use]
    pub const fn provenance(&self) -> &Provenance {
        &self.provenance
    }
}

/// Proof that a manifest's attestation verified: the one thing a legitimate verdict needs.
/// Only [`ManifestIndex::proof`] makes one.
#[derive(Clone, Copy, Debug)]
struct Proof(());

/// An image's manifest with lookup tables, built once and shared by every finding about it.
pub struct ManifestIndex<'a> {
    evidence: &'a ImageEvidence,
    by_path: HashMap<&'a str, &'a Executable>,
    by_digest: HashMap<Sha256Digest, Vec<&'a Executable>>,
    links: HashMap<&'a str, &'a str>,
}

impl<'a> ManifestIndex<'a> {
    /// Indexes an image's manifest.
    #[must_use]
    pub fn new(evidence: &'a ImageEvidence) -> Self {
        let manifest = &evidence.manifest;
        let mut by_digest: HashMap<Sha256Digest, Vec<&Executable>> = HashMap::new();
        for exe in &manifest.executables {
            by_digest.entry(exe.sha256).or_default().push(exe);
        }
        Self {
            evidence,
            by_path: manifest
                .executables
                .iter()
                .map(|exe| (exe.path.as_str(), exe))
                .collect(),
            by_digest,
            links: manifest
                .links
                .iter()
                .map(|link| (link.path.as_str(), link.target.as_str()))
                .collect(),
        }
    }

    /// The manifest.
    #[must_use]
    pub const fn manifest(&self) -> &'a Manifest {
        &self.evidence.manifest
    }

    /// The executable at `path`, following a recorded symlink.
    #[must_use]
    pub fn executable(&self, path: &str) -> Option<&'a Executable> {
        self.by_path
            .get(path)
            .or_else(|| {
                self.links
                    .get(path)
                    .and_then(|target| self.by_path.get(target))
            })
            .copied()
    }

    /// Proof of a verified signature, for signed evidence only; else the unsigned file.
    fn proof(&self) -> Result<Proof, &'a str> {
        match &self.evidence.provenance {
            Provenance::Signed { .. } => Ok(Proof(())),
            Provenance::Unsigned { file } => Err(file),
        }
    }
}

/// A prefix digest the judge needs: the first `length` bytes of the file the manifest records
/// at `path`, as layer `layer` wrote it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PrefixRequest {
    /// The image path (absolute, as in the manifest).
    pub path: String,
    /// The layer that wrote it (manifest index).
    pub layer: usize,
    /// How many bytes.
    pub length: u64,
}

/// A prefix digest computed from digest-verified layer bytes, with the whole-file digest and
/// size of the same tar entry: the judge trusts the prefix only if that entry is the one the
/// manifest records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrefixFact {
    /// SHA-256 of the first `length` bytes.
    pub prefix: Sha256Digest,
    /// SHA-256 of the whole entry.
    pub sha256: Sha256Digest,
    /// The entry's size.
    pub size: u64,
}

/// Prefix digests computed by the caller for one manifest: the fact, or why there is none.
pub type PrefixDigests = HashMap<PrefixRequest, Result<PrefixFact, String>>;

/// One image's manifest and the prefix digests computed from its layers.
#[derive(Clone, Copy)]
pub struct Candidate<'i, 'a> {
    /// The manifest.
    pub index: &'i ManifestIndex<'a>,
    /// Its prefix digests.
    pub prefixes: &'i PrefixDigests,
}

/// Where the judge gets the manifest for a finding's image.
#[derive(Clone, Copy)]
pub enum ManifestFor<'i, 'a> {
    /// The image's manifests: one, or one per platform of an image index the finding named
    /// without saying which platform ran.
    Found(&'i [Candidate<'i, 'a>]),
    /// None could be had; why.
    Unavailable(&'i str),
}

/// A manifest entry cited as evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryEvidence {
    /// Path in the image.
    pub path: String,
    /// Whole-file digest.
    #[serde(with = "crate::digest::bare_hex")]
    pub sha256: Sha256Digest,
    /// Size.
    pub size: u64,
    /// Layer index that wrote it.
    pub layer: usize,
    /// That layer's blob digest.
    pub layer_digest: Option<Sha256Digest>,
    /// The OS package that owns the file, when one does (format 2 manifests).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<Package>,
    /// Whether the file's bytes are the packaged ones (format 2 manifests).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_digest: Option<PackageDigest>,
}

impl EntryEvidence {
    fn of(manifest: &Manifest, exe: &Executable) -> Self {
        Self {
            path: exe.path.clone(),
            sha256: exe.sha256,
            size: exe.size,
            layer: exe.layer,
            layer_digest: manifest.layers.get(exe.layer).map(|layer| layer.digest),
            package: exe.package.clone(),
            package_digest: exe.package_digest,
        }
    }
}

/// What an image file cited as evidence is to the binary, for the package note's wording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PackageRole {
    /// The binary is this file (`unchanged`).
    Same,
    /// The binary replaced this file (`modified`): the image's own copy.
    ImageCopy,
    /// The binary is a copy of this file at another path (`relocated`).
    Source,
}

/// `curl 7.88.1-10+deb12u5 (dpkg)`.
fn package_label(package: &Package) -> String {
    format!("{} {} ({})", package.name, package.version, package.db)
}

/// Why nothing could be compared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Missing {
    /// The finding names no binary at all.
    NoBinary,
    /// The binary has neither path nor hash.
    NoPathNorHash,
    /// The binary has a hash but no path.
    NoPath,
    /// The reported path was cut.
    PathTruncated,
    /// No manifest for the image; why.
    NoManifest(String),
    /// The file is not on the image's filesystem.
    Fileless(String),
}

/// What was compared with what: rendered as one sentence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// Nothing.
    Nothing(Missing),
    /// A path only (the finding carries no hash).
    Path {
        /// The path.
        path: String,
        /// Executables in the manifest.
        executables: usize,
        /// Whether the image has an executable there.
        in_image: bool,
    },
    /// A whole-file hash and its path.
    WholeFile {
        /// The path.
        path: String,
        /// The reported digest.
        sha256: Sha256Digest,
        /// Executables in the manifest.
        executables: usize,
    },
    /// A partial hash with same-length prefix digests.
    Prefix {
        /// Bytes hashed.
        hashed: u64,
        /// The file's reported size.
        size: Option<u64>,
        /// How many image executables could match.
        candidates: usize,
    },
    /// A partial hash whose hashed length is unusable: nothing can be compared.
    UnusablePartial {
        /// The reported `hashedSize`.
        hashed: Option<u64>,
        /// The reported `size`.
        size: Option<u64>,
    },
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Nothing(missing) => match missing {
                Missing::NoBinary => f.write_str("nothing: the finding names no binary (no process, library or script with a path or hash)"),
                Missing::NoPathNorHash => f.write_str("nothing: the finding names neither a path nor a hash for this binary"),
                Missing::NoPath => f.write_str("nothing: the finding names no path for this binary"),
                Missing::PathTruncated => f.write_str("nothing: the reported path was truncated, so it cannot be matched"),
                Missing::NoManifest(reason) => write!(f, "nothing: {reason}"),
                Missing::Fileless(path) => write!(f, "nothing: {path} is not a file on the image's filesystem (memfd, deleted file, /proc/self/fd or /dev/shm)"),
            },
            Self::Path { path, executables, in_image: true } => write!(f, "the path {path} against {executables} executables: the image has it, but the finding carries no hash, so it may be the image's binary or a replacement"),
            Self::Path { path, executables, in_image: false } => write!(f, "the path {path} against {executables} executables of the image: not among them (the finding carries no hash)"),
            Self::WholeFile { path, sha256, executables } => write!(f, "the path {path} and sha256 {} against {executables} executables of the image", sha256.hex()),
            Self::Prefix { hashed, size, candidates } => write!(
                f,
                "a partial sha256 (first {hashed} bytes, file of {}) with the same-length prefix digests of the {candidates} image executables of that size",
                size.map_or_else(|| "unknown size".to_owned(), |size| format!("{size} bytes"))
            ),
            Self::UnusablePartial { hashed, size } => write!(
                f,
                "nothing: the detector hashed only part of the file, and its hashedSize ({}) is not a usable length for a file of {}: the digest cannot be compared with anything",
                hashed.map_or_else(|| "absent".to_owned(), |hashed| hashed.to_string()),
                size.map_or_else(|| "unknown size".to_owned(), |size| format!("{size} bytes"))
            ),
        }
    }
}

impl Serialize for Comparison {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Something worth knowing beside the comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// The image was named by a tag, resolved now.
    MutableTag(String),
    /// The manifest was not signed, so a legitimate verdict could not be given.
    Unsigned {
        /// What it would have been.
        would_be: Verdict,
        /// The manifest file.
        file: String,
    },
    /// The detector's category says malicious.
    Malicious {
        /// The category as reported.
        category: String,
        /// The binary is the image's own.
        in_image: bool,
    },
    /// The content was in a lower layer and removed during the build.
    BuildDeleted {
        /// Where it was.
        path: String,
        /// Which layer wrote it.
        layer: usize,
        /// Which layer removed it.
        hidden_by: usize,
    },
    /// Hash the running file to decide.
    HashToDecide {
        /// The path.
        path: String,
        /// The image's whole-file digest there.
        expected: Sha256Digest,
    },
    /// The first bytes match an image file: not proof of the rest.
    PrefixOnly {
        /// Bytes compared.
        length: u64,
        /// The layer that wrote the matching file.
        layer: usize,
        /// The matching image path.
        path: String,
    },
    /// Prefix digests could not be computed.
    PrefixUnavailable(Vec<String>),
    /// The image's file at the path has another size than the running one.
    SizeDiffers {
        /// The image's size.
        image: u64,
        /// The reported size.
        reported: u64,
    },
    /// The hash matches an image file but the reported size does not.
    HashSizeMismatch {
        /// The image path with that hash.
        path: String,
        /// The manifest's size.
        image: u64,
        /// The reported size.
        reported: u64,
    },
    /// The running file is the image's binary from another path, copied over this one.
    CopiedOver {
        /// The image path whose content it has.
        source: String,
    },
    /// A hash-only allowlist entry matched a binary that replaced an image binary.
    AllowlistNotForReplacement {
        /// Where the entry came from.
        source: Option<String>,
    },
    /// Which OS package the image file owns and whether its bytes are the packaged ones.
    Package {
        /// The image path.
        path: String,
        /// The owning package; `None` when no package owns the file.
        package: Option<Package>,
        /// The package-digest state the manifest records.
        digest: PackageDigest,
        /// What the file is to the binary.
        role: PackageRole,
    },
    /// Judged against several platforms of an index.
    Platforms {
        /// The index digest or image.
        image: String,
        /// (platform, verdict) per platform.
        results: Vec<(String, Verdict)>,
        /// The platform whose verdict was taken.
        chosen: String,
    },
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MutableTag(tag) => write!(
                f,
                "the finding named the image by the tag {tag}, resolved now: the result rests on a mutable tag"
            ),
            Self::Unsigned { would_be, file } => write!(
                f,
                "it would be {would_be}, but the manifest ({file}) is not signed: verify the image's attestation (--key, or keyless) to prove it"
            ),
            Self::Malicious { category, in_image } => write!(
                f,
                "the detector classed this as {category}: threat intelligence knows this hash as malicious{}",
                if *in_image {
                    "; it is the image's own signed binary, so the image itself is compromised"
                } else {
                    ""
                }
            ),
            Self::BuildDeleted {
                path,
                layer,
                hidden_by,
            } => write!(
                f,
                "this content was {path} in layer {layer} and removed by layer {hidden_by} during the build: it is not part of the final image"
            ),
            Self::HashToDecide { path, expected } => write!(
                f,
                "to decide, hash the running file (kubectl exec … -- sha256sum {path}) and compare with the image's {}",
                expected.hex()
            ),
            Self::PrefixOnly {
                length,
                layer,
                path,
            } => write!(
                f,
                "the first {length} bytes equal layer {layer}'s {path}; the rest of the file was not hashed by the detector, so this is not proof"
            ),
            Self::PrefixUnavailable(reasons) => write!(
                f,
                "prefix digests could not be computed: {}",
                reasons.join("; ")
            ),
            Self::SizeDiffers { image, reported } => write!(
                f,
                "the image's file is {image} bytes, the running one {reported} bytes"
            ),
            Self::HashSizeMismatch {
                path,
                image,
                reported,
            } => write!(
                f,
                "the sha256 equals the image's {path}, but the finding reports {reported} bytes and the manifest {image}: an inconsistent report is not a match"
            ),
            Self::CopiedOver { source } => write!(
                f,
                "its content is the image's {source}, copied over the image's binary at this path: what the path runs has changed"
            ),
            Self::AllowlistNotForReplacement { source } => write!(
                f,
                "a hash-only allowlist entry{} lists this hash, but the image has another binary at this path: only an entry bound to this exact path may vouch for a replacement",
                source
                    .as_deref()
                    .map_or_else(String::new, |source| format!(" ({source})"))
            ),
            Self::Package {
                path,
                package,
                digest,
                role,
            } => f.write_str(&package_sentence(path, package.as_ref(), *digest, *role)),
            Self::Platforms {
                image,
                results,
                chosen,
            } => write!(
                f,
                "the finding names the image index {image} and not which platform ran: judged against every platform ({}); took {chosen}",
                results
                    .iter()
                    .map(|(platform, verdict)| format!("{platform}: {verdict}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// The package note as one sentence.
fn package_sentence(
    path: &str,
    package: Option<&Package>,
    digest: PackageDigest,
    role: PackageRole,
) -> String {
    let Some(package) = package.filter(|_| digest != PackageDigest::Unowned) else {
        return match role {
            PackageRole::ImageCopy => {
                format!("the image's copy of {path} is not from a package of the image")
            }
            PackageRole::Same | PackageRole::Source => {
                format!("{path} is not from a package of the image")
            }
        };
    };
    let label = package_label(package);
    match (role, digest) {
        (PackageRole::Same, PackageDigest::Match) => {
            format!("unchanged: {path}, {label}, bytes as packaged")
        }
        (PackageRole::ImageCopy, PackageDigest::Match) => format!(
            "the image's copy of {path} is {label} as packaged: the running file replaced the packaged binary"
        ),
        (PackageRole::Source, PackageDigest::Match) => {
            format!("its content is {path} of {label}, bytes as packaged")
        }
        (PackageRole::ImageCopy, PackageDigest::Mismatch) => format!(
            "the image's copy of {path} already differed from its package {label}: it was altered during the build"
        ),
        (PackageRole::Same | PackageRole::Source, PackageDigest::Mismatch) => format!(
            "{path} is from {label}, but its bytes in the image differ from the package's: altered during the build"
        ),
        (PackageRole::ImageCopy, _) => {
            format!("the image's copy of {path} is from {label}, which records no digest for it")
        }
        (PackageRole::Same | PackageRole::Source, _) => {
            format!("{path} is from {label}, which records no digest for it")
        }
    }
}

impl Serialize for Note {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// What a verdict rests on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    /// What was compared with what.
    pub compared: Comparison,
    /// The image whose manifest was used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Its platform manifest digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest_digest: Option<Sha256Digest>,
    /// Its platform.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// What the manifest rests on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
    /// Manifest entries that matched or differed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<EntryEvidence>,
    /// The allowlist entry that matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowlist: Option<AllowEntry>,
    /// Anything else worth knowing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
}

impl Evidence {
    fn new(compared: Comparison) -> Self {
        Self {
            compared,
            image: None,
            manifest_digest: None,
            platform: None,
            provenance: None,
            entries: Vec::new(),
            allowlist: None,
            notes: Vec::new(),
        }
    }

    fn entry(mut self, manifest: &Manifest, exe: &Executable) -> Self {
        self.entries.push(EntryEvidence::of(manifest, exe));
        self
    }

    fn note(mut self, note: Note) -> Self {
        self.notes.push(note);
        self
    }
}

/// One judged binary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Judgement {
    /// What the file was to the finding.
    pub role: BinaryRole,
    /// The path as reported.
    pub path: Option<String>,
    /// The reported digest.
    #[serde(with = "optional_hex")]
    pub sha256: Option<Sha256Digest>,
    /// The verdict.
    pub verdict: Verdict,
    /// The detector says the binary is malicious (threat intelligence).
    pub malicious: bool,
    /// Whether this binary calls for containment or investigation.
    pub needs_action: bool,
    /// Why.
    pub evidence: Evidence,
    /// For legitimate binaries that are not yet in the image: what to bake in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bake: Option<BakeEntry>,
}

mod optional_hex {
    use serde::Serializer;

    use crate::digest::Sha256Digest;

    #[allow(clippy::ref_option)] // serde's `with` passes a reference to the field
    pub fn serialize<S: Serializer>(
        value: &Option<Sha256Digest>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(digest) => serializer.collect_str(&digest.hex()),
            None => serializer.serialize_none(),
        }
    }
}

/// The outcome of comparing one binary with one manifest.
#[derive(Clone, Debug)]
enum Decision {
    /// Proven legitimate: needs the proof that the manifest's signature verified.
    Legitimate {
        verdict: Legitimate,
        evidence: Evidence,
        bake: Option<BakeEntry>,
        proof: Proof,
    },
    /// Calls for containment.
    Contain(Contain, Evidence),
    /// Cannot be proven either way.
    Unverifiable(Evidence),
}

impl Decision {
    fn verdict(&self) -> Verdict {
        match self {
            Self::Legitimate { verdict, .. } => (*verdict).into(),
            Self::Contain(contain, _) => (*contain).into(),
            Self::Unverifiable(_) => Verdict::Unverifiable,
        }
    }

    fn evidence_mut(&mut self) -> &mut Evidence {
        match self {
            Self::Legitimate { evidence, .. }
            | Self::Contain(_, evidence)
            | Self::Unverifiable(evidence) => evidence,
        }
    }

    /// How strongly this outcome settles the question, for choosing among platforms: a proof
    /// the binary is the image's wins; otherwise "cannot tell" beats a containment verdict that
    /// another platform does not confirm.
    fn rank(&self) -> u8 {
        match self.verdict() {
            Verdict::Unchanged => 0,
            Verdict::Relocated => 1,
            Verdict::Allowlisted => 2,
            Verdict::Unverifiable => 3,
            Verdict::Fileless => 4,
            Verdict::Modified => 5,
            Verdict::Foreign => 6,
        }
    }
}

/// A legitimate verdict where the manifest is signed; `unverifiable` saying what it would have
/// been where it is not.
fn legitimate(
    index: &ManifestIndex<'_>,
    verdict: Legitimate,
    evidence: Evidence,
    bake: Option<BakeEntry>,
) -> Decision {
    match index.proof() {
        Ok(proof) => Decision::Legitimate {
            verdict,
            evidence,
            bake,
            proof,
        },
        Err(file) => Decision::Unverifiable(evidence.note(Note::Unsigned {
            would_be: verdict.into(),
            file: file.to_owned(),
        })),
    }
}

/// What a reported digest covers.
enum Hashed {
    /// The whole file (not partial, or "partial" with every byte hashed).
    Whole,
    /// The first N bytes, 0 < N < size.
    Prefix(u64),
    /// Partial, with no usable length (absent, 0, larger than the file): compare nothing.
    Unusable,
}

fn hashed_length(binary: &Binary) -> Hashed {
    if !binary.partially_hashed {
        return Hashed::Whole;
    }
    match (binary.hashed_size, binary.size) {
        (Some(hashed), Some(size)) if hashed > 0 && hashed < size => Hashed::Prefix(hashed),
        // Says partial, but the hash covers every byte the file has.
        (Some(hashed), Some(size)) if hashed > 0 && hashed == size => Hashed::Whole,
        (Some(hashed), None) if hashed > 0 => Hashed::Prefix(hashed),
        _ => Hashed::Unusable,
    }
}

/// For a partially hashed binary: the prefix digests the judge needs from this manifest. Only
/// executables of the reported size (and at least the hashed length) are candidates.
#[must_use]
pub fn prefix_requests(binary: &Binary, manifest: &Manifest) -> Vec<PrefixRequest> {
    let Hashed::Prefix(hashed) = hashed_length(binary) else {
        return Vec::new();
    };
    if binary.sha256.is_none() || binary.fileless || binary.truncated {
        return Vec::new();
    }
    prefix_candidates(binary, manifest, hashed)
        .map(|exe| PrefixRequest {
            path: exe.path.clone(),
            layer: exe.layer,
            length: hashed,
        })
        .collect()
}

fn prefix_candidates<'a>(
    binary: &Binary,
    manifest: &'a Manifest,
    hashed: u64,
) -> impl Iterator<Item = &'a Executable> {
    let size = binary.size;
    manifest
        .executables
        .iter()
        .filter(move |exe| size.is_none_or(|size| size == exe.size) && exe.size >= hashed)
}

/// Judges one binary of a finding against the manifests of its image.
#[must_use]
pub fn judge(
    finding: &Finding,
    binary: &Binary,
    manifests: ManifestFor<'_, '_>,
    allowlist: &Allowlist,
) -> Judgement {
    let malicious = matches!(
        finding.category,
        Category::AddedMaliciousBinary
            | Category::ModifiedMaliciousBinary
            | Category::BuiltInMaliciousBinary
    );
    let mut decision = match manifests {
        _ if binary.fileless => Decision::Contain(
            Contain::Fileless,
            Evidence::new(Comparison::Nothing(Missing::Fileless(
                binary
                    .path
                    .clone()
                    .unwrap_or_else(|| "the executable".to_owned()),
            ))),
        ),
        ManifestFor::Unavailable(reason) => Decision::Unverifiable(Evidence::new(
            Comparison::Nothing(Missing::NoManifest(reason.to_owned())),
        )),
        ManifestFor::Found(candidates) => decide_across(binary, candidates, allowlist),
    };
    if malicious {
        let in_image = decision.verdict() == Verdict::Unchanged;
        decision.evidence_mut().notes.push(Note::Malicious {
            category: finding.raw_category.clone(),
            in_image,
        });
    }
    let verdict = decision.verdict();
    let (evidence, bake) = match decision {
        Decision::Legitimate {
            evidence,
            bake,
            proof: Proof(()),
            ..
        } => (evidence, bake.filter(|_| !malicious)),
        Decision::Contain(_, evidence) | Decision::Unverifiable(evidence) => (evidence, None),
    };
    Judgement {
        role: binary.role,
        path: binary.path.clone(),
        sha256: binary.sha256,
        verdict,
        malicious,
        needs_action: malicious || !verdict.is_legitimate(),
        evidence,
        bake,
    }
}

/// The judgement for a finding that names no binary at all: it cannot be let go unjudged.
#[must_use]
pub fn nothing_to_judge(manifests: ManifestFor<'_, '_>) -> Judgement {
    let mut evidence = Evidence::new(Comparison::Nothing(Missing::NoBinary));
    if let ManifestFor::Found([first, ..]) = manifests {
        describe_image(first.index, &mut evidence);
    }
    Judgement {
        role: BinaryRole::Process,
        path: None,
        sha256: None,
        verdict: Verdict::Unverifiable,
        malicious: false,
        needs_action: true,
        evidence,
        bake: None,
    }
}

/// Judges against every candidate manifest (one per platform of an index, or just one) and
/// keeps the outcome that settles the most; says which platform that was.
fn decide_across(
    binary: &Binary,
    candidates: &[Candidate<'_, '_>],
    allowlist: &Allowlist,
) -> Decision {
    let mut outcomes: Vec<(String, Decision)> = candidates
        .iter()
        .map(|candidate| {
            let mut decision = decide(binary, candidate, allowlist);
            describe_image(candidate.index, decision.evidence_mut());
            (candidate.index.manifest().image.platform.clone(), decision)
        })
        .collect();
    let Some(best) = (0..outcomes.len()).min_by_key(|at| outcomes[*at].1.rank()) else {
        return Decision::Unverifiable(Evidence::new(Comparison::Nothing(Missing::NoManifest(
            "no manifest for the image".to_owned(),
        ))));
    };
    let results: Vec<(String, Verdict)> = outcomes
        .iter()
        .map(|(platform, decision)| (platform.clone(), decision.verdict()))
        .collect();
    let (chosen, mut decision) = outcomes.swap_remove(best);
    if results.len() > 1 {
        let image = candidates[0]
            .index
            .manifest()
            .image
            .index_digest
            .map_or_else(
                || candidates[0].index.manifest().image.name.clone(),
                |digest| digest.to_string(),
            );
        decision.evidence_mut().notes.push(Note::Platforms {
            image,
            results,
            chosen,
        });
    }
    decision
}

fn describe_image(index: &ManifestIndex<'_>, evidence: &mut Evidence) {
    let manifest = index.manifest();
    evidence.image = Some(manifest.image.name.clone());
    evidence.manifest_digest = manifest.image.manifest_digest;
    evidence.platform = Some(manifest.image.platform.clone());
    evidence.provenance = Some(index.evidence.provenance.clone());
    if let Some(tag) = &index.evidence.via_tag {
        evidence.notes.insert(0, Note::MutableTag(tag.clone()));
    }
}

/// Compares one binary with one manifest and says which package the image file it rests on
/// comes from.
fn decide(binary: &Binary, candidate: &Candidate<'_, '_>, allowlist: &Allowlist) -> Decision {
    let mut decision = compare(binary, candidate, allowlist);
    // An unsigned manifest's "would be" verdict: the package still says what the file is.
    let verdict = decision.verdict();
    let effective = decision
        .evidence_mut()
        .notes
        .iter()
        .find_map(|note| match note {
            Note::Unsigned { would_be, .. } => Some(*would_be),
            _ => None,
        })
        .unwrap_or(verdict);
    let role = match effective {
        Verdict::Unchanged => Some(PackageRole::Same),
        Verdict::Modified => Some(PackageRole::ImageCopy),
        Verdict::Relocated => Some(PackageRole::Source),
        _ => None,
    };
    let evidence = decision.evidence_mut();
    if let (Some(role), Some(entry)) = (role, evidence.entries.first())
        && let Some(digest) = entry.package_digest
    {
        let note = Note::Package {
            path: entry.path.clone(),
            package: entry.package.clone(),
            digest,
            role,
        };
        evidence.notes.push(note);
    }
    decision
}

/// Compares one binary with one manifest.
fn compare(binary: &Binary, candidate: &Candidate<'_, '_>, allowlist: &Allowlist) -> Decision {
    let index = candidate.index;
    let executables = index.manifest().executables.len();
    let path = match (&binary.path, binary.sha256) {
        (Some(_), _) if binary.truncated => {
            return Decision::Unverifiable(Evidence::new(Comparison::Nothing(
                Missing::PathTruncated,
            )));
        }
        (Some(path), _) => path.as_str(),
        (None, None) => {
            return Decision::Unverifiable(Evidence::new(Comparison::Nothing(
                Missing::NoPathNorHash,
            )));
        }
        (None, Some(_)) => {
            return Decision::Unverifiable(Evidence::new(Comparison::Nothing(Missing::NoPath)));
        }
    };
    let at_path = index.executable(path);
    let Some(reported) = binary.sha256 else {
        let evidence = Evidence::new(Comparison::Path {
            path: path.to_owned(),
            executables,
            in_image: at_path.is_some(),
        });
        return match at_path {
            Some(exe) => Decision::Unverifiable(evidence.entry(index.manifest(), exe).note(
                Note::HashToDecide {
                    path: path.to_owned(),
                    expected: exe.sha256,
                },
            )),
            None => Decision::Contain(Contain::Foreign, evidence),
        };
    };
    match hashed_length(binary) {
        Hashed::Whole => decide_whole_file(binary, path, reported, index, allowlist),
        Hashed::Prefix(hashed) => decide_prefix(binary, path, reported, hashed, candidate),
        Hashed::Unusable => {
            let evidence = Evidence::new(Comparison::UnusablePartial {
                hashed: binary.hashed_size,
                size: binary.size,
            });
            Decision::Unverifiable(match at_path {
                Some(exe) => evidence
                    .entry(index.manifest(), exe)
                    .note(Note::HashToDecide {
                        path: path.to_owned(),
                        expected: exe.sha256,
                    }),
                None => evidence,
            })
        }
    }
}

/// A whole-file digest: equality with the manifest's digest (and size, where reported) is
/// proof; a different digest at an image path is a replacement.
fn decide_whole_file(
    binary: &Binary,
    path: &str,
    reported: Sha256Digest,
    index: &ManifestIndex<'_>,
    allowlist: &Allowlist,
) -> Decision {
    let manifest = index.manifest();
    let evidence = Evidence::new(Comparison::WholeFile {
        path: path.to_owned(),
        sha256: reported,
        executables: manifest.executables.len(),
    });
    let size_mismatch = |exe: &Executable| {
        binary
            .size
            .filter(|size| *size != exe.size)
            .map(|reported| Note::HashSizeMismatch {
                path: exe.path.clone(),
                image: exe.size,
                reported,
            })
    };
    let at_path = index.executable(path);
    if let Some(exe) = at_path.filter(|exe| exe.sha256 == reported) {
        let evidence = evidence.entry(manifest, exe);
        return match size_mismatch(exe) {
            Some(note) => Decision::Unverifiable(evidence.note(note)),
            None => legitimate(index, Legitimate::Unchanged, evidence, None),
        };
    }
    let mut evidence = evidence;
    if let Some(hidden) = manifest
        .hidden
        .iter()
        .find(|hidden| hidden.sha256 == reported)
    {
        evidence = evidence.note(Note::BuildDeleted {
            path: hidden.path.clone(),
            layer: hidden.layer,
            hidden_by: hidden.hidden_by,
        });
    }
    let elsewhere = index.by_digest.get(&reported);
    if let Some(exe) = at_path {
        // Another binary at an image path replaced the image's: even the image's own binary
        // from another path (a shell copied over `sudo`) changes what the path runs. Only an
        // allowlist entry bound to this exact path may vouch for the replacement.
        if let Some(entry) = allowlist.find_for_path(path, &reported) {
            return allowlisted(index, path, reported, entry, evidence.entry(manifest, exe));
        }
        if let Some(entry) = allowlist.find_hash_only(&reported) {
            evidence = evidence.note(Note::AllowlistNotForReplacement {
                source: entry.source.clone(),
            });
        }
        if let Some(copied) = elsewhere {
            evidence = evidence.note(Note::CopiedOver {
                source: copied[0].path.clone(),
            });
        }
        return Decision::Contain(Contain::Modified, evidence.entry(manifest, exe));
    }
    if let Some(found) = elsewhere {
        for exe in found {
            evidence = evidence.entry(manifest, exe);
        }
        if let Some(note) = found.iter().find_map(|exe| size_mismatch(exe)) {
            return Decision::Unverifiable(evidence.note(note));
        }
        let bake = BakeEntry {
            path: path.to_owned(),
            sha256: reported,
            reason: Some(format!(
                "relocated: the image has this binary at {}",
                found[0].path
            )),
        };
        return legitimate(index, Legitimate::Relocated, evidence, Some(bake));
    }
    match allowlist.find(path, &reported) {
        Some(entry) => allowlisted(index, path, reported, entry, evidence),
        None => Decision::Contain(Contain::Foreign, evidence),
    }
}

fn allowlisted(
    index: &ManifestIndex<'_>,
    path: &str,
    sha256: Sha256Digest,
    entry: &AllowEntry,
    mut evidence: Evidence,
) -> Decision {
    evidence.allowlist = Some(entry.clone());
    let bake = BakeEntry {
        path: path.to_owned(),
        sha256,
        reason: Some(format!(
            "allowlisted{}",
            entry
                .source
                .as_deref()
                .map_or(String::new(), |source| format!(" ({source})"))
        )),
    };
    legitimate(index, Legitimate::Allowlisted, evidence, Some(bake))
}

/// A partial digest (the first `hashed` bytes): compared only with prefix digests of the same
/// length from verified layer bytes of the entry the manifest records. A difference proves a
/// different file; a match proves only the prefix, so it is never a legitimate verdict.
fn decide_prefix(
    binary: &Binary,
    path: &str,
    reported: Sha256Digest,
    hashed: u64,
    candidate: &Candidate<'_, '_>,
) -> Decision {
    let index = candidate.index;
    let manifest = index.manifest();
    let candidates: Vec<&Executable> = prefix_candidates(binary, manifest, hashed).collect();
    let mut evidence = Evidence::new(Comparison::Prefix {
        hashed,
        size: binary.size,
        candidates: candidates.len(),
    });
    let mut unavailable = Vec::new();
    let mut matching = Vec::new();
    for exe in &candidates {
        let request = PrefixRequest {
            path: exe.path.clone(),
            layer: exe.layer,
            length: hashed,
        };
        match candidate.prefixes.get(&request) {
            // The prefix is the manifest's file only if the hashed entry is that file.
            Some(Ok(fact)) if fact.sha256 == exe.sha256 && fact.size == exe.size => {
                if fact.prefix == reported {
                    matching.push(*exe);
                }
            }
            Some(Ok(fact)) => unavailable.push(format!(
                "{}: layer {} holds another file there (sha256 {}, {} bytes) than the manifest records",
                exe.path,
                exe.layer,
                fact.sha256.hex(),
                fact.size
            )),
            Some(Err(reason)) => unavailable.push(format!("{}: {reason}", exe.path)),
            None => unavailable.push(format!("{}: not computed", exe.path)),
        }
    }
    let at_path = index.executable(path);
    // The image's own file first, then the others.
    matching.sort_by_key(|exe| Some(exe.path.as_str()) != at_path.map(|at| at.path.as_str()));
    if !matching.is_empty() {
        for exe in &matching {
            evidence = evidence.entry(manifest, exe).note(Note::PrefixOnly {
                length: hashed,
                layer: exe.layer,
                path: exe.path.clone(),
            });
        }
        let expected = at_path
            .filter(|at| matching.iter().any(|exe| exe.path == at.path))
            .unwrap_or(matching[0]);
        return Decision::Unverifiable(evidence.note(Note::HashToDecide {
            path: path.to_owned(),
            expected: expected.sha256,
        }));
    }
    if !unavailable.is_empty() {
        return Decision::Unverifiable(evidence.note(Note::PrefixUnavailable(unavailable)));
    }
    match at_path {
        Some(exe) => {
            if let Some(reported) = binary.size.filter(|size| *size != exe.size) {
                evidence = evidence.note(Note::SizeDiffers {
                    image: exe.size,
                    reported,
                });
            }
            Decision::Contain(Contain::Modified, evidence.entry(manifest, exe))
        }
        None => Decision::Contain(Contain::Foreign, evidence),
    }
}

#[cfg(test)]
mod tests;
