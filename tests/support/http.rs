//! Minimal HTTP/1.1 plumbing shared by the harness.
//!
//! * a blocking one-shot client ([`request`], [`get`]) used for readiness
//!   probes and by the smoke tests: one request per TCP connection, the
//!   response read to EOF, chunked bodies decoded;
//! * async message parsing ([`read_request_head`], [`read_response_head`],
//!   [`read_body`]) used by the in-process servers (token issuer, fault proxy);
//! * [`BackgroundServer`]: a TCP accept loop on its own thread and tokio
//!   runtime, stopped (and joined) on drop.
//!
//! This is deliberately tiny and only as lenient as the peers we talk to
//! (docker-registry, skopeo, reqwest, curl) need.

use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream as StdTcpStream, ToSocketAddrs};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

/// Upper bound for a request/response head, to fail loudly on garbage.
const MAX_HEAD: usize = 64 * 1024;

/// Header list as received: names keep their case, lookups ignore it.
pub type Headers = Vec<(String, String)>;

/// Case-insensitive lookup of the first header called `name`.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Whether `Transfer-Encoding` says the body is chunked.
pub fn is_chunked(headers: &[(String, String)]) -> bool {
    header(headers, "transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
}

/// `Content-Length` parsed, if present and valid.
pub fn content_length(headers: &[(String, String)]) -> Option<usize> {
    header(headers, "content-length").and_then(|v| v.trim().parse().ok())
}

// ---------------------------------------------------------------------------
// Blocking client
// ---------------------------------------------------------------------------

/// A fully read HTTP response (blocking client).
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP version from the status line, e.g. `HTTP/1.1`.
    pub version: String,
    /// Status code.
    pub status: u16,
    /// Headers in received order.
    pub headers: Headers,
    /// The body as received (de-chunked; for a truncated response, only the
    /// bytes that actually arrived).
    pub body: Vec<u8>,
    /// The `Content-Length` the server announced, if any.
    pub declared_length: Option<usize>,
}

impl Response {
    /// Case-insensitive header lookup.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The body as (lossy) UTF-8, for messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request on a fresh connection (`Connection: close`) and reads the
/// whole response. `headers` must not contain `Host`, `Connection` or
/// `Content-Length`; they are added here.
pub fn request(
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Response> {
    let addr = host.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("no address for {host}"),
        )
    })?;
    let mut stream = StdTcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.set_write_timeout(Some(Duration::from_secs(60)))?;

    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || matches!(method, "PUT" | "POST" | "PATCH") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()?;

    // Read to EOF. A peer that resets after sending part of a response (as a
    // truncating proxy may) still yields what arrived.
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if !raw.is_empty()
                    && e.kind() != io::ErrorKind::WouldBlock
                    && e.kind() != io::ErrorKind::TimedOut =>
            {
                break;
            }
            Err(e) => return Err(e),
        }
    }
    parse_response(&raw, method == "HEAD")
}

/// `GET path` with extra headers, see [`request`].
pub fn get(host: &str, path: &str, headers: &[(&str, &str)]) -> io::Result<Response> {
    request(host, "GET", path, headers, &[])
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn parse_response(raw: &[u8], head_request: bool) -> io::Result<Response> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| {
            invalid(format!(
                "incomplete HTTP response ({} bytes): {:?}",
                raw.len(),
                String::from_utf8_lossy(raw)
            ))
        })?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| invalid("non-UTF-8 response head"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default().to_string();
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
    let headers = parse_header_lines(lines)?;
    let rest = &raw[end + 4..];
    let declared_length = content_length(&headers);
    let body = if head_request || status == 204 || status == 304 || (100..200).contains(&status) {
        Vec::new()
    } else if is_chunked(&headers) {
        dechunk(rest)?
    } else if let Some(len) = declared_length {
        rest[..len.min(rest.len())].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Response {
        version,
        status,
        headers,
        body,
        declared_length,
    })
}

fn parse_header_lines<'a>(lines: impl Iterator<Item = &'a str>) -> io::Result<Headers> {
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header line {line:?}")))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    Ok(headers)
}

