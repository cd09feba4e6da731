//! Tests of the RPM readers against real databases and their source projects' expectations,
//! plus robustness against damaged input.

use std::path::Path;

use proptest::prelude::*;
use serde::Deserialize;

use super::header::{HeaderError, parse_header};
use super::*;
use crate::pkgdb::testing::{
    self, assert_error_mentions, distro, file, files_of, hex_digest, package, sha256,
};
use crate::pkgdb::{DigestAlgorithm, PackagedDigest};

/// The bytes of `testdata/pkgdb/rpm/<relative>`.
fn fixture(relative: &str) -> Vec<u8> {
    testing::fixture(&format!("rpm/{relative}"))
}

/// The header blobs of a database, in the reader's order.
fn header_blobs(database: Database, bytes: &[u8]) -> Vec<Vec<u8>> {
    let source = Source::new(database, "test", bytes).unwrap();
    let mut blobs = Vec::new();
    let mut collect = |_: String, blob: &[u8]| {
        blobs.push(blob.to_vec());
        Ok(())
    };
    match database {
        Database::RpmSqlite => sqlite::for_each_header(&source, bytes, &mut collect),
        Database::RpmBerkeleyDb => bdb::for_each_header(&source, bytes, &mut collect),
        Database::RpmNdb => ndb::for_each_header(&source, bytes, &mut collect),
        other => panic!("{other} is not an RPM database"),
    }
    .unwrap();
    blobs
}

/// `(name, [epoch:]version-release, arch)` of each row of an `rpm -qa` listing made with
/// go-rpmdb's `command.sh` query format: U+00B6-separated epoch, name, version, release,
/// arch, …
fn rpm_qa_listing(relative: &str) -> Vec<(String, String, String)> {
    let text = String::from_utf8(fixture(relative)).unwrap();
    let mut rows: Vec<_> = text
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\u{b6}').collect();
            let (epoch, name, version, release, arch) =
                (fields[0], fields[1], fields[2], fields[3], fields[4]);
            let version = if epoch.is_empty() {
                format!("{version}-{release}")
            } else {
                format!("{epoch}:{version}-{release}")
            };
            (name.to_owned(), version, arch.to_owned())
        })
        .collect();
    rows.sort();
    rows
}

fn package_rows(set: &PackageSet) -> Vec<(String, String, String)> {
    let mut rows: Vec<_> = set
        .packages
        .iter()
        .map(|package| {
            (
                package.name.clone(),
                package.version.clone(),
                package.arch.clone(),
            )
        })
        .collect();
    rows.sort();
    rows
}

/// The fixture database `relative`, read as `var/lib/rpm/<its file name>` for `distro`.
fn read_fixture(database: Database, relative: &str, distro: &Distro) -> PackageSet {
    let file_name = relative.rsplit('/').next().unwrap();
    read_rpm(
        database,
        &fixture(relative),
        &format!("var/lib/rpm/{file_name}"),
        distro,
    )
    .unwrap()
}

/// The hummingbird database, read at its path in the image, `usr/lib/sysimage/rpm`.
fn read_hummingbird() -> PackageSet {
    read_rpm_sqlite(
        &fixture("hummingbird/rpmdb.sqlite"),
        "usr/lib/sysimage/rpm/rpmdb.sqlite",
        &distro("hummingbird", ""),
    )
    .unwrap()
}

/// A row of [`package_rows`].
fn row(name: &str, version: &str, arch: &str) -> (String, String, String) {
    (name.to_owned(), version.to_owned(), arch.to_owned())
}

/// The fixture database `relative`, as [`read_fixture`] reads it, after checking that it holds
/// the `count` packages of the `rpm -qa` listing beside it (`expected/packages.csv`), each
/// marked as read from `database`.
fn read_listed_fixture(
    database: Database,
    relative: &str,
    distro: &Distro,
    count: usize,
) -> PackageSet {
    let set = read_fixture(database, relative, distro);
    let directory = relative.rsplit_once('/').unwrap().0;
    let expected = rpm_qa_listing(&format!("{directory}/expected/packages.csv"));
    assert_eq!(expected.len(), count);
    assert_eq!(package_rows(&set), expected);
    assert!(
        set.packages
            .iter()
            .all(|package| package.database == database)
    );
    set
}

/// Whether the package `name` lists `path` with a digest.
fn lists_with_digest(set: &PackageSet, name: &str, path: &str) -> bool {
    files_of(set, name)
        .iter()
        .any(|file| file.path == path.as_bytes() && file.digest.is_some())
}

#[test]
fn amazonlinux_2023_sqlite_lists_what_rpm_qa_listed() {
    let set = read_listed_fixture(
        Database::RpmSqlite,
        "amazonlinux-2023/rpmdb.sqlite",
        &distro("amzn", "2023"),
        103,
    );

    let (_, bash) = package(&set, "bash");
    assert_eq!(
        bash.purl,
        format!(
            "pkg:rpm/amzn/bash@{}?arch=x86_64&distro=amzn-2023",
            bash.version
        )
    );
    // The gpg-pubkey pseudo-package has no arch and no files.
    let (key, _) = package(&set, "gpg-pubkey");
    assert_eq!(set.packages[key].arch, "");
    assert!(set.files.iter().all(|file| file.package != key));
    // Every packaged file's digest is SHA-256 (tag 5011 = 8 in every package here).
    assert!(
        set.files
            .iter()
            .flat_map(|file| &file.digest)
            .all(|digest| {
                digest.algorithm == DigestAlgorithm::Sha256 && digest.bytes.len() == 32
            })
    );
    assert!(lists_with_digest(&set, "bash", "/usr/bin/bash"));
}

