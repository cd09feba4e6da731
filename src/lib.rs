//! exelock keeps container images honest: it records every executable of an image in a
//! deterministic, signable manifest, so that a runtime "added binary" finding can be judged
//! against evidence instead of by hand.
//!
//! Modules, leaves first:
//! - `coded`: enums whose variants carry a stable code (a macro, crate-internal).
//! - [`digest`]: `sha256:` digests and hashing readers.
//! - [`manifest`]: the executable manifest's data model (no I/O).
//! - [`finding`]: runtime findings (SCC, GuardDuty, Falco) read and normalised (no I/O).
//! - [`image`]: image sources (OCI layouts, archives) and verified layer streams.
//! - [`catalog`]: layer walking, whiteout semantics, executable detection → manifest; the layer
//!   cache that spares reading a layer seen before.
//! - [`pkgdb`]: OS package databases (dpkg, chisel, apk, RPM) read from bytes: owners and
//!   packaged digests (no I/O).
//! - [`attest`]: signed in-toto attestations of manifests (DSSE, Sigstore bundles, cosign keys,
//!   keyless Fulcio/Rekor) and their verification.
//! - [`triage`]: a finding's binaries judged against an image's manifest (pure). It takes the
//!   manifest as `triage::ImageEvidence`, which only `attest`'s verification can make "signed":
//!   the one type `triage` borrows from `attest`, so no legitimate verdict rests on anything less.
//! - [`diff`]: executables added, removed, changed, moved between two manifests (pure).
//! - [`policy`], [`gate`], [`bake`]: the CI gate's policy file, its pure evaluation, and the
//!   bake list triage writes and the gate checks.
//! - [`cli`]: the `exelock` command line (the only module that prints).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod attest;
pub mod bake;
pub mod catalog;
pub mod cli;
mod coded;
pub mod diff;
pub mod digest;
pub mod evidence;
pub mod finding;
pub mod gate;
pub mod image;
pub mod manifest;
pub mod pkgdb;
pub mod policy;
pub mod report;
pub mod serve;
#[cfg(test)]
pub(crate) mod test_fixtures;
pub mod triage;

/// An error and its causes on one line, `error: cause: cause`, as the command line prints it and
/// the service answers it.
#[must_use]
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
