//! What the Aghanim work needs of the fold: a delivery that folds several changes (an `item.add` of several items),
//! an ignored row with a note (a sandbox event), and the `{event_type}:{idempotency_key}` migration for rows stored
//! under the bare key.

use tollgate_policy::{EventKind, Lifecycle, Provider, ProviderEvent};
use tollgate_store::{
    EntitlementChange, InboxEffect, InboxFilter, InboxStatus, NewInboxEvent, RecordOutcome,
};

use super::fixtures::{activated, both, t};
use crate::common::folding::Folding as _;

const MIGRATION: &str = "2026-12-05-000002_aghanim_dedupe_scope";

fn aghanim_delivery(event_type: &str, dedupe: &str, semantic: Option<&str>) -> NewInboxEvent {
    NewInboxEvent {
        provider: Provider::Aghanim,
        dedupe_key: dedupe.to_owned(),
        semantic_key: semantic.map(str::to_owned),
        event_type: event_type.to_owned(),
        body: format!("{{\"event_type\":\"{event_type}\",\"k\":\"{dedupe}\"}}").into_bytes(),
        received_at: t(5),
        webhook_id: None,
        signed_at: None,
    }
}

fn item(player: &str, sku: &str, at: i64, kind: EventKind) -> EntitlementChange {
    EntitlementChange::new(ProviderEvent {
        provider: Provider::Aghanim,
        external_id: format!("{player}:{sku}"),
        occurred_at: t(at),
        subject: Some(player.to_owned()),
        product: Some(sku.to_owned()),
        kind,
    })
}

fn granted() -> EventKind {
    EventKind::Activated {
        status: None,
        paid_through: None,
        cancel_at_period_end: None,
        features: Vec::new(),
    }
}

#[test]
fn one_delivery_folds_each_of_its_changes_and_names_the_first() {
    both(|db| {
        let changes = vec![
            item("P1", "pro_unlock", 0, granted()),
            item("P1", "dlc_1", 0, granted()),
        ];
        let add = aghanim_delivery("item.add", "item.add:k1", Some("item.add:k1"));
        let outcome = db
            .store
            .record_webhook(&add, InboxEffect::ApplyAll(changes.clone()))
            .unwrap();
        let RecordOutcome::Applied {
            inbox_id,
            entitlement,
        } = outcome
        else {
            panic!("expected Applied, got {outcome:?}");
        };
        assert_eq!(entitlement.state.external_id, "P1:pro_unlock");
        let held = db
            .store
            .list_entitlements_by_subject(Provider::Aghanim, "P1")
            .unwrap();
        let mut states: Vec<(&str, Lifecycle)> = held
            .iter()
            .map(|e| (e.state.external_id.as_str(), e.state.lifecycle))
            .collect();
        states.sort();
        assert_eq!(
            states,
            [
                ("P1:dlc_1", Lifecycle::Active),
                ("P1:pro_unlock", Lifecycle::Active)
            ]
        );
        let row = db.store.find_inbox_event(inbox_id).unwrap().unwrap();
        assert_eq!(row.status, InboxStatus::Processed);
        assert_eq!(row.entitlement_id, Some(entitlement.id.clone()));
        for held in &held {
            let audit = db.store.list_audit(&held.id, 10).unwrap();
            assert_eq!(audit.len(), 1, "{}", held.state.external_id);
            assert_eq!(audit[0].inbox_id, Some(inbox_id));
        }
        assert_eq!(
            db.store
                .record_webhook(&add, InboxEffect::ApplyAll(changes.clone()))
                .unwrap(),
            RecordOutcome::Duplicate { inbox_id }
        );

        // In a batch beside another delivery: each change folded, the first named.
        let removed = EventKind::Revoked {
            reason: Some("item_removed".to_owned()),
        };
        let batch = vec![
            (
                aghanim_delivery("item.remove", "item.remove:k2", Some("item.remove:k2")),
                InboxEffect::ApplyAll(vec![
                    item("P1", "dlc_1", 10, removed.clone()),
                    item("P1", "pro_unlock", 10, removed),
                ]),
            ),
            (
                aghanim_delivery("item.add", "item.add:k3", Some("item.add:k3")),
                InboxEffect::ApplyAll(vec![item("P2", "pro_unlock", 10, granted())]),
            ),
        ];
        let outcomes = db.store.record_webhooks(&batch);
        let Ok(RecordOutcome::Applied { entitlement, .. }) = &outcomes[0] else {
            panic!("expected Applied, got {:?}", outcomes[0]);
        };
        assert_eq!(entitlement.state.external_id, "P1:dlc_1");
        assert!(
            matches!(&outcomes[1], Ok(RecordOutcome::Applied { entitlement, .. })
            if entitlement.state.external_id == "P2:pro_unlock")
        );
        for sku in ["pro_unlock", "dlc_1"] {
            let stored = db
                .store
                .find_entitlement(Provider::Aghanim, &format!("P1:{sku}"))
                .unwrap()
                .unwrap();
            assert_eq!(stored.state.lifecycle, Lifecycle::Revoked, "{sku}");
            assert_eq!(stored.state.end_reason.as_deref(), Some("item_removed"), "{sku}");
        }

        // A replay folds them all again in one transaction (no change: same events).
        let replayed = db.store.apply_inbox_changes(inbox_id, &changes).unwrap();
        assert_eq!(
            replayed
                .iter()
                .map(|e| e.state.external_id.as_str())
                .collect::<Vec<_>>(),
            ["P1:pro_unlock", "P1:dlc_1"]
        );
        assert_eq!(
            replayed[0].state.lifecycle,
            Lifecycle::Revoked,
            "the newer removal stands"
        );
        let row = db.store.find_inbox_event(inbox_id).unwrap().unwrap();
        assert_eq!((row.status, row.attempts), (InboxStatus::Processed, 2));
    });
}

