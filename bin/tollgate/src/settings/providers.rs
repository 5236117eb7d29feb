//! `[providers.<provider>]`: one section per provider, all of the same shape (the keys only one provider reads are
//! checked in `settings/<provider>.rs`).

use serde::Deserialize;
use tollgate_policy::{HumanDuration, Provider};
use tollgate_service::ingest::Ingest;

use super::{Secret, SignatureTolerance, aghanim, secret_list, string_list, whop};
use crate::cli::doctor::Check;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvidersSettings {
    pub whop: ProviderSettings,
    pub dodo: ProviderSettings,
    pub aghanim: ProviderSettings,
}

/// The settings of a provider that has no section here: nothing set, so it is disabled (no webhooks, no API).
static UNCONFIGURED: ProviderSettings = ProviderSettings {
    api_key: Secret(String::new()),
    webhook_secret: Secret(String::new()),
    previous_webhook_secrets: Vec::new(),
    api_base: String::new(),
    signature_tolerance: SignatureTolerance::Off,
    connect_timeout: HumanDuration::from_secs(0),
    request_timeout: HumanDuration::from_secs(0),
    api_version: String::new(),
    company_id: String::new(),
    legacy_binding_keys: Vec::new(),
    item_skus: Vec::new(),
    accept_sandbox: false,
};

impl ProvidersSettings {
    /// `ingest` with the provider-specific options these sections set (see `settings/<provider>.rs`); a replay
    /// uses them too.
    pub fn configure_ingest(&self, ingest: Ingest) -> Ingest {
        ingest.with_aghanim(aghanim::options(self))
    }

    /// `tollgate doctor`'s checks of the keys only `provider` reads (see `settings/<provider>.rs`).
    pub fn doctor_checks(&self, provider: Provider, section: &str) -> Vec<Check> {
        match provider {
            Provider::Whop => whop::doctor_checks(section, &self.whop),
            Provider::Aghanim if self.aghanim.webhooks_enabled() => {
                aghanim::doctor_checks(section, &self.aghanim)
            }
            _ => Vec::new(),
        }
    }

    /// `provider`'s section; a provider without one is unconfigured (disabled).
    pub fn get(&self, provider: Provider) -> &ProviderSettings {
        match provider {
            Provider::Whop => &self.whop,
            Provider::Dodo => &self.dodo,
            Provider::Aghanim => &self.aghanim,
            _ => &UNCONFIGURED,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    pub api_key: Secret,
    /// The current signing secret. A provider without one is disabled: its webhook endpoint answers 503.
    pub webhook_secret: Secret,
    /// Older secrets still accepted during a rotation: a TOML array, or a comma-separated string in the
    /// environment.
    #[serde(deserialize_with = "secret_list")]
    pub previous_webhook_secrets: Vec<Secret>,
    /// Scheme, host and port only: Tollgate appends the documented paths.
    pub api_base: String,
    pub signature_tolerance: SignatureTolerance,
    /// The provider API client's connect timeout (license calls and reconciliation).
    pub connect_timeout: HumanDuration,
    /// The provider API client's timeout for a whole request, per attempt.
    pub request_timeout: HumanDuration,
    /// Whop only: the `Api-Version-Date` sent on every Whop request (default in `defaults.toml`, see
    /// docs/providers.md).
    #[serde(default)]
    pub api_version: String,
    /// Whop only: the company (account) id, `biz_...`, sent on list calls; reconciliation is skipped without it.
    #[serde(default)]
    pub company_id: String,
    /// Whop only: metadata keys an older integration bound a raw hwid under (adopted for that device, refused for
    /// others); empty ignores such bindings. A TOML array, or a comma-separated string in the environment.
    #[serde(default, deserialize_with = "string_list")]
    pub legacy_binding_keys: Vec<String>,
    /// Aghanim only: the item SKUs an `item.add` grants as entitlements (see `settings/aghanim.rs`).
    #[serde(default, deserialize_with = "string_list")]
    pub item_skus: Vec<String>,
    /// Aghanim only: whether `sandbox: true` events change access.
    #[serde(default)]
    pub accept_sandbox: bool,
}

impl ProviderSettings {
    /// Every configured webhook secret, current first.
    pub fn webhook_secrets(&self) -> Vec<&Secret> {
        std::iter::once(&self.webhook_secret)
            .chain(self.previous_webhook_secrets.iter())
            .filter(|s| s.is_set())
            .collect()
    }

    pub fn webhooks_enabled(&self) -> bool {
        self.webhook_secret.is_set()
    }
}
