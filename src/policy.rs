//! The gate policy file (`exelock.toml`, documented in `docs/policy.md`): which rules run and
//! whether each denies (fails the build) or warns. Parsing only; evaluation is `gate`.
//!
//! Unknown keys and bad values are errors that name the line and column.

use std::path::PathBuf;

use serde::Deserialize;

/// Errors reading a policy.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The TOML is malformed or does not fit the schema; the message names line and column.
    #[error("{file}: {message}")]
    Invalid {
        /// The policy file.
        file: String,
        /// The parser's message, with line, column and the offending text.
        message: String,
    },
}

/// What a rule does when it finds something.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// Report and fail the gate.
    Deny,
    /// Report only.
    Warn,
    /// Do not run the rule.
    Off,
}

/// The whole policy.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Policy {
    /// The image must carry a valid attestation.
    #[serde(default)]
    pub attestation: AttestationRule,
    /// Binaries on the bake list must be in the image with that hash.
    #[serde(default)]
    pub bake: BakeRule,
    /// Package managers, downloaders, compilers, shells.
    #[serde(default)]
    pub hazards: HazardsRule,
    /// setuid/setgid executables outside an allow-list.
    #[serde(default)]
    pub setuid: SetuidRule,
    /// Executables under world-writable or temporary directories, or world-writable themselves.
    #[serde(default)]
    pub writable_dirs: WritableDirsRule,
    /// Limits on what changed since a baseline image or manifest.
    #[serde(default)]
    pub baseline: BaselineRule,
    /// Packaged executables whose bytes differ from what their package shipped.
    #[serde(default)]
    pub altered_packages: AlteredPackagesRule,
    /// Executables no package of the image owns.
    #[serde(default)]
    pub unowned: UnownedRule,
}

/// `[attestation]`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AttestationRule {
    /// Default `deny`.
    #[serde(default = "deny")]
    pub level: Level,
}

/// `[bake]`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BakeRule {
    /// Default `deny`.
    #[serde(default = "deny")]
    pub level: Level,
    /// The bake list (relative to the policy file); `--bake FILE` overrides.
    #[serde(default)]
    pub file: Option<PathBuf>,
}

/// `[hazards]`: each class has its own level.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct HazardsRule {
    /// apt, dpkg, apk, yum, dnf, rpm, zypper, pip, npm, gem, … Default `deny`.
    #[serde(default = "deny")]
    pub package_managers: Level,
    /// curl, wget, … Default `warn`.
    #[serde(default = "warn")]
    pub downloaders: Level,
    /// gcc, cc, clang, go, rustc, … Default `warn`.
    #[serde(default = "warn")]
    pub compilers: Level,
    /// sh, bash, dash, ash, zsh, busybox, … Default `off` (most base images have one).
    #[serde(default = "off")]
    pub shells: Level,
    /// Paths exempt from every hazard class.
    #[serde(default)]
    pub allow: Vec<String>,
}

/// `[setuid]`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SetuidRule {
    /// Default `deny`.
    #[serde(default = "deny")]
    pub level: Level,
    /// Paths allowed to be setuid/setgid.
    #[serde(default)]
    pub allow: Vec<String>,
}

/// `[writable-dirs]`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct WritableDirsRule {
    /// Default `deny`.
    #[serde(default = "deny")]
    pub level: Level,
    /// Directories no executable may live under. Default `/tmp`, `/var/tmp`, `/dev/shm`.
    #[serde(default = "default_writable_dirs")]
    pub dirs: Vec<String>,
}

/// `[baseline]`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BaselineRule {
    /// Default `warn`.
    #[serde(default = "warn")]
    pub level: Level,
    /// A baseline image reference (e.g. the last release); `--baseline` overrides.
    #[serde(default)]
    pub image: Option<String>,
    /// Or a baseline manifest file (relative to the policy file).
    #[serde(default)]
    pub manifest: Option<PathBuf>,
    /// Most new executables allowed (unset: no limit).
    #[serde(default)]
    pub max_new: Option<usize>,
    /// Most changed executables allowed (unset: no limit).
    #[serde(default)]
    pub max_changed: Option<usize>,
}

/// `[altered-packages]`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AlteredPackagesRule {
    /// Default `deny`.
    #[serde(default = "deny")]
    pub level: Level,
}

/// `[unowned]`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct UnownedRule {
    /// Default `off`.
    #[serde(default = "off")]
    pub level: Level,
    /// Path prefixes whose unowned executables are expected (`/app/`, `/usr/local/bin/`): an
    /// entry ending in `/` allows everything under that directory; any other entry allows that
    /// exact path and everything under it as a directory (`/app` allows `/app/x`, not `/apple`).
    #[serde(default)]
    pub allow: Vec<String>,
}

impl UnownedRule {
    /// Whether `path` is on the allow-list.
    #[must_use]
    pub fn allows(&self, path: &str) -> bool {
        self.allow.iter().any(|prefix| {
            if prefix.ends_with('/') {
                path.starts_with(prefix.as_str())
            } else {
                path.strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            }
        })
    }
}

const fn deny() -> Level {
    Level::Deny
}
const fn warn() -> Level {
    Level::Warn
}
const fn off() -> Level {
    Level::Off
}

