//! Devices on a stored entitlement: admitted up to the limit, recognised again, removed, and transferred under the
//! cooldown and the 30-day budget (see `flows`).

use tollgate_policy::{HumanDuration, Policy, TransferDenial, TransferMode};
use tollgate_store::{Actor, EntitlementId, StoreError};

use super::entitlement;
use super::flows::{Admission, DeviceFlows, TransferOutcome};
use crate::entitlement_change::fixtures::{both, t};

#[test]
fn activation_admits_up_to_the_limit_and_recognizes_known_devices() {
    both(|db| {
        let ent = entitlement(db, "mem_d");
        let Admission::Admitted(first) = db
            .store
            .activate_device(&ent, "hw-1", Some("Laptop"), 2, None, t(0))
            .unwrap()
        else {
            panic!("expected Admitted");
        };
        assert!(first.id.as_str().starts_with("dev_"));
        assert_eq!(first.hwid_hash, db.store.hash_hwid("hw-1"));
        assert_eq!((first.activated_at, first.last_seen_at), (t(0), t(0)));
        let again = db
            .store
            .activate_device(&ent, "hw-1", None, 2, Some("lki_9"), t(10))
            .unwrap();
        let Admission::AlreadyActive(same) = again else {
            panic!("expected AlreadyActive, got {again:?}")
        };
        assert_eq!(
            (
                same.id.clone(),
                same.last_seen_at,
                same.provider_instance_id.as_deref()
            ),
            (first.id.clone(), t(10), Some("lki_9"))
        );
        assert!(matches!(
            db.store
                .activate_device(&ent, "hw-2", None, 2, None, t(20))
                .unwrap(),
            Admission::Admitted(_)
        ));
        assert_eq!(
            db.store
                .activate_device(&ent, "hw-3", None, 2, None, t(30))
                .unwrap(),
            Admission::LimitReached { active: 2 }
        );
        let devices = db.store.list_devices(&ent).unwrap();
        assert_eq!(devices.len(), 2);
        assert_eq!(devices[0], same);
        db.store.touch_device(&first.id, t(40)).unwrap();
        assert_eq!(db.store.list_devices(&ent).unwrap()[0].last_seen_at, t(40));
        assert_eq!(
            db.store
                .activate_device(&EntitlementId::new("ent_nope"), "hw-1", None, 1, None, t(0)),
            Err(StoreError::NotFound {
                entity: "entitlement",
                id: "ent_nope".to_owned()
            })
        );
        let audit = db.store.list_audit(&ent, 10).unwrap();
        assert_eq!(audit.iter().filter(|a| a.action == "device.activated").count(), 2);
    });
}

#[test]
fn removing_a_device_frees_its_slot() {
    both(|db| {
        let ent = entitlement(db, "mem_rm");
        let Admission::Admitted(dev) = db
            .store
            .activate_device(&ent, "hw-1", None, 1, None, t(0))
            .unwrap()
        else {
            panic!("expected Admitted");
        };
        assert_eq!(
            db.store
                .activate_device(&ent, "hw-2", None, 1, None, t(1))
                .unwrap(),
            Admission::LimitReached { active: 1 }
        );
        let removed = db
            .store
            .remove_device(&ent, &db.store.hash_hwid("hw-1"), Actor::Admin, t(2))
            .unwrap();
        assert_eq!(removed, Some(dev.clone()));
        assert_eq!(
            db.store
                .remove_device(&ent, &db.store.hash_hwid("hw-1"), Actor::Admin, t(2))
                .unwrap(),
            None
        );
        let Admission::Admitted(dev2) = db
            .store
            .activate_device(&ent, "hw-2", None, 1, None, t(3))
            .unwrap()
        else {
            panic!("expected Admitted");
        };
        assert_eq!(
            db.store
                .remove_device_by_id(&dev2.id, Actor::Admin, t(4))
                .unwrap(),
            Some(dev2.clone())
        );
        assert_eq!(
            db.store
                .remove_device_by_id(&dev2.id, Actor::Admin, t(4))
                .unwrap(),
            None
        );
        assert_eq!(db.store.list_devices(&ent).unwrap(), vec![]);
        assert_eq!(db.store.list_transfers_since(&ent, t(0)).unwrap(), vec![]);
    });
}

#[test]
fn transfers_respect_the_cooldown_and_the_budget() {
    both(|db| {
        let ent = entitlement(db, "mem_tr");
        let rule = Policy {
            transfer_cooldown: HumanDuration::from_secs(86_400),
            transfers_per_30d: 2,
            ..Policy::default()
        };
        let day = 86_400;
        db.store
            .activate_device(&ent, "hw-1", None, 1, None, t(0))
            .unwrap();
        let hash1 = db.store.hash_hwid("hw-1");
        assert_eq!(
            db.store
                .transfer_device(&ent, &db.store.hash_hwid("hw-x"), &rule, t(0))
                .unwrap(),
            TransferOutcome::NotActivated
        );
        assert!(matches!(
            db.store.transfer_device(&ent, &hash1, &rule, t(0)).unwrap(),
            TransferOutcome::Transferred(_)
        ));
        db.store
            .activate_device(&ent, "hw-2", None, 1, None, t(1))
            .unwrap();
        let hash2 = db.store.hash_hwid("hw-2");
        assert_eq!(
            db.store.transfer_device(&ent, &hash2, &rule, t(day - 1)).unwrap(),
            TransferOutcome::Denied(TransferDenial::Cooldown { retry_at: t(day) })
        );
        assert!(matches!(
            db.store.transfer_device(&ent, &hash2, &rule, t(day)).unwrap(),
            TransferOutcome::Transferred(_)
        ));
        db.store
            .activate_device(&ent, "hw-3", None, 1, None, t(day + 1))
            .unwrap();
        let hash3 = db.store.hash_hwid("hw-3");
        assert_eq!(
            db.store.transfer_device(&ent, &hash3, &rule, t(5 * day)).unwrap(),
            TransferOutcome::Denied(TransferDenial::Cooldown {
                retry_at: t(30 * day)
            })
        );
        let manual = Policy {
            transfer: TransferMode::Manual,
            ..rule.clone()
        };
        assert_eq!(
            db.store
                .transfer_device(&ent, &hash3, &manual, t(60 * day))
                .unwrap(),
            TransferOutcome::Denied(TransferDenial::NotAllowed)
        );
        assert_eq!(db.store.list_devices(&ent).unwrap().len(), 1);
        let transfers = db.store.list_transfers_since(&ent, t(0)).unwrap();
        assert_eq!(
            transfers
                .iter()
                .map(|tr| (tr.from_hwid_hash.clone(), tr.at))
                .collect::<Vec<_>>(),
            vec![(hash1, t(0)), (hash2, t(day))]
        );
        assert_eq!(db.store.list_transfers_since(&ent, t(1)).unwrap().len(), 1);
    });
}
