//! One provider item compared with the store and, when they differ, repaired through the same policy transition a
//! webhook takes (`crate::entitlement_change::apply_change`: `tollgate_policy::apply` in one `Store::write`), with one audit row.
//!
//! Blocking: called inside `spawn_blocking`.

use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tollgate_policy::{
    AccessClass, EntitlementState, EventKind, Lifecycle, ProviderEvent, apply, builtin_class,
};
use tollgate_store::{Actor, EntitlementChange, Store, StoreError};

use super::report::{Repair, RepairKind};
use crate::entitlement_change::apply_change;

/// What a provider listing says about one membership, grant or subscription, as an event observed at the time
/// the page was fetched.
#[derive(Clone)]
pub(crate) struct Snapshot {
    pub event: ProviderEvent,
    /// The license key in clear (stored only as its keyed hash), for an entitlement created from the listing or one
    /// stored without a key.
    pub license_key: Option<String>,
    /// Extras for an entitlement created from the listing (a Whop `plan_id`).
    pub extras: Option<Value>,
    /// `whop membership mem_...`: how the audit row names the item.
    pub label: String,
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("event", &self.event)
            .field("license_key", &self.license_key.as_ref().map(|_| "[redacted]"))
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

/// What became of one snapshot.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ItemOutcome {
    /// The store already agrees: nothing written but `synced_at`.
    Unchanged,
    /// Never seen, and it gives no access: not imported.
    Ignored,
    Repaired(Repair),
}

/// Compare `snapshot` with the store and repair the entitlement if the provider's facts differ.
pub(crate) fn reconcile_item(
    store: &Store,
    snapshot: Snapshot,
    observed_at: DateTime<Utc>,
) -> Result<ItemOutcome, StoreError> {
    let provider = snapshot.event.provider;
    let external_id = snapshot.event.external_id.clone();
    let Some(existing) = store.find_entitlement(provider, &external_id)? else {
        let fresh = EntitlementState::new(provider, external_id.clone());
        let after = apply(&fresh, &snapshot.event);
        if !gives_access(&after) {
            return Ok(ItemOutcome::Ignored);
        }
        let detail = differences(&fresh, &after).join("; ");
        let change = EntitlementChange {
            event: snapshot.event,
            license_key: snapshot.license_key,
            extras: snapshot.extras,
        };
        let reason = format!("reconcile: {} not seen before", snapshot.label);
        let created = apply_change(store, Actor::Reconcile, &change, &reason)?;
        store.mark_synced(&created.id, observed_at)?;
        log_repair(&reason, created.id.as_str(), &detail);
        return Ok(ItemOutcome::Repaired(Repair {
            kind: RepairKind::Created,
            entitlement_id: created.id.to_string(),
            external_id,
            detail,
        }));
    };
    let event = restate(snapshot.event, &existing.state);
    let after = apply(&existing.state, &event);
    let changes = differences(&existing.state, &after);
    if changes.is_empty() {
        store.mark_synced(&existing.id, observed_at)?;
        return Ok(ItemOutcome::Unchanged);
    }
    let detail = changes.join("; ");
    let change = EntitlementChange {
        event,
        license_key: snapshot
            .license_key
            .filter(|_| existing.license_key_hash.is_none()),
        extras: None,
    };
    let reason = format!("reconcile: {}", snapshot.label);
    let updated = apply_change(store, Actor::Reconcile, &change, &reason)?;
    store.mark_synced(&updated.id, observed_at)?;
    log_repair(&reason, updated.id.as_str(), &detail);
    Ok(ItemOutcome::Repaired(Repair {
        kind: RepairKind::Changed,
        entitlement_id: updated.id.to_string(),
        external_id,
        detail,
    }))
}

fn log_repair(reason: &str, entitlement_id: &str, detail: &str) {
    log::info!(entitlement_id, detail; "{reason}");
}

