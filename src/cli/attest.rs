//! `generate-key-pair`, `attest` and `verify` on the command line, and the signing and trust
//! flags `gate`, `triage` and `serve` share.
//!
//! Each command resolves its flags into a plain settings value first (the signer, the trust,
//! where the attestations are and what they must be about, where output goes), then runs in a
//! straight line, then renders what it found with pure functions. Reading key files, passwords,
//! tokens and bundle files happens while resolving; choosing the signer, verifying and the
//! lookup itself are `crate::attest`'s and `crate::evidence`'s.

use std::io::{IsTerminal, Read as _, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use zeroize::Zeroizing;

use super::{
    ExitStatus, ImageAccess, ImageAccessArgs, Platform, RegistryArgs, parse_platform,
    read_manifest_file, render, selection_of, write_atomically,
};
use crate::attest::keyless::{IdentityTokenSource, RekorVersion, SigningConfig};
use crate::attest::keys::{self, KeyPairPem, PublicKey};
use crate::attest::{self, PredicateType, Signer, SubjectDigest, Trust, TrustedRoot};
use crate::digest::Sha256Digest;
pub(super) use crate::evidence::{Checked, check_registry_attestation};
use crate::evidence::{
    StatementLookup, check_bundle_file, check_bundle_file_statements, check_registry_statements,
};
use crate::image::registry::{RegistrySource, SourceSettings};
use crate::image::{self, ImageSource as _, PlatformSelection, ResolvedImage};
use crate::manifest::{Manifest, PREDICATE_TYPE};

// ---- generate-key-pair ------------------------------------------------------------------------

/// `exelock generate-key-pair`'s summary.
pub(super) const GENERATE_KEY_PAIR_ABOUT: &str =
    r"Write a cosign-compatible key pair: PREFIX.key (encrypted, 0600) and PREFIX.pub";

/// `exelock generate-key-pair`'s help after the options (`$ ` lines are run by the test suite
/// from the repository root; `# exit N` states a non-zero exit code).
pub(super) const GENERATE_KEY_PAIR_AFTER_HELP: &str = r"The password comes from EXELOCK_PASSWORD or COSIGN_PASSWORD (it may be empty), else it is prompted for.
The files are in cosign's formats: cosign reads exelock keys and exelock reads cosign keys.

Examples:
  $ EXELOCK_PASSWORD= exelock generate-key-pair --output-key-prefix /tmp/exelock-example --force";

#[derive(Args, Debug)]
pub(super) struct GenerateKeyPairArgs {
    /// Write PREFIX.key and PREFIX.pub.
    #[arg(long, value_name = "PREFIX", default_value = "cosign")]
    output_key_prefix: PathBuf,
    /// Overwrite existing key files.
    #[arg(long)]
    force: bool,
}

pub(super) fn run_generate_key_pair(args: &GenerateKeyPairArgs) -> Result<ExitStatus> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let prefix = args.output_key_prefix.display().to_string();
    let private_path = PathBuf::from(format!("{prefix}.key"));
    let public_path = PathBuf::from(format!("{prefix}.pub"));
    for path in [&private_path, &public_path] {
        if path.exists() && !args.force {
            bail!("{} exists; pass --force to overwrite it", path.display());
        }
    }
    let password = read_password(true)?;
    let KeyPairPem {
        private_pem,
        public_pem,
    } = keys::generate_key_pair(password.as_bytes())?;
    if args.force {
        let _ = std::fs::remove_file(&private_path);
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&private_path)
        .with_context(|| format!("cannot create {}", private_path.display()))?;
    file.write_all(&private_pem)
        .with_context(|| format!("cannot write {}", private_path.display()))?;
    write_atomically(&public_path, &public_pem)?;
    std::fs::set_permissions(
        &public_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .with_context(|| format!("cannot make {} readable", public_path.display()))?;
    eprintln!(
        "wrote {} (encrypted, mode 0600) and {}",
        private_path.display(),
        public_path.display()
    );
    Ok(ExitStatus::Success)
}

// ---- signing and trust, shared with gate, triage and serve ----------------------------------

/// Who signs: a key file, or keyless through Fulcio, Rekor and a timestamp authority.
#[derive(Args, Debug, Clone)]
pub(super) struct SigningArgs {
    /// Sign with this private key (cosign format, or PKCS#8 PEM); password from EXELOCK_PASSWORD or COSIGN_PASSWORD, else prompted.
    #[arg(long, value_name = "FILE", conflicts_with = "keyless")]
    pub(super) key: Option<PathBuf>,
    /// Sign keyless: a Fulcio certificate for an ephemeral key, the signature logged in Rekor and timestamped by a TSA, as the signing config names them. The OIDC token comes from --identity-token, SIGSTORE_ID_TOKEN, or GitHub Actions (ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN).
    #[arg(long)]
    pub(super) keyless: bool,
    /// The OIDC identity token for --keyless.
    #[arg(
        long,
        value_name = "JWT",
        env = "SIGSTORE_ID_TOKEN",
        hide_env_values = true
    )]
    identity_token: Option<String>,
    /// Sigstore signing config (signing_config.json, v0.2) naming the Fulcio, Rekor logs and TSA for --keyless [default: the public-good instance's, built in]
    #[arg(long, value_name = "FILE", requires = "keyless")]
    signing_config: Option<PathBuf>,
    /// Rekor API version for --keyless: 1, or 2 (needs a signing config that lists a Rekor v2 log)
    #[arg(long, value_name = "1|2", default_value = "1", value_parser = parse_rekor_version)]
    rekor_version: RekorVersion,
}

