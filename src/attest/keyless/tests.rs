//! Keyless signing and verification, offline: an in-process fake Fulcio (answers with OpenSSL-made
//! certificates from `testdata/attest/keyless/`) and a fake Rekor (builds the `dsse` body and
//! signs the SET with the fixture log key, as Rekor does). See
//! `testdata/attest/make_keyless_fixtures.py` for how the certificates were made.

use std::cell::RefCell;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::Signer as _;
use p256::elliptic_curve::Generate as _;
use p256::pkcs8::DecodePrivateKey as _;
use p256::pkcs8::EncodePublicKey as _;
use serde_json::json;

use sha2::{Digest as _, Sha256};

use super::*;
use crate::attest::statement::tests::sample_manifest;
use crate::attest::{Trust, TrustedRoot, verify_bundle};

const LEAF_KEY: &[u8] = include_bytes!("../../../testdata/attest/keyless/leaf.key");
const LEAF: &str = include_str!("../../../testdata/attest/keyless/leaf.pem");
const LEAF_EMAIL: &str = include_str!("../../../testdata/attest/keyless/leaf-email.pem");
const LEAF_NO_EKU: &str = include_str!("../../../testdata/attest/keyless/leaf-no-eku.pem");
const LEAF_OTHER_CA: &str = include_str!("../../../testdata/attest/keyless/leaf-other-ca.pem");
const LEAF_VIA_INT: &str = include_str!("../../../testdata/attest/keyless/leaf-via-int.pem");
const LEAF_OLD_CA: &str = include_str!("../../../testdata/attest/keyless/leaf-old-ca.pem");
const LEAF_UNDER_LEAF: &str = include_str!("../../../testdata/attest/keyless/leaf-under-leaf.pem");
const FULCIO_ROOT: &str = include_str!("../../../testdata/attest/keyless/fulcio-root.pem");
const REKOR_KEY: &[u8] = include_bytes!("../../../testdata/attest/keyless/rekor.key");
const TRUSTED_ROOT: &[u8] = include_bytes!("../../../testdata/attest/keyless/trusted_root.json");

const IDENTITY: &str =
    "https://github.com/exelock/demo/.github/workflows/release.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
const EMAIL: &str = "signer@example.com";
const EMAIL_ISSUER: &str = "https://accounts.example.com";
/// 2026-01-01T00:05:00Z: inside the leaves' ten minutes.
const SIGNING_TIME: i64 = 1_767_225_900;
const FULCIO_URL: &str = "https://fulcio.example.invalid";
const REKOR_URL: &str = "https://rekor.example.invalid/";

fn image_digest() -> Sha256Digest {
    Sha256Digest::of(b"keyless image")
}

fn leaf_signer() -> KeySigner {
    KeySigner::from_pem(LEAF_KEY, b"").unwrap()
}

fn rekor_key() -> p256::ecdsa::SigningKey {
    let (_, der) = p256::pkcs8::der::pem::decode_vec(REKOR_KEY.trim_ascii()).unwrap();
    p256::ecdsa::SigningKey::from_pkcs8_der(&der).unwrap()
}

fn trusted_root() -> TrustedRoot {
    TrustedRoot::from_json(TRUSTED_ROOT).unwrap()
}

fn keyless_trust(identity: &str, issuer: &str) -> Trust {
    Trust::Keyless {
        identity: identity.to_owned(),
        issuer: issuer.to_owned(),
        trusted_root: trusted_root(),
    }
}

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

fn github_token() -> String {
    jwt(&json!({
        "iss": ISSUER,
        "sub": "repo:exelock/demo:ref:refs/heads/main",
        "aud": "sigstore",
        "job_workflow_ref": "exelock/demo/.github/workflows/release.yml@refs/heads/main",
    }))
}

fn settings(token: String) -> KeylessSettings {
    KeylessSettings {
        fulcio_url: FULCIO_URL.into(),
        rekor_url: REKOR_URL.into(),
        identity_token: token,
    }
}

/// Fulcio and Rekor, in-process. Records every request.
struct FakeSigstore {
    /// Leaf first, as Fulcio answers.
    chain: Vec<String>,
    rekor_key: p256::ecdsa::SigningKey,
    integrated_time: i64,
    /// Misbehave: record a different signature than the one uploaded.
    record_other_signature: bool,
    requests: RefCell<Vec<HttpRequest>>,
}

impl FakeSigstore {
    fn new(leaf: &str) -> Self {
        Self {
            chain: vec![leaf.to_owned(), FULCIO_ROOT.to_owned()],
            rekor_key: rekor_key(),
            integrated_time: SIGNING_TIME,
            record_other_signature: false,
            requests: RefCell::new(Vec::new()),
        }
    }

