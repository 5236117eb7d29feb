//! The signing keys as loaded from the store, ordered by generation.

use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use tollgate_store::{NewSigningKey, PrivateKeyBytes, SigningKey, Store, StoreError};

use super::{Jwk, LeaseError};

/// The `algorithm` column of the keys this module writes and reads.
pub(crate) const ALGORITHM: &str = "EdDSA";
const KID_PREFIX: &str = "lease-";

/// One usable key.
pub(crate) struct LoadedKey {
    pub(crate) kid: String,
    pub(crate) generation: u64,
    pub(crate) pair: Arc<Ed25519KeyPair>,
    pub(crate) public: Vec<u8>,
    pub(crate) retired_at: Option<DateTime<Utc>>,
    pub(crate) not_after: Option<DateTime<Utc>>,
}

impl LoadedKey {
    /// Published at `now`: not retired, or retired and `now <= not_after` (a retired key without `not_after` is
    /// no longer published).
    fn is_published(&self, now: DateTime<Utc>) -> bool {
        match (self.retired_at, self.not_after) {
            (None, _) => true,
            (Some(_), Some(not_after)) => now.timestamp() <= not_after.timestamp(),
            (Some(_), None) => false,
        }
    }

    pub(crate) fn jwk(&self) -> Jwk {
        Jwk {
            kty: "OKP".to_owned(),
            crv: "Ed25519".to_owned(),
            x: URL_SAFE_NO_PAD.encode(&self.public),
            kid: self.kid.clone(),
            alg: ALGORITHM.to_owned(),
            use_: "sig".to_owned(),
        }
    }
}

pub(crate) struct KeyRing {
    /// Oldest generation first.
    keys: Vec<LoadedKey>,
    pub(crate) loaded_at: Instant,
}

impl KeyRing {
    /// Every stored `EdDSA` key with a `lease-<n>` kid. A key that does not parse is skipped with a warning (it
    /// cannot sign or verify anything), so one bad row never takes licensing down.
    pub(crate) fn load(store: &Store) -> Result<KeyRing, LeaseError> {
        let mut keys: Vec<LoadedKey> = store
            .list_signing_keys()?
            .into_iter()
            .filter_map(|stored| match load_key(&stored) {
                Ok(key) => Some(key),
                Err(reason) => {
                    log::warn!(kid = stored.kid.as_str(), reason = reason; "lease signing key skipped");
                    None
                }
            })
            .collect();
        keys.sort_by_key(|key| key.generation);
        Ok(KeyRing {
            keys,
            loaded_at: Instant::now(),
        })
    }

    /// The key new leases are signed with: the highest generation.
    pub(crate) fn newest(&self) -> Option<&LoadedKey> {
        self.keys.last()
    }

    pub(crate) fn published(&self, now: DateTime<Utc>) -> impl Iterator<Item = &LoadedKey> {
        self.keys.iter().filter(move |key| key.is_published(now))
    }

    pub(crate) fn published_key(&self, kid: &str, now: DateTime<Utc>) -> Option<&LoadedKey> {
        self.published(now).find(|key| key.kid == kid)
    }

    pub(crate) fn unretired_before(&self, generation: u64) -> impl Iterator<Item = &LoadedKey> {
        self.keys
            .iter()
            .filter(move |key| key.generation < generation && key.retired_at.is_none())
    }
}

fn load_key(stored: &SigningKey) -> Result<LoadedKey, &'static str> {
    if stored.algorithm != ALGORITHM {
        return Err("not an EdDSA key");
    }
    let generation = stored
        .kid
        .strip_prefix(KID_PREFIX)
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or("kid is not lease-<generation>")?;
    let pair = Ed25519KeyPair::from_pkcs8(stored.private_key.as_bytes())
        .map_err(|_| "private key is not Ed25519 PKCS#8")?;
    if pair.public_key().as_ref() != stored.public_key.as_slice() {
        return Err("public key does not match the private key");
    }
    Ok(LoadedKey {
        kid: stored.kid.clone(),
        generation,
        public: stored.public_key.clone(),
        pair: Arc::new(pair),
        retired_at: stored.retired_at,
        not_after: stored.not_after,
    })
}

/// Generate and store key generation `generation`. False when another instance stored that generation first
/// (the caller re-reads and uses the winner's key).
pub(crate) fn insert_generation(
    store: &Store,
    generation: u64,
    now: DateTime<Utc>,
) -> Result<bool, LeaseError> {
    let rng = SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| LeaseError::Key("the system random generator failed".to_owned()))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|_| LeaseError::Key("a generated key did not parse".to_owned()))?;
    let kid = format!("{KID_PREFIX}{generation}");
    let key = NewSigningKey {
        kid: kid.clone(),
        algorithm: ALGORITHM.to_owned(),
        private_key: PrivateKeyBytes::new(pkcs8.as_ref().to_vec()),
        public_key: pair.public_key().as_ref().to_vec(),
        created_at: now,
    };
    match store.insert_signing_key(&key) {
        Ok(()) => {
            log::info!(kid = kid.as_str(); "lease signing key created");
            Ok(true)
        }
        Err(StoreError::Conflict { .. }) => Ok(false),
        Err(other) => Err(other.into()),
    }
}
