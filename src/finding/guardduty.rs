//! AWS GuardDuty Runtime Monitoring findings → [`Finding`].
//!
//! Schema: the `Finding`, `Resource`, `Container`, `ProcessDetails`, `LineageObject`,
//! `RuntimeContext`, `KubernetesWorkloadDetails` and `EcsTaskDetails` shapes of
//! `botocore/data/guardduty/2017-11-28/service-2.json`
//! (<https://github.com/boto/botocore/blob/develop/botocore/data/guardduty/2017-11-28/service-2.json>);
//! `docs/findings.md` maps their fields. The wire names are camelCase
//! (EventBridge `detail`); boto3 and `aws guardduty get-findings` print the member names,
//! which are the same words in PascalCase. Both spellings are read.
//!
//! Mapping choices:
//!
//! - `runtimeDetails.process` is the [`BinaryRole::Process`] (its `executableSha256` is
//!   optional); `context.libraryPath` a [`BinaryRole::Library`] and `context.scriptPath` a
//!   [`BinaryRole::Script`], both without hash; `context.modifyingProcess` (who wrote the
//!   file) a [`BinaryRole::ModifyingProcess`]; each `process.lineage[]` entry with an
//!   executable path a [`BinaryRole::Parent`] when its `uuid` is the process's `parentUuid`,
//!   else a [`BinaryRole::Ancestor`].
//! - The image is `resource.containerDetails.image` (the runtime process's own container).
//!   Without it, the `containers[]` entries of the Kubernetes workload and the ECS task are
//!   candidates: those matching `containerDetails.id`, else `containerDetails.name`, else all
//!   of them. Exactly one image among them is the answer; several make the image unknown,
//!   with [`ImageRef::ambiguity`] saying why. `imagePrefix` is not joined: the API documents
//!   it as the part of `image` before the last slash, so `image` is already complete (a
//!   short name such as `nginx:1.25` means Docker Hub). A digest is present only when the
//!   deployed reference has `@sha256:`.
//! - The node is the private DNS name of `resource.instanceDetails.networkInterfaces[]`
//!   (what EKS names a node after), when they give exactly one; the EC2 instance id goes to
//!   `context.instance_id`, never to `context.node` (`kubectl cordon` cannot take it).
//! - Severity is GuardDuty's number mapped to its band: below 4 `LOW`, below 7 `MEDIUM`,
//!   below 9 `HIGH`, else `CRITICAL`.
//! - Event time is `service.eventLastSeen` (GuardDuty shows the latest process of an
//!   aggregated finding), then `eventFirstSeen`, `updatedAt`, `createdAt`, and the
//!   EventBridge `time`. Timestamps inside `runtimeDetails` (epoch numbers on the wire) are
//!   not read.
//!
//! This module only reads JSON text it is given: no I/O, no manifest.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::field::Seg::{Index, Key};
use super::field::{At as _, Case, FieldError, List, Obj, RawObject, Scalar, Seg};
use super::{
    Binary, BinaryRole, Category, ChosenContainer, ContainerEntry, ContainerSelector, Context,
    EntryImage, Error, Finding, ImageBuilder, ImageRef, MAX_PROCESSES, Problem, Source,
    choose_container, context_text, finish, node_name, owned, parse_sha256, reference_digest,
};

/// Maps a GuardDuty finding type by its threat family name.
pub(super) fn category(raw: &str) -> Category {
    let family = raw.rsplit_once('/').map_or(raw, |(_, family)| family);
    let family = family.split(['.', '!']).next().unwrap_or(family).trim();
    if family.eq_ignore_ascii_case("NewBinaryExecuted") {
        Category::AddedBinary
    } else if family.eq_ignore_ascii_case("NewLibraryLoaded") {
        Category::AddedLibrary
    } else if family.eq_ignore_ascii_case("FilelessExecution") {
        Category::Fileless
    } else {
        Category::Other(owned(raw.trim()))
    }
}

