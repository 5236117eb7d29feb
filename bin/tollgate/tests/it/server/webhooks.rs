//! Each fixture event in its provider's signed format: applied, visible through the service and admin APIs; and
//! every way a delivery is refused or stored without effect.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use serde_json::{Value, json};
use tollgate_providers::aghanim::fake::FakeAghanim;
use tollgate_testkit::{WebhookBuilder, WebhookFormat};

use crate::harness::app::*;

/// The entitlement with `external_id`, without its generated `id`.
fn by_external_id(list: &[Value], external_id: &str) -> Value {
    let mut found = list
        .iter()
        .find(|e| e["external_id"] == external_id)
        .unwrap_or_else(|| panic!("{external_id} not in {list:?}"))
        .clone();
    let id = found.as_object_mut().unwrap().remove("id").unwrap();
    assert!(id.as_str().unwrap().starts_with("ent_"), "{id}");
    found
}

#[actix_web::test]
async fn whop_events_in_both_formats_are_applied() {
    both(&[], async |srv| {
        let app = app(&srv.state).await;
        for (format, name) in [
            (WebhookFormat::WhopCurrent, "whop/membership.activated.json"),
            (
                WebhookFormat::WhopLegacy,
                "whop/legacy.membership.went_valid.json",
            ),
        ] {
            let reply = deliver(&app, format, &srv.sign(format, fixture(name))).await;
            assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.text());
            assert_eq!(reply.json(), json!({"status": "ok"}));
        }
        let list = entitlements(&app, "whop", "user_Zx9Yw8Vu7").await;
        assert_eq!(list.len(), 2);
        assert_eq!(
            by_external_id(&list, "mem_7Hq2LwZp0aXkR1"),
            json!({
                "provider": "whop",
                "external_id": "mem_7Hq2LwZp0aXkR1",
                "subject": "user_Zx9Yw8Vu7",
                "product": "prod_Desk42xY",
                "status": "active",
                "current_period_end": "2026-11-01T09:15:00Z",
                "cancel_at_period_end": false,
                "access": {"allowed": true, "code": "VALID", "until": "2026-10-13T00:00:00Z"},
                "plan": "plan_Mth9kQ2",
                "license_key_last4": "7ZAB",
            })
        );
        assert_eq!(
            by_external_id(&list, "mem_5l6nvhob7ALjRT"),
            json!({
                "provider": "whop",
                "external_id": "mem_5l6nvhob7ALjRT",
                "subject": "user_Zx9Yw8Vu7",
                "product": "prod_Desk42xY",
                "status": "completed",
                "current_period_end": null,
                "cancel_at_period_end": false,
                "access": {"allowed": true, "code": "VALID", "until": "2026-10-13T00:00:00Z"},
                "plan": "plan_Mth9kQ2",
                "license_key_last4": "A9EW",
            })
        );
        let events = inbox(&app, "provider=whop").await;
        let statuses: Vec<&str> = events.iter().map(|e| e["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["processed", "processed"]);
        assert_eq!(events[0]["event_type"], "membership.activated");
        assert_eq!(events[1]["event_type"], "membership.went_valid");
        // The legacy delivery has no webhook-id; its signature time is kept for replays.
        assert_eq!(events[1]["webhook_id"], Value::Null);
        assert_eq!(events[1]["signed_at"], "2026-10-10T00:00:00Z");
    })
    .await;
}

#[actix_web::test]
async fn a_dodo_grant_is_applied() {
    both(&[], async |srv| {
        let app = app(&srv.state).await;
        let hook = srv.sign(
            WebhookFormat::Dodo,
            fixture("dodo/entitlement_grant.delivered.license_key.json"),
        );
        let reply = deliver(&app, WebhookFormat::Dodo, &hook).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let list = entitlements(&app, "dodo", "cus_J7h6G5f4").await;
        assert_eq!(list.len(), 1);
        assert_eq!(
            by_external_id(&list, "entg_8sKd02LmQp"),
            json!({
                "provider": "dodo",
                "external_id": "entg_8sKd02LmQp",
                "subject": "cus_J7h6G5f4",
                "product": "ent_LicPro01",
                "status": "active",
                "current_period_end": null,
                "cancel_at_period_end": false,
                "access": {"allowed": true, "code": "VALID", "until": "2026-10-13T00:00:00Z"},
                "license_key_last4": "8f43",
                "integration_type": "license_key",
            })
        );
        let events = inbox(&app, "provider=dodo").await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["webhook_id"], hook.header("webhook-id").unwrap());
        assert_eq!(
            events[0]["semantic_key"],
            "entg_8sKd02LmQp:entitlement_grant.delivered"
        );
    })
    .await;
}

