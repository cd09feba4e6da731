//! From an [`ImageQuery`] to the image's verified manifests ([`ImageState`]), and the prefix
//! digests partially hashed findings need from its digest-verified layers.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::attestation::{RegistryCheck, bundle_file_lookup, check_registry_candidates};
use super::report::FindingReport;
use super::{Checked, Error, ImageQuery, join_digests};
use crate::attest::Trust;
use crate::digest::Sha256Digest;
use crate::finding::Finding;
use crate::image::registry::{RegistryAllowList, RegistrySource, SourceSettings};
use crate::image::{self, ImageSource, PlatformSelection, ResolvedImage};
use crate::manifest::Manifest;
use crate::triage::{
    self, Allowlist, Candidate, ImageEvidence, ManifestFor, ManifestIndex, PrefixDigests,
    PrefixFact, PrefixRequest,
};

/// Offline evidence that stands in for the registry.
#[derive(Clone, Debug)]
pub enum Offline {
    /// An attestation bundle file, verified with the resolver's trust.
    Bundle(PathBuf),
    /// An unsigned manifest file: it can show a binary is not the image's, never that it is.
    ManifestFile(PathBuf),
}

/// A local copy of an image (`oci:DIR`, `oci-archive:FILE`, `docker-archive:FILE`, an image
/// of a local engine) whose layers stand in for a signed manifest's when their content
/// digests are its diff_ids.
#[derive(Clone)]
pub struct LocalLayers {
    source: Arc<dyn ImageSource>,
    images: Vec<ResolvedImage>,
}

impl LocalLayers {
    /// Opens and resolves the local image `reference` (every platform).
    ///
    /// # Errors
    /// A registry reference, or a local image that cannot be read.
    pub fn open(reference: &str, registry: &SourceSettings) -> Result<Self, Error> {
        if !image::is_local_reference(reference) {
            return Err(Error::LayersNotLocal {
                reference: reference.to_owned(),
            });
        }
        let source: Arc<dyn ImageSource> = Arc::from(image::open(reference, registry)?);
        let images = source.resolve(&PlatformSelection::All)?.images;
        Ok(Self { source, images })
    }
}

/// Resolves finding images to their verified manifests: trust, registry settings, an optional
/// registry allow-list (checked before any request), offline evidence, local layers.
#[derive(Clone)]
pub struct Resolver {
    trust: Option<Trust>,
    registry: SourceSettings,
    allow_list: Option<RegistryAllowList>,
    offline: Option<Offline>,
    local_layers: Option<LocalLayers>,
}

/// Where a verified manifest's layers can be read for prefix digests: reopened from the
/// registry when needed (an [`ImageState`] holds no connection), or a local copy.
#[derive(Clone)]
enum LayerAccess {
    Registry {
        reference: String,
        image: ResolvedImage,
    },
    Local {
        source: Arc<dyn ImageSource>,
        image: ResolvedImage,
    },
}

/// One platform image's manifest and how to read its layers.
#[derive(Clone)]
struct ResolvedManifest {
    evidence: ImageEvidence,
    layers: Result<LayerAccess, String>,
}

/// An image's verified manifests: one, or one per platform when the finding named an index
/// without saying which platform ran. Plain data (no connection, no runtime): share it in an
/// `Arc`, drop it anywhere.
#[derive(Clone)]
pub struct ImageState {
    label: String,
    manifests: Vec<ResolvedManifest>,
}

/// Prefix digests still needed for one image: a set per manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrefixRequests(Vec<BTreeSet<PrefixRequest>>);

impl PrefixRequests {
    /// Whether nothing is needed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(BTreeSet::is_empty)
    }

    /// How many prefix digests are needed.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.iter().map(BTreeSet::len).sum()
    }
}

/// Prefix digests known for one image (computed, or why not): a map per manifest.
#[derive(Clone, Debug, Default)]
pub struct ImagePrefixes(Vec<PrefixDigests>);

impl ImagePrefixes {
    /// Adds what another computation found.
    pub fn extend(&mut self, computed: Self) {
        if self.0.len() < computed.0.len() {
            self.0.resize_with(computed.0.len(), PrefixDigests::new);
        }
        for (known, more) in self.0.iter_mut().zip(computed.0) {
            known.extend(more);
        }
    }

