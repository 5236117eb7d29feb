//! `decide` at every boundary: lifecycle, classes, grace, cancellation, revocation, devices and lease times.

use chrono::{DateTime, Utc};
use tollgate_policy::{
    AccessRequest, ActiveDevice, Decision, DenyCode, EntitlementAccess, EntitlementState, HumanDuration,
    Lifecycle, PlanModel, Policy, Provider, Revocation, decide, decide_entitlement,
};

use crate::common::{DAY, HOUR, t};

fn state(provider: Provider, lifecycle: Lifecycle, status: Option<&str>) -> EntitlementState {
    EntitlementState {
        lifecycle,
        status: status.map(str::to_owned),
        ..EntitlementState::new(provider, "x_1")
    }
}

fn with_period(mut s: EntitlementState, paid_through: DateTime<Utc>) -> EntitlementState {
    s.paid_through = Some(paid_through);
    s
}

fn allow(until: DateTime<Utc>, refresh_after: DateTime<Utc>) -> Decision {
    Decision::Allow { until, refresh_after }
}

const DENY_INACTIVE: Decision = Decision::Deny(DenyCode::LicenseInactive);
const DENY_PAYMENT: Decision = Decision::Deny(DenyCode::PaymentIssue);

/// Defaults: subscription, offline_grace 72h, revalidate_every 24h.
fn policy() -> Policy {
    Policy::default()
}

fn at_period_end() -> Policy {
    Policy {
        revocation: Revocation::AtPeriodEnd,
        ..Policy::default()
    }
}

#[test]
fn deny_code_strings_are_stable() {
    let cases = [
        (DenyCode::LicenseNotFound, "LICENSE_NOT_FOUND"),
        (DenyCode::DeviceMismatch, "DEVICE_MISMATCH"),
        (DenyCode::DeviceLimitReached, "DEVICE_LIMIT_REACHED"),
        (DenyCode::LicenseInactive, "LICENSE_INACTIVE"),
        (DenyCode::PaymentIssue, "PAYMENT_ISSUE"),
        (DenyCode::DeviceNotActivated, "DEVICE_NOT_ACTIVATED"),
        (DenyCode::TransferNotAllowed, "TRANSFER_NOT_ALLOWED"),
        (DenyCode::TransferCooldown, "TRANSFER_COOLDOWN"),
    ];
    for (code, wire) in cases {
        assert_eq!(code.as_str(), wire);
        assert_eq!(code.to_string(), wire);
        assert_eq!(Decision::Deny(code).code(), wire);
        assert_eq!(toml::Value::try_from(code).unwrap().as_str(), Some(wire));
    }
    assert_eq!(allow(t(1), t(1)).code(), "VALID");
}

#[test]
fn lifecycle_without_access() {
    let now = t(0);
    let pt = t(10 * DAY);
    for lifecycle in [Lifecycle::Pending, Lifecycle::Failed] {
        for policy in [policy(), at_period_end()] {
            let s = with_period(state(Provider::Dodo, lifecycle, None), pt);
            assert_eq!(
                decide_entitlement(&s, &policy, now),
                DENY_INACTIVE,
                "{lifecycle:?}"
            );
        }
    }
}

#[test]
fn revoked_immediate_versus_at_period_end() {
    let now = t(0);
    let revoked = |reason: &str, status: Option<&str>, pt: i64| {
        let mut s = with_period(state(Provider::Dodo, Lifecycle::Revoked, status), t(pt));
        s.end_reason = Some(reason.to_owned());
        s
    };
    let cases: &[(EntitlementState, Policy, Decision)] = &[
        // A payment hold is a payment issue under either policy, whatever the case.
        (revoked("subscription_on_hold", None, DAY), policy(), DENY_PAYMENT),
        (
            revoked("SUBSCRIPTION_ON_HOLD", None, DAY),
            at_period_end(),
            DENY_PAYMENT,
        ),
        (
            revoked("payment_failed", Some("past_due"), DAY),
            policy(),
            DENY_PAYMENT,
        ),
        // A cancellation: immediate ends access at once; at_period_end keeps it until paid_through.
        (
            revoked("subscription_cancelled", None, DAY),
            policy(),
            DENY_INACTIVE,
        ),
        (
            revoked("subscription_cancelled", None, DAY),
            at_period_end(),
            allow(t(DAY), t(DAY)),
        ),
        (
            revoked("Subscription_Cancelled", None, 10 * DAY),
            at_period_end(),
            allow(t(3 * DAY), t(DAY)),
        ),
        (
            revoked("", Some("canceled"), 2 * HOUR),
            at_period_end(),
            allow(t(2 * HOUR), t(2 * HOUR)),
        ),
        // One second before the period end and at it.
        (
            revoked("subscription_cancelled", None, 1),
            at_period_end(),
            allow(t(1), t(1)),
        ),
        (
            revoked("subscription_cancelled", None, 0),
            at_period_end(),
            DENY_INACTIVE,
        ),
        // Not a cancellation: revoked at once even under at_period_end.
        (revoked("manual", None, DAY), at_period_end(), DENY_INACTIVE),
        (
            revoked("refund", Some("expired"), DAY),
            at_period_end(),
            DENY_INACTIVE,
        ),
    ];
    for (s, policy, expected) in cases {
        assert_eq!(
            decide_entitlement(s, policy, now),
            *expected,
            "{:?} {:?} {:?}",
            s.end_reason,
            s.status,
            policy.revocation
        );
    }
    let mut no_period = revoked("subscription_cancelled", None, 0);
    no_period.paid_through = None;
    assert_eq!(
        decide_entitlement(&no_period, &at_period_end(), now),
        DENY_INACTIVE
    );
}

