use tollgate_policy::{EventKind, Lifecycle, Provider};
use tollgate_store::{
    Actor, EntitlementChange, InboxEffect, InboxFilter, InboxId, InboxStatus, NewInboxEvent, RecordOutcome,
};

use super::fixtures::{activated, both, event, t};
use crate::common::folding::Folding as _;

fn delivery(dedupe: &str, semantic: Option<&str>) -> NewInboxEvent {
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

#[test]
fn a_delivery_is_applied_once_and_duplicates_have_no_effect() {
    both(|db| {
        let change = EntitlementChange {
            license_key: Some("LIC-AAAA-BBBB-CCCC".to_owned()),
            extras: Some(serde_json::json!({"integration": "whop"})),
            ..EntitlementChange::new(activated("mem_1", 0))
        };
        let first = db
            .store
            .record_webhook(&delivery("msg_1", None), Some(change.clone()))
            .unwrap();
        let RecordOutcome::Applied {
            inbox_id,
            entitlement,
        } = first
        else {
            panic!("expected Applied, got {first:?}");
        };
        assert_eq!(entitlement.state.lifecycle, Lifecycle::Active);
        assert_eq!(entitlement.state.status.as_deref(), Some("active"));
        assert_eq!(entitlement.version, 1);
        assert_eq!(entitlement.license_key_last4.as_deref(), Some("CCCC"));
        assert_eq!(
            entitlement.license_key_hash,
            Some(db.store.hash_license_key("LIC-AAAA-BBBB-CCCC"))
        );
        assert_eq!(
            entitlement.extras,
            Some(serde_json::json!({"integration": "whop"}))
        );
        assert!(entitlement.id.as_str().starts_with("ent_"));

        let again = db
            .store
            .record_webhook(&delivery("msg_1", None), Some(change))
            .unwrap();
        assert_eq!(again, RecordOutcome::Duplicate { inbox_id });

        let stored = db.store.get_entitlement(&entitlement.id).unwrap();
        assert_eq!(stored, *entitlement);
        let audit = db.store.list_audit(&entitlement.id, 10).unwrap();
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].actor, Actor::Webhook);
        assert_eq!(audit[0].action, "event.activated");
        assert_eq!(audit[0].inbox_id, Some(inbox_id));
        assert_eq!(
            audit[0].detail.as_deref(),
            Some(
                "lifecycle pending -> active; status - -> active; paid_through - -> 2027-02-14T08:00:00+00:00; details updated"
            )
        );

        let row = db.store.find_inbox_event(inbox_id).unwrap().unwrap();
        assert_eq!(row.status, InboxStatus::Processed);
        assert_eq!(row.attempts, 1);
        assert_eq!(row.body, b"{\"id\":\"msg_1\"}");
        assert_eq!(row.entitlement_id, Some(entitlement.id.clone()));
        assert_eq!(row.received_at, t(5));
        assert_eq!(db.store.count_inbox(InboxStatus::Processed).unwrap(), 1);
        assert_eq!(
            db.store
                .list_entitlements_by_license_key("LIC-AAAA-BBBB-CCCC")
                .unwrap(),
            vec![stored.clone()]
        );
        assert_eq!(
            db.store
                .list_entitlements_by_license_key("LIC-AAAA-BBBB-CCCD")
                .unwrap(),
            vec![]
        );
        assert_eq!(
            db.store
                .list_entitlements_by_subject(Provider::Whop, "user_1")
                .unwrap(),
            vec![stored.clone()]
        );
        assert_eq!(
            db.store.find_entitlement(Provider::Whop, "mem_1").unwrap(),
            Some(stored)
        );
        assert_eq!(db.store.find_entitlement(Provider::Dodo, "mem_1").unwrap(), None);
    });
}

#[test]
fn a_semantic_key_catches_a_resend_with_a_new_id() {
    both(|db| {
        let first = db
            .store
            .record_webhook(&delivery("msg_a", Some("entg_1:grant.delivered")), None)
            .unwrap();
        let inbox_id = first.inbox_id();
        assert_eq!(
            first,
            RecordOutcome::Stored {
                inbox_id,
                status: InboxStatus::Ignored
            }
        );
        let resend = db
            .store
            .record_webhook(&delivery("msg_b", Some("entg_1:grant.delivered")), None)
            .unwrap();
        assert_eq!(resend, RecordOutcome::Duplicate { inbox_id });
        // Events without a semantic key never collide on it.
        let plain_1 = db.store.record_webhook(&delivery("msg_c", None), None).unwrap();
        let plain_2 = db.store.record_webhook(&delivery("msg_d", None), None).unwrap();
        assert_ne!(plain_1.inbox_id(), plain_2.inbox_id());
        assert_eq!(db.store.count_inbox(InboxStatus::Ignored).unwrap(), 3);
    });
}

