//! Key-based signing: ECDSA P-256 with SHA-256, in the key formats cosign reads and writes.
//!
//! - [`generate_key_pair`] writes what `cosign generate-key-pair` writes: an `ENCRYPTED SIGSTORE
//!   PRIVATE KEY` PEM (scrypt + NaCl secretbox around PKCS#8, via the sigstore crate's `kdf`) and a
//!   `PUBLIC KEY` PEM (SubjectPublicKeyInfo).
//! - [`KeySigner::from_pem`] reads that, the older `ENCRYPTED COSIGN PRIVATE KEY` (same content,
//!   cosign v1 label) and unencrypted PKCS#8 `PRIVATE KEY` PEM (`openssl genpkey`).
//! - Signatures are ASN.1 DER ECDSA signatures over SHA-256 of the message, as cosign makes them.
//!
//! PEM is read as OpenSSL reads it: besides RFC 7468's 64-column lines, a base64 body on one
//! line or wrapped at another width (keys pasted into CI secrets often are) is accepted.
//!
//! Key ids are the lowercase hex SHA-256 of the public key's SubjectPublicKeyInfo DER; the key
//! hint a bundle carries is the same SHA-256 in standard base64, as cosign writes it. Both only
//! name a key, never a reason to trust one.
//!
//! This module does no file I/O and never reads the environment: callers pass PEM bytes and
//! passwords in. Private key material is zeroized when dropped and never shown by `Debug`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use p256::elliptic_curve::Generate as _;
use p256::pkcs8::EncodePublicKey as _;
use p256::pkcs8::der::pem::{self, LineEnding};
use p256::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _, EncodePrivateKey as _};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::{Error, Rejection};

/// PEM label of the encrypted private keys cosign v2 and later write.
pub const SIGSTORE_PRIVATE_KEY_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// PEM label of the encrypted private keys cosign v1 wrote (same encryption).
pub const COSIGN_PRIVATE_KEY_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// PEM label of an unencrypted PKCS#8 private key.
pub const PKCS8_PRIVATE_KEY_LABEL: &str = "PRIVATE KEY";
/// PEM label of a SubjectPublicKeyInfo public key.
pub const PUBLIC_KEY_LABEL: &str = "PUBLIC KEY";

/// A key pair as the files `generate-key-pair` writes.
pub struct KeyPairPem {
    /// The private key, encrypted, as cosign writes it (`cosign.key`).
    pub private_pem: Zeroizing<Vec<u8>>,
    /// The public key (`cosign.pub`).
    pub public_pem: Vec<u8>,
}

/// Generates a P-256 key pair in cosign's format: the private key encrypted with `password`
/// (which may be empty, as `COSIGN_PASSWORD=""` allows) and the public key.
///
/// # Errors
/// [`Error::Random`] when the system RNG fails, [`Error::KeyEncrypt`] when encryption fails.
pub fn generate_key_pair(password: &[u8]) -> Result<KeyPairPem, Error> {
    let signer = KeySigner::generate()?;
    Ok(KeyPairPem {
        private_pem: signer.to_encrypted_pem(password)?,
        public_pem: signer.public_key_pem()?.into_bytes(),
    })
}

/// A P-256 signing key.
pub struct KeySigner {
    key: SigningKey,
    public: PublicKey,
}

impl fmt::Debug for KeySigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySigner")
            .field("key_id", &self.public.key_id)
            .finish_non_exhaustive()
    }
}

impl KeySigner {
    /// A fresh random key (for keyless signing, an ephemeral one).
    ///
    /// # Errors
    /// [`Error::Random`] when the system RNG fails.
    pub fn generate() -> Result<Self, Error> {
        let key = SigningKey::try_generate().map_err(|source| Error::Random {
            reason: source.to_string(),
        })?;
        Self::from_signing_key(key)
    }

