//! Keyless signing with Sigstore, through the Sigstore project's own `sigstore-sign` crate: an
//! ephemeral key certified by Fulcio for an OIDC identity, the signature logged in Rekor (API v1
//! or v2) and timestamped by an RFC 3161 timestamp authority, all in a v0.3 bundle.
//!
//! - Which services: a Sigstore signing config ([`SigningConfig`]), the public-good one built in
//!   or one the caller read from a file, and the Rekor API version to log in ([`RekorVersion`]).
//! - Whose identity: an OIDC token in hand, or one fetched from the GitHub Actions OIDC endpoint
//!   ([`IdentityTokenSource`]). Fulcio verifies the token; exelock only reads its claims to fail
//!   early on a token that is not a JWT or has expired.
//! - [`KeylessSigner::attest`] builds exelock's in-toto statement and has the crate sign exactly
//!   those bytes (`Signer::sign_raw_statement`); the crate makes the ephemeral key, the proof of
//!   possession, the Fulcio, Rekor and TSA requests and the bundle.
//!
//! The crate is async. A private current-thread tokio runtime, one per signer and reused for
//! every subject, answers the sync calls (as in `image::registry`), so signing stays a plain call
//! in the sync core and the CLI. This module never reads the environment or files and prints
//! nothing: the CLI passes the signing config, the token or the GitHub Actions values in.

use std::fmt;
use std::time::Duration;

use sigstore_sign::oidc::IdentityToken;
use sigstore_sign::rekor::RekorApiVersion;
use sigstore_sign::reqwest;
use sigstore_sign::trust_root::SigningConfig as ServiceList;
use sigstore_sign::types::{Bundle, SignatureContent};
use sigstore_sign::{SigningContext, SigningServices};

use super::statement::Statement;
use super::{Attestation, dsse};
use crate::digest::Sha256Digest;
use crate::manifest::Manifest;

/// The public-good instance's signing config, built in: the `signing_config.v0.2.json` target of
/// Sigstore's TUF repository (<https://tuf-repo-cdn.sigstore.dev>) as sigstore-trust-root 0.15.1
/// ships it (`repository/signing_config.json`, added to sigstore-rust on 2025-12-01). It names
/// Fulcio `https://fulcio.sigstore.dev`, Rekor v1 `https://rekor.sigstore.dev` and the TSA
/// `https://timestamp.sigstore.dev/api/v1/timestamp` (valid from 2025-07-04, its newest entry).
/// It lists no Rekor v2 log, so `--rekor-version 2` needs a signing config that does.
pub const PUBLIC_GOOD_SIGNING_CONFIG: &str =
    sigstore_sign::trust_root::SIGSTORE_PRODUCTION_SIGNING_CONFIG;

/// The audience Fulcio requires of identity tokens.
pub const SIGSTORE_AUDIENCE: &str = "sigstore";

