//! `exelock scan`: its flags, the settings they resolve to, and the run.
//!
//! [`ScanSettings::resolve`] reads the `--from-file` list, the registry credentials and the
//! cache flags, picks the output format and checks the output paths before any image is opened;
//! [`run_scan`] then scans one image, or several together, and writes the manifests. Rendering
//! is [`super::render::scan`]'s.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use super::color::ColorWhen;
use super::{
    ExitStatus, ImageAccess, ImageAccessArgs, Progress, parse_platform, render, selection_of,
    write_atomically,
};
use crate::catalog::{self, ScanOptions, ScanRequest};
use crate::image::{self, Platform};
use crate::manifest::Manifest;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(super) enum ScanFormat {
    /// The manifest as JSON (an array of manifests with --all-platforms).
    Json,
    /// A table for people, with a one-line summary.
    Table,
}

/// `exelock scan`'s help after the options (`$ ` lines are run by the test suite).
pub(super) const SCAN_AFTER_HELP: &str = r#"Image references: REGISTRY/REPO[:TAG][@DIGEST] (docker:// optional), oci:PATH[:REF],
oci-archive:FILE[:REF], docker-archive:FILE, docker-archive:- and oci-archive:- (stdin),
docker:NAME[:TAG|@DIGEST] and podman:NAME[:TAG|@DIGEST] (the local engine, through its API
socket: DOCKER_HOST, else the engine's default socket). A bare name is always a registry image,
never the local engine's: `exelock scan app` asks Docker Hub; write docker:app or podman:app for
the image `docker build -t app .` made.

Examples:
  $ exelock scan oci:testdata/images/demo --format table
  $ exelock scan oci-archive:testdata/images/tiny.oci.tar --format json
  $ exelock scan docker-archive:testdata/images/demo.docker25.tar --format table -q
  $ exelock scan oci:testdata/images/multiarch --platform linux/arm64 --format table
  $ exelock scan oci:testdata/images/multiarch --all-platforms -o /tmp/exelock-example-manifests.json
  $ exelock scan oci:testdata/bad/digest-mismatch --no-cache   # exit 2: a layer does not match its digest

With a local engine or a registry:
  exelock scan docker:app:latest
  docker save app | exelock scan docker-archive:-
  exelock scan ghcr.io/org/app@sha256:… --platform linux/arm64
  echo "$TOKEN" | exelock scan registry.example/app:v1 --username ci --password-stdin"#;

#[derive(Args, Debug)]
pub(super) struct ScanArgs {
    #[arg(
        help = "The image: REGISTRY/REPO[:TAG][@DIGEST], oci:PATH[:REF], oci-archive:FILE[:REF], docker-archive:FILE, docker-archive:- (stdin), docker:NAME or podman:NAME (the local engine; a bare name is a registry image)"
    )]
    images: Vec<String>,
    /// Also scan the images listed in FILE, one reference a line (`#` starts a comment). With
    /// several images: one manifest per image, as JSON lines (or files in --output-dir).
    #[arg(long, value_name = "FILE")]
    from_file: Option<PathBuf>,
    /// Write one manifest file per image into DIR (named after the reference), as `-o` would.
    #[arg(long, value_name = "DIR", conflicts_with = "output")]
    output_dir: Option<PathBuf>,
    /// Output format; defaults to `table` on a terminal and `json` otherwise or with -o.
    #[arg(long, value_enum)]
    format: Option<ScanFormat>,
    /// Write the output to FILE (atomically: nothing is written when the scan fails).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Scan this platform of a multi-platform index: os/arch[/variant]. Default: linux/amd64.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", conflicts_with = "all_platforms", value_parser = parse_platform)]
    platform: Option<Platform>,
    /// Scan every platform image of a multi-platform index.
    #[arg(long)]
    all_platforms: bool,
    /// Layers decoded in parallel (default: one per core).
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    threads: usize,
    #[command(flatten)]
    access: ImageAccessArgs,
}

/// `exelock scan`, resolved: what to scan, from where, and where the manifests go.
pub(super) struct ScanSettings {
    images: Images,
    access: ImageAccess,
    threads: usize,
    all_platforms: bool,
}

/// One image, or several scanned together.
enum Images {
    /// One image named once (no --from-file, no --output-dir): its manifest, or an array of them
    /// with --all-platforms, as JSON or a table, to stdout or FILE.
    One {
        reference: String,
        format: ScanFormat,
        file: Option<PathBuf>,
    },
    /// Several images.
    Many {
        references: Vec<String>,
        output: FleetOutput,
    },
}

/// Where the manifests of several images go.
enum FleetOutput {
    /// One manifest a line (JSON lines), or a table each, to stdout or FILE.
    Lines {
        format: ScanFormat,
        file: Option<PathBuf>,
    },
    /// One JSON file per image in the directory, named by [`output_file_name`], in reference
    /// order.
    Directory { dir: PathBuf, files: Vec<String> },
}

