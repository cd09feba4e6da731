//! Verification: a Sigstore bundle or bare DSSE envelope, the subject digest the caller expects,
//! the predicate type wanted and a [`Trust`] policy in; a [`VerifiedStatement`] (any predicate)
//! or [`VerifiedAttestation`] (an executable manifest) out, only if every check holds.
//!
//! The Sigstore checks are the Sigstore project's own (`sigstore-verify`), as strict as
//! sigstore-go: bundle v0.1–v0.3; for keyless trust the certificate chain to a Fulcio CA of the
//! trusted root at every verified time, its embedded SCT, the Sigstore X.509 profile, the exact
//! identity (SAN) and OIDC issuer; Rekor v1 entries (SET, inclusion proof and checkpoint) and
//! Rekor v2 entries (inclusion proof and checkpoint, with an RFC 3161 timestamp); RFC 3161
//! timestamps against the trusted root's TSAs; that each log entry records this envelope; the
//! DSSE signature over `PAE(payloadType, payload)`; and that a subject of the in-toto statement
//! has the expected digest.
//!
//! exelock's own checks come on top, in this order (each failure is its own [`Rejection`]):
//! 1. the envelope carries exactly one signature (none, several, or one repeated: rejected);
//! 2. the bundle's verification material fits the trust (a key for [`Trust::Key`], a
//!    certificate for [`Trust::Keyless`]);
//! 3. the payload type is `application/vnd.in-toto+json`;
//! 4. then the Sigstore checks above;
//! 5. the statement is an in-toto Statement (v1 for manifests; v0.1 too for other predicates)
//!    with the wanted predicate type and a subject whose digest is the expected one;
//! 6. for manifests, the manifest names that digest as its image (see
//!    [`statement::check_manifest`]).
//!
//! With a key, log entries and timestamps the bundle carries are verified against the trusted
//! root given with the key (the public-good one by default); a bundle with none — what
//! `attest --key` and `cosign attest-blob --key --tlog-upload=false` write — is verified by the
//! signature alone.
//!
//! A [`VerifiedStatement`] / [`VerifiedAttestation`] is the proof that all of this held: the
//! fields are private and the only way to make one is to pass these checks.
//!
//! Pure apart from CPU and the clock the Sigstore checks read (no timestamp may lie in the
//! future): no I/O, no network. Lists an attacker controls are bounded before any work: at most
//! [`super::dsse::MAX_SIGNATURES`] signatures are read and [`MAX_TLOG_ENTRIES`] log entries
//! checked.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use sigstore_verify::types::{
    Artifact, ArtifactDigest, Bundle as SigstoreBundle, DerPublicKey, HashAlgorithm,
};
use sigstore_verify::{PublicKeyVerificationPolicy, VerificationPolicy};

use super::keys::PublicKey;
use super::statement::{self, CheckedStatement};
use super::trusted_root::TrustedRoot;
use super::{
    BUNDLE_MEDIA_TYPE, Error, IN_TOTO_PAYLOAD_TYPE, NotVerified, Rejection, SigstoreCheck, dsse,
};
use crate::digest::Sha256Digest;
use crate::manifest::{self, Manifest};

/// Who must have signed.
#[derive(Clone, Debug)]
pub enum Trust {
    /// A cosign-format public key; log entries and timestamps in the bundle, if any, are
    /// verified against `trusted_root`.
    Key {
        /// The key.
        key: PublicKey,
        /// The logs and timestamp authorities to check the bundle's evidence against.
        trusted_root: TrustedRoot,
    },
    /// A Fulcio certificate for this identity, recorded in a trusted log.
    Keyless {
        /// The certificate's subject alternative name: an email or a URI, matched exactly.
        identity: String,
        /// The OIDC issuer Fulcio recorded in the certificate, matched exactly.
        issuer: String,
        /// The CAs, logs and timestamp authorities to trust.
        trusted_root: TrustedRoot,
    },
}

