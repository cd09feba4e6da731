//! `exelock scan` against a real CNCF distribution registry (Debian's `docker-registry`) started
//! per test by `support::registry`, in plain, htpasswd, TLS and token-auth modes, and through
//! the fault-injecting proxy of `support::faults`.

use std::io::Write as _;
use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

use crate::support::fixtures::Layout;
use crate::support::{Fault, FaultProxy, Mode, Registry, assert_input_error, exelock};

struct Run {
    output: Output,
}

impl Run {
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    fn json(&self) -> Value {
        assert_eq!(
            self.output.status.code(),
            Some(0),
            "exelock failed: {}",
            self.stderr()
        );
        serde_json::from_slice(&self.output.stdout).unwrap()
    }
}

fn scan(args: &[&str]) -> Run {
    scan_with(args, |_| {})
}

/// `exelock scan --format json ARGS` with an empty Docker config, after `setup`.
fn scan_with(args: &[&str], setup: impl FnOnce(&mut Command)) -> Run {
    let config = tempfile::tempdir().unwrap();
    scan_with_config(config.path(), args, setup)
}

/// `exelock scan --format json ARGS` with the Docker config in `config`, after `setup`.
fn scan_with_config(config: &Path, args: &[&str], setup: impl FnOnce(&mut Command)) -> Run {
    let mut command = exelock();
    command
        .env("DOCKER_CONFIG", config)
        .args(["scan", "--format", "json"])
        .args(args);
    setup(&mut command);
    Run {
        output: command.output().unwrap(),
    }
}

/// A Docker config directory whose `config.json` is `json`.
fn docker_config(json: &str) -> tempfile::TempDir {
    let config = tempfile::tempdir().unwrap();
    fs_err::write(config.path().join("config.json"), json).unwrap();
    config
}

fn local(reference: &str, extra: &[&str]) -> Value {
    let mut args = vec![reference, "-q"];
    args.extend_from_slice(extra);
    scan(&args).json()
}

/// The digests of a fixture layout's first manifest and its layers, bottom first.
fn layout_digests(image: &str) -> (String, Vec<String>) {
    let layout = Layout::image(image);
    (layout.manifest_digest(), layout.layer_digests())
}

#[test]
fn plain_registry_gives_the_same_executables_as_the_layout() {
    let registry = Registry::start(Mode::Plain);
    registry.push_oci_layout("oci:testdata/images/traps:latest", "fx/traps:v1");
    registry.push_oci_layout("oci:testdata/images/multiarch:latest", "fx/multi:v1");
    let host = registry.host();
    let from_layout = local("oci:testdata/images/traps", &[]);
    let (manifest_digest, _) = layout_digests("traps");

    let by_tag = scan(&[&format!("{host}/fx/traps:v1")]);
    assert!(
        by_tag.stderr().contains("resolved through a tag"),
        "{}",
        by_tag.stderr()
    );
    let by_tag = by_tag.json();
    assert_eq!(by_tag["executables"], from_layout["executables"]);
    assert_eq!(by_tag["layers"], from_layout["layers"]);
    assert_eq!(by_tag["image"]["manifestDigest"], manifest_digest.as_str());
    assert_eq!(by_tag["image"]["name"], format!("{host}/fx/traps:v1"));

    // A digest wins over a tag, even a tag that does not exist.
    for reference in [
        format!("{host}/fx/traps@{manifest_digest}"),
        format!("docker://{host}/fx/traps:no-such-tag@{manifest_digest}"),
    ] {
        let pinned = scan(&[&reference, "-q"]).json();
        assert_eq!(
            pinned["executables"], from_layout["executables"],
            "{reference}"
        );
    }

    let all = scan(&[&format!("{host}/fx/multi:v1"), "--all-platforms", "-q"]).json();
    let local_all = local("oci:testdata/images/multiarch", &["--all-platforms"]);
    assert_eq!(all.as_array().unwrap().len(), 2);
    for (remote, here) in all
        .as_array()
        .unwrap()
        .iter()
        .zip(local_all.as_array().unwrap())
    {
        assert_eq!(remote["executables"], here["executables"]);
        assert_eq!(remote["image"]["indexDigest"], here["image"]["indexDigest"]);
        assert_eq!(
            remote["image"]["manifestDigest"],
            here["image"]["manifestDigest"]
        );
        assert_eq!(
            remote["image"]["configDigest"],
            here["image"]["configDigest"]
        );
    }
    let arm = scan(&[
        &format!("{host}/fx/multi:v1"),
        "--platform",
        "linux/arm64",
        "-q",
    ])
    .json();
    assert_eq!(arm["image"]["platform"], "linux/arm64/v8");

    let missing = scan(&[&format!("{host}/fx/traps:nope")]);
    let stderr = assert_input_error(&missing.output, "manifest unknown");
    assert!(stderr.contains("fx/traps"), "{stderr}");
}

