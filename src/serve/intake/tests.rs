//! Tests of the intake: the fixtures of `testdata/findings/` as each sender delivers them
//! (wrapped by Pub/Sub, EventBridge or Falcosidekick, or raw), and every malformed body.

use std::path::Path;

use serde_json::{Value, json};

use super::*;
use crate::finding::Source;

fn fixture(path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/findings")
        .join(path);
    fs_err::read_to_string(&path).unwrap()
}

fn fixture_json(path: &str) -> Value {
    serde_json::from_str(&fixture(path)).unwrap()
}

/// `payload` as a Pub/Sub push subscription POSTs it.
fn pubsub_push(payload: &[u8], message_id: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "message": {
            "attributes": {"notificationConfigName": "ctd-to-soc"},
            "data": base64::engine::general_purpose::STANDARD.encode(payload),
            "messageId": message_id,
            "message_id": message_id,
            "publishTime": "2026-11-23T06:30:03.412Z",
            "publish_time": "2026-11-23T06:30:03.412Z"
        },
        "subscription": "projects/acme-secops/subscriptions/scc-findings-push"
    }))
    .unwrap()
}

/// A finding without its document label (which says where in the body it was found).
fn unlabelled(mut finding: Finding) -> Finding {
    finding.document = String::new();
    finding
}

#[test]
fn the_pubsub_push_fixture_yields_its_finding_and_message() {
    let delivery = findings(Intake::Scc, fixture("scc/pubsub-push.json").as_bytes()).unwrap();
    assert_eq!(delivery.findings.len(), 1);
    assert!(delivery.unreadable.is_empty());
    let finding = &delivery.findings[0];
    assert_eq!(finding.source, Source::Scc);
    assert_eq!(finding.document, PUSH_DATA_LABEL);
    assert_eq!(
        finding.id,
        "organizations/778899001122/sources/11204853102763455661/findings/1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e"
    );
    assert_eq!(
        delivery.push,
        Some(PushMessage {
            message_id: Some("13184562259012744".to_owned()),
            publish_time: Some("2026-11-23T06:30:03.412Z".to_owned()),
            subscription: Some("projects/acme-secops/subscriptions/scc-findings-push".to_owned()),
        })
    );
}

#[test]
fn wrapped_and_unwrapped_notifications_read_alike() {
    for name in [
        "scc/notification-v1.json",
        "scc/notification-v2.json",
        "scc/gke-node-uri.json",
    ] {
        let notification = fixture(name);
        let unwrapped = findings(Intake::Scc, notification.as_bytes()).unwrap();
        assert_eq!(unwrapped.push, None);
        assert_eq!(unwrapped.findings.len(), 1, "{name}");
        assert_eq!(unwrapped.findings[0].document, BODY_LABEL);

        let wrapped = findings(Intake::Scc, &pubsub_push(notification.as_bytes(), "42")).unwrap();
        assert_eq!(
            wrapped.push.as_ref().unwrap().message_id.as_deref(),
            Some("42")
        );
        assert_eq!(
            wrapped
                .findings
                .into_iter()
                .map(unlabelled)
                .collect::<Vec<_>>(),
            unwrapped
                .findings
                .into_iter()
                .map(unlabelled)
                .collect::<Vec<_>>(),
            "{name}"
        );
    }
}

#[test]
fn push_fields_are_read_in_either_spelling_and_bounded() {
    let data =
        base64::engine::general_purpose::STANDARD.encode(fixture("scc/notification-v1.json"));
    let body = json!({
        "message": {"data": data, "message_id": 13184562259012744_u64, "publish_time": "x".repeat(2000)}
    });
    let push = findings(Intake::Scc, body.to_string().as_bytes())
        .unwrap()
        .push
        .unwrap();
    assert_eq!(push.message_id.as_deref(), Some("13184562259012744"));
    assert_eq!(push.publish_time.unwrap().len(), MAX_PUSH_FIELD_CHARS);
    assert_eq!(push.subscription, None);
}

#[test]
fn eventbridge_guardduty_events_yield_their_findings() {
    for name in [
        "guardduty/eventbridge-new-binary-eks.json",
        "guardduty/eventbridge-new-library-ecs.json",
    ] {
        let event = fixture_json(name);
        let delivery = findings(Intake::GuardDuty, fixture(name).as_bytes()).unwrap();
        assert_eq!(delivery.findings.len(), 1, "{name}");
        assert!(delivery.unreadable.is_empty());
        assert_eq!(delivery.push, None);
        assert_eq!(delivery.findings[0].source, Source::GuardDuty);
        assert_eq!(
            delivery.findings[0].id,
            event["detail"]["id"].as_str().unwrap()
        );
    }
}

