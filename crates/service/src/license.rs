//! The license use cases: activate a device, validate it on each launch, deactivate it to move the license, and the
//! admin's device reset and "why was this device denied?". Async, because provider calls are; every store call
//! runs in `tokio::task::spawn_blocking` and no connection is held across an `.await`.
//!
//! Decisions (see the crate README, "Licensing", for the full list):
//! - A key is looked up locally first (by its keyed hash). Unknown keys are asked of the configured providers:
//!   Whop first, then Dodo, except that a key in a provider's own shape (Dodo's UUIDs, its adapter's
//!   `claims_license_key`) asks that provider first (`ProviderApis::license_order`). A provider that answers
//!   "not found" passes to the next; one that cannot be reached is remembered, and if no provider knows the key the
//!   answer is `PROVIDER_UNAVAILABLE` rather than a false `LICENSE_NOT_FOUND`.
//! - Nothing is stored before the provider has answered, so an outage leaves no device row and no entitlement.
//! - Several entitlements for one key (rare: a Dodo key activated before its grant webhook arrived): the one on
//!   which this device is active wins, then the most recently updated, then the highest id.

mod activate;
mod cache;
mod deactivate;
mod error;
mod types;
mod validate;
mod whop;

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, SubsecRound as _, TimeDelta, Utc};
use serde::Deserialize;
use tollgate_policy::{Decision, EntitlementAccess, Policy, PolicySet, Provider};
use tollgate_providers::dodo::DodoApi;
use tollgate_providers::whop::WhopApi;
use tollgate_providers::{CallContext, ProviderApis};
use tollgate_store::{
    Actor, AuditEntry, Device, DeviceId, Entitlement, EntitlementId, HwidHash, NewAudit, Store, StoreError,
    WriteError,
};

use crate::clock::Clock;
use crate::lease::{DeviceClaim, LeaseClaims, LeaseError, LeaseSigner};
use crate::license::cache::LeaseCache;
use crate::view::{EntitlementView, StoredExtras, policy_for};

pub use error::LicenseError;
pub use types::{
    ActivateRequest, DeactivateRequest, Deactivated, DeviceRef, DeviceReset, DeviceSummary, LeaseView,
    LicenseGrant, MAX_DEVICE_NAME_LEN, MAX_HWID_LEN, MAX_LICENSE_KEY_LEN, ProviderRelease, ValidateRequest,
};

/// The audit action of every denial ([`Licensing::denials`] lists them).
pub const DENIAL_ACTION: &str = "license.denied";

/// Whether Tollgate mirrors a Whop license's device binding into the membership's metadata (see `license/whop.rs`).
/// Tollgate's own database enforces the devices either way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhopBinding {
    /// Write the binding (hashed device tags) into the membership's metadata, so Whop's dashboard shows the key as
    /// bound and its "Reset Key" button frees the devices. (`auto` and `at_whop`, the v2-era names, mean this.)
    #[default]
    #[serde(alias = "auto", alias = "at_whop")]
    Mirror,
    /// Never write metadata at Whop.
    Local,
}

/// The metadata keys under which older integrations bound a raw hwid at Whop (see `license/whop.rs`).
pub const DEFAULT_WHOP_LEGACY_KEYS: [&str; 2] = ["HWID", "hwid"];

/// Tuning of the license flows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicensingOptions {
    pub whop_binding: WhopBinding,
    /// Metadata keys an older integration bound a raw hwid under at Whop: that device is adopted, any other is
    /// refused until the key is reset in Whop. Empty: such bindings are ignored.
    pub whop_legacy_keys: Vec<String>,
    /// A validation updates the device's `last_seen_at` only when it is older than this, so the hot path of
    /// revalidation does not write on every launch.
    pub touch_every: TimeDelta,
    /// A validation of the same device within this time of the lease this instance last signed for it, with no
    /// change to its entitlement or devices committed by this process since, answers that same lease from memory
    /// (never past its `refresh_after` or `expires_at`, the paid-through time or the next provider check). Zero
    /// signs every time. See `license/cache.rs`.
    pub reuse_for: TimeDelta,
    /// How many reusable leases are kept in memory.
    pub reuse_entries: usize,
}

