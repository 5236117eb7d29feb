//! Activation: find who issued the key, refresh the local entitlement from the provider's answer, admit the
//! device under `max_devices`, and sign the first lease.

use chrono::{DateTime, Utc};
use tollgate_policy::{
    AccessRequest, Admission, EventKind, Provider, ProviderEvent, admit_device, decide, decide_entitlement,
};
use tollgate_providers::dodo::{DodoActivation, DodoInstance};
use tollgate_providers::whop::WhopMembership;
use tollgate_providers::{ApiError, CallContext, ProviderApi};
use tollgate_store::{
    Actor, Device, Entitlement, EntitlementChange, EntitlementId, HwidHash, NewDevice, StoreError,
};

use super::types::{check_input, clean_device_name};
use super::{ActivateRequest, Failure, LicenseError, LicenseGrant, Licensing, device_audit, policy_devices};
use crate::entitlement_change::{ProviderAnswer, apply_provider_answer};
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

/// The entitlement an activation admits the device on: one already stored, or the one a provider's answer names,
/// which is stored (as fact, even if the device is then refused) in the same transaction as the admission.
enum Source {
    Stored(EntitlementId),
    Answer {
        change: Box<EntitlementChange>,
        actor: Actor,
        reason: &'static str,
        merge_extras: bool,
    },
}