    /// How many prefix digests (or reasons there are none) are known.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.iter().map(PrefixDigests::len).sum()
    }

    /// Whether none is known.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn for_manifest(&self, at: usize) -> Option<&PrefixDigests> {
        self.0.get(at)
    }
}

/// A reference the finding's image may be found under in its registry.
struct CandidateReference {
    /// `repository@digest`, or `repository:tag`.
    reference: String,
    /// The tag it was resolved through, where it is one: reports say so.
    via_tag: Option<String>,
}

impl Resolver {
    /// Resolves through registries, verifying attestations with `trust` (none: every image is
    /// unresolvable, saying how to give one).
    #[must_use]
    pub const fn new(trust: Option<Trust>, registry: SourceSettings) -> Self {
        Self {
            trust,
            registry,
            allow_list: None,
            offline: None,
            local_layers: None,
        }
    }

    /// Only registries `allow_list` admits are asked, for resolving and for layers.
    #[must_use]
    pub fn with_allow_list(mut self, allow_list: RegistryAllowList) -> Self {
        self.allow_list = Some(allow_list);
        self
    }

    /// Judge against offline evidence instead of asking registries.
    #[must_use]
    pub fn with_offline(mut self, offline: Offline) -> Self {
        self.offline = Some(offline);
        self
    }

    /// Read layers for prefix digests from this local copy (offline evidence has no other).
    #[must_use]
    pub fn with_local_layers(mut self, local_layers: LocalLayers) -> Self {
        self.local_layers = Some(local_layers);
        self
    }

    /// The image `query` names, with its verified manifests. Blocking (network, files).
    ///
    /// # Errors
    /// Why the image cannot be judged; [`Error::is_transient`] says whether asking again may
    /// help.
    pub fn resolve(&self, query: &ImageQuery) -> Result<ImageState, Error> {
        Ok(ImageState {
            label: query.label(),
            manifests: self.resolve_manifests(query)?,
        })
    }

    fn resolve_manifests(&self, query: &ImageQuery) -> Result<Vec<ResolvedManifest>, Error> {
        let digests = &query.digests;
        let bundle = match &self.offline {
            Some(Offline::ManifestFile(path)) => {
                let manifest = read_manifest_file(path)?;
                check_image_matches(&manifest, query)?;
                let layers = self.local_layers_for(&manifest);
                return Ok(vec![ResolvedManifest {
                    evidence: ImageEvidence::unsigned(manifest, path.display().to_string()),
                    layers,
                }]);
            }
            Some(Offline::Bundle(bundle)) => Some(bundle),
            None => None,
        };
        let Some(trust) = &self.trust else {
            return Err(Error::NoTrust);
        };
        let Some(bundle) = bundle else {
            return self.resolve_in_registry(query, trust);
        };
        if digests.is_empty() {
            return Err(Error::BundleNeedsDigest {
                reference: query
                    .reference
                    .clone()
                    .unwrap_or_else(|| "no image at all".to_owned()),
            });
        }
        let mut reasons = Vec::new();
        for digest in digests {
            let lookup = bundle_file_lookup(bundle, digest, trust)?;
            reasons.extend(lookup.rejected.iter().map(ToString::to_string));
            if lookup.valid.is_empty() {
                continue;
            }
            let via_tag = query
                .pinned_by_flag
                .then(|| format!("{} (pinned by --image)", query.label()));
            return Ok(lookup
                .valid
                .into_iter()
                .map(|found| {
                    let evidence =
                        ImageEvidence::signed(found.attestation, found.origin, via_tag.clone());
                    let layers = self.local_layers_for(evidence.manifest());
                    ResolvedManifest { evidence, layers }
                })
                .collect());
        }
        Err(Error::NoValidBundleAttestation {
            bundle: bundle.clone(),
            reasons: reasons.join("; "),
        })
    }

