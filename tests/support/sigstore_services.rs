//! Local Sigstore services for keyless signing tests: one HTTP server on 127.0.0.1 that speaks
//!
//! - Fulcio `POST /fulcio/api/v2/signingCert`: checks the identity token (ES256, signed by this
//!   harness's OIDC key, issuer known, audience `sigstore`, not expired) and the proof of
//!   possession (the key's signature over the token's `email`, else `sub`), then issues a
//!   ten-minute code-signing leaf from a generated P-256 CA, with the SAN and the Fulcio
//!   extensions (1.3.6.1.4.1.57264.1.1, .8, .23, .24) and an embedded SCT signed by a generated
//!   CT log key over the RFC 6962 precertificate entry;
//! - Rekor v1 `POST /rekor/api/v1/log/entries` (`dsse` 0.0.1 proposed content): checks the
//!   envelope signature with the verifier certificate, appends the canonical body to a real
//!   RFC 6962 Merkle tree, and answers with the log id, integrated time, a SET and an inclusion
//!   proof with a checkpoint signed (ECDSA P-256) as a signed note;
//! - Rekor v2 `POST /rekor-v2/api/v2/log/entries` (`hashedRekordRequestV002`): checks the
//!   signature over the digest, logs a `hashedrekord` 0.0.2 body and answers with the
//!   TransparencyLogEntry JSON: inclusion proof and an Ed25519-signed checkpoint, no SET;
//! - a TSA `POST /tsa/api/v1/timestamp`: an RFC 3161 TimeStampResp whose token is CMS SignedData
//!   signed by a generated TSA certificate (timeStamping EKU) under a generated TSA root;
//! - the GitHub Actions OIDC endpoint `GET /github-actions/token` (bearer
//!   [`ACTIONS_REQUEST_TOKEN`], `audience` query parameter).
//!
//! [`SigstoreServices::write_trust_files`] writes the matching `trusted_root.json` and
//! `signing_config.json`. Every key is generated per instance; nothing is fixed but names.

use std::net::TcpListener as StdTcpListener;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{
    Any, GeneralizedTime, Ia5String, Int, ObjectIdentifier, OctetString, SetOfVec, UtcTime,
    Utf8StringRef,
};
use der::{Decode as _, Encode as _, Sequence, Tag};
use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::elliptic_curve::Generate as _;
use p256::pkcs8::{DecodePublicKey as _, EncodePublicKey as _};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncWriteExt as _, BufReader};
use x509_cert_v02::attr::Attribute;
use x509_cert_v02::certificate::{Certificate, TbsCertificate, Version};
use x509_cert_v02::ext::Extension;
use x509_cert_v02::ext::pkix::name::GeneralName;
use x509_cert_v02::ext::pkix::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert_v02::name::Name;
use x509_cert_v02::serial_number::SerialNumber;
use x509_cert_v02::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert_v02::time::{Time, Validity};

use super::http::{self, BackgroundServer};

/// The GitHub Actions OIDC issuer.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The workflow the GitHub tokens are for; Fulcio's SAN is `https://github.com/` + this.
pub const GITHUB_WORKFLOW_REF: &str = "exelock/demo/.github/workflows/release.yml@refs/heads/main";
/// The `sub` of the GitHub tokens (a deployment to an environment).
pub const GITHUB_SUB: &str = "repo:exelock/demo:environment:production";
/// Their deployment environment (Fulcio extension 1.3.6.1.4.1.57264.1.23).
pub const GITHUB_ENVIRONMENT: &str = "production";
/// An email identity provider.
pub const EMAIL_ISSUER: &str = "https://accounts.exelock.test";
/// The email of its tokens.
pub const EMAIL: &str = "signer@exelock.test";
/// The `ACTIONS_ID_TOKEN_REQUEST_TOKEN` the GitHub Actions endpoint wants.
pub const ACTIONS_REQUEST_TOKEN: &str = "actions-request-token";

/// The signing certificate's identity (SAN) for GitHub tokens.
pub fn github_identity() -> String {
    format!("https://github.com/{GITHUB_WORKFLOW_REF}")
}

const CODE_SIGNING: &str = "1.3.6.1.5.5.7.3.3";
const TIME_STAMPING: &str = "1.3.6.1.5.5.7.3.8";
const ECDSA_WITH_SHA256: &str = "1.2.840.10045.4.3.2";
const SHA256: &str = "2.16.840.1.101.3.4.2.1";
const CT_PRECERT_SCTS: &str = "1.3.6.1.4.1.11129.2.4.2";
const FULCIO_ISSUER_V1: &str = "1.3.6.1.4.1.57264.1.1";
const FULCIO_ISSUER_V2: &str = "1.3.6.1.4.1.57264.1.8";
/// Newer Fulcio extensions exelock must tolerate: deployment environment and token subject.
pub const FULCIO_DEPLOYMENT_ENVIRONMENT: &str = "1.3.6.1.4.1.57264.1.23";
/// See [`FULCIO_DEPLOYMENT_ENVIRONMENT`].
pub const FULCIO_TOKEN_SUBJECT: &str = "1.3.6.1.4.1.57264.1.24";
const ID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const ID_CT_TST_INFO: &str = "1.2.840.113549.1.9.16.1.4";
const ID_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
const ID_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
const TSA_POLICY: &str = "1.3.6.1.4.1.57264.2";

const REKOR_V1_ORIGIN: &str = "rekor.exelock.test - 2605736670972794746";
const REKOR_V1_NAME: &str = "rekor.exelock.test";
const REKOR_V2_ORIGIN: &str = "log2025-test.rekor.exelock.test";
/// Entries each log holds before a test signs, so inclusion proofs have a path.
pub const EARLIER_ENTRIES: usize = 5;
/// `validFor.start` of everything in the trusted root and signing config.
const VALID_SINCE: &str = "2020-01-01T00:00:00Z";