    /// Reads a private key PEM: `ENCRYPTED SIGSTORE PRIVATE KEY`, `ENCRYPTED COSIGN PRIVATE KEY`
    /// (decrypted with `password`) or unencrypted PKCS#8 `PRIVATE KEY` (`password` is ignored).
    /// The key must be P-256.
    ///
    /// # Errors
    /// [`Error::Pem`] for malformed PEM, [`Error::KeyFormat`] for another label,
    /// [`Error::KeyDecrypt`] for a wrong password or a damaged key, [`Error::PrivateKey`] when
    /// the key is not a P-256 PKCS#8 key.
    pub fn from_pem(pem_bytes: &[u8], password: &[u8]) -> Result<Self, Error> {
        let (label, contents) = decode_pem(pem_bytes).map_err(|source| Error::Pem {
            what: "private key",
            source,
        })?;
        let contents = Zeroizing::new(contents);
        let key = match label.as_str() {
            SIGSTORE_PRIVATE_KEY_LABEL | COSIGN_PRIVATE_KEY_LABEL => {
                let pkcs8 = Zeroizing::new(
                    sigstore::crypto::signing_key::kdf::decrypt(&contents, password)
                        .map_err(|source| Error::KeyDecrypt { source })?,
                );
                SigningKey::from_pkcs8_der(&pkcs8)
            }
            PKCS8_PRIVATE_KEY_LABEL => SigningKey::from_pkcs8_der(&contents),
            _ => return Err(Error::KeyFormat { got: label }),
        }
        .map_err(|source| Error::PrivateKey {
            reason: source.to_string(),
        })?;
        Self::from_signing_key(key)
    }

    fn from_signing_key(key: SigningKey) -> Result<Self, Error> {
        let public = PublicKey::from_verifying_key(*key.verifying_key())?;
        Ok(Self { key, public })
    }

    /// Signs `message` (ECDSA P-256, SHA-256 of the message, RFC 6979 nonces).
    ///
    /// # Errors
    /// [`Error::Sign`], which does not happen with a valid key in practice.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let signature: Signature = self
            .key
            .try_sign(message)
            .map_err(|source| Error::Sign { source })?;
        let der: DerSignature = signature.to_der();
        Ok(der.as_bytes().to_vec())
    }

    /// The public half.
    #[must_use]
    pub const fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The public key as a `PUBLIC KEY` PEM (LF line endings, trailing newline).
    ///
    /// # Errors
    /// [`Error::PublicKey`], which does not happen for a valid key in practice.
    pub fn public_key_pem(&self) -> Result<String, Error> {
        self.public.to_pem()
    }

    /// The key id: lowercase hex SHA-256 of the public key's SubjectPublicKeyInfo DER.
    #[must_use]
    pub fn key_id(&self) -> String {
        self.public.key_id.clone()
    }

    /// The private key encrypted with `password`, as an `ENCRYPTED SIGSTORE PRIVATE KEY` PEM.
    ///
    /// # Errors
    /// [`Error::KeyEncrypt`] when encryption fails, [`Error::PrivateKey`] when encoding fails.
    pub fn to_encrypted_pem(&self, password: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        let pkcs8 = self
            .key
            .to_pkcs8_der()
            .map_err(|source| Error::PrivateKey {
                reason: source.to_string(),
            })?;
        let encrypted = sigstore::crypto::signing_key::kdf::encrypt(pkcs8.as_bytes(), password)
            .map_err(|source| Error::KeyEncrypt { source })?;
        let pem_text = pem::encode_string(SIGSTORE_PRIVATE_KEY_LABEL, LineEnding::LF, &encrypted)
            .map_err(|source| Error::Pem {
            what: "private key",
            source,
        })?;
        Ok(Zeroizing::new(pem_text.into_bytes()))
    }
}

