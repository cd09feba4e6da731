//! The responder's next steps, filled in from the finding: what to bake in for a legitimate
//! binary, what to run to keep and check a suspect one ([`response`], per binary), and the
//! containment playbook for the workload (SCC's, with GuardDuty and Falco equivalents:
//! [`playbook`], once per finding). Pure text building: no I/O; the verdicts are the parent
//! module's and are never changed here.

use serde::Serialize;

use super::{Judgement, Note, PackageRole, Verdict, package_label};
use crate::coded::coded_enum;
use crate::finding::{Finding, Source};
use crate::manifest::PackageDigest;

coded_enum! {
    /// What the responder should do.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum Action {
        /// Nothing: the image's own binary.
        None = "none",
        /// Rebuild the image with the binary baked in.
        Rebuild = "rebuild",
        /// Contain the workload.
        Contain = "contain",
        /// Investigate until it is proven either way; contain meanwhile.
        Investigate = "investigate",
    }
}

/// What the responder should do about one binary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// The action.
    pub action: Action,
    /// One sentence.
    pub summary: String,
    /// Commands and checks about this binary.
    pub steps: Vec<String>,
}

/// The containment steps for the workload of a finding, given once however many of its
/// binaries need action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Playbook {
    /// `contain` when any binary calls for containment, else `investigate`.
    pub action: Action,
    /// The steps, in order.
    pub steps: Vec<String>,
}

/// Quotes for a POSIX shell where needed.
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

fn placeholder(value: Option<&String>, what: &str) -> String {
    value.cloned().unwrap_or_else(|| format!("<{what}>"))
}

/// `-n NS POD -c CONTAINER`, for kubectl.
fn kubectl_target(finding: &Finding) -> String {
    let context = &finding.context;
    format!(
        "-n {} {} -c {}",
        shell_quote(&placeholder(context.namespace.as_ref(), "namespace")),
        shell_quote(&placeholder(context.pod.as_ref(), "pod")),
        shell_quote(&placeholder(context.container.as_ref(), "container"))
    )
}

/// The image's digest for the path, when the evidence knows it.
fn expected_digest(judgement: &Judgement) -> Option<String> {
    judgement.evidence.notes.iter().find_map(|note| match note {
        Note::HashToDecide { expected, .. } => Some(expected.hex()),
        _ => None,
    })
}

/// For a `modified` binary: what the image's own copy was, when its package is known.
fn image_copy(judgement: &Judgement) -> Option<String> {
    judgement.evidence.notes.iter().find_map(|note| match note {
        Note::Package {
            package: Some(package),
            digest,
            role: PackageRole::ImageCopy,
            ..
        } => match digest {
            PackageDigest::Match => Some(format!(
                " (the image's copy is {} as packaged)",
                package_label(package)
            )),
            PackageDigest::Mismatch => Some(format!(
                " (the image's copy already differed from its package {})",
                package_label(package)
            )),
            PackageDigest::None | PackageDigest::Unowned => None,
        },
        _ => None,
    })
}

/// For an `unchanged` binary whose package shipped these very bytes: `path, package (db)`.
fn packaged_unchanged(judgement: &Judgement, path: &str) -> Option<String> {
    judgement.evidence.notes.iter().find_map(|note| match note {
        Note::Package {
            package: Some(package),
            digest: PackageDigest::Match,
            role: PackageRole::Same,
            ..
        } => Some(format!("{path}, {}", package_label(package))),
        _ => None,
    })
}