#[test]
fn sles_15_bci_ndb_lists_what_rpm_qa_listed() {
    let set = read_listed_fixture(
        Database::RpmNdb,
        "sles-15-bci/pr42/Packages.db",
        &distro("sles", "15.3"),
        36,
    );
    assert!(lists_with_digest(
        &set,
        "system-user-root",
        "/usr/lib/sysusers.d/system-user-root.conf"
    ));
}

/// go-rpmdb's expectation for curl in the CBL-Mariner 2.0 database (`curl_files.json`).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GoRpmdbFile {
    path: String,
    mode: u16,
    digest: String,
    size: u64,
}

/// go-rpmdb's `PackageInfo` for curl (`curl.json`), the fields this reader reads.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GoRpmdbPackage {
    epoch: Option<u32>,
    name: String,
    version: String,
    release: String,
    arch: String,
    digest_algorithm: u32,
    base_names: Vec<String>,
    dir_names: Vec<String>,
    dir_indexes: Vec<u32>,
    file_digests: Vec<String>,
}

#[test]
fn mariner_curl_files_and_digests_match_go_rpmdb() {
    let bytes = fixture("cbl-mariner-2.0/rpmdb.sqlite");
    let expected_files: Vec<GoRpmdbFile> =
        serde_json::from_slice(&fixture("cbl-mariner-2.0/expected/curl_files.json")).unwrap();
    let expected_names: Vec<String> =
        serde_json::from_slice(&fixture("cbl-mariner-2.0/expected/curl_file_names.json")).unwrap();
    let expected_package: GoRpmdbPackage =
        serde_json::from_slice(&fixture("cbl-mariner-2.0/expected/curl.json")).unwrap();
    assert_eq!(expected_files.len(), 6);
    assert_eq!(expected_package.digest_algorithm, 8);

    // Header level: mode and size too.
    let blobs = header_blobs(Database::RpmSqlite, &bytes);
    let curl = blobs
        .iter()
        .map(|blob| parse_header(blob).unwrap())
        .find(|header| header.name == "curl")
        .unwrap();
    assert_eq!(
        (
            curl.epoch,
            curl.name.as_str(),
            curl.version.as_str(),
            curl.release.as_str(),
            curl.arch.as_str()
        ),
        (
            expected_package.epoch,
            expected_package.name.as_str(),
            expected_package.version.as_str(),
            expected_package.release.as_str(),
            expected_package.arch.as_str()
        )
    );
    let files: Vec<_> = curl.files().collect();
    let got: Vec<_> = files
        .iter()
        .map(|file| {
            (
                String::from_utf8(file.path.clone()).unwrap(),
                file.mode,
                file.size,
                file.digest.clone(),
            )
        })
        .collect();
    let want: Vec<_> = expected_files
        .iter()
        .map(|file| {
            (
                file.path.clone(),
                Some(file.mode),
                Some(file.size),
                sha256(&file.digest),
            )
        })
        .collect();
    assert_eq!(got, want);
    let paths_from_raw_tags: Vec<String> = expected_package
        .base_names
        .iter()
        .zip(&expected_package.dir_indexes)
        .map(|(base, &dir)| format!("{}{base}", expected_package.dir_names[dir as usize]))
        .collect();
    assert_eq!(paths_from_raw_tags, expected_names);
    assert_eq!(
        files
            .iter()
            .map(|file| file.digest.clone())
            .collect::<Vec<_>>(),
        expected_package
            .file_digests
            .iter()
            .map(|digest| sha256(digest))
            .collect::<Vec<_>>()
    );

    // Database level.
    let set = read_rpm_sqlite(
        &bytes,
        "var/lib/rpm/rpmdb.sqlite",
        &distro("mariner", "2.0"),
    )
    .unwrap();
    let got: Vec<_> = files_of(&set, "curl")
        .iter()
        .map(|file| (file.path.clone(), file.digest.clone()))
        .collect();
    let want: Vec<_> = expected_files
        .iter()
        .map(|file| (file.path.clone().into_bytes(), sha256(&file.digest)))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn rhel_8_libuuid_bdb_files_match_go_rpmdb() {
    let set = read_fixture(
        Database::RpmBerkeleyDb,
        "rhel-8-ubi8/libuuid/Packages",
        &distro("rhel", "8.8"),
    );
    assert_eq!(
        package_rows(&set),
        [row("libuuid", "2.32.1-42.el8_8", "x86_64")]
    );
    assert_eq!(
        set.packages[0].purl,
        "pkg:rpm/rhel/libuuid@2.32.1-42.el8_8?arch=x86_64&distro=rhel-8.8"
    );
    // Copied from knqyf263/go-rpmdb @ 7e39c901d1c4, pkg/rpmdb_testcase_test.go,
    // `LibuuidInstalledFiles` (path, digest; directories and symlinks have none).
    let expected = [
        ("/usr/lib/.build-id", ""),
        (
            "/usr/lib/.build-id/df/ef6a880adac817216ab9866779a0725e017647",
            "",
        ),
        ("/usr/lib64/libuuid.so.1", ""),
        (
            "/usr/lib64/libuuid.so.1.3.0",
            "3c8f59a0e39cce53501045859f5c9a86b82fedd558a2f4110ab1823047b43745",
        ),
        ("/usr/share/licenses/libuuid", ""),
        (
            "/usr/share/licenses/libuuid/COPYING",
            "f051c5b2e7ed25acac4b79d22b9e5df80447c16f9ec543d6ed21c213c576f6aa",
        ),
        (
            "/usr/share/licenses/libuuid/COPYING.BSD-3",
            "9b718a9460fed5952466421235bc79eb49d4e9eacc920d7a9dd6285ab8fd6c6d",
        ),
    ];
    let got: Vec<_> = set
        .files
        .iter()
        .map(|file| (file.path.clone(), file.digest.clone()))
        .collect();
    let want: Vec<_> = expected
        .iter()
        .map(|(path, digest)| (path.as_bytes().to_vec(), sha256(digest)))
        .collect();
    assert_eq!(got, want);

    // The same rows' modes and sizes, read at the header level.
    let blobs = header_blobs(
        Database::RpmBerkeleyDb,
        &fixture("rhel-8-ubi8/libuuid/Packages"),
    );
    let header = parse_header(&blobs[0]).unwrap();
    let modes_sizes: Vec<_> = header.files().map(|file| (file.mode, file.size)).collect();
    assert_eq!(
        modes_sizes,
        [0x41ed, 0xa1ff, 0xa1ff, 0x81ed, 0x41ed, 0x81a4, 0x81a4]
            .into_iter()
            .zip([0, 38, 16, 33496, 0, 217, 1391])
            .map(|(mode, size)| (Some(mode), Some(size)))
            .collect::<Vec<_>>()
    );
}

#[test]
fn centos_8_dive_bdb_matches_syft() {
    let set = read_rpm_berkeley_db(
        &fixture("centos-8/dive/Packages"),
        "var/lib/rpm/Packages",
        &Distro::default(),
    )
    .unwrap();
    // anchore/syft @ bf82010f3c38, syft/pkg/cataloger/redhat/parse_rpm_db_test.go: dive 0.9.2-1
    // x86_64 with one file, /usr/local/bin/dive, mode 33261, size 12406784, this sha256.
    assert_eq!(package_rows(&set), [row("dive", "0.9.2-1", "x86_64")]);
    assert_eq!(set.packages[0].purl, "pkg:rpm/rpm/dive@0.9.2-1?arch=x86_64");
    assert_eq!(
        set.files,
        [PackagedFile {
            path: b"/usr/local/bin/dive".to_vec(),
            package: 0,
            digest: sha256("81d29f327ba23096b3c52ff6fe1c425641e618bc87b5c05ee377edc650afaa55"),
            config_file: false,
        }]
    );
    let blobs = header_blobs(Database::RpmBerkeleyDb, &fixture("centos-8/dive/Packages"));
    let header = parse_header(&blobs[0]).unwrap();
    let file = header.files().next().unwrap();
    assert_eq!((file.mode, file.size), (Some(33261), Some(12_406_784)));
}

#[test]
fn fedora_32_epoch_package_has_epoch_in_version_and_purl() {
    // google/osv-scalibr @ c2094f2d68e3, extractor/filesystem/os/rpm/rpm_test.go, "custom rpm":
    // hello 0.0.1-rls, epoch 1, x86_64, on Fedora 32.
    let set = read_fixture(
        Database::RpmBerkeleyDb,
        "fedora-32/hello-epoch/Packages",
        &distro("fedora", "32"),
    );
    assert_eq!(package_rows(&set), [row("hello", "1:0.0.1-rls", "x86_64")]);
    assert_eq!(
        set.packages[0].purl,
        "pkg:rpm/fedora/hello@0.0.1-rls?arch=x86_64&distro=fedora-32&epoch=1"
    );
}

#[test]
fn tzdata_reads_from_both_bdb_and_sqlite() {
    // openshift-preflight's test/rpmdbs (README.upstream.md): one tzdata package installed
    // with `rpm -i` into a Berkeley DB made on UBI 7 and into an SQLite database made on
    // Fedora 36 — two builds of tzdata 2022a, so the same paths with different digests.
    let bdb = read_rpm_berkeley_db(
        &fixture("rhel-7-ubi7/tzdata/Packages"),
        "Packages",
        &Distro::default(),
    )
    .unwrap();
    let sqlite = read_rpm_sqlite(
        &fixture("fedora-36/tzdata/rpmdb.sqlite"),
        "rpmdb.sqlite",
        &Distro::default(),
    )
    .unwrap();
    assert_eq!(package_rows(&bdb), [row("tzdata", "2022a-1.el8", "noarch")]);
    assert_eq!(
        package_rows(&sqlite),
        [row("tzdata", "2022a-2.fc36", "noarch")]
    );
    assert!(bdb.files.len() > 1800, "tzdata lists every zone file");
    let sqlite_paths: std::collections::BTreeSet<&[u8]> = sqlite
        .files
        .iter()
        .map(|file| file.path.as_slice())
        .collect();
    assert!(
        bdb.files
            .iter()
            .all(|file| sqlite_paths.contains(file.path.as_slice()))
    );
    for set in [&bdb, &sqlite] {
        let utc = file(set, "/usr/share/zoneinfo/UTC");
        assert_eq!(
            utc.digest.as_ref().map(|digest| digest.algorithm),
            Some(DigestAlgorithm::Sha256)
        );
        let zoneinfo = file(set, "/usr/share/zoneinfo");
        assert_eq!(zoneinfo.digest, None, "a directory has no digest");
    }
}

#[test]
fn config_files_are_marked() {
    // setup's /etc/passwd is `%config(noreplace)` in its spec; its /usr/share/doc files are not.
    let set = read_hummingbird();
    assert!(file(&set, "/etc/passwd").config_file);
    let not_config = set
        .files
        .iter()
        .filter(|file| file.path.starts_with(b"/usr/share/doc/setup"))
        .collect::<Vec<_>>();
    assert!(!not_config.is_empty());
    assert!(not_config.iter().all(|file| !file.config_file));
}

#[test]
fn hummingbird_sqlite_lists_its_packages() {
    // coreos/chunkah's regenerate.sh installs filesystem and setup (and what they pull in).
    let set = read_hummingbird();
    let names: Vec<&str> = set
        .packages
        .iter()
        .map(|package| package.name.as_str())
        .collect();
    assert!(
        names.contains(&"filesystem") && names.contains(&"setup"),
        "{names:?}"
    );
    assert_eq!(set.packages.len(), 5);
    let (_, setup) = package(&set, "setup");
    assert!(
        setup.purl.starts_with("pkg:rpm/hummingbird/setup@"),
        "{}",
        setup.purl
    );
    assert!(
        setup.purl.ends_with("?arch=noarch&distro=hummingbird"),
        "{}",
        setup.purl
    );
    assert!(lists_with_digest(&set, "setup", "/etc/passwd"));
}

#[test]
fn non_rpm_database_kinds_are_refused() {
    assert_error_mentions(
        read_rpm(
            Database::Dpkg,
            b"",
            "var/lib/dpkg/status",
            &Distro::default(),
        ),
        &["not an RPM database kind"],
    );
}

#[test]
fn each_reader_refuses_the_other_formats() {
    let sqlite = fixture("fedora-36/tzdata/rpmdb.sqlite");
    let bdb = fixture("rhel-8-ubi8/libuuid/Packages");
    let ndb = fixture("sles-15-bci/pr42/Packages.db");
    for (database, wrong) in [
        (Database::RpmSqlite, &bdb),
        (Database::RpmBerkeleyDb, &ndb),
        (Database::RpmNdb, &sqlite),
        (Database::RpmSqlite, &ndb),
    ] {
        let err = read_rpm(database, wrong, "db", &Distro::default()).unwrap_err();
        assert!(matches!(err, Error::Malformed { .. }), "{database}: {err}");
    }
}

// ---- header blobs built by hand ----

/// An entry to put into a hand-built header: tag, type, count, data.
struct RawEntry {
    tag: u32,
    data_type: u32,
    count: u32,
    data: Vec<u8>,
}

fn string(tag: u32, value: &str) -> RawEntry {
    raw_entry(tag, 6, 1, [value.as_bytes(), b"\0"].concat())
}

/// An entry of `data_type` (rpm's `RPM_*_TYPE` number) holding `count` values, encoded in
/// `data`.
fn raw_entry(tag: u32, data_type: u32, count: usize, data: Vec<u8>) -> RawEntry {
    RawEntry {
        tag,
        data_type,
        count: u32::try_from(count).unwrap(),
        data,
    }
}

fn strings(tag: u32, values: &[&str]) -> RawEntry {
    let data = values
        .iter()
        .flat_map(|value| [value.as_bytes(), b"\0"].concat())
        .collect();
    raw_entry(tag, 8, values.len(), data)
}

fn int32s(tag: u32, values: &[u32]) -> RawEntry {
    let data = values
        .iter()
        .flat_map(|value| value.to_be_bytes())
        .collect();
    raw_entry(tag, 4, values.len(), data)
}

fn int16s(tag: u32, values: &[u16]) -> RawEntry {
    let data = values
        .iter()
        .flat_map(|value| value.to_be_bytes())
        .collect();
    raw_entry(tag, 3, values.len(), data)
}

/// A header blob with an immutable region around `entries`, laid out as rpm does (data in
/// entry order, aligned; the region trailer last), followed by `dribbles` outside the region.
fn build_header(entries: &[RawEntry], dribbles: &[RawEntry]) -> Vec<u8> {
    let mut index = Vec::new();
    let mut data = Vec::new();
    let push = |entry: &RawEntry, index: &mut Vec<u8>, data: &mut Vec<u8>| {
        let align = match entry.data_type {
            3 => 2,
            4 => 4,
            5 => 8,
            _ => 1,
        };
        while !data.len().is_multiple_of(align) {
            data.push(0);
        }
        for field in [
            entry.tag,
            entry.data_type,
            u32::try_from(data.len()).unwrap(),
            entry.count,
        ] {
            index.extend_from_slice(&field.to_be_bytes());
        }
        data.extend_from_slice(&entry.data);
    };
    for entry in entries {
        push(entry, &mut index, &mut data);
    }
    let region_entries = u32::try_from(entries.len() + 1).unwrap();
    let trailer_offset = u32::try_from(data.len()).unwrap();
    for field in [63, 7, (region_entries * 16).wrapping_neg(), 16] {
        data.extend_from_slice(&u32::to_be_bytes(field));
    }
    for entry in dribbles {
        push(entry, &mut index, &mut data);
    }
    let mut blob = Vec::new();
    blob.extend_from_slice(
        &u32::try_from(entries.len() + dribbles.len() + 1)
            .unwrap()
            .to_be_bytes(),
    );
    blob.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
    for field in [63, 7, trailer_offset, 16] {
        blob.extend_from_slice(&u32::to_be_bytes(field));
    }
    blob.extend_from_slice(&index);
    blob.extend_from_slice(&data);
    blob
}

fn identity() -> Vec<RawEntry> {
    vec![
        string(1000, "hello"),
        string(1001, "2.12"),
        string(1002, "1.fc40"),
        string(1022, "x86_64"),
    ]
}

const HELLO_DIGEST: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn hello_files() -> Vec<RawEntry> {
    vec![
        int16s(1030, &[0o100_755, 0o040_755]),
        int32s(1028, &[4096, 0]),
        strings(1035, &[HELLO_DIGEST, ""]),
        int32s(1116, &[0, 1]),
        strings(1117, &["hello", "hello"]),
        strings(1118, &["/usr/bin/", "/usr/share/doc/"]),
        int32s(5011, &[8]),
    ]
}

#[test]
fn hand_built_header_reads_back() {
    let mut entries = identity();
    entries.extend(hello_files());
    let blob = build_header(&entries, &[]);
    let header = parse_header(&blob).unwrap();
    assert_eq!(header.full_version(), "2.12-1.fc40");
    let files: Vec<_> = header.files().collect();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0].path, b"/usr/bin/hello");
    assert_eq!(files[0].mode, Some(0o100_755));
    assert_eq!(files[0].size, Some(4096));
    assert_eq!(files[0].digest, sha256(HELLO_DIGEST));
    assert_eq!(files[1].path, b"/usr/share/doc/hello");
    assert_eq!(files[1].digest, None);
}