/// A P-256 public key that verifies exelock's and cosign's ECDSA signatures.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
    /// SHA-256 of the SubjectPublicKeyInfo DER.
    fingerprint: [u8; 32],
    key_id: String,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl PublicKey {
    /// Reads a `PUBLIC KEY` PEM (SubjectPublicKeyInfo), as `cosign.pub`.
    ///
    /// # Errors
    /// [`Error::Pem`] for malformed PEM, [`Error::KeyFormat`] for another label,
    /// [`Error::PublicKey`] when the key is not P-256.
    pub fn from_pem(pem_bytes: &[u8]) -> Result<Self, Error> {
        let (label, der) = decode_pem(pem_bytes).map_err(|source| Error::Pem {
            what: "public key",
            source,
        })?;
        if label != PUBLIC_KEY_LABEL {
            return Err(Error::KeyFormat { got: label });
        }
        Self::from_der(&der)
    }

    /// Reads a DER SubjectPublicKeyInfo.
    ///
    /// # Errors
    /// [`Error::PublicKey`] when it is not a P-256 key.
    pub fn from_der(der: &[u8]) -> Result<Self, Error> {
        let key = VerifyingKey::from_public_key_der(der).map_err(|source| Error::PublicKey {
            reason: source.to_string(),
        })?;
        Self::from_verifying_key(key)
    }

    pub(crate) fn from_verifying_key(key: VerifyingKey) -> Result<Self, Error> {
        let der = key.to_public_key_der().map_err(|source| Error::PublicKey {
            reason: source.to_string(),
        })?;
        let fingerprint: [u8; 32] = Sha256::digest(der.as_bytes()).into();
        let key_id = hex::encode(fingerprint);
        Ok(Self {
            key,
            fingerprint,
            key_id,
        })
    }

    /// The key id: lowercase hex SHA-256 of the SubjectPublicKeyInfo DER.
    #[must_use]
    pub fn key_id(&self) -> String {
        self.key_id.clone()
    }

    /// The hint a key-based Sigstore bundle names this key by (`publicKey.hint`): the SHA-256 of
    /// the SubjectPublicKeyInfo DER in standard base64, as cosign writes it
    /// (`cmd/cosign/cli/verify/verify_bundle.go`, `internal/key/svkeypair.go`).
    #[must_use]
    pub fn bundle_hint(&self) -> String {
        STANDARD.encode(self.fingerprint)
    }

    /// Verifies an ASN.1 DER ECDSA signature over `message` (SHA-256). High-S signatures, which
    /// OpenSSL and Go produce, are accepted.
    ///
    /// # Errors
    /// [`Rejection::BadSignature`] when the signature is not DER or does not verify.
    pub fn verify(&self, message: &[u8], der_signature: &[u8]) -> Result<(), Rejection> {
        let bad = || Rejection::BadSignature {
            signer: format!("key {}", self.key_id),
            named_key: None,
        };
        let signature = Signature::from_der(der_signature).map_err(|_| bad())?;
        self.key.verify(message, &signature).map_err(|_| bad())
    }

    /// The SubjectPublicKeyInfo DER.
    ///
    /// # Errors
    /// [`Error::PublicKey`], which does not happen for a valid key in practice.
    pub fn to_der(&self) -> Result<Vec<u8>, Error> {
        self.key
            .to_public_key_der()
            .map(|der| der.as_bytes().to_vec())
            .map_err(|source| Error::PublicKey {
                reason: source.to_string(),
            })
    }

    /// The `PUBLIC KEY` PEM (LF line endings).
    ///
    /// # Errors
    /// [`Error::PublicKey`], which does not happen for a valid key in practice.
    pub fn to_pem(&self) -> Result<String, Error> {
        self.key
            .to_public_key_pem(LineEnding::LF)
            .map_err(|source| Error::PublicKey {
                reason: source.to_string(),
            })
    }
}

