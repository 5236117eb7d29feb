//! Realistic webhook bodies, shaped like the shared fixtures (Whop v1 membership envelope, Dodo entitlement grant,
//! Aghanim subscription), with every id and time a parameter: the simulator fills in fixture-like ids and the
//! wall clock, the load bench fills in ids unique at volume.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{Value, json};

/// RFC 3339 with milliseconds and `Z`, as the providers write times.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A Whop v1 `membership.*` delivery (Standard Webhooks envelope), as in `fixtures/whop/membership.activated.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhopMembership<'a> {
    /// The envelope `id` (the delivery's `webhook-id`).
    pub webhook_id: &'a str,
    pub event_type: &'a str,
    pub membership_id: &'a str,
    pub user_id: &'a str,
    pub member_id: &'a str,
    pub license_key: &'a str,
    pub status: &'a str,
    pub cancel_at_period_end: bool,
    pub canceled_at: Option<DateTime<Utc>>,
    pub cancellation_reason: Option<&'a str>,
    /// `created_at`, `joined_at` and `renewal_period_start`.
    pub start: DateTime<Utc>,
    /// `renewal_period_end`.
    pub period_end: DateTime<Utc>,
    /// The envelope `timestamp` and `updated_at`.
    pub at: DateTime<Utc>,
}

impl WhopMembership<'_> {
    pub fn body(&self) -> Value {
        json!({
            "id": self.webhook_id,
            "api_version": "v1",
            "timestamp": iso(self.at),
            "type": self.event_type,
            "data": {
                "id": self.membership_id,
                "status": self.status,
                "cancel_at_period_end": self.cancel_at_period_end,
                "canceled_at": self.canceled_at.map(iso),
                "cancellation_reason": self.cancellation_reason,
                "created_at": iso(self.start),
                "updated_at": iso(self.at),
                "joined_at": iso(self.start),
                "currency": "usd",
                "license_key": self.license_key,
                "manage_url": format!("https://whop.com/orders/{}/manage", self.membership_id),
                "member": { "id": self.member_id },
                "metadata": {},
                "payment_collection_paused": false,
                "plan": { "id": "plan_Mth9kQ2", "metadata": null },
                "product": { "id": "prod_Desk42xY", "title": "Deskpad Pro", "metadata": null },
                "promo_code": null,
                "renewal_period_start": iso(self.start),
                "renewal_period_end": iso(self.period_end),
                "user": { "id": self.user_id, "username": "mira", "name": "Mira K", "email": "mira@example.com" },
                "company": { "id": "biz_Qw3Er4Ty5", "title": "Deskpad Labs" },
                "custom_field_responses": [],
                "checkout_configuration_id": null
            },
            "company_id": "biz_Qw3Er4Ty5"
        })
    }
}

/// A Dodo `entitlement_grant.delivered` (or, when `revoked`, `.revoked`) delivery, as in `fixtures/dodo/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DodoGrant<'a> {
    pub grant_id: &'a str,
    pub customer_id: &'a str,
    pub subscription_id: &'a str,
    pub license_key: &'a str,
    pub revoked: bool,
    /// `created_at` and `delivered_at`.
    pub created: DateTime<Utc>,
    /// The `timestamp`, `updated_at` and (revoked) `revoked_at`.
    pub at: DateTime<Utc>,
}

impl DodoGrant<'_> {
    pub fn body(&self) -> Value {
        let revoked = self.revoked;
        json!({
            "business_id": "bus_P4nX0qR2",
            "type": if revoked { "entitlement_grant.revoked" } else { "entitlement_grant.delivered" },
            "timestamp": iso(self.at),
            "data": {
                "id": self.grant_id,
                "business_id": "bus_P4nX0qR2",
                "brand_id": "bra_Z1y2X3",
                "customer_id": self.customer_id,
                "entitlement_id": "ent_LicPro01",
                "integration_type": "license_key",
                "status": if revoked { "Revoked" } else { "Delivered" },
                "metadata": {},
                "created_at": iso(self.created),
                "updated_at": iso(self.at),
                "delivered_at": iso(self.created),
                "revoked_at": if revoked { json!(iso(self.at)) } else { Value::Null },
                "revocation_reason": if revoked { json!("subscription_cancelled") } else { Value::Null },
                "error_code": null,
                "error_message": null,
                "payment_id": null,
                "subscription_id": self.subscription_id,
                "oauth_url": null,
                "oauth_expires_at": null,
                "license_key": {
                    "key": self.license_key,
                    "activations_used": 0,
                    "activations_limit": 3,
                    "expires_at": null
                },
                "digital_product_delivery": null,
                "payload_type": "EntitlementGrant"
            }
        })
    }
}

