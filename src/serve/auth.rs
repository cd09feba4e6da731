//! Authentication of the pushes `serve` accepts: Google-signed Pub/Sub tokens, API keys, Basic
//! credentials and bearer tokens, compared in constant time.
//!
//! - [`Secret`]: a shared secret read from a file or an environment variable's value, wiped from
//!   memory when dropped and never shown by `Debug` or `Display`.
//! - [`ApiKeyCheck`], [`BasicCheck`], [`BearerCheck`]: static credentials (EventBridge API
//!   destinations, Falcosidekick, readers). The presented value and the secret are both hashed
//!   with SHA-256 and the digests compared with [`subtle`], so neither the content nor the
//!   length of the secret leaks through timing. [`EventBridgeCheck`] accepts either of an
//!   EventBridge connection's API key and Basic credentials.
//! - [`GoogleTokenVerifier`]: Pub/Sub authenticated push, `Authorization: Bearer <JWT>` signed
//!   RS256 by Google, checked against a JWKS (Google's certificates URL or a file) as
//!   <https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions> describes. The JWKS
//!   fetched from a URL is cached for its `Cache-Control: max-age` and fetched again at most
//!   once a minute when a token names a key it does not hold (Google rotates keys).
//!
//! Every rejection is one [`AuthError`] saying which check failed; the service answers 401, or
//! 503 when [`AuthError::is_unavailable`] (the JWKS could not be fetched, so the sender should
//! retry). No error or `Debug` output contains a secret or a presented token.
//!
//! This module takes `http` header maps and returns results: it serves no requests, reads no
//! environment variables and prints nothing. Its only network access is the JWKS fetch.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use http::header::{AUTHORIZATION, CACHE_CONTROL, HeaderName};
use http::{HeaderMap, HeaderValue};
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

#[cfg(test)]
mod tests;

