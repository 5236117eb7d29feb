//! The provider API clients and the license use cases, built from configuration once per process.
//!
//! The lease keys live in the database, so [`LicensingSlot`] tries to load them at start and, if the database is
//! unreachable or not migrated yet (the server still starts and `/readyz` reports it), again on the first license
//! request. Loading is race-safe across instances (`LeaseSigner::load_or_create`).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::TimeDelta;
use tollgate_policy::{HumanDuration, PolicySet, Provider};
use tollgate_providers::dodo::DodoClient;
use tollgate_providers::whop::{WhopClient, WhopOptions};
use tollgate_providers::{ApiKey, ClientConfig, Registry, SubjectListing};
use tollgate_service::clock::Clock;
use tollgate_service::lease::{LeaseError, LeaseSigner, longest_lease};
use tollgate_service::license::{LicenseProviders, Licensing, LicensingOptions, WhopBinding};
use tollgate_service::reconcile::{ReconcileApis, ReconcileOptions, Reconciler};
use tollgate_store::Store;

use crate::settings::{ProviderSettings, Settings};
use crate::startup::StartupError;

/// The provider API clients this server may call, each built when its provider is configured for it.
#[derive(Clone, Default)]
pub struct ProviderClients {
    /// When `providers.whop.api_key` is set.
    pub whop: Option<Arc<WhopClient>>,
    /// When Dodo has an API key or a webhook secret: its license endpoints need no key, but a vendor who does not
    /// use Dodo must not have every unknown key sent there.
    pub dodo: Option<Arc<DodoClient>>,
    /// The reconcile listings of the providers listed one subject at a time, each built when its `api_key` is set
    /// (reconciliation only: such a provider has no license endpoints).
    pub listings: BTreeMap<Provider, Arc<dyn SubjectListing>>,
}

impl std::fmt::Debug for ProviderClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderClients")
            .field("whop", &self.whop.is_some())
            .field("dodo", &self.dodo.is_some())
            .field("listings", &self.listings.keys().collect::<Vec<_>>())
            .finish()
    }
}

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

/// Whop's own client settings: the pinned version and the company id.
pub fn whop_options(settings: &ProviderSettings) -> WhopOptions {
    let company = settings.company_id.trim();
    WhopOptions {
        api_version: settings.api_version.trim().to_owned(),
        company_id: (!company.is_empty()).then(|| company.to_owned()),
    }
}

fn startup_error(e: tollgate_providers::ApiError) -> StartupError {
    StartupError::Io(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        e.to_string(),
    ))
}

impl ProviderClients {
    /// The providers a client is built for, in [`Provider::ALL`] order.
    pub fn built(&self) -> Vec<Provider> {
        [
            (Provider::Whop, self.whop.is_some()),
            (Provider::Dodo, self.dodo.is_some()),
        ]
        .into_iter()
        .filter_map(|(provider, built)| built.then_some(provider))
        .chain(self.listings.keys().copied())
        .collect()
    }

    pub fn from_settings(settings: &Settings) -> Result<ProviderClients, StartupError> {
        let providers = &settings.providers;
        let whop = providers
            .whop
            .api_key
            .is_set()
            .then(|| {
                WhopClient::new(&client_config(&providers.whop), whop_options(&providers.whop)).map(Arc::new)
            })
            .transpose()
            .map_err(startup_error)?;
        let dodo = (providers.dodo.api_key.is_set() || providers.dodo.webhooks_enabled())
            .then(|| DodoClient::new(&client_config(&providers.dodo)).map(Arc::new))
            .transpose()
            .map_err(startup_error)?;
        let mut listings = BTreeMap::new();
        for adapter in Registry::shared().adapters() {
            let provider = adapter.provider();
            let section = providers.get(provider);
            if !section.api_key.is_set() {
                continue;
            }
            if let Some(listing) = adapter.subject_listing(&client_config(section)) {
                listings.insert(provider, listing.map_err(startup_error)?);
            }
        }
        Ok(ProviderClients { whop, dodo, listings })
    }

    /// The clients reconciliation uses: each provider whose API key is set (listing needs it, Dodo's too).
    pub fn reconcile_apis(&self, settings: &Settings) -> ReconcileApis {
        let keyed = |provider: Provider| settings.providers.get(provider).api_key.is_set();
        let apis = ReconcileApis {
            whop: self
                .whop
                .clone()
                .filter(|_| keyed(Provider::Whop))
                .map(|c| c as Arc<dyn tollgate_providers::whop::WhopApi>),
            dodo: self
                .dodo
                .clone()
                .filter(|_| keyed(Provider::Dodo))
                .map(|c| c as Arc<dyn tollgate_providers::dodo::DodoApi>),
            ..ReconcileApis::default()
        };
        self.listings
            .iter()
            .filter(|(provider, _)| keyed(**provider))
            .fold(apis, |apis, (_, listing)| apis.with_listing(listing.clone()))
    }

    /// The clients the license flows use.
    pub fn license_providers(&self) -> LicenseProviders {
        LicenseProviders {
            whop: self
                .whop
                .clone()
                .map(|c| c as Arc<dyn tollgate_providers::whop::WhopApi>),
            dodo: self
                .dodo
                .clone()
                .map(|c| c as Arc<dyn tollgate_providers::dodo::DodoApi>),
        }
    }
}

/// The license use cases, once their keys are loaded.
pub struct LicensingSlot {
    cell: OnceLock<Licensing>,
    store: Store,
    policies: Arc<PolicySet>,
    providers: LicenseProviders,
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
            .field("providers", &self.providers)
            .finish_non_exhaustive()
    }
}

impl LicensingSlot {
    /// Build the slot and try to load the lease keys now (blocking); a failure is logged and retried on the first
    /// license request.
    pub fn new(
        store: Store,
        settings: &Settings,
        clients: &ProviderClients,
        clock: Arc<dyn Clock>,
    ) -> LicensingSlot {
        let policies = Arc::new(settings.policy.clone());
        let slot = LicensingSlot {
            cell: OnceLock::new(),
            store,
            max_lifetime: longest_lease(&policies),
            policies,
            providers: clients.license_providers(),
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
            self.providers.clone(),
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
    clients: &ProviderClients,
    clock: Arc<dyn Clock>,
) -> Reconciler {
    let mut options = ReconcileOptions::new(instance_name());
    options.mirror_whop_bindings = settings.lease.whop_binding != WhopBinding::Local;
    Reconciler::new(store, clients.reconcile_apis(settings), clock, options)
}