/// How long one request to Fulcio, Rekor, the TSA or the GitHub Actions OIDC endpoint may take.
/// Rekor v2 answers only once the entry is in the log, which takes seconds.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Errors of keyless signing. None of them carries the identity token.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A signing config that does not parse or is not v0.2.
    #[error("the signing config is not a Sigstore signing config v0.2")]
    SigningConfig {
        /// The parser's complaint.
        #[source]
        source: sigstore_sign::trust_root::Error,
    },
    /// A signing config that lacks a usable service (e.g. no Rekor v2 log, no TSA).
    #[error("the signing config cannot be used to sign")]
    SigningServices {
        /// What is missing.
        #[source]
        source: sigstore_sign::Error,
    },
    /// An identity token that is not a JWT with `iss`, `sub` and `exp` claims.
    #[error("the OIDC identity token is not a JWT with iss, sub and exp claims")]
    IdentityToken {
        /// The parser's complaint (never the token).
        #[source]
        source: sigstore_sign::oidc::Error,
    },
    /// An identity token past its `exp`.
    #[error("the OIDC identity token (issuer {issuer}) expired at {expired_at}; get a fresh one")]
    IdentityTokenExpired {
        /// The token's `iss`.
        issuer: String,
        /// Its `exp`, RFC 3339.
        expired_at: String,
    },
    /// The GitHub Actions OIDC endpoint did not answer.
    #[error("cannot get an OIDC token from the GitHub Actions endpoint {url}")]
    GitHubActionsRequest {
        /// `ACTIONS_ID_TOKEN_REQUEST_URL`.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The GitHub Actions OIDC endpoint answered with an error status.
    #[error(
        "the GitHub Actions OIDC endpoint {url} answered HTTP {status}: {body} (does the job have `permissions: id-token: write`?)"
    )]
    GitHubActionsStatus {
        /// `ACTIONS_ID_TOKEN_REQUEST_URL`.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the answer.
        body: String,
    },
    /// The GitHub Actions OIDC endpoint answered 2xx without a token.
    #[error(
        "the GitHub Actions OIDC endpoint {url} answered without a token (expected {{\"value\": \"<jwt>\"}})"
    )]
    GitHubActionsAnswer {
        /// `ACTIONS_ID_TOKEN_REQUEST_URL`.
        url: String,
    },
    /// `ACTIONS_ID_TOKEN_REQUEST_URL` is not a URL.
    #[error("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL (got {url:?})")]
    GitHubActionsUrl {
        /// The value.
        url: String,
    },
    /// Fulcio did not certify the ephemeral key.
    #[error("Fulcio at {url} did not issue a signing certificate")]
    Fulcio {
        /// Fulcio's base URL.
        url: String,
        /// Fulcio's answer or the transport error.
        #[source]
        source: sigstore_sign::fulcio::Error,
    },
    /// Rekor did not log the signature.
    #[error("Rekor (API v{version}) at {url} did not log the signature")]
    Rekor {
        /// Rekor's base URL.
        url: String,
        /// The API version spoken.
        version: RekorVersion,
        /// Rekor's answer or the transport error.
        #[source]
        source: sigstore_sign::rekor::Error,
    },
    /// The timestamp authority did not timestamp the signature.
    #[error("the timestamp authority at {url} did not timestamp the signature")]
    Tsa {
        /// The TSA's URL.
        url: String,
        /// The TSA's answer or the transport error.
        #[source]
        source: sigstore_sign::tsa::Error,
    },
    /// Any other signing failure (key generation, bundle assembly).
    #[error("keyless signing failed")]
    Sign {
        /// The cause.
        #[source]
        source: sigstore_sign::Error,
    },
    /// The signed bundle is not a DSSE bundle of exelock's statement.
    #[error("the signed bundle does not carry the statement exelock signed: {reason}")]
    SignedBundle {
        /// What differs.
        reason: &'static str,
    },
    /// The signed bundle does not serialise.
    #[error("cannot serialise the signed bundle")]
    BundleJson {
        /// The cause.
        #[source]
        source: sigstore_sign::types::Error,
    },
    /// The async runtime or the HTTP client cannot be set up.
    #[error("cannot set up {what} for keyless signing")]
    Setup {
        /// `the async runtime`, `the HTTP client`.
        what: &'static str,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The Rekor API version to log signatures in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RekorVersion {
    /// Rekor v1: a `dsse` 0.0.1 entry, a signed entry timestamp and an inclusion proof.
    #[default]
    V1,
    /// Rekor v2: a `hashedrekord` 0.0.2 entry of the DSSE signature, an inclusion proof and a
    /// checkpoint, no signed entry timestamp (the TSA timestamp dates the signature).
    V2,
}

impl RekorVersion {
    const fn api_version(self) -> RekorApiVersion {
        match self {
            Self::V1 => RekorApiVersion::V1,
            Self::V2 => RekorApiVersion::V2,
        }
    }
}

impl fmt::Display for RekorVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::V1 => "1",
            Self::V2 => "2",
        })
    }
}

impl std::str::FromStr for RekorVersion {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "1" => Ok(Self::V1),
            "2" => Ok(Self::V2),
            other => Err(format!(
                "unknown Rekor API version (got {other:?}, expected 1 or 2)"
            )),
        }
    }
}

/// A Sigstore signing config (`application/vnd.dev.sigstore.signingconfig.v0.2+json`): the
/// Fulcio, Rekor logs (with their API versions) and TSAs of one Sigstore instance.
#[derive(Clone, Debug)]
pub struct SigningConfig(ServiceList);

impl SigningConfig {
    /// The public-good instance's, built in ([`PUBLIC_GOOD_SIGNING_CONFIG`]).
    ///
    /// # Errors
    /// Never in practice (the built-in document is tested).
    pub fn public_good() -> Result<Self, super::Error> {
        Self::from_json(PUBLIC_GOOD_SIGNING_CONFIG)
    }

    /// Parses a signing config, e.g. a `signing_config.json` read from a file.
    ///
    /// # Errors
    /// [`Error::SigningConfig`] for JSON that is not a v0.2 signing config.
    pub fn from_json(json: &str) -> Result<Self, super::Error> {
        ServiceList::from_json(json)
            .map(Self)
            .map_err(|source| Error::SigningConfig { source }.into())
    }

