//! Keyless signing with Sigstore.
//!
//! Signing ([`attest_keyless`]):
//! 1. read the OIDC identity token's claims (unverified: Fulcio verifies the token) to pick the
//!    proof-of-possession challenge: the `email` claim when present, else `sub` (GitHub Actions);
//! 2. generate an ephemeral P-256 key and sign the challenge with it;
//! 3. `POST {fulcio}/api/v2/signingCert` (`publicKeyRequest` + `credentials.oidcIdentityToken`);
//!    Fulcio answers with a certificate chain, leaf first, whose key must be ours;
//! 4. sign the in-toto statement as DSSE with the ephemeral key (keyid empty);
//! 5. `POST {rekor}/api/v1/log/entries` with a `dsse` v0.0.1 entry (the envelope and the leaf
//!    certificate). The `dsse` type is what current Sigstore clients (cosign 2.4+ with the new
//!    bundle format, sigstore-go, sigstore-python) upload; the sigstore crate's Rekor client only
//!    knows `intoto` and `hashedrekord`, so exelock speaks the REST API itself;
//! 6. assemble a v0.3 bundle: the leaf certificate and the log entry (`logIndex`, `logId`,
//!    `kindVersion`, `integratedTime`, `inclusionPromise.signedEntryTimestamp`, `inclusionProof`
//!    when Rekor returned one, `canonicalizedBody`).
//!
//! The ephemeral key lives only in memory and is dropped (zeroized) when signing returns.
//! All HTTP goes through [`HttpTransport`], so tests answer in-process; nothing here reads the
//! environment — the CLI passes `ACTIONS_ID_TOKEN_REQUEST_URL`/`_TOKEN` values in.
//! The trusted root keyless *verification* relies on is [`super::trusted_root`].

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use x509_cert::der::Encode as _;

use super::bundle::{Bundle, TransparencyLogEntry};
use super::http::{HttpRequest, HttpResponse, HttpTransport, Method, ReqwestTransport};
use super::keys::{KeySigner, PublicKey};
use super::sign::sign_envelope;
use super::statement::Statement;
use super::x509;
use super::{Attestation, Error, dsse, tlog};
use crate::digest::Sha256Digest;
use crate::manifest::Manifest;

/// The public-good Fulcio instance.
pub const PUBLIC_FULCIO_URL: &str = "https://fulcio.sigstore.dev";
/// The public-good Rekor instance.
pub const PUBLIC_REKOR_URL: &str = "https://rekor.sigstore.dev";
/// The OIDC issuer of GitHub Actions identity tokens.
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// Where to sign and with which identity.
#[derive(Clone)]
pub struct KeylessSettings {
    /// Fulcio's base URL, e.g. [`PUBLIC_FULCIO_URL`].
    pub fulcio_url: String,
    /// Rekor's base URL, e.g. [`PUBLIC_REKOR_URL`].
    pub rekor_url: String,
    /// The OIDC identity token (a JWT with audience `sigstore`).
    pub identity_token: String,
}

impl fmt::Debug for KeylessSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeylessSettings")
            .field("fulcio_url", &self.fulcio_url)
            .field("rekor_url", &self.rekor_url)
            .field("identity_token", &"<redacted>")
            .finish()
    }
}

/// Asks the GitHub Actions OIDC endpoint for an identity token:
/// `GET {request_url}&audience={audience}` with `Authorization: bearer {request_token}`, answer
/// `{"value": "<jwt>"}`. Pass the values of `ACTIONS_ID_TOKEN_REQUEST_URL` and
/// `ACTIONS_ID_TOKEN_REQUEST_TOKEN` (the job needs `permissions: id-token: write`) and the
/// audience `sigstore`.
///
/// # Errors
/// [`Error::Http`], [`Error::HttpStatus`], [`Error::Json`] or [`Error::ServiceResponse`].
pub fn github_actions_id_token(
    request_url: &str,
    request_token: &str,
    audience: &str,
) -> Result<String, Error> {
    let transport = real_transport("github actions oidc", request_url)?;
    github_actions_id_token_with(&transport, request_url, request_token, audience)
}

