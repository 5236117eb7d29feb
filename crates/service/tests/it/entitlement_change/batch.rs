//! Group commit: `record_webhooks` stores a batch in one transaction with exactly the results (and the states)
//! that storing each delivery alone would give, and one bad delivery never fails its neighbours.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a store error or an unexpected outcome fails the test"
)]

use diesel::connection::SimpleConnection as _;
use diesel::{Connection as _, PgConnection, SqliteConnection};
use tollgate_policy::{EntitlementState, EventKind, Lifecycle, Provider};
use tollgate_store::{
    EntitlementChange, InboxEffect, InboxFilter, InboxId, InboxStatus, NewInboxEvent, RecordOutcome,
    StoreError,
};

use super::fixtures::{Backend, TestDb, activated, both, event, postgres_db, sqlite_db, t};
use crate::common::folding::Folding as _;

pub(crate) fn delivery(dedupe: &str, semantic: Option<&str>) -> NewInboxEvent {
    NewInboxEvent {
        provider: Provider::Whop,
        dedupe_key: dedupe.to_owned(),
        semantic_key: semantic.map(str::to_owned),
        event_type: "membership.activated".to_owned(),
        body: format!("{{\"id\":\"{dedupe}\"}}").into_bytes(),
        received_at: t(5),
        webhook_id: None,
        signed_at: None,
    }
}

pub(crate) fn apply(ev: tollgate_policy::ProviderEvent) -> InboxEffect {
    InboxEffect::Apply(EntitlementChange::new(ev))
}

pub(crate) fn cancel_scheduled(external_id: &str, at_secs: i64) -> InboxEffect {
    apply(event(
        external_id,
        at_secs,
        EventKind::CancelScheduled {
            paid_through: Some(t(at_secs + 86_400)),
        },
    ))
}

/// Another fresh database on the same backend.
fn fresh_like(db: &TestDb) -> TestDb {
    match db.backend {
        Backend::Sqlite => sqlite_db(),
        Backend::Postgres => postgres_db().unwrap(),
    }
}

/// An outcome with its inbox ids replaced by the input index of the delivery that stored the row.
#[derive(Debug, PartialEq)]
#[expect(clippy::large_enum_variant, reason = "a handful of values compared in a test")]
enum Shape {
    Applied { row_of: usize, state: EntitlementState },
    Stored { row_of: usize, status: InboxStatus },
    Duplicate { of: usize },
}

fn shapes(outcomes: &[RecordOutcome]) -> Vec<Shape> {
    let index_of = |id: InboxId| outcomes.iter().position(|o| o.inbox_id() == id).unwrap();
    outcomes
        .iter()
        .map(|outcome| match outcome {
            RecordOutcome::Applied {
                inbox_id,
                entitlement,
            } => Shape::Applied {
                row_of: index_of(*inbox_id),
                state: entitlement.state.clone(),
            },
            RecordOutcome::Stored { inbox_id, status } => Shape::Stored {
                row_of: index_of(*inbox_id),
                status: *status,
            },
            RecordOutcome::Duplicate { inbox_id } => Shape::Duplicate {
                of: index_of(*inbox_id),
            },
            other => panic!("unexpected outcome {other:?}"),
        })
        .collect()
}

pub(crate) fn state_of(db: &TestDb, external_id: &str) -> EntitlementState {
    db.store
        .find_entitlement(Provider::Whop, external_id)
        .unwrap()
        .unwrap()
        .state
}

