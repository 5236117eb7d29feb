//! Policy configuration: what the vendor decides per product, deserializable from TOML.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::duration::HumanDuration;
use crate::provider::Provider;

/// How the product is sold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PlanModel {
    /// Access lasts while the subscription is paid: leases never outlive `paid_through + offline_grace`.
    Subscription,
    /// Paid once, kept forever unless revoked.
    Perpetual,
}

/// Who may free a device so the license can move to another one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TransferMode {
    /// Only an admin frees a device.
    Manual,
    /// The app may deactivate its own device, within the cooldown and the 30-day budget.
    SelfService,
}

/// What a cancellation does to access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Revocation {
    /// A deactivation or revocation ends access at once.
    Immediate,
    /// A cancellation keeps access until the paid-through time.
    AtPeriodEnd,
}

/// How a provider status string maps to access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// When the provider's own dashboard resets a key (Whop's "Reset Key" clears the binding Tollgate mirrored
    /// there), free the key's devices here too at its next activation. `false` keeps Tollgate's devices and writes
    /// the binding back.
    pub honor_provider_reset: bool,
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
            honor_provider_reset: true,
        }
    }
}

/// A per-product rule: which product it matches, and the fields it changes from the default policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductRule {
    pub provider: Provider,
    /// The provider's product, plan or sku id (Whop `prod_...`/`plan_...`, Dodo product id, a game store's sku).
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
    #[serde(default)]
    pub honor_provider_reset: Option<bool>,
}

/// All policies: the default, and the per-product rules layered over it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicySet {
    pub default: Policy,
    pub products: Vec<ProductRule>,
}

/// The largest `max_devices` the validation accepts.
pub const MAX_DEVICES_LIMIT: u32 = 10_000;
/// The largest `transfers_per_30d` the validation accepts.
pub const TRANSFERS_PER_30D_LIMIT: u32 = 1_000;
/// The longest `offline_grace` and `transfer_cooldown` the validation accepts: 365 days.
pub const LONGEST_WINDOW: HumanDuration = HumanDuration::from_secs(365 * 86_400);

impl PolicySet {
    /// Checks every value once, at start. The error names the offending key as the operator wrote it
    /// (`policy.default.max_devices`, `policy.products[2].offline_grace`).
    ///
    /// A product rule is checked as the effective policy it produces (the rule over the default), so a rule whose
    /// `revalidate_every` exceeds the default `offline_grace` is caught and named.
    pub fn validate(&self) -> Result<(), PolicyError> {
        check_policy(&self.default, &|field| format!("policy.default.{field}"))?;
        for (index, rule) in self.products.iter().enumerate() {
            let at = |field: &str| format!("policy.products[{index}].{field}");
            if rule.product.trim().is_empty() {
                return Err(PolicyError::invalid(at("product"), "must not be empty"));
            }
            if let Some(first) = self.products[..index].iter().position(|earlier| {
                earlier.provider == rule.provider && earlier.product.trim() == rule.product.trim()
            }) {
                return Err(PolicyError::DuplicateProductRule {
                    path: at("product"),
                    first: format!("policy.products[{first}]"),
                    provider: rule.provider,
                    product: rule.product.trim().to_owned(),
                });
            }
            let effective = rule.overlay(&self.default);
            let path = |field: &str| {
                if rule.sets(field) {
                    at(field)
                } else {
                    format!("policy.default.{field}")
                }
            };
            check_policy(&effective, &path)?;
        }
        Ok(())
    }

    /// The first product rule for `provider` whose `product` equals any of `ids` (a product, plan or sku id).
    pub fn find_rule(&self, provider: Provider, ids: &[&str]) -> Option<&ProductRule> {
        self.products.iter().find(|rule| {
            rule.provider == provider
                && ids
                    .iter()
                    .any(|id| !id.trim().is_empty() && id.trim() == rule.product.trim())
        })
    }

    /// The effective policy for a product: the first matching rule ([`PolicySet::find_rule`]) over the default, or
    /// the default when no rule matches.
    pub fn for_product(&self, provider: Provider, ids: &[&str]) -> Policy {
        match self.find_rule(provider, ids) {
            Some(rule) => rule.overlay(&self.default),
            None => self.default.clone(),
        }
    }
}

impl ProductRule {
    /// `base` with every field this rule sets replaced. `status_map` entries are merged: the rule's entries replace
    /// the base's entries with the same key (compared case-insensitively) and add the others.
    pub fn overlay(&self, base: &Policy) -> Policy {
        let mut policy = base.clone();
        if let Some(v) = self.plan_model {
            policy.plan_model = v;
        }
        if let Some(v) = self.max_devices {
            policy.max_devices = v;
        }
        if let Some(v) = self.transfer {
            policy.transfer = v;
        }
        if let Some(v) = self.transfer_cooldown {
            policy.transfer_cooldown = v;
        }
        if let Some(v) = self.transfers_per_30d {
            policy.transfers_per_30d = v;
        }
        if let Some(v) = self.offline_grace {
            policy.offline_grace = v;
        }
        if let Some(v) = self.revalidate_every {
            policy.revalidate_every = v;
        }
        if let Some(v) = self.revocation {
            policy.revocation = v;
        }
        if let Some(v) = &self.purchase_url {
            policy.purchase_url = Some(v.clone());
        }
        if let Some(v) = self.honor_provider_reset {
            policy.honor_provider_reset = v;
        }
        if let Some(map) = &self.status_map {
            for (key, class) in map {
                policy
                    .status_map
                    .retain(|existing, _| !existing.trim().eq_ignore_ascii_case(key.trim()));
                policy.status_map.insert(key.clone(), *class);
            }
        }
        policy
    }

