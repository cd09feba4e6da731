//! Splits an input stream into its JSON documents without holding the whole input.
//!
//! An input is one JSON document, a top-level JSON array of documents, JSON lines, or
//! concatenated (pretty-printed) documents. This module finds where each document starts and
//! ends in the bytes of an `io::Read` and hands the documents on one at a time, so memory is
//! bounded by the largest document ([`MAX_DOCUMENT_BYTES`]) whatever the size of the input: a
//! top-level array is read element by element, JSON lines line by line.
//!
//! Why by hand: `serde_json`'s `StreamDeserializer` splits concatenated values but not the
//! elements of one top-level array, and neither it nor a `DeserializeSeed` over the array can
//! cap one document's size before buffering it or say on which line it began. So the
//! boundaries come from a small scanner that follows brackets, strings and escapes
//! without judging the JSON; every document it finds is then checked by `serde_json`, so a
//! scanner that is lenient about syntax never lets invalid JSON through. The scanner keeps no
//! stack (nesting depth is a counter), so deep nesting costs no memory or stack either.
//!
//! This module does not interpret documents (that is the vendor parsers' job) and reads
//! nothing but the reader it is given.

use std::io::{self, BufRead, BufReader, Read};

use serde::de::Error as _;
use serde_json::value::RawValue;

use super::{Error, MAX_DOCUMENT_BYTES};

/// Bytes read from the underlying reader at a time.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// A line buffer larger than this is given back after use, so one huge line does not keep
/// its memory for the rest of the input.
const KEPT_BUFFER_BYTES: usize = 1024 * 1024;

/// One JSON document of the input, checked to be JSON, not yet interpreted.
pub(super) struct Document<'a> {
    /// Where it is: `findings.json`, `findings.json#3`, `stdin line 7`, `stdin line 7#0`.
    pub(super) label: String,
    /// Its JSON text.
    pub(super) json: &'a str,
}

/// Reads `reader` and calls `each` with every document, or with an error for a part of the
/// input that is no JSON document (see [`super::read_findings`] for the shapes, labels and
/// recovery). Only a failure to read is returned.
pub(super) fn documents(
    reader: impl Read,
    label: &str,
    each: &mut dyn FnMut(Result<Document<'_>, Error>),
) -> Result<(), Error> {
    let mut splitter = Splitter {
        input: Input::new(reader),
        label,
        each,
    };
    splitter.run().map_err(|source| Error::Read {
        document: label.to_owned(),
        source,
    })
}

/// The input, read through a buffer, with the line of the next byte and a few bytes that may
/// be put back in front of it.
struct Input<R> {
    reader: BufReader<R>,
    /// Bytes read ahead and put back ([`Input::unread`]), and how many of them are consumed.
    pushed: Vec<u8>,
    pushed_at: usize,
    /// The 1-based line of the next unread byte.
    line: usize,
}

/// How a line or a value ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// It is whole in the buffer.
    Whole,
    /// It is longer than the limit: the buffer holds only its start.
    TooLong,
}

/// What the scanner does with the next byte of a value.
enum Step {
    /// The byte belongs to the value, which goes on.
    Continue,
    /// The byte closes the value.
    EndWith,
    /// The value ended before this byte (a number or literal followed by a delimiter).
    EndBefore,
}

/// Where the scanner is inside a value.
#[derive(Default)]
struct Scanner {
    started: bool,
    kind: Kind,
    depth: usize,
    in_string: bool,
    escaped: bool,
}

#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Kind {
    /// An object or an array.
    #[default]
    Container,
    /// A string.
    Text,
    /// A number, a literal, or anything else up to the next delimiter.
    Bare,
}