/// Google's signing keys for OIDC tokens, the default JWKS.
pub const GOOGLE_JWKS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";
/// The issuers Google writes into the tokens of authenticated push.
pub const GOOGLE_ISSUERS: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];
/// How far clocks may disagree when `exp`, `nbf` and `iat` are checked.
pub const CLOCK_LEEWAY: Duration = Duration::from_secs(60);
/// How long a fetched JWKS is kept when the answer has no `Cache-Control: max-age`.
pub const DEFAULT_JWKS_MAX_AGE: Duration = Duration::from_secs(3600);
/// The least time between two JWKS fetches once keys are held: a token naming an unknown key
/// cannot make the service hammer the JWKS URL.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// The least time between two fetch attempts while no JWKS could be fetched at all.
const JWKS_RETRY_WITHOUT_KEYS: Duration = Duration::from_secs(5);
/// The longest a fetched JWKS is kept, whatever its `max-age` says.
const JWKS_MAX_AGE_CAP: Duration = Duration::from_secs(24 * 3600);
/// How long a JWKS fetch may take.
const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest JWKS read (Google's is about 2 KiB).
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// The largest secret file read: anything longer is not a key but a wrong path.
pub const MAX_SECRET_BYTES: usize = 64 * 1024;
/// The longest bearer token examined (Google's are about 1 KiB).
const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Why a JWKS URL does not parse (the `url` crate's error, through reqwest).
type UrlParseError = <reqwest::Url as std::str::FromStr>::Err;

/// How much of an attacker-controlled value (an algorithm, a key id) an error quotes.
const QUOTE_LIMIT: usize = 64;

/// Why a request is not authenticated, or why authentication could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A secret file cannot be read.
    #[error("cannot read the secret file {path}")]
    SecretFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A secret is empty (after the trailing newline is trimmed).
    #[error("{origin} is empty (expected the secret)")]
    EmptySecret {
        /// Where the secret came from (`the file …`, `the environment variable …`).
        origin: String,
    },
    /// A secret is implausibly long.
    #[error("{origin} is longer than {limit} bytes (expected the secret)")]
    SecretTooLong {
        /// Where the secret came from.
        origin: String,
        /// The limit.
        limit: usize,
    },
    /// Basic credentials are not `user:password`.
    #[error("{origin} is not Basic credentials (expected user:password, both non-empty)")]
    NotUserPassword {
        /// Where the secret came from.
        origin: String,
    },
    /// A configured header name is not a valid HTTP header name.
    #[error("{name:?} is not a valid HTTP header name")]
    HeaderName {
        /// The name as given.
        name: String,
        /// The reason.
        #[source]
        source: http::header::InvalidHeaderName,
    },
    /// A JWKS URL cannot be parsed.
    #[error("{url:?} is not a valid JWKS URL")]
    JwksUrl {
        /// The URL as given.
        url: String,
        /// The reason.
        #[source]
        source: UrlParseError,
    },
    /// The HTTP client for JWKS fetches cannot be built.
    #[error("cannot build the HTTP client for JWKS fetches")]
    HttpClient(#[source] reqwest::Error),
    /// A JWKS file cannot be read.
    #[error("cannot read the JWKS file {path}")]
    JwksFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A JWKS is not JSON of the JWKS shape.
    #[error("the JWKS from {origin} is not a JSON Web Key Set")]
    JwksNotJson {
        /// The file or URL.
        origin: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A JWKS holds no RSA key with a key id usable for RS256.
    #[error("the JWKS from {origin} holds no RS256 key with a key id")]
    JwksWithoutKeys {
        /// The file or URL.
        origin: String,
    },
    /// A JWKS is longer than [`MAX_JWKS_BYTES`].
    #[error("the JWKS from {origin} is longer than {limit} bytes")]
    JwksTooLarge {
        /// The file or URL.
        origin: String,
        /// The limit.
        limit: usize,
    },
    /// The JWKS URL could not be reached.
    #[error("cannot fetch the JWKS from {url}")]
    JwksFetch {
        /// The URL.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The JWKS URL answered with an error status.
    #[error("cannot fetch the JWKS from {url} (got HTTP status {status}, expected 200)")]
    JwksStatus {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
    },
    /// No JWKS has been fetched yet and the last attempt failed moments ago.
    #[error("no JWKS from {url} yet: the last fetch failed, the next is due within seconds")]
    JwksNotYetFetched {
        /// The URL.
        url: String,
    },

    /// A required header is absent.
    #[error("no {header} header")]
    MissingHeader {
        /// The header name.
        header: String,
    },
    /// A header that must appear once appears several times.
    #[error("the {header} header is given more than once")]
    RepeatedHeader {
        /// The header name.
        header: String,
    },
    /// The `Authorization` header does not have the expected scheme or form.
    #[error("the authorization header is not {expected}")]
    MalformedAuthorization {
        /// What was expected (`Bearer <token>`, `Basic <base64 of user:password>`).
        expected: &'static str,
    },
    /// The API key header holds the wrong key.
    #[error("wrong API key in the {header} header")]
    WrongApiKey {
        /// The header name.
        header: String,
    },
    /// The Basic credentials are wrong.
    #[error("wrong Basic credentials")]
    WrongBasicCredentials,
    /// The bearer token is wrong.
    #[error("wrong bearer token")]
    WrongBearerToken,

    /// The bearer token is not a JWT.
    #[error("the bearer token is not a JWT ({problem})")]
    NotAJwt {
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The token is signed with an algorithm other than RS256 (`none`, HMAC, …).
    #[error("the token's algorithm {algorithm:?} is refused (expected RS256)")]
    Algorithm {
        /// The `alg` of the token header, cut to a few characters.
        algorithm: String,
    },
    /// The token header names no key.
    #[error("the token header has no key id (kid)")]
    NoKeyId,
    /// The token names a key the JWKS does not hold.
    #[error("the token's key id {key_id:?} is not in the JWKS")]
    UnknownKeyId {
        /// The `kid` of the token header, cut to a few characters.
        key_id: String,
    },
    /// The signature does not verify with the key the token names.
    #[error("the token's signature does not verify with JWKS key {key_id:?}")]
    Signature {
        /// The key id.
        key_id: String,
    },
    /// The claims are not a JSON object of the expected types.
    #[error("the token's claims are unreadable")]
    Claims(#[source] jsonwebtoken::errors::Error),
    /// A required claim is absent.
    #[error("the token has no {claim} claim")]
    MissingClaim {
        /// The claim name.
        claim: &'static str,
    },
    /// `iss` is not Google.
    #[error("the token's issuer (iss) is not Google (expected https://accounts.google.com)")]
    WrongIssuer,
    /// `aud` is not the configured audience.
    #[error("the token's audience (aud) is not the configured audience")]
    WrongAudience,
    /// `email` is not the configured service account.
    #[error("the token's email is not the configured service account")]
    WrongEmail,
    /// `email_verified` is not true.
    #[error("the token's email is not verified (email_verified is not true)")]
    EmailNotVerified,
    /// `exp` has passed.
    #[error("the token expired at {expired_at} (now {now}, leeway 60 s; unix seconds)")]
    Expired {
        /// `exp`.
        expired_at: i64,
        /// The verifier's clock.
        now: i64,
    },
    /// `nbf` is in the future.
    #[error("the token is not valid before {not_before} (now {now}, leeway 60 s; unix seconds)")]
    NotYetValid {
        /// `nbf`.
        not_before: i64,
        /// The verifier's clock.
        now: i64,
    },
    /// `iat` is in the future.
    #[error(
        "the token is issued in the future at {issued_at} (now {now}, leeway 60 s; unix seconds)"
    )]
    IssuedInFuture {
        /// `iat`.
        issued_at: i64,
        /// The verifier's clock.
        now: i64,
    },
}

impl AuthError {
    /// Whether the failure is on this side (the JWKS could not be fetched): the service answers
    /// 503 so the sender retries, instead of 401.
    #[must_use]
    pub const fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::JwksFetch { .. }
                | Self::JwksStatus { .. }
                | Self::JwksNotYetFetched { .. }
                | Self::JwksTooLarge { .. }
                | Self::JwksNotJson { .. }
                | Self::JwksWithoutKeys { .. }
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets and static credentials.

/// A shared secret: zeroed when dropped, redacted in `Debug` and `Display`.
pub struct Secret {
    bytes: Zeroizing<Vec<u8>>,
    origin: String,
}

impl Secret {
    /// Reads a secret from a file; one trailing newline (`\n` or `\r\n`) is trimmed, as
    /// `echo … > file` and Kubernetes secrets from literals leave one.
    ///
    /// # Errors
    ///
    /// The file cannot be read, is empty, or is longer than [`MAX_SECRET_BYTES`].
    pub fn from_file(path: &Path) -> Result<Self, AuthError> {
        let unreadable = |source| AuthError::SecretFile {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(unreadable)?;
        let mut bytes = Zeroizing::new(Vec::new());
        file.take(MAX_SECRET_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(unreadable)?;
        Self::new(bytes, format!("the secret file {}", path.display()))
    }

    /// A secret given as the value of an environment variable (read by the caller); a
    /// trailing newline is trimmed as for files.
    ///
    /// # Errors
    ///
    /// The value is empty or longer than [`MAX_SECRET_BYTES`].
    pub fn from_environment(variable: &str, value: String) -> Result<Self, AuthError> {
        Self::new(
            Zeroizing::new(value.into_bytes()),
            format!("the environment variable {variable}"),
        )
    }

    fn new(mut bytes: Zeroizing<Vec<u8>>, origin: String) -> Result<Self, AuthError> {
        if bytes.len() > MAX_SECRET_BYTES {
            return Err(AuthError::SecretTooLong {
                origin,
                limit: MAX_SECRET_BYTES,
            });
        }
        if bytes.ends_with(b"\n") {
            bytes.pop();
            if bytes.ends_with(b"\r") {
                bytes.pop();
            }
        }
        if bytes.is_empty() {
            return Err(AuthError::EmptySecret { origin });
        }
        Ok(Self { bytes, origin })
    }

    /// The secret's bytes.
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.bytes
    }

    /// Where the secret came from (`the secret file …`, `the environment variable …`), for
    /// messages.
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(redacted, from {})", self.origin)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The SHA-256 of a secret or a presented credential: comparing digests takes the same time
/// whatever the lengths.
fn credential_digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn digests_equal(left: &[u8; 32], right: &[u8; 32]) -> bool {
    bool::from(left.ct_eq(right))
}

/// The one value of a header, or why there is none.
fn single_header<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> Result<&'a HeaderValue, AuthError> {
    let mut values = headers.get_all(name).iter();
    let value = values.next().ok_or_else(|| AuthError::MissingHeader {
        header: name.as_str().to_owned(),
    })?;
    if values.next().is_some() {
        return Err(AuthError::RepeatedHeader {
            header: name.as_str().to_owned(),
        });
    }
    Ok(value)
}

/// The credentials of an `Authorization: <scheme> <credentials>` header (scheme
/// case-insensitive, RFC 9110 §11.1).
fn authorization<'a>(
    headers: &'a HeaderMap,
    scheme: &str,
    expected: &'static str,
) -> Result<&'a [u8], AuthError> {
    let value = single_header(headers, &AUTHORIZATION)?.as_bytes();
    let (given_scheme, credentials) = value
        .iter()
        .position(|&byte| byte == b' ')
        .map(|space| value.split_at(space))
        .ok_or(AuthError::MalformedAuthorization { expected })?;
    let credentials = credentials.trim_ascii();
    if !given_scheme.eq_ignore_ascii_case(scheme.as_bytes()) || credentials.is_empty() {
        return Err(AuthError::MalformedAuthorization { expected });
    }
    Ok(credentials)
}

/// An API key in a named header (EventBridge API destinations' API-key authorization).
#[derive(Clone)]
pub struct ApiKeyCheck {
    header: HeaderName,
    key_digest: [u8; 32],
}

impl fmt::Debug for ApiKeyCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyCheck")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl ApiKeyCheck {
    /// Expects `key` in the header `header` (case-insensitive, e.g. `x-api-key`).
    ///
    /// # Errors
    ///
    /// `header` is not a valid header name.
    pub fn new(header: &str, key: &Secret) -> Result<Self, AuthError> {
        let header = HeaderName::try_from(header).map_err(|source| AuthError::HeaderName {
            name: header.to_owned(),
            source,
        })?;
        Ok(Self {
            header,
            key_digest: credential_digest(key.expose()),
        })
    }

    /// The header the key is expected in.
    #[must_use]
    pub const fn header(&self) -> &HeaderName {
        &self.header
    }

    /// Whether `headers` carry the key.
    ///
    /// # Errors
    ///
    /// The header is absent, repeated, or holds another value.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), AuthError> {
        let value = single_header(headers, &self.header)?;
        if digests_equal(&credential_digest(value.as_bytes()), &self.key_digest) {
            Ok(())
        } else {
            Err(AuthError::WrongApiKey {
                header: self.header.as_str().to_owned(),
            })
        }
    }
}

/// `Authorization: Basic` credentials (EventBridge API destinations' Basic authorization).
#[derive(Clone)]
pub struct BasicCheck {
    credentials_digest: [u8; 32],
}

impl fmt::Debug for BasicCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicCheck").finish_non_exhaustive()
    }
}

