//! `exelock gate` on the command line: the flags and the policy's own settings resolved into
//! [`GateSettings`] (the policy, where the bake list and the baseline come from, how the
//! attestation is established, where the report goes), then one straight run: read, judge,
//! write.
//!
//! Wiring only: the rules are `crate::gate`'s, the CI renderings `crate::report`'s, the text
//! for a person `render::gate`'s.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use zeroize::Zeroizing;

use super::color::ColorWhen;
use super::{
    ExitStatus, ImageAccess, ImageAccessArgs, Platform, attest, parse_platform, read_manifest_file,
    render, selection_of, serve, terminal_safe, write_atomically,
};
use crate::attest::Trust;
use crate::bake::BakeList;
use crate::digest::Sha256Digest;
use crate::gate::{self, AttestationStatus, GateInput, GateReport};
use crate::image;
use crate::image::registry::RegistrySource;
use crate::manifest::Manifest;
use crate::policy::Policy;
use crate::report::{self, ActionOutput};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    /// Lines for a person.
    Text,
    /// The report as JSON.
    Json,
}

/// `exelock gate`'s one-line description.
pub(super) const GATE_ABOUT: &str =
    r"CI gate: scan (and optionally attest) an image, then fail on policy violations";

/// `exelock gate`'s help after the options. Lines starting `$ ` are run by the test suite from
/// the repository root; `# exit N` states a non-zero exit code.
pub(super) const GATE_AFTER_HELP: &str = r"Exit codes: 0 pass, 1 a deny rule fired, 2 usage or input error.
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
pub(super) struct GateArgs {
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
    #[command(flatten)]
    access: ImageAccessArgs,
}

/// `exelock gate` resolved: what to judge, against which policy, bake list and baseline, how
/// the attestation is established and where the report goes. Nothing scanned or fetched yet.
struct GateSettings {
    /// The image as named.
    image: String,
    /// Judge this manifest file instead of scanning the image.
    manifest_file: Option<PathBuf>,
    /// How to read the image and the baseline: the platform to gate, registries, the layer
    /// cache, quiet.
    images: ImageAccess,
    /// The policy.
    policy: Policy,
    /// The policy file as named: SARIF points image-wide findings at it.
    policy_file: String,
    /// The bake list: --bake, else the policy's `bake.file` (relative to the policy).
    bake: Option<BakeSource>,
    /// The baseline image or manifest file: --baseline, else the policy's `baseline.image` or
    /// `baseline.manifest` (relative to the policy).
    baseline: Option<String>,
    /// Sign in this run (--attest).
    sign: Option<SignInRun>,
    /// How to verify an attestation: --verify-key or a keyless identity.
    trust: Option<Trust>,
    /// What stdout gets.
    format: ReportFormat,
    /// Also write the report as SARIF here.
    sarif: Option<PathBuf>,
    /// Where GitHub Actions takes the step's summary and outputs, when running there.
    github: Option<GitHubActions>,
}

/// --attest: who signs, and where the attestation goes.
struct SignInRun {
    signing: attest::SigningArgs,
    push: bool,
    legacy_cosign: bool,
}

/// The files GitHub Actions reads a step's summary and outputs from (`GITHUB_ACTIONS=true`).
struct GitHubActions {
    /// `$GITHUB_STEP_SUMMARY`: the Markdown summary is appended to it.
    step_summary: Option<PathBuf>,
    /// `$GITHUB_OUTPUT`: `name=value` lines are appended to it.
    output: Option<PathBuf>,
}

