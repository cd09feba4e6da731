//! The command line: clap arguments → settings → library calls → rendered output and an exit
//! status. The only module that prints, reads the environment or chooses an exit code.
//!
//! Exit codes are part of the interface: 0 ok, 1 policy or verdict failure, 2 usage or input
//! error. A closed stdout (`exelock scan … | head`) is not an error.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

mod attest;
mod color;
mod render;
mod serve;
mod shell;
mod triage;

use color::ColorWhen;

use crate::catalog::cache::LayerCache;
use crate::catalog::{self, ScanOptions, ScanRequest};
use crate::image::registry::RegistrySettings;
use crate::image::{self, Platform, PlatformSelection};
use crate::manifest::Manifest;

/// How a run ended, as the process exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// Everything passed.
    Success,
    /// A policy failure or a verdict that needs action.
    Failure,
    /// A usage or input error.
    Error,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        match status {
            ExitStatus::Success => Self::SUCCESS,
            ExitStatus::Failure => Self::from(1),
            ExitStatus::Error => Self::from(2),
        }
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "exelock",
    version,
    about = "Record every executable of a container image, so runtime \"added binary\" findings can be judged with evidence",
    long_about = "exelock keeps container images honest. At build time it reads every layer of an image, \
applies whiteouts exactly as a container runtime would, and records each executable (path, sha256, size, \
mode, kind, the layer that wrote it) in a deterministic executable manifest, signed as an in-toto \
attestation next to the image. When a runtime detector reports an added binary, `triage` judges it \
against that signed evidence: rebuild with it, or contain it.\n\n\
The loop: scan -> attest --push -> (runtime finding) -> triage --emit-bake -> rebuild -> gate.\n\n\
Image references:\n  \
REGISTRY/REPO[:TAG][@DIGEST]  a registry image (docker:// optional; `alpine` is docker.io/library/alpine:latest)\n  \
oci:PATH[:REF]                an OCI image layout directory (REF picks an index.json entry)\n  \
oci-archive:FILE[:REF]        the same, as a tar file\n  \
docker-archive:FILE           `docker save` output (legacy or Docker >= 25 layout)\n  \
docker-archive:- / oci-archive:-  the same, read from stdin (`docker save app | exelock scan docker-archive:-`)\n  \
docker:NAME[:TAG|@DIGEST]     an image of the local Docker engine (DOCKER_HOST, else /var/run/docker.sock)\n  \
podman:NAME[:TAG|@DIGEST]     an image of the local podman service (DOCKER_HOST, else $XDG_RUNTIME_DIR/podman/podman.sock, then /run/podman/podman.sock)\n\n\
A bare name is always a registry image: `exelock scan app` asks Docker Hub even when the local engine has `app`;\n\
write `docker:app` or `podman:app` to read the engine's copy.\n\n\
Exit codes: 0 ok, 1 policy or verdict failure, 2 usage or input error."
)]
struct Cli {
    /// Colour text output: auto (a terminal, unless NO_COLOR is set; CLICOLOR_FORCE colours
    /// pipes too), always or never.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t)]
    color: ColorWhen,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Scan an image and print its executable manifest.
    #[command(after_help = SCAN_AFTER_HELP)]
    Scan(ScanArgs),
    /// Compare the executables of two images or manifest files: added, removed, changed, moved;
    /// and their OS packages.
    #[command(after_help = DIFF_AFTER_HELP)]
    Diff(DiffArgs),
    /// CI gate: scan (and optionally attest) an image, then fail on policy violations.
    #[command(after_help = GATE_AFTER_HELP)]
    Gate(GateArgs),
    /// Write a cosign-compatible key pair: PREFIX.key (encrypted, 0600) and PREFIX.pub.
    #[command(after_help = attest::GENERATE_KEY_PAIR_AFTER_HELP)]
    GenerateKeyPair(attest::GenerateKeyPairArgs),
    /// Sign an image's executable manifest as an in-toto attestation (DSSE, Sigstore bundle) and store it next to the image.
    #[command(after_help = attest::ATTEST_AFTER_HELP)]
    Attest(attest::AttestArgs),
    /// Find and verify an image's attestation: the signature, that it is for exactly this digest, the predicate type.
    #[command(after_help = attest::VERIFY_AFTER_HELP)]
    Verify(attest::VerifyArgs),
    /// Judge runtime "added binary" findings (SCC, GuardDuty, Falco) against the image's signed manifest.
    #[command(after_help = triage::TRIAGE_AFTER_HELP)]
    Triage(triage::TriageArgs),
    /// The HTTP service SCC (Pub/Sub), GuardDuty (EventBridge), Falcosidekick and any sender push findings to: each is judged as `triage` judges it, stored, alerted on, and its legitimate binaries feed the bake list `gate --bake URL` reads.
    #[command(after_help = serve::SERVE_AFTER_HELP)]
    Serve(serve::ServeArgs),
    /// Write a shell completion script (bash, zsh, fish, powershell, elvish) to stdout.
    #[command(after_help = shell::COMPLETIONS_AFTER_HELP)]
    Completions(shell::CompletionsArgs),
    /// Write the man pages: exelock.1 and one per subcommand.
    #[command(after_help = shell::MAN_AFTER_HELP)]
    Man(shell::ManArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    /// Lines for a person.
    Text,
    /// The report as JSON.
    Json,
}

/// `exelock gate`'s help after the options. Lines starting `$ ` are run by the test suite from
/// the repository root; `# exit N` states a non-zero exit code.
const GATE_AFTER_HELP: &str = r"Exit codes: 0 pass, 1 a deny rule fired, 2 usage or input error.
On GitHub Actions (GITHUB_ACTIONS=true) it also prints ::error/::warning annotations, appends a
Markdown summary to $GITHUB_STEP_SUMMARY and writes manifest-digest (the sha256 of the executable
manifest itself), image-digest (the platform image manifest's digest that was gated),
attestation-digest and verdict to $GITHUB_OUTPUT. The policy format is documented in
docs/policy.md.

Examples:
  $ EXELOCK_PASSWORD= exelock gate oci:testdata/images/tiny --policy testdata/examples/exelock.toml \
      --attest --key testdata/attest/keys/openssl_p256.pem
  $ exelock gate oci:testdata/images/demo --policy testdata/examples/exelock.toml   # exit 1: setuid, apk
  $ exelock gate oci:testdata/images/demo --policy testdata/examples/warn-only.toml \
      --baseline oci:testdata/images/tiny --sarif /tmp/exelock-example.sarif
  $ exelock gate oci:testdata/images/demo --policy testdata/examples/exelock.toml --format json   # exit 1

With a registry:
  exelock gate ghcr.io/acme/app@sha256:… --policy exelock.toml --attest --keyless --push
  exelock gate ghcr.io/acme/app@sha256:… --verify-key cosign.pub --bake https://exelock.example/v1/bake/ghcr.io/acme/app";

#[derive(Args, Debug)]
struct GateArgs {
    /// The image to gate (any source `scan` reads).
    image: String,
    /// The policy file (see docs/policy.md).
    #[arg(long, value_name = "FILE", default_value = "exelock.toml")]
    policy: PathBuf,
    /// Judge this manifest (from `exelock scan -o`) instead of scanning the image.
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
    /// The bake list to check (overrides the policy's bake.file): a file, or the service's
    /// http(s)://…/v1/bake/REPOSITORY (bearer EXELOCK_READ_TOKEN when set).
    #[arg(long, value_name = "FILE|URL")]
    bake: Option<String>,
    /// Baseline image or manifest file (overrides the policy's baseline.image or baseline.manifest).
    #[arg(long, value_name = "IMAGE|FILE")]
    baseline: Option<String>,
    /// Platform of a multi-platform image to gate (default linux/amd64).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", value_parser = parse_platform)]
    platform: Option<Platform>,
    /// Sign the manifest as an attestation in this run (with --key FILE or --keyless).
    #[arg(long)]
    attest: bool,
    #[command(flatten)]
    signing: attest::SigningArgs,
    /// With --attest: store the attestation in the image's registry.
    #[arg(long, requires = "attest")]
    push: bool,
    /// With --push: also write the cosign .att image.
    #[arg(long, requires = "push")]
    legacy_cosign: bool,
    /// Check the image's stored attestation with this public key.
    #[arg(long, value_name = "FILE")]
    verify_key: Option<PathBuf>,
    /// Check a keyless attestation: the certificate identity (with --certificate-oidc-issuer; --trusted-root for another instance than the public-good one).
    #[arg(long, value_name = "ID", requires = "certificate_oidc_issuer")]
    certificate_identity: Option<String>,
    /// Check a keyless attestation: the OIDC issuer.
    #[arg(long, value_name = "URL", requires = "certificate_identity")]
    certificate_oidc_issuer: Option<String>,
    /// Sigstore trusted_root.json to check against (default: the public-good instance's, built in).
    #[arg(long, value_name = "FILE")]
    trusted_root: Option<PathBuf>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value = "text")]
    format: ReportFormat,
    /// Also write the report as SARIF 2.1.0 to FILE.
    #[arg(long, value_name = "FILE")]
    sarif: Option<PathBuf>,
    /// No progress or notes on stderr.
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    cache: CacheArgs,
}

