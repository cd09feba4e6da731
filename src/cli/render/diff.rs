//! `diff`'s table: one line per executable added, removed, changed, moved or altered, a count,
//! then the package changes.

use std::fmt::Write as _;

use crate::cli::color;
use crate::cli::terminal_safe;
use crate::diff::{Diff, Difference};
use crate::manifest::Package;

/// The word a line of the table starts with: what happened to an executable or a package.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeMark {
    /// An executable only in B.
    Added,
    /// An executable only in A.
    Removed,
    /// An executable at one path in both, different.
    Changed,
    /// The same bytes at another path.
    Moved,
    /// An executable whose bytes differ from what its package installed.
    Altered,
    /// A package only in B.
    PackageAdded,
    /// A package only in A.
    PackageRemoved,
    /// A package at another version.
    PackageChanged,
}

impl ChangeMark {
    /// Every mark.
    pub const ALL: [Self; 8] = [
        Self::Added,
        Self::Removed,
        Self::Changed,
        Self::Moved,
        Self::Altered,
        Self::PackageAdded,
        Self::PackageRemoved,
        Self::PackageChanged,
    ];

    /// The word, as the table writes it.
    #[must_use]
    pub const fn word(self) -> &'static str {
        match self {
            Self::Added => "added",
            Self::Removed => "removed",
            Self::Changed => "changed",
            Self::Moved => "moved",
            Self::Altered => "altered",
            Self::PackageAdded => "package added",
            Self::PackageRemoved => "package removed",
            Self::PackageChanged => "package changed",
        }
    }
}

/// The table for a terminal: control characters escaped, the kind of each change styled.
pub fn table(changes: &Diff) -> String {
    color::diff_table(&terminal_safe(&plain_table(changes)))
}

fn plain_table(changes: &Diff) -> String {
    let short = |hex: &str| format!("sha256:{}", &hex[..hex.len().min(12)]);
    let mut out = String::new();
    for entry in &changes.added {
        let _ = writeln!(
            out,
            "{:<9}{}  ({}, {}, mode {})",
            ChangeMark::Added.word(),
            entry.path,
            entry.kind.code(),
            short(&entry.sha256),
            entry.mode
        );
    }
    for entry in &changes.removed {
        let _ = writeln!(
            out,
            "{:<9}{}  ({}, {})",
            ChangeMark::Removed.word(),
            entry.path,
            entry.kind.code(),
            short(&entry.sha256)
        );
    }
    for changed in &changes.changed {
        let mut parts = Vec::new();
        for difference in &changed.differences {
            let (before, after) = match difference {
                Difference::Sha256 => (short(&changed.before.sha256), short(&changed.after.sha256)),
                Difference::Mode => (changed.before.mode.clone(), changed.after.mode.clone()),
                Difference::Kind => (
                    changed.before.kind.code().to_owned(),
                    changed.after.kind.code().to_owned(),
                ),
            };
            parts.push(format!("{} {before} -> {after}", difference.code()));
        }
        let _ = writeln!(
            out,
            "{:<9}{}  ({})",
            ChangeMark::Changed.word(),
            changed.path,
            parts.join(", ")
        );
    }
    for moved in &changes.moved {
        let _ = writeln!(
            out,
            "{:<9}{} -> {}  ({})",
            ChangeMark::Moved.word(),
            moved.from,
            moved.to,
            short(&moved.sha256)
        );
    }
    for altered in &changes.altered {
        let _ = writeln!(
            out,
            "{:<9}{}  (bytes differ from package {}; {})",
            ChangeMark::Altered.word(),
            altered.path,
            altered.package.as_ref().map_or_else(
                || "<unknown>".to_owned(),
                |package| format!("{} {} ({})", package.name, package.version, package.db)
            ),
            altered
                .before
                .map_or("new in B".to_owned(), |before| format!(
                    "was {}",
                    before.code()
                ))
        );
    }
    let _ = writeln!(
        out,
        "{} added, {} removed, {} changed, {} moved",
        changes.added.len(),
        changes.removed.len(),
        changes.changed.len(),
        changes.moved.len()
    );
    if let Some(packages) = changes
        .packages
        .as_ref()
        .filter(|packages| !packages.is_empty() || !changes.altered.is_empty())
    {
        let describe = |package: &Package| {
            let arch = if package.arch.is_empty() {
                String::new()
            } else {
                format!("{}, ", package.arch)
            };
            format!(
                "{} {}  ({arch}{})",
                package.name, package.version, package.db
            )
        };
        for (mark, listed) in [
            (ChangeMark::PackageAdded, &packages.added),
            (ChangeMark::PackageRemoved, &packages.removed),
        ] {
            for package in listed {
                let _ = writeln!(out, "{:<17}{}", mark.word(), describe(package));
            }
        }
        for changed in &packages.changed {
            let arch = if changed.arch.is_empty() {
                String::new()
            } else {
                format!("{}, ", changed.arch)
            };
            let _ = writeln!(
                out,
                "{:<17}{} {} -> {}  ({arch}{})",
                ChangeMark::PackageChanged.word(),
                changed.name,
                changed.before,
                changed.after,
                changed.db
            );
        }
        let _ = writeln!(
            out,
            "packages: {} added, {} removed, {} at another version; {} executables altered",
            packages.added.len(),
            packages.removed.len(),
            packages.changed.len(),
            changes.altered.len()
        );
    }
    if let Some(reason) = &changes.packages_not_compared {
        let _ = writeln!(out, "packages: not compared: {reason}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::{Changed, Entry};
    use crate::manifest::Kind;

    fn entry(sha256: &str, mode: &str, kind: Kind) -> Entry {
        Entry {
            path: "/usr/bin/tool".into(),
            sha256: sha256.into(),
            mode: mode.into(),
            kind,
        }
    }

    #[test]
    fn each_difference_shows_its_own_before_and_after() {
        let changes = Diff {
            changed: vec![Changed {
                path: "/usr/bin/tool".into(),
                differences: vec![Difference::Sha256, Difference::Mode, Difference::Kind],
                before: entry(&"a".repeat(64), "0755", Kind::Script),
                after: entry(&"b".repeat(64), "4755", Kind::ElfExecutable),
            }],
            ..Diff::default()
        };
        assert_eq!(
            plain_table(&changes),
            "changed  /usr/bin/tool  (sha256 sha256:aaaaaaaaaaaa -> sha256:bbbbbbbbbbbb, \
             mode 0755 -> 4755, kind script -> elf-executable)\n\
             0 added, 0 removed, 1 changed, 0 moved\n"
        );
    }
}