    /// The services to sign with: the config's Fulcio, its Rekor log of `rekor_version`, and its
    /// TSA. Endpoints outside their `validFor` are skipped.
    ///
    /// # Errors
    /// [`Error::SigningServices`] when the config lists no such log, no Fulcio or no TSA, or
    /// asks for more logs or TSAs than one.
    pub fn services(&self, rekor_version: RekorVersion) -> Result<Services, super::Error> {
        SigningServices::from_signing_config_with_rekor_version(
            &self.0,
            Some(rekor_version.api_version()),
        )
        .and_then(|services| services.validate().map(|()| services))
        .map(|services| Services {
            services,
            rekor_version,
        })
        .map_err(|source| Error::SigningServices { source }.into())
    }
}

/// The services one signer uses, chosen from a [`SigningConfig`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Services {
    services: SigningServices,
    rekor_version: RekorVersion,
}

impl Services {
    /// Fulcio's base URL.
    #[must_use]
    pub fn fulcio_url(&self) -> &str {
        self.services.fulcio_url()
    }

    /// The Rekor log's base URL.
    #[must_use]
    pub fn rekor_url(&self) -> &str {
        self.services.rekor_url()
    }

    /// The API version the log speaks.
    #[must_use]
    pub const fn rekor_version(&self) -> RekorVersion {
        self.rekor_version
    }

    /// The timestamp authority's URL.
    #[must_use]
    pub fn tsa_url(&self) -> Option<&str> {
        self.services.tsa_url()
    }
}