fn oid(text: &str) -> ObjectIdentifier {
    ObjectIdentifier::new_unwrap(text)
}

fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
}

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

fn sign(key: &SigningKey, message: &[u8]) -> Vec<u8> {
    let signature: Signature = key.sign(message);
    signature.to_der().as_bytes().to_vec()
}

fn spki_der(key: &SigningKey) -> Vec<u8> {
    key.verifying_key()
        .to_public_key_der()
        .unwrap()
        .as_bytes()
        .to_vec()
}

fn ed25519_spki_der(key: &Ed25519KeyPair) -> Vec<u8> {
    // SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING { key } } (RFC 8410)
    let mut der = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    der.extend_from_slice(key.public_key().as_ref());
    der
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn pem_body(text: &str) -> Vec<u8> {
    let body: String = text
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    STANDARD.decode(body.trim()).unwrap()
}

fn ecdsa_with_sha256() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: oid(ECDSA_WITH_SHA256),
        parameters: None,
    }
}

fn utc(seconds: u64) -> Time {
    Time::UtcTime(UtcTime::from_unix_duration(Duration::from_secs(seconds)).unwrap())
}

/// The critical key usage of every signing certificate here: digital signature only.
fn digital_signature_usage() -> Extension {
    extension(
        "2.5.29.15",
        true,
        KeyUsage(KeyUsages::DigitalSignature.into())
            .to_der()
            .unwrap(),
    )
}

fn extension(id: &str, critical: bool, value_der: Vec<u8>) -> Extension {
    Extension {
        extn_id: oid(id),
        critical,
        extn_value: OctetString::new(value_der).unwrap(),
    }
}

fn utf8_der(text: &str) -> Vec<u8> {
    Utf8StringRef::new(text).unwrap().to_der().unwrap()
}

/// `n` as a minimally encoded DER INTEGER.
fn positive_int(n: u64) -> Int {
    let bytes = n.to_be_bytes();
    let start = bytes
        .iter()
        .position(|&byte| byte != 0)
        .unwrap_or(bytes.len() - 1);
    let mut minimal = bytes[start..].to_vec();
    if minimal[0] & 0x80 != 0 {
        minimal.insert(0, 0);
    }
    Int::new(&minimal).unwrap()
}

fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    // Positive, and no leading zero byte to strip.
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    SerialNumber::new(&bytes).unwrap()
}

/// A v3 TBS certificate signed with ECDSA P-256 / SHA-256, valid for `lifetime` seconds from
/// `not_before` (Unix seconds).
fn tbs_certificate(
    issuer: &Name,
    subject: Name,
    subject_spki_der: &[u8],
    (not_before, lifetime): (u64, u64),
    extensions: Vec<Extension>,
) -> TbsCertificate {
    TbsCertificate {
        version: Version::V3,
        serial_number: random_serial(),
        signature: ecdsa_with_sha256(),
        issuer: issuer.clone(),
        validity: Validity {
            not_before: utc(not_before),
            not_after: utc(not_before + lifetime),
        },
        subject,
        subject_public_key_info: SubjectPublicKeyInfoOwned::from_der(subject_spki_der).unwrap(),
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    }
}

/// Ten years, for the CAs and the TSA.
const LONG_LIFETIME: u64 = 10 * 365 * 86_400;

/// A certificate authority: its key, name and self-signed certificate.
struct Authority {
    key: SigningKey,
    name: Name,
    der: Vec<u8>,
}

impl Authority {
    fn generate(name: &str) -> Self {
        let key = SigningKey::try_generate().unwrap();
        let name = Name::from_str(name).unwrap();
        let spki = spki_der(&key);
        let tbs = tbs_certificate(
            &name,
            name.clone(),
            &spki,
            (now().as_secs() - 3600, LONG_LIFETIME),
            vec![
                extension(
                    "2.5.29.19",
                    true,
                    BasicConstraints {
                        ca: true,
                        path_len_constraint: Some(0),
                    }
                    .to_der()
                    .unwrap(),
                ),
                extension(
                    "2.5.29.15",
                    true,
                    KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign)
                        .to_der()
                        .unwrap(),
                ),
                extension(
                    "2.5.29.14",
                    false,
                    SubjectKeyIdentifier(OctetString::new(sha256(&spki)[..20].to_vec()).unwrap())
                        .to_der()
                        .unwrap(),
                ),
            ],
        );
        let der = sign_tbs(&key, tbs);
        Self { key, name, der }
    }

    fn spki_der(&self) -> Vec<u8> {
        spki_der(&self.key)
    }
}

/// Signs `tbs` with `key` → the certificate's DER.
fn sign_tbs(key: &SigningKey, tbs: TbsCertificate) -> Vec<u8> {
    let signature = sign(key, &tbs.to_der().unwrap());
    Certificate {
        tbs_certificate: tbs,
        signature_algorithm: ecdsa_with_sha256(),
        signature: der::asn1::BitString::from_bytes(&signature).unwrap(),
    }
    .to_der()
    .unwrap()
}

/// An append-only RFC 6962 Merkle tree of leaf hashes.
#[derive(Default)]
struct MerkleTree {
    leaves: Vec<[u8; 32]>,
}

impl MerkleTree {
    fn with_earlier_entries(label: &str) -> Self {
        let mut tree = Self::default();
        for index in 0..EARLIER_ENTRIES {
            tree.append(format!("{label} earlier entry {index}").as_bytes());
        }
        tree
    }

    /// Appends `entry` and returns its index.
    fn append(&mut self, entry: &[u8]) -> usize {
        let mut leaf = vec![0u8];
        leaf.extend_from_slice(entry);
        self.leaves.push(sha256(&leaf));
        self.leaves.len() - 1
    }

    fn root(&self) -> [u8; 32] {
        subtree_root(&self.leaves)
    }

