//! The Sigstore verification vectors (`testdata/sigstore/`, provenance in its README) through
//! `exelock verify --predicate-type any`: every DSSE / in-toto / Rekor v2 DSSE bundle of
//! sigstore-conformance, twice (the artifact file, then its `sha256:` digest), and the DSSE
//! bundles of cosign, sigstore-go and sigstore-python. Each row says whether the bundle must
//! verify and, when not, the category of the failure exelock reports (`rejected (CATEGORY)`) and
//! a piece of the reason, so a vector that fails for the wrong reason fails the test.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::fixtures::root;
use crate::support::{assert_input_error, assert_policy_failure, exelock, printed};

/// The identity and issuer of the conformance suite's signing workflow.
const CONFORMANCE_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const CONFORMANCE_ISSUER: &str = "https://token.actions.githubusercontent.com";

#[derive(Clone, Copy, Debug)]
enum Expect {
    Pass,
    /// Exit 1 with `rejected (category)` and `detail` in the reason.
    Reject {
        category: &'static str,
        detail: &'static str,
    },
}

use Expect::{Pass, Reject};

/// Every DSSE bundle of the conformance suite's `bundle-verify` vectors.
const CONFORMANCE_DSSE: &[(&str, Expect)] = &[
    ("happy-path-intoto-in-dsse-v3", Pass),
    ("intoto-with-custom-trust-root", Pass),
    ("rekor2-dsse-happy-path", Pass),
    (
        "dsse-invalid-sig_fail",
        Reject {
            category: "signature",
            detail: "the signature does not verify",
        },
    ),
    (
        "dsse-mismatch-envelope_fail",
        Reject {
            category: "transparency log",
            detail: "DSSE payload hash mismatch",
        },
    ),
    (
        "dsse-mismatch-sig_fail",
        Reject {
            category: "transparency log",
            detail: "DSSE signature in bundle does not match",
        },
    ),
    (
        "intoto-expired-certificate_fail",
        Reject {
            category: "certificate",
            detail: "CertNotValidYet",
        },
    ),
    (
        "intoto-log-entry-mismatch_fail",
        Reject {
            category: "transparency log",
            detail: "Rekor signature",
        },
    ),
    (
        "intoto-missing-inclusion-proof_fail",
        Reject {
            category: "transparency log",
            detail: "must have an inclusion proof",
        },
    ),
    (
        "intoto-set-outside-signing-cert-validity_fail",
        Reject {
            category: "certificate",
            detail: "CertExpired",
        },
    ),
    (
        "intoto-tsa-timestamp-outside-cert-validity_fail",
        Reject {
            category: "certificate",
            detail: "CertExpired",
        },
    ),
    (
        "rekor2-dsse-invalid-sig_fail",
        Reject {
            category: "signature",
            detail: "the signature does not verify",
        },
    ),
    (
        "rekor2-dsse-mismatch-envelope_fail",
        Reject {
            category: "transparency log",
            detail: "artifact hash mismatch for hashedrekord entry",
        },
    ),
    (
        "rekor2-dsse-mismatch-sig_fail",
        Reject {
            category: "transparency log",
            detail: "DSSE signature in bundle does not match",
        },
    ),
];

fn vectors() -> PathBuf {
    root().join("testdata/sigstore")
}

fn conformance() -> PathBuf {
    vectors().join("sigstore-conformance/test/assets/bundle-verify")
}

fn verify(args: &[&str]) -> Output {
    exelock()
        .arg("verify")
        .args(["--predicate-type", "any"])
        .args(args)
        .output()
        .unwrap()
}

fn check(name: &str, how: &str, output: &Output, expect: Expect) {
    let text = printed(output);
    match expect {
        Pass => {
            assert_eq!(output.status.code(), Some(0), "{name} ({how}): {text}");
            assert!(text.starts_with("verified "), "{name} ({how}): {text}");
        }
        Reject { category, detail } => {
            assert_eq!(output.status.code(), Some(1), "{name} ({how}): {text}");
            assert!(
                text.contains(&format!("rejected ({category})")),
                "{name} ({how}): expected a {category} failure: {text}"
            );
            assert!(
                text.contains(detail),
                "{name} ({how}): expected {detail:?}: {text}"
            );
        }
    }
}

