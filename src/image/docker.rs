//! `docker save` archives, both layouts: Docker ≥ 25 writes an OCI layout inside the tar (read
//! through [`super::oci`]); older versions write `manifest.json` with `<id>/layer.tar` members,
//! which carry no media types and no manifest digest.
//!
//! Layer blobs are read by seeking into the archive, never extracted.

use std::io::Read;
use std::path::Path;

use serde::Deserialize;

use super::archive::{TarBlobs, TarIndex};
use super::oci::{ImageConfig, OciSource, parse_json};
use super::{Error, ImageSource, LayerDescriptor, PlatformSelection, Resolution, ResolvedImage};
use crate::digest::Sha256Digest;

/// One entry of a legacy `manifest.json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LegacyEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// Opens `docker-archive:PATH[:repo:tag]`.
///
/// # Errors
/// An unreadable or malformed archive.
pub fn open(reference: &str, rest: &Path) -> Result<Box<dyn ImageSource>, Error> {
    let (path, tag) = split_archive_tag(rest);
    let index = TarIndex::open(reference, &path)?;
    open_index(reference, index, tag)
}

/// Reads an indexed `docker save` archive; `tag` (`repo:tag`) picks an image of a multi-image
/// legacy archive.
///
/// # Errors
/// A malformed archive.
pub fn open_index(
    reference: &str,
    index: TarIndex,
    tag: Option<String>,
) -> Result<Box<dyn ImageSource>, Error> {
    if index.contains("index.json") && index.contains("oci-layout") && tag.is_none() {
        return Ok(Box::new(OciSource::new(
            reference.to_owned(),
            TarBlobs::from_index(index),
            None,
        )));
    }
    if !index.contains("manifest.json") {
        return Err(Error::Invalid {
            image: reference.to_owned(),
            problem: format!(
                "{} has neither manifest.json nor an OCI layout: not a docker save archive",
                index.describe()
            ),
        });
    }
    Ok(Box::new(LegacyArchive {
        name: reference.to_owned(),
        index,
        tag,
    }))
}

/// `FILE:repo:tag` → (`FILE`, `repo:tag`) when `FILE` exists and the whole does not.
fn split_archive_tag(rest: &Path) -> (std::path::PathBuf, Option<String>) {
    let text = rest.to_string_lossy();
    if rest.exists() {
        return (rest.to_owned(), None);
    }
    for (at, _) in text.match_indices(':') {
        let candidate = Path::new(&text[..at]);
        if candidate.is_file() {
            return (candidate.to_owned(), Some(text[at + 1..].to_owned()));
        }
    }
    (rest.to_owned(), None)
}

/// A pre-25 `docker save` archive.
struct LegacyArchive {
    name: String,
    index: TarIndex,
    tag: Option<String>,
}

impl LegacyArchive {
    fn invalid(&self, problem: String) -> Error {
        Error::Invalid {
            image: self.name.clone(),
            problem,
        }
    }
}

impl ImageSource for LegacyArchive {
    fn name(&self) -> &str {
        &self.name
    }

    fn resolve(&self, selection: &PlatformSelection) -> Result<Resolution, Error> {
        let bytes = self.index.read_member("manifest.json", 4 << 20)?;
        let entries: Vec<LegacyEntry> =
            parse_json(&self.name, "manifest.json", "docker save manifest", &bytes)?;
        let tags = || {
            entries
                .iter()
                .flat_map(|entry| entry.repo_tags.iter().flatten().cloned())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let entry = match (&self.tag, entries.as_slice()) {
            (_, []) => return Err(self.invalid("manifest.json lists no images".into())),
            (None, [only]) => only,
            (None, _) => {
                return Err(Error::AmbiguousRef {
                    image: self.name.clone(),
                    available: tags(),
                });
            }
            (Some(tag), _) => entries
                .iter()
                .find(|entry| entry.repo_tags.iter().flatten().any(|t| t == tag))
                .ok_or_else(|| Error::RefNotFound {
                    image: self.name.clone(),
                    reference: tag.clone(),
                    available: tags(),
                })?,
        };
        let config_bytes = self.index.read_member(&entry.config, 32 << 20)?;
        let config_digest = Sha256Digest::of(&config_bytes);
        // The config's member name is its digest (`<hex>.json` or `blobs/sha256/<hex>`).
        let named = entry
            .config
            .trim_end_matches(".json")
            .rsplit('/')
            .next()
            .and_then(|hex_digits| Sha256Digest::from_hex(hex_digits).ok());
        if let Some(expected) = named.filter(|named| *named != config_digest) {
            return Err(Error::DigestMismatch {
                image: self.name.clone(),
                what: "config",
                got: config_digest,
                expected,
            });
        }
        let config: ImageConfig = parse_json(
            &self.name,
            entry.config.clone(),
            "image config",
            &config_bytes,
        )?;
        if config.rootfs.diff_ids.len() != entry.layers.len() {
            return Err(self.invalid(format!(
                "manifest.json lists {} layers but config {} has {} diff_ids",
                entry.layers.len(),
                entry.config,
                config.rootfs.diff_ids.len()
            )));
        }
        let platform = config.platform();
        if let PlatformSelection::Only(wanted) = selection
            && !wanted.accepts(&platform)
        {
            return Err(Error::NoMatchingPlatform {
                image: self.name.clone(),
                wanted: wanted.to_string(),
                available: platform.to_string(),
            });
        }
        let layers = entry
            .layers
            .iter()
            .zip(&config.rootfs.diff_ids)
            .map(|(member, diff_id)| LayerDescriptor {
                digest: None,
                size: self.index.size_of(member),
                media_type: None,
                diff_id: *diff_id,
                locator: Some(member.clone()),
            })
            .collect();
        Ok(Resolution {
            images: vec![ResolvedImage {
                name: self.name.clone(),
                index_digest: None,
                manifest_digest: None,
                config_digest,
                platform,
                search_path: config.search_path(),
                layers,
                engine: None,
            }],
            notes: Vec::new(),
        })
    }

    fn open_layer(&self, layer: &LayerDescriptor) -> Result<Box<dyn Read + Send + '_>, Error> {
        let member = layer.locator.as_deref().unwrap_or_default();
        self.index
            .open_member(member)?
            .ok_or_else(|| self.invalid(format!("archive has no layer member {member}")))
    }
}
