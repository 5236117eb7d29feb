//! Activation over HTTP: the exact `200` body, each refusal with its status and code, and provider outages that
//! answer `503 PROVIDER_UNAVAILABLE` and store nothing.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use chrono::TimeDelta;
use serde_json::json;
use tollgate_providers::dodo::fake::FakeLicenseKey;
use tollgate_providers::whop::fake::FakeMembership;
use tollgate_testkit::{FakeProvider as _, Fault};

use crate::harness::app::{SERVICE_TOKEN, app, get, send};
use crate::harness::license::{DODO_KEY, Env, WHOP_KEY, both_with_fakes, license, rfc3339};

fn nothing_stored(env: &Env, key: &str) {
    assert_eq!(
        env.srv
            .state
            .store()
            .list_entitlements_by_license_key(key)
            .unwrap(),
        vec![]
    );
}

#[actix_web::test]
async fn an_activation_answers_the_exact_body_with_the_entitlement_of_the_service_api() {
    both_with_fakes(&[], async |env| {
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        let app = app(&env.srv.state).await;
        let now = env.now();

        let reply = license(&app, "activate", WHOP_KEY, "hw-1").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert!(reply.headers.contains_key("x-request-id"));
        let body = reply.json();
        let mut keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["code", "device", "entitlement", "lease"]);
        assert_eq!(body["code"], "VALID");
        let device_id = body["device"]["id"].as_str().unwrap();
        assert_eq!(
            body["device"],
            json!({"id": device_id, "activated_at": rfc3339(now)})
        );
        let token = body["lease"]["token"].as_str().unwrap();
        assert_eq!(token.split('.').count(), 3);
        assert_eq!(
            body["lease"],
            json!({
                "token": token,
                "expires_at": rfc3339(now + TimeDelta::hours(72)),
                "refresh_after": rfc3339(now + TimeDelta::hours(24)),
            })
        );

        // The entitlement is the service API's item for the same subscription, with this device's access.
        let listed = get(
            &app,
            "/api/entitlements?provider=whop&subject=user_fake",
            Some(SERVICE_TOKEN),
        )
        .await
        .json()["entitlements"][0]
            .clone();
        let entitlement = &body["entitlement"];
        for field in [
            "id",
            "provider",
            "external_id",
            "subject",
            "product",
            "status",
            "current_period_end",
            "cancel_at_period_end",
            "plan",
        ] {
            assert_eq!(entitlement[field], listed[field], "{field}");
        }
        assert_eq!(entitlement["external_id"], "mem_1");
        assert_eq!(entitlement["plan"], "plan_fake");
        assert_eq!(
            entitlement["access"],
            json!({"allowed": true, "code": "VALID", "until": rfc3339(now + TimeDelta::hours(72))})
        );
    })
    .await;
}

#[actix_web::test]
async fn each_refusal_has_its_status_and_code() {
    both_with_fakes(&[("TOLLGATE_POLICY__DEFAULT__MAX_DEVICES", "3")], async |env| {
        let app = app(&env.srv.state).await;

        // A key no provider knows (both were asked).
        let reply = license(&app, "activate", "NOPE-NOPE-NOPE-NOPE", "hw-1").await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::NOT_FOUND, "LICENSE_NOT_FOUND".to_owned())
        );
        nothing_stored(&env, "NOPE-NOPE-NOPE-NOPE");

        let mut expired = FakeMembership::new("mem_expired", "EXPIRED-1111-2222-3333");
        expired.status = "expired".to_owned();
        env.whop.add_membership(expired);
        let reply = license(&app, "activate", "EXPIRED-1111-2222-3333", "hw-1").await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::FORBIDDEN, "LICENSE_INACTIVE".to_owned())
        );
        assert_eq!(
            reply.json()["message"],
            "This license is no longer active (it expired, was cancelled or was revoked). Renew it to keep using the app."
        );

        // Dodo: the key's activation limit (1) is reached at Dodo before the local limit (3).
        env.dodo
            .add_license_key(FakeLicenseKey::new("lic_1", DODO_KEY, Some(1)));
        assert_eq!(license(&app, "activate", DODO_KEY, "hw-1").await.status, StatusCode::OK);
        let reply = license(&app, "activate", DODO_KEY, "hw-2").await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::CONFLICT, "DEVICE_LIMIT_REACHED".to_owned())
        );
        assert_eq!(env.dodo.license_key(DODO_KEY).unwrap().instances.len(), 1);

        // Bad input: not JSON, a missing field, an empty key.
        let bad_json = send(
            &app,
            TestRequest::post()
                .uri("/api/license/activate")
                .insert_header(("content-type", "application/json"))
                .set_payload("{not json"),
        )
        .await;
        assert_eq!(
            (bad_json.status, bad_json.code()),
            (StatusCode::BAD_REQUEST, "INVALID_REQUEST".to_owned())
        );
        let reply = crate::harness::license::post_json(
            &app,
            "/api/license/activate",
            &json!({"license_key": WHOP_KEY}),
            crate::harness::license::PEER,
        )
        .await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "INVALID_REQUEST".to_owned())
        );
        let reply = license(&app, "activate", "", "hw-1").await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "INVALID_REQUEST".to_owned())
        );
    })
    .await;
}

