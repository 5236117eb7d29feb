//! Activation against the fake Whop and Dodo on loopback, on SQLite and PostgreSQL: success with a lease that
//! verifies, each refusal with its exact code, and provider outages that store nothing.

#![expect(clippy::unwrap_used, reason = "tests")]

use crate::common::license_harness as harness;

use std::time::Duration;

use chrono::TimeDelta;
use serde_json::json;
use tollgate_providers::dodo::fake::FakeLicenseKey;
use tollgate_providers::whop::binding::device_tag;
use tollgate_providers::whop::fake::FakeMembership;
use tollgate_service::clock::Clock as _;
use tollgate_service::license::{LicenseError, LicenseGrant, LicensingOptions};
use tollgate_store::{EntitlementId, MirrorState};
use tollgate_testkit::{FakeProvider as _, Fault};

use harness::{CLIENT_TIMEOUT, Env, both};

const WHOP_KEY: &str = "KLINE-8FFK3-SD83K-3K3K3-3K3K3";
const DODO_KEY: &str = "3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b";
const LOOKUP_PATH: &str = "/api/v1/memberships/KLINE-8FFK3-SD83K-3K3K3-3K3K3";
const UPDATE_PATH: &str = "/api/v1/memberships/mem_1";

async fn activate(env: &Env, key: &str, hwid: &str) -> Result<LicenseGrant, LicenseError> {
    env.activate(key, hwid, Some("Work laptop")).await
}

/// The metadata of each `PATCH` the fake Whop received for `mem_1`, in order.
fn written_metadata(env: &Env) -> Vec<serde_json::Value> {
    env.whop
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH" && r.path == UPDATE_PATH)
        .map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["metadata"].clone())
        .collect()
}

fn tag(env: &Env, hwid: &str) -> String {
    device_tag("mem_1", env.store().hash_hwid(hwid).as_str())
}

fn nothing_stored(env: &Env, key: &str) {
    assert_eq!(env.store().list_entitlements_by_license_key(key).unwrap(), vec![]);
}

#[test]
fn a_whop_activation_looks_the_key_up_mirrors_a_hashed_binding_and_signs_a_lease_that_verifies() {
    both(|db| async move {
        let env = Env::new(db, "");
        env.whop
            .add_membership(FakeMembership::new("mem_1", WHOP_KEY).with_metadata(json!({"discord": "kept"})));
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

        // Two calls on the Current API, each pinned to a version: the look-up by key, then the binding written,
        // keeping the other key. The binding holds a salted hash of the keyed hash: no hwid, no hash.
        let calls: Vec<(String, String)> = env
            .whop
            .requests()
            .into_iter()
            .map(|r| (r.method, r.path))
            .collect();
        assert_eq!(
            calls,
            [
                ("GET".to_owned(), LOOKUP_PATH.to_owned()),
                ("PATCH".to_owned(), UPDATE_PATH.to_owned())
            ]
        );
        assert_eq!(
            written_metadata(&env),
            [json!({"discord": "kept", "tollgate_devices": tag(&env, "hw-1")})]
        );
        let stored = serde_json::Value::Object(env.whop.membership("mem_1").unwrap().metadata);
        assert_eq!(
            stored,
            json!({"discord": "kept", "tollgate_devices": tag(&env, "hw-1")})
        );
        assert!(!stored.to_string().contains("hw-1") && !stored.to_string().contains(hash.as_str()));

        let ent = env.store().list_entitlements_by_license_key(WHOP_KEY).unwrap();
        let devices = env.store().list_devices(&ent[0].id).unwrap();
        assert_eq!(devices.len(), 1);
        assert_eq!(devices[0].name.as_deref(), Some("Work laptop"));
        assert_eq!(ent[0].synced_at, Some(now));
        assert_eq!(
            env.store()
                .find_binding_mirror(&ent[0].id)
                .unwrap()
                .map(|m| m.state),
            Some(MirrorState::Written)
        );
        let actions: Vec<String> = env
            .store()
            .list_audit(&ent[0].id, 10)
            .unwrap()
            .into_iter()
            .map(|a| a.action)
            .collect();
        assert_eq!(actions, ["device.activated", "event.updated"]);

        // The same device again: the same device, no second slot, and no write (the binding already says so).
        let again = activate(&env, WHOP_KEY, "hw-1").await.unwrap();
        assert_eq!(again.device.id, grant.device.id);
        assert_eq!(written_metadata(&env).len(), 1);
        // Another device on a node-locked key: refused by Tollgate's own devices, and nothing written at Whop.
        assert_eq!(
            activate(&env, WHOP_KEY, "hw-2").await.unwrap_err(),
            LicenseError::DeviceMismatch
        );
        assert_eq!(written_metadata(&env).len(), 1);
        assert_eq!(env.store().list_devices(&ent[0].id).unwrap().len(), 1);
        assert_eq!(env.whop.retired_calls(), 0);
    });
}

