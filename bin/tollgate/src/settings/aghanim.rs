//! The Aghanim-only keys of `[providers.aghanim]`: `item_skus` (the item SKUs an `item.add` grants as entitlements)
//! and `accept_sandbox` (whether `sandbox: true` events change access). The struct they live in is shared by all
//! three providers, so setting them under Whop or Dodo is an error that says where they belong.

use tollgate_policy::Provider;
use tollgate_service::ingest::AghanimOptions;

use super::{ProviderSettings, ProvidersSettings, SettingsError};
use crate::cli::doctor::Check;
use crate::cli::env_var;

/// The item SKUs are distinct, and the Aghanim keys are set only under Aghanim.
pub(super) fn validate(providers: &ProvidersSettings) -> Result<(), SettingsError> {
    for provider in [Provider::Whop, Provider::Dodo] {
        let settings = providers.get(provider);
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

/// `tollgate doctor`'s checks of the Aghanim keys: which `item.add` events Tollgate grants, and whether sandbox events count.
pub(super) fn doctor_checks(section: &str, p: &ProviderSettings) -> Vec<Check> {
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
        assert_eq!(options(&defaults.providers), AghanimOptions::default());

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
            let options = options(&settings.providers);
            assert!(options.accept_sandbox);
            assert!(options.grants_item("pro_unlock") && options.grants_item("dlc_1"));
            assert_eq!(options.item_skus.len(), 2);
        }
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
