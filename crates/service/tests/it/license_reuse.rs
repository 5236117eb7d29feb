//! Lease reuse: a revalidation within `reuse_for` answers the lease signed moments ago (the same `Arc`, so from
//! memory), and never hides a change this process committed since, nor outlives `reuse_for`, the lease's
//! `refresh_after`, the paid-through time or the next provider check. Real store (SQLite and PostgreSQL), real
//! signer, a manual clock.

#![expect(clippy::unwrap_used, reason = "tests")]

use crate::common::folding::Folding as _;
use crate::common::license_harness as harness;

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use tollgate_policy::{EventKind, Provider, ProviderEvent};
use tollgate_providers::whop::fake::FakeMembership;
use tollgate_providers::{CallContext, ProviderApis};
use tollgate_service::clock::Clock as _;
use tollgate_service::lease::{LeaseSigner, longest_lease};
use tollgate_service::license::{
    DeactivateRequest, LicenseError, LicenseGrant, Licensing, LicensingOptions, ValidateRequest,
};
use tollgate_store::{Actor, EntitlementChange, EntitlementId, NewAudit, NewInboxEvent};
use tollgate_testkit::FakeProvider as _;

use harness::{Env, both};

const KEY: &str = "KLINE-8FFK3-SD83K-3K3K3-3K3K3";
const LOOKUP_PATH: &str = "/api/v1/memberships/KLINE-8FFK3-SD83K-3K3K3-3K3K3";
const TEN_DEVICES: &str = "[[products]]\nprovider = \"whop\"\nproduct = \"prod_fake\"\nmax_devices = 10\n";

async fn activate(env: &Env, hwid: &str) -> LicenseGrant {
    env.activate(KEY, hwid, None).await.unwrap()
}

async fn validate_with(licensing: &Licensing, hwid: &str) -> Result<Arc<LicenseGrant>, LicenseError> {
    let req = ValidateRequest {
        license_key: KEY.to_owned(),
        hwid: hwid.to_owned(),
    };
    licensing.validate(&CallContext::default(), &req).await
}

async fn validate(env: &Env, hwid: &str) -> Result<Arc<LicenseGrant>, LicenseError> {
    env.validate(KEY, hwid).await
}

fn reuse_for(secs: i64) -> LicensingOptions {
    LicensingOptions {
        reuse_for: TimeDelta::seconds(secs),
        ..LicensingOptions::default()
    }
}

/// An Env with one active Whop membership on `hw-1`, activated at the returned time.
async fn activated(env: &Env) -> (DateTime<Utc>, EntitlementId) {
    env.whop.add_membership(FakeMembership::new("mem_1", KEY));
    let t0 = env.clock.now();
    let grant = activate(env, "hw-1").await;
    (t0, EntitlementId::new(grant.entitlement.id.clone()))
}

fn whop_event(occurred_at: DateTime<Utc>, kind: EventKind) -> EntitlementChange {
    EntitlementChange::new(ProviderEvent {
        provider: Provider::Whop,
        external_id: "mem_1".to_owned(),
        occurred_at,
        subject: None,
        product: None,
        kind,
    })
}

fn same(a: &Arc<LicenseGrant>, b: &Arc<LicenseGrant>) -> bool {
    Arc::ptr_eq(a, b) && a.lease.token == b.lease.token
}

