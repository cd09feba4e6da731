//! Finding parsers on arbitrary text: never panic, one result per finding.
#![no_main]

use exelock::finding::{InputFormat, parse_findings};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        for format in [
            InputFormat::Auto,
            InputFormat::Scc,
            InputFormat::GuardDuty,
            InputFormat::Falco,
        ] {
            let _ = parse_findings(text, "fuzz", format);
        }
    }
});
