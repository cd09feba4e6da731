//! `exelock triage`: findings in, verdicts with evidence and next steps out.
//!
//! Resolve, run, render: [`TriageArgs`] become a [`TriageSettings`] before anything is judged
//! (which inputs, the finding given by hand, trust, registry settings, offline evidence,
//! allowlists, output); [`run_triage`] is then a straight line that reads the findings as a
//! stream, judges them in batches (each image resolved once, cached and bounded; the prefix
//! digests a batch needs computed together, one pass per layer), writes each report as it is
//! made and merges the bake list; the text for people is `super::render::triage`'s.
//! Resolving, verifying and judging are `crate::evidence`'s; the verdicts are `crate::triage`'s.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};

use super::attest::TrustArgs;
use super::color::ColorWhen;
use super::{ExitStatus, RegistryArgs, render, terminal_safe, write_atomically};
use crate::attest::Trust;
use crate::bake::{BakeEntry, BakeList};
use crate::digest::Sha256Digest;
use crate::evidence::{
    FindingReport, ImagePrefixes, ImageQuery, ImageState, IndexedImage, LocalLayers, Offline,
    Resolver,
};
use crate::finding::{self, Finding, InputFormat};
use crate::image::{self, registry::SourceSettings};
use crate::triage::Allowlist;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(super) enum TriageFormat {
    /// For a person: verdict, evidence and next steps per binary.
    Text,
    /// One JSON array of findings.
    Json,
    /// One JSON object per finding per line (for batches).
    Jsonl,
}

/// `exelock triage`'s help after the options (`$ ` lines are run by the test suite from the
/// repository root; `# exit N` states a non-zero exit code). testdata/examples/demo.bundle.json
/// attests testdata/images/demo, whose digest the examples name under a registry repository: a
/// bundle is tied to an image by digest, offline.
pub(super) const TRIAGE_AFTER_HELP: &str = r"Verdicts: unchanged, relocated, allowlisted (legitimate: rebuild or nothing to do); modified, foreign
(contain); fileless (contain and investigate); unverifiable (exelock cannot prove either way: it says what
is missing). Exit codes: 0 every binary legitimate or benign, 1 any needs containment or investigation,
2 usage or input error (malformed findings are reported and the rest still judged).

Examples:
  $ exelock triage --path /bin/busybox --sha256 b40c9612ceb20de779263a7f44814cf4d64416c9c7d75ba1bf1d833362aced50 \
      --image registry.example/demo@sha256:5a95a69e6f29c81410312fe91ce4f629133e8a47afce25c743b74d3f28ecdddf \
      --bundle testdata/examples/demo.bundle.json --key testdata/attest/keys/openssl_p256.pub \
      --emit-bake /tmp/exelock-example-bake.json
  $ exelock triage --path /usr/local/bin/miner --sha256 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881 \
      --image registry.example/demo@sha256:5a95a69e6f29c81410312fe91ce4f629133e8a47afce25c743b74d3f28ecdddf \
      --bundle testdata/examples/demo.bundle.json --key testdata/attest/keys/openssl_p256.pub \
      --format jsonl   # exit 1: foreign, contain it
  $ exelock triage testdata/examples/falco-added-binary.json --bundle testdata/examples/demo.bundle.json \
      --key testdata/attest/keys/openssl_p256.pub   # exit 1: Falco sends no hash, so unverifiable
  $ exelock triage - --bundle testdata/examples/demo.bundle.json --key testdata/attest/keys/openssl_p256.pub \
      --format json < testdata/examples/falco-added-binary.json   # exit 1

With a registry:
  gcloud scc findings list ORG --format=json | exelock triage - --key cosign.pub --format jsonl
  exelock triage findings.jsonl --key cosign.pub --emit-bake exelock-bake.json";

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
    /// Offline: a local copy of the image (oci:DIR, oci-archive:FILE, docker-archive:FILE,
    /// docker:NAME, podman:NAME) to read layers from for partially hashed findings. Only layers
    /// whose content digests (diff_ids) are the signed manifest's are used.
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

/// Where findings are read from.
#[derive(Clone, Debug, PartialEq, Eq)]
enum FindingInput {
    /// Standard input (`-`, or no file at all).
    Stdin,
    /// A finding file.
    File(PathBuf),
}

impl FindingInput {
    /// How errors and reports name the input.
    fn label(&self) -> String {
        match self {
            Self::Stdin => "stdin".to_owned(),
            Self::File(path) => path.display().to_string(),
        }
    }
}

