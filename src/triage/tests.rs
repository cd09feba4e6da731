use rstest::rstest;

use super::*;
use crate::finding::{self, BinaryRole};
use crate::manifest::{Hidden, LayerInfo};
use crate::test_fixtures::{executable, manifest, package};

/// The manifest of `reg/app`'s image for `platform` in an index: `executables`, one layer, and
/// /usr/bin/curl, which the build deleted.
fn manifest_for(platform: &str, executables: impl IntoIterator<Item = Executable>) -> Manifest {
    let mut image = manifest()
        .with_name("reg/app")
        .with_index_digest(Sha256Digest::of(b"index"))
        .with_manifest_digest(Sha256Digest::of(platform.as_bytes()))
        .with_platform(platform)
        .with_executables(executables);
    image.layers = vec![LayerInfo {
        digest: Sha256Digest::of(b"layer"),
        diff_id: Sha256Digest::of(b"diff"),
        media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
        size: 1,
    }];
    image.hidden = vec![Hidden {
        path: "/usr/bin/curl".into(),
        path_bytes: None,
        sha256: Sha256Digest::of(b"curl"),
        layer: 0,
        hidden_by: 0,
    }];
    image
}

/// The linux/amd64 manifest most findings are judged against.
fn app_manifest() -> Manifest {
    manifest_for(
        "linux/amd64",
        [
            executable("/usr/bin/app", "app-content"),
            executable("/usr/bin/sudo", "sudo-content"),
            executable("/usr/lib/libx.so", "lib"),
            executable("/usr/bin/ünï", "unicode"),
        ],
    )
}

/// Signed evidence, as `ImageEvidence::signed` makes it from a verified attestation.
fn signed(manifest: Manifest) -> ImageEvidence {
    ImageEvidence {
        manifest,
        provenance: Provenance::Signed {
            signer: "key k".into(),
            origin: "test".into(),
        },
        via_tag: None,
    }
}

fn finding_with(path: &str, content: Option<&str>) -> Finding {
    finding::from_flags(
        path,
        content.map(|c| Sha256Digest::of(c.as_bytes())),
        "reg/app@sha256:00",
    )
}

fn judge_with(
    finding: &Finding,
    evidence: &ImageEvidence,
    allowlist: &Allowlist,
    prefixes: &PrefixDigests,
) -> Judgement {
    let index = ManifestIndex::new(evidence);
    let candidates = [Candidate {
        index: &index,
        prefixes,
    }];
    judge(
        finding,
        &finding.binaries[0],
        ManifestFor::Found(&candidates),
        allowlist,
    )
}

fn judge_signed(finding: &Finding, allowlist: &Allowlist) -> Judgement {
    judge_with(
        finding,
        &signed(app_manifest()),
        allowlist,
        &PrefixDigests::new(),
    )
}

fn vendor_allowlist(path: Option<&str>) -> Allowlist {
    Allowlist {
        entries: vec![AllowEntry {
            sha256: Sha256Digest::of(b"vendor"),
            path: path.map(str::to_owned),
            source: Some("vendor".into()),
        }],
    }
}

#[rstest]
#[case("/usr/bin/app", Some("app-content"), Verdict::Unchanged)]
#[case("/usr/bin/ünï", Some("unicode"), Verdict::Unchanged)]
#[case("/tmp/app", Some("app-content"), Verdict::Relocated)]
#[case("/opt/agent", Some("vendor"), Verdict::Allowlisted)]
#[case("/usr/bin/app", Some("evil"), Verdict::Modified)]
#[case("/tmp/evil", Some("evil"), Verdict::Foreign)]
#[case("/tmp/evil", None, Verdict::Foreign)]
#[case("/usr/bin/app", None, Verdict::Unverifiable)]
#[case("/memfd:x (deleted)", Some("evil"), Verdict::Fileless)]
fn verdicts(#[case] path: &str, #[case] content: Option<&str>, #[case] expected: Verdict) {
    let finding = finding_with(path, content);
    let judgement = judge_signed(&finding, &vendor_allowlist(None));
    assert_eq!(judgement.verdict, expected, "{judgement:?}");
    assert_eq!(judgement.needs_action, !expected.is_legitimate());
    assert!(!judgement.evidence.compared.to_string().is_empty());
    assert_eq!(
        judgement.bake.is_some(),
        matches!(expected, Verdict::Relocated | Verdict::Allowlisted)
    );
}

