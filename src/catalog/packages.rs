//! Package ownership of the final filesystem's executables.
//!
//! The package databases (and `os-release`) the walk kept whole are read with [`crate::pkgdb`]
//! once every layer is merged, so only the databases of the final filesystem count. Each path a
//! package records is matched to the file it names in the merged filesystem by resolving its
//! directories through the image's symlinks (Debian's merged `/usr`: dpkg still lists `/bin/ls`,
//! the file is `/usr/bin/ls`); the last component is not followed, so a package that ships a
//! symlink owns the symlink, not its target. An executable a package owns is compared with the
//! digest the package recorded, in that digest's algorithm (computed while the file streamed).
//!
//! Reads nothing but the merged filesystem it is given; a database that does not parse is an
//! error, never a silently "unowned" image: a damaged database must not hide altered files.

use std::collections::BTreeMap;

use super::{Error, FileRecord, Filesystem, State, absolute};
use crate::manifest::{self, PackageDigest};
use crate::pkgdb::paths::{DatabaseFile, database_file, read_os_release};
use crate::pkgdb::{self, Database, DigestAlgorithm, PackageSet, PackagedDigest};

/// The kept files of each kind of database: `(path, bytes)`, every `.list`/`.md5sums` (and
/// every `status.d` file) under one key.
type DatabaseFiles<'a> = BTreeMap<DatabaseFile, Vec<(&'a [u8], &'a [u8])>>;

/// What the image's package databases say about its executables.
#[derive(Debug, Default)]
pub(super) struct Ownership {
    /// The databases read, by path.
    pub databases: Vec<manifest::PackageDatabase>,
    /// Every package they list, sorted, without duplicates.
    pub packages: Vec<manifest::Package>,
    /// Executable path (normalised, no leading `/`) → its package and digest state.
    owners: BTreeMap<Vec<u8>, (manifest::Package, PackageDigest)>,
}

impl Ownership {
    /// The owner and digest state of the executable at `path` (normalised); `Unowned` when no
    /// package claims it.
    pub fn of(&self, path: &[u8]) -> (Option<manifest::Package>, PackageDigest) {
        self.owners
            .get(path)
            .map_or((None, PackageDigest::Unowned), |(package, state)| {
                (Some(package.clone()), *state)
            })
    }
}

