//! The provider checks: webhook secret (present, usable, the provider's shape), API key, and what to paste into
//! the dashboard.

use tollgate_policy::Provider;
use tollgate_verify::Tolerance;

use super::report::Check;
use crate::cli::env_var;
use crate::cli::guide::guide;
use crate::cli::signing::{labelled_secrets, provider_verifier, secret_problem};
use crate::settings::{Settings, SignatureTolerance};

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
    checks.extend(settings.providers.doctor_checks(provider, &section));
    checks
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
