//! Bearer tokens: none, wrong and right for the service and admin APIs, and an API whose token is not set.

use actix_web::http::StatusCode;

use crate::harness::app::*;

#[actix_web::test]
async fn service_and_admin_tokens() {
    let srv = TestServer::sqlite(&[]);
    let app = app(&srv.state).await;
    let service = "/api/entitlements?provider=whop&subject=user_1";
    let admin = ["/admin/inbox", "/admin/policy", "/admin/entitlements/whop/mem_1"];

    for (uri, right) in
        std::iter::once((service, SERVICE_TOKEN)).chain(admin.iter().map(|u| (*u, ADMIN_TOKEN)))
    {
        let none = get(&app, uri, None).await;
        assert_eq!(none.status, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(none.code(), "UNAUTHORIZED");
        assert_eq!(none.headers.get("www-authenticate").unwrap(), "Bearer");
        for wrong in ["nope", &right[..right.len() - 1], &format!("{right}x")] {
            let reply = get(&app, uri, Some(wrong)).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{uri} with a wrong token");
        }
        let reply = get(&app, uri, Some(right)).await;
        assert_ne!(reply.status, StatusCode::UNAUTHORIZED, "{uri}: {}", reply.text());
    }
    // Each token opens only its own API.
    assert_eq!(
        get(&app, service, Some(ADMIN_TOKEN)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&app, "/admin/inbox", Some(SERVICE_TOKEN)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(&app, "/admin/inbox/replay-failed", Some(SERVICE_TOKEN))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(&app, "/admin/inbox/replay-failed", Some(ADMIN_TOKEN))
            .await
            .status,
        StatusCode::OK
    );

    assert_eq!(
        get(&app, service, Some(SERVICE_TOKEN)).await.json(),
        serde_json::json!({"entitlements": []})
    );
    let policy = get(&app, "/admin/policy", Some(ADMIN_TOKEN)).await.json();
    assert_eq!(policy["default"]["max_devices"], 1);
    assert_eq!(policy["default"]["offline_grace"], "3d");
    assert_eq!(policy["products"], serde_json::json!([]));
    let reply = get(&app, "/admin/entitlements/whop/mem_1", Some(ADMIN_TOKEN)).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.code(), "NOT_FOUND");
}

#[actix_web::test]
async fn missing_or_unknown_query_parameters_are_400() {
    let srv = TestServer::sqlite(&[]);
    let app = app(&srv.state).await;
    for uri in [
        "/api/entitlements",
        "/api/entitlements?provider=whop",
        "/api/entitlements?subject=user_1",
        "/api/entitlements?provider=paypal&subject=user_1",
        "/api/entitlements?provider=whop&subject=",
    ] {
        let reply = get(&app, uri, Some(SERVICE_TOKEN)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(reply.code(), "INVALID_REQUEST", "{uri}");
    }
    let reply = get(&app, "/admin/inbox?status=lost", Some(ADMIN_TOKEN)).await;
    assert_eq!(reply.code(), "INVALID_REQUEST");
}

#[actix_web::test]
async fn an_api_without_a_token_is_disabled_and_says_which_key_to_set() {
    let srv = TestServer::sqlite(&[("TOLLGATE_ADMIN__TOKEN", ""), ("TOLLGATE_SERVICE__TOKEN", "")]);
    let app = app(&srv.state).await;
    for (uri, key) in [
        ("/admin/inbox", "TOLLGATE_ADMIN__TOKEN"),
        (
            "/api/entitlements?provider=whop&subject=u",
            "TOLLGATE_SERVICE__TOKEN",
        ),
    ] {
        for token in [None, Some(""), Some(ADMIN_TOKEN)] {
            let reply = get(&app, uri, token).await;
            assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{uri}");
            assert_eq!(reply.code(), "API_DISABLED");
            assert!(reply.json()["message"].as_str().unwrap().contains(key));
        }
    }
}
