//! The Sigstore bundle (v0.3, JSON): a DSSE envelope plus what a verifier needs to check it —
//! a key hint, or a certificate and transparency-log entries.
//!
//! Spec: `bundle.proto`, `sigstore_rekor.proto` and `sigstore_common.proto` of
//! <https://github.com/sigstore/protobuf-specs>, in their canonical proto3 JSON form: camelCase
//! field names, `bytes` as standard base64, `int64` as decimal strings (numbers are accepted on
//! read), unknown fields ignored.
//!
//! These are small serde structs rather than `sigstore_protobuf_specs` types: those reject
//! unknown fields and wrap every message in `Option`; the tests check that both read each other's
//! output. This module only (de)serialises: it verifies nothing.

use serde::{Deserialize, Serialize};

use super::dsse::{self, base64_bytes};
use super::{BUNDLE_MEDIA_TYPE, Error};

/// Bundle media types this build reads; v0.1 and v0.2 differ only in what they may carry.
const READABLE_MEDIA_TYPES: [&str; 4] = [
    BUNDLE_MEDIA_TYPE,
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
];

/// A Sigstore bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    /// [`BUNDLE_MEDIA_TYPE`] for bundles exelock writes.
    pub media_type: String,
    /// The key hint or certificate, and the log entries.
    pub verification_material: VerificationMaterial,
    /// The signed content (exelock only reads and writes DSSE bundles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dsse_envelope: Option<dsse::Envelope>,
    /// The other content kind (a signature over a blob digest); kept only to name it in errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_signature: Option<serde_json::Value>,
}

/// What verifies the signature.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMaterial {
    /// A key named out of band (key-based signing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PublicKeyIdentifier>,
    /// The signing certificate (keyless, v0.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<X509Certificate>,
    /// The signing certificate first, then its chain (keyless, v0.1 and v0.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x509_certificate_chain: Option<X509CertificateChain>,
    /// Transparency-log entries for the signature.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tlog_entries: Vec<TransparencyLogEntry>,
}

/// `PublicKeyIdentifier`: an unauthenticated hint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyIdentifier {
    /// exelock writes what cosign writes: the SHA-256 of the public key's DER in standard
    /// base64 (earlier exelock releases wrote it in hex). Never read for a decision.
    #[serde(default)]
    pub hint: String,
}

/// `X509Certificate`: DER bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct X509Certificate {
    /// The DER encoding.
    #[serde(with = "base64_bytes")]
    pub raw_bytes: Vec<u8>,
}

/// `X509CertificateChain`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct X509CertificateChain {
    /// Leaf first.
    #[serde(default)]
    pub certificates: Vec<X509Certificate>,
}

/// `TransparencyLogEntry`: one Rekor entry and the log's promise to include it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransparencyLogEntry {
    /// The entry's global index (the one the signed entry timestamp covers).
    #[serde(default, with = "int64")]
    pub log_index: i64,
    /// The log: SHA-256 of its public key's DER.
    pub log_id: LogId,
    /// Entry kind and version, e.g. `dsse` `0.0.1`.
    pub kind_version: KindVersion,
    /// When the log recorded the entry, Unix seconds.
    #[serde(default, with = "int64")]
    pub integrated_time: i64,
    /// The signed entry timestamp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion_promise: Option<InclusionPromise>,
    /// The Merkle inclusion proof, when the log returned one (carried, not verified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion_proof: Option<InclusionProof>,
    /// The entry body exactly as the log stores it (the `body` of Rekor's response, decoded).
    #[serde(default, with = "base64_bytes")]
    pub canonicalized_body: Vec<u8>,
}

/// `LogId`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogId {
    /// SHA-256 of the log's public key DER.
    #[serde(with = "base64_bytes")]
    pub key_id: Vec<u8>,
}

/// `KindVersion`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindVersion {
    /// e.g. `dsse`.
    pub kind: String,
    /// e.g. `0.0.1`.
    pub version: String,
}

/// `InclusionPromise`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionPromise {
    /// The log's signature over the entry (see `tlog`).
    #[serde(with = "base64_bytes")]
    pub signed_entry_timestamp: Vec<u8>,
}

/// `InclusionProof`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionProof {
    /// The entry's index in its log shard.
    #[serde(default, with = "int64")]
    pub log_index: i64,
    /// The Merkle root the proof leads to.
    #[serde(with = "base64_bytes")]
    pub root_hash: Vec<u8>,
    /// The tree size of that root.
    #[serde(default, with = "int64")]
    pub tree_size: i64,
    /// The audit path.
    #[serde(default, with = "base64_list")]
    pub hashes: Vec<Vec<u8>>,
    /// The log's signed checkpoint for that root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
}

