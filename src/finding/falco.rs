//! Falco events (`json_output: true`) and Falcosidekick payloads → [`Finding`].
//!
//! Schema: the JSON keys of `falcosecurity/falco` `userspace/engine/formats.cpp`
//! (<https://github.com/falcosecurity/falco/blob/master/userspace/engine/formats.cpp>:
//! `hostname`, `output`, `output_fields`, `priority`, `rule`, `source`, `tags`, `time`) plus
//! Falcosidekick's `uuid` (`types.FalcoPayload`,
//! <https://github.com/falcosecurity/falcosidekick/blob/master/types/types.go>); field names are
//! those of the rules in <https://github.com/falcosecurity/rules> and the container plugin.
//! `docs/findings.md` maps them.
//!
//! Mapping choices:
//!
//! - The executable is `proc.exepath` (the resolved path). `proc.exe` is `argv[0]`, which a
//!   process chooses freely (`exec -a /usr/bin/ls`), so it is **never** used as a path: a
//!   spoofed `argv[0]` must not make an added binary look like an image file. Without
//!   `proc.exepath` the finding has no path and `triage` calls it unverifiable.
//! - The parent is `proc.pexepath`, where the output includes it.
//! - Falco carries no hash. `proc.is_exe_from_memfd` marks the binary fileless.
//! - The image is `container.image.repository` + `:` + `container.image.tag` (else
//!   `container.image`), with `@` + `container.image.digest` when the output includes it.
//!   `null` and `<NA>` (unresolved while the container is being looked up) are absent, and a
//!   repository without tag or digest gives no reference at all: it would read as `:latest`.
//! - Arguments are `proc.cmdline` split on whitespace; Falco joins them with spaces, so
//!   quoting is lost and the first word is the process name, not `argv[0]`.
//! - The id is Falcosidekick's `uuid`, else `rule@time@hostname`.
//!
//! This module only reads JSON text it is given: no I/O, no manifest.

use serde::Deserialize;

use super::field::{At as _, Case, FieldError, Obj, Scalar, Seg};
use super::{
    Binary, BinaryRole, Category, Context, Error, Finding, ImageBuilder, ImageRef, Problem, Source,
    context_text, finish, owned, parse_sha256,
};

/// Maps a Falco rule name.
pub(super) fn category(raw: &str) -> Category {
    let rule = raw.trim();
    if rule.eq_ignore_ascii_case("Drop and execute new binary in container") {
        Category::AddedBinary
    } else if rule.eq_ignore_ascii_case("Fileless execution via memfd_create")
        || rule.eq_ignore_ascii_case("Execution from /dev/shm")
    {
        Category::Fileless
    } else {
        Category::Other(owned(rule))
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Payload<'a> {
    #[serde(borrow)]
    uuid: Scalar<'a>,
    #[serde(borrow)]
    rule: Scalar<'a>,
    #[serde(borrow)]
    priority: Scalar<'a>,
    #[serde(borrow)]
    time: Scalar<'a>,
    #[serde(borrow)]
    source: Scalar<'a>,
    #[serde(borrow)]
    hostname: Scalar<'a>,
    #[serde(borrow)]
    output_fields: Obj<OutputFields<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OutputFields<'a> {
    #[serde(borrow, rename = "proc.exepath")]
    exepath: Scalar<'a>,
    #[serde(borrow, rename = "proc.pid")]
    pid: Scalar<'a>,
    #[serde(borrow, rename = "proc.cmdline")]
    cmdline: Scalar<'a>,
    #[serde(borrow, rename = "proc.is_exe_from_memfd")]
    is_exe_from_memfd: Scalar<'a>,
    #[serde(borrow, rename = "proc.pexepath")]
    pexepath: Scalar<'a>,
    #[serde(borrow, rename = "proc.ppid")]
    ppid: Scalar<'a>,
    #[serde(borrow, rename = "container.id")]
    container_id: Scalar<'a>,
    #[serde(borrow, rename = "container.full_id")]
    container_full_id: Scalar<'a>,
    #[serde(borrow, rename = "container.name")]
    container_name: Scalar<'a>,
    #[serde(borrow, rename = "container.image")]
    image: Scalar<'a>,
    #[serde(borrow, rename = "container.image.repository")]
    repository: Scalar<'a>,
    #[serde(borrow, rename = "container.image.tag")]
    tag: Scalar<'a>,
    #[serde(borrow, rename = "container.image.digest")]
    digest: Scalar<'a>,
    #[serde(borrow, rename = "k8s.pod.name")]
    pod: Scalar<'a>,
    #[serde(borrow, rename = "k8s.ns.name")]
    namespace: Scalar<'a>,
    #[serde(borrow, rename = "user.name")]
    user: Scalar<'a>,
}

/// A Falco string: `null`, `""` and `<NA>` are absent.
fn text<'s>(value: &'s Scalar<'_>) -> Result<Option<&'s str>, Problem> {
    Ok(value.text()?.filter(|text| *text != "<NA>"))
}

/// Reads one Falco or Falcosidekick payload.
pub(super) fn parse(json: &str, label: &str) -> Result<Finding, Error> {
    let payload = serde_json::from_str::<Payload<'_>>(json).map_err(|source| Error::Malformed {
        document: label.to_owned(),
        vendor: Source::Falco,
        source,
    })?;
    convert(&payload, label)
        .map_err(|error| Error::field(label, Source::Falco, Case::Camel, &error))
}

