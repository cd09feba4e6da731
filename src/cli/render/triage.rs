//! The text `exelock triage` writes for people: one block per finding. Pure: no I/O.

use std::fmt::Write as _;

use crate::cli::{color, terminal_safe};
use crate::evidence::FindingReport;
use crate::finding::Finding;
use crate::manifest::PackageDigest;
use crate::triage::Provenance;

/// [`report_text`] as it is written to a terminal: control characters escaped, the verdict
/// words styled (kept or stripped by the output stream as `--color` resolves).
pub fn styled_report(finding: &Finding, report: &FindingReport) -> String {
    color::triage_text(&terminal_safe(&report_text(finding, report)))
}

/// The text report on one finding: per binary its verdict, the evidence, the response and its
/// steps; then the playbook for the whole finding. Plain: finding and manifest content as
/// given, no styles.
pub fn report_text(finding: &Finding, report: &FindingReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} finding {} ({}{}) from {}",
        finding.source,
        finding.id,
        finding.raw_category,
        finding
            .severity
            .as_deref()
            .map_or(String::new(), |s| format!(", {s}")),
        finding.document
    );
    if let Some(image) = &report.image {
        let _ = writeln!(out, "  image: {image}");
    }
    for judged in &report.binaries {
        let judgement = &judged.judgement;
        let _ = writeln!(
            out,
            "  [{}] {}  sha256:{}  =>  {}{}  ({})",
            judgement.role.code(),
            judgement.path.as_deref().unwrap_or("<no path>"),
            judgement.sha256.map_or_else(
                || "<none>".to_owned(),
                |digest| digest.hex()[..16].to_owned()
            ),
            judgement.verdict.code().to_uppercase(),
            if judgement.malicious {
                ", MALICIOUS"
            } else {
                ""
            },
            judged.response.action.code()
        );
        let evidence = &judgement.evidence;
        let _ = writeln!(out, "      compared: {}", evidence.compared);
        if let Some(provenance) = &evidence.provenance {
            let _ = writeln!(
                out,
                "      manifest: {} {}{} {}",
                evidence.image.as_deref().unwrap_or_default(),
                evidence
                    .manifest_digest
                    .map(|digest| digest.to_string())
                    .unwrap_or_default(),
                evidence
                    .platform
                    .as_deref()
                    .map_or_else(String::new, |platform| format!(" ({platform})")),
                match provenance {
                    Provenance::Signed { signer, origin } =>
                        format!("signed by {signer} ({origin})"),
                    Provenance::Unsigned { file } => format!("UNSIGNED (manifest file {file})"),
                }
            );
        }
        for entry in &evidence.entries {
            let package = match (&entry.package, entry.package_digest) {
                (Some(package), digest) => format!(
                    ", package {} {} ({}){}",
                    package.name,
                    package.version,
                    package.db,
                    digest.map_or(String::new(), |digest| format!(" {}", digest.code()))
                ),
                (None, Some(PackageDigest::Unowned)) => ", no package".to_owned(),
                (None, _) => String::new(),
            };
            let _ = writeln!(
                out,
                "      entry: {} sha256:{} ({} bytes, layer {} {}{package})",
                entry.path,
                entry.sha256.hex(),
                entry.size,
                entry.layer,
                entry
                    .layer_digest
                    .map(|digest| digest.to_string())
                    .unwrap_or_default()
            );
        }
        if let Some(allowed) = &evidence.allowlist {
            let _ = writeln!(
                out,
                "      allowlist: sha256:{} {}",
                allowed.sha256.hex(),
                allowed.source.as_deref().unwrap_or_default()
            );
        }
        for note in &evidence.notes {
            let _ = writeln!(out, "      note: {note}");
        }
        let _ = writeln!(out, "      => {}", judged.response.summary);
        for (number, step) in judged.response.steps.iter().enumerate() {
            let _ = writeln!(out, "         {}. {step}", number + 1);
        }
    }
    if let Some(playbook) = &report.playbook {
        let _ = writeln!(out, "  playbook ({}):", playbook.action.code());
        for (number, step) in playbook.steps.iter().enumerate() {
            let _ = writeln!(out, "     {}. {step}", number + 1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attest::keys::PublicKey;
    use crate::attest::{Trust, TrustedRoot};
    use crate::evidence::{ImagePrefixes, ImageQuery, Offline, Resolver};
    use crate::finding::{self, InputFormat};
    use crate::image::registry::SourceSettings;
    use crate::triage::Allowlist;

    /// The demo image, which `testdata/examples/demo.bundle.json` attests.
    const DEMO: &str = "registry.example/demo@sha256:5a95a69e6f29c81410312fe91ce4f629133e8a47afce25c743b74d3f28ecdddf";

    /// `finding`'s report against the demo image's signed manifest, verified offline from its
    /// bundle (paths are relative to the package root, where tests run).
    fn judged(finding: &Finding) -> FindingReport {
        let key =
            PublicKey::from_pem(&fs_err::read("testdata/attest/keys/openssl_p256.pub").unwrap())
                .unwrap();
        let trust = Trust::Key {
            key,
            trusted_root: TrustedRoot::public_good().unwrap(),
        };
        let resolver = Resolver::new(Some(trust), SourceSettings::new())
            .with_offline(Offline::Bundle("testdata/examples/demo.bundle.json".into()));
        let query = ImageQuery::for_finding(finding, None).unwrap();
        resolver.resolve(&query).unwrap().index().judge(
            finding,
            &ImagePrefixes::default(),
            &Allowlist::default(),
        )
    }

    fn by_hand(path: &str, sha256: &str) -> Finding {
        finding::from_flags(path, Some(sha256.parse().unwrap()), DEMO)
    }

    #[test]
    fn an_unchanged_binary_with_its_evidence() {
        let finding = by_hand(
            "/bin/busybox",
            "sha256:b40c9612ceb20de779263a7f44814cf4d64416c9c7d75ba1bf1d833362aced50",
        );
        insta::assert_snapshot!(report_text(&finding, &judged(&finding)), @r"
    flags finding flags (flags) from flags
      image: registry.example/demo@sha256:5a95a69e6f29c81410312fe91ce4f629133e8a47afce25c743b74d3f28ecdddf
      [process] /bin/busybox  sha256:b40c9612ceb20de7  =>  UNCHANGED  (none)
          compared: the path /bin/busybox and sha256 b40c9612ceb20de779263a7f44814cf4d64416c9c7d75ba1bf1d833362aced50 against 10 executables of the image
          manifest: oci:testdata/images/demo sha256:5a95a69e6f29c81410312fe91ce4f629133e8a47afce25c743b74d3f28ecdddf (linux/amd64) signed by key 08de0fa03bf23af356ae4e02f98fec4019f0919283c9c9b874ef4ba743f75b74 (bundle file testdata/examples/demo.bundle.json)
          entry: /bin/busybox sha256:b40c9612ceb20de779263a7f44814cf4d64416c9c7d75ba1bf1d833362aced50 (16709 bytes, layer 0 sha256:dce9f5da0db8bdc424a011ede500a4618936c0c2f7aaf1ded8c4ba689a2af6bb, no package)
          note: /bin/busybox is not from a package of the image
          => /bin/busybox is the image's own binary, unchanged: nothing to rebuild
             1. the detector saw an image file as new, typically after a chmod/chown copied it up to the container's writable layer: remove that chmod/chown from the entrypoint or image build, or mute this finding for this image digest
    ");
    }

    #[test]
    fn a_falco_finding_without_hash_and_its_playbook() {
        let json = fs_err::read_to_string("testdata/examples/falco-added-binary.json").unwrap();
        let finding = finding::parse_findings(
            &json,
            "testdata/examples/falco-added-binary.json",
            InputFormat::Auto,
        )
        .remove(0)
        .unwrap();
        insta::assert_snapshot!(report_text(&finding, &judged(&finding)), @r"
    falco finding Drop and execute new binary in container@2026-11-21T10:13:20.123456789Z@ip-10-0-3-17.eu-west-1.compute.internal (Drop and execute new binary in container, CRITICAL) from testdata/examples/falco-added-binary.json
      image: registry.example/demo:1.0@sha256:5a95a69e6f29c81410312fe91ce4f629133e8a47afce25c743b74d3f28ecdddf
      [process] /usr/local/bin/migrate  sha256:<none>  =>  UNVERIFIABLE  (investigate)
          compared: the path /usr/local/bin/migrate against 10 executables: the image has it, but the finding carries no hash, so it may be the image's binary or a replacement
          manifest: oci:testdata/images/demo sha256:5a95a69e6f29c81410312fe91ce4f629133e8a47afce25c743b74d3f28ecdddf (linux/amd64) signed by key 08de0fa03bf23af356ae4e02f98fec4019f0919283c9c9b874ef4ba743f75b74 (bundle file testdata/examples/demo.bundle.json)
          entry: /usr/local/bin/migrate sha256:0bf59a27e043d94c8187b56d4e34691ba4a63ba8f29117b27a49c61399569752 (32 bytes, layer 2 sha256:0af1aa2c226c19cddd62b8c56e489c3869dcc42eae998925e18a3cd490f49495, no package)
          note: to decide, hash the running file (kubectl exec … -- sha256sum /usr/local/bin/migrate) and compare with the image's 0bf59a27e043d94c8187b56d4e34691ba4a63ba8f29117b27a49c61399569752
          => /usr/local/bin/migrate: exelock could not prove it either way; investigate, and contain until you can
             1. kubectl cp demo/demo-7d9f8b6c5-qwert:/usr/local/bin/migrate ./evidence/migrate -c demo  # keep the binary as evidence
             2. kubectl exec -n demo demo-7d9f8b6c5-qwert -c demo -- sha256sum /usr/local/bin/migrate  # the image's file is 0bf59a27e043d94c8187b56d4e34691ba4a63ba8f29117b27a49c61399569752: equal means the image's binary
      playbook (investigate):
         1. kubectl exec -n demo demo-7d9f8b6c5-qwert -c demo -- ps -ef
         2. Falco: review the events of container 3ad8c2f1b7e4 on host ip-10-0-3-17.eu-west-1.compute.internal around 2026-11-21T10:13:20.123456789Z
         3. isolate: kubectl label pod -n demo demo-7d9f8b6c5-qwert quarantine=true --overwrite; cordon the node: kubectl cordon ip-10-0-3-17.eu-west-1.compute.internal
         4. then delete the pod so it is recreated from the image, and rotate credentials it could reach
         5. MITRE ATT&CK: T1105 Ingress Tool Transfer, T1106 Native API
    ");
    }

    #[test]
    fn only_the_verdict_is_styled_and_what_a_finding_says_is_escaped() {
        let finding = by_hand(
            "/usr/local/bin/mi\u{1b}[2Jner",
            "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
        );
        let styled = styled_report(&finding, &judged(&finding));
        assert!(
            styled.contains("  =>  \u{1b}[1m\u{1b}[31mFOREIGN\u{1b}[0m  (contain)"),
            "{styled:?}"
        );
        assert!(
            styled.contains("/usr/local/bin/mi\\u{1b}[2Jner"),
            "{styled:?}"
        );
        let unstyled = styled.replacen("\u{1b}[1m\u{1b}[31mFOREIGN\u{1b}[0m", "FOREIGN", 1);
        assert!(
            !unstyled.contains('\u{1b}'),
            "no escape sequence but the verdict's style: {styled:?}"
        );
    }
}