#[test]
fn grant_class_lease_times() {
    let now = t(0);
    let p = policy();
    let active = |pt: Option<i64>| {
        let mut s = state(Provider::Whop, Lifecycle::Active, Some("active"));
        s.paid_through = pt.map(t);
        s
    };
    let cases = [
        // No paid-through known: now + offline_grace.
        (None, allow(t(72 * HOUR), t(24 * HOUR))),
        // Paid far ahead: now + offline_grace.
        (Some(30 * DAY), allow(t(72 * HOUR), t(24 * HOUR))),
        // Paid through in 1h: now + offline_grace comes first.
        (Some(HOUR), allow(t(72 * HOUR), t(24 * HOUR))),
        // The period ended 1h ago: the lease ends 72h after it.
        (Some(-HOUR), allow(t(71 * HOUR), t(24 * HOUR))),
        // The period ended 71h ago: one hour of lease left, refresh capped at it.
        (Some(-71 * HOUR), allow(t(HOUR), t(HOUR))),
        // The last second and the first second after the paid-through + offline_grace window.
        (Some(-72 * HOUR + 1), allow(t(1), t(1))),
        (Some(-72 * HOUR), DENY_INACTIVE),
    ];
    for (pt, expected) in cases {
        assert_eq!(
            decide_entitlement(&active(pt), &p, now),
            expected,
            "paid_through {pt:?}"
        );
    }
    // Status None (for example a delivered Dodo grant) is granted by the lifecycle alone.
    assert_eq!(
        decide_entitlement(&state(Provider::Dodo, Lifecycle::Active, None), &p, now),
        allow(t(72 * HOUR), t(24 * HOUR))
    );
}

#[test]
fn perpetual_versus_subscription() {
    let now = t(0);
    let perpetual = Policy {
        plan_model: PlanModel::Perpetual,
        ..Policy::default()
    };
    let long_ago = with_period(
        state(Provider::Whop, Lifecycle::Active, Some("completed")),
        t(-365 * DAY),
    );
    assert_eq!(
        decide_entitlement(&long_ago, &perpetual, now),
        allow(t(72 * HOUR), t(24 * HOUR))
    );
    assert_eq!(decide_entitlement(&long_ago, &policy(), now), DENY_INACTIVE);
    let lapsed = with_period(
        state(Provider::Whop, Lifecycle::Active, Some("completed")),
        t(-HOUR),
    );
    assert_eq!(
        decide_entitlement(&lapsed, &perpetual, now),
        allow(t(72 * HOUR), t(24 * HOUR))
    );
    assert_eq!(
        decide_entitlement(&lapsed, &policy(), now),
        allow(t(71 * HOUR), t(24 * HOUR))
    );
}

#[test]
fn grace_class_until_paid_through_only() {
    let pt = t(10 * DAY);
    let p = policy();
    let cases: &[(Provider, &str, i64, Decision)] = &[
        // Whop past_due: the last second of grace, then the first second after it.
        (Provider::Whop, "past_due", 10 * DAY - 1, allow(pt, pt)),
        (Provider::Whop, "past_due", 10 * DAY, DENY_PAYMENT),
        (Provider::Whop, "past_due", 10 * DAY + 1, DENY_PAYMENT),
        // Dodo on_hold the same.
        (Provider::Dodo, "on_hold", 10 * DAY - 1, allow(pt, pt)),
        (Provider::Dodo, "ON_HOLD", 10 * DAY, DENY_PAYMENT),
        // Well inside grace: the lease is capped at paid_through, never now + offline_grace beyond it.
        (
            Provider::Whop,
            "past_due",
            9 * DAY,
            allow(pt, t(9 * DAY + 24 * HOUR)),
        ),
        (Provider::Whop, "past_due", 0, allow(t(72 * HOUR), t(24 * HOUR))),
        // Unknown statuses: the same window, then LICENSE_INACTIVE.
        (Provider::Whop, "paused_by_admin", 10 * DAY - 1, allow(pt, pt)),
        (Provider::Whop, "paused_by_admin", 10 * DAY, DENY_INACTIVE),
        (Provider::Dodo, "frozen", 10 * DAY, DENY_INACTIVE),
    ];
    for &(provider, status, now, expected) in cases {
        let s = with_period(state(provider, Lifecycle::Active, Some(status)), pt);
        assert_eq!(
            decide_entitlement(&s, &p, t(now)),
            expected,
            "{provider} {status} at +{now}s"
        );
    }
    // Grace with no paid-through known: no access.
    assert_eq!(
        decide_entitlement(
            &state(Provider::Whop, Lifecycle::Active, Some("past_due")),
            &p,
            t(0)
        ),
        DENY_PAYMENT
    );
    assert_eq!(
        decide_entitlement(
            &state(Provider::Whop, Lifecycle::Active, Some("mystery")),
            &p,
            t(0)
        ),
        DENY_INACTIVE
    );
}

