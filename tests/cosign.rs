//! Key-based attestations both ways with the real cosign, releases 3.1 and 2.5: cosign's bundles
//! verify in exelock, exelock's bundles verify in `cosign verify-blob-attestation`, and its
//! pushed attestations in `cosign verify-attestation` (the OCI 1.1 referrer for cosign 3.1, the
//! legacy `.att` image for both).
//!
//! The binaries are Debian's, which `scripts/test.sh` unpacks into `.tools/cosign-3.1/` and
//! `.tools/cosign-2.5/`; `EXELOCK_TEST_COSIGN_3` and `EXELOCK_TEST_COSIGN_2` name others. Under
//! `CI=true` a missing cosign fails the test; elsewhere the test says so and passes.
//!
//! Everything is offline: no transparency log (`--tlog-upload=false`,
//! `--insecure-ignore-tlog=true`), no signing config or TUF (`--use-signing-config=false`, an
//! empty `--trusted-root` where cosign 2.5 would otherwise fetch one), and cosign runs with a
//! cleared environment whose HOME, TUF_ROOT and DOCKER_CONFIG are the test's temp dir.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::support::fixtures::{Layout, root};
use crate::support::signing::{
    attest_and_push, attest_to_bundle, exelock_with_password, generate_key_pair_named,
};
use crate::support::{
    Mode, Registry, assert_policy_failure, assert_success, assert_success_printing, printed,
    run_ok, transcript,
};

/// The password of every key the tests make, exelock's and cosign's.
const PASSWORD: &str = "correct horse";
const PREDICATE: &str = "https://exelock.dev/manifest/v2";
/// A trusted root that trusts nothing: key-based verification needs none, and given one, cosign
/// 2.5 does not fetch the public-good root through TUF.
const EMPTY_TRUSTED_ROOT: &str =
    r#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"#;

#[derive(Clone, Copy, Debug)]
enum Release {
    V3_1,
    V2_5,
}

impl Release {
    const fn name(self) -> &'static str {
        match self {
            Self::V3_1 => "cosign 3.1",
            Self::V2_5 => "cosign 2.5",
        }
    }

    const fn tools_dir(self) -> &'static str {
        match self {
            Self::V3_1 => ".tools/cosign-3.1",
            Self::V2_5 => ".tools/cosign-2.5",
        }
    }

    const fn override_variable(self) -> &'static str {
        match self {
            Self::V3_1 => "EXELOCK_TEST_COSIGN_3",
            Self::V2_5 => "EXELOCK_TEST_COSIGN_2",
        }
    }
}

/// Each release whose cosign is installed (see [`cosign_binary`]), with the binary and a
/// workspace whose keys it made ([`Workspace::with_keys`]).
fn each_release_with_keys() -> impl Iterator<Item = (Release, PathBuf, Workspace)> {
    [Release::V3_1, Release::V2_5]
        .into_iter()
        .filter_map(|release| {
            let cosign = cosign_binary(release)?;
            let workspace = Workspace::with_keys(&cosign);
            Some((release, cosign, workspace))
        })
}

/// The cosign binary of `release`, or `None` (after saying so) outside CI when it is missing.
fn cosign_binary(release: Release) -> Option<PathBuf> {
    let path = std::env::var_os(release.override_variable()).map_or_else(
        || root().join(release.tools_dir()).join("usr/bin/cosign"),
        PathBuf::from,
    );
    if path.is_file() {
        return Some(path);
    }
    let message = format!(
        "{} is missing at {}: run scripts/test.sh, which installs it, or set {}",
        release.name(),
        path.display(),
        release.override_variable()
    );
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
    eprintln!("skipped: {message}");
    None
}

