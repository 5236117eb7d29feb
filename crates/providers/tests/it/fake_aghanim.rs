//! The Aghanim fake (feature `fake`) as Aghanim's docs describe it: the subscription list paged with `limit`
//! (default 10) and `offset`, the item and request/response envelopes, and webhooks its secret verifies.

use serde_json::{Value, json};

use crate::common::send;
use tollgate_providers::aghanim::fake::{AghanimEvent, FakeAghanim, FakeAghanimSubscription};
use tollgate_testkit::{FakeProvider, now_unix};
use tollgate_verify::{HexHmacHeaders, HexHmacVerifier, Scheme, Tolerance};

#[tokio::test]
async fn aghanim_pages_ten_subscriptions_by_default() {
    let aghanim = FakeAghanim::start();
    for n in 0..12 {
        aghanim.add_subscription("P1", FakeAghanimSubscription::active(format!("s{n:02}"), "pass"));
    }
    let url = format!("{}/s2s/v1/players/P1/subscriptions", aghanim.base_url());
    let client = reqwest::Client::new();
    let get = |query: &'static str| {
        send(
            client
                .get(format!("{url}{query}"))
                .bearer_auth(FakeAghanim::API_KEY),
        )
    };
    let (status, page) = get("").await;
    assert_eq!(status, 200);
    assert_eq!(page.as_array().unwrap().len(), 10);
    let (_, rest) = get("?offset=10").await;
    assert_eq!(
        rest.as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["s10", "s11"]
    );
    // The OpenAPI's SubscriptionRead: no nested items in the S2S listing.
    assert_eq!(
        page[0].as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "created_at",
            "effective_until",
            "id",
            "metadata",
            "name",
            "order_id",
            "plan",
            "sku",
            "status",
            "updated_at"
        ]
    );
    let (status, error) = get("?limit=ten").await;
    assert_eq!(status, 422);
    assert_eq!(error["detail"][0]["loc"], json!(["query", "limit"]));
}

#[test]
fn aghanim_envelopes_follow_the_docs() {
    let event = AghanimEvent::items("item.add", "P1", &[("pro_unlock", 1)], "Order paid ord_1");
    let body = event.body();
    for key in [
        "event_type",
        "event_data",
        "event_time",
        "event_id",
        "idempotency_key",
        "request_id",
        "sandbox",
        "trigger",
        "transaction_id",
        "context",
        "game_id",
    ] {
        assert!(body.get(key).is_some(), "{key}");
    }
    assert_eq!(body["event_data"]["player_id"], "P1");
    assert_eq!(body["event_data"]["reason"], "Order paid ord_1");
    assert_eq!(body["event_data"]["items"][0]["sku"], "pro_unlock");
    assert_eq!(body["event_data"]["items"][0]["quantity"], 1);
    assert_eq!(body["sandbox"], false);
    assert!(body["idempotency_key"].as_str().unwrap().starts_with("idmpt_"));
    let verify = AghanimEvent::player_verify("P1").sandbox(true).body();
    assert_eq!(verify["event_data"], json!({"player_id": "P1"}));
    assert_eq!(
        (verify["idempotency_key"].clone(), verify["sandbox"].clone()),
        (Value::Null, json!(true))
    );
}

#[test]
fn the_fake_emits_webhooks_its_secret_verifies() {
    let now = now_unix();

    let aghanim = FakeAghanim::start();
    aghanim.add_subscription("player_1", FakeAghanimSubscription::active("sub_1", "pass"));
    let aghanim_headers = HexHmacHeaders {
        signature: "x-aghanim-signature",
        timestamp: "x-aghanim-signature-timestamp",
    };
    let verifier =
        HexHmacVerifier::new(aghanim_headers, [aghanim.webhook_secret()], Tolerance::Unlimited).unwrap();
    let hook = aghanim
        .subscription_webhook("player_1", "sub_1", "subscription.renewed")
        .unwrap();
    let headers = hook.header_pairs();
    let verified = verifier.verify(&headers, &hook.body, now).unwrap();
    assert_eq!(verified.scheme, Scheme::HexHmac);
    let body: serde_json::Value = serde_json::from_slice(&hook.body).unwrap();
    assert_eq!(body["event_type"], "subscription.renewed");
    assert_eq!(body["event_data"]["player_id"], "player_1");
    assert_eq!(body["event_data"]["id"], "sub_1");
}
