//! The reconciliation tests' harness: a real store on a fresh SQLite file and on a fresh PostgreSQL schema (the
//! pattern of `crates/store/tests/store/common.rs`), provider clients aimed at the testkit's fakes, and webhook
//! seeding through the real parser.
//!
//! PostgreSQL comes from `TOLLGATE_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`); when it
//! is unreachable the PostgreSQL half is skipped with a note, unless `TOLLGATE_REQUIRE_PG=1`.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "the test harness fails the test on any setup error"
)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, TimeDelta, Utc};
use diesel::connection::SimpleConnection as _;
use diesel::{Connection as _, PgConnection};
use ring::rand::{SecureRandom as _, SystemRandom};
use tollgate_policy::{Decision, PolicySet, Provider, decide_entitlement};
use tollgate_providers::aghanim::AghanimClient;
use tollgate_providers::dodo::DodoClient;
use tollgate_providers::whop::WhopClient;
use tollgate_providers::{ApiKey, ClientConfig, DeliveryMeta, Outcome, RetryPolicy, parse_webhook};
use tollgate_service::clock::ManualClock;
use tollgate_service::reconcile::{ReconcileApis, ReconcileOptions, Reconciler};
use tollgate_service::view::{StoredExtras, policy_for};
use tollgate_store::{Actor, AuditEntry, Entitlement, EntitlementChange, Store, StoreConfig, StoreKeys};
use tollgate_testkit::SignedWebhook;

const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

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

/// Implementing `Drop` keeps a test body's `async move` from capturing only the fields it names (edition 2021+
/// disjoint capture), which would drop the temporary directory or PostgreSQL schema while the body still runs.
impl Drop for TestDb {
    fn drop(&mut self) {}
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
    let name = format!("t_{}", hex_of(&random_bytes::<8>()));
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

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

/// A client configuration for a fake: its bearer key, short timeouts and no retries (a failure shows at once).
pub fn client_config(base_url: String, api_key: &str) -> ClientConfig {
    let mut config = ClientConfig::new(base_url, Some(ApiKey::new(api_key)));
    config.connect_timeout = Duration::from_secs(2);
    config.request_timeout = Duration::from_secs(5);
    config.retry = RetryPolicy {
        max_retries: 0,
        ..RetryPolicy::default()
    };
    config
}

/// A loopback address nothing listens on: connecting to it is refused.
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

pub fn whop_client(base_url: String, api_key: &str) -> Arc<WhopClient> {
    Arc::new(WhopClient::new(&client_config(base_url, api_key)).unwrap())
}

pub fn dodo_client(base_url: String, api_key: &str) -> Arc<DodoClient> {
    Arc::new(DodoClient::new(&client_config(base_url, api_key)).unwrap())
}

pub fn aghanim_client(base_url: String, api_key: &str) -> Arc<AghanimClient> {
    Arc::new(AghanimClient::new(&client_config(base_url, api_key)).unwrap())
}

/// A clock one minute ahead of the wall clock, so a run observes the fakes' state strictly after the webhooks
/// (stamped with the wall clock's second) that seeded the store.
pub fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Utc::now() + TimeDelta::minutes(1)))
}

pub fn options(holder: &str) -> ReconcileOptions {
    ReconcileOptions {
        page_size: 2,
        ..ReconcileOptions::new(holder)
    }
}

pub fn reconciler(store: Store, apis: ReconcileApis, clock: Arc<ManualClock>, holder: &str) -> Reconciler {
    Reconciler::new(store, apis, clock, options(holder))
}

/// Apply a signed delivery from a fake through the real parser, as the webhook endpoint would.
pub fn seed(store: &Store, provider: Provider, webhook: &SignedWebhook) -> Entitlement {
    let timestamp = webhook
        .header("webhook-timestamp")
        .or_else(|| webhook.header("x-aghanim-signature-timestamp"))
        .and_then(|t| t.parse::<i64>().ok())
        .unwrap_or_else(|| Utc::now().timestamp());
    let meta = DeliveryMeta::from_verified(webhook.header("webhook-id"), timestamp);
    let parsed = parse_webhook(provider, &meta, &webhook.body).unwrap();
    let Outcome::Apply(change) = parsed.outcome else {
        panic!("the seeding webhook {} was not acted on", parsed.event_type);
    };
    let change = EntitlementChange {
        event: change.event,
        license_key: change.license_key.map(|k| k.expose().to_owned()),
        extras: StoredExtras::from_provider(&change.extras).to_json(),
    };
    store.apply_change(Actor::Webhook, &change, "webhook").unwrap()
}

pub fn entitlement(store: &Store, provider: Provider, external_id: &str) -> Entitlement {
    store
        .find_entitlement(provider, external_id)
        .unwrap()
        .unwrap_or_else(|| panic!("no entitlement {external_id}"))
}

/// The access decision for a stored entitlement under the default policy at `now`.
pub fn decision(entitlement: &Entitlement, now: DateTime<Utc>) -> Decision {
    let policy = policy_for(&PolicySet::default(), entitlement);
    decide_entitlement(&entitlement.state, &policy, now)
}

/// Every audit row of an entitlement, newest first.
pub fn audit(store: &Store, entitlement: &Entitlement) -> Vec<AuditEntry> {
    store.list_audit(&entitlement.id, 1000).unwrap()
}
