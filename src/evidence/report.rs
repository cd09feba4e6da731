//! A finding's judged binaries, as `triage --format jsonl` prints them and `serve` stores them.

use serde::Serialize;

use crate::bake::BakeEntry;
use crate::finding::{self, Finding};
use crate::triage::{self, Allowlist, Judgement, ManifestFor, Playbook, Response, Verdict};

/// A finding's judged binaries and the playbook for it: one JSON line of `triage --format
/// jsonl`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FindingReport {
    /// The document the finding was read from.
    pub document: String,
    /// The detector.
    pub source: finding::Source,
    /// The detector's finding id.
    pub id: String,
    /// What the detector claims happened.
    pub category: finding::Category,
    /// The detector's own spelling of it.
    pub raw_category: String,
    /// The image judged against ([`super::ImageQuery::label`]); none when the finding named
    /// none.
    pub image: Option<String>,
    /// Every binary, judged.
    pub binaries: Vec<JudgedBinary>,
    /// What to do about the finding as a whole, when anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub playbook: Option<Playbook>,
}

/// One judged binary and the response to it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JudgedBinary {
    /// The verdict and its evidence.
    #[serde(flatten)]
    pub judgement: Judgement,
    /// What to do.
    pub response: Response,
}

impl FindingReport {
    /// The report for a finding whose image could not be had: every binary `unverifiable`
    /// (or `fileless`), saying why. `image` is the image's label when the finding named one.
    #[must_use]
    pub fn unresolved(
        finding: &Finding,
        image: Option<String>,
        reason: &str,
        allowlist: &Allowlist,
    ) -> Self {
        Self::judged(finding, image, ManifestFor::Unavailable(reason), allowlist)
    }

    pub(super) fn judged(
        finding: &Finding,
        image: Option<String>,
        manifests: ManifestFor<'_, '_>,
        allowlist: &Allowlist,
    ) -> Self {
        let judgements = judge_finding(finding, manifests, allowlist);
        let playbook = triage::playbook(finding, &judgements);
        let binaries = judgements
            .into_iter()
            .map(|judgement| JudgedBinary {
                response: triage::response(finding, &judgement),
                judgement,
            })
            .collect();
        Self {
            document: finding.document.clone(),
            source: finding.source,
            id: finding.id.clone(),
            category: finding.category.clone(),
            raw_category: finding.raw_category.clone(),
            image,
            binaries,
            playbook,
        }
    }

    /// Whether any binary calls for containment or investigation.
    #[must_use]
    pub fn needs_action(&self) -> bool {
        self.binaries
            .iter()
            .any(|binary| binary.judgement.needs_action)
    }

    /// Every binary's verdict, in order.
    #[must_use]
    pub fn verdicts(&self) -> Vec<Verdict> {
        self.binaries
            .iter()
            .map(|binary| binary.judgement.verdict)
            .collect()
    }

    /// The legitimate binaries to bake into the next build.
    pub fn bake_entries(&self) -> impl Iterator<Item = &BakeEntry> {
        self.binaries
            .iter()
            .filter_map(|binary| binary.judgement.bake.as_ref())
    }
}

/// Every binary of a finding judged; a finding that names none is one `unverifiable`
/// judgement, never silence.
fn judge_finding(
    finding: &Finding,
    manifests: ManifestFor<'_, '_>,
    allowlist: &Allowlist,
) -> Vec<Judgement> {
    if finding.binaries.is_empty() {
        return vec![triage::nothing_to_judge(manifests)];
    }
    finding
        .binaries
        .iter()
        .map(|binary| triage::judge(finding, binary, manifests, allowlist))
        .collect()
}
