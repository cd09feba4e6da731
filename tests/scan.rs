//! `exelock scan` against the committed fixture images, in every transport form, and against
//! broken inputs. Expected results in `testdata/expected/` are declared by hand in the fixture
//! script, not produced by exelock.

use serde_json::Value;

use crate::support::fixtures::{Layout, root};
use crate::support::manifest::{self, scan_json};
use crate::support::{assert_input_error, assert_success, exelock_output};

fn expected(name: &str) -> Value {
    let text = fs_err::read_to_string(
        root()
            .join("testdata/expected")
            .join(format!("{name}.json")),
    )
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn forms(image: &str) -> Vec<String> {
    vec![
        format!("oci:testdata/images/{image}"),
        format!("oci:testdata/images/{image}:latest"),
        format!("oci-archive:testdata/images/{image}.oci.tar"),
        format!("docker-archive:testdata/images/{image}.docker.tar"),
        format!("docker-archive:testdata/images/{image}.docker25.tar"),
    ]
}

fn assert_matches_expected(manifest: &Value, expected: &Value, what: &str) {
    for key in ["executables", "links", "hidden"] {
        assert_eq!(
            manifest[key], expected[key],
            "{what}: {key} differ\n got: {:#}\nwant: {:#}",
            manifest[key], expected[key]
        );
    }
    assert_eq!(
        manifest["image"]["platform"], expected["platform"],
        "{what}: platform"
    );
}

#[test]
fn every_form_of_every_fixture_gives_the_declared_executables() {
    for (image, expectation) in [
        ("traps", "traps"),
        ("demo", "demo"),
        ("tiny", "tiny"),
        ("multiarch", "multiarch-amd64"),
    ] {
        let want = expected(expectation);
        let mut seen: Vec<Value> = Vec::new();
        for reference in forms(image) {
            let manifest = scan_json(&[&reference]);
            assert_matches_expected(&manifest, &want, &reference);
            seen.push(manifest["executables"].clone());
        }
        assert!(seen.windows(2).all(|pair| pair[0] == pair[1]));
    }
}

#[test]
fn traps_fixture_exercises_the_layer_semantics() {
    // Spot checks that name the trap each expectation guards, so a failure reads as a cause.
    let manifest = scan_json(&["oci:testdata/images/traps"]);
    let paths = manifest::paths(&manifest, "executables");
    let hidden = manifest::paths(&manifest, "hidden");
    for (path, trap) in [
        (
            "/usr/bin/same-layer",
            "a whiteout hid a file of its own layer",
        ),
        (
            "/opt/app/bin/c",
            "an opaque marker hid a sibling of its own layer",
        ),
        (
            "/opt/app/keep",
            "an opaque marker hid more than its directory",
        ),
        (
            "/etc/init.sh",
            "`.wh..wh..opqX` was taken as an opaque marker",
        ),
        (
            "/bin/busybox",
            "replacing a symlink with a directory touched its target",
        ),
    ] {
        assert!(paths.contains(&path), "{trap}");
    }
    assert!(!paths.contains(&"/usr/bin/deleted-later"));
    assert!(hidden.contains(&"/usr/bin/deleted-later") && hidden.contains(&"/opt/app/bin/a"));
    let find = |path: &str| manifest::executable(&manifest, path);
    assert_eq!(find("/usr/bin/sudo")["mode"], "4755");
    assert_eq!(find("/usr/bin/wall")["mode"], "2755");
    assert_eq!(
        find("/usr/bin/tool-hl")["sha256"],
        find("/usr/bin/tool")["sha256"]
    );
    assert_eq!(
        find("/usr/local/bin/run-hl")["sha256"],
        find("/usr/local/bin/run.sh")["sha256"]
    );
    assert_eq!(find("/usr/lib/libfoo.so.1")["kind"], "elf-shared-object");
    assert_eq!(find("/usr/bin/tool")["kind"], "elf-executable");
    let non_utf8 = manifest["executables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|exe| exe.get("pathBytes").is_some())
        .unwrap();
    assert_eq!(non_utf8["pathBytes"], "L3Vzci9iaW4vY2Fm6Q==");
    let layers = manifest["layers"].as_array().unwrap();
    let media_types: Vec<&str> = layers
        .iter()
        .map(|l| l["mediaType"].as_str().unwrap())
        .collect();
    assert_eq!(
        media_types,
        [
            "application/vnd.oci.image.layer.v1.tar+gzip",
            "application/vnd.oci.image.layer.v1.tar+zstd",
            "application/vnd.oci.image.layer.v1.tar",
            "application/vnd.oci.image.layer.v1.tar+gzip",
        ]
    );
}

#[test]
fn output_is_deterministic_across_runs_and_thread_counts() {
    let first = exelock_output(&[
        "scan",
        "oci:testdata/images/traps",
        "--format",
        "json",
        "-q",
    ]);
    let second = exelock_output(&[
        "scan",
        "oci:testdata/images/traps",
        "--format",
        "json",
        "-q",
        "--threads",
        "1",
    ]);
    assert_success(&first);
    assert_success(&second);
    assert_eq!(first.stdout, second.stdout);
}

#[test]
fn multiarch_defaults_to_amd64_and_says_so() {
    let output = exelock_output(&["scan", "oci:testdata/images/multiarch", "--format", "json"]);
    assert_success(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("scanned the default linux/amd64"),
        "{stderr}"
    );
    let manifest: Value = serde_json::from_slice(&output.stdout).unwrap();
    let index_digest = &Layout::image("multiarch").index()["manifests"][0]["digest"];
    assert_eq!(&manifest["image"]["indexDigest"], index_digest);
    assert_ne!(manifest["image"]["manifestDigest"], Value::Null);
}

#[test]
fn multiarch_platform_choice_and_all_platforms() {
    let arm = scan_json(&["oci:testdata/images/multiarch", "--platform", "linux/arm64"]);
    assert_matches_expected(&arm, &expected("multiarch-arm64"), "arm64");
    let all = scan_json(&["oci:testdata/images/multiarch", "--all-platforms"]);
    let platforms: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["image"]["platform"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64/v8"]);
    let output = exelock_output(&[
        "scan",
        "oci:testdata/images/multiarch",
        "--platform",
        "linux/s390x",
    ]);
    let stderr = assert_input_error(&output, "no image for platform linux/s390x");
    assert!(stderr.contains("linux/arm64/v8"), "{stderr}");
}

#[test]
fn table_view_lists_rows_and_a_summary() {
    let output = exelock_output(&["scan", "oci:testdata/images/demo", "--format", "table"]);
    assert_success(&output);
    let stdout = String::from_utf8(output.stdout).unwrap();
    let want = expected("demo");
    let count = want["executables"].as_array().unwrap().len();
    assert!(stdout.starts_with("PATH"), "{stdout}");
    assert!(
        stdout.contains(&format!("{count} executables (")),
        "{stdout}"
    );
    for exe in want["executables"].as_array().unwrap() {
        assert!(stdout.contains(exe["path"].as_str().unwrap()), "{stdout}");
    }
}

#[test]
fn output_file_is_written_whole() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("manifest.json");
    let output = exelock_output(&[
        "scan",
        "oci:testdata/images/tiny",
        "-q",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_success(&output);
    assert!(output.stdout.is_empty());
    let written: Value = serde_json::from_slice(&fs_err::read(&out).unwrap()).unwrap();
    assert_matches_expected(&written, &expected("tiny"), "tiny -o");
    assert_eq!(written["predicateType"], "https://exelock.dev/manifest/v2");
}

/// Each broken input: exit 2, a message naming what is wrong, no panic, no output file.
fn assert_scan_refused(reference: &str, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.json");
    let output = exelock_output(&["scan", reference, "-q", "-o", out.to_str().unwrap()]);
    let stderr = assert_input_error(&output, needles[0]);
    assert!(!stderr.contains("panicked"), "{reference}: {stderr}");
    assert!(stderr.starts_with("error: "), "{reference}: {stderr}");
    for needle in &needles[1..] {
        assert!(
            stderr.contains(needle),
            "{reference}: missing {needle:?} in {stderr}"
        );
    }
    assert!(
        !out.exists(),
        "{reference}: a manifest was written despite the error"
    );
}

fn bad_layer_digest(name: &str) -> String {
    Layout::bad(name).layer_digests().remove(0)
}

#[test]
fn broken_inputs_are_clear_errors() {
    let digest = bad_layer_digest("digest-mismatch");
    assert_scan_refused(
        "oci:testdata/bad/digest-mismatch",
        &[
            &format!("layer {digest} does not match its digest"),
            "its content hashes to sha256:",
        ],
    );
    assert_scan_refused(
        "oci:testdata/bad/diffid-mismatch",
        &["diff_id", "got sha256:", "expected sha256:"],
    );
    assert_scan_refused(
        "oci:testdata/bad/truncated-layer",
        &[&bad_layer_digest("truncated-layer")],
    );
    assert_scan_refused(
        "oci:testdata/bad/corrupt-gzip",
        &[&bad_layer_digest("corrupt-gzip"), "deflate"],
    );
    assert_scan_refused(
        "oci:testdata/bad/dotdot",
        &[
            "usr/../../etc/evil",
            "escapes the root",
            &bad_layer_digest("dotdot"),
        ],
    );
    assert_scan_refused(
        "oci:testdata/bad/missing-blob",
        &["is missing", &bad_layer_digest("missing-blob")],
    );
    assert_scan_refused(
        "oci:testdata/bad/malformed-index",
        &["index.json is not a valid image index"],
    );
    assert_scan_refused(
        "docker-archive:testdata/bad/not-a-tar.docker.tar",
        &["not-a-tar.docker.tar", "not a tar archive"],
    );
    assert_scan_refused("oci:testdata/does-not-exist", &["not an OCI image layout"]);
    assert_scan_refused("Not A Reference!", &["unsupported image reference"]);
    assert_scan_refused(
        "oci:testdata/images/traps:nope",
        &["no image named \"nope\"", "latest"],
    );
}

#[test]
fn usage_errors_exit_2_and_help_teaches() {
    let output = exelock_output(&["scan"]);
    assert_input_error(&output, "no image to scan: name one");
    let output = exelock_output(&["scan", "oci:x", "--platform", "linux"]);
    assert_input_error(&output, "os/arch[/variant]");
    let output = exelock_output(&["scan", "--help"]);
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(
        help.contains("oci-archive:FILE") && help.contains("--all-platforms"),
        "{help}"
    );
}

/// The bytes of `path` in a fixture layer, read with tar and flate2 directly.
pub(crate) fn file_in_layer(image: &str, layer: usize, path: &str) -> Vec<u8> {
    use std::io::Read as _;
    let layout = Layout::image(image);
    let layer_blob = fs_err::File::open(layout.blob_path(&layout.layer_digests()[layer])).unwrap();
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(layer_blob));
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches("./")
            .trim_start_matches('/')
            == path
        {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            return bytes;
        }
    }
    panic!("{path} not in layer {layer} of {image}");
}

#[test]
fn prefix_digests_follow_hardlinks_within_and_below_a_layer() {
    use exelock::catalog::{PrefixMissing, PrefixRequest, prefix_digests};
    use exelock::digest::Sha256Digest;
    use exelock::image::{self, PlatformSelection};
    let source = image::open(
        "oci:testdata/images/traps",
        &image::registry::SourceSettings::new(),
    )
    .unwrap();
    let resolved = source
        .resolve(&PlatformSelection::Default)
        .unwrap()
        .images
        .remove(0);
    let request = |path: &str, layer: usize, length: u64| PrefixRequest {
        path: path.to_owned(),
        layer,
        length,
    };
    let run_sh = file_in_layer("traps", 0, "usr/local/bin/run.sh");
    let manifest = scan_json(&["oci:testdata/images/traps"]);
    let tool = manifest::executable(&manifest, "/usr/bin/tool");
    let size = tool["size"].as_u64().unwrap();
    let mut requests = Vec::new();
    for (path, layer) in [
        ("/usr/local/bin/run.sh", 0),
        // A hardlink in layer 1 to a file of layer 0.
        ("/usr/local/bin/run-hl", 1),
    ] {
        for prefix in [1u64, 7, run_sh.len() as u64] {
            requests.push(request(path, layer, prefix));
        }
    }
    // A hardlink in layer 1 to a file written earlier in the same layer (zstd: compare with the
    // whole-file digest the manifest records, which the scan tests pin against the fixture).
    requests.push(request("/usr/bin/tool-hl", 1, size));
    requests.push(request("/no/such/file", 3, 4));
    // All of them in one call: one pass over each layer.
    let results = prefix_digests(source.as_ref(), &resolved, &requests).unwrap();
    for wanted in &requests[..6] {
        let digest = results[wanted].as_ref().unwrap();
        assert_eq!(
            digest.prefix,
            Sha256Digest::of(&run_sh[..wanted.length as usize]),
            "{wanted:?}"
        );
        assert_eq!(digest.sha256, Sha256Digest::of(&run_sh), "{wanted:?}");
    }
    let whole = results[&requests[6]].as_ref().unwrap();
    assert_eq!(whole.prefix.hex(), tool["sha256"].as_str().unwrap());
    assert_eq!(whole.prefix, whole.sha256);
    assert!(matches!(
        results[&requests[7]],
        Err(PrefixMissing::NotWrittenByLayer | PrefixMissing::NoSuchLayer { .. })
    ));
}