#[test]
fn path_bound_allowlist_entries_only_match_their_path() {
    let elsewhere = finding_with("/tmp/agent", Some("vendor"));
    let judgement = judge_signed(&elsewhere, &vendor_allowlist(Some("/opt/agent")));
    assert_eq!(judgement.verdict, Verdict::Foreign);
}

#[test]
fn a_hash_only_allowlist_entry_never_vouches_for_a_replaced_image_binary() {
    let replaced = finding_with("/usr/bin/app", Some("vendor"));
    let judgement = judge_signed(&replaced, &vendor_allowlist(None));
    assert_eq!(judgement.verdict, Verdict::Modified, "{judgement:?}");
    assert!(
        judgement
            .evidence
            .notes
            .iter()
            .any(|note| matches!(note, Note::AllowlistNotForReplacement { .. }))
    );
    // An entry bound to that exact path may.
    let judgement = judge_signed(&replaced, &vendor_allowlist(Some("/usr/bin/app")));
    assert_eq!(judgement.verdict, Verdict::Allowlisted);
    assert!(judgement.bake.is_some());
}

#[test]
fn an_image_binary_copied_over_another_image_path_is_modified() {
    // A shell copied over sudo is the image's content, but not what the path should run.
    let copied = finding_with("/usr/bin/sudo", Some("app-content"));
    let judgement = judge_signed(&copied, &Allowlist::default());
    assert_eq!(judgement.verdict, Verdict::Modified, "{judgement:?}");
    assert!(judgement.bake.is_none());
    assert!(
        judgement
            .evidence
            .notes
            .iter()
            .any(|note| matches!(note, Note::CopiedOver { source } if source == "/usr/bin/app"))
    );
}

#[test]
fn no_manifest_unsigned_manifest_and_truncated_paths_are_unverifiable() {
    let finding = finding_with("/usr/bin/app", Some("app-content"));
    let none = judge(
        &finding,
        &finding.binaries[0],
        ManifestFor::Unavailable("no attestation"),
        &Allowlist::default(),
    );
    assert_eq!(none.verdict, Verdict::Unverifiable);
    assert!(
        none.evidence
            .compared
            .to_string()
            .contains("no attestation")
    );

    let unsigned = ImageEvidence::unsigned(app_manifest(), "m.json".into());
    let judgement = judge_with(
        &finding,
        &unsigned,
        &Allowlist::default(),
        &PrefixDigests::new(),
    );
    assert_eq!(judgement.verdict, Verdict::Unverifiable);
    assert!(judgement.bake.is_none());
    assert!(judgement.evidence.notes.iter().any(|note| matches!(
        note,
        Note::Unsigned { would_be: Verdict::Unchanged, file } if file == "m.json"
    )));
    // Every legitimate path is closed for an unsigned manifest: relocated and allowlisted too.
    for (path, content) in [("/tmp/app", "app-content"), ("/opt/agent", "vendor")] {
        let judgement = judge_with(
            &finding_with(path, Some(content)),
            &unsigned,
            &vendor_allowlist(None),
            &PrefixDigests::new(),
        );
        assert_eq!(judgement.verdict, Verdict::Unverifiable, "{path}");
        assert!(judgement.bake.is_none());
    }
    // An unsigned manifest still shows a foreign binary is foreign.
    let foreign = finding_with("/tmp/evil", Some("evil"));
    assert_eq!(
        judge_with(
            &foreign,
            &unsigned,
            &Allowlist::default(),
            &PrefixDigests::new()
        )
        .verdict,
        Verdict::Foreign
    );
    let mut cut = finding_with("/usr/bin/app", Some("app-content"));
    cut.binaries[0].truncated = true;
    assert_eq!(
        judge_signed(&cut, &Allowlist::default()).verdict,
        Verdict::Unverifiable
    );
}

#[test]
fn malicious_categories_are_never_benign() {
    let mut finding = finding_with("/usr/bin/app", Some("app-content"));
    finding.category = Category::BuiltInMaliciousBinary;
    finding.raw_category = "Execution: Built in Malicious Binary Executed".into();
    let judgement = judge_signed(&finding, &Allowlist::default());
    assert_eq!(judgement.verdict, Verdict::Unchanged);
    assert!(judgement.malicious && judgement.needs_action);
    assert!(
        judgement.evidence.notes[0]
            .to_string()
            .contains("image itself is compromised")
    );
    assert_eq!(
        response(&finding, &judgement).action,
        playbook::Action::Contain
    );
    assert!(playbook(&finding, std::slice::from_ref(&judgement)).is_some());
}

