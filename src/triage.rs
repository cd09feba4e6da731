//! The verdict: one binary of a runtime finding, judged against the verified executable manifest
//! of the image it ran in. Pure: no I/O. The CLI fetches and verifies the attestation, computes
//! prefix digests for partially hashed findings ([`prefix_requests`]), and renders the result.
//!
//! Verdict codes are stable (kebab-case):
//!
//! | code | meaning | response |
//! |---|---|---|
//! | `unchanged` | the path is in the image with the same hash (a chmod/chown copy-up made the detector see an image file as new) | benign: nothing to rebuild |
//! | `relocated` | the hash is an image executable at another path: a legitimate binary copied at runtime | rebuild with it at that path, or stop the copy |
//! | `allowlisted` | the hash (or path + hash) is on the allowlist | legitimate: rebuild to bake it in |
//! | `modified` | the path is in the image but the hash differs: the image's binary was replaced | contain: treat as compromise |
//! | `foreign` | neither path nor hash is known to the image | contain: treat as compromise |
//! | `fileless` | memfd, deleted file, `/proc/self/fd`, `/dev/shm`: nothing on disk to compare | contain and investigate |
//! | `unverifiable` | exelock cannot prove either way: no hash for a path the image has, no valid attestation, unknown image | investigate: says what is missing |
//!
//! Rules that keep the verdicts honest: a legitimate verdict always rests on a matching hash
//! from a verified manifest; a partial hash (SCC `hashedSize` < `size`) is only ever compared
//! with a prefix digest of the same length, never with a whole-file digest; a truncated path is
//! never taken as a match; a detector's "malicious" category is never called benign.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::bake::BakeEntry;
use crate::digest::Sha256Digest;
use crate::finding::{Binary, Category, Finding};
use crate::manifest::{Executable, Manifest};

/// A verdict on one binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// In the image at this path with this hash.
    Unchanged,
    /// In the image with this hash, at another path.
    Relocated,
    /// On the allowlist.
    Allowlisted,
    /// At an image path, with another hash.
    Modified,
    /// Neither path nor hash known.
    Foreign,
    /// Nothing on disk to compare.
    Fileless,
    /// Cannot be proven either way.
    Unverifiable,
}

impl Verdict {
    /// The stable code.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Unchanged => "unchanged",
            Self::Relocated => "relocated",
            Self::Allowlisted => "allowlisted",
            Self::Modified => "modified",
            Self::Foreign => "foreign",
            Self::Fileless => "fileless",
            Self::Unverifiable => "unverifiable",
        }
    }

    /// Whether the binary is proven to belong (benign or to be baked in).
    #[must_use]
    pub const fn is_legitimate(self) -> bool {
        matches!(self, Self::Unchanged | Self::Relocated | Self::Allowlisted)
    }
}

/// Known-good binaries beyond the image: another attested image's executables, a vendor list.
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
    /// Where the entry comes from (e.g. `vendor agent 2.3`, an image digest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Allowlist {
    /// Every executable of a (verified) manifest, bound to its path.
    #[must_use]
    pub fn from_manifest(manifest: &Manifest) -> Self {
        let source = manifest.image.manifest_digest.map_or_else(
            || manifest.image.name.clone(),
            |digest| format!("{} ({digest})", manifest.image.name),
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

    fn find(&self, path: &str, sha256: &Sha256Digest) -> Option<&AllowEntry> {
        self.entries.iter().find(|entry| {
            entry.sha256 == *sha256 && entry.path.as_deref().is_none_or(|allowed| allowed == path)
        })
    }
}

/// A manifest whose attestation was verified, and how.
#[derive(Clone, Debug)]
pub struct VerifiedManifest {
    /// The manifest.
    pub manifest: Manifest,
    /// Who signed the attestation.
    pub signer: String,
    /// Where the attestation was found (`OCI referrer`, `bundle file`, …).
    pub origin: String,
    /// The image was named by a tag, resolved now: the result rests on a mutable tag.
    pub via_tag: Option<String>,
    /// Whether the attestation's signature was checked. An unchecked manifest (a plain file)
    /// can show a binary is *not* the image's, but never that it is.
    pub signature_checked: bool,
}

/// A verified manifest with lookup tables, built once and shared by every finding about it.
pub struct ManifestIndex<'a> {
    verified: &'a VerifiedManifest,
    by_path: HashMap<&'a str, &'a Executable>,
    by_digest: HashMap<Sha256Digest, Vec<&'a Executable>>,
    links: HashMap<&'a str, &'a str>,
}

