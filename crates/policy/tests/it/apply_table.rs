//! `apply`: which groups each event writes, staleness, ties and mismatched events.

use tollgate_policy::{
    EntitlementState, EventKind, FieldClocks, Lifecycle, PARTIAL_DETAILS_CLOCK, Provider, apply,
};

use crate::common::{DAY, activated, event, fold, t, updated, whop};

fn fresh() -> EntitlementState {
    EntitlementState::new(Provider::Whop, "mem_1")
}

#[test]
fn activated_writes_every_group() {
    let e = whop(
        t(10),
        EventKind::Activated {
            status: Some("trialing".into()),
            paid_through: Some(t(30 * DAY)),
            cancel_at_period_end: Some(true),
            features: vec!["pro".into()],
        },
    );
    let s = apply(&fresh(), &e);
    assert_eq!(s.lifecycle, Lifecycle::Active);
    assert_eq!(s.status.as_deref(), Some("trialing"));
    assert_eq!(s.end_reason, None);
    assert_eq!(s.paid_through, Some(t(30 * DAY)));
    assert!(s.cancel_at_period_end);
    assert_eq!(s.subject.as_deref(), Some("user_1"));
    assert_eq!(s.product.as_deref(), Some("prod_1"));
    assert_eq!(s.features, vec!["pro".to_owned()]);
    assert_eq!(
        s.clocks,
        FieldClocks {
            access: Some(t(10)),
            period: Some(t(10)),
            cancel: Some(t(10)),
            details: Some(t(10)),
        }
    );
    assert_eq!(s.last_event_at(), Some(t(10)));
}

/// For each kind: the lifecycle after applying it to a fresh state, and which clocks it sets
/// (access, period, cancel, details-at-event-time).
#[test]
fn groups_written_by_each_kind() {
    let pt = Some(t(DAY));
    let cases: Vec<(EventKind, Lifecycle, [bool; 4])> = vec![
        (
            activated("active", None),
            Lifecycle::Active,
            [true, false, true, true],
        ),
        (
            EventKind::Renewed {
                paid_through: t(DAY),
                status: None,
            },
            Lifecycle::Active,
            [true, true, false, false],
        ),
        (
            updated("past_due"),
            Lifecycle::Active,
            [true, false, false, false],
        ),
        (
            EventKind::Updated {
                status: "active".into(),
                paid_through: pt,
                cancel_at_period_end: Some(false),
            },
            Lifecycle::Active,
            [true, true, true, false],
        ),
        (
            EventKind::CancelScheduled { paid_through: pt },
            Lifecycle::Pending,
            [false, true, true, false],
        ),
        (
            EventKind::CancelScheduled { paid_through: None },
            Lifecycle::Pending,
            [false, false, true, false],
        ),
        (
            EventKind::CancelUnscheduled,
            Lifecycle::Pending,
            [false, false, true, false],
        ),
        (
            EventKind::Deactivated {
                reason: Some("cancelled".into()),
                status: Some("canceled".into()),
                paid_through: pt,
            },
            Lifecycle::Revoked,
            [true, true, false, false],
        ),
        (
            EventKind::Revoked { reason: None },
            Lifecycle::Revoked,
            [true, false, false, false],
        ),
        (
            EventKind::GrantPending,
            Lifecycle::Pending,
            [true, false, false, false],
        ),
        (
            EventKind::GrantDelivered {
                paid_through: None,
                features: vec![],
            },
            Lifecycle::Active,
            [true, false, false, true],
        ),
        (
            EventKind::GrantFailed {
                error_code: Some("E1".into()),
            },
            Lifecycle::Failed,
            [true, false, false, false],
        ),
    ];
    for (kind, lifecycle, [access, period, cancel, details]) in cases {
        let name = kind.name();
        let s = apply(&fresh(), &whop(t(5), kind));
        assert_eq!(s.lifecycle, lifecycle, "{name}");
        assert_eq!(s.clocks.access.is_some(), access, "{name} access");
        assert_eq!(s.clocks.period.is_some(), period, "{name} period");
        assert_eq!(s.clocks.cancel.is_some(), cancel, "{name} cancel");
        // Every event here carries subject and product: details are written, at the event time for kinds that
        // carry features and at the partial clock for the others.
        let expected_details = if details { t(5) } else { PARTIAL_DETAILS_CLOCK };
        assert_eq!(s.clocks.details, Some(expected_details), "{name} details");
        assert_eq!(s.subject.as_deref(), Some("user_1"), "{name}");
    }
}

