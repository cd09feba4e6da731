//! Signing as the tests set it up: key pairs made by `exelock generate-key-pair` in a test's
//! own directory, and attestations signed with a key there, into a bundle file or pushed to the
//! image's registry. The key password is each test file's own, so every helper takes it.

use std::path::Path;
use std::process::Output;

use super::command::{exelock_in, run_ok};

/// [`exelock_in`] `dir`, with `password` for the keys there.
pub fn exelock_with_password(dir: &Path, password: &str) -> assert_cmd::Command {
    let mut command = exelock_in(dir);
    command.env("EXELOCK_PASSWORD", password);
    command
}

/// Makes the key pair `cosign.key`, `cosign.pub` (the default names) in `dir`, the private key
/// encrypted with `password`.
#[track_caller]
pub fn generate_key_pair(dir: &Path, password: &str) {
    run_ok(exelock_with_password(dir, password).arg("generate-key-pair"));
}

/// Makes the key pair `PREFIX.key`, `PREFIX.pub` in `dir`, the private key encrypted with
/// `password`.
#[track_caller]
pub fn generate_key_pair_named(dir: &Path, password: &str, prefix: &str) {
    run_ok(exelock_with_password(dir, password).args([
        "generate-key-pair",
        "--output-key-prefix",
        prefix,
    ]));
}

/// `exelock attest IMAGE --key KEY --bundle BUNDLE -q` in `dir`, with `password` for the key,
/// not yet run: for the tests that expect it to fail.
pub fn attest_to_bundle_command(
    dir: &Path,
    password: &str,
    image: &str,
    key: &str,
    bundle: &str,
) -> assert_cmd::Command {
    let mut command = exelock_with_password(dir, password);
    command.args(["attest", image, "--key", key, "--bundle", bundle, "-q"]);
    command
}

/// Signs the attestation of `image` with the key file `key` in `dir` (encrypted with
/// `password`) into the bundle file `bundle` there; the signing must succeed.
#[track_caller]
pub fn attest_to_bundle(dir: &Path, password: &str, image: &str, key: &str, bundle: &str) {
    run_ok(&mut attest_to_bundle_command(
        dir, password, image, key, bundle,
    ));
}

/// `exelock attest IMAGE --key cosign.key --push -q EXTRA` in `dir`, with `password` for the
/// key: the attestation of `image` signed and pushed to its registry. The signing must succeed;
/// returns the run, for its report.
#[track_caller]
pub fn attest_and_push(dir: &Path, password: &str, image: &str, extra: &[&str]) -> Output {
    run_ok(
        exelock_with_password(dir, password)
            .args(["attest", image, "--key", "cosign.key", "--push", "-q"])
            .args(extra),
    )
}
