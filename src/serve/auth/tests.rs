//! Tests of push authentication with real keys: RSA 2048 keys generated with aws-lc-rs, their
//! JWKS served from a file or a loopback HTTP server that counts fetches, tokens signed with
//! jsonwebtoken.

use std::sync::atomic::{AtomicI64, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::signature::KeyPair as _;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

use super::*;

const AUDIENCE: &str = "https://exelock.acme.example/v1/scc";
const SERVICE_ACCOUNT: &str = "scc-push@acme-secops.iam.gserviceaccount.com";
/// The tests' "now": 2027-01-15T08:00:00Z.
const NOW: i64 = 1_800_000_000;

/// An RSA key pair: what signs the tokens, and its public half as a JWK.
struct TestKey {
    signing: EncodingKey,
    /// The public key as PKCS#1 DER: the bytes an HS256 forgery would use as its secret.
    public_der: Vec<u8>,
    modulus: String,
    exponent: String,
}

impl TestKey {
    fn generate() -> Self {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let pkcs8 = pair.as_der().unwrap();
        let public = pair.public_key();
        let base64url =
            |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        Self {
            signing: EncodingKey::from_rsa_der(&pkcs1_from_pkcs8(pkcs8.as_ref())),
            public_der: public.as_ref().to_vec(),
            modulus: base64url(public.modulus().big_endian_without_leading_zero()),
            exponent: base64url(public.exponent().big_endian_without_leading_zero()),
        }
    }

    fn jwk(&self, key_id: &str) -> Value {
        json!({"kty": "RSA", "alg": "RS256", "use": "sig", "kid": key_id, "n": self.modulus, "e": self.exponent})
    }
}

/// The RSAPrivateKey inside a PKCS#8 PrivateKeyInfo (RFC 5208): jsonwebtoken's aws-lc-rs
/// signer takes PKCS#1, aws-lc-rs exports PKCS#8.
fn pkcs1_from_pkcs8(pkcs8: &[u8]) -> Vec<u8> {
    #[derive(der::Sequence)]
    struct PrivateKeyInfo<'a> {
        version: u8,
        algorithm: der::asn1::AnyRef<'a>,
        private_key: der::asn1::OctetStringRef<'a>,
    }
    let info = <PrivateKeyInfo<'_> as der::Decode<'_>>::from_der(pkcs8).unwrap();
    assert_eq!(info.version, 0);
    info.private_key.as_bytes().to_vec()
}

/// Two keys, generated once for all tests (2048-bit generation takes a moment).
fn keys() -> &'static [TestKey; 3] {
    static KEYS: OnceLock<[TestKey; 3]> = OnceLock::new();
    KEYS.get_or_init(|| {
        [
            TestKey::generate(),
            TestKey::generate(),
            TestKey::generate(),
        ]
    })
}

fn google_key() -> &'static TestKey {
    &keys()[0]
}

fn other_key() -> &'static TestKey {
    &keys()[1]
}

fn rotated_key() -> &'static TestKey {
    &keys()[2]
}

/// Claims as Google writes them for a push, at [`NOW`].
fn claims() -> Value {
    json!({
        "aud": AUDIENCE,
        "azp": "104917582630456789012",
        "email": SERVICE_ACCOUNT,
        "email_verified": true,
        "exp": NOW + 3590,
        "iat": NOW - 10,
        "iss": "https://accounts.google.com",
        "sub": "104917582630456789012"
    })
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

fn sign_with(key: &TestKey, key_id: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = key_id.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key.signing).unwrap()
}

fn sign(claims: &Value) -> String {
    sign_with(google_key(), Some("google-1"), claims)
}

/// A token with a hand-written header and no or any signature.
fn unsigned(header: &Value, claims: &Value, signature: &str) -> String {
    let base64url = |value: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
    };
    format!("{}.{}.{signature}", base64url(header), base64url(claims))
}

struct TestClock(AtomicI64);

impl TestClock {
    fn at(seconds: i64) -> Arc<Self> {
        Arc::new(Self(AtomicI64::new(seconds)))
    }

    fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(u64::try_from(self.0.load(Ordering::SeqCst)).unwrap())
    }
}

fn settings(jwks: JwksSource) -> GoogleTokenSettings {
    GoogleTokenSettings {
        audience: AUDIENCE.to_owned(),
        service_account: SERVICE_ACCOUNT.to_owned(),
        jwks,
    }
}