/// `Checkpoint`: a signed note.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The note text with its signature lines.
    pub envelope: String,
}

impl Bundle {
    /// A key-based bundle: the key named by `hint`, no log entries.
    #[must_use]
    pub fn with_public_key(envelope: &dsse::Envelope, hint: &str) -> Self {
        Self {
            media_type: BUNDLE_MEDIA_TYPE.to_owned(),
            verification_material: VerificationMaterial {
                public_key: Some(PublicKeyIdentifier {
                    hint: hint.to_owned(),
                }),
                ..VerificationMaterial::default()
            },
            dsse_envelope: Some(envelope.clone()),
            message_signature: None,
        }
    }

    /// A keyless bundle: the signing certificate (DER) and the log entries.
    #[must_use]
    pub fn with_certificate(
        envelope: &dsse::Envelope,
        certificate_der: Vec<u8>,
        tlog_entries: Vec<TransparencyLogEntry>,
    ) -> Self {
        Self {
            media_type: BUNDLE_MEDIA_TYPE.to_owned(),
            verification_material: VerificationMaterial {
                certificate: Some(X509Certificate {
                    raw_bytes: certificate_der,
                }),
                tlog_entries,
                ..VerificationMaterial::default()
            },
            dsse_envelope: Some(envelope.clone()),
            message_signature: None,
        }
    }

    /// Reads bundle JSON of a supported media type.
    ///
    /// # Errors
    /// [`Error::Json`] when it does not parse, [`Error::BundleMediaType`] for other media types.
    pub fn from_json(json: &[u8]) -> Result<Self, Error> {
        let bundle: Self = serde_json::from_slice(json).map_err(|source| Error::Json {
            document: "Sigstore bundle",
            source,
        })?;
        if !READABLE_MEDIA_TYPES.contains(&bundle.media_type.as_str()) {
            return Err(Error::BundleMediaType {
                got: bundle.media_type,
            });
        }
        Ok(bundle)
    }

    /// Compact JSON.
    ///
    /// # Errors
    /// [`Error::Serialize`], which does not happen in practice.
    pub fn to_json(&self) -> Result<Vec<u8>, Error> {
        serde_json::to_vec(self).map_err(|source| Error::Serialize {
            what: "Sigstore bundle",
            source,
        })
    }

    /// The DSSE envelope, or an error naming what the bundle carries instead.
    ///
    /// # Errors
    /// [`Error::BundleIncomplete`].
    pub fn envelope(&self) -> Result<&dsse::Envelope, Error> {
        self.dsse_envelope.as_ref().ok_or(Error::BundleIncomplete {
            what: if self.message_signature.is_some() {
                "DSSE envelope (it carries a message signature, which exelock does not produce)"
            } else {
                "DSSE envelope"
            },
        })
    }

    /// The leaf certificate's DER, from `certificate` or the first of `x509CertificateChain`.
    #[must_use]
    pub fn leaf_certificate(&self) -> Option<&[u8]> {
        let material = &self.verification_material;
        material
            .certificate
            .as_ref()
            .or_else(|| {
                material
                    .x509_certificate_chain
                    .as_ref()
                    .and_then(|chain| chain.certificates.first())
            })
            .map(|certificate| certificate.raw_bytes.as_slice())
    }
}

/// proto3 JSON `int64`: written as a decimal string, read from a string or a number.
mod int64 {
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Int64 {
        Number(i64),
        Text(String),
    }

