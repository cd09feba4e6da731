//! The layer cache (`--cache-dir`, `--no-cache`, `--cache-max-size`) and scans of several
//! images: a scan served from the cache writes the bytes a cold scan writes, in every source
//! form; a cached layer is neither fetched nor read; damaged, edited and other-version entries
//! are ignored and rewritten; eviction keeps the cap; concurrent scans sharing a cache agree;
//! several images scanned together give what each gives alone, reading a shared layer once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::support::fixtures::Layout;
use crate::support::{
    FaultProxy, Mode, Registry, assert_input_error, assert_success, exelock_process,
};

/// `exelock` with its layer cache in `cache`, or (`None`) off as every test's is.
fn exelock_caching_in(cache: Option<&Path>) -> std::process::Command {
    let mut command = exelock_process();
    if let Some(dir) = cache {
        command
            .env_remove("EXELOCK_NO_CACHE")
            .env("EXELOCK_CACHE_DIR", dir);
    }
    command
}

fn run(cache: Option<&Path>, args: &[&str]) -> Output {
    Command::from_std(exelock_caching_in(cache))
        .args(args)
        .output()
        .unwrap()
}

/// `exelock scan --format json ARGS`'s stdout; the scan must succeed.
fn scan(cache: Option<&Path>, args: &[&str]) -> Vec<u8> {
    let output = run(cache, &[&["scan", "--format", "json"], args].concat());
    assert_success(&output);
    output.stdout
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The cache's entries: file name → bytes.
fn entries(cache: &Path) -> BTreeMap<String, Vec<u8>> {
    let Ok(listing) = fs_err::read_dir(cache.join("layers")) else {
        return BTreeMap::new();
    };
    listing
        .map(|item| {
            let item = item.unwrap();
            (
                item.file_name().to_string_lossy().into_owned(),
                fs_err::read(item.path()).unwrap(),
            )
        })
        .collect()
}

fn entry_path(cache: &Path, diff_id: &str) -> PathBuf {
    cache
        .join("layers")
        .join(diff_id.trim_start_matches("sha256:"))
}

/// The diff_ids of a fixture's first image (every platform's, for an index), from its configs
/// (not from exelock).
fn diff_ids(layout: &Layout) -> Vec<String> {
    let top = layout.manifest();
    let manifests = match top["manifests"].as_array() {
        Some(platforms) => platforms
            .iter()
            // Attestation manifests (unknown/unknown) are not images.
            .filter(|platform| platform["platform"]["os"] != "unknown")
            .map(|platform| layout.json(platform["digest"].as_str().unwrap()))
            .collect(),
        None => vec![top],
    };
    manifests
        .iter()
        .flat_map(|manifest| {
            let config = layout.json(manifest["config"]["digest"].as_str().unwrap());
            config["rootfs"]["diff_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

const FIXTURES: [&str; 5] = ["traps", "demo", "tiny", "multiarch", "twice"];

fn forms(image: &str) -> Vec<Vec<String>> {
    let mut forms = vec![
        vec![format!("oci:testdata/images/{image}")],
        vec![format!("oci:testdata/images/{image}:latest")],
        vec![format!("oci-archive:testdata/images/{image}.oci.tar")],
        vec![format!("docker-archive:testdata/images/{image}.docker.tar")],
        vec![format!(
            "docker-archive:testdata/images/{image}.docker25.tar"
        )],
    ];
    if image == "multiarch" {
        forms.push(vec![
            format!("oci:testdata/images/{image}"),
            "--all-platforms".to_owned(),
        ]);
        forms.push(vec![
            format!("oci:testdata/images/{image}"),
            "--platform".to_owned(),
            "linux/arm64".to_owned(),
        ]);
    }
    forms
}

#[test]
fn warm_scans_write_the_bytes_of_cold_scans_in_every_form() {
    let cache = tempfile::tempdir().unwrap();
    let all: Vec<Vec<String>> = FIXTURES.iter().flat_map(|image| forms(image)).collect();
    let cold: Vec<Vec<u8>> = all
        .iter()
        .map(|form| {
            let args: Vec<&str> = form.iter().map(String::as_str).collect();
            scan(None, &[&args[..], &["-q"]].concat())
        })
        .collect();
    // Twice through every form with one cache: the first pass fills it (and meets layers
    // another form of the same image cached), the second is served from it.
    for pass in 0..2 {
        for (form, cold) in all.iter().zip(&cold) {
            let args: Vec<&str> = form.iter().map(String::as_str).collect();
            let warm = scan(Some(cache.path()), &[&args[..], &["-q"]].concat());
            assert!(
                warm == *cold,
                "pass {pass}: {form:?}: the warm scan differs from the cold one"
            );
        }
    }
    let cached: BTreeSet<String> = entries(cache.path()).into_keys().collect();
    for image in FIXTURES {
        for diff_id in diff_ids(&Layout::image(image)) {
            assert!(
                cached.contains(diff_id.trim_start_matches("sha256:")),
                "{image}: no entry for {diff_id}"
            );
        }
    }
}

#[test]
fn warm_registry_scans_write_the_bytes_of_cold_ones() {
    let registry = Registry::start(Mode::Plain);
    let cache = tempfile::tempdir().unwrap();
    for image in FIXTURES {
        registry.push_oci_layout(
            &format!("oci:testdata/images/{image}:latest"),
            &format!("fx/{image}:v1"),
        );
        let reference = format!("{}/fx/{image}:v1", registry.host());
        let cold = scan(None, &[&reference, "-q", "--all-platforms"]);
        for pass in 0..2 {
            let warm = scan(Some(cache.path()), &[&reference, "-q", "--all-platforms"]);
            assert!(warm == cold, "{image}, pass {pass}: the warm scan differs");
        }
    }
}

/// Writes an OCI layout at `dir` holding images made of fixture layers: each image is a list
/// of (fixture, layer index), named by its ref. Blobs are copied, configs and manifests made
/// here, so the layouts share layers the way images built on one base do.
fn compose_layout(dir: &Path, images: &[(&str, &[(&str, usize)])]) {
    let blobs = dir.join("blobs/sha256");
    fs_err::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let hex = hex::encode(Sha256::digest(bytes));
        fs_err::write(blobs.join(&hex), bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len())
    };
    let mut index = Vec::new();
    for (name, layers) in images {
        let mut descriptors = Vec::new();
        let mut diff_ids = Vec::new();
        for (fixture, at) in *layers {
            let layout = Layout::image(fixture);
            let descriptor = layout.manifest()["layers"][at].clone();
            let digest = descriptor["digest"].as_str().unwrap();
            put(&fs_err::read(layout.blob_path(digest)).unwrap());
            descriptors.push(descriptor);
            diff_ids.push(self::diff_ids(&layout)[*at].clone());
        }
        let config = serde_json::to_vec(&json!({
            "architecture": "amd64", "os": "linux", "config": {},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }))
        .unwrap();
        let (config_digest, config_size) = put(&config);
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": config_size},
            "layers": descriptors,
        }))
        .unwrap();
        let (manifest_digest, manifest_size) = put(&manifest);
        index.push(json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest, "size": manifest_size,
            "annotations": {"org.opencontainers.image.ref.name": name},
        }));
    }
    fs_err::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    fs_err::write(
        dir.join("index.json"),
        serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": index})).unwrap(),
    )
    .unwrap();
}

