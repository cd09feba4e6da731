//! OCI image layouts and the index → manifest → config walk every digest-addressed source
//! shares (layout directories, `oci-archive` tars, Docker ≥ 25 `docker save` tars).
//!
//! Every document read here is checked against the digest that names it before it is parsed.
//! See the image-spec: <https://github.com/opencontainers/image-spec/blob/v1.1.0/image-layout.md>.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use serde::Deserialize;

use super::{
    Error, ImageSource, LayerDescriptor, Platform, PlatformSelection, Resolution, ResolvedImage,
};
use crate::digest::{HashingReader, Sha256Digest};

/// Media types of single-platform manifests.
pub const MANIFEST_MEDIA_TYPES: [&str; 2] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];
/// Media types of multi-platform indexes.
pub const INDEX_MEDIA_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];
/// The annotation that names an entry of a layout's `index.json`.
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";

/// Largest manifest or index accepted (the distribution spec lets registries cap at 4 MiB).
const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// Largest config accepted; configs with long histories run to a few hundred KiB.
const MAX_CONFIG_BYTES: u64 = 32 << 20;

/// An OCI content descriptor.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    #[serde(default)]
    pub media_type: Option<String>,
    /// Digest of the referenced content.
    pub digest: Sha256Digest,
    /// Size in bytes.
    pub size: u64,
    /// Platform, on index entries.
    #[serde(default)]
    pub platform: Option<PlatformJson>,
    /// Annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// The platform object of index entries and configs.
#[derive(Clone, Debug, Deserialize)]
pub struct PlatformJson {
    /// Operating system.
    pub os: String,
    /// CPU architecture.
    pub architecture: String,
    /// CPU variant.
    #[serde(default)]
    pub variant: Option<String>,
}

impl From<&PlatformJson> for Platform {
    fn from(json: &PlatformJson) -> Self {
        Self {
            os: json.os.clone(),
            architecture: json.architecture.clone(),
            variant: json.variant.clone().filter(|v| !v.is_empty()),
        }
    }
}

/// An image index (or Docker manifest list), and a layout's `index.json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// Must be 2.
    pub schema_version: u32,
    /// Optional in `index.json`.
    #[serde(default)]
    pub media_type: Option<String>,
    /// The entries.
    pub manifests: Vec<Descriptor>,
}

/// An image manifest.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Must be 2.
    pub schema_version: u32,
    /// The config blob.
    pub config: Descriptor,
    /// The layers, bottom first.
    pub layers: Vec<Descriptor>,
}

/// The parts of an image config this tool reads.
#[derive(Debug, Deserialize)]
pub struct ImageConfig {
    /// Operating system.
    #[serde(default)]
    pub os: String,
    /// CPU architecture.
    #[serde(default)]
    pub architecture: String,
    /// CPU variant.
    #[serde(default)]
    pub variant: Option<String>,
    /// The uncompressed layer digests.
    pub rootfs: RootFs,
    /// What the image runs with (only `Env` is read).
    #[serde(default)]
    pub config: Option<RuntimeConfig>,
}

/// `config` of an image config: the process defaults.
#[derive(Debug, Default, Deserialize)]
pub struct RuntimeConfig {
    /// `NAME=value` strings.
    #[serde(rename = "Env", default)]
    pub env: Option<Vec<String>>,
}

/// `rootfs` of an image config.
#[derive(Debug, Deserialize)]
pub struct RootFs {
    /// One per layer, bottom first.
    pub diff_ids: Vec<Sha256Digest>,
}

impl ImageConfig {
    /// The directories of the image's `PATH` (from `config.Env`), in order; empty when the
    /// config sets none.
    #[must_use]
    pub fn search_path(&self) -> Vec<String> {
        self.config
            .as_ref()
            .and_then(|config| config.env.as_ref())
            .and_then(|env| {
                env.iter()
                    .rev()
                    .find_map(|entry| entry.strip_prefix("PATH="))
            })
            .map(|path| {
                path.split(':')
                    .filter(|dir| !dir.is_empty())
                    .map(ToOwned::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The config's platform.
    #[must_use]
    pub fn platform(&self) -> Platform {
        Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone().filter(|v| !v.is_empty()),
        }
    }
}

/// Parses a JSON document, naming it in the error.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    image: &str,
    document: impl Into<String>,
    what: &'static str,
    bytes: &[u8],
) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|source| Error::Json {
        image: image.to_owned(),
        document: document.into(),
        what,
        source,
    })
}

