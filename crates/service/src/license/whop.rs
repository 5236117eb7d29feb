//! Whop licenses on Whop's Current API (API v2 and its `validate_license` were retired on 2026-11-13).
//!
//! - **Look-up:** `GET /api/v1/memberships/{license_key}`. Access comes from the membership's `status`, through the
//!   policy (and its `status_map`), like a webhook's. A `404` is "not found" only for a device that is not
//!   activated here: for one that is, Whop forgetting the key is treated as an outage, never as "invalid key".
//! - **Devices:** Tollgate's database decides (limits, transfers, races across instances), exactly as for the other
//!   providers.
//! - **Mirror:** after a device is admitted, deactivated or reset, Tollgate writes its binding into the membership's
//!   `metadata` (`tollgate-providers`' `whop::binding`: hashed tags, never a hwid), keeping every other key. A write
//!   that fails never blocks the user: it is logged, recorded as pending, and written again by the next look-up or
//!   by reconciliation.
//! - **Reset at Whop:** when a look-up shows that the binding Tollgate last wrote is gone (its write was recorded
//!   before the look-up started, so a write still in flight is never mistaken for a reset), the customer or the
//!   vendor pressed "Reset Key" in Whop: the activation frees the devices that binding covered (audited "reset at
//!   Whop"), admits the device asking, and writes the binding again. The policy's `honor_provider_reset = false`
//!   turns this off. A revalidation leaves such a cleared binding alone, so the reset waits for the activation it
//!   was made for.
//! - **Older integrations:** a key bound by an older integration as `{"HWID": <raw id>}` (the key names are a
//!   setting) adopts the device that sends the same id, and refuses any other with `DEVICE_MISMATCH` telling
//!   the customer to reset the key in Whop.

use chrono::{DateTime, Utc};
use tollgate_providers::whop::binding::{Binding, BindingCheck};
use tollgate_providers::whop::{MembershipRef, WhopMembership};
use tollgate_providers::{ApiError, CallContext};
use tollgate_store::{Actor, Device, Entitlement, EntitlementId, MirrorState};

use super::{Failure, LicenseError, Licensing, ProviderRelease, WhopBinding};
use crate::whop_mirror::{WhopMirror, WhopPermission, log_whop_failure};

/// A failed Whop call as the license flows see it: always `PROVIDER_UNAVAILABLE` to the app; the log says why.
pub(super) fn whop_failed(ctx: &CallContext, err: &ApiError, permission: WhopPermission) -> LicenseError {
    log_whop_failure(ctx, err, permission);
    LicenseError::ProviderUnavailable
}

impl Licensing {
    /// `GET /api/v1/memberships/{license_key}`. `Ok(None)`: Whop does not know the key, which is only ever an
    /// answer for a device that is not activated here (`activated` false); for one that is, it is an outage.
    pub(super) async fn whop_lookup(
        &self,
        ctx: &CallContext,
        license_key: &str,
        activated: bool,
    ) -> Result<Option<WhopMembership>, LicenseError> {
        let Some(whop) = self.whop_api() else {
            return Err(LicenseError::ProviderUnavailable);
        };
        let found = whop
            .retrieve_membership(ctx, MembershipRef::LicenseKey(license_key))
            .await
            .map_err(|err| whop_failed(ctx, &err, WhopPermission::Read))?;
        match found {
            Some(membership) if membership.status.is_some() => Ok(Some(membership)),
            Some(membership) => {
                log::warn!(
                    request_id = ctx.request_id.as_deref().unwrap_or("-"),
                    provider = "whop",
                    membership_id = membership.id.as_str();
                    "Whop answered a membership without a status; treated as unavailable"
                );
                Err(LicenseError::ProviderUnavailable)
            }
            None if activated => {
                log::warn!(
                    request_id = ctx.request_id.as_deref().unwrap_or("-"),
                    provider = "whop";
                    "Whop does not know the key of a device activated here; answering from local state, not \
                     \"not found\""
                );
                Err(LicenseError::ProviderUnavailable)
            }
            None => Ok(None),
        }
    }

    /// What the membership's metadata says about this device's binding.
    pub(super) fn whop_binding(
        &self,
        membership: &WhopMembership,
        devices: &[Device],
        hwid: &str,
        hwid_hash: &str,
    ) -> Binding {
        let mut known: Vec<&str> = devices.iter().map(|d| d.hwid_hash.as_str()).collect();
        known.push(hwid_hash);
        Binding::read(
            &membership.metadata,
            &BindingCheck {
                membership_id: &membership.id,
                known_hashes: &known,
                hwid,
                legacy_keys: &self.inner.options.whop_legacy_keys,
            },
        )
    }

