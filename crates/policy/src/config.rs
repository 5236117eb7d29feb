//! Policy configuration: what the vendor decides per product, deserializable from TOML.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::duration::HumanDuration;
use crate::provider::Provider;

/// How the product is sold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanModel {
    /// Access lasts while the subscription is paid: leases never outlive `paid_through + offline_grace`.
    Subscription,
    /// Paid once, kept forever unless revoked.
    Perpetual,
}

/// Who may free a device so the license can move to another one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferMode {
    /// Only an admin frees a device.
    Manual,
    /// The app may deactivate its own device, within the cooldown and the 30-day budget.
    SelfService,
}

/// What a cancellation does to access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Revocation {
    /// A deactivation or revocation ends access at once.
    Immediate,
    /// A cancellation keeps access until the paid-through time.
    AtPeriodEnd,
}

/// How a provider status string maps to access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessClass {
    /// Access is granted.
    Grant,
    /// Access continues only until the paid-through time, never beyond.
    Grace,
    /// No access.
    Deny,
}

/// The effective policy for one product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    pub plan_model: PlanModel,
    pub max_devices: u32,
    pub transfer: TransferMode,
    pub transfer_cooldown: HumanDuration,
    pub transfers_per_30d: u32,
    pub offline_grace: HumanDuration,
    pub revalidate_every: HumanDuration,
    pub revocation: Revocation,
    pub purchase_url: Option<String>,
    /// Provider status string (matched case-insensitively) to access class. Overrides the built-in mapping.
    pub status_map: BTreeMap<String, AccessClass>,
}

impl Default for Policy {
    /// The defaults product.md fixes.
    fn default() -> Self {
        Policy {
            plan_model: PlanModel::Subscription,
            max_devices: 1,
            transfer: TransferMode::SelfService,
            transfer_cooldown: HumanDuration::from_secs(24 * 3_600),
            transfers_per_30d: 3,
            offline_grace: HumanDuration::from_secs(72 * 3_600),
            revalidate_every: HumanDuration::from_secs(24 * 3_600),
            revocation: Revocation::Immediate,
            purchase_url: None,
            status_map: BTreeMap::new(),
        }
    }
}

/// A per-product rule: which product it matches, and the fields it changes from the default policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductRule {
    pub provider: Provider,
    /// The provider's product, plan or sku id (Whop `prod_...`/`plan_...`, Dodo product id, Aghanim sku).
    pub product: String,
    pub plan_model: Option<PlanModel>,
    pub max_devices: Option<u32>,
    pub transfer: Option<TransferMode>,
    pub transfer_cooldown: Option<HumanDuration>,
    pub transfers_per_30d: Option<u32>,
    pub offline_grace: Option<HumanDuration>,
    pub revalidate_every: Option<HumanDuration>,
    pub revocation: Option<Revocation>,
    pub purchase_url: Option<String>,
    pub status_map: Option<BTreeMap<String, AccessClass>>,
}

/// All policies: the default, and the per-product rules layered over it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicySet {
    pub default: Policy,
    pub products: Vec<ProductRule>,
}
