//! Tests of the harness itself: `cargo test --test cli support::`.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

use super::http;
use super::registry::{TOKEN_SERVICE, run};
use super::{Fault, FaultProxy, Mode, Registry};

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

fn layout_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/images")
        .join(name)
}

fn read_json(path: &std::path::Path) -> serde_json::Value {
    let bytes = fs_err::read(path).unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The digest `index.json` of layout `name` points at (its `latest`).
fn layout_top_digest(name: &str) -> String {
    let index = read_json(&layout_dir(name).join("index.json"));
    index["manifests"][0]["digest"]
        .as_str()
        .unwrap_or_else(|| panic!("{name}/index.json has no manifests[0].digest"))
        .to_string()
}

fn layout_blob(name: &str, digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    let path = layout_dir(name).join("blobs/sha256").join(hex);
    fs_err::read(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn get(host: &str, path: &str, headers: &[(&str, &str)]) -> http::Response {
    http::get(host, path, headers).unwrap_or_else(|e| panic!("GET http://{host}{path}: {e}"))
}

/// Asserts that `registry` answered `response` with 200, printing the answer and the
/// registry's log when not.
#[track_caller]
fn assert_ok(response: &http::Response, registry: &Registry) {
    assert_eq!(
        response.status,
        200,
        "{}\n{}",
        response.text(),
        registry.log()
    );
}

/// `GET /v2/tiny/manifests/latest` from `registry` with the bearer token `token`.
fn get_tiny_manifest(registry: &Registry, token: &str) -> http::Response {
    let accept =
        "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";
    get(
        registry.host(),
        "/v2/tiny/manifests/latest",
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("Accept", accept),
        ],
    )
}

/// `key="value"` pairs of a `WWW-Authenticate` challenge after the scheme.
fn challenge_params(challenge: &str) -> Vec<(String, String)> {
    let rest = challenge.split_once(' ').map_or("", |(_, r)| r);
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            return out;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            for c in chars.by_ref() {
                if c == '"' {
                    break;
                }
                value.push(c);
            }
        } else {
            value = chars.by_ref().take_while(|c| *c != ',').collect();
        }
        out.push((key.trim().to_string(), value));
    }
}

/// Fetches a token from the issuer at `realm` (an `http://host/path` URL).
fn fetch_token(realm: &str, scope: &str, authorization: Option<&str>) -> http::Response {
    let rest = realm
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("realm {realm:?} is not http://"));
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let target = format!(
        "/{path}?service={TOKEN_SERVICE}&scope={}",
        scope.replace(':', "%3A")
    );
    let headers: Vec<(&str, &str)> = authorization
        .map(|a| ("Authorization", a))
        .into_iter()
        .collect();
    get(host, &target, &headers)
}

fn token_of(response: &http::Response) -> String {
    assert_eq!(response.status, 200, "token endpoint: {}", response.text());
    let json: serde_json::Value =
        serde_json::from_slice(&response.body).unwrap_or_else(|e| panic!("token JSON: {e}"));
    assert_eq!(json["token"], json["access_token"]);
    assert_eq!(json["expires_in"], 300);
    json["token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token in {json}"))
        .to_string()
}

