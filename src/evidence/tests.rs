use std::collections::HashSet;

use rstest::rstest;

use super::*;
use crate::attest::keys::{KeySigner, PublicKey};
use crate::attest::trusted_root::TrustedRoot;
use crate::attest::verify::Trust;
use crate::finding::ImageRef;
use crate::image::registry::{RegistryAllowList, SourceSettings};
use crate::triage::{Allowlist, Verdict};

const DIGEST: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn finding_about(image: &str) -> Finding {
    finding::from_flags("/usr/local/bin/tool", None, image)
}

fn finding_without_image() -> Finding {
    let mut finding = finding_about("registry.example/app:1");
    finding.image = ImageRef::default();
    finding
}

/// A finding that names its image by digest only (as SCC's `imageId` can).
fn finding_by_digest() -> Finding {
    let mut finding = finding_without_image();
    finding.image.digests = vec![DIGEST.parse().unwrap()];
    finding
}

fn key_trust() -> Trust {
    let signer = KeySigner::generate().unwrap();
    Trust::Key {
        key: PublicKey::from_pem(signer.public_key_pem().unwrap().as_bytes()).unwrap(),
        trusted_root: TrustedRoot::public_good().unwrap(),
    }
}

/// One attempt per request: a test of failures should not wait through backoff.
fn one_attempt() -> SourceSettings {
    SourceSettings {
        max_attempts: 1,
        ..SourceSettings::new()
    }
}

#[test]
fn a_finding_is_judged_against_its_own_image_not_the_fallback() {
    let query = ImageQuery::for_finding(
        &finding_about("registry.example/app:1"),
        Some(&format!("registry.example/other@{DIGEST}")),
    )
    .unwrap();
    assert_eq!(query.reference(), Some("registry.example/app:1"));
    assert!(query.digests().is_empty());
    assert_eq!(query.label(), "registry.example/app:1");
    assert_eq!(query.repository().as_deref(), Some("registry.example/app"));
}

#[test]
fn a_tag_only_finding_is_pinned_by_a_fallback_digest_of_its_repository() {
    let query = ImageQuery::for_finding(
        &finding_about("registry.example/app:1"),
        Some(&format!("registry.example/app@{DIGEST}")),
    )
    .unwrap();
    assert_eq!(query.digests(), [DIGEST.parse::<Sha256Digest>().unwrap()]);
    assert_eq!(query.label(), "registry.example/app:1");
}

#[test]
fn a_finding_without_an_image_takes_the_fallback_or_says_what_is_missing() {
    let finding = finding_without_image();
    let error = ImageQuery::for_finding(&finding, None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the finding does not say which image the binary ran in; pass --image REF"
    );
    assert!(!error.is_transient());
    let query =
        ImageQuery::for_finding(&finding, Some(&format!("registry.example/app@{DIGEST}"))).unwrap();
    assert_eq!(query.label(), format!("registry.example/app@{DIGEST}"));
    let digest_only = ImageQuery::for_finding(&finding_by_digest(), None).unwrap();
    assert_eq!(digest_only.reference(), None);
    assert_eq!(digest_only.label(), DIGEST);
    assert_eq!(digest_only.repository(), None);
}

#[test]
fn an_ambiguous_image_is_not_guessed() {
    let mut finding = finding_without_image();
    finding.image.ambiguity = Some("2 containers with different images".to_owned());
    let error = ImageQuery::for_finding(&finding, Some("registry.example/app:1")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the finding's image is unknown: 2 containers with different images"
    );
}

#[test]
fn equal_queries_hash_alike_so_callers_can_cache_by_them() {
    let first = ImageQuery::for_finding(&finding_about("registry.example/app:1"), None).unwrap();
    let again = ImageQuery::for_finding(&finding_about("registry.example/app:1"), None).unwrap();
    let other = ImageQuery::for_finding(&finding_about("registry.example/app:2"), None).unwrap();
    let set: HashSet<ImageQuery> = [first.clone(), again, other].into_iter().collect();
    assert_eq!(set.len(), 2);
    assert!(set.contains(&first));
}

