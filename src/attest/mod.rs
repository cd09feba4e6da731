//! Signed attestations of executable manifests: an in-toto Statement v1 (subject = the image
//! digest, predicate = the [`Manifest`](crate::manifest::Manifest)) in a DSSE envelope, packed in a Sigstore bundle v0.3.
//!
//! - [`Signer`] says who signs: a cosign-format key ([`keys`], [`attest_with_key`]; the bundle
//!   names the key by its id and carries no transparency-log entry), or keyless
//!   ([`keyless::KeylessSigner`]: a short-lived Fulcio certificate for an OIDC identity, an
//!   ephemeral key, the signature recorded in Rekor and timestamped by a TSA).
//! - [`verify_bundle`] / [`verify_envelope`] check all of it against a [`Trust`] and the image
//!   digest the caller expects, and return a [`VerifiedAttestation`] only if every check passed;
//!   nothing else can make one. Otherwise they say why ([`NotVerified`]): the attestation could
//!   not be read or checked ([`Error`]), or it was read and does not hold ([`Rejection`]).
//! - [`lookup::check_candidates`] verifies every candidate a registry or bundle file offered and
//!   returns all valid ones, with a reason for each other one.
//!
//! Submodules: [`dsse`] and [`statement`] (pure data), [`bundle`] (the bundle JSON), [`keys`],
//! [`sign`], [`keyless`] (Fulcio, Rekor, TSA and GitHub Actions tokens, through `sigstore-sign`),
//! [`trusted_root`] (the public-good root built in, or another), [`verify`], [`lookup`].
//!
//! This module never reads the environment or files and prints nothing: the CLI passes keys,
//! passwords, tokens and signing configs in. Only [`keyless`] talks to the network.
//! Registry storage of attestations lives elsewhere.
//!
//! Docs: `docs/attestations.md`.

use crate::coded::coded_enum;
use crate::digest::Sha256Digest;

pub mod bundle;
pub mod dsse;
pub mod keyless;
pub mod keys;
pub mod lookup;
pub mod sign;
pub mod statement;
pub mod trusted_root;
pub mod verify;

pub use sign::{Signer, attest_with_key};
pub use trusted_root::TrustedRoot;
pub use verify::{
    PredicateType, SubjectDigest, Trust, VerifiedAttestation, VerifiedStatement, verify_bundle,
    verify_envelope, verify_statement,
};