/// A finding for the first `hashed` bytes of `content`, reporting `size`.
fn partial(path: &str, content: &str, hashed: Option<u64>, size: Option<u64>) -> Finding {
    let mut finding = finding_with(path, None);
    let binary = &mut finding.binaries[0];
    binary.role = BinaryRole::Library;
    binary.partially_hashed = true;
    binary.hashed_size = hashed;
    binary.size = size;
    let cut = hashed.map_or(content.len(), |hashed| {
        usize::try_from(hashed).unwrap().min(content.len())
    });
    binary.sha256 = Some(Sha256Digest::of(&content.as_bytes()[..cut]));
    finding
}

fn fact(prefix: &str, content: &str) -> Result<PrefixFact, String> {
    Ok(PrefixFact {
        prefix: Sha256Digest::of(prefix.as_bytes()),
        sha256: Sha256Digest::of(content.as_bytes()),
        size: content.len() as u64,
    })
}

fn request(path: &str, length: u64) -> PrefixRequest {
    PrefixRequest {
        path: path.into(),
        layer: 0,
        length,
    }
}

#[test]
fn a_prefix_match_is_not_proof_and_says_how_to_settle_it() {
    let evidence = signed(app_manifest());
    let size = "app-content".len() as u64;
    let finding = partial("/usr/bin/app", "app-content", Some(3), Some(size));
    assert_eq!(
        prefix_requests(&finding.binaries[0], evidence.manifest()),
        [request("/usr/bin/app", 3)]
    );
    let mut prefixes = PrefixDigests::new();
    let missing = judge_with(&finding, &evidence, &Allowlist::default(), &prefixes);
    assert_eq!(
        missing.verdict,
        Verdict::Unverifiable,
        "a needed prefix was missing"
    );
    prefixes.insert(request("/usr/bin/app", 3), fact("app", "app-content"));
    let judgement = judge_with(&finding, &evidence, &Allowlist::default(), &prefixes);
    assert_eq!(judgement.verdict, Verdict::Unverifiable);
    assert!(judgement.needs_action);
    assert!(judgement.bake.is_none());
    let notes: Vec<String> = judgement
        .evidence
        .notes
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("the first 3 bytes equal layer 0's /usr/bin/app")),
        "{notes:?}"
    );
    let steps = response(&finding, &judgement).steps.join("\n");
    assert!(
        steps.contains(&format!(
            "sha256sum /usr/bin/app  # the image's file is {}",
            Sha256Digest::of(b"app-content").hex()
        )),
        "{steps}"
    );
    // The same prefix at another path is not "relocated" either.
    let moved = partial("/tmp/app", "app-content", Some(3), Some(size));
    let judgement = judge_with(&moved, &evidence, &Allowlist::default(), &prefixes);
    assert_eq!(judgement.verdict, Verdict::Unverifiable);
}

#[test]
fn a_prefix_differs_only_when_it_comes_from_the_manifests_own_entry() {
    let evidence = signed(app_manifest());
    let size = "app-content".len() as u64;
    let finding = partial("/usr/bin/app", "EVIL-content", Some(3), Some(size));
    let mut prefixes = PrefixDigests::new();
    // Hashed from another entry than the manifest records (its whole digest differs).
    prefixes.insert(request("/usr/bin/app", 3), fact("app", "app-other"));
    let judgement = judge_with(&finding, &evidence, &Allowlist::default(), &prefixes);
    assert_eq!(judgement.verdict, Verdict::Unverifiable, "{judgement:?}");
    prefixes.insert(request("/usr/bin/app", 3), fact("app", "app-content"));
    let judgement = judge_with(&finding, &evidence, &Allowlist::default(), &prefixes);
    assert_eq!(judgement.verdict, Verdict::Modified);
    prefixes.insert(request("/usr/bin/app", 3), Err("layer unreadable".into()));
    let judgement = judge_with(&finding, &evidence, &Allowlist::default(), &prefixes);
    assert_eq!(judgement.verdict, Verdict::Unverifiable);
    assert!(
        judgement.evidence.notes[0]
            .to_string()
            .contains("layer unreadable")
    );
}

