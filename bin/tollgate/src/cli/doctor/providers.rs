//! The provider checks: webhook secret (present, usable, the provider's shape), API key, and what to paste into
//! the dashboard.

use tollgate_policy::Provider;
use tollgate_verify::Tolerance;

use super::report::Check;
use crate::cli::env_var;
use crate::cli::guide::guide;
use crate::cli::signing::{labelled_secrets, provider_verifier, secret_problem};
use crate::settings::{ProviderSettings, Settings, SignatureTolerance};

pub fn providers(settings: &Settings) -> Vec<Check> {
    Provider::ALL
        .into_iter()
        .flat_map(|provider| provider_checks(settings, provider))
        .collect()
}

fn provider_checks(settings: &Settings, provider: Provider) -> Vec<Check> {
    let guide = guide(provider);
    let section = format!("Provider: {}", guide.title);
    let p = settings.providers.get(provider);
    let secret_key = format!("providers.{provider}.webhook_secret");
    let api_key = format!("providers.{provider}.api_key");
    let local = settings.listen.replace("0.0.0.0", "127.0.0.1");

    let secrets = labelled_secrets(provider, p);
    let mut secret = if !p.webhook_secret.is_set() {
        let mut check = Check::pending(
            &section,
            &secret_key,
            format!(
                "webhook secret not set: POST /api/webhooks/{provider} answers 503 PROVIDER_NOT_CONFIGURED"
            ),
        )
        .fix(format!(
            "set {} (or {secret_key} in tollgate.toml) to the secret from {}",
            env_var(&secret_key),
            guide.secret_where
        ));
        if !p.previous_webhook_secrets.is_empty() {
            check = check.note(format!(
                "providers.{provider}.previous_webhook_secrets is set, but old secrets are only accepted next to a \
                 current one"
            ));
        }
        check
    } else {
        let values: Vec<&str> = secrets.iter().map(|(_, s)| *s).collect();
        match provider_verifier(provider, &values, Tolerance::DEFAULT) {
            Err(e) => Check::broken(
                &section,
                &secret_key,
                format!("webhook secret unusable: {}", secret_problem(e, &secrets)),
            )
            .fix(format!(
                "copy the secret again from {} into {}",
                guide.secret_where,
                env_var(&secret_key)
            )),
            Ok(_) => shape_check(&section, &secret_key, provider, &secrets),
        }
    };
    secret = secret
        .note(format!(
            "webhook URL for the dashboard: https://<your public host>/api/webhooks/{provider} (this server: \
             http://{local}/api/webhooks/{provider})"
        ))
        .note(format!("events to enable: {}", guide.events));
    match p.signature_tolerance {
        SignatureTolerance::Off => {
            secret = secret.note("signature timestamps are not checked (signature_tolerance = \"off\")");
        }
        SignatureTolerance::Within(d) => {
            secret = secret.note(format!("signature timestamps are accepted within ±{d}"));
        }
    }

    let mut key = if p.api_key.is_set() {
        Check::done(
            &section,
            &api_key,
            format!(
                "API key set (used for {}; not tested: doctor works offline)",
                guide.api_key_use
            ),
        )
    } else {
        Check::pending(
            &section,
            &api_key,
            format!("API key not set: needed for {}", guide.api_key_use),
        )
        .fix(format!(
            "set {} (or {api_key} in tollgate.toml); create it in {}",
            env_var(&api_key),
            guide.api_key_where
        ))
    };
    let default_base = guide.default_api_base;
    if p.api_base.trim_end_matches('/') != default_base {
        key = key.note(format!(
            "API calls go to {} instead of {default_base} (a test environment, a fake or a proxy?)",
            p.api_base
        ));
    }
    let mut checks = vec![secret, key];
    if provider == Provider::Whop {
        checks.extend(whop_checks(&section, settings));
    }
    if provider == Provider::Aghanim && p.webhooks_enabled() {
        checks.extend(aghanim_checks(&section, p));
    }
    checks
}

/// Whop's Current-API settings: the pinned version, the sandbox, and the company id reconciliation needs.
fn whop_checks(section: &str, settings: &Settings) -> Vec<Check> {
    let whop = &settings.providers.whop;
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

/// Aghanim: which `item.add` events Tollgate grants, and whether sandbox events count.
fn aghanim_checks(section: &str, p: &ProviderSettings) -> Vec<Check> {
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

/// A usable secret: does it look like this provider's?
fn shape_check(section: &str, id: &str, provider: Provider, secrets: &[(String, &str)]) -> Check {
    let previous = secrets.len().saturating_sub(1);
    let rotation = match previous {
        0 => String::new(),
        n => format!(", plus {n} previous secret(s) accepted during a rotation"),
    };
    match provider {
        Provider::Whop => {
            let prefix = guide(provider).secret_prefix.unwrap_or_default();
            if let Some((label, _)) = secrets.iter().find(|(_, s)| !s.starts_with(prefix)) {
                return Check::pending(
                    section,
                    id,
                    format!("{label} does not start with ws_ as Whop webhook secrets do: an API key pasted by mistake?"),
                )
                .fix(format!("copy the webhook secret from {}", guide(provider).secret_where));
            }
            Check::done(section, id, format!("webhook secret set (ws_…){rotation}"))
        }
        Provider::Dodo => {
            let bare: Vec<&str> = secrets
                .iter()
                .filter(|(_, s)| !s.starts_with(guide(provider).secret_prefix.unwrap_or_default()))
                .map(|(label, _)| label.as_str())
                .collect();
            let mut check = Check::done(section, id, format!("webhook secret set (whsec_…){rotation}"));
            if !bare.is_empty() {
                check = check.note(format!(
                    "{} without the whsec_ prefix: accepted as bare base64",
                    bare.join(", ")
                ));
            }
            check
        }
        _ => Check::done(section, id, format!("webhook secret set{rotation}")),
    }
}
