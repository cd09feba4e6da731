//! `generate-key-pair`, `attest` and `verify` end to end: keys on disk, attestations pushed to a
//! real registry and found again, offline bundles, and forgeries rejected with exit code 1.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::support::fixtures::{Layout, root};
use crate::support::signing::{
    attest_and_push, attest_to_bundle, attest_to_bundle_command, exelock_with_password,
    generate_key_pair_named,
};
use crate::support::{
    Mode, Registry, assert_input_error, assert_policy_failure, assert_success,
    assert_success_printing, printed,
};

/// The password of the keys the tests make.
const PASSWORD: &str = "correct horse";

/// `exelock ARGS` in `dir`, with the password of the keys made there.
fn run(dir: &Path, args: &[&str]) -> Output {
    exelock_with_password(dir, PASSWORD)
        .args(args)
        .output()
        .unwrap()
}

/// A temp dir with a fresh key pair (cosign.key, cosign.pub) and a second one (other.*).
fn keys() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for prefix in ["cosign", "other"] {
        generate_key_pair_named(dir.path(), PASSWORD, prefix);
    }
    dir
}

/// The key pairs of [`keys`], and a new registry holding tiny as `fx/tiny:v1`, by that reference.
fn keys_and_tiny_in_a_registry() -> (tempfile::TempDir, Registry, String) {
    let dir = keys();
    let registry = Registry::start(Mode::Plain);
    registry.push_oci_layout("oci:testdata/images/tiny:latest", "fx/tiny:v1");
    let tiny = format!("{}/fx/tiny:v1", registry.host());
    (dir, registry, tiny)
}

fn fixture(name: &str) -> String {
    format!(
        "oci:{}",
        root().join("testdata/images").join(name).display()
    )
}

#[test]
fn generated_keys_are_cosign_format_and_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = keys();
    let key = dir.path().join("cosign.key");
    let private = fs_err::read_to_string(&key).unwrap();
    assert!(
        private.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"),
        "{private}"
    );
    assert!(!private.contains(PASSWORD));
    assert_eq!(
        fs_err::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let public = fs_err::read_to_string(dir.path().join("cosign.pub")).unwrap();
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
    let again = run(dir.path(), &["generate-key-pair"]);
    assert_input_error(&again, "exists; pass --force");
    // A wrong password is a clear error, and the password never shows.
    let output = attest_to_bundle_command(
        dir.path(),
        "wrong-password-123",
        &fixture("tiny"),
        "cosign.key",
        "b.json",
    )
    .output()
    .unwrap();
    assert_input_error(&output, "cannot decrypt the private key");
    assert!(!printed(&output).contains("wrong-password-123"));
}

#[test]
fn cosign_and_pkcs8_keys_sign_attestations() {
    let dir = tempfile::tempdir().unwrap();
    let keys = root().join("testdata/attest/keys");
    attest_to_bundle(
        dir.path(),
        PASSWORD,
        &fixture("tiny"),
        keys.join("openssl_p256.pem").to_str().unwrap(),
        "b.json",
    );
    let digest = layout_manifest_digest("tiny");
    let verify = verify_bundle(
        dir.path(),
        "b.json",
        &digest,
        &["--key", keys.join("openssl_p256.pub").to_str().unwrap()],
    );
    assert_success(&verify);
    // A key made by `cosign generate-key-pair` (empty password).
    attest_to_bundle(
        dir.path(),
        "",
        &fixture("tiny"),
        keys.join("cosign_generated_encrypted_empty_private.key")
            .to_str()
            .unwrap(),
        "c.json",
    );
}

/// `exelock verify --bundle BUNDLE --image-digest DIGEST ARGS` in `dir`, with `ARGS` saying
/// whom to trust (and where to write the verified manifest).
fn verify_bundle(dir: &Path, bundle: &str, digest: &str, args: &[&str]) -> Output {
    let verify = ["verify", "--bundle", bundle, "--image-digest", digest];
    run(dir, &[&verify[..], args].concat())
}

fn read_json(file: &Path) -> Value {
    serde_json::from_slice(&fs_err::read(file).unwrap()).unwrap()
}

fn write_json(file: &Path, value: &Value) {
    fs_err::write(file, serde_json::to_vec(value).unwrap()).unwrap();
}

