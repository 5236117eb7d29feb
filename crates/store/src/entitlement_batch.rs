//! Entitlements by the set, for the unit of work: lock (or create) every entitlement a write names in a few
//! statements, let the caller change them in memory ([`LockedEntitlement::update`]), then save every changed row in
//! one statement ([`WriteTx::save_entitlements`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use diesel::prelude::*;
use diesel::upsert::excluded;
use tollgate_policy::{EntitlementState, Provider};

use crate::connection::DbConnection;
use crate::entitlement::{Entitlement, EntitlementRow, EntitlementUpdate};
use crate::error::{Result, StoreError};
use crate::ids::EntitlementId;
use crate::keys::StoreKeys;
use crate::planned::PlannedEachTime;
use crate::schema::entitlements;
use crate::unit_of_work::WriteTx;

/// Rows per statement: 22 columns a row stays under SQLite's 32766 binds (PostgreSQL allows 65535).
const ROWS_PER_STATEMENT: usize = 1_000;

/// An entitlement's key: its provider (`Provider::as_str`) and the provider's id. Ordered as the locks are taken.
pub type EntitlementKey<'a> = (&'static str, &'a str);

/// A locked entitlement row, changed in memory until [`WriteTx::save_entitlements`].
#[derive(Debug)]
pub struct LockedEntitlement {
    /// What the changes start from: the stored row, or for a row this transaction created, the fresh pending row.
    row: EntitlementRow,
    /// Created by this transaction (and deleted again before commit if no change is written into it).
    created: bool,
    /// Changes written into `row` so far ([`LockedEntitlement::update`]); any means it must be saved.
    folds: usize,
    /// For a created row: how many changes were written into it before its insert ([`WriteTx::insert_missing`]).
    /// If exactly those are written again, the inserted row already holds the final state.
    inserted_with: usize,
    /// The indexed `subject` and `license_key_hash` as stored (see [`WriteTx::save_entitlements`]).
    stored_index_keys: (Option<String>, Option<String>),
}

impl LockedEntitlement {
    /// A row as stored.
    fn existing(row: EntitlementRow) -> Self {
        let stored_index_keys = owned_index_keys(&row);
        LockedEntitlement {
            row,
            created: false,
            folds: 0,
            inserted_with: 0,
            stored_index_keys,
        }
    }

    /// A fresh pending row, not yet inserted.
    fn missing(row: EntitlementRow) -> Self {
        LockedEntitlement::existing(row)
    }

    /// A row this transaction created: the fresh pending `row`, inserted as `inserted` (`row` with `folds`
    /// changes written in).
    fn created(row: EntitlementRow, inserted: &EntitlementRow, folds: usize) -> Self {
        LockedEntitlement {
            row,
            created: true,
            folds: 0,
            inserted_with: folds,
            stored_index_keys: owned_index_keys(inserted),
        }
    }

    /// Its id.
    pub fn id(&self) -> EntitlementId {
        EntitlementId::new(self.row.id.clone())
    }

    /// Its id, borrowed.
    pub fn id_str(&self) -> &str {
        &self.row.id
    }

    /// Its state as changed so far.
    pub fn state(&self) -> Result<EntitlementState> {
        self.row.state()
    }

    /// Its extras as changed so far, opened.
    pub fn extras(&self, keys: &StoreKeys) -> Result<Option<serde_json::Value>> {
        self.row.extras(keys)
    }

    /// Write one change into it in memory (the version goes up by one); it is saved by
    /// [`WriteTx::save_entitlements`].
    pub fn update(&mut self, keys: &StoreKeys, update: &EntitlementUpdate<'_>) -> Result<()> {
        self.row.update(keys, update)?;
        self.folds += 1;
        Ok(())
    }

    /// The entitlement as changed so far.
    pub fn to_entitlement(&self, keys: &StoreKeys) -> Result<Entitlement> {
        self.row.clone().into_entitlement(keys)
    }

    /// Its indexed columns still hold the stored values.
    fn index_keys_unchanged(&self) -> bool {
        let (subject, license_key_hash) = &self.stored_index_keys;
        self.row.index_keys() == (subject.as_deref(), license_key_hash.as_deref())
    }

    /// The database already holds `row`: nothing was written into a stored row, or a created row was inserted with
    /// the same changes written in (in the same order, at the same time: the caller writes into the missing rows
    /// before [`WriteTx::insert_missing`] what it will write after). Between the two, changes can only drop out (a
    /// delivery that turns out to be a duplicate), never come in, so equal counts mean the same changes.
    fn saved(&self) -> bool {
        if self.created {
            self.folds == self.inserted_with
        } else {
            self.folds == 0
        }
    }
}

