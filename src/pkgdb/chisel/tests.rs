use std::collections::BTreeMap;
use std::io::Write as _;

use super::*;
use crate::pkgdb::testing::{
    assert_error_mentions, damaged_copies, distro, file, fixture, fixture_text, go_strings,
    hex_digest, package,
};

const OPENSSL: &str = "chisel/ubuntu-24.04-openssl/var/lib/chisel/manifest.wall";
const BASE_FILES: &str = "chisel/ubuntu-24.04-base-files/var/lib/chisel/manifest.wall";
const UNCOMPRESSED: &str = "chisel/ubuntu-24.04-arm64-uncompressed/manifest-uncompressed.wall";
const SCALIBR_EXPECTATIONS: &str = "chisel/_expectations/osv-scalibr/chisel_test.go";
const SYFT_EXPECTATIONS: &str = "chisel/_expectations/syft/chisel_manifest_parser_test.go";

fn noble() -> Distro {
    distro("ubuntu", "24.04")
}

fn name_versions(set: &PackageSet) -> Vec<(String, String)> {
    set.packages
        .iter()
        .map(|package| (package.name.clone(), package.version.clone()))
        .collect()
}

/// `(name, version)` pairs of an osv-scalibr test case: its `Name:` and `Version:` lines.
fn scalibr_case(from: &str, to: &str) -> Vec<(String, String)> {
    let go = fixture_text(SCALIBR_EXPECTATIONS);
    let names = go_strings(&go, from, to, "Name:");
    let versions = go_strings(&go, from, to, "Version:");
    assert_eq!(names.len(), versions.len());
    names.into_iter().zip(versions).collect()
}

// osv-scalibr's chisel_test.go, case "valid manifest wall file": base-files, libc6,
// libssl3t64 and openssl, all amd64.
#[test]
fn openssl_manifest_lists_what_osv_scalibr_expects() {
    let set = read_chisel_manifest(&fixture(OPENSSL), &noble()).unwrap();
    let expected = scalibr_case(
        "\"valid manifest wall file\"",
        "name:             \"empty\"",
    );
    assert_eq!(expected.len(), 4);
    assert_eq!(name_versions(&set), expected);
    assert!(set.packages.iter().all(|package| package.arch == "amd64"));
    assert!(
        set.packages
            .iter()
            .all(|package| package.database == Database::Chisel)
    );
    // Checked by hand against the decompressed manifest.
    let libc = file(&set, "/usr/lib/x86_64-linux-gnu/libc.so.6");
    assert_eq!(set.packages[libc.package].name, "libc6");
    assert!(libc.digest.is_some());
    // tools/verify_digests.out: /etc/ld.so.conf.d/x86_64-linux-gnu.conf sha256=f03e4740….
    let conf = file(&set, "/etc/ld.so.conf.d/x86_64-linux-gnu.conf");
    assert_eq!(
        hex_digest(conf),
        Some("f03e4740e6922b4f4a1181cd696b52f62f9f10d003740a8940f7121795c59c98".into())
    );
}

// osv-scalibr's "VERSION_CODENAME not set" case: base-files 13ubuntu10.2, amd64.
#[test]
fn base_files_manifest_lists_what_osv_scalibr_expects() {
    let set = read_chisel_manifest(&fixture(BASE_FILES), &Distro::default()).unwrap();
    let expected = scalibr_case(
        "\"VERSION_CODENAME not set, fallback to VERSION_ID\"",
        "wantResultMetric",
    );
    assert_eq!(name_versions(&set), expected);
    assert_eq!(
        set.packages[0].purl,
        "pkg:deb/ubuntu/base-files@13ubuntu10.2?arch=amd64"
    );
    // 20 path entries, 13 of them directories (ending in `/`).
    assert_eq!(set.files.len(), 7);
    let copyright = file(&set, "/usr/share/doc/base-files/copyright");
    assert_eq!(
        hex_digest(copyright),
        Some("fd7e4aae7e7b05f217bcf2d02322825c360e66c52c4c2f1b28d784d6297a1c23".into())
    );
}

/// syft's expected packages: name, version, and each file's path and SHA-256 (hex), from the
/// `newExpectedPackage(…)` blocks of chisel_manifest_parser_test.go.
/// Packages as (name, version) → their files as (path, SHA-256 hex).
type FilesByPackage = BTreeMap<(String, String), Vec<(String, Option<String>)>>;

