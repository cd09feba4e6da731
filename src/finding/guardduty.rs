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

use super::field::{At, Case, FieldError, Items, List, Obj, RawObject, Scalar, Seg, wire_object};
use super::{
    Binary, BinaryRole, CaseTable, Category, ChosenContainer, ContainerEntry, ContainerSelector,
    Context, EntryImage, Error, Finding, ImageBuilder, ImageRef, MAX_PROCESSES, Problem, Source,
    category_in, choose_container, context_text, finish, node_name, owned, parse_sha256,
    reference_digest,
};

/// GuardDuty's threat families (the part of a finding type after `/`).
static CATEGORIES: [(&str, Category); 3] = [
    ("NewBinaryExecuted", Category::AddedBinary),
    ("NewLibraryLoaded", Category::AddedLibrary),
    ("FilelessExecution", Category::Fileless),
];

/// Maps a GuardDuty finding type by its threat family name.
pub(super) fn category(raw: &str) -> Category {
    let family = raw.rsplit_once('/').map_or(raw, |(_, family)| family);
    let family = family.split(['.', '!']).next().unwrap_or(family).trim();
    category_in(&CATEGORIES, family, raw)
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

wire_object! {
    /// A `Finding` (the fields read).
    struct GdFinding<'a>: CamelOrPascal {
        account_id: Scalar<'a> = "accountId",
        arn: Scalar<'a> = "arn",
        id: Scalar<'a> = "id",
        region: Scalar<'a> = "region",
        kind: Scalar<'a> = "type",
        severity: Scalar<'a> = "severity",
        created_at: Scalar<'a> = "createdAt",
        updated_at: Scalar<'a> = "updatedAt",
        resource: Obj<GdResource<'a>> = "resource",
        service: Obj<Service<'a>> = "service",
    }
}

wire_object! {
    /// `Service`.
    struct Service<'a>: CamelOrPascal {
        feature_name: Scalar<'a> = "featureName",
        event_first_seen: Scalar<'a> = "eventFirstSeen",
        event_last_seen: Scalar<'a> = "eventLastSeen",
        runtime_details: Obj<RuntimeDetails<'a>> = "runtimeDetails",
    }
}

wire_object! {
    /// `RuntimeDetails`.
    struct RuntimeDetails<'a>: CamelOrPascal {
        process: Obj<ProcessDetails<'a>> = "process",
        context: Obj<RuntimeContext<'a>> = "context",
    }
}

wire_object! {
    /// `ProcessDetails`.
    struct ProcessDetails<'a>: CamelOrPascal {
        executable_path: Scalar<'a> = "executablePath",
        executable_sha256: Scalar<'a> = "executableSha256",
        pid: Scalar<'a> = "pid",
        parent_uuid: Scalar<'a> = "parentUuid",
        user: Scalar<'a> = "user",
        lineage: List<Obj<Lineage<'a>>> = "lineage",
    }
}

wire_object! {
    /// `LineageObject`.
    struct Lineage<'a>: CamelOrPascal {
        executable_path: Scalar<'a> = "executablePath",
        pid: Scalar<'a> = "pid",
        uuid: Scalar<'a> = "uuid",
    }
}

wire_object! {
    /// `RuntimeContext`.
    struct RuntimeContext<'a>: CamelOrPascal {
        modifying_process: Obj<ProcessDetails<'a>> = "modifyingProcess",
        library_path: Scalar<'a> = "libraryPath",
        script_path: Scalar<'a> = "scriptPath",
    }
}

wire_object! {
    /// `Resource`.
    struct GdResource<'a>: CamelOrPascal {
        eks_cluster_details: Obj<Cluster<'a>> = "eksClusterDetails",
        ecs_cluster_details: Obj<EcsCluster<'a>> = "ecsClusterDetails",
        kubernetes_details: Obj<KubernetesDetails<'a>> = "kubernetesDetails",
        container_details: Obj<Container<'a>> = "containerDetails",
        instance_details: Obj<InstanceDetails<'a>> = "instanceDetails",
    }
}

wire_object! {
    /// `EksClusterDetails`.
    struct Cluster<'a>: CamelOrPascal {
        name: Scalar<'a> = "name",
        arn: Scalar<'a> = "arn",
    }
}

