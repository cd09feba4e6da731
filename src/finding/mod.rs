//! Runtime "added binary" findings, read from the JSON that detectors emit and normalised into
//! one [`Finding`] shape for `triage`.
//!
//! Inputs (each shape, its fields and its quirks, with the schemas and vendor documents they
//! come from, are described in `docs/findings.md`):
//!
//! - Google Security Command Center (Container Threat Detection, Cloud Run Threat Detection):
//!   a bare v1 or v2 `Finding` (REST camelCase with enum names), the Pub/Sub notification
//!   `{notificationConfigName, finding, resource}` (v1 `resource.project…` or v2
//!   `resource.gcpMetadata.…`), a Pub/Sub **push** envelope (`message.data` is the base64
//!   notification), `gcloud scc findings list --format=json` (an array of
//!   `{finding, resource}`, whose resource says `projectName`/`parentName`), the REST
//!   `{listFindingsResults: […]}` page, and the Python client's `to_dict()` form (snake_case
//!   keys, **integer** enums, proto3 defaults included). See `scc.rs`.
//! - AWS GuardDuty Runtime Monitoring: EventBridge events (`detail` in camelCase), the
//!   `aws guardduty get-findings` / boto3 output `{"Findings": […]}` (PascalCase), and a bare
//!   finding in either casing (`jq '.Findings[]'`). See `guardduty.rs`.
//! - Falco: `json_output` lines and Falcosidekick payloads (the same plus `uuid`).
//!   See `falco.rs`.
//! - Plain command-line flags ([`from_flags`]).
//!
//! An input ([`read_findings`] from any `io::Read`, [`parse_findings`] from a string) is one
//! JSON document, a JSON array of documents, JSON lines, or concatenated pretty-printed
//! documents (`jq '.Findings[]'` without `-c`). It is read as a stream: memory holds one
//! document at a time (at most [`MAX_DOCUMENT_BYTES`]), not the input, so a gigabyte of
//! findings costs what its largest finding costs (`stream.rs`). Each document's shape is
//! sniffed from its top-level keys unless an [`InputFormat`] forces the vendor; envelopes are
//! unwrapped whatever the format (a Pub/Sub push may carry a Falcosidekick payload too).
//!
//! Choices worth knowing:
//!
//! - **One result per finding.** A document that holds several findings (`Findings`,
//!   `listFindingsResults`, a JSON array) yields one `Result` each, labelled
//!   `"<label>#<index>"` (0-based, like a JSON pointer); JSON lines are labelled
//!   `"<label> line <n>"` (1-based). One bad finding never hides the others, and one bad
//!   JSON line never hides the next; only a syntax error inside a top-level array or
//!   concatenated documents ends the input, as nothing after it can be found reliably.
//! - **Errors are for documents that cannot be read as a finding**: not JSON, not an object,
//!   no known shape, a missing category (`category` / `type` / `rule`), or a field we read
//!   that has the wrong type or an unusable value (a malformed sha256 or image digest, a
//!   negative size). The error names the document and the field path in the document's own
//!   key spelling. Fields we do not read are never checked, so schema additions (`files[]`,
//!   `fileLoadState`, GuardDuty timestamps as epoch numbers) cannot break parsing.
//! - **A finding without evidence is not an error.** No image and no binary path is returned
//!   as is; `triage` judges it `unverifiable`. Unknown categories become [`Category::Other`].
//! - **proto3 defaults are absence.** `""`, `0` and `"0"` (which `to_dict()` writes for unset
//!   fields) read as `None`; no real pid or executable size is 0.
//! - **Hostile input is expected.** Every kept string is cut to [`MAX_TEXT_BYTES`] at a
//!   character boundary (a cut path sets [`Binary::truncated`], cut arguments
//!   [`Binary::args_truncated`]); at most [`MAX_ARGS`] arguments are kept; more than
//!   [`MAX_PROCESSES`] processes or lineage entries, or more than [`MAX_LIBRARIES`] libraries
//!   in one process, is an error rather than silently dropped evidence. Paths are kept as reported (no normalisation, no
//!   ` (deleted)` stripping) and may contain control characters: escape them for display.
//! - **The container the binary ran in.** A finding may list several containers (a pod with
//!   sidecars). The image is the one of the container the finding names (SCC
//!   `Container_Name`, GuardDuty `containerDetails`); when the listed containers name
//!   different images and nothing says which, the image is unknown and
//!   [`ImageRef::ambiguity`] says why: a guessed image could make a foreign binary look like
//!   the image's own.
//! - **Node names are Kubernetes node names** (what `kubectl cordon` takes), or absent:
//!   never a resource URI or an EC2 instance id ([`Context::node`]).
//! - **Partial hashes.** [`Binary::partially_hashed`] is set when SCC says so *or* when
//!   `hashedSize < size`, so a prefix hash is never mistaken for a whole-file hash.
//! - **Fileless.** [`Binary::fileless`] is set for paths under `/memfd:` (or `memfd:`), ending
//!   in ` (deleted)`, under `/proc/self/fd/`, `/proc/<pid>/fd/`, `/dev/fd/`, `/dev/shm/` or
//!   `/run/shm/`, for Falco's `proc.is_exe_from_memfd`, and for the executing process of a
//!   finding whose category is [`Category::Fileless`].
//!
//! How the parsers are built: a vendor module declares the JSON objects it reads with
//! `wire_object!` (`field.rs`), which writes each field's wire name once, for serde to match
//! (in the vendor's spellings) and for errors to name; values are read through `field::At`,
//! which carries the path to them. Documents that list several findings (`Findings`,
//! `listFindingsResults`) share one reader, and each vendor's category names and key
//! spellings are tables.
//!
//! This module reads only the reader it is given: no files, no network, no printing, no
//! environment. It never imports `manifest`: judging a finding against a manifest is
//! `triage`'s job.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::str::FromStr;

