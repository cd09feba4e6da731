//! The violations of a gate's JSON report (`exelock gate --format json`), as values a test
//! can compare and filter.

use serde_json::Value;

/// One violation: the rule, its level (`deny`, `warn`), the path it is about (empty for a
/// rule about the image as a whole) and the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub rule: String,
    pub level: String,
    pub path: String,
    pub message: String,
}

/// The violations of `report`, in its order; a field the report leaves out is empty, but
/// every violation names its rule.
pub fn violations(report: &Value) -> Vec<Violation> {
    report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let text = |key: &str| v[key].as_str().unwrap_or_default().to_owned();
            Violation {
                rule: v["rule"].as_str().unwrap().to_owned(),
                level: text("level"),
                path: text("path"),
                message: text("message"),
            }
        })
        .collect()
}
