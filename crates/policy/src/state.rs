//! The entitlement state that events are folded into.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::provider::Provider;

/// Where an entitlement is in its life, independent of the provider's own status string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// Created but not yet delivered (Dodo pending grant). No access.
    Pending,
    /// Access was granted and has not been withdrawn. Whether it is allowed *now* also depends on the status
    /// string, the paid-through time and the policy: see [`crate::decide`].
    Active,
    /// Delivery failed terminally. No access.
    Failed,
    /// Access was deactivated or revoked, with `end_reason`.
    Revoked,
}

impl Lifecycle {
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Pending => "pending",
            Lifecycle::Active => "active",
            Lifecycle::Failed => "failed",
            Lifecycle::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Lifecycle> {
        match s {
            "pending" => Some(Lifecycle::Pending),
            "active" => Some(Lifecycle::Active),
            "failed" => Some(Lifecycle::Failed),
            "revoked" => Some(Lifecycle::Revoked),
            _ => None,
        }
    }
}

/// The provider time of the last change applied to each group of fields. Each group is a last-writer-wins
/// register with a deny-favouring tie-break on equal times, so any arrival order of the same events converges to the
/// same state (see [`crate::apply`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldClocks {
    /// `lifecycle`, `status`, `end_reason`.
    pub access: Option<DateTime<Utc>>,
    /// `paid_through`.
    pub period: Option<DateTime<Utc>>,
    /// `cancel_at_period_end`.
    pub cancel: Option<DateTime<Utc>>,
    /// `subject`, `product`, `features`. [`crate::PARTIAL_DETAILS_CLOCK`] (the Unix epoch) while only events
    /// without features (which carry just `subject`/`product`) have written them: see [`crate::apply`].
    pub details: Option<DateTime<Utc>>,
}

/// Everything Tollgate knows about one entitlement, as folded from provider events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntitlementState {
    pub provider: Provider,
    /// Membership, grant or subscription id at the provider.
    pub external_id: String,
    pub subject: Option<String>,
    pub product: Option<String>,
    pub lifecycle: Lifecycle,
    /// The provider's raw status string, kept as sent (never parsed into a closed enum).
    pub status: Option<String>,
    /// Why access ended: a deactivation, revocation or failure reason.
    pub end_reason: Option<String>,
    pub paid_through: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    pub features: Vec<String>,
    pub clocks: FieldClocks,
}

impl EntitlementState {
    /// A state that has seen no event yet: pending, with no access.
    pub fn new(provider: Provider, external_id: impl Into<String>) -> Self {
        EntitlementState {
            provider,
            external_id: external_id.into(),
            subject: None,
            product: None,
            lifecycle: Lifecycle::Pending,
            status: None,
            end_reason: None,
            paid_through: None,
            cancel_at_period_end: false,
            features: Vec::new(),
            clocks: FieldClocks::default(),
        }
    }

    /// The provider time of the last change applied to any field.
    pub fn last_event_at(&self) -> Option<DateTime<Utc>> {
        [
            self.clocks.access,
            self.clocks.period,
            self.clocks.cancel,
            self.clocks.details,
        ]
        .into_iter()
        .flatten()
        .max()
    }
}