fn layout_manifest_digest(image: &str) -> String {
    Layout::image(image).manifest_digest()
}

#[test]
fn offline_bundle_round_trip_and_forgeries() {
    let dir = keys();
    let path = dir.path();
    attest_to_bundle(
        path,
        PASSWORD,
        &fixture("traps"),
        "cosign.key",
        "traps.bundle.json",
    );
    let digest = layout_manifest_digest("traps");
    let ok = verify_bundle(
        path,
        "traps.bundle.json",
        &digest,
        &["--key", "cosign.pub", "-o", "verified.json"],
    );
    assert_success_printing(&ok, &format!("verified {digest}: signed by key"));
    let verified: Value = read_json(&path.join("verified.json"));
    let scanned: Value = serde_json::from_slice(
        &run(path, &["scan", &fixture("traps"), "-q", "--format", "json"]).stdout,
    )
    .unwrap();
    assert_eq!(verified["executables"], scanned["executables"]);

    // The image argument resolves the digest itself.
    let by_image = run(
        path,
        &[
            "verify",
            &fixture("traps"),
            "--bundle",
            "traps.bundle.json",
            "--key",
            "cosign.pub",
        ],
    );
    assert_success(&by_image);

    let expect_rejected = |bundle: &str, digest: &str, args: &[&str], needle: &str| {
        assert_policy_failure(&verify_bundle(path, bundle, digest, args), needle);
        assert!(!path.join("never.json").exists());
    };
    // Wrong key.
    expect_rejected(
        "traps.bundle.json",
        &digest,
        &["--key", "other.pub", "-o", "never.json"],
        "NOT VERIFIED",
    );
    // An attestation of another image.
    let tiny = layout_manifest_digest("tiny");
    expect_rejected(
        "traps.bundle.json",
        &tiny,
        &["--key", "cosign.pub", "-o", "never.json"],
        &tiny,
    );
    // Tampered payload and signature.
    let bundle: Value = read_json(&path.join("traps.bundle.json"));
    let mut tampered = bundle.clone();
    let payload = tampered["dsseEnvelope"]["payload"]
        .as_str()
        .unwrap()
        .to_owned();
    tampered["dsseEnvelope"]["payload"] =
        Value::from(format!("{}A", &payload[..payload.len() - 4]) + &payload[payload.len() - 3..]);
    write_json(&path.join("tampered.json"), &tampered);
    expect_rejected(
        "tampered.json",
        &digest,
        &["--key", "cosign.pub"],
        "NOT VERIFIED",
    );
    let mut no_signatures = bundle.clone();
    no_signatures["dsseEnvelope"]["signatures"] = Value::Array(vec![]);
    write_json(&path.join("nosig.json"), &no_signatures);
    expect_rejected(
        "nosig.json",
        &digest,
        &["--key", "cosign.pub"],
        "exactly one signature",
    );
    // Keyless trust (with the built-in public-good root) on a key-signed bundle.
    expect_rejected(
        "traps.bundle.json",
        &digest,
        &[
            "--certificate-identity",
            "ci@example.com",
            "--certificate-oidc-issuer",
            "https://issuer.example",
        ],
        "trust policy expects",
    );
    // Usage errors are exit 2.
    assert_input_error(
        &verify_bundle(path, "traps.bundle.json", &digest, &[]),
        "say whom to trust",
    );
    assert_input_error(
        &verify_bundle(path, "missing.json", &digest, &["--key", "cosign.pub"]),
        "missing.json",
    );
}

