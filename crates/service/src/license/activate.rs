//! Activation: find who issued the key, refresh the local entitlement from the provider's answer, admit the
//! device under `max_devices`, and sign the first lease.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tollgate_policy::{
    AccessRequest, EventKind, Provider, ProviderEvent, admit_device, decide, decide_entitlement,
};
use tollgate_providers::dodo::{DodoActivation, DodoInstance};
use tollgate_providers::whop::{WhopMembership, WhopValidation};
use tollgate_providers::{ApiError, CallContext};
use tollgate_store::{Actor, Admission, Device, Entitlement, EntitlementChange, EntitlementId, HwidHash};

use super::types::{check_input, clean_device_name};
use super::{ActivateRequest, Failure, LicenseError, LicenseGrant, Licensing, WhopBinding, policy_devices};
use crate::view::StoredExtras;

/// One activation request, owned so it can move into blocking store work.
#[derive(Clone)]
pub(super) struct Activation {
    key: String,
    hwid: String,
    hwid_hash: HwidHash,
    name: Option<String>,
    now: DateTime<Utc>,
}

impl Licensing {
    pub(super) async fn activate_inner(
        &self,
        ctx: &CallContext,
        req: &ActivateRequest,
    ) -> Result<LicenseGrant, Failure> {
        check_input(&req.license_key, &req.hwid)?;
        let a = Activation {
            key: req.license_key.clone(),
            hwid: req.hwid.clone(),
            hwid_hash: self.store().hash_hwid(&req.hwid),
            name: clean_device_name(req.device_name.as_deref()),
            now: self.now(),
        };
        let lookup = a.clone();
        let found = self
            .blocking(move |l| match l.pick_for_device(&lookup.key, &lookup.hwid_hash) {
                Ok((entitlement, _)) => {
                    let devices = l.store().list_devices(&entitlement.id)?;
                    Ok(Some((entitlement, devices)))
                }
                Err(failure) if failure.error == LicenseError::LicenseNotFound => Ok(None),
                Err(failure) => Err(failure),
            })
            .await?;
        match found {
            Some((entitlement, devices)) => self.activate_known(ctx, &a, entitlement, devices).await,
            None => self.activate_unknown(ctx, &a).await,
        }
    }

    /// A key with a local entitlement: its provider is asked (Whop validates and binds, Dodo creates an instance)
    /// when configured; otherwise the local state answers alone.
    async fn activate_known(
        &self,
        ctx: &CallContext,
        a: &Activation,
        entitlement: Entitlement,
        devices: Vec<Device>,
    ) -> Result<LicenseGrant, Failure> {
        let policy = self.policy(&entitlement);
        let local = policy_devices(&devices);
        let existing = devices.iter().find(|d| d.hwid_hash == a.hwid_hash);
        let on = |error: LicenseError| Failure::on(error, &entitlement).with_device(existing);
        match entitlement.state.provider {
            Provider::Whop if self.has_api(Provider::Whop) => {
                // The device check first, so a refused device is never bound at Whop. The entitlement check comes
                // after Whop's answer, which may be newer than local state.
                if let Some(code) = admit_device(&local, a.hwid_hash.as_str(), &policy).deny_code() {
                    return Err(on(LicenseError::from_deny(code)));
                }
                let binds = self.inner.options.whop_binding.binds_at_whop(&policy);
                match self
                    .whop_validate(ctx, &a.key, whop_metadata(binds, &a.hwid_hash))
                    .await
                {
                    Ok(WhopValidation::Matched(membership)) => {
                        self.admit_whop(a, membership, Actor::Activation).await
                    }
                    Ok(WhopValidation::MetadataMismatch { .. }) => Err(on(LicenseError::DeviceMismatch)),
                    Ok(WhopValidation::NotFound) => Err(on(LicenseError::LicenseNotFound)),
                    Ok(_) => Err(on(LicenseError::ProviderUnavailable)),
                    Err(error) => Err(on(error)),
                }
            }
            Provider::Dodo if self.has_api(Provider::Dodo) => {
                // Dodo's answer carries no state, so decide locally first: no instance is created for a license
                // or device that is refused here anyway.
                let decision = decide(
                    &entitlement.state,
                    &local,
                    &AccessRequest::activate(a.hwid_hash.as_str()),
                    &policy,
                    a.now,
                );
                if let Some(code) = decision.deny_code() {
                    return Err(on(LicenseError::from_deny(code)));
                }
                if let Some(instance) = existing.and_then(|d| d.provider_instance_id.clone()) {
                    return self.admit(a, entitlement.id.clone(), Some(instance), false).await;
                }
                let instance = self.dodo_activate(ctx, a).await.map_err(on)?;
                let result = self
                    .admit(a, entitlement.id.clone(), Some(instance.id.clone()), false)
                    .await;
                if result.is_err() {
                    self.release_dodo_instance(ctx, &a.key, &instance.id).await;
                }
                result
            }
            _ => self.admit(a, entitlement.id.clone(), None, false).await,
        }
    }