#[test]
fn basic_auth_from_flags_environment_and_docker_config() {
    let password = "s3cret-Pa55word";
    let registry = Registry::start(Mode::basic("ci", password));
    registry.push_oci_layout("oci:testdata/images/tiny:latest", "fx/tiny:v1");
    let reference = format!("{}/fx/tiny:v1", registry.host());
    let want = local("oci:testdata/images/tiny", &[])["executables"].clone();

    let anonymous = scan(&[&reference]);
    assert_input_error(&anonymous.output, "401");

    let wrong = scan_with(&[&reference, "--username", "ci", "--password-stdin"], |c| {
        c.write_stdin("not-the-password\n");
    });
    let stderr = assert_input_error(&wrong.output, "401");
    assert!(!stderr.contains("not-the-password"), "{stderr}");

    let stdin = scan_with(
        &[&reference, "--username", "ci", "--password-stdin", "-q"],
        |c| {
            c.write_stdin(format!("{password}\n"));
        },
    );
    assert_eq!(stdin.json()["executables"], want);
    assert!(!stdin.stderr().contains(password));

    let env = scan_with(&[&reference, "-q"], |c| {
        c.env("EXELOCK_REGISTRY_USERNAME", "ci")
            .env("EXELOCK_REGISTRY_PASSWORD", password);
    });
    assert_eq!(env.json()["executables"], want);

    // `docker login` writes base64(user:password) under `auths`.
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("ci:{password}"));
    let config =
        docker_config(&serde_json::json!({"auths": {registry.host(): {"auth": auth}}}).to_string());
    let run = scan_with_config(config.path(), &["-q", &reference], |_| {});
    assert_eq!(run.json()["executables"], want);

    // `credHelpers` run `docker-credential-NAME get` with the registry on stdin.
    let bin = tempfile::tempdir().unwrap();
    let helper = bin.path().join("docker-credential-exelocktest");
    let mut script = fs_err::File::create(&helper).unwrap();
    writeln!(
        script,
        "#!/bin/sh\nread server\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"ci\",\"Secret\":\"{password}\"}}' \"$server\""
    )
    .unwrap();
    drop(script);
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let config = docker_config(
        &serde_json::json!({"credHelpers": {registry.host(): "exelocktest"}}).to_string(),
    );
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let with_helper_on_path = |command: &mut Command| {
        command.env("PATH", &path);
    };
    let run = scan_with_config(config.path(), &["-q", &reference], with_helper_on_path);
    assert_eq!(run.json()["executables"], want);

    // `credsStore` names the default helper for every registry.
    let config = docker_config(r#"{"credsStore": "exelocktest"}"#);
    let run = scan_with_config(config.path(), &["-q", &reference], with_helper_on_path);
    assert_eq!(run.json()["executables"], want);
    assert!(!run.stderr().contains(password));
}

#[test]
fn tls_registry_is_trusted_only_with_its_ca() {
    let registry = Registry::start(Mode::Tls);
    registry.push_oci_layout("oci:testdata/images/tiny:latest", "fx/tiny:v1");
    let reference = format!("{}/fx/tiny:v1", registry.host());
    let untrusted = scan(&[&reference]);
    assert_input_error(&untrusted.output, "invalid peer certificate");
    let ca = registry.ca_pem_path().unwrap().to_str().unwrap().to_owned();
    let trusted = scan(&[&reference, "--ca-file", &ca, "-q"]).json();
    assert_eq!(
        trusted["executables"],
        local("oci:testdata/images/tiny", &[])["executables"]
    );
}

#[test]
fn bearer_token_flow_gets_a_token_for_the_repository() {
    let registry = Registry::start(Mode::token("robot", "tok3n-pass"));
    registry.push_oci_layout("oci:testdata/images/tiny:latest", "fx/tiny:v1");
    let reference = format!("{}/fx/tiny:v1", registry.host());
    let before = registry.token_requests();
    let anonymous = scan(&[&reference]);
    assert_input_error(&anonymous.output, "401");
    let authorised = scan_with(
        &[&reference, "--username", "robot", "--password-stdin", "-q"],
        |c| {
            c.write_stdin("tok3n-pass\n");
        },
    );
    assert_eq!(
        authorised.json()["executables"],
        local("oci:testdata/images/tiny", &[])["executables"]
    );
    assert!(
        registry.token_requests() > before,
        "the token issuer was never asked"
    );
}

