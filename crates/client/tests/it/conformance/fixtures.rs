//! The fixed inputs of the conformance vectors and the real signer behind them: `tollgate-service`'s
//! [`LeaseSigner`] over a throw-away SQLite store holding one Ed25519 key made from a fixed seed, so the tokens (and
//! the whole vectors file) are the same on every run.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use ring::hmac;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{Value, json};
use tollgate_client::DeviceHash;
use tollgate_service::clock::ManualClock as ServerClock;
use tollgate_service::lease::{DeviceClaim, LeaseClaims, LeaseSigner};
use tollgate_store::test_support::TestDb;
use tollgate_store::{NewSigningKey, PrivateKeyBytes};

pub const APP_ID: &str = "com.example.conformance";
pub const MACHINE_A: &str = "conformance-machine-a";
pub const MACHINE_B: &str = "conformance-machine-b";
pub const PURCHASE_URL: &str = "https://shop.example/renew";
/// The activated key (last 4: `K9XD`) and another customer's.
pub const KEY: &str = "CONF-ACTV-7Q2M-K9XD";
pub const OTHER_KEY: &str = "CONF-OTHR-3J8P-W4LZ";
pub const PRODUCT: &str = "prod_conformance";
pub const ENTITLEMENT: &str = "ent_conformance_1";
/// 2026-05-28T20:26:40Z.
pub const T0: i64 = 1_780_000_000;
pub const HOUR: i64 = 3600;
pub const REFRESH: i64 = 24 * HOUR;
pub const GRACE: i64 = 72 * HOUR;
/// The clients' defaults: how far the clock may be behind the last server time, and the offline retry timer.
pub const ROLLBACK_TOLERANCE: i64 = 300;
pub const OFFLINE_RETRY: i64 = 900;

const SEED: [u8; 32] = *b"tollgate-conformance-seed-000001";
const FOREIGN_SEED: [u8; 32] = *b"tollgate-conformance-foreign-key";

pub fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or(DateTime::UNIX_EPOCH)
}

/// `Date` header text (IMF-fixdate) for a server answer at `secs`.
pub fn http_date(secs: i64) -> String {
    at(secs).format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

pub fn device(machine: &str) -> DeviceHash {
    DeviceHash::of(APP_ID, machine)
}

/// RFC 5958 OneAsymmetricKey v2 for an Ed25519 seed and its public key: the document `ring` generates and stores.
fn pkcs8_v2(seed: &[u8; 32], public: &[u8]) -> Vec<u8> {
    let mut der = hex::decode("3053020101300506032b657004220420").unwrap_or_default();
    der.extend_from_slice(seed);
    der.extend_from_slice(&[0xa1, 0x23, 0x03, 0x21, 0x00]);
    der.extend_from_slice(public);
    der
}

pub struct Signer {
    pub leases: LeaseSigner,
    pub public: Vec<u8>,
    foreign: Ed25519KeyPair,
    _db: TestDb,
}

impl Signer {
    pub fn new() -> Signer {
        let db = TestDb::sqlite(2);
        let pair = Ed25519KeyPair::from_seed_unchecked(&SEED).unwrap();
        let public = pair.public_key().as_ref().to_vec();
        db.store
            .insert_signing_key(&NewSigningKey {
                kid: "lease-1".to_owned(),
                algorithm: "EdDSA".to_owned(),
                private_key: PrivateKeyBytes::new(pkcs8_v2(&SEED, &public)),
                public_key: public.clone(),
                created_at: at(T0),
            })
            .unwrap();
        let clock = Arc::new(ServerClock::new(at(T0)));
        let leases = LeaseSigner::load_or_create(&db.store, "tollgate", TimeDelta::hours(72), clock).unwrap();
        assert_eq!(
            leases.current_kid().as_deref(),
            Some("lease-1"),
            "the fixed-seed key signs"
        );
        Signer {
            leases,
            public,
            foreign: Ed25519KeyPair::from_seed_unchecked(&FOREIGN_SEED).unwrap(),
            _db: db,
        }
    }

    /// The JWKS the app ships: the served one, plus a key of another type every client must skip.
    pub fn jwks(&self) -> Value {
        let mut jwks = serde_json::to_value(self.leases.jwks()).unwrap();
        if let Some(keys) = jwks["keys"].as_array_mut() {
            keys.push(json!({"kty": "RSA", "kid": "rsa-ignored", "n": "sXch", "e": "AQAB", "use": "sig"}));
        }
        jwks
    }

    /// A lease as Tollgate signs it at `iat` (refresh after 24 h, expiry after 72 h), bound to `machine`'s device
    /// hash with a salt of `salt` bytes, or without a device claim (a lease from before the claim) when `None`.
    pub fn lease(&self, iat: i64, machine: Option<&str>, salt: u8) -> String {
        self.leases.sign(&claims(iat, machine, salt)).unwrap()
    }

    pub fn sign_with(&self, claims: &LeaseClaims) -> String {
        self.leases.sign(claims).unwrap()
    }

    /// `header.payload` of `token` with a new header, signed by the foreign key.
    pub fn foreign_signed(&self, header: &Value, token: &str) -> String {
        let input = format!("{}.{}", b64_json(header), segment(token, 1));
        let sig = self.foreign.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    /// The classic algorithm-confusion forgery: `alg: HS256`, HMAC-SHA256 keyed with the public key.
    pub fn hs256_with(&self, hmac_key: &[u8], token: &str) -> String {
        let header = json!({"alg": "HS256", "typ": "JWT", "kid": "lease-1"});
        let input = format!("{}.{}", b64_json(&header), segment(token, 1));
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, hmac_key), input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }
}

pub fn claims(iat: i64, machine: Option<&str>, salt: u8) -> LeaseClaims {
    LeaseClaims {
        iss: "tollgate".to_owned(),
        sub: ENTITLEMENT.to_owned(),
        aud: PRODUCT.to_owned(),
        iat,
        nbf: iat,
        exp: iat + GRACE,
        refresh_after: iat + REFRESH,
        // the server's keyed hash of the device hash: opaque to the app
        hwid: "c0ffee".repeat(10) + "c0ff",
        plan: Some("plan_pro".to_owned()),
        status: "active".to_owned(),
        features: vec!["export".to_owned(), "sync".to_owned()],
        dev: machine.map(|m| DeviceClaim::with_salt(&[salt; 16], device(m).as_str())),
    }
}

pub fn segment(token: &str, index: usize) -> &str {
    token.split('.').nth(index).unwrap_or("")
}

pub fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

pub fn decode_json(segment: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

/// A loopback port nothing listens on (bound, then released).
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(9);
    drop(listener);
    format!("http://127.0.0.1:{port}")
}
