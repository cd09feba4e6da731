//! `exelock serve` end to end, as a fleet uses it: the real binary listening on loopback, an
//! attested image in a real registry, findings pushed in each source's own envelope with its
//! own authentication (a Pub/Sub push signed RS256 by a key served as a JWKS file, a GuardDuty
//! EventBridge event with an API key, a Falcosidekick post with a bearer token or a client
//! certificate), verdicts read back from the store (SQLite, and the suite's PostgreSQL), and the
//! bake list closing the loop through `gate --bake URL`.
//!
//! Around that: what the service must refuse to fetch (registries off the allow-list, a listed
//! name resolving to loopback), one resolution for many findings at once, 503 (nothing stored)
//! while a registry or the database is down and a verdict on redelivery, capped and malformed
//! bodies, the read endpoints' token and filters, webhook alerts with retries and without
//! repeats, a start that fails without its database, and SIGTERM draining a request in flight.
//! Slow registries and failing databases are made with relays and proxies on loopback, never
//! with sleeps standing in for a readiness check.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::certificates::{Certificate, Usage};
use crate::support::registry::free_port;
use crate::support::{Fault, FaultProxy, exelock_in, exelock_process_in};
use crate::triage::{Setup, keyed_dir};

const AUDIENCE: &str = "https://exelock.example/v1/scc";
const PUSH_ACCOUNT: &str = "scc-push@acme-sec.iam.gserviceaccount.com";
const API_KEY: &str = "gd-key-0123456789";
const FALCO_TOKEN: &str = "falco-token-abcdef";
const FINDINGS_TOKEN: &str = "findings-token-123";
const READ_TOKEN: &str = "read-token-456";

/// An RSA key made by openssl: PKCS#1 DER to sign with, and its JWKS entry.
struct SigningKey {
    der: Vec<u8>,
    jwk: Value,
}

