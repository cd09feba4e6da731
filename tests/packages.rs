//! Package ownership used from the command line: the gate's `altered-packages` and `unowned`
//! rules and its hazards matched on the image's PATH and by package, `diff`'s package changes,
//! and triage evidence that names the package. The manifests are format 2 files written here,
//! as `exelock scan -o` writes them; format 1 files show what is not evaluated.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

use serde_json::{Value, json};

use crate::support::gate_report::violations;
use crate::support::{assert_policy_failure, exelock_in, printed};

const CURL: &str = "7.88.1-10+deb12u5";
const NO_ATTESTATION: &str = "[attestation]\nlevel = \"warn\"\n";

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs_err::write(&path, text).unwrap();
    path
}

fn hex(content: &str) -> String {
    exelock::digest::Sha256Digest::of(content.as_bytes()).hex()
}

fn package(name: &str, version: &str) -> Value {
    json!({
        "name": name,
        "version": version,
        "arch": "amd64",
        "purl": format!("pkg:deb/debian/{name}@{version}?arch=amd64"),
        "db": "dpkg",
    })
}

/// An executable whose content is its own path plus `salt`; `owner` a package, or none.
fn executable(path: &str, salt: &str, owner: Option<Value>, digest: Option<&str>) -> Value {
    let mut exe = json!({
        "path": path,
        "sha256": hex(&format!("{path}{salt}")),
        "size": path.len() + salt.len(),
        "mode": "0755",
        "uid": 0,
        "gid": 0,
        "kind": "elf-executable",
        "layer": 0,
    });
    if let Some(owner) = owner {
        exe["package"] = owner;
    }
    if let Some(digest) = digest {
        exe["packageDigest"] = json!(digest);
    }
    exe
}

/// A manifest file: format 2 when `packages` is `Some`, format 1 otherwise.
fn manifest(name: &str, executables: &[Value], packages: Option<&[Value]>) -> Value {
    let mut manifest = json!({
        "predicateType": if packages.is_some() {
            "https://exelock.dev/manifest/v2"
        } else {
            "https://exelock.dev/manifest/v1"
        },
        "image": {
            "name": name,
            "indexDigest": null,
            "manifestDigest": format!("sha256:{}", hex(name)),
            "configDigest": format!("sha256:{}", hex("config")),
            "platform": "linux/amd64",
        },
        "layers": [],
        "executables": executables,
        "links": [],
        "hidden": [],
    });
    if let Some(packages) = packages {
        manifest["packageDatabases"] =
            json!([{"db": "dpkg", "path": "/var/lib/dpkg/status", "packages": packages.len()}]);
        manifest["packages"] = json!(packages);
    }
    manifest
}

fn write_manifest(dir: &Path, file: &str, manifest: &Value) -> PathBuf {
    write(dir, file, &serde_json::to_string_pretty(manifest).unwrap())
}

/// A Debian-like image: dpkg with its cron job and bug script, curl replaced in the build, an
/// unowned app and tool.
fn debian(dir: &Path) -> PathBuf {
    let dpkg = || Some(package("dpkg", "1.21.22"));
    write_manifest(
        dir,
        "debian.json",
        &manifest(
            "reg.example/debian:12",
            &[
                executable("/app/server", "", None, Some("unowned")),
                executable("/etc/cron.daily/dpkg", "", dpkg(), Some("match")),
                executable(
                    "/usr/bin/curl",
                    "",
                    Some(package("curl", CURL)),
                    Some("mismatch"),
                ),
                executable("/usr/bin/dpkg", "", dpkg(), Some("match")),
                executable("/usr/local/bin/tool", "", None, Some("unowned")),
                executable("/usr/share/bug/dpkg", "", dpkg(), Some("match")),
            ],
            Some(&[package("curl", CURL), package("dpkg", "1.21.22")]),
        ),
    )
}

/// `exelock gate` of `manifest` with `policy` (written to `exelock.toml` in `dir`).
fn gate_command(dir: &Path, manifest: &Path, policy: &str) -> Command {
    let policy = write(dir, "exelock.toml", policy);
    let mut command = exelock_in(dir);
    command
        .args(["gate", "reg.example/app:1", "-q", "--manifest"])
        .arg(manifest)
        .arg("--policy")
        .arg(policy);
    command
}

fn gate(dir: &Path, manifest: &Path, policy: &str, extra: &[&str]) -> Output {
    gate_command(dir, manifest, policy)
        .args(extra)
        .output()
        .unwrap()
}

