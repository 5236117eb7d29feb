//! Devices: the `max_devices` limit, deactivation (transfer) with its cooldown, provider-side release, and the
//! admin reset, on SQLite and PostgreSQL with the fake providers.

use crate::common::license_harness as harness;

use chrono::TimeDelta;
use tollgate_providers::CallContext;
use tollgate_providers::dodo::fake::FakeLicenseKey;
use tollgate_providers::whop::fake::FakeMembership;
use tollgate_service::clock::Clock as _;
use tollgate_service::license::{
    DeactivateRequest, Deactivated, LicenseError, LicenseGrant, ProviderRelease,
};
use tollgate_store::{Actor, EntitlementId};

use harness::{Env, both};

const WHOP_KEY: &str = "KLINE-8FFK3-SD83K-3K3K3-3K3K3";
const DODO_KEY: &str = "3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b";
const TWO_DEVICES: &str = "[[products]]\nprovider = \"whop\"\nproduct = \"prod_fake\"\nmax_devices = 2\n\n\
                           [[products]]\nprovider = \"dodo\"\nproduct = \"pdt_fake\"\nmax_devices = 2\n";

async fn activate(env: &Env, key: &str, hwid: &str) -> Result<LicenseGrant, LicenseError> {
    env.activate(key, hwid, None).await
}

async fn deactivate(env: &Env, key: &str, hwid: &str) -> Result<Deactivated, LicenseError> {
    let req = DeactivateRequest {
        license_key: key.to_owned(),
        hwid: hwid.to_owned(),
    };
    env.licensing.deactivate(&CallContext::default(), &req).await
}

/// How many devices Tollgate's binding at Whop holds for `mem_1` (`None`: no binding written).
fn binding(env: &Env) -> Option<usize> {
    let metadata = env.whop.membership("mem_1")?.metadata;
    let tags = metadata.get("tollgate_devices")?.as_str()?.to_owned();
    Some(tags.split(',').filter(|t| !t.is_empty()).count())
}

#[test]
fn a_third_device_is_refused_a_deactivation_frees_a_slot_and_a_second_one_waits_for_the_cooldown() {
    both(|db| async move {
        let env = Env::new(db, TWO_DEVICES);
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        let first = activate(&env, WHOP_KEY, "hw-1").await.unwrap();
        let second = activate(&env, WHOP_KEY, "hw-2").await.unwrap();
        assert_eq!(
            activate(&env, WHOP_KEY, "hw-3").await.unwrap_err(),
            LicenseError::DeviceLimitReached
        );
        // Two devices, both in the binding mirrored at Whop; the third never is.
        assert_eq!(binding(&env), Some(2));

        let t0 = env.clock.now();
        let freed = deactivate(&env, WHOP_KEY, "hw-1").await.unwrap();
        assert_eq!(freed.code, "DEACTIVATED");
        assert_eq!(freed.max_devices, 2);
        let remaining: Vec<&str> = freed.devices.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(remaining, [second.device.id.as_str()]);
        activate(&env, WHOP_KEY, "hw-3").await.unwrap();

        env.clock.advance(TimeDelta::hours(23));
        assert_eq!(
            deactivate(&env, WHOP_KEY, "hw-2").await.unwrap_err(),
            LicenseError::TransferCooldown {
                retry_at: t0 + TimeDelta::hours(24)
            }
        );
        assert_eq!(
            deactivate(&env, WHOP_KEY, "hw-1").await.unwrap_err(),
            LicenseError::DeviceNotActivated
        );
        env.clock.set(t0 + TimeDelta::hours(24));
        let freed = deactivate(&env, WHOP_KEY, "hw-2").await.unwrap();
        assert_eq!(freed.devices.len(), 1);

        let ent = EntitlementId::new(first.entitlement.id.clone());
        let audit = env.store().list_audit(&ent, 50).unwrap();
        let transferred = audit.iter().filter(|a| a.action == "device.transferred").count();
        assert_eq!(transferred, 2);
        let denials = env.licensing.denials(WHOP_KEY).unwrap();
        let codes: Vec<&str> = denials
            .iter()
            .map(|d| d.detail.as_deref().unwrap().split(';').next().unwrap())
            .collect();
        assert_eq!(
            codes,
            [
                "deactivate: DEVICE_NOT_ACTIVATED",
                &format!(
                    "deactivate: TRANSFER_COOLDOWN (retry at {})",
                    (t0 + TimeDelta::hours(24)).to_rfc3339()
                ),
                "activate: DEVICE_LIMIT_REACHED",
            ]
        );
    });
}

#[test]
fn manual_transfer_policies_refuse_self_service_deactivation() {
    let policy = "[default]\ntransfer = \"manual\"\n";
    both(|db| async move {
        let env = Env::new(db, policy);
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        let grant = activate(&env, WHOP_KEY, "hw-1").await.unwrap();
        assert_eq!(
            deactivate(&env, WHOP_KEY, "hw-1").await.unwrap_err(),
            LicenseError::TransferNotAllowed
        );
        let ent = EntitlementId::new(grant.entitlement.id);
        assert_eq!(env.store().list_devices(&ent).unwrap().len(), 1);
        // Refused before Whop is asked: the binding there is kept too.
        assert_eq!(binding(&env), Some(1));
    });
}

