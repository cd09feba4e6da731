//! Signing: who signs ([`Signer`]: a key, or keyless through Fulcio, Rekor and a TSA) and the
//! key-based flow itself ([`attest_with_key`]); the keyless flow is [`super::keyless`].
//!
//! The caller reads key files, passwords, signing configs, identity tokens and the environment,
//! and passes the values in; this module never reads a file or an environment variable and
//! prints nothing. Only keyless signing (and fetching a GitHub Actions token for it) talks to the
//! network.

use super::keyless::{IdentityTokenSource, KeylessSigner, Services};
use super::keys::KeySigner;
use super::statement::Statement;
use super::{Attestation, Error, IN_TOTO_PAYLOAD_TYPE, Trust, bundle, dsse};
use crate::digest::Sha256Digest;
use crate::manifest::Manifest;

/// Who signs attestations.
#[derive(Debug)]
pub enum Signer {
    /// A private key (cosign format or PKCS#8); the bundle names it by its hint, as cosign does.
    Key(Box<KeySigner>),
    /// An ephemeral key certified by Fulcio for an OIDC identity, the signature logged in Rekor
    /// and timestamped by a TSA (both variants boxed: each holds key material, the keyless one also its own runtime and HTTP client).
    Keyless(Box<KeylessSigner>),
}

impl Signer {
    /// A key signer from a private key PEM and its password (ignored for unencrypted PKCS#8).
    ///
    /// # Errors
    /// As [`KeySigner::from_pem`]: malformed PEM, another label, a wrong password, not P-256.
    pub fn from_key_pem(pem: &[u8], password: &[u8]) -> Result<Self, Error> {
        KeySigner::from_pem(pem, password).map(|signer| Self::Key(Box::new(signer)))
    }

    /// A keyless signer for `services` (see [`super::keyless::SigningConfig::services`]). A
    /// GitHub Actions token source is asked for a token (audience `sigstore`) now, so a missing
    /// permission fails before anything is scanned or signed.
    ///
    /// # Errors
    /// As [`KeylessSigner::new`].
    pub fn keyless(services: Services, token: IdentityTokenSource) -> Result<Self, Error> {
        KeylessSigner::new(services, token).map(|signer| Self::Keyless(Box::new(signer)))
    }

    /// Signs `manifest` as an attestation for `subject_digest` (named `subject_name`).
    ///
    /// # Errors
    /// As [`attest_with_key`] or [`KeylessSigner::attest`].
    pub fn attest(
        &self,
        manifest: &Manifest,
        subject_name: &str,
        subject_digest: Sha256Digest,
    ) -> Result<Attestation, Error> {
        match self {
            Self::Key(signer) => attest_with_key(manifest, subject_name, subject_digest, signer),
            Self::Keyless(signer) => signer.attest(manifest, subject_name, subject_digest),
        }
    }

    /// The trust that verifies what this signer signs, where the signer alone determines it: a
    /// key's public half. Keyless signatures need a trusted root the signer does not have.
    #[must_use]
    pub fn trust(&self) -> Option<Trust> {
        match self {
            Self::Key(signer) => Trust::key(signer.public_key().clone()).ok(),
            Self::Keyless(_) => None,
        }
    }
}

/// Wraps `manifest` in an in-toto Statement v1 (subject = `[{name: subject_name, digest:
/// {sha256: hex}}]`, predicateType = [`crate::manifest::PREDICATE_TYPE`], predicate = the
/// manifest), signs it as DSSE with `signer` and builds a bundle whose verification material is
/// the key's hint (`{"publicKey": {"hint": …}}`, see [`PublicKey::bundle_hint`]) and which has no
/// transparency-log entry.
///
/// The signature's `keyid` is empty, as cosign writes it: cosign 3's DSSE verifier
/// (go-securesystemslib) skips a signature whose non-empty `keyid` differs from the id it
/// computes for the key (an SSH fingerprint), so any other value fails there.
///
/// [`PublicKey::bundle_hint`]: super::keys::PublicKey::bundle_hint
///
/// `subject_digest` should be the manifest's image manifest (or index) digest; verification
/// rejects anything else.
///
/// # Errors
/// [`Error::Serialize`] or [`Error::Sign`], neither of which happens in practice.
pub fn attest_with_key(
    manifest: &Manifest,
    subject_name: &str,
    subject_digest: Sha256Digest,
    signer: &KeySigner,
) -> Result<Attestation, Error> {
    let statement_json =
        Statement::for_manifest(manifest, subject_name, &subject_digest).to_json()?;
    let envelope = sign_envelope(&statement_json, signer, String::new())?;
    let bundle_json =
        bundle::Bundle::with_public_key(&envelope, &signer.public_key().bundle_hint()).to_json()?;
    Ok(Attestation {
        statement_json,
        envelope,
        bundle_json,
    })
}

/// Signs `statement_json` as an in-toto DSSE envelope with one signature.
pub(super) fn sign_envelope(
    statement_json: &[u8],
    signer: &KeySigner,
    keyid: String,
) -> Result<dsse::Envelope, Error> {
    let sig = signer.sign(&dsse::pae(IN_TOTO_PAYLOAD_TYPE, statement_json))?;
    Ok(dsse::Envelope {
        payload: statement_json.to_vec(),
        payload_type: IN_TOTO_PAYLOAD_TYPE.to_owned(),
        signatures: vec![dsse::Signature { keyid, sig }],
    })
}
