//! The test harness: every test body runs on a fresh SQLite file and on a fresh PostgreSQL schema.
//!
//! PostgreSQL comes from `TOLLGATE_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`). Each test
//! creates its own schema `t_<random>` and points its pool at it through the libpq `options` parameter, so tests
//! run in parallel. When the server is unreachable the PostgreSQL half is skipped with a note, unless
//! `TOLLGATE_REQUIRE_PG=1`, which makes it fail.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "the test harness fails the test on any setup error"
)]

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, TimeDelta, Utc};
use diesel::connection::SimpleConnection as _;
use diesel::{Connection as _, PgConnection};
use ring::rand::{SecureRandom as _, SystemRandom};
use tollgate_policy::{EventKind, Provider, ProviderEvent};
use tollgate_store::{Actor, EntitlementChange, EntitlementId, Store, StoreConfig, StoreKeys};

const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, migrated database for one test body.
pub struct TestDb {
    pub store: Store,
    pub backend: Backend,
    config: StoreConfig,
    keys: (String, String),
    sqlite_dir: Option<tempfile::TempDir>,
    // Declared last: dropped after every pool above has closed.
    _pg_schema: Option<PgSchema>,
}

impl TestDb {
    /// A second, independent pool on the same database and keys (as a restarted or second instance).
    pub fn open_again(&self) -> Store {
        let keys = StoreKeys::from_base64(&self.keys.0, &self.keys.1).unwrap();
        let store = Store::open(&self.config, keys).unwrap();
        store.ping().unwrap();
        store
    }

    /// The PostgreSQL URL of this test's schema (PostgreSQL only).
    pub fn pg_url(&self) -> String {
        assert_eq!(self.backend, Backend::Postgres);
        self.config.url.clone()
    }

    /// The store keys, as standard base64 (pepper, data key).
    pub fn keys_base64(&self) -> (String, String) {
        self.keys.clone()
    }

    /// The SQLite database file (SQLite only).
    pub fn sqlite_path(&self) -> PathBuf {
        self.sqlite_dir
            .as_ref()
            .expect("a SQLite test database")
            .path()
            .join("tollgate.db")
    }
}

struct PgSchema {
    base_url: String,
    name: String,
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.base_url) {
            let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    SystemRandom::new().fill(&mut buf).unwrap();
    hex::encode(buf)
}

fn test_keys() -> (String, String) {
    let mut pepper = [0u8; 32];
    let mut data_key = [0u8; 32];
    SystemRandom::new().fill(&mut pepper).unwrap();
    SystemRandom::new().fill(&mut data_key).unwrap();
    (BASE64.encode(pepper), BASE64.encode(data_key))
}

fn test_config(url: String) -> StoreConfig {
    let mut config = StoreConfig::new(url);
    config.max_connections = 20;
    config.min_idle = Some(0);
    config.connection_timeout = Duration::from_secs(30);
    config.busy_timeout = Duration::from_secs(30);
    config
}

fn open(
    backend: Backend,
    config: StoreConfig,
    keys: (String, String),
    sqlite_dir: Option<tempfile::TempDir>,
    pg: Option<PgSchema>,
) -> TestDb {
    let store = Store::open(&config, StoreKeys::from_base64(&keys.0, &keys.1).unwrap()).unwrap();
    store.migrate().unwrap();
    TestDb {
        store,
        backend,
        config,
        keys,
        sqlite_dir,
        _pg_schema: pg,
    }
}

pub fn sqlite_db() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("tollgate.db").display());
    open(Backend::Sqlite, test_config(url), test_keys(), Some(dir), None)
}

/// A fresh schema on the test PostgreSQL, or `None` (with a note) when it is unreachable and not required.
pub fn postgres_db() -> Option<TestDb> {
    let base_url = std::env::var("TOLLGATE_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_owned());
    let required = std::env::var("TOLLGATE_REQUIRE_PG").is_ok_and(|v| v == "1");
    let mut conn = match PgConnection::establish(&base_url) {
        Ok(conn) => conn,
        Err(e) if !required => {
            eprintln!(
                "note: PostgreSQL half skipped: cannot connect to the test database ({e}); set TOLLGATE_REQUIRE_PG=1 to fail instead"
            );
            return None;
        }
        Err(e) => panic!("TOLLGATE_REQUIRE_PG=1 but the test PostgreSQL is unreachable: {e}"),
    };
    let name = format!("t_{}", random_hex(8));
    conn.batch_execute(&format!("CREATE SCHEMA {name}")).unwrap();
    let separator = if base_url.contains('?') { '&' } else { '?' };
    let url = format!("{base_url}{separator}options=-csearch_path%3D{name}");
    let schema = PgSchema { base_url, name };
    Some(open(
        Backend::Postgres,
        test_config(url),
        test_keys(),
        None,
        Some(schema),
    ))
}

/// Run `body` on SQLite, then on PostgreSQL.
pub fn both(body: impl Fn(&TestDb)) {
    let sqlite = sqlite_db();
    body(&sqlite);
    drop(sqlite);
    if let Some(pg) = postgres_db() {
        body(&pg);
    }
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

/// A fresh active entitlement for `external_id`.
pub fn entitlement(db: &TestDb, external_id: &str) -> EntitlementId {
    db.store
        .apply_change(
            Actor::Activation,
            &EntitlementChange::new(activated(external_id, 0)),
            "test",
        )
        .unwrap()
        .id
}