#[test]
fn a_batch_gives_the_results_and_states_of_its_deliveries_one_by_one() {
    both(|db| {
        let batch = vec![
            (delivery("d0", None), apply(activated("mem_a", 0))),
            (delivery("d1", None), InboxEffect::Ignore),
            (
                delivery("d2", None),
                InboxEffect::Fail("missing field `data`".to_owned()),
            ),
            (delivery("d3", None), cancel_scheduled("mem_a", 60)),
            // The same dedupe key as the first delivery (a provider's resend).
            (delivery("d0", None), apply(activated("mem_a", 0))),
            (delivery("d5", Some("grant_1:delivered")), InboxEffect::Ignore),
            // The same semantic key under a new dedupe key.
            (delivery("d6", Some("grant_1:delivered")), InboxEffect::Ignore),
            (delivery("d7", None), apply(activated("mem_b", 30))),
        ];
        let results = db.store.record_webhooks(&batch);
        let outcomes: Vec<RecordOutcome> = results.into_iter().map(Result::unwrap).collect();
        let a = state_of(db, "mem_a");
        let b = state_of(db, "mem_b");
        let RecordOutcome::Applied { entitlement, .. } = &outcomes[0] else {
            panic!("expected Applied, got {:?}", outcomes[0]);
        };
        let first = entitlement.state.clone();
        assert_eq!(
            (first.lifecycle, first.cancel_at_period_end),
            (Lifecycle::Active, false)
        );
        assert_eq!(
            shapes(&outcomes),
            vec![
                Shape::Applied {
                    row_of: 0,
                    state: first.clone()
                },
                Shape::Stored {
                    row_of: 1,
                    status: InboxStatus::Ignored
                },
                Shape::Stored {
                    row_of: 2,
                    status: InboxStatus::Failed
                },
                Shape::Applied {
                    row_of: 3,
                    state: a.clone()
                },
                Shape::Duplicate { of: 0 },
                Shape::Stored {
                    row_of: 5,
                    status: InboxStatus::Ignored
                },
                Shape::Duplicate { of: 5 },
                Shape::Applied {
                    row_of: 7,
                    state: b.clone()
                },
            ]
        );
        assert!(a.cancel_at_period_end);
        assert_eq!(a.lifecycle, Lifecycle::Active);
        assert_eq!(db.store.list_inbox(&InboxFilter::default()).unwrap().len(), 6);
        assert_eq!(db.store.count_inbox(InboxStatus::Processed).unwrap(), 3);
        assert_eq!(db.store.count_inbox(InboxStatus::Ignored).unwrap(), 2);
        assert_eq!(db.store.count_inbox(InboxStatus::Failed).unwrap(), 1);
        let failed = db
            .store
            .find_inbox_event(outcomes[2].inbox_id())
            .unwrap()
            .unwrap();
        assert_eq!(
            (failed.attempts, failed.last_error.as_deref()),
            (1, Some("missing field `data`"))
        );
        let processed = db
            .store
            .find_inbox_event(outcomes[3].inbox_id())
            .unwrap()
            .unwrap();
        let RecordOutcome::Applied { entitlement, .. } = &outcomes[3] else {
            unreachable!()
        };
        assert_eq!(
            (
                processed.status,
                processed.attempts,
                processed.entitlement_id.as_ref()
            ),
            (InboxStatus::Processed, 1, Some(&entitlement.id))
        );
        assert_eq!(entitlement.version, 2);
        // The validation cache sees every applied change (ids may share a counter slot, hence at least).
        assert!(db.store.entitlement_version(&entitlement.id) >= 2);

        // The same deliveries stored one at a time on a fresh database: the same results and states.
        let reference = fresh_like(db);
        let one_by_one: Vec<RecordOutcome> = batch
            .iter()
            .map(|(event, effect)| reference.store.record_webhook(event, effect.clone()).unwrap())
            .collect();
        assert_eq!(shapes(&one_by_one), shapes(&outcomes));
        assert_eq!(state_of(&reference, "mem_a"), a);
        assert_eq!(state_of(&reference, "mem_b"), b);
    });
}

/// Make the stored entitlement of `external_id` unreadable, as a bad manual edit would.
fn corrupt(db: &TestDb, external_id: &str) {
    let sql = format!("UPDATE entitlements SET features = 'not a list' WHERE external_id = '{external_id}'");
    match db.backend {
        Backend::Sqlite => SqliteConnection::establish(db.sqlite_path().to_str().unwrap())
            .unwrap()
            .batch_execute(&sql)
            .unwrap(),
        Backend::Postgres => PgConnection::establish(&db.pg_url())
            .unwrap()
            .batch_execute(&sql)
            .unwrap(),
    }
}

