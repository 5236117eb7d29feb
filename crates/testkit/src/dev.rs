//! What `tollgate dev` needs from one provider's fake: its server, the credentials it was started with, what the
//! generated configuration and the banner say about it, and the demo data it was seeded with. Each provider's
//! adapter starts its own (`ProviderAdapter::dev_fake` in `tollgate-providers`, feature `fake`), so the dev world
//! is built from the registry and names no provider.

use std::fmt;

use base64::Engine as _;
use serde_json::Value;

use crate::FakeProvider;
use crate::signing::SignedWebhook;

/// The random material one fake is started with: the API key it accepts and the bytes its webhook secret is made
/// of, in the provider's own shape ([`DevSeed::secret_hex`], [`DevSeed::secret_base64`]).
#[derive(Clone)]
pub struct DevSeed {
    /// The bearer key the fake accepts.
    pub api_key: String,
    /// Random bytes for the webhook signing secret.
    pub secret_bytes: Vec<u8>,
}

impl DevSeed {
    /// The secret bytes as lowercase hex.
    pub fn secret_hex(&self) -> String {
        hex::encode(&self.secret_bytes)
    }

    /// The secret bytes as standard, padded base64.
    pub fn secret_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.secret_bytes)
    }
}

impl fmt::Debug for DevSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevSeed").finish_non_exhaustive()
    }
}

/// One demo license key a fake holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoKey {
    /// Its name in the `keys` object of `tollgate dev --json` (`active`).
    pub name: &'static str,
    /// The license key.
    pub key: &'static str,
    /// What it shows, as the banner lists it (`canceled Whop membership: 403 LICENSE_INACTIVE`).
    pub note: String,
    /// The provider's id of the entitlement it activates, for `tollgate entitlements show`.
    pub external_id: Option<&'static str>,
}

/// One product rule the demo's policy needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoProduct {
    /// The provider's product id.
    pub product: &'static str,
    /// Its device limit.
    pub max_devices: u32,
}

/// A subject a backend can ask the service API about, seeded through a signed webhook once the server listens
/// (see [`DevFake::subject_webhook`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoSubject {
    /// What the provider's subject is (`player`).
    pub noun: &'static str,
    /// The subject.
    pub id: &'static str,
    /// What the seeding webhook is about (`subscription`).
    pub record: &'static str,
    /// The seeding webhook's event type.
    pub event: &'static str,
}

/// What a fake was seeded with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DevDemo {
    /// License keys to activate, in the order the banner lists them.
    pub keys: Vec<DemoKey>,
    /// Product rules of the demo policy, in order.
    pub products: Vec<DemoProduct>,
    /// A subject for the service API, if the provider's demo has one.
    pub subject: Option<DemoSubject>,
}

/// One provider's fake as `tollgate dev` runs it.
/// Its server and credentials come from [`FakeProvider`], its supertrait.
pub trait DevFake: FakeProvider + fmt::Debug + Send + Sync {
    /// How the dev banner and logs name the provider (`Dodo`).
    fn name(&self) -> &'static str;

    /// Settings of the provider's configuration table beyond `api_key`, `webhook_secret` and `api_base` (none, by
    /// default).
    fn extra_config(&self) -> Vec<(&'static str, Value)> {
        Vec::new()
    }

    /// Seeds the demo data; `default_max_devices` is the demo's default policy, for the keys' notes.
    fn seed_demo(&self, default_max_devices: u32) -> DevDemo;

    /// The signed delivery that makes the demo subject known to the server, with the fake's state now; `None`
    /// when there is no subject (the default) or the fake no longer holds it.
    fn subject_webhook(&self) -> Option<SignedWebhook> {
        None
    }
}
