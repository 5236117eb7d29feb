//! Group commit: many webhook deliveries stored and applied in one transaction, each with its own result.

use std::time::Instant;

use crate::error::{Result, StoreError};
use crate::inbox::{InboxEffect, NewInboxEvent, RecordOutcome, SealedDelivery};
use crate::store::Store;

impl Store {
    /// Store many deliveries and act on them in ONE write transaction; the results come back in input order, one
    /// per delivery, each exactly what [`Store::record_webhook`] would have returned for it.
    ///
    /// Within the transaction each delivery does what `record_webhook` does, so a second delivery with the dedupe
    /// or semantic key of an earlier one in the same batch is a [`RecordOutcome::Duplicate`] of it. They are
    /// written in a fixed order (provider, entitlement external id, dedupe key; input order among equals) so that
    /// two instances' batches lock rows in the same order and rarely deadlock on PostgreSQL.
    ///
    /// If any delivery fails, or the commit does (a PostgreSQL deadlock, the database going away), the whole
    /// batch is rolled back and every delivery is stored again in its own transaction: each gets its own true
    /// result, and one bad delivery never fails its neighbours. If the transaction could not even begin (no
    /// connection or no write lock within the timeouts), every delivery gets that [`StoreError::Unavailable`].
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
        let order = lock_order(batch);
        let mut conn = self.conn().map_err(BatchError::NotStarted)?;
        let mut began = false;
        let written = self.write_transaction(&mut conn, |conn| {
            began = true;
            order
                .iter()
                .map(|&index| Ok((index, sealed[index].record_in(conn, keys)?)))
                .collect::<Result<Vec<_>>>()
        });
        let mut written = match written {
            Ok(written) => written,
            Err(error) if !began => return Err(BatchError::NotStarted(error)),
            Err(error) => return Err(BatchError::RolledBack(error)),
        };
        written.sort_unstable_by_key(|(index, _)| *index);
        Ok(written.into_iter().map(|(_, outcome)| outcome).collect())
    }
}

/// Why a batch wrote nothing.
enum BatchError {
    /// Before its transaction began: no connection, or no write lock in time.
    NotStarted(StoreError),
    /// A delivery failed, or the commit did: the transaction was rolled back.
    RolledBack(StoreError),
}

/// The order to write a batch in: by provider, the external id of the entitlement it changes (none first), and
/// dedupe key; a stable sort keeps input order among equal keys (so a repeated delivery follows the first).
fn lock_order(batch: &[(NewInboxEvent, InboxEffect)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..batch.len()).collect();
    order.sort_by_key(|&index| {
        let (event, effect) = &batch[index];
        let external_id = match effect {
            InboxEffect::Apply(change) => Some(change.event.external_id.as_str()),
            InboxEffect::Ignore | InboxEffect::Fail(_) => None,
        };
        (event.provider.as_str(), external_id, event.dedupe_key.as_str())
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
    fn a_batch_is_written_by_provider_entitlement_and_key_keeping_input_order_among_equals() {
        let batch = [
            item(Provider::Whop, "b", Some("mem_2")),
            item(Provider::Dodo, "z", Some("sub_9")),
            item(Provider::Whop, "a", Some("mem_2")),
            item(Provider::Whop, "c", None),
            item(Provider::Whop, "a", Some("mem_1")),
            item(Provider::Whop, "a", Some("mem_2")),
        ];
        assert_eq!(lock_order(&batch), vec![1, 3, 4, 2, 5, 0]);
    }
}