impl Trust {
    /// Key trust with the public-good trusted root for any log entries the bundle carries.
    ///
    /// # Errors
    /// Only if the embedded root were unusable.
    pub fn key(key: PublicKey) -> Result<Self, Error> {
        Ok(Self::Key {
            key,
            trusted_root: TrustedRoot::public_good()?,
        })
    }
}

/// The most transparency-log entries of one bundle that are checked (Sigstore clients write
/// one); a bundle with more is rejected before any is.
pub const MAX_TLOG_ENTRIES: usize = 8;

/// Which predicate an attestation must carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PredicateType {
    /// exelock's executable manifest ([`manifest::PREDICATE_TYPE`]).
    Manifest,
    /// Exactly this predicate type URI (e.g. `https://slsa.dev/provenance/v1`).
    Uri(String),
    /// Any predicate.
    Any,
}

impl PredicateType {
    pub(crate) fn accepts(&self, predicate_type: &str) -> bool {
        match self {
            Self::Manifest => manifest::is_manifest_predicate(predicate_type),
            Self::Uri(uri) => predicate_type == uri,
            Self::Any => true,
        }
    }

    /// What was wanted, for messages.
    #[must_use]
    pub fn expected(&self) -> &str {
        match self {
            Self::Manifest => manifest::PREDICATE_TYPE,
            Self::Uri(uri) => uri,
            Self::Any => "any",
        }
    }
}

impl FromStr for PredicateType {
    type Err = String;

    /// `any`, or an absolute URI.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "any" {
            Ok(Self::Any)
        } else if manifest::is_manifest_predicate(text) {
            Ok(Self::Manifest)
        } else if text.contains(':') && !text.contains(char::is_whitespace) {
            Ok(Self::Uri(text.to_owned()))
        } else {
            Err(format!(
                "expected `any` or a predicate type URI such as https://slsa.dev/provenance/v1, got {text:?}"
            ))
        }
    }
}

/// A digest an attestation's subject must carry: `sha256:…`, `sha384:…` or `sha512:…`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectDigest {
    algorithm: DigestAlgorithm,
    bytes: Vec<u8>,
}

/// The digest algorithms in-toto subjects use that Sigstore verification binds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DigestAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlgorithm {
    const fn sigstore(self) -> HashAlgorithm {
        match self {
            Self::Sha256 => HashAlgorithm::Sha2256,
            Self::Sha384 => HashAlgorithm::Sha2384,
            Self::Sha512 => HashAlgorithm::Sha2512,
        }
    }

    const fn size(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }
}

impl SubjectDigest {
    /// The in-toto name of the algorithm: `sha256`, `sha384`, `sha512`.
    #[must_use]
    pub const fn algorithm_name(&self) -> &'static str {
        match self.algorithm {
            DigestAlgorithm::Sha256 => "sha256",
            DigestAlgorithm::Sha384 => "sha384",
            DigestAlgorithm::Sha512 => "sha512",
        }
    }

    /// The digest as lowercase hex.
    #[must_use]
    pub fn hex(&self) -> String {
        hex::encode(&self.bytes)
    }

    fn to_artifact(&self) -> Result<ArtifactDigest, Error> {
        ArtifactDigest::new(self.algorithm.sigstore(), self.bytes.clone()).map_err(|error| {
            Error::BundleFormat {
                reason: error.to_string(),
            }
        })
    }
}

impl From<Sha256Digest> for SubjectDigest {
    fn from(digest: Sha256Digest) -> Self {
        Self {
            algorithm: DigestAlgorithm::Sha256,
            bytes: digest.bytes().to_vec(),
        }
    }
}