impl SigningKey {
    fn generate(dir: &Path, kid: &str) -> Self {
        let pem = dir.join(format!("{kid}.pem"));
        let der = dir.join(format!("{kid}.der"));
        run(std::process::Command::new("openssl")
            .args(["genrsa", "-traditional", "-out"])
            .arg(&pem)
            .arg("2048"));
        run(std::process::Command::new("openssl")
            .args(["rsa", "-traditional", "-outform", "DER", "-in"])
            .arg(&pem)
            .arg("-out")
            .arg(&der));
        let modulus = run(std::process::Command::new("openssl")
            .args(["rsa", "-noout", "-modulus", "-in"])
            .arg(&pem));
        let modulus = hex::decode(modulus.trim().trim_start_matches("Modulus=")).unwrap();
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        Self {
            der: fs_err::read(&der).unwrap(),
            jwk: json!({"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid, "n": url.encode(modulus), "e": "AQAB"}),
        }
    }

    fn token(&self, kid: &str, claims: &Value) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(
            &header,
            claims,
            &jsonwebtoken::EncodingKey::from_rsa_der(&self.der),
        )
        .unwrap()
    }
}

fn run(command: &mut std::process::Command) -> String {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims() -> Value {
    json!({
        "iss": "https://accounts.google.com",
        "aud": AUDIENCE,
        "email": PUSH_ACCOUNT,
        "email_verified": true,
        "sub": "112233445566778899",
        "iat": now() - 10,
        "exp": now() + 3000,
    })
}

/// Writes the tokens and keys the services read from files into `dir/secrets`.
fn write_secrets(dir: &Path) {
    let secrets = dir.join("secrets");
    fs_err::create_dir_all(&secrets).unwrap();
    for (file, value) in [
        ("guardduty-key", API_KEY),
        ("falco-token", FALCO_TOKEN),
        ("findings-token", FINDINGS_TOKEN),
        ("read-token", READ_TOKEN),
    ] {
        fs_err::write(secrets.join(file), format!("{value}\n")).unwrap();
    }
}

/// The flags of a service judging against `cosign.pub` in its directory, storing in `db`,
/// fetching from the `allowed` registries, with `POST /v1/findings` and the read endpoints on.
fn base_args(db: &str, allowed: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["--db", db, "--key", "cosign.pub"]
        .map(str::to_owned)
        .to_vec();
    for registry in allowed {
        args.extend(["--allow-registry".to_owned(), (*registry).to_owned()]);
    }
    args.extend(
        [
            "--findings-token-file",
            "secrets/findings-token",
            "--read-token-file",
            "secrets/read-token",
        ]
        .map(str::to_owned),
    );
    args
}

/// The flags turning on the three push sources (the SCC keys are `jwks.json` in the directory).
fn push_source_args() -> Vec<String> {
    [
        "--scc-audience",
        AUDIENCE,
        "--scc-service-account",
        PUSH_ACCOUNT,
        "--scc-jwks",
        "jwks.json",
        "--guardduty-api-key-file",
        "secrets/guardduty-key",
        "--falco-token-file",
        "secrets/falco-token",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// A running `exelock serve`; stopped with SIGTERM when dropped.
struct Service {
    child: Child,
    port: u16,
    base: String,
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    log: PathBuf,
}

impl Service {
    /// Every source on, fetching from `registry_host` only.
    fn start(dir: &Path, db: &str, registry_host: &str) -> Self {
        let mut args = base_args(db, &[registry_host]);
        args.extend(push_source_args());
        Self::launch(dir, &args, None)
    }

    /// Starts `exelock serve ARGS` on a free loopback port and waits until `/readyz` answers
    /// 200; `https` is the client to reach it with when it serves TLS.
    fn launch(dir: &Path, args: &[String], https: Option<reqwest::Client>) -> Self {
        write_secrets(dir);
        let port = free_port();
        let log = dir.join(format!("serve-{port}.log"));
        let child = exelock_process_in(dir)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .stdout(Stdio::from(
                fs_err::File::create(&log).unwrap().into_parts().0,
            ))
            .stderr(Stdio::from(
                fs_err::OpenOptions::new()
                    .append(true)
                    .open(&log)
                    .unwrap()
                    .into_parts()
                    .0,
            ))
            .spawn()
            .unwrap();
        let scheme = if https.is_some() { "https" } else { "http" };
        let mut service = Self {
            child,
            port,
            base: format!("{scheme}://127.0.0.1:{port}"),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            client: https.unwrap_or_default(),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, _)) = service.try_get("/readyz", None) {
                return service;
            }
            if let Ok(Some(status)) = service.child.try_wait() {
                panic!("the service exited ({status}): {}", service.log());
            }
            assert!(
                Instant::now() < deadline,
                "the service did not become ready: {}",
                service.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        fs_err::read_to_string(&self.log).unwrap_or_default()
    }

    /// The needs-action reports the service printed, one JSON line each.
    fn alerts(&self) -> Vec<Value> {
        self.log()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .collect()
    }

    fn try_get(&self, path: &str, token: Option<&str>) -> Result<(u16, String), reqwest::Error> {
        self.runtime.block_on(async {
            let mut request = self.client.get(format!("{}{path}", self.base));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await?;
            let status = response.status().as_u16();
            Ok((status, response.text().await?))
        })
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let (status, body) = self.try_get(path, Some(READ_TOKEN)).unwrap();
        (status, parsed(body))
    }

    fn post(&self, path: &str, headers: &[(&str, String)], body: &Value) -> (u16, Value) {
        self.post_bytes(path, headers, body.to_string().into_bytes())
    }

    /// [`Self::post`], which the service must answer with 200 (else the answer and the log are
    /// printed); returns the answer.
    #[track_caller]
    fn post_ok(&self, path: &str, headers: &[(&str, String)], body: &Value) -> Value {
        let (status, answer) = self.post(path, headers, body);
        assert_eq!(status, 200, "{answer} {}", self.log());
        answer
    }

    fn try_post_bytes(
        &self,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<(u16, Value), reqwest::Error> {
        self.runtime
            .block_on(send_post(&self.client, &self.base, path, headers, body))
    }

    fn post_bytes(&self, path: &str, headers: &[(&str, String)], body: Vec<u8>) -> (u16, Value) {
        self.try_post_bytes(path, headers, body).unwrap()
    }

    fn stored(&self) -> Vec<Value> {
        let (status, body) = self.get("/v1/findings?limit=1000");
        assert_eq!(status, 200, "{body}");
        body["findings"].as_array().unwrap().clone()
    }

    /// The stored record of a finding, `None` when there is none.
    fn record(&self, source: &str, id: &str) -> Option<Value> {
        match self.get(&format!("/v1/findings/{source}/{id}")) {
            (200, record) => Some(record),
            (404, _) => None,
            (status, body) => panic!("{status}: {body}"),
        }
    }

    fn metrics(&self) -> String {
        let (status, text) = self.try_get("/metrics", None).unwrap();
        assert_eq!(status, 200, "{text}");
        text
    }

    fn terminate(&self) {
        run(std::process::Command::new("kill").args(["-TERM", &self.child.id().to_string()]));
    }

    /// The exit status, once the process has exited within `within`.
    fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        self.terminate();
        if self.wait_exit(Duration::from_secs(10)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn parsed(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

async fn send_post(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> Result<(u16, Value), reqwest::Error> {
    let mut request = client
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    Ok((status, parsed(response.text().await?)))
}

/// The value of one sample of `/metrics` (`name{labels}` as printed), 0 when absent.
fn metric(text: &str, sample: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' '))
        .map_or(0.0, |value| value.trim().parse().unwrap())
}

/// The last lines of a log.
fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

/// Waits until `condition` holds, panicking with `what` after `within`.
fn wait_until(within: Duration, what: impl Fn() -> String, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out: {}", what());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A TCP relay on a loopback port of its own to `upstream`: it counts the connections it
/// accepted, can hold the first one back before relaying (a slow registry), and can be cut
/// (every connection closed, new ones closed as soon as accepted) and restored.
struct TcpRelay {
    port: u16,
    state: Arc<RelayState>,
    // Last: stopping it closes every connection.
    _runtime: tokio::runtime::Runtime,
}

struct RelayState {
    accepted: AtomicUsize,
    open: AtomicBool,
    connections: Mutex<Vec<tokio::task::AbortHandle>>,
}

impl TcpRelay {
    fn start(upstream: &str, hold_first: Duration) -> Self {
        let upstream: std::net::SocketAddr = upstream.parse().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(RelayState {
            accepted: AtomicUsize::new(0),
            open: AtomicBool::new(true),
            connections: Mutex::new(Vec::new()),
        });
        let shared = Arc::clone(&state);
        runtime.spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let index = shared.accepted.fetch_add(1, Ordering::SeqCst);
                if !shared.open.load(Ordering::SeqCst) {
                    continue;
                }
                let hold = if index == 0 {
                    hold_first
                } else {
                    Duration::ZERO
                };
                let relay = tokio::spawn(async move {
                    tokio::time::sleep(hold).await;
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                shared
                    .connections
                    .lock()
                    .unwrap()
                    .push(relay.abort_handle());
            }
        });
        Self {
            port,
            state,
            _runtime: runtime,
        }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn accepted(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }

    fn cut(&self) {
        self.state.open.store(false, Ordering::SeqCst);
        for connection in self.state.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    fn restore(&self) {
        self.state.open.store(true, Ordering::SeqCst);
    }
}

/// A Pub/Sub push of an SCC notification about `finding`.
fn pubsub_push(message_id: &str, finding: &Value) -> Value {
    let notification = json!({
        "notificationConfigName": "organizations/1/notificationConfigs/added-binaries",
        "finding": finding,
        "resource": {"name": finding["resourceName"], "type": "google.container.Cluster"},
    });
    json!({
        "message": {
            "data": base64::engine::general_purpose::STANDARD.encode(notification.to_string()),
            "messageId": message_id,
            "publishTime": "2026-12-02T10:00:00Z",
            "attributes": {},
        },
        "subscription": "projects/acme-sec/subscriptions/exelock",
    })
}

fn bearer(token: &str) -> Vec<(&'static str, String)> {
    vec![("authorization", format!("Bearer {token}"))]
}

/// The suite's PostgreSQL server (scripts/test.sh starts it); in CI a missing server is a
/// failure, not a skip.
fn postgres_url() -> Option<String> {
    match std::env::var("EXELOCK_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "EXELOCK_TEST_POSTGRES_URL is not set: scripts/test.sh starts PostgreSQL for these tests"
            );
            None
        }
    }
}

/// The databases the service is tested on: SQLite always, and the suite's PostgreSQL server.
fn databases(dir: &Path) -> Vec<String> {
    let mut out = vec![dir.join("exelock.db").display().to_string()];
    out.extend(postgres_url());
    out
}

#[test]
fn every_source_judged_stored_and_baked() {
    let setup = Setup::new();
    let dir = setup.dir.path();
    let key = SigningKey::generate(dir, "k1");
    let forger = SigningKey::generate(dir, "k2");
    fs_err::write(
        dir.join("jwks.json"),
        json!({"keys": [key.jwk]}).to_string(),
    )
    .unwrap();
    let host = setup.registry.host().to_owned();
    let busybox = setup.sha("/bin/busybox");
    for (round, db) in databases(dir).into_iter().enumerate() {
        let service = Service::start(dir, &db, &host);
        let tag = format!("r{round}-{}", now());

        // SCC via Pub/Sub: a legitimate binary copied at run time (relocated).
        let mut scc = setup.scc(
            "Added Binary Executed",
            json!([crate::triage::process("/opt/tools/busybox", &busybox, None)]),
        );
        scc["name"] = json!(format!(
            "organizations/1/sources/2/findings/relocated-{tag}"
        ));
        let push = pubsub_push(&format!("m-{tag}"), &scc);
        let signed = bearer(&key.token("k1", &claims()));
        let answer = service.post_ok("/v1/scc", &signed, &push);
        assert_eq!(
            answer["findings"][0]["verdicts"],
            json!(["relocated"]),
            "{answer}"
        );
        assert_eq!(answer["findings"][0]["stored"], "new", "{answer}");
        // The redelivery updates the one record.
        let answer = service.post_ok("/v1/scc", &signed, &push);
        assert_eq!(answer["findings"][0]["stored"], "updated", "{answer}");

        // A partial hash: the first delivery computes the prefix digest from the layer, the
        // second is judged with the one already computed; both give the same verdicts.
        let prefix = 4096;
        let content = crate::scan::file_in_layer("traps", 0, "bin/busybox");
        let partial = exelock::digest::Sha256Digest::of(&content[..prefix]).hex();
        let size = content.len().to_string();
        let partially_hashed = |path: &str, sha: &str| {
            json!({"name": "busybox", "args": [path], "pid": "7", "binary": {"path": path,
                "sha256": sha, "size": size, "hashedSize": prefix.to_string(),
                "partiallyHashed": true}})
        };
        let mut scc_partial = setup.scc(
            "Added Binary Executed",
            json!([
                partially_hashed("/bin/busybox", &partial),
                partially_hashed("/bin/busybox", &busybox)
            ]),
        );
        for delivery in ["first", "second"] {
            scc_partial["name"] = json!(format!(
                "organizations/1/sources/2/findings/partial-{delivery}-{tag}"
            ));
            let push = pubsub_push(&format!("p-{delivery}-{tag}"), &scc_partial);
            let (status, answer) = service.post("/v1/scc", &signed, &push);
            assert_eq!(status, 200, "{delivery}: {answer} {}", service.log());
            // A prefix match is no proof of the rest of the file; the whole-file digest
            // presented as a prefix proves a different file.
            assert_eq!(
                answer["findings"][0]["verdicts"],
                json!(["unverifiable", "modified"]),
                "{delivery}: {answer}"
            );
        }

        // Each broken token: 401, and nothing stored.
        let mut foreign = setup.scc(
            "Added Binary Executed",
            json!([crate::triage::process("/tmp/x", &"ab".repeat(32), None)]),
        );
        foreign["name"] = json!(format!("organizations/1/sources/2/findings/never-{tag}"));
        let never = pubsub_push(&format!("n-{tag}"), &foreign);
        let mut wrong_audience = claims();
        wrong_audience["aud"] = json!("https://elsewhere.example/");
        let mut expired = claims();
        expired["iat"] = json!(now() - 7200);
        expired["exp"] = json!(now() - 3600);
        let mut unverified = claims();
        unverified["email_verified"] = json!(false);
        for (case, headers) in [
            ("forged", bearer(&forger.token("k1", &claims()))),
            ("wrong audience", bearer(&key.token("k1", &wrong_audience))),
            ("expired", bearer(&key.token("k1", &expired))),
            ("unverified email", bearer(&key.token("k1", &unverified))),
            ("no token", Vec::new()),
        ] {
            let (status, answer) = service.post("/v1/scc", &headers, &never);
            assert_eq!(status, 401, "{case}: {answer}");
        }
        // GuardDuty: wrong key refused, right key judged (a foreign binary: needs action).
        let image = format!("{host}/fx/traps@{}", setup.digest());
        let event = guardduty_event(&format!("gd-{tag}"), &image);
        let (status, answer) = service.post(
            "/v1/guardduty",
            &[("x-api-key", "gd-key-wrong".to_owned())],
            &event,
        );
        assert_eq!(status, 401, "{answer}");
        let answer = service.post_ok(
            "/v1/guardduty",
            &[("x-api-key", API_KEY.to_owned())],
            &event,
        );
        assert_eq!(answer["findings"][0]["needsAction"], true, "{answer}");

        // Falcosidekick with its bearer token.
        let falco = falco_event(&format!("falco-{tag}"), &format!("{host}/fx/traps"), "v1");
        let (status, answer) = service.post("/v1/falco", &bearer("wrong"), &falco);
        assert_eq!(status, 401, "{answer}");
        service.post_ok("/v1/falco", &bearer(FALCO_TOKEN), &falco);

        // A poison message is a 400 that names the problem.
        let (status, answer) = service.post(
            "/v1/scc",
            &signed,
            &json!({"message": {"data": "%%% not base64"}}),
        );
        assert_eq!(status, 400, "{answer}");

        // Stored: five new findings, the redelivered one once with two deliveries.
        // Only this round's records: the PostgreSQL store is shared with other tests and runs.
        let stored: Vec<Value> = service
            .stored()
            .into_iter()
            .filter(|found| found["id"].as_str().is_some_and(|id| id.contains(&tag)))
            .collect();
        assert_eq!(stored.len(), 5, "{stored:#?}");
        let id = format!("organizations/1/sources/2/findings/relocated-{tag}");
        let (status, record) = service.get(&format!("/v1/findings/scc/{id}"));
        assert_eq!(status, 200, "{record}");
        assert_eq!(record["deliveries"], 2, "{record}");
        let (_, needing) = service.get("/v1/findings?verdict=foreign&limit=1000");
        assert!(
            needing["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|found| found["id"] == format!("gd-{tag}")),
            "{needing}"
        );
        // The needs-action verdict went to stdout as a JSON line.
        assert!(
            service
                .log()
                .lines()
                .any(|line| line.starts_with('{') && line.contains(&format!("gd-{tag}"))),
            "{}",
            service.log()
        );
        let (status, metrics) = service.try_get("/metrics", None).unwrap();
        assert_eq!(status, 200);
        assert!(metrics.contains("exelock_findings_total{"), "{metrics}");

        // The bake loop: the old image fails the gate's bake rule, the rebuild passes.
        let bake_url = format!("{}/v1/bake/{host}/fx/traps", service.base);
        let policy = dir.join("exelock.toml");
        fs_err::write(
            &policy,
            "[attestation]\nlevel = \"warn\"\n[setuid]\nlevel = \"off\"\n",
        )
        .unwrap();
        let gate = |image: &str| {
            exelock_in(dir)
                .env("EXELOCK_READ_TOKEN", READ_TOKEN)
                .args([
                    "gate",
                    image,
                    "--policy",
                    "exelock.toml",
                    "--bake",
                    &bake_url,
                    "-q",
                ])
                .output()
                .unwrap()
        };
        let old = gate(&format!("{host}/fx/traps:v1"));
        assert_eq!(old.status.code(), Some(1), "{old:?}");
        let rebuilt = crate::triage::rebuild_with(
            dir,
            "traps",
            "opt/tools/busybox",
            &crate::scan::file_in_layer("traps", 0, "bin/busybox"),
        );
        let new = gate(&format!("oci:{}", rebuilt.display()));
        assert_eq!(new.status.code(), Some(0), "{new:?}");
        fs_err::remove_dir_all(rebuilt).unwrap();
    }
}

/// The id SCC gives a finding named `name`.
fn scc_id(name: &str) -> String {
    format!("organizations/1/sources/2/findings/{name}")
}

/// An SCC finding (as `POST /v1/findings` takes it) about the image `repository@digest`.
fn scc_finding(id: &str, repository: &str, digest: &str, processes: Value) -> Value {
    json!({
        "name": id,
        "category": "Added Binary Executed",
        "severity": "LOW",
        "state": "ACTIVE",
        "eventTime": "2026-11-28T10:00:00Z",
        "resourceName": "//container.googleapis.com/projects/p1/zones/europe-west4-b/clusters/prod",
        "processes": processes,
        "containers": [{"name": "app", "uri": format!("{repository}:v1"), "imageId": format!("{repository}@{digest}")}],
        "kubernetes": {"pods": [{"ns": "shop", "name": "web-7d4f", "containers": [{"name": "app"}]}]}
    })
}

/// The GuardDuty sample event with its id and image replaced.
fn guardduty_event(id: &str, image: &str) -> Value {
    let mut event: Value = serde_json::from_str(
        &fs_err::read_to_string(
            crate::support::fixtures::root()
                .join("testdata/findings/guardduty/eventbridge-new-binary-eks.json"),
        )
        .unwrap(),
    )
    .unwrap();
    event["detail"]["id"] = json!(id);
    event["detail"]["resource"]["containerDetails"]["image"] = json!(image);
    event["detail"]["resource"]["kubernetesDetails"]["kubernetesWorkloadDetails"]["containers"]
        [0]["image"] = json!(image);
    event
}

/// The Falcosidekick sample post with its id and image replaced.
fn falco_event(uuid: &str, repository: &str, tag: &str) -> Value {
    let mut falco: Value = serde_json::from_str(
        &fs_err::read_to_string(
            crate::support::fixtures::root().join("testdata/findings/falco/falcosidekick.json"),
        )
        .unwrap(),
    )
    .unwrap();
    falco["uuid"] = json!(uuid);
    falco["output_fields"]["container.image.repository"] = json!(repository);
    falco["output_fields"]["container.image.tag"] = json!(tag);
    falco
}

fn ids(listed: &Value) -> Vec<String> {
    listed["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|found| found["id"].as_str().unwrap().to_owned())
        .collect()
}

/// A `GET /v1/findings` path with its query parameters encoded.
fn list_path(parameters: &[(&str, &str)]) -> String {
    let mut url = reqwest::Url::parse("http://service/v1/findings").unwrap();
    url.query_pairs_mut().extend_pairs(parameters);
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

#[test]
fn registries_are_fetched_only_when_allowed_once_per_image_and_again_after_a_failure() {
    let setup = Setup::new();
    let dir = setup.dir.path();
    let registry = setup.registry.host().to_owned();
    let (_, registry_port) = registry.rsplit_once(':').unwrap();
    let digest = setup.digest();
    let busybox = setup.sha("/bin/busybox");
    let relocated = || json!([crate::triage::process("/opt/tools/busybox", &busybox, None)]);
    // Ways to the one registry, each its own image reference (and so its own cache entry).
    let loopback_name = format!("localhost:{registry_port}");
    let direct = TcpRelay::start(&registry, Duration::ZERO);
    let slow = TcpRelay::start(&registry, Duration::from_millis(500));
    let slower = TcpRelay::start(&registry, Duration::from_millis(1500));
    let flaky = FaultProxy::start(&registry, vec![Fault::status("/v2/", 503)]);
    let dead = format!("127.0.0.1:{}", free_port());
    // The registry's own address is not listed; `localhost` is, but resolves to loopback.
    let mut args = base_args(
        "exelock.db",
        &[
            &loopback_name,
            &direct.host(),
            &slow.host(),
            &slower.host(),
            &flaky.host(),
            &dead,
        ],
    );
    args.extend(
        [
            "--falco-token-file",
            "secrets/falco-token",
            "--drain-seconds",
            "10",
        ]
        .map(str::to_owned),
    );
    let mut service = Service::launch(dir, &args, None);
    let findings = bearer(FINDINGS_TOKEN);

    // Refused before any request: stored as unverifiable with the refusal as the reason.
    let image_requests = || setup.registry.log().matches("/v2/fx/traps/").count();
    let requests_before = image_requests();
    assert!(requests_before > 0, "{}", tail(&setup.registry.log()));
    for (name, host, refusal) in [
        (
            "unlisted",
            registry.as_str(),
            "not on the registry allow-list",
        ),
        ("loopback", loopback_name.as_str(), "loopback"),
    ] {
        let id = scc_id(name);
        let finding = scc_finding(&id, &format!("{host}/fx/traps"), &digest, relocated());
        let (status, answer) = service.post("/v1/findings", &findings, &finding);
        assert_eq!(status, 200, "{name}: {answer} {}", service.log());
        assert_eq!(
            answer["findings"][0]["verdicts"],
            json!(["unverifiable"]),
            "{name}: {answer}"
        );
        let record = service.record("scc", &id).unwrap();
        assert_eq!(record["verdicts"], json!(["unverifiable"]), "{record}");
        assert!(
            record["report"].to_string().contains(refusal),
            "{name}: {record:#}"
        );
    }
    assert_eq!(
        image_requests(),
        requests_before,
        "{}",
        tail(&setup.registry.log())
    );

    // Twenty findings at once about an image not yet cached (its registry slow to answer)
    // cause the requests of one resolution, and twenty verdicts.
    let manifest_gets = || {
        setup
            .registry
            .log()
            .matches(&format!("\"GET /v2/fx/traps/manifests/{digest} "))
            .count()
    };
    let gets_before = manifest_gets();
    let one = scc_id("one");
    let finding = scc_finding(
        &one,
        &format!("{}/fx/traps", direct.host()),
        &digest,
        relocated(),
    );
    service.post_ok("/v1/findings", &findings, &finding);
    let per_resolution = manifest_gets() - gets_before;
    assert!(per_resolution > 0, "{}", tail(&setup.registry.log()));
    let gets_before = manifest_gets();
    let answers = service
        .runtime
        .block_on(futures_util::future::join_all((0..20).map(|index| {
            let finding = scc_finding(
                &scc_id(&format!("burst-{index}")),
                &format!("{}/fx/traps", slow.host()),
                &digest,
                relocated(),
            );
            send_post(
                &service.client,
                &service.base,
                "/v1/findings",
                &findings,
                finding.to_string().into_bytes(),
            )
        })));
    for answer in answers {
        let (status, answer) = answer.unwrap();
        assert_eq!(status, 200, "{answer} {}", service.log());
        assert_eq!(answer["findings"][0]["verdicts"], json!(["relocated"]));
        assert_eq!(answer["findings"][0]["stored"], "new");
    }
    assert_eq!(
        manifest_gets() - gets_before,
        per_resolution,
        "{}",
        tail(&setup.registry.log())
    );
    assert_eq!(
        service
            .stored()
            .iter()
            .filter(|found| found["id"].as_str().unwrap().contains("/burst-"))
            .count(),
        20
    );

    // A registry nothing listens on: 503 so the sender retries, and nothing stored.
    let id = scc_id("unreachable");
    let finding = scc_finding(&id, &format!("{dead}/fx/traps"), &digest, relocated());
    let (status, answer) = service.post("/v1/findings", &findings, &finding);
    assert_eq!(status, 503, "{answer}");
    assert!(service.record("scc", &id).is_none());

    // A registry answering 503: the same; once it answers, the redelivery is judged and stored.
    let falco = falco_event("flaky-1", &format!("{}/fx/traps", flaky.host()), "v1");
    let (status, answer) = service.post("/v1/falco", &bearer(FALCO_TOKEN), &falco);
    assert_eq!(status, 503, "{answer}");
    assert!(service.record("falco", "flaky-1").is_none());
    flaky.set_faults(Vec::new());
    let answer = service.post_ok("/v1/falco", &bearer(FALCO_TOKEN), &falco);
    assert_eq!(answer["findings"][0]["stored"], "new", "{answer}");
    assert_eq!(service.record("falco", "flaky-1").unwrap()["deliveries"], 1);

    let metrics = service.metrics();
    assert_eq!(
        metric(
            &metrics,
            r#"exelock_findings_total{source="scc",verdict="relocated"}"#
        ),
        21.0,
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            r#"exelock_findings_total{source="scc",verdict="unverifiable"}"#
        ),
        2.0,
        "{metrics}"
    );
    assert!(
        metric(&metrics, "exelock_manifest_cache_hits_total") >= 19.0,
        "{metrics}"
    );
    // The two refusals, the unreachable registry, the 503.
    assert!(
        metric(&metrics, "exelock_fetch_errors_total") >= 4.0,
        "{metrics}"
    );

    // SIGTERM with a finding in flight (its registry slower still): the listener closes at once,
    // the finding gets its verdict, the process exits 0 within --drain-seconds.
    let in_flight = {
        let base = service.base.clone();
        let finding = scc_finding(
            &scc_id("in-flight"),
            &format!("{}/fx/traps", slower.host()),
            &digest,
            relocated(),
        );
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let answer = runtime.block_on(send_post(
                &reqwest::Client::new(),
                &base,
                "/v1/findings",
                &bearer(FINDINGS_TOKEN),
                finding.to_string().into_bytes(),
            ));
            (answer, Instant::now())
        })
    };
    wait_until(
        Duration::from_secs(10),
        || "the finding never reached the registry".to_owned(),
        || slower.accepted() > 0,
    );
    service.terminate();
    let terminated = Instant::now();
    wait_until(
        Duration::from_secs(5),
        || "the service still accepts connections after SIGTERM".to_owned(),
        || {
            std::net::TcpStream::connect(("127.0.0.1", service.port))
                .is_err_and(|error| error.kind() == std::io::ErrorKind::ConnectionRefused)
        },
    );
    let refused = Instant::now();
    let (answer, answered) = in_flight.join().unwrap();
    let (status, answer) = answer.unwrap();
    assert_eq!(status, 200, "{answer} {}", service.log());
    assert_eq!(answer["findings"][0]["verdicts"], json!(["relocated"]));
    assert!(answered > refused, "answered before the listener closed");
    let exit = service
        .wait_exit(Duration::from_secs(10).saturating_sub(terminated.elapsed()))
        .unwrap_or_else(|| panic!("still running after --drain-seconds: {}", service.log()));
    assert_eq!(exit.code(), Some(0), "{}", service.log());
}

#[test]
fn bodies_and_reads_are_checked() {
    let dir = keyed_dir();
    let dir = dir.path();
    let mut args = base_args("exelock.db", &["registry.example"]);
    args.extend(["--max-body-bytes", "4096"].map(str::to_owned));
    let service = Service::launch(dir, &args, None);
    assert_eq!(service.try_get("/healthz", None).unwrap().0, 200);
    let findings = bearer(FINDINGS_TOKEN);
    let digest = format!("sha256:{}", "ab".repeat(32));
    let foreign = || json!([crate::triage::process("/tmp/x", &"cd".repeat(32), None)]);

    // Findings on a registry that is not allowed: judged (unverifiable) without a fetch.
    let first = scc_id("first");
    service.post_ok(
        "/v1/findings",
        &findings,
        &scc_finding(&first, "elsewhere.example/app/one", &digest, foreign()),
    );
    let first_image = service.record("scc", &first).unwrap()["image"].clone();
    let first_image = first_image.as_str().unwrap().to_owned();
    // Times are stored in milliseconds: `since` a millisecond after the first was stored.
    let since = SystemTime::now() + Duration::from_millis(1);
    while SystemTime::now() <= since {
        std::thread::sleep(Duration::from_millis(1));
    }
    let since = jiff::Timestamp::try_from(since).unwrap().to_string();
    let second = scc_id("second");
    service.post_ok(
        "/v1/findings",
        &findings,
        &scc_finding(&second, "elsewhere.example/app/two", &digest, foreign()),
    );

    let list = |parameters: &[(&str, &str)]| {
        let (status, listed) = service.get(&list_path(parameters));
        assert_eq!(status, 200, "{parameters:?}: {listed}");
        ids(&listed)
    };
    assert_eq!(list(&[]), [second.as_str(), first.as_str()]);
    assert_eq!(list(&[("since", &since)]), [second.as_str()]);
    assert_eq!(list(&[("image", &first_image)]), [first.as_str()]);
    assert!(list(&[("since", &since), ("image", &first_image)]).is_empty());
    assert_eq!(
        list(&[("verdict", "unverifiable"), ("limit", "1")]),
        [second.as_str()]
    );

    // Reading needs the read token; the answer never echoes it.
    for path in [
        "/v1/findings".to_owned(),
        format!("/v1/findings/scc/{first}"),
        "/v1/bake/elsewhere.example/app/one".to_owned(),
    ] {
        for token in [None, Some("wrong-token"), Some(FINDINGS_TOKEN)] {
            let (status, body) = service.try_get(&path, token).unwrap();
            assert_eq!(status, 401, "{path} {token:?}: {body}");
            assert!(!body.contains(READ_TOKEN), "{body}");
        }
    }
    let (status, body) = service.get("/v1/findings/sentinel/some-id");
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("sentinel"),
        "{body}"
    );

    // Over --max-body-bytes: 413; not JSON: 400 naming the problem; neither stored.
    let mut padded = scc_finding(
        &scc_id("padded"),
        "elsewhere.example/app/one",
        &digest,
        foreign(),
    );
    padded["description"] = json!("x".repeat(5000));
    let (status, body) = service.post("/v1/findings", &findings, &padded);
    assert_eq!(status, 413, "{body}");
    let (status, body) =
        service.post_bytes("/v1/findings", &findings, b"this is not JSON".to_vec());
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("JSON"), "{body}");
    assert_eq!(list(&[]).len(), 2);
}

/// Answers the first `failures` requests 500 and the rest 200, keeping every body.
struct WebhookReceiver {
    url: String,
    received: Arc<Mutex<Vec<Value>>>,
}

impl WebhookReceiver {
    fn start(failures: usize) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/services/T0/B0/hook-secret-path",
            listener.local_addr().unwrap()
        );
        let received = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(body) = read_request_body(&mut stream) else {
                    continue;
                };
                let count = {
                    let mut kept = kept.lock().unwrap();
                    kept.push(parsed(String::from_utf8_lossy(&body).into_owned()));
                    kept.len()
                };
                let status = if count <= failures {
                    "500 Internal Server Error"
                } else {
                    "200 OK"
                };
                let _ = std::io::Write::write_all(
                    &mut stream,
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .as_bytes(),
                );
            }
        });
        Self { url, received }
    }

