//! Durations written the way operators write them: `90s`, `15m`, `24h`, `7d`.

use std::fmt;
use std::str::FromStr;

use chrono::TimeDelta;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative duration parsed from `<number><unit>`, with unit `s`, `m`, `h` or `d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HumanDuration(TimeDelta);

impl HumanDuration {
    pub const fn from_secs(secs: i64) -> Self {
        HumanDuration(TimeDelta::seconds(secs))
    }

    pub fn as_delta(self) -> TimeDelta {
        self.0
    }

    pub fn as_secs(self) -> i64 {
        self.0.num_seconds()
    }
}

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError(pub String);

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid duration `{}`: write a whole number followed by s, m, h or d, for example 90s, 15m, 24h or 7d",
            self.0
        )
    }
}

impl std::error::Error for DurationError {}

impl FromStr for HumanDuration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || DurationError(s.to_owned());
        let trimmed = s.trim();
        let unit_at = trimmed.len().checked_sub(1).ok_or_else(err)?;
        if !trimmed.is_char_boundary(unit_at) {
            return Err(err());
        }
        let (digits, unit) = trimmed.split_at(unit_at);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let n: i64 = digits.parse().map_err(|_| err())?;
        let per_unit: i64 = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            _ => return Err(err()),
        };
        let secs = n.checked_mul(per_unit).ok_or_else(err)?;
        // Bound to 100 years so that adding it to any realistic time cannot overflow.
        if secs > 100 * 366 * 86_400 {
            return Err(err());
        }
        Ok(HumanDuration(TimeDelta::seconds(secs)))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.num_seconds();
        if secs != 0 && secs % 86_400 == 0 {
            write!(f, "{}d", secs / 86_400)
        } else if secs != 0 && secs % 3_600 == 0 {
            write!(f, "{}h", secs / 3_600)
        } else if secs != 0 && secs % 60 == 0 {
            write!(f, "{}m", secs / 60)
        } else {
            write!(f, "{secs}s")
        }
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A duration is written as a string: a number and a unit (`90s`, `15m`, `24h`, `7d`).
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for HumanDuration {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[0-9]+(s|m|h|d)$"))
            .description(Some(
                "A duration: a number and a unit (s, m, h or d), e.g. `90s`, `15m`, `24h`, `7d`.",
            ))
            .examples(["24h"])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for HumanDuration {}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
