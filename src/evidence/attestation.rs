//! Attestation candidates fetched from a registry or read from a bundle file, and checked for
//! an image digest: the lookup `verify`, `gate`, `triage` and `serve` share; and the same for
//! in-toto statements of other predicates (`verify --predicate-type`).

use std::io::Read as _;
use std::path::Path;

use super::Error;
use crate::attest::VerifiedAttestation;
use crate::attest::lookup::{self, Candidate, CandidateKind};
use crate::attest::{NotVerified, PredicateType, SubjectDigest, Trust, VerifiedStatement};
use crate::digest::Sha256Digest;
use crate::image::registry::{self, RegistrySource, RejectionReason};

/// An attestation checked for one digest: the first valid one, or why each candidate failed.
pub enum Checked {
    /// A valid attestation.
    Valid {
        /// What it proved.
        attestation: Box<VerifiedAttestation>,
        /// Where it was found.
        origin: String,
    },
    /// None valid.
    Invalid {
        /// One line per candidate, or why there were none.
        reasons: Vec<String>,
    },
}

/// The first valid attestation for `platform` (any platform without one), else every reason:
/// the lookup's rejections, then valid attestations of other platforms.
fn first_valid(
    lookup: lookup::Lookup,
    mut reasons: Vec<String>,
    platform: Option<&str>,
) -> Checked {
    reasons.extend(lookup.rejected.iter().map(ToString::to_string));
    let mut chosen = None;
    for found in lookup.valid {
        let found_platform = &found.attestation.manifest().image.platform;
        if platform.is_some_and(|wanted| wanted != found_platform) {
            reasons.push(format!(
                "{}: valid, but for platform {found_platform}",
                found.origin
            ));
        } else if chosen.is_none() {
            chosen = Some(found);
        }
    }
    match chosen {
        Some(found) => Checked::Valid {
            attestation: Box::new(found.attestation),
            origin: found.origin,
        },
        None => Checked::Invalid { reasons },
    }
}

/// Finds the attestations stored for `digest` and verifies them all; the first valid one wins,
/// and with `platform` (an index digest has one attestation per platform) the first for it.
/// Stored documents that cannot be read are reasons, not errors: only a registry that cannot
/// be asked at all is.
///
/// # Errors
/// The registry could not be asked for the attestations.
pub fn check_registry_attestation(
    store: &RegistrySource,
    digest: &Sha256Digest,
    trust: &Trust,
    platform: Option<&str>,
) -> Result<Checked, Error> {
    Ok(check_registry_candidates(store, digest, trust, platform)?.checked)
}

/// What [`check_registry_candidates`] found in a registry.
pub(super) struct RegistryCheck {
    /// The first valid attestation, or why each candidate failed.
    pub(super) checked: Checked,
    /// A stored document could not be fetched for a reason that may pass, so "none valid"
    /// may not be final.
    pub(super) transient: bool,
}

/// [`check_registry_attestation`], and whether "none valid" may not be final.
pub(super) fn check_registry_candidates(
    store: &RegistrySource,
    digest: &Sha256Digest,
    trust: &Trust,
    platform: Option<&str>,
) -> Result<RegistryCheck, Error> {
    let found = registry_candidates(store, digest)?;
    let lookup = lookup::check_candidates(found.candidates, digest, trust);
    Ok(RegistryCheck {
        checked: first_valid(lookup, found.unread, platform),
        transient: found.transient,
    })
}

/// The documents a registry stores as attestations of a digest.
struct RegistryCandidates {
    /// Fetched and digest-checked, not yet verified.
    candidates: Vec<Candidate>,
    /// Why a stored one could not even be read, or that there is none.
    unread: Vec<String>,
    /// Whether one could not be read for a reason that may pass (unreachable, 429, 5xx).
    transient: bool,
}

/// The documents a registry stores as attestations of `digest`, and why any stored one could
/// not even be read (or that there is none).
///
/// # Errors
/// The registry could not be asked.
fn registry_candidates(
    store: &RegistrySource,
    digest: &Sha256Digest,
) -> Result<RegistryCandidates, Error> {
    let search = store.find_attestations(digest)?;
    if search.found.is_empty() && search.rejected.is_empty() {
        return Ok(RegistryCandidates {
            candidates: Vec::new(),
            unread: vec![format!(
                "no attestation is stored for {digest} (no referrer, fallback tag or cosign .att image)"
            )],
            transient: false,
        });
    }
    let transient = search.rejected.iter().any(|rejected| {
        matches!(&rejected.reason, RejectionReason::Unreadable(error) if error.is_transient())
    });
    let unread = search.rejected.iter().map(ToString::to_string).collect();
    let candidates = search
        .found
        .into_iter()
        .map(|found| Candidate {
            origin: format!("{} {}", found.origin.describe(), found.carrier),
            kind: if found.media_type == registry::DSSE_MEDIA_TYPE {
                CandidateKind::Envelope
            } else {
                CandidateKind::Bundle
            },
            bytes: found.bytes,
        })
        .collect();
    Ok(RegistryCandidates {
        candidates,
        unread,
        transient,
    })
}

