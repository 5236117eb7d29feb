//! The local world of `tollgate dev`: fake Whop, Dodo and Aghanim from the testkit on loopback, seeded with demo
//! licenses, and the generated secrets and configuration the server runs with.

use std::path::Path;

use base64::Engine as _;
use ring::rand::{SecureRandom as _, SystemRandom};
use serde::Serialize;
use serde_json::json;
use tollgate_policy::Provider;
use tollgate_testkit::{
    FakeAghanim, FakeAghanimSubscription, FakeDodo, FakeGrant, FakeLicenseKey, FakeMembership,
    FakeProvider as _, FakeWhop, Fault,
};

use crate::cli::CliError;
use crate::http::dev::ProviderOutages;

/// The demo license keys, seeded into the fakes at every start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DemoKeys {
    /// An active Whop membership under the default policy (up to 2 devices).
    pub active: &'static str,
    /// A canceled Whop membership: activation answers `403 LICENSE_INACTIVE`.
    pub canceled: &'static str,
    /// An active Whop membership whose product allows 1 device: a second gets `409 DEVICE_MISMATCH`.
    pub node_locked: &'static str,
    /// An active Dodo license key (with its delivered grant), activations limit 3.
    pub dodo: &'static str,
}

/// The keys. Fixed, so docs and habits can use them; each start empties the dev database, so they are always new.
pub const KEYS: DemoKeys = DemoKeys {
    active: "TGDEV-ACTV-7Q2M-K9XD",
    canceled: "TGDEV-CNCL-3H8P-W4TB",
    node_locked: "TGDEV-LOCK-5R9N-J2VC",
    dodo: "TGDEV-DODO-8K4F-M6QZ",
};

/// The default policy's device limit in the dev world (the Whop `active` key's).
pub const DEFAULT_MAX_DEVICES: u32 = 2;
/// The Dodo key's activations limit.
pub const DODO_ACTIVATIONS: u32 = 3;
/// The Whop product whose policy is node-locked (`max_devices = 1`).
pub const NODE_LOCKED_PRODUCT: &str = "prod_tgdev_nodelock";
/// The Dodo product of the Dodo key (its policy allows [`DODO_ACTIVATIONS`] devices, as Dodo does).
pub const DODO_PRODUCT: &str = "pdt_tgdev_app";
/// The Whop product of the other demo memberships.
pub const APP_PRODUCT: &str = "prod_tgdev_app";
/// The Aghanim player with an active subscription (the service API example).
pub const AGHANIM_PLAYER: &str = "TGDEV-PLYR-4W7C";
/// That player's subscription.
pub const AGHANIM_SUBSCRIPTION: &str = "sub_tgdev_season";
/// The Whop membership of the `active` key (for `entitlements show`).
pub const ACTIVE_MEMBERSHIP: &str = "mem_tgdev_active";

/// The secrets of one run, all random.
#[derive(Debug, Clone)]
pub struct Secrets {
    pub admin_token: String,
    pub service_token: String,
    pub whop_api_key: String,
    pub whop_webhook_secret: String,
    pub dodo_api_key: String,
    pub dodo_webhook_secret: String,
    pub aghanim_api_key: String,
    pub aghanim_webhook_secret: String,
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
    /// New random secrets in each provider's own shape (`ws_...` for Whop, `whsec_<base64>` for Dodo).
    pub fn generate() -> Result<Secrets, CliError> {
        let rng = SystemRandom::new();
        let base64 = base64::engine::general_purpose::STANDARD;
        Ok(Secrets {
            admin_token: format!("tgdev_admin_{}", random_hex(&rng, 24)?),
            service_token: format!("tgdev_service_{}", random_hex(&rng, 24)?),
            whop_api_key: format!("tgdev_whop_{}", random_hex(&rng, 16)?),
            whop_webhook_secret: format!("ws_{}", random_hex(&rng, 24)?),
            dodo_api_key: format!("tgdev_dodo_{}", random_hex(&rng, 16)?),
            dodo_webhook_secret: format!("whsec_{}", base64.encode(random_bytes(&rng, 24)?)),
            aghanim_api_key: format!("tgdev_aghanim_{}", random_hex(&rng, 16)?),
            aghanim_webhook_secret: random_hex(&rng, 24)?,
        })
    }
}

/// The running fakes. Dropping the world stops them.
#[derive(Debug)]
pub struct World {
    pub whop: FakeWhop,
    pub dodo: FakeDodo,
    pub aghanim: FakeAghanim,
    pub secrets: Secrets,
}

impl World {
    /// Start the three fakes on `127.0.0.1:0` with `secrets`, and seed the demo licenses.
    pub fn start(secrets: Secrets) -> World {
        let world = World {
            whop: FakeWhop::start_with(&secrets.whop_api_key, &secrets.whop_webhook_secret),
            dodo: FakeDodo::start_with(&secrets.dodo_api_key, &secrets.dodo_webhook_secret),
            aghanim: FakeAghanim::start_with(&secrets.aghanim_api_key, &secrets.aghanim_webhook_secret),
            secrets,
        };
        world.seed();
        world
    }

