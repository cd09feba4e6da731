//! Keyless signing with Sigstore, and the trusted root that keyless verification relies on.
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
//!
//! [`TrustedRoot`] reads Sigstore's `trusted_root.json` (from the TUF repository, or made by hand
//! for a private Sigstore); it does not fetch or update it.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use x509_cert::Certificate;
use x509_cert::der::Encode as _;

use super::bundle::{Bundle, TransparencyLogEntry};
use super::http::{HttpRequest, HttpResponse, HttpTransport, Method, ReqwestTransport};
use super::keys::{KeySigner, PublicKey};
use super::statement::Statement;
use super::x509::{self, EcKey};
use super::{Attestation, Error, dsse, sign_envelope, tlog};
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

/// The CAs and transparency logs keyless verification trusts, from a Sigstore
/// `trusted_root.json` (`dev.sigstore.trustroot.v1.TrustedRoot`, media type
/// `application/vnd.dev.sigstore.trustedroot+json;version=0.1`).
///
/// Read: `certificateAuthorities[].certChain.certificates[].rawBytes` (each chain ends with its
/// root) and `validFor`; `tlogs[].publicKey.rawBytes` (DER SubjectPublicKeyInfo), its `validFor`,
/// and `tlogs[].logId.keyId`. CT logs and timestamp authorities are ignored. Logs whose keys are
/// not ECDSA P-256/P-384 (e.g. Ed25519 Rekor v2 shards) are skipped.
#[derive(Clone)]
pub struct TrustedRoot {
    authorities: Vec<Authority>,
    logs: Vec<Log>,
}