impl<'a> ManifestIndex<'a> {
    /// Indexes a verified manifest.
    #[must_use]
    pub fn new(verified: &'a VerifiedManifest) -> Self {
        let manifest = &verified.manifest;
        let mut by_digest: HashMap<Sha256Digest, Vec<&Executable>> = HashMap::new();
        for exe in &manifest.executables {
            by_digest.entry(exe.sha256).or_default().push(exe);
        }
        Self {
            verified,
            by_path: manifest
                .executables
                .iter()
                .map(|exe| (exe.path.as_str(), exe))
                .collect(),
            by_digest,
            links: manifest
                .links
                .iter()
                .map(|link| (link.path.as_str(), link.target.as_str()))
                .collect(),
        }
    }

    /// The executable at `path`, following a recorded symlink.
    #[must_use]
    pub fn executable(&self, path: &str) -> Option<&'a Executable> {
        self.at_path(path)
    }

    fn at_path(&self, path: &str) -> Option<&'a Executable> {
        self.by_path
            .get(path)
            .or_else(|| {
                self.links
                    .get(path)
                    .and_then(|target| self.by_path.get(target))
            })
            .copied()
    }
}

/// Where the judge gets the manifest for a finding's image.
pub enum ManifestFor<'a, 'b> {
    /// A verified manifest.
    Verified(&'b ManifestIndex<'a>),
    /// None could be had; why.
    Unavailable(&'b str),
}

/// Prefix digests computed by the caller: (image path, length) → digest.
pub type PrefixDigests = HashMap<(String, u64), Sha256Digest>;

/// A manifest entry cited as evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryEvidence {
    /// Path in the image.
    pub path: String,
    /// Whole-file digest.
    pub sha256: String,
    /// Size.
    pub size: u64,
    /// Layer index that wrote it.
    pub layer: usize,
    /// That layer's blob digest.
    pub layer_digest: String,
}

/// What a verdict rests on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    /// What was compared with what, in words.
    pub compared: String,
    /// The image whose manifest was used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Its platform manifest digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest_digest: Option<String>,
    /// Who signed its attestation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
    /// Manifest entries that matched or differed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<EntryEvidence>,
    /// The allowlist entry that matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowlist: Option<AllowEntry>,
    /// Anything else worth knowing (a mutable tag, a build-deleted binary, a malicious category).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One judged binary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Judgement {
    /// What the file was to the finding.
    pub role: crate::finding::BinaryRole,
    /// The path as reported.
    pub path: Option<String>,
    /// The reported digest, hex.
    pub sha256: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// The detector says the binary is malicious (threat intelligence).
    pub malicious: bool,
    /// Whether this binary calls for containment or investigation.
    pub needs_action: bool,
    /// Why.
    pub evidence: Evidence,
    /// For legitimate binaries that are not yet in the image: what to bake in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bake: Option<BakeEntry>,
}

fn entry_evidence(manifest: &Manifest, exe: &Executable) -> EntryEvidence {
    EntryEvidence {
        path: exe.path.clone(),
        sha256: exe.sha256.hex(),
        size: exe.size,
        layer: exe.layer,
        layer_digest: manifest
            .layers
            .get(exe.layer)
            .map(|layer| layer.digest.to_string())
            .unwrap_or_default(),
    }
}

/// Whether the binary's digest covers only a prefix of the file.
fn is_partial(binary: &Binary) -> bool {
    binary.partially_hashed
        && match (binary.hashed_size, binary.size) {
            (Some(hashed), Some(size)) => hashed < size,
            (Some(_), None) => true,
            (None, _) => false,
        }
}

