//! Fixtures for the unit tests: manifests, executables, packages and links as a scan records
//! them, layers both as tar streams and as the changes `catalog` reads from them, and a gate
//! report as the renderers receive it.
//!
//! One module for the crate rather than one beside each type: a manifest is built by the tests
//! of `gate`, `diff`, `triage` and `attest`, a layer by those of `catalog` and its submodules,
//! and copies kept in each drift apart. It sits at the crate root because it imports the
//! modules whose values it builds (`manifest`, `catalog`), which a leaf such as
//! `manifest` must not. Test-only: it does no I/O and nothing outside `#[cfg(test)]` sees it.
//!
//! A builder starts from values no test depends on (a format 2 manifest of one linux/amd64
//! image, an ELF executable with mode 0755 written by layer 0); what a test depends on is
//! written at its call site with the `with_*` methods, which this module adds to the model
//! types so that a fixture reads as the value it makes:
//! `executable("/usr/bin/sudo", "s").with_mode(0o4755)`.

use md5::Digest as _;

use crate::catalog::{Change, FileRecord, Node, PackageDigests, detect};
use crate::digest::Sha256Digest;
use crate::gate::{GateReport, RuleId, Verdict, Violation};
use crate::manifest::{
    Executable, ImageInfo, Kind, Link, Manifest, PREDICATE_TYPE, Package, PackageDatabase,
    PackageDigest,
};
use crate::policy::Level;

/// A failed gate report of `reg/app:1` with no manifest digest and the attestation missing:
/// `/usr/bin/sudo` denied as setuid, and `/usr/bin/curl` warned of as a downloader with
/// `downloader_message`; no rule skipped.
pub(crate) fn failed_gate_report(downloader_message: &str) -> GateReport {
    GateReport {
        image: "reg/app:1".into(),
        manifest_digest: None,
        verdict: Verdict::Fail,
        attestation: "missing: none".into(),
        violations: vec![
            Violation {
                rule: RuleId::Setuid,
                level: Level::Deny,
                message: "/usr/bin/sudo is setuid".into(),
                path: Some("/usr/bin/sudo".into()),
            },
            Violation {
                rule: RuleId::Downloaders,
                level: Level::Warn,
                message: downloader_message.into(),
                path: Some("/usr/bin/curl".into()),
            },
        ],
        skipped: Vec::new(),
    }
}

/// An empty format 2 manifest of `registry.example/app:1.0` for `linux/amd64`: no layers,
/// executables, links or package data.
pub(crate) fn manifest() -> Manifest {
    Manifest {
        predicate_type: PREDICATE_TYPE.into(),
        image: ImageInfo {
            name: "registry.example/app:1.0".into(),
            index_digest: None,
            manifest_digest: Some(Sha256Digest::of(b"manifest")),
            config_digest: Sha256Digest::of(b"config"),
            platform: "linux/amd64".into(),
            search_path: Vec::new(),
            engine: None,
        },
        layers: Vec::new(),
        executables: Vec::new(),
        links: Vec::new(),
        hidden: Vec::new(),
        world_writable_dirs: Vec::new(),
        package_databases: Vec::new(),
        packages: Vec::new(),
    }
}

impl Manifest {
    /// The image reference as the user gave it.
    pub(crate) fn with_name(mut self, name: &str) -> Self {
        self.image.name = name.into();
        self
    }

    /// The image index the platform image was chosen from.
    pub(crate) fn with_index_digest(mut self, digest: Sha256Digest) -> Self {
        self.image.index_digest = Some(digest);
        self
    }

    /// The platform image manifest's digest.
    pub(crate) fn with_manifest_digest(mut self, digest: Sha256Digest) -> Self {
        self.image.manifest_digest = Some(digest);
        self
    }

    /// `os/architecture[/variant]`.
    pub(crate) fn with_platform(mut self, platform: &str) -> Self {
        self.image.platform = platform.into();
        self
    }

    /// These executables, in place of any before.
    pub(crate) fn with_executables(
        mut self,
        executables: impl IntoIterator<Item = Executable>,
    ) -> Self {
        self.executables = executables.into_iter().collect();
        self
    }

    /// These links, in place of any before.
    pub(crate) fn with_links(mut self, links: impl IntoIterator<Item = Link>) -> Self {
        self.links = links.into_iter().collect();
        self
    }

    /// These installed packages, in place of any before.
    pub(crate) fn with_packages(mut self, packages: impl IntoIterator<Item = Package>) -> Self {
        self.packages = packages.into_iter().collect();
        self
    }

    /// The image has a dpkg database, `/var/lib/dpkg/status`, listing one package.
    pub(crate) fn with_dpkg_database(mut self) -> Self {
        self.package_databases = vec![PackageDatabase {
            db: "dpkg".into(),
            path: "/var/lib/dpkg/status".into(),
            packages: 1,
        }];
        self
    }
}

