//! `tollgate simulate webhook`: build a realistic webhook, sign it with the configured secret exactly as the
//! provider would (its adapter's `sign`, over `tollgate_verify`'s signing functions), and POST it to a running server.

mod templates;

use std::time::Duration;

use chrono::Utc;
use tollgate_policy::Provider;
use tollgate_providers::Registry;

use crate::cli::guide::guide;
use crate::cli::loopback::live_provider_apis;
use crate::cli::{CliError, SimulateWebhookArgs, env_var};
use crate::settings::Settings;

pub fn run(settings: &Settings, args: &SimulateWebhookArgs) -> Result<(), CliError> {
    let provider = args.provider;
    let now = Utc::now();
    let unique = format!(
        "sim{:x}{:x}",
        now.timestamp_nanos_opt().unwrap_or_default(),
        std::process::id()
    );
    let simulated = templates::build(
        provider,
        args.event.trim(),
        now,
        args.external_id.as_deref(),
        args.subject.as_deref(),
        &unique,
    )
    .ok_or_else(|| {
        let known: Vec<&str> = templates::events()
            .into_iter()
            .filter(|(p, _)| *p == provider)
            .map(|(_, e)| e)
            .collect();
        CliError::Usage(format!(
            "no {provider} template for `{}`: choose one of {}",
            args.event,
            known.join(", ")
        ))
    })?;
    let body = serde_json::to_vec(&simulated.body)
        .map_err(|e| CliError::Failed(format!("cannot build the body: {e}")))?;

    let config = settings.providers.get(provider);
    let key = format!("providers.{provider}.webhook_secret");
    if !config.webhook_secret.is_set() {
        return Err(CliError::Usage(format!(
            "no webhook secret is configured for {provider}: set {} (or {key} in tollgate.toml), for both this \
             command and the server. For a local try, any value of the provider's shape works, e.g. {}",
            env_var(&key),
            guide(provider).example_secret
        )));
    }
    let headers = sign(
        provider,
        config.webhook_secret.expose().trim(),
        &unique,
        now.timestamp(),
        &body,
    )?;

    if args.dry_run {
        for (name, value) in &headers {
            println!("{name}: {value}");
        }
        println!();
        println!("{}", String::from_utf8_lossy(&body));
        return Ok(());
    }

    refuse_live_providers(settings)?;
    let url = target(settings, args.to.as_deref(), provider);
    let (status, answer) = post(&url, &headers, body)?;
    println!(
        "POST {url} ({provider} {}, {} {}) -> {status} {answer}",
        args.event,
        guide(provider).id_noun,
        simulated.external_id
    );
    if (200..300).contains(&status) {
        println!(
            "see the entitlement: tollgate entitlements show {provider} {}",
            simulated.external_id
        );
        return Ok(());
    }
    let hint = match status {
        401 => format!(
            "; the server verifies with another secret than this command signed with: run both with the same {}",
            env_var(&key)
        ),
        503 if answer.contains("PROVIDER_NOT_CONFIGURED") => format!(
            "; the server has no {provider} secret: set {} for it too and restart it",
            env_var(&key)
        ),
        _ => String::new(),
    };
    Err(CliError::Failed(format!("the server answered {status}{hint}")))
}

/// A simulated delivery puts a made-up entitlement (and license key) into the server. Refuse when the server these
/// settings describe would call a live provider API, where anything about it (an activation of its key, a
/// reconciliation of its subject) would then be asked: only loopback fakes, or no provider client at all.
fn refuse_live_providers(settings: &Settings) -> Result<(), CliError> {
    let live = live_provider_apis(settings)
        .map_err(|e| CliError::Usage(format!("cannot check the provider settings: {e}")))?;
    if live.is_empty() {
        return Ok(());
    }
    let named: Vec<String> = live
        .iter()
        .map(|(provider, base)| format!("{provider} at {base}"))
        .collect();
    let fix: Vec<String> = live
        .iter()
        .map(|(provider, _)| env_var(&format!("providers.{provider}.api_base")))
        .collect();
    Err(CliError::Usage(format!(
        "refusing to simulate: with these settings the server calls live provider APIs ({}), and a simulated \
         entitlement or license key would then be looked up there. Simulate against `tollgate dev` (its fakes are \
         on loopback: `tollgate --config tollgate-dev/tollgate.toml simulate webhook ...`), or point {} at a \
         loopback fake; --dry-run prints the signed delivery without sending it",
        named.join(", "),
        fix.join(" and ")
    )))
}

/// The headers the provider sends with this body, signed by its adapter.
fn sign(
    provider: Provider,
    secret: &str,
    unique: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<Vec<(&'static str, String)>, CliError> {
    let adapter = Registry::shared()
        .get(provider)
        .ok_or_else(|| CliError::Usage(format!("{provider} deliveries cannot be simulated")))?;
    adapter
        .sign(secret, &format!("msg_{unique}"), timestamp, body)
        .map_err(|e| {
            CliError::Usage(format!(
                "providers.{provider}.webhook_secret cannot sign: {e}; it must be {} followed by base64 \
                 (`tollgate doctor` checks it)",
                guide(provider).secret_prefix.unwrap_or_default()
            ))
        })
}

/// The webhook URL: `--to` as given when it already names the webhook path, else `--to` (default
/// `http://{listen}`, a wildcard address replaced by loopback) with the path appended.
fn target(settings: &Settings, to: Option<&str>, provider: Provider) -> String {
    let path = format!("/api/webhooks/{provider}");
    let base = match to {
        Some(to) => to.trim().to_owned(),
        None => {
            let listen = settings
                .listen
                .replace("0.0.0.0", "127.0.0.1")
                .replace("[::]", "[::1]");
            format!("http://{listen}")
        }
    };
    if base.trim_end_matches('/').ends_with(&path) {
        base
    } else {
        format!("{}{path}", base.trim_end_matches('/'))
    }
}

fn post(url: &str, headers: &[(&'static str, String)], body: Vec<u8>) -> Result<(u16, String), CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the HTTP client: {e}")))?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| CliError::Failed(format!("cannot build the HTTP client: {e}")))?;
        let mut request = client
            .post(url)
            .header("content-type", "application/json")
            .header("user-agent", "tollgate-simulate");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.body(body).send().await.map_err(|e| {
            CliError::Failed(format!(
                "cannot reach {url}: {}; is `tollgate serve` running there? (--to sets the address)",
                chain(&e)
            ))
        })?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| CliError::Failed(format!("cannot read the answer from {url}: {}", chain(&e))))?;
        Ok((status, text))
    })
}

/// An error and its sources on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
