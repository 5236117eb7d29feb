//! The Whop-only keys of `[providers.whop]`: `api_version` (the pinned `Api-Version-Date`), `company_id` and
//! `legacy_binding_keys`. The struct they live in is shared by all three providers, so setting them under another
//! provider is an error that says where they belong.

use tollgate_policy::Provider;

use super::{ProviderSettings, ProvidersSettings, SettingsError};
use crate::cli::doctor::Check;
use crate::cli::env_var;

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

/// `tollgate doctor`'s checks of Whop's Current-API settings: the pinned version, the sandbox, and the company id reconciliation needs.
pub(super) fn doctor_checks(section: &str, whop: &ProviderSettings) -> Vec<Check> {
    let version_key = "providers.whop.api_version";
    let mut version = Check::done(
        section,
        version_key,
        format!(
            "Whop Current API (/api/v1), pinned to Api-Version-Date {}",
            whop.api_version.trim()
        ),
    );
    if whop.api_version.trim() != tollgate_providers::whop::DEFAULT_API_VERSION {
        version = version.note(format!(
            "not the version this release was built and tested against ({}): check docs/providers.md",
            tollgate_providers::whop::DEFAULT_API_VERSION
        ));
    }
    if whop.api_base.contains("sandbox-api.whop.com") {
        version = version.note(
            "Whop sandbox: test money, with the sandbox's own API key and webhook secret (sandbox.whop.com)",
        );
    }
    let company_key = "providers.whop.company_id";
    let company = if !whop.company_id.trim().is_empty() {
        Check::done(
            section,
            company_key,
            format!(
                "company id {} (reconciliation lists its memberships)",
                whop.company_id.trim()
            ),
        )
    } else if whop.api_key.is_set() {
        Check::pending(
            section,
            company_key,
            "company id not set: Whop reconciliation is skipped (Whop needs it to list memberships with an API key)",
        )
        .fix(format!(
            "set {} to your Whop company id (biz_..., in your Whop dashboard URL)",
            env_var(company_key)
        ))
    } else {
        Check::pending(
            section,
            company_key,
            "company id not set (needed with the API key, for reconciliation)",
        )
        .fix(format!("set {} (biz_...)", env_var(company_key)))
    };
    vec![version, company]
}
