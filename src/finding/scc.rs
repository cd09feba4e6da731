//! Google Security Command Center findings (Container Threat Detection, Cloud Run Threat
//! Detection) → [`Finding`].
//!
//! Schemas: `google/cloud/securitycenter/v1/{finding,process,file,container,kubernetes,
//! resource,notification_message}.proto` and their v2 counterparts in googleapis
//! (<https://github.com/googleapis/googleapis/tree/master/google/cloud/securitycenter>); the
//! `ListFindingsResult.Resource` message of `securitycenter_service.proto` for gcloud and the
//! REST list. `docs/findings.md` maps their fields. Keys are read in camelCase (REST, gcloud, notifications) or snake_case (the
//! Python client's `to_dict()`); enums as names or numbers.
//!
//! Mapping choices:
//!
//! - Every `processes[i]` contributes its `binary`, `script` and `libraries[]`. Roles come
//!   from the pid tree: a process that is no listed process's parent is
//!   [`BinaryRole::Process`], the parent of such a process [`BinaryRole::Parent`], any other
//!   parent [`BinaryRole::Ancestor`]. Without pids (or with a cycle) every process is a
//!   `Process`, so nothing escapes evaluation.
//! - The image is that of the container the binary ran in, chosen among the entries of
//!   `containers[]` and `kubernetes.pods[].containers[]` by `sourceProperties.Container_Name`
//!   (all entries when it is absent or matches none). Entries that name one image (a shared
//!   digest, or the same reference) count once; exactly one image is the answer; several are
//!   narrowed by `Container_Image_Uri`, and if that does not single one out the image is
//!   unknown and [`ImageRef::ambiguity`] says why. Without any entry that names an image,
//!   `Container_Image_Uri` is the image. `imageId` may be `repo@sha256:…` or a bare config
//!   digest; both go to `digests`. `context.container` is `Container_Name`, else the chosen
//!   entries' name.
//! - The node is the VM name at the end of `kubernetes.nodes[].name` (a Compute Engine
//!   resource name; GKE names nodes after their VMs), else `VM_Instance_Name`.
//! - `argumentsTruncated` is about the arguments only: it sets [`Binary::args_truncated`].
//! - `sourceProperties` is free-form: its keys (`Pod_Name`, `Pod_Namespace`,
//!   `Container_Name`, `Container_Image_Uri`, `VM_Instance_Name`, and the unverified
//!   `Process_Binary_Fullpath`) are used only where the typed fields are missing, and a value
//!   of the wrong type there is ignored rather than an error.
//! - Project, location and cluster come from the notification's resource where present,
//!   else from `resourceName` (`//container.googleapis.com/projects/P/locations/L/clusters/C`,
//!   or a Cloud Run `…/services/S`).
//!
//! This module only reads JSON text it is given: no I/O, no manifest.

use serde_json::value::RawValue;

use super::field::{At, Case, FieldError, Items, List, Obj, RawObject, Scalar, Seg, wire_object};
use super::{
    Binary, BinaryRole, CaseTable, Category, ContainerEntry, ContainerSelector, Context,
    EntryImage, Error, Finding, ImageBuilder, ImageRef, MAX_LIBRARIES, MAX_PROCESSES, Problem,
    Source, category_in, choose_container, context_text, finish, node_name, owned, parse_sha256,
    reference_digest, unquote,
};

/// SCC's category names and module names, normalised as [`category`] does (lower case, words
/// separated by one space, no tactic prefix).
static CATEGORIES: [(&str, Category); 6] = [
    ("added binary executed", Category::AddedBinary),
    ("added library loaded", Category::AddedLibrary),
    (
        "added malicious binary executed",
        Category::AddedMaliciousBinary,
    ),
    (
        "modified malicious binary executed",
        Category::ModifiedMaliciousBinary,
    ),
    (
        "built in malicious binary executed",
        Category::BuiltInMaliciousBinary,
    ),
    (
        "builtin malicious binary executed",
        Category::BuiltInMaliciousBinary,
    ),
];

/// The tactic prefixes a category may carry.
const TACTICS: [&str; 3] = ["execution:", "privilege escalation:", "defense evasion:"];

