//! The bodies `serve` accepts, turned into findings: Pub/Sub push envelopes around SCC
//! notifications, EventBridge GuardDuty events, Falcosidekick posts, and any format `triage` reads.
//!
//! Each endpoint has its [`Intake`]; [`findings`] checks that the body has that endpoint's
//! shape (so a misrouted or poisoned delivery gets a 400 that names the problem, not a 5xx the
//! sender retries forever) and hands the document to the parsers of [`crate::finding`]:
//!
//! - [`Intake::Scc`]: the Pub/Sub push envelope
//!   `{"message":{"data":<base64>,"messageId",…},"subscription"}` whose data is the SCC
//!   `NotificationMessage` `{notificationConfigName, finding, resource}`, or that notification
//!   itself (a subscription with "no wrapper" delivery).
//!   <https://cloud.google.com/pubsub/docs/push#receive_push>
//! - [`Intake::GuardDuty`]: the EventBridge event, `detail-type` `GuardDuty Finding`, the
//!   finding in `detail`.
//!   <https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings_eventbridge.html>
//! - [`Intake::Falco`]: the Falcosidekick webhook payload (Falco's JSON output plus `uuid`).
//! - [`Intake::Findings`]: anything `triage` reads, the vendor sniffed per document.
//!
//! Findings that parse are returned next to the documents that do not ([`Delivery`]), so the
//! service judges the good ones and reports the bad; a body with no finding at all is an
//! [`IntakeError`].
//!
//! This module is pure: bytes in, findings out. It does not authenticate (see
//! [`super::auth`]), judge, store or print.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::coded::coded_enum;
use crate::finding::{self, Finding, InputFormat, json_kind};

#[cfg(test)]
mod tests;

/// The label of a finding read from the request body, as [`Finding::document`] and parse
/// errors name it.
pub const BODY_LABEL: &str = "request body";
/// The label of a finding read from a Pub/Sub push's `message.data`.
pub const PUSH_DATA_LABEL: &str = "request body message.data";
/// The longest Pub/Sub message id, subscription or publish time kept (they are for logs).
const MAX_PUSH_FIELD_CHARS: usize = 512;
/// The `detail-type` of GuardDuty's EventBridge events.
pub const GUARDDUTY_DETAIL_TYPE: &str = "GuardDuty Finding";

coded_enum! {
    /// Which endpoint a body arrived at, and so which shape it must have.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum Intake {
        /// `POST /v1/scc`: a Pub/Sub push of an SCC notification, wrapped or unwrapped.
        Scc = "scc",
        /// `POST /v1/guardduty`: an EventBridge GuardDuty event.
        GuardDuty = "guardduty",
        /// `POST /v1/falco`: a Falcosidekick webhook payload.
        Falco = "falco",
        /// `POST /v1/findings`: any format `triage` reads.
        Findings = "findings",
    }
}

/// The Pub/Sub message a push delivered, for logs (each field cut to 512 characters).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PushMessage {
    /// `message.messageId` (or `message.message_id`).
    pub message_id: Option<String>,
    /// `message.publishTime` (or `message.publish_time`).
    pub publish_time: Option<String>,
    /// `subscription`.
    pub subscription: Option<String>,
}

/// What one body held.
#[derive(Debug)]
pub struct Delivery {
    /// The findings read, in body order (at least one, or there is no `Delivery`).
    pub findings: Vec<Finding>,
    /// The documents (or findings within them) that could not be read, in body order.
    pub unreadable: Vec<finding::Error>,
    /// The Pub/Sub message, when the body was a push envelope.
    pub push: Option<PushMessage>,
}

