//! What `tollgate dev` tells its user once listening: the banner with the exact commands to try, or (`--json`) one
//! line of JSON for tests and SDK suites (the agreed interface: docs/configuration.md, "tollgate dev").

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use serde::Serialize;
use tollgate_policy::Provider;
use tollgate_service::lease::Jwks;

use super::world::{
    ACTIVE_MEMBERSHIP, AGHANIM_PLAYER, AGHANIM_SUBSCRIPTION, DEFAULT_MAX_DEVICES, DODO_ACTIVATIONS, DemoKeys,
    KEYS, World,
};
use crate::app::AppState;
use crate::startup::StartupError;

/// The app id the printed SDK examples use.
const APP_ID: &str = "com.example.tollgate-dev";

/// One fake provider, as `--json` shows it.
#[derive(Debug, Serialize)]
pub struct FakeInfo {
    pub api_base: String,
    pub webhook_secret: String,
}

/// The fakes, as `--json` shows them.
#[derive(Debug, Serialize)]
pub struct Providers {
    pub whop: FakeInfo,
    pub dodo: FakeInfo,
    pub aghanim: FakeInfo,
}

/// The `--json` line.
#[derive(Debug, Serialize)]
pub struct Report {
    pub server_url: String,
    pub admin_token: String,
    pub service_token: String,
    pub jwks: Jwks,
    pub keys: DemoKeys,
    pub providers: Providers,
}

impl Report {
    pub fn new(addr: SocketAddr, world: &World, jwks: Jwks) -> Report {
        let fake = |provider| FakeInfo {
            api_base: world.api_base(provider),
            webhook_secret: world.webhook_secret(provider).to_owned(),
        };
        Report {
            server_url: format!("http://{addr}"),
            admin_token: world.secrets.admin_token.clone(),
            service_token: world.secrets.service_token.clone(),
            jwks,
            keys: KEYS,
            providers: Providers {
                whop: fake(Provider::Whop),
                dodo: fake(Provider::Dodo),
                aghanim: fake(Provider::Aghanim),
            },
        }
    }
}

/// The lease keys' JWKS (loading or creating the keys now: the database is new and local).
pub fn jwks(state: &AppState) -> Result<Jwks, StartupError> {
    let licensing = state.licensing().load().map_err(|e| {
        StartupError::Io(std::io::Error::other(format!(
            "the lease keys cannot be loaded: {e}"
        )))
    })?;
    Ok(licensing.leases().jwks())
}

/// Deliver the Aghanim player's `subscription.activated` through the real ingest path (signature, parser, store),
/// so the service API has an entitlement to answer for the player: Aghanim has no license keys to activate.
pub fn seed_through_webhooks(world: &World, state: &AppState) {
    let Some(hook) =
        world
            .aghanim
            .subscription_webhook(AGHANIM_PLAYER, AGHANIM_SUBSCRIPTION, "subscription.activated")
    else {
        log::warn!("DEV: the demo Aghanim subscription is missing from the fake; nothing seeded");
        return;
    };
    match state
        .ingest()
        .ingest(Provider::Aghanim, &hook.header_pairs(), &hook.body)
    {
        Ok(outcome) => log::info!(
            status = outcome.as_str();
            "DEV: seeded the Aghanim player {AGHANIM_PLAYER} through a signed subscription.activated webhook"
        ),
        Err(e) => log::warn!("DEV: the demo Aghanim webhook was not stored: {e}"),
    }
}

/// The one JSON line, flushed.
pub fn print_json(report: &Report) -> Result<(), StartupError> {
    let line = serde_json::to_string(report)
        .map_err(|e| StartupError::Io(std::io::Error::other(format!("cannot print the JSON: {e}"))))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    Ok(())
}

/// Single quotes for a POSIX shell.
fn sh(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The program as it was started (`tollgate`, or `target/debug/tollgate`), for the printed commands.
fn program() -> String {
    std::env::args()
        .next()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "tollgate".to_owned())
}

