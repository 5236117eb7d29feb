//! Group commit's unit of work: many webhook deliveries stored and folded in one transaction, each with its own
//! result, in a handful of statements whatever the batch size.

use std::collections::BTreeMap;
use std::time::Instant;

use tollgate_store::{
    Actor, EntitlementChange, EntitlementKey, InboxEffect, InboxInsert, InboxStatus, NewInboxEvent,
    RecordOutcome, SealedDelivery, Store, StoreError, WriteError, WriteTx,
};

use super::fold::{Fold, fold_into, log_folded};

/// Store a delivery and act on it, in one unit of work: a duplicate (same dedupe or semantic key) writes nothing
/// and returns [`RecordOutcome::Duplicate`]; otherwise, for [`InboxEffect::Apply`], the entitlement is locked
/// (created if new), the event folded, the entitlement saved and an audit row written, and the inbox row is inserted
/// `processed` (`ignored` or `failed` for the other effects). Accepts `Option<EntitlementChange>` (`None` = ignore).
/// It is a batch of one of [`record_webhooks`]: the same code and the same lock order.
pub fn record_webhook(
    store: &Store,
    event: &NewInboxEvent,
    effect: impl Into<InboxEffect>,
) -> Result<RecordOutcome, StoreError> {
    let effect = effect.into();
    let started = Instant::now();
    let delivery = [SealedDelivery::new(store.keys(), event, &effect)?];
    let outcome = match store.write(|tx| write_batch(tx, &delivery)) {
        // A deadlock's victim was rolled back whole: the delivery is stored again, once. The rare cycle is an
        // entitlement created by another transaction between this one's lock and its insert
        // (`WriteTx::lock_entitlements`); by now that transaction has committed, so the retry finds the row.
        Err(WriteError::RolledBack(error)) if error.is_deadlock() => {
            log::info!(
                provider = event.provider.as_str(),
                event_type = event.event_type.as_str();
                "a webhook delivery was a deadlock's victim and was rolled back; storing it again: {error}"
            );
            store.write(|tx| write_batch(tx, &delivery))?
        }
        written => written?,
    }
    .pop()
    .ok_or_else(|| StoreError::NotFound {
        entity: "inbox event",
        id: event.dedupe_key.clone(),
    })?;
    recorded(event, &outcome, started);
    Ok(outcome)
}

/// Store many deliveries and act on them in ONE unit of work; the results come back in input order, one per
/// delivery, each exactly what [`record_webhook`] would have returned for it.
///
/// Within the transaction the batch runs a handful of statements whatever its size (see [`write_batch`]): its
/// entitlements are locked first, then every row is inserted with its final status, then every change is folded in
/// memory in entitlement order and saved. A second delivery with the dedupe key of an earlier one in the same batch
/// is a [`RecordOutcome::Duplicate`] of it; of two with the same semantic key, the one with the smaller dedupe key
/// is stored.
///
/// If any delivery fails, or the commit does (a PostgreSQL deadlock, a corrupt row), the whole batch is rolled back
/// and every delivery is stored again in its own transaction: each gets its own true result, and one bad delivery
/// never fails its neighbours. If the error is [`StoreError::Unavailable`] (no connection, no write lock or row lock
/// within the timeouts, the database gone), every delivery gets it instead: each would only wait that timeout
/// again, and the answer must stay within the timeouts. An `Ok` result is returned only after its transaction has
/// committed.
pub fn record_webhooks(
    store: &Store,
    batch: &[(NewInboxEvent, InboxEffect)],
) -> Vec<Result<RecordOutcome, StoreError>> {
    match batch {
        [] => return Vec::new(),
        [(event, effect)] => return vec![record_webhook(store, event, effect.clone())],
        _ => {}
    }
    let started = Instant::now();
    match record_in_one_transaction(store, batch) {
        Ok(outcomes) => batch
            .iter()
            .zip(outcomes)
            .map(|((event, _), outcome)| {
                recorded(event, &outcome, started);
                Ok(outcome)
            })
            .collect(),
        // No connection, or the write lock not granted within the busy timeout: nothing ran, and storing each
        // delivery alone would only wait that long again for each. Every delivery gets the error (503).
        Err(WriteError::NotStarted(error)) => batch.iter().map(|_| Err(error.clone())).collect(),
        // The database went away or a lock wait timed out: storing each delivery alone would wait as long again
        // for each. Nothing was written; every delivery gets the error (503, the provider retries).
        Err(WriteError::RolledBack(error)) if error.is_unavailable() => {
            batch.iter().map(|_| Err(error.clone())).collect()
        }
        Err(WriteError::RolledBack(error)) => {
            log::warn!(
                batch = batch.len();
                "a webhook batch was rolled back, storing each delivery on its own: {error}"
            );
            batch
                .iter()
                .map(|(event, effect)| record_webhook(store, event, effect.clone()))
                .collect()
        }
        Err(error) => batch.iter().map(|_| Err(error.store_error().clone())).collect(),
    }
}

