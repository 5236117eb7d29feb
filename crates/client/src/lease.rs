//! The lease token: a compact JWS (`alg: EdDSA`, `kid` in the header) signed by Tollgate. Parsing never panics on any
//! input (a fuzz target feeds it arbitrary strings); verification uses `ring`'s Ed25519 against pinned keys.
//!
//! Validity rule, shared with the server's lease helper: a lease is valid while `nbf <= now <= exp`, so a lease with
//! `exp = T` is still valid at exactly `T` and expired one second later.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ring::digest::{Context, SHA256};
use ring::signature::{ED25519, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::Value;

use crate::device::DeviceHash;
use crate::keys::Keys;

/// The longest token accepted (a real lease is well under 1 KiB).
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Why a lease token was rejected. Technical detail for logs and tooling; the app shows a
/// [`ClientError`](crate::ClientError) instead.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseError {
    /// Not a well-formed compact JWS with the claims a lease needs.
    Malformed(&'static str),
    /// The header's `alg` is not `EdDSA` (this includes `none`).
    UnsupportedAlgorithm(String),
    /// The header has no `kid`.
    MissingKid,
    /// The `kid` is not among the pinned keys.
    UnknownKid(String),
    /// The Ed25519 signature does not verify.
    BadSignature,
    /// `now` is before `nbf`.
    NotYetValid,
    /// `now` is after `exp`.
    Expired,
    /// `aud` is not the product this app expects.
    WrongAudience,
    /// The device claim (`dev`) was made for another device hash: the lease is not for this machine.
    WrongDevice,
    /// A JWKS document or pinned key set is unusable.
    InvalidKeys(&'static str),
}

impl fmt::Display for LeaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeaseError::Malformed(why) => write!(f, "malformed lease token: {why}"),
            LeaseError::UnsupportedAlgorithm(alg) => write!(f, "unsupported lease algorithm {alg:?}"),
            LeaseError::MissingKid => f.write_str("lease header has no kid"),
            LeaseError::UnknownKid(kid) => write!(f, "lease signed with unknown key {kid:?}"),
            LeaseError::BadSignature => f.write_str("lease signature does not verify"),
            LeaseError::NotYetValid => f.write_str("lease is not valid yet"),
            LeaseError::Expired => f.write_str("lease has expired"),
            LeaseError::WrongAudience => f.write_str("lease is for another product"),
            LeaseError::WrongDevice => f.write_str("lease is for another device"),
            LeaseError::InvalidKeys(why) => write!(f, "unusable public keys: {why}"),
        }
    }
}

impl std::error::Error for LeaseError {}

/// `aud` as a JWT may carry it: one string or a list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn contains(&self, aud: &str) -> bool {
        match self {
            Audience::One(one) => one == aud,
            Audience::Many(many) => many.iter().any(|a| a == aud),
        }
    }

    /// The first (usually only) audience, for display.
    pub fn first(&self) -> &str {
        match self {
            Audience::One(one) => one,
            Audience::Many(many) => many.first().map(String::as_str).unwrap_or(""),
        }
    }
}

/// The claims of a lease, as product.md fixes them. Times are NumericDate (Unix seconds).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LeaseClaims {
    #[serde(default)]
    pub iss: Option<String>,
    /// The entitlement id.
    pub sub: String,
    /// The product.
    pub aud: Audience,
    pub iat: i64,
    #[serde(default)]
    pub nbf: Option<i64>,
    pub exp: i64,
    pub refresh_after: i64,
    /// The server's keyed hash of the device hash this client sent (the client cannot recompute it).
    pub hwid: String,
    #[serde(default)]
    pub plan: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub features: Value,
    /// The device claim; absent in leases signed before it existed (see [`Lease::check_device`]).
    #[serde(default)]
    pub dev: Option<DeviceClaim>,
}

/// The `dev` claim: `salt` (random bytes) and `sha256` = `SHA-256(salt ‖ device hash)`, both base64url without
/// padding. It binds the lease to the device hash this client sent, without revealing it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeviceClaim {
    pub salt: String,
    pub sha256: String,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

/// A parsed (not yet verified) lease token.
#[derive(Clone, PartialEq)]
pub struct Lease {
    token: String,
    kid: String,
    signing_input_len: usize,
    signature: [u8; 64],
    claims: LeaseClaims,
    issued_at: DateTime<Utc>,
    not_before: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    refresh_after: DateTime<Utc>,
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("kid", &self.kid)
            .field("sub", &self.claims.sub)
            .field("aud", &self.claims.aud)
            .field("exp", &self.expires_at)
            .field("refresh_after", &self.refresh_after)
            .finish_non_exhaustive()
    }
}

fn decode_segment(segment: &str, what: &'static str) -> Result<Vec<u8>, LeaseError> {
    if segment.is_empty() {
        return Err(LeaseError::Malformed(what));
    }
    URL_SAFE_NO_PAD
        .decode(segment.as_bytes())
        .map_err(|_| LeaseError::Malformed(what))
}

fn timestamp(secs: i64, what: &'static str) -> Result<DateTime<Utc>, LeaseError> {
    DateTime::from_timestamp(secs, 0).ok_or(LeaseError::Malformed(what))
}

