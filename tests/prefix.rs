//! `catalog::prefix_digests` on the `twice` fixture, whose layer 0 writes `/usr/bin/app` twice:
//! the scan and the prefix lookup both take the last write, in every transport form, and a
//! registry that serves other bytes under a layer's digest gets an error, never a prefix.

use exelock::catalog::{self, PrefixDigest, PrefixMissing, PrefixRequest, PrefixResults};
use exelock::digest::Sha256Digest;
use exelock::image::registry::{RegistrySource, SourceSettings};
use exelock::image::{self, ImageSource, PlatformSelection, ResolvedImage};
use serde_json::Value;

use crate::support::fixtures::{Layout, root};
use crate::support::manifest::{self, scan_json};
use crate::support::{Mode, Registry};

fn forms() -> [&'static str; 5] {
    [
        "oci:testdata/images/twice",
        "oci:testdata/images/twice:latest",
        "oci-archive:testdata/images/twice.oci.tar",
        "docker-archive:testdata/images/twice.docker.tar",
        "docker-archive:testdata/images/twice.docker25.tar",
    ]
}

/// The two writes of `usr/bin/app` in the fixture's layer 0 (an uncompressed tar), in tar
/// order, read with the tar crate alone.
pub(crate) fn writes_of_app() -> (Vec<u8>, Vec<u8>) {
    let layout = Layout::image("twice");
    let blob = fs_err::read(layout.blob_path(&layout.layer_digests()[0])).unwrap();
    let mut archive = tar::Archive::new(&blob[..]);
    let mut writes = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type().is_file() && &*entry.path_bytes() == b"usr/bin/app" {
            let mut content = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut content).unwrap();
            writes.push(content);
        }
    }
    assert_eq!(writes.len(), 2, "the fixture writes usr/bin/app twice");
    let second = writes.pop().unwrap();
    (writes.pop().unwrap(), second)
}

fn open(reference: &str) -> (Box<dyn ImageSource>, ResolvedImage) {
    let source = image::open(reference, &SourceSettings::new()).unwrap();
    let resolved = source
        .resolve(&PlatformSelection::Default)
        .unwrap()
        .images
        .remove(0);
    (source, resolved)
}

/// Lengths that tell the two writes apart: inside the ELF program headers, a page, the first
/// write's whole size.
fn lengths(first: &[u8]) -> [u64; 3] {
    [100, 4096, first.len() as u64]
}

/// Every executable of the fixture, at the layer the manifest records, for each length.
fn requests(lengths: &[u64]) -> Vec<PrefixRequest> {
    let mut requests = Vec::new();
    for length in lengths {
        for (path, layer) in [
            ("/usr/bin/app", 0),
            ("/usr/bin/app-early", 0),
            ("/usr/bin/app-late", 0),
            ("/usr/local/bin/app-lower", 1),
        ] {
            requests.push(PrefixRequest {
                path: path.to_owned(),
                layer,
                length: *length,
            });
        }
    }
    requests
}

/// The prefix of `content`, hashed from layer 0.
fn from_layer_0(content: &[u8], length: u64) -> Result<PrefixDigest, PrefixMissing> {
    Ok(PrefixDigest {
        prefix: Sha256Digest::of(&content[..usize::try_from(length).unwrap()]),
        sha256: Sha256Digest::of(content),
        size: content.len() as u64,
        layer: 0,
    })
}

/// `app-early` links to the first write; everything else has the second.
fn assert_last_write_wins(results: &PrefixResults, requests: &[PrefixRequest], what: &str) {
    let (first, second) = writes_of_app();
    assert_eq!(results.len(), requests.len(), "{what}");
    for request in requests {
        let content = if request.path == "/usr/bin/app-early" {
            &first
        } else {
            &second
        };
        assert_eq!(
            results[request],
            from_layer_0(content, request.length),
            "{what}: {request:?}"
        );
    }
}

#[test]
fn the_scan_records_the_last_write_of_a_path_in_every_form() {
    let (first, second) = writes_of_app();
    assert_ne!(Sha256Digest::of(&first), Sha256Digest::of(&second));
    let expected: Value =
        serde_json::from_slice(&fs_err::read(root().join("testdata/expected/twice.json")).unwrap())
            .unwrap();
    for reference in forms() {
        let manifest = scan_json(&[reference]);
        for key in ["executables", "links", "hidden"] {
            assert_eq!(manifest[key], expected[key], "{reference}: {key}");
        }
        let sha256_of = |path: &str| manifest::sha256_of(&manifest, path);
        assert_eq!(sha256_of("/usr/bin/app"), Sha256Digest::of(&second).hex());
        assert_eq!(
            sha256_of("/usr/bin/app-early"),
            Sha256Digest::of(&first).hex()
        );
    }
}

#[test]
fn prefixes_are_hashed_from_the_last_write_in_every_form() {
    let (first, second) = writes_of_app();
    let lengths = lengths(&first);
    for length in lengths {
        let cut = usize::try_from(length).unwrap();
        assert_ne!(
            Sha256Digest::of(&first[..cut]),
            Sha256Digest::of(&second[..cut]),
            "a {length}-byte prefix must tell the writes apart"
        );
    }
    let asked = requests(&lengths);
    for reference in forms() {
        let (source, resolved) = open(reference);
        let results = catalog::prefix_digests(source.as_ref(), &resolved, &asked).unwrap();
        assert_last_write_wins(&results, &asked, reference);
    }
    // The second write is longer than the first: no prefix of its length from the first.
    let (source, resolved) = open(forms()[0]);
    let whole = second.len() as u64;
    let requests = requests(&[whole]);
    let results = catalog::prefix_digests(source.as_ref(), &resolved, &requests).unwrap();
    for request in &requests {
        let expected = if request.path == "/usr/bin/app-early" {
            Err(PrefixMissing::ShorterThanPrefix {
                size: first.len() as u64,
            })
        } else {
            from_layer_0(&second, whole)
        };
        assert_eq!(results[request], expected, "{request:?}");
    }
}

#[test]
fn a_registry_serving_other_bytes_under_a_layer_digest_gives_an_error_not_a_prefix() {
    let registry = Registry::start(Mode::Plain);
    registry.push_oci_layout("oci:testdata/images/twice:latest", "fx/twice:v1");
    let reference = format!("{}/fx/twice:v1", registry.host());
    let source = RegistrySource::open(&reference, &SourceSettings::new()).unwrap();
    let resolved = source
        .resolve(&PlatformSelection::Default)
        .unwrap()
        .images
        .remove(0);
    let (first, second) = writes_of_app();
    let requests = requests(&lengths(&first));
    let results = catalog::prefix_digests(&source, &resolved, &requests).unwrap();
    assert_last_write_wins(&results, &requests, &reference);

    // Change the second write's ELF header in the stored layer 0 blob, keeping its length: a
    // reader that trusted bytes before checking the layer's digests would hash these.
    let layer = Layout::image("twice").layer_digests()[0].clone();
    registry.tamper_with_stored_blob(&layer, &second);

    let error = catalog::prefix_digests(&source, &resolved, &requests)
        .unwrap_err()
        .to_string();
    assert!(error.contains(&layer), "{error}");
    assert!(error.contains("does not match its digest"), "{error}");
    // Asking only about the layer above still reads layer 0 for the hardlink, and fails.
    let above = [PrefixRequest {
        path: "/usr/local/bin/app-lower".to_owned(),
        layer: 1,
        length: 100,
    }];
    let error = catalog::prefix_digests(&source, &resolved, &above)
        .unwrap_err()
        .to_string();
    assert!(error.contains(&layer), "{error}");
}