#[test]
fn n_devices_are_all_in_the_binding_and_a_deactivation_writes_it_without_the_device() {
    both(|db| async move {
        let env = Env::new(db, "[default]\nmax_devices = 3\n");
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        activate(&env, WHOP_KEY, "hw-1").await.unwrap();
        env.clock.advance(TimeDelta::seconds(1));
        activate(&env, WHOP_KEY, "hw-2").await.unwrap();
        let both_tags = format!("{},{}", tag(&env, "hw-1"), tag(&env, "hw-2"));
        assert_eq!(
            env.whop.membership("mem_1").unwrap().metadata["tollgate_devices"],
            json!(both_tags)
        );
        env.deactivate(WHOP_KEY, "hw-1").await.unwrap();
        assert_eq!(
            env.whop.membership("mem_1").unwrap().metadata["tollgate_devices"],
            json!(tag(&env, "hw-2"))
        );
    });
}

#[test]
fn a_key_an_older_integration_bound_adopts_the_same_device_and_refuses_another() {
    // Bound to this device's raw id under `HWID`: adopted, Tollgate's binding added, the old key left alone.
    both(|db| async move {
        let env = Env::new(db, "");
        env.whop.add_membership(
            FakeMembership::new("mem_1", WHOP_KEY).with_metadata(json!({"HWID": "machine-1"})),
        );
        activate(&env, WHOP_KEY, "machine-1").await.unwrap();
        assert_eq!(
            serde_json::Value::Object(env.whop.membership("mem_1").unwrap().metadata),
            json!({"HWID": "machine-1", "tollgate_devices": tag(&env, "machine-1")})
        );
        // Once adopted, Tollgate's binding rules: the same device again is fine.
        activate(&env, WHOP_KEY, "machine-1").await.unwrap();
    });
    // Bound to another machine (`hwid` spelled in lower case): refused with the message to reset it in Whop, and
    // nothing is stored or written.
    both(|db| async move {
        let env = Env::new(db, "");
        env.whop.add_membership(
            FakeMembership::new("mem_1", WHOP_KEY).with_metadata(json!({"hwid": "another-machine"})),
        );
        let refusal = activate(&env, WHOP_KEY, "machine-1").await.unwrap_err();
        assert_eq!(refusal, LicenseError::BoundAtWhop);
        // Its status (409) is the HTTP layer's: bin/tollgate/src/http/error.rs, `each_license_error_has_its_row`.
        assert_eq!(refusal.code(), "DEVICE_MISMATCH");
        assert!(
            refusal.message().contains("Reset the key in your Whop account"),
            "{}",
            refusal.message()
        );
        nothing_stored(&env, WHOP_KEY);
        assert_eq!(written_metadata(&env), Vec::<serde_json::Value>::new());
    });
    // The setting that ignores such bindings: the key activates and Tollgate's binding is added.
    both(|db| async move {
        let options = LicensingOptions {
            whop_legacy_keys: Vec::new(),
            ..LicensingOptions::default()
        };
        let env = Env::with_options(db, "", options);
        env.whop.add_membership(
            FakeMembership::new("mem_1", WHOP_KEY).with_metadata(json!({"HWID": "another-machine"})),
        );
        activate(&env, WHOP_KEY, "machine-1").await.unwrap();
        assert_eq!(
            env.whop.membership("mem_1").unwrap().metadata["tollgate_devices"],
            json!(tag(&env, "machine-1"))
        );
    });
}

#[test]
fn tollgates_own_v2_era_binding_is_recognised_and_blanked() {
    both(|db| async move {
        let env = Env::new(db, "");
        // A v2-era Tollgate bound `{"hwid": <keyed hash>}` of the device it activated.
        let hash = env.store().hash_hwid("hw-1");
        env.whop.add_membership(
            FakeMembership::new("mem_1", WHOP_KEY).with_metadata(json!({"hwid": hash.as_str()})),
        );
        activate(&env, WHOP_KEY, "hw-1").await.unwrap();
        assert_eq!(
            serde_json::Value::Object(env.whop.membership("mem_1").unwrap().metadata),
            json!({"hwid": "", "tollgate_devices": tag(&env, "hw-1")})
        );
    });
}

