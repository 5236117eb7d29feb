//! `[providers.<provider>]`: one section per provider, all of the same shape. The keys only Whop reads are checked in
//! `settings/whop.rs`; the Aghanim-only keys, `item_skus` (the item SKUs an `item.add` grants as entitlements) and
//! `accept_sandbox` (whether `sandbox: true` events change access), are checked here, and set only under Aghanim.

use serde::Deserialize;
use tollgate_policy::{HumanDuration, Provider};
use tollgate_providers::aghanim::{AghanimAdapter, AghanimOptions};
use tollgate_service::ingest::Ingest;

use super::{Secret, SettingsError, SignatureTolerance, secret_list, string_list, whop};
use crate::cli::doctor::Check;
use crate::cli::env_var;

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
    /// `ingest` with the adapters the provider-specific keys of these sections configure; a replay uses them too.
    pub fn configure_ingest(&self, ingest: Ingest) -> Ingest {
        ingest.with_adapter(AghanimAdapter::new(self.aghanim_options()))
    }

    /// Aghanim's item SKUs and sandbox choice, as its adapter takes them.
    pub fn aghanim_options(&self) -> AghanimOptions {
        AghanimOptions {
            accept_sandbox: self.aghanim.accept_sandbox,
            ..AghanimOptions::with_items(&self.aghanim.item_skus)
        }
    }

    /// `tollgate doctor`'s checks of the keys only `provider` reads (see `settings/<provider>.rs`).
    pub fn doctor_checks(&self, provider: Provider, section: &str) -> Vec<Check> {
        match provider {
            Provider::Whop => whop::doctor_checks(section, &self.whop),
            Provider::Aghanim if self.aghanim.webhooks_enabled() => {
                aghanim_doctor_checks(section, &self.aghanim)
            }
            _ => Vec::new(),
        }
    }

    /// The item SKUs are distinct, and the Aghanim keys are set only under Aghanim.
    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        for provider in [Provider::Whop, Provider::Dodo] {
            let settings = self.get(provider);
            if !settings.item_skus.is_empty() {
                return Err(SettingsError::new(
                    format!("providers.{provider}.item_skus"),
                    "is an Aghanim setting; set providers.aghanim.item_skus instead",
                ));
            }
            if settings.accept_sandbox {
                return Err(SettingsError::new(
                    format!("providers.{provider}.accept_sandbox"),
                    "is an Aghanim setting; set providers.aghanim.accept_sandbox instead",
                ));
            }
        }
        let skus = &self.aghanim.item_skus;
        for (index, sku) in skus.iter().enumerate() {
            if skus[..index].contains(sku) {
                return Err(SettingsError::new(
                    "providers.aghanim.item_skus",
                    format!("lists `{sku}` twice"),
                ));
            }
        }
        Ok(())
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
    /// Aghanim only: the item SKUs an `item.add` grants as entitlements (see [`ProvidersSettings::validate`]).
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

