//! A real local OCI registry (CNCF distribution 2.8, Debian's
//! `docker-registry`) per test, in one of four modes, plus an in-process
//! token issuer for distribution's `auth: token` mode and a `skopeo` based
//! push helper.
//!
//! ```ignore
//! let reg = Registry::start(Mode::basic("alice", "s3cret"));
//! reg.push_oci_layout("oci:testdata/images/traps:latest", "traps:latest");
//! // run the CLI against format!("{}/traps:latest", reg.host()) ...
//! ```
//!
//! Process hygiene: the registry is started through a tiny `sh` watchdog
//! whose stdin is a pipe from this process. Dropping the [`Registry`] closes
//! that pipe and the watchdog SIGKILLs the registry and reaps it; the same
//! happens if the test process dies without running destructors (even on
//! SIGKILL), so no `docker-registry` outlives the test that started it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use tempfile::TempDir;
use tokio::io::{AsyncWriteExt, BufReader};

use super::certificates::{Certificate, Usage};
use super::http::{self, BackgroundServer};

/// The registry binary (Debian package `docker-registry`).
pub const REGISTRY_BIN: &str = "docker-registry";
/// `service` of the token-auth registry (the JWT `aud`).
pub const TOKEN_SERVICE: &str = "exelock-test-registry";
/// `issuer` of the token-auth registry (the JWT `iss`).
pub const TOKEN_ISSUER: &str = "exelock-test-issuer";
/// Realm of the htpasswd-auth registry.
pub const BASIC_REALM: &str = "exelock-test-registry";

const READY_TIMEOUT: Duration = Duration::from_secs(20);
const START_ATTEMPTS: usize = 5;

/// User name and password of a registry that wants authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
}

impl Credentials {
    /// `user:password`, as skopeo's `--creds` wants it.
    pub fn colon_joined(&self) -> String {
        format!("{}:{}", self.user, self.password)
    }

    /// The value of an `Authorization: Basic …` header.
    pub fn basic_authorization(&self) -> String {
        format!("Basic {}", STANDARD.encode(self.colon_joined()))
    }
}

/// How the registry is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Plain HTTP, no authentication.
    Plain,
    /// Plain HTTP, HTTP Basic authentication against a bcrypt htpasswd file.
    Basic {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
    /// HTTPS (leaf certificate signed by a generated CA, see
    /// [`Registry::ca_pem_path`]), no authentication.
    Tls,
    /// Plain HTTP, distribution's `auth: token` with an in-process issuer
    /// that accepts these credentials (HTTP Basic at the token endpoint).
    Token {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
}

impl Mode {
    /// `Mode::Basic` from string slices.
    pub fn basic(user: &str, password: &str) -> Mode {
        Mode::Basic {
            user: user.to_string(),
            password: password.to_string(),
        }
    }

    /// `Mode::Token` from string slices.
    pub fn token(user: &str, password: &str) -> Mode {
        Mode::Token {
            user: user.to_string(),
            password: password.to_string(),
        }
    }

    fn credentials(&self) -> Option<Credentials> {
        match self {
            Mode::Basic { user, password } | Mode::Token { user, password } => Some(Credentials {
                user: user.clone(),
                password: password.clone(),
            }),
            Mode::Plain | Mode::Tls => None,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::Basic { .. } => "basic",
            Mode::Tls => "tls",
            Mode::Token { .. } => "token",
        }
    }
}

/// One running `docker-registry serve` process with its own storage; stopped
/// (and its temp dir removed) on drop.
pub struct Registry {
    mode: Mode,
    host: String,
    registry_pid: u32,
    watchdog: Option<Child>,
    log_path: PathBuf,
    ca_pem: Option<PathBuf>,
    cert_dir: Option<PathBuf>,
    issuer: Option<TokenIssuer>,
    startup_time: Duration,
    // Last: removed after the process is gone.
    dir: TempDir,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("mode", &self.mode.name())
            .field("host", &self.host)
            .field("pid", &self.registry_pid)
            .field("dir", &self.dir.path())
            .finish()
    }
}

enum Readiness {
    Ready,
    Exited(String),
    TimedOut,
}