impl Lease {
    /// Parses a compact JWS into a lease: three base64url segments, a header with `alg: EdDSA` and a `kid`, the
    /// claims a lease needs, and a 64-byte signature. Checks neither the signature nor the time: see
    /// [`Lease::verify_signature`] and [`Lease::check_time`]. Never panics.
    pub fn parse(token: &str) -> Result<Lease, LeaseError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(LeaseError::Malformed("token too long"));
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(LeaseError::Malformed("not three dot-separated segments"));
        };
        let header: Header = serde_json::from_slice(&decode_segment(header_b64, "header is not base64url")?)
            .map_err(|_| LeaseError::Malformed("header is not a JSON object"))?;
        if header.alg != "EdDSA" {
            return Err(LeaseError::UnsupportedAlgorithm(header.alg));
        }
        if header.crit.is_some() {
            return Err(LeaseError::Malformed(
                "critical header extensions are not supported",
            ));
        }
        let kid = header.kid.ok_or(LeaseError::MissingKid)?;
        let claims: LeaseClaims =
            serde_json::from_slice(&decode_segment(claims_b64, "claims are not base64url")?)
                .map_err(|_| LeaseError::Malformed("claims are not a lease"))?;
        let signature: [u8; 64] = decode_segment(signature_b64, "signature is not base64url")?
            .try_into()
            .map_err(|_| LeaseError::Malformed("signature is not 64 bytes"))?;
        let issued_at = timestamp(claims.iat, "iat out of range")?;
        let not_before = timestamp(claims.nbf.unwrap_or(claims.iat), "nbf out of range")?;
        let expires_at = timestamp(claims.exp, "exp out of range")?;
        let refresh_after = timestamp(claims.refresh_after, "refresh_after out of range")?;
        Ok(Lease {
            token: token.to_owned(),
            kid,
            signing_input_len: header_b64.len() + 1 + claims_b64.len(),
            signature,
            claims,
            issued_at,
            not_before,
            expires_at,
            refresh_after,
        })
    }

    /// Checks the Ed25519 signature against the pinned key named by `kid`.
    pub fn verify_signature(&self, keys: &Keys) -> Result<(), LeaseError> {
        let key = keys
            .get(&self.kid)
            .ok_or_else(|| LeaseError::UnknownKid(self.kid.clone()))?;
        let signing_input = self
            .token
            .as_bytes()
            .get(..self.signing_input_len)
            .ok_or(LeaseError::Malformed("token"))?;
        UnparsedPublicKey::new(&ED25519, key)
            .verify(signing_input, &self.signature)
            .map_err(|_| LeaseError::BadSignature)
    }

    /// Checks `nbf <= now <= exp` in whole Unix seconds, the server's rule: valid at exactly `exp` (and during that
    /// second), expired at `exp + 1`.
    pub fn check_time(&self, now: DateTime<Utc>) -> Result<(), LeaseError> {
        let now = now.timestamp();
        if now < self.not_before.timestamp() {
            return Err(LeaseError::NotYetValid);
        }
        if now > self.claims.exp {
            return Err(LeaseError::Expired);
        }
        Ok(())
    }

    /// Checks the device claim against this machine's device hash: `WrongDevice` when it was made for another one,
    /// `Malformed` when it is not base64url (or the digest is not 32 bytes). A lease without the claim (signed by a
    /// server older than the claim) passes: the state file's device hash is then the only binding, until it expires.
    pub fn check_device(&self, device: &DeviceHash) -> Result<(), LeaseError> {
        let Some(dev) = &self.claims.dev else {
            return Ok(());
        };
        let salt = decode_segment(&dev.salt, "dev.salt is not base64url")?;
        let want = decode_segment(&dev.sha256, "dev.sha256 is not base64url")?;
        if want.len() != 32 {
            return Err(LeaseError::Malformed("dev.sha256 is not 32 bytes"));
        }
        let mut ctx = Context::new(&SHA256);
        ctx.update(&salt);
        ctx.update(device.as_str().as_bytes());
        if ctx.finish().as_ref() == want.as_slice() {
            Ok(())
        } else {
            Err(LeaseError::WrongDevice)
        }
    }

    /// Whether revalidation is due: `now >= refresh_after`, in whole Unix seconds.
    pub fn refresh_due(&self, now: DateTime<Utc>) -> bool {
        now.timestamp() >= self.claims.refresh_after
    }

    /// Parse, signature and time in one call.
    pub fn verify(token: &str, keys: &Keys, now: DateTime<Utc>) -> Result<Lease, LeaseError> {
        let lease = Lease::parse(token)?;
        lease.verify_signature(keys)?;
        lease.check_time(now)?;
        Ok(lease)
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn claims(&self) -> &LeaseClaims {
        &self.claims
    }

    pub fn issued_at(&self) -> DateTime<Utc> {
        self.issued_at
    }

    pub fn not_before(&self) -> DateTime<Utc> {
        self.not_before
    }

    /// The end of offline grace: valid until exactly this instant.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }

    /// From this instant the client revalidates online (and keeps working offline until [`Lease::expires_at`]).
    pub fn refresh_after(&self) -> DateTime<Utc> {
        self.refresh_after
    }

    /// `features` as strings, when the claim is a list of strings (non-strings are skipped).
    pub fn features(&self) -> Vec<String> {
        match &self.claims.features {
            Value::Array(items) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    }
}