use base64::Engine as _;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::coded::coded_enum;
use crate::digest::Sha256Digest;

mod falco;
mod field;
mod guardduty;
mod scc;
mod stream;

use field::{At, Case, FieldError, List, RawObject, Scalar, Seg, wire_object};

/// Longest string kept from a finding, in bytes; longer ones are cut at a character boundary.
/// Linux paths cannot exceed 4096 bytes (`PATH_MAX`), so a longer one is hostile anyway.
pub const MAX_TEXT_BYTES: usize = 4096;
/// Most process arguments kept per binary.
pub const MAX_ARGS: usize = 64;
/// Most processes (SCC `processes[]`) or lineage entries (GuardDuty) accepted per finding.
pub const MAX_PROCESSES: usize = 64;
/// Most libraries accepted per SCC process.
pub const MAX_LIBRARIES: usize = 256;
/// How deep envelopes may nest (a push envelope whose data is another push envelope …).
const MAX_NESTING: usize = 4;
/// Longest document, array element or JSON line read, in bytes; a longer one is an error for
/// itself alone. Real findings are a few KiB; a Findings page of 50 stays far below this.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024 * 1024;

coded_enum! {
    /// Which detector a finding came from.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum Source {
        /// Google Security Command Center (Container / Cloud Run Threat Detection).
        Scc = "scc",
        /// AWS GuardDuty Runtime Monitoring.
        #[serde(rename = "guardduty")]
        GuardDuty = "guardduty",
        /// Falco, directly or through Falcosidekick.
        Falco = "falco",
        /// Command-line flags ([`from_flags`]).
        Flags = "flags",
    }
}

impl FromStr for Source {
    type Err = Error;

    /// The inverse of [`Source::code`].
    fn from_str(text: &str) -> Result<Self, Error> {
        Self::from_code(text).ok_or_else(|| Error::UnknownSource(text.to_owned()))
    }
}

coded_enum! {
    /// Which vendor parser to use (`--input-format`).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub enum InputFormat {
        /// Sniff each document's shape from its keys.
        #[default]
        Auto = "auto",
        /// Google SCC, in any of its envelopes.
        Scc = "scc",
        /// AWS GuardDuty, in any of its envelopes.
        GuardDuty = "guardduty",
        /// Falco or Falcosidekick.
        Falco = "falco",
    }
}

impl InputFormat {
    /// The accepted spellings, for help texts.
    pub const NAMES: [&'static str; 4] = ["auto", "scc", "guardduty", "falco"];
}

impl FromStr for InputFormat {
    type Err = Error;

    /// Case-insensitive; `guard-duty` is accepted for `guardduty`.
    fn from_str(text: &str) -> Result<Self, Error> {
        match text.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "scc" => Ok(Self::Scc),
            "guardduty" | "guard-duty" => Ok(Self::GuardDuty),
            "falco" => Ok(Self::Falco),
            _ => Err(Error::UnknownInputFormat(field::preview(text))),
        }
    }
}

coded_enum! {
    /// What part a file played in the finding.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum BinaryRole {
        /// The executable of a process the finding is about (SCC: a process no other listed
        /// process is the parent of; GuardDuty `runtimeDetails.process`; Falco `proc.exepath`).
        Process = "process",
        /// The executable of the direct parent of a [`BinaryRole::Process`].
        Parent = "parent",
        /// A library loaded by a listed process (SCC `libraries[]`, GuardDuty
        /// `context.libraryPath`).
        Library = "library",
        /// A script run by an interpreter (SCC `script`, GuardDuty `context.scriptPath`); the
        /// interpreter is the process binary.
        Script = "script",
        /// The process that wrote or modified the file (GuardDuty `context.modifyingProcess`).
        ModifyingProcess = "modifying-process",
        /// Any process further up the tree (GuardDuty `lineage[]`, SCC grandparents).
        Ancestor = "ancestor",
    }
}

/// What the detector claims happened, independent of vendor spelling.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    /// A binary not in the image, or modified from it, was executed (SCC `Added Binary
    /// Executed`, GuardDuty `NewBinaryExecuted`, Falco `Drop and execute new binary in
    /// container`).
    AddedBinary,
    /// A library not in the image, or modified from it, was loaded.
    AddedLibrary,
    /// An added binary that threat intelligence marks malicious.
    AddedMaliciousBinary,
    /// An image binary modified at runtime and marked malicious.
    ModifiedMaliciousBinary,
    /// An unmodified image binary marked malicious: the manifest will call it a match.
    BuiltInMaliciousBinary,
    /// Execution from memory (memfd) or `/dev/shm`.
    Fileless,
    /// Any other category, as the detector spelled it.
    Other(String),
}

impl Category {
    /// The stable kebab-case code (`other` for [`Category::Other`]; the raw spelling is in
    /// [`Finding::raw_category`]).
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::AddedBinary => "added-binary",
            Self::AddedLibrary => "added-library",
            Self::AddedMaliciousBinary => "added-malicious-binary",
            Self::ModifiedMaliciousBinary => "modified-malicious-binary",
            Self::BuiltInMaliciousBinary => "built-in-malicious-binary",
            Self::Fileless => "fileless",
            Self::Other(_) => "other",
        }
    }

    /// Maps an SCC category or module name: case-insensitive, `_`/`-` read as spaces, with an
    /// optional tactic prefix (`Execution: `, `Privilege Escalation: `, `Defense Evasion: `).
    #[must_use]
    pub fn from_scc(raw: &str) -> Self {
        scc::category(raw)
    }

    /// Maps a GuardDuty finding type by its threat family name (the part after `/`),
    /// case-insensitively.
    #[must_use]
    pub fn from_guardduty(raw: &str) -> Self {
        guardduty::category(raw)
    }

    /// Maps a Falco rule name, case-insensitively.
    #[must_use]
    pub fn from_falco(raw: &str) -> Self {
        falco::category(raw)
    }
}