/// A temp dir holding the keys and documents of one test, and the cosign binaries it uses.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    /// A workspace with a key pair made by `cosign generate-key-pair` (cosign.key, cosign.pub)
    /// and another made by exelock (other.key, other.pub).
    fn with_keys(cosign: &Path) -> Self {
        let workspace = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        assert_success(
            &workspace
                .cosign(cosign)
                .arg("generate-key-pair")
                .output()
                .unwrap(),
        );
        generate_key_pair_named(workspace.dir.path(), PASSWORD, "other");
        fs_err::write(
            workspace.path("empty-trusted-root.json"),
            EMPTY_TRUSTED_ROOT,
        )
        .unwrap();
        workspace
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// cosign with nothing of the caller's environment.
    fn cosign(&self, binary: &Path) -> Command {
        let mut command = Command::new(binary);
        command
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.dir.path())
            .env("TUF_ROOT", self.path("tuf"))
            .env("DOCKER_CONFIG", self.dir.path())
            .env("COSIGN_PASSWORD", PASSWORD);
        command
    }

    /// exelock in the workspace, with the password of its keys.
    fn exelock(&self) -> assert_cmd::Command {
        exelock_with_password(self.dir.path(), PASSWORD)
    }

    /// `exelock verify --bundle NAME --image-digest DIGEST --key KEY`.
    fn exelock_verify(&self, bundle: &str, digest: &str, key: &str) -> Output {
        self.exelock()
            .args(["verify", "--bundle", bundle, "--image-digest", digest])
            .args(["--key", key])
            .output()
            .unwrap()
    }

    /// `exelock attest oci:testdata/images/tiny --key cosign.key --bundle NAME`.
    fn exelock_attest_tiny(&self, bundle: &str) {
        attest_to_bundle(
            self.dir.path(),
            PASSWORD,
            &tiny_layout(),
            "cosign.key",
            bundle,
        );
    }

    fn json(&self, name: &str) -> Value {
        serde_json::from_slice(&fs_err::read(self.path(name)).unwrap()).unwrap()
    }
}

/// Asserts that a run of cosign `release` ended with exit code `code` and printed `message`
/// (cosign says some things on stdout, some on stderr).
#[track_caller]
fn assert_cosign_exit(release: Release, output: &Output, code: i32, message: &str) {
    assert!(
        output.status.code() == Some(code) && printed(output).contains(message),
        "{}: expected exit code {code} and {message:?}, got:\n{}",
        release.name(),
        transcript(output)
    );
}

fn tiny_layout() -> String {
    format!("oci:{}", root().join("testdata/images/tiny").display())
}

/// The tiny fixture's manifest digest, `sha256:<hex>`.
fn tiny_digest() -> String {
    Layout::image("tiny").manifest_digest()
}

/// The tiny fixture's manifest blob: the file whose SHA-256 is the image digest, which is how
/// cosign 2.5 (no `--digest`) is told the subject.
fn tiny_manifest_blob() -> PathBuf {
    Layout::image("tiny").blob_path(&tiny_digest())
}

/// An in-toto Statement v1 for the tiny fixture whose predicate is exelock's scan of it.
fn tiny_statement(workspace: &Workspace) -> Value {
    run_ok(
        workspace
            .exelock()
            .args(["scan", &tiny_layout(), "-q", "-o", "manifest.json"]),
    );
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "fx/tiny", "digest": {"sha256": tiny_digest().trim_start_matches("sha256:")}}],
        "predicateType": PREDICATE,
        "predicate": workspace.json("manifest.json"),
    })
}

#[test]
fn a_bundle_cosign_attests_verifies_in_exelock() {
    let Some(cosign) = cosign_binary(Release::V3_1) else {
        return;
    };
    let workspace = Workspace::with_keys(&cosign);
    let statement = tiny_statement(&workspace);
    fs_err::write(
        workspace.path("statement.json"),
        serde_json::to_vec(&statement).unwrap(),
    )
    .unwrap();
    assert_success(
        &workspace
            .cosign(&cosign)
            .args(["attest-blob", "--key", "cosign.key", "--statement"])
            .args(["statement.json", "--bundle", "cosign.bundle.json"])
            .args(["--use-signing-config=false", "--tlog-upload=false", "--yes"])
            .output()
            .unwrap(),
    );
    let digest = tiny_digest();
    let verified = workspace.exelock_verify("cosign.bundle.json", &digest, "cosign.pub");
    assert_success_printing(&verified, &format!("verified {digest}: signed by key"));
    let wrong_key = workspace.exelock_verify("cosign.bundle.json", &digest, "other.pub");
    assert_policy_failure(&wrong_key, "NOT VERIFIED");

    // exelock names a key the way cosign does: an empty keyid, the same bundle hint.
    workspace.exelock_attest_tiny("exelock.bundle.json");
    let cosign_bundle = workspace.json("cosign.bundle.json");
    let exelock_bundle = workspace.json("exelock.bundle.json");
    let hint = |bundle: &Value| bundle["verificationMaterial"]["publicKey"]["hint"].clone();
    assert!(hint(&cosign_bundle).is_string(), "{cosign_bundle}");
    assert_eq!(hint(&exelock_bundle), hint(&cosign_bundle));
    let keyid = |bundle: &Value| bundle["dsseEnvelope"]["signatures"][0]["keyid"].clone();
    assert_eq!(keyid(&cosign_bundle), Value::Null);
    assert_eq!(keyid(&exelock_bundle), "");
}

