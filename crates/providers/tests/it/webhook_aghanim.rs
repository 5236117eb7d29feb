//! Aghanim fixtures parse into the exact normalized events, flat or nested `event_data`; item events into items;
//! request/response types into refusals; sandbox events wrapped; inbox keys scoped by event type.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions fail the test on a broken fixture"
)]

use crate::common;

use common::{at, change, parse};
use serde_json::{Value, json};
use tollgate_policy::{EventKind, Provider, ProviderEvent};
use tollgate_providers::aghanim::{ITEM_KIND, ITEM_REMOVED, ItemAction, ItemDelivery, ItemLine};
use tollgate_providers::{DeliveryMeta, Outcome, ParsedWebhook, Refusal, RefusalCode, parse_webhook};

#[expect(clippy::unwrap_used, reason = "test helper with in-range constants")]
fn unix(secs: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(secs, 0).unwrap()
}

fn battle_pass(occurred_at: i64, kind: EventKind) -> ProviderEvent {
    ProviderEvent {
        provider: Provider::Aghanim,
        external_id: "sub_kMnoPqRsTuV".to_owned(),
        occurred_at: unix(occurred_at),
        subject: Some("2D2R-OP3C".to_owned()),
        product: Some("battle_pass".to_owned()),
        kind,
    }
}

#[test]
fn trial_to_paid_to_renewed_to_deactivated() {
    let meta = DeliveryMeta::timestamp_only(None);
    let cases = [
        (
            "aghanim/subscription.activated.json",
            "subscription.activated:idmpt_act1",
            battle_pass(
                1_704_067_200,
                EventKind::Activated {
                    status: Some("trial".to_owned()),
                    paid_through: Some(unix(1_704_672_000)),
                    cancel_at_period_end: None,
                    features: vec!["exclusive_skin_001".to_owned()],
                },
            ),
        ),
        (
            "aghanim/subscription.updated.json",
            "subscription.updated:idmpt_upd1",
            battle_pass(
                1_704_672_000,
                EventKind::Updated {
                    status: "active".to_owned(),
                    paid_through: Some(unix(1_706_745_600)),
                    cancel_at_period_end: None,
                },
            ),
        ),
        (
            "aghanim/subscription.renewed.json",
            "subscription.renewed:idmpt_ren1",
            battle_pass(
                1_706_745_600,
                EventKind::Renewed {
                    paid_through: unix(1_709_337_600),
                    status: Some("active".to_owned()),
                },
            ),
        ),
        (
            "aghanim/subscription.deactivated.json",
            "subscription.deactivated:idmpt_dea1",
            battle_pass(
                1_709_337_600,
                EventKind::Deactivated {
                    reason: None,
                    status: Some("expired".to_owned()),
                    paid_through: Some(unix(1_709_337_600)),
                },
            ),
        ),
    ];
    for (name, key, expected) in cases {
        let parsed = parse(Provider::Aghanim, &meta, name).unwrap();
        assert_eq!(parsed.dedupe_key, key, "{name}");
        let change = change(&parsed);
        assert_eq!(change.event, expected, "{name}");
        assert_eq!(
            change.extras.features,
            vec!["exclusive_skin_001".to_owned()],
            "{name}"
        );
    }
}

#[test]
fn nested_subscription_layout_and_event_id_fallback() {
    let parsed = parse(
        Provider::Aghanim,
        &DeliveryMeta::default(),
        "aghanim/subscription.activated.nested.json",
    )
    .unwrap();
    assert_eq!(parsed.dedupe_key, "whevt_NeSt3d000000000000000");
    let features = vec!["double_xp".to_owned(), "vip_badge".to_owned()];
    // This fixture is a sandbox event: its change is what the caller may apply when sandbox events are accepted.
    let Outcome::Sandbox(inner) = &parsed.outcome else {
        panic!("expected a sandbox event, got {:?}", parsed.outcome);
    };
    let change = inner.change().unwrap();
    assert_eq!(
        change.event,
        ProviderEvent {
            provider: Provider::Aghanim,
            external_id: "sub_NeSt3dLay0ut".to_owned(),
            occurred_at: at("2026-01-01T00:00:00Z"),
            subject: Some("7XK2-P9QA".to_owned()),
            product: Some("vip_club".to_owned()),
            kind: EventKind::Activated {
                status: Some("active".to_owned()),
                paid_through: Some(at("2026-02-01T00:00:00Z")),
                cancel_at_period_end: None,
                features: features.clone(),
            },
        }
    );
    assert_eq!(change.extras.features, features);
}

