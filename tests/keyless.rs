//! `attest --keyless` end to end through the `exelock` binary, against the local Fulcio,
//! Rekor v1, Rekor v2, TSA and GitHub Actions OIDC endpoint of `support::sigstore_services`:
//! the bundles carry what each Rekor version and the TSA vouch for, and verify with the
//! Sigstore project's own verifier (`sigstore_verify`) against the trusted root the services
//! wrote; a token Fulcio refuses and an unreachable service are clear exit-2 errors.

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use der::Decode as _;
use serde_json::Value;
use sigstore_verify::types::{Bundle, Sha256Hash};
use sigstore_verify::{VerificationPolicy, Verifier};

use crate::support::fixtures::{Layout, root};
use crate::support::sigstore_services::{
    self, ACTIONS_REQUEST_TOKEN, EARLIER_ENTRIES, EMAIL, EMAIL_ISSUER,
    FULCIO_DEPLOYMENT_ENVIRONMENT, FULCIO_TOKEN_SUBJECT, GITHUB_ENVIRONMENT, GITHUB_ISSUER,
    GITHUB_SUB, ServiceUrls, SigstoreServices, TrustFiles,
};
use crate::support::{
    assert_input_error, assert_policy_failure, assert_success, assert_success_printing, exelock_in,
    printed, run_ok, transcript,
};

fn tiny() -> String {
    format!("oci:{}", root().join("testdata/images/tiny").display())
}

fn tiny_digest() -> String {
    Layout::image("tiny").manifest_digest()
}

/// `attest oci:tiny --keyless --signing-config … --bundle bundle.json -q` plus `extra`.
fn attest(dir: &Path, signing_config: &Path, extra: &[&str]) -> Command {
    let mut command = exelock_in(dir);
    command.args([
        "attest",
        &tiny(),
        "--keyless",
        "--signing-config",
        signing_config.to_str().unwrap(),
        "--bundle",
        "bundle.json",
        "-q",
    ]);
    command.args(extra);
    command
}

/// The local services started, a test directory, and the trust files they wrote into it.
fn services_and_trust_files() -> (SigstoreServices, tempfile::TempDir, TrustFiles) {
    let services = SigstoreServices::start();
    let dir = tempfile::tempdir().unwrap();
    let trust = services.write_trust_files(dir.path());
    (services, dir, trust)
}

/// What the services recorded: the entries in the Rekor v1 and v2 logs, and the timestamps the
/// TSA issued.
fn recorded(services: &SigstoreServices) -> (usize, usize, usize) {
    (
        services.log_size(1),
        services.log_size(2),
        services.timestamps_issued(),
    )
}

fn read_bundle(dir: &Path) -> Value {
    serde_json::from_slice(&fs_err::read(dir.join("bundle.json")).unwrap()).unwrap()
}

fn base64_field(value: &Value) -> Vec<u8> {
    STANDARD.decode(value.as_str().unwrap()).unwrap()
}

/// The signing certificate's extension values by OID.
fn certificate_extensions(bundle: &Value) -> Vec<(String, Vec<u8>)> {
    let der = base64_field(&bundle["verificationMaterial"]["certificate"]["rawBytes"]);
    let certificate = x509_cert_v02::Certificate::from_der(&der).unwrap();
    certificate
        .tbs_certificate
        .extensions
        .unwrap_or_default()
        .into_iter()
        .map(|extension| {
            (
                extension.extn_id.to_string(),
                extension.extn_value.as_bytes().to_vec(),
            )
        })
        .collect()
}

fn utf8_extension(extensions: &[(String, Vec<u8>)], id: &str) -> Option<String> {
    extensions
        .iter()
        .find(|(oid, _)| oid == id)
        .map(|(_, value)| {
            der::asn1::Utf8StringRef::from_der(value)
                .unwrap()
                .as_str()
                .to_owned()
        })
}

