//! What a user reads, reviewed in diffs: the help of exelock and of every subcommand, and what
//! each class of user error prints (a bad image reference, a bad policy line, the wrong key, a
//! tampered image, a malformed finding, a missing file), each as exit code, stdout and stderr in
//! `tests/snapshots/`. What differs between runs (temporary directories, ports, the id of a key
//! made for the test) is filtered out, so a snapshot changes only when a message does.
//!
//! A changed message fails here until its snapshot is reviewed and accepted
//! (`INSTA_UPDATE=always`, then read the diff of `tests/snapshots/`).

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;

use crate::support::command::subcommands;
use crate::support::exelock;
use crate::support::fixtures::Layout;
use crate::support::signing::generate_key_pair_named;

/// An attestation of the demo fixture, and the public key of the key that signed it.
const DEMO_BUNDLE: &str = "testdata/examples/demo.bundle.json";
const DEMO_KEY: &str = "testdata/attest/keys/openssl_p256.pub";

/// The demo fixture's image digest, which [`DEMO_BUNDLE`] attests.
fn demo_digest() -> String {
    Layout::image("demo").manifest_digest()
}

/// Snapshots `exelock ARGS` as `name`: the command line, exit code, stdout and stderr, with
/// `dir` (a temporary directory of the test) written `[TEMP]`.
fn assert_run_snapshot(name: &str, command: &mut Command, args: &[&str], dir: Option<&Path>) {
    let output = command.args(args).output().unwrap();
    let dir = dir.map(|dir| dir.display().to_string());
    let command_line = std::iter::once("exelock")
        .chain(args.iter().copied())
        .map(shell_quoted)
        .collect::<Vec<_>>()
        .join(" ");
    let mut settings = insta::Settings::clone_current();
    // Filters apply to the snapshot, not to its description: the directory is replaced here.
    settings.set_description(match &dir {
        Some(dir) => command_line.replace(dir.as_str(), "[TEMP]"),
        None => command_line,
    });
    settings.set_omit_expression(true);
    if let Some(dir) = &dir {
        settings.add_filter(&escape(dir), "[TEMP]");
    }
    for (pattern, replacement) in [
        // Loopback services of the harness listen on a free port.
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        // The id of a key made for the test: the hex SHA-256 of its public key.
        (r"with key [0-9a-f]{64}", "with key [KEY ID]"),
    ] {
        settings.add_filter(pattern, replacement);
    }
    settings.bind(|| insta::assert_snapshot!(name, rendered(&output)));
}

