//! The local world of `tollgate dev`: every registered provider's fake on loopback (each adapter starts its own,
//! `ProviderAdapter::dev_fake`), seeded with demo licenses, and the generated secrets and configuration the server
//! runs with.

use std::path::Path;

use ring::rand::{SecureRandom as _, SystemRandom};
use serde::ser::{Serialize, SerializeMap as _, Serializer};
use serde_json::{Map, Value, json};
use tollgate_policy::Provider;
use tollgate_providers::Registry;
use tollgate_testkit::{DemoKey, DemoSubject, DevDemo, DevFake, DevSeed, Fault};

use crate::cli::CliError;
use crate::http::dev::ProviderOutages;

/// The default policy's device limit in the dev world.
pub const DEFAULT_MAX_DEVICES: u32 = 2;

/// How many random bytes a fake's API key and webhook secret are made of.
const API_KEY_BYTES: usize = 16;
const SECRET_BYTES: usize = 24;

/// The secrets of the server itself, all random (each fake holds its own).
#[derive(Debug, Clone)]
pub struct Secrets {
    pub admin_token: String,
    pub service_token: String,
}

fn random_bytes(rng: &SystemRandom, n: usize) -> Result<Vec<u8>, CliError> {
    let mut bytes = vec![0u8; n];
    rng.fill(&mut bytes)
        .map_err(|_| CliError::Failed("the system random generator failed".to_owned()))?;
    Ok(bytes)
}

fn random_hex(rng: &SystemRandom, n: usize) -> Result<String, CliError> {
    Ok(random_bytes(rng, n)?.iter().map(|b| format!("{b:02x}")).collect())
}

impl Secrets {
    /// New random tokens.
    pub fn generate() -> Result<Secrets, CliError> {
        let rng = SystemRandom::new();
        Ok(Secrets {
            admin_token: format!("tgdev_admin_{}", random_hex(&rng, 24)?),
            service_token: format!("tgdev_service_{}", random_hex(&rng, 24)?),
        })
    }
}

/// One running fake and what it was seeded with.
#[derive(Debug)]
pub struct Fake {
    pub provider: Provider,
    pub fake: Box<dyn DevFake>,
    pub demo: DevDemo,
}

/// The demo license keys of every fake, in registry order: the `keys` object of `--json` (name to key).
#[derive(Debug)]
pub struct DemoKeys(pub Vec<DemoKey>);

impl Serialize for DemoKeys {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for key in &self.0 {
            map.serialize_entry(key.name, key.key)?;
        }
        map.end()
    }
}

/// The running fakes, in registry order. Dropping the world stops them.
#[derive(Debug)]
pub struct World {
    pub fakes: Vec<Fake>,
    pub secrets: Secrets,
}

impl World {
    /// Start every registered provider's fake on `127.0.0.1:0` with fresh random credentials, and seed the demo
    /// licenses. A provider without a dev fake gets none (the loopback check then refuses to start).
    pub fn start(secrets: Secrets) -> Result<World, CliError> {
        let rng = SystemRandom::new();
        let mut fakes = Vec::new();
        for adapter in Registry::shared().adapters() {
            let provider = adapter.provider();
            let seed = DevSeed {
                api_key: format!("tgdev_{provider}_{}", random_hex(&rng, API_KEY_BYTES)?),
                secret_bytes: random_bytes(&rng, SECRET_BYTES)?,
            };
            if let Some(fake) = adapter.dev_fake(&seed) {
                let demo = fake.seed_demo(DEFAULT_MAX_DEVICES);
                fakes.push(Fake { provider, fake, demo });
            }
        }
        Ok(World { fakes, secrets })
    }

    /// The fakes' names as the banner and logs say them: `A, B and C`.
    pub fn names(&self) -> String {
        let names: Vec<&str> = self.fakes.iter().map(|f| f.fake.name()).collect();
        match names.split_last() {
            None => String::new(),
            Some((last, [])) => (*last).to_owned(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        }
    }

    /// Every demo key, in order, with its provider.
    pub fn keys(&self) -> impl Iterator<Item = (Provider, &DemoKey)> {
        self.fakes
            .iter()
            .flat_map(|f| f.demo.keys.iter().map(move |key| (f.provider, key)))
    }

    /// The first demo subject for the service API, with its fake.
    pub fn subject(&self) -> Option<(&Fake, DemoSubject)> {
        self.fakes
            .iter()
            .find_map(|f| f.demo.subject.map(|subject| (f, subject)))
    }

    /// The configuration the server runs with, as TOML: every `api_base` a fake, the generated secrets, a
    /// default policy of [`DEFAULT_MAX_DEVICES`] devices and the fakes' product rules.
    pub fn config_toml(&self, listen: &str, database: &Path) -> Result<String, CliError> {
        let s = &self.secrets;
        let mut providers = Map::new();
        let mut products = Vec::new();
        for Fake { provider, fake, demo } in &self.fakes {
            let mut table = Map::new();
            table.insert("api_key".to_owned(), json!(fake.api_key()));
            table.insert("webhook_secret".to_owned(), json!(fake.webhook_secret()));
            table.insert("api_base".to_owned(), json!(fake.server().base_url()));
            for (name, value) in fake.extra_config() {
                table.insert(name.to_owned(), value);
            }
            providers.insert(provider.as_str().to_owned(), Value::Object(table));
            products.extend(demo.products.iter().map(|rule| {
                json!({ "provider": provider.as_str(), "product": rule.product, "max_devices": rule.max_devices })
            }));
        }
        let config = json!({
            "listen": listen,
            "database": { "url": format!("sqlite://{}", database.display()) },
            "admin": { "token": s.admin_token },
            "service": { "token": s.service_token },
            "providers": providers,
            // Room for an SDK's end-to-end suite and a person trying things; the limits still exist.
            "rate_limit": { "per_ip_per_minute": 120, "burst": 120, "per_key_per_hour": 500 },
            "policy": {
                "default": { "max_devices": DEFAULT_MAX_DEVICES },
                "products": products,
            },
        });
        let body = toml::to_string(&config)
            .map_err(|e| CliError::Failed(format!("cannot write the dev configuration: {e}")))?;
        Ok(format!(
            "# Written by `tollgate dev` for this run only (random secrets; fake providers on loopback).\n\
             # Any tollgate command can use it while dev runs: tollgate --config <this file> <command>\n\n{body}"
        ))
    }
}

impl ProviderOutages for World {
    fn set_down(&self, provider: Provider, down: bool) {
        let Some(fake) = self.fakes.iter().find(|f| f.provider == provider) else {
            return;
        };
        let server = fake.fake.server();
        if down {
            server.fail_always(Fault::Status(503));
        } else {
            server.clear_faults();
        }
    }
}