impl Registry {
    /// Starts a registry in `mode` on a free loopback port and waits until
    /// `GET /v2/` answers. Panics (with the registry log) if it does not come
    /// up within 20 s.
    pub fn start(mode: Mode) -> Registry {
        let started = Instant::now();
        let dir = tempfile::Builder::new()
            .prefix(&format!("exelock-registry-{}-", mode.name()))
            .tempdir()
            .unwrap_or_else(|e| panic!("registry: cannot create a temp dir: {e}"));
        let root = dir.path().to_path_buf();
        let storage = root.join("storage");
        make_dir(&storage);

        // Mode specific material and the `auth`/`tls` parts of the config.
        let mut extra_http = String::new();
        let mut auth = String::new();
        let mut ca_pem = None;
        let mut cert_dir = None;
        let mut issuer = None;
        match &mode {
            Mode::Plain => {}
            Mode::Basic { user, password } => {
                let out = run(
                    Command::new("htpasswd").args(["-Bbn", user, password]),
                    "htpasswd -Bbn",
                );
                let htpasswd = root.join("htpasswd");
                write_file(&htpasswd, &out.stdout);
                auth = format!(
                    "auth:\n  htpasswd:\n    realm: {}\n    path: {}\n",
                    yaml_str(BASIC_REALM),
                    yaml_path(&htpasswd)
                );
            }
            Mode::Tls => {
                let tls = TlsFiles::generate(&root.join("tls"));
                extra_http = format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    yaml_path(&tls.leaf_cert),
                    yaml_path(&tls.leaf_key)
                );
                // skopeo's --cert-dir wants a directory holding `ca.crt`.
                let skopeo_dir = root.join("skopeo-certs");
                make_dir(&skopeo_dir);
                copy_file(&tls.ca_cert, &skopeo_dir.join("ca.crt"));
                ca_pem = Some(tls.ca_cert);
                cert_dir = Some(skopeo_dir);
            }
            Mode::Token { user, password } => {
                let token_issuer = TokenIssuer::start(
                    &root.join("issuer"),
                    Credentials {
                        user: user.clone(),
                        password: password.clone(),
                    },
                    TOKEN_SERVICE,
                    TOKEN_ISSUER,
                );
                auth = format!(
                    "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                    yaml_str(&token_issuer.realm()),
                    yaml_str(TOKEN_SERVICE),
                    yaml_str(TOKEN_ISSUER),
                    yaml_path(token_issuer.cert_pem_path())
                );
                issuer = Some(token_issuer);
            }
        }

        let config_path = root.join("config.yml");
        let log_path = root.join("registry.log");
        let watchdog_path = root.join("watchdog.sh");
        write_file(&watchdog_path, WATCHDOG_SH.as_bytes());
        let pid_path = root.join("registry.pid");

