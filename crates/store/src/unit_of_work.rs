//! The unit of work: [`Store::write`] runs a body in ONE write transaction, through a [`WriteTx`] handle that offers
//! row locks, reads under those locks, inserts, upserts and audit rows.
//!
//! The handle decides nothing: the caller (the service) reads through it, decides with `tollgate-policy`, and writes
//! through it. The store calls no policy rule and runs no callback of its own. The in-process change versions
//! ([`Store::entitlement_version`]) of the entitlements the body wrote are bumped after the commit, in one place:
//! once for each change the body made to an entitlement or its devices (a webhook batch that applies two deliveries
//! to one entitlement moves its version twice, as two separate deliveries would).

use std::fmt;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::audit::{NewAudit, insert_audit, insert_audits};
use crate::connection::DbConnection;
use crate::device::{
    Device, NewDevice, NewDeviceRow, Transfer, find_device, find_device_by_id, list_devices_in,
    transfers_since,
};
use crate::entitlement::{Entitlement, EntitlementRow, lock_by_id};
use crate::error::{Result, StoreError};
use crate::ids::{DeviceId, EntitlementId};
use crate::keys::{HwidHash, StoreKeys};
use crate::schema::{devices, entitlements, transfers};
use crate::store::Store;
use crate::time::{from_db, now, to_db};

/// Why [`Store::write`] wrote nothing: the availability contract of a unit of work.
///
/// Either way nothing of the body is in the database. The difference matters to a caller that might redo the work
/// in smaller pieces: [`WriteError::NotStarted`] means no transaction began (no connection, or no write lock within
/// the busy timeout), so redoing it would only wait as long again; [`WriteError::RolledBack`] means the body or the
/// commit failed after the transaction began.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum WriteError {
    /// Before the transaction began: no connection, or no write lock in time. Nothing ran.
    NotStarted(StoreError),
    /// The body failed, or the commit did: the transaction was rolled back.
    RolledBack(StoreError),
}

impl WriteError {
    /// The store error underneath.
    pub fn store_error(&self) -> &StoreError {
        match self {
            WriteError::NotStarted(error) | WriteError::RolledBack(error) => error,
        }
    }

    /// True when the caller should answer "unavailable, retry later" (HTTP 503).
    pub fn is_unavailable(&self) -> bool {
        self.store_error().is_unavailable()
    }
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.store_error(), f)
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.store_error())
    }
}

impl From<WriteError> for StoreError {
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::NotStarted(error) | WriteError::RolledBack(error) => error,
        }
    }
}

/// A write transaction in progress: see [`Store::write`]. Every method runs inside it; nothing is visible to
/// others until the body returns `Ok` and the commit succeeds.
pub struct WriteTx<'t> {
    conn: &'t mut DbConnection,
    keys: &'t StoreKeys,
    /// Entitlements written so far, once per change (their versions are bumped after the commit).
    changed: Vec<EntitlementId>,
    /// The store's clock when the transaction began.
    began_at: DateTime<Utc>,
}

impl fmt::Debug for WriteTx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteTx")
            .field("changed", &self.changed)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Run `body` in one write transaction and commit it if it returns `Ok` (roll it back otherwise). The value is
    /// returned only after the commit. The versions of the entitlements it wrote are bumped after the commit, once per
    /// change (see the module docs).
    pub fn write<T>(&self, body: impl FnOnce(&mut WriteTx<'_>) -> Result<T>) -> Result<T, WriteError> {
        let mut conn = self.conn().map_err(WriteError::NotStarted)?;
        let mut began = false;
        let mut changed = Vec::new();
        let written = self.write_transaction(&mut conn, |conn| {
            began = true;
            let mut tx = WriteTx {
                conn,
                keys: self.keys(),
                changed: Vec::new(),
                began_at: now(),
            };
            let value = body(&mut tx)?;
            changed = tx.changed;
            Ok(value)
        });
        match written {
            Ok(value) => {
                for id in &changed {
                    self.changed(id);
                }
                Ok(value)
            }
            Err(error) if !began => Err(WriteError::NotStarted(error)),
            Err(error) => Err(WriteError::RolledBack(error)),
        }
    }
}