    /// The audit path of leaf `index` in the whole tree, leaf side first (RFC 6962 §2.1.1).
    fn proof(&self, index: usize) -> Vec<[u8; 32]> {
        audit_path(index, &self.leaves)
    }
}

fn node(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut data = vec![1u8];
    data.extend_from_slice(left);
    data.extend_from_slice(right);
    sha256(&data)
}

/// The largest power of two smaller than `n` (n ≥ 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn subtree_root(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves {
        [] => sha256(b""),
        [leaf] => *leaf,
        _ => {
            let k = split(leaves.len());
            node(&subtree_root(&leaves[..k]), &subtree_root(&leaves[k..]))
        }
    }
}

fn audit_path(index: usize, leaves: &[[u8; 32]]) -> Vec<[u8; 32]> {
    if leaves.len() <= 1 {
        return Vec::new();
    }
    let k = split(leaves.len());
    if index < k {
        let mut path = audit_path(index, &leaves[..k]);
        path.push(subtree_root(&leaves[k..]));
        path
    } else {
        let mut path = audit_path(index - k, &leaves[k..]);
        path.push(subtree_root(&leaves[..k]));
        path
    }
}

/// A checkpoint (signed note): `origin\nsize\nroot\n`, a blank line, and `— name base64(hint ||
/// signature)`.
fn checkpoint(
    origin: &str,
    name: &str,
    tree: &MerkleTree,
    hint: &[u8],
    signature: impl Fn(&[u8]) -> Vec<u8>,
) -> String {
    let note = format!(
        "{origin}\n{}\n{}\n",
        tree.leaves.len(),
        STANDARD.encode(tree.root())
    );
    let mut signed = hint[..4].to_vec();
    signed.extend(signature(note.as_bytes()));
    format!("{note}\n\u{2014} {name} {}\n", STANDARD.encode(signed))
}

/// The DSSE pre-authentication encoding.
fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The subject public key of a DER certificate, as a P-256 verifying key.
fn certificate_key(certificate_der: &[u8]) -> Result<VerifyingKey, String> {
    let certificate = Certificate::from_der(certificate_der)
        .map_err(|error| format!("bad certificate: {error}"))?;
    let spki = certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|error| error.to_string())?;
    VerifyingKey::from_public_key_der(&spki).map_err(|error| format!("not a P-256 key: {error}"))
}