    fn at(mut self, integrated_time: i64) -> Self {
        self.integrated_time = integrated_time;
        self
    }

    fn fulcio(&self) -> HttpResponse {
        let body = json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": self.chain}}});
        HttpResponse {
            status: 201,
            body: serde_json::to_vec(&body).unwrap(),
        }
    }

    /// What Rekor does for a proposed `dsse` entry: canonical body, log id, index, SET.
    fn rekor(&self, request: &HttpRequest) -> HttpResponse {
        let proposed: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        let content = &proposed["spec"]["proposedContent"];
        let envelope_text = content["envelope"].as_str().unwrap();
        let envelope = dsse::Envelope::from_json(envelope_text.as_bytes()).unwrap();
        let recorded_signature = if self.record_other_signature {
            vec![0x30, 0x00]
        } else {
            envelope.signatures[0].sig.clone()
        };
        let body = json!({
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(envelope_text))},
                "payloadHash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(&envelope.payload))},
                "signatures": [{
                    "signature": STANDARD.encode(&recorded_signature),
                    "verifier": content["verifiers"][0],
                }],
            }
        });
        let body = serde_json::to_vec(&body).unwrap();
        let spki = self.rekor_key.verifying_key().to_public_key_der().unwrap();
        let log_id = Sha256::digest(spki.as_bytes()).to_vec();
        let entry = TransparencyLogEntry {
            log_index: 98_765_432,
            log_id: super::super::bundle::LogId {
                key_id: log_id.clone(),
            },
            kind_version: super::super::bundle::KindVersion {
                kind: "dsse".into(),
                version: "0.0.1".into(),
            },
            integrated_time: self.integrated_time,
            inclusion_promise: None,
            inclusion_proof: None,
            canonicalized_body: body.clone(),
        };
        let signature: p256::ecdsa::Signature =
            self.rekor_key.sign(&tlog::set_payload(&entry).unwrap());
        let answer = json!({
            "24296fb24b8ad77a1234": {
                "body": STANDARD.encode(&body),
                "integratedTime": self.integrated_time,
                "logID": hex::encode(&log_id),
                "logIndex": 98_765_432,
                "verification": {
                    "signedEntryTimestamp": STANDARD.encode(signature.to_der().as_bytes()),
                    "inclusionProof": {
                        "logIndex": 12_345,
                        "rootHash": hex::encode([7u8; 32]),
                        "treeSize": 12_346,
                        "hashes": [hex::encode([1u8; 32])],
                        "checkpoint": "rekor.example.invalid - 1\n12346\nBwcH\n\n— rekor.example.invalid sig\n",
                    },
                },
            }
        });
        HttpResponse {
            status: 201,
            body: serde_json::to_vec(&answer).unwrap(),
        }
    }

    fn recorded(&self, url_suffix: &str) -> HttpRequest {
        self.requests
            .borrow()
            .iter()
            .find(|request| request.url.ends_with(url_suffix))
            .cloned()
            .unwrap()
    }
}

impl HttpTransport for FakeSigstore {
    fn send(
        &self,
        request: &HttpRequest,
    ) -> Result<HttpResponse, Box<dyn std::error::Error + Send + Sync>> {
        self.requests.borrow_mut().push(request.clone());
        match (request.method, request.url.as_str()) {
            (Method::Post, "https://fulcio.example.invalid/api/v2/signingCert") => {
                Ok(self.fulcio())
            }
            (Method::Post, "https://rekor.example.invalid/api/v1/log/entries") => {
                Ok(self.rekor(request))
            }
            _ => Ok(HttpResponse {
                status: 404,
                body: b"not found".to_vec(),
            }),
        }
    }
}

/// Signs keyless through the fakes with the fixture leaf key.
fn attest_through(fake: &FakeSigstore, token: String) -> Attestation {
    attest_keyless_using(
        fake,
        &leaf_signer(),
        &sample_manifest(image_digest()),
        "registry.example/app",
        image_digest(),
        &settings(token),
    )
    .unwrap()
}

fn bundle_for(leaf: &str, integrated_time: i64) -> Vec<u8> {
    attest_through(&FakeSigstore::new(leaf).at(integrated_time), github_token()).bundle_json
}

fn verify(bundle_json: &[u8], trust: &Trust) -> Result<crate::attest::VerifiedAttestation, Error> {
    verify_bundle(bundle_json, &image_digest(), trust)
}

fn assert_rejected(result: Result<crate::attest::VerifiedAttestation, Error>) -> Error {
    let error = result.unwrap_err();
    assert!(error.is_verification_failure(), "{error:?}");
    error
}