    fn resolve_in_registry(
        &self,
        query: &ImageQuery,
        trust: &Trust,
    ) -> Result<Vec<ResolvedManifest>, Error> {
        let digests = &query.digests;
        let Some(reference) = &query.reference else {
            return Err(Error::DigestOnly {
                digests: join_digests(digests),
            });
        };
        if image::is_local_reference(reference) {
            return Err(Error::LocalImage {
                reference: reference.clone(),
            });
        }
        let parsed = image::registry::parse_reference(reference)?;
        if let Some(allow_list) = &self.allow_list {
            allow_list.check(parsed.resolve_registry())?;
        }
        let repository = format!("{}/{}", parsed.registry(), parsed.repository());
        // The finding's digests as index or manifest digests (a config digest will not
        // resolve), then the one in the reference, then the tag.
        let named = parsed
            .digest()
            .and_then(|digest| digest.parse::<Sha256Digest>().ok());
        let mut candidates: Vec<CandidateReference> = digests
            .iter()
            .chain(named.iter().filter(|digest| !digests.contains(digest)))
            .map(|digest| CandidateReference {
                reference: format!("{repository}@{digest}"),
                via_tag: None,
            })
            .collect();
        if let Some(tag) = parsed.tag().filter(|_| parsed.digest().is_none()) {
            candidates.push(CandidateReference {
                reference: format!("{repository}:{tag}"),
                via_tag: Some(format!("{repository}:{tag}")),
            });
        }
        let mut failures = Vec::new();
        let mut transient = false;
        for CandidateReference {
            reference: candidate,
            via_tag,
        } in candidates
        {
            let store = RegistrySource::open(&candidate, &self.registry)?;
            let resolution = match store.resolve(&PlatformSelection::All) {
                Ok(resolution) => resolution,
                Err(error) => {
                    transient |= error.is_transient();
                    failures.push(format!("{candidate}: {error}"));
                    continue;
                }
            };
            let selected = select_platforms(resolution.images, digests);
            if selected.is_empty() {
                failures.push(format!(
                    "{candidate} is not the image the finding names ({})",
                    join_digests(digests)
                ));
                continue;
            }
            let mut manifests = Vec::new();
            for resolved in selected {
                let Some(subject) = resolved.manifest_digest else {
                    continue;
                };
                let platform = resolved.platform.to_string();
                match check_registry_candidates(&store, &subject, trust, Some(&platform))? {
                    RegistryCheck {
                        checked:
                            Checked::Valid {
                                attestation,
                                origin,
                            },
                        ..
                    } => {
                        let evidence = ImageEvidence::signed(*attestation, origin, via_tag.clone());
                        let layers = layers_match(evidence.manifest(), &resolved).map(|()| {
                            LayerAccess::Registry {
                                reference: candidate.clone(),
                                image: resolved,
                            }
                        });
                        manifests.push(ResolvedManifest { evidence, layers });
                    }
                    RegistryCheck {
                        checked: Checked::Invalid { reasons },
                        transient,
                    } => {
                        return Err(Error::NoValidAttestation {
                            candidate,
                            platform,
                            subject,
                            reasons: reasons.join("; "),
                            transient,
                        });
                    }
                }
            }
            if !manifests.is_empty() {
                return Ok(manifests);
            }
        }
        Err(Error::Unresolvable {
            failures: if failures.is_empty() {
                "nothing to resolve".to_owned()
            } else {
                failures.join("; ")
            },
            transient,
        })
    }

    /// The local image whose layers are this manifest's, where there is one.
    fn local_layers_for(&self, manifest: &Manifest) -> Result<LayerAccess, String> {
        let Some(local) = &self.local_layers else {
            return Err(
                "the layers are not at hand offline: pass --layers-from oci:DIR (or oci-archive:/docker-archive:) with a local copy of the image"
                    .to_owned(),
            );
        };
        let mut reasons = Vec::new();
        for image in &local.images {
            match layers_match(manifest, image) {
                Ok(()) => {
                    return Ok(LayerAccess::Local {
                        source: Arc::clone(&local.source),
                        image: image.clone(),
                    });
                }
                Err(reason) => reasons.push(reason),
            }
        }
        Err(format!("--layers-from: {}", reasons.join("; ")))
    }

