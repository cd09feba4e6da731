//! `exelock triage`: findings in, verdicts with evidence and next steps out.
//!
//! Orchestration only: reading inputs, fetching and verifying attestations (cached per image),
//! streaming layers for prefix digests. The verdicts are `crate::triage`'s.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{Read as _, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde::Serialize;

use super::attest::{Checked, TrustArgs, check_bundle_file, check_registry_attestation};
use super::{ExitStatus, RegistryArgs, read_manifest_file, write_atomically};
use crate::attest::Trust;
use crate::bake::BakeList;
use crate::digest::Sha256Digest;
use crate::finding::{self, Finding, InputFormat};
use crate::image::registry::{RegistrySettings, RegistrySource};
use crate::image::{self, ImageSource, PlatformSelection, ResolvedImage};
use crate::triage::{
    self, Allowlist, Judgement, ManifestFor, ManifestIndex, PrefixDigests, Response,
    VerifiedManifest,
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
    /// The image, for --path and for findings that do not name one (SCC may drop it).
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
    /// Known-good binaries: an allowlist (`{"entries":[{"sha256":…,"path":…}]}`) or an exelock manifest.
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
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JudgedBinary {
    #[serde(flatten)]
    judgement: Judgement,
    response: Response,
}

/// Where a finding's manifest comes from, and what can stream its layers.
struct Resolved {
    verified: VerifiedManifest,
    layers: Option<(Box<dyn ImageSource>, ResolvedImage)>,
}

struct Resolver<'a> {
    args: &'a TriageArgs,
    trust: Option<Trust>,
    registry: RegistrySettings,
    cache: HashMap<String, Result<Resolved, String>>,
}

