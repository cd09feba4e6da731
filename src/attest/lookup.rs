//! Attestation lookup: candidate documents already fetched (from a registry, or a bundle file)
//! in; every one that verifies for the image digest out, and why each other one did not.
//!
//! One bad candidate never hides a good one: each is checked on its own (size, JSON, media type,
//! signature, subject) and a failure becomes a [`Rejected`] entry while the lookup goes on. All
//! valid candidates are returned, not just the first, because an image index carries one
//! attestation per platform manifest under the same index digest.
//!
//! This module fetches nothing and reads no file: the registry side finds candidates, the CLI
//! reads bundle files, and both hand the bytes in. It does not choose among valid attestations
//! (by platform, say); that is the caller's policy.

use serde::de::{Deserializer as _, IgnoredAny, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::verify::{
    PredicateType, SubjectDigest, Trust, VerifiedAttestation, VerifiedStatement, verify_bundle,
    verify_envelope, verify_envelope_statement, verify_statement,
};
use super::{Error, NotVerified};
use crate::digest::Sha256Digest;

/// The largest attestation (one bundle or envelope) exelock reads. Real ones are kilobytes to a
/// few megabytes (the manifest of a large image); the registry side caps layers the same way.
pub const MAX_ATTESTATION_BYTES: usize = 16 << 20;
/// The largest bundle file exelock reads.
pub const MAX_BUNDLE_FILE_BYTES: usize = 64 << 20;
/// The most attestations one bundle file may hold (`attest --bundle` writes two per platform).
pub const MAX_BUNDLE_FILE_ENTRIES: usize = 64;

/// What a candidate document is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CandidateKind {
    /// A Sigstore bundle (an OCI referrer's layer, `attest --bundle` output).
    Bundle,
    /// A bare DSSE envelope (a cosign `.att` layer).
    Envelope,
}

/// A document that may be an attestation of the image, not yet verified.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// Where it came from, for people: `OCI referrer sha256:…`, `bundle file x.json#2`.
    pub origin: String,
    /// Bundle or envelope.
    pub kind: CandidateKind,
    /// The document.
    pub bytes: Vec<u8>,
}

/// A candidate that verified: by default an executable manifest attestation, or a
/// [`VerifiedStatement`] of any predicate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found<T = VerifiedAttestation> {
    /// What it proved.
    pub attestation: T,
    /// Where it came from.
    pub origin: String,
}

/// A candidate that did not verify, and why.
#[derive(Debug)]
pub struct Rejected {
    /// Where it came from.
    pub origin: String,
    /// Why: a [`NotVerified::Rejected`] forgery or another image's attestation, or a
    /// [`NotVerified::Error`] document that could not be read.
    pub reason: NotVerified,
}

impl std::fmt::Display for Rejected {
    /// `origin: rejected (category): error: cause: …` for attestations that do not hold,
    /// `origin: error: cause: …` for unreadable ones: the whole chain on one line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.reason {
            NotVerified::Rejected(rejection) => write!(
                f,
                "{}: rejected ({}): {rejection}",
                self.origin,
                rejection.category()
            )?,
            NotVerified::Error(error) => write!(f, "{}: {error}", self.origin)?,
        }
        let mut source = std::error::Error::source(&self.reason);
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// The outcome of a lookup.
#[derive(Debug)]
pub struct Lookup<T = VerifiedAttestation> {
    /// Every candidate that verified, in the order given.
    pub valid: Vec<Found<T>>,
    /// Every candidate that did not, in the order given.
    pub rejected: Vec<Rejected>,
}

/// Verifies every candidate for the image `subject` against `trust`: executable manifest
/// attestations through [`verify_bundle`] or [`verify_envelope`].
#[must_use]
pub fn check_candidates(
    candidates: impl IntoIterator<Item = Candidate>,
    subject: &Sha256Digest,
    trust: &Trust,
) -> Lookup {
    check_candidates_with(candidates, |kind, bytes| match kind {
        CandidateKind::Bundle => verify_bundle(bytes, subject, trust),
        CandidateKind::Envelope => verify_envelope(bytes, subject, trust),
    })
}

/// Verifies every candidate as an in-toto statement of `predicate` for the artifact with the
/// digests `subjects` (any predicate type, any subject digest algorithm), through
/// [`verify_statement`] or [`verify_envelope_statement`].
#[must_use]
pub fn check_statement_candidates(
    candidates: impl IntoIterator<Item = Candidate>,
    subjects: &[SubjectDigest],
    predicate: &PredicateType,
    trust: &Trust,
) -> Lookup<VerifiedStatement> {
    check_candidates_with(candidates, |kind, bytes| match kind {
        CandidateKind::Bundle => verify_statement(bytes, subjects, predicate, trust),
        CandidateKind::Envelope => verify_envelope_statement(bytes, subjects, predicate, trust),
    })
}

