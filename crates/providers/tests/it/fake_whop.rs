//! The fakes over real HTTP: documented statuses and bodies, state, faults and request recording.

use std::time::Duration;

use serde_json::{Value, json};
use tollgate_providers::dodo::fake::{FakeDodo, FakeGrant, FakeLicenseKey};
use tollgate_providers::whop::fake::{FakeMembership, FakeWhop};
use tollgate_testkit::{FakeProvider, Fault};

#[expect(clippy::unwrap_used, reason = "test helper: a failed request fails the test")]
async fn post(url: String, bearer: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(url).json(body);
    if let Some(key) = bearer {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[expect(clippy::unwrap_used, reason = "test helper: a failed request fails the test")]
async fn whop_call(
    method: reqwest::Method,
    url: String,
    version: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(FakeWhop::API_KEY);
    if let Some(version) = version {
        request = request.header("Api-Version-Date", version);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn whop_serves_the_current_api_and_every_retired_route_is_a_counted_404() {
    let whop = FakeWhop::start();
    whop.allow_retired_calls();
    whop.add_membership(FakeMembership::new("mem_1", "KEY-1"));
    let base = whop.base_url();
    for path in [
        "/api/v2/memberships/KEY-1/validate_license",
        "/v2/memberships/KEY-1",
        "/api/v5/app/memberships",
        "/v5/company/memberships",
    ] {
        let (status, _) = post(format!("{base}{path}"), Some(FakeWhop::API_KEY), &json!({})).await;
        assert_eq!(status, 404, "{path}");
    }
    assert_eq!(whop.retired_calls(), 4);

    // By license key or by id; the pinned shape is flat, the unpinned one nested.
    let get = reqwest::Method::GET;
    let (status, pinned) = whop_call(
        get.clone(),
        format!("{base}/api/v1/memberships/KEY-1"),
        Some("2026-09-15"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (pinned["plan_id"].clone(), pinned["account"]["id"].clone()),
        (json!("plan_fake"), json!("biz_fake"))
    );
    assert!(pinned.get("current_period_end").is_some() && pinned.get("renewal_period_end").is_none());
    let (_, unpinned) = whop_call(
        get.clone(),
        format!("{base}/api/v1/memberships/mem_1"),
        None,
        None,
    )
    .await;
    assert_eq!(unpinned["plan"]["id"], "plan_fake");
    assert!(unpinned.get("renewal_period_end").is_some() && unpinned.get("current_period_end").is_none());
    let (status, body) = whop_call(
        get.clone(),
        format!("{base}/api/v1/memberships/KEY-1"),
        Some("2031-01-01"),
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().contains("2026-09-15"));
    let (status, _) = whop_call(get, format!("{base}/api/v1/memberships/NOPE"), None, None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn whop_metadata_merges_clears_and_keeps_to_its_limits() {
    let whop = FakeWhop::start();
    whop.add_membership(FakeMembership::new("mem_1", "KEY-1").with_metadata(json!({"a": "1"})));
    let url = format!("{}/api/v1/memberships/mem_1", whop.base_url());
    let patch = reqwest::Method::PATCH;
    let (status, body) = whop_call(
        patch.clone(),
        url.clone(),
        None,
        Some(&json!({"metadata": {"b": "2"}})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["metadata"], json!({"a": "1", "b": "2"}), "merged key by key");
    for (metadata, problem) in [
        (json!({"c": "x".repeat(501)}), "values can be at most 500"),
        (json!({"k".repeat(101): "v"}), "keys can be at most 100"),
        (json!("not an object"), "must be an object"),
    ] {
        let (status, body) = whop_call(
            patch.clone(),
            url.clone(),
            None,
            Some(&json!({"metadata": metadata})),
        )
        .await;
        assert_eq!(status, 422);
        assert!(
            body["error"]["message"].as_str().unwrap().contains(problem),
            "{body}"
        );
    }
    let many: serde_json::Map<String, Value> = (0..49).map(|n| (format!("k{n}"), json!("v"))).collect();
    let (status, _) = whop_call(patch.clone(), url.clone(), None, Some(&json!({"metadata": many}))).await;
    assert_eq!(status, 422, "51 keys");
    let (status, body) = whop_call(patch, url, None, Some(&json!({"metadata": {}}))).await;
    assert_eq!((status, body["metadata"].clone()), (200, json!({})));
    whop.set_permissions(&["member:basic:read"]);
    let (status, body) = whop_call(
        reqwest::Method::PATCH,
        format!("{}/api/v1/memberships/mem_1", whop.base_url()),
        None,
        Some(&json!({"metadata": {}})),
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("member:manage")
    );
}

#[test]
#[should_panic(expected = "reached a retired Whop API route")]
fn a_test_that_calls_a_retired_whop_route_fails() {
    let whop = FakeWhop::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = format!("{}/api/v2/memberships/KEY/validate_license", whop.base_url());
    let status = runtime.block_on(post(url, Some(FakeWhop::API_KEY), &json!({}))).0;
    assert_eq!(status, 404);
    drop(whop);
}

#[tokio::test]
async fn dodo_activation_follows_limit_status_and_existence() {
    let dodo = FakeDodo::start();
    dodo.add_license_key(FakeLicenseKey::new("lic_1", "K1", Some(1)));
    let url = format!("{}/licenses/activate", dodo.base_url());
    let (status, body) = post(url.clone(), None, &json!({"license_key": "K1", "name": "pc"})).await;
    assert_eq!(status, 201);
    assert_eq!(body["license_key_id"], "lic_1");
    let (status, body) = post(url.clone(), None, &json!({"license_key": "K1", "name": "pc2"})).await;
    assert_eq!(
        (status, body["code"].clone()),
        (422, json!("LICENSE_KEY_LIMIT_REACHED"))
    );
    dodo.update_license_key("K1", |k| k.status = "disabled".to_owned());
    let (status, _) = post(url.clone(), None, &json!({"license_key": "K1", "name": "pc"})).await;
    assert_eq!(status, 403);
    let (status, _) = post(url, None, &json!({"license_key": "K2", "name": "pc"})).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn dodo_manual_fulfilment_and_revocation_change_state() {
    let dodo = FakeDodo::start();
    dodo.add_grant(FakeGrant::pending("entg_1", "ent_1", "cus_1"));
    let [created, delivered] = dodo.fulfill_grant("entg_1", "KEY-M", Some(2)).unwrap();
    let created: Value = serde_json::from_slice(&created.body).unwrap();
    assert_eq!(created["type"], "license_key.created");
    assert_eq!(created["data"]["key"], "KEY-M");
    let delivered: Value = serde_json::from_slice(&delivered.body).unwrap();
    assert_eq!(delivered["data"]["status"], "Delivered");
    assert_eq!(delivered["data"]["license_key"]["key"], "KEY-M");
    assert!(dodo.revoke_grant("entg_1", "subscription_on_hold"));
    assert_eq!(dodo.license_key("KEY-M").unwrap().status, "disabled");
    let revoked: Value = serde_json::from_slice(
        &dodo
            .grant_webhook("entg_1", "entitlement_grant.revoked")
            .unwrap()
            .body,
    )
    .unwrap();
    assert_eq!(revoked["data"]["revocation_reason"], "subscription_on_hold");
}

#[tokio::test]
async fn faults_apply_in_order_then_the_fake_answers_normally() {
    let dodo = FakeDodo::start();
    dodo.add_license_key(FakeLicenseKey::new("lic_1", "K1", None));
    let url = format!("{}/licenses/validate", dodo.base_url());
    let body = json!({"license_key": "K1"});
    dodo.fail_next(Fault::Drop, 1);
    dodo.fail_next(Fault::TooManyRequests { retry_after_secs: 7 }, 1);
    dodo.fail_next(Fault::Status(503), 1);

    let dropped = reqwest::Client::new().post(&url).json(&body).send().await;
    assert!(
        dropped.is_err(),
        "a dropped connection yields no response: {dropped:?}"
    );
    let limited = reqwest::Client::new()
        .post(&url)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status().as_u16(), 429);
    assert_eq!(limited.headers()["retry-after"], "7");
    assert_eq!(post(url.clone(), None, &body).await.0, 503);
    assert_eq!(
        post(url.clone(), None, &body).await,
        (200, json!({"valid": true}))
    );
    assert_eq!(dodo.request_count(), 4);

    dodo.fail_always(Fault::Slow(Duration::from_millis(300)));
    let timed_out = reqwest::Client::builder()
        .timeout(Duration::from_millis(50))
        .build()
        .unwrap()
        .post(&url)
        .json(&body)
        .send()
        .await;
    assert!(timed_out.unwrap_err().is_timeout());
    dodo.clear_faults();
    assert_eq!(post(url, None, &body).await.0, 200);
}

#[tokio::test]
async fn whop_v1_list_pages_with_cursors() {
    let whop = FakeWhop::start();
    for n in 0..5 {
        whop.add_membership(FakeMembership::new(format!("mem_{n}"), format!("KEY-{n}")));
    }
    let client = reqwest::Client::new();
    let mut after: Option<String> = None;
    let mut seen = Vec::new();
    loop {
        let mut url = format!(
            "{}/api/v1/memberships?first=2&company_id=biz_fake",
            whop.base_url()
        );
        if let Some(cursor) = &after {
            url.push_str(&format!("&after={cursor}"));
        }
        let page: Value = client
            .get(url)
            .bearer_auth(FakeWhop::API_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned()),
        );
        match page["page_info"]["end_cursor"].as_str() {
            Some(cursor) => after = Some(cursor.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["mem_0", "mem_1", "mem_2", "mem_3", "mem_4"]);
}
