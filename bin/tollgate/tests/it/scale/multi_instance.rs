//! Several instances on one PostgreSQL: two `tollgate serve` processes share one schema (and one pepper and data
//! key). Every one of 10 000 distinct signed events (2 000 entitlements × 5, across Whop, Dodo and Aghanim),
//! plus 1 000 duplicates, shuffled, goes to BOTH instances at once over keep-alive connections. Then, through the
//! same two instances, 20 devices race to activate one `max_devices = 5` Whop license.
//!
//! `cargo test -p tollgate --test it scale::multi_instance:: -- --nocapture` prints the figures (`scale: ...`).

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions fail the test on any setup error"
)]

use crate::scale;

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use tollgate_policy::Provider;
use tollgate_providers::whop::fake::{FakeMembership, FakeWhop};
use tollgate_testkit::FakeProvider as _;

use crate::harness::database::{TestDb, random_hex};
use crate::harness::process::{ServerConfig, ServerProcess};
use scale::check::assert_applied_exactly_once;
use scale::events::EventSet;
use scale::load::{RETRY_ROUNDS, client, deliver_until_acked, plan, runtime};

const ENTITLEMENTS: u32 = 2_000;
const DUPLICATES: usize = 1_000;
const CONNECTIONS: usize = 32;
const RACE_DEVICES: usize = 20;
const MAX_DEVICES: usize = 5;
const RACE_KEY: &str = "RACE-5DEV-8FFK3-SD83K-3K3K3";

#[test]
fn two_instances_on_one_postgres_apply_every_event_once_and_admit_exactly_max_devices() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let started = Instant::now();
    let whop = FakeWhop::start();
    whop.add_membership(FakeMembership::new("mem_race", RACE_KEY));
    let config = ServerConfig::default()
        .with("TOLLGATE_DATABASE__POOL_SIZE", "8")
        .with("TOLLGATE_POLICY__DEFAULT__MAX_DEVICES", MAX_DEVICES.to_string())
        .with("TOLLGATE_PROVIDERS__WHOP__API_BASE", whop.base_url())
        .with("TOLLGATE_PROVIDERS__WHOP__API_KEY", FakeWhop::API_KEY);
    let a = ServerProcess::start(&db, &config);
    let b = ServerProcess::start(&db, &config);
    let targets = [a.base_url(), b.base_url()];

    let set = Arc::new(EventSet::generate(ENTITLEMENTS, &random_hex()));
    let deliveries = plan(set.events.len(), DUPLICATES, targets.len(), 9);
    let requests = deliveries.len();
    let rt = runtime();
    let http = client(CONNECTIONS);
    let sending = Instant::now();
    let sent = rt.block_on(deliver_until_acked(
        &http,
        &targets,
        &set,
        deliveries,
        CONNECTIONS,
    ));
    let send_secs = sending.elapsed().as_secs_f64();

    let store = db.open_store();
    let applied = assert_applied_exactly_once(&store, &set);
    assert_eq!(applied.inbox_rows, set.events.len());
    assert_eq!(applied.audit_rows, set.events.len());
    let checked_at = started.elapsed().as_secs_f64();

    // The device race: 20 hwids at once, alternating between the instances.
    let outcomes = race(&rt, &http, &targets, RACE_KEY, "hw-race");
    let admitted: Vec<usize> = outcomes
        .iter()
        .filter(|(_, status, _)| *status == 200)
        .map(|(i, _, _)| *i)
        .collect();
    let refused = outcomes
        .iter()
        .filter(|(_, status, code)| *status == 409 && code == "DEVICE_LIMIT_REACHED")
        .count();
    assert_eq!(
        (admitted.len(), refused),
        (MAX_DEVICES, RACE_DEVICES - MAX_DEVICES),
        "{outcomes:?}"
    );
    let entitlement = store
        .find_entitlement(Provider::Whop, "mem_race")
        .unwrap()
        .unwrap();
    let devices = store.list_devices(&entitlement.id).unwrap();
    assert_eq!(devices.len(), MAX_DEVICES);
    // The admitted devices revalidate through either instance.
    for (n, i) in admitted.iter().enumerate() {
        let request = http
            .post(format!("{}/api/license/validate", targets[n % 2]))
            .json(&json!({"license_key": RACE_KEY, "hwid": format!("hw-race-{i:02}")}));
        let status = rt.block_on(async { request.send().await.unwrap().status().as_u16() });
        assert_eq!(status, 200);
    }

    scale::report(
        "multi_instance",
        started,
        &format!(
            "2 instances, postgres; {} distinct events + {DUPLICATES} duplicates, each sent to both = {requests} \
             requests over {CONNECTIONS} connections in {send_secs:.1}s ({:.0}/s), answers {:?}, {} sent \
             again after a 503, all acknowledged; inbox {} rows, \
             {} entitlements equal to sorted single delivery, {} audit rows (checked by {checked_at:.1}s); \
             device race {RACE_DEVICES} hwids, {} admitted, {refused} DEVICE_LIMIT_REACHED",
            set.events.len(),
            requests as f64 / send_secs,
            sent.first,
            sent.resent,
            applied.inbox_rows,
            applied.entitlements,
            applied.audit_rows,
            admitted.len(),
        ),
    );
}

