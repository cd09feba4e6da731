use std::time::Instant;

use super::*;
use crate::pkgdb::testing::{
    assert_error_mentions, damaged_copies, distro, file, files_of, fixture, fixture_text,
    go_strings, md5, package, paths, versions,
};

const UBUNTU_18_04: &str = "dpkg/ubuntu-18.04/var/lib/dpkg/";
const TRIVY_EXPECTATIONS: &str = "dpkg/_expectations/trivy/dpkg_test.go";

fn read_ubuntu_18_04() -> PackageSet {
    let status = fixture(&format!("{UBUNTU_18_04}status"));
    let list = fixture(&format!("{UBUNTU_18_04}info/tar.list"));
    let md5sums = fixture(&format!("{UBUNTU_18_04}info/tar.md5sums"));
    let info = [
        ("tar.list", list.as_slice()),
        ("tar.md5sums", md5sums.as_slice()),
        ("unrelated.postinst", b"#!/bin/sh\n".as_slice()),
    ];
    read_dpkg(&status, info, None, &distro("ubuntu", "18.04")).unwrap()
}

// trivy's expectation for this status file (dpkg_test.go, case "valid"): the 90 installed
// packages as name@version; the 91st stanza, git, is `deinstall ok config-files`.
#[test]
fn ubuntu_18_04_status_lists_the_packages_trivy_expects() {
    let set = read_ubuntu_18_04();
    let expected = go_strings(
        &fixture_text(TRIVY_EXPECTATIONS),
        "name:      \"valid\"",
        "name:      \"corrupsed\"",
        "ID:",
    );
    assert_eq!(expected.len(), 90);
    let mut got = versions(&set);
    got.sort();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(got, expected_sorted);
    assert!(set.packages.iter().all(|package| package.name != "git"));
    assert!(
        set.packages
            .iter()
            .all(|package| package.database == Database::Dpkg)
    );
}

#[test]
fn ubuntu_18_04_package_urls_follow_the_purl_spec() {
    let set = read_ubuntu_18_04();
    let (_, tar) = package(&set, "tar");
    assert_eq!(tar.arch, "amd64");
    assert_eq!(
        tar.purl,
        "pkg:deb/ubuntu/tar@1.29b-2?arch=amd64&distro=ubuntu-18.04"
    );
    let (_, zlib) = package(&set, "zlib1g");
    assert_eq!(
        zlib.purl,
        "pkg:deb/ubuntu/zlib1g@1:1.2.11.dfsg-0ubuntu2?arch=amd64&distro=ubuntu-18.04"
    );
    let (_, findutils) = package(&set, "findutils");
    assert_eq!(
        findutils.purl,
        "pkg:deb/ubuntu/findutils@4.6.0%2Bgit%2B20170828-2?arch=amd64&distro=ubuntu-18.04"
    );
}

// tar.list and tar.md5sums come from different trivy commits: the list says /bin/tar, the
// md5sums usr/bin/tar. Both paths are kept; only the md5sums one has a digest.
#[test]
fn tar_files_merge_list_and_md5sums() {
    let set = read_ubuntu_18_04();
    let tar = files_of(&set, "tar");
    let listed = fixture_text(&format!("{UBUNTU_18_04}info/tar.list"));
    let listed: Vec<&str> = listed.lines().filter(|line| *line != "/.").collect();
    assert_eq!(&paths(&tar)[..listed.len()], listed.as_slice());
    // Rows checked by hand against tar.md5sums.
    assert_eq!(
        file(&set, "/usr/bin/tar").digest,
        md5("25de5fcdc3c8ebd9c9f599fb7a899b40")
    );
    assert_eq!(
        file(&set, "/usr/sbin/tarcat").digest,
        md5("fd2fab77cf4da2288c11a4de2c0c7fe0")
    );
    assert_eq!(
        file(&set, "/usr/share/man/man8/rmt-tar.8.gz").digest,
        md5("4892b2039586e61ef7b290591e9743e5")
    );
    assert_eq!(file(&set, "/bin/tar").digest, None);
    assert_eq!(file(&set, "/usr/share/doc/tar").digest, None);
    // /etc/rmt is in tar.list and in tar's Conffiles.
    let rmt = file(&set, "/etc/rmt");
    assert!(rmt.config_file);
    assert_eq!(rmt.digest, md5("3c58b7cd13da1085eff0acc6a00f43c7"));
    assert_eq!(tar.iter().filter(|file| file.config_file).count(), 1);
    // Only tar had info files.
    let (bash, _) = package(&set, "bash");
    assert!(
        set.files
            .iter()
            .all(|file| file.package != bash || file.config_file)
    );
}

