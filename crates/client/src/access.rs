//! What a successful operation returns: the license as the app shows it, why access is allowed, and when to check
//! again.

use chrono::{DateTime, TimeDelta, Utc};

use crate::error::ClientError;
use crate::lease::Lease;
use crate::wire::EntitlementInfo;

/// What the app shows about the license (from the verified lease).
#[derive(Debug, Clone, PartialEq)]
pub struct License {
    /// The lease `sub`.
    pub entitlement_id: String,
    /// The lease `aud`.
    pub product: String,
    pub plan: Option<String>,
    pub status: Option<String>,
    pub features: Vec<String>,
    /// For display: "license ending in …".
    pub key_last4: String,
    pub lease_issued_at: DateTime<Utc>,
    /// The end of offline grace: access without reaching the server ends after this instant.
    pub lease_expires_at: DateTime<Utc>,
    /// When the client next revalidates online.
    pub refresh_after: DateTime<Utc>,
}

impl License {
    pub(crate) fn from_lease(lease: &Lease, key_last4: &str) -> License {
        let claims = lease.claims();
        License {
            entitlement_id: claims.sub.clone(),
            product: claims.aud.first().to_owned(),
            plan: claims.plan.clone(),
            status: claims.status.clone(),
            features: lease.features(),
            key_last4: key_last4.to_owned(),
            lease_issued_at: lease.issued_at(),
            lease_expires_at: lease.expires_at(),
            refresh_after: lease.refresh_after(),
        }
    }

    /// How long the app may still run without reaching the server.
    pub fn offline_grace_left(&self, now: DateTime<Utc>) -> TimeDelta {
        (self.lease_expires_at - now).max(TimeDelta::zero())
    }
}

/// A successful activation.
#[derive(Debug, Clone, PartialEq)]
pub struct Activation {
    pub license: License,
    /// The entitlement as the server described it (paid-through date, status, a pending OAuth URL).
    pub entitlement: EntitlementInfo,
    /// The server's id for this device.
    pub device_id: Option<String>,
}

/// Why access is allowed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum AccessReason {
    /// The stored lease is valid and before `refresh_after`: no network was used.
    LeaseFresh,
    /// The server revalidated the license just now.
    Revalidated,
    /// Revalidation was due but the server could not be used; the lease allows offline work until its `exp`.
    /// `cause` is the connectivity state to show (for example `ServerUnreachable { keep_working_until }`).
    Offline { cause: ClientError },
    /// Revalidation was due but the app did not supply the license key (see `check_with_key`); the lease allows
    /// work until its `exp`.
    RevalidationNeedsKey,
}

/// Access is allowed: until when, why, and when to check again.
#[derive(Debug, Clone, PartialEq)]
pub struct Access {
    pub license: License,
    pub reason: AccessReason,
    /// Call `check` again at this instant (the lease's `refresh_after`, or sooner while offline).
    pub next_check_at: DateTime<Utc>,
}

/// A successful deactivation: the local state is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deactivation {
    /// Devices still activated on the license, when the server says.
    pub remaining_devices: Option<u64>,
}
