//! Keyless signing, without Sigstore's services: which services a signing config yields, which
//! identity tokens are read, the GitHub Actions token request and the errors that name a failing
//! service (against small HTTP servers on loopback), and how a signed bundle becomes an
//! [`Attestation`]. Signing end to end against local Fulcio, Rekor v1/v2 and TSA servers is
//! `tests/keyless.rs`.
//! Keyless *verification*, forgeries included, is sigstore-verify's, run on the conformance
//! vectors (`tests/sigstore_vectors.rs`) and on bundles the local services sign
//! (`tests/keyless.rs`).

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use super::*;
use crate::attest::Error as AttestError;
use crate::attest::statement::tests::sample_manifest;

const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
const GITHUB_SUB: &str = "repo:exelock/demo:ref:refs/heads/main";

/// An unsigned JWT with these claims (Fulcio, not exelock, verifies tokens).
fn jwt(claims: &serde_json::Value) -> String {
    let part =
        |value: &serde_json::Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap());
    format!(
        "{}.{}.c2lnbmF0dXJl",
        part(&json!({"alg": "RS256", "typ": "JWT"})),
        part(claims)
    )
}

/// A GitHub Actions token: `sub`, no `email`, valid for an hour.
fn github_token() -> String {
    jwt(&json!({
        "iss": GITHUB_ISSUER,
        "sub": GITHUB_SUB,
        "aud": "sigstore",
        "exp": jiff_now() + 3600,
        "job_workflow_ref": "exelock/demo/.github/workflows/release.yml@refs/heads/main",
    }))
}

fn jiff_now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// A v0.2 signing config listing these services, all valid since 2020.
fn signing_config(fulcio: &str, rekor_logs: &[(&str, u32)], tsa: Option<&str>) -> SigningConfig {
    let endpoint = |url: &str, version: u32| json!({"url": url, "majorApiVersion": version, "validFor": {"start": "2020-01-01T00:00:00Z"}});
    let config = json!({
        "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
        "caUrls": [endpoint(fulcio, 1)],
        "oidcUrls": [],
        "rekorTlogUrls": rekor_logs.iter().map(|(url, version)| endpoint(url, *version)).collect::<Vec<_>>(),
        "tsaUrls": tsa.map(|url| vec![endpoint(url, 1)]).unwrap_or_default(),
        "rekorTlogConfig": {"selector": "ANY"},
        "tsaConfig": {"selector": "ANY"},
    });
    SigningConfig::from_json(&config.to_string()).unwrap()
}

fn keyless_error(error: AttestError) -> Error {
    match error {
        AttestError::Keyless(error) => error,
        other => panic!("expected a keyless signing error, got {other:?}"),
    }
}

// ---- services from signing configs ----------------------------------------------------------

#[test]
fn the_built_in_config_is_the_public_good_instance() {
    // The doc comment of PUBLIC_GOOD_SIGNING_CONFIG names these; a crate update that changes the
    // snapshot fails here until the comment is updated.
    let services = SigningConfig::public_good()
        .unwrap()
        .services(RekorVersion::V1)
        .unwrap();
    assert_eq!(services.fulcio_url(), "https://fulcio.sigstore.dev");
    assert_eq!(services.rekor_url(), "https://rekor.sigstore.dev");
    assert_eq!(services.rekor_version(), RekorVersion::V1);
    assert_eq!(
        services.tsa_url(),
        Some("https://timestamp.sigstore.dev/api/v1/timestamp")
    );
    let newest_start = serde_json::from_str::<serde_json::Value>(PUBLIC_GOOD_SIGNING_CONFIG)
        .unwrap()["tsaUrls"][0]["validFor"]["start"]
        .clone();
    assert_eq!(newest_start, "2025-07-04T00:00:00Z");

    // It lists no Rekor v2 log: a clear error, not a silent v1.
    let error = keyless_error(
        SigningConfig::public_good()
            .unwrap()
            .services(RekorVersion::V2)
            .unwrap_err(),
    );
    assert!(matches!(error, Error::SigningServices { .. }), "{error:?}");
    assert!(
        crate::error_chain(&error).contains("no eligible Rekor V2 endpoint"),
        "{}",
        crate::error_chain(&error)
    );
}