fn sha256_of(path: &Path) -> String {
    use sha2::Digest as _;
    format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(fs_err::read(path).unwrap()))
    )
}

fn path_arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn every_conformance_dsse_vector_gives_the_expected_result_for_the_right_reason() {
    let base = conformance();
    // The table covers every DSSE bundle of the suite: a new one must be added to it.
    let mut dsse_dirs: Vec<String> = fs_err::read_dir(&base)
        .unwrap()
        .filter_map(|entry| {
            let entry = entry.unwrap();
            let bundle = fs_err::read(entry.path().join("bundle.sigstore.json")).ok()?;
            let json: serde_json::Value = serde_json::from_slice(&bundle).ok()?;
            json.get("dsseEnvelope")
                .map(|_| entry.file_name().into_string().unwrap())
        })
        .collect();
    dsse_dirs.sort();
    let mut listed: Vec<String> = CONFORMANCE_DSSE
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect();
    listed.sort();
    assert_eq!(dsse_dirs, listed);

    for (name, expect) in CONFORMANCE_DSSE {
        let dir = base.join(name);
        assert_eq!(
            name.ends_with("_fail"),
            matches!(expect, Reject { .. }),
            "{name}"
        );
        let artifact = Some(dir.join("artifact"))
            .filter(|path| path.exists())
            .unwrap_or_else(|| base.join("a.txt"));
        let trusted_root = Some(dir.join("trusted_root.json"))
            .filter(|path| path.exists())
            .unwrap_or_else(|| vectors().join("roots/public-good-trusted_root.json"));
        let identity = fs_err::read_to_string(dir.join("identity"))
            .unwrap_or_else(|_| CONFORMANCE_IDENTITY.to_owned());
        let issuer = fs_err::read_to_string(dir.join("issuer"))
            .unwrap_or_else(|_| CONFORMANCE_ISSUER.to_owned());
        let bundle = dir.join("bundle.sigstore.json");
        let trust = [
            "--bundle",
            path_arg(&bundle),
            "--certificate-identity",
            identity.trim(),
            "--certificate-oidc-issuer",
            issuer.trim(),
            "--trusted-root",
            path_arg(&trusted_root),
        ];
        let by_file = verify(&[&trust[..], &["--artifact", path_arg(&artifact)]].concat());
        check(name, "artifact file", &by_file, *expect);
        let digest = sha256_of(&artifact);
        let by_digest = verify(&[&trust[..], &["--subject-digest", &digest]].concat());
        check(name, "artifact digest", &by_digest, *expect);
    }
}

#[test]
fn a_wrong_identity_or_issuer_is_an_identity_failure() {
    let dir = conformance().join("happy-path-intoto-in-dsse-v3");
    let bundle = dir.join("bundle.sigstore.json");
    let artifact = conformance().join("a.txt");
    let root = vectors().join("roots/public-good-trusted_root.json");
    for (identity, issuer, detail) in [
        (
            "https://github.com/someone/else/.github/workflows/x.yml@refs/heads/main",
            CONFORMANCE_ISSUER,
            "belongs to another identity",
        ),
        (
            CONFORMANCE_IDENTITY,
            "https://accounts.google.com",
            "another OIDC issuer",
        ),
    ] {
        let output = verify(&[
            "--bundle",
            path_arg(&bundle),
            "--artifact",
            path_arg(&artifact),
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            issuer,
            "--trusted-root",
            path_arg(&root),
        ]);
        check(
            "happy-path-intoto-in-dsse-v3",
            "wrong signer",
            &output,
            Reject {
                category: "identity",
                detail,
            },
        );
    }
}

#[test]
fn a_bundle_from_another_instance_is_refused_by_the_default_root() {
    // The Rekor v2 happy path was signed on the staging instance: the built-in public-good
    // root does not trust its CA.
    let dir = conformance().join("rekor2-dsse-happy-path");
    let output = verify(&[
        "--bundle",
        path_arg(&dir.join("bundle.sigstore.json")),
        "--artifact",
        path_arg(&conformance().join("a.txt")),
        "--certificate-identity",
        CONFORMANCE_IDENTITY,
        "--certificate-oidc-issuer",
        CONFORMANCE_ISSUER,
    ]);
    assert_policy_failure(&output, "rejected (");
}