/// A JSON string literal.
fn js(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// The curl command that activates `key` on the device `hwid`.
pub fn activate_curl(server: &str, key: &str, hwid: &str, device_name: &str) -> String {
    let body = format!(
        "{{\"license_key\":{},\"hwid\":{},\"device_name\":{}}}",
        js(key),
        js(hwid),
        js(device_name)
    );
    format!(
        "curl -s -X POST {server}/api/license/activate -H 'Content-Type: application/json' -d {}",
        sh(&body)
    )
}

/// The human banner, flushed.
pub fn print_banner(report: &Report, dir: &Path) {
    let server = &report.server_url;
    let admin = &report.admin_token;
    let config = dir.join("tollgate.toml");
    let jwks = dir.join("jwks.json");
    let tollgate = format!("{} --config {}", program(), sh(&config.display().to_string()));
    let k = &report.keys;
    let fakes = [
        ("whop", &report.providers.whop),
        ("dodo", &report.providers.dodo),
        ("aghanim", &report.providers.aghanim),
    ];
    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line("==============================================================================".to_owned());
    line(" TOLLGATE DEV: a local world with fake Whop, Dodo and Aghanim on loopback.".to_owned());
    line(" Generated secrets, nothing reaches a real provider. Never use it for real licenses.".to_owned());
    line("==============================================================================".to_owned());
    line(format!(
        "server         {server}   (mode: dev; GET {server}/healthz)"
    ));
    line(format!("admin token    {admin}"));
    line(format!("service token  {}", report.service_token));
    line(format!(
        "data           {}   (emptied at every start; config {}, JWKS {})",
        dir.display(),
        config.display(),
        jwks.display()
    ));
    for (name, fake) in fakes {
        line(format!(
            "fake {name:<9} {}   webhook secret {}",
            fake.api_base, fake.webhook_secret
        ));
    }
    line(String::new());
    line("Demo license keys".to_owned());
    line(format!(
        "  {}  active Whop membership, up to {DEFAULT_MAX_DEVICES} devices",
        k.active
    ));
    line(format!(
        "  {}  canceled Whop membership: 403 LICENSE_INACTIVE",
        k.canceled
    ));
    line(format!(
        "  {}  node-locked Whop membership (1 device): a second device gets 409 DEVICE_MISMATCH",
        k.node_locked
    ));
    line(format!(
        "  {}  active Dodo license key, up to {DODO_ACTIVATIONS} activations",
        k.dodo
    ));
    line(String::new());
    line("Activate a key with curl (answers 200 with \"code\":\"VALID\" and a signed lease):".to_owned());
    line(format!(
        "  {}",
        activate_curl(server, k.active, "dev-laptop-1", "My laptop")
    ));
    line("Validate it, as the app does at each launch:".to_owned());
    let validate = format!("{{\"license_key\":{},\"hwid\":\"dev-laptop-1\"}}", js(k.active));
    line(format!(
        "  curl -s -X POST {server}/api/license/validate -H 'Content-Type: application/json' -d {}",
        sh(&validate)
    ));
    line(format!(
        "Ask as a backend or game server (service token), e.g. the Aghanim player {AGHANIM_PLAYER}:"
    ));
    line(format!(
        "  curl -s -H 'Authorization: Bearer {}' '{server}/api/entitlements?provider=aghanim&subject={AGHANIM_PLAYER}'",
        report.service_token
    ));
    line(String::new());
    line("With the JavaScript SDK (clients/js; `npm install ./clients/js` in your project):".to_owned());
    line("  import { readFileSync } from \"node:fs\";".to_owned());
    line("  import { TollgateClient } from \"tollgate-client\";".to_owned());
    line(format!(
        "  const client = new TollgateClient({{ serverUrl: \"{server}\", appId: \"{APP_ID}\", jwks: readFileSync({}, \"utf8\") }});",
        js(&jwks.display().to_string())
    ));
    line(format!("  console.log(await client.activate(\"{}\"));", k.active));
    line("With the Python SDK (clients/python; `pip install ./clients/python`):".to_owned());
    line("  from tollgate_client import TollgateClient".to_owned());
    line(format!(
        "  client = TollgateClient(server_url=\"{server}\", app_id=\"{APP_ID}\", jwks=open({}).read())",
        js(&jwks.display().to_string())
    ));
    line(format!("  print(client.activate(\"{}\"))", k.active));
    line("With the Rust demo app (type the key at its prompt):".to_owned());
    line(format!(
        "  cargo run -p tollgate-client --example demo -- --server {server} --jwks {} --state-dir {}",
        sh(&jwks.display().to_string()),
        sh(&dir.join("demo-app").display().to_string())
    ));
    line(String::new());
    line("Take a fake provider down (it answers 503 until {\"down\": false}):".to_owned());
    line(format!(
        "  curl -s -X POST {server}/dev/providers/whop/outage -H 'Authorization: Bearer {admin}' \
         -H 'Content-Type: application/json' -d '{{\"down\": true}}'"
    ));
    line("Any tollgate command works against this world with its config:".to_owned());
    line(format!(
        "  {tollgate} entitlements show whop {ACTIVE_MEMBERSHIP}      (after the activation above)"
    ));
    line(format!(
        "  {tollgate} simulate webhook --provider whop --event membership.activated"
    ));
    line(String::new());
    line(format!(
        "The API: {server}/openapi.json (docs/api.md). Stop with Ctrl-C."
    ));
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
}