/// Every delivery in one unit of work ([`write_batch`]); the outcomes in input order. Any error rolls it all back.
fn record_in_one_transaction(
    store: &Store,
    batch: &[(NewInboxEvent, InboxEffect)],
) -> Result<Vec<RecordOutcome>, WriteError> {
    let keys = store.keys();
    let sealed = batch
        .iter()
        .map(|(event, effect)| SealedDelivery::new(keys, event, effect))
        .collect::<Result<Vec<_>, _>>()
        .map_err(WriteError::RolledBack)?;
    store.write(|tx| write_batch(tx, &sealed))
}

/// Store and act on every delivery inside the caller's unit of work, in a handful of statements whatever the batch
/// size; the outcomes in input order. The entitlements it applied a delivery to are marked changed, so
/// `Store::write` bumps their versions after the commit.
///
/// 1. Lock (or create) every entitlement an [`InboxEffect::Apply`] delivery names, in (provider, external id) order
///    (`WriteTx::lock_entitlements`; a missing one is inserted with the changes expected for it already folded in,
///    `WriteTx::insert_missing`).
/// 2. Insert every inbox row in one `INSERT .. ON CONFLICT DO NOTHING RETURNING`, in (provider, dedupe key) order
///    (`SealedDelivery::insert_order`), each with its final status (`WriteTx::insert_inbox`). A row not inserted is
///    a duplicate: of a stored row, or of an earlier row of the batch. The duplicates' rows are found with one
///    `SELECT` per provider (`WriteTx::find_inbox_duplicates`).
/// 3. Fold the stored `Apply` deliveries in memory, by entitlement and then row order, exactly as one by one.
/// 4. Save every changed entitlement in one upsert, and write every audit row in one insert.
fn write_batch(
    tx: &mut WriteTx<'_>,
    sealed: &[SealedDelivery<'_>],
) -> Result<Vec<RecordOutcome>, StoreError> {
    let at = tx.now();
    let order = SealedDelivery::insert_order(sealed);
    // Each entitlement's changes in the order step 3 folds them, assuming none is a duplicate: a new entitlement
    // is inserted with them folded in, and not written again if that holds.
    let mut expected: BTreeMap<EntitlementKey<'_>, Vec<&EntitlementChange>> = BTreeMap::new();
    for change in order.iter().flat_map(|&index| sealed[index].changes()) {
        expected.entry(key_of(change)).or_default().push(change);
    }
    let mut locked = tx.lock_entitlements(expected.keys().copied())?;
    for (key, fresh) in locked.missing_mut() {
        for change in expected.get(&key).map_or(&[][..], Vec::as_slice) {
            fold_into(tx.keys(), fresh, &webhook_fold(change, None), at)?;
        }
    }
    tx.insert_missing(&mut locked)?;
    let inbox_ids = {
        let inserts: Vec<InboxInsert<'_>> = order
            .iter()
            .map(|&index| {
                let delivery = &sealed[index];
                let entitlement_id = delivery
                    .changes()
                    .first()
                    .and_then(|change| locked.get(&key_of(change)))
                    .map(|locked| locked.id_str());
                InboxInsert {
                    delivery,
                    entitlement_id,
                }
            })
            .collect();
        tx.insert_inbox(&inserts)?
    };
    let mut outcomes: Vec<Option<RecordOutcome>> = vec![None; sealed.len()];
    let mut to_apply = Vec::new();
    let mut duplicates = Vec::new();
    for (&index, inbox_id) in order.iter().zip(inbox_ids) {
        let delivery = &sealed[index];
        let Some(inbox_id) = inbox_id else {
            duplicates.push(index);
            continue;
        };
        match delivery.effect() {
            InboxEffect::Apply(_) | InboxEffect::ApplyAll(_) if !delivery.changes().is_empty() => {
                for change in delivery.changes() {
                    to_apply.push((index, inbox_id, change));
                }
            }
            InboxEffect::Apply(_)
            | InboxEffect::ApplyAll(_)
            | InboxEffect::Ignore
            | InboxEffect::IgnoreNoted(_) => {
                outcomes[index] = Some(RecordOutcome::Stored {
                    inbox_id,
                    status: InboxStatus::Ignored,
                });
            }
            InboxEffect::Fail(_) => {
                outcomes[index] = Some(RecordOutcome::Stored {
                    inbox_id,
                    status: InboxStatus::Failed,
                });
            }
        }
    }
    let duplicate_events: Vec<&NewInboxEvent> =
        duplicates.iter().map(|&index| sealed[index].event()).collect();
    let found = tx.find_inbox_duplicates(&duplicate_events)?;
    for (&index, inbox_id) in duplicates.iter().zip(found) {
        outcomes[index] = Some(RecordOutcome::Duplicate { inbox_id });
    }
    // Stable: deliveries to one entitlement are folded in the order their rows were inserted.
    to_apply.sort_by_key(|(_, _, change)| key_of(change));
    let mut audits = Vec::with_capacity(to_apply.len());
    for (index, inbox_id, change) in to_apply {
        let entitlement = locked
            .get_mut(&key_of(change))
            .ok_or_else(|| StoreError::NotFound {
                entity: "entitlement",
                id: change.event.external_id.clone(),
            })?;
        let folded = fold_into(tx.keys(), entitlement, &webhook_fold(change, Some(inbox_id)), at)?;
        log_folded(entitlement, &folded, change);
        audits.push(folded.audit);
        // A delivery of several changes answers with its first change's entitlement (the one its row names).
        let first = sealed[index]
            .changes()
            .first()
            .is_some_and(|first| std::ptr::eq(first, change));
        if first || outcomes[index].is_none() {
            outcomes[index] = Some(RecordOutcome::Applied {
                inbox_id,
                entitlement: Box::new(entitlement.to_entitlement(tx.keys())?),
            });
        }
    }
    tx.save_entitlements(locked)?;
    tx.insert_audits(&audits)?;
    let outcomes = outcomes
        .into_iter()
        .map(|outcome| {
            outcome.ok_or_else(|| StoreError::Conflict {
                entity: "inbox",
                reason: "a delivery of the batch was not written".to_owned(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    for outcome in &outcomes {
        if let RecordOutcome::Applied { entitlement, .. } = outcome {
            tx.mark_changed(&entitlement.id);
        }
    }
    Ok(outcomes)
}

/// How a webhook delivery's change is folded.
fn webhook_fold(change: &EntitlementChange, inbox_id: Option<tollgate_store::InboxId>) -> Fold<'_> {
    Fold {
        change,
        actor: Actor::Webhook,
        reason: None,
        inbox_id,
        merge_extras: false,
        synced_at: None,
    }
}

fn key_of(change: &EntitlementChange) -> EntitlementKey<'_> {
    (change.event.provider.as_str(), change.event.external_id.as_str())
}

/// After a delivery's transaction has committed (and `Store::write` has bumped the version of the entitlement it
/// changed): log it.
fn recorded(event: &NewInboxEvent, outcome: &RecordOutcome, started: Instant) {
    let status = match outcome {
        RecordOutcome::Applied { .. } => "processed",
        RecordOutcome::Stored { status, .. } => status.as_str(),
        RecordOutcome::Duplicate { .. } => "duplicate",
        _ => "recorded",
    };
    log::debug!(
        provider = event.provider.as_str(),
        event_type = event.event_type.as_str(),
        status = status,
        duration_ms = started.elapsed().as_millis() as u64;
        "webhook recorded"
    );
}
