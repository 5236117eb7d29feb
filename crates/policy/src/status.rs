//! Status classification: which access class a provider's raw status string gives.
//!
//! The policy's `status_map` wins (keys matched case-insensitively); otherwise each provider has a built-in table.
//! A status that neither knows is [`AccessClass::Grace`]: access continues only until the paid-through time already
//! known, never beyond it, and with no paid-through time there is no access. A new provider status can therefore
//! never panic and never silently grant.

use crate::config::{AccessClass, Policy};
use crate::provider::Provider;

/// How a provider's status strings classify: a built-in table, or not at all (the key's registration in
/// `provider.rs` says which).
#[derive(Debug, Clone, Copy)]
pub(crate) enum StatusRules {
    /// The statuses in this table classify as it says; any other is unknown.
    Table(&'static [(&'static str, AccessClass)]),
    /// The provider's statuses are informational: access follows the event type and `paid_through` only.
    Informational,
    /// A provider with no built-in table knows no status.
    NoTable,
}

/// The class a status gets when neither the policy nor the built-in table knows it.
pub const UNKNOWN_STATUS_CLASS: AccessClass = AccessClass::Grace;

/// Whop membership statuses (providers.md §1.5).
pub(crate) const WHOP: &[(&str, AccessClass)] = &[
    ("trialing", AccessClass::Grant),
    ("active", AccessClass::Grant),
    ("completed", AccessClass::Grant),
    ("canceling", AccessClass::Grant),
    ("past_due", AccessClass::Grace),
    ("canceled", AccessClass::Deny),
    ("expired", AccessClass::Deny),
    ("unresolved", AccessClass::Deny),
    ("drafted", AccessClass::Deny),
];

/// Dodo subscription statuses (providers.md §2.5) and entitlement-grant statuses (§2.7), both matched
/// case-insensitively. `pending` and `failed` appear in both enums and deny in both.
pub(crate) const DODO: &[(&str, AccessClass)] = &[
    ("active", AccessClass::Grant),
    ("on_hold", AccessClass::Grace),
    ("pending", AccessClass::Deny),
    ("paused", AccessClass::Deny),
    ("cancelled", AccessClass::Deny),
    ("failed", AccessClass::Deny),
    ("expired", AccessClass::Deny),
    ("delivered", AccessClass::Grant),
    ("revoked", AccessClass::Deny),
];

/// Statuses that mean a recoverable payment problem: the customer should update the payment method, the license is
/// not gone. A grace that runs out on one of these denies with `PAYMENT_ISSUE`, not `LICENSE_INACTIVE`.
const PAYMENT_HOLD: &[&str] = &["past_due", "on_hold", "subscription_on_hold"];

/// How a status was classified, for callers that need to know why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatusSource {
    /// The policy's `status_map` named it.
    PolicyMap,
    /// The provider's built-in table named it.
    BuiltIn,
    /// The provider's status strings are informational: access follows the event type and `paid_through` only.
    NotConsulted,
    /// Nobody knows it: [`UNKNOWN_STATUS_CLASS`] applies.
    Unknown,
}

/// The access class for a provider status string under `policy`.
///
/// Order: the policy's `status_map` (case-insensitive), then the built-in table for `provider`, then the unknown
/// status rule ([`UNKNOWN_STATUS_CLASS`]). A provider whose statuses are informational is never consulted by the
/// built-in rules: its status always classifies as [`AccessClass::Grant`] unless the operator mapped it explicitly.
pub fn classify(provider: Provider, status: &str, policy: &Policy) -> AccessClass {
    classify_with_source(provider, status, policy).0
}

/// [`classify`], also saying which rule decided.
pub fn classify_with_source(
    provider: Provider,
    status: &str,
    policy: &Policy,
) -> (AccessClass, StatusSource) {
    let status = status.trim();
    if let Some(class) = policy
        .status_map
        .iter()
        .find(|(key, _)| key.trim().eq_ignore_ascii_case(status))
        .map(|(_, class)| *class)
    {
        return (class, StatusSource::PolicyMap);
    }
    match builtin_class(provider, status) {
        Some(class) if matches!(provider.status_rules(), StatusRules::Informational) => {
            (class, StatusSource::NotConsulted)
        }
        Some(class) => (class, StatusSource::BuiltIn),
        None => (UNKNOWN_STATUS_CLASS, StatusSource::Unknown),
    }
}

/// The built-in class for a status, ignoring any policy. `None` for a status the provider table does not know.
/// A provider whose status strings are informational always answers `Some(Grant)`. A provider with no built-in
/// table (one registered outside this release) knows no status.
pub fn builtin_class(provider: Provider, status: &str) -> Option<AccessClass> {
    let table = match provider.status_rules() {
        StatusRules::Table(table) => table,
        StatusRules::Informational => return Some(AccessClass::Grant),
        StatusRules::NoTable => return None,
    };
    let status = status.trim();
    table
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(status))
        .map(|(_, class)| *class)
}

/// Whether a status or end reason means a recoverable payment hold (`past_due`, `on_hold`, `subscription_on_hold`,
/// case-insensitive).
pub fn is_payment_hold(value: &str) -> bool {
    let value = value.trim();
    PAYMENT_HOLD.iter().any(|hold| hold.eq_ignore_ascii_case(value))
}

/// Whether a status or end reason means a cancellation by the customer: it contains `cancel` in any case
/// (`canceled`, `cancelled`, `canceling`, `subscription_cancelled`, `cancellation`...).
pub fn is_cancellation(value: &str) -> bool {
    value.to_ascii_lowercase().contains("cancel")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_hold_and_cancellation_words() {
        for hold in ["past_due", "ON_HOLD", " subscription_on_hold "] {
            assert!(is_payment_hold(hold), "{hold}");
        }
        for not_hold in ["", "hold", "canceled", "active"] {
            assert!(!is_payment_hold(not_hold), "{not_hold}");
        }
        for cancel in [
            "canceled",
            "Cancelled",
            "subscription_cancelled",
            "canceling",
            "cancellation",
        ] {
            assert!(is_cancellation(cancel), "{cancel}");
        }
        for not_cancel in ["", "manual", "expired", "subscription_on_hold"] {
            assert!(!is_cancellation(not_cancel), "{not_cancel}");
        }
    }
}
