//! Images read from a local engine (`podman:`/`docker:` through a real podman service speaking
//! the Docker Engine API) and archives read from stdin: each must scan exactly as the same
//! image read from its files does.

use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

use crate::support::fixtures::root;
use crate::support::podman::{LOADED_FIXTURES, Podman};
use crate::support::{assert_input_error, exelock, exelock_output};

/// Runs `command` with `args`, which must succeed, and parses its JSON output.
fn json_of(command: &mut Command, args: &[&str]) -> Value {
    let output = command.args(args).output().unwrap();
    assert!(
        output.status.success(),
        "exelock {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn scan_json(command: &mut Command, image: &str) -> Value {
    json_of(command, &["scan", "--format", "json", "-q", image])
}

fn scan_file(image: &str) -> Value {
    scan_json(&mut exelock(), image)
}

fn scan_engine(podman: &Podman, image: &str) -> Value {
    scan_json(exelock().env("DOCKER_HOST", podman.docker_host()), image)
}

fn scan_stdin(image: &str, input: Vec<u8>) -> Output {
    exelock()
        .args(["scan", "--format", "json", "-q", image])
        .write_stdin(input)
        .output()
        .unwrap()
}

/// The manifest without what names its source: the reference and the engine's report.
fn without_source(manifest: &Value) -> Value {
    let mut manifest = manifest.clone();
    let image = manifest["image"].as_object_mut().unwrap();
    image.remove("name");
    image.remove("engine");
    manifest
}

fn fixture(name: &str) -> Vec<u8> {
    fs_err::read(root().join("testdata/images").join(name)).unwrap()
}

#[test]
fn a_podman_image_scans_as_its_archive_and_its_layout() {
    let Some(podman) = Podman::shared() else {
        return;
    };
    for name in LOADED_FIXTURES {
        let engine = scan_engine(podman, &format!("podman:exelock-fixture/{name}"));
        let archive = scan_file(&format!("docker-archive:testdata/images/{name}.docker.tar"));
        assert_eq!(
            without_source(&engine),
            without_source(&archive),
            "{name}: the engine's export scans differently from the archive it was loaded from"
        );
        let layout = scan_file(&format!("oci:testdata/images/{name}"));
        for key in ["executables", "links", "hidden", "packages"] {
            assert_eq!(
                engine[key], layout[key],
                "{name}: {key} differ from the layout's"
            );
        }
        assert_eq!(
            engine["image"]["configDigest"],
            layout["image"]["configDigest"]
        );

        // What the manifest says of the engine is what podman itself reports.
        let tagged = format!("localhost/exelock-fixture/{name}:latest");
        let recorded = &engine["image"]["engine"];
        assert_eq!(recorded["name"], "podman");
        assert_eq!(
            recorded["imageId"].as_str().unwrap(),
            format!("sha256:{}", podman.inspect(&tagged, "{{.Id}}"))
        );
        let repo_digests: Vec<String> =
            serde_json::from_str(&podman.inspect(&tagged, "{{json .RepoDigests}}")).unwrap();
        assert!(!repo_digests.is_empty(), "podman reports no repo digest");
        assert_eq!(recorded["repoDigests"], serde_json::json!(repo_digests));
        assert_eq!(
            engine["image"]["name"],
            format!("podman:exelock-fixture/{name}")
        );
    }
}

#[test]
fn tag_digest_and_id_forms_name_the_same_image() {
    let Some(podman) = Podman::shared() else {
        return;
    };
    let tagged = "localhost/exelock-fixture/demo:latest";
    let id = podman.inspect(tagged, "{{.Id}}");
    let repo_digests: Vec<String> =
        serde_json::from_str(&podman.inspect(tagged, "{{json .RepoDigests}}")).unwrap();
    let digest = repo_digests[0].rsplit_once('@').unwrap().1.to_owned();
    let reference = without_source(&scan_engine(podman, "podman:exelock-fixture/demo"));
    for form in [
        "podman:exelock-fixture/demo:latest".to_owned(),
        format!("podman:{tagged}"),
        format!("podman:exelock-fixture/demo@{digest}"),
        format!("podman:{id}"),
        // The docker: prefix speaks the same API; DOCKER_HOST chooses the socket.
        "docker:exelock-fixture/demo:latest".to_owned(),
    ] {
        let manifest = scan_engine(podman, &form);
        assert_eq!(without_source(&manifest), reference, "{form}");
        assert_eq!(manifest["image"]["name"], form.as_str());
        assert_eq!(
            manifest["image"]["engine"]["name"],
            form.split_once(':').unwrap().0,
            "{form}"
        );
    }
}

#[test]
fn an_image_the_engine_lacks_is_an_input_error_naming_it() {
    let Some(podman) = Podman::shared() else {
        return;
    };
    let output = exelock()
        .env("DOCKER_HOST", podman.docker_host())
        .args(["scan", "podman:exelock-fixture/absent:1.0"])
        .output()
        .unwrap();
    let stderr = assert_input_error(&output, "has no such image");
    assert!(
        stderr.contains("podman:exelock-fixture/absent:1.0")
            && stderr.contains(&podman.docker_host()),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

/// `exelock diff --format json A B` against the shared podman service; it must succeed.
fn diff_json(podman: &Podman, a: &str, b: &str) -> Value {
    json_of(
        exelock().env("DOCKER_HOST", podman.docker_host()),
        &["diff", "--format", "json", "-q", a, b],
    )
}

#[test]
fn diff_and_gate_take_engine_references() {
    let Some(podman) = Podman::shared() else {
        return;
    };
    let diff = diff_json(
        podman,
        "podman:exelock-fixture/demo",
        "oci:testdata/images/demo",
    );
    for kind in ["added", "removed", "changed", "moved"] {
        assert_eq!(diff["diff"][kind], serde_json::json!([]), "{kind}");
    }
    let diff = diff_json(
        podman,
        "podman:exelock-fixture/demo",
        "podman:exelock-fixture/tiny",
    );
    assert_ne!(diff["diff"]["added"], serde_json::json!([]));

    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("exelock.toml");
    fs_err::write(&policy, "").unwrap();
    let output = exelock()
        .env("DOCKER_HOST", podman.docker_host())
        .args(["gate", "--format", "json", "-q", "--policy"])
        .arg(&policy)
        .arg("podman:exelock-fixture/demo")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&output.stderr)));
    assert_eq!(report["image"], "podman:exelock-fixture/demo", "{report:#}");
    // The empty policy's default rules judge the engine's copy like any other.
    assert_eq!(output.status.code(), Some(1), "{report:#}");
    assert!(
        report["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|violation| violation["path"] == "/bin/bbsuid"),
        "{report:#}"
    );
}

#[test]
fn a_missing_engine_socket_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("absent.sock");
    let output = exelock()
        .env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .args(["scan", "docker:app"])
        .output()
        .unwrap();
    let stderr = assert_input_error(&output, &socket.display().to_string());
    assert!(stderr.contains("DOCKER_HOST"), "{stderr}");

    // Without DOCKER_HOST, a rootless podman's socket is looked for under XDG_RUNTIME_DIR.
    let output = exelock()
        .env("XDG_RUNTIME_DIR", dir.path())
        .args(["scan", "podman:app"])
        .output()
        .unwrap();
    if !std::path::Path::new("/run/podman/podman.sock").exists() {
        let stderr = assert_input_error(
            &output,
            &dir.path().join("podman/podman.sock").display().to_string(),
        );
        assert!(
            stderr.contains("/run/podman/podman.sock") && stderr.contains("DOCKER_HOST"),
            "{stderr}"
        );
    }

    let output = exelock()
        .env("DOCKER_HOST", "ssh://builder@host")
        .args(["scan", "docker:app"])
        .output()
        .unwrap();
    assert_input_error(&output, "DOCKER_HOST \"ssh://builder@host\"");
}