/// Maps an SCC category or module name to a [`Category`].
pub(super) fn category(raw: &str) -> Category {
    let mut normal = String::with_capacity(raw.len());
    for word in raw
        .split(|c: char| c.is_whitespace() || c == '_' || c == '-')
        .filter(|word| !word.is_empty())
    {
        if !normal.is_empty() {
            normal.push(' ');
        }
        normal.push_str(&word.to_lowercase());
    }
    let mut name = normal.as_str();
    for tactic in TACTICS {
        if let Some(rest) = name.strip_prefix(tactic) {
            name = rest.trim_start();
            break;
        }
    }
    // `Fileless Execution in /memfd:`, `… in /dev/shm`, `FILELESS_EXECUTION_DETECTION_MEMFD`.
    if name.starts_with("fileless execution") {
        return Category::Fileless;
    }
    category_in(&CATEGORIES, name, raw)
}

/// `Finding.Severity` by number.
pub(super) fn severity_name(number: i64) -> Option<&'static str> {
    match number {
        1 => Some("CRITICAL"),
        2 => Some("HIGH"),
        3 => Some("MEDIUM"),
        4 => Some("LOW"),
        _ => None,
    }
}

/// `Finding.State` by number.
pub(super) fn state_name(number: i64) -> Option<&'static str> {
    match number {
        1 => Some("ACTIVE"),
        2 => Some("INACTIVE"),
        _ => None,
    }
}

/// `Finding.Mute` by number.
pub(super) fn mute_name(number: i64) -> Option<&'static str> {
    match number {
        1 => Some("MUTED"),
        2 => Some("UNMUTED"),
        4 => Some("UNDEFINED"),
        _ => None,
    }
}

/// An enum field as its upper-case name; the `*_UNSPECIFIED` value (0) is absent, and a
/// number this tool does not know is kept as its decimal text.
fn enum_text(
    field: At<'_, '_, Scalar<'_>>,
    by_number: fn(i64) -> Option<&'static str>,
) -> Result<Option<String>, FieldError> {
    use super::field::EnumValue;
    Ok(match field.proto_enum()? {
        None | Some(EnumValue::Number(0)) => None,
        Some(EnumValue::Number(number)) => {
            Some(by_number(number).map_or_else(|| number.to_string(), str::to_owned))
        }
        Some(EnumValue::Name(name)) if name.ends_with("_UNSPECIFIED") => None,
        Some(EnumValue::Name(name)) => Some(owned(&name.to_ascii_uppercase())),
    })
}

wire_object! {
    /// A v1 or v2 `Finding` (the fields read).
    struct SccFinding<'a>: CamelOrSnake {
        name: Scalar<'a> = "name",
        canonical_name: Scalar<'a> = "canonicalName",
        parent_display_name: Scalar<'a> = "parentDisplayName",
        resource_name: Scalar<'a> = "resourceName",
        state: Scalar<'a> = "state",
        category: Scalar<'a> = "category",
        severity: Scalar<'a> = "severity",
        mute: Scalar<'a> = "mute",
        event_time: Scalar<'a> = "eventTime",
        create_time: Scalar<'a> = "createTime",
        processes: List<Obj<Process<'a>>> = "processes",
        containers: List<Obj<Container<'a>>> = "containers",
        kubernetes: Obj<Kubernetes<'a>> = "kubernetes",
        source_properties: Obj<SourceProperties<'a>> = "sourceProperties",
    }
}

wire_object! {
    /// A `Process`.
    struct Process<'a>: CamelOrSnake {
        binary: Obj<File<'a>> = "binary",
        script: Obj<File<'a>> = "script",
        libraries: List<Obj<File<'a>>> = "libraries",
        args: List<Scalar<'a>> = "args",
        arguments_truncated: Scalar<'a> = "argumentsTruncated",
        pid: Scalar<'a> = "pid",
        parent_pid: Scalar<'a> = "parentPid",
    }
}

wire_object! {
    /// A `File`.
    struct File<'a>: CamelOrSnake {
        path: Scalar<'a> = "path",
        sha256: Scalar<'a> = "sha256",
        size: Scalar<'a> = "size",
        hashed_size: Scalar<'a> = "hashedSize",
        partially_hashed: Scalar<'a> = "partiallyHashed",
    }
}

wire_object! {
    /// A `Container`.
    struct Container<'a>: CamelOrSnake {
        name: Scalar<'a> = "name",
        uri: Scalar<'a> = "uri",
        image_id: Scalar<'a> = "imageId",
    }
}

wire_object! {
    /// `Kubernetes`.
    struct Kubernetes<'a>: CamelOrSnake {
        pods: List<Obj<Pod<'a>>> = "pods",
        nodes: List<Obj<Node<'a>>> = "nodes",
    }
}

wire_object! {
    /// `Kubernetes.Pod`.
    struct Pod<'a>: CamelOrSnake {
        ns: Scalar<'a> = "ns",
        name: Scalar<'a> = "name",
        containers: List<Obj<Container<'a>>> = "containers",
    }
}

