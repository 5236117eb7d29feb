//! Reconciliation on demand: a membership canceled at Whop without a webhook is repaired by
//! `POST /admin/reconcile`, which denies the next launch and leaves the reason in the audit trail.

use actix_web::http::StatusCode;
use chrono::TimeDelta;
use tollgate_providers::whop::fake::FakeMembership;

use crate::harness::app::{ADMIN_TOKEN, SERVICE_TOKEN, admin_entitlement, app, post};
use crate::harness::license::{WHOP_KEY, both_with_fakes, license};

#[actix_web::test]
async fn a_cancellation_without_a_webhook_is_repaired_by_an_admin_reconcile() {
    both_with_fakes(&[], async |env| {
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        let app = app(&env.srv.state).await;
        assert_eq!(
            license(&app, "activate", WHOP_KEY, "hw-1").await.status,
            StatusCode::OK
        );

        // Canceled at Whop; the webhook never arrives.
        assert!(env.whop.set_status("mem_1", "canceled"));
        env.srv.clock.advance(TimeDelta::minutes(1));
        assert_eq!(
            license(&app, "validate", WHOP_KEY, "hw-1").await.status,
            StatusCode::OK
        );

        for token in [None, Some(SERVICE_TOKEN)] {
            let reply = post(&app, "/admin/reconcile?provider=whop", token).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{token:?}");
        }
        let reply = post(&app, "/admin/reconcile?provider=whop", Some(ADMIN_TOKEN)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let report = reply.json();
        let providers = report["providers"].as_array().unwrap();
        assert_eq!(providers.len(), 1);
        let whop = &providers[0];
        assert_eq!(
            (
                &whop["provider"],
                &whop["outcome"],
                &whop["examined"],
                &whop["changed"]
            ),
            (&"whop".into(), &"completed".into(), &1.into(), &1.into())
        );
        assert_eq!(whop["repairs"][0]["external_id"], "mem_1");

        let reply = license(&app, "validate", WHOP_KEY, "hw-1").await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::FORBIDDEN, "LICENSE_INACTIVE".to_owned())
        );
        let detail = admin_entitlement(&app, "whop", "mem_1").await.json();
        let reasons: Vec<&str> = detail["audit"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["actor"] == "reconcile")
            .map(|a| a["detail"].as_str().unwrap())
            .collect();
        assert_eq!(reasons.len(), 1, "{detail}");
        assert!(
            reasons[0].starts_with("reconcile: whop membership mem_1: status active -> canceled"),
            "{}",
            reasons[0]
        );

        // A second run finds nothing to repair; an unconfigured provider is named.
        let again = post(&app, "/admin/reconcile?provider=whop", Some(ADMIN_TOKEN))
            .await
            .json();
        assert_eq!(again["providers"][0]["changed"], 0);
        let reply = post(&app, "/admin/reconcile?provider=aghanim", Some(ADMIN_TOKEN)).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::CONFLICT, "PROVIDER_NOT_CONFIGURED".to_owned())
        );
        let reply = post(&app, "/admin/reconcile?provider=paddle", Some(ADMIN_TOKEN)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    })
    .await;
}