/// GuardDuty's severity bands.
pub(super) fn severity_band(severity: f64) -> &'static str {
    if severity < 4.0 {
        "LOW"
    } else if severity < 7.0 {
        "MEDIUM"
    } else if severity < 9.0 {
        "HIGH"
    } else {
        "CRITICAL"
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct GdFinding<'a> {
    #[serde(borrow, alias = "AccountId")]
    account_id: Scalar<'a>,
    #[serde(borrow, alias = "Arn")]
    arn: Scalar<'a>,
    #[serde(borrow, alias = "Id")]
    id: Scalar<'a>,
    #[serde(borrow, alias = "Region")]
    region: Scalar<'a>,
    #[serde(borrow, rename = "type", alias = "Type")]
    kind: Scalar<'a>,
    #[serde(borrow, alias = "Severity")]
    severity: Scalar<'a>,
    #[serde(borrow, alias = "CreatedAt")]
    created_at: Scalar<'a>,
    #[serde(borrow, alias = "UpdatedAt")]
    updated_at: Scalar<'a>,
    #[serde(borrow, alias = "Resource")]
    resource: Obj<GdResource<'a>>,
    #[serde(borrow, alias = "Service")]
    service: Obj<Service<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Service<'a> {
    #[serde(borrow, alias = "FeatureName")]
    feature_name: Scalar<'a>,
    #[serde(borrow, alias = "EventFirstSeen")]
    event_first_seen: Scalar<'a>,
    #[serde(borrow, alias = "EventLastSeen")]
    event_last_seen: Scalar<'a>,
    #[serde(borrow, alias = "RuntimeDetails")]
    runtime_details: Obj<RuntimeDetails<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct RuntimeDetails<'a> {
    #[serde(borrow, alias = "Process")]
    process: Obj<ProcessDetails<'a>>,
    #[serde(borrow, alias = "Context")]
    context: Obj<RuntimeContext<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ProcessDetails<'a> {
    #[serde(borrow, alias = "ExecutablePath")]
    executable_path: Scalar<'a>,
    #[serde(borrow, alias = "ExecutableSha256")]
    executable_sha256: Scalar<'a>,
    #[serde(borrow, alias = "Pid")]
    pid: Scalar<'a>,
    #[serde(borrow, alias = "ParentUuid")]
    parent_uuid: Scalar<'a>,
    #[serde(borrow, alias = "User")]
    user: Scalar<'a>,
    #[serde(borrow, alias = "Lineage")]
    lineage: List<Obj<Lineage<'a>>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Lineage<'a> {
    #[serde(borrow, alias = "ExecutablePath")]
    executable_path: Scalar<'a>,
    #[serde(borrow, alias = "Pid")]
    pid: Scalar<'a>,
    #[serde(borrow, alias = "Uuid")]
    uuid: Scalar<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct RuntimeContext<'a> {
    #[serde(borrow, alias = "ModifyingProcess")]
    modifying_process: Obj<ProcessDetails<'a>>,
    #[serde(borrow, alias = "LibraryPath")]
    library_path: Scalar<'a>,
    #[serde(borrow, alias = "ScriptPath")]
    script_path: Scalar<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct GdResource<'a> {
    #[serde(borrow, alias = "EksClusterDetails")]
    eks_cluster_details: Obj<Cluster<'a>>,
    #[serde(borrow, alias = "EcsClusterDetails")]
    ecs_cluster_details: Obj<EcsCluster<'a>>,
    #[serde(borrow, alias = "KubernetesDetails")]
    kubernetes_details: Obj<KubernetesDetails<'a>>,
    #[serde(borrow, alias = "ContainerDetails")]
    container_details: Obj<Container<'a>>,
    #[serde(borrow, alias = "InstanceDetails")]
    instance_details: Obj<InstanceDetails<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Cluster<'a> {
    #[serde(borrow, alias = "Name")]
    name: Scalar<'a>,
    #[serde(borrow, alias = "Arn")]
    arn: Scalar<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct EcsCluster<'a> {
    #[serde(borrow, alias = "Name")]
    name: Scalar<'a>,
    #[serde(borrow, alias = "Arn")]
    arn: Scalar<'a>,
    #[serde(borrow, alias = "TaskDetails")]
    task_details: Obj<TaskDetails<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct TaskDetails<'a> {
    #[serde(borrow, alias = "Arn")]
    arn: Scalar<'a>,
    #[serde(borrow, alias = "Containers")]
    containers: List<Obj<Container<'a>>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct KubernetesDetails<'a> {
    #[serde(borrow, alias = "KubernetesWorkloadDetails")]
    kubernetes_workload_details: Obj<Workload<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Workload<'a> {
    #[serde(borrow, alias = "Name")]
    name: Scalar<'a>,
    #[serde(borrow, rename = "type", alias = "Type")]
    kind: Scalar<'a>,
    #[serde(borrow, alias = "Namespace")]
    namespace: Scalar<'a>,
    #[serde(borrow, alias = "Containers")]
    containers: List<Obj<Container<'a>>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Container<'a> {
    #[serde(borrow, alias = "Id")]
    id: Scalar<'a>,
    #[serde(borrow, alias = "Name")]
    name: Scalar<'a>,
    #[serde(borrow, alias = "Image")]
    image: Scalar<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct InstanceDetails<'a> {
    #[serde(borrow, alias = "InstanceId")]
    instance_id: Scalar<'a>,
    #[serde(borrow, alias = "NetworkInterfaces")]
    network_interfaces: List<Obj<NetworkInterface<'a>>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct NetworkInterface<'a> {
    #[serde(borrow, alias = "PrivateDnsName")]
    private_dns_name: Scalar<'a>,
}

/// The EventBridge envelope's own fields, used where `detail` lacks them.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Envelope<'a> {
    #[serde(borrow)]
    account: Scalar<'a>,
    #[serde(borrow)]
    region: Scalar<'a>,
    #[serde(borrow)]
    time: Scalar<'a>,
}

/// Reads a GuardDuty document: `{"Findings": […]}`, an EventBridge event, or a bare finding.
pub(super) fn parse(
    object: &RawObject<'_>,
    json: &str,
    label: &str,
    out: &mut Vec<Result<Finding, Error>>,
) {
    if let Some(findings) = object.get("Findings") {
        match serde_json::from_str::<List<&RawValue>>(findings.get()) {
            Ok(list) => match list.get() {
                Ok(findings) => {
                    for (index, finding) in findings.iter().enumerate() {
                        let label = format!("{label}#{index}");
                        out.push(if finding.get().starts_with('{') {
                            read(finding.get(), None, &label)
                        } else {
                            Err(Error::NotAnObject {
                                got: super::json_kind(finding.get()),
                                document: label,
                            })
                        });
                    }
                }
                Err(problem) => out.push(Err(Error::field(
                    label,
                    Source::GuardDuty,
                    Case::Pascal,
                    &FieldError::new(problem).prefixed(&[Seg::Raw("Findings")]),
                ))),
            },
            Err(source) => out.push(Err(Error::Malformed {
                document: label.to_owned(),
                vendor: Source::GuardDuty,
                source,
            })),
        }
    } else if let Some(detail) = object.get("detail") {
        out.push(read(detail.get(), Some(json), label));
    } else {
        out.push(read(json, None, label));
    }
}

/// One finding; `envelope` is the EventBridge event around it, whose paths start `detail.`.
fn read(json: &str, envelope: Option<&str>, label: &str) -> Result<Finding, Error> {
    let malformed = |source| Error::Malformed {
        document: label.to_owned(),
        vendor: Source::GuardDuty,
        source,
    };
    let finding = serde_json::from_str::<Obj<GdFinding<'_>>>(json).map_err(malformed)?;
    let envelope = envelope
        .map(serde_json::from_str::<Envelope<'_>>)
        .transpose()
        .map_err(malformed)?;
    let result = match finding.get() {
        Ok(Some(finding)) => convert(finding, envelope.as_ref(), label),
        Ok(None) => Err(FieldError::new(Problem::Missing)),
        Err(problem) => Err(FieldError::new(problem)),
    };
    let result = if envelope.is_some() {
        result.at(Seg::Raw("detail"))
    } else {
        result
    };
    result.map_err(|error| Error::field(label, Source::GuardDuty, case_of(json), &error))
}

/// PascalCase when the finding's own keys are (the CLI and boto3 form).
fn case_of(json: &str) -> Case {
    match serde_json::from_str::<RawObject<'_>>(json) {
        Ok(object)
            if [
                "Type",
                "Id",
                "Service",
                "Resource",
                "SchemaVersion",
                "AccountId",
            ]
            .iter()
            .any(|key| object.has(key)) =>
        {
            Case::Pascal
        }
        _ => Case::Camel,
    }
}

fn convert(
    finding: &GdFinding<'_>,
    envelope: Option<&Envelope<'_>>,
    label: &str,
) -> Result<Finding, FieldError> {
    let raw_category = finding
        .kind
        .text()
        .key("type")?
        .ok_or(Problem::Missing)
        .key("type")?;
    let id = match finding.id.text().key("id")? {
        Some(id) => id,
        None => finding.arn.text().key("arn")?.unwrap_or(label),
    };
    let severity = finding
        .severity
        .number()
        .key("severity")?
        .map(|severity| severity_band(severity).to_owned());
    let service = finding.service.get().key("service")?;

    let mut event_time = None;
    let mut detector = None;
    let mut runtime = None;
    if let Some(service) = service {
        event_time = match service
            .event_last_seen
            .text()
            .within(&[Key("service"), Key("eventLastSeen")])?
        {
            Some(time) => Some(time),
            None => service
                .event_first_seen
                .text()
                .within(&[Key("service"), Key("eventFirstSeen")])?,
        };
        detector = service
            .feature_name
            .text()
            .within(&[Key("service"), Key("featureName")])?;
        runtime = service
            .runtime_details
            .get()
            .key("runtimeDetails")
            .key("service")?;
    }
    if event_time.is_none() {
        event_time = match finding.updated_at.text().key("updatedAt")? {
            Some(time) => Some(time),
            None => finding.created_at.text().key("createdAt")?,
        };
    }
    if event_time.is_none() {
        // The envelope is only a fallback: a value of the wrong type there is ignored.
        event_time = envelope.and_then(|envelope| envelope.time.text_or_none());
    }

    let (binaries, user) = match runtime {
        Some(runtime) => binaries(runtime).key("runtimeDetails").key("service")?,
        None => (Vec::new(), None),
    };

    let resource = finding.resource.get().key("resource")?;
    let (image, mut context) = match resource {
        Some(resource) => resource_context(resource).key("resource")?,
        None => (ImageRef::default(), Context::default()),
    };
    context.account = context_text(match finding.account_id.text().key("accountId")? {
        Some(account) => Some(account),
        None => envelope.and_then(|envelope| envelope.account.text_or_none()),
    });
    context.region = context_text(match finding.region.text().key("region")? {
        Some(region) => Some(region),
        None => envelope.and_then(|envelope| envelope.region.text_or_none()),
    });
    context.detector = context_text(detector);
    context.user = context_text(user);

    Ok(finish(Finding {
        source: Source::GuardDuty,
        document: label.to_owned(),
        id: owned(id),
        category: category(raw_category),
        raw_category: owned(raw_category),
        severity,
        event_time: event_time.map(owned),
        image,
        binaries,
        context,
    }))
}

/// The process, its lineage, and the files of its runtime context; and the process user.
fn binaries<'r>(
    runtime: &'r RuntimeDetails<'_>,
) -> Result<(Vec<Binary>, Option<&'r str>), FieldError> {
    let mut binaries = Vec::new();
    let mut user = None;
    let mut pid = None;
    if let Some(process) = runtime.process.get().key("process")? {
        let (binary, parent_uuid) = process_binary(process, BinaryRole::Process).key("process")?;
        user = process.user.text().within(&[Key("process"), Key("user")])?;
        pid = binary.as_ref().and_then(|binary| binary.pid);
        binaries.extend(binary);
        let lineage = process
            .lineage
            .get()
            .within(&[Key("process"), Key("lineage")])?;
        if process.lineage.overflow || lineage.len() > MAX_PROCESSES {
            return Err(Problem::TooMany {
                limit: MAX_PROCESSES,
            })
            .within(&[Key("process"), Key("lineage")]);
        }
        for (index, entry) in lineage.iter().enumerate() {
            let here = [Key("process"), Key("lineage"), Index(index)];
            let Some(entry) = entry.get().within(&here)? else {
                continue;
            };
            let Some(path) = entry
                .executable_path
                .text()
                .key("executablePath")
                .within(&here)?
            else {
                continue;
            };
            let uuid = entry.uuid.text().key("uuid").within(&here)?;
            let role = if uuid.is_some() && uuid == parent_uuid {
                BinaryRole::Parent
            } else {
                BinaryRole::Ancestor
            };
            let mut binary = Binary::new(role, Some(path));
            binary.pid = entry.pid.int().key("pid").within(&here)?;
            binaries.push(binary);
        }
    }
    if let Some(context) = runtime.context.get().key("context")? {
        if let Some(path) = context
            .library_path
            .text()
            .within(&[Key("context"), Key("libraryPath")])?
        {
            let mut library = Binary::new(BinaryRole::Library, Some(path));
            library.pid = pid;
            binaries.push(library);
        }
        if let Some(path) = context
            .script_path
            .text()
            .within(&[Key("context"), Key("scriptPath")])?
        {
            let mut script = Binary::new(BinaryRole::Script, Some(path));
            script.pid = pid;
            binaries.push(script);
        }
        let here = [Key("context"), Key("modifyingProcess")];
        if let Some(modifier) = context.modifying_process.get().within(&here)? {
            let (binary, _) =
                process_binary(modifier, BinaryRole::ModifyingProcess).within(&here)?;
            binaries.extend(binary);
        }
    }
    Ok((binaries, user))
}

/// A `ProcessDetails` as a [`Binary`] (`None` without path and hash), and its `parentUuid`.
fn process_binary<'p>(
    process: &'p ProcessDetails<'_>,
    role: BinaryRole,
) -> Result<(Option<Binary>, Option<&'p str>), FieldError> {
    let path = process.executable_path.text().key("executablePath")?;
    let sha256 = process
        .executable_sha256
        .text()
        .key("executableSha256")?
        .map(parse_sha256)
        .transpose()
        .key("executableSha256")?;
    let parent_uuid = process.parent_uuid.text().key("parentUuid")?;
    let pid = process.pid.int().key("pid")?;
    if path.is_none() && sha256.is_none() {
        return Ok((None, parent_uuid));
    }
    let mut binary = Binary::new(role, path);
    binary.sha256 = sha256;
    binary.pid = pid;
    Ok((Some(binary), parent_uuid))
}

/// The image and the context that `resource` gives.
fn resource_context(resource: &GdResource<'_>) -> Result<(ImageRef, Context), FieldError> {
    let mut context = Context::default();

    // The runtime process's own container.
    let (mut container_id, mut container_name, mut own_image) = (None, None, None);
    if let Some(container) = resource.container_details.get().key("containerDetails")? {
        let here = [Key("containerDetails")];
        container_id = container.id.text().key("id").within(&here)?;
        container_name = container.name.text().key("name").within(&here)?;
        own_image = container.image.text().key("image").within(&here)?;
    }

    if let Some(eks) = resource
        .eks_cluster_details
        .get()
        .key("eksClusterDetails")?
    {
        let here = [Key("eksClusterDetails")];
        context.cluster = context_text(eks.name.text().key("name").within(&here)?);
        context.resource_name = context_text(eks.arn.text().key("arn").within(&here)?);
    }

    // The containers of the task or the workload: candidates when `containerDetails` names
    // no image.
    let mut candidates = Vec::new();
    if let Some(ecs) = resource
        .ecs_cluster_details
        .get()
        .key("ecsClusterDetails")?
    {
        let here = [Key("ecsClusterDetails")];
        context.cluster = context_text(ecs.name.text().key("name").within(&here)?);
        let cluster_arn = ecs.arn.text().key("arn").within(&here)?;
        let mut task_arn = None;
        if let Some(task) = ecs.task_details.get().key("taskDetails").within(&here)? {
            let here = [Key("ecsClusterDetails"), Key("taskDetails")];
            task_arn = task.arn.text().key("arn").within(&here)?;
            let containers = task.containers.get().key("containers").within(&here)?;
            read_candidates(containers, &mut candidates)
                .key("containers")
                .within(&here)?;
        }
        context.resource_name = context_text(task_arn.or(cluster_arn));
    }
    let here = [Key("kubernetesDetails"), Key("kubernetesWorkloadDetails")];
    if let Some(kubernetes) = resource.kubernetes_details.get().key("kubernetesDetails")?
        && let Some(workload) = kubernetes.kubernetes_workload_details.get().within(&here)?
    {
        let name = workload.name.text().key("name").within(&here)?;
        let kind = workload.kind.text().key("type").within(&here)?;
        context.namespace = context_text(workload.namespace.text().key("namespace").within(&here)?);
        if kind.is_none_or(|kind| {
            kind.eq_ignore_ascii_case("pods") || kind.eq_ignore_ascii_case("pod")
        }) {
            context.pod = context_text(name);
        } else {
            context.workload = context_text(name);
            context.workload_kind = context_text(kind);
        }
        let containers = workload.containers.get().key("containers").within(&here)?;
        read_candidates(containers, &mut candidates)
            .key("containers")
            .within(&here)?;
    }

    if let Some(instance) = resource.instance_details.get().key("instanceDetails")? {
        let here = [Key("instanceDetails")];
        context.instance_id = context_text(
            instance
                .instance_id
                .text()
                .key("instanceId")
                .within(&here)?,
        );
        context.node = node(instance).within(&here)?.map(str::to_owned);
    }

    let image = if let Some(reference) = own_image {
        let mut image = ImageBuilder::default();
        image.reference(reference);
        if let Some(digest) =
            reference_digest(reference).within(&[Key("containerDetails"), Key("image")])?
        {
            image.digest(digest);
        }
        image.finish()
    } else {
        let chosen = choose(&candidates, container_id, container_name);
        container_name = container_name.or(chosen.as_ref().and_then(|chosen| chosen.name));
        chosen.map(|chosen| chosen.image).unwrap_or_default()
    };
    context.container = context_text(container_name);
    context.container_id = context_text(container_id);
    Ok((image, context))
}

/// The Kubernetes node name: the instance's private DNS name (what EKS names nodes after),
/// when its network interfaces give exactly one.
fn node<'i>(instance: &'i InstanceDetails<'_>) -> Result<Option<&'i str>, FieldError> {
    let interfaces = instance.network_interfaces.get().key("networkInterfaces")?;
    let mut names = Vec::new();
    for (index, interface) in interfaces.iter().enumerate() {
        let here = [Key("networkInterfaces"), Index(index)];
        if let Some(interface) = interface.get().within(&here)?
            && let Some(name) = interface
                .private_dns_name
                .text()
                .key("privateDnsName")
                .within(&here)?
            && !names.contains(&name)
        {
            names.push(name);
        }
    }
    // Secondary interfaces (the VPC CNI attaches some) have names of their own, and nothing
    // in the finding says which interface is the primary one: several names are no name.
    Ok(match names[..] {
        [only] => node_name(only),
        _ => None,
    })
}

/// A task's or workload's container, with its id.
struct Candidate<'c> {
    id: Option<&'c str>,
    entry: ContainerEntry<'c>,
}

