//! RPM package databases: the installed packages and their files, read from the bytes of
//! `rpmdb.sqlite` (rpm ≥ 4.16: Fedora 33+, RHEL 9, Amazon Linux 2023, CBL-Mariner 2),
//! Berkeley DB `Packages` (older RHEL/CentOS/Fedora) or NDB `Packages.db` (SUSE).
//!
//! Each format is only a container of RPM headers, one per installed package ([`header`]);
//! [`read_rpm`] picks the container reader (submodules `sqlite`, `bdb`, `ndb`) and turns every
//! header into a [`Package`] and its [`PackagedFile`]s: the path is dirname + basename, the
//! digest is tag 1035 in the algorithm of tag 5011, and directories, symlinks and other files
//! without content digest have none.
//!
//! Package URLs follow the purl `rpm` type
//! (<https://github.com/package-url/purl-spec/blob/main/types/rpm-definition.json>):
//! `pkg:rpm/<distro id>/<name>@<version>-<release>?arch=<arch>&distro=<id>-<version id>&epoch=<epoch>`,
//! qualifiers sorted as the spec's canonical form requires; the namespace is `rpm` when the
//! caller does not know the distribution.
//!
//! Bounds: at most [`MAX_DATABASE_BYTES`], [`MAX_PACKAGES`] packages, [`MAX_FILES`] files and
//! [`MAX_TOTAL_PATH_BYTES`] of paths per database; every header is checked by [`header`].
//! Apart from the private temporary copy the SQLite reader needs (see the `sqlite` submodule),
//! nothing here does I/O; nothing matches recorded paths to an image's files.

mod bdb;
pub mod header;
mod ndb;
mod sqlite;

use std::fmt;

use super::purl::{PurlType, distro_namespace, package_url};
use super::{Database, Distro, Error, Package, PackageSet, PackagedFile};

/// The largest database file read.
pub const MAX_DATABASE_BYTES: u64 = 1 << 30;
/// The most packages one database may hold.
pub const MAX_PACKAGES: usize = 100_000;
/// The most files one database may list, over all its packages (a large RHEL or Fedora
/// system lists a few hundred thousand).
pub const MAX_FILES: usize = 2_000_000;
/// The most bytes of file paths one database may list, over all its packages.
pub const MAX_TOTAL_PATH_BYTES: u64 = 256 << 20;

/// Reads an RPM database of the given kind.
///
/// `file_label` names the database in errors (`var/lib/rpm/rpmdb.sqlite`); `distro` gives the
/// package URLs their namespace and `distro` qualifier.
///
/// # Errors
///
/// [`Error::Malformed`] when the bytes are not a database of that kind, a page, slot or record
/// is damaged, or a header is invalid (the message names where); [`Error::TooLarge`] past the
/// module's bounds; [`Error::Malformed`] as well when `database` is not an RPM kind.
pub fn read_rpm(
    database: Database,
    bytes: &[u8],
    file_label: &str,
    distro: &Distro,
) -> Result<PackageSet, Error> {
    match database {
        Database::RpmSqlite => read_rpm_sqlite(bytes, file_label, distro),
        Database::RpmBerkeleyDb => read_rpm_berkeley_db(bytes, file_label, distro),
        Database::RpmNdb => read_rpm_ndb(bytes, file_label, distro),
        Database::Dpkg | Database::DpkgStatusD | Database::Chisel | Database::Apk => {
            Err(Error::Malformed {
                file: file_label.to_owned(),
                database,
                reason: "not an RPM database kind".to_owned(),
            })
        }
    }
}

/// Reads `rpmdb.sqlite` (table `Packages`, column `blob`).
///
/// # Errors
///
/// As [`read_rpm`].
pub fn read_rpm_sqlite(
    bytes: &[u8],
    file_label: &str,
    distro: &Distro,
) -> Result<PackageSet, Error> {
    read_headers(
        Database::RpmSqlite,
        sqlite::for_each_header,
        bytes,
        file_label,
        distro,
    )
}

/// Reads a Berkeley DB (hash) `Packages`.
///
/// # Errors
///
/// As [`read_rpm`].
pub fn read_rpm_berkeley_db(
    bytes: &[u8],
    file_label: &str,
    distro: &Distro,
) -> Result<PackageSet, Error> {
    read_headers(
        Database::RpmBerkeleyDb,
        bdb::for_each_header,
        bytes,
        file_label,
        distro,
    )
}

