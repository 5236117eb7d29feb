//! Access decisions: the values `decide` returns.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why access is denied. The codes are stable: clients and the HTTP API match on [`DenyCode::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum DenyCode {
    /// No entitlement is known for this license key.
    LicenseNotFound,
    /// Node-locked (`max_devices = 1`) and the key is bound to another device.
    DeviceMismatch,
    /// Admitting this device would exceed `max_devices`.
    DeviceLimitReached,
    /// Expired, revoked, canceled, failed or not yet delivered.
    LicenseInactive,
    /// A recoverable payment hold (Whop `past_due` beyond grace, Dodo `subscription_on_hold`).
    PaymentIssue,
    /// Validation from a device that was never activated on this license.
    DeviceNotActivated,
    /// The policy does not let the app free its own device (`transfer = "manual"`).
    TransferNotAllowed,
    /// A transfer inside the cooldown, or over the 30-day budget.
    TransferCooldown,
}

impl DenyCode {
    /// The stable wire code, as product.md lists it.
    pub fn as_str(self) -> &'static str {
        match self {
            DenyCode::LicenseNotFound => "LICENSE_NOT_FOUND",
            DenyCode::DeviceMismatch => "DEVICE_MISMATCH",
            DenyCode::DeviceLimitReached => "DEVICE_LIMIT_REACHED",
            DenyCode::LicenseInactive => "LICENSE_INACTIVE",
            DenyCode::PaymentIssue => "PAYMENT_ISSUE",
            DenyCode::DeviceNotActivated => "DEVICE_NOT_ACTIVATED",
            DenyCode::TransferNotAllowed => "TRANSFER_NOT_ALLOWED",
            DenyCode::TransferCooldown => "TRANSFER_COOLDOWN",
        }
    }
}

impl fmt::Display for DenyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of [`crate::decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Access is allowed. `until` is the lease expiry (`exp`); `refresh_after` is when the app should revalidate.
    Allow {
        until: DateTime<Utc>,
        refresh_after: DateTime<Utc>,
    },
    Deny(DenyCode),
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }
}