/// A verifier whose JWKS file holds Google's key as `google-1`.
fn file_verifier() -> (tempfile::TempDir, GoogleTokenVerifier) {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("jwks.json");
    let jwks = json!({"keys": [google_key().jwk("google-1")]});
    fs_err::write(&path, serde_json::to_vec(&jwks).unwrap()).unwrap();
    let verifier = GoogleTokenVerifier::new(settings(JwksSource::File(path)))
        .unwrap()
        .with_clock(TestClock::at(NOW));
    (directory, verifier)
}

fn bearer(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
    headers
}

fn run<T>(future: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// The error of verifying the test claims with `key` set to `value`.
fn rejected_with(key: &str, value: Value) -> AuthError {
    verify_with_file(&sign(&with(claims(), key, value))).unwrap_err()
}

/// Verifies `token` with the file verifier; a rejection must not quote the token.
fn verify_with_file(token: &str) -> Result<GoogleIdentity, AuthError> {
    let (_directory, verifier) = file_verifier();
    let result = run(verifier.verify(&bearer(token)));
    if let Err(error) = &result {
        let message = crate::error_chain(error);
        for part in token.split('.').filter(|part| part.len() > 8) {
            assert!(!message.contains(part), "{message} quotes the token");
        }
    }
    result
}

#[test]
fn a_google_signed_push_token_is_accepted() {
    let identity = verify_with_file(&sign(&claims())).unwrap();
    assert_eq!(
        identity,
        GoogleIdentity {
            email: SERVICE_ACCOUNT.to_owned(),
            subject: Some("104917582630456789012".to_owned()),
            key_id: "google-1".to_owned(),
        }
    );
}

#[test]
fn the_issuer_without_scheme_is_accepted() {
    let token = sign(&with(claims(), "iss", json!("accounts.google.com")));
    assert!(verify_with_file(&token).is_ok());
}

#[test]
fn an_audience_list_containing_the_audience_is_accepted() {
    let token = sign(&with(claims(), "aud", json!(["other", AUDIENCE])));
    assert!(verify_with_file(&token).is_ok());
}

#[test]
fn times_within_the_leeway_are_accepted() {
    let late = with(claims(), "exp", json!(NOW - 59));
    let early = with(
        with(claims(), "iat", json!(NOW + 59)),
        "nbf",
        json!(NOW + 59),
    );
    assert!(verify_with_file(&sign(&late)).is_ok());
    assert!(verify_with_file(&sign(&early)).is_ok());
}

#[test]
fn a_token_signed_by_another_key_under_the_same_key_id_is_rejected() {
    let token = sign_with(other_key(), Some("google-1"), &claims());
    let error = verify_with_file(&token).unwrap_err();
    assert!(
        matches!(&error, AuthError::Signature { key_id } if key_id == "google-1"),
        "{error}"
    );
    assert!(!error.is_unavailable());
}

#[test]
fn a_token_whose_claims_were_altered_after_signing_is_rejected() {
    let token = sign(&claims());
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged_claims = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(&with(claims(), "email", json!("attacker@example.com"))).unwrap(),
    );
    parts[1] = &forged_claims;
    let error = verify_with_file(&parts.join(".")).unwrap_err();
    assert!(matches!(error, AuthError::Signature { .. }), "{error}");
}

#[test]
fn a_wrong_audience_is_rejected() {
    let error = rejected_with("aud", json!("https://elsewhere.example/push"));
    assert!(matches!(error, AuthError::WrongAudience), "{error}");
    assert_eq!(
        error.to_string(),
        "the token's audience (aud) is not the configured audience"
    );
}

#[test]
fn a_wrong_issuer_is_rejected() {
    let error = rejected_with("iss", json!("https://accounts.google.com.evil.example"));
    assert!(matches!(error, AuthError::WrongIssuer), "{error}");
}

#[test]
fn a_wrong_email_is_rejected() {
    let error = rejected_with(
        "email",
        json!("someone@acme-secops.iam.gserviceaccount.com"),
    );
    assert!(matches!(error, AuthError::WrongEmail), "{error}");
}

