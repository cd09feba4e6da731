//! `exelock triage`: findings in, verdicts with evidence and next steps out.
//!
//! Arguments, inputs and rendering: findings are read as a stream and judged in batches; each
//! image is resolved once (cached, bounded) and the prefix digests a batch needs are computed
//! together (one pass per layer). Resolving, verifying and judging are `crate::evidence`'s;
//! the verdicts are `crate::triage`'s.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};

use super::attest::TrustArgs;
use super::{ExitStatus, RegistryArgs, write_atomically};
use crate::bake::BakeList;
use crate::digest::Sha256Digest;
use crate::evidence::{
    FindingReport, ImagePrefixes, ImageQuery, ImageState, IndexedImage, LocalLayers, Offline,
    Resolver,
};
use crate::finding::{self, Finding, InputFormat};
use crate::image;
use crate::triage::{self, Allowlist};

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

struct Triage<'a> {
    args: &'a TriageArgs,
    resolver: Resolver,
    allowlist: Allowlist,
    images: HashMap<ImageQuery, Result<CachedImage, String>>,
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
    /// Styles pass for text as `--color` resolves; JSON passes through untouched.
    stdout: std::io::BufWriter<anstream::AutoStream<std::io::StdoutLock<'static>>>,
    written: usize,
}

impl Output {
    fn write(&mut self, finding: &Finding, report: &FindingReport) -> Result<()> {
        match self.format {
            TriageFormat::Text => {
                self.stdout.write_all(
                    super::color::triage_text(&super::terminal_safe(&render_text(finding, report)))
                        .as_bytes(),
                )?;
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

    fn judge_batch(&mut self, batch: Vec<Finding>) -> Result<()> {
        let queried: Vec<(Finding, Result<ImageQuery, String>)> = batch
            .into_iter()
            .map(|finding| {
                let query = ImageQuery::for_finding(&finding, self.args.image.as_deref())
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
                Err(reason) => FindingReport::unresolved(finding, None, reason, &self.allowlist),
                Ok(query) => match (self.images.get(query), indexes.get(query)) {
                    (Some(Ok(cached)), Some(index)) => {
                        index.judge(finding, &cached.prefixes, &self.allowlist)
                    }
                    (Some(Err(reason)), _) => FindingReport::unresolved(
                        finding,
                        Some(query.label()),
                        reason,
                        &self.allowlist,
                    ),
                    _ => FindingReport::unresolved(
                        finding,
                        Some(query.label()),
                        "the image was not resolved",
                        &self.allowlist,
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

pub(super) fn run_triage(args: &TriageArgs, color: super::ColorWhen) -> Result<ExitStatus> {
    let findings_from_stdin = (args.path.is_none() && args.files.is_empty())
        || args.files.iter().any(|file| file.as_os_str() == "-");
    if let Some(layers) = args
        .layers_from
        .as_deref()
        .filter(|layers| image::reads_stdin(layers))
        && findings_from_stdin
    {
        bail!("--layers-from {layers} and the findings both read stdin; name a finding file");
    }
    let registry = args
        .registry
        .settings_for(&args.layers_from.as_deref().into_iter().collect::<Vec<_>>())?;
    let trust = args.trust.trust()?;
    let allowlist = read_allowlists(&args.allowlist)?;
    let local_layers = match &args.layers_from {
        Some(reference) => Some(LocalLayers::open(reference, &registry)?),
        None => None,
    };
    let mut resolver = Resolver::new(trust, registry);
    if let Some(path) = &args.manifest {
        resolver = resolver.with_offline(Offline::ManifestFile(path.clone()));
    } else if let Some(path) = &args.bundle {
        resolver = resolver.with_offline(Offline::Bundle(path.clone()));
    }
    if let Some(local_layers) = local_layers {
        resolver = resolver.with_local_layers(local_layers);
    }
    let mut triage = Triage {
        args,
        resolver,
        allowlist,
        images: HashMap::new(),
        bake: BTreeMap::new(),
        needs_action: false,
        output: Output {
            format: args.format,
            stdout: std::io::BufWriter::new(match args.format {
                TriageFormat::Text => color.stdout(),
                TriageFormat::Json | TriageFormat::Jsonl => {
                    anstream::AutoStream::always_ansi(std::io::stdout().lock())
                }
            }),
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

fn render_text(finding: &Finding, report: &FindingReport) -> String {
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
