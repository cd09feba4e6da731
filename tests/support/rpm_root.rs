//! A root with RPM packages built by the real `rpmbuild` from spec files and installed by the
//! real `rpm --root` ([`RpmRoot`]), for the tests that check exelock against rpm itself.
//!
//! Used by the integration tests (`tests/real_roots.rs`) and, through a `#[path]` module, by
//! the RPM reader's unit tests, so it depends on nothing but the standard library and
//! `fs_err`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether `rpm` and `rpmbuild` run (Debian's `rpm` package); under `CI=true` their absence
/// fails the test, elsewhere the test is skipped, saying so.
pub fn rpm_tools() -> bool {
    let runs = |tool: &str| {
        Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|output| output.status.success())
    };
    if runs("rpm") && runs("rpmbuild") {
        return true;
    }
    let message = "rpm or rpmbuild is missing: install Debian's rpm package";
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
    eprintln!("skipped: {message}");
    false
}

/// The spec lines every test package shares: MIT, noarch, no generated dependencies, and no
/// debug package or post-install processing, so that the package holds exactly the files its
/// `%install` writes.
const SPEC_PREAMBLE: &str = "License: MIT
BuildArch: noarch
AutoReqProv: no
%global debug_package %{nil}
%global __os_install_post %{nil}
";

/// A root with RPM packages built from spec files and installed by the real `rpm`.
pub struct RpmRoot {
    /// The root directory.
    pub root: PathBuf,
    top: PathBuf,
}

impl RpmRoot {
    /// An empty root and rpmbuild top directory under `work`.
    pub fn new(work: &Path) -> Self {
        let root = work.join("root");
        let top = work.join("rpmbuild");
        fs_err::create_dir_all(&root).unwrap();
        fs_err::create_dir_all(top.join("SPECS")).unwrap();
        Self { root, top }
    }

    /// Builds the package `name` (`rpmbuild -bb`) from `spec`, the package's own lines (name,
    /// version, summary, sections) after [`SPEC_PREAMBLE`]; returns the `.rpm` file.
    pub fn build(&self, name: &str, spec: &str) -> PathBuf {
        let spec_path = self.top.join("SPECS").join(format!("{name}.spec"));
        fs_err::write(&spec_path, format!("{SPEC_PREAMBLE}{spec}")).unwrap();
        stdout_of(
            Command::new("rpmbuild")
                .arg("--define")
                .arg(format!("_topdir {}", self.top.display()))
                .arg("-bb")
                .arg(&spec_path),
            &format!("rpmbuild {name}"),
        );
        let mut built = Vec::new();
        for arch in fs_err::read_dir(self.top.join("RPMS")).unwrap() {
            for rpm in fs_err::read_dir(arch.unwrap().path()).unwrap() {
                let rpm = rpm.unwrap().path();
                let file_name = rpm.file_name().unwrap().to_string_lossy().into_owned();
                if file_name.starts_with(&format!("{name}-")) {
                    built.push(rpm);
                }
            }
        }
        assert_eq!(built.len(), 1, "{name}: {built:?}");
        built.remove(0)
    }

    /// Installs the packages into the root (`rpm --root … --dbpath /var/lib/rpm -i`, no
    /// dependencies, no scripts: the root has no shell).
    pub fn install(&self, packages: &[PathBuf]) {
        stdout_of(
            self.rpm()
                .args(["-i", "--nodeps", "--noscripts"])
                .args(packages),
            "rpm -i",
        );
    }

    /// `rpm -qf` of a path in the root: the owner as `name\tepoch:version-release\tarch`.
    pub fn owner(&self, path: &str) -> String {
        let stdout = stdout_of(
            self.rpm()
                .args(["-qf", "--qf"])
                .arg("%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\t%{ARCH}")
                .arg(path),
            &format!("rpm -qf {path}"),
        );
        String::from_utf8(stdout).unwrap()
    }

    /// `rpm` on the root's database: `rpm --root <root> --dbpath /var/lib/rpm`.
    pub fn rpm(&self) -> Command {
        let mut rpm = Command::new("rpm");
        rpm.arg("--root")
            .arg(&self.root)
            .args(["--dbpath", "/var/lib/rpm"]);
        rpm
    }
}

/// Runs `command` and returns what it wrote to standard output; fails the test, naming it as
/// `what` and quoting its standard error, when it does not succeed.
pub fn stdout_of(command: &mut Command, what: &str) -> Vec<u8> {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}