impl Serialize for Category {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

/// The image the binary ran in, as the finding names it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageRef {
    /// The reference as deployed: `repo[:tag][@digest]` (SCC `uri`, GuardDuty `image`,
    /// Falco repository, tag and digest).
    pub reference: Option<String>,
    /// Every sha256 digest the finding carries for the image, deduplicated, in the order
    /// found: from the reference, and SCC `imageId` (an index, manifest or config digest;
    /// which one is not said).
    pub digests: Vec<Sha256Digest>,
    /// The reference names no digest and no digest was found: it is a mutable tag, to be
    /// resolved now (and said so) or taken from the cluster.
    pub tag_only: bool,
    /// Why the image is unknown although the finding lists containers: they name different
    /// images and nothing in the finding says which one the binary ran in (for example
    /// `2 containers with different images (app: reg/a@sha256:…, sidecar: reg/b:1) and no
    /// Container_Name to choose`). When set, `reference` and `digests` are empty: picking
    /// one would judge the binary against an image it may never have been in.
    pub ambiguity: Option<String>,
}

impl ImageRef {
    /// An image reference and any digests it contains. A malformed `@sha256:` part is
    /// skipped (the reference is kept as given).
    #[must_use]
    pub fn from_reference(reference: &str) -> Self {
        let mut image = ImageBuilder::default();
        image.reference(reference);
        if let Ok(Some(digest)) = reference_digest(reference) {
            image.digest(digest);
        }
        image.finish()
    }
}

/// One file the finding names, with the evidence about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Binary {
    /// What the file was to the finding.
    pub role: BinaryRole,
    /// The path as the detector reports it (resolved exe path where the detector has one).
    pub path: Option<String>,
    /// The detector's sha256 of the file (or of its first `hashed_size` bytes).
    pub sha256: Option<Sha256Digest>,
    /// The file size in bytes (SCC only).
    pub size: Option<u64>,
    /// How many leading bytes `sha256` covers (SCC only).
    pub hashed_size: Option<u64>,
    /// `sha256` covers only the first `hashed_size` bytes: compare it with a prefix hash only.
    pub partially_hashed: bool,
    /// The file lives in memory or nowhere (memfd, `(deleted)`, `/proc/self/fd`, `/dev/shm`):
    /// no manifest lookup applies.
    pub fileless: bool,
    /// The process id, where reported.
    pub pid: Option<i64>,
    /// The process arguments (SCC `args[]`; Falco `proc.cmdline` split on whitespace, which
    /// loses quoting). At most [`MAX_ARGS`].
    pub args: Vec<String>,
    /// The reported path was cut to [`MAX_TEXT_BYTES`]: a cut path must never be taken as a
    /// match. Only the path: cut arguments are [`Binary::args_truncated`].
    pub truncated: bool,
    /// The arguments are incomplete: cut by us ([`MAX_TEXT_BYTES`] each, [`MAX_ARGS`] in all)
    /// or by the detector (SCC `argumentsTruncated`). Says nothing about the path.
    pub args_truncated: bool,
}

impl Binary {
    /// A binary with only a role and a path.
    fn new(role: BinaryRole, path: Option<&str>) -> Self {
        let (path, truncated) = match path {
            Some(path) => {
                let (path, cut) = cap_text(path);
                (Some(path), cut)
            }
            None => (None, false),
        };
        Self {
            fileless: path.as_deref().is_some_and(is_fileless_path),
            role,
            path,
            sha256: None,
            size: None,
            hashed_size: None,
            partially_hashed: false,
            pid: None,
            args: Vec::new(),
            truncated,
            args_truncated: false,
        }
    }

    /// Keeps at most [`MAX_ARGS`] arguments of at most [`MAX_TEXT_BYTES`] each; anything cut
    /// sets [`Binary::args_truncated`], never [`Binary::truncated`].
    fn push_arg(&mut self, arg: &str) {
        if self.args.len() >= MAX_ARGS {
            self.args_truncated = true;
            return;
        }
        let (arg, cut) = cap_text(arg);
        self.args_truncated |= cut;
        self.args.push(arg);
    }
}

/// Where the finding happened and what the responder's playbook needs; every field optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Context {
    /// GCP project (id or display name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// GCP organization id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// Kubernetes / ECS cluster name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// GCP location or zone of the cluster or service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Kubernetes namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Kubernetes pod.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// Workload name when it is not a pod (GuardDuty workload of another type, Cloud Run
    /// service).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    /// Workload kind (`deployments`, `cloud-run-service`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload_kind: Option<String>,
    /// The name of the container the binary ran in (the one whose image is
    /// [`Finding::image`]): what `kubectl -c` takes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Container id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// The Kubernetes node name, as `kubectl cordon` and the `k8s_node` log filter take it:
    /// SCC the VM name at the end of `kubernetes.nodes[].name` (else `VM_Instance_Name`),
    /// GuardDuty the instance's private DNS name, Falco `hostname`. Absent rather than
    /// anything that is not a valid node name (an EC2 instance id, a resource URI), or when
    /// the finding names several different nodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The cloud VM the node runs on, by id: the EC2 instance id (GuardDuty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// AWS account id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// AWS region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The affected resource: SCC `resourceName` (full resource name), GuardDuty ECS task or
    /// cluster ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// Host that reported the event (Falco).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The detector within the vendor: SCC `parentDisplayName`, GuardDuty
    /// `service.featureName`, Falco `source`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detector: Option<String>,
    /// The user the process ran as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// SCC finding state (`ACTIVE`, `INACTIVE`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// SCC mute state (`MUTED`, `UNMUTED`, `UNDEFINED`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mute: Option<String>,
    /// SCC notification config that sent the finding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_config: Option<String>,
}