/// Verifies a bundle file (a bundle, an envelope, or an array of them) for `digest`: valid when
/// any entry is.
///
/// # Errors
/// When none is valid and some entry could not even be read: an input error, not a verdict.
pub fn check_bundle_file(
    path: &Path,
    digest: &Sha256Digest,
    trust: &Trust,
) -> Result<Checked, Error> {
    Ok(first_valid(
        bundle_file_lookup(path, digest, trust)?,
        Vec::new(),
        None,
    ))
}

/// Every attestation of a bundle file for `digest`: all the valid ones (an index digest has
/// one per platform) and why the others were rejected.
///
/// # Errors
/// The file cannot be read, or holds nothing valid and an entry that cannot be read at all.
pub(super) fn bundle_file_lookup(
    path: &Path,
    digest: &Sha256Digest,
    trust: &Trust,
) -> Result<lookup::Lookup, Error> {
    let lookup = lookup::check_candidates(bundle_file_candidates(path)?, digest, trust);
    refuse_unreadable(lookup)
}

/// The attestations of a bundle file, unverified.
///
/// # Errors
/// The file cannot be read or is malformed as a whole.
fn bundle_file_candidates(path: &Path) -> Result<Vec<Candidate>, Error> {
    let label = path.display().to_string();
    let mut bytes = Vec::new();
    fs_err::File::open(path)
        .map_err(|source| Error::InputFile {
            what: "bundle",
            source,
        })?
        .take(lookup::MAX_BUNDLE_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| Error::BundleFileRead {
            label: label.clone(),
            source,
        })?;
    Ok(lookup::candidates_from_bundle_file(&bytes, &label)?)
}

/// A bundle file lookup with nothing valid and an entry that could not be read at all is an
/// input error, not a verdict.
///
/// # Errors
/// [`Error::UnreadableAttestation`] then.
fn refuse_unreadable<T>(lookup: lookup::Lookup<T>) -> Result<lookup::Lookup<T>, Error> {
    if lookup.valid.is_empty()
        && let Some(unreadable) = lookup
            .rejected
            .iter()
            .find(|rejected| matches!(rejected.reason, NotVerified::Error(_)))
    {
        return Err(Error::UnreadableAttestation(unreadable.to_string()));
    }
    Ok(lookup)
}

/// Statements of another predicate checked for one subject: every valid one, why each other
/// candidate failed, and why stored documents could not even be read.
pub struct StatementLookup {
    /// The verified statements and the rejected candidates.
    pub lookup: lookup::Lookup<VerifiedStatement>,
    /// Why a stored document could not be read, or that there is none (registries only).
    pub unread: Vec<String>,
}

/// Verifies every statement stored in a registry for the image `digest` as an attestation of
/// `predicate`.
///
/// # Errors
/// The registry could not be asked.
pub fn check_registry_statements(
    store: &RegistrySource,
    digest: &Sha256Digest,
    predicate: &PredicateType,
    trust: &Trust,
) -> Result<StatementLookup, Error> {
    let found = registry_candidates(store, digest)?;
    let lookup = lookup::check_statement_candidates(
        found.candidates,
        &[SubjectDigest::from(*digest)],
        predicate,
        trust,
    );
    Ok(StatementLookup {
        lookup,
        unread: found.unread,
    })
}

/// Verifies every entry of a bundle file as an attestation of `predicate` for the artifact with
/// the digests `subjects`.
///
/// # Errors
/// The file cannot be read, or holds nothing valid and an entry that cannot be read at all.
pub fn check_bundle_file_statements(
    path: &Path,
    subjects: &[SubjectDigest],
    predicate: &PredicateType,
    trust: &Trust,
) -> Result<StatementLookup, Error> {
    let lookup = lookup::check_statement_candidates(
        bundle_file_candidates(path)?,
        subjects,
        predicate,
        trust,
    );
    Ok(StatementLookup {
        lookup: refuse_unreadable(lookup)?,
        unread: Vec::new(),
    })
}