#[test]
fn a_revalidation_within_reuse_for_answers_the_same_lease_until_reuse_for_has_passed() {
    both(|db| async move {
        let env = Env::new(db, "");
        let (t0, _) = activated(&env).await;
        env.clock.set(t0 + TimeDelta::seconds(5));
        let first = validate(&env, "hw-1").await.unwrap();
        assert_eq!(env.licensing.reusable_leases(), 1);

        env.clock.set(t0 + TimeDelta::seconds(34));
        let again = validate(&env, "hw-1").await.unwrap();
        assert!(same(&first, &again), "29 s later: the same lease, from memory");
        let claims = env
            .licensing
            .leases()
            .verify(&again.lease.token, env.clock.now())
            .unwrap();
        assert_eq!(claims.iat, (t0 + TimeDelta::seconds(5)).timestamp());

        // reuse_for (30 s by default) after it was signed: a new lease.
        env.clock.set(t0 + TimeDelta::seconds(35));
        let renewed = validate(&env, "hw-1").await.unwrap();
        assert!(!Arc::ptr_eq(&first, &renewed));
        assert_ne!(renewed.lease.token, first.lease.token);
        assert_eq!(renewed.lease.expires_at, env.clock.now() + TimeDelta::hours(72));
        // Another device of the key has its own lease.
        assert_eq!(
            validate(&env, "hw-2").await.unwrap_err(),
            LicenseError::DeviceNotActivated
        );
    });
}

/// A reused lease's answer is serialized once (the HTTP layer sends `to_json`), and that JSON is the grant's.
#[test]
fn a_reused_answer_is_serialized_once_and_reads_as_the_grant() {
    both(|db| async move {
        let env = Env::new(db, "");
        let (t0, _) = activated(&env).await;
        env.clock.set(t0 + TimeDelta::seconds(5));
        let first = validate(&env, "hw-1").await.unwrap();
        let json = first.to_json().unwrap();
        let answer: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(answer, serde_json::to_value(&*first).unwrap());
        let fields: Vec<&String> = answer.as_object().unwrap().keys().collect();
        assert_eq!(fields, ["code", "device", "entitlement", "lease"]);
        assert_eq!(answer["lease"]["token"], first.lease.token.as_str());

        env.clock.set(t0 + TimeDelta::seconds(6));
        let again = validate(&env, "hw-1").await.unwrap();
        assert!(same(&first, &again));
        assert_eq!(
            again.to_json().unwrap().as_ptr(),
            json.as_ptr(),
            "serialized once"
        );
    });
}

#[test]
fn a_change_committed_through_the_store_shows_in_the_very_next_validation() {
    both(|db| async move {
        let env = Env::with_options(db, TEN_DEVICES, reuse_for(300));
        let (t0, ent) = activated(&env).await;
        activate(&env, "hw-2").await;
        let store = env.store();
        env.clock.set(t0 + TimeDelta::seconds(1));
        let cached = validate(&env, "hw-1").await.unwrap();
        assert!(same(&cached, &validate(&env, "hw-1").await.unwrap()));

        // A renewal webhook recorded through the inbox: access goes on, but the lease is signed anew from the new
        // state (at the same second, so only a re-read explains the new paid-through time in the view).
        let paid_through = t0 + TimeDelta::days(60);
        let renewal = NewInboxEvent {
            provider: Provider::Whop,
            dedupe_key: "msg_renewal".to_owned(),
            semantic_key: None,
            event_type: "membership.went_valid".to_owned(),
            body: b"{}".to_vec(),
            received_at: env.clock.now(),
            webhook_id: Some("msg_renewal".to_owned()),
            signed_at: Some(env.clock.now()),
        };
        let renew = whop_event(
            env.clock.now(),
            EventKind::Renewed {
                paid_through,
                status: Some("active".to_owned()),
            },
        );
        store.record_webhook(&renewal, renew).unwrap();
        let renewed = validate(&env, "hw-1").await.unwrap();
        assert!(!Arc::ptr_eq(&cached, &renewed));
        assert_eq!(renewed.entitlement.current_period_end, Some(paid_through));
        assert!(same(&renewed, &validate(&env, "hw-1").await.unwrap()));

        // A device removed through the store (an admin tool, another request of this process).
        let hwid_hash = store.hash_hwid("hw-2");
        let removed = store
            .write(|tx| {
                let Some(device) = tx.find_device(&ent, &hwid_hash)? else {
                    return Ok(None);
                };
                tx.delete_device(&device)?;
                tx.insert_audit(&NewAudit {
                    entitlement_id: Some(ent.clone()),
                    device_id: Some(device.id.clone()),
                    at: env.clock.now(),
                    actor: Actor::Admin,
                    action: "device.removed".to_owned(),
                    detail: None,
                    inbox_id: None,
                })?;
                Ok(Some(device))
            })
            .unwrap();
        assert!(removed.is_some());
        validate(&env, "hw-1").await.unwrap();
        assert_eq!(
            validate(&env, "hw-2").await.unwrap_err(),
            LicenseError::DeviceNotActivated
        );

        // A deactivation through the license flow.
        let cached = validate(&env, "hw-1").await.unwrap();
        let req = DeactivateRequest {
            license_key: KEY.to_owned(),
            hwid: "hw-1".to_owned(),
        };
        env.licensing
            .deactivate(&CallContext::default(), &req)
            .await
            .unwrap();
        assert_eq!(
            validate(&env, "hw-1").await.unwrap_err(),
            LicenseError::DeviceNotActivated
        );
        drop(cached);

        // A revocation webhook applied through the store denies at once, at the same second.
        activate(&env, "hw-3").await;
        validate(&env, "hw-3").await.unwrap();
        let revoke = whop_event(
            env.clock.now(),
            EventKind::Deactivated {
                reason: Some("canceled".to_owned()),
                status: Some("canceled".to_owned()),
                paid_through: None,
            },
        );
        store.apply_change(Actor::Webhook, &revoke, "webhook").unwrap();
        assert_eq!(
            validate(&env, "hw-3").await.unwrap_err(),
            LicenseError::LicenseInactive
        );
    });
}

