//! Dodo fixtures parse into the exact normalized events, with the webhook-id and grant semantic keys.

use crate::common;

use common::{at, change, parse};
use serde_json::json;
use tollgate_policy::{EventKind, Provider, ProviderEvent};
use tollgate_providers::{DeliveryMeta, Extras, LicenseKey, Outcome, ParseError};

const KEY: &str = "2b1f8e2d-c41e-4e8f-b2d3-d9fd61c38f43";

fn meta() -> DeliveryMeta {
    DeliveryMeta::standard("msg_dodo_1", None)
}

fn grant_event(id: &str, occurred_at: &str, kind: EventKind) -> ProviderEvent {
    ProviderEvent {
        provider: Provider::Dodo,
        external_id: id.to_owned(),
        occurred_at: at(occurred_at),
        subject: Some("cus_J7h6G5f4".to_owned()),
        product: Some("ent_LicPro01".to_owned()),
        kind,
    }
}

fn license_extras() -> Extras {
    Extras {
        integration_type: Some("license_key".to_owned()),
        ..Extras::default()
    }
}

#[test]
fn delivered_license_key_grant() {
    let parsed = parse(
        Provider::Dodo,
        &meta(),
        "dodo/entitlement_grant.delivered.license_key.json",
    )
    .unwrap();
    assert_eq!(parsed.dedupe_key, "msg_dodo_1");
    assert_eq!(
        parsed.semantic_key.as_deref(),
        Some("entg_8sKd02LmQp:entitlement_grant.delivered")
    );
    let change = change(&parsed);
    assert_eq!(
        change.event,
        grant_event(
            "entg_8sKd02LmQp",
            "2026-10-05T14:02:12Z",
            EventKind::GrantDelivered {
                paid_through: None,
                features: vec![]
            }
        )
    );
    assert_eq!(change.license_key, Some(LicenseKey::new(KEY)));
    assert_eq!(change.extras, license_extras());
}

#[test]
fn manual_pending_grant_has_no_key() {
    let parsed = parse(
        Provider::Dodo,
        &meta(),
        "dodo/entitlement_grant.created.manual_pending.json",
    )
    .unwrap();
    assert_eq!(
        parsed.semantic_key.as_deref(),
        Some("entg_9tLe13MnRq:entitlement_grant.created")
    );
    let change = change(&parsed);
    assert_eq!(
        change.event,
        grant_event("entg_9tLe13MnRq", "2026-10-06T08:00:00Z", EventKind::GrantPending)
    );
    assert_eq!(change.license_key, None);
}

#[test]
fn auto_delivered_created_grant_is_delivered_whatever_the_status_case() {
    let parsed = parse(
        Provider::Dodo,
        &meta(),
        "dodo/entitlement_grant.created.auto_delivered.json",
    )
    .unwrap();
    let change = change(&parsed);
    assert_eq!(
        change.event,
        grant_event(
            "entg_8sKd02LmQp",
            "2026-10-05T14:02:11Z",
            EventKind::GrantDelivered {
                paid_through: Some(at("2027-10-05T14:02:11Z")),
                features: vec![]
            }
        )
    );
    assert_eq!(change.license_key, Some(LicenseKey::new(KEY)));
}

#[test]
fn oauth_pending_grant_carries_the_oauth_url() {
    let parsed = parse(
        Provider::Dodo,
        &meta(),
        "dodo/entitlement_grant.created.oauth_pending.json",
    )
    .unwrap();
    let change = change(&parsed);
    assert_eq!(change.event.kind, EventKind::GrantPending);
    assert_eq!(
        change.extras,
        Extras {
            integration_type: Some("discord".to_owned()),
            oauth_url: Some("https://discord.com/oauth2/authorize?state=xyz".to_owned()),
            ..Extras::default()
        }
    );
}

#[test]
fn digital_files_grant_carries_the_delivery() {
    let parsed = parse(
        Provider::Dodo,
        &meta(),
        "dodo/entitlement_grant.delivered.digital_files.json",
    )
    .unwrap();
    let change = change(&parsed);
    assert_eq!(change.license_key, None);
    assert_eq!(change.extras.integration_type.as_deref(), Some("digital_files"));
    assert_eq!(
        change.extras.delivery,
        Some(json!({
            "files": [{"file_id": "fil_1", "filename": "app.dmg",
                       "download_url": "https://cdn.example/app.dmg?sig=1", "expires_in": 3600}],
            "external_url": null, "instructions": "Drag to Applications"
        }))
    );
}

#[test]
fn failed_grant_keeps_the_error_code() {
    let parsed = parse(Provider::Dodo, &meta(), "dodo/entitlement_grant.failed.json").unwrap();
    assert_eq!(
        change(&parsed).event,
        grant_event(
            "entg_Fa1Led0001",
            "2026-10-06T09:00:00Z",
            EventKind::GrantFailed {
                error_code: Some("github_user_not_found".to_owned())
            }
        )
    );
}

