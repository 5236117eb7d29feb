//! The Dodo deliveries `tollgate simulate` builds: [`DodoGrant`] bodies with fixture-like ids and fresh times.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::sample::DodoGrant;

/// The events the simulator can build.
pub(super) const EVENTS: &[&str] = &["entitlement_grant.delivered", "entitlement_grant.revoked"];

/// The body of `event` at `now` for grant `id` of `customer`, or `None` when there is no template for it.
pub(super) fn body(event: &str, now: DateTime<Utc>, id: &str, customer: &str) -> Option<Value> {
    let revoked = match event {
        "entitlement_grant.delivered" => false,
        "entitlement_grant.revoked" => true,
        _ => return None,
    };
    Some(
        DodoGrant {
            grant_id: id,
            customer_id: customer,
            subscription_id: "sub_Rr8Tt7Yy6",
            license_key: "2b1f8e2d-c41e-4e8f-b2d3-5131a7e00001",
            revoked,
            created: now - TimeDelta::days(1),
            at: now,
        }
        .body(),
    )
}
