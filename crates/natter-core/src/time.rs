//! Times are milliseconds since the Unix epoch inside natter and RFC 3339 UTC strings with
//! milliseconds on the wire (`2026-11-27T23:59:59.123Z`).

use chrono::{DateTime, SecondsFormat, Utc};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// Formats as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format(ms: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses any RFC 3339 time (any offset) into milliseconds UTC.
pub fn parse(s: &str) -> Option<Millis> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc).timestamp_millis())
}

/// The current time. The domain never calls this; callers at the edge do and pass it in.
pub fn now() -> Millis {
    Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_milliseconds() {
        assert_eq!(format(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format(1_795_910_399_123), "2026-11-28T23:59:59.123Z");
    }

    #[test]
    fn parses_what_it_formats_and_other_offsets() {
        let ms = 1_795_910_399_123;
        assert_eq!(parse(&format(ms)), Some(ms));
        assert_eq!(parse("2026-11-29T01:59:59.123+02:00"), Some(ms));
        assert_eq!(parse("yesterday"), None);
        assert_eq!(parse(""), None);
    }
}
