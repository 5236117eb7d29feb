//! Whop fixtures (v1 and legacy) parse into the exact normalized events.

use crate::common;

use common::{at, change, parse};
use tollgate_policy::{EventKind, Provider, ProviderEvent};
use tollgate_providers::{DeliveryMeta, LicenseKey, Outcome};

const MEM: &str = "mem_7Hq2LwZp0aXkR1";

fn whop_event(occurred_at: &str, kind: EventKind) -> ProviderEvent {
    ProviderEvent {
        provider: Provider::Whop,
        external_id: MEM.to_owned(),
        occurred_at: at(occurred_at),
        subject: Some("user_Zx9Yw8Vu7".to_owned()),
        product: Some("prod_Desk42xY".to_owned()),
        kind,
    }
}

#[test]
fn activated() {
    let meta = DeliveryMeta::standard("msg_header_1", None);
    let parsed = parse(Provider::Whop, &meta, "whop/membership.activated.json").unwrap();
    assert_eq!(parsed.dedupe_key, "msg_header_1");
    assert_eq!(parsed.semantic_key, None);
    assert_eq!(parsed.event_type, "membership.activated");
    let change = change(&parsed);
    assert_eq!(
        change.event,
        whop_event(
            "2026-10-01T09:15:02Z",
            EventKind::Activated {
                status: Some("active".to_owned()),
                paid_through: Some(at("2026-11-01T09:15:00Z")),
                cancel_at_period_end: Some(false),
                features: vec![],
            }
        )
    );
    assert_eq!(
        change.license_key,
        Some(LicenseKey::new("TGL-4F7K2-9QXM3-PLR8D-77ZAB"))
    );
    assert_eq!(change.extras.plan_id.as_deref(), Some("plan_Mth9kQ2"));
}

#[test]
fn activated_with_unix_times_equals_the_iso_form() {
    let meta = DeliveryMeta::standard("msg_header_2", None);
    let iso = parse(Provider::Whop, &meta, "whop/membership.activated.json").unwrap();
    let unix = parse(Provider::Whop, &meta, "whop/membership.activated.unix_times.json").unwrap();
    assert_eq!(change(&unix).event, change(&iso).event);
}

#[test]
fn without_a_header_the_envelope_id_is_the_dedupe_key() {
    let parsed = parse(
        Provider::Whop,
        &DeliveryMeta::default(),
        "whop/membership.activated.json",
    )
    .unwrap();
    assert_eq!(parsed.dedupe_key, "msg_2xT9bQ0rLk3mZ8vW1yH4nC6dE");
}

#[test]
fn deactivated_keeps_status_and_reason() {
    let meta = DeliveryMeta::standard("msg_3", None);
    let parsed = parse(Provider::Whop, &meta, "whop/membership.deactivated.json").unwrap();
    assert_eq!(
        change(&parsed).event,
        whop_event(
            "2026-11-01T09:15:01Z",
            EventKind::Deactivated {
                reason: Some("customer_request".to_owned()),
                status: Some("canceled".to_owned()),
                paid_through: Some(at("2026-11-01T09:15:00Z")),
            }
        )
    );
}

#[test]
fn canceling_at_period_end_schedules_the_cancel_and_keeps_the_period() {
    let meta = DeliveryMeta::standard("msg_4", None);
    let parsed = parse(
        Provider::Whop,
        &meta,
        "whop/membership.cancel_at_period_end_changed.json",
    )
    .unwrap();
    assert_eq!(
        change(&parsed).event,
        whop_event(
            "2026-10-20T12:00:01Z",
            EventKind::CancelScheduled {
                paid_through: Some(at("2026-11-01T09:15:00Z"))
            }
        )
    );
    let meta = DeliveryMeta::standard("msg_5", None);
    let parsed = parse(
        Provider::Whop,
        &meta,
        "whop/membership.cancel_at_period_end_changed.unscheduled.json",
    )
    .unwrap();
    assert_eq!(
        change(&parsed).event,
        whop_event("2026-10-22T08:00:01Z", EventKind::CancelUnscheduled)
    );
}

