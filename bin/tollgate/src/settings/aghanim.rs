//! The Aghanim-only keys of `[providers.aghanim]`: `item_skus` (the item SKUs an `item.add` grants as entitlements)
//! and `accept_sandbox` (whether `sandbox: true` events change access). The struct they live in is shared by all
//! three providers, so setting them under Whop or Dodo is an error that says where they belong.

use serde::{Deserialize, Deserializer};
use tollgate_policy::Provider;
use tollgate_service::ingest::AghanimOptions;

use super::{ProvidersSettings, SettingsError};

/// A list of strings from a TOML array or from one comma-separated string (the environment's only form); blank
/// entries are dropped and the rest trimmed.
pub(super) fn string_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Joined(String),
        List(Vec<String>),
    }
    let values = match OneOrMany::deserialize(deserializer)? {
        OneOrMany::Joined(joined) => joined.split(',').map(str::to_owned).collect(),
        OneOrMany::List(list) => list,
    };
    Ok(values
        .into_iter()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect())
}

/// The item SKUs are distinct, and the Aghanim keys are set only under Aghanim.
pub(super) fn validate(providers: &ProvidersSettings) -> Result<(), SettingsError> {
    for provider in [Provider::Whop, Provider::Dodo] {
        let settings = providers.get(provider);
        if !settings.item_skus.is_empty() {
            return Err(SettingsError::new(
                format!("providers.{provider}.item_skus"),
                "is an Aghanim setting: move it to providers.aghanim.item_skus",
            ));
        }
        if settings.accept_sandbox {
            return Err(SettingsError::new(
                format!("providers.{provider}.accept_sandbox"),
                "is an Aghanim setting: move it to providers.aghanim.accept_sandbox",
            ));
        }
    }
    let skus = &providers.aghanim.item_skus;
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

/// What webhook ingest needs of these settings.
pub fn options(providers: &ProvidersSettings) -> AghanimOptions {
    AghanimOptions {
        accept_sandbox: providers.aghanim.accept_sandbox,
        ..AghanimOptions::with_items(&providers.aghanim.item_skus)
    }
}
