//! `Store::entitlement_version` moves after every committed change to an entitlement or its devices, and a clone of
//! the store sees the same versions.

use tollgate_store::{Actor, EntitlementChange, InboxEffect, NewInboxEvent};

use crate::common::{activated, both, entitlement, t};
use crate::seed::{
    DeviceRow, delete_device, delete_device_by_id, put_change, put_device, put_inbox_change, put_inbox_event,
    put_transfer,
};

fn device(hwid: &str, secs: i64) -> DeviceRow<'_> {
    DeviceRow {
        hwid,
        name: None,
        instance_id: None,
        now: t(secs),
    }
}

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

        put_change(
            &store,
            Actor::Reconcile,
            &EntitlementChange::new(activated("mem_v", 5)),
            "test",
        )
        .unwrap();
        moved("apply_change");
        put_device(&store, &ent, &device("hw-1", 10)).unwrap();
        moved("activate_device");
        store.mark_synced(&ent, t(11)).unwrap();
        moved("mark_synced");
        let hwid = store.hash_hwid("hw-1");
        delete_device(&store, &ent, &hwid, Actor::Admin, t(12)).unwrap();
        moved("remove_device");
        let admitted = put_device(&store, &ent, &device("hw-2", 13)).unwrap();
        moved("activate_device again");
        delete_device_by_id(&store, &admitted.id, Actor::Admin, t(14)).unwrap();
        moved("remove_device_by_id");
        put_device(&store, &ent, &device("hw-3", 15)).unwrap();
        moved("activate_device a third time");
        let outcome = put_transfer(&store, &ent, &store.hash_hwid("hw-3"), t(16)).unwrap();
        assert!(outcome.is_some(), "{outcome:?}");
        moved("transfer_device");
        let recorded = put_inbox_event(
            &store,
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
        put_inbox_change(
            &store,
            recorded.inbox_id(),
            &EntitlementChange::new(activated("mem_v", 17)),
        )
        .unwrap();
        moved("apply_inbox_event");

        // Reads and failed writes leave it alone.
        store.find_entitlement_by_id(&ent).unwrap();
        store.list_devices(&ent).unwrap();
        let nothing = delete_device(&store, &ent, &store.hash_hwid("hw-unknown"), Actor::Admin, t(18));
        assert_eq!(nothing, Ok(None));
        let after_reads = store.entitlement_version(&ent);
        store.find_entitlement_by_id(&ent).unwrap();
        assert_eq!(store.entitlement_version(&ent), after_reads);
    });
}