/// `exelock diff`'s help after the options (`$ ` lines are run by the test suite).
const DIFF_AFTER_HELP: &str = r"A and B are image references or manifest files written by `exelock scan -o`.
When both record package data (format 2), it also lists OS packages added, removed or at another
version (by name, arch and database) and executables whose bytes stopped matching their package
(`altered`); when only one does, it says packages were not compared.
Exit code 0 whatever the differences; use `exelock gate` with a [baseline] rule to fail on them.

Examples:
  $ exelock diff oci:testdata/images/tiny oci:testdata/images/demo --format table
  $ exelock diff oci:testdata/images/demo docker-archive:testdata/images/demo.docker.tar --format json
  $ exelock diff oci:testdata/images/twice oci-archive:testdata/images/twice.oci.tar --format table -q";

#[derive(Args, Debug)]
struct DiffArgs {
    /// The old image or manifest file.
    a: String,
    /// The new image or manifest file.
    b: String,
    /// Output format; defaults to `table` on a terminal and `json` otherwise.
    #[arg(long, value_enum)]
    format: Option<ScanFormat>,
    /// Platform to compare for multi-platform images (default linux/amd64).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", value_parser = parse_platform)]
    platform: Option<Platform>,
    /// No progress or notes on stderr.
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    cache: CacheArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ScanFormat {
    /// The manifest as JSON (an array of manifests with --all-platforms).
    Json,
    /// A table for people, with a one-line summary.
    Table,
}

/// `exelock scan`'s help after the options (`$ ` lines are run by the test suite).
const SCAN_AFTER_HELP: &str = r#"Image references: REGISTRY/REPO[:TAG][@DIGEST] (docker:// optional), oci:PATH[:REF],
oci-archive:FILE[:REF], docker-archive:FILE, docker-archive:- and oci-archive:- (stdin),
docker:NAME[:TAG|@DIGEST] and podman:NAME[:TAG|@DIGEST] (the local engine, through its API
socket: DOCKER_HOST, else the engine's default socket). A bare name is always a registry image,
never the local engine's: `exelock scan app` asks Docker Hub; write docker:app or podman:app for
the image `docker build -t app .` made.

Examples:
  $ exelock scan oci:testdata/images/demo --format table
  $ exelock scan oci-archive:testdata/images/tiny.oci.tar --format json
  $ exelock scan docker-archive:testdata/images/demo.docker25.tar --format table -q
  $ exelock scan oci:testdata/images/multiarch --platform linux/arm64 --format table
  $ exelock scan oci:testdata/images/multiarch --all-platforms -o /tmp/exelock-example-manifests.json
  $ exelock scan oci:testdata/bad/digest-mismatch --no-cache   # exit 2: a layer does not match its digest

With a local engine or a registry:
  exelock scan docker:app:latest
  docker save app | exelock scan docker-archive:-
  exelock scan ghcr.io/org/app@sha256:… --platform linux/arm64
  echo "$TOKEN" | exelock scan registry.example/app:v1 --username ci --password-stdin"#;

#[derive(Args, Debug)]
struct ScanArgs {
    #[arg(
        help = "The image: REGISTRY/REPO[:TAG][@DIGEST], oci:PATH[:REF], oci-archive:FILE[:REF], docker-archive:FILE, docker-archive:- (stdin), docker:NAME or podman:NAME (the local engine; a bare name is a registry image)",
        required_unless_present = "from_file"
    )]
    images: Vec<String>,
    /// Also scan the images listed in FILE, one reference a line (`#` starts a comment). With
    /// several images: one manifest per image, as JSON lines (or files in --output-dir).
    #[arg(long, value_name = "FILE")]
    from_file: Option<PathBuf>,
    /// Write one manifest file per image into DIR (named after the reference), as `-o` would.
    #[arg(long, value_name = "DIR", conflicts_with = "output")]
    output_dir: Option<PathBuf>,
    /// Output format; defaults to `table` on a terminal and `json` otherwise or with -o.
    #[arg(long, value_enum)]
    format: Option<ScanFormat>,
    /// Write the output to FILE (atomically: nothing is written when the scan fails).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Scan this platform of a multi-platform index: os/arch[/variant]. Default: linux/amd64.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", conflicts_with = "all_platforms", value_parser = parse_platform)]
    platform: Option<Platform>,
    /// Scan every platform image of a multi-platform index.
    #[arg(long)]
    all_platforms: bool,
    /// Layers decoded in parallel (default: one per core).
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    threads: usize,
    /// No progress or notes on stderr.
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    cache: CacheArgs,
}