/// A content-addressed blob store: a layout directory, a tar holding one, a registry.
pub trait BlobStore: Send + Sync {
    /// The layout's top-level `index.json`.
    ///
    /// # Errors
    /// A missing or unreadable file.
    fn read_index_json(&self) -> Result<Vec<u8>, Error>;

    /// Opens a blob (unverified: callers check the digest).
    ///
    /// # Errors
    /// A missing blob.
    fn open_blob(&self, digest: &Sha256Digest) -> Result<Box<dyn Read + Send + '_>, Error>;

    /// Opens a manifest or index (unverified). Layouts keep them with the blobs; registries
    /// serve them from their own endpoint.
    ///
    /// # Errors
    /// A missing document.
    fn open_manifest(&self, digest: &Sha256Digest) -> Result<Box<dyn Read + Send + '_>, Error> {
        self.open_blob(digest)
    }
}

/// Reads a small blob whole, checking its size and digest.
pub(crate) fn read_verified(
    store: &dyn BlobStore,
    image: &str,
    what: &'static str,
    descriptor: &Descriptor,
    limit: u64,
) -> Result<Vec<u8>, Error> {
    if descriptor.size > limit {
        return Err(Error::TooLarge {
            image: image.to_owned(),
            what,
            digest: descriptor.digest,
            size: descriptor.size,
            limit,
        });
    }
    let opened = match what {
        "index" | "manifest" => store.open_manifest(&descriptor.digest)?,
        _ => store.open_blob(&descriptor.digest)?,
    };
    let mut reader = HashingReader::new(opened.take(limit + 1));
    let mut bytes = Vec::with_capacity(usize::try_from(descriptor.size).unwrap_or(0));
    reader
        .read_to_end(&mut bytes)
        .map_err(|source| Error::LayerRead {
            image: image.to_owned(),
            layer: descriptor.digest.to_string(),
            source,
        })?;
    let (got, len) = reader.finish();
    if got != descriptor.digest {
        return Err(Error::DigestMismatch {
            image: image.to_owned(),
            what,
            got,
            expected: descriptor.digest,
        });
    }
    if len != descriptor.size {
        return Err(Error::SizeMismatch {
            image: image.to_owned(),
            what,
            digest: descriptor.digest.to_string(),
            got: len,
            expected: descriptor.size,
        });
    }
    Ok(bytes)
}

/// An OCI image layout directory.
pub struct LayoutDir {
    image: String,
    root: PathBuf,
}

impl LayoutDir {
    /// A layout rooted at `root`; nothing is read until asked.
    #[must_use]
    pub fn new(image: &str, root: PathBuf) -> Self {
        Self {
            image: image.to_owned(),
            root,
        }
    }

    fn blob_path(&self, digest: &Sha256Digest) -> PathBuf {
        self.root.join("blobs").join("sha256").join(digest.hex())
    }
}

impl BlobStore for LayoutDir {
    fn read_index_json(&self) -> Result<Vec<u8>, Error> {
        let path = self.root.join("index.json");
        std::fs::File::open(&path)
            .and_then(|file| {
                let mut bytes = Vec::new();
                file.take(MAX_MANIFEST_BYTES).read_to_end(&mut bytes)?;
                Ok(bytes)
            })
            .map_err(|source| match source.kind() {
                std::io::ErrorKind::NotFound => Error::Invalid {
                    image: self.image.clone(),
                    problem: format!(
                        "{} does not exist: not an OCI image layout directory",
                        path.display()
                    ),
                },
                _ => Error::Io {
                    image: self.image.clone(),
                    path,
                    source,
                },
            })
    }

    fn open_blob(&self, digest: &Sha256Digest) -> Result<Box<dyn Read + Send + '_>, Error> {
        let path = self.blob_path(digest);
        match std::fs::File::open(&path) {
            Ok(file) => Ok(Box::new(std::io::BufReader::with_capacity(256 << 10, file))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(Error::MissingBlob {
                image: self.image.clone(),
                digest: *digest,
            }),
            Err(source) => Err(Error::Io {
                image: self.image.clone(),
                path,
                source,
            }),
        }
    }
}

/// An image in any [`BlobStore`] with an `index.json`.
pub struct OciSource<S> {
    name: String,
    store: S,
    reference: Option<String>,
}

impl<S: BlobStore> OciSource<S> {
    /// `reference` picks an `index.json` entry by `org.opencontainers.image.ref.name`.
    pub const fn new(name: String, store: S, reference: Option<String>) -> Self {
        Self {
            name,
            store,
            reference,
        }
    }
}

