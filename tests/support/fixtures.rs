//! The committed fixture images in `testdata/`, read directly (not through exelock) so tests
//! can state expectations independently of the code under test.

use std::path::PathBuf;

use serde_json::Value;

/// The crate root, where `testdata/` lives.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An OCI image layout directory of the fixtures.
pub struct Layout {
    /// The layout directory.
    pub dir: PathBuf,
}

impl Layout {
    /// `testdata/images/NAME`.
    pub fn image(name: &str) -> Self {
        Self {
            dir: root().join("testdata/images").join(name),
        }
    }

    /// `testdata/bad/NAME`.
    pub fn bad(name: &str) -> Self {
        Self {
            dir: root().join("testdata/bad").join(name),
        }
    }

    /// `index.json`.
    pub fn index(&self) -> Value {
        serde_json::from_slice(&fs_err::read(self.dir.join("index.json")).unwrap()).unwrap()
    }

    /// Where the blob with this `sha256:` digest is stored.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        self.dir
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    }

    /// A JSON blob (manifest, config).
    pub fn json(&self, digest: &str) -> Value {
        serde_json::from_slice(&fs_err::read(self.blob_path(digest)).unwrap()).unwrap()
    }

    /// The digest `index.json`'s first entry names.
    pub fn manifest_digest(&self) -> String {
        self.index()["manifests"][0]["digest"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The first entry's manifest.
    pub fn manifest(&self) -> Value {
        self.json(&self.manifest_digest())
    }

    /// The first manifest's layer digests, bottom first.
    pub fn layer_digests(&self) -> Vec<String> {
        self.manifest()["layers"]
            .as_array()
            .map(|layers| {
                layers
                    .iter()
                    .map(|layer| layer["digest"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}
