//! Read-only lookups for the service API, the admin API and the CLI: a subject's entitlements with their access
//! decisions, one entitlement with its devices and audit trail, the webhook inbox, and the effective policy.
//!
//! Blocking: the HTTP layer calls it inside `web::block`. Every view is `Serialize`; the CLI prints the same JSON.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tollgate_policy::{Policy, PolicySet, Provider};
use tollgate_store::{
    AuditEntry, Device, Entitlement, EntitlementId, InboxEvent, InboxFilter, InboxId, InboxStatus, Store,
    StoreError,
};

use crate::clock::Clock;
use crate::view::{EntitlementView, policy_for};

/// How many audit rows an entitlement lookup shows (newest last, as the store returns them).
pub const AUDIT_LIMIT: u32 = 200;

/// The largest inbox page.
pub const MAX_INBOX_PAGE: u32 = 500;

/// The lookups, over one store and the configured policy. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Query {
    store: Store,
    policies: Arc<PolicySet>,
    clock: Arc<dyn Clock>,
}

/// One entitlement with everything an operator needs to understand it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntitlementDetail {
    #[serde(flatten)]
    pub entitlement: EntitlementView,
    /// The effective policy that decided `access`.
    pub policy: Policy,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the provider was last consulted about it (reconciliation, revalidation).
    pub synced_at: Option<DateTime<Utc>>,
    pub devices: Vec<DeviceView>,
    pub audit: Vec<AuditView>,
}

/// An activated device. The hwid is never shown, not even hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceView {
    pub id: String,
    pub name: Option<String>,
    pub activated_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub provider_instance_id: Option<String>,
}

impl From<&Device> for DeviceView {
    fn from(device: &Device) -> Self {
        DeviceView {
            id: device.id.to_string(),
            name: device.name.clone(),
            activated_at: device.activated_at,
            last_seen_at: device.last_seen_at,
            provider_instance_id: device.provider_instance_id.clone(),
        }
    }
}

/// One audit row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditView {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: &'static str,
    pub action: String,
    pub detail: Option<String>,
    pub device_id: Option<String>,
    pub inbox_id: Option<i64>,
}

impl From<&AuditEntry> for AuditView {
    fn from(entry: &AuditEntry) -> Self {
        AuditView {
            id: entry.id,
            at: entry.at,
            actor: entry.actor.as_str(),
            action: entry.action.clone(),
            detail: entry.detail.clone(),
            device_id: entry.device_id.as_ref().map(ToString::to_string),
            inbox_id: entry.inbox_id.map(|id| id.0),
        }
    }
}

/// One stored webhook delivery. `body` is present only when asked for (the admin's single-event lookup).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InboxItem {
    pub id: i64,
    pub provider: Provider,
    pub event_type: String,
    pub status: &'static str,
    pub dedupe_key: String,
    pub semantic_key: Option<String>,
    pub webhook_id: Option<String>,
    pub signed_at: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub entitlement_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

impl InboxItem {
    /// The metadata of `event`, and its decrypted body when `with_body` (as JSON, or as text if it is not JSON).
    pub fn new(event: &InboxEvent, with_body: bool) -> Self {
        let body = with_body.then(|| {
            serde_json::from_slice(&event.body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&event.body).into_owned()))
        });
        InboxItem {
            id: event.id.0,
            provider: event.provider,
            event_type: event.event_type.clone(),
            status: event.status.as_str(),
            dedupe_key: event.dedupe_key.clone(),
            semantic_key: event.semantic_key.clone(),
            webhook_id: event.webhook_id.clone(),
            signed_at: event.signed_at,
            received_at: event.received_at,
            processed_at: event.processed_at,
            attempts: event.attempts,
            last_error: event.last_error.clone(),
            entitlement_id: event.entitlement_id.as_ref().map(ToString::to_string),
            body,
        }
    }
}

/// The configured policy: the default, each product rule as written, and what each rule resolves to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyView {
    pub default: Policy,
    pub products: Vec<ProductPolicyView>,
}

/// One product rule and the effective policy it gives.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProductPolicyView {
    pub provider: Provider,
    pub product: String,
    pub effective: Policy,
}

