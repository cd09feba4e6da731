//! Keyless verification forgeries: bundles signed with the fixture leaf key under the
//! OpenSSL-made certificates of `testdata/attest/keyless/`, with a Rekor v1 `dsse` entry and SET
//! made here with the fixture log key the way Rekor makes them. Each test edits one thing and
//! expects the matching rejection.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::Signer as _;
use p256::elliptic_curve::Generate as _;
use p256::pkcs8::DecodePrivateKey as _;
use p256::pkcs8::EncodePublicKey as _;
use serde_json::json;
use sha2::{Digest as _, Sha256};

use crate::attest::bundle::{Bundle, KindVersion, LogId, TransparencyLogEntry};
use crate::attest::keys::KeySigner;
use crate::attest::sign::sign_envelope;
use crate::attest::statement::Statement;
use crate::attest::statement::tests::sample_manifest;
use crate::attest::{Error, Trust, TrustedRoot, VerifiedAttestation, dsse, tlog, verify_bundle};
use crate::digest::Sha256Digest;

const LEAF_KEY: &[u8] = include_bytes!("../../../../testdata/attest/keyless/leaf.key");
const LEAF: &str = include_str!("../../../../testdata/attest/keyless/leaf.pem");
const LEAF_EMAIL: &str = include_str!("../../../../testdata/attest/keyless/leaf-email.pem");
const LEAF_NO_EKU: &str = include_str!("../../../../testdata/attest/keyless/leaf-no-eku.pem");
const LEAF_OTHER_CA: &str = include_str!("../../../../testdata/attest/keyless/leaf-other-ca.pem");
const LEAF_VIA_INT: &str = include_str!("../../../../testdata/attest/keyless/leaf-via-int.pem");
const LEAF_OLD_CA: &str = include_str!("../../../../testdata/attest/keyless/leaf-old-ca.pem");
const LEAF_UNDER_LEAF: &str =
    include_str!("../../../../testdata/attest/keyless/leaf-under-leaf.pem");
const REKOR_KEY: &[u8] = include_bytes!("../../../../testdata/attest/keyless/rekor.key");
const TRUSTED_ROOT: &[u8] = include_bytes!("../../../../testdata/attest/keyless/trusted_root.json");

const IDENTITY: &str =
    "https://github.com/exelock/demo/.github/workflows/release.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
const EMAIL: &str = "signer@example.com";
const EMAIL_ISSUER: &str = "https://accounts.example.com";
/// 2026-01-01T00:05:00Z: inside the leaves' ten minutes.
const SIGNING_TIME: i64 = 1_767_225_900;

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

fn der_of(pem_text: &str) -> Vec<u8> {
    p256::pkcs8::der::pem::decode_vec(pem_text.trim().as_bytes())
        .unwrap()
        .1
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

/// What Rekor v1 records for a `dsse` entry of `recorded` verified by `verifier_pem`: the
/// canonical body, the log id (sha256 of the log key), and a SET over both at `integrated_time`.
fn log_entry(
    recorded: &dsse::Envelope,
    verifier_pem: &str,
    log_key: &p256::ecdsa::SigningKey,
    integrated_time: i64,
) -> TransparencyLogEntry {
    let envelope_json = recorded.to_json().unwrap();
    let body = json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(&envelope_json))},
            "payloadHash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(&recorded.payload))},
            "signatures": [{
                "signature": STANDARD.encode(&recorded.signatures[0].sig),
                "verifier": STANDARD.encode(verifier_pem),
            }],
        }
    });
    let spki = log_key.verifying_key().to_public_key_der().unwrap();
    let mut entry = TransparencyLogEntry {
        log_index: 98_765_432,
        log_id: LogId {
            key_id: Sha256::digest(spki.as_bytes()).to_vec(),
        },
        kind_version: KindVersion {
            kind: "dsse".into(),
            version: "0.0.1".into(),
        },
        integrated_time,
        inclusion_promise: None,
        inclusion_proof: None,
        canonicalized_body: serde_json::to_vec(&body).unwrap(),
    };
    let set: p256::ecdsa::Signature = log_key.sign(&tlog::set_payload(&entry).unwrap());
    entry.inclusion_promise = Some(crate::attest::bundle::InclusionPromise {
        signed_entry_timestamp: set.to_der().as_bytes().to_vec(),
    });
    entry
}