        let mut failures = Vec::new();
        for attempt in 1..=START_ATTEMPTS {
            let port = free_port();
            let host = format!("127.0.0.1:{port}");
            let config = format!(
                "version: 0.1\n\
                 log:\n  level: warn\n  formatter: text\n\
                 storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n  \
                 maintenance:\n    uploadpurging:\n      enabled: false\n\
                 http:\n  addr: {host}\n  secret: exelock-test-http-secret\n{extra_http}\
                 {auth}",
                storage = yaml_path(&storage),
                host = yaml_str(&host),
            );
            write_file(&config_path, config.as_bytes());
            let _ = fs_err::remove_file(&pid_path);
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .unwrap_or_else(|e| panic!("registry: cannot open {}: {e}", log_path.display()));
            let log_err = log
                .try_clone()
                .unwrap_or_else(|e| panic!("registry: cannot clone log handle: {e}"));
            let mut watchdog = Command::new("sh")
                .arg(&watchdog_path)
                .arg(REGISTRY_BIN)
                .arg(&config_path)
                .arg(&pid_path)
                .stdin(Stdio::piped())
                .stdout(log)
                .stderr(log_err)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "registry: cannot spawn `sh {}`: {e}",
                        watchdog_path.display()
                    )
                });

            match wait_ready(&mut watchdog, &host, &mode) {
                Readiness::Ready => {
                    let registry_pid = read_pid(&pid_path, &log_path);
                    let mut registry = Registry {
                        startup_time: Duration::ZERO,
                        mode,
                        host,
                        registry_pid,
                        watchdog: Some(watchdog),
                        log_path,
                        ca_pem,
                        cert_dir,
                        issuer,
                        dir,
                    };
                    registry.startup_time = started.elapsed();
                    return registry;
                }
                Readiness::Exited(status) => {
                    let log = read_lossy(&log_path);
                    // Another process may have taken the port between our
                    // probe and the registry's bind: try another one.
                    if log.contains("address already in use") && attempt < START_ATTEMPTS {
                        failures.push(format!("attempt {attempt}: port {port} in use"));
                        write_file(&log_path, b"");
                        continue;
                    }
                    panic!(
                        "registry ({} mode) exited during start-up ({status}); config:\n{config}\nlog {}:\n{log}",
                        mode.name(),
                        log_path.display()
                    );
                }
                Readiness::TimedOut => {
                    stop_watchdog(&mut watchdog, None);
                    panic!(
                        "registry ({} mode) on {host} did not answer GET /v2/ within {READY_TIMEOUT:?}; config:\n{config}\nlog {}:\n{}",
                        mode.name(),
                        log_path.display(),
                        read_lossy(&log_path)
                    );
                }
            }
        }
        panic!("registry: could not start after {START_ATTEMPTS} attempts: {failures:?}");
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The mode it was started in.
    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        if self.mode == Mode::Tls {
            "https"
        } else {
            "http"
        }
    }

    /// How long [`Registry::start`] took (certificates, issuer, process,
    /// readiness).
    pub fn startup_time(&self) -> Duration {
        self.startup_time
    }

    /// PID of the `docker-registry` process.
    pub fn pid(&self) -> u32 {
        self.registry_pid
    }

    /// The per-registry temp dir (storage, config, log, certificates).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Where the registry stores the blob with this `sha256:` digest (distribution's
    /// filesystem driver layout), for tests that change stored bytes behind its back.
    pub fn blob_data_path(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// Rewrites the stored blob `digest` in place, same length, with 8 bytes flipped 16 bytes
    /// into the first occurrence of `inside`: the registry then serves other bytes under the
    /// blob's digest, as a tampered or broken store would.
    pub fn tamper_with_stored_blob(&self, digest: &str, inside: &[u8]) {
        let stored = self.blob_data_path(digest);
        let mut bytes = fs_err::read(&stored).unwrap();
        let at = bytes
            .windows(inside.len())
            .position(|window| window == inside)
            .expect("the bytes to tamper with are in the stored blob");
        for byte in &mut bytes[at + 16..at + 24] {
            *byte ^= 0xff;
        }
        fs_err::write(&stored, &bytes).unwrap();
    }

    /// TLS mode: the PEM file of the CA that signed the server certificate.
    pub fn ca_pem_path(&self) -> Option<&Path> {
        self.ca_pem.as_deref()
    }

    /// TLS mode: a directory holding `ca.crt` (for skopeo's `--cert-dir`).
    pub fn cert_dir(&self) -> Option<&Path> {
        self.cert_dir.as_deref()
    }

    /// Basic and token modes: the accepted credentials.
    pub fn credentials(&self) -> Option<Credentials> {
        self.mode.credentials()
    }

    /// Token mode: the in-process token issuer.
    pub fn token_issuer(&self) -> Option<&TokenIssuer> {
        self.issuer.as_ref()
    }

    /// Token mode: number of requests the token issuer has received
    /// (0 in other modes).
    pub fn token_requests(&self) -> usize {
        self.issuer.as_ref().map_or(0, TokenIssuer::requests)
    }

    /// The registry's stdout/stderr so far (access log and warnings).
    pub fn log(&self) -> String {
        read_lossy(&self.log_path)
    }

    /// Pushes an OCI layout reference (e.g. `oci:testdata/images/traps:latest`;
    /// a relative path is taken relative to the crate root) to
    /// `docker://HOST/dest` with `skopeo copy --all --preserve-digests`.
    /// Panics with skopeo's stderr (and the registry log) on failure.
    pub fn push_oci_layout(&self, layout_ref: &str, dest: &str) {
        self.push_oci_layout_via(&self.host, layout_ref, dest);
    }

    /// Like [`Registry::push_oci_layout`], but talks to `via_host` (e.g. a
    /// [`FaultProxy`](super::faults::FaultProxy) in front of this registry)
    /// with this registry's TLS/credential flags.
    pub fn push_oci_layout_via(&self, via_host: &str, layout_ref: &str, dest: &str) {
        let src = absolute_oci_ref(layout_ref);
        let mut cmd = Command::new("skopeo");
        cmd.args([
            "--insecure-policy",
            "copy",
            "--all",
            "--preserve-digests",
            "--retry-times",
            "0",
        ]);
        cmd.args(self.skopeo_flags("--dest-"));
        cmd.arg(&src).arg(format!("docker://{via_host}/{dest}"));
        self.run_skopeo(&mut cmd, &format!("skopeo copy {src} -> {via_host}/{dest}"));
    }

    /// `skopeo inspect --raw docker://HOST/reference` with the right TLS and
    /// credential flags: the raw manifest (or index) bytes as served.
    /// `reference` is `name:tag` or `name@sha256:…`.
    pub fn skopeo_inspect_raw(&self, reference: &str) -> Vec<u8> {
        self.skopeo_inspect_raw_via(&self.host, reference)
    }

    /// Like [`Registry::skopeo_inspect_raw`], but through `via_host`.
    pub fn skopeo_inspect_raw_via(&self, via_host: &str, reference: &str) -> Vec<u8> {
        let mut cmd = Command::new("skopeo");
        cmd.args([
            "--insecure-policy",
            "inspect",
            "--raw",
            "--retry-times",
            "0",
        ]);
        cmd.args(self.skopeo_flags("--"));
        cmd.arg(format!("docker://{via_host}/{reference}"));
        self.run_skopeo(
            &mut cmd,
            &format!("skopeo inspect --raw {via_host}/{reference}"),
        )
        .stdout
    }

    /// skopeo flags for this registry; `prefix` is `--dest-`, `--src-` or `--`.
    pub fn skopeo_flags(&self, prefix: &str) -> Vec<String> {
        let mut flags = Vec::new();
        match &self.cert_dir {
            Some(dir) => flags.push(format!("{prefix}cert-dir={}", dir.display())),
            None => flags.push(format!("{prefix}tls-verify=false")),
        }
        if let Some(creds) = self.credentials() {
            flags.push(format!("{prefix}creds={}", creds.colon_joined()));
        }
        flags
    }

    fn run_skopeo(&self, cmd: &mut Command, what: &str) -> Output {
        // Keep skopeo away from the user's auth files and registries.conf.d.
        cmd.env(
            "REGISTRY_AUTH_FILE",
            self.dir.path().join("skopeo-auth.json"),
        );
        run_with_log(cmd, what, || self.log())
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            stop_watchdog(&mut watchdog, Some(self.registry_pid));
        }
        // Then: the issuer (if any) stops, the temp dir is removed.
    }
}

