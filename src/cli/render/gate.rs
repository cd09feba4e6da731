//! The gate's report for a person: a line per violation (`DENY`, `WARN`) and per rule not
//! evaluated (`SKIP`), the image digest, the attestation and the verdict.

use std::fmt::Write as _;

use crate::cli::color;
use crate::cli::terminal_safe;
use crate::gate::{GateReport, Verdict};
use crate::policy::Level;

/// The report for a terminal: control characters escaped, levels and the verdict styled.
pub fn text(report: &GateReport) -> String {
    color::gate_text(&terminal_safe(&plain_text(report)))
}

/// The word a line of the report starts with: a violation's level, or a rule not evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineMark {
    /// A violation at `deny`.
    Deny,
    /// A violation at `warn`.
    Warn,
    /// A rule that could not be evaluated.
    Skip,
}

impl LineMark {
    /// Every mark.
    pub const ALL: [Self; 3] = [Self::Deny, Self::Warn, Self::Skip];

    /// The word, as the report writes it.
    #[must_use]
    pub const fn word(self) -> &'static str {
        match self {
            Self::Deny => "DENY",
            Self::Warn => "WARN",
            Self::Skip => "SKIP",
        }
    }

    /// The mark of a violation at `level` (`off` never reaches the report).
    const fn of(level: Level) -> Self {
        match level {
            Level::Deny => Self::Deny,
            Level::Warn | Level::Off => Self::Warn,
        }
    }
}

/// How the report's last line starts for `verdict`: `gate PASS`, `gate FAIL`.
#[must_use]
pub fn verdict_prefix(verdict: Verdict) -> String {
    let word = match verdict {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
    };
    format!("gate {word}")
}

/// The report as lines for a person: each violation and rule not evaluated, the digests and
/// attestation, the verdict with counts.
fn plain_text(report: &GateReport) -> String {
    let mut out = String::new();
    for violation in &report.violations {
        let level = LineMark::of(violation.level).word();
        let _ = writeln!(
            out,
            "{level}  {:<26} {}",
            violation.rule.code(),
            violation.message
        );
    }
    for skipped in &report.skipped {
        let _ = writeln!(
            out,
            "{}  {:<26} not evaluated: {}",
            LineMark::Skip.word(),
            skipped.rule.code(),
            skipped.reason
        );
    }
    let _ = writeln!(
        out,
        "image digest: {}",
        report
            .manifest_digest
            .as_deref()
            .unwrap_or("none (a legacy docker archive names no manifest)")
    );
    let _ = writeln!(out, "attestation: {}", report.attestation);
    let denied = report
        .violations
        .iter()
        .filter(|v| v.level == Level::Deny)
        .count();
    let warned = report.violations.len() - denied;
    let skipped = if report.skipped.is_empty() {
        String::new()
    } else {
        format!(", {} not evaluated", report.skipped.len())
    };
    let _ = writeln!(
        out,
        "{}: {} ({denied} denied, {warned} warned{skipped})",
        verdict_prefix(report.verdict),
        report.image
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::{RuleId, Skipped};
    use crate::test_fixtures::failed_gate_report;

    #[test]
    fn lines_per_violation_and_skipped_rule_then_the_verdict() {
        let mut report = failed_gate_report("/usr/bin/curl is one of the downloaders");
        report.skipped.push(Skipped {
            rule: RuleId::Unowned,
            level: Level::Warn,
            reason: "no package data".into(),
        });
        assert_eq!(
            plain_text(&report),
            "DENY  setuid                     /usr/bin/sudo is setuid\n\
             WARN  hazards/downloaders        /usr/bin/curl is one of the downloaders\n\
             SKIP  unowned                    not evaluated: no package data\n\
             image digest: none (a legacy docker archive names no manifest)\n\
             attestation: missing: none\n\
             gate FAIL: reg/app:1 (1 denied, 1 warned, 1 not evaluated)\n"
        );
    }
}