const LOCKED_KEY: &str = "RACE-1DEV-8FFK3-SD83K-3K3K3";

/// Whop on its Current API, node-locked: 20 devices race through two instances for a `max_devices = 1` key.
/// Tollgate's database admits exactly one, and the binding mirrored into Whop's metadata ends as the winner's.
#[test]
fn two_instances_racing_for_a_node_locked_whop_key_admit_one_and_whop_holds_the_winners_binding() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let whop = FakeWhop::start();
    whop.add_membership(FakeMembership::new("mem_lock", LOCKED_KEY));
    let config = ServerConfig::default()
        .with("TOLLGATE_DATABASE__POOL_SIZE", "8")
        .with("TOLLGATE_POLICY__DEFAULT__MAX_DEVICES", "1")
        .with("TOLLGATE_PROVIDERS__WHOP__API_BASE", whop.base_url())
        .with("TOLLGATE_PROVIDERS__WHOP__API_KEY", FakeWhop::API_KEY)
        .with("TOLLGATE_PROVIDERS__WHOP__COMPANY_ID", FakeWhop::COMPANY_ID);
    let a = ServerProcess::start(&db, &config);
    let b = ServerProcess::start(&db, &config);
    let targets = [a.base_url(), b.base_url()];
    let rt = runtime();
    let http = client(RACE_DEVICES);
    let outcomes = race(&rt, &http, &targets, LOCKED_KEY, "hw-lock");
    let admitted: Vec<usize> = outcomes
        .iter()
        .filter(|(_, status, _)| *status == 200)
        .map(|(i, _, _)| *i)
        .collect();
    let refused = outcomes
        .iter()
        .filter(|(_, status, code)| *status == 409 && code == "DEVICE_MISMATCH")
        .count();
    assert_eq!((admitted.len(), refused), (1, RACE_DEVICES - 1), "{outcomes:?}");
    let store = db.open_store();
    let entitlement = store
        .find_entitlement(Provider::Whop, "mem_lock")
        .unwrap()
        .unwrap();
    let devices = store.list_devices(&entitlement.id).unwrap();
    assert_eq!(devices.len(), 1);
    let winner = format!("hw-lock-{:02}", admitted[0]);
    assert_eq!(devices[0].hwid_hash, store.hash_hwid(&winner));
    let tag = tollgate_providers::whop::binding::device_tag("mem_lock", store.hash_hwid(&winner).as_str());
    assert_eq!(
        whop.membership("mem_lock").unwrap().metadata["tollgate_devices"],
        json!(tag)
    );
    assert_eq!(
        whop.count("PATCH", "/api/v1/memberships/mem_lock"),
        1,
        "only the winner writes"
    );
    assert_eq!(whop.retired_calls(), 0);
}

/// [`RACE_DEVICES`] activations of `key` at once, hwids `{prefix}-00`.., alternating between the instances: each
/// `(i, status, code)`. 20 activations on one entitlement row queue on its lock; on a loaded debug build the last
/// ones can wait past the lock timeout and get 503 STORAGE_UNAVAILABLE, which an app retries (the client treats it as
/// "try again"). The retry is bounded; the counts stay exact.
fn race(
    rt: &tokio::runtime::Runtime,
    http: &reqwest::Client,
    targets: &[String; 2],
    key: &'static str,
    prefix: &'static str,
) -> Vec<(usize, u16, String)> {
    rt.block_on(async {
        let mut racers = tokio::task::JoinSet::new();
        for i in 0..RACE_DEVICES {
            let (http, url) = (http.clone(), format!("{}/api/license/activate", targets[i % 2]));
            racers.spawn(async move {
                let body = json!({"license_key": key, "hwid": format!("{prefix}-{i:02}")});
                let mut answer = (0, String::new());
                for _ in 0..RETRY_ROUNDS {
                    let reply = http.post(&url).json(&body).send().await.unwrap();
                    let status = reply.status().as_u16();
                    let value: serde_json::Value = reply.json().await.unwrap();
                    answer = (status, value["code"].as_str().unwrap_or("").to_owned());
                    if !(answer.0 == 503 && answer.1 == "STORAGE_UNAVAILABLE") {
                        break;
                    }
                }
                (i, answer.0, answer.1)
            });
        }
        racers.join_all().await
    })
}