/// Runs `docker-registry serve CONFIG` in the background, writes its pid,
/// and SIGKILLs it as soon as our stdin closes (Registry dropped, or this
/// test process died). Exits with the registry's status once it is gone.
const WATCHDOG_SH: &str = r#"
bin=$1; config=$2; pidfile=$3
exec 3<&0 </dev/null
"$bin" serve "$config" 3<&- &
pid=$!
echo "$pid" > "$pidfile"
( read -r _ignored <&3; kill -KILL "$pid" 2>/dev/null ) &
guard=$!
exec 3<&-
wait "$pid"
status=$?
kill "$guard" 2>/dev/null
exit "$status"
"#;

/// Closes the watchdog's stdin (which makes it SIGKILL the registry), waits
/// for it; falls back to killing both directly.
fn stop_watchdog(watchdog: &mut Child, registry_pid: Option<u32>) {
    drop(watchdog.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match watchdog.try_wait() {
            Ok(Some(_)) => return,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => break,
        }
    }
    if let Some(pid) = registry_pid {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    let _ = watchdog.kill();
    let _ = watchdog.wait();
}

fn wait_ready(watchdog: &mut Child, host: &str, mode: &Mode) -> Readiness {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(Some(status)) = watchdog.try_wait() {
            return Readiness::Exited(status.to_string());
        }
        if let Ok(resp) = http::get(host, "/v2/", &[]) {
            let ready = match mode {
                // Go's TLS server answers plain HTTP with this 400.
                Mode::Tls => resp.status == 400 && resp.text().contains("HTTPS"),
                _ => resp.status == 200 || resp.status == 401,
            };
            if ready {
                return Readiness::Ready;
            }
        }
        if Instant::now() >= deadline {
            return Readiness::TimedOut;
        }
        std::thread::sleep(Duration::from_millis(15));
    }
}