/// A plain registry holding `traps`, behind a proxy with these faults.
fn faulty(faults: Vec<Fault>) -> (Registry, FaultProxy) {
    let registry = Registry::start(Mode::Plain);
    registry.push_oci_layout("oci:testdata/images/traps:latest", "fx/traps:v1");
    let proxy = FaultProxy::start(registry.host(), faults);
    (registry, proxy)
}

#[test]
fn server_errors_and_rate_limits_are_retried() {
    let (_, layers) = layout_digests("traps");
    let (_registry, proxy) = faulty(vec![
        Fault::status(&format!("/blobs/{}", layers[0]), 500).times(2),
        Fault::status("/manifests/v1", 429).times(2),
    ]);
    let run = scan(&[&format!("{}/fx/traps:v1", proxy.host()), "-q"]);
    assert_eq!(
        run.json()["executables"],
        local("oci:testdata/images/traps", &[])["executables"]
    );
    assert!(proxy.count("GET", &format!("/blobs/{}", layers[0])) >= 3);
    assert!(proxy.count("GET", "/manifests/v1") >= 3);
}

#[test]
fn persistent_server_errors_give_up_with_the_status() {
    let (_, layers) = layout_digests("traps");
    let (_registry, proxy) = faulty(vec![Fault::status(&format!("/blobs/{}", layers[1]), 503)]);
    let run = scan(&[&format!("{}/fx/traps:v1", proxy.host())]);
    let stderr = assert_input_error(&run.output, &layers[1]);
    assert!(stderr.contains("503"), "{stderr}");
    assert!(stderr.contains("attempts"), "{stderr}");
    let attempts = proxy.count("GET", &format!("/blobs/{}", layers[1]));
    assert!(
        (2..=8).contains(&attempts),
        "retries must be bounded, saw {attempts}"
    );
}

#[test]
fn a_corrupted_blob_is_an_error_and_writes_nothing() {
    let (_, layers) = layout_digests("traps");
    let (_registry, proxy) = faulty(vec![Fault::corrupt_body(&format!("/blobs/{}", layers[0]))]);
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("m.json");
    let run = scan(&[
        &format!("{}/fx/traps:v1", proxy.host()),
        "-o",
        file.to_str().unwrap(),
    ]);
    let stderr = assert_input_error(&run.output, &layers[0]);
    assert!(
        stderr.contains("does not match its digest") || stderr.contains("cannot read"),
        "{stderr}"
    );
    assert!(!file.exists());
}

#[test]
fn a_truncated_blob_resumes_and_a_persistently_truncated_one_fails() {
    let (_, layers) = layout_digests("traps");
    let path = format!("/blobs/{}", layers[0]);
    let (_registry, proxy) = faulty(vec![Fault::truncate(&path, 1000).times(1)]);
    let run = scan(&[&format!("{}/fx/traps:v1", proxy.host()), "-q"]);
    assert_eq!(
        run.json()["executables"],
        local("oci:testdata/images/traps", &[])["executables"]
    );
    assert!(proxy.count("GET", &path) >= 2);

    let (_registry, proxy) = faulty(vec![Fault::truncate(&path, 1000)]);
    let run = scan(&[&format!("{}/fx/traps:v1", proxy.host())]);
    assert_input_error(&run.output, &layers[0]);
}

#[test]
fn slow_responses_still_complete() {
    let (_registry, proxy) = faulty(vec![Fault::delay("/blobs/", 300)]);
    let run = scan(&[&format!("{}/fx/traps:v1", proxy.host()), "-q"]);
    assert_eq!(
        run.json()["executables"],
        local("oci:testdata/images/traps", &[])["executables"]
    );
}

#[test]
fn a_manifest_that_differs_from_its_announced_digest_is_refused() {
    // The body is swapped; the registry's Docker-Content-Digest header still names the original.
    let body =
        r#"{"schemaVersion":2,"mediaType":"application/vnd.example.thing.v1+json","layers":[]}"#;
    let (manifest_digest, _) = layout_digests("traps");
    let (_registry, proxy) = faulty(vec![Fault::replace_body("/manifests/v1", body)]);
    let run = scan(&[&format!("{}/fx/traps:v1", proxy.host())]);
    let stderr = assert_input_error(&run.output, "fetching manifest");
    assert!(stderr.contains(&manifest_digest), "{stderr}");
}