/// The response to one judged binary.
#[must_use]
pub fn response(finding: &Finding, judgement: &Judgement) -> Response {
    let path = judgement.path.as_deref().unwrap_or("<path>");
    let name = path.rsplit('/').next().unwrap_or(path);
    if !judgement.needs_action {
        return legitimate_response(judgement, path, name);
    }
    let action = match judgement.verdict {
        Verdict::Unverifiable => Action::Investigate,
        _ => Action::Contain,
    };
    let summary = match (judgement.verdict, judgement.malicious) {
        (_, true) => format!(
            "{path} is flagged malicious by the detector: contain the workload and treat the image as compromised"
        ),
        (Verdict::Modified, _) => format!(
            "{path} replaced the image's binary at run time{}: contain, it may be a compromise",
            image_copy(judgement).unwrap_or_default()
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
    let target = kubectl_target(finding);
    let context = &finding.context;
    let mut steps = Vec::new();
    if judgement.path.is_none() {
        steps.push(format!(
            "kubectl exec {target} -- ps -ef  # find the process the finding is about"
        ));
    } else if judgement.verdict == Verdict::Fileless {
        steps.push(format!(
            "kubectl exec {target} -- ls -l /proc/*/exe  # find the fileless process while it runs"
        ));
    } else {
        steps.push(format!(
            "kubectl cp {}/{}:{} ./evidence/{} -c {}  # keep the binary as evidence",
            shell_quote(&placeholder(context.namespace.as_ref(), "namespace")),
            shell_quote(&placeholder(context.pod.as_ref(), "pod")),
            shell_quote(path),
            shell_quote(name),
            shell_quote(&placeholder(context.container.as_ref(), "container"))
        ));
        steps.push(match expected_digest(judgement) {
            Some(expected) => format!(
                "kubectl exec {target} -- sha256sum {}  # the image's file is {expected}: equal means the image's binary",
                shell_quote(path)
            ),
            None => format!("kubectl exec {target} -- sha256sum {}", shell_quote(path)),
        });
    }
    if let Some(sha) = judgement.sha256 {
        steps.push(format!(
            "VirusTotal: https://www.virustotal.com/gui/file/{}",
            sha.hex()
        ));
    }
    Response {
        action,
        summary,
        steps,
    }
}

fn legitimate_response(judgement: &Judgement, path: &str, name: &str) -> Response {
    match judgement.verdict {
        Verdict::Relocated => {
            let source = judgement
                .evidence
                .entries
                .first()
                .map_or("<image path>", |entry| entry.path.as_str());
            Response {
                action: Action::Rebuild,
                summary: format!(
                    "{path} is the image's {source}, copied at run time: bake it in at that path or stop the copy"
                ),
                steps: vec![
                    format!(
                        "Dockerfile: RUN cp {} {}",
                        shell_quote(source),
                        shell_quote(path)
                    ),
                    "or remove the runtime copy (entrypoint, init container) so the container stays immutable".to_owned(),
                    "record it in the bake list (triage --emit-bake) so the gate proves the rebuild contains it".to_owned(),
                ],
            }
        }
        Verdict::Allowlisted => {
            let sha = judgement
                .sha256
                .map_or_else(|| "<sha256>".to_owned(), |digest| digest.hex());
            Response {
                action: Action::Rebuild,
                summary: format!("{path} is allowlisted: rebuild the image with it baked in"),
                steps: vec![
                    format!(
                        "Dockerfile: COPY --chmod=0755 {} {}",
                        shell_quote(name),
                        shell_quote(path)
                    ),
                    format!(
                        "or: ADD --checksum=sha256:{sha} --chmod=0755 <download URL> {}",
                        shell_quote(path)
                    ),
                    "record it in the bake list (triage --emit-bake) so the gate proves the rebuild contains it".to_owned(),
                ],
            }
        }
        _ => Response {
            action: Action::None,
            summary: packaged_unchanged(judgement, path).map_or_else(
                || format!("{path} is the image's own binary, unchanged: nothing to rebuild"),
                |packaged| {
                    format!(
                        "unchanged: {packaged}, bytes as packaged: the image's own binary, nothing to rebuild"
                    )
                },
            ),
            steps: vec![
                "the detector saw an image file as new, typically after a chmod/chown copied it up to the container's writable layer: remove that chmod/chown from the entrypoint or image build, or mute this finding for this image digest".to_owned(),
            ],
        },
    }
}

/// The containment playbook for a finding, when any of its binaries needs action.
#[must_use]
pub fn playbook(finding: &Finding, judgements: &[Judgement]) -> Option<Playbook> {
    let needing: Vec<&Judgement> = judgements.iter().filter(|j| j.needs_action).collect();
    if needing.is_empty() {
        return None;
    }
    let action = if needing
        .iter()
        .any(|j| j.malicious || j.verdict != Verdict::Unverifiable)
    {
        Action::Contain
    } else {
        Action::Investigate
    };
    let context = &finding.context;
    let target = kubectl_target(finding);
    let namespace = placeholder(context.namespace.as_ref(), "namespace");
    let pod = placeholder(context.pod.as_ref(), "pod");
    let node = placeholder(context.node.as_ref(), "node");
    let mut steps = Vec::new();
    match finding.source {
        Source::GuardDuty => {
            let region = placeholder(context.region.as_ref(), "region");
            steps.push(format!(
                "aws eks update-kubeconfig --name {} --region {}",
                shell_quote(&placeholder(context.cluster.as_ref(), "cluster")),
                shell_quote(&region)
            ));
            steps.push(format!(
                "aws guardduty get-findings --region {} --detector-id {} --finding-ids {}",
                shell_quote(&region),
                shell_quote(&placeholder(context.detector.as_ref(), "detector-id")),
                shell_quote(&finding.id)
            ));
        }
        Source::Scc | Source::Flags | Source::Falco => {
            if let (Some(cluster), Some(location), Some(project)) =
                (&context.cluster, &context.location, &context.project)
            {
                steps.push(format!(
                    "gcloud container clusters get-credentials {} --location {} --project {}",
                    shell_quote(cluster),
                    shell_quote(location),
                    shell_quote(project)
                ));
            } else if finding.source == Source::Scc {
                steps.push("gcloud container clusters get-credentials <cluster> --location <location> --project <project>".to_owned());
            }
        }
    }
    steps.push(format!("kubectl exec {target} -- ps -ef"));
    if matches!(finding.source, Source::Scc | Source::Flags) {
        let project = placeholder(context.project.as_ref(), "project");
        steps.push(format!(
            "Logs Explorer (pod): resource.type=\"k8s_container\" resource.labels.namespace_name=\"{namespace}\" resource.labels.pod_name=\"{pod}\""
        ));
        steps.push(format!(
            "Logs Explorer (cluster audit log): logName=\"projects/{project}/logs/cloudaudit.googleapis.com%2Factivity\" resource.type=\"k8s_cluster\" resource.labels.cluster_name=\"{}\"",
            placeholder(context.cluster.as_ref(), "cluster")
        ));
        steps.push(format!(
            "Logs Explorer (node): resource.type=\"k8s_node\" resource.labels.node_name=\"{node}\""
        ));
    }
    if finding.source == Source::Falco {
        steps.push(format!(
            "Falco: review the events of container {} on host {} around {}",
            placeholder(context.container_id.as_ref(), "container id"),
            placeholder(context.hostname.as_ref(), "host"),
            finding.event_time.as_deref().unwrap_or("<time>")
        ));
    }
    steps.push(format!(
        "isolate: kubectl label pod -n {} {} quarantine=true --overwrite; cordon the node: kubectl cordon {}",
        shell_quote(&namespace),
        shell_quote(&pod),
        shell_quote(&node)
    ));
    steps.push(
        "then delete the pod so it is recreated from the image, and rotate credentials it could reach"
            .to_owned(),
    );
    steps.push("MITRE ATT&CK: T1105 Ingress Tool Transfer, T1106 Native API".to_owned());
    Some(Playbook { action, steps })
}
