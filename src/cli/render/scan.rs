//! `scan`'s table: one row per executable, then links, hidden files and a one-line summary.

use std::fmt::Write as _;

use crate::catalog;
use crate::cli::color;
use crate::cli::terminal_safe;
use crate::digest::Sha256Digest;
use crate::manifest::Manifest;

/// One manifest's table, control characters escaped; unstyled, as files get it.
pub fn table(manifest: &Manifest) -> String {
    terminal_safe(&plain_table(manifest)).into_owned()
}

/// The tables of several manifests (the platforms of one image), a blank line between them.
pub fn tables(manifests: &[Manifest]) -> String {
    manifests.iter().map(table).collect::<Vec<_>>().join("\n")
}

/// [`tables`] for a terminal: the header rows styled.
pub fn styled_tables(manifests: &[Manifest]) -> String {
    color::scan_table(&tables(manifests))
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn short_digest(digest: Option<&Sha256Digest>) -> String {
    digest.map_or_else(
        || "none".to_owned(),
        |digest| format!("sha256:{}", &digest.hex()[..12]),
    )
}

/// The person's view of a manifest: one row per executable, then links, hidden and a summary.
fn plain_table(manifest: &Manifest) -> String {
    let path_width = manifest
        .executables
        .iter()
        .map(|exe| exe.path.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 60);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<path_width$}  {:<17}  {:>5}  {:>10}  {:<12}  LAYER",
        "PATH", "KIND", "MODE", "SIZE", "SHA256"
    );
    for exe in &manifest.executables {
        let _ = writeln!(
            out,
            "{:<path_width$}  {:<17}  {:>5}  {:>10}  {:<12}  {}",
            exe.path,
            exe.kind.code(),
            format!("{:04o}", exe.mode),
            human_size(exe.size),
            &exe.sha256.hex()[..12],
            exe.layer
        );
    }
    for link in &manifest.links {
        let _ = writeln!(out, "link    {} -> {}", link.path, link.target);
    }
    for hidden in &manifest.hidden {
        let _ = writeln!(
            out,
            "hidden  {} (sha256:{}, written by layer {}, hidden by layer {})",
            hidden.path,
            &hidden.sha256.hex()[..12],
            hidden.layer,
            hidden.hidden_by
        );
    }
    let kinds = catalog::count_kinds(&manifest.executables)
        .iter()
        .map(|(kind, count)| format!("{count} {}", kind.code()))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(
        out,
        "{} executables ({kinds}), {} links, {} hidden, {} layers; {} {} manifest {}",
        manifest.executables.len(),
        manifest.links.len(),
        manifest.hidden.len(),
        manifest.layers.len(),
        manifest.image.name,
        manifest.image.platform,
        short_digest(manifest.image.manifest_digest.as_ref()),
    );
    out
}