/// Decodes a complete chunked body held in memory (a truncated one yields
/// what is there).
fn dechunk(mut data: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return Ok(out);
        };
        let size_str = std::str::from_utf8(&data[..eol]).map_err(|_| invalid("bad chunk size"))?;
        let size_hex = size_str.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| invalid(format!("bad chunk size {size_str:?}")))?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        let take = size.min(data.len());
        out.extend_from_slice(&data[..take]);
        if take < size {
            return Ok(out);
        }
        data = data.get(size + 2..).unwrap_or_default();
    }
}

// ---------------------------------------------------------------------------
// Async parsing for the in-process servers
// ---------------------------------------------------------------------------

/// Start line and headers of a request.
#[derive(Debug, Clone)]
pub struct RequestHead {
    /// e.g. `GET`.
    pub method: String,
    /// The request target as sent (path + query).
    pub target: String,
    /// e.g. `HTTP/1.1`.
    pub version: String,
    /// Headers in received order.
    pub headers: Headers,
}

impl RequestHead {
    /// Path part of the target (before `?`).
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    /// Query part of the target (after `?`), empty if none.
    pub fn query(&self) -> &str {
        self.target
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or_default()
    }

    /// Whether the client wants the connection closed after the response.
    pub fn wants_close(&self) -> bool {
        match header(&self.headers, "connection") {
            Some(v) if v.to_ascii_lowercase().contains("close") => true,
            Some(v) if v.to_ascii_lowercase().contains("keep-alive") => false,
            _ => self.version == "HTTP/1.0",
        }
    }
}

/// Status line and headers of a response.
#[derive(Debug, Clone)]
pub struct ResponseHead {
    /// e.g. `HTTP/1.1`.
    pub version: String,
    /// Status code.
    pub status: u16,
    /// Reason phrase (may be empty).
    pub reason: String,
    /// Headers in received order.
    pub headers: Headers,
}

/// Reads a message head (up to and including the empty line). Returns `None`
/// on a clean EOF before the first byte.
async fn read_head_lines<R: AsyncBufRead + Unpin>(r: &mut R) -> io::Result<Option<Vec<String>>> {
    let mut lines = Vec::new();
    let mut total = 0usize;
    loop {
        let mut line = Vec::new();
        let n = r.read_until(b'\n', &mut line).await?;
        if n == 0 {
            if lines.is_empty() {
                return Ok(None);
            }
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "EOF inside an HTTP head",
            ));
        }
        total += n;
        if total > MAX_HEAD {
            return Err(invalid("HTTP head too large"));
        }
        let text = String::from_utf8(line).map_err(|_| invalid("non-UTF-8 HTTP head"))?;
        let text = text.trim_end_matches(['\r', '\n']).to_string();
        if text.is_empty() {
            if lines.is_empty() {
                continue; // tolerate stray CRLF between messages
            }
            return Ok(Some(lines));
        }
        lines.push(text);
    }
}

/// Reads a request head; `None` when the client closed the connection.
pub async fn read_request_head<R: AsyncBufRead + Unpin>(
    r: &mut R,
) -> io::Result<Option<RequestHead>> {
    let Some(lines) = read_head_lines(r).await? else {
        return Ok(None);
    };
    let mut parts = lines[0].split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid(format!("bad request line {:?}", lines[0])));
    };
    Ok(Some(RequestHead {
        method: method.to_string(),
        target: target.to_string(),
        version: version.to_string(),
        headers: parse_header_lines(lines[1..].iter().map(String::as_str))?,
    }))
}

/// Reads a response head.
pub async fn read_response_head<R: AsyncBufRead + Unpin>(r: &mut R) -> io::Result<ResponseHead> {
    let lines = read_head_lines(r).await?.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "upstream closed without a response",
        )
    })?;
    let mut parts = lines[0].splitn(3, ' ');
    let version = parts.next().unwrap_or_default().to_string();
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line {:?}", lines[0])))?;
    let reason = parts.next().unwrap_or_default().to_string();
    Ok(ResponseHead {
        version,
        status,
        reason,
        headers: parse_header_lines(lines[1..].iter().map(String::as_str))?,
    })
}

/// How the body following a head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body at all.
    None,
    /// Exactly this many bytes.
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the peer closes (responses only).
    UntilEof,
}

/// Body framing of a request.
pub fn request_body_kind(head: &RequestHead) -> BodyKind {
    if is_chunked(&head.headers) {
        BodyKind::Chunked
    } else {
        match content_length(&head.headers) {
            Some(n) => BodyKind::Length(n),
            None => BodyKind::None,
        }
    }
}

