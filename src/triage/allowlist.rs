//! Known-good binaries beyond the image: a vendor list, or another image's manifest. Pure data;
//! the CLI reads the files and says where each entry came from.

use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::manifest::Manifest;

/// Known-good binaries beyond the image: another image's executables, a vendor list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Allowlist {
    /// The entries.
    pub entries: Vec<AllowEntry>,
}

/// One allowed binary: a hash, optionally bound to a path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AllowEntry {
    /// The whole-file digest.
    #[serde(with = "crate::digest::bare_hex")]
    pub sha256: Sha256Digest,
    /// When set, only at this path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Where the entry comes from (e.g. `vendor agent 2.3`, the allowlist file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Allowlist {
    /// Every executable of a manifest read from `file`, bound to its path. The file carries no
    /// signature, so the entries are credited to the file that vouches for them, not to the
    /// image the manifest names.
    #[must_use]
    pub fn from_manifest_file(manifest: &Manifest, file: &str) -> Self {
        let source = format!(
            "allowlist file {file}: an unsigned manifest naming {}{}",
            manifest.image.name,
            manifest
                .image
                .manifest_digest
                .map_or_else(String::new, |digest| format!(" ({digest})"))
        );
        Self {
            entries: manifest
                .executables
                .iter()
                .map(|exe| AllowEntry {
                    sha256: exe.sha256,
                    path: Some(exe.path.clone()),
                    source: Some(source.clone()),
                })
                .collect(),
        }
    }

    /// Credits entries that name no source to `file`.
    #[must_use]
    pub fn credited_to(mut self, file: &str) -> Self {
        for entry in &mut self.entries {
            entry.source = Some(match entry.source.take() {
                Some(source) => format!("{source}, from allowlist file {file}"),
                None => format!("allowlist file {file}"),
            });
        }
        self
    }

    /// An entry for this hash that allows it at `path`: bound to that path, or to none.
    #[must_use]
    pub fn find(&self, path: &str, sha256: &Sha256Digest) -> Option<&AllowEntry> {
        self.find_for_path(path, sha256)
            .or_else(|| self.find_hash_only(sha256))
    }

    /// An entry bound to exactly this path with this hash.
    #[must_use]
    pub fn find_for_path(&self, path: &str, sha256: &Sha256Digest) -> Option<&AllowEntry> {
        self.entries
            .iter()
            .find(|entry| entry.sha256 == *sha256 && entry.path.as_deref() == Some(path))
    }

    /// An entry for this hash bound to no path.
    #[must_use]
    pub fn find_hash_only(&self, sha256: &Sha256Digest) -> Option<&AllowEntry> {
        self.entries
            .iter()
            .find(|entry| entry.sha256 == *sha256 && entry.path.is_none())
    }
}