#[test]
fn one_delivery_that_fails_does_not_fail_its_neighbours() {
    both(|db| {
        db.store
            .record_webhook(&delivery("setup", None), apply(activated("mem_bad", 0)))
            .unwrap();
        corrupt(db, "mem_bad");
        let batch = vec![
            (delivery("e1", None), apply(activated("mem_ok1", 0))),
            (delivery("e2", None), cancel_scheduled("mem_bad", 60)),
            (delivery("e3", None), InboxEffect::Ignore),
            (delivery("e4", None), apply(activated("mem_ok2", 0))),
        ];
        let results = db.store.record_webhooks(&batch);
        assert_eq!(results.len(), 4);
        assert_eq!(
            results[1],
            Err(StoreError::CorruptRow {
                entity: "entitlement",
                reason: "features are not a JSON list: expected ident at line 1 column 2".to_owned()
            })
        );
        let applied = |i: usize| match &results[i] {
            Ok(RecordOutcome::Applied { entitlement, .. }) => entitlement.clone(),
            other => panic!("delivery {i}: {other:?}"),
        };
        let (ok1, ok2) = (applied(0), applied(3));
        assert_eq!(ok1.state.external_id, "mem_ok1");
        assert_eq!(ok2.state.external_id, "mem_ok2");
        assert!(matches!(
            results[2],
            Ok(RecordOutcome::Stored {
                status: InboxStatus::Ignored,
                ..
            })
        ));
        assert_eq!(state_of(db, "mem_ok1").lifecycle, Lifecycle::Active);
        assert_eq!(state_of(db, "mem_ok2").lifecycle, Lifecycle::Active);
        assert!(db.store.entitlement_version(&ok1.id) >= 1);
        assert!(db.store.entitlement_version(&ok2.id) >= 1);
        // The failed delivery left nothing behind: the setup row and the three good ones.
        let keys: Vec<String> = db
            .store
            .list_inbox(&InboxFilter::default())
            .unwrap()
            .into_iter()
            .map(|e| e.dedupe_key)
            .collect();
        assert_eq!(keys, vec!["setup", "e1", "e3", "e4"]);
        // Nothing of the rolled-back batch is left either: each stored row was written once.
        assert_eq!(db.store.count_inbox(InboxStatus::Processed).unwrap(), 3);
        assert_eq!(db.store.list_audit(&ok1.id, 10).unwrap().len(), 1);
    });
}

#[test]
fn an_empty_batch_writes_nothing() {
    both(|db| {
        assert_eq!(db.store.record_webhooks(&[]), Vec::new());
        assert_eq!(db.store.list_inbox(&InboxFilter::default()).unwrap(), vec![]);
    });
}

fn delivery_at(provider: Provider, dedupe: &str, semantic: Option<&str>) -> NewInboxEvent {
    NewInboxEvent {
        provider,
        ..delivery(dedupe, semantic)
    }
}

fn activated_at(provider: Provider, external_id: &str, at_secs: i64) -> InboxEffect {
    apply(tollgate_policy::ProviderEvent {
        provider,
        ..activated(external_id, at_secs)
    })
}

