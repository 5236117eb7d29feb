//! Validation: a fresh lease from local state on every launch, with the provider consulted only when the
//! entitlement was last synced longer than `revalidate_every` ago, and never denying because of its outage.

use chrono::DateTime;
use chrono::Utc;
use tollgate_policy::{AccessRequest, EventKind, Provider, ProviderEvent, decide};
use tollgate_providers::CallContext;
use tollgate_providers::whop::WhopValidation;
use tollgate_store::{Actor, Device, Entitlement, EntitlementChange, HwidHash};

use super::activate::{provider_failed, whop_metadata};
use super::types::check_input;
use super::{Failure, LicenseError, LicenseGrant, Licensing, ValidateRequest};

/// What local state says about a validation.
enum Local {
    Answered(LicenseGrant),
    /// The device is active but the entitlement is stale: ask the provider first.
    Stale {
        entitlement: Entitlement,
        device: Device,
    },
}

impl Licensing {
    pub(super) async fn validate_inner(
        &self,
        ctx: &CallContext,
        req: &ValidateRequest,
    ) -> Result<LicenseGrant, Failure> {
        check_input(&req.license_key, &req.hwid)?;
        let key = req.license_key.clone();
        let hwid_hash = self.store().hash_hwid(&req.hwid);
        let now = self.now();
        let (k, h) = (key.clone(), hwid_hash.clone());
        let local = self
            .blocking(move |l| {
                let (entitlement, device) = l.pick_for_device(&k, &h)?;
                match device {
                    Some(device) if l.is_stale(&entitlement, now) => Ok(Local::Stale { entitlement, device }),
                    device => l.answer(&entitlement, device, &h, now).map(Local::Answered),
                }
            })
            .await?;
        let (entitlement, device) = match local {
            Local::Answered(grant) => return Ok(grant),
            Local::Stale { entitlement, device } => (entitlement, device),
        };
        self.revalidate(ctx, &key, &entitlement, &device, now).await?;
        self.blocking(move |l| {
            let (entitlement, device) = l.pick_for_device(&key, &hwid_hash)?;
            l.answer(&entitlement, device, &hwid_hash, now)
        })
        .await
    }

    /// The provider is configured and was last consulted `revalidate_every` or longer ago (or never).
    fn is_stale(&self, entitlement: &Entitlement, now: DateTime<Utc>) -> bool {
        if !self.has_api(entitlement.state.provider) {
            return false;
        }
        let every = self.policy(entitlement).revalidate_every.as_delta();
        entitlement.synced_at.is_none_or(|synced| now - synced >= every)
    }

    /// Decide from local state and sign. Blocking.
    fn answer(
        &self,
        entitlement: &Entitlement,
        device: Option<Device>,
        hwid_hash: &HwidHash,
        now: DateTime<Utc>,
    ) -> Result<LicenseGrant, Failure> {
        let policy = self.policy(entitlement);
        let devices: Vec<_> = device
            .iter()
            .map(|d| tollgate_policy::Device::new(d.hwid_hash.as_str(), d.activated_at))
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
        self.grant(entitlement, &device, decision, now)
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
        let on = |error| Failure::on(error, entitlement).with_device(Some(device));
        match entitlement.state.provider {
            Provider::Whop => {
                let binds = self
                    .inner
                    .options
                    .whop_binding
                    .binds_at_whop(&self.policy(entitlement));
                let metadata = whop_metadata(binds, &device.hwid_hash);
                match self.whop_validate(ctx, license_key, metadata).await {
                    Ok(WhopValidation::Matched(membership)) => {
                        let key = license_key.to_owned();
                        self.blocking(move |l| l.fold_whop(&membership, &key, Actor::Validation, now))
                            .await?;
                        Ok(())
                    }
                    Ok(WhopValidation::MetadataMismatch { .. }) if binds => {
                        Err(on(LicenseError::DeviceMismatch))
                    }
                    Ok(WhopValidation::NotFound) => Err(on(LicenseError::LicenseNotFound)),
                    // A mismatch without a binding at Whop says nothing about this device; outages were logged.
                    Ok(_) | Err(_) => Ok(()),
                }
            }
            Provider::Dodo => {
                let Some(dodo) = self.inner.providers.dodo.clone() else {
                    return Ok(());
                };
                let valid = match dodo
                    .validate_license(ctx, license_key, device.provider_instance_id.as_deref())
                    .await
                {
                    Ok(valid) => valid,
                    Err(err) => {
                        provider_failed(ctx, Provider::Dodo, &err);
                        return Ok(());
                    }
                };
                let id = entitlement.id.clone();
                let revoke = (!valid).then(|| EntitlementChange::new(dodo_invalid(entitlement, now)));
                self.blocking(move |l| {
                    if let Some(change) = revoke {
                        l.store().apply_change(
                            Actor::Validation,
                            &change,
                            "dodo licenses/validate: valid=false",
                        )?;
                    }
                    l.store().mark_synced(&id, now)?;
                    Ok(())
                })
                .await
            }
            _ => Ok(()),
        }
    }
}

/// Dodo says the key is no longer valid (disabled, expired, or its grant revoked).
fn dodo_invalid(entitlement: &Entitlement, now: DateTime<Utc>) -> ProviderEvent {
    ProviderEvent {
        provider: Provider::Dodo,
        external_id: entitlement.state.external_id.clone(),
        occurred_at: now,
        subject: entitlement.state.subject.clone(),
        product: entitlement.state.product.clone(),
        kind: EventKind::Revoked {
            reason: Some("license_key_invalid".to_owned()),
        },
    }
}