fn parse_rekor_version(text: &str) -> Result<RekorVersion, String> {
    text.parse()
}

impl SigningArgs {
    /// The signer the flags ask for: the key file (password from the environment or a prompt),
    /// or keyless with the services of the signing config (given or built in) and the token
    /// given or fetched from GitHub Actions.
    fn signer(&self) -> Result<Signer> {
        if let Some(path) = &self.key {
            let pem = Zeroizing::new(fs_err::read(path).context("cannot read the signing key")?);
            let password = read_password(false)?;
            return Signer::from_key_pem(&pem, password.as_bytes())
                .with_context(|| format!("cannot load the private key {}", path.display()));
        }
        if !self.keyless {
            bail!("say how to sign: --key FILE or --keyless");
        }
        let signing_config = match &self.signing_config {
            Some(path) => SigningConfig::from_json(
                &fs_err::read_to_string(path).context("cannot read the signing config")?,
            )
            .with_context(|| format!("{} is not a usable signing config", path.display()))?,
            None => SigningConfig::public_good()?,
        };
        let services = signing_config
            .services(self.rekor_version)
            .with_context(|| match &self.signing_config {
                Some(path) => format!(
                    "cannot sign keyless with Rekor v{} and {}",
                    self.rekor_version,
                    path.display()
                ),
                None => format!(
                    "cannot sign keyless with Rekor v{} and the public-good signing config (pass --signing-config)",
                    self.rekor_version
                ),
            })?;
        let token = match &self.identity_token {
            Some(token) => IdentityTokenSource::Token(token.clone()),
            None => match (
                std::env::var("ACTIONS_ID_TOKEN_REQUEST_URL"),
                std::env::var("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
            ) {
                (Ok(request_url), Ok(request_token)) => IdentityTokenSource::GitHubActions {
                    request_url,
                    request_token,
                },
                _ => bail!(
                    "--keyless needs an OIDC token: --identity-token, SIGSTORE_ID_TOKEN, or GitHub Actions with `permissions: id-token: write`"
                ),
            },
        };
        Ok(Signer::keyless(services, token)?)
    }
}

/// How to check a signature: a public key, or a keyless identity.
#[derive(Args, Debug, Clone, Default)]
pub(super) struct TrustArgs {
    /// Verify with this public key (cosign.pub).
    #[arg(
        long = "key",
        value_name = "FILE",
        conflicts_with = "certificate_identity"
    )]
    pub(super) public_key: Option<PathBuf>,
    /// Verify keyless: the signing certificate's identity (email or URI, exact).
    #[arg(long, value_name = "ID", requires = "certificate_oidc_issuer")]
    pub(super) certificate_identity: Option<String>,
    /// Verify keyless: the OIDC issuer of that identity (exact).
    #[arg(long, value_name = "URL", requires = "certificate_identity")]
    pub(super) certificate_oidc_issuer: Option<String>,
    /// Sigstore trusted_root.json: the Fulcio CAs, Rekor and CT log keys and timestamp authorities to trust (default: the public-good instance's, built in).
    #[arg(long, value_name = "FILE")]
    pub(super) trusted_root: Option<PathBuf>,
}

impl TrustArgs {
    /// The trust policy, or `None` when none was given.
    pub(super) fn trust(&self) -> Result<Option<Trust>> {
        let trusted_root = || -> Result<TrustedRoot> {
            let Some(root_path) = &self.trusted_root else {
                return Ok(TrustedRoot::public_good()?);
            };
            TrustedRoot::from_json(
                &fs_err::read(root_path).context("cannot read the trusted root")?,
            )
            .with_context(|| format!("{} is not a usable trusted root", root_path.display()))
        };
        if let Some(path) = &self.public_key {
            let pem = fs_err::read(path).context("cannot read the public key")?;
            let key = PublicKey::from_pem(&pem)
                .with_context(|| format!("{} is not a usable public key", path.display()))?;
            return Ok(Some(Trust::Key {
                key,
                trusted_root: trusted_root()?,
            }));
        }
        let (Some(identity), Some(issuer)) =
            (&self.certificate_identity, &self.certificate_oidc_issuer)
        else {
            return Ok(None);
        };
        Ok(Some(Trust::Keyless {
            identity: identity.clone(),
            issuer: issuer.clone(),
            trusted_root: trusted_root()?,
        }))
    }
}

