//! Crash safety: under ingest load (3 000 distinct signed events and 300 duplicates over 48 keep-alive
//! connections), the server is SIGKILLed once 1 000 deliveries have been acknowledged (by count, not by a timer),
//! restarted on the same database, and every delivery that did not get a 2xx is sent again. Every event
//! acknowledged before the kill is in the store right after the restart, and in the end every event is applied
//! exactly once with the states a sorted single delivery gives. On SQLite and on PostgreSQL.
//!
//! `cargo test -p tollgate --test it scale::crash:: -- --nocapture` prints the figures (`scale: ...`).

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions fail the test on any setup error"
)]

use crate::scale;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use crate::harness::database::{TestDb, random_hex};
use crate::harness::process::{ServerConfig, ServerProcess};
use scale::check::{assert_applied_exactly_once, assert_stored, inbox_rows};
use scale::events::EventSet;
use scale::load::{Answer, Control, Delivery, client, deliver, deliver_until_acked, plan, runtime, tally};

const ENTITLEMENTS: u32 = 600;
const DUPLICATES: usize = 300;
const CONNECTIONS: usize = 48;
const KILL_AFTER_ACKS: usize = 1_000;

fn crash_and_recover(db: &TestDb) {
    let started = Instant::now();
    let config = ServerConfig::default().with("TOLLGATE_DATABASE__POOL_SIZE", "8");
    let mut server = ServerProcess::start(db, &config);
    let set = Arc::new(EventSet::generate(ENTITLEMENTS, &random_hex()));
    let deliveries = plan(set.events.len(), DUPLICATES, 1, 17);
    let requests = deliveries.len();
    let rt = runtime();
    let http = client(CONNECTIONS);
    let control = Control::new();
    let done = Arc::new(AtomicBool::new(false));

    let (sent, acked_at_kill) = rt.block_on(async {
        let load = tokio::spawn({
            let (http, targets, set, control, done) = (
                http.clone(),
                vec![server.base_url()],
                set.clone(),
                control.clone(),
                done.clone(),
            );
            async move { deliver(&http, &targets, &set, deliveries, CONNECTIONS, &control, &done).await }
        });
        let reached = control.until(&done, |c| c.acked() >= KILL_AFTER_ACKS).await;
        if !reached {
            let sent = load.await.unwrap();
            panic!(
                "the load ended before {KILL_AFTER_ACKS} acks: {:?}\n{}",
                tally(&sent),
                server.log_text()
            );
        }
        server.kill();
        let acked_at_kill = control.acked();
        control.stop();
        (load.await.unwrap(), acked_at_kill)
    });
    let counts = tally(&sent);
    let acked: BTreeSet<usize> = sent
        .iter()
        .filter(|s| s.answer.is_2xx())
        .map(|s| s.delivery.event)
        .collect();
    let unacked: Vec<Delivery> = sent
        .iter()
        .filter(|s| !s.answer.is_2xx())
        .map(|s| Delivery {
            event: s.delivery.event,
            target: 0,
        })
        .collect();
    // Before the kill only 2xx (or 503 STORAGE_UNAVAILABLE when the loaded machine times a request out waiting
    // for a pooled connection), after it only transport failures or unsent deliveries: never another HTTP error.
    assert!(
        sent.iter().all(|s| s.answer.is_2xx()
            || s.answer.is_storage_unavailable()
            || !matches!(s.answer, Answer::Http { .. })),
        "{counts:?}"
    );
    assert!(!unacked.is_empty(), "the kill happened under load: {counts:?}");

    let mut restarted = ServerProcess::start(db, &config);
    let store = db.open_store();
    // The durability promise: what was acknowledged before the kill is stored, before any redelivery.
    assert_stored(&store, &set, &acked);
    let stored_at_restart = inbox_rows(&store).len();

    let redelivered = rt.block_on(deliver_until_acked(
        &http,
        &[restarted.base_url()],
        &set,
        unacked.clone(),
        CONNECTIONS,
    ));
    for line in restarted
        .log_text()
        .lines()
        .filter(|l| l.contains("WARN  tollgate::http"))
        .take(3)
    {
        eprintln!("DEBUG {line}");
    }
    let applied = assert_applied_exactly_once(&store, &set);
    assert!(restarted.is_running());

    scale::report(
        &format!("crash_{}", db.backend()),
        started,
        &format!(
            "{} distinct events + {DUPLICATES} duplicates = {requests} deliveries over {CONNECTIONS} connections; \
             SIGKILL after {KILL_AFTER_ACKS} acks ({acked_at_kill} acked at the kill, {} distinct events acked, \
             all stored after restart, {stored_at_restart} stored in all: the rest were committed but their answer was \
             lost in the kill); before the kill {counts:?}; {} redelivered ({:?}, {} sent again after a 503), all acknowledged; inbox {} rows == \
             distinct events, {} entitlements equal to sorted single delivery, {} audit rows",
            set.events.len(),
            acked.len(),
            unacked.len(),
            redelivered.first,
            redelivered.resent,
            applied.inbox_rows,
            applied.entitlements,
            applied.audit_rows,
        ),
    );
}

#[test]
fn sigkill_under_load_on_sqlite_loses_no_acknowledged_event_and_applies_none_twice() {
    crash_and_recover(&TestDb::sqlite());
}

#[test]
fn sigkill_under_load_on_postgres_loses_no_acknowledged_event_and_applies_none_twice() {
    if let Some(db) = TestDb::postgres() {
        crash_and_recover(&db);
    }
}
