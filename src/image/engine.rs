//! Images in a local container engine (`docker:NAME[:TAG|@DIGEST]`, `podman:NAME…`), read
//! through the Docker Engine API that Docker and podman both serve: `GET /images/{name}/json`
//! for the engine's image ID and repo digests, then `GET /images/{id}/get` for the image as a
//! `docker save` archive.
//!
//! The archive streams from the socket into a private temporary file, never whole into
//! memory: `docker save` writes the blobs before the documents that say which blob is what, so
//! the archive reader ([`super::docker`]) needs random access. Digests are verified by that
//! reader as for any archive. Like [`super::registry`], this is a network edge: a private
//! tokio runtime drives the HTTP client (reqwest, over a unix socket or TCP) and its body
//! reaches the sync core through `EngineBody`, an [`io::Read`].
//!
//! A bare name is never looked up in an engine: only the explicit prefix chooses this source.
//! Which endpoint to use ([`EngineSettings`]) is resolved by the command line, which reads
//! `DOCKER_HOST` and `XDG_RUNTIME_DIR`; this module reads no environment and prints nothing.

use std::fmt;
use std::io::{self, Read};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::archive::TarIndex;
use super::{Error, ImageSource, LayerDescriptor, PlatformSelection, Resolution};
use crate::coded::coded_enum;
use crate::digest::Sha256Digest;

coded_enum! {
    /// Which engine a reference asked for.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum EngineKind {
        /// `docker:` references.
        Docker = "docker",
        /// `podman:` references.
        Podman = "podman",
    }
}

/// Where the engines listen, as the command line resolved it from the environment.
#[derive(Clone, Debug, Default)]
pub struct EngineSettings {
    /// `DOCKER_HOST` (`unix:///path` or `tcp://host:port`); when set it is used for both
    /// engines.
    pub docker_host: Option<String>,
    /// `XDG_RUNTIME_DIR`, where a rootless podman puts `podman/podman.sock`.
    pub xdg_runtime_dir: Option<PathBuf>,
}

/// The default Docker socket.
pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";
/// The rootful podman socket, tried after the rootless one.
pub const PODMAN_ROOT_SOCKET: &str = "/run/podman/podman.sock";

/// How to reach an engine's API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A unix socket.
    Unix(PathBuf),
    /// Plain HTTP on `host:port`.
    Tcp(String),
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unix(path) => write!(f, "unix://{}", path.display()),
            Self::Tcp(address) => write!(f, "tcp://{address}"),
        }
    }
}

impl EngineSettings {
    /// The endpoint for `kind`: `DOCKER_HOST` when set, else the first default socket that
    /// exists.
    ///
    /// # Errors
    /// A `DOCKER_HOST` that is neither `unix://` nor `tcp://`, a socket that does not exist.
    pub fn endpoint(&self, reference: &str, kind: EngineKind) -> Result<Endpoint, Error> {
        if let Some(host) = self.docker_host.as_deref().filter(|host| !host.is_empty()) {
            let endpoint = parse_docker_host(host)?;
            if let Endpoint::Unix(path) = &endpoint
                && !path.exists()
            {
                return Err(Error::EngineSocketMissing {
                    image: reference.to_owned(),
                    engine: kind.code(),
                    tried: path.display().to_string(),
                    hint: "from DOCKER_HOST; is the engine running?".to_owned(),
                });
            }
            return Ok(endpoint);
        }
        let candidates: Vec<PathBuf> = match kind {
            EngineKind::Docker => vec![PathBuf::from(DOCKER_SOCKET)],
            EngineKind::Podman => self
                .xdg_runtime_dir
                .iter()
                .map(|dir| dir.join("podman/podman.sock"))
                .chain([PathBuf::from(PODMAN_ROOT_SOCKET)])
                .collect(),
        };
        candidates
            .iter()
            .find(|path| path.exists())
            .map(|path| Endpoint::Unix(path.clone()))
            .ok_or_else(|| Error::EngineSocketMissing {
                image: reference.to_owned(),
                engine: kind.code(),
                tried: candidates
                    .iter()
                    .map(|path| path.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                hint: match kind {
                    EngineKind::Docker => "is Docker running? Set DOCKER_HOST (unix:///path/to/docker.sock or tcp://host:port) to reach another engine".to_owned(),
                    EngineKind::Podman => "start it with `podman system service` (or `systemctl --user start podman.socket`), or set DOCKER_HOST to its socket".to_owned(),
                },
            })
    }
}

/// Parses `DOCKER_HOST`: `unix:///path` or `tcp://host:port` (plain HTTP; an engine that
/// requires TLS is not supported).
///
/// # Errors
/// Any other form.
pub fn parse_docker_host(text: &str) -> Result<Endpoint, Error> {
    let invalid = |problem: &str| Error::InvalidEngineHost {
        value: text.to_owned(),
        problem: problem.to_owned(),
    };
    if let Some(path) = text.strip_prefix("unix://") {
        if !path.starts_with('/') {
            return Err(invalid(
                "a unix socket must be an absolute path: unix:///path",
            ));
        }
        return Ok(Endpoint::Unix(PathBuf::from(path)));
    }
    if let Some(address) = text.strip_prefix("tcp://") {
        let address = address.trim_end_matches('/');
        let has_port = address
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !has_port || address.contains(['/', '@', '?', '#']) {
            return Err(invalid("expected tcp://host:port"));
        }
        return Ok(Endpoint::Tcp(address.to_owned()));
    }
    Err(invalid(
        "only unix:///path and tcp://host:port are supported (not ssh:// or npipe://)",
    ))
}

/// What the engine reports about an image, recorded in the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineImage {
    /// Which engine the reference named.
    pub engine: EngineKind,
    /// The engine's image ID (for Docker's classic store the config digest; for its
    /// containerd store the manifest or index digest).
    pub image_id: Sha256Digest,
    /// `repository@sha256:…` digests the engine knows the image by (empty for an image that
    /// was built locally and never pushed or pulled).
    pub repo_digests: Vec<String>,
}

