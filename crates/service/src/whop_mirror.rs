//! Writing Tollgate's device binding into a Whop membership's metadata: the one place both the license flows
//! (after an admission, a deactivation or a reset, and on a stale revalidation) and reconciliation (repairing a
//! write that failed) do it. The binding itself (hashed tags, Whop's limits) is `tollgate-providers`'
//! `whop::binding`; the mirror state it records is the store's `binding_mirrors`.
//!
//! Best effort by design: the outcome is recorded (`written`, or `pending` to be repaired) and a failure logged,
//! never returned, because Tollgate's database, not the metadata, enforces devices.

use std::sync::Arc;

use tollgate_policy::Provider;
use tollgate_providers::whop::binding::{MirrorRefused, desired_metadata};
use tollgate_providers::whop::{MembershipRef, WhopApi, WhopMembership};
use tollgate_providers::{ApiError, CallContext};
use tollgate_store::{Entitlement, EntitlementId, MirrorState, Store, StoreError};

use crate::clock::Clock;
use crate::license::ProviderRelease;

/// The permission a Whop call needs, named in the log when Whop refuses the key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum WhopPermission {
    Read,
    Manage,
}

impl WhopPermission {
    fn as_str(self) -> &'static str {
        match self {
            WhopPermission::Read => "member:basic:read",
            WhopPermission::Manage => "member:manage",
        }
    }
}

/// Log a failed Whop call. A refused API key (401/403) is an ERROR that names the permission to add and the setting
/// to fix; anything else a WARN with the cause.
pub(crate) fn log_whop_failure(ctx: &CallContext, err: &ApiError, permission: WhopPermission) {
    let request_id = ctx.request_id.as_deref().unwrap_or("-");
    let cause = err.to_string();
    if let ApiError::Rejected {
        status: status @ (401 | 403),
        ..
    } = err
    {
        log::error!(
            request_id = request_id,
            provider = "whop",
            status = *status,
            permission = permission.as_str(),
            cause = cause.as_str();
            "Whop refused Tollgate's API key: give the key the `{}` permission in Whop (Developer > API keys), or set \
             a working key in providers.whop.api_key (TOLLGATE_PROVIDERS__WHOP__API_KEY)",
            permission.as_str()
        );
    } else {
        log::warn!(
            request_id = request_id,
            provider = Provider::Whop.as_str(),
            unavailable = err.is_unavailable(),
            cause = cause.as_str();
            "provider call failed"
        );
    }
}

/// Writes bindings for one store and one Whop client.
#[derive(Clone)]
pub(crate) struct WhopMirror {
    pub(crate) store: Store,
    pub(crate) whop: Arc<dyn WhopApi>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl WhopMirror {
    /// Write the entitlement's devices (now) into `membership`'s metadata as read, keeping every other key; no
    /// call when it already holds exactly that.
    pub(crate) async fn write(
        &self,
        ctx: &CallContext,
        entitlement_id: &EntitlementId,
        membership: &WhopMembership,
    ) -> ProviderRelease {
        let store = self.store.clone();
        let id = entitlement_id.clone();
        let devices = match blocking(move || store.list_devices(&id)).await {
            Ok(devices) => devices,
            Err(err) => {
                log::warn!(cause = err.to_string().as_str(); "Whop binding not mirrored: devices unreadable");
                return ProviderRelease::Pending;
            }
        };
        let hashes: Vec<&str> = devices.iter().map(|d| d.hwid_hash.as_str()).collect();
        let desired = match desired_metadata(&membership.metadata, &membership.id, &hashes, &hashes) {
            Ok(desired) => desired,
            Err(MirrorRefused::TooManyKeys) => {
                log::warn!(
                    provider = "whop",
                    membership_id = membership.id.as_str();
                    "Whop binding not mirrored: the membership's metadata already holds Whop's maximum of 50 keys; \
                     remove unused keys in Whop. Tollgate still enforces the devices."
                );
                self.record(entitlement_id, MirrorState::Pending).await;
                return ProviderRelease::Pending;
            }
        };
        if desired == membership.metadata {
            self.record(entitlement_id, MirrorState::Written).await;
            return ProviderRelease::Released;
        }
        match self.whop.update_metadata(ctx, &membership.id, &desired).await {
            Ok(_) => {
                self.record(entitlement_id, MirrorState::Written).await;
                ProviderRelease::Released
            }
            Err(err) => {
                log_whop_failure(ctx, &err, WhopPermission::Manage);
                log::warn!(
                    request_id = ctx.request_id.as_deref().unwrap_or("-"),
                    provider = "whop",
                    membership_id = membership.id.as_str();
                    "Whop binding not mirrored now; it is written again at the next look-up or reconciliation"
                );
                self.record(entitlement_id, MirrorState::Pending).await;
                ProviderRelease::Pending
            }
        }
    }

    /// Re-read the membership by id, then [`WhopMirror::write`].
    pub(crate) async fn rewrite(&self, ctx: &CallContext, entitlement: &Entitlement) -> ProviderRelease {
        let membership_id = &entitlement.state.external_id;
        match self
            .whop
            .retrieve_membership(ctx, MembershipRef::Id(membership_id))
            .await
        {
            Ok(Some(membership)) => self.write(ctx, &entitlement.id, &membership).await,
            Ok(None) => {
                log::warn!(
                    provider = "whop",
                    membership_id = membership_id.as_str();
                    "Whop does not know this membership any more; its binding was not written"
                );
                ProviderRelease::NotNeeded
            }
            Err(err) => {
                log_whop_failure(ctx, &err, WhopPermission::Read);
                self.record(&entitlement.id, MirrorState::Pending).await;
                ProviderRelease::Pending
            }
        }
    }

    /// Record a mirror outcome, stamped after the write finished (so a look-up that started later saw it).
    async fn record(&self, entitlement_id: &EntitlementId, state: MirrorState) {
        let store = self.store.clone();
        let clock = self.clock.clone();
        let id = entitlement_id.clone();
        if let Err(err) = blocking(move || store.set_binding_mirror(&id, state, clock.now())).await {
            log::warn!(
                entitlement_id = entitlement_id.as_str(),
                cause = err.to_string().as_str();
                "the outcome of a Whop binding write was not recorded"
            );
        }
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(join) => Err(StoreError::Unavailable {
            reason: format!("blocking store task failed: {join}"),
            cause: None,
        }),
    }
}
