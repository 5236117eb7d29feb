//! Activation against the fake Whop and Dodo on loopback, on SQLite and PostgreSQL: success with a lease that
//! verifies, each refusal with its exact code, and provider outages that store nothing.

#![expect(clippy::unwrap_used, reason = "tests")]

#[path = "common/license_harness.rs"]
mod harness;

use std::time::Duration;

use chrono::TimeDelta;
use serde_json::json;
use tollgate_service::clock::Clock as _;
use tollgate_service::license::{LicenseError, LicenseGrant};
use tollgate_store::EntitlementId;
use tollgate_testkit::{FakeLicenseKey, FakeMembership, FakeProvider as _, Fault};

use harness::{CLIENT_TIMEOUT, Env, both};

const WHOP_KEY: &str = "KLINE-8FFK3-SD83K-3K3K3-3K3K3";
const DODO_KEY: &str = "3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b";
const VALIDATE_PATH: &str = "/api/v2/memberships/KLINE-8FFK3-SD83K-3K3K3-3K3K3/validate_license";

async fn activate(env: &Env, key: &str, hwid: &str) -> Result<LicenseGrant, LicenseError> {
    env.activate(key, hwid, Some("Work laptop")).await
}

/// The metadata of each `validate_license` call the fake Whop received, in order.
fn validate_metadata(env: &Env) -> Vec<serde_json::Value> {
    env.whop
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == VALIDATE_PATH)
        .map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["metadata"].clone())
        .collect()
}

fn nothing_stored(env: &Env, key: &str) {
    assert_eq!(env.store().list_entitlements_by_license_key(key).unwrap(), vec![]);
}