/// An answer: status, content type, body.
type Answer = (u16, &'static str, Vec<u8>);

fn json_answer(status: u16, value: &Value) -> Answer {
    (
        status,
        "application/json",
        serde_json::to_vec(value).unwrap(),
    )
}

fn error_answer(status: u16, message: impl Into<String>) -> Answer {
    json_answer(status, &json!({"code": status, "message": message.into()}))
}

// ---- RFC 3161 -------------------------------------------------------------------------------

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct MessageImprint {
    hash_algorithm: AlgorithmIdentifierOwned,
    hashed_message: OctetString,
}

fn default_false() -> bool {
    false
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TimeStampReq {
    version: u8,
    message_imprint: MessageImprint,
    #[asn1(optional = "true")]
    req_policy: Option<ObjectIdentifier>,
    #[asn1(optional = "true")]
    nonce: Option<Int>,
    #[asn1(default = "default_false")]
    cert_req: bool,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TstInfo {
    version: u8,
    policy: ObjectIdentifier,
    message_imprint: MessageImprint,
    serial_number: Int,
    gen_time: GeneralizedTime,
    #[asn1(optional = "true")]
    nonce: Option<Int>,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct PkiStatusInfo {
    status: u8,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TimeStampResp {
    status: PkiStatusInfo,
    time_stamp_token: ContentInfo,
}

// ---- the services ---------------------------------------------------------------------------

/// Keys, certificates and logs of one instance.
struct State {
    oidc_key: SigningKey,
    fulcio: Authority,
    ct_key: SigningKey,
    rekor_v1_key: SigningKey,
    rekor_v2_key: Ed25519KeyPair,
    tsa_root: Authority,
    tsa_key: SigningKey,
    tsa_der: Vec<u8>,
    rekor_v1: Mutex<MerkleTree>,
    rekor_v2: Mutex<MerkleTree>,
    timestamps: AtomicUsize,
}

impl State {
    fn generate() -> Self {
        let tsa_root = Authority::generate("CN=exelock test tsa root,O=exelock test");
        let tsa_key = SigningKey::try_generate().unwrap();
        let tsa_der = Self::tsa_leaf(&tsa_root, &tsa_key);
        Self {
            oidc_key: SigningKey::try_generate().unwrap(),
            fulcio: Authority::generate("CN=exelock test fulcio,O=exelock test"),
            ct_key: SigningKey::try_generate().unwrap(),
            rekor_v1_key: SigningKey::try_generate().unwrap(),
            rekor_v2_key: Ed25519KeyPair::generate().unwrap(),
            tsa_root,
            tsa_key,
            tsa_der,
            rekor_v1: Mutex::new(MerkleTree::with_earlier_entries("rekor v1")),
            rekor_v2: Mutex::new(MerkleTree::with_earlier_entries("rekor v2")),
            timestamps: AtomicUsize::new(0),
        }
    }

    fn tsa_leaf(root: &Authority, key: &SigningKey) -> Vec<u8> {
        let tbs = tbs_certificate(
            &root.name,
            Name::from_str("CN=exelock test tsa,O=exelock test").unwrap(),
            &spki_der(key),
            (now().as_secs() - 3600, LONG_LIFETIME),
            vec![
                digital_signature_usage(),
                // RFC 3161 §2.3: the TSA's only extended key usage, critical.
                extension(
                    "2.5.29.37",
                    true,
                    ExtendedKeyUsage(vec![oid(TIME_STAMPING)]).to_der().unwrap(),
                ),
            ],
        );
        sign_tbs(&root.key, tbs)
    }

    /// The Rekor v2 log's checkpoint key id: SHA-256 of `origin \n 0x01 key` (C2SP signed-note
    /// Ed25519 key ids); its first four bytes are the note's key hint.
    fn rekor_v2_log_id(&self) -> [u8; 32] {
        let mut data = format!("{REKOR_V2_ORIGIN}\n").into_bytes();
        data.push(0x01);
        data.extend_from_slice(self.rekor_v2_key.public_key().as_ref());
        sha256(&data)
    }

    fn route(&self, head: &http::RequestHead, body: &[u8]) -> Answer {
        match (head.method.as_str(), head.path()) {
            ("POST", "/fulcio/api/v2/signingCert") => self.fulcio(body),
            ("POST", "/rekor/api/v1/log/entries") => self.rekor_v1(body),
            ("POST", "/rekor-v2/api/v2/log/entries") => self.rekor_v2(body),
            ("POST", "/tsa/api/v1/timestamp") => self.timestamp(body),
            ("GET", "/github-actions/token") => self.github_actions_token(head),
            _ => error_answer(404, format!("no route for {} {}", head.method, head.path())),
        }
    }

    // ---- OIDC -------------------------------------------------------------------------------

    fn jwt(key: &SigningKey, claims: &Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap());
        let signing_input = format!("{header}.{payload}");
        let signature: Signature = key.sign(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    }

    fn github_claims(audience: &str) -> Value {
        let now = now().as_secs();
        json!({
            "iss": GITHUB_ISSUER,
            "sub": GITHUB_SUB,
            "aud": audience,
            "iat": now,
            "exp": now + 600,
            "repository": "exelock/demo",
            "environment": GITHUB_ENVIRONMENT,
            "job_workflow_ref": GITHUB_WORKFLOW_REF,
        })
    }

    /// The claims of a token Fulcio accepts, or why it refuses.
    fn verified_claims(&self, token: &str) -> Result<Value, String> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("the identity token is not a JWS".into());
        };
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .ok()
            .and_then(|bytes| Signature::from_slice(&bytes).ok())
            .ok_or("the identity token's signature is not ES256")?;
        self.oidc_key
            .verifying_key()
            .verify(format!("{header}.{payload}").as_bytes(), &signature)
            .map_err(|_| "the identity token's signature does not verify with the issuer's key")?;
        let claims: Value = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or("the identity token's claims are not JSON")?;
        let issuer = claims["iss"].as_str().unwrap_or_default();
        if issuer != GITHUB_ISSUER && issuer != EMAIL_ISSUER {
            return Err(format!("unknown issuer {issuer:?}"));
        }
        let audience_ok = match &claims["aud"] {
            Value::String(audience) => audience == "sigstore",
            Value::Array(audiences) => audiences.iter().any(|audience| audience == "sigstore"),
            _ => false,
        };
        if !audience_ok {
            return Err("the identity token's audience is not sigstore".into());
        }
        if claims["exp"]
            .as_u64()
            .is_none_or(|exp| exp <= now().as_secs())
        {
            return Err("the identity token has expired".into());
        }
        if issuer == EMAIL_ISSUER && claims["email_verified"] != json!(true) {
            return Err("the email is not verified".into());
        }
        Ok(claims)
    }

    fn github_actions_token(&self, head: &http::RequestHead) -> Answer {
        if http::header(&head.headers, "authorization").is_none_or(|value| {
            !value.eq_ignore_ascii_case(&format!("bearer {ACTIONS_REQUEST_TOKEN}"))
        }) {
            return error_answer(401, "bad ACTIONS_ID_TOKEN_REQUEST_TOKEN");
        }
        let query = http::parse_query(head.query());
        let Some((_, audience)) = query.iter().find(|(name, _)| name == "audience") else {
            return error_answer(400, "no audience");
        };
        let token = Self::jwt(&self.oidc_key, &Self::github_claims(audience));
        json_answer(200, &json!({"count": 1, "value": token}))
    }

    // ---- Fulcio -----------------------------------------------------------------------------

    fn fulcio(&self, body: &[u8]) -> Answer {
        let Ok(request) = serde_json::from_slice::<Value>(body) else {
            return error_answer(400, "the request is not JSON");
        };
        let token = request["credentials"]["oidcIdentityToken"]
            .as_str()
            .unwrap_or_default();
        let claims = match self.verified_claims(token) {
            Ok(claims) => claims,
            Err(reason) => {
                return error_answer(
                    401,
                    format!("error processing the identity token: {reason}"),
                );
            }
        };
        let key_request = &request["publicKeyRequest"];
        let Ok(public_key) = VerifyingKey::from_public_key_pem(
            key_request["publicKey"]["content"]
                .as_str()
                .unwrap_or_default(),
        ) else {
            return error_answer(400, "the public key is not a P-256 PEM");
        };
        let email = claims["email"].as_str();
        let challenge = email.or(claims["sub"].as_str()).unwrap_or_default();
        let proof = key_request["proofOfPossession"]
            .as_str()
            .and_then(|text| STANDARD.decode(text).ok())
            .and_then(|der| Signature::from_der(&der).ok());
        if proof.is_none_or(|proof| public_key.verify(challenge.as_bytes(), &proof).is_err()) {
            return error_answer(
                400,
                "the proof of possession does not verify over the token's email or sub",
            );
        }
        let identity = match (email, claims["job_workflow_ref"].as_str()) {
            (Some(email), _) => GeneralName::Rfc822Name(Ia5String::new(email).unwrap()),
            (None, Some(workflow)) => GeneralName::UniformResourceIdentifier(
                Ia5String::new(&format!("https://github.com/{workflow}")).unwrap(),
            ),
            (None, None) => GeneralName::UniformResourceIdentifier(
                Ia5String::new(claims["sub"].as_str().unwrap_or_default()).unwrap(),
            ),
        };
        let leaf = self.issue_leaf(&public_key, identity, &claims);
        json_answer(
            201,
            &json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": [
                pem("CERTIFICATE", &leaf),
                pem("CERTIFICATE", &self.fulcio.der),
            ]}}}),
        )
    }

    /// A ten-minute leaf for `public_key` with an embedded SCT.
    fn issue_leaf(
        &self,
        public_key: &VerifyingKey,
        identity: GeneralName,
        claims: &Value,
    ) -> Vec<u8> {
        let issuer = claims["iss"].as_str().unwrap_or_default();
        let issued_at = now();
        let mut extensions = vec![
            digital_signature_usage(),
            extension(
                "2.5.29.37",
                false,
                ExtendedKeyUsage(vec![oid(CODE_SIGNING)]).to_der().unwrap(),
            ),
            // The subject is empty, so the SAN is critical (RFC 5280 §4.2.1.6).
            extension(
                "2.5.29.17",
                true,
                SubjectAltName(vec![identity]).to_der().unwrap(),
            ),
            extension(FULCIO_ISSUER_V1, false, issuer.as_bytes().to_vec()),
            extension(FULCIO_ISSUER_V2, false, utf8_der(issuer)),
        ];
        if let Some(environment) = claims["environment"].as_str() {
            extensions.push(extension(
                FULCIO_DEPLOYMENT_ENVIRONMENT,
                false,
                utf8_der(environment),
            ));
        }
        extensions.push(extension(
            FULCIO_TOKEN_SUBJECT,
            false,
            utf8_der(claims["sub"].as_str().unwrap_or_default()),
        ));
        let public_key_der = public_key.to_public_key_der().unwrap();
        // Fulcio leaves have an empty subject and live ten minutes.
        let mut tbs = tbs_certificate(
            &self.fulcio.name,
            Name::default(),
            public_key_der.as_bytes(),
            (issued_at.as_secs(), 600),
            extensions,
        );
        // RFC 6962 §3.2: the log signs the precertificate's TBS (this TBS without the SCT list)
        // and the issuer's key hash; the SCT list then goes into the certificate.
        let precertificate_tbs = tbs.to_der().unwrap();
        let timestamp_ms = u64::try_from(issued_at.as_millis()).unwrap();
        let scts = self.sct_list(&precertificate_tbs, timestamp_ms);
        if let Some(extensions) = tbs.extensions.as_mut() {
            extensions.push(extension(
                CT_PRECERT_SCTS,
                false,
                OctetString::new(scts).unwrap().to_der().unwrap(),
            ));
        }
        sign_tbs(&self.fulcio.key, tbs)
    }

    /// A TLS-encoded SignedCertificateTimestampList with one v1 SCT for a precertificate.
    fn sct_list(&self, precertificate_tbs: &[u8], timestamp_ms: u64) -> Vec<u8> {
        let issuer_key_hash = sha256(&self.fulcio.spki_der());
        let mut signed = vec![0u8, 0u8]; // v1, certificate_timestamp
        signed.extend_from_slice(&timestamp_ms.to_be_bytes());
        signed.extend_from_slice(&1u16.to_be_bytes()); // precert_entry
        signed.extend_from_slice(&issuer_key_hash);
        let tbs_length = u32::try_from(precertificate_tbs.len())
            .unwrap()
            .to_be_bytes();
        signed.extend_from_slice(&tbs_length[1..]); // 24-bit length
        signed.extend_from_slice(precertificate_tbs);
        signed.extend_from_slice(&0u16.to_be_bytes()); // no extensions
        let signature = sign(&self.ct_key, &signed);

        let mut sct = vec![0u8]; // v1
        sct.extend_from_slice(&sha256(&spki_der(&self.ct_key))); // log id
        sct.extend_from_slice(&timestamp_ms.to_be_bytes());
        sct.extend_from_slice(&0u16.to_be_bytes()); // no extensions
        sct.extend_from_slice(&[4, 3]); // sha256, ecdsa
        sct.extend_from_slice(&u16::try_from(signature.len()).unwrap().to_be_bytes());
        sct.extend_from_slice(&signature);

        let mut list = Vec::new();
        list.extend_from_slice(&u16::try_from(sct.len() + 2).unwrap().to_be_bytes());
        list.extend_from_slice(&u16::try_from(sct.len()).unwrap().to_be_bytes());
        list.extend_from_slice(&sct);
        list
    }

    // ---- Rekor v1 ---------------------------------------------------------------------------

    fn rekor_v1(&self, body: &[u8]) -> Answer {
        let Ok(proposed) = serde_json::from_slice::<Value>(body) else {
            return error_answer(400, "the entry is not JSON");
        };
        if proposed["kind"] != "dsse" || proposed["apiVersion"] != "0.0.1" {
            return error_answer(
                400,
                format!(
                    "unsupported entry kind {} {}",
                    proposed["kind"], proposed["apiVersion"]
                ),
            );
        }
        let content = &proposed["spec"]["proposedContent"];
        let envelope_text = content["envelope"].as_str().unwrap_or_default();
        let Ok(envelope) = serde_json::from_str::<Value>(envelope_text) else {
            return error_answer(400, "the envelope is not JSON");
        };
        let verifier = content["verifiers"][0].as_str().unwrap_or_default();
        let checked = (|| {
            let payload = STANDARD
                .decode(envelope["payload"].as_str().ok_or("no payload")?)
                .map_err(|_| "payload is not base64")?;
            let payload_type = envelope["payloadType"].as_str().ok_or("no payloadType")?;
            let [signature] = envelope["signatures"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            else {
                return Err("the envelope must carry one signature".to_owned());
            };
            let signature_bytes = STANDARD
                .decode(signature["sig"].as_str().ok_or("no sig")?)
                .map_err(|_| "sig is not base64")?;
            let certificate_pem = String::from_utf8(
                STANDARD
                    .decode(verifier)
                    .map_err(|_| "verifier is not base64")?,
            )
            .map_err(|_| "verifier is not PEM")?;
            let key = certificate_key(&pem_body(&certificate_pem))?;
            let parsed =
                Signature::from_der(&signature_bytes).map_err(|_| "sig is not DER ECDSA")?;
            key.verify(&pae(payload_type, &payload), &parsed)
                .map_err(|_| "the envelope signature does not verify with the verifier")?;
            Ok((payload, signature_bytes))
        })();
        let (payload, signature) = match checked {
            Ok(checked) => checked,
            Err(reason) => return error_answer(400, reason),
        };
        let canonical = serde_json::to_vec(&json!({
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {"algorithm": "sha256", "value": hex::encode(sha256(envelope_text.as_bytes()))},
                "payloadHash": {"algorithm": "sha256", "value": hex::encode(sha256(&payload))},
                "signatures": [{"signature": STANDARD.encode(&signature), "verifier": verifier}],
            },
        }))
        .unwrap();

        let log_id = hex::encode(sha256(&spki_der(&self.rekor_v1_key)));
        let integrated_time = now().as_secs();
        let mut tree = self.rekor_v1.lock().unwrap();
        let index = tree.append(&canonical);
        let body_b64 = STANDARD.encode(&canonical);
        // The SET signs the RFC 8785 JSON of these four fields (serde_json sorts the keys).
        let set_payload = serde_json::to_vec(&json!({
            "body": body_b64,
            "integratedTime": integrated_time,
            "logID": log_id,
            "logIndex": index,
        }))
        .unwrap();
        let set = sign(&self.rekor_v1_key, &set_payload);
        let hint = sha256(&spki_der(&self.rekor_v1_key));
        let note = checkpoint(REKOR_V1_ORIGIN, REKOR_V1_NAME, &tree, &hint, |note| {
            sign(&self.rekor_v1_key, note)
        });
        let uuid = hex::encode(tree.leaves[index]);
        json_answer(
            201,
            &json!({uuid: {
                "body": body_b64,
                "integratedTime": integrated_time,
                "logID": log_id,
                "logIndex": index,
                "verification": {
                    "signedEntryTimestamp": STANDARD.encode(set),
                    "inclusionProof": {
                        "logIndex": index,
                        "treeSize": tree.leaves.len(),
                        "rootHash": hex::encode(tree.root()),
                        "hashes": tree.proof(index).iter().map(hex::encode).collect::<Vec<_>>(),
                        "checkpoint": note,
                    },
                },
            }}),
        )
    }

    // ---- Rekor v2 ---------------------------------------------------------------------------

    fn rekor_v2(&self, body: &[u8]) -> Answer {
        let Ok(request) = serde_json::from_slice::<Value>(body) else {
            return error_answer(400, "the entry is not JSON");
        };
        let request = &request["hashedRekordRequestV002"];
        let signature = &request["signature"];
        let verifier = &signature["verifier"];
        if verifier["keyDetails"] != "PKIX_ECDSA_P256_SHA_256" {
            return error_answer(
                400,
                format!("unsupported key details {}", verifier["keyDetails"]),
            );
        }
        let checked = (|| {
            let digest = STANDARD
                .decode(request["digest"].as_str().ok_or("no digest")?)
                .map_err(|_| "digest is not base64")?;
            let signature_bytes = STANDARD
                .decode(signature["content"].as_str().ok_or("no signature")?)
                .map_err(|_| "signature is not base64")?;
            let certificate = STANDARD
                .decode(
                    verifier["x509Certificate"]["rawBytes"]
                        .as_str()
                        .ok_or("no certificate")?,
                )
                .map_err(|_| "certificate is not base64")?;
            let key = certificate_key(&certificate)?;
            let parsed =
                Signature::from_der(&signature_bytes).map_err(|_| "signature is not DER ECDSA")?;
            key.verify_prehash(&digest, &parsed)
                .map_err(|_| "the signature does not verify over the digest")?;
            Ok::<_, String>((digest, signature_bytes, certificate))
        })();
        let (digest, signature, certificate) = match checked {
            Ok(checked) => checked,
            Err(reason) => return error_answer(400, reason),
        };
        let canonical = serde_json::to_vec(&json!({
            "apiVersion": "0.0.2",
            "kind": "hashedrekord",
            "spec": {"hashedRekordV002": {
                "data": {"algorithm": "SHA2_256", "digest": STANDARD.encode(&digest)},
                "signature": {
                    "content": STANDARD.encode(&signature),
                    "verifier": {
                        "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                        "x509Certificate": {"rawBytes": STANDARD.encode(&certificate)},
                    },
                },
            }},
        }))
        .unwrap();
        let log_id = self.rekor_v2_log_id();
        let mut tree = self.rekor_v2.lock().unwrap();
        let index = tree.append(&canonical);
        let note = checkpoint(REKOR_V2_ORIGIN, REKOR_V2_ORIGIN, &tree, &log_id, |note| {
            self.rekor_v2_key.sign(note).as_ref().to_vec()
        });
        // Proto JSON: int64 as strings, bytes as base64; Rekor v2 sets no integratedTime.
        json_answer(
            201,
            &json!({
                "logIndex": index.to_string(),
                "logId": {"keyId": STANDARD.encode(log_id)},
                "kindVersion": {"kind": "hashedrekord", "version": "0.0.2"},
                "inclusionProof": {
                    "logIndex": index.to_string(),
                    "rootHash": STANDARD.encode(tree.root()),
                    "treeSize": tree.leaves.len().to_string(),
                    "hashes": tree.proof(index).iter().map(|hash| STANDARD.encode(hash)).collect::<Vec<_>>(),
                    "checkpoint": {"envelope": note},
                },
                "canonicalizedBody": STANDARD.encode(&canonical),
            }),
        )
    }

    // ---- TSA --------------------------------------------------------------------------------

    fn timestamp(&self, body: &[u8]) -> Answer {
        let Ok(request) = TimeStampReq::from_der(body) else {
            return (400, "text/plain", b"not a TimeStampReq".to_vec());
        };
        let gen_time =
            GeneralizedTime::from_unix_duration(Duration::from_secs(now().as_secs())).unwrap();
        let serial = self.timestamps.fetch_add(1, Ordering::SeqCst) + 1;
        let tst_info = TstInfo {
            version: 1,
            policy: oid(TSA_POLICY),
            message_imprint: request.message_imprint,
            serial_number: positive_int(u64::try_from(serial).unwrap()),
            gen_time,
            nonce: request.nonce,
        };
        let tst_der = tst_info.to_der().unwrap();
        let tsa_certificate = Certificate::from_der(&self.tsa_der).unwrap();
        let attribute = |id: &str, value: Any| Attribute {
            oid: oid(id),
            values: SetOfVec::try_from(vec![value]).unwrap(),
        };
        let signed_attributes = SetOfVec::try_from(vec![
            attribute(
                ID_CONTENT_TYPE,
                Any::encode_from(&oid(ID_CT_TST_INFO)).unwrap(),
            ),
            attribute(
                ID_MESSAGE_DIGEST,
                Any::encode_from(&OctetString::new(sha256(&tst_der).to_vec()).unwrap()).unwrap(),
            ),
        ])
        .unwrap();
        // RFC 5652 §5.4: the signature covers the DER of the attributes as a SET OF.
        let signature = sign(&self.tsa_key, &signed_attributes.to_der().unwrap());
        let sha256_algorithm = AlgorithmIdentifierOwned {
            oid: oid(SHA256),
            parameters: None,
        };
        let signed_data = SignedData {
            version: CmsVersion::V3,
            digest_algorithms: SetOfVec::try_from(vec![sha256_algorithm.clone()]).unwrap(),
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: oid(ID_CT_TST_INFO),
                econtent: Some(Any::new(Tag::OctetString, tst_der).unwrap()),
            },
            certificates: Some(CertificateSet(
                SetOfVec::try_from(vec![CertificateChoices::Certificate(
                    tsa_certificate.clone(),
                )])
                .unwrap(),
            )),
            crls: None,
            signer_infos: SignerInfos(
                SetOfVec::try_from(vec![SignerInfo {
                    version: CmsVersion::V1,
                    sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                        issuer: tsa_certificate.tbs_certificate.issuer.clone(),
                        serial_number: tsa_certificate.tbs_certificate.serial_number.clone(),
                    }),
                    digest_alg: sha256_algorithm,
                    signed_attrs: Some(signed_attributes),
                    signature_algorithm: ecdsa_with_sha256(),
                    signature: OctetString::new(signature).unwrap(),
                    unsigned_attrs: None,
                }])
                .unwrap(),
            ),
        };
        let response = TimeStampResp {
            status: PkiStatusInfo { status: 0 },
            time_stamp_token: ContentInfo {
                content_type: oid(ID_SIGNED_DATA),
                content: Any::encode_from(&signed_data).unwrap(),
            },
        };
        (
            200,
            "application/timestamp-reply",
            response.to_der().unwrap(),
        )
    }
}

