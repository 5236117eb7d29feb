//! How a change a provider reported becomes an entitlement's new state, and the audit text it leaves: the fold.
//!
//! Every path that folds a provider's change goes through here: a webhook batch (group commit, [`record_webhooks`]),
//! a replay of a stored delivery ([`apply_inbox_changes`]), a provider's answer at activation
//! ([`apply_provider_answer`]) and a reconciliation repair ([`apply_change`]). The fold itself is
//! `tollgate_policy::apply`; this module turns it into the store's writes, through one `Store::write` unit of work
//! each: lock (or create) the entitlement, fold in memory, save it, and write its audit row (with the text of
//! `describe_change`). The store decides nothing and calls no policy rule.

mod fold;
mod webhooks;

use chrono::{DateTime, Utc};
use tollgate_store::{
    Actor, Entitlement, EntitlementChange, InboxId, InboxStatus, Store, StoreError, WriteTx,
};

use fold::{Fold, fold_into, log_folded};
pub use webhooks::{record_webhook, record_webhooks};

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
pub fn apply_change(
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

/// Replay a stored delivery with its (re-)parsed changes, in one unit of work: each change is folded and audited as
/// by the original delivery, in the order given (each entitlement locked in turn), the row becomes `processed`
/// (linked to the first change's entitlement; `ignored` when there is none) and its attempts go up by one. The
/// entitlements as they are now, in order.
///
/// It locks the inbox row first, then the entitlements: the reverse of a webhook batch, yet they cannot deadlock
/// (see `WriteTx::lock_inbox_event`).
pub fn apply_inbox_changes(
    store: &Store,
    inbox_id: InboxId,
    changes: &[EntitlementChange],
) -> Result<Vec<Entitlement>, StoreError> {
    Ok(store.write(|tx| {
        if !tx.lock_inbox_event(inbox_id)? {
            return Err(StoreError::NotFound {
                entity: "inbox event",
                id: inbox_id.to_string(),
            });
        }
        let mut entitlements = Vec::with_capacity(changes.len());
        for change in changes {
            entitlements.push(fold_one(
                tx,
                &Fold {
                    change,
                    actor: Actor::Replay,
                    reason: None,
                    inbox_id: Some(inbox_id),
                    merge_extras: false,
                    synced_at: None,
                },
            )?);
        }
        let first = entitlements.first().map(|e| &e.id);
        let status = match first {
            Some(_) => InboxStatus::Processed,
            None => InboxStatus::Ignored,
        };
        tx.settle_inbox_event(inbox_id, status, first)?;
        for entitlement in &entitlements {
            tx.mark_changed(&entitlement.id);
        }
        Ok(entitlements)
    })?)
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
    log_folded(entitlement, &folded, fold.change);
    let after = entitlement.to_entitlement(tx.keys())?;
    tx.save_entitlements(locked)?;
    tx.insert_audit(&folded.audit)?;
    Ok(after)
}
