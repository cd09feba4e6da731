//! An in-process, fault-injecting HTTP/1.1 reverse proxy, meant to sit in
//! front of a `Mode::Plain` [`Registry`](super::registry::Registry).
//!
//! ```ignore
//! let reg = Registry::start(Mode::Plain);
//! let proxy = FaultProxy::start(reg.host(), vec![
//!     Fault::status("/blobs/sha256:abcd", 500).times(2),
//!     Fault::corrupt_body("/manifests/").method("GET"),
//! ]);
//! // point the client at proxy.host() ...
//! ```
//!
//! Design: per client connection, requests are read one after the other
//! (keep-alive is honoured). Each request is forwarded verbatim (method,
//! target, headers including `Host` and `Authorization`, body) on a FRESH
//! upstream connection with `Connection: close`; chunked request bodies are
//! de-chunked and sent with `Content-Length`. The full upstream response is
//! read (chunked responses de-chunked), the matching faults are applied, and
//! the response is written back with an exact `Content-Length`. Redirects are
//! passed through untouched. Because `Host` is forwarded, the registry's
//! upload `Location`s point back at the proxy.
//!
//! Fault matching: every fault whose `path_contains` is a substring of the
//! request target (path + query) and whose method filter (if any) matches,
//! and that has not used up its `times`, applies, in list order: delays add
//! up, the first `Status` short-circuits (the request is not forwarded),
//! body faults apply to the forwarded response in order. Each applied fault
//! uses one of its `times`. `HEAD` requests match too, so use
//! [`Fault::method`] when counting matters.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::http::{self, BackgroundServer, BodyKind, RequestHead};

/// What to do to a matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer with this status (JSON error body, `Retry-After: 0`) instead
    /// of forwarding.
    Status(u16),
    /// Forward, but flip (XOR 0xFF) the byte in the middle of the response
    /// body; length unchanged. No effect on an empty body.
    CorruptBody,
    /// Forward, announce the full `Content-Length`, send only the first
    /// `keep_bytes` body bytes, then close the connection.
    Truncate {
        /// Body bytes actually sent.
        keep_bytes: usize,
    },
    /// Wait this long before handling the request.
    Delay {
        /// Milliseconds to wait.
        millis: u64,
    },
    /// Forward, but replace the response body (and its `Content-Length`);
    /// other headers, e.g. `Docker-Content-Digest`, stay as the registry sent
    /// them.
    ReplaceBody(Vec<u8>),
}

/// A fault rule: which requests, how often, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// Substring of the request target (path + query), e.g.
    /// `/blobs/sha256:abcd…`. Empty matches everything.
    pub path_contains: String,
    /// Only requests with this method (e.g. `GET`); `None`: any.
    pub method: Option<String>,
    /// Apply to the first N matching requests only; `None`: always.
    pub times: Option<usize>,
    /// The fault.
    pub action: FaultAction,
}

impl Fault {
    /// A rule applying `action` to every request whose target contains
    /// `path_contains`.
    pub fn new(path_contains: &str, action: FaultAction) -> Fault {
        Fault {
            path_contains: path_contains.to_string(),
            method: None,
            times: None,
            action,
        }
    }

    /// Answer `code` instead of forwarding.
    pub fn status(path_contains: &str, code: u16) -> Fault {
        Fault::new(path_contains, FaultAction::Status(code))
    }

    /// Flip one byte of the response body.
    pub fn corrupt_body(path_contains: &str) -> Fault {
        Fault::new(path_contains, FaultAction::CorruptBody)
    }

    /// Send only `keep_bytes` of the body, then close.
    pub fn truncate(path_contains: &str, keep_bytes: usize) -> Fault {
        Fault::new(path_contains, FaultAction::Truncate { keep_bytes })
    }

    /// Wait `millis` before handling.
    pub fn delay(path_contains: &str, millis: u64) -> Fault {
        Fault::new(path_contains, FaultAction::Delay { millis })
    }

    /// Replace the response body.
    pub fn replace_body(path_contains: &str, body: impl Into<Vec<u8>>) -> Fault {
        Fault::new(path_contains, FaultAction::ReplaceBody(body.into()))
    }

    /// Only the first `n` matching requests.
    pub fn times(mut self, n: usize) -> Fault {
        self.times = Some(n);
        self
    }

    /// Only requests with this method.
    pub fn method(mut self, method: &str) -> Fault {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    fn matches(&self, head: &RequestHead) -> bool {
        head.target.contains(&self.path_contains)
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(&head.method))
    }

    fn label(&self) -> String {
        match &self.action {
            FaultAction::Status(code) => format!("status {code}"),
            FaultAction::CorruptBody => "corrupt body".to_string(),
            FaultAction::Truncate { keep_bytes } => format!("truncate to {keep_bytes} bytes"),
            FaultAction::Delay { millis } => format!("delay {millis} ms"),
            FaultAction::ReplaceBody(body) => format!("replace body ({} bytes)", body.len()),
        }
    }
}

