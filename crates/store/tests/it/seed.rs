//! Test data written with the store's own persistence steps, one `Store::write` each: the tests here check what the
//! store keeps and finds, so they set up their rows the way any caller would, through `WriteTx`, and decide
//! nothing. (How a provider's change becomes an entitlement's state and audit text, and which devices are admitted
//! or may transfer, is the service's: `tollgate_service::entitlement_change` and `tollgate_service::license`,
//! tested over a real store in the service's suite.)

use chrono::{DateTime, Utc};
use tollgate_policy::EntitlementState;
use tollgate_store::{
    Actor, Device, DeviceId, Entitlement, EntitlementChange, EntitlementId, EntitlementUpdate, HwidHash,
    InboxEffect, InboxId, InboxInsert, InboxStatus, NewAudit, NewDevice, NewInboxEvent, RecordOutcome,
    SealedDelivery, Store, StoreError, Transfer, WriteTx,
};

fn not_found(entity: &'static str, id: &str) -> StoreError {
    StoreError::NotFound {
        entity,
        id: id.to_owned(),
    }
}

/// Inside a unit of work: store the entitlement the change's event names (locked, or created if new) in the state
/// that event alone gives a new entitlement (`tollgate_policy::apply` from `EntitlementState::new`: the model's rule,
/// with none of the service's fold around it), with the change's license key and extras, the version up by one, and
/// one audit row (`event.<kind>`, `actor`, `detail`, `inbox_id`). The entitlement as stored.
fn put_change_in(
    tx: &mut WriteTx<'_>,
    actor: Actor,
    change: &EntitlementChange,
    detail: &str,
    inbox_id: Option<InboxId>,
) -> Result<Entitlement, StoreError> {
    let event = &change.event;
    let key = (event.provider.as_str(), event.external_id.as_str());
    let state = &tollgate_policy::apply(
        &EntitlementState::new(event.provider, event.external_id.clone()),
        event,
    );
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
    let entitlement = locked
        .get_mut(&key)
        .ok_or_else(|| not_found("entitlement", &event.external_id))?;
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
        inbox_id,
    })?;
    tx.mark_changed(&stored.id);
    Ok(stored)
}

/// [`put_change_in`] in its own unit of work: the steps of `WriteTx` a caller composes (`lock_entitlements`,
/// `insert_missing`, `save_entitlements`, `insert_audit`).
pub fn put_change(
    store: &Store,
    actor: Actor,
    change: &EntitlementChange,
    detail: &str,
) -> Result<Entitlement, StoreError> {
    Ok(store.write(|tx| put_change_in(tx, actor, change, detail, None))?)
}

/// Insert a delivery's inbox row (`WriteTx::insert_inbox`), in one unit of work: with a change, the entitlement is
/// written first ([`put_change_in`], audited as `webhook`) and the row is `processed` and names it; without one, the
/// row is `ignored` or `failed` as the effect says. A delivery whose dedupe or semantic key is taken writes nothing
/// and is a [`RecordOutcome::Duplicate`] of the stored row (`WriteTx::find_inbox_duplicates`).
pub fn put_inbox_event(
    store: &Store,
    event: &NewInboxEvent,
    effect: impl Into<InboxEffect>,
) -> Result<RecordOutcome, StoreError> {
    let effect = effect.into();
    let delivery = SealedDelivery::new(store.keys(), event, &effect)?;
    let written = store.write(|tx| {
        let entitlement = match delivery.changes() {
            [] => None,
            [change] => Some(put_change_in(tx, Actor::Webhook, change, "webhook", None)?),
            _ => {
                return Err(StoreError::Conflict {
                    entity: "inbox",
                    reason: "put_inbox_event writes at most one change".to_owned(),
                });
            }
        };
        let ids = tx.insert_inbox(&[InboxInsert {
            delivery: &delivery,
            entitlement_id: entitlement.as_ref().map(|e| e.id.as_str()),
        }])?;
        match (ids.into_iter().next().flatten(), entitlement) {
            (Some(inbox_id), Some(entitlement)) => Ok(RecordOutcome::Applied {
                inbox_id,
                entitlement: Box::new(entitlement),
            }),
            (Some(inbox_id), None) => Ok(RecordOutcome::Stored {
                inbox_id,
                status: match effect {
                    InboxEffect::Fail(_) => InboxStatus::Failed,
                    _ => InboxStatus::Ignored,
                },
            }),
            // A duplicate: roll back what was written for it, and look its stored row up below.
            (None, _) => Err(not_found("new inbox row", &event.dedupe_key)),
        }
    });
    match written {
        Ok(outcome) => Ok(outcome),
        Err(error)
            if matches!(
                error.store_error(),
                StoreError::NotFound {
                    entity: "new inbox row",
                    ..
                }
            ) =>
        {
            let mut found = store.write(|tx| tx.find_inbox_duplicates(&[event]))?;
            let inbox_id = found
                .pop()
                .ok_or_else(|| not_found("inbox event", &event.dedupe_key))?;
            Ok(RecordOutcome::Duplicate { inbox_id })
        }
        Err(error) => Err(error.into()),
    }
}

