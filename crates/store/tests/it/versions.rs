//! `Store::entitlement_version` moves after every committed change to an entitlement or its devices, and a clone of
//! the store sees the same versions.

use tollgate_policy::{HumanDuration, Policy};
use tollgate_store::{Actor, EntitlementChange, InboxEffect, NewInboxEvent};

use crate::common::{activated, both, entitlement, t};
use crate::device_flows::{DeviceFlows, TransferOutcome};
use crate::fold_flows::FoldFlows as _;

#[test]
fn every_committed_change_moves_the_version() {
    both(|db| {
        let ent = entitlement(db, "mem_v");
        let store = db.store.clone();
        let mut seen = store.entitlement_version(&ent);
        let mut moved = |label: &str| {
            let now = db.store.entitlement_version(&ent);
            assert!(now > seen, "{label}: version stayed at {seen}");
            seen = now;
        };

        store
            .apply_change(
                Actor::Reconcile,
                &EntitlementChange::new(activated("mem_v", 5)),
                "test",
            )
            .unwrap();
        moved("apply_change");
        store.activate_device(&ent, "hw-1", None, 3, None, t(10)).unwrap();
        moved("activate_device");
        store.mark_synced(&ent, t(11)).unwrap();
        moved("mark_synced");
        let hwid = store.hash_hwid("hw-1");
        store.remove_device(&ent, &hwid, Actor::Admin, t(12)).unwrap();
        moved("remove_device");
        let admitted = store.activate_device(&ent, "hw-2", None, 3, None, t(13)).unwrap();
        moved("activate_device again");
        let crate::device_flows::Admission::Admitted(device) = admitted else {
            panic!("expected a new device, got {admitted:?}");
        };
        store
            .remove_device_by_id(&device.id, Actor::Admin, t(14))
            .unwrap();
        moved("remove_device_by_id");
        store.activate_device(&ent, "hw-3", None, 3, None, t(15)).unwrap();
        moved("activate_device a third time");
        let policy = Policy {
            transfer_cooldown: HumanDuration::from_secs(0),
            ..Policy::default()
        };
        let outcome = store
            .transfer_device(&ent, &store.hash_hwid("hw-3"), &policy, t(16))
            .unwrap();
        assert!(matches!(outcome, TransferOutcome::Transferred(_)), "{outcome:?}");
        moved("transfer_device");
        let recorded = store
            .record_webhook(
                &NewInboxEvent {
                    provider: tollgate_policy::Provider::Whop,
                    dedupe_key: "msg_v".to_owned(),
                    semantic_key: None,
                    event_type: "membership.activated".to_owned(),
                    body: b"{}".to_vec(),
                    received_at: t(17),
                    webhook_id: Some("msg_v".to_owned()),
                    signed_at: Some(t(17)),
                },
                InboxEffect::Apply(EntitlementChange::new(activated("mem_v", 17))),
            )
            .unwrap();
        moved("record_webhook");
        store
            .apply_inbox_event(
                recorded.inbox_id(),
                &EntitlementChange::new(activated("mem_v", 17)),
            )
            .unwrap();
        moved("apply_inbox_event");

        // Reads and failed writes leave it alone.
        store.find_entitlement_by_id(&ent).unwrap();
        store.list_devices(&ent).unwrap();
        let nothing = store.remove_device(&ent, &store.hash_hwid("hw-unknown"), Actor::Admin, t(18));
        assert_eq!(nothing, Ok(None));
        let after_reads = store.entitlement_version(&ent);
        store.find_entitlement_by_id(&ent).unwrap();
        assert_eq!(store.entitlement_version(&ent), after_reads);
    });
}