/// Adjust a listing's event to what the listing actually knows, given the stored state:
/// - A listing that restates a closed entitlement (revoked by a deactivation or revocation) with the same status,
///   or with a status that denies anyway, keeps it closed: it becomes the deactivation it restates, rather than an
///   `Updated` that would reopen the lifecycle and drop the end reason.
/// - A listing carries no feature list and may omit the customer or product: the recorded ones are kept, so a
///   delivered grant's features are not erased by its own snapshot.
pub(crate) fn restate(mut event: ProviderEvent, before: &EntitlementState) -> ProviderEvent {
    if before.lifecycle == Lifecycle::Revoked
        && let EventKind::Updated {
            status, paid_through, ..
        } = &event.kind
    {
        let same = before
            .status
            .as_deref()
            .is_some_and(|stored| stored.trim().eq_ignore_ascii_case(status.trim()));
        let denies = builtin_class(event.provider, status) == Some(AccessClass::Deny);
        if same || denies {
            event.kind = EventKind::Deactivated {
                reason: before.end_reason.clone(),
                status: Some(status.clone()),
                paid_through: *paid_through,
            };
        }
    }
    if let EventKind::Activated { features, .. } | EventKind::GrantDelivered { features, .. } =
        &mut event.kind
        && features.is_empty()
    {
        features.clone_from(&before.features);
    }
    if event.subject.is_none() {
        event.subject.clone_from(&before.subject);
    }
    if event.product.is_none() {
        event.product.clone_from(&before.product);
    }
    event
}

/// Whether a state gives access by the built-in rules: active, with no status or one that does not deny. Only such
/// items are created from a listing, so a first run does not import every lapsed membership of a company.
pub(crate) fn gives_access(state: &EntitlementState) -> bool {
    state.lifecycle == Lifecycle::Active
        && state
            .status
            .as_deref()
            .is_none_or(|status| builtin_class(state.provider, status) != Some(AccessClass::Deny))
}