wire_object! {
    /// `Kubernetes.Node`.
    struct Node<'a>: CamelOrSnake {
        name: Scalar<'a> = "name",
    }
}

wire_object! {
    /// The `sourceProperties` keys CTD documents (plus one reported by a third party).
    struct SourceProperties<'a>: Exact {
        pod_namespace: Scalar<'a> = "Pod_Namespace",
        pod_name: Scalar<'a> = "Pod_Name",
        container_name: Scalar<'a> = "Container_Name",
        container_image_uri: Scalar<'a> = "Container_Image_Uri",
        vm_instance_name: Scalar<'a> = "VM_Instance_Name",
        process_binary_fullpath: Scalar<'a> = "Process_Binary_Fullpath",
    }
}

wire_object! {
    /// The notification's or list result's `resource` (v1, v2 `gcpMetadata`, or gcloud's
    /// `projectName`).
    struct Resource<'a>: CamelOrSnake {
        name: Scalar<'a> = "name",
        project: Scalar<'a> = "project",
        project_name: Scalar<'a> = "projectName",
        project_display_name: Scalar<'a> = "projectDisplayName",
        location: Scalar<'a> = "location",
        gcp_metadata: Obj<GcpMetadata<'a>> = "gcpMetadata",
    }
}

wire_object! {
    /// A v2 resource's `gcpMetadata`.
    struct GcpMetadata<'a>: CamelOrSnake {
        project: Scalar<'a> = "project",
        project_display_name: Scalar<'a> = "projectDisplayName",
    }
}

/// The envelope key of the finding (notifications and list results).
const FINDING: &str = "finding";
/// The envelope key of the resource (notifications and list results).
const RESOURCE: &str = "resource";
/// The envelope key of the notification config, in both spellings.
const NOTIFICATION_CONFIG_NAME: [&str; 2] = ["notificationConfigName", "notification_config_name"];
/// The key of a REST list page's results, in both spellings.
const LIST_FINDINGS_RESULTS: [&str; 2] = ["listFindingsResults", "list_findings_results"];

/// SCC's case table: snake_case if any key that differs between the two spellings is written
/// in snake_case.
const SNAKE_CASE: CaseTable = CaseTable {
    case: Case::Snake,
    keys: &[
        "resource_name",
        "event_time",
        "create_time",
        "finding_class",
        "canonical_name",
        "source_properties",
        "parent_display_name",
        "mitre_attack",
    ],
};

/// Whether `object` is one of SCC's envelopes: a notification, a list result or a list page.
pub(super) fn is_envelope(object: &RawObject<'_>) -> bool {
    object.has(FINDING)
        || NOTIFICATION_CONFIG_NAME
            .iter()
            .chain(&LIST_FINDINGS_RESULTS)
            .any(|key| object.has(key))
}

/// Reads an SCC document: a bare finding, a notification or list result, or a list page.
pub(super) fn parse(
    object: &RawObject<'_>,
    json: &str,
    label: &str,
    out: &mut Vec<Result<Finding, Error>>,
) {
    let list_key = LIST_FINDINGS_RESULTS
        .into_iter()
        .find(|key| object.has(key));
    if let Some(key) = list_key {
        if let Some(list) = object.get(key) {
            super::listed_findings(list, key, Source::Scc, label, out, |json, label| {
                let result = serde_json::from_str::<RawObject<'_>>(json)
                    .map_err(Error::malformed(label, Source::Scc))?;
                wrapped(&result, label)
            });
        }
    } else if object.has(FINDING) || NOTIFICATION_CONFIG_NAME.iter().any(|key| object.has(key)) {
        out.push(wrapped(object, label));
    } else {
        out.push(read(json, None, None, false, label));
    }
}

/// `{finding, resource, notificationConfigName?, stateChange?}`.
fn wrapped(object: &RawObject<'_>, label: &str) -> Result<Finding, Error> {
    let finding = object.get(FINDING).map_or("null", RawValue::get);
    let notification = NOTIFICATION_CONFIG_NAME
        .iter()
        .find_map(|key| object.get(key));
    read(finding, object.get(RESOURCE), notification, true, label)
}

