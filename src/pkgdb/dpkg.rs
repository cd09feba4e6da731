//! The dpkg database of Debian and Ubuntu (`var/lib/dpkg/status` with `info/*.list` and
//! `info/*.md5sums`) and its distroless form (`var/lib/dpkg/status.d/<pkg>` with
//! `<pkg>.md5sums` beside it): which installed package owns which path, and the MD5 it shipped.
//!
//! Formats, as dpkg documents them:
//! - `status` is a list of RFC 822-style stanzas separated by blank lines; a field is
//!   `Name: value`, a line starting with a space or tab continues the field before it, field
//!   names are case-insensitive (deb822(5), dpkg-query(1), <https://man7.org/linux/man-pages/man5/deb822.5.html>).
//!   This reader uses `Package`, `Version`, `Architecture`, `Status` (`want eflag status`,
//!   dpkg(1)) and `Conffiles` (one ` /path md5 [obsolete|remove-on-upgrade]` line each).
//! - `info/<pkg>.list` (or `<pkg>:<arch>.list` for `Multi-Arch: same` packages) lists every
//!   path the package installed, directories included, one absolute path a line.
//! - `info/<pkg>.md5sums` (deb-md5sums(5)) is `<md5 hex>  <path without the leading />` per
//!   regular file; conffiles are usually not in it, their MD5 is in `status`.
//! - `diversions` is three lines per diversion: the diverted path, where the package's file
//!   went, and the diverting package (`:` for a local diversion) (dpkg-divert(1)).
//! - distroless writes one `status.d/<name>` file per package (a stanza without `Status`,
//!   which means installed) and `<name>.md5sums` next to it; there are no `.list` files, so
//!   the md5sums name the files. The md5sums of a package are found as `<pkg>:<arch>.md5sums`,
//!   `<pkg>.md5sums`, then `<file>.md5sums` for the stanza file it came from (how syft and
//!   osv-scalibr find them).
//!
//! A package counts as installed when its status says its files are unpacked: `installed`,
//! `triggers-pending`, `triggers-awaited`, `half-configured` or `unpacked` (whatever the
//! want flag); `config-files`, `half-installed` and `not-installed` packages own nothing.
//!
//! Pure: the caller collects the bytes of these files while streaming the layers (see
//! [`super::paths::database_file`]); nothing here touches a filesystem or resolves the merged
//! `/usr` links (`.list` may say `/bin/ls` where the image has `/usr/bin/ls`).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::purl::{PurlType, distro_namespace};
use super::text::{
    MAX_FILES, MAX_PACKAGES, MAX_TEXT_DATABASE_BYTES, check_count, check_size, decode_hex, excerpt,
    lines, malformed, trim_blanks, utf8,
};
use super::{
    Database, DigestAlgorithm, Distro, Error, Package, PackageSet, PackagedDigest, PackagedFile,
};

const STATUS_FILE: &str = "var/lib/dpkg/status";
const DIVERSIONS_FILE: &str = "var/lib/dpkg/diversions";
const INFO_DIRECTORY: &str = "var/lib/dpkg/info/";
const STATUS_D_DIRECTORY: &str = "var/lib/dpkg/status.d/";
const MD5SUMS_SUFFIX: &str = ".md5sums";
const LIST_SUFFIX: &str = ".list";
/// The namespace of a deb package URL when the distribution is unknown.
const DEFAULT_NAMESPACE: &str = "debian";