impl ScanSettings {
    /// Resolves the flags: the references (arguments, then --from-file), the registry
    /// credentials for them, the layer cache, the output format (a table on a terminal, JSON
    /// otherwise) and the output files, which must not collide.
    pub(super) fn resolve(args: &ScanArgs) -> Result<Self> {
        let references = scan_references(args)?;
        let access = args.access.resolve(
            &references.iter().map(String::as_str).collect::<Vec<_>>(),
            selection_of(args.platform.as_ref(), args.all_platforms),
        )?;
        let format = args.format.unwrap_or(
            if args.output.is_none() && args.output_dir.is_none() && std::io::stdout().is_terminal()
            {
                ScanFormat::Table
            } else {
                ScanFormat::Json
            },
        );
        let images = match (&args.output_dir, references.as_slice()) {
            (Some(_), _) if format == ScanFormat::Table => {
                anyhow::bail!("--output-dir writes JSON manifests; drop --format table")
            }
            (Some(dir), _) => Images::Many {
                output: FleetOutput::Directory {
                    dir: dir.clone(),
                    files: output_files(&references)?,
                },
                references,
            },
            (None, [reference]) if args.from_file.is_none() => Images::One {
                reference: reference.clone(),
                format,
                file: args.output.clone(),
            },
            (None, _) => Images::Many {
                references,
                output: FleetOutput::Lines {
                    format,
                    file: args.output.clone(),
                },
            },
        };
        Ok(Self {
            images,
            access,
            threads: args.threads,
            all_platforms: args.all_platforms,
        })
    }
}

/// Scans and writes the manifests.
pub(super) fn run_scan(settings: &ScanSettings, color: ColorWhen) -> Result<ExitStatus> {
    match &settings.images {
        Images::One {
            reference,
            format,
            file,
        } => {
            let manifests = settings.access.scan(reference, settings.threads)?;
            if *format == ScanFormat::Table && file.is_none() {
                let mut stdout = color.stdout();
                stdout.write_all(render::scan::styled_tables(&manifests).as_bytes())?;
                stdout.flush()?;
            } else {
                let rendered = render_manifests(&manifests, *format, settings.all_platforms)?;
                write_output(file.as_deref(), &rendered)?;
            }
            Ok(ExitStatus::Success)
        }
        Images::Many { references, output } => run_fleet_scan(settings, references, output),
    }
}

/// Each image's file in --output-dir; two references that would share one are refused.
fn output_files(references: &[String]) -> Result<Vec<String>> {
    let names: Vec<String> = references.iter().map(|r| output_file_name(r)).collect();
    let mut seen = std::collections::BTreeMap::new();
    for (name, reference) in names.iter().zip(references) {
        if let Some(other) = seen.insert(name, reference) {
            anyhow::bail!(
                "{other} and {reference} would both be written to {name} in --output-dir; list each image once"
            );
        }
    }
    Ok(names)
}

/// The scan's output: one manifest as JSON, an array of them with --all-platforms, or tables.
fn render_manifests(
    manifests: &[Manifest],
    format: ScanFormat,
    all_platforms: bool,
) -> Result<Vec<u8>> {
    Ok(match format {
        ScanFormat::Json if all_platforms => {
            let mut out = serde_json::to_vec_pretty(manifests)?;
            out.push(b'\n');
            out
        }
        ScanFormat::Json => manifests
            .iter()
            .map(Manifest::to_json)
            .collect::<Result<Vec<_>, _>>()?
            .concat(),
        ScanFormat::Table => render::scan::tables(manifests).into_bytes(),
    })
}

/// Writes to FILE (atomically) or stdout.
fn write_output(path: Option<&Path>, rendered: &[u8]) -> Result<()> {
    match path {
        Some(path) => write_atomically(path, rendered)?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(rendered)?;
            stdout.flush()?;
        }
    }
    Ok(())
}

/// The references to scan: the arguments, then the lines of --from-file (text after `#` is a
/// comment; blank lines are skipped).
fn scan_references(args: &ScanArgs) -> Result<Vec<String>> {
    let mut references = args.images.clone();
    if let Some(path) = &args.from_file {
        let text = fs_err::read_to_string(path).context("cannot read the --from-file list")?;
        references.extend(
            text.lines()
                .map(|line| line.split('#').next().unwrap_or_default().trim())
                .filter(|line| !line.is_empty())
                .map(str::to_owned),
        );
    }
    if references.is_empty() {
        anyhow::bail!(
            "no image to scan: name one (`exelock scan --help` lists the forms), or list them in a file given with --from-file"
        );
    }
    Ok(references)
}

/// The file `--output-dir` holds an image's manifest in: the reference with every character
/// other than ASCII letters, digits, `.`, `_` and `-` replaced by `_`.
fn output_file_name(reference: &str) -> String {
    let name: String = reference
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{}.json", name.trim_start_matches('.'))
}