/// Write a stored delivery's change again, in one unit of work: the inbox row locked, the entitlement written
/// ([`put_change_in`], audited as `replay` and linked to the row), and the row settled `processed`.
pub fn put_inbox_change(
    store: &Store,
    inbox_id: InboxId,
    change: &EntitlementChange,
) -> Result<Entitlement, StoreError> {
    Ok(store.write(|tx| {
        if !tx.lock_inbox_event(inbox_id)? {
            return Err(not_found("inbox event", &inbox_id.to_string()));
        }
        let entitlement = put_change_in(tx, Actor::Replay, change, "replay", Some(inbox_id))?;
        tx.settle_inbox_event(inbox_id, InboxStatus::Processed, Some(&entitlement.id))?;
        Ok(entitlement)
    })?)
}

fn device_audit(device: &Device, actor: Actor, action: &str, at: DateTime<Utc>) -> NewAudit {
    NewAudit {
        entitlement_id: Some(device.entitlement_id.clone()),
        device_id: Some(device.id.clone()),
        at,
        actor,
        action: action.to_owned(),
        detail: None,
        inbox_id: None,
    }
}

/// A device row for a raw hwid (the store keeps only its keyed hash).
#[derive(Debug, Clone, Copy)]
pub struct DeviceRow<'a> {
    pub hwid: &'a str,
    pub name: Option<&'a str>,
    pub instance_id: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// Insert a device on a stored entitlement (locked first; it must exist), with its `device.activated` audit row, in
/// one unit of work (`WriteTx::lock`, `insert_device`, `insert_audit`).
pub fn put_device(
    store: &Store,
    entitlement_id: &EntitlementId,
    device: &DeviceRow<'_>,
) -> Result<Device, StoreError> {
    let hwid_hash = store.hash_hwid(device.hwid);
    Ok(store.write(|tx| {
        if !tx.lock(entitlement_id)? {
            return Err(not_found("entitlement", entitlement_id.as_str()));
        }
        let inserted = tx.insert_device(
            entitlement_id,
            &NewDevice {
                hwid_hash: &hwid_hash,
                name: device.name,
                instance_id: device.instance_id,
                now: device.now,
            },
        )?;
        tx.insert_audit(&device_audit(
            &inserted,
            Actor::Activation,
            "device.activated",
            device.now,
        ))?;
        Ok(inserted)
    })?)
}

/// Delete the device with this hwid hash from an entitlement, with a `device.removed` audit row, in one unit of
/// work (`WriteTx::find_device`, `delete_device`, `insert_audit`). `None` when there is no such device.
pub fn delete_device(
    store: &Store,
    entitlement_id: &EntitlementId,
    hwid_hash: &HwidHash,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Option<Device>, StoreError> {
    Ok(store.write(|tx| {
        let Some(device) = tx.find_device(entitlement_id, hwid_hash)? else {
            return Ok(None);
        };
        tx.delete_device(&device)?;
        tx.insert_audit(&device_audit(&device, actor, "device.removed", now))?;
        Ok(Some(device))
    })?)
}

/// Delete a device by id, with a `device.removed` audit row, in one unit of work (`WriteTx::find_device_by_id`,
/// `delete_device`, `insert_audit`). `None` when there is no such device.
pub fn delete_device_by_id(
    store: &Store,
    device_id: &DeviceId,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Option<Device>, StoreError> {
    Ok(store.write(|tx| {
        let Some(device) = tx.find_device_by_id(device_id)? else {
            return Ok(None);
        };
        tx.delete_device(&device)?;
        tx.insert_audit(&device_audit(&device, actor, "device.removed", now))?;
        Ok(Some(device))
    })?)
}

/// Delete a device and record its transfer, with a `device.transferred` audit row, in one unit of work
/// (`WriteTx::lock`, `find_device`, `delete_device`, `insert_transfer`, `insert_audit`). `None` when there is no
/// such device.
pub fn put_transfer(
    store: &Store,
    entitlement_id: &EntitlementId,
    hwid_hash: &HwidHash,
    now: DateTime<Utc>,
) -> Result<Option<Device>, StoreError> {
    Ok(store.write(|tx| {
        if !tx.lock(entitlement_id)? {
            return Err(not_found("entitlement", entitlement_id.as_str()));
        }
        let Some(device) = tx.find_device(entitlement_id, hwid_hash)? else {
            return Ok(None);
        };
        tx.delete_device(&device)?;
        tx.insert_transfer(&Transfer {
            entitlement_id: entitlement_id.clone(),
            from_hwid_hash: hwid_hash.clone(),
            at: now,
        })?;
        tx.insert_audit(&device_audit(
            &device,
            Actor::Deactivation,
            "device.transferred",
            now,
        ))?;
        Ok(Some(device))
    })?)
}
