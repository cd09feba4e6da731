//! Hand-written keyless-signing helpers that sigstore-sign replaces; removed with them.
#![allow(dead_code)]
//! X.509 checks for keyless verification: parse DER certificates, verify a certificate's
//! signature with its issuer's key (ECDSA P-256 or P-384, SHA-256/384/512), and read the parts of
//! a Fulcio certificate that policy cares about (validity, CA flag, code-signing EKU, SAN, OIDC
//! issuer extension).
//!
//! Pure: no I/O and no clock. This module does not decide trust; `verify` composes these checks
//! with the trusted root and the log's timestamp. RSA and Ed25519 CA keys are not supported.

use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use x509_cert::Certificate;
use x509_cert::der::asn1::Utf8StringRef;
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::{Decode as _, Encode as _};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, SubjectAltName};
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use super::Error;

const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
/// Fulcio's OIDC issuer extension (v2): a DER UTF8String.
pub const FULCIO_ISSUER_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
/// Fulcio's deprecated OIDC issuer extension (v1): the raw string bytes.
pub const FULCIO_ISSUER_V1: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");

/// Parses DER; `what` names the certificate in errors.
pub fn parse(der: &[u8], what: &str) -> Result<Certificate, Error> {
    Certificate::from_der(der).map_err(|source| Error::Certificate {
        what: what.to_owned(),
        reason: source.to_string(),
    })
}

/// `(notBefore, notAfter)` in Unix seconds.
pub fn validity(certificate: &Certificate) -> (u64, u64) {
    let validity = certificate.tbs_certificate().validity();
    (
        validity.not_before.to_unix_duration().as_secs(),
        validity.not_after.to_unix_duration().as_secs(),
    )
}

/// Whether `time` (Unix seconds) lies within the certificate's validity, bounds included.
pub fn valid_at(certificate: &Certificate, time: i64) -> bool {
    let (not_before, not_after) = validity(certificate);
    u64::try_from(time).is_ok_and(|time| not_before <= time && time <= not_after)
}

/// The subject's distinguished name, for messages.
pub fn subject(certificate: &Certificate) -> String {
    certificate.tbs_certificate().subject().to_string()
}

/// The issuer's distinguished name, for messages.
pub fn issuer(certificate: &Certificate) -> String {
    certificate.tbs_certificate().issuer().to_string()
}

/// Whether basicConstraints says `cA: TRUE`.
pub fn is_ca(certificate: &Certificate) -> bool {
    matches!(
        certificate
            .tbs_certificate()
            .get_extension::<BasicConstraints>(),
        Ok(Some((_, BasicConstraints { ca: true, .. })))
    )
}

/// Whether the extended key usage includes code signing.
pub fn has_code_signing_usage(certificate: &Certificate) -> bool {
    matches!(
        certificate.tbs_certificate().get_extension::<ExtendedKeyUsage>(),
        Ok(Some((_, ExtendedKeyUsage(usages)))) if usages.contains(&CODE_SIGNING)
    )
}

/// The email and URI subject alternative names.
pub fn identities(certificate: &Certificate) -> Vec<String> {
    let Ok(Some((_, SubjectAltName(names)))) = certificate
        .tbs_certificate()
        .get_extension::<SubjectAltName>()
    else {
        return Vec::new();
    };
    names
        .iter()
        .filter_map(|name| match name {
            GeneralName::Rfc822Name(text) | GeneralName::UniformResourceIdentifier(text) => {
                Some(text.to_string())
            }
            _ => None,
        })
        .collect()
}

/// The OIDC issuer Fulcio recorded: extension 1.3.6.1.4.1.57264.1.8 (a DER UTF8String), else the
/// deprecated 1.3.6.1.4.1.57264.1.1 (the raw string).
pub fn oidc_issuer(certificate: &Certificate) -> Option<String> {
    let extensions = certificate.tbs_certificate().extensions()?;
    let value_of = |oid: ObjectIdentifier| {
        extensions
            .iter()
            .find(|extension| extension.extn_id == oid)
            .map(|extension| extension.extn_value.as_bytes())
    };
    if let Some(bytes) = value_of(FULCIO_ISSUER_V2) {
        return Utf8StringRef::from_der(bytes)
            .ok()
            .map(|text| text.as_str().to_owned());
    }
    value_of(FULCIO_ISSUER_V1)
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .map(str::to_owned)
}

/// An ECDSA public key of a supported curve.
#[derive(Clone, Debug)]
pub enum EcKey {
    /// NIST P-256.
    P256(p256::ecdsa::VerifyingKey),
    /// NIST P-384.
    P384(p384::ecdsa::VerifyingKey),
}

/// Hash algorithms of ECDSA signatures.
#[derive(Clone, Copy, Debug)]
pub enum Hash {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Hash {
    fn digest(self, message: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => Sha256::digest(message).to_vec(),
            Self::Sha384 => Sha384::digest(message).to_vec(),
            Self::Sha512 => Sha512::digest(message).to_vec(),
        }
    }
}

impl EcKey {
    /// Reads a SubjectPublicKeyInfo; `None` for other algorithms and curves.
    pub fn from_spki(spki: &SubjectPublicKeyInfoOwned) -> Option<Self> {
        if spki.algorithm.oid != EC_PUBLIC_KEY {
            return None;
        }
        let curve: ObjectIdentifier = spki.algorithm.parameters.as_ref()?.decode_as().ok()?;
        let point = spki.subject_public_key.as_bytes()?;
        match curve {
            SECP256R1 => p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .ok()
                .map(Self::P256),
            SECP384R1 => p384::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .ok()
                .map(Self::P384),
            _ => None,
        }
    }

    /// Reads a SubjectPublicKeyInfo DER.
    pub fn from_spki_der(der: &[u8]) -> Option<Self> {
        SubjectPublicKeyInfoOwned::from_der(der)
            .ok()
            .as_ref()
            .and_then(Self::from_spki)
    }

    /// The certified key of `certificate`.
    pub fn of_certificate(certificate: &Certificate) -> Option<Self> {
        Self::from_spki(certificate.tbs_certificate().subject_public_key_info())
    }

    /// Whether `der_signature` is a valid ECDSA signature by this key over `hash(message)`.
    pub fn verify(&self, message: &[u8], der_signature: &[u8], hash: Hash) -> bool {
        let prehash = hash.digest(message);
        match self {
            Self::P256(key) => p256::ecdsa::Signature::from_der(der_signature)
                .is_ok_and(|signature| key.verify_prehash(&prehash, &signature).is_ok()),
            Self::P384(key) => p384::ecdsa::Signature::from_der(der_signature)
                .is_ok_and(|signature| key.verify_prehash(&prehash, &signature).is_ok()),
        }
    }
}

/// Whether `issuer_certificate` issued `certificate`: the names match and its key verifies the
/// certificate's signature (ECDSA with SHA-256, -384 or -512).
pub fn issued_by(certificate: &Certificate, issuer_certificate: &Certificate) -> bool {
    if certificate.tbs_certificate().issuer() != issuer_certificate.tbs_certificate().subject() {
        return false;
    }
    let hash = match certificate.signature_algorithm().oid {
        ECDSA_WITH_SHA256 => Hash::Sha256,
        ECDSA_WITH_SHA384 => Hash::Sha384,
        ECDSA_WITH_SHA512 => Hash::Sha512,
        _ => return false,
    };
    let (Some(key), Ok(tbs), Some(signature)) = (
        EcKey::of_certificate(issuer_certificate),
        certificate.tbs_certificate().to_der(),
        certificate.signature().as_bytes(),
    ) else {
        return false;
    };
    key.verify(&tbs, signature, hash)
}