async fn serve(state: Arc<State>, stream: tokio::net::TcpStream) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let Ok(Some(head)) = http::read_request_head(&mut reader).await else {
            return;
        };
        let Ok(body) = http::read_body(&mut reader, http::request_body_kind(&head)).await else {
            return;
        };
        let (status, content_type, answer) = state.route(&head, &body);
        let headers = vec![
            ("Content-Type".to_owned(), content_type.to_owned()),
            ("Content-Length".to_owned(), answer.len().to_string()),
        ];
        let head_bytes = http::response_head_bytes(status, http::reason_phrase(status), &headers);
        if write.write_all(&head_bytes).await.is_err() || write.write_all(&answer).await.is_err() {
            return;
        }
        if head.wants_close() {
            return;
        }
    }
}

/// Where a signing config sends each service.
#[derive(Clone, Debug)]
pub struct ServiceUrls {
    /// Fulcio's base URL.
    pub fulcio: String,
    /// The Rekor v1 log's base URL.
    pub rekor_v1: String,
    /// The Rekor v2 log's base URL.
    pub rekor_v2: String,
    /// The TSA's timestamp URL.
    pub tsa: String,
}

/// The files [`SigstoreServices::write_trust_files`] wrote.
pub struct TrustFiles {
    /// `trusted_root.json`.
    pub trusted_root: PathBuf,
    /// `signing_config.json`.
    pub signing_config: PathBuf,
}