#[test]
fn unsupported_references_point_at_the_engine_prefixes() {
    let output = exelock_output(&["scan", "Not A Reference"]);
    let stderr = assert_input_error(&output, "docker:NAME / podman:NAME");
    assert!(
        stderr.contains("a bare name is always a registry image"),
        "{stderr}"
    );
    let help = exelock_output(&["scan", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("A bare name is always a registry image") && help.contains("docker:app"),
        "{help}"
    );
}

#[test]
fn archives_from_stdin_scan_as_their_files() {
    for (name, form) in [
        ("demo.docker.tar", "docker-archive"),
        ("traps.docker25.tar", "docker-archive"),
        ("multiarch.docker25.tar", "docker-archive"),
        ("demo.oci.tar", "oci-archive"),
        ("traps.oci.tar", "oci-archive"),
    ] {
        let from_file = scan_file(&format!("{form}:testdata/images/{name}"));
        let output = scan_stdin(&format!("{form}:-"), fixture(name));
        assert!(
            output.status.success(),
            "{form}:- < {name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let from_stdin: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            without_source(&from_stdin),
            without_source(&from_file),
            "{name}"
        );
        assert_eq!(from_stdin["image"]["name"], format!("{form}:-"));
    }
    // A layout reference after the dash, as after a file name.
    let output = scan_stdin("oci-archive:-:latest", fixture("demo.oci.tar"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_truncated_or_empty_stdin_archive_is_an_input_error() {
    let whole = fixture("demo.oci.tar");
    for (what, input) in [
        ("cut inside a blob", whole[..whole.len() * 2 / 3].to_vec()),
        ("cut inside a header", whole[..512 * 3 + 100].to_vec()),
        ("empty", Vec::new()),
    ] {
        let output = scan_stdin("oci-archive:-", input);
        let stderr = assert_input_error(&output, "stdin");
        assert!(
            stderr.starts_with("error: oci-archive:-: "),
            "{what}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        assert!(output.stdout.is_empty(), "{what}");
    }
    let output = scan_stdin(
        "docker-archive:-",
        fixture("demo.docker.tar")[..30_000].to_vec(),
    );
    assert_input_error(&output, "stdin: is truncated");
}

#[test]
fn stdin_is_read_by_one_input_only() {
    let output = exelock()
        .args(["diff", "docker-archive:-", "oci-archive:-"])
        .write_stdin(fixture("demo.docker.tar"))
        .output()
        .unwrap();
    assert_input_error(&output, "can be read only once");
    let output = exelock()
        .args([
            "scan",
            "docker-archive:-",
            "--username",
            "ci",
            "--password-stdin",
        ])
        .write_stdin(fixture("demo.docker.tar"))
        .output()
        .unwrap();
    assert_input_error(&output, "both read stdin");
}