#[test]
fn a_denial_is_never_kept() {
    both(|db| async move {
        let env = Env::new(db, "");
        let (t0, _) = activated(&env).await;
        let revoke = whop_event(
            t0,
            EventKind::Deactivated {
                reason: Some("canceled".to_owned()),
                status: Some("canceled".to_owned()),
                paid_through: None,
            },
        );
        env.store()
            .apply_change(Actor::Webhook, &revoke, "webhook")
            .unwrap();
        for _ in 0..2 {
            assert_eq!(
                validate(&env, "hw-1").await.unwrap_err(),
                LicenseError::LicenseInactive
            );
        }
        assert_eq!(
            validate(&env, "hw-9").await.unwrap_err(),
            LicenseError::LicenseInactive
        );
        assert_eq!(env.licensing.reusable_leases(), 0);
        // Each denial went the whole way and was audited.
        assert_eq!(env.licensing.denials(KEY).unwrap().len(), 3);
    });
}

#[test]
fn reuse_for_zero_signs_every_time() {
    both(|db| async move {
        let env = Env::with_options(db, "", reuse_for(0));
        let (t0, _) = activated(&env).await;
        env.clock.set(t0 + TimeDelta::seconds(1));
        let first = validate(&env, "hw-1").await.unwrap();
        let same_second = validate(&env, "hw-1").await.unwrap();
        assert!(!Arc::ptr_eq(&first, &same_second), "signed again, not reused");
        env.clock.set(t0 + TimeDelta::seconds(2));
        let next = validate(&env, "hw-1").await.unwrap();
        assert_ne!(next.lease.token, first.lease.token);
        assert_eq!(env.licensing.reusable_leases(), 0);
    });
}

#[test]
fn at_most_reuse_entries_leases_are_kept() {
    both(|db| async move {
        let options = LicensingOptions {
            reuse_entries: 4,
            ..reuse_for(300)
        };
        let env = Env::with_options(db, TEN_DEVICES, options);
        env.whop.add_membership(FakeMembership::new("mem_1", KEY));
        let hwids: Vec<String> = (0..8).map(|i| format!("hw-{i}")).collect();
        for hwid in &hwids {
            activate(&env, hwid).await;
        }
        for _ in 0..2 {
            for hwid in &hwids {
                validate(&env, hwid).await.unwrap();
                let kept = env.licensing.reusable_leases();
                assert!((1..=4).contains(&kept), "{kept} kept");
            }
        }
    });
}