    fn seed(&self) {
        let membership = |id: &str, key: &str, user: &str, product: &str, status: &str| {
            let mut membership = FakeMembership::new(id, key);
            membership.user_id = user.to_owned();
            membership.product_id = product.to_owned();
            membership.plan_id = format!("plan_{}", product.trim_start_matches("prod_"));
            membership.status = status.to_owned();
            membership
        };
        self.whop.add_membership(membership(
            ACTIVE_MEMBERSHIP,
            KEYS.active,
            "user_tgdev_active",
            APP_PRODUCT,
            "active",
        ));
        self.whop.add_membership(membership(
            "mem_tgdev_canceled",
            KEYS.canceled,
            "user_tgdev_canceled",
            APP_PRODUCT,
            "canceled",
        ));
        self.whop.add_membership(membership(
            "mem_tgdev_nodelock",
            KEYS.node_locked,
            "user_tgdev_nodelock",
            NODE_LOCKED_PRODUCT,
            "active",
        ));

        let mut key = FakeLicenseKey::new("lic_tgdev_0001", KEYS.dodo, Some(DODO_ACTIVATIONS));
        key.customer_id = "cus_tgdev_0001".to_owned();
        key.product_id = DODO_PRODUCT.to_owned();
        self.dodo.add_license_key(key);
        let mut grant = FakeGrant::pending("entg_tgdev_0001", "ent_tgdev_app", "cus_tgdev_0001");
        grant.status = "Delivered".to_owned();
        grant.license_key = Some(KEYS.dodo.to_owned());
        self.dodo.add_grant(grant);

        self.aghanim.add_subscription(
            AGHANIM_PLAYER,
            FakeAghanimSubscription::active(AGHANIM_SUBSCRIPTION, "sku_tgdev_season_pass"),
        );
    }

    /// Each fake's base URL.
    pub fn api_base(&self, provider: Provider) -> String {
        match provider {
            Provider::Whop => self.whop.base_url(),
            Provider::Dodo => self.dodo.base_url(),
            Provider::Aghanim => self.aghanim.base_url(),
            _ => String::new(),
        }
    }

    /// Each provider's webhook secret.
    pub fn webhook_secret(&self, provider: Provider) -> &str {
        match provider {
            Provider::Whop => &self.secrets.whop_webhook_secret,
            Provider::Dodo => &self.secrets.dodo_webhook_secret,
            Provider::Aghanim => &self.secrets.aghanim_webhook_secret,
            _ => "",
        }
    }

    /// The configuration the server runs with, as TOML: every `api_base` a fake, the generated secrets, a
    /// default policy of [`DEFAULT_MAX_DEVICES`] devices and a node-locked rule for [`NODE_LOCKED_PRODUCT`].
    pub fn config_toml(&self, listen: &str, database: &Path) -> Result<String, CliError> {
        let s = &self.secrets;
        let provider = |api_key: &str, secret: &str, base: String| json!({ "api_key": api_key, "webhook_secret": secret, "api_base": base });
        let config = json!({
            "listen": listen,
            "database": { "url": format!("sqlite://{}", database.display()) },
            "admin": { "token": s.admin_token },
            "service": { "token": s.service_token },
            "providers": {
                "whop": {
                    "api_key": s.whop_api_key,
                    "webhook_secret": s.whop_webhook_secret,
                    "api_base": self.whop.base_url(),
                    // Reconciliation lists the company's memberships: the fake's company.
                    "company_id": FakeWhop::COMPANY_ID,
                },
                "dodo": provider(&s.dodo_api_key, &s.dodo_webhook_secret, self.dodo.base_url()),
                "aghanim": provider(&s.aghanim_api_key, &s.aghanim_webhook_secret, self.aghanim.base_url()),
            },
            // Room for an SDK's end-to-end suite and a person trying things; the limits still exist.
            "rate_limit": { "per_ip_per_minute": 120, "burst": 120, "per_key_per_hour": 500 },
            "policy": {
                "default": { "max_devices": DEFAULT_MAX_DEVICES },
                "products": [
                    { "provider": "whop", "product": NODE_LOCKED_PRODUCT, "max_devices": 1 },
                    { "provider": "dodo", "product": DODO_PRODUCT, "max_devices": DODO_ACTIVATIONS },
                ],
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
        let server = match provider {
            Provider::Whop => self.whop.server(),
            Provider::Dodo => self.dodo.server(),
            Provider::Aghanim => self.aghanim.server(),
            _ => return,
        };
        if down {
            server.fail_always(Fault::Status(503));
        } else {
            server.clear_faults();
        }
    }
}
