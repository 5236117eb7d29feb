//! A sample Aghanim subscription delivery body, shaped like the shared fixtures (`tests/fixtures/aghanim/`), with every id and time a
//! parameter: `tollgate simulate` fills in fixture-like ids and the wall clock, the load bench (`bench/`) and the
//! tests fill in ids unique at volume. Used to make deliveries, never to read them.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

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
    use crate::dodo::sample::DodoGrant;
    use crate::whop::sample::iso;

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
}
