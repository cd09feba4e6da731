//! The CI gate: a policy applied to an image's manifest (plus what the CLI found out about its
//! attestation, the bake list and a baseline) gives a report of violations and a verdict.
//!
//! Each rule is one function from the manifest (and what else it needs) to its violations;
//! [`evaluate`] runs them all and decides the verdict. Rules are named by [`RuleId`], which
//! reports, the SARIF rule catalogue and `docs/policy.md` all take their ids and descriptions
//! from.
//!
//! Pure: no I/O, no printing. Renderings (JSON, SARIF, GitHub annotations) are in `report`;
//! the text for a person is the CLI's.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::bake::{BakeEntry, BakeList};
use crate::coded::coded_enum;
use crate::diff;
use crate::manifest::{Executable, Manifest, PREDICATE_TYPE_V1, Package, PackageDigest};
use crate::policy::{Level, Policy};

coded_enum! {
    /// A rule of the gate: what reports, SARIF and `docs/policy.md` call it.
    ///
    /// Serialized as its [`code`](RuleId::code). The declaration order is the SARIF rule
    /// catalogue's: a result's `ruleIndex` is its rule's position in [`RuleId::ALL`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum RuleId {
        /// `attestation`: the image carries a valid attestation.
        Attestation = "attestation",
        /// `bake`: the bake list's binaries are in the image.
        Bake = "bake",
        /// `setuid`: setuid/setgid executables are allowed ones.
        Setuid = "setuid",
        /// `writable-dirs`: no executables under world-writable or temporary directories.
        WritableDirs = "writable-dirs",
        /// `baseline`: limits on what changed since a baseline.
        Baseline = "baseline",
        /// `altered-packages`: packaged executables have their package's bytes.
        AlteredPackages = "altered-packages",
        /// `unowned`: executables no package owns are under allowed prefixes.
        Unowned = "unowned",
        /// `hazards/package-managers`.
        PackageManagers = "hazards/package-managers",
        /// `hazards/downloaders`.
        Downloaders = "hazards/downloaders",
        /// `hazards/compilers`.
        Compilers = "hazards/compilers",
        /// `hazards/shells`.
        Shells = "hazards/shells",
    }
}

impl RuleId {
    /// One line saying what the rule requires.
    #[must_use]
    pub const fn description(self) -> &'static str {
        match self {
            Self::Attestation => "The image must carry a valid exelock attestation for its digest.",
            Self::Bake => "Binaries triage judged legitimate must be baked into the rebuilt image.",
            Self::Setuid => "setuid/setgid executables must be on the allow-list.",
            Self::WritableDirs => {
                "No executables under world-writable or temporary directories, none world-writable."
            }
            Self::Baseline => "Limits on executables new or changed since the baseline.",
            Self::AlteredPackages => {
                "Packaged executables must have the bytes their package shipped (not replaced during the build)."
            }
            Self::Unowned => "Executables no OS package owns must be under an allowed path prefix.",
            Self::PackageManagers | Self::Downloaders | Self::Compilers | Self::Shells => {
                "Hazardous tools (package managers, downloaders, compilers, shells) in the image."
            }
        }
    }

    /// The rule's position in [`RuleId::ALL`].
    #[must_use]
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The level `policy` sets for this rule.
    #[must_use]
    pub const fn level_in(self, policy: &Policy) -> Level {
        match self {
            Self::Attestation => policy.attestation.level,
            Self::Bake => policy.bake.level,
            Self::Setuid => policy.setuid.level,
            Self::WritableDirs => policy.writable_dirs.level,
            Self::Baseline => policy.baseline.level,
            Self::AlteredPackages => policy.altered_packages.level,
            Self::Unowned => policy.unowned.level,
            Self::PackageManagers => policy.hazards.package_managers,
            Self::Downloaders => policy.hazards.downloaders,
            Self::Compilers => policy.hazards.compilers,
            Self::Shells => policy.hazards.shells,
        }
    }
}

impl Serialize for RuleId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

coded_enum! {
    /// Whether the gate passed: no `deny` rule found anything.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum Verdict {
        /// No `deny` rule found anything.
        Pass = "pass",
        /// A `deny` rule found something.
        Fail = "fail",
    }
}

/// What the CLI established about the image's attestation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttestationStatus {
    /// A valid attestation for exactly this digest was found (or just made and verified).
    Verified {
        /// Who signed it.
        signer: String,
    },
    /// None was found or none verified; why.
    Missing {
        /// What was looked for and what failed.
        reason: String,
    },
}

impl fmt::Display for AttestationStatus {
    /// `verified, signed by …` or `missing: …`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Verified { signer } => write!(formatter, "verified, signed by {signer}"),
            Self::Missing { reason } => write!(formatter, "missing: {reason}"),
        }
    }
}

/// Everything the gate judges.
#[derive(Clone, Copy, Debug)]
pub struct GateInput<'a> {
    /// The image's manifest.
    pub manifest: &'a Manifest,
    /// The attestation check's outcome.
    pub attestation: &'a AttestationStatus,
    /// The bake list, when one is configured.
    pub bake: Option<&'a BakeList>,
    /// The baseline manifest, when one is configured.
    pub baseline: Option<&'a Manifest>,
}

/// One thing a rule found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Violation {
    /// The rule that found it.
    pub rule: RuleId,
    /// `deny` fails the gate, `warn` reports.
    pub level: Level,
    /// What is wrong, for a person.
    pub message: String,
    /// The path in the image it concerns, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl Violation {
    /// A violation of `rule` at the level `policy` sets for it.
    fn of(rule: RuleId, policy: &Policy, message: String, path: Option<&str>) -> Self {
        Self {
            rule,
            level: rule.level_in(policy),
            message,
            path: path.map(str::to_owned),
        }
    }
}