impl BasicCheck {
    /// Expects the credentials `user:password` that `secret` holds.
    ///
    /// # Errors
    ///
    /// The secret is not `user:password` with both parts non-empty.
    pub fn new(secret: &Secret) -> Result<Self, AuthError> {
        let bytes = secret.expose();
        match bytes.iter().position(|&byte| byte == b':') {
            Some(colon) if colon > 0 && colon + 1 < bytes.len() => Ok(Self {
                credentials_digest: credential_digest(bytes),
            }),
            _ => Err(AuthError::NotUserPassword {
                origin: secret.origin().to_owned(),
            }),
        }
    }

    /// Whether `headers` carry the credentials.
    ///
    /// # Errors
    ///
    /// No `Authorization: Basic` header, not base64, or other credentials.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), AuthError> {
        const EXPECTED: &str = "Basic <base64 of user:password>";
        let encoded = authorization(headers, "Basic", EXPECTED)?;
        let decoded = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|_| AuthError::MalformedAuthorization { expected: EXPECTED })?,
        );
        if digests_equal(&credential_digest(&decoded), &self.credentials_digest) {
            Ok(())
        } else {
            Err(AuthError::WrongBasicCredentials)
        }
    }
}

/// `Authorization: Bearer` with a static token (Falcosidekick, `POST /v1/findings`, readers).
#[derive(Clone)]
pub struct BearerCheck {
    token_digest: [u8; 32],
}

