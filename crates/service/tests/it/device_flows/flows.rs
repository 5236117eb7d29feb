//! The device flows the service runs (activation, self-service transfer, admin reset), written here over
//! `Store::write` with the policy's rules (`admit_device`, `check_transfer`), as `tollgate_service::license` composes
//! them: reads under the entitlement's row lock, the decision, then the writes and their audit rows, in one unit of
//! work. A provider's answer is folded in by the real `entitlement_change::apply_provider_answer`.

use chrono::{DateTime, Utc};
use tollgate_policy::{
    Admission as Decision, Policy, TRANSFER_WINDOW, TransferDenial, admit_device, check_transfer,
};
use tollgate_service::entitlement_change::{ProviderAnswer, apply_provider_answer};
use tollgate_store::{
    Actor, Device, DeviceId, Entitlement, EntitlementId, HwidHash, NewAudit, Store, StoreError, Transfer,
    WriteTx,
};

/// A device to activate, by its raw hwid (the store keeps only its keyed hash).
#[derive(Debug, Clone, Copy)]
pub struct NewDevice<'a> {
    pub hwid: &'a str,
    pub name: Option<&'a str>,
    pub instance_id: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// The result of an admission under `max_devices`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// A new device took a free slot.
    Admitted(Device),
    /// This device was already active; its `last_seen_at` was updated.
    AlreadyActive(Device),
    /// Every slot is taken by other devices.
    LimitReached { active: u32 },
}

/// The result of a self-service transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferOutcome {
    Transferred(Device),
    NotActivated,
    Denied(TransferDenial),
}