    pub fn serialize<S: Serializer>(value: &i64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
        match Int64::deserialize(deserializer)? {
            Int64::Number(number) => Ok(number),
            Int64::Text(text) => text.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// proto3 JSON `repeated bytes`.
mod base64_list {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::ser::SerializeSeq as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(values: &[Vec<u8>], serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(values.len()))?;
        for value in values {
            seq.serialize_element(&STANDARD.encode(value))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Vec<u8>>, D::Error> {
        Vec::<String>::deserialize(deserializer)?
            .iter()
            .map(|text| super::dsse::decode_base64(text).map_err(serde::de::Error::custom))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sigstore_protobuf_specs::dev::sigstore::bundle::v1::Bundle as ProtoBundle;

    fn envelope() -> dsse::Envelope {
        dsse::Envelope {
            payload: b"{}".to_vec(),
            payload_type: crate::attest::IN_TOTO_PAYLOAD_TYPE.into(),
            signatures: vec![dsse::Signature {
                keyid: String::new(),
                sig: vec![1, 2, 3],
            }],
        }
    }

    fn tlog_entry() -> TransparencyLogEntry {
        TransparencyLogEntry {
            log_index: 123_456_789_012,
            log_id: LogId {
                key_id: vec![9; 32],
            },
            kind_version: KindVersion {
                kind: "dsse".into(),
                version: "0.0.1".into(),
            },
            integrated_time: 1_767_225_900,
            inclusion_promise: Some(InclusionPromise {
                signed_entry_timestamp: vec![4, 5],
            }),
            inclusion_proof: Some(InclusionProof {
                log_index: 42,
                root_hash: vec![7; 32],
                tree_size: 43,
                hashes: vec![vec![1; 32], vec![2; 32]],
                checkpoint: Some(Checkpoint {
                    envelope: "rekor.example - 1\n43\nroot\n\n— sig\n".into(),
                }),
            }),
            canonicalized_body: b"{\"kind\":\"dsse\"}".to_vec(),
        }
    }

    #[test]
    fn key_bundle_has_the_documented_shape() {
        let json = Bundle::with_public_key(&envelope(), "qrs=")
            .to_json()
            .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "mediaType": BUNDLE_MEDIA_TYPE,
                "verificationMaterial": {"publicKey": {"hint": "qrs="}},
                "dsseEnvelope": {
                    "payload": "e30=",
                    "payloadType": "application/vnd.in-toto+json",
                    "signatures": [{"keyid": "", "sig": "AQID"}]
                }
            })
        );
    }

    #[test]
    fn certificate_bundle_writes_int64_as_strings() {
        let bundle = Bundle::with_certificate(&envelope(), vec![0x30, 0x00], vec![tlog_entry()]);
        let value: serde_json::Value = serde_json::from_slice(&bundle.to_json().unwrap()).unwrap();
        let material = &value["verificationMaterial"];
        assert_eq!(material["certificate"]["rawBytes"], "MAA=");
        let entry = &material["tlogEntries"][0];
        assert_eq!(entry["logIndex"], "123456789012");
        assert_eq!(entry["integratedTime"], "1767225900");
        assert_eq!(entry["kindVersion"]["kind"], "dsse");
        assert_eq!(entry["inclusionProof"]["treeSize"], "43");
        assert_eq!(entry["inclusionPromise"]["signedEntryTimestamp"], "BAU=");
    }

    #[test]
    fn sigstore_protobuf_specs_reads_our_bundles_and_we_read_its_output() {
        for bundle in [
            Bundle::with_public_key(&envelope(), "qrs="),
            Bundle::with_certificate(&envelope(), vec![0x30, 0x00], vec![tlog_entry()]),
        ] {
            let json = bundle.to_json().unwrap();
            let proto: ProtoBundle = serde_json::from_slice(&json).unwrap();
            assert_eq!(proto.media_type, BUNDLE_MEDIA_TYPE);
            let written = serde_json::to_vec(&proto).unwrap();
            assert_eq!(Bundle::from_json(&written).unwrap(), bundle);
        }
    }

    #[test]
    fn reads_int64_numbers_and_omitted_defaults() {
        let json = br#"{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=0.2",
            "verificationMaterial":{"x509CertificateChain":{"certificates":[{"rawBytes":"MAA="}]},
              "tlogEntries":[{"logIndex":7,"logId":{"keyId":"AA=="},"kindVersion":{"kind":"dsse","version":"0.0.1"},
                "integratedTime":1700000000,"canonicalizedBody":"e30="}],
              "timestampVerificationData":{}},
            "dsseEnvelope":{"payload":"e30=","payloadType":"t","signatures":[{"sig":"AQ=="}]}}"#;
        let bundle = Bundle::from_json(json).unwrap();
        let entry = &bundle.verification_material.tlog_entries[0];
        assert_eq!((entry.log_index, entry.integrated_time), (7, 1_700_000_000));
        assert_eq!(bundle.leaf_certificate(), Some([0x30, 0x00].as_slice()));
        assert_eq!(bundle.envelope().unwrap().signatures[0].keyid, "");
    }

    #[test]
    fn rejects_unknown_media_types_and_message_signatures() {
        let json = br#"{"mediaType":"application/json","verificationMaterial":{}}"#;
        let error = Bundle::from_json(json).unwrap_err();
        assert!(matches!(error, Error::BundleMediaType { .. }), "{error:?}");
        let json = br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial":{},"messageSignature":{"signature":"AQ=="}}"#;
        let error = Bundle::from_json(json).unwrap().envelope().unwrap_err();
        assert!(error.to_string().contains("message signature"), "{error}");
        assert!(!error.is_verification_failure());
    }
}
