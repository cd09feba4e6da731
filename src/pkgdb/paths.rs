//! Which files of an image the package database readers need: [`database_file`] names the
//! role of a path (as the layer walker normalises it: no leading `/`), so the scanner keeps the
//! final bytes of exactly those files while the layers stream; [`read_os_release`] turns
//! `etc/os-release` into the [`Distro`] the package URLs use.
//!
//! Pure: this module matches path bytes and parses os-release bytes. It never opens a file and
//! never resolves a symlink; `etc/os-release` is usually a symlink to `../usr/lib/os-release`,
//! so the caller keeps both and follows the link itself (os-release(5):
//! <https://www.freedesktop.org/software/systemd/man/latest/os-release.html>).

use super::text::{MAX_TEXT_DATABASE_BYTES, lines, trim_blanks};
use super::{Database, Distro};

/// The role of a database file in an image.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DatabaseFile {
    /// `var/lib/dpkg/status`.
    DpkgStatus,
    /// `var/lib/dpkg/info/<name>` where the name ends in `.list` or `.md5sums`
    /// (`tar.list`, `libc6:amd64.md5sums`); the string is that file name, to pass to
    /// [`read_dpkg`](super::dpkg::read_dpkg).
    DpkgInfo(String),
    /// `var/lib/dpkg/diversions`.
    DpkgDiversions,
    /// `var/lib/dpkg/status.d/<name>` (distroless): a stanza file or `<name>.md5sums`; the string
    /// is the file name, to pass to [`read_dpkg_status_d`](super::dpkg::read_dpkg_status_d).
    DpkgStatusD(String),
    /// `var/lib/chisel/manifest.wall`.
    ChiselManifest,
    /// `lib/apk/db/installed`.
    ApkInstalled,
    /// `var/lib/rpm/rpmdb.sqlite` or `usr/lib/sysimage/rpm/rpmdb.sqlite`.
    RpmSqlite,
    /// Berkeley DB `var/lib/rpm/Packages` or `usr/lib/sysimage/rpm/Packages`.
    RpmBerkeleyDb,
    /// NDB `var/lib/rpm/Packages.db` or `usr/lib/sysimage/rpm/Packages.db`.
    RpmNdb,
    /// `etc/os-release`: wins over [`DatabaseFile::UsrLibOsRelease`] when both exist.
    EtcOsRelease,
    /// `usr/lib/os-release`: the fallback when `etc/os-release` is absent (or a link to it).
    UsrLibOsRelease,
}

/// The largest RPM database file worth keeping in memory; a full RHEL Berkeley DB `Packages`
/// is a few hundred MiB.
const MAX_RPM_DATABASE_BYTES: u64 = 1 << 30;
/// os-release files are a few hundred bytes.
const MAX_OS_RELEASE_BYTES: u64 = 64 << 10;

impl DatabaseFile {
    /// The database this file belongs to; `None` for os-release.
    #[must_use]
    pub const fn database(&self) -> Option<Database> {
        match self {
            Self::DpkgStatus | Self::DpkgInfo(_) | Self::DpkgDiversions => Some(Database::Dpkg),
            Self::DpkgStatusD(_) => Some(Database::DpkgStatusD),
            Self::ChiselManifest => Some(Database::Chisel),
            Self::ApkInstalled => Some(Database::Apk),
            Self::RpmSqlite => Some(Database::RpmSqlite),
            Self::RpmBerkeleyDb => Some(Database::RpmBerkeleyDb),
            Self::RpmNdb => Some(Database::RpmNdb),
            Self::EtcOsRelease | Self::UsrLibOsRelease => None,
        }
    }

    /// The most bytes of this file worth keeping: a larger one is reported as too large rather
    /// than buffered (the readers check the same limit).
    #[must_use]
    pub const fn max_bytes(&self) -> u64 {
        match self {
            Self::RpmSqlite | Self::RpmBerkeleyDb | Self::RpmNdb => MAX_RPM_DATABASE_BYTES,
            Self::EtcOsRelease | Self::UsrLibOsRelease => MAX_OS_RELEASE_BYTES,
            Self::DpkgStatus
            | Self::DpkgInfo(_)
            | Self::DpkgDiversions
            | Self::DpkgStatusD(_)
            | Self::ChiselManifest
            | Self::ApkInstalled => MAX_TEXT_DATABASE_BYTES,
        }
    }
}

const DPKG_INFO_DIRECTORY: &[u8] = b"var/lib/dpkg/info/";
const DPKG_STATUS_D_DIRECTORY: &[u8] = b"var/lib/dpkg/status.d/";