#[test]
fn rows_of_one_batch_that_share_a_dedupe_or_semantic_key_are_stored_once() {
    both(|db| {
        let batch = vec![
            (delivery("k2", None), apply(activated("mem_a", 0))),
            // The same dedupe key as the first, later in the batch: skipped by the multi-row insert.
            (delivery("k2", None), cancel_scheduled("mem_a", 60)),
            // One semantic key under two dedupe keys: the smaller dedupe key is stored, whatever the input order.
            (
                delivery("k9", Some("grant_1:delivered")),
                apply(activated("mem_b", 0)),
            ),
            (delivery("k1", Some("grant_1:delivered")), InboxEffect::Ignore),
            (delivery("k5", None), InboxEffect::Fail("bad".to_owned())),
        ];
        let outcomes: Vec<RecordOutcome> = db
            .store
            .record_webhooks(&batch)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let a = state_of(db, "mem_a");
        assert_eq!(
            outcomes[2],
            RecordOutcome::Duplicate {
                inbox_id: outcomes[3].inbox_id()
            }
        );
        let mut others = outcomes.clone();
        others.remove(2);
        assert_eq!(
            shapes(&others),
            vec![
                Shape::Applied {
                    row_of: 0,
                    state: a.clone()
                },
                Shape::Duplicate { of: 0 },
                Shape::Stored {
                    row_of: 2,
                    status: InboxStatus::Ignored
                },
                Shape::Stored {
                    row_of: 3,
                    status: InboxStatus::Failed
                },
            ]
        );
        assert!(!a.cancel_at_period_end);
        // The duplicate's entitlement was never created, as storing the deliveries one by one would not.
        assert_eq!(db.store.find_entitlement(Provider::Whop, "mem_b").unwrap(), None);
        let stored: Vec<(String, InboxStatus)> = db
            .store
            .list_inbox(&InboxFilter::default())
            .unwrap()
            .into_iter()
            .map(|e| (e.dedupe_key, e.status))
            .collect();
        assert_eq!(
            stored,
            vec![
                ("k1".to_owned(), InboxStatus::Ignored),
                ("k2".to_owned(), InboxStatus::Processed),
                ("k5".to_owned(), InboxStatus::Failed),
            ]
        );
        // A second batch of the same deliveries: every one is a duplicate of the stored rows.
        let again: Vec<RecordOutcome> = db
            .store
            .record_webhooks(&batch)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let first_ids = |i: usize| outcomes[i].inbox_id();
        assert_eq!(
            again,
            vec![
                RecordOutcome::Duplicate {
                    inbox_id: first_ids(0)
                },
                RecordOutcome::Duplicate {
                    inbox_id: first_ids(0)
                },
                RecordOutcome::Duplicate {
                    inbox_id: first_ids(3)
                },
                RecordOutcome::Duplicate {
                    inbox_id: first_ids(3)
                },
                RecordOutcome::Duplicate {
                    inbox_id: first_ids(4)
                },
            ]
        );
        assert_eq!(db.store.list_inbox(&InboxFilter::default()).unwrap().len(), 3);
    });
}

#[test]
fn two_deliveries_for_one_entitlement_in_a_batch_bump_its_version_twice_with_two_audit_rows() {
    both(|db| {
        let batch = vec![
            (delivery("x2", None), cancel_scheduled("mem_a", 60)),
            (delivery("x1", None), apply(activated("mem_a", 0))),
        ];
        let outcomes: Vec<RecordOutcome> = db
            .store
            .record_webhooks(&batch)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let versions: Vec<(i64, bool)> = outcomes
            .iter()
            .map(|outcome| match outcome {
                RecordOutcome::Applied { entitlement, .. } => {
                    (entitlement.version, entitlement.state.cancel_at_period_end)
                }
                other => panic!("expected Applied, got {other:?}"),
            })
            .collect();
        // Folded in row order (x1, then x2): x2's outcome is the entitlement after both.
        assert_eq!(versions, vec![(2, true), (1, false)]);
        let stored = db
            .store
            .find_entitlement(Provider::Whop, "mem_a")
            .unwrap()
            .unwrap();
        assert_eq!(stored.version, 2);
        let audit: Vec<(String, Option<InboxId>)> = db
            .store
            .list_audit(&stored.id, 10)
            .unwrap()
            .into_iter()
            .map(|entry| (entry.action, entry.inbox_id))
            .collect();
        assert_eq!(
            audit,
            vec![
                ("event.cancel_scheduled".to_owned(), Some(outcomes[0].inbox_id())),
                ("event.activated".to_owned(), Some(outcomes[1].inbox_id())),
            ]
        );
        for outcome in &outcomes {
            let row = db.store.find_inbox_event(outcome.inbox_id()).unwrap().unwrap();
            assert_eq!(
                (row.status, row.attempts, row.entitlement_id.as_ref()),
                (InboxStatus::Processed, 1, Some(&stored.id))
            );
        }
    });
}