/// The fields whose values differ (clocks aside), as `field old -> new`. Empty when the listing agrees.
pub(crate) fn differences(before: &EntitlementState, after: &EntitlementState) -> Vec<String> {
    fn show<T: fmt::Display>(value: Option<&T>) -> String {
        value.map_or_else(|| "-".to_owned(), ToString::to_string)
    }
    fn time(value: Option<DateTime<Utc>>) -> String {
        value.map_or_else(|| "-".to_owned(), |t| t.to_rfc3339())
    }
    let mut out = Vec::new();
    if before.lifecycle != after.lifecycle {
        out.push(format!(
            "lifecycle {} -> {}",
            before.lifecycle.as_str(),
            after.lifecycle.as_str()
        ));
    }
    let pairs = [
        ("status", &before.status, &after.status),
        ("end_reason", &before.end_reason, &after.end_reason),
        ("subject", &before.subject, &after.subject),
        ("product", &before.product, &after.product),
    ];
    for (name, old, new) in pairs {
        if old != new {
            out.push(format!("{name} {} -> {}", show(old.as_ref()), show(new.as_ref())));
        }
    }
    if before.paid_through != after.paid_through {
        out.push(format!(
            "paid_through {} -> {}",
            time(before.paid_through),
            time(after.paid_through)
        ));
    }
    if before.cancel_at_period_end != after.cancel_at_period_end {
        out.push(format!(
            "cancel_at_period_end {} -> {}",
            before.cancel_at_period_end, after.cancel_at_period_end
        ));
    }
    if before.features != after.features {
        out.push(format!(
            "features [{}] -> [{}]",
            before.features.join(","),
            after.features.join(",")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use tollgate_policy::Provider;

    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
    }

    fn event(provider: Provider, kind: EventKind, secs: i64) -> ProviderEvent {
        ProviderEvent {
            provider,
            external_id: "x_1".to_owned(),
            occurred_at: at(secs),
            subject: Some("cus_1".to_owned()),
            product: Some("prod_1".to_owned()),
            kind,
        }
    }

    fn updated(status: &str) -> EventKind {
        EventKind::Updated {
            status: status.to_owned(),
            paid_through: Some(at(1000)),
            cancel_at_period_end: Some(false),
        }
    }

    fn state_after(provider: Provider, kinds: &[EventKind]) -> EntitlementState {
        kinds
            .iter()
            .enumerate()
            .fold(EntitlementState::new(provider, "x_1"), |state, (i, kind)| {
                apply(&state, &event(provider, kind.clone(), i as i64))
            })
    }

    #[test]
    fn a_listing_that_agrees_shows_no_difference_though_its_clock_is_newer() {
        let before = state_after(Provider::Whop, &[updated("active")]);
        let snapshot = restate(event(Provider::Whop, updated("active"), 500), &before);
        let after = apply(&before, &snapshot);
        assert_ne!(after.clocks, before.clocks);
        assert_eq!(differences(&before, &after), Vec::<String>::new());
    }

    #[test]
    fn a_cancellation_at_the_provider_is_a_status_difference() {
        let before = state_after(Provider::Whop, &[updated("active")]);
        let after = apply(
            &before,
            &restate(event(Provider::Whop, updated("canceled"), 500), &before),
        );
        assert_eq!(
            differences(&before, &after),
            vec!["status active -> canceled".to_owned()]
        );
    }

    #[test]
    fn a_closed_entitlement_restated_by_its_listing_stays_closed() {
        let deactivated = EventKind::Deactivated {
            reason: Some("user_canceled".to_owned()),
            status: Some("canceled".to_owned()),
            paid_through: Some(at(1000)),
        };
        let before = state_after(Provider::Whop, &[updated("active"), deactivated]);
        assert_eq!(before.lifecycle, Lifecycle::Revoked);
        for status in ["canceled", "expired"] {
            let snapshot = restate(event(Provider::Whop, updated(status), 500), &before);
            assert_eq!(
                snapshot.kind,
                EventKind::Deactivated {
                    reason: Some("user_canceled".to_owned()),
                    status: Some(status.to_owned()),
                    paid_through: Some(at(1000)),
                }
            );
            let after = apply(&before, &snapshot);
            assert_eq!(after.lifecycle, Lifecycle::Revoked);
        }
        let same = apply(
            &before,
            &restate(event(Provider::Whop, updated("canceled"), 500), &before),
        );
        assert_eq!(differences(&before, &same), Vec::<String>::new());
        // A status that grants again is real drift: the membership came back.
        let back = restate(event(Provider::Whop, updated("active"), 500), &before);
        assert_eq!(back.kind, updated("active"));
        let after = apply(&before, &back);
        assert_eq!(
            differences(&before, &after),
            vec![
                "lifecycle revoked -> active".to_owned(),
                "status canceled -> active".to_owned(),
                "end_reason user_canceled -> -".to_owned(),
            ]
        );
    }

    #[test]
    fn a_delivered_grant_snapshot_keeps_recorded_features_subject_and_product() {
        let delivered = |features: Vec<String>| EventKind::GrantDelivered {
            paid_through: None,
            features,
        };
        let before = state_after(Provider::Dodo, &[delivered(vec!["pro".to_owned()])]);
        let mut listed = event(Provider::Dodo, delivered(Vec::new()), 500);
        listed.subject = None;
        listed.product = None;
        let snapshot = restate(listed, &before);
        assert_eq!(snapshot.subject.as_deref(), Some("cus_1"));
        assert_eq!(snapshot.product.as_deref(), Some("prod_1"));
        let after = apply(&before, &snapshot);
        assert_eq!(after.features, vec!["pro".to_owned()]);
        assert_eq!(differences(&before, &after), Vec::<String>::new());
    }

    #[test]
    fn only_items_that_give_access_are_created() {
        let new = |kinds: &[EventKind]| gives_access(&state_after(Provider::Whop, kinds));
        assert!(new(&[updated("active")]));
        assert!(new(&[updated("past_due")]), "grace still gives access");
        assert!(new(&[updated("some_new_status")]), "unknown is grace, not deny");
        assert!(!new(&[updated("canceled")]));
        assert!(!new(&[updated("expired")]));
        assert!(!gives_access(&state_after(
            Provider::Dodo,
            &[EventKind::GrantPending]
        )));
        assert!(!gives_access(&state_after(
            Provider::Dodo,
            &[EventKind::Revoked { reason: None }]
        )));
        assert!(gives_access(&state_after(
            Provider::Dodo,
            &[EventKind::GrantDelivered {
                paid_through: None,
                features: Vec::new()
            }]
        )));
    }
}
