//! Test leases signed with real Ed25519 (`ring`), a pinned key set, and a client wired to a temp state file and a
//! manual clock.
#![allow(dead_code, reason = "each test binary uses a different part of this harness")]
#![expect(clippy::unwrap_used, reason = "test harness: a setup error fails the test")]

pub mod tmux;

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{Value, json};
use tollgate_client::{
    ActivationStatus, Client, DeviceHash, DeviceSource, Keys, ManualClock, StateFile, StoredState,
};

pub const APP: &str = "com.example.demo";
pub const MACHINE: &str = "machine-under-test";

pub struct TestKey {
    pub kid: String,
    pair: Ed25519KeyPair,
}

impl TestKey {
    pub fn generate(kid: &str) -> TestKey {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        TestKey {
            kid: kid.to_owned(),
            pair: Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap(),
        }
    }

    pub fn public(&self) -> [u8; 32] {
        self.pair.public_key().as_ref().try_into().unwrap()
    }

    pub fn keys(&self) -> Keys {
        Keys::pinned([(self.kid.clone(), self.public())])
    }

    /// Signs any header and claims (so tests can forge `alg: none`, a missing kid, ...).
    pub fn sign_raw(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).unwrap()),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap())
        );
        let signature = self.pair.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }

    pub fn sign(&self, claims: &Value) -> String {
        self.sign_raw(&json!({"alg": "EdDSA", "typ": "JWT", "kid": self.kid}), claims)
    }
}

/// The claims Tollgate puts in a lease issued at `iat`: refresh after 24 h, expiry after 72 h.
pub fn claims(iat: DateTime<Utc>) -> Value {
    json!({
        "iss": "tollgate",
        "sub": "ent_1",
        "aud": "prod_demo",
        "iat": iat.timestamp(),
        "nbf": iat.timestamp(),
        "exp": (iat + TimeDelta::hours(72)).timestamp(),
        "refresh_after": (iat + TimeDelta::hours(24)).timestamp(),
        "hwid": "server-keyed-hash",
        "plan": "plan_pro",
        "status": "active",
        "features": ["export", "sync"],
    })
}

pub fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_780_000_000, 0).unwrap()
}

/// A loopback port nothing listens on (bound, then released).
pub fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub clock: Arc<ManualClock>,
    pub key: TestKey,
    pub client: Client,
}

impl Harness {
    pub fn new(server_url: &str) -> Harness {
        let key = TestKey::generate("lease-1");
        Harness::with_key(server_url, key)
    }

    pub fn with_key(server_url: &str, key: TestKey) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(t0()));
        let client = Client::builder(server_url, APP, key.keys())
            .state_path(dir.path().join("state").join("license.json"))
            .clock(clock.clone())
            .device(DeviceSource::Fixed(MACHINE.into()))
            .purchase_url("https://shop.example/renew")
            .build()
            .unwrap();
        Harness {
            dir,
            clock,
            key,
            client,
        }
    }

    pub fn state_path(&self) -> PathBuf {
        self.client.state_path().to_path_buf()
    }

    pub fn state_file(&self) -> StateFile {
        StateFile::new(self.state_path())
    }

    /// Writes a state as an activation at `t0()` would have (lease signed by the harness key).
    pub fn seed(&self, lease: Option<String>, status: ActivationStatus) -> StoredState {
        let state = StoredState {
            version: StoredState::VERSION,
            status,
            device_hash: DeviceHash::of(APP, MACHINE).as_str().to_owned(),
            key_last4: "7F3A".into(),
            activated_at: t0(),
            last_online_at: t0(),
            last_server_time: t0(),
            lease,
        };
        self.state_file().save(&state).unwrap();
        state
    }

    pub fn seed_active(&self) -> StoredState {
        self.seed(Some(self.key.sign(&claims(t0()))), ActivationStatus::Active)
    }
}