/// Reads a finding (and its envelope's resource); `wrapped` findings report paths from the
/// envelope (`finding.…`, `resource.…`).
fn read(
    finding_json: &str,
    resource: Option<&RawValue>,
    notification: Option<&RawValue>,
    wrapped: bool,
    label: &str,
) -> Result<Finding, Error> {
    let malformed = Error::malformed(label, Source::Scc);
    let finding = serde_json::from_str::<Obj<SccFinding<'_>>>(finding_json).map_err(malformed)?;
    let resource = resource
        .map(|raw| serde_json::from_str::<Obj<Resource<'_>>>(raw.get()))
        .transpose()
        .map_err(malformed)?
        .unwrap_or_default();
    let notification = notification
        .map(|raw| serde_json::from_str::<Scalar<'_>>(raw.get()))
        .transpose()
        .map_err(malformed)?
        .unwrap_or_default();
    let finding = if wrapped {
        At::under(Seg::Key(FINDING), &finding)
    } else {
        At::root(&finding)
    };
    convert(
        finding,
        At::under(Seg::Key(RESOURCE), &resource),
        At::under(Seg::Key(NOTIFICATION_CONFIG_NAME[0]), &notification),
        label,
    )
    .map_err(|error| Error::field(label, Source::Scc, SNAKE_CASE.case_of(finding_json), &error))
}

fn convert(
    finding: At<'_, '_, Obj<SccFinding<'_>>>,
    resource: At<'_, '_, Obj<Resource<'_>>>,
    notification: At<'_, '_, Scalar<'_>>,
    label: &str,
) -> Result<Finding, FieldError> {
    let Some(found) = finding.object()? else {
        return Err(finding.error(Problem::Missing));
    };
    let resource = match resource.object()? {
        Some(resource) => ResourceInfo::read(resource)?,
        None => ResourceInfo::default(),
    };
    let notification = notification.text()?;
    convert_finding(found, &resource, notification, label)
}

/// What the envelope's `resource` says, read (and type-checked) outside the finding.
#[derive(Default)]
struct ResourceInfo<'r> {
    name: Option<&'r str>,
    /// The project's display name (in practice its id).
    project_display_name: Option<&'r str>,
    /// The project's full resource name (`//cloudresourcemanager.googleapis.com/projects/N`).
    project: Option<&'r str>,
    location: Option<&'r str>,
}

impl<'r> ResourceInfo<'r> {
    fn read(resource: At<'r, '_, Resource<'_>>) -> Result<Self, FieldError> {
        let metadata = resource.gcp_metadata().object()?;
        let mut project_display_name = resource.project_display_name().text()?;
        let mut project = resource.project().text()?;
        if project.is_none() {
            project = resource.project_name().text()?;
        }
        if let Some(metadata) = metadata {
            if project_display_name.is_none() {
                project_display_name = metadata.project_display_name().text()?;
            }
            if project.is_none() {
                project = metadata.project().text()?;
            }
        }
        Ok(Self {
            name: resource.name().text()?,
            project_display_name,
            project,
            location: resource.location().text()?,
        })
    }
}

fn convert_finding(
    finding: At<'_, '_, SccFinding<'_>>,
    resource: &ResourceInfo<'_>,
    notification: Option<&str>,
    label: &str,
) -> Result<Finding, FieldError> {
    let raw_category = finding.category().required_text()?;
    let category = category(raw_category);
    let id = match finding.name().text()? {
        Some(name) => name,
        None => finding.canonical_name().text()?.unwrap_or(label),
    };
    let event_time = match finding.event_time().text()? {
        Some(time) => Some(time),
        None => finding.create_time().text()?,
    };
    let source_properties = finding.source_properties().object()?;
    let mut context = context(finding, resource, notification, source_properties)?;
    let (image, container) = image(finding, source_properties)?;
    context.container = context_text(container);
    let mut binaries = binaries(finding)?;
    if binaries.is_empty()
        && let Some(path) =
            source_properties.and_then(|props| props.process_binary_fullpath().text_or_none())
    {
        binaries.push(Binary::new(BinaryRole::Process, Some(&unquote(path))));
    }
    Ok(finish(Finding {
        source: Source::Scc,
        document: label.to_owned(),
        id: owned(id),
        category,
        raw_category: owned(raw_category),
        severity: enum_text(finding.severity(), severity_name)?,
        event_time: event_time.map(owned),
        image,
        binaries,
        context,
    }))
}

fn context(
    finding: At<'_, '_, SccFinding<'_>>,
    resource: &ResourceInfo<'_>,
    notification: Option<&str>,
    source_properties: Option<At<'_, '_, SourceProperties<'_>>>,
) -> Result<Context, FieldError> {
    let resource_name = finding.resource_name().text()?.or(resource.name);
    let parsed = resource_name.map(GcpResource::parse).unwrap_or_default();
    // Prefer the display name (the project id in practice), then the id in `resourceName`,
    // then the number at the end of the project's full resource name.
    let project = resource
        .project_display_name
        .or(parsed.project)
        .or_else(|| resource.project.and_then(|full| full.rsplit('/').next()));
    let location = parsed.location.or(resource.location);

    let mut pod = None;
    let mut namespace = None;
    let mut node = None;
    if let Some(kubernetes) = finding.kubernetes().object()? {
        let pods = kubernetes.pods().items()?;
        if let Some(first) = pods.first()
            && let Some(first) = first.object()?
        {
            pod = first.name().text()?;
            namespace = first.ns().text()?;
        }
        // Several different nodes (a finding about several pods) name none of them.
        let mut names = Vec::new();
        for entry in kubernetes.nodes().items()?.iter() {
            if let Some(entry) = entry.object()?
                && let Some(name) = entry.name().text()?
                && !names.contains(&name)
            {
                names.push(name);
            }
        }
        if let [only] = names[..] {
            node = node_name(only);
        }
    }
    if let Some(props) = source_properties {
        pod = pod.or_else(|| props.pod_name().text_or_none());
        namespace = namespace.or_else(|| props.pod_namespace().text_or_none());
        node = node.or_else(|| props.vm_instance_name().text_or_none().and_then(node_name));
    }

    let organization = finding
        .name()
        .text_or_none()
        .and_then(|name| name.strip_prefix("organizations/"))
        .and_then(|rest| rest.split('/').next());

    Ok(Context {
        project: context_text(project),
        organization: context_text(organization),
        cluster: context_text(parsed.cluster),
        location: context_text(location),
        namespace: context_text(namespace.or(parsed.namespace)),
        pod: context_text(pod.or(parsed.pod)),
        workload: context_text(parsed.service),
        workload_kind: parsed.service.map(|_| "cloud-run-service".to_owned()),
        node: context_text(node),
        resource_name: context_text(resource_name),
        detector: context_text(finding.parent_display_name().text()?),
        state: enum_text(finding.state(), state_name)?,
        mute: enum_text(finding.mute(), mute_name)?,
        notification_config: context_text(notification),
        ..Context::default()
    })
}

/// What a GCP full resource name says.
#[derive(Default)]
struct GcpResource<'a> {
    project: Option<&'a str>,
    location: Option<&'a str>,
    cluster: Option<&'a str>,
    namespace: Option<&'a str>,
    pod: Option<&'a str>,
    service: Option<&'a str>,
}