/// The layer cache (docs/cache.md): what scans learnt about layers, by diff_id, so a layer seen
/// before is neither fetched nor read.
#[derive(Args, Debug)]
#[command(next_help_heading = "Layer cache")]
struct CacheArgs {
    /// The layer cache directory [default: $XDG_CACHE_HOME/exelock, else ~/.cache/exelock].
    #[arg(long, env = "EXELOCK_CACHE_DIR", value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Read every layer; neither use nor fill the layer cache (wins over --cache-dir).
    #[arg(long, env = "EXELOCK_NO_CACHE", value_parser = clap::builder::BoolishValueParser::new())]
    no_cache: bool,
    /// Evict the least recently used entries beyond SIZE (B, KiB, MiB, GiB, TiB; KB, MB, GB,
    /// TB are powers of 1000).
    #[arg(long, value_name = "SIZE", default_value = "2GiB", value_parser = parse_size)]
    cache_max_size: u64,
}

impl CacheArgs {
    /// The cache to use, if any: none with --no-cache or when no directory can be named.
    fn layer_cache(&self) -> Option<LayerCache> {
        if self.no_cache {
            return None;
        }
        let dir = self.cache_dir.clone().or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .filter(|dir| dir.is_absolute())
                .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
                .map(|dir| dir.join("exelock"))
        })?;
        Some(LayerCache::new(&dir, self.cache_max_size))
    }
}

/// Parses a size such as `2GiB`, `500MB` or `1048576`.
///
/// Written here: a dozen lines, and no size-parsing crate is in the dependency tree.
fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => {
            return Err(format!(
                "size {text:?}: unknown unit {unit:?} (use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)"
            ));
        }
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|number| number.checked_mul(multiplier))
        .ok_or_else(|| {
            format!("size {text:?} is not a whole number of bytes below 2^64, e.g. 2GiB")
        })
}

/// How to reach a registry; credentials otherwise come from `~/.docker/config.json`
/// (or `$DOCKER_CONFIG`), including `credHelpers` and `credsStore`.
#[derive(Args, Debug)]
#[command(next_help_heading = "Registry")]
struct RegistryArgs {
    /// Registry user name; the password comes from --password-stdin or EXELOCK_REGISTRY_PASSWORD.
    #[arg(long, env = "EXELOCK_REGISTRY_USERNAME", value_name = "USER")]
    username: Option<String>,
    /// Read the registry password or token from stdin (first line).
    #[arg(long, requires = "username")]
    password_stdin: bool,
    /// Allow plain HTTP to this registry (loopback registries without TLS need no flag).
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    insecure_registries: Vec<String>,
    /// Trust this PEM CA certificate for registry TLS (repeatable).
    #[arg(long = "ca-file", value_name = "PEM")]
    ca_files: Vec<PathBuf>,
}

impl RegistryArgs {
    /// Resolves flags and environment into settings; reads stdin for --password-stdin.
    fn settings(&self) -> Result<RegistrySettings> {
        self.settings_for(&[])
    }

    /// [`RegistryArgs::settings`], refusing two readers of stdin among `images` and
    /// --password-stdin.
    fn settings_for(&self, images: &[&str]) -> Result<RegistrySettings> {
        if self.password_stdin
            && let Some(image) = images.iter().find(|image| image::reads_stdin(image))
        {
            anyhow::bail!(
                "--password-stdin and {image} both read stdin; pass the password in EXELOCK_REGISTRY_PASSWORD instead"
            );
        }
        if let [first, second, ..] = images
            .iter()
            .filter(|image| image::reads_stdin(image))
            .collect::<Vec<_>>()[..]
        {
            anyhow::bail!("{first} and {second} both read stdin, which can be read only once");
        }
        let password = if self.password_stdin {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the password from stdin")?;
            Some(line.trim_end_matches(['\n', '\r']).to_owned())
        } else {
            std::env::var("EXELOCK_REGISTRY_PASSWORD").ok()
        };
        if self.username.is_some() && password.is_none() {
            anyhow::bail!(
                "--username needs a password: pass --password-stdin or set EXELOCK_REGISTRY_PASSWORD"
            );
        }
        let docker_config_dir = std::env::var_os("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker")));
        Ok(RegistrySettings {
            username: self.username.clone(),
            password,
            insecure_registries: self.insecure_registries.clone(),
            ca_files: self.ca_files.clone(),
            docker_config_dir,
            engines: image::engine::EngineSettings {
                docker_host: std::env::var("DOCKER_HOST").ok(),
                xdg_runtime_dir: std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
            },
            ..RegistrySettings::new()
        })
    }
}

fn parse_platform(text: &str) -> Result<Platform, String> {
    text.parse()
}

/// Runs the command line and returns the exit code.
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args: Vec<OsString> = args.into_iter().collect();
    let early_color = ColorWhen::scan(&args);
    let parsed = Cli::command()
        .color(early_color.clap_choice())
        .try_get_matches_from(&args)
        .and_then(|matches| Cli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitStatus::Error.into()
            } else {
                ExitStatus::Success.into()
            };
        }
    };
    let color = cli.color;
    let status = match cli.command {
        Command::Scan(args) => run_scan(&args, color),
        Command::Diff(args) => run_diff(&args, color),
        Command::Gate(args) => run_gate(&args, color),
        Command::GenerateKeyPair(args) => attest::run_generate_key_pair(&args),
        Command::Attest(args) => attest::run_attest(&args),
        Command::Verify(args) => attest::run_verify(&args),
        Command::Triage(args) => triage::run_triage(&args, color),
        Command::Serve(args) => serve::run_serve(&args),
        Command::Completions(args) => shell::run_completions(&args),
        Command::Man(args) => shell::run_man(&args),
    };
    match status {
        Ok(status) => status.into(),
        Err(error) if is_broken_pipe(&error) => ExitStatus::Success.into(),
        Err(error) => {
            color::print_error(color, &format!("{error:#}"));
            ExitStatus::Error.into()
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .is_some_and(|json| json.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
    })
}

