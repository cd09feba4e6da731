//! `exelock serve`: the HTTP service runtime detectors push findings to. Each finding is judged
//! as `triage` judges it ([`crate::evidence`], same verdicts and soundness rules), stored
//! (idempotent per source and finding id, [`store`]), alerted on when it needs action
//! ([`notify`]), and its legitimate binaries feed the bake list of the image's repository that
//! `gate --bake URL` reads.
//!
//! The request path stays short: authenticate ([`auth`]), parse ([`intake`]), take the image's
//! verified manifest from a bounded, expiring cache whose loads run once per image however many
//! findings ask at once ([`cache`]), judge, store, answer. The registry work is sync and runs on
//! the blocking pool. Transient failures (registry or database unreachable) answer 503 so the
//! sender retries; bad input answers 4xx naming the problem so a poison message is not retried
//! forever. This module prints nothing: what the operator sees goes through [`notify::Event`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use crate::evidence::{self, ImageQuery};
use crate::finding::{Finding, Source};
use crate::triage::{Allowlist, Verdict};

pub mod auth;
pub mod cache;
pub mod intake;
pub mod metrics;
pub mod notify;
pub mod store;

use auth::{BearerCheck, EventBridgeCheck, GoogleTokenVerifier, Secret};
use intake::Intake;
use metrics::{Metrics, RouteLabels, VerdictLabels};
use notify::Notifier;
use store::{FindingFilter, FindingRecord, Store};

/// Errors starting or running the service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listening address cannot be bound.
    #[error("cannot listen on {address}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The TLS certificate, key or client CA does not load.
    #[error("TLS: {problem}")]
    Tls {
        /// What is wrong, naming the file.
        problem: String,
    },
    /// The store does not open.
    #[error(transparent)]
    Store(#[from] store::Error),
    /// Serving failed.
    #[error("the server stopped")]
    Serve(#[source] std::io::Error),
}

/// TLS for the listener.
pub struct TlsSettings {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// PEM CA certificates client certificates must chain to (mutual TLS); every connection
    /// must then present one.
    pub client_ca: Option<PathBuf>,
}

/// Everything the service needs, resolved before it starts.
pub struct Settings {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The store's URL (SQLite path or `postgres://…`).
    pub db: String,
    /// Resolves and verifies images (trust, registry settings, allow-list).
    pub resolver: evidence::Resolver,
    /// Hashes and paths vouched for beyond the image.
    pub allowlist: Allowlist,
    /// Pub/Sub push token verification; `None` disables `/v1/scc`.
    pub scc: Option<GoogleTokenVerifier>,
    /// GuardDuty's API key or Basic credentials; `None` disables `/v1/guardduty`.
    pub guardduty: Option<EventBridgeCheck>,
    /// Falcosidekick's bearer token; with neither it nor mutual TLS, `/v1/falco` is disabled.
    pub falco_token: Option<BearerCheck>,
    /// The bearer token of `POST /v1/findings`; `None` disables it.
    pub findings_token: Option<BearerCheck>,
    /// The bearer token of the read endpoints; `None` disables them.
    pub read_token: Option<BearerCheck>,
    /// TLS, and mutual TLS with a client CA.
    pub tls: Option<TlsSettings>,
    /// Slack-compatible webhook for needs-action verdicts.
    pub webhook_url: Option<Secret>,
    /// Images kept verified at once.
    pub cache_size: u64,
    /// How long a verified manifest (or a final refusal) is reused.
    pub cache_ttl: Duration,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// How long in-flight requests may take to finish after SIGTERM.
    pub drain: Duration,
    /// A finding's judgement past this answers 503 (GuardDuty wants an answer within 5 s).
    pub deadline: Duration,
}

/// The state every handler shares.
pub struct AppState {
    store: Store,
    cache: cache::ManifestCache,
    allowlist: Arc<Allowlist>,
    scc: Option<GoogleTokenVerifier>,
    guardduty: Option<EventBridgeCheck>,
    falco_token: Option<BearerCheck>,
    falco_mtls: bool,
    findings_token: Option<BearerCheck>,
    read_token: Option<BearerCheck>,
    notifier: Notifier,
    metrics: Arc<Metrics>,
    deadline: Duration,
}

/// Opens the store and builds the shared state; `events` receives alerts and logs.
///
/// # Errors
/// The store does not open or migrate.
pub async fn prepare(
    settings: Settings,
    events: tokio::sync::mpsc::Sender<notify::Event>,
) -> Result<(Arc<AppState>, Listener), Error> {
    let store = Store::open(&settings.db).await?;
    let metrics = Arc::new(Metrics::default());
    let notifier = Notifier::new(events, settings.webhook_url, Arc::clone(&metrics));
    let state = Arc::new(AppState {
        store,
        cache: cache::ManifestCache::new(
            settings.resolver,
            settings.cache_size,
            settings.cache_ttl,
            Arc::clone(&metrics),
        ),
        allowlist: Arc::new(settings.allowlist),
        scc: settings.scc,
        guardduty: settings.guardduty,
        falco_token: settings.falco_token,
        falco_mtls: settings
            .tls
            .as_ref()
            .is_some_and(|tls| tls.client_ca.is_some()),
        findings_token: settings.findings_token,
        read_token: settings.read_token,
        notifier,
        metrics,
        deadline: settings.deadline,
    });
    let listener = Listener {
        address: settings.listen,
        tls: settings.tls,
        max_body_bytes: settings.max_body_bytes,
        drain: settings.drain,
    };
    Ok((state, listener))
}

/// Where and how the service listens.
pub struct Listener {
    address: SocketAddr,
    tls: Option<TlsSettings>,
    max_body_bytes: usize,
    drain: Duration,
}

impl Listener {
    /// Serves until `shutdown` resolves, then stops accepting and lets in-flight requests
    /// finish for the drain period.
    ///
    /// # Errors
    /// The address cannot be bound, TLS does not load, or serving fails.
    pub async fn serve(
        self,
        state: Arc<AppState>,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let app = router(state, self.max_body_bytes);
        let listener =
            std::net::TcpListener::bind(self.address).map_err(|source| Error::Listen {
                address: self.address,
                source,
            })?;
        listener
            .set_nonblocking(true)
            .map_err(|source| Error::Listen {
                address: self.address,
                source,
            })?;
        let handle = axum_server::Handle::new();
        let drain = self.drain;
        let stopper = handle.clone();
        tokio::spawn(async move {
            shutdown.await;
            stopper.graceful_shutdown(Some(drain));
        });
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        match self.tls {
            None => axum_server::from_tcp(listener)
                .map_err(Error::Serve)?
                .handle(handle)
                .serve(service)
                .await
                .map_err(Error::Serve),
            Some(tls) => {
                let config = rustls_config(&tls)?;
                axum_server::tls_rustls::from_tcp_rustls(
                    listener,
                    axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(config)),
                )
                .map_err(Error::Serve)?
                .handle(handle)
                .serve(service)
                .await
                .map_err(Error::Serve)
            }
        }
    }
}

