//! The in-toto Statement v1 that carries an executable manifest: building it for signing and
//! checking a signed one against the image it is supposed to describe.
//!
//! Spec: <https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md> and
//! <https://github.com/in-toto/attestation/blob/main/spec/v1/resource_descriptor.md>.
//!
//! Pure: no I/O and no cryptography. [`check_statement`] and [`check_manifest`] must only ever be
//! given a payload whose signature was already verified; they decide what the signed bytes say,
//! not who signed them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::verify::{PredicateType, SubjectDigest};
use super::{Error, NotVerified, Rejection};
use crate::digest::Sha256Digest;
use crate::manifest::{self, Manifest};

/// The `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// An in-toto Statement v1. `P` is the predicate: a [`Manifest`] (or a reference to one) when
/// building, raw JSON when reading.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Statement<P = serde_json::Value> {
    /// Always [`STATEMENT_TYPE`] for statements exelock writes.
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// The artifacts the predicate is about; for exelock, the image.
    pub subject: Vec<ResourceDescriptor>,
    /// What the predicate is; for exelock, [`manifest::PREDICATE_TYPE`].
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The claim itself; optional in the spec, required by exelock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<P>,
}

/// A subject: a named artifact and its digests (unknown descriptor fields are ignored on read).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceDescriptor {
    /// A human name for the artifact (exelock: the image reference without its digest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A URI for the artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Algorithm name → lowercase hex digest.
    #[serde(default)]
    pub digest: BTreeMap<String, String>,
}

impl<'a> Statement<&'a Manifest> {
    /// The statement exelock signs: one subject `{name, digest: {sha256}}`, the manifest
    /// predicate type, the manifest as predicate.
    #[must_use]
    pub fn for_manifest(
        manifest: &'a Manifest,
        subject_name: &str,
        subject_digest: &Sha256Digest,
    ) -> Self {
        Self {
            statement_type: STATEMENT_TYPE.to_owned(),
            subject: vec![ResourceDescriptor {
                name: Some(subject_name.to_owned()),
                uri: None,
                digest: BTreeMap::from([("sha256".to_owned(), subject_digest.hex())]),
            }],
            predicate_type: manifest::PREDICATE_TYPE.to_owned(),
            predicate: Some(manifest),
        }
    }
}

impl<P: Serialize> Statement<P> {
    /// Compact JSON: the exact payload that gets signed.
    ///
    /// # Errors
    /// [`Error::Serialize`], which does not happen for manifests in practice.
    pub fn to_json(&self) -> Result<Vec<u8>, Error> {
        serde_json::to_vec(self).map_err(|source| Error::Serialize {
            what: "in-toto statement",
            source,
        })
    }
}

/// The in-toto Statement v0.1 `_type`, which other Sigstore clients (cosign, npm) still sign;
/// accepted for predicates other than exelock's manifest.
pub const STATEMENT_TYPE_V01: &str = "https://in-toto.io/Statement/v0.1";

/// What a verified statement says about the subject asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedStatement {
    /// The statement's predicate type.
    pub predicate_type: String,
    /// The name of the subject that matched (empty when the subject has no name).
    pub subject_name: String,
}

/// Checks a signed payload: an in-toto Statement (v1; v0.1 too unless the manifest is wanted)
/// whose predicate type `predicate` accepts, with a subject whose digest in `expected`'s
/// algorithm is `expected`.
///
/// # Errors
/// - rejections: [`Rejection::StatementType`], [`Rejection::PredicateType`],
///   [`Rejection::SubjectMismatch`];
/// - errors: [`Error::Json`] when the payload does not parse.
pub fn check_statement(
    payload: &[u8],
    expected: &SubjectDigest,
    predicate: &PredicateType,
) -> Result<CheckedStatement, NotVerified> {
    let statement = parse(payload)?;
    let accepted_type = statement.statement_type == STATEMENT_TYPE
        || (statement.statement_type == STATEMENT_TYPE_V01
            && *predicate != PredicateType::Manifest);
    if !accepted_type {
        return Err(Rejection::StatementType {
            got: statement.statement_type,
        }
        .into());
    }
    if !predicate.accepts(&statement.predicate_type) {
        return Err(Rejection::PredicateType {
            got: statement.predicate_type,
            expected: predicate.expected().to_owned(),
        }
        .into());
    }
    let hex = expected.hex();
    let subject = statement
        .subject
        .iter()
        .find(|subject| subject.digest.get(expected.algorithm_name()) == Some(&hex))
        .ok_or_else(|| Rejection::SubjectMismatch {
            got: describe_subjects(&statement.subject),
            expected: expected.clone(),
        })?;
    Ok(CheckedStatement {
        subject_name: subject.name.clone().unwrap_or_default(),
        predicate_type: statement.predicate_type,
    })
}