#[actix_web::test]
async fn an_aghanim_subscription_is_applied_with_its_features() {
    both(&[], async |srv| {
        srv.clock.set(at("2024-01-06T00:00:00Z"));
        let app = app(&srv.state).await;
        let hook = srv.sign(
            FakeAghanim::WEBHOOK_FORMAT,
            fixture("aghanim/subscription.activated.json"),
        );
        let reply = deliver(&app, FakeAghanim::WEBHOOK_FORMAT, &hook).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let list = entitlements(&app, "aghanim", "2D2R-OP3C").await;
        assert_eq!(
            by_external_id(&list, "sub_kMnoPqRsTuV"),
            json!({
                "provider": "aghanim",
                "external_id": "sub_kMnoPqRsTuV",
                "subject": "2D2R-OP3C",
                "product": "battle_pass",
                "status": "trial",
                "current_period_end": "2024-01-08T00:00:00Z",
                "cancel_at_period_end": false,
                "access": {"allowed": true, "code": "VALID", "until": "2024-01-09T00:00:00Z"},
                "features": ["exclusive_skin_001"],
            })
        );
    })
    .await;
}

#[actix_web::test]
async fn bad_signatures_are_refused_and_change_nothing() {
    both(&[], async |srv| {
        let app = app(&srv.state).await;
        let body = fixture("whop/membership.activated.json");
        let now = srv.now().timestamp();
        let good = srv.sign(WebhookFormat::WhopCurrent, body.clone());
        let wrong_secret = WebhookBuilder::new(WebhookFormat::WhopCurrent, "ws_not_the_secret", body.clone())
            .timestamp(now)
            .sign();
        let stale = WebhookBuilder::new(WebhookFormat::WhopCurrent, WHOP_SECRET, body.clone())
            .timestamp(now - 301)
            .sign();
        let mut missing = good.clone();
        missing.headers.retain(|(name, _)| name != "webhook-signature");
        let tampered = good.with_body(
            String::from_utf8(body.clone())
                .unwrap()
                .replace("active", "activf"),
        );
        let legacy_tampered = srv
            .sign(
                WebhookFormat::WhopLegacy,
                fixture("whop/legacy.membership.went_valid.json"),
            )
            .with_body(b"{\"action\":\"membership.went_valid\"}".to_vec());
        let dodo_wrong = WebhookBuilder::new(
            WebhookFormat::Dodo,
            "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            fixture("dodo/entitlement_grant.delivered.license_key.json"),
        )
        .timestamp(now)
        .sign();
        let aghanim_tampered = srv
            .sign(
                FakeAghanim::WEBHOOK_FORMAT,
                fixture("aghanim/subscription.activated.json"),
            )
            .with_body(fixture("aghanim/subscription.deactivated.json"));
        for (what, format, hook) in [
            ("wrong secret", WebhookFormat::WhopCurrent, &wrong_secret),
            ("stale timestamp", WebhookFormat::WhopCurrent, &stale),
            ("missing header", WebhookFormat::WhopCurrent, &missing),
            ("tampered body", WebhookFormat::WhopCurrent, &tampered),
            (
                "tampered legacy body",
                WebhookFormat::WhopLegacy,
                &legacy_tampered,
            ),
            ("wrong dodo secret", WebhookFormat::Dodo, &dodo_wrong),
            (
                "tampered aghanim body",
                FakeAghanim::WEBHOOK_FORMAT,
                &aghanim_tampered,
            ),
        ] {
            let reply = deliver(&app, format, hook).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}");
            assert_eq!(reply.code(), "INVALID_SIGNATURE", "{what}");
        }
        assert_eq!(inbox(&app, "").await.len(), 0);
        assert_eq!(entitlements(&app, "whop", "user_Zx9Yw8Vu7").await.len(), 0);
        assert_eq!(entitlements(&app, "dodo", "cus_J7h6G5f4").await.len(), 0);
        assert_eq!(entitlements(&app, "aghanim", "2D2R-OP3C").await.len(), 0);
        // The genuine delivery still goes through afterwards.
        let reply = deliver(&app, WebhookFormat::WhopCurrent, &good).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(entitlements(&app, "whop", "user_Zx9Yw8Vu7").await.len(), 1);
    })
    .await;
}

