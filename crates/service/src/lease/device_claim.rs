//! The device claim (`dev`): binds a lease to the device hash the app sent, so the app can check that a lease is
//! for this machine without the server revealing the hwid or its keyed hash.
//!
//! `dev = {"salt": b64url(16 random bytes), "sha256": b64url(SHA-256(salt ‖ hwid))}`, base64url without padding,
//! where `hwid` is the UTF-8 string exactly as the app sent it (the clients send their device hash: 64 lowercase hex
//! characters of SHA-256, see `crates/client/src/device.rs`). A new salt per lease: two leases of one device do not
//! even share the digest. The hwid is itself a 256-bit hash, so the digest reveals nothing a guess could confirm.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest::{Context, SHA256};
use ring::rand::{SecureRandom as _, SystemRandom};
use serde::{Deserialize, Serialize};

use super::LeaseError;

/// Bytes of salt in a device claim.
pub const DEVICE_SALT_LEN: usize = 16;

/// The `dev` claim of a lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceClaim {
    /// 16 random bytes, base64url without padding, new per lease.
    pub salt: String,
    /// `SHA-256(salt bytes ‖ UTF-8 bytes of the hwid)`, base64url without padding.
    pub sha256: String,
}

impl DeviceClaim {
    /// The claim for `hwid` (as the app sent it), with a fresh random salt.
    pub fn new(hwid: &str) -> Result<DeviceClaim, LeaseError> {
        let mut salt = [0u8; DEVICE_SALT_LEN];
        SystemRandom::new()
            .fill(&mut salt)
            .map_err(|_| LeaseError::Key("the system random generator failed".to_owned()))?;
        Ok(DeviceClaim::with_salt(&salt, hwid))
    }

    /// The claim for `hwid` with a given salt (deterministic: test vectors).
    pub fn with_salt(salt: &[u8; DEVICE_SALT_LEN], hwid: &str) -> DeviceClaim {
        DeviceClaim {
            salt: URL_SAFE_NO_PAD.encode(salt),
            sha256: URL_SAFE_NO_PAD.encode(digest(salt, hwid)),
        }
    }

    /// Whether this claim was made for `hwid`. A claim whose salt is not base64url never matches.
    pub fn matches(&self, hwid: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(self.salt.as_bytes()) {
            Ok(salt) => URL_SAFE_NO_PAD.encode(digest(&salt, hwid)) == self.sha256,
            Err(_) => false,
        }
    }
}

fn digest(salt: &[u8], hwid: &str) -> [u8; 32] {
    let mut ctx = Context::new(&SHA256);
    ctx.update(salt);
    ctx.update(hwid.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HWID: &str = "5f0c1a9d2e7b4c3f8a6d1e0b9c2f7a4e3d8c1b6a5f0e9d2c7b4a3f8e1d6c5b0a";

    #[test]
    fn known_answer() {
        // SHA-256(16 zero bytes ‖ "abc"), computed independently with Python's hashlib:
        // base64.urlsafe_b64encode(hashlib.sha256(b"\0" * 16 + b"abc").digest()).rstrip(b"=")
        let claim = DeviceClaim::with_salt(&[0; 16], "abc");
        assert_eq!(claim.salt, "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(claim.sha256, "J35_9tIyuXY_Smbo0F0hDaMtrJxtvOECatTMmKy1_v4");
    }

    #[test]
    fn matches_only_its_hwid_and_salts_differ() {
        let a = DeviceClaim::new(HWID).unwrap();
        let b = DeviceClaim::new(HWID).unwrap();
        assert!(a.matches(HWID));
        assert!(b.matches(HWID));
        assert_ne!(a.salt, b.salt, "a new salt per lease");
        assert_ne!(a.sha256, b.sha256);
        assert!(!a.matches(&HWID.to_uppercase()), "the hwid exactly as sent");
        assert!(!a.matches(&format!("{HWID} ")));
        let broken = DeviceClaim {
            salt: "not base64url!".to_owned(),
            ..a
        };
        assert!(!broken.matches(HWID));
        assert_eq!(URL_SAFE_NO_PAD.decode(b.salt).unwrap().len(), DEVICE_SALT_LEN);
    }
}
