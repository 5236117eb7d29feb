use chrono::TimeDelta;
use tollgate_policy::Provider;
use tollgate_store::{Actor, NewAudit, NewSigningKey, PrivateKeyBytes, StoreError};

use crate::common::{both, entitlement, t};

#[test]
fn signing_keys_round_trip_and_retire() {
    both(|db| {
        let key = NewSigningKey {
            kid: "k1".to_owned(),
            algorithm: "EdDSA".to_owned(),
            private_key: PrivateKeyBytes::new(vec![1, 2, 3, 4]),
            public_key: vec![9, 8, 7],
            created_at: t(0),
        };
        db.store.insert_signing_key(&key).unwrap();
        assert!(matches!(
            db.store.insert_signing_key(&key),
            Err(StoreError::Conflict {
                entity: "signing key",
                ..
            })
        ));
        db.store
            .insert_signing_key(&NewSigningKey {
                kid: "k2".to_owned(),
                created_at: t(10),
                ..key.clone()
            })
            .unwrap();
        db.store.retire_signing_key("k1", t(20), Some(t(100))).unwrap();
        let keys = db.store.list_signing_keys().unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].kid, "k1");
        assert_eq!(keys[0].private_key, PrivateKeyBytes::new(vec![1, 2, 3, 4]));
        assert_eq!(keys[0].public_key, vec![9, 8, 7]);
        assert_eq!(
            (keys[0].retired_at, keys[0].not_after),
            (Some(t(20)), Some(t(100)))
        );
        assert_eq!((keys[1].kid.as_str(), keys[1].retired_at), ("k2", None));
        assert_eq!(
            format!("{:?}", keys[0].private_key),
            "PrivateKeyBytes([redacted])"
        );
        assert_eq!(
            db.store.retire_signing_key("k9", t(0), None),
            Err(StoreError::NotFound {
                entity: "signing key",
                id: "k9".to_owned()
            })
        );
    });
}

#[test]
fn cursors_upsert() {
    both(|db| {
        assert_eq!(db.store.find_cursor(Provider::Whop).unwrap(), None);
        db.store.set_cursor(Provider::Whop, "page-1", t(0)).unwrap();
        db.store.set_cursor(Provider::Whop, "page-2", t(1)).unwrap();
        db.store.set_cursor(Provider::Dodo, "d-1", t(1)).unwrap();
        assert_eq!(
            db.store.find_cursor(Provider::Whop).unwrap().as_deref(),
            Some("page-2")
        );
        assert_eq!(
            db.store.find_cursor(Provider::Dodo).unwrap().as_deref(),
            Some("d-1")
        );
    });
}

#[test]
fn a_lock_has_one_holder_until_it_expires_or_is_released() {
    both(|db| {
        let ttl = TimeDelta::seconds(60);
        assert!(db.store.try_acquire_lock("reconcile", "a", ttl, t(0)).unwrap());
        assert!(!db.store.try_acquire_lock("reconcile", "b", ttl, t(59)).unwrap());
        assert!(
            db.store.try_acquire_lock("reconcile", "a", ttl, t(30)).unwrap(),
            "the holder renews"
        );
        assert!(
            !db.store.try_acquire_lock("reconcile", "b", ttl, t(89)).unwrap(),
            "renewed until 90"
        );
        assert!(
            db.store.try_acquire_lock("reconcile", "b", ttl, t(90)).unwrap(),
            "expired at 90"
        );
        assert!(!db.store.release_lock("reconcile", "a").unwrap());
        assert!(db.store.release_lock("reconcile", "b").unwrap());
        assert!(db.store.try_acquire_lock("reconcile", "a", ttl, t(91)).unwrap());
        assert!(db.store.try_acquire_lock("other", "b", ttl, t(91)).unwrap());
    });
}

#[test]
fn audit_rows_list_newest_first() {
    both(|db| {
        let ent = entitlement(db, "mem_a");
        for i in 0..3 {
            db.store
                .record_audit(&NewAudit {
                    entitlement_id: Some(ent.clone()),
                    device_id: None,
                    at: t(i),
                    actor: Actor::Admin,
                    action: format!("admin.note{i}"),
                    detail: Some("looked up".to_owned()),
                    inbox_id: None,
                })
                .unwrap();
        }
        let audit = db.store.list_audit(&ent, 2).unwrap();
        assert_eq!(
            audit.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(),
            vec!["admin.note2", "admin.note1"]
        );
        assert_eq!((audit[0].at, audit[0].actor), (t(2), Actor::Admin));
        assert_eq!(db.store.list_audit(&ent, 10).unwrap().len(), 4);
    });
}