/// An executable at `path` whose bytes are `content`: mode 0755, owned by root, an ELF
/// executable written by layer 0, with no package data (as format 1 records it).
pub(crate) fn executable(path: &str, content: &str) -> Executable {
    Executable {
        path: path.into(),
        path_bytes: None,
        sha256: Sha256Digest::of(content.as_bytes()),
        size: content.len() as u64,
        mode: 0o755,
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

impl Executable {
    /// Permission bits with setuid/setgid/sticky.
    pub(crate) fn with_mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// What kind of executable it is.
    pub(crate) fn with_kind(mut self, kind: Kind) -> Self {
        self.kind = kind;
        self
    }

    /// Owned by `package`, whose recorded digest `digest` says whether the bytes are its own.
    pub(crate) fn owned_by(mut self, package: Package, digest: PackageDigest) -> Self {
        self.package = Some(package);
        self.package_digest = Some(digest);
        self
    }

    /// Owned by no package of the image's databases (as format 2 records it).
    pub(crate) fn unowned(mut self) -> Self {
        self.package = None;
        self.package_digest = Some(PackageDigest::Unowned);
        self
    }
}

/// A Debian package as dpkg lists it, with its package URL (`+` percent-encoded, as purl
/// requires).
pub(crate) fn package(name: &str, version: &str, arch: &str) -> Package {
    Package {
        name: name.into(),
        version: version.into(),
        arch: arch.into(),
        purl: format!(
            "pkg:deb/debian/{name}@{}?arch={arch}",
            version.replace('+', "%2B")
        ),
        db: "dpkg".into(),
    }
}

/// A symlink at `path` that resolves to the executable at `target`.
pub(crate) fn link(path: &str, target: &str) -> Link {
    Link {
        path: path.into(),
        path_bytes: None,
        target: target.into(),
        target_bytes: None,
    }
}

/// The node a layer walk records for an executable holding `content`: mode 0755, owned by
/// root, with the digests packages record.
pub(crate) fn executable_node(content: &[u8]) -> Node {
    Node::File(Some(Box::new(FileRecord {
        sha256: Sha256Digest::of(content),
        size: content.len() as u64,
        mode: 0o755,
        uid: 0,
        gid: 0,
        detected: detect::detect(content),
        prefixes: Vec::new(),
        package_digests: Some(PackageDigests {
            md5: md5::Md5::digest(content).into(),
            sha1: sha1::Sha1::digest(content).into(),
        }),
    })))
}

/// A layer entry writing `node` at `path` (normalised: no leading `/`).
pub(crate) fn put(path: &str, node: Node) -> Change {
    Change::Put(path.as_bytes().to_vec(), node)
}

/// A layer entry writing a file kept whole (a package database, `os-release`) holding `text`.
pub(crate) fn data_file(path: &str, text: &str) -> Change {
    put(path, Node::Data(Box::new(text.as_bytes().to_vec())))
}

/// A layer entry deleting `path` and its subtree from the layers below.
pub(crate) fn whiteout(path: &str) -> Change {
    Change::Whiteout(path.as_bytes().to_vec())
}

/// An uncompressed layer tar, built entry by entry in the order a test gives; every entry
/// is owned by root with mtime 0, so equal entries make equal bytes.
pub(crate) struct LayerTar(tar::Builder<Vec<u8>>);

impl LayerTar {
    /// A tar with no entries yet.
    pub(crate) fn new() -> Self {
        Self(tar::Builder::new(Vec::new()))
    }

    /// An entry of any type: `link` is the link name of a hardlink or symlink, else empty.
    fn entry(
        mut self,
        kind: tar::EntryType,
        path: &str,
        content: &[u8],
        mode: u32,
        link: &str,
    ) -> Self {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(kind);
        header.set_size(content.len() as u64);
        header.set_mode(mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        if !link.is_empty() {
            header.set_link_name(link).unwrap();
        }
        self.0.append_data(&mut header, path, content).unwrap();
        self
    }

    /// A regular file with `mode`.
    pub(crate) fn file(self, path: &str, content: &[u8], mode: u32) -> Self {
        self.entry(tar::EntryType::Regular, path, content, mode, "")
    }

    /// An executable (mode 0755).
    pub(crate) fn executable(self, path: &str, content: &[u8]) -> Self {
        self.file(path, content, 0o755)
    }

    /// A file that is not an executable (mode 0644).
    pub(crate) fn data(self, path: &str, content: &[u8]) -> Self {
        self.file(path, content, 0o644)
    }

    /// A directory with `mode`.
    pub(crate) fn directory(self, path: &str, mode: u32) -> Self {
        self.entry(tar::EntryType::Directory, path, b"", mode, "")
    }

    /// A hardlink to the entry at `target`.
    pub(crate) fn hardlink(self, path: &str, target: &str) -> Self {
        self.entry(tar::EntryType::Link, path, b"", 0o644, target)
    }

    /// A symlink whose raw target is `target`.
    pub(crate) fn symlink(self, path: &str, target: &str) -> Self {
        self.entry(tar::EntryType::Symlink, path, b"", 0o777, target)
    }

    /// An executable announced as a PAX 1.0 sparse file (its data as written).
    pub(crate) fn sparse_executable(mut self, path: &str, content: &[u8]) -> Self {
        let size = content.len().to_string();
        self.0
            .append_pax_extensions([
                ("GNU.sparse.major", b"1".as_slice()),
                ("GNU.sparse.minor", b"0".as_slice()),
                ("GNU.sparse.name", path.as_bytes()),
                ("GNU.sparse.realsize", size.as_bytes()),
            ])
            .unwrap();
        self.executable(path, content)
    }

    /// The tar's bytes.
    pub(crate) fn finish(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}