#[test]
fn kinds_set_the_documented_values() {
    let s = apply(
        &fresh(),
        &whop(
            t(1),
            EventKind::Deactivated {
                reason: Some("payment_failed".into()),
                status: Some("expired".into()),
                paid_through: None,
            },
        ),
    );
    assert_eq!(
        (s.lifecycle, s.status.as_deref(), s.end_reason.as_deref()),
        (Lifecycle::Revoked, Some("expired"), Some("payment_failed"))
    );
    let s = apply(
        &s,
        &whop(
            t(2),
            EventKind::GrantFailed {
                error_code: Some("oauth_denied".into()),
            },
        ),
    );
    assert_eq!(
        (s.lifecycle, s.status.as_deref(), s.end_reason.as_deref()),
        (Lifecycle::Failed, None, Some("oauth_denied"))
    );
    let s = apply(
        &s,
        &whop(
            t(3),
            EventKind::Renewed {
                paid_through: t(DAY),
                status: Some("active".into()),
            },
        ),
    );
    assert_eq!(
        (
            s.lifecycle,
            s.status.as_deref(),
            s.end_reason.as_deref(),
            s.paid_through
        ),
        (Lifecycle::Active, Some("active"), None, Some(t(DAY)))
    );
    let s = apply(
        &s,
        &whop(
            t(4),
            EventKind::CancelScheduled {
                paid_through: Some(t(2 * DAY)),
            },
        ),
    );
    assert!(s.cancel_at_period_end);
    assert_eq!(s.paid_through, Some(t(2 * DAY)));
    let s = apply(&s, &whop(t(5), EventKind::CancelUnscheduled));
    assert!(!s.cancel_at_period_end);
    assert_eq!(
        s.paid_through,
        Some(t(2 * DAY)),
        "withdrawing a cancellation keeps the period"
    );
}

#[test]
fn an_older_event_never_undoes_a_newer_one() {
    let newer = whop(t(100), activated("active", Some(t(30 * DAY))));
    let older_revoke = whop(
        t(50),
        EventKind::Deactivated {
            reason: Some("manual".into()),
            status: Some("expired".into()),
            paid_through: Some(t(DAY)),
        },
    );
    let older_cancel = whop(t(60), EventKind::CancelScheduled { paid_through: None });
    let s = fold(fresh(), &[newer.clone(), older_revoke, older_cancel.clone()]);
    // The activation wrote every group at t100 (cancel=false included), so both older events are stale.
    assert_eq!(s.lifecycle, Lifecycle::Active);
    assert_eq!(s.status.as_deref(), Some("active"));
    assert_eq!(s.paid_through, Some(t(30 * DAY)));
    assert!(!s.cancel_at_period_end);
    assert_eq!(s, apply(&fresh(), &newer));
}

#[test]
fn a_stale_event_never_moves_paid_through_backwards_but_a_newer_one_may() {
    let renewed = |at: i64, pt: i64| {
        whop(
            t(at),
            EventKind::Renewed {
                paid_through: t(pt),
                status: None,
            },
        )
    };
    let s = fold(fresh(), &[renewed(100, 60 * DAY), renewed(50, 30 * DAY)]);
    assert_eq!(s.paid_through, Some(t(60 * DAY)));
    assert_eq!(s.clocks.period, Some(t(100)));
    // A newer fact wins even when it shortens the period (for example a refund or a downgrade).
    let s = apply(&s, &renewed(200, 10 * DAY));
    assert_eq!(s.paid_through, Some(t(10 * DAY)));
}

#[test]
fn applying_the_same_event_twice_equals_once() {
    let events = [
        whop(t(1), activated("active", Some(t(DAY)))),
        whop(t(2), updated("past_due")),
        whop(
            t(3),
            EventKind::Revoked {
                reason: Some("manual".into()),
            },
        ),
        whop(
            t(4),
            EventKind::GrantDelivered {
                paid_through: None,
                features: vec!["a".into()],
            },
        ),
    ];
    let mut s = fresh();
    for e in &events {
        let once = apply(&s, e);
        assert_eq!(apply(&once, e), once, "{}", e.kind.name());
        s = once;
    }
}