/// The key password: EXELOCK_PASSWORD, COSIGN_PASSWORD, else a prompt on the terminal.
fn read_password(confirm: bool) -> Result<Zeroizing<String>> {
    for variable in ["EXELOCK_PASSWORD", "COSIGN_PASSWORD"] {
        if let Ok(value) = std::env::var(variable) {
            return Ok(Zeroizing::new(value));
        }
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "no key password: set EXELOCK_PASSWORD or COSIGN_PASSWORD (it may be empty), or run on a terminal"
        );
    }
    let first = Zeroizing::new(rpassword::prompt_password(
        "Enter password for private key: ",
    )?);
    if confirm {
        let second = Zeroizing::new(rpassword::prompt_password(
            "Enter password for private key again: ",
        )?);
        if *first != *second {
            bail!("the passwords do not match");
        }
    }
    Ok(first)
}

/// Who signs, and whether the attestations go to the image's registry: resolved from the
/// signing flags before anything is scanned or signed.
pub(super) struct SigningSettings {
    signer: Signer,
    push: Option<Push>,
}

/// Storing attestations in the image's registry (an OCI 1.1 referrer, with the fallback tag
/// where needed).
#[derive(Clone, Copy, Debug)]
pub(super) struct Push {
    /// Also the cosign `.att` image that cosign verify-attestation and Kyverno read.
    pub(super) legacy_cosign: bool,
}

impl SigningSettings {
    /// The signer `signing` asks for, and `push` for the image `reference`, which must then be
    /// a registry image (checked first: a local image is refused before any password prompt).
    pub(super) fn resolve(
        reference: &str,
        signing: &SigningArgs,
        push: Option<Push>,
    ) -> Result<Self> {
        if push.is_some() && image::is_local_reference(reference) {
            bail!(
                "--push needs a registry image; {reference} is local (write the bundle with --bundle instead)"
            );
        }
        Ok(Self {
            signer: signing.signer()?,
            push,
        })
    }

    /// The trust that verifies what this signer signs, where the signer alone determines it.
    pub(super) fn own_trust(&self) -> Option<Trust> {
        self.signer.trust()
    }
}

// ---- attest ------------------------------------------------------------------------------------

/// `exelock attest`'s summary.
pub(super) const ATTEST_ABOUT: &str = r"Sign an image's executable manifest as an in-toto attestation (DSSE, Sigstore bundle) and store it next to the image";

/// `exelock attest`'s help after the options (`$ ` lines are run by the test suite).
pub(super) const ATTEST_AFTER_HELP: &str = r"Every platform image of an index is attested (subject = its digest), and the index too (subject = the
index digest). Stored as OCI 1.1 referrers, with the sha256-<hex> fallback tag where the registry has no
referrers API; --legacy-cosign adds the cosign .att image that cosign verify-attestation and Kyverno read.

Examples:
  $ EXELOCK_PASSWORD= exelock attest oci:testdata/images/demo --key testdata/attest/keys/openssl_p256.pem \
      --bundle /tmp/exelock-example.bundle.json
  $ EXELOCK_PASSWORD= exelock attest oci:testdata/images/multiarch --platform linux/arm64 \
      --key testdata/attest/keys/openssl_p256.pem --bundle /tmp/exelock-example-arm64.bundle.json
  $ exelock attest oci:testdata/images/demo --bundle /tmp/exelock-example.bundle.json   # exit 2: no signer

With a registry:
  exelock attest registry.example/app@sha256:… --key cosign.key --push --legacy-cosign
  exelock attest ghcr.io/acme/app:1.2 --keyless --push      # in GitHub Actions with id-token: write";

#[derive(Args, Debug)]
pub(super) struct AttestArgs {
    /// The image to attest (registry images can be pushed to; local ones only written with --bundle).
    image: String,
    #[command(flatten)]
    signing: SigningArgs,
    /// Attest this manifest (from `exelock scan -o`) instead of scanning; it must name the image's digest.
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
    /// Store the attestation in the image's registry (OCI referrer, fallback tag where needed).
    #[arg(long)]
    push: bool,
    /// With --push, also write the cosign `.att` image read by cosign verify-attestation and Kyverno.
    #[arg(long, requires = "push")]
    legacy_cosign: bool,
    /// Write the Sigstore bundle (a JSON array when several subjects were attested).
    #[arg(long, value_name = "FILE")]
    bundle: Option<PathBuf>,
    /// Attest this platform of a multi-platform index (default: every platform).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", value_parser = parse_platform)]
    platform: Option<Platform>,
    #[command(flatten)]
    access: ImageAccessArgs,
}

/// `attest`, resolved: what to sign, who signs, where it goes.
struct AttestSettings {
    reference: String,
    signing: SigningSettings,
    manifest_file: Option<PathBuf>,
    images: ImageAccess,
    bundle_output: Option<PathBuf>,
}