/// Body framing of a response to a request with method `method`.
pub fn response_body_kind(method: &str, head: &ResponseHead) -> BodyKind {
    if method == "HEAD"
        || head.status == 204
        || head.status == 304
        || (100..200).contains(&head.status)
    {
        BodyKind::None
    } else if is_chunked(&head.headers) {
        BodyKind::Chunked
    } else {
        match content_length(&head.headers) {
            Some(n) => BodyKind::Length(n),
            None => BodyKind::UntilEof,
        }
    }
}

/// Reads a body of the given framing completely (chunked bodies de-chunked,
/// trailers dropped).
pub async fn read_body<R: AsyncBufRead + Unpin>(r: &mut R, kind: BodyKind) -> io::Result<Vec<u8>> {
    match kind {
        BodyKind::None => Ok(Vec::new()),
        BodyKind::Length(n) => {
            let mut body = vec![0u8; n];
            r.read_exact(&mut body).await?;
            Ok(body)
        }
        BodyKind::UntilEof => {
            let mut body = Vec::new();
            r.read_to_end(&mut body).await?;
            Ok(body)
        }
        BodyKind::Chunked => {
            let mut body = Vec::new();
            loop {
                let mut line = Vec::new();
                if r.read_until(b'\n', &mut line).await? == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "EOF inside a chunked body",
                    ));
                }
                let text = String::from_utf8_lossy(&line);
                let size_hex = text
                    .trim()
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                let size = usize::from_str_radix(&size_hex, 16)
                    .map_err(|_| invalid(format!("bad chunk size {text:?}")))?;
                if size == 0 {
                    // Trailers until an empty line.
                    loop {
                        let mut trailer = Vec::new();
                        let n = r.read_until(b'\n', &mut trailer).await?;
                        if n == 0 || trailer == b"\r\n" || trailer == b"\n" {
                            return Ok(body);
                        }
                    }
                }
                let start = body.len();
                body.resize(start + size, 0);
                r.read_exact(&mut body[start..]).await?;
                let mut crlf = Vec::new();
                r.read_until(b'\n', &mut crlf).await?;
            }
        }
    }
}

/// Serialises a response head with the given headers (no framing headers are
/// added; include `Content-Length` yourself).
pub fn response_head_bytes(status: u16, reason: &str, headers: &[(String, String)]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// The canonical reason phrase for common codes (cosmetic only).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Percent-decodes a URL query component (`+` means space).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits `a=1&b=2&b=3` into decoded pairs (repeated keys kept).
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Background server
// ---------------------------------------------------------------------------

/// A TCP accept loop on 127.0.0.1:free-port, running on its own thread with
/// its own (current-thread) tokio runtime. Each connection is handled in its
/// own task. Dropping it stops the loop, cancels the connection tasks and
/// joins the thread.
pub struct BackgroundServer {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl BackgroundServer {
    /// Binds a free loopback port now (so the port is known and reserved on
    /// return) and serves every accepted connection with `handler`.
    pub fn start<F, Fut>(name: &str, handler: F) -> BackgroundServer
    where
        F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("{name}: cannot bind a loopback port: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("{name}: no local address: {e}"));
        listener
            .set_nonblocking(true)
            .unwrap_or_else(|e| panic!("{name}: set_nonblocking: {e}"));
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let thread_name = format!("{name}-{}", addr.port());
        let label = name.to_string();
        let thread = std::thread::Builder::new()
            .name(thread_name)
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap_or_else(|e| panic!("{label}: cannot build a tokio runtime: {e}"));
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .unwrap_or_else(|e| panic!("{label}: cannot register listener: {e}"));
                    loop {
                        tokio::select! {
                            _ = &mut rx => break,
                            accepted = listener.accept() => match accepted {
                                Ok((stream, _)) => {
                                    let _ = stream.set_nodelay(true);
                                    tokio::spawn(handler(stream));
                                }
                                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                            },
                        }
                    }
                });
                // Dropping the runtime here cancels all connection tasks.
                drop(runtime);
            })
            .unwrap_or_else(|e| panic!("{name}: cannot spawn server thread: {e}"));
        BackgroundServer {
            addr,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
