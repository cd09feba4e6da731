//! What `attest` and `verify` tell a person: a line per attested subject, and per subject
//! checked whether an attestation verified (with the reasons when none did).

use std::fmt::Write as _;

use crate::attest::PredicateType;
use crate::cli::attest::{Attested, Checked, ManifestCheck, StatementCheck};

/// `attested REFERENCE DIGEST (PLATFORM)[: referrer …, fallback tag …, cosign tag …]`, a line
/// per signed subject.
pub fn attested(reference: &str, attested: &[Attested]) -> String {
    let mut out = String::new();
    for item in attested {
        let _ = write!(
            out,
            "attested {reference} {} ({})",
            item.subject, item.platform
        );
        if let Some(pushed) = &item.pushed {
            let _ = write!(out, ": referrer {}", pushed.referrer);
            if let Some(tag) = &pushed.fallback_tag {
                let _ = write!(out, ", fallback tag {tag}");
            }
            if let Some(tag) = &pushed.legacy_tag {
                let _ = write!(out, ", cosign tag {tag}");
            }
        }
        out.push('\n');
    }
    out
}

/// `NAME DIGEST`, or the digest alone where the name is that digest (a bundle file checked
/// against `--image-digest` with no `--image`), so a line does not say it twice.
fn named(name: &str, digest: &impl std::fmt::Display) -> String {
    let digest = digest.to_string();
    if name == digest {
        digest
    } else {
        format!("{name} {digest}")
    }
}

/// `verified NAME DIGEST: signed by …` for each valid attestation, `NOT VERIFIED …` and a line
/// per reason for each digest without one.
pub fn manifest_checks(checks: &[ManifestCheck]) -> String {
    let mut out = String::new();
    for ManifestCheck {
        name,
        digest,
        checked,
    } in checks
    {
        match checked {
            Checked::Valid {
                attestation,
                origin,
            } => {
                let _ = writeln!(
                    out,
                    "verified {}: signed by {}, found as {origin}; {} executables, platform {}",
                    named(name, digest),
                    attestation.signer(),
                    attestation.manifest().executables.len(),
                    attestation.manifest().image.platform
                );
            }
            Checked::Invalid { reasons } => {
                let _ = writeln!(
                    out,
                    "NOT VERIFIED {}: no valid attestation for this digest",
                    named(name, digest)
                );
                for reason in reasons {
                    let _ = writeln!(out, "  - {reason}");
                }
            }
        }
    }
    out
}

/// `verified NAME SUBJECT: PREDICATE attestation signed by …` for each subject with a valid
/// statement, `NOT VERIFIED …` and a line per reason for each without one.
pub fn statement_checks(checks: &[StatementCheck], predicate: &PredicateType) -> String {
    let mut out = String::new();
    for StatementCheck {
        name,
        subject,
        found,
    } in checks
    {
        if let Some(valid) = found.lookup.valid.first() {
            let verified = &valid.attestation;
            let _ = writeln!(
                out,
                "verified {}: {} attestation signed by {}, found as {}",
                named(name, subject),
                verified.predicate_type(),
                verified.signer(),
                valid.origin
            );
        } else {
            let _ = writeln!(
                out,
                "NOT VERIFIED {}: no valid attestation with predicate type {} for this digest",
                named(name, subject),
                predicate.expected()
            );
            let rejected = found.lookup.rejected.iter().map(ToString::to_string);
            for reason in found.unread.iter().cloned().chain(rejected) {
                let _ = writeln!(out, "  - {reason}");
            }
        }
    }
    out
}
