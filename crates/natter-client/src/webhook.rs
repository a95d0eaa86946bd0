//! Receiving webhook deliveries: checking that a request comes from natter.
//!
//! natter posts each event with the headers named here and signs it with the webhook's secret
//! (shown once, when the webhook is created): [`SIGNATURE_HEADER`] is
//! `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`, where the timestamp is the
//! [`TIMESTAMP_HEADER`] of the attempt, in unix seconds. A receiver verifies the signature over
//! the exact bytes it received, refuses a timestamp too far from its clock (a replay), and
//! ignores a [`CURSOR_HEADER`] it has handled already (delivery is at least once).
//!
//! ```
//! use natter_client::webhook;
//!
//! let secret = "the webhook's secret";
//! let body = br#"{"type":"new_message","cursor":"42","data":{}}"#;
//! let signature = webhook::sign(secret, 1_764_583_200, body);
//! let headers = [
//!     (webhook::TIMESTAMP_HEADER, "1764583200"),
//!     (webhook::SIGNATURE_HEADER, signature.as_str()),
//! ];
//! // `now` is the receiver's clock; a delivery more than 5 minutes away is refused.
//! let now = 1_764_583_230;
//! webhook::verify(secret, &headers[..], body, now, webhook::DEFAULT_TOLERANCE_SECS)?;
//! # Ok::<_, webhook::WebhookError>(())
//! ```

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub const SIGNATURE_HEADER: &str = "Natter-Signature";
/// The unix time of the delivery attempt, in seconds.
pub const TIMESTAMP_HEADER: &str = "Natter-Timestamp";
/// The event's cursor: the same event always carries the same one (also sent as
/// `Idempotency-Key`).
pub const CURSOR_HEADER: &str = "Natter-Event-Cursor";
/// The id of the webhook that delivers.
pub const WEBHOOK_ID_HEADER: &str = "Natter-Webhook-Id";

/// How far from the receiver's clock a delivery's timestamp may be: 5 minutes.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// Why a delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// A header the signature needs is absent.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// A header is not of the expected form.
    #[error("malformed header {header}: {reason}")]
    BadFormat {
        /// Which header.
        header: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The signature is authentic but older than the tolerance allows: possibly a replay.
    #[error("the delivery is {age_secs} s old, more than the {tolerance_secs} s allowed")]
    TooOld {
        /// How old.
        age_secs: i64,
        /// The tolerance it exceeds.
        tolerance_secs: i64,
    },
    /// The timestamp is further in the future than the tolerance allows.
    #[error(
        "the delivery is {ahead_secs} s ahead of this clock, more than the {tolerance_secs} s allowed"
    )]
    TooNew {
        /// How far ahead.
        ahead_secs: i64,
        /// The tolerance it exceeds.
        tolerance_secs: i64,
    },
    /// The signature does not match the body, the timestamp and the secret.
    #[error("the signature does not match")]
    BadSignature,
}

/// Where [`verify`] finds the delivery's headers, by name, whatever their case.
pub trait HeaderLookup {
    /// The value of header `name` as text, if present.
    fn header(&self, name: &str) -> Option<&str>;
}

/// The headers as an HTTP library gives them (`reqwest`, `axum`, `hyper`: the `http` crate's).
impl HeaderLookup for reqwest::header::HeaderMap {
    fn header(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| v.to_str().ok())
    }
}