#[actix_web::test]
async fn a_node_locked_key_bound_elsewhere_at_whop_is_a_device_mismatch() {
    both_with_fakes(&[], async |env| {
        let app = app(&env.srv.state).await;
        let mut membership = FakeMembership::new("mem_1", WHOP_KEY);
        membership.metadata = json!({"HWID": "another-machine"}).as_object().unwrap().clone();
        env.whop.add_membership(membership);
        let reply = license(&app, "activate", WHOP_KEY, "hw-1").await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::CONFLICT, "DEVICE_MISMATCH".to_owned())
        );
        nothing_stored(&env, WHOP_KEY);

        // Bound here to hw-1, a second machine is refused the same way.
        env.whop
            .add_membership(FakeMembership::new("mem_2", "SECOND-1111-2222-3333"));
        assert_eq!(
            license(&app, "activate", "SECOND-1111-2222-3333", "hw-1")
                .await
                .status,
            StatusCode::OK
        );
        let reply = license(&app, "activate", "SECOND-1111-2222-3333", "hw-2").await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::CONFLICT, "DEVICE_MISMATCH".to_owned())
        );
    })
    .await;
}

#[actix_web::test]
async fn a_provider_that_is_down_or_slow_is_unavailable_and_nothing_is_stored() {
    both_with_fakes(&[], async |env| {
        let app = app(&env.srv.state).await;
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));

        env.whop.fail_always(Fault::Status(503));
        let reply = license(&app, "activate", WHOP_KEY, "hw-1").await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::SERVICE_UNAVAILABLE, "PROVIDER_UNAVAILABLE".to_owned())
        );
        nothing_stored(&env, WHOP_KEY);
        assert!(env.whop.membership("mem_1").unwrap().metadata.is_empty());

        // Slower than `providers.whop.request_timeout` (1 s here).
        env.whop.clear_faults();
        env.whop.fail_always(Fault::Slow(Duration::from_millis(1_800)));
        let reply = license(&app, "activate", WHOP_KEY, "hw-1").await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::SERVICE_UNAVAILABLE, "PROVIDER_UNAVAILABLE".to_owned())
        );
        nothing_stored(&env, WHOP_KEY);

        // A Dodo key while Dodo is down: no entitlement, no instance, no false "not found".
        env.whop.clear_faults();
        env.dodo
            .add_license_key(FakeLicenseKey::new("lic_1", DODO_KEY, None));
        env.dodo.fail_always(Fault::Drop);
        let reply = license(&app, "activate", DODO_KEY, "hw-1").await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::SERVICE_UNAVAILABLE, "PROVIDER_UNAVAILABLE".to_owned())
        );
        nothing_stored(&env, DODO_KEY);
        assert_eq!(env.dodo.license_key(DODO_KEY).unwrap().instances, vec![]);
    })
    .await;
}
