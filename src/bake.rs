//! The bake list: binaries that triage judged legitimate and that the next build of the image
//! must contain (path + sha256). `triage --emit-bake` appends to it; `gate`'s `bake` rule checks
//! a rebuilt image against it. Pure data and serde; the CLI reads and writes the file.

use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;

/// The bake list file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BakeList {
    /// Format version, 1.
    pub version: u32,
    /// What must be baked in, sorted by path.
    pub entries: Vec<BakeEntry>,
}

/// One binary that must be in the image.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BakeEntry {
    /// Where the image must hold it.
    pub path: String,
    /// Its content.
    #[serde(with = "crate::digest::bare_hex")]
    pub sha256: Sha256Digest,
    /// Why it belongs (the verdict and finding it came from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl BakeList {
    /// Adds entries not already listed (same path and digest), keeping the list sorted.
    pub fn merge(&mut self, entries: impl IntoIterator<Item = BakeEntry>) {
        self.version = 1;
        for entry in entries {
            if !self
                .entries
                .iter()
                .any(|existing| existing.path == entry.path && existing.sha256 == entry.sha256)
            {
                self.entries.push(entry);
            }
        }
        self.entries.sort();
    }
}
