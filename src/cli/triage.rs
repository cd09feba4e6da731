//! `exelock triage`: findings in, verdicts with evidence and next steps out.
//!
//! Orchestration only: reading inputs as a stream, finding the image each finding names and
//! its verified manifests (cached per image, bounded), computing the prefix digests a batch of
//! findings needs from digest-verified layers (one pass per layer), and rendering. The
//! verdicts are `crate::triage`'s.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde::Serialize;

use super::attest::{Checked, TrustArgs, bundle_file_lookup, check_registry_attestation};
use super::{ExitStatus, RegistryArgs, read_manifest_file, write_atomically};
use crate::attest::Trust;
use crate::bake::BakeList;
use crate::digest::Sha256Digest;
use crate::finding::{self, Finding, InputFormat};
use crate::image::registry::{RegistrySettings, RegistrySource};
use crate::image::{self, ImageSource, PlatformSelection, ResolvedImage};
use crate::manifest::Manifest;
use crate::triage::{
    self, Allowlist, Candidate, ImageEvidence, Judgement, ManifestFor, ManifestIndex, Playbook,
    PrefixDigests, PrefixFact, PrefixRequest, Response,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(super) enum TriageFormat {
    /// For a person: verdict, evidence and next steps per binary.
    Text,
    /// One JSON array of findings.
    Json,
    /// One JSON object per finding per line (for batches).
    Jsonl,
}

#[derive(Args, Debug)]
pub(super) struct TriageArgs {
    /// Finding files (a JSON document, a JSON array, or JSON lines); `-` or nothing reads stdin.
    files: Vec<PathBuf>,
    /// The finding format; detected by default.
    #[arg(long, value_name = "FORMAT", default_value = "auto", value_parser = parse_input_format)]
    input_format: InputFormat,
    /// Judge one binary given by hand: its path (with --image, and --sha256 when known).
    #[arg(long, value_name = "PATH")]
    path: Option<String>,
    /// With --path: the binary's sha256.
    #[arg(long, value_name = "HEX", requires = "path")]
    sha256: Option<String>,
    /// The image, for --path and for findings that name no image at all (SCC may drop it). A
    /// finding that names an image is judged against that image, never this one; with a digest
    /// (REPO@sha256:…) it also pins a finding that names the same repository by tag only.
    #[arg(long, value_name = "REF")]
    image: Option<String>,
    #[command(flatten)]
    trust: TrustArgs,
    /// Offline: judge against this attestation bundle (verified with --key or a keyless identity).
    #[arg(long, value_name = "FILE", conflicts_with = "manifest")]
    bundle: Option<PathBuf>,
    /// Offline: judge against this manifest file. Its signature is not checked, so it can show a
    /// binary is not the image's but never that it is: legitimate verdicts become unverifiable.
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
    /// Offline: a local copy of the image (oci:DIR, oci-archive:FILE, docker-archive:FILE) to
    /// read layers from for partially hashed findings. Only layers whose content digests
    /// (diff_ids) are the signed manifest's are used.
    #[arg(long, value_name = "REF")]
    layers_from: Option<String>,
    /// Known-good binaries: an allowlist (`{"entries":[{"sha256":…,"path":…}]}`) or an exelock
    /// manifest. Entries are credited to the file; a hash-only entry never vouches for a binary
    /// that replaced one of the image's.
    #[arg(long, value_name = "FILE")]
    allowlist: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: TriageFormat,
    /// Add the legitimate binaries to this bake list, for the gate's `bake` rule.
    #[arg(long, value_name = "FILE")]
    emit_bake: Option<PathBuf>,
    /// No notes on stderr.
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    registry: RegistryArgs,
}

fn parse_input_format(text: &str) -> Result<InputFormat, String> {
    text.parse()
        .map_err(|error: finding::Error| error.to_string())
}

/// A finding's judged binaries, as reported.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    document: &'a str,
    source: finding::Source,
    id: &'a str,
    category: &'a finding::Category,
    raw_category: &'a str,
    image: Option<String>,
    binaries: Vec<JudgedBinary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    playbook: Option<Playbook>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JudgedBinary {
    #[serde(flatten)]
    judgement: Judgement,
    response: Response,
}

/// Which image a finding is to be judged against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ImageQuery {
    /// A reference to resolve (repository with tag and/or digest).
    reference: Option<String>,
    /// The digests that identify the image (index, platform manifest or config).
    digests: Vec<Sha256Digest>,
    /// Where the digest pinning a tag-only reference came from, when it was `--image`.
    pinned_by_flag: bool,
}