impl AttestSettings {
    fn resolve(args: &AttestArgs) -> Result<Self> {
        let selection = match &args.platform {
            Some(platform) => PlatformSelection::Only(platform.clone()),
            None => PlatformSelection::All,
        };
        let images = args.access.resolve(&[&args.image], selection)?;
        let push = args.push.then_some(Push {
            legacy_cosign: args.legacy_cosign,
        });
        Ok(Self {
            reference: args.image.clone(),
            signing: SigningSettings::resolve(&args.image, &args.signing, push)?,
            manifest_file: args.manifest.clone(),
            images,
            bundle_output: args.bundle.clone(),
        })
    }

    /// What to sign and how, for [`attest_image`].
    fn request(&self) -> AttestRequest<'_> {
        AttestRequest {
            reference: &self.reference,
            signing: &self.signing,
            manifests: match &self.manifest_file {
                Some(path) => ManifestsToSign::File(path),
                None => ManifestsToSign::Scan,
            },
            images: &self.images,
        }
    }
}

pub(super) fn run_attest(args: &AttestArgs) -> Result<ExitStatus> {
    let settings = AttestSettings::resolve(args)?;
    let attested = attest_image(&settings.request())?;
    if let Some(path) = &settings.bundle_output {
        write_atomically(path, &bundle_file(&attested)?)?;
    }
    std::io::stdout()
        .lock()
        .write_all(render::attest::attested(&settings.reference, &attested).as_bytes())?;
    Ok(ExitStatus::Success)
}

/// The in-toto subject name: the repository for registry images, the reference otherwise.
fn subject_name(reference: &str) -> String {
    if image::is_local_reference(reference) {
        return reference.to_owned();
    }
    image::registry::parse_reference(reference).map_or_else(
        |_| reference.to_owned(),
        |parsed| format!("{}/{}", parsed.registry(), parsed.repository()),
    )
}

/// One signed subject.
pub(super) struct Attested {
    pub(super) subject: Sha256Digest,
    pub(super) platform: String,
    pub(super) attestation: attest::Attestation,
    pub(super) pushed: Option<image::registry::PushedAttestation>,
}

/// Which manifests to sign.
#[derive(Clone, Copy)]
pub(super) enum ManifestsToSign<'a> {
    /// Scan the image now (through the layer cache, if any).
    Scan,
    /// A manifest file (`exelock scan -o`); it must describe an image the reference resolves to.
    File(&'a Path),
    /// Manifests the caller already has.
    InHand {
        /// The manifests.
        manifests: &'a [Manifest],
        /// Whether they were scanned from the reference in this run (not read from a file), so
        /// they need not be checked against a second resolution: a stream (stdin) cannot be
        /// read twice, and an engine would export the image again.
        scanned_now: bool,
    },
}

/// What to attest and how.
#[derive(Clone, Copy)]
pub(super) struct AttestRequest<'a> {
    /// The image.
    pub(super) reference: &'a str,
    /// Who signs, and whether to push.
    pub(super) signing: &'a SigningSettings,
    /// Which manifests.
    pub(super) manifests: ManifestsToSign<'a>,
    /// How to read the image: which platforms, the registry, the layer cache, quiet.
    pub(super) images: &'a ImageAccess,
}

/// Scans (or reads) and signs every selected platform image, and the index it came from.
pub(super) fn attest_image(request: &AttestRequest<'_>) -> Result<Vec<Attested>> {
    let AttestRequest {
        reference,
        signing,
        manifests,
        images,
    } = *request;
    let (selection, registry) = (&images.platforms, &images.registry);
    let (manifests, scanned_now): (Vec<Manifest>, bool) = match manifests {
        ManifestsToSign::File(path) => (vec![read_manifest_file(path)?], false),
        ManifestsToSign::InHand {
            manifests,
            scanned_now,
        } => (manifests.to_vec(), scanned_now),
        ManifestsToSign::Scan => (images.scan(reference, 0)?, true),
    };
    // Nothing is signed for a digest this run did not resolve: a manifest file (or a manifest
    // handed in) must describe exactly an image the reference resolves to now.
    if !scanned_now {
        if image::reads_stdin(reference) {
            bail!(
                "{reference} is read from stdin, so a manifest file cannot be checked against it; scan and attest in one run"
            );
        }
        let resolution = image::open(reference, registry)?.resolve(selection)?;
        for manifest in &manifests {
            check_resolves_to(manifest, reference, &resolution.images)?;
        }
    }
    let name = subject_name(reference);
    let store = match signing.push {
        Some(_) => Some(RegistrySource::open(reference, registry)?),
        None => None,
    };
    let mut out = Vec::new();
    for manifest in &manifests {
        let Some(platform_digest) = manifest.image.manifest_digest else {
            bail!(
                "{} has no manifest digest (a legacy docker save archive): push it to a registry and attest the registry image",
                manifest.image.name
            );
        };
        let mut subjects = vec![platform_digest];
        subjects.extend(manifest.image.index_digest);
        for subject in subjects {
            let attestation = signing.signer.attest(manifest, &name, subject)?;
            let pushed = match (&store, signing.push) {
                (Some(store), Some(push)) => {
                    let envelope = attestation.envelope.to_json()?;
                    Some(store.push_attestation(
                        &subject,
                        &attestation.bundle_json,
                        PREDICATE_TYPE,
                        push.legacy_cosign.then_some(envelope.as_slice()),
                    )?)
                }
                _ => None,
            };
            out.push(Attested {
                subject,
                platform: manifest.image.platform.clone(),
                attestation,
                pushed,
            });
        }
    }
    Ok(out)
}