#[test]
fn conffiles_carry_their_md5_and_are_marked() {
    let set = read_ubuntu_18_04();
    let pam = files_of(&set, "libpam-runtime");
    assert_eq!(paths(&pam), ["/etc/pam.conf", "/etc/pam.d/other"]);
    assert!(pam.iter().all(|file| file.config_file));
    assert_eq!(pam[0].digest, md5("87fc76f18e98ee7d3848f6b81b3391e5"));
    assert_eq!(pam[1].digest, md5("31aa7f2181889ffb00b87df4126d1701"));
}

// trivy's expectation for tar-status + tar.md5sums (dpkg_test.go, case "md5sums"): the
// installed files are the md5sums paths.
#[test]
fn md5sums_name_the_files_trivy_expects() {
    let status = fixture("dpkg/ubuntu-18.04/tar-status.excerpt");
    let md5sums = fixture(&format!("{UBUNTU_18_04}info/tar.md5sums"));
    let set = read_dpkg(
        &status,
        [("tar.md5sums", md5sums.as_slice())],
        None,
        &Distro::default(),
    )
    .unwrap();
    let expected = go_strings(
        &fixture_text(TRIVY_EXPECTATIONS),
        "SystemInstalledFiles",
        "}",
        "\"",
    );
    assert_eq!(expected.len(), 13);
    assert_eq!(paths(&files_of(&set, "tar")), expected);
    assert!(set.files.iter().all(|file| file.digest.is_some()));
    assert_eq!(
        set.packages[0].purl,
        "pkg:deb/debian/tar@1.29b-2?arch=amd64"
    );
}

// trivy's "happy path with digests" case reads sed@4.4-2 and tar@1.34+dfsg-1 from this file.
#[test]
fn digest_status_excerpt() {
    let status = fixture("dpkg/ubuntu-18.04/digest-status.excerpt");
    let set = read_dpkg(&status, [], None, &Distro::default()).unwrap();
    assert_eq!(versions(&set), ["sed@4.4-2", "tar@1.34+dfsg-1"]);
    assert!(set.files.is_empty());
}

// The README counts 357 packages; claircore's test data is an Ubuntu 18.04 image with texlive.
#[test]
fn texlive_status_has_357_packages_and_parses_fast() {
    let status = fixture("dpkg/ubuntu-18.04-texlive/var/lib/dpkg/status");
    let set = read_dpkg(&status, [], None, &distro("ubuntu", "18.04")).unwrap();
    assert_eq!(set.packages.len(), 357);
    let (_, base_files) = package(&set, "base-files");
    assert_eq!(base_files.version, "10.1ubuntu2.8");
    // 46 stanzas have Conffiles.
    let with_conffiles: HashSet<usize> = set.files.iter().map(|file| file.package).collect();
    assert_eq!(with_conffiles.len(), 46);

    // About 5 MB: the texlive status ten times over, with the names made unique.
    let text = String::from_utf8(status).unwrap();
    let mut big = String::new();
    for copy in 0..10 {
        big.push_str(&text.replace("Package: ", &format!("Package: c{copy}")));
        big.push('\n');
    }
    let started = Instant::now();
    let set = read_dpkg(big.as_bytes(), [], None, &Distro::default()).unwrap();
    let elapsed = started.elapsed();
    assert_eq!(set.packages.len(), 3570);
    // Generous for a debug build; a release build takes a few milliseconds.
    assert!(
        elapsed.as_millis() < 2000,
        "{elapsed:?} for {} bytes",
        big.len()
    );
}