fn read_pid(pid_path: &Path, log_path: &Path) -> u32 {
    // The watchdog writes the pid right after spawning, long before the
    // registry answers; still, be tolerant of a half-written file.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        if let Ok(text) = fs_err::read_to_string(pid_path)
            && let Ok(pid) = text.trim().parse()
        {
            return pid;
        }
        if Instant::now() > deadline {
            panic!(
                "registry: no pid in {}; log:\n{}",
                pid_path.display(),
                read_lossy(log_path)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap_or_else(|e| panic!("cannot bind a loopback port: {e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("no local address: {e}"))
        .port()
}

/// `oci:relative/path:tag` → `oci:/crate/root/relative/path:tag`.
fn absolute_oci_ref(layout_ref: &str) -> String {
    match layout_ref.strip_prefix("oci:") {
        Some(rest) if !rest.starts_with('/') => {
            format!("oci:{}/{rest}", env!("CARGO_MANIFEST_DIR"))
        }
        _ => layout_ref.to_string(),
    }
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

/// Runs a command, panicking with its stderr if it fails.
pub(crate) fn run(cmd: &mut Command, what: &str) -> Output {
    run_with_log(cmd, what, String::new)
}

/// Like [`run`]; a failure also shows what `log` returns (e.g. the registry's log).
fn run_with_log(cmd: &mut Command, what: &str, log: impl FnOnce() -> String) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\nstderr:\n{}\nstdout:\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout),
            match log() {
                log if log.is_empty() => String::new(),
                log => format!("\nregistry log:\n{log}"),
            }
        );
    }
    out
}

fn make_dir(path: &Path) {
    fs_err::create_dir_all(path).unwrap_or_else(|e| panic!("{e}"));
}

fn write_file(path: &Path, bytes: &[u8]) {
    fs_err::write(path, bytes).unwrap_or_else(|e| panic!("{e}"));
}

fn copy_file(from: &Path, to: &Path) {
    fs_err::copy(from, to).unwrap_or_else(|e| panic!("{e}"));
}

/// File contents as (lossy) UTF-8, or a note saying why it can't be read.
fn read_lossy(path: &Path) -> String {
    match fs_err::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => format!("<{e}>"),
    }
}

/// A YAML double-quoted scalar (JSON strings are valid YAML).
fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|e| panic!("cannot quote {s:?}: {e}"))
}

fn yaml_path(p: &Path) -> String {
    yaml_str(
        p.to_str()
            .unwrap_or_else(|| panic!("non-UTF-8 path {}", p.display())),
    )
}

/// The DER bytes inside the first PEM block of `pem`.
fn pem_to_der(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .map(str::trim)
        .collect();
    STANDARD
        .decode(body)
        .unwrap_or_else(|e| panic!("bad PEM (base64: {e}):\n{pem}"))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

// ---------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------

/// A test CA and a server certificate it signed (also for other HTTPS servers of the harness).
pub struct TlsFiles {
    /// The CA certificate (PEM): what a client trusts.
    pub ca_cert: PathBuf,
    /// The server certificate (PEM), for 127.0.0.1 and localhost.
    pub leaf_cert: PathBuf,
    /// The server's private key (PEM).
    pub leaf_key: PathBuf,
}

impl TlsFiles {
    /// A P-256 CA (`ca.pem`) and a P-256 server certificate for 127.0.0.1/localhost
    /// (`server.pem`, `server.key`) signed by it.
    pub fn generate(dir: &Path) -> TlsFiles {
        let authority = Certificate::authority(dir, "ca");
        let server = authority.issue(dir, "server", Usage::Server);
        TlsFiles {
            ca_cert: authority.cert,
            leaf_cert: server.cert,
            leaf_key: server.key,
        }
    }
}

// ---------------------------------------------------------------------------
// Token issuer
// ---------------------------------------------------------------------------

/// What the issuer saw in one request (for assertions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// HTTP method (`GET`, or `POST` for the OAuth2 password grant).
    pub method: String,
    /// The user whose credentials were presented (`None`: anonymous).
    pub user: Option<String>,
    /// The requested scopes, as sent.
    pub scopes: Vec<String>,
    /// The HTTP status answered.
    pub status: u16,
}

struct IssuerState {
    credentials: Credentials,
    service: String,
    issuer: String,
    key: aws_lc_rs::signature::EcdsaKeyPair,
    rng: aws_lc_rs::rand::SystemRandom,
    cert_der: Vec<u8>,
    requests: AtomicUsize,
    jti: AtomicUsize,
    log: Mutex<Vec<TokenRequest>>,
}

