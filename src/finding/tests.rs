//! Tests of the finding parsers: a snapshot of every fixture in `testdata/findings/`, format
//! sniffing, and hostile input.

use std::cell::Cell;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rstest::rstest;
use serde_json::json;

use super::*;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/findings")
}

/// Results as JSON: a finding, or `{"error": "..."}`.
fn results_json(results: &[Result<Finding, Error>]) -> serde_json::Value {
    results
        .iter()
        .map(|result| match result {
            Ok(finding) => serde_json::to_value(finding).unwrap(),
            Err(error) => json!({ "error": crate::error_chain(error) }),
        })
        .collect()
}

fn parse(input: &str) -> Vec<Result<Finding, Error>> {
    parse_findings(input, "stdin", InputFormat::Auto)
}

fn only_ok(input: &str) -> Finding {
    let mut results = parse(input);
    assert_eq!(results.len(), 1, "{:?}", results_json(&results));
    results.remove(0).unwrap()
}

fn only_err(input: &str) -> String {
    let results = parse(input);
    assert_eq!(results.len(), 1, "{:?}", results_json(&results));
    match &results[0] {
        Ok(finding) => panic!("expected an error, got {finding:?}"),
        Err(error) => error.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures

#[rstest]
#[case::scc_v1_finding("scc/v1-finding-added-binary.json")]
#[case::scc_v2_finding("scc/v2-finding-added-library.json")]
#[case::scc_notification_v1("scc/notification-v1.json")]
#[case::scc_notification_v2("scc/notification-v2.json")]
#[case::scc_pubsub_push("scc/pubsub-push.json")]
#[case::scc_gcloud_list("scc/gcloud-list.json")]
#[case::scc_rest_list("scc/rest-list.json")]
#[case::scc_python_to_dict("scc/python-to-dict.json")]
#[case::scc_console_json_tab("scc/console-json-tab.json")]
#[case::scc_source_properties_only("scc/source-properties-only.json")]
#[case::scc_two_containers_named("scc/two-containers-named.json")]
#[case::scc_two_containers_ambiguous("scc/two-containers-ambiguous.json")]
#[case::scc_arguments_truncated("scc/arguments-truncated.json")]
#[case::scc_gke_node_uri("scc/gke-node-uri.json")]
#[case::guardduty_eventbridge_eks("guardduty/eventbridge-new-binary-eks.json")]
#[case::guardduty_eventbridge_ecs("guardduty/eventbridge-new-library-ecs.json")]
#[case::guardduty_get_findings("guardduty/get-findings.json")]
#[case::guardduty_bare_lines("guardduty/bare-findings.jsonl")]
#[case::guardduty_eks_private_dns_name("guardduty/eks-private-dns-name.json")]
#[case::falco_json_output("falco/json-output.jsonl")]
#[case::falco_falcosidekick("falco/falcosidekick.json")]
#[case::mixed_auto_detect("mixed/auto-detect.jsonl")]
#[case::mixed_concatenated("mixed/concatenated.json")]
#[case::mixed_array_with_bad_element("mixed/array-with-bad-element.json")]
fn fixture_snapshots(#[case] fixture: &str) {
    let text = fs_err::read_to_string(fixtures_dir().join(fixture)).unwrap();
    let results = parse_findings(&text, fixture, InputFormat::Auto);
    let name = fixture.replace('/', "__");
    insta::assert_json_snapshot!(name, results_json(&results));
}

/// Every fixture file has a snapshot case above, so none is forgotten.
#[test]
fn every_fixture_is_snapshotted() {
    let source = include_str!("tests.rs");
    for vendor in ["scc", "guardduty", "falco", "mixed"] {
        for entry in fs_err::read_dir(fixtures_dir().join(vendor)).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let case = format!("(\"{vendor}/{name}\")");
            assert!(
                source.contains(&case),
                "no snapshot case for {vendor}/{name}"
            );
        }
    }
}

/// Forcing the right format gives the same result as sniffing it.
#[rstest]
#[case("scc/notification-v1.json", InputFormat::Scc)]
#[case("scc/pubsub-push.json", InputFormat::Scc)]
#[case("scc/python-to-dict.json", InputFormat::Scc)]
#[case("guardduty/get-findings.json", InputFormat::GuardDuty)]
#[case("guardduty/eventbridge-new-binary-eks.json", InputFormat::GuardDuty)]
#[case("falco/json-output.jsonl", InputFormat::Falco)]
fn forced_format_matches_auto(#[case] fixture: &str, #[case] format: InputFormat) {
    let text = fs_err::read_to_string(fixtures_dir().join(fixture)).unwrap();
    let auto = results_json(&parse_findings(&text, fixture, InputFormat::Auto));
    let forced = results_json(&parse_findings(&text, fixture, format));
    assert_eq!(auto, forced);
}

#[test]
fn array_with_one_bad_element_keeps_the_good_ones() {
    let fixture = "mixed/array-with-bad-element.json";
    let text = fs_err::read_to_string(fixtures_dir().join(fixture)).unwrap();
    let results = parse_findings(&text, fixture, InputFormat::Auto);
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok());
    assert_eq!(
        results[1].as_ref().unwrap_err().to_string(),
        "mixed/array-with-bad-element.json#1: scc finding: field finding.processes[0].binary.hashedSize: \
         expected an integer or a numeric string (got the string \"12 KiB\")"
    );
    assert!(results[2].is_ok());
}

// ---------------------------------------------------------------------------------------------
// Sniffing and splitting

const SCC_BARE: &str =
    r#"{"name":"organizations/1/sources/2/findings/abc","category":"Added Binary Executed"}"#;
const SCC_NOTIFICATION: &str = r#"{"notificationConfigName":"organizations/1/notificationConfigs/n","finding":{"name":"organizations/1/sources/2/findings/abc","category":"Added Binary Executed"}}"#;
const SCC_SNAKE: &str = r#"{"name":"organizations/1/sources/2/findings/abc","resource_name":"//x","category":"Added Binary Executed","severity":4}"#;
const SCC_LIST: &str = r#"{"listFindingsResults":[{"finding":{"name":"n","category":"Added Binary Executed"}}],"totalSize":1}"#;
const GD_EVENT: &str = r#"{"version":"0","detail-type":"GuardDuty Finding","source":"aws.guardduty","detail":{"id":"abc","type":"Execution:Runtime/NewBinaryExecuted"}}"#;
const GD_CLI: &str = r#"{"Findings":[{"Id":"abc","Type":"Execution:Runtime/NewBinaryExecuted","SchemaVersion":"2.0"}]}"#;
const GD_BARE_CAMEL: &str =
    r#"{"schemaVersion":"2.0","id":"abc","type":"Execution:Runtime/NewBinaryExecuted"}"#;
const GD_BARE_PASCAL: &str =
    r#"{"SchemaVersion":"2.0","Id":"abc","Type":"Execution:Runtime/NewBinaryExecuted"}"#;
const FALCO: &str = r#"{"output":"x","priority":"Critical","rule":"Drop and execute new binary in container","time":"2026-11-21T10:13:20.123456789Z","output_fields":{"proc.exepath":"/tmp/x"}}"#;
const FALCO_NO_FIELDS: &str =
    r#"{"rule":"Drop and execute new binary in container","priority":"Critical","output":"x"}"#;