/// The role of the image file at `path`, if a package database reader needs it.
///
/// `path` is relative to the image root as the layer walker normalises it
/// (`var/lib/dpkg/status`); a leading `/` or `./` is tolerated. Names that are not UTF-8 are
/// never database files.
#[must_use]
pub fn database_file(path: &[u8]) -> Option<DatabaseFile> {
    let path = path
        .strip_prefix(b"./")
        .or_else(|| path.strip_prefix(b"/"))
        .unwrap_or(path);
    let fixed = match path {
        b"var/lib/dpkg/status" => Some(DatabaseFile::DpkgStatus),
        b"var/lib/dpkg/diversions" => Some(DatabaseFile::DpkgDiversions),
        b"var/lib/chisel/manifest.wall" => Some(DatabaseFile::ChiselManifest),
        b"lib/apk/db/installed" => Some(DatabaseFile::ApkInstalled),
        b"var/lib/rpm/rpmdb.sqlite" | b"usr/lib/sysimage/rpm/rpmdb.sqlite" => {
            Some(DatabaseFile::RpmSqlite)
        }
        b"var/lib/rpm/Packages" | b"usr/lib/sysimage/rpm/Packages" => {
            Some(DatabaseFile::RpmBerkeleyDb)
        }
        b"var/lib/rpm/Packages.db" | b"usr/lib/sysimage/rpm/Packages.db" => {
            Some(DatabaseFile::RpmNdb)
        }
        b"etc/os-release" => Some(DatabaseFile::EtcOsRelease),
        b"usr/lib/os-release" => Some(DatabaseFile::UsrLibOsRelease),
        _ => None,
    };
    if fixed.is_some() {
        return fixed;
    }
    if let Some(name) = path.strip_prefix(DPKG_INFO_DIRECTORY) {
        let wanted = name.ends_with(b".list") || name.ends_with(b".md5sums");
        return file_name(name)
            .filter(|_| wanted)
            .map(DatabaseFile::DpkgInfo);
    }
    if let Some(name) = path.strip_prefix(DPKG_STATUS_D_DIRECTORY) {
        return file_name(name).map(DatabaseFile::DpkgStatusD);
    }
    None
}

/// A direct child's name: non-empty, no `/`, UTF-8.
fn file_name(name: &[u8]) -> Option<String> {
    if name.is_empty() || name.contains(&b'/') {
        return None;
    }
    std::str::from_utf8(name).ok().map(str::to_owned)
}

/// The distribution named by an os-release file: `ID` and `VERSION_ID`.
///
/// Lines are `KEY=value` with the value unquoted, or in single or double quotes (a backslash
/// escapes `"`, `\`, `$` and `` ` `` inside double quotes); `#` lines are comments. `ID` is
/// lowercased (os-release(5) says it is lowercase already). Anything unreadable is skipped: a
/// missing field leaves its string empty, and the package URLs then use the generic namespace.
#[must_use]
pub fn read_os_release(bytes: &[u8]) -> Distro {
    let mut distro = Distro::default();
    let limit = usize::try_from(MAX_OS_RELEASE_BYTES).unwrap_or(usize::MAX);
    for (_, line) in lines(bytes.get(..limit).unwrap_or(bytes)) {
        let line = trim_blanks(line);
        if line.starts_with(b"#") {
            continue;
        }
        let Some(equals) = memchr::memchr(b'=', line) else {
            continue;
        };
        let (key, value) = (&line[..equals], &line[equals + 1..]);
        let target = match key {
            b"ID" => &mut distro.id,
            b"VERSION_ID" => &mut distro.version_id,
            _ => continue,
        };
        if let Some(value) = unquote(value) {
            *target = value;
        }
    }
    distro.id = distro.id.to_lowercase();
    distro
}

