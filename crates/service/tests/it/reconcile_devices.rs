//! Reconciliation against what the providers page and list, on SQLite and PostgreSQL: a player's Aghanim
//! subscriptions read past Aghanim's default page of 10, and Tollgate's Dodo devices repaired against the license
//! key instances Dodo holds (freed when Dodo no longer has them, renamed to Dodo's names, unknown ones reported).

#![expect(clippy::unwrap_used, reason = "tests fail on any unexpected error")]

use crate::common::folding::Folding as _;
use crate::common::reconcile_harness as harness;

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use tollgate_policy::Provider;
use tollgate_providers::aghanim::AghanimListing;
use tollgate_providers::aghanim::fake::{FakeAghanim, FakeAghanimSubscription};
use tollgate_providers::dodo::fake::{FakeDodo, FakeGrant, FakeLicenseKey};
use tollgate_providers::dodo::{
    DodoActivation, DodoApi, DodoDeactivation, DodoGrant, DodoGrantQuery, DodoInstance, DodoInstanceQuery,
    DodoPageQuery, DodoSubscription, DodoValidation,
};
use tollgate_providers::{ApiError, ApiFuture, CallContext, ProviderApi, ProviderApis, UnreachableCause};
use tollgate_service::reconcile::{ReconcileOptions, Reconciler, RepairKind};
use tollgate_store::{Actor, Device, EntitlementId, NewAudit, NewDevice, Store};
use tollgate_testkit::FakeProvider as _;

use harness::{aghanim_client, both, clock, dodo_client, entitlement, reconciler, seed};

#[test]
fn more_than_ten_aghanim_subscriptions_are_read_page_by_page() {
    both(|db| async move {
        let aghanim = FakeAghanim::start();
        for n in 0..12 {
            aghanim.add_subscription(
                "P1",
                FakeAghanimSubscription::active(format!("asub_{n:02}"), "sku_pro"),
            );
        }
        // Tollgate knows the player through one of them.
        seed(
            &db.store,
            Provider::Aghanim,
            &aghanim
                .subscription_webhook("P1", "asub_00", "subscription.activated")
                .unwrap(),
        );
        let apis = ProviderApis::new().with(
            Provider::Aghanim,
            ProviderApi::Subjects(Arc::new(AghanimListing::new(aghanim_client(
                aghanim.base_url(),
                FakeAghanim::API_KEY,
            )))),
        );
        // The harness pages by 2: six full pages, then a short (empty) one ends the listing.
        let report = reconciler(db.store.clone(), apis.clone(), clock(), "instance-a")
            .run_once(Some(Provider::Aghanim))
            .await
            .unwrap();
        let pass = report.provider(Provider::Aghanim).unwrap();
        assert_eq!(pass.errors, Vec::<String>::new());
        assert_eq!((pass.examined, pass.created, pass.changed), (12, 11, 0));
        let queries: Vec<String> = aghanim.requests().into_iter().map(|r| r.query).collect();
        assert_eq!(queries.len(), 7);
        assert_eq!(queries[0], "limit=2&offset=0");
        assert_eq!(queries[6], "limit=2&offset=12");
        for n in 0..12 {
            entitlement(&db.store, Provider::Aghanim, &format!("asub_{n:02}"));
        }

        // With the default page of 100 one call reads all twelve (Aghanim's own default would stop at 10).
        let calls = aghanim.request_count();
        let defaults = Reconciler::new(
            db.store.clone(),
            apis,
            clock(),
            ReconcileOptions::new("instance-b"),
        );
        let report = defaults.run_once(Some(Provider::Aghanim)).await.unwrap();
        assert_eq!(report.provider(Provider::Aghanim).unwrap().examined, 12);
        let requests = aghanim.requests();
        assert_eq!(requests.len(), calls + 1);
        assert_eq!(requests[calls].query, "limit=100&offset=0");
    });
}

fn admit(
    store: &Store,
    entitlement: &EntitlementId,
    hwid: &str,
    name: &str,
    instance: &str,
    ago: i64,
) -> Device {
    let at = Utc::now() - TimeDelta::minutes(ago);
    let hwid_hash = store.hash_hwid(hwid);
    store
        .write(|tx| {
            assert!(tx.lock(entitlement)?, "no entitlement {entitlement:?}");
            let active = tx.list_devices(entitlement)?;
            assert!(
                active.len() < 10 && active.iter().all(|d| d.hwid_hash != hwid_hash),
                "expected a new device, got {active:?}"
            );
            let device = tx.insert_device(
                entitlement,
                &NewDevice {
                    hwid_hash: &hwid_hash,
                    name: Some(name),
                    instance_id: Some(instance),
                    now: at,
                },
            )?;
            tx.insert_audit(&NewAudit {
                entitlement_id: Some(entitlement.clone()),
                device_id: Some(device.id.clone()),
                at,
                actor: Actor::Activation,
                action: "device.activated".to_owned(),
                detail: None,
                inbox_id: None,
            })?;
            Ok(device)
        })
        .unwrap()
}