impl FromStr for SubjectDigest {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (name, hex_digest) = text
            .split_once(':')
            .ok_or_else(|| format!("expected ALGORITHM:HEX such as sha256:…, got {text:?}"))?;
        let algorithm = match name {
            "sha256" => DigestAlgorithm::Sha256,
            "sha384" => DigestAlgorithm::Sha384,
            "sha512" => DigestAlgorithm::Sha512,
            other => {
                return Err(format!(
                    "unsupported digest algorithm {other:?} (expected sha256, sha384 or sha512)"
                ));
            }
        };
        let bytes =
            hex::decode(hex_digest).map_err(|_| format!("the digest of {text:?} is not hex"))?;
        if bytes.len() != algorithm.size() || hex_digest.chars().any(char::is_uppercase) {
            return Err(format!(
                "a {name} digest is {} lowercase hex digits, got {}",
                algorithm.size() * 2,
                hex_digest.len()
            ));
        }
        Ok(Self { algorithm, bytes })
    }
}

impl fmt::Display for SubjectDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm_name(), self.hex())
    }
}

/// A verified in-toto statement of any predicate: what it says, and who signed it.
///
/// Only [`verify_statement`] makes one, after every check passed; the fields are private.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedStatement {
    statement_json: Vec<u8>,
    predicate_type: String,
    subject_name: String,
    subject_digest: SubjectDigest,
    signer: String,
}

impl VerifiedStatement {
    /// The signed in-toto statement, byte for byte.
    #[must_use]
    pub fn statement_json(&self) -> &[u8] {
        &self.statement_json
    }

    /// Its predicate type.
    #[must_use]
    pub fn predicate_type(&self) -> &str {
        &self.predicate_type
    }

    /// The name of the matching subject (empty when it has none).
    #[must_use]
    pub fn subject_name(&self) -> &str {
        &self.subject_name
    }

    /// The matching subject digest: the one the caller asked about.
    #[must_use]
    pub const fn subject_digest(&self) -> &SubjectDigest {
        &self.subject_digest
    }

    /// Who signed, for people: `key <key id>` or `<identity> (issuer <issuer>)`.
    #[must_use]
    pub fn signer(&self) -> &str {
        &self.signer
    }
}

/// A verified attestation: what the signed statement says, and who signed it.
///
/// Only [`verify_bundle`] and [`verify_envelope`] make one, after the signature, the signer's
/// trust and the subject all checked out; there is no other constructor and no way to change
/// it afterwards, so holding one is proof. Code outside `attest` cannot fabricate one:
///
/// ```compile_fail
/// use exelock::attest::VerifiedAttestation;
/// use exelock::digest::Sha256Digest;
/// use exelock::manifest::Manifest;
///
/// fn forge(manifest: Manifest, digest: Sha256Digest) -> VerifiedAttestation {
///     VerifiedAttestation {
///         manifest,
///         subject_name: String::new(),
///         subject_digest: digest,
///         signer: "nobody".to_owned(),
///     }
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedAttestation {
    manifest: Manifest,
    subject_name: String,
    subject_digest: Sha256Digest,
    signer: String,
}

impl VerifiedAttestation {
    /// The executable manifest the attestation carries.
    #[must_use]
    pub const fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The manifest, giving up the proof that it was signed.
    #[must_use]
    pub fn into_manifest(self) -> Manifest {
        self.manifest
    }

    /// The name of the matching subject.
    #[must_use]
    pub fn subject_name(&self) -> &str {
        &self.subject_name
    }

    /// The matching subject digest: the one the caller asked about.
    #[must_use]
    pub const fn subject_digest(&self) -> &Sha256Digest {
        &self.subject_digest
    }

    /// Who signed, for people: `key <key id>` or `<identity> (issuer <issuer>)`.
    #[must_use]
    pub fn signer(&self) -> &str {
        &self.signer
    }
}