#[rstest]
#[case::absent(None, Some(11))]
#[case::zero(Some(0), Some(11))]
#[case::larger_than_the_file(Some(12), Some(11))]
#[case::no_size_either(None, None)]
fn a_partial_hash_without_a_usable_length_is_never_compared(
    #[case] hashed: Option<u64>,
    #[case] size: Option<u64>,
) {
    // The whole-file digest, labelled partial: it must not match as a whole-file hash.
    let mut finding = finding_with("/usr/bin/app", Some("app-content"));
    let binary = &mut finding.binaries[0];
    binary.partially_hashed = true;
    binary.hashed_size = hashed;
    binary.size = size;
    let judgement = judge_signed(&finding, &Allowlist::default());
    assert_eq!(judgement.verdict, Verdict::Unverifiable, "{judgement:?}");
    assert!(matches!(
        judgement.evidence.compared,
        Comparison::UnusablePartial { .. }
    ));
    assert!(prefix_requests(&finding.binaries[0], &app_manifest()).is_empty());
}

#[test]
fn a_whole_file_match_with_another_size_is_not_a_match() {
    let mut finding = finding_with("/usr/bin/app", Some("app-content"));
    finding.binaries[0].size = Some(999);
    let judgement = judge_signed(&finding, &Allowlist::default());
    assert_eq!(judgement.verdict, Verdict::Unverifiable);
    assert!(judgement.evidence.notes.iter().any(|note| matches!(
        note,
        Note::HashSizeMismatch {
            reported: 999,
            image: 11,
            ..
        }
    )));
    let mut moved = finding_with("/tmp/app", Some("app-content"));
    moved.binaries[0].size = Some(999);
    assert_eq!(
        judge_signed(&moved, &Allowlist::default()).verdict,
        Verdict::Unverifiable
    );
    // The right size is a match.
    finding.binaries[0].size = Some(11);
    assert_eq!(
        judge_signed(&finding, &Allowlist::default()).verdict,
        Verdict::Unchanged
    );
}

#[test]
fn every_platform_of_an_index_is_judged_and_the_match_is_named() {
    let amd64 = signed(app_manifest());
    let arm64 = signed(manifest_for(
        "linux/arm64",
        [executable("/usr/bin/app", "app-arm64")],
    ));
    let (amd64_index, arm64_index) = (ManifestIndex::new(&amd64), ManifestIndex::new(&arm64));
    let prefixes = PrefixDigests::new();
    let candidates = [
        Candidate {
            index: &amd64_index,
            prefixes: &prefixes,
        },
        Candidate {
            index: &arm64_index,
            prefixes: &prefixes,
        },
    ];
    let finding = finding_with("/usr/bin/app", Some("app-arm64"));
    let judgement = judge(
        &finding,
        &finding.binaries[0],
        ManifestFor::Found(&candidates),
        &Allowlist::default(),
    );
    assert_eq!(judgement.verdict, Verdict::Unchanged);
    assert_eq!(judgement.evidence.platform.as_deref(), Some("linux/arm64"));
    assert!(judgement.evidence.notes.iter().any(|note| matches!(
        note,
        Note::Platforms { chosen, results, .. }
            if chosen == "linux/arm64" && results.len() == 2
    )));
    // Foreign to one platform and unverifiable in the other is not proven foreign.
    let only_path = finding_with("/usr/bin/app", None);
    let mut foreign_elsewhere = only_path.clone();
    foreign_elsewhere.binaries[0].path = Some("/usr/bin/sudo".into());
    let judgement = judge(
        &foreign_elsewhere,
        &foreign_elsewhere.binaries[0],
        ManifestFor::Found(&candidates),
        &Allowlist::default(),
    );
    assert_eq!(judgement.verdict, Verdict::Unverifiable);
}

#[test]
fn a_finding_with_nothing_to_judge_needs_action() {
    let judgement = nothing_to_judge(ManifestFor::Unavailable("no image"));
    assert_eq!(judgement.verdict, Verdict::Unverifiable);
    assert!(judgement.needs_action);
    let mut nameless = finding_with("/x", None);
    nameless.binaries[0].path = None;
    let judgement = judge_signed(&nameless, &Allowlist::default());
    assert_eq!(judgement.verdict, Verdict::Unverifiable);
    assert!(matches!(
        judgement.evidence.compared,
        Comparison::Nothing(Missing::NoPathNorHash)
    ));
}