impl<S: BlobStore> ImageSource for OciSource<S> {
    fn name(&self) -> &str {
        &self.name
    }

    fn resolve(&self, selection: &PlatformSelection) -> Result<Resolution, Error> {
        let bytes = self.store.read_index_json()?;
        let index: Index = parse_json(&self.name, "index.json", "image index", &bytes)?;
        let entries = select_reference(&self.name, index.manifests, self.reference.as_deref())?;
        resolve_entries(&self.store, &self.name, entries, selection)
    }

    fn open_layer(&self, layer: &LayerDescriptor) -> Result<Box<dyn Read + Send + '_>, Error> {
        let digest = layer.digest.ok_or_else(|| Error::Invalid {
            image: self.name.clone(),
            problem: format!("layer {} has no digest", layer.label()),
        })?;
        self.store.open_blob(&digest)
    }
}

/// Picks the `index.json` entries a `:REF` names; with no REF, all entries of one image.
fn select_reference(
    image: &str,
    entries: Vec<Descriptor>,
    reference: Option<&str>,
) -> Result<Vec<Descriptor>, Error> {
    let names: std::collections::BTreeSet<&str> = entries
        .iter()
        .filter_map(|entry| {
            entry
                .annotations
                .get(REF_NAME_ANNOTATION)
                .map(String::as_str)
        })
        .collect();
    let available = if names.is_empty() {
        "no named entries".to_owned()
    } else {
        names.iter().copied().collect::<Vec<_>>().join(", ")
    };
    match reference {
        Some(wanted) => {
            let chosen: Vec<Descriptor> = entries
                .iter()
                .filter(|entry| {
                    entry
                        .annotations
                        .get(REF_NAME_ANNOTATION)
                        .map(String::as_str)
                        == Some(wanted)
                })
                .cloned()
                .collect();
            if chosen.is_empty() {
                return Err(Error::RefNotFound {
                    image: image.to_owned(),
                    reference: wanted.to_owned(),
                    available,
                });
            }
            Ok(chosen)
        }
        None if names.len() > 1 => Err(Error::AmbiguousRef {
            image: image.to_owned(),
            available,
        }),
        None if entries.is_empty() => Err(Error::Invalid {
            image: image.to_owned(),
            problem: "index.json lists no manifests".to_owned(),
        }),
        None => Ok(entries),
    }
}

fn media_type_of(descriptor: &Descriptor) -> &str {
    descriptor.media_type.as_deref().unwrap_or_default()
}

/// Resolves index entries (an index, or a set of platform manifests) to platform images.
pub(crate) fn resolve_entries(
    store: &dyn BlobStore,
    image: &str,
    entries: Vec<Descriptor>,
    selection: &PlatformSelection,
) -> Result<Resolution, Error> {
    let mut notes = Vec::new();
    let (index_digest, candidates) = match entries.as_slice() {
        [single] if INDEX_MEDIA_TYPES.contains(&media_type_of(single)) => {
            let bytes = read_verified(store, image, "index", single, MAX_MANIFEST_BYTES)?;
            let index: Index = parse_json(image, single.digest.to_string(), "image index", &bytes)?;
            (Some(single.digest), index.manifests)
        }
        _ => (None, entries),
    };
    let chosen = choose_platforms(image, candidates, selection, &mut notes)?;
    let images = chosen
        .iter()
        .map(|entry| resolve_manifest(store, image, index_digest, entry))
        .collect::<Result<Vec<_>, _>>()?;
    if let PlatformSelection::Only(wanted) = selection {
        // A lone manifest carries no platform in the index; check the config's.
        if let Some(found) = images.iter().find(|found| !wanted.accepts(&found.platform)) {
            return Err(Error::NoMatchingPlatform {
                image: image.to_owned(),
                wanted: wanted.to_string(),
                available: found.platform.to_string(),
            });
        }
    }
    Ok(Resolution { images, notes })
}

/// Whether an index entry is a runnable platform image rather than an attestation or other
/// artifact stored alongside (buildkit marks those `unknown/unknown`).
fn is_platform_image(entry: &Descriptor) -> bool {
    let is_attestation = entry
        .annotations
        .get("vnd.docker.reference.type")
        .is_some_and(|kind| kind == "attestation-manifest");
    let unknown = entry
        .platform
        .as_ref()
        .is_some_and(|p| p.os == "unknown" || p.architecture == "unknown");
    !is_attestation && !unknown
}

