//! Aghanim over HTTP, on SQLite and PostgreSQL: a listed item SKU granted by `item.add` (answered only once stored)
//! and revoked by `item.remove`, listed by the service API next to subscriptions; every delivery a 2xx would
//! misrepresent answered 4xx with a stable code and nothing stored; sandbox events stored, marked, not applied.

use actix_web::http::StatusCode;
use serde_json::{Value, json};
use tollgate_providers::aghanim::fake::{AghanimEvent, FakeAghanim};
use tollgate_testkit::{SignedWebhook, WebhookBuilder};

use crate::harness::app::{AGHANIM_SECRET, app, both, deliver, entitlements, fixture, get, inbox};

const ITEMS: (&str, &str) = ("TOLLGATE_PROVIDERS__AGHANIM__ITEM_SKUS", "pro_unlock, dlc_1");
const PLAYER: &str = "2D2R-OP3C";

fn sign(event: &AghanimEvent) -> SignedWebhook {
    WebhookBuilder::json(FakeAghanim::WEBHOOK_FORMAT, AGHANIM_SECRET, &event.body())
        .timestamp(event.event_time)
        .sign()
}

fn items(event_type: &str, skus: &[(&str, i64)], at: i64) -> AghanimEvent {
    AghanimEvent::items(event_type, PLAYER, skus, "Order paid ord_1").event_time(at)
}

fn without_id(mut entitlement: Value) -> Value {
    entitlement.as_object_mut().unwrap().remove("id");
    entitlement
}