/// Reads the package databases of `filesystem` and decides every executable's owner.
///
/// # Errors
/// [`Error::PackageDatabase`] when a database of the final filesystem cannot be read.
pub(super) fn ownership(filesystem: &Filesystem, image: &str) -> Result<Ownership, Error> {
    let mut files = DatabaseFiles::new();
    for (path, state) in &filesystem.nodes {
        if let State::Data { bytes } = state
            && let Some(file) = database_file(path)
        {
            let key = match file {
                DatabaseFile::DpkgInfo(_) => DatabaseFile::DpkgInfo(String::new()),
                DatabaseFile::DpkgStatusD(_) => DatabaseFile::DpkgStatusD(String::new()),
                other => other,
            };
            files.entry(key).or_default().push((path, bytes));
        }
    }
    let distro = filesystem
        .resolve_path(b"etc/os-release")
        .or_else(|| filesystem.resolve_path(b"usr/lib/os-release"))
        .and_then(|path| match filesystem.nodes.get(&path) {
            Some(State::Data { bytes }) => Some(read_os_release(bytes)),
            _ => None,
        })
        .unwrap_or_default();

    let mut sets: Vec<(Database, String, PackageSet)> = Vec::new();
    let failed = |file: &[u8], source: pkgdb::Error| Error::PackageDatabase {
        image: image.to_owned(),
        file: String::from_utf8_lossy(&absolute(file)).into_owned(),
        source,
    };
    let one = |kind: DatabaseFile| files.get(&kind).and_then(|found| found.first().copied());
    let named = |kind: DatabaseFile| {
        files
            .get(&kind)
            .into_iter()
            .flatten()
            .filter_map(|(path, bytes)| {
                let name = path.rsplit(|byte| *byte == b'/').next()?;
                Some((std::str::from_utf8(name).ok()?, *bytes))
            })
            .collect::<Vec<_>>()
    };
    if let Some((path, status)) = one(DatabaseFile::DpkgStatus) {
        let diversions = one(DatabaseFile::DpkgDiversions).map(|(_, bytes)| bytes);
        let set = pkgdb::dpkg::read_dpkg(
            status,
            named(DatabaseFile::DpkgInfo(String::new())),
            diversions,
            &distro,
        )
        .map_err(|source| failed(path, source))?;
        sets.push((Database::Dpkg, display(path), set));
    }
    let status_d = named(DatabaseFile::DpkgStatusD(String::new()));
    if !status_d.is_empty() {
        let set = pkgdb::dpkg::read_dpkg_status_d(status_d, &distro)
            .map_err(|source| failed(b"var/lib/dpkg/status.d", source))?;
        sets.push((
            Database::DpkgStatusD,
            "/var/lib/dpkg/status.d".to_owned(),
            set,
        ));
    }
    if let Some((path, bytes)) = one(DatabaseFile::ChiselManifest) {
        let set = pkgdb::chisel::read_chisel_manifest(bytes, &distro)
            .map_err(|source| failed(path, source))?;
        sets.push((Database::Chisel, display(path), set));
    }
    if let Some((path, bytes)) = one(DatabaseFile::ApkInstalled) {
        let set = pkgdb::apk::read_apk_installed(bytes, &distro)
            .map_err(|source| failed(path, source))?;
        sets.push((Database::Apk, display(path), set));
    }
    for kind in [
        DatabaseFile::RpmSqlite,
        DatabaseFile::RpmBerkeleyDb,
        DatabaseFile::RpmNdb,
    ] {
        let Some(database) = kind.database() else {
            continue;
        };
        for (path, bytes) in files.get(&kind).into_iter().flatten() {
            let label = display(path);
            let set = pkgdb::rpm::read_rpm(database, bytes, &label, &distro)
                .map_err(|source| failed(path, source))?;
            sets.push((database, label, set));
        }
    }

    let mut ownership = Ownership::default();
    for (database, path, set) in sets {
        ownership.databases.push(manifest::PackageDatabase {
            db: database.code().to_owned(),
            path,
            packages: set.packages.len(),
        });
        let packages: Vec<manifest::Package> = set
            .packages
            .iter()
            .map(|package| manifest::Package {
                name: package.name.clone(),
                version: package.version.clone(),
                arch: package.arch.clone(),
                purl: package.purl.clone(),
                db: package.database.code().to_owned(),
            })
            .collect();
        for file in &set.files {
            let Some(package) = packages.get(file.package) else {
                continue;
            };
            let Some(path) = filesystem.resolve_parents(&file.path) else {
                continue;
            };
            let Some(State::Executable { record, .. }) = filesystem.nodes.get(&path) else {
                continue;
            };
            if ownership.owners.contains_key(&path) {
                continue;
            }
            let state = if file.config_file {
                // An administrator may change a configuration file; its packaged digest says
                // nothing about tampering.
                PackageDigest::None
            } else {
                file.digest
                    .as_ref()
                    .map_or(PackageDigest::None, |digest| compare(record, digest))
            };
            ownership.owners.insert(path, (package.clone(), state));
        }
        ownership.packages.extend(packages);
    }
    ownership.databases.sort();
    ownership.packages.sort();
    ownership.packages.dedup();
    Ok(ownership)
}

/// Whether the executable's bytes have the digest its package recorded.
fn compare(record: &FileRecord, digest: &PackagedDigest) -> PackageDigest {
    let ours: &[u8] = match (digest.algorithm, &record.package_digests) {
        (DigestAlgorithm::Sha256, _) => record.sha256.bytes(),
        (DigestAlgorithm::Md5, Some(digests)) => &digests.md5,
        (DigestAlgorithm::Sha1, Some(digests)) => &digests.sha1,
        // A scan computes them for every executable; without them nothing proves the bytes
        // are the packaged ones.
        (DigestAlgorithm::Md5 | DigestAlgorithm::Sha1, None) => return PackageDigest::Mismatch,
    };
    if ours == digest.bytes.as_slice() {
        PackageDigest::Match
    } else {
        PackageDigest::Mismatch
    }
}

fn display(path: &[u8]) -> String {
    String::from_utf8_lossy(&absolute(path)).into_owned()
}

impl Filesystem {
    /// `path` (absolute or not) with every directory component resolved through the image's
    /// symlinks and the last component kept as it is: the key of the file the path names.
    /// `None` when a symlink chain is too long.
    pub(super) fn resolve_parents(&self, path: &[u8]) -> Option<Vec<u8>> {
        let mut parts: Vec<&[u8]> = path
            .split(|byte| *byte == b'/')
            .filter(|part| !part.is_empty())
            .collect();
        let last = parts.pop()?;
        let parent = parts.join(&b'/');
        let mut resolved = if parent.is_empty() {
            Vec::new()
        } else {
            self.resolve_path(&parent)?
        };
        if !resolved.is_empty() {
            resolved.push(b'/');
        }
        resolved.extend_from_slice(last);
        Some(resolved)
    }
}