/// Runs `verify` on every candidate; one over [`MAX_ATTESTATION_BYTES`] is rejected unread.
fn check_candidates_with<T>(
    candidates: impl IntoIterator<Item = Candidate>,
    verify: impl Fn(CandidateKind, &[u8]) -> Result<T, NotVerified>,
) -> Lookup<T> {
    let mut lookup = Lookup {
        valid: Vec::new(),
        rejected: Vec::new(),
    };
    for Candidate {
        origin,
        kind,
        bytes,
    } in candidates
    {
        let verified = if bytes.len() > MAX_ATTESTATION_BYTES {
            Err(Error::TooLarge {
                what: "the attestation".to_owned(),
                size: bytes.len(),
                limit: MAX_ATTESTATION_BYTES,
            }
            .into())
        } else {
            verify(kind, &bytes)
        };
        match verified {
            Ok(attestation) => lookup.valid.push(Found {
                attestation,
                origin,
            }),
            Err(reason) => lookup.rejected.push(Rejected { origin, reason }),
        }
    }
    lookup
}

/// Splits a bundle file into candidates: one bundle, one DSSE envelope, or a JSON array of them
/// (what `attest --bundle` writes for several subjects). `label` names the file in origins
/// (`bundle file LABEL`, `bundle file LABEL#INDEX` for array elements) and errors.
///
/// An element is an envelope when it has a `payloadType` field, else a bundle; whether it is a
/// *valid* one is [`check_candidates`]' question, so a bad element does not spoil the file.
///
/// # Errors
/// [`Error::TooLarge`] over [`MAX_BUNDLE_FILE_BYTES`], [`Error::TooManyAttestations`] for an
/// array of more than [`MAX_BUNDLE_FILE_ENTRIES`], [`Error::BundleFileJson`] when the file is not
/// JSON.
pub fn candidates_from_bundle_file(bytes: &[u8], label: &str) -> Result<Vec<Candidate>, Error> {
    if bytes.len() > MAX_BUNDLE_FILE_BYTES {
        return Err(Error::TooLarge {
            what: format!("the bundle file {label}"),
            size: bytes.len(),
            limit: MAX_BUNDLE_FILE_BYTES,
        });
    }
    let not_json = |source| Error::BundleFileJson {
        file: label.to_owned(),
        source,
    };
    if first_byte(bytes) != Some(b'[') {
        serde_json::from_slice::<IgnoredAny>(bytes).map_err(not_json)?;
        return Ok(vec![Candidate {
            origin: format!("bundle file {label}"),
            kind: kind_of(bytes),
            bytes: bytes.to_vec(),
        }]);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let elements = deserializer
        .deserialize_seq(BoundedElements)
        .and_then(|elements| deserializer.end().map(|()| elements))
        .map_err(not_json)?;
    let elements = match elements {
        Elements::Within(elements) => elements,
        Elements::Over { count } => {
            return Err(Error::TooManyAttestations {
                file: label.to_owned(),
                count,
                limit: MAX_BUNDLE_FILE_ENTRIES,
            });
        }
    };
    Ok(elements
        .into_iter()
        .enumerate()
        .map(|(index, element)| Candidate {
            origin: format!("bundle file {label}#{index}"),
            kind: kind_of(element.get().as_bytes()),
            bytes: element.get().as_bytes().to_vec(),
        })
        .collect())
}

/// An envelope is an object with `payloadType` at the top; anything else is taken for a bundle.
fn kind_of(json: &[u8]) -> CandidateKind {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "payloadType")]
        payload_type: Option<IgnoredAny>,
    }
    // serde reads a struct from an array too (by position); only an object can be an envelope.
    let is_object = first_byte(json) == Some(b'{');
    match serde_json::from_slice::<Probe>(json) {
        Ok(Probe {
            payload_type: Some(_),
        }) if is_object => CandidateKind::Envelope,
        _ => CandidateKind::Bundle,
    }
}

/// The first byte of a JSON text that is not whitespace.
fn first_byte(json: &[u8]) -> Option<u8> {
    json.iter()
        .copied()
        .find(|byte| !byte.is_ascii_whitespace())
}

/// The elements of a JSON array, borrowed; past [`MAX_BUNDLE_FILE_ENTRIES`] they are only
/// counted, so a huge array costs no memory.
enum Elements<'a> {
    Within(Vec<&'a RawValue>),
    Over { count: usize },
}

struct BoundedElements;

impl<'de> Visitor<'de> for BoundedElements {
    type Value = Elements<'de>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a JSON array of Sigstore bundles or DSSE envelopes")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut elements = Vec::new();
        while elements.len() < MAX_BUNDLE_FILE_ENTRIES {
            match seq.next_element::<&RawValue>()? {
                Some(element) => elements.push(element),
                None => return Ok(Elements::Within(elements)),
            }
        }
        let mut count = elements.len();
        while seq.next_element::<IgnoredAny>()?.is_some() {
            count += 1;
        }
        Ok(if count > MAX_BUNDLE_FILE_ENTRIES {
            Elements::Over { count }
        } else {
            Elements::Within(elements)
        })
    }
}

#[cfg(test)]
mod tests;
