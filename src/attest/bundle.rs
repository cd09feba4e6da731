//! The Sigstore bundle (v0.3, JSON) exelock writes for key-based attestations: the DSSE envelope
//! and the key hint, nothing else (no log entry, no timestamp).
//!
//! Spec: `bundle.proto` of <https://github.com/sigstore/protobuf-specs>, in its canonical proto3
//! JSON form. A small serde struct rather than `sigstore_types::Bundle` because the envelope must
//! keep its empty `"keyid": ""` (Python securesystemslib requires the field; the crate's type
//! drops it). Keyless bundles are the one `sigstore-sign` writes; every bundle is *read* by
//! `sigstore-verify` ([`super::verify`]). This module only (de)serialises: it verifies nothing.

use serde::{Deserialize, Serialize};

use super::{BUNDLE_MEDIA_TYPE, Error, dsse};

/// A key-based Sigstore bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    /// [`BUNDLE_MEDIA_TYPE`].
    pub media_type: String,
    /// The key hint.
    pub verification_material: VerificationMaterial,
    /// The signed content.
    pub dsse_envelope: dsse::Envelope,
}

/// What verifies the signature: a key named out of band.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMaterial {
    /// The key hint.
    pub public_key: PublicKeyIdentifier,
}

/// `PublicKeyIdentifier`: an unauthenticated hint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyIdentifier {
    /// cosign's form: standard base64 of the SHA-256 of the public key's DER.
    #[serde(default)]
    pub hint: String,
}

impl Bundle {
    /// A key-based bundle: the key named by `hint`, no log entries.
    #[must_use]
    pub fn with_public_key(envelope: &dsse::Envelope, hint: &str) -> Self {
        Self {
            media_type: BUNDLE_MEDIA_TYPE.to_owned(),
            verification_material: VerificationMaterial {
                public_key: PublicKeyIdentifier {
                    hint: hint.to_owned(),
                },
            },
            dsse_envelope: envelope.clone(),
        }
    }

    /// Reads a key-based bundle of this shape back (tests, and tools that post-process
    /// exelock's output).
    ///
    /// # Errors
    /// [`Error::Json`] when it does not parse, [`Error::BundleMediaType`] for another media type.
    pub fn from_json(json: &[u8]) -> Result<Self, Error> {
        let bundle: Self = serde_json::from_slice(json).map_err(|source| Error::Json {
            document: "Sigstore bundle",
            source,
        })?;
        if bundle.media_type != BUNDLE_MEDIA_TYPE {
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
    fn sigstore_protobuf_specs_and_sigstore_types_read_our_bundles() {
        let bundle = Bundle::with_public_key(&envelope(), "qrs=");
        let json = bundle.to_json().unwrap();
        let proto: ProtoBundle = serde_json::from_slice(&json).unwrap();
        assert_eq!(proto.media_type, BUNDLE_MEDIA_TYPE);
        let written = serde_json::to_vec(&proto).unwrap();
        assert_eq!(Bundle::from_json(&written).unwrap(), bundle);
        sigstore_verify::types::Bundle::from_json(std::str::from_utf8(&json).unwrap()).unwrap();
    }

    #[test]
    fn rejects_other_media_types() {
        let json =
            br#"{"mediaType":"application/json","verificationMaterial":{"publicKey":{"hint":""}},
            "dsseEnvelope":{"payload":"e30=","payloadType":"t","signatures":[]}}"#;
        let error = Bundle::from_json(json).unwrap_err();
        assert!(matches!(error, Error::BundleMediaType { .. }), "{error:?}");
    }
}