/// The manifest a checked statement carries, which must name `expected_digest` as its image
/// manifest or index.
///
/// # Errors
/// [`Rejection::ManifestDigestMismatch`]; [`Error::Json`] and [`Error::MissingPredicate`].
pub fn check_manifest(
    payload: &[u8],
    expected_digest: &Sha256Digest,
) -> Result<Manifest, NotVerified> {
    let statement = parse(payload)?;
    let predicate = statement.predicate.ok_or(Error::MissingPredicate)?;
    let manifest: Manifest = serde_json::from_value(predicate).map_err(|source| Error::Json {
        document: "manifest predicate",
        source,
    })?;
    let image = &manifest.image;
    if image.manifest_digest != Some(*expected_digest)
        && image.index_digest != Some(*expected_digest)
    {
        return Err(Rejection::ManifestDigestMismatch {
            manifest_digest: image.manifest_digest,
            index_digest: image.index_digest,
            expected: *expected_digest,
        }
        .into());
    }
    Ok(manifest)
}

/// A payload that passed [`check_manifest_statement`].
#[derive(Debug)]
pub struct CheckedManifestStatement {
    /// What the statement says about itself.
    pub statement: CheckedStatement,
    /// The manifest it carries, naming the expected image.
    pub manifest: Manifest,
}

/// [`check_statement`] for the manifest predicate, then [`check_manifest`].
///
/// # Errors
/// As those two.
pub fn check_manifest_statement(
    payload: &[u8],
    expected_digest: &Sha256Digest,
) -> Result<CheckedManifestStatement, NotVerified> {
    let statement = check_statement(
        payload,
        &SubjectDigest::from(*expected_digest),
        &PredicateType::Manifest,
    )?;
    Ok(CheckedManifestStatement {
        statement,
        manifest: check_manifest(payload, expected_digest)?,
    })
}

/// Of an artifact's digests, the one to check against a statement: the first in an algorithm
/// one of its subjects uses, else the first (whose mismatch then names the subjects).
pub(crate) fn choose_subject<'a>(
    payload: &[u8],
    digests: &'a [SubjectDigest],
) -> Option<&'a SubjectDigest> {
    let used = parse(payload).ok().and_then(|statement| {
        digests.iter().find(|digest| {
            statement
                .subject
                .iter()
                .any(|subject| subject.digest.contains_key(digest.algorithm_name()))
        })
    });
    used.or_else(|| digests.first())
}

fn parse(payload: &[u8]) -> Result<Statement, Error> {
    serde_json::from_slice(payload).map_err(|source| Error::Json {
        document: "in-toto statement",
        source,
    })
}

/// The subjects' digests for an error message, from a payload that may not parse.
pub(crate) fn describe_subjects_of(payload: &[u8]) -> String {
    parse(payload).map_or_else(
        |_| "an unreadable statement".to_owned(),
        |statement| describe_subjects(&statement.subject),
    )
}