/// Whether `manifest` describes one of the `images` `reference` resolved to: the same platform
/// manifest, index and config digests. Otherwise signing it would vouch for a digest this run
/// never saw.
fn check_resolves_to(manifest: &Manifest, reference: &str, images: &[ResolvedImage]) -> Result<()> {
    let wanted = &manifest.image;
    let same = |resolved: &ResolvedImage| {
        resolved.manifest_digest == wanted.manifest_digest
            && resolved.index_digest == wanted.index_digest
            && resolved.config_digest == wanted.config_digest
    };
    if images.iter().any(same) {
        return Ok(());
    }
    let digests =
        |manifest: Option<&Sha256Digest>, index: Option<&Sha256Digest>, config: &Sha256Digest| {
            let or_none = |digest: Option<&Sha256Digest>| {
                digest.map_or_else(|| "none".to_owned(), ToString::to_string)
            };
            format!(
                "manifest {}, index {}, config {config}",
                or_none(manifest),
                or_none(index)
            )
        };
    bail!(
        "refusing to sign: the manifest is for {} ({}), but {reference} resolves to {}",
        wanted.name,
        digests(
            wanted.manifest_digest.as_ref(),
            wanted.index_digest.as_ref(),
            &wanted.config_digest
        ),
        images
            .iter()
            .map(|resolved| format!(
                "{} ({})",
                resolved.platform,
                digests(
                    resolved.manifest_digest.as_ref(),
                    resolved.index_digest.as_ref(),
                    &resolved.config_digest
                )
            ))
            .collect::<Vec<_>>()
            .join("; ")
    )
}

/// The `--bundle` file: the one bundle, or a JSON array when several subjects were attested.
fn bundle_file(attested: &[Attested]) -> Result<Vec<u8>> {
    let bundles: Vec<serde_json::Value> = attested
        .iter()
        .map(|a| serde_json::from_slice(&a.attestation.bundle_json))
        .collect::<Result<_, _>>()?;
    let mut bytes = match bundles.as_slice() {
        [one] => serde_json::to_vec_pretty(one)?,
        _ => serde_json::to_vec_pretty(&bundles)?,
    };
    bytes.push(b'\n');
    Ok(bytes)
}

// ---- verify ------------------------------------------------------------------------------------

/// `exelock verify`'s summary.
pub(super) const VERIFY_ABOUT: &str = r"Find and verify an image's attestation: the signature, that it is for exactly this digest, the predicate type";

/// `exelock verify`'s help after the options (`$ ` lines are run by the test suite).
/// testdata/examples/demo.bundle.json attests testdata/images/demo (see testdata/README.md).
pub(super) const VERIFY_AFTER_HELP: &str = r"Exit codes: 0 a valid attestation for exactly this digest was found, 1 none was, 2 usage or input error.

The Sigstore checks (certificate chain and SCT, Rekor v1 and v2 entries with inclusion proofs and checkpoints,
RFC 3161 timestamps) are sigstore-verify's, against the public-good trusted root built in or --trusted-root FILE.
Each rejected candidate is listed with the part that failed: rejected (signature|subject|predicate|identity|
certificate|transparency log|timestamp|bundle).

Examples:
  $ exelock verify --bundle testdata/examples/demo.bundle.json --key testdata/attest/keys/openssl_p256.pub \
      --image-digest sha256:5a95a69e6f29c81410312fe91ce4f629133e8a47afce25c743b74d3f28ecdddf
  $ exelock verify --bundle testdata/examples/demo.bundle.json --key testdata/attest/keys/openssl_p256.pub \
      --image-digest sha256:5a95a69e6f29c81410312fe91ce4f629133e8a47afce25c743b74d3f28ecdddf -o /dev/null -q
  $ exelock verify --bundle testdata/examples/demo.bundle.json --key testdata/attest/keys/openssl_p256.pub \
      --image-digest sha256:1da68632b68b7aa5df76cecc6df4d34f9ab07685f71d913fcc6f01139c86cb8c   # exit 1: another image

With a registry:
  exelock verify registry.example/app@sha256:… --key cosign.pub -o manifest.json
  exelock verify ghcr.io/acme/app:1.2 --certificate-identity https://github.com/acme/app/.github/workflows/image.yml@refs/heads/main \
      --certificate-oidc-issuer https://token.actions.githubusercontent.com
  exelock verify --bundle app.sigstore.json --predicate-type https://slsa.dev/provenance/v1 --artifact app.tar.gz \
      --certificate-identity … --certificate-oidc-issuer …";