#[rstest]
#[case::scc_bare(SCC_BARE, Source::Scc)]
#[case::scc_notification(SCC_NOTIFICATION, Source::Scc)]
#[case::scc_snake(SCC_SNAKE, Source::Scc)]
#[case::scc_list(SCC_LIST, Source::Scc)]
#[case::guardduty_event(GD_EVENT, Source::GuardDuty)]
#[case::guardduty_cli(GD_CLI, Source::GuardDuty)]
#[case::guardduty_bare_camel(GD_BARE_CAMEL, Source::GuardDuty)]
#[case::guardduty_bare_pascal(GD_BARE_PASCAL, Source::GuardDuty)]
#[case::falco(FALCO, Source::Falco)]
#[case::falco_without_fields(FALCO_NO_FIELDS, Source::Falco)]
fn sniffs_the_vendor(#[case] input: &str, #[case] expected: Source) {
    assert_eq!(only_ok(input).source, expected);
}

#[rstest]
#[case::single("  {\"rule\":\"r\",\"output_fields\":{}}  \n", &["stdin"])]
#[case::array("[{\"rule\":\"r\",\"output_fields\":{}},{\"rule\":\"s\",\"output_fields\":{}}]", &["stdin#0", "stdin#1"])]
#[case::lines("{\"rule\":\"r\",\"output_fields\":{}}\n\n{\"rule\":\"s\",\"output_fields\":{}}\n", &["stdin line 1", "stdin line 3"])]
#[case::crlf_lines("{\"rule\":\"r\",\"output_fields\":{}}\r\n{\"rule\":\"s\",\"output_fields\":{}}\r\n", &["stdin line 1", "stdin line 2"])]
#[case::pretty_concatenated("{\n \"rule\": \"r\",\n \"output_fields\": {}\n}\n{\n \"rule\": \"s\",\n \"output_fields\": {}\n}\n", &["stdin line 1", "stdin line 5"])]
#[case::byte_order_mark("\u{feff}{\"rule\":\"r\",\"output_fields\":{}}", &["stdin"])]
#[case::list_in_a_line("{\"Findings\":[{\"Type\":\"t\"},{\"Type\":\"u\"}]}\n{\"rule\":\"r\",\"output_fields\":{}}", &["stdin line 1#0", "stdin line 1#1", "stdin line 2"])]
fn labels_documents(#[case] input: &str, #[case] labels: &[&str]) {
    let documents: Vec<String> = parse(input)
        .into_iter()
        .map(|result| result.unwrap().document)
        .collect();
    assert_eq!(documents, labels);
}

#[rstest]
#[case::empty("")]
#[case::blank(" \n\t\n")]
fn empty_input_has_no_findings(#[case] input: &str) {
    assert!(parse(input).is_empty());
}

#[test]
fn a_bad_line_costs_only_itself() {
    let input = format!("{FALCO}\n{{\"rule\": \n{FALCO}\n");
    let results = parse(&input);
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok() && results[2].is_ok());
    let error = results[1].as_ref().unwrap_err();
    assert_eq!(error.document(), Some("stdin line 2"));
    assert!(
        crate::error_chain(error).starts_with("stdin line 2: not JSON: EOF while parsing"),
        "{}",
        crate::error_chain(error)
    );
}

// ---------------------------------------------------------------------------------------------
// Streaming: bounded memory whatever the input's size

/// An input generated piece by piece as it is read, never held whole, that counts the bytes
/// handed out.
struct Generated<F> {
    piece: F,
    index: usize,
    current: Vec<u8>,
    at: usize,
    handed_out: Rc<Cell<usize>>,
}

impl<F: FnMut(usize) -> Option<Vec<u8>>> Generated<F> {
    fn new(piece: F) -> (Self, Rc<Cell<usize>>) {
        let handed_out = Rc::new(Cell::new(0));
        let reader = Self {
            piece,
            index: 0,
            current: Vec::new(),
            at: 0,
            handed_out: Rc::clone(&handed_out),
        };
        (reader, handed_out)
    }
}

impl<F: FnMut(usize) -> Option<Vec<u8>>> io::Read for Generated<F> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        while self.at == self.current.len() {
            match (self.piece)(self.index) {
                Some(next) => {
                    self.index += 1;
                    self.current = next;
                    self.at = 0;
                }
                None => return Ok(0),
            }
        }
        let count = buffer.len().min(self.current.len() - self.at);
        buffer[..count].copy_from_slice(&self.current[self.at..self.at + count]);
        self.at += count;
        self.handed_out.set(self.handed_out.get() + count);
        Ok(count)
    }
}

/// `count` findings (`finding(i)` is the i-th) as JSON lines or as one array (one element a
/// line, as `jq` prints them, or all on one line), piece by piece.
fn generated(
    count: usize,
    shape: &str,
    finding: impl Fn(usize) -> String,
) -> impl FnMut(usize) -> Option<Vec<u8>> {
    let shape = shape.to_owned();
    move |index| match shape.as_str() {
        "lines" => (index < count).then(|| format!("{}\n", finding(index)).into_bytes()),
        "array" | "one-line array" => {
            let separator = if shape == "array" { "\n" } else { "" };
            match index {
                0 => Some(b"[".to_vec()),
                _ if index == count + 1 => Some(b"]".to_vec()),
                _ if index > count + 1 => None,
                1 => Some(format!("{separator}{}", finding(index)).into_bytes()),
                _ => Some(format!(",{separator}{}", finding(index)).into_bytes()),
            }
        }
        _ => None,
    }
}