/// The audit reason of a Whop answer.
pub(super) const WHOP_REASON: &str = "whop GET /api/v1/memberships";

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
        // The provider's API decides the flow: a membership look-up, or an instance created at the provider.
        match self.inner.apis.license_api(entitlement.state.provider) {
            Some(ProviderApi::Memberships(_)) => {
                let membership = match self.whop_lookup(ctx, &a.key, existing.is_some()).await {
                    Ok(Some(membership)) => membership,
                    Ok(None) => return Err(on(LicenseError::LicenseNotFound)),
                    Err(error) => return Err(on(error)),
                };
                let binding = self.whop_binding(&membership, &devices, &a.hwid, a.hwid_hash.as_str());
                let (e, d, b) = (entitlement.clone(), devices.clone(), binding.clone());
                let looked_up_at = a.now;
                let now = a.now;
                self.blocking(move |l| {
                    if let Some(written_at) = l.whop_reset_due(&e, &d, &b, looked_up_at)? {
                        l.whop_apply_reset(&e, written_at, Actor::Activation, now)?;
                    }
                    Ok(())
                })
                .await?;
                if !binding.is_tollgate() {
                    Self::whop_check_legacy(&binding).map_err(on)?;
                }
                self.admit_whop(ctx, a, membership).await
            }
            Some(ProviderApi::LicenseKeys(_)) => {
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
                let stored = Source::Stored(entitlement.id.clone());
                if let Some(instance) = existing.and_then(|d| d.provider_instance_id.clone()) {
                    return self.admit(a, stored, Some(instance)).await;
                }
                let instance = self.dodo_activate(ctx, a).await.map_err(on)?;
                let result = self.admit(a, stored, Some(instance.id.clone())).await;
                if result.is_err() {
                    self.release_dodo_instance(ctx, &a.key, &instance.id).await;
                }
                result
            }
            _ => self.admit(a, Source::Stored(entitlement.id.clone()), None).await,
        }
    }

    /// A key Tollgate has never seen: ask the configured providers in order (see the module docs).
    async fn activate_unknown(&self, ctx: &CallContext, a: &Activation) -> Result<LicenseGrant, Failure> {
        let mut unavailable = false;
        for provider in self.inner.apis.license_order(&a.key) {
            let outcome = match self.inner.apis.license_api(provider) {
                Some(ProviderApi::Memberships(_)) => match self.whop_lookup(ctx, &a.key, false).await {
                    Ok(Some(membership)) => {
                        let binding = self.whop_binding(&membership, &[], &a.hwid, a.hwid_hash.as_str());
                        if !binding.is_tollgate() {
                            Self::whop_check_legacy(&binding)?;
                        }
                        return self.admit_whop(ctx, a, membership).await;
                    }
                    Ok(None) => Ok(()),
                    Err(error) => Err(error),
                },
                Some(ProviderApi::LicenseKeys(_)) => match self.dodo_activate(ctx, a).await {
                    Ok(instance) => return self.admit_new_dodo(ctx, a, instance).await,
                    // A body Dodo refuses (a key not in its format) is no Dodo key either.
                    Err(LicenseError::LicenseNotFound | LicenseError::InvalidRequest(_)) => Ok(()),
                    Err(error) => Err(error),
                },
                // Not in the order: it has no license endpoints.
                Some(ProviderApi::Subjects(_)) | None => continue,
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

    /// Store Whop's membership and admit the device, in one transaction; then mirror the binding at Whop (best
    /// effort: the answer does not wait on its success).
    async fn admit_whop(
        &self,
        ctx: &CallContext,
        a: &Activation,
        membership: WhopMembership,
    ) -> Result<LicenseGrant, Failure> {
        let source = Source::Answer {
            change: Box::new(whop_change(&membership, Some(&a.key), a.now)),
            actor: Actor::Activation,
            reason: WHOP_REASON,
            merge_extras: true,
        };
        let grant = self.admit(a, source, None).await?;
        let entitlement_id = EntitlementId::new(grant.entitlement.id.clone());
        self.mirror_whop(ctx, &entitlement_id, &membership).await;
        Ok(grant)
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
        let source = Source::Answer {
            change: Box::new(EntitlementChange {
                event,
                license_key: Some(a.key.clone()),
                extras: None,
            }),
            actor: Actor::Activation,
            reason: "dodo licenses/activate",
            merge_extras: false,
        };
        let result = self.admit(a, source, Some(instance.id.clone())).await;
        if result.is_err() {
            self.release_dodo_instance(ctx, &a.key, &instance.id).await;
        }
        result
    }

    /// One blocking hop and one unit of work ([`tollgate_store::Store::write`]): store the provider's answer (if
    /// any) or lock the stored entitlement, decide on the entitlement, then on the device under `max_devices`
    /// ([`admit_device`], with the devices read under the entitlement's row lock) and insert or refresh it; then
    /// decide on the device and sign.
    ///
    /// A refusal still commits the provider's answer: what the provider said is fact and is stored whether or not
    /// this device is admitted. Only the device is not added.
    async fn admit(
        &self,
        a: &Activation,
        source: Source,
        instance: Option<String>,
    ) -> Result<LicenseGrant, Failure> {
        let a = a.clone();
        self.blocking(move |l| {
            let (entitlement, policy, admitted, devices) = l.store().write(|tx| {
                let entitlement = match &source {
                    Source::Stored(id) => tx.lock_entitlement(id)?.ok_or_else(|| StoreError::NotFound {
                        entity: "entitlement",
                        id: id.as_str().to_owned(),
                    })?,
                    Source::Answer {
                        change,
                        actor,
                        reason,
                        merge_extras,
                    } => apply_provider_answer(
                        tx,
                        &ProviderAnswer {
                            change,
                            actor: *actor,
                            reason,
                            merge_extras: *merge_extras,
                            synced_at: a.now,
                        },
                    )?,
                };
                let policy = l.policy(&entitlement);
                let access = decide_entitlement(&entitlement.state, &policy, a.now);
                if let Some(code) = access.deny_code() {
                    return Ok((
                        entitlement,
                        policy,
                        Err(LicenseError::from_deny(code)),
                        Vec::new(),
                    ));
                }
                let stored = tx.list_devices(&entitlement.id)?;
                let admitted = match admit_device(&policy_devices(&stored), a.hwid_hash.as_str(), &policy) {
                    Admission::AlreadyActive => {
                        let device = stored
                            .into_iter()
                            .find(|d| d.hwid_hash == a.hwid_hash)
                            .ok_or_else(|| StoreError::NotFound {
                                entity: "device",
                                id: a.hwid_hash.as_str().to_owned(),
                            })?;
                        Ok(tx.refresh_device(device, instance.as_deref(), a.now)?)
                    }
                    Admission::Admitted => {
                        let new = NewDevice {
                            hwid_hash: &a.hwid_hash,
                            name: a.name.as_deref(),
                            instance_id: instance.as_deref(),
                            now: a.now,
                        };
                        let device = tx.insert_device(&entitlement.id, &new)?;
                        tx.insert_audit(&device_audit(
                            &device,
                            Actor::Activation,
                            "device.activated",
                            a.now,
                        ))?;
                        Ok(device)
                    }
                    refused => Err(refused
                        .deny_code()
                        .map_or(LicenseError::DeviceLimitReached, LicenseError::from_deny)),
                };
                if admitted.is_err() {
                    return Ok((entitlement, policy, admitted, Vec::new()));
                }
                let devices = tx.list_devices(&entitlement.id)?;
                Ok((entitlement, policy, admitted, devices))
            })?;
            let device = admitted.map_err(|error| Failure::on(error, &entitlement))?;
            let decision = decide(
                &entitlement.state,
                &policy_devices(&devices),
                &AccessRequest::activate(device.hwid_hash.as_str()),
                &policy,
                a.now,
            );
            l.grant(&entitlement, &device, &a.hwid, decision, a.now)
        })
        .await
    }

    /// Store what Whop said about a membership (and that it was just consulted), in one transaction. Blocking.
    pub(super) fn fold_whop(
        &self,
        membership: &WhopMembership,
        license_key: Option<&str>,
        actor: Actor,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Entitlement, Failure> {
        let change = whop_change(membership, license_key, now);
        Ok(self.store().write(|tx| {
            apply_provider_answer(
                tx,
                &ProviderAnswer {
                    change: &change,
                    actor,
                    reason,
                    merge_extras: true,
                    synced_at: now,
                },
            )
        })?)
    }

    /// `POST /licenses/activate` at Dodo, mapped to the license codes.
    async fn dodo_activate(&self, ctx: &CallContext, a: &Activation) -> Result<DodoInstance, LicenseError> {
        let Some(dodo) = self.dodo_api() else {
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
            Ok(DodoActivation::InvalidRequest { code, message }) => {
                log::warn!(
                    request_id = ctx.request_id.as_deref().unwrap_or("-"),
                    provider = "dodo",
                    code = code.as_deref().unwrap_or("-"),
                    cause = message.as_deref().unwrap_or("-");
                    "dodo refused the activation request as invalid (422), not as a full key"
                );
                Err(LicenseError::InvalidRequest(
                    "the license provider refused this activation request as invalid; check the license key and \
                     device name",
                ))
            }
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
        let Some(dodo) = self.dodo_api() else {
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

/// Whop's answer as a change: the membership as an event, the key, and its plan (merged into the stored extras, so
/// what webhooks stored beside it is kept).
fn whop_change(
    membership: &WhopMembership,
    license_key: Option<&str>,
    now: DateTime<Utc>,
) -> EntitlementChange {
    let extras = StoredExtras {
        plan_id: membership.plan_id.clone(),
        ..StoredExtras::default()
    };
    EntitlementChange {
        event: whop_event(membership, now),
        license_key: license_key.map(str::to_owned),
        extras: extras.to_json(),
    }
}

/// The membership as an event (its status through the policy, like a webhook's). A membership without a status
/// never gets here ([`Licensing::whop_lookup`] treats it as unavailable); it would end access.
fn whop_event(membership: &WhopMembership, now: DateTime<Utc>) -> ProviderEvent {
    membership.snapshot_event(now).unwrap_or_else(|| ProviderEvent {
        provider: Provider::Whop,
        external_id: membership.id.clone(),
        occurred_at: now,
        subject: membership.user_id.clone(),
        product: membership.product_id.clone(),
        kind: EventKind::Deactivated {
            reason: Some("whop_status_missing".to_owned()),
            status: None,
            paid_through: None,
        },
    })
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