/// `tollgate doctor`'s checks of the Aghanim keys: which `item.add` events Tollgate grants, and whether sandbox events count.
fn aghanim_doctor_checks(section: &str, p: &ProviderSettings) -> Vec<Check> {
    const ITEMS: &str = "providers.aghanim.item_skus";
    const SANDBOX: &str = "providers.aghanim.accept_sandbox";
    let items = if p.item_skus.is_empty() {
        Check::pending(
            section,
            ITEMS,
            "no item SKUs listed: every item.add and item.remove sent to Tollgate is answered 422 UNSUPPORTED_ITEM \
             (nothing credited, nothing stored), which Aghanim shows as a failed delivery",
        )
        .fix(format!(
            "if Tollgate should grant one-time items (a \"Pro unlock\"), list their SKUs: {}=pro_unlock,dlc_1 (or \
             {ITEMS} = [\"pro_unlock\"] in tollgate.toml); otherwise leave item.add and item.remove off the webhook \
             that points at Tollgate",
            env_var(ITEMS)
        ))
    } else {
        Check::done(
            section,
            ITEMS,
            format!(
                "item.add grants {} item SKU(s) as entitlements, one per player and SKU: {}",
                p.item_skus.len(),
                p.item_skus.join(", ")
            ),
        )
        .note(
            "an item.add or item.remove with any other SKU is answered 422 UNSUPPORTED_ITEM, so Aghanim never reads a \
             2xx as \"credited\" for an item Tollgate did not grant; send those items to your game server",
        )
        .note("item entitlements are perpetual unless a product rule for the SKU sets plan_model")
    };
    let items = items.note(
        "player.verify, player.lookup, player.is_idle, store.get and batch.ready are answered 422 UNSUPPORTED_EVENT: \
         they expect answers Tollgate does not give",
    );
    let sandbox = if p.accept_sandbox {
        Check::pending(
            section,
            SANDBOX,
            "accept_sandbox = true: events Aghanim marks sandbox: true (test purchases) grant and revoke access like \
             production ones",
        )
        .fix(format!(
            "turn it off on a production server: {}=false",
            env_var(SANDBOX)
        ))
    } else {
        Check::done(
            section,
            SANDBOX,
            "accept_sandbox = false: sandbox events are stored and marked, and change no access (a sandbox item.add \
             is answered 422 SANDBOX_NOT_ACCEPTED)",
        )
    };
    vec![items, sandbox]
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;
    use crate::settings::{ConfigFile, Settings};

    fn load(toml_text: &str, vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(toml_text.as_bytes()).unwrap();
        let env = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        Settings::load_from(ConfigFile::Explicit(file.path()), env)
    }

    #[test]
    fn item_skus_and_sandbox_come_from_toml_or_the_environment() {
        let defaults = load("", &[]).unwrap();
        assert!(defaults.providers.aghanim.item_skus.is_empty());
        assert!(!defaults.providers.aghanim.accept_sandbox);
        assert_eq!(defaults.providers.aghanim_options(), AghanimOptions::default());

        let toml_text =
            "[providers.aghanim]\nitem_skus = [\"pro_unlock\", \" dlc_1 \"]\naccept_sandbox = true\n";
        let from_toml = load(toml_text, &[]).unwrap();
        assert_eq!(from_toml.providers.aghanim.item_skus, ["pro_unlock", "dlc_1"]);
        let from_env = load(
            "",
            &[
                ("TOLLGATE_PROVIDERS__AGHANIM__ITEM_SKUS", "pro_unlock, dlc_1,"),
                ("TOLLGATE_PROVIDERS__AGHANIM__ACCEPT_SANDBOX", "true"),
            ],
        )
        .unwrap();
        for settings in [from_toml, from_env] {
            let options = settings.providers.aghanim_options();
            assert!(options.accept_sandbox);
            assert!(options.grants_item("pro_unlock") && options.grants_item("dlc_1"));
            assert_eq!(options.item_skus.len(), 2);
        }
    }

    #[test]
    fn the_aghanim_section_has_its_defaults_and_reads_the_environment() {
        let defaults = load("", &[]).unwrap();
        assert_eq!(defaults.providers.aghanim.api_base, "https://api.aghanim.com");
        assert_eq!(
            defaults.providers.aghanim.signature_tolerance,
            SignatureTolerance::Off
        );
        let s = load("", &[("TOLLGATE_PROVIDERS__AGHANIM__SIGNATURE_TOLERANCE", "1h")]).unwrap();
        assert_eq!(
            s.providers.aghanim.signature_tolerance,
            SignatureTolerance::Within(HumanDuration::from_secs(3600))
        );
    }

    #[test]
    fn the_aghanim_keys_belong_under_aghanim_and_skus_are_distinct() {
        let error = load("[providers.whop]\nitem_skus = [\"x\"]\n", &[]).unwrap_err();
        assert_eq!(error.key, "providers.whop.item_skus");
        assert_eq!(
            error.message,
            "is an Aghanim setting; set providers.aghanim.item_skus instead"
        );
        let error = load("", &[("TOLLGATE_PROVIDERS__DODO__ACCEPT_SANDBOX", "true")]).unwrap_err();
        assert_eq!(error.key, "providers.dodo.accept_sandbox");
        let error = load("[providers.aghanim]\nitem_skus = [\"a\", \"b\", \"a\"]\n", &[]).unwrap_err();
        assert_eq!(error.key, "providers.aghanim.item_skus");
        assert_eq!(error.message, "lists `a` twice");
    }
}