/// Pushes traps and multiarch and checks that what the registry serves is
/// byte-identical to the layouts (digests preserved, children pushed).
fn push_and_verify(registry: &Registry) {
    eprintln!(
        "{} registry up in {:?}",
        registry.scheme(),
        registry.startup_time()
    );
    for name in ["traps", "multiarch"] {
        registry.push_oci_layout(
            &format!("oci:testdata/images/{name}:latest"),
            &format!("exelock/{name}:latest"),
        );
        let expected = layout_top_digest(name);
        let raw = registry.skopeo_inspect_raw(&format!("exelock/{name}:latest"));
        assert_eq!(
            sha256_digest(&raw),
            expected,
            "{name}: served manifest digest"
        );
        assert_eq!(
            raw,
            layout_blob(name, &expected),
            "{name}: served manifest bytes"
        );

        // Every child of an index is there too (multiarch's top is a nested
        // index; `--all` must have pushed its manifests).
        let top: serde_json::Value =
            serde_json::from_slice(&raw).unwrap_or_else(|e| panic!("{name}: {e}"));
        if let Some(children) = top["manifests"].as_array() {
            assert!(!children.is_empty(), "{name}: empty index");
            for child in children {
                let digest = child["digest"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: child without digest"));
                let child_raw = registry.skopeo_inspect_raw(&format!("exelock/{name}@{digest}"));
                assert_eq!(sha256_digest(&child_raw), digest, "{name}: child {digest}");
            }
        }
    }
}

/// tiny's (only) layer: its digest, its bytes, and the path of its blob in a registry.
struct TinyLayer {
    digest: String,
    blob: Vec<u8>,
    path: String,
}

/// Pushes `tiny` to a new plain registry and starts a fault proxy in front of it, with the
/// faults `faults` makes of the path of tiny's layer blob.
fn tiny_behind_a_proxy(
    faults: impl FnOnce(&str) -> Vec<Fault>,
) -> (Registry, FaultProxy, TinyLayer) {
    let registry = Registry::start(Mode::Plain);
    registry.push_oci_layout("oci:testdata/images/tiny:latest", "tiny:latest");
    let manifest: serde_json::Value =
        serde_json::from_slice(&layout_blob("tiny", &layout_top_digest("tiny")))
            .unwrap_or_else(|e| panic!("{e}"));
    let digest = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap_or_else(|| panic!("tiny manifest has no layer: {manifest}"))
        .to_string();
    let blob = layout_blob("tiny", &digest);
    let path = format!("/v2/tiny/blobs/{digest}");
    let proxy = FaultProxy::start(registry.host(), faults(&path));
    (registry, proxy, TinyLayer { digest, blob, path })
}

// ---------------------------------------------------------------------------
// registry: each mode
// ---------------------------------------------------------------------------

#[test]
fn plain_registry_answers_v2() {
    let registry = Registry::start(Mode::Plain);
    eprintln!("plain registry up in {:?}", registry.startup_time());
    assert!(registry.startup_time() < Duration::from_secs(20));
    let response = get(registry.host(), "/v2/", &[]);
    assert_ok(&response, &registry);
    assert_eq!(
        response.header("Docker-Distribution-Api-Version"),
        Some("registry/2.0")
    );
    assert!(registry.credentials().is_none());
    assert!(registry.ca_pem_path().is_none());
    assert_eq!(registry.scheme(), "http");
}

#[test]
fn basic_registry_checks_credentials() {
    let registry = Registry::start(Mode::basic("alice", "s3cret"));
    let creds = registry
        .credentials()
        .unwrap_or_else(|| panic!("basic mode has credentials"));
    assert_eq!(
        (creds.user.as_str(), creds.password.as_str()),
        ("alice", "s3cret")
    );

    let anonymous = get(registry.host(), "/v2/", &[]);
    assert_eq!(anonymous.status, 401);
    let challenge = anonymous.header("WWW-Authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Basic realm="),
        "challenge {challenge:?}"
    );

    let wrong = format!("Basic {}", base64_std("alice:wrong"));
    assert_eq!(
        get(registry.host(), "/v2/", &[("Authorization", &wrong)]).status,
        401
    );
    let unknown = format!("Basic {}", base64_std("mallory:s3cret"));
    assert_eq!(
        get(registry.host(), "/v2/", &[("Authorization", &unknown)]).status,
        401
    );

    let right = get(
        registry.host(),
        "/v2/",
        &[("Authorization", &creds.basic_authorization())],
    );
    assert_ok(&right, &registry);
}