fn default_writable_dirs() -> Vec<String> {
    ["/tmp", "/var/tmp", "/dev/shm"].map(str::to_owned).to_vec()
}

impl Default for AttestationRule {
    fn default() -> Self {
        Self { level: deny() }
    }
}
impl Default for BakeRule {
    fn default() -> Self {
        Self {
            level: deny(),
            file: None,
        }
    }
}
impl Default for HazardsRule {
    fn default() -> Self {
        Self {
            package_managers: deny(),
            downloaders: warn(),
            compilers: warn(),
            shells: off(),
            allow: Vec::new(),
        }
    }
}
impl Default for SetuidRule {
    fn default() -> Self {
        Self {
            level: deny(),
            allow: Vec::new(),
        }
    }
}
impl Default for WritableDirsRule {
    fn default() -> Self {
        Self {
            level: deny(),
            dirs: default_writable_dirs(),
        }
    }
}
impl Default for BaselineRule {
    fn default() -> Self {
        Self {
            level: warn(),
            image: None,
            manifest: None,
            max_new: None,
            max_changed: None,
        }
    }
}

impl Default for AlteredPackagesRule {
    fn default() -> Self {
        Self { level: deny() }
    }
}
impl Default for UnownedRule {
    fn default() -> Self {
        Self {
            level: off(),
            allow: Vec::new(),
        }
    }
}

impl Policy {
    /// Parses a policy; `file` names it in errors.
    ///
    /// # Errors
    /// Malformed TOML, unknown keys, bad values, each with line and column.
    pub fn parse(text: &str, file: &str) -> Result<Self, Error> {
        toml::from_str(text).map_err(|error| {
            let message = match error.span() {
                Some(span) => {
                    let before = &text[..span.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                    format!("line {line}, column {column}: {}", error.message())
                }
                None => error.message().to_owned(),
            };
            Error::Invalid {
                file: file.to_owned(),
                message,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_policy_takes_the_defaults() {
        let policy = Policy::parse("", "p.toml").unwrap();
        assert_eq!(policy.attestation.level, Level::Deny);
        assert_eq!(policy.hazards.package_managers, Level::Deny);
        assert_eq!(policy.hazards.shells, Level::Off);
        assert_eq!(policy.writable_dirs.dirs, ["/tmp", "/var/tmp", "/dev/shm"]);
        assert_eq!(policy.altered_packages.level, Level::Deny);
        assert_eq!(policy.unowned.level, Level::Off);
        assert!(policy.unowned.allow.is_empty());
    }

    #[rstest::rstest]
    #[case("/app/", "/app/server", true)]
    #[case("/app/", "/app/bin/tool", true)]
    #[case("/app/", "/app", false)]
    #[case("/app/", "/apple/x", false)]
    #[case("/app", "/app", true)]
    #[case("/app", "/app/x", true)]
    #[case("/app", "/apple", false)]
    #[case("/usr/local/bin/", "/usr/local/bin/tool", true)]
    #[case("/usr/local/bin/", "/usr/bin/tool", false)]
    #[case("/usr/local/bin/tool", "/usr/local/bin/tool", true)]
    #[case("/usr/local/bin/tool", "/usr/local/bin/tool2", false)]
    fn unowned_allow_list_matches_by_directory_prefix(
        #[case] allowed: &str,
        #[case] path: &str,
        #[case] allows: bool,
    ) {
        let policy = Policy::parse(
            &format!("[unowned]\nlevel = \"warn\"\nallow = [\"{allowed}\"]\n"),
            "p.toml",
        )
        .unwrap();
        assert_eq!(policy.unowned.level, Level::Warn);
        assert_eq!(policy.unowned.allows(path), allows);
    }

    #[test]
    fn altered_packages_section_parses_and_rejects_unknown_keys() {
        let policy = Policy::parse("[altered-packages]\nlevel = \"warn\"\n", "p.toml").unwrap();
        assert_eq!(policy.altered_packages.level, Level::Warn);
        let error = Policy::parse("[altered-packages]\nallow = []\n", "p.toml")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("line 2") && error.contains("allow"),
            "{error}"
        );
    }

    #[test]
    fn full_policy_parses() {
        let policy = Policy::parse(
            "[hazards]\nshells = \"warn\"\nallow = [\"/bin/sh\"]\n[setuid]\nallow = [\"/usr/bin/sudo\"]\n[baseline]\nlevel = \"deny\"\nmanifest = \"last.json\"\nmax-new = 2\n",
            "p.toml",
        )
        .unwrap();
        assert_eq!(policy.hazards.shells, Level::Warn);
        assert_eq!(policy.setuid.allow, ["/usr/bin/sudo"]);
        assert_eq!(policy.baseline.max_new, Some(2));
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_line() {
        for (text, place, named) in [
            (
                "[setuid]\nlevel = \"deny\"\nalow = []\n",
                "p.toml: line 3, column 1",
                "alow",
            ),
            (
                "\n[hazards]\ncompilers = \"sometimes\"\n",
                "line 3",
                "sometimes",
            ),
            ("[nonsense]\n", "line 1", "nonsense"),
        ] {
            let error = Policy::parse(text, "p.toml").unwrap_err().to_string();
            assert!(error.contains(place) && error.contains(named), "{error}");
        }
    }
}
