//! A sample Dodo entitlement grant delivery body, shaped like the shared fixtures (`tests/fixtures/dodo/`), with every id and time a
//! parameter: `tollgate simulate` fills in fixture-like ids and the wall clock, the load bench (`bench/`) and the
//! tests fill in ids unique at volume. Used to make deliveries, never to read them.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::whop::sample::iso;

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
