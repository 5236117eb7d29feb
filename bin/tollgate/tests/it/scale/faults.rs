//! Faults under load, against real `tollgate serve` processes:
//!
//! - PostgreSQL "stops" under ingest load: a loopback TCP proxy between the server and PostgreSQL cuts every
//!   connection and turns new ones away, then forwards again. During the outage every answer is `503
//!   STORAGE_UNAVAILABLE` within the pool timeout (never a 500, never a hang); recovery needs no restart; the
//!   refused deliveries, sent again, are applied exactly once, and nothing is half-applied.
//! - The pool is full: one pooled SQLite connection, a 1 s `connect_timeout`, and the test holding the database
//!   write lock: every webhook is answered `503` within the timeouts, then applied once the lock is released.
//! - A PostgreSQL row lock held by another session: `503` after the store's lock timeout (the busy timeout, set
//!   as `lock_timeout` on every connection), not a wait until the lock is released.
//! - The provider is slow, erroring or dropping connections during activation: `503 PROVIDER_UNAVAILABLE`, while
//!   revalidation of an activated license keeps answering 200 from local state without asking the provider.
//!
//! `cargo test -p tollgate --test it scale::faults:: -- --nocapture` prints the figures (`scale: ...`).

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions fail the test on any setup error"
)]

use crate::scale;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection as _;
use diesel::{Connection as _, SqliteConnection};
use serde_json::{Value, json};
use tollgate_providers::whop::fake::{FakeMembership, FakeWhop};
use tollgate_testkit::{FakeProvider as _, Fault};

use crate::harness::database::{TestDb, random_hex};
use crate::harness::process::{ServerConfig, ServerProcess};
use scale::check::assert_applied_exactly_once;
use scale::events::EventSet;
use scale::load::{Control, Delivery, client, deliver, deliver_until_acked, plan, runtime, tally};
use scale::proxy::PgProxy;

/// Slack on top of a configured timeout for a loaded 2-core machine running debug builds.
const MARGIN: Duration = Duration::from_secs(3);

#[test]
fn postgres_outage_under_load_is_503_then_recovers_without_restart_and_applies_each_event_once() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
    const CONNECTIONS: usize = 16;
    let started = Instant::now();
    let proxy = PgProxy::start(&db.pg_addr());
    let mut db_env = db.server_env();
    db_env.retain(|(name, _)| name != "TOLLGATE_DATABASE__URL");
    db_env.push(("TOLLGATE_DATABASE__URL".to_owned(), db.url_via(proxy.port)));
    let config = ServerConfig::default()
        .with("TOLLGATE_DATABASE__POOL_SIZE", "4")
        .with("TOLLGATE_DATABASE__CONNECT_TIMEOUT", "2s");
    let server = ServerProcess::start_with_db_env(db_env, &config);
    let targets = [server.base_url()];
    let run = random_hex();
    let during = Arc::new(EventSet::generate(300, &format!("{run}o")));
    let rt = runtime();
    let http = client(CONNECTIONS);
    let control = Control::new();
    let done = Arc::new(AtomicBool::new(false));

    // 1 500 deliveries; PostgreSQL stops after 300 acknowledgements and comes back after 40 answers of 503.
    let (sent, outage) = rt.block_on(async {
        let load = tokio::spawn({
            let (http, targets, set, control, done) = (
                http.clone(),
                targets.to_vec(),
                during.clone(),
                control.clone(),
                done.clone(),
            );
            let deliveries = plan(set.events.len(), 0, 1, 5);
            async move { deliver(&http, &targets, &set, deliveries, CONNECTIONS, &control, &done).await }
        });
        assert!(control.until(&done, |c| c.acked() >= 300).await, "too few acks");
        proxy.stop();
        let stopped = Instant::now();
        assert!(
            control.until(&done, |c| c.unavailable() >= 40).await,
            "the outage produced too few 503s"
        );
        let outage = stopped.elapsed();
        proxy.resume();
        (load.await.unwrap(), outage)
    });
    let counts = tally(&sent);
    assert!(
        sent.iter()
            .all(|s| s.answer.is_2xx() || s.answer.is_storage_unavailable()),
        "only 200 or 503 STORAGE_UNAVAILABLE, never a 500 or a dropped connection: {counts:?}\n{}",
        server.log_text()
    );
    let slowest = sent.iter().map(|s| s.latency).max().unwrap();
    assert!(
        slowest <= CONNECT_TIMEOUT + MARGIN,
        "no answer waits past the pool timeout: slowest {slowest:?}"
    );
    assert!(
        proxy.refused() > 0,
        "the server tried to reconnect during the outage"
    );
    let refused: Vec<Delivery> = sent
        .iter()
        .filter(|s| !s.answer.is_2xx())
        .map(|s| s.delivery)
        .collect();

    // Recovery without a restart: new events are accepted, and the refused ones, sent again, are applied.
    let after = Arc::new(EventSet::generate(60, &format!("{run}n")));
    let fresh = rt.block_on(deliver_until_acked(
        &http,
        &targets,
        &after,
        plan(after.events.len(), 0, 1, 6),
        CONNECTIONS,
    ));
    assert!(fresh.first.get("200").is_some_and(|n| *n > 0), "{fresh:?}");
    let resent = rt.block_on(deliver_until_acked(
        &http,
        &targets,
        &during,
        refused.clone(),
        CONNECTIONS,
    ));

    let mut all = (*during).clone();
    all.events.extend(after.events.iter().cloned());
    let applied = assert_applied_exactly_once(&db.open_store(), &all);
    scale::report(
        "fault_postgres_outage",
        started,
        &format!(
            "pool 4, connect_timeout 2s, {CONNECTIONS} connections; {} deliveries, proxy stopped after 300 acks and \
             resumed after 40 503s ({outage:?} down, {} connections turned away): {counts:?}, slowest answer \
             {slowest:?}; {} new events after recovery {:?}; {} refused ones sent again {:?}; inbox {} rows == \
             distinct events, {} entitlements equal to sorted single delivery",
            during.events.len(),
            proxy.refused(),
            after.events.len(),
            fresh.first,
            refused.len(),
            resent.first,
            applied.inbox_rows,
            applied.entitlements,
        ),
    );
}