/// Where a verified manifest's layers can be read for prefix digests.
struct LayerAccess {
    source: Arc<dyn ImageSource>,
    image: ResolvedImage,
}

/// One platform image's manifest and how to read its layers.
struct ResolvedManifest {
    evidence: ImageEvidence,
    layers: Result<LayerAccess, String>,
}

/// An image's manifests (one per platform when the finding named an index) and the prefix
/// digests computed so far from their layers.
struct ImageState {
    manifests: Vec<ResolvedManifest>,
    prefixes: Vec<PrefixDigests>,
}

/// Most distinct images kept resolved at once; past it the cache starts over, so memory stays
/// bounded however many images a stream of findings names.
const MAX_CACHED_IMAGES: usize = 256;
/// Findings judged per batch: their prefix digests are computed together, one pass per layer.
const BATCH: usize = 512;

struct Triage<'a> {
    args: &'a TriageArgs,
    trust: Option<Trust>,
    registry: RegistrySettings,
    allowlist: Allowlist,
    /// The local copy of the image `--layers-from` names, resolved once.
    local_layers: Option<(Arc<dyn ImageSource>, Vec<ResolvedImage>)>,
    images: HashMap<ImageQuery, Result<ImageState, String>>,
    /// Legitimate binaries to bake in, one entry per path and digest.
    bake: BTreeMap<(String, Sha256Digest), crate::bake::BakeEntry>,
    needs_action: bool,
    output: Output,
}

/// Where reports go: streamed, so a million findings need no more memory than one batch.
struct Output {
    format: TriageFormat,
    /// Buffered: a report per line would otherwise be a write per finding; flushed after each
    /// batch, so a person watching sees results as batches finish.
    stdout: std::io::BufWriter<std::io::StdoutLock<'static>>,
    written: usize,
}

impl Output {
    fn write(&mut self, finding: &Finding, report: &Report<'_>) -> Result<()> {
        match self.format {
            TriageFormat::Text => {
                self.stdout
                    .write_all(super::terminal_safe(&render_text(finding, report)).as_bytes())?;
            }
            TriageFormat::Jsonl => {
                serde_json::to_writer(&mut self.stdout, report)?;
                self.stdout.write_all(b"\n")?;
            }
            TriageFormat::Json => {
                self.stdout
                    .write_all(if self.written == 0 { b"[\n" } else { b",\n" })?;
                serde_json::to_writer_pretty(&mut self.stdout, report)?;
            }
        }
        self.written += 1;
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if self.format == TriageFormat::Json {
            self.stdout
                .write_all(if self.written == 0 { b"[]\n" } else { b"\n]\n" })?;
        }
        self.stdout.flush()?;
        Ok(())
    }
}