fn syft_expected() -> FilesByPackage {
    let go = fixture_text(SYFT_EXPECTATIONS);
    let mut expected = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    let quoted = |line: &str| -> Vec<String> {
        line.split('"')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    };
    for line in go
        .lines()
        .skip_while(|line| !line.contains("expected := []pkg.Package{"))
        .take_while(|line| !line.contains("pkgtest.NewCatalogTester()"))
    {
        let line = line.trim();
        if line.starts_with("newExpectedPackage(") {
            let strings = quoted(line);
            let key = (strings[0].clone(), strings[1].clone());
            expected.insert(key.clone(), Vec::new());
            current = Some(key);
        } else if line.starts_with("{Path: ") {
            let strings = quoted(line);
            let key = current.clone().unwrap();
            expected
                .get_mut(&key)
                .unwrap()
                .push((strings[0].clone(), strings.get(1).cloned()));
        }
    }
    expected
}

fn grouped(set: &PackageSet) -> FilesByPackage {
    let mut got: BTreeMap<_, Vec<_>> = set
        .packages
        .iter()
        .map(|package| ((package.name.clone(), package.version.clone()), Vec::new()))
        .collect();
    for file in &set.files {
        let package = &set.packages[file.package];
        got.get_mut(&(package.name.clone(), package.version.clone()))
            .unwrap()
            .push((
                String::from_utf8(file.path.clone()).unwrap(),
                hex_digest(file),
            ));
    }
    for files in got.values_mut() {
        files.sort();
    }
    got
}

// syft's TestParseChiselManifest: ten arm64 packages, every non-directory path with its
// SHA-256 (none for symlinks and the manifest itself), for the plain and the zstd copy.
#[test]
fn uncompressed_and_compressed_manifests_match_syft() {
    let plain = fixture(UNCOMPRESSED);
    let expected = syft_expected();
    assert_eq!(expected.len(), 10);
    let set = read_chisel_manifest(&plain, &noble()).unwrap();
    assert_eq!(grouped(&set), expected);
    assert!(set.packages.iter().all(|package| package.arch == "arm64"));

    let compressed = zstd::stream::encode_all(plain.as_slice(), 3).unwrap();
    assert_eq!(read_chisel_manifest(&compressed, &noble()).unwrap(), set);

    // syft builds `…@` + url.QueryEscape(version), which also encodes `:` as %3A; ECMA-427
    // §5.4 says a colon is never encoded, so the epoch stays as it is.
    let purl = |name: &str| package(&set, name).1.purl.clone();
    assert_eq!(
        purl("zlib1g"),
        "pkg:deb/ubuntu/zlib1g@1:1.3.dfsg-3.1ubuntu2.1?arch=arm64&distro=ubuntu-24.04"
    );
    assert_eq!(
        purl("libzstd1"),
        "pkg:deb/ubuntu/libzstd1@1.5.5%2Bdfsg2-2build1.1?arch=arm64&distro=ubuntu-24.04"
    );
}

// syft's TestChiselEntriesByPackage_FinalSHA256: the manifest in its backquoted `content`
// string; the final digest wins over the packaged one.
#[test]
fn final_sha256_wins_as_in_syft() {
    let go = fixture_text(SYFT_EXPECTATIONS);
    let start = go.find("content := `").unwrap() + "content := `".len();
    let end = start + go[start..].find('`').unwrap();
    let set = read_chisel_manifest(&go.as_bytes()[start..end], &Distro::default()).unwrap();
    assert_eq!(set.files.len(), 1);
    assert_eq!(set.files[0].path, b"/usr/lib/os-release");
    assert_eq!(
        hex_digest(&set.files[0]),
        Some("a4442dc4dd6a678f059ce0eb1848b4e4e2e39334e64a0e10c8c1d7b607b62ba0".into())
    );
    assert_eq!(
        set.files[0].digest.as_ref().unwrap().algorithm,
        DigestAlgorithm::Sha256
    );
}