impl WriteTx<'_> {
    /// The store's keys (to hash a license key or hwid the way the store does).
    pub fn keys(&self) -> &StoreKeys {
        self.keys
    }

    /// The store's clock when the transaction began (microseconds, as stored): the bookkeeping time
    /// (`updated_at`, `processed_at`, audit rows) of what the body writes.
    pub fn now(&self) -> DateTime<Utc> {
        self.began_at
    }

    /// Note that the body changed this entitlement (or its devices): its in-process version
    /// ([`Store::entitlement_version`]) moves once more after the commit. The device writes note themselves.
    pub fn mark_changed(&mut self, id: &EntitlementId) {
        self.wrote(id);
    }

    /// The connection and the keys, for the store's own batch statements.
    pub(crate) fn parts(&mut self) -> (&mut DbConnection, &StoreKeys) {
        (&mut *self.conn, self.keys)
    }

    /// Record that this entitlement (or its devices) was written.
    pub(crate) fn wrote(&mut self, id: &EntitlementId) {
        self.changed.push(id.clone());
    }

    /// Lock an entitlement's row until the commit (PostgreSQL `FOR UPDATE`; SQLite already holds the database write
    /// lock). `false` when there is no such entitlement.
    pub fn lock(&mut self, id: &EntitlementId) -> Result<bool> {
        lock_by_id(self.conn, id)
    }

    /// Lock an entitlement's row until the commit and load it. `None` when there is no such entitlement.
    pub fn lock_entitlement(&mut self, id: &EntitlementId) -> Result<Option<Entitlement>> {
        let by_id = entitlements::id.eq(id.as_str());
        let row = match &mut *self.conn {
            DbConnection::Postgres(c) => entitlements::table
                .filter(by_id)
                .select(EntitlementRow::as_select())
                .for_update()
                .first(c)
                .optional()?,
            DbConnection::Sqlite(c) => entitlements::table
                .filter(by_id)
                .select(EntitlementRow::as_select())
                .first(c)
                .optional()?,
        };
        row.map(|r| r.into_entitlement(self.keys)).transpose()
    }

    /// The devices active on an entitlement, in activation order.
    pub fn list_devices(&mut self, entitlement_id: &EntitlementId) -> Result<Vec<Device>> {
        list_devices_in(self.conn, entitlement_id)
    }

    /// The device with this hwid hash on an entitlement, if active.
    pub fn find_device(
        &mut self,
        entitlement_id: &EntitlementId,
        hwid_hash: &HwidHash,
    ) -> Result<Option<Device>> {
        find_device(self.conn, entitlement_id, hwid_hash)
    }

    /// The device with this id, if it is still active.
    pub fn find_device_by_id(&mut self, device_id: &DeviceId) -> Result<Option<Device>> {
        find_device_by_id(self.conn, device_id)
    }

    /// Insert a new device (with a fresh id) on an entitlement. The caller holds the entitlement's lock and has
    /// decided that it may be added.
    pub fn insert_device(&mut self, entitlement_id: &EntitlementId, new: &NewDevice<'_>) -> Result<Device> {
        let id = self.keys.random_id("dev_")?;
        let at = to_db(new.now);
        diesel::insert_into(devices::table)
            .values(NewDeviceRow {
                id: &id,
                entitlement_id: entitlement_id.as_str(),
                hwid_hash: new.hwid_hash.as_str(),
                name: new.name,
                activated_at: at,
                last_seen_at: at,
                provider_instance_id: new.instance_id,
            })
            .execute(self.conn)?;
        self.wrote(entitlement_id);
        Ok(Device {
            id: DeviceId::new(id),
            entitlement_id: entitlement_id.clone(),
            hwid_hash: new.hwid_hash.clone(),
            name: new.name.map(str::to_owned),
            activated_at: from_db(at),
            last_seen_at: from_db(at),
            provider_instance_id: new.instance_id.map(str::to_owned),
        })
    }

    /// An active device seen again: its `last_seen_at` becomes `now`, and its provider instance id becomes
    /// `instance_id` when one is given. Returns the device as stored now.
    pub fn refresh_device(
        &mut self,
        mut device: Device,
        instance_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Device> {
        device.last_seen_at = from_db(to_db(now));
        if instance_id.is_some() {
            device.provider_instance_id = instance_id.map(str::to_owned);
        }
        diesel::update(devices::table.find(device.id.as_str()))
            .set((
                devices::last_seen_at.eq(to_db(now)),
                devices::provider_instance_id.eq(device.provider_instance_id.as_deref()),
            ))
            .execute(self.conn)?;
        self.wrote(&device.entitlement_id);
        Ok(device)
    }

    /// Delete a device.
    pub fn delete_device(&mut self, device: &Device) -> Result<()> {
        diesel::delete(devices::table.find(device.id.as_str())).execute(self.conn)?;
        self.wrote(&device.entitlement_id);
        Ok(())
    }

    /// Delete these devices in one statement (each entitlement's version moves once).
    pub fn delete_devices(&mut self, devices: &[Device]) -> Result<()> {
        if devices.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = devices.iter().map(|d| d.id.as_str()).collect();
        diesel::delete(devices::table.filter(devices::id.eq_any(ids))).execute(self.conn)?;
        let mut entitlements: Vec<&EntitlementId> = devices.iter().map(|d| &d.entitlement_id).collect();
        entitlements.sort_unstable();
        entitlements.dedup();
        for id in entitlements {
            self.changed.push(id.clone());
        }
        Ok(())
    }

    /// Transfers of an entitlement at or after `since`, oldest first.
    pub fn list_transfers_since(
        &mut self,
        entitlement_id: &EntitlementId,
        since: DateTime<Utc>,
    ) -> Result<Vec<Transfer>> {
        transfers_since(self.conn, entitlement_id, since)
    }

    /// Record a transfer (a device freed so the license can move).
    pub fn insert_transfer(&mut self, transfer: &Transfer) -> Result<()> {
        diesel::insert_into(transfers::table)
            .values((
                transfers::entitlement_id.eq(transfer.entitlement_id.as_str()),
                transfers::from_hwid_hash.eq(transfer.from_hwid_hash.as_str()),
                transfers::at.eq(to_db(transfer.at)),
            ))
            .execute(self.conn)?;
        self.wrote(&transfer.entitlement_id);
        Ok(())
    }

    /// Write one audit row.
    pub fn insert_audit(&mut self, entry: &NewAudit) -> Result<()> {
        insert_audit(self.conn, entry)
    }

    /// Write audit rows in their order: one multi-row statement (per 4,000 rows), or for one row a statement
    /// diesel prepares once per connection and keeps.
    pub fn insert_audits(&mut self, entries: &[NewAudit]) -> Result<()> {
        insert_audits(self.conn, entries)
    }
}
