//! Verification: a bundle or bare DSSE envelope, the image digest the caller expects and a
//! [`Trust`] policy in; a [`VerifiedAttestation`] (the manifest) out, only if every check holds.
//!
//! Checks, in order (each failure is its own [`Error`] variant):
//! 1. the envelope carries exactly one signature (none, several, or one repeated: rejected);
//! 2. key trust: the signature verifies over `PAE(payloadType, payload)` with the trusted key;
//!    keyless trust: the bundle has a certificate and a log entry whose log is in the trusted
//!    root, whose signed entry timestamp verifies with that log's key and whose body records this
//!    envelope's signature and certificate; the certificate was valid at the entry's
//!    `integratedTime` (not now: Fulcio certificates live ten minutes), chains to a CA of the
//!    trusted root that was valid then, has the code-signing EKU, its SAN equals the expected
//!    identity and its Fulcio issuer extension the expected issuer; and the signature verifies
//!    with the certificate's key;
//! 3. the payload type is `application/vnd.in-toto+json`;
//! 4. the statement is an in-toto Statement v1 with the manifest predicate type, a subject whose
//!    sha256 is the expected digest, and a manifest naming that digest (see
//!    [`statement::check_manifest_statement`]).
//!
//! A [`VerifiedAttestation`] is the proof that all of this held: its fields are private and the
//! only way to make one is to pass these checks, so a caller holding one cannot have skipped
//! them (or built one from an unsigned manifest).
//!
//! Pure apart from CPU: no I/O, no clock, no network. Not verified: the certificate's embedded
//! SCT (certificate transparency) and Rekor inclusion proofs / checkpoints. Lists an attacker
//! controls are bounded before any work: at most [`super::dsse::MAX_SIGNATURES`] signatures are
//! read and [`MAX_TLOG_ENTRIES`] log entries checked.

use super::bundle::Bundle;
use super::keys::PublicKey;
use super::statement::{self, CheckedStatement};
use super::trusted_root::TrustedRoot;
use super::x509::{self, EcKey, Hash};
use super::{Error, IN_TOTO_PAYLOAD_TYPE, dsse, tlog};
use crate::digest::Sha256Digest;
use crate::manifest::Manifest;

/// Who must have signed.
#[derive(Clone, Debug)]
pub enum Trust {
    /// A cosign-format public key.
    Key(PublicKey),
    /// A Fulcio certificate for this identity, recorded in a trusted Rekor log.
    Keyless {
        /// The certificate's subject alternative name: an email or a URI, matched exactly.
        identity: String,
        /// The OIDC issuer Fulcio recorded in the certificate, matched exactly.
        issuer: String,
        /// The CAs and logs to trust.
        trusted_root: TrustedRoot,
    },
}

/// The most transparency-log entries of one bundle that are checked (Sigstore clients write
/// one); a bundle with more is rejected before any is.
pub const MAX_TLOG_ENTRIES: usize = 8;

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

/// Who made a signature that verified. Only the signature checks below make one, so
/// [`check_payload`] cannot be reached with a signature nobody checked.
struct VerifiedSigner(String);

/// Verifies a Sigstore bundle (v0.1–v0.3 with a DSSE envelope) against `trust` for the image
/// `expected_digest`.
///
/// # Errors
/// Verification failures ([`Error::is_verification_failure`]) for anything forged, tampered,
/// untrusted or about another image; input errors when the bundle cannot be read.
pub fn verify_bundle(
    bundle_json: &[u8],
    expected_digest: &Sha256Digest,
    trust: &Trust,
) -> Result<VerifiedAttestation, Error> {
    let bundle = Bundle::from_json(bundle_json)?;
    let envelope = bundle.envelope()?;
    let signature = single_signature(envelope)?;
    let signer = match trust {
        Trust::Key(key) => {
            if bundle.leaf_certificate().is_some() {
                return Err(Error::TrustMismatch {
                    bundle: "a certificate (keyless)",
                    trust: "a public key",
                });
            }
            verify_with_key(envelope, signature, key)?
        }
        Trust::Keyless {
            identity,
            issuer,
            trusted_root,
        } => verify_keyless(&bundle, envelope, signature, identity, issuer, trusted_root)?,
    };
    check_payload(envelope, expected_digest, signer)
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
) -> Result<VerifiedAttestation, Error> {
    let Trust::Key(key) = trust else {
        return Err(Error::KeylessNeedsBundle);
    };
    let envelope = dsse::Envelope::from_json(envelope_json)?;
    let signature = single_signature(&envelope)?;
    let signer = verify_with_key(&envelope, signature, key)?;
    check_payload(&envelope, expected_digest, signer)
}