fn small_falco(index: usize) -> String {
    format!(r#"{{"rule":"r","output_fields":{{"proc.exepath":"/tmp/x{index}"}}}}"#)
}

/// Streams 100,000 generated findings through [`read_findings`]: every one is parsed, in
/// order, and when the k-th arrives the reader has handed out no more than k findings' worth
/// of input plus one read buffer, so nothing holds the input (or the array) whole.
#[rstest]
#[case::json_lines("lines", "gen line 100000")]
#[case::array_one_element_a_line("array", "gen#99999")]
#[case::array_on_one_line("one-line array", "gen#99999")]
fn streams_large_inputs_one_finding_at_a_time(#[case] shape: &str, #[case] last_label: &str) {
    const COUNT: usize = 100_000;
    // Longest generated piece, and what the reader may hold beyond the current finding: its
    // 64 KiB read buffer, and the first line it reads to tell JSON lines from the rest.
    const PIECE: usize = 64;
    const SLACK: usize = 64 * 1024 + PIECE;
    let (reader, handed_out) = Generated::new(generated(COUNT, shape, small_falco));
    let mut parsed = 0;
    let mut last = String::new();
    read_findings(reader, "gen", InputFormat::Auto, &mut |result| {
        let finding = result.unwrap();
        assert_eq!(
            finding.binaries[0].path.as_deref(),
            Some(format!("/tmp/x{}", parsed + usize::from(shape != "lines")).as_str()),
            "in order"
        );
        parsed += 1;
        let bound = parsed * PIECE + SLACK;
        assert!(
            handed_out.get() <= bound,
            "finding {parsed}: {} bytes read ahead of a {bound}-byte bound",
            handed_out.get()
        );
        last = finding.document;
    })
    .unwrap();
    assert_eq!(parsed, COUNT);
    assert_eq!(last, last_label);
}

/// A gigabyte of real-sized findings, for measuring peak memory by hand (it takes minutes in
/// a debug build):
///
/// ```sh
/// cargo test --locked --lib --no-run
/// /usr/bin/time -v target/debug/deps/exelock-<hash> --ignored --exact \
///     finding::tests::a_gigabyte_of_findings::case_1_json_lines
/// ```
#[rstest]
#[case::json_lines("lines")]
#[case::array("array")]
#[ignore = "reads a generated gigabyte: run by hand under /usr/bin/time -v"]
fn a_gigabyte_of_findings(#[case] shape: &str) {
    let fixture =
        fs_err::read_to_string(fixtures_dir().join("scc/v1-finding-added-binary.json")).unwrap();
    let finding = serde_json::from_str::<serde_json::Value>(&fixture)
        .unwrap()
        .to_string();
    let length = finding.len();
    let count = (1 << 30) / (length + 2);
    let (reader, handed_out) = Generated::new(generated(count, shape, move |_| finding.clone()));
    let mut parsed = 0;
    read_findings(reader, "gen", InputFormat::Auto, &mut |result| {
        assert!(result.is_ok(), "{result:?}");
        parsed += 1;
    })
    .unwrap();
    assert_eq!(parsed, count);
    assert!(
        handed_out.get() >= count * length,
        "{} bytes",
        handed_out.get()
    );
}

#[test]
fn forcing_the_wrong_format_names_the_missing_field() {
    let results = parse_findings(FALCO, "events.json", InputFormat::Scc);
    assert_eq!(
        results[0].as_ref().unwrap_err().to_string(),
        "events.json: scc finding: field category: missing"
    );
    let results = parse_findings(SCC_BARE, "scc.json", InputFormat::GuardDuty);
    assert_eq!(
        results[0].as_ref().unwrap_err().to_string(),
        "scc.json: guardduty finding: field type: missing"
    );
    let results = parse_findings(GD_EVENT, "gd.json", InputFormat::Falco);
    assert_eq!(
        results[0].as_ref().unwrap_err().to_string(),
        "gd.json: falco finding: field rule: missing"
    );
}

#[rstest]
#[case::scc_only_as_scc(SCC_BARE, InputFormat::Scc)]
#[case::falco_only_as_falco(FALCO, InputFormat::Falco)]
fn input_formats_parse_their_own(#[case] input: &str, #[case] format: InputFormat) {
    assert!(parse_findings(input, "x", format)[0].is_ok());
}

#[rstest]
#[case("auto", InputFormat::Auto)]
#[case("SCC", InputFormat::Scc)]
#[case("guardduty", InputFormat::GuardDuty)]
#[case("guard-duty", InputFormat::GuardDuty)]
#[case("Falco", InputFormat::Falco)]
fn input_format_names(#[case] text: &str, #[case] expected: InputFormat) {
    assert_eq!(text.parse::<InputFormat>().unwrap(), expected);
    assert_eq!(
        expected.code().parse::<InputFormat>().unwrap(),
        expected,
        "code round-trips"
    );
}

#[test]
fn unknown_input_format_is_refused() {
    assert_eq!(
        "tetragon".parse::<InputFormat>().unwrap_err().to_string(),
        "unknown input format \"tetragon\": expected auto, scc, guardduty or falco"
    );
}

// ---------------------------------------------------------------------------------------------
// Hostile and malformed input: errors name the document and the field

#[rstest]
#[case::not_json("this is not JSON", "stdin: not JSON")]
#[case::truncated("{\"finding\": {\"name\": ", "stdin: not JSON")]
#[case::string(
    "\"Added Binary Executed\"",
    "stdin: expected a finding object (got a string)"
)]
#[case::number("42", "stdin: expected a finding object (got a number)")]
#[case::null("null", "stdin: expected a finding object (got null)")]
#[case::nested_array(
    "[[{\"rule\":\"r\"}]]",
    "stdin#0: expected a finding object (got an array)"
)]
#[case::unknown_shape(
    "{\"kind\":\"Alert\",\"spec\":{}}",
    "stdin: not a known finding shape (keys: \"kind\", \"spec\"); expected a Google SCC finding or notification, an AWS GuardDuty finding or EventBridge event, or a Falco event"
)]
#[case::empty_object(
    "{}",
    "stdin: not a known finding shape (keys: none); expected a Google SCC finding or notification, an AWS GuardDuty finding or EventBridge event, or a Falco event"
)]
fn unreadable_documents(#[case] input: &str, #[case] expected: &str) {
    assert_eq!(only_err(input), expected);
}

