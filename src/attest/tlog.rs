//! Rekor (v1 API) `dsse` v0.0.1 entries: the signed entry timestamp (SET), and the check that an
//! entry's body records a given envelope signature and certificate.
//!
//! References: Rekor's `pkg/types/dsse/v0.0.1` (proposed content and canonical body),
//! `pkg/api/entries.go` (the SET signs the RFC 8785 canonical JSON of
//! `{"body","integratedTime","logID","logIndex"}`), and `sigstore_rekor.proto`.
//!
//! No I/O. Inclusion proofs and checkpoints are carried into bundles but not verified here: the
//! SET is the log's signed promise that exelock relies on.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::bundle::TransparencyLogEntry;
use super::x509::{EcKey, Hash};
use super::{Error, dsse};

/// The entry kind exelock checks.
pub const DSSE_KIND: &str = "dsse";
/// Its version.
pub const DSSE_VERSION: &str = "0.0.1";

/// What the SET signs. The fields are declared in RFC 8785 order and hold only integers and
/// base64/hex strings (nothing JSON escapes), so serde_json's compact output is the canonical form.
#[derive(Serialize)]
struct SetPayload {
    body: String,
    #[serde(rename = "integratedTime")]
    integrated_time: i64,
    #[serde(rename = "logID")]
    log_id: String,
    #[serde(rename = "logIndex")]
    log_index: i64,
}

/// The bytes a log's signed entry timestamp signs for `entry`.
pub fn set_payload(entry: &TransparencyLogEntry) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(&SetPayload {
        body: STANDARD.encode(&entry.canonicalized_body),
        integrated_time: entry.integrated_time,
        log_id: hex::encode(&entry.log_id.key_id),
        log_index: entry.log_index,
    })
    .map_err(|source| Error::Serialize {
        what: "signed entry timestamp payload",
        source,
    })
}

/// Verifies the entry's SET with the log's key (ECDSA, SHA-256, as Rekor signs).
pub fn verify_set(entry: &TransparencyLogEntry, log_key: &EcKey) -> Result<(), Error> {
    let promise = entry
        .inclusion_promise
        .as_ref()
        .ok_or(Error::MissingTlogEntry)?;
    if log_key.verify(
        &set_payload(entry)?,
        &promise.signed_entry_timestamp,
        Hash::Sha256,
    ) {
        Ok(())
    } else {
        Err(Error::SignedEntryTimestamp)
    }
}

/// The canonical body of a `dsse` v0.0.1 entry (only what exelock checks).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DsseBody {
    kind: String,
    api_version: String,
    spec: DsseSpec,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DsseSpec {
    payload_hash: HashValue,
    #[serde(default)]
    signatures: Vec<DsseBodySignature>,
}

#[derive(Deserialize)]
struct HashValue {
    algorithm: String,
    value: String,
}

#[derive(Deserialize)]
struct DsseBodySignature {
    signature: String,
    /// Base64 of the verifier PEM; early Rekor releases named it `publicKey`.
    #[serde(alias = "publicKey")]
    verifier: String,
}

/// Checks that `entry` is a `dsse` v0.0.1 entry recording `envelope`'s payload, `signature` and
/// the certificate `certificate_der`.
///
/// The body's `envelopeHash` covers the envelope bytes as uploaded, which a bundle's re-encoding
/// need not reproduce, so it is not compared; the payload hash and the signature (which covers
/// `PAE(payloadType, payload)`) bind the entry to the envelope.
pub fn check_dsse_entry(
    entry: &TransparencyLogEntry,
    envelope: &dsse::Envelope,
    signature: &[u8],
    certificate_der: &[u8],
) -> Result<(), Error> {
    let kind = &entry.kind_version;
    if kind.kind != DSSE_KIND || kind.version != DSSE_VERSION {
        return Err(Error::TlogKind {
            got: format!("{} {}", kind.kind, kind.version),
        });
    }
    let mismatch = |reason| Error::TlogEntryMismatch { reason };
    let body: DsseBody = serde_json::from_slice(&entry.canonicalized_body)
        .map_err(|_| mismatch("the entry body is not a dsse entry"))?;
    if body.kind != kind.kind || body.api_version != kind.version {
        return Err(mismatch(
            "the entry body's kind differs from its kindVersion",
        ));
    }
    let payload_hash = hex::encode(Sha256::digest(&envelope.payload));
    if body.spec.payload_hash.algorithm != "sha256"
        || !body
            .spec
            .payload_hash
            .value
            .eq_ignore_ascii_case(&payload_hash)
    {
        return Err(mismatch("the payload hash differs"));
    }
    let recorded = body.spec.signatures.iter().any(|recorded| {
        dsse::decode_base64(&recorded.signature).is_ok_and(|bytes| bytes == signature)
            && verifier_der(&recorded.verifier).is_some_and(|der| der == certificate_der)
    });
    if recorded {
        Ok(())
    } else {
        Err(mismatch(
            "it records another signature or another signing certificate",
        ))
    }
}

/// Decodes a body verifier: base64 of a certificate PEM.
fn verifier_der(verifier: &str) -> Option<Vec<u8>> {
    let pem_text = dsse::decode_base64(verifier).ok()?;
    let (label, der) = p256::pkcs8::der::pem::decode_vec(pem_text.trim_ascii()).ok()?;
    (label == "CERTIFICATE").then_some(der)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attest::bundle::{KindVersion, LogId};

    #[test]
    fn set_payload_is_rfc8785_canonical() {
        let entry = TransparencyLogEntry {
            log_index: 25_579,
            log_id: LogId {
                key_id: vec![0xab, 0xcd],
            },
            kind_version: KindVersion {
                kind: "dsse".into(),
                version: "0.0.1".into(),
            },
            integrated_time: 1_700_000_000,
            inclusion_promise: None,
            inclusion_proof: None,
            canonicalized_body: b"{\"k\":1}".to_vec(),
        };
        assert_eq!(
            String::from_utf8(set_payload(&entry).unwrap()).unwrap(),
            r#"{"body":"eyJrIjoxfQ==","integratedTime":1700000000,"logID":"abcd","logIndex":25579}"#
        );
    }
}
