//! A Whop membership as the Current API returns it, in the pinned version's shape or the unpinned one, read field by
//! field and tolerantly:
//!
//! | fact | pinned (2026-09-15, whopsdk-rust `Membership`) | unpinned (2025-01-01) and v1 webhooks |
//! |---|---|---|
//! | paid through | `current_period_end` | `renewal_period_end` |
//! | seller | `account{id}` | `company{id}` (webhook envelope: `account_id` / `company_id`) |
//! | product, plan, buyer | `product_id`, `plan_id`, `user_id` | `product{id}`, `plan{id}`, `user{id}` |
//!
//! Times are ISO-8601 strings or Unix seconds. There is no `valid` flag: access comes from `status`.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use tollgate_policy::{EventKind, Provider, ProviderEvent};

use crate::error::ParseError;
use crate::payload::Obj;
use crate::webhook::LicenseKey;

/// The membership fields Tollgate uses.
#[derive(Debug, Clone, PartialEq)]
pub struct WhopMembership {
    /// `mem_...`
    pub id: String,
    /// The raw status (`active`, `canceling`, `past_due`, ...).
    pub status: Option<String>,
    pub cancel_at_period_end: Option<bool>,
    pub user_id: Option<String>,
    pub product_id: Option<String>,
    pub plan_id: Option<String>,
    /// The seller: `account.id`, `company.id`, `account_id` or `company_id` (`biz_...`).
    pub account_id: Option<String>,
    pub license_key: Option<LicenseKey>,
    /// The membership's metadata (where Tollgate mirrors its device binding); empty when absent or not an object.
    pub metadata: Map<String, Value>,
    /// `current_period_end`, else `renewal_period_end`, else `expires_at`.
    pub paid_through: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl WhopMembership {
    pub(crate) fn from_json(value: &Value) -> Result<WhopMembership, ParseError> {
        let data = Obj::root(value)?;
        Ok(WhopMembership {
            id: data.req_str("id")?.to_owned(),
            status: data.string("status")?,
            cancel_at_period_end: data.bool("cancel_at_period_end")?,
            user_id: id_or(&data, "user", "user_id")?,
            product_id: match id_or(&data, "product", "product_id")? {
                Some(product) => Some(product),
                None => data.id_of("access_pass")?.map(str::to_owned),
            },
            plan_id: id_or(&data, "plan", "plan_id")?,
            account_id: match id_or(&data, "account", "account_id")? {
                Some(account) => Some(account),
                None => id_or(&data, "company", "company_id")?,
            },
            license_key: data.string("license_key")?.map(LicenseKey::new),
            metadata: match data.get("metadata") {
                Some(Value::Object(map)) => map.clone(),
                _ => Map::new(),
            },
            paid_through: paid_through(&data)?,
            updated_at: data.time("updated_at")?,
        })
    }

    /// The membership as an `Updated` event carrying the raw status, the paid-through time and the cancel flag,
    /// observed at `observed_at` (a look-up, or a reconciliation snapshot). `None` without a status.
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
                paid_through: self.paid_through,
                cancel_at_period_end: self.cancel_at_period_end,
            },
        })
    }
}

/// `<object>.id` (expanded, or a plain id string), else the flat `<field>`.
fn id_or(data: &Obj<'_>, object: &str, field: &str) -> Result<Option<String>, ParseError> {
    Ok(match data.id_of(object)? {
        Some(id) => Some(id.to_owned()),
        None => data.string(field)?,
    })
}

/// The paid-through time in any version's name for it.
pub(crate) fn paid_through(data: &Obj<'_>) -> Result<Option<DateTime<Utc>>, ParseError> {
    for field in ["current_period_end", "renewal_period_end", "expires_at"] {
        if let Some(at) = data.time(field)? {
            return Ok(Some(at));
        }
    }
    Ok(None)
}