/// A runtime finding about executed or loaded files, normalised across detectors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// The detector.
    pub source: Source,
    /// The input document it came from (`findings.json#3`, `stdin line 7`, `flags`).
    pub document: String,
    /// The detector's id: SCC finding `name`, GuardDuty `id`, Falcosidekick `uuid`, or for
    /// plain Falco `rule@time[@hostname]`; the document label when the finding has none.
    /// De-duplicate on `(source, id)`: detectors re-send findings as they update.
    pub id: String,
    /// What the detector claims.
    pub category: Category,
    /// The category, type or rule as the detector spelled it.
    pub raw_category: String,
    /// Severity, upper-case: SCC enum name, GuardDuty band (`LOW`, `MEDIUM`, `HIGH`,
    /// `CRITICAL`), Falco priority.
    pub severity: Option<String>,
    /// When it happened, as the detector wrote it (RFC 3339 for all three).
    pub event_time: Option<String>,
    /// The image the binaries ran in.
    pub image: ImageRef,
    /// Every file the finding names, in document order.
    pub binaries: Vec<Binary>,
    /// Where it happened.
    pub context: Context,
}

/// What is wrong with a field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The field is absent but required.
    Missing,
    /// The value has the wrong type or form.
    Expected {
        /// What was expected, e.g. `an integer or a numeric string`.
        expected: &'static str,
        /// What came instead, briefly (long strings are cut).
        got: String,
    },
    /// A list has more entries than this tool accepts.
    TooMany {
        /// The limit.
        limit: usize,
    },
}

impl Problem {
    /// `expected`, where the string `text` came (quoted briefly).
    fn expected_string(expected: &'static str, text: &str) -> Self {
        Self::Expected {
            expected,
            got: format!("the string {:?}", field::preview(text)),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("missing"),
            Self::Expected { expected, got } => write!(f, "expected {expected} (got {got})"),
            Self::TooMany { limit } => write!(f, "more than {limit} entries"),
        }
    }
}

/// Why a document or a finding could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The text is not JSON.
    #[error("{document}: not JSON")]
    NotJson {
        /// The document label.
        document: String,
        /// The parse error (with line and column).
        #[source]
        source: serde_json::Error,
    },
    /// The document is JSON but not an object.
    #[error("{document}: expected a finding object (got {got})")]
    NotAnObject {
        /// The document label.
        document: String,
        /// What it is instead.
        got: &'static str,
    },
    /// The object has none of the keys of a known finding shape.
    #[error(
        "{document}: not a known finding shape (keys: {keys}); expected a Google SCC finding or notification, an AWS GuardDuty finding or EventBridge event, or a Falco event"
    )]
    UnknownShape {
        /// The document label.
        document: String,
        /// Its first few keys.
        keys: String,
    },
    /// A field has the wrong type or an unusable value, or a required one is missing.
    #[error("{document}: {vendor} finding: field {field}: {problem}")]
    Field {
        /// The document label.
        document: String,
        /// Whose shape the document was read as.
        vendor: Source,
        /// The field path, in the document's key spelling
        /// (`finding.processes[0].binary.hashedSize`).
        field: String,
        /// What is wrong.
        problem: Problem,
    },
    /// serde refused the document although it is valid JSON (for example a key given twice).
    #[error("{document}: {vendor} finding: unreadable")]
    Malformed {
        /// The document label.
        document: String,
        /// Whose shape the document was read as.
        vendor: Source,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// A document or a JSON line is longer than [`MAX_DOCUMENT_BYTES`]; it is skipped, the
    /// rest of the input is read.
    #[error("{document}: longer than {limit} bytes (one document or line may be at most that)")]
    TooLarge {
        /// The document label.
        document: String,
        /// The limit, in bytes.
        limit: usize,
    },
    /// Reading the input failed; nothing after the failure was read.
    #[error("{document}: cannot read the input")]
    Read {
        /// The input's label.
        document: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `--input-format` names no known format.
    #[error("unknown input format {0:?}: expected auto, scc, guardduty or falco")]
    UnknownInputFormat(String),
    /// A text that is no [`Source::code`].
    #[error("{0:?} is not a finding source (one of {codes})", codes = Source::ALL.map(Source::code).join(", "))]
    UnknownSource(String),
}

impl Error {
    /// The document label, when the error is about one.
    #[must_use]
    pub fn document(&self) -> Option<&str> {
        match self {
            Self::NotJson { document, .. }
            | Self::NotAnObject { document, .. }
            | Self::UnknownShape { document, .. }
            | Self::Field { document, .. }
            | Self::Malformed { document, .. }
            | Self::TooLarge { document, .. }
            | Self::Read { document, .. } => Some(document),
            Self::UnknownInputFormat(_) | Self::UnknownSource(_) => None,
        }
    }

    fn field(document: &str, vendor: Source, case: Case, error: &FieldError) -> Self {
        Self::Field {
            document: document.to_owned(),
            vendor,
            field: error.path(case),
            problem: error.problem.clone(),
        }
    }

    /// The error for a part of `document` that serde refused although it is JSON, read as
    /// `vendor`'s: for `map_err`.
    fn malformed(document: &str, vendor: Source) -> impl Fn(serde_json::Error) -> Self + Copy {
        move |source| Self::Malformed {
            document: document.to_owned(),
            vendor,
            source,
        }
    }
}

/// Reads findings from `reader` and calls `each` with every one, in input order, holding at
/// most one document in memory (at most [`MAX_DOCUMENT_BYTES`]) however long the input.
///
/// The input is one JSON document, a top-level JSON array of documents, JSON lines, or
/// concatenated pretty-printed documents (`jq '.Findings[]'` without `-c`); a UTF-8 byte
/// order mark at the start is skipped. `label` names the input (file path or `stdin`).
///
/// One `Result` per finding, so one bad finding does not stop the batch. An `Err` names its
/// document:
///
/// - a single document is `<label>`; the elements of a top-level array (read one at a time,
///   never the whole array) `<label>#<index>` (0-based);
/// - if the first line is a JSON value on its own, the input is JSON lines, labelled
///   `<label> line <n>` (1-based), each line independent, so a line that is not JSON or is
///   too long costs only itself;
/// - otherwise the documents are labelled by the line they start on;
/// - a document that holds several findings (`Findings`, `listFindingsResults`, an array on
///   a JSON line) adds `#<index>` for each.
///
/// Where the boundaries of what follows cannot be trusted (a syntax error in a top-level
/// array or in concatenated documents) the error is the last result. The serde error behind
/// a "not JSON" error counts lines and columns from the start of its document.
///
/// # Errors
///
/// [`Error::Read`] when reading fails; the findings read before were handed to `each`.
pub fn read_findings(
    reader: impl io::Read,
    label: &str,
    format: InputFormat,
    each: &mut dyn FnMut(Result<Finding, Error>),
) -> Result<(), Error> {
    let mut found = Vec::new();
    stream::documents(reader, label, &mut |document| match document {
        Ok(document) => {
            parse_object(document.json, &document.label, format, 0, &mut found);
            for result in found.drain(..) {
                each(result);
            }
        }
        Err(error) => each(Err(error)),
    })
}

/// Parses one input text into findings: [`read_findings`] over a string, collected.
///
/// Empty input yields no results.
#[must_use]
pub fn parse_findings(
    input: &str,
    label: &str,
    format: InputFormat,
) -> Vec<Result<Finding, Error>> {
    let mut out = Vec::new();
    // Reading a string cannot fail; were it to, the error is one more result.
    if let Err(error) = read_findings(input.as_bytes(), label, format, &mut |result| {
        out.push(result);
    }) {
        out.push(Err(error));
    }
    out
}

/// The JSON type of a value's text, for messages.
pub(crate) fn json_kind(json: &str) -> &'static str {
    match json.trim_start().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// Parses one document (which must be an object) and adds its findings to `out`.
fn parse_object(
    json: &str,
    label: &str,
    format: InputFormat,
    depth: usize,
    out: &mut Vec<Result<Finding, Error>>,
) {
    if !json.trim_start().starts_with('{') {
        out.push(Err(Error::NotAnObject {
            document: label.to_owned(),
            got: json_kind(json),
        }));
        return;
    }
    let object = match serde_json::from_str::<RawObject<'_>>(json) {
        Ok(object) => object,
        Err(source) => {
            out.push(Err(Error::NotJson {
                document: label.to_owned(),
                source,
            }));
            return;
        }
    };

    // Envelopes first, whatever the format: a Pub/Sub push may carry any vendor's payload.
    // (Falco's optional `message` is a string, so it is not mistaken for one.)
    if let Some(message) = object.get(PUSH_MESSAGE)
        && depth < MAX_NESTING
        && (object.has("subscription") || message.get().starts_with('{'))
    {
        parse_push(message, label, format, depth, out);
        return;
    }

    let format = match format {
        InputFormat::Auto => sniff(&object),
        forced => Some(forced),
    };
    match format {
        Some(InputFormat::Scc) => scc::parse(&object, json, label, out),
        Some(InputFormat::GuardDuty) => guardduty::parse(&object, json, label, out),
        Some(InputFormat::Falco) => out.push(falco::parse(json, label)),
        Some(InputFormat::Auto) | None => out.push(Err(Error::UnknownShape {
            document: label.to_owned(),
            keys: object.key_list(),
        })),
    }
}

