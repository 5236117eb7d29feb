//! `tollgate doctor --online`: one harmless read call per provider that has an API key, to show that the key, its
//! permissions, the company id and the pinned version work, and to print any deprecation notice the provider sends
//! with its answer (every provider's deprecation notice is also logged at WARN by the HTTP client). Whop:
//! `GET /api/v1/memberships?first=1` for the configured company; every other provider: its adapter's probe
//! (`ProviderAdapter::probe`; Dodo: `GET /subscriptions?page_size=1`).

use tollgate_policy::Provider;
use tollgate_providers::whop::{WhopApi, WhopClient};
use tollgate_providers::{ApiError, CallContext, Registry};

use super::report::Check;
use crate::app::licensing::{client_config, whop_options};
use crate::cli::CliError;
use crate::settings::Settings;

const SECTION: &str = "Online checks";

pub fn probe(settings: &Settings) -> Result<Vec<Check>, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the runtime for the online checks: {e}")))?;
    Ok(runtime.block_on(async {
        let mut checks = vec![whop(settings).await];
        for provider in Provider::ALL.into_iter().filter(|p| *p != Provider::Whop) {
            checks.push(keyed(settings, provider).await);
        }
        checks
    }))
}

/// A provider other than Whop: its adapter's one authenticated read.
async fn keyed(settings: &Settings, provider: Provider) -> Check {
    let id = format!("online.{provider}");
    let p = settings.providers.get(provider);
    if !p.api_key.is_set() {
        return Check::pending(SECTION, id, format!("{provider} not probed: no API key"));
    }
    let ctx = CallContext::with_request_id("doctor-online");
    let config = client_config(p);
    let Some(probe) = Registry::shared()
        .get(provider)
        .and_then(|adapter| adapter.probe(&ctx, &config))
    else {
        return Check::pending(SECTION, id, format!("{provider} not probed: no online probe"));
    };
    let result = probe.await;
    match result {
        Ok(summary) => Check::done(SECTION, id, summary),
        Err(error) => {
            let check = Check::broken(SECTION, id, format!("{provider}: {error}"));
            match error {
                ApiError::Rejected { status: 401 | 403, .. } => check.fix(format!(
                    "{provider} refuses providers.{provider}.api_key: create a key in its dashboard and set {}",
                    crate::cli::env_var(&format!("providers.{provider}.api_key"))
                )),
                _ => check.fix(format!(
                    "{provider} could not be reached at {}: check the network and providers.{provider}.api_base",
                    p.api_base
                )),
            }
        }
    }
}

async fn whop(settings: &Settings) -> Check {
    let id = "online.whop";
    let whop = &settings.providers.whop;
    if !whop.api_key.is_set() {
        return Check::pending(SECTION, id, "Whop not probed: no API key");
    }
    let options = whop_options(whop);
    if options.company_id.is_none() {
        return Check::pending(
            SECTION,
            id,
            "Whop not probed: set providers.whop.company_id first (the read call lists the company's memberships)",
        );
    }
    let client = match WhopClient::new(&client_config(whop), options) {
        Ok(client) => client,
        Err(e) => return Check::broken(SECTION, id, format!("Whop client not built: {e}")),
    };
    let ctx = CallContext::with_request_id("doctor-online");
    match client.probe(&ctx).await {
        Ok(probe) => {
            let summary = format!(
                "Whop answered: the API key reads memberships (member:basic:read) of {} with Api-Version-Date {}",
                client.company_id().unwrap_or("-"),
                probe.api_version
            );
            match probe.notice {
                None => Check::done(SECTION, id, summary),
                Some(notice) => Check::pending(SECTION, id, summary)
                    .note(format!("Whop announced a deprecation: {}", notice.describe()))
                    .fix("read Whop's changelog and docs/providers.md, and plan the upgrade before the sunset date"),
            }
        }
        Err(error) => whop_refusal(id, &error, &whop.api_base),
    }
}

fn whop_refusal(id: &str, error: &ApiError, base: &str) -> Check {
    let check = Check::broken(SECTION, id, format!("Whop: {error}"));
    match error {
        ApiError::Rejected { status: 401, .. } => check.fix(
            "Whop does not accept providers.whop.api_key: create a key in Whop (Developer > API keys) and set \
             TOLLGATE_PROVIDERS__WHOP__API_KEY",
        ),
        ApiError::Rejected { status: 403, .. } => check.fix(
            "the key lacks a permission, or the company id is not the key's: give the key member:basic:read and \
             member:manage, and check providers.whop.company_id",
        ),
        ApiError::Rejected { status: 400, .. } => check.fix(
            "Whop refused the request: check providers.whop.api_version (a version Whop lists) and \
             providers.whop.company_id",
        ),
        _ => check.fix(format!("Whop could not be reached at {base}: check the network and providers.whop.api_base")),
    }
}
