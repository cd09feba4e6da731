use super::*;
use crate::pkgdb::testing::{
    assert_error_mentions, damaged_copies, distro, file, fixture, package, paths, sha1, versions,
};

fn read(relative: &str, distro: &Distro) -> PackageSet {
    read_apk_installed(&fixture(relative), distro).unwrap()
}

/// Asserts that `set` has, among others, each package of `name_versions` (`name@version`).
fn assert_lists(set: &PackageSet, name_versions: &[&str]) {
    let got = versions(set);
    for expected in name_versions {
        assert!(
            got.iter().any(|got| got == expected),
            "{expected} in {got:?}"
        );
    }
}

/// How many files have a checksum.
fn with_digest(set: &PackageSet) -> usize {
    set.files
        .iter()
        .filter(|file| file.digest.is_some())
        .count()
}

/// The excerpt `apk/excerpts/<name>`, read for no known distribution, after checking that it
/// holds the one package `name_version` (`name@version`).
fn read_excerpt(name: &str, name_version: &str) -> PackageSet {
    let set = read(&format!("apk/excerpts/{name}"), &Distro::default());
    assert_eq!(versions(&set), [name_version]);
    set
}

const ALPINE_3_16: &str = "apk/alpine-3.16/lib/apk/db/installed";
const ALPINE_3_18: &str = "apk/alpine-3.18/lib/apk/db/installed";

// The README: a stock alpine:3.16 image, 14 packages with musl 1.2.3-r0, busybox 1.35.0-r17,
// apk-tools 2.12.9-r3, and 105 Q1 checksums.
#[test]
fn alpine_3_16() {
    let set = read(ALPINE_3_16, &distro("alpine", "3.16.0"));
    assert_eq!(set.packages.len(), 14);
    assert_lists(
        &set,
        &["musl@1.2.3-r0", "busybox@1.35.0-r17", "apk-tools@2.12.9-r3"],
    );
    let (_, musl) = package(&set, "musl");
    assert_eq!(musl.arch, "x86_64");
    assert_eq!(musl.database, Database::Apk);
    assert_eq!(
        musl.purl,
        "pkg:apk/alpine/musl@1.2.3-r0?arch=x86_64&distro=alpine-3.16.0"
    );
    assert_eq!(with_digest(&set), 105);
    // 142 F: directories and 105 R: files.
    assert_eq!(set.files.len(), 142 + 105);
    // tools/verify_digests.out: etc/fstab of alpine-baselayout-data is Q11Q7hNe… = d50ee135….
    let fstab = file(&set, "/etc/fstab");
    assert_eq!(set.packages[fstab.package].name, "alpine-baselayout-data");
    assert_eq!(
        fstab.digest,
        sha1("d50ee135ef10a434b9df582ea8276b5c1ce803fa")
    );
    assert!(set.files.iter().all(|file| !file.config_file));
}

// The README: alpine:3.18, 15 packages with musl 1.2.4-r0, busybox 1.36.0-r9,
// apk-tools 2.14.0-r0, and 109 Q1 checksums.
#[test]
fn alpine_3_18() {
    let set = read(ALPINE_3_18, &Distro::default());
    assert_eq!(set.packages.len(), 15);
    assert_lists(
        &set,
        &["musl@1.2.4-r0", "busybox@1.36.0-r9", "apk-tools@2.14.0-r0"],
    );
    assert_eq!(with_digest(&set), 109);
    // Checked by hand: F:bin, R:busybox, a:0:0:755, Z:Q1OmLhI9w7g4Lu+WFK3pG0S1uRXuM=.
    let busybox = file(&set, "/bin/busybox");
    assert_eq!(set.packages[busybox.package].name, "busybox");
    assert_eq!(
        busybox.digest,
        sha1("3a62e123dc3b8382eef9614ade91b44b5b915ee3")
    );
    // The same file name in another directory is another file.
    assert!(file(&set, "/etc/busybox-paths.d/busybox").digest.is_some());
    // tools/verify_digests.out: alpine-baselayout's etc/motd.
    assert_eq!(
        file(&set, "/etc/motd").digest,
        sha1("48b912f610627546cfc30af0f974745a1bf7c30f")
    );
    let (_, musl) = package(&set, "musl");
    assert_eq!(musl.purl, "pkg:apk/alpine/musl@1.2.4-r0?arch=x86_64");
}

// syft's expectation (parse_apk_db_test.go, TestExtraFileAttributes): five directories, then
// policytool with digest Q1M0C9qfC/+kdRiOodeihG2GMRtkE=; the fourth `a:` field is ignored.
#[test]
fn extra_file_attributes_match_syft() {
    let set = read_excerpt("openjdk8-jre-xattr.installed", "openjdk8-jre@8.212.04-r0");
    assert_eq!(
        paths(&set.files),
        [
            "/usr",
            "/usr/lib",
            "/usr/lib/jvm",
            "/usr/lib/jvm/java-1.8-openjdk",
            "/usr/lib/jvm/java-1.8-openjdk/bin",
            "/usr/lib/jvm/java-1.8-openjdk/bin/policytool",
        ]
    );
    assert!(set.files[..5].iter().all(|file| file.digest.is_none()));
    let expected = base64::engine::general_purpose::STANDARD
        .decode("M0C9qfC/+kdRiOodeihG2GMRtkE=")
        .unwrap();
    assert_eq!(
        set.files[5].digest,
        Some(PackagedDigest {
            algorithm: DigestAlgorithm::Sha1,
            bytes: expected
        })
    );
}