/// Which vendor's shape an object has, from its top-level keys.
fn sniff(object: &RawObject<'_>) -> Option<InputFormat> {
    let any = |keys: &[&str]| keys.iter().any(|key| object.has(key));
    if scc::is_envelope(object) {
        return Some(InputFormat::Scc);
    }
    if guardduty::is_envelope(object) {
        return Some(InputFormat::GuardDuty);
    }
    if object.has("output_fields") || (object.has("rule") && any(&["output", "priority"])) {
        return Some(InputFormat::Falco);
    }
    if any(&[
        "category",
        "resourceName",
        "resource_name",
        "findingClass",
        "finding_class",
        "canonicalName",
        "canonical_name",
    ]) {
        return Some(InputFormat::Scc);
    }
    if any(&["schemaVersion", "SchemaVersion", "Type", "Service"])
        || (object.has("type") && object.has("service"))
    {
        return Some(InputFormat::GuardDuty);
    }
    None
}

/// The key of a Pub/Sub push envelope's message.
const PUSH_MESSAGE: &str = "message";

wire_object! {
    /// A Pub/Sub push envelope's `message` (the fields read).
    struct PushMessage<'a>: Exact {
        data: Scalar<'a> = "data",
    }
}

/// Unwraps a Pub/Sub push envelope: `message.data` is base64 of the real document.
fn parse_push(
    message: &RawValue,
    label: &str,
    format: InputFormat,
    depth: usize,
    out: &mut Vec<Result<Finding, Error>>,
) {
    match push_data(message) {
        Ok(text) => {
            let before = out.len();
            parse_object(&text, label, format, depth + 1, out);
            // Errors inside the payload: say where the payload was.
            for result in out.iter_mut().skip(before) {
                if let Err(Error::Field { field, .. }) = result {
                    *field = format!("message.data(base64).{field}");
                }
            }
        }
        Err(error) => {
            // Pub/Sub is Google's, but the payload may be anyone's (Falcosidekick publishes too).
            let vendor = match format {
                InputFormat::GuardDuty => Source::GuardDuty,
                InputFormat::Falco => Source::Falco,
                InputFormat::Auto | InputFormat::Scc => Source::Scc,
            };
            out.push(Err(Error::field(label, vendor, Case::Camel, &error)));
        }
    }
}

