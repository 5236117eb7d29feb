//! The provider APIs one process calls, built once from configuration: one registry keyed by [`Provider`], read by
//! the license flows and by reconciliation alike. Each provider's adapter builds its own entry from its settings
//! ([`ProviderAdapter::api`](crate::ProviderAdapter::api)), and says there whether it is built at all.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use tollgate_policy::Provider;

use crate::dodo::DodoApi;
use crate::error::ApiError;
use crate::http::ClientConfig;
use crate::reconcile::SubjectListing;
use crate::registry::Registry;
use crate::whop::WhopApi;

/// One provider's API, by the shape of what Tollgate does with it.
#[derive(Clone)]
pub enum ProviderApi {
    /// Memberships looked up by license key, whose metadata can carry the device binding Tollgate mirrors, listed
    /// account-wide for reconciliation.
    Memberships(Arc<dyn WhopApi>),
    /// License keys whose devices are instances held at the provider, with entitlement grants and subscriptions
    /// listed for reconciliation.
    LicenseKeys(Arc<dyn DodoApi>),
    /// Entitlements listed one subject at a time, for reconciliation only (no license endpoints).
    Subjects(Arc<dyn SubjectListing>),
}

impl ProviderApi {
    /// Whether the license flows call it (it has license endpoints).
    pub fn has_license_endpoints(&self) -> bool {
        !matches!(self, ProviderApi::Subjects(_))
    }

    fn shape(&self) -> &'static str {
        match self {
            ProviderApi::Memberships(_) => "memberships",
            ProviderApi::LicenseKeys(_) => "license keys",
            ProviderApi::Subjects(_) => "subjects",
        }
    }
}

impl fmt::Debug for ProviderApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.shape())
    }
}

/// What an adapter builds its API from: the client configuration of its section, and the section's other facts.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Base URL, API key (if set) and timeouts.
    pub client: ClientConfig,
    /// The pinned API version (`api_version`; empty when the section has none).
    pub api_version: String,
    /// The vendor's account id at the provider (`company_id`; `None` when not set).
    pub account_id: Option<String>,
    /// Whether the section takes webhooks (a secret is set): a provider whose license endpoints need no key is
    /// called only when it is in use.
    pub webhooks_enabled: bool,
}

impl ApiSettings {
    /// Settings with nothing but `client` (no version, no account id, no webhooks).
    pub fn new(client: ClientConfig) -> ApiSettings {
        ApiSettings {
            client,
            api_version: String::new(),
            account_id: None,
            webhooks_enabled: false,
        }
    }
}

struct Entry {
    api: ProviderApi,
    /// Whether it calls with an API key: reconciliation lists only with one.
    authenticated: bool,
}

/// The provider APIs of this process, keyed by [`Provider`], in the providers' order, with the registry whose
/// adapters they come from. Cheap to clone.
#[derive(Clone)]
pub struct ProviderApis {
    entries: BTreeMap<Provider, Arc<Entry>>,
    /// The adapters' facts about license keys ([`ProviderApis::license_order`]).
    registry: Registry,
}

impl Default for ProviderApis {
    /// No API at all, over the built-in registry.
    fn default() -> Self {
        ProviderApis {
            entries: BTreeMap::new(),
            registry: Registry::shared().clone(),
        }
    }
}

impl ProviderApis {
    /// No API at all (every provider is answered from local state), over the built-in registry.
    pub fn new() -> ProviderApis {
        ProviderApis::default()
    }

    /// The API of every adapter in `registry` that builds one from `settings(provider)`.
    ///
    /// # Errors
    /// A client that cannot be built ([`ApiError::Config`]).
    pub fn build(
        registry: &Registry,
        settings: impl Fn(Provider) -> ApiSettings,
    ) -> Result<ProviderApis, ApiError> {
        let mut apis = ProviderApis {
            entries: BTreeMap::new(),
            registry: registry.clone(),
        };
        for adapter in registry.adapters() {
            let provider = adapter.provider();
            let settings = settings(provider);
            if let Some(api) = adapter.api(&settings) {
                apis.insert(provider, api?, settings.client.api_key.is_some());
            }
        }
        Ok(apis)
    }

    /// These APIs and `api` for `provider`, called with an API key (replacing any API it had).
    #[must_use]
    pub fn with(mut self, provider: Provider, api: ProviderApi) -> ProviderApis {
        self.insert(provider, api, true);
        self
    }

    /// Adds `api` for `provider` (replacing any API it had); `authenticated`: it calls with an API key.
    pub fn insert(&mut self, provider: Provider, api: ProviderApi, authenticated: bool) {
        self.entries
            .insert(provider, Arc::new(Entry { api, authenticated }));
    }

    /// `provider`'s API, if one is built.
    pub fn get(&self, provider: Provider) -> Option<&ProviderApi> {
        self.entries.get(&provider).map(|entry| &entry.api)
    }

    /// The providers with an API, in the providers' order.
    pub fn providers(&self) -> impl Iterator<Item = Provider> + '_ {
        self.entries.keys().copied()
    }

    /// Only the APIs called with an API key: the ones reconciliation lists with.
    #[must_use]
    pub fn authenticated(&self) -> ProviderApis {
        ProviderApis {
            registry: self.registry.clone(),
            entries: self
                .entries
                .iter()
                .filter(|(_, entry)| entry.authenticated)
                .map(|(provider, entry)| (*provider, entry.clone()))
                .collect(),
        }
    }

    /// `provider`'s API when the license flows call it.
    pub fn license_api(&self, provider: Provider) -> Option<&ProviderApi> {
        self.get(provider).filter(|api| api.has_license_endpoints())
    }

    /// The providers with license endpoints to ask about `license_key`, a key Tollgate has never seen, in the
    /// order to ask them: the ones whose adapter claims its shape
    /// ([`ProviderAdapter::claims_license_key`](crate::ProviderAdapter::claims_license_key)) first, then the
    /// others, each group in the providers' order.
    pub fn license_order(&self, license_key: &str) -> Vec<Provider> {
        let (mut claimed, others): (Vec<Provider>, Vec<Provider>) = self
            .entries
            .iter()
            .filter(|(_, entry)| entry.api.has_license_endpoints())
            .map(|(provider, _)| *provider)
            .partition(|provider| {
                self.registry
                    .get(*provider)
                    .is_some_and(|adapter| adapter.claims_license_key(license_key))
            });
        claimed.extend(others);
        claimed
    }

    /// `provider`'s memberships API, if that is the shape of its API.
    pub fn memberships(&self, provider: Provider) -> Option<Arc<dyn WhopApi>> {
        match self.get(provider) {
            Some(ProviderApi::Memberships(api)) => Some(api.clone()),
            _ => None,
        }
    }

    /// `provider`'s license-key API, if that is the shape of its API.
    pub fn license_keys(&self, provider: Provider) -> Option<Arc<dyn DodoApi>> {
        match self.get(provider) {
            Some(ProviderApi::LicenseKeys(api)) => Some(api.clone()),
            _ => None,
        }
    }
}

impl fmt::Debug for ProviderApis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.entries
                    .iter()
                    .map(|(provider, entry)| (provider, &entry.api)),
            )
            .finish()
    }
}
