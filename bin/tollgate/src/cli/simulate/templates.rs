//! Realistic webhook bodies for the simulator, shaped like the shared fixtures (and the providers' documented
//! payloads), with fresh ids and times so each one is a new delivery that applies now.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{Value, json};
use tollgate_policy::Provider;

/// The events the simulator can build, per provider.
pub const EVENTS: [(Provider, &str); 7] = [
    (Provider::Whop, "membership.activated"),
    (Provider::Whop, "membership.deactivated"),
    (Provider::Whop, "membership.cancel_at_period_end_changed"),
    (Provider::Dodo, "entitlement_grant.delivered"),
    (Provider::Dodo, "entitlement_grant.revoked"),
    (Provider::Aghanim, "subscription.activated"),
    (Provider::Aghanim, "subscription.deactivated"),
];

/// A built delivery body and whom it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulated {
    pub body: Value,
    pub external_id: String,
    pub subject: String,
}

/// The ids a template uses unless told otherwise.
pub fn default_ids(provider: Provider) -> (&'static str, &'static str) {
    match provider {
        Provider::Whop => ("mem_7Hq2LwZp0aXkR1", "user_Zx9Yw8Vu7"),
        Provider::Dodo => ("entg_8sKd02LmQp", "cus_J7h6G5f4"),
        Provider::Aghanim => ("sub_kMnoPqRsTuV", "2D2R-OP3C"),
    }
}