#[test]
fn the_rekor_version_picks_the_log() {
    let config = signing_config(
        "https://fulcio.example",
        &[
            ("https://rekor.example", 1),
            ("https://log2.rekor.example", 2),
        ],
        Some("https://tsa.example/api/v1/timestamp"),
    );
    let v1 = config.services(RekorVersion::V1).unwrap();
    assert_eq!(v1.rekor_url(), "https://rekor.example");
    assert_eq!(v1.rekor_version(), RekorVersion::V1);
    let v2 = config.services(RekorVersion::V2).unwrap();
    assert_eq!(v2.rekor_url(), "https://log2.rekor.example");
    assert_eq!(v2.rekor_version(), RekorVersion::V2);
    for services in [&v1, &v2] {
        assert_eq!(services.fulcio_url(), "https://fulcio.example");
        assert_eq!(
            services.tsa_url(),
            Some("https://tsa.example/api/v1/timestamp")
        );
    }
}

#[test]
fn a_config_without_a_tsa_is_refused() {
    let config = signing_config(
        "https://fulcio.example",
        &[("https://rekor.example", 1)],
        None,
    );
    let error = keyless_error(config.services(RekorVersion::V1).unwrap_err());
    assert!(matches!(error, Error::SigningServices { .. }), "{error:?}");
    assert!(
        crate::error_chain(&error).contains("TSA"),
        "{}",
        crate::error_chain(&error)
    );
}

#[test]
fn a_document_that_is_not_a_v02_signing_config_is_refused() {
    for json in [
        "{",
        "[]",
        r#"{"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.1+json"}"#,
        r#"{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"#,
    ] {
        let error = keyless_error(SigningConfig::from_json(json).unwrap_err());
        assert!(
            matches!(error, Error::SigningConfig { .. }),
            "{json}: {error:?}"
        );
    }
}

#[test]
fn rekor_versions_parse() {
    assert_eq!("1".parse(), Ok(RekorVersion::V1));
    assert_eq!("2".parse(), Ok(RekorVersion::V2));
    assert_eq!(RekorVersion::default(), RekorVersion::V1);
    for text in ["", "0", "3", "v2", " 2"] {
        assert!(text.parse::<RekorVersion>().is_err(), "{text:?}");
    }
    assert_eq!(RekorVersion::V2.to_string(), "2");
}

// ---- identity tokens ------------------------------------------------------------------------

fn offline_services() -> Services {
    signing_config(
        "http://127.0.0.1:9",
        &[("http://127.0.0.1:9", 1)],
        Some("http://127.0.0.1:9/api/v1/timestamp"),
    )
    .services(RekorVersion::V1)
    .unwrap()
}

#[test]
fn a_github_token_without_email_is_read() {
    let token = github_token();
    let signer = KeylessSigner::new(
        offline_services(),
        IdentityTokenSource::Token(token.clone()),
    )
    .unwrap();
    assert!(!format!("{signer:?}").contains(&token));
    assert_eq!(signer.services(), &offline_services());
    // The source does not show its token either.
    assert!(!format!("{:?}", IdentityTokenSource::Token(token.clone())).contains(&token));
}

#[test]
fn tokens_that_are_not_jwts_are_refused_without_showing_them() {
    let no_exp = jwt(&json!({"iss": GITHUB_ISSUER, "sub": GITHUB_SUB}));
    let no_sub = jwt(&json!({"iss": GITHUB_ISSUER, "exp": jiff_now() + 60}));
    for token in [
        "",
        "abc",
        "a.b",
        "a.!!!.c",
        &format!("a.{}.c", URL_SAFE_NO_PAD.encode("[]")),
        &no_exp,
        &no_sub,
    ] {
        let error = keyless_error(
            KeylessSigner::new(offline_services(), IdentityTokenSource::Token(token.into()))
                .unwrap_err(),
        );
        assert!(
            matches!(error, Error::IdentityToken { .. }),
            "{token}: {error:?}"
        );
        if !token.is_empty() {
            assert!(
                !crate::error_chain(&error).contains(token),
                "{}",
                crate::error_chain(&error)
            );
        }
    }
}

