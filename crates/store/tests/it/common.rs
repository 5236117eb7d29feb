//! The test harness: every test body runs on a fresh SQLite file and on a fresh PostgreSQL schema, through the shared
//! `tollgate_store::test_support` (feature `test-support`): `TOLLGATE_TEST_DATABASE_URL`, a schema per test, skipped
//! with a note when PostgreSQL is down unless `TOLLGATE_REQUIRE_PG=1`.

#![expect(
    clippy::unwrap_used,
    reason = "the test harness fails the test on any setup error"
)]

use crate::seed::put_change;
use chrono::{DateTime, TimeDelta, Utc};
use tollgate_policy::{EventKind, Provider, ProviderEvent};
use tollgate_store::test_support::for_each_backend;
pub use tollgate_store::test_support::{Backend, TestDb};
use tollgate_store::{Actor, EntitlementChange, EntitlementId};

/// The pool size of each test database.
const MAX_CONNECTIONS: u32 = 20;

pub fn sqlite_db() -> TestDb {
    TestDb::sqlite(MAX_CONNECTIONS)
}

/// A fresh schema on the test PostgreSQL, or `None` (with a note) when it is unreachable and not required.
pub fn postgres_db() -> Option<TestDb> {
    TestDb::postgres(MAX_CONNECTIONS)
}

/// Run `body` on SQLite, then on PostgreSQL.
pub fn both(body: impl Fn(&TestDb)) {
    for_each_backend(MAX_CONNECTIONS, |db| body(&db));
}

/// A fixed point in time plus `secs` seconds.
pub fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
}

pub fn event(external_id: &str, at_secs: i64, kind: EventKind) -> ProviderEvent {
    ProviderEvent {
        provider: Provider::Whop,
        external_id: external_id.to_owned(),
        occurred_at: t(at_secs),
        subject: Some("user_1".to_owned()),
        product: Some("prod_1".to_owned()),
        kind,
    }
}

pub fn activated(external_id: &str, at_secs: i64) -> ProviderEvent {
    event(
        external_id,
        at_secs,
        EventKind::Activated {
            status: Some("active".to_owned()),
            paid_through: Some(t(at_secs) + TimeDelta::days(30)),
            cancel_at_period_end: Some(false),
            features: vec!["pro".to_owned()],
        },
    )
}

/// A fresh active entitlement for `external_id` (written with `seed::put_change`).
pub fn entitlement(db: &TestDb, external_id: &str) -> EntitlementId {
    put_change(
        &db.store,
        Actor::Activation,
        &EntitlementChange::new(activated(external_id, 0)),
        "test",
    )
    .unwrap()
    .id
}
