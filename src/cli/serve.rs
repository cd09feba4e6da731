//! `exelock serve` on the command line: its flags and environment variables, and the step from
//! them to the running service.
//!
//! [`ServeArgs`] is plain data as clap parsed it; nothing here judges, stores or listens. Secret
//! values (tokens, API keys, Basic credentials, the webhook URL) come from a file named by a flag
//! or from an environment variable holding the value itself, never from a flag's value, so they
//! stay out of process listings and shell history; `secret` reads either.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use std::io::Write as _;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::Args;

use crate::evidence::Resolver;
use crate::image::registry::{AddressRange, RegistryAllowList};
use crate::serve::auth::{
    ApiKeyCheck, BasicCheck, BearerCheck, EventBridgeCheck, GoogleTokenSettings,
    GoogleTokenVerifier, JwksSource, Secret,
};
use crate::serve::notify::Event;
use crate::serve::{self, Settings, TlsSettings};

use super::attest::TrustArgs;
use super::{ExitStatus, RegistryArgs};

/// Google's OAuth2 signing keys, which sign Pub/Sub's push tokens.
pub(super) const GOOGLE_JWKS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";

/// The environment variable holding GuardDuty's API key itself (`--guardduty-api-key-file` names a file instead).
pub(super) const GUARDDUTY_API_KEY_VARIABLE: &str = "EXELOCK_GUARDDUTY_API_KEY";
/// The environment variable holding GuardDuty's Basic credentials, `user:password`.
pub(super) const GUARDDUTY_BASIC_VARIABLE: &str = "EXELOCK_GUARDDUTY_BASIC";
/// The environment variable holding Falcosidekick's bearer token.
pub(super) const FALCO_TOKEN_VARIABLE: &str = "EXELOCK_FALCO_TOKEN";
/// The environment variable holding the bearer token of `POST /v1/findings`.
pub(super) const FINDINGS_TOKEN_VARIABLE: &str = "EXELOCK_FINDINGS_TOKEN";
/// The environment variable holding the bearer token of the read endpoints (also what
/// `gate --bake URL` sends).
pub(super) const READ_TOKEN_VARIABLE: &str = "EXELOCK_READ_TOKEN";
/// The environment variable holding the alert webhook's URL (Slack's carry their secret in the path).
pub(super) const WEBHOOK_URL_VARIABLE: &str = "EXELOCK_WEBHOOK_URL";

/// `exelock serve`'s after-help: what each source needs, the endpoints, the environment, examples
/// (`$ ` lines are run by the test suite from the repository root; `# exit N` states the exit code).
pub(super) const SERVE_AFTER_HELP: &str = r#"Sources: each is on once its authentication is configured; until then it answers 404 "not enabled".
  POST /v1/scc        SCC notifications through a Pub/Sub push subscription with authentication:
                      --scc-audience (the subscription's --push-auth-token-audience) and
                      --scc-service-account (its --push-auth-service-account). Wrapped and
                      unwrapped (--push-no-wrapper) deliveries are both read.
  POST /v1/guardduty  GuardDuty findings through an EventBridge API destination: the connection's
                      API key (--guardduty-api-key-file or EXELOCK_GUARDDUTY_API_KEY, header
                      --guardduty-api-key-header) or Basic (--guardduty-basic-file or
                      EXELOCK_GUARDDUTY_BASIC, `user:password`).
  POST /v1/falco      Falcosidekick's webhook output: a bearer token (--falco-token-file or
                      EXELOCK_FALCO_TOKEN, sent as customheaders "Authorization:Bearer …") and/or
                      mutual TLS (--tls-client-ca, with --tls-cert and --tls-key).
  POST /v1/findings   any format `triage` reads: --findings-token-file or EXELOCK_FINDINGS_TOKEN.
Reading (bearer --read-token-file or EXELOCK_READ_TOKEN):
  GET /v1/findings?verdict=V&image=REF&since=RFC3339&limit=N, GET /v1/findings/{source}/{id},
  GET /v1/bake/{repository}: the bake list `exelock gate --bake URL` checks a rebuild against.
Operations (no authentication; keep them off the public address): GET /healthz, GET /readyz
(the database answers), GET /metrics (Prometheus text).

