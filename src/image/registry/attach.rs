//! Storing and finding attestations next to an image in its registry.
//!
//! Three places, in the order a verifier looks (see the distribution spec,
//! <https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md#enabling-the-referrers-api>,
//! and cosign's `specs/BUNDLE_SPEC.md`):
//!
//! 1. An OCI 1.1 **referrer**: an image manifest whose `subject` is the attested manifest, with
//!    `artifactType` = the sigstore bundle media type, the bundle as its one layer and the
//!    `dev.sigstore.bundle.predicateType` annotation, found through the referrers API.
//! 2. The **fallback tag** `sha256-<hex>`: for registries without the referrers API, an image
//!    index listing the referrers, each entry carrying the referrer's `artifactType` and
//!    annotations (so consumers can filter without downloading).
//! 3. The legacy cosign **`.att` tag** `sha256-<hex>.att`: an image whose layers are DSSE
//!    envelopes, as `cosign verify-attestation` and Kyverno read them.
//!
//! Finding is forgiving and bounded: a carrier that cannot be fetched or read is reported and
//! skipped, never allowed to hide the others; at most [`MAX_ATTESTATION_CANDIDATES`] documents
//! of at most 16 MiB each are fetched per subject.
//!
//! This module moves bytes; it neither signs nor verifies (that is `attest`).

use std::collections::BTreeMap;
use std::fmt;

use oci_client::Reference;
use oci_client::manifest::{ImageIndexEntry, OciImageIndex};
use serde_json::{Value, json};

use super::RegistrySource;
use crate::digest::Sha256Digest;
use crate::image::Error;
use crate::image::oci::{INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES};

/// Media type of a sigstore bundle v0.3.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Media type of a DSSE envelope layer in cosign's `.att` images.
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// The OCI empty descriptor's media type and content (`{}`).
const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
const EMPTY_CONTENT: &[u8] = b"{}";
/// Annotation naming the in-toto predicate type of a bundle.
pub const PREDICATE_TYPE_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";

/// Where an attestation was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttestationOrigin {
    /// An OCI 1.1 referrer, listed by the referrers API or the `sha256-<hex>` fallback tag.
    Referrer,
    /// In the cosign `sha256-<hex>.att` image.
    LegacyCosign,
}

impl AttestationOrigin {
    /// How reports name it.
    #[must_use]
    pub const fn describe(self) -> &'static str {
        match self {
            Self::Referrer => "OCI referrer",
            Self::LegacyCosign => "cosign .att tag",
        }
    }
}

/// An attestation document found in the registry (not yet verified).
#[derive(Clone, Debug)]
pub struct FoundAttestation {
    /// Where it was found.
    pub origin: AttestationOrigin,
    /// The manifest that carried it.
    pub carrier: Sha256Digest,
    /// A bundle (`BUNDLE_MEDIA_TYPE`) or a DSSE envelope (`DSSE_MEDIA_TYPE`).
    pub media_type: String,
    /// The document.
    pub bytes: Vec<u8>,
}

/// The most attestation documents fetched for one subject. A subject has one or two per
/// signing run (bundle, `.att` envelope); the cap keeps a repository flooded with referrers from
/// costing unbounded requests.
pub const MAX_ATTESTATION_CANDIDATES: usize = 32;
/// The largest attestation document fetched.
const MAX_ATTESTATION_BYTES: u64 = 16 << 20;

/// What a search for a subject's attestations found: the documents to verify, and the carriers
/// that could not be read.
#[derive(Debug, Default)]
pub struct AttestationSearch {
    /// Documents fetched and digest-checked, not yet verified.
    pub found: Vec<FoundAttestation>,
    /// Carriers or layers that could not be read, and listed ones left unfetched.
    pub rejected: Vec<RejectedAttestation>,
}

/// A stored attestation that could not be read, or was not fetched.
#[derive(Debug)]
pub struct RejectedAttestation {
    /// Where it was listed.
    pub origin: AttestationOrigin,
    /// The manifest that carried it, when one was read.
    pub carrier: Option<Sha256Digest>,
    /// What went wrong.
    pub reason: RejectionReason,
}

impl fmt::Display for RejectedAttestation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.carrier {
            Some(carrier) => write!(f, "{} {carrier}: {}", self.origin.describe(), self.reason),
            None => write!(f, "{}: {}", self.origin.describe(), self.reason),
        }
    }
}

