//! `Ingest` on a real SQLite store: exact outcomes and errors, what the inbox keeps for replay, and replay itself.
//! (The HTTP tests in `bin/tollgate/tests/server` run the same path on both backends.)

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions fail the test on any setup error"
)]

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use tollgate_policy::Provider;
use tollgate_service::clock::{Clock, ManualClock};
use tollgate_service::ingest::{Ingest, IngestError, IngestOutcome, ProviderSecrets, WebhookSecrets};
use tollgate_store::{InboxId, InboxStatus, Store, StoreConfig, StoreKeys};
use tollgate_testkit::{SignedWebhook, WebhookBuilder, WebhookFormat};
use tollgate_verify::{SecretProblem, Tolerance, VerifyError};

const WHOP: &str = "ws_service_test_secret";
const DODO: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../providers/tests/fixtures")
        .join(name);
    std::fs::read(path).unwrap()
}

fn secrets(list: &[&str]) -> ProviderSecrets {
    ProviderSecrets {
        secrets: list.iter().map(|s| (*s).to_owned()).collect(),
        tolerance: Tolerance::Seconds(300),
    }
}

struct Fixture {
    ingest: Ingest,
    store: Store,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 10, 0, 0, 0).unwrap()
}

fn setup() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(format!("sqlite://{}", dir.path().join("t.db").display()));
    let store = Store::open(&config, StoreKeys::generate().unwrap()).unwrap();
    store.migrate().unwrap();
    let clock = Arc::new(ManualClock::new(now()));
    let webhook_secrets = WebhookSecrets::default()
        .with(Provider::Whop, secrets(&[WHOP]))
        .with(Provider::Dodo, secrets(&[DODO]));
    let ingest = Ingest::new(store.clone(), &webhook_secrets, clock.clone()).unwrap();
    Fixture {
        ingest,
        store,
        clock,
        _dir: dir,
    }
}

fn sign(f: &Fixture, format: WebhookFormat, body: Vec<u8>) -> SignedWebhook {
    let secret = if format == WebhookFormat::Dodo { DODO } else { WHOP };
    WebhookBuilder::new(format, secret, body)
        .timestamp(f.clock.now().timestamp())
        .sign()
}

fn ingest(f: &Fixture, provider: Provider, hook: &SignedWebhook) -> Result<IngestOutcome, IngestError> {
    f.ingest.ingest(provider, &hook.header_pairs(), &hook.body)
}

#[test]
fn secrets_are_checked_once_and_blank_ones_disable_the_provider() {
    let f = setup();
    let bad = WebhookSecrets::default().with(Provider::Dodo, secrets(&["whsec_not base64!"]));
    let clock: Arc<dyn Clock> = f.clock.clone();
    assert_eq!(
        Ingest::new(f.store.clone(), &bad, clock.clone()).unwrap_err(),
        IngestError::InvalidSecret {
            provider: Provider::Dodo,
            error: VerifyError::BadSecret(SecretProblem::NotBase64 { index: 0 }),
        }
    );
    let blank = WebhookSecrets::default().with(Provider::Whop, secrets(&["", "  "]));
    let ingest = Ingest::new(f.store.clone(), &blank, clock).unwrap();
    assert!(!ingest.is_enabled(Provider::Whop));
    assert!(f.ingest.is_enabled(Provider::Whop) && f.ingest.is_enabled(Provider::Dodo));
    assert!(!f.ingest.is_enabled(Provider::Aghanim));
    assert_eq!(
        f.ingest
            .ingest(Provider::Aghanim, &Vec::<(&str, &str)>::new(), b"{}"),
        Err(IngestError::NotConfigured(Provider::Aghanim))
    );
}