#[test]
fn dribble_entries_override_region_entries() {
    let blob = build_header(&identity(), &[string(1002, "2.fc40"), int32s(1003, &[3])]);
    let header = parse_header(&blob).unwrap();
    assert_eq!(header.full_version(), "3:2.12-2.fc40");
}

#[test]
fn digest_algorithm_defaults_to_md5_and_unknown_ones_are_dropped() {
    let md5 = "d41d8cd98f00b204e9800998ecf8427e";
    let mut entries = identity();
    entries.extend([
        int32s(1116, &[0]),
        strings(1117, &["empty"]),
        strings(1118, &["/etc/"]),
        strings(1035, &[md5]),
    ]);
    let blob = build_header(&entries, &[]);
    let header = parse_header(&blob).unwrap();
    let file = header.files().next().unwrap();
    assert_eq!(
        file.digest,
        Some(PackagedDigest {
            algorithm: DigestAlgorithm::Md5,
            bytes: hex::decode(md5).unwrap()
        })
    );

    // SHA-512 (algorithm 10) is not one exelock checks: no digest, and the header says why.
    entries.push(int32s(5011, &[10]));
    entries[7] = strings(1035, &[&"ab".repeat(64)]);
    let blob = build_header(&entries, &[]);
    let header = parse_header(&blob).unwrap();
    assert_eq!(header.unsupported_digest_algorithm, Some(10));
    assert_eq!(header.files().next().unwrap().digest, None);
}