/// Why a stored attestation was not read.
#[derive(Debug)]
pub enum RejectionReason {
    /// Fetching or reading it failed: missing, over the size cap, not matching its digest or
    /// size, not JSON.
    Unreadable(Box<Error>),
    /// It is addressed by a digest that is not sha256.
    UnsupportedDigest(String),
    /// The carrier has no layer of the attestation media type.
    NoAttestationLayer {
        /// The media type looked for.
        expected: &'static str,
    },
    /// More were listed than are fetched.
    OverLimit {
        /// How many were not fetched.
        skipped: usize,
        /// How many are.
        limit: usize,
    },
}

impl From<Error> for RejectionReason {
    fn from(error: Error) -> Self {
        Self::Unreadable(Box::new(error))
    }
}

impl fmt::Display for RejectionReason {
    /// One line, with the causes of an [`Error`] appended.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreadable(error) => {
                write!(f, "{error}")?;
                let mut source = std::error::Error::source(error.as_ref());
                while let Some(cause) = source {
                    write!(f, ": {cause}")?;
                    source = cause.source();
                }
                Ok(())
            }
            Self::UnsupportedDigest(digest) => {
                write!(f, "addressed by {digest:?}, which is not a sha256 digest")
            }
            Self::NoAttestationLayer { expected } => {
                write!(f, "the manifest has no layer of media type {expected}")
            }
            Self::OverLimit { skipped, limit } => write!(
                f,
                "{skipped} more not fetched (at most {limit} attestations are fetched per digest)"
            ),
        }
    }
}

/// What a push wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedAttestation {
    /// The referrer manifest's digest.
    pub referrer: Sha256Digest,
    /// The fallback tag, when the registry has no referrers API.
    pub fallback_tag: Option<String>,
    /// The cosign `.att` tag, when asked for.
    pub legacy_tag: Option<String>,
}

fn tag_for(subject: &Sha256Digest) -> String {
    format!("sha256-{}", subject.hex())
}

fn canonical(value: &Value) -> Vec<u8> {
    // serde_json writes object keys in sorted order (no `preserve_order`): stable bytes.
    serde_json::to_vec(value).unwrap_or_default()
}

impl RegistrySource {
    fn reference_at_tag(&self, tag: &str) -> Reference {
        Reference::with_tag(
            self.reference.resolve_registry().to_owned(),
            self.reference.repository().to_owned(),
            tag.to_owned(),
        )
    }

    fn reference_at(&self, digest: &Sha256Digest) -> Reference {
        Reference::with_digest(
            self.reference.resolve_registry().to_owned(),
            self.reference.repository().to_owned(),
            digest.to_string(),
        )
    }

    fn push_blob(&self, data: &[u8]) -> Result<Sha256Digest, Error> {
        let digest = Sha256Digest::of(data);
        let target = self.reference_at(&digest);
        let data = bytes::Bytes::copy_from_slice(data);
        let digest_text = digest.to_string();
        self.with_retries(&format!("pushing blob {digest}"), || {
            self.client.push_blob(&target, data.clone(), &digest_text)
        })?;
        Ok(digest)
    }

    fn push_manifest(
        &self,
        target: &Reference,
        body: &[u8],
        media_type: &str,
    ) -> Result<Sha256Digest, Error> {
        let content_type = header_value(media_type);
        let body = bytes::Bytes::copy_from_slice(body);
        self.with_retries(&format!("pushing manifest {}", target.whole()), || {
            self.client
                .push_manifest_raw(target, body.clone(), content_type.clone())
        })?;
        Ok(Sha256Digest::of(&body))
    }

    fn authenticate_for_push(&self) -> Result<(), Error> {
        self.with_retries("authenticating for push", || {
            self.client.auth(
                &self.reference,
                &self.auth,
                oci_client::RegistryOperation::Push,
            )
        })?;
        Ok(())
    }

