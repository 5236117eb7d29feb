//! Aghanim fixtures parse into the exact normalized events, flat or nested `event_data`.

mod common;

use common::{at, change, parse};
use tollgate_policy::{EventKind, Provider, ProviderEvent};
use tollgate_providers::{DeliveryMeta, Outcome};

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
            "idmpt_act1",
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
            "idmpt_upd1",
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
            "idmpt_ren1",
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
            "idmpt_dea1",
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
    let change = change(&parsed);
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
    let reason = "not a subscription lifecycle event: recorded, access unchanged";
    for (name, key, event_type) in [
        ("aghanim/item.add.json", "idmpt_item1", "item.add"),
        (
            "aghanim/unknown.event_type.json",
            "whevt_Unkn0wn0000000000000",
            "subscription.paused_for_holiday",
        ),
    ] {
        let parsed = parse(Provider::Aghanim, &DeliveryMeta::default(), name).unwrap();
        assert_eq!(parsed.dedupe_key, key);
        assert_eq!(parsed.event_type, event_type);
        assert_eq!(parsed.outcome, Outcome::NotActedOn { reason });
    }
}
