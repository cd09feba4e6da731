//! What `triage` and `serve` do with a finding's image: choose which image a finding is about
//! ([`ImageQuery`]), resolve it in its registry (or from a bundle or manifest file), verify its
//! attestation ([`Resolver`] → [`ImageState`]), compute the prefix digests partial hashes need
//! from digest-verified layers, and judge the finding's binaries into a [`FindingReport`]
//! ([`crate::triage`] is the pure judgement).
//!
//! Sync and blocking: the registry's own runtime does the network I/O, so async callers run
//! [`Resolver::resolve`] and [`Resolver::compute_prefixes`] off their executor (e.g. tokio's
//! `spawn_blocking`). An [`ImageState`] holds no connection or runtime: it is plain data, safe
//! to share and to drop anywhere. Caching (of images, of prefix digests) is the caller's.
//! Prints nothing, reads no environment.

use std::path::PathBuf;

use crate::digest::Sha256Digest;
use crate::finding::{self, Finding};
use crate::image;

mod attestation;
mod report;
mod resolve;
#[cfg(test)]
mod tests;

pub use attestation::{
    Checked, StatementLookup, check_bundle_file, check_bundle_file_statements,
    check_registry_attestation, check_registry_statements,
};
pub use report::{FindingReport, JudgedBinary};
pub use resolve::{
    ImagePrefixes, ImageState, IndexedImage, LocalLayers, Offline, PrefixRequests, Resolver,
    read_manifest_file,
};

/// Errors finding and verifying a finding's image.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The finding lists containers of several images and says not which one ran the binary.
    #[error("the finding's image is unknown: {ambiguity}")]
    AmbiguousImage {
        /// What the finding says (the containers and their images).
        ambiguity: String,
    },
    /// The finding names no image and no fallback image was given.
    #[error("the finding does not say which image the binary ran in; pass --image REF")]
    NoImage,
    /// No trust policy was given, so no attestation can be verified.
    #[error(
        "no way to verify the image's attestation: pass --key cosign.pub, or --certificate-identity and --certificate-oidc-issuer (with --trusted-root for another instance than the public-good one)"
    )]
    NoTrust,
    /// Offline with a bundle, the finding names its image by tag only.
    #[error(
        "the finding names its image only by tag ({reference}); offline, pass --image REPO@sha256:… for that repository so the bundle can be tied to it"
    )]
    BundleNeedsDigest {
        /// The reference, or `no image at all`.
        reference: String,
    },
    /// The bundle file has no valid attestation for any of the image's digests.
    #[error("the bundle {} holds no valid attestation for the finding's image: {reasons}", bundle.display())]
    NoValidBundleAttestation {
        /// The bundle file.
        bundle: PathBuf,
        /// Why each candidate was rejected, `; `-separated.
        reasons: String,
    },
    /// The finding names its image by digest only: no registry to look in.
    #[error(
        "the finding names its image only by digest ({digests}), not where it is stored; pass --bundle FILE, or judge it with --image REPO@DIGEST"
    )]
    DigestOnly {
        /// The digests, `, `-separated.
        digests: String,
    },
    /// The finding names a local image, which keeps no attestations.
    #[error(
        "{reference} is local; attestations are looked up in registries (or pass --bundle FILE)"
    )]
    LocalImage {
        /// The reference.
        reference: String,
    },
    /// No attestation stored for a platform image verified.
    #[error("no valid attestation for {candidate} ({platform}, {subject}): {reasons}")]
    NoValidAttestation {
        /// The reference resolved.
        candidate: String,
        /// The platform image's platform.
        platform: String,
        /// Its manifest digest.
        subject: Sha256Digest,
        /// Why each candidate was rejected, `; `-separated.
        reasons: String,
        /// A stored attestation could not be fetched for a reason that may pass.
        transient: bool,
    },
    /// No candidate reference resolved to the finding's image.
    #[error("cannot resolve the image: {failures}")]
    Unresolvable {
        /// Why each candidate failed, `; `-separated.
        failures: String,
        /// A candidate failed for a reason that may pass (registry unreachable, 429, 5xx).
        transient: bool,
    },
    /// Offline with a manifest file, the finding names its image by tag only.
    #[error(
        "the finding names its image only by tag ({label}), so the manifest file cannot be tied to it; pass --image REPO@sha256:… for that repository"
    )]
    ManifestNeedsDigest {
        /// The image as the finding names it.
        label: String,
    },
    /// The manifest file is about another image.
    #[error("the manifest is for {name} ({digest}), not the image the finding names ({wanted})")]
    ManifestForOtherImage {
        /// The manifest's image name.
        name: String,
        /// Its manifest digest, or `no digest`.
        digest: String,
        /// The finding's digests, `, `-separated.
        wanted: String,
    },
    /// A manifest file is not JSON, or not an exelock manifest.
    #[error("{} {problem}", path.display())]
    ManifestFile {
        /// The file.
        path: PathBuf,
        /// `is not JSON`, `is not an exelock manifest`.
        problem: &'static str,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A bundle file could not be opened or read through.
    #[error("cannot read the bundle {label}")]
    BundleFileRead {
        /// The file, as shown.
        label: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An input file could not be opened (the cause names it).
    #[error("cannot read the {what}")]
    InputFile {
        /// What the file is: `bundle`, `manifest`.
        what: &'static str,
        /// The cause, naming the file.
        #[source]
        source: std::io::Error,
    },
    /// A bundle file holds nothing valid and an entry that cannot be read at all.
    #[error("cannot read {0}")]
    UnreadableAttestation(String),
    /// `--layers-from` names a registry image.
    #[error(
        "--layers-from takes a local image (oci:DIR, oci-archive:FILE, docker-archive:FILE, docker:NAME, podman:NAME), not {reference}"
    )]
    LayersNotLocal {
        /// The reference.
        reference: String,
    },
    /// A file could not be opened or read (the message names it).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The image could not be read, or its registry refused or failed.
    #[error(transparent)]
    Image(Box<image::Error>),
    /// A bundle file is malformed as a whole.
    #[error(transparent)]
    Attest(Box<crate::attest::Error>),
}