/// Two images on one base layer (tiny's), each with a layer of its own (demo's first and
/// second).
const ON_ONE_BASE: [(&str, &[(&str, usize)]); 2] = [
    ("a", &[("tiny", 0), ("demo", 0)]),
    ("b", &[("tiny", 0), ("demo", 1)]),
];

#[test]
fn a_cached_layer_is_not_read() {
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("layout");
    compose_layout(&layout, &ON_ONE_BASE);
    let reference = format!("oci:{}:a", layout.display());
    let cold = scan(None, &[&reference, "-q"]);
    let cache = work.path().join("cache");
    assert_eq!(scan(Some(&cache), &[&reference, "-q"]), cold);
    // Every layer blob gone: only the cache can answer.
    for (fixture, at) in ON_ONE_BASE[0].1 {
        let digest = Layout::image(fixture).layer_digests()[*at].clone();
        fs_err::remove_file(layout.join("blobs/sha256").join(&digest[7..])).unwrap();
    }
    assert_eq!(scan(Some(&cache), &[&reference, "-q"]), cold);
    let without = run(None, &["scan", &reference, "-q"]);
    assert_input_error(&without, "is missing");
}

#[test]
fn a_descriptor_naming_another_blob_is_still_read_and_checked() {
    let cache = tempfile::tempdir().unwrap();
    scan(Some(cache.path()), &["oci:testdata/images/tiny", "-q"]);
    // Same diff_id as tiny's layer, another blob (a gzip header and garbage): the cached walk
    // proves nothing about this blob, so it is read, and fails.
    let output = run(
        Some(cache.path()),
        &["scan", "oci:testdata/bad/corrupt-gzip", "-q"],
    );
    assert_input_error(&output, "deflate");
    // The config's diff_id names another layer than the blob holds: no entry serves it.
    let output = run(
        Some(cache.path()),
        &["scan", "oci:testdata/bad/diffid-mismatch", "-q"],
    );
    assert_input_error(&output, "diff_id");
}