/// Verifies a Sigstore bundle (v0.1–v0.3 with a DSSE envelope) carrying an executable manifest
/// against `trust` for the image `expected_digest`.
///
/// # Errors
/// [`NotVerified::Rejected`] for anything forged, tampered, untrusted or about another image;
/// [`NotVerified::Error`] when the bundle cannot be read.
pub fn verify_bundle(
    bundle_json: &[u8],
    expected_digest: &Sha256Digest,
    trust: &Trust,
) -> Result<VerifiedAttestation, NotVerified> {
    let verified = verify_statement(
        bundle_json,
        &[SubjectDigest::from(*expected_digest)],
        &PredicateType::Manifest,
        trust,
    )?;
    manifest_attestation(verified, expected_digest)
}

/// Verifies a bare DSSE envelope (cosign's `.att` layer) with a key for the image
/// `expected_digest`. Keyless trust needs the certificate and log entry only a bundle carries.
///
/// # Errors
/// As [`verify_bundle`]; [`Error::KeylessNeedsBundle`] for keyless trust.
pub fn verify_envelope(
    envelope_json: &[u8],
    expected_digest: &Sha256Digest,
    trust: &Trust,
) -> Result<VerifiedAttestation, NotVerified> {
    let verified = verify_envelope_statement(
        envelope_json,
        &[SubjectDigest::from(*expected_digest)],
        &PredicateType::Manifest,
        trust,
    )?;
    manifest_attestation(verified, expected_digest)
}

/// Verifies a bare DSSE envelope of any predicate with a key (see [`verify_envelope`]).
///
/// # Errors
/// As [`verify_statement`]; [`Error::KeylessNeedsBundle`] for keyless trust.
pub fn verify_envelope_statement(
    envelope_json: &[u8],
    subjects: &[SubjectDigest],
    predicate: &PredicateType,
    trust: &Trust,
) -> Result<VerifiedStatement, NotVerified> {
    if matches!(trust, Trust::Keyless { .. }) {
        return Err(Error::KeylessNeedsBundle.into());
    }
    let envelope: serde_json::Value =
        serde_json::from_slice(envelope_json).map_err(|source| Error::Json {
            document: "DSSE envelope",
            source,
        })?;
    // The envelope alone is a key-based bundle without log entries: one verification path.
    let bundle = serde_json::json!({
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": ""}},
        "dsseEnvelope": envelope,
    });
    let bundle_json = serde_json::to_vec(&bundle).map_err(|source| Error::Serialize {
        what: "Sigstore bundle",
        source,
    })?;
    verify_statement(&bundle_json, subjects, predicate, trust)
}

