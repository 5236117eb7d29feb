//! Devices repaired against a provider's own list of activations (Dodo license key instances): the entitlements
//! worth asking about, a device freed because the provider no longer has its instance, and a device renamed to the
//! provider's name for it. Each change is one transaction with its audit row.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use tollgate_policy::Provider;

use crate::audit::Actor;
use crate::device::{Device, audit_device, find_device_by_id};
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
        self.remove_device_if(device_id, Some(instance_id), actor, Some(detail), now)
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
            let Some(device) = find_device_by_id(conn, device_id)? else {
                return Ok(None);
            };
            diesel::update(devices::table.find(device.id.as_str()))
                .set(devices::name.eq(Some(name)))
                .execute(conn)?;
            audit_device(conn, &device, actor, "device.renamed", Some(detail), now)?;
            Ok(Some(device.entitlement_id))
        })?;
        if let Some(entitlement_id) = &renamed {
            self.changed(entitlement_id);
        }
        Ok(renamed.is_some())
    }
}