#[test]
fn an_expired_token_is_refused_before_fulcio() {
    let expired = jwt(&json!({"iss": GITHUB_ISSUER, "sub": GITHUB_SUB, "exp": 1_700_000_000}));
    let error = keyless_error(
        KeylessSigner::new(offline_services(), IdentityTokenSource::Token(expired)).unwrap_err(),
    );
    assert!(
        matches!(error, Error::IdentityTokenExpired { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "the OIDC identity token (issuer {GITHUB_ISSUER}) expired at 2023-11-14T22:13:20Z; get a fresh one"
        )
    );
}

// ---- HTTP: the GitHub Actions endpoint and failing services ----------------------------------

/// An HTTP/1.1 server on loopback that answers every request with one status and body, and
/// records each request (head and body) it read.
struct Answering {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Answering {
    fn start(status: u16, body: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        // Detached: the thread blocks in accept until the test process ends.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut raw = Vec::new();
                let mut buffer = [0u8; 4096];
                let head_end = loop {
                    let read = stream.read(&mut buffer).unwrap_or(0);
                    if read == 0 {
                        break None;
                    }
                    raw.extend_from_slice(&buffer[..read]);
                    if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                        break Some(end + 4);
                    }
                };
                let Some(head_end) = head_end else { continue };
                let head = String::from_utf8_lossy(&raw[..head_end]).to_lowercase();
                let length = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .and_then(|value| value.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                while raw.len() < head_end + length {
                    let read = stream.read(&mut buffer).unwrap_or(0);
                    if read == 0 {
                        break;
                    }
                    raw.extend_from_slice(&buffer[..read]);
                }
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&raw).into_owned());
                let answer = format!(
                    "HTTP/1.1 {status} Status\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        Self { url, requests }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn from_github_actions(request_url: &str) -> IdentityTokenSource {
    IdentityTokenSource::GitHubActions {
        request_url: request_url.to_owned(),
        request_token: "request-token-s3cr3t".to_owned(),
    }
}

#[test]
fn the_github_actions_token_is_requested_for_audience_sigstore() {
    let token = github_token();
    let answer: &'static str = Box::leak(
        json!({"count": 1, "value": token})
            .to_string()
            .into_boxed_str(),
    );
    let endpoint = Answering::start(200, answer);
    let request_url = format!("{}/idtoken?api-version=2.0", endpoint.url);
    KeylessSigner::new(offline_services(), from_github_actions(&request_url)).unwrap();
    let [request] = endpoint.requests().try_into().unwrap();
    assert!(
        request.starts_with("GET /idtoken?api-version=2.0&audience=sigstore HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(
        request
            .to_lowercase()
            .contains("\r\nauthorization: bearer request-token-s3cr3t\r\n"),
        "{request}"
    );

    // Without a query string of its own.
    let endpoint = Answering::start(200, answer);
    KeylessSigner::new(offline_services(), from_github_actions(&endpoint.url)).unwrap();
    assert!(
        endpoint.requests()[0].starts_with("GET /?audience=sigstore HTTP/1.1\r\n"),
        "{:?}",
        endpoint.requests()
    );
}

#[test]
fn github_actions_token_failures_are_clear_and_hide_the_request_token() {
    let refused = Answering::start(403, r#"{"message":"no id-token permission"}"#);
    let error = keyless_error(
        KeylessSigner::new(offline_services(), from_github_actions(&refused.url)).unwrap_err(),
    );
    assert!(
        matches!(error, Error::GitHubActionsStatus { status: 403, .. }),
        "{error:?}"
    );
    let text = crate::error_chain(&error);
    assert!(text.contains("no id-token permission"), "{text}");
    assert!(text.contains("id-token: write"), "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");

    for body in ["{}", r#"{"value": ""}"#, "not json"] {
        let empty = Answering::start(200, body);
        let error = keyless_error(
            KeylessSigner::new(offline_services(), from_github_actions(&empty.url)).unwrap_err(),
        );
        assert!(
            matches!(error, Error::GitHubActionsAnswer { .. }),
            "{body}: {error:?}"
        );
    }

    // Nothing listens on port 9 of loopback.
    let error = keyless_error(
        KeylessSigner::new(
            offline_services(),
            from_github_actions("http://127.0.0.1:9/t"),
        )
        .unwrap_err(),
    );
    assert!(
        matches!(error, Error::GitHubActionsRequest { .. }),
        "{error:?}"
    );
    assert!(!crate::error_chain(&error).contains("s3cr3t"));

    let error = keyless_error(
        KeylessSigner::new(offline_services(), from_github_actions("not a url")).unwrap_err(),
    );
    assert!(matches!(error, Error::GitHubActionsUrl { .. }), "{error:?}");
}

#[test]
fn a_fulcio_refusal_names_fulcio_and_its_answer_not_the_token() {
    let fulcio = Answering::start(401, r#"{"code":16,"message":"invalid identity token"}"#);
    let services = signing_config(
        &fulcio.url,
        &[("http://127.0.0.1:9", 1)],
        Some("http://127.0.0.1:9/api/v1/timestamp"),
    )
    .services(RekorVersion::V1)
    .unwrap();
    let token = github_token();
    let signer = KeylessSigner::new(services, IdentityTokenSource::Token(token.clone())).unwrap();
    let digest = Sha256Digest::of(b"keyless image");
    let error = keyless_error(
        signer
            .attest(&sample_manifest(digest), "registry.example/app", digest)
            .unwrap_err(),
    );
    assert!(matches!(error, Error::Fulcio { .. }), "{error:?}");
    let text = crate::error_chain(&error);
    assert!(
        text.starts_with(&format!(
            "Fulcio at {} did not issue a signing certificate: ",
            fulcio.url
        )),
        "{text}"
    );
    assert!(
        text.contains("401") && text.contains("invalid identity token"),
        "{text}"
    );
    assert!(!text.contains(&token), "{text}");

    // What reached Fulcio: the token and a proof of possession for a fresh key; nothing else
    // was contacted (Rekor and the TSA are unreachable and were not reported).
    let [request] = fulcio.requests().try_into().unwrap();
    assert!(
        request.starts_with("POST /api/v2/signingCert HTTP/1.1\r\n"),
        "{request}"
    );
    let body: serde_json::Value =
        serde_json::from_str(&request[request.find("\r\n\r\n").unwrap() + 4..]).unwrap();
    assert_eq!(body["credentials"]["oidcIdentityToken"], token);
    let key_request = &body["publicKeyRequest"];
    assert!(
        key_request["publicKey"]["content"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----"),
        "{key_request}"
    );
    assert!(
        key_request["proofOfPossession"].as_str().is_some(),
        "{key_request}"
    );
}

// ---- signed bundles become attestations -----------------------------------------------------

/// A bundle shaped like the one sigstore-sign returns: `statement` in a DSSE envelope signed by
/// a fresh key, and a certificate (one from the conformance vectors: only its place in the
/// bundle matters here, nothing verifies it).
fn signed_bundle(statement: &[u8]) -> Bundle {
    let vector: serde_json::Value = serde_json::from_slice(include_bytes!(
        "../../../testdata/sigstore/sigstore-conformance/test/assets/bundle-verify/happy-path-intoto-in-dsse-v3/bundle.sigstore.json"
    ))
    .unwrap();
    let certificate = vector["verificationMaterial"]["certificate"].clone();
    let envelope = crate::attest::sign::sign_envelope(
        statement,
        &crate::attest::keys::KeySigner::generate().unwrap(),
        String::new(),
    )
    .unwrap();
    let bundle = json!({
        "mediaType": crate::attest::BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"certificate": certificate},
        "dsseEnvelope": serde_json::from_slice::<serde_json::Value>(&envelope.to_json().unwrap()).unwrap(),
    });
    Bundle::from_json(&bundle.to_string()).unwrap()
}

#[test]
fn the_attestation_carries_the_signed_statement_envelope_and_bundle() {
    let digest = Sha256Digest::of(b"keyless image");
    let statement = Statement::for_manifest(&sample_manifest(digest), "app", &digest)
        .to_json()
        .unwrap();
    let bundle = signed_bundle(&statement);
    let attestation = attestation_from_bundle(statement.clone(), &bundle).unwrap();
    assert_eq!(attestation.statement_json, statement);
    assert_eq!(attestation.envelope.payload, statement);
    assert_eq!(
        attestation.envelope.payload_type,
        crate::attest::IN_TOTO_PAYLOAD_TYPE
    );
    let SignatureContent::DsseEnvelope(signed) = &bundle.content else {
        panic!("a DSSE bundle")
    };
    let [signature] = attestation.envelope.signatures.as_slice() else {
        panic!("one signature")
    };
    assert_eq!(signature.sig, signed.signature.sig.as_bytes());
    assert_eq!(signature.keyid, "");
    // The bundle JSON is the crate's bundle, which protobuf-specs' reader reads too.
    assert_eq!(
        Bundle::from_json(std::str::from_utf8(&attestation.bundle_json).unwrap()).unwrap(),
        bundle
    );
    let proto: sigstore_protobuf_specs::dev::sigstore::bundle::v1::Bundle =
        serde_json::from_slice(&attestation.bundle_json).unwrap();
    assert_eq!(proto.media_type, crate::attest::BUNDLE_MEDIA_TYPE);
}

#[test]
fn a_bundle_of_another_payload_is_not_the_attestation() {
    let bundle = signed_bundle(br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"00"}}],"predicateType":"p","predicate":{}}"#);
    let error = attestation_from_bundle(b"{}".to_vec(), &bundle).unwrap_err();
    assert!(matches!(error, Error::SignedBundle { .. }), "{error:?}");

    let mut message: serde_json::Value = serde_json::from_str(&bundle.to_json().unwrap()).unwrap();
    message.as_object_mut().unwrap().remove("dsseEnvelope");
    message["messageSignature"] = json!({
        "messageDigest": {"algorithm": "SHA2_256", "digest": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
        "signature": "MEUCIQ==",
    });
    let message = Bundle::from_json(&message.to_string()).unwrap();
    let error = attestation_from_bundle(b"{}".to_vec(), &message).unwrap_err();
    assert!(
        matches!(error, Error::SignedBundle { reason } if reason.contains("no DSSE envelope")),
        "{error:?}"
    );
}
