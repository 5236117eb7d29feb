//! Access decisions: whether an entitlement gives access now, to which device, and for how long.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::{AccessClass, PlanModel, Policy, Revocation};
use crate::decision::{Decision, DenyCode};
use crate::devices::{ActiveDevice, add, admit_device};
use crate::state::{EntitlementState, Lifecycle};
use crate::status::{classify, is_cancellation, is_payment_hold};

/// What the app asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequestKind {
    /// Bind this device to the license (`POST /api/license/activate`): a new hwid takes a free slot.
    Activate,
    /// Check a device that should already be bound (`POST /api/license/validate`).
    Validate,
}

/// One access request from an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AccessRequest<'a> {
    /// The keyed hash of the device fingerprint, compared with [`ActiveDevice::hwid_hash`].
    pub hwid_hash: &'a str,
    pub kind: RequestKind,
}

impl<'a> AccessRequest<'a> {
    pub fn activate(hwid_hash: &'a str) -> Self {
        AccessRequest {
            hwid_hash,
            kind: RequestKind::Activate,
        }
    }

    pub fn validate(hwid_hash: &'a str) -> Self {
        AccessRequest {
            hwid_hash,
            kind: RequestKind::Validate,
        }
    }
}

/// The access decision for one device of an entitlement at `now`.
///
/// First the entitlement must give access ([`decide_entitlement`]); then the device: a validation from an hwid not
/// in `devices` is `DEVICE_NOT_ACTIVATED`, and an activation goes through [`admit_device`] (an hwid already in
/// `devices` is re-admitted). An `Allow` always has `now < until` and `refresh_after <= until`; a `Deny` carries no
/// time.
pub fn decide(
    entitlement: &EntitlementState,
    devices: &[ActiveDevice],
    request: &AccessRequest<'_>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Decision {
    let decision = decide_entitlement(entitlement, policy, now);
    if !decision.is_allowed() {
        return decision;
    }
    match request.kind {
        RequestKind::Validate => {
            if !devices.iter().any(|d| d.hwid_hash == request.hwid_hash) {
                return Decision::Deny(DenyCode::DeviceNotActivated);
            }
        }
        RequestKind::Activate => {
            if let Some(code) = admit_device(devices, request.hwid_hash, policy).deny_code() {
                return Decision::Deny(code);
            }
        }
    }
    decision
}

/// The access an entitlement gives at `now`, without any device: the same rules and lease times as [`decide`].
/// This is the `access` of `GET /api/entitlements` (see [`EntitlementAccess`]).
pub fn decide_entitlement(entitlement: &EntitlementState, policy: &Policy, now: DateTime<Utc>) -> Decision {
    match access_end(entitlement, policy, now) {
        Ok(cap) => lease(entitlement.paid_through, cap, policy, now),
        Err(code) => Decision::Deny(code),
    }
}

/// The service API's view of an access decision: `{"allowed", "code", "until"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EntitlementAccess {
    pub allowed: bool,
    /// `VALID` when allowed, else the [`DenyCode`] string.
    #[cfg_attr(feature = "openapi", schema(example = "VALID"))]
    pub code: &'static str,
    /// The lease expiry when allowed: how long the answer may be relied on without asking again.
    pub until: Option<DateTime<Utc>>,
}

impl From<Decision> for EntitlementAccess {
    fn from(decision: Decision) -> Self {
        EntitlementAccess {
            allowed: decision.is_allowed(),
            code: decision.code(),
            until: decision.until(),
        }
    }
}

/// Whether the entitlement gives access at `now` and, if so, the time access stops on its own (`Some` when access
/// only continues until the paid-through time), or the deny code.
fn access_end(
    entitlement: &EntitlementState,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, DenyCode> {
    let status = entitlement.status.as_deref();
    let end_reason = entitlement.end_reason.as_deref();
    let paid_through = entitlement.paid_through;
    match entitlement.lifecycle {
        Lifecycle::Pending | Lifecycle::Failed => Err(DenyCode::LicenseInactive),
        Lifecycle::Revoked => {
            if end_reason.is_some_and(is_payment_hold) || status.is_some_and(is_payment_hold) {
                return Err(DenyCode::PaymentIssue);
            }
            let cancelled = end_reason.is_some_and(is_cancellation) || status.is_some_and(is_cancellation);
            match paid_through {
                Some(end) if policy.revocation == Revocation::AtPeriodEnd && cancelled && now < end => {
                    Ok(Some(end))
                }
                _ => Err(DenyCode::LicenseInactive),
            }
        }
        Lifecycle::Active => {
            let class = status.map_or(AccessClass::Grant, |s| classify(entitlement.provider, s, policy));
            let mut cap = match class {
                AccessClass::Grant => None,
                AccessClass::Deny => return Err(DenyCode::LicenseInactive),
                AccessClass::Grace => match paid_through {
                    Some(end) if now < end => Some(end),
                    _ if status.is_some_and(is_payment_hold) => return Err(DenyCode::PaymentIssue),
                    _ => return Err(DenyCode::LicenseInactive),
                },
            };
            if entitlement.cancel_at_period_end
                && let Some(end) = paid_through
            {
                if end <= now {
                    return Err(DenyCode::LicenseInactive);
                }
                cap = Some(cap.map_or(end, |c| c.min(end)));
            }
            Ok(cap)
        }
    }
}

/// The lease for an allowed entitlement. `until` is `now + offline_grace`, for subscriptions also at most
/// `paid_through + offline_grace`, and at most `cap`. A lease that would not reach past `now` is a deny.
fn lease(
    paid_through: Option<DateTime<Utc>>,
    cap: Option<DateTime<Utc>>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Decision {
    let grace = policy.offline_grace.as_delta();
    let mut until = add(now, grace);
    if policy.plan_model == PlanModel::Subscription
        && let Some(end) = paid_through
    {
        until = until.min(add(end, grace));
    }
    if let Some(cap) = cap {
        until = until.min(cap);
    }
    if until <= now {
        return Decision::Deny(DenyCode::LicenseInactive);
    }
    let refresh_after = add(now, policy.revalidate_every.as_delta()).clamp(now, until);
    Decision::Allow { until, refresh_after }
}
