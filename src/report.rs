//! Renderings of a gate report for CI: SARIF 2.1.0 for code scanning, GitHub Actions workflow
//! commands (annotations), a Markdown job summary and `$GITHUB_OUTPUT` lines. Pure: strings
//! and JSON values only; the CLI decides where they go, and renders the text for a person.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::gate::{GateReport, RuleId};
use crate::policy::Level;

const fn sarif_level(level: Level) -> &'static str {
    match level {
        Level::Deny => "error",
        Level::Warn | Level::Off => "warning",
    }
}

/// The report as a SARIF 2.1.0 log. Results point at the path inside the image (code scanning
/// needs a location); findings without a path point at the policy file.
#[must_use]
pub fn sarif(report: &GateReport, policy_file: &str) -> Value {
    let rules: Vec<Value> = RuleId::ALL
        .iter()
        .map(|rule| {
            json!({
                "id": rule.code(),
                "name": rule.code().replace(['/', '-'], "_"),
                "shortDescription": {"text": rule.description()},
                "helpUri": "https://exelock.dev/docs/policy",
            })
        })
        .collect();
    let results: Vec<Value> = report
        .violations
        .iter()
        .map(|violation| {
            let uri = violation.path.as_deref().map_or_else(
                || policy_file.to_owned(),
                |path| path.trim_start_matches('/').to_owned(),
            );
            json!({
                "ruleId": violation.rule,
                "ruleIndex": violation.rule.index(),
                "level": sarif_level(violation.level),
                "message": {"text": format!("{}: {}", report.image, violation.message)},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}}}],
            })
        })
        .collect();
    // Rules that could not be evaluated are tool execution notifications, not results.
    let notifications: Vec<Value> = report
        .skipped
        .iter()
        .map(|skipped| {
            json!({
                "descriptor": {"id": skipped.rule},
                "level": "warning",
                "message": {"text": format!("{}: rule {} not evaluated: {}", report.image, skipped.rule, skipped.reason)},
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "exelock",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://exelock.dev",
                "rules": rules,
            }},
            "invocations": [{
                "executionSuccessful": true,
                "toolExecutionNotifications": notifications,
            }],
            "results": results,
        }],
    })
}

/// Escapes a workflow-command message (`%`, CR, LF).
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow-command property value (also `:` and `,`).
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// One `::error` / `::warning` workflow command per violation.
#[must_use]
pub fn github_annotations(report: &GateReport) -> String {
    let mut out = String::new();
    for violation in &report.violations {
        let command = match violation.level {
            Level::Deny => "error",
            Level::Warn | Level::Off => "warning",
        };
        let _ = writeln!(
            out,
            "::{command} title={}::{}",
            escape_property(&format!("exelock {}", violation.rule)),
            escape_data(&format!("{}: {}", report.image, violation.message))
        );
    }
    for skipped in &report.skipped {
        let _ = writeln!(
            out,
            "::warning title={}::{}",
            escape_property(&format!("exelock {} not evaluated", skipped.rule)),
            escape_data(&format!("{}: {}", report.image, skipped.reason))
        );
    }
    out
}

fn escape_markdown(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// One output of the gate step on GitHub Actions (`manifest-digest`, `verdict`, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionOutput {
    /// The output's name, as the Action declares it.
    pub name: &'static str,
    /// Its value: a digest, a word, or empty when there is none.
    pub value: String,
}

/// A Markdown job summary: verdict, digests, a table of violations.
#[must_use]
pub fn github_summary(report: &GateReport, outputs: &[ActionOutput]) -> String {
    let mut out = String::new();
    let icon = if report.passed() { "✅" } else { "❌" };
    let _ = writeln!(out, "## {icon} exelock gate: {}\n", report.verdict);
    let _ = writeln!(out, "**Image:** `{}`\n", report.image);
    let _ = writeln!(
        out,
        "**Attestation:** {}\n",
        escape_markdown(&report.attestation)
    );
    for output in outputs.iter().filter(|output| !output.value.is_empty()) {
        let _ = writeln!(out, "- {}: `{}`", output.name, output.value);
    }
    for skipped in &report.skipped {
        let _ = writeln!(
            out,
            "\n**Not evaluated:** `{}`: {}",
            skipped.rule,
            escape_markdown(&skipped.reason)
        );
    }
    if report.violations.is_empty() {
        let _ = writeln!(out, "\nNo policy violations.");
        return out;
    }
    let _ = writeln!(
        out,
        "\n| level | rule | path | finding |\n|---|---|---|---|"
    );
    for violation in &report.violations {
        let level = match violation.level {
            Level::Deny => "deny",
            Level::Warn | Level::Off => "warn",
        };
        let _ = writeln!(
            out,
            "| {level} | `{}` | {} | {} |",
            violation.rule,
            violation
                .path
                .as_deref()
                .map_or(String::new(), |path| format!("`{}`", escape_markdown(path))),
            escape_markdown(&violation.message)
        );
    }
    out
}

/// `name=value` lines for `$GITHUB_OUTPUT` (values are single-line digests and words).
#[must_use]
pub fn github_outputs(outputs: &[ActionOutput]) -> String {
    outputs
        .iter()
        .map(|output| {
            format!(
                "{}={}\n",
                output.name,
                output.value.replace(['\n', '\r'], " ")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::failed_gate_report;

    fn report() -> GateReport {
        GateReport {
            manifest_digest: Some("sha256:ab".into()),
            ..failed_gate_report("100% curl,\nnewline")
        }
    }

    #[test]
    fn annotations_escape_workflow_command_syntax() {
        let text = github_annotations(&report());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "::error title=exelock setuid::reg/app%3A1: /usr/bin/sudo is setuid"
                .replace("%3A", ":")
        );
        assert_eq!(
            lines[1],
            "::warning title=exelock hazards/downloaders::reg/app:1: 100%25 curl,%0Anewline"
        );
    }

    #[test]
    fn summary_and_outputs() {
        let outputs = [
            ActionOutput {
                name: "verdict",
                value: "fail".to_owned(),
            },
            ActionOutput {
                name: "manifest-digest",
                value: "sha256:ab".to_owned(),
            },
        ];
        let summary = github_summary(&report(), &outputs);
        assert!(summary.starts_with("## ❌ exelock gate: fail"));
        assert!(
            summary.contains("| deny | `setuid` | `/usr/bin/sudo` | /usr/bin/sudo is setuid |")
        );
        assert_eq!(
            github_outputs(&outputs),
            "verdict=fail\nmanifest-digest=sha256:ab\n"
        );
    }

    #[test]
    fn sarif_results_reference_rules_and_paths() {
        let log = sarif(&report(), "exelock.toml");
        let run = &log["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        for result in run["results"].as_array().unwrap() {
            let index = usize::try_from(result["ruleIndex"].as_u64().unwrap()).unwrap();
            assert_eq!(rules[index]["id"], result["ruleId"]);
        }
        assert_eq!(run["results"][0]["level"], "error");
        assert_eq!(
            run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "usr/bin/sudo"
        );
    }
}