    /// Computes the prefix digests `requests` asks for from the image's digest-verified layers:
    /// one pass over each layer that holds a candidate. Blocking (reads layers, from the
    /// registry or the local copy). A layer that cannot be read or verified is the reason for
    /// every request that needed it, never an error.
    #[must_use]
    pub fn compute_prefixes(&self, state: &ImageState, requests: &PrefixRequests) -> ImagePrefixes {
        let mut computed = ImagePrefixes(vec![PrefixDigests::new(); state.manifests.len()]);
        for (at, requests) in requests.0.iter().enumerate() {
            let Some(resolved) = state.manifests.get(at) else {
                continue;
            };
            if requests.is_empty() {
                continue;
            }
            let requests: Vec<PrefixRequest> = requests.iter().cloned().collect();
            computed.0[at] = match &resolved.layers {
                Ok(LayerAccess::Local { source, image }) => {
                    prefix_facts(source.as_ref(), image, &requests)
                }
                Ok(LayerAccess::Registry { reference, image }) => {
                    match self.open_registry(reference) {
                        Ok(store) => prefix_facts(&store, image, &requests),
                        Err(error) => failed(&requests, &error.reason()),
                    }
                }
                Err(reason) => failed(&requests, reason),
            };
        }
        computed
    }

    /// Opens a registry image after the allow-list admits its registry (again: its name may
    /// resolve elsewhere now).
    fn open_registry(&self, reference: &str) -> Result<RegistrySource, Error> {
        if let Some(allow_list) = &self.allow_list {
            let parsed = image::registry::parse_reference(reference)?;
            allow_list.check(parsed.resolve_registry())?;
        }
        Ok(RegistrySource::open(reference, &self.registry)?)
    }
}

impl ImageState {
    /// How reports name the image (the query's label).
    #[must_use]
    pub fn label(&self) -> &str {
        &self.label
    }

    /// How many manifests the image has (one per platform of an index, or one).
    #[must_use]
    pub fn manifest_count(&self) -> usize {
        self.manifests.len()
    }

    /// The manifests, as evidence.
    pub fn evidence(&self) -> impl Iterator<Item = &ImageEvidence> {
        self.manifests.iter().map(|resolved| &resolved.evidence)
    }

    /// The prefix digests `findings` need that `known` does not hold yet.
    #[must_use]
    pub fn missing_prefixes<'f>(
        &self,
        findings: impl IntoIterator<Item = &'f Finding>,
        known: &ImagePrefixes,
    ) -> PrefixRequests {
        let mut sets = vec![BTreeSet::new(); self.manifests.len()];
        for finding in findings {
            for (at, resolved) in self.manifests.iter().enumerate() {
                let known = known.for_manifest(at);
                for binary in &finding.binaries {
                    for request in triage::prefix_requests(binary, resolved.evidence.manifest()) {
                        if !known.is_some_and(|known| known.contains_key(&request)) {
                            sets[at].insert(request);
                        }
                    }
                }
            }
        }
        PrefixRequests(sets)
    }

    /// The image's manifests indexed for judging; index once, judge many findings.
    #[must_use]
    pub fn index(&self) -> IndexedImage<'_> {
        IndexedImage {
            state: self,
            indexes: self
                .manifests
                .iter()
                .map(|resolved| ManifestIndex::new(&resolved.evidence))
                .collect(),
        }
    }
}

/// An [`ImageState`]'s manifests with their lookup tables.
pub struct IndexedImage<'a> {
    state: &'a ImageState,
    indexes: Vec<ManifestIndex<'a>>,
}

impl IndexedImage<'_> {
    /// Judges every binary of `finding` against the image, with the prefix digests known.
    #[must_use]
    pub fn judge(
        &self,
        finding: &Finding,
        prefixes: &ImagePrefixes,
        allowlist: &Allowlist,
    ) -> FindingReport {
        let empty = PrefixDigests::new();
        let candidates: Vec<Candidate<'_, '_>> = self
            .indexes
            .iter()
            .enumerate()
            .map(|(at, index)| Candidate {
                index,
                prefixes: prefixes.for_manifest(at).unwrap_or(&empty),
            })
            .collect();
        FindingReport::judged(
            finding,
            Some(self.state.label.clone()),
            ManifestFor::Found(&candidates),
            allowlist,
        )
    }
}

/// Every request failed for one reason.
fn failed(requests: &[PrefixRequest], reason: &str) -> PrefixDigests {
    requests
        .iter()
        .map(|request| (request.clone(), Err(reason.to_owned())))
        .collect()
}