/// `(name, value)` pairs.
impl<N: AsRef<str>, V: AsRef<str>> HeaderLookup for [(N, V)] {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(n, _)| n.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

impl<S: std::hash::BuildHasher> HeaderLookup for std::collections::HashMap<String, String, S> {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn mac(secret: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any size");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The [`SIGNATURE_HEADER`] natter sends with `body` at `timestamp` (unix seconds):
/// `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`. For tests of a receiver.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, &timestamp.to_string(), body)
        .finalize()
        .into_bytes();
    format!("v1={}", hex::encode(tag))
}

/// Checks a delivery: its [`SIGNATURE_HEADER`] must sign `body` (the exact bytes received)
/// and its [`TIMESTAMP_HEADER`] with `secret`, and the timestamp must be within
/// `tolerance_secs` of `now_unix` (the receiver's clock, unix seconds; usually
/// [`DEFAULT_TOLERANCE_SECS`]). The signature is compared in constant time.
///
/// It does not remember cursors: a receiver ignores the [`CURSOR_HEADER`]s it has handled.
pub fn verify(
    secret: &str,
    headers: &(impl HeaderLookup + ?Sized),
    body: &[u8],
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<(), WebhookError> {
    let timestamp = headers
        .header(TIMESTAMP_HEADER)
        .ok_or(WebhookError::MissingHeader(TIMESTAMP_HEADER))?;
    let signature = headers
        .header(SIGNATURE_HEADER)
        .ok_or(WebhookError::MissingHeader(SIGNATURE_HEADER))?;
    verify_parts(secret, timestamp, signature, body, now_unix, tolerance_secs)
}

/// [`verify`] with the two header values given apart.
pub fn verify_parts(
    secret: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<(), WebhookError> {
    let bad = |header, reason| WebhookError::BadFormat { header, reason };
    if timestamp.is_empty()
        || timestamp.len() > 18
        || !timestamp.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad(TIMESTAMP_HEADER, "not unix seconds in decimal digits"));
    }
    let sent: i64 = timestamp
        .parse()
        .map_err(|_| bad(TIMESTAMP_HEADER, "not unix seconds in decimal digits"))?;
    let hex_tag = signature
        .strip_prefix("v1=")
        .ok_or(bad(SIGNATURE_HEADER, "not of the form v1=<hex>"))?;
    let mut tag = [0u8; 32];
    hex::decode_to_slice(hex_tag, &mut tag)
        .map_err(|_| bad(SIGNATURE_HEADER, "v1= is not followed by 64 hex digits"))?;

    // Over the timestamp as received, so that its exact text is what is signed.
    mac(secret, timestamp, body)
        .verify_slice(&tag)
        .map_err(|_| WebhookError::BadSignature)?;

    let age = now_unix.saturating_sub(sent);
    if age > tolerance_secs {
        return Err(WebhookError::TooOld {
            age_secs: age,
            tolerance_secs,
        });
    }
    if -age > tolerance_secs {
        return Err(WebhookError::TooNew {
            ahead_secs: -age,
            tolerance_secs,
        });
    }
    Ok(())
}

/// [`verify`] against this machine's clock with [`DEFAULT_TOLERANCE_SECS`].
pub fn verify_now(
    secret: &str,
    headers: &(impl HeaderLookup + ?Sized),
    body: &[u8],
) -> Result<(), WebhookError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    verify(secret, headers, body, now, DEFAULT_TOLERANCE_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_0123456789";
    const TS: i64 = 1_764_583_200;
    /// Not ASCII, so that the bytes as received are what is signed.
    const BODY: &[u8] =
        "{\"type\":\"new_message\",\"cursor\":\"42\",\"data\":{\"text\":\"hé ✓\"}}".as_bytes();
    /// Computed with Python's `hmac` module, independently of this code:
    /// `"v1=" + hmac.new(SECRET.encode(), b"1764583200." + BODY, hashlib.sha256).hexdigest()`.
    const EXPECTED: &str = "v1=204ff8a7c38b241cb55afe6f1ac26b2217afeb01765b5a85a55764d197d3abd5";

    fn headers(ts: &str, sig: &str) -> Vec<(String, String)> {
        vec![
            (TIMESTAMP_HEADER.to_owned(), ts.to_owned()),
            (SIGNATURE_HEADER.to_owned(), sig.to_owned()),
        ]
    }

    #[test]
    fn sign_matches_an_independent_implementation() {
        assert_eq!(sign(SECRET, TS, BODY), EXPECTED);
        // Python: "v1=" + hmac.new(b"", b"0.", hashlib.sha256).hexdigest()
        assert_eq!(
            sign("", 0, b""),
            "v1=b849d5a581847b281957065739df36df2463d1977ea8d6e1e4e6cf33fadc68c3"
        );
    }

    #[test]
    fn verify_accepts_a_fresh_authentic_delivery() {
        let h = headers("1764583200", EXPECTED);
        for now in [TS - 300, TS, TS + 300] {
            assert_eq!(verify(SECRET, &h[..], BODY, now, 300), Ok(()));
        }
        assert_eq!(
            verify_parts(SECRET, "1764583200", EXPECTED, BODY, TS, 300),
            Ok(())
        );
        // Uppercase hex is the same signature.
        let upper = format!("v1={}", EXPECTED[3..].to_uppercase());
        assert_eq!(
            verify_parts(SECRET, "1764583200", &upper, BODY, TS, 300),
            Ok(())
        );
    }

    #[test]
    fn header_names_are_case_insensitive() {
        let h = [
            ("natter-timestamp", "1764583200"),
            ("NATTER-SIGNATURE", EXPECTED),
        ];
        assert_eq!(verify(SECRET, &h[..], BODY, TS, 300), Ok(()));

        let mut map = reqwest::header::HeaderMap::new();
        map.insert(TIMESTAMP_HEADER, "1764583200".parse().unwrap());
        map.insert(SIGNATURE_HEADER, EXPECTED.parse().unwrap());
        assert_eq!(verify(SECRET, &map, BODY, TS, 300), Ok(()));

        let hash: std::collections::HashMap<String, String> =
            headers("1764583200", EXPECTED).into_iter().collect();
        assert_eq!(verify(SECRET, &hash, BODY, TS, 300), Ok(()));
    }

    #[test]
    fn verify_refuses_stale_and_future_deliveries() {
        let h = headers("1764583200", EXPECTED);
        assert_eq!(
            verify(SECRET, &h[..], BODY, TS + 301, 300),
            Err(WebhookError::TooOld {
                age_secs: 301,
                tolerance_secs: 300
            })
        );
        assert_eq!(
            verify(SECRET, &h[..], BODY, TS - 301, 300),
            Err(WebhookError::TooNew {
                ahead_secs: 301,
                tolerance_secs: 300
            })
        );
    }

    #[test]
    fn verify_refuses_anything_changed() {
        let h = headers("1764583200", EXPECTED);
        let mut body = BODY.to_vec();
        body[10] ^= 1;
        assert_eq!(
            verify(SECRET, &h[..], &body, TS, 300),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            verify("another secret", &h[..], BODY, TS, 300),
            Err(WebhookError::BadSignature)
        );
        // Another timestamp, even one of the same value written differently.
        for ts in ["1764583201", "01764583200"] {
            assert_eq!(
                verify(SECRET, &headers(ts, EXPECTED)[..], BODY, TS, 300),
                Err(WebhookError::BadSignature)
            );
        }
        let mut sig = EXPECTED.to_owned();
        let changed = if &sig[10..11] == "0" { "1" } else { "0" };
        sig.replace_range(10..11, changed);
        assert_eq!(
            verify(SECRET, &headers("1764583200", &sig)[..], BODY, TS, 300),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn verify_refuses_missing_and_malformed_headers() {
        let only_sig = [(SIGNATURE_HEADER, EXPECTED)];
        assert_eq!(
            verify(SECRET, &only_sig[..], BODY, TS, 300),
            Err(WebhookError::MissingHeader(TIMESTAMP_HEADER))
        );
        let only_ts = [(TIMESTAMP_HEADER, "1764583200")];
        assert_eq!(
            verify(SECRET, &only_ts[..], BODY, TS, 300),
            Err(WebhookError::MissingHeader(SIGNATURE_HEADER))
        );
        for ts in [
            "",
            "-1764583200",
            "+1764583200",
            " 1764583200",
            "1.5",
            "99999999999999999999",
        ] {
            assert!(
                matches!(
                    verify_parts(SECRET, ts, EXPECTED, BODY, TS, 300),
                    Err(WebhookError::BadFormat {
                        header: TIMESTAMP_HEADER,
                        ..
                    })
                ),
                "timestamp {ts:?}"
            );
        }
        let hex = &EXPECTED[3..];
        for sig in [
            hex.to_owned(),
            format!("v2={hex}"),
            format!("v1={}", &hex[..62]),
            format!("v1={hex}00"),
            format!("v1={}zz", &hex[..62]),
            String::new(),
        ] {
            assert!(
                matches!(
                    verify_parts(SECRET, "1764583200", &sig, BODY, TS, 300),
                    Err(WebhookError::BadFormat {
                        header: SIGNATURE_HEADER,
                        ..
                    })
                ),
                "signature {sig:?}"
            );
        }
    }

    #[test]
    fn sign_and_verify_round_trip() {
        let sig = sign("s3cret", 1_000_000_000, b"{}");
        assert_eq!(
            verify_parts("s3cret", "1000000000", &sig, b"{}", 1_000_000_010, 300),
            Ok(())
        );
    }
}