fn owned_index_keys(row: &EntitlementRow) -> (Option<String>, Option<String>) {
    let (subject, license_key_hash) = row.index_keys();
    (subject.map(str::to_owned), license_key_hash.map(str::to_owned))
}

/// The entitlements a unit of work has locked, by key (see [`WriteTx::lock_entitlements`]).
#[derive(Debug)]
pub struct LockedEntitlements<'k> {
    locked: BTreeMap<EntitlementKey<'k>, LockedEntitlement>,
    /// Not found by the lock: fresh pending rows (with a new id), not yet inserted, and the same rows to write
    /// the caller's changes into before [`WriteTx::insert_missing`].
    missing: Vec<(EntitlementKey<'k>, EntitlementRow, LockedEntitlement)>,
}

impl<'k> LockedEntitlements<'k> {
    /// The locked entitlement with this key (after [`WriteTx::insert_missing`], also the created ones).
    pub fn get(&self, key: &EntitlementKey<'k>) -> Option<&LockedEntitlement> {
        self.locked.get(key)
    }

    /// The locked entitlement with this key, to change it.
    pub fn get_mut(&mut self, key: &EntitlementKey<'k>) -> Option<&mut LockedEntitlement> {
        self.locked.get_mut(key)
    }

    /// The entitlements not found, in key order: fresh pending rows to write the expected changes into before
    /// [`WriteTx::insert_missing`] inserts them.
    pub fn missing_mut(&mut self) -> impl Iterator<Item = (EntitlementKey<'k>, &mut LockedEntitlement)> {
        self.missing.iter_mut().map(|(key, _, draft)| (*key, draft))
    }
}

impl WriteTx<'_> {
    /// Lock the entitlements with these keys for the rest of the transaction: one
    /// `SELECT .. ORDER BY external_id FOR UPDATE` per provider (SQLite holds the write lock and needs no row lock).
    /// The missing ones come back as fresh pending rows ([`LockedEntitlements::missing_mut`]), each with a new id,
    /// inserted by [`WriteTx::insert_missing`].
    ///
    /// Every batch takes its entitlement locks first and in this order, before any inbox key, so two batches cannot
    /// wait on each other in a cycle through them. One rare case remains: an entitlement missing at the select and
    /// created by another transaction before the insert is locked last, out of order; if that closes a cycle,
    /// PostgreSQL detects the deadlock and the transaction rolls back.
    pub fn lock_entitlements<'k>(
        &mut self,
        wanted: impl IntoIterator<Item = EntitlementKey<'k>>,
    ) -> Result<LockedEntitlements<'k>> {
        let at = self.now();
        let (conn, keys) = self.parts();
        let mut by_provider: BTreeMap<&'static str, Vec<&'k str>> = BTreeMap::new();
        for (provider, external_id) in wanted {
            by_provider.entry(provider).or_default().push(external_id);
        }
        let mut locked = BTreeMap::new();
        let mut missing = Vec::new();
        for (provider, mut ids) in by_provider {
            ids.sort_unstable();
            ids.dedup();
            let mut found: HashMap<String, EntitlementRow> = lock_rows(conn, provider, &ids)?
                .into_iter()
                .map(|row| (row.external_id.clone(), row))
                .collect();
            for external_id in ids {
                match found.remove(external_id) {
                    Some(row) => {
                        locked.insert((provider, external_id), LockedEntitlement::existing(row));
                    }
                    None => {
                        let parsed: Provider = provider
                            .parse()
                            .map_err(|e| StoreError::corrupt("entitlement", format!("{e}")))?;
                        let row = EntitlementRow::fresh(keys, parsed, external_id, at)?;
                        let draft = LockedEntitlement::missing(row.clone());
                        missing.push(((provider, external_id), row, draft));
                    }
                }
            }
        }
        Ok(LockedEntitlements { locked, missing })
    }

    /// Insert the missing entitlements in one multi-row `INSERT .. ON CONFLICT DO NOTHING`, in key order, each as
    /// the caller left it (with the changes it expects to write into it already written), and lock them.
    ///
    /// So a new entitlement is written once, in its final state, instead of inserted pending and then updated (on
    /// PostgreSQL a second row version with four new index entries, as its subject and license key change). The
    /// locked row handed back is still the fresh pending one: the caller writes into it as into any row, and
    /// [`WriteTx::save_entitlements`] skips the row if the same number of changes was written (see
    /// `LockedEntitlement::saved`), or writes the caller's result over the insert if not. A row a concurrent
    /// transaction created since [`WriteTx::lock_entitlements`] is locked as it committed it.
    pub fn insert_missing(&mut self, locked: &mut LockedEntitlements<'_>) -> Result<()> {
        let (conn, _) = self.parts();
        let missing = std::mem::take(&mut locked.missing);
        let to_insert: Vec<EntitlementRow> = missing.iter().map(|(_, _, draft)| draft.row.clone()).collect();
        let inserted = insert_missing(conn, &to_insert)?;
        let mut raced = Vec::new();
        for ((key, fresh, draft), stored) in missing.into_iter().zip(&to_insert) {
            if inserted.contains(&fresh.id) {
                locked
                    .locked
                    .insert(key, LockedEntitlement::created(fresh, stored, draft.folds));
            } else {
                raced.push(key);
            }
        }
        // Created by a concurrent transaction since the first select: lock what it committed.
        for (provider, external_id) in raced {
            let row = lock_rows(conn, provider, &[external_id])?
                .pop()
                .ok_or_else(|| StoreError::not_found("entitlement", external_id))?;
            locked
                .locked
                .insert((provider, external_id), LockedEntitlement::existing(row));
        }
        Ok(())
    }

    /// Save the locked entitlements (see [`save`]).
    pub fn save_entitlements(&mut self, locked: LockedEntitlements<'_>) -> Result<()> {
        let (conn, _) = self.parts();
        save(conn, locked.locked)
    }
}