#[rstest]
#[case::scc_category_missing(
    r#"{"name":"n","resourceName":"//x"}"#,
    "stdin: scc finding: field category: missing"
)]
#[case::scc_category_number(
    r#"{"name":"n","category":7}"#,
    "stdin: scc finding: field category: expected a string (got 7)"
)]
#[case::scc_processes_not_a_list(
    r#"{"category":"Added Binary Executed","processes":"x"}"#,
    "stdin: scc finding: field processes: expected an array (got the string \"x\")"
)]
#[case::scc_process_not_an_object(
    r#"{"category":"Added Binary Executed","processes":[{"pid":"1"},true]}"#,
    "stdin: scc finding: field processes[1]: expected an object (got true)"
)]
#[case::scc_binary_not_an_object(
    r#"{"category":"Added Binary Executed","processes":[{"binary":["/tmp/x"]}]}"#,
    "stdin: scc finding: field processes[0].binary: expected an object (got an array)"
)]
#[case::scc_hashed_size_boolean(
    r#"{"finding":{"category":"Added Binary Executed","processes":[{"binary":{"path":"/x","hashedSize":true}}]}}"#,
    "stdin: scc finding: field finding.processes[0].binary.hashedSize: expected an integer or a numeric string (got true)"
)]
#[case::scc_snake_hashed_size(
    r#"{"resource_name":"//x","category":"Added Binary Executed","processes":[{"binary":{"path":"/x","hashed_size":"big"}}]}"#,
    "stdin: scc finding: field processes[0].binary.hashed_size: expected an integer or a numeric string (got the string \"big\")"
)]
#[case::scc_negative_size(
    r#"{"category":"Added Binary Executed","processes":[{"binary":{"path":"/x","size":"-1"}}]}"#,
    "stdin: scc finding: field processes[0].binary.size: expected a non-negative integer (got the string \"-1\")"
)]
#[case::scc_bad_sha256(
    r#"{"category":"Added Binary Executed","processes":[{"binary":{"path":"/x","sha256":"abc"}}]}"#,
    "stdin: scc finding: field processes[0].binary.sha256: expected a sha256 of 64 hex digits (got the string \"abc\")"
)]
#[case::scc_library_path_number(
    r#"{"category":"Added Library Loaded","processes":[{"libraries":[{"path":"/ok.so"},{"path":5}]}]}"#,
    "stdin: scc finding: field processes[0].libraries[1].path: expected a string (got 5)"
)]
#[case::scc_arg_object(
    r#"{"category":"Added Binary Executed","processes":[{"binary":{"path":"/x"},"args":["x",{}]}]}"#,
    "stdin: scc finding: field processes[0].args[1]: expected a string (got an object)"
)]
#[case::scc_pid_float(
    r#"{"category":"Added Binary Executed","processes":[{"binary":{"path":"/x"},"pid":1.5}]}"#,
    "stdin: scc finding: field processes[0].pid: expected an integer or a numeric string (got 1.5)"
)]
#[case::scc_bad_image_digest(
    r#"{"category":"Added Binary Executed","containers":[{"uri":"repo@sha256:1234"}]}"#,
    "stdin: scc finding: field containers[0].uri: expected an image reference with a valid sha256 digest (got the string \"repo@sha256:1234\")"
)]
#[case::scc_bad_pod_image_id(
    r#"{"category":"Added Binary Executed","kubernetes":{"pods":[{"containers":[{"imageId":"sha256:zz"}]}]}}"#,
    "stdin: scc finding: field kubernetes.pods[0].containers[0].imageId: expected an image reference with a valid sha256 digest (got the string \"sha256:zz\")"
)]
#[case::scc_resource_wrong_type(
    r#"{"finding":{"category":"Added Binary Executed"},"resource":{"projectDisplayName":["p"]}}"#,
    "stdin: scc finding: field resource.projectDisplayName: expected a string (got an array)"
)]
#[case::scc_finding_not_an_object(
    r#"{"notificationConfigName":"n","finding":"Added Binary Executed"}"#,
    "stdin: scc finding: field finding: expected an object (got the string \"Added Binary Executed\")"
)]
#[case::scc_finding_missing(
    r#"{"notificationConfigName":"n","resource":{}}"#,
    "stdin: scc finding: field finding: missing"
)]
#[case::scc_severity_bool(
    r#"{"category":"Added Binary Executed","severity":false}"#,
    "stdin: scc finding: field severity: expected an enum name or number (got false)"
)]
#[case::scc_list_not_a_list(
    r#"{"listFindingsResults":{"finding":{}}}"#,
    "stdin: scc finding: field listFindingsResults: expected an array (got an object)"
)]
#[case::guardduty_type_missing(
    r#"{"detail-type":"GuardDuty Finding","source":"aws.guardduty","detail":{"id":"x"}}"#,
    "stdin: guardduty finding: field detail.type: missing"
)]
#[case::guardduty_detail_not_an_object(
    r#"{"detail-type":"GuardDuty Finding","source":"aws.guardduty","detail":"x"}"#,
    "stdin: guardduty finding: field detail: expected an object (got the string \"x\")"
)]
#[case::guardduty_sha256_number(
    r#"{"source":"aws.guardduty","detail":{"type":"Execution:Runtime/NewBinaryExecuted","service":{"runtimeDetails":{"process":{"executablePath":"/x","executableSha256":12}}}}}"#,
    "stdin: guardduty finding: field detail.service.runtimeDetails.process.executableSha256: expected a string (got 12)"
)]
#[case::guardduty_pascal_pid(
    r#"{"Findings":[{"Type":"Execution:Runtime/NewBinaryExecuted","Service":{"RuntimeDetails":{"Process":{"ExecutablePath":"/x","Pid":"one"}}}}]}"#,
    "stdin#0: guardduty finding: field Service.RuntimeDetails.Process.Pid: expected an integer or a numeric string (got the string \"one\")"
)]
#[case::guardduty_lineage_path(
    r#"{"schemaVersion":"2.0","type":"t","service":{"runtimeDetails":{"process":{"lineage":[{"executablePath":false}]}}}}"#,
    "stdin: guardduty finding: field service.runtimeDetails.process.lineage[0].executablePath: expected a string (got false)"
)]
#[case::guardduty_modifying_process(
    r#"{"schemaVersion":"2.0","type":"t","service":{"runtimeDetails":{"context":{"modifyingProcess":{"executableSha256":"nothex"}}}}}"#,
    "stdin: guardduty finding: field service.runtimeDetails.context.modifyingProcess.executableSha256: expected a sha256 of 64 hex digits (got the string \"nothex\")"
)]
#[case::guardduty_severity_text(
    r#"{"schemaVersion":"2.0","type":"t","severity":"Medium"}"#,
    "stdin: guardduty finding: field severity: expected a number (got the string \"Medium\")"
)]
#[case::guardduty_workload_containers(
    r#"{"schemaVersion":"2.0","type":"t","resource":{"kubernetesDetails":{"kubernetesWorkloadDetails":{"containers":[{"image":7}]}}}}"#,
    "stdin: guardduty finding: field resource.kubernetesDetails.kubernetesWorkloadDetails.containers[0].image: expected a string (got 7)"
)]
#[case::guardduty_findings_element_not_an_object(
    r#"{"Findings":[5]}"#,
    "stdin#0: expected a finding object (got a number)"
)]
#[case::guardduty_findings_not_a_list(
    r#"{"Findings":{"Id":"x"}}"#,
    "stdin: guardduty finding: field Findings: expected an array (got an object)"
)]
#[case::falco_rule_missing(
    r#"{"output":"x","priority":"Critical","output_fields":{}}"#,
    "stdin: falco finding: field rule: missing"
)]
#[case::falco_fields_not_an_object(
    r#"{"rule":"r","output_fields":[]}"#,
    "stdin: falco finding: field output_fields: expected an object (got an array)"
)]
#[case::falco_exepath_number(
    r#"{"rule":"r","output_fields":{"proc.exepath":5}}"#,
    "stdin: falco finding: field output_fields[\"proc.exepath\"]: expected a string (got 5)"
)]
#[case::falco_bad_digest(
    r#"{"rule":"r","output_fields":{"container.image.repository":"r","container.image.digest":"sha256:nope"}}"#,
    "stdin: falco finding: field output_fields[\"container.image.digest\"]: expected a sha256 of 64 hex digits (got the string \"sha256:nope\")"
)]
#[case::push_bad_base64(
    r#"{"message":{"data":"not base64!!","messageId":"1"},"subscription":"s"}"#,
    "stdin: scc finding: field message.data: expected base64 (got the string \"not base64!!\")"
)]
#[case::push_data_missing(
    r#"{"message":{"messageId":"1"},"subscription":"s"}"#,
    "stdin: scc finding: field message.data: missing"
)]
#[case::push_message_not_an_object(
    r#"{"message":"hello","subscription":"s"}"#,
    "stdin: scc finding: field message: expected an object (got the string \"hello\")"
)]
#[case::push_inner_field(
    // base64 of {"finding":{"category":"Added Binary Executed","processes":[{"pid":"x"}]}}
    r#"{"message":{"data":"eyJmaW5kaW5nIjp7ImNhdGVnb3J5IjoiQWRkZWQgQmluYXJ5IEV4ZWN1dGVkIiwicHJvY2Vzc2VzIjpbeyJwaWQiOiJ4In1dfX0="},"subscription":"s"}"#,
    "stdin: scc finding: field message.data(base64).finding.processes[0].pid: expected an integer or a numeric string (got the string \"x\")"
)]
#[case::push_inner_not_json(
    // base64 of "oops"
    r#"{"message":{"data":"b29wcw=="},"subscription":"s"}"#,
    "stdin: expected a finding object (got a number)"
)]
fn field_errors_name_document_and_field(#[case] input: &str, #[case] expected: &str) {
    assert_eq!(only_err(input), expected);
}

#[test]
fn falco_message_property_is_not_a_push_envelope() {
    let input = r#"{"message":"10:13:20: Critical Executing binary not part of base image","rule":"Drop and execute new binary in container","priority":"Critical","output_fields":{"proc.exepath":"/tmp/x"}}"#;
    assert_eq!(only_ok(input).source, Source::Falco);
}

#[test]
fn falcosidekick_through_pubsub_push() {
    let payload = base64::engine::general_purpose::STANDARD.encode(FALCO);
    let input = json!({"message": {"data": payload, "messageId": "1"}, "subscription": "projects/p/subscriptions/falco"})
        .to_string();
    let finding = only_ok(&input);
    assert_eq!(finding.source, Source::Falco);
    assert_eq!(finding.binaries[0].path.as_deref(), Some("/tmp/x"));
    let bad = r#"{"message":{"data":"%%%"},"subscription":"s"}"#;
    assert_eq!(
        parse_findings(bad, "push.json", InputFormat::Falco)[0]
            .as_ref()
            .unwrap_err()
            .to_string(),
        "push.json: falco finding: field message.data: expected base64 (got the string \"%%%\")"
    );
}