/// Reads a dpkg database: `status`, the `info/` files the caller collected, and `diversions`
/// if the image has one.
///
/// `info` yields `(file name, bytes)` for files of `var/lib/dpkg/info/` (`tar.list`,
/// `libc6:amd64.md5sums`); names of other files are ignored, and so are the files of packages
/// that are not installed. `distro` gives the package URLs their namespace and `distro`
/// qualifier.
///
/// Each installed package's files are its `.list` paths, then any path only its `.md5sums`
/// names, then any conffile only `status` names; an MD5 is attached from `.md5sums`, or
/// from `Conffiles` (which marks the file as a configuration file). A diverted path is
/// moved to where dpkg put the package's file.
///
/// # Errors
/// [`Error::Malformed`] for a line that is not a field, a continuation line that continues
/// nothing, a repeated field, a package name dpkg would reject, a `Status` that is not three
/// words, a package listed twice, a bad md5sums, list, conffile or diversions line;
/// [`Error::TooLarge`] past the size, package or file limits.
pub fn read_dpkg<'a>(
    status: &[u8],
    info: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    diversions: Option<&[u8]>,
    distro: &Distro,
) -> Result<PackageSet, Error> {
    check_size(STATUS_FILE, status, MAX_TEXT_DATABASE_BYTES)?;
    let info: HashMap<&str, &[u8]> = info.into_iter().collect();
    let mut builder = SetBuilder::new(Database::Dpkg, STATUS_FILE, distro);
    let stanzas = parse_stanzas(STATUS_FILE, Database::Dpkg, status)?;
    for stanza in &stanzas {
        if !stanza.is_installed(StatusRequired::Yes, STATUS_FILE, Database::Dpkg)? {
            continue;
        }
        let keys = stanza.info_keys();
        let list = lookup(&info, &keys, LIST_SUFFIX);
        let md5sums = lookup(&info, &keys, MD5SUMS_SUFFIX);
        builder.add_package(
            stanza,
            list.map(|(name, bytes)| (format!("{INFO_DIRECTORY}{name}"), bytes)),
            md5sums.map(|(name, bytes)| (format!("{INFO_DIRECTORY}{name}"), bytes)),
        )?;
    }
    let mut set = builder.finish();
    if let Some(diversions) = diversions {
        apply_diversions(&mut set, diversions)?;
    }
    Ok(set)
}

/// Reads a distroless dpkg database: the files of `var/lib/dpkg/status.d/`, as
/// `(file name, bytes)` (`libc6`, `libc6.md5sums`).
///
/// Stanza files are read in name order; a stanza without `Status` is installed. Each md5sums
/// file belongs to at most one package (the first that claims it by the names in the module
/// documentation).
///
/// # Errors
/// As [`read_dpkg`], naming the `status.d` file at fault.
pub fn read_dpkg_status_d<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    distro: &Distro,
) -> Result<PackageSet, Error> {
    let mut stanza_files: BTreeMap<&str, &[u8]> = BTreeMap::new();
    let mut md5sums_files: HashMap<&str, &[u8]> = HashMap::new();
    for (name, bytes) in files {
        if name.ends_with(MD5SUMS_SUFFIX) {
            md5sums_files.insert(name, bytes);
        } else {
            stanza_files.insert(name, bytes);
        }
    }
    let mut builder = SetBuilder::new(Database::DpkgStatusD, STATUS_D_DIRECTORY, distro);
    let mut claimed: HashSet<String> = HashSet::new();
    for (file_name, bytes) in stanza_files {
        let file = format!("{STATUS_D_DIRECTORY}{file_name}");
        check_size(&file, bytes, MAX_TEXT_DATABASE_BYTES)?;
        builder.file.clone_from(&file);
        let stanzas = parse_stanzas(&file, Database::DpkgStatusD, bytes)?;
        let mut installed = Vec::with_capacity(stanzas.len());
        for stanza in &stanzas {
            if stanza.is_installed(StatusRequired::No, &file, Database::DpkgStatusD)? {
                installed.push(stanza);
            }
        }
        let only_one = installed.len() == 1;
        for stanza in installed {
            let mut keys = stanza.info_keys();
            if only_one {
                keys.push(file_name.to_owned());
            }
            let md5sums = keys.into_iter().find_map(|key| {
                let name = format!("{key}{MD5SUMS_SUFFIX}");
                let bytes = md5sums_files.get(name.as_str())?;
                claimed.insert(name.clone()).then_some((name, *bytes))
            });
            builder.add_package(
                stanza,
                None,
                md5sums.map(|(name, bytes)| (format!("{STATUS_D_DIRECTORY}{name}"), bytes)),
            )?;
        }
    }
    Ok(builder.finish())
}