/// The decoded text of a push envelope's `message.data`.
fn push_data(message: &RawValue) -> Result<String, FieldError> {
    let parsed =
        serde_json::from_str::<field::Obj<PushMessage<'_>>>(message.get()).map_err(|_| {
            At::under(Seg::Raw(PUSH_MESSAGE), message).error(Problem::Expected {
                expected: "an object",
                got: "an object with a key given twice".to_owned(),
            })
        })?;
    // An absent (`null`) message is one without data.
    let absent = PushMessage::default();
    let message = At::under(Seg::Raw(PUSH_MESSAGE), &parsed)
        .object()?
        .unwrap_or(At::under(Seg::Raw(PUSH_MESSAGE), &absent));
    let data = message.data();
    let text = data.required_text()?;
    let compact: Cow<'_, str> = if text.contains(char::is_whitespace) {
        Cow::Owned(text.split_whitespace().collect())
    } else {
        Cow::Borrowed(text)
    };
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    let bytes = engines
        .iter()
        .find_map(|engine| engine.decode(compact.as_bytes()).ok())
        .ok_or_else(|| data.error(Problem::expected_string("base64", text)))?;
    String::from_utf8(bytes).map_err(|_| {
        data.error(Problem::Expected {
            expected: "base64 of UTF-8 JSON",
            got: "bytes that are not UTF-8".to_owned(),
        })
    })
}

/// A finding from plain command-line flags: "this path (with this hash) ran in this image".
///
/// The image is kept as given; a digest in it (`repo@sha256:…`, or a bare `sha256:…`) is
/// extracted, a malformed one ignored (validate flags before calling if that matters).
#[must_use]
pub fn from_flags(path: &str, sha256: Option<Sha256Digest>, image: &str) -> Finding {
    let mut binary = Binary::new(
        BinaryRole::Process,
        Some(path).filter(|path| !path.is_empty()),
    );
    binary.sha256 = sha256;
    let image = image.trim();
    Finding {
        source: Source::Flags,
        document: "flags".to_owned(),
        id: "flags".to_owned(),
        category: Category::AddedBinary,
        raw_category: "flags".to_owned(),
        severity: None,
        event_time: None,
        image: if image.is_empty() {
            ImageRef::default()
        } else {
            ImageRef::from_reference(image)
        },
        binaries: vec![binary],
        context: Context::default(),
    }
}

/// Whether a reported executable path denotes a file with no place in any image filesystem:
/// a memfd, a deleted file, an fd path (`fexecve`), or `/dev/shm`.
#[must_use]
pub fn is_fileless_path(path: &str) -> bool {
    const PREFIXES: [&str; 7] = [
        "/memfd:",
        "memfd:",
        "/proc/self/fd/",
        "/proc/thread-self/fd/",
        "/dev/fd/",
        "/dev/shm/",
        "/run/shm/",
    ];
    if PREFIXES.iter().any(|prefix| path.starts_with(prefix)) || path.ends_with(" (deleted)") {
        return true;
    }
    // /proc/<pid>/fd/<n>
    path.strip_prefix("/proc/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(pid, rest)| {
            !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) && rest.starts_with("fd/")
        })
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the vendor modules.

/// `text` cut to [`MAX_TEXT_BYTES`] at a character boundary, and whether it was cut.
fn cap_text(text: &str) -> (String, bool) {
    if text.len() <= MAX_TEXT_BYTES {
        return (text.to_owned(), false);
    }
    let mut end = MAX_TEXT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (text[..end].to_owned(), true)
}

/// `text` cut to [`MAX_TEXT_BYTES`], for context fields.
fn owned(text: &str) -> String {
    cap_text(text).0
}

/// A string that SCC documents as "JSON encoded": decoded when it is a quoted JSON string.
fn unquote(text: &str) -> Cow<'_, str> {
    if text.len() >= 2
        && text.starts_with('"')
        && text.ends_with('"')
        && let Ok(decoded) = serde_json::from_str::<String>(text)
    {
        return Cow::Owned(decoded);
    }
    Cow::Borrowed(text)
}

/// A file hash: 64 hex digits, with or without `sha256:`.
fn parse_sha256(text: &str) -> Result<Sha256Digest, Problem> {
    let hex = text.strip_prefix("sha256:").unwrap_or(text);
    Sha256Digest::from_hex(hex)
        .map_err(|_| Problem::expected_string("a sha256 of 64 hex digits", text))
}

/// The sha256 digest an image reference or image id carries, if any.
///
/// Accepts `repo[:tag]@sha256:<hex>`, a bare `sha256:<hex>` or 64-hex image id, and runtime
/// prefixes such as `docker-pullable://`. A digest of another algorithm yields `None`; a
/// malformed `sha256:` digest is an error.
fn reference_digest(reference: &str) -> Result<Option<Sha256Digest>, Problem> {
    let text = reference
        .split_once("://")
        .map_or(reference, |(_, rest)| rest)
        .trim();
    let malformed =
        || Problem::expected_string("an image reference with a valid sha256 digest", reference);
    let digest = if let Some(hex) = text.strip_prefix("sha256:") {
        hex
    } else if let Some((_, digest)) = text.rsplit_once('@') {
        match digest.strip_prefix("sha256:") {
            Some(hex) => hex,
            None => return Ok(None),
        }
    } else if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        text
    } else {
        return Ok(None);
    };
    Sha256Digest::from_hex(digest)
        .map(Some)
        .map_err(|_| malformed())
}

/// Collects an [`ImageRef`].
#[derive(Default)]
struct ImageBuilder {
    reference: Option<String>,
    digests: Vec<Sha256Digest>,
}

impl ImageBuilder {
    fn reference(&mut self, reference: &str) {
        let reference = reference.trim();
        if self.reference.is_none() && !reference.is_empty() {
            self.reference = Some(owned(reference));
        }
    }

    fn digest(&mut self, digest: Sha256Digest) {
        if !self.digests.contains(&digest) {
            self.digests.push(digest);
        }
    }

    fn finish(self) -> ImageRef {
        let tag_only = self.digests.is_empty()
            && self
                .reference
                .as_deref()
                .is_some_and(|reference| !reference.contains('@'));
        ImageRef {
            reference: self.reference,
            digests: self.digests,
            tag_only,
            ambiguity: None,
        }
    }
}

