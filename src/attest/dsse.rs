//! DSSE, the Dead Simple Signing Envelope: the envelope type, its standard JSON form and the
//! pre-authentication encoding (PAE) that signatures cover.
//!
//! Spec: <https://github.com/secure-systems-lab/dsse/blob/master/protocol.md> (PAE, signing and
//! verification) and <https://github.com/secure-systems-lab/dsse/blob/master/envelope.md> (JSON).
//!
//! Pure: no I/O, no keys, no policy. This module neither signs nor verifies; it only says which
//! bytes a signature covers ([`pae`]) and how an envelope is written and read. Deciding how many
//! signatures an envelope may carry, and which key must have made them, is `verify`'s job; this
//! module only refuses to read more than [`MAX_SIGNATURES`] of them, so a hostile envelope cannot
//! make a reader decode an unbounded list.

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Error;

/// The most signatures an envelope may carry to be read at all. exelock's own envelopes carry
/// one and verification accepts exactly one; the bound only keeps reading cheap.
pub const MAX_SIGNATURES: usize = 16;

/// A DSSE envelope: a payload, its type and the signatures over `PAE(payload_type, payload)`.
///
/// Serde reads and writes the standard JSON form:
/// `{"payload": b64, "payloadType": "...", "signatures": [{"keyid": "", "sig": b64}]}`.
/// `payload` and `sig` are written in standard base64 with padding; reading accepts standard or
/// URL-safe base64, padded or not, as the spec requires of verifiers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// The serialized body, raw bytes (base64 in JSON).
    #[serde(with = "base64_bytes")]
    pub payload: Vec<u8>,
    /// What the payload is, e.g. `application/vnd.in-toto+json`.
    pub payload_type: String,
    /// The signatures; a missing list reads as empty, one longer than [`MAX_SIGNATURES`] does
    /// not read.
    #[serde(default, deserialize_with = "bounded_signatures")]
    pub signatures: Vec<Signature>,
}

/// One signature of an envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// Unauthenticated hint naming the key; may be empty, and exelock leaves it empty, as cosign
    /// does: verifiers that compare it with an id of their own for the key skip the signature
    /// when the two differ, and they disagree on that id (go-securesystemslib, in cosign 3,
    /// uses an SSH fingerprint; earlier exelock releases wrote the hex SHA-256 of the key's
    /// DER). Written as `""` rather than left out, because Python's securesystemslib requires
    /// the field. Read, never used for security decisions.
    #[serde(default)]
    pub keyid: String,
    /// The raw signature bytes (base64 in JSON); for exelock, an ASN.1 DER ECDSA signature.
    #[serde(with = "base64_bytes")]
    pub sig: Vec<u8>,
}

/// The pre-authentication encoding:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII decimal.
///
/// This, not the payload, is what a DSSE signature signs, so neither the type nor the length of
/// either part can be changed without breaking the signature.
#[must_use]
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

impl Envelope {
    /// The bytes every signature of this envelope must cover.
    #[must_use]
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }

    /// Reads the standard JSON form.
    ///
    /// # Errors
    /// [`Error::Json`] when the JSON or a base64 field is malformed.
    pub fn from_json(json: &[u8]) -> Result<Self, Error> {
        serde_json::from_slice(json).map_err(|source| Error::Json {
            document: "DSSE envelope",
            source,
        })
    }

    /// Writes the standard JSON form (compact).
    ///
    /// # Errors
    /// [`Error::Serialize`], which does not happen for this type in practice.
    pub fn to_json(&self) -> Result<Vec<u8>, Error> {
        serde_json::to_vec(self).map_err(|source| Error::Serialize {
            what: "DSSE envelope",
            source,
        })
    }
}

/// Reads a signature list, failing at the first element past [`MAX_SIGNATURES`] (before
/// decoding it or anything after it).
fn bounded_signatures<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<Signature>, D::Error> {
    struct Bounded;
    impl<'de> serde::de::Visitor<'de> for Bounded {
        type Value = Vec<Signature>;

        fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter.write_str("a list of DSSE signatures")
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut signatures = Vec::new();
            while let Some(signature) = seq.next_element::<Signature>()? {
                signatures.push(signature);
                if signatures.len() == MAX_SIGNATURES {
                    if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                        return Err(serde::de::Error::custom(format!(
                            "the envelope carries more than {MAX_SIGNATURES} signatures, the most exelock reads (it accepts exactly one)"
                        )));
                    }
                    break;
                }
            }
            Ok(signatures)
        }
    }
    deserializer.deserialize_seq(Bounded)
}