/// Decodes a PEM document into its label and DER contents, as OpenSSL does: strictly (RFC 7468,
/// 64-column lines) first, and when that fails, once more with the base64 body re-wrapped at 64
/// columns, because OpenSSL accepts a body on one line or wrapped at any width. Leading and
/// trailing whitespace (a file's final newline) is ignored. A PEM with RFC 1421 headers
/// (`Proc-Type: …`) is not re-wrapped: its body is not plain base64.
///
/// On failure, the error is the strict decoder's complaint about the document as given.
fn decode_pem(pem_bytes: &[u8]) -> Result<(String, Vec<u8>), pem::Error> {
    let text = pem_bytes.trim_ascii();
    let strict = match pem::decode_vec(text) {
        Ok((label, contents)) => return Ok((label.to_owned(), contents)),
        Err(error) => error,
    };
    let Some(rewrapped) = rewrap_pem(text) else {
        return Err(strict);
    };
    pem::decode_vec(rewrapped.as_bytes())
        .map(|(label, contents)| (label.to_owned(), contents))
        .map_err(|_| strict)
}

/// The same PEM document with its body on 64-column lines; `None` when it does not have the
/// shape `-----BEGIN X-----`, base64 lines, `-----END X-----`. The result may hold a private
/// key's base64, so it is zeroized when dropped.
fn rewrap_pem(text: &[u8]) -> Option<Zeroizing<String>> {
    let text = std::str::from_utf8(text).ok()?;
    let mut lines = text.lines().map(str::trim);
    let begin = lines.next()?;
    let label = begin.strip_prefix("-----BEGIN ")?.strip_suffix("-----")?;
    let mut body = Zeroizing::new(String::new());
    for line in lines.by_ref() {
        if line.starts_with("-----END ") {
            if line != format!("-----END {label}-----") || lines.next().is_some() {
                return None;
            }
            let mut out = Zeroizing::new(format!("{begin}\n"));
            for chunk in body.as_bytes().chunks(64) {
                out.push_str(std::str::from_utf8(chunk).ok()?);
                out.push('\n');
            }
            out.push_str(line);
            out.push('\n');
            return Some(out);
        }
        if line.contains(':') {
            return None;
        }
        body.extend(line.chars().filter(|c| !c.is_ascii_whitespace()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::elliptic_curve::scalar::IsHigh as _;

    /// Test fixtures copied from the sigstore-rs repository (Apache-2.0); see testdata/README.md.
    const COSIGN_V2_KEY: &[u8] =
        include_bytes!("../../testdata/attest/keys/cosign_generated_encrypted_empty_private.key");
    const COSIGN_V1_KEY: &[u8] =
        include_bytes!("../../testdata/attest/keys/ecdsa_encrypted_private.key");
    const COSIGN_V1_KEY_PASSWORD: &[u8] = b"123";
    const OPENSSL_PKCS8_KEY: &[u8] = include_bytes!("../../testdata/attest/keys/openssl_p256.pem");
    const OPENSSL_PKCS8_PUB: &[u8] = include_bytes!("../../testdata/attest/keys/openssl_p256.pub");

    #[test]
    fn generated_key_pair_round_trips_with_password() {
        // One scrypt encryption and two decryptions: the slow part of this module's tests.
        let KeyPairPem {
            private_pem: private,
            public_pem: public,
        } = generate_key_pair(b"correct horse").unwrap();
        let text = std::str::from_utf8(&private).unwrap();
        assert!(text.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        let signer = KeySigner::from_pem(&private, b"correct horse").unwrap();
        let public = PublicKey::from_pem(&public).unwrap();
        assert_eq!(signer.key_id(), public.key_id());
        let signature = signer.sign(b"message").unwrap();
        public.verify(b"message", &signature).unwrap();

        // An error, not a rejection: the type says so.
        let error: Error = KeySigner::from_pem(&private, b"wrong").unwrap_err();
        assert!(matches!(error, Error::KeyDecrypt { .. }), "{error:?}");
        assert!(error.to_string().contains("wrong password"), "{error}");
    }

    #[test]
    fn reads_a_key_generated_by_cosign_v2() {
        // `cosign generate-key-pair` with an empty password (scrypt N=65536).
        let signer = KeySigner::from_pem(COSIGN_V2_KEY, b"").unwrap();
        let signature = signer.sign(b"m").unwrap();
        signer.public_key().verify(b"m", &signature).unwrap();
    }

    #[test]
    fn reads_an_encrypted_cosign_private_key() {
        assert!(
            std::str::from_utf8(COSIGN_V1_KEY)
                .unwrap()
                .starts_with("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----")
        );
        let signer = KeySigner::from_pem(COSIGN_V1_KEY, COSIGN_V1_KEY_PASSWORD).unwrap();
        let signature = signer.sign(b"m").unwrap();
        signer.public_key().verify(b"m", &signature).unwrap();
    }

    #[test]
    fn reads_an_openssl_pkcs8_key_and_its_public_key() {
        // `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` and `openssl pkey -pubout`.
        let signer = KeySigner::from_pem(OPENSSL_PKCS8_KEY, b"ignored").unwrap();
        let public = PublicKey::from_pem(OPENSSL_PKCS8_PUB).unwrap();
        assert_eq!(signer.key_id(), public.key_id());
        assert_eq!(
            signer.public_key_pem().unwrap().as_bytes(),
            OPENSSL_PKCS8_PUB
        );
        let signature = signer.sign(b"m").unwrap();
        public.verify(b"m", &signature).unwrap();
    }

    #[test]
    fn key_id_and_bundle_hint_are_sha256_of_the_spki_der() {
        let public = PublicKey::from_pem(OPENSSL_PKCS8_PUB).unwrap();
        let (_, der) = pem::decode_vec(OPENSSL_PKCS8_PUB.trim_ascii()).unwrap();
        assert_eq!(public.key_id(), hex::encode(Sha256::digest(&der)));
        assert_eq!(public.bundle_hint(), STANDARD.encode(Sha256::digest(&der)));
        assert_eq!(public.to_der().unwrap(), der);
    }

    #[test]
    fn debug_hides_key_material() {
        let key = SigningKey::try_generate().unwrap();
        let secret_hex = hex::encode(key.to_bytes());
        let pkcs8 = key.to_pkcs8_der().unwrap();
        let signer = KeySigner::from_signing_key(key).unwrap();
        let debug = format!("{signer:?}");
        assert!(debug.contains(&signer.key_id()), "{debug}");
        assert!(!debug.contains(&secret_hex), "{debug}");
        assert!(!debug.contains(&hex::encode(pkcs8.as_bytes())), "{debug}");
    }

    #[test]
    fn rejects_other_labels_and_curves() {
        let error = KeySigner::from_pem(OPENSSL_PKCS8_PUB, b"").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("(got PUBLIC KEY, expected ENCRYPTED SIGSTORE PRIVATE KEY"),
            "{error}"
        );
        let p384 = p384::SecretKey::try_generate().unwrap();
        let pem_text = p384.to_pkcs8_pem(LineEnding::LF).unwrap();
        let error = KeySigner::from_pem(pem_text.as_bytes(), b"").unwrap_err();
        assert!(matches!(error, Error::PrivateKey { .. }), "{error:?}");
        let error = KeySigner::from_pem(b"garbage", b"").unwrap_err();
        assert!(matches!(error, Error::Pem { .. }), "{error:?}");
    }

    #[test]
    fn accepts_high_s_signatures() {
        // OpenSSL and Go do not normalise s; a verifier that demanded low-S would reject about
        // half of their signatures.
        let signer = KeySigner::generate().unwrap();
        let der = signer.sign(b"m").unwrap();
        let signature = Signature::from_der(&der).unwrap();
        let low = signature.normalize_s();
        let (r, s) = low.split_scalars();
        let high = Signature::from_scalars(r, -*s).unwrap();
        assert!(bool::from(high.s().is_high()));
        signer
            .public_key()
            .verify(b"m", high.to_der().as_bytes())
            .unwrap();
    }

    #[test]
    fn tampered_message_or_signature_fails() {
        let signer = KeySigner::generate().unwrap();
        let mut signature = signer.sign(b"message").unwrap();
        let error: Rejection = signer
            .public_key()
            .verify(b"messagE", &signature)
            .unwrap_err();
        assert!(matches!(error, Rejection::BadSignature { .. }), "{error:?}");
        let last = signature.len() - 1;
        signature[last] ^= 1;
        let error = signer
            .public_key()
            .verify(b"message", &signature)
            .unwrap_err();
        assert!(matches!(error, Rejection::BadSignature { .. }), "{error:?}");
    }

    /// `pem_text` with its base64 body on one line, as keys pasted into CI secrets often are.
    fn one_line(pem_text: &[u8]) -> Vec<u8> {
        let text = std::str::from_utf8(pem_text).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let (first, rest) = lines.split_first().unwrap();
        let (last, body) = rest.split_last().unwrap();
        format!("{first}\n{}\n{last}\n", body.concat()).into_bytes()
    }

    /// Whether `openssl pkey` reads `pem_text` (`-pubin` for a public key).
    fn openssl_reads(pem_text: &[u8], public: bool) -> bool {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        fs_err::write(&path, pem_text).unwrap();
        let mut command = std::process::Command::new("openssl");
        command.arg("pkey").arg("-noout").arg("-in").arg(&path);
        if public {
            command.arg("-pubin");
        }
        let output = command
            .output()
            .expect("openssl is needed to compare PEM reading with it");
        output.status.success()
    }

    #[test]
    fn reads_pem_with_the_body_on_one_line_as_openssl_does() {
        let public = one_line(OPENSSL_PKCS8_PUB);
        let private = one_line(OPENSSL_PKCS8_KEY);
        assert_eq!(String::from_utf8_lossy(&public).lines().count(), 3);
        // OpenSSL, which wrote these keys, reads them on one line too.
        assert!(openssl_reads(&public, true));
        assert!(openssl_reads(&private, false));

        let expected = PublicKey::from_pem(OPENSSL_PKCS8_PUB).unwrap();
        assert_eq!(PublicKey::from_pem(&public).unwrap(), expected);
        let signer = KeySigner::from_pem(&private, b"").unwrap();
        assert_eq!(signer.public_key(), &expected);
        // Other widths, and CRLF line ends, too.
        let text = String::from_utf8(public).unwrap();
        let (head, rest) = text.split_once('\n').unwrap();
        let (body, tail) = rest.split_once('\n').unwrap();
        let narrow: Vec<String> = body
            .as_bytes()
            .chunks(40)
            .map(|chunk| String::from_utf8(chunk.to_vec()).unwrap())
            .collect();
        let rewrapped = format!("{head}\r\n{}\r\n{tail}", narrow.join("\r\n"));
        assert_eq!(PublicKey::from_pem(rewrapped.as_bytes()).unwrap(), expected);
    }

    #[test]
    fn a_broken_one_line_pem_is_still_refused() {
        // Re-wrapping forgives line lengths, nothing else: both sides still reject these.
        let public = String::from_utf8(one_line(OPENSSL_PKCS8_PUB)).unwrap();
        let bad_base64 = public.replacen("MFkw", "MF!w", 1);
        let wrong_end = public.replace("END PUBLIC KEY", "END PRIVATE KEY");
        for broken in [bad_base64, wrong_end] {
            assert!(!openssl_reads(broken.as_bytes(), true), "{broken}");
            let error = PublicKey::from_pem(broken.as_bytes()).unwrap_err();
            assert!(matches!(error, Error::Pem { .. }), "{error:?}");
        }
    }
}
