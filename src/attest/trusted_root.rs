//! The trusted root of keyless verification: which certificate authorities may certify signers
//! and which transparency logs may record signatures, each for a stated time window, read from
//! Sigstore's `trusted_root.json`.
//!
//! Every authority and log must say since when it is trusted (`validFor.start`): an entry
//! without a start would be trusted for any signing time, which no trusted root Sigstore
//! publishes intends, so it is rejected rather than read as "since forever".
//!
//! It answers the two questions keyless verification asks of a root (which log key was valid
//! at a time, and whether a certificate chains to an authority valid at a time). It reads the
//! bytes the caller passes in: it never fetches or updates a trusted root, and does no I/O.

use std::fmt;

use sha2::{Digest as _, Sha256};
use x509_cert::Certificate;

use super::Error;
use super::x509::{self, EcKey};

/// The CAs and transparency logs keyless verification trusts, from a Sigstore
/// `trusted_root.json` (`dev.sigstore.trustroot.v1.TrustedRoot`, media type
/// `application/vnd.dev.sigstore.trustedroot+json;version=0.1`).
///
/// Read: `certificateAuthorities[].certChain.certificates[].rawBytes` (each chain ends with its
/// root) and `validFor`; `tlogs[].publicKey.rawBytes` (DER SubjectPublicKeyInfo), its `validFor`,
/// and `tlogs[].logId.keyId`. Each `validFor` needs a `start`; its `end` may be open. CT logs and
/// timestamp authorities are ignored. Logs whose keys are not ECDSA P-256/P-384 (e.g. Ed25519
/// Rekor v2 shards) are skipped before their windows are read.
#[derive(Clone)]
pub struct TrustedRoot {
    authorities: Vec<Authority>,
    logs: Vec<Log>,
}

