//! OS package databases: which package owns which file, and the digest the package recorded
//! for it — read from the bytes of a database file (or a set of them), never from a filesystem.
//!
//! Formats (details, and the documentation each follows, in the modules):
//! - Debian/Ubuntu dpkg: `var/lib/dpkg/status` + `info/<pkg>[:<arch>].list` / `.md5sums`;
//!   distroless `var/lib/dpkg/status.d/<pkg>` + `<pkg>.md5sums` ([`dpkg`]);
//! - Ubuntu chisel: `var/lib/chisel/manifest.wall` (zstd jsonwall) ([`chisel`]);
//! - Alpine apk: `lib/apk/db/installed` ([`apk`]);
//! - RPM: `rpmdb.sqlite`, Berkeley DB `Packages`, NDB `Packages.db`, each holding RPM headers
//!   ([`rpm`]).
//!
//! Also: which image paths hold these databases and `os-release` ([`paths`]), and package URLs
//! ([`purl`]).
//!
//! Pure: each reader takes bytes the caller collected while scanning an image and returns a
//! [`PackageSet`]. Nothing here walks a directory or resolves symlinks, and nothing opens a file
//! but the private temporary copy SQLite needs to read `rpmdb.sqlite`: matching a recorded path
//! to a file of the image (merged `/usr`, hardlinks) is the caller's job.
//! Database files are hostile input: every length, offset and count is bounded before use.

pub mod apk;
pub mod chisel;
pub mod dpkg;
pub mod paths;
pub mod purl;
pub mod rpm;
#[cfg(test)]
mod testing;
mod text;

use purl::{PurlType, package_url};

use crate::coded::coded_enum;

coded_enum! {
    /// Which kind of database a package was read from.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub enum Database {
        /// `var/lib/dpkg/status` with `info/*.list` and `info/*.md5sums`.
        Dpkg = "dpkg",
        /// distroless: `var/lib/dpkg/status.d/<pkg>` with `<pkg>.md5sums`.
        DpkgStatusD = "dpkg-status.d",
        /// Ubuntu chisel `var/lib/chisel/manifest.wall`.
        Chisel = "chisel",
        /// Alpine `lib/apk/db/installed`.
        Apk = "apk",
        /// RPM `rpmdb.sqlite`.
        RpmSqlite = "rpm-sqlite",
        /// RPM Berkeley DB `Packages`.
        RpmBerkeleyDb = "rpm-bdb",
        /// RPM NDB `Packages.db`.
        RpmNdb = "rpm-ndb",
    }
}

/// The algorithm of a digest a package recorded for a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DigestAlgorithm {
    /// dpkg md5sums, RPM digest algorithm 1 (and absent), legacy apk hex checksums.
    Md5,
    /// apk `Z:Q1…`, RPM digest algorithm 2.
    Sha1,
    /// chisel, RPM digest algorithm 8.
    Sha256,
}

/// A digest a package recorded for one of its files.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PackagedDigest {
    /// Its algorithm.
    pub algorithm: DigestAlgorithm,
    /// The raw digest bytes (16, 20 or 32 of them).
    pub bytes: Vec<u8>,
}

/// One installed package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    /// `curl`.
    pub name: String,
    /// The full version as the package manager prints it: `7.88.1-10+deb12u5`, `1:2.3-4.el9`
    /// (RPM: `[epoch:]version-release`), `1.2.4-r0`.
    pub version: String,
    /// `amd64`, `x86_64`, `noarch`, `all`; empty when the database does not say.
    pub arch: String,
    /// The package URL (<https://github.com/package-url/purl-spec>): `pkg:deb/debian/curl@…?arch=amd64`,
    /// `pkg:rpm/…`, `pkg:apk/alpine/…`. The namespace (`debian`, `ubuntu`, `alpine`, `fedora`…)
    /// comes from [`Distro`] when the caller knows it, else the ecosystem's generic one.
    pub purl: String,
    /// Which database it was read from.
    pub database: Database,
}

impl Package {
    /// A package read from `database` whose version carries any epoch inline (dpkg, chisel,
    /// apk), with its URL of `purl_type` in `namespace`: no `epoch` qualifier.
    fn with_inline_epoch(
        database: Database,
        purl_type: PurlType,
        namespace: &str,
        distro: &Distro,
        name: String,
        version: String,
        arch: String,
    ) -> Self {
        Self {
            purl: package_url(purl_type, namespace, distro, &name, &version, &arch, None),
            name,
            version,
            arch,
            database,
        }
    }
}

/// A file a package installed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackagedFile {
    /// The absolute path as the database records it (`/usr/bin/curl`, `/bin/ls` on merged-/usr
    /// systems); bytes, since databases do not promise UTF-8.
    pub path: Vec<u8>,
    /// Index into [`PackageSet::packages`].
    pub package: usize,
    /// The digest the package recorded, if any (directories, symlinks and some databases record
    /// none; dpkg conffiles are in `status`, not in md5sums).
    pub digest: Option<PackagedDigest>,
    /// A configuration file (dpkg conffile, RPM `%config`): the administrator may change it,
    /// so bytes that differ from [`PackagedFile::digest`] are expected rather than altered.
    pub config_file: bool,
}

/// Everything one database says: its packages and their files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PackageSet {
    /// The installed packages.
    pub packages: Vec<Package>,
    /// Their files, in database order; a path may repeat (shared directories, `.list` overlap).
    pub files: Vec<PackagedFile>,
}

/// The distribution, for package URLs: from `etc/os-release` `ID` (`debian`, `ubuntu`,
/// `alpine`, `rhel`, `fedora`, `amzn`, `sles`, …) and `VERSION_ID`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Distro {
    /// `ID`.
    pub id: String,
    /// `VERSION_ID`, possibly empty.
    pub version_id: String,
}

/// Errors reading a database. Each names the database file and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bytes are not a database of this kind, or are damaged.
    #[error("{file} is not a readable {database} database: {reason}")]
    Malformed {
        /// The database file (`var/lib/dpkg/status`, `var/lib/rpm/Packages`).
        file: String,
        /// Which kind it was read as.
        database: Database,
        /// What is wrong, with the offset or line where it helps.
        reason: String,
    },
    /// A database larger than exelock reads, or with more entries.
    #[error("{file} is too large: {what} (got {got}, limit {limit})")]
    TooLarge {
        /// The database file.
        file: String,
        /// What was counted: `bytes`, `packages`, `files of package curl`.
        what: String,
        /// The count.
        got: u64,
        /// The limit.
        limit: u64,
    },
}