#[test]
fn shared_state_is_send_and_sync() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<ImageState>();
    shareable::<Resolver>();
    shareable::<ImagePrefixes>();
    shareable::<FindingReport>();
    shareable::<Error>();
}

#[rstest]
#[case::unlisted(
    "registry.example/app:1",
    "registry registry.example is refused: it is not on the registry allow-list (--allow-registry)"
)]
#[case::loopback_by_name(
    "localhost:5000/app:1",
    "registry localhost:5000 is refused: localhost resolves to"
)]
fn registries_the_allow_list_refuses_are_never_asked_and_the_refusal_is_final(
    #[case] reference: &str,
    #[case] message: &str,
) {
    let allow = RegistryAllowList::new(
        vec!["ghcr.io".to_owned(), "localhost:5000".to_owned()],
        Vec::new(),
    )
    .unwrap();
    let resolver = Resolver::new(Some(key_trust()), one_attempt()).with_allow_list(allow);
    let query = ImageQuery::for_finding(&finding_about(reference), None).unwrap();
    let error = resolver.resolve(&query).err().unwrap();
    assert!(error.reason().starts_with(message), "{}", error.reason());
    assert!(!error.is_transient(), "{error}");
    let report = FindingReport::unresolved(
        &finding_about(reference),
        Some(query.label()),
        &error.reason(),
        &Allowlist::default(),
    );
    assert_eq!(report.verdicts(), [Verdict::Unverifiable]);
    assert!(report.needs_action());
    let line = serde_json::to_value(&report).unwrap();
    assert_eq!(line["image"], reference);
    assert!(
        line["binaries"][0]["evidence"]
            .to_string()
            .contains("is refused"),
        "{line}"
    );
}

#[test]
fn a_registry_that_cannot_be_reached_is_transient() {
    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let registry = format!("127.0.0.1:{port}");
    let allow = RegistryAllowList::new(vec![registry.clone()], Vec::new()).unwrap();
    let resolver = Resolver::new(Some(key_trust()), one_attempt()).with_allow_list(allow);
    let query =
        ImageQuery::for_finding(&finding_about(&format!("{registry}/app:1")), None).unwrap();
    let error = resolver.resolve(&query).err().unwrap();
    assert!(error.is_transient(), "{}", error.reason());
    assert!(
        error.reason().starts_with(&format!(
            "cannot resolve the image: {registry}/app:1: {registry}/app:1: fetching manifest"
        )),
        "{}",
        error.reason()
    );
}

#[rstest]
#[case::no_trust(None, "no way to verify the image's attestation")]
#[case::digest_only(Some(()), "the finding names its image only by digest")]
fn final_answers_before_any_request_are_not_transient(
    #[case] trust: Option<()>,
    #[case] message: &str,
) {
    let resolver = Resolver::new(trust.map(|()| key_trust()), one_attempt());
    let query = ImageQuery::for_finding(&finding_by_digest(), None).unwrap();
    let error = resolver.resolve(&query).err().unwrap();
    assert!(error.to_string().starts_with(message), "{error}");
    assert!(!error.is_transient());
}

#[test]
fn a_report_for_a_finding_without_an_image_names_none() {
    let finding = finding_without_image();
    let error = ImageQuery::for_finding(&finding, None).unwrap_err();
    let report =
        FindingReport::unresolved(&finding, None, &error.to_string(), &Allowlist::default());
    assert_eq!(report.image, None);
    assert_eq!(report.id, finding.id);
    assert_eq!(report.source, finding.source);
    assert_eq!(report.bake_entries().count(), 0);
    let line = serde_json::to_value(&report).unwrap();
    assert_eq!(line["image"], serde_json::Value::Null);
    assert_eq!(line["binaries"][0]["verdict"], "unverifiable");
}