/// Media type of a Sigstore bundle v0.3 (JSON).
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Media type of a DSSE envelope (JSON), as cosign stores attestations.
pub const DSSE_ENVELOPE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// The DSSE payload type of an in-toto statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// Something could not be read or made: malformed input, an unusable key or trusted root, a
/// failed signing service. The CLI's exit 2. Never a judgement about an attestation: that is a
/// [`Rejection`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A JSON document does not parse (or lacks a required field).
    #[error("the {document} is not valid")]
    Json {
        /// Which document: `DSSE envelope`, `Sigstore bundle`, `in-toto statement`, …
        document: &'static str,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// Writing JSON failed.
    #[error("cannot serialise the {what}")]
    Serialize {
        /// What was being written.
        what: &'static str,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A base64 field does not decode.
    #[error("the {field} is not valid base64")]
    Base64 {
        /// The field.
        field: &'static str,
        /// The cause.
        #[source]
        source: base64::DecodeError,
    },
    /// A bundle of a media type this build does not read.
    #[error(
        "unsupported Sigstore bundle media type (got {got:?}, expected {BUNDLE_MEDIA_TYPE} or an earlier bundle version)"
    )]
    BundleMediaType {
        /// The bundle's `mediaType`.
        got: String,
    },
    /// A bundle without a required part.
    #[error("the Sigstore bundle has no {what}")]
    BundleIncomplete {
        /// The missing part.
        what: &'static str,
    },
    /// A PEM document is malformed.
    #[error("the {what} is not a valid PEM document")]
    Pem {
        /// `private key`, `public key`, `certificate`.
        what: &'static str,
        /// The cause.
        #[source]
        source: p256::pkcs8::der::pem::Error,
    },
    /// A key PEM has a label this build does not read.
    #[error(
        "unsupported key PEM label (got {got}, expected ENCRYPTED SIGSTORE PRIVATE KEY, ENCRYPTED COSIGN PRIVATE KEY or PRIVATE KEY for private keys, PUBLIC KEY for public keys)"
    )]
    KeyFormat {
        /// The label found.
        got: String,
    },
    /// An encrypted private key does not decrypt.
    #[error("cannot decrypt the private key (wrong password, or a damaged key file)")]
    KeyDecrypt {
        /// The cause.
        #[source]
        source: sigstore::errors::SigstoreError,
    },
    /// Encrypting a private key failed.
    #[error("cannot encrypt the private key")]
    KeyEncrypt {
        /// The cause.
        #[source]
        source: sigstore::errors::SigstoreError,
    },
    /// A private key is not a P-256 PKCS#8 key.
    #[error("the private key is not an ECDSA P-256 PKCS#8 key: {reason}")]
    PrivateKey {
        /// The decoder's complaint.
        reason: String,
    },
    /// A public key is not a P-256 SubjectPublicKeyInfo.
    #[error("the public key is not an ECDSA P-256 key: {reason}")]
    PublicKey {
        /// The decoder's complaint.
        reason: String,
    },
    /// The system random number generator failed.
    #[error("cannot generate a key: the system random number generator failed: {reason}")]
    Random {
        /// The RNG's complaint.
        reason: String,
    },
    /// Signing failed.
    #[error("signing failed")]
    Sign {
        /// The cause.
        #[source]
        source: p256::ecdsa::Error,
    },
    /// A trusted root is unusable.
    #[error("the trusted root is unusable: {reason}")]
    TrustedRoot {
        /// What is wrong.
        reason: String,
    },
    /// A bundle that exelock's own reading accepted but Sigstore's types refuse, or an input
    /// Sigstore's verification cannot use.
    #[error("the Sigstore bundle is malformed: {reason}")]
    BundleFormat {
        /// What is wrong.
        reason: String,
    },
    /// A document is larger than exelock reads.
    #[error("{what} is {size} bytes, more than the {limit} bytes exelock reads")]
    TooLarge {
        /// `the attestation`, `the bundle file x.json`.
        what: String,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A bundle file holds more attestations than exelock reads.
    #[error(
        "the bundle file {file} holds {count} attestations, more than the {limit} exelock reads"
    )]
    TooManyAttestations {
        /// The file.
        file: String,
        /// How many it holds.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A bundle carries more transparency-log entries than exelock checks.
    #[error(
        "the bundle carries {got} transparency-log entries, more than the {limit} exelock checks"
    )]
    TooManyLogEntries {
        /// How many it carries.
        got: usize,
        /// The limit.
        limit: usize,
    },
    /// A bundle file is not JSON.
    #[error("the bundle file {file} is not JSON")]
    BundleFileJson {
        /// The file.
        file: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A DSSE envelope alone cannot be verified keyless.
    #[error(
        "keyless verification needs a Sigstore bundle (certificate and transparency-log entry), not a bare DSSE envelope"
    )]
    KeylessNeedsBundle,
    /// Keyless signing failed: the signing config, the identity token, or Fulcio, Rekor or the
    /// TSA (the cause names which).
    #[error("keyless signing failed")]
    Keyless(#[from] keyless::Error),
    /// The statement has no predicate.
    #[error("the statement has no predicate")]
    MissingPredicate,
}

