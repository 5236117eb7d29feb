//! The admin's license routes: device reset (admin token only) and "why was this device denied?".

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use serde_json::json;
use tollgate_providers::whop::fake::FakeMembership;

use crate::harness::app::{ADMIN_TOKEN, SERVICE_TOKEN, app, get, post, send};
use crate::harness::license::{WHOP_KEY, both_with_fakes, bound_tags, license, rfc3339};

#[actix_web::test]
async fn an_admin_reset_frees_the_device_and_needs_the_admin_token() {
    both_with_fakes(&[], async |env| {
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        let app = app(&env.srv.state).await;
        let now = env.now();
        let grant = license(&app, "activate", WHOP_KEY, "hw-1").await.json();
        let entitlement = grant["entitlement"]["id"].as_str().unwrap();
        let device = grant["device"]["id"].as_str().unwrap();
        let uri = format!("/admin/entitlements/{entitlement}/devices/{device}/reset");

        // Node-locked (one device) and bound at Whop: another machine is refused until the reset.
        assert_eq!(license(&app, "activate", WHOP_KEY, "hw-2").await.code(), "DEVICE_MISMATCH");
        for token in [None, Some(SERVICE_TOKEN), Some("wrong-token-0123456789abcdef")] {
            let reply = post(&app, &uri, token).await;
            assert_eq!(
                (reply.status, reply.code()),
                (StatusCode::UNAUTHORIZED, "UNAUTHORIZED".to_owned()),
                "{token:?}"
            );
        }
        assert_eq!(license(&app, "validate", WHOP_KEY, "hw-1").await.status, StatusCode::OK);

        let reply = post(&app, &uri, Some(ADMIN_TOKEN)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(
            reply.json(),
            json!({
                "device": {"id": device, "name": "Work laptop", "activated_at": rfc3339(now), "last_seen_at": rfc3339(now)},
                "provider": "released",
            })
        );
        // Freed here and at Whop: hw-1 is no longer active, and hw-2 may take the license.
        assert_eq!(bound_tags(&env, "mem_1"), Some(vec![]));
        assert_eq!(
            license(&app, "validate", WHOP_KEY, "hw-1").await.code(),
            "DEVICE_NOT_ACTIVATED"
        );
        assert_eq!(license(&app, "activate", WHOP_KEY, "hw-2").await.status, StatusCode::OK);

        // The same device again, an unknown entitlement, a body that is not the optional key object.
        let reply = post(&app, &uri, Some(ADMIN_TOKEN)).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::NOT_FOUND, "NOT_FOUND".to_owned()));
        let reply = post(
            &app,
            &format!("/admin/entitlements/ent_nope/devices/{device}/reset"),
            Some(ADMIN_TOKEN),
        )
        .await;
        assert_eq!((reply.status, reply.code()), (StatusCode::NOT_FOUND, "NOT_FOUND".to_owned()));
        let reply = send(
            &app,
            TestRequest::post()
                .uri(&uri)
                .insert_header(("Authorization", format!("Bearer {ADMIN_TOKEN}")))
                .set_payload("[1, 2]"),
        )
        .await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "INVALID_REQUEST".to_owned())
        );
    })
    .await;
}

#[actix_web::test]
async fn denials_of_a_key_say_why_each_device_was_refused_newest_first() {
    both_with_fakes(&[], async |env| {
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        let app = app(&env.srv.state).await;
        let grant = license(&app, "activate", WHOP_KEY, "hw-1").await.json();
        assert_eq!(
            license(&app, "activate", WHOP_KEY, "hw-2").await.code(),
            "DEVICE_MISMATCH"
        );
        assert_eq!(
            license(&app, "validate", WHOP_KEY, "hw-3").await.code(),
            "DEVICE_NOT_ACTIVATED"
        );

        let uri = format!("/admin/licenses/denials?license_key={WHOP_KEY}");
        assert_eq!(get(&app, &uri, None).await.status, StatusCode::UNAUTHORIZED);
        let reply = get(&app, &uri, Some(ADMIN_TOKEN)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let denials = reply.json()["denials"].as_array().unwrap().clone();
        let summary: Vec<(String, String, String)> = denials
            .iter()
            .map(|d| {
                (
                    d["request"].as_str().unwrap().to_owned(),
                    d["code"].as_str().unwrap().to_owned(),
                    d["entitlement_id"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let entitlement = grant["entitlement"]["id"].as_str().unwrap().to_owned();
        assert_eq!(
            summary,
            [
                (
                    "validation".to_owned(),
                    "DEVICE_NOT_ACTIVATED".to_owned(),
                    entitlement.clone()
                ),
                ("activation".to_owned(), "DEVICE_MISMATCH".to_owned(), entitlement),
            ]
        );
        // Devices are told apart by their hash prefix, never by the raw hwid; the key never appears.
        let hw2 = env.srv.state.store().hash_hwid("hw-2");
        let detail = denials[1]["detail"].as_str().unwrap();
        assert_eq!(
            detail,
            format!("activate: DEVICE_MISMATCH; hwid_hash {}", &hw2.as_str()[..16])
        );
        assert_eq!(denials[0]["at"], rfc3339(env.now()));
        assert!(!reply.text().contains(WHOP_KEY) && !reply.text().contains("hw-3"));

        // A key never seen has no entitlement, so nothing is listed; a missing key is a 400.
        let reply = get(
            &app,
            "/admin/licenses/denials?license_key=OTHER-KEY-1234",
            Some(ADMIN_TOKEN),
        )
        .await;
        assert_eq!(reply.json(), json!({"denials": []}));
        let reply = get(&app, "/admin/licenses/denials", Some(ADMIN_TOKEN)).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "INVALID_REQUEST".to_owned())
        );
    })
    .await;
}