/// What `cosign attest-blob --predicate FILE --type URI` makes: an in-toto Statement v0.1 (cosign
/// 3.1 and 2.5 both write v0.1 there; only `--statement`, which 2.5 lacks, takes a v1 statement)
/// of any predicate. exelock verifies it with `--predicate-type any`.
#[test]
fn a_cosign_bundle_of_another_predicate_verifies_with_any_predicate_type() {
    for (release, cosign, workspace) in each_release_with_keys() {
        let predicate = json!({
            "buildDefinition": {"buildType": "https://example.com/build/v1", "externalParameters": {}},
            "runDetails": {"builder": {"id": "https://example.com/builder"}},
        });
        fs_err::write(
            workspace.path("provenance.json"),
            serde_json::to_vec(&predicate).unwrap(),
        )
        .unwrap();
        let digest = tiny_digest();
        let mut attest = workspace.cosign(&cosign);
        attest
            .args(["attest-blob", "--key", "cosign.key", "--predicate"])
            .args([
                "provenance.json",
                "--type",
                "https://slsa.dev/provenance/v1",
            ])
            .args(["--hash", digest.trim_start_matches("sha256:")])
            .args(["--bundle", "cosign.bundle.json", "--new-bundle-format"])
            .args(["--tlog-upload=false", "--yes", "fx/tiny"]);
        if let Release::V3_1 = release {
            attest.arg("--use-signing-config=false");
        }
        assert_success(&attest.output().unwrap());
        let verify = |key: &str| {
            workspace
                .exelock()
                .args(["verify", "--bundle", "cosign.bundle.json"])
                .args(["--image-digest", &digest, "--key", key])
                .args(["--predicate-type", "any"])
                .output()
                .unwrap()
        };
        let verified = verify("cosign.pub");
        assert_eq!(
            verified.status.code(),
            Some(0),
            "{}: {}",
            release.name(),
            printed(&verified)
        );
        assert_policy_failure(&verify("other.pub"), "NOT VERIFIED");
    }
}

/// `cosign verify-blob-attestation` of a bundle file, the subject given as the image digest
/// (cosign 3.1's `--digest`) or as the manifest blob whose SHA-256 it is (cosign 2.5).
fn cosign_verify_blob_attestation(
    workspace: &Workspace,
    cosign: &Path,
    release: Release,
    bundle: &str,
) -> Output {
    let mut command = workspace.cosign(cosign);
    command
        .args(["verify-blob-attestation", "--bundle", bundle])
        .args(["--key", "cosign.pub", "--type", PREDICATE])
        .arg("--insecure-ignore-tlog=true");
    match release {
        Release::V3_1 => command
            .args(["--digest", tiny_digest().trim_start_matches("sha256:")])
            .args(["--digestAlg", "sha256"]),
        Release::V2_5 => command
            .args(["--trusted-root", "empty-trusted-root.json"])
            .arg(tiny_manifest_blob()),
    };
    command.output().unwrap()
}

#[test]
fn an_exelock_bundle_verifies_in_cosign() {
    for (release, cosign, workspace) in each_release_with_keys() {
        workspace.exelock_attest_tiny("exelock.bundle.json");
        let verified =
            cosign_verify_blob_attestation(&workspace, &cosign, release, "exelock.bundle.json");
        assert_cosign_exit(release, &verified, 0, "Verified OK");

        // A statement changed after signing: cosign refuses it.
        let mut tampered = workspace.json("exelock.bundle.json");
        let payload = STANDARD
            .decode(tampered["dsseEnvelope"]["payload"].as_str().unwrap())
            .unwrap();
        let edited = String::from_utf8(payload)
            .unwrap()
            .replacen("\"/bin/", "\"/opt/", 1);
        tampered["dsseEnvelope"]["payload"] = STANDARD.encode(edited).into();
        fs_err::write(
            workspace.path("tampered.bundle.json"),
            serde_json::to_vec(&tampered).unwrap(),
        )
        .unwrap();
        let refused =
            cosign_verify_blob_attestation(&workspace, &cosign, release, "tampered.bundle.json");
        assert_cosign_exit(
            release,
            &refused,
            1,
            "accepted signatures do not match threshold",
        );
    }
}