impl Default for LicensingOptions {
    /// Mirrored Whop bindings, the usual legacy keys; `last_seen_at` kept to the minute; leases reused for 30 s,
    /// up to 10 000 of them.
    fn default() -> Self {
        LicensingOptions {
            whop_binding: WhopBinding::Mirror,
            whop_legacy_keys: DEFAULT_WHOP_LEGACY_KEYS.iter().map(|k| (*k).to_owned()).collect(),
            touch_every: TimeDelta::seconds(60),
            reuse_for: TimeDelta::seconds(30),
            reuse_entries: 10_000,
        }
    }
}

/// The license use cases. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Licensing {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    policies: Arc<PolicySet>,
    apis: ProviderApis,
    leases: LeaseSigner,
    clock: Arc<dyn Clock>,
    options: LicensingOptions,
    reuse: LeaseCache,
}

impl fmt::Debug for Licensing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Licensing")
            .field("apis", &self.inner.apis)
            .field("options", &self.inner.options)
            .field("reuse", &self.inner.reuse)
            .finish_non_exhaustive()
    }
}

/// A refusal or failure with what is known about it, for the audit row.
#[derive(Debug)]
pub(crate) struct Failure {
    error: LicenseError,
    entitlement: Option<EntitlementId>,
    device: Option<DeviceId>,
}

impl Failure {
    fn on(error: LicenseError, entitlement: &Entitlement) -> Failure {
        Failure {
            error,
            entitlement: Some(entitlement.id.clone()),
            device: None,
        }
    }

    fn with_device(mut self, device: Option<&Device>) -> Failure {
        self.device = device.map(|d| d.id.clone());
        self
    }
}

impl From<LicenseError> for Failure {
    fn from(error: LicenseError) -> Self {
        Failure {
            error,
            entitlement: None,
            device: None,
        }
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        LicenseError::from(error).into()
    }
}

impl From<WriteError> for Failure {
    fn from(error: WriteError) -> Self {
        LicenseError::from(error).into()
    }
}

impl From<LeaseError> for Failure {
    fn from(error: LeaseError) -> Self {
        LicenseError::from(error).into()
    }
}

/// The request being served, for the audit row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    Activate,
    Validate,
    Deactivate,
}

impl Request {
    fn actor(self) -> Actor {
        match self {
            Request::Activate => Actor::Activation,
            Request::Validate => Actor::Validation,
            Request::Deactivate => Actor::Deactivation,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Request::Activate => "activate",
            Request::Validate => "validate",
            Request::Deactivate => "deactivate",
        }
    }
}

impl Licensing {
    pub fn new(
        store: Store,
        policies: Arc<PolicySet>,
        apis: ProviderApis,
        leases: LeaseSigner,
        clock: Arc<dyn Clock>,
        options: LicensingOptions,
    ) -> Self {
        Licensing {
            inner: Arc::new(Inner {
                store,
                policies,
                apis,
                leases,
                clock,
                reuse: LeaseCache::new(options.reuse_for, options.reuse_entries),
                options,
            }),
        }
    }

    /// How many leases are kept for reuse right now, fresh or not (at most about `reuse_entries`).
    pub fn reusable_leases(&self) -> usize {
        self.inner.reuse.len()
    }

    /// The lease signer (for the JWKS route and key rotation).
    pub fn leases(&self) -> &LeaseSigner {
        &self.inner.leases
    }

    /// `POST /api/license/activate`: bind this device to the license and answer with a lease.
    pub async fn activate(
        &self,
        ctx: &CallContext,
        req: &ActivateRequest,
    ) -> Result<LicenseGrant, LicenseError> {
        let result = self.activate_inner(ctx, req).await;
        self.finish(ctx, Request::Activate, &req.license_key, &req.hwid, result)
            .await
    }

    /// `POST /api/license/validate`: a fresh lease for an activated device, from local state (the provider is
    /// consulted only when the entitlement was last synced longer than `revalidate_every` ago, and its outage
    /// never denies). Within `reuse_for` of the last lease signed for this device, with nothing changed since,
    /// that same lease is answered from memory (shared, hence the `Arc`).
    pub async fn validate(
        &self,
        ctx: &CallContext,
        req: &ValidateRequest,
    ) -> Result<Arc<LicenseGrant>, LicenseError> {
        let result = self.validate_inner(ctx, req).await;
        self.finish(ctx, Request::Validate, &req.license_key, &req.hwid, result)
            .await
    }