impl<'a> GcpResource<'a> {
    /// `//container.googleapis.com/projects/P/locations/L/clusters/C[/k8s/namespaces/N/pods/P]`
    /// or `//run.googleapis.com/projects/P/locations/L/services/S`.
    fn parse(name: &'a str) -> Self {
        let path = name
            .strip_prefix("//")
            .and_then(|rest| rest.split_once('/'))
            .map_or(name, |(_, path)| path);
        let mut parsed = Self::default();
        let mut segments = path.split('/').filter(|segment| !segment.is_empty());
        while let Some(key) = segments.next() {
            let slot = match key {
                "projects" => &mut parsed.project,
                "locations" | "zones" | "regions" => &mut parsed.location,
                "clusters" => &mut parsed.cluster,
                "namespaces" => &mut parsed.namespace,
                "pods" => &mut parsed.pod,
                "services" => &mut parsed.service,
                _ => continue,
            };
            if let Some(value) = segments.next() {
                slot.get_or_insert(value);
            }
        }
        parsed
    }
}

/// A container entry: its name, and the image its `uri` and `imageId` name.
fn read_container<'c>(
    container: At<'c, '_, Container<'_>>,
) -> Result<ContainerEntry<'c>, FieldError> {
    let name = container.name().text()?;
    let uri_field = container.uri();
    let uri = uri_field.text()?;
    let image_id_field = container.image_id();
    let image_id = image_id_field.text()?;
    let uri_digest = uri_field
        .check(uri.map(reference_digest).transpose())?
        .flatten();
    let id_digest = image_id_field
        .check(image_id.map(reference_digest).transpose())?
        .flatten();
    // An image id that is a pullable `repo@sha256:…` names the image when `uri` is absent.
    let reference = uri.or_else(|| image_id.filter(|id| id.contains('@')));
    let digests: Vec<_> = uri_digest.into_iter().chain(id_digest).collect();
    let image =
        (reference.is_some() || !digests.is_empty()).then_some(EntryImage { reference, digests });
    Ok(ContainerEntry { name, image })
}