impl Scanner {
    fn step(&mut self, byte: u8) -> Step {
        if !self.started {
            // The first byte always belongs to the value, so scanning always moves on.
            self.started = true;
            match byte {
                b'{' | b'[' => {
                    self.kind = Kind::Container;
                    self.depth = 1;
                }
                b'"' => {
                    self.kind = Kind::Text;
                    self.in_string = true;
                }
                _ => self.kind = Kind::Bare,
            }
            return Step::Continue;
        }
        if self.kind == Kind::Bare {
            return if matches!(
                byte,
                b' ' | b'\t' | b'\r' | b'\n' | b',' | b':' | b'[' | b']' | b'{' | b'}' | b'"'
            ) {
                Step::EndBefore
            } else {
                Step::Continue
            };
        }
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if byte == b'\\' {
                self.escaped = true;
            } else if byte == b'"' {
                self.in_string = false;
                if self.kind == Kind::Text {
                    return Step::EndWith;
                }
            }
            return Step::Continue;
        }
        match byte {
            b'"' => self.in_string = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' => {
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 0 {
                    return Step::EndWith;
                }
            }
            _ => {}
        }
        Step::Continue
    }
}

impl<R: Read> Input<R> {
    fn new(reader: R) -> Self {
        Self {
            reader: BufReader::with_capacity(READ_BUFFER_BYTES, reader),
            pushed: Vec::new(),
            pushed_at: 0,
            line: 1,
        }
    }

    /// The buffered bytes not yet consumed (empty at the end of the input).
    fn fill(&mut self) -> io::Result<&[u8]> {
        if self.pushed_at < self.pushed.len() {
            return Ok(&self.pushed[self.pushed_at..]);
        }
        loop {
            match self.reader.fill_buf() {
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
                Ok(_) => break,
            }
        }
        // Filled above: this returns the buffer without reading again.
        self.reader.fill_buf()
    }

    fn consume(&mut self, count: usize) {
        if self.pushed_at < self.pushed.len() {
            self.pushed_at += count;
            if self.pushed_at >= self.pushed.len() {
                self.pushed = Vec::new();
                self.pushed_at = 0;
            }
        } else {
            self.reader.consume(count);
        }
    }

    /// Puts `bytes`, which start on `line`, back in front of the unread input.
    fn unread(&mut self, mut bytes: Vec<u8>, line: usize) {
        bytes.extend_from_slice(self.pushed.get(self.pushed_at..).unwrap_or_default());
        self.pushed = bytes;
        self.pushed_at = 0;
        self.line = line;
    }

    /// Skips a UTF-8 byte order mark at the start.
    fn skip_byte_order_mark(&mut self) -> io::Result<()> {
        const MARK: [u8; 3] = [0xEF, 0xBB, 0xBF];
        let mut seen = Vec::with_capacity(MARK.len());
        while seen.len() < MARK.len() {
            match self.fill()?.first() {
                Some(&byte) if byte == MARK[seen.len()] => {
                    seen.push(byte);
                    self.consume(1);
                }
                _ => {
                    self.unread(seen, 1);
                    break;
                }
            }
        }
        Ok(())
    }

    /// Skips JSON whitespace; the next byte (not consumed), or `None` at the end.
    fn skip_whitespace(&mut self) -> io::Result<Option<u8>> {
        loop {
            let buffer = self.fill()?;
            if buffer.is_empty() {
                return Ok(None);
            }
            let mut used = 0;
            let mut newlines = 0;
            let mut next = None;
            for &byte in buffer {
                match byte {
                    b'\n' => newlines += 1,
                    b' ' | b'\t' | b'\r' => {}
                    other => {
                        next = Some(other);
                        break;
                    }
                }
                used += 1;
            }
            self.consume(used);
            self.line += newlines;
            if next.is_some() {
                return Ok(next);
            }
        }
    }

    /// Reads the rest of the line, through its `\n`, into `out`, keeping at most `limit`
    /// bytes. A longer line is consumed to its end (`TooLong`), or, with `stop_at_limit`,
    /// only up to the limit.
    fn read_line(
        &mut self,
        out: &mut Vec<u8>,
        limit: usize,
        stop_at_limit: bool,
    ) -> io::Result<End> {
        let mut end = End::Whole;
        loop {
            let buffer = self.fill()?;
            if buffer.is_empty() {
                return Ok(end);
            }
            let newline = buffer.iter().position(|&byte| byte == b'\n');
            let length = newline.map_or(buffer.len(), |at| at + 1);
            let room = limit.saturating_sub(out.len());
            if length > room {
                end = End::TooLong;
                if stop_at_limit {
                    out.extend_from_slice(&buffer[..room]);
                    self.consume(room);
                    return Ok(end);
                }
            }
            if end == End::Whole {
                out.extend_from_slice(&buffer[..length]);
            }
            self.consume(length);
            if newline.is_some() {
                self.line += 1;
                return Ok(end);
            }
        }
    }

