//! Validation: answered from local state, a store-applied revoke denies on the next validate, the provider is
//! consulted only when the entitlement is stale and its outage never denies, and the lease boundary is exact.

#![expect(clippy::unwrap_used, reason = "tests")]

use crate::common::folding::Folding as _;
use crate::common::license_harness as harness;

use std::sync::Arc;

use chrono::TimeDelta;
use tollgate_policy::{EventKind, Provider, ProviderEvent};
use tollgate_providers::dodo::fake::FakeLicenseKey;
use tollgate_providers::whop::fake::FakeMembership;
use tollgate_service::clock::Clock as _;
use tollgate_service::lease::LeaseError;
use tollgate_service::license::{LicenseError, LicenseGrant};
use tollgate_store::{Actor, EntitlementChange, EntitlementId};
use tollgate_testkit::{FakeProvider as _, Fault};

use harness::{Env, both};

const WHOP_KEY: &str = "KLINE-8FFK3-SD83K-3K3K3-3K3K3";
const DODO_KEY: &str = "3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b";
const LOOKUP_PATH: &str = "/api/v1/memberships/KLINE-8FFK3-SD83K-3K3K3-3K3K3";

async fn activate(env: &Env, key: &str, hwid: &str) -> LicenseGrant {
    env.activate(key, hwid, None).await.unwrap()
}

async fn validate(env: &Env, key: &str, hwid: &str) -> Result<Arc<LicenseGrant>, LicenseError> {
    env.validate(key, hwid).await
}

#[test]
fn validation_answers_locally_and_a_store_applied_revoke_denies_the_next_one() {
    both(|db| async move {
        let env = Env::new(db, "");
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        let grant = activate(&env, WHOP_KEY, "hw-1").await;
        let calls = env.whop.count("GET", LOOKUP_PATH);

        env.clock.advance(TimeDelta::hours(2));
        let now = env.clock.now();
        let fresh = validate(&env, WHOP_KEY, "hw-1").await.unwrap();
        assert_eq!(
            env.whop.count("GET", LOOKUP_PATH),
            calls,
            "fresh state: Whop is not asked"
        );
        assert_eq!(fresh.device.id, grant.device.id);
        assert_eq!(fresh.lease.expires_at, now + TimeDelta::hours(72));
        env.licensing.leases().verify(&fresh.lease.token, now).unwrap();
        let ent = EntitlementId::new(grant.entitlement.id.clone());
        assert_eq!(env.store().list_devices(&ent).unwrap()[0].last_seen_at, now);

        assert_eq!(
            validate(&env, WHOP_KEY, "hw-9").await.unwrap_err(),
            LicenseError::DeviceNotActivated
        );
        assert_eq!(
            validate(&env, "UNKNOWN-KEY-1", "hw-1").await.unwrap_err(),
            LicenseError::LicenseNotFound
        );

        // A webhook revokes access (applied through the store, as ingest does).
        let revoke = ProviderEvent {
            provider: Provider::Whop,
            external_id: "mem_1".to_owned(),
            occurred_at: now + TimeDelta::seconds(1),
            subject: None,
            product: None,
            kind: EventKind::Deactivated {
                reason: Some("canceled".to_owned()),
                status: Some("canceled".to_owned()),
                paid_through: None,
            },
        };
        env.store()
            .apply_change(Actor::Webhook, &EntitlementChange::new(revoke), "webhook")
            .unwrap();
        env.clock.advance(TimeDelta::seconds(5));
        assert_eq!(
            validate(&env, WHOP_KEY, "hw-1").await.unwrap_err(),
            LicenseError::LicenseInactive
        );
        let denials = env.licensing.denials(WHOP_KEY).unwrap();
        assert_eq!(denials[0].actor, Actor::Validation);
        assert!(
            denials[0]
                .detail
                .as_deref()
                .unwrap()
                .starts_with("validate: LICENSE_INACTIVE")
        );
        assert_eq!(
            denials[0].device_id.as_ref().map(|d| d.as_str()),
            Some(grant.device.id.as_str())
        );
    });
}

#[test]
fn with_the_provider_down_fresh_and_stale_entitlements_still_validate_from_local_state() {
    both(|db| async move {
        let env = Env::new(db, "");
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        let grant = activate(&env, WHOP_KEY, "hw-1").await;
        let activated_at = env.clock.now();
        env.whop.fail_always(Fault::Status(503));
        let calls = env.whop.count("GET", LOOKUP_PATH);

        env.clock.advance(TimeDelta::hours(1));
        validate(&env, WHOP_KEY, "hw-1").await.unwrap();
        assert_eq!(env.whop.count("GET", LOOKUP_PATH), calls, "fresh: not asked");

        // Stale (synced more than revalidate_every = 24h ago): Whop is asked, fails, and local state answers.
        env.clock.set(activated_at + TimeDelta::hours(25));
        let now = env.clock.now();
        let stale = validate(&env, WHOP_KEY, "hw-1").await.unwrap();
        assert_eq!(env.whop.count("GET", LOOKUP_PATH), calls + 1);
        assert_eq!(stale.lease.expires_at, now + TimeDelta::hours(72));
        let ent = env
            .store()
            .get_entitlement(&EntitlementId::new(grant.entitlement.id.clone()))
            .unwrap();
        assert_eq!(
            ent.synced_at,
            Some(activated_at),
            "an outage does not count as a sync"
        );

        // Whop is back and says the membership was canceled without a webhook: the next stale validate folds it.
        env.whop.clear_faults();
        env.whop.set_status("mem_1", "canceled");
        assert_eq!(
            validate(&env, WHOP_KEY, "hw-1").await.unwrap_err(),
            LicenseError::LicenseInactive
        );
        let ent = env.store().get_entitlement(&ent.id).unwrap();
        assert_eq!(ent.synced_at, Some(now));
        assert_eq!(ent.state.status.as_deref(), Some("canceled"));
    });
}

#[test]
fn a_dodo_key_disabled_at_dodo_is_denied_at_the_next_stale_validation() {
    both(|db| async move {
        let env = Env::new(db, "");
        env.dodo
            .add_license_key(FakeLicenseKey::new("lic_1", DODO_KEY, None));
        activate(&env, DODO_KEY, "hw-1").await;
        env.dodo
            .update_license_key(DODO_KEY, |key| key.status = "disabled".to_owned());
        env.clock.advance(TimeDelta::hours(1));
        validate(&env, DODO_KEY, "hw-1").await.unwrap();
        assert_eq!(env.dodo.count("POST", "/licenses/validate"), 0);
        env.clock.advance(TimeDelta::hours(24));
        assert_eq!(
            validate(&env, DODO_KEY, "hw-1").await.unwrap_err(),
            LicenseError::LicenseInactive
        );
        assert_eq!(env.dodo.count("POST", "/licenses/validate"), 1);
    });
}

#[test]
fn with_a_fixed_clock_a_lease_issued_at_t_verifies_until_exactly_its_exp() {
    both(|db| async move {
        let env = Env::new(db, "[default]\noffline_grace = \"48h\"\n");
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        let issued = env.clock.now();
        let grant = activate(&env, WHOP_KEY, "hw-1").await;
        let exp = issued + TimeDelta::hours(48);
        assert_eq!(grant.lease.expires_at, exp);
        let leases = env.licensing.leases();
        leases.verify(&grant.lease.token, exp).unwrap();
        assert_eq!(
            leases.verify(&grant.lease.token, exp + TimeDelta::seconds(1)),
            Err(LeaseError::Expired)
        );
    });
}
