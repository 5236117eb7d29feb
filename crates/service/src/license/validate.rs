//! Validation: a fresh lease from local state on every launch, with the provider consulted only when the
//! entitlement was last synced longer than `revalidate_every` ago, and never denying because of its outage; and,
//! within `reuse_for`, the same lease again from memory when nothing changed (`cache.rs`).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tollgate_policy::{AccessRequest, EventKind, Provider, ProviderEvent, decide};
use tollgate_providers::dodo::DodoValidation;
use tollgate_providers::{CallContext, ProviderApi};
use tollgate_store::{Actor, Device, Entitlement, EntitlementChange, EntitlementId, HwidHash};

use super::activate::{WHOP_REASON, provider_failed};
use super::cache::{ReuseKey, read_stamped};
use super::types::check_input;
use super::{Failure, LicenseError, LicenseGrant, Licensing, ValidateRequest};

/// What local state says about a validation.
enum Local {
    Answered(Arc<LicenseGrant>),
    /// The device is active but the entitlement is stale: ask the provider first.
    Stale(Box<(Entitlement, Device, ReuseKey)>),
}

/// The entitlement a validation acts on and the device if it is active on it, as [`Licensing::pick_for_device`]
/// reads them.
type Pick = (Entitlement, Option<Device>);

impl Licensing {
    pub(super) async fn validate_inner(
        &self,
        ctx: &CallContext,
        req: &ValidateRequest,
    ) -> Result<Arc<LicenseGrant>, Failure> {
        check_input(&req.license_key, &req.hwid)?;
        let now = self.now();
        let key = ReuseKey::new(self.store(), &req.license_key, self.store().hash_hwid(&req.hwid));
        // The hot path: the lease signed for this device moments ago, if nothing changed since (see cache.rs).
        let previous = self.inner.reuse.get(&key);
        if let Some(entry) = &previous
            && let Some(grant) = self.inner.reuse.serve(self.store(), entry, now)
        {
            return Ok(grant);
        }
        let hint = previous.map(|entry| entry.entitlement().clone());
        let license_key = req.license_key.clone();
        let k = license_key.clone();
        let hwid = req.hwid.clone();
        let h = hwid.clone();
        let local = self
            .blocking(move |l| {
                let ((entitlement, device), version) =
                    l.pick_stamped(&k, key.hwid_hash(), hint.as_ref(), now)?;
                match device {
                    Some(device) if l.is_stale(&entitlement, now) => {
                        Ok(Local::Stale(Box::new((entitlement, device, key))))
                    }
                    device => l
                        .answer_kept(key, &h, &entitlement, device, version, now)
                        .map(Local::Answered),
                }
            })
            .await?;
        let (entitlement, device, key) = match local {
            Local::Answered(grant) => return Ok(grant),
            Local::Stale(stale) => *stale,
        };
        self.revalidate(ctx, &license_key, &entitlement, &device, now)
            .await?;
        self.blocking(move |l| {
            let hint = Some(&entitlement.id);
            let ((entitlement, device), version) =
                l.pick_stamped(&license_key, key.hwid_hash(), hint, now)?;
            l.answer_kept(key, &hwid, &entitlement, device, version, now)
        })
        .await
    }

    /// [`Licensing::pick_for_device`], with the change version of the picked entitlement read before the read
    /// when its answer could be kept for reuse (see [`read_stamped`]). Blocking.
    fn pick_stamped(
        &self,
        license_key: &str,
        hwid_hash: &HwidHash,
        hint: Option<&EntitlementId>,
        now: DateTime<Utc>,
    ) -> Result<(Pick, Option<u64>), Failure> {
        let keeps = self.inner.reuse.is_enabled();
        read_stamped(
            hint.filter(|_| keeps),
            |id| self.store().entitlement_version(id),
            || self.pick_for_device(license_key, hwid_hash),
            // Only an active device on a fresh entitlement can be granted from this read.
            |(entitlement, device)| {
                (keeps && device.is_some() && !self.is_stale(entitlement, now)).then_some(&entitlement.id)
            },
        )
    }