fn base64_std(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn token_registry_bearer_flow() {
    let registry = Registry::start(Mode::token("bob", "hunter2"));
    let creds = registry
        .credentials()
        .unwrap_or_else(|| panic!("token mode has credentials"));
    assert_eq!(registry.token_requests(), 0);

    // 1. The challenge.
    let response = get(registry.host(), "/v2/", &[]);
    assert_eq!(response.status, 401, "{}", response.text());
    let challenge = response
        .header("WWW-Authenticate")
        .unwrap_or_default()
        .to_string();
    assert!(
        challenge.starts_with("Bearer realm="),
        "challenge {challenge:?}"
    );
    let params = challenge_params(&challenge);
    let param = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let realm = param("realm").unwrap_or_else(|| panic!("no realm in {challenge:?}"));
    let issuer = registry
        .token_issuer()
        .unwrap_or_else(|| panic!("token mode has an issuer"));
    assert_eq!(realm, issuer.realm());
    assert_eq!(param("service").as_deref(), Some(TOKEN_SERVICE));

    // 2. Token with the right credentials → /v2/ answers 200.
    let token = token_of(&fetch_token(
        &realm,
        "repository:tiny:pull,push",
        Some(&creds.basic_authorization()),
    ));
    assert_eq!(registry.token_requests(), 1);
    let bearer = format!("Bearer {token}");
    let response = get(registry.host(), "/v2/", &[("Authorization", &bearer)]);
    assert_ok(&response, &registry);

    // A forged signature is rejected.
    // (Change the signature's first character: it carries 6 full bits.)
    let signature_start = token
        .rfind('.')
        .unwrap_or_else(|| panic!("not a JWT: {token}"))
        + 1;
    let replacement = if token[signature_start..].starts_with('A') {
        "B"
    } else {
        "A"
    };
    let forged = format!(
        "Bearer {}{replacement}{}",
        &token[..signature_start],
        &token[signature_start + 1..]
    );
    assert_eq!(
        get(registry.host(), "/v2/", &[("Authorization", &forged)]).status,
        401
    );

    // 3. Wrong credentials at the issuer → 401 there.
    let wrong = format!("Basic {}", base64_std("bob:nope"));
    let response = fetch_token(&realm, "repository:tiny:pull", Some(&wrong));
    assert_eq!(response.status, 401, "{}", response.text());

    // 4. Access entries are enforced: push, then pull the manifest with an
    //    anonymous token (no access) and with an authenticated one.
    registry.push_oci_layout("oci:testdata/images/tiny:latest", "tiny:latest");
    let anonymous = token_of(&fetch_token(&realm, "repository:tiny:pull", None));
    let response = get_tiny_manifest(&registry, &anonymous);
    assert_eq!(
        response.status,
        401,
        "anonymous token must not pull: {}",
        response.text()
    );
    assert!(
        response
            .header("WWW-Authenticate")
            .unwrap_or_default()
            .contains("insufficient_scope"),
        "{:?}",
        response.headers
    );
    let pull = token_of(&fetch_token(
        &realm,
        "repository:tiny:pull",
        Some(&creds.basic_authorization()),
    ));
    let response = get_tiny_manifest(&registry, &pull);
    assert_ok(&response, &registry);
    assert_eq!(sha256_digest(&response.body), layout_top_digest("tiny"));

    // A token crafted with TokenIssuer::issue works the same way.
    let crafted = issuer.issue("bob", &[("repository", "tiny", vec!["pull".to_string()])]);
    assert_ok(&get_tiny_manifest(&registry, &crafted), &registry);

    let log = issuer.request_log();
    assert!(
        log.iter().any(|r| r.user.is_none() && r.status == 200),
        "{log:?}"
    );
    assert!(log.iter().any(|r| r.status == 401), "{log:?}");
    assert!(
        registry.token_requests() >= 5,
        "skopeo must have fetched tokens too: {log:?}"
    );
}

#[test]
fn tls_registry_needs_the_generated_ca() {
    let registry = Registry::start(Mode::Tls);
    assert_eq!(registry.scheme(), "https");
    let ca = registry
        .ca_pem_path()
        .unwrap_or_else(|| panic!("TLS mode has a CA"))
        .to_path_buf();

    // Plain HTTP is refused by the TLS listener.
    let response = get(registry.host(), "/v2/", &[]);
    assert_eq!(response.status, 400, "{}", response.text());
    assert!(response.text().contains("HTTPS"), "{}", response.text());

    // The served certificate is a separate leaf for 127.0.0.1, signed by the CA.
    let leaf = registry.dir().join("tls/server.pem");
    run(
        Command::new("openssl")
            .args([
                "verify",
                "-purpose",
                "sslserver",
                "-verify_ip",
                "127.0.0.1",
                "-verify_hostname",
                "localhost",
                "-CAfile",
            ])
            .arg(&ca)
            .arg(&leaf),
        "openssl verify (leaf against CA)",
    );
    let self_check = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(&leaf)
        .arg(&leaf)
        .output()
        .unwrap_or_else(|e| panic!("openssl verify: {e}"));
    assert!(
        !self_check.status.success(),
        "the leaf must not be self-signed/a CA"
    );

    // HTTPS with the CA works (and checks the IP SAN); without it, it fails.
    let request = format!(
        "GET /v2/ HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        registry.host()
    );
    let s_client = |trust: &[&std::ffi::OsStr]| {
        let mut child = Command::new("openssl")
            .args([
                "s_client",
                "-connect",
                registry.host(),
                "-verify_return_error",
                "-verify_ip",
                "127.0.0.1",
                "-ign_eof",
            ])
            .args(trust)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("openssl s_client: {e}"));
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(request.as_bytes());
        }
        let out = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("openssl s_client: {e}"));
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, stdout, stderr) = s_client(&["-CAfile".as_ref(), ca.as_os_str()]);
    assert!(
        ok,
        "s_client with the CA failed:\n{stdout}\n{stderr}\n{}",
        registry.log()
    );
    assert!(stdout.contains("HTTP/1.1 200 OK"), "{stdout}");
    assert!(stdout.contains("Verify return code: 0 (ok)"), "{stdout}");
    let (ok, stdout, stderr) = s_client(&[
        "-no-CAfile".as_ref(),
        "-no-CApath".as_ref(),
        "-no-CAstore".as_ref(),
    ]);
    assert!(
        !ok && !stdout.contains("HTTP/1.1 200"),
        "s_client without the CA must fail:\n{stdout}\n{stderr}"
    );

    if have("curl") {
        let url = format!("https://{}/v2/", registry.host());
        let with_ca = Command::new("curl")
            .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
            .arg(&ca)
            .arg(&url)
            .output()
            .unwrap_or_else(|e| panic!("curl: {e}"));
        assert_eq!(
            String::from_utf8_lossy(&with_ca.stdout),
            "200",
            "{}",
            String::from_utf8_lossy(&with_ca.stderr)
        );
        let without = Command::new("curl")
            .args(["-sS", "-o", "/dev/null", &url])
            .output()
            .unwrap_or_else(|e| panic!("curl: {e}"));
        assert_eq!(
            without.status.code(),
            Some(60),
            "curl without the CA: {}",
            String::from_utf8_lossy(&without.stderr)
        );
    } else {
        eprintln!("note: curl not installed; HTTPS checked with openssl s_client only");
    }
}