/// The first `<key><suffix>` present in `info`.
fn lookup<'a>(
    info: &HashMap<&'a str, &'a [u8]>,
    keys: &[String],
    suffix: &str,
) -> Option<(&'a str, &'a [u8])> {
    keys.iter().find_map(|key| {
        let name = format!("{key}{suffix}");
        info.get_key_value(name.as_str())
            .map(|(name, bytes)| (*name, *bytes))
    })
}

/// The fields of one stanza this reader uses, borrowed from the database bytes.
#[derive(Debug, Default)]
struct Stanza<'a> {
    /// Line of the stanza's first field, for messages.
    line: usize,
    package: &'a [u8],
    version: &'a [u8],
    architecture: &'a [u8],
    status: Option<&'a [u8]>,
    /// The `Conffiles` lines, trimmed.
    conffiles: Vec<&'a [u8]>,
}

/// Whether a stanza without `Status` is an error (dpkg's `status`) or installed (distroless).
#[derive(Clone, Copy, PartialEq, Eq)]
enum StatusRequired {
    Yes,
    No,
}

impl Stanza<'_> {
    fn is_installed(
        &self,
        required: StatusRequired,
        file: &str,
        database: Database,
    ) -> Result<bool, Error> {
        let Some(status) = self.status else {
            return Ok(required == StatusRequired::No);
        };
        let words: Vec<&[u8]> = status
            .split(|byte| *byte == b' ' || *byte == b'\t')
            .filter(|word| !word.is_empty())
            .collect();
        let [_want, _error_flag, state] = words.as_slice() else {
            return Err(malformed(
                file,
                database,
                format!(
                    "line {}: Status is not `want flag status`: {}",
                    self.line,
                    excerpt(status)
                ),
            ));
        };
        Ok(matches!(
            *state,
            b"installed"
                | b"triggers-pending"
                | b"triggers-awaited"
                | b"half-configured"
                | b"unpacked"
        ))
    }

    /// The names the package's info files may have, most specific first: `<pkg>:<arch>`,
    /// `<pkg>`. Package and architecture were checked to be ASCII.
    fn info_keys(&self) -> Vec<String> {
        let package = String::from_utf8_lossy(self.package).into_owned();
        let mut keys = Vec::with_capacity(3);
        if !self.architecture.is_empty() {
            keys.push(format!(
                "{package}:{}",
                String::from_utf8_lossy(self.architecture)
            ));
        }
        keys.push(package);
        keys
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Package,
    Version,
    Architecture,
    Status,
    Conffiles,
    Other,
}

impl Field {
    /// Field names are case-insensitive; the length check first keeps this cheap for the
    /// many fields this reader skips.
    fn of(name: &[u8]) -> Self {
        let (known, field): (&[u8], Self) = match name.len() {
            7 if name[0].eq_ignore_ascii_case(&b'P') => (b"Package", Self::Package),
            7 => (b"Version", Self::Version),
            12 => (b"Architecture", Self::Architecture),
            6 => (b"Status", Self::Status),
            9 => (b"Conffiles", Self::Conffiles),
            _ => return Self::Other,
        };
        if known.eq_ignore_ascii_case(name) {
            field
        } else {
            Self::Other
        }
    }
}