#[derive(Args, Debug)]
pub(super) struct VerifyArgs {
    /// The image whose attestation to find and verify (omit with --bundle and --image-digest).
    image: Option<String>,
    #[command(flatten)]
    trust: TrustArgs,
    /// Verify this bundle file (or DSSE envelope, or JSON array of bundles) instead of looking in the registry.
    #[arg(long, value_name = "FILE")]
    bundle: Option<PathBuf>,
    /// With --bundle: the digest the attestation must be for.
    #[arg(long, value_name = "sha256:…")]
    image_digest: Option<Sha256Digest>,
    /// The predicate the attestation must carry: exelock's executable manifest (the default), another predicate type URI (such as SLSA provenance v1's), or `any`.
    #[arg(long, value_name = "URI|any", default_value = PREDICATE_TYPE)]
    predicate_type: PredicateType,
    /// With --bundle and another --predicate-type: hash this file and require a subject with its digest (sha256, or sha512 where the statement uses it).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["image_digest", "subject_digest"])]
    artifact: Option<PathBuf>,
    /// With --bundle and another --predicate-type: the subject digest the attestation must name.
    #[arg(
        long,
        value_name = "sha256:…|sha384:…|sha512:…",
        conflicts_with = "image_digest"
    )]
    subject_digest: Option<SubjectDigest>,
    /// Write the verified manifest (for another --predicate-type: the verified in-toto statement) to FILE.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Verify this platform of a multi-platform index (default linux/amd64).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", value_parser = parse_platform)]
    platform: Option<Platform>,
    /// No notes on stderr.
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// `verify`, resolved: whom to trust, what to verify and where to find it, where output goes.
struct VerifySettings {
    trust: Trust,
    wanted: Wanted,
    registry: SourceSettings,
    output: Option<PathBuf>,
    quiet: bool,
}

/// What `verify` looks for.
enum Wanted {
    /// Attestations of exelock's executable manifest about an image digest.
    Manifest(AttestationSource<Sha256Digest>),
    /// In-toto attestations of another predicate (`--predicate-type URI|any`) about an image or
    /// any artifact, which has one digest per algorithm.
    Statement {
        predicate: PredicateType,
        source: AttestationSource<Vec<SubjectDigest>>,
    },
}

/// Where the attestations are, and what they must be about.
enum AttestationSource<Subject> {
    /// A bundle file, about the subject given (or resolved from the image named).
    BundleFile {
        path: PathBuf,
        /// How the output names what was verified: the image, the artifact, or the digest.
        name: String,
        subject: Subject,
    },
    /// The image's registry: every platform image selected, and the index, is a subject.
    Registry {
        reference: String,
        platform: Option<Platform>,
    },
}

impl VerifySettings {
    fn resolve(args: &VerifyArgs) -> Result<Self> {
        let Some(trust) = args.trust.trust()? else {
            bail!(
                "say whom to trust: --key cosign.pub, or --certificate-identity and --certificate-oidc-issuer (the public-good trusted root is built in; --trusted-root FILE for another instance)"
            );
        };
        let manifest_wanted = args.predicate_type == PredicateType::Manifest;
        if manifest_wanted && (args.artifact.is_some() || args.subject_digest.is_some()) {
            bail!(
                "--artifact and --subject-digest verify attestations of other predicates (--predicate-type URI|any); an exelock manifest is about an image: name it, or pass --image-digest"
            );
        }
        let registry = args.registry.settings()?;
        let wanted = if manifest_wanted {
            Wanted::Manifest(manifest_source(args, &registry)?)
        } else {
            Wanted::Statement {
                predicate: args.predicate_type.clone(),
                source: statement_source(args, &registry)?,
            }
        };
        Ok(Self {
            trust,
            wanted,
            registry,
            output: args.output.clone(),
            quiet: args.quiet,
        })
    }
}

/// Where the manifest attestations are: a bundle file for the digest given or the image's, or
/// the image's registry.
fn manifest_source(
    args: &VerifyArgs,
    registry: &SourceSettings,
) -> Result<AttestationSource<Sha256Digest>> {
    Ok(match (&args.bundle, &args.image) {
        (Some(path), _) => {
            let digest = match (args.image_digest, &args.image) {
                (Some(digest), _) => digest,
                (None, Some(reference)) => {
                    image_digest_of(reference, registry, args.platform.as_ref())?
                }
                (None, None) => bail!("with --bundle, name the image or its --image-digest"),
            };
            AttestationSource::BundleFile {
                path: path.clone(),
                name: args.image.clone().unwrap_or_else(|| digest.to_string()),
                subject: digest,
            }
        }
        (None, Some(reference)) => AttestationSource::Registry {
            reference: reference.clone(),
            platform: args.platform.clone(),
        },
        (None, None) => {
            bail!("name the image to verify, or pass --bundle FILE with --image-digest")
        }
    })
}

