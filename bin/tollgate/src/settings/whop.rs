//! The Whop-only keys of `[providers.whop]`: `api_version` (the pinned `Api-Version-Date`), `company_id` and
//! `legacy_binding_keys`. The struct they live in is shared by all three providers, so setting them under another
//! provider is an error that says where they belong.

use tollgate_policy::Provider;

use super::{ProvidersSettings, SettingsError};

/// Whop's own keys: a version date Whop knows the shape of, a plausible company id, and none of them set for
/// another provider.
pub(super) fn validate(providers: &ProvidersSettings) -> Result<(), SettingsError> {
    let whop = &providers.whop;
    if !tollgate_providers::whop::is_api_version(whop.api_version.trim()) {
        return Err(SettingsError::new(
            "providers.whop.api_version",
            format!(
                "`{}` is not a Whop API version date; use {} (see docs/providers.md) or another dated version \
                 Whop lists",
                whop.api_version,
                tollgate_providers::whop::DEFAULT_API_VERSION
            ),
        ));
    }
    let company = whop.company_id.trim();
    let plausible = company.starts_with("biz_") && company.len() > 4;
    if !company.is_empty() && !plausible {
        return Err(SettingsError::new(
            "providers.whop.company_id",
            format!(
                "`{company}` is not a Whop company id; copy the biz_... id from your Whop dashboard URL or \
                 Settings"
            ),
        ));
    }
    for provider in Provider::ALL.into_iter().filter(|p| *p != Provider::Whop) {
        let settings = providers.get(provider);
        for (key, set) in [
            ("api_version", !settings.api_version.is_empty()),
            ("company_id", !settings.company_id.is_empty()),
            ("legacy_binding_keys", !settings.legacy_binding_keys.is_empty()),
        ] {
            if set {
                return Err(SettingsError::new(
                    format!("providers.{provider}.{key}"),
                    format!("is a Whop setting; set providers.whop.{key} instead"),
                ));
            }
        }
    }
    Ok(())
}