/// The one signature of the envelope.
fn single_signature(envelope: &dsse::Envelope) -> Result<&[u8], Error> {
    match envelope.signatures.as_slice() {
        [only] => Ok(&only.sig),
        [first, rest @ ..]
            if !rest.is_empty() && rest.iter().all(|other| other.sig == first.sig) =>
        {
            Err(Error::DuplicateSignature {
                count: envelope.signatures.len(),
            })
        }
        signatures => Err(Error::SignatureCount {
            got: signatures.len(),
        }),
    }
}

fn verify_with_key(
    envelope: &dsse::Envelope,
    signature: &[u8],
    key: &PublicKey,
) -> Result<VerifiedSigner, Error> {
    key.verify(&envelope.pae(), signature)?;
    Ok(VerifiedSigner(format!("key {}", key.key_id())))
}

/// Checks payload type and statement; builds the result.
fn check_payload(
    envelope: &dsse::Envelope,
    expected_digest: &Sha256Digest,
    VerifiedSigner(signer): VerifiedSigner,
) -> Result<VerifiedAttestation, Error> {
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(Error::PayloadType {
            got: envelope.payload_type.clone(),
        });
    }
    let CheckedStatement {
        manifest,
        subject_name,
        subject_digest,
    } = statement::check_manifest_statement(&envelope.payload, expected_digest)?;
    Ok(VerifiedAttestation {
        manifest,
        subject_name,
        subject_digest,
        signer,
    })
}

fn verify_keyless(
    bundle: &Bundle,
    envelope: &dsse::Envelope,
    signature: &[u8],
    identity: &str,
    issuer: &str,
    trusted_root: &TrustedRoot,
) -> Result<VerifiedSigner, Error> {
    if bundle.verification_material.public_key.is_some() {
        return Err(Error::TrustMismatch {
            bundle: "a public key",
            trust: "a keyless identity",
        });
    }
    let leaf_der = bundle.leaf_certificate().ok_or(Error::BundleIncomplete {
        what: "signing certificate",
    })?;
    let leaf = x509::parse(leaf_der, "the signing certificate")?;

    let listed = bundle.verification_material.tlog_entries.len();
    if listed > MAX_TLOG_ENTRIES {
        return Err(Error::TooManyLogEntries {
            got: listed,
            limit: MAX_TLOG_ENTRIES,
        });
    }
    // The log's promise fixes the signing time.
    let entries: Vec<_> = bundle
        .verification_material
        .tlog_entries
        .iter()
        .filter(|entry| entry.inclusion_promise.is_some())
        .collect();
    let Some(first) = entries.first() else {
        return Err(Error::MissingTlogEntry);
    };
    let integrated_time = first.integrated_time;
    for entry in &entries {
        let log_key = trusted_root.log_key(&entry.log_id.key_id, entry.integrated_time)?;
        tlog::verify_set(entry, log_key)?;
        tlog::check_dsse_entry(entry, envelope, signature, leaf_der)?;
    }

    if !x509::valid_at(&leaf, integrated_time) {
        let (not_before, not_after) = x509::validity(&leaf);
        return Err(Error::CertificateExpired {
            what: format!("the signing certificate ({})", x509::subject(&leaf)),
            not_before,
            not_after,
            integrated_time,
        });
    }
    if !trusted_root.chains(&leaf, integrated_time) {
        return Err(Error::UntrustedCertificate {
            issuer: x509::issuer(&leaf),
        });
    }
    if !x509::has_code_signing_usage(&leaf) {
        return Err(Error::CodeSigningUsage);
    }
    let identities = x509::identities(&leaf);
    if !identities.iter().any(|san| san == identity) {
        return Err(Error::IdentityMismatch {
            got: if identities.is_empty() {
                "no email or URI SAN".to_owned()
            } else {
                identities.join(", ")
            },
            expected: identity.to_owned(),
        });
    }
    let certificate_issuer = x509::oidc_issuer(&leaf);
    if certificate_issuer.as_deref() != Some(issuer) {
        return Err(Error::IssuerMismatch {
            got: certificate_issuer.unwrap_or_else(|| "no issuer extension".to_owned()),
            expected: issuer.to_owned(),
        });
    }

    let signer = format!("{identity} (issuer {issuer})");
    let key = EcKey::of_certificate(&leaf).ok_or_else(|| Error::Certificate {
        what: "the signing certificate".to_owned(),
        reason: "its key is not ECDSA P-256 or P-384".to_owned(),
    })?;
    let hash = match key {
        EcKey::P256(_) => Hash::Sha256,
        EcKey::P384(_) => Hash::Sha384,
    };
    if !key.verify(&envelope.pae(), signature, hash) {
        return Err(Error::BadSignature {
            signer: format!("the certificate of {signer}"),
        });
    }
    Ok(VerifiedSigner(signer))
}