Secrets come from files (a Kubernetes or Cloud Run secret volume) or from the environment
variables above, which hold the value itself: EXELOCK_GUARDDUTY_API_KEY, EXELOCK_GUARDDUTY_BASIC,
EXELOCK_FALCO_TOKEN, EXELOCK_FINDINGS_TOKEN, EXELOCK_READ_TOKEN, EXELOCK_WEBHOOK_URL, and
EXELOCK_REGISTRY_PASSWORD (with --username). They are never logged.

Images are fetched only from --allow-registry hosts, and never from a loopback, link-local or
private address unless --allow-private-address covers it: a finding must not make the service
fetch where an attacker points it. SIGTERM stops accepting, finishes requests in flight for up to
--drain-seconds, then exits. Database migrations run at start. The full guide is docs/serve.md.

Examples:
  $ exelock serve --check-config --allow-registry ghcr.io --key testdata/attest/keys/openssl_p256.pub
  $ exelock serve --check-config --allow-registry ghcr.io   # exit 2: nothing to judge against

Running:
  echo "$(openssl rand -hex 32)" > findings.token
  exelock serve --allow-registry ghcr.io --key cosign.pub --findings-token-file findings.token
  EXELOCK_FALCO_TOKEN=… exelock serve --listen 0.0.0.0:8443 --tls-cert tls.crt --tls-key tls.key \
      --allow-registry registry.example --key cosign.pub --read-token-file read.token
  exelock serve --listen 0.0.0.0:8080 --db postgres://exelock@db.internal/exelock \
      --allow-registry europe-docker.pkg.dev --allowlist allowlist.json \
      --certificate-identity https://github.com/acme/app/.github/workflows/image.yml@refs/heads/main \
      --certificate-oidc-issuer https://token.actions.githubusercontent.com \
      --scc-audience https://exelock.example/v1/scc \
      --scc-service-account scc-push@acme-security.iam.gserviceaccount.com
  exelock gate ghcr.io/acme/app@sha256:… --bake https://exelock.example/v1/bake/ghcr.io/acme/app"#;

/// `exelock serve`: every flag and environment variable, as given. The service's settings are
/// built from this; no field is interpreted here.
#[derive(Args, Debug)]
pub(super) struct ServeArgs {
    #[command(flatten)]
    pub(super) service: ServiceArgs,

    #[command(flatten, next_help_heading = "Evidence")]
    pub(super) trust: TrustArgs,
    /// Known-good binaries (repeatable), as for `triage`: an allowlist
    /// (`{"entries":[{"sha256":…,"path":…}]}`) or an exelock manifest.
    #[arg(long, value_name = "FILE")]
    pub(super) allowlist: Vec<PathBuf>,

    /// A registry findings' images may be fetched from (repeatable; comma-separated in the
    /// variable). Required: nothing else is fetched.
    #[arg(
        long = "allow-registry",
        env = "EXELOCK_ALLOW_REGISTRY",
        value_name = "HOST[:PORT]",
        value_delimiter = ',',
        required = true,
        help_heading = "Registry"
    )]
    pub(super) allow_registries: Vec<String>,
    /// A loopback, link-local or private network an allowed registry may resolve to
    /// (repeatable; comma-separated in the variable). Such addresses are refused otherwise.
    #[arg(
        long = "allow-private-address",
        env = "EXELOCK_ALLOW_PRIVATE_ADDRESS",
        value_name = "CIDR",
        value_delimiter = ',',
        help_heading = "Registry"
    )]
    pub(super) allow_private_addresses: Vec<String>,
    #[command(flatten)]
    pub(super) registry: RegistryArgs,

    #[command(flatten)]
    pub(super) scc: SccArgs,
    #[command(flatten)]
    pub(super) guardduty: GuardDutyArgs,

    /// Falco: a file holding the bearer token Falcosidekick sends (or the token in
    /// EXELOCK_FALCO_TOKEN).
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Falco (Falcosidekick webhook)"
    )]
    pub(super) falco_token_file: Option<PathBuf>,
    /// `POST /v1/findings`: a file holding its bearer token (or the token in
    /// EXELOCK_FINDINGS_TOKEN).
    #[arg(long, value_name = "FILE", help_heading = "Findings and reading")]
    pub(super) findings_token_file: Option<PathBuf>,
    /// The read endpoints (findings, bake lists): a file holding their bearer token (or the
    /// token in EXELOCK_READ_TOKEN).
    #[arg(long, value_name = "FILE", help_heading = "Findings and reading")]
    pub(super) read_token_file: Option<PathBuf>,

    #[command(flatten)]
    pub(super) tls: TlsArgs,
}