    /// A key an older integration bound to another device is refused, with a message that says to reset it in
    /// Whop. (This device's own old binding is adopted: it is simply admitted, and Tollgate's binding written.)
    pub(super) fn whop_check_legacy(binding: &Binding) -> Result<(), LicenseError> {
        match binding {
            Binding::Legacy {
                same_device: false, ..
            } => Err(LicenseError::BoundAtWhop),
            _ => Ok(()),
        }
    }

    /// Whether Whop's "Reset Key" cleared the binding Tollgate last wrote: `Some(when it was written)` when the
    /// binding is gone, its write was recorded before `looked_up_at`, devices are active here, the policy honours
    /// provider resets, and Tollgate mirrors bindings at all. Blocking.
    pub(super) fn whop_reset_due(
        &self,
        entitlement: &Entitlement,
        devices: &[Device],
        binding: &Binding,
        looked_up_at: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, Failure> {
        if binding.is_tollgate()
            || devices.is_empty()
            || self.inner.options.whop_binding == WhopBinding::Local
            || !self.policy(entitlement).honor_provider_reset
        {
            return Ok(None);
        }
        let mirror = self.store().find_binding_mirror(&entitlement.id)?;
        Ok(mirror
            .filter(|m| m.state == MirrorState::Written && m.updated_at < looked_up_at)
            .map(|m| m.updated_at))
    }

    /// Free the devices a reset at Whop cleared (those activated by the time that binding was written). Blocking.
    pub(super) fn whop_apply_reset(
        &self,
        entitlement: &Entitlement,
        written_at: DateTime<Utc>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Vec<Device>, Failure> {
        let freed = self.free_devices_activated_until(
            &entitlement.id,
            written_at,
            actor,
            "device.reset",
            "reset at Whop: the key's binding was cleared in Whop (Reset Key)",
            now,
        )?;
        log::info!(
            provider = "whop",
            entitlement_id = entitlement.id.as_str(),
            freed = freed.len();
            "reset at Whop: the binding Tollgate wrote was cleared there, so its devices are freed here"
        );
        Ok(freed)
    }

    /// Re-read a Whop membership Tollgate knows and fold it in (after a `payment.succeeded`, so a renewal's new
    /// period end is stored even when no membership event says so). `Ok(false)`: Tollgate does not know the
    /// membership, or Whop does not (nothing changed). A failed call is logged and returned; reconciliation covers it.
    pub async fn refresh_whop_membership(
        &self,
        ctx: &CallContext,
        membership_id: &str,
    ) -> Result<bool, LicenseError> {
        let Some(whop) = self.whop_api() else {
            return Ok(false);
        };
        let id = membership_id.to_owned();
        let known = self
            .blocking(move |l| Ok(l.store().find_entitlement(tollgate_policy::Provider::Whop, &id)?))
            .await
            .map_err(|failure| failure.error)?;
        if known.is_none() {
            return Ok(false);
        }
        let membership = whop
            .retrieve_membership(ctx, MembershipRef::Id(membership_id))
            .await
            .map_err(|err| whop_failed(ctx, &err, WhopPermission::Read))?;
        let Some(membership) = membership.filter(|m| m.status.is_some()) else {
            return Ok(false);
        };
        let now = self.now();
        self.blocking(move |l| {
            let key = membership.license_key.as_ref().map(|k| k.expose().to_owned());
            l.fold_whop(
                &membership,
                key.as_deref(),
                Actor::Webhook,
                "whop payment.succeeded: membership re-read from GET /api/v1/memberships",
                now,
            )?;
            Ok(true)
        })
        .await
        .map_err(|failure| failure.error)
    }

    /// The mirror writer, when Whop is configured and bindings are mirrored.
    fn mirror(&self) -> Option<WhopMirror> {
        if self.inner.options.whop_binding == WhopBinding::Local {
            return None;
        }
        Some(WhopMirror {
            store: self.store().clone(),
            whop: self.whop_api()?,
            clock: self.inner.clock.clone(),
        })
    }

    /// Mirror the entitlement's devices into `membership`'s metadata (see `whop_mirror.rs`).
    pub(super) async fn mirror_whop(
        &self,
        ctx: &CallContext,
        entitlement_id: &EntitlementId,
        membership: &WhopMembership,
    ) -> ProviderRelease {
        match self.mirror() {
            Some(mirror) => mirror.write(ctx, entitlement_id, membership).await,
            None => ProviderRelease::NotNeeded,
        }
    }

    /// After a local device change: re-read the membership and mirror the remaining devices.
    pub(super) async fn remirror_whop(
        &self,
        ctx: &CallContext,
        entitlement: &Entitlement,
    ) -> ProviderRelease {
        match self.mirror() {
            Some(mirror) => mirror.rewrite(ctx, entitlement).await,
            None => ProviderRelease::NotNeeded,
        }
    }
}