/// Progress on stderr, only when it is a terminal.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    fn new(quiet: bool, total: Option<u64>, message: String) -> Self {
        if quiet || !std::io::stderr().is_terminal() {
            return Self { bar: None };
        }
        let bar = indicatif::ProgressBar::with_draw_target(
            total,
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        ) {
            bar.set_style(style);
        }
        bar.set_message(message);
        Self { bar: Some(bar) }
    }

    fn advance(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Scans every selected platform image of a reference, with progress and notes on stderr.
fn scan_reference(
    reference: &str,
    selection: &PlatformSelection,
    registry: &RegistrySettings,
    threads: usize,
    quiet: bool,
    cache: Option<&LayerCache>,
) -> Result<Vec<Manifest>> {
    let source = image::open(reference, registry)?;
    let resolution = source.resolve(selection).map_err(|error| {
        let error = anyhow::Error::from(error);
        match bare_name_hint(reference) {
            Some(hint) => anyhow::anyhow!("{error:#}\nhint: {hint}"),
            None => error,
        }
    })?;
    if !quiet {
        for note in &resolution.notes {
            eprintln!("note: {note}");
        }
    }
    let mut manifests = Vec::with_capacity(resolution.images.len());
    for resolved in &resolution.images {
        let total = resolved
            .layers
            .iter()
            .map(|layer| layer.size)
            .sum::<Option<u64>>();
        let progress = Progress::new(
            quiet,
            total,
            format!("scanning {} ({})", resolved.name, resolved.platform),
        );
        let on_read = |bytes: u64| progress.advance(bytes);
        let options = ScanOptions {
            threads,
            on_read: Some(&on_read),
            cache,
        };
        let scanned = catalog::scan(source.as_ref(), resolved, &options);
        progress.finish();
        let scanned = scanned?;
        if !quiet {
            for warning in &scanned.warnings {
                eprintln!("warning: {warning}");
            }
        }
        manifests.push(scanned.manifest);
    }
    Ok(manifests)
}

/// For a reference that names no registry host (`app:latest`, `org/app`): where a user who
/// just ran `docker build -t app .` should look instead. Such a name is always a Docker Hub
/// image; the local engine's needs its prefix.
fn bare_name_hint(reference: &str) -> Option<String> {
    if image::is_local_reference(reference) || reference.starts_with("docker://") {
        return None;
    }
    let first = reference.split('/').next().unwrap_or_default();
    let names_a_host = reference.contains('/')
        && (first.contains('.') || first.contains(':') || first == "localhost");
    (!names_a_host).then(|| {
        format!(
            "{reference} is a Docker Hub name; for the image of your local engine write docker:{reference} or podman:{reference}"
        )
    })
}

/// Reads a manifest file written by `scan` (one manifest, or the first of an array).
fn read_manifest_file(path: &Path) -> Result<Manifest> {
    Ok(crate::evidence::read_manifest_file(path)?)
}

/// A manifest file when `argument` names an existing `.json` file, else an image to scan.
fn manifest_of(
    argument: &str,
    selection: &PlatformSelection,
    registry: &RegistrySettings,
    quiet: bool,
    cache: Option<&LayerCache>,
) -> Result<Manifest> {
    let path = Path::new(argument);
    if path.extension().is_some_and(|ext| ext == "json") && path.is_file() {
        return read_manifest_file(path);
    }
    scan_reference(argument, selection, registry, 0, quiet, cache)?
        .into_iter()
        .next()
        .with_context(|| format!("{argument} resolved to no image"))
}

fn selection_of(platform: Option<&Platform>, all: bool) -> PlatformSelection {
    match (platform, all) {
        (Some(platform), _) => PlatformSelection::Only(platform.clone()),
        (None, true) => PlatformSelection::All,
        (None, false) => PlatformSelection::Default,
    }
}

fn run_scan(args: &ScanArgs, color: ColorWhen) -> Result<ExitStatus> {
    let selection = selection_of(args.platform.as_ref(), args.all_platforms);
    let references = scan_references(args)?;
    let registry = args
        .registry
        .settings_for(&references.iter().map(String::as_str).collect::<Vec<_>>())?;
    let cache = args.cache.layer_cache();
    let format = args.format.unwrap_or(
        if args.output.is_none() && args.output_dir.is_none() && std::io::stdout().is_terminal() {
            ScanFormat::Table
        } else {
            ScanFormat::Json
        },
    );
    if let [reference] = references.as_slice()
        && args.from_file.is_none()
        && args.output_dir.is_none()
    {
        let manifests = scan_reference(
            reference,
            &selection,
            &registry,
            args.threads,
            args.quiet,
            cache.as_ref(),
        )?;
        let rendered = render_manifests(&manifests, format, args.all_platforms)?;
        if format == ScanFormat::Table && args.output.is_none() {
            let mut stdout = color.stdout();
            stdout.write_all(color::scan_table(&String::from_utf8_lossy(&rendered)).as_bytes())?;
            stdout.flush()?;
        } else {
            write_output(args.output.as_deref(), &rendered)?;
        }
        return Ok(ExitStatus::Success);
    }
    run_fleet_scan(
        args,
        &references,
        &selection,
        &registry,
        cache.as_ref(),
        format,
    )
}

/// The scan's output: one manifest as JSON, an array of them with --all-platforms, or tables.
fn render_manifests(
    manifests: &[Manifest],
    format: ScanFormat,
    all_platforms: bool,
) -> Result<Vec<u8>> {
    Ok(match format {
        ScanFormat::Json if all_platforms => {
            let mut out = serde_json::to_vec_pretty(manifests)?;
            out.push(b'\n');
            out
        }
        ScanFormat::Json => manifests
            .iter()
            .map(Manifest::to_json)
            .collect::<Result<Vec<_>, _>>()?
            .concat(),
        ScanFormat::Table => manifests
            .iter()
            .map(|manifest| terminal_safe(&render_table(manifest)).into_owned())
            .collect::<Vec<_>>()
            .join("\n")
            .into_bytes(),
    })
}

/// Writes to FILE (atomically) or stdout.
fn write_output(path: Option<&Path>, rendered: &[u8]) -> Result<()> {
    match path {
        Some(path) => write_atomically(path, rendered)?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(rendered)?;
            stdout.flush()?;
        }
    }
    Ok(())
}

/// The references to scan: the arguments, then the lines of --from-file (text after `#` is a
/// comment; blank lines are skipped).
fn scan_references(args: &ScanArgs) -> Result<Vec<String>> {
    let mut references = args.images.clone();
    if let Some(path) = &args.from_file {
        let text = fs_err::read_to_string(path).context("cannot read the --from-file list")?;
        references.extend(
            text.lines()
                .map(|line| line.split('#').next().unwrap_or_default().trim())
                .filter(|line| !line.is_empty())
                .map(str::to_owned),
        );
    }
    if references.is_empty() {
        anyhow::bail!("no image to scan: name one, or list some in the --from-file file");
    }
    Ok(references)
}

/// The file `--output-dir` holds an image's manifest in: the reference with every character
/// other than ASCII letters, digits, `.`, `_` and `-` replaced by `_`.
fn output_file_name(reference: &str) -> String {
    let name: String = reference
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{}.json", name.trim_start_matches('.'))
}

