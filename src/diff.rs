//! What changed between two executable manifests: executables added, removed, changed (content,
//! mode or kind) and moved (same content at another path). Pure: no I/O.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::manifest::{Executable, Manifest};

/// An executable as the diff reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Path.
    pub path: String,
    /// Content digest, hex.
    pub sha256: String,
    /// Mode, 4 octal digits.
    pub mode: String,
    /// Kind code.
    pub kind: &'static str,
}

impl From<&Executable> for Entry {
    fn from(exe: &Executable) -> Self {
        Self {
            path: exe.path.clone(),
            sha256: exe.sha256.hex(),
            mode: format!("{:04o}", exe.mode),
            kind: exe.kind.code(),
        }
    }
}

/// An executable present at the same path in both, but different.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Changed {
    /// Path.
    pub path: String,
    /// What differs: `sha256`, `mode`, `kind`.
    pub differences: Vec<&'static str>,
    /// In A.
    pub before: Entry,
    /// In B.
    pub after: Entry,
}

/// The same content at another path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Moved {
    /// Path in A.
    pub from: String,
    /// Path in B.
    pub to: String,
    /// The content digest.
    pub sha256: String,
}

/// The differences from A to B.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diff {
    /// Only in B.
    pub added: Vec<Entry>,
    /// Only in A.
    pub removed: Vec<Entry>,
    /// At the same path in both, different.
    pub changed: Vec<Changed>,
    /// Removed from one path and added at another with the same content.
    pub moved: Vec<Moved>,
}

impl Diff {
    /// Whether A and B hold the same executables.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.moved.is_empty()
    }
}

/// Compares the executables of two manifests (by exact path bytes).
#[must_use]
pub fn diff(a: &Manifest, b: &Manifest) -> Diff {
    let by_path = |manifest: &Manifest| -> BTreeMap<Vec<u8>, Executable> {
        manifest
            .executables
            .iter()
            .map(|exe| (exe.raw_path(), exe.clone()))
            .collect()
    };
    let before = by_path(a);
    let after = by_path(b);
    let mut result = Diff::default();
    let mut removed: Vec<&Executable> = Vec::new();
    let mut added: Vec<&Executable> = Vec::new();
    for (path, old) in &before {
        match after.get(path) {
            None => removed.push(old),
            Some(new) => {
                let mut differences = Vec::new();
                if old.sha256 != new.sha256 {
                    differences.push("sha256");
                }
                if old.mode != new.mode {
                    differences.push("mode");
                }
                if old.kind != new.kind {
                    differences.push("kind");
                }
                if !differences.is_empty() {
                    result.changed.push(Changed {
                        path: new.path.clone(),
                        differences,
                        before: old.into(),
                        after: new.into(),
                    });
                }
            }
        }
    }
    for (path, new) in &after {
        if !before.contains_key(path) {
            added.push(new);
        }
    }
    // Pair removed and added entries with the same content, first come first paired.
    let mut added_left: Vec<Option<&Executable>> = added.into_iter().map(Some).collect();
    for old in removed {
        let partner = added_left
            .iter_mut()
            .find(|slot| slot.is_some_and(|new| new.sha256 == old.sha256))
            .and_then(Option::take);
        match partner {
            Some(new) => result.moved.push(Moved {
                from: old.path.clone(),
                to: new.path.clone(),
                sha256: old.sha256.hex(),
            }),
            None => result.removed.push(old.into()),
        }
    }
    result.added = added_left.into_iter().flatten().map(Entry::from).collect();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Sha256Digest;
    use crate::manifest::{ImageInfo, Kind, PREDICATE_TYPE};

    fn exe(path: &str, content: &str, mode: u32) -> Executable {
        Executable {
            path: path.into(),
            path_bytes: None,
            sha256: Sha256Digest::of(content.as_bytes()),
            size: content.len() as u64,
            mode,
            uid: 0,
            gid: 0,
            kind: Kind::Script,
            interpreter: None,
            build_id: None,
            layer: 0,
            package: None,
            package_digest: None,
        }
    }

    fn manifest(executables: Vec<Executable>) -> Manifest {
        Manifest {
            predicate_type: PREDICATE_TYPE.into(),
            image: ImageInfo {
                name: "x".into(),
                index_digest: None,
                manifest_digest: None,
                config_digest: Sha256Digest::of(b"c"),
                platform: "linux/amd64".into(),
                search_path: Vec::new(),
            },
            layers: vec![],
            executables,
            links: vec![],
            hidden: vec![],
            world_writable_dirs: vec![],
            package_databases: Vec::new(),
            packages: Vec::new(),
        }
    }

    #[test]
    fn classifies_added_removed_changed_and_moved() {
        let a = manifest(vec![
            exe("/bin/keep", "k", 0o755),
            exe("/bin/gone", "g", 0o755),
            exe("/bin/old-name", "m", 0o755),
            exe("/bin/edited", "e1", 0o755),
            exe("/bin/chmod", "c", 0o755),
        ]);
        let b = manifest(vec![
            exe("/bin/keep", "k", 0o755),
            exe("/bin/new", "n", 0o755),
            exe("/bin/new-name", "m", 0o755),
            exe("/bin/edited", "e2", 0o755),
            exe("/bin/chmod", "c", 0o4755),
        ]);
        let diff = diff(&a, &b);
        assert_eq!(
            diff.added
                .iter()
                .map(|e| e.path.as_str())
                .collect::<Vec<_>>(),
            ["/bin/new"]
        );
        assert_eq!(
            diff.removed
                .iter()
                .map(|e| e.path.as_str())
                .collect::<Vec<_>>(),
            ["/bin/gone"]
        );
        assert_eq!(
            diff.moved
                .iter()
                .map(|m| (m.from.as_str(), m.to.as_str()))
                .collect::<Vec<_>>(),
            [("/bin/old-name", "/bin/new-name")]
        );
        let changed: Vec<_> = diff
            .changed
            .iter()
            .map(|c| (c.path.as_str(), c.differences.clone()))
            .collect();
        assert_eq!(
            changed,
            [
                ("/bin/chmod", vec!["mode"]),
                ("/bin/edited", vec!["sha256"])
            ]
        );
        assert!(super::diff(&a, &a).is_empty());
    }
}