/// One request as the proxy served it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxiedRequest {
    /// HTTP method.
    pub method: String,
    /// Request target (path + query).
    pub path: String,
    /// Status served to the client (502 if the upstream failed).
    pub status: u16,
    /// The faults applied, e.g. `["status 500"]`; empty if none.
    pub faults: Vec<String>,
}

struct Rule {
    fault: Fault,
    used: usize,
}

struct ProxyState {
    upstream: String,
    rules: Mutex<Vec<Rule>>,
    log: Mutex<Vec<ProxiedRequest>>,
}

/// The proxy; stops (closing all connections) on drop.
pub struct FaultProxy {
    state: Arc<ProxyState>,
    server: BackgroundServer,
}

impl FaultProxy {
    /// Starts proxying 127.0.0.1:free-port → `upstream` (`host:port`, plain
    /// HTTP) with the given faults.
    pub fn start(upstream: &str, faults: Vec<Fault>) -> FaultProxy {
        let state = Arc::new(ProxyState {
            upstream: upstream.to_string(),
            rules: Mutex::new(
                faults
                    .into_iter()
                    .map(|fault| Rule { fault, used: 0 })
                    .collect(),
            ),
            log: Mutex::new(Vec::new()),
        });
        let handler_state = Arc::clone(&state);
        let server = BackgroundServer::start("fault-proxy", move |stream| {
            let state = Arc::clone(&handler_state);
            async move {
                let _ = serve_client(stream, state).await;
            }
        });
        FaultProxy { state, server }
    }

    /// `127.0.0.1:PORT` to point clients at.
    pub fn host(&self) -> String {
        self.server.host()
    }

    /// The upstream `host:port`.
    pub fn upstream(&self) -> &str {
        &self.state.upstream
    }

    /// Replaces the fault list (use counts start afresh).
    pub fn set_faults(&self, faults: Vec<Fault>) {
        if let Ok(mut rules) = self.state.rules.lock() {
            *rules = faults
                .into_iter()
                .map(|fault| Rule { fault, used: 0 })
                .collect();
        }
    }

    /// Adds a fault at the end of the list.
    pub fn add_fault(&self, fault: Fault) {
        if let Ok(mut rules) = self.state.rules.lock() {
            rules.push(Rule { fault, used: 0 });
        }
    }

    /// Every request served so far, in order of completion.
    pub fn request_log(&self) -> Vec<ProxiedRequest> {
        self.state.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// How many served requests had this method and a target containing
    /// `path_contains`.
    pub fn count(&self, method: &str, path_contains: &str) -> usize {
        self.request_log()
            .iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method) && r.path.contains(path_contains))
            .count()
    }
}

/// Headers that describe one hop's connection or framing; never forwarded.
fn is_hop_header(name: &str) -> bool {
    [
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "content-length",
        "te",
        "trailer",
        "upgrade",
        "expect",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h))
}