/// Adds the entries of `containers` to `entries`.
fn read_containers<'c>(
    containers: &Items<'c, '_, Obj<Container<'_>>>,
    entries: &mut Vec<ContainerEntry<'c>>,
) -> Result<(), FieldError> {
    for container in containers.iter() {
        if let Some(container) = container.object()? {
            entries.push(read_container(container)?);
        }
    }
    Ok(())
}

/// Every container entry of the finding: `containers[]`, then `kubernetes.pods[].containers[]`.
fn container_entries<'f>(
    finding: At<'f, '_, SccFinding<'_>>,
) -> Result<Vec<ContainerEntry<'f>>, FieldError> {
    let mut entries = Vec::new();
    read_containers(&finding.containers().items()?, &mut entries)?;
    if let Some(kubernetes) = finding.kubernetes().object()? {
        for pod in kubernetes.pods().items()?.iter() {
            if let Some(pod) = pod.object()? {
                read_containers(&pod.containers().items()?, &mut entries)?;
            }
        }
    }
    Ok(entries)
}

/// The image of the container the binary ran in, and that container's name (see the module
/// docs).
fn image<'f>(
    finding: At<'f, '_, SccFinding<'_>>,
    source_properties: Option<At<'f, '_, SourceProperties<'_>>>,
) -> Result<(ImageRef, Option<&'f str>), FieldError> {
    let entries = container_entries(finding)?;
    let name = source_properties.and_then(|props| props.container_name().text_or_none());
    let uri = source_properties.and_then(|props| props.container_image_uri().text_or_none());
    let named: Vec<&ContainerEntry<'_>> = entries
        .iter()
        .filter(|entry| name.is_some() && entry.name == name)
        .collect();
    let (pool, selector) = match name {
        Some(value) => {
            let matched = !named.is_empty();
            let pool = if matched {
                named
            } else {
                entries.iter().collect()
            };
            let selector = ContainerSelector::Named {
                field: "Container_Name",
                value,
                matched,
            };
            (pool, selector)
        }
        None => (
            entries.iter().collect(),
            ContainerSelector::Nothing {
                fields: "Container_Name",
            },
        ),
    };
    if let Some(chosen) =
        choose_container(&pool, selector, uri.map(|uri| ("Container_Image_Uri", uri)))
    {
        return Ok((chosen.image, name.or(chosen.name)));
    }
    // No entry names an image for the container (CTD sends container data best effort):
    // `Container_Image_Uri` names the image of `Container_Name`.
    let mut image = ImageBuilder::default();
    if let Some(uri) = uri {
        image.reference(uri);
        // Free-form fallback: a malformed digest here is ignored, not an error.
        if let Ok(Some(digest)) = reference_digest(uri) {
            image.digest(digest);
        }
    }
    let only_name = || {
        let mut names = entries.iter().filter_map(|entry| entry.name);
        let first = names.next()?;
        names.all(|other| other == first).then_some(first)
    };
    Ok((image.finish(), name.or_else(only_name)))
}

/// Roles from the pid tree (see the module docs).
fn roles(pids: &[(Option<i64>, Option<i64>)]) -> Vec<BinaryRole> {
    let parent_of = |parent: usize, child: usize| {
        parent != child && pids[parent].0.is_some() && pids[parent].0 == pids[child].1
    };
    let count = pids.len();
    let leaf: Vec<bool> = (0..count)
        .map(|candidate| !(0..count).any(|child| parent_of(candidate, child)))
        .collect();
    if !leaf.contains(&true) {
        return vec![BinaryRole::Process; count];
    }
    (0..count)
        .map(|index| {
            if leaf[index] {
                BinaryRole::Process
            } else if (0..count).any(|child| leaf[child] && parent_of(index, child)) {
                BinaryRole::Parent
            } else {
                BinaryRole::Ancestor
            }
        })
        .collect()
}

/// Every named file of every process.
fn binaries(finding: At<'_, '_, SccFinding<'_>>) -> Result<Vec<Binary>, FieldError> {
    let processes = finding.processes().at_most(MAX_PROCESSES)?;
    let mut read = Vec::with_capacity(processes.values().len());
    let mut pids = Vec::with_capacity(processes.values().len());
    for process in processes.iter() {
        if let Some(process) = process.object()? {
            pids.push((process.pid().int()?, process.parent_pid().int()?));
            read.push(process);
        }
    }
    let mut binaries = Vec::new();
    for ((process, &(pid, _)), role) in read.into_iter().zip(&pids).zip(roles(&pids)) {
        process_binaries(process, role, pid, &mut binaries)?;
    }
    Ok(binaries)
}

