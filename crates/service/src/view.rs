//! The shapes Tollgate shows an entitlement in, shared by every use case: the service API
//! (`GET /api/entitlements`), the license endpoints' `entitlement` object, the admin API and the CLI.
//!
//! Also the one place that turns a provider's [`Extras`] into the JSON the store keeps, and back, and that picks
//! the policy for a stored entitlement.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tollgate_policy::{EntitlementAccess, PlanModel, Policy, PolicySet, Provider, decide_entitlement};
use tollgate_providers::Extras;
use tollgate_providers::ITEM_KIND;
use tollgate_store::Entitlement;

/// What the store keeps in an entitlement's encrypted `extras` column.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredExtras {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Value>,
    /// `item` for an item entitlement (a game store's one-time item).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl StoredExtras {
    /// The provider parser's extras, as stored. Features live in the policy state, not here.
    pub fn from_provider(extras: &Extras) -> Self {
        StoredExtras {
            plan_id: extras.plan_id.clone(),
            integration_type: extras.integration_type.clone(),
            oauth_url: extras.oauth_url.clone(),
            delivery: extras.delivery.clone(),
            kind: extras.kind.clone(),
        }
    }

    /// `None` when there is nothing to keep, so an event without extras does not erase stored ones.
    pub fn to_json(&self) -> Option<Value> {
        if *self == StoredExtras::default() {
            return None;
        }
        serde_json::to_value(self).ok()
    }

    /// The stored JSON, read tolerantly: unknown or malformed content gives empty extras rather than an error, so a
    /// row written by another version never breaks a lookup.
    pub fn from_json(value: Option<&Value>) -> Self {
        value
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }
}

/// The policy that governs a stored entitlement: the product rule matching its product or plan, over the default.
/// An item ([`ITEM_KIND`]) is bought once, so its plan model is `perpetual` unless its rule sets one.
pub fn policy_for(policies: &PolicySet, entitlement: &Entitlement) -> Policy {
    let extras = StoredExtras::from_json(entitlement.extras.as_ref());
    let ids: Vec<&str> = [entitlement.state.product.as_deref(), extras.plan_id.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let provider = entitlement.state.provider;
    let mut policy = policies.for_product(provider, &ids);
    if extras.kind.as_deref() == Some(ITEM_KIND)
        && policies
            .find_rule(provider, &ids)
            .is_none_or(|rule| rule.plan_model.is_none())
    {
        policy.plan_model = PlanModel::Perpetual;
    }
    policy
}

/// One entitlement with its access decision: product.md's `GET /api/entitlements` item.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EntitlementView {
    pub id: String,
    pub provider: Provider,
    pub external_id: String,
    pub subject: Option<String>,
    pub product: Option<String>,
    /// The provider's raw status string; the lifecycle (`pending`, `active`, `failed`, `revoked`) when the provider
    /// sent none.
    pub status: String,
    pub current_period_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    pub access: EntitlementAccess,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_key_last4: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integration_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
    /// `item` for an item entitlement (one per player and item SKU); absent for subscriptions,
    /// memberships and grants.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl EntitlementView {
    /// The view of `entitlement` at `now`, with the decision its policy gives.
    pub fn new(entitlement: &Entitlement, policies: &PolicySet, now: DateTime<Utc>) -> Self {
        let policy = policy_for(policies, entitlement);
        let access = EntitlementAccess::from(decide_entitlement(&entitlement.state, &policy, now));
        Self::with_access(entitlement, access)
    }

    /// The view with an access decision already made (the license endpoints decide with the device too).
    pub fn with_access(entitlement: &Entitlement, access: EntitlementAccess) -> Self {
        let state = &entitlement.state;
        let extras = StoredExtras::from_json(entitlement.extras.as_ref());
        EntitlementView {
            id: entitlement.id.to_string(),
            provider: state.provider,
            external_id: state.external_id.clone(),
            subject: state.subject.clone(),
            product: state.product.clone(),
            status: state
                .status
                .clone()
                .unwrap_or_else(|| state.lifecycle.as_str().to_owned()),
            current_period_end: state.paid_through,
            cancel_at_period_end: state.cancel_at_period_end,
            access,
            plan: extras.plan_id,
            license_key_last4: entitlement.license_key_last4.clone(),
            integration_type: extras.integration_type,
            oauth_url: extras.oauth_url,
            delivery: extras.delivery,
            features: state.features.clone(),
            kind: extras.kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use tollgate_policy::{EntitlementState, Lifecycle, PolicySet, ProductRule};
    use tollgate_store::EntitlementId;

    use super::*;

    fn entitlement(extras: Option<Value>) -> Entitlement {
        let at = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap();
        let mut state = EntitlementState::new(Provider::Whop, "mem_1");
        state.lifecycle = Lifecycle::Active;
        state.product = Some("prod_1".into());
        Entitlement {
            id: EntitlementId::new("ent_1"),
            state,
            license_key_hash: None,
            license_key_last4: Some("7ZAB".into()),
            extras,
            version: 1,
            created_at: at,
            updated_at: at,
            synced_at: None,
        }
    }

    #[test]
    fn extras_round_trip_and_empty_extras_are_not_stored() {
        let extras = StoredExtras {
            plan_id: Some("plan_9".into()),
            oauth_url: Some("https://discord.example/oauth".into()),
            ..StoredExtras::default()
        };
        let json = extras.to_json().unwrap();
        assert_eq!(StoredExtras::from_json(Some(&json)), extras);
        assert_eq!(StoredExtras::default().to_json(), None);
        assert_eq!(
            StoredExtras::from_json(Some(&Value::from(42))),
            StoredExtras::default()
        );
    }

    #[test]
    fn a_plan_rule_matches_through_the_stored_plan_id() {
        let policies: PolicySet =
            toml::from_str("[[products]]\nprovider = \"whop\"\nproduct = \"plan_9\"\nmax_devices = 4\n")
                .unwrap();
        assert_eq!(
            policies.products.first().map(|r: &ProductRule| r.max_devices),
            Some(Some(4))
        );
        let with_plan = entitlement(
            StoredExtras {
                plan_id: Some("plan_9".into()),
                ..Default::default()
            }
            .to_json(),
        );
        assert_eq!(policy_for(&policies, &with_plan).max_devices, 4);
        assert_eq!(policy_for(&policies, &entitlement(None)).max_devices, 1);
    }

    #[test]
    fn the_view_shows_lifecycle_when_the_provider_sent_no_status() {
        let view = EntitlementView::new(&entitlement(None), &PolicySet::default(), Utc::now());
        assert_eq!(view.status, "active");
        assert_eq!(view.license_key_last4.as_deref(), Some("7ZAB"));
        assert!(view.access.allowed);
        assert_eq!(view.access.code, "VALID");
    }
}
