//! `exelock serve` end to end, as a fleet uses it: the real binary listening on loopback, an
//! attested image in a real registry, findings pushed in each source's own envelope with its
//! own authentication (a Pub/Sub push signed RS256 by a key served as a JWKS file, a GuardDuty
//! EventBridge event with an API key, a Falcosidekick post with a bearer token), verdicts read
//! back from the store (SQLite, and the suite's PostgreSQL), and the bake list closing the loop
//! through `gate --bake URL`.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::registry::free_port;
use crate::triage::Setup;

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

fn serve_command(dir: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("exelock"));
    command.current_dir(dir).env("DOCKER_CONFIG", dir);
    command
}

/// A running `exelock serve`; stopped with SIGTERM when dropped.
struct Service {
    child: Child,
    base: String,
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    log: PathBuf,
}

impl Service {
    fn start(dir: &Path, db: &str, registry_host: &str) -> Self {
        let port = free_port();
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
        let log = dir.join(format!("serve-{port}.log"));
        let child = serve_command(dir)
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--db",
                db,
            ])
            .args(["--key", "cosign.pub", "--allow-registry", registry_host])
            .args([
                "--scc-audience",
                AUDIENCE,
                "--scc-service-account",
                PUSH_ACCOUNT,
            ])
            .args(["--scc-jwks", "jwks.json"])
            .args(["--guardduty-api-key-file", "secrets/guardduty-key"])
            .args(["--falco-token-file", "secrets/falco-token"])
            .args(["--findings-token-file", "secrets/findings-token"])
            .args(["--read-token-file", "secrets/read-token"])
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
        let service = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            client: reqwest::Client::new(),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, _)) = service.try_get("/readyz", None) {
                return service;
            }
            assert!(
                Instant::now() < deadline,
                "the service did not become ready: {}",
                service.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self) -> String {
        fs_err::read_to_string(&self.log).unwrap_or_default()
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
        (
            status,
            serde_json::from_str(&body).unwrap_or(Value::String(body)),
        )
    }

    fn post(&self, path: &str, headers: &[(&str, String)], body: &Value) -> (u16, Value) {
        self.runtime.block_on(async {
            let mut request = self
                .client
                .post(format!("{}{path}", self.base))
                .header("content-type", "application/json")
                .body(body.to_string());
            for (name, value) in headers {
                request = request.header(*name, value);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            (
                status,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            )
        })
    }

    fn stored(&self) -> Vec<Value> {
        let (status, body) = self.get("/v1/findings?limit=1000");
        assert_eq!(status, 200, "{body}");
        body["findings"].as_array().unwrap().clone()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
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

/// The databases the service is tested on: SQLite always, and the suite's PostgreSQL server
/// (scripts/test.sh starts it); in CI a missing server is a failure, not a skip.
fn databases(dir: &Path) -> Vec<String> {
    let mut out = vec![dir.join("exelock.db").display().to_string()];
    match std::env::var("EXELOCK_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => out.push(url),
        _ => assert!(
            std::env::var_os("CI").is_none(),
            "EXELOCK_TEST_POSTGRES_URL is not set: scripts/test.sh starts PostgreSQL for these tests"
        ),
    }
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
        // Stores shared between runs (PostgreSQL) start from what earlier runs left.
        let before = service.stored().len();
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
        let (status, answer) = service.post("/v1/scc", &signed, &push);
        assert_eq!(status, 200, "{answer} {}", service.log());
        assert_eq!(
            answer["findings"][0]["verdicts"],
            json!(["relocated"]),
            "{answer}"
        );
        assert_eq!(answer["findings"][0]["stored"], "new", "{answer}");
        // The redelivery updates the one record.
        let (status, answer) = service.post("/v1/scc", &signed, &push);
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["findings"][0]["stored"], "updated", "{answer}");

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
        let mut event: Value = serde_json::from_str(
            &fs_err::read_to_string(
                crate::support::fixtures::root()
                    .join("testdata/findings/guardduty/eventbridge-new-binary-eks.json"),
            )
            .unwrap(),
        )
        .unwrap();
        event["detail"]["id"] = json!(format!("gd-{tag}"));
        let image = format!("{host}/fx/traps@{}", setup.digest());
        event["detail"]["resource"]["containerDetails"]["image"] = json!(image);
        event["detail"]["resource"]["kubernetesDetails"]["kubernetesWorkloadDetails"]["containers"]
            [0]["image"] = json!(image);
        let (status, answer) = service.post(
            "/v1/guardduty",
            &[("x-api-key", "gd-key-wrong".to_owned())],
            &event,
        );
        assert_eq!(status, 401, "{answer}");
        let (status, answer) = service.post(
            "/v1/guardduty",
            &[("x-api-key", API_KEY.to_owned())],
            &event,
        );
        assert_eq!(status, 200, "{answer} {}", service.log());
        assert_eq!(answer["findings"][0]["needsAction"], true, "{answer}");

        // Falcosidekick with its bearer token.
        let mut falco: Value = serde_json::from_str(
            &fs_err::read_to_string(
                crate::support::fixtures::root().join("testdata/findings/falco/falcosidekick.json"),
            )
            .unwrap(),
        )
        .unwrap();
        falco["uuid"] = json!(format!("falco-{tag}"));
        falco["output_fields"]["container.image.repository"] = json!(format!("{host}/fx/traps"));
        falco["output_fields"]["container.image.tag"] = json!("v1");
        let (status, answer) = service.post("/v1/falco", &bearer("wrong"), &falco);
        assert_eq!(status, 401, "{answer}");
        let (status, answer) = service.post("/v1/falco", &bearer(FALCO_TOKEN), &falco);
        assert_eq!(status, 200, "{answer} {}", service.log());

        // A poison message is a 400 that names the problem.
        let (status, answer) = service.post(
            "/v1/scc",
            &signed,
            &json!({"message": {"data": "%%% not base64"}}),
        );
        assert_eq!(status, 400, "{answer}");

        // Stored: three new findings, the redelivered one once with two deliveries.
        let stored = service.stored();
        assert_eq!(stored.len(), before + 3, "{stored:#?}");
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
            crate::triage::exelock(dir)
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
