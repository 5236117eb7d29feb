//! Revalidation over HTTP: a webhook revocation denies the next launch; a provider outage never does.

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use chrono::TimeDelta;
use tollgate_providers::whop::fake::FakeMembership;
use tollgate_testkit::{FakeProvider as _, Fault, WebhookFormat};

use crate::harness::app::{app, deliver};
use crate::harness::license::{WHOP_KEY, both_with_fakes, license, rfc3339};

const LOOKUP_PATH: &str = "/api/v1/memberships/KLINE-8FFK3-SD83K-3K3K3-3K3K3";

#[actix_web::test]
async fn a_revoking_webhook_denies_the_next_validation() {
    both_with_fakes(&[], async |env| {
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        let app = app(&env.srv.state).await;
        assert_eq!(
            license(&app, "activate", WHOP_KEY, "hw-1").await.status,
            StatusCode::OK
        );
        assert_eq!(
            license(&app, "validate", WHOP_KEY, "hw-1").await.status,
            StatusCode::OK
        );

        env.whop.set_status("mem_1", "canceled");
        let hook = env.whop.webhook("mem_1", "membership.deactivated").unwrap();
        let reply = deliver(&app, WebhookFormat::WhopCurrent, &hook).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

        let reply = license(&app, "validate", WHOP_KEY, "hw-1").await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::FORBIDDEN, "LICENSE_INACTIVE".to_owned())
        );
        assert_eq!(
            license(&app, "activate", WHOP_KEY, "hw-1").await.code(),
            "LICENSE_INACTIVE"
        );
    })
    .await;
}

#[actix_web::test]
async fn with_the_provider_down_a_fresh_entitlement_still_validates_and_a_stale_one_answers_locally() {
    both_with_fakes(&[], async |env| {
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        let app = app(&env.srv.state).await;
        assert_eq!(
            license(&app, "activate", WHOP_KEY, "hw-1").await.status,
            StatusCode::OK
        );
        env.whop.fail_always(Fault::Status(503));
        let calls = env.whop.count("GET", LOOKUP_PATH);

        // Synced a moment ago: answered from local state, Whop is not asked.
        env.srv.clock.advance(TimeDelta::hours(1));
        let reply = license(&app, "validate", WHOP_KEY, "hw-1").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(env.whop.count("GET", LOOKUP_PATH), calls);
        assert_eq!(
            reply.json()["lease"]["expires_at"],
            rfc3339(env.now() + TimeDelta::hours(72))
        );

        // Older than revalidate_every (24 h): Whop is asked, cannot answer, and local state still grants a lease.
        env.srv.clock.advance(TimeDelta::hours(24));
        let reply = license(&app, "validate", WHOP_KEY, "hw-1").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert!(env.whop.count("GET", LOOKUP_PATH) > calls);
        assert_eq!(reply.json()["code"], "VALID");
    })
    .await;
}

/// The lease in a `200` validate answer.
async fn lease_token<S, B>(app: &S) -> String
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let reply = license(app, "validate", WHOP_KEY, "hw-1").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()["lease"]["token"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn within_lease_reuse_for_a_revalidation_answers_the_same_lease_until_a_webhook_changes_the_state() {
    both_with_fakes(&[("TOLLGATE_LEASE__REUSE_FOR", "1m")], async |env| {
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        let app = app(&env.srv.state).await;
        assert_eq!(
            license(&app, "activate", WHOP_KEY, "hw-1").await.status,
            StatusCode::OK
        );
        env.srv.clock.advance(TimeDelta::seconds(1));
        let first = lease_token(&app).await;
        env.srv.clock.advance(TimeDelta::seconds(59));
        assert_eq!(lease_token(&app).await, first, "59 s later: the same lease");
        env.srv.clock.advance(TimeDelta::seconds(1));
        let second = lease_token(&app).await;
        assert_ne!(second, first, "reuse_for has passed: signed anew");

        // A webhook at the same second schedules the cancellation: access goes on, and the very next answer comes
        // from the new state (the reused answer would still say `cancel_at_period_end: false`).
        env.whop
            .update_membership("mem_1", |m| m.cancel_at_period_end = true);
        let hook = env
            .whop
            .webhook("mem_1", "membership.cancel_at_period_end_changed")
            .unwrap();
        let reply = deliver(&app, WebhookFormat::WhopCurrent, &hook).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let reply = license(&app, "validate", WHOP_KEY, "hw-1").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(reply.json()["entitlement"]["cancel_at_period_end"], true);
    })
    .await;
}

#[actix_web::test]
async fn with_lease_reuse_for_zero_every_validation_is_signed_anew() {
    both_with_fakes(&[("TOLLGATE_LEASE__REUSE_FOR", "0s")], async |env| {
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        let app = app(&env.srv.state).await;
        assert_eq!(
            license(&app, "activate", WHOP_KEY, "hw-1").await.status,
            StatusCode::OK
        );
        env.srv.clock.advance(TimeDelta::seconds(1));
        let first = lease_token(&app).await;
        env.srv.clock.advance(TimeDelta::seconds(1));
        assert_ne!(lease_token(&app).await, first);
    })
    .await;
}
