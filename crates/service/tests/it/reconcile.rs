//! Reconciliation against the testkit's fake providers on loopback and a real store, on SQLite and PostgreSQL:
//! drift repaired through the policy's transitions with an audit row each, no rows when nothing changed, items
//! never seen created. (How runs go, one instance per provider at a time, an unreachable provider reported
//! without stopping the others, resumed passes and the periodic task: `reconcile_runs.rs`.)

use crate::common::reconcile_harness as harness;

use std::sync::Arc;

use chrono::{SubsecRound as _, TimeDelta};
use tollgate_policy::{Decision, DenyCode, Lifecycle, Provider};
use tollgate_providers::aghanim::AghanimListing;
use tollgate_providers::aghanim::fake::{FakeAghanim, FakeAghanimSubscription};
use tollgate_providers::dodo::fake::{FakeDodo, FakeGrant, FakeSubscription};
use tollgate_providers::whop::fake::{FakeMembership, FakeWhop};
use tollgate_providers::{ProviderApi, ProviderApis};
use tollgate_service::clock::Clock as _;
use tollgate_service::reconcile::{PassOutcome, Repair, RepairKind};
use tollgate_service::view::StoredExtras;
use tollgate_store::Actor;
use tollgate_testkit::{FakeProvider as _, now_unix};

use harness::{
    aghanim_client, audit, both, clock, decision, dodo_client, entitlement, reconciler, seed, whop_client,
};

pub(crate) fn whop_apis(whop: &FakeWhop) -> ProviderApis {
    ProviderApis::new().with(
        Provider::Whop,
        ProviderApi::Memberships(whop_client(whop.base_url(), FakeWhop::API_KEY)),
    )
}

#[test]
fn a_whop_membership_canceled_without_a_webhook_loses_access_with_the_reason_audited() {
    both(|db| async move {
        let whop = FakeWhop::start();
        for (id, key) in [
            ("mem_1", "KEY-AAAA-1111"),
            ("mem_2", "KEY-BBBB-2222"),
            ("mem_3", "KEY-CCCC-3333"),
        ] {
            whop.add_membership(FakeMembership::new(id, key));
            seed(
                &db.store,
                Provider::Whop,
                &whop.webhook(id, "membership.activated").unwrap(),
            );
        }
        let clock = clock();
        let reconciler = reconciler(db.store.clone(), whop_apis(&whop), clock.clone(), "instance-a");

        // The store agrees with the webhooks it received: nothing to repair, nothing audited.
        let report = reconciler.run_once(Some(Provider::Whop)).await.unwrap();
        assert_eq!(report.providers.len(), 1, "{}", db.backend);
        let pass = report.provider(Provider::Whop).unwrap();
        assert_eq!(pass.outcome, PassOutcome::Completed);
        assert_eq!(
            (pass.examined, pass.changed, pass.created, pass.ignored),
            (3, 0, 0, 0)
        );
        assert_eq!(pass.errors, Vec::<String>::new());
        let before = entitlement(&db.store, Provider::Whop, "mem_1");
        assert!(decision(&before, clock.now()).is_allowed());
        assert_eq!(audit(&db.store, &before).len(), 1, "only the webhook's row");

        whop.set_status("mem_1", "canceled");
        clock.advance(TimeDelta::minutes(15));
        let report = reconciler.run_once(Some(Provider::Whop)).await.unwrap();
        let pass = report.provider(Provider::Whop).unwrap();
        assert_eq!((pass.examined, pass.changed, pass.created), (3, 1, 0));
        assert_eq!(
            pass.repairs,
            vec![Repair {
                kind: RepairKind::Changed,
                entitlement_id: before.id.to_string(),
                external_id: "mem_1".to_owned(),
                detail: "status active -> canceled".to_owned(),
            }]
        );
        let after = entitlement(&db.store, Provider::Whop, "mem_1");
        assert_eq!(
            decision(&after, clock.now()),
            Decision::Deny(DenyCode::LicenseInactive)
        );
        assert_eq!(after.synced_at, Some(clock.now().trunc_subsecs(6)));
        let rows = audit(&db.store, &after);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].actor, Actor::Reconcile);
        assert_eq!(rows[0].action, "event.updated");
        assert_eq!(
            rows[0].detail.as_deref(),
            Some("reconcile: whop membership mem_1: status active -> canceled")
        );

        // Nothing changed since: no audit row anywhere, though every entitlement was looked at again.
        clock.advance(TimeDelta::minutes(15));
        let report = reconciler.run_once(None).await.unwrap();
        let pass = report.provider(Provider::Whop).unwrap();
        assert_eq!((pass.examined, pass.changed, pass.created), (3, 0, 0));
        for id in ["mem_1", "mem_2", "mem_3"] {
            let e = entitlement(&db.store, Provider::Whop, id);
            let expected = if id == "mem_1" { 2 } else { 1 };
            assert_eq!(audit(&db.store, &e).len(), expected, "{id}");
            assert_eq!(e.synced_at, Some(clock.now().trunc_subsecs(6)), "{id}");
        }
        assert_eq!(
            entitlement(&db.store, Provider::Whop, "mem_1").version,
            after.version,
            "an agreeing listing does not write the entitlement"
        );
        assert_eq!(db.store.find_lock("reconcile:whop").unwrap(), None, "released");
    });
}