/// The event's body at `now`, or `None` when there is no template for it. `unique` makes the delivery's own ids
/// (envelope id, Aghanim event id and idempotency key) new.
pub fn build(
    provider: Provider,
    event: &str,
    now: DateTime<Utc>,
    external_id: Option<&str>,
    subject: Option<&str>,
    unique: &str,
) -> Option<Simulated> {
    let (default_external, default_subject) = default_ids(provider);
    let external_id = external_id.unwrap_or(default_external).to_owned();
    let subject = subject.unwrap_or(default_subject).to_owned();
    let body = match (provider, event) {
        (Provider::Whop, "membership.activated") => {
            whop(event, now, &external_id, &subject, unique, WhopState::Active)
        }
        (Provider::Whop, "membership.deactivated") => {
            whop(event, now, &external_id, &subject, unique, WhopState::Canceled)
        }
        (Provider::Whop, "membership.cancel_at_period_end_changed") => {
            whop(event, now, &external_id, &subject, unique, WhopState::Canceling)
        }
        (Provider::Dodo, "entitlement_grant.delivered") => dodo(event, now, &external_id, &subject, false),
        (Provider::Dodo, "entitlement_grant.revoked") => dodo(event, now, &external_id, &subject, true),
        (Provider::Aghanim, "subscription.activated") => {
            aghanim(event, now, &external_id, &subject, unique, false)
        }
        (Provider::Aghanim, "subscription.deactivated") => {
            aghanim(event, now, &external_id, &subject, unique, true)
        }
        _ => return None,
    };
    Some(Simulated {
        body,
        external_id,
        subject,
    })
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WhopState {
    Active,
    Canceling,
    Canceled,
}

fn whop(event: &str, now: DateTime<Utc>, id: &str, user: &str, unique: &str, state: WhopState) -> Value {
    let start = now - TimeDelta::days(1);
    let (status, cancel_at_period_end, canceled_at, reason, period_end) = match state {
        WhopState::Active => (
            "active",
            false,
            Value::Null,
            Value::Null,
            now + TimeDelta::days(30),
        ),
        WhopState::Canceling => (
            "canceling",
            true,
            Value::Null,
            Value::Null,
            now + TimeDelta::days(30),
        ),
        WhopState::Canceled => ("canceled", false, json!(iso(now)), json!("customer_request"), now),
    };
    json!({
        "id": format!("msg_{unique}"),
        "api_version": "v1",
        "timestamp": iso(now),
        "type": event,
        "data": {
            "id": id,
            "status": status,
            "cancel_at_period_end": cancel_at_period_end,
            "canceled_at": canceled_at,
            "cancellation_reason": reason,
            "created_at": iso(start),
            "updated_at": iso(now),
            "joined_at": iso(start),
            "currency": "usd",
            "license_key": "TGL-SIMUL-4F7K2-9QXM3-77ZAB",
            "manage_url": format!("https://whop.com/orders/{id}/manage"),
            "member": { "id": "mber_Ab12Cd34Ef56" },
            "metadata": {},
            "payment_collection_paused": false,
            "plan": { "id": "plan_Mth9kQ2", "metadata": null },
            "product": { "id": "prod_Desk42xY", "title": "Deskpad Pro", "metadata": null },
            "promo_code": null,
            "renewal_period_start": iso(start),
            "renewal_period_end": iso(period_end),
            "user": { "id": user, "username": "mira", "name": "Mira K", "email": "mira@example.com" },
            "company": { "id": "biz_Qw3Er4Ty5", "title": "Deskpad Labs" },
            "custom_field_responses": [],
            "checkout_configuration_id": null
        },
        "company_id": "biz_Qw3Er4Ty5"
    })
}

fn dodo(event: &str, now: DateTime<Utc>, id: &str, customer: &str, revoked: bool) -> Value {
    let created = now - TimeDelta::days(1);
    json!({
        "business_id": "bus_P4nX0qR2",
        "type": event,
        "timestamp": iso(now),
        "data": {
            "id": id,
            "business_id": "bus_P4nX0qR2",
            "brand_id": "bra_Z1y2X3",
            "customer_id": customer,
            "entitlement_id": "ent_LicPro01",
            "integration_type": "license_key",
            "status": if revoked { "Revoked" } else { "Delivered" },
            "metadata": {},
            "created_at": iso(created),
            "updated_at": iso(now),
            "delivered_at": iso(created),
            "revoked_at": if revoked { json!(iso(now)) } else { Value::Null },
            "revocation_reason": if revoked { json!("subscription_cancelled") } else { Value::Null },
            "error_code": null,
            "error_message": null,
            "payment_id": null,
            "subscription_id": "sub_Rr8Tt7Yy6",
            "oauth_url": null,
            "oauth_expires_at": null,
            "license_key": {
                "key": "2b1f8e2d-c41e-4e8f-b2d3-5131a7e00001",
                "activations_used": 0,
                "activations_limit": 3,
                "expires_at": null
            },
            "digital_product_delivery": null,
            "payload_type": "EntitlementGrant"
        }
    })
}

fn aghanim(event: &str, now: DateTime<Utc>, id: &str, player: &str, unique: &str, ended: bool) -> Value {
    let ts = now.timestamp();
    let until = if ended { ts } else { ts + 30 * 86_400 };
    json!({
        "event_type": event,
        "event_data": {
            "id": id,
            "sku": "battle_pass",
            "name": "Battle Pass",
            "nested_items": [{
                "id": "itm_zzzzzzz",
                "name": "Exclusive Skin",
                "description": "Subscriber-only skin",
                "sku": "exclusive_skin_001",
                "quantity": 1,
                "type": "item"
            }],
            "order_id": "ord_eCacpFwavzi",
            "user_id": "usr_eymySUreClx",
            "player_id": player,
            "amount": 999,
            "amount_decimal": 9.99,
            "currency": "USD",
            "payment_method": "cards",
            "status": if ended { "expired" } else { "active" },
            "due_at": until,
            "created_at": ts - 86_400,
            "plan": {
                "key": "battle_pass_monthly",
                "name": "Battle Pass Monthly",
                "amount": 999,
                "amount_decimal": 9.99,
                "currency": "USD",
                "offer": null,
                "cycle_period": 30,
                "grace_period": 3,
                "trial_period": 0,
                "nested_items": []
            },
            "effective_until": until,
            "trial_due_at": null,
            "paid_due_at": until,
            "updated_at": ts,
            "metadata": { "tier": "premium" }
        },
        "event_time": ts,
        "event_id": format!("whevt_{unique}"),
        "idempotency_key": format!("idmpt_{unique}"),
        "request_id": null,
        "sandbox": false,
        "trigger": event,
        "transaction_id": format!("whtx_{unique}"),
        "context": null,
        "game_id": "gm_exTAyxPsVwh"
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn every_listed_event_has_a_template_and_others_do_not() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        for (provider, event) in EVENTS {
            let built = build(provider, event, now, None, None, "u1").unwrap();
            assert_eq!(built.external_id, default_ids(provider).0);
            let text = built.body.to_string();
            assert!(text.contains(event), "{provider} {event}");
        }
        assert_eq!(
            build(Provider::Whop, "payment.succeeded", now, None, None, "u1"),
            None
        );
        assert_eq!(
            build(Provider::Dodo, "membership.activated", now, None, None, "u1"),
            None
        );
    }

    #[test]
    fn ids_and_times_are_filled_in() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        let built = build(
            Provider::Whop,
            "membership.activated",
            now,
            Some("mem_x"),
            Some("user_y"),
            "abc",
        )
        .unwrap();
        assert_eq!(built.body["id"], "msg_abc");
        assert_eq!(built.body["data"]["id"], "mem_x");
        assert_eq!(built.body["data"]["user"]["id"], "user_y");
        assert_eq!(built.body["timestamp"], "2026-11-22T12:00:00.000Z");
        assert_eq!(
            built.body["data"]["renewal_period_end"],
            "2026-12-22T12:00:00.000Z"
        );
        let built = build(
            Provider::Aghanim,
            "subscription.deactivated",
            now,
            None,
            None,
            "abc",
        )
        .unwrap();
        assert_eq!(built.body["event_time"], now.timestamp());
        assert_eq!(built.body["event_data"]["effective_until"], now.timestamp());
        assert_eq!(built.body["idempotency_key"], "idmpt_abc");
    }
}
