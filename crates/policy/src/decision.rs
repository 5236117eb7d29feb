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

/// The outcome of [`crate::decide`]. As returned by `decide`/`decide_entitlement`, an `Allow` always
/// has `now < until` and `refresh_after <= until`, and a `Deny` carries no time.
///
/// On the wire: `{"decision":"allow","until":..,"refresh_after":..}` or `{"decision":"deny","code":"PAYMENT_ISSUE"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "DecisionWire", try_from = "DecisionWire")]
pub enum Decision {
    /// Access is allowed. `until` is the lease expiry (`exp`); `refresh_after` is when the app should revalidate.
    Allow {
        until: DateTime<Utc>,
        refresh_after: DateTime<Utc>,
    },
    Deny(DenyCode),
}

/// The wire code of an allowed answer (`{"code":"VALID"}`).
pub const VALID_CODE: &str = "VALID";

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }

    /// `VALID` for an allow, else the deny code's stable string.
    pub fn code(&self) -> &'static str {
        match self {
            Decision::Allow { .. } => VALID_CODE,
            Decision::Deny(code) => code.as_str(),
        }
    }

    /// The deny code, `None` for an allow.
    pub fn deny_code(&self) -> Option<DenyCode> {
        match self {
            Decision::Allow { .. } => None,
            Decision::Deny(code) => Some(*code),
        }
    }

    /// The lease expiry of an allow; a deny never carries a time.
    pub fn until(&self) -> Option<DateTime<Utc>> {
        match self {
            Decision::Allow { until, .. } => Some(*until),
            Decision::Deny(_) => None,
        }
    }

    /// When the app should revalidate, for an allow.
    pub fn refresh_after(&self) -> Option<DateTime<Utc>> {
        match self {
            Decision::Allow { refresh_after, .. } => Some(*refresh_after),
            Decision::Deny(_) => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum DecisionTag {
    Allow,
    Deny,
}

/// The flat wire form of [`Decision`]. (An internally tagged newtype variant holding a string cannot be serialized
/// by serde, so `Decision` goes through this.)
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionWire {
    decision: DecisionTag,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    until: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_after: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<DenyCode>,
}

impl From<Decision> for DecisionWire {
    fn from(decision: Decision) -> Self {
        match decision {
            Decision::Allow { until, refresh_after } => DecisionWire {
                decision: DecisionTag::Allow,
                until: Some(until),
                refresh_after: Some(refresh_after),
                code: None,
            },
            Decision::Deny(code) => DecisionWire {
                decision: DecisionTag::Deny,
                until: None,
                refresh_after: None,
                code: Some(code),
            },
        }
    }
}

impl TryFrom<DecisionWire> for Decision {
    type Error = &'static str;

    fn try_from(wire: DecisionWire) -> Result<Self, Self::Error> {
        match wire {
            DecisionWire {
                decision: DecisionTag::Allow,
                until: Some(until),
                refresh_after: Some(refresh_after),
                code: None,
            } => Ok(Decision::Allow { until, refresh_after }),
            DecisionWire {
                decision: DecisionTag::Deny,
                until: None,
                refresh_after: None,
                code: Some(code),
            } => Ok(Decision::Deny(code)),
            DecisionWire {
                decision: DecisionTag::Allow,
                ..
            } => Err("an allow decision needs `until` and `refresh_after` and no `code`"),
            DecisionWire {
                decision: DecisionTag::Deny,
                ..
            } => Err("a deny decision needs a `code` and no times"),
        }
    }
}