/// `exelock triage`, resolved: everything the run needs, checked before any finding is read.
pub(super) struct TriageSettings {
    /// The finding given by hand (`--path`, `--sha256`, `--image`), judged first.
    by_hand: Option<Finding>,
    /// The finding inputs, in order; none when only `--path` was given.
    inputs: Vec<FindingInput>,
    /// How to read them.
    input_format: InputFormat,
    /// `--image`: the image of findings that name none.
    fallback_image: Option<String>,
    /// Who must have signed the attestations.
    trust: Option<Trust>,
    /// How to reach registries.
    registry: SourceSettings,
    /// Evidence that stands in for the registry's attestations (`--bundle`, `--manifest`).
    offline: Option<Offline>,
    /// A local copy of the image to read layers from (`--layers-from`), opened when the run
    /// starts.
    layers_from: Option<String>,
    /// Known-good binaries.
    allowlist: Allowlist,
    /// How reports are written.
    format: TriageFormat,
    /// Whether text reports carry colour.
    color: ColorWhen,
    /// The bake list that legitimate binaries are added to.
    emit_bake: Option<PathBuf>,
}

impl TriageSettings {
    /// Resolves the arguments: which inputs, the finding given by hand, trust, registry
    /// settings, offline evidence, allowlists, output.
    ///
    /// # Errors
    ///
    /// A usage error, or a key, trusted root or allowlist that cannot be read.
    pub(super) fn resolve(args: &TriageArgs, color: ColorWhen) -> Result<Self> {
        let inputs = if args.path.is_some() && args.files.is_empty() {
            Vec::new()
        } else if args.files.is_empty() {
            vec![FindingInput::Stdin]
        } else {
            args.files
                .iter()
                .map(|file| {
                    if file.as_os_str() == "-" {
                        FindingInput::Stdin
                    } else {
                        FindingInput::File(file.clone())
                    }
                })
                .collect()
        };
        if let Some(layers) = args
            .layers_from
            .as_deref()
            .filter(|layers| image::reads_stdin(layers))
            && inputs.contains(&FindingInput::Stdin)
        {
            bail!("--layers-from {layers} and the findings both read stdin; name a finding file");
        }
        let registry = args
            .registry
            .settings_for(&args.layers_from.as_deref().into_iter().collect::<Vec<_>>())?;
        let trust = args.trust.trust()?;
        let allowlist = read_allowlists(&args.allowlist)?;
        let offline = match (&args.manifest, &args.bundle) {
            (Some(path), _) => Some(Offline::ManifestFile(path.clone())),
            (None, Some(path)) => Some(Offline::Bundle(path.clone())),
            (None, None) => None,
        };
        let by_hand = match &args.path {
            Some(path) => {
                let image = args.image.as_deref().context("--path needs --image REF")?;
                let sha256 = match &args.sha256 {
                    Some(hex) => Some(
                        Sha256Digest::from_hex(hex.trim_start_matches("sha256:"))
                            .context("--sha256 is not 64 hex digits")?,
                    ),
                    None => None,
                };
                Some(finding::from_flags(path, sha256, image))
            }
            None => None,
        };
        Ok(Self {
            by_hand,
            inputs,
            input_format: args.input_format,
            fallback_image: args.image.clone(),
            trust,
            registry,
            offline,
            layers_from: args.layers_from.clone(),
            allowlist,
            format: args.format,
            color,
            emit_bake: args.emit_bake.clone(),
        })
    }

    /// The resolver the settings describe; opens the local copy of the image, if any.
    fn resolver(&self) -> Result<Resolver> {
        let local_layers = match &self.layers_from {
            Some(reference) => Some(LocalLayers::open(reference, &self.registry)?),
            None => None,
        };
        let mut resolver = Resolver::new(self.trust.clone(), self.registry.clone());
        if let Some(offline) = &self.offline {
            resolver = resolver.with_offline(offline.clone());
        }
        if let Some(local_layers) = local_layers {
            resolver = resolver.with_local_layers(local_layers);
        }
        Ok(resolver)
    }
}

/// Runs `exelock triage`: every finding judged and reported, the bake list merged, and the
/// exit status (1 when any binary needs action, else 2 when any input was malformed).
pub(super) fn run_triage(args: &TriageArgs, color: ColorWhen) -> Result<ExitStatus> {
    let settings = TriageSettings::resolve(args, color)?;
    let mut triage = Triage::new(&settings)?;
    if let Some(finding) = &settings.by_hand {
        triage.add(finding.clone())?;
    }
    for (input, reader) in open_inputs(&settings.inputs)? {
        triage.read(reader, &input.label(), settings.input_format)?;
    }
    let outcome = triage.finish()?;
    if let Some(path) = &settings.emit_bake {
        add_to_bake_list(path, outcome.bake)?;
    }
    if outcome.findings == 0 && outcome.input_errors == 0 {
        let inputs: Vec<String> = settings.inputs.iter().map(FindingInput::label).collect();
        bail!(
            "no findings in {}: expected SCC, GuardDuty or Falco findings (docs/findings.md), or give one with --path",
            if inputs.is_empty() {
                "the input".to_owned()
            } else {
                inputs.join(", ")
            }
        );
    }
    Ok(if outcome.needs_action {
        ExitStatus::Failure
    } else if outcome.input_errors > 0 {
        ExitStatus::Error
    } else {
        ExitStatus::Success
    })
}

