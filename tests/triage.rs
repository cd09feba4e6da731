//! `exelock triage` end to end: an image in a real registry, attested with a key, findings about
//! it in the detectors' own shapes, verdicts checked for every code, partial hashes resolved by
//! streaming the image's layer, and the bake list the gate then checks.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::fixtures::root;
use crate::support::manifest;
use crate::support::signing::{
    attest_and_push, attest_to_bundle, generate_key_pair, generate_key_pair_named,
};
use crate::support::{Mode, Registry, assert_policy_failure, exelock_in, printed};

/// The password of the keys the tests make.
const PASSWORD: &str = "pw";

/// A new temporary directory holding a fresh key pair (`cosign.key`, `cosign.pub`).
pub(crate) fn keyed_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    generate_key_pair(dir.path(), PASSWORD);
    dir
}

/// A fixture layout pushed to a new registry as `dest` and attested there with a fresh key:
/// the registry, the directory with the key, and the pushed reference.
fn pushed_and_attested(layout: &str, dest: &str) -> (Registry, tempfile::TempDir, String) {
    let registry = Registry::start(Mode::Plain);
    registry.push_oci_layout(layout, dest);
    let dir = keyed_dir();
    let reference = format!("{}/{dest}", registry.host());
    attest_and_push(dir.path(), PASSWORD, &reference, &[]);
    (registry, dir, reference)
}

/// The traps image in a registry, attested with a fresh key; its manifest as scanned.
pub(crate) struct Setup {
    pub(crate) registry: Registry,
    pub(crate) dir: tempfile::TempDir,
    manifest: Value,
}

impl Setup {
    pub(crate) fn new() -> Self {
        let (registry, dir, reference) =
            pushed_and_attested("oci:testdata/images/traps:latest", "fx/traps:v1");
        let scan = exelock_in(dir.path())
            .args(["scan", &reference, "-q", "--format", "json"])
            .output()
            .unwrap();
        let manifest = serde_json::from_slice(&scan.stdout).unwrap();
        Self {
            registry,
            dir,
            manifest,
        }
    }

    /// Attests the image again into a bundle file in the set-up's directory, for offline use.
    fn write_bundle(&self, file: &str) {
        let reference = format!("{}/fx/traps:v1", self.registry.host());
        attest_to_bundle(self.dir.path(), PASSWORD, &reference, "cosign.key", file);
    }

