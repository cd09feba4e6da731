//! `generate-key-pair`, `attest` and `verify` end to end: keys on disk, attestations pushed to a
//! real registry and found again, offline bundles, and forgeries rejected with exit code 1.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::support::fixtures::{Layout, root};
use crate::support::{
    Mode, Registry, assert_input_error, assert_policy_failure, exelock_in, printed,
};

/// The password of the keys the tests make.
const PASSWORD: &str = "correct horse";

/// `exelock ARGS` in `dir`, with the password of the keys made there.
fn run(dir: &Path, args: &[&str]) -> Output {
    exelock_in(dir)
        .env("EXELOCK_PASSWORD", PASSWORD)
        .args(args)
        .output()
        .unwrap()
}

/// A temp dir with a fresh key pair (cosign.key, cosign.pub) and a second one (other.*).
fn keys() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for prefix in ["cosign", "other"] {
        let output = run(
            dir.path(),
            &["generate-key-pair", "--output-key-prefix", prefix],
        );
        assert!(output.status.success(), "{}", printed(&output));
    }
    dir
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
    let output = exelock_in(dir.path())
        .env("EXELOCK_PASSWORD", "wrong-password-123")
        .args([
            "attest",
            &fixture("tiny"),
            "--key",
            "cosign.key",
            "--bundle",
            "b.json",
            "-q",
        ])
        .output()
        .unwrap();
    assert_input_error(&output, "cannot decrypt the private key");
    assert!(!printed(&output).contains("wrong-password-123"));
}

#[test]
fn cosign_and_pkcs8_keys_sign_attestations() {
    let dir = tempfile::tempdir().unwrap();
    let keys = root().join("testdata/attest/keys");
    let pkcs8 = run(
        dir.path(),
        &[
            "attest",
            &fixture("tiny"),
            "--key",
            keys.join("openssl_p256.pem").to_str().unwrap(),
            "--bundle",
            "b.json",
            "-q",
        ],
    );
    assert!(pkcs8.status.success(), "{}", printed(&pkcs8));
    let digest = layout_manifest_digest("tiny");
    let verify = run(
        dir.path(),
        &[
            "verify",
            "--bundle",
            "b.json",
            "--image-digest",
            &digest,
            "--key",
            keys.join("openssl_p256.pub").to_str().unwrap(),
        ],
    );
    assert_eq!(verify.status.code(), Some(0), "{}", printed(&verify));
    // A key made by `cosign generate-key-pair` (empty password).
    let cosign = exelock_in(dir.path())
        .env("EXELOCK_PASSWORD", "")
        .args([
            "attest",
            &fixture("tiny"),
            "--key",
            keys.join("cosign_generated_encrypted_empty_private.key")
                .to_str()
                .unwrap(),
            "--bundle",
            "c.json",
            "-q",
        ])
        .output()
        .unwrap();
    assert!(cosign.status.success(), "{}", printed(&cosign));
}

fn layout_manifest_digest(image: &str) -> String {
    Layout::image(image).manifest_digest()
}