/// Checks the bundle with sigstore-verify against the trusted root the services wrote, for the
/// image digest and this identity and issuer, and returns how many verified times it used.
fn sigstore_verify(
    bundle: &Value,
    trust: &TrustFiles,
    identity: &str,
    issuer: &str,
) -> Result<usize, sigstore_verify::Error> {
    let trusted_root = sigstore_verify::trust_root::TrustedRoot::from_json(
        &fs_err::read_to_string(&trust.trusted_root).unwrap(),
    )
    .unwrap();
    let verifier = Verifier::new(&trusted_root).unwrap();
    let bundle = Bundle::from_json(&bundle.to_string()).unwrap();
    let digest = Sha256Hash::from_hex(tiny_digest().trim_start_matches("sha256:")).unwrap();
    let result = verifier.verify(digest, &bundle, &VerificationPolicy::new(identity, issuer))?;
    assert!(result.certificate_verified() && result.sct_verified() && result.tlog_verified());
    Ok(result.verified_timestamps().len())
}

/// `exelock verify --bundle bundle.json` with keyless trust and the services' trusted root.
fn exelock_verify(dir: &Path, trust: &TrustFiles, identity: &str, issuer: &str) -> Output {
    exelock_verify_bundle(dir, "bundle.json", &trust.trusted_root, identity, issuer)
}

/// `exelock verify --bundle BUNDLE` of tiny with keyless trust in `identity` and `issuer` and
/// the trusted root `trusted_root`.
fn exelock_verify_bundle(
    dir: &Path,
    bundle: &str,
    trusted_root: &Path,
    identity: &str,
    issuer: &str,
) -> Output {
    exelock_in(dir)
        .args([
            "verify",
            "--bundle",
            bundle,
            "--image-digest",
            &tiny_digest(),
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            issuer,
            "--trusted-root",
            trusted_root.to_str().unwrap(),
        ])
        .output()
        .unwrap()
}

/// The bundle `attest` wrote into `dir`, checked for what every keyless bundle carries
/// ([`assert_common_shape`]) and for its one log entry being of `kind` `version`.
fn read_bundle_logged_as(dir: &Path, kind: &str, version: &str) -> Value {
    let bundle = read_bundle(dir);
    assert_common_shape(&bundle);
    assert_eq!(
        the_log_entry(&bundle)["kindVersion"],
        serde_json::json!({"kind": kind, "version": version})
    );
    bundle
}

/// The bundle's one transparency-log entry.
fn the_log_entry(bundle: &Value) -> &Value {
    let [entry] = bundle["verificationMaterial"]["tlogEntries"]
        .as_array()
        .unwrap()
        .as_slice()
    else {
        panic!("one log entry: {bundle:#}")
    };
    entry
}

