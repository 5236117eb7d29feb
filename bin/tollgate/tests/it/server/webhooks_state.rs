//! What deliveries do to an entitlement over time: duplicates, out-of-order arrival, revocations and scheduled
//! cancellations, as the service and admin APIs show them.

use actix_web::http::StatusCode;
use serde_json::{Value, json};
use tollgate_providers::aghanim::fake::FakeAghanim;
use tollgate_testkit::WebhookFormat;

use crate::harness::app::*;

/// The single entitlement of a subject.
async fn only<S, B>(app: &S, provider: &str, subject: &str) -> Value
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let list = entitlements(app, provider, subject).await;
    assert_eq!(list.len(), 1, "{list:?}");
    list.into_iter().next().unwrap()
}

#[actix_web::test]
async fn a_duplicate_delivery_has_no_second_effect() {
    both(&[], async |srv| {
        let app = app(&srv.state).await;
        let hook = srv.sign(
            WebhookFormat::WhopCurrent,
            fixture("whop/membership.activated.json"),
        );
        assert_eq!(
            deliver(&app, WebhookFormat::WhopCurrent, &hook).await.status,
            StatusCode::OK
        );
        let first = admin_entitlement(&app, "whop", "mem_7Hq2LwZp0aXkR1").await.json();
        for _ in 0..2 {
            let reply = deliver(&app, WebhookFormat::WhopCurrent, &hook).await;
            assert_eq!(reply.status, StatusCode::OK);
            assert_eq!(reply.json(), json!({"status": "ok"}));
        }
        let after = admin_entitlement(&app, "whop", "mem_7Hq2LwZp0aXkR1").await.json();
        assert_eq!(after, first, "version, audit trail and state are unchanged");
        assert_eq!(after["version"], 1);
        assert_eq!(after["audit"].as_array().unwrap().len(), 1);
        assert_eq!(inbox(&app, "").await.len(), 1);

        // Dodo: a dashboard re-send carries a new webhook-id; the grant id + event type still dedupes it.
        let body = fixture("dodo/entitlement_grant.delivered.license_key.json");
        let first = srv.sign(WebhookFormat::Dodo, body.clone());
        let resent = srv.sign(WebhookFormat::Dodo, body);
        assert_ne!(first.header("webhook-id"), resent.header("webhook-id"));
        assert_eq!(
            deliver(&app, WebhookFormat::Dodo, &first).await.status,
            StatusCode::OK
        );
        assert_eq!(
            deliver(&app, WebhookFormat::Dodo, &resent).await.status,
            StatusCode::OK
        );
        assert_eq!(inbox(&app, "provider=dodo").await.len(), 1);
        let grant = admin_entitlement(&app, "dodo", "entg_8sKd02LmQp").await.json();
        assert_eq!(grant["version"], 1);
    })
    .await;
}

#[actix_web::test]
async fn out_of_order_delivery_converges() {
    both(&[], async |srv| {
        let names = [
            "whop/membership.activated.json",
            "whop/membership.cancel_at_period_end_changed.json",
            "whop/membership.deactivated.json",
        ];
        let hooks: Vec<_> = names
            .iter()
            .map(|n| srv.sign(WebhookFormat::WhopCurrent, fixture(n)))
            .collect();
        let in_order = app(&srv.state).await;
        for hook in &hooks {
            assert_eq!(
                deliver(&in_order, WebhookFormat::WhopCurrent, hook).await.status,
                StatusCode::OK
            );
        }
        let expected = only(&in_order, "whop", "user_Zx9Yw8Vu7").await;
        assert_eq!(expected["status"], "canceled");
        assert_eq!(
            expected["access"],
            json!({"allowed": false, "code": "LICENSE_INACTIVE", "until": null})
        );

        for order in [[2, 1, 0], [1, 2, 0], [2, 0, 1]] {
            let other = srv.fresh_like();
            let app = app(&other.state).await;
            for i in order {
                assert_eq!(
                    deliver(&app, WebhookFormat::WhopCurrent, &hooks[i]).await.status,
                    StatusCode::OK
                );
            }
            let mut got = only(&app, "whop", "user_Zx9Yw8Vu7").await;
            let mut want = expected.clone();
            got.as_object_mut().unwrap().remove("id");
            want.as_object_mut().unwrap().remove("id");
            assert_eq!(got, want, "order {order:?}");
        }
    })
    .await;
}