impl fmt::Debug for TrustedRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedRoot")
            .field(
                "authorities",
                &self
                    .authorities
                    .iter()
                    .map(|authority| {
                        authority
                            .chain
                            .last()
                            .map(x509::subject)
                            .unwrap_or_default()
                    })
                    .collect::<Vec<_>>(),
            )
            .field(
                "logs",
                &self
                    .logs
                    .iter()
                    .map(|log| hex::encode(&log.log_id))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[derive(Clone)]
struct Authority {
    /// As listed: intermediates first, root last.
    chain: Vec<Certificate>,
    valid_for: Window,
}

#[derive(Clone)]
struct Log {
    log_id: Vec<u8>,
    key: EcKey,
    valid_for: Window,
}

/// A validity window in Unix seconds: from a required start, to an end that may be open.
#[derive(Clone, Copy, Debug)]
struct Window {
    start: i64,
    end: Option<i64>,
}

impl Window {
    fn contains(self, time: i64) -> bool {
        self.start <= time && self.end.is_none_or(|end| time <= end)
    }
}

mod json {
    //! The parts of `trusted_root.json` exelock reads (unknown fields ignored).
    use serde::Deserialize;

    use super::super::dsse::base64_bytes;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct TrustedRoot {
        #[serde(default)]
        pub tlogs: Vec<TransparencyLogInstance>,
        #[serde(default)]
        pub certificate_authorities: Vec<CertificateAuthority>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct TransparencyLogInstance {
        pub public_key: PublicKey,
        #[serde(default)]
        pub log_id: Option<LogId>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct PublicKey {
        #[serde(default, with = "base64_bytes")]
        pub raw_bytes: Vec<u8>,
        #[serde(default)]
        pub valid_for: Option<TimeRange>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct LogId {
        #[serde(with = "base64_bytes")]
        pub key_id: Vec<u8>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct CertificateAuthority {
        pub cert_chain: CertChain,
        #[serde(default)]
        pub valid_for: Option<TimeRange>,
    }

    #[derive(Deserialize)]
    pub struct CertChain {
        #[serde(default)]
        pub certificates: Vec<RawCertificate>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct RawCertificate {
        #[serde(with = "base64_bytes")]
        pub raw_bytes: Vec<u8>,
    }

    #[derive(Deserialize)]
    pub struct TimeRange {
        #[serde(default)]
        pub start: Option<String>,
        #[serde(default)]
        pub end: Option<String>,
    }
}

impl TrustedRoot {
    /// Reads a Sigstore `trusted_root.json`.
    ///
    /// # Errors
    /// [`Error::Json`], [`Error::Certificate`], [`Error::Timestamp`], or [`Error::TrustedRoot`]
    /// when it lists no usable CA or log.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        let root: json::TrustedRoot =
            serde_json::from_slice(bytes).map_err(|source| Error::Json {
                document: "trusted root",
                source,
            })?;
        let mut authorities = Vec::new();
        for (index, authority) in root.certificate_authorities.iter().enumerate() {
            let chain = authority
                .cert_chain
                .certificates
                .iter()
                .enumerate()
                .map(|(position, certificate)| {
                    x509::parse(
                        &certificate.raw_bytes,
                        &format!(
                            "trusted root certificate authority {index} certificate {position}"
                        ),
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            if chain.is_empty() {
                return Err(Error::TrustedRoot {
                    reason: "a certificate authority has an empty certificate chain",
                });
            }
            let valid_for = window(authority.valid_for.as_ref(), || {
                format!(
                    "certificate authority {index} ({})",
                    chain.last().map(x509::subject).unwrap_or_default()
                )
            })?;
            authorities.push(Authority { chain, valid_for });
        }
        let mut logs = Vec::new();
        for (index, log) in root.tlogs.iter().enumerate() {
            let Some(key) = EcKey::from_spki_der(&log.public_key.raw_bytes) else {
                continue;
            };
            let computed_id = Sha256::digest(&log.public_key.raw_bytes).to_vec();
            let log_id = log
                .log_id
                .as_ref()
                .map_or(computed_id, |log_id| log_id.key_id.clone());
            let valid_for = window(log.public_key.valid_for.as_ref(), || {
                format!("transparency log {index} (log id {})", hex::encode(&log_id))
            })?;
            logs.push(Log {
                log_id,
                key,
                valid_for,
            });
        }
        if authorities.is_empty() {
            return Err(Error::TrustedRoot {
                reason: "it lists no certificate authority",
            });
        }
        if logs.is_empty() {
            return Err(Error::TrustedRoot {
                reason: "it lists no transparency log with an ECDSA P-256 or P-384 key",
            });
        }
        Ok(Self { authorities, logs })
    }

    /// The key of log `log_id`, if the root lists it as valid at `time`.
    pub(crate) fn log_key(&self, log_id: &[u8], time: i64) -> Result<&EcKey, Error> {
        self.logs
            .iter()
            .find(|log| log.log_id == log_id && log.valid_for.contains(time))
            .map(|log| &log.key)
            .ok_or_else(|| Error::UnknownLog {
                log_id: hex::encode(log_id),
            })
    }

    /// Whether `leaf` chains, through certificates of one authority valid at `time`, to that
    /// authority's root (the last certificate of its chain). Every issuer on the path must be a
    /// CA (basicConstraints `cA`), be valid at `time`, and verify its child's signature.
    pub(crate) fn chains(&self, leaf: &Certificate, time: i64) -> bool {
        self.authorities
            .iter()
            .filter(|authority| authority.valid_for.contains(time))
            .any(|authority| chains_to_root(leaf, &authority.chain, time))
    }
}

fn chains_to_root(leaf: &Certificate, chain: &[Certificate], time: i64) -> bool {
    let Some(root) = chain.last() else {
        return false;
    };
    let mut current = leaf;
    // Each step climbs one level; a path is never longer than the chain.
    for _ in 0..chain.len() {
        let Some(parent) = chain.iter().find(|candidate| {
            x509::is_ca(candidate)
                && x509::valid_at(candidate, time)
                && x509::issued_by(current, candidate)
        }) else {
            return false;
        };
        if std::ptr::eq(parent, root) {
            return true;
        }
        current = parent;
    }
    false
}

/// The window of a `validFor`; `what` names the entry when its start is missing.
fn window(range: Option<&json::TimeRange>, what: impl FnOnce() -> String) -> Result<Window, Error> {
    let Some(start) = range.and_then(|range| range.start.as_deref()) else {
        return Err(Error::TrustedRootUnbounded { what: what() });
    };
    Ok(Window {
        start: parse_rfc3339(start, "validFor.start")?,
        end: range
            .and_then(|range| range.end.as_deref())
            .map(|text| parse_rfc3339(text, "validFor.end"))
            .transpose()?,
    })
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` into Unix seconds (fraction dropped).
fn parse_rfc3339(text: &str, what: &'static str) -> Result<i64, Error> {
    let invalid = || Error::Timestamp {
        what,
        got: text.to_owned(),
    };
    let bytes = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Result<u16, Error> {
        let digits = bytes.get(range).ok_or_else(invalid)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(invalid());
        }
        std::str::from_utf8(digits)
            .ok()
            .and_then(|digits| digits.parse().ok())
            .ok_or_else(invalid)
    };
    if bytes.len() < 20
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b't' | b' ')
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        return Err(invalid());
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        rest = &fraction[digits..];
    }
    let offset_seconds: i64 = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return Err(invalid()),
            };
            let offset = rest.as_bytes();
            if offset.len() != 6 || offset[3] != b':' {
                return Err(invalid());
            }
            let parse = |digits: &[u8]| {
                std::str::from_utf8(digits)
                    .ok()
                    .and_then(|digits| digits.parse::<i64>().ok())
            };
            let (Some(hours), Some(minutes)) = (parse(&offset[1..3]), parse(&offset[4..6])) else {
                return Err(invalid());
            };
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let date_time = x509_cert::der::DateTime::new(
        year,
        u8::try_from(month).map_err(|_| invalid())?,
        u8::try_from(day).map_err(|_| invalid())?,
        u8::try_from(hour).map_err(|_| invalid())?,
        u8::try_from(minute).map_err(|_| invalid())?,
        u8::try_from(second).map_err(|_| invalid())?,
    )
    .map_err(|_| invalid())?;
    let seconds = i64::try_from(date_time.unix_duration().as_secs()).map_err(|_| invalid())?;
    Ok(seconds - offset_seconds)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const TRUSTED_ROOT: &[u8] = include_bytes!("../../testdata/attest/keyless/trusted_root.json");
    /// 2026-01-01T00:05:00Z.
    const SIGNING_TIME: i64 = 1_767_225_900;

    fn trusted_root() -> TrustedRoot {
        TrustedRoot::from_json(TRUSTED_ROOT).unwrap()
    }

    fn fixture() -> serde_json::Value {
        serde_json::from_slice(TRUSTED_ROOT).unwrap()
    }

    fn read(value: &serde_json::Value) -> Result<TrustedRoot, Error> {
        TrustedRoot::from_json(&serde_json::to_vec(value).unwrap())
    }

    #[test]
    fn trusted_root_reads_the_sigstore_format() {
        let root = trusted_root();
        assert_eq!(root.authorities.len(), 3);
        assert_eq!(root.authorities[1].chain.len(), 2);
        assert_eq!(root.logs.len(), 1);
        let debug = format!("{root:?}");
        assert!(debug.contains("test fulcio root"), "{debug}");

        // Logs with keys this build cannot use (Ed25519) are skipped, not fatal.
        let mut value: serde_json::Value = serde_json::from_slice(TRUSTED_ROOT).unwrap();
        let ed25519_spki = "MCowBQYDK2VwAyEAGEhWfM3wnBgUSWMM2jSfJNT+kCPBqxpYJZaCFRPmHUo=";
        value["tlogs"]
        .as_array_mut()
        .unwrap()
        .push(json!({"publicKey": {"rawBytes": ed25519_spki, "keyDetails": "PKIX_ED25519"}, "logId": {"keyId": "AAAA"}}));
        let root = TrustedRoot::from_json(&serde_json::to_vec(&value).unwrap()).unwrap();
        assert_eq!(root.logs.len(), 1);
    }

    #[test]
    fn trusted_root_errors_are_input_errors() {
        let mut no_cas: serde_json::Value = serde_json::from_slice(TRUSTED_ROOT).unwrap();
        no_cas["certificateAuthorities"] = json!([]);
        let mut no_logs: serde_json::Value = serde_json::from_slice(TRUSTED_ROOT).unwrap();
        no_logs["tlogs"] = json!([]);
        let mut bad_cert: serde_json::Value = serde_json::from_slice(TRUSTED_ROOT).unwrap();
        bad_cert["certificateAuthorities"][0]["certChain"]["certificates"][0]["rawBytes"] =
            json!("AAAA");
        let mut bad_time: serde_json::Value = serde_json::from_slice(TRUSTED_ROOT).unwrap();
        bad_time["tlogs"][0]["publicKey"]["validFor"]["start"] = json!("yesterday");
        for value in [no_cas, no_logs, bad_cert, bad_time] {
            let error = TrustedRoot::from_json(&serde_json::to_vec(&value).unwrap()).unwrap_err();
            assert!(!error.is_verification_failure(), "{error:?}");
        }
        assert!(TrustedRoot::from_json(b"{").is_err());
    }

    #[test]
    fn rfc3339_timestamps() {
        for (text, expected) in [
            ("1970-01-01T00:00:00Z", 0),
            ("2026-01-01T00:05:00Z", SIGNING_TIME),
            ("2026-01-01T00:05:00.123456789Z", SIGNING_TIME),
            ("2026-01-01T01:05:00+01:00", SIGNING_TIME),
            ("2025-12-31T23:05:00-01:00", SIGNING_TIME),
            ("2024-02-29T12:00:00z", 1_709_208_000),
        ] {
            assert_eq!(parse_rfc3339(text, "t").unwrap(), expected, "{text}");
        }
        for text in [
            "",
            "2026-01-01",
            "2026-01-01T00:05:00",
            "2026-13-01T00:00:00Z",
            "2026-01-01T00:05:00.Z",
            "2026-01-01T00:05:00+0100",
            "2026-0a-01T00:05:00Z",
        ] {
            assert!(parse_rfc3339(text, "t").is_err(), "{text}");
        }
    }

    #[test]
    fn an_authority_or_log_without_a_start_is_rejected() {
        // Read as "trusted since forever", such an entry would vouch for signatures made
        // before anyone trusted it; the root must say when trust began.
        let mut no_start = fixture();
        no_start["certificateAuthorities"][1]["validFor"] = json!({"end": "2035-01-01T00:00:00Z"});
        let error = read(&no_start).unwrap_err();
        assert!(
            matches!(error, Error::TrustedRootUnbounded { .. }),
            "{error:?}"
        );
        let text = error.to_string();
        assert!(
            text.contains("certificate authority 1 (") && text.contains("without validFor.start"),
            "{text}"
        );
        assert!(!error.is_verification_failure());

        let mut no_valid_for = fixture();
        no_valid_for["certificateAuthorities"][0]
            .as_object_mut()
            .unwrap()
            .remove("validFor");
        let error = read(&no_valid_for).unwrap_err();
        assert!(
            error.to_string().contains("certificate authority 0 ("),
            "{error}"
        );

        let mut log_without_start = fixture();
        log_without_start["tlogs"][0]["publicKey"]["validFor"] = json!({});
        let error = read(&log_without_start).unwrap_err();
        assert!(
            error.to_string().contains("transparency log 0 (log id "),
            "{error}"
        );
        assert!(
            matches!(error, Error::TrustedRootUnbounded { .. }),
            "{error:?}"
        );
    }

    #[test]
    fn windows_start_at_their_start() {
        let root = trusted_root();
        let log_id = root.logs[0].log_id.clone();
        // The fixture log is valid from 2025-01-01T00:00:00Z.
        assert!(root.log_key(&log_id, SIGNING_TIME).is_ok());
        assert!(root.log_key(&log_id, 1_735_689_600).is_ok());
        assert!(root.log_key(&log_id, 1_735_689_599).is_err());
    }
}