#[test]
fn an_unverified_email_is_rejected() {
    for verified in [json!(false), json!("false"), json!(null)] {
        let error = rejected_with("email_verified", verified.clone());
        assert!(
            matches!(error, AuthError::EmailNotVerified),
            "{verified}: {error}"
        );
    }
    let error = verify_with_file(&sign(&without(claims(), "email_verified"))).unwrap_err();
    assert!(matches!(error, AuthError::EmailNotVerified), "{error}");
}

#[test]
fn missing_claims_are_named() {
    for claim in ["iss", "aud", "email", "exp", "iat"] {
        let error = verify_with_file(&sign(&without(claims(), claim))).unwrap_err();
        assert!(
            matches!(&error, AuthError::MissingClaim { claim: missing } if *missing == claim),
            "{claim}: {error}"
        );
    }
}

#[test]
fn an_expired_token_is_rejected() {
    let error = rejected_with("exp", json!(NOW - 61));
    assert!(
        matches!(error, AuthError::Expired { expired_at, now } if expired_at == NOW - 61 && now == NOW),
        "{error}"
    );
}

#[test]
fn a_token_not_yet_valid_is_rejected() {
    let error = rejected_with("nbf", json!(NOW + 61));
    assert!(
        matches!(error, AuthError::NotYetValid { not_before, .. } if not_before == NOW + 61),
        "{error}"
    );
}

#[test]
fn a_token_issued_in_the_future_is_rejected() {
    let error = rejected_with("iat", json!(NOW + 61));
    assert!(
        matches!(error, AuthError::IssuedInFuture { issued_at, .. } if issued_at == NOW + 61),
        "{error}"
    );
}

#[test]
fn alg_none_is_refused() {
    for signature in ["", "AAAA"] {
        let token = unsigned(
            &json!({"alg": "none", "kid": "google-1"}),
            &claims(),
            signature,
        );
        let error = verify_with_file(&token).unwrap_err();
        assert!(
            matches!(&error, AuthError::Algorithm { algorithm } if algorithm == "none"),
            "{error}"
        );
    }
}

#[test]
fn hs256_keyed_with_the_public_key_is_refused() {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("google-1".to_owned());
    for secret in [
        google_key().public_der.clone(),
        serde_json::to_vec(&google_key().jwk("google-1")).unwrap(),
    ] {
        let token = jsonwebtoken::encode(
            &header,
            &claims(),
            &EncodingKey::from_secret(&secret).unwrap(),
        )
        .unwrap();
        let error = verify_with_file(&token).unwrap_err();
        assert!(
            matches!(&error, AuthError::Algorithm { algorithm } if algorithm == "HS256"),
            "{error}"
        );
    }
}

#[test]
fn other_rsa_algorithms_are_refused() {
    let mut header = Header::new(Algorithm::PS256);
    header.kid = Some("google-1".to_owned());
    let token = jsonwebtoken::encode(&header, &claims(), &google_key().signing).unwrap();
    let error = verify_with_file(&token).unwrap_err();
    assert!(
        matches!(&error, AuthError::Algorithm { algorithm } if algorithm == "PS256"),
        "{error}"
    );
    let token = unsigned(&json!({"alg": 256, "kid": "google-1"}), &claims(), "");
    let error = verify_with_file(&token).unwrap_err();
    assert!(
        matches!(&error, AuthError::Algorithm { algorithm } if algorithm == "256"),
        "{error}"
    );
}

#[test]
fn an_unknown_key_id_is_rejected() {
    let token = sign_with(google_key(), Some("google-9"), &claims());
    let error = verify_with_file(&token).unwrap_err();
    assert!(
        matches!(&error, AuthError::UnknownKeyId { key_id } if key_id == "google-9"),
        "{error}"
    );
    let error = verify_with_file(&sign_with(google_key(), None, &claims())).unwrap_err();
    assert!(matches!(error, AuthError::NoKeyId), "{error}");
}

