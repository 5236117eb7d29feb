//! A sample Whop v1 `membership.*` delivery body, shaped like the shared fixtures (`tests/fixtures/whop/membership.activated.json`), with every id and time a
//! parameter: `tollgate simulate` fills in fixture-like ids and the wall clock, the load bench (`bench/`) and the
//! tests fill in ids unique at volume. Used to make deliveries, never to read them.

use chrono::{DateTime, SecondsFormat, Utc};
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

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
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