#[test]
fn each_provider_status_decides() {
    let now = t(0);
    let pt = t(30 * DAY);
    let p = policy();
    let ok = allow(t(72 * HOUR), t(24 * HOUR));
    let cases: &[(Provider, &str, Decision)] = &[
        (Provider::Whop, "trialing", ok),
        (Provider::Whop, "active", ok),
        (Provider::Whop, "completed", ok),
        (Provider::Whop, "canceling", ok),
        (Provider::Whop, "past_due", ok),
        (Provider::Whop, "canceled", DENY_INACTIVE),
        (Provider::Whop, "expired", DENY_INACTIVE),
        (Provider::Whop, "unresolved", DENY_INACTIVE),
        (Provider::Whop, "drafted", DENY_INACTIVE),
        (Provider::Whop, "something_new", ok),
        (Provider::Dodo, "active", ok),
        (Provider::Dodo, "on_hold", ok),
        (Provider::Dodo, "paused", DENY_INACTIVE),
        (Provider::Dodo, "cancelled", DENY_INACTIVE),
        (Provider::Dodo, "Delivered", ok),
        (Provider::Dodo, "Revoked", DENY_INACTIVE),
        (Provider::Aghanim, "trial", ok),
        (Provider::Aghanim, "expired", ok),
    ];
    for &(provider, status, expected) in cases {
        let s = with_period(state(provider, Lifecycle::Active, Some(status)), pt);
        assert_eq!(decide_entitlement(&s, &p, now), expected, "{provider} {status}");
    }
    // Aghanim follows effective_until only: past it (plus offline grace), no access whatever the status says.
    let lapsed = with_period(
        state(Provider::Aghanim, Lifecycle::Active, Some("active")),
        t(-72 * HOUR),
    );
    assert_eq!(decide_entitlement(&lapsed, &p, now), DENY_INACTIVE);
}

#[test]
fn cancel_at_period_end_around_the_period_end() {
    let pt = t(10 * DAY);
    let mut s = with_period(state(Provider::Whop, Lifecycle::Active, Some("canceling")), pt);
    s.cancel_at_period_end = true;
    for p in [policy(), at_period_end()] {
        assert_eq!(decide_entitlement(&s, &p, t(10 * DAY - 1)), allow(pt, pt));
        assert_eq!(decide_entitlement(&s, &p, t(10 * DAY)), DENY_INACTIVE);
        assert_eq!(decide_entitlement(&s, &p, t(10 * DAY + 1)), DENY_INACTIVE);
        assert_eq!(
            decide_entitlement(&s, &p, t(0)),
            allow(t(72 * HOUR), t(24 * HOUR))
        );
    }
    // Without the flag the same state keeps the usual lease past the period end.
    s.cancel_at_period_end = false;
    assert_eq!(
        decide_entitlement(&s, &policy(), t(10 * DAY)),
        allow(t(13 * DAY), t(11 * DAY))
    );
    // A scheduled cancellation with no known period end caps nothing.
    let mut unknown_end = state(Provider::Whop, Lifecycle::Active, Some("canceling"));
    unknown_end.cancel_at_period_end = true;
    assert_eq!(
        decide_entitlement(&unknown_end, &policy(), t(0)),
        allow(t(72 * HOUR), t(24 * HOUR))
    );
}

