//! Webhook races between threads that each hold their own pooled connection: the database, not the process, keeps
//! the fold's invariants (each delivery applied exactly once; any arrival order ends in the time-ordered state).

use std::sync::Barrier;

use tollgate_policy::{EntitlementState, EventKind, Provider, ProviderEvent};
use tollgate_store::{Actor, EntitlementChange, InboxStatus, NewInboxEvent, RecordOutcome};

use super::fixtures::{activated, both, event, t};
use crate::common::folding::Folding as _;

const THREADS: usize = 16;

fn delivery(dedupe: String) -> NewInboxEvent {
    NewInboxEvent {
        provider: Provider::Whop,
        dedupe_key: dedupe,
        semantic_key: None,
        event_type: "membership.went_valid".to_owned(),
        body: b"{}".to_vec(),
        received_at: t(0),
        webhook_id: None,
        signed_at: None,
    }
}

#[test]
fn sixteen_threads_racing_on_the_same_events_apply_each_exactly_once() {
    both(|db| {
        const EVENTS: usize = 50;
        let barrier = Barrier::new(THREADS);
        let outcomes: Vec<Vec<RecordOutcome>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|thread| {
                    let store = db.store.clone();
                    let barrier = &barrier;
                    s.spawn(move || {
                        barrier.wait();
                        (0..EVENTS)
                            .map(|i| {
                                // Each thread walks the events from a different starting point.
                                let n = (i + thread * 3) % EVENTS;
                                let change = EntitlementChange::new(activated(
                                    &format!("mem_race_{}", n % 5),
                                    n as i64,
                                ));
                                store
                                    .record_webhook(&delivery(format!("msg_race_{n}")), Some(change))
                                    .unwrap()
                            })
                            .collect()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let all: Vec<&RecordOutcome> = outcomes.iter().flatten().collect();
        let applied = all
            .iter()
            .filter(|o| matches!(o, RecordOutcome::Applied { .. }))
            .count();
        let duplicates = all
            .iter()
            .filter(|o| matches!(o, RecordOutcome::Duplicate { .. }))
            .count();
        assert_eq!((applied, duplicates), (EVENTS, EVENTS * (THREADS - 1)));
        assert_eq!(
            db.store.count_inbox(InboxStatus::Processed).unwrap(),
            EVENTS as u64
        );
        // Every duplicate points at the row that won.
        let mut winners: Vec<_> = all
            .iter()
            .filter(|o| matches!(o, RecordOutcome::Applied { .. }))
            .map(|o| o.inbox_id())
            .collect();
        winners.sort();
        winners.dedup();
        assert_eq!(winners.len(), EVENTS);
        assert!(all.iter().all(|o| winners.binary_search(&o.inbox_id()).is_ok()));
        // One effect per event: 10 audit rows and 10 version bumps on each of the 5 entitlements.
        for k in 0..5 {
            let ent = db
                .store
                .find_entitlement(Provider::Whop, &format!("mem_race_{k}"))
                .unwrap()
                .unwrap();
            assert_eq!(ent.version, 10);
            assert_eq!(db.store.list_audit(&ent.id, 100).unwrap().len(), 10);
        }
    });
}

fn history(external_id: &str) -> Vec<ProviderEvent> {
    let day = 86_400;
    vec![
        activated(external_id, 0),
        event(
            external_id,
            day,
            EventKind::Renewed {
                paid_through: t(60 * day),
                status: Some("active".to_owned()),
            },
        ),
        event(
            external_id,
            2 * day,
            EventKind::CancelScheduled {
                paid_through: Some(t(60 * day)),
            },
        ),
        event(
            external_id,
            3 * day,
            EventKind::Updated {
                status: "past_due".to_owned(),
                paid_through: None,
                cancel_at_period_end: None,
            },
        ),
        event(external_id, 4 * day, EventKind::CancelUnscheduled),
        event(
            external_id,
            5 * day,
            EventKind::Renewed {
                paid_through: t(90 * day),
                status: Some("active".to_owned()),
            },
        ),
        event(
            external_id,
            6 * day,
            EventKind::Deactivated {
                reason: Some("refund".to_owned()),
                status: Some("canceled".to_owned()),
                paid_through: None,
            },
        ),
    ]
}

#[test]
fn concurrent_out_of_order_events_end_in_time_order_state() {
    both(|db| {
        let events = history("mem_order");
        let mut expected = EntitlementState::new(Provider::Whop, "mem_order");
        for ev in &events {
            expected = tollgate_policy::apply(&expected, ev);
        }
        // Guard: the history really changes the state, so this cannot pass on an `apply` that does nothing.
        assert_ne!(expected, EntitlementState::new(Provider::Whop, "mem_order"));
        assert_eq!(expected.status.as_deref(), Some("canceled"));

        // Every thread delivers every event (under its own dedupe key per thread), newest first or shuffled.
        let barrier = Barrier::new(THREADS);
        std::thread::scope(|s| {
            for thread in 0..THREADS {
                let store = db.store.clone();
                let (barrier, events) = (&barrier, &events);
                s.spawn(move || {
                    barrier.wait();
                    let n = events.len();
                    for i in 0..n {
                        let idx = if thread % 2 == 0 {
                            n - 1 - i
                        } else {
                            (i * 3 + thread) % n
                        };
                        let change = EntitlementChange::new(events[idx].clone());
                        let dedupe = format!("msg_order_{thread}_{idx}");
                        store.record_webhook(&delivery(dedupe), Some(change)).unwrap();
                    }
                });
            }
        });
        let stored = db
            .store
            .find_entitlement(Provider::Whop, "mem_order")
            .unwrap()
            .unwrap();
        assert_eq!(stored.state, expected);
        assert_eq!(stored.version, (THREADS * events.len()) as i64);
        // And a reconciliation that replays the oldest event changes nothing.
        let again = db
            .store
            .apply_change(
                Actor::Reconcile,
                &EntitlementChange::new(events[0].clone()),
                "replay",
            )
            .unwrap();
        assert_eq!(again.state, expected);
    });
}