#[test]
fn a_lease_is_not_reused_past_the_paid_through_time() {
    both(|db| async move {
        let env = Env::with_options(db, "", reuse_for(300));
        let t0 = env.clock.now();
        let paid_through = t0 + TimeDelta::seconds(20);
        let mut membership = FakeMembership::new("mem_1", KEY);
        membership.renewal_period_end = Some(paid_through.timestamp());
        env.whop.add_membership(membership);
        activate(&env, "hw-1").await;

        env.clock.set(t0 + TimeDelta::seconds(2));
        let first = validate(&env, "hw-1").await.unwrap();
        assert_eq!(first.entitlement.current_period_end, Some(paid_through));
        env.clock.set(paid_through - TimeDelta::seconds(1));
        assert!(same(&first, &validate(&env, "hw-1").await.unwrap()));
        env.clock.set(paid_through);
        let after = validate(&env, "hw-1").await.unwrap();
        assert!(!Arc::ptr_eq(&first, &after));
        assert_eq!(after.lease.expires_at, paid_through + TimeDelta::hours(72));
    });
}

#[test]
fn a_lease_is_not_reused_past_the_next_provider_check() {
    both(|db| async move {
        let env = Env::with_options(db, "[default]\nrevalidate_every = \"20s\"\n", reuse_for(300));
        let (t0, _) = activated(&env).await;
        let calls = env.whop.count("GET", LOOKUP_PATH);
        env.clock.set(t0 + TimeDelta::seconds(5));
        let first = validate(&env, "hw-1").await.unwrap();
        env.clock.set(t0 + TimeDelta::seconds(19));
        assert!(same(&first, &validate(&env, "hw-1").await.unwrap()));
        assert_eq!(env.whop.count("GET", LOOKUP_PATH), calls);

        // Synced at t0: stale at t0 + 20 s, before the lease's refresh_after (t0 + 25 s). Whop is asked.
        env.clock.set(t0 + TimeDelta::seconds(20));
        let checked = validate(&env, "hw-1").await.unwrap();
        assert_eq!(env.whop.count("GET", LOOKUP_PATH), calls + 1);
        assert!(!Arc::ptr_eq(&first, &checked));
        assert!(same(&checked, &validate(&env, "hw-1").await.unwrap()));
    });
}

#[test]
fn without_a_provider_api_a_lease_is_not_reused_past_its_refresh_after() {
    both(|db| async move {
        let env = Env::with_options(db, "[default]\nrevalidate_every = \"20s\"\n", reuse_for(300));
        let (t0, _) = activated(&env).await;
        // A second instance of the use cases on the same store, with no provider API configured.
        let leases = LeaseSigner::load_or_create(
            env.store(),
            "tollgate",
            longest_lease(&env.policies),
            env.clock.clone(),
        )
        .unwrap();
        let local = Licensing::new(
            env.store().clone(),
            env.policies.clone(),
            ProviderApis::new(),
            leases,
            env.clock.clone(),
            reuse_for(300),
        );
        env.clock.set(t0 + TimeDelta::seconds(5));
        let first = validate_with(&local, "hw-1").await.unwrap();
        assert_eq!(first.lease.refresh_after, t0 + TimeDelta::seconds(25));
        env.clock.set(t0 + TimeDelta::seconds(24));
        assert!(same(&first, &validate_with(&local, "hw-1").await.unwrap()));
        env.clock.set(t0 + TimeDelta::seconds(25));
        let refreshed = validate_with(&local, "hw-1").await.unwrap();
        assert!(!Arc::ptr_eq(&first, &refreshed));
        assert_eq!(refreshed.lease.refresh_after, t0 + TimeDelta::seconds(45));
    });
}
