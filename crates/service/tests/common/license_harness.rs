//! The lease and license tests' harness: a real store on a fresh SQLite file and on a fresh PostgreSQL schema (the
//! pattern of `crates/store/tests/store/common.rs`), a `ManualClock`, and provider clients aimed at the testkit's
//! fakes on loopback.
//!
//! PostgreSQL comes from `TOLLGATE_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`); when it
//! is unreachable the PostgreSQL half is skipped with a note, unless `TOLLGATE_REQUIRE_PG=1`.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    dead_code,
    reason = "the test harness fails the test on any setup error; each test binary uses part of it"
)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, SubsecRound as _, Utc};
use diesel::connection::SimpleConnection as _;
use diesel::{Connection as _, PgConnection};
use ring::rand::{SecureRandom as _, SystemRandom};
use tollgate_policy::PolicySet;
use tollgate_providers::dodo::DodoClient;
use tollgate_providers::whop::WhopClient;
use tollgate_providers::{ApiKey, ClientConfig, RetryPolicy};
use tollgate_service::clock::ManualClock;
use tollgate_service::lease::{LeaseSigner, longest_lease};
use tollgate_service::license::{LicenseProviders, Licensing, LicensingOptions};
use tollgate_store::{Store, StoreConfig, StoreKeys};
use tollgate_testkit::{FakeDodo, FakeProvider as _, FakeWhop};

const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The client request timeout in these tests: a `Fault::Slow` longer than this is a timeout.
pub const CLIENT_TIMEOUT: Duration = Duration::from_millis(800);

/// A fresh, migrated database for one test body.
pub struct TestDb {
    pub store: Store,
    pub backend: &'static str,
    config: StoreConfig,
    keys: (String, String),
    _sqlite_dir: Option<tempfile::TempDir>,
    // Declared last: dropped after every pool above has closed.
    _pg_schema: Option<PgSchema>,
}

impl TestDb {
    /// A second, independent pool on the same database and keys: another instance.
    pub fn open_again(&self) -> Store {
        let keys = StoreKeys::from_base64(&self.keys.0, &self.keys.1).unwrap();
        Store::open(&self.config, keys).unwrap()
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

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    SystemRandom::new().fill(&mut buf).unwrap();
    buf
}

fn config(url: String) -> StoreConfig {
    let mut config = StoreConfig::new(url);
    config.max_connections = 8;
    config.min_idle = Some(0);
    config.connection_timeout = Duration::from_secs(30);
    config.busy_timeout = Duration::from_secs(30);
    config
}

fn open(
    backend: &'static str,
    config: StoreConfig,
    sqlite_dir: Option<tempfile::TempDir>,
    pg: Option<PgSchema>,
) -> TestDb {
    let keys = (
        BASE64.encode(random_bytes::<32>()),
        BASE64.encode(random_bytes::<32>()),
    );
    let store = Store::open(&config, StoreKeys::from_base64(&keys.0, &keys.1).unwrap()).unwrap();
    store.migrate().unwrap();
    TestDb {
        store,
        backend,
        config,
        keys,
        _sqlite_dir: sqlite_dir,
        _pg_schema: pg,
    }
}

pub fn sqlite_db() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("tollgate.db").display());
    open("sqlite", config(url), Some(dir), None)
}

/// A fresh schema on the test PostgreSQL, or `None` (with a note) when it is unreachable and not required.
pub fn postgres_db() -> Option<TestDb> {
    let base_url = std::env::var("TOLLGATE_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_owned());
    let required = std::env::var("TOLLGATE_REQUIRE_PG").is_ok_and(|v| v == "1");
    let mut conn = match PgConnection::establish(&base_url) {
        Ok(conn) => conn,
        Err(e) if !required => {
            eprintln!("note: PostgreSQL half skipped ({e}); set TOLLGATE_REQUIRE_PG=1 to fail instead");
            return None;
        }
        Err(e) => panic!("TOLLGATE_REQUIRE_PG=1 but the test PostgreSQL is unreachable: {e}"),
    };
    let name = format!(
        "t_{}",
        random_bytes::<8>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    conn.batch_execute(&format!("CREATE SCHEMA {name}")).unwrap();
    let separator = if base_url.contains('?') { '&' } else { '?' };
    let url = format!("{base_url}{separator}options=-csearch_path%3D{name}");
    Some(open(
        "postgres",
        config(url),
        None,
        Some(PgSchema { base_url, name }),
    ))
}

/// Run `body` on SQLite, then on PostgreSQL.
pub fn both_sync(body: impl Fn(TestDb)) {
    body(sqlite_db());
    if let Some(pg) = postgres_db() {
        body(pg);
    }
}

/// Run the async `body` on SQLite, then on PostgreSQL, each on its own multi-threaded runtime.
pub fn both<F, Fut>(body: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    let run = |db: TestDb| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(body(db));
    };
    run(sqlite_db());
    if let Some(pg) = postgres_db() {
        run(pg);
    }
}

/// The wall clock's current second: the fakes stamp their memberships with the wall clock.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

pub fn clock_at(at: DateTime<Utc>) -> Arc<ManualClock> {
    Arc::new(ManualClock::new(at))
}

/// A client configuration for a fake: its bearer key, a short timeout and no retries (a failure shows at once).
pub fn client_config(base_url: String, api_key: &str) -> ClientConfig {
    let mut config = ClientConfig::new(base_url, Some(ApiKey::new(api_key)));
    config.connect_timeout = Duration::from_secs(2);
    config.request_timeout = CLIENT_TIMEOUT;
    config.retry = RetryPolicy {
        max_retries: 0,
        ..RetryPolicy::default()
    };
    config
}

pub fn policies(toml_text: &str) -> Arc<PolicySet> {
    let policies: PolicySet = toml::from_str(toml_text).unwrap();
    policies.validate().unwrap();
    Arc::new(policies)
}

/// Everything a license test needs: the store, the clock, the fakes and the use cases wired to them.
pub struct Env {
    pub db: TestDb,
    pub clock: Arc<ManualClock>,
    pub whop: FakeWhop,
    pub dodo: FakeDodo,
    pub policies: Arc<PolicySet>,
    pub licensing: Licensing,
}

impl Env {
    /// Both fakes configured, `policy_toml` as the policy set, the clock at the wall clock's second.
    pub fn new(db: TestDb, policy_toml: &str) -> Env {
        Env::with_options(db, policy_toml, LicensingOptions::default())
    }

    pub fn with_options(db: TestDb, policy_toml: &str, options: LicensingOptions) -> Env {
        let whop = FakeWhop::start();
        let dodo = FakeDodo::start();
        let clock = clock_at(now());
        let policies = policies(policy_toml);
        let providers = LicenseProviders {
            whop: Some(Arc::new(
                WhopClient::new(&client_config(whop.base_url(), FakeWhop::API_KEY)).unwrap(),
            )),
            dodo: Some(Arc::new(
                DodoClient::new(&client_config(dodo.base_url(), FakeDodo::API_KEY)).unwrap(),
            )),
        };
        let leases =
            LeaseSigner::load_or_create(&db.store, "tollgate", longest_lease(&policies), clock.clone())
                .unwrap();
        let licensing = Licensing::new(
            db.store.clone(),
            policies.clone(),
            providers,
            leases,
            clock.clone(),
            options,
        );
        Env {
            db,
            clock,
            whop,
            dodo,
            policies,
            licensing,
        }
    }

    pub fn store(&self) -> &Store {
        &self.db.store
    }
}