/// Select and lock one provider's rows for these external ids (sorted), in external id order. One id (an
/// activation, a lone delivery) is looked up with `=`, a list with `IN (..)` on SQLite and `= ANY($2)` on
/// PostgreSQL. On SQLite the `=` statement is prepared once per connection and kept. On PostgreSQL every form is
/// planned for its keys ([`PlannedEachTime`]): a kept `provider = $1 AND external_id = $2 FOR UPDATE` got a generic
/// plan while the table was nearly empty, an index scan of `entitlements_by_subject` on `provider` alone, kept as the
/// table grew (measured: ~7,900 rows read per lone delivery in the ingest benchmark, a fifth of the throughput).
fn lock_rows(conn: &mut DbConnection, provider: &str, external_ids: &[&str]) -> Result<Vec<EntitlementRow>> {
    let of_provider = || entitlements::table.filter(entitlements::provider.eq(provider));
    if let [external_id] = external_ids {
        let query = || of_provider().filter(entitlements::external_id.eq(*external_id));
        return Ok(match conn {
            DbConnection::Postgres(c) => {
                PlannedEachTime(query().select(EntitlementRow::as_select()).for_update()).load(c)?
            }
            DbConnection::Sqlite(c) => query().select(EntitlementRow::as_select()).load(c)?,
        });
    }
    let mut rows = Vec::with_capacity(external_ids.len());
    for chunk in external_ids.chunks(ROWS_PER_STATEMENT) {
        let query = || {
            of_provider()
                .filter(entitlements::external_id.eq_any(chunk))
                .order(entitlements::external_id.asc())
        };
        match conn {
            DbConnection::Postgres(c) => {
                let query = query().select(EntitlementRow::as_select()).for_update();
                rows.extend(PlannedEachTime(query).load(c)?)
            }
            DbConnection::Sqlite(c) => rows.extend(query().select(EntitlementRow::as_select()).load(c)?),
        }
    }
    Ok(rows)
}

/// Insert fresh rows unless their key exists (a concurrent creator wins quietly); the ids of those inserted.
fn insert_missing(conn: &mut DbConnection, rows: &[EntitlementRow]) -> Result<HashSet<String>> {
    let mut inserted = HashSet::with_capacity(rows.len());
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let statement = diesel::insert_into(entitlements::table)
            .values(chunk)
            .on_conflict((entitlements::provider, entitlements::external_id))
            .do_nothing()
            .returning(entitlements::id);
        match conn {
            DbConnection::Postgres(c) => inserted.extend(statement.get_results::<String>(c)?),
            DbConnection::Sqlite(c) => inserted.extend(statement.get_results::<String>(c)?),
        }
    }
    Ok(inserted)
}