#[test]
fn other_authentic_types_are_recorded_not_acted_on() {
    let parsed = parse(
        Provider::Aghanim,
        &DeliveryMeta::default(),
        "aghanim/unknown.event_type.json",
    )
    .unwrap();
    assert_eq!(parsed.dedupe_key, "whevt_Unkn0wn0000000000000");
    assert_eq!(parsed.semantic_key, None);
    assert_eq!(parsed.event_type, "subscription.paused_for_holiday");
    assert_eq!(
        parsed.outcome,
        Outcome::NotActedOn {
            reason: "not a subscription or item event: recorded, access unchanged"
        }
    );
}

fn body(name: &str) -> Value {
    serde_json::from_slice(&common::fixture(name)).unwrap()
}

fn parse_value(value: &Value) -> ParsedWebhook {
    parse_webhook(
        Provider::Aghanim,
        &DeliveryMeta::default(),
        value.to_string().as_bytes(),
    )
    .unwrap()
}

fn items(parsed: &ParsedWebhook) -> &ItemDelivery {
    match &parsed.outcome {
        Outcome::Items(items) => items,
        other => panic!("expected items, got {other:?}"),
    }
}

fn refusal(parsed: &ParsedWebhook) -> &Refusal {
    match &parsed.outcome {
        Outcome::Refused(refusal) => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn the_inbox_key_is_scoped_by_event_type() {
    let parsed = parse(
        Provider::Aghanim,
        &DeliveryMeta::default(),
        "aghanim/item.add.json",
    )
    .unwrap();
    assert_eq!(parsed.dedupe_key, "item.add:idmpt_item1");
    assert_eq!(parsed.semantic_key.as_deref(), Some("item.add:idmpt_item1"));
    // The same idempotency key on another event type is another delivery.
    let mut other = body("aghanim/subscription.deactivated.json");
    other["idempotency_key"] = json!("idmpt_act1");
    let deactivated = parse_value(&other);
    let activated = parse(
        Provider::Aghanim,
        &DeliveryMeta::default(),
        "aghanim/subscription.activated.json",
    )
    .unwrap();
    assert_eq!(deactivated.dedupe_key, "subscription.deactivated:idmpt_act1");
    assert_ne!(deactivated.dedupe_key, activated.dedupe_key);
    assert_ne!(deactivated.semantic_key, activated.semantic_key);
    // A null key falls back to the event id, unscoped (it is unique per event).
    other["idempotency_key"] = Value::Null;
    let fallback = parse_value(&other);
    assert_eq!(fallback.dedupe_key, "whevt_Dea1dddddddddddddddddd");
    assert_eq!(fallback.semantic_key, None);
}

#[test]
fn item_add_and_item_remove_carry_every_item() {
    let parsed = parse(
        Provider::Aghanim,
        &DeliveryMeta::default(),
        "aghanim/item.add.json",
    )
    .unwrap();
    assert_eq!(parsed.event_type, "item.add");
    assert_eq!(
        items(&parsed),
        &ItemDelivery {
            action: ItemAction::Add,
            player_id: "2D2R-OP3C".to_owned(),
            items: vec![ItemLine {
                sku: "gem_pack_100".to_owned(),
                quantity: Some(1),
            }],
            reason: Some("Order paid ord_eCacAulggpY".to_owned()),
            occurred_at: unix(1_704_067_300),
        }
    );
    assert_eq!(parsed.outcome.change(), None);

    let removed = parse(
        Provider::Aghanim,
        &DeliveryMeta::default(),
        "aghanim/item.remove.json",
    )
    .unwrap();
    let removed = items(&removed);
    assert_eq!(removed.action, ItemAction::Remove);
    assert_eq!(removed.reason.as_deref(), Some("Order refunded ord_eCacAulggpY"));
    let changes = removed.changes();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        changes[0].event,
        ProviderEvent {
            provider: Provider::Aghanim,
            external_id: "2D2R-OP3C:pro_unlock".to_owned(),
            occurred_at: unix(1_704_153_600),
            subject: Some("2D2R-OP3C".to_owned()),
            product: Some("pro_unlock".to_owned()),
            kind: EventKind::Revoked {
                reason: Some(ITEM_REMOVED.to_owned())
            },
        }
    );
    assert_eq!(changes[0].extras.kind.as_deref(), Some(ITEM_KIND));
}

#[test]
fn several_items_repeat_skus_and_the_deprecated_single_item_form() {
    let mut value = body("aghanim/item.add.json");
    value["event_data"]["items"] = json!([
        {"sku": "pro_unlock", "quantity": 1},
        {"sku": "dlc_1"},
        {"sku": "pro_unlock", "quantity": 2},
    ]);
    let parsed = parse_value(&value);
    let delivery = items(&parsed);
    assert_eq!(
        delivery.items,
        vec![
            ItemLine {
                sku: "pro_unlock".to_owned(),
                quantity: Some(3),
            },
            ItemLine {
                sku: "dlc_1".to_owned(),
                quantity: None,
            },
        ]
    );
    let changes = delivery.changes();
    assert_eq!(
        changes
            .iter()
            .map(|c| c.event.external_id.as_str())
            .collect::<Vec<_>>(),
        ["2D2R-OP3C:pro_unlock", "2D2R-OP3C:dlc_1"]
    );
    assert!(matches!(
        changes[0].event.kind,
        EventKind::Activated {
            paid_through: None,
            ..
        }
    ));
    assert_eq!(delivery.unlisted(|sku| sku == "pro_unlock"), ["dlc_1"]);
    let refused = delivery.refusal(|sku| sku == "pro_unlock").unwrap();
    assert_eq!(refused.code, RefusalCode::UnsupportedItem);
    assert!(refused.message.contains("dlc_1"), "{}", refused.message);
    assert!(!refused.message.contains("pro_unlock"), "{}", refused.message);
    assert_eq!(delivery.refusal(|_| true), None);

    let mut single = body("aghanim/item.add.json");
    single["event_data"] = json!({"player_id": "P", "sku": "pro_unlock", "item_id": "itm_9"});
    assert_eq!(
        items(&parse_value(&single)).items,
        vec![ItemLine {
            sku: "pro_unlock".to_owned(),
            quantity: None,
        }]
    );
}

#[test]
fn an_unreadable_item_event_is_refused_never_stored_as_failed() {
    for (change, field) in [
        (
            json!({"event_data": {"items": [{"sku": "x"}]}}),
            "event_data.player_id",
        ),
        (
            json!({"event_data": {"player_id": "P", "items": []}}),
            "event_data.items",
        ),
        (
            json!({"event_data": {"player_id": "P", "items": [{"quantity": 1}]}}),
            "event_data.items[0].sku",
        ),
        (
            json!({"event_data": {"player_id": "P", "items": ["x"]}}),
            "event_data.items[0]",
        ),
        (
            json!({"event_data": {"player_id": "P", "items": [{"sku": "x", "quantity": "1"}]}}),
            "event_data.items[0].quantity",
        ),
        (json!({"event_time": null}), "event_time"),
        (json!({"sandbox": "yes"}), "sandbox"),
    ] {
        let mut value = body("aghanim/item.add.json");
        for (key, part) in change.as_object().unwrap() {
            value[key] = part.clone();
        }
        let parsed = parse_value(&value);
        let refused = refusal(&parsed);
        assert_eq!(refused.code, RefusalCode::InvalidItemEvent, "{change}");
        assert!(refused.message.contains(field), "{change}: {}", refused.message);
    }
}

#[test]
fn request_response_types_and_batches_are_refused() {
    let parsed = parse(
        Provider::Aghanim,
        &DeliveryMeta::default(),
        "aghanim/player.verify.json",
    )
    .unwrap();
    assert_eq!(parsed.dedupe_key, "whevt_eBZXsUEITGeDcILaZFUvPthxkr");
    let refused = refusal(&parsed);
    assert_eq!(refused.code, RefusalCode::UnsupportedEvent);
    assert_eq!(refused.code.as_str(), "UNSUPPORTED_EVENT");
    assert!(refused.message.contains("player.verify"), "{}", refused.message);
    for event_type in ["player.lookup", "player.is_idle", "store.get", "batch.ready"] {
        let mut value = body("aghanim/player.verify.json");
        value["event_type"] = json!(event_type);
        // Refused in the sandbox too.
        value["sandbox"] = json!(true);
        assert_eq!(
            refusal(&parse_value(&value)).code,
            RefusalCode::UnsupportedEvent,
            "{event_type}"
        );
    }
}

#[test]
fn sandbox_events_are_wrapped_for_the_caller_to_decide() {
    for name in ["aghanim/subscription.activated.json", "aghanim/item.add.json"] {
        let production = parse(Provider::Aghanim, &DeliveryMeta::default(), name).unwrap();
        let mut value = body(name);
        value["sandbox"] = json!(true);
        let sandbox = parse_value(&value);
        assert_eq!(sandbox.dedupe_key, production.dedupe_key, "{name}");
        assert_eq!(
            sandbox.outcome,
            Outcome::Sandbox(Box::new(production.outcome.clone())),
            "{name}"
        );
        assert_eq!(sandbox.outcome.change(), None, "{name}");
    }
}
