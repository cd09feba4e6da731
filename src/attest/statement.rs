//! The in-toto Statement v1 that carries an executable manifest: building it for signing and
//! checking a signed one against the image it is supposed to describe.
//!
//! Spec: <https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md> and
//! <https://github.com/in-toto/attestation/blob/main/spec/v1/resource_descriptor.md>.
//!
//! Pure: no I/O and no cryptography. [`check_manifest_statement`] must only ever be given a
//! payload whose signature was already verified; it decides what the signed bytes say, not who
//! signed them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Error;
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

/// What a verified manifest statement says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedStatement {
    /// The predicate.
    pub manifest: Manifest,
    /// The name of the subject that matched (empty when the subject has no name).
    pub subject_name: String,
    /// The subject digest that matched: the expected one.
    pub subject_digest: Sha256Digest,
}

/// Checks a signed payload: a Statement v1 whose predicate type is the manifest's, with a subject
/// whose sha256 is `expected_digest`, and whose manifest names that digest as its image
/// manifest or index.
///
/// # Errors
/// - verification failures: [`Error::StatementType`], [`Error::PredicateType`],
///   [`Error::SubjectMismatch`], [`Error::ManifestDigestMismatch`];
/// - input errors: [`Error::Json`] when the payload or the predicate does not parse,
///   [`Error::MissingPredicate`].
pub fn check_manifest_statement(
    payload: &[u8],
    expected_digest: &Sha256Digest,
) -> Result<CheckedStatement, Error> {
    let statement: Statement = serde_json::from_slice(payload).map_err(|source| Error::Json {
        document: "in-toto statement",
        source,
    })?;
    if statement.statement_type != STATEMENT_TYPE {
        return Err(Error::StatementType {
            got: statement.statement_type,
        });
    }
    if statement.predicate_type != manifest::PREDICATE_TYPE {
        return Err(Error::PredicateType {
            got: statement.predicate_type,
        });
    }
    let subject = statement
        .subject
        .iter()
        .find(|subject| {
            subject
                .digest
                .get("sha256")
                .and_then(|hex| Sha256Digest::from_hex(hex).ok())
                .is_some_and(|digest| digest == *expected_digest)
        })
        .ok_or_else(|| Error::SubjectMismatch {
            got: describe_subjects(&statement.subject),
            expected: *expected_digest,
        })?;
    let subject_name = subject.name.clone().unwrap_or_default();
    let predicate = statement.predicate.ok_or(Error::MissingPredicate)?;
    let manifest: Manifest = serde_json::from_value(predicate).map_err(|source| Error::Json {
        document: "manifest predicate",
        source,
    })?;
    let image = &manifest.image;
    if image.manifest_digest != Some(*expected_digest)
        && image.index_digest != Some(*expected_digest)
    {
        return Err(Error::ManifestDigestMismatch {
            manifest_digest: image.manifest_digest,
            index_digest: image.index_digest,
            expected: *expected_digest,
        });
    }
    Ok(CheckedStatement {
        manifest,
        subject_name,
        subject_digest: *expected_digest,
    })
}

/// The subjects' sha256 digests for an error message.
fn describe_subjects(subjects: &[ResourceDescriptor]) -> String {
    let digests: Vec<String> = subjects
        .iter()
        .filter_map(|subject| subject.digest.get("sha256"))
        .map(|hex| format!("sha256:{hex}"))
        .collect();
    if digests.is_empty() {
        "no sha256 subject".to_owned()
    } else {
        digests.join(", ")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::manifest::{Executable, ImageInfo, Kind};
    use rstest::rstest;
    use serde_json::json;

    /// A small manifest whose image manifest digest is `digest`.
    pub(crate) fn sample_manifest(digest: Sha256Digest) -> Manifest {
        Manifest {
            predicate_type: manifest::PREDICATE_TYPE.to_owned(),
            image: ImageInfo {
                name: "registry.example/app:1.0".into(),
                index_digest: None,
                manifest_digest: Some(digest),
                config_digest: Sha256Digest::of(b"config"),
                platform: "linux/amd64".into(),
            },
            layers: vec![],
            executables: vec![Executable {
                path: "/bin/app".into(),
                path_bytes: None,
                sha256: Sha256Digest::of(b"app"),
                size: 3,
                mode: 0o755,
                uid: 0,
                gid: 0,
                kind: Kind::ElfExecutable,
                interpreter: None,
                build_id: None,
                layer: 0,
            }],
            links: vec![],
            hidden: vec![],
            world_writable_dirs: vec![],
        }
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
        assert_eq!(checked.subject_name, "registry.example/app");
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
        "no sha256 subject"
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
        assert!(error.is_verification_failure(), "{error:?}");
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
        assert!(matches!(error, Error::Json { .. }), "{error:?}");
        assert!(!error.is_verification_failure());
    }

    #[test]
    fn predicate_that_is_not_a_manifest_is_an_input_error() {
        let payload = statement_with(|v| v["predicate"] = json!({"builder": {"id": "x"}}));
        let error = check_manifest_statement(&payload, &image_digest()).unwrap_err();
        assert!(matches!(error, Error::Json { .. }), "{error:?}");
        let payload = statement_with(|v| {
            v.as_object_mut().unwrap().remove("predicate");
        });
        let error = check_manifest_statement(&payload, &image_digest()).unwrap_err();
        assert!(matches!(error, Error::MissingPredicate), "{error:?}");
    }
}