/// Reads an NDB `Packages.db`.
///
/// # Errors
///
/// As [`read_rpm`].
pub fn read_rpm_ndb(bytes: &[u8], file_label: &str, distro: &Distro) -> Result<PackageSet, Error> {
    read_headers(
        Database::RpmNdb,
        ndb::for_each_header,
        bytes,
        file_label,
        distro,
    )
}

/// What receives each header blob of a database, with where it was found.
type VisitHeader<'v> = dyn FnMut(String, &[u8]) -> Result<(), Error> + 'v;

/// How one kind of database hands out its header blobs to a [`VisitHeader`].
type ForEachHeader =
    fn(source: &Source<'_>, bytes: &[u8], visit: &mut VisitHeader<'_>) -> Result<(), Error>;

/// The packages of the headers `for_each_header` finds in a database of kind `database`.
fn read_headers(
    database: Database,
    for_each_header: ForEachHeader,
    bytes: &[u8],
    file_label: &str,
    distro: &Distro,
) -> Result<PackageSet, Error> {
    let source = Source::new(database, file_label, bytes)?;
    let mut builder = PackageSetBuilder::new(&source, distro);
    for_each_header(&source, bytes, &mut |location, blob| {
        builder.add(location, blob)
    })?;
    Ok(builder.finish())
}

/// The database being read, for error messages.
struct Source<'a> {
    database: Database,
    file: &'a str,
}

impl<'a> Source<'a> {
    fn new(database: Database, file: &'a str, bytes: &[u8]) -> Result<Self, Error> {
        let source = Self { database, file };
        if bytes.len() as u64 > MAX_DATABASE_BYTES {
            return Err(source.too_large("bytes", bytes.len() as u64, MAX_DATABASE_BYTES));
        }
        Ok(source)
    }

    fn malformed(&self, reason: impl Into<String>) -> Error {
        Error::Malformed {
            file: self.file.to_owned(),
            database: self.database,
            reason: reason.into(),
        }
    }

    fn too_large(&self, what: impl Into<String>, got: u64, limit: u64) -> Error {
        Error::TooLarge {
            file: self.file.to_owned(),
            what: what.into(),
            got,
            limit,
        }
    }
}

/// Collects packages and files from header blobs, within the module's bounds.
struct PackageSetBuilder<'a> {
    source: &'a Source<'a>,
    distro: &'a Distro,
    set: PackageSet,
    path_bytes: u64,
}

impl<'a> PackageSetBuilder<'a> {
    fn new(source: &'a Source<'a>, distro: &'a Distro) -> Self {
        Self {
            source,
            distro,
            set: PackageSet::default(),
            path_bytes: 0,
        }
    }

    /// Adds the package of one header blob; `location` says where the blob was found.
    fn add(&mut self, location: impl fmt::Display, blob: &[u8]) -> Result<(), Error> {
        let source = self.source;
        let header = header::parse_header(blob)
            .map_err(|err| source.malformed(format!("header at {location}: {err}")))?;
        let package = self.set.packages.len();
        if package >= MAX_PACKAGES {
            return Err(source.too_large("packages", package as u64 + 1, MAX_PACKAGES as u64));
        }
        let files = self.set.files.len().saturating_add(header.file_count());
        if files > MAX_FILES {
            return Err(source.too_large(
                format!("files (at package {})", header.name),
                files as u64,
                MAX_FILES as u64,
            ));
        }
        let path_bytes = self.path_bytes.saturating_add(header.path_bytes());
        if path_bytes > MAX_TOTAL_PATH_BYTES {
            return Err(source.too_large(
                format!("bytes of file paths (at package {})", header.name),
                path_bytes,
                MAX_TOTAL_PATH_BYTES,
            ));
        }
        self.path_bytes = path_bytes;
        self.set
            .files
            .extend(header.files().map(|file| PackagedFile {
                path: file.path,
                package,
                digest: file.digest,
                config_file: file.config,
            }));
        self.set.packages.push(Package {
            purl: purl(&header, self.distro),
            version: header.full_version(),
            arch: header.arch,
            name: header.name,
            database: source.database,
        });
        Ok(())
    }

    fn finish(self) -> PackageSet {
        self.set
    }
}

/// The package URL of an RPM package (see the module documentation).
fn purl(header: &header::PackageHeader<'_>, distro: &Distro) -> String {
    package_url(
        PurlType::Rpm,
        distro_namespace(distro, "rpm"),
        distro,
        &header.name,
        &format!("{}-{}", header.version, header.release),
        &header.arch,
        header.epoch,
    )
}

#[cfg(test)]
mod tests;
