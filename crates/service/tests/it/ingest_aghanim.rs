//! Aghanim through `Ingest`, on SQLite and PostgreSQL: item entitlements granted and revoked for the listed SKUs and
//! shown by the service query; every delivery a 2xx would misrepresent refused with nothing stored; the inbox key
//! scoped by event type, with rows stored under the older key still deduplicating their redeliveries; sandbox events
//! stored, marked and applied only when accepted.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions fail the test on any setup error"
)]

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use tollgate_policy::{PolicySet, Provider};
use tollgate_providers::aghanim::fake::{AghanimEvent, FakeAghanim};
use tollgate_providers::aghanim::{AghanimAdapter, AghanimOptions, SANDBOX_NOTE};
use tollgate_providers::{DeliveryMeta, ParseError, ParsedWebhook, RefusalCode, parse_webhook};
use tollgate_service::clock::ManualClock;
use tollgate_service::ingest::{
    Ingest, IngestError, IngestOutcome, ProviderSecrets, WebhookParser, WebhookSecrets,
};
use tollgate_service::query::Query;
use tollgate_store::test_support::{TestDb, for_each_backend};
use tollgate_store::{InboxFilter, InboxStatus};
use tollgate_testkit::{SignedWebhook, WebhookBuilder};
use tollgate_verify::Tolerance;

const SECRET: &str = "aghanim_service_test_secret";
const PLAYER: &str = "2D2R-OP3C";
const MIGRATION: &str = "2026-12-05-000002_aghanim_dedupe_scope";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0).unwrap()
}

fn ingest(db: &TestDb, options: AghanimOptions) -> Ingest {
    let secrets = WebhookSecrets::default().with(
        Provider::Aghanim,
        ProviderSecrets {
            secrets: vec![SECRET.to_owned()],
            tolerance: Tolerance::Unlimited,
        },
    );
    Ingest::new(db.store.clone(), &secrets, Arc::new(ManualClock::new(now())))
        .unwrap()
        .with_adapter(AghanimAdapter::new(options))
}

fn query(db: &TestDb) -> Query {
    Query::new(
        db.store.clone(),
        Arc::new(PolicySet::default()),
        Arc::new(ManualClock::new(now())),
    )
}

fn sign(event: &AghanimEvent) -> SignedWebhook {
    WebhookBuilder::json(FakeAghanim::WEBHOOK_FORMAT, SECRET, &event.body())
        .timestamp(event.event_time)
        .sign()
}

fn deliver(ingest: &Ingest, event: &AghanimEvent) -> Result<IngestOutcome, IngestError> {
    let hook = sign(event);
    ingest.ingest(Provider::Aghanim, &hook.header_pairs(), &hook.body)
}

fn item_event(event_type: &str, items: &[(&str, i64)], at: DateTime<Utc>) -> AghanimEvent {
    AghanimEvent::items(event_type, PLAYER, items, "Order paid ord_1").event_time(at.timestamp())
}