// syft's TestSinglePackageDetails reads musl-utils 1.1.24-r2 with these files.
#[test]
fn musl_utils_excerpt() {
    let set = read_excerpt("alpine-3.12-musl-utils.installed", "musl-utils@1.1.24-r2");
    assert_eq!(
        paths(&set.files),
        [
            "/sbin",
            "/sbin/ldconfig",
            "/usr",
            "/usr/bin",
            "/usr/bin/iconv",
            "/usr/bin/ldd",
            "/usr/bin/getconf",
            "/usr/bin/getent",
        ]
    );
    // tools/verify_digests.out: sbin/ldconfig is Q1Kja2+… = 2a36b6f8….
    assert_eq!(
        file(&set, "/sbin/ldconfig").digest,
        sha1("2a36b6f8f3992b112450e66ac128c2ea499a103e")
    );
}

#[test]
fn baselayout_excerpt_with_directory_acls() {
    let set = read_excerpt(
        "alpine-baselayout-3.2.0-r6.installed",
        "alpine-baselayout@3.2.0-r6",
    );
    assert_eq!(set.files.len(), 69 + 27);
    assert_eq!(with_digest(&set), 27);
}

#[test]
fn checksum_encodings() {
    let sha1 = [0x5a; 20];
    let sha256 = [0xa5; 32];
    let q1 = format!(
        "Q1{}",
        base64::engine::general_purpose::STANDARD.encode(sha1)
    );
    let q2 = format!(
        "Q2{}",
        base64::engine::general_purpose::STANDARD.encode(sha256)
    );
    type Decoded = Option<(DigestAlgorithm, Vec<u8>)>;
    let cases: Vec<(String, Decoded)> = vec![
        (q1, Some((DigestAlgorithm::Sha1, sha1.to_vec()))),
        (q2, Some((DigestAlgorithm::Sha256, sha256.to_vec()))),
        (
            format!("X1{}", hex::encode(sha1)),
            Some((DigestAlgorithm::Sha1, sha1.to_vec())),
        ),
        // A legacy MD5 whose second digit is 1 is still an MD5.
        (
            "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1".into(),
            Some((DigestAlgorithm::Md5, vec![0xa1; 16])),
        ),
        ("Q3AAAA".into(), None),
        ("Q1AAAA".into(), None),
        ("Q1!!!!".into(), None),
        ("abc".into(), None),
        (String::new(), None),
    ];
    for (text, expected) in cases {
        let got = decode_checksum(text.as_bytes()).map(|digest| (digest.algorithm, digest.bytes));
        assert_eq!(got, expected, "{text}");
    }
}

#[test]
fn files_before_any_directory_are_in_the_root() {
    let set = read_apk_installed(
        b"P:a\nV:1\nR:top\nZ:X1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
        &Distro::default(),
    )
    .unwrap();
    assert_eq!(set.files[0].path, b"/top");
    assert!(set.files[0].digest.is_some());
}

#[test]
fn malformed_records_are_errors() {
    let cases: &[(&[u8], &str)] = &[
        (b"P:a\nno colon\n", "not a `<letter>:<value>` line"),
        (b"P:a\nP:b\n", "P: twice"),
        (b"V:1\nF:etc\n", "record without a P: name"),
        (b"P:a\nF:etc\nZ:Q1M0C9qfC/+kdRiOodeihG2GMRtkE=\n", "Z: without an R:"),
        (b"P:a\nF:etc\nR:x\nZ:Q1M0C9\n", "unreadable checksum"),
        (
            b"P:a\nF:etc\nR:x\nZ:Q1M0C9qfC/+kdRiOodeihG2GMRtkE=\nZ:Q1M0C9qfC/+kdRiOodeihG2GMRtkE=\n",
            "a second Z:",
        ),
        (b"P:\xff\n", "not UTF-8"),
    ];
    for (bytes, reason) in cases {
        assert_error_mentions(
            read_apk_installed(bytes, &Distro::default()),
            &["lib/apk/db/installed", reason],
        );
    }
    assert!(
        read_apk_installed(b"", &Distro::default())
            .unwrap()
            .packages
            .is_empty()
    );
    assert!(
        read_apk_installed(b"\n\n\n", &Distro::default())
            .unwrap()
            .packages
            .is_empty()
    );
}

#[test]
fn damaged_fixtures_never_panic() {
    let mut outcomes = [0usize; 2];
    for relative in [
        ALPINE_3_16,
        ALPINE_3_18,
        "apk/excerpts/openjdk8-jre-xattr.installed",
        "apk/excerpts/alpine-baselayout-3.2.0-r6.installed",
    ] {
        let bytes = fixture(relative);
        for damaged in damaged_copies(&bytes, 500) {
            let result = read_apk_installed(&damaged, &Distro::default());
            outcomes[usize::from(result.is_ok())] += 1;
        }
    }
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
}