impl fmt::Debug for BearerCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerCheck").finish_non_exhaustive()
    }
}

impl BearerCheck {
    /// Expects the token `secret` holds.
    #[must_use]
    pub fn new(secret: &Secret) -> Self {
        Self {
            token_digest: credential_digest(secret.expose()),
        }
    }

    /// Whether `headers` carry the token.
    ///
    /// # Errors
    ///
    /// No `Authorization: Bearer` header, or another token.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), AuthError> {
        let token = authorization(headers, "Bearer", "Bearer <token>")?;
        if digests_equal(&credential_digest(token), &self.token_digest) {
            Ok(())
        } else {
            Err(AuthError::WrongBearerToken)
        }
    }
}

/// The credentials an EventBridge connection may send: its API-key header, Basic, or either
/// when both are configured (the request's headers say which it chose).
#[derive(Clone, Debug)]
pub struct EventBridgeCheck {
    api_key: Option<ApiKeyCheck>,
    basic: Option<BasicCheck>,
}

impl EventBridgeCheck {
    /// A check of whichever credentials are configured; `None` when neither is (the endpoint
    /// is not enabled).
    #[must_use]
    pub fn new(api_key: Option<ApiKeyCheck>, basic: Option<BasicCheck>) -> Option<Self> {
        if api_key.is_none() && basic.is_none() {
            return None;
        }
        Some(Self { api_key, basic })
    }