#[test]
fn duplicate_keys_are_an_error_not_a_guess() {
    let error =
        parse(r#"{"category":"Added Binary Executed","processes":[{"pid":"1","pid":"2"}]}"#)
            .remove(0)
            .unwrap_err();
    assert!(
        crate::error_chain(&error)
            .starts_with("stdin: scc finding: unreadable: duplicate field `pid`"),
        "{}",
        crate::error_chain(&error)
    );
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(
        only_err(&deep),
        "stdin#0: expected a finding object (got an array)"
    );
    // Skipped values are skipped iteratively by serde_json, so depth costs no stack either.
    let input = format!(r#"{{"category":"Added Binary Executed","processes":{deep}}}"#);
    assert_eq!(
        only_err(&input),
        "stdin: scc finding: field processes[0]: expected an object (got an array)"
    );
}

#[test]
fn ten_megabyte_path_is_cut_and_marked() {
    let path = format!("/tmp/{}", "é".repeat(5 * 1024 * 1024));
    let input = json!({
        "category": "Added Binary Executed",
        "processes": [{"binary": {"path": path}, "args": [path.clone()]}]
    })
    .to_string();
    assert!(input.len() > 20_000_000);
    let finding = only_ok(&input);
    let binary = &finding.binaries[0];
    let kept = binary.path.as_deref().unwrap();
    assert!(kept.len() <= MAX_TEXT_BYTES && kept.len() > MAX_TEXT_BYTES - 4);
    assert!(path.starts_with(kept));
    assert!(binary.args[0].len() <= MAX_TEXT_BYTES);
    assert!(binary.truncated, "the path was cut");
    assert!(binary.args_truncated, "an argument was cut");
}

#[test]
fn ten_megabyte_wrong_value_gives_a_short_error() {
    let huge = "9".repeat(10 * 1024 * 1024);
    let input = format!(
        r#"{{"category":"Added Binary Executed","processes":[{{"binary":{{"path":"/x","size":"{huge}"}}}}]}}"#
    );
    let error = only_err(&input);
    assert!(error.len() < 200, "{}", &error[..200.min(error.len())]);
    assert!(error.starts_with(
        "stdin: scc finding: field processes[0].binary.size: expected an integer or a numeric string (got the string \"9999"
    ));
}

#[test]
fn ten_megabyte_category_and_context_are_cut() {
    let huge = "A".repeat(10 * 1024 * 1024);
    let input = json!({"rule": huge, "hostname": huge, "output_fields": {"k8s.pod.name": huge}})
        .to_string();
    let finding = only_ok(&input);
    assert_eq!(finding.raw_category.len(), MAX_TEXT_BYTES);
    assert!(finding.id.len() <= MAX_TEXT_BYTES);
    assert_eq!(
        finding.context.pod.as_deref().map(str::len),
        Some(MAX_TEXT_BYTES)
    );
    assert_eq!(
        finding.category,
        Category::Other("A".repeat(MAX_TEXT_BYTES))
    );
}

#[test]
fn ten_megabytes_of_garbage_is_one_error() {
    let garbage = "\u{1}garbage ".repeat(1024 * 1024);
    assert_eq!(only_err(&garbage), "stdin: not JSON");
}

#[test]
fn too_many_processes_is_an_error_not_silently_dropped_evidence() {
    let processes: Vec<_> = (0..=MAX_PROCESSES)
        .map(|pid| json!({"binary": {"path": "/bin/sh"}, "pid": pid + 1}))
        .collect();
    let input = json!({"category": "Added Binary Executed", "processes": processes}).to_string();
    assert_eq!(
        only_err(&input),
        "stdin: scc finding: field processes: more than 64 entries"
    );
    let libraries: Vec<_> = (0..=MAX_LIBRARIES)
        .map(|n| json!({"path": format!("/lib/{n}.so")}))
        .collect();
    let input =
        json!({"category": "Added Library Loaded", "processes": [{"libraries": libraries}]})
            .to_string();
    assert_eq!(
        only_err(&input),
        "stdin: scc finding: field processes[0].libraries: more than 256 entries"
    );
}

#[test]
fn huge_argument_lists_are_cut_to_the_limit() {
    let args: Vec<String> = (0..10_000).map(|n| format!("arg{n}")).collect();
    let input = json!({"category": "Added Binary Executed", "processes": [{"binary": {"path": "/x"}, "args": args}]})
        .to_string();
    let finding = only_ok(&input);
    assert_eq!(finding.binaries[0].args.len(), MAX_ARGS);
    assert!(finding.binaries[0].args_truncated);
    assert!(
        !finding.binaries[0].truncated,
        "the path is whole: cut arguments say nothing about it"
    );
}

#[test]
fn a_finding_without_evidence_is_returned_for_triage_to_judge() {
    let finding = only_ok(r#"{"category":"Added Binary Executed"}"#);
    assert!(finding.binaries.is_empty());
    assert_eq!(finding.image, ImageRef::default());
    assert_eq!(finding.id, "stdin", "no name: the document label");
}

#[test]
fn unknown_fields_and_wrong_types_in_unread_fields_are_ignored() {
    let finding = only_ok(
        r#"{"category":"Added Binary Executed","files":[{"operations":[{"type":"OPEN"}]}],
            "mitreAttack":7,"processes":[{"binary":{"path":"/x","fileLoadState":"LOADED_BY_PROCESS","contents":false},
            "envVariables":"nope"}],"sourceProperties":{"Pod_Name":["not","a","string"]}}"#,
    );
    assert_eq!(finding.binaries[0].path.as_deref(), Some("/x"));
    assert_eq!(finding.context.pod, None);
}

// ---------------------------------------------------------------------------------------------
// Field semantics

#[rstest]
#[case::memfd("/memfd:payload", true)]
#[case::memfd_deleted("/memfd:kworker (deleted)", true)]
#[case::memfd_without_slash("memfd:x", true)]
#[case::deleted("/tmp/x (deleted)", true)]
#[case::proc_self_fd("/proc/self/fd/3", true)]
#[case::proc_thread_self_fd("/proc/thread-self/fd/4", true)]
#[case::proc_pid_fd("/proc/4242/fd/3", true)]
#[case::dev_fd("/dev/fd/3", true)]
#[case::dev_shm("/dev/shm/.x/run", true)]
#[case::run_shm("/run/shm/x", true)]
#[case::proc_pid_exe("/proc/4242/exe", false)]
#[case::proc_name_fd("/proc/self2/fd/3", false)]
#[case::tmp("/tmp/xmr", false)]
#[case::memfd_elsewhere("/opt/memfd:x", false)]
#[case::dev_shm_dir_name("/dev/shmx/run", false)]
#[case::empty("", false)]
fn fileless_paths(#[case] path: &str, #[case] expected: bool) {
    assert_eq!(is_fileless_path(path), expected);
}

#[test]
fn fileless_category_marks_the_executing_process() {
    let finding = only_ok(
        r#"{"category":"Execution: Fileless Execution in /memfd:","processes":[
            {"binary":{"path":"/usr/bin/python3"},"pid":"2","parentPid":"1"},
            {"binary":{"path":"/bin/sh"},"pid":"1"}]}"#,
    );
    let flags: Vec<_> = finding
        .binaries
        .iter()
        .map(|binary| (binary.role, binary.fileless))
        .collect();
    assert_eq!(
        flags,
        [(BinaryRole::Process, true), (BinaryRole::Parent, false)]
    );
}

