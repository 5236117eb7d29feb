//! Signed offline leases: compact JWS tokens (`alg: EdDSA`, Ed25519 through `ring`) that an app verifies offline
//! against `/.well-known/jwks.json`, and the signing keys behind them.
//!
//! **Validity rule (the client must use the same one):** a lease is valid while `nbf <= now <= exp`, in whole Unix
//! seconds. A lease issued at `T` with `exp = E` verifies at `E` itself and is expired at `E + 1`. (This is one
//! second more generous than the JWT convention `now < exp`, on purpose: product.md says "verifies until exactly its
//! exp and not one second after".)
//!
//! **Keys.** Kids are `lease-<generation>` (`lease-1`, `lease-2`, ...). The first start inserts `lease-1`; a second
//! instance starting at the same moment on the same database gets a primary-key conflict, re-reads, and signs with
//! the winner's key, so there is always exactly one current key. [`LeaseSigner::rotate`] inserts the next generation
//! the same way (a concurrent rotation loses the insert and adopts the winner) and retires every older key with
//! `not_after = now + longest lease + REFRESH_EVERY`: the last lease an old key can sign expires before it leaves
//! the JWKS, even on an instance that has not reloaded its keys yet. The JWKS lists every key not retired, and every
//! retired key while `now <= not_after` (inclusive, like `exp`). Signing always uses the newest generation.

mod device_claim;
mod keyring;
mod token;

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use tollgate_policy::PolicySet;
use tollgate_store::{Store, StoreError};

use crate::clock::Clock;
use keyring::KeyRing;

pub use device_claim::{DEVICE_SALT_LEN, DeviceClaim};
pub use token::MAX_TOKEN_LEN;

/// The issuer (`iss`) when configuration sets none.
pub const DEFAULT_ISSUER: &str = "tollgate";

/// How often an instance reloads the keys from the store on its own ([`LeaseSigner::refresh_if_stale`]), so it
/// picks up a rotation made by another instance within this time.
pub const REFRESH_EVERY: Duration = Duration::from_secs(30);

/// The claims of a lease. Times are NumericDate (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseClaims {
    pub iss: String,
    /// The entitlement id (`ent_...`).
    pub sub: String,
    /// The product id, or `provider:external_id` (`dodo:lic_...`) when the entitlement names no product.
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    /// The lease expiry: valid while `now <= exp`.
    pub exp: i64,
    /// When the app should revalidate online.
    pub refresh_after: i64,
    /// The device's keyed hash (HMAC with the server pepper), never the raw hwid.
    pub hwid: String,
    /// The provider's plan id (Whop `plan_...`), `null` when the provider has none.
    pub plan: Option<String>,
    /// The provider's raw status (or the lifecycle when it sent none), as in the entitlement view.
    pub status: String,
    pub features: Vec<String>,
    /// The device claim: lets the app check that the lease is for its own device hash ([`DeviceClaim`]). Absent in
    /// leases signed before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<DeviceClaim>,
}

/// The public keys leases are verified with: `GET /.well-known/jwks.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// One Ed25519 public key as a JWK (RFC 8037).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Jwk {
    /// `OKP`
    pub kty: String,
    /// `Ed25519`
    pub crv: String,
    /// The 32-byte public key, base64url without padding.
    pub x: String,
    pub kid: String,
    /// `EdDSA`
    pub alg: String,
    /// `sig`
    #[serde(rename = "use")]
    pub use_: String,
}

/// Why a lease could not be signed or verified, or the keys not loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LeaseError {
    #[error("lease keys: storage error")]
    Storage(#[from] StoreError),
    /// A stored key is not a valid Ed25519 PKCS#8 document, or the random generator failed.
    #[error("lease keys: {0}")]
    Key(String),
    /// There is no usable signing key (the store holds none that parses).
    #[error("no lease signing key is available")]
    NoSigningKey,
    /// Not three base64url parts, not JSON, a missing or mistyped field, or longer than [`MAX_TOKEN_LEN`].
    #[error("malformed lease token: {0}")]
    Malformed(&'static str),
    /// The header's `alg` is not `EdDSA`.
    #[error("unsupported lease algorithm")]
    UnsupportedAlgorithm,
    /// The header's `kid` is not a published key.
    #[error("unknown lease key id")]
    UnknownKey,
    #[error("bad lease signature")]
    BadSignature,
    #[error("lease issued by another issuer")]
    WrongIssuer,
    #[error("lease not yet valid")]
    NotYetValid,
    #[error("lease expired")]
    Expired,
}

/// Signs leases and serves the JWKS. Cheap to clone; shares its keys between clones. Methods that touch the
/// store (`load_or_create`, `rotate`, `refresh`, `refresh_if_stale`) block: call them off the async runtime.
#[derive(Clone)]
pub struct LeaseSigner {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    issuer: String,
    max_lifetime: TimeDelta,
    clock: Arc<dyn Clock>,
    ring: RwLock<KeyRing>,
}

impl fmt::Debug for LeaseSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaseSigner")
            .field("issuer", &self.inner.issuer)
            .field("max_lifetime", &self.inner.max_lifetime)
            .finish_non_exhaustive()
    }
}

