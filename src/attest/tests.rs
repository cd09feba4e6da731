//! Key-based attestations end to end: sign, verify, and every forgery the verifier must reject;
//! plus interoperability with securesystemslib's independent DSSE implementation.

use std::path::{Path, PathBuf};
use std::process::Command;

use p256::elliptic_curve::Generate as _;
use p256::pkcs8::EncodePrivateKey as _;
use p256::pkcs8::der::pem::LineEnding;
use serde_json::json;

use super::statement::tests::sample_manifest;
use super::*;

fn image_digest() -> Sha256Digest {
    Sha256Digest::of(b"the image manifest")
}

fn other_digest() -> Sha256Digest {
    Sha256Digest::of(b"another image's manifest")
}

fn signer() -> keys::KeySigner {
    keys::KeySigner::generate().unwrap()
}

fn attest_for(digest: Sha256Digest, signer: &keys::KeySigner) -> Attestation {
    attest_with_key(
        &sample_manifest(digest),
        "registry.example/app",
        digest,
        signer,
    )
    .unwrap()
}

/// Signs arbitrary statement JSON (payload type in-toto unless given) with one signature.
fn sign_payload(payload: &[u8], payload_type: &str, signer: &keys::KeySigner) -> dsse::Envelope {
    dsse::Envelope {
        payload: payload.to_vec(),
        payload_type: payload_type.to_owned(),
        signatures: vec![dsse::Signature {
            keyid: signer.key_id(),
            sig: signer.sign(&dsse::pae(payload_type, payload)).unwrap(),
        }],
    }
}

/// The statement of `attest_for(image_digest())` with `edit` applied, re-signed validly.
fn resigned_statement(
    signer: &keys::KeySigner,
    edit: impl FnOnce(&mut serde_json::Value),
) -> dsse::Envelope {
    let attestation = attest_for(image_digest(), signer);
    let mut value: serde_json::Value = serde_json::from_slice(&attestation.statement_json).unwrap();
    edit(&mut value);
    sign_payload(
        &serde_json::to_vec(&value).unwrap(),
        IN_TOTO_PAYLOAD_TYPE,
        signer,
    )
}

/// Verifies `envelope` both bare and in a key bundle; both must fail the same way, as a
/// rejection. Returns the rejection.
fn rejected(envelope: &dsse::Envelope, key: &keys::PublicKey, expected: Sha256Digest) -> Rejection {
    let trust = Trust::key(key.clone()).unwrap();
    let bare = verify_envelope(&envelope.to_json().unwrap(), &expected, &trust).unwrap_err();
    let bundle_json = bundle::Bundle::with_public_key(envelope, &key.key_id())
        .to_json()
        .unwrap();
    let bundled = verify_bundle(&bundle_json, &expected, &trust).unwrap_err();
    assert_eq!(bare.to_string(), bundled.to_string());
    assert!(matches!(bundled, NotVerified::Rejected(_)), "{bundled:?}");
    match bare {
        NotVerified::Rejected(rejection) => rejection,
        NotVerified::Error(error) => panic!("not a rejection: {error:?}"),
    }
}

#[test]
fn key_attestation_verifies_as_bundle_and_as_envelope() {
    let signer = signer();
    let attestation = attest_for(image_digest(), &signer);
    let trust = Trust::key(signer.public_key().clone()).unwrap();
    let from_bundle = verify_bundle(&attestation.bundle_json, &image_digest(), &trust).unwrap();
    let from_envelope = verify_envelope(
        &attestation.envelope.to_json().unwrap(),
        &image_digest(),
        &trust,
    )
    .unwrap();
    assert_eq!(from_bundle, from_envelope);
    assert_eq!(from_bundle.manifest(), &sample_manifest(image_digest()));
    assert_eq!(from_bundle.subject_name(), "registry.example/app");
    assert_eq!(*from_bundle.subject_digest(), image_digest());
    assert_eq!(from_bundle.signer(), format!("key {}", signer.key_id()));

    // The pieces agree with each other.
    assert_eq!(attestation.envelope.payload, attestation.statement_json);
    assert_eq!(attestation.envelope.payload_type, IN_TOTO_PAYLOAD_TYPE);
    assert_eq!(attestation.envelope.signatures[0].keyid, "");
    let bundle = bundle::Bundle::from_json(&attestation.bundle_json).unwrap();
    assert_eq!(bundle.media_type, BUNDLE_MEDIA_TYPE);
    assert_eq!(&bundle.dsse_envelope, &attestation.envelope);
    assert_eq!(
        bundle.verification_material.public_key.hint,
        signer.public_key().bundle_hint()
    );
}

