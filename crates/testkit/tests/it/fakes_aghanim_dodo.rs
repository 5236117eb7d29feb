//! The Aghanim and Dodo fakes as their docs describe them: Aghanim's subscription list paged with `limit` (default 10)
//! and `offset`, its item and request/response envelopes; Dodo's license key instances, its 422 codes and the 404
//! validate mode.

#![expect(clippy::unwrap_used, reason = "test helpers: a failed request fails the test")]

use serde_json::{Value, json};
use tollgate_testkit::{
    AghanimEvent, FakeAghanim, FakeAghanimSubscription, FakeDodo, FakeLicenseKey, FakeProvider,
};

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

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

#[tokio::test]
async fn dodo_instances_422_codes_and_validate_404() {
    let dodo = FakeDodo::start();
    dodo.add_license_key(FakeLicenseKey::new("lic_1", "KEY-1", None));
    let instance = dodo.add_instance("KEY-1", "Laptop").unwrap();
    let client = reqwest::Client::new();
    let base = dodo.base_url();

    let (status, list) = send(
        client
            .get(format!("{base}/license_key_instances?license_key_id=lic_1"))
            .bearer_auth(FakeDodo::API_KEY),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        list["items"][0].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["business_id", "created_at", "id", "license_key_id", "name"]
    );
    let (status, _) = send(client.get(format!("{base}/license_key_instances?license_key_id=lic_1"))).await;
    assert_eq!(status, 401);
    let (status, renamed) = send(
        client
            .patch(format!("{base}/license_key_instances/{instance}"))
            .bearer_auth(FakeDodo::API_KEY)
            .json(&json!({"name": "Studio"})),
    )
    .await;
    assert_eq!((status, renamed["name"].clone()), (200, json!("Studio")));

    dodo.refuse_activations_as_invalid(true);
    let (status, error) = send(
        client
            .post(format!("{base}/licenses/activate"))
            .json(&json!({"license_key": "KEY-1", "name": "pc"})),
    )
    .await;
    assert_eq!(
        (status, error["code"].clone()),
        (422, json!("INVALID_REQUEST_BODY"))
    );

    let validate = |key: &str| {
        send(
            client
                .post(format!("{base}/licenses/validate"))
                .json(&json!({"license_key": key})),
        )
    };
    assert_eq!(validate("NOPE").await, (200, json!({"valid": false})));
    dodo.validate_unknown_as_404(true);
    let (status, error) = validate("NOPE").await;
    assert_eq!((status, error["code"].clone()), (404, json!("NOT_FOUND")));
    assert_eq!(validate("KEY-1").await, (200, json!({"valid": true})));
}