/// Bundles earlier exelock releases wrote name the key by its hex key id in the signature's
/// `keyid` and the hint. exelock still verifies them; cosign 3.1 never did, which is why exelock
/// now leaves `keyid` empty.
#[test]
fn an_older_exelock_bundle_with_a_key_id_still_verifies() {
    let bundle = root().join("testdata/attest/exelock-keyid.bundle.json");
    let key = root().join("testdata/attest/keys/openssl_p256.pub");
    let digest = tiny_digest();
    let document: Value = serde_json::from_slice(&fs_err::read(&bundle).unwrap()).unwrap();
    let keyid = document["dsseEnvelope"]["signatures"][0]["keyid"].as_str();
    assert_eq!(keyid.map(str::len), Some(64), "{document}");

    let dir = tempfile::tempdir().unwrap();
    let workspace = Workspace { dir };
    let verified =
        workspace.exelock_verify(bundle.to_str().unwrap(), &digest, key.to_str().unwrap());
    assert_success(&verified);

    let Some(cosign) = cosign_binary(Release::V3_1) else {
        return;
    };
    let refused = workspace
        .cosign(&cosign)
        .args(["verify-blob-attestation", "--bundle"])
        .arg(&bundle)
        .arg("--key")
        .arg(&key)
        .args(["--type", PREDICATE, "--insecure-ignore-tlog=true"])
        .args(["--digest", digest.trim_start_matches("sha256:")])
        .args(["--digestAlg", "sha256"])
        .output()
        .unwrap();
    assert_cosign_exit(
        Release::V3_1,
        &refused,
        1,
        "accepted signatures do not match threshold, Found: 0",
    );
}

/// `cosign verify-attestation --key cosign.pub` of `image`, plain HTTP allowed, plus `extra`.
fn cosign_verify_attestation(
    workspace: &Workspace,
    cosign: &Path,
    image: &str,
    key: &str,
    extra: &[&str],
) -> Output {
    workspace
        .cosign(cosign)
        .args(["verify-attestation", "--key", key, "--type", PREDICATE])
        .args(["--insecure-ignore-tlog=true", "--allow-insecure-registry"])
        .arg("--allow-http-registry")
        .args(extra)
        .arg(image)
        .output()
        .unwrap()
}

#[test]
fn pushed_attestations_verify_in_cosign() {
    let (Some(cosign_3), Some(cosign_2)) =
        (cosign_binary(Release::V3_1), cosign_binary(Release::V2_5))
    else {
        return;
    };
    let workspace = Workspace::with_keys(&cosign_3);
    let registry = Registry::start(Mode::Plain);
    registry.push_oci_layout("oci:testdata/images/tiny:latest", "fx/tiny:v1");
    let image = format!("{}/fx/tiny@{}", registry.host(), tiny_digest());
    let attest = |extra: &[&str]| {
        attest_and_push(workspace.dir.path(), PASSWORD, &image, extra);
    };

    // Only the OCI 1.1 referrer (listed by the sha256-<hex> fallback tag: this registry has no
    // referrers API). cosign 3.1 reads it; cosign 2.5 reads only the .att image, so finds none.
    attest(&[]);
    let from_referrer = cosign_verify_attestation(&workspace, &cosign_3, &image, "cosign.pub", &[]);
    assert_success(&from_referrer);
    let wrong_key = cosign_verify_attestation(&workspace, &cosign_3, &image, "other.pub", &[]);
    assert_eq!(wrong_key.status.code(), Some(1), "{}", printed(&wrong_key));
    let none = cosign_verify_attestation(&workspace, &cosign_2, &image, "cosign.pub", &[]);
    assert_cosign_exit(Release::V2_5, &none, 1, "no matching attestations");

    // And the legacy .att image: cosign 2.5 reads it, and so does cosign 3.1 when told to
    // ignore bundles.
    attest(&["--legacy-cosign"]);
    let from_att = cosign_verify_attestation(&workspace, &cosign_2, &image, "cosign.pub", &[]);
    assert_success(&from_att);
    let from_att = cosign_verify_attestation(
        &workspace,
        &cosign_3,
        &image,
        "cosign.pub",
        &["--new-bundle-format=false"],
    );
    assert_success(&from_att);
    let wrong_key = cosign_verify_attestation(&workspace, &cosign_2, &image, "other.pub", &[]);
    assert_eq!(wrong_key.status.code(), Some(1), "{}", printed(&wrong_key));
}