    /// `POST /api/license/deactivate`: free this device under the transfer policy; the remaining devices.
    pub async fn deactivate(
        &self,
        ctx: &CallContext,
        req: &DeactivateRequest,
    ) -> Result<Deactivated, LicenseError> {
        let result = self.deactivate_inner(ctx, req).await;
        self.finish(ctx, Request::Deactivate, &req.license_key, &req.hwid, result)
            .await
    }

    /// Every denial recorded for the entitlements of this license key, newest first: "why was this device
    /// denied?". Blocking (call it off the async runtime). Denials of keys Tollgate has never seen are in the audit
    /// trail without an entitlement (with the key's last 4 characters) and are not listed here.
    pub fn denials(&self, license_key: &str) -> Result<Vec<AuditEntry>, LicenseError> {
        let store = &self.inner.store;
        let mut entries = Vec::new();
        for entitlement in store.list_entitlements_by_license_key(license_key)? {
            entries.extend(
                store
                    .list_audit(&entitlement.id, 500)?
                    .into_iter()
                    .filter(|entry| entry.action == DENIAL_ACTION),
            );
        }
        entries.sort_by_key(|entry| std::cmp::Reverse(entry.id));
        Ok(entries)
    }

    /// Audit a denial, log the outcome, and drop the context.
    async fn finish<T: Send + 'static>(
        &self,
        ctx: &CallContext,
        request: Request,
        license_key: &str,
        hwid: &str,
        result: Result<T, Failure>,
    ) -> Result<T, LicenseError> {
        let failure = match result {
            Ok(value) => return Ok(value),
            Err(failure) => failure,
        };
        let request_id = ctx.request_id.as_deref().unwrap_or("-");
        if !failure.error.is_denial() {
            log::warn!(
                request_id = request_id,
                request = request.name(),
                code = failure.error.code(),
                cause = failure.error.to_string().as_str();
                "license request failed"
            );
            return Err(failure.error);
        }
        log::info!(
            request_id = request_id,
            request = request.name(),
            entitlement_id = failure.entitlement.as_ref().map_or("-", EntitlementId::as_str),
            code = failure.error.code();
            "license request denied"
        );
        let mut detail = format!("{}: {}", request.name(), failure.error.code());
        if let LicenseError::TransferCooldown { retry_at } = &failure.error {
            detail.push_str(&format!(" (retry at {})", retry_at.to_rfc3339()));
        }
        let hwid_hash = self.inner.store.hash_hwid(hwid);
        detail.push_str(&format!("; hwid_hash {}", short(hwid_hash.as_str())));
        if failure.entitlement.is_none() {
            detail.push_str(&format!("; key ...{}", last4(license_key)));
        }
        let entry = NewAudit {
            entitlement_id: failure.entitlement.clone(),
            device_id: failure.device.clone(),
            at: self.now(),
            actor: request.actor(),
            action: DENIAL_ACTION.to_owned(),
            detail: Some(detail),
            inbox_id: None,
        };
        if let Err(err) = self
            .blocking(move |l| Ok(l.inner.store.record_audit(&entry)?))
            .await
        {
            log::warn!(request_id = request_id, cause = err.error.to_string().as_str(); "denial not audited");
        }
        Err(failure.error)
    }

    /// The clock's now, in whole seconds (lease times are whole seconds, so every time in an answer is exact).
    fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now().trunc_subsecs(0)
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    fn policy(&self, entitlement: &Entitlement) -> Policy {
        policy_for(&self.inner.policies, entitlement)
    }

    /// Whether the provider of an entitlement is configured for license API calls.
    fn has_api(&self, provider: Provider) -> bool {
        self.inner.apis.license_api(provider).is_some()
    }

    /// Whop's API, when it is configured.
    fn whop_api(&self) -> Option<Arc<dyn WhopApi>> {
        self.inner.apis.memberships(Provider::Whop)
    }

    /// Dodo's API, when it is configured.
    fn dodo_api(&self) -> Option<Arc<dyn DodoApi>> {
        self.inner.apis.license_keys(Provider::Dodo)
    }

    /// Run blocking store work off the async runtime.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Licensing) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Failure> {
        let this = self.clone();
        match tokio::task::spawn_blocking(move || work(&this)).await {
            Ok(result) => result,
            Err(join) => Err(Failure::from(StoreError::Unavailable {
                reason: format!("blocking store task failed: {join}"),
                cause: None,
            })),
        }
    }

    /// The entitlements of a key, best first: newest `updated_at`, then highest id. Blocking.
    fn candidates(&self, license_key: &str) -> Result<Vec<Entitlement>, Failure> {
        let mut list = self.store().list_entitlements_by_license_key(license_key)?;
        list.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then_with(|| b.id.cmp(&a.id)));
        Ok(list)
    }

    /// The entitlement to act on for this device, and the device if it is active on it. Blocking.
    fn pick_for_device(
        &self,
        license_key: &str,
        hwid_hash: &HwidHash,
    ) -> Result<(Entitlement, Option<Device>), Failure> {
        let candidates = self.candidates(license_key)?;
        for entitlement in &candidates {
            if let Some(device) = self.store().find_device(&entitlement.id, hwid_hash)? {
                return Ok((entitlement.clone(), Some(device)));
            }
        }
        match candidates.into_iter().next() {
            Some(entitlement) => Ok((entitlement, None)),
            None => Err(LicenseError::LicenseNotFound.into()),
        }
    }

    /// Sign a lease for an allowed decision and build the `200` answer. `hwid` is the device's hwid exactly as the
    /// app sent it, for the lease's device claim. Blocking (it may reload the keys).
    fn grant(
        &self,
        entitlement: &Entitlement,
        device: &Device,
        hwid: &str,
        decision: Decision,
        now: DateTime<Utc>,
    ) -> Result<LicenseGrant, Failure> {
        let Decision::Allow { until, refresh_after } = decision else {
            let code = decision
                .deny_code()
                .map_or(LicenseError::LicenseInactive, LicenseError::from_deny);
            return Err(Failure::on(code, entitlement).with_device(Some(device)));
        };
        let leases = &self.inner.leases;
        if let Err(err) = leases.refresh_if_stale() {
            log::warn!(cause = err.to_string().as_str(); "lease keys not reloaded; signing with the loaded keys");
        }
        let view = EntitlementView::with_access(entitlement, EntitlementAccess::from(decision));
        let state = &entitlement.state;
        let claims = LeaseClaims {
            iss: leases.issuer().to_owned(),
            sub: entitlement.id.to_string(),
            aud: state
                .product
                .clone()
                .unwrap_or_else(|| format!("{}:{}", state.provider.as_str(), state.external_id)),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: until.timestamp(),
            refresh_after: refresh_after.timestamp(),
            hwid: device.hwid_hash.as_str().to_owned(),
            plan: StoredExtras::from_json(entitlement.extras.as_ref()).plan_id,
            status: view.status.clone(),
            features: state.features.clone(),
            dev: Some(DeviceClaim::new(hwid)?),
        };
        let token = leases.sign(&claims)?;
        Ok(LicenseGrant::new(
            view,
            DeviceRef {
                id: device.id.to_string(),
                activated_at: device.activated_at,
            },
            LeaseView {
                token,
                expires_at: from_unix(claims.exp),
                refresh_after: from_unix(claims.refresh_after),
            },
        ))
    }
}

/// The policy's view of stored devices.
fn policy_devices(devices: &[Device]) -> Vec<tollgate_policy::ActiveDevice> {
    devices
        .iter()
        .map(|d| tollgate_policy::ActiveDevice::new(d.hwid_hash.as_str(), d.activated_at))
        .collect()
}

/// The audit row of a change to one device (`device.activated`, `device.transferred`, ...).
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

fn from_unix(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn short(hash: &str) -> &str {
    hash.get(..16).unwrap_or(hash)
}

fn last4(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 8 {
        return "****".to_owned();
    }
    chars[chars.len() - 4..].iter().collect()
}
