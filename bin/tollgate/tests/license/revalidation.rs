//! Revalidation over HTTP: a webhook revocation denies the next launch; a provider outage never does.

use actix_web::http::StatusCode;
use chrono::TimeDelta;
use tollgate_testkit::{FakeMembership, FakeProvider as _, Fault, WebhookFormat};

use crate::common::{app, deliver};
use crate::harness::{WHOP_KEY, both_with_fakes, license, rfc3339};

const VALIDATE_PATH: &str = "/api/v2/memberships/KLINE-8FFK3-SD83K-3K3K3-3K3K3/validate_license";

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
        let calls = env.whop.count("POST", VALIDATE_PATH);

        // Synced a moment ago: answered from local state, Whop is not asked.
        env.srv.clock.advance(TimeDelta::hours(1));
        let reply = license(&app, "validate", WHOP_KEY, "hw-1").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(env.whop.count("POST", VALIDATE_PATH), calls);
        assert_eq!(
            reply.json()["lease"]["expires_at"],
            rfc3339(env.now() + TimeDelta::hours(72))
        );

        // Older than revalidate_every (24 h): Whop is asked, cannot answer, and local state still grants a lease.
        env.srv.clock.advance(TimeDelta::hours(24));
        let reply = license(&app, "validate", WHOP_KEY, "hw-1").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert!(env.whop.count("POST", VALIDATE_PATH) > calls);
        assert_eq!(reply.json()["code"], "VALID");
    })
    .await;
}
