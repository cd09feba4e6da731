//! Storing attestations next to an image in a real distribution 2.8 registry (no referrers
//! API: the fallback tag must be maintained) and finding them again.

use exelock::digest::Sha256Digest;
use exelock::image::ImageSource as _;
use exelock::image::registry::{AttestationOrigin, RegistrySettings, RegistrySource};
use serde_json::Value;

use crate::support::{Mode, Registry};

const PREDICATE: &str = "https://exelock.dev/manifest/v1";
const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

fn source(reference: &str) -> RegistrySource {
    RegistrySource::open(reference, &RegistrySettings::new()).unwrap()
}

fn raw(registry: &Registry, reference: &str) -> Value {
    serde_json::from_slice(&registry.skopeo_inspect_raw(reference)).unwrap()
}

#[test]
fn push_maintains_the_fallback_index_and_the_cosign_tag() {
    let registry = Registry::start(Mode::Plain);
    registry.push_oci_layout("oci:testdata/images/tiny:latest", "fx/tiny:v1");
    let image = source(&format!("{}/fx/tiny:v1", registry.host()));
    let subject = image
        .resolve(&exelock::image::PlatformSelection::Default)
        .unwrap()
        .images[0]
        .manifest_digest
        .unwrap();

    let first = br#"{"bundle":"one"}"#;
    let pushed = image
        .push_attestation(&subject, first, PREDICATE, Some(br#"{"envelope":"one"}"#))
        .unwrap();
    let tag = format!("sha256-{}", subject.hex());
    assert_eq!(pushed.fallback_tag.as_deref(), Some(tag.as_str()));
    assert_eq!(pushed.legacy_tag, Some(format!("{tag}.att")));

    // The referrer manifest names its subject, artifact type and predicate type.
    let referrer = raw(&registry, &format!("fx/tiny@{}", pushed.referrer));
    assert_eq!(referrer["artifactType"], BUNDLE);
    assert_eq!(referrer["subject"]["digest"], subject.to_string());
    assert_eq!(
        referrer["annotations"]["dev.sigstore.bundle.predicateType"],
        PREDICATE
    );
    assert_eq!(referrer["layers"][0]["mediaType"], BUNDLE);
    assert_eq!(
        referrer["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );

    // Each fallback index entry carries artifactType and annotations (cosign#4641).
    let index = raw(&registry, &format!("fx/tiny:{tag}"));
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["digest"], pushed.referrer.to_string());
    assert_eq!(entries[0]["artifactType"], BUNDLE);
    assert_eq!(
        entries[0]["annotations"]["dev.sigstore.bundle.predicateType"],
        PREDICATE
    );

    let legacy = raw(&registry, &format!("fx/tiny:{tag}.att"));
    assert_eq!(
        legacy["layers"][0]["mediaType"],
        "application/vnd.dsse.envelope.v1+json"
    );
    assert_eq!(
        legacy["layers"][0]["annotations"]["predicateType"],
        PREDICATE
    );

    // Pushing the same again changes nothing; another attestation is appended.
    image
        .push_attestation(&subject, first, PREDICATE, Some(br#"{"envelope":"one"}"#))
        .unwrap();
    let second = image
        .push_attestation(
            &subject,
            br#"{"bundle":"two"}"#,
            PREDICATE,
            Some(br#"{"envelope":"two"}"#),
        )
        .unwrap();
    assert_eq!(
        raw(&registry, &format!("fx/tiny:{tag}"))["manifests"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        raw(&registry, &format!("fx/tiny:{tag}.att"))["layers"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let found = image.find_attestations(&subject).unwrap();
    let bundles: Vec<&[u8]> = found
        .iter()
        .filter(|f| f.origin == AttestationOrigin::Referrer)
        .map(|f| f.bytes.as_slice())
        .collect();
    assert_eq!(bundles, [&first[..], br#"{"bundle":"two"}"#]);
    assert!(found.iter().any(|f| f.carrier == second.referrer));
    let envelopes = found
        .iter()
        .filter(|f| f.origin == AttestationOrigin::LegacyCosign)
        .count();
    assert_eq!(envelopes, 2);

    // Another image's digest has nothing.
    let other = Sha256Digest::of(b"some other manifest");
    assert!(image.find_attestations(&other).unwrap().is_empty());
}