/// The binary (with the arguments), script and libraries of one process.
fn process_binaries(
    process: At<'_, '_, Process<'_>>,
    role: BinaryRole,
    pid: Option<i64>,
    out: &mut Vec<Binary>,
) -> Result<(), FieldError> {
    if let Some(file) = process.binary().object()?
        && let Some(mut binary) = file_binary(file, role, pid)?
    {
        let args = process.args().items()?;
        for arg in args.iter() {
            binary.push_arg(&unquote(arg.text()?.unwrap_or("")));
        }
        binary.args_truncated |=
            args.overflow() || process.arguments_truncated().flag()?.unwrap_or(false);
        out.push(binary);
    }
    if let Some(file) = process.script().object()?
        && let Some(script) = file_binary(file, BinaryRole::Script, pid)?
    {
        out.push(script);
    }
    for library in process.libraries().at_most(MAX_LIBRARIES)?.iter() {
        if let Some(file) = library.object()?
            && let Some(library) = file_binary(file, BinaryRole::Library, pid)?
        {
            out.push(library);
        }
    }
    Ok(())
}

/// A `File` as a [`Binary`]; `None` when it names neither a path nor a hash.
fn file_binary(
    file: At<'_, '_, File<'_>>,
    role: BinaryRole,
    pid: Option<i64>,
) -> Result<Option<Binary>, FieldError> {
    let path = file.path().text()?;
    let sha256 = file.sha256().parsed_text(parse_sha256)?;
    if path.is_none() && sha256.is_none() {
        return Ok(None);
    }
    let mut binary = Binary::new(role, path.map(unquote).as_deref());
    binary.sha256 = sha256;
    binary.size = file.size().size()?;
    binary.hashed_size = file.hashed_size().size()?;
    binary.partially_hashed = file.partially_hashed().flag()?.unwrap_or(false);
    binary.pid = pid;
    Ok(Some(binary))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::display_name("Added Binary Executed", Category::AddedBinary)]
    #[case::with_tactic("Execution: Added Binary Executed", Category::AddedBinary)]
    #[case::tactic_without_space("Execution:Added Binary Executed", Category::AddedBinary)]
    #[case::module_name("ADDED_BINARY_EXECUTED", Category::AddedBinary)]
    #[case::lower_case("added binary executed", Category::AddedBinary)]
    #[case::extra_spaces("  Added  Binary   Executed ", Category::AddedBinary)]
    #[case::library("Added Library Loaded", Category::AddedLibrary)]
    #[case::library_module("ADDED_LIBRARY_LOADED", Category::AddedLibrary)]
    #[case::added_malicious(
        "Execution: Added Malicious Binary Executed",
        Category::AddedMaliciousBinary
    )]
    #[case::added_malicious_module(
        "ADDED_MALICIOUS_BINARY_EXECUTED",
        Category::AddedMaliciousBinary
    )]
    #[case::modified_malicious(
        "Execution: Modified Malicious Binary Executed",
        Category::ModifiedMaliciousBinary
    )]
    #[case::modified_malicious_module(
        "MODIFIED_MALICIOUS_BINARY_EXECUTED",
        Category::ModifiedMaliciousBinary
    )]
    #[case::built_in(
        "Execution: Built in Malicious Binary Executed",
        Category::BuiltInMaliciousBinary
    )]
    #[case::built_in_hyphen(
        "Execution: Built-in Malicious Binary Executed",
        Category::BuiltInMaliciousBinary
    )]
    #[case::built_in_module("BUILT_IN_MALICIOUS_BINARY_EXECUTED", Category::BuiltInMaliciousBinary)]
    #[case::memfd("Execution: Fileless Execution in /memfd:", Category::Fileless)]
    #[case::memfd_module("FILELESS_EXECUTION_DETECTION_MEMFD", Category::Fileless)]
    #[case::dev_shm(
        "Privilege Escalation: Fileless Execution in /dev/shm",
        Category::Fileless
    )]
    #[case::other_tactic_is_not_stripped("Persistence: Added Binary Executed", Category::Other("Persistence: Added Binary Executed".to_owned()))]
    #[case::unknown("Malicious Script Executed", Category::Other("Malicious Script Executed".to_owned()))]
    #[case::empty_words("Execution:", Category::Other("Execution:".to_owned()))]
    fn scc_categories(#[case] raw: &str, #[case] expected: Category) {
        assert_eq!(category(raw), expected);
    }

    #[rstest]
    #[case(0, None)]
    #[case(1, Some("CRITICAL"))]
    #[case(2, Some("HIGH"))]
    #[case(3, Some("MEDIUM"))]
    #[case(4, Some("LOW"))]
    #[case(5, None)]
    fn severity_numbers(#[case] number: i64, #[case] expected: Option<&str>) {
        assert_eq!(severity_name(number), expected);
    }

    #[rstest]
    #[case(0, None)]
    #[case(1, Some("ACTIVE"))]
    #[case(2, Some("INACTIVE"))]
    fn state_numbers(#[case] number: i64, #[case] expected: Option<&str>) {
        assert_eq!(state_name(number), expected);
    }

    #[rstest]
    #[case(0, None)]
    #[case(1, Some("MUTED"))]
    #[case(2, Some("UNMUTED"))]
    #[case(3, None)]
    #[case(4, Some("UNDEFINED"))]
    fn mute_numbers(#[case] number: i64, #[case] expected: Option<&str>) {
        assert_eq!(mute_name(number), expected);
    }

    #[rstest]
    #[case::name("\"LOW\"", Some("LOW"))]
    #[case::lower_case_name("\"low\"", Some("LOW"))]
    #[case::number("4", Some("LOW"))]
    #[case::numeric_string("\"1\"", Some("CRITICAL"))]
    #[case::unspecified_name("\"SEVERITY_UNSPECIFIED\"", None)]
    #[case::unspecified_number("0", None)]
    #[case::unknown_number_kept("9", Some("9"))]
    #[case::null("null", None)]
    fn severity_field(#[case] json: &str, #[case] expected: Option<&str>) {
        let value: Scalar<'_> = serde_json::from_str(json).unwrap();
        assert_eq!(
            enum_text(At::root(&value), severity_name)
                .unwrap()
                .as_deref(),
            expected
        );
    }

    #[test]
    fn severity_of_the_wrong_type_is_an_error() {
        let value: Scalar<'_> = serde_json::from_str("true").unwrap();
        assert_eq!(
            enum_text(At::root(&value), severity_name)
                .unwrap_err()
                .problem
                .to_string(),
            "expected an enum name or number (got true)"
        );
    }

    fn roles_of(pids: &[(Option<i64>, Option<i64>)]) -> Vec<BinaryRole> {
        roles(pids)
    }

    #[rstest]
    #[case::single(&[(Some(20), Some(10))], &[BinaryRole::Process])]
    #[case::child_then_parent(
        &[(Some(20), Some(10)), (Some(10), Some(1))],
        &[BinaryRole::Process, BinaryRole::Parent],
    )]
    #[case::grandparent(
        &[(Some(1), Some(0)), (Some(10), Some(1)), (Some(20), Some(10))],
        &[BinaryRole::Ancestor, BinaryRole::Parent, BinaryRole::Process],
    )]
    #[case::siblings(
        &[(Some(20), Some(10)), (Some(21), Some(10))],
        &[BinaryRole::Process, BinaryRole::Process],
    )]
    #[case::no_pids(&[(None, None), (None, None)], &[BinaryRole::Process, BinaryRole::Process])]
    #[case::cycle(
        &[(Some(1), Some(2)), (Some(2), Some(1))],
        &[BinaryRole::Process, BinaryRole::Process],
    )]
    fn process_roles(#[case] pids: &[(Option<i64>, Option<i64>)], #[case] expected: &[BinaryRole]) {
        assert_eq!(roles_of(pids), expected);
    }

    #[rstest]
    #[case::gke_cluster(
        "//container.googleapis.com/projects/acme-prod/locations/europe-west4/clusters/payments",
        Some("acme-prod"),
        Some("europe-west4"),
        Some("payments"),
        None
    )]
    #[case::zonal(
        "//container.googleapis.com/projects/123456789/zones/us-central1-a/clusters/ci",
        Some("123456789"),
        Some("us-central1-a"),
        Some("ci"),
        None
    )]
    #[case::cloud_run(
        "//run.googleapis.com/projects/acme-prod/locations/us-east1/services/checkout",
        Some("acme-prod"),
        Some("us-east1"),
        None,
        Some("checkout")
    )]
    #[case::garbage("not a resource name", None, None, None, None)]
    fn resource_names(
        #[case] name: &str,
        #[case] project: Option<&str>,
        #[case] location: Option<&str>,
        #[case] cluster: Option<&str>,
        #[case] service: Option<&str>,
    ) {
        let parsed = GcpResource::parse(name);
        assert_eq!(
            (
                parsed.project,
                parsed.location,
                parsed.cluster,
                parsed.service
            ),
            (project, location, cluster, service)
        );
    }
}