#[test]
fn a_full_pool_answers_503_within_the_timeouts_not_a_hang() {
    const CONNECTIONS: usize = 12;
    const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
    /// The store's SQLite busy timeout (not configurable; `StoreConfig::new`'s default).
    const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
    let started = Instant::now();
    let db = TestDb::sqlite();
    let config = ServerConfig::default()
        .with("TOLLGATE_DATABASE__POOL_SIZE", "1")
        .with("TOLLGATE_DATABASE__CONNECT_TIMEOUT", "1s");
    let server = ServerProcess::start(&db, &config);
    let targets = [server.base_url()];
    let set = Arc::new(EventSet::generate(3, &random_hex()));
    assert_eq!(set.events.len(), 15);
    let rt = runtime();
    let http = client(CONNECTIONS);

    // The test holds the write lock: the one pooled connection waits on it, every other request on the pool.
    let mut lock = SqliteConnection::establish(db.sqlite_path().to_str().unwrap()).unwrap();
    lock.batch_execute("BEGIN IMMEDIATE").unwrap();
    let deliveries: Vec<Delivery> = (0..CONNECTIONS)
        .map(|event| Delivery { event, target: 0 })
        .collect();
    let sent = rt.block_on(deliver(
        &http,
        &targets,
        &set,
        deliveries.clone(),
        CONNECTIONS,
        &Control::new(),
        &Arc::new(AtomicBool::new(false)),
    ));
    lock.batch_execute("ROLLBACK").unwrap();
    let counts = tally(&sent);
    assert_eq!(
        counts.get("503 STORAGE_UNAVAILABLE"),
        Some(&CONNECTIONS),
        "{counts:?}"
    );
    let mut latencies: Vec<Duration> = sent.iter().map(|s| s.latency).collect();
    latencies.sort();
    // Waiting for the pool ends at connect_timeout; only the request holding the connection waits for the lock.
    let pool_waiters = &latencies[..CONNECTIONS - 1];
    assert!(
        pool_waiters.iter().all(|l| *l <= CONNECT_TIMEOUT + MARGIN),
        "{latencies:?}"
    );
    assert!(
        latencies[CONNECTIONS - 1] <= BUSY_TIMEOUT + MARGIN,
        "{latencies:?}"
    );

    // The lock released, the same deliveries and the rest are applied once each.
    let retried = rt.block_on(deliver_until_acked(
        &http,
        &targets,
        &set,
        (0..set.events.len())
            .map(|event| Delivery { event, target: 0 })
            .collect(),
        CONNECTIONS,
    ));
    let applied = assert_applied_exactly_once(&db.open_store(), &set);
    scale::report(
        "fault_pool_full",
        started,
        &format!(
            "sqlite, pool 1, connect_timeout 1s, write lock held by the test: {CONNECTIONS} concurrent webhooks \
             {counts:?}, latencies {:?} .. {:?} (median {:?}); after release {:?}, inbox {} rows",
            latencies[0],
            latencies[CONNECTIONS - 1],
            latencies[CONNECTIONS / 2],
            retried.first,
            applied.inbox_rows,
        ),
    );
}

