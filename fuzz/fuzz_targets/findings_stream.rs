//! The streaming finding reader on arbitrary bytes: never panics, and what it yields does not
//! depend on how the bytes arrive (one read, or reads of a few bytes at a time).
#![no_main]

use std::io::Read;

use exelock::finding::{InputFormat, read_findings};
use libfuzzer_sys::fuzz_target;

/// Hands out the input a few bytes per read, the count taken from the input's first byte.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let count = self.step.min(buf.len()).min(self.data.len());
        buf[..count].copy_from_slice(&self.data[..count]);
        self.data = &self.data[count..];
        Ok(count)
    }
}

/// Every result, as text: a finding's label and binaries, or the error's message.
fn outcomes(reader: impl Read) -> Vec<String> {
    let mut out = Vec::new();
    let end = read_findings(reader, "fuzz", InputFormat::Auto, &mut |result| {
        out.push(match result {
            Ok(finding) => format!("{} {:?}", finding.document, finding.binaries),
            Err(error) => error.to_string(),
        });
    });
    if let Err(error) = end {
        out.push(error.to_string());
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let whole = outcomes(rest);
    let trickled = outcomes(Trickle {
        data: rest,
        step: usize::from(first % 7) + 1,
    });
    assert_eq!(whole, trickled);
});