/// [`github_actions_id_token`] over another transport.
///
/// # Errors
/// As [`github_actions_id_token`].
pub fn github_actions_id_token_with(
    transport: &dyn HttpTransport,
    request_url: &str,
    request_token: &str,
    audience: &str,
) -> Result<String, Error> {
    const SERVICE: &str = "github actions oidc";
    let separator = if request_url.contains('?') { '&' } else { '?' };
    let url = format!(
        "{request_url}{separator}audience={}",
        percent_encode(audience)
    );
    let request = HttpRequest {
        method: Method::Get,
        url,
        headers: vec![
            ("Authorization".into(), format!("bearer {request_token}")),
            ("Accept".into(), "application/json".into()),
        ],
        body: Vec::new(),
    };
    let response = send(transport, SERVICE, &request)?;
    #[derive(Deserialize)]
    struct TokenResponse {
        value: String,
    }
    let token: TokenResponse =
        serde_json::from_slice(&response.body).map_err(|source| Error::Json {
            document: "github actions oidc token response",
            source,
        })?;
    if token.value.is_empty() {
        return Err(Error::ServiceResponse {
            service: SERVICE,
            reason: "the token is empty",
        });
    }
    Ok(token.value)
}

/// Signs `manifest` keyless: Fulcio certificate for the token's identity, ephemeral key, Rekor
/// entry, bundle with certificate and log entry. See the module docs for the steps.
///
/// # Errors
/// [`Error::IdentityToken`] for a token that is not a JWT with `sub`; HTTP and service errors
/// from Fulcio and Rekor; [`Error::FulcioKeyMismatch`] when Fulcio certifies another key.
pub fn attest_keyless(
    manifest: &Manifest,
    subject_name: &str,
    subject_digest: Sha256Digest,
    settings: &KeylessSettings,
) -> Result<Attestation, Error> {
    let transport = real_transport("fulcio", &settings.fulcio_url)?;
    attest_keyless_with(&transport, manifest, subject_name, subject_digest, settings)
}

/// [`attest_keyless`] over another transport.
///
/// # Errors
/// As [`attest_keyless`].
pub fn attest_keyless_with(
    transport: &dyn HttpTransport,
    manifest: &Manifest,
    subject_name: &str,
    subject_digest: Sha256Digest,
    settings: &KeylessSettings,
) -> Result<Attestation, Error> {
    let ephemeral = KeySigner::generate()?;
    attest_keyless_using(
        transport,
        &ephemeral,
        manifest,
        subject_name,
        subject_digest,
        settings,
    )
}

/// The keyless flow with a given ephemeral key (tests pass a key their fake Fulcio certified).
pub(crate) fn attest_keyless_using(
    transport: &dyn HttpTransport,
    ephemeral: &KeySigner,
    manifest: &Manifest,
    subject_name: &str,
    subject_digest: Sha256Digest,
    settings: &KeylessSettings,
) -> Result<Attestation, Error> {
    let claims = token_claims(&settings.identity_token)?;
    let challenge = claims.challenge()?;
    let certificate_pem = request_certificate(transport, ephemeral, settings, challenge)?;
    let (_, certificate_der) = p256::pkcs8::der::pem::decode_vec(certificate_pem.as_bytes())
        .map_err(|source| Error::Pem {
            what: "certificate",
            source,
        })?;
    let certificate = x509::parse(&certificate_der, "the certificate from fulcio")?;
    let certified_key = certificate
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .ok()
        .and_then(|der| PublicKey::from_der(&der).ok());
    if certified_key.as_ref() != Some(ephemeral.public_key()) {
        return Err(Error::FulcioKeyMismatch);
    }

    let statement_json =
        Statement::for_manifest(manifest, subject_name, &subject_digest).to_json()?;
    let envelope = sign_envelope(&statement_json, ephemeral, String::new())?;
    let entry = upload_to_rekor(transport, settings, &envelope, &certificate_pem)?;
    // The log must have recorded exactly what was sent (the envelope has one signature).
    for signature in &envelope.signatures {
        tlog::check_dsse_entry(&entry, &envelope, &signature.sig, &certificate_der)?;
    }
    let bundle_json =
        Bundle::with_certificate(&envelope, certificate_der, vec![entry]).to_json()?;
    Ok(Attestation {
        statement_json,
        envelope,
        bundle_json,
    })
}

fn real_transport(service: &'static str, url: &str) -> Result<ReqwestTransport, Error> {
    ReqwestTransport::new().map_err(|source| Error::Http {
        service,
        url: url.to_owned(),
        source: Box::new(source),
    })
}

/// Sends and insists on a 2xx status.
fn send(
    transport: &dyn HttpTransport,
    service: &'static str,
    request: &HttpRequest,
) -> Result<HttpResponse, Error> {
    let response = transport.send(request).map_err(|source| Error::Http {
        service,
        url: request.url.clone(),
        source,
    })?;
    if !(200..300).contains(&response.status) {
        let body = String::from_utf8_lossy(&response.body);
        return Err(Error::HttpStatus {
            service,
            url: request.url.clone(),
            status: response.status,
            body: body.chars().take(300).collect(),
        });
    }
    Ok(response)
}