/// Standard base64, padding optional on input.
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
/// URL-safe base64, padding optional on input.
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes standard or URL-safe base64, padded or not (DSSE verifiers must accept either).
///
/// # Errors
/// The standard-alphabet error when neither alphabet decodes the text.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    STANDARD_LENIENT
        .decode(text)
        .or_else(|standard_error| URL_SAFE_LENIENT.decode(text).map_err(|_| standard_error))
}

/// Serde for bytes as base64: written standard and padded, read leniently.
pub(crate) mod base64_bytes {
    use base64::Engine as _;

    use super::{Deserialize, Deserializer, STANDARD, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        super::decode_base64(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::{Signer as _, Verifier as _};
    use p256::ecdsa::{Signature as EcdsaSignature, SigningKey, VerifyingKey};
    use rstest::rstest;

    /// Parses a decimal number into 32 big-endian bytes (test-vector keys are given in decimal).
    fn decimal_to_be32(decimal: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for digit in decimal.bytes() {
            let mut carry = u32::from(digit - b'0');
            for byte in out.iter_mut().rev() {
                let value = u32::from(*byte) * 10 + carry;
                *byte = (value & 0xff) as u8;
                carry = value >> 8;
            }
            assert_eq!(carry, 0, "{decimal} does not fit in 32 bytes");
        }
        out
    }

    // The test vector of the DSSE spec, protocol.md § Test Vectors.
    const VECTOR_TYPE: &str = "http://example.com/HelloWorld";
    const VECTOR_BODY: &[u8] = b"hello world";
    const VECTOR_PAE: &[u8] = b"DSSEv1 29 http://example.com/HelloWorld 11 hello world";
    const VECTOR_X: &str =
        "46950820868899156662930047687818585632848591499744589407958293238635476079160";
    const VECTOR_Y: &str =
        "5640078356564379163099075877009565129882514886557779369047442380624545832820";
    const VECTOR_D: &str =
        "97358161215184420915383655311931858321456579547487070936769975997791359926199";
    const VECTOR_ENVELOPE: &str = r#"{"payload": "aGVsbG8gd29ybGQ=",
 "payloadType": "http://example.com/HelloWorld",
 "signatures": [{"sig": "A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA=="}]}"#;

    #[test]
    fn pae_matches_the_spec_test_vector() {
        assert_eq!(pae(VECTOR_TYPE, VECTOR_BODY), VECTOR_PAE);
    }

    #[rstest]
    #[case("", b"", b"DSSEv1 0  0 ".as_slice())]
    #[case("t", b"", b"DSSEv1 1 t 0 ".as_slice())]
    #[case("", b"x", b"DSSEv1 0  1 x".as_slice())]
    // Lengths count bytes, not characters.
    #[case("é", b"\xff\x00", b"DSSEv1 2 \xc3\xa9 2 \xff\x00".as_slice())]
    fn pae_encodes_lengths_in_bytes(
        #[case] payload_type: &str,
        #[case] payload: &[u8],
        #[case] expected: &[u8],
    ) {
        assert_eq!(pae(payload_type, payload), expected);
    }

    #[test]
    fn spec_envelope_parses_and_its_signature_verifies_over_pae() {
        let envelope = Envelope::from_json(VECTOR_ENVELOPE.as_bytes()).unwrap();
        assert_eq!(envelope.payload, VECTOR_BODY);
        assert_eq!(envelope.payload_type, VECTOR_TYPE);
        assert_eq!(envelope.signatures.len(), 1);
        assert_eq!(envelope.signatures[0].keyid, "");
        assert_eq!(envelope.pae(), VECTOR_PAE);

        let mut sec1 = vec![0x04];
        sec1.extend_from_slice(&decimal_to_be32(VECTOR_X));
        sec1.extend_from_slice(&decimal_to_be32(VECTOR_Y));
        let key = VerifyingKey::from_sec1_bytes(&sec1).unwrap();
        // The vector's signature is raw r||s (64 bytes), not DER.
        let signature = EcdsaSignature::from_slice(&envelope.signatures[0].sig).unwrap();
        key.verify(&envelope.pae(), &signature).unwrap();
    }

    #[test]
    fn deterministic_signature_reproduces_the_spec_vector() {
        // RFC 6979 signing with the vector's private key must give the vector's signature.
        let key = SigningKey::from_bytes(&decimal_to_be32(VECTOR_D).into()).unwrap();
        let signature: EcdsaSignature = key.sign(VECTOR_PAE);
        let envelope = Envelope::from_json(VECTOR_ENVELOPE.as_bytes()).unwrap();
        assert_eq!(signature.to_bytes().as_slice(), envelope.signatures[0].sig);
    }

    #[test]
    fn json_round_trips_in_the_standard_form() {
        let mut envelope = Envelope {
            payload: b"{\"a\":1}".to_vec(),
            payload_type: "application/vnd.in-toto+json".into(),
            signatures: vec![Signature {
                keyid: String::new(),
                sig: vec![0xfb, 0xff, 0x00],
            }],
        };
        let json = envelope.to_json().unwrap();
        // An empty keyid is written, not left out: securesystemslib requires the field.
        assert_eq!(
            String::from_utf8(json.clone()).unwrap(),
            r#"{"payload":"eyJhIjoxfQ==","payloadType":"application/vnd.in-toto+json","signatures":[{"keyid":"","sig":"+/8A"}]}"#
        );
        assert_eq!(Envelope::from_json(&json).unwrap(), envelope);
        envelope.signatures[0].keyid = "k".into();
        let json = envelope.to_json().unwrap();
        assert!(
            String::from_utf8_lossy(&json).contains(r#"{"keyid":"k","sig":"+/8A"}"#),
            "{json:?}"
        );
        assert_eq!(Envelope::from_json(&json).unwrap(), envelope);
    }

    #[rstest]
    #[case::standard_padded("+/8A")]
    #[case::url_safe("-_8A")]
    #[case::unpadded("+/8")]
    #[case::url_safe_unpadded("-_8")]
    fn base64_accepts_standard_and_url_safe(#[case] text: &str) {
        let decoded = decode_base64(text).unwrap();
        assert_eq!(&decoded[..2], &[0xfb, 0xff]);
    }

    #[rstest]
    #[case::not_json(b"not json".as_slice())]
    #[case::bad_base64(br#"{"payload":"@@","payloadType":"t","signatures":[]}"#.as_slice())]
    #[case::missing_payload_type(br#"{"payload":"","signatures":[]}"#.as_slice())]
    fn malformed_envelopes_are_input_errors(#[case] json: &[u8]) {
        // An error, not a rejection: the type says so.
        let error: Error = Envelope::from_json(json).unwrap_err();
        assert!(matches!(error, Error::Json { .. }), "{error:?}");
    }

    /// An envelope with `count` copies of one signature, as JSON.
    fn envelope_with_signatures(count: usize) -> Vec<u8> {
        let signature = r#"{"keyid":"k","sig":"MEUCIQ=="}"#;
        format!(
            r#"{{"payload":"e30=","payloadType":"t","signatures":[{}]}}"#,
            vec![signature; count].join(",")
        )
        .into_bytes()
    }

    #[test]
    fn signature_lists_are_read_up_to_the_cap() {
        let at_cap = Envelope::from_json(&envelope_with_signatures(MAX_SIGNATURES)).unwrap();
        assert_eq!(at_cap.signatures.len(), MAX_SIGNATURES);

        let error = Envelope::from_json(&envelope_with_signatures(MAX_SIGNATURES + 1)).unwrap_err();
        assert!(matches!(error, Error::Json { .. }), "{error:?}");
        let cause = std::error::Error::source(&error).unwrap().to_string();
        assert!(
            cause.contains("more than 16 signatures, the most exelock reads"),
            "{cause}"
        );
        // A list far longer, with undecodable entries past the cap, fails the same way: they
        // are never decoded.
        let mut long = envelope_with_signatures(MAX_SIGNATURES);
        let tail = r#","not even a signature""#.repeat(10_000);
        long.splice(long.len() - 2..long.len() - 2, tail.bytes());
        let error = Envelope::from_json(&long).unwrap_err();
        let cause = std::error::Error::source(&error).unwrap().to_string();
        assert!(cause.contains("more than 16 signatures"), "{cause}");
    }
}
