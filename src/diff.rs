//! What changed between two executable manifests: executables added, removed, changed (content,
//! mode or kind) and moved (same content at another path); OS packages added, removed or at
//! another version; executables whose bytes stopped matching their package. Pure: no I/O.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::coded::coded_enum;
use crate::manifest::{Executable, Kind, Manifest, PREDICATE_TYPE_V1, Package, PackageDigest};

/// An executable as the diff reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Path.
    pub path: String,
    /// Content digest, hex.
    pub sha256: String,
    /// Mode, 4 octal digits.
    pub mode: String,
    /// Its kind.
    pub kind: Kind,
}

impl From<&Executable> for Entry {
    fn from(exe: &Executable) -> Self {
        Self {
            path: exe.path.clone(),
            sha256: exe.sha256.hex(),
            mode: format!("{:04o}", exe.mode),
            kind: exe.kind,
        }
    }
}

coded_enum! {
    /// What differs between two executables at the same path.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum Difference {
        /// The content.
        Sha256 = "sha256",
        /// The mode bits.
        Mode = "mode",
        /// The kind (ELF executable, script, …).
        Kind = "kind",
    }
}

/// An executable present at the same path in both, but different.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Changed {
    /// Path.
    pub path: String,
    /// What differs, in the order content, mode, kind.
    pub differences: Vec<Difference>,
    /// In A.
    pub before: Entry,
    /// In B.
    pub after: Entry,
}

/// The same content at another path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Moved {
    /// Path in A.
    pub from: String,
    /// Path in B.
    pub to: String,
    /// The content digest.
    pub sha256: String,
}

/// A package installed in both, at another version (same name, arch and database).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageChanged {
    /// Package name.
    pub name: String,
    /// Architecture (empty when the database does not say).
    pub arch: String,
    /// The database that lists it (`dpkg`, `apk`, `rpm-sqlite`, …).
    pub db: String,
    /// The version in A.
    pub before: String,
    /// The version in B.
    pub after: String,
}

/// The OS packages that differ from A to B.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageChanges {
    /// Only in B.
    pub added: Vec<Package>,
    /// Only in A.
    pub removed: Vec<Package>,
    /// In both at another version.
    pub changed: Vec<PackageChanged>,
}

impl PackageChanges {
    /// Whether A and B list the same packages.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// An executable of B whose bytes differ from what its package shipped, which in A matched
/// (or had no recorded state, or was not there).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Altered {
    /// Path.
    pub path: String,
    /// The package that owns it in B.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<Package>,
    /// Its package-digest state in A; `null` when A has no such executable or no package data.
    pub before: Option<PackageDigest>,
}

/// The differences from A to B.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diff {
    /// Only in B.
    pub added: Vec<Entry>,
    /// Only in A.
    pub removed: Vec<Entry>,
    /// At the same path in both, different.
    pub changed: Vec<Changed>,
    /// Removed from one path and added at another with the same content.
    pub moved: Vec<Moved>,
    /// OS package changes; absent when A or B records no package data (see
    /// `packages_not_compared`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packages: Option<PackageChanges>,
    /// Why packages were not compared when only one of A and B records package data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packages_not_compared: Option<String>,
    /// Executables whose package digest became `mismatch`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub altered: Vec<Altered>,
}

/// Whether a manifest records package ownership for its executables (format 2, scanned by an
/// exelock that reads package databases). An image without any package database still has
/// package data: every executable is `unowned`.
#[must_use]
pub fn has_package_data(manifest: &Manifest) -> bool {
    manifest.predicate_type != PREDICATE_TYPE_V1
        && manifest
            .executables
            .iter()
            .all(|exe| exe.package_digest.is_some())
}

/// Compares the package lists of A and B, by name, arch and database: one version for one
/// version is a version change; anything else (several versions installed side by side, as
/// RPM allows) is reported as the versions added and removed.
#[must_use]
pub fn diff_packages(a: &[Package], b: &[Package]) -> PackageChanges {
    fn by_key(packages: &[Package]) -> BTreeMap<(&str, &str, &str), Vec<&Package>> {
        let mut map: BTreeMap<_, Vec<&Package>> = BTreeMap::new();
        for package in packages {
            map.entry((
                package.name.as_str(),
                package.arch.as_str(),
                package.db.as_str(),
            ))
            .or_default()
            .push(package);
        }
        map
    }
    let before = by_key(a);
    let after = by_key(b);
    let keys: BTreeSet<_> = before.keys().chain(after.keys()).copied().collect();
    let mut changes = PackageChanges::default();
    for key in keys {
        let old = before.get(&key).map_or(&[][..], Vec::as_slice);
        let new = after.get(&key).map_or(&[][..], Vec::as_slice);
        let only = |these: &[&Package], those: &[&Package]| -> Vec<Package> {
            these
                .iter()
                .filter(|this| !those.iter().any(|that| that.version == this.version))
                .map(|this| (*this).clone())
                .collect()
        };
        let gone = only(old, new);
        let came = only(new, old);
        if let ([gone], [came]) = (gone.as_slice(), came.as_slice()) {
            changes.changed.push(PackageChanged {
                name: key.0.to_owned(),
                arch: key.1.to_owned(),
                db: key.2.to_owned(),
                before: gone.version.clone(),
                after: came.version.clone(),
            });
        } else {
            changes.removed.extend(gone);
            changes.added.extend(came);
        }
    }
    changes
}