/// Fulcio, Rekor v1, Rekor v2, a TSA and the GitHub Actions OIDC endpoint on one loopback port;
/// stopped on drop.
pub struct SigstoreServices {
    server: BackgroundServer,
    state: Arc<State>,
}

impl SigstoreServices {
    /// Generates every key and certificate and starts serving.
    pub fn start() -> Self {
        let state = Arc::new(State::generate());
        let serving = Arc::clone(&state);
        let server = BackgroundServer::start("sigstore", move |stream| {
            serve(Arc::clone(&serving), stream)
        });
        Self { server, state }
    }

    /// The services' URLs.
    pub fn urls(&self) -> ServiceUrls {
        let base = format!("http://{}", self.server.host());
        ServiceUrls {
            fulcio: format!("{base}/fulcio"),
            rekor_v1: format!("{base}/rekor"),
            rekor_v2: format!("{base}/rekor-v2"),
            tsa: format!("{base}/tsa/api/v1/timestamp"),
        }
    }

    /// `ACTIONS_ID_TOKEN_REQUEST_URL` for the GitHub Actions OIDC endpoint.
    pub fn github_actions_request_url(&self) -> String {
        format!(
            "http://{}/github-actions/token?api-version=2.0",
            self.server.host()
        )
    }

    /// A GitHub Actions token (no `email`) Fulcio accepts.
    pub fn github_token(&self) -> String {
        State::jwt(&self.state.oidc_key, &State::github_claims("sigstore"))
    }

