//! Properties of `apply`: permutation convergence, idempotence and staleness, over a small space of ids, times
//! and values so that ties happen often.

use chrono::{DateTime, Utc};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use tollgate_policy::{EntitlementState, EventKind, FieldClocks, Lifecycle, Provider, ProviderEvent, apply};

use crate::common::{DAY, fold, t};

fn time() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..6).prop_map(t)
}

fn paid_through() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..4).prop_map(|d| t(d * DAY))
}

fn text(choices: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::sample::select(choices).prop_map(str::to_owned)
}

const STATUSES: &[&str] = &["active", "past_due", "canceled", "Canceling", "brand_new"];
const REASONS: &[&str] = &["manual", "subscription_cancelled", "subscription_on_hold"];

fn kind() -> impl Strategy<Value = EventKind> {
    let status = || option::of(text(STATUSES));
    let reason = || option::of(text(REASONS));
    let features = || vec(text(&["a", "b"]), 0..2);
    prop_oneof![
        (
            status(),
            option::of(paid_through()),
            option::of(any::<bool>()),
            features()
        )
            .prop_map(|(status, paid_through, cancel_at_period_end, features)| {
                EventKind::Activated {
                    status,
                    paid_through,
                    cancel_at_period_end,
                    features,
                }
            }),
        (paid_through(), status())
            .prop_map(|(paid_through, status)| EventKind::Renewed { paid_through, status }),
        (
            text(STATUSES),
            option::of(paid_through()),
            option::of(any::<bool>())
        )
            .prop_map(
                |(status, paid_through, cancel_at_period_end)| EventKind::Updated {
                    status,
                    paid_through,
                    cancel_at_period_end,
                }
            ),
        option::of(paid_through()).prop_map(|paid_through| EventKind::CancelScheduled { paid_through }),
        Just(EventKind::CancelUnscheduled),
        (reason(), status(), option::of(paid_through())).prop_map(|(reason, status, paid_through)| {
            EventKind::Deactivated {
                reason,
                status,
                paid_through,
            }
        }),
        reason().prop_map(|reason| EventKind::Revoked { reason }),
        Just(EventKind::GrantPending),
        (option::of(paid_through()), features()).prop_map(|(paid_through, features)| {
            EventKind::GrantDelivered {
                paid_through,
                features,
            }
        }),
        option::of(text(&["E1", "E2"])).prop_map(|error_code| EventKind::GrantFailed { error_code }),
    ]
}

/// Events mostly for `whop/mem_1`, sometimes for another id or provider (which must be ignored).
fn event() -> impl Strategy<Value = ProviderEvent> {
    (
        prop_oneof![
            8 => Just((Provider::Whop, "mem_1")),
            1 => Just((Provider::Whop, "mem_2")),
            1 => Just((Provider::Dodo, "mem_1")),
        ],
        time(),
        option::of(text(&["u1", "u2"])),
        option::of(text(&["p1", "p2"])),
        kind(),
    )
        .prop_map(
            |((provider, id), occurred_at, subject, product, kind)| ProviderEvent {
                provider,
                external_id: id.to_owned(),
                occurred_at,
                subject,
                product,
                kind,
            },
        )
}

fn fresh() -> EntitlementState {
    EntitlementState::new(Provider::Whop, "mem_1")
}

/// Any state, including ones no event sequence produces (for example clocks set but values at defaults).
fn any_state() -> impl Strategy<Value = EntitlementState> {
    let lifecycle = proptest::sample::select(vec![
        Lifecycle::Pending,
        Lifecycle::Active,
        Lifecycle::Failed,
        Lifecycle::Revoked,
    ]);
    (
        (
            lifecycle,
            option::of(text(STATUSES)),
            option::of(text(REASONS)),
            option::of(paid_through()),
        ),
        (
            any::<bool>(),
            option::of(text(&["u1", "u2"])),
            vec(text(&["a", "b"]), 0..2),
        ),
        (
            option::of(time()),
            option::of(time()),
            option::of(time()),
            option::of(time()),
        ),
    )
        .prop_map(
            |((lifecycle, status, end_reason, paid_through), (cancel, subject, features), (a, p, c, d))| {
                EntitlementState {
                    lifecycle,
                    status,
                    end_reason,
                    paid_through,
                    cancel_at_period_end: cancel,
                    subject,
                    features,
                    clocks: FieldClocks {
                        access: a,
                        period: p,
                        cancel: c,
                        details: d,
                    },
                    ..fresh()
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn any_arrival_order_converges_to_time_order(
        (events, shuffled) in vec(event(), 0..10).prop_flat_map(|events| {
            let shuffled = Just(events.clone()).prop_shuffle();
            (Just(events), shuffled)
        })
    ) {
        let mut in_time_order = events.clone();
        in_time_order.sort_by_key(|e| e.occurred_at);
        prop_assert_eq!(fold(fresh(), &shuffled), fold(fresh(), &in_time_order));
    }

    #[test]
    fn applying_an_event_twice_equals_once(state in any_state(), e in event()) {
        let once = apply(&state, &e);
        prop_assert_eq!(apply(&once, &e), once);
    }

    #[test]
    fn replaying_a_whole_history_changes_nothing(events in vec(event(), 0..10)) {
        let once = fold(fresh(), &events);
        prop_assert_eq!(fold(once.clone(), &events), once);
    }

    #[test]
    fn a_stale_event_changes_no_group_it_is_older_than(state in any_state(), e in event()) {
        let next = apply(&state, &e);
        let older = |clock: Option<DateTime<Utc>>| clock.is_some_and(|c| e.occurred_at < c);
        if older(state.clocks.access) {
            prop_assert_eq!(
                (next.lifecycle, &next.status, &next.end_reason, next.clocks.access),
                (state.lifecycle, &state.status, &state.end_reason, state.clocks.access)
            );
        }
        if older(state.clocks.period) {
            // In particular a stale event never moves `paid_through` backwards.
            prop_assert_eq!((next.paid_through, next.clocks.period), (state.paid_through, state.clocks.period));
        }
        if older(state.clocks.cancel) {
            prop_assert_eq!(
                (next.cancel_at_period_end, next.clocks.cancel),
                (state.cancel_at_period_end, state.clocks.cancel)
            );
        }
        if older(state.clocks.details) {
            prop_assert_eq!(
                (&next.subject, &next.product, &next.features, next.clocks.details),
                (&state.subject, &state.product, &state.features, state.clocks.details)
            );
        }
    }

    #[test]
    fn paid_through_never_moves_backwards_under_older_events(history in vec(event(), 1..8), late in event()) {
        let state = fold(fresh(), &history);
        if state.clocks.period.is_some_and(|c| late.occurred_at < c) {
            prop_assert_eq!(apply(&state, &late).paid_through, state.paid_through);
        }
    }

    #[test]
    fn events_and_states_round_trip_through_serde(history in vec(event(), 0..6), e in event()) {
        let text = toml::to_string(&e).unwrap();
        prop_assert_eq!(toml::from_str::<ProviderEvent>(&text).unwrap(), e);
        let state = fold(fresh(), &history);
        let text = toml::to_string(&state).unwrap();
        prop_assert_eq!(toml::from_str::<EntitlementState>(&text).unwrap(), state);
    }

    #[test]
    fn clocks_never_go_backwards(state in any_state(), e in event()) {
        let next = apply(&state, &e);
        prop_assert!(next.clocks.access >= state.clocks.access);
        prop_assert!(next.clocks.period >= state.clocks.period);
        prop_assert!(next.clocks.cancel >= state.clocks.cancel);
    }
}