#[test]
fn offline_bundle_round_trip_and_forgeries() {
    let dir = keys();
    let path = dir.path();
    let output = run(
        path,
        &[
            "attest",
            &fixture("traps"),
            "--key",
            "cosign.key",
            "--bundle",
            "traps.bundle.json",
            "-q",
        ],
    );
    assert!(output.status.success(), "{}", printed(&output));
    let digest = layout_manifest_digest("traps");
    let ok = run(
        path,
        &[
            "verify",
            "--bundle",
            "traps.bundle.json",
            "--image-digest",
            &digest,
            "--key",
            "cosign.pub",
            "-o",
            "verified.json",
        ],
    );
    assert_eq!(ok.status.code(), Some(0), "{}", printed(&ok));
    assert!(
        printed(&ok).contains(&format!("verified {digest}: signed by key")),
        "{}",
        printed(&ok)
    );
    let verified: Value =
        serde_json::from_slice(&fs_err::read(path.join("verified.json")).unwrap()).unwrap();
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
    assert_eq!(by_image.status.code(), Some(0), "{}", printed(&by_image));

    let expect_rejected = |args: &[&str], needle: &str| {
        assert_policy_failure(&run(path, args), needle);
        assert!(!path.join("never.json").exists());
    };
    // Wrong key.
    expect_rejected(
        &[
            "verify",
            "--bundle",
            "traps.bundle.json",
            "--image-digest",
            &digest,
            "--key",
            "other.pub",
            "-o",
            "never.json",
        ],
        "NOT VERIFIED",
    );
    // An attestation of another image.
    let tiny = layout_manifest_digest("tiny");
    expect_rejected(
        &[
            "verify",
            "--bundle",
            "traps.bundle.json",
            "--image-digest",
            &tiny,
            "--key",
            "cosign.pub",
            "-o",
            "never.json",
        ],
        &tiny,
    );
    // Tampered payload and signature.
    let bundle: Value =
        serde_json::from_slice(&fs_err::read(path.join("traps.bundle.json")).unwrap()).unwrap();
    let mut tampered = bundle.clone();
    let payload = tampered["dsseEnvelope"]["payload"]
        .as_str()
        .unwrap()
        .to_owned();
    tampered["dsseEnvelope"]["payload"] =
        Value::from(format!("{}A", &payload[..payload.len() - 4]) + &payload[payload.len() - 3..]);
    fs_err::write(
        path.join("tampered.json"),
        serde_json::to_vec(&tampered).unwrap(),
    )
    .unwrap();
    expect_rejected(
        &[
            "verify",
            "--bundle",
            "tampered.json",
            "--image-digest",
            &digest,
            "--key",
            "cosign.pub",
        ],
        "NOT VERIFIED",
    );
    let mut no_signatures = bundle.clone();
    no_signatures["dsseEnvelope"]["signatures"] = Value::Array(vec![]);
    fs_err::write(
        path.join("nosig.json"),
        serde_json::to_vec(&no_signatures).unwrap(),
    )
    .unwrap();
    expect_rejected(
        &[
            "verify",
            "--bundle",
            "nosig.json",
            "--image-digest",
            &digest,
            "--key",
            "cosign.pub",
        ],
        "exactly one signature",
    );
    // Keyless trust (with the built-in public-good root) on a key-signed bundle.
    expect_rejected(
        &[
            "verify",
            "--bundle",
            "traps.bundle.json",
            "--image-digest",
            &digest,
            "--certificate-identity",
            "ci@example.com",
            "--certificate-oidc-issuer",
            "https://issuer.example",
        ],
        "trust policy expects",
    );
    // Usage errors are exit 2.
    assert_input_error(
        &run(
            path,
            &[
                "verify",
                "--bundle",
                "traps.bundle.json",
                "--image-digest",
                &digest,
            ],
        ),
        "say whom to trust",
    );
    assert_input_error(
        &run(
            path,
            &[
                "verify",
                "--bundle",
                "missing.json",
                "--image-digest",
                &digest,
                "--key",
                "cosign.pub",
            ],
        ),
        "missing.json",
    );
}