#[test]
fn postgresql_excerpt_has_three_packages() {
    let status = fixture("dpkg/debian-excerpts/postgresql.status");
    let set = read_dpkg(&status, [], None, &distro("debian", "10")).unwrap();
    let got: Vec<_> = set
        .packages
        .iter()
        .map(|package| (package.name.as_str(), package.arch.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("postgresql-client", "all"),
            ("postgresql-client-11", "amd64"),
            ("postgresql-client-common", "all")
        ]
    );
    assert_eq!(
        set.packages[1].purl,
        "pkg:deb/debian/postgresql-client-11@11.22-0%2Bdeb10u2?arch=amd64&distro=debian-10"
    );
}

// syft's image-dpkg fixture: an empty `Package:` stanza first (skipped), then libpam-runtime
// with two conffiles; its md5sums (syft's, with zlib's paths in it) gives four more files.
#[test]
fn debian_9_status_with_empty_stanza_conffiles_and_md5sums() {
    let status = fixture("dpkg/debian-9/var/lib/dpkg/status");
    let md5sums = fixture("dpkg/debian-9/var/lib/dpkg/info/libpam-runtime.md5sums");
    let set = read_dpkg(
        &status,
        [("libpam-runtime.md5sums", md5sums.as_slice())],
        None,
        &distro("debian", "9"),
    )
    .unwrap();
    assert_eq!(set.packages.len(), 1);
    assert_eq!(set.packages[0].version, "1.1.8-3.6");
    let files = files_of(&set, "libpam-runtime");
    assert_eq!(
        paths(&files),
        [
            "/lib/x86_64-linux-gnu/libz.so.1.2.11",
            "/usr/share/doc/zlib1g/changelog.Debian.gz",
            "/usr/share/doc/zlib1g/changelog.gz",
            "/usr/share/doc/zlib1g/copyright",
            "/etc/pam.conf",
            "/etc/pam.d/other",
        ]
    );
    assert_eq!(files[0].digest, md5("55f905631797551d4d936a34c7e73474"));
    assert!(!files[0].config_file);
    assert_eq!(files[4].digest, md5("87fc76f18e98ee7d3848f6b81b3391e5"));
    assert!(files[4].config_file);
}

// syft's expectation for this stanza (parse_dpkg_db_test.go, "single package"): four
// conffiles with these MD5s.
#[test]
fn apt_conffiles_match_syft() {
    let status = fixture("dpkg/debian-10/apt.status.excerpt");
    let set = read_dpkg(&status, [], None, &Distro::default()).unwrap();
    let expected = [
        (
            "/etc/apt/apt.conf.d/01autoremove",
            "76120d358bc9037bb6358e737b3050b5",
        ),
        (
            "/etc/cron.daily/apt-compat",
            "49e9b2cfa17849700d4db735d04244f3",
        ),
        (
            "/etc/kernel/postinst.d/apt-auto-removal",
            "4ad976a68f045517cf4696cec7b8aa3a",
        ),
        ("/etc/logrotate.d/apt", "179f2ed4f85cbaca12fa3d69c2a4a1c3"),
    ];
    assert_eq!(set.files.len(), expected.len());
    for (file, (path, digest)) in set.files.iter().zip(expected) {
        assert_eq!(file.path, path.as_bytes());
        assert_eq!(file.digest, md5(digest));
        assert!(file.config_file);
    }
}

#[test]
fn multi_arch_info_files_are_found_by_package_and_arch() {
    let status = b"Package: libc6\nStatus: install ok installed\nArchitecture: amd64\n\
        Multi-Arch: same\nVersion: 2.36-9\n\n\
        Package: libc6\nStatus: install ok installed\nArchitecture: i386\n\
        Multi-Arch: same\nVersion: 2.36-9\n";
    let info = [
        (
            "libc6:amd64.list",
            b"/.\n/lib/x86_64-linux-gnu/libc.so.6\n".as_slice(),
        ),
        (
            "libc6:amd64.md5sums",
            b"0123456789abcdef0123456789abcdef  lib/x86_64-linux-gnu/libc.so.6\n".as_slice(),
        ),
        (
            "libc6:i386.list",
            b"/lib/i386-linux-gnu/libc.so.6\n".as_slice(),
        ),
    ];
    let set = read_dpkg(status, info, None, &Distro::default()).unwrap();
    assert_eq!(set.packages.len(), 2);
    assert_eq!(set.files.len(), 2);
    assert_eq!(set.files[0].package, 0);
    assert_eq!(set.files[0].path, b"/lib/x86_64-linux-gnu/libc.so.6");
    assert_eq!(set.files[0].digest, md5("0123456789abcdef0123456789abcdef"));
    assert_eq!(set.files[1].package, 1);
    assert_eq!(set.files[1].digest, None);
}