#[test]
fn a_second_registry_scan_fetches_no_layer_blob_and_a_shared_layer_is_fetched_once() {
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("layout");
    compose_layout(&layout, &ON_ONE_BASE);
    let registry = Registry::start(Mode::Plain);
    registry.push_oci_layout(&format!("oci:{}:a", layout.display()), "fleet/a:v1");
    registry.push_oci_layout(&format!("oci:{}:b", layout.display()), "fleet/b:v1");
    let proxy = FaultProxy::start(registry.host(), Vec::new());
    let a = format!("{}/fleet/a:v1", proxy.host());
    let b = format!("{}/fleet/b:v1", proxy.host());
    let base = Layout::image("tiny").layer_digests()[0].clone();
    let own_a = Layout::image("demo").layer_digests()[0].clone();
    let own_b = Layout::image("demo").layer_digests()[1].clone();
    let gets = |digest: &str| proxy.count("GET", &format!("/blobs/{digest}"));

    // Without a cache, two images on one base: the base is fetched once.
    let single_a = scan(None, &[&a, "-q"]);
    let single_b = scan(None, &[&b, "-q"]);
    let before = (gets(&base), gets(&own_a), gets(&own_b));
    let lines = scan(None, &[&a, &b, "-q"]);
    assert_eq!(
        (gets(&base), gets(&own_a), gets(&own_b)),
        (before.0 + 1, before.1 + 1, before.2 + 1)
    );
    assert_lines_are(&lines, &[&single_a, &single_b]);

    // With a cache: the first scan fetches, the second fetches no layer blob at all.
    let cache = work.path().join("cache");
    assert_eq!(scan(Some(&cache), &[&a, "-q"]), single_a);
    let (base_before, own_a_before) = (gets(&base), gets(&own_a));
    let blobs_before = proxy.count("GET", "/blobs/");
    assert_eq!(scan(Some(&cache), &[&a, "-q"]), single_a);
    assert_eq!((gets(&base), gets(&own_a)), (base_before, own_a_before));
    // Only the config is fetched again: it is small, verified, and names the diff_ids.
    assert_eq!(
        proxy.count("GET", "/blobs/") - blobs_before,
        1,
        "{:#?}",
        proxy.request_log()
    );
    // b shares the base: only its own layer is fetched.
    let own_b_before = gets(&own_b);
    assert_eq!(scan(Some(&cache), &[&b, "-q"]), single_b);
    assert_eq!((gets(&base), gets(&own_b)), (base_before, own_b_before + 1));
}

/// JSON lines output: one compact manifest a line, each equal to a single scan's.
fn assert_lines_are(lines: &[u8], singles: &[&[u8]]) {
    let text = String::from_utf8(lines.to_vec()).unwrap();
    let got: Vec<&str> = text.lines().collect();
    assert_eq!(got.len(), singles.len(), "{text}");
    for (line, single) in got.iter().zip(singles) {
        let line: Value = serde_json::from_str(line).unwrap();
        let single: Value = serde_json::from_slice(single).unwrap();
        assert_eq!(line, single);
    }
}

