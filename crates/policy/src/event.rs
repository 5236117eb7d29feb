//! Normalized provider events: what the provider adapters produce from an authentic webhook or from a
//! reconciliation pass, independent of which provider sent it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::provider::Provider;

/// One change reported by a provider about one entitlement.
///
/// `external_id` is the provider's id of the thing that grants access: a Whop membership (`mem_...`), a Dodo
/// entitlement grant (`entg_...`) or subscription (`sub_...`), a game store's subscription. `occurred_at` is the
/// provider's own time for the change, which orders events that arrive out of order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderEvent {
    pub provider: Provider,
    pub external_id: String,
    pub occurred_at: DateTime<Utc>,
    /// The customer: Whop user id, Dodo customer id, a game store's player id. `None` when the payload omits it.
    pub subject: Option<String>,
    /// The product, plan or sku id used to pick the policy. `None` when the payload omits it.
    pub product: Option<String>,
    pub kind: EventKind,
}

/// What happened. Every field that a variant carries is a fact the entitlement state records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// Access starts (Whop `membership.activated`/`went_valid`, Dodo `subscription.active`, a game store's
    /// `subscription.activated`).
    Activated {
        /// The raw provider status string, if the payload has one.
        status: Option<String>,
        /// Paid-through time (Whop `renewal_period_end`, a game store's `effective_until`), if known.
        paid_through: Option<DateTime<Utc>>,
        cancel_at_period_end: Option<bool>,
        /// Feature names this entitlement unlocks (for example a subscription's nested item SKUs).
        features: Vec<String>,
    },
    /// A recurring payment succeeded and access is extended.
    Renewed {
        paid_through: DateTime<Utc>,
        status: Option<String>,
    },
    /// The provider reports a status or billing change. `status` is kept as the provider's raw string.
    Updated {
        status: String,
        paid_through: Option<DateTime<Utc>>,
        cancel_at_period_end: Option<bool>,
    },
    /// The customer cancelled at period end: access continues until `paid_through`, then stops.
    CancelScheduled { paid_through: Option<DateTime<Utc>> },
    /// A scheduled cancellation was withdrawn.
    CancelUnscheduled,
    /// Access ended (Whop `membership.deactivated`/`went_invalid`, a game store's `subscription.deactivated`).
    Deactivated {
        reason: Option<String>,
        status: Option<String>,
        paid_through: Option<DateTime<Utc>>,
    },
    /// Access was withdrawn by the provider (Dodo `entitlement_grant.revoked`), with the provider's reason, for
    /// example `subscription_cancelled`, `subscription_on_hold` or `manual`.
    Revoked { reason: Option<String> },
    /// A grant exists but has not been delivered yet (Dodo `entitlement_grant.created` in `Pending`, including
    /// manual license-key fulfilment that has no key yet).
    GrantPending,
    /// A grant was delivered: the customer now has access.
    GrantDelivered {
        paid_through: Option<DateTime<Utc>>,
        features: Vec<String>,
    },
    /// A grant failed terminally.
    GrantFailed { error_code: Option<String> },
}

impl EventKind {
    /// A stable snake_case name, for logs and the audit trail.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Activated { .. } => "activated",
            EventKind::Renewed { .. } => "renewed",
            EventKind::Updated { .. } => "updated",
            EventKind::CancelScheduled { .. } => "cancel_scheduled",
            EventKind::CancelUnscheduled => "cancel_unscheduled",
            EventKind::Deactivated { .. } => "deactivated",
            EventKind::Revoked { .. } => "revoked",
            EventKind::GrantPending => "grant_pending",
            EventKind::GrantDelivered { .. } => "grant_delivered",
            EventKind::GrantFailed { .. } => "grant_failed",
        }
    }
}