#[test]
fn dropping_a_registry_kills_its_process() {
    let registry = Registry::start(Mode::Plain);
    let pid = registry.pid();
    let host = registry.host().to_string();
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let cmdline = fs_err::read(proc_dir.join("cmdline")).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        String::from_utf8_lossy(&cmdline).contains("docker-registry"),
        "pid {pid} is not the registry"
    );
    let dir = registry.dir().to_path_buf();
    drop(registry);
    assert!(
        !proc_dir.exists(),
        "registry pid {pid} still exists after drop"
    );
    assert!(
        http::get(&host, "/v2/", &[]).is_err(),
        "{host} still answers after drop"
    );
    assert!(!dir.exists(), "temp dir {} not removed", dir.display());
}

#[test]
fn push_and_inspect_plain() {
    push_and_verify(&Registry::start(Mode::Plain));
}

#[test]
fn push_and_inspect_basic() {
    push_and_verify(&Registry::start(Mode::basic("alice", "s3cret")));
}

#[test]
fn push_and_inspect_tls() {
    push_and_verify(&Registry::start(Mode::Tls));
}

#[test]
fn push_and_inspect_token() {
    let registry = Registry::start(Mode::token("bob", "hunter2"));
    push_and_verify(&registry);
    assert!(registry.token_requests() > 0);
    let log = registry
        .token_issuer()
        .map(|i| i.request_log())
        .unwrap_or_default();
    assert!(log.iter().all(|r| r.status == 200), "{log:?}");
    assert!(
        log.iter().any(|r| r
            .scopes
            .iter()
            .any(|s| s.contains("exelock/traps") && s.contains("push"))),
        "{log:?}"
    );
}

// ---------------------------------------------------------------------------
// fault proxy
// ---------------------------------------------------------------------------

#[test]
fn proxy_forwards_and_keeps_connections_alive() {
    let registry = Registry::start(Mode::Plain);
    let proxy = FaultProxy::start(registry.host(), Vec::new());
    let response = get(&proxy.host(), "/v2/", &[]);
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.header("Docker-Distribution-Api-Version"),
        Some("registry/2.0")
    );

    // Two requests on one connection (the second asks to close).
    let mut stream =
        std::net::TcpStream::connect(proxy.host()).unwrap_or_else(|e| panic!("connect: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap_or_else(|e| panic!("{e}"));
    let host = proxy.host();
    write!(stream, "GET /v2/ HTTP/1.1\r\nHost: {host}\r\n\r\nGET /v2/_catalog HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
        .unwrap_or_else(|e| panic!("write: {e}"));
    let mut raw = String::new();
    stream
        .read_to_string(&mut raw)
        .unwrap_or_else(|e| panic!("read: {e}"));
    assert_eq!(raw.matches("HTTP/1.1 200 OK").count(), 2, "{raw}");
    assert!(raw.contains("\"repositories\""), "{raw}");

    let log = proxy.request_log();
    let paths: Vec<(&str, &str, u16)> = log
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str(), r.status))
        .collect();
    assert_eq!(
        paths,
        [
            ("GET", "/v2/", 200),
            ("GET", "/v2/", 200),
            ("GET", "/v2/_catalog", 200)
        ]
    );
}