#[actix_web::test]
async fn item_add_of_a_listed_sku_grants_and_item_remove_revokes() {
    both(&[ITEMS], async |srv| {
        let app = app(&srv.state).await;
        let t = srv.now().timestamp();
        let reply = deliver(
            &app,
            FakeAghanim::WEBHOOK_FORMAT,
            &sign(&items("item.add", &[("pro_unlock", 1)], t)),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(reply.json(), json!({"status": "ok"}));
        // Answered after the commit: the service API already lists it, next to the player's subscription.
        let subscription = srv.sign(
            FakeAghanim::WEBHOOK_FORMAT,
            fixture("aghanim/subscription.activated.json"),
        );
        assert_eq!(
            deliver(&app, FakeAghanim::WEBHOOK_FORMAT, &subscription)
                .await
                .status,
            StatusCode::OK
        );
        let list = entitlements(&app, "aghanim", PLAYER).await;
        assert_eq!(list.len(), 2);
        let item = list.iter().find(|e| e["kind"] == "item").unwrap().clone();
        let until =
            (srv.now() + chrono::TimeDelta::hours(72)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        assert_eq!(
            without_id(item),
            json!({
                "provider": "aghanim",
                "external_id": "2D2R-OP3C:pro_unlock",
                "subject": PLAYER,
                "product": "pro_unlock",
                "status": "active",
                "current_period_end": null,
                "cancel_at_period_end": false,
                "access": {"allowed": true, "code": "VALID", "until": until},
                "kind": "item",
            })
        );
        assert!(list.iter().any(|e| e["external_id"] == "sub_kMnoPqRsTuV"));

        let refund = items("item.remove", &[("pro_unlock", 1)], t + 60);
        let reply = deliver(&app, FakeAghanim::WEBHOOK_FORMAT, &sign(&refund)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let list = entitlements(&app, "aghanim", PLAYER).await;
        let item = list.iter().find(|e| e["kind"] == "item").unwrap();
        assert_eq!(item["status"], "revoked");
        assert_eq!(
            item["access"],
            json!({"allowed": false, "code": "LICENSE_INACTIVE", "until": null})
        );
    })
    .await;
}

#[actix_web::test]
async fn unlisted_items_and_request_response_types_get_a_4xx_and_store_nothing() {
    both(&[ITEMS], async |srv| {
        let app = app(&srv.state).await;
        let t = srv.now().timestamp();
        let unlisted = items("item.add", &[("pro_unlock", 1), ("gems_500", 1)], t);
        let reply = deliver(&app, FakeAghanim::WEBHOOK_FORMAT, &sign(&unlisted)).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text());
        assert_eq!(reply.code(), "UNSUPPORTED_ITEM");
        let message = reply.json()["message"].as_str().unwrap().to_owned();
        assert!(
            message.contains("gems_500") && message.contains("nothing was credited"),
            "{message}"
        );
        assert_ne!(
            reply.json()["code"],
            "declined",
            "never Aghanim's auto-refund code"
        );

        let verify = srv.sign(FakeAghanim::WEBHOOK_FORMAT, fixture("aghanim/player.verify.json"));
        let reply = deliver(&app, FakeAghanim::WEBHOOK_FORMAT, &verify).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text());
        assert_eq!(reply.code(), "UNSUPPORTED_EVENT");
        assert_ne!(reply.text(), r#"{"status":"ok"}"#);

        let mut broken = items("item.add", &[("pro_unlock", 1)], t);
        broken.event_data = json!({"items": [{"sku": "pro_unlock"}]});
        let reply = deliver(&app, FakeAghanim::WEBHOOK_FORMAT, &sign(&broken)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
        assert_eq!(reply.code(), "INVALID_ITEM_EVENT");

        assert_eq!(
            inbox(&app, "provider=aghanim").await.len(),
            0,
            "nothing is stored"
        );
        assert_eq!(entitlements(&app, "aghanim", PLAYER).await.len(), 0);

        // A type Tollgate does not know is still stored and answered 2xx.
        let future = AghanimEvent::new("player.teleported", json!({"player_id": PLAYER}));
        let reply = deliver(&app, FakeAghanim::WEBHOOK_FORMAT, &sign(&future)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(inbox(&app, "provider=aghanim").await.len(), 1);

        let metrics = get(&app, "/metrics", None).await.text();
        assert!(
            metrics.contains(r#"tollgate_webhooks_total{provider="aghanim",outcome="refused"} 3"#),
            "{metrics}"
        );
    })
    .await;
}

#[actix_web::test]
async fn sandbox_events_are_stored_marked_and_grant_nothing_by_default() {
    both(&[ITEMS], async |srv| {
        let app = app(&srv.state).await;
        let t = srv.now().timestamp();
        let mut body: Value =
            serde_json::from_slice(&fixture("aghanim/subscription.activated.json")).unwrap();
        body["sandbox"] = json!(true);
        let hook = srv.sign(FakeAghanim::WEBHOOK_FORMAT, body.to_string());
        let reply = deliver(&app, FakeAghanim::WEBHOOK_FORMAT, &hook).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let stored = inbox(&app, "provider=aghanim").await;
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0]["status"], "ignored");
        assert!(
            stored[0]["last_error"]
                .as_str()
                .unwrap()
                .starts_with("sandbox event (sandbox: true)"),
            "{}",
            stored[0]
        );
        let item = items("item.add", &[("pro_unlock", 1)], t).sandbox(true);
        let reply = deliver(&app, FakeAghanim::WEBHOOK_FORMAT, &sign(&item)).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text());
        assert_eq!(reply.code(), "SANDBOX_NOT_ACCEPTED");
        assert_eq!(entitlements(&app, "aghanim", PLAYER).await.len(), 0);
    })
    .await;
}

#[actix_web::test]
async fn with_accept_sandbox_sandbox_events_apply() {
    let sandbox = ("TOLLGATE_PROVIDERS__AGHANIM__ACCEPT_SANDBOX", "true");
    both(&[ITEMS, sandbox], async |srv| {
        let app = app(&srv.state).await;
        let item = items("item.add", &[("dlc_1", 1)], srv.now().timestamp()).sandbox(true);
        let reply = deliver(&app, FakeAghanim::WEBHOOK_FORMAT, &sign(&item)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let list = entitlements(&app, "aghanim", PLAYER).await;
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["external_id"], "2D2R-OP3C:dlc_1");
        assert_eq!(list[0]["access"]["allowed"], true);
    })
    .await;
}
