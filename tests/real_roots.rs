//! Package ownership end to end on real roots: a Debian bookworm root made by debootstrap and a
//! root with packages built by `rpmbuild` and installed by `rpm`, each packed as an OCI image
//! with a layer that overwrites one packaged executable. The expectations come from the roots
//! themselves and the distributions' own tools (`dpkg -S`, `dpkg-query`, `rpm -qf`), not from
//! exelock.
//!
//! The Debian root is built once by `scripts/test.sh` and cached outside the clone
//! (`EXELOCK_TEST_DEBIAN_ROOT_TAR`); without it the Debian tests skip, saying so, except under
//! `CI=true`, where they fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::sync::OnceLock;

use serde_json::Value;

use crate::support::gate_report::{Violation, violations};
use crate::support::manifest::{executable, paths};
use crate::support::rootfs::{self, OciImage};
use crate::support::rpm_root::{self, RpmRoot};
use crate::support::{exelock, printed};

/// What replaces `/usr/bin/ls` in the top layer of the altered Debian image.
const NOT_LS: &[u8] = b"#!/bin/sh\necho 'not the packaged ls'\n";

fn scan(image: &str) -> Value {
    let output = exelock()
        .args(["scan", image, "-q", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// `exelock gate IMAGE` with `policy`; the exit code and the JSON report.
fn gate(work: &Path, image: &str, policy: &str) -> (Option<i32>, Value) {
    let policy_path = work.join(format!("policy-{}.toml", image.len()));
    fs_err::write(&policy_path, policy).unwrap();
    let output = exelock()
        .args(["gate", image, "-q", "--format", "json", "--policy"])
        .arg(&policy_path)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("no JSON report: {}", printed(&output)));
    (output.status.code(), report)
}

/// A purl with its `%XX` escapes decoded (versions escape `+` as `%2B`).
fn percent_decoded(purl: &str) -> String {
    let mut bytes = Vec::new();
    let mut rest = purl.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' && tail.len() >= 2 {
            let hex = std::str::from_utf8(&tail[..2]).unwrap();
            bytes.push(u8::from_str_radix(hex, 16).unwrap());
            rest = &tail[2..];
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    String::from_utf8(bytes).unwrap()
}

fn executables(manifest: &Value) -> &Vec<Value> {
    manifest["executables"].as_array().unwrap()
}

/// The Debian root, unpacked, and one layout with two images: the root alone (`root`) and the
/// root plus a layer replacing `/usr/bin/ls` (`altered`).
struct Debian {
    work: tempfile::TempDir,
    root: PathBuf,
    root_image: String,
    altered_image: String,
    /// The scan of the altered image.
    manifest: Value,
}

fn debian() -> Option<&'static Debian> {
    static DEBIAN: OnceLock<Option<Debian>> = OnceLock::new();
    DEBIAN
        .get_or_init(|| {
            let tar = rootfs::debian_root_tar()?;
            let work = tempfile::tempdir().unwrap();
            let root = work.path().join("root");
            rootfs::unpack_root(&tar, &root);
            let mut image = OciImage::new(&work.path().join("image"));
            let root_image = image.add_tar_layer(&tar).tag("root");
            let altered_image = image
                .add_files_layer(&[("/usr/bin/ls", NOT_LS, 0o755)])
                .tag("altered");
            let manifest = scan(&altered_image);
            Some(Debian {
                work,
                root,
                root_image,
                altered_image,
                manifest,
            })
        })
        .as_ref()
}

impl Debian {
    fn admindir(&self) -> String {
        format!("--admindir={}", self.root.join("var/lib/dpkg").display())
    }

    /// A path inside the image with its directory resolved through the root's symlinks
    /// (merged /usr: dpkg's `/bin/ls` is the image's `/usr/bin/ls`); the file itself is not
    /// followed. `None` when it does not exist.
    fn canonical(&self, path: &str) -> Option<String> {
        let path = Path::new(path.trim_start_matches('/'));
        let name = path.file_name()?;
        let directory = fs_err::canonicalize(self.root.join(path.parent()?)).ok()?;
        let inside = directory.strip_prefix(&self.root).ok()?.join(name);
        fs_err::symlink_metadata(self.root.join(&inside)).ok()?;
        Some(format!("/{}", inside.display()))
    }

    /// Every file a `.md5sums` of the dpkg database lists, at its canonical path, with the
    /// package (the file name before `.md5sums`, less any `:arch`).
    fn md5sums(&self) -> BTreeMap<String, String> {
        let info = self.root.join("var/lib/dpkg/info");
        let mut files = BTreeMap::new();
        for entry in fs_err::read_dir(&info).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            let Some(package) = name.strip_suffix(".md5sums") else {
                continue;
            };
            let package = package.split(':').next().unwrap().to_owned();
            for line in fs_err::read_to_string(&path).unwrap().lines() {
                let (_, listed) = line.split_once("  ").unwrap();
                if let Some(canonical) = self.canonical(listed) {
                    files.insert(canonical, package.clone());
                }
            }
        }
        files
    }

    /// Every path a `.list` of the dpkg database names that exists, canonical.
    fn listed(&self) -> BTreeSet<String> {
        let info = self.root.join("var/lib/dpkg/info");
        let mut files = BTreeSet::new();
        for entry in fs_err::read_dir(&info).unwrap() {
            let path = entry.unwrap().path();
            if path
                .extension()
                .is_some_and(|extension| extension == "list")
            {
                for line in fs_err::read_to_string(&path).unwrap().lines() {
                    files.extend(self.canonical(line));
                }
            }
        }
        files
    }

    /// The package `dpkg -S` names for an image path (tried as listed, then without `/usr`).
    fn dpkg_owner(&self, path: &str) -> String {
        let candidates = [Some(path), path.strip_prefix("/usr")];
        for candidate in candidates.into_iter().flatten() {
            let output = StdCommand::new("dpkg")
                .arg(self.admindir())
                .args(["-S", candidate])
                .output()
                .unwrap();
            if output.status.success() {
                let stdout = String::from_utf8(output.stdout).unwrap();
                let line = stdout
                    .lines()
                    .find(|line| !line.starts_with("diversion "))
                    .unwrap();
                let (packages, _) = line.rsplit_once(": ").unwrap();
                assert!(!packages.contains(", "), "{path}: shared by {packages}");
                return packages.split(':').next().unwrap().to_owned();
            }
        }
        panic!("dpkg -S knows no owner of {path}");
    }
}

