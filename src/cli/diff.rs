//! `exelock diff` on the command line: the two sides and the output format resolved into
//! [`DiffSettings`], both manifests read or scanned, compared by `crate::diff`, and written as
//! JSON or as the table `render::diff` makes.

use std::io::{IsTerminal, Write};

use anyhow::Result;
use clap::Args;

use super::color::ColorWhen;
use super::scan::ScanFormat;
use super::{
    ExitStatus, ImageAccess, ImageAccessArgs, Platform, parse_platform, render, selection_of,
};
use crate::diff;

/// `exelock diff`'s one-line description.
pub(super) const DIFF_ABOUT: &str = r"Compare the executables of two images or manifest files: added, removed, changed, moved; and their OS packages";

/// `exelock diff`'s help after the options (`$ ` lines are run by the test suite).
pub(super) const DIFF_AFTER_HELP: &str = r"A and B are image references or manifest files written by `exelock scan -o`.
When both record package data (format 2), it also lists OS packages added, removed or at another
version (by name, arch and database) and executables whose bytes stopped matching their package
(`altered`); when only one does, it says packages were not compared.
Exit code 0 whatever the differences; use `exelock gate` with a [baseline] rule to fail on them.

Examples:
  $ exelock diff oci:testdata/images/tiny oci:testdata/images/demo --format table
  $ exelock diff oci:testdata/images/demo docker-archive:testdata/images/demo.docker.tar --format json
  $ exelock diff oci:testdata/images/twice oci-archive:testdata/images/twice.oci.tar --format table -q";

#[derive(Args, Debug)]
pub(super) struct DiffArgs {
    /// The old image or manifest file.
    a: String,
    /// The new image or manifest file.
    b: String,
    /// Output format; defaults to `table` on a terminal and `json` otherwise.
    #[arg(long, value_enum)]
    format: Option<ScanFormat>,
    /// Platform to compare for multi-platform images (default linux/amd64).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", value_parser = parse_platform)]
    platform: Option<Platform>,
    #[command(flatten)]
    access: ImageAccessArgs,
}

/// `exelock diff` resolved: the two sides, how to read them, and the output format.
struct DiffSettings {
    /// The old image or manifest file.
    a: String,
    /// The new image or manifest file.
    b: String,
    /// How to read them: the platform to compare, registries, the layer cache, quiet.
    images: ImageAccess,
    /// `--format`, else a table on a terminal and JSON otherwise.
    format: ScanFormat,
}

impl DiffSettings {
    fn resolve(args: &DiffArgs) -> Result<Self> {
        Ok(Self {
            a: args.a.clone(),
            b: args.b.clone(),
            images: args.access.resolve(
                &[&args.a, &args.b],
                selection_of(args.platform.as_ref(), false),
            )?,
            format: args.format.unwrap_or(if std::io::stdout().is_terminal() {
                ScanFormat::Table
            } else {
                ScanFormat::Json
            }),
        })
    }
}

/// Resolves, reads both sides, compares, writes.
pub(super) fn run_diff(args: &DiffArgs, color: ColorWhen) -> Result<ExitStatus> {
    let settings = DiffSettings::resolve(args)?;
    let a = settings.images.manifest_of(&settings.a)?;
    let b = settings.images.manifest_of(&settings.b)?;
    let changes = diff::diff(&a, &b);
    match settings.format {
        ScanFormat::Json => {
            let mut out = serde_json::to_vec_pretty(&serde_json::json!({
                "a": a.image,
                "b": b.image,
                "diff": changes,
            }))?;
            out.push(b'\n');
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&out)?;
            stdout.flush()?;
        }
        ScanFormat::Table => {
            let mut stdout = color.stdout();
            stdout.write_all(render::diff::table(&changes).as_bytes())?;
            stdout.flush()?;
        }
    }
    Ok(ExitStatus::Success)
}