/// What every keyless bundle exelock writes carries: exelock's statement for the image as the
/// signed payload, the Fulcio leaf, and an RFC 3161 timestamp from the TSA.
fn assert_common_shape(bundle: &Value) {
    assert_eq!(
        bundle["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    let envelope = &bundle["dsseEnvelope"];
    assert_eq!(envelope["payloadType"], "application/vnd.in-toto+json");
    let statement: Value = serde_json::from_slice(&base64_field(&envelope["payload"])).unwrap();
    assert_eq!(
        statement["predicateType"],
        "https://exelock.dev/manifest/v2"
    );
    assert_eq!(
        format!(
            "sha256:{}",
            statement["subject"][0]["digest"]["sha256"]
                .as_str()
                .unwrap()
        ),
        tiny_digest()
    );
    assert_eq!(
        statement["predicate"]["image"]["manifestDigest"],
        tiny_digest()
    );
    let timestamps =
        &bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"];
    assert_eq!(timestamps.as_array().map(Vec::len), Some(1), "{bundle:#}");
    assert!(!base64_field(&timestamps[0]["signedTimestamp"]).is_empty());
}

#[test]
fn keyless_with_rekor_v1_and_a_github_token() {
    let (services, dir, trust) = services_and_trust_files();
    run_ok(&mut attest(
        dir.path(),
        &trust.signing_config,
        &["--identity-token", &services.github_token()],
    ));
    assert_eq!(
        recorded(&services),
        (EARLIER_ENTRIES + 1, EARLIER_ENTRIES, 1),
        "one entry in the v1 log, one timestamp"
    );

    let bundle = read_bundle_logged_as(dir.path(), "dsse", "0.0.1");
    let entry = the_log_entry(&bundle);
    assert!(entry["integratedTime"].as_str().is_some(), "{entry:#}");
    assert!(!base64_field(&entry["inclusionPromise"]["signedEntryTimestamp"]).is_empty());
    // The entry is the newest leaf of the log's tree; its proof and checkpoint are for that tree.
    let proof = &entry["inclusionProof"];
    let (index, size) = (
        EARLIER_ENTRIES.to_string(),
        (EARLIER_ENTRIES + 1).to_string(),
    );
    assert_eq!(
        (proof["logIndex"].as_str(), proof["treeSize"].as_str()),
        (Some(index.as_str()), Some(size.as_str()))
    );
    assert!(!proof["hashes"].as_array().unwrap().is_empty(), "{proof:#}");
    let checkpoint = proof["checkpoint"]["envelope"].as_str().unwrap();
    assert!(checkpoint.contains(&format!("\n{size}\n")), "{checkpoint}");

    // A GitHub token has no email: Fulcio certified the workflow URI, and the newer extensions
    // (deployment environment, token subject) ride along.
    let extensions = certificate_extensions(&bundle);
    assert_eq!(
        utf8_extension(&extensions, FULCIO_DEPLOYMENT_ENVIRONMENT).as_deref(),
        Some(GITHUB_ENVIRONMENT)
    );
    assert_eq!(
        utf8_extension(&extensions, FULCIO_TOKEN_SUBJECT).as_deref(),
        Some(GITHUB_SUB)
    );

    // The TSA time and the SET-backed integrated time both vouch for the certificate.
    let identity = sigstore_services::github_identity();
    assert_eq!(
        sigstore_verify(&bundle, &trust, &identity, GITHUB_ISSUER).unwrap(),
        2
    );
    let wrong = sigstore_verify(&bundle, &trust, &identity, EMAIL_ISSUER).unwrap_err();
    assert!(wrong.to_string().contains("issuer"), "{wrong}");

    let verified = exelock_verify(dir.path(), &trust, &identity, GITHUB_ISSUER);
    assert_success_printing(&verified, &format!("signed by {identity}"));
    let refused = exelock_verify(dir.path(), &trust, EMAIL, GITHUB_ISSUER);
    assert_policy_failure(&refused, "rejected (identity)");
}

#[test]
fn keyless_with_rekor_v2_and_an_email_token() {
    let (services, dir, trust) = services_and_trust_files();
    run_ok(
        attest(dir.path(), &trust.signing_config, &["--rekor-version", "2"])
            .env("SIGSTORE_ID_TOKEN", services.email_token()),
    );
    assert_eq!(
        recorded(&services),
        (EARLIER_ENTRIES, EARLIER_ENTRIES + 1, 1),
        "one entry in the v2 log, one timestamp"
    );

    // Rekor v2 logs the DSSE signature as hashedrekord 0.0.2, with no SET and no integrated
    // time: the TSA timestamp alone dates the signature.
    let bundle = read_bundle_logged_as(dir.path(), "hashedrekord", "0.0.2");
    let entry = the_log_entry(&bundle);
    assert!(entry.get("inclusionPromise").is_none(), "{entry:#}");
    assert!(entry.get("integratedTime").is_none(), "{entry:#}");
    let proof = &entry["inclusionProof"];
    let size = (EARLIER_ENTRIES + 1).to_string();
    assert_eq!(proof["treeSize"].as_str(), Some(size.as_str()));
    assert!(!proof["hashes"].as_array().unwrap().is_empty());
    let checkpoint = proof["checkpoint"]["envelope"].as_str().unwrap();
    assert!(
        checkpoint.starts_with(&format!("log2025-test.rekor.exelock.test\n{size}\n")),
        "{checkpoint}"
    );

    let extensions = certificate_extensions(&bundle);
    assert_eq!(
        utf8_extension(&extensions, FULCIO_TOKEN_SUBJECT).as_deref(),
        Some("8c1f6b4e")
    );
    assert_eq!(
        sigstore_verify(&bundle, &trust, EMAIL, EMAIL_ISSUER).unwrap(),
        1
    );

    let verified = exelock_verify(dir.path(), &trust, EMAIL, EMAIL_ISSUER);
    assert_success(&verified);
    let refused = exelock_verify(dir.path(), &trust, EMAIL, GITHUB_ISSUER);
    assert_policy_failure(&refused, "rejected (identity)");
}

/// A bundle of the local services, edited one way, must be refused by `exelock verify` for
/// that reason: the forgeries the Sigstore checks exist for, on bundles exelock itself signed.
fn assert_forgery_refused(
    dir: &Path,
    trust: &TrustFiles,
    identity: &str,
    issuer: &str,
    name: &str,
    category: &str,
    edit: impl FnOnce(&mut Value),
) {
    let mut bundle = read_bundle(dir);
    edit(&mut bundle);
    fs_err::write(dir.join("forged.json"), bundle.to_string()).unwrap();
    let output = exelock_verify_bundle(dir, "forged.json", &trust.trusted_root, identity, issuer);
    // One check per forgery, named: the rows share the caller's line.
    assert_eq!(
        output.status.code(),
        Some(1),
        "{name}: {}",
        transcript(&output)
    );
    assert!(
        printed(&output).contains(&format!("rejected ({category})")),
        "{name}: expected a {category} failure: {}",
        transcript(&output)
    );
}

/// Flips one bit in the middle of the bundle's base64 field at `pointer`.
fn flip_base64(bundle: &mut Value, pointer: &str) {
    let value = bundle.pointer_mut(pointer).unwrap();
    let middle = base64_field(value).len() / 2;
    flip_base64_at(value, middle);
}

/// Flips one bit of byte `at` of a base64 field.
fn flip_base64_at(value: &mut Value, at: usize) {
    let mut bytes = base64_field(value);
    bytes[at] ^= 0x01;
    *value = Value::String(STANDARD.encode(bytes));
}

#[test]
fn forged_keyless_bundles_are_refused_for_the_right_reason() {
    let (services, dir, trust) = services_and_trust_files();
    run_ok(
        attest(dir.path(), &trust.signing_config, &[])
            .env("SIGSTORE_ID_TOKEN", services.email_token()),
    );
    let forge = |name, category, edit: &dyn Fn(&mut Value)| {
        assert_forgery_refused(
            dir.path(),
            &trust,
            EMAIL,
            EMAIL_ISSUER,
            name,
            category,
            |b| {
                edit(b);
            },
        );
    };
    let entry = "/verificationMaterial/tlogEntries/0";
    forge("tampered SET", "transparency log", &|bundle| {
        flip_base64(
            bundle,
            &format!("{entry}/inclusionPromise/signedEntryTimestamp"),
        );
    });
    forge("moved integrated time", "transparency log", &|bundle| {
        let time = bundle
            .pointer_mut(&format!("{entry}/integratedTime"))
            .unwrap();
        let moved = time.as_str().unwrap().parse::<i64>().unwrap() - 1;
        *time = Value::String(moved.to_string());
    });
    forge("tampered inclusion proof", "transparency log", &|bundle| {
        flip_base64(bundle, &format!("{entry}/inclusionProof/rootHash"));
    });
    // The last bytes of a timestamp token are its signer's signature (the middle holds the
    // TSA certificate it embeds, an unauthenticated hint the trusted root overrides).
    forge("tampered timestamp signature", "timestamp", &|bundle| {
        let token = bundle
            .pointer_mut(
                "/verificationMaterial/timestampVerificationData/rfc3161Timestamps/0/signedTimestamp",
            )
            .unwrap();
        let last = base64_field(token).len() - 2;
        flip_base64_at(token, last);
    });
    // A changed signature no longer is what the TSA timestamped: the first evidence to disagree.
    forge("tampered signature", "timestamp", &|bundle| {
        flip_base64(bundle, "/dsseEnvelope/signatures/0/sig");
    });
    forge("tampered certificate", "certificate", &|bundle| {
        flip_base64(bundle, "/verificationMaterial/certificate/rawBytes");
    });

    // The same bundle against a trusted root without the services' CA: untrusted signer.
    let mut root: Value =
        serde_json::from_slice(&fs_err::read(&trust.trusted_root).unwrap()).unwrap();
    root["certificateAuthorities"] = Value::Array(Vec::new());
    let other_root = dir.path().join("other_root.json");
    fs_err::write(&other_root, root.to_string()).unwrap();
    let output = exelock_verify_bundle(dir.path(), "bundle.json", &other_root, EMAIL, EMAIL_ISSUER);
    assert_policy_failure(&output, "rejected (certificate)");
}

#[test]
fn keyless_in_github_actions_fetches_the_token() {
    let (services, dir, trust) = services_and_trust_files();
    // `attest` as in a GitHub Actions job, which asks the OIDC endpoint with `request_token`.
    let attest_in_actions = |request_token: &str| {
        attest(dir.path(), &trust.signing_config, &[])
            .env(
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                services.github_actions_request_url(),
            )
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", request_token)
            .output()
            .unwrap()
    };
    assert_success(&attest_in_actions(ACTIONS_REQUEST_TOKEN));
    let bundle = read_bundle(dir.path());
    sigstore_verify(
        &bundle,
        &trust,
        &sigstore_services::github_identity(),
        GITHUB_ISSUER,
    )
    .unwrap();

    // A job without `permissions: id-token: write` gets no token: nothing is signed.
    let output = attest_in_actions("another-job");
    let stderr = assert_input_error(&output, "answered HTTP 401");
    assert!(stderr.contains("id-token: write"), "{stderr}");
    assert_eq!(services.log_size(1), EARLIER_ENTRIES + 1);
}

#[test]
fn a_token_fulcio_refuses_is_exit_2_naming_fulcio() {
    let (services, dir, trust) = services_and_trust_files();
    let forged = services.forged_token();
    let output = attest(
        dir.path(),
        &trust.signing_config,
        &["--identity-token", &forged],
    )
    .output()
    .unwrap();
    let message = assert_input_error(
        &output,
        &format!(
            "Fulcio at {} did not issue a signing certificate",
            services.urls().fulcio
        ),
    );
    assert!(
        message.contains("HTTP 401") && message.contains("does not verify"),
        "{message}"
    );
    assert!(!printed(&output).contains(&forged), "{message}");
    assert!(!dir.path().join("bundle.json").exists());
    assert_eq!(
        (services.log_size(1), services.timestamps_issued()),
        (EARLIER_ENTRIES, 0)
    );
}

#[test]
fn an_unreachable_rekor_or_tsa_is_a_clear_error() {
    let services = SigstoreServices::start();
    let dir = tempfile::tempdir().unwrap();
    let token = services.github_token();
    let cases = [
        (
            ServiceUrls {
                rekor_v1: sigstore_services::unreachable_url(""),
                ..services.urls()
            },
            "Rekor (API v1) at http://127.0.0.1:",
        ),
        (
            ServiceUrls {
                tsa: sigstore_services::unreachable_url("/api/v1/timestamp"),
                ..services.urls()
            },
            "the timestamp authority at http://127.0.0.1:",
        ),
    ];
    for (urls, expected) in cases {
        let config = dir.path().join("broken_signing_config.json");
        services.write_signing_config(&config, &urls);
        let output = attest(dir.path(), &config, &["--identity-token", &token])
            .output()
            .unwrap();
        assert_input_error(&output, expected);
        assert!(!dir.path().join("bundle.json").exists());
    }
}

#[test]
fn rekor_v2_needs_a_signing_config_that_lists_one() {
    // The built-in public-good config lists no Rekor v2 log; nothing is contacted.
    let dir = tempfile::tempdir().unwrap();
    let output = exelock_in(dir.path())
        .args([
            "attest",
            &tiny(),
            "--keyless",
            "--identity-token",
            "not-even-read",
            "--rekor-version",
            "2",
            "--bundle",
            "bundle.json",
        ])
        .output()
        .unwrap();
    let stderr = assert_input_error(
        &output,
        "public-good signing config (pass --signing-config)",
    );
    assert!(stderr.contains("no eligible Rekor V2 endpoint"), "{stderr}");

    for (bad, expected) in [
        (
            &["--keyless", "--rekor-version", "3"][..],
            "unknown Rekor API version (got \"3\", expected 1 or 2)",
        ),
        (&["--signing-config", "x.json"], "--keyless"),
    ] {
        let output = exelock_in(dir.path())
            .args(["attest", &tiny(), "--bundle", "bundle.json"])
            .args(bad)
            .output()
            .unwrap();
        assert_input_error(&output, expected);
    }
}