#[test]
fn keyless_bundle_verifies() {
    let fake = FakeSigstore::new(LEAF);
    let attestation = attest_through(&fake, github_token());
    let verified = verify(&attestation.bundle_json, &keyless_trust(IDENTITY, ISSUER)).unwrap();
    assert_eq!(verified.manifest(), &sample_manifest(image_digest()));
    assert_eq!(verified.signer(), format!("{IDENTITY} (issuer {ISSUER})"));
    assert_eq!(verified.subject_name(), "registry.example/app");
}

#[test]
fn keyless_bundle_has_certificate_and_log_entry() {
    let fake = FakeSigstore::new(LEAF);
    let attestation = attest_through(&fake, github_token());
    let bundle = Bundle::from_json(&attestation.bundle_json).unwrap();
    let (_, leaf_der) = p256::pkcs8::der::pem::decode_vec(LEAF.trim().as_bytes()).unwrap();
    let material = &bundle.verification_material;
    assert_eq!(material.certificate.as_ref().unwrap().raw_bytes, leaf_der);
    assert!(material.public_key.is_none());
    let [entry] = material.tlog_entries.as_slice() else {
        panic!("expected one log entry: {material:?}");
    };
    assert_eq!(entry.log_index, 98_765_432);
    assert_eq!(entry.integrated_time, SIGNING_TIME);
    assert_eq!(
        (
            entry.kind_version.kind.as_str(),
            entry.kind_version.version.as_str()
        ),
        ("dsse", "0.0.1")
    );
    let spki = rekor_key().verifying_key().to_public_key_der().unwrap();
    assert_eq!(
        entry.log_id.key_id,
        Sha256::digest(spki.as_bytes()).to_vec()
    );
    assert!(entry.inclusion_promise.is_some());
    let proof = entry.inclusion_proof.as_ref().unwrap();
    assert_eq!((proof.log_index, proof.tree_size), (12_345, 12_346));
    assert_eq!(proof.root_hash, vec![7u8; 32]);
    assert!(proof.checkpoint.is_some());
    assert_eq!(attestation.envelope.signatures[0].keyid, "");
    // An independent proto-JSON implementation reads it.
    let proto: sigstore_protobuf_specs::dev::sigstore::bundle::v1::Bundle =
        serde_json::from_slice(&attestation.bundle_json).unwrap();
    assert_eq!(proto.media_type, crate::attest::BUNDLE_MEDIA_TYPE);
}

