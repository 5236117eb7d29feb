//! The group committer on both backends: many concurrent deliveries with resends, each answered once its batch has
//! committed, stored exactly once, and leaving the states a sorted one-by-one delivery leaves.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions fail the test on any setup error"
)]

use crate::common::backends;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use tollgate_policy::{EntitlementState, Provider};
use tollgate_providers::whop::sample::WhopMembership;
use tollgate_service::clock::ManualClock;
use tollgate_service::ingest::{
    CommitSettings, Committer, Ingest, IngestOutcome, ProviderSecrets, WebhookSecrets,
};
use tollgate_store::test_support::{Backend, TestDb};
use tollgate_store::{InboxFilter, Store};
use tollgate_testkit::{SignedWebhook, WebhookBuilder, WebhookFormat};
use tollgate_verify::Tolerance;

use backends::{MAX_CONNECTIONS, both};

const WHOP: &str = "ws_service_commit_secret";
const MEMBERSHIPS: usize = 50;
const EVENTS_PER_MEMBERSHIP: usize = 4;
const SENDS: usize = 500;
const TASKS: usize = 32;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 10, 0, 0, 0).unwrap()
}

fn ingest_over(store: &Store) -> Ingest {
    let secrets = WebhookSecrets::default().with(
        Provider::Whop,
        ProviderSecrets {
            secrets: vec![WHOP.to_owned()],
            tolerance: Tolerance::Seconds(300),
        },
    );
    Ingest::new(store.clone(), &secrets, Arc::new(ManualClock::new(now()))).unwrap()
}

/// One distinct delivery and its provider time.
struct Delivery {
    at: DateTime<Utc>,
    hook: SignedWebhook,
}

/// Four events per membership at four provider times, in an order that varies with the membership: activation,
/// a cancellation scheduled, a renewal, an end.
fn deliveries() -> Vec<Delivery> {
    let base = Utc.with_ymd_and_hms(2026, 9, 1, 0, 0, 0).unwrap();
    let mut all = Vec::new();
    for m in 0..MEMBERSHIPS {
        let membership = format!("mem_commit_{m}");
        for k in 0..EVENTS_PER_MEMBERSHIP {
            let slot = (k + m) % EVENTS_PER_MEMBERSHIP;
            let at = base + TimeDelta::minutes(i64::try_from(m * 10 + slot).unwrap());
            let (event_type, status, cancel) = match k {
                0 => ("membership.activated", "active", false),
                1 => ("membership.cancel_at_period_end_changed", "active", true),
                2 => ("membership.activated", "active", false),
                _ => ("membership.deactivated", "canceled", true),
            };
            let webhook_id = format!("msg_commit_{m}_{k}");
            let body = WhopMembership {
                webhook_id: &webhook_id,
                event_type,
                membership_id: &membership,
                user_id: &format!("user_{m}"),
                member_id: &format!("mber_{m}"),
                license_key: &format!("LIC-COMMIT-{m:04}"),
                status,
                cancel_at_period_end: cancel,
                canceled_at: (k == 3).then_some(at),
                cancellation_reason: None,
                start: base,
                period_end: base + TimeDelta::days(30 + i64::try_from(k).unwrap()),
                at,
            }
            .body();
            let hook = WebhookBuilder::new(WebhookFormat::WhopCurrent, WHOP, body.to_string().into_bytes())
                .id(webhook_id)
                .timestamp(now().timestamp())
                .sign();
            all.push(Delivery { at, hook });
        }
    }
    all
}

fn states(store: &Store) -> BTreeMap<String, EntitlementState> {
    (0..MEMBERSHIPS)
        .map(|m| {
            let id = format!("mem_commit_{m}");
            let state = store
                .find_entitlement(Provider::Whop, &id)
                .unwrap()
                .unwrap()
                .state;
            (id, state)
        })
        .collect()
}

fn fresh_like(db: &TestDb) -> TestDb {
    match db.backend {
        Backend::Sqlite => TestDb::sqlite(MAX_CONNECTIONS),
        Backend::Postgres => TestDb::postgres(MAX_CONNECTIONS).unwrap(),
    }
}