    /// Whether `headers` carry the configured credentials: the API key when its header is
    /// present (or Basic is not configured), else Basic.
    ///
    /// # Errors
    ///
    /// The credentials the request presents are missing, malformed or wrong.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), AuthError> {
        match (&self.api_key, &self.basic) {
            (Some(api_key), Some(basic)) if !headers.contains_key(api_key.header()) => {
                basic.check(headers)
            }
            (Some(api_key), _) => api_key.check(headers),
            (None, Some(basic)) => basic.check(headers),
            // `new` refuses a check without credentials; refusing keeps it closed anyway.
            (None, None) => Err(AuthError::MissingHeader {
                header: AUTHORIZATION.as_str().to_owned(),
            }),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Google-signed tokens.

/// Where the JWKS comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwksSource {
    /// Fetched over HTTP(S), cached per `Cache-Control`.
    Url(reqwest::Url),
    /// Read once from a file (tests, air-gapped set-ups).
    File(PathBuf),
}

impl JwksSource {
    /// `http://…` or `https://…` is a URL; anything else a file path.
    ///
    /// # Errors
    ///
    /// It looks like a URL but does not parse as one.
    pub fn parse(text: &str) -> Result<Self, AuthError> {
        let lower = text.get(..8).unwrap_or(text).to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            reqwest::Url::parse(text)
                .map(Self::Url)
                .map_err(|source| AuthError::JwksUrl {
                    url: text.to_owned(),
                    source,
                })
        } else {
            Ok(Self::File(PathBuf::from(text)))
        }
    }
}

impl Default for JwksSource {
    fn default() -> Self {
        // The constant is a valid URL; were it not, this would fall back to a file path that
        // fails loudly when read.
        Self::parse(GOOGLE_JWKS_URL).unwrap_or_else(|_| Self::File(GOOGLE_JWKS_URL.into()))
    }
}

impl fmt::Display for JwksSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url(url) => write!(f, "{url}"),
            Self::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// What a Pub/Sub push token must say.
#[derive(Clone, Debug)]
pub struct GoogleTokenSettings {
    /// The `aud` claim: the audience configured on the push subscription.
    pub audience: String,
    /// The `email` claim: the push subscription's service account.
    pub service_account: String,
    /// The keys the tokens are signed with.
    pub jwks: JwksSource,
}

/// The time, for the token checks and the JWKS cache; replaceable in tests.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> SystemTime;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Who a verified push token says sent the push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoogleIdentity {
    /// The service account (`email`).
    pub email: String,
    /// The account's unique id (`sub`), when present.
    pub subject: Option<String>,
    /// The JWKS key that signed the token.
    pub key_id: String,
}

/// The keys of one JWKS, by key id, and until when they may be used without a fetch.
struct KeySet {
    keys: HashMap<String, DecodingKey>,
    fresh_until: SystemTime,
}

/// Fetches a JWKS from a URL, one fetch at a time.
struct JwksFetcher {
    url: reqwest::Url,
    client: reqwest::Client,
    /// When the last fetch was attempted; held while fetching, so concurrent requests that
    /// need keys wait for one fetch instead of starting their own.
    last_attempt: tokio::sync::Mutex<Option<SystemTime>>,
}

/// Verifies the `Authorization: Bearer <JWT>` of Pub/Sub authenticated push.
pub struct GoogleTokenVerifier {
    audience: String,
    service_account: String,
    keys: RwLock<Arc<KeySet>>,
    fetcher: Option<JwksFetcher>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for GoogleTokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleTokenVerifier")
            .field("audience", &self.audience)
            .field("service_account", &self.service_account)
            .field("jwks_url", &self.fetcher.as_ref().map(|f| f.url.as_str()))
            .finish_non_exhaustive()
    }
}