#[test]
fn debian_root_only_the_overwritten_executable_is_altered() {
    let Some(debian) = debian() else { return };
    let manifest = &debian.manifest;
    assert_eq!(manifest["predicateType"], "https://exelock.dev/manifest/v2");
    assert_eq!(
        manifest["image"]["searchPath"],
        serde_json::json!(rootfs::IMAGE_PATH.split(':').collect::<Vec<_>>())
    );

    // The database: dpkg's status file with every installed package.
    let output = StdCommand::new("dpkg-query")
        .arg(debian.admindir())
        .args(["-W", "-f", "${db:Status-Status} ${Package}\n"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", printed(&output));
    let installed = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter(|line| line.starts_with("installed "))
        .count();
    assert!(installed > 50, "{installed} packages installed");
    assert_eq!(
        manifest["packageDatabases"],
        serde_json::json!([{"db": "dpkg", "path": "/var/lib/dpkg/status", "packages": installed}])
    );
    assert_eq!(manifest["packages"].as_array().unwrap().len(), installed);

    // The replaced ls is the one mismatch, owned by coreutils.
    let ls = executable(manifest, "/usr/bin/ls");
    assert_eq!(ls["packageDigest"], "mismatch", "{ls}");
    assert_eq!(ls["package"]["name"], "coreutils", "{ls}");
    assert_eq!(ls["package"]["db"], "dpkg", "{ls}");
    assert_eq!(ls["layer"], 1, "{ls}");
    let mismatches: Vec<&str> = executables(manifest)
        .iter()
        .filter(|exe| exe["packageDigest"] == "mismatch")
        .map(|exe| exe["path"].as_str().unwrap())
        .collect();
    assert_eq!(mismatches, ["/usr/bin/ls"]);

    // Every other executable dpkg records an MD5 for is a match, owned by that package.
    let md5sums = debian.md5sums();
    let mut matches = 0;
    for exe in executables(manifest) {
        let path = exe["path"].as_str().unwrap();
        let Some(package) = md5sums.get(path) else {
            assert_ne!(exe["packageDigest"], "match", "{exe}");
            continue;
        };
        assert_eq!(exe["package"]["name"], package.as_str(), "{exe}");
        if path != "/usr/bin/ls" {
            assert_eq!(exe["packageDigest"], "match", "{exe}");
            matches += 1;
        }
    }
    assert!(matches > 100, "only {matches} executables match");

    // Owned or not as the .list files say (unowned: maintainer scripts and the like).
    let listed = debian.listed();
    for exe in executables(manifest) {
        let path = exe["path"].as_str().unwrap();
        assert_eq!(
            exe["packageDigest"] != "unowned",
            listed.contains(path),
            "{exe}"
        );
        assert_eq!(exe["package"].is_object(), listed.contains(path), "{exe}");
    }

    // A sample of owners, spread over the manifest, against dpkg -S.
    let owned: Vec<&Value> = executables(manifest)
        .iter()
        .filter(|exe| exe["package"].is_object())
        .collect();
    assert!(owned.len() > 100, "{} owned executables", owned.len());
    let step = owned.len() / 10;
    let mut sample: BTreeSet<&str> = owned
        .iter()
        .step_by(step)
        .map(|exe| exe["path"].as_str().unwrap())
        .collect();
    sample.extend(["/usr/bin/ls", "/usr/bin/dpkg", "/etc/cron.daily/dpkg"]);
    for path in sample {
        let exe = executable(manifest, path);
        assert_eq!(
            exe["package"]["name"].as_str().unwrap(),
            debian.dpkg_owner(path),
            "{exe}"
        );
        let package = &exe["package"];
        let purl = format!(
            "pkg:deb/debian/{}@{}?arch={}",
            package["name"].as_str().unwrap(),
            package["version"].as_str().unwrap(),
            package["arch"].as_str().unwrap()
        );
        assert!(
            percent_decoded(package["purl"].as_str().unwrap()).starts_with(&purl),
            "{package}"
        );
    }
}

/// The layer cache on a real root: a package database kept whole, thousands of entries. The
/// altered image scanned with its Debian base layer cached (from a scan of the root alone)
/// writes the bytes of a cold scan, and so does a scan served wholly from the cache.
#[test]
fn debian_root_scans_with_the_base_layer_cached_equal_cold_scans() {
    let Some(debian) = debian() else { return };
    let cache = debian.work.path().join("layer-cache");
    let scan_bytes = |image: &str, cached: bool| {
        let mut command = exelock();
        if cached {
            command
                .env_remove("EXELOCK_NO_CACHE")
                .env("EXELOCK_CACHE_DIR", &cache);
        }
        let output = command
            .args(["scan", image, "-q", "--format", "json"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
        output.stdout
    };
    let cold = scan_bytes(&debian.altered_image, false);
    scan_bytes(&debian.root_image, true);
    assert!(
        fs_err::read_dir(cache.join("layers")).unwrap().count() == 1,
        "the base layer's entry"
    );
    for pass in ["base cached", "all cached"] {
        assert!(
            scan_bytes(&debian.altered_image, true) == cold,
            "{pass}: the scan differs from the cold one"
        );
    }
}

#[test]
fn debian_root_gate_names_the_altered_package_and_hazards_on_the_path() {
    let Some(debian) = debian() else { return };
    let policy = "[attestation]\nlevel = \"off\"\n[hazards]\npackage-managers = \"deny\"\n\
                  downloaders = \"off\"\ncompilers = \"off\"\nshells = \"off\"\n\
                  [altered-packages]\nlevel = \"deny\"\n";

    let (code, report) = gate(debian.work.path(), &debian.altered_image, policy);
    assert_eq!(code, Some(1), "{report}");
    let found = violations(&report);
    let altered: Vec<_> = found
        .iter()
        .filter(|violation| violation.rule == "altered-packages")
        .collect();
    assert_eq!(altered.len(), 1, "{found:?}");
    let Violation { path, message, .. } = altered[0];
    assert_eq!(path, "/usr/bin/ls");
    let coreutils = &executable(&debian.manifest, "/usr/bin/ls")["package"]["version"];
    assert!(
        message.contains(&format!(
            "package coreutils {} (dpkg)",
            coreutils.as_str().unwrap()
        )),
        "{message}"
    );

    // Package managers are found on the PATH by owner, not by name anywhere.
    let managers: BTreeSet<&str> = found
        .iter()
        .filter(|violation| violation.rule == "hazards/package-managers")
        .map(|violation| violation.path.as_str())
        .collect();
    assert!(managers.contains("/usr/bin/dpkg"), "{managers:?}");
    assert!(managers.contains("/usr/bin/apt-get"), "{managers:?}");
    for path in &managers {
        let directory = Path::new(path).parent().unwrap().to_str().unwrap();
        assert!(
            rootfs::IMAGE_PATH
                .split(':')
                .any(|entry| entry == directory),
            "{path} is not on the PATH"
        );
    }
    assert!(!managers.contains("/etc/cron.daily/dpkg"), "{managers:?}");
    assert!(!managers.contains("/usr/share/bug/dpkg"), "{managers:?}");
    executable(&debian.manifest, "/etc/cron.daily/dpkg");

    // The root alone: nothing altered (the package managers still fail it).
    let (_, report) = gate(debian.work.path(), &debian.root_image, policy);
    let found = violations(&report);
    assert!(
        !found
            .iter()
            .any(|violation| violation.rule == "altered-packages"),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|violation| violation.rule == "hazards/package-managers"
                && violation.path == "/usr/bin/dpkg"),
        "{found:?}"
    );
}

/// An executable, SHA-256 file digests (rpm's default).
const HELLO_A_SPEC: &str = r"Name: exelock-hello-a
Version: 1.0
Release: 1
Summary: exelock test package
%description
One executable.
%install
mkdir -p %{buildroot}/usr/bin
printf '#!/bin/sh\necho hello a\n' > %{buildroot}/usr/bin/hello-a
chmod 755 %{buildroot}/usr/bin/hello-a
%files
/usr/bin/hello-a
";

/// An executable and a `%config` file, with an epoch.
const HELLO_B_SPEC: &str = r"Name: exelock-hello-b
Epoch: 3
Version: 2.5
Release: 7
Summary: exelock test package with a config file
%description
An executable and its configuration.
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/etc
printf '#!/bin/sh\necho hello b\n' > %{buildroot}/usr/bin/hello-b
chmod 755 %{buildroot}/usr/bin/hello-b
echo 'greeting=b' > %{buildroot}/etc/hello-b.conf
%files
/usr/bin/hello-b
%config /etc/hello-b.conf
";

#[test]
fn rpm_root_owners_versions_and_the_overwritten_executable() {
    if !rpm_root::rpm_tools() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let rpm = RpmRoot::new(work.path());
    let packages = [
        rpm.build("exelock-hello-a", HELLO_A_SPEC),
        rpm.build("exelock-hello-b", HELLO_B_SPEC),
    ];
    rpm.install(&packages);
    assert_eq!(
        rpm.owner("/usr/bin/hello-a"),
        "exelock-hello-a\t1.0-1\tnoarch"
    );
    assert_eq!(
        rpm.owner("/usr/bin/hello-b"),
        "exelock-hello-b\t3:2.5-7\tnoarch"
    );
    // rpm ≥ 4.16 writes rpmdb.sqlite; take whichever database it wrote.
    let db_dir = rpm.root.join("var/lib/rpm");
    let (db, file) = [
        ("rpm-sqlite", "rpmdb.sqlite"),
        ("rpm-ndb", "Packages.db"),
        ("rpm-bdb", "Packages"),
    ]
    .into_iter()
    .find(|(_, file)| db_dir.join(file).is_file())
    .unwrap();

    let mut image = OciImage::new(&work.path().join("image"));
    image.add_directory_layer(&rpm.root);
    let root_image = image.tag("root");
    let altered_image = image
        .add_files_layer(&[("/usr/bin/hello-a", b"#!/bin/sh\necho replaced\n", 0o755)])
        .tag("altered");

    for (image, hello_a_digest) in [(&root_image, "match"), (&altered_image, "mismatch")] {
        let manifest = scan(image);
        assert_eq!(
            manifest["packageDatabases"],
            serde_json::json!([{"db": db, "path": format!("/var/lib/rpm/{file}"), "packages": 2}]),
            "{image}"
        );
        let names: Vec<&str> = manifest["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|package| package["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["exelock-hello-a", "exelock-hello-b"]);

        let a = executable(&manifest, "/usr/bin/hello-a");
        assert_eq!(a["packageDigest"], hello_a_digest, "{image}: {a}");
        assert_eq!(a["package"]["name"], "exelock-hello-a", "{a}");
        assert_eq!(a["package"]["version"], "1.0-1", "{a}");
        assert_eq!(a["package"]["arch"], "noarch", "{a}");
        assert_eq!(a["package"]["db"], db, "{a}");
        let b = executable(&manifest, "/usr/bin/hello-b");
        assert_eq!(b["packageDigest"], "match", "{image}: {b}");
        assert_eq!(b["package"]["name"], "exelock-hello-b", "{b}");
        assert_eq!(b["package"]["version"], "3:2.5-7", "{b}");
        for (exe, name, version, epoch) in [
            (a, "exelock-hello-a", "1.0-1", None),
            (b, "exelock-hello-b", "2.5-7", Some("epoch=3")),
        ] {
            let purl = exe["package"]["purl"].as_str().unwrap();
            assert!(purl.starts_with("pkg:rpm/"), "{purl}");
            assert!(
                purl.contains(&format!("/{name}@{version}?arch=noarch")),
                "{purl}"
            );
            if let Some(epoch) = epoch {
                assert!(purl.contains(epoch), "{purl}");
            }
        }
        // The config file is no executable; nothing else is owned.
        assert_eq!(
            paths(&manifest, "executables"),
            ["/usr/bin/hello-a", "/usr/bin/hello-b"],
            "{image}"
        );
    }
}
