//! A Whop membership as the API returns it: v2 (`validate_license`, retrieve, update) or v1 (list, retrieve).
//! Read field by field and tolerantly, since every field is optional in the OpenAPI.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tollgate_policy::{EventKind, Provider, ProviderEvent};

use crate::error::ParseError;
use crate::payload::Obj;
use crate::webhook::LicenseKey;

/// The membership fields Tollgate uses. Ids come from plain strings or expanded objects alike.
#[derive(Debug, Clone, PartialEq)]
pub struct WhopMembership {
    /// `mem_...`
    pub id: String,
    /// The raw status (`active`, `canceling`, `past_due`, ...).
    pub status: Option<String>,
    /// v2 only: whether the status grants access, according to Whop.
    pub valid: Option<bool>,
    pub cancel_at_period_end: Option<bool>,
    pub user_id: Option<String>,
    pub product_id: Option<String>,
    pub plan_id: Option<String>,
    pub license_key: Option<LicenseKey>,
    /// The bound metadata (`{"HWID": ...}`), `{}` when unbound.
    pub metadata: Value,
    pub renewal_period_end: Option<DateTime<Utc>>,
    /// v2 only.
    pub expires_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl WhopMembership {
    pub(crate) fn from_json(value: &Value) -> Result<WhopMembership, ParseError> {
        let data = Obj::root(value)?;
        let product = match data.id_of("product")? {
            Some(product) => Some(product),
            None => match data.str("product_id")? {
                Some(product) => Some(product),
                None => data.id_of("access_pass")?,
            },
        };
        Ok(WhopMembership {
            id: data.req_str("id")?.to_owned(),
            status: data.string("status")?,
            valid: data.bool("valid")?,
            cancel_at_period_end: data.bool("cancel_at_period_end")?,
            user_id: data.id_of("user")?.map(str::to_owned),
            product_id: product.map(str::to_owned),
            plan_id: data.id_of("plan")?.map(str::to_owned),
            license_key: data.string("license_key")?.map(LicenseKey::new),
            metadata: data
                .get("metadata")
                .cloned()
                .unwrap_or_else(|| Value::Object(serde_json::Map::new())),
            renewal_period_end: data.time("renewal_period_end")?,
            expires_at: data.time("expires_at")?,
            updated_at: data.time("updated_at")?,
        })
    }

    /// The membership as a reconciliation snapshot: an `Updated` event carrying the raw status, the paid-through
    /// time and the cancel flag, observed at `observed_at`. `None` without a status (nothing to repair from).
    pub fn snapshot_event(&self, observed_at: DateTime<Utc>) -> Option<ProviderEvent> {
        let status = self.status.clone()?;
        Some(ProviderEvent {
            provider: Provider::Whop,
            external_id: self.id.clone(),
            occurred_at: observed_at,
            subject: self.user_id.clone(),
            product: self.product_id.clone(),
            kind: EventKind::Updated {
                status,
                paid_through: self.renewal_period_end.or(self.expires_at),
                cancel_at_period_end: self.cancel_at_period_end,
            },
        })
    }
}