/// The longest lease any policy can issue: the largest `offline_grace` of the default and every product rule. A
/// retired key stays published this long (plus [`REFRESH_EVERY`]).
pub fn longest_lease(policies: &PolicySet) -> TimeDelta {
    policies
        .products
        .iter()
        .filter_map(|rule| rule.offline_grace)
        .map(|grace| grace.as_delta())
        .fold(policies.default.offline_grace.as_delta(), TimeDelta::max)
}

impl LeaseSigner {
    /// Load the signing keys, creating the first one (`lease-1`) if the store has none. Safe when several
    /// instances start at once on one database: exactly one `lease-1` is stored and all of them use it.
    pub fn load_or_create(
        store: &Store,
        issuer: &str,
        max_lifetime: TimeDelta,
        clock: Arc<dyn Clock>,
    ) -> Result<LeaseSigner, LeaseError> {
        let mut ring = KeyRing::load(store)?;
        if ring.newest().is_none() {
            keyring::insert_generation(store, 1, clock.now())?;
            ring = KeyRing::load(store)?;
        }
        if ring.newest().is_none() {
            return Err(LeaseError::NoSigningKey);
        }
        Ok(LeaseSigner {
            inner: Arc::new(Inner {
                store: store.clone(),
                issuer: issuer.to_owned(),
                max_lifetime,
                clock,
                ring: RwLock::new(ring),
            }),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The kid new leases are signed with.
    pub fn current_kid(&self) -> Option<String> {
        self.read(|ring| ring.newest().map(|key| key.kid.clone()))
    }

    /// Sign `claims` with the newest key: a compact JWS `header.payload.signature`.
    pub fn sign(&self, claims: &LeaseClaims) -> Result<String, LeaseError> {
        self.read(|ring| {
            let key = ring.newest().ok_or(LeaseError::NoSigningKey)?;
            token::encode(key, claims)
        })
    }

    /// The published keys at the clock's `now`.
    pub fn jwks(&self) -> Jwks {
        let now = self.inner.clock.now();
        self.read(|ring| Jwks {
            keys: ring.published(now).map(keyring::LoadedKey::jwk).collect(),
        })
    }

    /// Verify a lease at `now`: `alg` is `EdDSA`, the `kid` is published at `now`, the signature holds, `iss` is
    /// ours, and `nbf <= now <= exp` (whole seconds; see the module docs).
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<LeaseClaims, LeaseError> {
        let claims = self.read(|ring| token::decode(token, |kid| ring.published_key(kid, now)))?;
        if claims.iss != self.inner.issuer {
            return Err(LeaseError::WrongIssuer);
        }
        let now = now.timestamp();
        if now < claims.nbf {
            return Err(LeaseError::NotYetValid);
        }
        if now > claims.exp {
            return Err(LeaseError::Expired);
        }
        Ok(claims)
    }

    /// Add the next key generation and retire every older key (see the module docs). Returns the new current kid.
    /// When another instance rotates at the same moment, one generation is added, and both calls return its kid.
    pub fn rotate(&self) -> Result<String, LeaseError> {
        let now = self.inner.clock.now();
        let ring = KeyRing::load(&self.inner.store)?;
        let next = ring.newest().map_or(1, |key| key.generation + 1);
        keyring::insert_generation(&self.inner.store, next, now)?;
        let ring = KeyRing::load(&self.inner.store)?;
        let newest = ring.newest().ok_or(LeaseError::NoSigningKey)?;
        let slack = TimeDelta::from_std(REFRESH_EVERY).unwrap_or(TimeDelta::zero());
        let not_after = now + self.inner.max_lifetime + slack;
        for key in ring.unretired_before(newest.generation) {
            self.inner
                .store
                .retire_signing_key(&key.kid, now, Some(not_after))?;
            log::info!(kid = key.kid.as_str(), not_after = not_after.to_rfc3339().as_str(); "lease key retired");
        }
        let kid = newest.kid.clone();
        log::info!(kid = kid.as_str(); "lease signing key rotated");
        self.refresh()?;
        Ok(kid)
    }

    /// Reload the keys from the store now (to pick up another instance's rotation).
    pub fn refresh(&self) -> Result<(), LeaseError> {
        let ring = KeyRing::load(&self.inner.store)?;
        if ring.newest().is_none() {
            return Err(LeaseError::NoSigningKey);
        }
        *self
            .inner
            .ring
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = ring;
        Ok(())
    }

    /// Reload the keys if they were loaded more than [`REFRESH_EVERY`] ago. True when it reloaded.
    pub fn refresh_if_stale(&self) -> Result<bool, LeaseError> {
        if self.read(|ring| ring.loaded_at.elapsed() < REFRESH_EVERY) {
            return Ok(false);
        }
        self.refresh()?;
        Ok(true)
    }

    fn read<T>(&self, f: impl FnOnce(&KeyRing) -> T) -> T {
        let ring = self
            .inner
            .ring
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&ring)
    }
}