impl Resolver<'_> {
    /// The image a finding ran in, as a reference to fetch: digest preferred.
    fn reference(&self, finding: &Finding) -> Option<String> {
        finding
            .image
            .reference
            .clone()
            .or_else(|| self.args.image.clone())
    }

    /// Resolves a finding's image once per distinct image; returns the cache key.
    fn resolve(&mut self, finding: &Finding) -> String {
        let key = format!("{:?}|{:?}", self.reference(finding), finding.image.digests);
        if !self.cache.contains_key(&key) {
            let resolved = self.fetch(finding).map_err(|error| format!("{error:#}"));
            self.cache.insert(key.clone(), resolved);
        }
        key
    }

    /// The digests that identify a finding's image: its own, else the one `--image` names.
    fn digests(&self, finding: &Finding) -> Vec<Sha256Digest> {
        if !finding.image.digests.is_empty() {
            return finding.image.digests.clone();
        }
        self.args
            .image
            .as_deref()
            .and_then(|image| image.rsplit_once("@sha256:"))
            .and_then(|(_, hex)| Sha256Digest::from_hex(hex).ok())
            .into_iter()
            .collect()
    }

    fn fetch(&self, finding: &Finding) -> Result<Resolved> {
        let digests = &self.digests(finding);
        if let Some(path) = &self.args.manifest {
            let manifest = read_manifest_file(path)?;
            check_image_matches(&manifest, digests)?;
            return Ok(Resolved {
                verified: VerifiedManifest {
                    manifest,
                    signer: "nobody (unsigned manifest file)".to_owned(),
                    origin: format!("manifest file {}", path.display()),
                    via_tag: None,
                    signature_checked: false,
                },
                layers: None,
            });
        }
        let Some(trust) = &self.trust else {
            bail!(
                "no way to verify the image's attestation: pass --key cosign.pub, or --certificate-identity, --certificate-oidc-issuer and --trusted-root"
            );
        };
        if let Some(bundle) = &self.args.bundle {
            if digests.is_empty() {
                bail!(
                    "the finding names its image only by tag ({}); offline, pass --image REF@sha256:… so the bundle can be tied to it",
                    self.reference(finding)
                        .unwrap_or_else(|| "no image at all".to_owned())
                );
            }
            let mut reasons = Vec::new();
            for digest in digests {
                match check_bundle_file(bundle, digest, trust)? {
                    Checked::Valid {
                        attestation,
                        origin,
                    } => {
                        return Ok(Resolved {
                            verified: signed_manifest(*attestation, origin, None),
                            layers: None,
                        });
                    }
                    Checked::Invalid { reasons: more } => reasons.extend(more),
                }
            }
            bail!(
                "the bundle {} holds no valid attestation for the finding's image: {}",
                bundle.display(),
                reasons.join("; ")
            );
        }
        let Some(reference) = self.reference(finding) else {
            bail!("the finding does not say which image the binary ran in; pass --image REF");
        };
        if image::is_local_reference(&reference) {
            bail!(
                "{reference} is local; attestations are looked up in registries (or pass --bundle FILE)"
            );
        }
        let parsed = image::registry::parse_reference(&reference)?;
        let repository = format!("{}/{}", parsed.registry(), parsed.repository());
        // Try the finding's digests as manifest or index digests (a config digest will not
        // resolve), then the tag.
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
            let store = RegistrySource::open(&candidate, &self.registry)?;
            let resolution = match store.resolve(&PlatformSelection::Default) {
                Ok(resolution) => resolution,
                Err(error) => {
                    failures.push(format!("{candidate}: {error}"));
                    continue;
                }
            };
            let resolved = resolution
                .images
                .into_iter()
                .next()
                .context("no platform image")?;
            let Some(subject) = resolved.manifest_digest else {
                continue;
            };
            let known = [
                Some(subject),
                resolved.index_digest,
                Some(resolved.config_digest),
            ];
            if !digests.is_empty() && !digests.iter().any(|digest| known.contains(&Some(*digest))) {
                failures.push(format!(
                    "{candidate} is now {subject}, not the image the finding names ({})",
                    digests
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                continue;
            }
            match check_registry_attestation(&store, &subject, trust, None)? {
                Checked::Valid {
                    attestation,
                    origin,
                } => {
                    return Ok(Resolved {
                        verified: signed_manifest(*attestation, origin, via_tag),
                        layers: Some((Box::new(store), resolved)),
                    });
                }
                Checked::Invalid { reasons } => bail!(
                    "no valid attestation for {candidate} ({subject}): {}",
                    reasons.join("; ")
                ),
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
}

/// A manifest whose attestation verified.
fn signed_manifest(
    attestation: crate::attest::VerifiedAttestation,
    origin: String,
    via_tag: Option<String>,
) -> VerifiedManifest {
    let signer = attestation.signer().to_owned();
    VerifiedManifest {
        manifest: attestation.into_manifest(),
        signer,
        origin,
        via_tag,
        signature_checked: true,
    }
}

/// The finding's image digests must be among the manifest's index, manifest and config digests.
fn check_image_matches(
    manifest: &crate::manifest::Manifest,
    digests: &[Sha256Digest],
) -> Result<()> {
    let known = [
        manifest.image.index_digest,
        manifest.image.manifest_digest,
        Some(manifest.image.config_digest),
    ];
    if digests.is_empty() || digests.iter().any(|digest| known.contains(&Some(*digest))) {
        return Ok(());
    }
    bail!(
        "the manifest is for {} ({}), not the image the finding names ({})",
        manifest.image.name,
        manifest
            .image
            .manifest_digest
            .map_or_else(|| "no digest".to_owned(), |d| d.to_string()),
        digests
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn read_allowlists(paths: &[PathBuf]) -> Result<Allowlist> {
    let mut allowlist = Allowlist::default();
    for path in paths {
        let bytes = fs_err::read(path)?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let more = if value.get("executables").is_some() {
            Allowlist::from_manifest(
                &serde_json::from_value(value)
                    .with_context(|| format!("{} is not an exelock manifest", path.display()))?,
            )
        } else {
            serde_json::from_value(value).with_context(|| {
                format!(
                    "{} is not an allowlist ({{\"entries\":[{{\"sha256\":…}}]}})",
                    path.display()
                )
            })?
        };
        allowlist.entries.extend(more.entries);
    }
    Ok(allowlist)
}

fn read_inputs(files: &[PathBuf]) -> Result<Vec<(String, String)>> {
    if files.is_empty() || files.iter().any(|file| file.as_os_str() == "-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read findings from stdin")?;
        let mut inputs = vec![("stdin".to_owned(), text)];
        for file in files.iter().filter(|file| file.as_os_str() != "-") {
            inputs.push((file.display().to_string(), fs_err::read_to_string(file)?));
        }
        return Ok(inputs);
    }
    files
        .iter()
        .map(|file| Ok((file.display().to_string(), fs_err::read_to_string(file)?)))
        .collect()
}

pub(super) fn run_triage(args: &TriageArgs) -> Result<ExitStatus> {
    let registry = args.registry.settings()?;
    let trust = args.trust.trust()?;
    let allowlist = read_allowlists(&args.allowlist)?;
    let mut findings: Vec<Finding> = Vec::new();
    let mut input_errors = 0;
    if let Some(path) = &args.path {
        let image = args.image.as_deref().context("--path needs --image REF")?;
        let sha256 = match &args.sha256 {
            Some(hex) => Some(
                Sha256Digest::from_hex(hex.trim_start_matches("sha256:"))
                    .context("--sha256 is not 64 hex digits")?,
            ),
            None => None,
        };
        findings.push(finding::from_flags(path, sha256, image));
    }
    if args.path.is_none() || !args.files.is_empty() {
        for (label, text) in read_inputs(&args.files)? {
            for parsed in finding::parse_findings(&text, &label, args.input_format) {
                match parsed {
                    Ok(finding) => findings.push(finding),
                    Err(error) => {
                        input_errors += 1;
                        eprintln!("error: {error}");
                    }
                }
            }
        }
    }
    let mut resolver = Resolver {
        args,
        trust,
        registry,
        cache: HashMap::new(),
    };
    // Resolve every distinct image first, then index each verified manifest once: a batch of
    // findings about one image costs one attestation fetch and one index.
    let keys: Vec<String> = findings
        .iter()
        .map(|finding| resolver.resolve(finding))
        .collect();
    let images = std::mem::take(&mut resolver.cache);
    let indexes: HashMap<&str, ManifestIndex<'_>> = images
        .iter()
        .filter_map(|(key, resolved)| {
            resolved
                .as_ref()
                .ok()
                .map(|resolved| (key.as_str(), ManifestIndex::new(&resolved.verified)))
        })
        .collect();
    let mut prefix_caches: HashMap<&str, PrefixDigests> = HashMap::new();
    let mut needs_action = false;
    let mut bake = Vec::new();
    let mut stdout = std::io::stdout().lock();
    let mut all = Vec::new();
    for (finding, key) in findings.iter().zip(&keys) {
        let resolved = &images[key];
        let index = indexes.get(key.as_str());
        let layers = resolved
            .as_ref()
            .ok()
            .and_then(|resolved| resolved.layers.as_ref());
        let reason = resolved.as_ref().err().cloned().unwrap_or_default();
        let manifest_for = match index {
            Some(index) => ManifestFor::Verified(index),
            None => ManifestFor::Unavailable(&reason),
        };
        let prefix_cache = prefix_caches.entry(key.as_str()).or_default();
        let mut binaries = Vec::new();
        for binary in &finding.binaries {
            if let (Some(index), Some((source, image))) = (index, layers) {
                for (path, length) in triage::prefix_requests(binary, index) {
                    if prefix_cache.contains_key(&(path.clone(), length)) {
                        continue;
                    }
                    let layer = index_layer_of(index, &path);
                    if let Ok(digest) = crate::catalog::prefix_digest(
                        source.as_ref(),
                        image,
                        layer,
                        path.as_bytes(),
                        length,
                    ) {
                        prefix_cache.insert((path, length), digest);
                    }
                }
            }
            let judgement = triage::judge(finding, binary, &manifest_for, &allowlist, prefix_cache);
            needs_action |= judgement.needs_action;
            bake.extend(judgement.bake.clone());
            let response = triage::response(finding, &judgement);
            binaries.push(JudgedBinary {
                judgement,
                response,
            });
        }
        let report = Report {
            document: &finding.document,
            source: finding.source,
            id: &finding.id,
            category: &finding.category,
            raw_category: &finding.raw_category,
            image: resolver.reference(finding),
            binaries,
        };
        match args.format {
            TriageFormat::Text => {
                stdout
                    .write_all(super::terminal_safe(&render_text(finding, &report)).as_bytes())?;
            }
            TriageFormat::Jsonl => {
                serde_json::to_writer(&mut stdout, &report)?;
                stdout.write_all(b"\n")?;
            }
            TriageFormat::Json => all.push(serde_json::to_value(&report)?),
        }
    }
    if args.format == TriageFormat::Json {
        serde_json::to_writer_pretty(&mut stdout, &all)?;
        stdout.write_all(b"\n")?;
    }
    stdout.flush()?;
    if let Some(path) = &args.emit_bake {
        let mut list: BakeList = match fs_err::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not a bake list", path.display()))?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => BakeList::default(),
            Err(error) => return Err(error.into()),
        };
        list.merge(bake);
        let mut bytes = serde_json::to_vec_pretty(&list)?;
        bytes.push(b'\n');
        write_atomically(path, &bytes)?;
    }
    if findings.is_empty() && input_errors == 0 {
        bail!("no findings in the input");
    }
    Ok(if needs_action {
        ExitStatus::Failure
    } else if input_errors > 0 {
        ExitStatus::Error
    } else {
        ExitStatus::Success
    })
}

/// The layer that wrote `path` in the indexed manifest.
fn index_layer_of(index: &ManifestIndex<'_>, path: &str) -> usize {
    index.executable(path).map_or(0, |exe| exe.layer)
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
            judgement
                .sha256
                .as_deref()
                .map_or("<none>", |hex| &hex[..hex.len().min(16)]),
            judgement.verdict.code().to_uppercase(),
            if judgement.malicious {
                ", MALICIOUS"
            } else {
                ""
            },
            judged.response.action
        );
        let evidence = &judgement.evidence;
        let _ = writeln!(out, "      compared: {}", evidence.compared);
        if let Some(signed) = &evidence.signed_by {
            let _ = writeln!(
                out,
                "      manifest: {} {} signed by {signed}",
                evidence.image.as_deref().unwrap_or_default(),
                evidence.manifest_digest.as_deref().unwrap_or_default()
            );
        }
        for entry in &evidence.entries {
            let _ = writeln!(
                out,
                "      entry: {} sha256:{} ({} bytes, layer {} {})",
                entry.path, entry.sha256, entry.size, entry.layer, entry.layer_digest
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
    out
}