/// An attestation that was read does not hold: forged, tampered, for another image or
/// predicate, or signed by someone the trust does not name. The CLI's exit 1.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    /// The envelope does not carry exactly one signature.
    #[error("the envelope must carry exactly one signature (got {got}, expected 1)")]
    SignatureCount {
        /// How many it carries.
        got: usize,
    },
    /// The envelope repeats one signature.
    #[error(
        "the envelope repeats the same signature {count} times; exactly one signature is accepted"
    )]
    DuplicateSignature {
        /// How many copies.
        count: usize,
    },
    /// The signature does not verify over `PAE(payloadType, payload)`.
    #[error("the signature does not verify with {signer}: {}", match named_key {
        Some(key) => format!(
            "the bundle names key {key} as its signer (pass that public key with --key if you trust it), or the envelope was tampered with"
        ),
        None => "the envelope was tampered with or signed by another key".to_owned(),
    })]
    BadSignature {
        /// `key <key id>` or `certificate of <identity>`.
        signer: String,
        /// The key id of the key a key-based bundle names (its `publicKey.hint`, unauthenticated),
        /// when that is not the key tried.
        named_key: Option<String>,
    },
    /// The envelope does not carry an in-toto statement.
    #[error(
        "the envelope payload type is not an in-toto statement (got {got:?}, expected {IN_TOTO_PAYLOAD_TYPE:?})"
    )]
    PayloadType {
        /// The envelope's payload type.
        got: String,
    },
    /// The statement is not an in-toto Statement v1.
    #[error(
        "the statement is not an in-toto Statement v1 (got _type {got:?}, expected {expected:?})",
        expected = statement::STATEMENT_TYPE
    )]
    StatementType {
        /// The statement's `_type`.
        got: String,
    },
    /// The statement carries another predicate than the one wanted.
    #[error(
        "the attestation carries another predicate type than the one wanted (got {got:?}, expected {expected:?})"
    )]
    PredicateType {
        /// The statement's `predicateType`.
        got: String,
        /// The predicate type wanted (exelock's manifest unless `--predicate-type` says otherwise).
        expected: String,
    },
    /// No subject of the statement is the image (or artifact) being verified.
    #[error(
        "the attestation is for another image: no subject has the digest asked for, so it was moved from another image or made for another digest (got {got}, expected {expected})"
    )]
    SubjectMismatch {
        /// The statement's subject digests.
        got: String,
        /// The digest being verified.
        expected: verify::SubjectDigest,
    },
    /// The manifest inside names another image than the subject.
    #[error(
        "the manifest inside the attestation describes another image (got manifestDigest {}, indexDigest {}, expected {expected})",
        display_optional(.manifest_digest.as_ref()),
        display_optional(.index_digest.as_ref())
    )]
    ManifestDigestMismatch {
        /// The manifest's `image.manifestDigest`.
        manifest_digest: Option<Sha256Digest>,
        /// The manifest's `image.indexDigest`.
        index_digest: Option<Sha256Digest>,
        /// The subject digest.
        expected: Sha256Digest,
    },
    /// The bundle's verification material does not fit the trust given.
    #[error("the bundle is signed with {bundle}, but the trust policy expects {trust}")]
    TrustMismatch {
        /// What the bundle carries.
        bundle: &'static str,
        /// What the policy expects.
        trust: &'static str,
    },
    /// Sigstore's verification refused the bundle's certificate, log entries, timestamps or
    /// structure.
    #[error("Sigstore's check of the {check} failed")]
    Sigstore {
        /// Which part failed.
        check: SigstoreCheck,
        /// Sigstore's reason.
        #[source]
        source: Box<sigstore_verify::Error>,
    },
    /// The certificate's SAN is not the expected identity.
    #[error("the signing certificate belongs to another identity (got {got}, expected {expected})")]
    IdentityMismatch {
        /// The certificate's SAN entries.
        got: String,
        /// The identity required.
        expected: String,
    },
    /// The certificate's OIDC issuer is not the expected one.
    #[error(
        "the signing certificate was issued for another OIDC issuer (got {got}, expected {expected})"
    )]
    IssuerMismatch {
        /// The certificate's issuer extension, or `none`.
        got: String,
        /// The issuer required.
        expected: String,
    },
}