/// A container entry of a finding: a candidate for "the container the binary ran in".
#[derive(Clone, Debug, Default)]
struct ContainerEntry<'c> {
    /// The container's name, as the entry gives it.
    name: Option<&'c str>,
    /// The image the entry names, if it names one.
    image: Option<EntryImage<'c>>,
}

/// The image a container entry names: a reference, digests, or both.
#[derive(Clone, Debug, Default)]
struct EntryImage<'c> {
    reference: Option<&'c str>,
    digests: Vec<Sha256Digest>,
}

impl<'c> EntryImage<'c> {
    /// The image named by `reference` alone; a malformed digest in it is ignored (callers that
    /// must refuse one check it where they read the field).
    fn from_reference(reference: &'c str) -> Self {
        Self {
            reference: Some(reference),
            digests: reference_digest(reference)
                .ok()
                .flatten()
                .into_iter()
                .collect(),
        }
    }

    /// Whether two entries provably name one image: they share a digest; or neither has a
    /// digest and the references are equal; or one is the other's tag pinned by a digest
    /// (`repo:1` and `repo:1@sha256:…`). Anything else counts as different, so that two
    /// images are never merged into one by a guess.
    fn same_as(&self, other: &Self) -> bool {
        match (self.digests.is_empty(), other.digests.is_empty()) {
            (false, false) => self
                .digests
                .iter()
                .any(|digest| other.digests.contains(digest)),
            (true, true) => self.reference.map(str::trim) == other.reference.map(str::trim),
            (false, true) => Self::pins(self.reference, other.reference),
            (true, false) => Self::pins(other.reference, self.reference),
        }
    }

    /// Whether `pinned` (which has a digest) is the tag reference `tag` plus the digest.
    fn pins(pinned: Option<&str>, tag: Option<&str>) -> bool {
        let (Some(pinned), Some(tag)) = (pinned.map(str::trim), tag.map(str::trim)) else {
            return false;
        };
        pinned == tag || pinned.rsplit_once('@').is_some_and(|(name, _)| name == tag)
    }

    /// Adds what `other` (the same image) knows: its digests, and its reference if this has
    /// none.
    fn merge(&mut self, other: &Self) {
        self.reference = self.reference.or(other.reference);
        for digest in &other.digests {
            if !self.digests.contains(digest) {
                self.digests.push(*digest);
            }
        }
    }

    /// A short description for messages: the reference, else the first digest.
    fn describe(&self) -> String {
        const SHOWN: usize = 100;
        let text = match (self.reference, self.digests.first()) {
            (Some(reference), _) => reference.trim().to_owned(),
            (None, Some(digest)) => digest.to_string(),
            (None, None) => "no image".to_owned(),
        };
        let mut chars = text.char_indices();
        match chars.nth(SHOWN) {
            Some((end, _)) => format!("{}…", &text[..end]),
            None => text,
        }
    }

    fn finish(&self) -> ImageRef {
        let mut image = ImageBuilder::default();
        if let Some(reference) = self.reference {
            image.reference(reference);
        }
        for digest in &self.digests {
            image.digest(*digest);
        }
        image.finish()
    }
}

/// How the finding names the container the binary ran in, for choosing among its container
/// entries and for saying why no choice was possible.
#[derive(Clone, Copy, Debug)]
enum ContainerSelector<'s> {
    /// The finding names no container (`fields` says which fields would have).
    Nothing { fields: &'static str },
    /// `field` names the container `value`, which `matched` some entries or none.
    Named {
        field: &'static str,
        value: &'s str,
        matched: bool,
    },
}

impl ContainerSelector<'_> {
    /// Why no image could be chosen among `count` different ones (listed in `list`).
    fn ambiguity(self, count: usize, list: &str, hint: Option<(&str, &str)>) -> String {
        let mut why = match self {
            Self::Nothing { fields } => {
                format!(
                    "{count} containers with different images ({list}) and no {fields} to choose"
                )
            }
            Self::Named {
                field,
                value,
                matched: true,
            } => format!(
                "{field} {:?} matches {count} containers with different images ({list})",
                field::preview(value)
            ),
            Self::Named {
                field,
                value,
                matched: false,
            } => format!(
                "{field} {:?} matches no container, and {count} containers have different images ({list})",
                field::preview(value)
            ),
        };
        if let Some((field, value)) = hint {
            why.push_str(&format!(
                "; {field} {:?} does not single one out",
                field::preview(value)
            ));
        }
        why
    }
}

/// The container chosen among a finding's entries.
struct ChosenContainer<'c> {
    /// Its image, or an [`ImageRef`] with only [`ImageRef::ambiguity`] set.
    image: ImageRef,
    /// Its name, when the chosen entries agree on one.
    name: Option<&'c str>,
}

