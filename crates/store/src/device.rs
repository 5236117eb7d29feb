//! Devices activated on an entitlement, and the transfers that freed them.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::audit::{Actor, NewAudit, insert_audit};
use crate::connection::DbConnection;
use crate::error::{Result, StoreError};
use crate::ids::{DeviceId, EntitlementId};
use crate::keys::HwidHash;
use crate::schema::{devices, transfers};
use crate::store::Store;
use crate::time::{from_db, to_db};

/// A device activated on an entitlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: DeviceId,
    pub entitlement_id: EntitlementId,
    pub hwid_hash: HwidHash,
    pub name: Option<String>,
    pub activated_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// The provider's id for this activation, if it keeps one (Dodo `lki_...`).
    pub provider_instance_id: Option<String>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = devices)]
struct DeviceRow {
    id: String,
    entitlement_id: String,
    hwid_hash: String,
    name: Option<String>,
    activated_at: NaiveDateTime,
    last_seen_at: NaiveDateTime,
    provider_instance_id: Option<String>,
}

impl From<DeviceRow> for Device {
    fn from(row: DeviceRow) -> Self {
        Device {
            id: DeviceId::new(row.id),
            entitlement_id: EntitlementId::new(row.entitlement_id),
            hwid_hash: HwidHash::from_stored(row.hwid_hash),
            name: row.name,
            activated_at: from_db(row.activated_at),
            last_seen_at: from_db(row.last_seen_at),
            provider_instance_id: row.provider_instance_id,
        }
    }
}

/// A device freed so the license can move: who and when, for the cooldown and the 30-day budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub entitlement_id: EntitlementId,
    pub from_hwid_hash: HwidHash,
    pub at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = devices)]
pub(crate) struct NewDeviceRow<'a> {
    pub(crate) id: &'a str,
    pub(crate) entitlement_id: &'a str,
    pub(crate) hwid_hash: &'a str,
    pub(crate) name: Option<&'a str>,
    pub(crate) activated_at: NaiveDateTime,
    pub(crate) last_seen_at: NaiveDateTime,
    pub(crate) provider_instance_id: Option<&'a str>,
}

/// A device to insert ([`crate::WriteTx::insert_device`]): the keyed hash of its hwid (the raw hwid is never
/// stored), its name, the provider's instance id if it keeps one, and the time.
#[derive(Debug, Clone, Copy)]
pub struct NewDevice<'a> {
    pub hwid_hash: &'a HwidHash,
    pub name: Option<&'a str>,
    pub instance_id: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// The devices active on an entitlement, in activation order.
pub(crate) fn list_devices_in(
    conn: &mut DbConnection,
    entitlement_id: &EntitlementId,
) -> Result<Vec<Device>> {
    let rows = devices::table
        .filter(devices::entitlement_id.eq(entitlement_id.as_str()))
        .order((devices::activated_at.asc(), devices::id.asc()))
        .select(DeviceRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(Device::from).collect())
}

pub(crate) fn find_device(
    conn: &mut DbConnection,
    entitlement: &EntitlementId,
    hwid: &HwidHash,
) -> Result<Option<Device>> {
    Ok(devices::table
        .filter(devices::entitlement_id.eq(entitlement.as_str()))
        .filter(devices::hwid_hash.eq(hwid.as_str()))
        .select(DeviceRow::as_select())
        .first(conn)
        .optional()?
        .map(Device::from))
}

/// The device with this id, if it is still active.
pub(crate) fn find_device_by_id(conn: &mut DbConnection, device_id: &DeviceId) -> Result<Option<Device>> {
    Ok(devices::table
        .find(device_id.as_str())
        .select(DeviceRow::as_select())
        .first(conn)
        .optional()?
        .map(Device::from))
}

fn delete_device(conn: &mut DbConnection, device: &Device) -> Result<()> {
    diesel::delete(devices::table.find(device.id.as_str())).execute(conn)?;
    Ok(())
}

/// An audit row about a device; `detail` says why, where the action alone does not.
pub(crate) fn audit_device(
    conn: &mut DbConnection,
    device: &Device,
    actor: Actor,
    action: &str,
    detail: Option<&str>,
    at: DateTime<Utc>,
) -> Result<()> {
    insert_audit(
        conn,
        &NewAudit {
            entitlement_id: Some(device.entitlement_id.clone()),
            device_id: Some(device.id.clone()),
            at,
            actor,
            action: action.to_owned(),
            detail: detail.map(str::to_owned),
            inbox_id: None,
        },
    )
}

impl Store {
    /// The devices active on an entitlement, in activation order.
    pub fn list_devices(&self, entitlement_id: &EntitlementId) -> Result<Vec<Device>> {
        let mut conn = self.conn()?;
        list_devices_in(&mut conn, entitlement_id)
    }

    /// The device with this hwid hash on an entitlement, if active.
    pub fn find_device(
        &self,
        entitlement_id: &EntitlementId,
        hwid_hash: &HwidHash,
    ) -> Result<Option<Device>> {
        let mut conn = self.conn()?;
        find_device(&mut conn, entitlement_id, hwid_hash)
    }

    /// Record that a device was seen (validated) at `now`.
    pub fn touch_device(&self, device_id: &DeviceId, now: DateTime<Utc>) -> Result<()> {
        let mut conn = self.conn()?;
        let updated = diesel::update(devices::table.find(device_id.as_str()))
            .set(devices::last_seen_at.eq(to_db(now)))
            .execute(&mut *conn)?;
        if updated == 0 {
            return Err(StoreError::not_found("device", device_id.as_str()));
        }
        Ok(())
    }

    /// Remove a device by id, only while it carries `instance_id` when one is given, with an audit row saying
    /// `detail`. `None` when there is no such device.
    pub(crate) fn remove_device_if(
        &self,
        device_id: &DeviceId,
        instance_id: Option<&str>,
        actor: Actor,
        detail: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<Device>> {
        let mut conn = self.conn()?;
        let removed = self.write_transaction(&mut conn, |conn| {
            let device = find_device_by_id(conn, device_id)?.filter(|device| {
                instance_id.is_none_or(|id| device.provider_instance_id.as_deref() == Some(id))
            });
            let Some(device) = device else {
                return Ok(None);
            };
            delete_device(conn, &device)?;
            audit_device(conn, &device, actor, "device.removed", detail, now)?;
            Ok(Some(device))
        })?;
        if let Some(device) = &removed {
            self.changed(&device.entitlement_id);
        }
        Ok(removed)
    }

    /// Transfers of an entitlement at or after `since`, oldest first.
    pub fn list_transfers_since(
        &self,
        entitlement_id: &EntitlementId,
        since: DateTime<Utc>,
    ) -> Result<Vec<Transfer>> {
        let mut conn = self.conn()?;
        transfers_since(&mut conn, entitlement_id, since)
    }
}

pub(crate) fn transfers_since(
    conn: &mut DbConnection,
    entitlement_id: &EntitlementId,
    since: DateTime<Utc>,
) -> Result<Vec<Transfer>> {
    let rows: Vec<(String, NaiveDateTime)> = transfers::table
        .filter(transfers::entitlement_id.eq(entitlement_id.as_str()))
        .filter(transfers::at.ge(to_db(since)))
        .order((transfers::at.asc(), transfers::id.asc()))
        .select((transfers::from_hwid_hash, transfers::at))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(hash, at)| Transfer {
            entitlement_id: entitlement_id.clone(),
            from_hwid_hash: HwidHash::from_stored(hash),
            at: from_db(at),
        })
        .collect())
}