/// The allowlists at `paths` (allowlist or manifest files), merged; each entry credited to its
/// file.
pub(super) fn read_allowlists(paths: &[PathBuf]) -> Result<Allowlist> {
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

/// The finding inputs, opened for streaming, in order.
fn open_inputs(inputs: &[FindingInput]) -> Result<Vec<(&FindingInput, Box<dyn Read>)>> {
    inputs
        .iter()
        .map(|input| -> Result<(&FindingInput, Box<dyn Read>)> {
            let reader: Box<dyn Read> = match input {
                FindingInput::Stdin => Box::new(std::io::stdin()),
                FindingInput::File(path) => Box::new(fs_err::File::open(path)?),
            };
            Ok((input, reader))
        })
        .collect()
}

/// Adds `entries` to the bake list at `path`, which grows across runs; a device or pipe
/// (`/dev/stdout`) has nothing to merge with, and reading one could block.
fn add_to_bake_list(path: &Path, entries: Vec<BakeEntry>) -> Result<()> {
    let mut list: BakeList = match fs_err::metadata(path) {
        Ok(metadata) if metadata.is_file() => serde_json::from_slice(&fs_err::read(path)?)
            .with_context(|| format!("{} is not a bake list", path.display()))?,
        Ok(_) => BakeList::default(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => BakeList::default(),
        Err(error) => return Err(error.into()),
    };
    list.merge(entries);
    let mut bytes = serde_json::to_vec_pretty(&list)?;
    bytes.push(b'\n');
    write_atomically(path, &bytes)
}

/// Most distinct images kept resolved at once; past it the cache starts over, so memory stays
/// bounded however many images a stream of findings names.
const MAX_CACHED_IMAGES: usize = 256;
/// Findings judged per batch: their prefix digests are computed together, one pass per layer.
const BATCH: usize = 512;

/// A resolved image and the prefix digests computed so far from its layers.
struct CachedImage {
    state: ImageState,
    prefixes: ImagePrefixes,
}

/// A run of `exelock triage`: the findings read so far, the images resolved for them, and
/// what was found.
struct Triage<'s> {
    resolver: Resolver,
    allowlist: &'s Allowlist,
    fallback_image: Option<&'s str>,
    images: HashMap<ImageQuery, Result<CachedImage, String>>,
    /// Findings read and not judged yet.
    batch: Vec<Finding>,
    /// Legitimate binaries to bake in, one entry per path and digest.
    bake: BTreeMap<(String, Sha256Digest), BakeEntry>,
    findings: usize,
    input_errors: usize,
    needs_action: bool,
    output: Output,
}

/// What a run found, once every finding is judged and reported.
struct Outcome {
    findings: usize,
    input_errors: usize,
    needs_action: bool,
    bake: Vec<BakeEntry>,
}

impl<'s> Triage<'s> {
    fn new(settings: &'s TriageSettings) -> Result<Self> {
        Ok(Self {
            resolver: settings.resolver()?,
            allowlist: &settings.allowlist,
            fallback_image: settings.fallback_image.as_deref(),
            images: HashMap::new(),
            batch: Vec::new(),
            bake: BTreeMap::new(),
            findings: 0,
            input_errors: 0,
            needs_action: false,
            output: Output::new(settings.format, settings.color),
        })
    }

    /// Adds a finding; a full batch is judged.
    fn add(&mut self, finding: Finding) -> Result<()> {
        self.findings += 1;
        self.batch.push(finding);
        if self.batch.len() >= BATCH {
            self.judge_batch()?;
        }
        Ok(())
    }

    /// Reads the findings of one input as a stream; a malformed finding or input is reported
    /// on stderr and counted, and the rest still judged.
    fn read(&mut self, reader: impl Read, label: &str, format: InputFormat) -> Result<()> {
        let mut judge_error = None;
        let read = finding::read_findings(reader, label, format, &mut |parsed| {
            if judge_error.is_some() {
                return;
            }
            match parsed {
                Ok(finding) => {
                    if let Err(error) = self.add(finding) {
                        judge_error = Some(error);
                    }
                }
                Err(error) => {
                    self.input_errors += 1;
                    // With its causes: "not JSON" says where (line, column) only in its source.
                    eprintln!("error: {}", terminal_safe(&crate::error_chain(&error)));
                }
            }
        });
        if let Some(error) = judge_error {
            return Err(error);
        }
        if let Err(error) = read {
            self.input_errors += 1;
            eprintln!("error: {}", terminal_safe(&crate::error_chain(&error)));
        }
        Ok(())
    }

    /// Judges what is left and closes the output.
    fn finish(mut self) -> Result<Outcome> {
        self.judge_batch()?;
        self.output.finish()?;
        Ok(Outcome {
            findings: self.findings,
            input_errors: self.input_errors,
            needs_action: self.needs_action,
            bake: self.bake.into_values().collect(),
        })
    }

    /// Resolves an image once; later findings about it reuse the result.
    fn ensure_resolved(&mut self, query: &ImageQuery) {
        if self.images.contains_key(query) {
            return;
        }
        if self.images.len() >= MAX_CACHED_IMAGES {
            self.images.clear();
        }
        let cached = self
            .resolver
            .resolve(query)
            .map(|state| CachedImage {
                state,
                prefixes: ImagePrefixes::default(),
            })
            .map_err(|error| error.reason());
        self.images.insert(query.clone(), cached);
    }

    /// Computes, for every image of the batch, the prefix digests its findings still need: one
    /// pass over each layer that holds a candidate.
    fn compute_prefixes(&mut self, batch: &[(Finding, Result<ImageQuery, String>)]) {
        let mut findings_of: HashMap<&ImageQuery, Vec<&Finding>> = HashMap::new();
        for (finding, query) in batch {
            if let Ok(query) = query {
                findings_of.entry(query).or_default().push(finding);
            }
        }
        for (query, findings) in findings_of {
            let Some(Ok(cached)) = self.images.get_mut(query) else {
                continue;
            };
            let missing = cached
                .state
                .missing_prefixes(findings.iter().copied(), &cached.prefixes);
            if missing.is_empty() {
                continue;
            }
            let computed = self.resolver.compute_prefixes(&cached.state, &missing);
            cached.prefixes.extend(computed);
        }
    }

    /// Judges the findings read so far and writes their reports.
    fn judge_batch(&mut self) -> Result<()> {
        let queried: Vec<(Finding, Result<ImageQuery, String>)> = std::mem::take(&mut self.batch)
            .into_iter()
            .map(|finding| {
                let query = ImageQuery::for_finding(&finding, self.fallback_image)
                    .map_err(|error| error.to_string());
                if let Ok(query) = &query {
                    self.ensure_resolved(query);
                }
                (finding, query)
            })
            .collect();
        self.compute_prefixes(&queried);
        // Index each image's manifests once per batch, not once per finding.
        let mut indexes: HashMap<&ImageQuery, IndexedImage<'_>> = HashMap::new();
        for query in queried.iter().filter_map(|(_, query)| query.as_ref().ok()) {
            if let Some(Ok(cached)) = self.images.get(query) {
                indexes.entry(query).or_insert_with(|| cached.state.index());
            }
        }
        for (finding, query) in &queried {
            let report = match query {
                Err(reason) => FindingReport::unresolved(finding, None, reason, self.allowlist),
                Ok(query) => match (self.images.get(query), indexes.get(query)) {
                    (Some(Ok(cached)), Some(index)) => {
                        index.judge(finding, &cached.prefixes, self.allowlist)
                    }
                    (Some(Err(reason)), _) => FindingReport::unresolved(
                        finding,
                        Some(query.label()),
                        reason,
                        self.allowlist,
                    ),
                    _ => FindingReport::unresolved(
                        finding,
                        Some(query.label()),
                        "the image was not resolved",
                        self.allowlist,
                    ),
                },
            };
            self.needs_action |= report.needs_action();
            for entry in report.bake_entries() {
                self.bake
                    .entry((entry.path.clone(), entry.sha256))
                    .or_insert_with(|| entry.clone());
            }
            self.output.write(finding, &report)?;
        }
        self.output.stdout.flush()?;
        Ok(())
    }
}

/// Where reports go: streamed, so a million findings need no more memory than one batch.
struct Output {
    format: TriageFormat,
    /// Buffered: a report per line would otherwise be a write per finding; flushed after each
    /// batch, so a person watching sees results as batches finish.
    /// Styles pass for text as `--color` resolves; JSON passes through untouched.
    stdout: std::io::BufWriter<anstream::AutoStream<std::io::StdoutLock<'static>>>,
    written: usize,
}

impl Output {
    fn new(format: TriageFormat, color: ColorWhen) -> Self {
        Self {
            format,
            stdout: std::io::BufWriter::new(match format {
                TriageFormat::Text => color.stdout(),
                TriageFormat::Json | TriageFormat::Jsonl => {
                    anstream::AutoStream::always_ansi(std::io::stdout().lock())
                }
            }),
            written: 0,
        }
    }

    fn write(&mut self, finding: &Finding, report: &FindingReport) -> Result<()> {
        match self.format {
            TriageFormat::Text => {
                self.stdout
                    .write_all(render::triage::styled_report(finding, report).as_bytes())?;
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