#[test]
fn fulcio_request_proves_possession_of_the_key_over_sub() {
    let fake = FakeSigstore::new(LEAF);
    let token = github_token();
    attest_through(&fake, token.clone());
    let request = fake.recorded("/api/v2/signingCert");
    assert_eq!(request.method, Method::Post);
    assert_eq!(
        request.url,
        "https://fulcio.example.invalid/api/v2/signingCert"
    );
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["credentials"]["oidcIdentityToken"], token);
    let public_key = &body["publicKeyRequest"]["publicKey"];
    assert_eq!(public_key["algorithm"], "ECDSA");
    assert_eq!(
        public_key["content"],
        leaf_signer().public_key_pem().unwrap()
    );
    let proof = STANDARD
        .decode(
            body["publicKeyRequest"]["proofOfPossession"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    leaf_signer()
        .public_key()
        .verify(b"repo:exelock/demo:ref:refs/heads/main", &proof)
        .unwrap();
}

#[test]
fn fulcio_proof_signs_the_email_when_the_token_has_one() {
    let fake = FakeSigstore::new(LEAF_EMAIL);
    let token = jwt(&json!({"iss": EMAIL_ISSUER, "sub": "1234567890", "email": EMAIL}));
    let attestation = attest_through(&fake, token);
    let body: serde_json::Value =
        serde_json::from_slice(&fake.recorded("/api/v2/signingCert").body).unwrap();
    let proof = STANDARD
        .decode(
            body["publicKeyRequest"]["proofOfPossession"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    leaf_signer()
        .public_key()
        .verify(EMAIL.as_bytes(), &proof)
        .unwrap();
    // The email leaf carries its issuer only in the legacy 57264.1.1 extension.
    let verified = verify(
        &attestation.bundle_json,
        &keyless_trust(EMAIL, EMAIL_ISSUER),
    )
    .unwrap();
    assert_eq!(
        verified.signer(),
        format!("{EMAIL} (issuer {EMAIL_ISSUER})")
    );
}

#[test]
fn rekor_request_is_a_dsse_entry_of_the_envelope_and_certificate() {
    let fake = FakeSigstore::new(LEAF);
    let attestation = attest_through(&fake, github_token());
    let request = fake.recorded("/api/v1/log/entries");
    // The trailing slash of the configured URL does not double.
    assert_eq!(
        request.url,
        "https://rekor.example.invalid/api/v1/log/entries"
    );
    assert_eq!(request.header("authorization"), None);
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        (body["kind"].as_str(), body["apiVersion"].as_str()),
        (Some("dsse"), Some("0.0.1"))
    );
    let content = &body["spec"]["proposedContent"];
    let envelope =
        dsse::Envelope::from_json(content["envelope"].as_str().unwrap().as_bytes()).unwrap();
    assert_eq!(envelope, attestation.envelope);
    let verifier = STANDARD
        .decode(content["verifiers"][0].as_str().unwrap())
        .unwrap();
    assert_eq!(String::from_utf8(verifier).unwrap().trim(), LEAF.trim());
}

#[test]
fn certificate_chaining_through_an_intermediate_verifies() {
    // A P-256 root and intermediate, SHA-256 signatures (the main fixture is P-384/SHA-384).
    let bundle = bundle_for(LEAF_VIA_INT, SIGNING_TIME);
    verify(&bundle, &keyless_trust(IDENTITY, ISSUER)).unwrap();
}

#[test]
fn keyless_rejects_a_certificate_expired_at_signing_time() {
    // The log recorded the entry an hour after the ten-minute certificate expired.
    let bundle = bundle_for(LEAF, SIGNING_TIME + 3600);
    let error = assert_rejected(verify(&bundle, &keyless_trust(IDENTITY, ISSUER)));
    assert!(
        matches!(error, Error::CertificateExpired { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains(&format!(
            "(got integratedTime {}, expected between 1767225600 and 1767226200)",
            SIGNING_TIME + 3600
        )),
        "{error}"
    );
    // And before it was issued.
    let bundle = bundle_for(LEAF, SIGNING_TIME - 3600);
    let error = assert_rejected(verify(&bundle, &keyless_trust(IDENTITY, ISSUER)));
    assert!(
        matches!(error, Error::CertificateExpired { .. }),
        "{error:?}"
    );
}

#[test]
fn keyless_rejects_a_certificate_from_an_untrusted_ca() {
    // Same identity, issuer and subject names, but issued by a CA outside the trusted root.
    let bundle = bundle_for(LEAF_OTHER_CA, SIGNING_TIME);
    let error = assert_rejected(verify(&bundle, &keyless_trust(IDENTITY, ISSUER)));
    assert!(
        matches!(error, Error::UntrustedCertificate { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("test fulcio root"), "{error}");
}

#[test]
fn keyless_rejects_a_ca_outside_its_trusted_root_validity() {
    let mut root: serde_json::Value = serde_json::from_slice(TRUSTED_ROOT).unwrap();
    root["certificateAuthorities"][0]["validFor"] =
        json!({"start": "2025-01-01T00:00:00Z", "end": "2025-12-31T23:59:59Z"});
    let trust = Trust::Keyless {
        identity: IDENTITY.into(),
        issuer: ISSUER.into(),
        trusted_root: TrustedRoot::from_json(&serde_json::to_vec(&root).unwrap()).unwrap(),
    };
    let error = assert_rejected(verify(&bundle_for(LEAF, SIGNING_TIME), &trust));
    assert!(
        matches!(error, Error::UntrustedCertificate { .. }),
        "{error:?}"
    );
}

#[test]
fn keyless_rejects_the_wrong_identity() {
    let bundle = bundle_for(LEAF, SIGNING_TIME);
    let wrong = "https://github.com/exelock/demo/.github/workflows/other.yml@refs/heads/main";
    let error = assert_rejected(verify(&bundle, &keyless_trust(wrong, ISSUER)));
    assert!(matches!(error, Error::IdentityMismatch { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains(&format!("(got {IDENTITY}, expected {wrong})")),
        "{error}"
    );
    // Exact match only: a prefix is not enough.
    let prefix = "https://github.com/exelock/demo/";
    let error = assert_rejected(verify(&bundle, &keyless_trust(prefix, ISSUER)));
    assert!(matches!(error, Error::IdentityMismatch { .. }), "{error:?}");
}

#[test]
fn keyless_rejects_the_wrong_issuer() {
    let bundle = bundle_for(LEAF, SIGNING_TIME);
    let error = assert_rejected(verify(
        &bundle,
        &keyless_trust(IDENTITY, "https://accounts.google.com"),
    ));
    assert!(matches!(error, Error::IssuerMismatch { .. }), "{error:?}");
    assert!(
        error.to_string().contains(&format!(
            "(got {ISSUER}, expected https://accounts.google.com)"
        )),
        "{error}"
    );
}

#[test]
fn keyless_rejects_a_certificate_without_code_signing_usage() {
    let bundle = bundle_for(LEAF_NO_EKU, SIGNING_TIME);
    let error = assert_rejected(verify(&bundle, &keyless_trust(IDENTITY, ISSUER)));
    assert!(matches!(error, Error::CodeSigningUsage), "{error:?}");
}

/// The bundle JSON of a good keyless attestation with `edit` applied to its log entry.
fn with_entry_edit(edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut bundle: serde_json::Value =
        serde_json::from_slice(&bundle_for(LEAF, SIGNING_TIME)).unwrap();
    edit(&mut bundle["verificationMaterial"]["tlogEntries"][0]);
    serde_json::to_vec(&bundle).unwrap()
}

#[test]
fn keyless_rejects_a_tampered_signed_entry_timestamp() {
    let bundle = with_entry_edit(|entry| {
        let set = STANDARD
            .decode(
                entry["inclusionPromise"]["signedEntryTimestamp"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        let mut set = set;
        let middle = set.len() / 2;
        set[middle] ^= 0x01;
        entry["inclusionPromise"]["signedEntryTimestamp"] = json!(STANDARD.encode(set));
    });
    let error = assert_rejected(verify(&bundle, &keyless_trust(IDENTITY, ISSUER)));
    assert!(matches!(error, Error::SignedEntryTimestamp), "{error:?}");
}

#[test]
fn keyless_rejects_entry_fields_the_set_covers() {
    // Moving the signing time back into some other certificate's validity breaks the SET.
    for edit in [
        (|entry: &mut serde_json::Value| entry["integratedTime"] = json!("1767225700"))
            as fn(&mut serde_json::Value),
        |entry| entry["logIndex"] = json!("1"),
        |entry| {
            let body = STANDARD
                .decode(entry["canonicalizedBody"].as_str().unwrap())
                .unwrap();
            let text = String::from_utf8(body).unwrap().replace("0.0.1", "0.0.1 ");
            entry["canonicalizedBody"] = json!(STANDARD.encode(text));
        },
    ] {
        let error = assert_rejected(verify(
            &with_entry_edit(edit),
            &keyless_trust(IDENTITY, ISSUER),
        ));
        assert!(matches!(error, Error::SignedEntryTimestamp), "{error:?}");
    }
}

#[test]
fn log_entries_are_checked_up_to_the_cap() {
    // Each entry costs a signature check; a bundle may repeat its genuine entry, but not without
    // bound.
    let repeated = |count: usize| {
        let mut bundle: serde_json::Value =
            serde_json::from_slice(&bundle_for(LEAF, SIGNING_TIME)).unwrap();
        let entry = bundle["verificationMaterial"]["tlogEntries"][0].clone();
        bundle["verificationMaterial"]["tlogEntries"] = json!(vec![entry; count]);
        serde_json::to_vec(&bundle).unwrap()
    };
    let trust = keyless_trust(IDENTITY, ISSUER);
    verify(&repeated(crate::attest::verify::MAX_TLOG_ENTRIES), &trust).unwrap();
    let error = verify(
        &repeated(crate::attest::verify::MAX_TLOG_ENTRIES + 1),
        &trust,
    )
    .unwrap_err();
    assert!(
        matches!(error, Error::TooManyLogEntries { got: 9, limit: 8 }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "the bundle carries 9 transparency-log entries, more than the 8 exelock checks"
    );
}

#[test]
fn keyless_rejects_a_bundle_without_a_log_entry() {
    let mut bundle: serde_json::Value =
        serde_json::from_slice(&bundle_for(LEAF, SIGNING_TIME)).unwrap();
    bundle["verificationMaterial"]
        .as_object_mut()
        .unwrap()
        .remove("tlogEntries");
    let error = assert_rejected(verify(
        &serde_json::to_vec(&bundle).unwrap(),
        &keyless_trust(IDENTITY, ISSUER),
    ));
    assert!(matches!(error, Error::MissingTlogEntry), "{error:?}");
}

#[test]
fn keyless_rejects_a_log_the_trusted_root_does_not_list() {
    let mut fake = FakeSigstore::new(LEAF);
    fake.rekor_key = p256::ecdsa::SigningKey::try_generate().unwrap();
    let bundle = attest_through(&fake, github_token()).bundle_json;
    let error = assert_rejected(verify(&bundle, &keyless_trust(IDENTITY, ISSUER)));
    assert!(matches!(error, Error::UnknownLog { .. }), "{error:?}");
}

#[test]
fn keyless_rejects_a_log_entry_of_another_envelope() {
    // A genuine entry (valid SET) for another signature, grafted onto this bundle.
    let fake = FakeSigstore::new(LEAF);
    let mine: serde_json::Value =
        serde_json::from_slice(&attest_through(&fake, github_token()).bundle_json).unwrap();
    let other_manifest = sample_manifest(Sha256Digest::of(b"other"));
    let other = attest_keyless_using(
        &fake,
        &leaf_signer(),
        &other_manifest,
        "other",
        Sha256Digest::of(b"other"),
        &settings(github_token()),
    )
    .unwrap();
    let other: serde_json::Value = serde_json::from_slice(&other.bundle_json).unwrap();
    let mut grafted = mine;
    grafted["verificationMaterial"]["tlogEntries"] =
        other["verificationMaterial"]["tlogEntries"].clone();
    let error = assert_rejected(verify(
        &serde_json::to_vec(&grafted).unwrap(),
        &keyless_trust(IDENTITY, ISSUER),
    ));
    assert!(
        matches!(error, Error::TlogEntryMismatch { .. }),
        "{error:?}"
    );
}

#[test]
fn keyless_rejects_a_tampered_envelope() {
    let mut bundle: serde_json::Value =
        serde_json::from_slice(&bundle_for(LEAF, SIGNING_TIME)).unwrap();
    let envelope = &mut bundle["dsseEnvelope"];
    let payload = STANDARD
        .decode(envelope["payload"].as_str().unwrap())
        .unwrap();
    let payload = String::from_utf8(payload)
        .unwrap()
        .replace("/bin/app", "/bin/evil");
    envelope["payload"] = json!(STANDARD.encode(payload));
    let error = assert_rejected(verify(
        &serde_json::to_vec(&bundle).unwrap(),
        &keyless_trust(IDENTITY, ISSUER),
    ));
    // The log recorded the original payload's hash; the tampered one no longer matches it.
    assert!(
        matches!(error, Error::TlogEntryMismatch { .. }),
        "{error:?}"
    );
}

#[test]
fn keyless_bundle_is_rejected_by_key_trust() {
    let bundle = bundle_for(LEAF, SIGNING_TIME);
    let trust = Trust::Key(leaf_signer().public_key().clone());
    let error = assert_rejected(verify(&bundle, &trust));
    assert!(matches!(error, Error::TrustMismatch { .. }), "{error:?}");
}

#[test]
fn signing_fails_when_fulcio_certifies_another_key() {
    let fake = FakeSigstore::new(LEAF);
    // A fresh ephemeral key, but the fake Fulcio answers with the fixture leaf.
    let error = attest_keyless_with(
        &fake,
        &sample_manifest(image_digest()),
        "app",
        image_digest(),
        &settings(github_token()),
    )
    .unwrap_err();
    assert!(matches!(error, Error::FulcioKeyMismatch), "{error:?}");
    // Nothing reached Rekor.
    assert_eq!(fake.requests.borrow().len(), 1);
}

#[test]
fn signing_reports_service_errors_without_the_token() {
    struct Failing;
    impl HttpTransport for Failing {
        fn send(
            &self,
            _: &HttpRequest,
        ) -> Result<HttpResponse, Box<dyn std::error::Error + Send + Sync>> {
            Ok(HttpResponse {
                status: 401,
                body: b"{\"code\":401,\"message\":\"invalid identity token\"}".to_vec(),
            })
        }
    }
    let token = github_token();
    let error = attest_keyless_using(
        &Failing,
        &leaf_signer(),
        &sample_manifest(image_digest()),
        "app",
        image_digest(),
        &settings(token.clone()),
    )
    .unwrap_err();
    assert!(
        matches!(error, Error::HttpStatus { status: 401, .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(text.contains("fulcio answered HTTP 401"), "{text}");
    assert!(text.contains("invalid identity token"), "{text}");
    assert!(!text.contains(&token), "{text}");
    assert!(!format!("{:?}", settings(token.clone())).contains(&token));
}

#[test]
fn signing_rejects_tokens_that_are_not_jwts() {
    for token in [
        "",
        "abc",
        "a.b",
        "a.!!!.c",
        &format!("a.{}.c", URL_SAFE_NO_PAD.encode("[]")),
    ] {
        let error = attest_keyless_using(
            &FakeSigstore::new(LEAF),
            &leaf_signer(),
            &sample_manifest(image_digest()),
            "app",
            image_digest(),
            &settings(token.to_owned()),
        )
        .unwrap_err();
        assert!(
            matches!(error, Error::IdentityToken { .. }),
            "{token}: {error:?}"
        );
    }
}

#[test]
fn github_actions_token_request() {
    struct Oidc(RefCell<Vec<HttpRequest>>);
    impl HttpTransport for Oidc {
        fn send(
            &self,
            request: &HttpRequest,
        ) -> Result<HttpResponse, Box<dyn std::error::Error + Send + Sync>> {
            self.0.borrow_mut().push(request.clone());
            Ok(HttpResponse {
                status: 200,
                body: br#"{"count":1,"value":"eyJ.header.sig"}"#.to_vec(),
            })
        }
    }
    let oidc = Oidc(RefCell::new(Vec::new()));
    let token = github_actions_id_token_with(
        &oidc,
        "https://pipelines.actions.githubusercontent.com/abc/_apis/distributedtask/hubs/Actions/plans/1/jobs/2/idtoken?api-version=2.0",
        "request-token",
        "sigstore",
    )
    .unwrap();
    assert_eq!(token, "eyJ.header.sig");
    let request = oidc.0.borrow()[0].clone();
    assert_eq!(request.method, Method::Get);
    assert!(
        request
            .url
            .ends_with("/idtoken?api-version=2.0&audience=sigstore"),
        "{}",
        request.url
    );
    assert_eq!(
        request.header("authorization"),
        Some("bearer request-token")
    );

    // Without a query string, and with an audience that needs escaping.
    github_actions_id_token_with(&oidc, "https://example.invalid/token", "t", "a b/c").unwrap();
    assert_eq!(
        oidc.0.borrow()[1].url,
        "https://example.invalid/token?audience=a%20b%2Fc"
    );
}

#[test]
fn github_actions_token_errors() {
    struct Status(u16, &'static [u8]);
    impl HttpTransport for Status {
        fn send(
            &self,
            _: &HttpRequest,
        ) -> Result<HttpResponse, Box<dyn std::error::Error + Send + Sync>> {
            Ok(HttpResponse {
                status: self.0,
                body: self.1.to_vec(),
            })
        }
    }
    let error = github_actions_id_token_with(
        &Status(403, b"forbidden"),
        "https://x.invalid/t?a=1",
        "secret",
        "sigstore",
    )
    .unwrap_err();
    assert!(
        matches!(error, Error::HttpStatus { status: 403, .. }),
        "{error:?}"
    );
    assert!(!error.to_string().contains("secret"));
    let error =
        github_actions_id_token_with(&Status(200, b"{}"), "https://x.invalid/t", "s", "sigstore")
            .unwrap_err();
    assert!(matches!(error, Error::Json { .. }), "{error:?}");
    assert!(!error.is_verification_failure());

    struct Broken;
    impl HttpTransport for Broken {
        fn send(
            &self,
            _: &HttpRequest,
        ) -> Result<HttpResponse, Box<dyn std::error::Error + Send + Sync>> {
            Err("connection refused".into())
        }
    }
    let error =
        github_actions_id_token_with(&Broken, "https://x.invalid/t", "s", "sigstore").unwrap_err();
    assert!(matches!(error, Error::Http { .. }), "{error:?}");
}

fn der_of(pem_text: &str) -> Vec<u8> {
    p256::pkcs8::der::pem::decode_vec(pem_text.trim().as_bytes())
        .unwrap()
        .1
}

/// A bundle whose envelope is `envelope` and certificate `leaf`, with a log entry (valid SET from
/// the fixture log) that records `recorded` signed by `recorded_verifier`, as a log would that
/// was handed those.
fn bundle_with_entry(
    envelope: &dsse::Envelope,
    leaf: &str,
    recorded: &dsse::Envelope,
    recorded_verifier: &str,
) -> Vec<u8> {
    let fake = FakeSigstore::new(leaf);
    let envelope_json = String::from_utf8(recorded.to_json().unwrap()).unwrap();
    let request = HttpRequest {
        method: Method::Post,
        url: "https://rekor.example.invalid/api/v1/log/entries".into(),
        headers: vec![],
        body: serde_json::to_vec(&tlog::proposed_dsse_entry(
            &envelope_json,
            recorded_verifier,
        ))
        .unwrap(),
    };
    let entry = tlog::entry_from_response(&fake.rekor(&request).body).unwrap();
    Bundle::with_certificate(envelope, der_of(leaf), vec![entry])
        .to_json()
        .unwrap()
}

fn good_envelope() -> dsse::Envelope {
    attest_through(&FakeSigstore::new(LEAF), github_token()).envelope
}

#[test]
fn keyless_rejects_a_signature_not_made_by_the_certificate_key() {
    // The log recorded it (a log does not have to be honest about what it checked), the
    // certificate is fine, but the signature was made by another key.
    let mut envelope = good_envelope();
    let other = KeySigner::generate().unwrap();
    envelope.signatures[0].sig = other.sign(&envelope.pae()).unwrap();
    let bundle = bundle_with_entry(&envelope, LEAF, &envelope, LEAF);
    let error = assert_rejected(verify(&bundle, &keyless_trust(IDENTITY, ISSUER)));
    assert!(matches!(error, Error::BadSignature { .. }), "{error:?}");
    assert!(error.to_string().contains(IDENTITY), "{error}");
}

#[test]
fn keyless_rejects_an_entry_recording_another_signature() {
    // Same key, same payload, but the log recorded the other (high-S) form of the signature.
    use p256::elliptic_curve::scalar::IsHigh as _;
    let envelope = good_envelope();
    let signature = p256::ecdsa::Signature::from_der(&envelope.signatures[0].sig).unwrap();
    let (r, s) = signature.split_scalars();
    let twin = p256::ecdsa::Signature::from_scalars(r, -*s).unwrap();
    assert_ne!(bool::from(twin.s().is_high()), bool::from(s.is_high()));
    let mut recorded = envelope.clone();
    recorded.signatures[0].sig = twin.to_der().as_bytes().to_vec();
    let bundle = bundle_with_entry(&envelope, LEAF, &recorded, LEAF);
    let error = assert_rejected(verify(&bundle, &keyless_trust(IDENTITY, ISSUER)));
    assert!(
        matches!(error, Error::TlogEntryMismatch { .. }),
        "{error:?}"
    );
    // The unaltered entry passes, so only the recorded signature made the difference.
    let bundle = bundle_with_entry(&envelope, LEAF, &envelope, LEAF);
    verify(&bundle, &keyless_trust(IDENTITY, ISSUER)).unwrap();
}

#[test]
fn keyless_rejects_an_entry_recording_another_certificate() {
    // The email leaf has the same key, so the signature would verify with it too.
    let envelope = good_envelope();
    let bundle = bundle_with_entry(&envelope, LEAF, &envelope, LEAF_EMAIL);
    let error = assert_rejected(verify(&bundle, &keyless_trust(IDENTITY, ISSUER)));
    assert!(
        matches!(error, Error::TlogEntryMismatch { .. }),
        "{error:?}"
    );
}

#[test]
fn keyless_rejects_unsupported_entry_kinds() {
    let bundle = with_entry_edit(|entry| {
        entry["kindVersion"] = json!({"kind": "intoto", "version": "0.0.2"});
    });
    let error = assert_rejected(verify(&bundle, &keyless_trust(IDENTITY, ISSUER)));
    assert!(matches!(error, Error::TlogKind { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("(got intoto 0.0.2, expected dsse 0.0.1)"),
        "{error}"
    );
}

#[test]
fn keyless_rejects_a_log_key_outside_its_validity() {
    let mut root: serde_json::Value = serde_json::from_slice(TRUSTED_ROOT).unwrap();
    root["tlogs"][0]["publicKey"]["validFor"] =
        json!({"start": "2025-01-01T00:00:00Z", "end": "2025-12-31T23:59:59Z"});
    let trust = Trust::Keyless {
        identity: IDENTITY.into(),
        issuer: ISSUER.into(),
        trusted_root: TrustedRoot::from_json(&serde_json::to_vec(&root).unwrap()).unwrap(),
    };
    let error = assert_rejected(verify(&bundle_for(LEAF, SIGNING_TIME), &trust));
    assert!(matches!(error, Error::UnknownLog { .. }), "{error:?}");
}

#[test]
fn keyless_rejects_an_issuer_that_had_expired() {
    // old-root is in the trusted root (without a validFor end) but its own certificate expired
    // in 2021, five years before it issued this leaf.
    let bundle = bundle_for(LEAF_OLD_CA, SIGNING_TIME);
    let error = assert_rejected(verify(&bundle, &keyless_trust(IDENTITY, ISSUER)));
    assert!(
        matches!(error, Error::UntrustedCertificate { .. }),
        "{error:?}"
    );
}

#[test]
fn keyless_rejects_a_chain_through_a_non_ca_certificate() {
    // A trusted root that (wrongly) lists a leaf as an authority still does not make it a CA.
    let mut root: serde_json::Value = serde_json::from_slice(TRUSTED_ROOT).unwrap();
    root["certificateAuthorities"]
        .as_array_mut()
        .unwrap()
        .push(json!({
            "certChain": {"certificates": [{"rawBytes": STANDARD.encode(der_of(LEAF))}]},
            "validFor": {"start": "2025-01-01T00:00:00Z"},
        }));
    let trust = Trust::Keyless {
        identity: IDENTITY.into(),
        issuer: ISSUER.into(),
        trusted_root: TrustedRoot::from_json(&serde_json::to_vec(&root).unwrap()).unwrap(),
    };
    let bundle = bundle_for(LEAF_UNDER_LEAF, SIGNING_TIME);
    let error = assert_rejected(verify(&bundle, &trust));
    assert!(
        matches!(error, Error::UntrustedCertificate { .. }),
        "{error:?}"
    );
}

#[test]
fn signing_fails_when_rekor_records_something_else() {
    let mut fake = FakeSigstore::new(LEAF);
    fake.record_other_signature = true;
    let error = attest_keyless_using(
        &fake,
        &leaf_signer(),
        &sample_manifest(image_digest()),
        "app",
        image_digest(),
        &settings(github_token()),
    )
    .unwrap_err();
    assert!(
        matches!(error, Error::TlogEntryMismatch { .. }),
        "{error:?}"
    );
}