/// Scans several images together (each distinct layer once) and writes one manifest per
/// image: JSON lines (or tables) on stdout or -o FILE, or one file per image in --output-dir. An
/// image that fails is reported and the others still written; the exit status is then 2.
fn run_fleet_scan(
    settings: &ScanSettings,
    references: &[String],
    output: &FleetOutput,
) -> Result<ExitStatus> {
    let ImageAccess {
        platforms: selection,
        registry,
        cache,
        quiet,
    } = &settings.access;
    let cache = cache.as_ref();
    let mut failed = false;
    let mut opened = Vec::new();
    for (owner, reference) in references.iter().enumerate() {
        let resolved = image::open(reference, registry).and_then(|source| {
            let resolution = source.resolve(selection)?;
            Ok((source, resolution))
        });
        match resolved {
            Ok((source, resolution)) => {
                if !*quiet {
                    for note in &resolution.notes {
                        eprintln!("note: {note}");
                    }
                }
                opened.push((owner, source, resolution.images));
            }
            Err(error) => {
                eprintln!("error: {:#}", anyhow::Error::from(error));
                failed = true;
            }
        }
    }
    let mut owners = Vec::new();
    let mut requests = Vec::new();
    for (owner, source, images) in &opened {
        for image in images {
            owners.push(*owner);
            requests.push(ScanRequest {
                source: source.as_ref(),
                image,
            });
        }
    }
    let total = requests
        .iter()
        .flat_map(|request| &request.image.layers)
        .map(|layer| layer.size)
        .sum::<Option<u64>>();
    let progress = Progress::new(
        *quiet,
        total,
        format!("scanning {} images", references.len()),
    );
    let on_read = |bytes: u64| progress.advance(bytes);
    let options = ScanOptions {
        threads: settings.threads,
        on_read: Some(&on_read),
        cache,
    };
    let results = catalog::scan_images(&requests, &options);
    progress.finish();
    let mut manifests: Vec<Option<Vec<Manifest>>> = references
        .iter()
        .enumerate()
        .map(|(owner, _)| opened.iter().any(|(o, ..)| *o == owner).then(Vec::new))
        .collect();
    for (owner, result) in owners.into_iter().zip(results) {
        match result {
            Ok(scanned) => {
                if !*quiet {
                    for warning in &scanned.warnings {
                        eprintln!("warning: {warning}");
                    }
                }
                if let Some(list) = &mut manifests[owner] {
                    list.push(scanned.manifest);
                }
            }
            Err(error) => {
                eprintln!("error: {:#}", anyhow::Error::from(error));
                manifests[owner] = None;
                failed = true;
            }
        }
    }
    match output {
        FleetOutput::Directory { dir, files } => {
            fs_err::create_dir_all(dir).context("cannot create the --output-dir directory")?;
            for (list, file) in manifests.iter().zip(files) {
                if let Some(list) = list {
                    let rendered =
                        render_manifests(list, ScanFormat::Json, settings.all_platforms)?;
                    write_atomically(&dir.join(file), &rendered)?;
                }
            }
        }
        FleetOutput::Lines { format, file } => {
            let mut rendered = Vec::new();
            for manifest in manifests.iter().flatten().flatten() {
                match format {
                    ScanFormat::Json => {
                        serde_json::to_writer(&mut rendered, manifest)?;
                        rendered.push(b'\n');
                    }
                    ScanFormat::Table => {
                        rendered.extend_from_slice(render::scan::table(manifest).as_bytes());
                        rendered.push(b'\n');
                    }
                }
            }
            write_output(file.as_deref(), &rendered)?;
        }
    }
    Ok(if failed {
        ExitStatus::Error
    } else {
        ExitStatus::Success
    })
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::{output_file_name, output_files};

    #[rstest]
    #[case("oci:testdata/images/demo", "oci_testdata_images_demo.json")]
    #[case(
        "registry.example:5000/team/app:v1",
        "registry.example_5000_team_app_v1.json"
    )]
    #[case("ghcr.io/a/b@sha256:ab", "ghcr.io_a_b_sha256_ab.json")]
    #[case("oci:../x", "oci_.._x.json")]
    #[case("../../etc", "_.._etc.json")]
    fn output_files_stay_in_the_directory(#[case] reference: &str, #[case] name: &str) {
        assert_eq!(output_file_name(reference), name);
        assert!(!output_file_name(reference).contains('/'));
    }

    #[test]
    fn references_sharing_a_file_are_refused() {
        let references = ["oci:a/b".to_owned(), "oci:a_b".to_owned()];
        let error = output_files(&references).unwrap_err().to_string();
        assert_eq!(
            error,
            "oci:a/b and oci:a_b would both be written to oci_a_b.json in --output-dir; list each image once"
        );
    }
}