/// For a partially hashed binary: the (image path, length) prefix digests the judge needs. Only
/// executables of the reported size are candidates (the size rules the others out).
#[must_use]
pub fn prefix_requests(binary: &Binary, index: &ManifestIndex<'_>) -> Vec<(String, u64)> {
    let (true, Some(hashed)) = (is_partial(binary), binary.hashed_size) else {
        return Vec::new();
    };
    index
        .verified
        .manifest
        .executables
        .iter()
        .filter(|exe| binary.size.is_none_or(|size| size == exe.size) && exe.size >= hashed)
        .map(|exe| (exe.path.clone(), hashed))
        .collect()
}

/// Judges one binary of a finding.
#[must_use]
pub fn judge(
    finding: &Finding,
    binary: &Binary,
    manifest: &ManifestFor<'_, '_>,
    allowlist: &Allowlist,
    prefixes: &PrefixDigests,
) -> Judgement {
    let malicious = matches!(
        finding.category,
        Category::AddedMaliciousBinary
            | Category::ModifiedMaliciousBinary
            | Category::BuiltInMaliciousBinary
    );
    let mut judgement = Judgement {
        role: binary.role,
        path: binary.path.clone(),
        sha256: binary.sha256.map(|digest| digest.hex()),
        verdict: Verdict::Unverifiable,
        malicious,
        needs_action: true,
        evidence: Evidence::default(),
        bake: None,
    };
    decide(binary, manifest, allowlist, prefixes, &mut judgement);
    if let ManifestFor::Verified(index) = manifest
        && !index.verified.signature_checked
        && judgement.verdict.is_legitimate()
    {
        judgement.evidence.notes.push(format!(
            "it would be {}, but the manifest's signature was not checked: verify the attestation (--key, or keyless) to prove it",
            judgement.verdict.code()
        ));
        judgement.verdict = Verdict::Unverifiable;
        judgement.bake = None;
    }
    if malicious {
        judgement.evidence.notes.push(format!(
            "the detector classed this as {}: threat intelligence knows this hash as malicious{}",
            finding.raw_category,
            if judgement.verdict == Verdict::Unchanged {
                "; it is the image's own signed binary, so the image itself is compromised"
            } else {
                ""
            }
        ));
        judgement.bake = None;
    }
    judgement.needs_action = malicious || !judgement.verdict.is_legitimate();
    judgement
}