#[test]
fn a_payment_asks_for_its_membership_to_be_re_read_and_changes_nothing_itself() {
    let meta = DeliveryMeta::standard("msg_6", None);
    let parsed = parse(Provider::Whop, &meta, "whop/payment.succeeded.json").unwrap();
    assert_eq!(parsed.dedupe_key, "msg_6");
    assert_eq!(parsed.event_type, "payment.succeeded");
    assert_eq!(
        parsed.outcome,
        Outcome::Refresh {
            external_id: MEM.to_owned(),
            reason: "payment succeeded: the membership is re-read from Whop's API",
        }
    );
    assert_eq!(parsed.outcome.change(), None);
    // A payment naming no membership (a one-off charge) is recorded only.
    let body = br#"{"id":"msg_x","type":"payment.succeeded","timestamp":"2026-10-01T09:15:03.000Z","data":{"id":"pay_1"}}"#;
    let parsed = tollgate_providers::parse_webhook(Provider::Whop, &meta, body).unwrap();
    assert_eq!(
        parsed.outcome,
        Outcome::NotActedOn {
            reason: "payment without a membership: recorded, access unchanged"
        }
    );
    let other = br#"{"id":"msg_y","type":"payment.failed","timestamp":"2026-10-01T09:15:03.000Z","data":{"id":"pay_1"}}"#;
    let parsed = tollgate_providers::parse_webhook(Provider::Whop, &meta, other).unwrap();
    assert_eq!(
        parsed.outcome,
        Outcome::NotActedOn {
            reason: "not a membership event: recorded, access unchanged"
        }
    );
}

#[test]
fn membership_updated_is_a_whole_membership_snapshot_in_either_shape() {
    let meta = DeliveryMeta::standard("msg_7", None);
    // Pinned (2026-09-15 shape): flat ids, `current_period_end`, `account`, and `account_id` in the envelope.
    let parsed = parse(Provider::Whop, &meta, "whop/membership.updated.pinned.json").unwrap();
    assert_eq!(parsed.event_type, "membership.updated");
    let pinned = change(&parsed);
    assert_eq!(
        pinned.event,
        whop_event(
            "2026-11-20T12:00:00Z",
            EventKind::Updated {
                status: "active".to_owned(),
                paid_through: Some(at("2026-12-20T12:00:00Z")),
                cancel_at_period_end: Some(false),
            }
        )
    );
    assert_eq!(pinned.extras.plan_id.as_deref(), Some("plan_Mn4Bv5Cx6"));
    assert_eq!(
        pinned.license_key.as_ref().map(|k| k.expose()),
        Some("KLINE-8FFK3-SD83K-3K3K3-3K3K3")
    );
    // Unpinned: nested objects and `renewal_period_end`.
    let parsed = parse(Provider::Whop, &meta, "whop/membership.updated.json").unwrap();
    assert_eq!(
        change(&parsed).event,
        whop_event(
            "2026-11-21T08:00:00Z",
            EventKind::Updated {
                status: "canceling".to_owned(),
                paid_through: Some(at("2026-12-20T12:00:00Z")),
                cancel_at_period_end: Some(true),
            }
        )
    );
    // Without a status it cannot be folded: a parse error, kept for replay.
    let body = br#"{"id":"m","type":"membership.updated","timestamp":"2026-11-21T08:00:00.000Z","data":{"id":"mem_1"}}"#;
    assert!(tollgate_providers::parse_webhook(Provider::Whop, &meta, body).is_err());
}

#[test]
fn legacy_went_valid_uses_the_signature_time_and_a_payload_key() {
    let meta = DeliveryMeta::timestamp_only(Some(at("2024-09-29T10:40:00Z")));
    let parsed = parse(Provider::Whop, &meta, "whop/legacy.membership.went_valid.json").unwrap();
    assert_eq!(parsed.event_type, "membership.went_valid");
    assert!(
        parsed
            .dedupe_key
            .starts_with("mem_5l6nvhob7ALjRT:membership.went_valid:"),
        "{}",
        parsed.dedupe_key
    );
    assert_eq!(
        parsed.dedupe_key.len(),
        "mem_5l6nvhob7ALjRT:membership.went_valid:".len() + 16
    );
    let change = change(&parsed);
    assert_eq!(
        change.event,
        ProviderEvent {
            provider: Provider::Whop,
            external_id: "mem_5l6nvhob7ALjRT".to_owned(),
            occurred_at: at("2024-09-29T10:40:00Z"),
            subject: Some("user_Zx9Yw8Vu7".to_owned()),
            product: Some("prod_Desk42xY".to_owned()),
            kind: EventKind::Activated {
                status: Some("completed".to_owned()),
                paid_through: None,
                cancel_at_period_end: Some(false),
                features: vec![],
            },
        }
    );
    assert_eq!(
        change.license_key,
        Some(LicenseKey::new("U-A09280-647203B0-2C0A9EW"))
    );
    assert_eq!(change.extras.plan_id.as_deref(), Some("plan_Mth9kQ2"));
}