/// Where the service listens, what it stores and caches, and how it stops.
#[derive(Args, Debug)]
#[command(next_help_heading = "Service")]
pub(super) struct ServiceArgs {
    /// The address to listen on (0.0.0.0:8080 in a container).
    #[arg(
        long,
        env = "EXELOCK_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub(super) listen: SocketAddr,
    /// The store: a SQLite file (PATH or sqlite:PATH, created if missing; one replica), or
    /// postgres://USER@HOST/DB for replicas sharing one store (password in the URL).
    #[arg(
        long,
        env = "EXELOCK_DB",
        value_name = "URL",
        default_value = "exelock.db",
        hide_env_values = true
    )]
    pub(super) db: String,
    /// Manifests kept verified in memory, one per image digest.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub(super) cache_size: u64,
    /// Seconds a cached manifest is trusted before it is fetched and verified again.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub(super) cache_ttl: u64,
    /// Largest request body accepted; a larger one is refused with 413.
    #[arg(long, value_name = "N", default_value_t = 1_048_576)]
    pub(super) max_body_bytes: usize,
    /// On SIGTERM: stop accepting and give requests in flight this long to finish (keep it
    /// below the platform's grace period).
    #[arg(long, value_name = "N", default_value_t = 25)]
    pub(super) drain_seconds: u64,
    /// Check the configuration (flags, keys, trusted root, secrets, allowlists) and exit
    /// without opening the database or listening: 0 when it would start, 2 when not.
    #[arg(long)]
    pub(super) check_config: bool,
    /// Post findings that need action to this Slack-compatible webhook ({"text": …}), read from
    /// FILE (or the URL itself in EXELOCK_WEBHOOK_URL). They always go to stdout as JSON lines.
    #[arg(long, value_name = "FILE")]
    pub(super) webhook_url_file: Option<PathBuf>,
}

/// `POST /v1/scc`: what Pub/Sub's push tokens must carry and who signs them.
#[derive(Args, Debug)]
#[command(next_help_heading = "SCC (Pub/Sub push)")]
pub(super) struct SccArgs {
    /// SCC: the audience Pub/Sub's push tokens must carry (the subscription's
    /// --push-auth-token-audience; by default Pub/Sub uses the push endpoint URL).
    #[arg(
        id = "scc_audience",
        long = "scc-audience",
        env = "EXELOCK_SCC_AUDIENCE",
        value_name = "AUD",
        requires = "scc_service_account"
    )]
    pub(super) audience: Option<String>,
    /// SCC: the service account the push tokens must name, with a verified email (the
    /// subscription's --push-auth-service-account).
    #[arg(
        id = "scc_service_account",
        long = "scc-service-account",
        env = "EXELOCK_SCC_SERVICE_ACCOUNT",
        value_name = "EMAIL",
        requires = "scc_audience"
    )]
    pub(super) service_account: Option<String>,
    /// SCC: the keys that sign push tokens, a JWKS URL or file.
    #[arg(
        id = "scc_jwks",
        long = "scc-jwks",
        env = "EXELOCK_SCC_JWKS",
        value_name = "URL|FILE",
        default_value = GOOGLE_JWKS_URL
    )]
    pub(super) jwks: String,
}