    /// [`Licensing::answer`], and keep an allowed grant for reuse when its read was stamped with a version.
    /// Blocking.
    fn answer_kept(
        &self,
        key: ReuseKey,
        hwid: &str,
        entitlement: &Entitlement,
        device: Option<Device>,
        version: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<Arc<LicenseGrant>, Failure> {
        let grant = Arc::new(self.answer(entitlement, device, hwid, key.hwid_hash(), now)?);
        if let Some(version) = version {
            let lease = &grant.lease;
            let bounds = [
                Some(lease.refresh_after),
                Some(lease.expires_at),
                entitlement.state.paid_through.filter(|at| *at > now),
                self.stale_at(entitlement),
            ];
            self.inner.reuse.keep(
                key,
                grant.clone(),
                entitlement.id.clone(),
                version,
                now,
                bounds.into_iter().flatten(),
            );
        }
        Ok(grant)
    }

    /// The provider is configured and was last consulted `revalidate_every` or longer ago (or never).
    fn is_stale(&self, entitlement: &Entitlement, now: DateTime<Utc>) -> bool {
        self.stale_at(entitlement).is_some_and(|at| now >= at)
    }

    /// When the entitlement's provider must be asked again: `revalidate_every` after its last sync (never synced:
    /// the earliest time there is). `None` when its provider's API is not configured.
    fn stale_at(&self, entitlement: &Entitlement) -> Option<DateTime<Utc>> {
        if !self.has_api(entitlement.state.provider) {
            return None;
        }
        let every = self.policy(entitlement).revalidate_every.as_delta();
        Some(
            entitlement
                .synced_at
                .map_or(DateTime::<Utc>::MIN_UTC, |synced| synced + every),
        )
    }

    /// Decide from local state and sign (`hwid` as the app sent it, for the device claim). Blocking.
    fn answer(
        &self,
        entitlement: &Entitlement,
        device: Option<Device>,
        hwid: &str,
        hwid_hash: &HwidHash,
        now: DateTime<Utc>,
    ) -> Result<LicenseGrant, Failure> {
        let policy = self.policy(entitlement);
        let devices: Vec<_> = device
            .iter()
            .map(|d| tollgate_policy::ActiveDevice::new(d.hwid_hash.as_str(), d.activated_at))
            .collect();
        let decision = decide(
            &entitlement.state,
            &devices,
            &AccessRequest::validate(hwid_hash.as_str()),
            &policy,
            now,
        );
        let device = match (device, decision.deny_code()) {
            (Some(device), None) => device,
            (device, code) => {
                let error = code.map_or(LicenseError::DeviceNotActivated, LicenseError::from_deny);
                return Err(Failure::on(error, entitlement).with_device(device.as_ref()));
            }
        };
        if now - device.last_seen_at >= self.inner.options.touch_every {
            self.store().touch_device(&device.id, now)?;
        }
        self.grant(entitlement, &device, hwid, decision, now)
    }

    /// Ask the provider about a stale entitlement and fold the answer in. Only a definite answer denies; an
    /// outage is logged and the caller answers from local state.
    async fn revalidate(
        &self,
        ctx: &CallContext,
        license_key: &str,
        entitlement: &Entitlement,
        device: &Device,
        now: DateTime<Utc>,
    ) -> Result<(), Failure> {
        match self.inner.apis.license_api(entitlement.state.provider) {
            Some(ProviderApi::Memberships(_)) => {
                // Whop down, or (for this activated device) not knowing the key: logged, and local state answers.
                let Ok(Some(membership)) = self.whop_lookup(ctx, license_key, true).await else {
                    return Ok(());
                };
                let key = license_key.to_owned();
                let read = membership.clone();
                let (folded, devices) = self
                    .blocking(move |l| {
                        let folded = l.fold_whop(&read, Some(&key), Actor::Validation, WHOP_REASON, now)?;
                        let devices = l.store().list_devices(&folded.id)?;
                        Ok((folded, devices))
                    })
                    .await?;
                // Repair the mirror, unless Whop's "Reset Key" cleared it: that reset waits for the activation it
                // was made for.
                let binding = self.whop_binding(&membership, &devices, "", device.hwid_hash.as_str());
                let checked = folded.clone();
                let reset_waiting = self
                    .blocking(move |l| Ok(l.whop_reset_due(&checked, &devices, &binding, now)?.is_some()))
                    .await?;
                if !reset_waiting {
                    self.mirror_whop(ctx, &folded.id, &membership).await;
                }
                Ok(())
            }
            Some(ProviderApi::LicenseKeys(_)) => {
                let Some(dodo) = self.dodo_api() else {
                    return Ok(());
                };
                let validation = match dodo
                    .validate_license(ctx, license_key, device.provider_instance_id.as_deref())
                    .await
                {
                    Ok(validation) => validation,
                    Err(err) => {
                        provider_failed(ctx, Provider::Dodo, &err);
                        return Ok(());
                    }
                };
                let (revoke, why) = match validation {
                    DodoValidation::Valid => (None, ""),
                    DodoValidation::NotFound => (
                        Some(dodo_revoked(entitlement, now, "license_key_not_found")),
                        "dodo licenses/validate: 404, Dodo has no such license key (deleted or never issued)",
                    ),
                    _ => (
                        Some(dodo_revoked(entitlement, now, "license_key_invalid")),
                        "dodo licenses/validate: valid=false",
                    ),
                };
                let id = entitlement.id.clone();
                let change = revoke.map(EntitlementChange::new);
                self.blocking(move |l| {
                    if let Some(change) = change {
                        crate::entitlement_change::apply_change(l.store(), Actor::Validation, &change, why)?;
                    }
                    l.store().mark_synced(&id, now)?;
                    Ok(())
                })
                .await?;
                match validation {
                    DodoValidation::NotFound => {
                        Err(Failure::on(LicenseError::LicenseNotFound, entitlement).with_device(Some(device)))
                    }
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }
}

/// Dodo says the key is no longer valid (disabled, expired, or its grant revoked: `license_key_invalid`) or does
/// not exist (404: `license_key_not_found`).
fn dodo_revoked(entitlement: &Entitlement, now: DateTime<Utc>, reason: &str) -> ProviderEvent {
    ProviderEvent {
        provider: Provider::Dodo,
        external_id: entitlement.state.external_id.clone(),
        occurred_at: now,
        subject: entitlement.state.subject.clone(),
        product: entitlement.state.product.clone(),
        kind: EventKind::Revoked {
            reason: Some(reason.to_owned()),
        },
    }
}