/// Where the statements of another predicate are: a bundle file for the artifact, subject
/// digest, image digest or image given, or the image's registry.
fn statement_source(
    args: &VerifyArgs,
    registry: &SourceSettings,
) -> Result<AttestationSource<Vec<SubjectDigest>>> {
    Ok(match (&args.bundle, &args.image) {
        (Some(path), _) => {
            let subjects = match (&args.artifact, &args.subject_digest, args.image_digest) {
                (Some(artifact), _, _) => artifact_digests(artifact)?,
                (None, Some(digest), _) => vec![digest.clone()],
                (None, None, Some(digest)) => vec![SubjectDigest::from(digest)],
                (None, None, None) => match &args.image {
                    Some(reference) => vec![SubjectDigest::from(image_digest_of(
                        reference,
                        registry,
                        args.platform.as_ref(),
                    )?)],
                    None => bail!(
                        "with --bundle, name the subject: --artifact FILE, --subject-digest ALG:HEX, --image-digest, or the image"
                    ),
                },
            };
            let name = args
                .artifact
                .as_ref()
                .map(|artifact| artifact.display().to_string())
                .or_else(|| args.image.clone())
                .unwrap_or_else(|| subjects[0].to_string());
            AttestationSource::BundleFile {
                path: path.clone(),
                name,
                subject: subjects,
            }
        }
        (None, Some(reference)) => AttestationSource::Registry {
            reference: reference.clone(),
            platform: args.platform.clone(),
        },
        (None, None) => bail!(
            "name the image to verify, or pass --bundle FILE with --artifact, --subject-digest or --image-digest"
        ),
    })
}