/// `POST /v1/guardduty`: the EventBridge connection's API key or Basic credentials.
#[derive(Args, Debug)]
#[command(next_help_heading = "GuardDuty (EventBridge API destination)")]
pub(super) struct GuardDutyArgs {
    /// GuardDuty: the header the EventBridge connection puts its API key in.
    #[arg(
        id = "guardduty_api_key_header",
        long = "guardduty-api-key-header",
        value_name = "NAME",
        default_value = "x-api-key"
    )]
    pub(super) api_key_header: String,
    /// GuardDuty: a file holding the connection's API key (or the key itself in
    /// EXELOCK_GUARDDUTY_API_KEY).
    #[arg(
        id = "guardduty_api_key_file",
        long = "guardduty-api-key-file",
        value_name = "FILE"
    )]
    pub(super) api_key_file: Option<PathBuf>,
    /// GuardDuty: a file holding the connection's Basic credentials, `user:password` (or them
    /// in EXELOCK_GUARDDUTY_BASIC).
    #[arg(
        id = "guardduty_basic_file",
        long = "guardduty-basic-file",
        value_name = "FILE"
    )]
    pub(super) basic_file: Option<PathBuf>,
}

/// HTTPS, and mutual TLS for Falcosidekick.
#[derive(Args, Debug)]
#[command(next_help_heading = "TLS")]
pub(super) struct TlsArgs {
    /// Serve HTTPS with this certificate chain (with --tls-key).
    #[arg(
        id = "tls_cert",
        long = "tls-cert",
        env = "EXELOCK_TLS_CERT",
        value_name = "PEM",
        requires = "tls_key"
    )]
    pub(super) cert: Option<PathBuf>,
    /// The private key of --tls-cert.
    #[arg(
        id = "tls_key",
        long = "tls-key",
        env = "EXELOCK_TLS_KEY",
        value_name = "PEM",
        requires = "tls_cert"
    )]
    pub(super) key: Option<PathBuf>,
    /// Mutual TLS: clients must present a certificate this CA signed (Falcosidekick's
    /// mutualtls). Needs --tls-cert and --tls-key.
    #[arg(
        id = "tls_client_ca",
        long = "tls-client-ca",
        env = "EXELOCK_TLS_CLIENT_CA",
        value_name = "PEM",
        requires = "tls_cert"
    )]
    pub(super) client_ca: Option<PathBuf>,
}

/// A secret from `file` (the `flag`'s value) or from `variable` (holding the value itself).
fn secret(file: Option<&Path>, flag: &str, variable: &str) -> Result<Option<Secret>> {
    let from_environment = std::env::var_os(variable);
    Ok(match (file, from_environment) {
        (Some(_), Some(_)) => {
            bail!("{flag} and {variable} are both set: pass the secret one way")
        }
        (None, None) => None,
        (Some(path), None) => Some(Secret::from_file(path)?),
        (None, Some(value)) => match value.into_string() {
            Ok(value) => Some(Secret::from_environment(variable, value)?),
            Err(_) => bail!("{variable} is not UTF-8"),
        },
    })
}