fn rustls_config(tls: &TlsSettings) -> Result<rustls::ServerConfig, Error> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let tls_error = |problem: String| Error::Tls { problem };
    let certs = CertificateDer::pem_file_iter(&tls.cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|error| {
            tls_error(format!(
                "{}: not a PEM certificate chain ({error})",
                tls.cert.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(tls_error(format!(
            "{}: no certificate in it",
            tls.cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(&tls.key).map_err(|error| {
        tls_error(format!(
            "{}: not a PEM private key ({error})",
            tls.key.display()
        ))
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| tls_error(error.to_string()))?;
    let builder = match &tls.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(path)
                .map_err(|error| tls_error(format!("{}: not PEM ({error})", path.display())))?
            {
                let cert = cert
                    .map_err(|error| tls_error(format!("{}: not PEM ({error})", path.display())))?;
                roots.add(cert).map_err(|error| {
                    tls_error(format!(
                        "{}: not a CA certificate ({error})",
                        path.display()
                    ))
                })?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|error| tls_error(format!("{}: {error}", path.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|error| tls_error(format!("{}: {error}", tls.key.display())))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The routes.
pub fn router(state: Arc<AppState>, max_body_bytes: usize) -> Router {
    Router::new()
        .route(
            "/v1/scc",
            post(|State(state), headers, body| push(state, Intake::Scc, headers, body)),
        )
        .route(
            "/v1/guardduty",
            post(|State(state), headers, body| push(state, Intake::GuardDuty, headers, body)),
        )
        .route(
            "/v1/falco",
            post(|State(state), headers, body| push(state, Intake::Falco, headers, body))
                .put(|State(state), headers, body| push(state, Intake::Falco, headers, body)),
        )
        .route(
            "/v1/findings",
            post(|State(state), headers, body| push(state, Intake::Findings, headers, body))
                .get(list_findings),
        )
        .route("/v1/findings/{source}/{*id}", get(get_finding))
        .route("/v1/bake/{*repository}", get(get_bake))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

/// An error answer: status and a JSON body `{"error": …}` naming the problem.
struct Failure(StatusCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, axum::Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

fn not_enabled(route: &str, how: &str) -> Failure {
    Failure(
        StatusCode::NOT_FOUND,
        format!("{route} is not enabled on this service: start it with {how}"),
    )
}

fn unauthorized(error: &auth::AuthError) -> Failure {
    let status = if error.is_unavailable() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::UNAUTHORIZED
    };
    Failure(status, crate::error_chain(error))
}

/// A push endpoint: authenticates as its source requires, then judges and stores the body's
/// findings, timing the whole answer per route.
async fn push(
    state: Arc<AppState>,
    intake: Intake,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let started = Instant::now();
    let answer = match authenticate(&state, intake, &headers).await {
        Ok(()) => accept(&state, intake, &body).await,
        Err(failure) => Err(failure),
    };
    state
        .metrics
        .latency
        .get_or_create(&RouteLabels {
            route: format!("/v1/{intake}"),
        })
        .observe(started.elapsed().as_secs_f64());
    match answer {
        Ok(json) => json.into_response(),
        Err(failure) => failure.into_response(),
    }
}

/// Each source's authentication; a source with none configured is not enabled.
async fn authenticate(
    state: &AppState,
    intake: Intake,
    headers: &HeaderMap,
) -> Result<(), Failure> {
    let checked = match intake {
        Intake::Scc => {
            let Some(verifier) = &state.scc else {
                return Err(not_enabled(
                    "/v1/scc",
                    "--scc-audience and --scc-service-account",
                ));
            };
            verifier.verify(headers).await.map(|_| ())
        }
        Intake::GuardDuty => {
            let Some(check) = &state.guardduty else {
                return Err(not_enabled(
                    "/v1/guardduty",
                    "--guardduty-api-key-file or --guardduty-basic-file",
                ));
            };
            check.check(headers)
        }
        Intake::Falco => match (&state.falco_token, state.falco_mtls) {
            (None, false) => {
                return Err(not_enabled(
                    "/v1/falco",
                    "--falco-token-file or --tls-client-ca",
                ));
            }
            (Some(token), _) => token.check(headers),
            // The TLS handshake already required a certificate the client CA signed.
            (None, true) => Ok(()),
        },
        Intake::Findings => {
            let Some(token) = &state.findings_token else {
                return Err(not_enabled("POST /v1/findings", "--findings-token-file"));
            };
            token.check(headers)
        }
    };
    checked.map_err(|error| unauthorized(&error))
}

/// The answer to a push: what was judged and stored.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Accepted {
    findings: Vec<AcceptedFinding>,
    /// Findings of the body that did not parse (the rest were judged).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    malformed: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AcceptedFinding {
    source: Source,
    id: String,
    verdicts: Vec<Verdict>,
    needs_action: bool,
    stored: store::Stored,
}

/// Parses, judges, stores and alerts on every finding of a body.
async fn accept(
    state: &Arc<AppState>,
    intake: Intake,
    body: &[u8],
) -> Result<axum::Json<Accepted>, Failure> {
    let delivery = intake::findings(intake, body)
        .map_err(|error| Failure(StatusCode::BAD_REQUEST, crate::error_chain(&error)))?;
    let malformed: Vec<String> = delivery
        .unreadable
        .iter()
        .map(|error| crate::error_chain(error))
        .collect();
    let findings = delivery.findings;
    let judged = tokio::time::timeout(state.deadline, judge_all(state, findings))
        .await
        .map_err(|_| {
            Failure(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the image is still being resolved after {} s; retry",
                    state.deadline.as_secs_f32()
                ),
            )
        })??;
    Ok(axum::Json(Accepted {
        findings: judged,
        malformed,
    }))
}

async fn judge_all(
    state: &Arc<AppState>,
    findings: Vec<Finding>,
) -> Result<Vec<AcceptedFinding>, Failure> {
    let mut out = Vec::with_capacity(findings.len());
    for finding in findings {
        out.push(judge_one(state, finding).await?);
    }
    Ok(out)
}

async fn judge_one(state: &Arc<AppState>, finding: Finding) -> Result<AcceptedFinding, Failure> {
    let query = ImageQuery::for_finding(&finding, None);
    let repository = query.as_ref().ok().and_then(ImageQuery::repository);
    let report = match query {
        Err(error) => {
            evidence::FindingReport::unresolved(&finding, None, &error.reason(), &state.allowlist)
        }
        Ok(query) => match state.cache.get(&query).await {
            Err(transient) => {
                return Err(Failure(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("{}: {transient}; retry", query.label()),
                ));
            }
            Ok(resolved) => {
                let label = query.label();
                if let Some(report) =
                    resolved.judge_without_layers(&finding, &label, &state.allowlist)
                {
                    report
                } else {
                    let resolver = state.cache.resolver();
                    let allowlist = Arc::clone(&state.allowlist);
                    tokio::task::spawn_blocking(move || {
                        resolved.judge(&resolver, &finding, &label, &allowlist)
                    })
                    .await
                    .map_err(|error| {
                        Failure(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            format!("judging failed: {error}"),
                        )
                    })?
                }
            }
        },
    };
    let verdicts = report.verdicts();
    for verdict in &verdicts {
        state
            .metrics
            .verdicts
            .get_or_create(&VerdictLabels {
                source: report.source.to_string(),
                verdict: verdict.to_string(),
            })
            .inc();
    }
    let line = serde_json::to_string(&report).map_err(|error| {
        Failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the report does not serialize: {error}"),
        )
    })?;
    let needs_action = report.needs_action();
    let record = FindingRecord {
        source: report.source,
        id: report.id.clone(),
        image: report.image.clone(),
        repository,
        verdicts: verdicts.clone(),
        needs_action,
        report: line.clone(),
        received_at: SystemTime::now(),
        bake: report.bake_entries().cloned().collect(),
    };
    let stored = state.store.record(record).await.map_err(|error| {
        state.metrics.store_errors.inc();
        store_failure(error)
    })?;
    if needs_action && stored == store::Stored::New {
        state.notifier.alert(line, summary(&report)).await;
    }
    Ok(AcceptedFinding {
        source: report.source,
        id: report.id,
        verdicts,
        needs_action,
        stored,
    })
}

/// One line for a chat channel: what ran, where, and the verdicts.
fn summary(report: &evidence::FindingReport) -> String {
    let binaries: Vec<String> = report
        .binaries
        .iter()
        .map(|binary| {
            format!(
                "{} {}",
                binary.judgement.verdict,
                binary.judgement.path.as_deref().unwrap_or("(no path)")
            )
        })
        .collect();
    format!(
        "exelock: needs action: {} in {} ({} finding {})",
        binaries.join(", "),
        report.image.as_deref().unwrap_or("an unknown image"),
        report.source,
        report.id
    )
}

fn check_read(state: &AppState, headers: &HeaderMap) -> Result<(), Failure> {
    let Some(token) = &state.read_token else {
        return Err(not_enabled("reading findings", "--read-token-file"));
    };
    token.check(headers).map_err(|error| unauthorized(&error))
}

/// `GET /v1/findings` query parameters.
#[derive(Deserialize)]
struct ListQuery {
    verdict: Option<String>,
    image: Option<String>,
    since: Option<String>,
    limit: Option<u32>,
}

async fn list_findings(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<axum::Json<serde_json::Value>, Failure> {
    check_read(&state, &headers)?;
    let verdict = query
        .verdict
        .as_deref()
        .map(|text| {
            text.parse::<Verdict>()
                .map_err(|error| Failure(StatusCode::BAD_REQUEST, format!("verdict: {error}")))
        })
        .transpose()?;
    let since = query
        .since
        .as_deref()
        .map(|text| {
            text.parse::<jiff::Timestamp>()
                .map(SystemTime::from)
                .map_err(|_| {
                    Failure(
                        StatusCode::BAD_REQUEST,
                        format!("since: {text:?} is not an RFC 3339 time (2026-12-01T10:00:00Z)"),
                    )
                })
        })
        .transpose()?;
    let filter = FindingFilter {
        verdict,
        image: query.image,
        since,
        limit: query.limit.unwrap_or(100).min(1000),
    };
    let found = state.store.list(&filter).await.map_err(store_failure)?;
    Ok(axum::Json(serde_json::json!({ "findings": found })))
}

fn store_failure(error: store::Error) -> Failure {
    let status = if error.is_transient() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    Failure(status, crate::error_chain(&error))
}

async fn get_finding(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((source, id)): Path<(String, String)>,
) -> Result<axum::Json<store::StoredFinding>, Failure> {
    check_read(&state, &headers)?;
    let source: Source = source
        .parse()
        .map_err(|error| Failure(StatusCode::BAD_REQUEST, format!("source: {error}")))?;
    match state.store.get(source, &id).await.map_err(store_failure)? {
        Some(found) => Ok(axum::Json(found)),
        None => Err(Failure(
            StatusCode::NOT_FOUND,
            format!("no finding {id:?} from {source}"),
        )),
    }
}

async fn get_bake(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(repository): Path<String>,
) -> Result<axum::Json<crate::bake::BakeList>, Failure> {
    check_read(&state, &headers)?;
    let list = state
        .store
        .bake_list(&repository)
        .await
        .map_err(store_failure)?;
    Ok(axum::Json(list))
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    match state.store.ping().await {
        Ok(()) => "ready\n".into_response(),
        Err(error) => Failure(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the database is not reachable: {error}"),
        )
        .into_response(),
    }
}

async fn metrics_text(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