#[test]
fn forgery_tampered_payload() {
    let signer = signer();
    let mut envelope = attest_for(image_digest(), &signer).envelope;
    // Still valid JSON and still a manifest: only the signature can tell.
    let text = String::from_utf8(envelope.payload.clone()).unwrap();
    envelope.payload = text.replace("/bin/app", "/bin/evil").into_bytes();
    let error = rejected(&envelope, signer.public_key(), image_digest());
    assert!(matches!(error, Rejection::BadSignature { .. }), "{error:?}");
    assert!(error.to_string().contains("tampered"), "{error}");
}

#[test]
fn forgery_tampered_signature() {
    let signer = signer();
    let mut envelope = attest_for(image_digest(), &signer).envelope;
    let sig = &mut envelope.signatures[0].sig;
    let middle = sig.len() / 2;
    sig[middle] ^= 0x01;
    let error = rejected(&envelope, signer.public_key(), image_digest());
    assert!(matches!(error, Rejection::BadSignature { .. }), "{error:?}");
    // A signature that is not even DER is rejected the same way.
    envelope.signatures[0].sig = vec![0xff; 8];
    let error = rejected(&envelope, signer.public_key(), image_digest());
    assert!(matches!(error, Rejection::BadSignature { .. }), "{error:?}");
}

#[test]
fn forgery_wrong_key() {
    let signer = signer();
    let other = self::signer();
    let envelope = attest_for(image_digest(), &other).envelope;
    let error = rejected(&envelope, signer.public_key(), image_digest());
    assert!(
        error
            .to_string()
            .contains(&format!("key {}", signer.key_id())),
        "{error}"
    );
}

/// A key-based bundle verified with another key names the key its hint says signed it.
#[test]
fn a_bundle_verified_with_another_key_names_the_key_it_was_signed_with() {
    let tried = signer();
    let signing = self::signer();
    let envelope = attest_for(image_digest(), &signing).envelope;
    let trust = Trust::key(tried.public_key().clone()).unwrap();
    let named = |hint: &str| {
        let bundle_json = bundle::Bundle::with_public_key(&envelope, hint)
            .to_json()
            .unwrap();
        verify_bundle(&bundle_json, &image_digest(), &trust)
            .unwrap_err()
            .to_string()
    };
    let message = named(&signing.public_key().bundle_hint());
    assert!(
        message.contains(&format!(
            "with key {}: the bundle names key {} as its signer",
            tried.key_id(),
            signing.key_id()
        )),
        "{message}"
    );
    // A hint naming the key tried, or not a fingerprint at all, names nothing.
    for hint in [tried.public_key().bundle_hint(), "not base64".to_owned()] {
        let message = named(&hint);
        assert!(
            message.ends_with("the envelope was tampered with or signed by another key"),
            "{message}"
        );
    }
}