    /// Reads one JSON value, which starts at the next byte, into `out`, keeping at most
    /// `limit` bytes. Its extent comes from the [`Scanner`]; a value the input ends inside
    /// is returned as far as it goes, for `serde_json` to report.
    fn read_value(&mut self, out: &mut Vec<u8>, limit: usize) -> io::Result<End> {
        let mut scanner = Scanner::default();
        let mut end = End::Whole;
        loop {
            let buffer = self.fill()?;
            if buffer.is_empty() {
                // A number or literal ends here; anything else is unfinished, which
                // serde_json reports when it checks the value.
                return Ok(end);
            }
            let mut newlines = 0;
            let mut closed = None;
            for (index, &byte) in buffer.iter().enumerate() {
                match scanner.step(byte) {
                    Step::Continue => newlines += usize::from(byte == b'\n'),
                    Step::EndWith => {
                        closed = Some(index + 1);
                        break;
                    }
                    Step::EndBefore => {
                        closed = Some(index);
                        break;
                    }
                }
            }
            let used = closed.unwrap_or(buffer.len());
            if used > limit.saturating_sub(out.len()) {
                end = End::TooLong;
            }
            if end == End::Whole {
                out.extend_from_slice(&buffer[..used]);
            }
            self.consume(used);
            self.line += newlines;
            if closed.is_some() {
                return Ok(end);
            }
        }
    }
}

/// A syntax error that the scanner, not `serde_json`, found (the shape around documents).
fn syntax(document: String, message: &str) -> Error {
    Error::NotJson {
        document,
        source: serde_json::Error::custom(message),
    }
}

struct Splitter<'s, R> {
    input: Input<R>,
    label: &'s str,
    each: &'s mut dyn FnMut(Result<Document<'_>, Error>),
}

