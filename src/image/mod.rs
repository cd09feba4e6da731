//! Image sources: where an image's manifests, configs and layer blobs come from.
//!
//! An [`ImageSource`] resolves a user's reference to one or more platform images
//! ([`ResolvedImage`]) and opens their layer blobs as plain byte streams. Sources verify the
//! small JSON documents they read (index, manifest, config) against their digests;
//! [`layer::LayerStream`] verifies layer blobs while they stream. This module knows nothing
//! of tar entries or executables, and prints nothing.
//!
//! Transports follow skopeo's spelling: `oci:PATH[:REF]`, `oci-archive:FILE[:REF]`,
//! `docker-archive:FILE`, and registry references with or without `docker://`. An archive
//! named `-` is read from stdin (spooled to a private temporary file: archives need random
//! access). `docker:NAME` and `podman:NAME` read a local engine's image ([`engine`]); a bare
//! name is always a registry reference, never looked up in an engine.

use std::fmt;
use std::io::Read;
use std::path::PathBuf;

use crate::digest::Sha256Digest;

pub mod archive;
pub mod docker;
pub mod engine;
pub mod layer;
pub mod oci;
pub mod registry;

/// Errors reading an image.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The reference names no transport this build understands.
    #[error(
        "unsupported image reference {0}: use REGISTRY/REPO[:TAG][@DIGEST], oci:PATH[:REF], oci-archive:FILE[:REF], docker-archive:FILE (- for stdin), or docker:NAME / podman:NAME for an image of a local engine (a bare name is always a registry image)"
    )]
    UnsupportedReference(String),
    /// No socket of a local engine exists where one was looked for.
    #[error("{image}: no {engine} engine socket at {tried} ({hint})")]
    EngineSocketMissing {
        /// The image.
        image: String,
        /// `docker` or `podman`.
        engine: &'static str,
        /// The socket paths tried.
        tried: String,
        /// Where the path came from and what to do.
        hint: String,
    },
    /// `DOCKER_HOST` is not a form this build can reach.
    #[error("DOCKER_HOST {value:?} is not usable: {problem}")]
    InvalidEngineHost {
        /// The value.
        value: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The engine answered 404: it has no such image.
    #[error("{image}: the {engine} engine at {endpoint} has no such image ({message})")]
    EngineImageNotFound {
        /// The image.
        image: String,
        /// `docker` or `podman`.
        engine: &'static str,
        /// The endpoint asked.
        endpoint: String,
        /// The engine's message.
        message: String,
    },
    /// A request to a local engine failed (connection, an error answer, a broken stream).
    #[error("{image}: {operation} through {endpoint} failed: {message}")]
    EngineRequest {
        /// The image.
        image: String,
        /// The endpoint asked.
        endpoint: String,
        /// What was being done.
        operation: String,
        /// The engine's message, or the transport error.
        message: String,
    },
    /// A file of the image could not be read.
    #[error("{image}: cannot read {path}")]
    Io {
        /// The image as named by the user.
        image: String,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A JSON document of the image is malformed.
    #[error("{image}: {document} is not a valid {what}")]
    Json {
        /// The image as named by the user.
        image: String,
        /// Which document (file name or digest).
        document: String,
        /// What it should have been.
        what: &'static str,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A blob the image refers to is absent.
    #[error("{image}: blob {digest} is missing")]
    MissingBlob {
        /// The image.
        image: String,
        /// The missing blob.
        digest: Sha256Digest,
    },
    /// A blob's content does not match the digest it is addressed by.
    #[error("{image}: {what} {expected} does not match its digest: its content hashes to {got}")]
    DigestMismatch {
        /// The image.
        image: String,
        /// `layer`, `manifest`, `config`, `index`.
        what: &'static str,
        /// The digest of the bytes read.
        got: Sha256Digest,
        /// The digest the descriptor names.
        expected: Sha256Digest,
    },
    /// A layer's uncompressed tar does not match the config's `rootfs.diff_ids` entry.
    #[error(
        "{image}: layer {layer}: uncompressed content does not match the config's diff_id (got {got}, expected {expected})"
    )]
    DiffIdMismatch {
        /// The image.
        image: String,
        /// The layer blob digest.
        layer: String,
        /// Digest of the uncompressed stream.
        got: Sha256Digest,
        /// The config's diff_id.
        expected: Sha256Digest,
    },
    /// A blob's length differs from its descriptor's size.
    #[error("{image}: {what} {digest} has {got} bytes, its descriptor says {expected}")]
    SizeMismatch {
        /// The image.
        image: String,
        /// `layer`, `manifest`, `config`.
        what: &'static str,
        /// The blob.
        digest: String,
        /// Bytes read.
        got: u64,
        /// Bytes expected.
        expected: u64,
    },
    /// A blob is larger than this kind of document may be.
    #[error("{image}: {what} {digest} is {size} bytes, more than the {limit} bytes allowed")]
    TooLarge {
        /// The image.
        image: String,
        /// Which document.
        what: &'static str,
        /// The blob.
        digest: Sha256Digest,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A media type this tool cannot read.
    #[error("{image}: {what} {digest} has unsupported media type {media_type:?}")]
    UnsupportedMediaType {
        /// The image.
        image: String,
        /// `layer`, `manifest`.
        what: &'static str,
        /// The blob.
        digest: String,
        /// The media type.
        media_type: String,
    },
    /// Decompressing or reading a layer stream failed (corrupt or truncated data).
    #[error("{image}: layer {layer}: cannot read the layer stream")]
    LayerRead {
        /// The image.
        image: String,
        /// The layer blob digest.
        layer: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// No image in the source matches the requested platform.
    #[error("{image}: no image for platform {wanted} (available: {available})")]
    NoMatchingPlatform {
        /// The image.
        image: String,
        /// The requested platform.
        wanted: String,
        /// What the index offers.
        available: String,
    },
    /// The layout has no entry with the requested `org.opencontainers.image.ref.name`.
    #[error("{image}: no image named {reference:?} in the layout (available: {available})")]
    RefNotFound {
        /// The image.
        image: String,
        /// The requested name.
        reference: String,
        /// Names present.
        available: String,
    },
    /// The layout holds several images and none was chosen.
    #[error("{image}: the layout holds several images ({available}); name one as {image}:REF")]
    AmbiguousRef {
        /// The image.
        image: String,
        /// Names present.
        available: String,
    },
    /// A registry request failed for good.
    #[error("{image}: {operation} from {registry}/{repository} failed: {message}")]
    Registry {
        /// The image.
        image: String,
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// What was being done (`fetching manifest …`, `fetching blob …`).
        operation: String,
        /// The HTTP status, when there was one.
        status: Option<u16>,
        /// What went wrong (never a secret).
        message: String,
        /// Whether asking again later may succeed: the registry could not be reached, or
        /// answered 429 or 5xx.
        transient: bool,
    },
    /// Docker credentials exist but cannot be used.
    #[error("{image}: cannot use the credentials in {path}: {reason}")]
    Credentials {
        /// The image.
        image: String,
        /// The Docker config file.
        path: PathBuf,
        /// Why (never the secret itself).
        reason: String,
    },
    /// The image is structurally wrong (empty index, layer count differs from diff_ids, …).
    #[error("{image}: {problem}")]
    Invalid {
        /// The image.
        image: String,
        /// What is wrong.
        problem: String,
    },
    /// An entry of a registry allow-list is not a `host[:port]`.
    #[error("--allow-registry {host:?}: {problem}")]
    InvalidRegistryHost {
        /// The entry.
        host: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A registry allow-list refuses the registry (see [`registry::RegistryAllowList`]).
    #[error("registry {registry} is refused: {reason}")]
    RegistryNotAllowed {
        /// The registry `host[:port]`.
        registry: String,
        /// Why: not listed, or the address it resolves to.
        reason: String,
    },
    /// A listed registry's name did not resolve, so its addresses could not be checked.
    #[error("registry {registry}: cannot resolve its name")]
    RegistryLookup {
        /// The registry `host[:port]`.
        registry: String,
        /// The resolver's error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Whether the same request may succeed later: a registry that could not be reached or
    /// answered 429/5xx, a name that did not resolve. Everything else is a final answer (not
    /// found, refused, malformed, a digest that does not match).
    #[must_use]
    pub const fn is_transient(&self) -> bool {
        match self {
            Self::Registry { transient, .. } => *transient,
            Self::RegistryLookup { .. } => true,
            _ => false,
        }
    }
}

/// An `os/architecture[/variant]` platform.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Platform {
    /// `linux`, `windows`, …
    pub os: String,
    /// `amd64`, `arm64`, …
    pub architecture: String,
    /// `v8`, `v7`, … when given.
    pub variant: Option<String>,
}

impl Platform {
    /// linux/amd64, the default when an index offers several platforms.
    #[must_use]
    pub fn default_platform() -> Self {
        Self {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }

    /// Whether `self` (what the user asked for) accepts `offered`; a request without a variant
    /// accepts any variant.
    #[must_use]
    pub fn accepts(&self, offered: &Self) -> bool {
        self.os == offered.os
            && self.architecture == offered.architecture
            && (self.variant.is_none() || self.variant == offered.variant)
    }
}

impl std::str::FromStr for Platform {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split('/').collect();
        match parts.as_slice() {
            [os, arch] | [os, arch, _] if !os.is_empty() && !arch.is_empty() => Ok(Self {
                os: (*os).to_owned(),
                architecture: (*arch).to_owned(),
                variant: parts
                    .get(2)
                    .filter(|v| !v.is_empty())
                    .map(|v| (*v).to_owned()),
            }),
            _ => Err(format!(
                "platform {text:?} is not of the form os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8"
            )),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

/// Which platform images of a multi-arch index to scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlatformSelection {
    /// linux/amd64 where there is a choice; a single-platform image is taken as it is.
    Default,
    /// Exactly this platform.
    Only(Platform),
    /// Every platform image of the index.
    All,
}

/// A layer to read: where its blob is and what its content must hash to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerDescriptor {
    /// The blob digest; `None` where the source does not know it (legacy docker archives),
    /// in which case it is computed while reading.
    pub digest: Option<Sha256Digest>,
    /// Blob size, where known.
    pub size: Option<u64>,
    /// Media type; `None` where the source has none, and the compression is sniffed.
    pub media_type: Option<String>,
    /// The config's `rootfs.diff_ids` entry for this layer.
    pub diff_id: Sha256Digest,
    /// Where a source that does not address blobs by digest finds it (a path inside an archive).
    pub locator: Option<String>,
}

impl LayerDescriptor {
    /// How the layer is named in messages: its digest, else its locator.
    #[must_use]
    pub fn label(&self) -> String {
        match (&self.digest, &self.locator) {
            (Some(digest), _) => digest.to_string(),
            (None, Some(locator)) => locator.clone(),
            (None, None) => self.diff_id.to_string(),
        }
    }
}

/// One platform image, resolved down to its layers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedImage {
    /// The reference as the user gave it.
    pub name: String,
    /// The index it was selected from.
    pub index_digest: Option<Sha256Digest>,
    /// The platform manifest (none for legacy docker archives).
    pub manifest_digest: Option<Sha256Digest>,
    /// The config blob.
    pub config_digest: Sha256Digest,
    /// From the config.
    pub platform: Platform,
    /// The directories of the `PATH` the image runs with (config `Env`), in order.
    pub search_path: Vec<String>,
    /// Bottom layer first.
    pub layers: Vec<LayerDescriptor>,
    /// The local engine the image was read from and what it reports of it.
    pub engine: Option<engine::EngineImage>,
}

/// What resolving a reference produced.
#[derive(Clone, Debug)]
pub struct Resolution {
    /// The chosen platform images.
    pub images: Vec<ResolvedImage>,
    /// Things the user should know (e.g. that the default platform was applied).
    pub notes: Vec<String>,
}

/// A place images come from.
pub trait ImageSource: Send + Sync {
    /// The reference as the user gave it.
    fn name(&self) -> &str;

    /// Resolves the reference to platform images.
    ///
    /// # Errors
    /// Missing or malformed documents, no matching platform.
    fn resolve(&self, selection: &PlatformSelection) -> Result<Resolution, Error>;

    /// Opens a layer's blob as stored (still compressed, not yet verified).
    ///
    /// # Errors
    /// A missing blob or an unreadable file.
    fn open_layer(&self, layer: &LayerDescriptor) -> Result<Box<dyn Read + Send + '_>, Error>;
}

/// Whether a reference names a local image (a layout, an archive, an image of a local engine)
/// rather than a registry one. `docker://…` is a registry reference; `docker:NAME` is not.
#[must_use]
pub fn is_local_reference(reference: &str) -> bool {
    engine_reference(reference).is_some()
        || ["oci:", "oci-archive:", "docker-archive:"]
            .iter()
            .any(|prefix| reference.starts_with(prefix))
}

/// Whether reading the reference reads stdin (`docker-archive:-`, `oci-archive:-[:REF]`).
#[must_use]
pub fn reads_stdin(reference: &str) -> bool {
    reference
        .strip_prefix("docker-archive:")
        .is_some_and(|rest| rest == "-")
        || reference
            .strip_prefix("oci-archive:")
            .is_some_and(|rest| split_path_ref(rest).0 == "-")
}

/// `docker:NAME` / `podman:NAME` → the engine and the name; `docker://…` is not one.
fn engine_reference(reference: &str) -> Option<(engine::EngineKind, &str)> {
    if reference.starts_with("docker://") {
        return None;
    }
    reference
        .strip_prefix("docker:")
        .map(|name| (engine::EngineKind::Docker, name))
        .or_else(|| {
            reference
                .strip_prefix("podman:")
                .map(|name| (engine::EngineKind::Podman, name))
        })
}

/// What stdin is called in messages.
const STDIN: &str = "stdin";

/// Opens the image a reference names; anything without a local transport prefix is a
/// registry reference.
///
/// # Errors
/// A malformed reference, or a source that cannot be opened.
pub fn open(
    reference: &str,
    registry_settings: &registry::SourceSettings,
) -> Result<Box<dyn ImageSource>, Error> {
    if let Some(rest) = reference.strip_prefix("oci:") {
        let (path, tag) = split_path_ref(rest);
        return Ok(Box::new(oci::OciSource::new(
            reference.to_owned(),
            oci::LayoutDir::new(reference, path.into()),
            tag,
        )));
    }
    if let Some((kind, name)) = engine_reference(reference) {
        return engine::open(reference, kind, name, &registry_settings.engines);
    }
    if let Some(rest) = reference.strip_prefix("oci-archive:") {
        let (path, tag) = split_path_ref(rest);
        let store = if path == "-" {
            archive::TarBlobs::from_index(archive::TarIndex::spool(
                reference,
                STDIN,
                std::io::stdin().lock(),
            )?)
        } else {
            archive::TarBlobs::open(reference, path.as_ref())?
        };
        return Ok(Box::new(oci::OciSource::new(
            reference.to_owned(),
            store,
            tag,
        )));
    }
    if reference == "docker-archive:-" {
        let index = archive::TarIndex::spool(reference, STDIN, std::io::stdin().lock())?;
        return docker::open_index(reference, index, None);
    }
    if let Some(rest) = reference.strip_prefix("docker-archive:") {
        // A trailing `:repo:tag` selects an image of a multi-image archive; keep the path whole
        // when it exists as given.
        return docker::open(reference, rest.as_ref());
    }
    Ok(Box::new(registry::RegistrySource::open(
        reference,
        registry_settings,
    )?))
}

/// Splits `PATH[:REF]` the way skopeo does: the last `:` separates a reference, unless what
/// follows it contains a `/` (then it is part of the path).
fn split_path_ref(text: &str) -> (String, Option<String>) {
    match text.rsplit_once(':') {
        Some((path, reference))
            if !path.is_empty() && !reference.contains('/') && !reference.is_empty() =>
        {
            (path.to_owned(), Some(reference.to_owned()))
        }
        _ => (text.to_owned(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_parses_and_matches_variants() {
        let wanted: Platform = "linux/arm64".parse().unwrap();
        let offered: Platform = "linux/arm64/v8".parse().unwrap();
        assert!(wanted.accepts(&offered));
        assert!(!offered.accepts(&"linux/arm64/v7".parse().unwrap()));
        assert_eq!(offered.to_string(), "linux/arm64/v8");
        assert!("linux".parse::<Platform>().is_err());
        assert!("linux//v8".parse::<Platform>().is_err());
    }

    #[test]
    fn engine_prefixes_are_local_but_docker_scheme_is_a_registry() {
        for local in ["docker:app", "podman:app:1", "docker-archive:-", "oci:dir"] {
            assert!(is_local_reference(local), "{local}");
        }
        for registry in [
            "docker://app",
            "app",
            "docker.io/library/app",
            "podman.io/app",
        ] {
            assert!(!is_local_reference(registry), "{registry}");
        }
        assert!(reads_stdin("docker-archive:-"));
        assert!(reads_stdin("oci-archive:-:latest"));
        assert!(!reads_stdin("docker-archive:-file.tar"));
        assert!(!reads_stdin("docker:-"));
    }

    #[test]
    fn path_ref_split_follows_skopeo() {
        assert_eq!(
            split_path_ref("dir/img:latest"),
            ("dir/img".into(), Some("latest".into()))
        );
        assert_eq!(split_path_ref("dir/img"), ("dir/img".into(), None));
        assert_eq!(split_path_ref("./a:b/c"), ("./a:b/c".into(), None));
    }
}
