//! The one error of the license use cases, mapped 1:1 to product.md's stable codes.

use chrono::{DateTime, Utc};
use tollgate_policy::DenyCode;
use tollgate_store::{StoreError, WriteError};

use crate::lease::LeaseError;

/// Why an activation, validation or deactivation was refused or failed. `code()` and `message()` are what the HTTP
/// layer sends (it picks the status: `bin/tollgate/src/http/error.rs`); `Display` is for the log (it may name
/// internal causes, never a secret).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LicenseError {
    #[error("license key not found")]
    LicenseNotFound,
    #[error("node-locked license is bound to another device")]
    DeviceMismatch,
    /// Whop's metadata binds the key to another device (an older integration's binding): only a reset in Whop
    /// frees it.
    #[error("the key is bound to another device at Whop")]
    BoundAtWhop,
    #[error("device limit reached")]
    DeviceLimitReached,
    #[error("license inactive")]
    LicenseInactive,
    #[error("payment issue")]
    PaymentIssue,
    #[error("device not activated on this license")]
    DeviceNotActivated,
    #[error("self-service transfer not allowed")]
    TransferNotAllowed,
    #[error("transfer cooldown until {retry_at}")]
    TransferCooldown { retry_at: DateTime<Utc> },
    /// The request itself is unusable (empty or absurdly long key or hwid, control characters).
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// The provider could not be reached, timed out, or answered something unusable. Never a false "invalid".
    /// (The cause is logged where it happens.)
    #[error("provider unavailable")]
    ProviderUnavailable,
    #[error("storage: {0}")]
    Storage(#[source] StoreError),
    /// A lease could not be signed (no usable key).
    #[error("lease: {0}")]
    Lease(#[source] LeaseError),
}

impl LicenseError {
    /// The stable wire code.
    pub fn code(&self) -> &'static str {
        match self {
            LicenseError::LicenseNotFound => "LICENSE_NOT_FOUND",
            LicenseError::DeviceMismatch | LicenseError::BoundAtWhop => "DEVICE_MISMATCH",
            LicenseError::DeviceLimitReached => "DEVICE_LIMIT_REACHED",
            LicenseError::LicenseInactive => "LICENSE_INACTIVE",
            LicenseError::PaymentIssue => "PAYMENT_ISSUE",
            LicenseError::DeviceNotActivated => "DEVICE_NOT_ACTIVATED",
            LicenseError::TransferNotAllowed => "TRANSFER_NOT_ALLOWED",
            LicenseError::TransferCooldown { .. } => "TRANSFER_COOLDOWN",
            LicenseError::InvalidRequest(_) => "INVALID_REQUEST",
            LicenseError::ProviderUnavailable => "PROVIDER_UNAVAILABLE",
            LicenseError::Storage(_) => "STORAGE_UNAVAILABLE",
            LicenseError::Lease(_) => "INTERNAL_ERROR",
        }
    }

    /// `Retry-After` for a transfer cooldown.
    pub fn retry_at(&self) -> Option<DateTime<Utc>> {
        match self {
            LicenseError::TransferCooldown { retry_at } => Some(*retry_at),
            _ => None,
        }
    }

    /// A message written for the person using the app.
    pub fn message(&self) -> &'static str {
        match self {
            LicenseError::LicenseNotFound => {
                "This license key was not found. Check that you entered it exactly as you received it."
            }
            LicenseError::DeviceMismatch => {
                "This license key is already in use on another computer. Deactivate it there, or contact support."
            }
            LicenseError::BoundAtWhop => {
                "This license key is bound to another computer in Whop. Reset the key in your Whop account (Reset Key \
                 on the purchase), then activate it here again."
            }
            LicenseError::DeviceLimitReached => {
                "This license key is active on the maximum number of devices. Deactivate it on one of them, or contact support."
            }
            LicenseError::LicenseInactive => {
                "This license is no longer active (it expired, was cancelled or was revoked). Renew it to keep using the app."
            }
            LicenseError::PaymentIssue => {
                "There is a problem with your latest payment. Update your payment method to keep using the app."
            }
            LicenseError::DeviceNotActivated => {
                "This device is not activated for this license. Activate it first."
            }
            LicenseError::TransferNotAllowed => {
                "This license cannot be moved to another device by yourself. Contact support to move it."
            }
            LicenseError::TransferCooldown { .. } => {
                "This license was moved between devices recently. Try again later, or contact support."
            }
            LicenseError::InvalidRequest(_) => {
                "The license key or device information is missing or not valid."
            }
            LicenseError::ProviderUnavailable => {
                "The license service is temporarily unavailable: the store behind it did not answer. Try again in a few minutes."
            }
            LicenseError::Storage(_) | LicenseError::Lease(_) => {
                "The license server is temporarily unavailable. Try again in a few minutes."
            }
        }
    }

    /// The error for a policy deny code.
    pub fn from_deny(code: DenyCode) -> LicenseError {
        match code {
            DenyCode::LicenseNotFound => LicenseError::LicenseNotFound,
            DenyCode::DeviceMismatch => LicenseError::DeviceMismatch,
            DenyCode::DeviceLimitReached => LicenseError::DeviceLimitReached,
            DenyCode::PaymentIssue => LicenseError::PaymentIssue,
            DenyCode::DeviceNotActivated => LicenseError::DeviceNotActivated,
            DenyCode::TransferNotAllowed => LicenseError::TransferNotAllowed,
            // A cooldown's retry time comes from the transfer check, never from a bare code.
            DenyCode::LicenseInactive | DenyCode::TransferCooldown => LicenseError::LicenseInactive,
            _ => LicenseError::LicenseInactive,
        }
    }

    /// True for the refusals the audit trail records as denials (not outages or bad input).
    pub fn is_denial(&self) -> bool {
        !matches!(
            self,
            LicenseError::InvalidRequest(_)
                | LicenseError::ProviderUnavailable
                | LicenseError::Storage(_)
                | LicenseError::Lease(_)
        )
    }
}