    fn received(&self) -> Vec<Value> {
        self.received.lock().unwrap().clone()
    }
}

/// The body of one HTTP/1.1 request with a `content-length`.
fn read_request_body(stream: &mut std::net::TcpStream) -> Option<Vec<u8>> {
    use std::io::{BufRead as _, Read as _};
    let mut reader = std::io::BufReader::new(stream);
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(body)
}

#[test]
fn needs_action_alerts_reach_the_webhook_once_after_retries() {
    let setup = Setup::new();
    let dir = setup.dir.path();
    let host = setup.registry.host().to_owned();
    let receiver = WebhookReceiver::start(2);
    fs_err::write(dir.join("webhook-url"), format!("{}\n", receiver.url)).unwrap();
    let mut args = base_args("exelock.db", &[&host]);
    args.extend(
        [
            "--guardduty-api-key-file",
            "secrets/guardduty-key",
            "--webhook-url-file",
            "webhook-url",
        ]
        .map(str::to_owned),
    );
    let service = Service::launch(dir, &args, None);
    let image = format!("{host}/fx/traps@{}", setup.digest());
    let api_key = [("x-api-key", API_KEY.to_owned())];

    // A legitimate binary: no alert.
    let legitimate = scc_id("legitimate");
    let finding = scc_finding(
        &legitimate,
        &format!("{host}/fx/traps"),
        &setup.digest(),
        json!([crate::triage::process(
            "/opt/tools/busybox",
            &setup.sha("/bin/busybox"),
            None
        )]),
    );
    let answer = service.post_ok("/v1/findings", &bearer(FINDINGS_TOKEN), &finding);
    assert_eq!(answer["findings"][0]["needsAction"], false, "{answer}");

    // A foreign binary: the alert arrives on the third attempt.
    let event = guardduty_event("gd-foreign", &image);
    let answer = service.post_ok("/v1/guardduty", &api_key, &event);
    assert_eq!(answer["findings"][0]["needsAction"], true, "{answer}");
    wait_until(
        Duration::from_secs(15),
        || format!("{:?} {}", receiver.received(), service.log()),
        || receiver.received().len() >= 3,
    );

    // Its redelivery updates the record and alerts no one; a second foreign finding alerts.
    let answer = service.post_ok("/v1/guardduty", &api_key, &event);
    assert_eq!(answer["findings"][0]["stored"], "updated", "{answer}");
    service.post_ok(
        "/v1/guardduty",
        &api_key,
        &guardduty_event("gd-second", &image),
    );
    wait_until(
        Duration::from_secs(15),
        || format!("{:?}", receiver.received()),
        || receiver.received().len() >= 4,
    );

    let received = receiver.received();
    let texts: Vec<&str> = received
        .iter()
        .map(|body| {
            assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
            body["text"].as_str().unwrap()
        })
        .collect();
    assert_eq!(texts.len(), 4, "{texts:#?}");
    assert!(
        texts[..3].iter().all(|text| *text == texts[0]),
        "{texts:#?}"
    );
    assert!(
        texts[0].contains("gd-foreign") && texts[0].contains("foreign"),
        "{texts:#?}"
    );
    assert!(texts[3].contains("gd-second"), "{texts:#?}");
    let alerted: Vec<Value> = service
        .alerts()
        .iter()
        .map(|report| report["id"].clone())
        .collect();
    assert_eq!(alerted, [json!("gd-foreign"), json!("gd-second")]);
    assert!(
        !service.log().contains("hook-secret-path"),
        "{}",
        service.log()
    );
}

