//! Storing attestations next to an image in a real distribution 2.8 registry (no referrers
//! API: the fallback tag must be maintained) and finding them again.

use exelock::digest::Sha256Digest;
use exelock::image::ImageSource as _;
use exelock::image::registry::{
    AttestationOrigin, MAX_ATTESTATION_CANDIDATES, RegistrySource, RejectionReason, SourceSettings,
};
use serde_json::{Value, json};

use crate::support::{Mode, Registry, http};

const PREDICATE: &str = "https://exelock.dev/manifest/v2";
const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// The distribution API spoken by hand, to store documents exelock itself would never write.
pub struct Raw<'a> {
    pub host: &'a str,
    pub repository: &'a str,
}

impl Raw<'_> {
    /// Sends `method target` with `headers` and `body`; the registry must answer `status`.
    fn send(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        status: u16,
    ) -> http::Response {
        let response = http::request(self.host, method, target, headers, body).unwrap();
        assert_eq!(response.status, status, "{}", response.text());
        response
    }

    /// The request target of `path` in the repository's part of the API.
    fn target(&self, path: &str) -> String {
        format!("/v2/{}/{path}", self.repository)
    }

    /// Uploads a blob (POST, then PUT with the digest); returns its digest.
    pub fn blob(&self, bytes: &[u8]) -> String {
        let digest = Sha256Digest::of(bytes).to_string();
        let started = self.send("POST", &self.target("blobs/uploads/"), &[], &[], 202);
        let location = started.header("Location").unwrap();
        let path = location
            .strip_prefix(&format!("http://{}", self.host))
            .unwrap_or(location);
        let separator = if path.contains('?') { '&' } else { '?' };
        self.send(
            "PUT",
            &format!("{path}{separator}digest={digest}"),
            &[("Content-Type", "application/octet-stream")],
            bytes,
            201,
        );
        digest
    }

    /// Stores a manifest or index under `reference` (a tag or its digest); returns its digest.
    pub fn manifest(&self, reference: Option<&str>, media_type: &str, body: &Value) -> String {
        let bytes = serde_json::to_vec(body).unwrap();
        let digest = Sha256Digest::of(&bytes).to_string();
        self.send(
            "PUT",
            &self.target(&format!("manifests/{}", reference.unwrap_or(&digest))),
            &[("Content-Type", media_type)],
            &bytes,
            201,
        );
        digest
    }

    /// Deletes a manifest by digest (the harness registry allows deletes).
    pub fn delete_manifest(&self, digest: &str) {
        self.send(
            "DELETE",
            &self.target(&format!("manifests/{digest}")),
            &[],
            &[],
            202,
        );
    }

    /// A referrer of `subject` claiming to carry a sigstore bundle, whose one layer is `layer`.
    pub fn referrer(&self, subject: &str, subject_size: usize, note: &str, layer: Value) -> String {
        let empty = self.blob(b"{}");
        self.manifest(
            None,
            OCI_MANIFEST,
            &json!({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": BUNDLE,
                "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
                "layers": [layer],
                "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": subject_size},
                "annotations": {"note": note},
            }),
        )
    }

    /// Makes the fallback tag of `subject` list exactly `referrers`, as bundle referrers.
    pub fn fallback_index(&self, subject: &str, referrers: &[String]) {
        let entries: Vec<Value> = referrers
            .iter()
            .map(|digest| {
                json!({"mediaType": OCI_MANIFEST, "digest": digest, "size": 1, "artifactType": BUNDLE})
            })
            .collect();
        self.manifest(
            Some(&subject.replace(':', "-")),
            OCI_INDEX,
            &json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}),
        );
    }
}

fn source(reference: &str) -> RegistrySource {
    RegistrySource::open(reference, &SourceSettings::new()).unwrap()
}

/// The tiny fixture pushed to a new registry as `fx/tiny:v1`: the registry, the image as a
/// source, and its manifest digest.
fn pushed_tiny() -> (Registry, RegistrySource, Sha256Digest) {
    let registry = Registry::start(Mode::Plain);
    registry.push_oci_layout("oci:testdata/images/tiny:latest", "fx/tiny:v1");
    let image = source(&format!("{}/fx/tiny:v1", registry.host()));
    let subject = image
        .resolve(&exelock::image::PlatformSelection::Default)
        .unwrap()
        .images[0]
        .manifest_digest
        .unwrap();
    (registry, image, subject)
}

fn raw(registry: &Registry, reference: &str) -> Value {
    serde_json::from_slice(&registry.skopeo_inspect_raw(reference)).unwrap()
}

#[test]
fn push_maintains_the_fallback_index_and_the_cosign_tag() {
    let (registry, image, subject) = pushed_tiny();

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

    let search = image.find_attestations(&subject).unwrap();
    assert!(search.rejected.is_empty(), "{:?}", search.rejected);
    let found = search.found;
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
    let nothing = image.find_attestations(&other).unwrap();
    assert!(nothing.found.is_empty() && nothing.rejected.is_empty());
}