    /// Whether this rule sets the policy field named `field`.
    fn sets(&self, field: &str) -> bool {
        match field {
            "plan_model" => self.plan_model.is_some(),
            "max_devices" => self.max_devices.is_some(),
            "transfer" => self.transfer.is_some(),
            "transfer_cooldown" => self.transfer_cooldown.is_some(),
            "transfers_per_30d" => self.transfers_per_30d.is_some(),
            "offline_grace" => self.offline_grace.is_some(),
            "revalidate_every" => self.revalidate_every.is_some(),
            "revocation" => self.revocation.is_some(),
            "purchase_url" => self.purchase_url.is_some(),
            "status_map" => self.status_map.is_some(),
            _ => false,
        }
    }
}

fn check_policy(policy: &Policy, path: &dyn Fn(&str) -> String) -> Result<(), PolicyError> {
    let invalid = |field: &str, problem: String| Err(PolicyError::invalid(path(field), problem));
    if policy.max_devices < 1 {
        return invalid("max_devices", "must be at least 1".into());
    }
    if policy.max_devices > MAX_DEVICES_LIMIT {
        return invalid("max_devices", format!("must be at most {MAX_DEVICES_LIMIT}"));
    }
    if policy.offline_grace.as_secs() <= 0 {
        return invalid(
            "offline_grace",
            "must be longer than 0s: a lease that expires at once gives no offline access".into(),
        );
    }
    if policy.offline_grace > LONGEST_WINDOW {
        return invalid("offline_grace", format!("must be at most {LONGEST_WINDOW}"));
    }
    if policy.revalidate_every.as_secs() <= 0 {
        return invalid("revalidate_every", "must be longer than 0s".into());
    }
    if policy.revalidate_every > policy.offline_grace {
        // Blame the key the operator set: for a product rule that sets only `offline_grace`, that one.
        let in_rule = |field: &str| path(field).starts_with("policy.products");
        if in_rule("offline_grace") && !in_rule("revalidate_every") {
            return invalid(
                "offline_grace",
                format!(
                    "({}) must not be shorter than revalidate_every ({}): the lease would expire before the app is \
                     told to refresh",
                    policy.offline_grace, policy.revalidate_every
                ),
            );
        }
        return invalid(
            "revalidate_every",
            format!(
                "({}) must not be longer than offline_grace ({}): the lease would expire before the app is told to \
                 refresh",
                policy.revalidate_every, policy.offline_grace
            ),
        );
    }
    if policy.transfer_cooldown.as_secs() < 0 || policy.transfer_cooldown > LONGEST_WINDOW {
        return invalid(
            "transfer_cooldown",
            format!("must be between 0s and {LONGEST_WINDOW}"),
        );
    }
    if policy.transfers_per_30d > TRANSFERS_PER_30D_LIMIT {
        return invalid(
            "transfers_per_30d",
            format!("must be at most {TRANSFERS_PER_30D_LIMIT}"),
        );
    }
    if let Some(url) = &policy.purchase_url {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        if rest.is_none_or(str::is_empty) || url.chars().any(char::is_whitespace) {
            return invalid(
                "purchase_url",
                format!("must be an http:// or https:// URL without spaces (got `{url}`)"),
            );
        }
    }
    let keys: Vec<&String> = policy.status_map.keys().collect();
    for (i, key) in keys.iter().enumerate() {
        if key.trim().is_empty() {
            return invalid("status_map", "must not have an empty status key".into());
        }
        if let Some(other) = keys[..i]
            .iter()
            .find(|k| k.trim().eq_ignore_ascii_case(key.trim()))
        {
            return invalid(
                "status_map",
                format!("has `{other}` and `{key}`, the same status (keys are case-insensitive)"),
            );
        }
    }
    Ok(())
}

/// Why a policy configuration was rejected. `Display` names the key as the operator wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// A value the policy cannot work with, for example `policy.default.max_devices must be at least 1`.
    InvalidField { path: String, problem: String },
    /// Two product rules for the same provider and product: only the first would ever match.
    DuplicateProductRule {
        path: String,
        first: String,
        provider: Provider,
        product: String,
    },
}

impl PolicyError {
    fn invalid(path: String, problem: impl Into<String>) -> Self {
        PolicyError::InvalidField {
            path,
            problem: problem.into(),
        }
    }

    /// The offending key, for example `policy.products[2].offline_grace`.
    pub fn path(&self) -> &str {
        match self {
            PolicyError::InvalidField { path, .. } | PolicyError::DuplicateProductRule { path, .. } => path,
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::InvalidField { path, problem } => write!(f, "{path} {problem}"),
            PolicyError::DuplicateProductRule {
                path,
                first,
                provider,
                product,
            } => write!(
                f,
                "{path} repeats the rule for {provider} product `{product}` already in {first}: only the first would ever match"
            ),
        }
    }
}

impl std::error::Error for PolicyError {}
