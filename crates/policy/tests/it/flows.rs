//! The README's worked examples, one per provider, exactly as written there.

use chrono::{DateTime, Utc};
use tollgate_policy::{
    Decision, DenyCode, EntitlementState, EventKind, Lifecycle, Policy, Provider, ProviderEvent, apply,
    decide_entitlement,
};

#[expect(
    clippy::unwrap_used,
    reason = "a test helper: the literals are valid RFC 3339"
)]
fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc)
}

fn ev(
    provider: Provider,
    id: &str,
    when: &str,
    subject: &str,
    product: &str,
    kind: EventKind,
) -> ProviderEvent {
    ProviderEvent {
        provider,
        external_id: id.into(),
        occurred_at: at(when),
        subject: Some(subject.into()),
        product: Some(product.into()),
        kind,
    }
}

fn allow(until: &str, refresh_after: &str) -> Decision {
    Decision::Allow {
        until: at(until),
        refresh_after: at(refresh_after),
    }
}

#[test]
fn whop_membership_cancelled_at_period_end() {
    let policy = Policy::default();
    let w = |when, kind| {
        ev(
            Provider::Whop,
            "mem_7Hq2LwZp0aXkR1",
            when,
            "user_Zx9Yw8Vu7",
            "prod_Desk42xY",
            kind,
        )
    };
    let activated = w(
        "2026-10-01T09:15:02Z",
        EventKind::Activated {
            status: Some("active".into()),
            paid_through: Some(at("2026-11-01T09:15:00Z")),
            cancel_at_period_end: Some(false),
            features: vec![],
        },
    );
    let canceling = w(
        "2026-10-20T12:00:01Z",
        EventKind::Updated {
            status: "canceling".into(),
            paid_through: Some(at("2026-11-01T09:15:00Z")),
            cancel_at_period_end: Some(true),
        },
    );
    let deactivated = w(
        "2026-11-01T09:15:01Z",
        EventKind::Deactivated {
            reason: None,
            status: Some("canceled".into()),
            paid_through: None,
        },
    );
    let s0 = EntitlementState::new(Provider::Whop, "mem_7Hq2LwZp0aXkR1");
    let s1 = apply(&s0, &activated);
    assert_eq!(
        decide_entitlement(&s1, &policy, at("2026-10-10T00:00:00Z")),
        allow("2026-10-13T00:00:00Z", "2026-10-11T00:00:00Z")
    );
    // The cancellation arrives after a late duplicate of the activation: order does not matter.
    let s2 = apply(&apply(&s1, &canceling), &activated);
    assert!(s2.cancel_at_period_end);
    assert_eq!(s2.status.as_deref(), Some("canceling"));
    assert_eq!(
        decide_entitlement(&s2, &policy, at("2026-10-30T09:15:00Z")),
        allow("2026-11-01T09:15:00Z", "2026-10-31T09:15:00Z")
    );
    assert_eq!(
        decide_entitlement(&s2, &policy, at("2026-11-01T09:14:59Z")),
        allow("2026-11-01T09:15:00Z", "2026-11-01T09:15:00Z")
    );
    assert_eq!(
        decide_entitlement(&s2, &policy, at("2026-11-01T09:15:00Z")),
        Decision::Deny(DenyCode::LicenseInactive)
    );
    let s3 = apply(&s2, &deactivated);
    assert_eq!(s3.lifecycle, Lifecycle::Revoked);
    assert_eq!(
        decide_entitlement(&s3, &policy, at("2026-11-01T09:15:02Z")),
        Decision::Deny(DenyCode::LicenseInactive)
    );
}