/// An in-process token server for distribution's `auth: token` mode:
/// `GET /token?service=…&scope=repository:NAME:pull,push` (and the OAuth2
/// `POST /token` password grant). HTTP Basic credentials are checked (wrong
/// ones: 401); anonymous requests get a token without any access. Tokens are
/// ES256 JWTs with an `x5c` header holding the self-signed signing
/// certificate, which is the registry's `rootcertbundle`.
pub struct TokenIssuer {
    state: Arc<IssuerState>,
    cert_pem: PathBuf,
    server: BackgroundServer,
}

impl TokenIssuer {
    /// Generates a signing key + certificate in `dir` and starts serving.
    pub fn start(dir: &Path, credentials: Credentials, service: &str, issuer: &str) -> TokenIssuer {
        let Certificate {
            key: key_path,
            cert: cert_pem,
        } = Certificate::authority(dir, "signing");
        let key_der = pem_to_der(&read_lossy(&key_path));
        let cert_der = pem_to_der(&read_lossy(&cert_pem));
        let key = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &key_der,
        )
        .unwrap_or_else(|e| {
            panic!(
                "token issuer: cannot load signing key {}: {e}",
                key_path.display()
            )
        });
        let state = Arc::new(IssuerState {
            credentials,
            service: service.to_string(),
            issuer: issuer.to_string(),
            key,
            rng: aws_lc_rs::rand::SystemRandom::new(),
            cert_der,
            requests: AtomicUsize::new(0),
            jti: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
        });
        let handler_state = Arc::clone(&state);
        let server = BackgroundServer::start("token-issuer", move |stream| {
            let state = Arc::clone(&handler_state);
            async move {
                let _ = serve_issuer_connection(stream, state).await;
            }
        });
        TokenIssuer {
            state,
            cert_pem,
            server,
        }
    }

    /// `127.0.0.1:PORT` of the issuer.
    pub fn host(&self) -> String {
        self.server.host()
    }

    /// `http://127.0.0.1:PORT/token`.
    pub fn realm(&self) -> String {
        format!("http://{}/token", self.server.host())
    }

    /// The signing certificate (PEM), i.e. the registry's `rootcertbundle`.
    pub fn cert_pem_path(&self) -> &Path {
        &self.cert_pem
    }

    /// Number of requests received so far (any path, any outcome).
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Details of the requests to `/token` so far.
    pub fn request_log(&self) -> Vec<TokenRequest> {
        self.state.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Signs a token for `subject` with the given access entries
    /// (`(type, name, actions)`), as the endpoint would. For tests that want
    /// to craft tokens directly.
    pub fn issue(&self, subject: &str, access: &[(&str, &str, Vec<String>)]) -> String {
        let access: Vec<serde_json::Value> = access
            .iter()
            .map(|(t, n, a)| serde_json::json!({"type": t, "name": n, "actions": a}))
            .collect();
        sign_token(&self.state, subject, access)
    }
}

fn sign_token(state: &IssuerState, subject: &str, access: Vec<serde_json::Value>) -> String {
    let now = unix_now();
    let header = serde_json::json!({
        "alg": "ES256",
        "typ": "JWT",
        "x5c": [STANDARD.encode(&state.cert_der)],
    });
    let claims = serde_json::json!({
        "iss": state.issuer,
        "sub": subject,
        "aud": state.service,
        "exp": now + 300,
        "nbf": now.saturating_sub(10),
        "iat": now,
        "jti": format!("exelock-test-{}-{now}", state.jti.fetch_add(1, Ordering::SeqCst)),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = state
        .key
        .sign(&state.rng, signing_input.as_bytes())
        .unwrap_or_else(|e| panic!("token issuer: ES256 signing failed: {e}"));
    // ECDSA_P256_SHA256_FIXED_SIGNING yields raw r||s (64 bytes), as JWS wants.
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.as_ref())
    )
}

