//! Devices repaired against a provider's own list of activations (Dodo license key instances): freed only while they
//! still carry the instance, and renamed, each with its audit row.

use tollgate_policy::{Provider, ProviderEvent};
use tollgate_store::{Actor, EntitlementChange};

use crate::common::{activated, both, entitlement, t};
use crate::seed::{DeviceRow, put_change, put_device};

#[test]
fn devices_are_freed_and_renamed_against_the_providers_activations() {
    both(|db| {
        let dodo = |external_id: &str| {
            put_change(
                &db.store,
                Actor::Webhook,
                &EntitlementChange::new(ProviderEvent {
                    provider: Provider::Dodo,
                    ..activated(external_id, 0)
                }),
                "test",
            )
            .unwrap()
            .id
        };
        let (with, without, other) = (dodo("entg_a"), dodo("entg_b"), dodo("lic_c"));
        entitlement(db, "mem_whop");
        let admit = |ent, hwid: &str, instance: Option<&str>| {
            put_device(
                &db.store,
                ent,
                &DeviceRow {
                    hwid,
                    name: Some("Old name"),
                    instance_id: instance,
                    now: t(1),
                },
            )
            .unwrap()
        };
        let kept = admit(&with, "hw-1", Some("lki_1"));
        let gone = admit(&with, "hw-2", Some("lki_2"));
        admit(&without, "hw-3", None);
        admit(&other, "hw-4", Some("lki_4"));

        let listed = db
            .store
            .list_entitlements_with_instances(Provider::Dodo, None, 10)
            .unwrap();
        let mut expected = vec![with.clone(), other.clone()];
        expected.sort();
        assert_eq!(listed.iter().map(|e| e.id.clone()).collect::<Vec<_>>(), expected);
        let after_first = db
            .store
            .list_entitlements_with_instances(Provider::Dodo, Some(&expected[0]), 10)
            .unwrap();
        assert_eq!(after_first.len(), 1);
        assert_eq!(after_first[0].id, expected[1]);
        assert!(
            db.store
                .list_entitlements_with_instances(Provider::Whop, None, 10)
                .unwrap()
                .is_empty()
        );

        // Freed only while it still carries that instance.
        assert_eq!(
            db.store
                .release_device(&gone.id, "lki_other", Actor::Reconcile, "x", t(2))
                .unwrap(),
            None
        );
        let released = db
            .store
            .release_device(
                &gone.id,
                "lki_2",
                Actor::Reconcile,
                "Dodo no longer has lki_2",
                t(2),
            )
            .unwrap()
            .unwrap();
        assert_eq!(released.id, gone.id);
        assert_eq!(
            db.store
                .release_device(&gone.id, "lki_2", Actor::Reconcile, "again", t(3))
                .unwrap(),
            None
        );
        assert!(
            db.store
                .rename_device(&kept.id, "Studio PC", Actor::Reconcile, "named at Dodo", t(4))
                .unwrap()
        );
        assert!(
            !db.store
                .rename_device(&gone.id, "x", Actor::Reconcile, "gone", t(4))
                .unwrap()
        );
        let devices = db.store.list_devices(&with).unwrap();
        assert_eq!(devices.len(), 1);
        assert_eq!(devices[0].name.as_deref(), Some("Studio PC"));
        let audit = db.store.list_audit(&with, 10).unwrap();
        let rows: Vec<(&str, &str, Option<&str>)> = audit
            .iter()
            .map(|a| (a.action.as_str(), a.actor.as_str(), a.detail.as_deref()))
            .collect();
        assert_eq!(
            &rows[..2],
            [
                ("device.renamed", "reconcile", Some("named at Dodo")),
                ("device.removed", "reconcile", Some("Dodo no longer has lki_2")),
            ]
        );
    });
}