#[test]
fn a_falcosidekick_post_yields_its_finding() {
    let body = fixture("falco/falcosidekick.json");
    let delivery = findings(Intake::Falco, body.as_bytes()).unwrap();
    assert_eq!(delivery.findings.len(), 1);
    assert_eq!(delivery.findings[0].source, Source::Falco);
    assert_eq!(
        delivery.findings[0].id,
        fixture_json("falco/falcosidekick.json")["uuid"]
            .as_str()
            .unwrap()
    );
}

#[test]
fn the_findings_endpoint_reads_any_format() {
    let delivery = findings(
        Intake::Findings,
        fixture("mixed/auto-detect.jsonl").as_bytes(),
    )
    .unwrap();
    let sources: Vec<Source> = delivery
        .findings
        .iter()
        .map(|finding| finding.source)
        .collect();
    assert_eq!(
        sources,
        [Source::Scc, Source::GuardDuty, Source::Falco, Source::Scc]
    );
    assert!(delivery.unreadable.is_empty());

    // A raw GuardDuty get-findings page, which the GuardDuty endpoint refuses (below).
    let delivery = findings(
        Intake::Findings,
        fixture("guardduty/get-findings.json").as_bytes(),
    )
    .unwrap();
    assert!(!delivery.findings.is_empty());
    assert!(
        delivery
            .findings
            .iter()
            .all(|finding| finding.source == Source::GuardDuty)
    );
}

#[test]
fn readable_findings_come_with_the_unreadable_ones() {
    let body = fixture("mixed/array-with-bad-element.json");
    let expected = crate::finding::parse_findings(&body, BODY_LABEL, InputFormat::Auto);
    let delivery = findings(Intake::Findings, body.as_bytes()).unwrap();
    assert!(!delivery.findings.is_empty());
    assert!(!delivery.unreadable.is_empty());
    assert_eq!(
        delivery.findings.len() + delivery.unreadable.len(),
        expected.len()
    );
    for error in &delivery.unreadable {
        assert!(error.to_string().starts_with("request body#"), "{error}");
    }
}

#[test]
fn the_first_byte_order_mark_is_skipped() {
    let body = format!("\u{feff}{}", fixture("falco/falcosidekick.json"));
    assert_eq!(
        findings(Intake::Falco, body.as_bytes())
            .unwrap()
            .findings
            .len(),
        1
    );
}