#[test]
fn revoked_grants_keep_the_reason_as_sent() {
    let parsed = parse(Provider::Dodo, &meta(), "dodo/entitlement_grant.revoked.json").unwrap();
    assert_eq!(
        parsed.semantic_key.as_deref(),
        Some("entg_8sKd02LmQp:entitlement_grant.revoked")
    );
    assert_eq!(
        change(&parsed).event,
        grant_event(
            "entg_8sKd02LmQp",
            "2026-11-05T14:02:12Z",
            EventKind::Revoked {
                reason: Some("subscription_cancelled".to_owned())
            }
        )
    );
    let parsed = parse(
        Provider::Dodo,
        &meta(),
        "dodo/entitlement_grant.revoked.subscription_on_hold.json",
    )
    .unwrap();
    assert_eq!(
        change(&parsed).event,
        grant_event(
            "entg_8sKd02LmQp",
            "2026-11-06T00:00:05Z",
            EventKind::Revoked {
                reason: Some("subscription_on_hold".to_owned())
            }
        )
    );
}

fn sub_event(occurred_at: &str, product: &str, kind: EventKind) -> ProviderEvent {
    ProviderEvent {
        provider: Provider::Dodo,
        external_id: "sub_Rr8Tt7Yy6".to_owned(),
        occurred_at: at(occurred_at),
        subject: Some("cus_J7h6G5f4".to_owned()),
        product: Some(product.to_owned()),
        kind,
    }
}

#[test]
fn subscription_lifecycle() {
    let cases = [
        (
            "dodo/subscription.active.json",
            sub_event(
                "2026-10-05T14:02:12Z",
                "pdt_Pro0001",
                EventKind::Activated {
                    status: Some("active".to_owned()),
                    paid_through: Some(at("2026-11-05T14:02:11Z")),
                    cancel_at_period_end: Some(false),
                    features: vec![],
                },
            ),
        ),
        (
            "dodo/subscription.renewed.json",
            sub_event(
                "2026-11-05T14:02:15Z",
                "pdt_Pro0001",
                EventKind::Renewed {
                    paid_through: at("2026-12-05T14:02:11Z"),
                    status: Some("active".to_owned()),
                },
            ),
        ),
        (
            "dodo/subscription.on_hold.json",
            sub_event(
                "2026-11-05T14:05:00Z",
                "pdt_Pro0001",
                EventKind::Updated {
                    status: "on_hold".to_owned(),
                    paid_through: Some(at("2026-11-05T14:02:11Z")),
                    cancel_at_period_end: Some(false),
                },
            ),
        ),
        (
            "dodo/subscription.cancelled.json",
            sub_event(
                "2026-11-20T10:00:00Z",
                "pdt_Pro0001",
                EventKind::Deactivated {
                    reason: Some("cancelled".to_owned()),
                    status: Some("cancelled".to_owned()),
                    paid_through: Some(at("2026-12-05T14:02:11Z")),
                },
            ),
        ),
        (
            "dodo/subscription.plan_changed.json",
            sub_event(
                "2026-11-10T10:00:00Z",
                "pdt_Team0002",
                EventKind::Updated {
                    status: "active".to_owned(),
                    paid_through: Some(at("2026-12-05T14:02:11Z")),
                    cancel_at_period_end: Some(false),
                },
            ),
        ),
        (
            "dodo/subscription.expired.json",
            sub_event(
                "2026-12-05T14:02:20Z",
                "pdt_Pro0001",
                EventKind::Deactivated {
                    reason: Some("expired".to_owned()),
                    status: Some("expired".to_owned()),
                    paid_through: Some(at("2026-12-05T14:02:11Z")),
                },
            ),
        ),
    ];
    for (name, expected) in cases {
        let parsed = parse(Provider::Dodo, &meta(), name).unwrap();
        assert_eq!(parsed.semantic_key, None, "{name}");
        let change = change(&parsed);
        assert_eq!(change.event, expected, "{name}");
        assert_eq!(change.license_key, None, "{name}");
    }
}

#[test]
fn events_that_do_not_change_access_are_recorded() {
    let cases = [
        (
            "dodo/license_key.created.json",
            "license_key.created is recorded; entitlement grant events drive access",
        ),
        (
            "dodo/payment.succeeded.json",
            "not a grant or subscription event: recorded, access unchanged",
        ),
        (
            "dodo/subscription.update_payment_method.json",
            "subscription event that does not change access",
        ),
    ];
    for (name, reason) in cases {
        let parsed = parse(Provider::Dodo, &meta(), name).unwrap();
        assert_eq!(parsed.dedupe_key, "msg_dodo_1");
        assert_eq!(parsed.semantic_key, None);
        assert_eq!(parsed.outcome, Outcome::NotActedOn { reason }, "{name}");
    }
}

#[test]
fn a_dodo_delivery_needs_its_webhook_id() {
    let error = parse(
        Provider::Dodo,
        &DeliveryMeta::default(),
        "dodo/entitlement_grant.revoked.json",
    )
    .unwrap_err();
    assert_eq!(error, ParseError::MissingDeliveryId);
}