#[test]
fn mutual_tls_admits_only_clients_the_ca_signed() {
    let dir = keyed_dir();
    let dir = dir.path();
    let pki = dir.join("pki");
    fs_err::create_dir_all(&pki).unwrap();
    let authority = Certificate::authority(&pki, "ca");
    let other_authority = Certificate::authority(&pki, "other-ca");
    authority.issue(&pki, "server", Usage::Server);
    authority.issue(&pki, "falcosidekick", Usage::Client);
    other_authority.issue(&pki, "stranger", Usage::Client);
    let ca = authority.cert;
    let client = |identity: Option<&str>| {
        let mut builder = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&fs_err::read(&ca).unwrap()).unwrap()]);
        if let Some(name) = identity {
            let mut pem = fs_err::read(pki.join(format!("{name}.key"))).unwrap();
            pem.extend(fs_err::read(pki.join(format!("{name}.pem"))).unwrap());
            builder = builder.identity(reqwest::Identity::from_pem(&pem).unwrap());
        }
        builder.build().unwrap()
    };
    let mut args = base_args("exelock.db", &["registry.example"]);
    args.extend(
        [
            "--tls-cert",
            "pki/server.pem",
            "--tls-key",
            "pki/server.key",
            "--tls-client-ca",
            "pki/ca.pem",
        ]
        .map(str::to_owned),
    );
    let service = Service::launch(dir, &args, Some(client(Some("falcosidekick"))));

    for (uuid, identity) in [("anonymous", None), ("stranger", Some("stranger"))] {
        let falco = falco_event(uuid, "elsewhere.example/tools/runner", "v1");
        let refused = service.runtime.block_on(send_post(
            &client(identity),
            &service.base,
            "/v1/falco",
            &[],
            falco.to_string().into_bytes(),
        ));
        assert!(refused.is_err(), "{uuid}: {refused:?}");
    }
    let falco = falco_event("signed", "elsewhere.example/tools/runner", "v1");
    service.post_ok("/v1/falco", &[], &falco);
    assert_eq!(ids(&json!({"findings": service.stored()})), ["signed"]);
}