impl<R: Read> Splitter<'_, R> {
    fn run(&mut self) -> io::Result<()> {
        self.input.skip_byte_order_mark()?;
        let Some(first) = self.input.skip_whitespace()? else {
            return Ok(());
        };
        if first == b'[' {
            // Streamed, so it is labelled `label#i` before it is known whether more follows.
            let label = self.label.to_owned();
            if self.array(&label)? {
                self.concatenated(false)?;
            }
            return Ok(());
        }
        // The first line decides: a JSON value on its own means JSON lines (or a single
        // document, if nothing follows); anything else, concatenated documents.
        let start = self.input.line;
        let mut line = Vec::new();
        let end = self.input.read_line(&mut line, MAX_DOCUMENT_BYTES, true)?;
        if end == End::Whole && serde_json::from_slice::<&RawValue>(&line).is_ok() {
            if self.input.skip_whitespace()?.is_none() {
                self.deliver(&line, self.label.to_owned(), false);
            } else {
                self.deliver(&line, format!("{} line {start}", self.label), true);
                drop(line);
                self.lines()?;
            }
            return Ok(());
        }
        self.input.unread(line, start);
        self.concatenated(true)
    }

    /// Hands on `bytes` as one document, or as its elements when it is an array and `split`.
    /// Returns whether it was JSON.
    fn deliver(&mut self, bytes: &[u8], label: String, split: bool) -> bool {
        let json = match serde_json::from_slice::<&RawValue>(bytes) {
            Ok(json) => json,
            Err(source) => {
                (self.each)(Err(Error::NotJson {
                    document: label,
                    source,
                }));
                return false;
            }
        };
        if split && json.get().starts_with('[') {
            match serde_json::from_str::<Vec<&RawValue>>(json.get()) {
                Ok(elements) => {
                    for (index, element) in elements.into_iter().enumerate() {
                        (self.each)(Ok(Document {
                            label: format!("{label}#{index}"),
                            json: element.get(),
                        }));
                    }
                }
                Err(source) => (self.each)(Err(Error::NotJson {
                    document: label,
                    source,
                })),
            }
        } else {
            (self.each)(Ok(Document {
                label,
                json: json.get(),
            }));
        }
        true
    }

    fn too_large(&mut self, document: String) {
        (self.each)(Err(Error::TooLarge {
            document,
            limit: MAX_DOCUMENT_BYTES,
        }));
    }

    /// JSON lines: one document (or array of documents) a line, each independent, so a bad
    /// or over-long line costs only itself.
    fn lines(&mut self) -> io::Result<()> {
        let mut line = Vec::new();
        while self.input.skip_whitespace()?.is_some() {
            let label = format!("{} line {}", self.label, self.input.line);
            line.clear();
            match self.input.read_line(&mut line, MAX_DOCUMENT_BYTES, false)? {
                End::Whole => {
                    self.deliver(&line, label, true);
                }
                End::TooLong => self.too_large(label),
            }
            if line.capacity() > KEPT_BUFFER_BYTES {
                line = Vec::new();
            }
        }
        Ok(())
    }

    /// Concatenated documents, each labelled by the line it starts on, up to the first that
    /// is not JSON (after which no boundary can be trusted). With `first`, the input's first
    /// document is read here and is labelled `label` alone if it is the only one.
    fn concatenated(&mut self, mut first: bool) -> io::Result<()> {
        // The first document, held until it is known whether another follows.
        let mut held: Option<(usize, Vec<u8>, End)> = None;
        while let Some(next) = self.input.skip_whitespace()? {
            let start = self.input.line;
            if let Some((line, bytes, end)) = held.take()
                && !self.emit(&bytes, end, format!("{} line {line}", self.label))
            {
                return Ok(());
            }
            if next == b'[' {
                if !self.array(&format!("{} line {start}", self.label))? {
                    return Ok(());
                }
                first = false;
                continue;
            }
            let mut value = Vec::new();
            let end = self.input.read_value(&mut value, MAX_DOCUMENT_BYTES)?;
            if first {
                first = false;
                // Not JSON: reported under the input's label, and nothing after it is read.
                if end == End::Whole && serde_json::from_slice::<&RawValue>(&value).is_err() {
                    self.deliver(&value, self.label.to_owned(), false);
                    return Ok(());
                }
                held = Some((start, value, end));
                continue;
            }
            if !self.emit(&value, end, format!("{} line {start}", self.label)) {
                return Ok(());
            }
        }
        if let Some((_, bytes, end)) = held {
            self.emit(&bytes, end, self.label.to_owned());
        }
        Ok(())
    }

    /// Hands on a value read by [`Input::read_value`]; returns whether reading may go on.
    fn emit(&mut self, bytes: &[u8], end: End, label: String) -> bool {
        match end {
            End::Whole => self.deliver(bytes, label, false),
            End::TooLong => {
                // The scanner found its end, so the documents after it can still be read.
                self.too_large(label);
                true
            }
        }
    }

    /// Streams the array whose `[` is the next byte, one element at a time, labelled
    /// `{prefix}#{index}`. An element that is not JSON ends the array, and the input: returns
    /// whether reading may go on after it.
    fn array(&mut self, prefix: &str) -> io::Result<bool> {
        self.input.consume(1);
        let unfinished =
            |after: usize| format!("EOF while parsing an array (after {after} elements)");
        match self.input.skip_whitespace()? {
            Some(b']') => {
                self.input.consume(1);
                return Ok(true);
            }
            None => {
                (self.each)(Err(syntax(prefix.to_owned(), &unfinished(0))));
                return Ok(false);
            }
            Some(_) => {}
        }
        let mut element = Vec::new();
        let mut index = 0;
        loop {
            let label = format!("{prefix}#{index}");
            element.clear();
            match self.input.read_value(&mut element, MAX_DOCUMENT_BYTES)? {
                End::Whole => {
                    if !self.deliver(&element, label, false) {
                        return Ok(false);
                    }
                }
                End::TooLong => self.too_large(label),
            }
            if element.capacity() > KEPT_BUFFER_BYTES {
                element = Vec::new();
            }
            index += 1;
            let problem = match self.input.skip_whitespace()? {
                Some(b']') => {
                    self.input.consume(1);
                    return Ok(true);
                }
                Some(b',') => {
                    self.input.consume(1);
                    match self.input.skip_whitespace()? {
                        Some(b']') => format!("trailing comma after element {}", index - 1),
                        None => unfinished(index),
                        Some(_) => continue,
                    }
                }
                Some(_) => format!("expected `,` or `]` after element {}", index - 1),
                None => unfinished(index),
            };
            (self.each)(Err(syntax(prefix.to_owned(), &problem)));
            return Ok(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// The (label, text or error) of every document of `input`.
    fn split(input: &[u8]) -> Vec<(String, Result<String, String>)> {
        let mut out = Vec::new();
        documents(input, "in", &mut |result| {
            out.push(match result {
                Ok(document) => (document.label, Ok(document.json.to_owned())),
                Err(error) => (
                    error.document().unwrap_or_default().to_owned(),
                    Err(std::error::Error::source(&error)
                        .map_or_else(|| error.to_string(), ToString::to_string)),
                ),
            });
        })
        .unwrap();
        out
    }

    #[rstest]
    #[case::strings_with_brackets_and_escapes(
        br#"[{"a":"]}\"[{"},"x\\",{"b":[1,{"c":"}"}]}]"#,
        &["in#0", "in#1", "in#2"]
    )]
    #[case::scalars(b"[1, true ,\"s\",null]", &["in#0", "in#1", "in#2", "in#3"])]
    #[case::empty_array(b" [ ] ", &[])]
    #[case::array_then_documents(b"[{}]\n{}\n\n{}", &["in#0", "in line 2", "in line 4"])]
    #[case::concatenated_arrays(b"{\n}\n[{},{}]", &["in line 1", "in line 3#0", "in line 3#1"])]
    #[case::back_to_back(b"{\"a\":1}{\"b\":2}", &["in line 1", "in line 1"])]
    #[case::one_pretty_document(b"\n\n{\n \"a\": [\n1]\n}\n", &["in"])]
    fn labels(#[case] input: &[u8], #[case] expected: &[&str]) {
        let labels: Vec<String> = split(input)
            .into_iter()
            .map(|(label, result)| {
                assert!(result.is_ok(), "{label}: {result:?}");
                label
            })
            .collect();
        assert_eq!(labels, expected);
    }

    #[test]
    fn array_elements_keep_their_text() {
        let got = split(br#"[ {"a" : "x,]"} ,{"b":{}}]"#);
        assert_eq!(got[0].1.as_deref(), Ok(r#"{"a" : "x,]"}"#));
        assert_eq!(got[1].1.as_deref(), Ok(r#"{"b":{}}"#));
    }

    #[rstest]
    #[case::missing_comma(b"[{} {}]\n{\"never\":1}", "in", "expected `,` or `]` after element 0")]
    #[case::trailing_comma(b"[{},]\n{\"never\":1}", "in", "trailing comma after element 0")]
    #[case::bad_element(
        b"[{},{\"a\":1,}]\n{\"never\":1}",
        "in#1",
        "key must be a string at line 1 column 8"
    )]
    #[case::unfinished(b"[{},", "in", "EOF while parsing an array (after 1 elements)")]
    #[case::unfinished_element(b"[{\"a\":", "in#0", "EOF while parsing a value at line 1 column 5")]
    fn array_syntax_errors_end_the_input(
        #[case] input: &[u8],
        #[case] label: &str,
        #[case] message: &str,
    ) {
        let got = split(input);
        let (last_label, last) = got.last().unwrap();
        assert_eq!(
            (last_label.as_str(), last),
            (label, &Err(message.to_owned()))
        );
        assert!(
            got.iter()
                .all(|(_, result)| result.as_ref().map_or(true, |text| !text.contains("never"))),
            "nothing after the error is read: {got:?}"
        );
    }

    #[test]
    fn invalid_utf8_is_an_error_for_its_line_only() {
        let got = split(b"{\"a\":1}\n{\"b\":\"\xff\"}\n{\"c\":1}\n");
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].0, "in line 2");
        assert!(got[1].1.is_err(), "{:?}", got[1]);
        assert_eq!(got[2], ("in line 3".to_owned(), Ok("{\"c\":1}".to_owned())));
    }

    #[test]
    fn partial_byte_order_mark_is_kept() {
        // 0xEF alone is not a mark: it stays, and is not JSON.
        let got = split(b"\xEF{}");
        assert_eq!(got.len(), 1);
        assert!(got[0].1.is_err());
    }

    /// A reader that hands out one byte per call, as a slow pipe may.
    struct OneByte<'a>(&'a [u8]);

    impl Read for OneByte<'_> {
        fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), buffer.first_mut()) {
                (Some((&byte, rest)), Some(slot)) => {
                    *slot = byte;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn byte_at_a_time_reads_give_the_same_documents() {
        let input = "\u{feff}{\n \"a\": \"[\\\"\"\n}\n[{}, {\"b\": 1}]\n{\"c\":\n2}";
        let mut from_slice = Vec::new();
        documents(input.as_bytes(), "in", &mut |result| {
            from_slice.push(
                result
                    .map(|document| (document.label, document.json.to_owned()))
                    .map_err(|error| error.to_string()),
            );
        })
        .unwrap();
        let mut trickled = Vec::new();
        documents(OneByte(input.as_bytes()), "in", &mut |result| {
            trickled.push(
                result
                    .map(|document| (document.label, document.json.to_owned()))
                    .map_err(|error| error.to_string()),
            );
        })
        .unwrap();
        assert_eq!(from_slice.len(), 4, "{from_slice:?}");
        assert_eq!(from_slice, trickled);
    }

    /// A reader that fails after some bytes.
    struct Failing(usize);

    impl Read for Failing {
        fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::other("disk on fire"));
            }
            let count = self.0.min(buffer.len());
            buffer[..count].fill(b' ');
            self.0 -= count;
            Ok(count)
        }
    }

    #[test]
    fn read_errors_are_returned_with_the_label() {
        let error = documents(Failing(10), "findings.json", &mut |_| {}).unwrap_err();
        assert!(matches!(error, Error::Read { .. }), "{error:?}");
        assert_eq!(error.to_string(), "findings.json: cannot read the input");
        assert_eq!(
            std::error::Error::source(&error).unwrap().to_string(),
            "disk on fire"
        );
    }

    #[test]
    fn over_long_lines_and_documents_cost_only_themselves() {
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_DOCUMENT_BYTES));
        // JSON lines: the long line is refused, the next one read.
        let lines = format!("{{}}\n{big}\n{{}}\n");
        let got = split(lines.as_bytes());
        let labels: Vec<_> = got
            .iter()
            .map(|(label, result)| (label.as_str(), result.is_ok()))
            .collect();
        assert_eq!(
            labels,
            [
                ("in line 1", true),
                ("in line 2", false),
                ("in line 3", true)
            ]
        );
        assert_eq!(
            got[1].1,
            Err(format!(
                "in line 2: longer than {MAX_DOCUMENT_BYTES} bytes (one document or line may be at most that)"
            ))
        );
        // An array: the long element is refused, the next one read.
        let array = format!("[{big},{{}}]");
        let got = split(array.as_bytes());
        let labels: Vec<_> = got
            .iter()
            .map(|(label, result)| (label.as_str(), result.is_ok()))
            .collect();
        assert_eq!(labels, [("in#0", false), ("in#1", true)]);
        // A single document.
        let got = split(big.as_bytes());
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "in");
        assert!(got[0].1.is_err());
    }
}
