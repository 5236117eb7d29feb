//! The timestamp window and the parsing of timestamp headers.

use crate::error::VerifyError;

/// How far a signed timestamp may be from `now`, in either direction.
///
/// The check is inclusive: with `Seconds(300)`, a timestamp exactly 300 s old or ahead passes, 301 s fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Tolerance {
    /// Reject when `now - timestamp > n` (stale) or `timestamp - now > n` (future).
    Seconds(u64),
    /// Do not check the timestamp at all (it is still parsed, signed over and returned).
    Unlimited,
}

impl Tolerance {
    /// The Standard Webhooks reference libraries' window: 300 s both ways.
    pub const DEFAULT: Self = Self::Seconds(300);

    /// Checks `timestamp` against `now` (both Unix seconds). Saturating, so no input overflows.
    ///
    /// # Errors
    /// [`VerifyError::StaleTimestamp`] or [`VerifyError::FutureTimestamp`] when outside the window.
    pub fn check(self, timestamp: i64, now: i64) -> Result<(), VerifyError> {
        let Self::Seconds(seconds) = self else {
            return Ok(());
        };
        let window = i64::try_from(seconds).unwrap_or(i64::MAX);
        if now.saturating_sub(timestamp) > window {
            Err(VerifyError::StaleTimestamp)
        } else if timestamp.saturating_sub(now) > window {
            Err(VerifyError::FutureTimestamp)
        } else {
            Ok(())
        }
    }
}

impl Default for Tolerance {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Parses a decimal Unix timestamp: ASCII digits with an optional leading `-`, nothing else (no spaces, no `+`).
/// `None` when it is not such a number or does not fit in `i64`.
pub(crate) fn parse_timestamp(raw: &[u8]) -> Option<i64> {
    let digits = raw.strip_prefix(b"-").unwrap_or(raw);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(raw).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_plain_decimal_integers() {
        assert_eq!(parse_timestamp(b"1614265330"), Some(1_614_265_330));
        assert_eq!(parse_timestamp(b"0"), Some(0));
        assert_eq!(parse_timestamp(b"-5"), Some(-5));
        assert_eq!(parse_timestamp(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_timestamp(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"+5",
            b" 5",
            b"5 ",
            b"1e9",
            b"12.5",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"123456789012345678901234567890",
            b"\xff\xfe",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn window_is_inclusive_and_saturating() {
        let tol = Tolerance::DEFAULT;
        assert_eq!(tol.check(1000, 1300), Ok(()));
        assert_eq!(tol.check(1000, 1301), Err(VerifyError::StaleTimestamp));
        assert_eq!(tol.check(1300, 1000), Ok(()));
        assert_eq!(tol.check(1301, 1000), Err(VerifyError::FutureTimestamp));
        assert_eq!(tol.check(i64::MIN, i64::MAX), Err(VerifyError::StaleTimestamp));
        assert_eq!(tol.check(i64::MAX, i64::MIN), Err(VerifyError::FutureTimestamp));
        assert_eq!(Tolerance::Seconds(u64::MAX).check(i64::MIN, i64::MAX), Ok(()));
        assert_eq!(Tolerance::Unlimited.check(i64::MIN, i64::MAX), Ok(()));
        assert_eq!(Tolerance::Seconds(0).check(5, 5), Ok(()));
        assert_eq!(
            Tolerance::Seconds(0).check(5, 6),
            Err(VerifyError::StaleTimestamp)
        );
    }
}