#[test]
fn a_store_that_cannot_open_stops_the_start() {
    let dir = keyed_dir();
    let dir = dir.path();
    write_secrets(dir);
    let port = free_port();
    let db = format!("postgres://exelock:hunter2-secret@127.0.0.1:{port}/exelock");
    let log = dir.join("serve.log");
    let mut child = exelock_process_in(dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(base_args(&db, &["registry.example"]))
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            fs_err::File::create(&log).unwrap().into_parts().0,
        ))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve kept running without its database");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = fs_err::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot open database") && stderr.contains(&format!("127.0.0.1:{port}")),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn readiness_and_findings_follow_the_postgresql_store() {
    let Some(url) = postgres_url() else {
        return;
    };
    let dir = keyed_dir();
    let dir = dir.path();
    let mut relayed = reqwest::Url::parse(&url).unwrap();
    let server = std::net::ToSocketAddrs::to_socket_addrs(&(
        relayed.host_str().unwrap(),
        relayed.port().unwrap_or(5432),
    ))
    .unwrap()
    .next()
    .unwrap();
    let relay = TcpRelay::start(&server.to_string(), Duration::ZERO);
    relayed.set_port(Some(relay.port)).unwrap();
    let service = Service::launch(
        dir,
        &base_args(relayed.as_str(), &["registry.example"]),
        None,
    );
    let tag = format!("{}-{}", now(), free_port());
    let finding = |name: &str| {
        scc_finding(
            &scc_id(&format!("{name}-{tag}")),
            "elsewhere.example/app/one",
            &format!("sha256:{}", "ab".repeat(32)),
            json!([crate::triage::process("/tmp/x", &"cd".repeat(32), None)]),
        )
    };
    let findings = bearer(FINDINGS_TOKEN);
    service.post_ok("/v1/findings", &findings, &finding("before"));

    relay.cut();
    let (status, body) = service.try_get("/readyz", None).unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(!body.contains("devpass"), "{body}");
    let during = finding("during");
    let (status, answer) = service.post("/v1/findings", &findings, &during);
    assert_eq!(status, 503, "{answer}");
    assert_eq!(service.try_get("/healthz", None).unwrap().0, 200);

    relay.restore();
    wait_until(
        Duration::from_secs(15),
        || service.log(),
        || matches!(service.try_get("/readyz", None), Ok((200, _))),
    );
    let answer = service.post_ok("/v1/findings", &findings, &during);
    assert_eq!(answer["findings"][0]["stored"], "new", "{answer}");
    assert!(!service.log().contains("devpass"), "{}", service.log());
}
