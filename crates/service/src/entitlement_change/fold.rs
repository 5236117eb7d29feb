//! The fold of one change into a locked entitlement, in memory, and the audit text it leaves.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use tollgate_policy::{EntitlementState, Lifecycle};
use tollgate_store::{
    Actor, EntitlementChange, EntitlementUpdate, InboxId, LockedEntitlement, NewAudit, StoreError, StoreKeys,
};

/// One change to fold inside a unit of work, with what it is audited as.
pub(super) struct Fold<'a> {
    pub(super) change: &'a EntitlementChange,
    pub(super) actor: Actor,
    /// Prefixed to the audit detail.
    pub(super) reason: Option<&'a str>,
    pub(super) inbox_id: Option<InboxId>,
    /// The change's extras (a JSON object) are merged into the stored ones key by key instead of replacing them.
    pub(super) merge_extras: bool,
    /// The provider was consulted at this time (`synced_at`), written in the same update.
    pub(super) synced_at: Option<DateTime<Utc>>,
}

/// A change folded in memory: the audit row to write for it, and the lifecycle it left.
pub(super) struct Folded {
    pub(super) audit: NewAudit,
    pub(super) lifecycle: Lifecycle,
}

/// Fold one change into a locked entitlement in memory: the policy fold (`tollgate_policy::apply`), the license key,
/// the extras, `synced_at`, the version up by one and `updated_at = at`. Returns the audit row to write for it. It
/// logs nothing: a new entitlement is folded twice (once into the row it is inserted as, see
/// `WriteTx::insert_missing`), so the callers log the folds that count ([`log_folded`]).
pub(super) fn fold_into(
    keys: &StoreKeys,
    entitlement: &mut LockedEntitlement,
    fold: &Fold<'_>,
    at: DateTime<Utc>,
) -> Result<Folded, StoreError> {
    let Fold {
        change,
        actor,
        reason,
        inbox_id,
        merge_extras,
        synced_at,
    } = *fold;
    let event = &change.event;
    let before = entitlement.state()?;
    let after = tollgate_policy::apply(&before, event);
    let extras = match &change.extras {
        Some(extras) if merge_extras => match entitlement.extras(keys)? {
            Some(stored) => Some(Cow::Owned(merged(stored, extras))),
            None => Some(Cow::Borrowed(extras)),
        },
        Some(extras) => Some(Cow::Borrowed(extras)),
        None => None,
    };
    entitlement.update(
        keys,
        &EntitlementUpdate {
            state: &after,
            license_key: change.license_key.as_deref(),
            extras: extras.as_deref(),
            synced_at,
            at,
        },
    )?;
    let mut detail = describe_change(&before, &after);
    if let Some(reason) = reason {
        detail = format!("{reason}: {detail}");
    }
    Ok(Folded {
        audit: NewAudit {
            entitlement_id: Some(entitlement.id()),
            device_id: None,
            at,
            actor,
            action: format!("event.{}", event.kind.name()),
            detail: Some(detail),
            inbox_id,
        },
        lifecycle: after.lifecycle,
    })
}

/// The debug line for a change folded into `entitlement` (after [`fold_into`]).
pub(super) fn log_folded(entitlement: &LockedEntitlement, folded: &Folded, change: &EntitlementChange) {
    log::debug!(
        entitlement_id = entitlement.id_str(),
        provider = change.event.provider.as_str(),
        status = folded.lifecycle.as_str(),
        event_type = change.event.kind.name();
        "entitlement updated"
    );
}

/// `update`'s keys over `stored`'s when both are JSON objects; otherwise `update` alone.
fn merged(stored: serde_json::Value, update: &serde_json::Value) -> serde_json::Value {
    match (stored, update) {
        (serde_json::Value::Object(mut stored), serde_json::Value::Object(update)) => {
            stored.extend(update.iter().map(|(k, v)| (k.clone(), v.clone())));
            serde_json::Value::Object(stored)
        }
        (_, update) => update.clone(),
    }
}

/// A short, secret-free account of what changed, for the audit trail.
pub(super) fn describe_change(before: &EntitlementState, after: &EntitlementState) -> String {
    fn show<T: std::fmt::Display>(value: &Option<T>) -> String {
        value.as_ref().map_or_else(|| "-".to_owned(), ToString::to_string)
    }
    let mut parts = Vec::new();
    if before.lifecycle != after.lifecycle {
        parts.push(format!(
            "lifecycle {} -> {}",
            before.lifecycle.as_str(),
            after.lifecycle.as_str()
        ));
    }
    if before.status != after.status {
        parts.push(format!(
            "status {} -> {}",
            show(&before.status),
            show(&after.status)
        ));
    }
    if before.paid_through != after.paid_through {
        parts.push(format!(
            "paid_through {} -> {}",
            show(&before.paid_through.map(|t| t.to_rfc3339())),
            show(&after.paid_through.map(|t| t.to_rfc3339()))
        ));
    }
    if before.cancel_at_period_end != after.cancel_at_period_end {
        parts.push(format!(
            "cancel_at_period_end {} -> {}",
            before.cancel_at_period_end, after.cancel_at_period_end
        ));
    }
    if before.end_reason != after.end_reason {
        parts.push(format!(
            "end_reason {} -> {}",
            show(&before.end_reason),
            show(&after.end_reason)
        ));
    }
    if before.product != after.product || before.subject != after.subject || before.features != after.features
    {
        parts.push("details updated".to_owned());
    }
    if parts.is_empty() {
        "no change (an older or repeated event)".to_owned()
    } else {
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use tollgate_policy::Provider;

    use super::*;

    #[test]
    fn change_description_names_fields_not_secrets() {
        let before = EntitlementState::new(Provider::Whop, "mem_1");
        let mut after = before.clone();
        after.lifecycle = Lifecycle::Active;
        after.status = Some("active".to_owned());
        assert_eq!(
            describe_change(&before, &after),
            "lifecycle pending -> active; status - -> active"
        );
        assert_eq!(
            describe_change(&before, &before),
            "no change (an older or repeated event)"
        );
    }
}