#[test]
fn registry_round_trip_single_and_multi_arch() {
    let (dir, registry, tiny) = keys_and_tiny_in_a_registry();
    let path = dir.path();
    registry.push_oci_layout("oci:testdata/images/multiarch:latest", "fx/multi:v1");
    registry.push_oci_layout("oci:testdata/images/demo:latest", "fx/demo:v1");

    // Nothing attested yet.
    let missing = run(path, &["verify", &tiny, "--key", "cosign.pub"]);
    assert_policy_failure(&missing, "no attestation is stored");

    attest_and_push(path, PASSWORD, &tiny, &["--legacy-cosign"]);
    let verify = run(
        path,
        &[
            "verify",
            &tiny,
            "--key",
            "cosign.pub",
            "-o",
            "tiny.json",
            "-q",
        ],
    );
    assert_success_printing(&verify, "found as OCI referrer");
    assert_policy_failure(
        &run(path, &["verify", &tiny, "--key", "other.pub"]),
        "NOT VERIFIED",
    );

    // The cosign .att image holds a DSSE envelope that verifies on its own too.
    let tag = format!(
        "fx/tiny:sha256-{}.att",
        layout_manifest_digest("tiny").trim_start_matches("sha256:")
    );
    let att: Value = serde_json::from_slice(&registry.skopeo_inspect_raw(&tag)).unwrap();
    assert_eq!(
        att["layers"][0]["annotations"]["predicateType"],
        "https://exelock.dev/manifest/v2"
    );

    // Multi-arch: every platform and the index.
    let multi = format!("{}/fx/multi:v1", registry.host());
    let attest = attest_and_push(path, PASSWORD, &multi, &[]);
    assert_eq!(
        String::from_utf8_lossy(&attest.stdout).lines().count(),
        4,
        "{}",
        printed(&attest)
    );
    for platform in ["linux/amd64", "linux/arm64"] {
        let verify = run(
            path,
            &[
                "verify",
                &multi,
                "--key",
                "cosign.pub",
                "--platform",
                platform,
                "-q",
            ],
        );
        assert_eq!(
            verify.status.code(),
            Some(0),
            "{platform}: {}",
            printed(&verify)
        );
        assert_eq!(
            String::from_utf8_lossy(&verify.stdout)
                .matches("verified ")
                .count(),
            2,
            "{}",
            printed(&verify)
        );
    }

    // An attestation moved from another image: tiny's bundle stored as a referrer of demo.
    let demo = format!("{}/fx/demo:v1", registry.host());
    attest_to_bundle(path, PASSWORD, &tiny, "cosign.key", "tiny.bundle.json");
    let store = exelock::image::registry::RegistrySource::open(
        &demo,
        &exelock::image::registry::SourceSettings::new(),
    )
    .unwrap();
    let demo_digest: exelock::digest::Sha256Digest =
        layout_manifest_digest("demo").parse().unwrap();
    store
        .push_attestation(
            &demo_digest,
            &fs_err::read(path.join("tiny.bundle.json")).unwrap(),
            "https://exelock.dev/manifest/v2",
            None,
        )
        .unwrap();
    let moved = run(path, &["verify", &demo, "--key", "cosign.pub"]);
    assert_policy_failure(&moved, &demo_digest.to_string());
}

#[test]
fn a_bad_referrer_does_not_hide_a_good_attestation() {
    let (dir, registry, tiny) = keys_and_tiny_in_a_registry();
    let path = dir.path();
    let subject = layout_manifest_digest("tiny");
    let subject_size = registry.skopeo_inspect_raw("fx/tiny:v1").len();

    // Broken referrers first, so the good one is listed after them.
    let raw = crate::attach::Raw {
        host: registry.host(),
        repository: "fx/tiny",
    };
    let junk = br#"{"not":"a bundle"}"#;
    let blob = raw.blob(junk);
    let layer = |media_type: &str, size: usize| serde_json::json!({"mediaType": media_type, "digest": blob, "size": size});
    let bundle = "application/vnd.dev.sigstore.bundle.v0.3+json";
    let referrers = [
        raw.referrer(&subject, subject_size, "oversize", layer(bundle, 100 << 20)),
        raw.referrer(
            &subject,
            subject_size,
            "json",
            layer("application/json", junk.len()),
        ),
        raw.referrer(&subject, subject_size, "broken", layer(bundle, junk.len())),
        raw.referrer(
            &subject,
            subject_size,
            "not a bundle",
            layer(bundle, junk.len()),
        ),
    ];
    raw.fallback_index(&subject, &referrers);
    attest_and_push(path, PASSWORD, &tiny, &[]);
    // Gone after the push listed it: the registry would refuse a fallback index naming it.
    raw.delete_manifest(&referrers[2]);
    let verify = run(path, &["verify", &tiny, "--key", "cosign.pub", "-q"]);
    assert_success_printing(
        &verify,
        &format!("verified {tiny} {subject}: signed by key"),
    );

    let signing_key_id = String::from_utf8_lossy(&verify.stdout)
        .split_once("signed by key ")
        .map(|(_, rest)| rest.chars().take(64).collect::<String>())
        .unwrap();

    // Against another key, every candidate is listed with its reason: exit 1, not an error. The
    // good bundle's rejection names the key it was signed with.
    let other = run(path, &["verify", &tiny, "--key", "other.pub"]);
    let report = assert_policy_failure(&other, "NOT VERIFIED");
    for expected in [
        "more than the 16777216 bytes allowed",
        "has no layer of media type application/vnd.dev.sigstore.bundle.v0.3+json",
        &format!("OCI referrer {}: ", referrers[2]),
        "the Sigstore bundle is not valid",
        &format!(
            "the bundle names key {signing_key_id} as its signer (pass that public key with --key if you trust it)"
        ),
    ] {
        assert!(
            report.contains(expected),
            "missing {expected:?} in {report}"
        );
    }
}