wire_object! {
    /// `EcsClusterDetails`.
    struct EcsCluster<'a>: CamelOrPascal {
        name: Scalar<'a> = "name",
        arn: Scalar<'a> = "arn",
        task_details: Obj<TaskDetails<'a>> = "taskDetails",
    }
}

wire_object! {
    /// `EcsTaskDetails`.
    struct TaskDetails<'a>: CamelOrPascal {
        arn: Scalar<'a> = "arn",
        containers: List<Obj<Container<'a>>> = "containers",
    }
}

wire_object! {
    /// `KubernetesDetails`.
    struct KubernetesDetails<'a>: CamelOrPascal {
        kubernetes_workload_details: Obj<Workload<'a>> = "kubernetesWorkloadDetails",
    }
}

wire_object! {
    /// `KubernetesWorkloadDetails`.
    struct Workload<'a>: CamelOrPascal {
        name: Scalar<'a> = "name",
        kind: Scalar<'a> = "type",
        namespace: Scalar<'a> = "namespace",
        containers: List<Obj<Container<'a>>> = "containers",
    }
}

wire_object! {
    /// `Container`.
    struct Container<'a>: CamelOrPascal {
        id: Scalar<'a> = "id",
        name: Scalar<'a> = "name",
        image: Scalar<'a> = "image",
    }
}

wire_object! {
    /// `InstanceDetails`.
    struct InstanceDetails<'a>: CamelOrPascal {
        instance_id: Scalar<'a> = "instanceId",
        network_interfaces: List<Obj<NetworkInterface<'a>>> = "networkInterfaces",
    }
}

wire_object! {
    /// `NetworkInterface`.
    struct NetworkInterface<'a>: CamelOrPascal {
        private_dns_name: Scalar<'a> = "privateDnsName",
    }
}

wire_object! {
    /// The EventBridge envelope's own fields, used where `detail` lacks them.
    struct Envelope<'a>: Exact {
        account: Scalar<'a> = "account",
        region: Scalar<'a> = "region",
        time: Scalar<'a> = "time",
    }
}

/// The key of the findings of `aws guardduty get-findings`.
const FINDINGS: &str = "Findings";
/// The key of the finding in an EventBridge event.
const DETAIL: &str = "detail";

/// GuardDuty's case table: PascalCase when the finding's own keys are (the CLI and boto3
/// form).
const PASCAL_CASE: CaseTable = CaseTable {
    case: Case::Pascal,
    keys: &[
        "Type",
        "Id",
        "Service",
        "Resource",
        "SchemaVersion",
        "AccountId",
    ],
};

/// Whether `object` is one of GuardDuty's envelopes: a `get-findings` page or an EventBridge
/// event (`detail` with the event's `detail-type`, or its `source`).
pub(super) fn is_envelope(object: &RawObject<'_>) -> bool {
    object.has(FINDINGS)
        || (object.has(DETAIL)
            && (object.has("detail-type")
                || object
                    .get("source")
                    .is_some_and(|source| source.get() == "\"aws.guardduty\"")))
}

/// Reads a GuardDuty document: `{"Findings": […]}`, an EventBridge event, or a bare finding.
pub(super) fn parse(
    object: &RawObject<'_>,
    json: &str,
    label: &str,
    out: &mut Vec<Result<Finding, Error>>,
) {
    if let Some(findings) = object.get(FINDINGS) {
        super::listed_findings(
            findings,
            FINDINGS,
            Source::GuardDuty,
            label,
            out,
            |json, label| read(json, None, label),
        );
    } else if let Some(detail) = object.get(DETAIL) {
        out.push(read(detail.get(), Some(json), label));
    } else {
        out.push(read(json, None, label));
    }
}