#[actix_web::test]
async fn oversized_non_json_and_unknown_events() {
    both(&[], async |srv| {
        let app = app(&srv.state).await;
        // Over webhooks.max_body_bytes (65536 in these tests): 413 before anything is verified.
        let big = srv.sign(WebhookFormat::WhopCurrent, vec![b' '; 65_537]);
        let reply = deliver(&app, WebhookFormat::WhopCurrent, &big).await;
        assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(reply.code(), "PAYLOAD_TOO_LARGE");
        // Exactly at the limit is read (and here refused later as not JSON).
        let at_limit = srv.sign(WebhookFormat::WhopCurrent, vec![b'x'; 65_536]);
        let reply = deliver(&app, WebhookFormat::WhopCurrent, &at_limit).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);

        let not_json = srv.sign(WebhookFormat::Dodo, fixture("malformed/not_json.txt"));
        let reply = deliver(&app, WebhookFormat::Dodo, &not_json).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.code(), "INVALID_REQUEST");
        assert_eq!(
            inbox(&app, "").await.len(),
            0,
            "nothing is stored for a non-JSON body"
        );

        for (format, name, event_type) in [
            (
                FakeAghanim::WEBHOOK_FORMAT,
                "aghanim/unknown.event_type.json",
                "subscription.paused_for_holiday",
            ),
            (
                WebhookFormat::WhopCurrent,
                "whop/payment.succeeded.json",
                "payment.succeeded",
            ),
            (
                WebhookFormat::Dodo,
                "dodo/payment.succeeded.json",
                "payment.succeeded",
            ),
        ] {
            let reply = deliver(&app, format, &srv.sign(format, fixture(name))).await;
            assert_eq!(reply.status, StatusCode::OK, "{name}");
            assert_eq!(reply.json(), json!({"status": "ok"}));
            let events = inbox(&app, "status=ignored").await;
            assert!(
                events.iter().any(|e| e["event_type"] == event_type),
                "{name}: {events:?}"
            );
        }
        assert_eq!(inbox(&app, "status=ignored").await.len(), 3);
        assert_eq!(inbox(&app, "").await.len(), 3);
    })
    .await;
}

#[actix_web::test]
async fn a_disabled_provider_answers_503_naming_the_key() {
    let srv = TestServer::sqlite(&[("TOLLGATE_PROVIDERS__DODO__WEBHOOK_SECRET", "")]);
    let app = app(&srv.state).await;
    let hook = srv.sign(
        WebhookFormat::Dodo,
        fixture("dodo/entitlement_grant.delivered.license_key.json"),
    );
    let reply = deliver(&app, WebhookFormat::Dodo, &hook).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.code(), "PROVIDER_NOT_CONFIGURED");
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap()
            .contains("TOLLGATE_PROVIDERS__DODO__WEBHOOK_SECRET")
    );
    assert_eq!(inbox(&app, "").await.len(), 0);
    // The other providers are unaffected.
    let hook = srv.sign(
        WebhookFormat::WhopCurrent,
        fixture("whop/membership.activated.json"),
    );
    assert_eq!(
        deliver(&app, WebhookFormat::WhopCurrent, &hook).await.status,
        StatusCode::OK
    );
}

#[actix_web::test]
async fn a_rotated_secret_is_still_accepted() {
    let srv = TestServer::sqlite(&[
        (
            "TOLLGATE_PROVIDERS__WHOP__WEBHOOK_SECRET",
            "ws_brand_new_secret_0123",
        ),
        ("TOLLGATE_PROVIDERS__WHOP__PREVIOUS_WEBHOOK_SECRETS", WHOP_SECRET),
    ]);
    let app = app(&srv.state).await;
    let old = srv.sign(
        WebhookFormat::WhopCurrent,
        fixture("whop/membership.activated.json"),
    );
    assert_eq!(
        deliver(&app, WebhookFormat::WhopCurrent, &old).await.status,
        StatusCode::OK
    );
}

#[actix_web::test]
async fn a_json_extractor_error_is_a_json_400() {
    let srv = TestServer::sqlite(&[]);
    let app = app(&srv.state).await;
    let reply = send(
        &app,
        TestRequest::get()
            .uri("/admin/inbox?limit=many")
            .insert_header(("Authorization", format!("Bearer {ADMIN_TOKEN}"))),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.code(), "INVALID_REQUEST");
    let reply = get(&app, "/admin/inbox/abc", Some(ADMIN_TOKEN)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.code(), "INVALID_REQUEST");
    let reply = get(&app, "/no/such/thing", None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.code(), "NOT_FOUND");
}