fn writers(db: &TestDb) -> usize {
    match db.backend {
        Backend::Sqlite => 1,
        Backend::Postgres => 4,
    }
}

#[test]
fn concurrent_deliveries_with_resends_are_each_answered_and_stored_once() {
    both(|db| async move {
        let ingest = ingest_over(&db.store);
        let committer = Arc::new(
            Committer::start(
                db.store.clone(),
                CommitSettings {
                    batch: 64,
                    writers: writers(&db),
                    queue: SENDS,
                },
            )
            .unwrap(),
        );
        let distinct = Arc::new(deliveries());
        // Every delivery at least twice, some three times; task t sends every TASKS-th send.
        let mut tasks = Vec::new();
        for t in 0..TASKS {
            let (ingest, committer, distinct) = (ingest.clone(), committer.clone(), distinct.clone());
            tasks.push(tokio::spawn(async move {
                let mut answers = Vec::new();
                for send in (t..SENDS).step_by(TASKS) {
                    let hook = &distinct[send % distinct.len()].hook;
                    let prepared = ingest
                        .prepare(Provider::Whop, &hook.header_pairs(), &hook.body)
                        .unwrap();
                    answers.push(committer.submit(prepared).await);
                }
                answers
            }));
        }
        let mut answers = Vec::new();
        for task in tasks {
            answers.extend(task.await.unwrap());
        }
        assert_eq!(answers.len(), SENDS);
        let outcomes: Vec<IngestOutcome> = answers.into_iter().map(Result::unwrap).collect();
        let applied = outcomes
            .iter()
            .filter(|o| matches!(o, IngestOutcome::Applied { .. }))
            .count();
        let duplicates = outcomes
            .iter()
            .filter(|o| matches!(o, IngestOutcome::Duplicate { .. }))
            .count();
        assert_eq!((applied, duplicates), (distinct.len(), SENDS - distinct.len()));
        let filter = InboxFilter {
            limit: 1000,
            ..InboxFilter::default()
        };
        assert_eq!(db.store.list_inbox(&filter).unwrap().len(), distinct.len());
        assert_eq!((committer.queued(), committer.committing()), (0, 0));

        // The same deliveries, once each in provider-time order, one transaction each: the same states.
        let reference = fresh_like(&db);
        let one_by_one = ingest_over(&reference.store);
        let mut sorted: Vec<&Delivery> = distinct.iter().collect();
        sorted.sort_by_key(|d| d.at);
        for d in sorted {
            one_by_one
                .ingest(Provider::Whop, &d.hook.header_pairs(), &d.hook.body)
                .unwrap();
        }
        let got = states(&db.store);
        assert_eq!(got, states(&reference.store));
        // The order of times varies, so the states do too (not all the same by accident).
        assert!(got.values().any(|s| s.cancel_at_period_end));
        assert!(got.values().any(|s| !s.cancel_at_period_end));
    });
}

#[test]
fn a_dropped_committer_answers_what_it_had_queued_and_refuses_nothing_silently() {
    both(|db| async move {
        let ingest = ingest_over(&db.store);
        let committer = Committer::start(
            db.store.clone(),
            CommitSettings {
                batch: 8,
                writers: 1,
                queue: 64,
            },
        )
        .unwrap();
        let distinct = deliveries();
        let pending: Vec<_> = distinct[..20]
            .iter()
            .map(|d| {
                let prepared = ingest
                    .prepare(Provider::Whop, &d.hook.header_pairs(), &d.hook.body)
                    .unwrap();
                committer.submit(prepared)
            })
            .collect();
        drop(committer);
        for answer in pending {
            assert!(matches!(answer.await, Ok(IngestOutcome::Applied { .. })));
        }
        let filter = InboxFilter {
            limit: 100,
            ..InboxFilter::default()
        };
        assert_eq!(db.store.list_inbox(&filter).unwrap().len(), 20);
    });
}