/// Why a body holds no finding to judge; the service answers 400 with it.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The body is empty.
    #[error("the request body is empty (expected {expected})")]
    Empty {
        /// What the endpoint expects.
        expected: &'static str,
    },
    /// The body is not UTF-8 text.
    #[error("the request body is not UTF-8 text (expected {expected})")]
    NotText {
        /// What the endpoint expects.
        expected: &'static str,
    },
    /// The body is not one JSON document.
    #[error("the request body is not JSON (expected {expected})")]
    NotJson {
        /// What the endpoint expects.
        expected: &'static str,
        /// The parse error, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// The body is JSON but not an object.
    #[error("the request body is {got} (expected {expected})")]
    NotAnObject {
        /// What the endpoint expects.
        expected: &'static str,
        /// The JSON type it is.
        got: &'static str,
    },
    /// A push envelope whose `message` is not an object.
    #[error("the Pub/Sub push envelope's message is {got} (expected an object with data)")]
    MessageNotAnObject {
        /// The JSON type it is.
        got: &'static str,
    },
    /// A push envelope without `message.data`.
    #[error("the Pub/Sub push envelope has no message.data (expected the base64 SCC notification)")]
    NoMessageData,
    /// `message.data` is not a base64 string.
    #[error(
        "the Pub/Sub push envelope's message.data is not base64 (expected the base64 SCC notification)"
    )]
    DataNotBase64,
    /// `message.data` decodes to bytes that are not UTF-8 text.
    #[error(
        "the Pub/Sub push envelope's message.data decodes to bytes that are not UTF-8 (expected SCC notification JSON)"
    )]
    DataNotText,
    /// The decoded `message.data` is not JSON.
    #[error(
        "the Pub/Sub push envelope's message.data is not JSON once decoded (expected an SCC notification)"
    )]
    DataNotJson {
        /// The parse error, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// An EventBridge event that is not a GuardDuty finding.
    #[error("the event's detail-type is {got} (expected \"GuardDuty Finding\")")]
    NotGuardDutyFinding {
        /// The detail-type, quoted, or `missing`.
        got: String,
    },
    /// A GuardDuty event without `detail`.
    #[error("the GuardDuty event has no detail object (expected the finding in detail)")]
    NoDetail,
    /// The body holds no finding (an empty array, only blank lines).
    #[error("the request body holds no finding")]
    NoFindings,
    /// No finding in the body could be read.
    #[error("no finding in the request body could be read ({} unreadable)", others.len() + 1)]
    Unreadable {
        /// The first failure.
        #[source]
        first: Box<finding::Error>,
        /// The failures after it, in body order.
        others: Vec<finding::Error>,
    },
}

/// The findings in a body that arrived at `intake`.
///
/// # Errors
///
/// The body does not have the endpoint's shape, or holds no finding that can be read (the
/// error names the problem; [`IntakeError::Unreadable`] carries every parse error).
pub fn findings(intake: Intake, body: &[u8]) -> Result<Delivery, IntakeError> {
    let expected = expected_body(intake);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(IntakeError::Empty { expected });
    }
    let text = std::str::from_utf8(body).map_err(|_| IntakeError::NotText { expected })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match intake {
        Intake::Scc => scc(text),
        Intake::GuardDuty => {
            guardduty_event(text)?;
            collect(text, BODY_LABEL, InputFormat::GuardDuty, None)
        }
        Intake::Falco => {
            json_object(text, expected)?;
            collect(text, BODY_LABEL, InputFormat::Falco, None)
        }
        Intake::Findings => collect(text, BODY_LABEL, InputFormat::Auto, None),
    }
}

/// What an endpoint's body must be, for messages.
const fn expected_body(intake: Intake) -> &'static str {
    match intake {
        Intake::Scc => "a Pub/Sub push envelope or an SCC notification JSON object",
        Intake::GuardDuty => "an EventBridge GuardDuty Finding event JSON object",
        Intake::Falco => "a Falcosidekick JSON object",
        Intake::Findings => "findings in a format triage reads",
    }
}

/// Checks that the body is one JSON object.
fn json_object(text: &str, expected: &'static str) -> Result<(), IntakeError> {
    let value = serde_json::from_str::<&RawValue>(text)
        .map_err(|source| IntakeError::NotJson { expected, source })?;
    match json_kind(value.get()) {
        "an object" => Ok(()),
        got => Err(IntakeError::NotAnObject { expected, got }),
    }
}