#[test]
fn status_words_decide_what_is_installed() {
    let mut status = String::new();
    for (index, state) in [
        "install ok installed",
        "hold ok installed",
        "install ok triggers-pending",
        "install ok half-configured",
        "deinstall ok config-files",
        "purge ok not-installed",
        "install reinstreq half-installed",
    ]
    .iter()
    .enumerate()
    {
        status.push_str(&format!(
            "Package: p{index}\nStatus: {state}\nVersion: 1\n\n"
        ));
    }
    let set = read_dpkg(status.as_bytes(), [], None, &Distro::default()).unwrap();
    let names: Vec<_> = set
        .packages
        .iter()
        .map(|package| package.name.as_str())
        .collect();
    assert_eq!(names, ["p0", "p1", "p2", "p3"]);
}

#[test]
fn diversions_move_the_diverted_package_file() {
    let status = b"Package: dash\nStatus: install ok installed\nVersion: 1\n\n\
        Package: mysh\nStatus: install ok installed\nVersion: 1\n";
    let info = [
        ("dash.list", b"/bin/sh\n/bin/dash\n".as_slice()),
        ("mysh.list", b"/bin/sh\n".as_slice()),
    ];
    let diversions = b"/bin/sh\n/bin/sh.distrib\nmysh\n";
    let set = read_dpkg(status, info, Some(diversions), &Distro::default()).unwrap();
    let dash = paths(&files_of(&set, "dash"));
    assert_eq!(dash, ["/bin/sh.distrib", "/bin/dash"]);
    assert_eq!(paths(&files_of(&set, "mysh")), ["/bin/sh"]);

    let local = b"/bin/dash\n/bin/dash.local\n:\n";
    let set = read_dpkg(status, info, Some(local), &Distro::default()).unwrap();
    assert_eq!(
        paths(&files_of(&set, "dash")),
        ["/bin/sh", "/bin/dash.local"]
    );

    let error = read_dpkg(status, info, Some(b"/bin/sh\n/x\n"), &Distro::default());
    assert!(matches!(error, Err(Error::Malformed { .. })), "{error:?}");
}

#[test]
fn malformed_databases_are_errors_naming_the_file() {
    let cases: &[(&[u8], &str)] = &[
        (b" continues nothing\n", "continuation line without a field"),
        (b"Package: a\nno colon here\n", "not a `Field: value` line"),
        (
            b"Package: a\nPackage: b\nStatus: install ok installed\n",
            "repeated",
        ),
        (b"Package: a\nStatus: installed\n", "Status is not"),
        (b"Package: a b\nStatus: install ok installed\n", "bad package name"),
        (
            b"Package: a\nStatus: install ok installed\n\nPackage: a\nStatus: install ok installed\n",
            "listed twice",
        ),
        (
            b"Package: a\nStatus: install ok installed\nConffiles:\n /etc/a nothex\n",
            "bad Conffiles entry",
        ),
    ];
    for (status, reason) in cases {
        assert_error_mentions(
            read_dpkg(status, [], None, &Distro::default()),
            &["var/lib/dpkg/status", reason],
        );
    }
    // Package a, installed, with one info file.
    let with_info = |name: &str, bytes: &[u8]| {
        read_dpkg(
            b"Package: a\nStatus: install ok installed\n",
            [(name, bytes)],
            None,
            &Distro::default(),
        )
    };
    assert_error_mentions(
        with_info("a.md5sums", b"abc  usr/bin/a\n"),
        &["var/lib/dpkg/info/a.md5sums"],
    );
    assert_error_mentions(
        with_info("a.list", b"usr/bin/a\n"),
        &["not an absolute path"],
    );
}

#[test]
fn stanzas_without_status_are_not_installed_in_the_status_file() {
    let set = read_dpkg(b"Package: a\nVersion: 1\n", [], None, &Distro::default()).unwrap();
    assert!(set.packages.is_empty());
}

