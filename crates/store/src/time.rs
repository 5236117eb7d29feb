//! Times as stored: UTC, microsecond precision (what PostgreSQL keeps), as diesel `Timestamp`.

use std::time::SystemTime;

use chrono::{DateTime, NaiveDateTime, SubsecRound as _, Utc};

/// A time as it goes into a `Timestamp` column, truncated to microseconds so both backends store the same value.
pub(crate) fn to_db(at: DateTime<Utc>) -> NaiveDateTime {
    at.trunc_subsecs(6).naive_utc()
}

pub(crate) fn opt_to_db(at: Option<DateTime<Utc>>) -> Option<NaiveDateTime> {
    at.map(to_db)
}

pub(crate) fn from_db(at: NaiveDateTime) -> DateTime<Utc> {
    at.and_utc()
}

pub(crate) fn opt_from_db(at: Option<NaiveDateTime>) -> Option<DateTime<Utc>> {
    at.map(from_db)
}

/// The store's own clock, for bookkeeping times (`updated_at`, `processed_at`). Times that drive decisions come in
/// as arguments.
pub(crate) fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from(SystemTime::now()).trunc_subsecs(6)
}
