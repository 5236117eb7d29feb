//! Provider times: ISO-8601/RFC 3339 strings or Unix seconds, whichever the payload carries.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// Reads a time from a JSON value: an RFC 3339 string, a string of digits, or an integer of Unix seconds.
/// `None` means the value is none of those (or out of range).
pub(crate) fn parse_time(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::Number(n) => {
            if let Some(secs) = n.as_i64() {
                DateTime::from_timestamp(secs, 0)
            } else {
                let secs = n.as_f64()?;
                if !secs.is_finite() || secs.abs() > 1e15 {
                    return None;
                }
                #[expect(
                    clippy::cast_possible_truncation,
                    reason = "bounded above; sub-second part dropped"
                )]
                DateTime::from_timestamp(secs.trunc() as i64, 0)
            }
        }
        Value::String(s) => parse_time_str(s),
        _ => None,
    }
}

fn parse_time_str(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return DateTime::from_timestamp(s.parse().ok()?, 0);
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn iso_and_unix_forms_agree() {
        let expected = DateTime::from_timestamp(1_701_406_800, 0);
        assert_eq!(parse_time(&json!("2023-12-01T05:00:00Z")), expected);
        assert_eq!(parse_time(&json!("2023-12-01T05:00:00.000Z")), expected);
        assert_eq!(parse_time(&json!("2023-12-01T06:00:00+01:00")), expected);
        assert_eq!(parse_time(&json!(1_701_406_800)), expected);
        assert_eq!(parse_time(&json!("1701406800")), expected);
        assert_eq!(parse_time(&json!(1_701_406_800.9)), expected);
    }

    #[test]
    fn garbage_and_extremes_are_none() {
        assert_eq!(parse_time(&json!("yesterday")), None);
        assert_eq!(parse_time(&json!("")), None);
        assert_eq!(parse_time(&json!(true)), None);
        assert_eq!(parse_time(&json!(i64::MAX)), None);
        assert_eq!(parse_time(&json!(1e300)), None);
        assert_eq!(parse_time(&json!("99999999999999999999999999")), None);
    }
}