#[test]
fn a_reset_at_whop_frees_the_devices_at_the_next_activation_unless_the_policy_says_otherwise() {
    both(|db| async move {
        let env = Env::new(db, "");
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        activate(&env, WHOP_KEY, "old-pc").await.unwrap();
        assert_eq!(
            activate(&env, WHOP_KEY, "new-pc").await.unwrap_err(),
            LicenseError::DeviceMismatch
        );
        // The customer presses "Reset Key" in Whop; a moment later the new computer activates.
        assert!(env.whop.dashboard_reset("mem_1"));
        env.clock.advance(TimeDelta::seconds(5));
        let grant = activate(&env, WHOP_KEY, "new-pc").await.unwrap();
        let id = EntitlementId::new(grant.entitlement.id.clone());
        let devices = env.store().list_devices(&id).unwrap();
        assert_eq!(devices.len(), 1);
        assert_eq!(devices[0].hwid_hash, env.store().hash_hwid("new-pc"));
        assert_eq!(
            env.whop.membership("mem_1").unwrap().metadata["tollgate_devices"],
            json!(tag(&env, "new-pc"))
        );
        let reset = env
            .store()
            .list_audit(&id, 20)
            .unwrap()
            .into_iter()
            .find(|a| a.action == "device.reset")
            .unwrap();
        assert!(reset.detail.unwrap().starts_with("reset at Whop"));
        assert_eq!(
            env.validate(WHOP_KEY, "old-pc").await.unwrap_err(),
            LicenseError::DeviceNotActivated
        );
    });
    // `honor_provider_reset = false`: the devices stay, and the binding is written back.
    both(|db| async move {
        let env = Env::new(db, "[default]\nhonor_provider_reset = false\n");
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        activate(&env, WHOP_KEY, "old-pc").await.unwrap();
        env.whop.dashboard_reset("mem_1");
        env.clock.advance(TimeDelta::seconds(5));
        assert_eq!(
            activate(&env, WHOP_KEY, "new-pc").await.unwrap_err(),
            LicenseError::DeviceMismatch
        );
        activate(&env, WHOP_KEY, "old-pc").await.unwrap();
        assert_eq!(
            env.whop.membership("mem_1").unwrap().metadata["tollgate_devices"],
            json!(tag(&env, "old-pc"))
        );
    });
}

#[test]
fn a_failed_binding_write_never_blocks_and_is_not_mistaken_for_a_reset() {
    both(|db| async move {
        let env = Env::new(db, "");
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        // The look-up answers; the write (the next request) fails.
        env.whop.fail_next(Fault::Answer, 1);
        env.whop.fail_next(Fault::Status(503), 1);
        let first = activate(&env, WHOP_KEY, "hw-1").await.unwrap();
        let id = EntitlementId::new(first.entitlement.id.clone());
        assert!(env.whop.membership("mem_1").unwrap().metadata.is_empty());
        assert_eq!(
            env.store().find_binding_mirror(&id).unwrap().map(|m| m.state),
            Some(MirrorState::Pending)
        );
        // The next look-up sees no binding, but the write was pending, not cleared at Whop: it is repaired, and the
        // device keeps its slot.
        env.clock.advance(TimeDelta::seconds(5));
        activate(&env, WHOP_KEY, "hw-1").await.unwrap();
        assert_eq!(
            env.whop.membership("mem_1").unwrap().metadata["tollgate_devices"],
            json!(tag(&env, "hw-1"))
        );
        assert_eq!(
            env.store().find_binding_mirror(&id).unwrap().map(|m| m.state),
            Some(MirrorState::Written)
        );
        assert_eq!(env.store().list_devices(&id).unwrap().len(), 1);
    });
}

#[test]
fn whop_refusing_the_api_key_or_answering_a_retired_route_is_unavailable_never_not_found() {
    both(|db| async move {
        let env = Env::new(db, "");
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        env.whop.set_permissions(&[]);
        assert_eq!(
            activate(&env, WHOP_KEY, "hw-1").await.unwrap_err(),
            LicenseError::ProviderUnavailable
        );
        nothing_stored(&env, WHOP_KEY);
        // Read but not manage: the activation succeeds, the binding waits.
        env.whop.set_permissions(&["member:basic:read"]);
        let grant = activate(&env, WHOP_KEY, "hw-1").await.unwrap();
        let id = EntitlementId::new(grant.entitlement.id.clone());
        assert_eq!(
            env.store().find_binding_mirror(&id).unwrap().map(|m| m.state),
            Some(MirrorState::Pending)
        );
        // An activated device whose key Whop no longer finds: never "not found".
        env.whop
            .update_membership("mem_1", |m| m.license_key = "CHANGED".to_owned());
        assert_eq!(
            activate(&env, WHOP_KEY, "hw-1").await.unwrap_err(),
            LicenseError::ProviderUnavailable
        );
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
    for status in ["expired", "canceled"] {
        both(|db| async move {
            let env = Env::new(db, "");
            let mut membership = FakeMembership::new("mem_1", WHOP_KEY);
            membership.status = status.to_owned();
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
            assert_eq!(
                written_metadata(&env),
                Vec::<serde_json::Value>::new(),
                "no binding for a refusal"
            );
        });
    }
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
        assert!(env.whop.membership("mem_1").unwrap().metadata.is_empty());

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