/// `GET /images/{name}/json`, the fields used.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectedImage {
    id: String,
    #[serde(default)]
    repo_digests: Option<Vec<String>>,
}

/// An engine's error answer (`{"message": …}`).
#[derive(Debug, Deserialize)]
struct EngineMessage {
    message: String,
}

/// The API version asked for: 1.41 is served by Docker ≥ 20.10 and podman ≥ 3 alike.
const API_VERSION: &str = "v1.41";
/// The inspect answer is a small JSON document.
const INSPECT_MAX_BYTES: usize = 4 << 20;
/// Connecting to a local engine takes milliseconds; a longer wait means it is stuck.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A stalled export (no bytes for this long) is an error rather than a hang.
const READ_TIMEOUT: Duration = Duration::from_secs(300);

/// Opens `docker:NAME` or `podman:NAME`: inspects the image, streams its export into a
/// private temporary file and reads that as a `docker save` archive.
///
/// # Errors
/// A malformed name, an engine that cannot be reached, an image it does not have, an
/// answer that is not an image archive.
pub fn open(
    reference: &str,
    kind: EngineKind,
    name: &str,
    settings: &EngineSettings,
) -> Result<Box<dyn ImageSource>, Error> {
    check_name(reference, name)?;
    let endpoint = settings.endpoint(reference, kind)?;
    let client = EngineClient::new(reference, kind, endpoint)?;
    let inspected: InspectedImage = {
        let body = client.get(&format!("/images/{name}/json"), "inspecting the image")?;
        let mut bytes = Vec::new();
        client
            .read_body(body, "inspecting the image")
            .take(INSPECT_MAX_BYTES as u64)
            .read_to_end(&mut bytes)
            .map_err(|source| client.body_error("inspecting the image", source))?;
        super::oci::parse_json(reference, "the engine's image inspection", "answer", &bytes)?
    };
    let image_id: Sha256Digest = inspected.id.parse().map_err(|_| Error::Invalid {
        image: reference.to_owned(),
        problem: format!(
            "the {kind} engine reports image ID {:?}, not a sha256 digest",
            inspected.id
        ),
    })?;
    // Exported by ID, so the archive is the image inspected even if the tag moves meanwhile.
    let operation = "exporting the image";
    let response = client.get(&format!("/images/{image_id}/get"), operation)?;
    let body = client.read_body(response, operation);
    let index = TarIndex::spool(reference, &format!("the {kind} engine's export"), body)?;
    let inner = super::docker::open_index(reference, index, None)?;
    Ok(Box::new(EngineSource {
        inner,
        image: EngineImage {
            engine: kind,
            image_id,
            repo_digests: inspected.repo_digests.unwrap_or_default(),
        },
    }))
}

/// Refuses names that would change the request path (`?`, `#`, spaces, `..`): image names,
/// tags, digests and IDs use only letters, digits and `._-/:@`.
fn check_name(reference: &str, name: &str) -> Result<(), Error> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:@".contains(c))
        && !name.split('/').any(|part| part.is_empty() || part == "..")
        && !name.starts_with(['.', '-', ':', '@']);
    if valid {
        Ok(())
    } else {
        Err(Error::UnsupportedReference(format!(
            "{reference} (expected {}NAME[:TAG|@DIGEST] or an image ID)",
            reference
                .split_once(':')
                .map_or("", |(prefix, _)| prefix)
                .to_owned()
                + ":"
        )))
    }
}

/// An image read from an engine: the archive it exported, and what the engine says of it.
struct EngineSource {
    inner: Box<dyn ImageSource>,
    image: EngineImage,
}

impl ImageSource for EngineSource {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn resolve(&self, selection: &PlatformSelection) -> Result<Resolution, Error> {
        let mut resolution = self.inner.resolve(selection)?;
        for image in &mut resolution.images {
            image.engine = Some(self.image.clone());
        }
        Ok(resolution)
    }