impl Diff {
    /// Whether A and B hold the same executables (packages aside).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.moved.is_empty()
    }
}

/// Compares the executables of two manifests (by exact path bytes) and, when both record
/// package data, their packages.
#[must_use]
pub fn diff(a: &Manifest, b: &Manifest) -> Diff {
    let by_path = |manifest: &Manifest| -> BTreeMap<Vec<u8>, Executable> {
        manifest
            .executables
            .iter()
            .map(|exe| (exe.raw_path(), exe.clone()))
            .collect()
    };
    let before = by_path(a);
    let after = by_path(b);
    let mut result = Diff::default();
    let mut removed: Vec<&Executable> = Vec::new();
    let mut added: Vec<&Executable> = Vec::new();
    for (path, old) in &before {
        match after.get(path) {
            None => removed.push(old),
            Some(new) => {
                let mut differences = Vec::new();
                if old.sha256 != new.sha256 {
                    differences.push(Difference::Sha256);
                }
                if old.mode != new.mode {
                    differences.push(Difference::Mode);
                }
                if old.kind != new.kind {
                    differences.push(Difference::Kind);
                }
                if !differences.is_empty() {
                    result.changed.push(Changed {
                        path: new.path.clone(),
                        differences,
                        before: old.into(),
                        after: new.into(),
                    });
                }
            }
        }
    }
    for (path, new) in &after {
        if !before.contains_key(path) {
            added.push(new);
        }
        if new.package_digest == Some(PackageDigest::Mismatch) {
            let was = before.get(path).and_then(|old| old.package_digest);
            if was != Some(PackageDigest::Mismatch) {
                result.altered.push(Altered {
                    path: new.path.clone(),
                    package: new.package.clone(),
                    before: was,
                });
            }
        }
    }
    match (has_package_data(a), has_package_data(b)) {
        (true, true) => result.packages = Some(diff_packages(&a.packages, &b.packages)),
        // Neither records packages (two format 1 manifests): nothing to compare, nothing to say.
        (false, false) => {}
        (a_has, _) => {
            let which = if a_has { "B" } else { "A" };
            result.packages_not_compared = Some(format!(
                "{which}'s manifest records no package data (format 1, or made by an older exelock): rescan it to compare packages"
            ));
        }
    }
    // Pair removed and added entries with the same content, first come first paired.
    let mut added_left: Vec<Option<&Executable>> = added.into_iter().map(Some).collect();
    for old in removed {
        let partner = added_left
            .iter_mut()
            .find(|slot| slot.is_some_and(|new| new.sha256 == old.sha256))
            .and_then(Option::take);
        match partner {
            Some(new) => result.moved.push(Moved {
                from: old.path.clone(),
                to: new.path.clone(),
                sha256: old.sha256.hex(),
            }),
            None => result.removed.push(old.into()),
        }
    }
    result.added = added_left.into_iter().flatten().map(Entry::from).collect();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::{executable, manifest, package};
    use rstest::rstest;

    #[test]
    fn classifies_added_removed_changed_and_moved() {
        let a = manifest().with_executables([
            executable("/bin/keep", "k"),
            executable("/bin/gone", "g"),
            executable("/bin/old-name", "m"),
            executable("/bin/edited", "e1"),
            executable("/bin/chmod", "c"),
        ]);
        let b = manifest().with_executables([
            executable("/bin/keep", "k"),
            executable("/bin/new", "n"),
            executable("/bin/new-name", "m"),
            executable("/bin/edited", "e2"),
            executable("/bin/chmod", "c").with_mode(0o4755),
        ]);
        let diff = diff(&a, &b);
        let paths = |entries: &[Entry]| -> Vec<String> {
            entries.iter().map(|entry| entry.path.clone()).collect()
        };
        assert_eq!(paths(&diff.added), ["/bin/new"]);
        assert_eq!(paths(&diff.removed), ["/bin/gone"]);
        assert_eq!(
            diff.moved
                .iter()
                .map(|m| (m.from.as_str(), m.to.as_str()))
                .collect::<Vec<_>>(),
            [("/bin/old-name", "/bin/new-name")]
        );
        let changed: Vec<_> = diff
            .changed
            .iter()
            .map(|c| {
                let codes: Vec<&str> = c.differences.iter().map(|d| d.code()).collect();
                (c.path.as_str(), codes)
            })
            .collect();
        assert_eq!(
            changed,
            [
                ("/bin/chmod", vec!["mode"]),
                ("/bin/edited", vec!["sha256"])
            ]
        );
        assert!(super::diff(&a, &a).is_empty());
    }

    #[test]
    fn packages_added_removed_and_at_another_version() {
        let a = manifest().with_packages([
            package("curl", "1", "amd64"),
            package("gone", "1", "amd64"),
            package("kernel", "5", "x86_64"),
            package("libc6", "2.36", "amd64"),
            package("same", "1", "amd64"),
        ]);
        let b = manifest().with_packages([
            package("curl", "2", "amd64"),
            package("kernel", "5", "x86_64"),
            package("kernel", "6", "x86_64"),
            package("libc6", "2.36", "i386"),
            package("new", "1", "all"),
            package("same", "1", "amd64"),
        ]);
        let changes = diff(&a, &b);
        assert_eq!(changes.packages_not_compared, None);
        let packages = changes.packages.unwrap();
        let names = |list: &[Package]| -> Vec<String> {
            list.iter()
                .map(|p| format!("{} {} {}", p.name, p.version, p.arch))
                .collect()
        };
        assert_eq!(
            names(&packages.added),
            ["kernel 6 x86_64", "libc6 2.36 i386", "new 1 all"]
        );
        assert_eq!(
            names(&packages.removed),
            ["gone 1 amd64", "libc6 2.36 amd64"]
        );
        assert_eq!(
            packages.changed,
            [PackageChanged {
                name: "curl".into(),
                arch: "amd64".into(),
                db: "dpkg".into(),
                before: "1".into(),
                after: "2".into(),
            }]
        );
        assert!(diff(&b, &b).packages.unwrap().is_empty());
    }

    #[rstest]
    #[case::a_is_format_1(true, false, "A's manifest records no package data")]
    #[case::b_is_format_1(false, true, "B's manifest records no package data")]
    fn packages_are_not_compared_without_package_data(
        #[case] a_old: bool,
        #[case] b_old: bool,
        #[case] reason: &str,
    ) {
        let curl = package("curl", "1", "amd64");
        let with_data = manifest()
            .with_executables([
                executable("/usr/bin/curl", "c").owned_by(curl.clone(), PackageDigest::Match)
            ])
            .with_packages([curl]);
        let mut without = manifest().with_executables([executable("/usr/bin/curl", "c")]);
        without.predicate_type = PREDICATE_TYPE_V1.into();
        let (a, b) = (
            if a_old { &without } else { &with_data },
            if b_old { &without } else { &with_data },
        );
        let changes = diff(a, b);
        assert_eq!(changes.packages, None);
        assert!(
            changes
                .packages_not_compared
                .as_deref()
                .is_some_and(|text| text.starts_with(reason)),
            "{changes:?}"
        );
        let json = serde_json::to_value(&changes).unwrap();
        assert!(json.get("packages").is_none());
        let neither = diff(&without, &without);
        assert_eq!(
            (neither.packages, neither.packages_not_compared),
            (None, None)
        );
    }

    #[test]
    fn executables_that_became_mismatched() {
        let curl = package("curl", "2", "amd64");
        let a = manifest().with_executables([
            executable("/usr/bin/curl", "c").owned_by(curl.clone(), PackageDigest::Match),
            executable("/usr/bin/still", "s").owned_by(curl.clone(), PackageDigest::Mismatch),
            executable("/usr/bin/wget", "w").owned_by(curl.clone(), PackageDigest::None),
        ]);
        let b = manifest().with_executables([
            executable("/usr/bin/curl", "evil").owned_by(curl.clone(), PackageDigest::Mismatch),
            executable("/usr/bin/new", "n").owned_by(curl.clone(), PackageDigest::Mismatch),
            executable("/usr/bin/still", "s").owned_by(curl.clone(), PackageDigest::Mismatch),
            executable("/usr/bin/wget", "w").owned_by(curl, PackageDigest::Match),
        ]);
        let changes = diff(&a, &b);
        let altered: Vec<(&str, Option<PackageDigest>)> = changes
            .altered
            .iter()
            .map(|altered| (altered.path.as_str(), altered.before))
            .collect();
        assert_eq!(
            altered,
            [
                ("/usr/bin/curl", Some(PackageDigest::Match)),
                ("/usr/bin/new", None)
            ]
        );
        assert_eq!(changes.altered[0].package.as_ref().unwrap().name, "curl");
        let json = serde_json::to_value(&changes).unwrap();
        assert_eq!(json["altered"][0]["before"], "match");
        assert_eq!(json["altered"][0]["package"]["version"], "2");
    }
}