fn choose_platforms(
    image: &str,
    candidates: Vec<Descriptor>,
    selection: &PlatformSelection,
    notes: &mut Vec<String>,
) -> Result<Vec<Descriptor>, Error> {
    for entry in &candidates {
        let media_type = media_type_of(entry);
        if !MANIFEST_MEDIA_TYPES.contains(&media_type) && !media_type.is_empty() {
            if INDEX_MEDIA_TYPES.contains(&media_type) {
                return Err(Error::Invalid {
                    image: image.to_owned(),
                    problem: format!(
                        "nested index {} inside an index is not supported",
                        entry.digest
                    ),
                });
            }
            return Err(Error::UnsupportedMediaType {
                image: image.to_owned(),
                what: "manifest",
                digest: entry.digest.to_string(),
                media_type: media_type.to_owned(),
            });
        }
    }
    let images: Vec<Descriptor> = candidates.into_iter().filter(is_platform_image).collect();
    if images.is_empty() {
        return Err(Error::Invalid {
            image: image.to_owned(),
            problem: "the index lists no platform images".to_owned(),
        });
    }
    let platform_of = |entry: &Descriptor| entry.platform.as_ref().map(Platform::from);
    let available = || {
        images
            .iter()
            .map(|entry| {
                platform_of(entry).map_or_else(|| "unspecified".to_owned(), |p| p.to_string())
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match selection {
        PlatformSelection::All => Ok(images),
        _ if images.len() == 1 => Ok(images),
        PlatformSelection::Only(wanted) => {
            let matching: Vec<Descriptor> = images
                .iter()
                .filter(|entry| platform_of(entry).is_some_and(|p| wanted.accepts(&p)))
                .take(1)
                .cloned()
                .collect();
            if matching.is_empty() {
                return Err(Error::NoMatchingPlatform {
                    image: image.to_owned(),
                    wanted: wanted.to_string(),
                    available: available(),
                });
            }
            Ok(matching)
        }
        PlatformSelection::Default => {
            let wanted = Platform::default_platform();
            let Some(entry) = images
                .iter()
                .find(|entry| platform_of(entry).is_some_and(|p| wanted.accepts(&p)))
            else {
                return Err(Error::NoMatchingPlatform {
                    image: image.to_owned(),
                    wanted: format!("{wanted} (the default; choose with --platform)"),
                    available: available(),
                });
            };
            notes.push(format!(
                "{image} is a multi-platform index ({}); scanned the default {wanted} (choose with --platform or --all-platforms)",
                available()
            ));
            Ok(vec![entry.clone()])
        }
    }
}

fn resolve_manifest(
    store: &dyn BlobStore,
    image: &str,
    index_digest: Option<Sha256Digest>,
    entry: &Descriptor,
) -> Result<ResolvedImage, Error> {
    let bytes = read_verified(store, image, "manifest", entry, MAX_MANIFEST_BYTES)?;
    let manifest: ImageManifest =
        parse_json(image, entry.digest.to_string(), "image manifest", &bytes)?;
    if manifest.schema_version != 2 {
        return Err(Error::Invalid {
            image: image.to_owned(),
            problem: format!(
                "manifest {} has schemaVersion {}, expected 2",
                entry.digest, manifest.schema_version
            ),
        });
    }
    let config_bytes = read_verified(store, image, "config", &manifest.config, MAX_CONFIG_BYTES)?;
    let config: ImageConfig = parse_json(
        image,
        manifest.config.digest.to_string(),
        "image config",
        &config_bytes,
    )?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(Error::Invalid {
            image: image.to_owned(),
            problem: format!(
                "manifest {} lists {} layers but its config has {} diff_ids",
                entry.digest,
                manifest.layers.len(),
                config.rootfs.diff_ids.len()
            ),
        });
    }
    let layers = manifest
        .layers
        .iter()
        .zip(&config.rootfs.diff_ids)
        .map(|(layer, diff_id)| LayerDescriptor {
            digest: Some(layer.digest),
            size: Some(layer.size),
            media_type: layer.media_type.clone(),
            diff_id: *diff_id,
            locator: None,
        })
        .collect();
    Ok(ResolvedImage {
        name: image.to_owned(),
        index_digest,
        manifest_digest: Some(entry.digest),
        config_digest: manifest.config.digest,
        platform: config.platform(),
        search_path: config.search_path(),
        layers,
        engine: None,
    })
}