#[rstest]
#[case::hashed_less_than_size(r#""size":"100","hashedSize":"10""#, true)]
#[case::flagged(r#""size":"100","hashedSize":"100","partiallyHashed":true"#, true)]
#[case::whole(r#""size":"100","hashedSize":"100""#, false)]
#[case::whole_flag_false(r#""size":"100","hashedSize":"100","partiallyHashed":false"#, false)]
#[case::no_sizes(r#""partiallyHashed":false"#, false)]
fn partial_hashes(#[case] fields: &str, #[case] expected: bool) {
    let input = format!(
        r#"{{"category":"Added Binary Executed","processes":[{{"binary":{{"path":"/x",{fields}}}}}]}}"#
    );
    assert_eq!(only_ok(&input).binaries[0].partially_hashed, expected);
}

#[rstest]
#[case::string_int64s(r#""size":"1234","hashedSize":"1234","#, r#""pid":"77""#)]
#[case::number_int64s(r#""size":1234,"hashedSize":1234,"#, r#""pid":77"#)]
#[case::snake_case(r#""size":"1234","hashed_size":"1234","#, r#""pid":"77""#)]
fn int64_fields_as_strings_or_numbers(#[case] sizes: &str, #[case] pid: &str) {
    let input = format!(
        r#"{{"category":"Added Binary Executed","processes":[{{"binary":{{{sizes}"path":"/x"}},{pid}}}]}}"#
    );
    let binary = only_ok(&input).binaries.remove(0);
    assert_eq!(
        (binary.size, binary.hashed_size, binary.pid),
        (Some(1234), Some(1234), Some(77))
    );
}

#[rstest]
#[case::plain("/usr/bin/x", "/usr/bin/x")]
#[case::json_encoded("\"/usr/bin/x\"", "/usr/bin/x")]
#[case::json_escapes("\"/tmp/a\\tb\"", "/tmp/a\tb")]
#[case::lone_quote("\"/tmp/x", "\"/tmp/x")]
fn scc_json_encoded_paths(#[case] raw: &str, #[case] expected: &str) {
    let input =
        json!({"category": "Added Binary Executed", "processes": [{"binary": {"path": raw}}]})
            .to_string();
    assert_eq!(only_ok(&input).binaries[0].path.as_deref(), Some(expected));
}

#[rstest]
#[case::tag("nginx:1.25", None, true)]
#[case::tag_and_digest(
    "ghcr.io/acme/app:1.0@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    Some("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    false
)]
#[case::digest_only(
    "ghcr.io/acme/app@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    Some("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    false
)]
#[case::bare_config_digest(
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    Some("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    false
)]
#[case::runtime_prefix(
    "docker-pullable://ghcr.io/acme/app@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    Some("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    false
)]
#[case::other_algorithm("ghcr.io/acme/app@sha512:abcd", None, false)]
#[case::malformed_digest_kept_as_text("ghcr.io/acme/app@sha256:abcd", None, false)]
fn image_references(#[case] reference: &str, #[case] digest: Option<&str>, #[case] tag_only: bool) {
    let image = ImageRef::from_reference(reference);
    assert_eq!(image.reference.as_deref(), Some(reference));
    assert_eq!(
        image.digests.first().map(ToString::to_string).as_deref(),
        digest
    );
    assert_eq!(image.tag_only, tag_only);
}

#[test]
fn falco_never_takes_argv0_as_the_path() {
    let finding = only_ok(
        r#"{"rule":"Drop and execute new binary in container","output_fields":{"proc.exe":"/usr/bin/ls","proc.cmdline":"ls -la"}}"#,
    );
    assert_eq!(finding.binaries[0].path, None);
    assert_eq!(finding.binaries[0].args, ["ls", "-la"]);
}

#[test]
fn falco_null_container_fields_leave_the_image_unknown() {
    let finding = only_ok(
        r#"{"rule":"Drop and execute new binary in container","output_fields":{"proc.exepath":"/tmp/x",
            "container.image.repository":null,"container.image.tag":null,"container.id":"<NA>"}}"#,
    );
    assert_eq!(finding.image, ImageRef::default());
    assert_eq!(finding.context.container_id, None);
}