/// The gate's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GateReport {
    /// The image as named.
    pub image: String,
    /// Its platform manifest digest, when it has one.
    pub manifest_digest: Option<String>,
    /// Pass or fail.
    pub verdict: Verdict,
    /// The attestation check's outcome, in words.
    pub attestation: String,
    /// What the rules found, deny first.
    pub violations: Vec<Violation>,
    /// Rules that are on but could not be evaluated, and why (e.g. package rules against a
    /// format 1 manifest, which records no packages). They neither pass nor fail the gate.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
}

/// A rule that is on but could not be evaluated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Skipped {
    /// The rule.
    pub rule: RuleId,
    /// The level it is configured at.
    pub level: Level,
    /// Why it could not be evaluated, and how to make it evaluable.
    pub reason: String,
}

impl GateReport {
    /// Whether no `deny` rule found anything.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }
}

/// A class of hazardous executables: the file names that identify it on the image's `PATH`, and
/// the packages known to ship it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HazardClass {
    /// The rule that reports it (`hazards/package-managers`).
    pub rule: RuleId,
    /// The class in messages (`package managers`).
    pub label: &'static str,
    /// File names, without version suffix (`pip` matches `pip3.11`).
    pub names: &'static [&'static str],
    /// Package names known to ship the class's tools; `*` matches any run of characters
    /// (`gcc-*`). Names are those of dpkg, apk and rpm databases.
    pub packages: &'static [&'static str],
}

impl HazardClass {
    /// Whether the package `name` is one known for this class.
    #[must_use]
    pub fn ships(&self, name: &str) -> bool {
        self.packages
            .iter()
            .any(|pattern| glob_match(pattern.as_bytes(), name.as_bytes()))
    }
}

/// `pattern` with `*` for any run of bytes, against all of `text`.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| glob_match(rest, &text[skip..])),
        Some((first, rest)) => text
            .split_first()
            .is_some_and(|(byte, tail)| byte == first && glob_match(rest, tail)),
    }
}

/// The classes of hazardous executables, each with its names and its packages.
pub const HAZARD_CLASSES: [HazardClass; 4] = [
    HazardClass {
        rule: RuleId::PackageManagers,
        label: "package managers",
        names: &[
            "apt",
            "apt-get",
            "aptitude",
            "dpkg",
            "apk",
            "yum",
            "dnf",
            "microdnf",
            "rpm",
            "zypper",
            "pacman",
            "pip",
            "easy_install",
            "conda",
            "npm",
            "npx",
            "yarn",
            "pnpm",
            "gem",
            "bundle",
            "composer",
        ],
        packages: &[
            "apt",
            "aptitude",
            "dpkg",
            "apk-tools",
            "apk-tools-static",
            "yum",
            "dnf",
            "dnf5",
            "python3-dnf",
            "microdnf",
            "rpm",
            "zypper",
            "pacman",
            "python*-pip",
            "py3-pip",
            "python3-setuptools",
            "conda",
            "npm",
            "nodejs",
            "nodejs-npm",
            "yarn",
            "yarnpkg",
            "pnpm",
            "ruby*",
            "rubygems",
            "bundler",
            "composer",
            "php-composer*",
        ],
    },
    HazardClass {
        rule: RuleId::Downloaders,
        label: "downloaders",
        names: &["curl", "wget", "aria2c", "axel", "fetch"],
        packages: &[
            "curl",
            "wget",
            "wget2",
            "wget2-wget",
            "aria2",
            "axel",
            "busybox",
            "busybox-*",
        ],
    },
    HazardClass {
        rule: RuleId::Compilers,
        label: "compilers",
        names: &[
            "gcc", "g++", "cc", "c++", "clang", "clang++", "tcc", "go", "rustc", "javac",
            "gfortran",
        ],
        packages: &[
            "gcc*",
            "g++*",
            "gfortran*",
            "clang*",
            "tcc",
            "tinycc",
            "go",
            "golang*",
            "rust",
            "rustc*",
            "openjdk*",
            "java-*-openjdk*",
            "temurin-*",
        ],
    },
    HazardClass {
        rule: RuleId::Shells,
        label: "shells",
        names: &[
            "sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "busybox",
        ],
        packages: &[
            "bash",
            "bash-*",
            "dash",
            "dash-*",
            "busybox",
            "busybox-*",
            "zsh",
            "ksh",
            "ksh93",
            "mksh",
            "tcsh",
            "csh",
            "fish",
        ],
    },
];

