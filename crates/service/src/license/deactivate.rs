//! Deactivation (the app frees its own device, under the transfer policy) and the admin's device reset.
//!
//! Dodo goes first, after a read-only check of the transfer policy: if Dodo cannot be reached, the answer is
//! `PROVIDER_UNAVAILABLE` and the device stays active here, so nothing is left half-done in the direction that
//! matters (a device freed here but still holding a Dodo instance would block the customer's next activation). The
//! check is then repeated in the same unit of work (`Store::write`) as the removal, under the entitlement's row lock.
//!
//! Whop goes after: its binding is only a mirror of Tollgate's devices (see `whop.rs`), so the device is freed here
//! first and the binding is then written without it, best effort (a failed write is repaired later and blocks
//! nobody).

use chrono::DateTime;
use chrono::Utc;
use tollgate_policy::{Provider, TRANSFER_WINDOW, check_transfer};
use tollgate_providers::CallContext;
use tollgate_providers::dodo::DodoDeactivation;
use tollgate_store::{Actor, Device, DeviceId, Entitlement, EntitlementId, NewAudit, StoreError, Transfer};

use super::activate::provider_failed;
use super::types::check_input;
use super::{
    DeactivateRequest, Deactivated, DeviceReset, DeviceSummary, Failure, LicenseError, Licensing,
    ProviderRelease, device_audit,
};

/// The longest admin name kept in the audit trail.
const MAX_ADMIN_LEN: usize = 64;

impl Licensing {
    pub(super) async fn deactivate_inner(
        &self,
        ctx: &CallContext,
        req: &DeactivateRequest,
    ) -> Result<Deactivated, Failure> {
        check_input(&req.license_key, &req.hwid)?;
        let key = req.license_key.clone();
        let hwid_hash = self.store().hash_hwid(&req.hwid);
        let now = self.now();
        let h = hwid_hash.clone();
        let (entitlement, device, policy) = self
            .blocking(move |l| {
                let (entitlement, device) = l.pick_for_device(&key, &h)?;
                let Some(device) = device else {
                    return Err(Failure::on(LicenseError::DeviceNotActivated, &entitlement));
                };
                let policy = l.policy(&entitlement);
                let since = now - TRANSFER_WINDOW.max(policy.transfer_cooldown.as_delta());
                let recent: Vec<DateTime<Utc>> = l
                    .store()
                    .list_transfers_since(&entitlement.id, since)?
                    .into_iter()
                    .map(|t| t.at)
                    .collect();
                if let Err(denial) = check_transfer(&policy, &recent, now) {
                    return Err(Failure::on(transfer_error(denial), &entitlement).with_device(Some(&device)));
                }
                Ok((entitlement, device, policy))
            })
            .await?;
        self.release_at_provider(ctx, Some(&req.license_key), &entitlement, &device)
            .await
            .map_err(|error| Failure::on(error, &entitlement).with_device(Some(&device)))?;
        let id = entitlement.id.clone();
        let freed = entitlement.clone();
        let deactivated = self
            .blocking(move |l| {
                // The check again, the removal, the transfer record and the audit row: one unit of work under the
                // entitlement's row lock, so concurrent transfers cannot overspend the budget.
                let freed = l.store().write(|tx| {
                    if !tx.lock(&id)? {
                        return Err(StoreError::NotFound {
                            entity: "entitlement",
                            id: id.as_str().to_owned(),
                        });
                    }
                    let Some(device) = tx.find_device(&id, &hwid_hash)? else {
                        return Ok(Err(LicenseError::DeviceNotActivated));
                    };
                    let lookback = TRANSFER_WINDOW.max(policy.transfer_cooldown.as_delta());
                    let since = now
                        .checked_sub_signed(lookback)
                        .unwrap_or(DateTime::<Utc>::MIN_UTC);
                    let recent: Vec<DateTime<Utc>> = tx
                        .list_transfers_since(&id, since)?
                        .into_iter()
                        .map(|transfer| transfer.at)
                        .collect();
                    if let Err(denial) = check_transfer(&policy, &recent, now) {
                        log::warn!(
                            entitlement_id = id.as_str();
                            "transfer refused after the provider released the device (a concurrent transfer)"
                        );
                        return Ok(Err(transfer_error(denial)));
                    }
                    tx.delete_device(&device)?;
                    tx.insert_transfer(&Transfer {
                        entitlement_id: id.clone(),
                        from_hwid_hash: hwid_hash.clone(),
                        at: now,
                    })?;
                    tx.insert_audit(&device_audit(
                        &device,
                        Actor::Deactivation,
                        "device.transferred",
                        now,
                    ))?;
                    Ok(Ok(tx.list_devices(&id)?))
                })?;
                let devices = freed.map_err(|error| Failure::on(error, &entitlement))?;
                Ok(Deactivated {
                    code: "DEACTIVATED",
                    max_devices: policy.max_devices,
                    devices: devices.iter().map(DeviceSummary::from).collect(),
                })
            })
            .await?;
        if freed.state.provider == Provider::Whop {
            self.remirror_whop(ctx, &freed).await;
        }
        Ok(deactivated)
    }