#[test]
fn an_ignored_row_can_carry_a_note() {
    both(|db| {
        let sandbox = aghanim_delivery("subscription.activated", "subscription.activated:s1", None);
        let outcome = db
            .store
            .record_webhook(&sandbox, InboxEffect::IgnoreNoted("sandbox event".to_owned()))
            .unwrap();
        let RecordOutcome::Stored { inbox_id, status } = outcome else {
            panic!("expected Stored, got {outcome:?}");
        };
        assert_eq!(status, InboxStatus::Ignored);
        let row = db.store.find_inbox_event(inbox_id).unwrap().unwrap();
        assert_eq!(row.last_error.as_deref(), Some("sandbox event"));
        assert_eq!(row.entitlement_id, None);
        db.store
            .mark_inbox_ignored_noted(inbox_id, "still sandbox")
            .unwrap();
        let row = db.store.find_inbox_event(inbox_id).unwrap().unwrap();
        assert_eq!(
            (row.status, row.attempts, row.last_error.as_deref()),
            (InboxStatus::Ignored, 2, Some("still sandbox"))
        );
        // An empty ApplyAll applies nothing: an ignored row.
        let empty = aghanim_delivery("item.add", "item.add:none", None);
        assert!(matches!(
            db.store
                .record_webhook(&empty, InboxEffect::ApplyAll(Vec::new()))
                .unwrap(),
            RecordOutcome::Stored {
                status: InboxStatus::Ignored,
                ..
            }
        ));
    });
}

#[test]
fn rows_stored_under_the_bare_idempotency_key_stay_duplicates_after_the_migration() {
    both(|db| {
        // As the release before this one stored them: the bare key (or the event id), no semantic key.
        let old = db
            .store
            .record_webhook(
                &aghanim_delivery("subscription.activated", "idmpt_1", None),
                InboxEffect::Ignore,
            )
            .unwrap()
            .inbox_id();
        let by_event_id = db
            .store
            .record_webhook(
                &aghanim_delivery("subscription.renewed", "whevt_2", None),
                InboxEffect::Ignore,
            )
            .unwrap()
            .inbox_id();
        let unparsed = db
            .store
            .record_webhook(
                &aghanim_delivery("unknown", "unparsed:abc", None),
                InboxEffect::Fail("bad".to_owned()),
            )
            .unwrap()
            .inbox_id();
        let whop = NewInboxEvent {
            provider: Provider::Whop,
            ..aghanim_delivery("membership.activated", "msg_1", None)
        };
        db.store.record_webhook(&whop, InboxEffect::Ignore).unwrap();
        db.rerun_migration(MIGRATION);
        let semantic = |id| db.store.find_inbox_event(id).unwrap().unwrap().semantic_key;
        assert_eq!(semantic(old).as_deref(), Some("subscription.activated:idmpt_1"));
        assert_eq!(
            semantic(by_event_id).as_deref(),
            Some("subscription.renewed:whevt_2")
        );
        assert_eq!(semantic(unparsed), None);
        let rows = db.store.list_inbox(&InboxFilter::default()).unwrap();
        assert_eq!(
            rows.iter()
                .find(|r| r.provider == Provider::Whop)
                .unwrap()
                .semantic_key,
            None
        );
        // The bodies still open: their dedupe key, bound into the encryption, did not change.
        assert!(
            db.store
                .find_inbox_event(old)
                .unwrap()
                .unwrap()
                .body
                .starts_with(b"{")
        );

        // A redelivery of the old event, keyed as this release keys it: a duplicate of the old row.
        let redelivered = aghanim_delivery(
            "subscription.activated",
            "subscription.activated:idmpt_1",
            Some("subscription.activated:idmpt_1"),
        );
        let change = EntitlementChange::new(ProviderEvent {
            provider: Provider::Aghanim,
            ..activated("sub_1", 1)
        });
        assert_eq!(
            db.store
                .record_webhook(&redelivered, InboxEffect::Apply(change.clone()))
                .unwrap(),
            RecordOutcome::Duplicate { inbox_id: old }
        );
        // The same through a batch.
        let outcomes = db.store.record_webhooks(&[
            (redelivered.clone(), InboxEffect::Apply(change.clone())),
            (
                aghanim_delivery("subscription.renewed", "whevt_2", None),
                InboxEffect::Ignore,
            ),
        ]);
        assert_eq!(
            outcomes,
            vec![
                Ok(RecordOutcome::Duplicate { inbox_id: old }),
                Ok(RecordOutcome::Duplicate {
                    inbox_id: by_event_id
                }),
            ]
        );
        // Another event type with the same key is another event: stored and applied.
        let deactivated = aghanim_delivery(
            "subscription.deactivated",
            "subscription.deactivated:idmpt_1",
            Some("subscription.deactivated:idmpt_1"),
        );
        assert!(matches!(
            db.store
                .record_webhook(&deactivated, InboxEffect::Apply(change))
                .unwrap(),
            RecordOutcome::Applied { .. }
        ));
        assert!(
            db.store
                .find_entitlement(Provider::Aghanim, "sub_1")
                .unwrap()
                .is_some()
        );
    });
}