#[test]
fn dodo_devices_are_freed_renamed_and_unknown_instances_reported() {
    both(|db| async move {
        let dodo = FakeDodo::start();
        // A grant whose key Tollgate only knows through its instances, and a key activated before its grant
        // arrived (its placeholder entitlement is keyed by the `lic_` id).
        dodo.add_grant(FakeGrant::pending("entg_1", "ent_1", "cus_1"));
        let [_, delivered] = dodo.fulfill_grant("entg_1", "KEY-ONE", Some(10)).unwrap();
        let grant = seed(&db.store, Provider::Dodo, &delivered);
        dodo.add_license_key(FakeLicenseKey::new("lic_two", "KEY-TWO", None));
        let placeholder = db
            .store
            .apply_change(
                tollgate_store::Actor::Activation,
                &tollgate_store::EntitlementChange::new(tollgate_policy::ProviderEvent {
                    provider: Provider::Dodo,
                    external_id: "lic_two".to_owned(),
                    occurred_at: Utc::now() - TimeDelta::hours(2),
                    subject: Some("cus_2".to_owned()),
                    product: Some("pdt_fake".to_owned()),
                    kind: tollgate_policy::EventKind::GrantDelivered {
                        paid_through: None,
                        features: Vec::new(),
                    },
                }),
                "test",
            )
            .unwrap();

        let kept = dodo.add_instance("KEY-ONE", "Laptop").unwrap();
        let renamed = dodo.add_instance("KEY-ONE", "Desktop").unwrap();
        let gone = dodo.add_instance("KEY-ONE", "Old PC").unwrap();
        let laptop = admit(&db.store, &grant.id, "hw-1", "Laptop", &kept, 60);
        let desktop = admit(&db.store, &grant.id, "hw-2", "Desktop", &renamed, 50);
        let old_pc = admit(&db.store, &grant.id, "hw-3", "Old PC", &gone, 40);
        let two = dodo.add_instance("KEY-TWO", "Tablet").unwrap();
        admit(&db.store, &placeholder.id, "hw-4", "Tablet", &two, 30);
        // Changed at Dodo without Tollgate: one renamed, one deactivated, one activated by another client.
        assert!(dodo.rename_instance(&renamed, "Studio PC"));
        assert!(dodo.remove_instance(&gone));
        let stranger = dodo.add_instance("KEY-ONE", "Someone else").unwrap();
        // A device activated after the listing began is not judged, though Dodo does not list its instance.
        let racing = admit(&db.store, &grant.id, "hw-5", "New", "lki_not_yet_listed", -5);

        let apis = ProviderApis::new().with(
            Provider::Dodo,
            ProviderApi::LicenseKeys(dodo_client(dodo.base_url(), FakeDodo::API_KEY)),
        );
        let reconciler = reconciler(db.store.clone(), apis, clock(), "instance-a");
        let report = reconciler.run_once(Some(Provider::Dodo)).await.unwrap();
        let pass = report.provider(Provider::Dodo).unwrap();
        assert_eq!(pass.errors, Vec::<String>::new(), "{}", db.backend);
        assert_eq!((pass.devices_freed, pass.devices_renamed), (1, 1));
        let device_repairs: Vec<(RepairKind, &str)> = pass
            .repairs
            .iter()
            .filter(|r| matches!(r.kind, RepairKind::DeviceFreed | RepairKind::DeviceRenamed))
            .map(|r| (r.kind, r.external_id.as_str()))
            .collect();
        assert_eq!(
            device_repairs,
            [
                (RepairKind::DeviceRenamed, "entg_1"),
                (RepairKind::DeviceFreed, "entg_1")
            ]
        );
        assert_eq!(pass.notes.len(), 1, "{:?}", pass.notes);
        assert!(
            pass.notes[0].contains(&format!(
                "Dodo holds 1 activation(s) Tollgate does not know ({stranger})"
            )),
            "{}",
            pass.notes[0]
        );

        let devices = db.store.list_devices(&grant.id).unwrap();
        let names: Vec<(&str, Option<&str>)> = devices
            .iter()
            .map(|d| (d.id.as_str(), d.name.as_deref()))
            .collect();
        assert_eq!(
            names,
            [
                (laptop.id.as_str(), Some("Laptop")),
                (desktop.id.as_str(), Some("Studio PC")),
                (racing.id.as_str(), Some("New")),
            ]
        );
        assert!(devices.iter().all(|d| d.id != old_pc.id));
        assert_eq!(db.store.list_devices(&placeholder.id).unwrap().len(), 1);
        let audit = db.store.list_audit(&grant.id, 20).unwrap();
        let freed = audit.iter().find(|a| a.action == "device.removed").unwrap();
        assert_eq!(freed.actor.as_str(), "reconcile");
        assert_eq!(freed.device_id.as_ref(), Some(&old_pc.id));
        assert_eq!(
            freed.detail.as_deref(),
            Some(
                format!(
                    "reconcile: Dodo no longer has license key instance {gone} (deactivated at Dodo): the device is \
                     freed, and activates again if it is still in use"
                )
                .as_str()
            )
        );
        let renamed_row = audit.iter().find(|a| a.action == "device.renamed").unwrap();
        assert_eq!(
            renamed_row.detail.as_deref(),
            Some(
                format!("reconcile: name Desktop -> Studio PC, as Dodo names license key instance {renamed}")
                    .as_str()
            )
        );
        // The grant's key id was learned from one of its instances, the placeholder's is its own id.
        assert_eq!(dodo.count("GET", &format!("/license_key_instances/{kept}")), 1);

        // A second run changes nothing (and still reports the stranger).
        let report = reconciler.run_once(Some(Provider::Dodo)).await.unwrap();
        let pass = report.provider(Provider::Dodo).unwrap();
        assert_eq!(
            (pass.devices_freed, pass.devices_renamed, pass.notes.len()),
            (0, 0, 1)
        );
        assert_eq!(db.store.list_audit(&grant.id, 20).unwrap().len(), audit.len());
    });
}