/// One finding; `envelope` is the EventBridge event around it, whose paths start `detail.`.
fn read(json: &str, envelope: Option<&str>, label: &str) -> Result<Finding, Error> {
    let malformed = Error::malformed(label, Source::GuardDuty);
    let finding = serde_json::from_str::<Obj<GdFinding<'_>>>(json).map_err(malformed)?;
    let envelope = envelope
        .map(serde_json::from_str::<Envelope<'_>>)
        .transpose()
        .map_err(malformed)?;
    let located = match envelope {
        Some(_) => At::under(Seg::Raw(DETAIL), &finding),
        None => At::root(&finding),
    };
    let result = match located.object() {
        Ok(Some(finding)) => convert(finding, envelope.as_ref().map(At::root), label),
        Ok(None) => Err(located.error(Problem::Missing)),
        Err(error) => Err(error),
    };
    result
        .map_err(|error| Error::field(label, Source::GuardDuty, PASCAL_CASE.case_of(json), &error))
}

fn convert(
    finding: At<'_, '_, GdFinding<'_>>,
    envelope: Option<At<'_, '_, Envelope<'_>>>,
    label: &str,
) -> Result<Finding, FieldError> {
    let raw_category = finding.kind().required_text()?;
    let id = match finding.id().text()? {
        Some(id) => id,
        None => finding.arn().text()?.unwrap_or(label),
    };
    let severity = finding
        .severity()
        .number()?
        .map(|severity| severity_band(severity).to_owned());
    let service = finding.service().object()?;

    let mut event_time = None;
    let mut detector = None;
    let mut runtime = None;
    if let Some(service) = &service {
        event_time = match service.event_last_seen().text()? {
            Some(time) => Some(time),
            None => service.event_first_seen().text()?,
        };
        detector = service.feature_name().text()?;
        runtime = service.runtime_details().object()?;
    }
    if event_time.is_none() {
        event_time = match finding.updated_at().text()? {
            Some(time) => Some(time),
            None => finding.created_at().text()?,
        };
    }
    if event_time.is_none() {
        // The envelope is only a fallback: a value of the wrong type there is ignored.
        event_time = envelope.and_then(|envelope| envelope.time().text_or_none());
    }

    let (binaries, user) = match runtime {
        Some(runtime) => binaries(runtime)?,
        None => (Vec::new(), None),
    };

    let (image, mut context) = match finding.resource().object()? {
        Some(resource) => resource_context(resource)?,
        None => (ImageRef::default(), Context::default()),
    };
    context.account = context_text(match finding.account_id().text()? {
        Some(account) => Some(account),
        None => envelope.and_then(|envelope| envelope.account().text_or_none()),
    });
    context.region = context_text(match finding.region().text()? {
        Some(region) => Some(region),
        None => envelope.and_then(|envelope| envelope.region().text_or_none()),
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
    runtime: At<'r, '_, RuntimeDetails<'_>>,
) -> Result<(Vec<Binary>, Option<&'r str>), FieldError> {
    let mut binaries = Vec::new();
    let mut user = None;
    let mut pid = None;
    if let Some(process) = runtime.process().object()? {
        let (binary, parent_uuid) = process_binary(process, BinaryRole::Process)?;
        user = process.user().text()?;
        pid = binary.as_ref().and_then(|binary| binary.pid);
        binaries.extend(binary);
        for entry in process.lineage().at_most(MAX_PROCESSES)?.iter() {
            let Some(entry) = entry.object()? else {
                continue;
            };
            let Some(path) = entry.executable_path().text()? else {
                continue;
            };
            let uuid = entry.uuid().text()?;
            let role = if uuid.is_some() && uuid == parent_uuid {
                BinaryRole::Parent
            } else {
                BinaryRole::Ancestor
            };
            let mut binary = Binary::new(role, Some(path));
            binary.pid = entry.pid().int()?;
            binaries.push(binary);
        }
    }
    if let Some(context) = runtime.context().object()? {
        if let Some(path) = context.library_path().text()? {
            let mut library = Binary::new(BinaryRole::Library, Some(path));
            library.pid = pid;
            binaries.push(library);
        }
        if let Some(path) = context.script_path().text()? {
            let mut script = Binary::new(BinaryRole::Script, Some(path));
            script.pid = pid;
            binaries.push(script);
        }
        if let Some(modifier) = context.modifying_process().object()? {
            let (binary, _) = process_binary(modifier, BinaryRole::ModifyingProcess)?;
            binaries.extend(binary);
        }
    }
    Ok((binaries, user))
}

/// A `ProcessDetails` as a [`Binary`] (`None` without path and hash), and its `parentUuid`.
fn process_binary<'p>(
    process: At<'p, '_, ProcessDetails<'_>>,
    role: BinaryRole,
) -> Result<(Option<Binary>, Option<&'p str>), FieldError> {
    let path = process.executable_path().text()?;
    let sha256 = process.executable_sha256().parsed_text(parse_sha256)?;
    let parent_uuid = process.parent_uuid().text()?;
    let pid = process.pid().int()?;
    if path.is_none() && sha256.is_none() {
        return Ok((None, parent_uuid));
    }
    let mut binary = Binary::new(role, path);
    binary.sha256 = sha256;
    binary.pid = pid;
    Ok((Some(binary), parent_uuid))
}

/// The image and the context that `resource` gives.
fn resource_context(
    resource: At<'_, '_, GdResource<'_>>,
) -> Result<(ImageRef, Context), FieldError> {
    let mut context = Context::default();

    // The runtime process's own container.
    let own_container = resource.container_details().object()?;
    let (mut container_id, mut container_name, mut own_image) = (None, None, None);
    if let Some(container) = &own_container {
        container_id = container.id().text()?;
        container_name = container.name().text()?;
        let image = container.image();
        own_image = image.text()?.map(|reference| (image, reference));
    }

    if let Some(eks) = resource.eks_cluster_details().object()? {
        context.cluster = context_text(eks.name().text()?);
        context.resource_name = context_text(eks.arn().text()?);
    }

    // The containers of the task or the workload: candidates when `containerDetails` names
    // no image.
    let mut candidates = Vec::new();
    if let Some(ecs) = resource.ecs_cluster_details().object()? {
        context.cluster = context_text(ecs.name().text()?);
        let cluster_arn = ecs.arn().text()?;
        let mut task_arn = None;
        if let Some(task) = ecs.task_details().object()? {
            task_arn = task.arn().text()?;
            read_candidates(&task.containers().items()?, &mut candidates)?;
        }
        context.resource_name = context_text(task_arn.or(cluster_arn));
    }
    if let Some(kubernetes) = resource.kubernetes_details().object()?
        && let Some(workload) = kubernetes.kubernetes_workload_details().object()?
    {
        let name = workload.name().text()?;
        let kind = workload.kind().text()?;
        context.namespace = context_text(workload.namespace().text()?);
        if kind.is_none_or(|kind| {
            kind.eq_ignore_ascii_case("pods") || kind.eq_ignore_ascii_case("pod")
        }) {
            context.pod = context_text(name);
        } else {
            context.workload = context_text(name);
            context.workload_kind = context_text(kind);
        }
        read_candidates(&workload.containers().items()?, &mut candidates)?;
    }

    if let Some(instance) = resource.instance_details().object()? {
        context.instance_id = context_text(instance.instance_id().text()?);
        context.node = node(instance)?.map(str::to_owned);
    }

    let image = if let Some((field, reference)) = own_image {
        let mut image = ImageBuilder::default();
        image.reference(reference);
        if let Some(digest) = field.check(reference_digest(reference))? {
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
fn node<'i>(instance: At<'i, '_, InstanceDetails<'_>>) -> Result<Option<&'i str>, FieldError> {
    let mut names = Vec::new();
    for interface in instance.network_interfaces().items()?.iter() {
        if let Some(interface) = interface.object()?
            && let Some(name) = interface.private_dns_name().text()?
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
    containers: &Items<'c, '_, Obj<Container<'_>>>,
    out: &mut Vec<Candidate<'c>>,
) -> Result<(), FieldError> {
    for container in containers.iter() {
        let Some(container) = container.object()? else {
            continue;
        };
        let image_field = container.image();
        let image = match image_field.text()? {
            Some(reference) => Some(EntryImage {
                reference: Some(reference),
                digests: image_field
                    .check(reference_digest(reference))?
                    .into_iter()
                    .collect(),
            }),
            None => None,
        };
        out.push(Candidate {
            id: container.id().text()?,
            entry: ContainerEntry {
                name: container.name().text()?,
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