/// A row of `testdata/sigstore/extra-vectors.json`.
#[derive(serde::Deserialize)]
struct Extra {
    name: String,
    bundle: String,
    identity: Option<String>,
    issuer: Option<String>,
    key: Option<String>,
    trusted_root: Option<String>,
    digest: String,
    expect: String,
}

/// The other clients' DSSE bundles. Their own suites call several of them with a placeholder
/// digest (`sha256:000…`) and expect success because they do not bind the subject; exelock
/// always does, so a placeholder is a subject failure and the real subject digest (sha512 for
/// the npm provenance bundles) passes. `derived/` rows of the file have no bundles in this copy.
#[test]
fn other_clients_dsse_bundles_verify_with_their_real_subject() {
    let extras: Vec<Extra> =
        serde_json::from_slice(&fs_err::read(vectors().join("extra-vectors.json")).unwrap())
            .unwrap();
    let mut ran = 0;
    for extra in extras {
        let bundle = vectors().join(&extra.bundle);
        if extra.name.starts_with("derived/") {
            assert!(!bundle.exists(), "{}: run it", extra.name);
            continue;
        }
        let bundle_json: serde_json::Value =
            serde_json::from_slice(&fs_err::read(&bundle).unwrap()).unwrap();
        let mut args = vec!["--bundle".to_owned(), path_arg(&bundle).to_owned()];
        if let Some(key) = &extra.key {
            args.extend([
                "--key".to_owned(),
                path_arg(&vectors().join(key)).to_owned(),
            ]);
        } else {
            args.extend([
                "--certificate-identity".to_owned(),
                extra.identity.clone().unwrap(),
                "--certificate-oidc-issuer".to_owned(),
                extra.issuer.clone().unwrap(),
            ]);
        }
        if let Some(root) = &extra.trusted_root {
            args.extend([
                "--trusted-root".to_owned(),
                path_arg(&vectors().join(root)).to_owned(),
            ]);
        }
        let real_subject = real_subject_digest(&bundle_json);
        let placeholder = extra
            .digest
            .trim_start_matches("sha256:")
            .bytes()
            .all(|b| b == b'0');
        let with_digest = |digest: &str| {
            let mut all = args.clone();
            all.extend(["--subject-digest".to_owned(), digest.to_owned()]);
            verify(&all.iter().map(String::as_str).collect::<Vec<_>>())
        };
        let expect = match extra.expect.as_str() {
            "pass" => Pass,
            _ => Reject {
                category: "signature",
                detail: "exactly one signature",
            },
        };
        check(
            &extra.name,
            "real subject",
            &with_digest(&real_subject),
            expect,
        );
        if placeholder && matches!(expect, Pass) {
            check(
                &extra.name,
                "placeholder digest",
                &with_digest(&extra.digest),
                Reject {
                    category: "subject",
                    detail: "no subject has the digest asked for",
                },
            );
        } else {
            check(
                &extra.name,
                "given digest",
                &with_digest(&extra.digest),
                expect,
            );
        }
        ran += 1;
    }
    assert_eq!(ran, 7);
}

/// The first subject digest of a bundle's statement, `alg:hex`.
fn real_subject_digest(bundle: &serde_json::Value) -> String {
    use base64::Engine as _;
    let payload = bundle["dsseEnvelope"]["payload"].as_str().unwrap();
    let statement: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let digest = statement["subject"][0]["digest"].as_object().unwrap();
    let (algorithm, hex) = digest.iter().next().unwrap();
    format!("{algorithm}:{}", hex.as_str().unwrap())
}

#[test]
fn message_signature_bundles_are_not_attestations() {
    let base = conformance();
    let bundle = base.join("happy-path-v0.3/bundle.sigstore.json");
    let output = verify(&[
        "--bundle",
        path_arg(&bundle),
        "--artifact",
        path_arg(&base.join("a.txt")),
        "--certificate-identity",
        CONFORMANCE_IDENTITY,
        "--certificate-oidc-issuer",
        CONFORMANCE_ISSUER,
    ]);
    assert_input_error(&output, "message signature, not an attestation");
}