impl Triage<'_> {
    /// The image a finding ran in. `--image` stands in only for findings that name none.
    fn query(&self, finding: &Finding) -> Result<ImageQuery, String> {
        let named = &finding.image;
        if let Some(ambiguity) = &named.ambiguity {
            return Err(format!("the finding's image is unknown: {ambiguity}"));
        }
        if named.reference.is_none() && named.digests.is_empty() {
            let Some(image) = &self.args.image else {
                return Err(
                    "the finding does not say which image the binary ran in; pass --image REF"
                        .to_owned(),
                );
            };
            let flagged = finding::ImageRef::from_reference(image);
            return Ok(ImageQuery {
                reference: flagged.reference,
                digests: flagged.digests,
                pinned_by_flag: false,
            });
        }
        let mut query = ImageQuery {
            reference: named.reference.clone(),
            digests: named.digests.clone(),
            pinned_by_flag: false,
        };
        // A tag-only finding about the repository --image pins by digest: take that digest.
        if query.digests.is_empty()
            && let (Some(reference), Some(image)) = (&query.reference, &self.args.image)
            && let Some(pin) = pin_for(reference, image)
        {
            query.digests.push(pin);
            query.pinned_by_flag = true;
        }
        Ok(query)
    }

    /// Resolves an image once; later findings about it reuse the result.
    fn ensure_resolved(&mut self, query: &ImageQuery) {
        if self.images.contains_key(query) {
            return;
        }
        if self.images.len() >= MAX_CACHED_IMAGES {
            self.images.clear();
        }
        let state = self
            .resolve(query)
            .map(|manifests| ImageState {
                prefixes: manifests.iter().map(|_| PrefixDigests::new()).collect(),
                manifests,
            })
            .map_err(|error| format!("{error:#}"));
        self.images.insert(query.clone(), state);
    }

    fn resolve(&self, query: &ImageQuery) -> Result<Vec<ResolvedManifest>> {
        let digests = &query.digests;
        if let Some(path) = &self.args.manifest {
            let manifest = read_manifest_file(path)?;
            check_image_matches(&manifest, query)?;
            let layers = self.local_layers_for(&manifest);
            return Ok(vec![ResolvedManifest {
                evidence: ImageEvidence::unsigned(manifest, path.display().to_string()),
                layers,
            }]);
        }
        let Some(trust) = &self.trust else {
            bail!(
                "no way to verify the image's attestation: pass --key cosign.pub, or --certificate-identity and --certificate-oidc-issuer (with --trusted-root for another instance than the public-good one)"
            );
        };
        if let Some(bundle) = &self.args.bundle {
            if digests.is_empty() {
                bail!(
                    "the finding names its image only by tag ({}); offline, pass --image REPO@sha256:… for that repository so the bundle can be tied to it",
                    query.reference.as_deref().unwrap_or("no image at all")
                );
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
                    .then(|| format!("{} (pinned by --image)", query_label(query)));
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
            bail!(
                "the bundle {} holds no valid attestation for the finding's image: {}",
                bundle.display(),
                reasons.join("; ")
            );
        }
        self.resolve_in_registry(query, trust)
    }

    fn resolve_in_registry(
        &self,
        query: &ImageQuery,
        trust: &Trust,
    ) -> Result<Vec<ResolvedManifest>> {
        let digests = &query.digests;
        let Some(reference) = &query.reference else {
            bail!(
                "the finding names its image only by digest ({}), not where it is stored; pass --bundle FILE, or judge it with --image REPO@DIGEST",
                join_digests(digests)
            );
        };
        if image::is_local_reference(reference) {
            bail!(
                "{reference} is local; attestations are looked up in registries (or pass --bundle FILE)"
            );
        }
        let parsed = image::registry::parse_reference(reference)?;
        let repository = format!("{}/{}", parsed.registry(), parsed.repository());
        // The finding's digests as index or manifest digests (a config digest will not
        // resolve), then the one in the reference, then the tag.
        let named = parsed
            .digest()
            .and_then(|digest| digest.parse::<Sha256Digest>().ok());
        let mut candidates: Vec<(String, Option<String>)> = digests
            .iter()
            .chain(named.iter().filter(|digest| !digests.contains(digest)))
            .map(|digest| (format!("{repository}@{digest}"), None))
            .collect();
        if let Some(tag) = parsed.tag().filter(|_| parsed.digest().is_none()) {
            candidates.push((
                format!("{repository}:{tag}"),
                Some(format!("{repository}:{tag}")),
            ));
        }
        let mut failures = Vec::new();
        for (candidate, via_tag) in candidates {
            let store = Arc::new(RegistrySource::open(&candidate, &self.registry)?);
            let resolution = match store.resolve(&PlatformSelection::All) {
                Ok(resolution) => resolution,
                Err(error) => {
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
                match check_registry_attestation(&store, &subject, trust, Some(&platform))? {
                    Checked::Valid {
                        attestation,
                        origin,
                    } => {
                        let evidence = ImageEvidence::signed(*attestation, origin, via_tag.clone());
                        let source: Arc<dyn ImageSource> = store.clone();
                        let layers =
                            layers_match(evidence.manifest(), &resolved).map(|()| LayerAccess {
                                source,
                                image: resolved,
                            });
                        manifests.push(ResolvedManifest { evidence, layers });
                    }
                    Checked::Invalid { reasons } => bail!(
                        "no valid attestation for {candidate} ({platform}, {subject}): {}",
                        reasons.join("; ")
                    ),
                }
            }
            if !manifests.is_empty() {
                return Ok(manifests);
            }
        }
        bail!(
            "cannot resolve the image: {}",
            if failures.is_empty() {
                "nothing to resolve".to_owned()
            } else {
                failures.join("; ")
            }
        )
    }

    /// The `--layers-from` image whose layers are this manifest's, where there is one.
    fn local_layers_for(&self, manifest: &Manifest) -> Result<LayerAccess, String> {
        let Some((source, images)) = &self.local_layers else {
            return Err(
                "the layers are not at hand offline: pass --layers-from oci:DIR (or oci-archive:/docker-archive:) with a local copy of the image"
                    .to_owned(),
            );
        };
        let mut reasons = Vec::new();
        for image in images {
            match layers_match(manifest, image) {
                Ok(()) => {
                    return Ok(LayerAccess {
                        source: Arc::clone(source),
                        image: image.clone(),
                    });
                }
                Err(reason) => reasons.push(reason),
            }
        }
        Err(format!("--layers-from: {}", reasons.join("; ")))
    }

    /// Computes, for every image of the batch, the prefix digests its findings still need: one
    /// pass over each layer that holds a candidate.
    fn compute_prefixes(&mut self, batch: &[(Finding, Result<ImageQuery, String>)]) {
        let mut wanted: HashMap<&ImageQuery, Vec<BTreeSet<PrefixRequest>>> = HashMap::new();
        for (finding, query) in batch {
            let Ok(query) = query else { continue };
            let Some(Ok(state)) = self.images.get(query) else {
                continue;
            };
            let sets = wanted
                .entry(query)
                .or_insert_with(|| vec![BTreeSet::new(); state.manifests.len()]);
            for (at, resolved) in state.manifests.iter().enumerate() {
                for binary in &finding.binaries {
                    for request in triage::prefix_requests(binary, resolved.evidence.manifest()) {
                        if !state.prefixes[at].contains_key(&request) {
                            sets[at].insert(request);
                        }
                    }
                }
            }
        }
        for (query, sets) in wanted {
            let Some(Ok(state)) = self.images.get_mut(query) else {
                continue;
            };
            for (at, requests) in sets.into_iter().enumerate() {
                if requests.is_empty() {
                    continue;
                }
                let requests: Vec<PrefixRequest> = requests.into_iter().collect();
                let computed = match &state.manifests[at].layers {
                    Ok(access) => prefix_facts(access, &requests),
                    Err(reason) => requests
                        .iter()
                        .map(|request| (request.clone(), Err(reason.clone())))
                        .collect(),
                };
                state.prefixes[at].extend(computed);
            }
        }
    }

    fn judge_batch(&mut self, batch: Vec<Finding>) -> Result<()> {
        let queried: Vec<(Finding, Result<ImageQuery, String>)> = batch
            .into_iter()
            .map(|finding| {
                let query = self.query(&finding);
                if let Ok(query) = &query {
                    self.ensure_resolved(query);
                }
                (finding, query)
            })
            .collect();
        self.compute_prefixes(&queried);
        // Index each image's manifests once per batch, not once per finding.
        let mut indexes: HashMap<&ImageQuery, Vec<ManifestIndex<'_>>> = HashMap::new();
        for query in queried.iter().filter_map(|(_, query)| query.as_ref().ok()) {
            if let Some(Ok(state)) = self.images.get(query) {
                indexes.entry(query).or_insert_with(|| {
                    state
                        .manifests
                        .iter()
                        .map(|resolved| ManifestIndex::new(&resolved.evidence))
                        .collect()
                });
            }
        }
        for (finding, query) in &queried {
            let found = query.as_ref().map_err(Clone::clone).and_then(|query| {
                match (self.images.get(query), indexes.get(query)) {
                    (Some(Ok(state)), Some(indexes)) => Ok(indexes
                        .iter()
                        .zip(&state.prefixes)
                        .map(|(index, prefixes)| Candidate { index, prefixes })
                        .collect::<Vec<_>>()),
                    (Some(Err(reason)), _) => Err(reason.clone()),
                    _ => Err("the image was not resolved".to_owned()),
                }
            });
            let judgements = match &found {
                Ok(candidates) => {
                    judge_finding(finding, ManifestFor::Found(candidates), &self.allowlist)
                }
                Err(reason) => {
                    judge_finding(finding, ManifestFor::Unavailable(reason), &self.allowlist)
                }
            };
            self.needs_action |= judgements.iter().any(|j| j.needs_action);
            for entry in judgements.iter().filter_map(|j| j.bake.as_ref()) {
                self.bake
                    .entry((entry.path.clone(), entry.sha256))
                    .or_insert_with(|| entry.clone());
            }
            let playbook = triage::playbook(finding, &judgements);
            let binaries = judgements
                .into_iter()
                .map(|judgement| JudgedBinary {
                    response: triage::response(finding, &judgement),
                    judgement,
                })
                .collect();
            let report = Report {
                document: &finding.document,
                source: finding.source,
                id: &finding.id,
                category: &finding.category,
                raw_category: &finding.raw_category,
                image: query.as_ref().ok().map(query_label),
                binaries,
                playbook,
            };
            self.output.write(finding, &report)?;
        }
        self.output.stdout.flush()?;
        Ok(())
    }
}

/// Every binary of a finding judged; a finding that names none is one `unverifiable`
/// judgement, never silence.
fn judge_finding(
    finding: &Finding,
    manifests: ManifestFor<'_, '_>,
    allowlist: &Allowlist,
) -> Vec<Judgement> {
    if finding.binaries.is_empty() {
        return vec![triage::nothing_to_judge(manifests)];
    }
    finding
        .binaries
        .iter()
        .map(|binary| triage::judge(finding, binary, manifests, allowlist))
        .collect()
}

/// Prefix digests for one image from its layers; a layer that fails verification fails every
/// request that needed it, with the reason.
fn prefix_facts(access: &LayerAccess, requests: &[PrefixRequest]) -> PrefixDigests {
    let catalog_requests: Vec<crate::catalog::PrefixRequest> = requests
        .iter()
        .map(|request| crate::catalog::PrefixRequest {
            path: request.path.clone(),
            layer: request.layer,
            length: request.length,
        })
        .collect();
    match crate::catalog::prefix_digests(access.source.as_ref(), &access.image, &catalog_requests) {
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
        Err(error) => {
            let reason = format!("{:#}", anyhow::Error::new(error));
            requests
                .iter()
                .map(|request| (request.clone(), Err(reason.clone())))
                .collect()
        }
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

/// A digest from `--image` that pins a tag-only `reference` of the same repository.
fn pin_for(reference: &str, image: &str) -> Option<Sha256Digest> {
    let finding = image::registry::parse_reference(reference).ok()?;
    let flag = image::registry::parse_reference(image).ok()?;
    let same = finding.registry() == flag.registry() && finding.repository() == flag.repository();
    same.then(|| flag.digest()?.parse().ok()).flatten()
}

fn query_label(query: &ImageQuery) -> String {
    match (&query.reference, query.digests.as_slice()) {
        (Some(reference), _) => reference.clone(),
        (None, digests) => join_digests(digests),
    }
}

fn join_digests(digests: &[Sha256Digest]) -> String {
    digests
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A manifest file stands for the finding's image only if one of its digests is the image's.
fn check_image_matches(manifest: &Manifest, query: &ImageQuery) -> Result<()> {
    if query.digests.is_empty() {
        bail!(
            "the finding names its image only by tag ({}), so the manifest file cannot be tied to it; pass --image REPO@sha256:… for that repository",
            query_label(query)
        );
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
    bail!(
        "the manifest is for {} ({}), not the image the finding names ({})",
        manifest.image.name,
        manifest
            .image
            .manifest_digest
            .map_or_else(|| "no digest".to_owned(), |d| d.to_string()),
        join_digests(&query.digests)
    )
}

fn read_allowlists(paths: &[PathBuf]) -> Result<Allowlist> {
    let mut allowlist = Allowlist::default();
    for path in paths {
        let label = path.display().to_string();
        let bytes = fs_err::read(path)?;
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).with_context(|| format!("{label} is not JSON"))?;
        let more = if value.get("executables").is_some() {
            Allowlist::from_manifest_file(
                &serde_json::from_value(value)
                    .with_context(|| format!("{label} is not an exelock manifest"))?,
                &label,
            )
        } else {
            serde_json::from_value::<Allowlist>(value)
                .with_context(|| {
                    format!("{label} is not an allowlist ({{\"entries\":[{{\"sha256\":…}}]}})")
                })?
                .credited_to(&label)
        };
        allowlist.entries.extend(more.entries);
    }
    Ok(allowlist)
}

pub(super) fn run_triage(args: &TriageArgs) -> Result<ExitStatus> {
    let registry = args.registry.settings()?;
    let trust = args.trust.trust()?;
    let allowlist = read_allowlists(&args.allowlist)?;
    let local_layers = match &args.layers_from {
        Some(reference) => {
            if !image::is_local_reference(reference) {
                bail!(
                    "--layers-from takes a local image (oci:DIR, oci-archive:FILE, docker-archive:FILE), not {reference}"
                );
            }
            let source: Arc<dyn ImageSource> = Arc::from(image::open(reference, &registry)?);
            let images = source.resolve(&PlatformSelection::All)?.images;
            Some((source, images))
        }
        None => None,
    };
    let mut triage = Triage {
        args,
        trust,
        registry,
        allowlist,
        local_layers,
        images: HashMap::new(),
        bake: BTreeMap::new(),
        needs_action: false,
        output: Output {
            format: args.format,
            stdout: std::io::BufWriter::new(std::io::stdout().lock()),
            written: 0,
        },
    };
    let mut batch = Vec::new();
    if let Some(path) = &args.path {
        let image = args.image.as_deref().context("--path needs --image REF")?;
        let sha256 = match &args.sha256 {
            Some(hex) => Some(
                Sha256Digest::from_hex(hex.trim_start_matches("sha256:"))
                    .context("--sha256 is not 64 hex digits")?,
            ),
            None => None,
        };
        batch.push(finding::from_flags(path, sha256, image));
    }
    let mut input_errors = 0;
    let mut findings = batch.len();
    if args.path.is_none() || !args.files.is_empty() {
        let mut read_error = None;
        for (label, reader) in open_inputs(&args.files)? {
            let result = finding::read_findings(reader, &label, args.input_format, &mut |parsed| {
                if read_error.is_some() {
                    return;
                }
                match parsed {
                    Ok(finding) => {
                        findings += 1;
                        batch.push(finding);
                        if batch.len() >= BATCH
                            && let Err(error) = triage.judge_batch(std::mem::take(&mut batch))
                        {
                            read_error = Some(error);
                        }
                    }
                    Err(error) => {
                        input_errors += 1;
                        eprintln!("error: {error}");
                    }
                }
            });
            if let Some(error) = read_error.take() {
                return Err(error);
            }
            if let Err(error) = result {
                input_errors += 1;
                eprintln!("error: {error}");
            }
        }
    }
    triage.judge_batch(batch)?;
    triage.output.finish()?;
    if let Some(path) = &args.emit_bake {
        // A bake list grows across runs; a device or pipe (/dev/stdout) has nothing to merge
        // with, and reading one could block.
        let mut list: BakeList = match fs_err::metadata(path) {
            Ok(metadata) if metadata.is_file() => serde_json::from_slice(&fs_err::read(path)?)
                .with_context(|| format!("{} is not a bake list", path.display()))?,
            Ok(_) => BakeList::default(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => BakeList::default(),
            Err(error) => return Err(error.into()),
        };
        list.merge(std::mem::take(&mut triage.bake).into_values());
        let mut bytes = serde_json::to_vec_pretty(&list)?;
        bytes.push(b'\n');
        write_atomically(path, &bytes)?;
    }
    if findings == 0 && input_errors == 0 {
        bail!("no findings in the input");
    }
    Ok(if triage.needs_action {
        ExitStatus::Failure
    } else if input_errors > 0 {
        ExitStatus::Error
    } else {
        ExitStatus::Success
    })
}

/// The finding inputs, opened for streaming: files, and stdin for `-` or none.
fn open_inputs(files: &[PathBuf]) -> Result<Vec<(String, Box<dyn std::io::Read>)>> {
    if files.is_empty() {
        return Ok(vec![("stdin".to_owned(), Box::new(std::io::stdin()))]);
    }
    files
        .iter()
        .map(|file| -> Result<(String, Box<dyn std::io::Read>)> {
            if file.as_os_str() == "-" {
                return Ok(("stdin".to_owned(), Box::new(std::io::stdin())));
            }
            Ok((
                file.display().to_string(),
                Box::new(fs_err::File::open(file)?),
            ))
        })
        .collect()
}

fn render_text(finding: &Finding, report: &Report<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} finding {} ({}{}) from {}",
        finding.source,
        finding.id,
        finding.raw_category,
        finding
            .severity
            .as_deref()
            .map_or(String::new(), |s| format!(", {s}")),
        finding.document
    );
    if let Some(image) = &report.image {
        let _ = writeln!(out, "  image: {image}");
    }
    for judged in &report.binaries {
        let judgement = &judged.judgement;
        let _ = writeln!(
            out,
            "  [{}] {}  sha256:{}  =>  {}{}  ({})",
            serde_json::to_value(judgement.role)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            judgement.path.as_deref().unwrap_or("<no path>"),
            judgement.sha256.map_or_else(
                || "<none>".to_owned(),
                |digest| digest.hex()[..16].to_owned()
            ),
            judgement.verdict.code().to_uppercase(),
            if judgement.malicious {
                ", MALICIOUS"
            } else {
                ""
            },
            judged.response.action.code()
        );
        let evidence = &judgement.evidence;
        let _ = writeln!(out, "      compared: {}", evidence.compared);
        if let Some(provenance) = &evidence.provenance {
            let _ = writeln!(
                out,
                "      manifest: {} {}{} {}",
                evidence.image.as_deref().unwrap_or_default(),
                evidence
                    .manifest_digest
                    .map(|digest| digest.to_string())
                    .unwrap_or_default(),
                evidence
                    .platform
                    .as_deref()
                    .map_or_else(String::new, |platform| format!(" ({platform})")),
                match provenance {
                    triage::Provenance::Signed { signer, origin } =>
                        format!("signed by {signer} ({origin})"),
                    triage::Provenance::Unsigned { file } =>
                        format!("UNSIGNED (manifest file {file})"),
                }
            );
        }
        for entry in &evidence.entries {
            let package = match (&entry.package, entry.package_digest) {
                (Some(package), digest) => format!(
                    ", package {} {} ({}){}",
                    package.name,
                    package.version,
                    package.db,
                    digest.map_or(String::new(), |digest| format!(" {}", digest.code()))
                ),
                (None, Some(crate::manifest::PackageDigest::Unowned)) => ", no package".to_owned(),
                (None, _) => String::new(),
            };
            let _ = writeln!(
                out,
                "      entry: {} sha256:{} ({} bytes, layer {} {}{package})",
                entry.path,
                entry.sha256.hex(),
                entry.size,
                entry.layer,
                entry
                    .layer_digest
                    .map(|digest| digest.to_string())
                    .unwrap_or_default()
            );
        }
        if let Some(allowed) = &evidence.allowlist {
            let _ = writeln!(
                out,
                "      allowlist: sha256:{} {}",
                allowed.sha256.hex(),
                allowed.source.as_deref().unwrap_or_default()
            );
        }
        for note in &evidence.notes {
            let _ = writeln!(out, "      note: {note}");
        }
        let _ = writeln!(out, "      => {}", judged.response.summary);
        for (number, step) in judged.response.steps.iter().enumerate() {
            let _ = writeln!(out, "         {}. {step}", number + 1);
        }
    }
    if let Some(playbook) = &report.playbook {
        let _ = writeln!(out, "  playbook ({}):", playbook.action.code());
        for (number, step) in playbook.steps.iter().enumerate() {
            let _ = writeln!(out, "     {}. {step}", number + 1);
        }
    }
    out
}