async fn serve_client(stream: TcpStream, state: Arc<ProxyState>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    while let Some(head) = http::read_request_head(&mut reader).await? {
        if http::header(&head.headers, "expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
        {
            write.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
            write.flush().await?;
        }
        let body_kind = http::request_body_kind(&head);
        let body = http::read_body(&mut reader, body_kind).await?;

        // Pick the faults for this request (and use them up).
        let mut actions = Vec::new();
        if let Ok(mut rules) = state.rules.lock() {
            for rule in rules.iter_mut() {
                if rule.fault.matches(&head) && rule.fault.times.is_none_or(|n| rule.used < n) {
                    rule.used += 1;
                    actions.push(rule.fault.clone());
                }
            }
        }
        let mut applied = Vec::new();
        for fault in &actions {
            if let FaultAction::Delay { millis } = fault.action {
                applied.push(fault.label());
                tokio::time::sleep(Duration::from_millis(millis)).await;
            }
        }
        let close_after = head.wants_close();
        let status_fault = actions.iter().find_map(|f| match f.action {
            FaultAction::Status(code) => Some((code, f.label())),
            _ => None,
        });

        let (status, response_head, response_body, truncate_to) = match status_fault {
            Some((code, label)) => {
                applied.push(label);
                let code_name = if code == 429 {
                    "TOOMANYREQUESTS"
                } else {
                    "UNKNOWN"
                };
                let payload = serde_json::json!({"errors": [{
                    "code": code_name,
                    "message": format!("injected by FaultProxy: status {code}"),
                }]})
                .to_string()
                .into_bytes();
                let headers = vec![
                    (
                        "Content-Type".to_string(),
                        "application/json; charset=utf-8".to_string(),
                    ),
                    (
                        "Docker-Distribution-Api-Version".to_string(),
                        "registry/2.0".to_string(),
                    ),
                    ("Retry-After".to_string(), "0".to_string()),
                    ("Content-Length".to_string(), payload.len().to_string()),
                ];
                let payload = if head.method == "HEAD" {
                    Vec::new()
                } else {
                    payload
                };
                (
                    code,
                    (code, http::reason_phrase(code).to_string(), headers),
                    payload,
                    None,
                )
            }
            None => {
                let forwarded = tokio::time::timeout(
                    Duration::from_secs(120),
                    forward(&state.upstream, &head, body_kind, &body),
                )
                .await
                .unwrap_or_else(|_| {
                    Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "upstream timed out",
                    ))
                });
                match forwarded {
                    Ok((upstream_head, mut upstream_body)) => {
                        let mut truncate_to = None;
                        for fault in &actions {
                            match &fault.action {
                                FaultAction::CorruptBody => {
                                    if !upstream_body.is_empty() {
                                        let mid = upstream_body.len() / 2;
                                        upstream_body[mid] ^= 0xFF;
                                    }
                                    applied.push(fault.label());
                                }
                                FaultAction::ReplaceBody(replacement) => {
                                    upstream_body = replacement.clone();
                                    applied.push(fault.label());
                                }
                                FaultAction::Truncate { keep_bytes } => {
                                    truncate_to = Some(*keep_bytes);
                                    applied.push(fault.label());
                                }
                                FaultAction::Status(_) | FaultAction::Delay { .. } => {}
                            }
                        }
                        let body_kind = http::response_body_kind(&head.method, &upstream_head);
                        let mut headers: Vec<(String, String)> = upstream_head
                            .headers
                            .iter()
                            .filter(|(n, _)| !is_hop_header(n))
                            .cloned()
                            .collect();
                        match body_kind {
                            BodyKind::None => {
                                // HEAD/204/304: keep the announced length as is.
                                if let Some(len) =
                                    http::header(&upstream_head.headers, "content-length")
                                {
                                    headers.push(("Content-Length".to_string(), len.to_string()));
                                }
                            }
                            _ => headers.push((
                                "Content-Length".to_string(),
                                upstream_body.len().to_string(),
                            )),
                        }
                        (
                            upstream_head.status,
                            (upstream_head.status, upstream_head.reason, headers),
                            upstream_body,
                            truncate_to,
                        )
                    }
                    Err(e) => {
                        let payload =
                            format!("FaultProxy: upstream {} failed: {e}\n", state.upstream)
                                .into_bytes();
                        let headers = vec![
                            ("Content-Type".to_string(), "text/plain".to_string()),
                            ("Content-Length".to_string(), payload.len().to_string()),
                        ];
                        (
                            502,
                            (502, "Bad Gateway".to_string(), headers),
                            payload,
                            None,
                        )
                    }
                }
            }
        };

        let (code, reason, mut headers) = response_head;
        let close = close_after || truncate_to.is_some();
        if close {
            headers.push(("Connection".to_string(), "close".to_string()));
        }
        if let Ok(mut log) = state.log.lock() {
            log.push(ProxiedRequest {
                method: head.method.clone(),
                path: head.target.clone(),
                status,
                faults: applied,
            });
        }
        write
            .write_all(&http::response_head_bytes(code, &reason, &headers))
            .await?;
        match truncate_to {
            Some(keep) => {
                write
                    .write_all(&response_body[..keep.min(response_body.len())])
                    .await?;
                write.flush().await?;
                write.shutdown().await?;
                // Drain what the client may still send so that closing does
                // not turn into a RST that could discard the partial body.
                let mut sink = [0u8; 4096];
                let _ = tokio::time::timeout(Duration::from_millis(200), async {
                    while let Ok(n) = reader.read(&mut sink).await {
                        if n == 0 {
                            break;
                        }
                    }
                })
                .await;
                return Ok(());
            }
            None => {
                write.write_all(&response_body).await?;
                write.flush().await?;
            }
        }
        if close {
            break;
        }
    }
    Ok(())
}

/// Sends `head` + `body` upstream on a fresh connection and reads the whole
/// response.
async fn forward(
    upstream: &str,
    head: &RequestHead,
    body_kind: BodyKind,
    body: &[u8],
) -> std::io::Result<(http::ResponseHead, Vec<u8>)> {
    let stream = TcpStream::connect(upstream).await?;
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut out = format!("{} {} HTTP/1.1\r\n", head.method, head.target);
    for (name, value) in &head.headers {
        if !is_hop_header(name) {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    if body_kind != BodyKind::None || !body.is_empty() {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("Connection: close\r\n\r\n");
    write.write_all(out.as_bytes()).await?;
    write.write_all(body).await?;
    write.flush().await?;

    let mut reader = BufReader::new(read);
    let mut response_head = http::read_response_head(&mut reader).await?;
    // Skip interim 1xx responses (none expected: we never send Expect).
    while (100..200).contains(&response_head.status) && response_head.status != 101 {
        response_head = http::read_response_head(&mut reader).await?;
    }
    let response_body = http::read_body(
        &mut reader,
        http::response_body_kind(&head.method, &response_head),
    )
    .await?;
    Ok((response_head, response_body))
}