async fn serve_issuer_connection(
    stream: tokio::net::TcpStream,
    state: Arc<IssuerState>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    while let Some(head) = http::read_request_head(&mut reader).await? {
        let body = http::read_body(&mut reader, http::request_body_kind(&head)).await?;
        state.requests.fetch_add(1, Ordering::SeqCst);
        let (status, extra_headers, payload) = handle_token_request(&state, &head, &body);
        let mut headers = vec![
            ("Content-Type".to_string(), "application/json".to_string()),
            ("Content-Length".to_string(), payload.len().to_string()),
        ];
        headers.extend(extra_headers);
        if head.wants_close() {
            headers.push(("Connection".to_string(), "close".to_string()));
        }
        write
            .write_all(&http::response_head_bytes(
                status,
                http::reason_phrase(status),
                &headers,
            ))
            .await?;
        write.write_all(&payload).await?;
        write.flush().await?;
        if head.wants_close() {
            break;
        }
    }
    Ok(())
}

fn json_error(code: &str, message: &str) -> Vec<u8> {
    serde_json::json!({"errors": [{"code": code, "message": message}]})
        .to_string()
        .into_bytes()
}

fn handle_token_request(
    state: &IssuerState,
    head: &http::RequestHead,
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    if head.path() != "/token" {
        return (
            404,
            Vec::new(),
            json_error("NOT_FOUND", "only /token is served here"),
        );
    }
    // Parameters: the query for GET, the form body for POST.
    let params = match head.method.as_str() {
        "GET" => http::parse_query(head.query()),
        "POST" => http::parse_query(&String::from_utf8_lossy(body)),
        _ => {
            return (
                405,
                Vec::new(),
                json_error("UNSUPPORTED", "use GET or POST"),
            );
        }
    };
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let scopes: Vec<String> = params
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| {
            v.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    let log = |user: Option<String>, status: u16| {
        if let Ok(mut log) = state.log.lock() {
            log.push(TokenRequest {
                method: head.method.clone(),
                user,
                scopes: scopes.clone(),
                status,
            });
        }
    };

    if let Some(service) = param("service")
        && service != state.service
    {
        log(None, 400);
        return (
            400,
            Vec::new(),
            json_error("INVALID_SERVICE", &format!("unknown service {service:?}")),
        );
    }

    // Who is asking: HTTP Basic (GET), or the password grant (POST).
    let presented: Option<(String, String)> = if head.method == "POST" {
        match param("grant_type").as_deref() {
            Some("password") => Some((
                param("username").unwrap_or_default(),
                param("password").unwrap_or_default(),
            )),
            other => {
                log(None, 400);
                return (
                    400,
                    Vec::new(),
                    json_error(
                        "UNSUPPORTED_GRANT",
                        &format!("unsupported grant_type {other:?}"),
                    ),
                );
            }
        }
    } else {
        match http::header(&head.headers, "authorization") {
            None => None,
            Some(value) => {
                let decoded = value
                    .strip_prefix("Basic ")
                    .and_then(|b| STANDARD.decode(b.trim()).ok())
                    .and_then(|b| String::from_utf8(b).ok());
                match decoded.as_deref().and_then(|d| d.split_once(':')) {
                    Some((user, password)) => Some((user.to_string(), password.to_string())),
                    None => Some((String::new(), String::new())), // unparsable: reject below
                }
            }
        }
    };
    let subject = match presented {
        None => None,
        Some((user, password)) => {
            if user == state.credentials.user && password == state.credentials.password {
                Some(user)
            } else {
                log(Some(user), 401);
                return (
                    401,
                    vec![(
                        "WWW-Authenticate".to_string(),
                        format!("Basic realm={}", yaml_str(&state.issuer)),
                    )],
                    json_error("UNAUTHORIZED", "invalid credentials"),
                );
            }
        }
    };

    // Authenticated: every requested action is granted. Anonymous: nothing.
    let access: Vec<serde_json::Value> = match &subject {
        None => Vec::new(),
        Some(_) => scopes
            .iter()
            .filter_map(|scope| {
                let (kind, rest) = scope.split_once(':')?;
                let (name, actions) = rest.rsplit_once(':')?;
                let actions: Vec<&str> = actions
                    .split(',')
                    .filter(|a| matches!(*a, "pull" | "push" | "delete" | "*"))
                    .collect();
                Some(serde_json::json!({"type": kind, "name": name, "actions": actions}))
            })
            .collect(),
    };
    let token = sign_token(state, subject.as_deref().unwrap_or(""), access);
    log(subject, 200);
    let payload = serde_json::json!({
        "token": token,
        "access_token": token,
        "expires_in": 300,
    });
    (200, Vec::new(), payload.to_string().into_bytes())
}