/// Write back every changed row, in one multi-row upsert on the primary key (per 1,000 rows), and delete the rows
/// this transaction created that nothing was folded into (their deliveries were all duplicates: storing them alone
/// would have created nothing). Every row was locked when it was read (PostgreSQL `FOR UPDATE`, SQLite's write
/// lock), so it is still as read: the upsert always updates, never inserts. A created row that was inserted with
/// exactly its changes ([`WriteTx::insert_missing`]) is not written again.
///
/// On SQLite the rows whose `subject` and `license_key_hash` are unchanged (a renewal, a cancellation: most
/// webhooks) are saved by a second upsert that does not SET those two columns: SQLite rewrites an index entry
/// whenever its column is SET, even to the value it holds, and each rewrite dirties one more random page of the
/// `entitlements_by_subject` and `entitlements_by_license_key` indexes (a WAL frame, then a checkpoint write).
/// PostgreSQL compares the values itself (an unchanged indexed column keeps the update HOT), so it gets one upsert.
fn save(conn: &mut DbConnection, locked: BTreeMap<EntitlementKey<'_>, LockedEntitlement>) -> Result<()> {
    let mut unused = Vec::new();
    let mut changed = Vec::new();
    for entitlement in locked.into_values() {
        if entitlement.created && entitlement.folds == 0 {
            unused.push(entitlement.row.id);
        } else if !entitlement.saved() {
            changed.push(entitlement);
        }
    }
    let (rekeyed, same_keys): (Vec<LockedEntitlement>, Vec<LockedEntitlement>) = match conn {
        DbConnection::Sqlite(_) => changed.into_iter().partition(|l| !l.index_keys_unchanged()),
        DbConnection::Postgres(_) => (changed, Vec::new()),
    };
    let rekeyed: Vec<EntitlementRow> = rekeyed.into_iter().map(|l| l.row).collect();
    for chunk in rekeyed.chunks(ROWS_PER_STATEMENT) {
        upsert(conn, chunk, IndexKeys::Set)?;
    }
    let same_keys: Vec<EntitlementRow> = same_keys.into_iter().map(|l| l.row).collect();
    for chunk in same_keys.chunks(ROWS_PER_STATEMENT) {
        upsert(conn, chunk, IndexKeys::Keep)?;
    }
    for chunk in unused.chunks(ROWS_PER_STATEMENT) {
        diesel::delete(entitlements::table.filter(entitlements::id.eq_any(chunk))).execute(conn)?;
    }
    Ok(())
}

/// Whether an upsert SETs the secondary-indexed columns (`subject`, `license_key_hash`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IndexKeys {
    Set,
    /// Every row of the statement holds its stored values in them.
    Keep,
}

/// `excluded.<column>` for each column: part of an upsert's SET list (diesel's tuples stop at 16).
macro_rules! set_excluded {
    ($($column:ident),+ $(,)?) => {
        ($(e::$column.eq(excluded(e::$column)),)+)
    };
}

/// `INSERT .. ON CONFLICT (id) DO UPDATE SET <every column but the key and created_at> = excluded.<column>`, with
/// `subject` and `license_key_hash` left out for [`IndexKeys::Keep`].
/// (diesel cannot add a `WHERE` to a multi-row upsert on SQLite; the row locks make a version check moot.)
fn upsert(conn: &mut DbConnection, rows: &[EntitlementRow], index_keys: IndexKeys) -> Result<()> {
    use crate::schema::entitlements::dsl as e;
    let insert = diesel::insert_into(entitlements::table)
        .values(rows)
        .on_conflict(e::id)
        .do_update();
    let unindexed = (
        set_excluded!(
            product,
            lifecycle,
            status,
            end_reason,
            paid_through,
            cancel_at_period_end,
            features
        ),
        set_excluded!(
            access_clock,
            period_clock,
            cancel_clock,
            details_clock,
            license_key_last4,
            extras
        ),
        set_excluded!(version, updated_at, synced_at),
    );
    macro_rules! run {
        ($statement:expr) => {{
            let statement = $statement;
            match conn {
                DbConnection::Postgres(c) => statement.execute(c)?,
                DbConnection::Sqlite(c) => statement.execute(c)?,
            }
        }};
    }
    match index_keys {
        IndexKeys::Set => run!(insert.set((set_excluded!(subject, license_key_hash), unindexed))),
        IndexKeys::Keep => run!(insert.set(unindexed)),
    };
    Ok(())
}
