//! The lookup: every candidate checked, bad ones reasons, all valid ones returned; bundle files
//! split and capped.

use serde_json::json;

use super::*;
use crate::attest::statement::tests::sample_manifest;
use crate::attest::{Attestation, attest_with_key, keys::KeySigner};

fn image_digest() -> Sha256Digest {
    Sha256Digest::of(b"the image index")
}

fn signer() -> KeySigner {
    KeySigner::generate().unwrap()
}

/// An attestation for `subject` whose manifest is of `platform`.
fn attestation(signer: &KeySigner, subject: Sha256Digest, platform: &str) -> Attestation {
    let manifest = sample_manifest(Sha256Digest::of(platform.as_bytes()))
        .with_index_digest(subject)
        .with_platform(platform);
    attest_with_key(&manifest, "registry.example/app", subject, signer).unwrap()
}

fn candidate(origin: &str, kind: CandidateKind, bytes: impl Into<Vec<u8>>) -> Candidate {
    Candidate {
        origin: origin.to_owned(),
        kind,
        bytes: bytes.into(),
    }
}

fn reasons(lookup: &Lookup) -> Vec<String> {
    lookup.rejected.iter().map(ToString::to_string).collect()
}

#[test]
fn one_bad_candidate_does_not_hide_a_good_one() {
    let signer = signer();
    let trust = Trust::key(signer.public_key().clone()).unwrap();
    let good = attestation(&signer, image_digest(), "linux/amd64");
    let other_image = attestation(&signer, Sha256Digest::of(b"another image"), "linux/amd64");
    let mut tampered: serde_json::Value = serde_json::from_slice(&good.bundle_json).unwrap();
    tampered["dsseEnvelope"]["signatures"][0]["sig"] = json!("MEUCIQ==");
    let mut wrong_media_type: serde_json::Value =
        serde_json::from_slice(&good.bundle_json).unwrap();
    wrong_media_type["mediaType"] = json!("application/json");

    let lookup = check_candidates(
        [
            candidate("not json", CandidateKind::Bundle, b"{".to_vec()),
            candidate(
                "oversize",
                CandidateKind::Bundle,
                vec![b' '; MAX_ATTESTATION_BYTES + 1],
            ),
            candidate(
                "wrong media type",
                CandidateKind::Bundle,
                serde_json::to_vec(&wrong_media_type).unwrap(),
            ),
            candidate(
                "tampered",
                CandidateKind::Bundle,
                serde_json::to_vec(&tampered).unwrap(),
            ),
            candidate(
                "another image",
                CandidateKind::Bundle,
                other_image.bundle_json,
            ),
            candidate("good", CandidateKind::Bundle, good.bundle_json.clone()),
        ],
        &image_digest(),
        &trust,
    );

    assert_eq!(lookup.valid.len(), 1, "{:?}", reasons(&lookup));
    assert_eq!(lookup.valid[0].origin, "good");
    assert_eq!(
        lookup.valid[0].attestation.subject_digest(),
        &image_digest()
    );
    let reasons = reasons(&lookup);
    assert_eq!(reasons.len(), 5, "{reasons:#?}");
    assert!(
        reasons[0].starts_with("not json: the Sigstore bundle is not valid: "),
        "{reasons:#?}"
    );
    assert_eq!(
        reasons[1],
        format!(
            "oversize: the attestation is {} bytes, more than the {MAX_ATTESTATION_BYTES} bytes exelock reads",
            MAX_ATTESTATION_BYTES + 1
        )
    );
    assert!(
        reasons[2].contains("unsupported Sigstore bundle media type"),
        "{reasons:#?}"
    );
    assert!(reasons[3].contains("does not verify"), "{reasons:#?}");
    assert!(reasons[4].contains("for another image"), "{reasons:#?}");
    assert!(matches!(
        lookup.rejected[3].reason,
        NotVerified::Rejected(_)
    ));
    assert!(matches!(lookup.rejected[0].reason, NotVerified::Error(_)));
}

#[test]
fn every_valid_attestation_is_returned() {
    // An index digest is the subject of one attestation per platform: all of them count.
    let signer = signer();
    let trust = Trust::key(signer.public_key().clone()).unwrap();
    let amd64 = attestation(&signer, image_digest(), "linux/amd64");
    let arm64 = attestation(&signer, image_digest(), "linux/arm64");
    let lookup = check_candidates(
        [
            candidate("amd64", CandidateKind::Bundle, amd64.bundle_json),
            candidate(
                "arm64 envelope",
                CandidateKind::Envelope,
                arm64.envelope.to_json().unwrap(),
            ),
        ],
        &image_digest(),
        &trust,
    );
    assert!(lookup.rejected.is_empty(), "{:?}", reasons(&lookup));
    let platforms: Vec<&str> = lookup
        .valid
        .iter()
        .map(|found| found.attestation.manifest().image.platform.as_str())
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
}