/// The envelope of the sample manifest for `digest`, signed with the fixture leaf key.
fn envelope_for(digest: Sha256Digest) -> dsse::Envelope {
    let statement =
        Statement::for_manifest(&sample_manifest(digest), "registry.example/app", &digest)
            .to_json()
            .unwrap();
    sign_envelope(&statement, &leaf_signer(), String::new()).unwrap()
}

fn good_envelope() -> dsse::Envelope {
    envelope_for(image_digest())
}

/// A bundle whose envelope is `envelope` and certificate `leaf`, with a log entry that records
/// `recorded` verified by `recorded_verifier`, as a log would that was handed those.
fn bundle_with_entry(
    envelope: &dsse::Envelope,
    leaf: &str,
    recorded: &dsse::Envelope,
    recorded_verifier: &str,
) -> Vec<u8> {
    let entry = log_entry(recorded, recorded_verifier, &rekor_key(), SIGNING_TIME);
    Bundle::with_certificate(envelope, der_of(leaf), vec![entry])
        .to_json()
        .unwrap()
}

fn bundle_for(leaf: &str, integrated_time: i64) -> Vec<u8> {
    let envelope = good_envelope();
    let entry = log_entry(&envelope, leaf, &rekor_key(), integrated_time);
    Bundle::with_certificate(&envelope, der_of(leaf), vec![entry])
        .to_json()
        .unwrap()
}

/// A keyless bundle of `statement` under the fixture leaf, for the conversion tests.
pub(super) fn bundle_signing(statement: &[u8]) -> Vec<u8> {
    let envelope = sign_envelope(statement, &leaf_signer(), String::new()).unwrap();
    let entry = log_entry(&envelope, LEAF, &rekor_key(), SIGNING_TIME);
    Bundle::with_certificate(&envelope, der_of(LEAF), vec![entry])
        .to_json()
        .unwrap()
}

fn verify(bundle_json: &[u8], trust: &Trust) -> Result<VerifiedAttestation, Error> {
    verify_bundle(bundle_json, &image_digest(), trust)
}

fn assert_rejected(result: Result<VerifiedAttestation, Error>) -> Error {
    let error = result.unwrap_err();
    assert!(error.is_verification_failure(), "{error:?}");
    error
}

#[test]
fn keyless_bundle_verifies() {
    let verified = verify(
        &bundle_for(LEAF, SIGNING_TIME),
        &keyless_trust(IDENTITY, ISSUER),
    )
    .unwrap();
    assert_eq!(verified.manifest(), &sample_manifest(image_digest()));
    assert_eq!(verified.signer(), format!("{IDENTITY} (issuer {ISSUER})"));
    assert_eq!(verified.subject_name(), "registry.example/app");
}

#[test]
fn an_email_leaf_with_the_legacy_issuer_extension_verifies() {
    // The email leaf carries its issuer only in the legacy 57264.1.1 extension.
    let verified = verify(
        &bundle_for(LEAF_EMAIL, SIGNING_TIME),
        &keyless_trust(EMAIL, EMAIL_ISSUER),
    )
    .unwrap();
    assert_eq!(
        verified.signer(),
        format!("{EMAIL} (issuer {EMAIL_ISSUER})")
    );
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
        let mut set = STANDARD
            .decode(
                entry["inclusionPromise"]["signedEntryTimestamp"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
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
    let envelope = good_envelope();
    let unknown_log = p256::ecdsa::SigningKey::try_generate().unwrap();
    let entry = log_entry(&envelope, LEAF, &unknown_log, SIGNING_TIME);
    let bundle = Bundle::with_certificate(&envelope, der_of(LEAF), vec![entry])
        .to_json()
        .unwrap();
    let error = assert_rejected(verify(&bundle, &keyless_trust(IDENTITY, ISSUER)));
    assert!(matches!(error, Error::UnknownLog { .. }), "{error:?}");
}

#[test]
fn keyless_rejects_a_log_entry_of_another_envelope() {
    // A genuine entry (valid SET) for another signature, grafted onto this bundle.
    let other = envelope_for(Sha256Digest::of(b"other"));
    let bundle = bundle_with_entry(&good_envelope(), LEAF, &other, LEAF);
    let error = assert_rejected(verify(&bundle, &keyless_trust(IDENTITY, ISSUER)));
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