fn decide(
    binary: &Binary,
    manifest: &ManifestFor<'_, '_>,
    allowlist: &Allowlist,
    prefixes: &PrefixDigests,
    judgement: &mut Judgement,
) {
    let evidence = &mut judgement.evidence;
    if binary.fileless {
        judgement.verdict = Verdict::Fileless;
        evidence.compared = format!(
            "nothing: {} is not a file on the image's filesystem (memfd, deleted file, /proc/self/fd or /dev/shm)",
            binary.path.as_deref().unwrap_or("the executable")
        );
        return;
    }
    let index = match manifest {
        ManifestFor::Verified(index) => index,
        ManifestFor::Unavailable(reason) => {
            judgement.verdict = Verdict::Unverifiable;
            evidence.compared = format!("nothing: {reason}");
            return;
        }
    };
    let verified = index.verified;
    let image_manifest = &verified.manifest;
    evidence.image = Some(image_manifest.image.name.clone());
    evidence.manifest_digest = image_manifest
        .image
        .manifest_digest
        .map(|digest| digest.to_string());
    evidence.signed_by = Some(format!("{} ({})", verified.signer, verified.origin));
    if let Some(tag) = &verified.via_tag {
        evidence.notes.push(format!(
            "the finding named the image by the tag {tag}, resolved now: the result rests on a mutable tag"
        ));
    }
    let count = image_manifest.executables.len();
    let Some(path) = binary.path.as_deref().filter(|_| !binary.truncated) else {
        judgement.verdict = Verdict::Unverifiable;
        evidence.compared = if binary.truncated {
            "nothing: the reported path was truncated, so it cannot be matched".to_owned()
        } else {
            "nothing: the finding names no path for this binary".to_owned()
        };
        return;
    };
    let at_path = index.at_path(path);
    let Some(reported) = binary.sha256 else {
        match at_path {
            Some(exe) => {
                judgement.verdict = Verdict::Unverifiable;
                evidence.compared = format!(
                    "the path {path} against {count} executables: the image has it, but the finding carries no hash, so it may be the image's binary or a replacement"
                );
                evidence.entries.push(entry_evidence(image_manifest, exe));
                evidence.notes.push(format!(
                    "to decide, hash the running file: kubectl exec … -- sha256sum {path} and compare with {}",
                    exe.sha256.hex()
                ));
            }
            None => {
                judgement.verdict = Verdict::Foreign;
                evidence.compared = format!(
                    "the path {path} against {count} executables of the image: not among them (the finding carries no hash)"
                );
            }
        }
        return;
    };

    if is_partial(binary) {
        let hashed = binary.hashed_size.unwrap_or(0);
        let matches_prefix =
            |exe: &Executable| prefixes.get(&(exe.path.clone(), hashed)) == Some(&reported);
        let candidates = prefix_requests(binary, index);
        let missing: Vec<&str> = candidates
            .iter()
            .filter(|key| !prefixes.contains_key(*key))
            .map(|(candidate, _)| candidate.as_str())
            .collect();
        let size_text = binary
            .size
            .map_or_else(|| "unknown size".to_owned(), |size| format!("{size} bytes"));
        evidence.compared = format!(
            "a partial sha256 (first {hashed} bytes, file of {size_text}) with the same-length prefix digests of the {} image executables of that size",
            candidates.len()
        );
        if let Some(exe) = at_path.filter(|exe| matches_prefix(exe)) {
            judgement.verdict = Verdict::Unchanged;
            evidence.entries.push(entry_evidence(image_manifest, exe));
            return;
        }
        let relocated: Vec<&Executable> = image_manifest
            .executables
            .iter()
            .filter(|exe| matches_prefix(exe))
            .collect();
        if !relocated.is_empty() {
            judgement.verdict = Verdict::Relocated;
            evidence.entries.extend(
                relocated
                    .iter()
                    .map(|exe| entry_evidence(image_manifest, exe)),
            );
            evidence.notes.push(
                "the match rests on the first bytes only, as the detector hashed them".to_owned(),
            );
            return;
        }
        if !missing.is_empty() {
            judgement.verdict = Verdict::Unverifiable;
            evidence.notes.push(format!(
                "prefix digests could not be computed for {}",
                missing.join(", ")
            ));
            return;
        }
        match at_path {
            Some(exe) => {
                judgement.verdict = Verdict::Modified;
                evidence.entries.push(entry_evidence(image_manifest, exe));
                if binary.size.is_some_and(|size| size != exe.size) {
                    evidence.notes.push(format!(
                        "the image's file is {} bytes, the running one {size_text}",
                        exe.size
                    ));
                }
            }
            None => judgement.verdict = Verdict::Foreign,
        }
        return;
    }

    evidence.compared = format!(
        "the path {path} and sha256 {} against {count} executables of the image",
        reported.hex()
    );
    if let Some(exe) = at_path.filter(|exe| exe.sha256 == reported) {
        judgement.verdict = Verdict::Unchanged;
        evidence.entries.push(entry_evidence(image_manifest, exe));
        return;
    }
    if let Some(found) = index.by_digest.get(&reported) {
        judgement.verdict = Verdict::Relocated;
        evidence
            .entries
            .extend(found.iter().map(|exe| entry_evidence(image_manifest, exe)));
        judgement.bake = Some(BakeEntry {
            path: path.to_owned(),
            sha256: reported,
            reason: Some(format!(
                "relocated: the image has this binary at {}",
                found[0].path
            )),
        });
        return;
    }
    if let Some(entry) = allowlist.find(path, &reported) {
        judgement.verdict = Verdict::Allowlisted;
        evidence.allowlist = Some(entry.clone());
        judgement.bake = Some(BakeEntry {
            path: path.to_owned(),
            sha256: reported,
            reason: Some(format!(
                "allowlisted{}",
                entry
                    .source
                    .as_deref()
                    .map_or(String::new(), |source| format!(" ({source})"))
            )),
        });
        return;
    }
    if let Some(hidden) = image_manifest
        .hidden
        .iter()
        .find(|hidden| hidden.sha256 == reported)
    {
        evidence.notes.push(format!(
            "this content was {} in layer {} and removed by layer {} during the build: it is not part of the final image",
            hidden.path, hidden.layer, hidden.hidden_by
        ));
    }
    match at_path {
        Some(exe) => {
            judgement.verdict = Verdict::Modified;
            evidence.entries.push(entry_evidence(image_manifest, exe));
        }
        None => judgement.verdict = Verdict::Foreign,
    }
}