/// Scans several images together (each distinct layer once) and writes one manifest per
/// image: JSON lines on stdout or -o FILE, or one file per image in --output-dir. An image that
/// fails is reported and the others still written; the exit status is then 2.
fn run_fleet_scan(
    args: &ScanArgs,
    references: &[String],
    selection: &PlatformSelection,
    registry: &RegistrySettings,
    cache: Option<&LayerCache>,
    format: ScanFormat,
) -> Result<ExitStatus> {
    let files: Option<Vec<String>> = match &args.output_dir {
        Some(_) if format == ScanFormat::Table => {
            anyhow::bail!("--output-dir writes JSON manifests; drop --format table")
        }
        Some(_) => {
            let names: Vec<String> = references.iter().map(|r| output_file_name(r)).collect();
            let mut seen = std::collections::BTreeMap::new();
            for (name, reference) in names.iter().zip(references) {
                if let Some(other) = seen.insert(name, reference) {
                    anyhow::bail!(
                        "{other} and {reference} would both be written to {name} in --output-dir; list each image once"
                    );
                }
            }
            Some(names)
        }
        None => None,
    };
    let mut failed = false;
    let mut opened = Vec::new();
    for (owner, reference) in references.iter().enumerate() {
        let resolved = image::open(reference, registry).and_then(|source| {
            let resolution = source.resolve(selection)?;
            Ok((source, resolution))
        });
        match resolved {
            Ok((source, resolution)) => {
                if !args.quiet {
                    for note in &resolution.notes {
                        eprintln!("note: {note}");
                    }
                }
                opened.push((owner, source, resolution.images));
            }
            Err(error) => {
                eprintln!("error: {:#}", anyhow::Error::from(error));
                failed = true;
            }
        }
    }
    let mut owners = Vec::new();
    let mut requests = Vec::new();
    for (owner, source, images) in &opened {
        for image in images {
            owners.push(*owner);
            requests.push(ScanRequest {
                source: source.as_ref(),
                image,
            });
        }
    }
    let total = requests
        .iter()
        .flat_map(|request| &request.image.layers)
        .map(|layer| layer.size)
        .sum::<Option<u64>>();
    let progress = Progress::new(
        args.quiet,
        total,
        format!("scanning {} images", references.len()),
    );
    let on_read = |bytes: u64| progress.advance(bytes);
    let options = ScanOptions {
        threads: args.threads,
        on_read: Some(&on_read),
        cache,
    };
    let results = catalog::scan_images(&requests, &options);
    progress.finish();
    let mut manifests: Vec<Option<Vec<Manifest>>> = references
        .iter()
        .enumerate()
        .map(|(owner, _)| opened.iter().any(|(o, ..)| *o == owner).then(Vec::new))
        .collect();
    for (owner, result) in owners.into_iter().zip(results) {
        match result {
            Ok(scanned) => {
                if !args.quiet {
                    for warning in &scanned.warnings {
                        eprintln!("warning: {warning}");
                    }
                }
                if let Some(list) = &mut manifests[owner] {
                    list.push(scanned.manifest);
                }
            }
            Err(error) => {
                eprintln!("error: {:#}", anyhow::Error::from(error));
                manifests[owner] = None;
                failed = true;
            }
        }
    }
    match (&args.output_dir, files) {
        (Some(dir), Some(files)) => {
            fs_err::create_dir_all(dir).context("cannot create the --output-dir directory")?;
            for (list, file) in manifests.iter().zip(files) {
                if let Some(list) = list {
                    let rendered = render_manifests(list, ScanFormat::Json, args.all_platforms)?;
                    write_atomically(&dir.join(file), &rendered)?;
                }
            }
        }
        _ => {
            let mut rendered = Vec::new();
            for manifest in manifests.iter().flatten().flatten() {
                match format {
                    ScanFormat::Json => {
                        serde_json::to_writer(&mut rendered, manifest)?;
                        rendered.push(b'\n');
                    }
                    ScanFormat::Table => {
                        rendered
                            .extend_from_slice(terminal_safe(&render_table(manifest)).as_bytes());
                        rendered.push(b'\n');
                    }
                }
            }
            write_output(args.output.as_deref(), &rendered)?;
        }
    }
    Ok(if failed {
        ExitStatus::Error
    } else {
        ExitStatus::Success
    })
}

fn run_diff(args: &DiffArgs, color: ColorWhen) -> Result<ExitStatus> {
    let selection = selection_of(args.platform.as_ref(), false);
    let registry = args.registry.settings_for(&[&args.a, &args.b])?;
    let cache = args.cache.layer_cache();
    let a = manifest_of(&args.a, &selection, &registry, args.quiet, cache.as_ref())?;
    let b = manifest_of(&args.b, &selection, &registry, args.quiet, cache.as_ref())?;
    let changes = crate::diff::diff(&a, &b);
    let format = args.format.unwrap_or(if std::io::stdout().is_terminal() {
        ScanFormat::Table
    } else {
        ScanFormat::Json
    });
    match format {
        ScanFormat::Json => {
            let mut out = serde_json::to_vec_pretty(&serde_json::json!({
                "a": a.image,
                "b": b.image,
                "diff": changes,
            }))?;
            out.push(b'\n');
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&out)?;
            stdout.flush()?;
        }
        ScanFormat::Table => {
            let mut stdout = color.stdout();
            stdout
                .write_all(color::diff_table(&terminal_safe(&render_diff(&changes))).as_bytes())?;
            stdout.flush()?;
        }
    }
    Ok(ExitStatus::Success)
}

/// `dir/relative` unless `relative` is absolute.
fn beside(dir: &Path, relative: &Path) -> PathBuf {
    if relative.is_absolute() {
        relative.to_owned()
    } else {
        dir.join(relative)
    }
}

