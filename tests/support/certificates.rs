//! Test certificates made with the openssl CLI: P-256 certificate authorities and the server
//! and client certificates they sign, as files (`DIR/NAME.key`, `DIR/NAME.pem`) for the
//! registry, the Action's download server and `exelock serve`'s TLS and mutual TLS.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::registry::run;

/// openssl config: the extension sections of an authority, a server on 127.0.0.1 and
/// localhost, and a client.
const OPENSSL_CNF: &str = "\
[req]
distinguished_name = dn
[dn]
[authority]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
[client]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
";

/// What a certificate an authority issues is for.
#[derive(Clone, Copy, Debug)]
pub enum Usage {
    /// A TLS server on 127.0.0.1 and localhost.
    Server,
    /// A TLS client (mutual TLS).
    Client,
}

impl Usage {
    fn section(self) -> &'static str {
        match self {
            Usage::Server => "server",
            Usage::Client => "client",
        }
    }
}

/// A P-256 private key (PEM) and its certificate (PEM).
#[derive(Clone, Debug)]
pub struct Certificate {
    /// The private key, `DIR/NAME.key`.
    pub key: PathBuf,
    /// The certificate, `DIR/NAME.pem`.
    pub cert: PathBuf,
}

impl Certificate {
    /// A self-signed certificate authority `DIR/NAME.{key,pem}`, subject `CN=NAME`.
    pub fn authority(dir: &Path, name: &str) -> Certificate {
        let certificate = Certificate::files(dir, name);
        run(
            new_key_request(dir, name, &certificate.key)
                .args(["-x509", "-extensions", "authority", "-days", "7", "-out"])
                .arg(&certificate.cert),
            "openssl req -x509 (certificate authority)",
        );
        certificate
    }

    /// A certificate `DIR/NAME.{key,pem}` for `usage`, subject `CN=NAME`, signed by this
    /// authority.
    pub fn issue(&self, dir: &Path, name: &str, usage: Usage) -> Certificate {
        let certificate = Certificate::files(dir, name);
        let request = dir.join(format!("{name}.csr"));
        run(
            new_key_request(dir, name, &certificate.key)
                .arg("-out")
                .arg(&request),
            "openssl req (certificate signing request)",
        );
        run(
            Command::new("openssl")
                .args(["x509", "-req", "-sha256", "-days", "7", "-in"])
                .arg(&request)
                .arg("-CA")
                .arg(&self.cert)
                .arg("-CAkey")
                .arg(&self.key)
                .args(["-set_serial", &unique_serial().to_string(), "-extfile"])
                .arg(config(dir))
                .args(["-extensions", usage.section(), "-out"])
                .arg(&certificate.cert),
            "openssl x509 -req (sign a certificate)",
        );
        certificate
    }

    fn files(dir: &Path, name: &str) -> Certificate {
        fs_err::create_dir_all(dir).unwrap();
        Certificate {
            key: dir.join(format!("{name}.key")),
            cert: dir.join(format!("{name}.pem")),
        }
    }
}

/// `dir/openssl.cnf`, written on first use.
fn config(dir: &Path) -> PathBuf {
    let path = dir.join("openssl.cnf");
    if !path.exists() {
        fs_err::write(&path, OPENSSL_CNF).unwrap();
    }
    path
}

/// `openssl req -new` with a fresh P-256 key written to `key`, subject `CN=NAME`.
fn new_key_request(dir: &Path, name: &str, key: &Path) -> Command {
    let mut command = Command::new("openssl");
    command
        .args(["req", "-new", "-sha256", "-config"])
        .arg(config(dir))
        .args([
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
        ])
        .arg(key)
        .args(["-subj", &format!("/CN={name}")]);
    command
}

/// A serial number no other certificate of this process has: the time, plus a count.
fn unique_serial() -> u64 {
    static ISSUED: AtomicU64 = AtomicU64::new(0);
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    (seconds << 16) + ISSUED.fetch_add(1, Ordering::Relaxed) + 1
}
