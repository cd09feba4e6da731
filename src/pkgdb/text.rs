//! Shared pieces of the text database readers (dpkg, chisel, apk): line splitting, hex, the
//! limits every reader applies, and the error constructors. No I/O.

use super::{Database, Error};

/// The largest text database (a dpkg `status`, an apk `installed`, a decompressed chisel
/// manifest, one `info/*.list`) read, in bytes. A status file of 5 000 packages is about 10 MiB.
pub const MAX_TEXT_DATABASE_BYTES: u64 = 128 << 20;
/// The most packages one database may hold; a large distribution image has a few thousand.
pub const MAX_PACKAGES: u64 = 200_000;
/// The most files one database may list (all packages together). A full texlive install lists
/// about 200 000; each entry costs about 100 bytes of memory.
pub const MAX_FILES: u64 = 4_000_000;

/// The lines of `bytes`, numbered from 1, without their `\n`; a last line without `\n` is
/// included, an empty input has no lines. A trailing `\r` is kept: none of these formats
/// is written with CRLF, so a `\r` is data (and then usually an error) rather than an ending.
pub fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut rest = bytes;
    let mut number = 0usize;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        number += 1;
        let line = match memchr::memchr(b'\n', rest) {
            Some(end) => {
                let (line, tail) = rest.split_at(end);
                rest = tail.get(1..).unwrap_or_default();
                line
            }
            None => std::mem::take(&mut rest),
        };
        Some((number, line))
    })
}

/// Decodes exactly `N` bytes of hex (either case); `None` for any other length or digit.
pub fn decode_hex<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// Trims ASCII spaces and tabs at both ends (RFC 822-style fields allow both).
pub fn trim_blanks(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// A `Malformed` error.
pub fn malformed(file: &str, database: Database, reason: impl Into<String>) -> Error {
    Error::Malformed {
        file: file.to_owned(),
        database,
        reason: reason.into(),
    }
}

/// A `TooLarge` error.
pub fn too_large(file: &str, what: impl Into<String>, got: u64, limit: u64) -> Error {
    Error::TooLarge {
        file: file.to_owned(),
        what: what.into(),
        got,
        limit,
    }
}

/// Fails with `TooLarge` when `bytes` is longer than `limit`.
pub fn check_size(file: &str, bytes: &[u8], limit: u64) -> Result<(), Error> {
    let got = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if got > limit {
        return Err(too_large(file, "bytes", got, limit));
    }
    Ok(())
}

/// Fails with `TooLarge` once a running count passes its limit.
pub fn check_count(file: &str, what: &str, count: usize, limit: u64) -> Result<(), Error> {
    let got = u64::try_from(count).unwrap_or(u64::MAX);
    if got > limit {
        return Err(too_large(file, what, got, limit));
    }
    Ok(())
}

/// Text for an error message: the bytes as UTF-8 (lossy), cut to 80 characters.
pub fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text.chars().take(80).collect();
    if text.chars().nth(80).is_some() {
        out.push('…');
    }
    out
}

/// The bytes as a `String`, or a `Malformed` error naming `what`.
pub fn utf8(file: &str, database: Database, what: &str, bytes: &[u8]) -> Result<String, Error> {
    std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| {
        malformed(
            file,
            database,
            format!("{what} is not UTF-8: {}", excerpt(bytes)),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_numbers_and_keeps_a_last_line_without_newline() {
        let got: Vec<_> = lines(b"a\n\nb").collect();
        assert_eq!(got, vec![(1, &b"a"[..]), (2, &b""[..]), (3, &b"b"[..])]);
        assert_eq!(lines(b"a\n").count(), 1);
        assert_eq!(lines(b"").count(), 0);
    }

    #[test]
    fn decode_hex_takes_exactly_n_bytes() {
        assert_eq!(decode_hex::<2>(b"0aFF"), Some([0x0a, 0xff]));
        assert_eq!(decode_hex::<2>(b"0aF"), None);
        assert_eq!(decode_hex::<2>(b"0aFF00"), None);
        assert_eq!(decode_hex::<2>(b"0aFg"), None);
    }

    #[test]
    fn trim_blanks_strips_spaces_and_tabs_only() {
        assert_eq!(trim_blanks(b" \tx y\t "), b"x y");
        assert_eq!(trim_blanks(b"\n"), b"\n");
    }
}