    /// Fetches a manifest by tag; `None` when the tag does not exist.
    fn fetch_tag(&self, tag: &str) -> Result<Option<(Vec<u8>, Sha256Digest)>, Error> {
        match self.fetch_manifest(&self.reference_at_tag(tag)) {
            Ok(found) => Ok(Some(found)),
            Err(Error::Registry {
                status: Some(404), ..
            }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Lists the bundle referrers of `subject`, through the referrers API or, where the
    /// registry answers 404 there, the `sha256-<hex>` fallback tag.
    fn list_bundle_referrers(&self, subject: &Sha256Digest) -> Result<Vec<ImageIndexEntry>, Error> {
        let target = self.reference_at(subject);
        let index: OciImageIndex = self.with_retries("listing referrers", || {
            self.client.pull_referrers(&target, Some(BUNDLE_MEDIA_TYPE))
        })?;
        Ok(index.manifests)
    }

    /// Stores an attestation for `subject` (a manifest or index of this repository): a referrer
    /// manifest, the fallback tag index when the registry lacks the referrers API, and with
    /// `legacy_envelope` the cosign `.att` image too.
    ///
    /// # Errors
    /// A missing subject, a refused push, an unreadable existing fallback index.
    pub fn push_attestation(
        &self,
        subject: &Sha256Digest,
        bundle_json: &[u8],
        predicate_type: &str,
        legacy_envelope: Option<&[u8]>,
    ) -> Result<PushedAttestation, Error> {
        let (subject_bytes, _) = self.fetch_manifest(&self.reference_at(subject))?;
        let subject_media_type = serde_json::from_slice::<Value>(&subject_bytes)
            .ok()
            .and_then(|value| value["mediaType"].as_str().map(str::to_owned))
            .unwrap_or_else(|| MANIFEST_MEDIA_TYPES[0].to_owned());
        self.authenticate_for_push()?;
        let empty = self.push_blob(EMPTY_CONTENT)?;
        let bundle = self.push_blob(bundle_json)?;
        let annotations = json!({
            "dev.sigstore.bundle.content": "dsse-envelope",
            PREDICATE_TYPE_ANNOTATION: predicate_type,
        });
        let referrer = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPES[0],
            "artifactType": BUNDLE_MEDIA_TYPE,
            "config": {"mediaType": EMPTY_MEDIA_TYPE, "digest": empty.to_string(), "size": EMPTY_CONTENT.len()},
            "layers": [{"mediaType": BUNDLE_MEDIA_TYPE, "digest": bundle.to_string(), "size": bundle_json.len()}],
            "subject": {"mediaType": subject_media_type, "digest": subject.to_string(), "size": subject_bytes.len()},
            "annotations": annotations,
        });
        let referrer_bytes = canonical(&referrer);
        let referrer_digest = Sha256Digest::of(&referrer_bytes);
        self.push_manifest(
            &self.reference_at(&referrer_digest),
            &referrer_bytes,
            MANIFEST_MEDIA_TYPES[0],
        )?;

        // A registry with the referrers API lists the new referrer at once; otherwise the
        // listing came from the fallback tag, which we must maintain ourselves.
        let listed = self.list_bundle_referrers(subject)?;
        let fallback_tag = if listed
            .iter()
            .any(|entry| entry.digest == referrer_digest.to_string())
        {
            None
        } else {
            let tag = tag_for(subject);
            let mut entries: Vec<Value> = match self.fetch_tag(&tag)? {
                Some((bytes, digest)) => {
                    let index: Value =
                        serde_json::from_slice(&bytes).map_err(|source| Error::Json {
                            image: self.name.clone(),
                            document: format!("fallback tag {tag} ({digest})"),
                            what: "image index",
                            source,
                        })?;
                    index["manifests"].as_array().cloned().unwrap_or_default()
                }
                None => Vec::new(),
            };
            let entry = json!({
                "mediaType": MANIFEST_MEDIA_TYPES[0],
                "digest": referrer_digest.to_string(),
                "size": referrer_bytes.len(),
                "artifactType": BUNDLE_MEDIA_TYPE,
                "annotations": annotations,
            });
            if !entries
                .iter()
                .any(|existing| existing["digest"] == entry["digest"])
            {
                entries.push(entry);
            }
            let index = json!({
                "schemaVersion": 2,
                "mediaType": INDEX_MEDIA_TYPES[0],
                "manifests": entries,
            });
            self.push_manifest(
                &self.reference_at_tag(&tag),
                &canonical(&index),
                INDEX_MEDIA_TYPES[0],
            )?;
            Some(tag)
        };

        let legacy_tag = match legacy_envelope {
            Some(envelope) => Some(self.push_legacy(subject, envelope, predicate_type)?),
            None => None,
        };
        Ok(PushedAttestation {
            referrer: referrer_digest,
            fallback_tag,
            legacy_tag,
        })
    }

    /// Appends a DSSE envelope layer to the cosign `sha256-<hex>.att` image.
    fn push_legacy(
        &self,
        subject: &Sha256Digest,
        envelope: &[u8],
        predicate_type: &str,
    ) -> Result<String, Error> {
        let tag = format!("{}.att", tag_for(subject));
        let mut layers: Vec<Value> = match self.fetch_tag(&tag)? {
            Some((bytes, _)) => serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|manifest| manifest["layers"].as_array().cloned())
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let layer_digest = self.push_blob(envelope)?;
        let layer = json!({
            "mediaType": DSSE_MEDIA_TYPE,
            "digest": layer_digest.to_string(),
            "size": envelope.len(),
            "annotations": {"dev.cosignproject.cosign/signature": "", "predicateType": predicate_type},
        });
        if !layers
            .iter()
            .any(|existing| existing["digest"] == layer["digest"])
        {
            layers.push(layer);
        }
        // cosign writes a config whose diff_ids name its layers.
        let diff_ids: Vec<Value> = layers.iter().map(|layer| layer["digest"].clone()).collect();
        let config = canonical(&json!({
            "architecture": "", "os": "", "config": {},
            "created": "0001-01-01T00:00:00Z",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }));
        let config_digest = self.push_blob(&config)?;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPES[0],
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": config.len()},
            "layers": layers,
        });
        self.push_manifest(
            &self.reference_at_tag(&tag),
            &canonical(&manifest),
            MANIFEST_MEDIA_TYPES[0],
        )?;
        Ok(tag)
    }

    /// Finds every attestation stored for `subject`: referrers (API or fallback tag) whose
    /// artifact type is a sigstore bundle, then DSSE layers of the cosign `.att` image.
    ///
    /// One bad carrier does not spoil the search: a referrer or layer that cannot be fetched or
    /// read (missing, over the size cap, of another media type, not matching its digest) is
    /// recorded in [`AttestationSearch::rejected`] and the search goes on. At most
    /// [`MAX_ATTESTATION_CANDIDATES`] documents are fetched; the rest are reported as skipped.
    ///
    /// # Errors
    /// Only when the referrers cannot be listed at all (the registry cannot be reached, or
    /// refuses the request).
    pub fn find_attestations(&self, subject: &Sha256Digest) -> Result<AttestationSearch, Error> {
        let mut search = AttestationSearch::default();
        let mut budget = MAX_ATTESTATION_CANDIDATES;
        self.find_referrers(subject, &mut search, &mut budget)?;
        self.find_legacy(subject, &mut search, &mut budget);
        Ok(search)
    }

    /// The bundle referrers of `subject`, one document each, while `budget` lasts.
    fn find_referrers(
        &self,
        subject: &Sha256Digest,
        search: &mut AttestationSearch,
        budget: &mut usize,
    ) -> Result<(), Error> {
        const ORIGIN: AttestationOrigin = AttestationOrigin::Referrer;
        let referrers: Vec<ImageIndexEntry> = self
            .list_bundle_referrers(subject)?
            .into_iter()
            // A registry may ignore the artifact-type filter; others' referrers (SBOMs,
            // signatures) are not candidates and must not use up the budget.
            .filter(|entry| {
                entry
                    .artifact_type
                    .as_deref()
                    .is_none_or(|artifact_type| artifact_type == BUNDLE_MEDIA_TYPE)
            })
            .collect();
        for (position, entry) in referrers.iter().enumerate() {
            if *budget == 0 {
                search.rejected.push(RejectedAttestation {
                    origin: ORIGIN,
                    carrier: None,
                    reason: RejectionReason::OverLimit {
                        skipped: referrers.len() - position,
                        limit: MAX_ATTESTATION_CANDIDATES,
                    },
                });
                break;
            }
            *budget -= 1;
            let Ok(carrier) = entry.digest.parse::<Sha256Digest>() else {
                search.rejected.push(RejectedAttestation {
                    origin: ORIGIN,
                    carrier: None,
                    reason: RejectionReason::UnsupportedDigest(entry.digest.clone()),
                });
                continue;
            };
            let layers = self
                .fetch_manifest(&self.reference_at(&carrier))
                .map_err(RejectionReason::from)
                .and_then(|(bytes, _)| self.attestation_layers(&bytes, carrier, BUNDLE_MEDIA_TYPE));
            // A bundle referrer carries its bundle as its one layer; a second one is not read.
            let fetched = match layers {
                Ok(layers) => match layers.first() {
                    Some(layer) => {
                        self.fetch_attestation_layer(layer, ORIGIN, carrier, BUNDLE_MEDIA_TYPE)
                    }
                    None => Err(RejectionReason::NoAttestationLayer {
                        expected: BUNDLE_MEDIA_TYPE,
                    }),
                },
                Err(reason) => Err(reason),
            };
            search.record(fetched, ORIGIN, carrier);
        }
        Ok(())
    }

    /// The DSSE layers of the cosign `.att` image of `subject`, while `budget` lasts.
    fn find_legacy(
        &self,
        subject: &Sha256Digest,
        search: &mut AttestationSearch,
        budget: &mut usize,
    ) {
        const ORIGIN: AttestationOrigin = AttestationOrigin::LegacyCosign;
        let (bytes, carrier) = match self.fetch_tag(&format!("{}.att", tag_for(subject))) {
            Ok(Some(found)) => found,
            Ok(None) => return,
            Err(error) => {
                search.rejected.push(RejectedAttestation {
                    origin: ORIGIN,
                    carrier: None,
                    reason: error.into(),
                });
                return;
            }
        };
        let layers = match self.attestation_layers(&bytes, carrier, DSSE_MEDIA_TYPE) {
            Ok(layers) => layers,
            Err(reason) => {
                search.record(Err(reason), ORIGIN, carrier);
                return;
            }
        };
        for (position, layer) in layers.iter().enumerate() {
            if *budget == 0 {
                search.rejected.push(RejectedAttestation {
                    origin: ORIGIN,
                    carrier: Some(carrier),
                    reason: RejectionReason::OverLimit {
                        skipped: layers.len() - position,
                        limit: MAX_ATTESTATION_CANDIDATES,
                    },
                });
                break;
            }
            *budget -= 1;
            let fetched = self.fetch_attestation_layer(layer, ORIGIN, carrier, DSSE_MEDIA_TYPE);
            search.record(fetched, ORIGIN, carrier);
        }
    }

    /// The descriptors of the `media_type` layers of a carrier manifest (not fetched yet: the
    /// caller's budget decides how many are).
    fn attestation_layers(
        &self,
        manifest: &[u8],
        carrier: Sha256Digest,
        media_type: &'static str,
    ) -> Result<Vec<Value>, RejectionReason> {
        let manifest: Value = serde_json::from_slice(manifest).map_err(|source| Error::Json {
            image: self.name.clone(),
            document: carrier.to_string(),
            what: "attestation manifest",
            source,
        })?;
        Ok(manifest["layers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|layer| layer["mediaType"] == media_type)
            .cloned()
            .collect())
    }

    /// One attestation layer, fetched with its size capped and its digest checked.
    fn fetch_attestation_layer(
        &self,
        layer: &Value,
        origin: AttestationOrigin,
        carrier: Sha256Digest,
        media_type: &'static str,
    ) -> Result<FoundAttestation, RejectionReason> {
        let digest_text = layer["digest"].as_str().unwrap_or_default();
        let digest = digest_text
            .parse::<Sha256Digest>()
            .map_err(|_| RejectionReason::UnsupportedDigest(digest_text.to_owned()))?;
        let descriptor = crate::image::oci::Descriptor {
            media_type: Some(media_type.to_owned()),
            digest,
            size: layer["size"].as_u64().unwrap_or(0),
            platform: None,
            annotations: BTreeMap::new(),
        };
        let store = super::RepositoryStore { source: self };
        let bytes = crate::image::oci::read_verified(
            &store,
            &self.name,
            "attestation",
            &descriptor,
            MAX_ATTESTATION_BYTES,
        )
        .map_err(RejectionReason::from)?;
        Ok(FoundAttestation {
            origin,
            carrier,
            media_type: media_type.to_owned(),
            bytes,
        })
    }
}

impl AttestationSearch {
    /// Files one document of `carrier` as found or rejected.
    fn record(
        &mut self,
        fetched: Result<FoundAttestation, RejectionReason>,
        origin: AttestationOrigin,
        carrier: Sha256Digest,
    ) {
        match fetched {
            Ok(found) => self.found.push(found),
            Err(reason) => self.rejected.push(RejectedAttestation {
                origin,
                carrier: Some(carrier),
                reason,
            }),
        }
    }
}

fn header_value(media_type: &str) -> http::HeaderValue {
    http::HeaderValue::from_str(media_type)
        .unwrap_or_else(|_| http::HeaderValue::from_static("application/octet-stream"))
}