/// The Dodo client over the fake, except that listing instances finds Dodo unreachable.
struct InstancesDown(Arc<dyn DodoApi>);

impl DodoApi for InstancesDown {
    fn activate_license<'a>(
        &'a self,
        ctx: &'a CallContext,
        license_key: &'a str,
        instance_name: &'a str,
    ) -> ApiFuture<'a, DodoActivation> {
        self.0.activate_license(ctx, license_key, instance_name)
    }

    fn deactivate_license<'a>(
        &'a self,
        ctx: &'a CallContext,
        license_key: &'a str,
        instance_id: &'a str,
    ) -> ApiFuture<'a, DodoDeactivation> {
        self.0.deactivate_license(ctx, license_key, instance_id)
    }

    fn validate_license<'a>(
        &'a self,
        ctx: &'a CallContext,
        license_key: &'a str,
        instance_id: Option<&'a str>,
    ) -> ApiFuture<'a, DodoValidation> {
        self.0.validate_license(ctx, license_key, instance_id)
    }

    fn find_license_key_instance<'a>(
        &'a self,
        ctx: &'a CallContext,
        instance_id: &'a str,
    ) -> ApiFuture<'a, Option<DodoInstance>> {
        self.0.find_license_key_instance(ctx, instance_id)
    }

    fn list_license_key_instances<'a>(
        &'a self,
        _ctx: &'a CallContext,
        _query: &'a DodoInstanceQuery,
    ) -> ApiFuture<'a, Vec<DodoInstance>> {
        Box::pin(async { Err(ApiError::Unreachable(UnreachableCause::Timeout)) })
    }

    fn list_grants<'a>(
        &'a self,
        ctx: &'a CallContext,
        entitlement_id: &'a str,
        query: &'a DodoGrantQuery,
    ) -> ApiFuture<'a, Vec<DodoGrant>> {
        self.0.list_grants(ctx, entitlement_id, query)
    }

    fn list_subscriptions<'a>(
        &'a self,
        ctx: &'a CallContext,
        page: DodoPageQuery,
    ) -> ApiFuture<'a, Vec<DodoSubscription>> {
        self.0.list_subscriptions(ctx, page)
    }
}

#[test]
fn dodo_devices_are_left_alone_when_dodo_cannot_list_the_instances() {
    both(|db| async move {
        let dodo = FakeDodo::start();
        dodo.add_license_key(FakeLicenseKey::new("lic_one", "KEY-ONE", None));
        let placeholder = db
            .store
            .apply_change(
                tollgate_store::Actor::Activation,
                &tollgate_store::EntitlementChange::new(tollgate_policy::ProviderEvent {
                    provider: Provider::Dodo,
                    external_id: "lic_one".to_owned(),
                    occurred_at: Utc::now() - TimeDelta::hours(2),
                    subject: None,
                    product: None,
                    kind: tollgate_policy::EventKind::GrantDelivered {
                        paid_through: None,
                        features: Vec::new(),
                    },
                }),
                "test",
            )
            .unwrap();
        // Dodo no longer has this instance, but Tollgate cannot hear it say so.
        admit(&db.store, &placeholder.id, "hw-1", "Laptop", "lki_gone", 60);
        let apis = ProviderApis::new().with(
            Provider::Dodo,
            ProviderApi::LicenseKeys(Arc::new(InstancesDown(dodo_client(
                dodo.base_url(),
                FakeDodo::API_KEY,
            )))),
        );
        let report = reconciler(db.store.clone(), apis, clock(), "instance-a")
            .run_once(Some(Provider::Dodo))
            .await
            .unwrap();
        let pass = report.provider(Provider::Dodo).unwrap();
        assert_eq!(pass.errors.len(), 1, "{:?}", pass.errors);
        assert!(
            pass.errors[0].starts_with("dodo list_license_key_instances lic_one: provider unreachable"),
            "{}",
            pass.errors[0]
        );
        assert_eq!(pass.devices_freed, 0);
        assert_eq!(db.store.list_devices(&placeholder.id).unwrap().len(), 1);
    });
}