#[test]
fn a_build_deleted_binary_is_foreign_and_says_so() {
    let finding = finding_with("/usr/bin/curl", Some("curl"));
    let judgement = judge_signed(&finding, &Allowlist::default());
    assert_eq!(judgement.verdict, Verdict::Foreign);
    assert!(
        judgement.evidence.notes[0]
            .to_string()
            .contains("removed by layer 0 during the build")
    );
}

#[test]
fn the_playbook_is_given_once_per_finding_and_only_when_needed() {
    let mut finding = finding_with("/tmp/evil", Some("evil"));
    finding.binaries.push(finding.binaries[0].clone());
    finding.context.node = Some("gke-prod-pool-1-abcd".into());
    let judgements: Vec<Judgement> = finding
        .binaries
        .iter()
        .map(|binary| {
            let evidence = signed(app_manifest());
            let index = ManifestIndex::new(&evidence);
            let prefixes = PrefixDigests::new();
            let candidates = [Candidate {
                index: &index,
                prefixes: &prefixes,
            }];
            judge(
                &finding,
                binary,
                ManifestFor::Found(&candidates),
                &Allowlist::default(),
            )
        })
        .collect();
    let plan = playbook(&finding, &judgements).unwrap();
    assert_eq!(plan.action, playbook::Action::Contain);
    assert!(
        plan.steps
            .iter()
            .any(|step| step.ends_with("kubectl cordon gke-prod-pool-1-abcd"))
    );
    for judgement in &judgements {
        let steps = response(&finding, judgement).steps;
        assert!(
            !steps.iter().any(|step| step.contains("cordon")),
            "{steps:?}"
        );
    }
    let benign = finding_with("/usr/bin/app", Some("app-content"));
    let judgement = judge_signed(&benign, &Allowlist::default());
    assert!(playbook(&benign, &[judgement]).is_none());
}

/// A format 2 manifest where /usr/bin/curl is owned by curl with `digest`, and /app/server
/// is unowned.
fn packaged_manifest(digest: PackageDigest) -> Manifest {
    manifest_for(
        "linux/amd64",
        [
            executable("/app/server", "server-bytes").unowned(),
            executable("/usr/bin/curl", "curl-bytes")
                .owned_by(package("curl", "7.88.1-10+deb12u5", "amd64"), digest),
        ],
    )
}

fn package_notes(judgement: &Judgement) -> Vec<String> {
    judgement
        .evidence
        .notes
        .iter()
        .filter(|note| matches!(note, Note::Package { .. }))
        .map(ToString::to_string)
        .collect()
}

/// Triage names the package of the image file a verdict rests on, and for `modified` whether
/// the image's own copy was the packaged one.
#[rstest]
#[case::unchanged_as_packaged(
    "/usr/bin/curl",
    "curl-bytes",
    PackageDigest::Match,
    Verdict::Unchanged,
    "unchanged: /usr/bin/curl, curl 7.88.1-10+deb12u5 (dpkg), bytes as packaged"
)]
#[case::unchanged_but_altered_in_the_build(
    "/usr/bin/curl",
    "curl-bytes",
    PackageDigest::Mismatch,
    Verdict::Unchanged,
    "/usr/bin/curl is from curl 7.88.1-10+deb12u5 (dpkg), but its bytes in the image differ from the package's: altered during the build"
)]
#[case::modified_packaged_copy(
    "/usr/bin/curl",
    "evil",
    PackageDigest::Match,
    Verdict::Modified,
    "the image's copy of /usr/bin/curl is curl 7.88.1-10+deb12u5 (dpkg) as packaged: the running file replaced the packaged binary"
)]
#[case::modified_copy_already_differed(
    "/usr/bin/curl",
    "evil",
    PackageDigest::Mismatch,
    Verdict::Modified,
    "the image's copy of /usr/bin/curl already differed from its package curl 7.88.1-10+deb12u5 (dpkg): it was altered during the build"
)]
#[case::modified_without_recorded_digest(
    "/usr/bin/curl",
    "evil",
    PackageDigest::None,
    Verdict::Modified,
    "the image's copy of /usr/bin/curl is from curl 7.88.1-10+deb12u5 (dpkg), which records no digest for it"
)]
#[case::relocated_from_a_package(
    "/tmp/curl",
    "curl-bytes",
    PackageDigest::Match,
    Verdict::Relocated,
    "its content is /usr/bin/curl of curl 7.88.1-10+deb12u5 (dpkg), bytes as packaged"
)]
#[case::unowned(
    "/app/server",
    "server-bytes",
    PackageDigest::Match,
    Verdict::Unchanged,
    "/app/server is not from a package of the image"
)]
fn evidence_names_the_package(
    #[case] path: &str,
    #[case] content: &str,
    #[case] digest: PackageDigest,
    #[case] verdict: Verdict,
    #[case] note: &str,
) {
    let finding = finding_with(path, Some(content));
    let judgement = judge_with(
        &finding,
        &signed(packaged_manifest(digest)),
        &Allowlist::default(),
        &PrefixDigests::new(),
    );
    assert_eq!(judgement.verdict, verdict, "{judgement:?}");
    assert_eq!(package_notes(&judgement), [note]);
}