#[test]
fn devices_on_activation_and_validation() {
    let now = t(0);
    let s = with_period(
        state(Provider::Whop, Lifecycle::Active, Some("active")),
        t(30 * DAY),
    );
    let ok = allow(t(72 * HOUR), t(24 * HOUR));
    let one = vec![ActiveDevice::new("h0", t(-DAY))];
    let three: Vec<ActiveDevice> = (0..3)
        .map(|i| ActiveDevice::new(format!("h{i}"), t(-DAY)))
        .collect();
    let node_locked = policy();
    let three_seats = Policy {
        max_devices: 3,
        ..Policy::default()
    };
    let cases: &[(&[ActiveDevice], AccessRequest<'_>, &Policy, Decision)] = &[
        (&[], AccessRequest::activate("h0"), &node_locked, ok),
        (&one, AccessRequest::activate("h0"), &node_locked, ok),
        (
            &one,
            AccessRequest::activate("h9"),
            &node_locked,
            Decision::Deny(DenyCode::DeviceMismatch),
        ),
        (&one, AccessRequest::validate("h0"), &node_locked, ok),
        (
            &one,
            AccessRequest::validate("h9"),
            &node_locked,
            Decision::Deny(DenyCode::DeviceNotActivated),
        ),
        (
            &[],
            AccessRequest::validate("h0"),
            &node_locked,
            Decision::Deny(DenyCode::DeviceNotActivated),
        ),
        (&three[..2], AccessRequest::activate("h9"), &three_seats, ok),
        (
            &three,
            AccessRequest::activate("h9"),
            &three_seats,
            Decision::Deny(DenyCode::DeviceLimitReached),
        ),
        (&three, AccessRequest::activate("h2"), &three_seats, ok),
        (&three, AccessRequest::validate("h1"), &three_seats, ok),
    ];
    for (devices, request, policy, expected) in cases {
        assert_eq!(
            decide(&s, devices, request, policy, now),
            *expected,
            "{request:?} with {}",
            devices.len()
        );
    }
    // The entitlement is checked before the device: a revoked license says so even to an unknown device.
    let revoked = state(Provider::Whop, Lifecycle::Revoked, Some("canceled"));
    assert_eq!(
        decide(&revoked, &[], &AccessRequest::validate("h9"), &node_locked, now),
        DENY_INACTIVE
    );
}

#[test]
fn refresh_after_and_zero_durations() {
    let s = state(Provider::Whop, Lifecycle::Active, Some("active"));
    let short = Policy {
        offline_grace: HumanDuration::from_secs(HOUR),
        revalidate_every: HumanDuration::from_secs(2 * HOUR),
        ..Policy::default()
    };
    // refresh_after never exceeds until, even for a policy the validation would reject.
    assert_eq!(decide_entitlement(&s, &short, t(0)), allow(t(HOUR), t(HOUR)));
    let zero = Policy {
        offline_grace: HumanDuration::from_secs(0),
        ..Policy::default()
    };
    assert_eq!(decide_entitlement(&s, &zero, t(0)), DENY_INACTIVE);
}

#[test]
fn entitlement_access_for_the_service_api() {
    let s = with_period(
        state(Provider::Aghanim, Lifecycle::Active, Some("active")),
        t(DAY),
    );
    let access = EntitlementAccess::from(decide_entitlement(&s, &policy(), t(0)));
    assert_eq!(
        access,
        EntitlementAccess {
            allowed: true,
            code: "VALID",
            until: Some(t(72 * HOUR)),
        }
    );
    let denied = EntitlementAccess::from(Decision::Deny(DenyCode::PaymentIssue));
    assert_eq!(
        denied,
        EntitlementAccess {
            allowed: false,
            code: "PAYMENT_ISSUE",
            until: None,
        }
    );
}

#[test]
fn decisions_serialize_flat_and_round_trip() {
    use std::collections::BTreeMap;
    let deny = BTreeMap::from([("access", Decision::Deny(DenyCode::PaymentIssue))]);
    let text = toml::to_string(&deny).unwrap();
    assert_eq!(text, "[access]\ndecision = \"deny\"\ncode = \"PAYMENT_ISSUE\"\n");
    assert_eq!(
        toml::from_str::<BTreeMap<String, Decision>>(&text).unwrap()["access"],
        deny["access"]
    );
    let ok = BTreeMap::from([("access", allow(t(60), t(30)))]);
    let text = toml::to_string(&ok).unwrap();
    assert_eq!(
        text,
        "[access]\ndecision = \"allow\"\nuntil = \"2027-01-15T08:01:00Z\"\nrefresh_after = \"2027-01-15T08:00:30Z\"\n"
    );
    assert_eq!(
        toml::from_str::<BTreeMap<String, Decision>>(&text).unwrap()["access"],
        ok["access"]
    );
    // A deny with a time, or an allow without one, is refused.
    for bad in [
        "[access]\ndecision = \"deny\"\ncode = \"PAYMENT_ISSUE\"\nuntil = \"2027-01-15T08:01:00Z\"\n",
        "[access]\ndecision = \"allow\"\nuntil = \"2027-01-15T08:01:00Z\"\n",
        "[access]\ndecision = \"deny\"\n",
    ] {
        assert!(
            toml::from_str::<BTreeMap<String, Decision>>(bad).is_err(),
            "{bad}"
        );
    }
}
