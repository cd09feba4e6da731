//! The trusted root of Sigstore verification: which certificate authorities may certify signers,
//! which transparency logs and CT logs may vouch for them, and which timestamp authorities may
//! date signatures, each for a stated time window — Sigstore's `trusted_root.json`, read and
//! checked by the Sigstore project's `sigstore-trust-root` and `sigstore-verify` crates.
//!
//! [`TrustedRoot::public_good`] is the public-good instance's root, embedded at build time;
//! [`TrustedRoot::from_json`] reads another (`--trusted-root FILE`). Both are checked whole when
//! made (every key and certificate parses, no duplicate log ids, no window that ends before it
//! starts, every window has a start), so a bad root is an error before any bundle is read.
//!
//! It never fetches or refreshes a root (no TUF) and does no I/O: the caller passes the bytes.

use std::fmt;
use std::sync::Arc;

use sigstore_verify::Verifier;
use sigstore_verify::trust_root::{SigstoreInstance, TrustedRoot as SigstoreTrustedRoot};

use super::Error;

/// The public-good instance's `trusted_root.json`: the copy `sigstore-trust-root` 0.15.1 embeds,
/// taken from the sigstore/root-signing TUF repository (<https://tuf-repo-cdn.sigstore.dev>); its
/// newest key is valid from 2025-09-23 (the Rekor v2 shard `log2025-1`). It is identical to
/// `roots/public-good-trusted_root.json` of the verification vectors in `testdata/sigstore/`.
pub const PUBLIC_GOOD_TRUSTED_ROOT_JSON: &str =
    sigstore_verify::trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT;

/// The certificate authorities, logs and timestamp authorities to trust, ready to verify with.
#[derive(Clone)]
pub struct TrustedRoot {
    /// The authorities' and logs' keys, parsed once.
    verifier: Arc<Verifier>,
    /// What the root is, for people: `the public-good trusted root`, a file name.
    description: Arc<str>,
}

impl fmt::Debug for TrustedRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedRoot")
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

impl TrustedRoot {
    /// Reads a `trusted_root.json` (`application/vnd.dev.sigstore.trustedroot+json;version=0.1`).
    ///
    /// # Errors
    /// [`Error::TrustedRoot`] when it is not UTF-8 JSON of that shape, or when a key,
    /// certificate or validity window in it is unusable.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        let text = std::str::from_utf8(bytes).map_err(|_| Error::TrustedRoot {
            reason: "it is not UTF-8 text".to_owned(),
        })?;
        let root = SigstoreTrustedRoot::from_json(text).map_err(|error| Error::TrustedRoot {
            reason: error.to_string(),
        })?;
        Self::new(&root, "a trusted root given")
    }

    /// The public-good instance's root ([`PUBLIC_GOOD_TRUSTED_ROOT_JSON`]).
    ///
    /// # Errors
    /// Only if the embedded copy were unusable, which a unit test rules out.
    pub fn public_good() -> Result<Self, Error> {
        let root = SigstoreInstance::PublicGood
            .embedded_trusted_root()
            .map_err(|error| Error::TrustedRoot {
                reason: error.to_string(),
            })?;
        Self::new(&root, "the public-good trusted root")
    }

    fn new(root: &SigstoreTrustedRoot, description: &str) -> Result<Self, Error> {
        let verifier = Verifier::new(root).map_err(|error| Error::TrustedRoot {
            reason: error.to_string(),
        })?;
        Ok(Self {
            verifier: Arc::new(verifier),
            description: description.into(),
        })
    }

    /// The verifier holding this root's keys.
    pub(crate) fn verifier(&self) -> &Verifier {
        &self.verifier
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_public_good_root_is_usable() {
        TrustedRoot::public_good().unwrap();
    }

    #[test]
    fn the_embedded_root_is_the_one_the_vectors_carry() {
        let vectors: serde_json::Value = serde_json::from_slice(include_bytes!(
            "../../testdata/sigstore/roots/public-good-trusted_root.json"
        ))
        .unwrap();
        let embedded: serde_json::Value =
            serde_json::from_str(PUBLIC_GOOD_TRUSTED_ROOT_JSON).unwrap();
        assert_eq!(embedded, vectors);
    }

    #[test]
    fn a_root_whose_log_has_no_validity_start_is_refused() {
        let mut root: serde_json::Value =
            serde_json::from_str(PUBLIC_GOOD_TRUSTED_ROOT_JSON).unwrap();
        root["tlogs"][0]["publicKey"]["validFor"]
            .as_object_mut()
            .unwrap()
            .remove("start");
        let error = TrustedRoot::from_json(&serde_json::to_vec(&root).unwrap()).unwrap_err();
        assert!(matches!(error, Error::TrustedRoot { .. }), "{error:?}");
    }

    #[test]
    fn a_root_with_an_unparsable_key_is_refused() {
        let mut root: serde_json::Value =
            serde_json::from_str(PUBLIC_GOOD_TRUSTED_ROOT_JSON).unwrap();
        root["tlogs"][0]["publicKey"]["rawBytes"] = "AAAA".into();
        let error = TrustedRoot::from_json(&serde_json::to_vec(&root).unwrap()).unwrap_err();
        assert!(matches!(error, Error::TrustedRoot { .. }), "{error:?}");
    }

    #[test]
    fn text_that_is_not_a_root_is_refused() {
        for bytes in [&b"\xff\xfe"[..], b"{}", b"[]", b"not json"] {
            assert!(TrustedRoot::from_json(bytes).is_err(), "{bytes:?}");
        }
    }
}
