//! The command line: clap arguments → settings → library calls → rendered output and an exit
//! status. The only module that prints, reads the environment or chooses an exit code.
//!
//! Exit codes are part of the interface: 0 ok, 1 policy or verdict failure, 2 usage or input
//! error. A closed stdout (`exelock scan … | head`) is not an error.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

mod attest;
mod color;
mod diff;
mod gate;
mod render;
mod scan;
mod serve;
mod shell;
mod triage;

use color::ColorWhen;

use crate::catalog::cache::LayerCache;
use crate::catalog::{self, ScanOptions};
use crate::image::registry::SourceSettings;
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
    #[command(after_help = scan::SCAN_AFTER_HELP)]
    Scan(scan::ScanArgs),
    #[command(about = diff::DIFF_ABOUT, after_help = diff::DIFF_AFTER_HELP)]
    Diff(diff::DiffArgs),
    #[command(about = gate::GATE_ABOUT, after_help = gate::GATE_AFTER_HELP)]
    Gate(gate::GateArgs),
    #[command(
        about = attest::GENERATE_KEY_PAIR_ABOUT,
        after_help = attest::GENERATE_KEY_PAIR_AFTER_HELP
    )]
    GenerateKeyPair(attest::GenerateKeyPairArgs),
    #[command(about = attest::ATTEST_ABOUT, after_help = attest::ATTEST_AFTER_HELP)]
    Attest(attest::AttestArgs),
    #[command(about = attest::VERIFY_ABOUT, after_help = attest::VERIFY_AFTER_HELP)]
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

/// The flags every command that reads images ends with: quiet, then how to reach registries
/// and the layer cache.
#[derive(Args, Debug)]
struct ImageAccessArgs {
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
    fn settings(&self) -> Result<SourceSettings> {
        self.settings_for(&[])
    }

    /// [`RegistryArgs::settings`], refusing two readers of stdin among `images` and
    /// --password-stdin.
    fn settings_for(&self, images: &[&str]) -> Result<SourceSettings> {
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
        Ok(SourceSettings {
            username: self.username.clone(),
            password,
            insecure_registries: self.insecure_registries.clone(),
            ca_files: self.ca_files.clone(),
            docker_config_dir,
            engines: image::engine::EngineSettings {
                docker_host: std::env::var("DOCKER_HOST").ok(),
                xdg_runtime_dir: std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
            },
            ..SourceSettings::new()
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
        Command::Scan(args) => {
            scan::ScanSettings::resolve(&args).and_then(|settings| scan::run_scan(&settings, color))
        }
        Command::Diff(args) => diff::run_diff(&args, color),
        Command::Gate(args) => gate::run_gate(&args, color),
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

/// How a command reads images, resolved from its flags: which platforms, how registries and
/// engines are reached, the layer cache, and whether progress and notes go to stderr.
struct ImageAccess {
    platforms: PlatformSelection,
    registry: SourceSettings,
    cache: Option<LayerCache>,
    quiet: bool,
}

impl ImageAccessArgs {
    /// The access to `images` (registry credentials are resolved for their hosts), for
    /// `platforms`.
    fn resolve(&self, images: &[&str], platforms: PlatformSelection) -> Result<ImageAccess> {
        Ok(ImageAccess {
            platforms,
            registry: self.registry.settings_for(images)?,
            cache: self.cache.layer_cache(),
            quiet: self.quiet,
        })
    }
}

impl ImageAccess {
    /// Scans every selected platform image of a reference (`threads` as [`ScanOptions`] takes
    /// them), with progress and notes on stderr.
    fn scan(&self, reference: &str, threads: usize) -> Result<Vec<Manifest>> {
        let source = image::open(reference, &self.registry)?;
        let resolution = source.resolve(&self.platforms).map_err(|error| {
            let error = anyhow::Error::from(error);
            match bare_name_hint(reference) {
                Some(hint) => anyhow::anyhow!("{error:#}\nhint: {hint}"),
                None => error,
            }
        })?;
        if !self.quiet {
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
                self.quiet,
                total,
                format!("scanning {} ({})", resolved.name, resolved.platform),
            );
            let on_read = |bytes: u64| progress.advance(bytes);
            let options = ScanOptions {
                threads,
                on_read: Some(&on_read),
                cache: self.cache.as_ref(),
            };
            let scanned = catalog::scan(source.as_ref(), resolved, &options);
            progress.finish();
            let scanned = scanned?;
            if !self.quiet {
                for warning in &scanned.warnings {
                    eprintln!("warning: {warning}");
                }
            }
            manifests.push(scanned.manifest);
        }
        Ok(manifests)
    }

    /// A manifest file when `argument` names an existing `.json` file, else the manifest of the
    /// image it names, scanned.
    fn manifest_of(&self, argument: &str) -> Result<Manifest> {
        let path = Path::new(argument);
        if path.extension().is_some_and(|ext| ext == "json") && path.is_file() {
            return read_manifest_file(path);
        }
        self.scan(argument, 0)?
            .into_iter()
            .next()
            .with_context(|| format!("{argument} resolved to no image"))
    }
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

fn selection_of(platform: Option<&Platform>, all: bool) -> PlatformSelection {
    match (platform, all) {
        (Some(platform), _) => PlatformSelection::Only(platform.clone()),
        (None, true) => PlatformSelection::All,
        (None, false) => PlatformSelection::Default,
    }
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

    use super::parse_size;

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
