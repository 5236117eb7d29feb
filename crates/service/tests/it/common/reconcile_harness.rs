//! The reconciliation tests' harness: a real store on a fresh SQLite file and on a fresh PostgreSQL schema (the
//! shared `tollgate_store::test_support`), provider clients aimed at the testkit's fakes, and webhook
//! seeding through the real parser.
//!
//! PostgreSQL comes from `TOLLGATE_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`); when it
//! is unreachable the PostgreSQL half is skipped with a note, unless `TOLLGATE_REQUIRE_PG=1`.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "the test harness fails the test on any setup error"
)]

use std::sync::Arc;
use std::time::Duration;

use super::backends;
use crate::common::folding::Folding as _;
pub use backends::both;
use backends::fake_client_config;
use chrono::{DateTime, TimeDelta, Utc};
use tollgate_policy::{Decision, PolicySet, Provider, decide_entitlement};
use tollgate_providers::aghanim::AghanimClient;
use tollgate_providers::dodo::DodoClient;
use tollgate_providers::whop::{WhopClient, WhopOptions};
use tollgate_providers::{ClientConfig, DeliveryMeta, Outcome, ProviderApis, parse_webhook};
use tollgate_service::clock::ManualClock;
use tollgate_service::reconcile::{ReconcileOptions, Reconciler};
use tollgate_service::view::{StoredExtras, policy_for};
use tollgate_store::{Actor, AuditEntry, Entitlement, EntitlementChange, Store};
use tollgate_testkit::SignedWebhook;

/// A client configuration for a fake: its bearer key, short timeouts and no retries (a failure shows at once).
pub fn client_config(base_url: String, api_key: &str) -> ClientConfig {
    fake_client_config(base_url, api_key, Duration::from_secs(5))
}

/// A loopback address nothing listens on: connecting to it is refused.
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

pub fn whop_client(base_url: String, api_key: &str) -> Arc<WhopClient> {
    let options = WhopOptions {
        company_id: Some(tollgate_providers::whop::fake::FakeWhop::COMPANY_ID.to_owned()),
        ..WhopOptions::default()
    };
    Arc::new(WhopClient::new(&client_config(base_url, api_key), options).unwrap())
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

pub fn reconciler(store: Store, apis: ProviderApis, clock: Arc<ManualClock>, holder: &str) -> Reconciler {
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