    /// An email token Fulcio accepts.
    pub fn email_token(&self) -> String {
        let now = now().as_secs();
        State::jwt(
            &self.state.oidc_key,
            &json!({
                "iss": EMAIL_ISSUER,
                "sub": "8c1f6b4e",
                "aud": ["sigstore"],
                "iat": now,
                "exp": now + 600,
                "email": EMAIL,
                "email_verified": true,
            }),
        )
    }

    /// A GitHub token with valid claims, signed by a key that is not the issuer's: Fulcio
    /// refuses it, exelock cannot tell.
    pub fn forged_token(&self) -> String {
        State::jwt(
            &SigningKey::try_generate().unwrap(),
            &State::github_claims("sigstore"),
        )
    }

    /// Entries in the Rekor log of API `version` (1 or 2), the earlier entries included.
    pub fn log_size(&self, version: u32) -> usize {
        let log = if version == 2 {
            &self.state.rekor_v2
        } else {
            &self.state.rekor_v1
        };
        log.lock().unwrap().leaves.len()
    }

    /// How many timestamps the TSA issued.
    pub fn timestamps_issued(&self) -> usize {
        self.state.timestamps.load(Ordering::SeqCst)
    }

    /// Writes `trusted_root.json` (Fulcio CA, CT log key, both Rekor keys, the TSA chain) and a
    /// `signing_config.json` for [`Self::urls`] into `dir`.
    pub fn write_trust_files(&self, dir: &Path) -> TrustFiles {
        let trust = TrustFiles {
            trusted_root: dir.join("trusted_root.json"),
            signing_config: dir.join("signing_config.json"),
        };
        fs_err::write(
            &trust.trusted_root,
            serde_json::to_vec_pretty(&self.trusted_root()).unwrap(),
        )
        .unwrap();
        self.write_signing_config(&trust.signing_config, &self.urls());
        trust
    }

