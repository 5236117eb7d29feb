//! Device admission and self-service transfers.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{Policy, TransferMode};
use crate::decision::DenyCode;

/// The window of the transfer budget (`transfers_per_30d`).
pub const TRANSFER_WINDOW: TimeDelta = TimeDelta::days(30);

/// A device activated on a license, as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveDevice {
    /// The keyed hash of the device fingerprint (never the raw hwid).
    pub hwid_hash: String,
    pub activated_at: DateTime<Utc>,
}

impl ActiveDevice {
    pub fn new(hwid_hash: impl Into<String>, activated_at: DateTime<Utc>) -> Self {
        ActiveDevice {
            hwid_hash: hwid_hash.into(),
            activated_at,
        }
    }
}

/// Whether a device may be activated on a license.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Admission {
    /// The hwid is already activated: it is re-admitted without taking a new slot.
    AlreadyActive,
    /// A free slot exists: the device may be added.
    Admitted,
    /// Node-locked (`max_devices = 1`) and the one slot is held by another device.
    DeviceMismatch,
    /// Every one of `max_devices` (more than one) slots is taken.
    DeviceLimitReached,
}

impl Admission {
    /// Whether the device may use the license.
    pub fn is_admitted(self) -> bool {
        matches!(self, Admission::AlreadyActive | Admission::Admitted)
    }

    /// The deny code of a refusal, `None` when admitted.
    pub fn deny_code(self) -> Option<DenyCode> {
        match self {
            Admission::AlreadyActive | Admission::Admitted => None,
            Admission::DeviceMismatch => Some(DenyCode::DeviceMismatch),
            Admission::DeviceLimitReached => Some(DenyCode::DeviceLimitReached),
        }
    }
}

/// Whether the device `hwid_hash` may be activated next to `devices` under `policy.max_devices`.
///
/// An hwid already in `devices` is re-admitted. A new one is admitted while `devices.len() < max_devices`;
/// otherwise it is refused with [`Admission::DeviceMismatch`] when the license is node-locked (`max_devices <= 1`)
/// and [`Admission::DeviceLimitReached`] otherwise. This function decides, it does not reserve: the caller reads
/// `devices` under the license's row lock and inserts in the same transaction (the service does both in one
/// `Store::write`).
pub fn admit_device(devices: &[ActiveDevice], hwid_hash: &str, policy: &Policy) -> Admission {
    if devices.iter().any(|d| d.hwid_hash == hwid_hash) {
        return Admission::AlreadyActive;
    }
    let max = usize::try_from(policy.max_devices).unwrap_or(usize::MAX);
    if devices.len() < max {
        Admission::Admitted
    } else if policy.max_devices <= 1 {
        Admission::DeviceMismatch
    } else {
        Admission::DeviceLimitReached
    }
}

/// Why a self-service transfer (the app freeing its own device) is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransferDenial {
    /// `transfer = "manual"` (or a budget of zero transfers): only an admin frees a device.
    NotAllowed,
    /// Inside the cooldown after the latest transfer, or over the 30-day budget. `retry_at` is the first moment a
    /// transfer is allowed again (the answer's `Retry-After`).
    Cooldown { retry_at: DateTime<Utc> },
}

impl TransferDenial {
    pub fn code(self) -> DenyCode {
        match self {
            TransferDenial::NotAllowed => DenyCode::TransferNotAllowed,
            TransferDenial::Cooldown { .. } => DenyCode::TransferCooldown,
        }
    }
}

/// Whether a self-service transfer is allowed at `now`, given the times of earlier transfers on this license.
///
/// - `transfer = "manual"` or `transfers_per_30d = 0`: [`TransferDenial::NotAllowed`].
/// - The latest transfer plus `transfer_cooldown` is after `now`: refused until then. Exactly at the boundary is
///   allowed.
/// - A transfer counts against the budget while `now < at + 30 days`. With `transfers_per_30d` or more counted,
///   refused until enough of them age out to leave one free (for a full budget, when the oldest one ages out).
///
/// When both rules refuse, `retry_at` is the later of the two times. `recent_transfers` need not be sorted and may
/// include transfers older than 30 days.
pub fn check_transfer(
    policy: &Policy,
    recent_transfers: &[DateTime<Utc>],
    now: DateTime<Utc>,
) -> Result<(), TransferDenial> {
    if policy.transfer == TransferMode::Manual || policy.transfers_per_30d == 0 {
        return Err(TransferDenial::NotAllowed);
    }
    let mut retry_at: Option<DateTime<Utc>> = None;

    if let Some(latest) = recent_transfers.iter().max() {
        let allowed_at = add(*latest, policy.transfer_cooldown.as_delta());
        if now < allowed_at {
            retry_at = Some(allowed_at);
        }
    }

    let mut counted: Vec<DateTime<Utc>> = recent_transfers
        .iter()
        .copied()
        .filter(|at| now < add(*at, TRANSFER_WINDOW))
        .collect();
    let budget = usize::try_from(policy.transfers_per_30d).unwrap_or(usize::MAX);
    if counted.len() >= budget {
        counted.sort_unstable();
        // Once `counted.len() - budget + 1` of the oldest have aged out, one transfer is free again.
        if let Some(freeing) = counted.get(counted.len() - budget) {
            let ages_out = add(*freeing, TRANSFER_WINDOW);
            retry_at = Some(retry_at.map_or(ages_out, |r| r.max(ages_out)));
        }
    }

    match retry_at {
        Some(retry_at) => Err(TransferDenial::Cooldown { retry_at }),
        None => Ok(()),
    }
}

/// `at + delta`, saturating at the earliest or latest representable time instead of panicking.
pub(crate) fn add(at: DateTime<Utc>, delta: TimeDelta) -> DateTime<Utc> {
    match at.checked_add_signed(delta) {
        Some(sum) => sum,
        None if delta < TimeDelta::zero() => DateTime::<Utc>::MIN_UTC,
        None => DateTime::<Utc>::MAX_UTC,
    }
}
