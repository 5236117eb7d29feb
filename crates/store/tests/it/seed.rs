//! Test data written with the store's own persistence steps, one `Store::write` each: the tests here check what the
//! store keeps and finds, so they set up their rows the way any caller would, through `WriteTx`, and fold nothing.
//! (How a provider's change becomes an entitlement's state and audit text is the service's fold,
//! `tollgate_service::entitlement_change`, tested over a real store in the service's suite.)

use tollgate_policy::EntitlementState;
use tollgate_store::{
    Actor, Entitlement, EntitlementChange, EntitlementUpdate, InboxEffect, InboxId, InboxInsert, NewAudit,
    NewInboxEvent, SealedDelivery, Store, StoreError,
};

/// Store the entitlement the change's event names (locked, or created if new) in the state that event alone gives
/// a new entitlement (`tollgate_policy::apply` from `EntitlementState::new`: the model's rule, with none of the
/// service's fold around it), with the change's license key and extras, the version up by one, and one audit row
/// (`event.<kind>`, `actor`, `detail`). These are the steps of `WriteTx` a caller composes (`lock_entitlements`,
/// `insert_missing`, `save_entitlements`, `insert_audit`). The entitlement as stored.
pub fn put_change(
    store: &Store,
    actor: Actor,
    change: &EntitlementChange,
    detail: &str,
) -> Result<Entitlement, StoreError> {
    let event = &change.event;
    let state = &tollgate_policy::apply(
        &EntitlementState::new(event.provider, event.external_id.clone()),
        event,
    );
    let key = (event.provider.as_str(), event.external_id.as_str());
    Ok(store.write(|tx| {
        let at = tx.now();
        let update = EntitlementUpdate {
            state,
            license_key: change.license_key.as_deref(),
            extras: change.extras.as_ref(),
            synced_at: None,
            at,
        };
        let mut locked = tx.lock_entitlements([key])?;
        // A new entitlement is inserted with the update already in it (and not written again).
        for (_, fresh) in locked.missing_mut() {
            fresh.update(tx.keys(), &update)?;
        }
        tx.insert_missing(&mut locked)?;
        let entitlement = locked.get_mut(&key).ok_or_else(|| StoreError::NotFound {
            entity: "entitlement",
            id: event.external_id.clone(),
        })?;
        entitlement.update(tx.keys(), &update)?;
        let stored = entitlement.to_entitlement(tx.keys())?;
        tx.save_entitlements(locked)?;
        tx.insert_audit(&NewAudit {
            entitlement_id: Some(stored.id.clone()),
            device_id: None,
            at,
            actor,
            action: format!("event.{}", event.kind.name()),
            detail: Some(detail.to_owned()),
            inbox_id: None,
        })?;
        tx.mark_changed(&stored.id);
        Ok(stored)
    })?)
}

/// Insert a delivery's inbox row with the final status of an effect that applies nothing (`ignored` or `failed`),
/// through `WriteTx::insert_inbox`. Its id, or `None` when its dedupe or semantic key was taken.
pub fn put_inbox_event(
    store: &Store,
    event: &NewInboxEvent,
    effect: &InboxEffect,
) -> Result<Option<InboxId>, StoreError> {
    assert!(
        effect.changes().is_empty(),
        "put_inbox_event stores rows that apply nothing"
    );
    let delivery = SealedDelivery::new(store.keys(), event, effect)?;
    let mut ids = store.write(|tx| {
        tx.insert_inbox(&[InboxInsert {
            delivery: &delivery,
            entitlement_id: None,
        }])
    })?;
    Ok(ids.pop().flatten())
}