    /// A key Tollgate has never seen: ask the configured providers in order (see the module docs).
    async fn activate_unknown(&self, ctx: &CallContext, a: &Activation) -> Result<LicenseGrant, Failure> {
        let order = if looks_like_uuid(&a.key) {
            [Provider::Dodo, Provider::Whop]
        } else {
            [Provider::Whop, Provider::Dodo]
        };
        let mut unavailable = false;
        for provider in order.into_iter().filter(|p| self.has_api(*p)) {
            let outcome = match provider {
                Provider::Whop => match self.whop_lookup_new(ctx, a).await {
                    Ok(Some(membership)) => return self.admit_whop(a, membership, Actor::Activation).await,
                    Ok(None) => Ok(()),
                    Err(error) => Err(error),
                },
                _ => match self.dodo_activate(ctx, a).await {
                    Ok(instance) => return self.admit_new_dodo(ctx, a, instance).await,
                    Err(LicenseError::LicenseNotFound) => Ok(()),
                    Err(error) => Err(error),
                },
            };
            match outcome {
                Ok(()) => {}
                Err(LicenseError::ProviderUnavailable) => unavailable = true,
                Err(error) => return Err(error.into()),
            }
        }
        Err(if unavailable {
            LicenseError::ProviderUnavailable
        } else {
            LicenseError::LicenseNotFound
        }
        .into())
    }