#[test]
fn missing_or_garbled_authorization_is_rejected() {
    let (_directory, verifier) = file_verifier();
    let error = run(verifier.verify(&HeaderMap::new())).unwrap_err();
    assert_eq!(error.to_string(), "no authorization header");

    let mut basic = HeaderMap::new();
    basic.insert(
        AUTHORIZATION,
        HeaderValue::from_static("Basic dXNlcjpwYXNz"),
    );
    let error = run(verifier.verify(&basic)).unwrap_err();
    assert!(
        matches!(error, AuthError::MalformedAuthorization { .. }),
        "{error}"
    );

    let mut empty = HeaderMap::new();
    empty.insert(AUTHORIZATION, HeaderValue::from_static("Bearer "));
    let error = run(verifier.verify(&empty)).unwrap_err();
    assert!(
        matches!(error, AuthError::MalformedAuthorization { .. }),
        "{error}"
    );

    let mut twice = bearer(&sign(&claims()));
    twice.append(AUTHORIZATION, HeaderValue::from_static("Bearer x.y.z"));
    let error = run(verifier.verify(&twice)).unwrap_err();
    assert!(matches!(error, AuthError::RepeatedHeader { .. }), "{error}");

    for (token, problem) in [
        ("garbage", "expected three dot-separated parts"),
        ("a.b.c.d.e", "expected three dot-separated parts"),
        ("!!!.e30.sig", "the header is not base64url"),
        ("W10.e30.sig", "the header is not a JSON object"),
        ("e30.e30.sig", "the header has no alg"),
    ] {
        let error = run(verifier.verify(&bearer(token))).unwrap_err();
        assert!(
            matches!(&error, AuthError::NotAJwt { problem: got } if *got == problem),
            "{token}: {error}"
        );
    }
    let error = run(verifier.verify_token(&[0xff; 20])).unwrap_err();
    assert!(matches!(error, AuthError::NotAJwt { .. }), "{error}");
}

#[test]
fn the_scheme_is_case_insensitive() {
    let (_directory, verifier) = file_verifier();
    let mut headers = HeaderMap::new();
    let value = format!("bearer {}", sign(&claims()));
    headers.insert(AUTHORIZATION, value.parse().unwrap());
    assert!(run(verifier.verify(&headers)).is_ok());
}

#[test]
fn a_jwks_file_without_usable_keys_is_an_error_naming_it() {
    let directory = tempfile::tempdir().unwrap();
    let cases = [
        ("not-json.json", "{\"keys\": [".to_owned(), "is not a JSON Web Key Set"),
        ("empty.json", "{\"keys\": []}".to_owned(), "holds no RS256 key with a key id"),
        (
            "only-others.json",
            json!({"keys": [
                {"kty": "EC", "crv": "P-256", "kid": "ec", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
                {"kty": "RSA", "alg": "RS512", "kid": "rs512", "n": google_key().modulus, "e": google_key().exponent},
                {"kty": "RSA", "alg": "RS256", "n": google_key().modulus, "e": google_key().exponent},
                {"kty": "weird", "kid": "weird"}
            ]})
            .to_string(),
            "holds no RS256 key with a key id",
        ),
    ];
    for (name, content, problem) in cases {
        let path = directory.path().join(name);
        fs_err::write(&path, content).unwrap();
        let error = GoogleTokenVerifier::new(settings(JwksSource::File(path.clone()))).unwrap_err();
        let message = error.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains(problem), "{message}");
    }
    let missing = directory.path().join("missing.json");
    let error = GoogleTokenVerifier::new(settings(JwksSource::File(missing.clone()))).unwrap_err();
    assert!(
        matches!(&error, AuthError::JwksFile { path, .. } if *path == missing),
        "{error}"
    );
}

#[test]
fn a_jwks_with_unknown_key_types_keeps_its_rs256_keys() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("jwks.json");
    let jwks = json!({"keys": [{"kty": "weird", "kid": "w"}, google_key().jwk("google-1")]});
    fs_err::write(&path, jwks.to_string()).unwrap();
    let verifier = GoogleTokenVerifier::new(settings(JwksSource::File(path)))
        .unwrap()
        .with_clock(TestClock::at(NOW));
    assert!(run(verifier.verify(&bearer(&sign(&claims())))).is_ok());
}

#[test]
fn jwks_sources_parse() {
    assert_eq!(JwksSource::default().to_string(), GOOGLE_JWKS_URL);
    assert!(matches!(
        JwksSource::parse("HTTPS://example.com/certs").unwrap(),
        JwksSource::Url(_)
    ));
    assert_eq!(
        JwksSource::parse("testdata/jwks.json").unwrap(),
        JwksSource::File(PathBuf::from("testdata/jwks.json"))
    );
    assert!(matches!(
        JwksSource::parse("https://"),
        Err(AuthError::JwksUrl { .. })
    ));
}