#[test]
fn legacy_dedupe_key_is_stable_for_a_retry_and_differs_for_another_body() {
    let meta = DeliveryMeta::timestamp_only(Some(at("2024-09-29T10:40:00Z")));
    let retry_meta = DeliveryMeta::timestamp_only(Some(at("2024-09-29T10:40:10Z")));
    let first = parse(Provider::Whop, &meta, "whop/legacy.membership.went_valid.json").unwrap();
    let retry = parse(
        Provider::Whop,
        &retry_meta,
        "whop/legacy.membership.went_valid.json",
    )
    .unwrap();
    assert_eq!(first.dedupe_key, retry.dedupe_key);
    let mut other: serde_json::Value =
        serde_json::from_slice(&common::fixture("whop/legacy.membership.went_valid.json")).unwrap();
    other["data"]["status"] = "active".into();
    let other =
        tollgate_providers::parse_webhook(Provider::Whop, &meta, other.to_string().as_bytes()).unwrap();
    assert_ne!(first.dedupe_key, other.dedupe_key);
}

#[test]
fn legacy_without_any_time_is_an_error() {
    let error = parse(
        Provider::Whop,
        &DeliveryMeta::default(),
        "whop/legacy.membership.went_valid.json",
    )
    .unwrap_err();
    assert_eq!(
        error,
        tollgate_providers::ParseError::MissingField {
            field: "data.updated_at".to_owned()
        }
    );
}

#[test]
fn legacy_went_invalid_under_body_with_expanded_objects() {
    let meta = DeliveryMeta::timestamp_only(Some(at("2024-10-30T10:41:00Z")));
    let parsed = parse(
        Provider::Whop,
        &meta,
        "whop/legacy.membership.went_invalid.body.json",
    )
    .unwrap();
    assert_eq!(
        change(&parsed).event,
        ProviderEvent {
            provider: Provider::Whop,
            external_id: "mem_5l6nvhob7ALjRT".to_owned(),
            occurred_at: at("2024-10-30T10:41:00Z"),
            subject: Some("user_Zx9Yw8Vu7".to_owned()),
            product: Some("prod_Desk42xY".to_owned()),
            kind: EventKind::Deactivated {
                reason: None,
                status: Some("expired".to_owned()),
                paid_through: Some(at("2024-10-30T10:40:00Z")),
            },
        }
    );
}

#[test]
fn legacy_v5_cancel_uses_payload_updated_at_and_flat_ids() {
    // The signature time is later; the payload's own updated_at wins.
    let meta = DeliveryMeta::timestamp_only(Some(at("2024-10-04T00:05:00Z")));
    let parsed = parse(
        Provider::Whop,
        &meta,
        "whop/legacy.membership.cancel_at_period_end_changed.v5.json",
    )
    .unwrap();
    let change = change(&parsed);
    assert_eq!(
        change.event,
        ProviderEvent {
            provider: Provider::Whop,
            external_id: "mem_5l6nvhob7ALjRT".to_owned(),
            occurred_at: at("2024-10-04T00:00:00Z"),
            subject: Some("user_Zx9Yw8Vu7".to_owned()),
            product: Some("prod_Desk42xY".to_owned()),
            kind: EventKind::CancelScheduled {
                paid_through: Some(at("2024-10-30T10:40:00Z"))
            },
        }
    );
    assert_eq!(change.extras.plan_id.as_deref(), Some("plan_Mth9kQ2"));
}

#[test]
fn legacy_metadata_updated_records_the_status() {
    let meta = DeliveryMeta::timestamp_only(Some(at("2024-10-10T00:00:00Z")));
    let parsed = parse(
        Provider::Whop,
        &meta,
        "whop/legacy.membership.metadata_updated.json",
    )
    .unwrap();
    assert_eq!(
        change(&parsed).event.kind,
        EventKind::Updated {
            status: "past_due".to_owned(),
            paid_through: Some(at("2024-10-30T10:40:00Z")),
            cancel_at_period_end: Some(false),
        }
    );
}

#[test]
fn legacy_metadata_updated_with_valid_false_ends_access() {
    let meta = DeliveryMeta::timestamp_only(Some(at("2024-10-10T00:00:00Z")));
    let mut body: serde_json::Value =
        serde_json::from_slice(&common::fixture("whop/legacy.membership.metadata_updated.json")).unwrap();
    body["data"]["valid"] = false.into();
    let parsed =
        tollgate_providers::parse_webhook(Provider::Whop, &meta, body.to_string().as_bytes()).unwrap();
    assert_eq!(
        change(&parsed).event.kind,
        EventKind::Deactivated {
            reason: None,
            status: Some("past_due".to_owned()),
            paid_through: Some(at("2024-10-30T10:40:00Z")),
        }
    );
}

#[test]
fn a_legacy_payload_under_a_standard_webhooks_delivery_keys_on_the_header() {
    let meta = DeliveryMeta::standard("msg_legacy_over_sw", Some(at("2024-09-29T10:40:00Z")));
    let parsed = parse(Provider::Whop, &meta, "whop/legacy.membership.went_valid.json").unwrap();
    assert_eq!(parsed.dedupe_key, "msg_legacy_over_sw");
    assert_eq!(parsed.event_type, "membership.went_valid");
}
