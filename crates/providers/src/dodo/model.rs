//! Dodo API objects: license-key instances, entitlement grants and subscriptions.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tollgate_policy::{EventKind, Provider, ProviderEvent};

use crate::error::ParseError;
use crate::payload::Obj;
use crate::webhook::LicenseKey;

/// A license-key instance (`lki_...`): returned by `POST /licenses/activate` (with `customer` and `product`) and by
/// `GET /license_key_instances[/{id}]` (`LicenseKeyInstanceResponse`: `id, business_id, name, license_key_id,
/// created_at`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DodoInstance {
    pub id: String,
    /// `lic_...`
    pub license_key_id: Option<String>,
    pub name: Option<String>,
    pub customer_id: Option<String>,
    pub product_id: Option<String>,
}

impl DodoInstance {
    pub(crate) fn from_json(value: &Value) -> Result<DodoInstance, ParseError> {
        let data = Obj::root(value)?;
        let customer_id = match data.obj("customer")? {
            Some(customer) => customer.string("customer_id")?,
            None => None,
        };
        let product_id = match data.obj("product")? {
            Some(product) => product.string("product_id")?,
            None => None,
        };
        Ok(DodoInstance {
            id: data.req_str("id")?.to_owned(),
            license_key_id: data.string("license_key_id")?,
            name: data.string("name")?,
            customer_id,
            product_id,
        })
    }
}

/// An entitlement grant (`entg_...`), as listed by `GET /entitlements/{id}/grants`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DodoGrant {
    pub id: String,
    /// `Pending`, `Delivered`, `Failed`, `Revoked` (compared case-insensitively).
    pub status: Option<String>,
    pub customer_id: Option<String>,
    pub entitlement_id: Option<String>,
    pub license_key: Option<LicenseKey>,
    pub key_expires_at: Option<DateTime<Utc>>,
    pub revocation_reason: Option<String>,
    pub error_code: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl DodoGrant {
    pub(crate) fn from_json(value: &Value) -> Result<DodoGrant, ParseError> {
        let data = Obj::root(value)?;
        let (license_key, key_expires_at) = match data.obj("license_key")? {
            Some(key) => (key.string("key")?.map(LicenseKey::new), key.time("expires_at")?),
            None => (None, None),
        };
        Ok(DodoGrant {
            id: data.req_str("id")?.to_owned(),
            status: data.string("status")?,
            customer_id: data.string("customer_id")?,
            entitlement_id: data.string("entitlement_id")?,
            license_key,
            key_expires_at,
            revocation_reason: data.string("revocation_reason")?,
            error_code: data.string("error_code")?,
            updated_at: data.time("updated_at")?,
        })
    }

    /// The grant's status as an event, observed at `observed_at`: the same kinds its webhooks produce.
    /// `None` for an unknown status.
    pub fn snapshot_event(&self, observed_at: DateTime<Utc>) -> Option<ProviderEvent> {
        let kind = match self.status.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("pending") => EventKind::GrantPending,
            Some("delivered") => EventKind::GrantDelivered {
                paid_through: self.key_expires_at,
                features: Vec::new(),
            },
            Some("failed") => EventKind::GrantFailed {
                error_code: self.error_code.clone(),
            },
            Some("revoked") => EventKind::Revoked {
                reason: self.revocation_reason.clone(),
            },
            _ => return None,
        };
        Some(ProviderEvent {
            provider: Provider::Dodo,
            external_id: self.id.clone(),
            occurred_at: observed_at,
            subject: self.customer_id.clone(),
            product: self.entitlement_id.clone(),
            kind,
        })
    }
}

/// A subscription (`sub_...`), as listed by `GET /subscriptions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DodoSubscription {
    pub subscription_id: String,
    /// `pending, active, on_hold, paused, cancelled, failed, expired`, kept raw.
    pub status: Option<String>,
    pub customer_id: Option<String>,
    pub product_id: Option<String>,
    pub next_billing_date: Option<DateTime<Utc>>,
    pub cancel_at_next_billing_date: Option<bool>,
}

impl DodoSubscription {
    pub(crate) fn from_json(value: &Value) -> Result<DodoSubscription, ParseError> {
        let data = Obj::root(value)?;
        let customer_id = match data.obj("customer")? {
            Some(customer) => customer.string("customer_id")?,
            None => data.string("customer_id")?,
        };
        Ok(DodoSubscription {
            subscription_id: data.req_str("subscription_id")?.to_owned(),
            status: data.string("status")?,
            customer_id,
            product_id: data.string("product_id")?,
            next_billing_date: data.time("next_billing_date")?,
            cancel_at_next_billing_date: data.bool("cancel_at_next_billing_date")?,
        })
    }

    /// The subscription as a reconciliation snapshot (`Updated` with the raw status). `None` without a status.
    pub fn snapshot_event(&self, observed_at: DateTime<Utc>) -> Option<ProviderEvent> {
        Some(ProviderEvent {
            provider: Provider::Dodo,
            external_id: self.subscription_id.clone(),
            occurred_at: observed_at,
            subject: self.customer_id.clone(),
            product: self.product_id.clone(),
            kind: EventKind::Updated {
                status: self.status.clone()?,
                paid_through: self.next_billing_date,
                cancel_at_period_end: self.cancel_at_next_billing_date,
            },
        })
    }
}