#[test]
fn cache_control_max_age_is_read() {
    let headers = |value: &'static str| {
        let mut headers = HeaderMap::new();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(value));
        headers
    };
    assert_eq!(
        cache_max_age(&headers(
            "public, max-age=19897, must-revalidate, no-transform"
        )),
        Some(Duration::from_secs(19897))
    );
    assert_eq!(cache_max_age(&headers("no-store")), Some(Duration::ZERO));
    assert_eq!(cache_max_age(&headers("public")), None);
    assert_eq!(cache_max_age(&HeaderMap::new()), None);
}

// ---------------------------------------------------------------------------------------------
// The JWKS over HTTP, from a loopback server that counts its fetches.

struct JwksServer {
    url: reqwest::Url,
    jwks: Arc<Mutex<Value>>,
    status: Arc<AtomicU16>,
    fetches: Arc<AtomicUsize>,
}

impl JwksServer {
    /// Serves `jwks` with `Cache-Control: public, max-age=<max_age>`.
    async fn start(jwks: Value, max_age: u64) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let jwks = Arc::new(Mutex::new(jwks));
        let status = Arc::new(AtomicU16::new(200));
        let fetches = Arc::new(AtomicUsize::new(0));
        let app = {
            let (jwks, status, fetches) = (jwks.clone(), status.clone(), fetches.clone());
            axum::Router::new().route(
                "/oauth2/v3/certs",
                axum::routing::get(move || {
                    let (jwks, status, fetches) = (jwks.clone(), status.clone(), fetches.clone());
                    async move {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        let body = jwks.lock().unwrap().to_string();
                        (
                            http::StatusCode::from_u16(status.load(Ordering::SeqCst)).unwrap(),
                            [
                                (CACHE_CONTROL, format!("public, max-age={max_age}")),
                                (http::header::CONTENT_TYPE, "application/json".to_owned()),
                            ],
                            body,
                        )
                    }
                }),
            )
        };
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url: format!("http://{address}/oauth2/v3/certs").parse().unwrap(),
            jwks,
            status,
            fetches,
        }
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    fn verifier(&self, clock: Arc<TestClock>) -> GoogleTokenVerifier {
        GoogleTokenVerifier::new(settings(JwksSource::Url(self.url.clone())))
            .unwrap()
            .with_clock(clock)
    }
}

/// A token for the test clock's current time.
fn sign_at(key: &TestKey, key_id: &str, now: i64) -> String {
    let claims = with(
        with(claims(), "iat", json!(now - 10)),
        "exp",
        json!(now + 3590),
    );
    sign_with(key, Some(key_id), &claims)
}

#[tokio::test]
async fn the_jwks_url_is_cached_and_fetched_again_for_an_unknown_key_at_most_once_a_minute() {
    let server = JwksServer::start(json!({"keys": [google_key().jwk("google-1")]}), 3600).await;
    let clock = TestClock::at(NOW);
    let verifier = server.verifier(clock.clone());
    let verify = |token: String| {
        let verifier = &verifier;
        async move { verifier.verify(&bearer(&token)).await }
    };

    verify(sign_at(google_key(), "google-1", NOW))
        .await
        .unwrap();
    assert_eq!(server.fetches(), 1, "the first token fetches the JWKS");
    verify(sign_at(google_key(), "google-1", NOW))
        .await
        .unwrap();
    assert_eq!(server.fetches(), 1, "the second is served from the cache");

    // Google rotates: a token names a key not published when this process fetched.
    clock.advance(61);
    let error = verify(sign_at(rotated_key(), "google-2", NOW + 61))
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::UnknownKeyId { .. }), "{error}");
    assert_eq!(server.fetches(), 2, "an unknown key id fetches once more");

    server.jwks.lock().unwrap()["keys"]
        .as_array_mut()
        .unwrap()
        .push(rotated_key().jwk("google-2"));
    clock.advance(30);
    let error = verify(sign_at(rotated_key(), "google-2", NOW + 91))
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::UnknownKeyId { .. }), "{error}");
    let error = verify(sign_at(rotated_key(), "google-3", NOW + 91))
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::UnknownKeyId { .. }), "{error}");
    assert_eq!(server.fetches(), 2, "no second fetch within a minute");
    verify(sign_at(google_key(), "google-1", NOW + 91))
        .await
        .unwrap();

    clock.advance(30);
    verify(sign_at(rotated_key(), "google-2", NOW + 121))
        .await
        .unwrap();
    assert_eq!(server.fetches(), 3, "a minute later the new key is fetched");
    verify(sign_at(google_key(), "google-1", NOW + 121))
        .await
        .unwrap();
    verify(sign_at(rotated_key(), "google-2", NOW + 121))
        .await
        .unwrap();
    assert_eq!(server.fetches(), 3);
}