#[test]
fn at_equal_time_deny_wins_whatever_the_order() {
    let grant = whop(t(10), activated("active", Some(t(DAY))));
    let revoke = whop(
        t(10),
        EventKind::Deactivated {
            reason: None,
            status: Some("canceled".into()),
            paid_through: None,
        },
    );
    let a = fold(fresh(), &[grant.clone(), revoke.clone()]);
    let b = fold(fresh(), &[revoke, grant]);
    assert_eq!(a, b);
    assert_eq!(a.lifecycle, Lifecycle::Revoked);

    // Within Active: a grace or unknown status beats a grant status, a deny status beats both.
    for order in [
        ["active", "past_due", "canceled"],
        ["trialing", "brand_new_status", "expired"],
    ] {
        for (i, weaker) in order.iter().enumerate() {
            for stronger in &order[i + 1..] {
                let x = whop(t(10), updated(weaker));
                let y = whop(t(10), updated(stronger));
                let a = fold(fresh(), &[x.clone(), y.clone()]);
                let b = fold(fresh(), &[y, x]);
                assert_eq!(a, b, "{weaker} vs {stronger}");
                assert_eq!(a.status.as_deref(), Some(*stronger), "{weaker} vs {stronger}");
            }
        }
    }

    // Pending beats delivered; failed beats pending; revoked beats failed.
    let kinds = [
        EventKind::GrantDelivered {
            paid_through: None,
            features: vec![],
        },
        EventKind::GrantPending,
        EventKind::GrantFailed { error_code: None },
        EventKind::Revoked { reason: None },
    ];
    let expected = [
        Lifecycle::Active,
        Lifecycle::Pending,
        Lifecycle::Failed,
        Lifecycle::Revoked,
    ];
    for i in 0..kinds.len() {
        for j in i + 1..kinds.len() {
            let x = event(Provider::Dodo, "entg_1", t(7), kinds[i].clone());
            let y = event(Provider::Dodo, "entg_1", t(7), kinds[j].clone());
            let start = EntitlementState::new(Provider::Dodo, "entg_1");
            let a = fold(start.clone(), &[x.clone(), y.clone()]);
            let b = fold(start, &[y, x]);
            assert_eq!(a, b);
            assert_eq!(a.lifecycle, expected[j]);
        }
    }
}

#[test]
fn at_equal_time_the_earlier_paid_through_and_the_cancellation_win() {
    let long = whop(
        t(10),
        EventKind::Renewed {
            paid_through: t(60 * DAY),
            status: None,
        },
    );
    let short = whop(
        t(10),
        EventKind::Renewed {
            paid_through: t(30 * DAY),
            status: None,
        },
    );
    assert_eq!(
        fold(fresh(), &[long.clone(), short.clone()]).paid_through,
        Some(t(30 * DAY))
    );
    assert_eq!(fold(fresh(), &[short, long]).paid_through, Some(t(30 * DAY)));

    let on = whop(t(10), EventKind::CancelScheduled { paid_through: None });
    let off = whop(t(10), EventKind::CancelUnscheduled);
    assert!(fold(fresh(), &[on.clone(), off.clone()]).cancel_at_period_end);
    assert!(fold(fresh(), &[off, on]).cancel_at_period_end);
}

#[test]
fn events_for_another_entitlement_leave_the_state_unchanged() {
    let s = apply(&fresh(), &whop(t(1), activated("active", Some(t(DAY)))));
    let other_id = event(Provider::Whop, "mem_2", t(2), EventKind::Revoked { reason: None });
    let other_provider = event(Provider::Dodo, "mem_1", t(2), EventKind::Revoked { reason: None });
    assert!(tollgate_policy::event_matches(
        &s,
        &whop(t(2), EventKind::GrantPending)
    ));
    assert!(!tollgate_policy::event_matches(&s, &other_id));
    assert!(!tollgate_policy::event_matches(&s, &other_provider));
    assert_eq!(apply(&s, &other_id), s);
    assert_eq!(apply(&s, &other_provider), s);
}

#[test]
fn partial_details_fill_in_but_never_erase_features() {
    let mut renewal = whop(
        t(200),
        EventKind::Renewed {
            paid_through: t(DAY),
            status: None,
        },
    );
    renewal.subject = Some("user_9".into());
    let activation = {
        let mut e = whop(
            t(100),
            EventKind::Activated {
                status: None,
                paid_through: None,
                cancel_at_period_end: None,
                features: vec!["skin".into()],
            },
        );
        e.subject = Some("user_1".into());
        e
    };
    // A renewal alone fills in the subject.
    let only_renewal = apply(&fresh(), &renewal);
    assert_eq!(only_renewal.subject.as_deref(), Some("user_9"));
    assert_eq!(only_renewal.clocks.details, Some(PARTIAL_DETAILS_CLOCK));
    // The activation's full record wins in either order, although the renewal is newer.
    for events in [
        [activation.clone(), renewal.clone()],
        [renewal.clone(), activation.clone()],
    ] {
        let s = fold(fresh(), &events);
        assert_eq!(s.subject.as_deref(), Some("user_1"));
        assert_eq!(s.features, vec!["skin".to_owned()]);
        assert_eq!(s.clocks.details, Some(t(100)));
        assert_eq!(s.paid_through, Some(t(DAY)));
    }
    // An event without subject or product writes no details at all.
    let mut bare = whop(t(300), EventKind::GrantPending);
    bare.subject = None;
    bare.product = None;
    assert_eq!(apply(&fresh(), &bare).clocks.details, None);
}