impl GoogleTokenVerifier {
    /// A verifier for `settings`. A JWKS file is read now; a URL is fetched on the first
    /// token (or by [`GoogleTokenVerifier::refresh_keys`]).
    ///
    /// # Errors
    ///
    /// The JWKS file cannot be read or holds no usable key, or the HTTP client cannot be
    /// built.
    pub fn new(settings: GoogleTokenSettings) -> Result<Self, AuthError> {
        let (keys, fetcher) = match settings.jwks {
            JwksSource::File(path) => {
                let bytes = read_jwks_file(&path)?;
                let keys = parse_jwks(&bytes, &path.display().to_string())?;
                // Never consulted: without a fetcher the keys are used as the operator
                // configured them.
                let fresh_until = UNIX_EPOCH;
                (KeySet { keys, fresh_until }, None)
            }
            JwksSource::Url(url) => {
                let client = reqwest::Client::builder()
                    .timeout(JWKS_FETCH_TIMEOUT)
                    .build()
                    .map_err(AuthError::HttpClient)?;
                let fetcher = JwksFetcher {
                    url,
                    client,
                    last_attempt: tokio::sync::Mutex::new(None),
                };
                let empty = KeySet {
                    keys: HashMap::new(),
                    fresh_until: UNIX_EPOCH,
                };
                (empty, Some(fetcher))
            }
        };
        Ok(Self {
            audience: settings.audience,
            service_account: settings.service_account,
            keys: RwLock::new(Arc::new(keys)),
            fetcher,
            clock: Arc::new(SystemClock),
        })
    }

    /// The same verifier with another clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Fetches the JWKS now (at start-up, to fail early); nothing for a JWKS file.
    ///
    /// # Errors
    ///
    /// The JWKS cannot be fetched or holds no usable key.
    pub async fn refresh_keys(&self) -> Result<(), AuthError> {
        let Some(fetcher) = &self.fetcher else {
            return Ok(());
        };
        let now = self.clock.now();
        let mut last_attempt = fetcher.last_attempt.lock().await;
        *last_attempt = Some(now);
        let keys = fetcher.fetch(now).await?;
        self.store_keys(keys);
        Ok(())
    }

    /// Verifies the `Authorization: Bearer` token of a push request.
    ///
    /// # Errors
    ///
    /// Which check failed; [`AuthError::is_unavailable`] when the JWKS could not be fetched.
    pub async fn verify(&self, headers: &HeaderMap) -> Result<GoogleIdentity, AuthError> {
        let token = authorization(headers, "Bearer", "Bearer <token>")?;
        self.verify_token(token).await
    }