/// How many inbox events wait: `received` (stored, not yet settled) and `failed` (to replay).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct InboxBacklog {
    pub received: u64,
    pub failed: u64,
}

impl Query {
    pub fn new(store: Store, policies: Arc<PolicySet>, clock: Arc<dyn Clock>) -> Query {
        Query {
            store,
            policies,
            clock,
        }
    }

    /// A subject's entitlements at one provider, oldest first, each with its access decision now.
    pub fn entitlements_of(
        &self,
        provider: Provider,
        subject: &str,
    ) -> Result<Vec<EntitlementView>, StoreError> {
        let now = self.clock.now();
        Ok(self
            .store
            .list_entitlements_by_subject(provider, subject)?
            .iter()
            .map(|e| EntitlementView::new(e, &self.policies, now))
            .collect())
    }

    /// One entitlement by the provider's id, with its devices and audit trail.
    pub fn find_entitlement(
        &self,
        provider: Provider,
        external_id: &str,
    ) -> Result<Option<EntitlementDetail>, StoreError> {
        self.store
            .find_entitlement(provider, external_id)?
            .map(|e| self.detail(&e))
            .transpose()
    }

    /// One entitlement by Tollgate's id, with its devices and audit trail.
    pub fn find_entitlement_by_id(
        &self,
        id: &EntitlementId,
    ) -> Result<Option<EntitlementDetail>, StoreError> {
        self.store
            .find_entitlement_by_id(id)?
            .map(|e| self.detail(&e))
            .transpose()
    }

    /// Every entitlement of a subject at one provider, each with its devices and audit trail.
    pub fn entitlement_details_of(
        &self,
        provider: Provider,
        subject: &str,
    ) -> Result<Vec<EntitlementDetail>, StoreError> {
        self.store
            .list_entitlements_by_subject(provider, subject)?
            .iter()
            .map(|e| self.detail(e))
            .collect()
    }

    fn detail(&self, entitlement: &Entitlement) -> Result<EntitlementDetail, StoreError> {
        let devices = self.store.list_devices(&entitlement.id)?;
        let audit = self.store.list_audit(&entitlement.id, AUDIT_LIMIT)?;
        Ok(EntitlementDetail {
            entitlement: EntitlementView::new(entitlement, &self.policies, self.clock.now()),
            policy: policy_for(&self.policies, entitlement),
            version: entitlement.version,
            created_at: entitlement.created_at,
            updated_at: entitlement.updated_at,
            synced_at: entitlement.synced_at,
            devices: devices.iter().map(DeviceView::from).collect(),
            audit: audit.iter().map(AuditView::from).collect(),
        })
    }

    /// Inbox metadata (no bodies), in id order after `filter.after_id`, at most [`MAX_INBOX_PAGE`].
    pub fn list_inbox(&self, filter: &InboxFilter) -> Result<Vec<InboxItem>, StoreError> {
        let filter = InboxFilter {
            limit: filter.limit.clamp(1, MAX_INBOX_PAGE),
            ..*filter
        };
        Ok(self
            .store
            .list_inbox(&filter)?
            .iter()
            .map(|e| InboxItem::new(e, false))
            .collect())
    }

    /// One inbox event; its decrypted body only when `with_body`.
    pub fn find_inbox_event(&self, id: InboxId, with_body: bool) -> Result<Option<InboxItem>, StoreError> {
        Ok(self
            .store
            .find_inbox_event(id)?
            .map(|e| InboxItem::new(&e, with_body)))
    }

    /// How many events are `received` and `failed`.
    pub fn inbox_backlog(&self) -> Result<InboxBacklog, StoreError> {
        Ok(InboxBacklog {
            received: self.store.count_inbox(InboxStatus::Received)?,
            failed: self.store.count_inbox(InboxStatus::Failed)?,
        })
    }

    /// The effective policy.
    pub fn policy(&self) -> PolicyView {
        PolicyView {
            default: self.policies.default.clone(),
            products: self
                .policies
                .products
                .iter()
                .map(|rule| ProductPolicyView {
                    provider: rule.provider,
                    product: rule.product.clone(),
                    effective: rule.overlay(&self.policies.default),
                })
                .collect(),
        }
    }

    /// The configured policy set.
    pub fn policies(&self) -> &PolicySet {
        &self.policies
    }
}
