//! The webhook inbox by the set, for group commit: many deliveries' rows inserted in one statement under their
//! unique keys, and the duplicates' stored rows found in one more, inside the caller's unit of work.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;

use crate::connection::DbConnection;
use crate::error::{Result, StoreError};
use crate::ids::InboxId;
use crate::inbox::{NewInboxEvent, NewInboxRow, SealedDelivery};
use crate::planned::PlannedEachTime;
use crate::schema::webhook_inbox;
use crate::unit_of_work::WriteTx;

/// Inbox rows per statement: 13 columns a row stays under SQLite's 32766 binds (PostgreSQL allows 65535).
const INBOX_ROWS_PER_STATEMENT: usize = 2_000;

/// Duplicate deliveries looked up per statement (two keys each).
const KEYS_PER_LOOKUP: usize = 1_000;

/// One inbox row to insert: a sealed delivery, and the entitlement its row names (for a delivery that applies).
#[derive(Debug, Clone, Copy)]
pub struct InboxInsert<'d> {
    pub delivery: &'d SealedDelivery<'d>,
    /// The id of the entitlement its (first) change is written into.
    pub entitlement_id: Option<&'d str>,
}

impl WriteTx<'_> {
    /// Insert the deliveries' inbox rows, in the order given ([`SealedDelivery::insert_order`]), in one
    /// `INSERT .. ON CONFLICT DO NOTHING RETURNING` (per 2,000 rows), each with its final status (`processed` for a
    /// delivery that applies, `ignored`, `failed`) and `processed_at` = [`WriteTx::now`]. For each row, in that
    /// order, its new id, or `None` when its dedupe or semantic key was taken: by a stored row, or by an earlier row
    /// of the same statement (both PostgreSQL and SQLite skip a row that conflicts with one inserted by the same
    /// statement).
    ///
    /// Lock order: a transaction that takes both kinds of lock takes its entitlements first
    /// ([`WriteTx::lock_entitlements`], in key order), then the inbox keys (a PostgreSQL insert waits for another
    /// transaction's uncommitted row with the same key). A transaction waiting for an inbox key has already got all
    /// its entitlements, so two batches, or two instances, cannot wait on each other in a cycle.
    pub fn insert_inbox(&mut self, inserts: &[InboxInsert<'_>]) -> Result<Vec<Option<InboxId>>> {
        let at = self.now();
        let (conn, _) = self.parts();
        let rows: Vec<NewInboxRow<'_>> = inserts
            .iter()
            .map(|insert| insert.delivery.row(insert.entitlement_id, at))
            .collect();
        let mut stored = insert_rows(conn, &rows)?;
        Ok(inserts
            .iter()
            .map(|insert| stored.remove(&row_key(insert.delivery.event())).map(InboxId))
            .collect())
    }

    /// For each duplicate delivery, the first stored row with its dedupe key or its semantic key: one `SELECT` per
    /// provider (per 1,000 deliveries), and one more when some have a semantic key.
    pub fn find_inbox_duplicates(&mut self, duplicates: &[&NewInboxEvent]) -> Result<Vec<InboxId>> {
        let (conn, _) = self.parts();
        find_duplicates(conn, duplicates)
    }
}

impl SealedDelivery<'_> {
    /// The order to insert a batch's rows in: by provider and dedupe key, input order among equals (so a repeated
    /// delivery is the duplicate of the first, and of two with one semantic key the smaller dedupe key is stored).
    pub fn insert_order(batch: &[SealedDelivery<'_>]) -> Vec<usize> {
        row_order(batch.iter().map(SealedDelivery::event))
    }
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
fn find_duplicates(conn: &mut DbConnection, duplicates: &[&NewInboxEvent]) -> Result<Vec<InboxId>> {
    let mut by_provider: BTreeMap<&'static str, Vec<&NewInboxEvent>> = BTreeMap::new();
    for &event in duplicates {
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
        .map(|&event| {
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
                .map(|&id| InboxId(id))
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
    use crate::inbox::InboxEffect;

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