#[rstest]
#[case::repository_and_tag(
    r#""container.image.repository":"r/app","container.image.tag":"1.0""#,
    Some("r/app:1.0")
)]
#[case::repository_and_digest(
    r#""container.image.repository":"r/app","container.image.digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855""#,
    Some("r/app@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
)]
#[case::repository_without_tag_is_no_reference(
    r#""container.image.repository":"r/app","container.image.tag":null"#,
    None
)]
#[case::full_image_fallback(
    r#""container.image.repository":"r/app","container.image":"r/app:2.0""#,
    Some("r/app:2.0")
)]
#[case::nothing(r#""container.image.repository":"<NA>""#, None)]
fn falco_image_references(#[case] fields: &str, #[case] expected: Option<&str>) {
    let input = format!(r#"{{"rule":"r","output_fields":{{{fields}}}}}"#);
    assert_eq!(only_ok(&input).image.reference.as_deref(), expected);
}

// ---------------------------------------------------------------------------------------------
// Which container: the image must be that of the container the binary ran in

const DIGEST_A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const DIGEST_B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/// An SCC finding with these `containers[]`, pod containers and `sourceProperties`.
fn scc_with_containers(
    containers: serde_json::Value,
    pod_containers: serde_json::Value,
    source_properties: serde_json::Value,
) -> Finding {
    only_ok(
        &json!({
            "category": "Added Binary Executed",
            "processes": [{"binary": {"path": "/tmp/x"}}],
            "containers": containers,
            "kubernetes": {"pods": [{"ns": "shop", "name": "web-1", "containers": pod_containers}]},
            "sourceProperties": source_properties,
        })
        .to_string(),
    )
}

/// (reference, container, ambiguity) of a finding.
fn image_and_container(finding: &Finding) -> (Option<&str>, Option<&str>, Option<&str>) {
    (
        finding.image.reference.as_deref(),
        finding.context.container.as_deref(),
        finding.image.ambiguity.as_deref(),
    )
}

#[rstest]
#[case::name_chooses_the_sidecar(
    json!([{"name": "app", "uri": format!("reg/a@{DIGEST_A}")}, {"name": "sidecar", "uri": format!("reg/b@{DIGEST_B}")}]),
    json!([]),
    json!({"Container_Name": "sidecar"}),
    (Some(format!("reg/b@{DIGEST_B}")), Some("sidecar"), None),
)]
#[case::name_matches_in_the_pod_list(
    json!([]),
    json!([{"name": "app", "uri": "reg/a:1"}, {"name": "sidecar", "uri": "reg/b:2"}]),
    json!({"Container_Name": "app"}),
    (Some("reg/a:1".to_owned()), Some("app"), None),
)]
#[case::no_name_and_two_images(
    json!([{"name": "app", "uri": format!("reg/a@{DIGEST_A}")}, {"name": "sidecar", "uri": "reg/b:2"}]),
    json!([]),
    json!({}),
    (None, None, Some(format!("2 containers with different images (app: reg/a@{DIGEST_A}, sidecar: reg/b:2) and no Container_Name to choose"))),
)]
#[case::name_matching_two_images(
    json!([{"name": "app", "uri": format!("reg/a@{DIGEST_A}")}]),
    json!([{"name": "app", "uri": format!("reg/a@{DIGEST_B}")}]),
    json!({"Container_Name": "app"}),
    (None, Some("app"), Some(format!("Container_Name \"app\" matches 2 containers with different images (app: reg/a@{DIGEST_A}, app: reg/a@{DIGEST_B})"))),
)]
#[case::name_matching_none_of_two_images(
    json!([{"name": "app", "uri": "reg/a:1"}, {"name": "sidecar", "uri": "reg/b:2"}]),
    json!([]),
    json!({"Container_Name": "init"}),
    (None, Some("init"), Some("Container_Name \"init\" matches no container, and 2 containers have different images (app: reg/a:1, sidecar: reg/b:2)".to_owned())),
)]
#[case::name_matching_none_of_one_image(
    json!([{"name": "app", "uri": "reg/a:1"}]),
    json!([]),
    json!({"Container_Name": "init"}),
    (Some("reg/a:1".to_owned()), Some("init"), None),
)]
#[case::one_image_listed_twice_is_not_ambiguous(
    json!([{"name": "app", "uri": "reg/a:1", "imageId": format!("reg/a@{DIGEST_A}")}]),
    json!([{"name": "app", "uri": "reg/a:1"}, {"name": "app-copy", "imageId": format!("reg/a@{DIGEST_A}")}]),
    json!({}),
    (Some("reg/a:1".to_owned()), None, None),
)]
#[case::a_tag_and_the_same_tag_pinned_are_one_image(
    json!([{"name": "app", "uri": "reg/a:1"}]),
    json!([{"name": "app", "uri": format!("reg/a:1@{DIGEST_A}")}]),
    json!({}),
    (Some("reg/a:1".to_owned()), Some("app"), None),
)]
#[case::one_tag_two_digests_is_two_images(
    json!([{"name": "app", "uri": "reg/a:1", "imageId": format!("reg/a@{DIGEST_A}")}]),
    json!([{"name": "app", "uri": "reg/a:1", "imageId": format!("reg/a@{DIGEST_B}")}]),
    json!({}),
    (None, None, Some("2 containers with different images (app: reg/a:1, app: reg/a:1) and no Container_Name to choose".to_owned())),
)]
#[case::image_uri_singles_one_out(
    json!([{"name": "app", "uri": "reg/a:1"}, {"name": "sidecar", "uri": "reg/b:2"}]),
    json!([]),
    json!({"Container_Image_Uri": "reg/b:2"}),
    (Some("reg/b:2".to_owned()), Some("sidecar"), None),
)]
#[case::image_uri_that_matches_none(
    json!([{"name": "app", "uri": "reg/a:1"}, {"name": "sidecar", "uri": "reg/b:2"}]),
    json!([]),
    json!({"Container_Image_Uri": "reg/c:3"}),
    (None, None, Some("2 containers with different images (app: reg/a:1, sidecar: reg/b:2) and no Container_Name to choose; Container_Image_Uri \"reg/c:3\" does not single one out".to_owned())),
)]
#[case::named_container_without_image_uses_the_image_uri(
    json!([{"name": "app", "uri": "reg/a:1"}, {"name": "sidecar"}]),
    json!([]),
    json!({"Container_Name": "sidecar", "Container_Image_Uri": "reg/b:2"}),
    (Some("reg/b:2".to_owned()), Some("sidecar"), None),
)]
fn scc_image_is_the_named_containers(
    #[case] containers: serde_json::Value,
    #[case] pod_containers: serde_json::Value,
    #[case] source_properties: serde_json::Value,
    #[case] expected: (Option<String>, Option<&str>, Option<String>),
) {
    let finding = scc_with_containers(containers, pod_containers, source_properties);
    assert_eq!(
        image_and_container(&finding),
        (expected.0.as_deref(), expected.1, expected.2.as_deref())
    );
    if finding.image.ambiguity.is_some() {
        assert_eq!(
            (finding.image.digests.as_slice(), finding.image.tag_only),
            (&[][..], false),
            "an unknown image carries nothing triage could match"
        );
    }
}

#[test]
fn scc_digests_of_one_image_listed_twice_are_merged() {
    let finding = scc_with_containers(
        json!([{"name": "app", "uri": format!("reg/a@{DIGEST_A}")}]),
        json!([{"name": "app", "uri": format!("reg/a@{DIGEST_A}"), "imageId": DIGEST_B}]),
        json!({}),
    );
    let digests: Vec<String> = finding
        .image
        .digests
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(digests, [DIGEST_A, DIGEST_B]);
}

/// A GuardDuty EKS finding whose `containerDetails` has no image.
fn guardduty_with_containers(details: serde_json::Value, containers: serde_json::Value) -> Finding {
    only_ok(
        &json!({
            "schemaVersion": "2.0",
            "type": "Execution:Runtime/NewBinaryExecuted",
            "resource": {
                "containerDetails": details,
                "kubernetesDetails": {"kubernetesWorkloadDetails": {"name": "web-1", "type": "pods", "containers": containers}},
            },
        })
        .to_string(),
    )
}

#[rstest]
#[case::by_id(
    json!({"id": "c2", "name": "whatever"}),
    (Some("reg/b:2"), Some("whatever"), None)
)]
#[case::by_name(json!({"name": "sidecar"}), (Some("reg/b:2"), Some("sidecar"), None))]
#[case::nothing_to_choose_by(
    json!({}),
    (None, None, Some("2 containers with different images (app: reg/a:1, sidecar: reg/b:2) and no containerDetails id or name to choose"))
)]
#[case::unknown_name(
    json!({"name": "init"}),
    (None, Some("init"), Some("containerDetails.name \"init\" matches no container, and 2 containers have different images (app: reg/a:1, sidecar: reg/b:2)"))
)]
#[case::own_image_wins(
    json!({"name": "app", "image": "reg/c:3"}),
    (Some("reg/c:3"), Some("app"), None)
)]
fn guardduty_image_is_the_runtime_containers(
    #[case] details: serde_json::Value,
    #[case] expected: (Option<&str>, Option<&str>, Option<&str>),
) {
    let containers = json!([
        {"id": "c1", "name": "app", "image": "reg/a:1"},
        {"id": "c2", "name": "sidecar", "image": "reg/b:2"}
    ]);
    let finding = guardduty_with_containers(details, containers);
    assert_eq!(image_and_container(&finding), expected);
}

#[test]
fn guardduty_one_candidate_image_needs_no_name() {
    let finding = guardduty_with_containers(
        json!({}),
        json!([{"name": "app", "image": "reg/a:1"}, {"name": "app", "image": "reg/a:1"}]),
    );
    assert_eq!(
        image_and_container(&finding),
        (Some("reg/a:1"), Some("app"), None)
    );
}

// ---------------------------------------------------------------------------------------------
// Node names and truncation

