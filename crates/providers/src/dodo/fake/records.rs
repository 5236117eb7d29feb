//! The fake Dodo's records: license keys with their instances, entitlement grants, subscriptions, and their JSON.

use serde_json::{Value, json};

use tollgate_testkit::{iso, now_unix};

/// A license key (`lic_...`) and its activated instances (`lki_...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeLicenseKey {
    pub id: String,
    pub key: String,
    /// `active`, `disabled` or `expired`.
    pub status: String,
    /// `None` = unlimited.
    pub activations_limit: Option<u32>,
    pub expires_at: Option<i64>,
    pub customer_id: String,
    pub product_id: String,
    /// `(instance id, name)`.
    pub instances: Vec<(String, String)>,
    pub created_at: i64,
}

impl FakeLicenseKey {
    pub fn new(id: impl Into<String>, key: impl Into<String>, activations_limit: Option<u32>) -> Self {
        FakeLicenseKey {
            id: id.into(),
            key: key.into(),
            status: "active".to_owned(),
            activations_limit,
            expires_at: None,
            customer_id: "cus_fake".to_owned(),
            product_id: "pdt_fake".to_owned(),
            instances: Vec::new(),
            created_at: now_unix(),
        }
    }

    pub(super) fn is_active(&self, now: i64) -> bool {
        self.status == "active" && self.expires_at.is_none_or(|t| t > now)
    }

    /// The `LicenseKey` object (`license_key.created` data).
    pub fn json(&self) -> Value {
        json!({
            "id": self.id, "business_id": "bus_fake", "brand_id": "bra_fake", "customer_id": self.customer_id,
            "product_id": self.product_id, "key": self.key, "status": self.status,
            "instances_count": self.instances.len(), "activations_limit": self.activations_limit,
            "expires_at": self.expires_at.map(iso), "payment_id": null, "subscription_id": null,
            "created_at": iso(self.created_at), "source": "auto",
        })
    }
}

/// An entitlement grant (`entg_...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeGrant {
    pub id: String,
    pub entitlement_id: String,
    pub customer_id: String,
    /// `Pending`, `Delivered`, `Failed`, `Revoked` (PascalCase, as the OpenAPI writes it).
    pub status: String,
    pub integration_type: String,
    /// The backing key's value, for `license_key` grants once delivered.
    pub license_key: Option<String>,
    pub revocation_reason: Option<String>,
    pub error_code: Option<String>,
    pub subscription_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl FakeGrant {
    /// A pending `license_key` grant without a key (the manual-fulfilment start).
    pub fn pending(
        id: impl Into<String>,
        entitlement_id: impl Into<String>,
        customer_id: impl Into<String>,
    ) -> Self {
        let now = now_unix();
        FakeGrant {
            id: id.into(),
            entitlement_id: entitlement_id.into(),
            customer_id: customer_id.into(),
            status: "Pending".to_owned(),
            integration_type: "license_key".to_owned(),
            license_key: None,
            revocation_reason: None,
            error_code: None,
            subscription_id: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// A subscription (`sub_...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeSubscription {
    pub subscription_id: String,
    /// `pending, active, on_hold, paused, cancelled, failed, expired`.
    pub status: String,
    pub customer_id: String,
    pub product_id: String,
    pub next_billing_date: i64,
    pub cancel_at_next_billing_date: bool,
    pub created_at: i64,
}

impl FakeSubscription {
    pub fn active(
        id: impl Into<String>,
        customer_id: impl Into<String>,
        product_id: impl Into<String>,
    ) -> Self {
        let now = now_unix();
        FakeSubscription {
            subscription_id: id.into(),
            status: "active".to_owned(),
            customer_id: customer_id.into(),
            product_id: product_id.into(),
            next_billing_date: now + 30 * 86_400,
            cancel_at_next_billing_date: false,
            created_at: now,
        }
    }

    pub fn json(&self) -> Value {
        json!({
            "subscription_id": self.subscription_id, "status": self.status, "product_id": self.product_id,
            "customer": {"customer_id": self.customer_id, "email": "customer@example.com", "name": "Fake Customer"},
            "next_billing_date": iso(self.next_billing_date), "previous_billing_date": iso(self.created_at),
            "cancel_at_next_billing_date": self.cancel_at_next_billing_date, "created_at": iso(self.created_at),
            "metadata": {}, "quantity": 1, "payment_frequency_interval": "Month",
        })
    }
}