/// Splits `bytes` into stanzas, keeping those with a non-empty `Package` (the `Package:`
/// stanza with no value in syft's Debian 9 fixture is skipped, as syft and osv-scalibr do).
fn parse_stanzas<'a>(
    file: &str,
    database: Database,
    bytes: &'a [u8],
) -> Result<Vec<Stanza<'a>>, Error> {
    let mut stanzas = Vec::new();
    let mut current = Stanza::default();
    // The fields this reader uses seen in the current stanza, to reject repeats.
    let mut seen: Vec<Field> = Vec::new();
    let mut started = false;
    let mut last_field: Option<Field> = None;
    for (number, line) in lines(bytes) {
        if trim_blanks(line).is_empty() {
            if started {
                push_stanza(file, &mut stanzas, std::mem::take(&mut current))?;
            }
            seen.clear();
            started = false;
            last_field = None;
            continue;
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            match last_field {
                None => {
                    return Err(malformed(
                        file,
                        database,
                        format!("line {number}: continuation line without a field"),
                    ));
                }
                Some(Field::Conffiles) => current.conffiles.push(trim_blanks(line)),
                Some(_) => {}
            }
            continue;
        }
        let Some(colon) = memchr::memchr(b':', line) else {
            return Err(malformed(
                file,
                database,
                format!(
                    "line {number}: not a `Field: value` line: {}",
                    excerpt(line)
                ),
            ));
        };
        let name = &line[..colon];
        if name.is_empty() || name.iter().any(|byte| !byte.is_ascii_graphic()) {
            return Err(malformed(
                file,
                database,
                format!("line {number}: bad field name: {}", excerpt(name)),
            ));
        }
        if !started {
            current.line = number;
            started = true;
        }
        let value = trim_blanks(&line[colon + 1..]);
        let field = Field::of(name);
        if field != Field::Other {
            if seen.contains(&field) {
                return Err(malformed(
                    file,
                    database,
                    format!(
                        "line {number}: field {} repeated in one stanza",
                        excerpt(name)
                    ),
                ));
            }
            seen.push(field);
        }
        match field {
            Field::Package => current.package = value,
            Field::Version => current.version = value,
            Field::Architecture => current.architecture = value,
            Field::Status => current.status = Some(value),
            Field::Conffiles => {
                if !value.is_empty() {
                    current.conffiles.push(value);
                }
            }
            Field::Other => {}
        }
        last_field = Some(field);
    }
    if started {
        push_stanza(file, &mut stanzas, current)?;
    }
    for stanza in &stanzas {
        check_stanza(file, database, stanza)?;
    }
    Ok(stanzas)
}

fn push_stanza<'a>(
    file: &str,
    stanzas: &mut Vec<Stanza<'a>>,
    stanza: Stanza<'a>,
) -> Result<(), Error> {
    if stanza.package.is_empty() {
        return Ok(());
    }
    stanzas.push(stanza);
    check_count(file, "packages", stanzas.len(), MAX_PACKAGES)
}

/// Package names as dpkg accepts them: an alphanumeric, then alphanumerics and `+-._`
/// (deb-control(5)); architectures and versions without blanks.
fn check_stanza(file: &str, database: Database, stanza: &Stanza<'_>) -> Result<(), Error> {
    let name_ok = stanza
        .package
        .first()
        .is_some_and(u8::is_ascii_alphanumeric)
        && stanza
            .package
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'-' | b'.' | b'_'));
    if !name_ok {
        return Err(malformed(
            file,
            database,
            format!(
                "line {}: bad package name: {}",
                stanza.line,
                excerpt(stanza.package)
            ),
        ));
    }
    let architecture_ok = stanza
        .architecture
        .iter()
        .all(|byte| byte.is_ascii_alphanumeric() || *byte == b'-');
    if !architecture_ok {
        return Err(malformed(
            file,
            database,
            format!(
                "line {}: bad architecture: {}",
                stanza.line,
                excerpt(stanza.architecture)
            ),
        ));
    }
    if stanza
        .version
        .iter()
        .any(|byte| byte.is_ascii_whitespace() || byte.is_ascii_control())
    {
        return Err(malformed(
            file,
            database,
            format!(
                "line {}: bad version: {}",
                stanza.line,
                excerpt(stanza.version)
            ),
        ));
    }
    Ok(())
}

/// Accumulates packages and their files into a [`PackageSet`].
struct SetBuilder<'d> {
    database: Database,
    /// The file named in errors about a package (the status file or a `status.d` file).
    file: String,
    distro: &'d Distro,
    set: PackageSet,
    seen_packages: HashSet<(Vec<u8>, Vec<u8>)>,
}