/// What the responder should do about one binary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// `none`, `rebuild`, `contain` or `investigate`.
    pub action: &'static str,
    /// One sentence.
    pub summary: String,
    /// The next commands and checks, filled in from the finding.
    pub steps: Vec<String>,
}

fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:@=+".contains(c))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// The response to a judged binary: what to bake in for legitimate ones, the containment
/// playbook (SCC's, with GuardDuty and Falco equivalents) for the rest.
#[must_use]
pub fn response(finding: &Finding, judgement: &Judgement) -> Response {
    let context = &finding.context;
    let path = judgement.path.as_deref().unwrap_or("<path>");
    let name = path.rsplit('/').next().unwrap_or(path);
    let placeholder =
        |value: &Option<String>, what: &str| value.clone().unwrap_or_else(|| format!("<{what}>"));
    let namespace = placeholder(&context.namespace, "namespace");
    let pod = placeholder(&context.pod, "pod");
    let container = placeholder(&context.container, "container");
    let kubectl_target = format!(
        "-n {} {} -c {}",
        shell_quote(&namespace),
        shell_quote(&pod),
        shell_quote(&container)
    );
    if !judgement.needs_action {
        return match judgement.verdict {
            Verdict::Unchanged => Response {
                action: "none",
                summary: format!("{path} is the image's own binary, unchanged: nothing to rebuild"),
                steps: vec![
                    "the detector saw an image file as new, typically after a chmod/chown copied it up to the container's writable layer: remove that chmod/chown from the entrypoint or image build, or mute this finding for this image digest".to_owned(),
                ],
            },
            Verdict::Relocated => {
                let source = judgement.evidence.entries.first().map_or("<image path>", |entry| entry.path.as_str());
                Response {
                    action: "rebuild",
                    summary: format!("{path} is the image's {source}, copied at run time: bake it in at that path or stop the copy"),
                    steps: vec![
                        format!("Dockerfile: RUN cp {} {}", shell_quote(source), shell_quote(path)),
                        "or remove the runtime copy (entrypoint, init container) so the container stays immutable".to_owned(),
                        "record it in the bake list (triage --emit-bake) so the gate proves the rebuild contains it".to_owned(),
                    ],
                }
            }
            _ => {
                let sha = judgement.sha256.as_deref().unwrap_or("<sha256>");
                Response {
                    action: "rebuild",
                    summary: format!("{path} is allowlisted: rebuild the image with it baked in"),
                    steps: vec![
                        format!("Dockerfile: COPY --chmod=0755 {} {}", shell_quote(name), shell_quote(path)),
                        format!("or: ADD --checksum=sha256:{sha} --chmod=0755 <download URL> {}", shell_quote(path)),
                        "record it in the bake list (triage --emit-bake) so the gate proves the rebuild contains it".to_owned(),
                    ],
                }
            }
        };
    }
    let action = match judgement.verdict {
        Verdict::Unverifiable => "investigate",
        _ => "contain",
    };
    let summary = match (judgement.verdict, judgement.malicious) {
        (_, true) => format!(
            "{path} is flagged malicious by the detector: contain the workload and treat the image as compromised"
        ),
        (Verdict::Modified, _) => format!(
            "{path} replaced the image's binary at run time: contain, it may be a compromise"
        ),
        (Verdict::Foreign, _) => {
            format!("{path} is not from the image: contain, it may be a compromise")
        }
        (Verdict::Fileless, _) => {
            format!("{path} ran without a file on disk: contain and investigate")
        }
        _ => format!(
            "{path}: exelock could not prove it either way; investigate, and contain until you can"
        ),
    };
    let mut steps = Vec::new();
    match finding.source {
        crate::finding::Source::GuardDuty => {
            let cluster = placeholder(&context.cluster, "cluster");
            let region = placeholder(&context.region, "region");
            steps.push(format!(
                "aws eks update-kubeconfig --name {} --region {}",
                shell_quote(&cluster),
                shell_quote(&region)
            ));
            steps.push(format!("aws guardduty get-findings --region {} --detector-id <detector-id> --finding-ids {}", shell_quote(&region), shell_quote(&finding.id)));
        }
        crate::finding::Source::Scc
        | crate::finding::Source::Flags
        | crate::finding::Source::Falco => {
            if let (Some(cluster), Some(location), Some(project)) =
                (&context.cluster, &context.location, &context.project)
            {
                steps.push(format!(
                    "gcloud container clusters get-credentials {} --location {} --project {}",
                    shell_quote(cluster),
                    shell_quote(location),
                    shell_quote(project)
                ));
            } else if finding.source == crate::finding::Source::Scc {
                steps.push("gcloud container clusters get-credentials <cluster> --location <location> --project <project>".to_owned());
            }
        }
    }
    if judgement.verdict != Verdict::Fileless {
        steps.push(format!(
            "kubectl cp {}/{}:{} ./evidence/{} -c {}  # keep the binary as evidence",
            shell_quote(&namespace),
            shell_quote(&pod),
            shell_quote(path),
            shell_quote(name),
            shell_quote(&container)
        ));
        steps.push(format!(
            "kubectl exec {kubectl_target} -- sha256sum {}",
            shell_quote(path)
        ));
    } else {
        steps.push(format!("kubectl exec {kubectl_target} -- ls -l /proc/*/exe  # find the fileless process while it runs"));
    }
    steps.push(format!("kubectl exec {kubectl_target} -- ps -ef"));
    if finding.source == crate::finding::Source::Scc
        || finding.source == crate::finding::Source::Flags
    {
        let project = placeholder(&context.project, "project");
        steps.push(format!(
            "Logs Explorer (pod): resource.type=\"k8s_container\" resource.labels.namespace_name=\"{namespace}\" resource.labels.pod_name=\"{pod}\""
        ));
        steps.push(format!(
            "Logs Explorer (cluster audit log): logName=\"projects/{project}/logs/cloudaudit.googleapis.com%2Factivity\" resource.type=\"k8s_cluster\" resource.labels.cluster_name=\"{}\"",
            placeholder(&context.cluster, "cluster")
        ));
        steps.push(format!(
            "Logs Explorer (node): resource.type=\"k8s_node\" resource.labels.node_name=\"{}\"",
            placeholder(&context.node, "node")
        ));
    }
    if finding.source == crate::finding::Source::Falco {
        steps.push(format!(
            "Falco: review the events of container {} on host {} around {}",
            placeholder(&context.container_id, "container id"),
            placeholder(&context.hostname, "host"),
            finding
                .event_time
                .clone()
                .unwrap_or_else(|| "<time>".to_owned())
        ));
    }
    steps.push(format!("isolate: kubectl label pod -n {} {} quarantine=true --overwrite; cordon the node: kubectl cordon {}", shell_quote(&namespace), shell_quote(&pod), shell_quote(&placeholder(&context.node, "node"))));
    steps.push("then delete the pod so it is recreated from the image, and rotate credentials it could reach".to_owned());
    steps.push("MITRE ATT&CK: T1105 Ingress Tool Transfer, T1106 Native API".to_owned());
    if let Some(sha) = &judgement.sha256 {
        steps.push(format!(
            "VirusTotal: https://www.virustotal.com/gui/file/{sha}"
        ));
    }
    Response {
        action,
        summary,
        steps,
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::finding::{self, BinaryRole};
    use crate::manifest::{Hidden, ImageInfo, Kind, LayerInfo, PREDICATE_TYPE};

    fn exe(path: &str, content: &str) -> Executable {
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
        }
    }

    fn verified(signature_checked: bool) -> VerifiedManifest {
        VerifiedManifest {
            manifest: Manifest {
                predicate_type: PREDICATE_TYPE.into(),
                image: ImageInfo {
                    name: "reg/app".into(),
                    index_digest: None,
                    manifest_digest: Some(Sha256Digest::of(b"manifest")),
                    config_digest: Sha256Digest::of(b"config"),
                    platform: "linux/amd64".into(),
                },
                layers: vec![LayerInfo {
                    digest: Sha256Digest::of(b"layer"),
                    diff_id: Sha256Digest::of(b"diff"),
                    media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
                    size: 1,
                }],
                executables: vec![
                    exe("/usr/bin/app", "app-content"),
                    exe("/usr/lib/libx.so", "lib"),
                    exe("/usr/bin/ünï", "unicode"),
                ],
                links: vec![],
                hidden: vec![Hidden {
                    path: "/usr/bin/curl".into(),
                    path_bytes: None,
                    sha256: Sha256Digest::of(b"curl"),
                    layer: 0,
                    hidden_by: 0,
                }],
                world_writable_dirs: vec![],
            },
            signer: "key k".into(),
            origin: "test".into(),
            via_tag: None,
            signature_checked,
        }
    }

    fn finding_with(path: &str, content: Option<&str>) -> Finding {
        finding::from_flags(
            path,
            content.map(|c| Sha256Digest::of(c.as_bytes())),
            "reg/app@sha256:00",
        )
    }

    fn judge_one(
        finding: &Finding,
        manifest: &ManifestFor<'_, '_>,
        allowlist: &Allowlist,
        prefixes: &PrefixDigests,
    ) -> Judgement {
        judge(finding, &finding.binaries[0], manifest, allowlist, prefixes)
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
        let verified = verified(true);
        let index = ManifestIndex::new(&verified);
        let allowlist = Allowlist {
            entries: vec![AllowEntry {
                sha256: Sha256Digest::of(b"vendor"),
                path: None,
                source: Some("vendor".into()),
            }],
        };
        let finding = finding_with(path, content);
        let judgement = judge_one(
            &finding,
            &ManifestFor::Verified(&index),
            &allowlist,
            &PrefixDigests::new(),
        );
        assert_eq!(judgement.verdict, expected, "{judgement:?}");
        assert_eq!(judgement.needs_action, !expected.is_legitimate());
        assert!(!judgement.evidence.compared.is_empty());
        assert_eq!(
            judgement.bake.is_some(),
            matches!(expected, Verdict::Relocated | Verdict::Allowlisted)
        );
    }

    #[test]
    fn path_bound_allowlist_entries_only_match_their_path() {
        let verified = verified(true);
        let index = ManifestIndex::new(&verified);
        let allowlist = Allowlist {
            entries: vec![AllowEntry {
                sha256: Sha256Digest::of(b"vendor"),
                path: Some("/opt/agent".into()),
                source: None,
            }],
        };
        let elsewhere = finding_with("/tmp/agent", Some("vendor"));
        let judgement = judge_one(
            &elsewhere,
            &ManifestFor::Verified(&index),
            &allowlist,
            &PrefixDigests::new(),
        );
        assert_eq!(judgement.verdict, Verdict::Foreign);
    }

    #[test]
    fn no_manifest_unsigned_manifest_and_truncated_paths_are_unverifiable() {
        let finding = finding_with("/usr/bin/app", Some("app-content"));
        let none = judge_one(
            &finding,
            &ManifestFor::Unavailable("no attestation"),
            &Allowlist::default(),
            &PrefixDigests::new(),
        );
        assert_eq!(none.verdict, Verdict::Unverifiable);
        assert!(none.evidence.compared.contains("no attestation"));
        let unsigned = verified(false);
        let index = ManifestIndex::new(&unsigned);
        let judgement = judge_one(
            &finding,
            &ManifestFor::Verified(&index),
            &Allowlist::default(),
            &PrefixDigests::new(),
        );
        assert_eq!(judgement.verdict, Verdict::Unverifiable);
        assert!(
            judgement
                .evidence
                .notes
                .iter()
                .any(|n| n.contains("would be unchanged"))
        );
        // An unsigned manifest still shows a foreign binary is foreign.
        let foreign = finding_with("/tmp/evil", Some("evil"));
        assert_eq!(
            judge_one(
                &foreign,
                &ManifestFor::Verified(&index),
                &Allowlist::default(),
                &PrefixDigests::new()
            )
            .verdict,
            Verdict::Foreign
        );
        let verified = verified(true);
        let index = ManifestIndex::new(&verified);
        let mut cut = finding_with("/usr/bin/app", Some("app-content"));
        cut.binaries[0].truncated = true;
        assert_eq!(
            judge_one(
                &cut,
                &ManifestFor::Verified(&index),
                &Allowlist::default(),
                &PrefixDigests::new()
            )
            .verdict,
            Verdict::Unverifiable
        );
    }

    #[test]
    fn malicious_categories_are_never_benign() {
        let verified = verified(true);
        let index = ManifestIndex::new(&verified);
        let mut finding = finding_with("/usr/bin/app", Some("app-content"));
        finding.category = Category::BuiltInMaliciousBinary;
        finding.raw_category = "Execution: Built in Malicious Binary Executed".into();
        let judgement = judge_one(
            &finding,
            &ManifestFor::Verified(&index),
            &Allowlist::default(),
            &PrefixDigests::new(),
        );
        assert_eq!(judgement.verdict, Verdict::Unchanged);
        assert!(judgement.malicious && judgement.needs_action);
        assert!(judgement.evidence.notes[0].contains("image itself is compromised"));
        assert_eq!(response(&finding, &judgement).action, "contain");
    }

    #[test]
    fn partial_hashes_use_prefix_digests_only() {
        let verified = verified(true);
        let index = ManifestIndex::new(&verified);
        let mut finding = finding_with("/usr/bin/app", None);
        let binary = &mut finding.binaries[0];
        binary.role = BinaryRole::Library;
        binary.partially_hashed = true;
        binary.hashed_size = Some(3);
        binary.size = Some("app-content".len() as u64);
        // The whole-file digest, presented as a partial one, must not match anything.
        binary.sha256 = Some(Sha256Digest::of(b"app-content"));
        let requests = prefix_requests(&finding.binaries[0], &index);
        assert_eq!(requests, [("/usr/bin/app".to_owned(), 3)]);
        let mut prefixes = PrefixDigests::new();
        let judgement = judge_one(
            &finding,
            &ManifestFor::Verified(&index),
            &Allowlist::default(),
            &prefixes,
        );
        assert_eq!(
            judgement.verdict,
            Verdict::Unverifiable,
            "a needed prefix was missing"
        );
        prefixes.insert(("/usr/bin/app".into(), 3), Sha256Digest::of(b"app"));
        assert_eq!(
            judge_one(
                &finding,
                &ManifestFor::Verified(&index),
                &Allowlist::default(),
                &prefixes
            )
            .verdict,
            Verdict::Modified
        );
        finding.binaries[0].sha256 = Some(Sha256Digest::of(b"app"));
        let judgement = judge_one(
            &finding,
            &ManifestFor::Verified(&index),
            &Allowlist::default(),
            &prefixes,
        );
        assert_eq!(judgement.verdict, Verdict::Unchanged);
        assert_eq!(judgement.role, BinaryRole::Library);
    }

    #[test]
    fn a_build_deleted_binary_is_foreign_and_says_so() {
        let verified = verified(true);
        let index = ManifestIndex::new(&verified);
        let finding = finding_with("/usr/bin/curl", Some("curl"));
        let judgement = judge_one(
            &finding,
            &ManifestFor::Verified(&index),
            &Allowlist::default(),
            &PrefixDigests::new(),
        );
        assert_eq!(judgement.verdict, Verdict::Foreign);
        assert!(judgement.evidence.notes[0].contains("removed by layer 0 during the build"));
    }
}