impl GateSettings {
    /// Reads and parses the policy, settles the bake list and baseline sources (relative to
    /// the policy file), the trust, registry access and outputs.
    fn resolve(args: &GateArgs) -> Result<Self> {
        let policy_text = fs_err::read_to_string(&args.policy).context(
            "cannot read the policy (write one as in docs/policy.md, or pass --policy FILE)",
        )?;
        let policy_file = args.policy.display().to_string();
        let policy = Policy::parse(&policy_text, &policy_file)?;
        let policy_dir = args.policy.parent().unwrap_or(Path::new("."));
        let mut references = vec![args.image.as_str()];
        references.extend(args.baseline.as_deref());
        let images = args
            .access
            .resolve(&references, selection_of(args.platform.as_ref(), false))?;
        let bake = match (&args.bake, &policy.bake.file) {
            (Some(argument), _) => Some(BakeSource::parse(Path::new(argument), None)?),
            (None, Some(file)) => Some(BakeSource::parse(file, Some(policy_dir))?),
            (None, None) => None,
        };
        let baseline = args.baseline.clone().or_else(|| {
            policy.baseline.image.clone().or_else(|| {
                policy
                    .baseline
                    .manifest
                    .as_ref()
                    .map(|file| beside(policy_dir, file).display().to_string())
            })
        });
        let trust = attest::TrustArgs {
            public_key: args.verify_key.clone(),
            certificate_identity: args.certificate_identity.clone(),
            certificate_oidc_issuer: args.certificate_oidc_issuer.clone(),
            trusted_root: args.trusted_root.clone(),
        }
        .trust()?;
        let github = std::env::var("GITHUB_ACTIONS")
            .is_ok_and(|value| value == "true")
            .then(|| GitHubActions {
                step_summary: std::env::var_os("GITHUB_STEP_SUMMARY").map(PathBuf::from),
                output: std::env::var_os("GITHUB_OUTPUT").map(PathBuf::from),
            });
        Ok(Self {
            image: args.image.clone(),
            manifest_file: args.manifest.clone(),
            images,
            policy,
            policy_file,
            bake,
            baseline,
            sign: args.attest.then(|| SignInRun {
                signing: args.signing.clone(),
                push: args.push,
                legacy_cosign: args.legacy_cosign,
            }),
            trust,
            format: args.format,
            sarif: args.sarif.clone(),
            github,
        })
    }
}

/// `dir/relative` unless `relative` is absolute.
fn beside(dir: &Path, relative: &Path) -> PathBuf {
    if relative.is_absolute() {
        relative.to_owned()
    } else {
        dir.join(relative)
    }
}

/// Resolves, reads the manifest, bake list and baseline, establishes the attestation, judges,
/// writes the report; the exit status is the verdict.
pub(super) fn run_gate(args: &GateArgs, color: ColorWhen) -> Result<ExitStatus> {
    let settings = GateSettings::resolve(args)?;
    let manifest = match &settings.manifest_file {
        Some(path) => read_manifest_file(path)?,
        None => settings.images.manifest_of(&settings.image)?,
    };
    let bake = settings
        .bake
        .as_ref()
        .map(|source| source.read(settings.images.quiet))
        .transpose()?;
    let baseline = settings
        .baseline
        .as_ref()
        .map(|source| {
            settings
                .images
                .manifest_of(source)
                .with_context(|| format!("cannot read the baseline {source}"))
        })
        .transpose()?;
    let attestation = establish_attestation(&settings, &manifest)?;
    let report = gate::evaluate(
        &settings.policy,
        &GateInput {
            manifest: &manifest,
            attestation: &attestation.status,
            bake: bake.as_ref(),
            baseline: baseline.as_ref(),
        },
    );
    let outputs = action_outputs(&manifest, &attestation, &report)?;
    write_report(&settings, &report, &outputs, color)?;
    Ok(if report.passed() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// The step's outputs on GitHub Actions. `manifest-digest` is the executable manifest's own
/// sha256 (what an attestation's predicate hashes to); `image-digest` the platform image
/// manifest that was gated (the subject).
fn action_outputs(
    manifest: &Manifest,
    attestation: &GateAttestation,
    report: &GateReport,
) -> Result<[ActionOutput; 4]> {
    let output = |name, value| ActionOutput { name, value };
    Ok([
        output(
            "manifest-digest",
            Sha256Digest::of(&manifest.to_json()?).to_string(),
        ),
        output(
            "image-digest",
            manifest
                .image
                .manifest_digest
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        ),
        output(
            "attestation-digest",
            attestation.pushed.clone().unwrap_or_default(),
        ),
        output("verdict", report.verdict.code().to_owned()),
    ])
}

/// Writes the report: text or JSON on stdout, SARIF to its file, and on GitHub Actions the
/// annotations (on stdout), the job summary and the step's outputs.
fn write_report(
    settings: &GateSettings,
    report: &GateReport,
    outputs: &[ActionOutput],
    color: ColorWhen,
) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match settings.format {
        ReportFormat::Text => {
            let mut text = color.stdout();
            text.write_all(render::gate::text(report).as_bytes())?;
            text.flush()?;
        }
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut stdout, report)?;
            stdout.write_all(b"\n")?;
        }
    }
    if let Some(path) = &settings.sarif {
        let mut sarif = serde_json::to_vec_pretty(&report::sarif(report, &settings.policy_file))?;
        sarif.push(b'\n');
        write_atomically(path, &sarif)?;
    }
    if let Some(github) = &settings.github {
        stdout.write_all(report::github_annotations(report).as_bytes())?;
        if let Some(path) = &github.step_summary {
            append(path, &report::github_summary(report, outputs))?;
        }
        if let Some(path) = &github.output {
            append(path, &report::github_outputs(outputs))?;
        }
    }
    stdout.flush()?;
    Ok(())
}

