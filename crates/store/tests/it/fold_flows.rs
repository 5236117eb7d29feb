//! The fold the service runs (`tollgate_service::entitlement_change`), written here over `Store::write` with the
//! policy's `apply`, exactly as the service composes it: lock (or create) the entitlements, fold in memory, save
//! them, write the audit rows (with the service's wording), and for a webhook delivery insert its inbox row under
//! its unique keys in the same unit of work. The store itself folds nothing; these tests drive its unit of work
//! the way the service does (as `device_flows` does for the device rules).

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use tollgate_policy::EntitlementState;
use tollgate_store::{
    Actor, Entitlement, EntitlementChange, EntitlementUpdate, InboxId, LockedEntitlement, NewAudit, Store,
    StoreError, StoreKeys, WriteTx,
};

/// The service's fold as methods on `Store`, each one unit of work.
pub trait FoldFlows {
    /// A change that did not come through the inbox, with its audit row (`entitlement_change::apply_change`).
    fn apply_change(
        &self,
        actor: Actor,
        change: &EntitlementChange,
        reason: &str,
    ) -> Result<Entitlement, StoreError>;
}

impl FoldFlows for Store {
    fn apply_change(
        &self,
        actor: Actor,
        change: &EntitlementChange,
        reason: &str,
    ) -> Result<Entitlement, StoreError> {
        apply_change(self, actor, change, reason)
    }
}

/// One change to fold inside a unit of work, with what it is audited as.
struct Fold<'a> {
    change: &'a EntitlementChange,
    actor: Actor,
    /// Prefixed to the audit detail.
    reason: Option<&'a str>,
    inbox_id: Option<InboxId>,
    /// The change's extras (a JSON object) are merged into the stored ones key by key instead of replacing them.
    merge_extras: bool,
    /// The provider was consulted at this time (`synced_at`), written in the same update.
    synced_at: Option<DateTime<Utc>>,
}

/// A change folded in memory: the audit row to write for it.
struct Folded {
    audit: NewAudit,
}

/// Fold one change into a locked entitlement in memory: the policy fold (`tollgate_policy::apply`), the license key,
/// the extras, `synced_at`, the version up by one and `updated_at = at`. Returns the audit row to write for it. It
/// logs nothing: a new entitlement is folded twice (once into the row it is inserted as, see
/// `WriteTx::insert_missing`), so the callers count only the second.
fn fold_into(
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
    })
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
fn describe_change(before: &EntitlementState, after: &EntitlementState) -> String {
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

/// What a provider just said about an entitlement, to be stored as fact: the change is folded in (audited as
/// `actor`, with `reason` before the detail, exactly as [`apply_change`] does) and the entitlement is marked synced
/// at `synced_at`, in the same update.
#[derive(Debug, Clone, Copy)]
pub struct ProviderAnswer<'a> {
    pub change: &'a EntitlementChange,
    pub actor: Actor,
    pub reason: &'a str,
    /// The change's extras (a JSON object) are merged into the stored ones key by key, instead of replacing them:
    /// an answer that names only the plan keeps what webhooks stored beside it.
    pub merge_extras: bool,
    pub synced_at: DateTime<Utc>,
}

/// Fold a change that did not come through the inbox (reconciliation, validation, admin), with an audit row, in one
/// unit of work. Creates the entitlement if it is new.
fn apply_change(
    store: &Store,
    actor: Actor,
    change: &EntitlementChange,
    reason: &str,
) -> Result<Entitlement, StoreError> {
    let fold = Fold {
        change,
        actor,
        reason: Some(reason),
        inbox_id: None,
        merge_extras: false,
        synced_at: None,
    };
    Ok(store.write(|tx| {
        let entitlement = fold_one(tx, &fold)?;
        tx.mark_changed(&entitlement.id);
        Ok(entitlement)
    })?)
}

/// Inside the caller's unit of work: store a provider's answer as fact (see [`ProviderAnswer`]): lock (or create)
/// the entitlement, fold the change in, mark it synced, save it and write its audit row. Returns the entitlement
/// after the change.
pub fn apply_provider_answer(
    tx: &mut WriteTx<'_>,
    answer: &ProviderAnswer<'_>,
) -> Result<Entitlement, StoreError> {
    let entitlement = fold_one(
        tx,
        &Fold {
            change: answer.change,
            actor: answer.actor,
            reason: Some(answer.reason),
            inbox_id: None,
            merge_extras: answer.merge_extras,
            synced_at: Some(answer.synced_at),
        },
    )?;
    tx.mark_changed(&entitlement.id);
    Ok(entitlement)
}

/// Inside a unit of work: lock (or create) one entitlement, fold the change in, save it with a bumped version, and
/// write its audit row: a webhook batch of one change, without the inbox. Returns the entitlement after the change.
/// (The caller marks it changed.)
fn fold_one(tx: &mut WriteTx<'_>, fold: &Fold<'_>) -> Result<Entitlement, StoreError> {
    let at = tx.now();
    let event = &fold.change.event;
    let key = (event.provider.as_str(), event.external_id.as_str());
    let mut locked = tx.lock_entitlements([key])?;
    // A new entitlement is inserted with this fold already in it (and not written again).
    for (_, fresh) in locked.missing_mut() {
        fold_into(tx.keys(), fresh, fold, at)?;
    }
    tx.insert_missing(&mut locked)?;
    let entitlement = locked.get_mut(&key).ok_or_else(|| StoreError::NotFound {
        entity: "entitlement",
        id: event.external_id.clone(),
    })?;
    let folded = fold_into(tx.keys(), entitlement, fold, at)?;
    let after = entitlement.to_entitlement(tx.keys())?;
    tx.save_entitlements(locked)?;
    tx.insert_audit(&folded.audit)?;
    Ok(after)
}