#[test]
fn registry_round_trip_single_and_multi_arch() {
    let dir = keys();
    let path = dir.path();
    let registry = Registry::start(Mode::Plain);
    registry.push_oci_layout("oci:testdata/images/tiny:latest", "fx/tiny:v1");
    registry.push_oci_layout("oci:testdata/images/multiarch:latest", "fx/multi:v1");
    registry.push_oci_layout("oci:testdata/images/demo:latest", "fx/demo:v1");
    let tiny = format!("{}/fx/tiny:v1", registry.host());

    // Nothing attested yet.
    let missing = run(path, &["verify", &tiny, "--key", "cosign.pub"]);
    assert_policy_failure(&missing, "no attestation is stored");

    let attest = run(
        path,
        &[
            "attest",
            &tiny,
            "--key",
            "cosign.key",
            "--push",
            "--legacy-cosign",
            "-q",
        ],
    );
    assert!(attest.status.success(), "{}", printed(&attest));
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
    assert_eq!(verify.status.code(), Some(0), "{}", printed(&verify));
    assert!(
        printed(&verify).contains("found as OCI referrer"),
        "{}",
        printed(&verify)
    );
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
    let attest = run(
        path,
        &["attest", &multi, "--key", "cosign.key", "--push", "-q"],
    );
    assert!(attest.status.success(), "{}", printed(&attest));
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
    let bundle = run(
        path,
        &[
            "attest",
            &tiny,
            "--key",
            "cosign.key",
            "--bundle",
            "tiny.bundle.json",
            "-q",
        ],
    );
    assert!(bundle.status.success());
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
    let dir = keys();
    let path = dir.path();
    let registry = Registry::start(Mode::Plain);
    registry.push_oci_layout("oci:testdata/images/tiny:latest", "fx/tiny:v1");
    let tiny = format!("{}/fx/tiny:v1", registry.host());
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
    let attest = run(
        path,
        &["attest", &tiny, "--key", "cosign.key", "--push", "-q"],
    );
    assert!(attest.status.success(), "{}", printed(&attest));
    // Gone after the push listed it: the registry would refuse a fallback index naming it.
    raw.delete_manifest(&referrers[2]);
    let verify = run(path, &["verify", &tiny, "--key", "cosign.pub", "-q"]);
    assert_eq!(verify.status.code(), Some(0), "{}", printed(&verify));
    assert!(
        printed(&verify).contains(&format!("verified {tiny} {subject}: signed by key")),
        "{}",
        printed(&verify)
    );

    // Against another key, every candidate is listed with its reason: exit 1, not an error.
    let other = run(path, &["verify", &tiny, "--key", "other.pub"]);
    let report = assert_policy_failure(&other, "NOT VERIFIED");
    for expected in [
        "more than the 16777216 bytes allowed",
        "has no layer of media type application/vnd.dev.sigstore.bundle.v0.3+json",
        &format!("OCI referrer {}: ", referrers[2]),
        "the Sigstore bundle is not valid",
        "the envelope was tampered with or signed by another key",
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
    let output = run(
        path,
        &[
            "attest",
            &fixture("tiny"),
            "--key",
            "cosign.key",
            "--bundle",
            "good.json",
            "-q",
        ],
    );
    assert!(output.status.success(), "{}", printed(&output));
    let good: Value =
        serde_json::from_slice(&fs_err::read(path.join("good.json")).unwrap()).unwrap();
    let digest = layout_manifest_digest("tiny");
    let verify = |file: &str| {
        run(
            path,
            &[
                "verify",
                "--bundle",
                file,
                "--image-digest",
                &digest,
                "--key",
                "cosign.pub",
            ],
        )
    };

    // An unreadable entry before the good one no longer ends the lookup.
    let mixed =
        serde_json::json!([{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}, good]);
    fs_err::write(path.join("mixed.json"), serde_json::to_vec(&mixed).unwrap()).unwrap();
    let output = verify("mixed.json");
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    assert!(
        printed(&output).contains("found as bundle file mixed.json#1"),
        "{}",
        printed(&output)
    );

    // Nothing valid and something unreadable: an input error, naming the entry.
    let unreadable =
        serde_json::json!([{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}]);
    fs_err::write(
        path.join("unreadable.json"),
        serde_json::to_vec(&unreadable).unwrap(),
    )
    .unwrap();
    let output = verify("unreadable.json");
    assert_input_error(
        &output,
        "cannot read bundle file unreadable.json#0: the Sigstore bundle has no DSSE envelope",
    );

    // More entries than a bundle file may hold: refused before any is checked.
    let many = Value::Array(vec![good; 65]);
    fs_err::write(path.join("many.json"), serde_json::to_vec(&many).unwrap()).unwrap();
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
        let output = run(path, &["scan", &fixture(image), "-q", "-o", file]);
        assert!(output.status.success(), "{}", printed(&output));
        serde_json::from_slice::<Value>(&fs_err::read(path.join(file)).unwrap()).unwrap()
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
    // This image's manifest digest, another config.
    let mut other_config = tiny.clone();
    let config = "sha256:".to_owned() + &"ab".repeat(32);
    other_config["image"]["configDigest"] = Value::from(config.clone());
    fs_err::write(
        path.join("config.json"),
        serde_json::to_vec(&other_config).unwrap(),
    )
    .unwrap();
    refused("config.json", &config);
    // This image's manifest, claimed to come from an index.
    let mut other_index = tiny.clone();
    let index = "sha256:".to_owned() + &"cd".repeat(32);
    other_index["image"]["indexDigest"] = Value::from(index.clone());
    fs_err::write(
        path.join("index.json"),
        serde_json::to_vec(&other_index).unwrap(),
    )
    .unwrap();
    refused("index.json", &index);

    // Its own manifest is signed.
    let output = attest("tiny.json");
    assert!(output.status.success(), "{}", printed(&output));
    assert!(path.join("signed.json").exists());
}