fn refused(result: Result<IngestOutcome, IngestError>) -> (RefusalCode, String) {
    match result {
        Err(IngestError::Refused(refusal)) => (refusal.code, refusal.message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn inbox(db: &TestDb) -> Vec<tollgate_store::InboxEvent> {
    db.store.list_inbox(&InboxFilter::default()).unwrap()
}

#[test]
fn a_listed_item_is_granted_shown_with_subscriptions_and_revoked_by_item_remove() {
    for_each_backend(8, |db| {
        let ingest = ingest(&db, AghanimOptions::with_items(["pro_unlock"]));
        let added = deliver(&ingest, &item_event("item.add", &[("pro_unlock", 1)], now())).unwrap();
        let IngestOutcome::Applied { external_id, .. } = &added else {
            panic!("expected Applied, got {added:?}");
        };
        assert_eq!(external_id, "2D2R-OP3C:pro_unlock");
        // A subscription of the same player, next to it.
        let subscription = AghanimEvent::new(
            "subscription.activated",
            json!({"id": "sub_1", "player_id": PLAYER, "sku": "battle_pass", "status": "active",
                   "effective_until": now().timestamp() + 86_400}),
        )
        .event_time(now().timestamp());
        assert!(matches!(
            deliver(&ingest, &subscription).unwrap(),
            IngestOutcome::Applied { .. }
        ));

        let views = query(&db).entitlements_of(Provider::Aghanim, PLAYER).unwrap();
        let item = views.iter().find(|v| v.kind.as_deref() == Some("item")).unwrap();
        assert_eq!(item.external_id, "2D2R-OP3C:pro_unlock");
        assert_eq!(item.product.as_deref(), Some("pro_unlock"));
        assert_eq!(item.subject.as_deref(), Some(PLAYER));
        assert_eq!((item.access.allowed, item.access.code), (true, "VALID"));
        assert_eq!(item.current_period_end, None);
        let sub = views.iter().find(|v| v.external_id == "sub_1").unwrap();
        assert_eq!((sub.kind.as_deref(), sub.access.allowed), (None, true));
        assert_eq!(views.len(), 2);
        let detail = query(&db)
            .find_entitlement(Provider::Aghanim, "2D2R-OP3C:pro_unlock")
            .unwrap()
            .unwrap();
        assert_eq!(detail.policy.plan_model, tollgate_policy::PlanModel::Perpetual);

        let removed = item_event(
            "item.remove",
            &[("pro_unlock", 1)],
            now() + chrono::TimeDelta::hours(1),
        );
        assert!(matches!(
            deliver(&ingest, &removed).unwrap(),
            IngestOutcome::Applied { .. }
        ));
        let views = query(&db).entitlements_of(Provider::Aghanim, PLAYER).unwrap();
        let item = views.iter().find(|v| v.kind.as_deref() == Some("item")).unwrap();
        assert_eq!(
            (item.access.allowed, item.access.code),
            (false, "LICENSE_INACTIVE")
        );
        assert_eq!(item.status, "revoked");
        // A late item.add, older than the removal, changes nothing.
        assert!(matches!(
            deliver(&ingest, &item_event("item.add", &[("pro_unlock", 1)], now())).unwrap(),
            IngestOutcome::Applied { .. }
        ));
        let views = query(&db).entitlements_of(Provider::Aghanim, PLAYER).unwrap();
        assert!(!views.iter().find(|v| v.kind.is_some()).unwrap().access.allowed);
    });
}

#[test]
fn an_unlisted_item_is_refused_and_nothing_is_stored_until_it_is_listed() {
    for_each_backend(8, |db| {
        let strict = ingest(&db, AghanimOptions::with_items(["pro_unlock"]));
        let mixed = item_event("item.add", &[("pro_unlock", 1), ("gems_100", 3)], now());
        let (code, message) = refused(deliver(&strict, &mixed));
        assert_eq!(code, RefusalCode::UnsupportedItem);
        assert!(
            message.contains("gems_100") && message.contains("nothing was credited"),
            "{message}"
        );
        let (code, _) = refused(deliver(
            &strict,
            &item_event("item.remove", &[("gems_100", 1)], now()),
        ));
        assert_eq!(code, RefusalCode::UnsupportedItem);
        let (code, _) = refused(deliver(&ingest(&db, AghanimOptions::default()), &mixed));
        assert_eq!(code, RefusalCode::UnsupportedItem);
        assert!(inbox(&db).is_empty());
        assert!(
            db.store
                .list_entitlements_by_subject(Provider::Aghanim, PLAYER)
                .unwrap()
                .is_empty()
        );

        // Aghanim retries the same delivery once the operator lists the SKU: it is acted on, not a duplicate.
        let both = ingest(&db, AghanimOptions::with_items(["pro_unlock", "gems_100"]));
        assert!(matches!(
            deliver(&both, &mixed).unwrap(),
            IngestOutcome::Applied { .. }
        ));
        let held = db
            .store
            .list_entitlements_by_subject(Provider::Aghanim, PLAYER)
            .unwrap();
        assert_eq!(held.len(), 2);
        assert!(matches!(
            deliver(&both, &mixed).unwrap(),
            IngestOutcome::Duplicate { .. }
        ));
    });
}

#[test]
fn request_response_types_are_refused_and_unknown_types_are_stored() {
    for_each_backend(8, |db| {
        let ingest = ingest(&db, AghanimOptions::with_items(["pro_unlock"]));
        for event_type in ["player.verify", "player.lookup", "store.get"] {
            let mut event = AghanimEvent::player_verify(PLAYER);
            event.event_type = event_type.to_owned();
            let (code, message) = refused(deliver(&ingest, &event));
            assert_eq!(code, RefusalCode::UnsupportedEvent, "{event_type}");
            assert!(message.contains(event_type), "{message}");
        }
        assert!(inbox(&db).is_empty());
        let future = AghanimEvent::new("player.teleported", json!({"player_id": PLAYER}));
        assert!(matches!(
            deliver(&ingest, &future).unwrap(),
            IngestOutcome::Ignored { .. }
        ));
        assert_eq!(inbox(&db).len(), 1);
    });
}

fn subscription_event(event_type: &str, key: Option<&str>, at: i64) -> AghanimEvent {
    AghanimEvent::new(
        event_type,
        json!({"id": "sub_1", "player_id": PLAYER, "sku": "battle_pass", "status": "active",
               "effective_until": now().timestamp() + 30 * 86_400}),
    )
    .idempotency_key(key)
    .event_time(at)
}

#[test]
fn a_reused_idempotency_key_on_another_event_type_still_applies() {
    for_each_backend(8, |db| {
        let ingest = ingest(&db, AghanimOptions::default());
        let t = now().timestamp();
        let activated = subscription_event("subscription.activated", Some("idmpt_shared"), t - 60);
        assert!(matches!(
            deliver(&ingest, &activated).unwrap(),
            IngestOutcome::Applied { .. }
        ));
        let deactivated = subscription_event("subscription.deactivated", Some("idmpt_shared"), t);
        assert!(matches!(
            deliver(&ingest, &deactivated).unwrap(),
            IngestOutcome::Applied { .. }
        ));
        let view = &query(&db).entitlements_of(Provider::Aghanim, PLAYER).unwrap()[0];
        assert_eq!(
            (view.access.allowed, view.access.code),
            (false, "LICENSE_INACTIVE")
        );
        // A true redelivery of either is still a duplicate.
        assert!(matches!(
            deliver(&ingest, &deactivated).unwrap(),
            IngestOutcome::Duplicate { .. }
        ));
        assert!(matches!(
            deliver(&ingest, &activated).unwrap(),
            IngestOutcome::Duplicate { .. }
        ));
        let keys: Vec<String> = inbox(&db).into_iter().map(|e| e.dedupe_key).collect();
        assert_eq!(
            keys,
            [
                "subscription.activated:idmpt_shared",
                "subscription.deactivated:idmpt_shared"
            ]
        );
    });
}

/// The parser of the release before this one, as far as its inbox keys go: the bare `idempotency_key` (else the
/// `event_id`), no semantic key.
#[derive(Debug)]
struct BareKeyParser;

impl WebhookParser for BareKeyParser {
    fn parse(
        &self,
        provider: Provider,
        meta: &DeliveryMeta,
        body: &[u8],
    ) -> Result<ParsedWebhook, ParseError> {
        let mut parsed = parse_webhook(provider, meta, body)?;
        let value: Value = serde_json::from_slice(body).unwrap();
        parsed.dedupe_key = value["idempotency_key"]
            .as_str()
            .or(value["event_id"].as_str())
            .unwrap()
            .to_owned();
        parsed.semantic_key = None;
        Ok(parsed)
    }
}

#[test]
fn rows_stored_under_the_old_key_still_deduplicate_their_redeliveries() {
    for_each_backend(8, |db| {
        let t = now().timestamp();
        let old = ingest(&db, AghanimOptions::default()).with_parser(Arc::new(BareKeyParser));
        let activated = subscription_event("subscription.activated", Some("idmpt_old"), t - 60);
        let first = deliver(&old, &activated).unwrap();
        assert!(matches!(first, IngestOutcome::Applied { .. }));
        assert_eq!(inbox(&db)[0].dedupe_key, "idmpt_old");
        // The upgrade: the migration, then this release's parser.
        db.rerun_migration(MIGRATION);
        let new = ingest(&db, AghanimOptions::default());
        assert_eq!(
            deliver(&new, &activated).unwrap(),
            IngestOutcome::Duplicate {
                inbox_id: first.inbox_id(),
                event_type: "subscription.activated".to_owned(),
            }
        );
        // Under the old key this deactivation would have been swallowed as a duplicate; now it applies.
        let deactivated = subscription_event("subscription.deactivated", Some("idmpt_old"), t);
        assert!(matches!(
            deliver(&new, &deactivated).unwrap(),
            IngestOutcome::Applied { .. }
        ));
        let view = &query(&db).entitlements_of(Provider::Aghanim, PLAYER).unwrap()[0];
        assert!(!view.access.allowed);
        assert_eq!(inbox(&db).len(), 2);
    });
}

#[test]
fn sandbox_events_are_stored_marked_and_grant_nothing_by_default() {
    for_each_backend(8, |db| {
        let t = now().timestamp();
        let off = ingest(&db, AghanimOptions::with_items(["pro_unlock"]));
        let sandbox_sub = subscription_event("subscription.activated", Some("idmpt_sb"), t).sandbox(true);
        let stored = deliver(&off, &sandbox_sub).unwrap();
        assert!(matches!(stored, IngestOutcome::Ignored { .. }), "{stored:?}");
        let row = db.store.find_inbox_event(stored.inbox_id()).unwrap().unwrap();
        assert_eq!(row.status, InboxStatus::Ignored);
        assert_eq!(row.last_error.as_deref(), Some(SANDBOX_NOTE));
        let sandbox_item = item_event("item.add", &[("pro_unlock", 1)], now()).sandbox(true);
        let (code, message) = refused(deliver(&off, &sandbox_item));
        assert_eq!(code, RefusalCode::SandboxNotAccepted);
        assert!(message.contains("accept_sandbox"), "{message}");
        assert!(
            db.store
                .list_entitlements_by_subject(Provider::Aghanim, PLAYER)
                .unwrap()
                .is_empty()
        );
        assert_eq!(inbox(&db).len(), 1);
        // A replay with sandbox events still off keeps the note.
        assert!(matches!(
            off.replay(stored.inbox_id()).unwrap(),
            IngestOutcome::Ignored { .. }
        ));

        // The operator turns sandbox events on: the item is credited, and the stored event applies on replay.
        let on = ingest(
            &db,
            AghanimOptions {
                accept_sandbox: true,
                ..AghanimOptions::with_items(["pro_unlock"])
            },
        );
        assert!(matches!(
            deliver(&on, &sandbox_item).unwrap(),
            IngestOutcome::Applied { .. }
        ));
        let replayed = on.replay(stored.inbox_id()).unwrap();
        assert!(matches!(replayed, IngestOutcome::Applied { .. }), "{replayed:?}");
        let row = db.store.find_inbox_event(stored.inbox_id()).unwrap().unwrap();
        assert_eq!((row.status, row.last_error), (InboxStatus::Processed, None));
        assert_eq!(
            db.store
                .list_entitlements_by_subject(Provider::Aghanim, PLAYER)
                .unwrap()
                .len(),
            2
        );
    });
}
