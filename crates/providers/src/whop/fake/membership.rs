//! A membership in the fake's store, and how Whop writes it: the Current API's shapes (pinned and unpinned) and the
//! retired v2 shape that legacy webhooks still carry.

use serde_json::{Map, Value, json};

use super::{COMPANY_ID, SHAPE_SINCE};
use tollgate_testkit::{iso, now_unix};

/// One membership in the fake's store. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeMembership {
    pub id: String,
    pub license_key: String,
    pub status: String,
    pub user_id: String,
    pub product_id: String,
    pub plan_id: String,
    /// The membership's metadata (where Tollgate mirrors its binding); `{}` until something writes it.
    pub metadata: Map<String, Value>,
    pub cancel_at_period_end: bool,
    pub cancellation_reason: Option<String>,
    pub renewal_period_start: Option<i64>,
    pub renewal_period_end: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl FakeMembership {
    /// An `active` membership with a 30-day period starting now and no metadata.
    pub fn new(id: impl Into<String>, license_key: impl Into<String>) -> Self {
        let now = now_unix();
        FakeMembership {
            id: id.into(),
            license_key: license_key.into(),
            status: "active".to_owned(),
            user_id: "user_fake".to_owned(),
            product_id: "prod_fake".to_owned(),
            plan_id: "plan_fake".to_owned(),
            metadata: Map::new(),
            cancel_at_period_end: false,
            cancellation_reason: None,
            renewal_period_start: Some(now),
            renewal_period_end: Some(now + 30 * 86_400),
            created_at: now,
            updated_at: now,
        }
    }

    /// The same membership with this metadata already set (a key bound by an older integration, say).
    pub fn with_metadata(mut self, metadata: Value) -> Self {
        if let Value::Object(map) = metadata {
            self.metadata = map;
        }
        self
    }

    /// v2's `valid`: whether the status grants access (legacy webhooks carry it).
    pub fn valid(&self) -> bool {
        matches!(
            self.status.as_str(),
            "trialing" | "active" | "completed" | "past_due" | "canceling"
        )
    }

    /// The retired v2 `Membership` JSON (ids as strings, Unix-second times): what legacy webhooks still carry.
    pub fn v2_json(&self) -> Value {
        json!({
            "id": self.id, "product": self.product_id, "user": self.user_id, "plan": self.plan_id,
            "email": "customer@example.com", "status": self.status, "valid": self.valid(),
            "cancel_at_period_end": self.cancel_at_period_end, "payment_processor": "stripe",
            "license_key": self.license_key, "metadata": self.metadata, "quantity": 1, "expires_at": null,
            "renewal_period_start": self.renewal_period_start, "renewal_period_end": self.renewal_period_end,
            "created_at": self.created_at,
        })
    }

    /// The Current-API `Membership` as `version` (an `Api-Version-Date`, or `None` for unpinned) shapes it.
    pub fn json_for(&self, version: Option<&str>) -> Value {
        match version {
            Some(version) if version >= SHAPE_SINCE => self.pinned_json(),
            _ => self.v1_json(),
        }
    }

    /// The unpinned (original 2025-01-01) shape: nested objects, `renewal_period_end`, `company`.
    pub fn v1_json(&self) -> Value {
        let canceled_at = (self.status == "canceled").then(|| iso(self.updated_at));
        json!({
            "id": self.id, "status": self.status, "cancel_at_period_end": self.cancel_at_period_end,
            "canceled_at": canceled_at, "cancellation_reason": self.cancellation_reason,
            "created_at": iso(self.created_at), "updated_at": iso(self.updated_at),
            "joined_at": iso(self.created_at), "currency": "usd", "license_key": self.license_key,
            "member": {"id": format!("mber_{}", self.user_id)}, "metadata": self.metadata,
            "payment_collection_paused": false, "plan": {"id": self.plan_id, "metadata": null},
            "product": {"id": self.product_id, "title": "Fake Product", "metadata": null}, "promo_code": null,
            "renewal_period_start": self.renewal_period_start.map(iso),
            "renewal_period_end": self.renewal_period_end.map(iso),
            "user": {"id": self.user_id, "username": "fake", "name": "Fake User", "email": "customer@example.com"},
            "company": {"id": COMPANY_ID, "title": "Fake Co"},
        })
    }

    /// The pinned shape (whopsdk-rust `Membership`, 2026-09-15): flat ids, `current_period_end`, `account`, no
    /// `member` on seller-side reads.
    pub fn pinned_json(&self) -> Value {
        json!({
            "id": self.id, "status": self.status, "cancel_at_period_end": self.cancel_at_period_end,
            "created_at": iso(self.created_at), "current_period_end": self.renewal_period_end.map(iso),
            "license_key": self.license_key, "member": null, "metadata": self.metadata, "phone_number": null,
            "plan_id": self.plan_id, "product_id": self.product_id, "user_id": self.user_id,
            "account": {"id": COMPANY_ID, "title": "Fake Co"},
        })
    }
}