impl fmt::Debug for TrustedRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedRoot")
            .field(
                "authorities",
                &self
                    .authorities
                    .iter()
                    .map(|authority| {
                        authority
                            .chain
                            .last()
                            .map(x509::subject)
                            .unwrap_or_default()
                    })
                    .collect::<Vec<_>>(),
            )
            .field(
                "logs",
                &self
                    .logs
                    .iter()
                    .map(|log| hex::encode(&log.log_id))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[derive(Clone)]
struct Authority {
    /// As listed: intermediates first, root last.
    chain: Vec<Certificate>,
    valid_for: Window,
}

#[derive(Clone)]
struct Log {
    log_id: Vec<u8>,
    key: EcKey,
    valid_for: Window,
}

/// A validity window in Unix seconds; open ends are unbounded.
#[derive(Clone, Copy, Debug, Default)]
struct Window {
    start: Option<i64>,
    end: Option<i64>,
}

impl Window {
    fn contains(self, time: i64) -> bool {
        self.start.is_none_or(|start| start <= time) && self.end.is_none_or(|end| time <= end)
    }
}

mod json {
    //! The parts of `trusted_root.json` exelock reads (unknown fields ignored).
    use serde::Deserialize;

    use super::super::dsse::base64_bytes;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct TrustedRoot {
        #[serde(default)]
        pub tlogs: Vec<TransparencyLogInstance>,
        #[serde(default)]
        pub certificate_authorities: Vec<CertificateAuthority>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct TransparencyLogInstance {
        pub public_key: PublicKey,
        #[serde(default)]
        pub log_id: Option<LogId>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct PublicKey {
        #[serde(default, with = "base64_bytes")]
        pub raw_bytes: Vec<u8>,
        #[serde(default)]
        pub valid_for: Option<TimeRange>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct LogId {
        #[serde(with = "base64_bytes")]
        pub key_id: Vec<u8>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct CertificateAuthority {
        pub cert_chain: CertChain,
        #[serde(default)]
        pub valid_for: Option<TimeRange>,
    }

    #[derive(Deserialize)]
    pub struct CertChain {
        #[serde(default)]
        pub certificates: Vec<RawCertificate>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct RawCertificate {
        #[serde(with = "base64_bytes")]
        pub raw_bytes: Vec<u8>,
    }

    #[derive(Deserialize)]
    pub struct TimeRange {
        #[serde(default)]
        pub start: Option<String>,
        #[serde(default)]
        pub end: Option<String>,
    }
}

impl TrustedRoot {
    /// Reads a Sigstore `trusted_root.json`.
    ///
    /// # Errors
    /// [`Error::Json`], [`Error::Certificate`], [`Error::Timestamp`], or [`Error::TrustedRoot`]
    /// when it lists no usable CA or log.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        let root: json::TrustedRoot =
            serde_json::from_slice(bytes).map_err(|source| Error::Json {
                document: "trusted root",
                source,
            })?;
        let mut authorities = Vec::new();
        for (index, authority) in root.certificate_authorities.iter().enumerate() {
            let chain = authority
                .cert_chain
                .certificates
                .iter()
                .enumerate()
                .map(|(position, certificate)| {
                    x509::parse(
                        &certificate.raw_bytes,
                        &format!(
                            "trusted root certificate authority {index} certificate {position}"
                        ),
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            if chain.is_empty() {
                return Err(Error::TrustedRoot {
                    reason: "a certificate authority has an empty certificate chain",
                });
            }
            authorities.push(Authority {
                chain,
                valid_for: window(authority.valid_for.as_ref())?,
            });
        }
        let mut logs = Vec::new();
        for log in &root.tlogs {
            let Some(key) = EcKey::from_spki_der(&log.public_key.raw_bytes) else {
                continue;
            };
            let computed_id = Sha256::digest(&log.public_key.raw_bytes).to_vec();
            let log_id = log
                .log_id
                .as_ref()
                .map_or(computed_id, |log_id| log_id.key_id.clone());
            logs.push(Log {
                log_id,
                key,
                valid_for: window(log.public_key.valid_for.as_ref())?,
            });
        }
        if authorities.is_empty() {
            return Err(Error::TrustedRoot {
                reason: "it lists no certificate authority",
            });
        }
        if logs.is_empty() {
            return Err(Error::TrustedRoot {
                reason: "it lists no transparency log with an ECDSA P-256 or P-384 key",
            });
        }
        Ok(Self { authorities, logs })
    }

    /// The key of log `log_id`, if the root lists it as valid at `time`.
    pub(crate) fn log_key(&self, log_id: &[u8], time: i64) -> Result<&EcKey, Error> {
        self.logs
            .iter()
            .find(|log| log.log_id == log_id && log.valid_for.contains(time))
            .map(|log| &log.key)
            .ok_or_else(|| Error::UnknownLog {
                log_id: hex::encode(log_id),
            })
    }

    /// Whether `leaf` chains, through certificates of one authority valid at `time`, to that
    /// authority's root (the last certificate of its chain). Every issuer on the path must be a
    /// CA (basicConstraints `cA`), be valid at `time`, and verify its child's signature.
    pub(crate) fn chains(&self, leaf: &Certificate, time: i64) -> bool {
        self.authorities
            .iter()
            .filter(|authority| authority.valid_for.contains(time))
            .any(|authority| chains_to_root(leaf, &authority.chain, time))
    }
}

fn chains_to_root(leaf: &Certificate, chain: &[Certificate], time: i64) -> bool {
    let Some(root) = chain.last() else {
        return false;
    };
    let mut current = leaf;
    // Each step climbs one level; a path is never longer than the chain.
    for _ in 0..chain.len() {
        let Some(parent) = chain.iter().find(|candidate| {
            x509::is_ca(candidate)
                && x509::valid_at(candidate, time)
                && x509::issued_by(current, candidate)
        }) else {
            return false;
        };
        if std::ptr::eq(parent, root) {
            return true;
        }
        current = parent;
    }
    false
}

fn window(range: Option<&json::TimeRange>) -> Result<Window, Error> {
    let Some(range) = range else {
        return Ok(Window::default());
    };
    Ok(Window {
        start: range
            .start
            .as_deref()
            .map(|text| parse_rfc3339(text, "validFor.start"))
            .transpose()?,
        end: range
            .end
            .as_deref()
            .map(|text| parse_rfc3339(text, "validFor.end"))
            .transpose()?,
    })
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` into Unix seconds (fraction dropped).
fn parse_rfc3339(text: &str, what: &'static str) -> Result<i64, Error> {
    let invalid = || Error::Timestamp {
        what,
        got: text.to_owned(),
    };
    let bytes = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Result<u16, Error> {
        let digits = bytes.get(range).ok_or_else(invalid)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(invalid());
        }
        std::str::from_utf8(digits)
            .ok()
            .and_then(|digits| digits.parse().ok())
            .ok_or_else(invalid)
    };
    if bytes.len() < 20
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b't' | b' ')
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        return Err(invalid());
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        rest = &fraction[digits..];
    }
    let offset_seconds: i64 = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return Err(invalid()),
            };
            let offset = rest.as_bytes();
            if offset.len() != 6 || offset[3] != b':' {
                return Err(invalid());
            }
            let parse = |digits: &[u8]| {
                std::str::from_utf8(digits)
                    .ok()
                    .and_then(|digits| digits.parse::<i64>().ok())
            };
            let (Some(hours), Some(minutes)) = (parse(&offset[1..3]), parse(&offset[4..6])) else {
                return Err(invalid());
            };
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let date_time = x509_cert::der::DateTime::new(
        year,
        u8::try_from(month).map_err(|_| invalid())?,
        u8::try_from(day).map_err(|_| invalid())?,
        u8::try_from(hour).map_err(|_| invalid())?,
        u8::try_from(minute).map_err(|_| invalid())?,
        u8::try_from(second).map_err(|_| invalid())?,
    )
    .map_err(|_| invalid())?;
    let seconds = i64::try_from(date_time.unix_duration().as_secs()).map_err(|_| invalid())?;
    Ok(seconds - offset_seconds)
}

#[cfg(test)]
mod tests;