#[test]
fn deactivating_a_dodo_device_deactivates_its_instance_at_dodo() {
    both(|db| async move {
        let env = Env::new(db, TWO_DEVICES);
        env.dodo
            .add_license_key(FakeLicenseKey::new("lic_1", DODO_KEY, Some(2)));
        activate(&env, DODO_KEY, "hw-1").await.unwrap();
        activate(&env, DODO_KEY, "hw-2").await.unwrap();
        assert_eq!(env.dodo.license_key(DODO_KEY).unwrap().instances.len(), 2);
        let freed = deactivate(&env, DODO_KEY, "hw-1").await.unwrap();
        assert_eq!(freed.devices.len(), 1);
        let left = env.dodo.license_key(DODO_KEY).unwrap().instances;
        let ent = env.store().list_entitlements_by_license_key(DODO_KEY).unwrap();
        let devices = env.store().list_devices(&ent[0].id).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(
            devices[0].provider_instance_id.as_deref(),
            Some(left[0].0.as_str())
        );
    });
}

#[test]
fn an_admin_reset_frees_the_device_at_whop_and_here_and_is_audited() {
    both(|db| async move {
        let env = Env::new(db, "");
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        let grant = activate(&env, WHOP_KEY, "hw-1").await.unwrap();
        assert_eq!(
            activate(&env, WHOP_KEY, "hw-2").await.unwrap_err(),
            LicenseError::DeviceMismatch
        );
        let ent = EntitlementId::new(grant.entitlement.id.clone());
        let dev = tollgate_store::DeviceId::new(grant.device.id.clone());
        let reset = env
            .licensing
            .reset_device(&CallContext::default(), &ent, &dev, "alice", None)
            .await
            .unwrap();
        assert_eq!(reset.provider, ProviderRelease::Released);
        assert_eq!(reset.device.id, grant.device.id);
        assert_eq!(binding(&env), Some(0));
        assert_eq!(env.store().list_devices(&ent).unwrap(), vec![]);
        let audit = env.store().list_audit(&ent, 5).unwrap();
        assert_eq!(audit[0].action, "device.reset");
        assert_eq!(audit[0].actor, Actor::Admin);
        assert_eq!(
            audit[0].detail.as_deref(),
            Some("reset by alice; provider: released")
        );
        assert_eq!(
            (audit[1].action.as_str(), audit[1].actor),
            ("device.removed", Actor::Admin)
        );
        // The reset is not a transfer: no cooldown, and the new machine activates at once.
        activate(&env, WHOP_KEY, "hw-2").await.unwrap();
        assert_eq!(
            env.licensing
                .reset_device(&CallContext::default(), &ent, &dev, "alice", None)
                .await
                .unwrap_err(),
            LicenseError::DeviceNotActivated
        );
    });
}

#[test]
fn an_admin_reset_of_a_dodo_device_needs_the_key_to_release_the_instance() {
    both(|db| async move {
        let env = Env::new(db, TWO_DEVICES);
        env.dodo
            .add_license_key(FakeLicenseKey::new("lic_1", DODO_KEY, None));
        let one = activate(&env, DODO_KEY, "hw-1").await.unwrap();
        let two = activate(&env, DODO_KEY, "hw-2").await.unwrap();
        let ent = EntitlementId::new(one.entitlement.id.clone());
        let ctx = CallContext::default();
        let without_key = env
            .licensing
            .reset_device(
                &ctx,
                &ent,
                &tollgate_store::DeviceId::new(one.device.id),
                "bob",
                None,
            )
            .await
            .unwrap();
        assert_eq!(without_key.provider, ProviderRelease::SkippedNoLicenseKey);
        assert_eq!(env.dodo.license_key(DODO_KEY).unwrap().instances.len(), 2);
        let with_key = env
            .licensing
            .reset_device(
                &ctx,
                &ent,
                &tollgate_store::DeviceId::new(two.device.id),
                "bob",
                Some(DODO_KEY),
            )
            .await
            .unwrap();
        assert_eq!(with_key.provider, ProviderRelease::Released);
        assert_eq!(env.dodo.license_key(DODO_KEY).unwrap().instances.len(), 1);
        assert_eq!(env.store().list_devices(&ent).unwrap(), vec![]);
    });
}

/// Sixteen activations of sixteen devices at once on one key (moved from the store's `concurrency` tests, which ran
/// a copy of the admission): the real `Licensing::activate`, each in its own task and transaction, admits exactly
/// `max_devices` and refuses the rest with `DEVICE_LIMIT_REACHED`; the database, not the process, keeps the limit.
#[test]
fn sixteen_concurrent_activations_never_exceed_max_devices() {
    const THREADS: usize = 16;
    const THREE_DEVICES: &str =
        "[[products]]\nprovider = \"whop\"\nproduct = \"prod_fake\"\nmax_devices = 3\n";
    both(|db| async move {
        let env = Env::new(db, THREE_DEVICES);
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        let tasks: Vec<_> = (0..THREADS)
            .map(|i| {
                let licensing = env.licensing.clone();
                tokio::spawn(async move {
                    let req = tollgate_service::license::ActivateRequest {
                        license_key: WHOP_KEY.to_owned(),
                        hwid: format!("hw-{i}"),
                        device_name: None,
                    };
                    licensing.activate(&CallContext::default(), &req).await
                })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        let admitted: Vec<&LicenseGrant> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(admitted.len(), 3, "{results:?}");
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Ok(_) | Err(LicenseError::DeviceLimitReached))),
            "{results:?}"
        );
        let ent = EntitlementId::new(admitted[0].entitlement.id.clone());
        assert_eq!(env.store().list_devices(&ent).unwrap().len(), 3);
    });
}
