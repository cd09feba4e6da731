//! The HTTP transport keyless signing uses to reach Fulcio, Rekor and the GitHub Actions OIDC
//! endpoint: a one-method trait, so tests can answer requests in-process, and a blocking reqwest
//! implementation for real use.
//!
//! This module moves bytes and nothing else: it builds no service requests and interprets no
//! responses (that is `keyless`), and it never logs or displays credentials — [`HttpRequest`]'s
//! `Debug` redacts the `Authorization` header.

use std::fmt;
use std::time::Duration;

/// An HTTP method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
}

/// A request to send.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// GET or POST.
    pub method: Method,
    /// The absolute URL.
    pub url: String,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body (empty for GET).
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// The value of header `name` (case-insensitive).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(key, value)| {
                if key.eq_ignore_ascii_case("authorization") {
                    (key.as_str(), "<redacted>")
                } else {
                    (key.as_str(), value.as_str())
                }
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// A response: status and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The whole body.
    pub body: Vec<u8>,
}

/// Sends requests. Implementations must not follow redirects to other hosts with the
/// `Authorization` header.
pub trait HttpTransport {
    /// Sends `request` and returns whatever status came back.
    ///
    /// # Errors
    /// Only when no response arrived (DNS, TLS, connection, timeout).
    fn send(
        &self,
        request: &HttpRequest,
    ) -> Result<HttpResponse, Box<dyn std::error::Error + Send + Sync>>;
}

/// The real transport: blocking reqwest with rustls and the platform's CA store, 60 s timeout.
///
/// reqwest's blocking client runs its own runtime thread, so it must not be created or used from
/// inside an async runtime.
#[derive(Debug)]
pub struct ReqwestTransport {
    client: reqwest::blocking::Client,
}

impl ReqwestTransport {
    /// A client with exelock's user agent.
    ///
    /// # Errors
    /// When the TLS backend cannot be initialised.
    pub fn new() -> Result<Self, reqwest::Error> {
        let client = reqwest::blocking::Client::builder()
            .user_agent(concat!("exelock/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(60))
            // reqwest strips Authorization on cross-host redirects; no redirect is expected at all.
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()?;
        Ok(Self { client })
    }
}

impl HttpTransport for ReqwestTransport {
    fn send(
        &self,
        request: &HttpRequest,
    ) -> Result<HttpResponse, Box<dyn std::error::Error + Send + Sync>> {
        let mut builder = match request.method {
            Method::Get => self.client.get(&request.url),
            Method::Post => self.client.post(&request.url).body(request.body.clone()),
        };
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let response = builder.send()?;
        let status = response.status().as_u16();
        let body = response.bytes()?.to_vec();
        Ok(HttpResponse { status, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_authorization_header() {
        let request = HttpRequest {
            method: Method::Get,
            url: "https://example.invalid/token".into(),
            headers: vec![
                ("Authorization".into(), "bearer s3cr3t".into()),
                ("Accept".into(), "application/json".into()),
            ],
            body: vec![],
        };
        let debug = format!("{request:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(debug.contains("application/json"), "{debug}");
        assert_eq!(request.header("authorization"), Some("bearer s3cr3t"));
    }
}