/// Why verification gave no verified attestation: the attestation could not be read or checked
/// ([`Error`]), or it was read and does not hold ([`Rejection`]). Callers tell the two apart by
/// the variant; the message and its causes are the inner one's.
#[derive(Debug, thiserror::Error)]
pub enum NotVerified {
    /// It could not be read or checked.
    #[error(transparent)]
    Error(#[from] Error),
    /// It does not hold.
    #[error(transparent)]
    Rejected(#[from] Rejection),
}

fn display_optional(digest: Option<&Sha256Digest>) -> String {
    digest.map_or_else(|| "null".to_owned(), ToString::to_string)
}

impl Rejection {
    /// This rejection, naming the key a bundle says signed it when the signature is bad.
    #[must_use]
    pub(crate) fn naming(self, named_key: Option<String>) -> Self {
        match self {
            Self::BadSignature { signer, .. } => Self::BadSignature { signer, named_key },
            other => other,
        }
    }

    /// Which part of the attestation failed, as the CLI lists it per candidate.
    #[must_use]
    pub const fn category(&self) -> RejectionCategory {
        match self {
            Self::SignatureCount { .. }
            | Self::DuplicateSignature { .. }
            | Self::BadSignature { .. } => RejectionCategory::Signature,
            Self::SubjectMismatch { .. } | Self::ManifestDigestMismatch { .. } => {
                RejectionCategory::Subject
            }
            Self::PayloadType { .. } | Self::StatementType { .. } | Self::PredicateType { .. } => {
                RejectionCategory::Predicate
            }
            Self::TrustMismatch { .. }
            | Self::IdentityMismatch { .. }
            | Self::IssuerMismatch { .. } => RejectionCategory::Identity,
            Self::Sigstore { check, .. } => RejectionCategory::Sigstore(*check),
        }
    }
}

/// The part of an attestation a [`Rejection`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectionCategory {
    /// The DSSE signature: missing, repeated, or not verifying.
    Signature,
    /// The subject: another image's digest, or a manifest of another image.
    Subject,
    /// The payload type, the statement type or the predicate type.
    Predicate,
    /// Who signed: a key where a keyless identity was wanted (or the reverse), another identity
    /// or OIDC issuer.
    Identity,
    /// One of Sigstore's own checks.
    Sigstore(SigstoreCheck),
}

impl RejectionCategory {
    /// The category's name in messages: `signature`, `subject`, `predicate`, `identity`, or the
    /// Sigstore check's.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Signature => "signature",
            Self::Subject => "subject",
            Self::Predicate => "predicate",
            Self::Identity => "identity",
            Self::Sigstore(check) => check.code(),
        }
    }
}

impl std::fmt::Display for RejectionCategory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

coded_enum! {
    /// The part of Sigstore's verification that refused a bundle.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum SigstoreCheck {
        /// The signing certificate: chain, validity at the signing time, SCT, X.509 profile.
        Certificate = "certificate",
        /// A transparency-log entry: SET, inclusion proof, checkpoint, or an entry that does not
        /// record this signature.
        TransparencyLog = "transparency log",
        /// An RFC 3161 timestamp, or no trusted signing time at all.
        Timestamp = "timestamp",
        /// The bundle's structure or content kind.
        Bundle = "bundle",
    }
}

/// A signed attestation, in the forms the registry side stores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attestation {
    /// The in-toto statement: the exact payload that was signed.
    pub statement_json: Vec<u8>,
    /// The DSSE envelope (cosign's `.att` layer content, once serialised).
    pub envelope: dsse::Envelope,
    /// The Sigstore bundle v0.3 JSON (an OCI 1.1 referrer's content).
    pub bundle_json: Vec<u8>,
}

#[cfg(test)]
mod tests;