#[tokio::test]
async fn the_jwks_url_is_fetched_again_when_its_max_age_passes() {
    let server = JwksServer::start(json!({"keys": [google_key().jwk("google-1")]}), 300).await;
    let clock = TestClock::at(NOW);
    let verifier = server.verifier(clock.clone());
    verifier.refresh_keys().await.unwrap();
    assert_eq!(server.fetches(), 1);
    clock.advance(299);
    verifier
        .verify(&bearer(&sign_at(google_key(), "google-1", NOW + 299)))
        .await
        .unwrap();
    assert_eq!(server.fetches(), 1);
    clock.advance(2);
    verifier
        .verify(&bearer(&sign_at(google_key(), "google-1", NOW + 301)))
        .await
        .unwrap();
    assert_eq!(server.fetches(), 2);

    // Google's key set has moved on: the old key is gone once the new set is fetched.
    *server.jwks.lock().unwrap() = json!({"keys": [rotated_key().jwk("google-2")]});
    clock.advance(301);
    let error = verifier
        .verify(&bearer(&sign_at(google_key(), "google-1", NOW + 602)))
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::UnknownKeyId { .. }), "{error}");
    assert_eq!(server.fetches(), 3);
}

#[tokio::test]
async fn an_unreachable_jwks_is_unavailable_not_unauthorized() {
    let server = JwksServer::start(json!({"keys": [google_key().jwk("google-1")]}), 3600).await;
    server.status.store(500, Ordering::SeqCst);
    let clock = TestClock::at(NOW);
    let verifier = server.verifier(clock.clone());
    let token = sign_at(google_key(), "google-1", NOW);

    let error = verifier.verify(&bearer(&token)).await.unwrap_err();
    assert!(
        matches!(error, AuthError::JwksStatus { status: 500, .. }),
        "{error}"
    );
    assert!(error.is_unavailable());
    assert_eq!(server.fetches(), 1);
    // Without keys, the next attempt is seconds away, not a minute; until then, no fetch.
    let error = verifier.verify(&bearer(&token)).await.unwrap_err();
    assert!(
        matches!(error, AuthError::JwksNotYetFetched { .. }),
        "{error}"
    );
    assert!(error.is_unavailable());
    assert_eq!(server.fetches(), 1);

    server.status.store(200, Ordering::SeqCst);
    clock.advance(5);
    verifier.verify(&bearer(&token)).await.unwrap();
    assert_eq!(server.fetches(), 2);

    // Keys past their max-age are still used while the JWKS cannot be fetched.
    server.status.store(503, Ordering::SeqCst);
    clock.advance(3600);
    verifier
        .verify(&bearer(&sign_at(google_key(), "google-1", NOW + 3605)))
        .await
        .unwrap();
    assert_eq!(server.fetches(), 3);

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let url = format!("http://{closed}/certs").parse().unwrap();
    let verifier = GoogleTokenVerifier::new(settings(JwksSource::Url(url)))
        .unwrap()
        .with_clock(TestClock::at(NOW));
    let error = verifier.refresh_keys().await.unwrap_err();
    assert!(matches!(error, AuthError::JwksFetch { .. }), "{error}");
    assert!(error.is_unavailable());
}

#[tokio::test]
async fn a_jwks_url_answering_garbage_is_unavailable() {
    let server = JwksServer::start(json!({"not": "a jwks"}), 3600).await;
    let verifier = server.verifier(TestClock::at(NOW));
    let error = verifier
        .verify(&bearer(&sign_at(google_key(), "google-1", NOW)))
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::JwksNotJson { .. }), "{error}");
    assert!(error.is_unavailable());
    assert!(error.to_string().contains(server.url.as_str()), "{error}");
}