/// An Aghanim `subscription.activated` (or, when `ended`, `.deactivated`) delivery, as in `fixtures/aghanim/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AghanimSubscription<'a> {
    pub subscription_id: &'a str,
    pub order_id: &'a str,
    pub user_id: &'a str,
    pub player_id: &'a str,
    pub ended: bool,
    /// Makes the delivery's own ids: `whevt_<unique>`, `idmpt_<unique>` (the dedupe key), `whtx_<unique>`.
    pub unique: &'a str,
    pub created: DateTime<Utc>,
    /// The event time and `updated_at`; paid until 30 days later, or until `at` when `ended`.
    pub at: DateTime<Utc>,
}

impl AghanimSubscription<'_> {
    pub fn body(&self) -> Value {
        let at = self.at.timestamp();
        let until = if self.ended {
            at
        } else {
            (self.at + TimeDelta::days(30)).timestamp()
        };
        let event = if self.ended {
            "subscription.deactivated"
        } else {
            "subscription.activated"
        };
        let unique = self.unique;
        json!({
            "event_type": event,
            "event_data": {
                "id": self.subscription_id,
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
                "order_id": self.order_id,
                "user_id": self.user_id,
                "player_id": self.player_id,
                "amount": 999,
                "amount_decimal": 9.99,
                "currency": "USD",
                "payment_method": "cards",
                "status": if self.ended { "expired" } else { "active" },
                "due_at": until,
                "created_at": self.created.timestamp(),
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
                "updated_at": at,
                "metadata": { "tier": "premium" }
            },
            "event_time": at,
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn a_revoked_grant_and_an_ended_subscription_say_so_at_their_time() {
        let grant = DodoGrant {
            grant_id: "entg_1",
            customer_id: "cus_1",
            subscription_id: "sub_1",
            license_key: "key-1",
            revoked: true,
            created: t(0),
            at: t(60),
        }
        .body();
        assert_eq!(grant["type"], "entitlement_grant.revoked");
        assert_eq!(grant["data"]["revoked_at"], iso(t(60)));
        assert_eq!(grant["data"]["delivered_at"], iso(t(0)));
        assert_eq!(grant["data"]["license_key"]["key"], "key-1");

        let live = AghanimSubscription {
            subscription_id: "sub_2",
            order_id: "ord_2",
            user_id: "usr_2",
            player_id: "P2",
            ended: false,
            unique: "u2",
            created: t(0),
            at: t(60),
        };
        assert_eq!(
            live.body()["event_data"]["effective_until"],
            t(60 + 30 * 86_400).timestamp()
        );
        assert_eq!(live.body()["trigger"], "subscription.activated");
        let ended = AghanimSubscription { ended: true, ..live }.body();
        assert_eq!(ended["event_data"]["effective_until"], t(60).timestamp());
        assert_eq!(ended["idempotency_key"], "idmpt_u2");
    }

    #[test]
    fn a_canceled_membership_carries_its_cancellation() {
        let body = WhopMembership {
            webhook_id: "msg_1",
            event_type: "membership.deactivated",
            membership_id: "mem_1",
            user_id: "user_1",
            member_id: "mber_1",
            license_key: "KEY-1",
            status: "canceled",
            cancel_at_period_end: false,
            canceled_at: Some(t(60)),
            cancellation_reason: Some("customer_request"),
            start: t(0),
            period_end: t(60),
            at: t(60),
        }
        .body();
        assert_eq!(body["data"]["canceled_at"], "2027-01-15T08:01:00.000Z");
        assert_eq!(body["data"]["cancellation_reason"], "customer_request");
        assert_eq!(body["data"]["manage_url"], "https://whop.com/orders/mem_1/manage");
        assert_eq!(body["data"]["renewal_period_start"], iso(t(0)));
    }
}