fn run_gate(args: &GateArgs, color: ColorWhen) -> Result<ExitStatus> {
    let policy_text = fs_err::read_to_string(&args.policy).context(
        "cannot read the policy (write one as in docs/policy.md, or pass --policy FILE)",
    )?;
    let policy_name = args.policy.display().to_string();
    let policy = crate::policy::Policy::parse(&policy_text, &policy_name)?;
    let policy_dir = args.policy.parent().unwrap_or(Path::new("."));
    let mut images = vec![args.image.as_str()];
    images.extend(args.baseline.as_deref());
    let registry = args.registry.settings_for(&images)?;
    let selection = selection_of(args.platform.as_ref(), false);
    let manifest = match &args.manifest {
        Some(path) => read_manifest_file(path)?,
        None => manifest_of(
            &args.image,
            &selection,
            &registry,
            args.quiet,
            args.cache.layer_cache().as_ref(),
        )?,
    };
    let bake_source = match (&args.bake, &policy.bake.file) {
        (Some(argument), _) => Some(BakeSource::parse(Path::new(argument), None)?),
        (None, Some(file)) => Some(BakeSource::parse(file, Some(policy_dir))?),
        (None, None) => None,
    };
    let bake = match &bake_source {
        Some(BakeSource::File(path)) => Some(
            serde_json::from_slice::<crate::bake::BakeList>(&fs_err::read(path)?)
                .with_context(|| format!("{} is not a bake list", path.display()))?,
        ),
        Some(BakeSource::Url(url)) => Some(fetch_bake_list(url, args.quiet)?),
        None => None,
    };
    let baseline_source = args.baseline.clone().or_else(|| {
        policy.baseline.image.clone().or_else(|| {
            policy
                .baseline
                .manifest
                .as_ref()
                .map(|file| beside(policy_dir, file).display().to_string())
        })
    });
    let baseline = match &baseline_source {
        Some(source) => Some(
            manifest_of(
                source,
                &selection,
                &registry,
                args.quiet,
                args.cache.layer_cache().as_ref(),
            )
            .with_context(|| format!("cannot read the baseline {source}"))?,
        ),
        None => None,
    };
    let (attestation, attestation_digest) =
        gate_attestation(args, &manifest, &selection, &registry)?;
    let report = crate::gate::evaluate(
        &policy,
        &crate::gate::GateInput {
            manifest: &manifest,
            attestation: &attestation,
            bake: bake.as_ref(),
            baseline: baseline.as_ref(),
        },
    );
    let manifest_digest = crate::digest::Sha256Digest::of(&manifest.to_json()?).to_string();
    // manifest-digest is the executable manifest's own sha256 (what an attestation's predicate
    // hashes to); image-digest the platform image manifest that was gated (the subject).
    let image_digest = manifest
        .image
        .manifest_digest
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let outputs = [
        ("manifest-digest", manifest_digest),
        ("image-digest", image_digest),
        ("attestation-digest", attestation_digest),
        ("verdict", report.verdict.to_owned()),
    ];
    let mut stdout = std::io::stdout().lock();
    match args.format {
        ReportFormat::Text => {
            let mut text = color.stdout();
            text.write_all(
                color::gate_text(&terminal_safe(&crate::report::text(&report))).as_bytes(),
            )?;
            text.flush()?;
        }
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut stdout, &report)?;
            stdout.write_all(b"\n")?;
        }
    }
    if let Some(path) = &args.sarif {
        let mut sarif = serde_json::to_vec_pretty(&crate::report::sarif(&report, &policy_name))?;
        sarif.push(b'\n');
        write_atomically(path, &sarif)?;
    }
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|value| value == "true") {
        stdout.write_all(crate::report::github_annotations(&report).as_bytes())?;
        if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") {
            append(
                Path::new(&path),
                &crate::report::github_summary(&report, &outputs),
            )?;
        }
        if let Some(path) = std::env::var_os("GITHUB_OUTPUT") {
            append(Path::new(&path), &crate::report::github_outputs(&outputs))?;
        }
    }
    stdout.flush()?;
    Ok(if report.passed() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// Where the gate reads its bake list: a file, or the service's `GET /v1/bake/{repository}`.
enum BakeSource {
    File(PathBuf),
    Url(reqwest::Url),
}

impl BakeSource {
    /// An `http://` or `https://` URL, else a file (relative to `relative_to` when given).
    fn parse(text: &Path, relative_to: Option<&Path>) -> Result<Self> {
        let Some(url) = text.to_str().filter(|text| {
            let lower = text.to_ascii_lowercase();
            lower.starts_with("http://") || lower.starts_with("https://")
        }) else {
            return Ok(Self::File(match relative_to {
                Some(dir) => beside(dir, text),
                None => text.to_owned(),
            }));
        };
        reqwest::Url::parse(url).map(Self::Url).with_context(|| {
            // Shown without any user:password@ it may carry.
            let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let rest = match rest[..authority_end].rfind('@') {
                Some(at) => &rest[at + 1..],
                None => rest,
            };
            format!("the bake list {scheme}://{rest} is not a usable URL")
        })
    }
}

/// A bake list answer larger than this is refused: lists hold one short entry per baked binary.
const BAKE_LIST_MAX_BYTES: usize = 16 << 20;
/// The whole fetch (connect, answer, body) must finish within this.
const BAKE_FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Reads a bake list from `exelock serve` (`GET /v1/bake/{repository}`), with EXELOCK_READ_TOKEN
/// as bearer when set. Any answer but 200 with a bake list is an error naming the URL and the
/// status (and the service's explanation); the token never appears in it.
fn fetch_bake_list(url: &reqwest::Url, quiet: bool) -> Result<crate::bake::BakeList> {
    let shown = url_without_credentials(url);
    let token = std::env::var(serve::READ_TOKEN_VARIABLE)
        .ok()
        .map(zeroize::Zeroizing::new)
        .filter(|token| !token.trim().is_empty());
    if token.is_some() && url.scheme() == "http" && !is_loopback_host(url) && !quiet {
        eprintln!(
            "warning: {} goes to {shown} over plain HTTP, readable on the way",
            serve::READ_TOKEN_VARIABLE
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the HTTP client")?;
    let (status, body) = runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(BAKE_FETCH_TIMEOUT)
            .connect_timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("exelock/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot start the HTTP client")?;
        let mut request = client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = &token {
            request = request.bearer_auth(token.trim());
        }
        let mut response = request
            .send()
            .await
            .map_err(reqwest::Error::without_url)
            .with_context(|| format!("cannot read the bake list {shown}"))?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(reqwest::Error::without_url)
            .with_context(|| format!("cannot read the bake list {shown}"))?
        {
            if body.len() + chunk.len() > BAKE_LIST_MAX_BYTES {
                if status.is_success() {
                    anyhow::bail!(
                        "the bake list {shown} is larger than {BAKE_LIST_MAX_BYTES} bytes"
                    );
                }
                break;
            }
            body.extend_from_slice(&chunk);
        }
        anyhow::Ok((status, body))
    })?;
    if status != reqwest::StatusCode::OK {
        let explanation = String::from_utf8_lossy(&body[..body.len().min(300)])
            .trim()
            .to_owned();
        let explanation = if explanation.is_empty() {
            String::new()
        } else {
            format!(": {}", terminal_safe(&explanation))
        };
        let hint = match (status.as_u16(), &token) {
            (401 | 403, None) => " (set EXELOCK_READ_TOKEN to the service's read token)",
            (401 | 403, Some(_)) => " (EXELOCK_READ_TOKEN is not the service's read token)",
            _ => "",
        };
        anyhow::bail!("cannot read the bake list {shown}: HTTP {status}{explanation}{hint}");
    }
    serde_json::from_slice(&body)
        .with_context(|| format!("{shown} did not answer with a bake list"))
}

/// The URL as it may be shown: without a user name or password.
fn url_without_credentials(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

fn is_loopback_host(url: &reqwest::Url) -> bool {
    url.host_str().is_some_and(|host| {
        host == "localhost"
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|address| address.is_loopback())
    })
}

/// What the gate knows about the attestation: made in this run (`--attest`), or found in the
/// registry and verified (`--verify-key` or a keyless identity); and the pushed referrer digest.
fn gate_attestation(
    args: &GateArgs,
    manifest: &Manifest,
    selection: &PlatformSelection,
    registry: &RegistrySettings,
) -> Result<(crate::gate::AttestationStatus, String)> {
    use crate::gate::AttestationStatus;
    let trust = attest::TrustArgs {
        public_key: args.verify_key.clone(),
        certificate_identity: args.certificate_identity.clone(),
        certificate_oidc_issuer: args.certificate_oidc_issuer.clone(),
        trusted_root: args.trusted_root.clone(),
    }
    .trust()?;
    let Some(subject) = manifest.image.manifest_digest else {
        return Ok((
            AttestationStatus::Missing {
                reason: format!(
                    "{} has no manifest digest to attest (a legacy docker archive)",
                    manifest.image.name
                ),
            },
            String::new(),
        ));
    };
    if args.attest {
        let (attested, own_trust) = attest::attest_image(&attest::AttestRequest {
            reference: &args.image,
            signing: &args.signing,
            manifest_file: None,
            manifests_in_hand: Some(std::slice::from_ref(manifest)),
            in_hand_scanned_now: args.manifest.is_none(),
            selection,
            registry,
            push: args.push,
            legacy_cosign: args.legacy_cosign,
            quiet: args.quiet,
            cache: None,
        })?;
        let pushed = attested
            .iter()
            .find_map(|item| {
                item.pushed
                    .as_ref()
                    .map(|pushed| pushed.referrer.to_string())
            })
            .unwrap_or_default();
        let Some(made) = attested.iter().find(|item| item.subject == subject) else {
            return Ok((
                AttestationStatus::Missing {
                    reason: "the attestation made in this run names another digest".to_owned(),
                },
                pushed,
            ));
        };
        let status = match trust.or(own_trust) {
            Some(trust) => match crate::attest::verify_bundle(&made.attestation.bundle_json, &subject, &trust) {
                Ok(verified) => AttestationStatus::Verified { signer: verified.signer().to_owned() },
                Err(error) => AttestationStatus::Missing { reason: format!("the attestation made in this run does not verify: {error}") },
            },
            None => AttestationStatus::Verified {
                signer: "this run's keyless signature (pass --certificate-identity and --certificate-oidc-issuer to re-check it)".to_owned(),
            },
        };
        return Ok((status, pushed));
    }
    let Some(trust) = trust else {
        return Ok((
            AttestationStatus::Missing {
                reason:
                    "none made (--attest) and none checked (--verify-key or --certificate-identity)"
                        .to_owned(),
            },
            String::new(),
        ));
    };
    if image::is_local_reference(&args.image) {
        return Ok((
            AttestationStatus::Missing {
                reason: format!(
                    "{} is local; attestations are looked up in registries",
                    args.image
                ),
            },
            String::new(),
        ));
    }
    let store = crate::image::registry::RegistrySource::open(&args.image, registry)?;
    Ok(
        match attest::check_registry_attestation(&store, &subject, &trust, None)? {
            attest::Checked::Valid {
                attestation,
                origin,
            } => (
                AttestationStatus::Verified {
                    signer: format!("{} ({origin})", attestation.signer()),
                },
                String::new(),
            ),
            attest::Checked::Invalid { reasons } => (
                AttestationStatus::Missing {
                    reason: reasons.join("; "),
                },
                String::new(),
            ),
        },
    )
}

fn append(path: &Path, text: &str) -> Result<()> {
    let mut file = fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

fn render_diff(changes: &crate::diff::Diff) -> String {
    let short = |hex: &str| format!("sha256:{}", &hex[..hex.len().min(12)]);
    let mut out = String::new();
    for entry in &changes.added {
        let _ = writeln!(
            out,
            "added    {}  ({}, {}, mode {})",
            entry.path,
            entry.kind,
            short(&entry.sha256),
            entry.mode
        );
    }
    for entry in &changes.removed {
        let _ = writeln!(
            out,
            "removed  {}  ({}, {})",
            entry.path,
            entry.kind,
            short(&entry.sha256)
        );
    }
    for changed in &changes.changed {
        let mut parts = Vec::new();
        for difference in &changed.differences {
            let (before, after) = match *difference {
                "sha256" => (short(&changed.before.sha256), short(&changed.after.sha256)),
                "mode" => (changed.before.mode.clone(), changed.after.mode.clone()),
                _ => (
                    changed.before.kind.to_owned(),
                    changed.after.kind.to_owned(),
                ),
            };
            parts.push(format!("{difference} {before} -> {after}"));
        }
        let _ = writeln!(out, "changed  {}  ({})", changed.path, parts.join(", "));
    }
    for moved in &changes.moved {
        let _ = writeln!(
            out,
            "moved    {} -> {}  ({})",
            moved.from,
            moved.to,
            short(&moved.sha256)
        );
    }
    for altered in &changes.altered {
        let _ = writeln!(
            out,
            "altered  {}  (bytes differ from package {}; {})",
            altered.path,
            altered.package.as_ref().map_or_else(
                || "<unknown>".to_owned(),
                |package| format!("{} {} ({})", package.name, package.version, package.db)
            ),
            altered
                .before
                .map_or("new in B".to_owned(), |before| format!(
                    "was {}",
                    before.code()
                ))
        );
    }
    let _ = writeln!(
        out,
        "{} added, {} removed, {} changed, {} moved",
        changes.added.len(),
        changes.removed.len(),
        changes.changed.len(),
        changes.moved.len()
    );
    if let Some(packages) = changes
        .packages
        .as_ref()
        .filter(|packages| !packages.is_empty() || !changes.altered.is_empty())
    {
        let describe = |package: &crate::manifest::Package| {
            let arch = if package.arch.is_empty() {
                String::new()
            } else {
                format!("{}, ", package.arch)
            };
            format!(
                "{} {}  ({arch}{})",
                package.name, package.version, package.db
            )
        };
        for package in &packages.added {
            let _ = writeln!(out, "package added    {}", describe(package));
        }
        for package in &packages.removed {
            let _ = writeln!(out, "package removed  {}", describe(package));
        }
        for changed in &packages.changed {
            let arch = if changed.arch.is_empty() {
                String::new()
            } else {
                format!("{}, ", changed.arch)
            };
            let _ = writeln!(
                out,
                "package changed  {} {} -> {}  ({arch}{})",
                changed.name, changed.before, changed.after, changed.db
            );
        }
        let _ = writeln!(
            out,
            "packages: {} added, {} removed, {} at another version; {} executables altered",
            packages.added.len(),
            packages.removed.len(),
            packages.changed.len(),
            changes.altered.len()
        );
    }
    if let Some(reason) = &changes.packages_not_compared {
        let _ = writeln!(out, "packages: not compared: {reason}");
    }
    out
}

/// Text for a terminal: control characters other than line feeds, which image paths and
/// findings may carry to spoof or hijack a responder's terminal (escape sequences, carriage
/// returns), are shown escaped (`\u{1b}`).
pub(crate) fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\n') {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| {
                if c.is_control() && c != '\n' {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// Writes `bytes` to `path`. A regular file (or a new one) is written via a temporary file in
/// the same directory and renamed into place, so a failure leaves no partial file. Anything
/// else that exists there (`-o /dev/stdout`, `/dev/null`, a named pipe) is written in place:
/// renaming over it would replace the device or pipe with a file, and readers would never see
/// the output.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    // `metadata` follows symlinks: /dev/stdout is a link to the process's descriptor.
    if fs_err::metadata(path).is_ok_and(|metadata| !metadata.is_file() && !metadata.is_dir()) {
        let mut target = fs_err::OpenOptions::new().write(true).open(path)?;
        target
            .write_all(bytes)
            .and_then(|()| target.flush())
            .with_context(|| format!("cannot write {}", path.display()))?;
        return Ok(());
    }
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    // Temporary files are private (0600); what we write is meant to be read.
    file.as_file()
        .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn short_digest(digest: Option<&crate::digest::Sha256Digest>) -> String {
    digest.map_or_else(
        || "none".to_owned(),
        |digest| format!("sha256:{}", &digest.hex()[..12]),
    )
}

/// The person's view of a manifest: one row per executable, then links, hidden and a summary.
fn render_table(manifest: &Manifest) -> String {
    let path_width = manifest
        .executables
        .iter()
        .map(|exe| exe.path.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 60);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<path_width$}  {:<17}  {:>5}  {:>10}  {:<12}  LAYER",
        "PATH", "KIND", "MODE", "SIZE", "SHA256"
    );
    for exe in &manifest.executables {
        let _ = writeln!(
            out,
            "{:<path_width$}  {:<17}  {:>5}  {:>10}  {:<12}  {}",
            exe.path,
            exe.kind.code(),
            format!("{:04o}", exe.mode),
            human_size(exe.size),
            &exe.sha256.hex()[..12],
            exe.layer
        );
    }
    for link in &manifest.links {
        let _ = writeln!(out, "link    {} -> {}", link.path, link.target);
    }
    for hidden in &manifest.hidden {
        let _ = writeln!(
            out,
            "hidden  {} (sha256:{}, written by layer {}, hidden by layer {})",
            hidden.path,
            &hidden.sha256.hex()[..12],
            hidden.layer,
            hidden.hidden_by
        );
    }
    let kinds = catalog::count_kinds(&manifest.executables)
        .iter()
        .map(|(kind, count)| format!("{count} {}", kind.code()))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(
        out,
        "{} executables ({kinds}), {} links, {} hidden, {} layers; {} {} manifest {}",
        manifest.executables.len(),
        manifest.links.len(),
        manifest.hidden.len(),
        manifest.layers.len(),
        manifest.image.name,
        manifest.image.platform,
        short_digest(manifest.image.manifest_digest.as_ref()),
    );
    out
}

#[cfg(test)]
mod terminal_tests {
    use super::terminal_safe;

    #[test]
    fn control_characters_are_escaped_but_lines_kept() {
        assert_eq!(terminal_safe("/usr/bin/ok\nnext"), "/usr/bin/ok\nnext");
        assert_eq!(
            terminal_safe("/tmp/\u{1b}[2Jx\r/bin/sh\u{7}"),
            "/tmp/\\u{1b}[2Jx\\u{d}/bin/sh\\u{7}"
        );
    }
}

#[cfg(test)]
mod cache_flag_tests {
    use rstest::rstest;

    use super::{output_file_name, parse_size};

    #[rstest]
    #[case("2GiB", 2 << 30)]
    #[case("2gib", 2 << 30)]
    #[case("500MB", 500_000_000)]
    #[case("1 KiB", 1024)]
    #[case("1048576", 1 << 20)]
    #[case("7B", 7)]
    #[case("3T", 3 << 40)]
    fn sizes_parse(#[case] text: &str, #[case] bytes: u64) {
        assert_eq!(parse_size(text), Ok(bytes));
    }

    #[rstest]
    #[case("", "whole number")]
    #[case("GiB", "whole number")]
    #[case("-1GiB", "unknown unit")]
    #[case("1.5GiB", "unknown unit")]
    #[case("2 lightyears", "unknown unit")]
    #[case("99999999999TiB", "whole number")]
    fn bad_sizes_say_why(#[case] text: &str, #[case] problem: &str) {
        let error = parse_size(text).unwrap_err();
        assert!(error.contains(problem) && error.contains(text), "{error}");
    }

    #[rstest]
    #[case("oci:testdata/images/demo", "oci_testdata_images_demo.json")]
    #[case(
        "registry.example:5000/team/app:v1",
        "registry.example_5000_team_app_v1.json"
    )]
    #[case("ghcr.io/a/b@sha256:ab", "ghcr.io_a_b_sha256_ab.json")]
    #[case("oci:../x", "oci_.._x.json")]
    #[case("../../etc", "_.._etc.json")]
    fn output_files_stay_in_the_directory(#[case] reference: &str, #[case] name: &str) {
        assert_eq!(output_file_name(reference), name);
        assert!(!output_file_name(reference).contains('/'));
    }
}

#[cfg(test)]
mod bare_name_tests {
    use super::bare_name_hint;

    #[test]
    fn only_names_without_a_registry_host_get_the_local_engine_hint() {
        for bare in ["app", "app:latest", "org/app:1", "app@sha256:abc"] {
            let hint = bare_name_hint(bare).expect(bare);
            assert!(hint.contains(&format!("docker:{bare}")), "{hint}");
        }
        for named in [
            "ghcr.io/org/app:1",
            "localhost/app",
            "127.0.0.1:5000/app",
            "registry:5000/app",
            "docker://app",
            "docker:app",
            "oci:dir",
            "docker-archive:-",
        ] {
            assert_eq!(bare_name_hint(named), None, "{named}");
        }
    }
}