#[test]
fn a_path_of_two_packages_belongs_to_both() {
    let manifest = br#"{"jsonwall":"1.0","schema":"1.0","count":4}
{"kind":"package","name":"a","version":"1","sha256":"00","arch":"all"}
{"kind":"package","name":"b","version":"2","sha256":"00","arch":"all"}
{"kind":"path","path":"/usr/bin/x","mode":"0755","slices":["a_bins","b_bins","a_more"],"sha256":"0000000000000000000000000000000000000000000000000000000000000000","size":1}
"#;
    let set = read_chisel_manifest(manifest, &Distro::default()).unwrap();
    let owners: Vec<_> = set.files.iter().map(|file| file.package).collect();
    assert_eq!(owners, [0, 1]);
}

#[test]
fn malformed_manifests_are_errors() {
    let header = r#"{"jsonwall":"1.0","schema":"1.0","count":3}"#;
    let package = r#"{"kind":"package","name":"a","version":"1","sha256":"00","arch":"all"}"#;
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "empty manifest"),
        ("not json\n".into(), "not a jsonwall header"),
        (
            r#"{"jsonwall":"2.0","count":1}"#.into(),
            "unsupported jsonwall",
        ),
        (
            r#"{"jsonwall":"1.0","schema":"2.0","count":1}"#.into(),
            "unsupported manifest schema",
        ),
        (
            format!("{header}\n{package}\n"),
            "line count (got 2, expected 3",
        ),
        (
            format!(
                "{header}\n{package}\n{}\n",
                r#"{"kind":"path","path":"/x","slices":["z_bins"]}"#
            ),
            "of an unlisted package",
        ),
        (
            format!(
                "{header}\n{package}\n{}\n",
                r#"{"kind":"path","path":"/x","slices":["a_bins"],"sha256":"abc"}"#
            ),
            "not a SHA-256",
        ),
        (
            format!(
                "{header}\n{package}\n{}\n",
                r#"{"kind":"path","path":"/x","slices":["nounderscore"]}"#
            ),
            "is not <package>_<slice>",
        ),
        (
            format!(
                "{header}\n{package}\n{}\n",
                r#"{"kind":"path","path":"x","slices":["a_bins"]}"#
            ),
            "not an absolute path",
        ),
        (format!("{header}\n{package}\n{package}\n"), "listed twice"),
        (
            format!("{header}\n{package}\n{{\"kind\":1}}\n"),
            "not a manifest entry",
        ),
    ];
    for (manifest, reason) in cases {
        assert_error_mentions(
            read_chisel_manifest(manifest.as_bytes(), &Distro::default()),
            &[MANIFEST_FILE, reason],
        );
    }
    assert_error_mentions(
        read_chisel_manifest(&[0x28, 0xb5, 0x2f, 0xfd, 0, 0], &Distro::default()),
        &["bad zstd stream"],
    );
}

#[test]
fn zstd_bombs_are_refused() {
    // A frame that asks for a 128 MiB window.
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
    encoder.window_log(27).unwrap();
    encoder.write_all(&[b'{'; 4096]).unwrap();
    let wide = encoder.finish().unwrap();
    let error = read_chisel_manifest(&wide, &Distro::default()).unwrap_err();
    assert!(matches!(error, Error::Malformed { .. }), "{error:?}");

    // More than the size limit once decompressed.
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
    let chunk = vec![b'\n'; 1 << 20];
    for _ in 0..=(MAX_TEXT_DATABASE_BYTES >> 20) {
        encoder.write_all(&chunk).unwrap();
    }
    let big = encoder.finish().unwrap();
    assert!(big.len() < 1 << 20);
    let error = read_chisel_manifest(&big, &Distro::default()).unwrap_err();
    assert!(matches!(error, Error::TooLarge { .. }), "{error:?}");
}

#[test]
fn damaged_manifests_never_panic() {
    let mut outcomes = [0usize; 2];
    let plain = fixture(UNCOMPRESSED);
    for relative in [OPENSSL, BASE_FILES, UNCOMPRESSED] {
        let bytes = fixture(relative);
        for damaged in damaged_copies(&bytes, 600) {
            let result = read_chisel_manifest(&damaged, &Distro::default());
            outcomes[usize::from(result.is_ok())] += 1;
        }
    }
    // Damage under the compression, where the JSON parser sees it.
    let decompressed = zstd::stream::decode_all(fixture(OPENSSL).as_slice()).unwrap();
    for damaged in damaged_copies(&decompressed, 500).chain(damaged_copies(&plain, 200)) {
        let result = read_chisel_manifest(&damaged, &Distro::default());
        outcomes[usize::from(result.is_ok())] += 1;
    }
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
}