/// Chooses the image of the container the binary ran in among `pool` (the entries that match
/// how the finding names the container, or all of them when it names none or no entry
/// matches).
///
/// Entries that name one image (see [`EntryImage::same_as`]) are one candidate. Exactly one
/// candidate is the answer. Several are narrowed by `hint` (`field`, reference: an image
/// reference the finding gives for the container, SCC `Container_Image_Uri`); if that does not
/// leave exactly one, the image is unknown and [`ImageRef::ambiguity`] says why. `None` when
/// no entry in the pool names an image.
fn choose_container<'c>(
    pool: &[&ContainerEntry<'c>],
    selector: ContainerSelector<'_>,
    hint: Option<(&str, &str)>,
) -> Option<ChosenContainer<'c>> {
    let mut candidates: Vec<(EntryImage<'c>, Vec<&'c str>)> = Vec::new();
    for entry in pool {
        let Some(image) = &entry.image else {
            continue;
        };
        let index = match candidates
            .iter()
            .position(|(known, _)| known.same_as(image))
        {
            Some(index) => {
                candidates[index].0.merge(image);
                index
            }
            None => {
                candidates.push((image.clone(), Vec::new()));
                candidates.len() - 1
            }
        };
        let names = &mut candidates[index].1;
        if let Some(name) = entry.name
            && !names.contains(&name)
        {
            names.push(name);
        }
    }
    if candidates.len() > 1
        && let Some((_, reference)) = hint
    {
        let hinted = EntryImage::from_reference(reference);
        let matching: Vec<usize> = (0..candidates.len())
            .filter(|&index| candidates[index].0.same_as(&hinted))
            .collect();
        if let [only] = matching[..] {
            candidates = vec![candidates.swap_remove(only)];
        }
    }
    match &candidates[..] {
        [] => None,
        [(image, names)] => Some(ChosenContainer {
            image: image.finish(),
            name: match names[..] {
                [name] => Some(name),
                _ => None,
            },
        }),
        several => {
            const SHOWN: usize = 4;
            let mut list = several
                .iter()
                .take(SHOWN)
                .map(|(image, names)| {
                    let names = match names[..] {
                        [] => "unnamed".to_owned(),
                        _ => names
                            .iter()
                            .map(|name| field::preview(name))
                            .collect::<Vec<_>>()
                            .join("/"),
                    };
                    format!("{names}: {}", image.describe())
                })
                .collect::<Vec<_>>()
                .join(", ");
            if several.len() > SHOWN {
                list.push_str(", …");
            }
            Some(ChosenContainer {
                image: ImageRef {
                    ambiguity: Some(owned(&selector.ambiguity(several.len(), &list, hint))),
                    ..ImageRef::default()
                },
                name: None,
            })
        }
    }
}

/// The Kubernetes node name in what a detector reports as the node: a plain name, or the
/// last segment of a resource name that ends `instances/NAME` (a Compute Engine VM: GKE
/// gives a node its VM's name) or `nodes/NAME`. `None` unless the result is a name the API
/// server accepts for a node (an RFC 1123 subdomain), so a playbook never prints a
/// `kubectl cordon` that cannot work.
fn node_name(reported: &str) -> Option<&str> {
    let reported = reported.trim();
    let name = if reported.contains('/') {
        let mut segments = reported.rsplit('/');
        let name = segments.next()?;
        matches!(segments.next(), Some("instances" | "nodes")).then_some(name)?
    } else {
        reported
    };
    is_node_name(name).then_some(name)
}

/// An RFC 1123 subdomain, as Kubernetes requires of node names: at most 253 characters,
/// dot-separated labels of lower-case letters, digits and `-` that start and end with a
/// letter or digit.
fn is_node_name(name: &str) -> bool {
    let alphanumeric = |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit();
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            let bytes = label.as_bytes();
            match (bytes.first(), bytes.last()) {
                (Some(&first), Some(&last)) => {
                    alphanumeric(first)
                        && alphanumeric(last)
                        && bytes.iter().all(|&byte| alphanumeric(byte) || byte == b'-')
                }
                _ => false,
            }
        })
}

/// Rules every vendor shares, applied once the finding is assembled.
fn finish(mut finding: Finding) -> Finding {
    for binary in &mut finding.binaries {
        if let (Some(hashed), Some(size)) = (binary.hashed_size, binary.size)
            && hashed < size
        {
            binary.partially_hashed = true;
        }
        if finding.category == Category::Fileless && binary.role == BinaryRole::Process {
            binary.fileless = true;
        }
    }
    finding
}

/// An optional context string, capped.
fn context_text(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|text| !text.is_empty() && *text != "<NA>")
        .map(owned)
}

/// Reads the findings a document lists under `key` (SCC `listFindingsResults`, GuardDuty
/// `Findings`): each element is one finding, labelled `<label>#<index>` and read by `read`
/// (its JSON text and label); an element that is not an object is an error for itself alone,
/// a `key` that holds no array one for the document.
fn listed_findings(
    list: &RawValue,
    key: &'static str,
    vendor: Source,
    label: &str,
    out: &mut Vec<Result<Finding, Error>>,
    read: impl Fn(&str, &str) -> Result<Finding, Error>,
) {
    let list = match serde_json::from_str::<List<&RawValue>>(list.get()) {
        Ok(list) => list,
        Err(source) => {
            out.push(Err(Error::malformed(label, vendor)(source)));
            return;
        }
    };
    let elements = match At::under(Seg::Raw(key), &list).items() {
        Ok(elements) => elements,
        Err(error) => {
            out.push(Err(Error::field(label, vendor, Case::Camel, &error)));
            return;
        }
    };
    for (index, element) in elements.values().iter().enumerate() {
        let label = format!("{label}#{index}");
        let json = element.get();
        out.push(if json.starts_with('{') {
            read(json, &label)
        } else {
            Err(Error::NotAnObject {
                got: json_kind(json),
                document: label,
            })
        });
    }
}

/// A vendor's case table: the keys whose presence says a finding is spelled in `case` rather
/// than camelCase. Only used to print error paths as the document spells them.
struct CaseTable {
    case: Case,
    keys: &'static [&'static str],
}

impl CaseTable {
    /// The spelling of the finding `json`.
    fn case_of(&self, json: &str) -> Case {
        match serde_json::from_str::<RawObject<'_>>(json) {
            Ok(object) if self.keys.iter().any(|key| object.has(key)) => self.case,
            _ => Case::Camel,
        }
    }
}

/// The category `name` (a vendor's category, type or rule, as its module normalises it)
/// stands for in the vendor's `table`, matched without regard to ASCII case; unknown names
/// are [`Category::Other`] with the `raw` spelling.
fn category_in(table: &[(&str, Category)], name: &str, raw: &str) -> Category {
    table
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map_or_else(
            || Category::Other(owned(raw.trim())),
            |(_, category)| category.clone(),
        )
}

#[cfg(test)]
mod tests;