#[cfg(test)]
mod tests {
    use md5::Digest as _;

    use super::super::{Change, Node};
    use super::*;
    use crate::test_fixtures::{data_file, executable_node, put, whiteout};

    const STATUS: &str =
        "Package: coreutils\nStatus: install ok installed\nArchitecture: amd64\nVersion: 9.1-1\n\n";

    /// A merged-/usr Debian-like image: dpkg lists `/bin/…`, the files are in `/usr/bin`.
    fn debian_like(layers: Vec<Vec<Change>>) -> Filesystem {
        let ls = b"#!/bin/sh\necho ls\n";
        let cat = b"#!/bin/sh\necho cat\n";
        let md5sums = format!(
            "{}  bin/ls\n{}  bin/cat\n",
            hex::encode(md5::Md5::digest(ls)),
            hex::encode(md5::Md5::digest(cat))
        );
        let mut filesystem = Filesystem::default();
        filesystem.apply(
            0,
            vec![
                put("bin", Node::Symlink(b"usr/bin".to_vec())),
                put("usr/bin/ls", executable_node(ls)),
                put("usr/bin/cat", executable_node(cat)),
                put(
                    "usr/local/bin/app",
                    executable_node(b"#!/bin/sh\necho app\n"),
                ),
                put(
                    "etc/os-release",
                    Node::Symlink(b"../usr/lib/os-release".to_vec()),
                ),
                data_file("usr/lib/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
                data_file("var/lib/dpkg/status", STATUS),
                data_file(
                    "var/lib/dpkg/info/coreutils.list",
                    "/bin\n/bin/ls\n/bin/cat\n",
                ),
                data_file("var/lib/dpkg/info/coreutils.md5sums", &md5sums),
            ],
        );
        for (index, changes) in layers.into_iter().enumerate() {
            filesystem.apply(index + 1, changes);
        }
        filesystem
    }

    #[test]
    fn packaged_executables_are_found_through_merged_usr_and_compared() {
        let filesystem = debian_like(vec![vec![put(
            "usr/bin/ls",
            executable_node(b"#!/bin/sh\necho replaced\n"),
        )]]);
        let ownership = ownership(&filesystem, "image").unwrap();
        let (package, state) = ownership.of(b"usr/bin/cat");
        let package = package.unwrap();
        assert_eq!(
            (
                package.name.as_str(),
                package.version.as_str(),
                package.db.as_str()
            ),
            ("coreutils", "9.1-1", "dpkg")
        );
        assert_eq!(
            package.purl,
            "pkg:deb/debian/coreutils@9.1-1?arch=amd64&distro=debian-12"
        );
        assert_eq!(state, PackageDigest::Match);
        assert_eq!(ownership.of(b"usr/bin/ls").1, PackageDigest::Mismatch);
        assert_eq!(
            ownership.of(b"usr/local/bin/app"),
            (None, PackageDigest::Unowned)
        );
        assert_eq!(
            ownership.databases,
            [manifest::PackageDatabase {
                db: "dpkg".into(),
                path: "/var/lib/dpkg/status".into(),
                packages: 1,
            }]
        );
    }

    #[test]
    fn a_deleted_database_owns_nothing() {
        let filesystem = debian_like(vec![vec![whiteout("var/lib/dpkg")]]);
        let ownership = ownership(&filesystem, "image").unwrap();
        assert!(ownership.databases.is_empty());
        assert_eq!(ownership.of(b"usr/bin/cat"), (None, PackageDigest::Unowned));
    }

    #[test]
    fn a_database_replaced_in_a_later_layer_is_the_one_read() {
        let filesystem = debian_like(vec![vec![data_file(
            "var/lib/dpkg/status",
            "Package: coreutils\nStatus: install ok installed\nArchitecture: amd64\nVersion: 9.1-2\n\n",
        )]]);
        let ownership = ownership(&filesystem, "image").unwrap();
        assert_eq!(ownership.of(b"usr/bin/cat").0.unwrap().version, "9.1-2");
    }

    #[test]
    fn a_damaged_database_is_an_error_naming_it() {
        let filesystem = debian_like(vec![vec![data_file(
            "var/lib/dpkg/info/coreutils.md5sums",
            "not an md5sums line\n",
        )]]);
        let error = ownership(&filesystem, "image").unwrap_err();
        assert!(
            error.to_string().contains("/var/lib/dpkg/status"),
            "{error}"
        );
    }
}
