//! The builders produce exactly the providers' wire formats: pinned by the published and derived vectors, and
//! checked end to end against `tollgate-verify`.

use serde_json::json;
use tollgate_providers::dodo::fake::{FakeDodo, FakeGrant};
use tollgate_providers::whop::fake::{FakeMembership, FakeWhop};
use tollgate_testkit::{FakeProvider as _, WebhookBuilder, WebhookFormat, now_unix};
use tollgate_verify::{Scheme, StandardWebhooksVerifier, VerifyError, WhopVerifier};

#[test]
fn dodo_format_matches_standard_webhooks_vector_a() {
    let hook = WebhookBuilder::new(
        WebhookFormat::Dodo,
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        r#"{"test": 2432232314}"#,
    )
    .id("msg_p5jXN8AQM9LWM0D4loKWxJek")
    .timestamp(1_614_265_330)
    .sign();
    assert_eq!(hook.header("webhook-id"), Some("msg_p5jXN8AQM9LWM0D4loKWxJek"));
    assert_eq!(hook.header("webhook-timestamp"), Some("1614265330"));
    assert_eq!(
        hook.header("webhook-signature"),
        Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    );
}

#[test]
fn whop_current_format_matches_the_derived_vector() {
    let body = r#"{"id":"msg_2KWPBgLlAfxdpx2AI54pPJ85f4W","api_version":"v1","timestamp":"2024-09-29T10:40:00.000Z","type":"membership.activated","data":{"id":"mem_xxxxxxxxxxxxxx"}}"#;
    let hook = WebhookBuilder::new(WebhookFormat::WhopCurrent, "ws_1234567890abcdef", body)
        .id("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W")
        .timestamp(1_727_606_400)
        .sign();
    assert_eq!(
        hook.header("webhook-signature"),
        Some("v1,yCJLV8AIxk/7Razw8NAv43v4zNwoiv9S6aYQFDC7wLQ=")
    );
}

#[test]
fn whop_legacy_format_matches_the_derived_vector() {
    let body = r#"{"action":"membership.went_valid","data":{"id":"mem_5l6nvhob7ALjRT"}}"#;
    let hook = WebhookBuilder::new(WebhookFormat::WhopLegacy, "ws_1234567890abcdef", body)
        .timestamp(1_727_606_400)
        .sign();
    assert_eq!(
        hook.header("x-whop-signature"),
        Some("t=1727606400,v1=40d44ad904e8e190187dfbe7d7354b427068d5bf00b737a7a3075e6572c6aacb")
    );
    assert_eq!(hook.header("webhook-signature"), None);
}

#[test]
fn aghanim_format_matches_the_derived_vector() {
    let body = r#"{"event_type":"player.verify","event_data":{"player_id":"2D2R-OP3C"},"event_time":1725534306,"event_id":"whevt_eBZXsUEITGeDcILaZFUvPthxkr","idempotency_key":null,"sandbox":false,"trigger":"hub.login","request_id":"d1593e9c-c291-4004-8846-6679c2e5810b","transaction_id":"whtx_eBZXsUEITGeDcILaZFUvPthxkr","context":null,"game_id":"gm_exTAyxPsVwh"}"#;
    let format = WebhookFormat::HexHmac {
        signature: "X-Aghanim-Signature",
        timestamp: "X-Aghanim-Signature-Timestamp",
    };
    let hook = WebhookBuilder::new(format, "aghanim_test_secret", body)
        .timestamp(1_725_534_306)
        .sign();
    assert_eq!(hook.header("X-Aghanim-Signature-Timestamp"), Some("1725534306"));
    assert_eq!(
        hook.header("X-Aghanim-Signature"),
        Some("d3bf5193ebd5b20834ddd4d905294478237bce94226684dc284a65abc8660b7f")
    );
}

#[test]
fn a_malformed_dodo_secret_is_an_error_not_a_panic() {
    let result = WebhookBuilder::new(WebhookFormat::Dodo, "whsec_", "{}").try_sign();
    assert!(matches!(result, Err(VerifyError::BadSecret(_))), "{result:?}");
}

#[test]
fn stale_and_tampered_deliveries_fail_verification() {
    let now = now_unix();
    let verifier = WhopVerifier::new(["ws_secret"]).unwrap();
    let stale = WebhookBuilder::json(WebhookFormat::WhopCurrent, "ws_secret", &json!({"type": "x"}))
        .timestamp(now - 301)
        .sign();
    assert_eq!(
        verifier.verify(&stale.header_pairs(), &stale.body, now),
        Err(VerifyError::StaleTimestamp)
    );
    let fresh = WebhookBuilder::json(WebhookFormat::WhopCurrent, "ws_secret", &json!({"type": "x"})).sign();
    assert!(verifier.verify(&fresh.header_pairs(), &fresh.body, now).is_ok());
    let tampered = fresh.with_body(br#"{"type":"y"}"#.to_vec());
    assert!(
        verifier
            .verify(&tampered.header_pairs(), &tampered.body, now)
            .is_err()
    );
}

#[test]
fn fakes_emit_webhooks_their_secrets_verify() {
    let now = now_unix();

    let whop = FakeWhop::start();
    whop.add_membership(FakeMembership::new("mem_1", "KEY-1"));
    let verifier = WhopVerifier::new([whop.webhook_secret()]).unwrap();
    let current = whop.webhook("mem_1", "membership.activated").unwrap();
    let headers = current.header_pairs();
    let verified = verifier.verify(&headers, &current.body, now).unwrap();
    assert_eq!(verified.scheme, Scheme::WhopCurrent);
    assert_eq!(verified.webhook_id, current.header("webhook-id"));
    let legacy = whop.legacy_webhook("mem_1", "membership.went_valid").unwrap();
    let headers = legacy.header_pairs();
    let verified = verifier.verify(&headers, &legacy.body, now).unwrap();
    assert_eq!(verified.scheme, Scheme::WhopLegacy);
    assert!(whop.webhook("mem_unknown", "membership.activated").is_none());

    let dodo = FakeDodo::start();
    dodo.add_grant(FakeGrant::pending("entg_1", "ent_1", "cus_1"));
    let verifier = StandardWebhooksVerifier::new([dodo.webhook_secret()]).unwrap();
    let hook = dodo.grant_webhook("entg_1", "entitlement_grant.created").unwrap();
    let headers = hook.header_pairs();
    let verified = verifier.verify(&headers, &hook.body, now).unwrap();
    assert_eq!(verified.scheme, Scheme::StandardWebhooks);
}