impl LicenseError {
    /// One error of each kind (in declaration order), for documentation: the server's OpenAPI document lists every
    /// code with its status and message from these. A test keeps it complete.
    pub fn one_of_each() -> Vec<LicenseError> {
        vec![
            LicenseError::LicenseNotFound,
            LicenseError::DeviceMismatch,
            LicenseError::BoundAtWhop,
            LicenseError::DeviceLimitReached,
            LicenseError::LicenseInactive,
            LicenseError::PaymentIssue,
            LicenseError::DeviceNotActivated,
            LicenseError::TransferNotAllowed,
            LicenseError::TransferCooldown {
                retry_at: DateTime::<Utc>::UNIX_EPOCH,
            },
            LicenseError::InvalidRequest("license_key is empty"),
            LicenseError::ProviderUnavailable,
            LicenseError::Storage(StoreError::Unavailable {
                reason: "the database does not answer".to_owned(),
                cause: None,
            }),
            LicenseError::Lease(LeaseError::NoSigningKey),
        ]
    }
}

impl From<StoreError> for LicenseError {
    fn from(err: StoreError) -> Self {
        LicenseError::Storage(err)
    }
}

impl From<WriteError> for LicenseError {
    fn from(err: WriteError) -> Self {
        LicenseError::Storage(err.into())
    }
}

impl From<LeaseError> for LicenseError {
    fn from(err: LeaseError) -> Self {
        match err {
            LeaseError::Storage(store) => LicenseError::Storage(store),
            other => LicenseError::Lease(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new variant fails to compile here until it is added to `one_of_each` (the match has no wildcard).
    fn position(error: &LicenseError) -> usize {
        match error {
            LicenseError::LicenseNotFound => 0,
            LicenseError::DeviceMismatch => 1,
            LicenseError::BoundAtWhop => 2,
            LicenseError::DeviceLimitReached => 3,
            LicenseError::LicenseInactive => 4,
            LicenseError::PaymentIssue => 5,
            LicenseError::DeviceNotActivated => 6,
            LicenseError::TransferNotAllowed => 7,
            LicenseError::TransferCooldown { .. } => 8,
            LicenseError::InvalidRequest(_) => 9,
            LicenseError::ProviderUnavailable => 10,
            LicenseError::Storage(_) => 11,
            LicenseError::Lease(_) => 12,
        }
    }

    #[test]
    fn one_of_each_has_every_variant_once() {
        let positions: Vec<usize> = LicenseError::one_of_each().iter().map(position).collect();
        assert_eq!(positions, (0..13).collect::<Vec<_>>());
    }
}