    /// Writes a v0.2 signing config for `urls` to `path`.
    pub fn write_signing_config(&self, path: &Path, urls: &ServiceUrls) {
        let endpoint = |url: &str, version: u32| json!({"url": url, "majorApiVersion": version, "validFor": {"start": VALID_SINCE}, "operator": "exelock.test"});
        let config = json!({
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [endpoint(&urls.fulcio, 1)],
            "oidcUrls": [],
            "rekorTlogUrls": [endpoint(&urls.rekor_v1, 1), endpoint(&urls.rekor_v2, 2)],
            "tsaUrls": [endpoint(&urls.tsa, 1)],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"},
        });
        fs_err::write(path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    }

    fn trusted_root(&self) -> Value {
        let state = &self.state;
        let urls = self.urls();
        let valid_for = json!({"start": VALID_SINCE});
        let key = |der: &[u8], details: &str| json!({"rawBytes": STANDARD.encode(der), "keyDetails": details, "validFor": valid_for});
        let rekor_v1_spki = spki_der(&state.rekor_v1_key);
        let ct_spki = spki_der(&state.ct_key);
        json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [
                {
                    "baseUrl": urls.rekor_v1,
                    "hashAlgorithm": "SHA2_256",
                    "publicKey": key(&rekor_v1_spki, "PKIX_ECDSA_P256_SHA_256"),
                    "logId": {"keyId": STANDARD.encode(sha256(&rekor_v1_spki))},
                },
                {
                    "baseUrl": urls.rekor_v2,
                    "hashAlgorithm": "SHA2_256",
                    "publicKey": key(&ed25519_spki_der(&state.rekor_v2_key), "PKIX_ED25519"),
                    "logId": {"keyId": STANDARD.encode(state.rekor_v2_log_id())},
                },
            ],
            "certificateAuthorities": [{
                "subject": {"organization": "exelock test", "commonName": "exelock test fulcio"},
                "uri": urls.fulcio,
                "certChain": {"certificates": [{"rawBytes": STANDARD.encode(&state.fulcio.der)}]},
                "validFor": valid_for,
            }],
            "ctlogs": [{
                "baseUrl": "https://ctfe.exelock.test/test",
                "hashAlgorithm": "SHA2_256",
                "publicKey": key(&ct_spki, "PKIX_ECDSA_P256_SHA_256"),
                "logId": {"keyId": STANDARD.encode(sha256(&ct_spki))},
            }],
            "timestampAuthorities": [{
                "subject": {"organization": "exelock test", "commonName": "exelock test tsa"},
                "uri": urls.tsa,
                "certChain": {"certificates": [
                    {"rawBytes": STANDARD.encode(&state.tsa_der)},
                    {"rawBytes": STANDARD.encode(&state.tsa_root.der)},
                ]},
                "validFor": valid_for,
            }],
        })
    }
}

/// A loopback URL nothing listens on (the port was free a moment ago).
pub fn unreachable_url(path: &str) -> String {
    let listener = StdTcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_paths_prove_every_leaf_of_every_tree_size() {
        // Checked against the RFC 6962 verification algorithm (RFC 9162 §2.1.3.2), written out
        // independently of the recursive construction above.
        let mut tree = MerkleTree::default();
        for size in 1..=9usize {
            tree.append(format!("entry {size}").as_bytes());
            for index in 0..size {
                let (mut position, mut last) = (index, size - 1);
                let mut hash = tree.leaves[index];
                for sibling in tree.proof(index) {
                    assert!(last != 0, "path too long for {index} of {size}");
                    if position % 2 == 1 || position == last {
                        hash = node(&sibling, &hash);
                        while position % 2 == 0 && position != 0 {
                            position >>= 1;
                            last >>= 1;
                        }
                    } else {
                        hash = node(&hash, &sibling);
                    }
                    position >>= 1;
                    last >>= 1;
                }
                assert_eq!(last, 0, "path too short for {index} of {size}");
                assert_eq!(hash, tree.root(), "leaf {index} of {size}");
            }
        }
    }
}
