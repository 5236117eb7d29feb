//! Group commit: many webhook deliveries stored and applied in one transaction, each with its own result.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use diesel::prelude::*;

use crate::audit::{Actor, insert_audits};
use crate::connection::DbConnection;
use crate::entitlement::{EntitlementChange, EntitlementRow, Fold, fold_row, log_folded};
use crate::entitlement_batch::{self, EntitlementKey};
use crate::error::{Result, StoreError};
use crate::ids::InboxId;
use crate::inbox::{InboxEffect, InboxStatus, NewInboxEvent, NewInboxRow, RecordOutcome, SealedDelivery};
use crate::keys::StoreKeys;
use crate::planned::PlannedEachTime;
use crate::schema::webhook_inbox;
use crate::store::Store;
use crate::time::now;
use crate::unit_of_work::{WriteError, WriteTx};

/// Inbox rows per statement: 13 columns a row stays under SQLite's 32766 binds (PostgreSQL allows 65535).
const INBOX_ROWS_PER_STATEMENT: usize = 2_000;

/// Duplicate deliveries looked up per statement (two keys each).
const KEYS_PER_LOOKUP: usize = 1_000;

impl Store {
    /// Store many deliveries and act on them in ONE write transaction; the results come back in input order, one
    /// per delivery, each exactly what [`Store::record_webhook`] would have returned for it.
    ///
    /// Within the transaction the batch runs a handful of statements whatever its size (see [`write_batch`]): its
    /// entitlements are locked first, then every row is inserted with its final status, then every change is
    /// folded in memory in entitlement order and saved. A second delivery with the dedupe key of an earlier one in
    /// the same batch is a [`RecordOutcome::Duplicate`] of it; of two with the same semantic key, the one with the
    /// smaller dedupe key is stored.
    ///
    /// If any delivery fails, or the commit does (a PostgreSQL deadlock, a corrupt row), the whole batch is
    /// rolled back and every delivery is stored again in its own transaction: each gets its own true result, and
    /// one bad delivery never fails its neighbours. If the error is [`StoreError::Unavailable`] (no connection,
    /// no write lock or row lock within the timeouts, the database gone), every delivery gets it instead: each
    /// would only wait that timeout again, and the answer must stay within the timeouts.
    /// An `Ok` result is returned only after its transaction has committed.
    pub fn record_webhooks(&self, batch: &[(NewInboxEvent, InboxEffect)]) -> Vec<Result<RecordOutcome>> {
        match batch {
            [] => return Vec::new(),
            [(event, effect)] => return vec![self.record_webhook(event, effect.clone())],
            _ => {}
        }
        let started = Instant::now();
        match self.record_in_one_transaction(batch) {
            Ok(outcomes) => batch
                .iter()
                .zip(outcomes)
                .map(|((event, _), outcome)| {
                    self.recorded(event, &outcome, started);
                    Ok(outcome)
                })
                .collect(),
            // No connection, or the write lock not granted within the busy timeout: nothing ran, and storing each
            // delivery alone would only wait that long again for each. Every delivery gets the error (503).
            Err(WriteError::NotStarted(error)) => batch.iter().map(|_| Err(error.clone())).collect(),
            // The database went away or a lock wait timed out: storing each delivery alone would wait as long
            // again for each. Nothing was written; every delivery gets the error (503, the provider retries).
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
                    .map(|(event, effect)| self.record_webhook(event, effect.clone()))
                    .collect()
            }
        }
    }

    /// Every delivery in one transaction ([`write_batch`]); the outcomes in input order. Any error rolls it all
    /// back.
    fn record_in_one_transaction(
        &self,
        batch: &[(NewInboxEvent, InboxEffect)],
    ) -> Result<Vec<RecordOutcome>, WriteError> {
        let keys = self.keys();
        let sealed = batch
            .iter()
            .map(|(event, effect)| SealedDelivery::new(keys, event, effect))
            .collect::<Result<Vec<_>>>()
            .map_err(WriteError::RolledBack)?;
        self.write(|tx| write_batch_in(tx, &sealed))
    }
}