/// Reads `containers[]`; a malformed digest in an image is an error.
fn read_candidates<'c>(
    containers: &'c [Obj<Container<'_>>],
    out: &mut Vec<Candidate<'c>>,
) -> Result<(), FieldError> {
    for (index, container) in containers.iter().enumerate() {
        let Some(container) = container.get().index(index)? else {
            continue;
        };
        let image = container.image.text().key("image").index(index)?;
        let image = match image {
            Some(reference) => Some(EntryImage {
                reference: Some(reference),
                digests: reference_digest(reference)
                    .key("image")
                    .index(index)?
                    .into_iter()
                    .collect(),
            }),
            None => None,
        };
        out.push(Candidate {
            id: container.id.text().key("id").index(index)?,
            entry: ContainerEntry {
                name: container.name.text().key("name").index(index)?,
                image,
            },
        });
    }
    Ok(())
}

/// The candidate the runtime container is: by `containerDetails.id`, else by its name, else
/// the only image among all candidates (see [`choose_container`]).
fn choose<'c>(
    candidates: &[Candidate<'c>],
    id: Option<&str>,
    name: Option<&str>,
) -> Option<ChosenContainer<'c>> {
    let entries = |key: &dyn Fn(&Candidate<'c>) -> bool| -> Vec<&ContainerEntry<'c>> {
        candidates
            .iter()
            .filter(|candidate| key(candidate))
            .map(|candidate| &candidate.entry)
            .collect()
    };
    let by_id = entries(&|candidate| id.is_some() && candidate.id == id);
    let by_name = entries(&|candidate| name.is_some() && candidate.entry.name == name);
    let (pool, selector) = match (id, name) {
        (Some(value), _) if !by_id.is_empty() => (
            by_id,
            ContainerSelector::Named {
                field: "containerDetails.id",
                value,
                matched: true,
            },
        ),
        (_, Some(value)) if !by_name.is_empty() => (
            by_name,
            ContainerSelector::Named {
                field: "containerDetails.name",
                value,
                matched: true,
            },
        ),
        (_, Some(value)) => (
            entries(&|_| true),
            ContainerSelector::Named {
                field: "containerDetails.name",
                value,
                matched: false,
            },
        ),
        (Some(value), None) => (
            entries(&|_| true),
            ContainerSelector::Named {
                field: "containerDetails.id",
                value,
                matched: false,
            },
        ),
        (None, None) => (
            entries(&|_| true),
            ContainerSelector::Nothing {
                fields: "containerDetails id or name",
            },
        ),
    };
    choose_container(&pool, selector, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::binary("Execution:Runtime/NewBinaryExecuted", Category::AddedBinary)]
    #[case::library("Execution:Runtime/NewLibraryLoaded", Category::AddedLibrary)]
    #[case::fileless("DefenseEvasion:Runtime/FilelessExecution", Category::Fileless)]
    #[case::case_insensitive("execution:runtime/newbinaryexecuted", Category::AddedBinary)]
    #[case::with_mechanism(
        "Execution:Runtime/NewBinaryExecuted.Custom!Artifact",
        Category::AddedBinary
    )]
    #[case::family_only("NewBinaryExecuted", Category::AddedBinary)]
    #[case::other("Execution:Runtime/ReverseShell", Category::Other("Execution:Runtime/ReverseShell".to_owned()))]
    fn guardduty_categories(#[case] raw: &str, #[case] expected: Category) {
        assert_eq!(category(raw), expected);
    }

    #[rstest]
    #[case(1.0, "LOW")]
    #[case(3.9, "LOW")]
    #[case(4.0, "MEDIUM")]
    #[case(5.0, "MEDIUM")]
    #[case(6.9, "MEDIUM")]
    #[case(7.0, "HIGH")]
    #[case(8.9, "HIGH")]
    #[case(9.0, "CRITICAL")]
    #[case(10.0, "CRITICAL")]
    fn severity_bands(#[case] severity: f64, #[case] expected: &str) {
        assert_eq!(severity_band(severity), expected);
    }
}