    /// Admin reset: free one device regardless of the transfer policy (no transfer is counted), audited with the
    /// admin's name. A Dodo instance is deactivated at Dodo when `license_key` is given (Dodo's API needs the key,
    /// which Tollgate stores only as a hash); the Whop binding is written again without the device.
    pub async fn reset_device(
        &self,
        ctx: &CallContext,
        entitlement_id: &EntitlementId,
        device_id: &DeviceId,
        admin: &str,
        license_key: Option<&str>,
    ) -> Result<DeviceReset, LicenseError> {
        self.reset_device_by(ctx, entitlement_id, device_id, Actor::Admin, admin, license_key)
            .await
    }

    /// [`Licensing::reset_device`] by another actor (the browser console resets as [`Actor::Console`]): the same
    /// checks, provider release and audit row, with `actor` and `admin` in it.
    pub async fn reset_device_by(
        &self,
        ctx: &CallContext,
        entitlement_id: &EntitlementId,
        device_id: &DeviceId,
        actor: Actor,
        admin: &str,
        license_key: Option<&str>,
    ) -> Result<DeviceReset, LicenseError> {
        let now = self.now();
        let (id, dev) = (entitlement_id.clone(), device_id.clone());
        let (entitlement, device) = self
            .blocking(move |l| {
                let store = l.store();
                let entitlement = store
                    .find_entitlement_by_id(&id)?
                    .ok_or(LicenseError::LicenseNotFound)?;
                let device = store
                    .list_devices(&id)?
                    .into_iter()
                    .find(|d| d.id == dev)
                    .ok_or(LicenseError::DeviceNotActivated)?;
                Ok((entitlement, device))
            })
            .await
            .map_err(|failure| failure.error)?;
        let release = self
            .release_at_provider(ctx, license_key, &entitlement, &device)
            .await?;
        let admin: String = admin
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_ADMIN_LEN)
            .collect();
        // One unit of work: the removal and its audit rows. Whop's binding is written after the device is gone
        // here, and the `device.reset` row names how that went, so for Whop it follows in its own write.
        let whop = entitlement.state.provider == Provider::Whop;
        let device_id = device.id.clone();
        let reset_by = admin.clone();
        let removed = self
            .blocking(move |l| {
                let removed = l.store().write(|tx| {
                    let Some(device) = tx.find_device_by_id(&device_id)? else {
                        return Ok(None);
                    };
                    tx.delete_device(&device)?;
                    tx.insert_audit(&device_audit(&device, actor, "device.removed", now))?;
                    if !whop {
                        tx.insert_audit(&reset_audit(&device, actor, &reset_by, release, now))?;
                    }
                    Ok(Some(device))
                })?;
                Ok(removed.ok_or(LicenseError::DeviceNotActivated)?)
            })
            .await
            .map_err(|failure| failure.error)?;
        let release = if whop {
            let release = self.remirror_whop(ctx, &entitlement).await;
            let entry = reset_audit(&removed, actor, &admin, release, now);
            self.blocking(move |l| Ok(l.store().write(|tx| tx.insert_audit(&entry))?))
                .await
                .map_err(|failure| failure.error)?;
            release
        } else {
            release
        };
        Ok(DeviceReset {
            device: DeviceSummary::from(&removed),
            provider: release,
        })
    }

    /// Free the device's provider-side state before it is freed here: the Dodo instance. (Whop's binding is written
    /// after, see the module docs.)
    async fn release_at_provider(
        &self,
        ctx: &CallContext,
        license_key: Option<&str>,
        entitlement: &Entitlement,
        device: &Device,
    ) -> Result<ProviderRelease, LicenseError> {
        match entitlement.state.provider {
            Provider::Dodo => {
                let (Some(dodo), Some(instance)) = (self.dodo_api(), device.provider_instance_id.as_deref())
                else {
                    return Ok(ProviderRelease::NotNeeded);
                };
                let Some(key) = license_key else {
                    return Ok(ProviderRelease::SkippedNoLicenseKey);
                };
                match dodo.deactivate_license(ctx, key, instance).await {
                    // Gone already (or the key is gone): nothing left to release.
                    Ok(
                        DodoDeactivation::Deactivated
                        | DodoDeactivation::InstanceNotFound
                        | DodoDeactivation::NotFound,
                    ) => Ok(ProviderRelease::Released),
                    Ok(_) => Err(LicenseError::ProviderUnavailable),
                    Err(err) => Err(provider_failed(ctx, Provider::Dodo, &err)),
                }
            }
            _ => Ok(ProviderRelease::NotNeeded),
        }
    }
}