#[test]
fn a_whop_activation_binds_the_device_hash_and_signs_a_lease_that_verifies() {
    both(|db| async move {
        let env = Env::new(db, "");
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        let now = env.clock.now();

        let grant = activate(&env, WHOP_KEY, "hw-1").await.unwrap();
        let hash = env.store().hash_hwid("hw-1");
        assert_eq!(grant.code, "VALID");
        assert_eq!(grant.entitlement.external_id, "mem_1");
        assert_eq!(grant.entitlement.status, "active");
        assert_eq!(grant.entitlement.plan.as_deref(), Some("plan_fake"));
        assert_eq!(grant.lease.expires_at, now + TimeDelta::hours(72));
        assert_eq!(grant.lease.refresh_after, now + TimeDelta::hours(24));
        assert_eq!(grant.device.activated_at, now);

        let claims = env.licensing.leases().verify(&grant.lease.token, now).unwrap();
        assert_eq!(claims.sub, grant.entitlement.id);
        assert_eq!(claims.aud, "prod_fake");
        assert_eq!(claims.hwid, hash.as_str());
        assert_eq!((claims.iat, claims.nbf), (now.timestamp(), now.timestamp()));
        assert_eq!(claims.exp, grant.lease.expires_at.timestamp());
        assert_eq!(claims.plan.as_deref(), Some("plan_fake"));

        // The wire shape product.md fixes.
        let body = serde_json::to_value(&grant).unwrap();
        assert_eq!(body["code"], "VALID");
        assert_eq!(
            body["device"],
            json!({"id": grant.device.id, "activated_at": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)})
        );
        assert_eq!(
            body["lease"]["expires_at"],
            (now + TimeDelta::hours(72)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        assert_eq!(body["entitlement"]["access"]["code"], "VALID");

        // Node-locked by default: the device's keyed hash (never the raw hwid) is bound at Whop, in the one call
        // (every policy is node-locked, so the product need not be known first).
        assert_eq!(validate_metadata(&env), [json!({"hwid": hash.as_str()})]);
        assert_eq!(
            env.whop.membership("mem_1").unwrap().metadata,
            json!({"hwid": hash.as_str()})
        );
        let ent = env.store().list_entitlements_by_license_key(WHOP_KEY).unwrap();
        let devices = env.store().list_devices(&ent[0].id).unwrap();
        assert_eq!(devices.len(), 1);
        assert_eq!(devices[0].name.as_deref(), Some("Work laptop"));
        assert_eq!(ent[0].synced_at, Some(now));
        let actions: Vec<String> = env
            .store()
            .list_audit(&ent[0].id, 10)
            .unwrap()
            .into_iter()
            .map(|a| a.action)
            .collect();
        assert_eq!(actions, ["device.activated", "event.updated"]);

        // The same device again: the same device, no second slot.
        let again = activate(&env, WHOP_KEY, "hw-1").await.unwrap();
        assert_eq!(again.device.id, grant.device.id);
        // Another device on a node-locked key is refused before Whop is asked.
        let calls = env.whop.count("POST", VALIDATE_PATH);
        assert_eq!(
            activate(&env, WHOP_KEY, "hw-2").await.unwrap_err(),
            LicenseError::DeviceMismatch
        );
        assert_eq!(env.whop.count("POST", VALIDATE_PATH), calls);
        assert_eq!(env.store().list_devices(&ent[0].id).unwrap().len(), 1);
    });
}

#[test]
fn an_unseen_whop_key_needs_a_second_call_only_when_policies_disagree_on_binding() {
    // Every policy lets 3 devices: nothing is bound at Whop, in one call.
    both(|db| async move {
        let env = Env::new(db, "[default]\nmax_devices = 3\n");
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        activate(&env, WHOP_KEY, "hw-1").await.unwrap();
        assert_eq!(validate_metadata(&env), [json!({})]);
        assert_eq!(env.whop.membership("mem_1").unwrap().metadata, json!({}));
    });
    // The default lets 3 devices but this product is node-locked: `{}` finds the product, then the device hash is
    // bound.
    let node_locked_product = "[default]\nmax_devices = 3\n[[products]]\nprovider = \"whop\"\nproduct = \"prod_fake\"\nmax_devices = 1\n";
    both(|db| async move {
        let env = Env::new(db, node_locked_product);
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        let grant = activate(&env, WHOP_KEY, "hw-1").await.unwrap();
        let hash = env.store().hash_hwid("hw-1");
        assert_eq!(
            validate_metadata(&env),
            [json!({}), json!({"hwid": hash.as_str()})]
        );
        assert_eq!(
            env.whop.membership("mem_1").unwrap().metadata,
            json!({"hwid": hash.as_str()})
        );
        // One Whop answer folded, one device: the audit trail of a single activation.
        let actions: Vec<String> = env
            .store()
            .list_audit(&EntitlementId::new(grant.entitlement.id.clone()), 10)
            .unwrap()
            .into_iter()
            .map(|a| a.action)
            .collect();
        assert_eq!(actions, ["device.activated", "event.updated"]);
    });
    // The same policies, but another product (the default, 3 devices): `{}` was right, no second call.
    both(|db| async move {
        let env = Env::new(db, node_locked_product);
        let mut membership = FakeMembership::new("mem_1", WHOP_KEY);
        membership.product_id = "prod_other".to_owned();
        env.whop.add_membership(membership);
        activate(&env, WHOP_KEY, "hw-1").await.unwrap();
        assert_eq!(validate_metadata(&env), [json!({})]);
    });
}

#[test]
fn a_key_bound_to_other_metadata_at_whop_is_a_device_mismatch() {
    both(|db| async move {
        let env = Env::new(db, "");
        let mut membership = FakeMembership::new("mem_1", WHOP_KEY);
        membership.metadata = json!({"HWID": "another-machine"});
        env.whop.add_membership(membership);
        assert_eq!(
            activate(&env, WHOP_KEY, "hw-1").await.unwrap_err(),
            LicenseError::DeviceMismatch
        );
        // Node-locked everywhere: the device hash went in the first call, and its refusal is the answer.
        let hash = env.store().hash_hwid("hw-1");
        assert_eq!(validate_metadata(&env), [json!({"hwid": hash.as_str()})]);
        nothing_stored(&env, WHOP_KEY);
    });
}

#[test]
fn a_key_no_provider_knows_is_not_found_after_asking_both() {
    both(|db| async move {
        let env = Env::new(db, "");
        assert_eq!(
            activate(&env, "NOPE-NOPE-NOPE-NOPE", "hw-1").await.unwrap_err(),
            LicenseError::LicenseNotFound
        );
        assert_eq!(env.whop.request_count(), 1);
        assert_eq!(env.dodo.count("POST", "/licenses/activate"), 1);
        nothing_stored(&env, "NOPE-NOPE-NOPE-NOPE");
        assert_eq!(
            activate(&env, "", "hw-1").await.unwrap_err(),
            LicenseError::InvalidRequest("license_key is empty")
        );
        assert_eq!(
            activate(&env, "KEY-1234", &"h".repeat(600)).await.unwrap_err(),
            LicenseError::InvalidRequest("hwid is too long")
        );
    });
}

#[test]
fn an_inactive_membership_is_license_inactive_and_the_denial_is_audited() {
    both(|db| async move {
        let env = Env::new(db, "");
        let mut membership = FakeMembership::new("mem_1", WHOP_KEY);
        membership.status = "expired".to_owned();
        env.whop.add_membership(membership);
        assert_eq!(
            activate(&env, WHOP_KEY, "hw-1").await.unwrap_err(),
            LicenseError::LicenseInactive
        );
        let ent = env.store().list_entitlements_by_license_key(WHOP_KEY).unwrap();
        assert_eq!(ent.len(), 1, "Whop's answer is kept");
        assert_eq!(env.store().list_devices(&ent[0].id).unwrap(), vec![]);
        let denials = env.licensing.denials(WHOP_KEY).unwrap();
        assert_eq!(denials.len(), 1);
        let detail = denials[0].detail.clone().unwrap();
        assert!(
            detail.starts_with("activate: LICENSE_INACTIVE; hwid_hash "),
            "{detail}"
        );
        assert!(!detail.contains("hw-1") && !detail.contains(WHOP_KEY));
    });
}

#[test]
fn dodo_activation_records_the_instance_and_dodo_422_is_device_limit_reached() {
    let policy = "[[products]]\nprovider = \"dodo\"\nproduct = \"pdt_fake\"\nmax_devices = 3\n";
    both(|db| async move {
        let env = Env::new(db, policy);
        env.dodo
            .add_license_key(FakeLicenseKey::new("lic_1", DODO_KEY, Some(1)));
        let grant = activate(&env, DODO_KEY, "hw-1").await.unwrap();
        assert_eq!(grant.entitlement.external_id, "lic_1");
        assert_eq!(grant.entitlement.provider.as_str(), "dodo");
        assert_eq!(env.whop.request_count(), 0, "a UUID-shaped key asks Dodo first");
        let instances = env.dodo.license_key(DODO_KEY).unwrap().instances;
        assert_eq!(instances.len(), 1);
        let ent = env.store().list_entitlements_by_license_key(DODO_KEY).unwrap();
        let devices = env.store().list_devices(&ent[0].id).unwrap();
        assert_eq!(
            devices[0].provider_instance_id.as_deref(),
            Some(instances[0].0.as_str())
        );

        assert_eq!(
            activate(&env, DODO_KEY, "hw-2").await.unwrap_err(),
            LicenseError::DeviceLimitReached
        );
        assert_eq!(env.store().list_devices(&ent[0].id).unwrap().len(), 1);

        env.dodo.add_license_key({
            let mut key = FakeLicenseKey::new("lic_2", "0f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b", None);
            key.status = "disabled".to_owned();
            key
        });
        assert_eq!(
            activate(&env, "0f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b", "hw-1")
                .await
                .unwrap_err(),
            LicenseError::LicenseInactive
        );
    });
}

#[test]
fn a_provider_that_is_down_or_slow_is_unavailable_and_nothing_is_stored() {
    both(|db| async move {
        let env = Env::new(db, "");
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        env.whop.fail_always(Fault::Status(503));
        assert_eq!(
            activate(&env, WHOP_KEY, "hw-1").await.unwrap_err(),
            LicenseError::ProviderUnavailable
        );
        nothing_stored(&env, WHOP_KEY);
        assert_eq!(env.whop.membership("mem_1").unwrap().metadata, json!({}));

        env.whop.clear_faults();
        env.whop
            .fail_always(Fault::Slow(CLIENT_TIMEOUT + Duration::from_millis(700)));
        assert_eq!(
            activate(&env, WHOP_KEY, "hw-1").await.unwrap_err(),
            LicenseError::ProviderUnavailable
        );
        nothing_stored(&env, WHOP_KEY);

        // A Dodo key while Dodo is down: no entitlement and no device, and no false "not found" from Whop.
        env.whop.clear_faults();
        env.dodo
            .add_license_key(FakeLicenseKey::new("lic_1", DODO_KEY, None));
        env.dodo.fail_always(Fault::Status(503));
        assert_eq!(
            activate(&env, DODO_KEY, "hw-1").await.unwrap_err(),
            LicenseError::ProviderUnavailable
        );
        nothing_stored(&env, DODO_KEY);
        assert_eq!(env.dodo.license_key(DODO_KEY).unwrap().instances, vec![]);
    });
}