/// The identity token claims exelock reads.
#[derive(Debug, Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

impl Claims {
    /// What Fulcio expects signed as proof of possession: the email for email identities, else
    /// the subject.
    fn challenge(&self) -> Result<&str, Error> {
        self.email
            .as_deref()
            .or(self.sub.as_deref())
            .filter(|text| !text.is_empty())
            .ok_or(Error::IdentityToken {
                reason: "it has neither an `email` nor a `sub` claim",
            })
    }
}

/// Reads a JWT's claims without verifying it.
fn token_claims(token: &str) -> Result<Claims, Error> {
    let mut parts = token.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::IdentityToken {
            reason: "it is not a JWT (three dot-separated parts)",
        });
    };
    let json = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| Error::IdentityToken {
            reason: "its claims are not base64url",
        })?;
    serde_json::from_slice(&json).map_err(|_| Error::IdentityToken {
        reason: "its claims are not a JSON object",
    })
}

/// Fulcio v2 `CreateSigningCertificateRequest` → the leaf certificate PEM.
fn request_certificate(
    transport: &dyn HttpTransport,
    ephemeral: &KeySigner,
    settings: &KeylessSettings,
    challenge: &str,
) -> Result<String, Error> {
    const SERVICE: &str = "fulcio";
    let proof =
        base64::engine::general_purpose::STANDARD.encode(ephemeral.sign(challenge.as_bytes())?);
    let body = serde_json::json!({
        "credentials": {"oidcIdentityToken": settings.identity_token},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": ephemeral.public_key_pem()?},
            "proofOfPossession": proof,
        },
    });
    let request = HttpRequest {
        method: Method::Post,
        url: join_url(&settings.fulcio_url, "api/v2/signingCert"),
        headers: vec![
            (
                "Authorization".into(),
                format!("Bearer {}", settings.identity_token),
            ),
            ("Content-Type".into(), "application/json".into()),
            ("Accept".into(), "application/json".into()),
        ],
        body: serde_json::to_vec(&body).map_err(|source| Error::Serialize {
            what: "fulcio request",
            source,
        })?,
    };
    let response = send(transport, SERVICE, &request)?;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct SigningCertificate {
        #[serde(default)]
        signed_certificate_embedded_sct: Option<Chained>,
        #[serde(default)]
        signed_certificate_detached_sct: Option<Chained>,
    }
    #[derive(Deserialize)]
    struct Chained {
        chain: Chain,
    }
    #[derive(Deserialize)]
    struct Chain {
        #[serde(default)]
        certificates: Vec<String>,
    }
    let answer: SigningCertificate =
        serde_json::from_slice(&response.body).map_err(|source| Error::Json {
            document: "fulcio signing certificate response",
            source,
        })?;
    answer
        .signed_certificate_embedded_sct
        .or(answer.signed_certificate_detached_sct)
        .and_then(|chained| chained.chain.certificates.into_iter().next())
        .ok_or(Error::ServiceResponse {
            service: SERVICE,
            reason: "it holds no certificate chain",
        })
}

/// Uploads the envelope as a `dsse` entry → the bundle log entry.
fn upload_to_rekor(
    transport: &dyn HttpTransport,
    settings: &KeylessSettings,
    envelope: &dsse::Envelope,
    certificate_pem: &str,
) -> Result<TransparencyLogEntry, Error> {
    let envelope_json =
        String::from_utf8(envelope.to_json()?).map_err(|_| Error::ServiceResponse {
            service: "rekor",
            reason: "the envelope is not UTF-8",
        })?;
    let proposed = tlog::proposed_dsse_entry(&envelope_json, certificate_pem);
    let request = HttpRequest {
        method: Method::Post,
        url: join_url(&settings.rekor_url, "api/v1/log/entries"),
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("Accept".into(), "application/json".into()),
        ],
        body: serde_json::to_vec(&proposed).map_err(|source| Error::Serialize {
            what: "rekor entry",
            source,
        })?,
    };
    let response = send(transport, "rekor", &request)?;
    tlog::entry_from_response(&response.body)
}

fn join_url(base: &str, path: &str) -> String {
    format!("{}/{path}", base.trim_end_matches('/'))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
// The hand-written keyless flow tests go with the flow; see tests/keyless.rs.
#[cfg(any())]
mod tests;