    fn open_layer(&self, layer: &LayerDescriptor) -> Result<Box<dyn Read + Send + '_>, Error> {
        self.inner.open_layer(layer)
    }
}

/// An HTTP client for one engine endpoint, on a private single-threaded runtime.
struct EngineClient {
    reference: String,
    kind: EngineKind,
    endpoint: Endpoint,
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    base: String,
}

impl EngineClient {
    fn new(reference: &str, kind: EngineKind, endpoint: Endpoint) -> Result<Self, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| Error::Io {
                image: reference.to_owned(),
                path: PathBuf::from("<tokio runtime>"),
                source,
            })?;
        let builder = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .user_agent(concat!("exelock/", env!("CARGO_PKG_VERSION")));
        let (builder, base) = match &endpoint {
            // The host part is only the `Host` header over a unix socket.
            Endpoint::Unix(path) => (
                builder.unix_socket(path.as_path()),
                "http://localhost".to_owned(),
            ),
            Endpoint::Tcp(address) => (builder, format!("http://{address}")),
        };
        let client = builder.build().map_err(|source| Error::EngineRequest {
            image: reference.to_owned(),
            endpoint: endpoint.to_string(),
            operation: "starting the HTTP client".to_owned(),
            message: crate::error_chain(&source),
        })?;
        Ok(Self {
            reference: reference.to_owned(),
            kind,
            endpoint,
            runtime,
            client,
            base,
        })
    }

    /// `GET` an API path; any answer but 200 is an error carrying the engine's message.
    fn get(&self, path: &str, operation: &str) -> Result<reqwest::Response, Error> {
        let url = format!("{}/{API_VERSION}{path}", self.base);
        let response = self
            .runtime
            .block_on(async { self.client.get(&url).send().await })
            .map_err(|source| self.request_error(operation, crate::error_chain(&source)))?;
        let status = response.status();
        if status == reqwest::StatusCode::OK {
            return Ok(response);
        }
        let body = self
            .runtime
            .block_on(async { response.bytes().await })
            .unwrap_or_default();
        let message = serde_json::from_slice::<EngineMessage>(&body).map_or_else(
            |_| {
                String::from_utf8_lossy(&body[..body.len().min(300)])
                    .trim()
                    .to_owned()
            },
            |answer| answer.message,
        );
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(Error::EngineImageNotFound {
                image: self.reference.clone(),
                engine: self.kind.code(),
                endpoint: self.endpoint.to_string(),
                message,
            });
        }
        Err(self.request_error(operation, format!("HTTP {status}: {message}")))
    }

    fn read_body(&self, response: reqwest::Response, operation: &str) -> EngineBody<'_> {
        EngineBody {
            client: self,
            operation: operation.to_owned(),
            response,
            pending: bytes::Bytes::new(),
        }
    }

    fn request_error(&self, operation: &str, message: String) -> Error {
        Error::EngineRequest {
            image: self.reference.clone(),
            endpoint: self.endpoint.to_string(),
            operation: operation.to_owned(),
            message,
        }
    }

    fn body_error(&self, operation: &str, source: io::Error) -> Error {
        self.request_error(operation, source.to_string())
    }
}

/// A response body as an [`io::Read`]: each read runs the runtime until the next chunk
/// arrives (chunked transfer encoding is decoded by the client).
struct EngineBody<'a> {
    client: &'a EngineClient,
    operation: String,
    response: reqwest::Response,
    pending: bytes::Bytes,
}

impl Read for EngineBody<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pending.is_empty() {
            let response = &mut self.response;
            match self
                .client
                .runtime
                .block_on(async { response.chunk().await })
            {
                Ok(Some(chunk)) => self.pending = chunk,
                Ok(None) => return Ok(0),
                Err(error) => {
                    return Err(io::Error::other(format!(
                        "{} {} broke off: {}",
                        self.operation,
                        self.client.endpoint,
                        crate::error_chain(&error)
                    )));
                }
            }
        }
        let count = buf.len().min(self.pending.len());
        buf[..count].copy_from_slice(&self.pending.split_to(count));
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_host_forms() {
        assert_eq!(
            parse_docker_host("unix:///run/engine.sock").unwrap(),
            Endpoint::Unix("/run/engine.sock".into())
        );
        assert_eq!(
            parse_docker_host("tcp://127.0.0.1:2375").unwrap(),
            Endpoint::Tcp("127.0.0.1:2375".into())
        );
        for bad in [
            "ssh://host",
            "unix://relative.sock",
            "tcp://host",
            "tcp://a@b:1",
            "/path",
        ] {
            assert!(parse_docker_host(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_that_would_change_the_request_are_refused() {
        for good in ["app", "ghcr.io/acme/app:1.2", "app@sha256:00", "0123abcd"] {
            assert!(check_name("docker:x", good).is_ok(), "{good}");
        }
        for bad in ["", "app?x=1", "a/../b", "a b", "a#b", "/app", "-app"] {
            assert!(check_name("docker:x", bad).is_err(), "{bad}");
        }
    }
}
