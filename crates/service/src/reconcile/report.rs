//! The account of one reconciliation run, for the logs, the CLI (`tollgate reconcile`) and the admin API.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tollgate_policy::Provider;

/// One run of [`crate::reconcile::Reconciler::run_once`]: one entry per provider it was asked about, in the order
/// the `Provider` schema lists them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReconcileReport {
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub providers: Vec<ProviderReport>,
}

impl ReconcileReport {
    /// The entry for one provider, if it was part of the run.
    pub fn provider(&self, provider: Provider) -> Option<&ProviderReport> {
        self.providers.iter().find(|p| p.provider == provider)
    }

    /// True when any provider's pass hit an error (the CLI exits non-zero).
    pub fn has_errors(&self) -> bool {
        self.providers.iter().any(|p| !p.errors.is_empty())
    }

    /// Entitlements changed or created, over every provider.
    pub fn repaired(&self) -> u64 {
        self.providers.iter().map(|p| p.changed + p.created).sum()
    }
}

/// How a provider's pass ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PassOutcome {
    /// Everything the provider listed was examined.
    Completed,
    /// The pass stopped or skipped part of the listing: see `errors`. What was examined before is repaired.
    Incomplete,
    /// Another instance holds this provider's lock: nothing was done here (`held_by` names it).
    Held,
}

/// One provider's pass.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProviderReport {
    pub provider: Provider,
    pub outcome: PassOutcome,
    /// The instance holding the lock, when `outcome` is `Held` (`None` if it let go before it could be named).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_by: Option<String>,
    /// Provider items compared with the store.
    pub examined: u64,
    /// Known entitlements that differed from the provider and were repaired (one audit row each).
    pub changed: u64,
    /// Entitlements the store had never seen, created from the listing (one audit row each).
    pub created: u64,
    /// Items not acted on: no status to repair from, or never seen and giving no access.
    pub ignored: u64,
    /// Devices freed because the provider no longer has their activation (Dodo license key instances).
    pub devices_freed: u64,
    /// Devices renamed to the provider's name for their activation.
    pub devices_renamed: u64,
    /// What the pass saw and left alone for the operator to judge (Dodo activations Tollgate does not know).
    pub notes: Vec<String>,
    /// Provider calls that failed, with what was being listed (`list_memberships: provider unreachable: ...`).
    pub errors: Vec<String>,
    /// What was repaired, as written to the audit trail.
    pub repairs: Vec<Repair>,
    /// Device bindings written again at the provider after an earlier write failed (Whop metadata).
    #[serde(skip_serializing_if = "is_zero")]
    pub mirrors_repaired: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ProviderReport {
    pub(crate) fn new(provider: Provider) -> Self {
        ProviderReport {
            provider,
            outcome: PassOutcome::Completed,
            held_by: None,
            examined: 0,
            changed: 0,
            created: 0,
            ignored: 0,
            devices_freed: 0,
            devices_renamed: 0,
            notes: Vec::new(),
            errors: Vec::new(),
            mirrors_repaired: 0,
            repairs: Vec::new(),
        }
    }

    pub(crate) fn held(provider: Provider, held_by: Option<String>) -> Self {
        ProviderReport {
            outcome: PassOutcome::Held,
            held_by,
            ..ProviderReport::new(provider)
        }
    }
}

/// Whether a repair changed a known entitlement or created a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RepairKind {
    Changed,
    Created,
    /// A device freed: the provider no longer has its activation.
    DeviceFreed,
    /// A device renamed to the provider's name for its activation.
    DeviceRenamed,
}

/// One entitlement (or one of its devices) repaired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Repair {
    pub kind: RepairKind,
    pub entitlement_id: String,
    pub external_id: String,
    /// The fields that changed, `field old -> new` joined by `; ` (the audit row says the same).
    pub detail: String,
}