#[test]
fn conffile_lines_with_flags_and_spaces() {
    assert_eq!(
        parse_conffile(b"/etc/a b 0123456789abcdef0123456789abcdef obsolete"),
        Some((
            &b"/etc/a b"[..],
            Some(*b"\x01\x23\x45\x67\x89\xab\xcd\xef\x01\x23\x45\x67\x89\xab\xcd\xef")
        ))
    );
    assert_eq!(
        parse_conffile(b"/etc/new newconffile"),
        Some((&b"/etc/new"[..], None))
    );
    assert_eq!(parse_conffile(b"/etc/a"), None);
    assert_eq!(
        parse_conffile(b"etc/a 0123456789abcdef0123456789abcdef"),
        None
    );
}

#[test]
fn md5sums_lines_in_text_and_binary_mode() {
    let md5 = [0xab; 16];
    assert_eq!(
        parse_md5sums_line(b"abababababababababababababababab  usr/bin/a b"),
        Some((md5, b"/usr/bin/a b".to_vec()))
    );
    assert_eq!(
        parse_md5sums_line(b"abababababababababababababababab *usr/bin/a"),
        Some((md5, b"/usr/bin/a".to_vec()))
    );
    assert_eq!(
        parse_md5sums_line(b"abababababababababababababababab usr/bin/a"),
        Some((md5, b"/usr/bin/a".to_vec()))
    );
    assert_eq!(
        parse_md5sums_line(b"abababababababababababababababab  "),
        None
    );
    assert_eq!(parse_md5sums_line(b"ab  usr/bin/a"), None);
}

// ---- distroless status.d ----