#[test]
fn each_outcome_and_error_is_exact() {
    let f = setup();
    let hook = sign(
        &f,
        WebhookFormat::WhopCurrent,
        fixture("whop/membership.activated.json"),
    );
    let applied = ingest(&f, Provider::Whop, &hook).unwrap();
    let IngestOutcome::Applied {
        inbox_id,
        event_type,
        entitlement_id,
        external_id,
    } = applied.clone()
    else {
        panic!("{applied:?}");
    };
    assert_eq!(
        (event_type.as_str(), external_id.as_str()),
        ("membership.activated", "mem_7Hq2LwZp0aXkR1")
    );
    assert!(entitlement_id.as_str().starts_with("ent_"));
    assert_eq!(
        ingest(&f, Provider::Whop, &hook),
        Ok(IngestOutcome::Duplicate {
            inbox_id,
            event_type: "membership.activated".into()
        })
    );

    let ignored = ingest(
        &f,
        Provider::Whop,
        &sign(
            &f,
            WebhookFormat::WhopCurrent,
            fixture("whop/payment.succeeded.json"),
        ),
    );
    assert!(
        matches!(ignored, Ok(IngestOutcome::Ignored { ref event_type, .. }) if event_type == "payment.succeeded")
    );

    let broken = sign(
        &f,
        WebhookFormat::WhopCurrent,
        fixture("malformed/whop_cancel_flag_string.json"),
    );
    let failed = ingest(&f, Provider::Whop, &broken).unwrap();
    assert_eq!(
        failed,
        IngestOutcome::Failed {
            inbox_id: failed.inbox_id(),
            event_type: "membership.activated".into(),
            error: "field `data.cancel_at_period_end` has the wrong type: expected a boolean".into(),
        }
    );
    let stored = f.store.find_inbox_event(failed.inbox_id()).unwrap().unwrap();
    assert_eq!(stored.dedupe_key, broken.header("webhook-id").unwrap());
    assert_eq!(stored.status, InboxStatus::Failed);

    let not_json = sign(&f, WebhookFormat::Dodo, b"not json".to_vec());
    assert!(matches!(
        ingest(&f, Provider::Dodo, &not_json),
        Err(IngestError::NotJson(_))
    ));

    let stale = WebhookBuilder::new(
        WebhookFormat::WhopCurrent,
        WHOP,
        fixture("whop/membership.activated.json"),
    )
    .timestamp(now().timestamp() - 301)
    .sign();
    assert_eq!(
        ingest(&f, Provider::Whop, &stale),
        Err(IngestError::InvalidSignature(VerifyError::StaleTimestamp))
    );
    assert_eq!(
        ingest(&f, Provider::Whop, &hook.with_body(b"{}".to_vec())),
        Err(IngestError::InvalidSignature(VerifyError::NoMatchingSignature))
    );
    assert_eq!(f.store.list_inbox(&Default::default()).unwrap().len(), 3);
}

#[test]
fn a_legacy_whop_replay_uses_the_kept_signature_time() {
    let f = setup();
    let hook = sign(
        &f,
        WebhookFormat::WhopLegacy,
        fixture("whop/legacy.membership.went_valid.json"),
    );
    let outcome = ingest(&f, Provider::Whop, &hook).unwrap();
    let event = f.store.find_inbox_event(outcome.inbox_id()).unwrap().unwrap();
    assert_eq!((event.webhook_id, event.signed_at), (None, Some(now())));
    let before = f
        .store
        .find_entitlement(Provider::Whop, "mem_5l6nvhob7ALjRT")
        .unwrap()
        .unwrap();
    assert_eq!(before.state.clocks.access, Some(now()));

    // Much later, a replay re-parses with the delivery's signature time, not the replay's clock.
    f.clock.set(now() + chrono::TimeDelta::days(30));
    let replayed = f.ingest.replay(outcome.inbox_id()).unwrap();
    assert_eq!(replayed.as_str(), "applied");
    let after = f
        .store
        .find_entitlement(Provider::Whop, "mem_5l6nvhob7ALjRT")
        .unwrap()
        .unwrap();
    assert_eq!(after.state, before.state);
    assert_eq!(
        f.ingest.replay(InboxId(424_242)),
        Err(IngestError::NotFound(InboxId(424_242)))
    );
}

#[test]
fn replay_failed_filters_by_provider() {
    let f = setup();
    let whop = sign(
        &f,
        WebhookFormat::WhopCurrent,
        fixture("malformed/whop_cancel_flag_string.json"),
    );
    let dodo = sign(
        &f,
        WebhookFormat::Dodo,
        fixture("malformed/dodo_grant_missing_id.json"),
    );
    let whop_id = ingest(&f, Provider::Whop, &whop).unwrap().inbox_id();
    let dodo_id = ingest(&f, Provider::Dodo, &dodo).unwrap().inbox_id();
    let results = f.ingest.replay_failed(Some(Provider::Dodo)).unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].0, dodo_id);
    assert!(matches!(results[0].1, Ok(IngestOutcome::Failed { .. })));
    let all = f.ingest.replay_failed(None).unwrap();
    assert_eq!(
        all.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        [whop_id, dodo_id]
    );
    let attempts: Vec<i32> = [whop_id, dodo_id]
        .iter()
        .map(|id| f.store.find_inbox_event(*id).unwrap().unwrap().attempts)
        .collect();
    assert_eq!(attempts, [2, 3]);
}