fn transfer_error(denial: tollgate_policy::TransferDenial) -> LicenseError {
    match denial {
        tollgate_policy::TransferDenial::Cooldown { retry_at } => LicenseError::TransferCooldown { retry_at },
        _ => LicenseError::TransferNotAllowed,
    }
}

impl Licensing {
    /// Free, at once and under the entitlement's row lock, every device activated at or before `activated_until`
    /// (the devices a provider-side reset cleared; one admitted since is kept), with one `device.removed` audit row
    /// per device and one `action` row carrying `detail` (e.g. `device.reset`, "reset at Whop"): one unit of work.
    /// Returns the devices freed (none is not an error). Blocking.
    pub(super) fn free_devices_activated_until(
        &self,
        entitlement_id: &EntitlementId,
        activated_until: DateTime<Utc>,
        actor: Actor,
        action: &str,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Device>, StoreError> {
        Ok(self.store().write(|tx| {
            if !tx.lock(entitlement_id)? {
                return Err(StoreError::NotFound {
                    entity: "entitlement",
                    id: entitlement_id.as_str().to_owned(),
                });
            }
            let freed: Vec<Device> = tx
                .list_devices(entitlement_id)?
                .into_iter()
                .filter(|device| device.activated_at <= activated_until)
                .collect();
            if freed.is_empty() {
                // The validation cache re-reads the entitlement even when nothing was freed.
                tx.mark_changed(entitlement_id);
                return Ok(freed);
            }
            // Its version moves once, for all of them.
            tx.delete_devices(&freed)?;
            let mut audits: Vec<NewAudit> = freed
                .iter()
                .map(|device| device_audit(device, actor, "device.removed", now))
                .collect();
            audits.push(NewAudit {
                entitlement_id: Some(entitlement_id.clone()),
                device_id: None,
                at: now,
                actor,
                action: action.to_owned(),
                detail: Some(format!("{detail}; {} device(s) freed", freed.len())),
                inbox_id: None,
            });
            for audit in &audits {
                tx.insert_audit(audit)?;
            }
            Ok(freed)
        })?)
    }
}

/// The `device.reset` audit row: who reset the device, and what became of its provider-side state.
fn reset_audit(
    device: &Device,
    actor: Actor,
    admin: &str,
    release: ProviderRelease,
    at: DateTime<Utc>,
) -> NewAudit {
    NewAudit {
        entitlement_id: Some(device.entitlement_id.clone()),
        device_id: Some(device.id.clone()),
        at,
        actor,
        action: "device.reset".to_owned(),
        detail: Some(format!("reset by {admin}; provider: {}", release_name(release))),
        inbox_id: None,
    }
}

fn release_name(release: ProviderRelease) -> &'static str {
    match release {
        ProviderRelease::NotNeeded => "nothing to release",
        ProviderRelease::Released => "released",
        ProviderRelease::Pending => "Whop binding to be written at the next look-up",
        ProviderRelease::SkippedNoLicenseKey => "Dodo instance left active (no license key given)",
    }
}