#[test]
fn a_postgres_lock_held_elsewhere_answers_503_within_the_lock_timeouts_not_a_hang() {
    const CONNECTIONS: usize = 4;
    const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
    /// The store's busy timeout, which is also PostgreSQL's `lock_timeout` (`StoreConfig::new`'s default).
    const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let started = Instant::now();
    let config = ServerConfig::default()
        .with("TOLLGATE_DATABASE__POOL_SIZE", "2")
        .with("TOLLGATE_DATABASE__CONNECT_TIMEOUT", "1s");
    let server = ServerProcess::start(&db, &config);
    let targets = [server.base_url()];
    let set = Arc::new(EventSet::generate(2, &random_hex()));
    let rt = runtime();
    let http = client(CONNECTIONS);
    let first = rt.block_on(deliver_until_acked(
        &http,
        &targets,
        &set,
        vec![Delivery { event: 0, target: 0 }],
        1,
    ));
    assert_eq!(first.first.get("200"), Some(&1));

    // Another session (an operator's psql, a stuck instance) holds the entitlement's row lock.
    let mut lock = diesel::PgConnection::establish(&db.url()).unwrap();
    lock.batch_execute("BEGIN; SELECT id FROM entitlements FOR UPDATE;")
        .unwrap();
    // Events 1-4 are about the same (locked) entitlement as event 0, and distinct: each request waits only for
    // the test's lock. (Two deliveries of one event would chain: the second waits for the first one's inbox row,
    // then for the row lock, up to twice the busy timeout in all.)
    let blocked: Vec<Delivery> = (1..=CONNECTIONS)
        .map(|event| Delivery { event, target: 0 })
        .collect();
    let sent = rt.block_on(deliver(
        &http,
        &targets,
        &set,
        blocked,
        CONNECTIONS,
        &Control::new(),
        &Arc::new(AtomicBool::new(false)),
    ));
    lock.batch_execute("ROLLBACK").unwrap();
    let counts = tally(&sent);
    assert_eq!(
        counts.get("503 STORAGE_UNAVAILABLE"),
        Some(&CONNECTIONS),
        "{counts:?}"
    );
    let mut latencies: Vec<Duration> = sent.iter().map(|s| s.latency).collect();
    latencies.sort();
    // PostgreSQL's lock_timeout bounds each lock wait, not a whole statement: the second request queued on the
    // same row first waits for the first one's tuple lock (until its timeout), then for the row itself. So with
    // a pool of 2, the slowest answer comes after at most two busy timeouts; the pool waiters after one
    // connect_timeout. Without the lock timeout they would all wait until the lock is released.
    assert!(
        latencies.iter().all(|l| *l <= 2 * BUSY_TIMEOUT + MARGIN),
        "{latencies:?}"
    );
    assert!(
        latencies[..CONNECTIONS - 2]
            .iter()
            .all(|l| *l <= CONNECT_TIMEOUT + MARGIN),
        "the pool waiters give up after connect_timeout: {latencies:?}"
    );

    let retried = rt.block_on(deliver_until_acked(
        &http,
        &targets,
        &set,
        (0..set.events.len())
            .map(|event| Delivery { event, target: 0 })
            .collect(),
        CONNECTIONS,
    ));
    let applied = assert_applied_exactly_once(&db.open_store(), &set);
    scale::report(
        "fault_postgres_lock",
        started,
        &format!(
            "postgres, pool 2, connect_timeout 1s, busy (lock) timeout 5s, every entitlement row locked by another \
             session: {CONNECTIONS} concurrent webhooks for one entitlement {counts:?}, latencies {latencies:?}; \
             after release {:?}, inbox {} rows",
            retried.first, applied.inbox_rows,
        ),
    );
}

const KEY_A: &str = "FAULT-A-8FFK3-SD83K-3K3K3";
const KEY_B: &str = "FAULT-B-8FFK3-SD83K-3K3K3";
const VALIDATE_A: &str = "/api/v2/memberships/FAULT-A-8FFK3-SD83K-3K3K3/validate_license";