// ---------------------------------------------------------------------------------------------
// Secrets and static credentials.

fn secret(text: &str) -> Secret {
    Secret::from_environment("EXELOCK_TEST_SECRET", text.to_owned()).unwrap()
}

#[test]
fn a_secret_file_loses_its_trailing_newline_only() {
    let directory = tempfile::tempdir().unwrap();
    for (content, expected) in [
        ("s3cret\n", "s3cret"),
        ("s3cret\r\n", "s3cret"),
        ("s3cret", "s3cret"),
        (" s3cret \n", " s3cret "),
        ("s3cret\n\n", "s3cret\n"),
    ] {
        let path = directory.path().join("secret");
        fs_err::write(&path, content).unwrap();
        assert_eq!(
            Secret::from_file(&path).unwrap().expose(),
            expected.as_bytes(),
            "{content:?}"
        );
    }
}

#[test]
fn an_empty_secret_is_an_error_naming_its_origin() {
    let directory = tempfile::tempdir().unwrap();
    for content in ["", "\n", "\r\n"] {
        let path = directory.path().join("empty-key");
        fs_err::write(&path, content).unwrap();
        let error = Secret::from_file(&path).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "the secret file {} is empty (expected the secret)",
                path.display()
            )
        );
    }
    let error = Secret::from_environment("EXELOCK_FALCO_TOKEN", "\n".to_owned()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the environment variable EXELOCK_FALCO_TOKEN is empty (expected the secret)"
    );
    let missing = directory.path().join("missing");
    let error = Secret::from_file(&missing).unwrap_err();
    assert!(
        matches!(&error, AuthError::SecretFile { path, .. } if *path == missing),
        "{error}"
    );
    let huge = directory.path().join("huge");
    fs_err::write(&huge, vec![b'k'; MAX_SECRET_BYTES + 1]).unwrap();
    assert!(matches!(
        Secret::from_file(&huge),
        Err(AuthError::SecretTooLong { .. })
    ));
}

#[test]
fn a_secret_is_never_shown() {
    let secret = secret("hunter2-very-secret");
    assert!(!format!("{secret:?}").contains("hunter2"));
    assert!(!format!("{secret}").contains("hunter2"));
    let checks = format!(
        "{:?} {:?} {:?}",
        ApiKeyCheck::new("x-api-key", &secret).unwrap(),
        BasicCheck::new(&self::secret("user:hunter2")).unwrap(),
        BearerCheck::new(&secret)
    );
    assert!(!checks.contains("hunter2"), "{checks}");
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.append(*name, value.parse().unwrap());
    }
    headers
}

#[test]
fn the_api_key_header_is_compared() {
    let check = ApiKeyCheck::new("X-Api-Key", &secret("k3y-0123456789")).unwrap();
    assert!(
        check
            .check(&headers(&[("x-api-key", "k3y-0123456789")]))
            .is_ok()
    );
    for wrong in ["k3y-0123456780", "k3y", "k3y-0123456789-and-more", ""] {
        let error = check.check(&headers(&[("x-api-key", wrong)])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "wrong API key in the x-api-key header",
            "{wrong:?}"
        );
    }
    let error = check
        .check(&headers(&[("authorization", "k3y-0123456789")]))
        .unwrap_err();
    assert_eq!(error.to_string(), "no x-api-key header");
    let error = check
        .check(&headers(&[
            ("x-api-key", "k3y-0123456789"),
            ("x-api-key", "other"),
        ]))
        .unwrap_err();
    assert!(matches!(error, AuthError::RepeatedHeader { .. }), "{error}");
    assert!(matches!(
        ApiKeyCheck::new("bad header", &secret("k")),
        Err(AuthError::HeaderName { .. })
    ));
}