impl<'d> SetBuilder<'d> {
    fn new(database: Database, file: &str, distro: &'d Distro) -> Self {
        Self {
            database,
            file: file.to_owned(),
            distro,
            set: PackageSet::default(),
            seen_packages: HashSet::new(),
        }
    }

    /// Adds one installed package with its `.list` and `.md5sums` (each as the file's path in
    /// the image, for messages, and its bytes) and its conffiles.
    fn add_package(
        &mut self,
        stanza: &Stanza<'_>,
        list: Option<(String, &[u8])>,
        md5sums: Option<(String, &[u8])>,
    ) -> Result<(), Error> {
        let identity = (stanza.package.to_vec(), stanza.architecture.to_vec());
        if !self.seen_packages.insert(identity) {
            return Err(malformed(
                &self.file,
                self.database,
                format!(
                    "line {}: package {} ({}) is listed twice",
                    stanza.line,
                    excerpt(stanza.package),
                    excerpt(stanza.architecture)
                ),
            ));
        }
        let name = utf8(&self.file, self.database, "package name", stanza.package)?;
        let version = utf8(&self.file, self.database, "version", stanza.version)?;
        let arch = utf8(
            &self.file,
            self.database,
            "architecture",
            stanza.architecture,
        )?;
        let package = self.set.packages.len();
        self.set.packages.push(Package::with_inline_epoch(
            self.database,
            PurlType::Deb,
            distro_namespace(self.distro, DEFAULT_NAMESPACE),
            self.distro,
            name,
            version,
            arch,
        ));
        check_count(
            &self.file,
            "packages",
            self.set.packages.len(),
            MAX_PACKAGES,
        )?;

        // Index into `set.files` of each path of this package, to attach digests.
        let mut by_path: HashMap<Vec<u8>, usize> = HashMap::new();
        if let Some((file, bytes)) = list {
            check_size(&file, bytes, MAX_TEXT_DATABASE_BYTES)?;
            for (number, line) in lines(bytes) {
                if line.is_empty() || line == b"/." {
                    continue;
                }
                if !line.starts_with(b"/") {
                    return Err(malformed(
                        &file,
                        self.database,
                        format!("line {number}: not an absolute path: {}", excerpt(line)),
                    ));
                }
                self.push_file(&mut by_path, package, line.to_vec(), None, false)?;
            }
        }
        if let Some((file, bytes)) = md5sums {
            check_size(&file, bytes, MAX_TEXT_DATABASE_BYTES)?;
            for (number, line) in lines(bytes) {
                if line.is_empty() {
                    continue;
                }
                let (md5, path) = parse_md5sums_line(line).ok_or_else(|| {
                    malformed(
                        &file,
                        self.database,
                        format!("line {number}: not `<md5>  <path>`: {}", excerpt(line)),
                    )
                })?;
                self.push_file(&mut by_path, package, path, Some(md5), false)?;
            }
        }
        for conffile in &stanza.conffiles {
            let (path, md5) = parse_conffile(conffile).ok_or_else(|| {
                malformed(
                    &self.file,
                    self.database,
                    format!(
                        "line {}: bad Conffiles entry of {}: {}",
                        stanza.line,
                        excerpt(stanza.package),
                        excerpt(conffile)
                    ),
                )
            })?;
            self.push_file(&mut by_path, package, path.to_vec(), md5, true)?;
        }
        Ok(())
    }

