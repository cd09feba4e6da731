//! The Action's `version` path end to end: a release archive packed by
//! `scripts/release-archive.sh` (the documented release layout) is served over HTTPS by a local
//! server, and action.yml's install step (`scripts/action-install.sh`) downloads it, checks it
//! against the pinned `checksum`, and the gate step runs the installed binary. A wrong or missing
//! checksum stops the run before anything downloaded is unpacked.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::support::command::{self, test_environment};
use crate::support::fixtures::{Layout, root};
use crate::support::registry::TlsFiles;

const VERSION: &str = "0.0.0-test";
const TARGET: &str = "x86_64-unknown-linux-gnu";

/// Python's file server over a directory (HTTPS with a certificate, else plain HTTP), on a free
/// loopback port; killed on drop.
struct FileServer {
    child: Child,
    port: u16,
    scheme: &'static str,
}

impl FileServer {
    fn start(dir: &Path, tls: Option<&TlsFiles>) -> Self {
        const SERVER: &str = r"
import functools, http.server, ssl, sys
directory, *certificate = sys.argv[1:]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
if certificate:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
";
        let mut command = Command::new("python3");
        command.args(["-c", SERVER]).arg(dir);
        if let Some(tls) = tls {
            command.arg(&tls.leaf_cert).arg(&tls.leaf_key);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the server prints its port");
        Self {
            child,
            port,
            scheme: if tls.is_some() { "https" } else { "http" },
        }
    }

    fn base_url(&self) -> String {
        format!("{}://127.0.0.1:{}/releases", self.scheme, self.port)
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A release directory as a mirror of GitHub's: `releases/vVERSION/ARCHIVE(.sha256)`, packed
/// from the built exelock. Returns the archive's sha256 as the release script printed it.
fn pack_release(served: &Path) -> String {
    // The packed "binary" hands over to the built one: a debug build is hundreds of megabytes,
    // which would make packing and hashing the slowest part of the suite.
    let binary = served.join("build/exelock");
    fs_err::create_dir_all(binary.parent().unwrap()).unwrap();
    fs_err::write(
        &binary,
        format!("#!/bin/sh\nexec '{}' \"$@\"\n", command::binary().display()),
    )
    .unwrap();
    fs_err::set_permissions(&binary, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = served.join(format!("releases/v{VERSION}"));
    let packed = Command::new("scripts/release-archive.sh")
        .current_dir(root())
        .args([VERSION, TARGET])
        .arg(&binary)
        .arg(&out)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    assert!(
        packed.status.success(),
        "{}",
        String::from_utf8_lossy(&packed.stderr)
    );
    let printed = String::from_utf8(packed.stdout).unwrap();
    let archive = format!("exelock-{VERSION}-{TARGET}.tar.gz");
    assert_eq!(
        printed,
        fs_err::read_to_string(out.join(format!("{archive}.sha256"))).unwrap()
    );
    let (checksum, name) = printed.trim().split_once("  ").unwrap();
    assert_eq!(name, archive);
    // The checksum file is the archive's sha256, computed here independently.
    let bytes = fs_err::read(out.join(&archive)).unwrap();
    let independent = Command::new("sha256sum")
        .arg(out.join(&archive))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&independent.stdout).starts_with(checksum));
    assert!(!bytes.is_empty());
    checksum.to_owned()
}

/// Runs every step of action.yml, the install step included, as a runner would.
fn run_action(inputs: &Value, runner_temp: &Path, server: &FileServer, ca: &Path) -> RunResult {
    // The Action keeps its layer cache in the runner's temp dir, as on GitHub.
    let output = test_environment(&mut Command::new("python3"))
        .env_remove("EXELOCK_NO_CACHE")
        .current_dir(root())
        .arg("tests/tools/run_action.py")
        .arg("action.yml")
        .arg(inputs.to_string())
        .env("RUNNER_TEMP", runner_temp)
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", runner_temp.join("summary.md"))
        .env("EXELOCK_RELEASE_BASE_URL", server.base_url())
        .env("CURL_CA_BUNDLE", ca)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let result = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or(Value::Null);
    RunResult {
        code: output.status.code(),
        log: format!("{stdout}{stderr}"),
        result,
    }
}

struct RunResult {
    code: Option<i32>,
    log: String,
    result: Value,
}

fn installed(runner_temp: &Path) -> PathBuf {
    runner_temp.join("exelock/bin/exelock")
}

#[test]
fn the_action_installs_a_release_only_with_its_pinned_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let tls = TlsFiles::generate(&dir.path().join("tls"));
    let served = dir.path().join("served");
    let checksum = pack_release(&served);
    let server = FileServer::start(&served, Some(&tls));
    let policy = dir.path().join("exelock.toml");
    fs_err::write(&policy, "[attestation]\nlevel = \"warn\"\n").unwrap();
    let inputs = |checksum: &str| {
        serde_json::json!({
            "image": "oci:testdata/images/tiny",
            "policy": policy.to_str().unwrap(),
            "sarif": dir.path().join("out.sarif").to_str().unwrap(),
            "version": VERSION,
            "checksum": checksum,
        })
    };

    // The pinned checksum (upper case and with its sha256: prefix, as people paste it).
    let runner = tempfile::tempdir().unwrap();
    let pinned = format!("sha256:{}", checksum.to_uppercase());
    let run = run_action(&inputs(&pinned), runner.path(), &server, &tls.ca_cert);
    assert_eq!(run.code, Some(0), "{}", run.log);
    assert_eq!(run.result["steps"]["install"], 0, "{}", run.log);
    assert!(
        run.log.contains(&format!(
            "installed exelock 0.1.0 from exelock-{VERSION}-{TARGET}.tar.gz (sha256:{checksum})"
        )),
        "{}",
        run.log
    );
    assert!(installed(runner.path()).exists());
    let outputs = &run.result["outputs"];
    assert_eq!(outputs["verdict"], "pass", "{}", run.log);
    assert_eq!(
        outputs["image-digest"],
        Layout::image("tiny").manifest_digest().as_str(),
        "{}",
        run.log
    );
    let manifest_digest = outputs["manifest-digest"].as_str().unwrap();
    assert!(manifest_digest.starts_with("sha256:") && manifest_digest != outputs["image-digest"]);

    // Another archive's checksum: refused before anything is unpacked.
    let runner = tempfile::tempdir().unwrap();
    let other = "0".repeat(64);
    let run = run_action(&inputs(&other), runner.path(), &server, &tls.ca_cert);
    assert_eq!(run.code, Some(2), "{}", run.log);
    assert!(
        run.log.contains(&format!(
            "::error title=exelock install::exelock-{VERSION}-{TARGET}.tar.gz does not match the pinned checksum (got sha256:{checksum}, expected sha256:{other})"
        )),
        "{}",
        run.log
    );
    assert!(!installed(runner.path()).exists());
    let left: Vec<_> = fs_err::read_dir(runner.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(left, ["output-install"], "the refused download is removed");

    // No checksum at all, or a malformed one: refused before downloading.
    for (checksum, message) in [
        ("", "needs its checksum input"),
        ("abc", "checksum must be 64 hex digits"),
    ] {
        let runner = tempfile::tempdir().unwrap();
        let run = run_action(&inputs(checksum), runner.path(), &server, &tls.ca_cert);
        assert_eq!(run.code, Some(2), "{}", run.log);
        assert!(run.log.contains(message), "{}", run.log);
        assert!(!installed(runner.path()).exists());
    }

    // A version the server has no release for.
    let runner = tempfile::tempdir().unwrap();
    let mut missing = inputs(&checksum);
    missing["version"] = "9.9.9".into();
    let run = run_action(&missing, runner.path(), &server, &tls.ca_cert);
    assert_eq!(run.code, Some(2), "{}", run.log);
    assert!(
        run.log.contains("cannot download https://127.0.0.1:"),
        "{}",
        run.log
    );
}

#[test]
fn the_install_script_downloads_over_https_only() {
    let dir = tempfile::tempdir().unwrap();
    let served = dir.path().join("served");
    let checksum = pack_release(&served);
    let plain = FileServer::start(&served, None);
    let runner = tempfile::tempdir().unwrap();
    // The right archive with the right checksum, but over plain HTTP: not even requested.
    let output = test_environment(&mut Command::new("scripts/action-install.sh"))
        .current_dir(root())
        .env("RUNNER_TEMP", runner.path())
        .env("EXELOCK_VERSION", VERSION)
        .env("EXELOCK_CHECKSUM", &checksum)
        .env("EXELOCK_RELEASE_BASE_URL", plain.base_url())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot download {}/v{VERSION}/", plain.base_url())),
        "{stderr}"
    );
    assert!(!installed(runner.path()).exists());
}