/// [`write_batch`] through a unit of work: the entitlements it applied a delivery to are marked written, so
/// [`Store::write`] bumps their versions after the commit.
pub(crate) fn write_batch_in(
    tx: &mut WriteTx<'_>,
    sealed: &[SealedDelivery<'_>],
) -> Result<Vec<RecordOutcome>> {
    let (conn, keys) = tx.parts();
    let outcomes = write_batch(conn, keys, sealed)?;
    for outcome in &outcomes {
        if let RecordOutcome::Applied { entitlement, .. } = outcome {
            tx.wrote(&entitlement.id);
        }
    }
    Ok(outcomes)
}

/// Store and act on every delivery inside the caller's write transaction, in a handful of statements whatever the
/// batch size; the outcomes in input order.
///
/// 1. Lock (or create) every entitlement an [`InboxEffect::Apply`] delivery names, in (provider, external id)
///    order ([`entitlement_batch::lock_or_create`]).
/// 2. Insert every inbox row in one `INSERT .. ON CONFLICT DO NOTHING RETURNING`, in (provider, dedupe key) order
///    (see [`row_order`]), each with its final status. A row not inserted is a duplicate: of a stored row, or of
///    an earlier row of the batch (both PostgreSQL and SQLite skip a row that conflicts with one inserted by the
///    same statement). The duplicates' rows are found with one `SELECT` per provider.
/// 3. Fold the stored `Apply` deliveries in memory, by entitlement and then row order, exactly as one by one.
/// 4. Save every changed entitlement in one upsert, and write every audit row in one insert.
///
/// Lock order: every transaction that takes both kinds of lock takes the entitlements first (in key order), then
/// the inbox keys (a PostgreSQL insert waits for another transaction's uncommitted row with the same key). A
/// transaction waiting for an inbox key has already got all its entitlements, so two batches, or two instances,
/// cannot wait on each other in a cycle, even when both hold resends of the same deliveries.
pub(crate) fn write_batch(
    conn: &mut DbConnection,
    keys: &StoreKeys,
    sealed: &[SealedDelivery<'_>],
) -> Result<Vec<RecordOutcome>> {
    let at = now();
    let order = row_order(sealed.iter().map(|delivery| delivery.event));
    // Each entitlement's changes in the order step 3 folds them, assuming none is a duplicate: a new entitlement
    // is inserted with them folded in, and not written again if that holds.
    let mut expected: BTreeMap<EntitlementKey<'_>, Vec<&EntitlementChange>> = BTreeMap::new();
    for change in order.iter().flat_map(|&index| sealed[index].changes()) {
        expected.entry(key_of(change)).or_default().push(change);
    }
    let prefold = |key, row: &mut EntitlementRow| {
        let changes = expected.get(&key).map_or(&[][..], Vec::as_slice);
        for change in changes {
            fold_row(keys, row, &webhook_fold(change, None), at)?;
        }
        Ok(changes.len())
    };
    let mut locked = entitlement_batch::lock_or_create(conn, keys, expected.keys().copied(), at, prefold)?;
    let mut stored = {
        let rows: Vec<NewInboxRow<'_>> = order
            .iter()
            .map(|&index| {
                let delivery = &sealed[index];
                let entitlement = delivery
                    .changes()
                    .first()
                    .and_then(|change| locked.get(&key_of(change)))
                    .map(|locked| locked.row.id.as_str());
                delivery.row(entitlement, at)
            })
            .collect();
        insert_rows(conn, &rows)?
    };
    let mut outcomes: Vec<Option<RecordOutcome>> = vec![None; sealed.len()];
    let mut to_apply = Vec::new();
    let mut duplicates = Vec::new();
    for &index in &order {
        let delivery = &sealed[index];
        let Some(id) = stored.remove(&row_key(delivery.event)) else {
            duplicates.push(index);
            continue;
        };
        let inbox_id = InboxId(id);
        match delivery.effect {
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
    for (index, inbox_id) in find_duplicates(conn, sealed, &duplicates)? {
        outcomes[index] = Some(RecordOutcome::Duplicate { inbox_id });
    }
    // Stable: deliveries to one entitlement are folded in the order their rows were inserted.
    to_apply.sort_by_key(|(_, _, change)| key_of(change));
    let mut audits = Vec::with_capacity(to_apply.len());
    for (index, inbox_id, change) in to_apply {
        let entitlement = locked
            .get_mut(&key_of(change))
            .ok_or_else(|| StoreError::not_found("entitlement", change.event.external_id.clone()))?;
        audits.push(fold_row(
            keys,
            &mut entitlement.row,
            &webhook_fold(change, Some(inbox_id)),
            at,
        )?);
        log_folded(&entitlement.row, change);
        entitlement.folded();
        // A delivery of several changes answers with its first change's entitlement (the one its row names).
        let first = sealed[index]
            .changes()
            .first()
            .is_some_and(|first| std::ptr::eq(first, change));
        if first || outcomes[index].is_none() {
            outcomes[index] = Some(RecordOutcome::Applied {
                inbox_id,
                entitlement: Box::new(entitlement.row.clone().into_entitlement(keys)?),
            });
        }
    }
    entitlement_batch::save(conn, locked)?;
    insert_audits(conn, &audits)?;
    outcomes
        .into_iter()
        .map(|outcome| {
            outcome.ok_or_else(|| StoreError::Conflict {
                entity: "inbox",
                reason: "a delivery of the batch was not written".to_owned(),
            })
        })
        .collect()
}

/// How a webhook delivery's change is folded.
fn webhook_fold(change: &EntitlementChange, inbox_id: Option<InboxId>) -> Fold<'_> {
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

/// What identifies an inserted row among the batch's: provider, dedupe key and semantic key.
type RowKey = (String, String, Option<String>);

fn row_key(event: &NewInboxEvent) -> RowKey {
    (
        event.provider.as_str().to_owned(),
        event.dedupe_key.clone(),
        event.semantic_key.clone(),
    )
}

/// Insert the rows (in their order) unless a dedupe or semantic key is already stored; the ids of those inserted
/// by their key. Of two rows of the batch with the same key, only the first can have been inserted.
fn insert_rows(conn: &mut DbConnection, rows: &[NewInboxRow<'_>]) -> Result<HashMap<RowKey, i64>> {
    let mut stored = HashMap::with_capacity(rows.len());
    for chunk in rows.chunks(INBOX_ROWS_PER_STATEMENT) {
        let statement = diesel::insert_into(webhook_inbox::table)
            .values(chunk)
            .on_conflict_do_nothing()
            .returning((
                webhook_inbox::id,
                webhook_inbox::provider,
                webhook_inbox::dedupe_key,
                webhook_inbox::semantic_key,
            ));
        let inserted: Vec<(i64, String, String, Option<String>)> = match conn {
            DbConnection::Postgres(c) => statement.get_results(c)?,
            DbConnection::Sqlite(c) => statement.get_results(c)?,
        };
        stored.extend(
            inserted
                .into_iter()
                .map(|(id, provider, dedupe, semantic)| ((provider, dedupe, semantic), id)),
        );
    }
    Ok(stored)
}

/// For each duplicate delivery (by index), the first stored row with its dedupe key or its semantic key: one
/// `SELECT` per provider (per 1,000 deliveries), and one more when some have a semantic key.
fn find_duplicates(
    conn: &mut DbConnection,
    sealed: &[SealedDelivery<'_>],
    duplicates: &[usize],
) -> Result<Vec<(usize, InboxId)>> {
    let mut by_provider: BTreeMap<&'static str, Vec<&NewInboxEvent>> = BTreeMap::new();
    for &index in duplicates {
        let event = sealed[index].event;
        by_provider
            .entry(event.provider.as_str())
            .or_default()
            .push(event);
    }
    // The first (lowest) stored id per (provider, dedupe key) and per (provider, semantic key).
    let mut by_dedupe: HashMap<(&'static str, String), i64> = HashMap::new();
    let mut by_semantic: HashMap<(&'static str, String), i64> = HashMap::new();
    for (provider, events) in by_provider {
        for chunk in events.chunks(KEYS_PER_LOOKUP) {
            let dedupe: Vec<&str> = chunk.iter().map(|e| e.dedupe_key.as_str()).collect();
            let semantic: Vec<&str> = chunk.iter().filter_map(|e| e.semantic_key.as_deref()).collect();
            // Two lookups, each by its own unique index: with `dedupe_key IN (..) OR semantic_key IN (..)` SQLite
            // walks every row of the provider. On PostgreSQL each is planned for its keys ([`PlannedEachTime`]).
            let columns = (
                webhook_inbox::id,
                webhook_inbox::dedupe_key,
                webhook_inbox::semantic_key,
            );
            let of_provider = webhook_inbox::table.filter(webhook_inbox::provider.eq(provider));
            let by_key = of_provider
                .filter(webhook_inbox::dedupe_key.eq_any(&dedupe))
                .select(columns);
            let mut found: Vec<(i64, String, Option<String>)> = match conn {
                DbConnection::Postgres(c) => PlannedEachTime(by_key).load(c)?,
                DbConnection::Sqlite(c) => by_key.load(c)?,
            };
            if !semantic.is_empty() {
                let by_semantic_key = of_provider
                    .filter(webhook_inbox::semantic_key.eq_any(&semantic))
                    .select(columns);
                found.extend(match conn {
                    DbConnection::Postgres(c) => {
                        PlannedEachTime(by_semantic_key).load::<(i64, String, Option<String>)>(c)?
                    }
                    DbConnection::Sqlite(c) => by_semantic_key.load(c)?,
                });
            }
            for (id, dedupe, semantic) in found {
                keep_lowest(&mut by_dedupe, (provider, dedupe), id);
                if let Some(semantic) = semantic {
                    keep_lowest(&mut by_semantic, (provider, semantic), id);
                }
            }
        }
    }
    duplicates
        .iter()
        .map(|&index| {
            let event = sealed[index].event;
            let provider = event.provider.as_str();
            let by_key = by_dedupe.get(&(provider, event.dedupe_key.clone()));
            let by_semantic_key = event
                .semantic_key
                .as_ref()
                .and_then(|semantic| by_semantic.get(&(provider, semantic.clone())));
            by_key
                .into_iter()
                .chain(by_semantic_key)
                .min()
                .map(|&id| (index, InboxId(id)))
                .ok_or_else(|| StoreError::not_found("inbox event", event.dedupe_key.clone()))
        })
        .collect()
}

fn keep_lowest(ids: &mut HashMap<(&'static str, String), i64>, key: (&'static str, String), id: i64) {
    ids.entry(key)
        .and_modify(|lowest| *lowest = (*lowest).min(id))
        .or_insert(id);
}

/// The order to insert a batch's rows in: by provider and dedupe key, input order among equals (so a repeated
/// delivery is the duplicate of the first, and of two with one semantic key the smaller dedupe key is stored).
fn row_order<'e>(events: impl Iterator<Item = &'e NewInboxEvent>) -> Vec<usize> {
    let events: Vec<&NewInboxEvent> = events.collect();
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by_key(|&index| (events[index].provider.as_str(), events[index].dedupe_key.as_str()));
    order
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use tollgate_policy::{EventKind, Provider, ProviderEvent};

    use super::*;
    use crate::entitlement::EntitlementChange;

    fn item(provider: Provider, dedupe: &str, external_id: Option<&str>) -> (NewInboxEvent, InboxEffect) {
        let event = NewInboxEvent {
            provider,
            dedupe_key: dedupe.to_owned(),
            semantic_key: None,
            event_type: "t".to_owned(),
            body: Vec::new(),
            received_at: DateTime::UNIX_EPOCH,
            webhook_id: None,
            signed_at: None,
        };
        let effect = match external_id {
            Some(id) => InboxEffect::Apply(EntitlementChange::new(ProviderEvent {
                provider,
                external_id: id.to_owned(),
                occurred_at: DateTime::UNIX_EPOCH,
                subject: None,
                product: None,
                kind: EventKind::Activated {
                    status: None,
                    paid_through: None,
                    cancel_at_period_end: None,
                    features: Vec::new(),
                },
            })),
            None => InboxEffect::Ignore,
        };
        (event, effect)
    }

    #[test]
    fn rows_are_inserted_by_provider_and_key_keeping_input_order_among_equals() {
        let batch = [
            item(Provider::Whop, "b", Some("mem_2")),
            item(Provider::Dodo, "z", Some("sub_9")),
            item(Provider::Whop, "a", Some("mem_2")),
            item(Provider::Whop, "c", None),
            item(Provider::Whop, "a", Some("mem_1")),
            item(Provider::Whop, "a", Some("mem_2")),
        ];
        assert_eq!(
            row_order(batch.iter().map(|(event, _)| event)),
            vec![1, 2, 4, 5, 0, 3]
        );
    }
}