#[test]
fn failed_parses_are_kept_and_can_be_replayed() {
    both(|db| {
        let outcome = db
            .store
            .record_webhook(
                &delivery("msg_f", None),
                InboxEffect::Fail("missing field `data`".to_owned()),
            )
            .unwrap();
        let inbox_id = outcome.inbox_id();
        assert_eq!(
            outcome,
            RecordOutcome::Stored {
                inbox_id,
                status: InboxStatus::Failed
            }
        );
        let row = db.store.find_inbox_event(inbox_id).unwrap().unwrap();
        assert_eq!((row.status, row.attempts), (InboxStatus::Failed, 1));
        assert_eq!(row.last_error.as_deref(), Some("missing field `data`"));
        assert_eq!(row.entitlement_id, None);

        let entitlement = db
            .store
            .apply_inbox_event(inbox_id, &EntitlementChange::new(activated("mem_r", 0)))
            .unwrap();
        assert_eq!(entitlement.state.lifecycle, Lifecycle::Active);
        let row = db.store.find_inbox_event(inbox_id).unwrap().unwrap();
        assert_eq!(
            (row.status, row.attempts, row.last_error),
            (InboxStatus::Processed, 2, None)
        );
        let audit = db.store.list_audit(&entitlement.id, 10).unwrap();
        assert_eq!(
            (audit[0].actor, audit[0].inbox_id),
            (Actor::Replay, Some(inbox_id))
        );

        db.store.mark_inbox_failed(inbox_id, "bug 42").unwrap();
        let row = db.store.find_inbox_event(inbox_id).unwrap().unwrap();
        assert_eq!((row.status, row.attempts), (InboxStatus::Failed, 3));
        assert_eq!(
            db.store
                .apply_inbox_event(InboxId(999_999), &EntitlementChange::new(activated("mem_r", 0))),
            Err(tollgate_store::StoreError::NotFound {
                entity: "inbox event",
                id: "999999".to_owned()
            })
        );
    });
}

#[test]
fn inbox_lists_by_provider_status_and_page() {
    both(|db| {
        let mut ids = Vec::new();
        for i in 0..5 {
            let mut d = delivery(&format!("msg_{i}"), None);
            if i == 3 {
                d.provider = Provider::Dodo;
            }
            ids.push(db.store.record_webhook(&d, None).unwrap().inbox_id());
        }
        let whop = InboxFilter {
            provider: Some(Provider::Whop),
            limit: 2,
            ..InboxFilter::default()
        };
        let page1: Vec<_> = db
            .store
            .list_inbox(&whop)
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(page1, vec![ids[0], ids[1]]);
        let page2: Vec<_> = db
            .store
            .list_inbox(&InboxFilter {
                after_id: Some(ids[1]),
                ..whop
            })
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(page2, vec![ids[2], ids[4]]);
        let failed = InboxFilter {
            status: Some(InboxStatus::Failed),
            ..InboxFilter::default()
        };
        assert_eq!(db.store.list_inbox(&failed).unwrap(), vec![]);
        let dodo = InboxFilter {
            provider: Some(Provider::Dodo),
            ..InboxFilter::default()
        };
        let dodo = db.store.list_inbox(&dodo).unwrap();
        assert_eq!(dodo.len(), 1);
        assert_eq!(dodo[0].body, b"{\"id\":\"msg_3\"}");
    });
}

#[test]
fn an_older_event_does_not_undo_a_newer_one() {
    both(|db| {
        let change = |ev| Some(EntitlementChange::new(ev));
        let deactivated = event(
            "mem_o",
            100,
            EventKind::Deactivated {
                reason: Some("cancelled".to_owned()),
                status: Some("canceled".to_owned()),
                paid_through: None,
            },
        );
        db.store
            .record_webhook(&delivery("o1", None), change(deactivated))
            .unwrap();
        let RecordOutcome::Applied { entitlement, .. } = db
            .store
            .record_webhook(&delivery("o2", None), change(activated("mem_o", 10)))
            .unwrap()
        else {
            panic!("expected Applied");
        };
        assert_eq!(entitlement.state.lifecycle, Lifecycle::Revoked);
        assert_eq!(entitlement.state.status.as_deref(), Some("canceled"));
        assert_eq!(entitlement.version, 2);
    });
}

#[test]
fn apply_change_creates_and_audits_with_the_reason() {
    both(|db| {
        let created = db
            .store
            .apply_change(
                Actor::Reconcile,
                &EntitlementChange::new(activated("mem_c", 0)),
                "missing locally",
            )
            .unwrap();
        assert_eq!(created.version, 1);
        assert_eq!(created.extras, None);
        assert_eq!(created.synced_at, None);
        db.store.mark_synced(&created.id, t(60)).unwrap();
        assert_eq!(
            db.store.get_entitlement(&created.id).unwrap().synced_at,
            Some(t(60))
        );
        let audit = db.store.list_audit(&created.id, 10).unwrap();
        assert_eq!(audit[0].actor, Actor::Reconcile);
        assert!(
            audit[0]
                .detail
                .as_deref()
                .unwrap()
                .starts_with("missing locally: lifecycle pending -> active")
        );
        let missing = tollgate_store::EntitlementId::new("ent_missing");
        assert_eq!(
            db.store.get_entitlement(&missing),
            Err(tollgate_store::StoreError::NotFound {
                entity: "entitlement",
                id: "ent_missing".to_owned()
            })
        );
        assert!(db.store.mark_synced(&missing, t(1)).is_err());
    });
}
