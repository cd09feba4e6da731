//! The CI gate: a policy applied to an image's manifest (plus what the CLI found out about its
//! attestation, the bake list and a baseline) gives a report of violations and a pass/fail.
//!
//! Pure: no I/O, no printing. Rendering (text, JSON, SARIF, GitHub annotations) is in `report`.

use serde::Serialize;

use crate::bake::BakeList;
use crate::diff;
use crate::manifest::Manifest;
use crate::policy::{Level, Policy};

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
    /// Rule id: `attestation`, `bake`, `hazards/package-managers`, `setuid`, …
    pub rule: &'static str,
    /// `deny` fails the gate, `warn` reports.
    pub level: Level,
    /// What is wrong, for a person.
    pub message: String,
    /// The path in the image it concerns, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// The gate's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GateReport {
    /// The image as named.
    pub image: String,
    /// Its platform manifest digest, when it has one.
    pub manifest_digest: Option<String>,
    /// `pass` or `fail`.
    pub verdict: &'static str,
    /// The attestation check's outcome, in words.
    pub attestation: String,
    /// What the rules found, deny first.
    pub violations: Vec<Violation>,
}

impl GateReport {
    /// Whether no `deny` rule found anything.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.verdict == "pass"
    }
}

/// Classes of hazardous executables and the file names that identify them.
pub const HAZARD_CLASSES: [(&str, &[&str]); 4] = [
    (
        "hazards/package-managers",
        &[
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
    ),
    (
        "hazards/downloaders",
        &["curl", "wget", "aria2c", "axel", "fetch"],
    ),
    (
        "hazards/compilers",
        &[
            "gcc", "g++", "cc", "c++", "clang", "clang++", "tcc", "go", "rustc", "javac",
            "gfortran",
        ],
    ),
    (
        "hazards/shells",
        &[
            "sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "busybox",
        ],
    ),
];

/// The file name without a version suffix: `pip3.11` → `pip`, `gcc-12` → `gcc`.
fn tool_name(path: &str) -> &str {
    let base = path.rsplit('/').next().unwrap_or(path);
    let trimmed = base.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.' || c == '-');
    if trimmed.is_empty() { base } else { trimmed }
}

fn under(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    path.strip_prefix(dir)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// Applies the policy.
#[must_use]
pub fn evaluate(policy: &Policy, input: &GateInput<'_>) -> GateReport {
    let manifest = input.manifest;
    let mut violations = Vec::new();
    let mut add = |rule: &'static str, level: Level, message: String, path: Option<String>| {
        if level != Level::Off {
            violations.push(Violation {
                rule,
                level,
                message,
                path,
            });
        }
    };

    if let AttestationStatus::Missing { reason } = input.attestation {
        add(
            "attestation",
            policy.attestation.level,
            format!("no valid attestation: {reason}"),
            None,
        );
    }

    if let Some(bake) = input.bake {
        for entry in &bake.entries {
            match manifest
                .executables
                .iter()
                .find(|exe| exe.path == entry.path)
            {
                Some(exe) if exe.sha256 == entry.sha256 => {}
                Some(exe) => add(
                    "bake",
                    policy.bake.level,
                    format!(
                        "{} is in the image with another content (got sha256:{}, expected sha256:{})",
                        entry.path,
                        exe.sha256.hex(),
                        entry.sha256.hex()
                    ),
                    Some(entry.path.clone()),
                ),
                None => {
                    let elsewhere = manifest
                        .executables
                        .iter()
                        .find(|exe| exe.sha256 == entry.sha256);
                    let hint = elsewhere.map_or(String::new(), |exe| {
                        format!(" (the same content is at {})", exe.path)
                    });
                    add(
                        "bake",
                        policy.bake.level,
                        format!(
                            "{} (sha256:{}) was not baked into the image{hint}",
                            entry.path,
                            entry.sha256.hex()
                        ),
                        Some(entry.path.clone()),
                    );
                }
            }
        }
    }

    let hazard_levels = [
        policy.hazards.package_managers,
        policy.hazards.downloaders,
        policy.hazards.compilers,
        policy.hazards.shells,
    ];
    let candidates = manifest
        .executables
        .iter()
        .map(|exe| (exe.path.as_str(), None))
        .chain(
            manifest
                .links
                .iter()
                .map(|link| (link.path.as_str(), Some(link.target.as_str()))),
        );
    for (path, link_target) in candidates {
        if policy.hazards.allow.iter().any(|allowed| allowed == path) {
            continue;
        }
        let name = tool_name(path);
        for ((rule, names), level) in HAZARD_CLASSES.iter().zip(hazard_levels) {
            if names.contains(&name) {
                let via =
                    link_target.map_or(String::new(), |target| format!(" (a link to {target})"));
                let class = rule.trim_start_matches("hazards/").replace('-', " ");
                add(
                    rule,
                    level,
                    format!("{path}{via} is one of the {class}"),
                    Some(path.to_owned()),
                );
            }
        }
    }

    for exe in &manifest.executables {
        if exe.mode & 0o6000 != 0 && !policy.setuid.allow.contains(&exe.path) {
            let bits = match exe.mode & 0o6000 {
                0o6000 => "setuid and setgid",
                0o4000 => "setuid",
                _ => "setgid",
            };
            add(
                "setuid",
                policy.setuid.level,
                format!(
                    "{} is {bits} (mode {:04o}, owner {}:{})",
                    exe.path, exe.mode, exe.uid, exe.gid
                ),
                Some(exe.path.clone()),
            );
        }
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
            add(
                "writable-dirs",
                policy.writable_dirs.level,
                format!("{} is an executable under {what}{dir}", exe.path),
                Some(exe.path.clone()),
            );
        } else if exe.mode & 0o002 != 0 {
            add(
                "writable-dirs",
                policy.writable_dirs.level,
                format!("{} is world-writable (mode {:04o})", exe.path, exe.mode),
                Some(exe.path.clone()),
            );
        }
    }

    if let Some(baseline) = input.baseline {
        let changes = diff::diff(baseline, manifest);
        let rule = &policy.baseline;
        let new: Vec<&str> = changes
            .added
            .iter()
            .map(|entry| entry.path.as_str())
            .chain(changes.moved.iter().map(|moved| moved.to.as_str()))
            .collect();
        if let Some(limit) = rule.max_new.filter(|limit| new.len() > *limit) {
            for path in &new {
                add(
                    "baseline",
                    rule.level,
                    format!(
                        "{path} is new since the baseline ({} new, at most {limit} allowed)",
                        new.len()
                    ),
                    Some((*path).to_owned()),
                );
            }
        }
        if let Some(limit) = rule
            .max_changed
            .filter(|limit| changes.changed.len() > *limit)
        {
            for changed in &changes.changed {
                add(
                    "baseline",
                    rule.level,
                    format!(
                        "{} changed since the baseline ({}; {} changed, at most {limit} allowed)",
                        changed.path,
                        changed.differences.join(", "),
                        changes.changed.len()
                    ),
                    Some(changed.path.clone()),
                );
            }
        }
    }

    violations.sort_by(|a, b| (a.level, a.rule, &a.path).cmp(&(b.level, b.rule, &b.path)));
    let failed = violations
        .iter()
        .any(|violation| violation.level == Level::Deny);
    GateReport {
        image: manifest.image.name.clone(),
        manifest_digest: manifest
            .image
            .manifest_digest
            .map(|digest| digest.to_string()),
        verdict: if failed { "fail" } else { "pass" },
        attestation: match input.attestation {
            AttestationStatus::Verified { signer } => format!("verified, signed by {signer}"),
            AttestationStatus::Missing { reason } => format!("missing: {reason}"),
        },
        violations,
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::bake::BakeEntry;
    use crate::digest::Sha256Digest;
    use crate::manifest::{Executable, ImageInfo, Kind, Link, PREDICATE_TYPE};

    fn exe(path: &str, content: &str, mode: u32) -> Executable {
        Executable {
            path: path.into(),
            path_bytes: None,
            sha256: Sha256Digest::of(content.as_bytes()),
            size: 1,
            mode,
            uid: 0,
            gid: 0,
            kind: Kind::ElfExecutable,
            interpreter: None,
            build_id: None,
            layer: 0,
            package: None,
            package_digest: None,
        }
    }

    fn manifest(executables: Vec<Executable>, links: Vec<Link>) -> Manifest {
        Manifest {
            predicate_type: PREDICATE_TYPE.into(),
            image: ImageInfo {
                name: "img".into(),
                index_digest: None,
                manifest_digest: Some(Sha256Digest::of(b"m")),
                config_digest: Sha256Digest::of(b"c"),
                platform: "linux/amd64".into(),
                search_path: Vec::new(),
            },
            layers: vec![],
            executables,
            links,
            hidden: vec![],
            world_writable_dirs: vec![],
            package_databases: Vec::new(),
            packages: Vec::new(),
        }
    }

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
            .map(|v| (v.rule, v.level, v.path.as_deref()))
            .collect()
    }

    #[test]
    fn clean_image_passes() {
        let clean = manifest(vec![exe("/app/server", "s", 0o755)], vec![]);
        let report = run("", &clean, &VERIFIED, None, None);
        assert!(report.passed(), "{report:?}");
        assert!(report.violations.is_empty());
    }

    #[test]
    fn missing_attestation_denies_or_warns() {
        let clean = manifest(vec![], vec![]);
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
        let image = manifest(vec![exe(path, "x", 0o755)], vec![]);
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

    #[test]
    fn shells_through_links_when_enabled() {
        let image = manifest(
            vec![exe("/bin/busybox", "b", 0o755)],
            vec![Link {
                path: "/bin/sh".into(),
                path_bytes: None,
                target: "/bin/busybox".into(),
                target_bytes: None,
            }],
        );
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
        let image = manifest(
            vec![
                exe("/usr/bin/sudo", "s", 0o4755),
                exe("/usr/bin/wall", "w", 0o2755),
            ],
            vec![],
        );
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
        let mut image = manifest(
            vec![
                exe("/srv/drop/tool", "t", 0o755),
                exe("/srv/ok", "o", 0o755),
            ],
            vec![],
        );
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
        let image = manifest(
            vec![
                exe("/tmp/x", "t", 0o755),
                exe("/opt/w", "w", 0o777),
                exe("/tmpfoo/ok", "o", 0o755),
            ],
            vec![],
        );
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
        let old = manifest(vec![exe("/app", "a", 0o755)], vec![]);
        let report = run("", &old, &VERIFIED, Some(&bake), None);
        assert!(!report.passed());
        assert!(
            report.violations[0]
                .message
                .contains("was not baked into the image")
        );
        let wrong = manifest(vec![exe("/usr/local/bin/tool", "other", 0o755)], vec![]);
        assert!(
            run("", &wrong, &VERIFIED, Some(&bake), None).violations[0]
                .message
                .contains("another content")
        );
        let rebuilt = manifest(vec![exe("/usr/local/bin/tool", "tool", 0o755)], vec![]);
        assert!(run("", &rebuilt, &VERIFIED, Some(&bake), None).passed());
    }

    #[test]
    fn baseline_limits_new_and_changed() {
        let baseline = manifest(vec![exe("/app", "a1", 0o755)], vec![]);
        let current = manifest(
            vec![exe("/app", "a2", 0o755), exe("/new", "n", 0o755)],
            vec![],
        );
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
