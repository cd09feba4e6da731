//! Real root filesystems as OCI images: a directory tree (or a tar of one) packed as a gzip
//! layer, plus optional layers of given files, with a config that `exelock scan oci:<dir>`
//! reads (rootfs diff_ids, os/arch, `Env` PATH). Symlinks, hardlinks, modes and owners are
//! kept as they are on disk: a Debian root's merged-/usr symlinks (`/bin` → `usr/bin`) are
//! what package-database paths are matched through.
//!
//! Also where the Debian root comes from: `scripts/test.sh` builds it with debootstrap and
//! caches it as a tar ([`debian_root_tar`]). The RPM root is [`super::rpm_root::RpmRoot`].

use std::collections::HashMap;
use std::fs::Metadata;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// The `PATH` the images' configs set.
pub const IMAGE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A file of an extra layer: path inside the image, content, mode bits.
pub type LayerFile<'a> = (&'a str, &'a [u8], u32);

/// A writer that hashes what passes through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    fn finish(self) -> (W, String, u64) {
        (
            self.inner,
            format!("sha256:{}", hex::encode(self.hasher.finalize())),
            self.count,
        )
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.count += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A layer blob written into the layout: its digest, size and diff_id.
struct Layer {
    digest: String,
    size: u64,
    diff_id: String,
}

/// The tar stream of a layer, gzipped into the layout's blob directory while both the tar
/// (diff_id) and the blob (digest) are hashed.
type TarSink = tar::Builder<HashingWriter<GzEncoder<HashingWriter<fs_err::File>>>>;

/// An OCI image layout being written, one layer at a time, bottom first.
pub struct OciImage {
    dir: PathBuf,
    layers: Vec<Layer>,
}

impl OciImage {
    /// Starts a layout in `dir` (created).
    pub fn new(dir: &Path) -> Self {
        fs_err::create_dir_all(dir.join("blobs/sha256")).unwrap();
        Self {
            dir: dir.to_owned(),
            layers: Vec::new(),
        }
    }

    fn blob_path(&self, digest: &str) -> PathBuf {
        self.dir
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    }

    fn write_blob(&self, bytes: &[u8]) -> (String, u64) {
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(bytes)));
        fs_err::write(self.blob_path(&digest), bytes).unwrap();
        (digest, bytes.len() as u64)
    }

    fn start_layer(&self) -> (TarSink, PathBuf) {
        let partial = self
            .dir
            .join(format!("blobs/layer-{}.partial", self.layers.len()));
        let file = fs_err::File::create(&partial).unwrap();
        let gzip = GzEncoder::new(HashingWriter::new(file), Compression::fast());
        let mut builder = tar::Builder::new(HashingWriter::new(gzip));
        builder.follow_symlinks(false);
        (builder, partial)
    }

    fn finish_layer(&mut self, builder: TarSink, partial: &Path) {
        let tar = builder.into_inner().unwrap();
        let (gzip, diff_id, _) = tar.finish();
        self.finish_gzip(gzip, diff_id, partial);
    }

    fn finish_gzip(
        &mut self,
        gzip: GzEncoder<HashingWriter<fs_err::File>>,
        diff_id: String,
        partial: &Path,
    ) {
        let (mut file, digest, size) = gzip.finish().unwrap().finish();
        file.flush().unwrap();
        drop(file);
        fs_err::rename(partial, self.blob_path(&digest)).unwrap();
        self.layers.push(Layer {
            digest,
            size,
            diff_id,
        });
    }

    /// A layer of the tree under `root`, as it is on disk: directories, regular files (a
    /// second name of a file already packed becomes a hardlink to the first), symlinks with
    /// their targets; modes, owners and mtimes as they are. Device nodes, fifos and sockets
    /// are left out (no executable is one).
    pub fn add_directory_layer(&mut self, root: &Path) -> &mut Self {
        let (mut builder, partial) = self.start_layer();
        let mut seen: HashMap<(u64, u64), PathBuf> = HashMap::new();
        append_tree(&mut builder, root, Path::new(""), &mut seen);
        self.finish_layer(builder, &partial);
        self
    }

    /// A layer that is the tar file `tar` as it is, gzipped (diff_id: the tar's SHA-256).
    pub fn add_tar_layer(&mut self, tar: &Path) -> &mut Self {
        let partial = self
            .dir
            .join(format!("blobs/layer-{}.partial", self.layers.len()));
        let file = fs_err::File::create(&partial).unwrap();
        let gzip = GzEncoder::new(HashingWriter::new(file), Compression::fast());
        let mut sink = HashingWriter::new(gzip);
        io::copy(&mut fs_err::File::open(tar).unwrap(), &mut sink).unwrap();
        let (gzip, diff_id, _) = sink.finish();
        self.finish_gzip(gzip, diff_id, &partial);
        self
    }

    /// A layer of these regular files (owned by root; their parent directories are not
    /// written, so they keep whatever the layers below have).
    pub fn add_files_layer(&mut self, files: &[LayerFile<'_>]) -> &mut Self {
        let (mut builder, partial) = self.start_layer();
        for (path, bytes, mode) in files {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(bytes.len() as u64);
            header.set_mode(*mode);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(1_700_000_000);
            builder
                .append_data(&mut header, path.trim_start_matches('/'), *bytes)
                .unwrap();
        }
        self.finish_layer(builder, &partial);
        self
    }

    /// Writes a config and manifest of the layers added so far, tagged `tag` in `index.json`
    /// (added to the images already there: more layers and another tag may follow, sharing
    /// the blobs), and `oci-layout`; returns the reference `exelock scan` takes.
    pub fn tag(&self, tag: &str) -> String {
        let diff_ids: Vec<&str> = self.layers.iter().map(|l| l.diff_id.as_str()).collect();
        let config = json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Env": [format!("PATH={IMAGE_PATH}")]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        let (config_digest, config_size) = self.write_blob(&serde_json::to_vec(&config).unwrap());
        let layers: Vec<Value> = self
            .layers
            .iter()
            .map(|layer| {
                json!({
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer.digest,
                    "size": layer.size,
                })
            })
            .collect();
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": config_size,
            },
            "layers": layers,
        });
        let (manifest_digest, manifest_size) =
            self.write_blob(&serde_json::to_vec(&manifest).unwrap());
        let index_path = self.dir.join("index.json");
        let mut index = if index_path.is_file() {
            serde_json::from_slice(&fs_err::read(&index_path).unwrap()).unwrap()
        } else {
            json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": [],
            })
        };
        index["manifests"].as_array_mut().unwrap().push(json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }));
        fs_err::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
        fs_err::write(
            self.dir.join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();
        format!("oci:{}:{tag}", self.dir.display())
    }
}