/// `POST /api/license/{action}`: status, JSON `code` (empty on success), and how long it took.
fn license(
    rt: &tokio::runtime::Runtime,
    http: &reqwest::Client,
    base: &str,
    action: &str,
    key: &str,
    hwid: &str,
) -> (u16, String, Duration) {
    let request = http
        .post(format!("{base}/api/license/{action}"))
        .json(&json!({"license_key": key, "hwid": hwid}));
    rt.block_on(async {
        let started = Instant::now();
        let reply = request.send().await.unwrap();
        let status = reply.status().as_u16();
        let body: Value = reply.json().await.unwrap();
        let code = if status == 200 {
            String::new()
        } else {
            body["code"].as_str().unwrap_or_default().to_owned()
        };
        (status, code, started.elapsed())
    })
}

#[test]
fn a_slow_erroring_or_dropping_provider_is_503_provider_unavailable_while_revalidation_answers_locally() {
    const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);
    /// Whop may be asked twice for one activation, a 5xx with two retries (250 ms, then 500 ms).
    const PROVIDER_BOUND: Duration = Duration::from_secs(3);
    let started = Instant::now();
    let whop = FakeWhop::start();
    whop.add_membership(FakeMembership::new("mem_fault_a", KEY_A));
    whop.add_membership(FakeMembership::new("mem_fault_b", KEY_B));
    let db = TestDb::sqlite();
    let config = ServerConfig::default()
        .with("TOLLGATE_POLICY__DEFAULT__MAX_DEVICES", "3")
        .with("TOLLGATE_PROVIDERS__WHOP__API_BASE", whop.base_url())
        .with("TOLLGATE_PROVIDERS__WHOP__API_KEY", FakeWhop::API_KEY)
        .with("TOLLGATE_PROVIDERS__WHOP__REQUEST_TIMEOUT", "1s")
        .with("TOLLGATE_PROVIDERS__WHOP__CONNECT_TIMEOUT", "1s");
    let server = ServerProcess::start(&db, &config);
    let base = server.base_url();
    let rt = runtime();
    let http = client(8);
    assert_eq!(license(&rt, &http, &base, "activate", KEY_A, "hw-1").0, 200);

    let mut figures = Vec::new();
    for fault in [
        Fault::Status(503),
        Fault::Status(500),
        Fault::Slow(Duration::from_millis(1_800)),
        Fault::Drop,
    ] {
        whop.fail_always(fault.clone());
        let other = license(&rt, &http, &base, "activate", KEY_B, "hw-9");
        let new_device = license(&rt, &http, &base, "activate", KEY_A, "hw-2");
        for (status, code, took) in [&other, &new_device] {
            assert_eq!(
                (*status, code.as_str()),
                (503, "PROVIDER_UNAVAILABLE"),
                "{fault:?}"
            );
            assert!(
                *took <= REQUEST_TIMEOUT + PROVIDER_BOUND + MARGIN,
                "{fault:?}: {took:?}"
            );
        }
        // Revalidation of the activated device: local state, Whop not asked.
        let asked = whop.count("POST", VALIDATE_A);
        let validations: Vec<(u16, String, Duration)> = (0..10)
            .map(|_| license(&rt, &http, &base, "validate", KEY_A, "hw-1"))
            .collect();
        assert!(
            validations.iter().all(|(status, _, _)| *status == 200),
            "{fault:?}: {validations:?}"
        );
        assert_eq!(whop.count("POST", VALIDATE_A), asked, "{fault:?}");
        figures.push(format!(
            "{fault:?}: activation 503 PROVIDER_UNAVAILABLE in {:?} (another license) / {:?} (a new device), 10 \
             validations 200, slowest {:?}",
            other.2,
            new_device.2,
            validations.iter().map(|v| v.2).max().unwrap()
        ));
    }
    // The refused activations admitted no device. (The start-up reconciliation pass may have created B's
    // entitlement from Whop's membership list: that is not an activation.)
    let store = db.open_store();
    let devices = |membership: &str| {
        store
            .find_entitlement(tollgate_policy::Provider::Whop, membership)
            .unwrap()
            .map_or(0, |e| store.list_devices(&e.id).unwrap().len())
    };
    assert_eq!((devices("mem_fault_a"), devices("mem_fault_b")), (1, 0));
    whop.clear_faults();
    assert_eq!(license(&rt, &http, &base, "activate", KEY_B, "hw-9").0, 200);
    assert_eq!(license(&rt, &http, &base, "activate", KEY_A, "hw-2").0, 200);
    assert_eq!((devices("mem_fault_a"), devices("mem_fault_b")), (2, 1));
    scale::report("fault_provider", started, &figures.join("; "));
}