/// A body and the exact message its 400 carries (the error and its causes).
#[rstest::rstest]
#[case::empty(Intake::Scc, b"".to_vec(), "the request body is empty (expected a Pub/Sub push envelope or an SCC notification JSON object)")]
#[case::blank(Intake::Findings, b" \n ".to_vec(), "the request body is empty (expected findings in a format triage reads)")]
#[case::not_text(Intake::GuardDuty, b"{\"detail\": \"\xff\"}".to_vec(), "the request body is not UTF-8 text (expected an EventBridge GuardDuty Finding event JSON object)")]
#[case::not_json(Intake::Scc, b"message=hello".to_vec(), "the request body is not JSON (expected a Pub/Sub push envelope or an SCC notification JSON object): expected value at line 1 column 1")]
#[case::truncated_json(Intake::Falco, b"{\"uuid\": \"6f0d".to_vec(), "the request body is not JSON (expected a Falcosidekick JSON object): EOF while parsing a string at line 1 column 14")]
#[case::two_documents(Intake::GuardDuty, b"{} {}".to_vec(), "the request body is not JSON (expected an EventBridge GuardDuty Finding event JSON object): trailing characters at line 1 column 4")]
#[case::array(Intake::Scc, b"[{}]".to_vec(), "the request body is an array (expected a Pub/Sub push envelope or an SCC notification JSON object)")]
#[case::string(Intake::Falco, b"\"rule\"".to_vec(), "the request body is a string (expected a Falcosidekick JSON object)")]
#[case::message_not_object(Intake::Scc, br#"{"message": "hello", "subscription": "s"}"#.to_vec(), "the Pub/Sub push envelope's message is a string (expected an object with data)")]
#[case::no_data(Intake::Scc, br#"{"message": {"messageId": "1"}, "subscription": "s"}"#.to_vec(), "the Pub/Sub push envelope has no message.data (expected the base64 SCC notification)")]
#[case::null_data(Intake::Scc, br#"{"message": {"data": null}}"#.to_vec(), "the Pub/Sub push envelope has no message.data (expected the base64 SCC notification)")]
#[case::empty_data(Intake::Scc, br#"{"message": {"data": ""}}"#.to_vec(), "the Pub/Sub push envelope has no message.data (expected the base64 SCC notification)")]
#[case::data_not_base64(Intake::Scc, br#"{"message": {"data": "not base64!"}}"#.to_vec(), "the Pub/Sub push envelope's message.data is not base64 (expected the base64 SCC notification)")]
#[case::data_not_string(Intake::Scc, br#"{"message": {"data": {"finding": {}}}}"#.to_vec(), "the Pub/Sub push envelope's message.data is not base64 (expected the base64 SCC notification)")]
#[case::data_not_utf8(Intake::Scc, br#"{"message": {"data": "/w=="}}"#.to_vec(), "the Pub/Sub push envelope's message.data decodes to bytes that are not UTF-8 (expected SCC notification JSON)")]
#[case::data_not_json(Intake::Scc, br#"{"message": {"data": "aGVsbG8="}}"#.to_vec(), "the Pub/Sub push envelope's message.data is not JSON once decoded (expected an SCC notification): expected value at line 1 column 1")]
#[case::not_a_guardduty_finding(Intake::GuardDuty, br#"{"detail-type": "AWS API Call via CloudTrail", "source": "aws.s3", "detail": {}}"#.to_vec(), r#"the event's detail-type is "AWS API Call via CloudTrail" (expected "GuardDuty Finding")"#)]
#[case::no_detail_type(Intake::GuardDuty, br#"{"Findings": []}"#.to_vec(), r#"the event's detail-type is missing (expected "GuardDuty Finding")"#)]
#[case::detail_type_not_string(Intake::GuardDuty, br#"{"detail-type": 7, "detail": {}}"#.to_vec(), r#"the event's detail-type is a number (expected "GuardDuty Finding")"#)]
#[case::no_detail(Intake::GuardDuty, br#"{"detail-type": "GuardDuty Finding", "source": "aws.guardduty"}"#.to_vec(), "the GuardDuty event has no detail object (expected the finding in detail)")]
#[case::detail_not_object(Intake::GuardDuty, br#"{"detail-type": "GuardDuty Finding", "detail": "x"}"#.to_vec(), "the GuardDuty event has no detail object (expected the finding in detail)")]
#[case::no_findings(Intake::Findings, b"[]".to_vec(), "the request body holds no finding")]
#[case::unknown_shape(Intake::Findings, br#"{"keys": []}"#.to_vec(), "no finding in the request body could be read (1 unreadable): request body: not a known finding shape (keys: \"keys\"); expected a Google SCC finding or notification, an AWS GuardDuty finding or EventBridge event, or a Falco event")]
fn malformed_bodies_are_named(
    #[case] intake: Intake,
    #[case] body: Vec<u8>,
    #[case] message: &str,
) {
    let error = findings(intake, &body).unwrap_err();
    assert_eq!(crate::error_chain(&error), message);
}

#[test]
fn a_notification_without_a_finding_is_unreadable() {
    let notification =
        json!({"notificationConfigName": "organizations/1/notificationConfigs/n", "resource": {}});
    let error = findings(
        Intake::Scc,
        &pubsub_push(notification.to_string().as_bytes(), "7"),
    )
    .unwrap_err();
    let IntakeError::Unreadable { first, others } = &error else {
        panic!("{error}");
    };
    assert!(others.is_empty());
    assert_eq!(first.document(), Some(PUSH_DATA_LABEL));
    assert!(
        crate::error_chain(&error).contains("scc finding: field"),
        "{}",
        crate::error_chain(&error)
    );
}

#[test]
fn a_body_for_another_endpoint_is_refused() {
    // A Falco event posted to the SCC endpoint is no SCC notification.
    let error = findings(Intake::Scc, fixture("falco/falcosidekick.json").as_bytes()).unwrap_err();
    assert!(matches!(error, IntakeError::Unreadable { .. }), "{error}");
    // A Pub/Sub push posted to the GuardDuty endpoint is no EventBridge event.
    let error = findings(
        Intake::GuardDuty,
        fixture("scc/pubsub-push.json").as_bytes(),
    )
    .unwrap_err();
    assert!(
        matches!(error, IntakeError::NotGuardDutyFinding { .. }),
        "{error}"
    );
    // Several GuardDuty events in one array are not what an API destination sends.
    let event = fixture_json("guardduty/eventbridge-new-binary-eks.json");
    let error = findings(Intake::GuardDuty, json!([event]).to_string().as_bytes()).unwrap_err();
    assert!(
        matches!(
            error,
            IntakeError::NotAnObject {
                got: "an array",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn the_intake_codes_are_the_endpoint_names() {
    let codes: Vec<String> = [
        Intake::Scc,
        Intake::GuardDuty,
        Intake::Falco,
        Intake::Findings,
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    assert_eq!(codes, ["scc", "guardduty", "falco", "findings"]);
}