#[actix_web::test]
async fn revocations_remove_access_with_the_exact_code() {
    both(&[], async |srv| {
        srv.clock.set(at("2026-10-20T00:00:00Z"));
        let app = app(&srv.state).await;
        let send = async |format, name: &str| {
            srv.clock.set(at("2026-10-20T00:00:00Z"));
            let reply = deliver(&app, format, &srv.sign(format, fixture(name))).await;
            assert_eq!(reply.status, StatusCode::OK, "{name}");
        };
        // Whop: membership.deactivated.
        send(WebhookFormat::WhopCurrent, "whop/membership.activated.json").await;
        assert_eq!(
            only(&app, "whop", "user_Zx9Yw8Vu7").await["access"]["allowed"],
            true
        );
        send(WebhookFormat::WhopCurrent, "whop/membership.deactivated.json").await;
        assert_eq!(
            only(&app, "whop", "user_Zx9Yw8Vu7").await["access"],
            json!({"allowed": false, "code": "LICENSE_INACTIVE", "until": null})
        );
        // Dodo: entitlement_grant.revoked (subscription cancelled).
        send(
            WebhookFormat::Dodo,
            "dodo/entitlement_grant.delivered.license_key.json",
        )
        .await;
        assert_eq!(
            only(&app, "dodo", "cus_J7h6G5f4").await["access"]["allowed"],
            true
        );
        send(WebhookFormat::Dodo, "dodo/entitlement_grant.revoked.json").await;
        let grant = only(&app, "dodo", "cus_J7h6G5f4").await;
        assert_eq!(grant["status"], "revoked");
        assert_eq!(
            grant["access"],
            json!({"allowed": false, "code": "LICENSE_INACTIVE", "until": null})
        );
        // Aghanim: subscription.deactivated.
        srv.clock.set(at("2024-01-06T00:00:00Z"));
        let hook = srv.sign(
            FakeAghanim::WEBHOOK_FORMAT,
            fixture("aghanim/subscription.activated.json"),
        );
        assert_eq!(
            deliver(&app, FakeAghanim::WEBHOOK_FORMAT, &hook).await.status,
            StatusCode::OK
        );
        assert_eq!(
            only(&app, "aghanim", "2D2R-OP3C").await["access"]["allowed"],
            true
        );
        let hook = srv.sign(
            FakeAghanim::WEBHOOK_FORMAT,
            fixture("aghanim/subscription.deactivated.json"),
        );
        assert_eq!(
            deliver(&app, FakeAghanim::WEBHOOK_FORMAT, &hook).await.status,
            StatusCode::OK
        );
        assert_eq!(
            only(&app, "aghanim", "2D2R-OP3C").await["access"],
            json!({"allowed": false, "code": "LICENSE_INACTIVE", "until": null})
        );
    })
    .await;
}

#[actix_web::test]
async fn a_dodo_revocation_for_a_payment_hold_is_a_payment_issue() {
    both(&[], async |srv| {
        let app = app(&srv.state).await;
        for name in [
            "dodo/entitlement_grant.delivered.license_key.json",
            "dodo/entitlement_grant.revoked.subscription_on_hold.json",
        ] {
            let reply = deliver(
                &app,
                WebhookFormat::Dodo,
                &srv.sign(WebhookFormat::Dodo, fixture(name)),
            )
            .await;
            assert_eq!(reply.status, StatusCode::OK, "{name}");
        }
        assert_eq!(
            only(&app, "dodo", "cus_J7h6G5f4").await["access"],
            json!({"allowed": false, "code": "PAYMENT_ISSUE", "until": null})
        );
    })
    .await;
}

#[actix_web::test]
async fn cancel_at_period_end_keeps_access_until_the_period_end() {
    both(&[], async |srv| {
        let app = app(&srv.state).await;
        for name in [
            "whop/membership.activated.json",
            "whop/membership.cancel_at_period_end_changed.json",
        ] {
            let reply = deliver(
                &app,
                WebhookFormat::WhopCurrent,
                &srv.sign(WebhookFormat::WhopCurrent, fixture(name)),
            )
            .await;
            assert_eq!(reply.status, StatusCode::OK, "{name}");
        }
        srv.clock.set(at("2026-10-30T09:15:00Z"));
        let membership = only(&app, "whop", "user_Zx9Yw8Vu7").await;
        assert_eq!(membership["status"], "active");
        assert_eq!(membership["cancel_at_period_end"], true);
        assert_eq!(
            membership["access"],
            json!({"allowed": true, "code": "VALID", "until": "2026-11-01T09:15:00Z"})
        );
        srv.clock.set(at("2026-11-01T09:14:59Z"));
        assert_eq!(
            only(&app, "whop", "user_Zx9Yw8Vu7").await["access"]["allowed"],
            true
        );
        srv.clock.set(at("2026-11-01T09:15:00Z"));
        assert_eq!(
            only(&app, "whop", "user_Zx9Yw8Vu7").await["access"],
            json!({"allowed": false, "code": "LICENSE_INACTIVE", "until": null})
        );
    })
    .await;
}

#[actix_web::test]
async fn the_remaining_shared_fixtures_aghanim_renewal_and_a_pending_dodo_grant() {
    both(&[], async |srv| {
        let app = app(&srv.state).await;
        let pending = srv.sign(
            WebhookFormat::Dodo,
            fixture("dodo/entitlement_grant.created.manual_pending.json"),
        );
        assert_eq!(
            deliver(&app, WebhookFormat::Dodo, &pending).await.status,
            StatusCode::OK
        );
        assert_eq!(
            only(&app, "dodo", "cus_J7h6G5f4").await["access"],
            json!({"allowed": false, "code": "LICENSE_INACTIVE", "until": null})
        );

        srv.clock.set(at("2024-02-15T00:00:00Z"));
        for name in [
            "aghanim/subscription.renewed.json",
            "aghanim/subscription.activated.json",
            "aghanim/subscription.updated.json",
        ] {
            let hook = srv.sign(FakeAghanim::WEBHOOK_FORMAT, fixture(name));
            assert_eq!(
                deliver(&app, FakeAghanim::WEBHOOK_FORMAT, &hook).await.status,
                StatusCode::OK,
                "{name}"
            );
        }
        let sub = only(&app, "aghanim", "2D2R-OP3C").await;
        assert_eq!(sub["status"], "active");
        assert_eq!(sub["current_period_end"], "2024-03-02T00:00:00Z");
        assert_eq!(sub["features"], json!(["exclusive_skin_001"]));
        assert_eq!(
            sub["access"],
            json!({"allowed": true, "code": "VALID", "until": "2024-02-18T00:00:00Z"})
        );
    })
    .await;
}