    /// Adds `path` to the package, or sets the digest of the entry it already has.
    fn push_file(
        &mut self,
        by_path: &mut HashMap<Vec<u8>, usize>,
        package: usize,
        path: Vec<u8>,
        md5: Option<[u8; 16]>,
        config_file: bool,
    ) -> Result<(), Error> {
        let digest = md5.map(|md5| PackagedDigest {
            algorithm: DigestAlgorithm::Md5,
            bytes: md5.to_vec(),
        });
        if let Some(&index) = by_path.get(&path)
            && let Some(existing) = self.set.files.get_mut(index)
        {
            if digest.is_some() {
                existing.digest = digest;
            }
            existing.config_file |= config_file;
            return Ok(());
        }
        by_path.insert(path.clone(), self.set.files.len());
        self.set.files.push(PackagedFile {
            path,
            package,
            digest,
            config_file,
        });
        check_count(&self.file, "files", self.set.files.len(), MAX_FILES)
    }

    fn finish(self) -> PackageSet {
        self.set
    }
}

/// `<32 hex>  <path>` (or `<hex> *<path>`, md5sum's binary mode, or one space) → the MD5 and
/// the absolute path.
fn parse_md5sums_line(line: &[u8]) -> Option<([u8; 16], Vec<u8>)> {
    let md5 = decode_hex::<16>(line.get(..32)?)?;
    let rest = line.get(32..)?.strip_prefix(b" ")?;
    let relative = rest
        .strip_prefix(b" ")
        .or_else(|| rest.strip_prefix(b"*"))
        .unwrap_or(rest);
    if relative.is_empty() {
        return None;
    }
    let mut path = Vec::with_capacity(relative.len() + 1);
    if !relative.starts_with(b"/") {
        path.push(b'/');
    }
    path.extend_from_slice(relative);
    Some((md5, path))
}

/// `/path md5 [obsolete] [remove-on-upgrade]` → the path and its MD5 (`None` for dpkg's
/// `newconffile` placeholder). The path may hold spaces, so the line is read from the end.
fn parse_conffile(entry: &[u8]) -> Option<(&[u8], Option<[u8; 16]>)> {
    let mut rest = trim_blanks(entry);
    loop {
        let cut = rest.iter().rposition(|byte| *byte == b' ')?;
        let last = &rest[cut + 1..];
        if last == b"obsolete" || last == b"remove-on-upgrade" {
            rest = trim_blanks(&rest[..cut]);
            continue;
        }
        let path = trim_blanks(&rest[..cut]);
        if !path.starts_with(b"/") {
            return None;
        }
        let md5 = if last == b"newconffile" {
            None
        } else {
            Some(decode_hex::<16>(last)?)
        };
        return Some((path, md5));
    }
}

/// Moves each diverted path of a package other than the diverting one to where dpkg put it.
fn apply_diversions(set: &mut PackageSet, diversions: &[u8]) -> Result<(), Error> {
    check_size(DIVERSIONS_FILE, diversions, MAX_TEXT_DATABASE_BYTES)?;
    let all: Vec<(usize, &[u8])> = lines(diversions).collect();
    let groups = all.chunks_exact(3);
    if let Some((number, _)) = groups.remainder().first() {
        return Err(malformed(
            DIVERSIONS_FILE,
            Database::Dpkg,
            format!("line {number}: a diversion needs three lines (from, to, package)"),
        ));
    }
    let mut diverted: HashMap<&[u8], (&[u8], &[u8])> = HashMap::new();
    for group in groups {
        let [(number, from), (_, to), (_, by)] = group else {
            continue;
        };
        if !from.starts_with(b"/") || !to.starts_with(b"/") || by.is_empty() {
            return Err(malformed(
                DIVERSIONS_FILE,
                Database::Dpkg,
                format!(
                    "line {number}: not a diversion: {} → {} by {}",
                    excerpt(from),
                    excerpt(to),
                    excerpt(by)
                ),
            ));
        }
        diverted.insert(from, (to, by));
    }
    if diverted.is_empty() {
        return Ok(());
    }
    for file in &mut set.files {
        let Some(&(to, by)) = diverted.get(file.path.as_slice()) else {
            continue;
        };
        let owner = set
            .packages
            .get(file.package)
            .map(|package| package.name.as_bytes());
        // `:` is a local diversion: every package's file moved.
        if by == b":" || owner != Some(by) {
            file.path = to.to_vec();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