/// The `PATH` directories assumed when the image config sets none (Docker's default).
pub const CONVENTIONAL_PATH: [&str; 6] = [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// Whether `path`'s directory is one of `search_path` (the conventional `PATH` when empty).
fn on_search_path(path: &str, search_path: &[String]) -> bool {
    let Some((dir, _)) = path.rsplit_once('/') else {
        return false;
    };
    let same = |entry: &str| {
        let entry = entry.trim_end_matches('/');
        entry == dir || (entry.is_empty() && dir.is_empty())
    };
    if search_path.is_empty() {
        CONVENTIONAL_PATH.iter().any(|entry| same(entry))
    } else {
        search_path
            .iter()
            .any(|entry| entry.starts_with('/') && same(entry))
    }
}

/// The file name without a version suffix: `pip3.11` → `pip`, `gcc-12` → `gcc`.
fn tool_name(path: &str) -> &str {
    let base = file_name(path);
    let trimmed = base.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.' || c == '-');
    if trimmed.is_empty() { base } else { trimmed }
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `curl 7.88.1-10+deb12u5 (dpkg)`.
fn describe_package(package: &Package) -> String {
    format!("{} {} ({})", package.name, package.version, package.db)
}

/// Why a hazard candidate on the `PATH` is one of `class`, or `None` when it is not.
///
/// The name must match (with any version suffix). An unowned executable (or one of a manifest
/// without package data) is then a hazard; an owned one is when its package is one known for
/// the class, or, from any other package, when its name is exactly one of the class's names (a
/// suffix-stripped name from an unrelated package is two weak signals, not one strong one).
fn hazard_owner(class: &HazardClass, path: &str, owner: Option<&Package>) -> Option<String> {
    if !class.names.contains(&tool_name(path)) {
        return None;
    }
    match owner {
        None => Some(String::new()),
        Some(package) if class.ships(&package.name) => {
            Some(format!(", from package {}", describe_package(package)))
        }
        Some(package) if class.names.contains(&file_name(path)) => Some(format!(
            ", by its name (from package {}, which exelock does not know as one of the {})",
            describe_package(package),
            class.label
        )),
        Some(_) => None,
    }
}

fn under(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    path.strip_prefix(dir)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// Applies the policy: every rule's violations, deny first, and the verdict.
#[must_use]
pub fn evaluate(policy: &Policy, input: &GateInput<'_>) -> GateReport {
    let manifest = input.manifest;
    let mut violations = [
        check_attestation(policy, input.attestation),
        input
            .bake
            .map_or_else(Vec::new, |bake| check_bake(policy, manifest, bake)),
        check_hazards(policy, manifest),
        check_altered_packages(policy, manifest),
        check_unowned(policy, manifest),
        check_setuid(policy, manifest),
        check_writable_dirs(policy, manifest),
        input.baseline.map_or_else(Vec::new, |baseline| {
            check_baseline(policy, baseline, manifest)
        }),
    ]
    .concat();
    violations.retain(|violation| violation.level != Level::Off);
    // Ordered by the rules' codes, so the order does not depend on how `RuleId` is declared.
    violations
        .sort_by(|a, b| (a.level, a.rule.code(), &a.path).cmp(&(b.level, b.rule.code(), &b.path)));
    let failed = violations
        .iter()
        .any(|violation| violation.level == Level::Deny);
    GateReport {
        image: manifest.image.name.clone(),
        manifest_digest: manifest
            .image
            .manifest_digest
            .map(|digest| digest.to_string()),
        verdict: if failed { Verdict::Fail } else { Verdict::Pass },
        attestation: input.attestation.to_string(),
        violations,
        skipped: not_evaluated(policy, manifest),
    }
}

/// `attestation`: none found, or none that verified.
fn check_attestation(policy: &Policy, status: &AttestationStatus) -> Vec<Violation> {
    match status {
        AttestationStatus::Verified { .. } => Vec::new(),
        AttestationStatus::Missing { reason } => vec![Violation::of(
            RuleId::Attestation,
            policy,
            format!("no valid attestation: {reason}"),
            None,
        )],
    }
}

/// `bake`: each entry of the bake list at its path with its content.
fn check_bake(policy: &Policy, manifest: &Manifest, bake: &BakeList) -> Vec<Violation> {
    bake.entries
        .iter()
        .filter_map(|entry| {
            not_baked(manifest, entry)
                .map(|message| Violation::of(RuleId::Bake, policy, message, Some(&entry.path)))
        })
        .collect()
}

/// Why `entry` is not in the image as the bake list says, or `None` when it is.
fn not_baked(manifest: &Manifest, entry: &BakeEntry) -> Option<String> {
    let at_path = manifest
        .executables
        .iter()
        .find(|exe| exe.path == entry.path);
    match at_path {
        Some(exe) if exe.sha256 == entry.sha256 => None,
        Some(exe) => Some(format!(
            "{} is in the image with another content (got sha256:{}, expected sha256:{})",
            entry.path,
            exe.sha256.hex(),
            entry.sha256.hex()
        )),
        None => {
            let elsewhere = manifest
                .executables
                .iter()
                .find(|exe| exe.sha256 == entry.sha256);
            let hint = elsewhere.map_or(String::new(), |exe| {
                format!(" (the same content is at {})", exe.path)
            });
            Some(format!(
                "{} (sha256:{}) was not baked into the image{hint}",
                entry.path,
                entry.sha256.hex()
            ))
        }
    }
}

/// `hazards/*`: executables and links on the image's `PATH` that are one of a class, each
/// class at its own level.
fn check_hazards(policy: &Policy, manifest: &Manifest) -> Vec<Violation> {
    let owner_of = |path: &str| {
        manifest
            .executables
            .iter()
            .find(|exe| exe.path == path)
            .and_then(|exe| exe.package.as_ref())
    };
    let candidates = manifest
        .executables
        .iter()
        .map(|exe| (exe.path.as_str(), None, exe.package.as_ref()))
        .chain(manifest.links.iter().map(|link| {
            (
                link.path.as_str(),
                Some(link.target.as_str()),
                owner_of(&link.target),
            )
        }));
    let classes: Vec<&HazardClass> = HAZARD_CLASSES
        .iter()
        .filter(|class| class.rule.level_in(policy) != Level::Off)
        .collect();
    let mut violations = Vec::new();
    for (path, link_target, owner) in candidates {
        if !on_search_path(path, &manifest.image.search_path)
            || policy.hazards.allow.iter().any(|allowed| allowed == path)
        {
            continue;
        }
        for class in &classes {
            if let Some(why) = hazard_owner(class, path, owner) {
                let via =
                    link_target.map_or(String::new(), |target| format!(" (a link to {target})"));
                violations.push(Violation::of(
                    class.rule,
                    policy,
                    format!("{path}{via} is one of the {}{why}", class.label),
                    Some(path),
                ));
            }
        }
    }
    violations
}

/// `altered-packages`: packaged executables whose bytes differ from what the package shipped.
fn check_altered_packages(policy: &Policy, manifest: &Manifest) -> Vec<Violation> {
    manifest
        .executables
        .iter()
        .filter(|exe| exe.package_digest == Some(PackageDigest::Mismatch))
        .map(|exe| {
            let package = exe
                .package
                .as_ref()
                .map_or_else(|| "its package".to_owned(), describe_package);
            Violation::of(
                RuleId::AlteredPackages,
                policy,
                format!(
                    "{}: the bytes differ from what package {package} shipped: replaced during the build",
                    exe.path
                ),
                Some(&exe.path),
            )
        })
        .collect()
}

/// `unowned`: executables no package owns, outside the allowed prefixes.
fn check_unowned(policy: &Policy, manifest: &Manifest) -> Vec<Violation> {
    let why = if manifest.package_databases.is_empty() {
        "the image has no package database".to_owned()
    } else {
        format!(
            "none of the image's databases ({}) owns it",
            manifest
                .package_databases
                .iter()
                .map(|db| format!("{} {}", db.db, db.path))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    manifest
        .executables
        .iter()
        .filter(|exe| {
            exe.package_digest == Some(PackageDigest::Unowned) && !policy.unowned.allows(&exe.path)
        })
        .map(|exe| {
            Violation::of(
                RuleId::Unowned,
                policy,
                format!("{} is not from a package: {why}", exe.path),
                Some(&exe.path),
            )
        })
        .collect()
}

/// `setuid`: setuid or setgid executables off the allow-list.
fn check_setuid(policy: &Policy, manifest: &Manifest) -> Vec<Violation> {
    manifest
        .executables
        .iter()
        .filter(|exe| exe.mode & 0o6000 != 0 && !policy.setuid.allow.contains(&exe.path))
        .map(|exe| {
            let bits = match exe.mode & 0o6000 {
                0o6000 => "setuid and setgid",
                0o4000 => "setuid",
                _ => "setgid",
            };
            Violation::of(
                RuleId::Setuid,
                policy,
                format!(
                    "{} is {bits} (mode {:04o}, owner {}:{})",
                    exe.path, exe.mode, exe.uid, exe.gid
                ),
                Some(&exe.path),
            )
        })
        .collect()
}

/// `writable-dirs`: executables under the policy's temporary directories or the image's
/// world-writable ones, and world-writable executables.
fn check_writable_dirs(policy: &Policy, manifest: &Manifest) -> Vec<Violation> {
    manifest
        .executables
        .iter()
        .filter_map(|exe| {
            writable(policy, manifest, exe).map(|message| {
                Violation::of(RuleId::WritableDirs, policy, message, Some(&exe.path))
            })
        })
        .collect()
}

/// Why `exe` is writable by others than its owner, or `None` when it is not.
fn writable(policy: &Policy, manifest: &Manifest, exe: &Executable) -> Option<String> {
    let temp_dir = policy
        .writable_dirs
        .dirs
        .iter()
        .find(|dir| under(&exe.path, dir));
    let writable_dir = manifest
        .world_writable_dirs
        .iter()
        .find(|dir| under(&exe.path, dir));
    if let Some(dir) = temp_dir.or(writable_dir) {
        let what = if temp_dir.is_some() {
            ""
        } else {
            "the world-writable directory "
        };
        Some(format!("{} is an executable under {what}{dir}", exe.path))
    } else if exe.mode & 0o002 != 0 {
        Some(format!(
            "{} is world-writable (mode {:04o})",
            exe.path, exe.mode
        ))
    } else {
        None
    }
}

/// `baseline`: every executable new (or moved) since the baseline when there are more than
/// `max-new`, every changed one when there are more than `max-changed`.
fn check_baseline(policy: &Policy, baseline: &Manifest, manifest: &Manifest) -> Vec<Violation> {
    let changes = diff::diff(baseline, manifest);
    let rule = &policy.baseline;
    let new: Vec<&str> = changes
        .added
        .iter()
        .map(|entry| entry.path.as_str())
        .chain(changes.moved.iter().map(|moved| moved.to.as_str()))
        .collect();
    let mut violations = Vec::new();
    if let Some(limit) = rule.max_new.filter(|limit| new.len() > *limit) {
        violations.extend(new.iter().map(|path| {
            Violation::of(
                RuleId::Baseline,
                policy,
                format!(
                    "{path} is new since the baseline ({} new, at most {limit} allowed)",
                    new.len()
                ),
                Some(*path),
            )
        }));
    }
    if let Some(limit) = rule
        .max_changed
        .filter(|limit| changes.changed.len() > *limit)
    {
        violations.extend(changes.changed.iter().map(|changed| {
            let differences: Vec<&str> = changed
                .differences
                .iter()
                .map(|difference| difference.code())
                .collect();
            Violation::of(
                RuleId::Baseline,
                policy,
                format!(
                    "{} changed since the baseline ({}; {} changed, at most {limit} allowed)",
                    changed.path,
                    differences.join(", "),
                    changes.changed.len()
                ),
                Some(&changed.path),
            )
        }));
    }
    violations
}

/// The package rules that are on but cannot be evaluated because executables have no package
/// data (a format 1 manifest, or one made by an older exelock).
fn not_evaluated(policy: &Policy, manifest: &Manifest) -> Vec<Skipped> {
    let without_package_data = if manifest.predicate_type == PREDICATE_TYPE_V1 {
        manifest.executables.len()
    } else {
        manifest
            .executables
            .iter()
            .filter(|exe| exe.package_digest.is_none())
            .count()
    };
    if without_package_data == 0 {
        return Vec::new();
    }
    let reason = if without_package_data == manifest.executables.len() {
        "the manifest records no package data (format 1, or made by an older exelock): rescan the image to evaluate it".to_owned()
    } else {
        format!(
            "{without_package_data} of {} executables have no package data: rescan the image to evaluate them",
            manifest.executables.len()
        )
    };
    [RuleId::AlteredPackages, RuleId::Unowned]
        .into_iter()
        .map(|rule| Skipped {
            rule,
            level: rule.level_in(policy),
            reason: reason.clone(),
        })
        .filter(|skipped| skipped.level != Level::Off)
        .collect()
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::bake::BakeEntry;
    use crate::digest::Sha256Digest;
    use crate::manifest::PREDICATE_TYPE;
    use crate::test_fixtures::{executable, link, manifest, package};

    const ALL_HAZARDS: &str = "[hazards]\npackage-managers = \"deny\"\ndownloaders = \"deny\"\ncompilers = \"deny\"\nshells = \"deny\"\n";

    const VERIFIED: AttestationStatus = AttestationStatus::Verified {
        signer: String::new(),
    };

    fn run(
        policy: &str,
        manifest: &Manifest,
        attestation: &AttestationStatus,
        bake: Option<&BakeList>,
        baseline: Option<&Manifest>,
    ) -> GateReport {
        let policy = Policy::parse(policy, "p.toml").unwrap();
        evaluate(
            &policy,
            &GateInput {
                manifest,
                attestation,
                bake,
                baseline,
            },
        )
    }

    fn rules(report: &GateReport) -> Vec<(&'static str, Level, Option<&str>)> {
        report
            .violations
            .iter()
            .map(|v| (v.rule.code(), v.level, v.path.as_deref()))
            .collect()
    }

    #[test]
    fn a_rules_index_is_its_place_in_all() {
        for (place, rule) in RuleId::ALL.into_iter().enumerate() {
            assert_eq!(rule.index(), place, "{rule}");
        }
    }

    /// docs/policy.md's table of rules is the enum's: every rule, with its code and
    /// description, in the order of `RuleId::ALL`, and nothing else.
    #[test]
    fn docs_policy_lists_every_rule() {
        let doc = include_str!("../docs/policy.md");
        let section = doc
            .split("\n## ")
            .find(|section| section.starts_with("Rules\n"))
            .expect("docs/policy.md has a `## Rules` section");
        let rows: Vec<&str> = section
            .lines()
            .filter(|line| line.starts_with("| `"))
            .collect();
        let expected: Vec<String> = RuleId::ALL
            .into_iter()
            .map(|rule| format!("| `{}` | {} |", rule.code(), rule.description()))
            .collect();
        assert_eq!(rows, expected, "docs/policy.md's table of rules");
    }

    #[test]
    fn clean_image_passes() {
        let clean = manifest().with_executables([executable("/app/server", "s")]);
        let report = run("", &clean, &VERIFIED, None, None);
        assert!(report.passed(), "{report:?}");
        assert!(report.violations.is_empty());
    }

    #[test]
    fn missing_attestation_denies_or_warns() {
        let clean = manifest();
        let missing = AttestationStatus::Missing {
            reason: "none found".into(),
        };
        assert!(!run("", &clean, &missing, None, None).passed());
        let warned = run(
            "[attestation]\nlevel = \"warn\"\n",
            &clean,
            &missing,
            None,
            None,
        );
        assert!(warned.passed());
        assert_eq!(rules(&warned), [("attestation", Level::Warn, None)]);
    }

    #[rstest]
    #[case("/usr/bin/apt-get", "hazards/package-managers", false)]
    #[case("/usr/local/bin/pip3.11", "hazards/package-managers", false)]
    #[case("/usr/bin/curl", "hazards/downloaders", true)]
    #[case("/usr/bin/gcc-12", "hazards/compilers", true)]
    fn hazards_are_found_by_name(
        #[case] path: &str,
        #[case] rule: &'static str,
        #[case] passes: bool,
    ) {
        let image = manifest().with_executables([executable(path, "x")]);
        let report = run("", &image, &VERIFIED, None, None);
        assert_eq!(rules(&report)[0].0, rule);
        assert_eq!(report.passed(), passes);
        let allowed = run(
            &format!("[hazards]\nallow = [\"{path}\"]\n"),
            &image,
            &VERIFIED,
            None,
            None,
        );
        assert!(allowed.violations.is_empty());
    }

    /// Hazards are matched on the image's PATH (the conventional one when the config sets
    /// none) and, for owned files, by the package: `(path, owner, search path, rule found)`.
    #[rstest]
    #[case::unowned_on_path("/usr/bin/curl", None, "", Some("hazards/downloaders"))]
    #[case::owned_by_its_package("/usr/bin/curl", Some("curl"), "", Some("hazards/downloaders"))]
    #[case::versioned_name_from_its_package(
        "/usr/bin/gcc-12",
        Some("gcc-12"),
        "",
        Some("hazards/compilers")
    )]
    #[case::pip_from_python_pip(
        "/usr/bin/pip3",
        Some("python3-pip"),
        "",
        Some("hazards/package-managers")
    )]
    #[case::pip_from_alpine("/usr/bin/pip3", Some("py3-pip"), "", Some("hazards/package-managers"))]
    #[case::apk("/sbin/apk", Some("apk-tools"), "", Some("hazards/package-managers"))]
    #[case::exact_name_from_another_package(
        "/usr/bin/wget",
        Some("surprise"),
        "",
        Some("hazards/downloaders")
    )]
    #[case::versioned_name_from_another_package("/usr/bin/go-1", Some("gopher-game"), "", None)]
    #[case::off_the_path("/opt/tools/curl", None, "", None)]
    #[case::off_the_path_owned("/usr/lib/apt/apt-helper/apt", Some("apt"), "", None)]
    #[case::on_the_configured_path(
        "/opt/venv/bin/pip",
        None,
        "/opt/venv/bin:/usr/bin",
        Some("hazards/package-managers")
    )]
    #[case::configured_path_with_slash(
        "/opt/venv/bin/pip",
        None,
        "/opt/venv/bin/",
        Some("hazards/package-managers")
    )]
    #[case::not_on_the_configured_path("/usr/local/bin/curl", None, "/usr/bin:/bin", None)]
    #[case::relative_path_entries_never_match("/usr/bin/curl", None, ".:bin", None)]
    fn hazards_by_path_and_package(
        #[case] path: &str,
        #[case] owner: Option<&str>,
        #[case] search_path: &str,
        #[case] found: Option<&'static str>,
    ) {
        let packaged = match owner {
            Some(owner) => executable(path, "x")
                .owned_by(package(owner, "1.0-1", "amd64"), PackageDigest::Match),
            None => executable(path, "x").unowned(),
        };
        let mut image = manifest().with_executables([packaged]);
        image.image.search_path = search_path
            .split(':')
            .filter(|dir| !dir.is_empty())
            .map(str::to_owned)
            .collect();
        let report = run(ALL_HAZARDS, &image, &VERIFIED, None, None);
        let hazards: Vec<&str> = report
            .violations
            .iter()
            .filter(|v| v.rule.code().starts_with("hazards/"))
            .map(|v| v.rule.code())
            .collect();
        assert_eq!(hazards, found.into_iter().collect::<Vec<_>>(), "{report:?}");
        if let (Some(owner), Some(violation)) = (owner, report.violations.first()) {
            assert!(
                violation
                    .message
                    .contains(&format!("package {owner} 1.0-1 (dpkg)")),
                "{}",
                violation.message
            );
        }
    }

    // See: issue 11 (package ownership): dpkg's cron job and bug-report script are named dpkg
    // but are not the package manager; only /usr/bin/dpkg on the PATH is.
    #[test]
    fn issue_11_dpkg_cron_job_and_bug_script_are_not_package_managers() {
        let dpkg = package("dpkg", "1.0-1", "amd64");
        let image = manifest().with_dpkg_database().with_executables([
            executable("/etc/cron.daily/dpkg", "c").owned_by(dpkg.clone(), PackageDigest::Match),
            executable("/usr/share/bug/dpkg", "b").owned_by(dpkg.clone(), PackageDigest::Match),
            executable("/usr/bin/dpkg", "d").owned_by(dpkg, PackageDigest::Match),
        ]);
        let report = run("", &image, &VERIFIED, None, None);
        assert_eq!(
            rules(&report),
            [(
                "hazards/package-managers",
                Level::Deny,
                Some("/usr/bin/dpkg")
            )]
        );
        assert_eq!(
            report.violations[0].message,
            "/usr/bin/dpkg is one of the package managers, from package dpkg 1.0-1 (dpkg)"
        );
        // The same files in a format 1 manifest (no owners): still only the one on the PATH.
        let old = manifest().with_executables([
            executable("/etc/cron.daily/dpkg", "c"),
            executable("/usr/share/bug/dpkg", "b"),
        ]);
        assert!(run("", &old, &VERIFIED, None, None).violations.is_empty());
    }

    #[test]
    fn links_on_the_path_take_the_package_of_their_target() {
        let image = manifest()
            .with_dpkg_database()
            .with_executables([
                executable("/usr/bin/busybox", "b")
                    .owned_by(package("busybox", "1.0-1", "amd64"), PackageDigest::Match),
                executable("/usr/lib/go-1.19/bin/go", "g").owned_by(
                    package("golang-1.19-go", "1.0-1", "amd64"),
                    PackageDigest::Match,
                ),
                executable("/usr/lib/tool/wget", "w").owned_by(
                    package("not-a-downloader", "1.0-1", "amd64"),
                    PackageDigest::Match,
                ),
            ])
            .with_links([
                link("/usr/bin/wget", "/usr/bin/busybox"),
                link("/usr/bin/go", "/usr/lib/go-1.19/bin/go"),
                link("/usr/local/bin/wget2", "/usr/lib/tool/wget"),
                link("/opt/wget", "/usr/bin/busybox"),
            ]);
        let report = run(ALL_HAZARDS, &image, &VERIFIED, None, None);
        assert_eq!(
            rules(&report),
            [
                ("hazards/compilers", Level::Deny, Some("/usr/bin/go")),
                ("hazards/downloaders", Level::Deny, Some("/usr/bin/wget")),
                ("hazards/shells", Level::Deny, Some("/usr/bin/busybox")),
            ]
        );
        assert!(report.violations[0].message.contains(
            "/usr/bin/go (a link to /usr/lib/go-1.19/bin/go) is one of the compilers, from package golang-1.19-go"
        ));
    }

    #[rstest]
    #[case("*", "anything", true)]
    #[case("gcc*", "gcc-12", true)]
    #[case("gcc*", "g++-12", false)]
    #[case("python*-pip", "python3-pip", true)]
    #[case("python*-pip", "python3-pipx", false)]
    #[case("java-*-openjdk*", "java-17-openjdk-devel", true)]
    #[case("busybox-*", "busybox", false)]
    #[case("curl", "libcurl4", false)]
    fn package_patterns(#[case] pattern: &str, #[case] name: &str, #[case] matches: bool) {
        assert_eq!(glob_match(pattern.as_bytes(), name.as_bytes()), matches);
    }

    #[rstest]
    #[case::mismatch_denies(PackageDigest::Mismatch, "", Some(Level::Deny))]
    #[case::mismatch_warns(
        PackageDigest::Mismatch,
        "[altered-packages]\nlevel = \"warn\"\n",
        Some(Level::Warn)
    )]
    #[case::mismatch_off(PackageDigest::Mismatch, "[altered-packages]\nlevel = \"off\"\n", None)]
    #[case::matching_passes(PackageDigest::Match, "", None)]
    #[case::no_recorded_digest_passes(PackageDigest::None, "", None)]
    fn altered_packages(
        #[case] digest: PackageDigest,
        #[case] policy: &str,
        #[case] found: Option<Level>,
    ) {
        let helper = executable("/usr/lib/app/helper", "h")
            .owned_by(package("curl", "1.0-1", "amd64"), digest);
        let image = manifest().with_dpkg_database().with_executables([helper]);
        let report = run(policy, &image, &VERIFIED, None, None);
        assert_eq!(
            rules(&report),
            found
                .map(|level| ("altered-packages", level, Some("/usr/lib/app/helper")))
                .into_iter()
                .collect::<Vec<_>>()
        );
        assert_eq!(report.passed(), found != Some(Level::Deny));
        assert!(report.skipped.is_empty(), "{:?}", report.skipped);
        if found.is_some() {
            assert_eq!(
                report.violations[0].message,
                "/usr/lib/app/helper: the bytes differ from what package curl 1.0-1 (dpkg) shipped: replaced during the build"
            );
        }
    }

    #[rstest]
    #[case::off_by_default("", &[])]
    #[case::warns_every_unowned("[unowned]\nlevel = \"warn\"\n", &["/app/server", "/usr/local/bin/tool", "/usr/local/bin/tool2"])]
    #[case::directory_prefixes("[unowned]\nlevel = \"deny\"\nallow = [\"/app/\", \"/usr/local/bin/\"]\n", &[])]
    #[case::exact_path("[unowned]\nlevel = \"deny\"\nallow = [\"/usr/local/bin/tool\"]\n", &["/app/server", "/usr/local/bin/tool2"])]
    #[case::prefix_without_slash_is_a_directory("[unowned]\nlevel = \"deny\"\nallow = [\"/ap\", \"/app\"]\n", &["/usr/local/bin/tool", "/usr/local/bin/tool2"])]
    fn unowned_executables(#[case] policy: &str, #[case] found: &[&str]) {
        let image = manifest().with_dpkg_database().with_executables([
            executable("/app/server", "s").unowned(),
            executable("/usr/bin/ls", "l")
                .owned_by(package("coreutils", "1.0-1", "amd64"), PackageDigest::Match),
            executable("/usr/local/bin/tool", "t").unowned(),
            executable("/usr/local/bin/tool2", "t2").unowned(),
        ]);
        let report = run(policy, &image, &VERIFIED, None, None);
        let paths: Vec<&str> = report
            .violations
            .iter()
            .filter(|v| v.rule == RuleId::Unowned)
            .filter_map(|v| v.path.as_deref())
            .collect();
        assert_eq!(paths, found);
        for violation in &report.violations {
            assert_eq!(
                violation.message,
                format!(
                    "{} is not from a package: none of the image's databases (dpkg /var/lib/dpkg/status) owns it",
                    violation.path.as_deref().unwrap()
                )
            );
        }
    }

    #[test]
    fn unowned_in_an_image_without_a_package_database() {
        let image = manifest().with_executables([executable("/server", "s").unowned()]);
        let report = run(
            "[unowned]\nlevel = \"warn\"\n",
            &image,
            &VERIFIED,
            None,
            None,
        );
        assert_eq!(
            report.violations[0].message,
            "/server is not from a package: the image has no package database"
        );
    }

    /// A manifest without package data (format 1) can neither pass nor fail the package rules:
    /// each rule that is on is reported as not evaluated, and the verdict rests on the others.
    #[rstest]
    #[case::format_1_defaults(PREDICATE_TYPE_V1, "", &["altered-packages"])]
    #[case::format_1_both_on(PREDICATE_TYPE_V1, "[unowned]\nlevel = \"warn\"\n", &["altered-packages", "unowned"])]
    #[case::format_1_both_off(PREDICATE_TYPE_V1, "[altered-packages]\nlevel = \"off\"\n", &[])]
    #[case::format_2_without_data(PREDICATE_TYPE, "", &["altered-packages"])]
    fn package_rules_without_package_data_are_not_evaluated(
        #[case] predicate_type: &str,
        #[case] policy: &str,
        #[case] skipped: &[&str],
    ) {
        let mut image = manifest().with_executables([executable("/usr/bin/tool", "t")]);
        image.predicate_type = predicate_type.into();
        let report = run(policy, &image, &VERIFIED, None, None);
        assert!(report.passed());
        assert!(report.violations.is_empty(), "{:?}", report.violations);
        assert_eq!(
            report
                .skipped
                .iter()
                .map(|s| s.rule.code())
                .collect::<Vec<_>>(),
            skipped
        );
        for skip in &report.skipped {
            assert!(
                skip.reason
                    .starts_with("the manifest records no package data (format 1"),
                "{}",
                skip.reason
            );
        }
    }

    #[test]
    fn package_rules_evaluate_what_has_data_and_say_what_has_not() {
        let image = manifest().with_dpkg_database().with_executables([
            executable("/usr/lib/a", "a")
                .owned_by(package("curl", "1.0-1", "amd64"), PackageDigest::Mismatch),
            executable("/usr/lib/b", "b"),
        ]);
        let report = run("", &image, &VERIFIED, None, None);
        assert_eq!(
            rules(&report),
            [("altered-packages", Level::Deny, Some("/usr/lib/a"))]
        );
        assert_eq!(report.skipped.len(), 1);
        assert_eq!(
            report.skipped[0].reason,
            "1 of 2 executables have no package data: rescan the image to evaluate them"
        );
    }

    #[test]
    fn shells_through_links_when_enabled() {
        let image = manifest()
            .with_executables([executable("/bin/busybox", "b")])
            .with_links([link("/bin/sh", "/bin/busybox")]);
        assert!(run("", &image, &VERIFIED, None, None).violations.is_empty());
        let report = run(
            "[hazards]\nshells = \"deny\"\n",
            &image,
            &VERIFIED,
            None,
            None,
        );
        assert_eq!(
            rules(&report),
            [
                ("hazards/shells", Level::Deny, Some("/bin/busybox")),
                ("hazards/shells", Level::Deny, Some("/bin/sh"))
            ]
        );
    }

    #[test]
    fn setuid_outside_the_allow_list_fails() {
        let image = manifest().with_executables([
            executable("/usr/bin/sudo", "s").with_mode(0o4755),
            executable("/usr/bin/wall", "w").with_mode(0o2755),
        ]);
        let report = run("", &image, &VERIFIED, None, None);
        assert_eq!(
            rules(&report),
            [
                ("setuid", Level::Deny, Some("/usr/bin/sudo")),
                ("setuid", Level::Deny, Some("/usr/bin/wall"))
            ]
        );
        let allowed = run(
            "[setuid]\nallow = [\"/usr/bin/sudo\", \"/usr/bin/wall\"]\n",
            &image,
            &VERIFIED,
            None,
            None,
        );
        assert!(allowed.passed());
    }

    #[test]
    fn executables_under_world_writable_dirs_fail() {
        let mut image = manifest().with_executables([
            executable("/srv/drop/tool", "t"),
            executable("/srv/ok", "o"),
        ]);
        image.world_writable_dirs = vec!["/srv/drop".into()];
        let report = run("", &image, &VERIFIED, None, None);
        assert_eq!(
            rules(&report),
            [("writable-dirs", Level::Deny, Some("/srv/drop/tool"))]
        );
        assert!(
            report.violations[0]
                .message
                .contains("world-writable directory /srv/drop")
        );
    }

    #[test]
    fn executables_in_temp_dirs_or_world_writable_fail() {
        let image = manifest().with_executables([
            executable("/tmp/x", "t"),
            executable("/opt/w", "w").with_mode(0o777),
            executable("/tmpfoo/ok", "o"),
        ]);
        let report = run("", &image, &VERIFIED, None, None);
        assert_eq!(
            rules(&report),
            [
                ("writable-dirs", Level::Deny, Some("/opt/w")),
                ("writable-dirs", Level::Deny, Some("/tmp/x"))
            ]
        );
    }

    #[test]
    fn bake_list_must_be_in_the_image_with_its_hash() {
        let bake = BakeList {
            version: 1,
            entries: vec![BakeEntry {
                path: "/usr/local/bin/tool".into(),
                sha256: Sha256Digest::of(b"tool"),
                reason: None,
            }],
        };
        let old = manifest().with_executables([executable("/app", "a")]);
        let report = run("", &old, &VERIFIED, Some(&bake), None);
        assert!(!report.passed());
        assert!(
            report.violations[0]
                .message
                .contains("was not baked into the image")
        );
        let wrong = manifest().with_executables([executable("/usr/local/bin/tool", "other")]);
        assert!(
            run("", &wrong, &VERIFIED, Some(&bake), None).violations[0]
                .message
                .contains("another content")
        );
        let rebuilt = manifest().with_executables([executable("/usr/local/bin/tool", "tool")]);
        assert!(run("", &rebuilt, &VERIFIED, Some(&bake), None).passed());
    }

    #[test]
    fn baseline_limits_new_and_changed() {
        let baseline = manifest().with_executables([executable("/app", "a1")]);
        let current =
            manifest().with_executables([executable("/app", "a2"), executable("/new", "n")]);
        let report = run(
            "[baseline]\nlevel = \"deny\"\nmax-new = 0\nmax-changed = 0\n",
            &current,
            &VERIFIED,
            None,
            Some(&baseline),
        );
        assert_eq!(
            rules(&report),
            [
                ("baseline", Level::Deny, Some("/app")),
                ("baseline", Level::Deny, Some("/new"))
            ]
        );
        let lenient = run(
            "[baseline]\nmax-new = 1\nmax-changed = 1\n",
            &current,
            &VERIFIED,
            None,
            Some(&baseline),
        );
        assert!(lenient.violations.is_empty());
    }
}
