//! Reading the JSON documents exelock writes (a manifest, a bake list) in tests: a scan's
//! manifest, the paths of one of their lists, and the executable a manifest lists at a path.

use serde_json::Value;

use super::command::{exelock, run_ok};

/// `exelock scan --format json -q ARGS`, which must succeed: the manifest it printed (with
/// `--all-platforms`, the list of them).
pub fn scan_json(args: &[&str]) -> Value {
    let output = run_ok(
        exelock()
            .args(["scan", "--format", "json", "-q"])
            .args(args),
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The `path` of every entry of `document[list]` (a manifest's `executables` or `hidden`, a
/// bake list's `entries`), in order.
pub fn paths<'a>(document: &'a Value, list: &str) -> Vec<&'a str> {
    document[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} list in {document}"))
        .iter()
        .map(|entry| entry["path"].as_str().unwrap())
        .collect()
}

/// The entry of the manifest's `executables` at `path`.
pub fn executable<'a>(manifest: &'a Value, path: &str) -> &'a Value {
    manifest["executables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|executable| executable["path"] == path)
        .unwrap_or_else(|| panic!("the manifest lists no executable at {path}"))
}

/// The SHA-256 (hex) of the manifest's executable at `path`.
pub fn sha256_of(manifest: &Value, path: &str) -> String {
    executable(manifest, path)["sha256"]
        .as_str()
        .unwrap()
        .to_owned()
}