/// An os-release value without its shell quoting; `None` when it is not UTF-8 or the quotes
/// do not close.
fn unquote(value: &[u8]) -> Option<String> {
    let value = std::str::from_utf8(value).ok()?;
    if let Some(inner) = value.strip_prefix('\'') {
        return inner.strip_suffix('\'').map(str::to_owned);
    }
    let Some(inner) = value.strip_prefix('"') else {
        return Some(value.to_owned());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut characters = inner.chars();
    while let Some(character) = characters.next() {
        if character == '\\' {
            match characters.next() {
                Some(escaped @ ('"' | '\\' | '$' | '`')) => out.push(escaped),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(character);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_every_database_path() {
        let cases: &[(&[u8], Option<DatabaseFile>)] = &[
            (b"var/lib/dpkg/status", Some(DatabaseFile::DpkgStatus)),
            (b"/var/lib/dpkg/status", Some(DatabaseFile::DpkgStatus)),
            (b"./var/lib/dpkg/status", Some(DatabaseFile::DpkgStatus)),
            (b"var/lib/dpkg/status-old", None),
            (
                b"var/lib/dpkg/diversions",
                Some(DatabaseFile::DpkgDiversions),
            ),
            (
                b"var/lib/dpkg/info/tar.list",
                Some(DatabaseFile::DpkgInfo("tar.list".into())),
            ),
            (
                b"var/lib/dpkg/info/libc6:amd64.md5sums",
                Some(DatabaseFile::DpkgInfo("libc6:amd64.md5sums".into())),
            ),
            (b"var/lib/dpkg/info/tar.conffiles", None),
            (b"var/lib/dpkg/info/tar.postinst", None),
            (b"var/lib/dpkg/info/sub/tar.list", None),
            (
                b"var/lib/dpkg/status.d/libc6",
                Some(DatabaseFile::DpkgStatusD("libc6".into())),
            ),
            (
                b"var/lib/dpkg/status.d/libc6.md5sums",
                Some(DatabaseFile::DpkgStatusD("libc6.md5sums".into())),
            ),
            (b"var/lib/dpkg/status.d/", None),
            (b"var/lib/dpkg/status.d/\xff", None),
            (
                b"var/lib/chisel/manifest.wall",
                Some(DatabaseFile::ChiselManifest),
            ),
            (b"manifest.wall", None),
            (b"lib/apk/db/installed", Some(DatabaseFile::ApkInstalled)),
            (b"var/lib/rpm/rpmdb.sqlite", Some(DatabaseFile::RpmSqlite)),
            (
                b"usr/lib/sysimage/rpm/rpmdb.sqlite",
                Some(DatabaseFile::RpmSqlite),
            ),
            (b"var/lib/rpm/Packages", Some(DatabaseFile::RpmBerkeleyDb)),
            (b"var/lib/rpm/Packages.db", Some(DatabaseFile::RpmNdb)),
            (
                b"usr/lib/sysimage/rpm/Packages.db",
                Some(DatabaseFile::RpmNdb),
            ),
            (b"etc/os-release", Some(DatabaseFile::EtcOsRelease)),
            (b"usr/lib/os-release", Some(DatabaseFile::UsrLibOsRelease)),
            (b"usr/bin/dpkg", None),
        ];
        for (path, expected) in cases {
            assert_eq!(
                &database_file(path),
                expected,
                "{}",
                String::from_utf8_lossy(path)
            );
        }
    }

    #[test]
    fn every_database_file_has_a_size_limit_and_a_database() {
        assert_eq!(
            DatabaseFile::DpkgInfo("x.list".into()).database(),
            Some(Database::Dpkg)
        );
        assert_eq!(DatabaseFile::EtcOsRelease.database(), None);
        assert!(DatabaseFile::RpmBerkeleyDb.max_bytes() > DatabaseFile::DpkgStatus.max_bytes());
    }

    // The Ubuntu 24.04 os-release that osv-scalibr's chisel test uses (chisel_test.go,
    // `UbuntuNoble`), and the variants of its other cases.
    #[test]
    fn reads_id_and_version_id() {
        let noble = b"PRETTY_NAME=\"Ubuntu 24.04.2 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\n\
            VERSION=\"24.04.2 LTS (Noble Numbat)\"\nVERSION_CODENAME=noble\nID=ubuntu\nID_LIKE=debian\n";
        assert_eq!(
            read_os_release(noble),
            Distro {
                id: "ubuntu".into(),
                version_id: "24.04".into()
            }
        );
        assert_eq!(
            read_os_release(b"VERSION_ID=\"24.04\"\n\t\t\tID=ubuntu"),
            Distro {
                id: "ubuntu".into(),
                version_id: "24.04".into()
            }
        );
        assert_eq!(
            read_os_release(b"VERSION_CODENAME=noble"),
            Distro::default()
        );
        assert_eq!(
            read_os_release(b"# c\nID='Alpine'\nVERSION_ID=3.18.4\n"),
            Distro {
                id: "alpine".into(),
                version_id: "3.18.4".into()
            }
        );
        assert_eq!(
            read_os_release(b"ID=\"a\\\"b\"\nVERSION_ID=\"unterminated\n"),
            Distro {
                id: "a\"b".into(),
                version_id: String::new()
            }
        );
    }
}