/// Which entitlement an activation is on.
#[derive(Debug, Clone, Copy)]
pub enum ActivationTarget<'a> {
    /// An entitlement as stored; it must exist.
    Stored(&'a EntitlementId),
    /// The entitlement the provider's answer is about (created if new), after folding the answer in.
    Answer(ProviderAnswer<'a>),
}

/// An activation's result, all read inside its unit of work.
#[derive(Debug, Clone, PartialEq)]
pub struct Activated<R> {
    pub entitlement: Entitlement,
    pub admission: Result<Admission, R>,
    pub devices: Vec<Device>,
}

fn not_found(entity: &'static str, id: &str) -> StoreError {
    StoreError::NotFound {
        entity,
        id: id.to_owned(),
    }
}

fn device_audit(device: &Device, actor: Actor, action: &str, at: DateTime<Utc>) -> NewAudit {
    NewAudit {
        entitlement_id: Some(device.entitlement_id.clone()),
        device_id: Some(device.id.clone()),
        at,
        actor,
        action: action.to_owned(),
        detail: None,
        inbox_id: None,
    }
}

/// Inside a unit of work that holds the entitlement's lock: decide with `admit_device`, then refresh or insert.
fn admit_in(
    tx: &mut WriteTx<'_>,
    entitlement_id: &EntitlementId,
    device: &NewDevice<'_>,
    max_devices: u32,
) -> Result<Admission, StoreError> {
    let hwid_hash: HwidHash = tx.keys().hash_hwid(device.hwid);
    let stored = tx.list_devices(entitlement_id)?;
    let seen: Vec<tollgate_policy::ActiveDevice> = stored
        .iter()
        .map(|d| tollgate_policy::ActiveDevice::new(d.hwid_hash.as_str(), d.activated_at))
        .collect();
    let policy = Policy {
        max_devices,
        ..Policy::default()
    };
    match admit_device(&seen, hwid_hash.as_str(), &policy) {
        Decision::AlreadyActive => {
            let existing = stored
                .into_iter()
                .find(|d| d.hwid_hash == hwid_hash)
                .ok_or_else(|| not_found("device", hwid_hash.as_str()))?;
            Ok(Admission::AlreadyActive(tx.refresh_device(
                existing,
                device.instance_id,
                device.now,
            )?))
        }
        Decision::Admitted => {
            let new = tollgate_store::NewDevice {
                hwid_hash: &hwid_hash,
                name: device.name,
                instance_id: device.instance_id,
                now: device.now,
            };
            let inserted = tx.insert_device(entitlement_id, &new)?;
            tx.insert_audit(&device_audit(
                &inserted,
                Actor::Activation,
                "device.activated",
                device.now,
            ))?;
            Ok(Admission::Admitted(inserted))
        }
        _ => Ok(Admission::LimitReached {
            active: u32::try_from(seen.len()).unwrap_or(u32::MAX),
        }),
    }
}

/// The flows, as methods on the store so the tests read as before.
pub trait DeviceFlows {
    /// Activate a device on a stored entitlement unless `max_devices` are already active.
    fn activate_device(
        &self,
        entitlement_id: &EntitlementId,
        hwid: &str,
        name: Option<&str>,
        max_devices: u32,
        instance_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Admission, StoreError>;

    /// Fold the answer in (or lock the stored entitlement), run `check` (the caller's policy decision: a refusal, or
    /// the `max_devices` to admit under), then admit the device: one unit of work.
    fn activate<R>(
        &self,
        target: ActivationTarget<'_>,
        device: &NewDevice<'_>,
        check: impl FnOnce(&Entitlement) -> Result<u32, R>,
    ) -> Result<Activated<R>, StoreError>;

    /// Store a provider's answer in its own unit of work.
    fn apply_provider_answer(&self, answer: &ProviderAnswer<'_>) -> Result<Entitlement, StoreError>;

    /// Free a device under the transfer policy: the check, the removal, the transfer record and the audit row.
    fn transfer_device(
        &self,
        entitlement_id: &EntitlementId,
        hwid_hash: &HwidHash,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<TransferOutcome, StoreError>;

    /// Remove the device with this hwid hash from an entitlement (no transfer is counted), with an audit row.
    fn remove_device(
        &self,
        entitlement_id: &EntitlementId,
        hwid_hash: &HwidHash,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<Device>, StoreError>;

    /// Remove a device by id (admin reset; no transfer is counted), with an audit row.
    fn remove_device_by_id(
        &self,
        device_id: &DeviceId,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<Device>, StoreError>;
}

impl DeviceFlows for Store {
    fn activate_device(
        &self,
        entitlement_id: &EntitlementId,
        hwid: &str,
        name: Option<&str>,
        max_devices: u32,
        instance_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Admission, StoreError> {
        let device = NewDevice {
            hwid,
            name,
            instance_id,
            now,
        };
        Ok(self.write(|tx| {
            if !tx.lock(entitlement_id)? {
                return Err(not_found("entitlement", entitlement_id.as_str()));
            }
            admit_in(tx, entitlement_id, &device, max_devices)
        })?)
    }

    fn activate<R>(
        &self,
        target: ActivationTarget<'_>,
        device: &NewDevice<'_>,
        check: impl FnOnce(&Entitlement) -> Result<u32, R>,
    ) -> Result<Activated<R>, StoreError> {
        Ok(self.write(|tx| {
            let entitlement = match target {
                ActivationTarget::Stored(id) => tx
                    .lock_entitlement(id)?
                    .ok_or_else(|| not_found("entitlement", id.as_str()))?,
                ActivationTarget::Answer(answer) => apply_provider_answer(tx, &answer)?,
            };
            let admission = match check(&entitlement) {
                Ok(max_devices) => Ok(admit_in(tx, &entitlement.id, device, max_devices)?),
                Err(refusal) => Err(refusal),
            };
            let devices = tx.list_devices(&entitlement.id)?;
            Ok(Activated {
                entitlement,
                admission,
                devices,
            })
        })?)
    }

    fn apply_provider_answer(&self, answer: &ProviderAnswer<'_>) -> Result<Entitlement, StoreError> {
        Ok(self.write(|tx| apply_provider_answer(tx, answer))?)
    }

    fn transfer_device(
        &self,
        entitlement_id: &EntitlementId,
        hwid_hash: &HwidHash,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<TransferOutcome, StoreError> {
        Ok(self.write(|tx| {
            if !tx.lock(entitlement_id)? {
                return Err(not_found("entitlement", entitlement_id.as_str()));
            }
            let Some(device) = tx.find_device(entitlement_id, hwid_hash)? else {
                return Ok(TransferOutcome::NotActivated);
            };
            let lookback = TRANSFER_WINDOW.max(policy.transfer_cooldown.as_delta());
            let since = now
                .checked_sub_signed(lookback)
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            let recent: Vec<DateTime<Utc>> = tx
                .list_transfers_since(entitlement_id, since)?
                .into_iter()
                .map(|transfer| transfer.at)
                .collect();
            if let Err(denial) = check_transfer(policy, &recent, now) {
                return Ok(TransferOutcome::Denied(denial));
            }
            tx.delete_device(&device)?;
            tx.insert_transfer(&Transfer {
                entitlement_id: entitlement_id.clone(),
                from_hwid_hash: hwid_hash.clone(),
                at: now,
            })?;
            tx.insert_audit(&device_audit(
                &device,
                Actor::Deactivation,
                "device.transferred",
                now,
            ))?;
            Ok(TransferOutcome::Transferred(device))
        })?)
    }

    fn remove_device(
        &self,
        entitlement_id: &EntitlementId,
        hwid_hash: &HwidHash,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<Device>, StoreError> {
        Ok(self.write(|tx| {
            let Some(device) = tx.find_device(entitlement_id, hwid_hash)? else {
                tx.mark_changed(entitlement_id);
                return Ok(None);
            };
            tx.delete_device(&device)?;
            tx.insert_audit(&device_audit(&device, actor, "device.removed", now))?;
            Ok(Some(device))
        })?)
    }

    fn remove_device_by_id(
        &self,
        device_id: &DeviceId,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<Device>, StoreError> {
        Ok(self.write(|tx| {
            let Some(device) = tx.find_device_by_id(device_id)? else {
                return Ok(None);
            };
            tx.delete_device(&device)?;
            tx.insert_audit(&device_audit(&device, actor, "device.removed", now))?;
            Ok(Some(device))
        })?)
    }
}