#[test]
fn a_whop_membership_the_store_never_saw_is_created_and_a_lapsed_one_is_not_imported() {
    both(|db| async move {
        let whop = FakeWhop::start();
        let mut fresh = FakeMembership::new("mem_new", "NEWKEY-0000-9999");
        fresh.plan_id = "plan_gold".to_owned();
        whop.add_membership(fresh);
        let mut lapsed = FakeMembership::new("mem_old", "OLDKEY-0000-1111");
        lapsed.status = "expired".to_owned();
        whop.add_membership(lapsed);
        let clock = clock();
        let reconciler = reconciler(db.store.clone(), whop_apis(&whop), clock.clone(), "instance-a");

        let report = reconciler.run_once(None).await.unwrap();
        let pass = report.provider(Provider::Whop).unwrap();
        assert_eq!(
            (pass.examined, pass.changed, pass.created, pass.ignored),
            (2, 0, 1, 1)
        );
        let created = entitlement(&db.store, Provider::Whop, "mem_new");
        assert_eq!(created.state.lifecycle, Lifecycle::Active);
        assert_eq!(created.state.status.as_deref(), Some("active"));
        assert_eq!(created.state.subject.as_deref(), Some("user_fake"));
        assert_eq!(created.state.product.as_deref(), Some("prod_fake"));
        assert_eq!(
            StoredExtras::from_json(created.extras.as_ref())
                .plan_id
                .as_deref(),
            Some("plan_gold")
        );
        assert_eq!(created.license_key_last4.as_deref(), Some("9999"));
        let by_key = db
            .store
            .list_entitlements_by_license_key("NEWKEY-0000-9999")
            .unwrap();
        assert_eq!(
            by_key.iter().map(|e| &e.id).collect::<Vec<_>>(),
            vec![&created.id]
        );
        assert!(decision(&created, clock.now()).is_allowed());
        let rows = audit(&db.store, &created);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].actor, Actor::Reconcile);
        assert!(
            rows[0].detail.as_deref().unwrap().starts_with(
                "reconcile: whop membership mem_new not seen before: lifecycle pending -> active"
            ),
            "{:?}",
            rows[0].detail
        );
        assert_eq!(
            db.store.find_entitlement(Provider::Whop, "mem_old").unwrap(),
            None
        );

        let report = reconciler.run_once(None).await.unwrap();
        let pass = report.provider(Provider::Whop).unwrap();
        assert_eq!(
            (pass.examined, pass.changed, pass.created, pass.ignored),
            (2, 0, 0, 1)
        );
        assert_eq!(audit(&db.store, &created).len(), 1);
    });
}