/// The subjects' digests for an error message.
fn describe_subjects(subjects: &[ResourceDescriptor]) -> String {
    let digests: Vec<String> = subjects
        .iter()
        .flat_map(|subject| subject.digest.iter())
        .map(|(algorithm, hex)| format!("{algorithm}:{hex}"))
        .collect();
    if digests.is_empty() {
        "no subject digest".to_owned()
    } else {
        digests.join(", ")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::test_fixtures::{executable, manifest};
    use rstest::rstest;
    use serde_json::json;

    /// A small manifest whose image manifest digest is `digest`.
    pub(crate) fn sample_manifest(digest: Sha256Digest) -> Manifest {
        manifest()
            .with_manifest_digest(digest)
            .with_executables([executable("/bin/app", "app")])
    }

    fn image_digest() -> Sha256Digest {
        Sha256Digest::of(b"image manifest")
    }

    #[test]
    fn statement_has_the_v1_shape() {
        let manifest = sample_manifest(image_digest());
        let json = Statement::for_manifest(&manifest, "registry.example/app", &image_digest())
            .to_json()
            .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["_type"], STATEMENT_TYPE);
        assert_eq!(
            value["subject"],
            json!([{"name": "registry.example/app", "digest": {"sha256": image_digest().hex()}}])
        );
        assert_eq!(value["predicateType"], manifest::PREDICATE_TYPE);
        assert_eq!(value["predicate"], serde_json::to_value(&manifest).unwrap());
        let checked = check_manifest_statement(&json, &image_digest()).unwrap();
        assert_eq!(checked.manifest, manifest);
        assert_eq!(checked.statement.subject_name, "registry.example/app");
        assert_eq!(checked.statement.predicate_type, manifest::PREDICATE_TYPE);
    }

    /// A statement as JSON, with `edit` applied.
    fn statement_with(edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let manifest = sample_manifest(image_digest());
        let json = Statement::for_manifest(&manifest, "app", &image_digest())
            .to_json()
            .unwrap();
        let mut value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        edit(&mut value);
        serde_json::to_vec(&value).unwrap()
    }

    #[test]
    fn index_digest_may_be_the_subject() {
        let index = Sha256Digest::of(b"index");
        let payload = statement_with(|value| {
            value["subject"][0]["digest"]["sha256"] = json!(index.hex());
            value["predicate"]["image"]["indexDigest"] = json!(index.to_string());
        });
        check_manifest_statement(&payload, &index).unwrap();
    }

    #[test]
    fn any_subject_may_match() {
        let payload = statement_with(|value| {
            let first = value["subject"][0].clone();
            value["subject"] = json!([{"name": "other", "digest": {"sha512": "00"}}, first]);
        });
        check_manifest_statement(&payload, &image_digest()).unwrap();
    }

    #[rstest]
    #[case::statement_type(
        |v: &mut serde_json::Value| v["_type"] = json!("https://in-toto.io/Statement/v0.1"),
        "not an in-toto Statement v1"
    )]
    #[case::predicate_type(
        |v: &mut serde_json::Value| v["predicateType"] = json!("https://slsa.dev/provenance/v1"),
        "predicate type"
    )]
    #[case::subject(
        |v: &mut serde_json::Value| v["subject"][0]["digest"]["sha256"] = json!(Sha256Digest::of(b"other").hex()),
        "moved from another image"
    )]
    #[case::no_sha256_subject(
        |v: &mut serde_json::Value| v["subject"] = json!([{"digest": {"sha512": "00"}}]),
        "got sha512:00,"
    )]
    #[case::manifest_describes_another_image(
        |v: &mut serde_json::Value| v["predicate"]["image"]["manifestDigest"] = json!(Sha256Digest::of(b"x").to_string()),
        "describes another image"
    )]
    fn mismatches_are_verification_failures(
        #[case] edit: fn(&mut serde_json::Value),
        #[case] message: &str,
    ) {
        let error = check_manifest_statement(&statement_with(edit), &image_digest()).unwrap_err();
        assert!(matches!(error, NotVerified::Rejected(_)), "{error:?}");
        assert!(error.to_string().contains(message), "{error}");
    }

    #[test]
    fn subject_mismatch_names_both_digests() {
        let other = Sha256Digest::of(b"other image");
        let payload = statement_with(|v| v["subject"][0]["digest"]["sha256"] = json!(other.hex()));
        let error = check_manifest_statement(&payload, &image_digest()).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains(&format!("(got {other}, expected {})", image_digest())),
            "{text}"
        );
    }

    #[test]
    fn unreadable_payload_is_an_input_error() {
        let error = check_manifest_statement(b"nope", &image_digest()).unwrap_err();
        assert!(
            matches!(error, NotVerified::Error(Error::Json { .. })),
            "{error:?}"
        );
    }

    #[test]
    fn predicate_that_is_not_a_manifest_is_an_input_error() {
        let payload = statement_with(|v| v["predicate"] = json!({"builder": {"id": "x"}}));
        let error = check_manifest_statement(&payload, &image_digest()).unwrap_err();
        assert!(
            matches!(error, NotVerified::Error(Error::Json { .. })),
            "{error:?}"
        );
        let payload = statement_with(|v| {
            v.as_object_mut().unwrap().remove("predicate");
        });
        let error = check_manifest_statement(&payload, &image_digest()).unwrap_err();
        assert!(
            matches!(error, NotVerified::Error(Error::MissingPredicate)),
            "{error:?}"
        );
    }
}