/// An SCC body: a push envelope (`message` present) or the notification itself.
fn scc(text: &str) -> Result<Delivery, IntakeError> {
    #[derive(Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        message: Option<&'a RawValue>,
        subscription: Option<serde_json::Value>,
    }
    #[derive(Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    struct Message {
        data: Option<serde_json::Value>,
        message_id: Option<serde_json::Value>,
        #[serde(rename = "message_id")]
        message_id_snake: Option<serde_json::Value>,
        publish_time: Option<serde_json::Value>,
        #[serde(rename = "publish_time")]
        publish_time_snake: Option<serde_json::Value>,
    }

    let expected = expected_body(Intake::Scc);
    json_object(text, expected)?;
    let envelope = serde_json::from_str::<Envelope<'_>>(text)
        .map_err(|source| IntakeError::NotJson { expected, source })?;
    // Unwrapped delivery: the body is the notification. (A Falco event's `message` is a
    // string, but a Falco event is no SCC body either; it fails as one below.)
    let Some(message) = envelope.message else {
        return collect(text, BODY_LABEL, InputFormat::Scc, None);
    };
    let got = json_kind(message.get());
    if got != "an object" {
        return Err(IntakeError::MessageNotAnObject { got });
    }
    let message = serde_json::from_str::<Message>(message.get())
        .map_err(|source| IntakeError::NotJson { expected, source })?;
    let push = PushMessage {
        message_id: log_field(message.message_id.or(message.message_id_snake)),
        publish_time: log_field(message.publish_time.or(message.publish_time_snake)),
        subscription: log_field(envelope.subscription),
    };
    let data = match message.data {
        None | Some(serde_json::Value::Null) => return Err(IntakeError::NoMessageData),
        Some(serde_json::Value::String(data)) if data.is_empty() => {
            return Err(IntakeError::NoMessageData);
        }
        Some(serde_json::Value::String(data)) => data,
        Some(_) => return Err(IntakeError::DataNotBase64),
    };
    let decoded = decode_base64(&data).ok_or(IntakeError::DataNotBase64)?;
    let payload = String::from_utf8(decoded).map_err(|_| IntakeError::DataNotText)?;
    serde_json::from_str::<&RawValue>(&payload)
        .map_err(|source| IntakeError::DataNotJson { source })?;
    collect(&payload, PUSH_DATA_LABEL, InputFormat::Scc, Some(push))
}

/// Pub/Sub writes standard base64 with padding; the other alphabets cost nothing to accept.
fn decode_base64(data: &str) -> Option<Vec<u8>> {
    let compact: String = data.split_whitespace().collect();
    [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ]
    .iter()
    .find_map(|engine| engine.decode(compact.as_bytes()).ok())
}

/// A Pub/Sub field kept for logs: strings as they are, numbers as written, cut to a bound.
fn log_field(value: Option<serde_json::Value>) -> Option<String> {
    let text = match value? {
        serde_json::Value::String(text) => text,
        serde_json::Value::Number(number) => number.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then(|| text.chars().take(MAX_PUSH_FIELD_CHARS).collect())
}

/// Checks that the body is an EventBridge event carrying a GuardDuty finding.
fn guardduty_event(text: &str) -> Result<(), IntakeError> {
    #[derive(Deserialize)]
    struct Event<'a> {
        #[serde(rename = "detail-type", borrow)]
        detail_type: Option<&'a RawValue>,
        #[serde(borrow)]
        detail: Option<&'a RawValue>,
    }
    let expected = expected_body(Intake::GuardDuty);
    json_object(text, expected)?;
    let event = serde_json::from_str::<Event<'_>>(text)
        .map_err(|source| IntakeError::NotJson { expected, source })?;
    let detail_type = event.detail_type.map(|raw| {
        serde_json::from_str::<String>(raw.get()).map_err(|_| json_kind(raw.get()).to_owned())
    });
    match detail_type {
        Some(Ok(detail_type)) if detail_type == GUARDDUTY_DETAIL_TYPE => {}
        Some(Ok(detail_type)) => {
            return Err(IntakeError::NotGuardDutyFinding {
                got: format!("{:?}", detail_type.chars().take(64).collect::<String>()),
            });
        }
        Some(Err(kind)) => return Err(IntakeError::NotGuardDutyFinding { got: kind }),
        None => {
            return Err(IntakeError::NotGuardDutyFinding {
                got: "missing".to_owned(),
            });
        }
    }
    match event.detail {
        Some(detail) if json_kind(detail.get()) == "an object" => Ok(()),
        _ => Err(IntakeError::NoDetail),
    }
}

/// Parses `text` with the finding parsers and sorts the results.
fn collect(
    text: &str,
    label: &str,
    format: InputFormat,
    push: Option<PushMessage>,
) -> Result<Delivery, IntakeError> {
    let mut findings = Vec::new();
    let mut unreadable = Vec::new();
    for result in finding::parse_findings(text, label, format) {
        match result {
            Ok(finding) => findings.push(finding),
            Err(error) => unreadable.push(error),
        }
    }
    if findings.is_empty() {
        let mut errors = unreadable.into_iter();
        return Err(match errors.next() {
            None => IntakeError::NoFindings,
            Some(first) => IntakeError::Unreadable {
                first: Box::new(first),
                others: errors.collect(),
            },
        });
    }
    Ok(Delivery {
        findings,
        unreadable,
        push,
    })
}