/// Verifies a Sigstore bundle carrying an in-toto statement of `predicate` for the artifact
/// whose digests are `subjects` (one algorithm each, e.g. the sha256 and sha512 of a file): the
/// statement must name one of them; the one in an algorithm its subjects use is checked.
///
/// # Errors
/// [`NotVerified::Rejected`] for anything forged, tampered, untrusted, of another predicate or
/// about another subject; [`NotVerified::Error`] when the bundle cannot be read or `subjects`
/// is empty.
pub fn verify_statement(
    bundle_json: &[u8],
    subjects: &[SubjectDigest],
    predicate: &PredicateType,
    trust: &Trust,
) -> Result<VerifiedStatement, NotVerified> {
    let outline = Outline::read(bundle_json)?;
    let subject = statement::choose_subject(&outline.payload, subjects).ok_or_else(|| {
        Error::BundleFormat {
            reason: "no subject digest was given to verify against".to_owned(),
        }
    })?;
    outline.check_signatures()?;
    outline.check_material_fits(trust)?;
    if outline.tlog_entries > MAX_TLOG_ENTRIES {
        return Err(Error::TooManyLogEntries {
            got: outline.tlog_entries,
            limit: MAX_TLOG_ENTRIES,
        }
        .into());
    }
    if outline.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(Rejection::PayloadType {
            got: outline.payload_type,
        }
        .into());
    }
    let text = std::str::from_utf8(bundle_json).map_err(|_| Error::BundleFormat {
        reason: "it is not UTF-8 text".to_owned(),
    })?;
    let bundle = SigstoreBundle::from_json(text).map_err(|error| Error::BundleFormat {
        reason: error.to_string(),
    })?;
    let artifact = Artifact::from_digest(subject.to_artifact()?);
    let signer = match trust {
        Trust::Key { key, .. } if outline.tlog_entries == 0 && outline.timestamps == 0 => {
            // Offline key bundles (exelock's own, cosign's with --tlog-upload=false) carry no
            // log entry and no timestamp, which sigstore-verify refuses outright ("no signing
            // time evidence"); the key is the whole trust there, as with cosign's
            // --insecure-ignore-tlog, so the DSSE signature is checked here.
            let envelope = dsse::Envelope::from_json(&outline.envelope_json)?;
            let [signature] = envelope.signatures.as_slice() else {
                return Err(Rejection::SignatureCount {
                    got: envelope.signatures.len(),
                }
                .into());
            };
            key.verify(&envelope.pae(), &signature.sig)
                .map_err(|rejection| rejection.naming(outline.named_key(key)))?;
            key_signer(key)
        }
        Trust::Key { key, trusted_root } => {
            let der = key.to_der()?;
            let mut policy = PublicKeyVerificationPolicy::new(DerPublicKey::from(der));
            if outline.tlog_entries == 0 {
                // Signing time from an RFC 3161 timestamp alone, which the crate verifies.
                policy = policy.skip_tlog_unsafe();
            }
            trusted_root
                .verifier()
                .verify(artifact, &bundle, &policy)
                .map_err(|error| {
                    refusal(
                        error,
                        &outline,
                        subject,
                        || key_signer(key),
                        outline.named_key(key),
                    )
                })?;
            key_signer(key)
        }
        Trust::Keyless {
            identity,
            issuer,
            trusted_root,
        } => {
            let policy = VerificationPolicy::new(identity.as_str(), issuer.as_str());
            let keyless_signer = || format!("{identity} (issuer {issuer})");
            trusted_root
                .verifier()
                .verify(artifact, &bundle, &policy)
                .map_err(|error| refusal(error, &outline, subject, keyless_signer, None))?;
            keyless_signer()
        }
    };
    let CheckedStatement {
        predicate_type,
        subject_name,
        ..
    } = statement::check_statement(&outline.payload, subject, predicate)?;
    Ok(VerifiedStatement {
        statement_json: outline.payload,
        predicate_type,
        subject_name,
        subject_digest: subject.clone(),
        signer,
    })
}

fn key_signer(key: &PublicKey) -> String {
    format!("key {}", key.key_id())
}

/// The manifest inside a verified statement, checked to name the image.
fn manifest_attestation(
    verified: VerifiedStatement,
    expected_digest: &Sha256Digest,
) -> Result<VerifiedAttestation, NotVerified> {
    let manifest = statement::check_manifest(&verified.statement_json, expected_digest)?;
    Ok(VerifiedAttestation {
        manifest,
        subject_name: verified.subject_name,
        subject_digest: *expected_digest,
        signer: verified.signer,
    })
}