#[test]
fn the_kind_decides_how_a_candidate_is_read() {
    // An envelope offered as a bundle is not a bundle; the same bytes as an envelope verify.
    let signer = signer();
    let trust = Trust::key(signer.public_key().clone()).unwrap();
    let envelope = attestation(&signer, image_digest(), "linux/amd64")
        .envelope
        .to_json()
        .unwrap();
    let lookup = check_candidates(
        [
            candidate("as bundle", CandidateKind::Bundle, envelope.clone()),
            candidate("as envelope", CandidateKind::Envelope, envelope),
        ],
        &image_digest(),
        &trust,
    );
    assert_eq!(lookup.valid.len(), 1);
    assert_eq!(lookup.valid[0].origin, "as envelope");
    assert_eq!(lookup.rejected[0].origin, "as bundle");
}

#[test]
fn bundle_files_become_candidates() {
    let signer = signer();
    let good = attestation(&signer, image_digest(), "linux/amd64");
    let envelope = good.envelope.to_json().unwrap();

    let one = candidates_from_bundle_file(&good.bundle_json, "one.json").unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].origin, "bundle file one.json");
    assert_eq!(one[0].kind, CandidateKind::Bundle);
    assert_eq!(one[0].bytes, good.bundle_json);

    let bare = candidates_from_bundle_file(&envelope, "env.json").unwrap();
    assert_eq!(bare[0].kind, CandidateKind::Envelope);

    let array = format!(
        "[\n {},\n {}, [1], \"x\"]\n",
        String::from_utf8(good.bundle_json.clone()).unwrap(),
        String::from_utf8(envelope.clone()).unwrap()
    );
    let many = candidates_from_bundle_file(array.as_bytes(), "many.json").unwrap();
    let shapes: Vec<(&str, CandidateKind)> = many
        .iter()
        .map(|candidate| (candidate.origin.as_str(), candidate.kind))
        .collect();
    assert_eq!(
        shapes,
        [
            ("bundle file many.json#0", CandidateKind::Bundle),
            ("bundle file many.json#1", CandidateKind::Envelope),
            ("bundle file many.json#2", CandidateKind::Bundle),
            ("bundle file many.json#3", CandidateKind::Bundle),
        ]
    );
    // Elements keep their bytes as written.
    assert_eq!(many[0].bytes, good.bundle_json);
    assert_eq!(many[1].bytes, envelope);
    // The odd elements are the lookup's to reject, one by one.
    let lookup = check_candidates(
        many,
        &image_digest(),
        &Trust::key(signer.public_key().clone()).unwrap(),
    );
    assert_eq!(lookup.valid.len(), 2);
    assert_eq!(lookup.rejected.len(), 2);
}

#[test]
fn bundle_files_over_the_caps_are_refused() {
    let too_many = format!("[{}]", vec!["{}"; MAX_BUNDLE_FILE_ENTRIES + 1].join(","));
    // An error, not a rejection: the type says so.
    let error: Error = candidates_from_bundle_file(too_many.as_bytes(), "big.json").unwrap_err();
    assert!(
        matches!(error, Error::TooManyAttestations { count: 65, .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "the bundle file big.json holds 65 attestations, more than the {MAX_BUNDLE_FILE_ENTRIES} exelock reads"
        )
    );
    let at_cap = format!("[{}]", vec!["{}"; MAX_BUNDLE_FILE_ENTRIES].join(","));
    assert_eq!(
        candidates_from_bundle_file(at_cap.as_bytes(), "ok.json")
            .unwrap()
            .len(),
        MAX_BUNDLE_FILE_ENTRIES
    );

    let huge = vec![b' '; MAX_BUNDLE_FILE_BYTES + 1];
    let error = candidates_from_bundle_file(&huge, "huge.json").unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "the bundle file huge.json is {} bytes, more than the {MAX_BUNDLE_FILE_BYTES} bytes exelock reads",
            MAX_BUNDLE_FILE_BYTES + 1
        )
    );

    for not_json in [&b"{"[..], b"[{}, ", b"[{}] trailing", b""] {
        let error = candidates_from_bundle_file(not_json, "bad.json").unwrap_err();
        assert!(matches!(error, Error::BundleFileJson { .. }), "{error:?}");
        assert!(error.to_string().contains("bad.json"), "{error}");
    }
}