#[test]
fn bundle_files_are_checked_entry_by_entry_and_capped() {
    let dir = keys();
    let path = dir.path();
    attest_to_bundle(path, PASSWORD, &fixture("tiny"), "cosign.key", "good.json");
    let good: Value = read_json(&path.join("good.json"));
    let digest = layout_manifest_digest("tiny");
    let verify = |file: &str| verify_bundle(path, file, &digest, &["--key", "cosign.pub"]);

    // An unreadable entry before the good one no longer ends the lookup.
    let mixed =
        serde_json::json!([{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}, good]);
    write_json(&path.join("mixed.json"), &mixed);
    let output = verify("mixed.json");
    assert_success_printing(&output, "found as bundle file mixed.json#1");

    // Nothing valid and something unreadable: an input error, naming the entry.
    let unreadable =
        serde_json::json!([{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}]);
    write_json(&path.join("unreadable.json"), &unreadable);
    let output = verify("unreadable.json");
    assert_input_error(
        &output,
        "cannot read bundle file unreadable.json#0: the Sigstore bundle has no DSSE envelope",
    );

    // More entries than a bundle file may hold: refused before any is checked.
    let many = Value::Array(vec![good; 65]);
    write_json(&path.join("many.json"), &many);
    let output = verify("many.json");
    assert_input_error(
        &output,
        "the bundle file many.json holds 65 attestations, more than the 64 exelock reads",
    );
}

#[test]
fn attest_with_a_manifest_file_signs_only_the_image_it_describes() {
    let dir = keys();
    let path = dir.path();
    let scan = |image: &str, file: &str| {
        assert_success(&run(path, &["scan", &fixture(image), "-q", "-o", file]));
        read_json(&path.join(file))
    };
    let tiny = scan("tiny", "tiny.json");
    scan("traps", "traps.json");
    let attest = |manifest: &str| {
        run(
            path,
            &[
                "attest",
                &fixture("tiny"),
                "--manifest",
                manifest,
                "--key",
                "cosign.key",
                "--bundle",
                "signed.json",
                "-q",
            ],
        )
    };
    let refused = |manifest: &str, needle: &str| {
        let output = attest(manifest);
        let stderr = assert_input_error(&output, "refusing to sign");
        assert!(
            stderr.contains(needle),
            "{manifest}: {needle:?} not in {stderr}"
        );
        assert!(!path.join("signed.json").exists(), "{manifest} was signed");
    };

    // Another image's manifest.
    let traps_digest = layout_manifest_digest("traps");
    refused(
        "traps.json",
        &format!("(manifest {traps_digest}, index none, config "),
    );
    // This image's manifest with `field` of its image set to `digest`, written to `file`.
    let refused_with_other = |field: &str, digest: &str, file: &str| {
        let mut edited = tiny.clone();
        edited["image"][field] = Value::from(digest);
        write_json(&path.join(file), &edited);
        refused(file, digest);
    };
    // This image's manifest digest, another config.
    refused_with_other(
        "configDigest",
        &("sha256:".to_owned() + &"ab".repeat(32)),
        "config.json",
    );
    // This image's manifest, claimed to come from an index.
    refused_with_other(
        "indexDigest",
        &("sha256:".to_owned() + &"cd".repeat(32)),
        "index.json",
    );

    // Its own manifest is signed.
    assert_success(&attest("tiny.json"));
    assert!(path.join("signed.json").exists());
}
