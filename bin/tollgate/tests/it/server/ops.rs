//! Operability: health, readiness, metrics, request ids and JSON extractor errors.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use actix_web::{App, HttpResponse, web};
use serde_json::json;
use tollgate_testkit::WebhookFormat;

use crate::harness::app::*;

#[actix_web::test]
async fn health_and_readiness() {
    both(&[], async |srv| {
        let app = app(&srv.state).await;
        let reply = get(&app, "/healthz", None).await;
        assert_eq!(
            (reply.status, reply.json()),
            (StatusCode::OK, json!({"status": "ok", "mode": "serve"}))
        );
        let reply = get(&app, "/readyz", None).await;
        assert_eq!(
            (reply.status, reply.json()),
            (StatusCode::OK, json!({"status": "ready"}))
        );
    })
    .await;
}

#[actix_web::test]
async fn an_unmigrated_database_is_not_ready() {
    let srv = TestServer::sqlite(&[]);
    let fresh = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", fresh.path().join("fresh.db").display());
    let config = tollgate_store::StoreConfig::new(url);
    let store = tollgate_store::Store::open(&config, tollgate_store::StoreKeys::generate().unwrap()).unwrap();
    let state = tollgate::app::AppState::new(store, srv.settings.clone(), srv.clock.clone()).unwrap();
    let app = app(&state).await;
    let reply = get(&app, "/readyz", None).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.code(), "NOT_READY");
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap()
            .contains("tollgate migrate")
    );
}

#[actix_web::test]
async fn metrics_count_webhooks_by_provider_and_outcome() {
    let srv = TestServer::sqlite(&[]);
    let app = app(&srv.state).await;
    let hook = srv.sign(
        WebhookFormat::WhopCurrent,
        fixture("whop/membership.activated.json"),
    );
    deliver(&app, WebhookFormat::WhopCurrent, &hook).await;
    deliver(&app, WebhookFormat::WhopCurrent, &hook).await;
    deliver(&app, WebhookFormat::WhopCurrent, &hook.with_body(b"{}".to_vec())).await;
    let reply = get(&app, "/metrics", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.headers.get("content-type").unwrap(),
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = reply.text();
    for line in [
        r#"tollgate_webhooks_total{provider="whop",outcome="applied"} 1"#,
        r#"tollgate_webhooks_total{provider="whop",outcome="duplicate"} 1"#,
        r#"tollgate_webhooks_total{provider="whop",outcome="invalid_signature"} 1"#,
        r#"tollgate_inbox_backlog{status="received"} 0"#,
        r#"tollgate_inbox_backlog{status="failed"} 0"#,
        r#"tollgate_db_pool_connections{state="max"} 16"#,
        r#"tollgate_http_request_duration_seconds_count{method="POST",route="/api/webhooks/whop",status="200"} 2"#,
    ] {
        assert!(text.lines().any(|l| l == line), "missing `{line}` in:\n{text}");
    }
}

#[actix_web::test]
async fn every_response_carries_a_request_id() {
    let srv = TestServer::sqlite(&[]);
    let app = app(&srv.state).await;
    let reply = get(&app, "/healthz", None).await;
    let generated = reply
        .headers
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(generated.len(), 24);
    let reply = send(
        &app,
        TestRequest::get()
            .uri("/healthz")
            .insert_header(("X-Request-Id", "abc-123_X")),
    )
    .await;
    assert_eq!(reply.headers.get("x-request-id").unwrap(), "abc-123_X");
    for insane in ["a b", &"x".repeat(65), "é"] {
        let reply = send(
            &app,
            TestRequest::get()
                .uri("/nope")
                .insert_header(("X-Request-Id", insane)),
        )
        .await;
        let id = reply.headers.get("x-request-id").unwrap().to_str().unwrap();
        assert_ne!(id, insane);
        assert_eq!(id.len(), 24);
    }
    // Errors too.
    let reply = get(&app, "/admin/inbox", None).await;
    assert!(reply.headers.get("x-request-id").is_some());
}

#[derive(Debug, serde::Deserialize)]
struct Probe {
    #[expect(dead_code, reason = "only deserialized")]
    hwid: String,
}

async fn probe(_: web::Json<Probe>) -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[actix_web::test]
async fn json_extractor_errors_are_json_400s() {
    let app = actix_web::test::init_service(
        App::new()
            .configure(tollgate::http::extractor_configs)
            .route("/probe", web::post().to(probe)),
    )
    .await;
    for (content_type, body) in [
        ("text/plain", r#"{"hwid":"x"}"#),
        ("application/json", "{not json"),
        ("application/json", r#"{"hwid": 3}"#),
    ] {
        let reply = send(
            &app,
            TestRequest::post()
                .uri("/probe")
                .insert_header(("content-type", content_type))
                .set_payload(body),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.code(), "INVALID_REQUEST", "{body}");
    }
    let reply = send(
        &app,
        TestRequest::post()
            .uri("/probe")
            .insert_header(("content-type", "application/json"))
            .set_payload(r#"{"hwid":"x"}"#),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
}