/// What Sigstore's verification said no to, as exelock's rejection: the failures exelock names
/// on its own (signature, subject, identity) keep their variants, the rest keep the check that
/// failed. A trusted root or an artifact Sigstore cannot use is an error, not a rejection. A bad
/// signature names `named_key`, the key a key-based bundle says signed it.
fn refusal(
    error: sigstore_verify::Error,
    outline: &Outline,
    subject: &SubjectDigest,
    signer: impl Fn() -> String,
    named_key: Option<String>,
) -> NotVerified {
    use sigstore_verify::Error as Sigstore;
    let check = match &error {
        Sigstore::SignatureInvalid(_) => {
            return Rejection::BadSignature {
                signer: signer(),
                named_key,
            }
            .into();
        }
        Sigstore::ArtifactMismatch(_)
            if statement::check_statement(&outline.payload, subject, &PredicateType::Any)
                .is_ok() =>
        {
            // The statement does name the subject: what differs is the digest a log entry
            // recorded (a Rekor v2 hashedrekord over the DSSE envelope), so another envelope
            // was logged than the one in the bundle.
            SigstoreCheck::TransparencyLog
        }
        Sigstore::ArtifactMismatch(_) => {
            return Rejection::SubjectMismatch {
                got: statement::describe_subjects_of(&outline.payload),
                expected: subject.clone(),
            }
            .into();
        }
        Sigstore::IdentityMismatch { expected, actual } => {
            return Rejection::IdentityMismatch {
                got: actual
                    .as_ref()
                    .map_or_else(|| "no email or URI SAN".to_owned(), ToString::to_string),
                expected: expected.to_string(),
            }
            .into();
        }
        Sigstore::IssuerMismatch { expected, actual } => {
            return Rejection::IssuerMismatch {
                got: actual
                    .clone()
                    .unwrap_or_else(|| "no issuer extension".to_owned()),
                expected: expected.clone(),
            }
            .into();
        }
        Sigstore::Bundle(structure) => {
            use sigstore_verify::bundle::Error as Structure;
            match structure {
                Structure::MissingInclusionPromise(_)
                | Structure::MissingInclusionProof(_)
                | Structure::MissingCheckpoint
                | Structure::LogIndexOutOfRange { .. }
                | Structure::CheckpointRootMismatch => SigstoreCheck::TransparencyLog,
                Structure::MissingSigningTimeEvidence | Structure::MissingTimestamp => {
                    SigstoreCheck::Timestamp
                }
                _ => SigstoreCheck::Bundle,
            }
        }
        Sigstore::Certificate(_) => SigstoreCheck::Certificate,
        Sigstore::TransparencyLog(_) => SigstoreCheck::TransparencyLog,
        Sigstore::Timestamp(_) => SigstoreCheck::Timestamp,
        Sigstore::InvalidTrustRoot(_)
        | Sigstore::TrustRoot(_)
        | Sigstore::TrustedCertificate(_) => {
            return Error::TrustedRoot {
                reason: error.to_string(),
            }
            .into();
        }
        Sigstore::UnsupportedArtifact(_) | Sigstore::ArtifactRead(_) => {
            return Error::BundleFormat {
                reason: error.to_string(),
            }
            .into();
        }
        _ => SigstoreCheck::Bundle,
    };
    Rejection::Sigstore {
        check,
        source: Box::new(error),
    }
    .into()
}

/// The parts of a bundle exelock checks itself before Sigstore's verification, read leniently
/// so that a bundle the Sigstore types refuse (two signatures) still gets exelock's precise
/// error.
struct Outline {
    signatures: Vec<String>,
    has_certificate: bool,
    has_public_key: bool,
    /// The key-based bundle's `publicKey.hint`: unauthenticated, so only ever shown.
    key_hint: Option<String>,
    tlog_entries: usize,
    timestamps: usize,
    payload_type: String,
    payload: Vec<u8>,
    envelope_json: Vec<u8>,
}