// Boxed: both are large, and every `Result` of this module would carry their size.
impl From<image::Error> for Error {
    fn from(error: image::Error) -> Self {
        Self::Image(Box::new(error))
    }
}

impl From<crate::attest::Error> for Error {
    fn from(error: crate::attest::Error) -> Self {
        Self::Attest(Box::new(error))
    }
}

impl Error {
    /// Whether the same question may get another answer later: the registry could not be
    /// reached or answered 429/5xx, or its name did not resolve. A service answers 503 then,
    /// so the sender retries. Everything else (no attestation, an invalid signature, not
    /// found, refused by the allow-list, bad input) is final: the finding is `unverifiable`.
    #[must_use]
    pub const fn is_transient(&self) -> bool {
        match self {
            Self::NoValidAttestation { transient, .. } | Self::Unresolvable { transient, .. } => {
                *transient
            }
            Self::Image(error) => error.is_transient(),
            _ => false,
        }
    }

    /// The message and its causes on one line, `: `-separated: the reason a report gives.
    #[must_use]
    pub fn reason(&self) -> String {
        crate::error_chain(self)
    }
}

/// Which image a finding is to be judged against: what the finding names, or the fallback
/// image for findings that name none. Equal queries resolve to the same image, so callers
/// cache resolved images by it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImageQuery {
    /// A reference to resolve (repository with tag and/or digest).
    reference: Option<String>,
    /// The digests that identify the image (index, platform manifest or config).
    digests: Vec<Sha256Digest>,
    /// The digest pinning a tag-only reference came from the fallback image (`--image`).
    pinned_by_flag: bool,
}

impl ImageQuery {
    /// The image `finding` ran in. `fallback_image` stands in only for findings that name
    /// none; with a digest (`REPO@sha256:…`) it also pins a finding that names the same
    /// repository by tag only.
    ///
    /// # Errors
    /// [`Error::AmbiguousImage`] when the finding's containers name several images,
    /// [`Error::NoImage`] when it names none and there is no fallback.
    pub fn for_finding(finding: &Finding, fallback_image: Option<&str>) -> Result<Self, Error> {
        let named = &finding.image;
        if let Some(ambiguity) = &named.ambiguity {
            return Err(Error::AmbiguousImage {
                ambiguity: ambiguity.clone(),
            });
        }
        if named.reference.is_none() && named.digests.is_empty() {
            let Some(image) = fallback_image else {
                return Err(Error::NoImage);
            };
            let flagged = finding::ImageRef::from_reference(image);
            return Ok(Self {
                reference: flagged.reference,
                digests: flagged.digests,
                pinned_by_flag: false,
            });
        }
        let mut query = Self {
            reference: named.reference.clone(),
            digests: named.digests.clone(),
            pinned_by_flag: false,
        };
        // A tag-only finding about the repository the fallback pins by digest: take that digest.
        if query.digests.is_empty()
            && let (Some(reference), Some(image)) = (&query.reference, fallback_image)
            && let Some(pin) = pin_for(reference, image)
        {
            query.digests.push(pin);
            query.pinned_by_flag = true;
        }
        Ok(query)
    }

    /// The reference to resolve, when the finding gave one.
    #[must_use]
    pub fn reference(&self) -> Option<&str> {
        self.reference.as_deref()
    }

    /// The digests that identify the image.
    #[must_use]
    pub fn digests(&self) -> &[Sha256Digest] {
        &self.digests
    }

    /// How reports name the image: the reference, else the digests.
    #[must_use]
    pub fn label(&self) -> String {
        match (&self.reference, self.digests.as_slice()) {
            (Some(reference), _) => reference.clone(),
            (None, digests) => join_digests(digests),
        }
    }

    /// `registry/repository` of the reference (Docker Hub's short names expanded), when it is
    /// a registry reference.
    #[must_use]
    pub fn repository(&self) -> Option<String> {
        let reference = self.reference.as_deref()?;
        if image::is_local_reference(reference) {
            return None;
        }
        let parsed = image::registry::parse_reference(reference).ok()?;
        Some(format!("{}/{}", parsed.registry(), parsed.repository()))
    }
}

/// A digest from the fallback image that pins a tag-only `reference` of the same repository.
fn pin_for(reference: &str, image: &str) -> Option<Sha256Digest> {
    let finding = image::registry::parse_reference(reference).ok()?;
    let flag = image::registry::parse_reference(image).ok()?;
    let same = finding.registry() == flag.registry() && finding.repository() == flag.repository();
    same.then(|| flag.digest()?.parse().ok()).flatten()
}

fn join_digests(digests: &[Sha256Digest]) -> String {
    digests
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
