//! What `tollgate dev` tells its user once listening: the banner with the exact commands to try, or (`--json`) one
//! line of JSON for tests and SDK suites (the agreed interface: docs/configuration.md, "tollgate dev").

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use serde::Serialize;
use serde::ser::{SerializeMap as _, Serializer};
use tollgate_policy::Provider;
use tollgate_providers::Registry;
use tollgate_service::lease::Jwks;

use super::world::{DemoKeys, World};
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

/// The fakes, as `--json` shows them: an object keyed by wire name, in registry order.
#[derive(Debug)]
pub struct Providers(pub Vec<(Provider, FakeInfo)>);

impl Serialize for Providers {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (provider, info) in &self.0 {
            map.serialize_entry(provider.as_str(), info)?;
        }
        map.end()
    }
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
        let providers = world
            .fakes
            .iter()
            .map(|f| {
                let info = FakeInfo {
                    api_base: f.fake.server().base_url(),
                    webhook_secret: f.fake.webhook_secret().to_owned(),
                };
                (f.provider, info)
            })
            .collect();
        Report {
            server_url: format!("http://{addr}"),
            admin_token: world.secrets.admin_token.clone(),
            service_token: world.secrets.service_token.clone(),
            jwks,
            keys: DemoKeys(world.keys().map(|(_, key)| key.clone()).collect()),
            providers: Providers(providers),
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

/// Deliver each fake's demo subject through the real ingest path (signature, parser, store), so the service API
/// has an entitlement to answer for it: a provider without license keys to activate is tried this way.
pub fn seed_through_webhooks(world: &World, state: &AppState) {
    for fake in &world.fakes {
        let Some(subject) = fake.demo.subject else {
            continue;
        };
        let name = fake.fake.name();
        let Some(hook) = fake.fake.subject_webhook() else {
            log::warn!(
                "DEV: the demo {name} {} is missing from the fake; nothing seeded",
                subject.record
            );
            continue;
        };
        match state
            .ingest()
            .ingest(fake.provider, &hook.header_pairs(), &hook.body)
        {
            Ok(outcome) => log::info!(
                status = outcome.as_str();
                "DEV: seeded the {name} {} {} through a signed {} webhook",
                subject.noun,
                subject.id,
                subject.event
            ),
            Err(e) => log::warn!("DEV: the demo {name} webhook was not stored: {e}"),
        }
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

/// The human banner, flushed. Every provider line comes from the world's fakes, in registry order; the examples
/// use the first demo key (and its provider) and the first demo subject.
pub fn print_banner(report: &Report, world: &World, dir: &Path) {
    let server = &report.server_url;
    let admin = &report.admin_token;
    let config = dir.join("tollgate.toml");
    let jwks = dir.join("jwks.json");
    let tollgate = format!("{} --config {}", program(), sh(&config.display().to_string()));
    let first = world.keys().next();
    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line("==============================================================================".to_owned());
    line(format!(
        " TOLLGATE DEV: a local world with fake {} on loopback.",
        world.names()
    ));
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
    for (provider, fake) in &report.providers.0 {
        line(format!(
            "fake {:<9} {}   webhook secret {}",
            provider.as_str(),
            fake.api_base,
            fake.webhook_secret
        ));
    }
    line(String::new());
    line("Demo license keys".to_owned());
    for (_, key) in world.keys() {
        line(format!("  {}  {}", key.key, key.note));
    }
    line(String::new());
    if let Some((_, key)) = first {
        line("Activate a key with curl (answers 200 with \"code\":\"VALID\" and a signed lease):".to_owned());
        line(format!(
            "  {}",
            activate_curl(server, key.key, "dev-laptop-1", "My laptop")
        ));
        line("Validate it, as the app does at each launch:".to_owned());
        let validate = format!("{{\"license_key\":{},\"hwid\":\"dev-laptop-1\"}}", js(key.key));
        line(format!(
            "  curl -s -X POST {server}/api/license/validate -H 'Content-Type: application/json' -d {}",
            sh(&validate)
        ));
    }
    if let Some((fake, subject)) = world.subject() {
        line(format!(
            "Ask as a backend or game server (service token), e.g. the {} {} {}:",
            fake.fake.name(),
            subject.noun,
            subject.id
        ));
        line(format!(
            "  curl -s -H 'Authorization: Bearer {}' '{server}/api/entitlements?provider={}&subject={}'",
            report.service_token, fake.provider, subject.id
        ));
    }
    line(String::new());
    if let Some((_, key)) = first {
        sdk_examples(&mut line, server, &jwks, dir, key.key);
        line(String::new());
    }
    if let Some(fake) = world.fakes.first() {
        line("Take a fake provider down (it answers 503 until {\"down\": false}):".to_owned());
        line(format!(
            "  curl -s -X POST {server}/dev/providers/{}/outage -H 'Authorization: Bearer {admin}' \
             -H 'Content-Type: application/json' -d '{{\"down\": true}}'",
            fake.provider
        ));
    }
    line("Any tollgate command works against this world with its config:".to_owned());
    if let Some((provider, key)) = first {
        if let Some(external_id) = key.external_id {
            line(format!(
                "  {tollgate} entitlements show {provider} {external_id}      (after the activation above)"
            ));
        }
        let event = Registry::shared()
            .get(provider)
            .and_then(|adapter| adapter.simulated_events().first());
        if let Some(event) = event {
            line(format!(
                "  {tollgate} simulate webhook --provider {provider} --event {event}"
            ));
        }
    }
    line(String::new());
    line(format!(
        "The API: {server}/openapi.json (docs/api.md). Stop with Ctrl-C."
    ));
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
}

/// The SDK and demo-app examples, activating `key`.
fn sdk_examples(line: &mut impl FnMut(String), server: &str, jwks: &Path, dir: &Path, key: &str) {
    line("With the JavaScript SDK (clients/js; `npm install ./clients/js` in your project):".to_owned());
    line("  import { readFileSync } from \"node:fs\";".to_owned());
    line("  import { TollgateClient } from \"tollgate-client\";".to_owned());
    line(format!(
        "  const client = new TollgateClient({{ serverUrl: \"{server}\", appId: \"{APP_ID}\", jwks: readFileSync({}, \"utf8\") }});",
        js(&jwks.display().to_string())
    ));
    line(format!("  console.log(await client.activate(\"{key}\"));"));
    line("With the Python SDK (clients/python; `pip install ./clients/python`):".to_owned());
    line("  from tollgate_client import TollgateClient".to_owned());
    line(format!(
        "  client = TollgateClient(server_url=\"{server}\", app_id=\"{APP_ID}\", jwks=open({}).read())",
        js(&jwks.display().to_string())
    ));
    line(format!("  print(client.activate(\"{key}\"))"));
    line("With the Rust demo app (type the key at its prompt):".to_owned());
    line(format!(
        "  cargo run -p tollgate-client --example demo -- --server {server} --jwks {} --state-dir {}",
        sh(&jwks.display().to_string()),
        sh(&dir.join("demo-app").display().to_string())
    ));
}
