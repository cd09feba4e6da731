//! Output files (`-o`, `--bundle`, `--emit-bake`, `--sarif`): regular files are replaced
//! atomically, while devices and named pipes are written in place, never renamed over.

use std::os::unix::fs::FileTypeExt as _;
use std::path::Path;
use std::process::Output;

use crate::support::fixtures::root;
use crate::support::signing::{attest_to_bundle, generate_key_pair};
use crate::support::{assert_input_error, exelock, exelock_in, printed, run_ok};

/// The password of the keys the tests make.
const PASSWORD: &str = "pw";

fn tiny() -> String {
    format!("oci:{}", root().join("testdata/images/tiny").display())
}

/// `exelock scan` of tiny with `-o output`, in `dir`; the scan must succeed.
fn scan_to(dir: &Path, output: &Path) -> Output {
    run_ok(
        exelock()
            .current_dir(dir)
            .args(["scan", &tiny(), "-q", "--format", "json", "-o"])
            .arg(output),
    )
}

/// What `scan` writes for tiny, to compare against.
fn expected_manifest() -> Vec<u8> {
    run_ok(exelock().args(["scan", &tiny(), "-q", "--format", "json"])).stdout
}

/// [`scan_to`] a link `name` in `dir` to `target`, which must still be a link afterwards.
fn scan_through_a_link(dir: &Path, name: &str, target: &str) -> Output {
    let link = dir.join(name);
    std::os::unix::fs::symlink(target, &link).unwrap();
    let output = scan_to(dir, &link);
    assert!(
        fs_err::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    output
}

/// Makes a named pipe at `path`.
fn make_fifo(path: &Path) {
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(made.success());
}

/// Opens the pipe at `path` for reading and writing at once: opening does not wait for a
/// writer, and exelock's open finds a reader.
fn open_fifo(path: &Path) -> fs_err::File {
    fs_err::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap()
}

#[test]
fn output_to_dev_stdout_is_written_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let expected = expected_manifest();
    // First through a link of our own to the same descriptor /dev/stdout names: a regression
    // that renamed over the target replaces this link, not the machine's /dev/stdout.
    let output = scan_through_a_link(dir.path(), "stdout", "/proc/self/fd/1");
    assert_eq!(output.stdout, expected);

    let output = scan_to(dir.path(), Path::new("/dev/stdout"));
    assert_eq!(output.stdout, expected);
    let stdout = fs_err::symlink_metadata("/dev/stdout").unwrap();
    assert!(!stdout.file_type().is_file(), "/dev/stdout became a file");
}

#[test]
fn output_to_dev_null_is_written_in_place() {
    let dir = tempfile::tempdir().unwrap();
    scan_through_a_link(dir.path(), "null", "/dev/null");

    scan_to(dir.path(), Path::new("/dev/null"));
    assert!(
        fs_err::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
}

#[test]
fn output_to_a_named_pipe_is_written_into_the_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("manifest.fifo");
    make_fifo(&fifo);
    // The manifest is far smaller than the pipe buffer, so nothing blocks.
    let mut pipe = open_fifo(&fifo);
    let expected = expected_manifest();
    scan_to(dir.path(), &fifo);
    // Still the pipe (a rename would have replaced it with a file, and left it empty).
    assert!(fs_err::metadata(&fifo).unwrap().file_type().is_fifo());
    let mut written = vec![0; expected.len()];
    std::io::Read::read_exact(&mut pipe, &mut written).unwrap();
    assert_eq!(written, expected);
}

#[test]
fn regular_files_are_still_replaced_atomically() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("manifest.json");
    fs_err::write(&target, "old, and longer than what replaces it".repeat(100)).unwrap();
    scan_to(dir.path(), &target);
    assert_eq!(fs_err::read(&target).unwrap(), expected_manifest());
    assert_eq!(
        fs_err::metadata(&target).unwrap().permissions().mode() & 0o777,
        0o644
    );
    // A failed scan leaves it alone.
    let failed = exelock()
        .args(["scan", "oci:/nonexistent/layout", "-q", "-o"])
        .arg(&target)
        .output()
        .unwrap();
    assert_input_error(&failed, "not an OCI image layout");
    assert_eq!(fs_err::read(&target).unwrap(), expected_manifest());
}

#[test]
fn a_bake_list_into_a_named_pipe_is_written_without_reading_the_pipe_first() {
    let dir = tempfile::tempdir().unwrap();
    generate_key_pair(dir.path(), PASSWORD);
    attest_to_bundle(dir.path(), PASSWORD, &tiny(), "cosign.key", "b.json");
    let manifest: serde_json::Value = serde_json::from_slice(&expected_manifest()).unwrap();
    let digest = manifest["image"]["manifestDigest"].as_str().unwrap();
    let sha = manifest["executables"][0]["sha256"].as_str().unwrap();
    let fifo = dir.path().join("bake.fifo");
    make_fifo(&fifo);
    let mut pipe = open_fifo(&fifo);
    // A binary of the image copied at run time: relocated, so it goes to the bake list.
    let output = exelock_in(dir.path())
        .timeout(std::time::Duration::from_secs(120))
        .args([
            "triage",
            "--path",
            "/tmp/copied",
            "--sha256",
            sha,
            "--key",
            "cosign.pub",
        ])
        .args(["--bundle", "b.json", "--format", "json", "--emit-bake"])
        .arg(&fifo)
        .arg("--image")
        .arg(format!("reg.example/tiny@{digest}"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    assert!(fs_err::metadata(&fifo).unwrap().file_type().is_fifo());
    let mut written = String::new();
    let mut byte = [0u8; 1];
    // The list ends with "\n}\n"; read up to it (the pipe stays open for writing on our side).
    while !written.ends_with("\n}\n") {
        std::io::Read::read_exact(&mut pipe, &mut byte).unwrap();
        written.push(char::from(byte[0]));
    }
    let list: serde_json::Value = serde_json::from_str(&written).unwrap();
    assert_eq!(list["entries"][0]["path"], "/tmp/copied");
    assert_eq!(list["entries"][0]["sha256"], sha);
}
