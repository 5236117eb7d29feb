//! Group commit: many webhook deliveries stored and applied in one transaction, each with its own result.

use std::time::Instant;

use crate::error::{Result, StoreError};
use crate::inbox::{InboxEffect, Inserted, NewInboxEvent, RecordOutcome, SealedDelivery, apply_in};
use crate::store::Store;

impl Store {
    /// Store many deliveries and act on them in ONE write transaction; the results come back in input order, one
    /// per delivery, each exactly what [`Store::record_webhook`] would have returned for it.
    ///
    /// Within the transaction each delivery does what `record_webhook` does, in two passes: every row is inserted
    /// (unless a duplicate) in dedupe key order, then every change is folded in entitlement order (see
    /// `row_order`: that lock order keeps concurrent batches from deadlocking on PostgreSQL). A second delivery
    /// with the dedupe key of an earlier one in the same batch is a [`RecordOutcome::Duplicate`] of it; of two
    /// with the same semantic key, the one with the smaller dedupe key is stored.
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
            Err(BatchError::NotStarted(error)) => batch.iter().map(|_| Err(error.clone())).collect(),
            // The database went away or a lock wait timed out: storing each delivery alone would wait as long
            // again for each. Nothing was written; every delivery gets the error (503, the provider retries).
            Err(BatchError::RolledBack(error)) if error.is_unavailable() => {
                batch.iter().map(|_| Err(error.clone())).collect()
            }
            Err(BatchError::RolledBack(error)) => {
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

    /// Every delivery in one transaction, in lock order; the outcomes in input order. Any error rolls it all back.
    fn record_in_one_transaction(
        &self,
        batch: &[(NewInboxEvent, InboxEffect)],
    ) -> Result<Vec<RecordOutcome>, BatchError> {
        let keys = self.keys();
        let sealed = batch
            .iter()
            .map(|(event, effect)| SealedDelivery::new(keys, event, effect))
            .collect::<Result<Vec<_>>>()
            .map_err(BatchError::RolledBack)?;
        let mut conn = self.conn().map_err(BatchError::NotStarted)?;
        let mut began = false;
        let written = self.write_transaction(&mut conn, |conn| {
            began = true;
            let mut outcomes: Vec<Option<RecordOutcome>> = vec![None; batch.len()];
            let mut to_apply = Vec::new();
            for index in row_order(batch) {
                match sealed[index].insert_in(conn)? {
                    Inserted::Settled(outcome) => outcomes[index] = Some(outcome),
                    Inserted::ToApply { inbox_id, change } => to_apply.push((index, inbox_id, change)),
                }
            }
            // Stable: deliveries to one entitlement are folded in the order their rows were inserted.
            to_apply.sort_by_key(|(_, _, change)| {
                (change.event.provider.as_str(), change.event.external_id.as_str())
            });
            for (index, inbox_id, change) in to_apply {
                outcomes[index] = Some(apply_in(conn, keys, inbox_id, change)?);
            }
            Ok(outcomes)
        });
        let written = match written {
            Ok(written) => written,
            Err(error) if !began => return Err(BatchError::NotStarted(error)),
            Err(error) => return Err(BatchError::RolledBack(error)),
        };
        written
            .into_iter()
            .map(|outcome| {
                outcome.ok_or_else(|| {
                    BatchError::RolledBack(StoreError::Conflict {
                        entity: "inbox",
                        reason: "a delivery of the batch was not written".to_owned(),
                    })
                })
            })
            .collect()
    }
}

/// Why a batch wrote nothing.
enum BatchError {
    /// Before its transaction began: no connection, or no write lock in time.
    NotStarted(StoreError),
    /// A delivery failed, or the commit did: the transaction was rolled back.
    RolledBack(StoreError),
}

/// The order to insert a batch's rows in: by provider and dedupe key, input order among equals (so a repeated
/// delivery is the duplicate of the first).
///
/// Every transaction takes its locks in one global order: first the inbox keys it inserts (a PostgreSQL insert
/// waits for another transaction's uncommitted row with the same key), in key order, then the entitlement rows,
/// in (provider, external id) order. A single delivery (one key, then one entitlement) follows it too. So two
/// writers' batches, or two instances', cannot wait on each other in a cycle, even when both hold resends of the
/// same deliveries.
fn row_order(batch: &[(NewInboxEvent, InboxEffect)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..batch.len()).collect();
    order.sort_by_key(|&index| {
        let event = &batch[index].0;
        (event.provider.as_str(), event.dedupe_key.as_str())
    });
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
        assert_eq!(row_order(&batch), vec![1, 2, 4, 5, 0, 3]);
    }
}