#[test]
fn forgery_moved_from_another_image() {
    // A genuine attestation of another image, presented for this one.
    let signer = signer();
    let envelope = attest_for(other_digest(), &signer).envelope;
    let error = rejected(&envelope, signer.public_key(), image_digest());
    assert!(
        matches!(error, Rejection::SubjectMismatch { .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(text.contains("moved from another image"), "{text}");
    assert!(
        text.contains(&format!(
            "(got {}, expected {})",
            other_digest(),
            image_digest()
        )),
        "{text}"
    );
}

#[test]
fn forgery_wrong_predicate_type() {
    let signer = signer();
    let envelope = resigned_statement(&signer, |statement| {
        statement["predicateType"] = json!("https://slsa.dev/provenance/v1");
    });
    let error = rejected(&envelope, signer.public_key(), image_digest());
    assert!(
        matches!(error, Rejection::PredicateType { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains(
            "(got \"https://slsa.dev/provenance/v1\", expected \"https://exelock.dev/manifest/v2\")"
        ),
        "{error}"
    );
}

#[test]
fn forgery_payload_swapped_for_another_valid_statement() {
    // Both statements are validly formed and validly signed by the trusted key; the attacker
    // keeps the signature of the first and swaps in the payload of the second.
    let signer = signer();
    let genuine = attest_for(other_digest(), &signer);
    let swapped_in = attest_for(image_digest(), &signer);
    let mut envelope = genuine.envelope;
    envelope.payload = swapped_in.statement_json;
    let error = rejected(&envelope, signer.public_key(), image_digest());
    assert!(matches!(error, Rejection::BadSignature { .. }), "{error:?}");
}

#[test]
fn forgery_empty_signature_list() {
    let signer = signer();
    let mut envelope = attest_for(image_digest(), &signer).envelope;
    envelope.signatures.clear();
    let error = rejected(&envelope, signer.public_key(), image_digest());
    assert!(
        matches!(error, Rejection::SignatureCount { got: 0 }),
        "{error:?}"
    );
    assert!(error.to_string().contains("(got 0, expected 1)"), "{error}");
}

#[test]
fn forgery_duplicated_signatures() {
    let signer = signer();
    let mut envelope = attest_for(image_digest(), &signer).envelope;
    let copy = envelope.signatures[0].clone();
    envelope.signatures.push(copy);
    let error = rejected(&envelope, signer.public_key(), image_digest());
    assert!(
        matches!(error, Rejection::DuplicateSignature { count: 2 }),
        "{error:?}"
    );
}

#[test]
fn two_different_signatures_are_rejected() {
    // Even two valid signatures: exelock attestations carry exactly one.
    let signer = signer();
    let other = self::signer();
    let mut envelope = attest_for(image_digest(), &signer).envelope;
    envelope.signatures.push(dsse::Signature {
        keyid: other.key_id(),
        sig: other.sign(&envelope.pae()).unwrap(),
    });
    let error = rejected(&envelope, signer.public_key(), image_digest());
    assert!(
        matches!(error, Rejection::SignatureCount { got: 2 }),
        "{error:?}"
    );
}

#[test]
fn signed_but_wrong_payload_type_is_rejected() {
    let signer = signer();
    let attestation = attest_for(image_digest(), &signer);
    let envelope = sign_payload(&attestation.statement_json, "application/json", &signer);
    let error = rejected(&envelope, signer.public_key(), image_digest());
    assert!(matches!(error, Rejection::PayloadType { .. }), "{error:?}");
}

#[test]
fn signed_but_wrong_statement_type_is_rejected() {
    let signer = signer();
    let envelope = resigned_statement(&signer, |statement| {
        statement["_type"] = json!("https://in-toto.io/Statement/v0.1");
    });
    let error = rejected(&envelope, signer.public_key(), image_digest());
    assert!(
        matches!(error, Rejection::StatementType { .. }),
        "{error:?}"
    );
}

#[test]
fn signed_manifest_of_another_image_is_rejected() {
    // Subject says this image, but the manifest inside describes another one.
    let signer = signer();
    let envelope = resigned_statement(&signer, |statement| {
        statement["predicate"]["image"]["manifestDigest"] = json!(other_digest().to_string());
    });
    let error = rejected(&envelope, signer.public_key(), image_digest());
    assert!(
        matches!(error, Rejection::ManifestDigestMismatch { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains(&format!(
            "(got manifestDigest {}, indexDigest null, expected {})",
            other_digest(),
            image_digest()
        )),
        "{error}"
    );
}

#[test]
fn unreadable_inputs_are_not_verification_failures() {
    let signer = signer();
    let trust = Trust::key(signer.public_key().clone()).unwrap();
    for (bundle, what) in [
        (&b"{"[..], "not JSON"),
        (br#"{"mediaType":"text/plain","verificationMaterial":{}}"#, "media type"),
        (
            br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{}}"#,
            "no envelope",
        ),
    ] {
        let error = verify_bundle(bundle, &image_digest(), &trust).unwrap_err();
        assert!(matches!(error, NotVerified::Error(_)), "{what}: {error:?}");
    }
    let error = verify_envelope(b"[]", &image_digest(), &trust).unwrap_err();
    assert!(matches!(error, NotVerified::Error(_)), "{error:?}");
}

#[test]
fn bare_envelopes_cannot_be_verified_keyless() {
    let signer = signer();
    let attestation = attest_for(image_digest(), &signer);
    let trusted_root = TrustedRoot::public_good().unwrap();
    let trust = Trust::Keyless {
        identity: "someone@example.com".into(),
        issuer: "https://accounts.example.com".into(),
        trusted_root,
    };
    let envelope_json = attestation.envelope.to_json().unwrap();
    let error = verify_envelope(&envelope_json, &image_digest(), &trust).unwrap_err();
    assert!(
        matches!(error, NotVerified::Error(Error::KeylessNeedsBundle)),
        "{error:?}"
    );
    // And a key bundle does not satisfy a keyless policy.
    let error = verify_bundle(&attestation.bundle_json, &image_digest(), &trust).unwrap_err();
    assert!(
        matches!(
            error,
            NotVerified::Rejected(Rejection::TrustMismatch { .. })
        ),
        "{error:?}"
    );
}

#[test]
fn attests_with_a_cosign_key_file() {
    // The documented flow: `generate_key_pair` output on disk, read back, sign, verify.
    let keys::KeyPairPem {
        private_pem: private,
        public_pem: public,
    } = keys::generate_key_pair(b"").unwrap();
    let signer = keys::KeySigner::from_pem(&private, b"").unwrap();
    let public = keys::PublicKey::from_pem(&public).unwrap();
    let attestation = attest_for(image_digest(), &signer);
    verify_bundle(
        &attestation.bundle_json,
        &image_digest(),
        &Trust::key(public).unwrap(),
    )
    .unwrap();
}

// ---- interoperability with securesystemslib ------------------------------------------------

const PIP_INSTALL: &str = "python3 -m pip install 'securesystemslib[crypto]==1.6.0'";

fn interop_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/dsse_interop.py")
}

/// Fails (never skips) when the independent implementation is missing.
fn require_securesystemslib() {
    let output = Command::new("python3")
        .args(["-c", "import securesystemslib.dsse, cryptography"])
        .output();
    match output {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!(
            "the DSSE interoperability test needs Python's securesystemslib, which is missing:\n{}\ninstall it with: {PIP_INSTALL}",
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(error) => panic!(
            "the DSSE interoperability test needs python3 ({error}); then install securesystemslib with: {PIP_INSTALL}"
        ),
    }
}

fn run_interop(args: &[&Path]) -> std::process::Output {
    let mut command = Command::new("python3");
    command.arg(interop_script());
    for arg in args {
        command.arg(arg);
    }
    command.output().unwrap()
}

/// A P-256 key both sides can read: unencrypted PKCS#8.
fn pkcs8_signer(dir: &Path) -> (keys::KeySigner, PathBuf, PathBuf) {
    let key = p256::SecretKey::try_generate().unwrap();
    let pem_text = key.to_pkcs8_pem(LineEnding::LF).unwrap();
    let private_path = dir.join("key.pem");
    fs_err::write(&private_path, pem_text.as_bytes()).unwrap();
    let signer = keys::KeySigner::from_pem(pem_text.as_bytes(), b"").unwrap();
    let public_path = dir.join("key.pub");
    fs_err::write(&public_path, signer.public_key_pem().unwrap()).unwrap();
    (signer, private_path, public_path)
}

#[test]
fn interop_exelock_signs_securesystemslib_verifies() {
    require_securesystemslib();
    let dir = tempfile::tempdir().unwrap();
    let (signer, _, public_path) = pkcs8_signer(dir.path());
    let attestation = attest_for(image_digest(), &signer);
    let envelope_path = dir.path().join("envelope.json");
    fs_err::write(&envelope_path, attestation.envelope.to_json().unwrap()).unwrap();
    let output = run_interop(&[Path::new("verify"), &envelope_path, &public_path]);
    assert!(
        output.status.success(),
        "securesystemslib rejected exelock's envelope: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    // And the Python side really checks: a tampered envelope fails there too.
    let mut tampered = attestation.envelope;
    tampered.payload[10] ^= 0x20;
    fs_err::write(&envelope_path, tampered.to_json().unwrap()).unwrap();
    let output = run_interop(&[Path::new("verify"), &envelope_path, &public_path]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
}

#[test]
fn interop_securesystemslib_signs_exelock_verifies() {
    require_securesystemslib();
    let dir = tempfile::tempdir().unwrap();
    let (signer, private_path, _) = pkcs8_signer(dir.path());
    let statement = attest_for(image_digest(), &signer).statement_json;
    let payload_path = dir.path().join("statement.json");
    fs_err::write(&payload_path, &statement).unwrap();
    let envelope_path = dir.path().join("envelope.json");
    let output = run_interop(&[
        Path::new("sign"),
        &payload_path,
        &private_path,
        &envelope_path,
    ]);
    assert!(output.status.success(), "{output:?}");
    let envelope_json = fs_err::read(&envelope_path).unwrap();

    let trust = Trust::key(signer.public_key().clone()).unwrap();
    let verified = verify_envelope(&envelope_json, &image_digest(), &trust).unwrap();
    assert_eq!(verified.manifest(), &sample_manifest(image_digest()));
    let envelope = dsse::Envelope::from_json(&envelope_json).unwrap();
    assert_eq!(envelope.payload, statement);
    assert_eq!(envelope.signatures[0].keyid, signer.key_id());
    // The same envelope in a bundle verifies too.
    let bundle_json = bundle::Bundle::with_public_key(&envelope, &signer.key_id())
        .to_json()
        .unwrap();
    verify_bundle(&bundle_json, &image_digest(), &trust).unwrap();
    // And it is bound to this image.
    let error = verify_envelope(&envelope_json, &other_digest(), &trust).unwrap_err();
    assert!(
        matches!(
            error,
            NotVerified::Rejected(Rejection::SubjectMismatch { .. })
        ),
        "{error:?}"
    );
}

/// The message-signature vectors of sigstore-conformance (blob signatures, not attestations:
/// `exelock verify` refuses them) run at the library layer, through the trusted roots as
/// exelock reads them: every one ending in `_fail` is refused, every other one verifies. They
/// cover the trusted-root, checkpoint, inclusion-proof, SCT and timestamp cases.
#[test]
fn conformance_message_signature_vectors_through_exelock_trusted_roots() {
    use sigstore_verify::types::{Artifact, Bundle, DerPublicKey};
    use sigstore_verify::{PublicKeyVerificationPolicy, VerificationPolicy};

    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sigstore");
    let base = testdata.join("sigstore-conformance/test/assets/bundle-verify");
    let public_good = fs_err::read(testdata.join("roots/public-good-trusted_root.json")).unwrap();
    let mut ran = 0;
    for entry in fs_err::read_dir(&base).unwrap() {
        let dir = entry.unwrap().path();
        let Ok(bundle_json) = fs_err::read_to_string(dir.join("bundle.sigstore.json")) else {
            continue;
        };
        if bundle_json.contains("\"dsseEnvelope\"") {
            continue; // attestations: tests/sigstore_vectors.rs runs them through the CLI
        }
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let must_fail = name.ends_with("_fail");
        let root_json = fs_err::read(dir.join("trusted_root.json")).unwrap_or(public_good.clone());
        let artifact = fs_err::read(dir.join("artifact"))
            .unwrap_or_else(|_| fs_err::read(base.join("a.txt")).unwrap());
        let outcome = (|| -> Result<(), String> {
            let root = TrustedRoot::from_json(&root_json).map_err(|e| e.to_string())?;
            let bundle = Bundle::from_json(&bundle_json).map_err(|e| e.to_string())?;
            let artifact = Artifact::from_blob(&artifact);
            if let Ok(key) = fs_err::read_to_string(dir.join("key.pub")) {
                let key = DerPublicKey::from_pem(&key).map_err(|e| e.to_string())?;
                let policy = PublicKeyVerificationPolicy::new(key);
                root.verifier()
                    .verify(artifact, &bundle, &policy)
                    .map_err(|e| e.to_string())?;
            } else {
                let identity = fs_err::read_to_string(dir.join("identity")).unwrap_or_else(|_| {
                    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main".to_owned()
                });
                let issuer = fs_err::read_to_string(dir.join("issuer"))
                    .unwrap_or_else(|_| "https://token.actions.githubusercontent.com".to_owned());
                let policy = VerificationPolicy::new(identity.trim(), issuer.trim());
                root.verifier()
                    .verify(artifact, &bundle, &policy)
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        })();
        match (must_fail, outcome) {
            (true, Err(_)) | (false, Ok(())) => {}
            (true, Ok(())) => panic!("{name}: verified, but must fail"),
            (false, Err(error)) => panic!("{name}: must verify: {error}"),
        }
        ran += 1;
    }
    assert!(ran >= 40, "only {ran} message-signature vectors found");
}