    /// Whop for a key not known locally. The policy (and so, under `Auto`, the binding) depends on the product,
    /// which only Whop's answer names: `Auto` first sends `{}` (which binds nothing), then binds the device hash
    /// when the product's policy is node-locked. A `{}` refused as a mismatch means the key is already bound at
    /// Whop, so the device hash is tried: it matches when this device bound it. `None`: Whop does not know the key.
    async fn whop_lookup_new(
        &self,
        ctx: &CallContext,
        a: &Activation,
    ) -> Result<Option<WhopMembership>, LicenseError> {
        let binding = self.inner.options.whop_binding;
        let bound = whop_metadata(true, &a.hwid_hash);
        let first = whop_metadata(binding == WhopBinding::AtWhop, &a.hwid_hash);
        let second = match self.whop_validate(ctx, &a.key, first).await? {
            WhopValidation::NotFound => return Ok(None),
            WhopValidation::Matched(membership) => {
                let ids: Vec<&str> = [membership.product_id.as_deref(), membership.plan_id.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect();
                let policy = self.inner.policies.for_product(Provider::Whop, &ids);
                if binding != WhopBinding::Auto || !binding.binds_at_whop(&policy) {
                    return Ok(Some(membership));
                }
                self.whop_validate(ctx, &a.key, bound).await?
            }
            WhopValidation::MetadataMismatch { .. } if binding == WhopBinding::Auto => {
                self.whop_validate(ctx, &a.key, bound).await?
            }
            WhopValidation::MetadataMismatch { .. } => return Err(LicenseError::DeviceMismatch),
            _ => return Err(LicenseError::ProviderUnavailable),
        };
        match second {
            WhopValidation::Matched(membership) => Ok(Some(membership)),
            WhopValidation::MetadataMismatch { .. } => Err(LicenseError::DeviceMismatch),
            WhopValidation::NotFound => Ok(None),
            _ => Err(LicenseError::ProviderUnavailable),
        }
    }

    /// Fold Whop's membership into the local entitlement, then admit the device.
    async fn admit_whop(
        &self,
        a: &Activation,
        membership: WhopMembership,
        actor: Actor,
    ) -> Result<LicenseGrant, Failure> {
        let key = a.key.clone();
        let now = a.now;
        let whop_says_invalid = membership.valid == Some(false);
        let entitlement = self
            .blocking(move |l| l.fold_whop(&membership, &key, actor, now))
            .await?;
        self.admit(a, entitlement.id, None, whop_says_invalid).await
    }

    /// A Dodo key activated for the first time with no local entitlement: a placeholder entitlement keyed by the
    /// license key id (`lic_...`) stands for it until a grant webhook names the grant.
    async fn admit_new_dodo(
        &self,
        ctx: &CallContext,
        a: &Activation,
        instance: DodoInstance,
    ) -> Result<LicenseGrant, Failure> {
        let event = ProviderEvent {
            provider: Provider::Dodo,
            external_id: instance
                .license_key_id
                .clone()
                .unwrap_or_else(|| format!("lic_of_{}", instance.id)),
            occurred_at: a.now,
            subject: instance.customer_id.clone(),
            product: instance.product_id.clone(),
            kind: EventKind::Activated {
                status: Some("active".to_owned()),
                paid_through: None,
                cancel_at_period_end: None,
                features: Vec::new(),
            },
        };
        let change = EntitlementChange {
            event,
            license_key: Some(a.key.clone()),
            extras: None,
        };
        let now = a.now;
        let stored = self
            .blocking(move |l| {
                let entitlement =
                    l.store()
                        .apply_change(Actor::Activation, &change, "dodo licenses/activate")?;
                l.store().mark_synced(&entitlement.id, now)?;
                Ok(entitlement.id)
            })
            .await;
        let result = match stored {
            Ok(id) => self.admit(a, id, Some(instance.id.clone()), false).await,
            Err(failure) => Err(failure),
        };
        if result.is_err() {
            self.release_dodo_instance(ctx, &a.key, &instance.id).await;
        }
        result
    }

    /// Decide on the entitlement, take a device slot, decide on the device, and sign. Blocking work.
    async fn admit(
        &self,
        a: &Activation,
        id: EntitlementId,
        instance: Option<String>,
        provider_says_invalid: bool,
    ) -> Result<LicenseGrant, Failure> {
        let a = a.clone();
        self.blocking(move |l| {
            let store = l.store();
            let entitlement = store.get_entitlement(&id)?;
            let policy = l.policy(&entitlement);
            let access = decide_entitlement(&entitlement.state, &policy, a.now);
            if let Some(code) = access.deny_code() {
                return Err(Failure::on(LicenseError::from_deny(code), &entitlement));
            }
            if provider_says_invalid {
                return Err(Failure::on(LicenseError::LicenseInactive, &entitlement));
            }
            let admission = store.activate_device(
                &id,
                &a.hwid,
                a.name.as_deref(),
                policy.max_devices,
                instance.as_deref(),
                a.now,
            )?;
            let device = match admission {
                Admission::Admitted(device) | Admission::AlreadyActive(device) => device,
                _ if policy.max_devices <= 1 => {
                    return Err(Failure::on(LicenseError::DeviceMismatch, &entitlement));
                }
                _ => return Err(Failure::on(LicenseError::DeviceLimitReached, &entitlement)),
            };
            let devices = store.list_devices(&id)?;
            let decision = decide(
                &entitlement.state,
                &policy_devices(&devices),
                &AccessRequest::activate(device.hwid_hash.as_str()),
                &policy,
                a.now,
            );
            l.grant(&entitlement, &device, decision, a.now)
        })
        .await
    }

    /// Store what Whop said about a membership (and that it was just consulted). Blocking.
    pub(super) fn fold_whop(
        &self,
        membership: &WhopMembership,
        license_key: &str,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Entitlement, Failure> {
        let store = self.store();
        let mut extras = store
            .find_entitlement(Provider::Whop, &membership.id)?
            .map(|e| StoredExtras::from_json(e.extras.as_ref()))
            .unwrap_or_default();
        if membership.plan_id.is_some() {
            extras.plan_id = membership.plan_id.clone();
        }
        let change = EntitlementChange {
            event: whop_event(membership, now),
            license_key: Some(license_key.to_owned()),
            extras: extras.to_json(),
        };
        let entitlement = store.apply_change(actor, &change, "whop validate_license")?;
        store.mark_synced(&entitlement.id, now)?;
        Ok(entitlement)
    }

    /// `validate_license` at Whop; a failure to get an answer is `ProviderUnavailable` (logged).
    pub(super) async fn whop_validate(
        &self,
        ctx: &CallContext,
        license_key: &str,
        metadata: Value,
    ) -> Result<WhopValidation, LicenseError> {
        let Some(whop) = self.inner.providers.whop.clone() else {
            return Err(LicenseError::ProviderUnavailable);
        };
        whop.validate_license(ctx, license_key, metadata)
            .await
            .map_err(|err| provider_failed(ctx, Provider::Whop, &err))
    }

    /// `POST /licenses/activate` at Dodo, mapped to the license codes.
    async fn dodo_activate(&self, ctx: &CallContext, a: &Activation) -> Result<DodoInstance, LicenseError> {
        let Some(dodo) = self.inner.providers.dodo.clone() else {
            return Err(LicenseError::ProviderUnavailable);
        };
        let name = a
            .name
            .clone()
            .unwrap_or_else(|| format!("device {}", super::short(a.hwid_hash.as_str())));
        match dodo.activate_license(ctx, &a.key, &name).await {
            Ok(DodoActivation::Activated(instance)) => Ok(instance),
            Ok(DodoActivation::Inactive { .. }) => Err(LicenseError::LicenseInactive),
            Ok(DodoActivation::NotFound) => Err(LicenseError::LicenseNotFound),
            Ok(DodoActivation::LimitReached { .. }) => Err(LicenseError::DeviceLimitReached),
            Ok(_) => Err(LicenseError::ProviderUnavailable),
            Err(err) => Err(provider_failed(ctx, Provider::Dodo, &err)),
        }
    }

    /// Undo a Dodo instance created for an activation that then failed here (best effort, logged).
    pub(super) async fn release_dodo_instance(
        &self,
        ctx: &CallContext,
        license_key: &str,
        instance_id: &str,
    ) {
        let Some(dodo) = self.inner.providers.dodo.clone() else {
            return;
        };
        if let Err(err) = dodo.deactivate_license(ctx, license_key, instance_id).await {
            log::warn!(
                request_id = ctx.request_id.as_deref().unwrap_or("-"),
                provider = "dodo",
                cause = err.to_string().as_str();
                "could not release a Dodo instance after a failed activation; it stays active at Dodo"
            );
        }
    }
}

/// The `metadata` sent to Whop: the device's keyed hash when the binding lives at Whop, else `{}`.
pub(super) fn whop_metadata(binds_at_whop: bool, hwid_hash: &HwidHash) -> Value {
    if binds_at_whop {
        json!({ "hwid": hwid_hash.as_str() })
    } else {
        json!({})
    }
}

/// The membership as an event. Without a status, Whop's `valid` decides between active and ended.
fn whop_event(membership: &WhopMembership, now: DateTime<Utc>) -> ProviderEvent {
    if let Some(event) = membership.snapshot_event(now) {
        return event;
    }
    let kind = if membership.valid == Some(true) {
        EventKind::Activated {
            status: None,
            paid_through: membership.renewal_period_end.or(membership.expires_at),
            cancel_at_period_end: membership.cancel_at_period_end,
            features: Vec::new(),
        }
    } else {
        EventKind::Deactivated {
            reason: Some("whop_invalid".to_owned()),
            status: None,
            paid_through: None,
        }
    };
    ProviderEvent {
        provider: Provider::Whop,
        external_id: membership.id.clone(),
        occurred_at: now,
        subject: membership.user_id.clone(),
        product: membership.product_id.clone(),
        kind,
    }
}

/// Log a provider call that got no usable answer; the caller answers `PROVIDER_UNAVAILABLE`.
pub(super) fn provider_failed(ctx: &CallContext, provider: Provider, err: &ApiError) -> LicenseError {
    log::warn!(
        request_id = ctx.request_id.as_deref().unwrap_or("-"),
        provider = provider.as_str(),
        unavailable = err.is_unavailable(),
        cause = err.to_string().as_str();
        "provider call failed"
    );
    LicenseError::ProviderUnavailable
}

/// Dodo's license keys are UUID-shaped (8-4-4-4-12 hex digits); only the order of the lookups depends on it.
fn looks_like_uuid(key: &str) -> bool {
    key.len() == 36
        && key.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::looks_like_uuid;

    #[test]
    fn uuid_shape_is_recognised_exactly() {
        assert!(looks_like_uuid("3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b"));
        assert!(!looks_like_uuid("3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6"));
        assert!(!looks_like_uuid("3f2a9c1e-7b4d-4e8f-9a0b_1c2d3e4f5a6b"));
        assert!(!looks_like_uuid("KLINE-8FFK3-SD83K-3K3K3-3K3K3"));
    }
}