#[test]
fn unreadable_referrers_are_reasons_and_the_search_goes_on() {
    let registry = Registry::start(Mode::Plain);
    registry.push_oci_layout("oci:testdata/images/tiny:latest", "fx/tiny:v1");
    let image = source(&format!("{}/fx/tiny:v1", registry.host()));
    let resolved = image
        .resolve(&exelock::image::PlatformSelection::Default)
        .unwrap();
    let subject = resolved.images[0].manifest_digest.unwrap();
    let raw = Raw {
        host: registry.host(),
        repository: "fx/tiny",
    };
    let subject_size = registry.skopeo_inspect_raw("fx/tiny:v1").len();
    let not_a_bundle = br#"{"not":"a bundle"}"#;
    let blob = raw.blob(not_a_bundle);
    let layer = |media_type: &str, size: usize| json!({"mediaType": media_type, "digest": blob, "size": size});
    let subject_text = subject.to_string();
    let oversize = raw.referrer(
        &subject_text,
        subject_size,
        "oversize",
        layer(BUNDLE, 100 << 20),
    );
    let wrong_type = raw.referrer(
        &subject_text,
        subject_size,
        "wrong type",
        layer("application/json", not_a_bundle.len()),
    );
    let wrong_size = raw.referrer(
        &subject_text,
        subject_size,
        "wrong size",
        layer(BUNDLE, not_a_bundle.len() - 1),
    );
    let gone = raw.referrer(
        &subject_text,
        subject_size,
        "gone",
        layer(BUNDLE, not_a_bundle.len()),
    );
    let readable = raw.referrer(
        &subject_text,
        subject_size,
        "readable",
        layer(BUNDLE, not_a_bundle.len()),
    );
    raw.fallback_index(
        &subject_text,
        &[
            oversize.clone(),
            wrong_type.clone(),
            wrong_size.clone(),
            gone.clone(),
            readable.clone(),
        ],
    );
    raw.delete_manifest(&gone);

    let search = image.find_attestations(&subject).unwrap();
    // The one readable document is found, though every referrer before it is broken.
    assert_eq!(search.found.len(), 1, "{:?}", search.rejected);
    assert_eq!(search.found[0].carrier.to_string(), readable);
    assert_eq!(search.found[0].bytes, not_a_bundle);
    let rejected: Vec<(String, String)> = search
        .rejected
        .iter()
        .map(|rejected| {
            (
                rejected
                    .carrier
                    .map(|digest| digest.to_string())
                    .unwrap_or_default(),
                rejected.to_string(),
            )
        })
        .collect();
    assert_eq!(rejected.len(), 4, "{rejected:#?}");
    let reason_for = |carrier: &str| {
        rejected
            .iter()
            .find(|(digest, _)| digest == carrier)
            .map(|(_, reason)| reason.clone())
            .unwrap_or_else(|| panic!("no reason for {carrier}: {rejected:#?}"))
    };
    assert!(
        reason_for(&oversize).contains("is 104857600 bytes, more than the 16777216 bytes allowed"),
        "{rejected:#?}"
    );
    assert!(
        reason_for(&wrong_type).contains(&format!("has no layer of media type {BUNDLE}")),
        "{rejected:#?}"
    );
    assert!(
        reason_for(&wrong_size).contains(&format!(
            "has {} bytes, its descriptor says {}",
            not_a_bundle.len(),
            not_a_bundle.len() - 1
        )),
        "{rejected:#?}"
    );
    assert!(
        reason_for(&gone).starts_with(&format!("OCI referrer {gone}: ")),
        "{rejected:#?}"
    );
}

#[test]
fn at_most_32_attestations_are_fetched_per_digest() {
    let (registry, image, subject) = pushed_tiny();
    let raw = Raw {
        host: registry.host(),
        repository: "fx/tiny",
    };
    let blob = raw.blob(b"{}");
    let referrers: Vec<String> = (0..MAX_ATTESTATION_CANDIDATES + 3)
        .map(|n| {
            raw.referrer(
                &subject.to_string(),
                1,
                &n.to_string(),
                json!({"mediaType": BUNDLE, "digest": blob, "size": 2}),
            )
        })
        .collect();
    raw.fallback_index(&subject.to_string(), &referrers);

    let search = image.find_attestations(&subject).unwrap();
    assert_eq!(search.found.len(), MAX_ATTESTATION_CANDIDATES);
    let fetched: Vec<String> = search
        .found
        .iter()
        .map(|found| found.carrier.to_string())
        .collect();
    assert_eq!(fetched, referrers[..MAX_ATTESTATION_CANDIDATES]);
    assert_eq!(search.rejected.len(), 1);
    assert!(
        matches!(
            search.rejected[0].reason,
            RejectionReason::OverLimit {
                skipped: 3,
                limit: 32
            }
        ),
        "{:?}",
        search.rejected
    );
    assert_eq!(
        search.rejected[0].to_string(),
        "OCI referrer: 3 more not fetched (at most 32 attestations are fetched per digest)"
    );
}