/// Prefix digests for one image from its layers; a layer that fails verification fails every
/// request that needed it, with the reason.
fn prefix_facts(
    source: &dyn ImageSource,
    image: &ResolvedImage,
    requests: &[PrefixRequest],
) -> PrefixDigests {
    let catalog_requests: Vec<crate::catalog::PrefixRequest> = requests
        .iter()
        .map(|request| crate::catalog::PrefixRequest {
            path: request.path.clone(),
            layer: request.layer,
            length: request.length,
        })
        .collect();
    match crate::catalog::prefix_digests(source, image, &catalog_requests) {
        Ok(results) => requests
            .iter()
            .zip(&catalog_requests)
            .map(|(request, key)| {
                let fact = match results.get(key) {
                    Some(Ok(digest)) => Ok(PrefixFact {
                        prefix: digest.prefix,
                        sha256: digest.sha256,
                        size: digest.size,
                    }),
                    Some(Err(missing)) => Err(missing.to_string()),
                    None => Err("not computed".to_owned()),
                };
                (request.clone(), fact)
            })
            .collect(),
        Err(error) => failed(requests, &crate::error_chain(&error)),
    }
}

/// The resolved platform images a finding's digests name: the one whose manifest or config
/// digest it is, every platform of the index it is, or every platform when it names none.
fn select_platforms(images: Vec<ResolvedImage>, digests: &[Sha256Digest]) -> Vec<ResolvedImage> {
    if digests.is_empty() {
        return images;
    }
    let exact: Vec<usize> = images
        .iter()
        .enumerate()
        .filter(|(_, image)| {
            digests.iter().any(|digest| {
                image.manifest_digest == Some(*digest) || image.config_digest == *digest
            })
        })
        .map(|(at, _)| at)
        .collect();
    if !exact.is_empty() {
        return images
            .into_iter()
            .enumerate()
            .filter(|(at, _)| exact.contains(at))
            .map(|(_, image)| image)
            .collect();
    }
    images
        .into_iter()
        .filter(|image| {
            image
                .index_digest
                .is_some_and(|index| digests.contains(&index))
        })
        .collect()
}

/// Layers can stand for a signed manifest's only if their content digests are its diff_ids.
fn layers_match(manifest: &Manifest, image: &ResolvedImage) -> Result<(), String> {
    let theirs: Vec<Sha256Digest> = image.layers.iter().map(|layer| layer.diff_id).collect();
    let ours: Vec<Sha256Digest> = manifest.layers.iter().map(|layer| layer.diff_id).collect();
    if theirs == ours {
        Ok(())
    } else {
        Err(format!(
            "{} ({}) has other layers than the signed manifest of {} ({} layers, diff_ids {})",
            image.name,
            image.platform,
            manifest.image.name,
            ours.len(),
            join_digests(&ours)
        ))
    }
}

/// A manifest file (or the first manifest of a JSON array of them, as `scan` writes for
/// several platforms).
///
/// # Errors
/// The file cannot be read, is not JSON, or is not an exelock manifest.
pub fn read_manifest_file(path: &Path) -> Result<Manifest, Error> {
    let bytes = fs_err::read(path).map_err(|source| Error::InputFile {
        what: "manifest",
        source,
    })?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|source| Error::ManifestFile {
            path: path.to_owned(),
            problem: "is not JSON",
            source,
        })?;
    let value = match value {
        serde_json::Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
        other => other,
    };
    serde_json::from_value(value).map_err(|source| Error::ManifestFile {
        path: path.to_owned(),
        problem: "is not an exelock manifest",
        source,
    })
}

/// A manifest file stands for the finding's image only if one of its digests is the image's.
fn check_image_matches(manifest: &Manifest, query: &ImageQuery) -> Result<(), Error> {
    if query.digests.is_empty() {
        return Err(Error::ManifestNeedsDigest {
            label: query.label(),
        });
    }
    let known = [
        manifest.image.index_digest,
        manifest.image.manifest_digest,
        Some(manifest.image.config_digest),
    ];
    if query
        .digests
        .iter()
        .any(|digest| known.contains(&Some(*digest)))
    {
        return Ok(());
    }
    Err(Error::ManifestForOtherImage {
        name: manifest.image.name.clone(),
        digest: manifest
            .image
            .manifest_digest
            .map_or_else(|| "no digest".to_owned(), |d| d.to_string()),
        wanted: join_digests(&query.digests),
    })
}