#[test]
fn the_package_is_in_the_evidence_json_only_when_known() {
    let finding = finding_with("/usr/bin/curl", Some("curl-bytes"));
    let judgement = judge_with(
        &finding,
        &signed(packaged_manifest(PackageDigest::Match)),
        &Allowlist::default(),
        &PrefixDigests::new(),
    );
    let json = serde_json::to_value(&judgement).unwrap();
    let entry = &json["evidence"]["entries"][0];
    assert_eq!(entry["package"]["name"], "curl");
    assert_eq!(entry["package"]["version"], "7.88.1-10+deb12u5");
    assert_eq!(entry["package"]["db"], "dpkg");
    assert_eq!(entry["packageDigest"], "match");
    assert_eq!(
        response(&finding, &judgement).summary,
        "unchanged: /usr/bin/curl, curl 7.88.1-10+deb12u5 (dpkg), bytes as packaged: the image's own binary, nothing to rebuild"
    );

    // A format 1 manifest: no package fields, no package note, the summary as before.
    let old = judge_signed(
        &finding_with("/usr/bin/app", Some("app-content")),
        &Allowlist::default(),
    );
    let json = serde_json::to_value(&old).unwrap();
    let entry = json["evidence"]["entries"][0].as_object().unwrap();
    assert!(!entry.contains_key("package") && !entry.contains_key("packageDigest"));
    assert!(package_notes(&old).is_empty());
}

#[rstest]
#[case(
    PackageDigest::Match,
    "/usr/bin/curl replaced the image's binary at run time (the image's copy is curl 7.88.1-10+deb12u5 (dpkg) as packaged): contain, it may be a compromise"
)]
#[case(
    PackageDigest::Mismatch,
    "/usr/bin/curl replaced the image's binary at run time (the image's copy already differed from its package curl 7.88.1-10+deb12u5 (dpkg)): contain, it may be a compromise"
)]
#[case(
    PackageDigest::None,
    "/usr/bin/curl replaced the image's binary at run time: contain, it may be a compromise"
)]
fn a_modified_response_says_what_the_image_copy_was(
    #[case] digest: PackageDigest,
    #[case] summary: &str,
) {
    let finding = finding_with("/usr/bin/curl", Some("evil"));
    let judgement = judge_with(
        &finding,
        &signed(packaged_manifest(digest)),
        &Allowlist::default(),
        &PrefixDigests::new(),
    );
    assert_eq!(response(&finding, &judgement).summary, summary);
}

#[test]
fn an_unsigned_manifest_still_names_the_package_of_what_it_would_be() {
    let finding = finding_with("/usr/bin/curl", Some("curl-bytes"));
    let evidence =
        ImageEvidence::unsigned(packaged_manifest(PackageDigest::Match), "m.json".into());
    let judgement = judge_with(
        &finding,
        &evidence,
        &Allowlist::default(),
        &PrefixDigests::new(),
    );
    assert_eq!(judgement.verdict, Verdict::Unverifiable);
    assert_eq!(
        package_notes(&judgement),
        ["unchanged: /usr/bin/curl, curl 7.88.1-10+deb12u5 (dpkg), bytes as packaged"]
    );
}

/// Every verdict reads back from its code, and nothing else reads as one.
#[test]
fn verdict_codes_round_trip() {
    for verdict in Verdict::ALL {
        assert_eq!(verdict.code().parse::<Verdict>().unwrap(), verdict);
        assert_eq!(verdict.to_string().parse::<Verdict>().unwrap(), verdict);
    }
    assert_eq!(
        "Foreign".parse::<Verdict>().unwrap_err().to_string(),
        "\"Foreign\" is not a verdict (one of unchanged, relocated, allowlisted, modified, foreign, fileless, unverifiable)"
    );
}
