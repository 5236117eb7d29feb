//! Devices repaired against a provider's own list of activations (Dodo license key instances): the entitlements
//! worth asking about, a device freed because the provider no longer has its instance, and a device renamed to the
//! provider's name for it. Each change is one transaction with its audit row.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use tollgate_policy::Provider;

use crate::audit::{Actor, NewAudit, insert_audit};
use crate::connection::DbConnection;
use crate::device::{Device, DeviceRow};
use crate::entitlement::{Entitlement, EntitlementRow};
use crate::error::Result;
use crate::ids::{DeviceId, EntitlementId};
use crate::schema::{devices, entitlements};
use crate::store::Store;

impl Store {
    /// The entitlements of `provider` with at least one device that carries a provider instance id, in id order
    /// after `after`, at most `limit`.
    pub fn list_entitlements_with_instances(
        &self,
        provider: Provider,
        after: Option<&EntitlementId>,
        limit: u32,
    ) -> Result<Vec<Entitlement>> {
        let mut conn = self.conn()?;
        let with_instances = devices::table
            .filter(devices::provider_instance_id.is_not_null())
            .select(devices::entitlement_id);
        let mut query = entitlements::table
            .filter(entitlements::provider.eq(provider.as_str()))
            .filter(entitlements::id.eq_any(with_instances))
            .select(EntitlementRow::as_select())
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(entitlements::id.gt(after.as_str().to_owned()));
        }
        let rows = query
            .order(entitlements::id.asc())
            .limit(i64::from(limit))
            .load(&mut *conn)?;
        rows.into_iter()
            .map(|row| row.into_entitlement(self.keys()))
            .collect()
    }

    /// Free a device because its provider instance is gone, if it still carries `instance_id`: it is deleted with an
    /// audit row (`device.removed`, `detail` saying why). No transfer is counted. `None` when the device is gone
    /// already or now carries another instance.
    pub fn release_device(
        &self,
        device_id: &DeviceId,
        instance_id: &str,
        actor: Actor,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Device>> {
        let mut conn = self.conn()?;
        let released = self.write_transaction(&mut conn, |conn| {
            let device = devices::table
                .find(device_id.as_str())
                .filter(devices::provider_instance_id.eq(instance_id))
                .select(DeviceRow::as_select())
                .first(conn)
                .optional()?
                .map(Device::from);
            let Some(device) = device else {
                return Ok(None);
            };
            diesel::delete(devices::table.find(device.id.as_str())).execute(conn)?;
            audit_with_detail(conn, &device, actor, "device.removed", detail, now)?;
            Ok(Some(device))
        })?;
        if let Some(device) = &released {
            self.changed(&device.entitlement_id);
        }
        Ok(released)
    }

    /// Rename a device, with an audit row (`device.renamed`, `detail` saying why). False when it is gone.
    pub fn rename_device(
        &self,
        device_id: &DeviceId,
        name: &str,
        actor: Actor,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut conn = self.conn()?;
        let renamed = self.write_transaction(&mut conn, |conn| {
            let device = devices::table
                .find(device_id.as_str())
                .select(DeviceRow::as_select())
                .first(conn)
                .optional()?
                .map(Device::from);
            let Some(device) = device else {
                return Ok(None);
            };
            diesel::update(devices::table.find(device.id.as_str()))
                .set(devices::name.eq(Some(name)))
                .execute(conn)?;
            audit_with_detail(conn, &device, actor, "device.renamed", detail, now)?;
            Ok(Some(device.entitlement_id))
        })?;
        if let Some(entitlement_id) = &renamed {
            self.changed(entitlement_id);
        }
        Ok(renamed.is_some())
    }
}

fn audit_with_detail(
    conn: &mut DbConnection,
    device: &Device,
    actor: Actor,
    action: &str,
    detail: &str,
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
            detail: Some(detail.to_owned()),
            inbox_id: None,
        },
    )
}
