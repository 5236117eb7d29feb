//! Properties of `decide`: it never panics, an `Allow` is always a lease into the future, a `Deny` carries no time,
//! and access never outlives what the state and policy allow.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use tollgate_policy::{
    AccessClass, AccessRequest, ActiveDevice, Decision, EntitlementState, HumanDuration, Lifecycle,
    PlanModel, Policy, Provider, Revocation, classify, decide, decide_entitlement,
};

use crate::common::{DAY, t};

fn time() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        8 => (-40 * DAY..40 * DAY).prop_map(t),
        1 => Just(DateTime::<Utc>::MAX_UTC),
        1 => Just(DateTime::<Utc>::MIN_UTC),
        1 => (-1_000_000_000_000i64..1_000_000_000_000).prop_map(|s| Utc.timestamp_opt(s, 0).unwrap()),
    ]
}

fn text(choices: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::sample::select(choices).prop_map(str::to_owned)
}

const STATUSES: &[&str] = &[
    "active",
    "past_due",
    "on_hold",
    "canceled",
    "canceling",
    "Delivered",
    "trial",
    "expired",
    "mystery",
    "",
];
const REASONS: &[&str] = &[
    "manual",
    "subscription_cancelled",
    "subscription_on_hold",
    "",
    "E1",
];

fn state() -> impl Strategy<Value = EntitlementState> {
    (
        proptest::sample::select(Provider::ALL.to_vec()),
        proptest::sample::select(vec![
            Lifecycle::Pending,
            Lifecycle::Active,
            Lifecycle::Failed,
            Lifecycle::Revoked,
        ]),
        option::of(text(STATUSES)),
        option::of(text(REASONS)),
        option::of(time()),
        any::<bool>(),
    )
        .prop_map(
            |(provider, lifecycle, status, end_reason, paid_through, cancel)| EntitlementState {
                lifecycle,
                status,
                end_reason,
                paid_through,
                cancel_at_period_end: cancel,
                ..EntitlementState::new(provider, "x")
            },
        )
}

fn duration() -> impl Strategy<Value = HumanDuration> {
    prop_oneof![
        Just(HumanDuration::from_secs(0)),
        (1i64..10 * DAY).prop_map(HumanDuration::from_secs),
        Just(HumanDuration::from_secs(100 * 366 * DAY)),
    ]
}

fn policy() -> impl Strategy<Value = Policy> {
    let class = proptest::sample::select(vec![AccessClass::Grant, AccessClass::Grace, AccessClass::Deny]);
    (
        proptest::sample::select(vec![PlanModel::Subscription, PlanModel::Perpetual]),
        0u32..4,
        duration(),
        duration(),
        proptest::sample::select(vec![Revocation::Immediate, Revocation::AtPeriodEnd]),
        option::of((text(STATUSES), class)),
    )
        .prop_map(
            |(plan_model, max_devices, offline_grace, revalidate_every, revocation, mapped)| Policy {
                plan_model,
                max_devices,
                offline_grace,
                revalidate_every,
                revocation,
                status_map: mapped.into_iter().collect::<BTreeMap<_, _>>(),
                ..Policy::default()
            },
        )
}

fn devices() -> impl Strategy<Value = Vec<ActiveDevice>> {
    vec(
        text(&["h0", "h1", "h2"]).prop_map(|h| ActiveDevice::new(h, t(0))),
        0..4,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5_000))]

    #[test]
    fn allow_is_a_lease_into_the_future_and_deny_has_no_time(
        s in state(),
        devices in devices(),
        hwid in text(&["h0", "h1", "h3"]),
        activate in any::<bool>(),
        p in policy(),
        now in time(),
    ) {
        let request = if activate { AccessRequest::activate(&hwid) } else { AccessRequest::validate(&hwid) };
        let decision = decide(&s, &devices, &request, &p, now);
        match decision {
            Decision::Allow { until, refresh_after } => {
                prop_assert!(now < until, "until {until} not after now {now}");
                prop_assert!(refresh_after <= until);
                prop_assert!(now <= refresh_after);
                // Never longer than the offline grace from now.
                prop_assert!(until.signed_duration_since(now) <= p.offline_grace.as_delta());
                // A device-level allow is the entitlement-level allow.
                prop_assert_eq!(decide_entitlement(&s, &p, now), decision);
            }
            Decision::Deny(_) => {
                prop_assert_eq!(decision.until(), None);
                prop_assert_eq!(decision.refresh_after(), None);
            }
        }
        prop_assert_eq!(decision.until().is_some(), decision.is_allowed());
    }

    #[test]
    fn access_never_outlives_what_was_paid_for(s in state(), p in policy(), now in time()) {
        let Decision::Allow { until, .. } = decide_entitlement(&s, &p, now) else {
            return Ok(());
        };
        prop_assert!(matches!(s.lifecycle, Lifecycle::Active | Lifecycle::Revoked));
        if let Some(pt) = s.paid_through {
            if p.plan_model == PlanModel::Subscription {
                prop_assert!(until.signed_duration_since(pt) <= p.offline_grace.as_delta());
            }
            let grace = s.lifecycle == Lifecycle::Active
                && s.status.as_deref().is_some_and(|st| classify(s.provider, st, &p) == AccessClass::Grace);
            if s.lifecycle == Lifecycle::Revoked || s.cancel_at_period_end || grace {
                prop_assert!(until <= pt, "until {until} beyond paid_through {pt}");
            }
        } else {
            // Without a paid-through time, only granted, uncancelled access is allowed.
            prop_assert_eq!(s.lifecycle, Lifecycle::Active);
        }
        if let Some(status) = s.status.as_deref()
            && s.lifecycle == Lifecycle::Active
        {
            prop_assert!(classify(s.provider, status, &p) != AccessClass::Deny);
        }
    }
}

#[test]
fn extreme_times_do_not_panic() {
    let s = EntitlementState {
        lifecycle: Lifecycle::Active,
        paid_through: Some(DateTime::<Utc>::MAX_UTC),
        ..EntitlementState::new(Provider::Whop, "x")
    };
    let p = Policy::default();
    assert_eq!(
        decide_entitlement(&s, &p, DateTime::<Utc>::MAX_UTC),
        Decision::Deny(tollgate_policy::DenyCode::LicenseInactive)
    );
    let d = decide_entitlement(&s, &p, DateTime::<Utc>::MIN_UTC);
    assert_eq!(
        d.until(),
        Some(DateTime::<Utc>::MIN_UTC + chrono::TimeDelta::hours(72))
    );
}