/// Where the gate reads its bake list: a file, or the service's `GET /v1/bake/{repository}`.
enum BakeSource {
    File(PathBuf),
    Url {
        url: reqwest::Url,
        /// EXELOCK_READ_TOKEN, when set: the bearer token for the service.
        token: Option<Zeroizing<String>>,
    },
}

impl BakeSource {
    /// An `http://` or `https://` URL (with EXELOCK_READ_TOKEN, when set, to present to it),
    /// else a file (relative to `relative_to` when given).
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
        let token = std::env::var(serve::READ_TOKEN_VARIABLE)
            .ok()
            .map(Zeroizing::new)
            .filter(|token| !token.trim().is_empty());
        let url = reqwest::Url::parse(url).with_context(|| {
            // Shown without any user:password@ it may carry.
            let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let rest = match rest[..authority_end].rfind('@') {
                Some(at) => &rest[at + 1..],
                None => rest,
            };
            format!("the bake list {scheme}://{rest} is not a usable URL")
        })?;
        Ok(Self::Url { url, token })
    }

    /// Reads the bake list from its file or the service.
    fn read(&self, quiet: bool) -> Result<BakeList> {
        match self {
            Self::File(path) => serde_json::from_slice::<BakeList>(
                &fs_err::read(path).context("cannot read the bake list")?,
            )
            .with_context(|| format!("{} is not a bake list", path.display())),
            Self::Url { url, token } => {
                fetch_bake_list(url, token.as_deref().map(String::as_str), quiet)
            }
        }
    }
}