#[rstest]
#[case::compute_instance(
    "//compute.googleapis.com/projects/p/zones/europe-west4-b/instances/gke-pool-1a2b-x9z8",
    Some("gke-pool-1a2b-x9z8")
)]
#[case::self_link(
    "https://www.googleapis.com/compute/v1/projects/p/zones/z/instances/gke-pool-1a2b-x9z8",
    Some("gke-pool-1a2b-x9z8")
)]
#[case::kubernetes_node(
    "//container.googleapis.com/projects/p/locations/l/clusters/c/k8s/nodes/gke-pool-1",
    Some("gke-pool-1")
)]
#[case::plain(
    "ip-10-0-3-17.eu-west-1.compute.internal",
    Some("ip-10-0-3-17.eu-west-1.compute.internal")
)]
#[case::other_resource("//compute.googleapis.com/projects/p/zones/z/disks/d1", None)]
#[case::upper_case("Node-1", None)]
#[case::shell_text("node;reboot", None)]
#[case::leading_dash("-node", None)]
#[case::empty_label("a..b", None)]
#[case::too_long(&"a".repeat(254), None)]
fn node_names_are_what_kubectl_accepts(#[case] reported: &str, #[case] expected: Option<&str>) {
    assert_eq!(node_name(reported), expected);
}

#[test]
fn scc_node_is_the_vm_name_at_the_end_of_the_uri() {
    let finding = only_ok(
        r#"{"category":"Added Binary Executed","kubernetes":{"nodes":[
            {"name":"//compute.googleapis.com/projects/p/zones/z/instances/gke-pool-7h3k"}]},
            "sourceProperties":{"VM_Instance_Name":"other-vm"}}"#,
    );
    assert_eq!(finding.context.node.as_deref(), Some("gke-pool-7h3k"));
    let two_nodes = only_ok(
        r#"{"category":"Added Binary Executed","kubernetes":{"nodes":[{"name":"n-1"},{"name":"n-2"}]},
            "sourceProperties":{"VM_Instance_Name":"n-2"}}"#,
    );
    assert_eq!(
        two_nodes.context.node.as_deref(),
        Some("n-2"),
        "several nodes: the VM the finding names"
    );
}

#[rstest]
#[case::one_interface(json!([{"privateDnsName": "ip-10-0-1-5.ec2.internal"}]), Some("ip-10-0-1-5.ec2.internal"))]
#[case::same_name_twice(
    json!([{"privateDnsName": "ip-10-0-1-5.ec2.internal"}, {"privateDnsName": "ip-10-0-1-5.ec2.internal"}]),
    Some("ip-10-0-1-5.ec2.internal")
)]
#[case::two_names(
    json!([{"privateDnsName": "ip-10-0-1-5.ec2.internal"}, {"privateDnsName": "ip-10-0-1-77.ec2.internal"}]),
    None
)]
#[case::no_interfaces(json!([]), None)]
fn guardduty_node_is_the_private_dns_name(
    #[case] interfaces: serde_json::Value,
    #[case] expected: Option<&str>,
) {
    let finding = only_ok(
        &json!({
            "schemaVersion": "2.0",
            "type": "Execution:Runtime/NewBinaryExecuted",
            "resource": {"instanceDetails": {"instanceId": "i-0f1e2d3c4b5a69788", "networkInterfaces": interfaces}},
        })
        .to_string(),
    );
    assert_eq!(finding.context.node.as_deref(), expected);
    assert_eq!(
        finding.context.instance_id.as_deref(),
        Some("i-0f1e2d3c4b5a69788")
    );
}

#[test]
fn falco_hostname_is_the_node_only_when_it_is_a_node_name() {
    let node = only_ok(r#"{"rule":"r","hostname":"gke-ci-pool-2c4e","output_fields":{}}"#);
    assert_eq!(node.context.node.as_deref(), Some("gke-ci-pool-2c4e"));
    let laptop = only_ok(r#"{"rule":"r","hostname":"Build_Host","output_fields":{}}"#);
    assert_eq!(laptop.context.node, None);
    assert_eq!(laptop.context.hostname.as_deref(), Some("Build_Host"));
}

#[test]
fn scc_arguments_truncated_leaves_the_path_whole() {
    let finding = only_ok(
        r#"{"category":"Added Binary Executed","processes":[{"binary":{"path":"/usr/bin/bash"},
            "args":["bash","-c"],"argumentsTruncated":true}]}"#,
    );
    let binary = &finding.binaries[0];
    assert_eq!(binary.path.as_deref(), Some("/usr/bin/bash"));
    assert!(!binary.truncated, "the path was reported whole");
    assert!(binary.args_truncated);
}

// ---------------------------------------------------------------------------------------------
// Flags

#[test]
fn from_flags_builds_a_path_and_hash_claim() {
    let digest: Sha256Digest =
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            .parse()
            .unwrap();
    let finding = from_flags(
        "/usr/local/bin/tool",
        Some(digest),
        "ghcr.io/acme/app:1.0@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    insta::assert_json_snapshot!(finding, @r#"
    {
      "source": "flags",
      "document": "flags",
      "id": "flags",
      "category": "added-binary",
      "rawCategory": "flags",
      "severity": null,
      "eventTime": null,
      "image": {
        "reference": "ghcr.io/acme/app:1.0@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "digests": [
          "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        ],
        "tagOnly": false,
        "ambiguity": null
      },
      "binaries": [
        {
          "role": "process",
          "path": "/usr/local/bin/tool",
          "sha256": "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
          "size": null,
          "hashedSize": null,
          "partiallyHashed": false,
          "fileless": false,
          "pid": null,
          "args": [],
          "truncated": false,
          "argsTruncated": false
        }
      ],
      "context": {}
    }
    "#);
}

#[test]
fn from_flags_without_image_or_hash() {
    let finding = from_flags("/memfd:x", None, " ");
    assert_eq!(finding.image, ImageRef::default());
    assert!(finding.binaries[0].fileless);
    assert_eq!(finding.binaries[0].sha256, None);
}

#[test]
fn category_codes_serialise_as_kebab_case() {
    let codes: Vec<_> = [
        Category::AddedBinary,
        Category::AddedLibrary,
        Category::AddedMaliciousBinary,
        Category::ModifiedMaliciousBinary,
        Category::BuiltInMaliciousBinary,
        Category::Fileless,
        Category::Other("Foo".to_owned()),
    ]
    .iter()
    .map(|category| serde_json::to_value(category).unwrap())
    .collect();
    assert_eq!(
        serde_json::Value::Array(codes),
        json!([
            "added-binary",
            "added-library",
            "added-malicious-binary",
            "modified-malicious-binary",
            "built-in-malicious-binary",
            "fileless",
            "other"
        ])
    );
    assert_eq!(
        serde_json::to_value([Source::Scc, Source::GuardDuty, Source::Falco, Source::Flags])
            .unwrap(),
        json!(["scc", "guardduty", "falco", "flags"])
    );
}

/// Every source reads back from its code, and nothing else reads as one.
#[test]
fn source_codes_round_trip() {
    for source in Source::ALL {
        assert_eq!(source.code().parse::<Source>().unwrap(), source);
        assert_eq!(source.to_string().parse::<Source>().unwrap(), source);
    }
    assert_eq!(
        "GuardDuty".parse::<Source>().unwrap_err().to_string(),
        "\"GuardDuty\" is not a finding source (one of scc, guardduty, falco, flags)"
    );
}

/// `finding` must not depend on `manifest`: triage is where the two meet.
#[test]
fn finding_does_not_import_manifest() {
    for (name, source) in [
        ("mod.rs", include_str!("mod.rs")),
        ("field.rs", include_str!("field.rs")),
        ("scc.rs", include_str!("scc.rs")),
        ("guardduty.rs", include_str!("guardduty.rs")),
        ("falco.rs", include_str!("falco.rs")),
        ("stream.rs", include_str!("stream.rs")),
    ] {
        assert!(
            !source.contains("crate::manifest"),
            "{name} imports manifest"
        );
        assert!(!source.contains("std::fs"), "{name} does file I/O");
    }
}
