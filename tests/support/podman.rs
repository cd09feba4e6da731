//! A real podman service (Debian's `podman`, its Docker-compatible API on a unix socket in a
//! temporary directory, vfs storage, private root and runroot), one per test process, with the
//! fixture archives loaded into it.
//!
//! ```ignore
//! let Some(podman) = Podman::shared() else { return }; // podman missing, outside CI
//! // run `exelock scan podman:exelock-fixture/demo` with DOCKER_HOST=podman.docker_host()
//! ```
//!
//! Process hygiene: the service runs under a `sh` watchdog whose stdin is a pipe from this
//! process. The shared service is never dropped; when the test process exits (however it
//! ends) the pipe closes, and the watchdog kills the service and removes its directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The fixtures loaded into the service, from their legacy `docker save` archives; each is
/// tagged `localhost/exelock-fixture/NAME:latest` there. Not `traps` nor `twice`: podman
/// unpacks layers into its storage and cannot load or re-export their adversarial entries
/// (duplicate paths in one layer, a hardlink to a file deleted in the same layer).
pub const LOADED_FIXTURES: [&str; 3] = ["demo", "tiny", "multiarch"];

/// A running podman service.
pub struct Podman {
    dir: PathBuf,
    socket: PathBuf,
    _watchdog: Child,
}

/// Whether `podman` is installed.
fn installed() -> bool {
    Command::new("podman")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Starts `podman system service` under the watchdog, then kills it and removes `$1` when our
/// pipe on its stdin closes.
const WATCHDOG_SH: &str = r#"
dir=$1; shift
exec 3<&0 </dev/null
"$@" >"$dir/service.log" 2>&1 3<&- &
pid=$!
read -r _ignored <&3
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
rm -rf "$dir"
"#;

impl Podman {
    /// The service of this test process, started on first use; `None` when podman is not
    /// installed outside CI (under `CI=true` that is a failure).
    pub fn shared() -> Option<&'static Self> {
        static SHARED: OnceLock<Option<Podman>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                if !installed() {
                    assert!(
                        std::env::var("CI").as_deref() != Ok("true"),
                        "podman is not installed (scripts/test.sh installs Debian's podman)"
                    );
                    eprintln!("skipped: podman is not installed");
                    return None;
                }
                Some(Self::start())
            })
            .as_ref()
    }

    fn start() -> Self {
        // Not removed by a TempDir guard: the watchdog removes it after the service is gone.
        let dir = tempfile::Builder::new()
            .prefix("exelock-podman-")
            .tempdir()
            .unwrap()
            .keep();
        let socket = dir.join("podman.sock");
        let mut service = vec!["podman".to_owned()];
        service.extend(storage_args(&dir));
        service.extend([
            "system".into(),
            "service".into(),
            "--time".into(),
            "0".into(),
            format!("unix://{}", socket.display()),
        ]);
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG_SH)
            .arg("podman-watchdog")
            .arg(&dir)
            .args(&service)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start the podman service: {error}"));
        let podman = Self {
            dir,
            socket,
            _watchdog: watchdog,
        };
        podman.wait_ready();
        for name in LOADED_FIXTURES {
            podman.load(&format!("testdata/images/{name}.docker.tar"));
        }
        podman
    }

    /// `podman` with this service's storage (for loading and inspecting beside the API).
    pub fn command(&self) -> Command {
        let mut command = Command::new("podman");
        command.args(storage_args(&self.dir));
        command.current_dir(super::fixtures::root());
        command
    }

    /// `unix:///…/podman.sock`, for `DOCKER_HOST`.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// `podman inspect --format TEMPLATE NAME`, trimmed.
    pub fn inspect(&self, name: &str, template: &str) -> String {
        let output = self
            .command()
            .args(["image", "inspect", "--format", template, name])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "podman image inspect {name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    fn load(&self, archive: &str) {
        let output = self
            .command()
            .args(["load", "-q", "-i", archive])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "podman load {archive}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Waits until the API answers `GET /_ping` on the socket.
    fn wait_ready(&self) {
        let started = Instant::now();
        loop {
            if ping(&self.socket) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the podman service did not answer on {} within 30 s; log:\n{}",
                self.socket.display(),
                fs_err::read_to_string(self.dir.join("service.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The storage options: vfs (no overlay mounts needed), root and runroot inside `dir`, cgroupfs
/// and file events (no systemd).
fn storage_args(dir: &Path) -> Vec<String> {
    vec![
        "--root".into(),
        dir.join("root").display().to_string(),
        "--runroot".into(),
        dir.join("run").display().to_string(),
        "--storage-driver".into(),
        "vfs".into(),
        "--cgroup-manager".into(),
        "cgroupfs".into(),
        "--events-backend".into(),
        "file".into(),
    ]
}

/// One `GET /_ping` over the socket.
fn ping(socket: &Path) -> bool {
    use std::io::{Read as _, Write as _};
    let Ok(mut stream) = std::os::unix::net::UnixStream::connect(socket) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /_ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer.starts_with(b"HTTP/1.1 200")
}