/// A bake list answer larger than this is refused: lists hold one short entry per baked binary.
const BAKE_LIST_MAX_BYTES: usize = 16 << 20;
/// The whole fetch (connect, answer, body) must finish within this.
const BAKE_FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Reads a bake list from `exelock serve` (`GET /v1/bake/{repository}`), with `token`
/// (EXELOCK_READ_TOKEN) as bearer when set. Any answer but 200 with a bake list is an error naming the URL and the
/// status (and the service's explanation); the token never appears in it.
fn fetch_bake_list(url: &reqwest::Url, token: Option<&str>, quiet: bool) -> Result<BakeList> {
    let shown = url_without_credentials(url);
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

/// What the gate established about the attestation.
struct GateAttestation {
    /// Verified, or missing and why.
    status: AttestationStatus,
    /// The referrer pushed in this run (--attest --push), for the `attestation-digest` output.
    pushed: Option<String>,
}

impl GateAttestation {
    fn missing(reason: String) -> Self {
        Self {
            status: AttestationStatus::Missing { reason },
            pushed: None,
        }
    }
}

/// The attestation: made in this run (--attest), or found in the registry and verified
/// (--verify-key or a keyless identity).
fn establish_attestation(settings: &GateSettings, manifest: &Manifest) -> Result<GateAttestation> {
    let Some(subject) = manifest.image.manifest_digest else {
        return Ok(GateAttestation::missing(format!(
            "{} has no manifest digest to attest (a legacy docker archive)",
            manifest.image.name
        )));
    };
    if let Some(sign) = &settings.sign {
        return attest_in_run(settings, sign, manifest, subject);
    }
    let Some(trust) = &settings.trust else {
        return Ok(GateAttestation::missing(
            "none made (--attest) and none checked (--verify-key or --certificate-identity)"
                .to_owned(),
        ));
    };
    if image::is_local_reference(&settings.image) {
        return Ok(GateAttestation::missing(format!(
            "{} is local; attestations are looked up in registries",
            settings.image
        )));
    }
    let store = RegistrySource::open(&settings.image, &settings.images.registry)?;
    let status = match attest::check_registry_attestation(&store, &subject, trust, None)? {
        attest::Checked::Valid {
            attestation,
            origin,
        } => AttestationStatus::Verified {
            signer: format!("{} ({origin})", attestation.signer()),
        },
        attest::Checked::Invalid { reasons } => AttestationStatus::Missing {
            reason: reasons.join("; "),
        },
    };
    Ok(GateAttestation {
        status,
        pushed: None,
    })
}

/// Signs the manifest in this run (and pushes it when asked), then verifies what was made:
/// with the trust given, else with the signer's own.
fn attest_in_run(
    settings: &GateSettings,
    sign: &SignInRun,
    manifest: &Manifest,
    subject: Sha256Digest,
) -> Result<GateAttestation> {
    // The signer is resolved here, when the run signs, as `attest` resolves it: a key's
    // password is asked for, or a keyless identity obtained, only once the scan succeeded.
    let signing = attest::SigningSettings::resolve(
        &settings.image,
        &sign.signing,
        sign.push.then_some(attest::Push {
            legacy_cosign: sign.legacy_cosign,
        }),
    )?;
    let attested = attest::attest_image(&attest::AttestRequest {
        reference: &settings.image,
        signing: &signing,
        manifests: attest::ManifestsToSign::InHand {
            manifests: std::slice::from_ref(manifest),
            scanned_now: settings.manifest_file.is_none(),
        },
        images: &settings.images,
    })?;
    let own_trust = signing.own_trust();
    let pushed = attested.iter().find_map(|item| {
        item.pushed
            .as_ref()
            .map(|pushed| pushed.referrer.to_string())
    });
    let Some(made) = attested.iter().find(|item| item.subject == subject) else {
        return Ok(GateAttestation {
            status: AttestationStatus::Missing {
                reason: "the attestation made in this run names another digest".to_owned(),
            },
            pushed,
        });
    };
    let status = match settings.trust.as_ref().or(own_trust.as_ref()) {
        Some(trust) => match crate::attest::verify_bundle(&made.attestation.bundle_json, &subject, trust) {
            Ok(verified) => AttestationStatus::Verified { signer: verified.signer().to_owned() },
            Err(error) => AttestationStatus::Missing { reason: format!("the attestation made in this run does not verify: {error}") },
        },
        None => AttestationStatus::Verified {
            signer: "this run's keyless signature (pass --certificate-identity and --certificate-oidc-issuer to re-check it)".to_owned(),
        },
    };
    Ok(GateAttestation { status, pushed })
}

/// Appends `text` to `path` (created when missing), as GitHub Actions' step files expect.
fn append(path: &Path, text: &str) -> Result<()> {
    let mut file = fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    Ok(())
}