#[test]
fn basic_credentials_are_compared() {
    let check = BasicCheck::new(&secret("eventbridge:pa55:word")).unwrap();
    let basic = |credentials: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        )
    };
    assert!(
        check
            .check(&headers(&[(
                "authorization",
                &basic("eventbridge:pa55:word")
            )]))
            .is_ok()
    );
    for wrong in [
        "eventbridge:pa55:wore",
        "eventbridge:pa55",
        "eventbridge:pa55:word!",
        "other:pa55:word",
    ] {
        let error = check
            .check(&headers(&[("authorization", &basic(wrong))]))
            .unwrap_err();
        assert!(
            matches!(error, AuthError::WrongBasicCredentials),
            "{wrong}: {error}"
        );
    }
    let error = check.check(&HeaderMap::new()).unwrap_err();
    assert_eq!(error.to_string(), "no authorization header");
    for malformed in [
        "Basic !!!notbase64",
        "Bearer ZXZlbnRicmlkZ2U6cGE1NTp3b3Jk",
        "Basic",
        "ZXZlbnQ=",
    ] {
        let error = check
            .check(&headers(&[("authorization", malformed)]))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "the authorization header is not Basic <base64 of user:password>",
            "{malformed}"
        );
    }
    for bad in ["no-colon", ":password", "user:"] {
        let error = BasicCheck::new(&secret(bad)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the environment variable EXELOCK_TEST_SECRET is not Basic credentials (expected user:password, both non-empty)"
        );
    }
}

#[test]
fn bearer_tokens_are_compared() {
    let check = BearerCheck::new(&secret("falco-token-0123456789"));
    assert!(
        check
            .check(&headers(&[(
                "authorization",
                "Bearer falco-token-0123456789"
            )]))
            .is_ok()
    );
    assert!(
        check
            .check(&headers(&[(
                "authorization",
                "BEARER  falco-token-0123456789 "
            )]))
            .is_ok()
    );
    for wrong in ["falco-token-0123456788", "falco", "falco-token-0123456789x"] {
        let error = check
            .check(&headers(&[("authorization", &format!("Bearer {wrong}"))]))
            .unwrap_err();
        assert!(
            matches!(error, AuthError::WrongBearerToken),
            "{wrong}: {error}"
        );
    }
    let error = check.check(&HeaderMap::new()).unwrap_err();
    assert!(matches!(error, AuthError::MissingHeader { .. }), "{error}");
    let error = check
        .check(&headers(&[(
            "authorization",
            "Token falco-token-0123456789",
        )]))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the authorization header is not Bearer <token>"
    );
}

#[test]
fn an_eventbridge_connection_may_use_its_api_key_or_basic() {
    let api_key = || ApiKeyCheck::new("x-api-key", &secret("k3y-0123456789")).unwrap();
    let basic = || BasicCheck::new(&secret("eventbridge:pa55word")).unwrap();
    let with_key = headers(&[("x-api-key", "k3y-0123456789")]);
    let with_basic = headers(&[("authorization", "Basic ZXZlbnRicmlkZ2U6cGE1NXdvcmQ=")]);
    let wrong_key = headers(&[
        ("x-api-key", "k3y-0123456780"),
        ("authorization", "Basic ZXZlbnRicmlkZ2U6cGE1NXdvcmQ="),
    ]);

    assert!(EventBridgeCheck::new(None, None).is_none());
    let both = EventBridgeCheck::new(Some(api_key()), Some(basic())).unwrap();
    assert!(both.check(&with_key).is_ok());
    assert!(both.check(&with_basic).is_ok());
    // A wrong key is not rescued by right Basic credentials beside it.
    assert!(matches!(
        both.check(&wrong_key),
        Err(AuthError::WrongApiKey { .. })
    ));
    assert!(
        matches!(both.check(&HeaderMap::new()), Err(AuthError::MissingHeader { header }) if header == "authorization")
    );

    let key_only = EventBridgeCheck::new(Some(api_key()), None).unwrap();
    assert!(key_only.check(&with_key).is_ok());
    assert!(
        matches!(key_only.check(&with_basic), Err(AuthError::MissingHeader { header }) if header == "x-api-key")
    );
    let basic_only = EventBridgeCheck::new(None, Some(basic())).unwrap();
    assert!(basic_only.check(&with_basic).is_ok());
    assert!(matches!(
        basic_only.check(&with_key),
        Err(AuthError::MissingHeader { .. })
    ));
}

/// The verification future is `Send`, so it can run in an axum handler on a multi-threaded
/// runtime (this fails to compile otherwise).
#[test]
fn verification_can_run_in_a_handler() {
    fn assert_send<T: Send>(_: &T) {}
    let (_directory, verifier) = file_verifier();
    let headers = bearer(&sign(&claims()));
    let verification = verifier.verify(&headers);
    assert_send(&verification);
    assert!(run(verification).is_ok());
}