/// Appends `root/relative` and, for a directory, everything under it (sorted by name).
fn append_tree(
    builder: &mut TarSink,
    root: &Path,
    relative: &Path,
    seen: &mut HashMap<(u64, u64), PathBuf>,
) {
    let mut names: Vec<_> = fs_err::read_dir(root.join(relative))
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    names.sort();
    for name in names {
        let relative = relative.join(name);
        let path = root.join(&relative);
        let metadata = fs_err::symlink_metadata(&path).unwrap();
        let file_type = metadata.file_type();
        let mut header = header_of(&metadata);
        if file_type.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            builder
                .append_data(&mut header, &relative, io::empty())
                .unwrap();
            append_tree(builder, root, &relative, seen);
        } else if file_type.is_symlink() {
            header.set_entry_type(tar::EntryType::Symlink);
            let target = fs_err::read_link(&path).unwrap();
            builder.append_link(&mut header, &relative, target).unwrap();
        } else if file_type.is_file() {
            let key = (metadata.dev(), metadata.ino());
            if metadata.nlink() > 1
                && let Some(first) = seen.get(&key)
            {
                header.set_entry_type(tar::EntryType::Link);
                header.set_size(0);
                builder.append_link(&mut header, &relative, first).unwrap();
                continue;
            }
            if metadata.nlink() > 1 {
                seen.insert(key, relative.clone());
            }
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(metadata.len());
            let mut file = fs_err::File::open(&path).unwrap();
            builder
                .append_data(&mut header, &relative, &mut file)
                .unwrap();
        }
    }
}

fn header_of(metadata: &Metadata) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_mode(metadata.mode() & 0o7777);
    header.set_uid(u64::from(metadata.uid()));
    header.set_gid(u64::from(metadata.gid()));
    header.set_mtime(u64::try_from(metadata.mtime()).unwrap_or(0));
    header.set_size(0);
    header
}

/// Whether a tool a real-root test needs is there; under `CI=true` its absence fails the test,
/// elsewhere the test is skipped, saying so.
pub fn required(available: bool, what: &str) -> bool {
    if available {
        return true;
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{what}");
    eprintln!("skipped: {what}");
    false
}

/// The cached Debian bookworm minbase root (a tar made by `scripts/test.sh` with debootstrap),
/// named by `EXELOCK_TEST_DEBIAN_ROOT_TAR`; `None` (a skip) when it is not there outside CI.
pub fn debian_root_tar() -> Option<PathBuf> {
    let path = std::env::var_os("EXELOCK_TEST_DEBIAN_ROOT_TAR").map(PathBuf::from);
    let available = path.as_deref().is_some_and(Path::is_file);
    required(
        available,
        "no Debian root: run scripts/test.sh, which builds it with debootstrap and sets \
         EXELOCK_TEST_DEBIAN_ROOT_TAR",
    )
    .then(|| path.unwrap_or_default())
}

/// Unpacks a tar of a root into `dir` (created) with the system's `tar`, owners numeric,
/// device nodes left out.
pub fn unpack_root(tar: &Path, dir: &Path) {
    fs_err::create_dir_all(dir).unwrap();
    let output = Command::new("tar")
        .args(["--numeric-owner", "--exclude=./dev/*", "-xf"])
        .arg(tar)
        .arg("-C")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "tar -xf {}: {}",
        tar.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}