#[test]
fn dodo_grant_pending_delivered_revoked_on_hold() {
    let policy = Policy::default();
    let d = |when, kind| {
        ev(
            Provider::Dodo,
            "entg_8sKd02LmQp",
            when,
            "cus_J7h6G5f4",
            "prod_lic",
            kind,
        )
    };
    let pending = d("2026-10-06T08:00:00Z", EventKind::GrantPending);
    let delivered = d(
        "2026-10-06T09:30:00Z",
        EventKind::GrantDelivered {
            paid_through: None,
            features: vec![],
        },
    );
    let revoked = d(
        "2026-11-06T08:00:00Z",
        EventKind::Revoked {
            reason: Some("subscription_on_hold".into()),
        },
    );
    let s0 = EntitlementState::new(Provider::Dodo, "entg_8sKd02LmQp");
    let pending_only = apply(&s0, &pending);
    assert_eq!(
        decide_entitlement(&pending_only, &policy, at("2026-10-06T09:00:00Z")),
        Decision::Deny(DenyCode::LicenseInactive)
    );
    // Delivered before pending (out of order) or after: delivered either way.
    let a = apply(&pending_only, &delivered);
    let b = apply(&apply(&s0, &delivered), &pending);
    assert_eq!(a, b);
    assert_eq!(
        decide_entitlement(&a, &policy, at("2026-10-07T00:00:00Z")),
        allow("2026-10-10T00:00:00Z", "2026-10-08T00:00:00Z")
    );
    let held = apply(&a, &revoked);
    assert_eq!(held.end_reason.as_deref(), Some("subscription_on_hold"));
    assert_eq!(
        decide_entitlement(&held, &policy, at("2026-11-06T08:00:01Z")),
        Decision::Deny(DenyCode::PaymentIssue)
    );
}

#[test]
fn aghanim_trial_active_renewed_deactivated() {
    let policy = Policy::default();
    let g = |when, kind| {
        ev(
            Provider::Aghanim,
            "sub_kMnoPqRsTuV",
            when,
            "2D2R-OP3C",
            "battle_pass",
            kind,
        )
    };
    let activated = g(
        "2024-01-01T00:00:00Z",
        EventKind::Activated {
            status: Some("trial".into()),
            paid_through: Some(at("2024-01-08T00:00:00Z")),
            cancel_at_period_end: None,
            features: vec!["exclusive_skin_001".into()],
        },
    );
    let updated = g(
        "2024-01-08T00:00:00Z",
        EventKind::Updated {
            status: "active".into(),
            paid_through: Some(at("2024-02-01T00:00:00Z")),
            cancel_at_period_end: None,
        },
    );
    let renewed = g(
        "2024-02-01T00:00:00Z",
        EventKind::Renewed {
            paid_through: at("2024-03-02T00:00:00Z"),
            status: Some("active".into()),
        },
    );
    let deactivated = g(
        "2024-03-02T00:00:00Z",
        EventKind::Deactivated {
            reason: None,
            status: Some("expired".into()),
            paid_through: Some(at("2024-03-02T00:00:00Z")),
        },
    );
    let s = EntitlementState::new(Provider::Aghanim, "sub_kMnoPqRsTuV");
    let trial = apply(&s, &activated);
    assert_eq!(
        decide_entitlement(&trial, &policy, at("2024-01-06T00:00:00Z")),
        allow("2024-01-09T00:00:00Z", "2024-01-07T00:00:00Z")
    );
    // A trial that is never converted: access ends offline_grace after effective_until.
    assert_eq!(
        decide_entitlement(&trial, &policy, at("2024-01-11T00:00:00Z")),
        Decision::Deny(DenyCode::LicenseInactive)
    );
    let renewed_state = [updated, renewed].iter().fold(trial, |s, e| apply(&s, e));
    assert_eq!(renewed_state.paid_through, Some(at("2024-03-02T00:00:00Z")));
    assert_eq!(renewed_state.features, vec!["exclusive_skin_001".to_owned()]);
    assert_eq!(
        decide_entitlement(&renewed_state, &policy, at("2024-02-15T00:00:00Z")),
        allow("2024-02-18T00:00:00Z", "2024-02-16T00:00:00Z")
    );
    let ended = apply(&renewed_state, &deactivated);
    assert_eq!(
        decide_entitlement(&ended, &policy, at("2024-03-02T00:00:01Z")),
        Decision::Deny(DenyCode::LicenseInactive)
    );
}