/// Exit code, stdout and stderr, as the snapshots hold them.
fn rendered(output: &Output) -> String {
    format!(
        "exit code: {}\n----- stdout -----\n{}\n----- stderr -----\n{}",
        output.status.code().map_or_else(
            || "none (killed by a signal)".to_owned(),
            |code| code.to_string()
        ),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `word` as a shell reads it back.
fn shell_quoted(word: &str) -> String {
    if word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:=@".contains(c))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// `text` as a regular expression matching itself.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if r"\.+*?()|[]{}^$#&-~".contains(character) {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

/// `exelock` as a user starts it: the help and a usage line show the environment's values, so
/// not even the test's own `EXELOCK_NO_CACHE`.
fn exelock_as_started() -> Command {
    let mut command = exelock();
    command.env_remove("EXELOCK_NO_CACHE");
    command
}

#[test]
fn help() {
    assert_run_snapshot("help", &mut exelock_as_started(), &["--help"], None);
    let names = subcommands();
    assert!(names.len() >= 10, "{names:?}");
    for name in &names {
        assert_run_snapshot(
            &format!("help_{name}"),
            &mut exelock_as_started(),
            &[name, "--help"],
            None,
        );
    }
}

#[test]
fn a_usage_error() {
    assert_run_snapshot(
        "usage_scan_without_an_image",
        &mut exelock_as_started(),
        &["scan"],
        None,
    );
}

/// Snapshots, for each case `(NAME, IMAGE)`, the run of `exelock scan IMAGE` as `NAME`.
fn assert_scan_snapshots(cases: &[(&str, &str)]) {
    for (name, image) in cases {
        assert_run_snapshot(name, &mut exelock(), &["scan", image], None);
    }
}

#[test]
fn a_bad_image_reference() {
    assert_scan_snapshots(&[
        ("reference_unsupported", "Not A Reference!"),
        ("reference_no_layout", "oci:testdata/does-not-exist"),
        ("reference_no_such_tag", "oci:testdata/images/traps:nope"),
    ]);
}

/// Snapshots, for each case `(NAME, TEXT)`, the run of `exelock ARGS` as `NAME`, with `TEXT`
/// written to `NAME.EXTENSION` in a temporary directory and `args` the arguments naming it.
fn assert_file_snapshots(
    extension: &str,
    cases: &[(&str, &str)],
    args: impl Fn(&str) -> Vec<&str>,
) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in cases {
        let file = dir.path().join(format!("{name}.{extension}"));
        fs_err::write(&file, text).unwrap();
        assert_run_snapshot(
            name,
            &mut exelock(),
            &args(file.to_str().unwrap()),
            Some(dir.path()),
        );
    }
}

#[test]
fn a_bad_policy_line() {
    assert_file_snapshots(
        "toml",
        &[
            (
                "policy_unknown_field",
                "[setuid]\nlevel = \"deny\"\nallw = []\n",
            ),
            ("policy_unknown_level", "[setuid]\nlevel = \"forbid\"\n"),
            ("policy_not_toml", "[setuid\nlevel = \"deny\"\n"),
        ],
        |file| vec!["gate", "oci:testdata/images/tiny", "--policy", file],
    );
}

#[test]
fn the_wrong_key() {
    let dir = tempfile::tempdir().unwrap();
    generate_key_pair_named(dir.path(), "", "other");
    let other = dir.path().join("other.pub");
    assert_run_snapshot(
        "wrong_key",
        &mut exelock(),
        &[
            "verify",
            "--bundle",
            DEMO_BUNDLE,
            "--key",
            other.to_str().unwrap(),
            "--image-digest",
            &demo_digest(),
        ],
        Some(dir.path()),
    );
}

#[test]
fn a_tampered_image() {
    assert_scan_snapshots(&[
        ("tampered_layer_digest", "oci:testdata/bad/digest-mismatch"),
        ("tampered_diff_id", "oci:testdata/bad/diffid-mismatch"),
        ("tampered_path_escapes", "oci:testdata/bad/dotdot"),
    ]);
}

#[test]
fn a_malformed_finding() {
    assert_file_snapshots(
        "json",
        &[
            ("finding_not_json", "{not json\n"),
            (
                "finding_wrong_field_type",
                r#"{"name": "organizations/1/sources/2/findings/x", "category": "Added Binary Executed", "processes": [{"binary": {"path": 5}}]}"#,
            ),
            ("finding_none", "[]\n"),
        ],
        |file| vec!["triage", file, "--bundle", DEMO_BUNDLE, "--key", DEMO_KEY],
    );
}

#[test]
fn a_missing_file() {
    let missing = "testdata/examples/missing.json";
    let digest = demo_digest();
    for (name, args) in [
        (
            "missing_policy",
            vec!["gate", "oci:testdata/images/tiny", "--policy", missing],
        ),
        (
            "missing_bundle",
            vec![
                "verify",
                "--bundle",
                missing,
                "--key",
                DEMO_KEY,
                "--image-digest",
                &digest,
            ],
        ),
        (
            "missing_key",
            vec![
                "verify",
                "--bundle",
                DEMO_BUNDLE,
                "--key",
                missing,
                "--image-digest",
                &digest,
            ],
        ),
        (
            "missing_findings",
            vec![
                "triage",
                missing,
                "--bundle",
                DEMO_BUNDLE,
                "--key",
                DEMO_KEY,
            ],
        ),
        (
            "missing_manifest",
            vec![
                "gate",
                "registry.example/app:1",
                "--manifest",
                missing,
                "--policy",
                "testdata/examples/warn-only.toml",
            ],
        ),
    ] {
        assert_run_snapshot(name, &mut exelock(), &args, None);
    }
}