/// Resolves the flags into the service's settings: every file read and checked before the
/// service listens, so a typo fails at start, not at the first finding.
fn settings(args: &ServeArgs) -> Result<Settings> {
    let trust = args.trust.trust()?;
    if trust.is_none() {
        bail!(
            "serve judges findings against signed manifests: pass --key cosign.pub, or --certificate-identity and --certificate-oidc-issuer"
        );
    }
    let ranges = args
        .allow_private_addresses
        .iter()
        .map(|text| {
            text.parse::<AddressRange>()
                .map_err(|error| anyhow::anyhow!("--allow-private-address {text:?}: {error}"))
        })
        .collect::<Result<Vec<_>>>()?;
    let allow_list = RegistryAllowList::new(args.allow_registries.clone(), ranges)?;
    let resolver = Resolver::new(trust, args.registry.settings()?).with_allow_list(allow_list);
    let scc = match (&args.scc.audience, &args.scc.service_account) {
        (None, None) => None,
        (Some(audience), Some(service_account)) => {
            Some(GoogleTokenVerifier::new(GoogleTokenSettings {
                audience: audience.clone(),
                service_account: service_account.clone(),
                jwks: JwksSource::parse(&args.scc.jwks)?,
            })?)
        }
        _ => bail!(
            "/v1/scc needs both --scc-audience (the push subscription's token audience) and --scc-service-account (its service account)"
        ),
    };
    let api_key = secret(
        args.guardduty.api_key_file.as_deref(),
        "--guardduty-api-key-file",
        GUARDDUTY_API_KEY_VARIABLE,
    )?
    .map(|key| ApiKeyCheck::new(&args.guardduty.api_key_header, &key))
    .transpose()?;
    let basic = secret(
        args.guardduty.basic_file.as_deref(),
        "--guardduty-basic-file",
        GUARDDUTY_BASIC_VARIABLE,
    )?
    .map(|credentials| BasicCheck::new(&credentials))
    .transpose()?;
    let bearer = |file: Option<&Path>, flag: &str, variable: &str| -> Result<Option<BearerCheck>> {
        Ok(secret(file, flag, variable)?.map(|token| BearerCheck::new(&token)))
    };
    let tls = match (&args.tls.cert, &args.tls.key, &args.tls.client_ca) {
        (None, None, None) => None,
        (Some(cert), Some(key), client_ca) => Some(TlsSettings {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: client_ca.clone(),
        }),
        (_, _, Some(_)) => bail!("--tls-client-ca needs --tls-cert and --tls-key"),
        _ => bail!("TLS needs both --tls-cert and --tls-key"),
    };
    let webhook_url = secret(
        args.service.webhook_url_file.as_deref(),
        "--webhook-url-file",
        WEBHOOK_URL_VARIABLE,
    )?;
    if let Some(url) = &webhook_url {
        let valid = std::str::from_utf8(url.expose())
            .ok()
            .and_then(|text| reqwest::Url::parse(text).ok())
            .is_some_and(|url| matches!(url.scheme(), "https" | "http"));
        if !valid {
            bail!("the webhook URL in {} is not an http(s) URL", url.origin());
        }
    }
    Ok(Settings {
        listen: args.service.listen,
        db: args.service.db.clone(),
        resolver,
        allowlist: super::triage::read_allowlists(&args.allowlist)?,
        scc,
        guardduty: EventBridgeCheck::new(api_key, basic),
        falco_token: bearer(
            args.falco_token_file.as_deref(),
            "--falco-token-file",
            FALCO_TOKEN_VARIABLE,
        )?,
        findings_token: bearer(
            args.findings_token_file.as_deref(),
            "--findings-token-file",
            FINDINGS_TOKEN_VARIABLE,
        )?,
        read_token: bearer(
            args.read_token_file.as_deref(),
            "--read-token-file",
            READ_TOKEN_VARIABLE,
        )?,
        tls,
        webhook_url,
        cache_size: args.service.cache_size,
        cache_ttl: Duration::from_secs(args.service.cache_ttl),
        max_body_bytes: args.service.max_body_bytes,
        drain: Duration::from_secs(args.service.drain_seconds),
        // GuardDuty's API destinations give up after 5 s.
        deadline: Duration::from_millis(4500),
    })
}

/// Runs the service until SIGTERM or Ctrl-C.
pub(super) fn run_serve(args: &ServeArgs) -> Result<ExitStatus> {
    let settings = settings(args)?;
    if args.service.check_config {
        println!(
            "exelock serve: configuration ok (would listen on {})",
            settings.listen
        );
        return Ok(ExitStatus::Success);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let (events, mut received) = tokio::sync::mpsc::channel::<Event>(1024);
        // The only printer: alerts to stdout as JSON lines, logs to stderr.
        let printer = tokio::task::spawn_blocking(move || {
            while let Some(event) = received.blocking_recv() {
                let written = match event {
                    Event::Alert(line) => {
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "{line}").and_then(|()| out.flush())
                    }
                    Event::Log(line) => {
                        writeln!(std::io::stderr().lock(), "{}", super::terminal_safe(&line))
                    }
                };
                if written.is_err() {
                    break;
                }
            }
        });
        let address = settings.listen;
        let (state, listener) = serve::prepare(settings, events.clone()).await?;
        let _ = events
            .send(Event::Log(format!("exelock serve: listening on {address}")))
            .await;
        listener.serve(state, shutdown_signal()).await?;
        let _ = events
            .send(Event::Log("exelock serve: stopped".to_owned()))
            .await;
        drop(events);
        let _ = printer.await;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitStatus::Success)
}

/// Resolves on SIGTERM (Kubernetes, Cloud Run) or Ctrl-C.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