#[test]
fn several_images_give_what_each_gives_alone() {
    let work = tempfile::tempdir().unwrap();
    let images = [
        "oci:testdata/images/traps",
        "oci-archive:testdata/images/demo.oci.tar",
        "docker-archive:testdata/images/tiny.docker.tar",
        "oci:testdata/images/multiarch",
    ];
    let singles: Vec<Vec<u8>> = images.iter().map(|i| scan(None, &[i, "-q"])).collect();
    let singles: Vec<&[u8]> = singles.iter().map(Vec::as_slice).collect();
    for cache in [None, Some(work.path().join("cache"))] {
        let lines = scan(cache.as_deref(), &[&images[..], &["-q"]].concat());
        assert_lines_are(&lines, &singles);
    }
    // --from-file, with comments and blank lines, and -o.
    let list = work.path().join("list.txt");
    fs_err::write(
        &list,
        format!(
            "# the fleet\n{}\n\n  {}   # demo\n{}\n{}\n",
            images[0], images[1], images[2], images[3]
        ),
    )
    .unwrap();
    let out = work.path().join("out.jsonl");
    scan(
        None,
        &[
            "--from-file",
            list.to_str().unwrap(),
            "-q",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert_lines_are(&fs_err::read(&out).unwrap(), &singles);
    // --output-dir: each file holds what `scan IMAGE -o FILE` writes.
    let dir = work.path().join("manifests");
    scan(
        Some(&work.path().join("cache")),
        &[&images[..], &["-q", "--output-dir", dir.to_str().unwrap()]].concat(),
    );
    for (image, single) in images.iter().zip(&singles) {
        let file = work.path().join("single.json");
        scan(None, &[image, "-q", "-o", file.to_str().unwrap()]);
        let name: String = image
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let written = fs_err::read(dir.join(format!("{name}.json"))).unwrap();
        assert_eq!(written, fs_err::read(&file).unwrap(), "{image}");
        assert_eq!(written, *single, "{image}");
    }
}

#[test]
fn one_failing_image_does_not_stop_the_others() {
    let output = run(
        None,
        &[
            "scan",
            "--format",
            "json",
            "-q",
            "oci:testdata/images/tiny",
            "oci:testdata/bad/dotdot",
            "oci:testdata/images/demo",
        ],
    );
    assert_input_error(&output, "escapes the root");
    assert_lines_are(
        &output.stdout,
        &[
            &scan(None, &["oci:testdata/images/tiny", "-q"]),
            &scan(None, &["oci:testdata/images/demo", "-q"]),
        ],
    );
}

/// Scans `image` warm after `edit` changed its single layer's entry; returns the stderr.
fn after_editing_the_entry(image: &str, edit: impl FnOnce(&mut Vec<u8>)) -> String {
    let cache = tempfile::tempdir().unwrap();
    let reference = format!("oci:testdata/images/{image}");
    let cold = scan(None, &[&reference, "-q"]);
    scan(Some(cache.path()), &[&reference, "-q"]);
    let [diff_id] = diff_ids(&Layout::image(image)).try_into().unwrap();
    let path = entry_path(cache.path(), &diff_id);
    let written = fs_err::read(&path).unwrap();
    let mut edited = written.clone();
    edit(&mut edited);
    assert_ne!(edited, written);
    fs_err::write(&path, &edited).unwrap();
    let output = run(
        Some(cache.path()),
        &["scan", "--format", "json", &reference],
    );
    assert_success(&output);
    assert_eq!(output.stdout, cold, "an edited entry was trusted");
    assert_eq!(
        fs_err::read(&path).unwrap(),
        written,
        "the entry was not rewritten"
    );
    stderr(&output)
}

#[test]
fn an_edited_or_damaged_entry_is_detected_ignored_and_rewritten() {
    // A byte of the payload (an executable's digest, a path, anything) flipped.
    let stderr = after_editing_the_entry("tiny", |bytes| {
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
    });
    assert!(
        stderr.contains("is damaged") && stderr.contains("payload digest mismatch"),
        "{stderr}"
    );
    // Truncated.
    let stderr = after_editing_the_entry("tiny", |bytes| bytes.truncate(bytes.len() / 2));
    assert!(stderr.contains("is damaged"), "{stderr}");
    // Not an entry at all.
    let stderr = after_editing_the_entry("tiny", |bytes| *bytes = b"hello".to_vec());
    assert!(
        stderr.contains("not an exelock layer cache entry"),
        "{stderr}"
    );
}

#[test]
fn an_entry_of_another_version_is_ignored_quietly_and_rewritten() {
    // The format number, after the 8-byte magic.
    let stderr = after_editing_the_entry("tiny", |bytes| bytes[8] = bytes[8].wrapping_add(1));
    assert!(!stderr.contains("layer cache"), "{stderr}");
    // The exelock version string (after the format and its u32 length): another release.
    let version = env!("CARGO_PKG_VERSION").as_bytes();
    let stderr = after_editing_the_entry("tiny", |bytes| {
        assert_eq!(&bytes[16..16 + version.len()], version);
        bytes[16] = if bytes[16] == b'9' { b'8' } else { b'9' };
    });
    assert!(!stderr.contains("layer cache"), "{stderr}");
}

#[test]
fn eviction_keeps_the_cap_and_the_recently_used() {
    let cache = tempfile::tempdir().unwrap();
    let sizes = |names: &[String]| -> u64 {
        let all = entries(cache.path());
        names.iter().map(|name| all[name].len() as u64).sum()
    };
    let names = |image: &str| -> Vec<String> {
        diff_ids(&Layout::image(image))
            .iter()
            .map(|d| d.trim_start_matches("sha256:").to_owned())
            .collect()
    };
    let (traps, demo, tiny, twice) = (names("traps"), names("demo"), names("tiny"), names("twice"));
    let all: BTreeSet<&String> = traps
        .iter()
        .chain(&demo)
        .chain(&tiny)
        .chain(&twice)
        .collect();
    assert_eq!(
        all.len(),
        traps.len() + demo.len() + tiny.len() + twice.len()
    );
    for image in ["traps", "demo", "tiny", "twice"] {
        scan(
            Some(cache.path()),
            &[&format!("oci:testdata/images/{image}"), "-q"],
        );
    }
    let (traps_size, twice_size) = (sizes(&traps), sizes(&twice));
    let tiny_size = sizes(&tiny);
    // Use traps again: now the most recently used, then twice.
    scan(Some(cache.path()), &["oci:testdata/images/traps", "-q"]);
    // Room for traps, tiny and twice only: demo, the least recently used, goes when the next
    // write (multiarch's) runs eviction; then everything beyond the cap in LRU order.
    let cap = traps_size + tiny_size + twice_size;
    let cap_text = cap.to_string();
    scan(
        Some(cache.path()),
        &[
            "oci:testdata/images/multiarch",
            "-q",
            "--cache-max-size",
            &cap_text,
        ],
    );
    let left = entries(cache.path());
    let total: u64 = left.values().map(|bytes| bytes.len() as u64).sum();
    assert!(total <= cap, "{total} > {cap}");
    for name in &demo {
        assert!(!left.contains_key(name), "demo's entry {name} was kept");
    }
    for name in &traps {
        assert!(
            left.contains_key(name),
            "traps' entry {name}, used last, was evicted"
        );
    }
    // multiarch's default platform, linux/amd64, is its first.
    let written = &names("multiarch")[0];
    assert!(
        left.contains_key(written),
        "the entry just written was evicted"
    );
    // A cap below one entry keeps nothing, and scans still work.
    let output = run(
        Some(cache.path()),
        &[
            "scan",
            "--format",
            "json",
            "-q",
            "oci:testdata/images/demo",
            "--cache-max-size",
            "1B",
        ],
    );
    assert_success(&output);
    assert!(entries(cache.path()).is_empty());
    // Sizes parse with units, and a bad one is a usage error naming it.
    let output = run(
        Some(cache.path()),
        &[
            "scan",
            "oci:testdata/images/tiny",
            "--cache-max-size",
            "2 lightyears",
        ],
    );
    assert_input_error(&output, "lightyears");
}

#[test]
fn concurrent_scans_sharing_a_cache_agree() {
    let cache = tempfile::tempdir().unwrap();
    let images = ["oci:testdata/images/traps", "oci:testdata/images/demo"];
    let cold: Vec<Vec<u8>> = images.iter().map(|i| scan(None, &[i, "-q"])).collect();
    for round in 0..2 {
        let children: Vec<_> = (0..6)
            .map(|n| {
                let mut command = exelock_caching_in(Some(cache.path()));
                command
                    .args(["scan", "--format", "json", "-q", images[n % 2]])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped());
                (n % 2, command.spawn().unwrap())
            })
            .collect();
        for (which, child) in children {
            let output = child.wait_with_output().unwrap();
            assert!(
                output.status.success(),
                "round {round}: {}",
                stderr(&output)
            );
            assert!(
                output.stdout == cold[which],
                "round {round}: {} differs",
                images[which]
            );
        }
    }
    // No temporary file is left behind, and every entry decodes (a warm scan says nothing
    // about the cache).
    for name in entries(cache.path()).keys() {
        assert!(!name.starts_with('.'), "left over: {name}");
    }
    for image in images {
        let output = run(Some(cache.path()), &["scan", "--format", "json", image]);
        assert_success(&output);
        assert!(!stderr(&output).contains("cache"), "{}", stderr(&output));
    }
}

#[test]
fn every_scanning_command_takes_the_cache_flags() {
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().to_str().unwrap();
    for command in [
        vec!["scan", "oci:testdata/images/tiny", "--format", "json"],
        vec![
            "diff",
            "oci:testdata/images/tiny",
            "oci:testdata/images/demo",
            "--format",
            "json",
        ],
    ] {
        // The flag alone, no environment (the other directory must stay empty).
        let elsewhere = tempfile::tempdir().unwrap();
        let output = Command::from_std(exelock_caching_in(Some(elsewhere.path())))
            .env_remove("EXELOCK_CACHE_DIR")
            .env("XDG_CACHE_HOME", elsewhere.path())
            .args(&command)
            .args(["-q", "--cache-dir", dir])
            .output()
            .unwrap();
        assert!(output.status.success(), "{command:?}: {}", stderr(&output));
        assert!(entries(&elsewhere.path().join("exelock")).is_empty());
    }
    // --no-cache (here from the environment) wins over --cache-dir: nothing more is written.
    let before = entries(cache.path());
    assert!(!before.is_empty());
    let output = run(
        None,
        &[
            "scan",
            "oci:testdata/images/traps",
            "-q",
            "--cache-dir",
            dir,
        ],
    );
    assert_success(&output);
    assert_eq!(entries(cache.path()), before);
    for command in ["gate", "attest"] {
        let output = run(None, &[command, "--help"]);
        let help = String::from_utf8_lossy(&output.stdout);
        for flag in ["--cache-dir", "--no-cache", "--cache-max-size"] {
            assert!(help.contains(flag), "{command} --help lacks {flag}");
        }
    }
}

#[test]
fn output_dir_refuses_what_it_cannot_write_faithfully() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("out");
    let dir = dir.to_str().unwrap();
    // Two references, one file name: refused before anything is scanned or written.
    let output = run(
        None,
        &[
            "scan",
            "-q",
            "--output-dir",
            dir,
            "oci:testdata/images/tiny",
            "oci:testdata/images/tiny",
        ],
    );
    assert_input_error(&output, "list each image once");
    assert!(!Path::new(dir).exists());
    // Tables are for terminals; the directory holds JSON manifests.
    let output = run(
        None,
        &[
            "scan",
            "-q",
            "--format",
            "table",
            "--output-dir",
            dir,
            "oci:testdata/images/tiny",
        ],
    );
    assert_input_error(&output, "--output-dir writes JSON");
    // An empty list is a usage error naming what is missing.
    let list = work.path().join("empty.txt");
    fs_err::write(&list, "# nothing yet\n\n").unwrap();
    let output = run(None, &["scan", "-q", "--from-file", list.to_str().unwrap()]);
    assert_input_error(&output, "no image to scan");
}