#[test]
fn proxy_status_fault_then_forwards() {
    let (_registry, proxy, TinyLayer { digest, blob, path }) = tiny_behind_a_proxy(|path| {
        vec![
            Fault::status(path, 500).times(2),
            Fault::status("/v2/tiny/manifests/", 429)
                .times(1)
                .method("GET"),
        ]
    });

    for attempt in 1..=2 {
        let response = get(&proxy.host(), &path, &[]);
        assert_eq!(response.status, 500, "attempt {attempt}");
        assert_eq!(response.header("Retry-After"), Some("0"));
    }
    let response = get(&proxy.host(), &path, &[]);
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.body, blob);
    assert_eq!(sha256_digest(&response.body), digest);

    // 429 once on GET, HEAD is not affected.
    let accept = [("Accept", "application/vnd.oci.image.manifest.v1+json")];
    assert_eq!(
        http::request(
            &proxy.host(),
            "HEAD",
            "/v2/tiny/manifests/latest",
            &accept,
            &[]
        )
        .map(|r| r.status)
        .ok(),
        Some(200)
    );
    assert_eq!(
        get(&proxy.host(), "/v2/tiny/manifests/latest", &accept).status,
        429
    );
    assert_eq!(
        get(&proxy.host(), "/v2/tiny/manifests/latest", &accept).status,
        200
    );

    let statuses: Vec<u16> = proxy
        .request_log()
        .iter()
        .filter(|r| r.path == path)
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [500, 500, 200]);
    assert_eq!(proxy.count("GET", "/v2/tiny/manifests/"), 2);
    assert_eq!(proxy.request_log()[0].faults, ["status 500"]);
}

#[test]
fn proxy_corrupts_exactly_one_byte() {
    let (_registry, proxy, TinyLayer { digest, blob, path }) =
        tiny_behind_a_proxy(|path| vec![Fault::corrupt_body(path)]);
    let response = get(&proxy.host(), &path, &[]);
    assert_eq!(response.status, 200);
    assert_eq!(response.declared_length, Some(blob.len()));
    assert_eq!(response.body.len(), blob.len());
    let differing = response
        .body
        .iter()
        .zip(&blob)
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(differing, 1);
    assert_eq!(
        response.header("Docker-Content-Digest"),
        Some(digest.as_str())
    );
}

#[test]
fn proxy_truncates_below_content_length() {
    let (_registry, proxy, TinyLayer { blob, path, .. }) =
        tiny_behind_a_proxy(|path| vec![Fault::truncate(path, 10).times(1)]);
    assert!(blob.len() > 10, "tiny's layer is too small for this test");
    let response = get(&proxy.host(), &path, &[]);
    assert_eq!(response.status, 200);
    assert_eq!(response.declared_length, Some(blob.len()));
    assert_eq!(response.body, blob[..10]);
    // Only once: the retry gets everything.
    assert_eq!(get(&proxy.host(), &path, &[]).body, blob);
}

#[test]
fn proxy_delays_and_replaces_bodies() {
    let (_registry, proxy, TinyLayer { digest, path, .. }) = tiny_behind_a_proxy(|path| {
        vec![
            Fault::delay("/v2/", 300).times(1),
            Fault::replace_body(path, b"not the blob".to_vec()),
        ]
    });
    let started = Instant::now();
    assert_eq!(get(&proxy.host(), "/v2/", &[]).status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );

    let response = get(&proxy.host(), &path, &[]);
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"not the blob");
    assert_eq!(response.declared_length, Some(12));
    assert_eq!(
        response.header("Docker-Content-Digest"),
        Some(digest.as_str())
    );
}

#[test]
fn skopeo_push_and_inspect_through_proxy() {
    let registry = Registry::start(Mode::Plain);
    let proxy = FaultProxy::start(registry.host(), Vec::new());
    registry.push_oci_layout_via(
        &proxy.host(),
        "oci:testdata/images/traps:latest",
        "traps:latest",
    );
    let raw = registry.skopeo_inspect_raw_via(&proxy.host(), "traps:latest");
    assert_eq!(sha256_digest(&raw), layout_top_digest("traps"));
    // Uploads went through the proxy (the registry's Locations point at it).
    let log = proxy.request_log();
    assert!(
        log.iter()
            .any(|r| r.method == "PUT" && r.path.contains("/blobs/uploads/")),
        "{log:#?}"
    );
    assert!(log.iter().all(|r| r.status < 500), "{log:#?}");
    // And the registry has it, reading directly.
    assert_eq!(registry.skopeo_inspect_raw("traps:latest"), raw);
}
