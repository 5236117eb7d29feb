//! Dodo's answers mapped by what they mean, on SQLite and PostgreSQL: a 422 from `/licenses/activate` by its error
//! `code` (seats taken versus a request Dodo refuses), and a 404 from `/licenses/validate` as "this key does not
//! exist" (denied and revoked, with the audit saying why), never as an outage.

use crate::common::license_harness as harness;

use chrono::TimeDelta;
use tollgate_policy::{Lifecycle, Provider};
use tollgate_providers::dodo::fake::FakeLicenseKey;
use tollgate_service::license::LicenseError;
use tollgate_testkit::FakeProvider as _;

use harness::{Env, both};

const DODO_KEY: &str = "3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b";

#[test]
fn an_activate_422_is_mapped_by_its_code() {
    both(|db| async move {
        let env = Env::new(db, "[default]\nmax_devices = 5\n");
        env.dodo
            .add_license_key(FakeLicenseKey::new("lic_1", DODO_KEY, Some(1)));
        env.activate(DODO_KEY, "hw-1", None).await.unwrap();
        // LICENSE_KEY_LIMIT_REACHED: Dodo's seats are taken (Tollgate's own limit, 5, is not).
        let limit = env.activate(DODO_KEY, "hw-2", None).await.unwrap_err();
        assert_eq!(limit, LicenseError::DeviceLimitReached);
        // Statuses (409, 400) are the HTTP layer's: bin/tollgate/src/http/error.rs, `each_license_error_has_its_row`.
        assert_eq!(limit.code(), "DEVICE_LIMIT_REACHED");

        // INVALID_REQUEST_BODY: the request is refused; nothing about seats.
        env.dodo
            .update_license_key(DODO_KEY, |k| k.activations_limit = None);
        env.dodo.refuse_activations_as_invalid(true);
        let invalid = env.activate(DODO_KEY, "hw-2", None).await.unwrap_err();
        assert!(matches!(invalid, LicenseError::InvalidRequest(_)), "{invalid:?}");
        assert_eq!(invalid.code(), "INVALID_REQUEST");
        let entitlement = &env.store().list_entitlements_by_license_key(DODO_KEY).unwrap()[0];
        assert_eq!(env.store().list_devices(&entitlement.id).unwrap().len(), 1);

        // A key Tollgate has never seen that Dodo refuses as a request is no Dodo key: not found anywhere.
        assert_eq!(
            env.activate("9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b", "hw-9", None)
                .await
                .unwrap_err(),
            LicenseError::LicenseNotFound
        );
        env.dodo.refuse_activations_as_invalid(false);
        env.activate(DODO_KEY, "hw-2", None).await.unwrap();
    });
}

#[test]
fn a_validate_404_denies_and_revokes_with_the_audit_saying_why() {
    both(|db| async move {
        let env = Env::new(db, "");
        env.dodo
            .add_license_key(FakeLicenseKey::new("lic_1", DODO_KEY, None));
        env.dodo.validate_unknown_as_404(true);
        env.activate(DODO_KEY, "hw-1", None).await.unwrap();
        assert!(env.dodo.delete_license_key(DODO_KEY));
        env.clock.advance(TimeDelta::hours(25));
        assert_eq!(
            env.validate(DODO_KEY, "hw-1").await.unwrap_err(),
            LicenseError::LicenseNotFound
        );
        assert_eq!(env.dodo.count("POST", "/licenses/validate"), 1);
        let entitlement = env
            .store()
            .find_entitlement(Provider::Dodo, "lic_1")
            .unwrap()
            .unwrap();
        assert_eq!(entitlement.state.lifecycle, Lifecycle::Revoked);
        assert_eq!(
            entitlement.state.end_reason.as_deref(),
            Some("license_key_not_found")
        );
        let audit = env.store().list_audit(&entitlement.id, 10).unwrap();
        let details: Vec<&str> = audit.iter().filter_map(|a| a.detail.as_deref()).collect();
        // The revocation says why; the denied validation after it names the code.
        assert!(
            details[1].starts_with(
                "dodo licenses/validate: 404, Dodo has no such license key (deleted or never issued): lifecycle \
                 active -> revoked"
            ),
            "{details:?}"
        );
        assert_eq!(audit[1].actor.as_str(), "validation");
        assert!(
            details[0].starts_with("validate: LICENSE_NOT_FOUND"),
            "{details:?}"
        );
        // From local state from now on, without asking Dodo again until the entitlement is stale.
        assert_eq!(
            env.validate(DODO_KEY, "hw-1").await.unwrap_err(),
            LicenseError::LicenseInactive
        );
        assert_eq!(env.dodo.count("POST", "/licenses/validate"), 1);
    });
}

#[test]
fn a_validate_outage_still_answers_from_local_state() {
    both(|db| async move {
        let env = Env::new(db, "");
        env.dodo
            .add_license_key(FakeLicenseKey::new("lic_1", DODO_KEY, None));
        env.activate(DODO_KEY, "hw-1", None).await.unwrap();
        env.dodo.fail_always(tollgate_testkit::Fault::Status(503));
        env.clock.advance(TimeDelta::hours(25));
        env.validate(DODO_KEY, "hw-1").await.unwrap();
        let entitlement = env
            .store()
            .find_entitlement(Provider::Dodo, "lic_1")
            .unwrap()
            .unwrap();
        assert_eq!(entitlement.state.lifecycle, Lifecycle::Active);
    });
}