fn convert(payload: &Payload<'_>, label: &str) -> Result<Finding, FieldError> {
    fn top<'s>(value: &'s Scalar<'_>, key: &'static str) -> Result<Option<&'s str>, FieldError> {
        text(value).at(Seg::Raw(key))
    }
    let rule = top(&payload.rule, "rule")?
        .ok_or(Problem::Missing)
        .at(Seg::Raw("rule"))?;
    let time = top(&payload.time, "time")?;
    let hostname = top(&payload.hostname, "hostname")?;
    let id = match top(&payload.uuid, "uuid")? {
        Some(uuid) => owned(uuid),
        None => match (time, hostname) {
            (Some(time), Some(hostname)) => owned(&format!("{rule}@{time}@{hostname}")),
            (Some(time), None) => owned(&format!("{rule}@{time}")),
            (None, _) => label.to_owned(),
        },
    };
    let severity =
        top(&payload.priority, "priority")?.map(|priority| owned(&priority.to_uppercase()));

    let mut context = Context {
        hostname: context_text(hostname),
        // Falco's Helm chart sets the hostname to the node name; a hostname that is no valid
        // node name is kept as the hostname only.
        node: hostname.and_then(super::node_name).map(owned),
        detector: context_text(top(&payload.source, "source")?),
        ..Context::default()
    };
    let fields = payload.output_fields.get().at(Seg::Raw("output_fields"))?;
    let (image, binaries) = match fields {
        Some(fields) => read_fields(fields, &mut context).at(Seg::Raw("output_fields"))?,
        None => (ImageRef::default(), Vec::new()),
    };

    Ok(finish(Finding {
        source: Source::Falco,
        document: label.to_owned(),
        id,
        category: category(rule),
        raw_category: owned(rule),
        severity,
        event_time: time.map(owned),
        image,
        binaries,
        context,
    }))
}

fn read_fields(
    fields: &OutputFields<'_>,
    context: &mut Context,
) -> Result<(ImageRef, Vec<Binary>), FieldError> {
    let field = |value: &Scalar<'_>, key: &'static str| -> Result<Option<String>, FieldError> {
        Ok(text(value).at(Seg::Quoted(key))?.map(str::to_owned))
    };
    let at = Seg::Quoted;

    let mut binaries = Vec::new();
    let exepath = text(&fields.exepath).at(at("proc.exepath"))?;
    let memfd = fields
        .is_exe_from_memfd
        .flag()
        .at(at("proc.is_exe_from_memfd"))?
        .unwrap_or(false);
    let pid = fields.pid.int().at(at("proc.pid"))?;
    let cmdline = text(&fields.cmdline).at(at("proc.cmdline"))?;
    if exepath.is_some() || memfd || pid.is_some() || cmdline.is_some() {
        let mut binary = Binary::new(BinaryRole::Process, exepath);
        binary.fileless |= memfd;
        binary.pid = pid;
        for arg in cmdline.unwrap_or("").split_whitespace() {
            binary.push_arg(arg);
        }
        binaries.push(binary);
    }
    if let Some(parent) = text(&fields.pexepath).at(at("proc.pexepath"))? {
        let mut binary = Binary::new(BinaryRole::Parent, Some(parent));
        binary.pid = fields.ppid.int().at(at("proc.ppid"))?;
        binaries.push(binary);
    }

    let full_id = field(&fields.container_full_id, "container.full_id")?;
    let short_id = field(&fields.container_id, "container.id")?;
    context.container_id = context_text(full_id.or(short_id).as_deref());
    context.container = context_text(field(&fields.container_name, "container.name")?.as_deref());
    context.pod = context_text(field(&fields.pod, "k8s.pod.name")?.as_deref());
    context.namespace = context_text(field(&fields.namespace, "k8s.ns.name")?.as_deref());
    context.user = context_text(field(&fields.user, "user.name")?.as_deref());

    let repository = text(&fields.repository).at(at("container.image.repository"))?;
    let tag = text(&fields.tag).at(at("container.image.tag"))?;
    let digest = text(&fields.digest)
        .at(at("container.image.digest"))?
        .map(parse_sha256)
        .transpose()
        .at(at("container.image.digest"))?;
    let full_image = text(&fields.image).at(at("container.image"))?;
    let mut image = ImageBuilder::default();
    // A repository alone is not a reference: without a tag or digest it would read as
    // `:latest`, which is a guess. `container.image` (the full name) is the fallback.
    let reference = match (repository, tag, digest, full_image) {
        (Some(repository), Some(tag), _, _) => Some(format!("{repository}:{tag}")),
        (Some(repository), None, Some(_), _) => Some(repository.to_owned()),
        (_, _, _, Some(full)) => Some(full.to_owned()),
        _ => None,
    };
    if let Some(mut reference) = reference {
        if let Some(digest) = digest
            && !reference.contains('@')
        {
            reference.push('@');
            reference.push_str(&digest.to_string());
        }
        image.reference(&reference);
        if let Ok(Some(found)) = super::reference_digest(&reference) {
            image.digest(found);
        }
    }
    if let Some(digest) = digest {
        image.digest(digest);
    }
    Ok((image.finish(), binaries))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::drop_and_execute("Drop and execute new binary in container", Category::AddedBinary)]
    #[case::case_insensitive("drop and execute new binary in container", Category::AddedBinary)]
    #[case::memfd("Fileless execution via memfd_create", Category::Fileless)]
    #[case::dev_shm("Execution from /dev/shm", Category::Fileless)]
    #[case::other("Terminal shell in container", Category::Other("Terminal shell in container".to_owned()))]
    fn falco_rules(#[case] raw: &str, #[case] expected: Category) {
        assert_eq!(category(raw), expected);
    }
}