impl Outline {
    fn read(bundle_json: &[u8]) -> Result<Self, NotVerified> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Bundle {
            media_type: String,
            verification_material: Option<Material>,
            dsse_envelope: Option<Box<serde_json::value::RawValue>>,
            message_signature: Option<serde::de::IgnoredAny>,
        }
        #[derive(serde::Deserialize, Default)]
        #[serde(rename_all = "camelCase")]
        struct Material {
            // Read leniently: the hint is only ever shown, and the bundle's own parser judges
            // the shape of `publicKey`.
            public_key: Option<serde_json::Value>,
            certificate: Option<serde::de::IgnoredAny>,
            x509_certificate_chain: Option<serde::de::IgnoredAny>,
            // proto3 JSON writers may write `null` for an absent list or message.
            tlog_entries: Option<Vec<serde::de::IgnoredAny>>,
            timestamp_verification_data: Option<Timestamps>,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Timestamps {
            rfc3161_timestamps: Option<Vec<serde::de::IgnoredAny>>,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Envelope {
            payload_type: String,
            payload: String,
            signatures: Option<Vec<Signature>>,
        }
        #[derive(serde::Deserialize)]
        struct Signature {
            sig: Option<String>,
        }

        let bundle: Bundle = serde_json::from_slice(bundle_json).map_err(|source| Error::Json {
            document: "Sigstore bundle",
            source,
        })?;
        if !bundle
            .media_type
            .starts_with("application/vnd.dev.sigstore.bundle")
        {
            return Err(Error::BundleMediaType {
                got: bundle.media_type,
            }
            .into());
        }
        let Some(envelope_raw) = bundle.dsse_envelope else {
            return Err(Error::BundleIncomplete {
                what: if bundle.message_signature.is_some() {
                    "DSSE envelope (it signs a blob with a message signature, not an attestation)"
                } else {
                    "DSSE envelope"
                },
            }
            .into());
        };
        let envelope: Envelope =
            serde_json::from_str(envelope_raw.get()).map_err(|source| Error::Json {
                document: "DSSE envelope",
                source,
            })?;
        let signatures = envelope.signatures.unwrap_or_default();
        if signatures.len() > dsse::MAX_SIGNATURES {
            return Err(Rejection::SignatureCount {
                got: signatures.len(),
            }
            .into());
        }
        let payload = dsse::decode_base64(&envelope.payload).map_err(|source| Error::Base64 {
            field: "DSSE payload",
            source,
        })?;
        let material = bundle.verification_material.unwrap_or_default();
        Ok(Self {
            signatures: signatures
                .into_iter()
                .map(|signature| signature.sig.unwrap_or_default())
                .collect(),
            has_certificate: material.certificate.is_some()
                || material.x509_certificate_chain.is_some(),
            has_public_key: material.public_key.is_some(),
            key_hint: material
                .public_key
                .as_ref()
                .and_then(|key| key["hint"].as_str())
                .map(str::to_owned),
            tlog_entries: material.tlog_entries.map_or(0, |entries| entries.len()),
            timestamps: material
                .timestamp_verification_data
                .and_then(|data| data.rfc3161_timestamps)
                .map_or(0, |timestamps| timestamps.len()),
            payload_type: envelope.payload_type,
            payload,
            envelope_json: envelope_raw.get().as_bytes().to_vec(),
        })
    }

    /// The key id of the key the bundle's hint names, when that is not `key`: what a
    /// rejection shows, so the reader learns which key did sign. A hint that is not a SHA-256
    /// fingerprint in base64 (cosign's form) names nothing.
    fn named_key(&self, key: &PublicKey) -> Option<String> {
        let fingerprint = STANDARD.decode(self.key_hint.as_deref()?).ok()?;
        let key_id = hex::encode(<[u8; 32]>::try_from(fingerprint).ok()?);
        (key_id != key.key_id()).then_some(key_id)
    }

    /// Exactly one signature: none, two different ones, or one repeated are all refused.
    fn check_signatures(&self) -> Result<(), Rejection> {
        match self.signatures.as_slice() {
            [_] => Ok(()),
            [first, rest @ ..] if !rest.is_empty() && rest.iter().all(|other| other == first) => {
                Err(Rejection::DuplicateSignature {
                    count: self.signatures.len(),
                })
            }
            signatures => Err(Rejection::SignatureCount {
                got: signatures.len(),
            }),
        }
    }

    fn check_material_fits(&self, trust: &Trust) -> Result<(), Rejection> {
        match trust {
            Trust::Key { .. } if self.has_certificate => Err(Rejection::TrustMismatch {
                bundle: "a certificate (keyless)",
                trust: "a public key",
            }),
            Trust::Keyless { .. } if self.has_public_key || !self.has_certificate => {
                Err(Rejection::TrustMismatch {
                    bundle: "a public key",
                    trust: "a keyless identity",
                })
            }
            _ => Ok(()),
        }
    }
}
