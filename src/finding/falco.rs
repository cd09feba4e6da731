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

use super::field::{At, Case, FieldError, Obj, Scalar, wire_object};
use super::{
    Binary, BinaryRole, Category, Context, Error, Finding, ImageBuilder, ImageRef, Problem, Source,
    category_in, context_text, finish, owned, parse_sha256,
};

/// The Falco rules that report an added binary or fileless execution.
static CATEGORIES: [(&str, Category); 3] = [
    (
        "Drop and execute new binary in container",
        Category::AddedBinary,
    ),
    ("Fileless execution via memfd_create", Category::Fileless),
    ("Execution from /dev/shm", Category::Fileless),
];

/// Maps a Falco rule name.
pub(super) fn category(raw: &str) -> Category {
    category_in(&CATEGORIES, raw.trim(), raw)
}

wire_object! {
    /// A Falco or Falcosidekick payload (the fields read).
    struct Payload<'a>: Exact {
        uuid: Scalar<'a> = "uuid",
        rule: Scalar<'a> = "rule",
        priority: Scalar<'a> = "priority",
        time: Scalar<'a> = "time",
        source: Scalar<'a> = "source",
        hostname: Scalar<'a> = "hostname",
        output_fields: Obj<OutputFields<'a>> = "output_fields",
    }
}

wire_object! {
    /// `output_fields` (the fields read).
    struct OutputFields<'a>: Dotted {
        exepath: Scalar<'a> = "proc.exepath",
        pid: Scalar<'a> = "proc.pid",
        cmdline: Scalar<'a> = "proc.cmdline",
        is_exe_from_memfd: Scalar<'a> = "proc.is_exe_from_memfd",
        pexepath: Scalar<'a> = "proc.pexepath",
        ppid: Scalar<'a> = "proc.ppid",
        container_id: Scalar<'a> = "container.id",
        container_full_id: Scalar<'a> = "container.full_id",
        container_name: Scalar<'a> = "container.name",
        image: Scalar<'a> = "container.image",
        repository: Scalar<'a> = "container.image.repository",
        tag: Scalar<'a> = "container.image.tag",
        digest: Scalar<'a> = "container.image.digest",
        pod: Scalar<'a> = "k8s.pod.name",
        namespace: Scalar<'a> = "k8s.ns.name",
        user: Scalar<'a> = "user.name",
    }
}

/// A Falco string: `null`, `""` and `<NA>` are absent.
fn text<'v>(field: At<'v, '_, Scalar<'_>>) -> Result<Option<&'v str>, FieldError> {
    Ok(field.text()?.filter(|text| *text != "<NA>"))
}

/// Reads one Falco or Falcosidekick payload.
pub(super) fn parse(json: &str, label: &str) -> Result<Finding, Error> {
    let payload = serde_json::from_str::<Payload<'_>>(json)
        .map_err(Error::malformed(label, Source::Falco))?;
    convert(At::root(&payload), label)
        .map_err(|error| Error::field(label, Source::Falco, Case::Camel, &error))
}

fn convert(payload: At<'_, '_, Payload<'_>>, label: &str) -> Result<Finding, FieldError> {
    let rule_field = payload.rule();
    let rule = text(rule_field)?.ok_or_else(|| rule_field.error(Problem::Missing))?;
    let time = text(payload.time())?;
    let hostname = text(payload.hostname())?;
    let id = match text(payload.uuid())? {
        Some(uuid) => owned(uuid),
        None => match (time, hostname) {
            (Some(time), Some(hostname)) => owned(&format!("{rule}@{time}@{hostname}")),
            (Some(time), None) => owned(&format!("{rule}@{time}")),
            (None, _) => label.to_owned(),
        },
    };
    let severity = text(payload.priority())?.map(|priority| owned(&priority.to_uppercase()));

    let mut context = Context {
        hostname: context_text(hostname),
        // Falco's Helm chart sets the hostname to the node name; a hostname that is no valid
        // node name is kept as the hostname only.
        node: hostname.and_then(super::node_name).map(owned),
        detector: context_text(text(payload.source())?),
        ..Context::default()
    };
    let (image, binaries) = match payload.output_fields().object()? {
        Some(fields) => read_fields(fields, &mut context)?,
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
    fields: At<'_, '_, OutputFields<'_>>,
    context: &mut Context,
) -> Result<(ImageRef, Vec<Binary>), FieldError> {
    let mut binaries = Vec::new();
    let exepath = text(fields.exepath())?;
    let memfd = fields.is_exe_from_memfd().flag()?.unwrap_or(false);
    let pid = fields.pid().int()?;
    let cmdline = text(fields.cmdline())?;
    if exepath.is_some() || memfd || pid.is_some() || cmdline.is_some() {
        let mut binary = Binary::new(BinaryRole::Process, exepath);
        binary.fileless |= memfd;
        binary.pid = pid;
        for arg in cmdline.unwrap_or("").split_whitespace() {
            binary.push_arg(arg);
        }
        binaries.push(binary);
    }
    if let Some(parent) = text(fields.pexepath())? {
        let mut binary = Binary::new(BinaryRole::Parent, Some(parent));
        binary.pid = fields.ppid().int()?;
        binaries.push(binary);
    }

    let full_id = text(fields.container_full_id())?;
    let short_id = text(fields.container_id())?;
    context.container_id = context_text(full_id.or(short_id));
    context.container = context_text(text(fields.container_name())?);
    context.pod = context_text(text(fields.pod())?);
    context.namespace = context_text(text(fields.namespace())?);
    context.user = context_text(text(fields.user())?);

    let repository = text(fields.repository())?;
    let tag = text(fields.tag())?;
    let digest_field = fields.digest();
    let digest = digest_field.check(text(digest_field)?.map(parse_sha256).transpose())?;
    let full_image = text(fields.image())?;
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