// See: issue 11 (package ownership): /etc/cron.daily/dpkg and /usr/share/bug/dpkg were
// reported as package managers on a Debian image.
#[test]
fn issue_11_gate_judges_packages_and_hazards_by_owner_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let image = debian(dir.path());
    let sarif = dir.path().join("out.sarif");
    let output = gate(
        dir.path(),
        &image,
        &format!("{NO_ATTESTATION}[unowned]\nlevel = \"warn\"\nallow = [\"/app/\"]\n"),
        &["--format", "json", "--sarif", sarif.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(1), "{}", printed(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let expected = [
        ("altered-packages", "deny", "/usr/bin/curl"),
        ("hazards/package-managers", "deny", "/usr/bin/dpkg"),
        ("attestation", "warn", ""),
        ("hazards/downloaders", "warn", "/usr/bin/curl"),
        ("unowned", "warn", "/usr/local/bin/tool"),
    ];
    let found = violations(&report);
    let rows: Vec<_> = found
        .iter()
        .map(|violation| {
            (
                violation.rule.as_str(),
                violation.level.as_str(),
                violation.path.as_str(),
            )
        })
        .collect();
    assert_eq!(rows, expected);
    assert!(report.get("skipped").is_none(), "{report}");
    assert_eq!(
        found[0].message,
        format!(
            "/usr/bin/curl: the bytes differ from what package curl {CURL} (dpkg) shipped: replaced during the build"
        )
    );
    assert_eq!(
        found[1].message,
        "/usr/bin/dpkg is one of the package managers, from package dpkg 1.21.22 (dpkg)"
    );

    let sarif: Value = serde_json::from_slice(&fs_err::read(&sarif).unwrap()).unwrap();
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let altered = &run["results"][0];
    assert_eq!(altered["ruleId"], "altered-packages");
    let index = usize::try_from(altered["ruleIndex"].as_u64().unwrap()).unwrap();
    assert_eq!(rules[index]["id"], "altered-packages");
    assert!(rules.iter().any(|rule| rule["id"] == "unowned"));

    // Off, the two package rules say nothing and the gate passes on the rest.
    let lenient = gate(
        dir.path(),
        &image,
        &format!(
            "{NO_ATTESTATION}[altered-packages]\nlevel = \"off\"\n[hazards]\npackage-managers = \"warn\"\n"
        ),
        &[],
    );
    assert_eq!(lenient.status.code(), Some(0), "{}", printed(&lenient));
    assert!(!stdout(&lenient).contains("altered-packages"));
    assert!(!stdout(&lenient).contains("cron.daily"));
}

#[test]
fn a_format_1_manifest_says_the_package_rules_were_not_evaluated() {
    let dir = tempfile::tempdir().unwrap();
    let old = write_manifest(
        dir.path(),
        "old.json",
        &manifest(
            "reg.example/old:1",
            &[executable("/app/server", "", None, None)],
            None,
        ),
    );
    let policy = format!("{NO_ATTESTATION}[unowned]\nlevel = \"deny\"\n");
    let sarif = dir.path().join("out.sarif");
    let output = gate(
        dir.path(),
        &old,
        &policy,
        &["--sarif", sarif.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    let lines: Vec<String> = stdout(&output)
        .lines()
        .filter(|line| line.starts_with("SKIP"))
        .map(str::to_owned)
        .collect();
    let reason = "not evaluated: the manifest records no package data (format 1, or made by an older exelock): rescan the image to evaluate it";
    assert_eq!(
        lines,
        [
            format!("SKIP  altered-packages           {reason}"),
            format!("SKIP  unowned                    {reason}"),
        ]
    );
    assert!(
        stdout(&output)
            .contains("gate PASS: reg.example/old:1 (0 denied, 1 warned, 2 not evaluated)"),
        "{}",
        stdout(&output)
    );
    let sarif: Value = serde_json::from_slice(&fs_err::read(&sarif).unwrap()).unwrap();
    let notes = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert_eq!(notes.len(), 2);
    assert_eq!(notes[0]["descriptor"]["id"], "altered-packages");

    let json = gate(dir.path(), &old, &policy, &["--format", "json"]);
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["skipped"][1]["rule"], "unowned");
    assert_eq!(report["skipped"][1]["level"], "deny");

    // On GitHub Actions, a warning annotation per rule not evaluated.
    let actions = gate_command(dir.path(), &old, &policy)
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    assert!(
        stdout(&actions).contains(
            "::warning title=exelock altered-packages not evaluated::reg.example/old:1: the manifest records no package data"
        ),
        "{}",
        stdout(&actions)
    );
}

#[test]
fn diff_reports_package_changes_and_newly_altered_executables() {
    let dir = tempfile::tempdir().unwrap();
    let a = write_manifest(
        dir.path(),
        "a.json",
        &manifest(
            "reg.example/app:1",
            &[
                executable(
                    "/usr/bin/curl",
                    "",
                    Some(package("curl", "7.88.1-10")),
                    Some("match"),
                ),
                executable(
                    "/usr/bin/wget",
                    "",
                    Some(package("wget", "1.21.3-1")),
                    Some("match"),
                ),
            ],
            Some(&[
                package("curl", "7.88.1-10"),
                package("libc6", "2.36-9"),
                package("wget", "1.21.3-1"),
            ]),
        ),
    );
    let b = write_manifest(
        dir.path(),
        "b.json",
        &manifest(
            "reg.example/app:2",
            &[
                executable(
                    "/usr/bin/curl",
                    "evil",
                    Some(package("curl", CURL)),
                    Some("mismatch"),
                ),
                executable(
                    "/usr/bin/jq",
                    "",
                    Some(package("jq", "1.6-2.1")),
                    Some("match"),
                ),
            ],
            Some(&[
                package("curl", CURL),
                package("jq", "1.6-2.1"),
                package("libc6", "2.36-9"),
            ]),
        ),
    );
    let diff = |format: &str, a: &Path, b: &Path| {
        exelock_in(dir.path())
            .args(["diff", "-q", "--format", format])
            .args([a, b])
            .output()
            .unwrap()
    };
    let json = diff("json", &a, &b);
    assert_eq!(json.status.code(), Some(0), "{}", printed(&json));
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    let packages = &report["diff"]["packages"];
    assert_eq!(packages["added"][0]["name"], "jq");
    assert_eq!(packages["added"].as_array().unwrap().len(), 1);
    assert_eq!(packages["removed"][0]["name"], "wget");
    assert_eq!(
        packages["changed"],
        json!([{"name": "curl", "arch": "amd64", "db": "dpkg", "before": "7.88.1-10", "after": CURL}])
    );
    assert_eq!(report["diff"]["altered"][0]["path"], "/usr/bin/curl");
    assert_eq!(report["diff"]["altered"][0]["before"], "match");

    let table = diff("table", &a, &b);
    let out = stdout(&table);
    for line in [
        format!(
            "altered  /usr/bin/curl  (bytes differ from package curl {CURL} (dpkg); was match)"
        ),
        "package added    jq 1.6-2.1  (amd64, dpkg)".to_owned(),
        "package removed  wget 1.21.3-1  (amd64, dpkg)".to_owned(),
        format!("package changed  curl 7.88.1-10 -> {CURL}  (amd64, dpkg)"),
        "packages: 1 added, 1 removed, 1 at another version; 1 executables altered".to_owned(),
    ] {
        assert!(
            out.lines().any(|got| got == line),
            "missing {line:?} in:\n{out}"
        );
    }

    // Against a format 1 manifest, packages are not compared, and the output says so.
    let old = write_manifest(
        dir.path(),
        "old.json",
        &manifest("reg.example/app:0", &[], None),
    );
    let table = diff("table", &old, &b);
    assert!(
        stdout(&table).contains(
            "packages: not compared: A's manifest records no package data (format 1, or made by an older exelock)"
        ),
        "{}",
        stdout(&table)
    );
}

#[test]
fn triage_evidence_names_the_package() {
    let dir = tempfile::tempdir().unwrap();
    let image = debian(dir.path());
    let reference = format!("reg.example/debian@sha256:{}", hex("reg.example/debian:12"));
    let triage = |path: &str, content: &str, format: &str| {
        exelock_in(dir.path())
            .args(["triage", "--path", path, "--sha256", &hex(content)])
            .args(["--image", &reference, "--manifest"])
            .arg(&image)
            .args(["--format", format])
            .output()
            .unwrap()
    };
    // dpkg as the image has it: unsigned manifest, so unverifiable, but the package is named.
    let same = triage("/usr/bin/dpkg", "/usr/bin/dpkg", "json");
    let report: Value = serde_json::from_slice(&same.stdout).unwrap();
    let binary = &report[0]["binaries"][0];
    assert_eq!(binary["verdict"], "unverifiable", "{binary}");
    let entry = &binary["evidence"]["entries"][0];
    assert_eq!(entry["package"]["name"], "dpkg");
    assert_eq!(entry["package"]["version"], "1.21.22");
    assert_eq!(entry["packageDigest"], "match");
    let notes: Vec<&str> = binary["evidence"]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|note| note.as_str().unwrap())
        .collect();
    assert!(
        notes.contains(&"unchanged: /usr/bin/dpkg, dpkg 1.21.22 (dpkg), bytes as packaged"),
        "{notes:?}"
    );

    // curl replaced at run time, whose image copy already differed from its package.
    let modified = triage("/usr/bin/curl", "runtime-evil", "text");
    let out = assert_policy_failure(&modified, "=>  MODIFIED");
    assert!(
        out.contains(&format!("package curl {CURL} (dpkg) mismatch)")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "/usr/bin/curl replaced the image's binary at run time (the image's copy already differed from its package curl {CURL} (dpkg)): contain"
        )),
        "{out}"
    );
    // dpkg replaced at run time: the image's copy was the packaged one.
    let replaced = triage("/usr/bin/dpkg", "runtime-evil", "text");
    assert!(
        stdout(&replaced).contains(
            "note: the image's copy of /usr/bin/dpkg is dpkg 1.21.22 (dpkg) as packaged: the running file replaced the packaged binary"
        ),
        "{}",
        stdout(&replaced)
    );
}