    /// Verifies a token: RS256 signature by a JWKS key, then `iss`, `aud`, `email`,
    /// `email_verified`, `exp`, `nbf` and `iat` (with [`CLOCK_LEEWAY`]).
    ///
    /// # Errors
    ///
    /// Which check failed; [`AuthError::is_unavailable`] when the JWKS could not be fetched.
    pub async fn verify_token(&self, token: &[u8]) -> Result<GoogleIdentity, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::NotAJwt {
                problem: "longer than 16 KiB",
            });
        }
        let token = std::str::from_utf8(token).map_err(|_| AuthError::NotAJwt {
            problem: "not ASCII",
        })?;
        let key_id = token_key_id(token)?;
        let now = self.clock.now();
        let key = self.key(&key_id, now).await?;

        let mut validation = Validation::new(Algorithm::RS256);
        // Time, audience and issuer are checked below, against the injectable clock and with
        // errors that say which check failed.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<GoogleClaims>(token, &key, &validation)
            .map_err(|error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature
                | jsonwebtoken::errors::ErrorKind::InvalidRsaKey(_)
                | jsonwebtoken::errors::ErrorKind::InvalidKeyFormat => AuthError::Signature {
                    key_id: quote(&key_id),
                },
                _ => AuthError::Claims(error),
            })?
            .claims;
        self.check_claims(claims, key_id, unix_seconds(now))
    }

    fn check_claims(
        &self,
        claims: GoogleClaims,
        key_id: String,
        now: i64,
    ) -> Result<GoogleIdentity, AuthError> {
        let issuer = claims.iss.ok_or(AuthError::MissingClaim { claim: "iss" })?;
        if !GOOGLE_ISSUERS.contains(&issuer.as_str()) {
            return Err(AuthError::WrongIssuer);
        }
        let audience_matches = match claims.aud.ok_or(AuthError::MissingClaim { claim: "aud" })? {
            Audience::One(audience) => audience == self.audience,
            Audience::Many(audiences) => audiences.contains(&self.audience),
        };
        if !audience_matches {
            return Err(AuthError::WrongAudience);
        }
        let email = claims
            .email
            .ok_or(AuthError::MissingClaim { claim: "email" })?;
        if email != self.service_account {
            return Err(AuthError::WrongEmail);
        }
        if !claims.email_verified.is_some_and(|verified| verified.0) {
            return Err(AuthError::EmailNotVerified);
        }
        let leeway = i64::try_from(CLOCK_LEEWAY.as_secs()).unwrap_or(i64::MAX);
        let expired_at = claims
            .exp
            .ok_or(AuthError::MissingClaim { claim: "exp" })?
            .0;
        if now > expired_at.saturating_add(leeway) {
            return Err(AuthError::Expired { expired_at, now });
        }
        if let Some(NumericDate(not_before)) = claims.nbf
            && now.saturating_add(leeway) < not_before
        {
            return Err(AuthError::NotYetValid { not_before, now });
        }
        let issued_at = claims
            .iat
            .ok_or(AuthError::MissingClaim { claim: "iat" })?
            .0;
        if now.saturating_add(leeway) < issued_at {
            return Err(AuthError::IssuedInFuture { issued_at, now });
        }
        Ok(GoogleIdentity {
            email,
            subject: claims.sub,
            key_id,
        })
    }

    fn current_keys(&self) -> Arc<KeySet> {
        Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn store_keys(&self, keys: KeySet) {
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
    }

    /// The key `key_id` names, fetching the JWKS when it is stale or lacks the key (at most
    /// once per [`JWKS_REFETCH_INTERVAL`]).
    async fn key(&self, key_id: &str, now: SystemTime) -> Result<DecodingKey, AuthError> {
        let unknown = || AuthError::UnknownKeyId {
            key_id: quote(key_id),
        };
        let held = self.current_keys();
        let Some(fetcher) = &self.fetcher else {
            return held.keys.get(key_id).cloned().ok_or_else(unknown);
        };
        if now < held.fresh_until
            && let Some(key) = held.keys.get(key_id)
        {
            return Ok(key.clone());
        }

        let mut last_attempt = fetcher.last_attempt.lock().await;
        // Another request may have fetched while this one waited.
        let mut held = self.current_keys();
        if now < held.fresh_until
            && let Some(key) = held.keys.get(key_id)
        {
            return Ok(key.clone());
        }
        let interval = if held.keys.is_empty() {
            JWKS_RETRY_WITHOUT_KEYS
        } else {
            JWKS_REFETCH_INTERVAL
        };
        // A clock that went backwards allows a fetch rather than blocking them.
        let due = last_attempt.is_none_or(|last| {
            now.duration_since(last)
                .map_or(true, |elapsed| elapsed >= interval)
        });
        if due {
            *last_attempt = Some(now);
            match fetcher.fetch(now).await {
                Ok(keys) => {
                    self.store_keys(keys);
                    held = self.current_keys();
                }
                // Keys past their max-age still verify Google's tokens for a while (Google
                // publishes a key well before it signs with it and keeps it after); without
                // any, the sender must retry.
                Err(error) if held.keys.is_empty() => return Err(error),
                Err(_) => {}
            }
        } else if held.keys.is_empty() {
            return Err(AuthError::JwksNotYetFetched {
                url: fetcher.url.to_string(),
            });
        }
        drop(last_attempt);
        held.keys.get(key_id).cloned().ok_or_else(unknown)
    }
}

impl JwksFetcher {
    async fn fetch(&self, now: SystemTime) -> Result<KeySet, AuthError> {
        let url = self.url.to_string();
        let failed = |source| AuthError::JwksFetch {
            url: url.clone(),
            source,
        };
        let mut response = self
            .client
            .get(self.url.clone())
            .send()
            .await
            .map_err(failed)?;
        let status = response.status();
        if !status.is_success() {
            return Err(AuthError::JwksStatus {
                url,
                status: status.as_u16(),
            });
        }
        let max_age = cache_max_age(response.headers())
            .unwrap_or(DEFAULT_JWKS_MAX_AGE)
            .clamp(JWKS_REFETCH_INTERVAL, JWKS_MAX_AGE_CAP);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(AuthError::JwksTooLarge {
                    origin: url,
                    limit: MAX_JWKS_BYTES,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(KeySet {
            keys: parse_jwks(&body, &url)?,
            fresh_until: now.checked_add(max_age).unwrap_or(now),
        })
    }
}

/// `max-age` of a `Cache-Control` header, if any (`no-cache` and `no-store` count as 0).
fn cache_max_age(headers: &HeaderMap) -> Option<Duration> {
    let mut max_age = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let directive = directive.trim();
            let lower = directive.to_ascii_lowercase();
            if lower == "no-cache" || lower == "no-store" {
                return Some(Duration::ZERO);
            }
            if let Some(seconds) = lower.strip_prefix("max-age=")
                && let Ok(seconds) = seconds.trim_matches('"').parse::<u64>()
            {
                max_age = Some(Duration::from_secs(seconds));
            }
        }
    }
    max_age
}