pub(super) fn run_verify(args: &VerifyArgs) -> Result<ExitStatus> {
    let settings = VerifySettings::resolve(args)?;
    let mut stdout = std::io::stdout().lock();
    // `-o` gets what verified only when everything did.
    let all_valid = match &settings.wanted {
        Wanted::Manifest(source) => {
            let checks = verify_manifests(source, &settings)?;
            stdout.write_all(render::attest::manifest_checks(&checks).as_bytes())?;
            let all_valid = checks
                .iter()
                .all(|check| matches!(check.checked, Checked::Valid { .. }));
            if let (Some(path), true) = (&settings.output, all_valid) {
                write_atomically(path, &manifests_file(checks)?)?;
            }
            all_valid
        }
        Wanted::Statement { predicate, source } => {
            let checks = verify_statements(predicate, source, &settings)?;
            stdout.write_all(render::attest::statement_checks(&checks, predicate).as_bytes())?;
            let all_valid = checks
                .iter()
                .all(|check| !check.found.lookup.valid.is_empty());
            if let (Some(path), true) = (&settings.output, all_valid) {
                write_atomically(path, &statements_file(&checks)?)?;
            }
            all_valid
        }
    };
    Ok(if all_valid {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// A manifest attestation looked up for one subject digest.
pub(super) struct ManifestCheck {
    /// The image (or digest) as the output names it.
    pub(super) name: String,
    /// The digest looked up.
    pub(super) digest: Sha256Digest,
    /// What was found.
    pub(super) checked: Checked,
}

/// Statements of another predicate looked up for one subject.
pub(super) struct StatementCheck {
    /// The image, artifact or digest as the output names it.
    pub(super) name: String,
    /// The subject looked up.
    pub(super) subject: SubjectDigest,
    /// What was found.
    pub(super) found: StatementLookup,
}

/// Verifies the manifest attestations of every subject `source` names.
fn verify_manifests(
    source: &AttestationSource<Sha256Digest>,
    settings: &VerifySettings,
) -> Result<Vec<ManifestCheck>> {
    let trust = &settings.trust;
    source.check_each(
        settings,
        |path, name, digest| {
            Ok(ManifestCheck {
                name: name.to_owned(),
                digest: *digest,
                checked: check_bundle_file(path, digest, trust)?,
            })
        },
        |store, reference, subject| {
            Ok(ManifestCheck {
                name: reference.to_owned(),
                digest: subject.digest,
                checked: check_registry_attestation(
                    store,
                    &subject.digest,
                    trust,
                    Some(&subject.platform),
                )?,
            })
        },
    )
}

/// Verifies the statements of `predicate` for every subject `source` names.
fn verify_statements(
    predicate: &PredicateType,
    source: &AttestationSource<Vec<SubjectDigest>>,
    settings: &VerifySettings,
) -> Result<Vec<StatementCheck>> {
    let trust = &settings.trust;
    source.check_each(
        settings,
        |path, name, digests| {
            Ok(StatementCheck {
                name: name.to_owned(),
                subject: digests
                    .first()
                    .cloned()
                    .context("no digest to verify the statements for")?,
                found: check_bundle_file_statements(path, digests, predicate, trust)?,
            })
        },
        |store, reference, subject| {
            Ok(StatementCheck {
                name: reference.to_owned(),
                subject: SubjectDigest::from(subject.digest),
                found: check_registry_statements(store, &subject.digest, predicate, trust)?,
            })
        },
    )
}

impl<Subject> AttestationSource<Subject> {
    /// One check for a bundle file (`in_bundle`: its path, the output's name for it, and the
    /// subject), or one for each subject of the registry image (`in_registry`: the registry,
    /// the reference, and the subject).
    fn check_each<Check>(
        &self,
        settings: &VerifySettings,
        in_bundle: impl FnOnce(&Path, &str, &Subject) -> Result<Check>,
        mut in_registry: impl FnMut(&RegistrySource, &str, &AttestedSubject) -> Result<Check>,
    ) -> Result<Vec<Check>> {
        match self {
            Self::BundleFile {
                path,
                name,
                subject,
            } => Ok(vec![in_bundle(path, name, subject)?]),
            Self::Registry {
                reference,
                platform,
            } => {
                let (store, subjects) = attested_subjects(reference, platform.as_ref(), settings)?;
                subjects
                    .iter()
                    .map(|subject| in_registry(&store, reference, subject))
                    .collect()
            }
        }
    }
}

/// A digest a platform image's attestations are stored under.
struct AttestedSubject {
    /// The platform image's platform, as `os/arch[/variant]`.
    platform: String,
    /// Its manifest's digest or its index's.
    digest: Sha256Digest,
}

/// The registry image `reference` (of `platform` in an index) and the digests its platform
/// images' attestations are stored under: each one's manifest digest, then its index's. Notes
/// about resolving an index go to stderr unless quiet. Local images keep no attestations.
fn attested_subjects(
    reference: &str,
    platform: Option<&Platform>,
    settings: &VerifySettings,
) -> Result<(RegistrySource, Vec<AttestedSubject>)> {
    if image::is_local_reference(reference) {
        bail!(
            "attestations are stored in registries; for the local image {reference} pass --bundle FILE"
        );
    }
    let store = RegistrySource::open(reference, &settings.registry)?;
    let resolution = store.resolve(&selection_of(platform, false))?;
    if !settings.quiet {
        for note in &resolution.notes {
            eprintln!("note: {note}");
        }
    }
    let subjects = resolution
        .images
        .iter()
        .flat_map(|resolved| {
            let platform = resolved.platform.to_string();
            resolved
                .manifest_digest
                .into_iter()
                .chain(resolved.index_digest)
                .map(move |digest| AttestedSubject {
                    platform: platform.clone(),
                    digest,
                })
        })
        .collect();
    Ok((store, subjects))
}

/// The digest of the image `reference` names (of `platform` in an index).
fn image_digest_of(
    reference: &str,
    registry: &SourceSettings,
    platform: Option<&Platform>,
) -> Result<Sha256Digest> {
    let source = image::open(reference, registry)?;
    let resolution = source.resolve(&selection_of(platform, false))?;
    resolution.images[0]
        .manifest_digest
        .with_context(|| format!("{reference} has no manifest digest to verify against"))
}

/// The sha256 and sha512 of a file, read once.
fn artifact_digests(path: &Path) -> Result<Vec<SubjectDigest>> {
    use sha2::Digest as _;
    let mut file = fs_err::File::open(path)?;
    let mut sha256 = sha2::Sha256::new();
    let mut sha512 = sha2::Sha512::new();
    let mut buffer = vec![0_u8; 1 << 16];
    loop {
        let read = file
            .read(&mut buffer)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if read == 0 {
            break;
        }
        sha256.update(&buffer[..read]);
        sha512.update(&buffer[..read]);
    }
    Ok(vec![
        format!("sha256:{}", hex::encode(sha256.finalize()))
            .parse()
            .map_err(anyhow::Error::msg)?,
        format!("sha512:{}", hex::encode(sha512.finalize()))
            .parse()
            .map_err(anyhow::Error::msg)?,
    ])
}

/// `-o`'s content: the verified manifest, or a JSON array of the distinct ones.
fn manifests_file(checks: Vec<ManifestCheck>) -> Result<Vec<u8>> {
    let mut manifests: Vec<Manifest> = Vec::new();
    for check in checks {
        if let Checked::Valid { attestation, .. } = check.checked
            && !manifests.contains(attestation.manifest())
        {
            manifests.push(attestation.into_manifest());
        }
    }
    let mut bytes = match manifests.as_slice() {
        [one] => one.to_json()?,
        many => {
            let mut out = serde_json::to_vec_pretty(many)?;
            out.push(b'\n');
            out
        }
    };
    if bytes.last() != Some(&b'\n') {
        bytes.push(b'\n');
    }
    Ok(bytes)
}

/// `-o`'s content for another predicate: the first valid statement of each subject, or a JSON
/// array of the distinct ones.
fn statements_file(checks: &[StatementCheck]) -> Result<Vec<u8>> {
    let mut statements: Vec<serde_json::Value> = Vec::new();
    for valid in checks
        .iter()
        .filter_map(|check| check.found.lookup.valid.first())
    {
        let statement: serde_json::Value =
            serde_json::from_slice(valid.attestation.statement_json())?;
        if !statements.contains(&statement) {
            statements.push(statement);
        }
    }
    let mut bytes = match statements.as_slice() {
        [one] => serde_json::to_vec_pretty(one)?,
        many => serde_json::to_vec_pretty(many)?,
    };
    bytes.push(b'\n');
    Ok(bytes)
}
