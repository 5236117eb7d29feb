//! The lease device claim (`dev`, docs/security.md "Leases are bound to the device"): every lease signed on
//! activation and validation carries `SHA-256(salt ‖ hwid)` for the hwid exactly as the app sent it, with a new
//! salt per lease; leases signed before the claim existed still verify. SQLite and PostgreSQL.

#![expect(clippy::unwrap_used, reason = "tests")]

use crate::common::license_harness as harness;

use chrono::TimeDelta;
use tollgate_providers::whop::fake::FakeMembership;
use tollgate_service::clock::Clock as _;
use tollgate_service::lease::{DeviceClaim, LeaseClaims};
use tollgate_service::license::LicensingOptions;

use harness::{Env, both};

const KEY: &str = "KLINE-8FFK3-SD83K-3K3K3-3K3K3";
/// What the clients send: their device hash, 64 lowercase hex characters.
const HWID: &str = "5f0c1a9d2e7b4c3f8a6d1e0b9c2f7a4e3d8c1b6a5f0e9d2c7b4a3f8e1d6c5b0a";

#[test]
fn activation_and_validation_leases_carry_a_claim_for_the_hwid_as_sent() {
    both(|db| async move {
        // no reuse: every validation signs a new lease
        let options = LicensingOptions {
            reuse_for: TimeDelta::zero(),
            ..LicensingOptions::default()
        };
        let env = Env::with_options(db, "", options);
        env.whop.add_membership(FakeMembership::new("mem_1", KEY));
        let now = env.clock.now();
        let leases = env.licensing.leases();

        let activated = env.activate(KEY, HWID, None).await.unwrap();
        let first = leases.verify(&activated.lease.token, now).unwrap();
        let dev = first.dev.clone().unwrap();
        assert!(dev.matches(HWID));
        assert!(!dev.matches(&HWID.to_uppercase()), "the hwid exactly as sent");
        assert!(!dev.matches("another device"));
        assert!(!activated.lease.token.contains(HWID));

        let validated = env.validate(KEY, HWID).await.unwrap();
        let second = leases.verify(&validated.lease.token, now).unwrap();
        let dev2 = second.dev.unwrap();
        assert!(dev2.matches(HWID));
        assert_ne!(dev2.salt, dev.salt, "a new salt per lease");
        // the hwid claim is still the server's keyed hash
        assert_eq!(second.hwid, env.store().hash_hwid(HWID).as_str());
    });
}

#[test]
fn a_lease_signed_without_the_claim_still_verifies() {
    both(|db| async move {
        let env = Env::new(db, "");
        let now = env.clock.now();
        let leases = env.licensing.leases();
        let old = LeaseClaims {
            iss: "tollgate".to_owned(),
            sub: "ent_1".to_owned(),
            aud: "prod_1".to_owned(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: (now + TimeDelta::hours(72)).timestamp(),
            refresh_after: (now + TimeDelta::hours(24)).timestamp(),
            hwid: "9f".repeat(32),
            plan: None,
            status: "active".to_owned(),
            features: vec![],
            dev: None,
        };
        let token = leases.sign(&old).unwrap();
        let payload = token.split('.').nth(1).unwrap();
        assert!(
            !String::from_utf8(base64_decode(payload))
                .unwrap()
                .contains("\"dev\"")
        );
        assert_eq!(leases.verify(&token, now).unwrap(), old);

        let with_claim = LeaseClaims {
            dev: Some(DeviceClaim::with_salt(&[7; 16], HWID)),
            ..old
        };
        let token = leases.sign(&with_claim).unwrap();
        assert_eq!(leases.verify(&token, now).unwrap(), with_claim);
    });
}

fn base64_decode(part: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap()
}
