//! The provider API clients and the license use cases, built from configuration once per process.
//!
//! The lease keys live in the database, so [`LicensingSlot`] tries to load them at start and, if the database is
//! unreachable or not migrated yet (the server still starts and `/readyz` reports it), again on the first license
//! request. Loading is race-safe across instances (`LeaseSigner::load_or_create`).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::TimeDelta;
use tollgate_policy::{HumanDuration, PolicySet};
use tollgate_providers::whop::WhopOptions;
use tollgate_providers::{ApiKey, ApiSettings, ClientConfig, ProviderApis, Registry};
use tollgate_service::clock::Clock;
use tollgate_service::lease::{LeaseError, LeaseSigner, longest_lease};
use tollgate_service::license::{Licensing, LicensingOptions, WhopBinding};
use tollgate_service::reconcile::{ReconcileOptions, Reconciler};
use tollgate_store::Store;

use crate::settings::{ProviderSettings, Settings};
use crate::startup::StartupError;

fn duration(value: HumanDuration) -> Duration {
    Duration::from_secs(u64::try_from(value.as_secs()).unwrap_or(1))
}

/// One provider's client configuration: its `api_base`, `api_key` (if set) and timeouts.
pub fn client_config(settings: &ProviderSettings) -> ClientConfig {
    let api_key = settings
        .api_key
        .is_set()
        .then(|| ApiKey::new(settings.api_key.expose().trim()));
    let mut config = ClientConfig::new(settings.api_base.trim_end_matches('/'), api_key);
    config.connect_timeout = duration(settings.connect_timeout);
    config.request_timeout = duration(settings.request_timeout);
    config
}

/// One provider's API settings: its client configuration, pinned version, account id and whether it takes
/// webhooks. Its adapter builds its API from them.
pub fn api_settings(settings: &ProviderSettings) -> ApiSettings {
    let account = settings.company_id.trim();
    ApiSettings {
        client: client_config(settings),
        api_version: settings.api_version.trim().to_owned(),
        account_id: (!account.is_empty()).then(|| account.to_owned()),
        webhooks_enabled: settings.webhooks_enabled(),
    }
}

/// Whop's own client settings: the pinned version and the company id.
pub fn whop_options(settings: &ProviderSettings) -> WhopOptions {
    WhopOptions::from_settings(&api_settings(settings))
}

fn startup_error(e: tollgate_providers::ApiError) -> StartupError {
    StartupError::Io(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        e.to_string(),
    ))
}

/// The provider APIs this server may call: each registered adapter builds its own from its section, when that
/// section calls for it (an API key; for Dodo, a webhook secret is enough).
///
/// # Errors
/// A client that cannot be built.
pub fn provider_apis(settings: &Settings) -> Result<ProviderApis, StartupError> {
    ProviderApis::build(Registry::shared(), |provider| {
        api_settings(settings.providers.get(provider))
    })
    .map_err(startup_error)
}

/// The license use cases, once their keys are loaded.
pub struct LicensingSlot {
    cell: OnceLock<Licensing>,
    store: Store,
    policies: Arc<PolicySet>,
    apis: ProviderApis,
    issuer: String,
    max_lifetime: TimeDelta,
    clock: Arc<dyn Clock>,
    options: LicensingOptions,
}

impl std::fmt::Debug for LicensingSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LicensingSlot")
            .field("loaded", &self.cell.get().is_some())
            .field("issuer", &self.issuer)
            .field("apis", &self.apis)
            .finish_non_exhaustive()
    }
}

impl LicensingSlot {
    /// Build the slot and try to load the lease keys now (blocking); a failure is logged and retried on the first
    /// license request.
    pub fn new(
        store: Store,
        settings: &Settings,
        apis: &ProviderApis,
        clock: Arc<dyn Clock>,
    ) -> LicensingSlot {
        let policies = Arc::new(settings.policy.clone());
        let slot = LicensingSlot {
            cell: OnceLock::new(),
            store,
            max_lifetime: longest_lease(&policies),
            policies,
            apis: apis.clone(),
            issuer: settings.lease.issuer.trim().to_owned(),
            clock,
            options: LicensingOptions {
                whop_binding: settings.lease.whop_binding,
                whop_legacy_keys: settings.providers.whop.legacy_binding_keys.clone(),
                reuse_for: settings.lease.reuse_for.as_delta(),
                reuse_entries: settings.lease.reuse_entries,
                ..LicensingOptions::default()
            },
        };
        if let Err(e) = slot.load() {
            log::warn!(cause = e.to_string().as_str(); "lease keys not loaded at start; license requests retry");
        }
        slot
    }

    /// The license use cases, if the keys are loaded.
    pub fn get(&self) -> Option<&Licensing> {
        self.cell.get()
    }

    /// The license use cases, loading (or creating) the lease keys first if needed. Blocking.
    pub fn load(&self) -> Result<Licensing, LeaseError> {
        if let Some(licensing) = self.cell.get() {
            return Ok(licensing.clone());
        }
        let leases =
            LeaseSigner::load_or_create(&self.store, &self.issuer, self.max_lifetime, self.clock.clone())?;
        if let Some(kid) = leases.current_kid() {
            log::info!(kid = kid.as_str(); "lease signing key loaded");
        }
        let licensing = Licensing::new(
            self.store.clone(),
            self.policies.clone(),
            self.apis.clone(),
            leases,
            self.clock.clone(),
            self.options.clone(),
        );
        Ok(self.cell.get_or_init(|| licensing).clone())
    }
}

/// This instance's name in the reconcile lock table: `<hostname>:<pid>`.
pub fn instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "tollgate".to_owned());
    format!("{host}:{}", std::process::id())
}

/// The reconciler over the providers whose API key is set.
pub fn reconciler(
    store: Store,
    settings: &Settings,
    apis: &ProviderApis,
    clock: Arc<dyn Clock>,
) -> Reconciler {
    let mut options = ReconcileOptions::new(instance_name());
    options.mirror_whop_bindings = settings.lease.whop_binding != WhopBinding::Local;
    Reconciler::new(store, apis.clone(), clock, options)
}