/// Where the OIDC identity token comes from.
#[derive(Clone)]
pub enum IdentityTokenSource {
    /// A token in hand (`--identity-token`, `SIGSTORE_ID_TOKEN`).
    Token(String),
    /// The GitHub Actions OIDC endpoint: the values of `ACTIONS_ID_TOKEN_REQUEST_URL` and
    /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN` (the job needs `permissions: id-token: write`).
    GitHubActions {
        /// `ACTIONS_ID_TOKEN_REQUEST_URL`.
        request_url: String,
        /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
        request_token: String,
    },
}

impl fmt::Debug for IdentityTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Token(_) => f.write_str("Token(<redacted>)"),
            Self::GitHubActions { request_url, .. } => f
                .debug_struct("GitHubActions")
                .field("request_url", request_url)
                .field("request_token", &"<redacted>")
                .finish(),
        }
    }
}

/// Signs keyless: one Fulcio certificate, Rekor entry and TSA timestamp per attestation.
pub struct KeylessSigner {
    runtime: tokio::runtime::Runtime,
    services: Services,
    signer: sigstore_sign::Signer,
}

impl fmt::Debug for KeylessSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The crate's signer does not show its token either.
        f.debug_struct("KeylessSigner")
            .field("services", &self.services)
            .finish_non_exhaustive()
    }
}

impl KeylessSigner {
    /// A signer for `services` and the token from `token`. A GitHub Actions source is asked for
    /// a token (audience `sigstore`) now, and the token is read now, so a missing permission or
    /// an unusable token fails before anything is scanned or signed.
    ///
    /// # Errors
    /// [`Error::Setup`]; the GitHub Actions errors; [`Error::IdentityToken`] and
    /// [`Error::IdentityTokenExpired`].
    pub fn new(services: Services, token: IdentityTokenSource) -> Result<Self, super::Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| Error::Setup {
                what: "the async runtime",
                source: Box::new(source),
            })?;
        let http = {
            let _context = runtime.enter();
            reqwest::Client::builder()
                .user_agent(concat!("exelock/", env!("CARGO_PKG_VERSION")))
                .timeout(REQUEST_TIMEOUT)
                .build()
                .map_err(|source| Error::Setup {
                    what: "the HTTP client",
                    source: Box::new(source),
                })?
        };
        let jwt = match token {
            IdentityTokenSource::Token(jwt) => jwt,
            IdentityTokenSource::GitHubActions {
                request_url,
                request_token,
            } => runtime.block_on(github_actions_token(&http, &request_url, &request_token))?,
        };
        let identity_token = read_identity_token(&jwt)?;
        let signer = SigningContext::new(services.services.clone())
            .with_http_client(http)
            .signer(identity_token);
        Ok(Self {
            runtime,
            services,
            signer,
        })
    }

    /// The services this signer uses.
    #[must_use]
    pub const fn services(&self) -> &Services {
        &self.services
    }

    /// Wraps `manifest` in exelock's in-toto statement for `subject_digest` (named
    /// `subject_name`) and signs exactly those bytes: a fresh ephemeral key and Fulcio
    /// certificate, a Rekor entry, a TSA timestamp.
    ///
    /// # Errors
    /// [`Error::Fulcio`], [`Error::Rekor`], [`Error::Tsa`] naming the service that failed;
    /// [`Error::Sign`] otherwise.
    pub fn attest(
        &self,
        manifest: &Manifest,
        subject_name: &str,
        subject_digest: Sha256Digest,
    ) -> Result<Attestation, super::Error> {
        let statement_json =
            Statement::for_manifest(manifest, subject_name, &subject_digest).to_json()?;
        let bundle = self
            .runtime
            .block_on(self.signer.sign_raw_statement(&statement_json))
            .map_err(|source| self.service_error(source))?;
        Ok(attestation_from_bundle(statement_json, &bundle)?)
    }

    /// Names the service a signing error came from.
    fn service_error(&self, error: sigstore_sign::Error) -> Error {
        let services = &self.services;
        match error {
            sigstore_sign::Error::Fulcio(source) => Error::Fulcio {
                url: services.fulcio_url().to_owned(),
                source,
            },
            sigstore_sign::Error::Rekor(source) => Error::Rekor {
                url: services.rekor_url().to_owned(),
                version: services.rekor_version(),
                source,
            },
            sigstore_sign::Error::Tsa(source) => Error::Tsa {
                url: services.tsa_url().unwrap_or_default().to_owned(),
                source,
            },
            source => Error::Sign { source },
        }
    }
}

/// Reads the token's claims (unverified: Fulcio verifies the token) and refuses an expired one.
/// A GitHub Actions token has `sub` and no `email`; Fulcio's proof of possession then signs
/// `sub`.
fn read_identity_token(jwt: &str) -> Result<IdentityToken, Error> {
    let token =
        IdentityToken::from_jwt(jwt.trim()).map_err(|source| Error::IdentityToken { source })?;
    if token.is_expired() {
        return Err(Error::IdentityTokenExpired {
            issuer: token.issuer().to_owned(),
            expired_at: token.expiration().to_string(),
        });
    }
    Ok(token)
}

/// Asks the GitHub Actions OIDC endpoint for a token with audience `sigstore`:
/// `GET {request_url}&audience=sigstore` with `Authorization: Bearer {request_token}`, answer
/// `{"value": "<jwt>"}`.
///
/// Not sigstore-oidc's `IdentityToken::detect_ambient`: that reads the environment itself (here
/// only the CLI does), needs `GITHUB_ACTIONS=true`, and also probes other CI providers.
async fn github_actions_token(
    http: &reqwest::Client,
    request_url: &str,
    request_token: &str,
) -> Result<String, Error> {
    let mut url = reqwest::Url::parse(request_url).map_err(|_| Error::GitHubActionsUrl {
        url: request_url.to_owned(),
    })?;
    url.query_pairs_mut()
        .append_pair("audience", SIGSTORE_AUDIENCE);
    let request_error = |source| Error::GitHubActionsRequest {
        url: request_url.to_owned(),
        source,
    };
    let response = http
        .get(url)
        .bearer_auth(request_token)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(request_error)?;
    let status = response.status();
    let body = response.bytes().await.map_err(request_error)?;
    if !status.is_success() {
        return Err(Error::GitHubActionsStatus {
            url: request_url.to_owned(),
            status: status.as_u16(),
            body: String::from_utf8_lossy(&body).chars().take(300).collect(),
        });
    }
    #[derive(serde::Deserialize)]
    struct TokenAnswer {
        value: String,
    }
    serde_json::from_slice::<TokenAnswer>(&body)
        .ok()
        .map(|answer| answer.value)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| Error::GitHubActionsAnswer {
            url: request_url.to_owned(),
        })
}

/// exelock's attestation forms of a signed bundle: the statement, the DSSE envelope inside the
/// bundle, and the bundle JSON.
fn attestation_from_bundle(statement_json: Vec<u8>, bundle: &Bundle) -> Result<Attestation, Error> {
    let SignatureContent::DsseEnvelope(signed) = &bundle.content else {
        return Err(Error::SignedBundle {
            reason: "it carries no DSSE envelope",
        });
    };
    if signed.payload.as_bytes() != statement_json.as_slice() {
        return Err(Error::SignedBundle {
            reason: "its envelope payload differs from the statement",
        });
    }
    let envelope = dsse::Envelope {
        payload: statement_json.clone(),
        payload_type: signed.payload_type.clone(),
        signatures: vec![dsse::Signature {
            keyid: signed.signature.keyid.as_str().to_owned(),
            sig: signed.signature.sig.as_bytes().to_vec(),
        }],
    };
    let bundle_json = bundle
        .to_json()
        .map_err(|source| Error::BundleJson { source })?
        .into_bytes();
    Ok(Attestation {
        statement_json,
        envelope,
        bundle_json,
    })
}

#[cfg(test)]
mod tests;
