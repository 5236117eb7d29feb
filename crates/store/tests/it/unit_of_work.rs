//! `Store::write`: one transaction, committed only when the body returns `Ok`, versions bumped once after the
//! commit, and a rolled-back body reported as `WriteError::RolledBack` with nothing written.

use tollgate_store::{Actor, NewAudit, NewDevice, StoreError, WriteError};

use crate::common::{both, entitlement, t};

#[test]
fn a_unit_of_work_commits_and_bumps_versions_after_the_commit() {
    both(|db| {
        let ent = entitlement(db, "mem_uow");
        let before = db.store.entitlement_version(&ent);
        let hwid_hash = db.store.hash_hwid("hw-1");
        let device = db
            .store
            .write(|tx| {
                assert!(tx.lock(&ent)?);
                let new = NewDevice {
                    hwid_hash: &hwid_hash,
                    name: Some("Desk"),
                    instance_id: None,
                    now: t(1),
                };
                let device = tx.insert_device(&ent, &new)?;
                let device = tx.refresh_device(device, Some("lki_1"), t(2))?;
                tx.insert_audit(&NewAudit {
                    entitlement_id: Some(ent.clone()),
                    device_id: Some(device.id.clone()),
                    at: t(2),
                    actor: Actor::Admin,
                    action: "device.noted".to_owned(),
                    detail: None,
                    inbox_id: None,
                })?;
                Ok(device)
            })
            .unwrap();
        let after = db.store.entitlement_version(&ent);
        assert!(after > before, "version stayed at {before}");
        assert_eq!(device.provider_instance_id.as_deref(), Some("lki_1"));
        assert_eq!(device.last_seen_at, t(2));
        assert_eq!(db.store.list_devices(&ent).unwrap(), vec![device.clone()]);
        let audit = db.store.list_audit(&ent, 10).unwrap();
        assert!(
            audit.iter().any(|entry| entry.action == "device.noted"),
            "{audit:?}"
        );

        // A body that fails rolls back everything it wrote, and leaves the version alone.
        let failed = db.store.write(|tx| {
            tx.delete_device(&device)?;
            Err::<(), _>(StoreError::NotFound {
                entity: "test",
                id: "rollback".to_owned(),
            })
        });
        let Err(WriteError::RolledBack(error)) = failed else {
            panic!("expected a rollback, got {failed:?}");
        };
        assert_eq!(
            error,
            StoreError::NotFound {
                entity: "test",
                id: "rollback".to_owned()
            }
        );
        assert_eq!(db.store.entitlement_version(&ent), after);
        assert_eq!(db.store.list_devices(&ent).unwrap(), vec![device]);
    });
}