/// The ids of the Whop entitlements of one customer, through the `(provider, subject)` index.
fn ids_of_subject(db: &TestDb, subject: &str) -> Vec<String> {
    db.store
        .list_entitlements_by_subject(Provider::Whop, subject)
        .unwrap()
        .into_iter()
        .map(|e| e.state.external_id)
        .collect()
}

/// On SQLite an existing entitlement whose subject and license key do not change is saved by an upsert that leaves
/// those indexed columns alone; one whose subject changes, in the same batch, by the upsert that sets them.
#[test]
fn a_batch_saves_a_changed_subject_and_keeps_an_unchanged_one() {
    both(|db| {
        let first = vec![
            (delivery("a1", None), apply(activated("mem_a", 0))),
            (delivery("b1", None), apply(activated("mem_b", 0))),
        ];
        assert!(db.store.record_webhooks(&first).iter().all(Result::is_ok));
        let mut moved = activated("mem_b", 60);
        moved.subject = Some("user_2".to_owned());
        let second = vec![
            (delivery("a2", None), cancel_scheduled("mem_a", 60)),
            (delivery("b2", None), apply(moved)),
        ];
        assert!(db.store.record_webhooks(&second).iter().all(Result::is_ok));
        assert_eq!(ids_of_subject(db, "user_1"), vec!["mem_a".to_owned()]);
        assert_eq!(ids_of_subject(db, "user_2"), vec!["mem_b".to_owned()]);
        let a = state_of(db, "mem_a");
        assert!(a.cancel_at_period_end);
        assert_eq!(a.subject.as_deref(), Some("user_1"));
        assert_eq!(state_of(db, "mem_b").subject.as_deref(), Some("user_2"));
    });
}

#[test]
fn a_batch_mixes_new_and_existing_entitlements_of_every_provider() {
    both(|db| {
        let providers = [Provider::Whop, Provider::Dodo, Provider::Aghanim];
        for provider in providers {
            db.store
                .record_webhook(
                    &delivery_at(provider, "old", None),
                    activated_at(provider, "ent_old", 0),
                )
                .unwrap();
        }
        let mut batch = Vec::new();
        for provider in providers {
            batch.push((
                delivery_at(provider, "new", None),
                activated_at(provider, "ent_new", 10),
            ));
            batch.push((
                delivery_at(provider, "renew", None),
                activated_at(provider, "ent_old", 20),
            ));
            // Already stored under this provider: a duplicate.
            batch.push((
                delivery_at(provider, "old", None),
                activated_at(provider, "ent_old", 0),
            ));
        }
        let outcomes: Vec<RecordOutcome> = db
            .store
            .record_webhooks(&batch)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let reference = fresh_like(db);
        for provider in providers {
            reference
                .store
                .record_webhook(
                    &delivery_at(provider, "old", None),
                    activated_at(provider, "ent_old", 0),
                )
                .unwrap();
        }
        let one_by_one: Vec<RecordOutcome> = batch
            .iter()
            .map(|(event, effect)| reference.store.record_webhook(event, effect.clone()).unwrap())
            .collect();
        assert_eq!(shapes(&outcomes), shapes(&one_by_one));
        for provider in providers {
            for external_id in ["ent_new", "ent_old"] {
                let got = db.store.find_entitlement(provider, external_id).unwrap().unwrap();
                let want = reference
                    .store
                    .find_entitlement(provider, external_id)
                    .unwrap()
                    .unwrap();
                assert_eq!(
                    (got.state, got.version),
                    (want.state, want.version),
                    "{provider:?} {external_id}"
                );
                assert_eq!(
                    db.store.list_audit(&got.id, 10).unwrap().len(),
                    usize::try_from(want.version).unwrap()
                );
            }
        }
        assert!(matches!(outcomes[2], RecordOutcome::Duplicate { .. }));
    });
}