    pub(crate) fn digest(&self) -> String {
        self.manifest["image"]["manifestDigest"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub(crate) fn sha(&self, path: &str) -> String {
        manifest::sha256_of(&self.manifest, path)
    }

    fn size(&self, path: &str) -> u64 {
        manifest::executable(&self.manifest, path)["size"]
            .as_u64()
            .unwrap()
    }

    /// An SCC v1 finding naming the image by tag and digest.
    pub(crate) fn scc(&self, category: &str, processes: Value) -> Value {
        let host = self.registry.host();
        json!({
            "name": "organizations/1/sources/2/findings/abc",
            "category": category,
            "severity": "LOW",
            "state": "ACTIVE",
            "eventTime": "2026-11-28T10:00:00Z",
            "resourceName": "//container.googleapis.com/projects/p1/zones/europe-west4-b/clusters/prod",
            "processes": processes,
            "containers": [{"name": "app", "uri": format!("{host}/fx/traps:v1"), "imageId": format!("{host}/fx/traps@{}", self.digest())}],
            "kubernetes": {"pods": [{"ns": "shop", "name": "web-7d4f", "containers": [{"name": "app"}]}]}
        })
    }

    fn triage(&self, findings: &Value, extra: &[&str]) -> (Option<i32>, Value, String) {
        let file = self.dir.path().join("findings.json");
        fs_err::write(&file, findings.to_string()).unwrap();
        let output = exelock_in(self.dir.path())
            .args([
                "triage",
                "findings.json",
                "--key",
                "cosign.pub",
                "--format",
                "json",
            ])
            .args(extra)
            .output()
            .unwrap();
        let parsed = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
        (output.status.code(), parsed, printed(&output))
    }
}

/// A run's stdout read as JSON Lines.
fn jsonl_lines(output: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn verdicts(report: &Value) -> Vec<(String, String)> {
    report
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|finding| finding["binaries"].as_array().unwrap().iter())
        .map(|b| {
            (
                b["path"].as_str().unwrap_or_default().to_owned(),
                b["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

pub(crate) fn process(path: &str, sha: &str, size: Option<u64>) -> Value {
    let mut binary = json!({"path": path, "sha256": sha});
    if let Some(size) = size {
        binary["size"] = json!(size.to_string());
        binary["hashedSize"] = json!(size.to_string());
    }
    json!({"name": path.rsplit('/').next().unwrap(), "binary": binary, "args": [path], "pid": "42"})
}

#[test]
fn every_verdict_from_one_attested_image() {
    let setup = Setup::new();
    let tool = setup.sha("/usr/bin/tool");
    let busybox = setup.sha("/bin/busybox");
    let foreign = "ab".repeat(32);
    let allowed = "cd".repeat(32);
    fs_err::write(
        setup.dir.path().join("allow.json"),
        json!({"entries": [{"sha256": allowed, "source": "vendor agent 2.3"}]}).to_string(),
    )
    .unwrap();
    let mut library_process = process("/usr/bin/tool", &tool, None);
    library_process["libraries"] =
        json!([{"path": "/usr/lib/libfoo.so.1", "sha256": setup.sha("/usr/lib/libfoo.so.1")}]);
    let findings = json!([
        setup.scc("Added Binary Executed", json!([library_process])),
        setup.scc(
            "Execution: Added Binary Executed",
            json!([process("/tmp/busybox-copy", &busybox, None)])
        ),
        setup.scc(
            "Added Binary Executed",
            json!([process("/opt/agent/agent", &allowed, None)])
        ),
        setup.scc(
            "Added Binary Executed",
            json!([process("/usr/bin/tool", &foreign, None)])
        ),
        setup.scc(
            "Added Binary Executed",
            json!([
                process("/tmp/x", &foreign, None),
                process(
                    "/usr/bin/unicodé-tööl",
                    &setup.sha("/usr/bin/unicodé-tööl"),
                    None
                )
            ])
        ),
        setup.scc(
            "Execution: Fileless Execution in /memfd:",
            json!([process("/memfd:payload (deleted)", &foreign, None)])
        ),
        setup.scc(
            "Added Binary Executed",
            json!([{"name": "sh", "binary": {"path": "/bin/busybox"}, "args": ["sh"]}])
        ),
    ]);
    let (code, report, out) = setup.triage(
        &findings,
        &["--allowlist", "allow.json", "--emit-bake", "bake.json"],
    );
    assert_eq!(code, Some(1), "{out}");
    let got = verdicts(&report);
    let want: Vec<(String, String)> = [
        ("/usr/bin/tool", "unchanged"),
        ("/usr/lib/libfoo.so.1", "unchanged"),
        ("/tmp/busybox-copy", "relocated"),
        ("/opt/agent/agent", "allowlisted"),
        ("/usr/bin/tool", "modified"),
        ("/tmp/x", "foreign"),
        ("/usr/bin/unicodé-tööl", "unchanged"),
        ("/memfd:payload (deleted)", "fileless"),
        ("/bin/busybox", "unverifiable"),
    ]
    .iter()
    .map(|(p, v)| ((*p).to_owned(), (*v).to_owned()))
    .collect();
    assert_eq!(got, want, "{out}");
    let first = &report[0]["binaries"][0];
    assert_eq!(first["evidence"]["manifestDigest"], setup.digest());
    assert!(
        first["evidence"]["provenance"]["signer"]
            .as_str()
            .unwrap()
            .starts_with("key ")
    );
    let foreign_binary = &report[4]["binaries"][0];
    assert!(compared(foreign_binary).contains("/tmp/x"));
    let steps = foreign_binary["response"]["steps"].as_array().unwrap();
    assert!(
        steps.iter().any(|s| s
            .as_str()
            .unwrap()
            .contains("kubectl cp shop/web-7d4f:/tmp/x")),
        "{steps:?}"
    );
    assert!(steps.iter().any(|s| {
        s.as_str()
            .unwrap()
            .contains(&format!("virustotal.com/gui/file/{foreign}"))
    }));

    // The legitimate binaries not in the image went to the bake list.
    let bake: Value =
        serde_json::from_slice(&fs_err::read(setup.dir.path().join("bake.json")).unwrap()).unwrap();
    assert_eq!(
        manifest::paths(&bake, "entries"),
        ["/opt/agent/agent", "/tmp/busybox-copy"]
    );

    // All legitimate: exit 0.
    let (code, _, out) = setup.triage(&json!([findings[0].clone(), findings[1].clone()]), &[]);
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn partial_hashes_are_compared_with_prefix_digests_of_the_layer() {
    let setup = Setup::new();
    let size = setup.size("/bin/busybox");
    let prefix = 4096u64;
    // The detector hashed only the first 4096 bytes; read them from the fixture layer.
    let content = crate::scan::file_in_layer("traps", 0, "bin/busybox");
    let partial = exelock::digest::Sha256Digest::of(&content[..prefix as usize]).hex();
    let binary = |path: &str, sha: &str| json!({"name": "x", "binary": {"path": path, "sha256": sha, "size": size.to_string(), "hashedSize": prefix.to_string(), "partiallyHashed": true}});
    let findings = json!([
        setup.scc(
            "Added Binary Executed",
            json!([binary("/bin/busybox", &partial)])
        ),
        setup.scc(
            "Added Binary Executed",
            json!([binary("/usr/local/bin/bb", &partial)])
        ),
        // The whole-file digest presented as a partial hash must not match.
        setup.scc(
            "Added Binary Executed",
            json!([binary("/bin/busybox", &setup.sha("/bin/busybox"))])
        ),
    ]);
    let (code, report, out) = setup.triage(&findings, &[]);
    assert_eq!(code, Some(1), "{out}");
    // A prefix match is not proof of the rest of the file: unverifiable, with the command that
    // settles it; a prefix that differs proves a different file.
    assert_eq!(
        verdicts(&report),
        [
            ("/bin/busybox".to_owned(), "unverifiable".to_owned()),
            ("/usr/local/bin/bb".to_owned(), "unverifiable".to_owned()),
            ("/bin/busybox".to_owned(), "modified".to_owned()),
        ],
        "{out}"
    );
    let matched = &report[0]["binaries"][0];
    assert!(compared(matched).contains("first 4096 bytes"));
    assert!(
        notes(matched).contains("the first 4096 bytes equal layer 0's /bin/busybox"),
        "{out}"
    );
    assert!(
        matched["response"]["steps"].to_string().contains(&format!(
            "sha256sum /bin/busybox  # the image's file is {}",
            setup.sha("/bin/busybox")
        )),
        "{out}"
    );
    assert!(notes(&report[1]["binaries"][0]).contains("layer 0's /bin/busybox"));
}

#[test]
fn falco_tags_missing_images_bad_findings_and_offline_bundles() {
    let setup = Setup::new();
    let host = setup.registry.host();
    let falco = json!({
        "hostname": "node-1", "output": "Drop and execute new binary", "priority": "Critical",
        "rule": "Drop and execute new binary in container", "source": "syscall", "tags": ["container"],
        "time": "2026-11-28T10:00:00.000000000Z",
        "output_fields": {
            "container.image.repository": format!("{host}/fx/traps"), "container.image.tag": "v1",
            "proc.exepath": "/tmp/dropped", "k8s.ns.name": "shop", "k8s.pod.name": "web-1", "container.name": "app"
        }
    });
    let no_image = json!({"name": "organizations/1/sources/2/findings/x", "category": "Added Binary Executed",
        "processes": [{"binary": {"path": "/usr/bin/tool", "sha256": setup.sha("/usr/bin/tool")}}]});
    let file = setup.dir.path().join("batch.jsonl");
    fs_err::write(&file, format!("{falco}\n{{not json\n{no_image}\n")).unwrap();
    // `triage batch.jsonl --key cosign.pub --format jsonl` plus `extra`.
    let triage_batch = |extra: &[&str]| {
        exelock_in(setup.dir.path())
            .args([
                "triage",
                "batch.jsonl",
                "--key",
                "cosign.pub",
                "--format",
                "jsonl",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let output = triage_batch(&[]);
    assert_eq!(output.status.code(), Some(1), "{}", printed(&output));
    let lines = jsonl_lines(&output);
    assert_eq!(lines.len(), 2);
    let dropped = &lines[0]["binaries"][0];
    assert_eq!(dropped["verdict"], "foreign");
    assert!(
        dropped["evidence"]["notes"][0]
            .as_str()
            .unwrap()
            .contains("mutable tag"),
        "{dropped}"
    );
    assert_eq!(lines[1]["binaries"][0]["verdict"], "unverifiable");
    assert!(compared(&lines[1]["binaries"][0]).contains("--image"));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("batch.jsonl line 2"),
        "{}",
        printed(&output)
    );

    // --image fills in what SCC dropped.
    let output = triage_batch(&["--image", &format!("{host}/fx/traps@{}", setup.digest())]);
    let last: Value = serde_json::from_str(
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        last["binaries"][0]["verdict"],
        "unchanged",
        "{}",
        printed(&output)
    );

    // Offline: a bundle and --path flags; a wrong key makes it unverifiable, never legitimate.
    setup.write_bundle("b.json");
    let image = format!("{host}/fx/traps@{}", setup.digest());
    let flags = |key: &str| {
        exelock_in(setup.dir.path())
            .args([
                "triage",
                "--path",
                "/usr/bin/tool",
                "--sha256",
                &setup.sha("/usr/bin/tool"),
                "--image",
                &image,
                "--bundle",
                "b.json",
                "--key",
                key,
                "--format",
                "json",
            ])
            .output()
            .unwrap()
    };
    let good = flags("cosign.pub");
    assert_eq!(good.status.code(), Some(0), "{}", printed(&good));
    generate_key_pair_named(setup.dir.path(), PASSWORD, "other");
    let wrong = flags("other.pub");
    assert_eq!(wrong.status.code(), Some(1), "{}", printed(&wrong));
    let report: Value = serde_json::from_slice(&wrong.stdout).unwrap();
    assert_eq!(report[0]["binaries"][0]["verdict"], "unverifiable");

    // Offline, a tag-only Falco finding is tied to the bundle by --image's digest.
    let offline = triage_batch(&["--bundle", "b.json", "--image", &image]);
    let lines = jsonl_lines(&offline);
    assert_eq!(
        lines[0]["binaries"][0]["verdict"],
        "foreign",
        "{}",
        printed(&offline)
    );
    assert_eq!(
        lines[1]["binaries"][0]["verdict"],
        "unchanged",
        "{}",
        printed(&offline)
    );
}

#[test]
fn triage_bake_gate_loop() {
    // A binary copied at run time is judged relocated; the old image fails the gate's bake rule;
    // an image rebuilt with the binary at that path passes.
    let setup = Setup::new();
    let busybox = setup.sha("/bin/busybox");
    let findings = json!([setup.scc(
        "Added Binary Executed",
        json!([
            process(
                "/usr/local/bin/run.sh",
                &setup.sha("/usr/local/bin/run.sh"),
                None
            ),
            process("/opt/tools/busybox", &busybox, None)
        ])
    )]);
    let (code, report, out) = setup.triage(&findings, &["--emit-bake", "bake.json"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        verdicts(&report)[1],
        ("/opt/tools/busybox".to_owned(), "relocated".to_owned())
    );
    let policy = setup.dir.path().join("exelock.toml");
    fs_err::write(&policy, "[attestation]\nlevel = \"warn\"\n[setuid]\nlevel = \"off\"\n[bake]\nfile = \"bake.json\"\n").unwrap();
    let gate = |image: &str| {
        exelock_in(setup.dir.path())
            .args(["gate", image, "--policy", "exelock.toml", "-q"])
            .output()
            .unwrap()
    };
    let old = gate(&format!("{}/fx/traps:v1", setup.registry.host()));
    let report = assert_policy_failure(&old, "the same content is at /bin/busybox");
    assert!(report.contains("/opt/tools/busybox (sha256:"), "{report}");
    // The rebuild: the old image plus a layer with the binary at the runtime path.
    let rebuilt = rebuild_with(
        setup.dir.path(),
        "traps",
        "opt/tools/busybox",
        &crate::scan::file_in_layer("traps", 0, "bin/busybox"),
    );
    let new = gate(&format!("oci:{}", rebuilt.display()));
    assert_eq!(new.status.code(), Some(0), "{}", printed(&new));
}

/// Copies a fixture layout and appends one uncompressed layer holding `path` (0755).
pub(crate) fn rebuild_with(dir: &Path, image: &str, path: &str, content: &[u8]) -> PathBuf {
    use exelock::digest::Sha256Digest;
    let out = dir.join("rebuilt");
    let source = root().join("testdata/images").join(image);
    fs_err::create_dir_all(out.join("blobs/sha256")).unwrap();
    for entry in fs_err::read_dir(source.join("blobs/sha256")).unwrap() {
        let entry = entry.unwrap();
        fs_err::copy(
            entry.path(),
            out.join("blobs/sha256").join(entry.file_name()),
        )
        .unwrap();
    }
    fs_err::copy(source.join("oci-layout"), out.join("oci-layout")).unwrap();
    let mut layer = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_size(content.len() as u64);
    header.set_mode(0o755);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    layer.append_data(&mut header, path, content).unwrap();
    let layer = layer.into_inner().unwrap();
    let blob = |bytes: &[u8]| {
        let digest = Sha256Digest::of(bytes);
        fs_err::write(out.join("blobs/sha256").join(digest.hex()), bytes).unwrap();
        digest
    };
    let layer_digest = blob(&layer);
    let layout = crate::support::fixtures::Layout {
        dir: source.clone(),
    };
    let mut manifest = layout.manifest();
    let mut config = layout.json(manifest["config"]["digest"].as_str().unwrap());
    config["rootfs"]["diff_ids"]
        .as_array_mut()
        .unwrap()
        .push(json!(layer_digest.to_string()));
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let config_digest = blob(&config_bytes);
    manifest["config"]["digest"] = json!(config_digest.to_string());
    manifest["config"]["size"] = json!(config_bytes.len());
    manifest["layers"].as_array_mut().unwrap().push(json!({
        "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest.to_string(), "size": layer.len()
    }));
    let manifest_bytes = serde_json::to_vec(&manifest).unwrap();
    let manifest_digest = blob(&manifest_bytes);
    let new_index = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest.to_string(), "size": manifest_bytes.len()
    }]});
    fs_err::write(out.join("index.json"), new_index.to_string()).unwrap();
    out
}

/// A finding's JSON report for one `triage` run with extra arguments, from a findings file.
fn triage_file(dir: &Path, findings: &Value, args: &[&str]) -> (Option<i32>, Value, String) {
    fs_err::write(dir.join("case.json"), findings.to_string()).unwrap();
    let output = exelock_in(dir)
        .args(["triage", "case.json", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let parsed = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output.status.code(), parsed, printed(&output))
}

/// What the verdict on `binary` compared it with.
fn compared(binary: &Value) -> &str {
    binary["evidence"]["compared"].as_str().unwrap()
}

fn notes(binary: &Value) -> String {
    binary["evidence"]["notes"]
        .as_array()
        .map(|notes| {
            notes
                .iter()
                .map(|n| n.as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

// See: issue 9, "Which image": --image fills in only for findings that name no image.
#[test]
fn a_finding_naming_another_image_is_never_judged_against_the_image_flag() {
    let setup = Setup::new();
    let host = setup.registry.host();
    setup.write_bundle("b.json");
    let tool = setup.sha("/usr/bin/tool");
    let image = format!("{host}/fx/traps@{}", setup.digest());
    let naming = |reference: &str| {
        json!({"name": "organizations/1/sources/2/findings/other", "category": "Added Binary Executed",
            "processes": [process("/usr/bin/tool", &tool, None)],
            "containers": [{"name": "app", "uri": reference}]})
    };
    let cases = [
        ("attacker.example/evil/repo:latest".to_owned(), true),
        (format!("{host}/fx/other:v1"), false),
        (format!("{host}/fx/other@sha256:{}", "ef".repeat(32)), false),
    ];
    for (other, offline_only) in &cases {
        let modes: &[&[&str]] = if *offline_only {
            &[&["--bundle", "b.json"]]
        } else {
            &[&["--bundle", "b.json"], &[]]
        };
        for mode in modes {
            let mut args = vec!["--key", "cosign.pub", "--image", &image];
            args.extend_from_slice(mode);
            let (code, report, out) = triage_file(setup.dir.path(), &json!([naming(other)]), &args);
            assert_eq!(code, Some(1), "{other} {mode:?}: {out}");
            let binary = &report[0]["binaries"][0];
            assert_eq!(binary["verdict"], "unverifiable", "{other} {mode:?}: {out}");
            assert!(binary["evidence"]["manifestDigest"].is_null(), "{binary}");
        }
    }
}

// See: issue 9, "Which image": the container is chosen by Container_Name; ambiguity is unknown.
#[test]
fn scc_chooses_the_container_by_name_and_an_ambiguous_choice_is_unknown() {
    let setup = Setup::new();
    let host = setup.registry.host();
    let tool = setup.sha("/usr/bin/tool");
    let finding = |name: Option<&str>| {
        let mut finding = json!({"name": "organizations/1/sources/2/findings/two", "category": "Added Binary Executed",
        "processes": [process("/usr/bin/tool", &tool, None)],
        "containers": [
            {"name": "sidecar", "uri": format!("{host}/fx/other:v1"), "imageId": format!("{host}/fx/other@sha256:{}", "ab".repeat(32))},
            {"name": "app", "uri": format!("{host}/fx/traps:v1"), "imageId": format!("{host}/fx/traps@{}", setup.digest())}
        ]});
        if let Some(name) = name {
            finding["sourceProperties"] = json!({"Container_Name": name});
        }
        finding
    };
    let (code, report, out) = setup.triage(&json!([finding(Some("app"))]), &[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(report[0]["binaries"][0]["verdict"], "unchanged", "{out}");
    let (code, report, out) = setup.triage(&json!([finding(Some("sidecar"))]), &[]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(report[0]["binaries"][0]["verdict"], "unverifiable", "{out}");
    let (code, report, out) = setup.triage(&json!([finding(None)]), &[]);
    assert_eq!(code, Some(1), "{out}");
    let binary = &report[0]["binaries"][0];
    assert_eq!(binary["verdict"], "unverifiable", "{out}");
    assert!(compared(binary).contains("image is unknown"), "{binary}");
}

// See: issue 9, "Which image": an index digest with no platform is judged on every platform.
#[test]
fn an_index_digest_is_judged_against_every_platform() {
    let (registry, dir, reference) =
        pushed_and_attested("oci:testdata/images/multiarch:latest", "fx/multi:v1");
    let scan = exelock_in(dir.path())
        .args([
            "scan",
            &reference,
            "-q",
            "--format",
            "json",
            "--all-platforms",
        ])
        .output()
        .unwrap();
    let manifests: Value = serde_json::from_slice(&scan.stdout).unwrap();
    let arm = manifests
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["image"]["platform"] == "linux/arm64/v8")
        .unwrap();
    let index = arm["image"]["indexDigest"].as_str().unwrap();
    let hello = &arm["executables"][0];
    let finding = json!({"name": "organizations/1/sources/2/findings/arm", "category": "Added Binary Executed",
        "processes": [process(hello["path"].as_str().unwrap(), hello["sha256"].as_str().unwrap(), None)],
        "containers": [{"name": "app", "uri": format!("{}/fx/multi@{index}", registry.host())}]});
    let (code, report, out) = triage_file(dir.path(), &json!([finding]), &["--key", "cosign.pub"]);
    assert_eq!(code, Some(0), "{out}");
    let binary = &report[0]["binaries"][0];
    assert_eq!(binary["verdict"], "unchanged", "{out}");
    assert_eq!(binary["evidence"]["platform"], "linux/arm64/v8");
    assert!(notes(binary).contains("took linux/arm64/v8"), "{out}");
}

// See: issue 9, "Everything else found".
#[test]
fn findings_with_nothing_to_judge_and_truncated_arguments() {
    let setup = Setup::new();
    let tool = setup.sha("/usr/bin/tool");
    let mut empty = setup.scc("Added Binary Executed", json!([]));
    empty.as_object_mut().unwrap().remove("processes");
    let mut long_args = process("/usr/bin/tool", &tool, None);
    long_args["argumentsTruncated"] = json!(true);
    let (code, report, out) = setup.triage(&json!([empty]), &[]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(report[0]["binaries"][0]["verdict"], "unverifiable", "{out}");
    assert!(report[0]["playbook"].is_object(), "{out}");
    let (code, report, out) = setup.triage(
        &json!([setup.scc("Added Binary Executed", json!([long_args]))]),
        &[],
    );
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(report[0]["binaries"][0]["verdict"], "unchanged", "{out}");
}

// See: issue 9: allowlists are credited to their file; hash-only entries never excuse a
// replaced image binary; the playbook is given once per finding.
#[test]
fn allowlists_are_credited_to_their_file_and_never_excuse_a_replacement() {
    let setup = Setup::new();
    let agent = "cd".repeat(32);
    fs_err::write(
        setup.dir.path().join("allow.json"),
        json!({"entries": [{"sha256": agent}]}).to_string(),
    )
    .unwrap();
    let findings = json!([setup.scc(
        "Added Binary Executed",
        json!([
            process("/opt/agent/agent", &agent, None),
            process("/usr/bin/tool", &agent, None),
            process("/tmp/x", &"ab".repeat(32), None)
        ])
    )]);
    let (code, report, out) = setup.triage(&findings, &["--allowlist", "allow.json"]);
    assert_eq!(code, Some(1), "{out}");
    let binaries = report[0]["binaries"].as_array().unwrap();
    assert_eq!(binaries[0]["verdict"], "allowlisted", "{out}");
    assert_eq!(
        binaries[0]["evidence"]["allowlist"]["source"],
        "allowlist file allow.json"
    );
    assert_eq!(binaries[1]["verdict"], "modified", "{out}");
    assert!(notes(&binaries[1]).contains("only an entry bound to this exact path"));
    assert_eq!(binaries[2]["verdict"], "foreign");
    let playbook = report[0]["playbook"]["steps"].as_array().unwrap();
    assert_eq!(
        playbook
            .iter()
            .filter(|s| s.as_str().unwrap().contains("kubectl cordon"))
            .count(),
        1
    );
    for binary in binaries {
        let steps = binary["response"]["steps"].to_string();
        assert!(!steps.contains("cordon"), "{steps}");
    }
}

// See: issue 9, "Partial hashes": the prefix is hashed from the entry the scan records (the
// last write of a path in a layer), and only from layer bytes whose digests verified.
#[test]
fn partial_hashes_come_from_the_last_write_and_verified_layer_bytes() {
    let (registry, dir, reference) =
        pushed_and_attested("oci:testdata/images/twice:latest", "fx/twice:v1");
    let (first, second) = crate::prefix::writes_of_app();
    let hashed = 4096;
    let prefix_of = |content: &[u8]| exelock::digest::Sha256Digest::of(&content[..hashed]).hex();
    assert_ne!(prefix_of(&first), prefix_of(&second));
    let finding = |sha: &str| {
        json!({"name": "organizations/1/sources/2/findings/twice", "category": "Added Binary Executed",
            "processes": [{"name": "app", "binary": {"path": "/usr/bin/app", "sha256": sha,
                "size": second.len().to_string(), "hashedSize": hashed.to_string(), "partiallyHashed": true}}],
            "containers": [{"name": "app", "uri": reference}],
            "kubernetes": {"pods": [{"ns": "shop", "name": "web-1", "containers": [{"name": "app"}]}]}})
    };
    // The first write's head, in a file of the second's size: not the file the image holds.
    let (code, report, out) = triage_file(
        dir.path(),
        &json!([finding(&prefix_of(&first)), finding(&prefix_of(&second))]),
        &["--key", "cosign.pub"],
    );
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        verdicts(&report),
        [
            ("/usr/bin/app".to_owned(), "modified".to_owned()),
            ("/usr/bin/app".to_owned(), "unverifiable".to_owned()),
        ],
        "{out}"
    );
    assert!(
        notes(&report[1]["binaries"][0]).contains(&format!(
            "the first {hashed} bytes equal layer 0's /usr/bin/app"
        )),
        "{out}"
    );

    // The registry now serves other bytes under layer 0's digest: no verdict from them.
    let layer = crate::support::fixtures::Layout::image("twice").layer_digests()[0].clone();
    registry.tamper_with_stored_blob(&layer, &second);
    let (code, report, out) = triage_file(
        dir.path(),
        &json!([finding(&prefix_of(&first)), finding(&prefix_of(&second))]),
        &["--key", "cosign.pub"],
    );
    assert_eq!(code, Some(1), "{out}");
    for binary in report.as_array().unwrap().iter().map(|f| &f["binaries"][0]) {
        assert_eq!(binary["verdict"], "unverifiable", "{out}");
        assert!(notes(binary).contains(&layer), "{out}");
    }
}

// See: issue 9: local sources give prefix digests offline.
#[test]
fn partial_hashes_offline_from_a_local_copy_of_the_image() {
    let dir = keyed_dir();
    let layout = format!("oci:{}", root().join("testdata/images/twice").display());
    attest_to_bundle(dir.path(), PASSWORD, &layout, "cosign.key", "b.json");
    let manifest: Value = serde_json::from_slice(
        &exelock_in(dir.path())
            .args(["scan", &layout, "-q", "--format", "json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let digest = manifest["image"]["manifestDigest"].as_str().unwrap();
    let (first, second) = crate::prefix::writes_of_app();
    let finding = json!({"name": "organizations/1/sources/2/findings/off", "category": "Added Binary Executed",
        "processes": [{"name": "app", "binary": {"path": "/usr/bin/app",
            "sha256": exelock::digest::Sha256Digest::of(&first[..100]).hex(),
            "size": second.len().to_string(), "hashedSize": "100", "partiallyHashed": true}}],
        "containers": [{"name": "app", "imageId": format!("reg.example/twice@{digest}")}]});
    let base = ["--key", "cosign.pub", "--bundle", "b.json"];
    // Without the layers: cannot tell.
    let (code, report, out) = triage_file(dir.path(), &json!([finding]), &base);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(report[0]["binaries"][0]["verdict"], "unverifiable", "{out}");
    assert!(
        notes(&report[0]["binaries"][0]).contains("--layers-from"),
        "{out}"
    );
    // With a local copy in each form: the prefix differs, so the file is not the image's.
    for local in ["oci:", "oci-archive:", "docker-archive:"] {
        let copy = match local {
            "oci:" => layout.clone(),
            "oci-archive:" => format!(
                "oci-archive:{}",
                root().join("testdata/images/twice.oci.tar").display()
            ),
            _ => format!(
                "docker-archive:{}",
                root().join("testdata/images/twice.docker.tar").display()
            ),
        };
        let mut args = base.to_vec();
        args.extend(["--layers-from", &copy]);
        let (code, report, out) = triage_file(dir.path(), &json!([finding]), &args);
        assert_eq!(code, Some(1), "{local}: {out}");
        assert_eq!(
            report[0]["binaries"][0]["verdict"], "modified",
            "{local}: {out}"
        );
    }
    // A local copy of another image is not used.
    let other = format!("oci:{}", root().join("testdata/images/traps").display());
    let mut args = base.to_vec();
    args.extend(["--layers-from", &other]);
    let (_, report, out) = triage_file(dir.path(), &json!([finding]), &args);
    assert_eq!(report[0]["binaries"][0]["verdict"], "unverifiable", "{out}");
    assert!(
        notes(&report[0]["binaries"][0]).contains("other layers"),
        "{out}"
    );
}