#[test]
fn old_style_file_names_are_read() {
    let mut entries = identity();
    entries.push(strings(1027, &["/bin/sh", "/etc/motd"]));
    let blob = build_header(&entries, &[]);
    let header = parse_header(&blob).unwrap();
    let paths: Vec<_> = header.files().map(|file| file.path).collect();
    assert_eq!(paths, [b"/bin/sh".to_vec(), b"/etc/motd".to_vec()]);
}

/// Overwrites the index entry `position` (0 is the region) of a built header.
fn patch_index(blob: &mut [u8], position: usize, field: usize, value: u32) {
    let at = 8 + position * 16 + field * 4;
    blob[at..at + 4].copy_from_slice(&value.to_be_bytes());
}

#[test]
fn damaged_headers_are_rejected_with_the_entry_named() {
    let mut entries = identity();
    entries.extend(hello_files());
    let good = build_header(&entries, &[]);

    // Name's offset moved onto version's data: overlap.
    let mut overlapping = good.clone();
    patch_index(&mut overlapping, 1, 2, 6);
    assert!(
        matches!(parse_header(&overlapping), Err(HeaderError::Overlap { .. })),
        "{:?}",
        parse_header(&overlapping).err()
    );

    // An offset past the data store.
    let mut out_of_range = good.clone();
    patch_index(&mut out_of_range, 2, 2, 0x00ff_ffff);
    let err = parse_header(&out_of_range).unwrap_err();
    assert!(
        matches!(
            err,
            HeaderError::BadEntry {
                tag: 1001,
                offset: 0x00ff_ffff,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("tag 1001"), "{err}");

    // A count that runs past the data store.
    let mut long_count = good.clone();
    patch_index(&mut long_count, 5, 3, 0x4000_0000);
    assert!(matches!(
        parse_header(&long_count),
        Err(HeaderError::BadEntry { tag: 1030, .. })
    ));

    // A misaligned INT32.
    let mut misaligned = good.clone();
    let dirindexes = 1 + 4 + 3;
    let offset = u32::from_be_bytes(good[8 + dirindexes * 16 + 8..][..4].try_into().unwrap());
    patch_index(&mut misaligned, dirindexes, 2, offset + 1);
    assert!(matches!(
        parse_header(&misaligned),
        Err(HeaderError::BadEntry { tag: 1116, .. })
    ));

    // A directory index past the directory list.
    let mut entries_bad_dir = identity();
    entries_bad_dir.extend([
        int32s(1116, &[5]),
        strings(1117, &["x"]),
        strings(1118, &["/"]),
    ]);
    assert!(matches!(
        parse_header(&build_header(&entries_bad_dir, &[])),
        Err(HeaderError::DirIndexOutOfRange { dir_index: 5, .. })
    ));

    // Per-file tags of the wrong length.
    let mut short_digests = identity();
    short_digests.extend([
        int32s(1116, &[0, 0]),
        strings(1117, &["a", "b"]),
        strings(1118, &["/"]),
        strings(1035, &[""]),
    ]);
    assert!(matches!(
        parse_header(&build_header(&short_digests, &[])),
        Err(HeaderError::FileCountMismatch {
            tag: 1035,
            got: 1,
            expected: 2,
            ..
        })
    ));

    // A digest that is not hex.
    let mut bad_digest = identity();
    bad_digest.extend([
        int32s(1116, &[0]),
        strings(1117, &["a"]),
        strings(1118, &["/"]),
        strings(1035, &[&"zz".repeat(32)]),
        int32s(5011, &[8]),
    ]);
    assert!(matches!(
        parse_header(&build_header(&bad_digest, &[])),
        Err(HeaderError::BadDigest { .. })
    ));

    // No name.
    let nameless = build_header(&[string(1001, "1"), string(1002, "1")], &[]);
    assert!(matches!(
        parse_header(&nameless),
        Err(HeaderError::MissingTag { tag: 1000, .. })
    ));

    // Lengths that promise more than the blob holds, and trailing bytes.
    assert!(matches!(
        parse_header(&good[..good.len() - 1]),
        Err(HeaderError::LengthMismatch { .. })
    ));
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(matches!(
        parse_header(&trailing),
        Err(HeaderError::LengthMismatch { .. })
    ));
    let mut huge = good;
    huge[0..4].copy_from_slice(&0xffff_u32.to_be_bytes());
    assert!(matches!(
        parse_header(&huge),
        Err(HeaderError::LengthMismatch { .. })
    ));
    assert!(matches!(
        parse_header(&[0, 0]),
        Err(HeaderError::TooShort { len: 2 })
    ));
}

// ---- robustness: damaged databases never panic ----

/// A small deterministic generator, so a failure names a reproducible case.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

/// Reads `bytes` cut at many lengths and with many single bytes changed; every result must be
/// `Ok` or `Err`, and a panic fails the test with the case that caused it.
fn assert_damage_is_handled(
    database: Database,
    bytes: &[u8],
    cuts: usize,
    flips: usize,
    seed: u64,
) {
    let step = (bytes.len() / cuts).max(1);
    for length in (0..bytes.len()).step_by(step).chain([bytes.len() - 1]) {
        let _ = read_rpm(database, &bytes[..length], "cut", &Distro::default());
    }
    let mut random = Lcg(seed);
    let mut damaged = bytes.to_vec();
    for case in 0..flips {
        // Half the changes land in the first 8 KiB, where the metadata, slots and indexes are.
        let range = if case % 2 == 0 {
            bytes.len().min(8192)
        } else {
            bytes.len()
        };
        let at = usize::try_from(random.next()).unwrap() % range;
        let original = damaged[at];
        damaged[at] ^= 1 << (random.next() % 8);
        if case % 3 == 0 {
            damaged[at] = u8::try_from(random.next() % 256).unwrap();
        }
        let _ = read_rpm(database, &damaged, "flipped", &Distro::default());
        damaged[at] = original;
    }
}

#[test]
fn damaged_berkeley_dbs_never_panic() {
    for (relative, seed) in [
        ("rhel-8-ubi8/libuuid/Packages", 1),
        ("centos-8/dive/Packages", 2),
        ("fedora-32/hello-epoch/Packages", 3),
    ] {
        assert_damage_is_handled(Database::RpmBerkeleyDb, &fixture(relative), 400, 1500, seed);
    }
}

#[test]
fn damaged_ndb_never_panics() {
    assert_damage_is_handled(
        Database::RpmNdb,
        &fixture("sles-15-bci/pr42/Packages.db"),
        150,
        120,
        4,
    );
}

#[test]
fn damaged_sqlite_never_panics() {
    assert_damage_is_handled(
        Database::RpmSqlite,
        &fixture("fedora-36/tzdata/rpmdb.sqlite"),
        20,
        40,
        5,
    );
}

#[test]
fn bdb_overflow_cycles_are_refused() {
    // Point the last overflow page of libuuid's header back at the first: a cycle.
    let mut bytes = fixture("rhel-8-ubi8/libuuid/Packages");
    let page_size = 4096;
    let pages = bytes.len() / page_size;
    let overflow: Vec<usize> = (1..pages)
        .filter(|&page| bytes[page * page_size + 25] == 7)
        .collect();
    let last = *overflow
        .iter()
        .find(|&&page| bytes[page * page_size + 16..page * page_size + 20] == [0; 4])
        .unwrap();
    bytes[last * page_size + 16..last * page_size + 20]
        .copy_from_slice(&u32::try_from(overflow[0]).unwrap().to_le_bytes());
    assert_error_mentions(
        read_rpm_berkeley_db(&bytes, "Packages", &Distro::default()),
        &["overflow"],
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_blobs_never_panic(blob in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_header(&blob);
    }

    #[test]
    fn random_index_in_a_plausible_frame_never_panics(
        entries in 1_u32..24,
        body in proptest::collection::vec(any::<u8>(), 0..1024),
    ) {
        // Lengths that match the blob, so the random index and data are actually examined.
        let index_len = entries as usize * 16;
        let mut body = body;
        body.resize(body.len().max(index_len), 0);
        let data_len = u32::try_from(body.len() - index_len).unwrap();
        let mut blob = Vec::new();
        blob.extend_from_slice(&entries.to_be_bytes());
        blob.extend_from_slice(&data_len.to_be_bytes());
        blob.extend_from_slice(&body);
        let _ = parse_header(&blob);
    }

    #[test]
    fn mutated_real_headers_never_panic(
        changes in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut blob = real_header().clone();
        for (at, value) in changes {
            let at = at.index(blob.len());
            blob[at] = value;
        }
        let _ = parse_header(&blob);
        let _ = parse_header(&blob[..cut.index(blob.len())]);
    }
}

/// The libuuid header from the Berkeley DB fixture, read once.
fn real_header() -> &'static Vec<u8> {
    static BLOB: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BLOB.get_or_init(|| {
        header_blobs(
            Database::RpmBerkeleyDb,
            &fixture("rhel-8-ubi8/libuuid/Packages"),
        )
        .remove(0)
    })
}

/// Packages built and installed by rpm itself, shared with the integration tests.
#[path = "../../../tests/support/rpm_root.rs"]
#[allow(dead_code)] // RpmRoot::owner is for the integration tests.
mod rpm_root;

/// Checks against rpm itself (Debian's `rpm` package: `rpm` and `rpmbuild`, rpm 4.18 with
/// the `sqlite` and read-only `bdb_ro` backends; it has no NDB backend).
mod with_real_rpm {
    use std::process::Command;

    use sha2::{Digest as _, Sha256};

    use super::rpm_root::{RpmRoot, rpm_tools, stdout_of};
    use super::*;

    /// A package as rpm prints it: name, `[epoch:]version-release`, arch, and its files with
    /// their hex digests (empty when none), sorted by name.
    type Listing = Vec<(String, String, String, Vec<(String, String)>)>;

    const QUERY_FORMAT: &str = "P\t%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\t\
                                %|ARCH?{%{ARCH}}:{}|\n[F\t%{FILENAMES}\t%{FILEDIGESTS}\n]";

    /// `rpm -qa` by `rpm`, which names the database (the one in a directory with its backend,
    /// or a root's).
    fn rpm_listing(rpm: &mut Command) -> Listing {
        let what = format!("{rpm:?}");
        let stdout = stdout_of(rpm.args(["-qa", "--qf", QUERY_FORMAT]), &what);
        let mut listing: Listing = Vec::new();
        for line in String::from_utf8(stdout).unwrap().lines() {
            let fields: Vec<&str> = line.split('\t').collect();
            match fields[..] {
                ["P", name, version, arch] => {
                    listing.push((
                        name.to_owned(),
                        version.to_owned(),
                        arch.to_owned(),
                        Vec::new(),
                    ));
                }
                ["F", path, digest] => listing
                    .last_mut()
                    .unwrap()
                    .3
                    .push((path.to_owned(), digest.to_owned())),
                _ => panic!("unexpected rpm output line {line:?}"),
            }
        }
        listing.sort();
        listing
    }

    /// The same listing from exelock's reader.
    fn our_listing(set: &PackageSet) -> Listing {
        let mut listing: Listing = set
            .packages
            .iter()
            .enumerate()
            .map(|(index, package)| {
                let files = set
                    .files
                    .iter()
                    .filter(|file| file.package == index)
                    .map(|file| {
                        (
                            String::from_utf8(file.path.clone()).unwrap(),
                            hex_digest(file).unwrap_or_default(),
                        )
                    })
                    .collect();
                (
                    package.name.clone(),
                    package.version.clone(),
                    package.arch.clone(),
                    files,
                )
            })
            .collect();
        listing.sort();
        listing
    }

    #[test]
    fn fixtures_read_as_rpm_itself_reads_them() {
        if !rpm_tools() {
            return;
        }
        for (relative, database, file_name, backend) in [
            (
                "rhel-8-ubi8/libuuid/Packages",
                Database::RpmBerkeleyDb,
                "Packages",
                "bdb_ro",
            ),
            (
                "centos-8/dive/Packages",
                Database::RpmBerkeleyDb,
                "Packages",
                "bdb_ro",
            ),
            (
                "fedora-32/hello-epoch/Packages",
                Database::RpmBerkeleyDb,
                "Packages",
                "bdb_ro",
            ),
            (
                "rhel-7-ubi7/tzdata/Packages",
                Database::RpmBerkeleyDb,
                "Packages",
                "bdb_ro",
            ),
            (
                "fedora-36/tzdata/rpmdb.sqlite",
                Database::RpmSqlite,
                "rpmdb.sqlite",
                "sqlite",
            ),
            (
                "amazonlinux-2023/rpmdb.sqlite",
                Database::RpmSqlite,
                "rpmdb.sqlite",
                "sqlite",
            ),
            (
                "cbl-mariner-2.0/rpmdb.sqlite",
                Database::RpmSqlite,
                "rpmdb.sqlite",
                "sqlite",
            ),
            (
                "hummingbird/rpmdb.sqlite",
                Database::RpmSqlite,
                "rpmdb.sqlite",
                "sqlite",
            ),
        ] {
            let bytes = fixture(relative);
            // rpm wants a directory of its own (it may add lock and -shm files).
            let db_dir = tempfile::tempdir().unwrap();
            fs_err::write(db_dir.path().join(file_name), &bytes).unwrap();
            let db_path = db_dir.path().to_str().unwrap();
            let backend = format!("_db_backend {backend}");
            let theirs =
                rpm_listing(Command::new("rpm").args(["--dbpath", db_path, "--define", &backend]));
            let ours =
                our_listing(&read_rpm(database, &bytes, relative, &Distro::default()).unwrap());
            assert!(!theirs.is_empty(), "{relative}");
            assert_eq!(ours, theirs, "{relative}");
        }
    }

    const HELLO_SPEC: &str = r"Name: exelock-hello
Version: 1.2
Release: 3
Summary: exelock test package
%description
A script, a symlink, a directory and a data file.
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/usr/share/exelock-hello
printf '#!/bin/sh\necho hello\n' > %{buildroot}/usr/bin/exelock-hello
chmod 755 %{buildroot}/usr/bin/exelock-hello
ln -s exelock-hello %{buildroot}/usr/bin/exelock-hi
echo 'read me' > %{buildroot}/usr/share/exelock-hello/README
%files
/usr/bin/exelock-hello
/usr/bin/exelock-hi
%dir /usr/share/exelock-hello
/usr/share/exelock-hello/README
";

    /// Epoch 2, and MD5 file digests (algorithm 1), which no fixture has.
    const EPOCH_SPEC: &str = r"Name: exelock-epoch
Epoch: 2
Version: 0.9
Release: 1
Summary: exelock test package with an epoch
%global _binary_filedigest_algorithm 1
%description
One executable, MD5 digests.
%install
mkdir -p %{buildroot}/usr/libexec
printf '#!/bin/sh\necho epoch\n' > %{buildroot}/usr/libexec/exelock-epoch
chmod 755 %{buildroot}/usr/libexec/exelock-epoch
%files
/usr/libexec/exelock-epoch
";

    fn md5_hex(path: &Path) -> String {
        let output = Command::new("md5sum").arg(path).output().unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap()[..32].to_owned()
    }

    #[test]
    fn database_written_by_rpm_reads_back() {
        if !rpm_tools() {
            return;
        }
        let work = tempfile::tempdir().unwrap();
        let rpm = RpmRoot::new(work.path());
        let packages = [
            rpm.build("exelock-hello", HELLO_SPEC),
            rpm.build("exelock-epoch", EPOCH_SPEC),
        ];
        rpm.install(&packages);
        let root = &rpm.root;

        // rpm ≥ 4.16 writes rpmdb.sqlite by default; take whichever database it wrote.
        let db_dir = root.join("var/lib/rpm");
        let (database, file_name) = [
            (Database::RpmSqlite, "rpmdb.sqlite"),
            (Database::RpmNdb, "Packages.db"),
            (Database::RpmBerkeleyDb, "Packages"),
        ]
        .into_iter()
        .find(|(_, file_name)| db_dir.join(file_name).is_file())
        .unwrap();
        let bytes = fs_err::read(db_dir.join(file_name)).unwrap();
        let set = read_rpm(database, &bytes, file_name, &distro("debian", "12")).unwrap();

        assert_eq!(
            package_rows(&set),
            [
                row("exelock-epoch", "2:0.9-1", "noarch"),
                row("exelock-hello", "1.2-3", "noarch"),
            ]
        );
        let (_, epoch) = package(&set, "exelock-epoch");
        assert_eq!(
            epoch.purl,
            "pkg:rpm/debian/exelock-epoch@0.9-1?arch=noarch&distro=debian-12&epoch=2"
        );

        // Every file against the installed tree: regular files by their digest, the rest none.
        let mut paths = Vec::new();
        for file in &set.files {
            let path = String::from_utf8(file.path.clone()).unwrap();
            let on_disk = root.join(path.trim_start_matches('/'));
            let metadata = fs_err::symlink_metadata(&on_disk).unwrap();
            let package = &set.packages[file.package].name;
            if metadata.is_file() {
                let digest = file
                    .digest
                    .as_ref()
                    .unwrap_or_else(|| panic!("{path} has no digest"));
                let content = fs_err::read(&on_disk).unwrap();
                if package == "exelock-epoch" {
                    assert_eq!(digest.algorithm, DigestAlgorithm::Md5, "{path}");
                    assert_eq!(hex::encode(&digest.bytes), md5_hex(&on_disk), "{path}");
                } else {
                    assert_eq!(digest.algorithm, DigestAlgorithm::Sha256, "{path}");
                    assert_eq!(digest.bytes, Sha256::digest(&content).to_vec(), "{path}");
                }
            } else {
                assert_eq!(file.digest, None, "{path} is not a regular file");
            }
            paths.push(path);
        }
        paths.sort();
        assert_eq!(
            paths,
            [
                "/usr/bin/exelock-hello",
                "/usr/bin/exelock-hi",
                "/usr/libexec/exelock-epoch",
                "/usr/share/exelock-hello",
                "/usr/share/exelock-hello/README",
            ]
        );

        // And rpm's own reading of the database it wrote.
        assert_eq!(our_listing(&set), rpm_listing(&mut rpm.rpm()));
    }
}