fn read_status_d(directory: &str) -> PackageSet {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/pkgdb/distroless")
        .join(directory)
        .join("var/lib/dpkg/status.d");
    let mut files: Vec<(String, Vec<u8>)> = fs_err::read_dir(&root)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            (
                entry.file_name().into_string().unwrap(),
                fs_err::read(entry.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    read_dpkg_status_d(
        files
            .iter()
            .map(|(name, bytes)| (name.as_str(), bytes.as_slice())),
        &distro("debian", "12"),
    )
    .unwrap()
}

#[test]
fn distroless_debian_11_arm64_libsqlite() {
    let set = read_status_d("debian-11-arm64");
    assert_eq!(set.packages.len(), 1);
    let sqlite = &set.packages[0];
    assert_eq!(
        (
            sqlite.name.as_str(),
            sqlite.version.as_str(),
            sqlite.arch.as_str()
        ),
        ("libsqlite3-0", "3.34.1-3", "arm64")
    );
    assert_eq!(sqlite.database, Database::DpkgStatusD);
    assert_eq!(set.files.len(), 6);
    // Checked by hand against libsqlite3-0.md5sums.
    assert_eq!(
        file(&set, "/usr/lib/aarch64-linux-gnu/libsqlite3.so.0.8.6").digest,
        md5("e11d70c96979a1328ae4e7e50542782b")
    );
    assert_eq!(
        file(&set, "/usr/share/doc/libsqlite3-0/copyright").digest,
        md5("be64db3e095486e5e105652c51199358")
    );
}

// syft's relationship tests read these files: coreutils with eight dependencies, and
// libpam-runtime with five stanzas that only name a package (syft counts them as packages).
#[test]
fn distroless_debian_12_several_stanzas_per_file() {
    let set = read_status_d("debian-12");
    let names: Vec<_> = set
        .packages
        .iter()
        .map(|package| package.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "coreutils",
            "libacl1",
            "libc6",
            "libgcc-s1",
            "gcc-12-base",
            "libattr1",
            "libgmp10",
            "libselinux1",
            "libpcre2-8-0",
            "libpam-runtime",
            "debconf1",
            "debconf2",
            "debconf-2.0",
            "cdebconf",
            "libpam-modules",
        ]
    );
    let (_, gmp) = package(&set, "libgmp10");
    assert_eq!(
        gmp.purl,
        "pkg:deb/debian/libgmp10@2:6.2.1%2Bdfsg1-1.1?arch=arm64&distro=debian-12"
    );
    let (_, debconf) = package(&set, "debconf1");
    assert_eq!(debconf.purl, "pkg:deb/debian/debconf1?distro=debian-12");
    assert!(set.files.is_empty());
}

#[test]
fn distroless_debian_9_dash_and_netbase() {
    let set = read_status_d("debian-9");
    let got: Vec<_> = set
        .packages
        .iter()
        .map(|package| format!("{}@{} {}", package.name, package.version, package.arch))
        .collect();
    assert_eq!(got, ["dash@0.5.8-2.4 amd64", "netbase@5.4 all"]);
}

// osv-scalibr's expectation (dpkg_test.go, "status.d file without Status field set should
// work"): foo 1.2.3 amd64; bar is `deinstall ok config-files`.
#[test]
fn distroless_scalibr_foo_without_status_is_installed() {
    let set = read_status_d("scalibr-foo");
    assert_eq!(set.packages.len(), 1);
    let foo = &set.packages[0];
    assert_eq!(
        (foo.name.as_str(), foo.version.as_str(), foo.arch.as_str()),
        ("foo", "1.2.3", "amd64")
    );
    assert_eq!(set.files.len(), 6);
    assert_eq!(
        file(&set, "/usr/lib/os-release").digest,
        md5("07d31e7e63800ab1b7966980709c51eb")
    );
}

#[test]
fn status_d_md5sums_found_by_file_name_and_claimed_once() {
    let files = [
        ("base", b"Package: base-files\nVersion: 1\n".as_slice()),
        (
            "base.md5sums",
            b"0123456789abcdef0123456789abcdef  etc/issue\n".as_slice(),
        ),
        ("other", b"Package: other\nVersion: 1\n".as_slice()),
    ];
    let set = read_dpkg_status_d(files, &Distro::default()).unwrap();
    assert_eq!(set.files.len(), 1);
    assert_eq!(set.files[0].package, 0);
    assert_eq!(set.files[0].path, b"/etc/issue");

    assert_error_mentions(
        read_dpkg_status_d(
            [("bad", b"Package: x\n continued\nnot a field\n".as_slice())],
            &Distro::default(),
        ),
        &["var/lib/dpkg/status.d/bad"],
    );
}

// ---- hostile input ----

#[test]
fn damaged_fixtures_never_panic() {
    let status = fixture(&format!("{UBUNTU_18_04}status"));
    let list = fixture(&format!("{UBUNTU_18_04}info/tar.list"));
    let md5sums = fixture(&format!("{UBUNTU_18_04}info/tar.md5sums"));
    let debian_status = fixture("dpkg/debian-9/var/lib/dpkg/status");
    let texlive = fixture("dpkg/ubuntu-18.04-texlive/var/lib/dpkg/status");
    let mut outcomes = [0usize; 2];
    let mut count = |result: Result<PackageSet, Error>| outcomes[usize::from(result.is_ok())] += 1;
    for damaged in damaged_copies(&status, 300) {
        count(read_dpkg(
            &damaged,
            [
                ("tar.list", list.as_slice()),
                ("tar.md5sums", md5sums.as_slice()),
            ],
            None,
            &Distro::default(),
        ));
    }
    for damaged in damaged_copies(&texlive, 25) {
        count(read_dpkg(&damaged, [], None, &Distro::default()));
    }
    let tar_status = fixture("dpkg/ubuntu-18.04/tar-status.excerpt");
    for damaged in damaged_copies(&list, 600).chain(damaged_copies(&md5sums, 800)) {
        count(read_dpkg(
            &tar_status,
            [
                ("tar.list", damaged.as_slice()),
                ("tar.md5sums", damaged.as_slice()),
            ],
            Some(&damaged),
            &Distro::default(),
        ));
    }
    for damaged in damaged_copies(&debian_status, 1000) {
        count(read_dpkg(&damaged, [], None, &Distro::default()));
        count(read_dpkg_status_d(
            [("x", damaged.as_slice()), ("x.md5sums", md5sums.as_slice())],
            &Distro::default(),
        ));
    }
    // Both outcomes happen: damage is sometimes harmless, sometimes reported.
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
}

#[test]
fn oversized_status_is_too_large() {
    let limit = usize::try_from(MAX_TEXT_DATABASE_BYTES).unwrap();
    let big = vec![b'\n'; limit + 1];
    let error = read_dpkg(&big, [], None, &Distro::default()).unwrap_err();
    assert!(matches!(error, Error::TooLarge { .. }), "{error:?}");
}