#[test]
fn a_dodo_grant_revoked_and_a_subscription_cancelled_without_webhooks_are_repaired() {
    both(|db| async move {
        let dodo = FakeDodo::start();
        for (grant, customer, key) in [
            ("entg_1", "cus_1", "DODO-KEY-0001"),
            ("entg_2", "cus_2", "DODO-KEY-0002"),
        ] {
            dodo.add_grant(FakeGrant::pending(grant, "ent_1", customer));
            let [_, delivered] = dodo.fulfill_grant(grant, key, Some(2)).unwrap();
            seed(&db.store, Provider::Dodo, &delivered);
        }
        dodo.add_subscription(FakeSubscription::active("sub_1", "cus_1", "pdt_1"));
        seed(
            &db.store,
            Provider::Dodo,
            &dodo.subscription_webhook("sub_1", "subscription.active").unwrap(),
        );
        let clock = clock();
        let apis = ProviderApis::new().with(
            Provider::Dodo,
            ProviderApi::LicenseKeys(dodo_client(dodo.base_url(), FakeDodo::API_KEY)),
        );
        // No configured entitlement ids: `ent_1` is derived from the stored grants.
        let reconciler = reconciler(db.store.clone(), apis, clock.clone(), "instance-a");

        let report = reconciler.run_once(None).await.unwrap();
        let pass = report.provider(Provider::Dodo).unwrap();
        assert_eq!(pass.errors, Vec::<String>::new(), "{}", db.backend);
        assert_eq!((pass.examined, pass.changed, pass.created), (3, 0, 0));
        assert_eq!(
            dodo.count("GET", "/entitlements/ent_1/grants"),
            2,
            "a full page of 2, then the empty end"
        );

        assert!(dodo.revoke_grant("entg_1", "manual"));
        assert!(dodo.update_subscription("sub_1", |s| s.status = "cancelled".to_owned()));
        clock.advance(TimeDelta::minutes(15));
        let report = reconciler.run_once(Some(Provider::Dodo)).await.unwrap();
        let pass = report.provider(Provider::Dodo).unwrap();
        assert_eq!((pass.examined, pass.changed, pass.created), (3, 2, 0));

        let grant = entitlement(&db.store, Provider::Dodo, "entg_1");
        assert_eq!(grant.state.lifecycle, Lifecycle::Revoked);
        assert_eq!(
            decision(&grant, clock.now()),
            Decision::Deny(DenyCode::LicenseInactive)
        );
        assert_eq!(
            audit(&db.store, &grant)[0].detail.as_deref(),
            Some("reconcile: dodo grant entg_1: lifecycle active -> revoked; end_reason - -> manual")
        );
        let subscription = entitlement(&db.store, Provider::Dodo, "sub_1");
        assert_eq!(
            decision(&subscription, clock.now()),
            Decision::Deny(DenyCode::LicenseInactive)
        );
        assert_eq!(
            audit(&db.store, &subscription)[0].detail.as_deref(),
            Some("reconcile: dodo subscription sub_1: status active -> cancelled")
        );
        let untouched = entitlement(&db.store, Provider::Dodo, "entg_2");
        assert!(decision(&untouched, clock.now()).is_allowed());
        assert_eq!(audit(&db.store, &untouched).len(), 1);

        let report = reconciler.run_once(None).await.unwrap();
        assert_eq!(report.provider(Provider::Dodo).unwrap().changed, 0);
        assert_eq!(audit(&db.store, &grant).len(), 2);
    });
}

#[test]
fn a_deactivated_aghanim_subscription_of_a_known_player_is_repaired() {
    both(|db| async move {
        let aghanim = FakeAghanim::start();
        for (player, id) in [("player_1", "asub_1"), ("player_2", "asub_2")] {
            aghanim.add_subscription(player, FakeAghanimSubscription::active(id, "sku_pro"));
            seed(
                &db.store,
                Provider::Aghanim,
                &aghanim
                    .subscription_webhook(player, id, "subscription.activated")
                    .unwrap(),
            );
        }
        let clock = clock();
        let apis = ProviderApis::new().with(
            Provider::Aghanim,
            ProviderApi::Subjects(Arc::new(AghanimListing::new(aghanim_client(
                aghanim.base_url(),
                FakeAghanim::API_KEY,
            )))),
        );
        let reconciler = reconciler(db.store.clone(), apis, clock.clone(), "instance-a");
        let report = reconciler.run_once(None).await.unwrap();
        let pass = report.provider(Provider::Aghanim).unwrap();
        assert_eq!(pass.errors, Vec::<String>::new(), "{}", db.backend);
        assert_eq!((pass.examined, pass.changed, pass.created), (2, 0, 0));

        let ended = now_unix() - 60;
        assert!(aghanim.update_subscription("player_1", "asub_1", |s| {
            s.status = "expired".to_owned();
            s.effective_until = Some(ended);
        }));
        // A second subscription of a known player, never announced by a webhook.
        aghanim.add_subscription("player_2", FakeAghanimSubscription::active("asub_3", "sku_extra"));
        clock.advance(TimeDelta::minutes(15));
        let report = reconciler.run_once(None).await.unwrap();
        let pass = report.provider(Provider::Aghanim).unwrap();
        assert_eq!((pass.examined, pass.changed, pass.created), (3, 1, 1));

        let expired = entitlement(&db.store, Provider::Aghanim, "asub_1");
        assert_eq!(expired.state.lifecycle, Lifecycle::Revoked);
        assert_eq!(
            decision(&expired, clock.now()),
            Decision::Deny(DenyCode::LicenseInactive)
        );
        let detail = audit(&db.store, &expired)[0].detail.clone().unwrap();
        assert!(
            detail.starts_with(
                "reconcile: aghanim subscription asub_1 of player player_1: lifecycle active -> revoked; \
                 status active -> expired; paid_through "
            ),
            "{detail}"
        );
        assert!(decision(&entitlement(&db.store, Provider::Aghanim, "asub_2"), clock.now()).is_allowed());
        let created = entitlement(&db.store, Provider::Aghanim, "asub_3");
        assert_eq!(created.state.subject.as_deref(), Some("player_2"));
        assert!(decision(&created, clock.now()).is_allowed());

        let report = reconciler.run_once(None).await.unwrap();
        let pass = report.provider(Provider::Aghanim).unwrap();
        assert_eq!((pass.examined, pass.changed, pass.created), (3, 0, 0));
        assert_eq!(audit(&db.store, &expired).len(), 2);
    });
}