fn read_jwks_file(path: &Path) -> Result<Vec<u8>, AuthError> {
    let unreadable = |source| AuthError::JwksFile {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(MAX_JWKS_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() > MAX_JWKS_BYTES {
        return Err(AuthError::JwksTooLarge {
            origin: path.display().to_string(),
            limit: MAX_JWKS_BYTES,
        });
    }
    Ok(bytes)
}

/// The RS256 keys of a JWKS by key id. Keys of other types or algorithms, and keys without
/// an id, are skipped: a token must name its key, and only RS256 is accepted.
fn parse_jwks(bytes: &[u8], origin: &str) -> Result<HashMap<String, DecodingKey>, AuthError> {
    #[derive(Deserialize)]
    struct JwkSet {
        keys: Vec<serde_json::Value>,
    }
    let set = serde_json::from_slice::<JwkSet>(bytes).map_err(|source| AuthError::JwksNotJson {
        origin: origin.to_owned(),
        source,
    })?;
    let mut keys = HashMap::new();
    for value in set.keys {
        // One key of a type this library does not know must not void the others.
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        let rs256 = matches!(jwk.common.key_algorithm, None | Some(KeyAlgorithm::RS256));
        if !rs256 || !matches!(jwk.algorithm, AlgorithmParameters::RSA(_)) {
            continue;
        }
        let Some(key_id) = jwk.common.key_id.clone() else {
            continue;
        };
        if let Ok(key) = DecodingKey::from_jwk(&jwk) {
            keys.insert(key_id, key);
        }
    }
    if keys.is_empty() {
        return Err(AuthError::JwksWithoutKeys {
            origin: origin.to_owned(),
        });
    }
    Ok(keys)
}

/// The key id of a token whose header says RS256; anything else is refused before a key is
/// looked at, so neither `none` nor an HMAC keyed with a public key can be tried.
fn token_key_id(token: &str) -> Result<String, AuthError> {
    #[derive(Deserialize)]
    struct TokenHeader {
        alg: Option<serde_json::Value>,
        kid: Option<String>,
    }
    let mut parts = token.split('.');
    let (Some(header), Some(_claims), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::NotAJwt {
            problem: "expected three dot-separated parts",
        });
    };
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| AuthError::NotAJwt {
            problem: "the header is not base64url",
        })?;
    let header =
        serde_json::from_slice::<TokenHeader>(&header).map_err(|_| AuthError::NotAJwt {
            problem: "the header is not a JSON object",
        })?;
    match header.alg {
        Some(serde_json::Value::String(algorithm)) if algorithm == "RS256" => {}
        Some(serde_json::Value::String(algorithm)) => {
            return Err(AuthError::Algorithm {
                algorithm: quote(&algorithm),
            });
        }
        Some(other) => {
            return Err(AuthError::Algorithm {
                algorithm: quote(&other.to_string()),
            });
        }
        None => {
            return Err(AuthError::NotAJwt {
                problem: "the header has no alg",
            });
        }
    }
    header.kid.ok_or(AuthError::NoKeyId)
}

/// An attacker-controlled value cut to [`QUOTE_LIMIT`] characters for a message.
fn quote(text: &str) -> String {
    text.chars().take(QUOTE_LIMIT).collect()
}

fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(elapsed) => i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// The claims of a Google OIDC token that are checked.
#[derive(Deserialize)]
struct GoogleClaims {
    iss: Option<String>,
    aud: Option<Audience>,
    email: Option<String>,
    email_verified: Option<EmailVerified>,
    sub: Option<String>,
    exp: Option<NumericDate>,
    nbf: Option<NumericDate>,
    iat: Option<NumericDate>,
}

/// `aud`: one audience (what Google writes) or several (RFC 7519 §4.1.3).
#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// `email_verified`: `true`; some Google tokens have carried the string `"true"`.
struct EmailVerified(bool);

impl<'de> Deserialize<'de> for EmailVerified {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Text(String),
        }
        Ok(Self(match Raw::deserialize(deserializer)? {
            Raw::Bool(value) => value,
            Raw::Text(text) => text == "true",
        }))
    }
}

/// A JWT NumericDate (RFC 7519 §2): seconds since the epoch, possibly fractional.
struct NumericDate(i64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let seconds = f64::deserialize(deserializer)?;
        if !seconds.is_finite() || seconds.abs() > 1e15 {
            return Err(serde::de::Error::custom("a NumericDate out of range"));
        }
        // In range (checked above), so the cast neither saturates nor loses the integer part.
        #[expect(clippy::cast_possible_truncation, reason = "range checked above")]
        Ok(Self(seconds.floor() as i64))
    }
}
